/* core_d.c — Core D, v7.1 Ultimate (arch v7.1, preset hst-v7.1): spec 12.D.
 *
 * embedding (token row + the load-time pe table) → multi-resolution block
 * (engine/multires.h: four post-norm processors) → fusion → top-2 mixture of
 * experts → L block-sparse attention layers → lattice (engine/lattice.h,
 * 3-term spine) → ln_f and lm_head. No residual between the stages.
 *
 * Both modes share every row-wise op. Parity (12.D.2) recomputes the window
 * 0..t1 at each call; causal (12.D.3) continues its state: the multi-res
 * caches, per attention layer the K/V cache, the running k sum of the open
 * 64-block, the final keep flags of completed blocks and the running v sum,
 * and the lattice's kept rows. Every running sum goes in row order and every
 * matmul row is computed the same alone or in a batch, so a row's bits (and
 * the keep and expert decisions) never depend on how rows are split into
 * calls (12.0, 12.D.3.3). */
#include "engine/lattice.h"
#include "engine/multires.h"
#include "engine/preblock.h"
#include "engine/rowops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORE_D_FF 2048            /* the multi-res layers' FFN width (12.D) */
#define CORE_D_BLOCK HST_ATTN_KEEP_BLOCK /* attention block size 64 (12.D.2.4) */
#define CORE_D_BLOCK_ROUTER 128   /* block-router width */
#define CORE_D_ROUTER 512         /* expert-router width (12.D.2.3) */
#define CORE_D_EXPERTS 8
#define CORE_D_MR_HEADS 8         /* the multi-res layers' heads (12.D.2.2) */
static const int resolutions[] = {2, 4, 8}; /* the pooled resolutions r (R = 1, 2, 4, 8) */

/* ---- the runtime view of a model ---------------------------------------------------- */

typedef struct {
    hst_packed up, down; /* experts.{e}.0 [4D, D], .2 [D, 4D] */
    const float *up_b, *down_b;
} expert_rt;

typedef struct {
    hst_packed qkv;              /* [3D, D], no bias */
    hst_packed out;              /* out_proj [D, D] */
    hst_packed router1, router2; /* block_router.0 [128, D], .2 [1, 128] */
    const float *out_b, *router1_b, *router2_b;
} attn_rt;

typedef struct {
    const float *tok_emb;
    float *pe; /* [Lmax][D]: pe(t) of 12.D.2.1, computed at load */
    hst_encoder *processors[HST_MULTIRES_COUNT];
    hst_multires multires;
    hst_packed fusion0, fusion3; /* multi_res.fusion.0 [2D, 4D], .3 [D, 2D] */
    const float *fusion0_b, *fusion_ln_g, *fusion_ln_b, *fusion3_b;
    hst_packed router1, router2; /* sparse_router.router.0 [512, D], .2 [8, 512] */
    const float *router1_b, *router2_b;
    expert_rt experts[CORE_D_EXPERTS];
    attn_rt *layers; /* [L] */
    hst_lattice *lattice;
    const float *lnf_g, *lnf_b;
    hst_packed head;
} d_runtime;

static void runtime_free(void *runtime, const hst_config *cfg)
{
    d_runtime *rt = runtime;
    if (!rt)
        return;
    free(rt->pe);
    for (int k = 0; k < HST_MULTIRES_COUNT; k++)
        hst_encoder_free(rt->processors[k]);
    hst_packed *own[] = {&rt->fusion0, &rt->fusion3, &rt->router1, &rt->router2, &rt->head};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        hst_packed_free(own[i]);
    for (int e = 0; e < CORE_D_EXPERTS; e++) {
        hst_packed_free(&rt->experts[e].up);
        hst_packed_free(&rt->experts[e].down);
    }
    for (int l = 0; rt->layers && l < cfg->n_layers; l++) {
        attn_rt *a = &rt->layers[l];
        hst_packed *mats[] = {&a->qkv, &a->out, &a->router1, &a->router2};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
            hst_packed_free(mats[i]);
    }
    free(rt->layers);
    hst_lattice_free(rt->lattice);
    free(rt);
}

/* pe(t) = [s(t); ℓ(t)] for t < Lmax (12.D.2.1). s follows the float32 recipe:
 * c = fl32(-ln(10000)/(D/2)), f_k = expf(fl32(2k·c)), a = fl32(t·f_k),
 * sinf(a), cosf(a), each function correctly rounded. glibc's float functions
 * are not always (glibc 2.36: sinf(34) is 1 ulp off), so they are evaluated in
 * double and rounded once. ℓ(t) = GELU(LN(W·[ld; rd; lvl] + b)) over the
 * 3-term spine. */
static float *pe_table(const hst_config *c, const float *W, const float *b, const float *gamma, const float *beta)
{
    const int D = c->d_model, half = D / 2, Lmax = c->max_seq_len;
    int failed = 0;
    float *pe = hst_alloc_floats((size_t)Lmax * D, &failed);
    if (failed)
        return NULL;
    int64_t spine[HST_SPINE_MAX];
    const int n_spine = hst_spine_of(HST_SPINE_3TERM, Lmax, spine);
    const float coef = (float)(-log(10000.0) / half);
    for (int t = 0; t < Lmax; t++) {
        float *row = pe + (size_t)t * D, *lat = row + half;
        for (int k = 0; k < half / 2; k++) {
            const float f = (float)exp((double)((float)(2 * k) * coef)), a = (float)t * f;
            row[2 * k] = (float)sin((double)a);
            row[2 * k + 1] = (float)cos((double)a);
        }
        int level = 0;
        while (level < n_spine && spine[level] <= t)
            level++; /* lvl = #{s <= t}; spine[level - 1] is the left neighbour */
        const float feat[3] = {(float)(t - spine[level - 1]), level < n_spine ? (float)(spine[level] - t) : 0.0f,
                               (float)level};
        for (int j = 0; j < half; j++)
            lat[j] = W[3 * j] * feat[0] + W[3 * j + 1] * feat[1] + W[3 * j + 2] * feat[2] + b[j];
        hst_layernorm(lat, gamma, beta, lat, half);
        for (int j = 0; j < half; j++)
            lat[j] = hst_gelu(lat[j]);
    }
    return pe;
}

/* multi_res.processors.{i}: the post-norm layer of 12.D.2.2, 8 heads, F = 2048. */
static hst_encoder *processor_build(hst_resolver *r, int i)
{
    const char *p = "multi_res.processors";
    hst_encoder_weights w = {
        hst_resolve(r, "%s.%d.self_attn.in_proj_weight", p, i), hst_resolve(r, "%s.%d.self_attn.in_proj_bias", p, i),
        hst_resolve(r, "%s.%d.self_attn.out_proj.weight", p, i), hst_resolve(r, "%s.%d.self_attn.out_proj.bias", p, i),
        hst_resolve(r, "%s.%d.linear1.weight", p, i),           hst_resolve(r, "%s.%d.linear1.bias", p, i),
        hst_resolve(r, "%s.%d.linear2.weight", p, i),           hst_resolve(r, "%s.%d.linear2.bias", p, i),
        hst_resolve(r, "%s.%d.norm1.weight", p, i),             hst_resolve(r, "%s.%d.norm1.bias", p, i),
        hst_resolve(r, "%s.%d.norm2.weight", p, i),             hst_resolve(r, "%s.%d.norm2.bias", p, i),
    };
    if (r->failed)
        return NULL;
    hst_encoder_config cfg = {r->m->cfg.d_model, CORE_D_MR_HEADS, CORE_D_FF, HST_ENCODER_POST_NORM, r->precision};
    hst_encoder *e = hst_encoder_create(&w, &cfg, r->err);
    r->failed |= !e;
    return e;
}

/* A Linear packed in the model's precision; its bias through *bias (may be NULL: no bias). */
static void linear_resolve(hst_resolver *r, hst_packed *W, const float **bias, int N, int K, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void linear_resolve(hst_resolver *r, hst_packed *W, const float **bias, int N, int K, const char *fmt, ...)
{
    char prefix[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    hst_resolve_pack_hot(r, W, hst_resolve(r, "%s.weight", prefix), N, K);
    if (bias)
        *bias = hst_resolve(r, "%s.bias", prefix);
}

static void attn_resolve(hst_resolver *r, attn_rt *a, int l, int D)
{
    const char *p = "attention_layers";
    linear_resolve(r, &a->qkv, NULL, 3 * D, D, "%s.%d.qkv", p, l);
    linear_resolve(r, &a->out, &a->out_b, D, D, "%s.%d.out_proj", p, l);
    linear_resolve(r, &a->router1, &a->router1_b, CORE_D_BLOCK_ROUTER, D, "%s.%d.block_router.0", p, l);
    linear_resolve(r, &a->router2, &a->router2_b, 1, CORE_D_BLOCK_ROUTER, "%s.%d.block_router.2", p, l);
}

static void mixer_resolve(hst_resolver *r, d_runtime *rt, int D)
{
    linear_resolve(r, &rt->fusion0, &rt->fusion0_b, 2 * D, 4 * D, "multi_res.fusion.0");
    rt->fusion_ln_g = hst_resolve(r, "multi_res.fusion.1.weight");
    rt->fusion_ln_b = hst_resolve(r, "multi_res.fusion.1.bias");
    linear_resolve(r, &rt->fusion3, &rt->fusion3_b, D, 2 * D, "multi_res.fusion.3");
    linear_resolve(r, &rt->router1, &rt->router1_b, CORE_D_ROUTER, D, "sparse_router.router.0");
    linear_resolve(r, &rt->router2, &rt->router2_b, CORE_D_EXPERTS, CORE_D_ROUTER, "sparse_router.router.2");
    for (int e = 0; e < CORE_D_EXPERTS; e++) {
        expert_rt *x = &rt->experts[e];
        linear_resolve(r, &x->up, &x->up_b, 4 * D, D, "sparse_router.experts.%d.0", e);
        linear_resolve(r, &x->down, &x->down_b, D, 4 * D, "sparse_router.experts.%d.2", e);
    }
}

static void *runtime_build(hst_model *m, hst_precision precision, hst_error *err)
{
    const hst_config *c = &m->cfg;
    const int D = c->d_model;
    d_runtime *rt = calloc(1, sizeof *rt);
    hst_resolver r = {m, err, 0, precision};
    if (!rt || !(rt->layers = calloc((size_t)c->n_layers, sizeof *rt->layers))) {
        free(rt);
        hst_set_error(err, "%s: out of memory", m->source);
        return NULL;
    }
    rt->tok_emb = hst_resolve(&r, "token_embedding.weight");
    const char *le = "pos_encoding.lattice_encoder";
    const float *le_w = hst_resolve(&r, "%s.0.weight", le), *le_b = hst_resolve(&r, "%s.0.bias", le);
    const float *le_g = hst_resolve(&r, "%s.1.weight", le), *le_beta = hst_resolve(&r, "%s.1.bias", le);
    for (int k = 0; k < HST_MULTIRES_COUNT; k++)
        rt->multires.layers[k] = rt->processors[k] = processor_build(&r, k);
    rt->multires.pooling = HST_MULTIRES_POOL_ADAPTIVE;
    mixer_resolve(&r, rt, D);
    for (int l = 0; l < c->n_layers; l++)
        attn_resolve(&r, &rt->layers[l], l, D);
    rt->lattice = hst_lattice_build(&r, "lattice_core.", HST_SPINE_3TERM);
    rt->lnf_g = hst_resolve(&r, "ln_f.weight");
    rt->lnf_b = hst_resolve(&r, "ln_f.bias");
    hst_resolve_pack_hot(&r, &rt->head, hst_resolve(&r, "lm_head.weight"), c->vocab_size, D);
    if (!r.failed && !(rt->pe = pe_table(c, le_w, le_b, le_g, le_beta))) {
        hst_set_error(err, "%s: out of memory for the positional table", m->source);
        r.failed = 1;
    }
    if (r.failed) {
        runtime_free(rt, c);
        return NULL;
    }
    return rt;
}

static uint64_t packed_bytes(const void *runtime, const hst_config *cfg)
{
    const d_runtime *rt = runtime;
    uint64_t bytes = hst_lattice_packed_bytes(rt->lattice) + hst_packed_bytes(&rt->head) +
                     hst_packed_bytes(&rt->fusion0) + hst_packed_bytes(&rt->fusion3) +
                     hst_packed_bytes(&rt->router1) + hst_packed_bytes(&rt->router2);
    for (int k = 0; k < HST_MULTIRES_COUNT; k++)
        bytes += hst_encoder_packed_bytes(rt->processors[k]);
    for (int e = 0; e < CORE_D_EXPERTS; e++)
        bytes += hst_packed_bytes(&rt->experts[e].up) + hst_packed_bytes(&rt->experts[e].down);
    for (int l = 0; l < cfg->n_layers; l++) {
        const attn_rt *a = &rt->layers[l];
        bytes += hst_packed_bytes(&a->qkv) + hst_packed_bytes(&a->out) + hst_packed_bytes(&a->router1) +
                 hst_packed_bytes(&a->router2);
    }
    return bytes;
}

/* ---- a session's state -------------------------------------------------------------- */

typedef struct {
    int D, nh, L, Lmax, key_blocks, n_blocks;
    hst_multires_state *multires;
    hst_lattice_state *lattice;
    /* per attention layer (12.D.3.1) */
    float *kcache, *vcache; /* [L] K (transposed blocks, hst_kcache_store) and V caches */
    float *k_sum;           /* [L][D]: the k rows of the open 64-block, summed in row order */
    float *v_sum;           /* [L][D]: the v rows so far, summed in row order (the uniform rows) */
    unsigned char *keep;    /* [L][n_blocks]: final keep flags of the completed blocks (parity: every block's) */
    /* scratch for calls of up to Lmax rows */
    float *x;               /* [Lmax][D]: the stage rows (embedding, MoE, attention, lattice) */
    float *y4;              /* [Lmax][4D]: [y_1 | y_2 | y_4 | y_8] */
    float *wide;            /* [Lmax][max(4D, 512)]: fusion, router and expert hidden rows */
    float *z;               /* [Lmax][D]: the fused rows */
    float *slot[2];         /* [Lmax][D]: X_e1(z), X_e2(z) */
    float *gathered;        /* [Lmax][D]: rows gathered for an expert, kept queries, ln_f rows */
    float *work;            /* [Lmax][D]: expert outputs, k means, attention outputs */
    float *qkv;             /* [Lmax][3D] */
    float *o;               /* [Lmax][D]: the attention layer's o rows */
    float *router_out;      /* [Lmax][8]: expert-router logits; block-router g in column 0 */
    float *weights;         /* [Lmax][2]: p_e1, p_e2 */
    int *experts;           /* [Lmax][2]: e1, e2 */
    int *index;             /* [Lmax]: gathered rows' row numbers */
    int *positions;         /* [Lmax]: gathered rows' positions */
    unsigned char *slot_of; /* [Lmax]: gathered rows' slot (0: e1, 1: e2) */
    unsigned char *phi;     /* [Lmax]: the rows' keep flags */
} d_state;

static int wide_width(int D) { return 4 * D > CORE_D_ROUTER ? 4 * D : CORE_D_ROUTER; }

static void state_free(void *state)
{
    d_state *st = state;
    if (!st)
        return;
    hst_multires_state_free(st->multires);
    hst_lattice_state_free(st->lattice);
    void *bufs[] = {st->kcache, st->vcache,  st->k_sum,    st->v_sum,   st->keep,     st->x,
                    st->y4,     st->wide,    st->z,        st->slot[0], st->slot[1],  st->gathered,
                    st->work,   st->qkv,     st->o,        st->router_out, st->weights, st->experts,
                    st->index,  st->positions, st->slot_of, st->phi};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(st);
}

static int alloc_scratch(d_state *st)
{
    const size_t rows = (size_t)st->Lmax, D = (size_t)st->D;
    int failed = 0;
    st->x = hst_alloc_floats(rows * D, &failed);
    st->y4 = hst_alloc_floats(rows * 4 * D, &failed);
    st->wide = hst_alloc_floats(rows * (size_t)wide_width(st->D), &failed);
    st->z = hst_alloc_floats(rows * D, &failed);
    st->slot[0] = hst_alloc_floats(rows * D, &failed);
    st->slot[1] = hst_alloc_floats(rows * D, &failed);
    st->gathered = hst_alloc_floats(rows * D, &failed);
    st->work = hst_alloc_floats(rows * D, &failed);
    st->qkv = hst_alloc_floats(rows * 3 * D, &failed);
    st->o = hst_alloc_floats(rows * D, &failed);
    st->router_out = hst_alloc_floats(rows * CORE_D_EXPERTS, &failed);
    st->weights = hst_alloc_floats(rows * 2, &failed);
    st->experts = calloc(rows * 2, sizeof *st->experts);
    st->index = calloc(rows, sizeof *st->index);
    st->positions = calloc(rows, sizeof *st->positions);
    st->slot_of = calloc(rows, 1);
    st->phi = calloc(rows, 1);
    return failed || !st->experts || !st->index || !st->positions || !st->slot_of || !st->phi ? -1 : 0;
}

static void *state_create(const hst_model *m, hst_error *err)
{
    const hst_config *c = &m->cfg;
    const d_runtime *rt = m->runtime;
    d_state *st = calloc(1, sizeof *st);
    if (!st) {
        hst_set_error(err, "session: out of memory");
        return NULL;
    }
    st->D = c->d_model;
    st->nh = c->n_heads;
    st->L = c->n_layers;
    st->Lmax = c->max_seq_len;
    st->key_blocks = hst_kv_key_blocks(c->max_seq_len);
    st->n_blocks = (c->max_seq_len + CORE_D_BLOCK - 1) / CORE_D_BLOCK;
    if (!(st->multires = hst_multires_state_create(&rt->multires, c->max_seq_len, err))) {
        state_free(st);
        return NULL;
    }
    const size_t L = (size_t)st->L, D = (size_t)st->D;
    int failed = 0;
    st->kcache = hst_alloc_floats(L * hst_kv_k_floats(st->D, st->Lmax), &failed);
    st->vcache = hst_alloc_floats(L * hst_kv_v_floats(st->D, st->Lmax), &failed);
    st->k_sum = hst_alloc_floats(L * D, &failed);
    st->v_sum = hst_alloc_floats(L * D, &failed);
    st->keep = calloc(L * (size_t)st->n_blocks, 1);
    st->lattice = hst_lattice_state_create(HST_SPINE_3TERM, st->D, st->Lmax, st->Lmax);
    if (failed || !st->keep || !st->lattice || alloc_scratch(st) != 0) {
        state_free(st);
        hst_set_error(err, "session: out of memory for buffers of %s", m->preset);
        return NULL;
    }
    return st;
}

/* Every running sum restarts at position 0 (block starts and t = 0 reset them
 * too); flags and kept rows are forgotten. */
static void state_reset(void *state)
{
    d_state *st = state;
    hst_multires_state_reset(st->multires);
    hst_lattice_state_reset(st->lattice);
    memset(st->keep, 0, (size_t)st->L * st->n_blocks);
}

/* 12.D.3.1: the multi-res caches and sums, per layer K, V, the k and v sums
 * and the flags (the lattice's few kept rows are the lattice's). */
static uint64_t state_bytes(const hst_config *c)
{
    const uint64_t per_layer = (hst_kv_k_floats(c->d_model, c->max_seq_len) +
                                hst_kv_v_floats(c->d_model, c->max_seq_len) + 2u * (uint64_t)c->d_model) *
                                   sizeof(float) +
                               (uint64_t)(c->max_seq_len + CORE_D_BLOCK - 1) / CORE_D_BLOCK;
    return hst_multires_state_bytes(c->d_model, c->max_seq_len) + per_layer * (uint64_t)c->n_layers;
}

/* 12.D.7: embed, multires.1/2/4/8, fusion, moe, attn.l, lattice, head. */
static int section_names(const hst_config *c, char (*names)[HST_SECTION_NAME_BYTES])
{
    int k = hst_section_name(names, 0, "embed");
    for (int r = 1; r <= 8; r *= 2)
        k = hst_section_name(names, k, "multires.%d", r);
    k = hst_section_name(names, k, "fusion");
    k = hst_section_name(names, k, "moe");
    for (int l = 0; l < c->n_layers; l++)
        k = hst_section_name(names, k, "attn.%d", l);
    k = hst_section_name(names, k, "lattice");
    return hst_section_name(names, k, "head");
}

/* ---- the ops (12.D.2; 12.D.3 where causal differs) ------------------------------------ */

/* z = W_3·GELU(LN_2D(W_0·[y_1; y_2; y_4; y_8] + b_0)) + b_3 (12.D.2.2). */
static double fuse(const d_runtime *rt, d_state *st, hst_pool *pool, int rows)
{
    const int D = st->D;
    hst_matmul(pool, st->y4, rows, 4 * D, &rt->fusion0, rt->fusion0_b, st->wide, 2 * D, HST_EPI_NONE);
    hst_layernorm_rows(pool, st->wide, 2 * D, st->wide, 2 * D, rt->fusion_ln_g, rt->fusion_ln_b, rows, 2 * D, 1);
    hst_matmul(pool, st->wide, rows, 2 * D, &rt->fusion3, rt->fusion3_b, st->z, D, HST_EPI_NONE);
    return 20.0 * D * D * rows;
}

/* p = softmax(logits) over the 8 experts; the two largest, the lower index
 * first on equal values; their probabilities unrenormalised (12.D.2.3). */
static void top2(const float *logits, int *experts, float *weights)
{
    float p[CORE_D_EXPERTS], max = logits[0], sum = 0;
    for (int e = 1; e < CORE_D_EXPERTS; e++)
        max = logits[e] > max ? logits[e] : max;
    for (int e = 0; e < CORE_D_EXPERTS; e++) {
        p[e] = expf(logits[e] - max);
        sum += p[e];
    }
    for (int e = 0; e < CORE_D_EXPERTS; e++)
        p[e] /= sum; /* ties are between probabilities: compare after the division */
    int first = 0;
    for (int e = 1; e < CORE_D_EXPERTS; e++)
        if (p[e] > p[first])
            first = e;
    int second = first == 0 ? 1 : 0;
    for (int e = second + 1; e < CORE_D_EXPERTS; e++)
        if (e != first && p[e] > p[second])
            second = e;
    experts[0] = first;
    experts[1] = second;
    weights[0] = p[first];
    weights[1] = p[second];
}

/* X_e(z) = W_e2·GELU(W_e1·z + b_e1) + b_e2 for the rows routed to expert e,
 * gathered into one batch and scattered into the slot they were chosen in. */
static void run_expert(const expert_rt *x, d_state *st, hst_pool *pool, int e, int rows)
{
    const int D = st->D;
    int count = 0;
    for (int i = 0; i < rows; i++)
        for (int k = 0; k < 2; k++)
            if (st->experts[2 * i + k] == e) {
                memcpy(st->gathered + (size_t)count * D, st->z + (size_t)i * D, (size_t)D * sizeof(float));
                st->index[count] = i;
                st->slot_of[count++] = (unsigned char)k;
            }
    if (count == 0)
        return;
    hst_matmul(pool, st->gathered, count, D, &x->up, x->up_b, st->wide, 4 * D, HST_EPI_NONE);
    hst_gelu_inplace(st->wide, count * 4 * D);
    hst_matmul(pool, st->wide, count, 4 * D, &x->down, x->down_b, st->work, D, HST_EPI_NONE);
    for (int j = 0; j < count; j++)
        memcpy(st->slot[st->slot_of[j]] + (size_t)st->index[j] * D, st->work + (size_t)j * D,
               (size_t)D * sizeof(float));
}

/* m = p_e1·X_e1(z) + p_e2·X_e2(z) into st->x (12.D.2.3). */
static double moe(const d_runtime *rt, d_state *st, hst_pool *pool, int rows)
{
    const int D = st->D;
    hst_matmul(pool, st->z, rows, D, &rt->router1, rt->router1_b, st->wide, CORE_D_ROUTER, HST_EPI_NONE);
    hst_gelu_inplace(st->wide, rows * CORE_D_ROUTER);
    hst_matmul(pool, st->wide, rows, CORE_D_ROUTER, &rt->router2, rt->router2_b, st->router_out, CORE_D_EXPERTS,
               HST_EPI_NONE);
    for (int i = 0; i < rows; i++)
        top2(st->router_out + (size_t)i * CORE_D_EXPERTS, st->experts + 2 * i, st->weights + 2 * i);
    for (int e = 0; e < CORE_D_EXPERTS; e++)
        run_expert(&rt->experts[e], st, pool, e, rows);
    for (int i = 0; i < rows; i++) {
        const float p1 = st->weights[2 * i], p2 = st->weights[2 * i + 1];
        const float *a = st->slot[0] + (size_t)i * D, *b = st->slot[1] + (size_t)i * D;
        float *m = st->x + (size_t)i * D;
        for (int d = 0; d < D; d++)
            m[d] = p1 * a[d] + p2 * b[d];
    }
    return rows * (1024.0 * D + 8192.0 + 32.0 * D * D);
}

/* ---- the block-sparse attention layers (12.D.2.4, 12.D.3 item 3) ------------------------ */

/* The running mean of the k rows over each row's 64-block so far, summed in
 * row order into k_sum (which carries the open block across calls). Causal
 * (every_row): one mean per row, k̄(t). Parity: one per block, at its last
 * row in the window (the partial last block's mean). at[j] = the row of mean j. */
static int block_means(float *k_sum, const float *qkv, int rows, int t0, int D, int every_row, float *means, int *at)
{
    int count = 0;
    for (int i = 0; i < rows; i++) {
        const int t = t0 + i, in_block = t % CORE_D_BLOCK + 1;
        const float *k = qkv + (size_t)i * 3 * D + D;
        if (in_block == 1)
            memset(k_sum, 0, (size_t)D * sizeof *k_sum);
        for (int d = 0; d < D; d++)
            k_sum[d] += k[d];
        if (!every_row && in_block != CORE_D_BLOCK && i != rows - 1)
            continue;
        float *mean = means + (size_t)count * D;
        for (int d = 0; d < D; d++)
            mean[d] = k_sum[d] / (float)in_block;
        at[count++] = i;
    }
    return count;
}

/* The rows' flags phi (and the layer's block flags keep) from g(k̄) > 0, g(u) =
 * w2·ReLU(W1·u + b1) + b2. Parity: keep_b from block b's mean, phi(t) =
 * keep_{t/64}. Causal: phi(t) from the running mean; a block's final flag is
 * its last row's. Returns the block router's FLOPs. */
static double keep_flags(const attn_rt *a, d_state *st, hst_pool *pool, unsigned char *keep, int rows, int t0,
                         int parity, float *k_sum)
{
    const int D = st->D, H = CORE_D_BLOCK_ROUTER;
    const int count = block_means(k_sum, st->qkv, rows, t0, D, !parity, st->work, st->index);
    hst_matmul(pool, st->work, count, D, &a->router1, a->router1_b, st->wide, H, HST_EPI_RELU);
    hst_matmul(pool, st->wide, count, H, &a->router2, a->router2_b, st->router_out, 1, HST_EPI_NONE);
    for (int j = 0; j < count; j++) {
        const int t = t0 + st->index[j];
        const unsigned char flag = st->router_out[j] > 0.0f;
        if (parity || t % CORE_D_BLOCK == CORE_D_BLOCK - 1)
            keep[t / CORE_D_BLOCK] = flag;
        if (!parity)
            st->phi[j] = flag;
    }
    for (int i = 0; parity && i < rows; i++)
        st->phi[i] = keep[(t0 + i) / CORE_D_BLOCK];
    return count * (2.0 * H * D + 2.0 * H);
}

/* Rows whose flag is 0 get the uniform mean of v over keys 0..t (v_sum, in row
 * order, restarting at t = 0); the others' queries are gathered for the
 * attention. Returns how many were gathered. */
static int uniform_rows(d_state *st, float *v_sum, int rows, int t0)
{
    const int D = st->D;
    int kept = 0;
    for (int i = 0; i < rows; i++) {
        const int t = t0 + i;
        const float *qkv = st->qkv + (size_t)i * 3 * D;
        if (t == 0)
            memset(v_sum, 0, (size_t)D * sizeof *v_sum);
        for (int d = 0; d < D; d++)
            v_sum[d] += qkv[2 * D + d];
        if (st->phi[i]) {
            memcpy(st->gathered + (size_t)kept * D, qkv, (size_t)D * sizeof *qkv);
            st->index[kept] = i;
            st->positions[kept++] = t;
            continue;
        }
        float *o = st->o + (size_t)i * D;
        for (int d = 0; d < D; d++)
            o[d] = v_sum[d] / (float)(t + 1);
    }
    return kept;
}

/* attention_layers.{l} on the rows in st->x (positions t0..), output into st->x:
 * qkv, K/V appended, keep flags, uniform or block-filtered softmax attention
 * (scale 1/sqrt(D), 12.D.2.4), out_proj. */
static double attention_layer(const d_runtime *rt, d_state *st, hst_pool *pool, int l, int rows, int t0, int parity)
{
    const attn_rt *a = &rt->layers[l];
    const int D = st->D, hd = D / st->nh;
    float *kt = st->kcache + (size_t)l * hst_kv_k_floats(D, st->Lmax);
    float *vc = st->vcache + (size_t)l * hst_kv_v_floats(D, st->Lmax);
    unsigned char *keep = st->keep + (size_t)l * st->n_blocks;
    hst_matmul(pool, st->x, rows, D, &a->qkv, NULL, st->qkv, 3 * D, HST_EPI_NONE);
    hst_kcache_store_rows(kt, st->qkv + D, 3 * D, rows, NULL, t0, st->nh, hd, st->key_blocks);
    hst_rows_scatter(st->qkv + 2 * D, 3 * D, vc, D, rows, D, NULL, t0);
    double flops = 8.0 * D * D * rows;
    flops += keep_flags(a, st, pool, keep, rows, t0, parity, st->k_sum + (size_t)l * D);
    const int kept = uniform_rows(st, st->v_sum + (size_t)l * D, rows, t0);
    if (kept > 0) {
        hst_attention_args args = {st->gathered, D, kt, st->key_blocks, vc, D, st->work, D, kept, st->nh, hd,
                                   1.0f / sqrtf((float)D), HST_ATTN_CAUSAL, 0, st->positions, 0, keep};
        hst_attention_run(pool, &args);
        flops += hst_attention_flops(&args);
        for (int j = 0; j < kept; j++)
            memcpy(st->o + (size_t)st->index[j] * D, st->work + (size_t)j * D, (size_t)D * sizeof(float));
    }
    hst_matmul(pool, st->o, rows, D, &a->out, a->out_b, st->x, D, HST_EPI_NONE);
    return flops;
}

/* ---- the call --------------------------------------------------------------------------- */

/* Parity computes the window 0..pos+n-1 from the history and returns its last
 * n rows; causal computes the call's n rows on top of the state. */
static int forward(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err)
{
    const d_runtime *rt = s->model->runtime;
    d_state *st = s->state;
    const int parity = s->mode == HST_MODE_PARITY, D = st->D;
    const int t0 = parity ? 0 : s->pos, rows = parity ? s->pos + n : n;
    hst_section_clock clk;
    hst_section_start(s, &clk);
    hst_embed_rows(rt->tok_emb, rt->pe, D, parity ? s->history : ids, rows, t0, st->x); /* 12.D.2.1 */
    hst_section_done(&clk, 0);
    hst_stage(s, "embed", st->x, rows, D);
    hst_multires_rows mr = {st->x, D, st->y4, 4 * D, rows, t0};
    if ((parity ? hst_multires_parity : hst_multires_causal)(&rt->multires, st->multires, s->pool, &mr, &clk, err) < 0)
        return -1;
    hst_section_done(&clk, fuse(rt, st, s->pool, rows));
    hst_stage(s, "fusion", st->z, rows, D);
    hst_stage(s, "multires", st->z, rows, D);
    hst_section_done(&clk, moe(rt, st, s->pool, rows));
    hst_stage(s, "moe", st->x, rows, D);
    for (int l = 0; l < st->L; l++) {
        hst_section_done(&clk, attention_layer(rt, st, s->pool, l, rows, t0, parity));
        hst_stage_numbered(s, "attn", l, st->x, rows, D);
    }
    hst_section_done(&clk, hst_lattice_run(rt->lattice, st->lattice, s->pool, st->x, rows, t0));
    hst_stage(s, "lattice", st->x, rows, D);
    hst_head_section(s, &clk, st->x, rows, n, rt->lnf_g, rt->lnf_b, &rt->head, st->gathered, logits, all_logits);
    return 0;
}

/* ---- figures (12.D.6, 12.D.8) ------------------------------------------------------- */

/* Per-row constants of 12.D.6: one PostEnc row P = 8D² + 4DF; fusion, router and two
 * experts Mx = 52D² + 1024D + 8192; one block-router call B = 256D + 256. */
static double postenc_row(double D) { return 8 * D * D + 4 * D * CORE_D_FF; }
static double mix_row(double D) { return 52 * D * D + 1024 * D + 8192; }
static double block_router(double D) { return 2 * CORE_D_BLOCK_ROUTER * D + 2 * CORE_D_BLOCK_ROUTER; }

/* Lat(S) = 16D²·S + Σ_{processed p<S} 16D²(1 + n_p) (section 11). */
static double lattice_flops(const hst_config *c, int S)
{
    return hst_lattice_flops(HST_SPINE_3TERM, c->d_model, S, 0);
}

/* S·F_par(S) and S·F_c(S) of 12.D.6: every block counted as kept. */
static double prefill_total(const hst_config *c, hst_mode mode, int S)
{
    const double D = c->d_model, P = postenc_row(D), L = c->n_layers;
    const int parity = mode == HST_MODE_PARITY;
    double total = S * P + (parity ? 4 * D * S * (double)S : 2 * D * S * (S + 1.0));
    for (int i = 0; i < 3; i++) {
        const int pooled = S / resolutions[i]; /* n_r = ⌊S/r⌋ */
        const double n = pooled;
        total += n * P + (parity ? 4 * D * n * n : 2 * D * n * (n + 1));
    }
    const int blocks = (S + CORE_D_BLOCK - 1) / CORE_D_BLOCK;
    const double routers = parity ? blocks : S; /* per block, or per row */
    total += S * mix_row(D) + L * (8 * D * D * S + 2 * D * S * (S + 1.0) + routers * block_router(D));
    return total + lattice_flops(c, S) + 2 * D * c->vocab_size * S;
}

static double flops_prefill_per_token(const hst_config *c, hst_mode mode, int S)
{
    return prefill_total(c, mode, S) / S;
}

/* F_d(t) = P + 4D(t+1) + Σ_{r | t+1} (P + 4D(t+1)/r) + Mx + L·(8D² + 4D(t+1) + B) + 16D²
 * + [16D²(1 + n_t) if t is processed] + 2DV; parity recomputes the window: (t+1)·F_par(t+1). */
static double flops_decode(const hst_config *c, hst_mode mode, int t)
{
    if (mode == HST_MODE_PARITY)
        return prefill_total(c, HST_MODE_PARITY, t + 1);
    const double D = c->d_model, P = postenc_row(D), keys = t + 1;
    double f = P + 4 * D * keys + mix_row(D);
    for (int i = 0; i < 3; i++)
        if ((t + 1) % resolutions[i] == 0)
            f += P + 4 * D * keys / resolutions[i];
    f += c->n_layers * (8 * D * D + 4 * D * keys + block_router(D));
    return f + hst_lattice_flops(HST_SPINE_3TERM, c->d_model, 1, t) + 2 * D * c->vocab_size;
}

/* 12.D.8: a causal step where no pooled row completes and t is not processed reads
 * 38D² + 2FD + VD + 549D + F + 4616 + L·(4D² + 129D + 257) floats (2,357,646 at hst-v7.1). */
static double step_weight_floats(const hst_config *c)
{
    const double D = c->d_model, F = CORE_D_FF;
    return 38 * D * D + 2 * F * D + (double)c->vocab_size * D + 549 * D + F + 4616 +
           c->n_layers * (4 * D * D + 129 * D + 257);
}

/* Everything the next-token path can read (12.D.1's params_next_token): a prefill
 * reads every multi-res layer and expert, and the spine weights, once. */
static double path_weight_floats(const hst_config *c)
{
    const double D = c->d_model, V = c->vocab_size, F = CORE_D_FF, L = c->n_layers;
    double levels = 0;
    for (unsigned m = hst_spine_reachable_levels(HST_SPINE_3TERM, c->max_seq_len); m; m &= m - 1)
        levels++;
    double postenc = 4 * D * D + 2 * F * D + F + 9 * D, lc = 44 * D * D + 64 * D + 193;
    double mr = 4 * postenc + 10 * D * D + 7 * D, moe = 64 * D * D + 552 * D + 4616, att = 4 * D * D + 129 * D + 257;
    return 2 * V * D + 5 * D + lc - (10 - levels) * (2 * D * D + 4 * D) - (2 * D * D + 2 * D) + mr + moe + L * att;
}

/* K/V per cached position: PostEnc_1 and every attention layer, (2 + 2L)·D floats. */
static double kv_bytes_per_position(const hst_config *c)
{
    return (2.0 + 2.0 * c->n_layers) * c->d_model * sizeof(float);
}

/* The path's weights once, the K/V of the S rows and of the pooled rows. */
static double bytes_prefill(const hst_config *c, hst_mode mode, int S)
{
    (void)mode;
    int pooled = 0;
    for (int i = 0; i < 3; i++)
        pooled += S / resolutions[i]; /* ⌊S/r⌋ pooled rows */
    return sizeof(float) * path_weight_floats(c) + kv_bytes_per_position(c) * S +
           2.0 * c->d_model * sizeof(float) * pooled;
}

/* Causal (12.D.8): the step's weights, one PostEnc per completing resolution (and its
 * pooled keys), the spine weights at a processed position, the K/V of positions 0..t.
 * Parity: the window recomputed, every next-token weight read once. */
static double bytes_decode(const hst_config *c, hst_mode mode, int t)
{
    if (mode == HST_MODE_PARITY)
        return bytes_prefill(c, mode, t + 1);
    const double D = c->d_model, F = CORE_D_FF;
    double floats = step_weight_floats(c), kv = kv_bytes_per_position(c) * (t + 1);
    for (int i = 0; i < 3; i++)
        if ((t + 1) % resolutions[i] == 0) {
            floats += 4 * D * D + 2 * F * D + F + 9 * D;
            const int pooled = (t + 1) / resolutions[i]; /* the pooled rows so far */
            kv += 2 * D * sizeof(float) * pooled;
        }
    if (hst_lattice_spine_flops(HST_SPINE_3TERM, c->d_model, 1, t) > 0)
        floats += 16 * D * D + 19 * D; /* path_weight_net's two values are load-time constants */
    return sizeof(float) * floats + kv;
}

const hst_core_ops hst_core_d = {
    .name = "D",
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
