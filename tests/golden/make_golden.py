#!/usr/bin/env python3
"""make_golden.py - golden test data for hstprof, from the model spec alone.

An independent reference implementation of the HST next-token network
(shared/HST_MODEL.md, sections 1-4 and 9), written in plain Python 3 with the
standard library only (no numpy, no torch) and sharing no code with the C
engine. It builds a few small custom models with seeded random weights, writes
each as a safetensors file with its own writer, and computes in float64:

  <name>.safetensors   the model (spec 9)
  <name>.prompt.txt    the S prompt token ids, comma-separated on one line
  <name>.logits.f32    prefill logits [S, V], raw little-endian float32
  <name>.greedy.txt    16 greedy tokens after the prompt (full recomputation,
                       no KV cache); written only when every arg-max wins by
                       a comfortable margin (MARGIN below)

Usage: python3 tests/golden/make_golden.py [--out DIR]
Deterministic: running it twice gives identical bytes.
"""

import json
import math
import os
import random
import struct
import sys
from operator import mul

S_PROMPT = 110        # exercises the processed spine positions 12, 36 and 104
N_GREEDY = 16
MARGIN = 1e-3         # greedy file only when top1 - top2 >= MARGIN at every step
LN_EPS = 1e-5
SOURCE = "tests/golden/make_golden.py"

# ---------------------------------------------------------------------------
# Models to generate. Only the parts the spec says are optional vary.
# ---------------------------------------------------------------------------

MODELS = [
    dict(name="tiny-v4", arch="v4", V=64, D=16, nh=2, L=4, Lmax=128, Hz=2,
         dtype="F32", seed=401, spine_buffers=True, horizon=True,
         v61_extras=(), pad_header=True),
    dict(name="tiny-v61", arch="v6.1", V=48, D=16, nh=4, L=8, Lmax=128, Hz=2,
         dtype="F32", seed=611, spine_buffers=False, horizon=True,
         v61_extras=("task_analyzer", "depth_pred", "reasoning_head",
                     "continual_updater", "policy"),
         pad_header=True),
    dict(name="tiny-v52-bf16", arch="v5.2", V=40, D=24, nh=3, L=2, Lmax=128, Hz=2,
         dtype="BF16", seed=521, spine_buffers=False, horizon=True,
         v61_extras=(), pad_header=False),
    dict(name="tiny-v6-f16", arch="v6", V=50, D=20, nh=5, L=5, Lmax=128, Hz=3,
         dtype="F16", seed=601, spine_buffers=True, horizon=False,
         v61_extras=(), pad_header=True),
]

# Spec 2: ancestor levels of the processed 3-term spine positions, normative
# order (the GRU reads them in this order).
SPINE3_LEVELS = {
    12: [[0, 2, 4]],
    36: [[2, 12, 4], [0]],
    104: [[4, 36, 12], [0, 2]],
    304: [[104, 36, 12], [0, 2, 4]],
    888: [[304, 104, 36], [2, 12, 4], [0]],
    2592: [[888, 304, 104], [4, 36, 12], [0, 2]],
    7568: [[2592, 304, 888], [104, 36, 12], [0, 2, 4]],
}


def spine3(lmax):
    s = [0, 2, 4]
    while True:
        n = 2 * (s[-1] + s[-2] + s[-3])
        if n >= lmax:
            return s
        s.append(n)


# ---------------------------------------------------------------------------
# Tensor list (names, shapes, init) in canonical order (spec 4.6, 6)
# ---------------------------------------------------------------------------

# init kinds: ("lin", fan_in) U(+-1/sqrt(fan_in)); ("normal",) N(0,1);
# ("lnw",) 1 + N(0, 0.1); ("lnb",) N(0, 0.1); ("u", a) U(+-a); ("spine",) I64


def block_tensors(prefix, D):
    return [
        (prefix + ".attn.q_proj.weight", [D, D], ("lin", D)),
        (prefix + ".attn.k_proj.weight", [D, D], ("lin", D)),
        (prefix + ".attn.v_proj.weight", [D, D], ("lin", D)),
        (prefix + ".attn.out_proj.weight", [D, D], ("lin", D)),
        (prefix + ".norm1.weight", [D], ("lnw",)),
        (prefix + ".norm1.bias", [D], ("lnb",)),
        (prefix + ".linear1.weight", [4 * D, D], ("lin", D)),
        (prefix + ".linear1.bias", [4 * D], ("lin", D)),
        (prefix + ".linear2.weight", [D, 4 * D], ("lin", 4 * D)),
        (prefix + ".linear2.bias", [D], ("lin", 4 * D)),
        (prefix + ".norm2.weight", [D], ("lnw",)),
        (prefix + ".norm2.bias", [D], ("lnb",)),
    ]


def linear(name, out, inn, bias=True):
    t = [(name + ".weight", [out, inn], ("lin", inn))]
    if bias:
        t.append((name + ".bias", [out], ("lin", inn)))
    return t


def layernorm(name, n):
    return [(name + ".weight", [n], ("lnw",)), (name + ".bias", [n], ("lnb",))]


def tensor_list(cfg):
    arch, V, D, L, Lmax, Hz = cfg["arch"], cfg["V"], cfg["D"], cfg["L"], cfg["Lmax"], cfg["Hz"]
    Lb = L // 2
    Lt = L - Lb
    nspine = len(spine3(Lmax))
    T = []
    T.append(("token_embedding.weight", [V, D], ("normal",)))
    T.append(("pos_embedding.weight", [Lmax, D], ("normal",)))
    if arch == "v6.1":
        for i in range(Lb):
            T += block_tensors("adaptive_bottom.layers.%d" % i, D)
        ex = cfg["v61_extras"]
        if "task_analyzer" in ex:
            T += linear("adaptive_bottom.task_analyzer.embed", D, D)
            T += linear("adaptive_bottom.task_analyzer.classifier", 4, D)
        if "depth_pred" in ex:
            T += linear("adaptive_bottom.depth_pred.net.0", 8, 4)
            T += linear("adaptive_bottom.depth_pred.net.2", 1, 8)
    else:
        for i in range(Lb):
            T += block_tensors("adaptive_bottom.%d.block" % i, D)
            T += linear("adaptive_bottom.%d.confidence_predictor.2" % i, 1, D)
    ml = "lattice_core.multi_level."
    if cfg["spine_buffers"]:
        T.append((ml + "analyzer.spine", [nspine], ("spine",)))
    for k in range(10):
        p = ml + "level_transforms.%d" % k
        T += linear(p + ".0", D, D)
        T += layernorm(p + ".1", D)
        T += linear(p + ".3", D, D)
    # in_proj: every row random (q/k rows are never read), bias non-zero so
    # that the v-part of the bias really is tested.
    T.append((ml + "level_attention.in_proj_weight", [3 * D, D], ("u", math.sqrt(6.0 / (4 * D)))))
    T.append((ml + "level_attention.in_proj_bias", [3 * D], ("lin", D)))
    T.append((ml + "level_attention.out_proj.weight", [D, D], ("lin", D)))
    T.append((ml + "level_attention.out_proj.bias", [D], ("lin", D)))
    T += linear(ml + "fusion.0", D, 2 * D)
    T += layernorm(ml + "fusion.1", D)
    pw = "lattice_core.path_weighted."
    if cfg["spine_buffers"]:
        T.append((pw + "analyzer.spine", [nspine], ("spine",)))
    T += linear(pw + "path_weight_net.0", 64, 1)
    T += linear(pw + "path_weight_net.2", 1, 64)
    T += linear(pw + "message_fn.0", D, 2 * D)
    T += layernorm(pw + "message_fn.1", D)
    g = pw + "aggregate_fn."
    T.append((g + "weight_ih_l0", [3 * D, D], ("lin", D)))
    T.append((g + "weight_hh_l0", [3 * D, D], ("lin", D)))
    T.append((g + "bias_ih_l0", [3 * D], ("lin", D)))
    T.append((g + "bias_hh_l0", [3 * D], ("lin", D)))
    T += linear(pw + "update_gate.0", D, 2 * D)
    mf = "lattice_core.meta_fusion."
    T += linear(mf + "0", 2 * D, 3 * D)
    T += layernorm(mf + "1", 2 * D)
    T += linear(mf + "3", D, 2 * D)
    for j in range(Lt):
        T += block_tensors("top_stack.%d" % j, D)
    if cfg["horizon"]:
        if arch in ("v3", "v4"):
            h = "harmonic_horizon_predictor."
            T += linear(h + "horizon_projection", Hz * D, D)
            T.append((h + "prediction_head.weight", [V, D], ("lin", D)))
            T += linear(h + "confidence_head.0", D // 4, D)
            T += linear(h + "confidence_head.2", Hz, D // 4)
        else:
            h = "horizon_predictor."
            T += linear(h + "coarse_predictor", V, D)
            T += linear(h + "medium_predictor", V, 2 * D)
            T += linear(h + "fine_predictor", V, 2 * D)
            T.append((h + "lattice_embeddings.weight", [20, D], ("normal",)))
            T += linear(h + "projection", D, V)
    T.append(("lm_head.weight", [V, D], ("lin", D)))
    T += layernorm("ln_f", D)
    if arch == "v6.1":
        ex = cfg["v61_extras"]
        if "reasoning_head" in ex:
            T += linear("reasoning_head.residual_mlp.0", D // 2, D)
            T += linear("reasoning_head.residual_mlp.2", 1, D // 2)
        if "continual_updater" in ex:
            T.append(("continual_updater.basis", [D, D], ("lin", D)))
            T += linear("continual_updater.sparse_proj", D // 20, D)
        if "policy" in ex:
            T += linear("multi_agent_controller.policy", 64, D)
    return T


# ---------------------------------------------------------------------------
# Dtype rounding and safetensors writer (spec 9)
# ---------------------------------------------------------------------------

def round_f32(vals):
    n = len(vals)
    raw = struct.pack("<%df" % n, *vals)
    return list(struct.unpack("<%df" % n, raw)), raw


def round_bf16(vals):
    n = len(vals)
    bits = struct.unpack("<%dI" % n, struct.pack("<%df" % n, *vals))
    hi = []
    for b in bits:
        # round to nearest even on the upper 16 bits (no NaN/Inf here)
        b = (b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFFFFFF
        hi.append(b >> 16)
    raw = struct.pack("<%dH" % n, *hi)
    back = struct.unpack("<%df" % n, struct.pack("<%dI" % n, *[h << 16 for h in hi]))
    return list(back), raw


def round_f16(vals):
    n = len(vals)
    raw = struct.pack("<%de" % n, *vals)
    return list(struct.unpack("<%de" % n, raw)), raw


ROUNDERS = {"F32": round_f32, "BF16": round_bf16, "F16": round_f16}


def make_weights(cfg):
    """Returns (ordered list of (name, dtype, shape, raw bytes), dict name -> values)."""
    rng = random.Random(cfg["seed"])
    entries = []
    values = {}
    spine = spine3(cfg["Lmax"])
    for name, shape, init in tensor_list(cfg):
        n = 1
        for s in shape:
            n *= s
        if init[0] == "spine":
            assert shape == [len(spine)]
            entries.append((name, "I64", shape, struct.pack("<%dq" % n, *spine)))
            continue
        kind = init[0]
        if kind == "lin":
            a = 1.0 / math.sqrt(init[1])
            v = [rng.uniform(-a, a) for _ in range(n)]
        elif kind == "u":
            v = [rng.uniform(-init[1], init[1]) for _ in range(n)]
        elif kind == "normal":
            v = [rng.gauss(0.0, 1.0) for _ in range(n)]
        elif kind == "lnw":
            v = [1.0 + rng.gauss(0.0, 0.1) for _ in range(n)]
        elif kind == "lnb":
            v = [rng.gauss(0.0, 0.1) for _ in range(n)]
        else:
            raise ValueError(kind)
        vals, raw = ROUNDERS[cfg["dtype"]](v)
        entries.append((name, cfg["dtype"], shape, raw))
        values[name] = vals
    return entries, values


def write_safetensors(path, cfg, entries):
    header = {}
    meta = {
        "hst.format_version": "1",
        "hst.arch": cfg["arch"],
        "hst.vocab_size": str(cfg["V"]),
        "hst.d_model": str(cfg["D"]),
        "hst.n_heads": str(cfg["nh"]),
        "hst.n_layers": str(cfg["L"]),
        "hst.max_seq_len": str(cfg["Lmax"]),
        "hst.horizon": str(cfg["Hz"]),
        "hst.preset": "custom",
        "hst.source": SOURCE,
    }
    header["__metadata__"] = meta
    off = 0
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if cfg["pad_header"]:
        hj += b" " * ((-(8 + len(hj))) % 8)
    elif (8 + len(hj)) % 8 == 0:
        hj += b" "          # deliberately unaligned data section
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for _, _, _, raw in entries:
            f.write(raw)
    os.replace(tmp, path)


def read_back_check(path, values):
    """Independent re-read of the file: tiling, dtypes, and the values used."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    hdr = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    spans = []
    for name, e in hdr.items():
        if name == "__metadata__":
            continue
        b, en = e["data_offsets"]
        spans.append((b, en))
        cnt = 1
        for s in e["shape"]:
            cnt *= s
        raw = body[b:en]
        if e["dtype"] == "I64":
            assert len(raw) == 8 * cnt
            continue
        if e["dtype"] == "F32":
            got = struct.unpack("<%df" % cnt, raw)
        elif e["dtype"] == "F16":
            got = struct.unpack("<%de" % cnt, raw)
        elif e["dtype"] == "BF16":
            hs = struct.unpack("<%dH" % cnt, raw)
            got = struct.unpack("<%df" % cnt, struct.pack("<%dI" % cnt, *[h << 16 for h in hs]))
        else:
            raise AssertionError(e["dtype"])
        assert list(got) == values[name], name
    spans.sort()
    pos = 0
    for b, en in spans:
        assert b == pos
        pos = en
    assert pos == len(body)


# ---------------------------------------------------------------------------
# The forward pass (spec 1, 4), float64
# ---------------------------------------------------------------------------

def dot(a, b):
    return sum(map(mul, a, b))


def gelu(x):
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def softplus(x):
    return x if x > 20.0 else math.log(1.0 + math.exp(x))


def layer_norm(x, g, b):
    n = len(x)
    mu = sum(x) / n
    var = sum((v - mu) * (v - mu) for v in x) / n
    inv = 1.0 / math.sqrt(var + LN_EPS)
    return [(v - mu) * inv * gi + bi for v, gi, bi in zip(x, g, b)]


class Weights:
    def __init__(self, cfg, values):
        self.cfg = cfg
        self.v = values
        self._rows = {}

    def vec(self, name):
        return self.v[name]

    def mat(self, name, cols):
        key = (name, cols)
        if key not in self._rows:
            flat = self.v[name]
            assert len(flat) % cols == 0
            self._rows[key] = [flat[r * cols:(r + 1) * cols] for r in range(len(flat) // cols)]
        return self._rows[key]


def matvec(W, x):
    return [dot(r, x) for r in W]


def affine(W, b, x):
    return [dot(r, x) + bi for r, bi in zip(W, b)]


def preblock(w, prefix, X):
    """Spec 4.2 over all rows of a prefill (row i at position i, keys j <= i)."""
    cfg = w.cfg
    D, nh = cfg["D"], cfg["nh"]
    hd = D // nh
    scale = 1.0 / math.sqrt(hd)
    Wq = w.mat(prefix + ".attn.q_proj.weight", D)
    Wk = w.mat(prefix + ".attn.k_proj.weight", D)
    Wv = w.mat(prefix + ".attn.v_proj.weight", D)
    Wo = w.mat(prefix + ".attn.out_proj.weight", D)
    g1, b1n = w.vec(prefix + ".norm1.weight"), w.vec(prefix + ".norm1.bias")
    W1 = w.mat(prefix + ".linear1.weight", D)
    b1 = w.vec(prefix + ".linear1.bias")
    W2 = w.mat(prefix + ".linear2.weight", 4 * D)
    b2 = w.vec(prefix + ".linear2.bias")
    g2, b2n = w.vec(prefix + ".norm2.weight"), w.vec(prefix + ".norm2.bias")

    A = [layer_norm(x, g1, b1n) for x in X]
    Q = [matvec(Wq, a) for a in A]
    K = [matvec(Wk, a) for a in A]
    Vv = [matvec(Wv, a) for a in A]
    out = []
    for i, x in enumerate(X):
        o = []
        for h in range(nh):
            lo, hi = h * hd, (h + 1) * hd
            q = Q[i][lo:hi]
            s = [dot(q, K[j][lo:hi]) * scale for j in range(i + 1)]
            mx = max(s)
            e = [math.exp(v - mx) for v in s]
            z = sum(e)
            oh = [0.0] * hd
            for j in range(i + 1):
                p = e[j] / z
                vj = Vv[j]
                for d in range(hd):
                    oh[d] += p * vj[lo + d]
            o += oh
        ao = matvec(Wo, o)
        x1 = [a + b for a, b in zip(x, ao)]
        hmid = [max(v, 0.0) for v in affine(W1, b1, layer_norm(x1, g2, b2n))]
        f = affine(W2, b2, hmid)
        out.append([a + b for a, b in zip(x1, f)])
    return out


def lattice(w, X):
    """Spec 4.4 for a prefill: X = bottom-stack output rows; returns meta-fusion rows."""
    cfg = w.cfg
    D = cfg["D"]
    S = len(X)
    R = {p: X[p] for p in spine3(cfg["Lmax"]) if p < S}
    HM = list(X)
    HP = list(X)
    ml = "lattice_core.multi_level."
    pw = "lattice_core.path_weighted."

    # path weight net: w(c) for c in {0, 1}
    u1 = w.vec(pw + "path_weight_net.0.weight")   # [64,1]
    be1 = w.vec(pw + "path_weight_net.0.bias")
    u2 = w.vec(pw + "path_weight_net.2.weight")   # [1,64]
    be2 = w.vec(pw + "path_weight_net.2.bias")[0]

    def wfun(c):
        hdn = [max(a * c + b, 0.0) for a, b in zip(u1, be1)]
        return softplus(dot(u2, hdn) + be2)

    wc = {0: wfun(0.0), 1: wfun(1.0)}

    in_w = w.mat(ml + "level_attention.in_proj_weight", D)
    in_b = w.vec(ml + "level_attention.in_proj_bias")
    Wv_att = in_w[2 * D:3 * D]
    bv_att = in_b[2 * D:3 * D]
    Wo_att = w.mat(ml + "level_attention.out_proj.weight", D)
    bo_att = w.vec(ml + "level_attention.out_proj.bias")
    Wf = w.mat(ml + "fusion.0.weight", 2 * D)
    bf = w.vec(ml + "fusion.0.bias")
    gF, bF = w.vec(ml + "fusion.1.weight"), w.vec(ml + "fusion.1.bias")
    Wm = w.mat(pw + "message_fn.0.weight", 2 * D)
    bm = w.vec(pw + "message_fn.0.bias")
    gM, bM = w.vec(pw + "message_fn.1.weight"), w.vec(pw + "message_fn.1.bias")
    Wih = w.mat(pw + "aggregate_fn.weight_ih_l0", D)
    Whh = w.mat(pw + "aggregate_fn.weight_hh_l0", D)
    bih = w.vec(pw + "aggregate_fn.bias_ih_l0")
    bhh = w.vec(pw + "aggregate_fn.bias_hh_l0")
    Wu = w.mat(pw + "update_gate.0.weight", 2 * D)
    bu = w.vec(pw + "update_gate.0.bias")

    for p in sorted(SPINE3_LEVELS):
        if p >= S:
            continue
        levels = SPINE3_LEVELS[p]
        m = len(levels)
        Am = levels[-1]
        xp = X[p]
        # multi-level branch
        f = [sum(R[a][d] for a in Am) / len(Am) for d in range(D)]
        lt = ml + "level_transforms.%d" % m
        t = affine(w.mat(lt + ".0.weight", D), w.vec(lt + ".0.bias"), f)
        t = [gelu(v) for v in layer_norm(t, w.vec(lt + ".1.weight"), w.vec(lt + ".1.bias"))]
        u = affine(w.mat(lt + ".3.weight", D), w.vec(lt + ".3.bias"), t)
        att = affine(Wo_att, bo_att, affine(Wv_att, bv_att, u))
        HM[p] = layer_norm(affine(Wf, bf, att + xp), gF, bF)
        # path-weighted branch
        anc = [a for lvl in levels for a in lvl]
        h = [0.0] * D
        for a in anc:
            c = 1 if a in Am else 0
            msg = layer_norm(affine(Wm, bm, R[a] + xp), gM, bM)
            msg = [wc[c] * gelu(v) for v in msg]
            gi = affine(Wih, bih, msg)
            gh = affine(Whh, bhh, h)
            r = [sigmoid(gi[d] + gh[d]) for d in range(D)]
            z = [sigmoid(gi[D + d] + gh[D + d]) for d in range(D)]
            n = [math.tanh(gi[2 * D + d] + r[d] * gh[2 * D + d]) for d in range(D)]
            h = [(1.0 - z[d]) * n[d] + z[d] * h[d] for d in range(D)]
        g = h
        zg = [sigmoid(v) for v in affine(Wu, bu, g + xp)]
        HP[p] = [zg[d] * g[d] + (1.0 - zg[d]) * xp[d] for d in range(D)]

    mf = "lattice_core.meta_fusion."
    Wa = w.mat(mf + "0.weight", 3 * D)
    ba = w.vec(mf + "0.bias")
    g2, b2 = w.vec(mf + "1.weight"), w.vec(mf + "1.bias")
    Wb = w.mat(mf + "3.weight", 2 * D)
    bb = w.vec(mf + "3.bias")
    Y = []
    for i in range(S):
        hcat = affine(Wa, ba, X[i] + HM[i] + HP[i])
        Y.append(affine(Wb, bb, [gelu(v) for v in layer_norm(hcat, g2, b2)]))
    return Y


def forward(w, ids, last_only=False):
    cfg = w.cfg
    V, D, L = cfg["V"], cfg["D"], cfg["L"]
    Lb = L // 2
    Lt = L - Lb
    assert len(ids) <= cfg["Lmax"]
    E = w.mat("token_embedding.weight", D)
    P = w.mat("pos_embedding.weight", D)
    X = []
    for t, i in enumerate(ids):
        assert 0 <= i < V
        X.append([a + b for a, b in zip(E[i], P[t])])
    for i in range(Lb):
        pre = ("adaptive_bottom.layers.%d" if cfg["arch"] == "v6.1" else "adaptive_bottom.%d.block") % i
        X = preblock(w, pre, X)
    X = lattice(w, X)
    for j in range(Lt):
        X = preblock(w, "top_stack.%d" % j, X)
    gf, bf = w.vec("ln_f.weight"), w.vec("ln_f.bias")
    Wh = w.mat("lm_head.weight", D)
    rows = X[-1:] if last_only else X
    return [matvec(Wh, layer_norm(x, gf, bf)) for x in rows]


def argmax_margin(row):
    best = 0
    for k in range(1, len(row)):
        if row[k] > row[best]:
            best = k
    second = max(row[k] for k in range(len(row)) if k != best)
    return best, row[best] - second


# ---------------------------------------------------------------------------

def make_prompt(cfg):
    rng = random.Random(cfg["seed"] * 7 + 3)
    V = cfg["V"]
    ids = [rng.randrange(V) for _ in range(S_PROMPT)]
    ids[0] = V - 1     # both ends of the vocabulary appear
    ids[1] = 0
    return ids


def build(cfg, outdir, log):
    name = cfg["name"]
    entries, values = make_weights(cfg)
    st = os.path.join(outdir, name + ".safetensors")
    write_safetensors(st, cfg, entries)
    read_back_check(st, values)
    w = Weights(cfg, values)

    ids = make_prompt(cfg)
    with open(os.path.join(outdir, name + ".prompt.txt"), "w") as f:
        f.write(",".join(str(i) for i in ids) + "\n")

    logits = forward(w, ids)
    assert len(logits) == S_PROMPT and all(len(r) == cfg["V"] for r in logits)
    flat = [v for r in logits for v in r]
    with open(os.path.join(outdir, name + ".logits.f32"), "wb") as f:
        f.write(struct.pack("<%df" % len(flat), *flat))
    amax = max(abs(v) for v in flat)

    # greedy, full recomputation each step
    seq = list(ids)
    toks = []
    min_margin = float("inf")
    row = logits[-1]
    for k in range(N_GREEDY):
        if k > 0:
            row = forward(w, seq, last_only=True)[0]
        tok, margin = argmax_margin(row)
        min_margin = min(min_margin, margin)
        toks.append(tok)
        seq.append(tok)
    gpath = os.path.join(outdir, name + ".greedy.txt")
    if min_margin >= MARGIN:
        with open(gpath, "w") as f:
            f.write(",".join(str(t) for t in toks) + "\n")
        gnote = "greedy written (min margin %.3g)" % min_margin
    else:
        if os.path.exists(gpath):
            os.remove(gpath)
        gnote = "greedy SKIPPED (min margin %.3g < %g)" % (min_margin, MARGIN)
    log("%-14s %-5s %-4s V=%d D=%d nh=%d L=%d Lmax=%d Hz=%d  %d tensors, %d bytes; "
        "max|logit| %.3f; %s" % (name, cfg["arch"], cfg["dtype"], cfg["V"], cfg["D"], cfg["nh"],
                                 cfg["L"], cfg["Lmax"], cfg["Hz"], len(entries),
                                 os.path.getsize(st), amax, gnote))


def main(argv):
    outdir = os.path.dirname(os.path.abspath(__file__))
    if len(argv) >= 3 and argv[1] == "--out":
        outdir = argv[2]
    os.makedirs(outdir, exist_ok=True)
    for cfg in MODELS:
        build(cfg, outdir, lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
