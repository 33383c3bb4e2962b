/* runner.h — the measured generation loop of `hstprof run`: prefill, then
 * token-by-token decoding, every step timed, with counters, memory and the
 * roofline around it; and the run as the JSON every export renders from. */
#ifndef PROBES_RUNNER_H
#define PROBES_RUNNER_H

#include "engine/hst.h"
#include "probes/ceilings.h"
#include "probes/counters.h"
#include "probes/memory.h"
#include "probes/metrics_feed.h"
#include "probes/session.h"
#include "probes/stats.h"
#include "probes/timeline.h"
#include "probes/topo.h"

#include <jansson.h>
#include <stdio.h>

/* --progress: a line redrawn in place on a terminal, plain lines elsewhere. */
typedef enum { RUN_PROGRESS_OFF, RUN_PROGRESS_TERMINAL, RUN_PROGRESS_LINES } run_progress;

typedef struct {
    /* model, seed, strict weights, precision, kernel, mode, threads,
     * affinity, events ("none": no counters); the runner sets the counters' summary
     * when off and loads the cached ceilings. */
    probes_session_settings session;
    const int *prompt;
    int n_prompt;
    int n_tokens;
    float temperature;    /* <= 0: greedy */
    int top_k;
    int keep_prefill_logits;
    run_progress progress; /* live progress on stderr */
    int no_probes;        /* 1: no counters, no memory sampling (overhead baseline) */
    int trace;            /* 1: record a per-token trace (section timers on) */
    /* A soak run: duration_s > 0: generate until that much time has
     * passed (n_tokens > 0 still caps the tokens). Whenever the context is
     * full the session restarts from the prompt (a new "cycle"), so a run can
     * last hours on a 512-position model; the prompt re-prefills are timed
     * apart from the decode steps. Memory stays bounded: latencies go to a
     * log-bucketed histogram, only the last cycle's tokens are kept, and no
     * trace is allowed. */
    double duration_s;
    /* Asked at every token boundary (may be NULL): non-zero stops the run
     * there; the figures cover the run so far, without the quality hash, and
     * res->interrupted says so. */
    int (*interrupted)(void);
    /* Non-NULL: the run's monitoring figures are published there a few
     * times a second and once at the end (probes/runner_metrics.c). */
    probes_metrics_feed *metrics;
} run_request;

/* ---- what a soak run (--duration) keeps, in bounded memory ------------------ */
#define RUN_RSS_POINTS 120 /* RSS timeline; halved (every other point dropped) when full */
typedef struct {
    int active;
    double duration_s;             /* requested */
    uint64_t cycles;               /* prompt prefills: 1 + restarts */
    double restart_prefill_ms;     /* the restarts' prefills (not in decode_ms) */
    int cycles_identical;          /* greedy: every full cycle produced the first cycle's tokens */
    uint64_t cycles_compared;
    live_histogram latency_ns;     /* every decode step */
    double latency_m2;             /* Welford, for the standard deviation */
    double latency_mean_ns;
    int rss_points;
    double rss_interval_s;         /* spacing of the timeline's points now: 1% of --duration... */
    int64_t rss_interval_tokens;   /* ...or of -n's tokens when -n caps the run (0: no cap) */
    int64_t rss_last_tokens;       /* tokens at the last point */
    double rss_t_s[RUN_RSS_POINTS];
    double rss_bytes[RUN_RSS_POINTS];
    double warmup_s;               /* RSS before this is warm-up: the first cycle and at least 10% of
                                    * the run (of --duration, at most 60 s, or of -n's tokens when -n
                                    * caps it, whichever comes first); once over, when it ended */
    int64_t warmup_tokens;         /* 10% of -n (0: no cap) */
    double rss_after_warmup_bytes; /* first sample at or after warmup_s; 0 until then */
    double rss_max_after_warmup_bytes;
    double rss_end_bytes;
    int *first_cycle;              /* [max_seq_len]: the first cycle's tokens, to compare */
    int first_cycle_len;
} run_soak;

/* ---- the per-token trace (probes/runner_trace.c) -----------------------------
 * A timeline sized before the loop (one prefill record + one per decode
 * step); nothing is allocated per token. */
typedef struct {
    int enabled;
    timeline *records;
    int n_sections, n_threads, n_counters;
    uint64_t *section_ns;                         /* scratch: [n_sections] */
    uint64_t *busy_before, *busy_ns;              /* pool threads' busy time: at the last boundary, in the step */
    double *counter_delta;                        /* scratch: [n_counters] */
    probes_counter_snapshot last;                 /* the previous read, for deltas */
} run_trace;

typedef struct {
    probes_session measured;  /* model, kernel, pool, counters, engine session, ceilings */
    hst_session *session;     /* measured's, for short */
    hst_config config;
    hst_counts counts;
    char model_name[256], preset[32], source[512], kernel[16];
    hst_mode mode;            /* the engine session's */
    char mode_label[64];      /* probes_mode_label: "parity", "causal (same as parity for v4)" */
    int threads;
    int prompt_len;
    int kept_all_logits;
    double prefill_ms, prefill_tok_per_s, prefill_gflops_per_s;
    double prefill_bytes; /* hst_session_last_bytes of the prefill */
    hst_pool_contention_stats contention; /* the pool over prefill and decode */
    int64_t decode_steps;
    double decode_ms, decode_tok_per_s, decode_gflops_per_s;
    double decode_flops, decode_bytes; /* spec 11, summed over the decode steps */
    double ttft_ms;
    double *latencies_ms; /* [decode_steps]; NULL in a soak run (soak.latency_ns instead) */
    sample_summary latency;
    int *generated;       /* a soak run: the last cycle's tokens only */
    int n_generated;
    int64_t tokens_total; /* every generated token (soak runs: all cycles) */
    uint64_t wall_start_ns; /* CLOCK_MONOTONIC when the prefill started */
    run_soak soak;
    float *prefill_logits; /* [prompt_len, vocab] when kept */
    double peak_rss_bytes, kv_cache_bytes;
    /* probes (counters and ceilings: of the measured session) */
    char counters_summary[512]; /* as of the end of the run */
    int have_counters;
    probes_counter_window prefill_counters, decode_counters;
    int have_memory;
    probes_memory_report memory;
    probes_roofline prefill_roofline, decode_roofline;
    uint64_t quality_hash;
    int quality_tokens[HST_QUALITY_TOKENS];
    /* what reports need beyond the summary */
    double wall_ms;        /* prefill start to the last generated token */
    uint64_t seed;
    double temperature;
    int top_k, tokens_requested;
    char events_requested[256], precision[16];
    run_trace trace;
    rate_series throughput;  /* decode tokens/s over time, for the notes' plot */
    struct runner_metrics *metrics; /* req->metrics' producer state; NULL without */
    int interrupted; /* req->interrupted stopped the run: its figures cover wall_ms, no quality hash */
} run_result;

/* Opens the measured session (probes_session_open). 0 ok; 1 run-time error,
 * 2 bad settings (one line printed on stderr either way). */
int runner_prepare(const run_request *req, run_result *res);
/* Prefill + generation + quality hash. Same return convention. */
int runner_generate(const run_request *req, run_result *res);
void runner_release(run_result *res);
json_t *runner_result_json(const run_result *res);
/* Affinity, counters (prefill and decode windows), memory window, roofline. */
json_t *runner_probes_json(const run_result *res);
void runner_print_probes(FILE *f, const run_result *res);

/* ---- report fields and the trace (probes/runner_report.c) --------------------- */

/* The setting the run measured as one line ("hst-v4, 2 threads, affinity none, ..."). */
void runner_setting_label(const run_result *res, char *buf, size_t len);
/* Copies the request's settings that reports name (seed, sampling, events...). */
void runner_note_request(const run_request *req, run_result *res);
/* Adds to the runner_result_json object what exports read (load_ms, wall_ms,
 * tokens_generated, weight_bytes, seed, precision, batch, sampling,
 * decode_bytes_per_token, quality_tokens, memory_why_not, and for the
 * notes' plots latency_histogram and throughput_timeline) and turns figures
 * that were not measured (no decode step, no token) into null + "_why_not". */
void runner_add_report_fields(json_t *o, const run_result *res);
/* ---- the trace (probes/runner_trace.c) ------------------------------------------
 * Times are hst_now_ns() readings: the step began at start, its forward
 * returned at forward_end, its token was sampled by end. */
typedef struct {
    uint64_t start_ns, forward_end_ns, end_ns;
} runner_step_times;

/* Allocates the trace for req and turns the section timers on. 0, or 1 (one line printed). */
int runner_trace_begin(const run_request *req, run_result *res);
/* The prefill record (counter delta between the two snapshots when counting). */
void runner_trace_prefill(run_result *res, const probes_counter_snapshot *before, const probes_counter_snapshot *after,
                          const runner_step_times *times);
/* One decode record: the step that produced generated[i]. */
void runner_trace_decode(run_result *res, int i, const runner_step_times *times);
/* An RSS sample taken at now_ns. */
void runner_trace_rss(run_result *res, uint64_t now_ns, double rss_bytes);
void runner_trace_free(run_trace *t);
/* The timeline's object (timeline_json) with tool, model, label and pid: what
 * export_trace_render (CSV) and export_trace_events_render read. */
json_t *runner_trace_json(const run_result *res);

/* ---- monitoring figures (probes/runner_metrics.c) ------------------------------ */
/* 0, or 1 (one line printed) when out of memory. */
int runner_metrics_begin(const run_request *req, run_result *res);
/* One decode step's latency. */
void runner_metrics_latency(run_result *res, uint64_t ns);
/* Publishes the figures (at most 4 times a second unless final); mw: the
 * run's memory window (NULL: not sampled). */
void runner_metrics_tick(run_result *res, const probes_memory_window *mw, uint64_t now_ns, int final);
void runner_metrics_free(run_result *res);

#endif
