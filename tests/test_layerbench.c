/* test_layerbench.c — one PreBlock on its own (hst_block_*, spec 4.2) against
 * an independent double-precision reference written here, bit-identical for
 * 1, 2 and 3 threads; and `hstprof layerbench`: the baseline and optimized
 * variants agree, the report has one row per (seq, variant) in every format,
 * the Markdown keeps the seed's shape, -o writes the file, bad flags exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "engine/block.h"
#include "exports/exports.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a random block and a double-precision reference ----------------------------- */

typedef struct {
    int D, nh;
    float *wq, *wk, *wv, *wo, *w1, *b1, *w2, *b2, *g1, *be1, *g2, *be2;
} test_block;

static float *random_floats(uint64_t rng[4], size_t n, double center, double spread)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(center + spread * (2 * hst_rng_uniform(rng) - 1));
    return p;
}

static test_block make_block(int D, int nh, uint64_t seed)
{
    uint64_t rng[4];
    hst_rng_seed(rng, seed);
    size_t DD = (size_t)D * D;
    double a = 1 / sqrt(D);
    test_block b = {D, nh,
                    random_floats(rng, DD, 0, a), random_floats(rng, DD, 0, a), random_floats(rng, DD, 0, a),
                    random_floats(rng, DD, 0, a), random_floats(rng, 4 * DD, 0, a), random_floats(rng, 4 * (size_t)D, 0, a),
                    random_floats(rng, 4 * DD, 0, a / 2), random_floats(rng, (size_t)D, 0, a / 2),
                    random_floats(rng, (size_t)D, 1, 0.2), random_floats(rng, (size_t)D, 0, 0.2),
                    random_floats(rng, (size_t)D, 1, 0.2), random_floats(rng, (size_t)D, 0, 0.2)};
    return b;
}

static void free_block(test_block *b)
{
    float *all[] = {b->wq, b->wk, b->wv, b->wo, b->w1, b->b1, b->w2, b->b2, b->g1, b->be1, b->g2, b->be2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static hst_block *engine_block(const test_block *b)
{
    const hst_block_weights w = {b->wq, b->wk, b->wv, b->wo, b->w1, b->b1, b->w2, b->b2, b->g1, b->be1, b->g2, b->be2};
    hst_error err = {{0}};
    hst_block *blk = hst_block_create(&w, b->D, b->nh, &err);
    if (!blk)
        fail_msg("%s", err.msg);
    return blk;
}

static void ref_layernorm(const double *x, const float *g, const float *b, double *y, int D)
{
    double mean = 0, var = 0;
    for (int d = 0; d < D; d++)
        mean += x[d] / D;
    for (int d = 0; d < D; d++)
        var += (x[d] - mean) * (x[d] - mean) / D;
    for (int d = 0; d < D; d++)
        y[d] = (x[d] - mean) / sqrt(var + 1e-5) * g[d] + b[d];
}

static void ref_linear(const double *x, const float *W, const float *bias, int N, int K, double *y)
{
    for (int n = 0; n < N; n++) {
        double acc = bias ? bias[n] : 0;
        for (int k = 0; k < K; k++)
            acc += x[k] * W[(size_t)n * K + k];
        y[n] = acc;
    }
}

/* Spec 4.2 in double, row by row, softmax over keys j <= i. */
static void reference_block(const test_block *b, const float *x_in, int S, double *out)
{
    const int D = b->D, hd = D / b->nh;
    double *x = malloc(sizeof(double) * S * D), *a = malloc(sizeof(double) * D), *q = malloc(sizeof(double) * S * D);
    double *k = malloc(sizeof(double) * S * D), *v = malloc(sizeof(double) * S * D), *p = malloc(sizeof(double) * S);
    double *att = malloc(sizeof(double) * D), *h = malloc(sizeof(double) * 4 * D), *y = malloc(sizeof(double) * D);
    for (int i = 0; i < S * D; i++)
        x[i] = x_in[i];
    for (int i = 0; i < S; i++) {
        ref_layernorm(x + (size_t)i * D, b->g1, b->be1, a, D);
        ref_linear(a, b->wq, NULL, D, D, q + (size_t)i * D);
        ref_linear(a, b->wk, NULL, D, D, k + (size_t)i * D);
        ref_linear(a, b->wv, NULL, D, D, v + (size_t)i * D);
    }
    for (int i = 0; i < S; i++) {
        for (int hh = 0; hh < b->nh; hh++) {
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int d = 0; d < hd; d++)
                    s += q[(size_t)i * D + hh * hd + d] * k[(size_t)j * D + hh * hd + d];
                p[j] = s / sqrt(hd);
                mx = fmax(mx, p[j]);
            }
            for (int j = 0; j <= i; j++)
                sum += (p[j] = exp(p[j] - mx));
            for (int d = 0; d < hd; d++) {
                double o = 0;
                for (int j = 0; j <= i; j++)
                    o += p[j] / sum * v[(size_t)j * D + hh * hd + d];
                att[hh * hd + d] = o;
            }
        }
        double *xi = x + (size_t)i * D;
        ref_linear(att, b->wo, NULL, D, D, y);
        for (int d = 0; d < D; d++)
            xi[d] += y[d];
        ref_layernorm(xi, b->g2, b->be2, a, D);
        ref_linear(a, b->w1, b->b1, 4 * D, D, h);
        for (int d = 0; d < 4 * D; d++)
            h[d] = h[d] > 0 ? h[d] : 0;
        ref_linear(h, b->w2, b->b2, D, 4 * D, y);
        for (int d = 0; d < D; d++)
            out[(size_t)i * D + d] = xi[d] + y[d];
    }
    double *all[] = {x, a, q, k, v, p, att, h, y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static float *engine_forward(const hst_block *blk, const float *x_in, int S, int D, int threads, int max_rows)
{
    hst_error err = {{0}};
    hst_pool *pool = hst_pool_create(threads, NULL, NULL, &err);
    hst_block_workspace *ws = hst_block_workspace_create(blk, max_rows, &err);
    if (!pool || !ws)
        fail_msg("%s", err.msg);
    assert_true(hst_block_workspace_bytes(ws) >= (uint64_t)max_rows * D * 9 * sizeof(float));
    float *x = malloc(sizeof(float) * S * D);
    memcpy(x, x_in, sizeof(float) * S * D);
    if (hst_block_forward(blk, ws, pool, x, S, &err) != 0)
        fail_msg("%s", err.msg);
    hst_block_workspace_free(ws);
    hst_pool_free(pool);
    return x;
}

static void test_block_matches_double_reference(void **state)
{
    (void)state;
    /* D, nh, S: head widths 8 (portable attention), 16 and 32 (grouped AVX-512 kernels), 48 (one lane at a time) */
    const int shapes[][3] = {{32, 4, 50}, {32, 4, 1}, {48, 3, 17}, {64, 2, 33}, {64, 2, 1}, {96, 2, 21}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int D = shapes[c][0], nh = shapes[c][1], S = shapes[c][2];
        test_block b = make_block(D, nh, 11 + c);
        hst_block *blk = engine_block(&b);
        uint64_t rng[4];
        hst_rng_seed(rng, 5 + c);
        float *x = random_floats(rng, (size_t)S * D, 0, 1);
        double *ref = malloc(sizeof(double) * S * D);
        reference_block(&b, x, S, ref);
        float *got = engine_forward(blk, x, S, D, 2, S + 5);
        for (int i = 0; i < S * D; i++)
            if (fabs(got[i] - ref[i]) > 1e-4 * (1 + fabs(ref[i])))
                fail_msg("D=%d nh=%d S=%d: element %d is %.7g, reference %.7g", D, nh, S, i, got[i], ref[i]);
        free(got);
        free(ref);
        free(x);
        hst_block_free(blk);
        free_block(&b);
    }
}

static void test_block_bit_identical_for_1_2_3_threads(void **state)
{
    (void)state;
    const int D = 64, S = 150;
    test_block b = make_block(D, 4, 3);
    hst_block *blk = engine_block(&b);
    uint64_t rng[4];
    hst_rng_seed(rng, 9);
    float *x = random_floats(rng, (size_t)S * D, 0, 1);
    float *one = engine_forward(blk, x, S, D, 1, S);
    for (int t = 2; t <= 3; t++) {
        float *other = engine_forward(blk, x, S, D, t, 4 * S);
        assert_memory_equal(one, other, sizeof(float) * S * D);
        free(other);
    }
    free(one);
    free(x);
    hst_block_free(blk);
    free_block(&b);
}

static void test_block_rejects_bad_shapes(void **state)
{
    (void)state;
    test_block b = make_block(32, 4, 1);
    const hst_block_weights w = {b.wq, b.wk, b.wv, b.wo, b.w1, b.b1, b.w2, b.b2, b.g1, b.be1, b.g2, b.be2};
    hst_error err = {{0}};
    assert_null(hst_block_create(&w, 30, 4, &err));
    assert_non_null(strstr(err.msg, "d_model 30"));
    hst_block *blk = engine_block(&b);
    hst_block_workspace *ws = hst_block_workspace_create(blk, 10, &err);
    assert_non_null(ws);
    float x[11 * 32] = {0};
    assert_int_equal(hst_block_forward(blk, ws, NULL, x, 11, &err), -1);
    assert_non_null(strstr(err.msg, "11 rows"));
    assert_int_equal(hst_block_forward(blk, ws, NULL, x, 0, &err), -1);
    assert_null(hst_block_workspace_create(blk, 0, &err));
    hst_block_workspace_free(ws);
    hst_block_free(blk);
    free_block(&b);
}

/* ---- the command ----------------------------------------------------------------- */

static char tmpdir[256];

/* "$HSTPROF layerbench <args>", captured. */
static cli_result run(const char *args)
{
    return harness_run(tmpdir, "layerbench %s", args);
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

#define SMALL "--seq 48,100 --d-model 32 --heads 4 --runs 2 --warmup 0"

static void test_cli_json_variants_agree(void **state)
{
    (void)state;
    cli_result r = run(SMALL " --threads 2 --oversubscribe --format json");
    if (r.status != 0)
        fail_msg("status %d: %s", r.status, r.err);
    json_t *o = json_loads(r.out, 0, NULL);
    assert_non_null(o);
    json_t *runs = json_object_get(o, "runs");
    assert_int_equal(json_array_size(runs), 4);
    size_t i;
    json_t *row;
    json_array_foreach(runs, i, row)
    {
        int S = (int)json_integer_value(json_object_get(row, "seq_len"));
        const char *variant = json_string_value(json_object_get(row, "variant"));
        assert_int_equal(S, i < 2 ? 48 : 100);
        assert_string_equal(variant, i % 2 ? "optimized" : "baseline");
        assert_true(json_real_value(json_object_get(row, "max_rel_diff")) < 1e-3);
        assert_true(json_real_value(json_object_get(row, "latency_ms_median")) > 0);
        assert_true(json_real_value(json_object_get(row, "compute_ms_median")) > 0);
        assert_true(json_real_value(json_object_get(row, "alloc_ms_median")) >= 0);
        assert_true(json_real_value(json_object_get(row, "peak_mb")) >= 0);
        assert_int_equal(json_array_size(json_object_get(row, "samples_ms")), 2);
        if (i % 2 == 0) /* the baseline's [nh, S, S] scores */
            assert_true(fabs(json_real_value(json_object_get(row, "scores_mb")) - 4.0 * S * S * 4 / 1e6) < 1e-9);
        else
            assert_true(json_real_value(json_object_get(row, "workspace_mb")) > 0);
    }
    json_t *settings = json_object_get(o, "settings");
    assert_int_equal(json_integer_value(json_object_get(settings, "head_dim")), 8);
    assert_int_equal(json_integer_value(json_object_get(settings, "threads")), 2);
    assert_non_null(json_string_value(json_object_get(o, "memory_method")));
    json_decref(o);
    harness_done(&r);
}

static void test_cli_markdown_keeps_the_seed_shape_and_csv_has_a_row_per_variant(void **state)
{
    (void)state;
    cli_result md = run(SMALL);
    assert_int_equal(md.status, 0);
    const char *needles[] = {"| Item          | Value |", "| Batchsize     | 1 |", "| dim per head  | 8 |",
                             "| num_heads     | 4 |", "| embedding dim | 32 |", "## latency",
                             "| seqlen | Baseline (ms) | Optimized (ms) |", "## PEAK memory",
                             "| seqlen | Baseline (MB) | Optimized (MB) |", "| 48 |", "| 100 |", "## agreement"};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        if (!strstr(md.out, needles[i]))
            fail_msg("markdown lacks '%s':\n%s", needles[i], md.out);
    harness_done(&md);
    cli_result csv = run(SMALL " --format csv");
    assert_int_equal(csv.status, 0);
    assert_int_equal(count_char(csv.out, '\n'), 5); /* header + 2 lengths x 2 variants */
    assert_true(strncmp(csv.out, "seq_len,variant,latency_ms_median,", 34) == 0);
    assert_non_null(strstr(csv.out, "100,optimized,"));
    harness_done(&csv);
}

static void test_cli_output_file_and_usage_errors(void **state)
{
    (void)state;
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/layer.md", tmpdir);
    snprintf(args, sizeof args, "--seq 16 --d-model 16 --heads 2 --runs 1 --warmup 0 -o %s", path);
    cli_result r = run(args);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    char *text = harness_slurp(path);
    assert_non_null(strstr(text, "## PEAK memory"));
    free(text);
    harness_done(&r);
    const char *bad[] = {"--d-model 30 --heads 4", "--seq 0", "--seq 12a", "--format xml", "--runs 0", "--heads 0",
                         "--kernel sse9", "--bogus"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cli_result e = run(bad[i]);
        if (e.status != 2 || count_char(e.err, '\n') != 1)
            fail_msg("'%s': status %d, stderr '%s' (want 2 and one line)", bad[i], e.status, e.err);
        harness_done(&e);
    }
}

/* The renderer alone, on a fixed report: the seed's "1K" labels and the speed-up. */
static void test_render_labels_and_speedup(void **state)
{
    (void)state;
    json_t *report = json_pack(
        "{s:s, s:{s:i, s:i, s:i, s:i, s:i, s:[i], s:i, s:i, s:i}, s:s, s:f, s:[{s:i, s:s, s:f, s:f, s:f, s:f}, "
        "{s:i, s:s, s:f, s:f, s:f, s:f, s:f, s:f}]}",
        "tool", "hstprof layerbench", "settings", "batch", 1, "d_model", 128, "n_heads", 4, "head_dim", 32,
        "ffn_dim", 512, "seq", 2048, "threads", 1, "runs", 3, "warmup", 1, "memory_method", "window",
        "agreement_tolerance", 1e-3, "runs", "seq_len", 2048, "variant", "baseline", "latency_ms_median", 100.0,
        "peak_mb", 70.0, "scores_mb", 67.1, "compute_ms_median", 90.0, "seq_len", 2048, "variant", "optimized",
        "latency_ms_median", 25.0, "peak_mb", 10.5, "workspace_mb", 10.5, "gflops_per_s", 40.0, "compute_ms_median",
        24.0, "max_rel_diff", 5e-7);
    assert_non_null(report);
    char *md = export_layerbench_render(report, EXPORT_MD);
    assert_non_null(strstr(md, "| 2K | 100.00 | 25.00 | 4.0x | 90.00 | 24.00 | 40.0 |"));
    assert_non_null(strstr(md, "| 2K | 70.0 | 10.5 | 67.1 | 10.5 |"));
    char *js = export_layerbench_render(report, EXPORT_JSON);
    json_t *back = json_loads(js, 0, NULL);
    assert_true(json_equal(back, report));
    json_decref(back);
    free(js);
    free(md);
    json_decref(report);
}

static int setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmpdir, sizeof tmpdir, "layerbench");
}

static int teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_matches_double_reference),
        cmocka_unit_test(test_block_bit_identical_for_1_2_3_threads),
        cmocka_unit_test(test_block_rejects_bad_shapes),
        cmocka_unit_test(test_cli_json_variants_agree),
        cmocka_unit_test(test_cli_markdown_keeps_the_seed_shape_and_csv_has_a_row_per_variant),
        cmocka_unit_test(test_cli_output_file_and_usage_errors),
        cmocka_unit_test(test_render_labels_and_speedup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
