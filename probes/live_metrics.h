/* live_metrics.h — the metrics thread that drains the engine's ring, and
 * the view it publishes for the panels and the snapshots. */
#ifndef PROBES_LIVE_METRICS_H
#define PROBES_LIVE_METRICS_H

#include "probes/ceilings.h"
#include "probes/live.h"
#include "probes/memory.h"
#include "probes/metrics_feed.h"
#include "probes/stats.h"

#include <jansson.h>

/* ---- metrics (the consumer thread) and the view ------------------------------------------ */

#define LIVE_HISTORY 240       /* sparkline points */
#define LIVE_HISTORY_NS 500000000ull /* one point per 0.5 s */
#define LIVE_TEXT_MAX 1024
#define LIVE_MAX_PUS 256
#define LIVE_VIEW_SEGMENTS 32
#define LIVE_AB_MAX_ROUNDS 4096

/* Statistics of one segment as the panels show them. */
typedef struct {
    live_segment_info info;
    uint64_t prefills, prefill_tokens, prefill_ns;
    uint64_t decode_tokens, decode_ns;
    double prefill_flops, prefill_bytes, decode_flops, decode_bytes;
    double prefill_tok_per_s_last, prefill_tok_per_s;      /* last prefill; over all */
    double decode_tok_per_s_now;      /* last second */
    double decode_tok_per_s_smoothed; /* exponential, time constant 5 s */
    double decode_tok_per_s;          /* over the segment */
    double ttft_ms_last, ttft_ms_median;
    int ttft_count;
    double latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_min_ms, latency_max_ms, latency_mean_ms;
    /* per decode token, mean over the segment */
    double section_ms[LIVE_MAX_SECTIONS];
    double section_token_ms;          /* sum of the above */
    /* last second of decode tokens, for rates against the ceilings */
    double recent_decode_ns, recent_decode_flops, recent_decode_bytes, recent_decode_tokens;
    int history_len;                  /* oldest first */
    double history_tok_per_s[LIVE_HISTORY];
    uint64_t history_end_ns[LIVE_HISTORY]; /* hst_now_ns() at each point's end */
    int n_threads;
    int thread_cpu[LIVE_SAMPLE_THREADS];
    uint32_t thread_migrations[LIVE_SAMPLE_THREADS];
    double thread_load[LIVE_SAMPLE_THREADS]; /* busy share over the last update, 0..1 */
    uint64_t pool_jobs, pool_jobs_solo, pool_stalls, pool_solo_periods; /* the last sample's (hst_pool_contention) */
    int pool_solo_now;                       /* 1: jobs run on one thread now (contention) */
    int last_pos;
    uint64_t last_generation;
} live_segment_stats;

/* One line per segment in the view's history. */
typedef struct {
    uint32_t id;
    int ab_side;
    live_setting setting;
    uint64_t decode_tokens;
    double decode_tok_per_s, latency_p50_ms, latency_p99_ms, ttft_ms_median;
} live_segment_summary;

typedef struct {
    int os_index, core, package;
    double load;          /* whole-machine busy share from /proc/stat, 0..1; <0 unknown */
} live_pu;

typedef struct {
    uint64_t version;            /* bumped on every publish */
    uint64_t now_ns, start_ns;
    live_status status;
    uint64_t dropped_samples, samples;
    int shown_side;              /* 0 = A (or the only setting), 1 = B */
    int has_current;
    live_segment_stats current;  /* the shown segment */
    /* earlier segments, newest last (summaries of their stats) */
    int n_segments;
    live_segment_summary segments[LIVE_VIEW_SEGMENTS];
    /* A/B */
    int ab_active;
    ab_result ab;
    char ab_label[256];          /* "threads 1 vs 2" */
    /* memory (the whole process, since the dashboard started) */
    probes_memory_report memory;
    double minor_faults_per_s;
    /* ceilings */
    int ceilings_ok;
    int ceilings_done;           /* ceilings_ok and ceilings_state are final */
    char ceilings_state[256];    /* "cached", "measured", "measuring (2 of 6)", or why not */
    probes_ceilings ceilings;
    /* topology */
    int n_pus, n_cores, n_packages;
    uint64_t l3_bytes;
    live_pu pus[LIVE_MAX_PUS];
    /* text of the shown side's current generation, after the prompt */
    char prompt[256];
    uint64_t text_generation;
    int text_prompt_len;         /* the first ids are the prompt */
    int text_len;
    int text[LIVE_TEXT_MAX];
} live_view;

typedef struct live_metrics live_metrics;

typedef struct {
    int no_ceilings;         /* 1: never measure (only load the cache) */
    int update_ms;           /* 0: 100 */
    probes_ceiling_opts ceilings; /* how to measure them when not cached (zeros: as `hstprof ceilings`) */
    probes_metrics_feed *feed;    /* non-NULL: monitoring figures published there with every view */
} live_metrics_options;

/* Starts the probes thread that drains e's ring. */
live_metrics *live_metrics_start(live_engine *e, const live_metrics_options *opts, char *err, size_t err_len);
void live_metrics_stop(live_metrics *m);
/* Bumped whenever a new view is published (something changed, or at
 * least twice a second for the clocks); lets the UI skip redraws. */
uint64_t live_metrics_version(live_metrics *m);
/* Copies the latest view (cheap: no computation under the lock). */
void live_metrics_view(live_metrics *m, live_view *out);
/* Which A/B side the view's per-segment panels show. */
void live_metrics_show_side(live_metrics *m, int side);
/* The statistics of every segment seen so far (for snapshots); returns the
 * count written to out[0..max-1], oldest first. */
int live_metrics_segments(live_metrics *m, live_segment_stats *out, int max);
/* The timeline of segment id (timeline_json's object: its newest forward
 * calls, ~4 MB of them, with RSS samples, restarts and its setting), for the
 * snapshot's trace; NULL when no side holds that segment or out of memory. */
json_t *live_metrics_trace_json(live_metrics *m, uint32_t id);
/* A copy of segment id's latency histogram (every decode token); 0, or -1 when unknown. */
int live_metrics_latency_histogram(live_metrics *m, uint32_t id, live_histogram *out);

#endif
