/* runner_report.c — what the exports need from a run beyond its summary:
 * the settings behind it, figures that were not measured marked as such (so
 * no report shows 0 for "unknown"). */
#include "probes/json.h"
#include "probes/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* hst_forward handles one sequence at a time: every run is batch 1. */
#define ENGINE_BATCH 1

void runner_note_request(const run_request *req, run_result *res)
{
    res->seed = req->session.seed;
    res->temperature = req->temperature;
    res->top_k = req->temperature > 0 ? req->top_k : 0;
    res->tokens_requested = req->n_tokens;
    snprintf(res->events_requested, sizeof res->events_requested, "%s",
             req->no_probes ? "none (--no-probes)" : req->session.events ? req->session.events : "");
    snprintf(res->precision, sizeof res->precision, "%s",
             req->session.precision && *req->session.precision ? req->session.precision : "f32");
}

/* ---- report fields ---------------------------------------------------------- */

static void set_unmeasured(json_t *o, const char *key, const char *why)
{
    probes_json_put_or_why(o, key, NULL, why);
}

/* The summary packs zeros where nothing was measured; a report must say why instead. */
static void mark_unmeasured(json_t *o, const run_result *r)
{
    if (r->decode_steps == 0) {
        const char *why = r->interrupted             ? "interrupted before the first decode step"
                          : r->tokens_requested == 0 ? "prefill only (-n 0)"
                                                     : "one token, from the prefill (-n 1)";
        static const char *const decode_keys[] = {"decode_ms", "decode_tok_per_s", "decode_gflops_per_s"};
        for (size_t i = 0; i < sizeof decode_keys / sizeof decode_keys[0]; i++)
            set_unmeasured(o, decode_keys[i], why);
        json_t *lat = json_object_get(o, "latency");
        static const char *const latency_keys[] = {"p50_ms", "p95_ms", "p99_ms", "min_ms", "max_ms", "mean_ms"};
        for (size_t i = 0; lat && i < sizeof latency_keys / sizeof latency_keys[0]; i++)
            set_unmeasured(lat, latency_keys[i], why);
    }
    if (r->n_generated == 0)
        set_unmeasured(o, "ttft_ms", "no token generated (-n 0)");
    if (r->peak_rss_bytes <= 0)
        set_unmeasured(o, "peak_rss_bytes", "no VmHWM in /proc/self/status");
    if (r->interrupted) { /* the hash is a generation of its own, after the run */
        set_unmeasured(o, "quality_hash", "interrupted (SIGINT) before the quality check");
        set_unmeasured(o, "quality_tokens", "interrupted (SIGINT) before the quality check");
    }
}

static json_t *quality_tokens_json(const run_result *r)
{
    json_t *a = json_array();
    for (int i = 0; a && i < HST_QUALITY_TOKENS; i++)
        json_array_append_new(a, json_integer(r->quality_tokens[i]));
    return a;
}

/* The soak run's own figures: cycles, the RSS timeline and what its
 * statistics cost, which does not grow with the run's length. */
static json_t *soak_json(const run_result *r)
{
    const run_soak *k = &r->soak;
    json_t *timeline = json_array();
    for (int i = 0; i < k->rss_points; i++)
        json_array_append_new(timeline, json_pack("[f, I]", k->rss_t_s[i], (json_int_t)k->rss_bytes[i]));
    json_t *o = json_pack("{s:f, s:f, s:I, s:f, s:I, s:f}", "duration_s", k->duration_s, "elapsed_s",
                          r->wall_ms / 1e3, "cycles", (json_int_t)k->cycles, "restart_prefill_ms",
                          k->restart_prefill_ms, "statistics_bytes", (json_int_t)sizeof *k, "warmup_s", k->warmup_s);
    if (!o)
        return NULL;
    json_object_set_new(o, "generated_is_last_cycle", json_true());
    if (k->cycles_identical < 0) {
        json_object_set_new(o, "cycles_identical", json_null());
        json_object_set_new(o, "cycles_identical_why_not", json_string("sampled decoding: cycles differ by design"));
    } else if (k->cycles_compared == 0) {
        json_object_set_new(o, "cycles_identical", json_null());
        json_object_set_new(o, "cycles_identical_why_not", json_string("fewer than two full cycles"));
    } else {
        json_object_set_new(o, "cycles_identical", json_boolean(k->cycles_identical));
    }
    json_object_set_new(o, "cycles_compared", json_integer((json_int_t)k->cycles_compared));
    if (k->rss_after_warmup_bytes > 0) {
        json_object_set_new(o, "rss_after_warmup_bytes", json_integer((json_int_t)k->rss_after_warmup_bytes));
        json_object_set_new(o, "rss_max_after_warmup_bytes", json_integer((json_int_t)k->rss_max_after_warmup_bytes));
        json_object_set_new(o, "rss_growth_after_warmup_bytes",
                            json_integer((json_int_t)(k->rss_max_after_warmup_bytes - k->rss_after_warmup_bytes)));
    } else {
        set_unmeasured(o, "rss_growth_after_warmup_bytes", "the run ended before its warm-up did");
    }
    json_object_set_new(o, "rss_end_bytes", json_integer((json_int_t)k->rss_end_bytes));
    json_object_set_new(o, "rss_timeline", timeline);
    return o;
}

void runner_setting_label(const run_result *res, char *buf, size_t len)
{
    snprintf(buf, len, "%s, %d thread%s, affinity %s, kernel %s, %s, %s", res->model_name, res->threads,
             res->threads == 1 ? "" : "s", probes_session_affinity_policy(&res->measured), res->kernel, res->precision,
             res->session ? hst_mode_name(hst_session_mode(res->session)) : "causal");
}

/* Every decode step's latency, as the notes' plot reads it. */
static json_t *latency_histogram_json(const run_result *r)
{
    if (r->soak.active)
        return probes_latency_histogram_json(&r->soak.latency_ns);
    live_histogram *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    for (int64_t i = 0; r->latencies_ms && i < r->decode_steps; i++)
        live_hist_add(h, r->latencies_ms[i] * 1e6);
    json_t *o = probes_latency_histogram_json(h);
    free(h);
    return o;
}

/* Decode tokens/s over the run: one series, the run's setting from the start. */
static json_t *throughput_timeline_json(const run_result *r)
{
    const rate_series *s = &r->throughput;
    json_t *t = json_array(), *rate = json_array();
    for (int i = 0; t && rate && i < s->n; i++) {
        json_array_append_new(t, json_real(s->t_end_s[i]));
        json_array_append_new(rate, json_real(s->busy_s[i] > 0 ? s->tokens[i] / s->busy_s[i] : 0));
    }
    char label[512], note[160];
    runner_setting_label(r, label, sizeof label);
    snprintf(note, sizeof note, "%d decode step%s per point, over the time spent computing them", s->steps,
             s->steps == 1 ? "" : "s");
    return json_pack("{s:s, s:[{s:s, s:o, s:o}], s:[{s:f, s:s}]}", "note", note, "series", "label", label, "t_s", t,
                     "tok_per_s", rate, "changes", "t_s", 0.0, "label", label);
}

void runner_add_report_fields(json_t *o, const run_result *r)
{
    if (!o)
        return;
    json_t *lat = json_object_get(o, "latency");
    if (lat)
        json_object_set_new(lat, "method", json_string(r->soak.active ? "log-bucketed histogram over every decode "
                                                                        "step, within 0.5%" : "exact"));
    if (r->soak.active)
        json_object_set_new(o, "soak", soak_json(r));
    json_object_set_new(o, "load_ms", json_real(r->measured.load_ms));
    json_object_set_new(o, "wall_ms", json_real(r->wall_ms));
    json_object_set_new(o, "tokens_generated", json_integer(r->tokens_total));
    json_object_set_new(o, "tokens_requested", json_integer(r->tokens_requested));
    json_object_set_new(o, "weight_bytes", json_integer((json_int_t)r->counts.weight_bytes));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(o, "precision", json_string(r->precision));
    json_object_set_new(o, "batch", json_integer(ENGINE_BATCH));
    json_object_set_new(o, "temperature", json_real(r->temperature > 0 ? r->temperature : 0));
    json_object_set_new(o, "top_k", json_integer(r->top_k));
    json_object_set_new(o, "events_requested", json_string(r->events_requested));
    if (r->decode_steps > 0) {
        /* spec 11: what each decode step reads, summed in the run loop */
        json_object_set_new(o, "decode_bytes_per_token", json_real(r->decode_bytes / (double)r->decode_steps));
    } else {
        set_unmeasured(o, "decode_bytes_per_token", "no decode step in this run");
    }
    json_object_set_new(o, "thread_contention", probes_contention_json(&r->contention));
    json_object_set_new(o, "quality_tokens", quality_tokens_json(r));
    /* Ctrl-C stopped the run: every figure covers its first interrupted_after_s. */
    json_object_set_new(o, "interrupted", json_boolean(r->interrupted));
    if (r->interrupted)
        json_object_set_new(o, "interrupted_after_s", json_real(r->wall_ms / 1e3));
    json_object_set_new(o, "latency_histogram", latency_histogram_json(r));
    json_object_set_new(o, "throughput_timeline", throughput_timeline_json(r));
    if (!r->have_memory)
        json_object_set_new(o, "memory_why_not", json_string("memory not sampled (--no-probes)"));
    mark_unmeasured(o, r);
}
