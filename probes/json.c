/* json.c — probe results as JSON: one rule for a figure that is not known
 * (null beside "<key>_why_not"), and the objects run, bench and the
 * dashboard's snapshots share. */
#include "probes/json.h"

#include <stdio.h>

void probes_json_put_or_why(json_t *o, const char *key, json_t *value, const char *why)
{
    if (value) {
        json_object_set_new(o, key, value);
        return;
    }
    char why_key[128];
    snprintf(why_key, sizeof why_key, "%s_why_not", key);
    json_object_set_new(o, key, json_null());
    /* A metric never filled in (zeroed) has no reason yet: it was not measured. */
    json_object_set_new(o, why_key, json_string(why && *why ? why : "not measured yet"));
}

void probes_metric_put_json(json_t *o, const char *key, const probes_metric *m)
{
    probes_json_put_or_why(o, key, m->valid ? json_real(m->value) : NULL, m->why_not);
}

json_t *probes_counter_window_json(const probes_counter_window *w)
{
    json_t *events = json_array(), *derived = json_object();
    for (int i = 0; i < w->n_counters; i++) {
        const probes_counter_value *c = &w->counters[i];
        json_t *e = json_pack("{s:s, s:s, s:i}", "name", c->name, "backend", c->backend, "group", c->group);
        /* An event that counted nothing has no raw count or times, not zeros. */
        int counted = c->value.valid;
        probes_json_put_or_why(e, "raw", counted ? json_integer((json_int_t)c->raw) : NULL, c->value.why_not);
        probes_json_put_or_why(e, "time_enabled_ns", counted ? json_integer((json_int_t)c->time_enabled_ns) : NULL,
                               c->value.why_not);
        probes_json_put_or_why(e, "time_running_ns", counted ? json_integer((json_int_t)c->time_running_ns) : NULL,
                               c->value.why_not);
        probes_metric_put_json(e, "value", &c->value);
        probes_metric_put_json(e, "running_share", &c->running_share);
        if (c->note[0])
            json_object_set_new(e, "note", json_string(c->note));
        json_array_append_new(events, e);
    }
    for (int i = 0; i < w->n_derived; i++)
        probes_metric_put_json(derived, w->derived[i].name, &w->derived[i].metric);
    return json_pack("{s:I, s:o, s:o}", "window_ns", (json_int_t)w->window_ns, "events", events, "derived", derived);
}

json_t *probes_memory_report_json(const probes_memory_report *m)
{
    json_t *o = json_pack("{s:I, s:I}", "window_ns", (json_int_t)m->window_ns, "samples", (json_int_t)m->samples);
    const struct { const char *key; const probes_metric *m; } rows[] = {
        {"rss_bytes", &m->rss_bytes},           {"rss_peak_bytes", &m->rss_peak_bytes},
        {"pss_bytes", &m->pss_bytes},           {"pss_peak_bytes", &m->pss_peak_bytes},
        {"vms_bytes", &m->vms_bytes},           {"vms_peak_bytes", &m->vms_peak_bytes},
        {"minor_faults", &m->minor_faults},     {"major_faults", &m->major_faults},
        {"swap_in_bytes_system", &m->swap_in_bytes_system}, {"swap_out_bytes_system", &m->swap_out_bytes_system},
        {"kv_cache_bytes", &m->kv_cache_bytes},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        probes_metric_put_json(o, rows[i].key, rows[i].m);
    return o;
}

json_t *probes_roofline_json(const probes_roofline *r)
{
    json_t *o = json_pack("{s:s, s:i}", "bound", r->bound ? r->bound : "unknown", "ceiling_threads", r->ceiling_threads);
    probes_json_put_or_why(o, "working_set_bytes", r->working_set_bytes > 0 ? json_real(r->working_set_bytes) : NULL,
                           "the working set of a step is unknown");
    probes_json_put_or_why(o, "level", r->level[0] ? json_string(r->level) : NULL, r->level_read_bytes_per_s.why_not);
    probes_metric_put_json(o, "level_read_bytes_per_s", &r->level_read_bytes_per_s);
    probes_metric_put_json(o, "achieved_bytes_per_s", &r->achieved_bytes_per_s);
    probes_metric_put_json(o, "achieved_flops_per_s", &r->achieved_flops_per_s);
    probes_metric_put_json(o, "arithmetic_intensity_flops_per_byte", &r->arithmetic_intensity_flops_per_byte);
    probes_metric_put_json(o, "bandwidth_pct", &r->bandwidth_pct);
    probes_metric_put_json(o, "fma_pct", &r->fma_pct);
    probes_metric_put_json(o, "matmul_pct", &r->matmul_pct);
    probes_metric_put_json(o, "roofline_pct", &r->roofline_pct);
    return o;
}

json_t *probes_contention_json(const hst_pool_contention_stats *c)
{
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:b}", "jobs", (json_int_t)c->jobs, "jobs_on_one_thread",
                          (json_int_t)c->jobs_solo, "periods_on_one_thread", (json_int_t)c->solo_periods,
                          "stalled_jobs", (json_int_t)c->stalls, "on_one_thread_now", c->solo_now);
    probes_json_put_or_why(o, "share_on_one_thread", c->jobs ? json_real((double)c->jobs_solo / (double)c->jobs) : NULL,
                           "no job of more than one task ran on more than one thread");
    return o;
}

json_t *probes_counters_json(const char *summary, int n, const char *const *phases,
                             const probes_counter_window *const *windows)
{
    json_t *o = json_pack("{s:s}", "summary", summary);
    for (int i = 0; o && i < n; i++)
        json_object_set_new(o, phases[i], probes_counter_window_json(windows[i]));
    return o;
}

json_t *probes_latency_histogram_json(const live_histogram *h)
{
    int first = 0, last = LIVE_HIST_BUCKETS - 1;
    while (first < LIVE_HIST_BUCKETS && h->counts[first] == 0)
        first++;
    while (last > first && h->counts[last] == 0)
        last--;
    json_t *counts = json_array();
    for (int b = first; counts && b <= last && b < LIVE_HIST_BUCKETS; b++)
        json_array_append_new(counts, json_integer(h->counts[b]));
    return json_pack("{s:f, s:f, s:i, s:o}", "lowest_ns", LIVE_HIST_LOWEST_NS, "growth", LIVE_HIST_GROWTH,
                     "first_bucket", first < LIVE_HIST_BUCKETS ? first : 0, "counts", counts);
}
