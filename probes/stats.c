/* stats.c — summaries of timing samples: real percentiles over every sample,
 * and mean/stddev by Welford's update (stable for long runs). */
#include "probes/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double stats_percentile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    if (q <= 0)
        return sorted[0];
    if (q >= 100)
        return sorted[n - 1];
    double rank = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)rank;
    double frac = rank - (double)lo;
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

int stats_summarize(const double *values, size_t n, sample_summary *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return -1;
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return -1;
    memcpy(sorted, values, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_doubles);
    double mean = 0, m2 = 0;
    for (size_t i = 0; i < n; i++) {
        double delta = values[i] - mean;
        mean += delta / (double)(i + 1);
        m2 += delta * (values[i] - mean);
    }
    out->n = n;
    out->min = sorted[0];
    out->max = sorted[n - 1];
    out->mean = mean;
    out->stddev = n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;
    out->median = out->p50 = stats_percentile_sorted(sorted, n, 50);
    out->p95 = stats_percentile_sorted(sorted, n, 95);
    out->p99 = stats_percentile_sorted(sorted, n, 99);
    free(sorted);
    return 0;
}
