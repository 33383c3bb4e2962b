/* preblock.c — the PreBlock of spec 4.2 with its KV cache (spec 5): the
 * bottom and top stacks of Cores A, B and C, and hst.h's one-block
 * benchmark, all through hst_preblock_run. */
#include "engine/preblock.h"

#include "engine/attention.h"
#include "engine/rowops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- weights ------------------------------------------------------------------ */

void hst_block_resolve(hst_resolver *r, hst_block_rt *b, const char *prefix, int D)
{
    hst_resolve_pack_hot(r, &b->wq, hst_resolve(r, "%s.attn.q_proj.weight", prefix), D, D);
    hst_resolve_pack_hot(r, &b->wk, hst_resolve(r, "%s.attn.k_proj.weight", prefix), D, D);
    hst_resolve_pack_hot(r, &b->wv, hst_resolve(r, "%s.attn.v_proj.weight", prefix), D, D);
    hst_resolve_pack_hot(r, &b->wo, hst_resolve(r, "%s.attn.out_proj.weight", prefix), D, D);
    hst_resolve_pack_hot(r, &b->w1, hst_resolve(r, "%s.linear1.weight", prefix), 4 * D, D);
    hst_resolve_pack_hot(r, &b->w2, hst_resolve(r, "%s.linear2.weight", prefix), D, 4 * D);
    b->ln1_g = hst_resolve(r, "%s.norm1.weight", prefix);
    b->ln1_b = hst_resolve(r, "%s.norm1.bias", prefix);
    b->b1 = hst_resolve(r, "%s.linear1.bias", prefix);
    b->b2 = hst_resolve(r, "%s.linear2.bias", prefix);
    b->ln2_g = hst_resolve(r, "%s.norm2.weight", prefix);
    b->ln2_b = hst_resolve(r, "%s.norm2.bias", prefix);
}

void hst_block_rt_free(hst_block_rt *b)
{
    hst_packed *all[] = {&b->wq, &b->wk, &b->wv, &b->wo, &b->w1, &b->w2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        hst_packed_free(all[i]);
}

uint64_t hst_block_rt_packed_bytes(const hst_block_rt *b)
{
    return hst_packed_bytes(&b->wq) + hst_packed_bytes(&b->wk) + hst_packed_bytes(&b->wv) +
           hst_packed_bytes(&b->wo) + hst_packed_bytes(&b->w1) + hst_packed_bytes(&b->w2);
}

/* ---- the KV cache (spec 5) ------------------------------------------------------- */

int hst_kv_key_blocks(int max_seq_len) { return (max_seq_len + HST_KEY_BLOCK - 1) / HST_KEY_BLOCK; }

size_t hst_kv_k_floats(int d_model, int max_seq_len)
{
    return (size_t)hst_kv_key_blocks(max_seq_len) * HST_KEY_BLOCK * (size_t)d_model;
}

size_t hst_kv_v_floats(int d_model, int max_seq_len) { return (size_t)max_seq_len * (size_t)d_model; }

/* ---- the computation (spec 4.2) --------------------------------------------------- */

/* ---- the forward ----------------------------------------------------------------
 * Spec 4.2 with fused epilogues: bias, ReLU and the residual adds happen as
 * the matmul stores its tile; attention streams over the cache (no S x S).
 *
 * A call of many rows (a prefill) runs as three jobs of the pool: the rows'
 * LN1, Q, K, V and K-cache stores; the attention (which needs every key of
 * the call); then per block of rows the out-projection, LN2 and the FFN. A
 * task keeps its rows' intermediates (the normalised rows, the 4D hidden
 * rows) in its core's caches from one product to the next, where the
 * per-product path wrote each whole [n][4D] intermediate out and read it
 * back, and two threads meet at 3 barriers per block instead of 7. Every
 * element is computed by the same kernel as on the per-product path, so the
 * results are bit-identical; a call of a few rows (decode) keeps that path,
 * whose tasks split the weights' panels between the threads. */

/* Rows per task of the fused jobs: four of the AVX-512 kernel's 8-row tiles
 * per weight panel read from L2. */
#define FUSED_ROWS_PER_TASK 32
/* Below this many rows a call takes the per-product path. */
#define FUSED_MIN_ROWS 16

typedef struct {
    const hst_block_rt *B;
    const hst_block_io *io;
    int n, t0;
} block_rows_job;

static void task_rows(const block_rows_job *j, int task, int *r0, int *m)
{
    *r0 = task * FUSED_ROWS_PER_TASK;
    *m = j->n - *r0 < FUSED_ROWS_PER_TASK ? j->n - *r0 : FUSED_ROWS_PER_TASK;
}

/* Rows r0..r0+m-1 of the block's x, layer-normalised into io->a. */
static void norm_rows(const hst_block_io *io, const float *gamma, const float *beta, int r0, int m)
{
    for (int r = r0; r < r0 + m; r++)
        hst_layernorm(io->x + (size_t)r * io->D, gamma, beta, io->a + (size_t)r * io->D, io->D);
}

static void qkv_rows_task(void *ctx, int task)
{
    const block_rows_job *j = ctx;
    const hst_block_rt *B = j->B;
    const hst_block_io *io = j->io;
    const int D = io->D;
    int r0, m;
    task_rows(j, task, &r0, &m);
    norm_rows(io, B->ln1_g, B->ln1_b, r0, m);
    const float *a = io->a + (size_t)r0 * D;
    hst_matmul_rows(a, m, D, &B->wq, NULL, io->q + (size_t)r0 * D, D, HST_EPI_NONE);
    hst_matmul_rows(a, m, D, &B->wk, NULL, io->kstage + (size_t)r0 * D, D, HST_EPI_NONE);
    hst_matmul_rows(a, m, D, &B->wv, NULL, io->vc + (size_t)(j->t0 + r0) * D, D, HST_EPI_NONE);
    /* Each row writes only its own position's column of the transposed blocks. */
    hst_kcache_store(io->kt, io->kstage + (size_t)r0 * D, D, m, j->t0 + r0, io->nh, D / io->nh, io->key_blocks);
}

static void ffn_rows_task(void *ctx, int task)
{
    const block_rows_job *j = ctx;
    const hst_block_rt *B = j->B;
    const hst_block_io *io = j->io;
    const int D = io->D;
    int r0, m;
    task_rows(j, task, &r0, &m);
    float *x = io->x + (size_t)r0 * D, *hidden = io->hidden + (size_t)r0 * 4 * D;
    hst_matmul_rows(io->att + (size_t)r0 * D, m, D, &B->wo, NULL, x, D, HST_EPI_ADD);
    norm_rows(io, B->ln2_g, B->ln2_b, r0, m);
    hst_matmul_rows(io->a + (size_t)r0 * D, m, D, &B->w1, B->b1, hidden, 4 * D, HST_EPI_RELU);
    hst_matmul_rows(hidden, m, 4 * D, &B->w2, B->b2, x, D, HST_EPI_ADD);
}

static void preblock_rows(const hst_block_rt *B, const hst_block_io *io, int n, int t0)
{
    const hst_packed *weights[] = {&B->wq, &B->wk, &B->wv, &B->wo, &B->w1, &B->w2};
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++)
        hst_matmul_count_read(weights[i]);
    block_rows_job j = {B, io, n, t0};
    int tasks = (n + FUSED_ROWS_PER_TASK - 1) / FUSED_ROWS_PER_TASK;
    hst_pool_run(io->pool, tasks, qkv_rows_task, &j);
    hst_attention(io->pool, io->q, io->kt, io->vc, io->att, n, t0, io->nh, io->D / io->nh, io->key_blocks);
    hst_pool_run(io->pool, tasks, ffn_rows_task, &j);
}

/* ---- a decode step: Q, K, V and attention per group of heads -----------------------
 * Head h needs only columns h*hd.. of Q, K and V: a task computes its heads'
 * columns (whole weight panels when hd is a multiple of 16), stores their K
 * and attends, so one job replaces the Q/K/V job, the serial K-cache store
 * and the attention job (a job hand-over costs ~0.7 us between two cores;
 * a decode step has about thirty). The heads are split evenly between the
 * threads; every output element and lane is computed as on the other paths. */
typedef struct {
    const hst_block_rt *B;
    const hst_block_io *io;
    int n, t0, heads_per_task;
} head_group_job;

static void head_group_task(void *ctx, int task)
{
    const head_group_job *j = ctx;
    const hst_block_io *io = j->io;
    const int D = io->D, hd = D / io->nh, h0 = task * j->heads_per_task;
    const int heads = io->nh - h0 < j->heads_per_task ? io->nh - h0 : j->heads_per_task;
    const int p0 = h0 * hd / HST_NR, p1 = (h0 + heads) * hd / HST_NR, c0 = h0 * hd;
    hst_matmul_panels(io->a, j->n, D, &j->B->wq, NULL, io->q, D, HST_EPI_NONE, p0, p1);
    hst_matmul_panels(io->a, j->n, D, &j->B->wk, NULL, io->kstage, D, HST_EPI_NONE, p0, p1);
    hst_matmul_panels(io->a, j->n, D, &j->B->wv, NULL, io->vc + (size_t)j->t0 * D, D, HST_EPI_NONE, p0, p1);
    float *kt = io->kt + (size_t)h0 * io->key_blocks * hd * HST_KEY_BLOCK;
    hst_kcache_store(kt, io->kstage + c0, D, j->n, j->t0, heads, hd, io->key_blocks);
    hst_attention_args a = {io->q + c0, D, kt, io->key_blocks, io->vc + c0, D, io->att + c0, D, j->n, heads, hd,
                            1.0f / sqrtf((float)hd), HST_ATTN_CAUSAL, 0, NULL, j->t0, NULL};
    hst_attention_run(NULL, &a);
}

static void preblock_decode_heads(const hst_block_rt *B, const hst_block_io *io, int n, int t0)
{
    const int threads = io->pool ? hst_pool_threads(io->pool) : 1;
    head_group_job j = {B, io, n, t0, (io->nh + threads - 1) / threads};
    hst_matmul_count_read(&B->wq);
    hst_matmul_count_read(&B->wk);
    hst_matmul_count_read(&B->wv);
    hst_pool_run(io->pool, (io->nh + j.heads_per_task - 1) / j.heads_per_task, head_group_task, &j);
}

static void preblock_products(const hst_block_rt *B, const hst_block_io *io, int n, int t0)
{
    const int D = io->D, nh = io->nh, hd = D / nh;
    hst_pool *pool = io->pool;
    hst_layernorm_rows(pool, io->x, D, io->a, D, B->ln1_g, B->ln1_b, n, D, 0);
    if (hd % HST_NR == 0) {
        preblock_decode_heads(B, io, n, t0);
    } else {
        const hst_matmul_out qkv[] = {{&B->wq, NULL, io->q, D, HST_EPI_NONE},
                                      {&B->wk, NULL, io->kstage, D, HST_EPI_NONE},
                                      {&B->wv, NULL, io->vc + (size_t)t0 * D, D, HST_EPI_NONE}};
        hst_matmul_group(pool, io->a, n, D, qkv, 3);
        hst_kcache_store(io->kt, io->kstage, D, n, t0, nh, hd, io->key_blocks);
        hst_attention(pool, io->q, io->kt, io->vc, io->att, n, t0, nh, hd, io->key_blocks);
    }
    hst_matmul(pool, io->att, n, D, &B->wo, NULL, io->x, D, HST_EPI_ADD);
    hst_layernorm_rows(pool, io->x, D, io->a, D, B->ln2_g, B->ln2_b, n, D, 0);
    hst_matmul(pool, io->a, n, D, &B->w1, B->b1, io->hidden, 4 * D, HST_EPI_RELU);
    hst_matmul(pool, io->hidden, n, 4 * D, &B->w2, B->b2, io->x, D, HST_EPI_ADD);
}

void hst_preblock_run(const hst_block_rt *B, const hst_block_io *io, int n, int t0)
{
    if (n >= FUSED_MIN_ROWS)
        preblock_rows(B, io, n, t0);
    else
        preblock_products(B, io, n, t0);
}

double hst_preblock_flops(int d_model, int n, int t0)
{
    const double D = d_model, D2 = D * D;
    double attn_keys = (double)n * t0 + (double)n * (n + 1) / 2; /* Σ(t_i + 1) */
    return 24 * D2 * n + 4.0 * D * attn_keys;
}

/* ---- the weights around a stack (Cores A, B, C) ------------------------------------ */

void hst_stack_weights_resolve(hst_resolver *r, hst_stack_weights *w, hst_bottom_prefix_fn bottom_prefix)
{
    const hst_config *c = &r->m->cfg;
    const int D = c->d_model, Lb = c->n_layers / 2;
    memset(w, 0, sizeof *w);
    if (!(w->blocks = calloc((size_t)c->n_layers, sizeof *w->blocks))) {
        if (!r->failed)
            hst_set_error(r->err, "%s: out of memory", r->m->source);
        r->failed = 1;
        return;
    }
    w->n_blocks = c->n_layers;
    w->tok_emb = hst_resolve(r, "token_embedding.weight");
    w->pos_emb = hst_resolve(r, "pos_embedding.weight");
    char prefix[64];
    for (int b = 0; b < c->n_layers; b++) {
        if (b < Lb)
            bottom_prefix(c, b, prefix, sizeof prefix);
        else
            snprintf(prefix, sizeof prefix, "top_stack.%d", b - Lb);
        hst_block_resolve(r, &w->blocks[b], prefix, D);
    }
    w->lnf_g = hst_resolve(r, "ln_f.weight");
    w->lnf_b = hst_resolve(r, "ln_f.bias");
    hst_resolve_pack_hot(r, &w->head, hst_resolve(r, "lm_head.weight"), c->vocab_size, D);
}

void hst_stack_weights_free(hst_stack_weights *w)
{
    for (int b = 0; w->blocks && b < w->n_blocks; b++)
        hst_block_rt_free(&w->blocks[b]);
    free(w->blocks);
    hst_packed_free(&w->head);
    memset(w, 0, sizeof *w);
}

uint64_t hst_stack_weights_packed_bytes(const hst_stack_weights *w)
{
    uint64_t bytes = hst_packed_bytes(&w->head);
    for (int b = 0; b < w->n_blocks; b++)
        bytes += hst_block_rt_packed_bytes(&w->blocks[b]);
    return bytes;
}

/* ---- a session's stack (Cores A, B, C) -------------------------------------------- */

void hst_block_stack_free(hst_block_stack *st)
{
    float *bufs[] = {st->kcache, st->vcache, st->kstage, st->a, st->q, st->att, st->hidden};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    memset(st, 0, sizeof *st);
}

int hst_block_stack_init(hst_block_stack *st, const hst_config *c, int n_blocks, int max_rows)
{
    const size_t D = (size_t)c->d_model, rows = (size_t)max_rows, blocks = (size_t)n_blocks;
    int failed = 0;
    memset(st, 0, sizeof *st);
    st->D = c->d_model;
    st->nh = c->n_heads;
    st->max_seq_len = c->max_seq_len;
    st->key_blocks = hst_kv_key_blocks(c->max_seq_len);
    st->n_blocks = n_blocks;
    st->kcache = hst_alloc_floats(blocks * hst_kv_k_floats(c->d_model, c->max_seq_len), &failed);
    st->vcache = hst_alloc_floats(blocks * hst_kv_v_floats(c->d_model, c->max_seq_len), &failed);
    float **row_buffers[] = {&st->kstage, &st->a, &st->q, &st->att};
    for (size_t i = 0; i < sizeof row_buffers / sizeof row_buffers[0]; i++)
        *row_buffers[i] = hst_alloc_floats(rows * D, &failed);
    st->hidden = hst_alloc_floats(rows * 4 * D, &failed);
    if (failed) {
        hst_block_stack_free(st);
        return -1;
    }
    return 0;
}

uint64_t hst_block_stack_kv_bytes(const hst_config *c, int n_blocks)
{
    uint64_t per_block = hst_kv_k_floats(c->d_model, c->max_seq_len) + hst_kv_v_floats(c->d_model, c->max_seq_len);
    return per_block * (uint64_t)n_blocks * sizeof(float);
}

void hst_block_stack_run(const hst_block_stack *st, const hst_block_rt *B, int b, hst_pool *pool, float *x, int n,
                         int t0)
{
    hst_block_io io = {pool, st->D, st->nh, st->key_blocks, x, st->a, st->q, st->kstage, st->att, st->hidden,
                       st->kcache + (size_t)b * hst_kv_k_floats(st->D, st->max_seq_len),
                       st->vcache + (size_t)b * hst_kv_v_floats(st->D, st->max_seq_len)};
    hst_preblock_run(B, &io, n, t0);
}

void hst_block_stack_sections(hst_session *s, hst_section_clock *clk, const hst_block_stack *st,
                              const hst_block_rt *blocks, int first, int count, const char *stage, float *x, int n,
                              int t0)
{
    const double flops = hst_preblock_flops(st->D, n, t0);
    for (int i = 0; i < count; i++) {
        hst_block_stack_run(st, &blocks[first + i], first + i, s->pool, x, n, t0);
        hst_section_done(clk, flops);
        hst_stage_numbered(s, stage, i, x, n, st->D);
    }
}

void hst_head_section(hst_session *s, hst_section_clock *clk, const float *x, int n, int call_rows,
                      const float *lnf_g, const float *lnf_b, const hst_packed *head, float *scratch, float *logits,
                      int all_logits)
{
    const int D = s->cfg.d_model, V = s->cfg.vocab_size;
    hst_stage(s, "hidden", x, n, D);
    int rows = 0;
    if (logits) {
        rows = all_logits ? call_rows : 1;
        hst_head_rows(s->pool, x + (size_t)(n - rows) * D, rows, D, lnf_g, lnf_b, head, V, scratch, logits);
    }
    hst_section_done(clk, 2.0 * D * V * rows);
}

void hst_embed_rows(const float *tok_emb, const float *pos_emb, int D, const int *ids, int n, int t0, float *x)
{
    for (int i = 0; i < n; i++) {
        const float *e = tok_emb + (size_t)ids[i] * D, *p = pos_emb + (size_t)(t0 + i) * D;
        float *row = x + (size_t)i * D;
        for (int d = 0; d < D; d++)
            row[d] = e[d] + p[d];
    }
}

void hst_head_rows(hst_pool *pool, const float *x, int n, int D, const float *lnf_g, const float *lnf_b,
                   const hst_packed *head, int V, float *scratch, float *logits)
{
    hst_layernorm_rows(pool, x, D, scratch, D, lnf_g, lnf_b, n, D, 0);
    hst_matmul(pool, scratch, n, D, head, NULL, logits, V, HST_EPI_NONE);
}

/* ---- one PreBlock on its own (hst.h, `hstprof layerbench`) ------------------------- */

enum { BLOCK_LN1_G, BLOCK_LN1_B, BLOCK_B1, BLOCK_B2, BLOCK_LN2_G, BLOCK_LN2_B, BLOCK_VECTORS };

struct hst_block {
    hst_block_rt rt;
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
    hst_block_rt_free(&b->rt);
    for (int i = 0; i < BLOCK_VECTORS; i++)
        free(b->vectors[i]);
    free(b);
}

static const float *copy_vector(hst_block *b, int slot, const float *src, int n, int *failed)
{
    b->vectors[slot] = hst_alloc_floats((size_t)n, failed);
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
        hst_block_rt *rt = &b->rt;
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
    w->key_blocks = hst_kv_key_blocks(max_rows);
    /* hst_alloc_floats zeroes, so every page is resident before the forward. */
    w->kt = hst_alloc_floats(hst_kv_k_floats(b->D, max_rows), &failed);
    float **row_buffers[] = {&w->vc, &w->kstage, &w->a, &w->q, &w->att};
    for (size_t i = 0; i < sizeof row_buffers / sizeof row_buffers[0]; i++)
        *row_buffers[i] = hst_alloc_floats(rows * D, &failed);
    w->hidden = hst_alloc_floats(rows * 4 * D, &failed);
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
    hst_block_io io = {pool, b->D, b->nh, w->key_blocks, x, w->a, w->q, w->kstage, w->att, w->hidden, w->kt, w->vc};
    hst_preblock_run(&b->rt, &io, S, 0);
    return 0;
}
