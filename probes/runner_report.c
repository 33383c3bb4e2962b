/* runner_report.c — what the exports need from a run beyond its summary:
 * the settings behind it, figures that were not measured marked as such (so
 * no report shows 0 for "unknown"), and the per-token trace. The trace is
 * sized before the loop; recording a token only writes into its arrays. */
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
    if (!r->have_memory)
        json_object_set_new(o, "memory_why_not", json_string("memory not sampled (--no-probes)"));
    mark_unmeasured(o, r);
}

/* ---- the trace ---------------------------------------------------------------- */

int runner_trace_begin(const run_request *req, run_result *res)
{
    run_trace *t = &res->trace;
    memset(t, 0, sizeof *t);
    t->capacity = req->n_tokens > 1 ? req->n_tokens : 1; /* the prefill row + one per decode step */
    t->n_sections = hst_session_section_count(res->session);
    t->n_counters = res->have_counters ? probes_counters_event_count(res->measured.counters) : 0;
    size_t rows = (size_t)t->capacity;
    t->position = malloc(rows * sizeof *t->position);
    t->tokens_processed = malloc(rows * sizeof *t->tokens_processed);
    t->token_id = malloc(rows * sizeof *t->token_id);
    t->time_ns = malloc(rows * sizeof *t->time_ns);
    t->latency_ns = malloc(rows * sizeof *t->latency_ns);
    t->section_ns = malloc(rows * (size_t)(t->n_sections > 0 ? t->n_sections : 1) * sizeof *t->section_ns);
    t->counter_delta = malloc(rows * (size_t)(t->n_counters > 0 ? t->n_counters : 1) * sizeof *t->counter_delta);
    if (!t->position || !t->tokens_processed || !t->token_id || !t->time_ns || !t->latency_ns || !t->section_ns ||
        !t->counter_delta) {
        runner_trace_free(t);
        fprintf(stderr, "hstprof run: --trace: out of memory for %d rows\n", t->capacity);
        return 1;
    }
    t->enabled = 1;
    hst_session_set_timing(res->session, 1);
    return 0;
}

/* Scaled like perf stat: raw * enabled / running over the step; NAN when not counted. */
static void counter_deltas(const run_trace *t, const probes_counter_snapshot *a, const probes_counter_snapshot *b,
                           double *out)
{
    for (int i = 0; i < t->n_counters; i++) {
        uint64_t running = b->running_ns[i] - a->running_ns[i];
        if (i >= a->n || i >= b->n || !a->ok[i] || !b->ok[i] || running == 0) {
            out[i] = NAN;
            continue;
        }
        double enabled = (double)(b->enabled_ns[i] - a->enabled_ns[i]);
        out[i] = (double)(b->raw[i] - a->raw[i]) * enabled / (double)running;
    }
}

static int start_row(run_trace *t, uint64_t end_ns, uint64_t latency_ns)
{
    if (t->n_rows >= t->capacity)
        return -1;
    int row = t->n_rows++;
    t->time_ns[row] = end_ns - t->start_ns;
    t->latency_ns[row] = latency_ns;
    return row;
}

void runner_trace_prefill(run_result *res, const probes_counter_snapshot *before, const probes_counter_snapshot *after)
{
    run_trace *t = &res->trace;
    uint64_t now = hst_now_ns();
    int row = start_row(t, now, now - t->start_ns);
    if (row < 0)
        return;
    t->position[row] = 0;
    t->tokens_processed[row] = res->prompt_len;
    t->token_id[row] = res->n_generated > 0 ? res->generated[0] : -1;
    hst_session_last_section_ns(res->session, &t->section_ns[(size_t)row * t->n_sections]);
    if (t->n_counters > 0) {
        counter_deltas(t, before, after, &t->counter_delta[(size_t)row * t->n_counters]);
        t->last = *after;
    }
}

void runner_trace_decode(run_result *res, int i, uint64_t t0_ns)
{
    run_trace *t = &res->trace;
    uint64_t now = hst_now_ns();
    int row = start_row(t, now, now - t0_ns);
    if (row < 0)
        return;
    t->position[row] = res->prompt_len + i - 1; /* generated[i - 1] was fed at this position */
    t->tokens_processed[row] = 1;
    t->token_id[row] = res->generated[i];
    hst_session_last_section_ns(res->session, &t->section_ns[(size_t)row * t->n_sections]);
    if (t->n_counters > 0) {
        probes_counter_snapshot now_snap;
        probes_counters_read(res->measured.counters, &now_snap);
        counter_deltas(t, &t->last, &now_snap, &t->counter_delta[(size_t)row * t->n_counters]);
        t->last = now_snap;
    }
}

void runner_trace_free(run_trace *t)
{
    free(t->position);
    free(t->tokens_processed);
    free(t->token_id);
    free(t->time_ns);
    free(t->latency_ns);
    free(t->section_ns);
    free(t->counter_delta);
    memset(t, 0, sizeof *t);
}

static json_t *trace_row_json(const run_result *res, int row)
{
    const run_trace *t = &res->trace;
    json_t *sections = json_array(), *deltas = json_array();
    for (int s = 0; s < t->n_sections; s++)
        json_array_append_new(sections, json_integer((json_int_t)t->section_ns[(size_t)row * t->n_sections + s]));
    for (int c = 0; c < t->n_counters; c++) {
        double d = t->counter_delta[(size_t)row * t->n_counters + c];
        json_array_append_new(deltas, isnan(d) ? json_null() : json_real(d));
    }
    return json_pack("{s:i, s:s, s:i, s:i, s:o, s:I, s:I, s:o, s:o}", "index", row, "phase",
                     row == 0 ? "prefill" : "decode", "position", t->position[row], "tokens_processed",
                     t->tokens_processed[row], "token_id",
                     t->token_id[row] >= 0 ? json_integer(t->token_id[row]) : json_null(), "time_ns",
                     (json_int_t)t->time_ns[row], "latency_ns", (json_int_t)t->latency_ns[row], "section_ns", sections,
                     "counter_delta", deltas);
}

json_t *runner_trace_json(const run_result *res)
{
    const run_trace *t = &res->trace;
    json_t *sections = json_array(), *counters = json_array(), *tokens = json_array();
    for (int s = 0; s < t->n_sections; s++)
        json_array_append_new(sections, json_string(hst_session_section_name(res->session, s)));
    for (int c = 0; c < t->n_counters; c++) {
        probes_event_info info;
        probes_counters_event(res->measured.counters, c, &info);
        json_array_append_new(counters, json_string(info.name));
    }
    for (int row = 0; row < t->n_rows; row++)
        json_array_append_new(tokens, trace_row_json(res, row));
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "tool", "hstprof run", "model", res->model_name, "mode",
                     hst_mode_name(res->mode), "mode_label", res->mode_label, "sections", sections, "counters",
                     counters, "tokens", tokens);
}
