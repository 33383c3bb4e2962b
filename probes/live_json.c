/* live_json.c — the dashboard's state as the snapshot object of
 * exports/exports.h, in the shape `hstprof run --format json` prints
 * (runner_result_json + runner_probes_json), so the same renderers read it:
 * the shown segment's keys at the top level, plus runs[] with one row per
 * segment (earlier settings stay, never mixed), sections[] and ab{}.
 * A number that is not known is null with a sibling "<key>_why_not".
 *
 * Note for the lead: counter_window_json, memory_json and roofline_json
 * mirror the static helpers of probes/runner.c; once those are exported,
 * these should call them instead. */
#include "probes/json.h"
#include "probes/session.h"

#include <math.h>
#include <stdio.h>

#include <string.h>
#include <time.h>

static void put_number(json_t *o, const char *key, double value, const char *why_not)
{
    probes_json_put_or_why(o, key, isfinite(value) ? json_real(value) : NULL, why_not);
}

static void put_metric(json_t *o, const char *key, const probes_metric *m)
{
    probes_metric_put_json(o, key, m);
}

static double per_s(double count, double ns)
{
    return ns > 0 ? count / (ns * 1e-9) : NAN;
}

/* ---- pieces in runner.c's shape ------------------------------------------------------------ */

static json_t *counters_json(const live_segment_info *i)
{
    json_t *o = json_pack("{s:s}", "summary", i->counters_summary);
    if (i->has_windows) {
        json_object_set_new(o, "prefill", probes_counter_window_json(&i->counters_prefill));
        json_object_set_new(o, "decode", probes_counter_window_json(&i->counters_decode));
    }
    return o;
}

/* The segment's KV cache, or why not: a segment holds one once its session exists. */
static void put_kv_cache(json_t *o, uint64_t kv_cache_bytes)
{
    probes_json_put_or_why(o, "kv_cache_bytes", kv_cache_bytes ? json_integer((json_int_t)kv_cache_bytes) : NULL,
                           "no engine session yet");
}

/* The runner's memory object, with the dashboard's own KV cache figure in
 * place of the report's (which has none: the window is the whole process). */
static json_t *memory_json(const probes_memory_report *m, uint64_t kv_cache_bytes)
{
    json_t *o = probes_memory_report_json(m);
    json_object_del(o, "kv_cache_bytes_why_not");
    put_kv_cache(o, kv_cache_bytes);
    return o;
}

/* The working set of one step: the mean bytes a step read (0 unknown). */
static double per_step(double bytes, uint64_t steps)
{
    return steps > 0 ? bytes / (double)steps : 0;
}

/* Both phases of a segment against the ceilings (none: every share says why). */
static json_t *roofline_phases_json(const live_view *v, const live_segment_stats *s)
{
    int threads = s->info.threads > 0 ? s->info.threads : 1;
    const probes_ceilings *c = v->ceilings_ok ? &v->ceilings : NULL;
    probes_roofline prefill = probes_roofline_point(c, threads, s->prefill_bytes, s->prefill_flops, s->prefill_ns,
                                                    per_step(s->prefill_bytes, s->prefills));
    probes_roofline decode = probes_roofline_point(c, threads, s->decode_bytes, s->decode_flops, s->decode_ns,
                                                   per_step(s->decode_bytes, s->decode_tokens));
    return json_pack("{s:o, s:o}", "prefill", probes_roofline_json(&prefill), "decode", probes_roofline_json(&decode));
}

static json_t *placement_json(const live_segment_stats *s)
{
    json_t *a = json_array();
    for (int i = 0; i < s->n_threads && i < LIVE_SAMPLE_THREADS; i++)
        json_array_append_new(a, json_pack("{s:i, s:i, s:i, s:I}", "index", i, "bound_pu", s->info.thread_pu[i],
                                           "last_cpu", s->thread_cpu[i], "migrations",
                                           (json_int_t)s->thread_migrations[i]));
    return a;
}

static json_t *config_json(const hst_config *c, const char *arch)
{
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i}", "arch", arch, "vocab_size", c->vocab_size, "d_model",
                     c->d_model, "n_heads", c->n_heads, "n_layers", c->n_layers, "max_seq_len", c->max_seq_len,
                     "horizon", c->horizon);
}

static json_t *latency_json(const live_segment_stats *s)
{
    json_t *o = json_object();
    const char *why = "no decode tokens in this segment yet";
    int any = s->decode_tokens > 0;
    json_object_set_new(o, "samples", json_integer((json_int_t)s->decode_tokens));
    put_number(o, "p50_ms", any ? s->latency_p50_ms : NAN, why);
    put_number(o, "p95_ms", any ? s->latency_p95_ms : NAN, why);
    put_number(o, "p99_ms", any ? s->latency_p99_ms : NAN, why);
    put_number(o, "min_ms", any ? s->latency_min_ms : NAN, why);
    put_number(o, "max_ms", any ? s->latency_max_ms : NAN, why);
    put_number(o, "mean_ms", any ? s->latency_mean_ms : NAN, why);
    json_object_set_new(o, "method", json_string("log-bucketed histogram over every decode token, within 1%"));
    return o;
}

static json_t *sections_json(const live_segment_stats *s)
{
    json_t *a = json_array();
    for (int k = 0; k < s->info.n_sections; k++)
        json_array_append_new(a, json_pack("{s:s, s:f, s:f}", "name", s->info.section_names[k], "ms", s->section_ms[k],
                                           "percent",
                                           s->section_token_ms > 0 ? 100 * s->section_ms[k] / s->section_token_ms : 0.0));
    return a;
}

/* ---- one segment --------------------------------------------------------------------------- */

/* The run-compatible keys. A segment is continuous generation, so its
 * prefill figures sum over every prefill in it: prompt_tokens here counts
 * the tokens prefilled (prompt_length x prefills), so that tokens / ms
 * stays a true rate wherever the rows are summed. */
static void segment_keys(json_t *o, const live_view *v, const live_segment_stats *s)
{
    const live_segment_info *i = &s->info;
    const char *no_decode = "no decode tokens in this segment yet", *no_prefill = "no prefill in this segment yet";
    char label[400];
    live_setting_describe(&i->setting, label, sizeof label);
    json_object_set_new(o, "segment", json_integer(i->id));
    json_object_set_new(o, "label", json_string(label));
    probes_json_put_or_why(o, "ab_side", i->ab_side < 0 ? NULL : json_string(i->ab_side ? "B" : "A"),
                           "not a side of an A/B comparison");
    json_object_set_new(o, "model", json_string(i->setting.model));
    json_object_set_new(o, "preset", json_string(i->preset));
    json_object_set_new(o, "source", json_string(i->source));
    json_object_set_new(o, "config", config_json(&i->config, i->arch));
    json_object_set_new(o, "params_total", json_integer((json_int_t)i->counts.params_total));
    json_object_set_new(o, "params_next_token", json_integer((json_int_t)i->counts.params_next_token));
    json_object_set_new(o, "weight_bytes", json_integer((json_int_t)i->counts.weight_bytes));
    json_object_set_new(o, "threads", json_integer(i->setting.threads));
    json_object_set_new(o, "affinity", json_string(i->setting.affinity));
    json_object_set_new(o, "kernel", json_string(i->kernel));
    json_object_set_new(o, "precision", json_string(i->setting.precision));
    char mode_label[64];
    hst_mode mode = HST_MODE_CAUSAL;
    hst_mode_from_name(i->setting.mode, &mode);
    probes_mode_label(i->config.arch, mode, mode_label, sizeof mode_label);
    json_object_set_new(o, "mode", json_string(hst_mode_name(mode)));
    json_object_set_new(o, "mode_label", json_string(mode_label));
    json_object_set_new(o, "prompt_length", json_integer(i->prompt_tokens));
    json_object_set_new(o, "prefills", json_integer((json_int_t)s->prefills));
    json_object_set_new(o, "prompt_tokens", json_integer((json_int_t)s->prefill_tokens));
    json_object_set_new(o, "prefill_ms", json_real((double)s->prefill_ns / 1e6));
    put_number(o, "prefill_tok_per_s", s->prefills ? s->prefill_tok_per_s : NAN, no_prefill);
    put_number(o, "prefill_gflops_per_s", per_s(s->prefill_flops, (double)s->prefill_ns) / 1e9, no_prefill);
    json_object_set_new(o, "decode_tokens", json_integer((json_int_t)s->decode_tokens));
    json_object_set_new(o, "decode_ms", json_real((double)s->decode_ns / 1e6));
    put_number(o, "decode_tok_per_s", s->decode_tokens ? s->decode_tok_per_s : NAN, no_decode);
    put_number(o, "decode_gflops_per_s", per_s(s->decode_flops, (double)s->decode_ns) / 1e9, no_decode);
    put_number(o, "decode_bytes_per_token", s->decode_tokens ? s->decode_bytes / (double)s->decode_tokens : NAN,
               no_decode);
    /* Each prefill yields one token, each decode step one more. */
    json_object_set_new(o, "tokens_generated", json_integer((json_int_t)s->prefills + (json_int_t)s->decode_tokens));
    json_object_set_new(o, "wall_ms", json_real((double)(s->prefill_ns + s->decode_ns) / 1e6));
    put_number(o, "ttft_ms", s->ttft_count ? s->ttft_ms_median : NAN, no_prefill);
    json_object_set_new(o, "latency", latency_json(s));
    put_kv_cache(o, i->kv_cache_bytes);
    json_object_set_new(o, "counters", counters_json(i));
    json_object_set_new(o, "roofline", roofline_phases_json(v, s));
    json_object_set_new(o, "threads_placement", placement_json(s));
    hst_pool_contention_stats pool = {.jobs = s->pool_jobs,
                                      .jobs_solo = s->pool_jobs_solo,
                                      .stalls = s->pool_stalls,
                                      .solo_periods = s->pool_solo_periods,
                                      .solo_now = s->pool_solo_now};
    json_object_set_new(o, "thread_contention", probes_contention_json(&pool));
}

static json_t *runs_json(const live_view *v, const live_segment_stats *segs, int n)
{
    json_t *a = json_array();
    for (int k = 0; k < n; k++) {
        json_t *o = json_object();
        segment_keys(o, v, &segs[k]);
        json_array_append_new(a, o);
    }
    return a;
}

/* One side of a comparison: its setting, the kernel it ran and its segment. */
static json_t *ab_side_json(const live_view *v, int side)
{
    const live_setting *s = &v->status.ab[side];
    const char *in_use = v->status.ab_kernel_in_use[side];
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:i}", "model", s->model, "threads", s->threads, "affinity",
                          s->affinity, "kernel", s->kernel, "precision", s->precision, "mode",
                          s->mode[0] ? s->mode : "causal", "segment", (int)v->status.ab_segment[side]);
    probes_json_put_or_why(o, "kernel_in_use", in_use[0] ? json_string(in_use) : NULL, "the side never ran");
    return o;
}

/* The comparison's verdict, while it runs and after it stopped (until the
 * statistics are reset): both settings, the per-side medians over rounds,
 * the paired ratio with its interval. */
static json_t *ab_json(const live_view *v)
{
    if (!v->ab_active && !v->status.ab_stopped)
        return NULL;
    const ab_result *r = &v->ab;
    const char *few = "fewer than 6 paired rounds";
    json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:b}", "comparison", v->ab_label, "state",
                          v->ab_active ? "running" : "stopped", "round_tokens", v->status.ab_round_tokens, "rounds_a",
                          r->a.n, "rounds_b", r->b.n, "pairs", r->pairs, "verdict", r->verdict, "significant",
                          r->significant);
    probes_json_put_or_why(o, "kept", v->ab_active ? NULL : json_string(live_ab_keep_name(v->status.ab_kept)),
                           "the comparison is still running");
    json_object_set_new(o, "a", ab_side_json(v, 0));
    json_object_set_new(o, "b", ab_side_json(v, 1));
    put_number(o, "a_median_tok_per_s", r->a.n ? r->a.median : NAN, "no rounds yet");
    put_number(o, "b_median_tok_per_s", r->b.n ? r->b.median : NAN, "no rounds yet");
    put_number(o, "a_ci95_lo", r->a.ci_valid ? r->a.ci_lo : NAN, few);
    put_number(o, "a_ci95_hi", r->a.ci_valid ? r->a.ci_hi : NAN, few);
    put_number(o, "b_ci95_lo", r->b.ci_valid ? r->b.ci_lo : NAN, few);
    put_number(o, "b_ci95_hi", r->b.ci_valid ? r->b.ci_hi : NAN, few);
    put_number(o, "ratio_b_over_a", r->ratio_valid ? r->ratio : NAN, few);
    put_number(o, "ratio_ci95_lo", r->ratio_valid ? r->ratio_lo : NAN, few);
    put_number(o, "ratio_ci95_hi", r->ratio_valid ? r->ratio_hi : NAN, few);
    json_object_set_new(o, "method", json_string(LIVE_AB_METHOD));
    return o;
}

static void settings_keys(json_t *o, const live_view *v, const live_snapshot_setup *setup)
{
    json_object_set_new(o, "seed", json_integer((json_int_t)setup->seed));
    json_object_set_new(o, "profile", json_string(setup->profile ? setup->profile : ""));
    json_object_set_new(o, "precision", json_string(v->current.info.setting.precision));
    json_object_set_new(o, "batch", json_integer(1));
    json_object_set_new(o, "temperature", json_real(0));
    json_object_set_new(o, "top_k", json_integer(0));
    json_object_set_new(o, "events_requested", json_string(setup->events ? setup->events : ""));
    json_object_set_new(o, "tokens_requested", json_null());
    json_object_set_new(o, "tokens_requested_why_not",
                        json_string("continuous: each generation decodes until the context is full, then restarts"));
    json_object_set_new(o, "quality_hash", json_null());
    json_object_set_new(o, "quality_hash_why_not",
                        json_string("not computed by the dashboard (it would reset the session); see hstprof run"));
    json_object_set_new(o, "load_ms", json_null());
    json_object_set_new(o, "load_ms_why_not", json_string("not measured by the dashboard"));
}

/* The documented bandwidth{} and compute{} of exports.h: decode, segment. */
static void bandwidth_compute_json(json_t *o, const live_view *v)
{
    const live_segment_stats *s = &v->current;
    const probes_ceilings *c = v->ceilings_ok ? &v->ceilings : NULL;
    probes_roofline r = probes_roofline_point(c, s->info.threads > 0 ? s->info.threads : 1, s->decode_bytes,
                                              s->decode_flops, s->decode_ns, per_step(s->decode_bytes, s->decode_tokens));
    json_t *bw = json_object(), *fl = json_object();
    put_metric(bw, "achieved_bytes_per_s", &r.achieved_bytes_per_s);
    probes_json_put_or_why(bw, "level", r.level[0] ? json_string(r.level) : NULL, r.level_read_bytes_per_s.why_not);
    put_metric(bw, "level_read_ceiling_bytes_per_s", &r.level_read_bytes_per_s);
    put_metric(bw, "percent_of_level_read_ceiling", &r.bandwidth_pct);
    put_metric(fl, "achieved_flops_per_s", &r.achieved_flops_per_s);
    put_metric(fl, "percent_of_fma", &r.fma_pct);
    put_metric(fl, "percent_of_matmul", &r.matmul_pct);
    json_object_set_new(fl, "bound", json_string(r.bound ? r.bound : "unknown"));
    json_object_set_new(o, "bandwidth", bw);
    json_object_set_new(o, "compute", fl);
}

/* Every segment's sparkline points on one time axis (seconds since the
 * dashboard started), and where each setting took effect. */
static json_t *throughput_timeline_json(const live_view *v, const live_segment_stats *segs, int n)
{
    json_t *series = json_array(), *changes = json_array();
    for (int k = 0; series && changes && k < n; k++) {
        const live_segment_stats *s = &segs[k];
        char label[400];
        live_setting_describe(&s->info.setting, label, sizeof label);
        json_t *t = json_array(), *rate = json_array();
        for (int i = 0; t && rate && i < s->history_len; i++) {
            json_array_append_new(t, json_real((double)(s->history_end_ns[i] - v->start_ns) * 1e-9));
            json_array_append_new(rate, json_real(s->history_tok_per_s[i]));
        }
        json_array_append_new(series, json_pack("{s:i, s:s, s:o, s:o}", "segment", (int)s->info.id, "label", label,
                                                "t_s", t, "tok_per_s", rate));
        double start = s->info.start_ns > v->start_ns ? (double)(s->info.start_ns - v->start_ns) * 1e-9 : 0;
        json_array_append_new(changes, json_pack("{s:f, s:s}", "t_s", start, "label", label));
    }
    return json_pack("{s:s, s:o, s:o}", "note",
                     "one point per 0.5 s of each segment, tokens over the time spent computing them; dashed: a "
                     "setting took effect",
                     "series", series, "changes", changes);
}

json_t *live_view_json(const live_view *v, const live_segment_stats *segments, int n_segments,
                       const live_snapshot_setup *setup)
{
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "tool", json_string("hstprof dashboard"));
    json_object_set_new(o, "date", json_string(date));
    json_object_set_new(o, "state", json_string(live_state_name(v->status.state)));
    json_object_set_new(o, "elapsed_s", json_real((double)(v->now_ns - v->start_ns) * 1e-9));
    json_object_set_new(o, "dropped_samples", json_integer((json_int_t)v->dropped_samples));
    segment_keys(o, v, &v->current);
    json_object_set_new(o, "prompt_tokens", json_integer(v->current.info.prompt_tokens)); /* the prompt's length */
    settings_keys(o, v, setup);
    json_t *generated = json_array();
    for (int k = 0; k < v->text_len; k++)
        json_array_append_new(generated, json_integer(v->text[k]));
    json_object_set_new(o, "generated", generated);
    json_object_set_new(o, "memory", memory_json(&v->memory, v->current.info.kv_cache_bytes));
    json_object_set_new(o, "ceilings", json_pack("{s:b, s:s}", "available", v->ceilings_ok, "state", v->ceilings_state));
    json_object_set_new(o, "sections", sections_json(&v->current));
    bandwidth_compute_json(o, v);
    json_object_set_new(o, "runs", runs_json(v, segments, n_segments));
    json_object_set_new(o, "throughput_timeline", throughput_timeline_json(v, segments, n_segments));
    probes_json_put_or_why(o, "ab", ab_json(v), "no A/B comparison since the statistics were last reset");
    return o;
}
