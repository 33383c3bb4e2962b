/* metrics_feed.h — the figures a fleet's monitoring scrapes (Prometheus):
 * counters per setting, a latency histogram, and gauges for the setting that
 * runs now. The producer (the run loop, the dashboard's probes thread) keeps
 * its own probes_metrics_state and publishes a copy now and then; readers
 * (the HTTP endpoint, the textfile writer) read the latest copy, on any
 * thread. A figure that is not known is NAN or absent, never 0. */
#ifndef PROBES_METRICS_FEED_H
#define PROBES_METRICS_FEED_H

#include "probes/counters.h"

#include <jansson.h>
#include <stdint.h>

#define PROBES_METRICS_SERIES 16 /* settings kept; the oldest not running goes beyond this */
#define PROBES_METRICS_BUCKETS 20
/* Upper bounds (seconds) of the latency histogram's buckets, +Inf after them. */
extern const double probes_metrics_bucket_s[PROBES_METRICS_BUCKETS];

/* What tells one setting from another: the series' labels. */
typedef struct {
    char model[256];
    char mode[16];
    char precision[16];
    char kernel[16];     /* in use (never "auto") */
    char affinity[64];
    int threads;
} probes_metrics_labels;

typedef struct {
    probes_metrics_labels labels;
    uint64_t tokens_generated; /* every token produced (a prefill's first one included) */
    uint64_t prefill_tokens;   /* prompt tokens processed */
    uint64_t restarts;         /* prefills after a full context */
    uint64_t latency_count;    /* decode steps */
    double latency_sum_s;
    uint64_t latency_buckets[PROBES_METRICS_BUCKETS + 1]; /* per bucket, not cumulative; the last: +Inf */
    int n_events;
    char event_name[PROBES_MAX_EVENTS][PROBES_NAME_MAX];
    double event_total[PROBES_MAX_EVENTS];
    int event_counted[PROBES_MAX_EVENTS]; /* 0: never counted: absent */
    uint64_t last_used;                   /* for replacing the oldest */
} probes_metrics_series;

typedef struct {
    char host[256];
    int n_series;
    probes_metrics_series series[PROBES_METRICS_SERIES];
    int current;                 /* the series the gauges describe; -1: none */
    uint64_t uses;
    /* gauges of the current series; NAN: not known (absent) */
    double tokens_per_s;         /* decode, about the last second */
    double rss_bytes, pss_bytes, kv_cache_bytes;
    double bytes_per_s, flops_per_s; /* achieved (spec 11 counts over decode time), about the last second */
} probes_metrics_state;

/* Empty: no series, unknown gauges, this machine's host name. */
void probes_metrics_state_init(probes_metrics_state *s);
/* The series of these labels, added when new (replacing the least recently
 * used one that is not current when all are taken); it becomes current. */
probes_metrics_series *probes_metrics_state_use(probes_metrics_state *s, const probes_metrics_labels *labels);
/* One decode step's latency into the histogram. */
void probes_metrics_series_latency(probes_metrics_series *x, uint64_t ns);
/* Event names (the counters' order); totals restart at 0 when they change. */
void probes_metrics_series_events(probes_metrics_series *x, int n, const char (*names)[PROBES_NAME_MAX]);
/* Adds one forward's counter deltas (NAN: not counted). */
void probes_metrics_series_add_events(probes_metrics_series *x, const double *deltas, int n);
void probes_metrics_state_clear_gauges(probes_metrics_state *s);

/* {"host", "series": [{"labels": {...}, "tokens_generated", "prefill_tokens",
 * "restarts", "latency": {"bounds_s": [...], "counts": [cumulative...],
 * "count", "sum_s"}, "events": [{"name", "total"}]}], "gauges": {"labels":
 * {...}, "tokens_per_s", ...}}: what export_metrics_render reads. A gauge
 * that is not known is left out. New reference; NULL when out of memory. */
json_t *probes_metrics_json(const probes_metrics_state *s);

/* ---- the feed: the published copy, for readers on other threads ---------- */
typedef struct probes_metrics_feed probes_metrics_feed;

probes_metrics_feed *probes_metrics_feed_create(void);
void probes_metrics_feed_free(probes_metrics_feed *f);
void probes_metrics_feed_publish(probes_metrics_feed *f, const probes_metrics_state *s);
/* The latest published state as probes_metrics_json (empty before any). */
json_t *probes_metrics_feed_json(probes_metrics_feed *f);

#endif
