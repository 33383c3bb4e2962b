/* stats.h — statistics over samples: summaries and percentiles, the
 * log-bucketed latency histogram, and the A/B comparison's rounds. */
#ifndef PROBES_STATS_H
#define PROBES_STATS_H

#include <stddef.h>
#include <stdint.h>

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

/* ---- latency histogram ------------------------------------------------------------------
 * Log-bucketed (each bucket 1% wide, 100 ns .. 1000 s): O(1) per token, so
 * percentiles cover every token of a segment however long it runs; a
 * percentile is exact to within 1%. */
#define LIVE_HIST_BUCKETS 2400
#define LIVE_HIST_LOWEST_NS 100.0 /* bucket b holds [LOWEST * GROWTH^b, LOWEST * GROWTH^(b+1)) */
#define LIVE_HIST_GROWTH 1.01
typedef struct {
    uint64_t n;
    double min_ns, max_ns, sum_ns;
    uint32_t counts[LIVE_HIST_BUCKETS];
} live_histogram;

void live_hist_add(live_histogram *h, double ns);
double live_hist_percentile(const live_histogram *h, double q); /* q in [0,100]; NAN when empty */

/* ---- tokens/s over time, in bounded memory (rate_series.c) --------------------------------
 * Points of `steps` decode steps each: when full, neighbouring points merge
 * and steps doubles, so a run of any length keeps at most RATE_SERIES_POINTS
 * points. A point's rate is its tokens over the time spent computing them. */
#define RATE_SERIES_POINTS 240
typedef struct {
    int n, steps;                        /* points kept; decode steps per point */
    double t_end_s[RATE_SERIES_POINTS];  /* when the point's last step ended */
    double tokens[RATE_SERIES_POINTS], busy_s[RATE_SERIES_POINTS];
    int pending_steps;                   /* of the point being filled */
    double pending_busy_s;
} rate_series;

/* steps_per_point >= 1 to start with (e.g. tokens / 100 when the count is known). */
void rate_series_init(rate_series *r, int steps_per_point);
/* One decode step that took busy_s and ended t_end_s after the start. */
void rate_series_add(rate_series *r, double t_end_s, double busy_s);

/* ---- A/B statistics (ab.c) ---------------------------------------------------------------- */

#define AB_MIN_ROUNDS 6        /* pairs needed before any verdict */
#define AB_BOOTSTRAP 2000      /* resamples */
#define AB_SEED 0x5eedab5eedULL

typedef struct {
    int n;                     /* rounds */
    double median;             /* of per-round median tok/s */
    int ci_valid;              /* enough rounds for a 95% interval */
    double ci_lo, ci_hi;
} ab_side_stats;

typedef struct {
    ab_side_stats a, b;
    int pairs;                 /* rounds paired A_i with B_i */
    int ratio_valid;
    double ratio, ratio_lo, ratio_hi; /* median of B_i/A_i over round pairs, 95% bootstrap CI */
    int significant;           /* the CI excludes 1.0 */
    char verdict[128];         /* "B is 1.31x faster (95% CI 1.22-1.40)" ... */
} ab_result;

/* Median of x[0..n-1] (copied; x untouched). NAN when n == 0. */
double ab_median(const double *x, int n);
/* Distribution-free 95% CI of the median from order statistics (binomial
 * with p = 1/2): the widest-needed ranks l..u so that P(X_(l) <= m <= X_(u))
 * >= 0.95. 0 ok; -1 when n is too small for 95% (n < 6). */
int ab_median_ci(const double *x, int n, double *lo, double *hi);
/* Everything above from per-round median tok/s of each side, in round order. */
void ab_compute(const double *a_rounds, int n_a, const double *b_rounds, int n_b, ab_result *out);

#endif
