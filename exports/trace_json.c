/* trace_json.c — the trace as Chrome/Perfetto trace-event JSON (the "JSON
 * Array Format" inside {"traceEvents": [...]}), from the object that
 * timeline_json (probes) builds. ui.perfetto.dev and chrome://tracing open it.
 *
 * One process; a track per pool thread. The thread that calls the forward
 * (index 0) carries what the engine times: a phase slice (prefill, decode)
 * around a "forward" slice per call, the engine's sections nested in it in
 * their order, and a "sample" slice for the sampling after it. The engine
 * times sections on that thread only, so a worker's track has one slice per
 * forward call spanning the call, with the time the worker spent running
 * tasks in it as arguments, not sections. Counter tracks: tokens/s and
 * latency per forward, each counter's delta per forward, each thread's busy
 * share, RSS. Instants: restarts and setting changes.
 *
 * Every slice is a complete ("X") event, so begin and end always balance;
 * events are written in time order; times are microseconds since the
 * trace's origin, with the nanoseconds as three decimals, so a section
 * nested in its forward stays inside it exactly. */
#include "exports/internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    FILE *f;
    int first;
    long long pid;
    long long tid0;
    const json_t *threads;
    char **section_names;   /* JSON-escaped, quotes included */
    size_t n_sections;
    char **counter_names;
    size_t n_counters;
    const json_t *rss, *instants;
    size_t next_rss, next_instant;
} writer;

/* A string as a JSON string literal (quotes included), malloc'd; NULL when out of memory. */
static char *json_literal(const char *s)
{
    json_t *v = json_string(s ? s : "");
    char *out = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return out;
}

/* ns as microseconds with three decimals: exact for any integer ns. */
static void put_us(FILE *f, uint64_t ns)
{
    fprintf(f, "%llu.%03llu", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

static uint64_t uint_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static void begin_event(writer *w)
{
    fputs(w->first ? "\n" : ",\n", w->f);
    w->first = 0;
}

static long long tid_of(const writer *w, size_t index)
{
    const json_t *t = json_array_get(w->threads, index);
    long long tid = (long long)json_integer_value(json_object_get(t, "tid"));
    /* Without a known tid the index stands in, kept apart from the others. */
    return tid > 0 ? tid : (long long)index + 1;
}

/* {"name":NAME,"cat":CAT,"ph":"X","ts":..,"dur":..,"pid":..,"tid":..[,"args":{ARGS}]}; name is a literal. */
static void slice(writer *w, const char *name, const char *cat, long long tid, uint64_t ts, uint64_t dur,
                  const char *args)
{
    begin_event(w);
    fprintf(w->f, "{\"name\":%s,\"cat\":\"%s\",\"ph\":\"X\",\"ts\":", name, cat);
    put_us(w->f, ts);
    fputs(",\"dur\":", w->f);
    put_us(w->f, dur);
    fprintf(w->f, ",\"pid\":%lld,\"tid\":%lld", w->pid, tid);
    if (args && *args)
        fprintf(w->f, ",\"args\":{%s}", args);
    fputc('}', w->f);
}

/* A counter track's value at ts: {"name":NAME,"ph":"C",...,"args":{KEY:value}}. */
static void counter(writer *w, const char *name, const char *key, uint64_t ts, double value)
{
    if (!isfinite(value))
        return;
    begin_event(w);
    fprintf(w->f, "{\"name\":%s,\"cat\":\"counter\",\"ph\":\"C\",\"ts\":", name);
    put_us(w->f, ts);
    fprintf(w->f, ",\"pid\":%lld,\"tid\":%lld,\"args\":{\"%s\":%.9g}}", w->pid, w->tid0, key, value);
}

static void metadata(writer *w, const char *what, long long tid, const char *value_literal, int is_number)
{
    begin_event(w);
    fprintf(w->f, "{\"name\":\"%s\",\"ph\":\"M\",\"ts\":0,\"pid\":%lld,\"tid\":%lld,\"args\":{\"%s\":%s}}", what,
            w->pid, tid, is_number ? "sort_index" : "name", value_literal);
}

static void header(writer *w, const json_t *trace)
{
    char buf[640];
    snprintf(buf, sizeof buf, "%s: %s", ex_string(trace, "tool", "hstprof"), ex_string(trace, "label", ex_string(trace, "model", "")));
    char *name = json_literal(buf);
    metadata(w, "process_name", w->tid0, name ? name : "\"hstprof\"", 0);
    free(name);
    size_t n = json_array_size(w->threads);
    for (size_t i = 0; i < (n ? n : 1); i++) {
        if (i == 0)
            snprintf(buf, sizeof buf, "engine thread 0 (calls the forward; sections)");
        else
            snprintf(buf, sizeof buf, "engine worker %zu (busy time per forward)", i);
        char *thread = json_literal(buf);
        metadata(w, "thread_name", tid_of(w, i), thread ? thread : "\"engine\"", 0);
        free(thread);
        snprintf(buf, sizeof buf, "%zu", i);
        metadata(w, "thread_sort_index", tid_of(w, i), buf, 1);
    }
}

/* RSS samples and instants up to (and at) time limit_ns, in time order. */
static void flush_until(writer *w, uint64_t limit_ns)
{
    for (;;) {
        const json_t *r = json_array_get(w->rss, w->next_rss), *i = json_array_get(w->instants, w->next_instant);
        uint64_t tr = r ? uint_of(r, "time_ns") : UINT64_MAX, ti = i ? uint_of(i, "time_ns") : UINT64_MAX;
        if ((tr == UINT64_MAX && ti == UINT64_MAX) || (tr > limit_ns && ti > limit_ns))
            return;
        if (ti <= tr) {
            char *name = json_literal(ex_str(i, "name")), *detail = json_literal(ex_str(i, "detail"));
            begin_event(w);
            fprintf(w->f, "{\"name\":%s,\"cat\":\"event\",\"ph\":\"i\",\"s\":\"p\",\"ts\":", name ? name : "\"?\"");
            put_us(w->f, ti);
            fprintf(w->f, ",\"pid\":%lld,\"tid\":%lld,\"args\":{\"detail\":%s}}", w->pid, w->tid0,
                    detail ? detail : "\"\"");
            free(name);
            free(detail);
            w->next_instant++;
        } else {
            counter(w, "\"RSS\"", "bytes", tr, ex_num(r, "bytes"));
            w->next_rss++;
        }
    }
}

/* Consecutive records of one phase, generation and round form a phase slice. */
static int same_group(const json_t *a, const json_t *b)
{
    return strcmp(ex_str(a, "phase"), ex_str(b, "phase")) == 0 && uint_of(a, "generation") == uint_of(b, "generation") &&
           uint_of(a, "round") == uint_of(b, "round");
}

static void phase_slice(writer *w, const json_t *tokens, size_t first)
{
    const json_t *a = json_array_get(tokens, first), *last = a;
    size_t n = 0;
    for (size_t k = first; k < json_array_size(tokens) && same_group(a, json_array_get(tokens, k)); k++, n++)
        last = json_array_get(tokens, k);
    uint64_t start = uint_of(a, "start_ns"), end = uint_of(last, "start_ns") + uint_of(last, "latency_ns");
    char args[160];
    snprintf(args, sizeof args, "\"forward_calls\":%zu,\"generation\":%llu", n, (unsigned long long)uint_of(a, "generation"));
    slice(w, strcmp(ex_str(a, "phase"), "prefill") == 0 ? "\"prefill\"" : "\"decode\"", "phase", w->tid0, start,
          end > start ? end - start : 0, args);
}

static void token_counters(writer *w, const json_t *tok, uint64_t start, uint64_t latency, uint64_t forward)
{
    const json_t *deltas = json_object_get(tok, "counter_delta"), *busy = json_object_get(tok, "thread_busy_ns");
    if (latency > 0)
        counter(w, "\"throughput\"", "tokens/s", start, (double)uint_of(tok, "tokens_processed") * 1e9 / (double)latency);
    counter(w, "\"latency\"", "ms", start, (double)latency / 1e6);
    for (size_t c = 0; c < w->n_counters; c++) {
        const json_t *d = json_array_get(deltas, c);
        if (json_is_number(d))
            counter(w, w->counter_names[c], "per forward", start, json_number_value(d));
    }
    for (size_t k = 0; k < json_array_size(busy) && forward > 0; k++) {
        const json_t *b = json_array_get(busy, k);
        char name[64];
        snprintf(name, sizeof name, "\"thread %zu in pool tasks\"", k);
        if (json_is_integer(b))
            counter(w, name, "%", start, 100.0 * (double)json_integer_value(b) / (double)forward);
    }
}

static void forward_args(const json_t *tok, char *args, size_t len)
{
    const json_t *id = json_object_get(tok, "token_id");
    char token[32] = "null";
    if (json_is_integer(id))
        snprintf(token, sizeof token, "%lld", (long long)json_integer_value(id));
    snprintf(args, len, "\"index\":%llu,\"phase\":\"%s\",\"position\":%llu,\"tokens\":%llu,\"token_id\":%s,"
                        "\"latency_us\":%.3f",
             (unsigned long long)uint_of(tok, "index"), ex_str(tok, "phase"), (unsigned long long)uint_of(tok, "position"),
             (unsigned long long)uint_of(tok, "tokens_processed"), token, (double)uint_of(tok, "latency_ns") / 1e3);
}

/* Workers: the call's window with their busy time in it. */
static void worker_slices(writer *w, const json_t *tok, uint64_t start, uint64_t forward)
{
    const json_t *busy = json_object_get(tok, "thread_busy_ns");
    for (size_t k = 1; k < json_array_size(w->threads); k++) {
        const json_t *b = json_array_get(busy, k);
        char args[128] = "\"busy_us\":null";
        if (json_is_integer(b) && forward > 0)
            snprintf(args, sizeof args, "\"busy_us\":%.3f,\"busy_share\":%.4f", (double)json_integer_value(b) / 1e3,
                     (double)json_integer_value(b) / (double)forward);
        slice(w, "\"forward (worker)\"", "forward", tid_of(w, k), start, forward, args);
    }
}

/* The sections tile the forward from its start in the engine's order; a
 * rounding excess (never expected: the engine's clock runs inside the call)
 * is cut at the forward's end so that nesting holds. */
static void section_slices(writer *w, const json_t *tok, uint64_t start, uint64_t forward)
{
    const json_t *ns = json_object_get(tok, "section_ns");
    uint64_t at = start, end = start + forward;
    for (size_t s = 0; s < w->n_sections && at < end; s++) {
        const json_t *v = json_array_get(ns, s);
        uint64_t d = json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
        if (d == 0)
            continue;
        if (at + d > end)
            d = end - at;
        flush_until(w, at); /* an RSS sample or instant inside the call goes where its time is */
        slice(w, w->section_names[s], "section", w->tid0, at, d, NULL);
        at += d;
    }
}

static void token_events(writer *w, const json_t *tokens, size_t k)
{
    const json_t *tok = json_array_get(tokens, k);
    uint64_t start = uint_of(tok, "start_ns"), latency = uint_of(tok, "latency_ns"), forward = uint_of(tok, "forward_ns");
    if (forward > latency)
        forward = latency;
    flush_until(w, start);
    if (k == 0 || !same_group(json_array_get(tokens, k - 1), tok))
        phase_slice(w, tokens, k);
    token_counters(w, tok, start, latency, forward);
    char args[320];
    forward_args(tok, args, sizeof args);
    slice(w, "\"forward\"", "forward", w->tid0, start, forward, args);
    worker_slices(w, tok, start, forward);
    section_slices(w, tok, start, forward);
    if (latency > forward) {
        flush_until(w, start + forward);
        slice(w, "\"sample\"", "sample", w->tid0, start + forward, latency - forward, NULL);
    }
}

/* Names of an array of strings as JSON literals; with a suffix for counters. */
static char **literals(const json_t *names, size_t *n)
{
    *n = json_array_size(names);
    char **out = calloc(*n ? *n : 1, sizeof *out);
    for (size_t i = 0; out && i < *n; i++)
        if (!(out[i] = json_literal(json_string_value(json_array_get(names, i))))) {
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return NULL;
        }
    return out;
}

static void free_literals(char **a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        free(a[i]);
    free(a);
}

static void other_data(FILE *f, const json_t *trace)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "tool", ex_string(trace, "tool", "hstprof"), "model",
                          ex_string(trace, "model", ""), "setting", ex_string(trace, "label", ""), "time_origin",
                          ex_string(trace, "origin", ""), "dropped_forward_calls",
                          (json_int_t)uint_of(trace, "dropped_tokens"));
    char *s = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    fprintf(f, "\"otherData\":%s", s ? s : "{}");
    free(s);
    json_decref(o);
}

char *export_trace_events_render(const json_t *trace)
{
    ex_text t;
    if (ex_text_open(&t) != 0)
        return NULL;
    writer w = {.f = t.f, .first = 1, .threads = json_object_get(trace, "threads"),
                .rss = json_object_get(trace, "rss"), .instants = json_object_get(trace, "instants")};
    w.pid = (long long)uint_of(trace, "pid");
    if (w.pid <= 0)
        w.pid = 1;
    w.tid0 = tid_of(&w, 0);
    w.section_names = literals(json_object_get(trace, "sections"), &w.n_sections);
    w.counter_names = literals(json_object_get(trace, "counters"), &w.n_counters);
    if (!w.section_names || !w.counter_names) {
        free_literals(w.section_names, w.n_sections);
        free_literals(w.counter_names, w.n_counters);
        free(ex_text_close(&t));
        return NULL;
    }
    fputs("{\"displayTimeUnit\":\"ms\",", t.f);
    other_data(t.f, trace);
    fputs(",\"traceEvents\":[", t.f);
    header(&w, trace);
    const json_t *tokens = json_object_get(trace, "tokens");
    for (size_t k = 0; k < json_array_size(tokens); k++)
        token_events(&w, tokens, k);
    flush_until(&w, UINT64_MAX - 1);
    fputs("\n]}\n", t.f);
    free_literals(w.section_names, w.n_sections);
    free_literals(w.counter_names, w.n_counters);
    return ex_text_close(&t);
}

int export_trace_is_json(const char *path)
{
    export_format fmt;
    return export_format_from_path(path, &fmt) == 0 && fmt == EXPORT_JSON;
}
