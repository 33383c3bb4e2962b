/* encoder.c — the Stage 2 encoder layer (encoder.h): PostEnc of 12.C.2 /
 * 12.D.2.2 and the pre-norm P of 12.E.2.3, over a K/V cache. Matmuls run on
 * the pool with fused epilogues (bias, ReLU, residual add as the tile is
 * stored); attention streams over the cache (attention.c). */
#include "engine/encoder.h"
#include "engine/rowops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { VEC_BQ, VEC_BKV, VEC_BO, VEC_B1, VEC_B2, VEC_LN1_G, VEC_LN1_B, VEC_LN2_G, VEC_LN2_B, VEC_COUNT };

struct hst_encoder {
    hst_encoder_config cfg;
    hst_packed wq;  /* in_proj rows [0, D) */
    hst_packed wkv; /* in_proj rows [D, 3D): k then v, one matmul */
    hst_packed wo, w1, w2;
    float *vectors;           /* one allocation holding every bias and norm vector */
    const float *vec[VEC_COUNT];
};

struct hst_encoder_workspace {
    int d_model, d_ff, max_rows;
    float *a;      /* [n][D]: LN1 (pre-norm) or LN2 output */
    float *q;      /* [n][D] */
    float *kv;     /* [n][2D]: k, v before they go to the cache */
    float *att;    /* [n][D] */
    float *hidden; /* [n][F] */
};

/* 64-byte aligned and zeroed (the AVX-512 attention loads key blocks aligned;
 * zeroing makes the pages resident before the first forward). */
static float *aligned_floats(size_t n)
{
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

/* ---- the layer ---------------------------------------------------------------- */

void hst_encoder_free(hst_encoder *e)
{
    if (!e)
        return;
    hst_packed *all[] = {&e->wq, &e->wkv, &e->wo, &e->w1, &e->w2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        hst_packed_free(all[i]);
    free(e->vectors);
    free(e);
}

/* Copies the bias and norm vectors into one allocation. */
static int copy_vectors(hst_encoder *e, const hst_encoder_weights *w)
{
    const int D = e->cfg.d_model, F = e->cfg.d_ff;
    const struct {
        const float *src;
        int n;
    } from[VEC_COUNT] = {
        [VEC_BQ] = {w->in_proj_bias, D},          [VEC_BKV] = {w->in_proj_bias + D, 2 * D},
        [VEC_BO] = {w->out_proj_bias, D},         [VEC_B1] = {w->linear1_bias, F},
        [VEC_B2] = {w->linear2_bias, D},          [VEC_LN1_G] = {w->norm1_weight, D},
        [VEC_LN1_B] = {w->norm1_bias, D},         [VEC_LN2_G] = {w->norm2_weight, D},
        [VEC_LN2_B] = {w->norm2_bias, D},
    };
    size_t total = 0;
    for (int i = 0; i < VEC_COUNT; i++)
        total += (size_t)from[i].n;
    if (!(e->vectors = malloc(total * sizeof(float))))
        return -1;
    float *at = e->vectors;
    for (int i = 0; i < VEC_COUNT; i++) {
        memcpy(at, from[i].src, (size_t)from[i].n * sizeof(float));
        e->vec[i] = at;
        at += from[i].n;
    }
    return 0;
}

hst_encoder *hst_encoder_create(const hst_encoder_weights *w, const hst_encoder_config *cfg, hst_error *err)
{
    const int D = cfg->d_model, nh = cfg->n_heads, F = cfg->d_ff;
    if (D < 1 || nh < 1 || D % nh || F < 1 || (unsigned)cfg->precision >= HST_PRECISION_COUNT) {
        hst_set_error(err, "encoder: d_model %d, %d heads, d_ff %d: d_model must be a positive multiple of the "
                           "head count and d_ff positive (12.C.1, 12.E.2.3)", D, nh, F);
        return NULL;
    }
    hst_encoder *e = calloc(1, sizeof *e);
    int failed = !e;
    if (e) {
        const hst_precision p = cfg->precision;
        e->cfg = *cfg;
        failed |= hst_pack_precision(&e->wq, w->in_proj_weight, D, D, p);
        failed |= hst_pack_precision(&e->wkv, w->in_proj_weight + (size_t)D * D, 2 * D, D, p);
        failed |= hst_pack_precision(&e->wo, w->out_proj_weight, D, D, p);
        failed |= hst_pack_precision(&e->w1, w->linear1_weight, F, D, p);
        failed |= hst_pack_precision(&e->w2, w->linear2_weight, D, F, p);
        failed |= copy_vectors(e, w);
    }
    if (failed) {
        hst_encoder_free(e);
        hst_set_error(err, "encoder: out of memory for the weights of a d_model %d, d_ff %d layer", D, F);
        return NULL;
    }
    return e;
}

const hst_encoder_config *hst_encoder_get_config(const hst_encoder *e) { return &e->cfg; }

uint64_t hst_encoder_packed_bytes(const hst_encoder *e)
{
    return hst_packed_bytes(&e->wq) + hst_packed_bytes(&e->wkv) + hst_packed_bytes(&e->wo) +
           hst_packed_bytes(&e->w1) + hst_packed_bytes(&e->w2);
}

/* ---- caches and workspaces ------------------------------------------------------- */

int hst_encoder_cache_init(hst_encoder_cache *c, const hst_encoder *e, int capacity, hst_error *err)
{
    const int D = e->cfg.d_model;
    memset(c, 0, sizeof *c);
    if (capacity < 1) {
        hst_set_error(err, "encoder: a K/V cache needs at least 1 position, got %d", capacity);
        return -1;
    }
    c->capacity = capacity;
    c->key_blocks = (capacity + HST_KEY_BLOCK - 1) / HST_KEY_BLOCK;
    c->d_model = D;
    c->n_heads = e->cfg.n_heads;
    c->kt = aligned_floats((size_t)c->key_blocks * HST_KEY_BLOCK * D);
    c->v = aligned_floats((size_t)capacity * D);
    if (!c->kt || !c->v) {
        hst_encoder_cache_free(c);
        hst_set_error(err, "encoder: out of memory for a K/V cache of %d positions of width %d", capacity, D);
        return -1;
    }
    return 0;
}

void hst_encoder_cache_free(hst_encoder_cache *c)
{
    free(c->kt);
    free(c->v);
    c->kt = c->v = NULL;
}

uint64_t hst_encoder_cache_bytes(const hst_encoder_cache *c)
{
    return ((uint64_t)c->key_blocks * HST_KEY_BLOCK + (uint64_t)c->capacity) * c->d_model * sizeof(float);
}

void hst_encoder_workspace_free(hst_encoder_workspace *w)
{
    if (!w)
        return;
    float *bufs[] = {w->a, w->q, w->kv, w->att, w->hidden};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(w);
}

hst_encoder_workspace *hst_encoder_workspace_create(int d_model, int d_ff, int max_rows, hst_error *err)
{
    if (d_model < 1 || d_ff < 1 || max_rows < 1) {
        hst_set_error(err, "encoder: a workspace needs positive widths and rows, got d_model %d, d_ff %d, %d rows",
                      d_model, d_ff, max_rows);
        return NULL;
    }
    hst_encoder_workspace *w = calloc(1, sizeof *w);
    const size_t D = (size_t)d_model, rows = (size_t)max_rows;
    if (w) {
        w->d_model = d_model;
        w->d_ff = d_ff;
        w->max_rows = max_rows;
        w->a = aligned_floats(rows * D);
        w->q = aligned_floats(rows * D);
        w->kv = aligned_floats(rows * 2 * D);
        w->att = aligned_floats(rows * D);
        w->hidden = aligned_floats(rows * (size_t)d_ff);
    }
    if (!w || !w->a || !w->q || !w->kv || !w->att || !w->hidden) {
        hst_encoder_workspace_free(w);
        hst_set_error(err, "encoder: out of memory for a workspace of %d rows", max_rows);
        return NULL;
    }
    return w;
}

uint64_t hst_encoder_workspace_bytes(const hst_encoder_workspace *w)
{
    return w ? (uint64_t)w->max_rows * (5u * (uint64_t)w->d_model + (uint64_t)w->d_ff) * sizeof(float) : 0;
}

/* ---- argument checks ---------------------------------------------------------------- */

static int check_rows(const hst_encoder *e, const hst_encoder_workspace *ws, const hst_encoder_cache *c,
                      const hst_encoder_rows *rows, hst_error *err)
{
    const hst_encoder_config *g = &e->cfg;
    if (ws->d_model != g->d_model || ws->d_ff < g->d_ff || c->d_model != g->d_model || c->n_heads != g->n_heads) {
        hst_set_error(err, "encoder: a layer of width %d (%d heads, d_ff %d) cannot use a workspace of width %d "
                           "(d_ff %d) or a cache of width %d (%d heads)", g->d_model, g->n_heads, g->d_ff,
                      ws->d_model, ws->d_ff, c->d_model, c->n_heads);
        return -1;
    }
    if (rows->n < 1 || rows->n > ws->max_rows) {
        hst_set_error(err, "encoder: %d rows do not fit a workspace of %d rows", rows->n, ws->max_rows);
        return -1;
    }
    for (int i = 0; i < rows->n; i++) {
        int pos = rows->positions ? rows->positions[i] : rows->t0 + i;
        if (pos < 0 || pos >= c->capacity) {
            hst_set_error(err, "encoder: row %d is at position %d, outside the cache's 0..%d", i, pos,
                          c->capacity - 1);
            return -1;
        }
    }
    if (rows->extent == HST_ATTN_FULL && (rows->n_keys < 1 || rows->n_keys > c->capacity)) {
        hst_set_error(err, "encoder: full attention over %d keys: the cache holds 1..%d", rows->n_keys,
                      c->capacity);
        return -1;
    }
    return 0;
}

/* ---- the two parts of a layer ----------------------------------------------------------- */

/* k, v of the rows src (the layer input, or LN1 of it for pre-norm) into the cache. */
static double store_kv(const hst_encoder *e, hst_encoder_workspace *ws, hst_pool *pool, hst_encoder_cache *c,
                       const hst_encoder_rows *rows, const float *src, int ld_src)
{
    const int D = e->cfg.d_model, nh = e->cfg.n_heads, n = rows->n;
    hst_matmul(pool, src, n, ld_src, &e->wkv, e->vec[VEC_BKV], ws->kv, 2 * D, HST_EPI_NONE);
    hst_kcache_store_rows(c->kt, ws->kv, 2 * D, n, rows->positions, rows->t0, nh, D / nh, c->key_blocks);
    hst_rows_scatter(ws->kv + D, 2 * D, c->v, D, n, D, rows->positions, rows->t0);
    return 4.0 * D * D * n;
}

/* LN1 of the rows into ws->a: what a pre-norm layer projects. */
static void pre_norm_input(const hst_encoder *e, hst_encoder_workspace *ws, hst_pool *pool,
                           const hst_encoder_rows *rows)
{
    const int D = e->cfg.d_model;
    hst_layernorm_rows(pool, rows->x, rows->ldx, ws->a, D, e->vec[VEC_LN1_G], e->vec[VEC_LN1_B], rows->n, D, 0);
}

/* q, attention, out_proj + residual, FFN + residual and the norms, given the
 * projected input src (x for post-norm, LN1(x) for pre-norm). */
static double attend(const hst_encoder *e, hst_encoder_workspace *ws, hst_pool *pool, const hst_encoder_cache *c,
                     const hst_encoder_rows *rows, const float *src, int ld_src)
{
    const hst_encoder_config *g = &e->cfg;
    const int D = g->d_model, F = g->d_ff, n = rows->n, hd = D / g->n_heads;
    const int post = g->norm == HST_ENCODER_POST_NORM;
    float *y = rows->y;
    const int ldy = rows->ldy;
    hst_matmul(pool, src, n, ld_src, &e->wq, e->vec[VEC_BQ], ws->q, D, HST_EPI_NONE);
    /* nn.MultiheadAttention scales scores by 1/sqrt(head width) (12.C.2, 12.E.2.3). */
    hst_attention_args a = {ws->q, D, c->kt, c->key_blocks, c->v, D, ws->att, D, n, g->n_heads, hd,
                            1.0f / sqrtf((float)hd), rows->extent, rows->n_keys, rows->positions, rows->t0, NULL};
    hst_attention_run(pool, &a);
    hst_rows_copy(rows->x, rows->ldx, y, ldy, n, D);
    hst_matmul(pool, ws->att, n, D, &e->wo, e->vec[VEC_BO], y, ldy, HST_EPI_ADD); /* y = h + a */
    const float *ffn_in = y;
    int ld_ffn_in = ldy;
    if (post) {
        hst_layernorm_rows(pool, y, ldy, y, ldy, e->vec[VEC_LN1_G], e->vec[VEC_LN1_B], n, D, 0); /* z */
    } else {
        hst_layernorm_rows(pool, y, ldy, ws->a, D, e->vec[VEC_LN2_G], e->vec[VEC_LN2_B], n, D, 0);
        ffn_in = ws->a;
        ld_ffn_in = D;
    }
    hst_matmul(pool, ffn_in, n, ld_ffn_in, &e->w1, e->vec[VEC_B1], ws->hidden, F, HST_EPI_RELU);
    hst_matmul(pool, ws->hidden, n, F, &e->w2, e->vec[VEC_B2], y, ldy, HST_EPI_ADD);
    if (post)
        hst_layernorm_rows(pool, y, ldy, y, ldy, e->vec[VEC_LN2_G], e->vec[VEC_LN2_B], n, D, 0); /* u */
    return (4.0 * D * D + 4.0 * F * D) * n + hst_attention_flops(&a);
}

/* ---- public calls --------------------------------------------------------------------- */

double hst_encoder_store_kv(const hst_encoder *e, hst_encoder_workspace *ws, hst_pool *pool, hst_encoder_cache *c,
                            const hst_encoder_rows *rows, hst_error *err)
{
    hst_encoder_rows kv_rows = *rows;
    kv_rows.extent = HST_ATTN_CAUSAL; /* the extent plays no part in storing */
    if (check_rows(e, ws, c, &kv_rows, err) != 0)
        return -1;
    if (e->cfg.norm == HST_ENCODER_POST_NORM)
        return store_kv(e, ws, pool, c, rows, rows->x, rows->ldx);
    pre_norm_input(e, ws, pool, rows);
    return store_kv(e, ws, pool, c, rows, ws->a, e->cfg.d_model);
}

double hst_encoder_attend(const hst_encoder *e, hst_encoder_workspace *ws, hst_pool *pool,
                          const hst_encoder_cache *c, const hst_encoder_rows *rows, hst_error *err)
{
    if (check_rows(e, ws, c, rows, err) != 0)
        return -1;
    if (e->cfg.norm == HST_ENCODER_POST_NORM)
        return attend(e, ws, pool, c, rows, rows->x, rows->ldx);
    pre_norm_input(e, ws, pool, rows);
    return attend(e, ws, pool, c, rows, ws->a, e->cfg.d_model);
}

double hst_encoder_forward(const hst_encoder *e, hst_encoder_workspace *ws, hst_pool *pool, hst_encoder_cache *c,
                           const hst_encoder_rows *rows, hst_error *err)
{
    if (check_rows(e, ws, c, rows, err) != 0)
        return -1;
    if (e->cfg.norm == HST_ENCODER_POST_NORM)
        return store_kv(e, ws, pool, c, rows, rows->x, rows->ldx) + attend(e, ws, pool, c, rows, rows->x, rows->ldx);
    /* LN1 once: both parts project it (ws->a is rewritten only after q is computed). */
    pre_norm_input(e, ws, pool, rows);
    const int D = e->cfg.d_model;
    return store_kv(e, ws, pool, c, rows, ws->a, D) + attend(e, ws, pool, c, rows, ws->a, D);
}
