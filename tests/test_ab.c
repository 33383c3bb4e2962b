/* test_ab.c — the A/B statistics (probes/ab.c) on synthetic rounds: a clear
 * difference either way, no difference, too few rounds, the order-statistic
 * interval of a median, and determinism of the bootstrap. No timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/hst.h"
#include "probes/stats.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Deterministic, symmetric noise in [-spread, spread]. */
static void rounds_around(double *out, int n, double centre, double spread, uint64_t seed)
{
    uint64_t rng[4];
    hst_rng_seed(rng, seed);
    for (int i = 0; i < n; i++)
        out[i] = centre + spread * (2 * hst_rng_uniform(rng) - 1);
}

static void test_median_of_odd_and_even_counts(void **state)
{
    (void)state;
    const double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2};
    assert_float_equal(ab_median(odd, 3), 3, 0);
    assert_float_equal(ab_median(even, 4), 2.5, 0);
    assert_true(isnan(ab_median(odd, 0)));
    /* the input is left as it was */
    assert_float_equal(odd[0], 5, 0);
}

static void test_median_ci_from_order_statistics(void **state)
{
    (void)state;
    double x[20], lo, hi;
    for (int i = 0; i < 20; i++)
        x[i] = 20 - i; /* 20..1, unsorted on purpose */
    /* n = 5: even min..max covers the median only 93.75% of the time. */
    assert_int_equal(ab_median_ci(x, 5, &lo, &hi), -1);
    /* n = 6: min..max, 96.9%. */
    assert_int_equal(ab_median_ci(x, 6, &lo, &hi), 0);
    assert_float_equal(lo, 15, 0);
    assert_float_equal(hi, 20, 0);
    /* n = 20: P(X <= 5) = 2.07% <= 2.5% < P(X <= 6), so ranks 6 and 15. */
    assert_int_equal(ab_median_ci(x, 20, &lo, &hi), 0);
    assert_float_equal(lo, 6, 0);
    assert_float_equal(hi, 15, 0);
}

static void test_clear_difference_b_faster(void **state)
{
    (void)state;
    double a[30], b[30];
    rounds_around(a, 30, 1000, 20, 1);
    rounds_around(b, 30, 1310, 20, 2);
    ab_result r;
    ab_compute(a, 30, b, 30, &r);
    assert_int_equal(r.pairs, 30);
    assert_true(r.ratio_valid);
    assert_true(r.significant);
    assert_true(r.ratio_lo > 1.25 && r.ratio_hi < 1.37);
    assert_true(r.ratio_lo <= r.ratio && r.ratio <= r.ratio_hi);
    double shown, lo, hi;
    assert_int_equal(sscanf(r.verdict, "B is %lfx faster (95%% CI %lf-%lf)", &shown, &lo, &hi), 3);
    char expected[128];
    snprintf(expected, sizeof expected, "B is %.2fx faster (95%% CI %.2f-%.2f)", r.ratio, r.ratio_lo, r.ratio_hi);
    assert_string_equal(r.verdict, expected);
    assert_true(fabs(shown - 1.31) < 0.03);
    assert_true(r.a.ci_valid && r.b.ci_valid);
    assert_true(r.a.ci_lo <= r.a.median && r.a.median <= r.a.ci_hi);
    assert_true(r.a.ci_hi < r.b.ci_lo);
}

static void test_clear_difference_a_faster(void **state)
{
    (void)state;
    double a[12], b[12];
    rounds_around(a, 12, 1500, 10, 3);
    rounds_around(b, 12, 1000, 10, 4);
    ab_result r;
    ab_compute(a, 12, b, 12, &r);
    assert_true(r.significant);
    assert_true(r.ratio < 1);
    char expected[128];
    snprintf(expected, sizeof expected, "A is %.2fx faster (95%% CI %.2f-%.2f)", 1 / r.ratio, 1 / r.ratio_hi,
             1 / r.ratio_lo);
    assert_string_equal(r.verdict, expected);
    assert_memory_equal(r.verdict, "A is 1.5", 8);
}

static void test_no_difference_is_not_significant(void **state)
{
    (void)state;
    double a[40], b[40];
    rounds_around(a, 40, 1000, 50, 5);
    rounds_around(b, 40, 1000, 50, 6);
    ab_result r;
    ab_compute(a, 40, b, 40, &r);
    assert_true(r.ratio_valid);
    assert_false(r.significant);
    assert_true(r.ratio_lo < 1 && r.ratio_hi > 1);
    assert_string_equal(r.verdict, "no significant difference yet");
}

static void test_too_few_rounds_gives_no_verdict(void **state)
{
    (void)state;
    const double a[] = {1000, 1001, 999, 1000, 1002}, b[] = {2000, 2001, 1999, 2000, 2002, 2001};
    ab_result r;
    ab_compute(a, 5, b, 6, &r);
    assert_int_equal(r.pairs, 5);
    assert_false(r.ratio_valid);
    assert_false(r.significant);
    assert_false(r.a.ci_valid);
    assert_true(r.b.ci_valid);
    assert_string_equal(r.verdict, "no significant difference yet");
    ab_compute(NULL, 0, NULL, 0, &r);
    assert_string_equal(r.verdict, "no significant difference yet");
}

static void test_unequal_round_counts_pair_the_common_rounds(void **state)
{
    (void)state;
    double a[10], b[9];
    rounds_around(a, 10, 1000, 5, 7);
    rounds_around(b, 9, 2000, 5, 8);
    ab_result r;
    ab_compute(a, 10, b, 9, &r);
    assert_int_equal(r.a.n, 10);
    assert_int_equal(r.b.n, 9);
    assert_int_equal(r.pairs, 9);
    assert_true(r.significant);
}

static void test_bootstrap_is_deterministic(void **state)
{
    (void)state;
    double a[25], b[25];
    rounds_around(a, 25, 1000, 100, 9);
    rounds_around(b, 25, 1050, 100, 10);
    ab_result r1, r2;
    ab_compute(a, 25, b, 25, &r1);
    ab_compute(a, 25, b, 25, &r2);
    assert_memory_equal(&r1, &r2, sizeof r1);
}

/* Drift that hits both sides alike cancels in the pairing. */
static void test_shared_drift_does_not_hide_a_difference(void **state)
{
    (void)state;
    double a[30], b[30];
    for (int i = 0; i < 30; i++) {
        double drift = 1.0 - 0.015 * i; /* throttling: everything 45% slower by the end */
        a[i] = 1000 * drift;
        b[i] = 1100 * drift * (i % 2 ? 1.01 : 0.99);
    }
    ab_result r;
    ab_compute(a, 30, b, 30, &r);
    assert_true(r.significant);
    assert_true(r.ratio > 1.05 && r.ratio < 1.15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_of_odd_and_even_counts),
        cmocka_unit_test(test_median_ci_from_order_statistics),
        cmocka_unit_test(test_clear_difference_b_faster),
        cmocka_unit_test(test_clear_difference_a_faster),
        cmocka_unit_test(test_no_difference_is_not_significant),
        cmocka_unit_test(test_too_few_rounds_gives_no_verdict),
        cmocka_unit_test(test_unequal_round_counts_pair_the_common_rounds),
        cmocka_unit_test(test_bootstrap_is_deterministic),
        cmocka_unit_test(test_shared_drift_does_not_hide_a_difference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
