/* test_multires.c — the multi-resolution block of Cores D and E
 * (engine/multires.h) against naive references written out below: the
 * adaptive and floor pooling bins, the linear upsampling coefficients
 * (values taken from PyTorch 1.13's F.interpolate), the parity composition
 * (pool, layer, upsample, y_r = y_1 when S < r) and the causal one (block
 * sums, causal layer over pooled rows, zero-order hold, y_r = y_1 before the
 * first block). The encoder layer is the engine's own (test_encoder.c checks
 * it against its reference); here it is the black box both sides call.
 * Causal rows must be bit-identical for any split into calls and thread count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/multires.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D_TEST 16
#define HEADS 8
#define FF_TEST 48
#define LMAX_TEST 160
#define TOLERANCE 2e-5

static float *floats(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static void fill_uniform(float *x, size_t n, double bound, uint64_t rng[4])
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(bound * (2.0 * hst_rng_uniform(rng) - 1.0));
}

/* Bit-for-bit equality of two results (the split rules of 12.0). */
static int same_bits(const void *a, const void *b, size_t bytes)
{
    return memcmp(a, b, bytes) == 0;
}

static hst_pool *pool_of(int threads)
{
    hst_error err = {{0}};
    hst_pool *p = hst_pool_create(threads, NULL, NULL, &err);
    if (!p)
        fail_msg("%s", err.msg);
    return p;
}

/* ---- bins and coefficients ------------------------------------------------------------ */

/* Adaptive bins by their definition (12.D.2.2): first = floor(i·S/n) is the
 * largest j with j·n <= i·S, end = ceil((i+1)·S/n) the smallest j with j·n >= (i+1)·S. */
static void naive_adaptive_bin(int S, int n, int i, int *first, int *end)
{
    int j = 0;
    while ((j + 1) * n <= i * S)
        j++;
    *first = j;
    j = 0;
    while (j * n < (i + 1) * S)
        j++;
    *end = j;
}

static void test_pooling_bins_match_their_definitions(void **state)
{
    (void)state;
    int overlapping = 0;
    for (int S = 1; S <= 300; S++)
        for (int r = 2; r <= 8; r *= 2) {
            const int n = S / r;
            for (int i = 0; i < n; i++) {
                int first, end, want_first, want_end;
                hst_multires_bin(HST_MULTIRES_POOL_ADAPTIVE, S, r, i, &first, &end);
                naive_adaptive_bin(S, n, i, &want_first, &want_end);
                if (first != want_first || end != want_end)
                    fail_msg("adaptive bin %d of S=%d r=%d: [%d,%d), want [%d,%d)", i, S, r, first, end, want_first,
                             want_end);
                if (S % r == 0)
                    assert_true(first == i * r && end == i * r + r); /* r | S: the blocks themselves */
                int prev_end = 0;
                if (i > 0)
                    hst_multires_bin(HST_MULTIRES_POOL_ADAPTIVE, S, r, i - 1, &want_first, &prev_end);
                overlapping += prev_end > first;
                hst_multires_bin(HST_MULTIRES_POOL_FLOOR, S, r, i, &first, &end);
                assert_true(first == i * r && end == i * r + r); /* avg_pool1d: tail rows not pooled */
            }
        }
    assert_true(overlapping > 0); /* r ∤ S: some bins share a row (S = 13, r = 2: [0,3), [2,5), ...) */
    int first, end;
    hst_multires_bin(HST_MULTIRES_POOL_ADAPTIVE, 13, 2, 1, &first, &end);
    assert_int_equal(first, 2);
    assert_int_equal(end, 5);
}

/* F.interpolate(eye(n)[None], size=S, mode='linear', align_corners=False) in
 * torch 1.13 (CPU, float32): the weight each output row t gives to rows i0, i1. */
static const struct {
    int S, n, t, i0;
    double w0;
    int i1;
    double w1;
} torch_weights[] = {
    {511, 255, 0, 0, 1.0, 0, 0.0},
    {511, 255, 1, 0, 0x1.80c06p-1, 1, 0x1.fcfe8p-3},
    {511, 255, 2, 0, 0x1.02814p-2, 1, 0x1.7ebf6p-1},
    {511, 255, 255, 127, 0x1.ffffep-1, 128, 0x1p-20}, /* fl32(n/S): an exact-σ recipe gives 0 */
    {511, 255, 508, 253, 0x1.7ebf2p-1, 254, 0x1.0281cp-2},
    {511, 255, 509, 253, 0x1.fcfd8p-3, 254, 0x1.80c0ap-1},
    {511, 255, 510, 254, 1.0, 254, 0.0}, /* i1 clamps at n - 1 */
    {13, 6, 1, 0, 0x1.9d89d8p-1, 1, 0x1.89d89ep-3},
    {13, 6, 6, 2, 0.5, 3, 0.5},
    {13, 6, 7, 2, 0x1.3b13ap-5, 3, 0x1.ec4ec6p-1},
    {13, 6, 11, 4, 0x1.89d898p-3, 5, 0x1.9d89dap-1},
    {13, 6, 12, 5, 1.0, 5, 0.0},
    {7, 3, 3, 1, 1.0, 2, 0x1p-26}, /* lambda0 = 1 - 2^-26 rounds to 1 in float32 */
    {7, 3, 4, 1, 0x1.249248p-1, 2, 0x1.b6db7p-2},
    {100, 12, 2, 0, 1.0, 1, 0.0}, /* u < 0 clamps to 0 */
    {100, 12, 50, 5, 0x1.c28f64p-2, 6, 0x1.1eb84ep-1},
    {100, 12, 99, 11, 1.0, 11, 0.0},
};

static void test_upsample_coefficients_match_pytorch(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof torch_weights / sizeof torch_weights[0]; c++) {
        const int S = torch_weights[c].S, n = torch_weights[c].n, t = torch_weights[c].t;
        int i0, i1;
        float l0, l1;
        hst_multires_upsample_coeffs(n, S, t, &i0, &i1, &l0, &l1);
        /* Compare the weight each input row receives: the blend of a one-hot input
         * in float32, as PyTorch's output is (i0 = i1 merges the two). */
        float got[2] = {l0, l1};
        double want_w[2] = {torch_weights[c].w0, torch_weights[c].w1};
        int got_i[2] = {i0, i1}, want_i[2] = {torch_weights[c].i0, torch_weights[c].i1};
        for (int row = 0; row < n; row++) {
            float g = 0;
            double w = 0;
            for (int k = 0; k < 2; k++) {
                g += got_i[k] == row ? got[k] : 0;
                w += want_i[k] == row ? want_w[k] : 0;
            }
            if (g != w)
                fail_msg("S=%d n=%d t=%d: row %d gets weight %a, PyTorch %a", S, n, t, row, (double)g, w);
        }
    }
}

/* ---- the block against a reference ------------------------------------------------------ */

typedef struct {
    float *w[12];
    hst_encoder *enc;
} test_layer;

static test_layer layer_make(hst_encoder_norm norm, uint64_t seed)
{
    const int D = D_TEST, F = FF_TEST;
    const size_t sizes[12] = {(size_t)3 * D * D, (size_t)3 * D, (size_t)D * D, D, (size_t)F * D, F,
                              (size_t)D * F,     D,            D,             D, D,             D};
    const double bounds[12] = {0.4, 0.1, 0.25, 0.1, 0.25, 0.25, 0.15, 0.15, 0.2, 0.1, 0.2, 0.1};
    test_layer l;
    uint64_t rng[4];
    hst_rng_seed(rng, seed);
    for (int i = 0; i < 12; i++) {
        l.w[i] = floats(sizes[i]);
        fill_uniform(l.w[i], sizes[i], bounds[i], rng);
    }
    for (int d = 0; d < D; d++) { /* norm gains near 1 */
        l.w[8][d] += 1.0f;
        l.w[10][d] += 1.0f;
    }
    hst_encoder_weights ew = {l.w[0], l.w[1], l.w[2], l.w[3], l.w[4], l.w[5],
                              l.w[6], l.w[7], l.w[8], l.w[9], l.w[10], l.w[11]};
    hst_encoder_config cfg = {D, HEADS, F, norm, HST_PRECISION_F32};
    hst_error err = {{0}};
    if (!(l.enc = hst_encoder_create(&ew, &cfg, &err)))
        fail_msg("%s", err.msg);
    return l;
}

static void layer_free(test_layer *l)
{
    for (int i = 0; i < 12; i++)
        free(l->w[i]);
    hst_encoder_free(l->enc);
}

/* Core D's shape (four post-norm layers, adaptive bins) or Core E's (one pre-norm P, floor bins). */
typedef struct {
    test_layer layers[HST_MULTIRES_COUNT];
    int n_layers;
    hst_multires mr;
} fixture;

static void fixture_make(fixture *f, int core_e)
{
    f->n_layers = core_e ? 1 : HST_MULTIRES_COUNT;
    for (int k = 0; k < f->n_layers; k++)
        f->layers[k] = layer_make(core_e ? HST_ENCODER_PRE_NORM : HST_ENCODER_POST_NORM, 40 + (uint64_t)k);
    for (int k = 0; k < HST_MULTIRES_COUNT; k++)
        f->mr.layers[k] = f->layers[core_e ? 0 : k].enc;
    f->mr.pooling = core_e ? HST_MULTIRES_POOL_FLOOR : HST_MULTIRES_POOL_ADAPTIVE;
}

static void fixture_free(fixture *f)
{
    for (int k = 0; k < f->n_layers; k++)
        layer_free(&f->layers[k]);
}

/* The layer alone over n rows in a fresh cache (causal or full), as the reference's black box. */
static void layer_run(const hst_encoder *e, const float *x, int n, hst_attn_extent extent, float *y)
{
    hst_error err = {{0}};
    hst_encoder_cache c;
    hst_encoder_workspace *ws = hst_encoder_workspace_create(D_TEST, FF_TEST, n, &err);
    assert_non_null(ws);
    assert_int_equal(hst_encoder_cache_init(&c, e, n, &err), 0);
    hst_encoder_rows rows = {x, D_TEST, y, D_TEST, n, NULL, 0, extent, n};
    assert_true(hst_encoder_forward(e, ws, NULL, &c, &rows, &err) >= 0);
    hst_encoder_cache_free(&c);
    hst_encoder_workspace_free(ws);
}

/* Means of x rows [first, end) in double, rounded once. */
static void naive_mean(const float *x, int first, int end, float *out)
{
    for (int d = 0; d < D_TEST; d++) {
        double s = 0;
        for (int j = first; j < end; j++)
            s += x[(size_t)j * D_TEST + d];
        out[d] = (float)(s / (end - first));
    }
}

/* Parity, written from 12.D.2.2 / 12.E.2.3: want[t][k·D..] = y_r(t). */
static void reference_parity(const fixture *f, const float *x, int S, double *want)
{
    const int D = D_TEST, ld = 4 * D;
    float *y1 = floats((size_t)S * D), *pooled = floats((size_t)S * D), *Y = floats((size_t)S * D);
    layer_run(f->mr.layers[0], x, S, HST_ATTN_FULL, y1);
    for (int t = 0; t < S; t++)
        for (int d = 0; d < D; d++)
            want[(size_t)t * ld + d] = y1[(size_t)t * D + d];
    for (int k = 1; k < 4; k++) {
        const int r = 1 << k, n = S / r;
        if (n == 0) {
            for (int t = 0; t < S; t++)
                for (int d = 0; d < D; d++)
                    want[(size_t)t * ld + k * D + d] = y1[(size_t)t * D + d];
            continue;
        }
        for (int i = 0; i < n; i++) {
            int first = i * r, end = i * r + r;
            if (f->mr.pooling == HST_MULTIRES_POOL_ADAPTIVE)
                naive_adaptive_bin(S, n, i, &first, &end);
            naive_mean(x, first, end, pooled + (size_t)i * D);
        }
        layer_run(f->mr.layers[k], pooled, n, HST_ATTN_FULL, Y);
        for (int t = 0; t < S; t++) {
            /* align_corners=False: source u = (t + 0.5)·n/S - 0.5, clamped at 0 and at n - 1. */
            double u = fmax((t + 0.5) * n / S - 0.5, 0.0);
            int i0 = (int)u, i1 = i0 + 1 < n ? i0 + 1 : n - 1;
            double l1 = u - i0;
            for (int d = 0; d < D; d++)
                want[(size_t)t * ld + k * D + d] = (1 - l1) * Y[(size_t)i0 * D + d] + l1 * Y[(size_t)i1 * D + d];
        }
    }
    free(y1);
    free(pooled);
    free(Y);
}

/* Causal, written from 12.D.3 item 2 / 12.E.3. */
static void reference_causal(const fixture *f, const float *x, int S, double *want)
{
    const int D = D_TEST, ld = 4 * D;
    float *y1 = floats((size_t)S * D), *pooled = floats((size_t)S * D), *Y = floats((size_t)S * D);
    layer_run(f->mr.layers[0], x, S, HST_ATTN_CAUSAL, y1);
    for (int k = 0; k < 4; k++) {
        const int r = 1 << k, n = S / r;
        for (int c = 0; k > 0 && c < n; c++)
            naive_mean(x, c * r, c * r + r, pooled + (size_t)c * D);
        if (k > 0 && n > 0)
            layer_run(f->mr.layers[k], pooled, n, HST_ATTN_CAUSAL, Y);
        for (int t = 0; t < S; t++) {
            const int c = (t + 1) / r - 1;
            const float *src = k == 0 || c < 0 ? y1 + (size_t)t * D : Y + (size_t)c * D;
            for (int d = 0; d < D; d++)
                want[(size_t)t * ld + k * D + d] = src[d];
        }
    }
    free(y1);
    free(pooled);
    free(Y);
}

static void check_close(const float *got, const double *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= TOLERANCE * (1.0 + fabs(want[i]))))
            fail_msg("%s: element %zu (row %zu, column %zu) is %.9g, reference %.9g", what, i, i / (4 * D_TEST),
                     i % (4 * D_TEST), got[i], want[i]);
}

static float *test_rows(int n, uint64_t seed)
{
    uint64_t rng[4];
    hst_rng_seed(rng, seed);
    float *x = floats((size_t)n * D_TEST);
    fill_uniform(x, (size_t)n * D_TEST, 1.5, rng);
    return x;
}

static hst_multires_state *state_of(const fixture *f)
{
    hst_error err = {{0}};
    hst_multires_state *st = hst_multires_state_create(&f->mr, LMAX_TEST, &err);
    if (!st)
        fail_msg("%s", err.msg);
    return st;
}

static const int window_sizes[] = {1, 2, 3, 5, 7, 8, 13, 20, 64, 67, 129, LMAX_TEST};
#define N_WINDOWS (sizeof window_sizes / sizeof window_sizes[0])

static void check_parity(int core_e)
{
    fixture f;
    fixture_make(&f, core_e);
    hst_multires_state *st = state_of(&f);
    hst_pool *pool = pool_of(2);
    float *x = test_rows(LMAX_TEST, 7), *y = floats((size_t)LMAX_TEST * 4 * D_TEST);
    double *want = malloc(sizeof(double) * LMAX_TEST * 4 * D_TEST);
    assert_non_null(want);
    hst_error err = {{0}};
    for (size_t w = 0; w < N_WINDOWS; w++) {
        const int S = window_sizes[w];
        hst_multires_rows rows = {x, D_TEST, y, 4 * D_TEST, S, 0};
        assert_true(hst_multires_parity(&f.mr, st, pool, &rows, NULL, &err) > 0);
        reference_parity(&f, x, S, want);
        char what[96];
        snprintf(what, sizeof what, "parity multires (core %c), S = %d", core_e ? 'E' : 'D', S);
        check_close(y, want, (size_t)S * 4 * D_TEST, what);
        /* S < r: y_r is y_1 bit for bit */
        for (int k = 1; k < 4; k++)
            if (S < (1 << k))
                for (int t = 0; t < S; t++)
                    assert_memory_equal(y + (size_t)t * 4 * D_TEST, y + (size_t)t * 4 * D_TEST + k * D_TEST,
                                        D_TEST * sizeof(float));
    }
    free(want);
    free(x);
    free(y);
    hst_pool_free(pool);
    hst_multires_state_free(st);
    fixture_free(&f);
}

static void test_parity_matches_reference_core_d(void **state)
{
    (void)state;
    check_parity(0);
}

static void test_parity_matches_reference_core_e(void **state)
{
    (void)state;
    check_parity(1);
}

/* Runs the causal block over S rows split into calls of the given sizes (cycled). */
static void causal_split(const fixture *f, hst_pool *pool, const float *x, int S, const int *sizes, int n_sizes,
                         float *y)
{
    hst_multires_state *st = state_of(f);
    hst_error err = {{0}};
    for (int t0 = 0, k = 0; t0 < S; k++) {
        int n = sizes[k % n_sizes] < S - t0 ? sizes[k % n_sizes] : S - t0;
        hst_multires_rows rows = {x + (size_t)t0 * D_TEST, D_TEST, y + (size_t)t0 * 4 * D_TEST, 4 * D_TEST, n, t0};
        if (hst_multires_causal(&f->mr, st, pool, &rows, NULL, &err) < 0)
            fail_msg("%s", err.msg);
        t0 += n;
    }
    hst_multires_state_free(st);
}

static void check_causal(int core_e)
{
    fixture f;
    fixture_make(&f, core_e);
    hst_pool *pools[3] = {pool_of(1), pool_of(2), pool_of(3)};
    const int S = LMAX_TEST;
    const size_t cells = (size_t)S * 4 * D_TEST;
    float *x = test_rows(S, 11), *one = floats(cells), *other = floats(cells);
    double *want = malloc(sizeof(double) * cells);
    assert_non_null(want);
    const int whole[] = {S};
    causal_split(&f, pools[0], x, S, whole, 1, one);
    reference_causal(&f, x, S, want);
    check_close(one, want, cells, core_e ? "causal multires (core E)" : "causal multires (core D)");
    /* y_r(t) = y_1(t) before the first block, bit for bit */
    for (int k = 1; k < 4; k++)
        for (int t = 0; t < (1 << k) - 1; t++)
            assert_memory_equal(one + (size_t)t * 4 * D_TEST, one + (size_t)t * 4 * D_TEST + k * D_TEST,
                                D_TEST * sizeof(float));
    /* Every split and thread count: the same bits (blocks straddle calls). */
    const int splits[][4] = {{1}, {3, 5}, {7, 1, 2}, {9, 16, 6, 64}, {S - 1, 1}};
    const int n_split[] = {1, 2, 3, 4, 2};
    for (size_t s = 0; s < sizeof n_split / sizeof n_split[0]; s++)
        for (int p = 0; p < 3; p++) {
            memset(other, 0, cells * sizeof(float));
            causal_split(&f, pools[p], x, S, splits[s], n_split[s], other);
            if (!same_bits(one, other, cells * sizeof(float)))
                fail_msg("causal multires (core %c): split %zu on %d threads differs from one call", core_e ? 'E' : 'D',
                         s, p + 1);
        }
    free(want);
    free(x);
    free(one);
    free(other);
    for (int p = 0; p < 3; p++)
        hst_pool_free(pools[p]);
    fixture_free(&f);
}

static void test_causal_matches_reference_and_splits_core_d(void **state)
{
    (void)state;
    check_causal(0);
}

static void test_causal_matches_reference_and_splits_core_e(void **state)
{
    (void)state;
    check_causal(1);
}

/* A causal row depends only on rows <= t: changing the last row changes no earlier one. */
static void test_causal_rows_do_not_see_later_rows(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f, 0);
    const int S = 40;
    const size_t cells = (size_t)S * 4 * D_TEST;
    float *x = test_rows(S, 3), *a = floats(cells), *b = floats(cells);
    const int whole[] = {S};
    causal_split(&f, NULL, x, S, whole, 1, a);
    for (int d = 0; d < D_TEST; d++)
        x[(size_t)(S - 1) * D_TEST + d] += 0.5f;
    causal_split(&f, NULL, x, S, whole, 1, b);
    assert_memory_equal(a, b, (size_t)(S - 1) * 4 * D_TEST * sizeof(float));
    assert_false(same_bits(a + (size_t)(S - 1) * 4 * D_TEST, b + (size_t)(S - 1) * 4 * D_TEST, 4 * D_TEST * sizeof(float)));
    free(x);
    free(a);
    free(b);
    fixture_free(&f);
}

static void test_bad_rows_are_refused(void **state)
{
    (void)state;
    fixture f;
    fixture_make(&f, 0);
    hst_multires_state *st = state_of(&f);
    float *x = test_rows(LMAX_TEST, 1), *y = floats((size_t)LMAX_TEST * 4 * D_TEST);
    hst_error err = {{0}};
    hst_multires_rows past_end = {x, D_TEST, y, 4 * D_TEST, 2, LMAX_TEST - 1};
    assert_true(hst_multires_causal(&f.mr, st, NULL, &past_end, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "multires"));
    hst_multires_rows narrow = {x, D_TEST, y, 2 * D_TEST, 4, 0};
    assert_true(hst_multires_parity(&f.mr, st, NULL, &narrow, NULL, &err) < 0);
    hst_multires_rows not_window = {x, D_TEST, y, 4 * D_TEST, 4, 3};
    assert_true(hst_multires_parity(&f.mr, st, NULL, &not_window, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "window"));
    free(x);
    free(y);
    hst_multires_state_free(st);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pooling_bins_match_their_definitions),
        cmocka_unit_test(test_upsample_coefficients_match_pytorch),
        cmocka_unit_test(test_parity_matches_reference_core_d),
        cmocka_unit_test(test_parity_matches_reference_core_e),
        cmocka_unit_test(test_causal_matches_reference_and_splits_core_d),
        cmocka_unit_test(test_causal_matches_reference_and_splits_core_e),
        cmocka_unit_test(test_causal_rows_do_not_see_later_rows),
        cmocka_unit_test(test_bad_rows_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
