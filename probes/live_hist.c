/* live_hist.c — a log-bucketed latency histogram: constant work per token
 * and constant memory per segment, so percentiles can cover every token of
 * a long run. Bucket i holds [LO * G^i, LO * G^(i+1)) with G = 1.01; a
 * percentile is reported at its bucket's geometric middle, within 0.5% of
 * the true value, and clamped to the observed min and max. */
#include "probes/stats.h"

#include <math.h>

#define HIST_LO_NS LIVE_HIST_LOWEST_NS
#define HIST_GROWTH LIVE_HIST_GROWTH

static int bucket_of(double ns)
{
    if (ns < HIST_LO_NS)
        return 0;
    int b = (int)(log(ns / HIST_LO_NS) / log(HIST_GROWTH));
    return b < LIVE_HIST_BUCKETS ? b : LIVE_HIST_BUCKETS - 1;
}

void live_hist_add(live_histogram *h, double ns)
{
    if (!(ns >= 0))
        return;
    if (h->n == 0 || ns < h->min_ns)
        h->min_ns = ns;
    if (h->n == 0 || ns > h->max_ns)
        h->max_ns = ns;
    h->n++;
    h->sum_ns += ns;
    h->counts[bucket_of(ns)]++;
}

double live_hist_percentile(const live_histogram *h, double q)
{
    if (h->n == 0)
        return NAN;
    if (q <= 0)
        return h->min_ns;
    if (q >= 100)
        return h->max_ns;
    /* The rank as numpy's "linear" method counts it, rounded to a sample. */
    uint64_t rank = (uint64_t)llround(q / 100.0 * (double)(h->n - 1)), seen = 0;
    for (int b = 0; b < LIVE_HIST_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen > rank) {
            double mid = HIST_LO_NS * pow(HIST_GROWTH, b + 0.5);
            return mid < h->min_ns ? h->min_ns : mid > h->max_ns ? h->max_ns : mid;
        }
    }
    return h->max_ns;
}
