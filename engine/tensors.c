/* tensors.c — the tensor table of every arch: each tensor's name, shape, flags
 * and random-init distribution, in canonical order (spec 4.6, 6, 8; 12.C.4,
 * 12.D.4, 12.E.4 and their name lists). Loading, saving, counting and random
 * initialisation all follow this one table. */
#include "engine/lattice.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    hst_tensor_spec *v;
    int n, cap;
    int oom;
} spec_list;

static void add(spec_list *l, unsigned flags, hst_init_kind init, double scale, int ndim,
                const int64_t *shape, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Appends one tensor; scale is a of U(-a, a) or s of N(0, s²) (spec 8). */
static void add(spec_list *l, unsigned flags, hst_init_kind init, double scale, int ndim,
                const int64_t *shape, const char *fmt, ...)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        hst_tensor_spec *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    hst_tensor_spec *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= (uint64_t)shape[i];
    }
    t->flags = flags;
    t->init = init;
    t->init_scale = scale;
}

/* Common shapes of PyTorch modules. Linear: weight U(±1/√in), bias likewise (spec 8). */
static void add_linear(spec_list *l, unsigned fl, int64_t out, int64_t in, int bias, const char *prefix)
{
    int64_t w[2] = {out, in}, b[1] = {out};
    double bound = 1.0 / sqrt((double)in);
    add(l, fl, HST_INIT_UNIFORM, bound, 2, w, "%s.weight", prefix);
    if (bias)
        add(l, fl, HST_INIT_UNIFORM, bound, 1, b, "%s.bias", prefix);
}

static void add_layernorm(spec_list *l, unsigned fl, int64_t n, const char *prefix)
{
    int64_t s[1] = {n};
    add(l, fl, HST_INIT_ONES, 0, 1, s, "%s.weight", prefix);
    add(l, fl, HST_INIT_ZEROS, 0, 1, s, "%s.bias", prefix);
}

/* nn.Embedding: N(0, 1) (spec 8). */
static void add_embedding(spec_list *l, unsigned fl, int64_t rows, int64_t d, const char *name)
{
    int64_t s[2] = {rows, d};
    add(l, fl, HST_INIT_NORMAL, 1.0, 2, s, "%s", name);
}

/* nn.MultiheadAttention's packed projections (spec 8). */
static void add_mha(spec_list *l, unsigned fl, int64_t D, const char *prefix)
{
    int64_t in_w[2] = {3 * D, D}, in_b[1] = {3 * D}, out_w[2] = {D, D}, out_b[1] = {D};
    add(l, fl, HST_INIT_UNIFORM, sqrt(6.0 / (4.0 * (double)D)), 2, in_w, "%s.in_proj_weight", prefix);
    add(l, fl, HST_INIT_ZEROS, 0, 1, in_b, "%s.in_proj_bias", prefix);
    add(l, fl, HST_INIT_UNIFORM, 1.0 / sqrt((double)D), 2, out_w, "%s.out_proj.weight", prefix);
    add(l, fl, HST_INIT_ZEROS, 0, 1, out_b, "%s.out_proj.bias", prefix);
}

/* GRU / LSTM tensors: U(±1/√hidden) (spec 8). nn.GRU and nn.LSTM name them
 * weight_ih_l0, ...; nn.GRUCell (v8's feedback loop, 12.E.2.7) without "_l0". */
static void add_rnn(spec_list *l, unsigned fl, int64_t gates, int64_t in, int64_t hidden, const char *prefix,
                    const char *layer)
{
    double bound = 1.0 / sqrt((double)hidden);
    int64_t ih[2] = {gates, in}, hh[2] = {gates, hidden}, b[1] = {gates};
    add(l, fl, HST_INIT_UNIFORM, bound, 2, ih, "%s.weight_ih%s", prefix, layer);
    add(l, fl, HST_INIT_UNIFORM, bound, 2, hh, "%s.weight_hh%s", prefix, layer);
    add(l, fl, HST_INIT_UNIFORM, bound, 1, b, "%s.bias_ih%s", prefix, layer);
    add(l, fl, HST_INIT_UNIFORM, bound, 1, b, "%s.bias_hh%s", prefix, layer);
}

static void add_conv3x3(spec_list *l, unsigned fl, int64_t out, int64_t in, const char *prefix)
{
    double bound = 1.0 / sqrt(9.0 * (double)in);
    int64_t w[4] = {out, in, 3, 3}, b[1] = {out};
    add(l, fl, HST_INIT_UNIFORM, bound, 4, w, "%s.weight", prefix);
    add(l, fl, HST_INIT_UNIFORM, bound, 1, b, "%s.bias", prefix);
}

/* The PreBlock of spec 4.2, in the document's order. */
static void add_preblock(spec_list *l, unsigned fl, int64_t D, const char *prefix)
{
    char p[96];
    static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s.attn.%s", prefix, proj[i]);
        add_linear(l, fl, D, D, 0, p);
    }
    snprintf(p, sizeof p, "%s.norm1", prefix);
    add_layernorm(l, fl, D, p);
    snprintf(p, sizeof p, "%s.linear1", prefix);
    add_linear(l, fl, 4 * D, D, 1, p);
    snprintf(p, sizeof p, "%s.linear2", prefix);
    add_linear(l, fl, D, 4 * D, 1, p);
    snprintf(p, sizeof p, "%s.norm2", prefix);
    add_layernorm(l, fl, D, p);
}

/* An I64 spine buffer: optional, must hold the spine when present (spec 6, 9.4). */
static void add_spine_buffer(spec_list *l, hst_spine_kind kind, int max_seq_len, const char *name)
{
    int64_t spine[HST_SPINE_MAX];
    int64_t s[1] = {hst_spine_of(kind, max_seq_len, spine)};
    add(l, HST_T_BUFFER | HST_T_I64, kind == HST_SPINE_2TERM ? HST_INIT_SPINE2 : HST_INIT_SPINE3, 0, 1, s, "%s",
        name);
}

/* lattice_core (spec 4.4, 4.6, 6) with its spine buffers; only the level
 * transforms of reachable level counts m are on the next-token path (spec 7). */
static void add_lattice(spec_list *l, int64_t D, int max_seq_len, hst_spine_kind kind)
{
    const unsigned req = HST_T_REQUIRED, nt = HST_T_REQUIRED | HST_T_NEXT_TOKEN;
    const unsigned reachable = hst_spine_reachable_levels(kind, max_seq_len);
    char p[96];
    add_spine_buffer(l, kind, max_seq_len, "lattice_core.multi_level.analyzer.spine");
    for (int m = 0; m < HST_LATTICE_LEVELS; m++) {
        unsigned fl = (reachable >> m) & 1u ? nt : req;
        snprintf(p, sizeof p, "lattice_core.multi_level.level_transforms.%d.0", m);
        add_linear(l, fl, D, D, 1, p);
        snprintf(p, sizeof p, "lattice_core.multi_level.level_transforms.%d.1", m);
        add_layernorm(l, fl, D, p);
        snprintf(p, sizeof p, "lattice_core.multi_level.level_transforms.%d.3", m);
        add_linear(l, fl, D, D, 1, p);
    }
    add_mha(l, nt, D, "lattice_core.multi_level.level_attention");
    add_linear(l, nt, D, 2 * D, 1, "lattice_core.multi_level.fusion.0");
    add_layernorm(l, nt, D, "lattice_core.multi_level.fusion.1");
    add_spine_buffer(l, kind, max_seq_len, "lattice_core.path_weighted.analyzer.spine");
    add_linear(l, nt, HST_LATTICE_PATH_NET_WIDTH, 1, 1, "lattice_core.path_weighted.path_weight_net.0");
    add_linear(l, nt, 1, HST_LATTICE_PATH_NET_WIDTH, 1, "lattice_core.path_weighted.path_weight_net.2");
    add_linear(l, nt, D, 2 * D, 1, "lattice_core.path_weighted.message_fn.0");
    add_layernorm(l, nt, D, "lattice_core.path_weighted.message_fn.1");
    add_rnn(l, nt, 3 * D, D, D, "lattice_core.path_weighted.aggregate_fn", "_l0");
    add_linear(l, nt, D, 2 * D, 1, "lattice_core.path_weighted.update_gate.0");
    add_linear(l, nt, 2 * D, 3 * D, 1, "lattice_core.meta_fusion.0");
    add_layernorm(l, nt, 2 * D, "lattice_core.meta_fusion.1");
    add_linear(l, nt, D, 2 * D, 1, "lattice_core.meta_fusion.3");
}

static void add_harmonic_head(spec_list *l, const hst_config *c)
{
    const int64_t D = c->d_model, V = c->vocab_size, Hz = c->horizon;
    const unsigned fl = HST_T_HORIZON;
    add_linear(l, fl, Hz * D, D, 1, "harmonic_horizon_predictor.horizon_projection");
    add_linear(l, fl, V, D, 0, "harmonic_horizon_predictor.prediction_head");
    add_linear(l, fl, D / 4, D, 1, "harmonic_horizon_predictor.confidence_head.0");
    add_linear(l, fl, Hz, D / 4, 1, "harmonic_horizon_predictor.confidence_head.2");
}

static void add_recursive_head(spec_list *l, const hst_config *c)
{
    const int64_t D = c->d_model, V = c->vocab_size;
    const unsigned fl = HST_T_HORIZON;
    add_linear(l, fl, V, D, 1, "horizon_predictor.coarse_predictor");
    add_linear(l, fl, V, 2 * D, 1, "horizon_predictor.medium_predictor");
    add_linear(l, fl, V, 2 * D, 1, "horizon_predictor.fine_predictor");
    add_embedding(l, fl, 20, D, "horizon_predictor.lattice_embeddings.weight");
    add_linear(l, fl, D, V, 1, "horizon_predictor.projection");
}

/* task_analyzer and depth_pred, never called (spec 6, 12.C.4, 12.D.4, 12.E.4):
 * under adaptive_bottom. in v6.1 and v7.0, at the top level in v7.1 and v8. */
static void add_task_analyzer(spec_list *l, int64_t D, const char *prefix)
{
    char p[96];
    snprintf(p, sizeof p, "%stask_analyzer.embed", prefix);
    add_linear(l, 0, D, D, 1, p);
    snprintf(p, sizeof p, "%stask_analyzer.classifier", prefix);
    add_linear(l, 0, 4, D, 1, p);
    snprintf(p, sizeof p, "%sdepth_pred.net.0", prefix);
    add_linear(l, 0, 8, 4, 1, p);
    snprintf(p, sizeof p, "%sdepth_pred.net.2", prefix);
    add_linear(l, 0, 1, 8, 1, p);
}

/* The speculative verifier, never called (spec 6): `layers` decoder layers
 * with a 2048-wide FFN, whatever D. */
static void add_verifier(spec_list *l, int64_t D, int64_t V, int64_t Hz, int layers)
{
    char p[96];
    add_embedding(l, 0, V, D, "speculative_verifier.embed.weight");
    for (int j = 0; j < layers; j++) {
        snprintf(p, sizeof p, "speculative_verifier.layers.%d.self_attn", j);
        add_mha(l, 0, D, p);
        snprintf(p, sizeof p, "speculative_verifier.layers.%d.multihead_attn", j);
        add_mha(l, 0, D, p);
        snprintf(p, sizeof p, "speculative_verifier.layers.%d.linear1", j);
        add_linear(l, 0, 2048, D, 1, p);
        snprintf(p, sizeof p, "speculative_verifier.layers.%d.linear2", j);
        add_linear(l, 0, D, 2048, 1, p);
        for (int k = 1; k <= 3; k++) {
            snprintf(p, sizeof p, "speculative_verifier.layers.%d.norm%d", j, k);
            add_layernorm(l, 0, D, p);
        }
    }
    add_linear(l, 0, Hz * V, D, 1, "speculative_verifier.proj");
    add_linear(l, 0, 1, D, 1, "speculative_verifier.conf_gate.0");
}

static void add_v61_tail_extras(spec_list *l, const hst_config *c)
{
    const int64_t D = c->d_model;
    int64_t basis[2] = {D, D};
    add_linear(l, 0, D / 2, D, 1, "reasoning_head.residual_mlp.0");
    add_linear(l, 0, 1, D / 2, 1, "reasoning_head.residual_mlp.2");
    add(l, 0, HST_INIT_IDENTITY, 0, 2, basis, "continual_updater.basis");
    add_linear(l, 0, D / 20, D, 1, "continual_updater.sparse_proj");
    add_rnn(l, 0, 4 * D, 192, D, "multi_agent_controller.world_model", "_l0");
    add_linear(l, 0, 64, D, 1, "multi_agent_controller.policy");
    add_conv3x3(l, 0, 2 * D, D, "video_diffusion.unet.0");
    add_conv3x3(l, 0, D, 2 * D, "video_diffusion.unet.2");
    add_embedding(l, 0, 1000, D, "video_diffusion.time_embed.weight");
    add_verifier(l, D, c->vocab_size, c->horizon, c->n_layers - c->n_layers / 2);
}

/* ---- Cores A and B (spec 4.6, 6) ------------------------------------------------ */

static void table_core_ab(spec_list *l, const hst_config *c)
{
    const unsigned nt = HST_T_REQUIRED | HST_T_NEXT_TOKEN;
    const int64_t D = c->d_model;
    const int Lb = c->n_layers / 2, Lt = c->n_layers - Lb;
    const int v61 = c->arch == HST_ARCH_V6_1;
    char p[96];

    add_embedding(l, nt, c->vocab_size, D, "token_embedding.weight");
    add_embedding(l, nt, c->max_seq_len, D, "pos_embedding.weight");
    for (int i = 0; i < Lb; i++) {
        if (v61) {
            snprintf(p, sizeof p, "adaptive_bottom.layers.%d", i);
            add_preblock(l, nt, D, p);
        } else {
            snprintf(p, sizeof p, "adaptive_bottom.%d.block", i);
            add_preblock(l, nt, D, p);
            snprintf(p, sizeof p, "adaptive_bottom.%d.confidence_predictor.2", i);
            add_linear(l, HST_T_REQUIRED, 1, D, 1, p);
        }
    }
    if (v61)
        add_task_analyzer(l, D, "adaptive_bottom.");
    add_lattice(l, D, c->max_seq_len, HST_SPINE_3TERM);
    for (int j = 0; j < Lt; j++) {
        snprintf(p, sizeof p, "top_stack.%d", j);
        add_preblock(l, nt, D, p);
    }
    if (c->arch == HST_ARCH_V3 || c->arch == HST_ARCH_V4)
        add_harmonic_head(l, c);
    else
        add_recursive_head(l, c);
    add_linear(l, nt, c->vocab_size, D, 0, "lm_head");
    add_layernorm(l, nt, D, "ln_f");
    if (v61)
        add_v61_tail_extras(l, c);
}

/* ---- modules of the stage-2 cores (spec 12) ----------------------------------------- */

/* nn.TransformerEncoderLayer (PyTorch's order): self-attention, FFN of width
 * ff, two LayerNorms. Post-norm in v7.0's processors and v7.1's multi-res
 * layers (FF 2048), norm-first in v8's shared multi-res layer (FF 4D). */
static void add_encoder_layer(spec_list *l, unsigned fl, int64_t D, int64_t ff, const char *prefix)
{
    char p[128];
    snprintf(p, sizeof p, "%s.self_attn", prefix);
    add_mha(l, fl, D, p);
    snprintf(p, sizeof p, "%s.linear1", prefix);
    add_linear(l, fl, ff, D, 1, p);
    snprintf(p, sizeof p, "%s.linear2", prefix);
    add_linear(l, fl, D, ff, 1, p);
    snprintf(p, sizeof p, "%s.norm1", prefix);
    add_layernorm(l, fl, D, p);
    snprintf(p, sizeof p, "%s.norm2", prefix);
    add_layernorm(l, fl, D, p);
}

/* Modules v7.1 and v8 construct and never call (12.D.2.6, 12.E.2): after the verifier. */
static void add_cache_manager(spec_list *l, int64_t D)
{
    add_linear(l, 0, 256, 2 * D, 1, "cache_manager.importance_net.0");
    add_linear(l, 0, 1, 256, 1, "cache_manager.importance_net.2");
}

/* memory.* (training only): float buffers, never read, values unchecked, zeros at init (12.0). */
static void add_memory(spec_list *l, int64_t D)
{
    const unsigned fl = HST_T_BUFFER | HST_T_UNCHECKED;
    int64_t rows[2] = {10000, D}, importance[1] = {10000};
    add(l, fl, HST_INIT_ZEROS, 0, 2, rows, "memory.memory");
    add(l, fl, HST_INIT_ZEROS, 0, 1, importance, "memory.importance");
}

static void add_loss_weighting(spec_list *l)
{
    int64_t n[1] = {4};
    add(l, 0, HST_INIT_ZEROS, 0, 1, n, "loss_weighting.log_vars");
}

/* ---- Core C, v7.0 (12.C.4, 12.C.5) -------------------------------------------------- */

#define V70_PROCESSORS 10   /* lattice_core.layer_processors.0..9 (12.C.1) */
#define V70_PROCESSOR_FF 2048
#define V70_ROUTER_WIDTH 256

static void table_v70(spec_list *l, const hst_config *c)
{
    const unsigned nt = HST_T_REQUIRED | HST_T_NEXT_TOKEN;
    const int64_t D = c->d_model;
    const int Lb = c->n_layers / 2, Lt = c->n_layers - Lb;
    int64_t ten[1] = {V70_PROCESSORS};
    char p[96];
    add_embedding(l, nt, c->vocab_size, D, "token_embedding.weight");
    add_embedding(l, nt, c->max_seq_len, D, "pos_embedding.weight");
    for (int i = 0; i < Lb; i++) {
        snprintf(p, sizeof p, "adaptive_bottom.layers.%d", i);
        add_preblock(l, nt, D, p);
    }
    add_task_analyzer(l, D, "adaptive_bottom.");
    add(l, 0, HST_INIT_ONES, 0, 1, ten, "lattice_core.analyzer.layer_weights");
    add_spine_buffer(l, HST_SPINE_3TERM, c->max_seq_len, "lattice_core.analyzer.spine");
    for (int k = 0; k < V70_PROCESSORS; k++) {
        snprintf(p, sizeof p, "lattice_core.layer_processors.%d", k);
        add_encoder_layer(l, nt, D, V70_PROCESSOR_FF, p);
    }
    add_linear(l, nt, V70_ROUTER_WIDTH, D, 1, "lattice_core.task_router.0");
    add_linear(l, nt, V70_PROCESSORS, V70_ROUTER_WIDTH, 1, "lattice_core.task_router.2");
    for (int j = 0; j < Lt; j++) {
        snprintf(p, sizeof p, "top_stack.%d", j);
        add_preblock(l, nt, D, p);
    }
    add_recursive_head(l, c);
    add_linear(l, nt, c->vocab_size, D, 0, "lm_head");
    add_layernorm(l, nt, D, "ln_f");
    add_verifier(l, D, c->vocab_size, c->horizon, Lt);
}

/* ---- Core D, v7.1 (12.D.4, 12.D.5) -------------------------------------------------- */

#define V71_MULTIRES_FF 2048
#define V71_EXPERTS 8
#define V71_ROUTER_WIDTH 512
#define V71_BLOCK_ROUTER_WIDTH 128

/* The horizon head: 64 rows of offsets (4 near, 16 mid, 44 far) whatever Hz (12.D.9). */
static void add_v71_horizon(spec_list *l, int64_t D, int64_t V)
{
    const unsigned fl = HST_T_HORIZON;
    add_linear(l, fl, D / 4, D, 1, "horizon_predictor.uncertainty_head.0");
    add_linear(l, fl, 1, D / 4, 1, "horizon_predictor.uncertainty_head.2");
    add_linear(l, fl, 4 * V, D, 1, "horizon_predictor.predictors.near");
    add_linear(l, fl, 16 * V, D, 1, "horizon_predictor.predictors.mid");
    add_linear(l, fl, 44 * V, D, 1, "horizon_predictor.predictors.far");
}

static void table_v71(spec_list *l, const hst_config *c)
{
    const unsigned nt = HST_T_REQUIRED | HST_T_NEXT_TOKEN;
    const int64_t D = c->d_model;
    char p[96];
    add_embedding(l, nt, c->vocab_size, D, "token_embedding.weight");
    add_spine_buffer(l, HST_SPINE_3TERM, c->max_seq_len, "pos_encoding.spine");
    add_linear(l, nt, D / 2, 3, 1, "pos_encoding.lattice_encoder.0");
    add_layernorm(l, nt, D / 2, "pos_encoding.lattice_encoder.1");
    add_lattice(l, D, c->max_seq_len, HST_SPINE_3TERM);
    add_v71_horizon(l, D, c->vocab_size);
    add_linear(l, nt, c->vocab_size, D, 0, "lm_head");
    add_layernorm(l, nt, D, "ln_f");
    add_verifier(l, D, c->vocab_size, c->horizon, c->n_layers);
    add_task_analyzer(l, D, "");
    for (int i = 0, r = 1; i < 4; i++, r *= 2) {
        /* Resolution r is read once a call has r rows (12.D.2.2): never when r > Lmax. */
        snprintf(p, sizeof p, "multi_res.processors.%d", i);
        add_encoder_layer(l, r <= c->max_seq_len ? nt : HST_T_REQUIRED, D, V71_MULTIRES_FF, p);
    }
    add_linear(l, nt, 2 * D, 4 * D, 1, "multi_res.fusion.0");
    add_layernorm(l, nt, 2 * D, "multi_res.fusion.1");
    add_linear(l, nt, D, 2 * D, 1, "multi_res.fusion.3");
    add_linear(l, nt, V71_ROUTER_WIDTH, D, 1, "sparse_router.router.0");
    add_linear(l, nt, V71_EXPERTS, V71_ROUTER_WIDTH, 1, "sparse_router.router.2");
    for (int e = 0; e < V71_EXPERTS; e++) {
        snprintf(p, sizeof p, "sparse_router.experts.%d.0", e);
        add_linear(l, nt, 4 * D, D, 1, p);
        snprintf(p, sizeof p, "sparse_router.experts.%d.2", e);
        add_linear(l, nt, D, 4 * D, 1, p);
    }
    for (int k = 0; k < c->n_layers; k++) {
        snprintf(p, sizeof p, "attention_layers.%d.block_router.0", k);
        add_linear(l, nt, V71_BLOCK_ROUTER_WIDTH, D, 1, p);
        snprintf(p, sizeof p, "attention_layers.%d.block_router.2", k);
        add_linear(l, nt, 1, V71_BLOCK_ROUTER_WIDTH, 1, p);
        snprintf(p, sizeof p, "attention_layers.%d.qkv", k);
        add_linear(l, nt, 3 * D, D, 0, p);
        snprintf(p, sizeof p, "attention_layers.%d.out_proj", k); /* a plain Linear: its bias is drawn */
        add_linear(l, nt, D, D, 1, p);
    }
    add_cache_manager(l, D);
    add_memory(l, D);
    add_loss_weighting(l);
}

/* ---- Core E, v8 (12.E.4) --------------------------------------------------------------- */

#define V8_EXPERTS 8
#define V8_UNCERTAINTY_WIDTH 64

/* The experts as two 3-D tensors, xavier-uniform with PyTorch's fans for 3-D
 * tensors: fan_in = size1·size2, fan_out = size0·size2 (12.E.4). */
static void add_v8_experts(spec_list *l, unsigned fl, int64_t D)
{
    int64_t up[3] = {V8_EXPERTS, 4 * D, D}, down[3] = {V8_EXPERTS, D, 4 * D};
    add(l, fl, HST_INIT_UNIFORM, sqrt(6.0 / (double)(up[1] * up[2] + up[0] * up[2])), 3, up, "sparse_router.expert_up");
    add(l, fl, HST_INIT_UNIFORM, sqrt(6.0 / (double)(down[1] * down[2] + down[0] * down[2])), 3, down,
        "sparse_router.expert_down");
}

static void add_v8_layer(spec_list *l, int64_t D, int k)
{
    const unsigned nt = HST_T_REQUIRED | HST_T_NEXT_TOKEN;
    char p[96];
    snprintf(p, sizeof p, "attention_layers.%d.self_attn.qkv", k);
    add_linear(l, nt, 3 * D, D, 0, p);
    snprintf(p, sizeof p, "attention_layers.%d.self_attn.out_proj", k);
    add_linear(l, nt, D, D, 0, p);
    snprintf(p, sizeof p, "attention_layers.%d.cross_attn", k);
    add_mha(l, nt, D, p);
    snprintf(p, sizeof p, "attention_layers.%d.diamond_mixer.split_proj", k);
    add_linear(l, nt, 2 * D, D, 1, p);
    snprintf(p, sizeof p, "attention_layers.%d.diamond_mixer.merge_proj", k);
    add_linear(l, nt, D, 2 * D, 1, p);
    snprintf(p, sizeof p, "attention_layers.%d.diamond_mixer.norm", k);
    add_layernorm(l, nt, D, p);
    for (int n = 1; n <= 2; n++) {
        snprintf(p, sizeof p, "attention_layers.%d.norm%d", k, n);
        add_layernorm(l, nt, D, p);
    }
    /* On the path as a module, never applied (12.E.2.5): required, not read. */
    snprintf(p, sizeof p, "attention_layers.%d.norm3", k);
    add_layernorm(l, HST_T_REQUIRED, D, p);
}

static void table_v8(spec_list *l, const hst_config *c)
{
    const unsigned nt = HST_T_REQUIRED | HST_T_NEXT_TOKEN;
    const int64_t D = c->d_model, V = c->vocab_size, Hz = c->horizon;
    int64_t table[2] = {V, D}, pe[2] = {c->max_seq_len, D};
    const int token_table = l->n;
    add(l, nt, HST_INIT_NORMAL, 0.01, 2, table, "token_embedding.embed.weight");
    /* Used as stored: the original's float32 table is part of the weights (12.E.2.1). */
    add(l, HST_T_BUFFER | HST_T_REQUIRED, HST_INIT_SINUSOID, 0, 2, pe, "pos_encoding.pe");
    add_lattice(l, D, c->max_seq_len, HST_SPINE_2TERM);
    add_linear(l, HST_T_HORIZON, 2 * D, D, 1, "horizon_predictor.predictor.0");
    add_linear(l, HST_T_HORIZON, Hz * V, 2 * D, 1, "horizon_predictor.predictor.2");
    add_linear(l, HST_T_HORIZON, V8_UNCERTAINTY_WIDTH, D, 1, "horizon_predictor.uncertainty.0");
    add_linear(l, HST_T_HORIZON, 1, V8_UNCERTAINTY_WIDTH, 1, "horizon_predictor.uncertainty.2");
    add(l, HST_T_TIED, HST_INIT_TIED, 0, 2, table, "lm_head.weight");
    if (!l->oom)
        l->v[l->n - 1].tie_to = token_table;
    add_layernorm(l, nt, D, "ln_f");
    add_verifier(l, D, V, Hz, c->n_layers);
    add_task_analyzer(l, D, "");
    add_encoder_layer(l, nt, D, 4 * D, "multi_res.processor");
    add_linear(l, nt, D, 4 * D, 1, "multi_res.fusion.0");
    add_layernorm(l, nt, D, "multi_res.fusion.1");
    add_v8_experts(l, nt, D);
    add_linear(l, nt, V8_EXPERTS, D, 1, "sparse_router.router");
    for (int k = 0; k < c->n_layers; k++)
        add_v8_layer(l, D, k);
    add_cache_manager(l, D);
    add_memory(l, D);
    add_loss_weighting(l);
    add_linear(l, nt, 3 * D, D, 0, "plasticity.qkv");
    add_layernorm(l, nt, D, "plasticity.norm");
    add_rnn(l, nt, 3 * D, D, D, "feedback_loop.loop_net", "");
    add_linear(l, nt, 1, D, 1, "feedback_loop.error_estimator");
}

int hst_tensor_specs(const hst_config *c, hst_tensor_spec **specs, int *n, hst_error *err)
{
    if (hst_config_check(c, err) != 0)
        return -1;
    spec_list l = {0};
    switch (hst_arch_core(c->arch)) {
    case 'C': table_v70(&l, c); break;
    case 'D': table_v71(&l, c); break;
    case 'E': table_v8(&l, c); break;
    default: table_core_ab(&l, c); break;
    }
    if (l.oom) {
        free(l.v);
        hst_set_error(err, "config: out of memory building the tensor table");
        return -1;
    }
    *specs = l.v;
    *n = l.n;
    return 0;
}

int hst_spec_find(const hst_tensor_spec *specs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(specs[i].name, name) == 0)
            return i;
    return -1;
}

const char *hst_spec_group(const hst_tensor_spec *spec)
{
    if (spec->flags & HST_T_TIED)
        return "tied";
    if (spec->flags & HST_T_BUFFER)
        return "buffer";
    if (spec->flags & HST_T_NEXT_TOKEN)
        return "next_token";
    return (spec->flags & HST_T_HORIZON) ? "horizon" : "never_read";
}
