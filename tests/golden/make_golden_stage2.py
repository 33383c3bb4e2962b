#!/usr/bin/env python3
"""make_golden_stage2.py - golden test data for Cores C (v7.0), D (v7.1), E (v8).

An independent reference implementation of section 12 of the model spec
(Cores C, D and E, parity and causal modes), written from the spec text in
plain Python 3 with the standard library only. It shares no code with the C
engine. It reuses the primitives of make_golden.py (the stage-1 reference:
LayerNorm, GELU, the PreBlock of spec 4.2, dtype rounding, the file check).
Arithmetic is float64, except where the spec makes float32 behaviour
normative; those places are emulated with struct rounding (f32 below):

  * v7.0: the router mean is a float32 running sum then a float32 division,
    and the gate test g > 0.1 is made against 0.1 rounded to float32
    (12.C.2, 12.C.3);
  * v7.1: the sinusoidal half of the positional encoding follows its float32
    recipe (12.D.2.1), and the parity upsampling uses float32 sigma, double u
    and float32 lambda (12.D.2.2).

For each model it writes (see README.md for the format):

  <name>.safetensors   the model (spec 9 and 12.0)
  <name>.prompt.txt    Lmax prompt token ids, comma-separated
  <name>.cases.txt     the manifest: one line per data file
  <name>/...           the data files: raw little-endian float32 [rows, cols],
                       and greedy token lists

The discrete decisions (v7.0 gates, v7.1 keep flags, v7.1/v8 top-2 choice) are
kept away from their thresholds by construction (choose_* below): every
decision in a shipped case has a margin of at least GATE_MARGIN, KEEP_MARGIN
or TOP2_GAP, or the generator fails.

Usage: python3 tests/golden/make_golden_stage2.py [--out DIR] [--jobs N] [--only NAME]
Deterministic: running it twice gives identical bytes.
"""

import math
import os
import random
import struct
import sys
import time
from itertools import repeat
from multiprocessing import Pool
from operator import add, mul, sub

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as mg  # noqa: E402  (stage-1 reference: shared primitives)

SOURCE = "tests/golden/make_golden_stage2.py"
N_GREEDY = 16
LOGIT_MARGIN = 1e-3     # greedy only when top1 - top2 >= this at every step
GATE_MARGIN = 1e-4      # |g - 0.1| for every v7.0 gate decision shipped
KEEP_MARGIN = 1e-4      # |g| for every v7.1 keep decision shipped
TOP2_GAP = 1e-5         # p(2nd) - p(3rd) for every top-2 choice shipped
SELF_TOL = 1e-12        # the reference's own consistency checks
DECISION_LIMITS = {"gate": GATE_MARGIN, "keep": KEEP_MARGIN, "top2": TOP2_GAP}
MAX_ROUNDS = 8          # weight re-draws allowed for the greedy margins

dot = mg.dot
gelu = mg.gelu
sigmoid = mg.sigmoid
layer_norm = mg.layer_norm
affine = mg.affine
matvec = mg.matvec

_F32 = struct.Struct("<f")


def f32(x):
    """x rounded to the nearest float32 (ties to even)."""
    return _F32.unpack(_F32.pack(x))[0]


F32_TENTH = f32(0.1)    # 0x3DCCCCCD, the v7.0 gate threshold (12.C.2)


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

PAR_S_3TERM = [1, 3, 7, 13, 37, 65, 100, 105, 128]
PAR_S_2TERM = [1, 3, 5, 7, 11, 25, 59, 65, 100, 128]

MODELS = [
    # v7.0, F32, every processor of the 10 with a fixed gate pattern:
    # M = on for some rows (parity: some S) and off for others, + = on, - = off.
    dict(name="tiny-v70", arch="v7.0", V=64, D=16, nh=2, L=8, Lmax=128, Hz=2,
         dtype="F32", seed=7001, gates="M+-M+M-+M+",
         par_S=PAR_S_3TERM, cau_S=[1, 13, 100, 128], greedy_S=56,
         optional=()),
    # v7.0, F16, L = 9 (Lb 4, Lt 5), D = 8 (processor heads of width 1)
    dict(name="tiny-v70-l9-f16", arch="v7.0", V=40, D=8, nh=4, L=9, Lmax=128, Hz=2,
         dtype="F16", seed=7009, gates="+M-+M+-M+M",
         par_S=PAR_S_3TERM, cau_S=[1, 37, 128], greedy_S=56,
         optional=("spine", "horizon", "task_analyzer", "layer_weights",
                   "speculative_verifier")),
    # v7.1, F32, with the horizon head, the three spine buffers, memory.* (F16)
    dict(name="tiny-v71", arch="v7.1", V=64, D=16, nh=2, L=2, Lmax=128, Hz=2,
         dtype="F32", seed=7101,
         par_S=PAR_S_3TERM, cau_S=[1, 13, 100, 128], greedy_S=56,
         optional=("spine", "horizon", "memory:F16")),
    # v7.1, BF16, L = 3, nh = 4, D = 8 (multi-res heads of width 1)
    dict(name="tiny-v71-bf16", arch="v7.1", V=48, D=8, nh=4, L=3, Lmax=128, Hz=3,
         dtype="BF16", seed=7111,
         par_S=PAR_S_3TERM, cau_S=[1, 65, 128], greedy_S=56,
         optional=("task_analyzer", "cache_manager", "loss_weighting")),
    # v8, F32, token rows of mixed norms (both branches of the rescale, large
    # logits), a PE table that is not the sinusoid (it must be read from the
    # file), the tied lm_head, the horizon head, both spine buffers
    dict(name="tiny-v8", arch="v8", V=64, D=16, nh=2, L=2, Lmax=128, Hz=2,
         dtype="F32", seed=8001, emb="mixed", pe="perturbed",
         par_S=PAR_S_2TERM, cau_S=[1, 11, 100, 128], greedy_S=56,
         optional=("spine", "horizon", "lm_head")),
    # v8, BF16, Lmax 2048: spine positions up to 1970 (levels 1..5); the
    # original's N(0, 0.01^2) token table; memory.* (BF16); no lm_head
    dict(name="tiny-v8-long-bf16", arch="v8", V=32, D=8, nh=4, L=1, Lmax=2048, Hz=2,
         dtype="BF16", seed=8002, emb="small", pe="sinusoid",
         par_S=[1, 59, 339, 1971], cau_S=[339, 2048], greedy_S=None,
         optional=("memory:BF16", "cache_manager", "loss_weighting")),
]

# ---------------------------------------------------------------------------
# Spines (spec 2)
# ---------------------------------------------------------------------------

SPINE3_LEVELS = mg.SPINE3_LEVELS
SPINE2_LEVELS = {
    4: [[0, 2]],
    10: [[2, 4], [0]],
    24: [[10, 4], [0, 2]],
    58: [[24, 10], [2, 4], [0]],
    140: [[24, 58], [10, 4], [0, 2]],
    338: [[58, 140], [24, 10], [2, 4], [0]],
    816: [[338, 140], [24, 58], [10, 4], [0, 2]],
    1970: [[816, 338], [58, 140], [24, 10], [2, 4], [0]],
    4756: [[816, 1970], [338, 140], [24, 58], [10, 4], [0, 2]],
}


def spine2(lmax):
    s = [0, 2, 4]
    while True:
        n = 2 * s[-1] + s[-2]
        if n >= lmax:
            return s
        s.append(n)


spine3 = mg.spine3

# ---------------------------------------------------------------------------
# Tensor lists, canonical order (12.C.4/5, 12.D.4/5, 12.E.4)
# ---------------------------------------------------------------------------
# init kinds: ("lin", fan_in) U(+-1/sqrt(fan_in)); ("u", a) U(+-a);
# ("normal", std); ("lnw",) 1 + N(0, 0.1^2); ("lnb",) N(0, 0.1^2);
# ("ones",); ("spine3",)/("spine2",) I64; ("pe",) the v8 table;
# ("tied", name) a copy; ("mem", dtype) a float buffer in that dtype.
# Biases that PyTorch initialises to 0 are random here so they are tested.

linear = mg.linear
layernorm = mg.layernorm


def mha(prefix, D):
    return [(prefix + "in_proj_weight", [3 * D, D], ("u", math.sqrt(6.0 / (4 * D)))),
            (prefix + "in_proj_bias", [3 * D], ("lin", D)),
            (prefix + "out_proj.weight", [D, D], ("lin", D)),
            (prefix + "out_proj.bias", [D], ("lin", D))]


def encoder_layer(prefix, D, F):
    """nn.TransformerEncoderLayer's state_dict order."""
    T = mha(prefix + "self_attn.", D)
    T += linear(prefix + "linear1", F, D)
    T += linear(prefix + "linear2", D, F)
    T += layernorm(prefix + "norm1", D)
    T += layernorm(prefix + "norm2", D)
    return T


def verifier(V, D, Hz, n):
    p = "speculative_verifier."
    T = [(p + "embed.weight", [V, D], ("normal", 1.0))]
    for j in range(n):
        q = p + "layers.%d." % j
        T += mha(q + "self_attn.", D)
        T += mha(q + "multihead_attn.", D)
        T += linear(q + "linear1", 2048, D)
        T += linear(q + "linear2", D, 2048)
        for k in (1, 2, 3):
            T += layernorm(q + "norm%d" % k, D)
    T += linear(p + "proj", Hz * V, D)
    T += linear(p + "conf_gate.0", 1, D)
    return T


def analyzers(prefix, D):
    T = linear(prefix + "task_analyzer.embed", D, D)
    T += linear(prefix + "task_analyzer.classifier", 4, D)
    T += linear(prefix + "depth_pred.net.0", 8, 4)
    T += linear(prefix + "depth_pred.net.2", 1, 8)
    return T


def lattice_core(D, spine_kind, spine_len, with_spine):
    ml = "lattice_core.multi_level."
    pw = "lattice_core.path_weighted."
    T = []
    if with_spine:
        T.append((ml + "analyzer.spine", [spine_len], (spine_kind,)))
    for k in range(10):
        p = ml + "level_transforms.%d" % k
        T += linear(p + ".0", D, D)
        T += layernorm(p + ".1", D)
        T += linear(p + ".3", D, D)
    T += mha(ml + "level_attention.", D)
    T += linear(ml + "fusion.0", D, 2 * D)
    T += layernorm(ml + "fusion.1", D)
    if with_spine:
        T.append((pw + "analyzer.spine", [spine_len], (spine_kind,)))
    T += linear(pw + "path_weight_net.0", 64, 1)
    T += linear(pw + "path_weight_net.2", 1, 64)
    T += linear(pw + "message_fn.0", D, 2 * D)
    T += layernorm(pw + "message_fn.1", D)
    g = pw + "aggregate_fn."
    for n in ("weight_ih_l0", "weight_hh_l0"):
        T.append((g + n, [3 * D, D], ("lin", D)))
    for n in ("bias_ih_l0", "bias_hh_l0"):
        T.append((g + n, [3 * D], ("lin", D)))
    T += linear(pw + "update_gate.0", D, 2 * D)
    mf = "lattice_core.meta_fusion."
    T += linear(mf + "0", 2 * D, 3 * D)
    T += layernorm(mf + "1", 2 * D)
    T += linear(mf + "3", D, 2 * D)
    return T


def memory_buffers(D, opt):
    for o in opt:
        if o.startswith("memory:"):
            dt = o.split(":")[1]
            return [("memory.memory", [10000, D], ("mem", dt)),
                    ("memory.importance", [10000], ("mem", dt))]
    return []


def cache_manager(D):
    T = linear("cache_manager.importance_net.0", 256, 2 * D)
    T += linear("cache_manager.importance_net.2", 1, 256)
    return T


def tensors_v70(c, opt):
    V, D, L, Lmax, Hz = c["V"], c["D"], c["L"], c["Lmax"], c["Hz"]
    Lb = L // 2
    Lt = L - Lb
    T = [("token_embedding.weight", [V, D], ("normal", 1.0)),
         ("pos_embedding.weight", [Lmax, D], ("normal", 1.0))]
    for i in range(Lb):
        T += mg.block_tensors("adaptive_bottom.layers.%d" % i, D)
    if "task_analyzer" in opt:
        T += analyzers("adaptive_bottom.", D)
    if "layer_weights" in opt:
        T.append(("lattice_core.analyzer.layer_weights", [10], ("lnw",)))
    if "spine" in opt:
        T.append(("lattice_core.analyzer.spine", [len(spine3(Lmax))], ("spine3",)))
    for l in range(10):
        T += encoder_layer("lattice_core.layer_processors.%d." % l, D, 2048)
    T += linear("lattice_core.task_router.0", 256, D)
    T += linear("lattice_core.task_router.2", 10, 256)
    for j in range(Lt):
        T += mg.block_tensors("top_stack.%d" % j, D)
    if "horizon" in opt:
        h = "horizon_predictor."
        T += linear(h + "coarse_predictor", V, D)
        T += linear(h + "medium_predictor", V, 2 * D)
        T += linear(h + "fine_predictor", V, 2 * D)
        T.append((h + "lattice_embeddings.weight", [20, D], ("normal", 1.0)))
        T += linear(h + "projection", D, V)
    T.append(("lm_head.weight", [V, D], ("lin", D)))
    T += layernorm("ln_f", D)
    if "speculative_verifier" in opt:
        T += verifier(V, D, Hz, Lt)
    return T


def tensors_v71(c, opt):
    V, D, L, Lmax, Hz = c["V"], c["D"], c["L"], c["Lmax"], c["Hz"]
    nsp = len(spine3(Lmax))
    T = [("token_embedding.weight", [V, D], ("normal", 1.0))]
    if "spine" in opt:
        T.append(("pos_encoding.spine", [nsp], ("spine3",)))
    T += linear("pos_encoding.lattice_encoder.0", D // 2, 3)
    T += layernorm("pos_encoding.lattice_encoder.1", D // 2)
    T += lattice_core(D, "spine3", nsp, "spine" in opt)
    if "horizon" in opt:
        h = "horizon_predictor."
        T += linear(h + "uncertainty_head.0", D // 4, D)
        T += linear(h + "uncertainty_head.2", 1, D // 4)
        T += linear(h + "predictors.near", 4 * V, D)
        T += linear(h + "predictors.mid", 16 * V, D)
        T += linear(h + "predictors.far", 44 * V, D)
    T.append(("lm_head.weight", [V, D], ("lin", D)))
    T += layernorm("ln_f", D)
    if "speculative_verifier" in opt:
        T += verifier(V, D, Hz, L)
    if "task_analyzer" in opt:
        T += analyzers("", D)
    for i in range(4):
        T += encoder_layer("multi_res.processors.%d." % i, D, 2048)
    T += linear("multi_res.fusion.0", 2 * D, 4 * D)
    T += layernorm("multi_res.fusion.1", 2 * D)
    T += linear("multi_res.fusion.3", D, 2 * D)
    T += linear("sparse_router.router.0", 512, D)
    T += linear("sparse_router.router.2", 8, 512)
    for e in range(8):
        # expert weights U(+-2/sqrt(D)), 2 and 4 times PyTorch's bounds: an
        # output comparable to the input
        T.append(("sparse_router.experts.%d.0.weight" % e, [4 * D, D], ("lin", D / 4.0)))
        T.append(("sparse_router.experts.%d.0.bias" % e, [4 * D], ("lin", D)))
        T.append(("sparse_router.experts.%d.2.weight" % e, [D, 4 * D], ("lin", D / 4.0)))
        T.append(("sparse_router.experts.%d.2.bias" % e, [D], ("lin", 4 * D)))
    for l in range(L):
        p = "attention_layers.%d." % l
        T += linear(p + "block_router.0", 128, D)
        T += linear(p + "block_router.2", 1, 128)
        # no residual in these layers: weights 3 times PyTorch's bound and a
        # small bias, so that the rows keep their differences through the stack
        T.append((p + "qkv.weight", [3 * D, D], ("lin", D / 9.0)))
        T.append((p + "out_proj.weight", [D, D], ("lin", D / 9.0)))
        T.append((p + "out_proj.bias", [D], ("lin", 400.0)))
    if "cache_manager" in opt:
        T += cache_manager(D)
    T += memory_buffers(D, opt)
    if "loss_weighting" in opt:
        T.append(("loss_weighting.log_vars", [4], ("lnb",)))
    return T


def tensors_v8(c, opt):
    V, D, L, Lmax, Hz = c["V"], c["D"], c["L"], c["Lmax"], c["Hz"]
    nsp = len(spine2(Lmax))
    T = [("token_embedding.embed.weight", [V, D], ("emb", c["emb"])),
         ("pos_encoding.pe", [Lmax, D], ("pe", c["pe"]))]
    T += lattice_core(D, "spine2", nsp, "spine" in opt)
    if "horizon" in opt:
        h = "horizon_predictor."
        T += linear(h + "predictor.0", 2 * D, D)
        T += linear(h + "predictor.2", Hz * V, 2 * D)
        T += linear(h + "uncertainty.0", 64, D)
        T += linear(h + "uncertainty.2", 1, 64)
    if "lm_head" in opt:
        T.append(("lm_head.weight", [V, D], ("tied", "token_embedding.embed.weight")))
    T += layernorm("ln_f", D)
    if "speculative_verifier" in opt:
        T += verifier(V, D, Hz, L)
    if "task_analyzer" in opt:
        T += analyzers("", D)
    T += encoder_layer("multi_res.processor.", D, 4 * D)
    T += linear("multi_res.fusion.0", D, 4 * D)
    T += layernorm("multi_res.fusion.1", D)
    T.append(("sparse_router.expert_up", [8, 4 * D, D], ("lin", D)))
    T.append(("sparse_router.expert_down", [8, D, 4 * D], ("lin", 4 * D)))
    T += linear("sparse_router.router", 8, D)
    for l in range(L):
        p = "attention_layers.%d." % l
        T.append((p + "self_attn.qkv.weight", [3 * D, D], ("lin", D)))
        T.append((p + "self_attn.out_proj.weight", [D, D], ("lin", D)))
        T += mha(p + "cross_attn.", D)
        T += linear(p + "diamond_mixer.split_proj", 2 * D, D)
        T += linear(p + "diamond_mixer.merge_proj", D, 2 * D)
        T += layernorm(p + "diamond_mixer.norm", D)
        for k in (1, 2, 3):
            T += layernorm(p + "norm%d" % k, D)
    if "cache_manager" in opt:
        T += cache_manager(D)
    T += memory_buffers(D, opt)
    if "loss_weighting" in opt:
        T.append(("loss_weighting.log_vars", [4], ("lnb",)))
    T.append(("plasticity.qkv.weight", [3 * D, D], ("lin", D)))
    T += layernorm("plasticity.norm", D)
    f = "feedback_loop."
    for n in ("weight_ih", "weight_hh"):
        T.append((f + "loop_net." + n, [3 * D, D], ("lin", D)))
    for n in ("bias_ih", "bias_hh"):
        T.append((f + "loop_net." + n, [3 * D], ("lin", D)))
    T += linear(f + "error_estimator", 1, D)
    return T


TENSOR_LISTS = {"v7.0": tensors_v70, "v7.1": tensors_v71, "v8": tensors_v8}


def tensor_list(cfg):
    return TENSOR_LISTS[cfg["arch"]](cfg, cfg["optional"])


# ---------------------------------------------------------------------------
# Weights: draw, round to the file's dtype, write (spec 9, 12.0)
# ---------------------------------------------------------------------------

def v8_pe_table(Lmax, D, variant, rng):
    """sin/cos(t * 10000^(-2i/D)) in double, then rounded (12.E.4's random-init
    table); "perturbed" adds N(0, 0.05^2) so only a file-read table is right."""
    rows = []
    for t in range(Lmax):
        row = []
        for i in range(D // 2):
            a = t * 10000.0 ** (-2.0 * i / D)
            row += [math.sin(a), math.cos(a)]
        if variant == "perturbed":
            row = [v + rng.gauss(0.0, 0.05) for v in row]
        rows += row
    return rows


def v8_token_table(V, D, variant, rng):
    """"small": the original's N(0, 0.01^2); "mixed": rows of norm well below
    and well above 0.999 (both branches of 12.E.2.1's rescale) and large
    enough that the tied head's logits are not tiny."""
    vals = []
    for r in range(V):
        if variant == "small":
            sd = 0.01
        else:
            sd = 0.12 if r % 3 == 0 else 0.6
        vals += [rng.gauss(0.0, sd) for _ in range(D)]
    return vals


def draw(kind, n, shape, cfg, rng, values):
    k = kind[0]
    if k == "lin":
        a = 1.0 / math.sqrt(kind[1])
        return [rng.uniform(-a, a) for _ in range(n)]
    if k == "u":
        return [rng.uniform(-kind[1], kind[1]) for _ in range(n)]
    if k == "normal":
        return [rng.gauss(0.0, kind[1]) for _ in range(n)]
    if k == "lnw":
        return [1.0 + rng.gauss(0.0, 0.1) for _ in range(n)]
    if k == "lnb":
        return [rng.gauss(0.0, 0.1) for _ in range(n)]
    if k == "mem":
        return [rng.uniform(-1.0, 1.0) for _ in range(n)]
    if k == "emb":
        return v8_token_table(shape[0], shape[1], kind[1], rng)
    if k == "pe":
        return v8_pe_table(shape[0], shape[1], kind[1], rng)
    if k == "tied":
        return list(values[kind[1]])
    raise ValueError(kind)


class Weights(mg.Weights):
    """mg.Weights with replaceable tensors (the threshold adjustments)."""

    def set(self, name, vals):
        dtype = self.cfg["dtypes"][name]
        self.v[name] = mg.ROUNDERS[dtype](vals)[0]
        for key in [k for k in self._rows if k[0] == name]:
            del self._rows[key]


def make_weights(cfg):
    rng = random.Random("weights:%d" % cfg["seed"])
    values, shapes, dtypes = {}, {}, {}
    order = []
    for name, shape, kind in tensor_list(cfg):
        n = 1
        for s in shape:
            n *= s
        order.append(name)
        shapes[name] = shape
        if kind[0] in ("spine2", "spine3"):
            sp = (spine2 if kind[0] == "spine2" else spine3)(cfg["Lmax"])
            assert shape == [len(sp)]
            dtypes[name] = "I64"
            values[name] = sp
            continue
        dtypes[name] = kind[1] if kind[0] == "mem" else cfg["dtype"]
        vals = draw(kind, n, shape, cfg, rng, values)
        values[name] = mg.ROUNDERS[dtypes[name]](vals)[0]
    c = dict(cfg)
    c["dtypes"] = dtypes
    c["order"] = order
    c["shapes"] = shapes
    return Weights(c, values)


def write_safetensors(path, w):
    """Spec 9 through make_golden.py's writer (canonical order, header padded
    to 8 bytes), then its independent re-read check."""
    cfg = w.cfg
    entries = []
    for name in cfg["order"]:
        dt = cfg["dtypes"][name]
        vals = w.v[name]
        if dt == "I64":
            raw = struct.pack("<%dq" % len(vals), *vals)
        else:
            back, raw = mg.ROUNDERS[dt](vals)
            assert back == vals, name          # values are already representable
        entries.append((name, dt, cfg["shapes"][name], raw))
    mg.SOURCE = SOURCE                          # the files name this script as their source
    mg.write_safetensors(path, dict(cfg, pad_header=True), entries)
    mg.read_back_check(path, w.v)


# ---------------------------------------------------------------------------
# Shared operations
# ---------------------------------------------------------------------------

def relu_vec(x):
    return [v if v > 0.0 else 0.0 for v in x]


def gelu_vec(x):
    return [gelu(v) for v in x]


def vadd(a, b):
    return list(map(add, a, b))


def mean_rows(rows):
    n = len(rows)
    return [sum(col) / n for col in zip(*rows)]


def softmax(s):
    mx = max(s)
    e = [math.exp(v - mx) for v in s]
    z = sum(e)
    return [v / z for v in e]


def attend(Q, K, Vv, nh, scale, keys, rows=None):
    """Multi-head attention; heads are contiguous D/nh slices. keys(i) is an
    int n (keys 0..n-1) or a list of key indices. Returns {row: output}."""
    D = len(K[0])
    hd = D // nh
    rows = range(len(Q)) if rows is None else rows
    out = {i: [0.0] * D for i in rows}
    for h in range(nh):
        lo = h * hd
        Kc = [[k[lo + d] for k in K] for d in range(hd)]
        Vc = [[v[lo + d] for v in Vv] for d in range(hd)]
        for i in rows:
            ks = keys(i)
            if isinstance(ks, int):
                kc, vc, n = Kc, Vc, ks
            else:
                kc = [[c[j] for j in ks] for c in Kc]
                vc = [[c[j] for j in ks] for c in Vc]
                n = len(ks)
            q = Q[i]
            s = list(map(mul, kc[0], repeat(q[lo] * scale, n)))
            for d in range(1, hd):
                s = list(map(add, s, map(mul, kc[d], repeat(q[lo + d] * scale))))
            mx = max(s)
            e = list(map(math.exp, map(sub, s, repeat(mx))))
            z = sum(e)
            o = out[i]
            for d in range(hd):
                o[lo + d] = sum(map(mul, e, vc[d])) / z
    return out


def split3(rows, D):
    return ([r[:D] for r in rows], [r[D:2 * D] for r in rows], [r[2 * D:] for r in rows])


class EncoderLayer:
    """The tensors of an nn.TransformerEncoderLayer (8 heads, ReLU FFN) and its
    two halves: the self-attention with out_proj, and the FFN."""

    def __init__(self, w, prefix, D):
        def t(name, cols=None):
            return w.mat(prefix + name, cols) if cols else w.vec(prefix + name)
        Win, b = t("self_attn.in_proj_weight", D), t("self_attn.in_proj_bias")
        self.q = (Win[:D], b[:D])
        self.k = (Win[D:2 * D], b[D:2 * D])
        self.v = (Win[2 * D:], b[2 * D:])
        self.o = (t("self_attn.out_proj.weight", D), t("self_attn.out_proj.bias"))
        F = len(t("linear1.bias"))
        self.f1 = (t("linear1.weight", D), t("linear1.bias"))
        self.f2 = (t("linear2.weight", F), t("linear2.bias"))
        self.n1 = (t("norm1.weight"), t("norm1.bias"))
        self.n2 = (t("norm2.weight"), t("norm2.bias"))

    def attention(self, H, causal, rows):
        """out_proj(attention) for `rows`; keys and values from every row of H."""
        D = len(H[0])
        n = len(H)
        need = set(rows)
        Q = [affine(*self.q, h) if i in need else None for i, h in enumerate(H)]
        K = [affine(*self.k, h) for h in H]
        Vv = [affine(*self.v, h) for h in H]
        keys = (lambda i: i + 1) if causal else (lambda i: n)
        O = attend(Q, K, Vv, 8, 1.0 / math.sqrt(D // 8), keys, rows)
        return {i: affine(*self.o, O[i]) for i in rows}

    def ffn(self, z):
        return affine(*self.f2, relu_vec(affine(*self.f1, z)))


def post_enc(w, prefix, H, causal, rows=None):
    """Post-norm layer: 12.C.2's PostEnc, 12.D.2.2's PostEnc_r. K, V from every
    row of H; returns {row: output} for `rows` (default all)."""
    e = EncoderLayer(w, prefix, len(H[0]))
    rows = list(range(len(H))) if rows is None else rows
    att = e.attention(H, causal, rows)
    out = {}
    for i in rows:
        z = layer_norm(vadd(H[i], att[i]), *e.n1)
        out[i] = layer_norm(vadd(z, e.ffn(z)), *e.n2)
    return out


def pre_enc(w, prefix, Z, causal):
    """The v8 multi-res processor P: norm-first layer (12.E.2.3)."""
    e = EncoderLayer(w, prefix, len(Z[0]))
    rows = list(range(len(Z)))
    att = e.attention([layer_norm(z, *e.n1) for z in Z], causal, rows)
    out = []
    for i in rows:
        z = vadd(Z[i], att[i])
        out.append(vadd(z, e.ffn(layer_norm(z, *e.n2))))
    return out


def gru_step(w, prefix, suffix, m, h):
    """Spec 1's GRU step; prefix + weight_ih + suffix etc."""
    D = len(h)
    Wih = w.mat(prefix + "weight_ih" + suffix, D)
    Whh = w.mat(prefix + "weight_hh" + suffix, D)
    gi = affine(Wih, w.vec(prefix + "bias_ih" + suffix), m)
    gh = affine(Whh, w.vec(prefix + "bias_hh" + suffix), h)
    out = []
    for d in range(D):
        r = sigmoid(gi[d] + gh[d])
        z = sigmoid(gi[D + d] + gh[D + d])
        n = math.tanh(gi[2 * D + d] + r * gh[2 * D + d])
        out.append((1.0 - z) * n + z * h[d])
    return out


def lattice(w, X, levels_table, spine):
    """Spec 4.4 over the rows X of a prefill (R[p] = X[p]); returns the meta
    fusion rows. levels_table: the 3-term or the 2-term table of spec 2."""
    D = len(X[0])
    S = len(X)
    R = {p: X[p] for p in spine if p < S}
    HM = list(X)
    HP = list(X)
    ml = "lattice_core.multi_level."
    pw = "lattice_core.path_weighted."
    u1 = w.vec(pw + "path_weight_net.0.weight")
    c1 = w.vec(pw + "path_weight_net.0.bias")
    u2 = w.vec(pw + "path_weight_net.2.weight")
    c2 = w.vec(pw + "path_weight_net.2.bias")[0]
    wc = [mg.softplus(dot(u2, relu_vec([a * c + b for a, b in zip(u1, c1)])) + c2)
          for c in (0.0, 1.0)]
    Win = w.mat(ml + "level_attention.in_proj_weight", D)
    bin_ = w.vec(ml + "level_attention.in_proj_bias")
    Wo = w.mat(ml + "level_attention.out_proj.weight", D)
    bo = w.vec(ml + "level_attention.out_proj.bias")
    Wf, bf = w.mat(ml + "fusion.0.weight", 2 * D), w.vec(ml + "fusion.0.bias")
    gF, bF = w.vec(ml + "fusion.1.weight"), w.vec(ml + "fusion.1.bias")
    Wm, bm = w.mat(pw + "message_fn.0.weight", 2 * D), w.vec(pw + "message_fn.0.bias")
    gM, bM = w.vec(pw + "message_fn.1.weight"), w.vec(pw + "message_fn.1.bias")
    Wu, bu = w.mat(pw + "update_gate.0.weight", 2 * D), w.vec(pw + "update_gate.0.bias")
    for p in sorted(levels_table):
        if p >= S:
            continue
        levels = levels_table[p]
        deepest = levels[-1]
        xp = X[p]
        lt = ml + "level_transforms.%d" % len(levels)
        f = mean_rows([R[a] for a in deepest])
        t = affine(w.mat(lt + ".0.weight", D), w.vec(lt + ".0.bias"), f)
        t = gelu_vec(layer_norm(t, w.vec(lt + ".1.weight"), w.vec(lt + ".1.bias")))
        u = affine(w.mat(lt + ".3.weight", D), w.vec(lt + ".3.bias"), t)
        att = affine(Wo, bo, affine(Win[2 * D:], bin_[2 * D:], u))
        HM[p] = layer_norm(affine(Wf, bf, att + xp), gF, bF)
        h = [0.0] * D
        for lvl in levels:
            for a in lvl:
                msg = layer_norm(affine(Wm, bm, R[a] + xp), gM, bM)
                wt = wc[1] if lvl is deepest else wc[0]
                h = gru_step(w, pw + "aggregate_fn.", "_l0", [wt * gelu(v) for v in msg], h)
        z = [sigmoid(v) for v in affine(Wu, bu, h + xp)]
        HP[p] = [zd * gd + (1.0 - zd) * xd for zd, gd, xd in zip(z, h, xp)]
    mf = "lattice_core.meta_fusion."
    Wa, ba = w.mat(mf + "0.weight", 3 * D), w.vec(mf + "0.bias")
    g2, b2 = w.vec(mf + "1.weight"), w.vec(mf + "1.bias")
    Wb, bb = w.mat(mf + "3.weight", 2 * D), w.vec(mf + "3.bias")
    return [affine(Wb, bb, gelu_vec(layer_norm(affine(Wa, ba, X[i] + HM[i] + HP[i]), g2, b2)))
            for i in range(S)]


def head(w, X, table):
    D = len(X[0])
    gf, bf = w.vec("ln_f.weight"), w.vec("ln_f.bias")
    Wh = w.mat(table, D)
    return [matvec(Wh, layer_norm(x, gf, bf)) for x in X]


def top2(p):
    """Indices of the two largest values, lowest index first on ties
    (12.D.2.3, 12.E.2.4), and the gap between the 2nd and the 3rd."""
    order = sorted(range(len(p)), key=lambda e: (-p[e], e))
    return order[0], order[1], p[order[1]] - p[order[2]]


class Result:
    """Stage rows, logits and the decisions of one forward call."""

    def __init__(self):
        self.stages = {}          # name -> rows, in computation order
        self.logits = None
        self.gates = []           # v7.0: (processor, row, g)
        self.keeps = []           # v7.1: (layer, block or row, g)
        self.top2 = []            # (row, e1, e2, gap)

    def margins(self):
        m = {}
        if self.gates:
            m["gate"] = min(abs(g - 0.1) for _, _, g in self.gates)
        if self.keeps:
            m["keep"] = min(abs(g) for _, _, g in self.keeps)
        if self.top2:
            m["top2"] = min(gap for _, _, _, gap in self.top2)
        return m


# ---------------------------------------------------------------------------
# Core C: v7.0 Agile (12.C)
# ---------------------------------------------------------------------------

def v70_bottom(w, ids):
    D = w.cfg["D"]
    E = w.mat("token_embedding.weight", D)
    P = w.mat("pos_embedding.weight", D)
    X = [vadd(E[i], P[t]) for t, i in enumerate(ids)]
    emb = X
    for i in range(w.cfg["L"] // 2):
        X = mg.preblock(w, "adaptive_bottom.layers.%d" % i, X)
    return emb, X


def v70_router_means(X):
    """m_t = s_t / (t + 1), s_t the float32 running sum (12.C.3); the parity
    mean of a window of S rows is m_{S-1} (12.C.2: the same sum and division)."""
    s = [0.0] * len(X[0])
    out = []
    for t, x in enumerate(X):
        s = [f32(a + f32(b)) for a, b in zip(s, x)]
        out.append([f32(v / (t + 1)) for v in s])
    return out


def v70_router_hidden(w, m):
    D = w.cfg["D"]
    return relu_vec(affine(w.mat("lattice_core.task_router.0.weight", D),
                           w.vec("lattice_core.task_router.0.bias"), m))


def v70_gates(w, m):
    hid = v70_router_hidden(w, m)
    return [sigmoid(v) for v in affine(w.mat("lattice_core.task_router.2.weight", 256),
                                       w.vec("lattice_core.task_router.2.bias"), hid)]


def gate_on(g):
    return f32(g) > F32_TENTH


def v70_forward(w, ids, mode):
    res = Result()
    S = len(ids)
    emb, X = v70_bottom(w, ids)
    res.stages["embed"] = emb
    res.stages["bottom"] = X
    means = v70_router_means(X)
    if mode == "parity":
        g = v70_gates(w, means[S - 1])
        G = [g] * S
    else:
        G = [v70_gates(w, m) for m in means]
    H = X
    for l in range(10):
        pre = "lattice_core.layer_processors.%d." % l
        if mode == "parity":
            res.gates.append((l, S - 1, G[0][l]))
            on = list(range(S)) if gate_on(G[0][l]) else []
        else:
            res.gates += [(l, t, G[t][l]) for t in range(S)]
            on = [t for t in range(S) if gate_on(G[t][l])]
        if on:
            U = post_enc(w, pre, H, mode == "causal", on)
            H = [[h + G[t][l] * (u - h) for h, u in zip(H[t], U[t])] if t in U else H[t]
                 for t in range(S)]
        res.stages["proc.%d" % l] = H
    for j in range(w.cfg["L"] - w.cfg["L"] // 2):
        H = mg.preblock(w, "top_stack.%d" % j, H)
    res.stages["hidden"] = H
    res.logits = head(w, H, "lm_head.weight")
    return res


# ---------------------------------------------------------------------------
# Core D: v7.1 Ultimate (12.D)
# ---------------------------------------------------------------------------

def v71_sinusoid(t, D):
    """s(t) of 12.D.2.1 in its float32 recipe."""
    d = D // 2
    c = f32(-math.log(10000.0) / d)
    out = []
    for k in range(d // 2):
        fk = f32(math.exp(f32(2 * k * c)))
        a = f32(t * fk)
        out += [f32(math.sin(a)), f32(math.cos(a))]
    return out


def v71_pe(w, t):
    D, Lmax = w.cfg["D"], w.cfg["Lmax"]
    sp = spine3(Lmax)
    below = [s for s in sp if s <= t]
    above = [s for s in sp if s > t]
    feat = [float(t - max(below)), float(min(above) - t) if above else 0.0, float(len(below))]
    h = affine(w.mat("pos_encoding.lattice_encoder.0.weight", 3),
               w.vec("pos_encoding.lattice_encoder.0.bias"), feat)
    h = gelu_vec(layer_norm(h, w.vec("pos_encoding.lattice_encoder.1.weight"),
                            w.vec("pos_encoding.lattice_encoder.1.bias")))
    return v71_sinusoid(t, D) + h


def v71_embed(w, ids):
    D = w.cfg["D"]
    E = w.mat("token_embedding.weight", D)
    if "pe" not in w.__dict__:
        w.pe = [v71_pe(w, t) for t in range(w.cfg["Lmax"])]
    return [vadd(E[i], w.pe[t]) for t, i in enumerate(ids)]


def v71_upsample(Y, n, S):
    """Linear upsampling of n rows to S rows, align_corners false, in the
    recipe of 12.D.2.2 (float32 sigma, double u, float32 lambda)."""
    sigma = f32(n / S)
    out = []
    for t in range(S):
        u = max(sigma * (t + 0.5) - 0.5, 0.0)
        i0 = int(math.floor(u))
        i1 = min(i0 + 1, n - 1)
        l1 = f32(u - i0)
        l0 = f32(1.0 - l1)
        out.append([l0 * a + l1 * b for a, b in zip(Y[i0], Y[i1])])
    return out


def v71_multires(w, X, mode):
    S = len(X)
    causal = mode == "causal"
    U = post_enc(w, "multi_res.processors.0.", X, causal)
    y1 = [U[t] for t in range(S)]
    ys = [y1]
    for idx, r in ((1, 2), (2, 4), (3, 8)):
        pre = "multi_res.processors.%d." % idx
        n = S // r
        if n == 0:
            ys.append(y1)                                    # 12.D.2.7 / 12.D.3: y_r = y_1
            continue
        if causal:
            P = [[v / r for v in map(sum, zip(*X[i * r:(i + 1) * r]))] for i in range(n)]
            Y = post_enc(w, pre, P, True)
            ys.append([Y[(t + 1) // r - 1] if (t + 1) // r >= 1 else y1[t] for t in range(S)])
        else:
            P = [mean_rows(X[(i * S) // n:-((-(i + 1) * S) // n)]) for i in range(n)]
            Y = post_enc(w, pre, P, False)
            ys.append(v71_upsample([Y[i] for i in range(n)], n, S))
    D = len(X[0])
    W0, b0 = w.mat("multi_res.fusion.0.weight", 4 * D), w.vec("multi_res.fusion.0.bias")
    g1, c1 = w.vec("multi_res.fusion.1.weight"), w.vec("multi_res.fusion.1.bias")
    W3, b3 = w.mat("multi_res.fusion.3.weight", 2 * D), w.vec("multi_res.fusion.3.bias")
    return [affine(W3, b3, gelu_vec(layer_norm(affine(W0, b0, ys[0][t] + ys[1][t] + ys[2][t] +
                                                      ys[3][t]), g1, c1)))
            for t in range(S)]


def v71_router_probs(w, z):
    D = len(z)
    h = gelu_vec(affine(w.mat("sparse_router.router.0.weight", D),
                        w.vec("sparse_router.router.0.bias"), z))
    return softmax(affine(w.mat("sparse_router.router.2.weight", 512),
                          w.vec("sparse_router.router.2.bias"), h))


def moe(X, probs, expert, res):
    """Top-2 of the 8 experts, lowest index first on ties, weighted by their
    softmax probabilities over all 8, not renormalised (12.D.2.3, 12.E.2.4)."""
    out = []
    for t, x in enumerate(X):
        p = probs(x)
        e1, e2, gap = top2(p)
        res.top2.append((t, e1, e2, gap))
        out.append([p[e1] * a + p[e2] * b for a, b in zip(expert(e1, x), expert(e2, x))])
    return out


def v71_moe(w, Z, res):
    D = len(Z[0])

    def expert(e, z):
        pre = "sparse_router.experts.%d." % e
        return affine(w.mat(pre + "2.weight", 4 * D), w.vec(pre + "2.bias"),
                      gelu_vec(affine(w.mat(pre + "0.weight", D), w.vec(pre + "0.bias"), z)))

    return moe(Z, lambda z: v71_router_probs(w, z), expert, res)


def v71_block_router(w, l, u):
    pre = "attention_layers.%d.block_router." % l
    D = len(u)
    h = relu_vec(affine(w.mat(pre + "0.weight", D), w.vec(pre + "0.bias"), u))
    return dot(w.vec(pre + "2.weight"), h) + w.vec(pre + "2.bias")[0]


def v71_keep_values(w, l, K, mode):
    """The block-router outputs g behind the keep decisions (keep = g > 0).
    Parity: one per 64-block (the block's mean k). Causal: one per row
    (the running mean of the k rows of its block so far) (12.D.2.4, 12.D.3)."""
    S = len(K)
    if mode == "parity":
        return [v71_block_router(w, l, mean_rows(K[b:b + 64])) for b in range(0, S, 64)]
    vals = []
    acc = None
    for t in range(S):
        acc = list(K[t]) if t % 64 == 0 else vadd(acc, K[t])
        vals.append(v71_block_router(w, l, [v / (t % 64 + 1) for v in acc]))
    return vals


def v71_attn(w, l, A, mode, res):
    D = len(A[0])
    S = len(A)
    pre = "attention_layers.%d." % l
    Q, K, Vv = split3([matvec(w.mat(pre + "qkv.weight", D), a) for a in A], D)
    g = v71_keep_values(w, l, K, mode)
    if mode == "parity":
        res.keeps += [(l, b, v) for b, v in enumerate(g)]
        block_keep = [v > 0.0 for v in g]
        own = [block_keep[t // 64] for t in range(S)]
    else:
        res.keeps += [(l, t, v) for t, v in enumerate(g)]
        own = [v > 0.0 for v in g]
        block_keep = [own[b + 63] for b in range(0, S - 63, 64)]   # completed blocks

    def keys(t):
        b = t // 64
        return [j for j in range(t + 1) if j // 64 == b or block_keep[j // 64]]

    kept_rows = [t for t in range(S) if own[t]]
    O = attend(Q, K, Vv, w.cfg["nh"], 1.0 / math.sqrt(D), keys, kept_rows)
    vsum = [0.0] * D
    Wo, bo = w.mat(pre + "out_proj.weight", D), w.vec(pre + "out_proj.bias")
    out = []
    for t in range(S):
        vsum = vadd(vsum, Vv[t])
        o = O[t] if own[t] else [v / (t + 1) for v in vsum]
        out.append(affine(Wo, bo, o))
    return out


def run_stages(res, steps, upto=None):
    """Runs (stage name, function of the previous rows) in order, keeping each
    stage's rows; stops after `upto` (the threshold adjustments need no more)."""
    rows = None
    for name, step in steps:
        rows = step(rows)
        res.stages[name] = rows
        if name == upto:
            break
    return rows


def layer_steps(n, step):
    return [("attn.%d" % l, (lambda l: lambda A: step(l, A))(l)) for l in range(n)]


def v71_forward(w, ids, mode, upto=None):
    res = Result()
    steps = [("embed", lambda _: v71_embed(w, ids)),
             ("multires", lambda X: v71_multires(w, X, mode)),
             ("moe", lambda Z: v71_moe(w, Z, res))]
    steps += layer_steps(w.cfg["L"], lambda l, A: v71_attn(w, l, A, mode, res))
    steps += [("lattice", lambda A: lattice(w, A, SPINE3_LEVELS, spine3(w.cfg["Lmax"])))]
    Y = run_stages(res, steps, upto)
    if upto is None:
        res.stages["hidden"] = Y
        res.logits = head(w, Y, "lm_head.weight")
    return res


# ---------------------------------------------------------------------------
# Core E: v8 Crystalline (12.E)
# ---------------------------------------------------------------------------

def v8_embed(w, ids):
    D = w.cfg["D"]
    E = w.mat("token_embedding.embed.weight", D)
    PE = w.mat("pos_encoding.pe", D)
    X = []
    for t, i in enumerate(ids):
        e = E[i]
        nrm = math.sqrt(dot(e, e))
        s = min(nrm / 0.999, 1.0) + 1e-8
        X.append([v / s + p for v, p in zip(e, PE[t])])
    return X


def v8_hebbian(w, X, mode):
    D = len(X[0])
    Q, K, Vv = split3([matvec(w.mat("plasticity.qkv.weight", D), x) for x in X], D)
    g, b = w.vec("plasticity.norm.weight"), w.vec("plasticity.norm.bias")
    S = len(X)
    M = [[0.0] * D for _ in range(D)]

    def accumulate(tau):
        k, v = K[tau], Vv[tau]
        for a in range(D):
            M[a] = vadd(M[a], [k[a] * vb for vb in v])

    if mode == "parity":
        for tau in range(S):
            accumulate(tau)
    out = []
    for i in range(S):
        if mode == "causal":
            accumulate(i)                                   # M_t = sum over tau <= t
        q = Q[i]
        mq = [sum(M[a][c] * q[a] for a in range(D)) for c in range(D)]
        f = sigmoid(dot(q, K[i])) * 0.95
        out.append(layer_norm([x + f * v for x, v in zip(X[i], mq)], g, b))
    return out


def v8_multires(w, X, mode):
    S = len(X)
    D = len(X[0])
    causal = mode == "causal"
    pre = "multi_res.processor."
    y1 = pre_enc(w, pre, X, causal)
    ys = [y1]
    for f in (2, 4, 8):
        n = S // f
        if n == 0:
            ys.append(y1)
            continue
        P = [[v / f for v in map(sum, zip(*X[j * f:(j + 1) * f]))] for j in range(n)]
        Z = pre_enc(w, pre, P, causal)
        if causal:
            ys.append([Z[(t + 1) // f - 1] if (t + 1) // f >= 1 else y1[t] for t in range(S)])
            continue
        y = []
        for i in range(S):
            s = max(0.0, (i + 0.5) * n / S - 0.5)
            a = int(math.floor(s))
            b = min(a + 1, n - 1)
            lam = s - a
            y.append([(1.0 - lam) * za + lam * zb for za, zb in zip(Z[a], Z[b])])
        ys.append(y)
    Wf, bf = w.mat("multi_res.fusion.0.weight", 4 * D), w.vec("multi_res.fusion.0.bias")
    g, b = w.vec("multi_res.fusion.1.weight"), w.vec("multi_res.fusion.1.bias")
    return [layer_norm(affine(Wf, bf, ys[0][i] + ys[1][i] + ys[2][i] + ys[3][i]), g, b)
            for i in range(S)]


def v8_router_probs(w, x):
    return softmax(affine(w.mat("sparse_router.router.weight", len(x)),
                          w.vec("sparse_router.router.bias"), x))


def v8_moe(w, X, res):
    D = len(X[0])
    up = w.mat("sparse_router.expert_up", D)             # 8 * 4D rows of D
    down = w.mat("sparse_router.expert_down", 4 * D)     # 8 * D rows of 4D

    def expert(e, x):
        return matvec(down[e * D:(e + 1) * D], gelu_vec(matvec(up[e * 4 * D:(e + 1) * 4 * D], x)))

    return moe(X, lambda x: v8_router_probs(w, x), expert, res)


def v8_layer(w, l, U, mode):
    D = len(U[0])
    S = len(U)
    nh = w.cfg["nh"]
    scale = 1.0 / math.sqrt(D // nh)
    pre = "attention_layers.%d." % l

    def ln(name, x):
        return layer_norm(x, w.vec(pre + name + ".weight"), w.vec(pre + name + ".bias"))

    A = [ln("norm1", u) for u in U]
    Q, K, Vv = split3([matvec(w.mat(pre + "self_attn.qkv.weight", D), a) for a in A], D)
    O = attend(Q, K, Vv, nh, scale, lambda i: i + 1)
    Wso = w.mat(pre + "self_attn.out_proj.weight", D)
    X = [vadd(U[i], matvec(Wso, O[i])) for i in range(S)]
    Win = w.mat(pre + "cross_attn.in_proj_weight", D)
    bin_ = w.vec(pre + "cross_attn.in_proj_bias")
    C = [ln("norm2", x) for x in X]
    Qc = [affine(Win[:D], bin_[:D], c) for c in C]
    Kc = [affine(Win[D:2 * D], bin_[D:2 * D], u) for u in U]
    Vc = [affine(Win[2 * D:], bin_[2 * D:], u) for u in U]
    keys = (lambda i: i + 1) if mode == "causal" else (lambda i: S)
    Oc = attend(Qc, Kc, Vc, nh, scale, keys)
    Wco = w.mat(pre + "cross_attn.out_proj.weight", D)
    bco = w.vec(pre + "cross_attn.out_proj.bias")
    Ws = w.mat(pre + "diamond_mixer.split_proj.weight", D)
    bs = w.vec(pre + "diamond_mixer.split_proj.bias")
    Wm = w.mat(pre + "diamond_mixer.merge_proj.weight", 2 * D)
    bm = w.vec(pre + "diamond_mixer.merge_proj.bias")
    out = []
    for i in range(S):
        x = vadd(X[i], affine(Wco, bco, Oc[i]))
        ab = affine(Ws, bs, x)
        al, be = ab[:D], ab[D:]
        mix = [gelu(a + b) for a, b in zip(al, be)] + [gelu(b - a) for a, b in zip(al, be)]
        out.append(ln("diamond_mixer.norm", vadd(x, affine(Wm, bm, mix))))
    return out


def v8_feedback(w, X):
    we = w.vec("feedback_loop.error_estimator.weight")
    be = w.vec("feedback_loop.error_estimator.bias")[0]
    out = []
    for x in X:
        for _ in range(2):
            eps = sigmoid(dot(we, x) + be)
            g = gru_step(w, "feedback_loop.loop_net.", "", x, x)
            x = [(1.0 - eps) * a + eps * b for a, b in zip(x, g)]
        out.append(x)
    return out


def v8_forward(w, ids, mode, upto=None):
    res = Result()
    steps = [("embed", lambda _: v8_embed(w, ids)),
             ("hebbian", lambda X: v8_hebbian(w, X, mode)),
             ("multires", lambda X: v8_multires(w, X, mode)),
             ("moe", lambda X: v8_moe(w, X, res))]
    steps += layer_steps(w.cfg["L"], lambda l, X: v8_layer(w, l, X, mode))
    steps += [("lattice", lambda X: lattice(w, X, SPINE2_LEVELS, spine2(w.cfg["Lmax"]))),
              ("hidden", lambda X: v8_feedback(w, X))]
    X = run_stages(res, steps, upto)
    if upto is None:
        res.logits = head(w, X, "token_embedding.embed.weight")
    return res


FORWARD = {"v7.0": v70_forward, "v7.1": v71_forward, "v8": v8_forward}


# ---------------------------------------------------------------------------
# Keeping the discrete decisions away from their thresholds
# ---------------------------------------------------------------------------

def gap_threshold(values, lo_frac, hi_frac, need_mixed=(), late=()):
    """A threshold between two of the sorted values such that the fraction of
    values above it lies in [lo_frac, hi_frac] and each list in need_mixed has
    values on both sides. It maximises min(half the gap, a quarter of the
    distance to the `late` values): greedy decoding meets new values near the
    late ones. Returns (threshold, that score)."""
    vs = sorted(values)
    n = len(vs)
    best = None
    for k in range(1, n):
        if not lo_frac <= (n - k) / n <= hi_frac:
            continue
        th = 0.5 * (vs[k - 1] + vs[k])
        if any(all(v > th for v in grp) or all(v < th for v in grp) for grp in need_mixed):
            continue
        score = 0.5 * (vs[k] - vs[k - 1])
        if late:
            score = min(score, 0.25 * min(abs(v - th) for v in late))
        if best is None or score > best[1]:
            best = (th, score)
    if best is None:
        raise RuntimeError("no threshold leaves the decisions mixed")
    return best


def choose_v70_gates(w, cases, ids, log, rnd):
    """Sets task_router.2.bias so that each processor's gate follows the
    model's pattern: '+' on for every row of every case, '-' off, 'M' on for
    some rows or windows and off for others. The gates depend only on the
    bottom-stack output (12.C.2), so all cases' gates are the router applied to
    the running means of the prompt (parity S uses m_{S-1})."""
    logit_tenth = math.log(0.1 / 0.9)
    if rnd:
        redraw_router(w, ["lattice_core.task_router.2.weight"], [1.0 / 16], rnd)
    _, X = v70_bottom(w, ids)
    means = v70_router_means(X)
    W2 = w.mat("lattice_core.task_router.2.weight", 256)
    hid = [v70_router_hidden(w, m) for m in means]
    bias = list(w.vec("lattice_core.task_router.2.bias"))
    par_rows = [S - 1 for mode, S in cases if mode == "parity"]
    late_from = (w.cfg["greedy_S"] or w.cfg["Lmax"]) // 2
    for l, kind in enumerate(w.cfg["gates"]):
        r0 = [dot(W2[l], h) for h in hid]             # logit without the bias
        if kind == "M":
            # the running means move fast in the first rows and slowly later:
            # the threshold goes where the values are far apart
            th, _ = gap_threshold(r0, 0.02, 0.98, [[r0[t] for t in par_rows]], r0[late_from:])
            bias[l] = logit_tenth - th
        elif kind == "+":
            bias[l] = logit_tenth - min(r0) + 1.0     # g >= ~0.23 everywhere
        else:
            bias[l] = logit_tenth - max(r0) - 1.0     # g <= ~0.04 everywhere
    w.set("lattice_core.task_router.2.bias", bias)
    bias = w.vec("lattice_core.task_router.2.bias")   # as stored (rounded)
    margin = min(abs(sigmoid(dot(W2[l], h) + bias[l]) - 0.1) for h in hid for l in range(10))
    log("  gates %s: min |g - 0.1| over the prompt rows %.3g" % (w.cfg["gates"], margin))


def redraw_router(w, names, bounds, attempt):
    """Draws the named tensors again, U(+-bound), from a stream of their own."""
    rng = random.Random("router:%d:%d" % (w.cfg["seed"], attempt))
    for name, a in zip(names, bounds):
        w.set(name, [rng.uniform(-a, a) for _ in range(len(w.v[name]))])


def choose_router(w, inputs, probs_fn, names, bounds, log, rnd):
    """Draws the router's last layer (wider than PyTorch's init, so that the
    probabilities spread) until every top-2 choice over all cases' rows has
    p(2nd) - p(3rd) >= 4 * TOP2_GAP and at least 4 distinct pairs occur.
    Round rnd > 0 starts from other draws."""
    for attempt in range(1000 * rnd, 1000 * (rnd + 1)):
        redraw_router(w, names, bounds, attempt)
        gaps, pairs = [], set()
        for rows in inputs:
            for z in rows:
                e1, e2, gap = top2(probs_fn(w, z))
                gaps.append(gap)
                pairs.add((min(e1, e2), max(e1, e2)))
        if min(gaps) >= 4 * TOP2_GAP and len(pairs) >= 4:
            log("  router: draw %d, %d distinct top-2 pairs, min gap %.3g"
                % (attempt, len(pairs), min(gaps)))
            return
    raise RuntimeError("no router draw keeps the top-2 choices apart")


def choose_v71_keeps(w, l, inputs, log):
    """Sets attention_layers.{l}.block_router.2.bias (keep = g > 0) so that
    some blocks (parity) and some rows (causal) are kept and others not, and
    every g is far from 0."""
    pre = "attention_layers.%d." % l
    D = w.cfg["D"]
    bname = pre + "block_router.2.bias"
    b_old = w.vec(bname)[0]
    per_mode = {"parity": [], "causal": []}
    late = []
    late_from = (w.cfg["greedy_S"] or w.cfg["Lmax"]) // 2
    for mode, A in inputs:
        K = [matvec(w.mat(pre + "qkv.weight", D)[D:2 * D], a) for a in A]
        vals = [v - b_old for v in v71_keep_values(w, l, K, mode)]
        per_mode[mode] += vals
        if mode == "causal":
            late += vals[late_from:]
        elif len(A) >= late_from:
            late += vals
    allv = per_mode["parity"] + per_mode["causal"]
    th, _ = gap_threshold(allv, 0.1, 0.9, [per_mode["parity"], per_mode["causal"]], late)
    w.set(bname, [-th])
    b = w.vec(bname)[0]
    margin = min(abs(v + b) for v in allv)
    kept = {m: sum(v + b > 0 for v in vs) for m, vs in per_mode.items()}
    log("  attn.%d keep: parity %d/%d blocks, causal %d/%d rows, min |g| %.3g"
        % (l, kept["parity"], len(per_mode["parity"]), kept["causal"],
           len(per_mode["causal"]), margin))


def adjust_v70(w, cases, ids, log, rnd):
    choose_v70_gates(w, cases, ids, log, rnd)


def adjust_v71(w, cases, ids, log, rnd):
    Zs = [v71_forward(w, ids[:S], mode, upto="multires").stages["multires"] for mode, S in cases]
    choose_router(w, Zs, v71_router_probs,
                  ["sparse_router.router.2.weight", "sparse_router.router.2.bias"],
                  [30.0 / math.sqrt(512), 0.1], log, rnd)
    As = [v71_moe(w, Z, Result()) for Z in Zs]
    for l in range(w.cfg["L"]):
        choose_v71_keeps(w, l, [(mode, A) for (mode, _), A in zip(cases, As)], log)
        As = [v71_attn(w, l, A, mode, Result()) for (mode, _), A in zip(cases, As)]


def adjust_v8(w, cases, ids, log, rnd):
    Xs = [v8_forward(w, ids[:S], mode, upto="multires").stages["multires"] for mode, S in cases]
    choose_router(w, Xs, v8_router_probs,
                  ["sparse_router.router.weight", "sparse_router.router.bias"],
                  [3.0 / math.sqrt(w.cfg["D"])] * 2, log, rnd)


ADJUST = {"v7.0": adjust_v70, "v7.1": adjust_v71, "v8": adjust_v8}


# ---------------------------------------------------------------------------
# Cases and files
# ---------------------------------------------------------------------------

def make_prompt(cfg):
    rng = random.Random("prompt:%d" % cfg["seed"])
    V = cfg["V"]
    ids = [rng.randrange(V) for _ in range(cfg["Lmax"])]
    ids[0] = V - 1
    ids[1] = 0
    return ids


def write_f32(path, rows):
    flat = [v for r in rows for v in r]
    with open(path, "wb") as f:
        f.write(struct.pack("<%df" % len(flat), *flat))


def check_margins(res, what):
    for k, v in res.margins().items():
        if v < DECISION_LIMITS[k]:
            raise RuntimeError("%s: %s margin %.3g below %g" % (what, k, v, DECISION_LIMITS[k]))


def max_diff(A, B):
    return max(abs(a - b) for ra, rb in zip(A, B) for a, b in zip(ra, rb))


def greedy(w, prompt, mode):
    """N_GREEDY tokens, each by a full recomputation: parity prefill of the
    window (parity decode) or causal prefill of the prefix (causal decode).
    Returns (tokens, min logit margin, min decision margins)."""
    fwd = FORWARD[w.cfg["arch"]]
    seq = list(prompt)
    toks = []
    lmargin = float("inf")
    dmargins = {}
    for _ in range(N_GREEDY):
        res = fwd(w, seq, mode)
        tok, m = mg.argmax_margin(res.logits[-1])
        lmargin = min(lmargin, m)
        for k, v in res.margins().items():
            dmargins[k] = min(dmargins.get(k, v), v)
        toks.append(tok)
        seq.append(tok)
    return toks, lmargin, dmargins


def run_greedy(w, ids, cfg):
    """Greedy tokens per mode, or None where a margin is too small."""
    notes, out = [], {}
    if not cfg["greedy_S"]:
        return notes, out
    for mode in ("parity", "causal"):
        toks, lm, dm = greedy(w, ids[:cfg["greedy_S"]], mode)
        bad = [k for k, v in dm.items() if v < DECISION_LIMITS[k]]
        note = "%s greedy: logit margin %.3g, decision margins %s" % (
            mode, lm, " ".join("%s %.3g" % kv for kv in sorted(dm.items())))
        ok = lm >= LOGIT_MARGIN and not bad
        if not ok:
            note += " -> not shipped"
        notes.append(note)
        out[mode] = toks if ok else None
    return notes, out


def decision_summary(res, mode, S):
    lines = []
    if res.gates:
        per = {}
        for l, t, g in res.gates:
            per.setdefault(l, []).append("1" if gate_on(g) else "0")
        for l in sorted(per):
            lines.append("%s S=%d gate proc.%d %s" % (mode, S, l, "".join(per[l])))
    if res.keeps:
        per = {}
        for l, i, g in res.keeps:
            per.setdefault(l, []).append("1" if g > 0 else "0")
        unit = "blocks" if mode == "parity" else "rows"
        for l in sorted(per):
            lines.append("%s S=%d keep attn.%d %s %s" % (mode, S, l, unit, "".join(per[l])))
    if res.top2:
        lines.append("%s S=%d top2 %s" % (mode, S, " ".join(
            "%d%d" % (min(a, b), max(a, b)) for _, a, b, _ in res.top2)))
    return lines


def build(cfg, outdir):
    t0 = time.time()
    logs = []

    def log(s):
        logs.append(s)

    name = cfg["name"]
    arch = cfg["arch"]
    ids = make_prompt(cfg)
    cases = [("parity", S) for S in cfg["par_S"]] + [("causal", cfg["Lmax"])]
    for rnd in range(MAX_ROUNDS):
        # Greedy decoding meets inputs the adjustment has not seen: when one
        # of its decisions or arg-maxes is too close to call, draw again.
        w = make_weights(cfg)
        log("round %d:" % rnd)
        ADJUST[arch](w, cases, ids, log, rnd)
        gnotes, greedy_toks = run_greedy(w, ids, cfg)
        for g in gnotes:
            log("  " + g)
        if all(greedy_toks.values()):
            break
    ddir = os.path.join(outdir, name)
    os.makedirs(ddir, exist_ok=True)
    for f in os.listdir(ddir):
        os.remove(os.path.join(ddir, f))
    write_safetensors(os.path.join(outdir, name + ".safetensors"), w)
    with open(os.path.join(outdir, name + ".prompt.txt"), "w") as f:
        f.write(",".join(str(i) for i in ids) + "\n")

    fwd = FORWARD[arch]
    manifest = []
    decisions = []
    amax = 0.0
    runs = {}
    for mode, S in [("parity", S) for S in cfg["par_S"]] + [("causal", S) for S in cfg["cau_S"]]:
        res = fwd(w, ids[:S], mode)
        check_margins(res, "%s %s S=%d" % (name, mode, S))
        runs[(mode, S)] = res
        decisions += decision_summary(res, mode, S)
        stem = "%s/%s.S%04d." % (name, mode, S)
        write_f32(os.path.join(outdir, stem + "logits.f32"), res.logits)
        manifest.append("%s %d logits - %slogits.f32 %d %d" % (mode, S, stem, S, cfg["V"]))
        amax = max(amax, max(abs(v) for r in res.logits for v in r))
        for st, rows in res.stages.items():
            if st.startswith("proc.") and S != cfg["Lmax"]:
                continue                          # v7.0's per-processor rows: S = Lmax only
            write_f32(os.path.join(outdir, stem + st + ".f32"), rows)
            manifest.append("%s %d stage %s %s%s.f32 %d %d" % (mode, S, st, stem, st, S, cfg["D"]))

    # Self-checks of the reference: causal rows do not depend on later tokens;
    # at S = 1 both modes are the same computation (12.0, 12.C.2, 12.D.3, 12.E.3).
    full = runs[("causal", max(cfg["cau_S"]))]
    for (mode, S), res in runs.items():
        if mode == "causal":
            assert max_diff(res.logits, full.logits[:S]) <= SELF_TOL, (name, S)
            for st, rows in res.stages.items():
                assert max_diff(rows, full.stages[st][:S]) <= SELF_TOL, (name, S, st)
    if ("parity", 1) in runs:
        assert max_diff(runs[("parity", 1)].logits, full.logits[:1]) <= SELF_TOL, name
    if arch == "v7.1":
        # the generic lattice against the stage-1 reference's (3-term spine)
        A = full.stages["attn.%d" % (cfg["L"] - 1)]
        assert max_diff(lattice(w, A, SPINE3_LEVELS, spine3(cfg["Lmax"])),
                        mg.lattice(w, A)) <= SELF_TOL, name

    for mode, toks in greedy_toks.items():
        if toks:
            path = "%s/%s.greedy.txt" % (name, mode)
            with open(os.path.join(outdir, path), "w") as f:
                f.write(",".join(str(t) for t in toks) + "\n")
            manifest.append("%s %d greedy - %s 1 %d" % (mode, cfg["greedy_S"], path, N_GREEDY))

    with open(os.path.join(outdir, name + ".cases.txt"), "w") as f:
        f.write("# %s: mode S kind stage path rows cols (see README.md)\n" % name)
        f.write("\n".join(manifest) + "\n")
    with open(os.path.join(ddir, "decisions.txt"), "w") as f:
        f.write("# %s: the discrete decisions of every shipped case (see README.md)\n" % name)
        f.write("\n".join(decisions) + "\n")
    size = os.path.getsize(os.path.join(outdir, name + ".safetensors"))
    head_line = ("%s: %s %s V=%d D=%d nh=%d L=%d Lmax=%d Hz=%d; %d tensors, %d bytes; "
                 "max|logit| %.3g; %.0f s" % (name, arch, cfg["dtype"], cfg["V"], cfg["D"],
                                              cfg["nh"], cfg["L"], cfg["Lmax"], cfg["Hz"],
                                              len(w.cfg["order"]), size, amax, time.time() - t0))
    return "\n".join([head_line] + logs)


def build_star(args):
    return build(*args)


def main(argv):
    outdir = os.path.dirname(os.path.abspath(__file__))
    jobs = 2
    only = None
    i = 1
    while i < len(argv):
        if argv[i] == "--out":
            outdir = argv[i + 1]
        elif argv[i] == "--jobs":
            jobs = int(argv[i + 1])
        elif argv[i] == "--only":
            only = argv[i + 1]
        else:
            print("usage: make_golden_stage2.py [--out DIR] [--jobs N] [--only NAME]",
                  file=sys.stderr)
            return 2
        i += 2
    os.makedirs(outdir, exist_ok=True)
    models = [m for m in MODELS if only is None or m["name"] == only]
    t0 = time.time()
    work = [(m, outdir) for m in models]
    if jobs > 1:
        with Pool(jobs) as pool:
            for text in pool.imap(build_star, work):
                print(text, flush=True)
    else:
        for item in work:
            print(build_star(item), flush=True)
    print("total %.0f s" % (time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
