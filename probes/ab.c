/* ab.c — statistics of an A/B comparison run in alternating rounds
 * (ABAB..., so that drift such as thermal throttling or a noisy neighbour
 * hits both sides alike).
 *
 * The unit of evidence is a round: each side's round yields one number, the
 * median of its per-token decode rates (robust to the odd slow token). Per
 * side we report the median over rounds with a distribution-free 95%
 * interval from order statistics. The speed-up is the median of the paired
 * ratios B_i / A_i: round i of A and round i of B ran back to back over the
 * same positions, so whatever drifted between rounds divides out of each
 * ratio. Its 95% interval comes from a bootstrap over the pairs with a
 * fixed seed, so the same rounds always give the same verdict (and the
 * tests need no tolerance for randomness). */
#include "engine/hst.h"
#include "probes/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Hoare's selection: after the call x[k] is the k-th smallest and every
 * x[i < k] <= x[k]. Linear on average, which keeps 2000 bootstrap
 * resamples of a few thousand rounds well under a UI frame. */
static double select_kth(double *x, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = x[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                double t = x[i];
                x[i] = x[j];
                x[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return x[k];
}

/* Median of x[0..n-1], reordering x. */
static double median_in_place(double *x, int n)
{
    int mid = n / 2;
    double upper = select_kth(x, n, mid);
    if (n % 2)
        return upper;
    double lower = x[0];
    for (int i = 1; i < mid; i++)
        if (x[i] > lower)
            lower = x[i];
    return (lower + upper) / 2;
}

double ab_median(const double *x, int n)
{
    if (n <= 0)
        return NAN;
    double *copy = malloc((size_t)n * sizeof *copy);
    if (!copy)
        return NAN;
    memcpy(copy, x, (size_t)n * sizeof *copy);
    double m = median_in_place(copy, n);
    free(copy);
    return m;
}

/* log of P(X = i) for X ~ Binomial(n, 1/2). */
static double log_binomial_half(int n, int i)
{
    return lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0);
}

/* The largest rank l (1-based) with P(X <= l - 1) <= 2.5%: then the sorted
 * values x_(l) .. x_(n-l+1) cover the median with probability >= 95%.
 * 0 when no rank qualifies (n < 6). */
static int order_statistic_rank(int n)
{
    double cdf = 0;
    int rank = 0;
    for (int j = 0; j < n; j++) {
        cdf += exp(log_binomial_half(n, j)); /* now P(X <= j) */
        if (cdf > 0.025)
            break;
        rank = j + 1;
    }
    return rank;
}

int ab_median_ci(const double *x, int n, double *lo, double *hi)
{
    int rank = n > 0 ? order_statistic_rank(n) : 0;
    if (rank < 1)
        return -1;
    double *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted)
        return -1;
    memcpy(sorted, x, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, compare_doubles);
    *lo = sorted[rank - 1];
    *hi = sorted[n - rank];
    free(sorted);
    return 0;
}

static void side_stats(const double *x, int n, ab_side_stats *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    out->median = ab_median(x, n);
    out->ci_valid = ab_median_ci(x, n, &out->ci_lo, &out->ci_hi) == 0;
}

/* Percentile interval of the bootstrap distribution of the median of
 * resampled pair ratios. 0 ok, -1 out of memory. */
static int bootstrap_median_ratio(const double *ratios, int n, double *lo, double *hi)
{
    double *medians = malloc(AB_BOOTSTRAP * sizeof *medians);
    double *resample = malloc((size_t)n * sizeof *resample);
    int ok = medians && resample;
    uint64_t rng[4];
    hst_rng_seed(rng, AB_SEED);
    for (int r = 0; ok && r < AB_BOOTSTRAP; r++) {
        for (int i = 0; i < n; i++)
            resample[i] = ratios[hst_rng_next(rng) % (uint64_t)n];
        medians[r] = median_in_place(resample, n);
    }
    if (ok) {
        qsort(medians, AB_BOOTSTRAP, sizeof *medians, compare_doubles);
        *lo = stats_percentile_sorted(medians, AB_BOOTSTRAP, 2.5);
        *hi = stats_percentile_sorted(medians, AB_BOOTSTRAP, 97.5);
    }
    free(medians);
    free(resample);
    return ok ? 0 : -1;
}

/* B_i / A_i for the pairs where both are positive rates; returns the count. */
static int pair_ratios(const double *a, const double *b, int pairs, double *out)
{
    int n = 0;
    for (int i = 0; i < pairs; i++)
        if (a[i] > 0 && isfinite(a[i]) && isfinite(b[i]))
            out[n++] = b[i] / a[i];
    return n;
}

static void write_verdict(ab_result *r)
{
    if (r->ratio_valid && r->ratio_lo > 1.0)
        snprintf(r->verdict, sizeof r->verdict, "B is %.2fx faster (95%% CI %.2f-%.2f)", r->ratio, r->ratio_lo,
                 r->ratio_hi);
    else if (r->ratio_valid && r->ratio_hi < 1.0)
        snprintf(r->verdict, sizeof r->verdict, "A is %.2fx faster (95%% CI %.2f-%.2f)", 1.0 / r->ratio,
                 1.0 / r->ratio_hi, 1.0 / r->ratio_lo);
    else
        snprintf(r->verdict, sizeof r->verdict, "no significant difference yet");
}

void ab_compute(const double *a_rounds, int n_a, const double *b_rounds, int n_b, ab_result *out)
{
    memset(out, 0, sizeof *out);
    side_stats(a_rounds, n_a, &out->a);
    side_stats(b_rounds, n_b, &out->b);
    out->pairs = n_a < n_b ? n_a : n_b;
    double *ratios = out->pairs >= AB_MIN_ROUNDS ? malloc((size_t)out->pairs * sizeof *ratios) : NULL;
    int n = ratios ? pair_ratios(a_rounds, b_rounds, out->pairs, ratios) : 0;
    if (n >= AB_MIN_ROUNDS && bootstrap_median_ratio(ratios, n, &out->ratio_lo, &out->ratio_hi) == 0) {
        out->ratio = ab_median(ratios, n);
        out->ratio_valid = 1;
        out->significant = out->ratio_lo > 1.0 || out->ratio_hi < 1.0;
    }
    free(ratios);
    write_verdict(out);
}
