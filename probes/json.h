/* json.h — probe results as JSON, shared by run, bench and the dashboard's
 * snapshots. A metric is its value, or null beside "<key>_why_not". */
#ifndef PROBES_JSON_H
#define PROBES_JSON_H

#include "probes/ceilings.h"
#include "probes/counters.h"
#include "probes/live_metrics.h"
#include "probes/memory.h"

#include <jansson.h>

/* key = value (its reference is taken), or, when value is NULL, key = null
 * beside "<key>_why_not" = why ("not measured yet" when why is empty): the
 * one way a report says "not known". */
void probes_json_put_or_why(json_t *o, const char *key, json_t *value, const char *why);
void probes_metric_put_json(json_t *o, const char *key, const probes_metric *m);
json_t *probes_counter_window_json(const probes_counter_window *w);
/* {"summary": summary, phases[i]: windows[i], ...}: a run's counters
 * (prefill, decode), a bench cell's (prefill). */
json_t *probes_counters_json(const char *summary, int n, const char *const *phases,
                             const probes_counter_window *const *windows);
json_t *probes_memory_report_json(const probes_memory_report *m);
/* bound, ceiling_threads, working_set_bytes, level (the memory level the
 * working set fits in), level_read_bytes_per_s (its read ceiling), the
 * achieved rates and the shares (bandwidth_pct of the level's read ceiling,
 * fma_pct, matmul_pct, roofline_pct), each a value or why not. */
json_t *probes_roofline_json(const probes_roofline *r);
/* How the pool's threads were used (hst_pool_contention): jobs, the share the
 * calling thread ran alone because the team's threads waited for a core
 * (another process wanted them), how often that started, and whether it is
 * on now. */
json_t *probes_contention_json(const hst_pool_contention_stats *c);
/* A latency histogram as the plots read it: {lowest_ns, growth,
 * first_bucket, counts[] (from the first non-empty bucket to the last)}. */
json_t *probes_latency_histogram_json(const live_histogram *h);

/* This machine and build, a report's "system": cpu_model, cores, pus,
 * l3_total_bytes (hwloc), caches[] ({level, type, size_bytes,
 * shared_cpu_list}: one instance each, as CPU 0 sees them in sysfs; when
 * sysfs has none, {level, type, size_bytes, instances, source: "hwloc"}),
 * mem_total_bytes, os, kernel, compiler, git_commit. Unknown figures are
 * null beside "<key>_why_not". New reference; NULL when out of memory. */
json_t *probes_system_json(void);
/* This build's version (the Makefile's VERSION) and commit (12 hex digits,
 * "-dirty" when built from a changed tree), from build/version.h; "unknown"
 * in a build without it. */
const char *probes_build_version(void);
const char *probes_build_commit(void);

/* What the snapshot records beyond the view: how the run was set up. */
typedef struct {
    uint64_t seed;
    const char *profile;     /* "" when none */
    const char *events;      /* "" = the default set */
} live_snapshot_setup;

/* The snapshot object of exports/exports.h, in the shape of `hstprof run
 * --format json` (so exports renders it like a run) for the shown segment,
 * plus sections[], bandwidth{}, compute{}, runs[] (one row per segment,
 * oldest first) and ab{}. New reference; NULL when out of memory. */
json_t *live_view_json(const live_view *v, const live_segment_stats *segments, int n_segments,
                       const live_snapshot_setup *setup);

#endif
