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
    int D, nh, Lb, Lt, max_seq_len, key_blocks;
    float *kcache;            /* [L][nh][key_blocks][hd][16]: see hst_kcache_store */
    float *vcache;            /* [L][Lmax][D], head h at columns h*hd.. */
    float *kstage;            /* [Lmax][D]: new K rows before the transpose */
    float *x, *a, *q, *att;   /* [Lmax][D] */
    float *hidden;            /* [Lmax][4D] */
    hst_lattice_state *lattice;
} ab_state;

static void state_free(void *state)
{
    ab_state *st = state;
    if (!st)
        return;
    float *bufs[] = {st->kcache, st->vcache, st->kstage, st->x, st->a, st->q, st->att, st->hidden};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
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
    const size_t Lmax = (size_t)c->max_seq_len, D = (size_t)c->d_model, L = (size_t)c->n_layers;
    int failed = 0;
    st->D = c->d_model;
    st->nh = c->n_heads;
    st->Lb = c->n_layers / 2;
    st->Lt = c->n_layers - st->Lb;
    st->max_seq_len = c->max_seq_len;
    st->key_blocks = hst_kv_key_blocks(c->max_seq_len);
    st->kcache = hst_alloc_floats(L * hst_kv_k_floats(c->d_model, c->max_seq_len), &failed);
    st->vcache = hst_alloc_floats(L * hst_kv_v_floats(c->d_model, c->max_seq_len), &failed);
    st->kstage = hst_alloc_floats(Lmax * D, &failed);
    st->x = hst_alloc_floats(Lmax * D, &failed);
    st->a = hst_alloc_floats(Lmax * D, &failed);
    st->q = hst_alloc_floats(Lmax * D, &failed);
    st->att = hst_alloc_floats(Lmax * D, &failed);
    st->hidden = hst_alloc_floats(Lmax * 4 * D, &failed);
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
static uint64_t state_bytes(const hst_config *c)
{
    uint64_t per_layer = hst_kv_k_floats(c->d_model, c->max_seq_len) + hst_kv_v_floats(c->d_model, c->max_seq_len);
    return per_layer * c->n_layers * sizeof(float);
}

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

static void preblock(const ab_runtime *rt, ab_state *st, hst_pool *pool, int b, int n, int t0)
{
    hst_block_io io = {pool, st->D, st->nh, st->key_blocks, st->x, st->a, st->q, st->kstage, st->att, st->hidden,
                       st->kcache + (size_t)b * hst_kv_k_floats(st->D, st->max_seq_len),
                       st->vcache + (size_t)b * hst_kv_v_floats(st->D, st->max_seq_len)};
    hst_preblock_run(&rt->blocks[b], &io, n, t0);
}

/* Spec 4.1: x_i = E[id_i] + P[t_i]. */
static void embed(const ab_runtime *rt, ab_state *st, const int *ids, int n, int t0)
{
    const int D = st->D;
    for (int i = 0; i < n; i++) {
        const float *e = rt->tok_emb + (size_t)ids[i] * D, *p = rt->pos_emb + (size_t)(t0 + i) * D;
        float *x = st->x + (size_t)i * D;
        for (int d = 0; d < D; d++)
            x[d] = e[d] + p[d];
    }
}

/* ln_f and lm_head over the rows the caller wants (spec 4.5). */
static void head(const ab_runtime *rt, ab_state *st, hst_pool *pool, int first_row, int n_rows, int V, float *logits)
{
    const int D = st->D;
    hst_layernorm_rows(pool, st->x + (size_t)first_row * D, D, st->a, D, rt->lnf_g, rt->lnf_b, n_rows, D, 0);
    hst_matmul(pool, st->a, n_rows, D, &rt->head, NULL, logits, V, HST_EPI_NONE);
}

/* A stage named like its section ("bottom.2"); formatted only when a hook listens. */
static void stage_block(const hst_session *s, const char *stack, int i, const float *x, int n)
{
    if (!s->stage_fn)
        return;
    char name[HST_SECTION_NAME_BYTES];
    snprintf(name, sizeof name, "%s.%d", stack, i);
    hst_stage(s, name, x, n, s->cfg.d_model);
}

static int forward(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err)
{
    (void)err;
    const ab_runtime *rt = s->model->runtime;
    ab_state *st = s->state;
    const int t0 = s->pos, D = st->D;
    hst_section_clock clk;
    hst_section_start(s, &clk);
    embed(rt, st, ids, n, t0);
    hst_section_done(&clk, 0);
    hst_stage(s, "embed", st->x, n, D);
    const double block_flops = hst_preblock_flops(D, n, t0);
    for (int b = 0; b < st->Lb; b++) {
        preblock(rt, st, s->pool, b, n, t0);
        hst_section_done(&clk, block_flops);
        stage_block(s, "bottom", b, st->x, n);
    }
    hst_section_done(&clk, hst_lattice_run(rt->lattice, st->lattice, s->pool, st->x, n, t0));
    hst_stage(s, "lattice", st->x, n, D);
    for (int j = 0; j < st->Lt; j++) {
        preblock(rt, st, s->pool, st->Lb + j, n, t0);
        hst_section_done(&clk, block_flops);
        stage_block(s, "top", j, st->x, n);
    }
    hst_stage(s, "hidden", st->x, n, D);
    int rows = 0;
    if (logits) {
        rows = all_logits ? n : 1;
        head(rt, st, s->pool, n - rows, rows, s->cfg.vocab_size, logits);
    }
    hst_section_done(&clk, 2.0 * D * s->cfg.vocab_size * rows);
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
