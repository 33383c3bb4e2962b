/* test_engine.c — the engine against the spec: the spine, the tensor table and
 * counts, kernels against naive references on every ISA this CPU has, decode
 * equal to prefill, bit-identical results for any thread count, sampling,
 * timers and error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers --------------------------------------------------------------- */

static hst_model *preset_model(const char *name, uint64_t seed)
{
    hst_config cfg;
    hst_error err = {{0}};
    assert_int_equal(hst_preset_config(name, &cfg), 0);
    hst_model *m = hst_model_random(&cfg, seed, &err);
    if (!m)
        fail_msg("%s", err.msg);
    return m;
}

/* A small custom config that still reaches processed positions 12, 36, 104. */
static hst_model *tiny_model(hst_arch arch, uint64_t seed)
{
    hst_config cfg = {arch, 300, 32, 4, arch == HST_ARCH_V6_1 ? 8 : 4, 128, 2};
    hst_error err = {{0}};
    hst_model *m = hst_model_random(&cfg, seed, &err);
    if (!m)
        fail_msg("%s", err.msg);
    return m;
}

static void prompt_ids(int *ids, int n, int vocab)
{
    for (int i = 0; i < n; i++)
        ids[i] = (int)(((uint64_t)i * 2654435761u + 17u) % (uint64_t)vocab);
}

/* Logits [n, V] of a prefill of ids on a pool of `threads`. */
static float *prefill_logits(const hst_model *m, int threads, const int *ids, int n)
{
    hst_error err = {{0}};
    hst_pool *pool = hst_pool_create(threads, NULL, NULL, &err);
    hst_pool_set_adaptive(pool, 0); /* every job on the whole team: the test compares thread counts */
    assert_non_null(pool);
    hst_session *s = hst_session_create(m, pool, &err);
    assert_non_null(s);
    int V = hst_model_config(m)->vocab_size;
    float *logits = malloc((size_t)n * V * sizeof *logits);
    assert_non_null(logits);
    if (hst_forward(s, ids, n, logits, 1, &err) != 0)
        fail_msg("%s", err.msg);
    hst_session_free(s);
    hst_pool_free(pool);
    return logits;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > d)
            d = fabs((double)a[i] - b[i]);
    return d;
}

/* ---- spine (spec 2) ----------------------------------------------------------- */

static void test_spine_three_term_values(void **state)
{
    (void)state;
    int64_t s[16];
    const int64_t full[] = {0, 2, 4, 12, 36, 104, 304, 888, 2592, 7568};
    assert_int_equal(hst_spine(8192, s), 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(s[i], full[i]);
    assert_int_equal(hst_spine(512, s), 7);
    assert_int_equal(s[6], 304);
    assert_int_equal(hst_spine(4, s), 3); /* always starts 0, 2, 4 */
    assert_int_equal(hst_spine(1, s), 3);
}

static void test_spine_ancestor_table_order(void **state)
{
    (void)state;
    int lv[3][3], cnt[3];
    assert_int_equal(hst_spine_levels(12, lv, cnt), 1);
    assert_int_equal(cnt[0], 3);
    assert_int_equal(lv[0][0], 0);
    assert_int_equal(lv[0][2], 4);
    assert_int_equal(hst_spine_levels(36, lv, cnt), 2);
    assert_int_equal(lv[0][0], 2);
    assert_int_equal(lv[0][1], 12);
    assert_int_equal(lv[0][2], 4);
    assert_int_equal(lv[1][0], 0);
    assert_int_equal(hst_spine_levels(7568, lv, cnt), 3);
    assert_int_equal(lv[0][0], 2592);
    assert_int_equal(lv[0][1], 304);
    assert_int_equal(lv[0][2], 888);
    assert_int_equal(cnt[2], 3);
    assert_int_equal(hst_spine_levels(4, lv, cnt), 0);  /* never updated */
    assert_int_equal(hst_spine_levels(13, lv, cnt), 0); /* not a spine position */
}

/* ---- counts (spec 3, 7, 11) ------------------------------------------------------- */

static void test_preset_counts_match_spec(void **state)
{
    (void)state;
    const struct { const char *name; uint64_t total, next; } want[] = {
        {"hst-v3", 4038508, 2962369},   {"hst-v4", 4038508, 2962369},   {"hst-v5.2", 7119708, 2962369},
        {"hst-v6", 7119708, 2962369},   {"hst-v6.1", 16886166, 3357889},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        hst_model *m = preset_model(want[i].name, 0);
        hst_counts c = hst_model_counts(m);
        assert_int_equal(c.params_total, want[i].total);
        assert_int_equal(c.params_next_token, want[i].next);
        assert_int_equal(c.weight_bytes, want[i].total * 4);
        hst_model_free(m);
    }
}

static void test_flops_table_matches_spec(void **state)
{
    (void)state;
    hst_config a, b;
    hst_preset_config("hst-v4", &a);
    hst_preset_config("hst-v6.1", &b);
    assert_int_equal((int64_t)hst_flops_prefill_per_token(&a, HST_MODE_CAUSAL, 128), 4130304);
    assert_int_equal((int64_t)hst_flops_prefill_per_token(&a, HST_MODE_CAUSAL, 256), 4311552);
    assert_int_equal((int64_t)hst_flops_prefill_per_token(&a, HST_MODE_CAUSAL, 512), 4700672);
    assert_int_equal((int64_t)hst_flops_decode(&a, HST_MODE_CAUSAL, 127), 4294656);
    assert_int_equal((int64_t)hst_flops_decode(&a, HST_MODE_CAUSAL, 511), 5474304);
    assert_int_equal((int64_t)hst_flops_prefill_per_token(&b, HST_MODE_CAUSAL, 128), 4982784);
    assert_int_equal((int64_t)hst_flops_prefill_per_token(&b, HST_MODE_CAUSAL, 512), 5749760);
    assert_int_equal((int64_t)hst_flops_decode(&b, HST_MODE_CAUSAL, 511), 6785024);
    /* 7.84 MB of weights for a non-spine decode step at L = 6 (spec 11). */
    double kv = 2.0 * 6 * 128 * 4 * 128;
    assert_true(fabs(hst_bytes_decode(&a, HST_MODE_CAUSAL, 127) - kv - 7.84e6) < 0.01e6);
}

static void test_config_constraints_rejected(void **state)
{
    (void)state;
    hst_error err = {{0}};
    hst_config c = {HST_ARCH_V4, 100, 30, 4, 4, 64, 2}; /* D not a multiple of 4 */
    assert_int_equal(hst_config_check(&c, &err), -1);
    assert_non_null(strstr(err.msg, "bad metadata"));
    c.d_model = 36; /* multiple of 4, not of 8 heads */
    c.n_heads = 8;
    assert_int_equal(hst_config_check(&c, &err), -1);
    c.n_heads = 4;
    c.n_layers = 1;
    assert_int_equal(hst_config_check(&c, &err), -1);
    c.n_layers = 6;
    c.arch = HST_ARCH_V6_1; /* v6.1 needs 8 layers */
    assert_int_equal(hst_config_check(&c, &err), -1);
    c.arch = HST_ARCH_V4;
    c.max_seq_len = 8193;
    assert_int_equal(hst_config_check(&c, &err), -1);
    c.max_seq_len = 64;
    assert_int_equal(hst_config_check(&c, &err), 0);
}

/* ---- random init (spec 8) ------------------------------------------------------------ */

static void test_random_init_is_seeded_and_follows_spec(void **state)
{
    (void)state;
    hst_model *a = tiny_model(HST_ARCH_V6_1, 5), *b = tiny_model(HST_ARCH_V6_1, 5), *c = tiny_model(HST_ARCH_V6_1, 6);
    uint64_t n;
    const float *wa = hst_model_tensor_data(a, "top_stack.0.linear1.weight", &n);
    const float *wb = hst_model_tensor_data(b, "top_stack.0.linear1.weight", NULL);
    const float *wc = hst_model_tensor_data(c, "top_stack.0.linear1.weight", NULL);
    assert_memory_equal(wa, wb, n * sizeof *wa);
    assert_true(memcmp(wa, wc, n * sizeof *wa) != 0);
    double bound = 1.0 / sqrt(32.0), max = 0;
    for (uint64_t i = 0; i < n; i++)
        max = fabs(wa[i]) > max ? fabs(wa[i]) : max;
    assert_true(max <= bound && max > 0.9 * bound);
    const float *ln = hst_model_tensor_data(a, "ln_f.weight", &n);
    for (uint64_t i = 0; i < n; i++)
        assert_true(ln[i] == 1.0f);
    const float *bias = hst_model_tensor_data(a, "lattice_core.multi_level.level_attention.in_proj_bias", &n);
    for (uint64_t i = 0; i < n; i++)
        assert_true(bias[i] == 0.0f);
    const float *basis = hst_model_tensor_data(a, "continual_updater.basis", &n);
    assert_true(basis[0] == 1.0f && basis[1] == 0.0f && basis[33] == 1.0f);
    hst_model_free(a);
    hst_model_free(b);
    hst_model_free(c);
}

/* ---- kernels ----------------------------------------------------------------------------- */

static void naive_matmul(const float *X, int S, const float *W, int N, int K, const float *bias, float *Y,
                         hst_epilogue epi)
{
    for (int r = 0; r < S; r++)
        for (int n = 0; n < N; n++) {
            double acc = bias ? bias[n] : 0;
            for (int k = 0; k < K; k++)
                acc += (double)X[r * K + k] * W[n * K + k];
            if (epi == HST_EPI_RELU && acc < 0)
                acc = 0;
            if (epi == HST_EPI_ADD)
                acc += Y[r * N + n];
            Y[r * N + n] = (float)acc;
        }
}

static void check_matmul_shape(hst_pool *pool, int S, int N, int K, hst_epilogue epi)
{
    float *X = malloc(sizeof(float) * S * K), *W = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
    float *Y = malloc(sizeof(float) * S * N), *R = malloc(sizeof(float) * S * N), *row = malloc(sizeof(float) * N);
    uint64_t rng[4];
    hst_rng_seed(rng, (uint64_t)S * 131 + N * 7 + K);
    for (int i = 0; i < S * K; i++)
        X[i] = (float)(hst_rng_uniform(rng) - 0.5);
    for (int i = 0; i < N * K; i++)
        W[i] = (float)(hst_rng_uniform(rng) - 0.5);
    for (int i = 0; i < N; i++)
        b[i] = (float)(hst_rng_uniform(rng) - 0.5);
    for (int i = 0; i < S * N; i++)
        Y[i] = R[i] = (float)i * 0.001f;
    hst_packed P;
    assert_int_equal(hst_pack(&P, W, N, K), 0);
    hst_matmul(pool, X, S, K, &P, b, Y, N, epi);
    naive_matmul(X, S, W, N, K, b, R, epi);
    for (int i = 0; i < S * N; i++)
        if (fabs(Y[i] - R[i]) > 1e-5 * (1 + fabs(R[i])) + 2e-6 * K)
            fail_msg("S=%d N=%d K=%d epi=%d: element %d is %g, reference %g", S, N, K, epi, i, Y[i], R[i]);
    /* The last row computed on its own is bit-identical to the batched one. */
    if (epi != HST_EPI_ADD) {
        hst_matmul_serial(X + (size_t)(S - 1) * K, 1, K, &P, b, row, N, epi);
        assert_memory_equal(row, Y + (size_t)(S - 1) * N, sizeof(float) * N);
    }
    hst_packed_free(&P);
    free(X);
    free(W);
    free(b);
    free(Y);
    free(R);
    free(row);
}

static void test_matmul_matches_naive_on_every_kernel(void **state)
{
    (void)state;
    const hst_kernel kinds[] = {HST_KERNEL_PORTABLE, HST_KERNEL_AVX2, HST_KERNEL_AVX512};
    const int shapes[][3] = {{1, 1, 1}, {1, 16, 128}, {3, 17, 7}, {8, 32, 64}, {9, 33, 5},
                             {33, 100, 128}, {70, 200, 96}, {5, 5000, 16}};
    hst_error err = {{0}};
    hst_pool *pool = hst_pool_create(3, NULL, NULL, &err);
    int tested = 0;
    for (size_t k = 0; k < 3; k++) {
        if (hst_kernel_use(kinds[k]) < 0)
            continue; /* this CPU lacks the ISA */
        tested++;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int epi = HST_EPI_NONE; epi <= HST_EPI_ADD; epi++)
                check_matmul_shape(pool, shapes[s][0], shapes[s][1], shapes[s][2], (hst_epilogue)epi);
    }
    assert_true(tested >= 1);
    hst_kernel_use(HST_KERNEL_AUTO);
    hst_pool_free(pool);
}

/* Decode steps of ids on s (whose kernel it is); the logits of the last step. */
static void decode_with_kernel(hst_session *s, const int *ids, int n, float *logits)
{
    hst_error err = {{0}};
    for (int i = 0; i < n; i++)
        if (hst_forward(s, &ids[i], 1, logits, 0, &err) != 0)
            fail_msg("%s", err.msg);
}

/* The kernel belongs to the session: two sessions with different kernels,
 * stepped alternately on one thread (the dashboard's A/B), each compute
 * exactly what they compute alone. */
static void test_sessions_keep_their_own_kernel_side_by_side(void **state)
{
    (void)state;
    hst_model *m = tiny_model(HST_ARCH_V4, 11);
    const int V = hst_model_config(m)->vocab_size, n = 12;
    int ids[12];
    prompt_ids(ids, n, V);
    hst_kernel best = (hst_kernel)hst_kernel_resolve(HST_KERNEL_AUTO);
    if (best == HST_KERNEL_PORTABLE)
        skip(); /* one kernel only: nothing to tell apart */
    hst_error err = {{0}};
    hst_pool *pool_a = hst_pool_create(2, NULL, NULL, &err), *pool_b = hst_pool_create(2, NULL, NULL, &err);
    hst_session *alone_a = hst_session_create(m, pool_a, &err), *alone_b = hst_session_create(m, pool_b, &err);
    assert_int_equal(hst_session_set_kernel(alone_a, HST_KERNEL_PORTABLE), HST_KERNEL_PORTABLE);
    assert_int_equal(hst_session_set_kernel(alone_b, HST_KERNEL_AUTO), best);
    float *ref_a = malloc(sizeof(float) * V), *ref_b = malloc(sizeof(float) * V);
    float *got_a = malloc(sizeof(float) * V), *got_b = malloc(sizeof(float) * V);
    decode_with_kernel(alone_a, ids, n, ref_a);
    decode_with_kernel(alone_b, ids, n, ref_b);
    assert_true(memcmp(ref_a, ref_b, sizeof(float) * V) != 0); /* else mixing could not show */
    hst_session_reset(alone_a);
    hst_session_reset(alone_b);
    for (int i = 0; i < n; i++) {
        decode_with_kernel(alone_a, &ids[i], 1, got_a);
        decode_with_kernel(alone_b, &ids[i], 1, got_b);
    }
    assert_memory_equal(got_a, ref_a, sizeof(float) * V);
    assert_memory_equal(got_b, ref_b, sizeof(float) * V);
    assert_int_equal(hst_session_kernel(alone_a), HST_KERNEL_PORTABLE);
    free(ref_a), free(ref_b), free(got_a), free(got_b);
    hst_session_free(alone_a);
    hst_session_free(alone_b);
    hst_pool_free(pool_a);
    hst_pool_free(pool_b);
    hst_model_free(m);
}

/* A pool's workers compute with their caller's kernel: a portable prefill
 * on 3 threads equals the one on 1 (with head_dim 16 and 64 rows, attention
 * rows and layer norms run on the workers, where AVX-512 would round
 * differently). */
static void test_workers_take_the_session_kernel(void **state)
{
    (void)state;
    hst_config cfg = {HST_ARCH_V4, 300, 64, 4, 4, 128, 2};
    hst_error herr = {{0}};
    hst_model *m = hst_model_random(&cfg, 3, &herr);
    assert_non_null(m);
    const int V = cfg.vocab_size, S = 64;
    int ids[64];
    prompt_ids(ids, S, V);
    float *logits[2];
    for (int i = 0; i < 2; i++) {
        hst_error err = {{0}};
        hst_pool *pool = hst_pool_create(i == 0 ? 1 : 3, NULL, NULL, &err);
        hst_pool_set_adaptive(pool, 0); /* every job on the whole team: the test compares thread counts */
        hst_session *s = hst_session_create(m, pool, &err);
        assert_int_equal(hst_session_set_kernel(s, HST_KERNEL_PORTABLE), HST_KERNEL_PORTABLE);
        logits[i] = malloc((size_t)S * V * sizeof(float));
        if (hst_forward(s, ids, S, logits[i], 1, &err) != 0)
            fail_msg("%s", err.msg);
        hst_session_free(s);
        hst_pool_free(pool);
    }
    assert_memory_equal(logits[0], logits[1], (size_t)S * V * sizeof(float));
    free(logits[0]);
    free(logits[1]);
    hst_model_free(m);
}

static void test_kernel_names_parse_back(void **state)
{
    (void)state;
    for (int k = HST_KERNEL_AUTO; k <= HST_KERNEL_AVX512; k++) {
        hst_kernel back = HST_KERNEL_AUTO;
        assert_int_equal(hst_kernel_from_name(hst_kernel_name((hst_kernel)k), &back), 0);
        assert_int_equal(back, k);
    }
    hst_kernel out = HST_KERNEL_AVX2;
    assert_int_equal(hst_kernel_from_name("avx1024", &out), -1);
    assert_int_equal(hst_kernel_from_name(NULL, &out), -1);
    assert_int_equal(out, HST_KERNEL_AVX2);
}

static void test_row_ops_match_double_references(void **state)
{
    (void)state;
    float x[48], g[48], b[48], y[48];
    for (int i = 0; i < 48; i++) {
        x[i] = (float)sin(i * 1.3) * 3;
        g[i] = 1.0f + 0.01f * i;
        b[i] = 0.1f * (i % 5);
    }
    hst_layernorm(x, g, b, y, 48);
    double mean = 0, var = 0;
    for (int i = 0; i < 48; i++)
        mean += x[i] / 48.0;
    for (int i = 0; i < 48; i++)
        var += (x[i] - mean) * (x[i] - mean) / 48.0;
    for (int i = 0; i < 48; i++)
        assert_true(fabs(y[i] - ((x[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i])) < 1e-5);
    assert_true(fabs(hst_gelu(1.0f) - 0.8413447460685429) < 1e-6); /* exact erf form */
    assert_true(fabs(hst_gelu(-2.0f) - (-0.04550026389635842)) < 1e-6);
    assert_true(hst_softplus(25.0f) == 25.0f); /* threshold 20 */
    assert_true(fabs(hst_softplus(0.0f) - log(2.0)) < 1e-6);
    assert_true(fabs(hst_sigmoid(0.0f) - 0.5) < 1e-7);
}

/* ---- forward pass (spec 4, 5) --------------------------------------------------------------- */

static void check_decode_equals_prefill(hst_model *m, int S, int first_chunk)
{
    const hst_config *c = hst_model_config(m);
    int *ids = malloc(sizeof(int) * S);
    prompt_ids(ids, S, c->vocab_size);
    float *full = prefill_logits(m, 2, ids, S);
    hst_error err = {{0}};
    hst_pool *pool = hst_pool_create(2, NULL, NULL, &err);
    hst_session *s = hst_session_create(m, pool, &err);
    float *step = malloc(sizeof(float) * c->vocab_size * first_chunk);
    double worst = 0;
    assert_int_equal(hst_forward(s, ids, first_chunk, step, 1, &err), 0);
    worst = max_abs_diff(step, full, (size_t)first_chunk * c->vocab_size);
    for (int t = first_chunk; t < S; t++) {
        assert_int_equal(hst_forward(s, &ids[t], 1, step, 0, &err), 0);
        double d = max_abs_diff(step, full + (size_t)t * c->vocab_size, (size_t)c->vocab_size);
        worst = d > worst ? d : worst;
    }
    if (worst > 1e-5)
        fail_msg("%s: decode differs from prefill by %g (first chunk %d)", hst_model_preset(m), worst, first_chunk);
    hst_session_free(s);
    hst_pool_free(pool);
    free(ids);
    free(full);
    free(step);
}

static void test_decode_matches_prefill_every_preset(void **state)
{
    (void)state;
    for (int i = 0; i < hst_preset_count(); i++) {
        hst_config cfg;
        assert_int_equal(hst_preset_config(hst_preset_name(i), &cfg), 0);
        if (!hst_arch_implemented(cfg.arch)) /* its forward fails by design until its core lands */
            continue;
        hst_model *m = preset_model(hst_preset_name(i), 1);
        check_decode_equals_prefill(m, 110, 1);  /* reaches processed positions 12, 36, 104 */
        check_decode_equals_prefill(m, 110, 37); /* chunked prefill, then decode */
        hst_model_free(m);
    }
}

static void test_logits_bit_identical_for_1_2_3_threads(void **state)
{
    (void)state;
    const char *names[] = {"hst-v4", "hst-v6.1"};
    for (int p = 0; p < 2; p++) {
        hst_model *m = preset_model(names[p], 3);
        int V = hst_model_config(m)->vocab_size, S = 130;
        int ids[130];
        prompt_ids(ids, S, V);
        float *one = prefill_logits(m, 1, ids, S);
        for (int threads = 2; threads <= 3; threads++) {
            float *other = prefill_logits(m, threads, ids, S);
            assert_memory_equal(one, other, sizeof(float) * S * V);
            free(other);
        }
        free(one);
        hst_model_free(m);
    }
}

static void generate(const hst_model *m, int threads, float temperature, int *out, int n)
{
    hst_error err = {{0}};
    hst_pool *pool = hst_pool_create(threads, NULL, NULL, &err);
    hst_session *s = hst_session_create(m, pool, &err);
    int V = hst_model_config(m)->vocab_size;
    float *logits = malloc(sizeof(float) * V);
    hst_sampler smp;
    hst_sampler_init(&smp, temperature, 40, 99);
    int prompt[20];
    prompt_ids(prompt, 20, V);
    assert_int_equal(hst_forward(s, prompt, 20, logits, 0, &err), 0);
    for (int i = 0; i < n; i++) {
        out[i] = hst_sample(&smp, logits, V);
        assert_int_equal(hst_forward(s, &out[i], 1, logits, 0, &err), 0);
    }
    free(logits);
    hst_session_free(s);
    hst_pool_free(pool);
}

static void test_tokens_identical_for_1_2_3_threads(void **state)
{
    (void)state;
    hst_model *m = preset_model("hst-v5.2", 0);
    int base[60], other[60];
    for (int greedy = 0; greedy < 2; greedy++) {
        generate(m, 1, greedy ? 0.0f : 0.9f, base, 60);
        for (int t = 2; t <= 3; t++) {
            generate(m, t, greedy ? 0.0f : 0.9f, other, 60);
            assert_memory_equal(base, other, sizeof base);
        }
    }
    hst_model_free(m);
}

static void test_forward_rejects_bad_ids_and_full_context(void **state)
{
    (void)state;
    hst_model *m = tiny_model(HST_ARCH_V4, 1);
    hst_error err = {{0}};
    hst_session *s = hst_session_create(m, NULL, &err);
    int bad[2] = {3, 300};
    assert_int_equal(hst_forward(s, bad, 2, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    assert_int_equal(hst_session_pos(s), 0); /* nothing consumed */
    int ids[128];
    prompt_ids(ids, 128, 300);
    assert_int_equal(hst_forward(s, ids, 128, NULL, 0, &err), 0);
    assert_int_equal(hst_forward(s, ids, 1, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "context full"));
    hst_session_reset(s);
    assert_int_equal(hst_forward(s, ids, 1, NULL, 0, &err), 0);
    hst_session_free(s);
    hst_model_free(m);
}

static void test_section_timers_and_flops(void **state)
{
    (void)state;
    hst_model *m = tiny_model(HST_ARCH_V4, 2);
    hst_error err = {{0}};
    hst_session *s = hst_session_create(m, NULL, &err);
    int n = hst_session_section_count(s);
    assert_int_equal(n, 1 + 2 + 1 + 2 + 1);
    assert_string_equal(hst_session_section_name(s, 0), "embed");
    assert_string_equal(hst_session_section_name(s, 1), "bottom.0");
    assert_string_equal(hst_session_section_name(s, 3), "lattice");
    assert_string_equal(hst_session_section_name(s, 5), "top.1");
    assert_string_equal(hst_session_section_name(s, 6), "head");
    hst_session_set_timing(s, 1);
    int ids[100];
    prompt_ids(ids, 100, 300);
    float *logits = malloc(sizeof(float) * 100 * 300);
    uint64_t t0 = hst_now_ns();
    assert_int_equal(hst_forward(s, ids, 100, logits, 1, &err), 0);
    uint64_t wall = hst_now_ns() - t0, ns[7], sum = 0;
    double flops[7], fsum = 0;
    hst_session_last_section_ns(s, ns);
    hst_session_last_section_flops(s, flops);
    for (int i = 0; i < n; i++) {
        sum += ns[i];
        fsum += flops[i];
    }
    assert_true(sum > 0 && sum <= wall);
    assert_true(ns[1] > 0 && ns[3] > 0);
    /* The sections' FLOPs add up to spec 11's per-token figure times S. */
    double want = hst_flops_prefill_per_token(hst_model_config(m), HST_MODE_CAUSAL, 100) * 100;
    assert_true(fabs(fsum - want) < 1e-6 * want);
    free(logits);
    hst_session_free(s);
    hst_model_free(m);
}

/* ---- sampling and hashing -------------------------------------------------------------------- */

static void test_sampler_rules(void **state)
{
    (void)state;
    float logits[6] = {0.1f, 2.0f, 2.0f, -1.0f, 1.9f, 0.0f};
    assert_int_equal(hst_argmax(logits, 6), 1); /* lowest index on ties */
    hst_sampler smp;
    hst_sampler_init(&smp, 0.0f, 0, 1);
    assert_int_equal(hst_sample(&smp, logits, 6), 1);
    hst_sampler_init(&smp, 1.0f, 3, 1);
    int seen[6] = {0};
    for (int i = 0; i < 2000; i++)
        seen[hst_sample(&smp, logits, 6)]++;
    assert_int_equal(seen[0] + seen[3] + seen[5], 0); /* only the top 3 */
    assert_true(seen[1] > 300 && seen[2] > 300 && seen[4] > 300);
    hst_sampler a, b;
    hst_sampler_init(&a, 0.7f, 0, 42);
    hst_sampler_init(&b, 0.7f, 0, 42);
    for (int i = 0; i < 100; i++)
        assert_int_equal(hst_sample(&a, logits, 6), hst_sample(&b, logits, 6));
}

static void test_tokens_hash_is_fnv1a(void **state)
{
    (void)state;
    assert_true(hst_tokens_hash(NULL, 0) == 0xcbf29ce484222325ull);
    int one = 0x61; /* bytes 61 00 00 00 */
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char bytes[4] = {0x61, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        h ^= bytes[i];
        h *= 0x100000001b3ull;
    }
    assert_true(hst_tokens_hash(&one, 1) == h);
}

static void test_quality_hash_stable_across_threads(void **state)
{
    (void)state;
    hst_model *m = preset_model("hst-v4", 0);
    uint64_t hashes[3];
    int tokens[3][HST_QUALITY_TOKENS];
    for (int t = 1; t <= 3; t++) {
        hst_error err = {{0}};
        hst_pool *pool = hst_pool_create(t, NULL, NULL, &err);
        hst_pool_set_adaptive(pool, 0); /* every job on the whole team: the test compares thread counts */
        hst_session *s = hst_session_create(m, pool, &err);
        assert_int_equal(hst_quality_hash(s, &hashes[t - 1], tokens[t - 1], &err), 0);
        assert_int_equal(hst_session_pos(s), 0);
        hst_session_free(s);
        hst_pool_free(pool);
    }
    assert_true(hashes[0] == hashes[1] && hashes[1] == hashes[2]);
    assert_true(hashes[0] == hst_tokens_hash(tokens[0], HST_QUALITY_TOKENS));
    hst_model_free(m);
}

/* ---- thread pool ------------------------------------------------------------------------------ */

typedef struct {
    int *hits;
} pool_ctx;

static void mark_task(void *ctx, int task)
{
    __atomic_fetch_add(&((pool_ctx *)ctx)->hits[task], 1, __ATOMIC_RELAXED);
}

static int starts[8];
static void count_start(int index, void *user)
{
    (void)user;
    __atomic_fetch_add(&starts[index], 1, __ATOMIC_RELAXED);
}

static void test_pool_runs_every_task_once_and_reports_threads(void **state)
{
    (void)state;
    hst_error err = {{0}};
    memset(starts, 0, sizeof starts);
    hst_pool *p = hst_pool_create(3, count_start, NULL, &err);
    assert_non_null(p);
    for (int i = 0; i < 3; i++)
        assert_int_equal(starts[i], 1);
    int hits[1000];
    pool_ctx ctx = {hits};
    for (int round = 0; round < 200; round++) {
        memset(hits, 0, sizeof hits);
        hst_pool_run(p, 1 + round * 5 % 1000, mark_task, &ctx);
        for (int i = 0; i < 1 + round * 5 % 1000; i++)
            assert_int_equal(hits[i], 1);
    }
    assert_true(hst_pool_thread_tid(p, 0) > 0);
    assert_true(hst_pool_thread_tid(p, 1) != hst_pool_thread_tid(p, 2));
    assert_true(hst_pool_thread_cpu(p, 0) >= 0);
    assert_int_equal(hst_pool_thread_tid(p, 3), -1);
    hst_pool_free(p);
    assert_null(hst_pool_create(0, NULL, NULL, &err));
    assert_non_null(strstr(err.msg, "threads"));
}

/* A job of more tasks than one range word holds (pool.c runs it in slices). */
static void test_pool_runs_every_task_of_a_big_job_once(void **state)
{
    (void)state;
    hst_error err = {{0}};
    hst_pool *p = hst_pool_create(2, NULL, NULL, &err);
    assert_non_null(p);
    enum { BIG = 70001 };
    int *hits = calloc(BIG, sizeof *hits);
    assert_non_null(hits);
    pool_ctx ctx = {hits};
    hst_pool_run(p, BIG, mark_task, &ctx);
    for (int i = 0; i < BIG; i++)
        assert_int_equal(hits[i], 1);
    free(hits);
    hst_pool_free(p);
}

/* A job whose worker task is held up (as a descheduled worker would be):
 * the calling thread's task waits until the worker has taken its own, so the
 * caller then has nothing left to steal and must wait for it. */
static _Thread_local int on_caller_thread;
static int worker_started;

static void straggler_task(void *ctx, int task)
{
    (void)ctx;
    (void)task;
    if (on_caller_thread) {
        while (!__atomic_load_n(&worker_started, __ATOMIC_ACQUIRE))
            ;
        return;
    }
    __atomic_store_n(&worker_started, 1, __ATOMIC_RELEASE);
    struct timespec held = {0, 20 * 1000 * 1000};
    nanosleep(&held, NULL);
}

/* The opposite: the caller's tasks are the slow ones (2 ms each) and the
 * worker's instant, so the team finishes well before the caller alone would. */
static void slow_caller_task(void *ctx, int task)
{
    (void)ctx;
    (void)task;
    if (!on_caller_thread)
        return;
    struct timespec held = {0, 2 * 1000 * 1000};
    nanosleep(&held, NULL);
}

/* A mildly slow team: the caller's task takes 4 ms (8 ms for both alone),
 * the worker's ends 10 ms after the job starts, so the team takes about 5/4
 * of the caller's time: slower, but not far slower. */
static struct timespec mild_job_start;

static void mildly_slow_team_task(void *ctx, int task)
{
    (void)ctx;
    (void)task;
    if (on_caller_thread) {
        uint64_t t0 = hst_now_ns();
        while (hst_now_ns() - t0 < 4000000)
            ;
        return;
    }
    struct timespec until = mild_job_start;
    until.tv_nsec += 10 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) != 0)
        ;
}

/* Runs up to jobs mildly slow team jobs, until the pool goes solo when
 * until_solo; returns how many ran. */
static int run_mildly_slow_team_jobs(hst_pool *p, int jobs, int until_solo)
{
    hst_pool_contention_stats st;
    for (int i = 0; i < jobs; i++) {
        clock_gettime(CLOCK_MONOTONIC, &mild_job_start);
        hst_pool_run(p, 2, mildly_slow_team_task, NULL);
        hst_pool_contention(p, &st);
        if (until_solo && st.solo_now)
            return i + 1;
    }
    return jobs;
}

static int run_straggler_jobs(hst_pool *p, int jobs)
{
    hst_pool_contention_stats st;
    for (int i = 0; i < jobs; i++) {
        __atomic_store_n(&worker_started, 0, __ATOMIC_RELEASE);
        hst_pool_run(p, 2, straggler_task, NULL);
        hst_pool_contention(p, &st);
        if (st.solo_now)
            return i + 1;
    }
    return jobs;
}

/* A pool of two threads for the contention tests, called from the caller thread. */
static hst_pool *two_thread_pool(void)
{
    hst_error err = {{0}};
    on_caller_thread = 1;
    hst_pool *p = hst_pool_create(2, NULL, NULL, &err);
    assert_non_null(p);
    return p;
}

static void test_pool_runs_solo_after_workers_stall_and_says_so(void **state)
{
    (void)state;
    hst_pool *p = two_thread_pool();
    /* Solo after two windows: the first job opens one, 16 close each. */
    assert_true(run_straggler_jobs(p, 64) <= 33);
    hst_pool_contention_stats st;
    hst_pool_contention(p, &st);
    assert_int_equal(st.solo_now, 1);
    assert_true(st.solo_periods >= 1);
    assert_true(st.stalls >= 1);
    /* Solo: the caller runs every task, the straggling worker none. */
    int hits[8] = {0};
    pool_ctx ctx = {hits};
    hst_pool_run(p, 8, mark_task, &ctx);
    for (int i = 0; i < 8; i++)
        assert_int_equal(hits[i], 1);
    uint64_t solo_before = st.jobs_solo;
    hst_pool_contention(p, &st);
    assert_int_equal(st.jobs_solo, solo_before + 1);
    hst_pool_free(p);
}

/* One window in which the team is somewhat slower than the caller alone,
 * between windows in which it beats it, is a burst, not a competitor: the
 * pool keeps its team. Two such windows in a row are a competitor. */
static void test_pool_keeps_the_team_through_a_lone_slow_window(void **state)
{
    (void)state;
    hst_pool *p = two_thread_pool();
    hst_pool_contention_stats st;
    /* Good jobs of 16 tasks: the worker has half of them to steal even if
     * it wakes late on a loaded machine. */
    hst_pool_run(p, 16, slow_caller_task, NULL); /* opens the first window */
    for (int burst = 0; burst < 2; burst++) {
        run_mildly_slow_team_jobs(p, 16, 0);
        for (int i = 0; i < 16; i++)
            hst_pool_run(p, 16, slow_caller_task, NULL);
        hst_pool_contention(p, &st);
        assert_int_equal(st.solo_now, 0);
    }
    assert_int_equal(st.solo_periods, 0);
    /* Two slow windows in a row (a worker that wakes too late to take its
     * task makes a window even, so a loaded machine may need a few). */
    assert_true(run_mildly_slow_team_jobs(p, 160, 1) < 160);
    hst_pool_contention(p, &st);
    assert_int_equal(st.solo_periods, 1);
    assert_int_equal(st.solo_now, 1);
    hst_pool_free(p);
}

/* The caller's tasks compute for *(const long *)ctx microseconds, the
 * worker's are instant (as slow_caller_task): the team is never slower than
 * the caller alone, however late the worker on a loaded machine. */
static void caller_timed_task(void *ctx, int task)
{
    (void)task;
    if (!on_caller_thread)
        return;
    uint64_t t0 = hst_now_ns(), ns = (uint64_t)*(const long *)ctx * 1000;
    while (hst_now_ns() - t0 < ns)
        ;
}

/* Jobs of one function and task count whose tasks differ in size (a
 * decode step's matmuls of two weights) are told apart by their shape: the
 * big jobs are judged by the caller's time on big tasks, not on the small
 * ones (by those, two big tasks would take the caller alone 0.2 ms, and a
 * team taking 2 ms would look ten times slower). The remembered times are
 * checked, not the pool's verdict, which a loaded machine may change. */
static void test_pool_judges_each_job_shape_by_its_own_tasks(void **state)
{
    (void)state;
    hst_pool *p = two_thread_pool();
    long small_us = 100, big_us = 2000;
    for (int i = 0; i < 20; i++) {
        hst_pool_run_shaped(p, 2, caller_timed_task, &small_us, 1);
        hst_pool_run_shaped(p, 2, caller_timed_task, &big_us, 2);
    }
    uint64_t small_ns = hst_pool_task_ns(p, caller_timed_task, 2, 1);
    uint64_t big_ns = hst_pool_task_ns(p, caller_timed_task, 2, 2);
    assert_true(big_ns >= (uint64_t)big_us * 1000); /* a task computes that long, wherever it runs */
    assert_true(small_ns > 0 && small_ns < big_ns);
    hst_pool_free(p);
}

/* A two-task job whose costs depend on where the tasks run: on the caller,
 * task 0 computes for caller_us and task 1 for alone_us (its data would be
 * in the other core's cache); on the worker, task 1 ends worker_end_us after
 * the job starts. */
static struct {
    struct timespec start;
    long caller_us, alone_us, worker_end_us;
    int worker_must_run;
} placed;

static void spin_us(long us)
{
    uint64_t t0 = hst_now_ns();
    while (hst_now_ns() - t0 < (uint64_t)us * 1000)
        ;
}

static void placed_task(void *ctx, int task)
{
    const hst_pool *pool = ctx;
    if (on_caller_thread) {
        spin_us(task == 0 ? placed.caller_us : placed.alone_us);
        hst_pool_contention_stats st;
        hst_pool_contention(pool, &st);
        /* On the team, the worker takes task 1 however late it wakes (as
         * straggler_task): the caller cannot steal it. */
        while (task == 0 && placed.worker_must_run && !st.solo_now &&
               !__atomic_load_n(&worker_started, __ATOMIC_ACQUIRE))
            ;
        return;
    }
    __atomic_store_n(&worker_started, 1, __ATOMIC_RELEASE);
    struct timespec until = placed.start;
    until.tv_nsec += placed.worker_end_us * 1000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) != 0)
        ;
}

static void place_tasks(long caller_us, long alone_us, long worker_end_us, int worker_must_run)
{
    placed.caller_us = caller_us;
    placed.alone_us = alone_us;
    placed.worker_end_us = worker_end_us;
    placed.worker_must_run = worker_must_run;
}

static void run_placed_jobs(hst_pool *p, int jobs)
{
    for (int i = 0; i < jobs; i++) {
        __atomic_store_n(&worker_started, 0, __ATOMIC_RELEASE);
        clock_gettime(CLOCK_MONOTONIC, &placed.start);
        hst_pool_run(p, 2, placed_task, p);
    }
}

/* The team takes 0.15 ms a job where the caller's rate says 0.1 (slower
 * than the estimate, window after window), but alone the caller takes
 * 5.05 ms (so that a worker late by a few milliseconds on a loaded machine
 * does not change the verdict): each solo period ends at its first window,
 * and the pool spends most jobs on the team. */
static void test_pool_returns_to_a_team_that_beats_the_caller_alone(void **state)
{
    (void)state;
    hst_pool *p = two_thread_pool();
    place_tasks(50, 5000, 150, 1);
    run_placed_jobs(p, 300);
    hst_pool_contention_stats st;
    hst_pool_contention(p, &st);
    assert_true(st.solo_periods >= 1);
    assert_true(st.solo_reverts >= 1);
    assert_true(st.jobs_solo * 3 <= st.jobs);
    hst_pool_free(p);
}

/* A worker held up 3 ms a job (a competitor has its core) while the caller
 * alone takes 0.2 ms: solo mode's first window confirms it and the pool
 * stays solo. */
static void test_pool_stays_solo_when_the_caller_alone_is_faster(void **state)
{
    (void)state;
    hst_pool *p = two_thread_pool();
    place_tasks(100, 100, 3000, 1);
    hst_pool_contention_stats st;
    int jobs = 0;
    do {
        run_placed_jobs(p, 1);
        hst_pool_contention(p, &st);
    } while (!st.solo_now && ++jobs < 200);
    assert_int_equal(st.solo_now, 1);
    run_placed_jobs(p, 40); /* 8 ms alone: past solo mode's first window */
    hst_pool_contention(p, &st);
    assert_true(st.jobs_solo >= 16);
    assert_int_equal(st.solo_reverts, 0);
    hst_pool_free(p);
}

static void test_pool_keeps_the_team_when_not_adaptive(void **state)
{
    (void)state;
    hst_pool *p = two_thread_pool();
    hst_pool_set_adaptive(p, 0);
    assert_int_equal(run_straggler_jobs(p, 24), 24);
    hst_pool_contention_stats st;
    hst_pool_contention(p, &st);
    assert_int_equal(st.solo_now, 0);
    assert_int_equal(st.jobs_solo, 0);
    assert_int_equal(st.jobs, 24);
    assert_true(st.stalls >= 1);
    hst_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spine_three_term_values),
        cmocka_unit_test(test_spine_ancestor_table_order),
        cmocka_unit_test(test_preset_counts_match_spec),
        cmocka_unit_test(test_flops_table_matches_spec),
        cmocka_unit_test(test_config_constraints_rejected),
        cmocka_unit_test(test_random_init_is_seeded_and_follows_spec),
        cmocka_unit_test(test_matmul_matches_naive_on_every_kernel),
        cmocka_unit_test(test_sessions_keep_their_own_kernel_side_by_side),
        cmocka_unit_test(test_workers_take_the_session_kernel),
        cmocka_unit_test(test_kernel_names_parse_back),
        cmocka_unit_test(test_row_ops_match_double_references),
        cmocka_unit_test(test_decode_matches_prefill_every_preset),
        cmocka_unit_test(test_logits_bit_identical_for_1_2_3_threads),
        cmocka_unit_test(test_tokens_identical_for_1_2_3_threads),
        cmocka_unit_test(test_forward_rejects_bad_ids_and_full_context),
        cmocka_unit_test(test_section_timers_and_flops),
        cmocka_unit_test(test_sampler_rules),
        cmocka_unit_test(test_tokens_hash_is_fnv1a),
        cmocka_unit_test(test_quality_hash_stable_across_threads),
        cmocka_unit_test(test_pool_runs_every_task_once_and_reports_threads),
        cmocka_unit_test(test_pool_runs_every_task_of_a_big_job_once),
        cmocka_unit_test(test_pool_runs_solo_after_workers_stall_and_says_so),
        cmocka_unit_test(test_pool_keeps_the_team_through_a_lone_slow_window),
        cmocka_unit_test(test_pool_judges_each_job_shape_by_its_own_tasks),
        cmocka_unit_test(test_pool_returns_to_a_team_that_beats_the_caller_alone),
        cmocka_unit_test(test_pool_stays_solo_when_the_caller_alone_is_faster),
        cmocka_unit_test(test_pool_keeps_the_team_when_not_adaptive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
