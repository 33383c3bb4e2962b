/* metrics.c — the monitoring figures in the Prometheus text exposition
 * format (version 0.0.4, which node_exporter's textfile collector reads too),
 * from the object probes_metrics_json builds. Names follow Prometheus'
 * conventions: base units (seconds, bytes), counters end in _total, one
 * HELP and TYPE line per family with all its samples together. A figure
 * that is not known has no sample at all (a dashboard shows a gap, not 0). */
#include "exports/internal.h"

#include <math.h>
#include <string.h>

#define LABEL_KEYS 7
static const char *const label_keys[LABEL_KEYS] = {"model", "mode", "precision", "kernel", "threads", "affinity", "host"};

/* A label value: backslash, double quote and line feed escaped. */
static void label_value(FILE *f, const char *v)
{
    fputc('"', f);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
    fputc('"', f);
}

/* {model="...",...,host="..."[,extra_key="extra"]} */
static void labels(FILE *f, const json_t *l, const char *extra_key, const char *extra)
{
    fputc('{', f);
    for (int i = 0; i < LABEL_KEYS; i++) {
        const json_t *v = json_object_get(l, label_keys[i]);
        char number[32];
        const char *text = json_string_value(v);
        if (json_is_integer(v)) {
            snprintf(number, sizeof number, "%lld", (long long)json_integer_value(v));
            text = number;
        }
        fprintf(f, "%s%s=", i ? "," : "", label_keys[i]);
        label_value(f, text ? text : "");
    }
    if (extra_key && extra) {
        fprintf(f, ",%s=", extra_key);
        label_value(f, extra);
    }
    fputc('}', f);
}

static void value(FILE *f, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        fprintf(f, " %.0f\n", v);
    else
        fprintf(f, " %.10g\n", v);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One counter family: a sample per series that has key. */
static void series_counter(FILE *f, const json_t *series, const char *key, const char *name, const char *help)
{
    size_t i;
    const json_t *x;
    int any = 0;
    json_array_foreach(series, i, x)
    {
        const json_t *v = json_object_get(x, key);
        if (!json_is_number(v))
            continue;
        if (!any++)
            family(f, name, "counter", help);
        fputs(name, f);
        labels(f, json_object_get(x, "labels"), NULL, NULL);
        value(f, json_number_value(v));
    }
}

static void latency_histogram(FILE *f, const json_t *series)
{
    const char *name = "hstprof_token_latency_seconds";
    size_t i;
    const json_t *x;
    int any = 0;
    json_array_foreach(series, i, x)
    {
        const json_t *h = json_object_get(x, "latency"), *l = json_object_get(x, "labels");
        const json_t *bounds = json_object_get(h, "bounds_s"), *counts = json_object_get(h, "counts");
        if (!json_is_object(h))
            continue;
        if (!any++)
            family(f, name, "histogram", "Time per decode step (one forward through the KV cache plus sampling).");
        for (size_t b = 0; b < json_array_size(bounds); b++) {
            char le[32];
            snprintf(le, sizeof le, "%.6g", json_number_value(json_array_get(bounds, b)));
            fprintf(f, "%s_bucket", name);
            labels(f, l, "le", le);
            value(f, json_number_value(json_array_get(counts, b)));
        }
        fprintf(f, "%s_bucket", name);
        labels(f, l, "le", "+Inf");
        value(f, ex_num(h, "count"));
        fprintf(f, "%s_sum", name);
        labels(f, l, NULL, NULL);
        value(f, ex_num(h, "sum_s"));
        fprintf(f, "%s_count", name);
        labels(f, l, NULL, NULL);
        value(f, ex_num(h, "count"));
    }
}

static void counter_events(FILE *f, const json_t *series)
{
    const char *name = "hstprof_perf_events_total";
    size_t i, k;
    const json_t *x, *e;
    int any = 0;
    json_array_foreach(series, i, x)
    {
        json_array_foreach(json_object_get(x, "events"), k, e)
        {
            if (!json_is_number(json_object_get(e, "total")))
                continue;
            if (!any++)
                family(f, name, "counter",
                       "Hardware and software counter events while generating, summed over the engine's threads "
                       "and scaled for multiplexing (task-clock counts nanoseconds).");
            fputs(name, f);
            labels(f, json_object_get(x, "labels"), "event", ex_str(e, "name"));
            value(f, ex_num(e, "total"));
        }
    }
}

static void gauge(FILE *f, const json_t *gauges, const char *key, const char *name, const char *help)
{
    const json_t *v = json_object_get(gauges, key);
    if (!json_is_number(v))
        return;
    family(f, name, "gauge", help);
    fputs(name, f);
    labels(f, json_object_get(gauges, "labels"), NULL, NULL);
    value(f, json_number_value(v));
}

char *export_metrics_render(const json_t *metrics)
{
    ex_text t;
    if (ex_text_open(&t) != 0)
        return NULL;
    const json_t *series = json_object_get(metrics, "series"), *g = json_object_get(metrics, "gauges");
    series_counter(t.f, series, "tokens_generated", "hstprof_tokens_generated_total",
                   "Tokens generated (each prefill yields the first token of its generation).");
    series_counter(t.f, series, "prefill_tokens", "hstprof_prefill_tokens_total", "Prompt tokens prefilled.");
    series_counter(t.f, series, "restarts", "hstprof_restarts_total",
                   "Generations restarted from the prompt because the context was full.");
    counter_events(t.f, series);
    latency_histogram(t.f, series);
    gauge(t.f, g, "tokens_per_s", "hstprof_decode_tokens_per_second",
          "Decode throughput over about the last second of generation.");
    gauge(t.f, g, "rss_bytes", "hstprof_resident_memory_bytes", "Resident set size of the process.");
    gauge(t.f, g, "pss_bytes", "hstprof_proportional_memory_bytes", "Proportional set size of the process.");
    gauge(t.f, g, "kv_cache_bytes", "hstprof_kv_cache_bytes", "Bytes of the session's decode state (KV cache).");
    gauge(t.f, g, "bytes_per_s", "hstprof_achieved_bandwidth_bytes_per_second",
          "Bytes the decode steps read and wrote per second of decode time, about the last second.");
    gauge(t.f, g, "flops_per_s", "hstprof_achieved_flops_per_second",
          "Floating-point operations of the decode steps per second of decode time, about the last second.");
    return ex_text_close(&t);
}
