/* core_ab.c — Cores A and B (archs v3, v4, v5.2, v6, v6.1): the next-token
 * forward pass of spec 4 with a KV cache (spec 5), its timer sections (spec
 * 10) and its figures (spec 11). Both are causal as written, so the two modes
 * of spec 12.0 are the same computation here. One function per op; the
 * session's buffers are allocated once, in state_create. */
#include "engine/lattice.h"
#include "engine/preblock.h"

#include "engine/rowops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the runtime view of a model: resolved pointers and packed weights ---- */

typedef struct {
    hst_block_rt *blocks; /* [L]: bottom 0..Lb-1, then top 0..Lt-1 */
    const float *tok_emb, *pos_emb;
    hst_lattice *lattice;
    const float *lnf_g, *lnf_b;
    hst_packed head;
} ab_runtime;

static void runtime_free(void *runtime, const hst_config *cfg)
{
    ab_runtime *rt = runtime;
    if (!rt)
        return;
    for (int b = 0; rt->blocks && b < cfg->n_layers; b++)
        hst_block_rt_free(&rt->blocks[b]);
    free(rt->blocks);
    hst_lattice_free(rt->lattice);
    hst_packed_free(&rt->head);
    free(rt);
}

/* Spec 4.3: v6.1 names its bottom blocks adaptive_bottom.layers.{i}. */
static void block_prefix(const hst_config *c, int b, char *prefix, size_t size)
{
    const int Lb = c->n_layers / 2;
    if (b >= Lb)
        snprintf(prefix, size, "top_stack.%d", b - Lb);
    else if (c->arch == HST_ARCH_V6_1)
        snprintf(prefix, size, "adaptive_bottom.layers.%d", b);
    else
        snprintf(prefix, size, "adaptive_bottom.%d.block", b);
}

static void *runtime_build(hst_model *m, hst_precision precision, hst_error *err)
{
    const hst_config *c = &m->cfg;
    const int D = c->d_model, L = c->n_layers;
    ab_runtime *rt = calloc(1, sizeof *rt);
    hst_resolver r = {m, err, 0, precision};
    if (!rt || !(rt->blocks = calloc((size_t)L, sizeof *rt->blocks))) {
        free(rt);
        hst_set_error(err, "%s: out of memory", m->source);
        return NULL;
    }
    rt->tok_emb = hst_resolve(&r, "token_embedding.weight");
    rt->pos_emb = hst_resolve(&r, "pos_embedding.weight");
    char prefix[64];
    for (int b = 0; b < L; b++) {
        block_prefix(c, b, prefix, sizeof prefix);
        hst_block_resolve(&r, &rt->blocks[b], prefix, D);
    }
    rt->lattice = hst_lattice_build(&r, "lattice_core.", HST_SPINE_3TERM);
    rt->lnf_g = hst_resolve(&r, "ln_f.weight");
    rt->lnf_b = hst_resolve(&r, "ln_f.bias");
    hst_resolve_pack_hot(&r, &rt->head, hst_resolve(&r, "lm_head.weight"), c->vocab_size, D);
    if (r.failed) {
        runtime_free(rt, c);
        return NULL;
    }
    return rt;
}

static uint64_t packed_bytes(const void *runtime, const hst_config *cfg)
{
    const ab_runtime *rt = runtime;
    uint64_t bytes = hst_lattice_packed_bytes(rt->lattice) + hst_packed_bytes(&rt->head);
    for (int b = 0; b < cfg->n_layers; b++)
        bytes += hst_block_rt_packed_bytes(&rt->blocks[b]);
    return bytes;
}

/* ---- a session's state ----------------------------------------------------------- */

typedef struct {
    int D, Lb, Lt;
    hst_block_stack stack;    /* the L blocks' KV caches and scratch */
    float *x;                 /* [Lmax][D] */
    hst_lattice_state *lattice;
} ab_state;

static void state_free(void *state)
{
    ab_state *st = state;
    if (!st)
        return;
    hst_block_stack_free(&st->stack);
    free(st->x);
    hst_lattice_state_free(st->lattice);
    free(st);
}

static void *state_create(const hst_model *m, hst_error *err)
{
    const hst_config *c = &m->cfg;
    ab_state *st = calloc(1, sizeof *st);
    if (!st) {
        hst_set_error(err, "session: out of memory");
        return NULL;
    }
    int failed = hst_block_stack_init(&st->stack, c, c->n_layers, c->max_seq_len) != 0;
    st->D = c->d_model;
    st->Lb = c->n_layers / 2;
    st->Lt = c->n_layers - st->Lb;
    st->x = hst_alloc_floats((size_t)c->max_seq_len * (size_t)c->d_model, &failed);
    st->lattice = hst_lattice_state_create(HST_SPINE_3TERM, c->d_model, c->max_seq_len, c->max_seq_len);
    if (failed || !st->lattice) {
        state_free(st);
        hst_set_error(err, "session: out of memory for buffers of %s", m->preset);
        return NULL;
    }
    return st;
}

static void state_reset(void *state)
{
    ab_state *st = state;
    hst_lattice_state_reset(st->lattice);
}

/* The KV caches of the L blocks (spec 5). */
static uint64_t state_bytes(const hst_config *c) { return hst_block_stack_kv_bytes(c, c->n_layers); }

static int section_names(const hst_config *c, char (*names)[HST_SECTION_NAME_BYTES])
{
    const int Lb = c->n_layers / 2, Lt = c->n_layers - Lb;
    int k = hst_section_name(names, 0, "embed");
    for (int i = 0; i < Lb; i++)
        k = hst_section_name(names, k, "bottom.%d", i);
    k = hst_section_name(names, k, "lattice");
    for (int j = 0; j < Lt; j++)
        k = hst_section_name(names, k, "top.%d", j);
    return hst_section_name(names, k, "head");
}

/* ---- the call (spec 4) ------------------------------------------------------------ */

static int forward(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err)
{
    (void)err;
    const ab_runtime *rt = s->model->runtime;
    ab_state *st = s->state;
    const int t0 = s->pos, D = st->D;
    hst_section_clock clk;
    hst_section_start(s, &clk);
    hst_embed_rows(rt->tok_emb, rt->pos_emb, D, ids, n, t0, st->x);
    hst_section_done(&clk, 0);
    hst_stage(s, "embed", st->x, n, D);
    hst_block_stack_sections(s, &clk, &st->stack, rt->blocks, 0, st->Lb, "bottom", st->x, n, t0);
    hst_section_done(&clk, hst_lattice_run(rt->lattice, st->lattice, s->pool, st->x, n, t0));
    hst_stage(s, "lattice", st->x, n, D);
    hst_block_stack_sections(s, &clk, &st->stack, rt->blocks, st->Lb, st->Lt, "top", st->x, n, t0);
    hst_head_section(s, &clk, st->x, n, n, rt->lnf_g, rt->lnf_b, &rt->head, st->stack.a, logits, all_logits);
    return 0;
}

/* ---- figures (spec 11): the same computation in both modes ------------------------ */

/* F(S) = L·(24D² + 2D(S+1)) + 16D² + 2DV + (1/S)·Σ_{processed p<S} 16D²(1 + n_p). */
static double flops_prefill_per_token(const hst_config *c, hst_mode mode, int S)
{
    (void)mode;
    const double D = c->d_model, V = c->vocab_size;
    double rows = c->n_layers * hst_preblock_flops(c->d_model, S, 0) + 16 * D * D * S + 2 * D * V * S;
    return rows / S + hst_lattice_spine_flops(HST_SPINE_3TERM, c->d_model, S, 0) / S;
}

/* F_d(t) = L·(24D² + 4D(t+1)) + 16D² + 2DV + [16D²(1 + n_t) if t is processed]. */
static double flops_decode(const hst_config *c, hst_mode mode, int t)
{
    (void)mode;
    return c->n_layers * hst_preblock_flops(c->d_model, 1, t) + hst_lattice_flops(HST_SPINE_3TERM, c->d_model, 1, t) +
           2.0 * c->d_model * c->vocab_size;
}

/* Weights a non-spine decode step reads: L·blk + meta fusion (8D² + 7D) + VD + 4D floats (spec 11). */
static double next_token_weight_bytes(const hst_config *c)
{
    double D = c->d_model, V = c->vocab_size, L = c->n_layers;
    double blk = 12 * D * D + 9 * D;
    return 4.0 * (L * blk + 8 * D * D + 7 * D + V * D + 4 * D);
}

static double bytes_decode(const hst_config *c, hst_mode mode, int t)
{
    (void)mode;
    return next_token_weight_bytes(c) + 2.0 * c->n_layers * c->d_model * 4.0 * (t + 1);
}

static double bytes_prefill(const hst_config *c, hst_mode mode, int S)
{
    (void)mode;
    return next_token_weight_bytes(c) + 2.0 * c->n_layers * c->d_model * 4.0 * S;
}

const hst_core_ops hst_core_ab = {
    .name = "A/B",
    .runtime_build = runtime_build,
    .runtime_free = runtime_free,
    .packed_bytes = packed_bytes,
    .state_create = state_create,
    .state_free = state_free,
    .state_reset = state_reset,
    .state_bytes = state_bytes,
    .section_names = section_names,
    .forward = forward,
    .flops_prefill_per_token = flops_prefill_per_token,
    .flops_decode = flops_decode,
    .bytes_decode = bytes_decode,
    .bytes_prefill = bytes_prefill,
};
