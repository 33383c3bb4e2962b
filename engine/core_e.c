/* core_e.c — Core E, v8 Crystalline (arch v8, preset hst-v8): spec 12.E.
 *
 * One function per op of 12.E.2, in the order of the forward pass: the
 * rescaled embedding with the file's positional table, the Hebbian fast
 * weights, the multi-resolution block (engine/multires.h, the shared
 * pre-norm layer P passed four times) and its fusion, the top-2 mixture of
 * experts, L attention layers (causal self-attention, cross-attention over
 * the layer input, diamond mixer), the lattice (engine/lattice.h, 2-term
 * spine), the feedback GRU cell twice and the tied head.
 *
 * Two modes (12.0): parity recomputes the window 0..t1 with the original's
 * whole-window Hebbian sum, multi-resolution and cross-attention; causal
 * (12.E.3) restricts those three ops to rows <= t and keeps their state
 * (the Hebbian prefix sum M, the K/V caches, the open pooling blocks).
 * Every row is computed by the same code whatever the split of the rows
 * into calls: matmuls through hst_matmul (one FMA chain per element), the
 * Hebbian sum continued in position order, MoE rows grouped by expert but
 * each row's product computed as if alone, so the top-2 choice never flips
 * between prefill and decode. Buffers are allocated once, in state_create. */
#include "engine/encoder.h"
#include "engine/lattice.h"
#include "engine/multires.h"
#include "engine/preblock.h"
#include "engine/rowops.h"
#include "engine/simd512.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_EXPERTS 8              /* 12.E.2.4: the router always has 8 experts (num_experts is ignored) */
#define TOP_EXPERTS 2            /* 12.E.2.4: top-2 */
#define P_HEADS 8                /* 12.E.2.3: the multi-resolution layer P has 8 heads */
#define HEBBIAN_FACTOR 0.95f     /* 12.E.2.2: lambda_decay, one constant factor on the whole sum */
#define POINCARE_MAX_NORM 0.999f /* 12.E.2.1: (1 - 1e-3)/sqrt(c), c = 1 */
#define POINCARE_EPS 1e-8f       /* 12.E.2.1 */
#define FEEDBACK_ITERATIONS 2    /* 12.E.2.7 */
#define ROWS_PER_TASK 16         /* rows of a row-local op per pool task */
#define MOE_ROWS 32              /* rows of one expert per pool task: its hidden rows (64 KiB at D 128) stay in L2 */

static const int pool_factors[] = {2, 4, 8}; /* the pooled resolutions f (12.E.2.3) */

/* ---- the runtime view of a model: resolved pointers and packed weights ---- */

/* One attention layer (12.E.2.5), prefix attention_layers.{l}. */
typedef struct {
    hst_packed qkv, self_out;                 /* self_attn.qkv [3D,D], out_proj [D,D]: no biases */
    hst_packed cross_q, cross_kv, cross_out;  /* cross_attn in_proj rows [0,D), [D,3D); out_proj */
    const float *cross_bq, *cross_bkv, *cross_bo;
    hst_packed split, merge;                  /* diamond_mixer.split_proj [2D,D], merge_proj [D,2D] */
    const float *split_b, *merge_b;
    const float *ln1_g, *ln1_b, *ln2_g, *ln2_b, *lnd_g, *lnd_b;
} e_layer;

typedef struct {
    const float *tok_emb; /* E [V,D]: the embedding rows and, packed in head, the tied head (12.E.2.8) */
    const float *pe;      /* pos_encoding.pe [Lmax,D], used as stored (12.E.2.1) */
    hst_packed hebbian;   /* plasticity.qkv [3D,D] */
    const float *hebbian_ln_g, *hebbian_ln_b;
    hst_encoder *processor; /* multi_res.processor P */
    hst_multires multires;  /* P four times, floor pooling */
    hst_packed fusion;      /* multi_res.fusion.0 [D,4D] */
    const float *fusion_b, *fusion_ln_g, *fusion_ln_b;
    hst_packed router; /* [8,D], f32 */
    const float *router_b;
    hst_packed up[N_EXPERTS], down[N_EXPERTS]; /* expert_up[e] [4D,D], expert_down[e] [D,4D] */
    e_layer *layers;                           /* [L] */
    hst_lattice *lattice;
    hst_packed gru;  /* feedback_loop.loop_net: [weight_ih; weight_hh] [6D,D], one matmul per iteration */
    float *gru_b;    /* [bias_ih; bias_hh] [6D] (owned) */
    const float *err_w, *err_b; /* error_estimator [1,D], [1] */
    const float *lnf_g, *lnf_b;
    hst_packed head; /* the token table as the head's matrix */
} e_runtime;

/* Calls visit on every packed matrix of a runtime (freeing, counting). */
typedef void (*matrix_visit)(const hst_packed *m, void *user);

static void visit_matrices(const e_runtime *rt, int n_layers, matrix_visit visit, void *user)
{
    const hst_packed *fixed[] = {&rt->hebbian, &rt->fusion, &rt->router, &rt->gru, &rt->head};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        visit(fixed[i], user);
    for (int e = 0; e < N_EXPERTS; e++) {
        visit(&rt->up[e], user);
        visit(&rt->down[e], user);
    }
    for (int l = 0; rt->layers && l < n_layers; l++) {
        const e_layer *w = &rt->layers[l];
        const hst_packed *per[] = {&w->qkv, &w->self_out, &w->cross_q, &w->cross_kv, &w->cross_out,
                                   &w->split, &w->merge};
        for (size_t i = 0; i < sizeof per / sizeof per[0]; i++)
            visit(per[i], user);
    }
}

static void free_matrix(const hst_packed *m, void *user)
{
    (void)user;
    hst_packed_free((hst_packed *)m);
}

static void count_matrix(const hst_packed *m, void *user) { *(uint64_t *)user += hst_packed_bytes(m); }

static void runtime_free(void *runtime, const hst_config *cfg)
{
    e_runtime *rt = runtime;
    if (!rt)
        return;
    visit_matrices(rt, cfg->n_layers, free_matrix, NULL);
    hst_encoder_free(rt->processor);
    hst_lattice_free(rt->lattice);
    free(rt->layers);
    free(rt->gru_b);
    free(rt);
}

static uint64_t packed_bytes(const void *runtime, const hst_config *cfg)
{
    const e_runtime *rt = runtime;
    uint64_t bytes = hst_encoder_packed_bytes(rt->processor) + hst_lattice_packed_bytes(rt->lattice);
    visit_matrices(rt, cfg->n_layers, count_matrix, &bytes);
    return bytes;
}

static void resolve_layer(hst_resolver *r, e_layer *w, int l, int D)
{
    const char *p = "attention_layers";
    hst_resolve_pack_hot(r, &w->qkv, hst_resolve(r, "%s.%d.self_attn.qkv.weight", p, l), 3 * D, D);
    hst_resolve_pack_hot(r, &w->self_out, hst_resolve(r, "%s.%d.self_attn.out_proj.weight", p, l), D, D);
    const float *in_w = hst_resolve(r, "%s.%d.cross_attn.in_proj_weight", p, l);
    const float *in_b = hst_resolve(r, "%s.%d.cross_attn.in_proj_bias", p, l);
    const size_t kv_offset = r->failed ? 0 : (size_t)D; /* rows [D,3D): k then v (12.E.2.5) */
    hst_resolve_pack_hot(r, &w->cross_q, in_w, D, D);
    hst_resolve_pack_hot(r, &w->cross_kv, in_w + kv_offset * D, 2 * D, D);
    w->cross_bq = in_b;
    w->cross_bkv = in_b + kv_offset;
    hst_resolve_pack_hot(r, &w->cross_out, hst_resolve(r, "%s.%d.cross_attn.out_proj.weight", p, l), D, D);
    w->cross_bo = hst_resolve(r, "%s.%d.cross_attn.out_proj.bias", p, l);
    hst_resolve_pack_hot(r, &w->split, hst_resolve(r, "%s.%d.diamond_mixer.split_proj.weight", p, l), 2 * D, D);
    w->split_b = hst_resolve(r, "%s.%d.diamond_mixer.split_proj.bias", p, l);
    hst_resolve_pack_hot(r, &w->merge, hst_resolve(r, "%s.%d.diamond_mixer.merge_proj.weight", p, l), D, 2 * D);
    w->merge_b = hst_resolve(r, "%s.%d.diamond_mixer.merge_proj.bias", p, l);
    w->ln1_g = hst_resolve(r, "%s.%d.norm1.weight", p, l);
    w->ln1_b = hst_resolve(r, "%s.%d.norm1.bias", p, l);
    w->ln2_g = hst_resolve(r, "%s.%d.norm2.weight", p, l);
    w->ln2_b = hst_resolve(r, "%s.%d.norm2.bias", p, l);
    w->lnd_g = hst_resolve(r, "%s.%d.diamond_mixer.norm.weight", p, l);
    w->lnd_b = hst_resolve(r, "%s.%d.diamond_mixer.norm.bias", p, l);
}

/* P (12.E.2.3): one norm-first encoder layer, 8 heads, FFN 4D, shared by the four resolutions. */
static void resolve_processor(hst_resolver *r, e_runtime *rt, int D)
{
    const char *p = "multi_res.processor";
    hst_encoder_weights w = {
        hst_resolve(r, "%s.self_attn.in_proj_weight", p), hst_resolve(r, "%s.self_attn.in_proj_bias", p),
        hst_resolve(r, "%s.self_attn.out_proj.weight", p), hst_resolve(r, "%s.self_attn.out_proj.bias", p),
        hst_resolve(r, "%s.linear1.weight", p), hst_resolve(r, "%s.linear1.bias", p),
        hst_resolve(r, "%s.linear2.weight", p), hst_resolve(r, "%s.linear2.bias", p),
        hst_resolve(r, "%s.norm1.weight", p), hst_resolve(r, "%s.norm1.bias", p),
        hst_resolve(r, "%s.norm2.weight", p), hst_resolve(r, "%s.norm2.bias", p),
    };
    if (r->failed)
        return;
    hst_encoder_config cfg = {D, P_HEADS, 4 * D, HST_ENCODER_PRE_NORM, r->precision};
    if (!(rt->processor = hst_encoder_create(&w, &cfg, r->err))) {
        r->failed = 1;
        return;
    }
    for (int k = 0; k < HST_MULTIRES_COUNT; k++)
        rt->multires.layers[k] = rt->processor; /* one P, four caches (12.E.3) */
    rt->multires.pooling = HST_MULTIRES_POOL_FLOOR;
}

/* The 3-D expert tensors (12.E.2.4): expert e's [4D,D] and [D,4D] slices, no biases. */
static void resolve_experts(hst_resolver *r, e_runtime *rt, int D)
{
    const float *up = hst_resolve(r, "sparse_router.expert_up");
    const float *down = hst_resolve(r, "sparse_router.expert_down");
    const size_t per_expert = r->failed ? 0 : (size_t)4 * D * D;
    for (int e = 0; e < N_EXPERTS; e++) {
        hst_resolve_pack_hot(r, &rt->up[e], up + e * per_expert, 4 * D, D);
        hst_resolve_pack_hot(r, &rt->down[e], down + e * per_expert, D, 4 * D);
    }
    /* f32 whatever the precision: the top-2 choice is a decision on these 8 values. */
    hst_resolve_pack(r, &rt->router, hst_resolve(r, "sparse_router.router.weight"), N_EXPERTS, D);
    rt->router_b = hst_resolve(r, "sparse_router.router.bias");
}

/* The GRU cell (12.E.2.7) with m = h = x: its two products are one [6D,D] matmul. */
static void resolve_feedback(hst_resolver *r, e_runtime *rt, int D)
{
    const char *p = "feedback_loop";
    const float *w_ih = hst_resolve(r, "%s.loop_net.weight_ih", p), *w_hh = hst_resolve(r, "%s.loop_net.weight_hh", p);
    const float *b_ih = hst_resolve(r, "%s.loop_net.bias_ih", p), *b_hh = hst_resolve(r, "%s.loop_net.bias_hh", p);
    rt->err_w = hst_resolve(r, "%s.error_estimator.weight", p);
    rt->err_b = hst_resolve(r, "%s.error_estimator.bias", p);
    if (r->failed)
        return;
    const size_t block = (size_t)3 * D * D;
    float *stacked = malloc(2 * block * sizeof *stacked);
    rt->gru_b = malloc((size_t)6 * D * sizeof *rt->gru_b);
    if (!stacked || !rt->gru_b) {
        free(stacked);
        hst_set_error(r->err, "%s: out of memory packing weights", r->m->source);
        r->failed = 1;
        return;
    }
    memcpy(stacked, w_ih, block * sizeof *stacked);
    memcpy(stacked + block, w_hh, block * sizeof *stacked);
    memcpy(rt->gru_b, b_ih, (size_t)3 * D * sizeof *b_ih);
    memcpy(rt->gru_b + 3 * D, b_hh, (size_t)3 * D * sizeof *b_hh);
    hst_resolve_pack_hot(r, &rt->gru, stacked, 6 * D, D);
    free(stacked);
}

static void *runtime_build(hst_model *m, hst_precision precision, hst_error *err)
{
    const hst_config *c = &m->cfg;
    const int D = c->d_model;
    e_runtime *rt = calloc(1, sizeof *rt);
    hst_resolver r = {m, err, 0, precision};
    if (!rt || !(rt->layers = calloc((size_t)c->n_layers, sizeof *rt->layers))) {
        free(rt);
        hst_set_error(err, "%s: out of memory", m->source);
        return NULL;
    }
    rt->tok_emb = hst_resolve(&r, "token_embedding.embed.weight");
    rt->pe = hst_resolve(&r, "pos_encoding.pe");
    hst_resolve_pack_hot(&r, &rt->hebbian, hst_resolve(&r, "plasticity.qkv.weight"), 3 * D, D);
    rt->hebbian_ln_g = hst_resolve(&r, "plasticity.norm.weight");
    rt->hebbian_ln_b = hst_resolve(&r, "plasticity.norm.bias");
    resolve_processor(&r, rt, D);
    hst_resolve_pack_hot(&r, &rt->fusion, hst_resolve(&r, "multi_res.fusion.0.weight"), D, 4 * D);
    rt->fusion_b = hst_resolve(&r, "multi_res.fusion.0.bias");
    rt->fusion_ln_g = hst_resolve(&r, "multi_res.fusion.1.weight");
    rt->fusion_ln_b = hst_resolve(&r, "multi_res.fusion.1.bias");
    resolve_experts(&r, rt, D);
    for (int l = 0; l < c->n_layers; l++)
        resolve_layer(&r, &rt->layers[l], l, D);
    rt->lattice = hst_lattice_build(&r, "lattice_core.", HST_SPINE_2TERM);
    resolve_feedback(&r, rt, D);
    rt->lnf_g = hst_resolve(&r, "ln_f.weight");
    rt->lnf_b = hst_resolve(&r, "ln_f.bias");
    /* The tie (12.E.2.8): lm_head.weight resolves to the token table, held once by the model. */
    hst_resolve_pack_hot(&r, &rt->head, hst_resolve(&r, "lm_head.weight"), c->vocab_size, D);
    if (r.failed) {
        runtime_free(rt, c);
        return NULL;
    }
    return rt;
}

/* ---- a session's state ----------------------------------------------------------- */

typedef struct {
    int D, L, nh, V, max_seq_len, key_blocks;
    float *x;        /* [Lmax][D]: the rows of a call, or of a parity window */
    float *a;        /* [Lmax][D]: normed rows */
    float *att;      /* [Lmax][D]: attention output, Hebbian read-out */
    float *wide;     /* [Lmax][6D]: qkv, the multi-res columns, diamond halves, GRU gates */
    float *hebbian;  /* the Hebbian sum M [D,D] as hst_packed panels of W = Mᵀ (see hebbian_panel) */
    float *self_kt, *self_v;   /* [L] self-attention K (transposed blocks) and V caches */
    float *cross_kt, *cross_v; /* [L] cross-attention K', V' of the layer inputs */
    /* The mixture of experts: each row's two (expert, weight) and where its
     * two rows sit in the expert-grouped buffers. */
    float *router;       /* [Lmax][8] */
    int *choice;         /* [Lmax][2] expert of slot k */
    float *choice_w;     /* [Lmax][2] */
    int *grouped_at;     /* [Lmax][2] row of (i, k) in the grouped buffers */
    float *moe_in;       /* [2 Lmax][D] */
    float *moe_hidden;   /* [2 Lmax][4D] */
    float *moe_out;      /* [2 Lmax][D] */
    hst_multires_state *multires;
    hst_lattice_state *lattice;
} e_state;

static int hebbian_panels(int D) { return (D + HST_NR - 1) / HST_NR; }

static void state_free(void *state)
{
    e_state *st = state;
    if (!st)
        return;
    void *bufs[] = {st->x,      st->a,        st->att,      st->wide,       st->hebbian, st->self_kt,
                    st->self_v, st->cross_kt, st->cross_v,  st->router,     st->choice,  st->choice_w,
                    st->grouped_at, st->moe_in, st->moe_hidden, st->moe_out};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    hst_multires_state_free(st->multires);
    hst_lattice_state_free(st->lattice);
    free(st);
}

static void *state_create(const hst_model *m, hst_error *err)
{
    const hst_config *c = &m->cfg;
    const e_runtime *rt = m->runtime;
    e_state *st = calloc(1, sizeof *st);
    if (!st) {
        hst_set_error(err, "session: out of memory");
        return NULL;
    }
    const size_t Lmax = (size_t)c->max_seq_len, D = (size_t)c->d_model, L = (size_t)c->n_layers;
    int failed = 0;
    st->D = c->d_model;
    st->L = c->n_layers;
    st->nh = c->n_heads;
    st->V = c->vocab_size;
    st->max_seq_len = c->max_seq_len;
    st->key_blocks = hst_kv_key_blocks(c->max_seq_len);
    st->x = hst_alloc_floats(Lmax * D, &failed);
    st->a = hst_alloc_floats(Lmax * D, &failed);
    st->att = hst_alloc_floats(Lmax * D, &failed);
    st->wide = hst_alloc_floats(Lmax * 6 * D, &failed);
    st->hebbian = hst_alloc_floats((size_t)hebbian_panels(c->d_model) * HST_NR * D, &failed);
    st->self_kt = hst_alloc_floats(L * hst_kv_k_floats(c->d_model, c->max_seq_len), &failed);
    st->self_v = hst_alloc_floats(L * hst_kv_v_floats(c->d_model, c->max_seq_len), &failed);
    st->cross_kt = hst_alloc_floats(L * hst_kv_k_floats(c->d_model, c->max_seq_len), &failed);
    st->cross_v = hst_alloc_floats(L * hst_kv_v_floats(c->d_model, c->max_seq_len), &failed);
    st->router = hst_alloc_floats(Lmax * N_EXPERTS, &failed);
    st->choice_w = hst_alloc_floats(Lmax * TOP_EXPERTS, &failed);
    st->moe_in = hst_alloc_floats(TOP_EXPERTS * Lmax * D, &failed);
    st->moe_hidden = hst_alloc_floats(TOP_EXPERTS * Lmax * 4 * D, &failed);
    st->moe_out = hst_alloc_floats(TOP_EXPERTS * Lmax * D, &failed);
    st->choice = calloc(Lmax * TOP_EXPERTS, sizeof *st->choice);
    st->grouped_at = calloc(Lmax * TOP_EXPERTS, sizeof *st->grouped_at);
    st->lattice = hst_lattice_state_create(HST_SPINE_2TERM, c->d_model, c->max_seq_len, c->max_seq_len);
    if (failed || !st->choice || !st->grouped_at || !st->lattice) {
        state_free(st);
        hst_set_error(err, "session: out of memory for buffers of %s", m->preset);
        return NULL;
    }
    if (!(st->multires = hst_multires_state_create(&rt->multires, c->max_seq_len, err))) {
        state_free(st);
        return NULL;
    }
    return st;
}

static void state_reset(void *state)
{
    e_state *st = state;
    memset(st->hebbian, 0, (size_t)hebbian_panels(st->D) * HST_NR * st->D * sizeof *st->hebbian);
    hst_multires_state_reset(st->multires);
    hst_lattice_state_reset(st->lattice);
}

/* The decode state of 12.E.3 as allocated: M, the self- and cross-attention
 * K/V caches of every layer, P's four caches with the open blocks and held
 * rows, and the lattice's kept rows. */
static uint64_t state_bytes(const hst_config *c)
{
    const uint64_t D = (uint64_t)c->d_model;
    uint64_t floats = (uint64_t)hebbian_panels(c->d_model) * HST_NR * D;
    floats += 2ull * c->n_layers * (hst_kv_k_floats(c->d_model, c->max_seq_len) +
                                    hst_kv_v_floats(c->d_model, c->max_seq_len));
    int64_t spine[HST_SPINE_MAX];
    floats += (uint64_t)hst_spine_of(HST_SPINE_2TERM, c->max_seq_len, spine) * D;
    return floats * sizeof(float) + hst_multires_state_bytes(c->d_model, c->max_seq_len);
}

/* 12.E.6: embed, hebbian, multires.1/2/4/8, fusion, moe, attn.l, lattice, feedback, head. */
static int section_names(const hst_config *c, char (*names)[HST_SECTION_NAME_BYTES])
{
    int k = hst_section_name(names, 0, "embed");
    k = hst_section_name(names, k, "hebbian");
    for (int f = 1; f <= 8; f *= 2)
        k = hst_section_name(names, k, "multires.%d", f);
    k = hst_section_name(names, k, "fusion");
    k = hst_section_name(names, k, "moe");
    for (int l = 0; l < c->n_layers; l++)
        k = hst_section_name(names, k, "attn.%d", l);
    k = hst_section_name(names, k, "lattice");
    k = hst_section_name(names, k, "feedback");
    return hst_section_name(names, k, "head");
}

/* ---- row-local ops over the pool ---------------------------------------------------- */

typedef void (*row_fn)(void *ctx, int row);

typedef struct {
    row_fn fn;
    void *ctx;
    int n;
} rows_job;

static void rows_task(void *ctx, int task)
{
    const rows_job *j = ctx;
    const int r1 = (task + 1) * ROWS_PER_TASK < j->n ? (task + 1) * ROWS_PER_TASK : j->n;
    for (int r = task * ROWS_PER_TASK; r < r1; r++)
        j->fn(j->ctx, r);
}

/* fn(ctx, row) for every row; rows are independent, so any split gives the same bits. */
static void for_each_row(hst_pool *pool, int n, row_fn fn, void *ctx)
{
    rows_job j = {fn, ctx, n};
    hst_pool_run(n > ROWS_PER_TASK ? pool : NULL, (n + ROWS_PER_TASK - 1) / ROWS_PER_TASK, rows_task, &j);
}

/* Σ a[i]·b[i] in index order (row-local, so the same in every split). */
static float dot(const float *a, const float *b, int n)
{
    float acc = 0;
    for (int i = 0; i < n; i++)
        acc += a[i] * b[i];
    return acc;
}

/* ---- 12.E.2.1 embedding ----------------------------------------------------------- */

typedef struct {
    const e_runtime *rt;
    e_state *st;
    const int *ids;
    int t0;
} embed_job;

/* x = e / (min(‖e‖/0.999, 1) + 1e-8) + PE[t]: short rows are scaled up to norm 0.999,
 * long rows divided by 1 + 1e-8 (= 1 in f32), a zero row stays 0 (12.E.2.1, E5). */
static void embed_row(void *ctx, int i)
{
    const embed_job *j = ctx;
    const int D = j->st->D;
    const float *e = j->rt->tok_emb + (size_t)j->ids[i] * D, *pe = j->rt->pe + (size_t)(j->t0 + i) * D;
    float *x = j->st->x + (size_t)i * D;
    double sq = 0;
    for (int d = 0; d < D; d++)
        sq += (double)e[d] * e[d];
    const float ratio = (float)sqrt(sq) / POINCARE_MAX_NORM;
    const float scale = (ratio < 1.0f ? ratio : 1.0f) + POINCARE_EPS;
    for (int d = 0; d < D; d++)
        x[d] = e[d] / scale + pe[d];
}

static void embed(const e_runtime *rt, e_state *st, hst_pool *pool, const int *ids, int n, int t0)
{
    embed_job j = {rt, st, ids, t0};
    for_each_row(pool, n, embed_row, &j);
}

/* ---- 12.E.2.2 / 12.E.3 Hebbian fast weights ------------------------------------------ *
 *
 * M [D,D] is kept as the panels of hst_packed for W = Mᵀ (internal.h): panel p
 * holds M[d][p·16 + c] at hebbian[(p·D + d)·16 + c]. A panel is 16 columns of M;
 * its columns are independent, so panels split over the pool freely. Causal
 * row t: M += k_t v_tᵀ (in position order), then read Mᵀq_t; parity: M over the
 * whole window, then every row reads it through one matmul. */

typedef struct {
    e_state *st;
    int n;
    int read; /* causal: each row reads M right after adding its own k vᵀ */
} hebbian_job;

/* One panel, rows in position order: M[d][c] += k[d]·v[c], then (causal)
 * read[c] = Σ_d q[d]·M[d][c] over the panel just updated. */
static void hebbian_panel_portable(const hebbian_job *j, int p)
{
    const int D = j->st->D, c0 = p * HST_NR, width = D - c0 < HST_NR ? D - c0 : HST_NR;
    float *M = j->st->hebbian + (size_t)p * D * HST_NR;
    for (int i = 0; i < j->n; i++) {
        const float *q = j->st->wide + (size_t)i * 3 * D, *k = q + D, *v = q + 2 * D;
        float vv[HST_NR] = {0}, out[HST_NR] = {0};
        memcpy(vv, v + c0, (size_t)width * sizeof *vv);
        for (int d = 0; d < D; d++)
            for (int c = 0; c < HST_NR; c++) {
                M[(size_t)d * HST_NR + c] += k[d] * vv[c];
                out[c] += q[d] * M[(size_t)d * HST_NR + c];
            }
        if (j->read)
            memcpy(j->st->att + (size_t)i * D + c0, out, (size_t)width * sizeof *out);
    }
}

/* The same with one 16-lane vector per row of the panel; the read runs four
 * partial sums over d (d mod 4), added at the end, so it is not one long
 * dependency chain. Prefill and decode both come here: the same bits. */
__attribute__((target("avx512f"))) static void hebbian_panel512(const hebbian_job *j, int p)
{
    const int D = j->st->D, c0 = p * HST_NR, width = D - c0 < HST_NR ? D - c0 : HST_NR;
    const __mmask16 live = width >= HST_NR ? (__mmask16)0xffff : (__mmask16)((1u << width) - 1u);
    float *M = j->st->hebbian + (size_t)p * D * HST_NR;
    for (int i = 0; i < j->n; i++) {
        const float *q = j->st->wide + (size_t)i * 3 * D, *k = q + D, *v = q + 2 * D;
        const __m512 vv = _mm512_maskz_loadu_ps(live, v + c0);
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        for (int d = 0; d < D; d++) {
            const __m512 m = _mm512_fmadd_ps(_mm512_set1_ps(k[d]), vv, _mm512_load_ps(M + (size_t)d * HST_NR));
            _mm512_store_ps(M + (size_t)d * HST_NR, m);
            acc[d & 3] = _mm512_fmadd_ps(_mm512_set1_ps(q[d]), m, acc[d & 3]);
        }
        if (j->read)
            _mm512_mask_storeu_ps(j->st->att + (size_t)i * D + c0, live,
                                  _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
    }
}

static void hebbian_panel(void *ctx, int p)
{
    if (hst_kernel_current() == HST_KERNEL_AVX512)
        hebbian_panel512(ctx, p);
    else
        hebbian_panel_portable(ctx, p);
}

typedef struct {
    e_state *st;
} hebbian_mix_job;

/* x + σ(q·k)·0.95·Mᵀq; the LayerNorm follows over all rows. */
static void hebbian_mix_row(void *ctx, int i)
{
    const hebbian_mix_job *j = ctx;
    const int D = j->st->D;
    const float *q = j->st->wide + (size_t)i * 3 * D, *read = j->st->att + (size_t)i * D;
    const float lr = hst_sigmoid(dot(q, q + D, D)) * HEBBIAN_FACTOR;
    float *x = j->st->x + (size_t)i * D;
    for (int d = 0; d < D; d++)
        x[d] += read[d] * lr;
}

static double hebbian(const e_runtime *rt, e_state *st, hst_pool *pool, int n, hst_mode mode)
{
    const int D = st->D, panels = hebbian_panels(D);
    hst_matmul(pool, st->x, n, D, &rt->hebbian, NULL, st->wide, 3 * D, HST_EPI_NONE);
    hebbian_job j = {st, n, mode == HST_MODE_CAUSAL};
    if (mode == HST_MODE_PARITY) /* the window's sum from zero (12.E.2.2) */
        memset(st->hebbian, 0, (size_t)panels * HST_NR * D * sizeof *st->hebbian);
    /* A decode step's rank-1 update costs less than waking the workers. */
    hst_pool_run(n > 1 ? pool : NULL, panels, hebbian_panel, &j);
    if (mode == HST_MODE_PARITY) {
        const hst_packed whole = {.N = D, .K = D, .data = st->hebbian, .precision = HST_PRECISION_F32};
        hst_matmul(pool, st->wide, n, 3 * D, &whole, NULL, st->att, D, HST_EPI_NONE);
    }
    hebbian_mix_job mix = {st};
    for_each_row(pool, n, hebbian_mix_row, &mix);
    hst_layernorm_rows(pool, st->x, D, st->x, D, rt->hebbian_ln_g, rt->hebbian_ln_b, n, D, 0);
    return (10.0 * D * D + 2.0 * D) * n;
}

/* ---- 12.E.2.3 multi-resolution fusion ------------------------------------------------ */

/* x = LN_F(Wf·[y_1; y_2; y_4; y_8] + bf), no residual; the four columns are in wide. */
static double fusion(const e_runtime *rt, e_state *st, hst_pool *pool, int n)
{
    const int D = st->D;
    hst_matmul(pool, st->wide, n, 4 * D, &rt->fusion, rt->fusion_b, st->x, D, HST_EPI_NONE);
    hst_layernorm_rows(pool, st->x, D, st->x, D, rt->fusion_ln_g, rt->fusion_ln_b, n, D, 0);
    return 8.0 * D * D * n;
}

/* ---- 12.E.2.4 mixture of experts ---------------------------------------------------- */

/* p = softmax(router logits); the two largest p, lower index first on equal
 * values; weights p_e as they are (not renormalised). */
static void route_row(void *ctx, int i)
{
    e_state *st = ctx;
    const float *logit = st->router + (size_t)i * N_EXPERTS;
    float p[N_EXPERTS], max = logit[0], sum = 0;
    for (int e = 1; e < N_EXPERTS; e++)
        max = logit[e] > max ? logit[e] : max;
    for (int e = 0; e < N_EXPERTS; e++) {
        p[e] = expf(logit[e] - max);
        sum += p[e];
    }
    for (int e = 0; e < N_EXPERTS; e++)
        p[e] /= sum;
    /* Strict comparisons from the lowest index: an equal value never displaces a lower index. */
    int first = 0;
    for (int e = 1; e < N_EXPERTS; e++)
        if (p[e] > p[first])
            first = e;
    int second = first == 0 ? 1 : 0;
    for (int e = second + 1; e < N_EXPERTS; e++)
        if (e != first && p[e] > p[second])
            second = e;
    st->choice[2 * i] = first;
    st->choice[2 * i + 1] = second;
    st->choice_w[2 * i] = p[first];
    st->choice_w[2 * i + 1] = p[second];
}

/* out = 0 + w_1·y_1, then + w_2·y_2: the original's accumulation order. */
static void combine_row(void *ctx, int i)
{
    e_state *st = ctx;
    const int D = st->D;
    const float *y1 = st->moe_out + (size_t)st->grouped_at[2 * i] * D;
    const float *y2 = st->moe_out + (size_t)st->grouped_at[2 * i + 1] * D;
    const float w1 = st->choice_w[2 * i], w2 = st->choice_w[2 * i + 1];
    float *x = st->x + (size_t)i * D;
    for (int d = 0; d < D; d++) {
        float acc = y1[d] * w1;
        x[d] = acc + y2[d] * w2;
    }
}

/* Gathers the rows by expert (row order within an expert), so each expert is
 * two matmuls over its rows; a row's product is the same alone or in a batch. */
static void group_by_expert(e_state *st, int n, int count[N_EXPERTS], int first[N_EXPERTS])
{
    const int D = st->D;
    int fill[N_EXPERTS] = {0};
    memset(count, 0, N_EXPERTS * sizeof *count);
    for (int s = 0; s < TOP_EXPERTS * n; s++)
        count[st->choice[s]]++;
    for (int e = 0, at = 0; e < N_EXPERTS; e++) {
        first[e] = at;
        at += count[e];
    }
    for (int s = 0; s < TOP_EXPERTS * n; s++) {
        const int e = st->choice[s], at = first[e] + fill[e]++;
        st->grouped_at[s] = at;
        memcpy(st->moe_in + (size_t)at * D, st->x + (size_t)(s / TOP_EXPERTS) * D, (size_t)D * sizeof(float));
    }
}

/* The experts' work as pool tasks of up to MOE_ROWS rows of one expert each:
 * Dn[e]·GELU(U[e]·x) with the hidden rows staying in cache, every task on its
 * own rows (a row's product is the same in any task, 12.0). */
typedef struct {
    const e_runtime *rt;
    e_state *st;
    int count[N_EXPERTS], first[N_EXPERTS];
} expert_job;

static void expert_task(void *ctx, int task)
{
    const expert_job *j = ctx;
    const int D = j->st->D;
    int e = 0;
    for (int blocks; e < N_EXPERTS; e++, task -= blocks) /* the task's expert and its block of rows */
        if (task < (blocks = (j->count[e] + MOE_ROWS - 1) / MOE_ROWS))
            break;
    const int r0 = j->first[e] + task * MOE_ROWS, rows = j->first[e] + j->count[e] - r0;
    const int n = rows < MOE_ROWS ? rows : MOE_ROWS;
    float *hidden = j->st->moe_hidden + (size_t)r0 * 4 * D;
    hst_matmul_serial(j->st->moe_in + (size_t)r0 * D, n, D, &j->rt->up[e], NULL, hidden, 4 * D, HST_EPI_NONE);
    hst_gelu_inplace(hidden, n * 4 * D);
    hst_matmul_serial(hidden, n, 4 * D, &j->rt->down[e], NULL, j->st->moe_out + (size_t)r0 * D, D, HST_EPI_NONE);
}

static double moe(const e_runtime *rt, e_state *st, hst_pool *pool, int n)
{
    const int D = st->D;
    hst_matmul(pool, st->x, n, D, &rt->router, rt->router_b, st->router, N_EXPERTS, HST_EPI_NONE);
    for_each_row(pool, n, route_row, st);
    expert_job j = {.rt = rt, .st = st};
    group_by_expert(st, n, j.count, j.first);
    int tasks = 0;
    for (int e = 0; e < N_EXPERTS; e++)
        tasks += (j.count[e] + MOE_ROWS - 1) / MOE_ROWS;
    hst_pool_run(pool, tasks, expert_task, &j);
    for_each_row(pool, n, combine_row, st);
    return (32.0 * D * D + 16.0 * D) * n;
}

/* ---- 12.E.2.5 attention layers -------------------------------------------------------- */

typedef struct {
    const float *kt, *v; /* a layer's K (transposed blocks) and V caches */
    float *kt_w, *v_w;
} kv_cache;

static kv_cache layer_cache(const e_state *st, float *kt_all, float *v_all, int l)
{
    float *kt = kt_all + (size_t)l * hst_kv_k_floats(st->D, st->max_seq_len);
    float *v = v_all + (size_t)l * hst_kv_v_floats(st->D, st->max_seq_len);
    return (kv_cache){kt, v, kt, v};
}

/* k rows at columns [0,D) and v rows at [D,2D) of rows (stride ld) into the cache at t0.. */
static void cache_store(const e_state *st, kv_cache c, const float *k, const float *v, int ld, int n, int t0)
{
    const int D = st->D, hd = D / st->nh;
    hst_kcache_store_rows(c.kt_w, k, ld, n, NULL, t0, st->nh, hd, st->key_blocks);
    hst_rows_scatter(v, ld, c.v_w, D, n, D, NULL, t0);
}

/* out = attention of q (stride ldq) over the cache: causal, or every key 0..n_keys-1. */
static double attend(const e_state *st, hst_pool *pool, kv_cache c, const float *q, int ldq, int n, int t0,
                     hst_attn_extent extent, int n_keys)
{
    const int D = st->D, hd = D / st->nh;
    hst_attention_args a = {q,  ldq, c.kt, st->key_blocks, c.v, D, st->att, D, n, st->nh, hd,
                            1.0f / sqrtf((float)hd), extent, n_keys, NULL, t0, NULL};
    hst_attention_run(pool, &a);
    return hst_attention_flops(&a);
}

typedef struct {
    e_state *st;
} diamond_job;

/* [α; β] → [GELU(α + β); GELU(β − α)] in place (12.E.2.5 diamond mixer). */
static void diamond_row(void *ctx, int i)
{
    const diamond_job *j = ctx;
    const int D = j->st->D;
    float *ab = j->st->wide + (size_t)i * 2 * D;
    for (int d = 0; d < D; d++) {
        const float alpha = ab[d], beta = ab[D + d];
        ab[d] = alpha + beta;
        ab[D + d] = beta - alpha;
    }
    hst_gelu_inplace(ab, 2 * D);
}

/* x = LN_d(x + Wm·[GELU(α+β); GELU(β−α)] + bm), [α; β] = Ws·x + bs. */
static void diamond(const e_layer *w, e_state *st, hst_pool *pool, int n)
{
    const int D = st->D;
    hst_matmul(pool, st->x, n, D, &w->split, w->split_b, st->wide, 2 * D, HST_EPI_NONE);
    diamond_job j = {st};
    for_each_row(pool, n, diamond_row, &j);
    hst_matmul(pool, st->wide, n, 2 * D, &w->merge, w->merge_b, st->x, D, HST_EPI_ADD);
    hst_layernorm_rows(pool, st->x, D, st->x, D, w->lnd_g, w->lnd_b, n, D, 0);
}

/* Layer l over rows t0..t0+n-1 (parity: the window, t0 = 0). Cross-attention's
 * memory is the layer input u: causal row t sees memory rows <= t (12.E.3),
 * parity every row of the window (12.E.2.5). */
static double attention_layer(const e_layer *w, e_state *st, hst_pool *pool, int l, int n, int t0, hst_mode mode)
{
    const int D = st->D;
    const kv_cache self = layer_cache(st, st->self_kt, st->self_v, l);
    const kv_cache cross = layer_cache(st, st->cross_kt, st->cross_v, l);
    double flops = 0;
    /* k' = Wk·u + bk, v' = Wv·u + bv of the layer input, before x changes. */
    hst_matmul(pool, st->x, n, D, &w->cross_kv, w->cross_bkv, st->wide, 2 * D, HST_EPI_NONE);
    cache_store(st, cross, st->wide, st->wide + D, 2 * D, n, t0);
    /* x = x + Wso·attn(LN1(x)), causal. */
    hst_layernorm_rows(pool, st->x, D, st->a, D, w->ln1_g, w->ln1_b, n, D, 0);
    hst_matmul(pool, st->a, n, D, &w->qkv, NULL, st->wide, 3 * D, HST_EPI_NONE);
    cache_store(st, self, st->wide + D, st->wide + 2 * D, 3 * D, n, t0);
    flops += attend(st, pool, self, st->wide, 3 * D, n, t0, HST_ATTN_CAUSAL, 0);
    hst_matmul(pool, st->att, n, D, &w->self_out, NULL, st->x, D, HST_EPI_ADD);
    /* x = x + Wco·crossattn(LN2(x) → q', memory u) + bco. */
    hst_layernorm_rows(pool, st->x, D, st->a, D, w->ln2_g, w->ln2_b, n, D, 0);
    hst_matmul(pool, st->a, n, D, &w->cross_q, w->cross_bq, st->wide, D, HST_EPI_NONE);
    flops += mode == HST_MODE_PARITY ? attend(st, pool, cross, st->wide, D, n, t0, HST_ATTN_FULL, t0 + n)
                                     : attend(st, pool, cross, st->wide, D, n, t0, HST_ATTN_CAUSAL, 0);
    hst_matmul(pool, st->att, n, D, &w->cross_out, w->cross_bo, st->x, D, HST_EPI_ADD);
    diamond(w, st, pool, n);
    return flops + 24.0 * D * D * n;
}

/* ---- 12.E.2.7 feedback loop ------------------------------------------------------------ */

typedef struct {
    const e_runtime *rt;
    e_state *st;
} feedback_job;

/* ε = σ(we·x + be); x = (1 − ε)·x + ε·GRU(m = x, h = x) with the gates in
 * wide: [W_ih x + b_ih; W_hh x + b_hh] (section 1 GRU step). */
static void feedback_row_portable(const feedback_job *j, int i)
{
    const int D = j->st->D;
    float *x = j->st->x + (size_t)i * D;
    const float *gi = j->st->wide + (size_t)i * 6 * D, *gh = gi + 3 * D;
    const float eps = hst_sigmoid(dot(j->rt->err_w, x, D) + j->rt->err_b[0]);
    for (int d = 0; d < D; d++) {
        const float r = hst_sigmoid(gi[d] + gh[d]);
        const float z = hst_sigmoid(gi[D + d] + gh[D + d]);
        const float cand = tanhf(gi[2 * D + d] + r * gh[2 * D + d]);
        const float h = (1.0f - z) * cand + z * x[d];
        x[d] = (1.0f - eps) * x[d] + eps * h;
    }
}

__attribute__((target("avx512f"))) static inline __m512 sigmoid512(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/* tanh(x) = sign(x)·(1 − e)/(1 + e), e = exp(−2|x|) ∈ (0, 1]: no overflow;
 * absolute error about 1e-7 near 0 (the rows are O(1), 12.E.2.7). */
__attribute__((target("avx512f"))) static inline __m512 tanh512(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f), ax = _mm512_abs_ps(x);
    const __m512 e = exp512(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
    const __m512 t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_sub_ps(t, negative, _mm512_setzero_ps(), t);
}

__attribute__((target("avx512f"))) static void feedback_row512(const feedback_job *j, int i)
{
    const int D = j->st->D;
    float *x = j->st->x + (size_t)i * D;
    const float *gi = j->st->wide + (size_t)i * 6 * D, *gh = gi + 3 * D;
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 eps = _mm512_set1_ps(hst_sigmoid(dot(j->rt->err_w, x, D) + j->rt->err_b[0]));
    for (int d = 0; d < D; d += HST_NR) {
        const __mmask16 live = D - d >= HST_NR ? (__mmask16)0xffff : (__mmask16)((1u << (D - d)) - 1u);
#define LOAD(p) _mm512_maskz_loadu_ps(live, (p) + d)
        const __m512 r = sigmoid512(_mm512_add_ps(LOAD(gi), LOAD(gh)));
        const __m512 z = sigmoid512(_mm512_add_ps(LOAD(gi + D), LOAD(gh + D)));
        const __m512 cand = tanh512(_mm512_fmadd_ps(r, LOAD(gh + 2 * D), LOAD(gi + 2 * D)));
        const __m512 xd = LOAD(x);
#undef LOAD
        const __m512 h = _mm512_fmadd_ps(_mm512_sub_ps(one, z), cand, _mm512_mul_ps(z, xd));
        _mm512_mask_storeu_ps(x + d, live, _mm512_fmadd_ps(_mm512_sub_ps(one, eps), xd, _mm512_mul_ps(eps, h)));
    }
}

static void feedback_row(void *ctx, int i)
{
    if (hst_kernel_current() == HST_KERNEL_AVX512)
        feedback_row512(ctx, i);
    else
        feedback_row_portable(ctx, i);
}

static double feedback(const e_runtime *rt, e_state *st, hst_pool *pool, int n)
{
    const int D = st->D;
    feedback_job j = {rt, st};
    for (int it = 0; it < FEEDBACK_ITERATIONS; it++) {
        hst_matmul(pool, st->x, n, D, &rt->gru, rt->gru_b, st->wide, 6 * D, HST_EPI_NONE);
        for_each_row(pool, n, feedback_row, &j);
    }
    return (24.0 * D * D + 4.0 * D) * n;
}

/* ---- the call ------------------------------------------------------------------------- */

/* The multi-resolution block: y_1, y_2, y_4, y_8 side by side in wide
 * (sections multires.1..8, their stages), then the fusion. */
static int multires(const hst_session *s, const e_runtime *rt, e_state *st, hst_section_clock *clk, int n, int t0,
                    hst_error *err)
{
    const int D = st->D;
    hst_multires_rows rows = {st->x, D, st->wide, 4 * D, n, t0};
    double flops = s->mode == HST_MODE_PARITY
                       ? hst_multires_parity(&rt->multires, st->multires, s->pool, &rows, clk, err)
                       : hst_multires_causal(&rt->multires, st->multires, s->pool, &rows, clk, err);
    if (flops < 0)
        return -1;
    hst_section_done(clk, fusion(rt, st, s->pool, n));
    hst_stage(s, "fusion", st->x, n, D);
    hst_stage(s, "multires", st->x, n, D);
    return 0;
}

/* The rows at positions t0..t0+n-1 through every op up to the hidden rows
 * (before ln_f), in st->x; the embed..feedback sections closed. */
static int hidden_rows(const hst_session *s, const e_runtime *rt, e_state *st, hst_section_clock *clk,
                       const int *ids, int n, int t0, hst_error *err)
{
    const int D = st->D;
    embed(rt, st, s->pool, ids, n, t0);
    hst_section_done(clk, 0);
    hst_stage(s, "embed", st->x, n, D);
    hst_section_done(clk, hebbian(rt, st, s->pool, n, s->mode));
    hst_stage(s, "hebbian", st->x, n, D);
    if (multires(s, rt, st, clk, n, t0, err) != 0)
        return -1;
    hst_section_done(clk, moe(rt, st, s->pool, n));
    hst_stage(s, "moe", st->x, n, D);
    for (int l = 0; l < st->L; l++) {
        hst_section_done(clk, attention_layer(&rt->layers[l], st, s->pool, l, n, t0, s->mode));
        hst_stage_numbered(s, "attn", l, st->x, n, D);
    }
    hst_section_done(clk, hst_lattice_run(rt->lattice, st->lattice, s->pool, st->x, n, t0));
    hst_stage(s, "lattice", st->x, n, D);
    hst_section_done(clk, feedback(rt, st, s->pool, n));
    hst_stage(s, "feedback", st->x, n, D);
    return 0;
}

/* Causal: the call's rows continue the state (12.E.3). Parity: the window
 * 0..pos+n-1 is recomputed from the history and the call's rows are its
 * last n (12.0 parity calls, 12.E.2). */
static int forward(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err)
{
    const e_runtime *rt = s->model->runtime;
    e_state *st = s->state;
    const int parity = s->mode == HST_MODE_PARITY;
    const int rows = parity ? s->pos + n : n, t0 = parity ? 0 : s->pos;
    hst_section_clock clk;
    hst_section_start(s, &clk);
    if (hidden_rows(s, rt, st, &clk, parity ? s->history : ids, rows, t0, err) != 0)
        return -1;
    /* The tied head E·LN_f(x) (12.E.2.8) on the call's rows, the last n of the window. */
    hst_head_section(s, &clk, st->x, rows, n, rt->lnf_g, rt->lnf_b, &rt->head, st->a, logits, all_logits);
    return 0;
}

/* ---- figures (12.E.5, 12.E.7) ------------------------------------------------------- */

/* C = (114 + 24L)·D² + 22D + 2DV: every row's Hebbian, multi-res (P on the row, fusion),
 * MoE, layers, meta fusion, feedback and head. */
static double row_constant(const hst_config *c)
{
    const double D = c->d_model;
    return (114.0 + 24.0 * c->n_layers) * D * D + 22 * D + 2 * D * c->vocab_size;
}

/* S·(F(S) − C): the attention terms, the pooled rows and the spine updates of a prefill. */
static double prefill_extra(const hst_config *c, hst_mode mode, int S)
{
    const double D = c->d_model, L = c->n_layers;
    double f;
    if (mode == HST_MODE_PARITY) /* full Hebbian and P attention, causal self-, full cross-attention */
        f = S * (4 * D * S + L * (2 * D * (S + 1) + 4 * D * S));
    else
        f = S * (2 * D * (S + 1) + 4 * L * D * (S + 1));
    for (int i = 0; i < 3; i++) {
        const int pooled = S / pool_factors[i]; /* n_f = ⌊S/f⌋; 0 when f > S */
        const double n = pooled;
        f += 24 * D * D * n + (mode == HST_MODE_PARITY ? 4 * D * n * n : 2 * D * n * (n + 1));
    }
    return f + hst_lattice_spine_flops(HST_SPINE_2TERM, c->d_model, S, 0);
}

/* F_c(S) and F_p(S) of 12.E.5. */
static double flops_prefill_per_token(const hst_config *c, hst_mode mode, int S)
{
    return row_constant(c) + prefill_extra(c, mode, S) / S;
}

/* F_d(t) = C + 4D(t+1) + 8LD(t+1) + Σ_{f | t+1} (24D² + 4D(t+1)/f) + [16D²(1 + n_t) if t
 * is processed]; parity recomputes the window: (t+1)·F_p(t+1). */
static double flops_decode(const hst_config *c, hst_mode mode, int t)
{
    if (mode == HST_MODE_PARITY)
        return (t + 1) * row_constant(c) + prefill_extra(c, HST_MODE_PARITY, t + 1);
    const double D = c->d_model, keys = t + 1;
    double f = row_constant(c) + 4 * D * keys + 8.0 * c->n_layers * D * keys;
    for (int i = 0; i < 3; i++)
        if ((t + 1) % pool_factors[i] == 0)
            f += 24 * D * D + 4 * D * keys / pool_factors[i];
    return f + hst_lattice_spine_flops(HST_SPINE_2TERM, c->d_model, 1, t);
}

/* 12.E.7: a step that is not a processed spine position reads (49 + 12L)·D² + (44 + 13L)·D
 * + 9 + V·D floats (2,638,089 at hst-v8: two of the eight experts, norm3 not read). */
static double step_weight_floats(const hst_config *c)
{
    const double D = c->d_model, L = c->n_layers;
    return (49 + 12 * L) * D * D + (44 + 13 * L) * D + 9 + (double)c->vocab_size * D;
}

/* Per cached position: self- and cross-attention K/V of every layer and P's K/V, (4L + 2)·D floats. */
static double kv_bytes_per_position(const hst_config *c)
{
    return (4.0 * c->n_layers + 2.0) * c->d_model * sizeof(float);
}

/* A prefill reads the step's weights, the six other experts and the spine weights
 * once, writes the K/V of its rows and pooled rows, and M (D² floats). */
static double bytes_prefill(const hst_config *c, hst_mode mode, int S)
{
    (void)mode;
    const double D = c->d_model;
    double floats = step_weight_floats(c) + 6 * 8 * D * D + 16 * D * D + 19 * D + D * D;
    int pooled = 0;
    for (int i = 0; i < 3; i++)
        pooled += S / pool_factors[i]; /* ⌊S/f⌋ pooled rows */
    return sizeof(float) * floats + kv_bytes_per_position(c) * S + 2 * D * sizeof(float) * pooled;
}

/* Causal (12.E.7): the step's weights, M (D² floats, 64 KiB at D 128), the K/V of positions 0..t,
 * the pooled keys of a completing block, the spine weights at a processed position.
 * Parity: the window recomputed. */
static double bytes_decode(const hst_config *c, hst_mode mode, int t)
{
    if (mode == HST_MODE_PARITY)
        return bytes_prefill(c, mode, t + 1);
    const double D = c->d_model;
    double floats = step_weight_floats(c) + D * D, kv = kv_bytes_per_position(c) * (t + 1);
    for (int i = 0; i < 3; i++)
        if ((t + 1) % pool_factors[i] == 0) {
            const int pooled = (t + 1) / pool_factors[i]; /* the pooled rows so far */
            kv += 2 * D * sizeof(float) * pooled;
        }
    if (hst_lattice_spine_flops(HST_SPINE_2TERM, c->d_model, 1, t) > 0)
        floats += 16 * D * D + 19 * D;
    return sizeof(float) * floats + kv;
}

const hst_core_ops hst_core_e = {
    .name = "E",
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
