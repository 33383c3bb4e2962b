/* test_precision.c — weight precisions (issue 6): bf16 and int8 packing and
 * the matmul on every ISA this CPU has against a naive reference on the
 * dequantised weights; bit-identical logits and tokens for 1, 2 and 3
 * threads and decode == prefill for every precision; the logit error against
 * f32 stays small; switching back to f32 is exact; the command line names
 * the precision and refuses unknown ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "engine/internal.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Max |logit - f32 logit| over a 100-token prefill of the test models at
 * random init (spec 8), measured with the AVX-512 kernel: bf16 0.0094 (v4),
 * 0.0110 (v6.1); int8 0.0248, 0.0285 (hst-v4 / hst-v6.1 over 256 tokens:
 * bf16 0.011 / 0.013, int8 0.032 / 0.038). The bounds leave about 1.8x
 * headroom and still catch a wrong scale or rounding (errors of order 1). */
#define BF16_LOGIT_BOUND 0.02
#define INT8_LOGIT_BOUND 0.05

static const hst_precision all_precisions[] = {HST_PRECISION_F32, HST_PRECISION_BF16, HST_PRECISION_INT8};
#define N_PRECISIONS 3

/* ---- helpers ----------------------------------------------------------------- */

/* Small enough for ASan, wide enough (D = 64, 100 rows) that the matmuls and
 * the attention are split into tasks over the pool, and long enough to reach
 * the processed spine positions 12, 36 and 104. */
static hst_model *test_model(hst_arch arch)
{
    hst_config cfg = {arch, 300, 64, 4, arch == HST_ARCH_V6_1 ? 8 : 4, 128, 2};
    hst_error err = {{0}};
    hst_model *m = hst_model_random(&cfg, 7, &err);
    if (!m)
        fail_msg("%s", err.msg);
    return m;
}

static void set_precision(hst_model *m, hst_precision p)
{
    hst_error err = {{0}};
    if (hst_model_set_precision(m, p, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(hst_model_precision(m), p);
}

static void prompt_ids(int *ids, int n, int vocab)
{
    for (int i = 0; i < n; i++)
        ids[i] = (int)(((uint64_t)i * 2654435761u + 17u) % (uint64_t)vocab);
}

/* Logits [n, V] of a prefill on a pool of `threads` (first_call tokens in one
 * call, then one token per call: a decode). */
static float *run_logits(const hst_model *m, int threads, const int *ids, int n, int first_call)
{
    hst_error err = {{0}};
    hst_pool *pool = hst_pool_create(threads, NULL, NULL, &err);
    hst_pool_set_adaptive(pool, 0); /* every job on the whole team: the test compares thread counts */
    hst_session *s = pool ? hst_session_create(m, pool, &err) : NULL;
    if (!s)
        fail_msg("%s", err.msg);
    int V = hst_model_config(m)->vocab_size;
    float *logits = malloc((size_t)n * V * sizeof *logits);
    assert_non_null(logits);
    if (hst_forward(s, ids, first_call, logits, 1, &err) != 0)
        fail_msg("%s", err.msg);
    for (int i = first_call; i < n; i++)
        if (hst_forward(s, ids + i, 1, logits + (size_t)i * V, 0, &err) != 0)
            fail_msg("%s", err.msg);
    hst_session_free(s);
    hst_pool_free(pool);
    return logits;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* ---- packing and the matmul ------------------------------------------------------ */

/* The dequantised weight is W rounded as the precision promises. */
static void check_rounding(const hst_packed *P, const float *W, int N, int K)
{
    for (int n = 0; n < N; n++) {
        double amax = 0;
        for (int k = 0; k < K; k++)
            amax = fmax(amax, fabs(W[(size_t)n * K + k]));
        for (int k = 0; k < K; k++) {
            double w = W[(size_t)n * K + k], got = hst_packed_weight(P, n, k);
            double bound = P->precision == HST_PRECISION_BF16   ? ldexp(fabs(w), -8) /* half an ulp of 8 bits */
                         : P->precision == HST_PRECISION_INT8 ? amax / 127 / 2 * (1 + 1e-6)
                                                              : 0;
            if (fabs(got - w) > bound)
                fail_msg("%s W[%d][%d] = %.9g packs as %.9g", hst_precision_name(P->precision), n, k, w, got);
        }
    }
}

static void naive_matmul(const float *X, int S, const hst_packed *P, const float *b, double *R)
{
    for (int i = 0; i < S; i++)
        for (int n = 0; n < P->N; n++) {
            double acc = 0;
            for (int k = 0; k < P->K; k++)
                acc += (double)X[(size_t)i * P->K + k] * hst_packed_weight(P, n, k);
            R[(size_t)i * P->N + n] = acc + b[n];
        }
}

static void check_shape(hst_pool *pool, hst_precision prec, int S, int N, int K)
{
    float *X = malloc(sizeof(float) * S * K), *W = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
    float *Y = malloc(sizeof(float) * S * N), *row = malloc(sizeof(float) * N);
    double *R = malloc(sizeof(double) * S * N);
    uint64_t rng[4];
    hst_rng_seed(rng, (uint64_t)S * 131 + N * 7 + K + prec);
    for (int i = 0; i < S * K; i++)
        X[i] = (float)(hst_rng_uniform(rng) - 0.5);
    for (int i = 0; i < N * K; i++)
        W[i] = (float)(hst_rng_uniform(rng) - 0.5) * (i % 7 == 0 ? 4.0f : 1.0f);
    for (int i = 0; i < N; i++)
        b[i] = (float)(hst_rng_uniform(rng) - 0.5);
    hst_packed P;
    assert_int_equal(hst_pack_precision(&P, W, N, K, prec), 0);
    assert_int_equal(P.precision, prec);
    check_rounding(&P, W, N, K);
    hst_matmul(pool, X, S, K, &P, b, Y, N, HST_EPI_NONE);
    naive_matmul(X, S, &P, b, R);
    for (int i = 0; i < S * N; i++)
        if (fabs(Y[i] - R[i]) > 1e-5 * (1 + fabs(R[i])) + 4e-6 * K)
            fail_msg("%s %s S=%d N=%d K=%d: element %d is %.9g, reference %.9g", hst_precision_name(prec),
                     hst_kernel_name(hst_kernel_current()), S, N, K, i, Y[i], R[i]);
    /* One row alone (a decode step) is bit-identical to the same row in the batch. */
    hst_matmul_serial(X + (size_t)(S - 1) * K, 1, K, &P, b, row, N, HST_EPI_NONE);
    assert_memory_equal(row, Y + (size_t)(S - 1) * N, sizeof(float) * N);
    hst_packed_free(&P);
    free(X);
    free(W);
    free(b);
    free(Y);
    free(row);
    free(R);
}

static void test_packed_matmul_matches_dequantised_reference_on_every_kernel(void **state)
{
    (void)state;
    const hst_kernel kinds[] = {HST_KERNEL_PORTABLE, HST_KERNEL_AVX2, HST_KERNEL_AVX512};
    const int shapes[][3] = {{1, 1, 1}, {1, 16, 128}, {3, 17, 7}, {9, 33, 5}, {33, 100, 128}, {70, 200, 96}};
    hst_error err = {{0}};
    hst_pool *pool = hst_pool_create(3, NULL, NULL, &err);
    hst_pool_set_adaptive(pool, 0); /* every job on the whole team: the test compares thread counts */
    int tested = 0;
    for (size_t k = 0; k < 3; k++) {
        if (hst_kernel_use(kinds[k]) < 0)
            continue; /* this CPU lacks the ISA */
        tested++;
        for (int p = 0; p < N_PRECISIONS; p++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                check_shape(pool, all_precisions[p], shapes[s][0], shapes[s][1], shapes[s][2]);
    }
    assert_true(tested >= 1);
    hst_kernel_use(HST_KERNEL_AUTO);
    hst_pool_free(pool);
}

static void test_int8_all_zero_row_and_extremes(void **state)
{
    (void)state;
    const int N = 3, K = 5;
    const float W[] = {0, 0, 0, 0, 0, /* a zero row: scale 0, every q 0 */
                       -2, 1, 0.5f, 2, -1e-9f, 1e30f, -1e30f, 0, 1, -1};
    hst_packed P;
    assert_int_equal(hst_pack_precision(&P, W, N, K, HST_PRECISION_INT8), 0);
    for (int k = 0; k < K; k++)
        assert_true(hst_packed_weight(&P, 0, k) == 0.0f);
    /* The largest |w| of a row maps to +-127 and comes back within float rounding. */
    assert_true(fabs(hst_packed_weight(&P, 1, 0) + 2.0) < 1e-6 && fabs(hst_packed_weight(&P, 1, 3) - 2.0) < 1e-6);
    assert_true(hst_packed_weight(&P, 1, 4) == 0.0f); /* -1e-9 rounds to q = 0 */
    assert_true(fabs(hst_packed_weight(&P, 2, 0) / 1e30 - 1) < 1e-6 && fabs(hst_packed_weight(&P, 2, 1) / 1e30 + 1) < 1e-6);
    assert_true(hst_packed_weight(&P, 2, 3) == 0.0f); /* 1 is far below 1e30 / 254 */
    assert_true(hst_packed_bytes(&P) < (size_t)16 * K * sizeof(float)); /* one panel of int8 + 16 scales */
    hst_packed_free(&P);
}

/* ---- the forward pass in each precision ------------------------------------------------ */

static void test_logits_and_tokens_bit_identical_for_1_2_3_threads(void **state)
{
    (void)state;
    const hst_arch archs[] = {HST_ARCH_V4, HST_ARCH_V6_1};
    for (int a = 0; a < 2; a++) {
        hst_model *m = test_model(archs[a]);
        int V = hst_model_config(m)->vocab_size, S = 100, ids[100];
        prompt_ids(ids, S, V);
        for (int p = 0; p < N_PRECISIONS; p++) {
            set_precision(m, all_precisions[p]);
            float *one = run_logits(m, 1, ids, S, S);
            uint64_t hashes[3];
            for (int t = 1; t <= 3; t++) {
                hst_error err = {{0}};
                hst_pool *pool = hst_pool_create(t, NULL, NULL, &err);
                hst_pool_set_adaptive(pool, 0); /* every job on the whole team: the test compares thread counts */
                hst_session *s = hst_session_create(m, pool, &err);
                assert_int_equal(hst_quality_hash(s, &hashes[t - 1], NULL, &err), 0);
                hst_session_free(s);
                hst_pool_free(pool);
                if (t == 1)
                    continue;
                float *other = run_logits(m, t, ids, S, S);
                assert_memory_equal(one, other, sizeof(float) * S * V);
                free(other);
            }
            assert_true(hashes[0] == hashes[1] && hashes[1] == hashes[2]);
            free(one);
        }
        hst_model_free(m);
    }
}

static void test_decode_matches_prefill_for_every_precision(void **state)
{
    (void)state;
    hst_model *m = test_model(HST_ARCH_V6_1);
    int V = hst_model_config(m)->vocab_size, S = 110, ids[110];
    prompt_ids(ids, S, V);
    for (int p = 0; p < N_PRECISIONS; p++) {
        set_precision(m, all_precisions[p]);
        float *prefill = run_logits(m, 2, ids, S, S);
        float *decode = run_logits(m, 2, ids, S, 5); /* crosses the processed positions 12, 36, 104 */
        double d = max_abs_diff(prefill, decode, (size_t)S * V);
        if (d > 1e-5) /* spec 5 */
            fail_msg("%s: decode differs from prefill by %g", hst_precision_name(all_precisions[p]), d);
        free(prefill);
        free(decode);
    }
    hst_model_free(m);
}

static void test_logit_error_against_f32_is_small_and_f32_restores_exactly(void **state)
{
    (void)state;
    const hst_arch archs[] = {HST_ARCH_V4, HST_ARCH_V6_1};
    for (int a = 0; a < 2; a++) {
        hst_model *m = test_model(archs[a]);
        int V = hst_model_config(m)->vocab_size, S = 100, ids[100];
        prompt_ids(ids, S, V);
        float *f32 = run_logits(m, 1, ids, S, S);
        uint64_t f32_bytes = hst_model_packed_bytes(m), previous_bytes = f32_bytes;
        for (int p = 1; p < N_PRECISIONS; p++) {
            set_precision(m, all_precisions[p]);
            float *q = run_logits(m, 1, ids, S, S);
            double d = max_abs_diff(f32, q, (size_t)S * V), bound = p == 1 ? BF16_LOGIT_BOUND : INT8_LOGIT_BOUND;
            print_message("arch %s %s: max |logit - f32| = %.5f (bound %.3f)\n", hst_arch_name(archs[a]),
                          hst_precision_name(all_precisions[p]), d, bound);
            assert_true(d > 0); /* the weights really changed */
            assert_true(d < bound);
            assert_true(hst_model_packed_bytes(m) < previous_bytes);
            previous_bytes = hst_model_packed_bytes(m);
            free(q);
        }
        set_precision(m, HST_PRECISION_F32);
        float *back = run_logits(m, 1, ids, S, S);
        assert_memory_equal(f32, back, sizeof(float) * S * V);
        assert_int_equal(hst_model_packed_bytes(m), f32_bytes);
        free(back);
        free(f32);
        hst_model_free(m);
    }
}

/* A session made before the switch keeps working (the runtime is repacked in place). */
static void test_session_survives_precision_switch(void **state)
{
    (void)state;
    hst_model *m = test_model(HST_ARCH_V4);
    hst_error err = {{0}};
    hst_session *s = hst_session_create(m, NULL, &err);
    assert_non_null(s);
    int ids[20], V = hst_model_config(m)->vocab_size;
    prompt_ids(ids, 20, V);
    float *a = malloc(sizeof(float) * V), *b = malloc(sizeof(float) * V);
    set_precision(m, HST_PRECISION_INT8);
    assert_int_equal(hst_forward(s, ids, 20, a, 0, &err), 0);
    float *fresh = run_logits(m, 1, ids, 20, 20);
    assert_memory_equal(a, fresh + (size_t)19 * V, sizeof(float) * V);
    hst_session_reset(s);
    set_precision(m, HST_PRECISION_BF16);
    assert_int_equal(hst_forward(s, ids, 20, b, 0, &err), 0);
    assert_memory_not_equal(a, b, sizeof(float) * V);
    free(fresh);
    free(a);
    free(b);
    hst_session_free(s);
    hst_model_free(m);
}

static void test_precision_names(void **state)
{
    (void)state;
    hst_precision p;
    for (int i = 0; i < N_PRECISIONS; i++) {
        assert_int_equal(hst_precision_from_name(hst_precision_name(all_precisions[i]), &p), 0);
        assert_int_equal(p, all_precisions[i]);
    }
    assert_string_equal(hst_precision_name(HST_PRECISION_BF16), "bf16");
    assert_int_equal(hst_precision_from_name("fp8", &p), -1);
    assert_int_equal(hst_precision_from_name("F32", &p), -1);
    hst_model *m = test_model(HST_ARCH_V4);
    hst_error err = {{0}};
    assert_int_equal(hst_model_set_precision(m, HST_PRECISION_COUNT, &err), -1);
    assert_non_null(strstr(err.msg, "precision"));
    assert_int_equal(hst_model_precision(m), HST_PRECISION_F32);
    hst_model_free(m);
}

/* ---- the command line ------------------------------------------------------------------- */

/* stdout of "$HSTPROF args" (malloc'd), its stderr's line count and the status. */
static char *run_cli(const char *args, int *status, int *stderr_lines)
{
    char dir[256];
    assert_int_equal(harness_make_tmpdir(dir, sizeof dir, "precision"), 0);
    cli_result r = harness_run(dir, "%s", args);
    *status = r.status;
    *stderr_lines = harness_count_lines(r.err);
    char *out = r.out;
    free(r.err);
    harness_remove_tmpdir(dir);
    return out;
}

/* run computes the quality hash, which needs a vocabulary of 256 ids: the
 * default preset; bench takes the tiny golden model. */
static char *run_bench_on_tiny(const char *args, int *status, int *stderr_lines)
{
    char line[2048];
    snprintf(line, sizeof line, "bench --models %s %s", harness_source("tests/golden/tiny-v4.safetensors"), args);
    return run_cli(line, status, stderr_lines);
}

static void test_cli_precision_flag(void **state)
{
    (void)state;
    int status, lines;
    const char *bad[] = {"run --precision fp8", "bench --precision fp8 --seq 8", "run -n 2 --precision BF16"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        free(run_cli(bad[i], &status, &lines));
        if (status != 2 || lines != 1)
            fail_msg("'%s': status %d with %d stderr lines (want 2 and one line)", bad[i], status, lines);
    }
    char *text = run_cli("run -n 4 --threads 2 --oversubscribe --no-probes --precision int8", &status, &lines);
    assert_int_equal(status, 0);
    assert_non_null(strstr(text, "precision int8"));
    free(text);
    char *js = run_cli("run -n 4 --no-probes --precision bf16 --format json", &status, &lines);
    assert_int_equal(status, 0);
    json_t *o = json_loads(js, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "precision")), "bf16");
    json_decref(o);
    free(js);
    char *csv = run_bench_on_tiny("--seq 8 --threads 1 --runs 1 --warmup 0 --no-probes --precision int8 --format csv",
                                  &status, &lines);
    assert_int_equal(status, 0);
    assert_non_null(strstr(csv, ",precision"));
    assert_non_null(strstr(csv, ",int8"));
    free(csv);
    char *md = run_bench_on_tiny("--seq 8 --threads 1 --runs 1 --warmup 0 --no-probes --precision bf16", &status,
                                 &lines);
    assert_int_equal(status, 0);
    assert_non_null(strstr(md, "weights bf16"));
    free(md);
}

/* Bytes a call reads (hst_session_last_bytes): spec 11's count in f32; in
 * bf16 and int8 the quantised weights a step reads (per block Wq, Wk, Wv,
 * Wo, W1, W2: 12D²; the meta fusion 8D²; lm_head VD) at 2 and 1 bytes, plus
 * int8's per-row scales (per block 9D rows, 3D for the fusion, V). Decode
 * steps on 2 threads, so the workers' share is counted too. */
static void test_last_bytes_count_the_stored_precision(void **state)
{
    (void)state;
    hst_model *m = test_model(HST_ARCH_V4);
    const hst_config *c = hst_model_config(m);
    const double D = c->d_model, V = c->vocab_size, L = c->n_layers;
    const double hot = L * 12 * D * D + 8 * D * D + V * D, rows = L * 9 * D + 3 * D + V;
    int ids[20];
    prompt_ids(ids, 20, c->vocab_size);
    float *logits = malloc((size_t)c->vocab_size * sizeof *logits); /* lm_head runs only for logits */
    assert_non_null(logits);
    for (int k = 0; k < N_PRECISIONS; k++) {
        set_precision(m, all_precisions[k]);
        hst_error err = {{0}};
        hst_pool *pool = hst_pool_create(2, NULL, NULL, &err);
        hst_pool_set_adaptive(pool, 0);
        hst_session *s = hst_session_create(m, pool, &err);
        assert_non_null(s);
        assert_true(hst_session_last_bytes(s) == 0);
        assert_int_equal(hst_forward(s, ids, 19, logits, 0, &err), 0);
        double prefill_f32 = hst_bytes_prefill(c, HST_MODE_CAUSAL, 19);
        assert_int_equal(hst_forward(s, ids + 19, 1, logits, 0, &err), 0);
        double decode_f32 = hst_bytes_decode(c, HST_MODE_CAUSAL, 19);
        double saved = all_precisions[k] == HST_PRECISION_BF16   ? 2 * hot
                     : all_precisions[k] == HST_PRECISION_INT8 ? 3 * hot - 4 * rows
                                                                : 0;
        assert_true(fabs(hst_session_last_bytes(s) - (decode_f32 - saved)) < 0.5);
        hst_session_reset(s);
        assert_int_equal(hst_forward(s, ids, 19, logits, 0, &err), 0);
        assert_true(fabs(hst_session_last_bytes(s) - (prefill_f32 - saved)) < 0.5);
        hst_session_free(s);
        hst_pool_free(pool);
    }
    free(logits);
    hst_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_matmul_matches_dequantised_reference_on_every_kernel),
        cmocka_unit_test(test_int8_all_zero_row_and_extremes),
        cmocka_unit_test(test_logits_and_tokens_bit_identical_for_1_2_3_threads),
        cmocka_unit_test(test_decode_matches_prefill_for_every_precision),
        cmocka_unit_test(test_logit_error_against_f32_is_small_and_f32_restores_exactly),
        cmocka_unit_test(test_session_survives_precision_switch),
        cmocka_unit_test(test_last_bytes_count_the_stored_precision),
        cmocka_unit_test(test_precision_names),
        cmocka_unit_test(test_cli_precision_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
