#!/usr/bin/env python3
"""make_seeds.py - the committed seed corpus of the safetensors fuzz target.

Writes tests/fuzz/corpus/safetensors/: tiny valid models (one per arch family
and dtype, a few KB each, so the fuzzer runs fast) and near-valid files, one
per malformed-file class of spec 9.4, derived from them. The valid models use
the golden generator's tensor table and writer (tests/golden/make_golden.py,
written from the spec alone), not the engine, so a bug shared by the engine's
writer and loader cannot hide in the seeds.

Usage: python3 tests/fuzz/make_seeds.py   (deterministic; run again only
when the format changes, then review the diff)
"""

import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
import make_golden  # noqa: E402

OUT = os.path.join(HERE, "corpus", "safetensors")

# The smallest configurations spec 3 allows in each shape of the table:
# D = 4 (a multiple of 4), Lmax = 16 (spine 0, 2, 4, 12: one processed
# position, so the lattice runs), L = 2 (v6.1 needs 8).
TINY = [
    dict(name="tiny-v4", arch="v4", V=8, D=4, nh=2, L=2, Lmax=16, Hz=1, dtype="F32", seed=1,
         spine_buffers=True, horizon=True, v61_extras=(), pad_header=True),
    dict(name="tiny-v3-nohorizon", arch="v3", V=5, D=4, nh=1, L=3, Lmax=13, Hz=2, dtype="F32", seed=2,
         spine_buffers=False, horizon=False, v61_extras=(), pad_header=False),
    dict(name="tiny-v52-bf16", arch="v5.2", V=6, D=4, nh=4, L=2, Lmax=16, Hz=1, dtype="BF16", seed=3,
         spine_buffers=False, horizon=True, v61_extras=(), pad_header=False),
    dict(name="tiny-v6-f16", arch="v6", V=7, D=8, nh=2, L=2, Lmax=16, Hz=1, dtype="F16", seed=4,
         spine_buffers=True, horizon=False, v61_extras=(), pad_header=True),
    # D // 20 = 0: continual_updater.sparse_proj is an empty tensor.
    dict(name="tiny-v61-extras", arch="v6.1", V=8, D=4, nh=2, L=8, Lmax=16, Hz=1, dtype="F32", seed=5,
         spine_buffers=True, horizon=False,
         v61_extras=("task_analyzer", "depth_pred", "reasoning_head", "continual_updater", "policy"),
         pad_header=True),
]


def build(cfg):
    entries, _ = make_golden.make_weights(cfg)
    path = os.path.join(OUT, cfg["name"] + ".safetensors")
    make_golden.write_safetensors(path, cfg, entries)
    return path


def split(raw):
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def join(header, data, declared=None):
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    n = len(text) if declared is None else declared
    return struct.pack("<Q", n) + text + data


def write(name, raw):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(raw)


def tensors(header):
    return [k for k in header if k != "__metadata__"]


def derive(base_path):
    """Near-valid files, each one step from a valid model (spec 9.4's classes)."""
    raw = open(base_path, "rb").read()
    header, data = split(raw)
    names = tensors(header)
    first, second = names[0], names[1]

    def variant(name, edit, data_edit=None, declared=None):
        h = json.loads(json.dumps(header))
        edit(h)
        write(name, join(h, data if data_edit is None else data_edit(data), declared))

    write("empty", b"")
    write("seven-bytes", raw[:7])
    write("header-length-beyond-file", struct.pack("<Q", 1 << 20) + raw[8:64])
    write("header-too-large", struct.pack("<Q", 100000001) + b"{}")
    write("header-not-json", struct.pack("<Q", 5) + b"{\"a\":")
    write("header-array", struct.pack("<Q", 2) + b"[]")
    write("header-empty-object", struct.pack("<Q", 2) + b"{}")
    bad_utf8 = b"{\"\xff\":1}"
    write("header-not-utf8", struct.pack("<Q", len(bad_utf8)) + bad_utf8)
    write("data-cut-short", raw[:len(raw) - 3])
    # json.dumps cannot write a duplicate key: append one by hand.
    text = json.dumps(header, separators=(",", ":"))
    dup = text[:-1] + "," + json.dumps(first) + ":" + json.dumps(header[first]) + "}"
    write("duplicate-key", struct.pack("<Q", len(dup)) + dup.encode() + data)

    def set_offsets(name, b, e):
        return lambda h: h[name].__setitem__("data_offsets", [b, e])

    b0, e0 = header[first]["data_offsets"]
    b1, e1 = header[second]["data_offsets"]
    variant("offsets-overlap", set_offsets(second, b0, b0 + (e1 - b1)))
    variant("offsets-past-data", set_offsets(names[-1], len(data), len(data) + 4 * 4))
    variant("offsets-begin-after-end", set_offsets(first, e0, b0))
    variant("offsets-not-integers", set_offsets(first, "0", 4.5))
    variant("offsets-size-mismatch", set_offsets(first, b0, e0 - 4))
    variant("trailing-unused-bytes", lambda h: None, data_edit=lambda d: d + b"\0" * 8)
    variant("unknown-dtype", lambda h: h[first].__setitem__("dtype", "F64"))
    variant("i64-weight", lambda h: h[first].__setitem__("dtype", "I64"))
    variant("wrong-shape", lambda h: h[first].__setitem__("shape", list(reversed(h[first]["shape"])) + [1]))
    variant("negative-shape", lambda h: h[first].__setitem__("shape", [-1]))
    variant("huge-shape", lambda h: h[first].__setitem__("shape", [1 << 40, 1 << 40]))
    variant("entry-extra-key", lambda h: h[first].__setitem__("extra", 1))
    last_begin = header[names[-1]]["data_offsets"][0]  # the last tensor is the last in the data
    variant("missing-tensor", lambda h: h.pop(names[-1]), data_edit=lambda d: d[:last_begin])
    variant("unexpected-tensor", lambda h: h.__setitem__("video_diffusion.unet.0.weight",
                                                          {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}))
    variant("metadata-absent", lambda h: h.pop("__metadata__"))
    variant("metadata-not-strings", lambda h: h["__metadata__"].__setitem__("hst.d_model", 4))
    variant("metadata-contradicts-shapes", lambda h: h["__metadata__"].__setitem__("hst.d_model", "8"))
    variant("metadata-huge-model", lambda h: h["__metadata__"].update({"hst.vocab_size": "2147483647",
                                                                       "hst.n_layers": "1024"}))
    variant("metadata-unknown-arch", lambda h: h["__metadata__"].__setitem__("hst.arch", "v7"))
    variant("metadata-preset-mismatch", lambda h: h["__metadata__"].__setitem__("hst.preset", "hst-v4"))
    spine = [k for k in names if k.endswith("analyzer.spine")]
    if spine:
        b, _ = header[spine[0]]["data_offsets"]
        variant("bad-spine", lambda h: None, data_edit=lambda d: d[:b] + struct.pack("<q", 1) + d[b + 8:])
    # Valid: the first two tensors' data swapped. Spec 9.4 asks the ranges to
    # tile the data section, not to follow the header's order.
    def swap_first_two(h):
        h[second]["data_offsets"] = [b0, b0 + (e1 - b1)]
        h[first]["data_offsets"] = [b0 + (e1 - b1), e1]
    variant("offsets-permuted-valid", swap_first_two,
            data_edit=lambda d: d[:b0] + d[b1:e1] + d[b0:e0] + d[e1:])
    # NaN and Inf weights: a valid file the loader warns about (issue 7).
    nan = struct.pack("<f", float("nan"))
    inf = struct.pack("<f", float("inf"))
    variant("nan-weight", lambda h: None, data_edit=lambda d: d[:b0] + nan + d[b0 + 4:])
    variant("inf-weight", lambda h: None, data_edit=lambda d: d[:b0] + inf + d[b0 + 4:])


def main():
    os.makedirs(OUT, exist_ok=True)
    paths = [build(cfg) for cfg in TINY]
    derive(paths[0])
    for name in sorted(os.listdir(OUT)):
        print("%-40s %7d bytes" % (name, os.path.getsize(os.path.join(OUT, name))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
