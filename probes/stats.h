/* stats.h — statistics over samples (to be folded into probes/probes.h). */
#ifndef HSTPROF_STATS_H
#define HSTPROF_STATS_H

#include <stddef.h>

typedef struct {
    size_t n;
    double min, max, mean, stddev; /* stddev: sample (n - 1) */
    double median, p50, p95, p99;
} sample_summary;

/* Percentile q in [0, 100] of sorted values, linear between closest ranks
 * (the definition numpy and most benchmark tools use). */
double stats_percentile_sorted(const double *sorted, size_t n, double q);
/* Summary of n values (copied and sorted internally; values untouched).
 * Returns 0, or -1 when n == 0 or out of memory (summary zeroed). */
int stats_summarize(const double *values, size_t n, sample_summary *out);

#endif
