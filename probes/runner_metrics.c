/* runner_metrics.c — a run's monitoring figures (what `run --metrics-listen`
 * and `--metrics-file` serve): one series for the run's setting, its counts
 * taken from the run's own figures, the decode latencies into the
 * histogram, counter totals since the run began, and gauges over about the
 * last second. Published to the feed a few times a second; nothing here
 * allocates per token. */
#include "probes/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUBLISH_EVERY_NS 250000000ull
#define GAUGE_WINDOW_NS 1000000000ull /* gauges: about the last second */

struct runner_metrics {
    probes_metrics_feed *feed;
    probes_metrics_state state;
    probes_metrics_series *series;
    probes_counter_snapshot start; /* counters when the run began */
    uint64_t last_publish_ns, gauge_at_ns;
    int64_t gauge_steps;
    double gauge_ms, gauge_bytes, gauge_flops; /* decode figures at gauge_at_ns */
};

static void labels_of(const run_result *res, probes_metrics_labels *l)
{
    memset(l, 0, sizeof *l);
    snprintf(l->model, sizeof l->model, "%s", res->model_name);
    snprintf(l->mode, sizeof l->mode, "%s", hst_mode_name(hst_session_mode(res->session)));
    snprintf(l->precision, sizeof l->precision, "%s", res->precision);
    snprintf(l->kernel, sizeof l->kernel, "%s", res->kernel);
    snprintf(l->affinity, sizeof l->affinity, "%s", probes_session_affinity_policy(&res->measured));
    l->threads = res->threads;
}

int runner_metrics_begin(const run_request *req, run_result *res)
{
    struct runner_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        fprintf(stderr, "hstprof run: out of memory for the metrics\n");
        return 1;
    }
    m->feed = req->metrics;
    probes_metrics_state_init(&m->state);
    probes_metrics_labels labels;
    labels_of(res, &labels);
    m->series = probes_metrics_state_use(&m->state, &labels);
    if (res->have_counters) {
        int n = probes_counters_event_count(res->measured.counters);
        char(*names)[PROBES_NAME_MAX] = calloc((size_t)n + 1, sizeof *names);
        for (int i = 0; names && i < n; i++) {
            probes_event_info info;
            probes_counters_event(res->measured.counters, i, &info);
            snprintf(names[i], sizeof names[i], "%s", info.name);
        }
        if (names)
            probes_metrics_series_events(m->series, n, (const char(*)[PROBES_NAME_MAX])names);
        free(names);
        probes_counters_read(res->measured.counters, &m->start);
    }
    m->state.kv_cache_bytes = res->kv_cache_bytes > 0 ? res->kv_cache_bytes : NAN;
    res->metrics = m;
    return 0;
}

void runner_metrics_latency(run_result *res, uint64_t ns)
{
    probes_metrics_series_latency(res->metrics->series, ns);
}

/* Rates over the decode steps since the last gauge point, once it is a second old. */
static void update_rates(struct runner_metrics *m, const run_result *res, uint64_t now_ns, int final)
{
    double ms = res->decode_ms - m->gauge_ms;
    int due = now_ns - m->gauge_at_ns >= GAUGE_WINDOW_NS || (final && !isfinite(m->state.tokens_per_s));
    if (!due || ms <= 0)
        return;
    m->state.tokens_per_s = (double)(res->decode_steps - m->gauge_steps) / (ms / 1e3);
    m->state.bytes_per_s = (res->decode_bytes - m->gauge_bytes) / (ms / 1e3);
    m->state.flops_per_s = (res->decode_flops - m->gauge_flops) / (ms / 1e3);
    m->gauge_at_ns = now_ns;
    m->gauge_steps = res->decode_steps;
    m->gauge_ms = res->decode_ms;
    m->gauge_bytes = res->decode_bytes;
    m->gauge_flops = res->decode_flops;
}

static void update_counters(struct runner_metrics *m, const run_result *res)
{
    probes_counter_snapshot now;
    double totals[PROBES_MAX_EVENTS];
    probes_metrics_series *x = m->series;
    probes_counters_read(res->measured.counters, &now);
    probes_counter_deltas(&m->start, &now, x->n_events, totals);
    for (int i = 0; i < x->n_events; i++) {
        /* Totals since the start, not sums of deltas: a group lost mid-run keeps its last total. */
        if (isfinite(totals[i])) {
            x->event_total[i] = totals[i];
            x->event_counted[i] = 1;
        }
    }
}

void runner_metrics_tick(run_result *res, const probes_memory_window *mw, uint64_t now_ns, int final)
{
    struct runner_metrics *m = res->metrics;
    if (!m || (!final && now_ns - m->last_publish_ns < PUBLISH_EVERY_NS))
        return;
    m->last_publish_ns = now_ns;
    if (m->gauge_at_ns == 0)
        m->gauge_at_ns = res->wall_start_ns;
    probes_metrics_series *x = m->series;
    uint64_t cycles = res->soak.active ? res->soak.cycles : 1;
    x->tokens_generated = (uint64_t)res->tokens_total;
    x->prefill_tokens = (uint64_t)res->prompt_len * cycles;
    x->restarts = cycles - 1;
    if (res->have_counters)
        update_counters(m, res);
    update_rates(m, res, now_ns, final);
    m->state.rss_bytes = mw && mw->rss_ok ? (double)mw->rss_bytes : NAN;
    m->state.pss_bytes = mw && mw->pss_ok ? (double)mw->pss_bytes : NAN;
    probes_metrics_feed_publish(m->feed, &m->state);
}

void runner_metrics_free(run_result *res)
{
    free(res->metrics);
    res->metrics = NULL;
}
