/* test_lattice.c — the spines and the lattice core (spec 2, 4.4, 11, 12.E.2.6,
 * 12.E.5) as engine/lattice.h offers them to Cores A, B, D and E: the 2-term
 * spine and its level lists against the spec table, the reachable levels,
 * the FLOPs, and the lattice on both spines against an independent double
 * implementation of spec 4.4, whatever the split of the rows into calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/lattice.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the spines (spec 2) --------------------------------------------------------- */

static void test_two_term_spine_values(void **state)
{
    (void)state;
    static const int64_t full[] = {0, 2, 4, 10, 24, 58, 140, 338, 816, 1970, 4756};
    int64_t s[HST_SPINE_MAX];
    assert_int_equal(hst_spine_of(HST_SPINE_2TERM, 8192, s), 11);
    for (int i = 0; i < 11; i++)
        assert_int_equal(s[i], full[i]);
    assert_int_equal(hst_spine_of(HST_SPINE_2TERM, 512, s), 8); /* 12.E.2.6: ..., 140, 338 */
    assert_int_equal(s[7], 338);
    assert_int_equal(hst_spine_of(HST_SPINE_2TERM, 338, s), 7); /* a spine position is < Lmax */
    assert_int_equal(hst_spine_of(HST_SPINE_2TERM, 1, s), 3);   /* always 0, 2, 4 */
    assert_int_equal(hst_spine_of(HST_SPINE_3TERM, 8192, s), 10);
    assert_int_equal(s[9], 7568);
}

/* Spec 2's 2-term table, as printed: position, then its levels in order. */
static const struct {
    int pos, m;
    int count[5];
    int levels[5][2];
} two_term_table[] = {
    {4, 1, {2}, {{0, 2}}},
    {10, 2, {2, 1}, {{2, 4}, {0}}},
    {24, 2, {2, 2}, {{10, 4}, {0, 2}}},
    {58, 3, {2, 2, 1}, {{24, 10}, {2, 4}, {0}}},
    {140, 3, {2, 2, 2}, {{24, 58}, {10, 4}, {0, 2}}},
    {338, 4, {2, 2, 2, 1}, {{58, 140}, {24, 10}, {2, 4}, {0}}},
    {816, 4, {2, 2, 2, 2}, {{338, 140}, {24, 58}, {10, 4}, {0, 2}}},
    {1970, 5, {2, 2, 2, 2, 1}, {{816, 338}, {58, 140}, {24, 10}, {2, 4}, {0}}},
    {4756, 5, {2, 2, 2, 2, 2}, {{816, 1970}, {338, 140}, {24, 58}, {10, 4}, {0, 2}}},
};
#define TWO_TERM_ROWS (sizeof two_term_table / sizeof two_term_table[0])

static void test_two_term_levels_match_spec_table(void **state)
{
    (void)state;
    for (size_t r = 0; r < TWO_TERM_ROWS; r++) {
        hst_spine_ancestors a;
        int m = hst_spine_ancestors_of(HST_SPINE_2TERM, two_term_table[r].pos, &a);
        assert_int_equal(m, two_term_table[r].m);
        assert_int_equal(a.m, m);
        for (int l = 0; l < m; l++) {
            assert_int_equal(a.count[l], two_term_table[r].count[l]);
            for (int j = 0; j < a.count[l]; j++)
                if (a.pos[l][j] != two_term_table[r].levels[l][j])
                    fail_msg("position %d, level %d, entry %d: %d, the spec says %d", two_term_table[r].pos, l + 1,
                             j, a.pos[l][j], two_term_table[r].levels[l][j]);
        }
    }
    /* 0 and 2 have no ancestors; 12 is a 3-term position only; 5 is no spine position. */
    const int none[] = {0, 2, 12, 5, 8191};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        hst_spine_ancestors a;
        assert_int_equal(hst_spine_ancestors_of(HST_SPINE_2TERM, none[i], &a), 0);
    }
}

static void test_three_term_levels_keep_the_spec_order(void **state)
{
    (void)state;
    hst_spine_ancestors a;
    assert_int_equal(hst_spine_ancestors_of(HST_SPINE_3TERM, 7568, &a), 3);
    const int want[3][3] = {{2592, 304, 888}, {104, 36, 12}, {0, 2, 4}};
    for (int l = 0; l < 3; l++)
        for (int j = 0; j < 3; j++)
            assert_int_equal(a.pos[l][j], want[l][j]);
    assert_int_equal(hst_spine_ancestors_of(HST_SPINE_3TERM, 4, &a), 0); /* 4 is never updated (3-term) */
    assert_int_equal(hst_spine_ancestors_of(HST_SPINE_3TERM, 10, &a), 0);
}

static void test_reachable_levels_follow_lmax(void **state)
{
    (void)state;
    /* 12.E.1 / 12.E.2.6: Lmax 512 reaches m = 1..4 (4, 10, 24, 58, 140, 338). */
    assert_int_equal(hst_spine_reachable_levels(HST_SPINE_2TERM, 512), 0x1e);
    assert_int_equal(hst_spine_reachable_levels(HST_SPINE_2TERM, 8192), 0x3e);
    assert_int_equal(hst_spine_reachable_levels(HST_SPINE_2TERM, 5), 0x2);
    assert_int_equal(hst_spine_reachable_levels(HST_SPINE_2TERM, 4), 0);
    /* Spec 7: m in {1, 2} up to Lmax 888, {1, 2, 3} above. */
    assert_int_equal(hst_spine_reachable_levels(HST_SPINE_3TERM, 512), 0x6);
    assert_int_equal(hst_spine_reachable_levels(HST_SPINE_3TERM, 888), 0x6);
    assert_int_equal(hst_spine_reachable_levels(HST_SPINE_3TERM, 889), 0xe);
    assert_int_equal(hst_spine_reachable_levels(HST_SPINE_3TERM, 12), 0);
}

/* n_p of 12.E.5 (2-term) and spec 11 (3-term): 16D²(1 + n_p) at each processed position. */
static void test_spine_update_flops_match_spec(void **state)
{
    (void)state;
    const int D = 128;
    const double D2 = 16.0 * D * D;
    static const int two[][2] = {{4, 2}, {10, 3}, {24, 4}, {58, 5}, {140, 6}, {338, 7}, {816, 8}, {1970, 9},
                                 {4756, 10}};
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
        assert_true(hst_lattice_spine_flops(HST_SPINE_2TERM, D, 1, two[i][0]) == D2 * (1 + two[i][1]));
    static const int three[][2] = {{12, 3}, {36, 4}, {104, 5}, {304, 6}, {888, 7}, {2592, 8}, {7568, 9}};
    for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
        assert_true(hst_lattice_spine_flops(HST_SPINE_3TERM, D, 1, three[i][0]) == D2 * (1 + three[i][1]));
    assert_true(hst_lattice_spine_flops(HST_SPINE_2TERM, D, 1, 2) == 0);
    /* A prefill of 128 rows: processed 4, 10, 24, 58 (2-term), 12, 36, 104 (3-term). */
    assert_true(hst_lattice_spine_flops(HST_SPINE_2TERM, D, 128, 0) == D2 * (3 + 4 + 5 + 6));
    assert_true(hst_lattice_flops(HST_SPINE_3TERM, D, 128, 0) == D2 * 128 + D2 * (4 + 5 + 6));
    assert_true(hst_lattice_flops(HST_SPINE_3TERM, D, 10, 100) == D2 * 10 + D2 * 6);
}

/* ---- the lattice against a reference (spec 4.4) ------------------------------------ */

#define D_TEST 32
#define LMAX_TEST 400 /* 2-term spine up to 338 (m = 4), 3-term up to 304 */

typedef struct {
    hst_model *m;
    const hst_config *cfg;
} fixture;

/* A Core A model: its lattice_core tensors have the names and shapes of
 * every lattice (4.6), all ten level transforms included. */
static int setup(void **state)
{
    static fixture f;
    hst_config cfg = {HST_ARCH_V4, 50, D_TEST, 4, 2, LMAX_TEST, 1};
    hst_error err = {{0}};
    f.m = hst_model_random(&cfg, 11, &err);
    if (!f.m)
        return -1;
    f.cfg = hst_model_config(f.m);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    hst_model_free(f->m);
    return 0;
}

static const float *w(const fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const float *w(const fixture *f, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const float *p = hst_model_tensor_data(f->m, name, NULL);
    if (!p)
        fail_msg("no tensor %s", name);
    return p;
}

/* y = W·x + b in double; W [n, k] row-major, b may be NULL. */
static void ref_linear(const float *W, const float *b, const double *x, int n, int k, double *y)
{
    for (int i = 0; i < n; i++) {
        double acc = b ? b[i] : 0;
        for (int j = 0; j < k; j++)
            acc += (double)W[(size_t)i * k + j] * x[j];
        y[i] = acc;
    }
}

static void ref_layernorm(double *x, const float *g, const float *b, int n)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    for (int i = 0; i < n; i++)
        x[i] = (x[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i];
}

static double ref_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double ref_sigmoid(double x) { return 1 / (1 + exp(-x)); }

/* w(c) of the path-weighted branch. */
static double ref_path_weight(const fixture *f, double c)
{
    const float *u1 = w(f, "lattice_core.path_weighted.path_weight_net.0.weight");
    const float *b1 = w(f, "lattice_core.path_weighted.path_weight_net.0.bias");
    const float *u2 = w(f, "lattice_core.path_weighted.path_weight_net.2.weight");
    const float *b2 = w(f, "lattice_core.path_weighted.path_weight_net.2.bias");
    double acc = b2[0];
    for (int i = 0; i < 64; i++) {
        double h = u1[i] * c + b1[i];
        acc += u2[i] * (h > 0 ? h : 0);
    }
    return acc > 20 ? acc : log1p(exp(acc));
}

static void ref_multi_level(const fixture *f, double R[][D_TEST], const int *deep, int n_deep, int m, const double *xp,
                            double *hm)
{
    const int D = D_TEST;
    double mean[D_TEST] = {0}, t[D_TEST], u[D_TEST], v[D_TEST], cat[2 * D_TEST];
    for (int i = 0; i < n_deep; i++)
        for (int d = 0; d < D; d++)
            mean[d] += R[deep[i]][d] / n_deep;
    const char *ml = "lattice_core.multi_level";
    ref_linear(w(f, "%s.level_transforms.%d.0.weight", ml, m), w(f, "%s.level_transforms.%d.0.bias", ml, m), mean, D,
               D, t);
    ref_layernorm(t, w(f, "%s.level_transforms.%d.1.weight", ml, m), w(f, "%s.level_transforms.%d.1.bias", ml, m), D);
    for (int d = 0; d < D; d++)
        t[d] = ref_gelu(t[d]);
    ref_linear(w(f, "%s.level_transforms.%d.3.weight", ml, m), w(f, "%s.level_transforms.%d.3.bias", ml, m), t, D,
               D, u);
    ref_linear(w(f, "%s.level_attention.in_proj_weight", ml) + 2 * D * D,
               w(f, "%s.level_attention.in_proj_bias", ml) + 2 * D, u, D, D, v);
    ref_linear(w(f, "%s.level_attention.out_proj.weight", ml), w(f, "%s.level_attention.out_proj.bias", ml), v, D, D,
               cat);
    memcpy(cat + D, xp, sizeof(double) * D);
    ref_linear(w(f, "%s.fusion.0.weight", ml), w(f, "%s.fusion.0.bias", ml), cat, D, 2 * D, hm);
    ref_layernorm(hm, w(f, "%s.fusion.1.weight", ml), w(f, "%s.fusion.1.bias", ml), D);
}

static void ref_gru(const fixture *f, const double *in, double *h)
{
    const int D = D_TEST;
    const char *pw = "lattice_core.path_weighted.aggregate_fn";
    double gi[3 * D_TEST], gh[3 * D_TEST];
    ref_linear(w(f, "%s.weight_ih_l0", pw), w(f, "%s.bias_ih_l0", pw), in, 3 * D, D, gi);
    ref_linear(w(f, "%s.weight_hh_l0", pw), w(f, "%s.bias_hh_l0", pw), h, 3 * D, D, gh);
    for (int d = 0; d < D; d++) {
        double r = ref_sigmoid(gi[d] + gh[d]), z = ref_sigmoid(gi[D + d] + gh[D + d]);
        double n = tanh(gi[2 * D + d] + r * gh[2 * D + d]);
        h[d] = (1 - z) * n + z * h[d];
    }
}

static void ref_path_weighted(const fixture *f, double R[][D_TEST], const hst_spine_ancestors *a, const double *xp,
                              double *hp)
{
    const int D = D_TEST;
    const char *pw = "lattice_core.path_weighted";
    double g[D_TEST] = {0}, cat[2 * D_TEST], msg[D_TEST], z[D_TEST];
    for (int l = 0; l < a->m; l++) {
        double weight = ref_path_weight(f, l == a->m - 1 ? 1.0 : 0.0);
        for (int j = 0; j < a->count[l]; j++) {
            memcpy(cat, R[a->pos[l][j]], sizeof(double) * D);
            memcpy(cat + D, xp, sizeof(double) * D);
            ref_linear(w(f, "%s.message_fn.0.weight", pw), w(f, "%s.message_fn.0.bias", pw), cat, D, 2 * D, msg);
            ref_layernorm(msg, w(f, "%s.message_fn.1.weight", pw), w(f, "%s.message_fn.1.bias", pw), D);
            for (int d = 0; d < D; d++)
                msg[d] = weight * ref_gelu(msg[d]);
            ref_gru(f, msg, g);
        }
    }
    memcpy(cat, g, sizeof(double) * D);
    memcpy(cat + D, xp, sizeof(double) * D);
    ref_linear(w(f, "%s.update_gate.0.weight", pw), w(f, "%s.update_gate.0.bias", pw), cat, D, 2 * D, z);
    for (int d = 0; d < D; d++) {
        double s = ref_sigmoid(z[d]);
        hp[d] = s * g[d] + (1 - s) * xp[d];
    }
}

/* Spec 4.4 on rows x [n][D] at positions 0..n-1 with the levels of the spec
 * table (the 2-term table above, or the engine's 3-term one). */
static void ref_lattice(const fixture *f, hst_spine_kind kind, const float *x, int n, float *y)
{
    const int D = D_TEST;
    double (*R)[D_TEST] = calloc((size_t)n, sizeof *R);
    double *cat = calloc((size_t)3 * D, sizeof *cat), hidden[2 * D_TEST], out[D_TEST];
    assert_non_null(R);
    assert_non_null(cat);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < D; d++)
            R[i][d] = x[(size_t)i * D + d]; /* R[p] = x_p: only spine p are ever read */
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++)
            memcpy(cat + k * D, R[i], sizeof(double) * D);
        hst_spine_ancestors a = {0};
        if (kind == HST_SPINE_2TERM) {
            for (size_t r = 0; r < TWO_TERM_ROWS; r++)
                if (two_term_table[r].pos == i) {
                    a.m = two_term_table[r].m;
                    for (int l = 0; l < a.m; l++) {
                        a.count[l] = two_term_table[r].count[l];
                        memcpy(a.pos[l], two_term_table[r].levels[l], sizeof two_term_table[r].levels[l]);
                    }
                }
        } else {
            hst_spine_ancestors_of(kind, i, &a);
        }
        if (a.m > 0) {
            ref_multi_level(f, R, a.pos[a.m - 1], a.count[a.m - 1], a.m, R[i], cat + D);
            ref_path_weighted(f, R, &a, R[i], cat + 2 * D);
        }
        ref_linear(w(f, "lattice_core.meta_fusion.0.weight"), w(f, "lattice_core.meta_fusion.0.bias"), cat, 2 * D,
                   3 * D, hidden);
        ref_layernorm(hidden, w(f, "lattice_core.meta_fusion.1.weight"), w(f, "lattice_core.meta_fusion.1.bias"),
                      2 * D);
        for (int d = 0; d < 2 * D; d++)
            hidden[d] = ref_gelu(hidden[d]);
        ref_linear(w(f, "lattice_core.meta_fusion.3.weight"), w(f, "lattice_core.meta_fusion.3.bias"), hidden, D,
                   2 * D, out);
        for (int d = 0; d < D; d++)
            y[(size_t)i * D + d] = (float)out[d];
    }
    free(R);
    free(cat);
}

static float *random_rows(int n, uint64_t seed)
{
    float *x = malloc(sizeof(float) * (size_t)n * D_TEST);
    assert_non_null(x);
    uint64_t rng[4];
    hst_rng_seed(rng, seed);
    for (int i = 0; i < n * D_TEST; i++)
        x[i] = (float)(4.0 * hst_rng_uniform(rng) - 2.0);
    return x;
}

/* The engine's lattice over rows 0..n-1, in calls of the sizes in chunks (cycled). */
static float *engine_lattice(const fixture *f, hst_spine_kind kind, const float *x, int n, const int *chunks,
                             int n_chunks, double *flops)
{
    hst_error err = {{0}};
    hst_resolver r = {f->m, &err, 0, HST_PRECISION_F32};
    hst_lattice *lat = hst_lattice_build(&r, "lattice_core.", kind);
    if (!lat)
        fail_msg("%s", err.msg);
    hst_lattice_state *st = hst_lattice_state_create(kind, D_TEST, LMAX_TEST, n);
    assert_non_null(st);
    float *y = malloc(sizeof(float) * (size_t)n * D_TEST);
    assert_non_null(y);
    memcpy(y, x, sizeof(float) * (size_t)n * D_TEST);
    *flops = 0;
    for (int t0 = 0, c = 0; t0 < n; c++) {
        int k = chunks[c % n_chunks] < n - t0 ? chunks[c % n_chunks] : n - t0;
        *flops += hst_lattice_run(lat, st, NULL, y + (size_t)t0 * D_TEST, k, t0);
        t0 += k;
    }
    hst_lattice_state_free(st);
    hst_lattice_free(lat);
    return y;
}

static void check_lattice_against_reference(const fixture *f, hst_spine_kind kind, int n)
{
    float *x = random_rows(n, 5 + (uint64_t)kind);
    float *want = malloc(sizeof(float) * (size_t)n * D_TEST);
    assert_non_null(want);
    ref_lattice(f, kind, x, n, want);
    const int whole[] = {n}, split[] = {1, 3, 7, 50};
    double flops_whole, flops_split;
    float *a = engine_lattice(f, kind, x, n, whole, 1, &flops_whole);
    float *b = engine_lattice(f, kind, x, n, split, 4, &flops_split);
    double worst = 0, scale = 0;
    for (int i = 0; i < n * D_TEST; i++) {
        worst = fmax(worst, fabs((double)a[i] - want[i]));
        scale = fmax(scale, fabs((double)want[i]));
    }
    if (worst > 1e-5 * (1 + scale))
        fail_msg("lattice (%s spine) differs from the reference by %g (|y| <= %g)",
                 kind == HST_SPINE_2TERM ? "2-term" : "3-term", worst, scale);
    /* Split invariance (spec 12.0): the same bits whatever the calls. */
    assert_memory_equal(a, b, sizeof(float) * (size_t)n * D_TEST);
    assert_true(flops_whole == flops_split);
    assert_true(flops_whole == hst_lattice_flops(kind, D_TEST, n, 0));
    free(x);
    free(want);
    free(a);
    free(b);
}

static void test_lattice_two_term_matches_reference_for_any_split(void **state)
{
    /* 340 rows: every 2-term update below Lmax 400 (4, 10, 24, 58, 140, 338; m = 1..4). */
    check_lattice_against_reference(*state, HST_SPINE_2TERM, 340);
}

static void test_lattice_three_term_matches_reference_for_any_split(void **state)
{
    check_lattice_against_reference(*state, HST_SPINE_3TERM, 310); /* 12, 36, 104, 304 */
}

/* After a reset the kept rows are forgotten: a second sequence gives the bits of a fresh state. */
static void test_lattice_state_reset_starts_a_new_sequence(void **state)
{
    const fixture *f = *state;
    const int n = 60;
    float *x1 = random_rows(n, 21), *x2 = random_rows(n, 22);
    hst_error err = {{0}};
    hst_resolver r = {f->m, &err, 0, HST_PRECISION_F32};
    hst_lattice *lat = hst_lattice_build(&r, "lattice_core.", HST_SPINE_2TERM);
    assert_non_null(lat);
    hst_lattice_state *st = hst_lattice_state_create(HST_SPINE_2TERM, D_TEST, LMAX_TEST, n);
    assert_non_null(st);
    assert_true(hst_lattice_state_bytes(st) >= (uint64_t)5 * n * D_TEST * sizeof(float));
    hst_lattice_run(lat, st, NULL, x1, n, 0);
    hst_lattice_state_reset(st);
    /* The second sequence in calls of 30: rows 30.. read kept rows 4, 10, 24 of this sequence only. */
    hst_lattice_run(lat, st, NULL, x2, 30, 0);
    hst_lattice_run(lat, st, NULL, x2 + 30 * D_TEST, 30, 30);
    const int whole[] = {n};
    double flops;
    float *x2_again = random_rows(n, 22);
    float *fresh = engine_lattice(f, HST_SPINE_2TERM, x2_again, n, whole, 1, &flops);
    assert_memory_equal(x2, fresh, sizeof(float) * (size_t)n * D_TEST);
    hst_lattice_state_free(st);
    hst_lattice_free(lat);
    free(x1);
    free(x2);
    free(x2_again);
    free(fresh);
}

/* A missing tensor under the prefix fails the build with one line. */
static void test_lattice_build_names_a_missing_tensor(void **state)
{
    const fixture *f = *state;
    hst_error err = {{0}};
    hst_resolver r = {f->m, &err, 0, HST_PRECISION_F32};
    assert_null(hst_lattice_build(&r, "no_such_prefix.", HST_SPINE_2TERM));
    assert_true(r.failed);
    assert_non_null(strstr(err.msg, "missing tensor: no_such_prefix.multi_level.level_transforms.0.0.weight"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_term_spine_values),
        cmocka_unit_test(test_two_term_levels_match_spec_table),
        cmocka_unit_test(test_three_term_levels_keep_the_spec_order),
        cmocka_unit_test(test_reachable_levels_follow_lmax),
        cmocka_unit_test(test_spine_update_flops_match_spec),
        cmocka_unit_test_setup_teardown(test_lattice_two_term_matches_reference_for_any_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lattice_three_term_matches_reference_for_any_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lattice_state_reset_starts_a_new_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lattice_build_names_a_missing_tensor, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
