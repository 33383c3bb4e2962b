/* forward.c — the next-token forward pass of Cores A and B (spec 4) with a KV
 * cache (spec 5), per-section timers (spec 10) and FLOP accounting (spec 11).
 * One function per op; buffers are allocated once per session. */
#include "engine/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the runtime view of a model: resolved pointers and packed weights ---- */

typedef struct {
    hst_packed wq, wk, wv, wo, w1, w2;
    const float *ln1_g, *ln1_b, *b1, *b2, *ln2_g, *ln2_b;
} block_rt;

typedef struct {
    hst_packed w1, w3;
    const float *b1, *ln_g, *ln_b, *b3;
} level_rt;

typedef struct {
    block_rt *blocks; /* [L]: bottom 0..Lb-1, then top 0..Lt-1 */
    const float *tok_emb, *pos_emb;
    level_rt levels[10];
    hst_packed att_v, att_o;
    const float *att_bv, *att_bo;
    hst_packed fusion;
    const float *fusion_b, *fusion_ln_g, *fusion_ln_b;
    float path_weight[2]; /* w(0), w(1) of spec 4.4, computed once at load */
    hst_packed msg;
    const float *msg_b, *msg_ln_g, *msg_ln_b;
    hst_packed gru_ih, gru_hh;
    const float *gru_bih, *gru_bhh;
    hst_packed upd;
    const float *upd_b;
    hst_packed mf_a, mf_b;
    const float *mf_ba, *mf_ln_g, *mf_ln_b, *mf_bb;
    const float *lnf_g, *lnf_b;
    hst_packed head;
    hst_precision precision; /* of the blocks, the meta fusion and the head */
} runtime;

typedef struct {
    hst_model *m;
    hst_error *err;
    int failed;
    hst_precision precision; /* for the matmuls every token reads (hst.h) */
} resolver;

static const float *tensor(resolver *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const float *tensor(resolver *r, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int i = hst_spec_find(r->m->specs, r->m->n_specs, name);
    if (i < 0 || !r->m->data[i]) {
        if (!r->failed)
            hst_set_error(r->err, "%s: missing tensor: %s", r->m->source, name);
        r->failed = 1;
        static const float zero[1];
        return zero;
    }
    return r->m->data[i];
}

static void pack_as(resolver *r, hst_packed *dst, const float *W, int N, int K, hst_precision precision)
{
    if (r->failed)
        return;
    if (hst_pack_precision(dst, W, N, K, precision) != 0) {
        hst_set_error(r->err, "%s: out of memory packing weights", r->m->source);
        r->failed = 1;
    }
}

/* Weights read only at processed spine positions: always f32. */
static void pack(resolver *r, hst_packed *dst, const float *W, int N, int K)
{
    pack_as(r, dst, W, N, K, HST_PRECISION_F32);
}

/* Weights every token reads: in the model's precision (hst.h). */
static void pack_hot(resolver *r, hst_packed *dst, const float *W, int N, int K)
{
    pack_as(r, dst, W, N, K, r->precision);
}

static void resolve_block(resolver *r, block_rt *b, const char *prefix, int D)
{
    pack_hot(r, &b->wq, tensor(r, "%s.attn.q_proj.weight", prefix), D, D);
    pack_hot(r, &b->wk, tensor(r, "%s.attn.k_proj.weight", prefix), D, D);
    pack_hot(r, &b->wv, tensor(r, "%s.attn.v_proj.weight", prefix), D, D);
    pack_hot(r, &b->wo, tensor(r, "%s.attn.out_proj.weight", prefix), D, D);
    pack_hot(r, &b->w1, tensor(r, "%s.linear1.weight", prefix), 4 * D, D);
    pack_hot(r, &b->w2, tensor(r, "%s.linear2.weight", prefix), D, 4 * D);
    b->ln1_g = tensor(r, "%s.norm1.weight", prefix);
    b->ln1_b = tensor(r, "%s.norm1.bias", prefix);
    b->b1 = tensor(r, "%s.linear1.bias", prefix);
    b->b2 = tensor(r, "%s.linear2.bias", prefix);
    b->ln2_g = tensor(r, "%s.norm2.weight", prefix);
    b->ln2_b = tensor(r, "%s.norm2.bias", prefix);
}

static void resolve_lattice(resolver *r, runtime *rt, int D)
{
    const char *ml = "lattice_core.multi_level", *pw = "lattice_core.path_weighted";
    for (int m = 0; m < 10; m++) {
        level_rt *l = &rt->levels[m];
        pack(r, &l->w1, tensor(r, "%s.level_transforms.%d.0.weight", ml, m), D, D);
        pack(r, &l->w3, tensor(r, "%s.level_transforms.%d.3.weight", ml, m), D, D);
        l->b1 = tensor(r, "%s.level_transforms.%d.0.bias", ml, m);
        l->ln_g = tensor(r, "%s.level_transforms.%d.1.weight", ml, m);
        l->ln_b = tensor(r, "%s.level_transforms.%d.1.bias", ml, m);
        l->b3 = tensor(r, "%s.level_transforms.%d.3.bias", ml, m);
    }
    /* One-key attention: only the value rows [2D, 3D) of in_proj are read. */
    pack(r, &rt->att_v, tensor(r, "%s.level_attention.in_proj_weight", ml) + (size_t)2 * D * D, D, D);
    rt->att_bv = tensor(r, "%s.level_attention.in_proj_bias", ml) + 2 * D;
    pack(r, &rt->att_o, tensor(r, "%s.level_attention.out_proj.weight", ml), D, D);
    rt->att_bo = tensor(r, "%s.level_attention.out_proj.bias", ml);
    pack(r, &rt->fusion, tensor(r, "%s.fusion.0.weight", ml), D, 2 * D);
    rt->fusion_b = tensor(r, "%s.fusion.0.bias", ml);
    rt->fusion_ln_g = tensor(r, "%s.fusion.1.weight", ml);
    rt->fusion_ln_b = tensor(r, "%s.fusion.1.bias", ml);

    pack(r, &rt->msg, tensor(r, "%s.message_fn.0.weight", pw), D, 2 * D);
    rt->msg_b = tensor(r, "%s.message_fn.0.bias", pw);
    rt->msg_ln_g = tensor(r, "%s.message_fn.1.weight", pw);
    rt->msg_ln_b = tensor(r, "%s.message_fn.1.bias", pw);
    pack(r, &rt->gru_ih, tensor(r, "%s.aggregate_fn.weight_ih_l0", pw), 3 * D, D);
    pack(r, &rt->gru_hh, tensor(r, "%s.aggregate_fn.weight_hh_l0", pw), 3 * D, D);
    rt->gru_bih = tensor(r, "%s.aggregate_fn.bias_ih_l0", pw);
    rt->gru_bhh = tensor(r, "%s.aggregate_fn.bias_hh_l0", pw);
    pack(r, &rt->upd, tensor(r, "%s.update_gate.0.weight", pw), D, 2 * D);
    rt->upd_b = tensor(r, "%s.update_gate.0.bias", pw);

    /* w(c) = softplus(u2·ReLU(u1·c + β1) + β2) takes two values only (spec 4.4). */
    const float *u1 = tensor(r, "%s.path_weight_net.0.weight", pw), *b1 = tensor(r, "%s.path_weight_net.0.bias", pw);
    const float *u2 = tensor(r, "%s.path_weight_net.2.weight", pw), *b2 = tensor(r, "%s.path_weight_net.2.bias", pw);
    for (int c = 0; c < 2 && !r->failed; c++) {
        float acc = 0;
        for (int i = 0; i < 64; i++) {
            float h = u1[i] * (float)c + b1[i];
            acc += u2[i] * (h > 0 ? h : 0);
        }
        rt->path_weight[c] = hst_softplus(acc + b2[0]);
    }

    pack_hot(r, &rt->mf_a, tensor(r, "lattice_core.meta_fusion.0.weight"), 2 * D, 3 * D);
    rt->mf_ba = tensor(r, "lattice_core.meta_fusion.0.bias");
    rt->mf_ln_g = tensor(r, "lattice_core.meta_fusion.1.weight");
    rt->mf_ln_b = tensor(r, "lattice_core.meta_fusion.1.bias");
    pack_hot(r, &rt->mf_b, tensor(r, "lattice_core.meta_fusion.3.weight"), D, 2 * D);
    rt->mf_bb = tensor(r, "lattice_core.meta_fusion.3.bias");
}

static void free_runtime(runtime *rt, int L)
{
    if (!rt)
        return;
    for (int b = 0; rt->blocks && b < L; b++) {
        block_rt *k = &rt->blocks[b];
        hst_packed *all[] = {&k->wq, &k->wk, &k->wv, &k->wo, &k->w1, &k->w2};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            hst_packed_free(all[i]);
    }
    free(rt->blocks);
    for (int m = 0; m < 10; m++) {
        hst_packed_free(&rt->levels[m].w1);
        hst_packed_free(&rt->levels[m].w3);
    }
    hst_packed *all[] = {&rt->att_v, &rt->att_o, &rt->fusion, &rt->msg, &rt->gru_ih,
                         &rt->gru_hh, &rt->upd, &rt->mf_a, &rt->mf_b, &rt->head};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        hst_packed_free(all[i]);
    free(rt);
}

static runtime *build_runtime(hst_model *m, hst_precision precision, hst_error *err)
{
    const hst_config *c = &m->cfg;
    const int D = c->d_model, L = c->n_layers, Lb = L / 2;
    runtime *rt = calloc(1, sizeof *rt);
    resolver r = {m, err, 0, precision};
    if (!rt || !(rt->blocks = calloc((size_t)L, sizeof *rt->blocks))) {
        free(rt);
        hst_set_error(err, "%s: out of memory", m->source);
        return NULL;
    }
    rt->precision = precision;
    rt->tok_emb = tensor(&r, "token_embedding.weight");
    rt->pos_emb = tensor(&r, "pos_embedding.weight");
    char prefix[64];
    for (int b = 0; b < L; b++) {
        if (b >= Lb)
            snprintf(prefix, sizeof prefix, "top_stack.%d", b - Lb);
        else if (c->arch == HST_ARCH_V6_1)
            snprintf(prefix, sizeof prefix, "adaptive_bottom.layers.%d", b);
        else
            snprintf(prefix, sizeof prefix, "adaptive_bottom.%d.block", b);
        resolve_block(&r, &rt->blocks[b], prefix, D);
    }
    resolve_lattice(&r, rt, D);
    rt->lnf_g = tensor(&r, "ln_f.weight");
    rt->lnf_b = tensor(&r, "ln_f.bias");
    pack_hot(&r, &rt->head, tensor(&r, "lm_head.weight"), c->vocab_size, D);
    if (r.failed) {
        free_runtime(rt, L);
        return NULL;
    }
    return rt;
}

int hst_runtime_build(hst_model *m, hst_error *err)
{
    runtime *rt = build_runtime(m, HST_PRECISION_F32, err);
    if (!rt)
        return -1;
    m->runtime = rt;
    return 0;
}

/* The runtime struct keeps its address (sessions point at it); only what it
 * holds is replaced by a fresh build in the new precision. */
int hst_model_set_precision(hst_model *m, hst_precision p, hst_error *err)
{
    if ((unsigned)p >= HST_PRECISION_COUNT) {
        hst_set_error(err, "precision: unknown precision %d (f32, bf16, int8)", (int)p);
        return -1;
    }
    runtime *current = m->runtime;
    if (!current) {
        hst_set_error(err, "%s: precision: the model has no packed weights", m->source);
        return -1;
    }
    if (current->precision == p)
        return 0;
    runtime *fresh = build_runtime(m, p, err);
    if (!fresh)
        return -1;
    runtime old = *current;
    *current = *fresh;
    *fresh = old;
    free_runtime(fresh, m->cfg.n_layers);
    return 0;
}

hst_precision hst_model_precision(const hst_model *m)
{
    const runtime *rt = m->runtime;
    return rt ? rt->precision : HST_PRECISION_F32;
}

static size_t block_packed_bytes(const block_rt *b)
{
    return hst_packed_bytes(&b->wq) + hst_packed_bytes(&b->wk) + hst_packed_bytes(&b->wv) +
           hst_packed_bytes(&b->wo) + hst_packed_bytes(&b->w1) + hst_packed_bytes(&b->w2);
}

uint64_t hst_model_packed_bytes(const hst_model *m)
{
    const runtime *rt = m->runtime;
    if (!rt)
        return 0;
    uint64_t bytes = 0;
    for (int b = 0; b < m->cfg.n_layers; b++)
        bytes += block_packed_bytes(&rt->blocks[b]);
    for (int l = 0; l < 10; l++)
        bytes += hst_packed_bytes(&rt->levels[l].w1) + hst_packed_bytes(&rt->levels[l].w3);
    const hst_packed *rest[] = {&rt->att_v, &rt->att_o, &rt->fusion, &rt->msg, &rt->gru_ih,
                                &rt->gru_hh, &rt->upd, &rt->mf_a, &rt->mf_b, &rt->head};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        bytes += hst_packed_bytes(rest[i]);
    return bytes;
}

void hst_runtime_free(hst_model *m)
{
    free_runtime(m->runtime, m->cfg.n_layers);
    m->runtime = NULL;
}

/* ---- sessions ---------------------------------------------------------------- */

#define MAX_SECTIONS 2200 /* embed + lattice + head + up to 1024 blocks x 2 */

struct hst_session {
    const hst_model *model;
    const runtime *rt;
    hst_config cfg;
    hst_pool *pool;
    hst_kernel kernel;        /* resolved; hst_forward computes with it */
    int pos;
    int D, Lb, Lt;
    float *kcache;            /* [L][nh][key_blocks][hd][16]: see hst_kcache_store */
    float *vcache;            /* [L][Lmax][D], head h at columns h*hd.. */
    int key_blocks;           /* ceil(Lmax / HST_KEY_BLOCK) */
    float *kstage;            /* [Lmax][D]: new K rows before the transpose */
    float *x, *a, *q, *att;   /* [Lmax][D] */
    float *hidden;            /* [Lmax][4D] */
    float *cat;               /* [Lmax][3D]: [x; hm; hp] for the meta fusion */
    float *mf;                /* [Lmax][2D] */
    float *lat;               /* lattice scratch */
    int64_t spine[16];
    int n_spine;
    float *kept;              /* R[p] of spec 4.4, one row per spine position */
    int timing;
    int n_sections;
    char (*section_names)[24];
    uint64_t *section_ns;
    double *section_flops;
};

static float *alloc_floats(size_t n, int *failed)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p)
        *failed = 1;
    return p;
}

/* 64-byte aligned (the AVX-512 attention loads key blocks aligned), zeroed. */
static float *aligned_floats(size_t n, int *failed)
{
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        *failed = 1;
    else
        memset(p, 0, bytes);
    return p;
}

static void name_sections(hst_session *s)
{
    int k = 0;
    snprintf(s->section_names[k++], sizeof s->section_names[0], "embed");
    for (int i = 0; i < s->Lb; i++)
        snprintf(s->section_names[k++], sizeof s->section_names[0], "bottom.%d", i);
    snprintf(s->section_names[k++], sizeof s->section_names[0], "lattice");
    for (int j = 0; j < s->Lt; j++)
        snprintf(s->section_names[k++], sizeof s->section_names[0], "top.%d", j);
    snprintf(s->section_names[k++], sizeof s->section_names[0], "head");
    s->n_sections = k;
}

hst_session *hst_session_create(const hst_model *m, hst_pool *pool, hst_error *err)
{
    hst_session *s = calloc(1, sizeof *s);
    if (!s) {
        hst_set_error(err, "session: out of memory");
        return NULL;
    }
    const hst_config *c = &m->cfg;
    size_t Lmax = (size_t)c->max_seq_len, D = (size_t)c->d_model, L = (size_t)c->n_layers;
    int failed = 0;
    s->model = m;
    s->rt = m->runtime;
    s->cfg = *c;
    s->kernel = hst_kernel_default();
    s->pool = pool;
    s->D = c->d_model;
    s->Lb = c->n_layers / 2;
    s->Lt = c->n_layers - s->Lb;
    s->key_blocks = (c->max_seq_len + HST_KEY_BLOCK - 1) / HST_KEY_BLOCK;
    s->kcache = aligned_floats(L * (size_t)s->key_blocks * HST_KEY_BLOCK * D, &failed);
    s->kstage = alloc_floats(Lmax * D, &failed);
    s->vcache = alloc_floats(L * Lmax * D, &failed);
    s->x = alloc_floats(Lmax * D, &failed);
    s->a = alloc_floats(Lmax * D, &failed);
    s->q = alloc_floats(Lmax * D, &failed);
    s->att = alloc_floats(Lmax * D, &failed);
    s->hidden = alloc_floats(Lmax * 4 * D, &failed);
    s->cat = alloc_floats(Lmax * 3 * D, &failed);
    s->mf = alloc_floats(Lmax * 2 * D, &failed);
    s->lat = alloc_floats(16 * D, &failed);
    s->n_spine = hst_spine(c->max_seq_len, s->spine);
    s->kept = alloc_floats((size_t)s->n_spine * D, &failed);
    size_t n_sec = (size_t)c->n_layers + 3;
    s->section_names = calloc(n_sec, sizeof *s->section_names);
    s->section_ns = calloc(n_sec, sizeof *s->section_ns);
    s->section_flops = calloc(n_sec, sizeof *s->section_flops);
    if (failed || !s->section_names || !s->section_ns || !s->section_flops || !s->rt) {
        hst_session_free(s);
        hst_set_error(err, "session: out of memory for buffers of %s", m->preset);
        return NULL;
    }
    name_sections(s);
    return s;
}

void hst_session_free(hst_session *s)
{
    if (!s)
        return;
    float *bufs[] = {s->kcache, s->kstage, s->vcache, s->x, s->a, s->q, s->att, s->hidden, s->cat, s->mf, s->lat, s->kept};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(s->section_names);
    free(s->section_ns);
    free(s->section_flops);
    free(s);
}

void hst_session_reset(hst_session *s) { s->pos = 0; }
void hst_session_set_pool(hst_session *s, hst_pool *pool) { s->pool = pool; }
int hst_session_set_kernel(hst_session *s, hst_kernel k)
{
    int got = hst_kernel_resolve(k);
    if (got >= 0)
        s->kernel = (hst_kernel)got;
    return got;
}
hst_kernel hst_session_kernel(const hst_session *s) { return s->kernel; }
int hst_session_pos(const hst_session *s) { return s->pos; }
const hst_config *hst_session_config(const hst_session *s) { return &s->cfg; }
const hst_model *hst_session_model(const hst_session *s) { return s->model; }
uint64_t hst_session_kv_bytes(const hst_session *s)
{
    uint64_t per_layer = ((uint64_t)s->key_blocks * HST_KEY_BLOCK + (uint64_t)s->cfg.max_seq_len) * s->cfg.d_model;
    return per_layer * s->cfg.n_layers * sizeof(float);
}
int hst_session_section_count(const hst_session *s) { return s->n_sections; }
const char *hst_session_section_name(const hst_session *s, int i)
{
    return i >= 0 && i < s->n_sections ? s->section_names[i] : NULL;
}
void hst_session_set_timing(hst_session *s, int on) { s->timing = on; }
void hst_session_last_section_ns(const hst_session *s, uint64_t *ns_out)
{
    memcpy(ns_out, s->section_ns, (size_t)s->n_sections * sizeof *ns_out);
}
void hst_session_last_section_flops(const hst_session *s, double *flops_out)
{
    memcpy(flops_out, s->section_flops, (size_t)s->n_sections * sizeof *flops_out);
}

/* ---- row-parallel helpers ------------------------------------------------------ */

#define ROWS_PER_TASK 16

typedef struct {
    const float *in;
    int ld_in;
    float *out;
    int ld_out;
    const float *gamma, *beta;
    int n_rows, width;
    int gelu; /* apply GELU after the norm (meta fusion) */
} rows_job;

static void layernorm_task(void *ctx, int task)
{
    const rows_job *j = ctx;
    int r1 = (task + 1) * ROWS_PER_TASK < j->n_rows ? (task + 1) * ROWS_PER_TASK : j->n_rows;
    for (int r = task * ROWS_PER_TASK; r < r1; r++) {
        float *y = j->out + (size_t)r * j->ld_out;
        hst_layernorm(j->in + (size_t)r * j->ld_in, j->gamma, j->beta, y, j->width);
        if (j->gelu)
            hst_gelu_inplace(y, j->width);
    }
}

static void layernorm_rows(hst_pool *pool, const float *in, int ld_in, float *out, int ld_out, const float *gamma,
                           const float *beta, int n_rows, int width, int gelu)
{
    rows_job j = {in, ld_in, out, ld_out, gamma, beta, n_rows, width, gelu};
    int tasks = (n_rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    hst_pool_run(n_rows * width >= 4096 ? pool : NULL, tasks, layernorm_task, &j);
}

/* ---- PreBlock (spec 4.2) --------------------------------------------------------- */

/* What one PreBlock call reads and writes: the rows, the scratch and the
 * block's caches. A session fills it from its buffers; hst_block (the
 * one-block benchmark) from its workspace, so both run the same code. */
typedef struct {
    hst_pool *pool;
    int D, nh, key_blocks;
    float *x;                    /* [n][D], updated in place */
    float *a, *q, *kstage, *att; /* [n][D] scratch */
    float *hidden;               /* [n][4D] scratch */
    float *kt;                   /* K cache, transposed blocks (hst_kcache_store) */
    float *vc;                   /* V cache [pos][D] */
} block_io;

/* Spec 4.2 with fused epilogues: bias, ReLU and the residual adds happen as
 * the matmul stores its tile; attention streams over the cache (no S x S). */
static void preblock_run(const block_rt *B, const block_io *io, int n, int t0)
{
    const int D = io->D, nh = io->nh, hd = D / nh;
    hst_pool *pool = io->pool;
    layernorm_rows(pool, io->x, D, io->a, D, B->ln1_g, B->ln1_b, n, D, 0);
    hst_matmul(pool, io->a, n, D, &B->wq, NULL, io->q, D, HST_EPI_NONE);
    hst_matmul(pool, io->a, n, D, &B->wk, NULL, io->kstage, D, HST_EPI_NONE);
    hst_kcache_store(io->kt, io->kstage, D, n, t0, nh, hd, io->key_blocks);
    hst_matmul(pool, io->a, n, D, &B->wv, NULL, io->vc + (size_t)t0 * D, D, HST_EPI_NONE);
    hst_attention(pool, io->q, io->kt, io->vc, io->att, n, t0, nh, hd, io->key_blocks);
    hst_matmul(pool, io->att, n, D, &B->wo, NULL, io->x, D, HST_EPI_ADD);
    layernorm_rows(pool, io->x, D, io->a, D, B->ln2_g, B->ln2_b, n, D, 0);
    hst_matmul(pool, io->a, n, D, &B->w1, B->b1, io->hidden, 4 * D, HST_EPI_RELU);
    hst_matmul(pool, io->hidden, n, 4 * D, &B->w2, B->b2, io->x, D, HST_EPI_ADD);
}

static void preblock(hst_session *s, int b, int n, int t0)
{
    const int D = s->D;
    block_io io = {s->pool, D, s->cfg.n_heads, s->key_blocks, s->x, s->a, s->q, s->kstage, s->att, s->hidden,
                   s->kcache + (size_t)b * s->key_blocks * HST_KEY_BLOCK * D,
                   s->vcache + (size_t)b * s->cfg.max_seq_len * D};
    preblock_run(&s->rt->blocks[b], &io, n, t0);
}

/* ---- lattice core (spec 4.4) ------------------------------------------------------- */

static int spine_slot(const hst_session *s, int p)
{
    for (int i = 0; i < s->n_spine; i++)
        if (s->spine[i] == p)
            return i;
    return -1;
}

static const float *kept_row(const hst_session *s, int p)
{
    return s->kept + (size_t)spine_slot(s, p) * s->D;
}

static void linear1(const float *x, const hst_packed *W, const float *b, float *y)
{
    hst_matmul_serial(x, 1, W->K, W, b, y, W->N, HST_EPI_NONE);
}

/* Multi-level branch: hm_p = LN_F(Wf·[att; x_p] + bf) from the deepest level. */
static void multi_level(hst_session *s, const float *xp, const int *deep, int n_deep, int m, float *hm)
{
    const runtime *rt = s->rt;
    const level_rt *lt = &rt->levels[m];
    const int D = s->D;
    float *f = s->lat, *u = f + D, *w = u + D, *cat = w + D, *t = cat + 2 * D;
    memset(f, 0, (size_t)D * sizeof *f);
    for (int i = 0; i < n_deep; i++) {
        const float *r = kept_row(s, deep[i]);
        for (int d = 0; d < D; d++)
            f[d] += r[d];
    }
    for (int d = 0; d < D; d++)
        f[d] /= (float)n_deep;
    linear1(f, &lt->w1, lt->b1, t);
    hst_layernorm(t, lt->ln_g, lt->ln_b, u, D);
    hst_gelu_inplace(u, D);
    linear1(u, &lt->w3, lt->b3, w);         /* u of the spec */
    linear1(w, &rt->att_v, rt->att_bv, t);  /* Wv·u + bv */
    linear1(t, &rt->att_o, rt->att_bo, cat); /* att */
    memcpy(cat + D, xp, (size_t)D * sizeof *xp);
    linear1(cat, &rt->fusion, rt->fusion_b, t);
    hst_layernorm(t, rt->fusion_ln_g, rt->fusion_ln_b, hm, D);
}

/* PyTorch GRU step with gates r, z, n in row blocks (spec 1). */
static void gru_step(hst_session *s, const float *in, float *h)
{
    const runtime *rt = s->rt;
    const int D = s->D;
    float *gi = s->lat + 6 * D, *gh = gi + 3 * D;
    linear1(in, &rt->gru_ih, rt->gru_bih, gi);
    linear1(h, &rt->gru_hh, rt->gru_bhh, gh);
    for (int d = 0; d < D; d++) {
        float r = hst_sigmoid(gi[d] + gh[d]);
        float z = hst_sigmoid(gi[D + d] + gh[D + d]);
        float nn = tanhf(gi[2 * D + d] + r * gh[2 * D + d]);
        h[d] = (1.0f - z) * nn + z * h[d];
    }
}

/* Path-weighted branch: a GRU over weighted messages from every ancestor. */
static void path_weighted(hst_session *s, const float *xp, int levels[3][3], const int counts[3], int m, float *hp)
{
    const runtime *rt = s->rt;
    const int D = s->D;
    float *cat = s->lat + 12 * D, *t = cat + 2 * D; /* cat: 2D, t: D (lat holds 16D) */
    float *g = hp; /* the GRU state lives in hp until the update gate */
    float *msg = s->lat; /* reuses the multi-level scratch: that branch is done */
    memset(g, 0, (size_t)D * sizeof *g);
    for (int l = 0; l < m; l++) {
        float weight = rt->path_weight[l == m - 1]; /* c_j = 1 on the deepest level */
        for (int i = 0; i < counts[l]; i++) {
            memcpy(cat, kept_row(s, levels[l][i]), (size_t)D * sizeof *cat);
            memcpy(cat + D, xp, (size_t)D * sizeof *xp);
            linear1(cat, &rt->msg, rt->msg_b, t);
            hst_layernorm(t, rt->msg_ln_g, rt->msg_ln_b, msg, D);
            hst_gelu_inplace(msg, D);
            for (int d = 0; d < D; d++)
                msg[d] *= weight;
            gru_step(s, msg, g);
        }
    }
    memcpy(cat, g, (size_t)D * sizeof *cat);
    memcpy(cat + D, xp, (size_t)D * sizeof *xp);
    linear1(cat, &rt->upd, rt->upd_b, t);
    for (int d = 0; d < D; d++) {
        float z = hst_sigmoid(t[d]);
        hp[d] = z * g[d] + (1.0f - z) * xp[d];
    }
}

static void update_spine_position(hst_session *s, int row, int p)
{
    const int D = s->D;
    int levels[3][3], counts[3];
    int m = hst_spine_levels(p, levels, counts);
    const float *xp = s->x + (size_t)row * D;
    float *hm = s->cat + (size_t)row * 3 * D + D, *hp = hm + D;
    multi_level(s, xp, levels[m - 1], counts[m - 1], m, hm);
    path_weighted(s, xp, levels, counts, m, hp);
}

/* Lattice for rows at positions t0..t0+n-1, then the meta fusion of every row
 * (no residual): y replaces x. Returns the lattice FLOPs of the call. */
static double lattice(hst_session *s, int n, int t0)
{
    const int D = s->D;
    const double D2 = (double)D * D;
    double flops = 16 * D2 * n;
    for (int i = 0; i < n; i++) {
        const float *xi = s->x + (size_t)i * D;
        float *c = s->cat + (size_t)i * 3 * D;
        memcpy(c, xi, (size_t)D * sizeof *xi);
        memcpy(c + D, xi, (size_t)D * sizeof *xi);
        memcpy(c + 2 * D, xi, (size_t)D * sizeof *xi);
        int slot = spine_slot(s, t0 + i);
        if (slot >= 0) /* kept before the lattice (spec 5) */
            memcpy(s->kept + (size_t)slot * D, xi, (size_t)D * sizeof *xi);
    }
    for (int i = 0; i < n; i++) {
        int levels[3][3], counts[3];
        int m = hst_spine_levels(t0 + i, levels, counts);
        if (m == 0)
            continue;
        update_spine_position(s, i, t0 + i);
        flops += 16 * D2 * (1 + counts[0] + counts[1] + counts[2]);
    }
    const runtime *rt = s->rt;
    hst_matmul(s->pool, s->cat, n, 3 * D, &rt->mf_a, rt->mf_ba, s->mf, 2 * D, HST_EPI_NONE);
    layernorm_rows(s->pool, s->mf, 2 * D, s->mf, 2 * D, rt->mf_ln_g, rt->mf_ln_b, n, 2 * D, 1);
    hst_matmul(s->pool, s->mf, n, 2 * D, &rt->mf_b, rt->mf_bb, s->x, D, HST_EPI_NONE);
    return flops;
}

/* ---- the whole call -------------------------------------------------------------- */

static void embed(hst_session *s, const int *ids, int n, int t0)
{
    const int D = s->D;
    for (int i = 0; i < n; i++) {
        const float *e = s->rt->tok_emb + (size_t)ids[i] * D, *p = s->rt->pos_emb + (size_t)(t0 + i) * D;
        float *x = s->x + (size_t)i * D;
        for (int d = 0; d < D; d++)
            x[d] = e[d] + p[d];
    }
}

/* ln_f and lm_head over the rows the caller wants. */
static void head(hst_session *s, int first_row, int n_rows, float *logits)
{
    const int D = s->D;
    layernorm_rows(s->pool, s->x + (size_t)first_row * D, D, s->a, D, s->rt->lnf_g, s->rt->lnf_b, n_rows, D, 0);
    hst_matmul(s->pool, s->a, n_rows, D, &s->rt->head, NULL, logits, s->cfg.vocab_size, HST_EPI_NONE);
}

typedef struct {
    hst_session *s;
    int section;
    uint64_t t;
} section_clock;

/* Closes the current section; reads the clock only when timing is on. */
static void section_done(section_clock *c, double flops)
{
    hst_session *s = c->s;
    s->section_flops[c->section] = flops;
    if (s->timing) {
        uint64_t now = hst_now_ns();
        s->section_ns[c->section] = now - c->t;
        c->t = now;
    }
    c->section++;
}

static int check_call(const hst_session *s, const int *ids, int n, hst_error *err)
{
    if (n < 1) {
        hst_set_error(err, "forward: no tokens given");
        return -1;
    }
    if (s->pos + n > s->cfg.max_seq_len) {
        hst_set_error(err, "forward: context full: position %d + %d tokens exceeds max_seq_len %d", s->pos, n,
                      s->cfg.max_seq_len);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->cfg.vocab_size) {
            hst_set_error(err, "forward: token id %d at index %d is outside the vocabulary 0..%d", ids[i], i,
                          s->cfg.vocab_size - 1);
            return -1;
        }
    return 0;
}

int hst_forward(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err)
{
    if (check_call(s, ids, n, err) != 0)
        return -1;
    hst_thread_kernel = s->kernel;
    const int t0 = s->pos, D = s->D;
    const double D2 = (double)D * D;
    section_clock clk = {s, 0, s->timing ? hst_now_ns() : 0};
    embed(s, ids, n, t0);
    section_done(&clk, 0);
    /* PreBlock FLOPs: 24D²·n + 4D·Σ(t_i + 1) (spec 11). */
    double attn_keys = (double)n * t0 + (double)n * (n + 1) / 2;
    double block_flops = 24 * D2 * n + 4.0 * D * attn_keys;
    for (int b = 0; b < s->Lb; b++) {
        preblock(s, b, n, t0);
        section_done(&clk, block_flops);
    }
    section_done(&clk, lattice(s, n, t0));
    for (int j = 0; j < s->Lt; j++) {
        preblock(s, s->Lb + j, n, t0);
        section_done(&clk, block_flops);
    }
    int rows = 0;
    if (logits) {
        rows = all_logits ? n : 1;
        head(s, n - rows, rows, logits);
    }
    section_done(&clk, 2.0 * D * s->cfg.vocab_size * rows);
    s->pos += n;
    return 0;
}

/* ---- one PreBlock on its own (hst.h, `hstprof layerbench`) ------------------------- */

enum { BLOCK_LN1_G, BLOCK_LN1_B, BLOCK_B1, BLOCK_B2, BLOCK_LN2_G, BLOCK_LN2_B, BLOCK_VECTORS };

struct hst_block {
    block_rt rt;
    int D, nh;
    float *vectors[BLOCK_VECTORS]; /* own copies of the norms and biases rt points at */
};

struct hst_block_workspace {
    int max_rows, key_blocks, D;
    uint64_t bytes;
    float *kt, *vc, *kstage, *a, *q, *att, *hidden;
};

void hst_block_free(hst_block *b)
{
    if (!b)
        return;
    hst_packed *all[] = {&b->rt.wq, &b->rt.wk, &b->rt.wv, &b->rt.wo, &b->rt.w1, &b->rt.w2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        hst_packed_free(all[i]);
    for (int i = 0; i < BLOCK_VECTORS; i++)
        free(b->vectors[i]);
    free(b);
}

static const float *copy_vector(hst_block *b, int slot, const float *src, int n, int *failed)
{
    b->vectors[slot] = alloc_floats((size_t)n, failed);
    if (b->vectors[slot])
        memcpy(b->vectors[slot], src, (size_t)n * sizeof *src);
    return b->vectors[slot];
}

hst_block *hst_block_create(const hst_block_weights *w, int d_model, int n_heads, hst_error *err)
{
    const int D = d_model;
    if (D < 4 || n_heads < 1 || D % 4 || D % n_heads) {
        hst_set_error(err, "block: d_model %d with n_heads %d: d_model must be a positive multiple of 4 and of "
                           "n_heads (spec 3)", d_model, n_heads);
        return NULL;
    }
    hst_block *b = calloc(1, sizeof *b);
    int failed = !b;
    if (b) {
        b->D = D;
        b->nh = n_heads;
        block_rt *rt = &b->rt;
        failed |= hst_pack(&rt->wq, w->wq, D, D) | hst_pack(&rt->wk, w->wk, D, D) | hst_pack(&rt->wv, w->wv, D, D);
        failed |= hst_pack(&rt->wo, w->wo, D, D) | hst_pack(&rt->w1, w->w1, 4 * D, D);
        failed |= hst_pack(&rt->w2, w->w2, D, 4 * D);
        rt->ln1_g = copy_vector(b, BLOCK_LN1_G, w->ln1_g, D, &failed);
        rt->ln1_b = copy_vector(b, BLOCK_LN1_B, w->ln1_b, D, &failed);
        rt->b1 = copy_vector(b, BLOCK_B1, w->b1, 4 * D, &failed);
        rt->b2 = copy_vector(b, BLOCK_B2, w->b2, D, &failed);
        rt->ln2_g = copy_vector(b, BLOCK_LN2_G, w->ln2_g, D, &failed);
        rt->ln2_b = copy_vector(b, BLOCK_LN2_B, w->ln2_b, D, &failed);
    }
    if (failed) {
        hst_block_free(b);
        hst_set_error(err, "block: out of memory for the weights of a d_model %d block", D);
        return NULL;
    }
    return b;
}

void hst_block_workspace_free(hst_block_workspace *w)
{
    if (!w)
        return;
    float *bufs[] = {w->kt, w->vc, w->kstage, w->a, w->q, w->att, w->hidden};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(w);
}

hst_block_workspace *hst_block_workspace_create(const hst_block *b, int max_rows, hst_error *err)
{
    if (max_rows < 1) {
        hst_set_error(err, "block: a workspace needs at least 1 row, got %d", max_rows);
        return NULL;
    }
    hst_block_workspace *w = calloc(1, sizeof *w);
    if (!w) {
        hst_set_error(err, "block: out of memory for a workspace of %d rows", max_rows);
        return NULL;
    }
    const size_t D = (size_t)b->D, rows = (size_t)max_rows;
    int failed = 0;
    w->max_rows = max_rows;
    w->D = b->D;
    w->key_blocks = (max_rows + HST_KEY_BLOCK - 1) / HST_KEY_BLOCK;
    /* aligned_floats zeroes, so every page is resident before the forward. */
    w->kt = aligned_floats((size_t)w->key_blocks * HST_KEY_BLOCK * D, &failed);
    float **row_buffers[] = {&w->vc, &w->kstage, &w->a, &w->q, &w->att};
    for (size_t i = 0; i < sizeof row_buffers / sizeof row_buffers[0]; i++)
        *row_buffers[i] = aligned_floats(rows * D, &failed);
    w->hidden = aligned_floats(rows * 4 * D, &failed);
    if (failed) {
        hst_block_workspace_free(w);
        hst_set_error(err, "block: out of memory for a workspace of %d rows", max_rows);
        return NULL;
    }
    w->bytes = ((uint64_t)w->key_blocks * HST_KEY_BLOCK * D + 9 * rows * D) * sizeof(float);
    return w;
}

uint64_t hst_block_workspace_bytes(const hst_block_workspace *w) { return w ? w->bytes : 0; }

int hst_block_forward(const hst_block *b, hst_block_workspace *w, hst_pool *pool, float *x, int S, hst_error *err)
{
    if (S < 1 || S > w->max_rows || w->D != b->D) {
        hst_set_error(err, "block: %d rows do not fit a workspace of %d rows of width %d (block width %d)", S,
                      w->max_rows, w->D, b->D);
        return -1;
    }
    block_io io = {pool, b->D, b->nh, w->key_blocks, x, w->a, w->q, w->kstage, w->att, w->hidden, w->kt, w->vc};
    preblock_run(&b->rt, &io, S, 0);
    return 0;
}
