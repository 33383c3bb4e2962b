/* core_c.c — Core C, v7.0 Agile (arch v7.0; presets hst-v7.0 and its alias
 * hst-chaos, 12.C.9: the same network, so the same code and the same timing):
 * spec 12.C.
 *
 *   x = bottom PreBlocks (embed 4.1, blocks 4.2 with KV caches)
 *   m = mean of the bottom rows; g = σ(router(m)) ∈ R^10
 *   h = x; for l = 0..9: if g_l > 0.1f: h = h + g_l·(PostEnc_l(h) − h)
 *   logits = lm_head(LN_f(top PreBlocks(h)))
 *
 * Two modes (12.0):
 *   parity (12.C.2)  one mean over the whole window 0..t1, one gate vector,
 *                    bidirectional processors; a call recomputes the window
 *                    from the mean on. The bottom stack is causal, so its
 *                    K/V and output rows of earlier calls are kept (the
 *                    shortcut 12.C.2 allows) and only the new rows go
 *                    through it.
 *   causal (12.C.3)  a running mean and a gate vector per row; every row's
 *                    k, v enter processor l's cache whatever the row's
 *                    gate, and only the rows whose gate is on attend (keys
 *                    <= row) and mix. O(t) per decode step.
 *
 * Split invariance (12.0): the running sum is one float32 sum in position
 * order kept across calls, the mean a float32 division, every matmul row
 * and attention row independent of its batch; so the gates, and therefore
 * every row, are bitwise the same whatever the split into calls or the
 * thread count.
 *
 * Stages for tests (hst_stage): "embed", "bottom.i", "bottom", "mean"
 * (width D: causal one row per call row, parity the window's one row),
 * "gates" (width 10), "proc.l", "top.j", "hidden". Parity passes the window
 * from "bottom" on; "embed" and "bottom.i" are the rows this call computed. */
#include "engine/encoder.h"
#include "engine/preblock.h"
#include "engine/rowops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORE_C_PROCESSORS 10 /* lattice_core.layer_processors.0..9 (12.C.1) */
#define CORE_C_HEADS 8       /* the processors' heads, whatever nh (12.C.1) */
#define CORE_C_FF 2048       /* the processors' FFN width, whatever D (12.C.1) */
#define CORE_C_ROUTER 256    /* task_router's hidden width (12.C.1) */
/* 12.C.2: the gate test is g > 0.1 in float32, against 0.1 rounded to float32
 * (0x3DCCCCCD), strict: a gate of exactly 0.1f is off. */
#define CORE_C_GATE_THRESHOLD 0.1f

/* ---- the runtime view of a model ---------------------------------------------------- */

typedef struct {
    hst_block_rt *blocks; /* [L]: bottom 0..Lb-1 (adaptive_bottom.layers.i), then top (top_stack.j) */
    const float *tok_emb, *pos_emb;
    hst_encoder *proc[CORE_C_PROCESSORS];
    hst_packed router1, router2; /* task_router.0 [256, D], task_router.2 [10, 256] */
    const float *router1_b, *router2_b;
    const float *lnf_g, *lnf_b;
    hst_packed head;
} c_runtime;

static void runtime_free(void *runtime, const hst_config *cfg)
{
    c_runtime *rt = runtime;
    if (!rt)
        return;
    for (int b = 0; rt->blocks && b < cfg->n_layers; b++)
        hst_block_rt_free(&rt->blocks[b]);
    free(rt->blocks);
    for (int l = 0; l < CORE_C_PROCESSORS; l++)
        hst_encoder_free(rt->proc[l]);
    hst_packed_free(&rt->router1);
    hst_packed_free(&rt->router2);
    hst_packed_free(&rt->head);
    free(rt);
}

/* Processor l's twelve tensors (12.C.4), resolved; the caller checks r->failed
 * before handing them to hst_encoder_create. */
static void processor_weights(hst_resolver *r, int l, hst_encoder_weights *w)
{
    const char *p = "lattice_core.layer_processors";
    w->in_proj_weight = hst_resolve(r, "%s.%d.self_attn.in_proj_weight", p, l);
    w->in_proj_bias = hst_resolve(r, "%s.%d.self_attn.in_proj_bias", p, l);
    w->out_proj_weight = hst_resolve(r, "%s.%d.self_attn.out_proj.weight", p, l);
    w->out_proj_bias = hst_resolve(r, "%s.%d.self_attn.out_proj.bias", p, l);
    w->linear1_weight = hst_resolve(r, "%s.%d.linear1.weight", p, l);
    w->linear1_bias = hst_resolve(r, "%s.%d.linear1.bias", p, l);
    w->linear2_weight = hst_resolve(r, "%s.%d.linear2.weight", p, l);
    w->linear2_bias = hst_resolve(r, "%s.%d.linear2.bias", p, l);
    w->norm1_weight = hst_resolve(r, "%s.%d.norm1.weight", p, l);
    w->norm1_bias = hst_resolve(r, "%s.%d.norm1.bias", p, l);
    w->norm2_weight = hst_resolve(r, "%s.%d.norm2.weight", p, l);
    w->norm2_bias = hst_resolve(r, "%s.%d.norm2.bias", p, l);
}

/* The ten PostEnc layers (12.C.2): post-norm, 8 heads, FF 2048, in the model's
 * precision (every row of a causal call reads them). */
static int build_processors(hst_resolver *r, c_runtime *rt, hst_error *err)
{
    hst_encoder_weights w[CORE_C_PROCESSORS];
    for (int l = 0; l < CORE_C_PROCESSORS; l++)
        processor_weights(r, l, &w[l]);
    if (r->failed)
        return -1;
    const hst_encoder_config ec = {r->m->cfg.d_model, CORE_C_HEADS, CORE_C_FF, HST_ENCODER_POST_NORM, r->precision};
    for (int l = 0; l < CORE_C_PROCESSORS; l++)
        if (!(rt->proc[l] = hst_encoder_create(&w[l], &ec, err)))
            return -1;
    return 0;
}

static void *runtime_build(hst_model *m, hst_precision precision, hst_error *err)
{
    const hst_config *c = &m->cfg;
    const int D = c->d_model, L = c->n_layers, Lb = L / 2;
    c_runtime *rt = calloc(1, sizeof *rt);
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
        if (b < Lb)
            snprintf(prefix, sizeof prefix, "adaptive_bottom.layers.%d", b);
        else
            snprintf(prefix, sizeof prefix, "top_stack.%d", b - Lb);
        hst_block_resolve(&r, &rt->blocks[b], prefix, D);
    }
    hst_resolve_pack_hot(&r, &rt->router1, hst_resolve(&r, "lattice_core.task_router.0.weight"), CORE_C_ROUTER, D);
    rt->router1_b = hst_resolve(&r, "lattice_core.task_router.0.bias");
    hst_resolve_pack_hot(&r, &rt->router2, hst_resolve(&r, "lattice_core.task_router.2.weight"), CORE_C_PROCESSORS,
                         CORE_C_ROUTER);
    rt->router2_b = hst_resolve(&r, "lattice_core.task_router.2.bias");
    rt->lnf_g = hst_resolve(&r, "ln_f.weight");
    rt->lnf_b = hst_resolve(&r, "ln_f.bias");
    hst_resolve_pack_hot(&r, &rt->head, hst_resolve(&r, "lm_head.weight"), c->vocab_size, D);
    if (r.failed || build_processors(&r, rt, err) != 0) {
        runtime_free(rt, c);
        return NULL;
    }
    return rt;
}

static uint64_t packed_bytes(const void *runtime, const hst_config *cfg)
{
    const c_runtime *rt = runtime;
    uint64_t bytes = hst_packed_bytes(&rt->router1) + hst_packed_bytes(&rt->router2) + hst_packed_bytes(&rt->head);
    for (int b = 0; b < cfg->n_layers; b++)
        bytes += hst_block_rt_packed_bytes(&rt->blocks[b]);
    for (int l = 0; l < CORE_C_PROCESSORS; l++)
        bytes += hst_encoder_packed_bytes(rt->proc[l]);
    return bytes;
}

/* ---- a session's state (12.C.3) ---------------------------------------------------- */

typedef struct {
    int D, Lb, Lt, max_seq_len;
    /* The decode state: */
    hst_block_stack stack;                       /* the L PreBlocks' K, V (spec 5), and their scratch */
    hst_encoder_cache proc_kv[CORE_C_PROCESSORS]; /* each processor's K, V of its input rows h^l */
    float *sum;                                  /* [D]: s = Σ of the bottom rows of positions < pos */
    float *bottom_rows;                          /* [Lmax][D]: bottom output of positions < pos (parity) */
    /* Scratch of one call (up to Lmax rows: a parity window): */
    float *sum_next;                             /* [D]: s after the call, kept only when it succeeds */
    float *x;                                    /* [Lmax][D]: the rows (h in the processors) */
    float *mean;                                 /* [Lmax][D]: m_t */
    float *router_hidden;                        /* [Lmax][256] */
    float *gates;                                /* [Lmax][10] */
    float *gathered, *u;                         /* [Lmax][D]: rows whose gate is on, their PostEnc output */
    int *rows_on, *positions_on;                 /* [Lmax] */
    hst_encoder_workspace *ws;
} c_state;

static void state_free(void *state)
{
    c_state *st = state;
    if (!st)
        return;
    float *bufs[] = {st->sum, st->bottom_rows, st->sum_next, st->x, st->mean, st->router_hidden, st->gates,
                     st->gathered, st->u};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    hst_block_stack_free(&st->stack);
    for (int l = 0; l < CORE_C_PROCESSORS; l++)
        hst_encoder_cache_free(&st->proc_kv[l]);
    free(st->rows_on);
    free(st->positions_on);
    hst_encoder_workspace_free(st->ws);
    free(st);
}

/* The processors' caches: the runtime's first encoder gives their shape. */
static int processor_caches(c_state *st, const hst_model *m, hst_error *err)
{
    const c_runtime *rt = m->runtime;
    for (int l = 0; l < CORE_C_PROCESSORS; l++)
        if (hst_encoder_cache_init(&st->proc_kv[l], rt->proc[0], st->max_seq_len, err) != 0)
            return -1;
    st->ws = hst_encoder_workspace_create(st->D, CORE_C_FF, st->max_seq_len, err);
    return st->ws ? 0 : -1;
}

static void *state_create(const hst_model *m, hst_error *err)
{
    const hst_config *c = &m->cfg;
    c_state *st = calloc(1, sizeof *st);
    if (!st) {
        hst_set_error(err, "session: out of memory");
        return NULL;
    }
    const size_t Lmax = (size_t)c->max_seq_len, D = (size_t)c->d_model;
    int failed = hst_block_stack_init(&st->stack, c, c->n_layers, c->max_seq_len) != 0;
    st->D = c->d_model;
    st->Lb = c->n_layers / 2;
    st->Lt = c->n_layers - st->Lb;
    st->max_seq_len = c->max_seq_len;
    st->sum = hst_alloc_floats(D, &failed);
    st->sum_next = hst_alloc_floats(D, &failed);
    float **rows_of_d[] = {&st->bottom_rows, &st->x, &st->mean, &st->gathered, &st->u};
    for (size_t i = 0; i < sizeof rows_of_d / sizeof rows_of_d[0]; i++)
        *rows_of_d[i] = hst_alloc_floats(Lmax * D, &failed);
    st->router_hidden = hst_alloc_floats(Lmax * CORE_C_ROUTER, &failed);
    st->gates = hst_alloc_floats(Lmax * CORE_C_PROCESSORS, &failed);
    st->rows_on = calloc(Lmax, sizeof *st->rows_on);
    st->positions_on = calloc(Lmax, sizeof *st->positions_on);
    failed |= !st->rows_on || !st->positions_on;
    if (failed) {
        state_free(st);
        hst_set_error(err, "session: out of memory for buffers of %s", m->preset);
        return NULL;
    }
    if (processor_caches(st, m, err) != 0) {
        state_free(st);
        return NULL;
    }
    return st;
}

/* A new sequence: the running sum restarts. The caches and kept rows need no
 * clearing: a position is always written before it is read. */
static void state_reset(void *state)
{
    c_state *st = state;
    memset(st->sum, 0, (size_t)st->D * sizeof *st->sum);
}

/* The decode state of 12.C.3 (K, V of the L blocks and the 10 processors, s)
 * plus the kept bottom rows of parity's shortcut (12.C.2), as state_create
 * allocates them. */
static uint64_t state_bytes(const hst_config *c)
{
    const uint64_t D = (uint64_t)c->d_model, Lmax = (uint64_t)c->max_seq_len;
    return hst_block_stack_kv_bytes(c, c->n_layers + CORE_C_PROCESSORS) + (D + Lmax * D) * sizeof(float);
}

/* 12.C.7: embed, bottom.i, router, proc.l, top.j, head. */
static int section_names(const hst_config *c, char (*names)[HST_SECTION_NAME_BYTES])
{
    const int Lb = c->n_layers / 2, Lt = c->n_layers - Lb;
    int k = hst_section_name(names, 0, "embed");
    for (int i = 0; i < Lb; i++)
        k = hst_section_name(names, k, "bottom.%d", i);
    k = hst_section_name(names, k, "router");
    for (int l = 0; l < CORE_C_PROCESSORS; l++)
        k = hst_section_name(names, k, "proc.%d", l);
    for (int j = 0; j < Lt; j++)
        k = hst_section_name(names, k, "top.%d", j);
    return hst_section_name(names, k, "head");
}

/* ---- the ops (12.C.2, 12.C.3) ---------------------------------------------------------- */

/* s_t = s_{t−1} + x_t element-wise in float32, rows in position order (12.C.3),
 * starting from st->sum into st->sum_next. When means is not NULL, also
 * m_t = s_t / (t + 1) for every row (float32 division): the same sum and the
 * same division whatever the split, so the gates cannot flip between prefill,
 * chunked prefill and decode (12.0). */
static void running_sum(c_state *st, const float *rows, int n, int t0, float *means)
{
    const int D = st->D;
    float *s = st->sum_next;
    memcpy(s, st->sum, (size_t)D * sizeof *s);
    for (int i = 0; i < n; i++) {
        const float *x = rows + (size_t)i * D;
        for (int d = 0; d < D; d++)
            s[d] += x[d];
        if (means) {
            const float count = (float)(t0 + i + 1);
            float *m = means + (size_t)i * D;
            for (int d = 0; d < D; d++)
                m[d] = s[d] / count;
        }
    }
}

/* g = σ(W_r2·ReLU(W_r1·m + b_r1) + b_r2) for n rows of means (12.C.2). */
static void router(const c_runtime *rt, c_state *st, hst_pool *pool, const float *means, int n)
{
    const int D = st->D;
    hst_matmul(pool, means, n, D, &rt->router1, rt->router1_b, st->router_hidden, CORE_C_ROUTER, HST_EPI_RELU);
    hst_matmul(pool, st->router_hidden, n, CORE_C_ROUTER, &rt->router2, rt->router2_b, st->gates,
               CORE_C_PROCESSORS, HST_EPI_NONE);
    for (int i = 0; i < n * CORE_C_PROCESSORS; i++)
        st->gates[i] = hst_sigmoid(st->gates[i]);
}

static double router_flops(const hst_config *c)
{
    return 2.0 * (CORE_C_ROUTER * (double)c->d_model + 10.0 * CORE_C_ROUTER);
}

/* 12.C.2: strict, in float32, against 0.1f. */
static int gate_on(float g) { return g > CORE_C_GATE_THRESHOLD; }

/* h ← h + g·(u − h), in that order (12.C.2: not (1 − g)·h + g·u, which rounds
 * differently). Two separate float32 roundings, as PyTorch does them; the
 * build targets no FMA for this file, so nothing contracts them. */
static void gate_mix(float *h, const float *u, float g, int D)
{
    for (int d = 0; d < D; d++) {
        const float step = g * (u[d] - h[d]);
        h[d] = h[d] + step;
    }
}

/* ---- causal mode (12.C.3) ---------------------------------------------------------- */

/* Processor l on the call's n rows h (st->x) at t0..: k, v of every row into
 * the cache; q, attention over keys <= the row, out_proj, norms, FFN and the
 * mix only for the rows whose own gate is on (gathered, with their
 * positions). Returns the FLOPs, or -1 with err. */
static double causal_processor(const c_runtime *rt, c_state *st, hst_pool *pool, int l, int n, int t0,
                               hst_error *err)
{
    const int D = st->D;
    hst_encoder_rows all = {st->x, D, NULL, 0, n, NULL, t0, HST_ATTN_CAUSAL, 0};
    double flops = hst_encoder_store_kv(rt->proc[l], st->ws, pool, &st->proc_kv[l], &all, err);
    if (flops < 0)
        return -1;
    int on = 0;
    for (int i = 0; i < n; i++)
        if (gate_on(st->gates[(size_t)i * CORE_C_PROCESSORS + l])) {
            st->rows_on[on] = i;
            st->positions_on[on] = t0 + i;
            hst_rows_copy(st->x + (size_t)i * D, D, st->gathered + (size_t)on * D, D, 1, D);
            on++;
        }
    if (on == 0)
        return flops;
    hst_encoder_rows gated = {st->gathered, D, st->u, D, on, st->positions_on, 0, HST_ATTN_CAUSAL, 0};
    double attend = hst_encoder_attend(rt->proc[l], st->ws, pool, &st->proc_kv[l], &gated, err);
    if (attend < 0)
        return -1;
    for (int r = 0; r < on; r++) {
        const int i = st->rows_on[r];
        gate_mix(st->x + (size_t)i * D, st->u + (size_t)r * D, st->gates[(size_t)i * CORE_C_PROCESSORS + l], D);
    }
    return flops + attend;
}

/* From the bottom output (st->x, n rows at t0) to the top stack's input. */
static int causal_middle(hst_session *s, hst_section_clock *clk, int n, int t0, hst_error *err)
{
    const c_runtime *rt = s->model->runtime;
    c_state *st = s->state;
    running_sum(st, st->x, n, t0, st->mean);
    router(rt, st, s->pool, st->mean, n);
    hst_section_done(clk, router_flops(&s->cfg) * n);
    hst_stage(s, "mean", st->mean, n, st->D);
    hst_stage(s, "gates", st->gates, n, CORE_C_PROCESSORS);
    for (int l = 0; l < CORE_C_PROCESSORS; l++) {
        double flops = causal_processor(rt, st, s->pool, l, n, t0, err);
        if (flops < 0)
            return -1;
        hst_section_done(clk, flops);
        hst_stage_numbered(s, "proc", l, st->x, n, st->D);
    }
    return 0;
}

/* ---- parity mode (12.C.2) ----------------------------------------------------------- */

/* From the call's bottom rows to the window 0..S-1 (S = t0 + n) in st->x,
 * ready for the top stack: one mean over the window, one gate vector, each
 * processor that is on over the whole window (every row sees every row). */
static int parity_middle(hst_session *s, hst_section_clock *clk, int n, int t0, hst_error *err)
{
    const c_runtime *rt = s->model->runtime;
    c_state *st = s->state;
    const int D = st->D, S = t0 + n;
    running_sum(st, st->x, n, t0, NULL);
    const float count = (float)S;
    for (int d = 0; d < D; d++)
        st->mean[d] = st->sum_next[d] / count;
    router(rt, st, s->pool, st->mean, 1);
    hst_rows_copy(st->bottom_rows, D, st->x, D, S, D); /* the window's h = x */
    hst_section_done(clk, router_flops(&s->cfg));
    hst_stage(s, "bottom", st->x, S, D);
    hst_stage(s, "mean", st->mean, 1, D);
    hst_stage(s, "gates", st->gates, 1, CORE_C_PROCESSORS);
    for (int l = 0; l < CORE_C_PROCESSORS; l++) {
        double flops = 0;
        const float g = st->gates[l];
        if (gate_on(g)) {
            hst_encoder_rows window = {st->x, D, st->u, D, S, NULL, 0, HST_ATTN_FULL, S};
            flops = hst_encoder_forward(rt->proc[l], st->ws, s->pool, &st->proc_kv[l], &window, err);
            if (flops < 0)
                return -1;
            for (int i = 0; i < S; i++)
                gate_mix(st->x + (size_t)i * D, st->u + (size_t)i * D, g, D);
        }
        hst_section_done(clk, flops);
        hst_stage_numbered(s, "proc", l, st->x, S, D);
    }
    return 0;
}

/* ---- the call ----------------------------------------------------------------------- */

static int forward(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err)
{
    const c_runtime *rt = s->model->runtime;
    c_state *st = s->state;
    const int t0 = s->pos, D = st->D, parity = s->mode == HST_MODE_PARITY;
    hst_section_clock clk;
    hst_section_start(s, &clk);
    hst_embed_rows(rt->tok_emb, rt->pos_emb, D, ids, n, t0, st->x);
    hst_section_done(&clk, 0);
    hst_stage(s, "embed", st->x, n, D);
    hst_block_stack_sections(s, &clk, &st->stack, rt->blocks, 0, st->Lb, "bottom", st->x, n, t0);
    hst_rows_copy(st->x, D, st->bottom_rows + (size_t)t0 * D, D, n, D);
    if (!parity)
        hst_stage(s, "bottom", st->x, n, D);
    if ((parity ? parity_middle : causal_middle)(s, &clk, n, t0, err) != 0)
        return -1;
    /* Parity's top stack runs over the whole window from position 0 (its keys
     * changed with the mean); causal's over the call's rows with its caches. */
    const int top_rows = parity ? t0 + n : n;
    hst_block_stack_sections(s, &clk, &st->stack, rt->blocks, st->Lb, st->Lt, "top", st->x, top_rows,
                             parity ? 0 : t0);
    /* The head reads the call's rows: the window's last n in parity. */
    hst_head_section(s, &clk, st->x, top_rows, n, rt->lnf_g, rt->lnf_b, &rt->head, st->stack.a, logits,
                     all_logits);
    memcpy(st->sum, st->sum_next, (size_t)D * sizeof *st->sum);
    return 0;
}

/* ---- figures (12.C.6, 12.C.8): every gate on --------------------------------------- */

/* The PreBlocks' per-token FLOPs of a prefill of S rows: 24D² + 2D(S + 1) each. */
static double blocks_per_token(const hst_config *c, int S)
{
    const double D = c->d_model;
    return c->n_layers * (24 * D * D + 2 * D * (S + 1));
}

/* A processor row without its attention: 8D² + 4FD (in_proj's q, k, v, out_proj, FFN). */
static double processor_row(const hst_config *c)
{
    const double D = c->d_model;
    return 8 * D * D + 4.0 * CORE_C_FF * D;
}

/* F_p(S) = L·(24D² + 2D(S+1)) + 10·(8D² + 4FD + 4D·S) + 2(Rh·D + 10Rh)/S + 2DV (parity: full
 * attention in the processors, the router once per call); F_c(S) likewise with causal
 * processor attention 2D(S+1) and the router on every row. */
static double flops_prefill_per_token(const hst_config *c, hst_mode mode, int S)
{
    const double D = c->d_model, head = 2 * D * c->vocab_size;
    if (mode == HST_MODE_PARITY)
        return blocks_per_token(c, S) + CORE_C_PROCESSORS * (processor_row(c) + 4 * D * S) + router_flops(c) / S +
               head;
    return blocks_per_token(c, S) + CORE_C_PROCESSORS * (processor_row(c) + 2 * D * (S + 1)) + router_flops(c) + head;
}

/* F_cd(t) = L·(24D² + 4D(t+1)) + 10·(8D² + 4FD + 4D(t+1)) + 2(Rh·D + 10Rh) + 2DV;
 * parity: F_pd(t) = (t+1)·(F_p(t+1) − 2DV) + 2DV, the window recomputed, logits of row t. */
static double flops_decode(const hst_config *c, hst_mode mode, int t)
{
    const double D = c->d_model, head = 2 * D * c->vocab_size;
    if (mode == HST_MODE_PARITY)
        return (t + 1) * (flops_prefill_per_token(c, HST_MODE_PARITY, t + 1) - head) + head;
    return c->n_layers * hst_preblock_flops(c->d_model, 1, t) +
           CORE_C_PROCESSORS * (processor_row(c) + 4 * D * (t + 1)) + router_flops(c) + head;
}

/* 12.C.8: a causal step with every gate on reads L·blk + 10·proc + (Rh·D + Rh + 10Rh + 10)
 * + VD + 4D floats of weights (8,188,426 at hst-v7.0). */
static double step_weight_floats(const hst_config *c)
{
    const double D = c->d_model, F = CORE_C_FF, Rh = CORE_C_ROUTER;
    double blk = 12 * D * D + 9 * D, proc = 4 * D * D + 2 * F * D + 9 * D + F;
    return c->n_layers * blk + CORE_C_PROCESSORS * proc + (Rh * D + Rh + 10 * Rh + 10) + c->vocab_size * D + 4 * D;
}

/* K and V of every block and processor at each cached position: 2·(L + 10)·D floats. */
static double kv_bytes_per_position(const hst_config *c)
{
    return 2.0 * (c->n_layers + CORE_C_PROCESSORS) * c->d_model * sizeof(float);
}

/* The weights once and the K/V of the S rows (parity: of the window). */
static double bytes_prefill(const hst_config *c, hst_mode mode, int S)
{
    (void)mode;
    return sizeof(float) * step_weight_floats(c) + kv_bytes_per_position(c) * S;
}

/* Causal: the step's weights and the K/V of positions 0..t; parity recomputes the window. */
static double bytes_decode(const hst_config *c, hst_mode mode, int t)
{
    return bytes_prefill(c, mode, t + 1);
}

const hst_core_ops hst_core_c = {
    .name = "C",
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
