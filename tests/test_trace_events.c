/* test_trace_events.c — the Chrome/Perfetto trace-event JSON of `run --trace
 * FILE.json` and of the dashboard's snapshot, checked against the format's
 * rules: the fields each phase type requires, X slices nested within their
 * parents on every track, begin/end balanced, time never going backwards;
 * and against what it shows: a forward slice per call whose section slices
 * sum to its time within 1%, prefill and decode phases, a track per pool
 * thread, instants for the setting and restarts, counter tracks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "exports/exports.h"
#include "probes/live.h"
#include "probes/live_metrics.h"
#include "probes/runner.h"
#include "probes/timeline.h"
#include "tests/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_NS 60000000000ull /* bounds a hang only: ASan builds on a busy machine are slow */
#define MAX_TRACKS 64

/* ---- the format's rules -------------------------------------------------------------------------- */

typedef struct {
    long long tid;
    int depth;
    long long end_ns[64]; /* open X slices, innermost last */
    int begins;           /* B minus E */
} track;

typedef struct {
    size_t events, slices, counters, instants, metadata;
    int forwards, checked_forwards;
    double worst_section_error; /* |sections - forward| / forward, the largest */
    double section_errors[4096]; /* each checked forward's, for the median */
    long long sections_ns, forwards_ns; /* summed over the checked forwards */
    int prefill_phases, decode_phases, restarts, settings;
    int threads_named;
    int rss_points, throughput_points, latency_points;
    size_t worker_slices;
    track tracks[MAX_TRACKS];
    int n_tracks;
} trace_summary;

static const char *text_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long long ns_of(const json_t *v)
{
    return llround(json_number_value(v) * 1000.0);
}

static track *track_of(trace_summary *s, long long tid)
{
    for (int i = 0; i < s->n_tracks; i++)
        if (s->tracks[i].tid == tid)
            return &s->tracks[i];
    assert_true(s->n_tracks < MAX_TRACKS);
    track *t = &s->tracks[s->n_tracks++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    return t;
}

/* The fields every event has, and those of its phase type. */
static void check_fields(const json_t *e, size_t i)
{
    const char *ph = text_of(e, "ph"), *name = text_of(e, "name");
    if (!*ph || !*name || !json_is_integer(json_object_get(e, "pid")) ||
        !json_is_integer(json_object_get(e, "tid")) || !json_is_number(json_object_get(e, "ts")))
        fail_msg("event %zu lacks name, ph, pid, tid or ts", i);
    assert_true(json_number_value(json_object_get(e, "ts")) >= 0);
    if (strcmp(ph, "X") == 0) {
        assert_true(json_is_number(json_object_get(e, "dur")));
        assert_true(json_number_value(json_object_get(e, "dur")) >= 0);
    } else if (strcmp(ph, "C") == 0) {
        const json_t *args = json_object_get(e, "args"), *v;
        const char *key;
        assert_true(json_is_object(args) && json_object_size(args) > 0);
        json_object_foreach((json_t *)args, key, v)
        {
            assert_true(json_is_number(v) && isfinite(json_number_value(v)));
        }
    } else if (strcmp(ph, "i") == 0 || strcmp(ph, "I") == 0) {
        const char *scope = json_string_value(json_object_get(e, "s"));
        assert_true(!scope || strcmp(scope, "g") == 0 || strcmp(scope, "p") == 0 || strcmp(scope, "t") == 0);
    } else if (strcmp(ph, "M") == 0) {
        assert_true(strcmp(name, "process_name") == 0 || strcmp(name, "thread_name") == 0 ||
                    strcmp(name, "process_sort_index") == 0 || strcmp(name, "thread_sort_index") == 0);
        assert_true(json_is_object(json_object_get(e, "args")));
    } else if (strcmp(ph, "B") != 0 && strcmp(ph, "E") != 0) {
        fail_msg("event %zu: phase type '%s' is not one hstprof writes", i, ph);
    }
}

/* X slices on one track nest: each lies inside the innermost open one, or after it. */
static void check_nesting(track *t, long long ts, long long dur, size_t i)
{
    while (t->depth > 0 && t->end_ns[t->depth - 1] <= ts)
        t->depth--;
    if (t->depth > 0 && ts + dur > t->end_ns[t->depth - 1])
        fail_msg("event %zu [%lld, %lld] ns overlaps its parent ending at %lld ns on tid %lld", i, ts, ts + dur,
                 t->end_ns[t->depth - 1], t->tid);
    assert_true(t->depth < 64);
    t->end_ns[t->depth++] = ts + dur;
}

/* The section slices directly inside the forward slice at events[k]: their sum against its time. */
static void check_sections(const json_t *events, size_t k, trace_summary *s)
{
    const json_t *fwd = json_array_get(events, k);
    long long ts = ns_of(json_object_get(fwd, "ts")), dur = ns_of(json_object_get(fwd, "dur"));
    long long tid = json_integer_value(json_object_get(fwd, "tid")), sum = 0;
    int n = 0;
    for (size_t j = k + 1; j < json_array_size(events); j++) {
        const json_t *e = json_array_get(events, j);
        if (ns_of(json_object_get(e, "ts")) >= ts + dur)
            break;
        if (json_integer_value(json_object_get(e, "tid")) != tid ||
            strcmp(text_of(e, "cat"), "section") != 0)
            continue;
        sum += ns_of(json_object_get(e, "dur"));
        n++;
    }
    s->forwards++;
    if (dur <= 0 || n == 0)
        return;
    double error = fabs((double)(sum - dur)) / (double)dur;
    s->worst_section_error = error > s->worst_section_error ? error : s->worst_section_error;
    if (s->checked_forwards < (int)(sizeof s->section_errors / sizeof s->section_errors[0]))
        s->section_errors[s->checked_forwards] = error;
    s->sections_ns += sum;
    s->forwards_ns += dur;
    s->checked_forwards++;
}

static void count_event(const json_t *events, size_t i, trace_summary *s)
{
    const json_t *e = json_array_get(events, i);
    const char *ph = text_of(e, "ph"), *name = text_of(e, "name"), *cat = text_of(e, "cat");
    if (strcmp(ph, "X") == 0) {
        s->slices++;
        s->prefill_phases += strcmp(cat, "phase") == 0 && strcmp(name, "prefill") == 0;
        s->decode_phases += strcmp(cat, "phase") == 0 && strcmp(name, "decode") == 0;
        s->worker_slices += strcmp(name, "forward (worker)") == 0;
        if (strcmp(name, "forward") == 0)
            check_sections(events, i, s);
    } else if (strcmp(ph, "C") == 0) {
        s->counters++;
        s->rss_points += strcmp(name, "RSS") == 0;
        s->throughput_points += strcmp(name, "throughput") == 0;
        s->latency_points += strcmp(name, "latency") == 0;
    } else if (strcmp(ph, "i") == 0) {
        s->instants++;
        s->restarts += strcmp(name, "restart") == 0;
        s->settings += strcmp(name, "setting") == 0;
    } else if (strcmp(ph, "M") == 0) {
        s->metadata++;
        s->threads_named += strcmp(name, "thread_name") == 0;
    }
}

/* Every rule of the format, then what the trace holds. */
static void check_trace(const char *text, trace_summary *s)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (!doc)
        fail_msg("not JSON: %s at line %d", jerr.text, jerr.line);
    const json_t *events = json_object_get(doc, "traceEvents");
    assert_true(json_is_array(events) && json_array_size(events) > 0);
    memset(s, 0, sizeof *s);
    long long last_ts = -1;
    for (size_t i = 0; i < json_array_size(events); i++) {
        const json_t *e = json_array_get(events, i);
        check_fields(e, i);
        const char *ph = text_of(e, "ph");
        long long ts = ns_of(json_object_get(e, "ts"));
        track *t = track_of(s, json_integer_value(json_object_get(e, "tid")));
        if (strcmp(ph, "M") != 0) {
            if (ts < last_ts)
                fail_msg("event %zu at %lld ns comes after one at %lld ns", i, ts, last_ts);
            last_ts = ts;
        }
        if (strcmp(ph, "X") == 0)
            check_nesting(t, ts, ns_of(json_object_get(e, "dur")), i);
        t->begins += strcmp(ph, "B") == 0 ? 1 : strcmp(ph, "E") == 0 ? -1 : 0;
        assert_true(t->begins >= 0);
        count_event(events, i, s);
        s->events++;
    }
    for (int i = 0; i < s->n_tracks; i++)
        assert_int_equal(s->tracks[i].begins, 0);
    json_decref(doc);
}

/* ---- `run --trace FILE.json` ------------------------------------------------------------------------ */

static void run_traced(int threads, int n_tokens, run_result *res)
{
    static int prompt[24];
    for (int i = 0; i < 24; i++)
        prompt[i] = 7 + 13 * i;
    run_request req;
    memset(&req, 0, sizeof req);
    req.session.model = "hst-v4";
    req.session.threads = threads;
    req.session.affinity = "none";
    req.prompt = prompt;
    req.n_prompt = 24;
    req.n_tokens = n_tokens;
    req.trace = 1;
    assert_int_equal(runner_prepare(&req, res), 0);
    assert_int_equal(runner_generate(&req, res), 0);
}

static void test_run_trace_follows_the_trace_event_format(void **state)
{
    (void)state;
    run_result *res = calloc(1, sizeof *res);
    run_traced(2, 32, res);
    json_t *trace = runner_trace_json(res);
    char *text = export_trace_events_render(trace);
    assert_non_null(text);
    trace_summary *s = calloc(1, sizeof *s);
    check_trace(text, s);
    /* a forward slice per call: the prefill and 31 decode steps, each with its sections */
    assert_int_equal(s->forwards, 32);
    assert_int_equal(s->checked_forwards, 32);
    assert_int_equal(s->prefill_phases, 1);
    assert_int_equal(s->decode_phases, 1);
    assert_int_equal(s->threads_named, 2);       /* a track per pool thread */
    assert_int_equal(s->worker_slices, 32);       /* the worker: one slice per forward call */
    assert_int_equal(s->settings, 1);
    assert_int_equal(s->restarts, 0);
    assert_int_equal(s->throughput_points, 32);
    assert_int_equal(s->latency_points, 32);
    assert_true(s->rss_points >= 1);
    json_decref(trace);
    free(text);
    free(s);
    runner_release(res);
    free(res);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The sections against the forwards' time: over the whole run, and for the
 * median forward. A single forward can be off by a preemption that lands in
 * the call outside its sections (tens of µs on a busy host, 10% of a decode
 * step); a section left untimed shifts every forward and the sum. */
static void check_sections_cover_the_forwards(trace_summary *s)
{
    assert_true(s->checked_forwards > 0 && s->forwards_ns > 0);
    double total = fabs((double)(s->sections_ns - s->forwards_ns)) / (double)s->forwards_ns;
    if (total > 0.01)
        fail_msg("the sections sum to %.2f%% off the forwards' time over the run", 100 * total);
    int n = s->checked_forwards < 4096 ? s->checked_forwards : 4096;
    qsort(s->section_errors, (size_t)n, sizeof s->section_errors[0], compare_doubles);
    if (s->section_errors[n / 2] > 0.01)
        fail_msg("the median forward's sections sum to %.2f%% off its time", 100 * s->section_errors[n / 2]);
}

/* The engine times its sections inside the forward call, one after another:
 * together they are the call's time (what is left is the call's entry and
 * argument checks, well under 1%), over the run and for the typical forward. */
static void test_section_slices_sum_to_the_forward_time_within_1_percent(void **state)
{
    (void)state;
    run_result *res = calloc(1, sizeof *res);
    run_traced(1, 48, res);
    json_t *trace = runner_trace_json(res);
    char *text = export_trace_events_render(trace);
    trace_summary *s = calloc(1, sizeof *s);
    check_trace(text, s);
    assert_int_equal(s->checked_forwards, 48);
    check_sections_cover_the_forwards(s);
    /* Names as the per-layer panel shows them. */
    const json_t *names = json_object_get(trace, "sections");
    for (size_t i = 0; i < json_array_size(names); i++) {
        char quoted[96];
        snprintf(quoted, sizeof quoted, "\"name\":\"%s\",\"cat\":\"section\"", json_string_value(json_array_get(names, i)));
        if (!strstr(text, quoted))
            fail_msg("no section slice named %s", json_string_value(json_array_get(names, i)));
    }
    json_decref(trace);
    free(text);
    free(s);
    runner_release(res);
    free(res);
}

/* ---- a trace from fixed data: restarts, rounds, clipping ---------------------------------------------- */

static void test_restarts_and_rounds_split_phases_and_mark_instants(void **state)
{
    (void)state;
    const char *sections[2] = {"embed", "head"}, *counters[1] = {"task-clock"};
    const int tids[2] = {100, 101};
    const timeline_shape shape = {2, sections, 2, tids, 1, counters, 1000};
    timeline *t = timeline_create(&shape, 8, 8, 8, 1);
    uint64_t sec[2] = {300, 500}, over[2] = {700, 900}, busy[2] = {600, 400};
    double delta[1] = {1234};
    uint64_t at = 2000;
    for (int k = 0; k < 6; k++) {
        int prefill = k == 0 || k == 3; /* the second prefill: a restart */
        const timeline_record r = {.phase = prefill ? 0 : 1, .position = k, .n_tokens = prefill ? 4 : 1,
                                   .token_id = k, .generation = k < 3 ? 1 : 2, .start_ns = at, .forward_ns = 1000,
                                   .latency_ns = 1100, .section_ns = k == 5 ? over : sec, .thread_busy_ns = busy,
                                   .counter_delta = delta};
        timeline_add(t, &r);
        timeline_add_rss(t, at + 1100, 1e6 * (k + 1));
        at += 1500;
    }
    json_t *trace = timeline_json(t, NULL);
    char *text = export_trace_events_render(trace);
    trace_summary *s = calloc(1, sizeof *s);
    check_trace(text, s);
    assert_int_equal(s->forwards, 6);
    assert_int_equal(s->prefill_phases, 2);
    assert_int_equal(s->decode_phases, 2);
    assert_int_equal(s->restarts, 1);
    assert_int_equal(s->rss_points, 6);
    /* sections longer than their forward (1600 of 1000 ns) are cut at its end, so nesting holds */
    assert_non_null(strstr(text, "\"name\":\"head\",\"cat\":\"section\",\"ph\":\"X\",\"ts\":9.200,\"dur\":0.300"));
    assert_non_null(strstr(text, "\"ts\":1.000,\"dur\":1.000,\"pid\":1,\"tid\":100,\"args\":{\"index\":0"));
    json_decref(trace);
    free(text);
    free(s);
    timeline_free(t);
}

/* ---- the dashboard's snapshot: the segment on screen ------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_dashboard_trace_of_the_shown_segment_follows_the_format(void **state)
{
    (void)state;
    live_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.setting.model, sizeof o.setting.model, "hst-v4");
    o.setting.threads = 1;
    snprintf(o.setting.affinity, sizeof o.setting.affinity, "none");
    snprintf(o.setting.kernel, sizeof o.setting.kernel, "auto");
    o.max_seq_len = 24; /* generations restart often */
    o.ring_capacity = 1 << 14;
    char err[256];
    live_engine *e = live_start(&o, err, sizeof err);
    assert_non_null(e);
    live_metrics_options mo = {.no_ceilings = 1, .update_ms = 20};
    live_metrics *m = live_metrics_start(e, &mo, err, sizeof err);
    assert_non_null(m);
    live_view *v = calloc(1, sizeof *v);
    uint64_t until = hst_now_ns() + WAIT_NS;
    do {
        sleep_ms(20);
        live_metrics_view(m, v);
    } while ((v->current.prefills < 3 || v->current.decode_tokens < 40) && hst_now_ns() < until);
    assert_true(v->current.prefills >= 3);
    json_t *trace = live_metrics_trace_json(m, v->current.info.id);
    assert_non_null(trace);
    char *text = export_trace_events_render(trace);
    trace_summary *s = calloc(1, sizeof *s);
    check_trace(text, s);
    assert_true(s->forwards >= 40);
    assert_true(s->prefill_phases >= 3 && s->decode_phases >= 2);
    assert_true(s->restarts >= 2); /* every prefill after the first: the context was full */
    assert_int_equal(s->settings, 1);
    check_sections_cover_the_forwards(s);
    /* an unknown segment has no trace */
    assert_null(live_metrics_trace_json(m, v->current.info.id + 1000));
    json_decref(trace);
    free(text);
    free(s);
    free(v);
    live_metrics_stop(m);
    live_stop(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_trace_follows_the_trace_event_format),
        cmocka_unit_test(test_section_slices_sum_to_the_forward_time_within_1_percent),
        cmocka_unit_test(test_restarts_and_rounds_split_phases_and_mark_instants),
        cmocka_unit_test(test_dashboard_trace_of_the_shown_segment_follows_the_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
