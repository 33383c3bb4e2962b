/* trace.c — the per-token trace as CSV: one row per forward (the prefill,
 * then each decode step) with its time, latency, section timings and counter
 * deltas. A counter that did not count in a step is an empty field, never 0. */
#include "exports/internal.h"

#include <string.h>

static void header(FILE *f, const json_t *trace)
{
    fputs("token_index,phase,mode,position,tokens_processed,token_id,time_since_start_ns,latency_ns", f);
    size_t i;
    const json_t *name;
    char column[256];
    json_array_foreach(json_object_get(trace, "sections"), i, name)
    {
        snprintf(column, sizeof column, "section.%s_ns", json_string_value(name) ? json_string_value(name) : "?");
        fputc(',', f);
        ex_csv_text(f, column);
    }
    json_array_foreach(json_object_get(trace, "counters"), i, name)
    {
        snprintf(column, sizeof column, "counter.%s_delta", json_string_value(name) ? json_string_value(name) : "?");
        fputc(',', f);
        ex_csv_text(f, column);
    }
    fputs("\r\n", f);
}

static void integer_field(FILE *f, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    fputc(',', f);
    if (json_is_integer(v))
        fprintf(f, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        ex_csv_number(f, json_real_value(v));
}

/* Exactly `width` fields from the array, empty where it has null or nothing. */
static void array_fields(FILE *f, const json_t *values, size_t width)
{
    for (size_t i = 0; i < width; i++) {
        const json_t *v = json_array_get(values, i);
        fputc(',', f);
        if (json_is_integer(v))
            fprintf(f, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            ex_csv_number(f, json_real_value(v));
    }
}

static void row(FILE *f, const json_t *token, const char *mode, size_t n_sections, size_t n_counters)
{
    const json_t *index = json_object_get(token, "index");
    fprintf(f, "%lld,", (long long)json_integer_value(index));
    ex_csv_text(f, ex_string(token, "phase", ""));
    fputc(',', f);
    ex_csv_text(f, mode);
    integer_field(f, token, "position");
    integer_field(f, token, "tokens_processed");
    integer_field(f, token, "token_id");
    integer_field(f, token, "time_ns");
    integer_field(f, token, "latency_ns");
    array_fields(f, json_object_get(token, "section_ns"), n_sections);
    array_fields(f, json_object_get(token, "counter_delta"), n_counters);
    fputs("\r\n", f);
}

char *export_trace_render(const json_t *trace)
{
    ex_text t;
    if (ex_text_open(&t) != 0)
        return NULL;
    size_t n_sections = json_array_size(json_object_get(trace, "sections"));
    size_t n_counters = json_array_size(json_object_get(trace, "counters"));
    header(t.f, trace);
    size_t i;
    const json_t *token;
    json_array_foreach(json_object_get(trace, "tokens"), i, token)
    {
        row(t.f, token, ex_string(trace, "mode", ""), n_sections, n_counters);
    }
    return ex_text_close(&t);
}
