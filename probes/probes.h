/* probes.h — what every probe reports: a metric is a value, a valid flag
 * and, when invalid, why (one line); nothing in probes/ prints 0 for
 * "unknown". probes/ measures the machine around the engine; each area has
 * its own small header:
 *   counters.h   hardware and software counters (PAPI, perf_event, fake)
 *   topo.h       topology (hwloc), thread placement and the PU budget
 *   memory.h     RSS/PSS/VMS, page faults and swap over a window
 *   ceilings.h   the machine's bandwidth and compute ceilings, the roofline
 *   stats.h      percentiles, the latency histogram, A/B statistics
 *   session.h    one measured session: model, kernel, pool, counters, ...
 *   runner.h     the measured generation loop of `hstprof run` (and its JSON)
 *   ring.h, live.h, live_metrics.h   the dashboard's live loop
 *   timeline.h   per-forward records of a run or a segment, for the traces
 *   metrics_feed.h  the monitoring figures a fleet scrapes (Prometheus)
 *   json.h       the JSON of probe results
 * Only json.h, runner.h, timeline.h, metrics_feed.h and live_metrics.h include jansson. */
#ifndef PROBES_H
#define PROBES_H

#include <stddef.h>
#include <stdint.h>

/* ---- metrics ------------------------------------------------------------- */

#define PROBES_WHY_MAX 200

typedef struct {
    double value;                 /* meaningful only when valid */
    int valid;
    char why_not[PROBES_WHY_MAX]; /* one line, set when !valid */
} probes_metric;

probes_metric probes_metric_of(double value);
probes_metric probes_metric_invalid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The CPU's model name from /proc/cpuinfo: 1, or 0 and "unknown CPU" when
 * it has none. */
int probes_cpu_model(char *buf, size_t len);

#endif
