/* multires.c — the multi-resolution block of Cores D and E (multires.h):
 * pooling (adaptive or floor bins) or the causal block sums, one encoder
 * layer per resolution over its own K/V cache, linear upsampling or the
 * zero-order hold, written as the fusion's input [y_1 | y_2 | y_4 | y_8]. */
#include "engine/multires.h"
#include "engine/rowops.h"

#include <stdlib.h>
#include <string.h>

const int hst_multires_factors[HST_MULTIRES_COUNT] = {1, 2, 4, 8};

#define POOLED_COUNT (HST_MULTIRES_COUNT - 1) /* r = 2, 4, 8 */

struct hst_multires_state {
    int d_model, max_seq_len;
    hst_encoder_cache cache[HST_MULTIRES_COUNT];
    hst_encoder_workspace *ws;
    float *open_sum;  /* [3][D]: causal, the x rows of the open r-block summed in row order */
    float *held;      /* [3][D]: causal, Y_r of the latest complete block */
    float *pooled;    /* [Lmax/2][D]: the call's pooled rows */
    float *processed; /* [Lmax/2][D]: their encoder outputs */
};

/* Pooled positions a resolution's cache holds: floor(Lmax/r), at least one. */
static int pooled_capacity(int max_seq_len, int r)
{
    return max_seq_len / r > 0 ? max_seq_len / r : 1;
}

/* ---- state ------------------------------------------------------------------------ */

void hst_multires_state_free(hst_multires_state *st)
{
    if (!st)
        return;
    for (int k = 0; k < HST_MULTIRES_COUNT; k++)
        hst_encoder_cache_free(&st->cache[k]);
    hst_encoder_workspace_free(st->ws);
    free(st->open_sum);
    free(st->held);
    free(st->pooled);
    free(st->processed);
    free(st);
}

hst_multires_state *hst_multires_state_create(const hst_multires *mr, int max_seq_len, hst_error *err)
{
    const int D = hst_encoder_get_config(mr->layers[0])->d_model;
    int d_ff = 0;
    for (int k = 0; k < HST_MULTIRES_COUNT; k++) {
        const hst_encoder_config *g = hst_encoder_get_config(mr->layers[k]);
        d_ff = g->d_ff > d_ff ? g->d_ff : d_ff;
    }
    hst_multires_state *st = calloc(1, sizeof *st);
    if (!st) {
        hst_set_error(err, "multires: out of memory");
        return NULL;
    }
    st->d_model = D;
    st->max_seq_len = max_seq_len;
    for (int k = 0; k < HST_MULTIRES_COUNT; k++) {
        const int r = hst_multires_factors[k];
        if (hst_encoder_cache_init(&st->cache[k], mr->layers[k], pooled_capacity(max_seq_len, r), err) != 0) {
            hst_multires_state_free(st);
            return NULL;
        }
    }
    if (!(st->ws = hst_encoder_workspace_create(D, d_ff, max_seq_len, err))) {
        hst_multires_state_free(st);
        return NULL;
    }
    int failed = 0;
    const size_t pooled_rows = (size_t)pooled_capacity(max_seq_len, 2);
    st->open_sum = hst_alloc_floats((size_t)POOLED_COUNT * D, &failed);
    st->held = hst_alloc_floats((size_t)POOLED_COUNT * D, &failed);
    st->pooled = hst_alloc_floats(pooled_rows * D, &failed);
    st->processed = hst_alloc_floats(pooled_rows * D, &failed);
    if (failed) {
        hst_multires_state_free(st);
        hst_set_error(err, "multires: out of memory for the buffers of %d positions of width %d", max_seq_len, D);
        return NULL;
    }
    return st;
}

void hst_multires_state_reset(hst_multires_state *st)
{
    const size_t bytes = (size_t)POOLED_COUNT * st->d_model * sizeof(float);
    memset(st->open_sum, 0, bytes);
    memset(st->held, 0, bytes);
}

/* A cache of c positions as hst_encoder_cache_init allocates it: K in whole
 * 16-key blocks, V row by row. */
static uint64_t cache_floats(int d_model, int capacity)
{
    const uint64_t key_blocks = ((uint64_t)capacity + HST_KEY_BLOCK - 1) / HST_KEY_BLOCK;
    return (key_blocks * HST_KEY_BLOCK + (uint64_t)capacity) * (uint64_t)d_model;
}

uint64_t hst_multires_state_bytes(int d_model, int max_seq_len)
{
    uint64_t floats = 2u * POOLED_COUNT * (uint64_t)d_model; /* open sums, held rows */
    for (int k = 0; k < HST_MULTIRES_COUNT; k++)
        floats += cache_floats(d_model, pooled_capacity(max_seq_len, hst_multires_factors[k]));
    return floats * sizeof(float);
}

/* ---- the parity recipes (12.D.2.2, 12.E.2.3) -------------------------------------------- */

void hst_multires_bin(hst_multires_pooling pooling, int S, int r, int i, int *first, int *end)
{
    if (pooling == HST_MULTIRES_POOL_FLOOR) {
        *first = i * r;
        *end = i * r + r;
        return;
    }
    /* PyTorch's adaptive pooling indices in integers: floor(i·S/n), ceil((i+1)·S/n). */
    const int64_t n = S / r, Sl = S;
    *first = (int)(i * Sl / n);
    *end = (int)(((i + 1) * Sl + n - 1) / n);
}

void hst_multires_upsample_coeffs(int n, int S, int t, int *i0, int *i1, float *lambda0, float *lambda1)
{
    const float sigma = (float)n / (float)S; /* the scale, a float32 division */
    double u = (double)sigma * (t + 0.5) - 0.5;
    u = u > 0 ? u : 0;
    *i0 = (int)u;
    *i1 = *i0 + 1 < n ? *i0 + 1 : n - 1; /* the last rows clamp at Y[n-1] */
    *lambda1 = (float)(u - *i0);
    *lambda0 = 1.0f - *lambda1;
}

/* ---- helpers shared by both modes ---------------------------------------------------------- */

/* dst = src / count, elementwise: a mean as true division (12.0). */
static void divide_row(const float *src, float count, float *dst, int D)
{
    for (int d = 0; d < D; d++)
        dst[d] = src[d] / count;
}

/* One encoder pass over rows [n][D] (positions t0..), causal or over all of them. */
static double encode(const hst_encoder *layer, hst_multires_state *st, hst_encoder_cache *cache, hst_pool *pool,
                     const float *x, int ldx, float *y, int ldy, int n, int t0, hst_attn_extent extent,
                     hst_error *err)
{
    hst_encoder_rows rows = {x, ldx, y, ldy, n, NULL, t0, extent, n};
    return hst_encoder_forward(layer, st->ws, pool, cache, &rows, err);
}

/* Closes resolution k's section and hands its rows y_r to the stage hook. */
static void resolution_done(hst_section_clock *clk, int k, const hst_multires_rows *rows, int D, double flops)
{
    if (!clk)
        return;
    hst_section_done(clk, flops);
    hst_stage_numbered(clk->s, "multires", hst_multires_factors[k], rows->y + (size_t)k * D, rows->n, rows->ldy);
}

/* y_r = y_1 for the rows [first, end): before the first pooled row (causal) or S < r (parity). */
static void copy_y1(const hst_multires_rows *rows, int k, int first, int end, int D)
{
    hst_rows_copy(rows->y + (size_t)first * rows->ldy, rows->ldy, rows->y + (size_t)first * rows->ldy + (size_t)k * D,
                  rows->ldy, end - first, D);
}

static int check_rows(const hst_multires_state *st, const hst_multires_rows *rows, hst_error *err)
{
    if (rows->n < 1 || rows->t0 < 0 || rows->t0 + rows->n > st->max_seq_len || rows->ldy < 4 * st->d_model) {
        hst_set_error(err, "multires: rows %d..%d (output stride %d) do not fit positions 0..%d of width %d",
                      rows->t0, rows->t0 + rows->n - 1, rows->ldy, st->max_seq_len - 1, st->d_model);
        return -1;
    }
    return 0;
}

/* ---- parity ---------------------------------------------------------------------------------- */

/* The pooled rows of a window: the mean of each bin, summed in row order. */
static void pool_window(hst_multires_pooling pooling, const hst_multires_rows *rows, int r, float *pooled, int D)
{
    const int S = rows->n, n = S / r;
    for (int i = 0; i < n; i++) {
        int first, end;
        hst_multires_bin(pooling, S, r, i, &first, &end);
        float *p = pooled + (size_t)i * D;
        memset(p, 0, (size_t)D * sizeof *p);
        for (int j = first; j < end; j++) {
            const float *x = rows->x + (size_t)j * rows->ldx;
            for (int d = 0; d < D; d++)
                p[d] += x[d];
        }
        divide_row(p, (float)(end - first), p, D);
    }
}

/* y_r(t) = lambda0·Y[i0] + lambda1·Y[i1] for every row of the window. */
static void upsample(const float *Y, int n, const hst_multires_rows *rows, int k, int D)
{
    const int S = rows->n;
    for (int t = 0; t < S; t++) {
        int i0, i1;
        float l0, l1;
        hst_multires_upsample_coeffs(n, S, t, &i0, &i1, &l0, &l1);
        const float *a = Y + (size_t)i0 * D, *b = Y + (size_t)i1 * D;
        float *y = rows->y + (size_t)t * rows->ldy + (size_t)k * D;
        for (int d = 0; d < D; d++)
            y[d] = l0 * a[d] + l1 * b[d];
    }
}

double hst_multires_parity(const hst_multires *mr, hst_multires_state *st, hst_pool *pool,
                           const hst_multires_rows *rows, hst_section_clock *clk, hst_error *err)
{
    if (check_rows(st, rows, err) != 0)
        return -1;
    if (rows->t0 != 0) {
        hst_set_error(err, "multires: a parity call covers the window from position 0, not %d", rows->t0);
        return -1;
    }
    const int D = st->d_model, S = rows->n;
    double total = encode(mr->layers[0], st, &st->cache[0], pool, rows->x, rows->ldx, rows->y, rows->ldy, S, 0,
                          HST_ATTN_FULL, err);
    if (total < 0)
        return -1;
    resolution_done(clk, 0, rows, D, total);
    for (int k = 1; k < HST_MULTIRES_COUNT; k++) {
        const int r = hst_multires_factors[k], n = S / r;
        double flops = 0;
        if (n == 0) {
            copy_y1(rows, k, 0, S, D); /* S < r: the original crashes; the spec takes y_1 */
        } else {
            pool_window(mr->pooling, rows, r, st->pooled, D);
            flops = encode(mr->layers[k], st, &st->cache[k], pool, st->pooled, D, st->processed, D, n, 0,
                           HST_ATTN_FULL, err);
            if (flops < 0)
                return -1;
            upsample(st->processed, n, rows, k, D);
        }
        resolution_done(clk, k, rows, D, flops);
        total += flops;
    }
    return total;
}

/* ---- causal ------------------------------------------------------------------------------------ */

/* Adds the call's rows to resolution k's open block; every block that completes
 * becomes a pooled row (sum / r). Returns how many did. */
static int pool_blocks(hst_multires_state *st, const hst_multires_rows *rows, int k)
{
    const int D = st->d_model, r = hst_multires_factors[k];
    float *sum = st->open_sum + (size_t)(k - 1) * D;
    int completed = 0;
    for (int i = 0; i < rows->n; i++) {
        const int t = rows->t0 + i;
        const float *x = rows->x + (size_t)i * rows->ldx;
        if (t % r == 0)
            memset(sum, 0, (size_t)D * sizeof *sum);
        for (int d = 0; d < D; d++)
            sum[d] += x[d];
        if ((t + 1) % r == 0)
            divide_row(sum, (float)r, st->pooled + (size_t)completed++ * D, D);
    }
    return completed;
}

/* Zero-order hold: y_r(t) = Y_r[c], c = floor((t+1)/r) - 1, the latest block
 * complete at t (from this call's pooled rows from index c_first on, else the
 * held row); y_1(t) while c < 0. */
static void hold(hst_multires_state *st, const hst_multires_rows *rows, int k, int c_first)
{
    const int D = st->d_model, r = hst_multires_factors[k];
    const float *held = st->held + (size_t)(k - 1) * D;
    for (int i = 0; i < rows->n; i++) {
        const int c = (rows->t0 + i + 1) / r - 1;
        if (c < 0) {
            copy_y1(rows, k, i, i + 1, D);
            continue;
        }
        const float *src = c >= c_first ? st->processed + (size_t)(c - c_first) * D : held;
        memcpy(rows->y + (size_t)i * rows->ldy + (size_t)k * D, src, (size_t)D * sizeof *src);
    }
}

double hst_multires_causal(const hst_multires *mr, hst_multires_state *st, hst_pool *pool,
                           const hst_multires_rows *rows, hst_section_clock *clk, hst_error *err)
{
    if (check_rows(st, rows, err) != 0)
        return -1;
    const int D = st->d_model;
    double total = encode(mr->layers[0], st, &st->cache[0], pool, rows->x, rows->ldx, rows->y, rows->ldy, rows->n,
                          rows->t0, HST_ATTN_CAUSAL, err);
    if (total < 0)
        return -1;
    resolution_done(clk, 0, rows, D, total);
    for (int k = 1; k < HST_MULTIRES_COUNT; k++) {
        const int r = hst_multires_factors[k], c_first = rows->t0 / r; /* pooled rows made before this call */
        const int completed = pool_blocks(st, rows, k);
        double flops = 0;
        if (completed > 0) {
            flops = encode(mr->layers[k], st, &st->cache[k], pool, st->pooled, D, st->processed, D, completed, c_first,
                           HST_ATTN_CAUSAL, err);
            if (flops < 0)
                return -1;
        }
        hold(st, rows, k, c_first);
        if (completed > 0)
            memcpy(st->held + (size_t)(k - 1) * D, st->processed + (size_t)(completed - 1) * D, (size_t)D * sizeof(float));
        resolution_done(clk, k, rows, D, flops);
        total += flops;
    }
    return total;
}
