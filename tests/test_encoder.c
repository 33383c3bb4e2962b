/* test_encoder.c — the shared compute blocks of the Stage 2 cores against
 * naive double-precision references written out below: attention with
 * options (scale, causal, full, per-row positions, Core D's 64-key block
 * filter), the post-norm and pre-norm encoder layers over a K/V cache, and
 * the row helpers. Every result must also be bit-identical for 1, 2 and 3
 * threads and for any split of the rows into calls, on the portable and the
 * AVX-512 kernels (whichever this CPU has). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/encoder.h"
#include "engine/rowops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Outputs are O(1) (attention averages of values in [-1, 1]; LayerNorm
 * rows): f32 rounding over K <= 2048 products stays far below these. */
#define ATTN_TOLERANCE 1e-5
#define LAYER_TOLERANCE 1e-5

static const hst_kernel test_kernels[] = {HST_KERNEL_PORTABLE, HST_KERNEL_AVX512};
#define N_KERNELS 2

/* ---- helpers ------------------------------------------------------------------ */

static float *floats(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static float *aligned_cache(size_t n)
{
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    assert_non_null(p);
    memset(p, 0, bytes);
    return p;
}

static void fill_uniform(float *x, size_t n, double bound, uint64_t rng[4])
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(bound * (2.0 * hst_rng_uniform(rng) - 1.0));
}

static hst_pool *pool_of(int threads)
{
    hst_error err = {{0}};
    hst_pool *p = hst_pool_create(threads, NULL, NULL, &err);
    if (!p)
        fail_msg("%s", err.msg);
    return p;
}

/* Selects the kernel; 0 when this CPU cannot run it (the case is skipped). */
static int use_kernel(hst_kernel k)
{
    return hst_kernel_use(k) >= 0;
}

/* Bit-for-bit equality of two results (the determinism rules of 12.0). */
static int same_bits(const void *a, const void *b, size_t bytes)
{
    return memcmp(a, b, bytes) == 0;
}

static void check_close(const float *got, const double *want, size_t n, double tolerance, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tolerance * (1.0 + fabs(want[i]))))
            fail_msg("%s (%s kernel): element %zu is %.9g, reference %.9g", what,
                     hst_kernel_name(hst_kernel_current()), i, got[i], want[i]);
}

/* ---- attention: fixture and reference --------------------------------------------- */

typedef struct {
    int nh, hd, D, n_pos, blocks;
    float *K, *V, *q; /* [n_pos][D]: keys, values, queries (one per position) */
    float *kt;        /* the transposed K cache */
} attn_fixture;

/* Random keys, values and queries; the K cache is written in a scrambled
 * order of positions (hst_kcache_store_rows with a position list). */
static attn_fixture attn_fixture_make(int nh, int hd, int n_pos, uint64_t seed)
{
    attn_fixture f = {nh, hd, nh * hd, n_pos, (n_pos + HST_KEY_BLOCK - 1) / HST_KEY_BLOCK, NULL, NULL, NULL, NULL};
    uint64_t rng[4];
    hst_rng_seed(rng, seed);
    size_t cells = (size_t)n_pos * f.D;
    f.K = floats(cells);
    f.V = floats(cells);
    f.q = floats(cells);
    fill_uniform(f.K, cells, 1.0, rng);
    fill_uniform(f.V, cells, 1.0, rng);
    fill_uniform(f.q, cells, 3.0, rng); /* peaked softmaxes exercise the running max */
    f.kt = aligned_cache((size_t)nh * f.blocks * hd * HST_KEY_BLOCK);
    int *order = malloc(sizeof(int) * (size_t)n_pos);
    float *scrambled = floats(cells);
    assert_non_null(order);
    for (int i = 0; i < n_pos; i++)
        order[i] = (int)(((int64_t)i * 37 + 11) % n_pos);
    for (int i = 0; i < n_pos; i++)
        memcpy(scrambled + (size_t)i * f.D, f.K + (size_t)order[i] * f.D, sizeof(float) * (size_t)f.D);
    if (n_pos % 37 == 0)
        fail_msg("n_pos must be coprime with 37 for the scramble");
    hst_kcache_store_rows(f.kt, scrambled, f.D, n_pos, order, 0, nh, hd, f.blocks);
    free(order);
    free(scrambled);
    return f;
}

static void attn_fixture_free(attn_fixture *f)
{
    free(f->K);
    free(f->V);
    free(f->q);
    free(f->kt);
}

/* One attention call: rows are positions pos[0..n-1] (their queries are the
 * fixture's rows at those positions, gathered into a compact batch). */
typedef struct {
    hst_attn_extent extent;
    int n_keys;
    float scale;
    const unsigned char *keep;
} attn_opts;

static void attend_rows(hst_pool *pool, const attn_fixture *f, const int *pos, int n, const attn_opts *o,
                        float *out, int compact)
{
    float *q = floats((size_t)n * f->D);
    for (int i = 0; i < n; i++)
        memcpy(q + (size_t)i * f->D, f->q + (size_t)pos[i] * f->D, sizeof(float) * (size_t)f->D);
    /* Contiguous positions go through t0 unless the caller asks for a list. */
    int contiguous = !compact;
    for (int i = 1; contiguous && i < n; i++)
        contiguous = pos[i] == pos[0] + i;
    hst_attention_args a = {q,      f->D,       f->kt,  f->blocks,   f->V,   f->D,
                            out,    f->D,       n,      f->nh,       f->hd,  o->scale,
                            o->extent, o->n_keys, contiguous ? NULL : pos, contiguous ? pos[0] : 0, o->keep};
    hst_attention_run(pool, &a);
    free(q);
}

/* Whether a row at pos sees key j (attention.h's rules, written out). */
static int ref_visible(const attn_opts *o, int pos, int j)
{
    int last = o->extent == HST_ATTN_FULL ? o->n_keys - 1 : pos;
    if (j > last)
        return 0;
    return !o->keep || j / 64 == pos / 64 || o->keep[j / 64];
}

static void ref_attention_row(const attn_fixture *f, int pos, const attn_opts *o, double *out)
{
    const int D = f->D, hd = f->hd;
    double *s = malloc(sizeof(double) * (size_t)f->n_pos);
    assert_non_null(s);
    for (int h = 0; h < f->nh; h++) {
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < f->n_pos; j++) {
            s[j] = -INFINITY;
            if (!ref_visible(o, pos, j))
                continue;
            double dot = 0;
            for (int d = 0; d < hd; d++)
                dot += (double)f->q[(size_t)pos * D + h * hd + d] * f->K[(size_t)j * D + h * hd + d];
            s[j] = dot * o->scale;
            mx = s[j] > mx ? s[j] : mx;
        }
        for (int d = 0; d < hd; d++)
            out[h * hd + d] = 0;
        for (int j = 0; j < f->n_pos; j++) {
            if (s[j] == -INFINITY)
                continue;
            double p = exp(s[j] - mx);
            sum += p;
            for (int d = 0; d < hd; d++)
                out[h * hd + d] += p * f->V[(size_t)j * D + h * hd + d];
        }
        for (int d = 0; d < hd; d++)
            out[h * hd + d] /= sum;
    }
    free(s);
}

/* The options every attention test runs: the cores' cases. */
typedef struct {
    const char *name;
    attn_opts opts;
    int first, count, stride; /* rows at positions first + i*stride */
} attn_case;

#define N_POS 203 /* four 64-key blocks, the last partial; coprime with 37 */
static const unsigned char keep_pattern[4] = {1, 0, 0, 1};
/* Block 0 dropped: rows of later blocks see nothing in the first chunk. */
static const unsigned char keep_late[4] = {0, 1, 0, 1};

static int attn_cases(const attn_fixture *f, attn_case *cases)
{
    const float usual = 1.0f / sqrtf((float)f->hd), core_d = 1.0f / sqrtf((float)f->D);
    int n = 0;
    cases[n++] = (attn_case){"causal prefill", {HST_ATTN_CAUSAL, 0, usual, NULL}, 0, N_POS, 1};
    cases[n++] = (attn_case){"causal chunk, scale 1/sqrt(D)", {HST_ATTN_CAUSAL, 0, core_d, NULL}, 37, 90, 1};
    cases[n++] = (attn_case){"full window", {HST_ATTN_FULL, N_POS, usual, NULL}, 0, N_POS, 1};
    cases[n++] = (attn_case){"full over fewer keys", {HST_ATTN_FULL, 150, 0.7f, NULL}, 3, 40, 3};
    cases[n++] = (attn_case){"causal compact rows", {HST_ATTN_CAUSAL, 0, usual, NULL}, 2, 50, 4};
    cases[n++] = (attn_case){"causal keep filter", {HST_ATTN_CAUSAL, 0, core_d, keep_pattern}, 0, N_POS, 1};
    cases[n++] = (attn_case){"causal keep filter, compact rows", {HST_ATTN_CAUSAL, 0, core_d, keep_late}, 1, 40, 5};
    cases[n++] = (attn_case){"full keep filter", {HST_ATTN_FULL, N_POS, usual, keep_late}, 1, 67, 3};
    return n;
}

static int *case_positions(const attn_case *c)
{
    int *pos = malloc(sizeof(int) * (size_t)c->count);
    assert_non_null(pos);
    for (int i = 0; i < c->count; i++)
        pos[i] = c->first + i * c->stride;
    return pos;
}

/* ---- attention tests ---------------------------------------------------------------- */

static void check_attention_against_reference(hst_pool *pool, int nh, int hd)
{
    attn_fixture f = attn_fixture_make(nh, hd, N_POS, (uint64_t)nh * 100 + hd);
    attn_case cases[10];
    int n_cases = attn_cases(&f, cases);
    double *want = malloc(sizeof(double) * (size_t)N_POS * f.D);
    assert_non_null(want);
    for (int c = 0; c < n_cases; c++) {
        int *pos = case_positions(&cases[c]);
        float *out = floats((size_t)cases[c].count * f.D);
        attend_rows(pool, &f, pos, cases[c].count, &cases[c].opts, out, 0);
        for (int i = 0; i < cases[c].count; i++)
            ref_attention_row(&f, pos[i], &cases[c].opts, want + (size_t)i * f.D);
        char what[128];
        snprintf(what, sizeof what, "attention %s, %d heads of %d", cases[c].name, nh, hd);
        check_close(out, want, (size_t)cases[c].count * f.D, ATTN_TOLERANCE, what);
        free(out);
        free(pos);
    }
    free(want);
    attn_fixture_free(&f);
}

static void test_attention_options_match_naive_reference(void **state)
{
    (void)state;
    const int shapes[][2] = {{8, 2}, {8, 16}, {4, 32}, {2, 48}, {1, 64}};
    hst_pool *pool = pool_of(2);
    int kernels = 0;
    for (int k = 0; k < N_KERNELS; k++) {
        if (!use_kernel(test_kernels[k]))
            continue;
        kernels++;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            check_attention_against_reference(pool, shapes[s][0], shapes[s][1]);
    }
    assert_true(kernels >= 1);
    hst_kernel_use(HST_KERNEL_AUTO);
    hst_pool_free(pool);
}

/* The rows of one case computed in one call on 1 thread, then on 2 and 3
 * threads, row by row (one-row calls take the decode path), in uneven
 * chunks, and in reverse order: every result bit for bit the same. */
static void check_attention_splits(hst_pool *pools[3], const attn_fixture *f, const attn_case *c)
{
    const size_t row_bytes = sizeof(float) * (size_t)f->D, bytes = row_bytes * (size_t)c->count;
    int *pos = case_positions(c);
    float *one = floats(bytes / sizeof(float)), *other = floats(bytes / sizeof(float));
    attend_rows(pools[0], f, pos, c->count, &c->opts, one, 0);
    for (int t = 1; t < 3; t++) {
        memset(other, 0, bytes);
        attend_rows(pools[t], f, pos, c->count, &c->opts, other, 0);
        if (!same_bits(one, other, bytes))
            fail_msg("attention %s, hd %d: %d threads differ from 1", c->name, f->hd, t + 1);
    }
    for (int i = 0; i < c->count; i++)
        attend_rows(pools[i % 3], f, pos + i, 1, &c->opts, other + (size_t)i * f->D, 0);
    if (!same_bits(one, other, bytes))
        fail_msg("attention %s, hd %d: row-by-row calls differ from one call", c->name, f->hd);
    const int chunks[] = {1, 4, 7, 13, 2, 5};
    for (int i = 0, k = 0; i < c->count; k++) {
        int n = chunks[k % 6] < c->count - i ? chunks[k % 6] : c->count - i;
        attend_rows(pools[k % 3], f, pos + i, n, &c->opts, other + (size_t)i * f->D, 1);
        i += n;
    }
    if (!same_bits(one, other, bytes))
        fail_msg("attention %s, hd %d: uneven chunks differ from one call", c->name, f->hd);
    int *reversed = malloc(sizeof(int) * (size_t)c->count);
    float *rev_out = floats(bytes / sizeof(float));
    assert_non_null(reversed);
    for (int i = 0; i < c->count; i++)
        reversed[i] = pos[c->count - 1 - i];
    attend_rows(pools[1], f, reversed, c->count, &c->opts, rev_out, 1);
    for (int i = 0; i < c->count; i++)
        if (!same_bits(rev_out + (size_t)(c->count - 1 - i) * f->D, one + (size_t)i * f->D, row_bytes))
            fail_msg("attention %s, hd %d: row %d differs when the rows come in reverse order", c->name, f->hd, i);
    free(reversed);
    free(rev_out);
    free(pos);
    free(one);
    free(other);
}

static void test_attention_rows_bit_identical_for_threads_and_splits(void **state)
{
    (void)state;
    const int shapes[][2] = {{8, 2}, {8, 16}, {4, 32}};
    hst_pool *pools[3] = {pool_of(1), pool_of(2), pool_of(3)};
    for (int k = 0; k < N_KERNELS; k++) {
        if (!use_kernel(test_kernels[k]))
            continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            attn_fixture f = attn_fixture_make(shapes[s][0], shapes[s][1], N_POS, 5 + s);
            attn_case cases[10];
            int n_cases = attn_cases(&f, cases);
            for (int c = 0; c < n_cases; c++)
                check_attention_splits(pools, &f, &cases[c]);
            attn_fixture_free(&f);
        }
    }
    hst_kernel_use(HST_KERNEL_AUTO);
    for (int t = 0; t < 3; t++)
        hst_pool_free(pools[t]);
}

static void test_attention_flops_count_visible_keys(void **state)
{
    (void)state;
    const int D = 128, nh = 8, hd = 16;
    int pos[3] = {5, 70, 200};
    hst_attention_args a = {NULL, D, NULL, 13, NULL, D, NULL, D, 3, nh, hd, 1.0f, HST_ATTN_CAUSAL, 0, pos, 0, NULL};
    /* causal: 4·D per key (12.C.6), keys 0..p */
    assert_true(hst_attention_flops(&a) == 4.0 * D * (6 + 71 + 201));
    a.extent = HST_ATTN_FULL;
    a.n_keys = 203;
    assert_true(hst_attention_flops(&a) == 4.0 * D * 3 * 203);
    /* causal with blocks {1, 0, 0, 1}: 5 -> 6 keys; 70 -> block 0 (64) + own 64..70 (7);
     * 200 -> block 0 (64) + own 192..200 (9) */
    a.extent = HST_ATTN_CAUSAL;
    a.keep = keep_pattern;
    assert_true(hst_attention_flops(&a) == 4.0 * D * (6 + 64 + 7 + 64 + 9));
}

/* ---- encoder: weights and reference ------------------------------------------------ */

typedef struct {
    hst_encoder_config cfg;
    float *in_w, *in_b, *out_w, *out_b, *w1, *b1, *w2, *b2, *g1, *be1, *g2, *be2;
} layer_weights;

static layer_weights layer_make(int D, int nh, int F, hst_encoder_norm norm, uint64_t seed)
{
    layer_weights w = {{D, nh, F, norm, HST_PRECISION_F32}, NULL, NULL, NULL, NULL, NULL, NULL,
                       NULL, NULL, NULL, NULL, NULL, NULL};
    uint64_t rng[4];
    hst_rng_seed(rng, seed);
    w.in_w = floats((size_t)3 * D * D);
    w.in_b = floats((size_t)3 * D);
    w.out_w = floats((size_t)D * D);
    w.out_b = floats((size_t)D);
    w.w1 = floats((size_t)F * D);
    w.b1 = floats((size_t)F);
    w.w2 = floats((size_t)D * F);
    w.b2 = floats((size_t)D);
    w.g1 = floats((size_t)D);
    w.be1 = floats((size_t)D);
    w.g2 = floats((size_t)D);
    w.be2 = floats((size_t)D);
    /* PyTorch's init bounds (12.C.5), with non-zero biases so that each is tested. */
    fill_uniform(w.in_w, (size_t)3 * D * D, sqrt(6.0 / (4.0 * D)), rng);
    fill_uniform(w.in_b, (size_t)3 * D, 0.1, rng);
    fill_uniform(w.out_w, (size_t)D * D, 1.0 / sqrt(D), rng);
    fill_uniform(w.out_b, (size_t)D, 0.1, rng);
    fill_uniform(w.w1, (size_t)F * D, 1.0 / sqrt(D), rng);
    fill_uniform(w.b1, (size_t)F, 1.0 / sqrt(D), rng);
    fill_uniform(w.w2, (size_t)D * F, 1.0 / sqrt(F), rng);
    fill_uniform(w.b2, (size_t)D, 1.0 / sqrt(F), rng);
    for (int i = 0; i < D; i++) {
        w.g1[i] = 1.0f + (float)(0.2 * (hst_rng_uniform(rng) - 0.5));
        w.be1[i] = (float)(0.2 * (hst_rng_uniform(rng) - 0.5));
        w.g2[i] = 1.0f + (float)(0.2 * (hst_rng_uniform(rng) - 0.5));
        w.be2[i] = (float)(0.2 * (hst_rng_uniform(rng) - 0.5));
    }
    return w;
}

static void layer_free(layer_weights *w)
{
    float *all[] = {w->in_w, w->in_b, w->out_w, w->out_b, w->w1, w->b1, w->w2, w->b2, w->g1, w->be1, w->g2, w->be2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static hst_encoder *layer_encoder(const layer_weights *w, hst_precision precision)
{
    hst_encoder_weights ew = {w->in_w, w->in_b, w->out_w, w->out_b, w->w1, w->b1,
                              w->w2,   w->b2,   w->g1,    w->be1,   w->g2, w->be2};
    hst_encoder_config cfg = w->cfg;
    cfg.precision = precision;
    hst_error err = {{0}};
    hst_encoder *e = hst_encoder_create(&ew, &cfg, &err);
    if (!e)
        fail_msg("%s", err.msg);
    return e;
}

/* y = W x + b in double, W [N, K] row-major (PyTorch's [out, in]). */
static void ref_linear(const float *W, const float *b, const double *x, int N, int K, double *y)
{
    for (int n = 0; n < N; n++) {
        double acc = b[n];
        for (int k = 0; k < K; k++)
            acc += (double)W[(size_t)n * K + k] * x[k];
        y[n] = acc;
    }
}

static void ref_layernorm(const double *x, const float *g, const float *b, int n, double *y)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += x[i] / n;
    for (int i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean) / n;
    for (int i = 0; i < n; i++)
        y[i] = (x[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i];
}

/* The layer over a window of S rows at positions 0..S-1, every row attending
 * keys 0..S-1 (full) or 0..i (causal): the PyTorch computation of 12.C.2 and
 * 12.E.2.3 written plainly, in double. */
static void ref_layer_window(const layer_weights *w, const float *x, int S, hst_attn_extent extent, double *out)
{
    const int D = w->cfg.d_model, nh = w->cfg.n_heads, hd = D / nh, F = w->cfg.d_ff;
    const int pre = w->cfg.norm == HST_ENCODER_PRE_NORM;
    double *src = malloc(sizeof(double) * (size_t)S * D), *qkv = malloc(sizeof(double) * (size_t)S * 3 * D);
    double *row = malloc(sizeof(double) * (size_t)D), *o = malloc(sizeof(double) * (size_t)D);
    double *h = malloc(sizeof(double) * (size_t)D), *z = malloc(sizeof(double) * (size_t)D);
    double *hid = malloc(sizeof(double) * (size_t)F), *p = malloc(sizeof(double) * (size_t)S);
    assert_true(src && qkv && row && o && h && z && hid && p);
    for (int i = 0; i < S; i++) {
        for (int d = 0; d < D; d++)
            row[d] = x[(size_t)i * D + d];
        if (pre)
            ref_layernorm(row, w->g1, w->be1, D, src + (size_t)i * D);
        else
            memcpy(src + (size_t)i * D, row, sizeof(double) * (size_t)D);
        ref_linear(w->in_w, w->in_b, src + (size_t)i * D, 3 * D, D, qkv + (size_t)i * 3 * D);
    }
    for (int i = 0; i < S; i++) {
        int last = extent == HST_ATTN_FULL ? S - 1 : i;
        for (int e = 0; e < nh; e++) {
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= last; j++) {
                double s = 0;
                for (int d = 0; d < hd; d++)
                    s += qkv[(size_t)i * 3 * D + e * hd + d] * qkv[(size_t)j * 3 * D + D + e * hd + d];
                p[j] = s / sqrt((double)hd);
                mx = p[j] > mx ? p[j] : mx;
            }
            for (int d = 0; d < hd; d++)
                o[e * hd + d] = 0;
            for (int j = 0; j <= last; j++) {
                double pj = exp(p[j] - mx);
                sum += pj;
                for (int d = 0; d < hd; d++)
                    o[e * hd + d] += pj * qkv[(size_t)j * 3 * D + 2 * D + e * hd + d];
            }
            for (int d = 0; d < hd; d++)
                o[e * hd + d] /= sum;
        }
        ref_linear(w->out_w, w->out_b, o, D, D, h);
        for (int d = 0; d < D; d++)
            h[d] += x[(size_t)i * D + d]; /* h + attention */
        double *y = out + (size_t)i * D;
        if (pre) {
            ref_layernorm(h, w->g2, w->be2, D, z);
            ref_linear(w->w1, w->b1, z, F, D, hid);
        } else {
            ref_layernorm(h, w->g1, w->be1, D, z);
            memcpy(h, z, sizeof(double) * (size_t)D);
            ref_linear(w->w1, w->b1, z, F, D, hid);
        }
        for (int f = 0; f < F; f++)
            hid[f] = hid[f] > 0 ? hid[f] : 0;
        ref_linear(w->w2, w->b2, hid, D, F, o);
        for (int d = 0; d < D; d++)
            o[d] += h[d];
        if (pre)
            memcpy(y, o, sizeof(double) * (size_t)D);
        else
            ref_layernorm(o, w->g2, w->be2, D, y);
    }
    free(src);
    free(qkv);
    free(row);
    free(o);
    free(h);
    free(z);
    free(hid);
    free(p);
}

/* An encoder with its cache and workspace, ready to run. */
typedef struct {
    hst_encoder *e;
    hst_encoder_cache cache;
    hst_encoder_workspace *ws;
} layer_run;

static layer_run layer_run_make(const layer_weights *w, hst_precision precision, int capacity)
{
    layer_run r = {layer_encoder(w, precision), {0}, NULL};
    hst_error err = {{0}};
    if (hst_encoder_cache_init(&r.cache, r.e, capacity, &err) != 0)
        fail_msg("%s", err.msg);
    r.ws = hst_encoder_workspace_create(w->cfg.d_model, w->cfg.d_ff, capacity, &err);
    if (!r.ws)
        fail_msg("%s", err.msg);
    return r;
}

static void layer_run_free(layer_run *r)
{
    hst_encoder_free(r->e);
    hst_encoder_cache_free(&r->cache);
    hst_encoder_workspace_free(r->ws);
}

static double must(double flops, const hst_error *err)
{
    if (flops < 0)
        fail_msg("%s", err->msg);
    return flops;
}

/* forward of rows t0..t0+n-1 of x into y (same row indices). */
static double forward_rows(layer_run *r, hst_pool *pool, const float *x, float *y, int t0, int n,
                           hst_attn_extent extent, int n_keys)
{
    const int D = r->cache.d_model;
    hst_encoder_rows rows = {x + (size_t)t0 * D, D, y + (size_t)t0 * D, D, n, NULL, t0, extent, n_keys};
    hst_error err = {{0}};
    return must(hst_encoder_forward(r->e, r->ws, pool, &r->cache, &rows, &err), &err);
}

static float *layer_input(int S, int D, uint64_t seed)
{
    uint64_t rng[4];
    hst_rng_seed(rng, seed);
    float *x = floats((size_t)S * D);
    fill_uniform(x, (size_t)S * D, 1.0, rng);
    return x;
}

/* ---- encoder tests ------------------------------------------------------------------ */

typedef struct {
    int D, nh, F, S;
} layer_shape;

/* hd 2 (D 16), hd 16 (D 128, 8 heads: Cores C, D, E), hd 32 (D 128, 4 heads);
 * FF 2048 as PostEnc (12.C.1) once, 4D as P (12.E.2.3). */
static const layer_shape layer_shapes[] = {{16, 8, 32, 70}, {128, 8, 2048, 40}, {128, 8, 512, 70}, {128, 4, 256, 70}};
#define N_LAYER_SHAPES 4

static void check_layer_against_reference(hst_pool *pool, const layer_shape *s, hst_encoder_norm norm)
{
    layer_weights w = layer_make(s->D, s->nh, s->F, norm, (uint64_t)s->D * 7 + s->F + norm);
    float *x = layer_input(s->S, s->D, 11), *y = floats((size_t)s->S * s->D);
    double *want = malloc(sizeof(double) * (size_t)s->S * s->D);
    assert_non_null(want);
    char what[128];
    for (int ext = 0; ext < 2; ext++) {
        hst_attn_extent extent = ext ? HST_ATTN_FULL : HST_ATTN_CAUSAL;
        layer_run r = layer_run_make(&w, HST_PRECISION_F32, s->S);
        forward_rows(&r, pool, x, y, 0, s->S, extent, s->S);
        ref_layer_window(&w, x, s->S, extent, want);
        snprintf(what, sizeof what, "%s layer D %d, %d heads, F %d, %s", norm ? "pre-norm" : "post-norm", s->D,
                 s->nh, s->F, ext ? "full" : "causal");
        check_close(y, want, (size_t)s->S * s->D, LAYER_TOLERANCE, what);
        layer_run_free(&r);
    }
    free(want);
    free(x);
    free(y);
    layer_free(&w);
}

static void test_encoder_layers_match_pytorch_reference(void **state)
{
    (void)state;
    hst_pool *pool = pool_of(2);
    for (int k = 0; k < N_KERNELS; k++) {
        if (!use_kernel(test_kernels[k]))
            continue;
        for (int s = 0; s < N_LAYER_SHAPES; s++) {
            check_layer_against_reference(pool, &layer_shapes[s], HST_ENCODER_POST_NORM);
            check_layer_against_reference(pool, &layer_shapes[s], HST_ENCODER_PRE_NORM);
        }
    }
    hst_kernel_use(HST_KERNEL_AUTO);
    hst_pool_free(pool);
}

/* The cores' ways of running a layer over the same S rows, each bit for bit
 * equal to one forward of all rows on 1 thread:
 *  - 2 and 3 threads;
 *  - causal: uneven chunks, then row by row (chunked prefill, decode);
 *  - store_kv of every row in uneven chunks, then attend for a subset of the
 *    rows given by positions (Core C's gated rows, 12.C.3), in one call and
 *    one row per call. */
static void check_layer_splits(hst_pool *pools[3], const layer_shape *s, hst_encoder_norm norm, hst_attn_extent ext)
{
    const int D = s->D, S = s->S;
    const size_t bytes = sizeof(float) * (size_t)S * D, row_bytes = sizeof(float) * (size_t)D;
    layer_weights w = layer_make(D, s->nh, s->F, norm, 99);
    float *x = layer_input(S, D, 12), *one = floats((size_t)S * D), *other = floats((size_t)S * D);
    layer_run r = layer_run_make(&w, HST_PRECISION_F32, S);
    const char *what = norm ? "pre-norm" : "post-norm";
    forward_rows(&r, pools[0], x, one, 0, S, ext, S);
    for (int t = 1; t < 3; t++) {
        forward_rows(&r, pools[t], x, other, 0, S, ext, S);
        if (!same_bits(one, other, bytes))
            fail_msg("%s D %d: %d threads differ from 1", what, D, t + 1);
    }
    const int chunks[] = {1, 6, 17, 2, 9};
    hst_error err = {{0}};
    if (ext == HST_ATTN_CAUSAL) {
        memset(other, 0, bytes);
        for (int i = 0, k = 0; i < S; k++) {
            int n = chunks[k % 5] < S - i ? chunks[k % 5] : S - i;
            forward_rows(&r, pools[k % 3], x, other, i, n, ext, S);
            i += n;
        }
        if (!same_bits(one, other, bytes))
            fail_msg("%s D %d: a chunked causal prefill differs from one call", what, D);
        for (int i = 0; i < S; i++)
            forward_rows(&r, pools[i % 3], x, other, i, 1, ext, S);
        if (!same_bits(one, other, bytes))
            fail_msg("%s D %d: row-by-row decode differs from one call", what, D);
    }
    /* k, v of every row, then the rest for every third row only. */
    memset(r.cache.kt, 0, sizeof(float) * (size_t)r.cache.key_blocks * HST_KEY_BLOCK * D);
    memset(r.cache.v, 0, sizeof(float) * (size_t)S * D);
    for (int i = 0, k = 0; i < S; k++) {
        int n = chunks[k % 5] < S - i ? chunks[k % 5] : S - i;
        hst_encoder_rows kv = {x + (size_t)i * D, D, NULL, 0, n, NULL, i, HST_ATTN_CAUSAL, 0};
        assert_true(must(hst_encoder_store_kv(r.e, r.ws, pools[k % 3], &r.cache, &kv, &err), &err) ==
                    4.0 * D * D * n);
        i += n;
    }
    int n_sub = 0, *pos = malloc(sizeof(int) * (size_t)S);
    float *xs = floats((size_t)S * D), *ys = floats((size_t)S * D);
    assert_non_null(pos);
    for (int i = 1; i < S; i += 3) {
        pos[n_sub] = i;
        memcpy(xs + (size_t)n_sub * D, x + (size_t)i * D, row_bytes);
        n_sub++;
    }
    hst_encoder_rows sub = {xs, D, ys, D, n_sub, pos, 0, ext, S};
    must(hst_encoder_attend(r.e, r.ws, pools[1], &r.cache, &sub, &err), &err);
    for (int i = 0; i < n_sub; i++)
        if (!same_bits(ys + (size_t)i * D, one + (size_t)pos[i] * D, row_bytes))
            fail_msg("%s D %d: attend for the subset differs at position %d", what, D, pos[i]);
    for (int i = 0; i < n_sub; i++) {
        hst_encoder_rows single = {xs + (size_t)i * D, D, ys + (size_t)i * D, D, 1, pos + i, 0, ext, S};
        must(hst_encoder_attend(r.e, r.ws, pools[i % 3], &r.cache, &single, &err), &err);
        if (!same_bits(ys + (size_t)i * D, one + (size_t)pos[i] * D, row_bytes))
            fail_msg("%s D %d: a one-row attend differs at position %d", what, D, pos[i]);
    }
    /* In place (y = x) gives the same rows. */
    memcpy(other, x, bytes);
    forward_rows(&r, pools[2], other, other, 0, S, ext, S);
    if (!same_bits(one, other, bytes))
        fail_msg("%s D %d: the layer computed in place differs", what, D);
    free(pos);
    free(xs);
    free(ys);
    layer_run_free(&r);
    free(x);
    free(one);
    free(other);
    layer_free(&w);
}

static void test_encoder_rows_bit_identical_for_threads_and_splits(void **state)
{
    (void)state;
    hst_pool *pools[3] = {pool_of(1), pool_of(2), pool_of(3)};
    const layer_shape shapes[] = {{16, 8, 32, 70}, {128, 8, 512, 70}, {128, 4, 256, 41}};
    for (int k = 0; k < N_KERNELS; k++) {
        if (!use_kernel(test_kernels[k]))
            continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int norm = 0; norm < 2; norm++)
                for (int ext = 0; ext < 2; ext++)
                    check_layer_splits(pools, &shapes[s], (hst_encoder_norm)norm,
                                       ext ? HST_ATTN_FULL : HST_ATTN_CAUSAL);
    }
    hst_kernel_use(HST_KERNEL_AUTO);
    for (int t = 0; t < 3; t++)
        hst_pool_free(pools[t]);
}

static void test_encoder_flops_follow_spec_conventions(void **state)
{
    (void)state;
    const int D = 16, F = 32, S = 20;
    const double D2 = (double)D * D;
    layer_weights w = layer_make(D, 8, F, HST_ENCODER_POST_NORM, 3);
    layer_run r = layer_run_make(&w, HST_PRECISION_F32, S);
    float *x = layer_input(S, D, 4), *y = floats((size_t)S * D);
    hst_pool *pool = pool_of(2);
    /* parity PostEnc: (8D² + 4FD)·S + 4D·S² (12.C.6) */
    assert_true(forward_rows(&r, pool, x, y, 0, S, HST_ATTN_FULL, S) == (8 * D2 + 4.0 * F * D) * S + 4.0 * D * S * S);
    /* causal prefill: 4D²·S for k, v + Σ_t (4D² + 4FD + 4D(t + 1)) (12.C.6) */
    assert_true(forward_rows(&r, pool, x, y, 0, S, HST_ATTN_CAUSAL, 0) ==
                4 * D2 * S + (4 * D2 + 4.0 * F * D) * S + 4.0 * D * S * (S + 1) / 2);
    /* the rest for rows at 3 and 9 only */
    int pos[2] = {3, 9};
    hst_encoder_rows sub = {x, D, y, D, 2, pos, 0, HST_ATTN_CAUSAL, 0};
    hst_error err = {{0}};
    assert_true(hst_encoder_attend(r.e, r.ws, pool, &r.cache, &sub, &err) ==
                2 * (4 * D2 + 4.0 * F * D) + 4.0 * D * (4 + 10));
    hst_pool_free(pool);
    layer_run_free(&r);
    free(x);
    free(y);
    layer_free(&w);
}

/* bf16 as the model's precision: the layer equals the reference run on the
 * bf16-rounded matrices (the packed weights as the kernel sees them). */
static void test_encoder_uses_the_given_precision(void **state)
{
    (void)state;
    const layer_shape s = {128, 8, 256, 33};
    layer_weights w = layer_make(s.D, s.nh, s.F, HST_ENCODER_PRE_NORM, 21);
    layer_run r = layer_run_make(&w, HST_PRECISION_BF16, s.S);
    hst_packed probe;
    float *mats[] = {w.in_w, w.out_w, w.w1, w.w2};
    const size_t sizes[] = {(size_t)3 * s.D * s.D, (size_t)s.D * s.D, (size_t)s.F * s.D, (size_t)s.D * s.F};
    for (int m = 0; m < 4; m++) {
        /* round each matrix as hst_pack_precision does, read back as the kernel sees it */
        assert_int_equal(hst_pack_precision(&probe, mats[m], 1, (int)sizes[m], HST_PRECISION_BF16), 0);
        for (size_t i = 0; i < sizes[m]; i++)
            mats[m][i] = hst_packed_weight(&probe, 0, (int)i);
        hst_packed_free(&probe);
    }
    float *x = layer_input(s.S, s.D, 8), *y = floats((size_t)s.S * s.D);
    double *want = malloc(sizeof(double) * (size_t)s.S * s.D);
    assert_non_null(want);
    hst_pool *pool = pool_of(2);
    forward_rows(&r, pool, x, y, 0, s.S, HST_ATTN_CAUSAL, 0);
    ref_layer_window(&w, x, s.S, HST_ATTN_CAUSAL, want);
    check_close(y, want, (size_t)s.S * s.D, LAYER_TOLERANCE, "bf16 pre-norm layer");
    assert_true(hst_encoder_packed_bytes(r.e) == 2u * ((size_t)4 * s.D * s.D + 2u * (size_t)s.F * s.D));
    hst_pool_free(pool);
    free(want);
    free(x);
    free(y);
    layer_run_free(&r);
    layer_free(&w);
}

static void test_encoder_rejects_rows_that_do_not_fit(void **state)
{
    (void)state;
    layer_weights w = layer_make(16, 8, 32, HST_ENCODER_POST_NORM, 1);
    layer_run r = layer_run_make(&w, HST_PRECISION_F32, 10);
    float *x = layer_input(12, 16, 2), *y = floats(12 * 16);
    hst_error err = {{0}};
    hst_encoder_rows rows = {x, 16, y, 16, 11, NULL, 0, HST_ATTN_CAUSAL, 0};
    assert_true(hst_encoder_forward(r.e, r.ws, NULL, &r.cache, &rows, &err) < 0);
    assert_non_null(strstr(err.msg, "11 rows do not fit a workspace of 10 rows"));
    rows.n = 2;
    rows.t0 = 9;
    assert_true(hst_encoder_store_kv(r.e, r.ws, NULL, &r.cache, &rows, &err) < 0);
    assert_non_null(strstr(err.msg, "position 10, outside the cache's 0..9"));
    rows.t0 = 0;
    rows.extent = HST_ATTN_FULL;
    rows.n_keys = 11;
    assert_true(hst_encoder_attend(r.e, r.ws, NULL, &r.cache, &rows, &err) < 0);
    assert_non_null(strstr(err.msg, "full attention over 11 keys"));
    hst_encoder_workspace *narrow = hst_encoder_workspace_create(8, 32, 10, &err);
    assert_non_null(narrow);
    rows.n_keys = 2;
    assert_true(hst_encoder_attend(r.e, narrow, NULL, &r.cache, &rows, &err) < 0);
    assert_non_null(strstr(err.msg, "cannot use a workspace of width 8"));
    hst_encoder_workspace_free(narrow);
    hst_encoder_config bad = {20, 8, 32, HST_ENCODER_POST_NORM, HST_PRECISION_F32};
    hst_encoder_weights ew = {0};
    assert_null(hst_encoder_create(&ew, &bad, &err));
    assert_non_null(strstr(err.msg, "multiple of the head count"));
    free(x);
    free(y);
    layer_run_free(&r);
    layer_free(&w);
}

/* ---- row helpers ------------------------------------------------------------------------ */

static void test_layernorm_rows_equal_hst_layernorm_per_row(void **state)
{
    (void)state;
    const int n = 70, width = 96, ld_in = 100, ld_out = 104;
    uint64_t rng[4];
    hst_rng_seed(rng, 9);
    float *in = floats((size_t)n * ld_in), *out = floats((size_t)n * ld_out), *want = floats((size_t)width);
    float *g = floats((size_t)width), *b = floats((size_t)width);
    fill_uniform(in, (size_t)n * ld_in, 2.0, rng);
    fill_uniform(g, (size_t)width, 1.5, rng);
    fill_uniform(b, (size_t)width, 0.5, rng);
    hst_pool *pools[3] = {pool_of(1), pool_of(2), pool_of(3)};
    for (int k = 0; k < N_KERNELS; k++) {
        if (!use_kernel(test_kernels[k]))
            continue;
        for (int gelu = 0; gelu < 2; gelu++)
            for (int t = 0; t < 3; t++) {
                hst_layernorm_rows(pools[t], in, ld_in, out, ld_out, g, b, n, width, gelu);
                for (int r = 0; r < n; r++) {
                    hst_layernorm(in + (size_t)r * ld_in, g, b, want, width);
                    if (gelu)
                        hst_gelu_inplace(want, width);
                    if (!same_bits(out + (size_t)r * ld_out, want, sizeof(float) * (size_t)width))
                        fail_msg("layernorm row %d (gelu %d, %d threads) differs from hst_layernorm", r, gelu, t + 1);
                }
            }
        /* in place */
        float *copy = floats((size_t)n * ld_in);
        memcpy(copy, in, sizeof(float) * (size_t)n * ld_in);
        hst_layernorm_rows(pools[1], copy, ld_in, copy, ld_in, g, b, n, width, 0);
        for (int r = 0; r < n; r++) {
            hst_layernorm(in + (size_t)r * ld_in, g, b, want, width);
            assert_memory_equal(copy + (size_t)r * ld_in, want, sizeof(float) * (size_t)width);
        }
        free(copy);
    }
    hst_kernel_use(HST_KERNEL_AUTO);
    for (int t = 0; t < 3; t++)
        hst_pool_free(pools[t]);
    free(in);
    free(out);
    free(want);
    free(g);
    free(b);
}

static void test_rows_copy_and_scatter(void **state)
{
    (void)state;
    float src[3 * 5], dst[6 * 4];
    for (int i = 0; i < 15; i++)
        src[i] = (float)i;
    memset(dst, 0, sizeof dst);
    hst_rows_copy(src, 5, dst, 4, 3, 4); /* rows of 4 out of 5-wide rows */
    assert_true(dst[0] == 0 && dst[3] == 3 && dst[4] == 5 && dst[11] == 13);
    memset(dst, 0, sizeof dst);
    const int pos[3] = {5, 0, 2};
    hst_rows_scatter(src, 5, dst, 4, 3, 4, pos, 0);
    assert_true(dst[20] == 0 && dst[23] == 3 && dst[0] == 5 && dst[8] == 10 && dst[4] == 0);
    memset(dst, 0, sizeof dst);
    hst_rows_scatter(src, 5, dst, 4, 3, 4, NULL, 2);
    assert_true(dst[8] == 0 && dst[12] == 5 && dst[16] == 10 && dst[7] == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_options_match_naive_reference),
        cmocka_unit_test(test_attention_rows_bit_identical_for_threads_and_splits),
        cmocka_unit_test(test_attention_flops_count_visible_keys),
        cmocka_unit_test(test_encoder_layers_match_pytorch_reference),
        cmocka_unit_test(test_encoder_rows_bit_identical_for_threads_and_splits),
        cmocka_unit_test(test_encoder_flops_follow_spec_conventions),
        cmocka_unit_test(test_encoder_uses_the_given_precision),
        cmocka_unit_test(test_encoder_rejects_rows_that_do_not_fit),
        cmocka_unit_test(test_layernorm_rows_equal_hst_layernorm_per_row),
        cmocka_unit_test(test_rows_copy_and_scatter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
