/* runner_trace.c — the per-token trace of `hstprof run --trace`: one
 * timeline record per forward (the prefill, then each decode step) with its
 * section timings, the pool threads' busy time and the counter deltas, and
 * the RSS samples the run loop takes. Sized before the loop; recording a
 * token only writes into arrays. */
#include "probes/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Pool threads' busy time since the last boundary (none without a pool). */
static void read_busy(run_result *res)
{
    run_trace *t = &res->trace;
    for (int k = 0; k < t->n_threads; k++) {
        uint64_t now = hst_pool_thread_busy_ns(res->measured.pool, k);
        t->busy_ns[k] = now - t->busy_before[k];
        t->busy_before[k] = now;
    }
}

static timeline *create_timeline(const run_request *req, run_result *res)
{
    run_trace *t = &res->trace;
    const char **section_names = calloc((size_t)(t->n_sections > 0 ? t->n_sections : 1), sizeof *section_names);
    const char **counter_names = calloc((size_t)(t->n_counters > 0 ? t->n_counters : 1), sizeof *counter_names);
    probes_event_info *events = calloc((size_t)(t->n_counters > 0 ? t->n_counters : 1), sizeof *events);
    int *tids = calloc((size_t)(t->n_threads > 0 ? t->n_threads : 1), sizeof *tids);
    timeline *tl = NULL;
    if (section_names && counter_names && events && tids) {
        for (int s = 0; s < t->n_sections; s++)
            section_names[s] = hst_session_section_name(res->session, s);
        for (int c = 0; c < t->n_counters; c++) {
            probes_counters_event(res->measured.counters, c, &events[c]);
            counter_names[c] = events[c].name;
        }
        for (int k = 0; k < t->n_threads; k++)
            tids[k] = hst_pool_thread_tid(res->measured.pool, k);
        const timeline_shape shape = {t->n_sections, section_names, t->n_threads, tids, t->n_counters, counter_names,
                                      hst_now_ns()};
        int rows = req->n_tokens > 1 ? req->n_tokens : 1; /* the prefill record + one per decode step */
        /* The run loop samples RSS at most once between two tokens. */
        tl = timeline_create(&shape, rows, rows + 2, 8, 0);
    }
    char label[512];
    runner_setting_label(res, label, sizeof label);
    if (tl) /* the run's one setting, from its start */
        timeline_add_instant(tl, hst_now_ns(), "setting", label);
    free(section_names);
    free(counter_names);
    free(events);
    free(tids);
    return tl;
}

int runner_trace_begin(const run_request *req, run_result *res)
{
    run_trace *t = &res->trace;
    memset(t, 0, sizeof *t);
    t->n_sections = hst_session_section_count(res->session);
    t->n_counters = res->have_counters ? probes_counters_event_count(res->measured.counters) : 0;
    t->n_threads = res->measured.pool ? hst_pool_threads(res->measured.pool) : 0;
    t->section_ns = calloc((size_t)(t->n_sections > 0 ? t->n_sections : 1), sizeof *t->section_ns);
    t->busy_before = calloc((size_t)(t->n_threads > 0 ? t->n_threads : 1), sizeof *t->busy_before);
    t->busy_ns = calloc((size_t)(t->n_threads > 0 ? t->n_threads : 1), sizeof *t->busy_ns);
    t->counter_delta = calloc((size_t)(t->n_counters > 0 ? t->n_counters : 1), sizeof *t->counter_delta);
    if (t->section_ns && t->busy_before && t->busy_ns && t->counter_delta)
        t->records = create_timeline(req, res);
    if (!t->records) {
        runner_trace_free(t);
        fprintf(stderr, "hstprof run: --trace: out of memory for %d tokens\n", req->n_tokens);
        return 1;
    }
    read_busy(res); /* the baseline: busy time before the prefill */
    t->enabled = 1;
    hst_session_set_timing(res->session, 1);
    return 0;
}

static void add_record(run_result *res, int phase, int position, int n_tokens, int token_id,
                       const runner_step_times *times)
{
    run_trace *t = &res->trace;
    hst_session_last_section_ns(res->session, t->section_ns);
    read_busy(res);
    const timeline_record r = {
        .phase = phase, .position = position, .n_tokens = n_tokens, .token_id = token_id,
        .generation = res->soak.active ? res->soak.cycles : 1, .start_ns = times->start_ns,
        .forward_ns = times->forward_end_ns - times->start_ns, .latency_ns = times->end_ns - times->start_ns,
        .section_ns = t->section_ns, .thread_busy_ns = t->n_threads > 0 ? t->busy_ns : NULL,
        .counter_delta = t->n_counters > 0 ? t->counter_delta : NULL};
    timeline_add(t->records, &r);
}

void runner_trace_prefill(run_result *res, const probes_counter_snapshot *before, const probes_counter_snapshot *after,
                          const runner_step_times *times)
{
    run_trace *t = &res->trace;
    if (t->n_counters > 0) {
        probes_counter_deltas(before, after, t->n_counters, t->counter_delta);
        t->last = *after;
    }
    add_record(res, 0, 0, res->prompt_len, res->n_generated > 0 ? res->generated[0] : -1, times);
}

void runner_trace_decode(run_result *res, int i, const runner_step_times *times)
{
    run_trace *t = &res->trace;
    if (t->n_counters > 0) {
        probes_counter_snapshot now_snap;
        probes_counters_read(res->measured.counters, &now_snap);
        probes_counter_deltas(&t->last, &now_snap, t->n_counters, t->counter_delta);
        t->last = now_snap;
    }
    /* generated[i - 1] was fed at this position */
    add_record(res, 1, res->prompt_len + i - 1, 1, res->generated[i], times);
}

void runner_trace_rss(run_result *res, uint64_t now_ns, double rss_bytes)
{
    if (res->trace.enabled)
        timeline_add_rss(res->trace.records, now_ns, rss_bytes);
}

void runner_trace_free(run_trace *t)
{
    timeline_free(t->records);
    free(t->section_ns);
    free(t->busy_before);
    free(t->busy_ns);
    free(t->counter_delta);
    memset(t, 0, sizeof *t);
}

json_t *runner_trace_json(const run_result *res)
{
    char label[512];
    runner_setting_label(res, label, sizeof label);
    json_t *context = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "tool", "hstprof run", "model", res->model_name,
                                "mode", hst_mode_name(res->mode), "mode_label", res->mode_label, "label", label, "origin",
                                "the run's start (before the prefill)", "pid", (int)getpid());
    json_t *o = context ? timeline_json(res->trace.records, context) : NULL;
    json_decref(context);
    return o;
}
