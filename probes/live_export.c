/* live_export.c — what the dashboard's probes thread keeps for the standard
 * formats: the timeline of the segment each side shows (for the snapshot's
 * trace), and the monitoring figures per setting (for the Prometheus
 * endpoint and file). Runs on the probes thread; nothing is allocated per
 * token (a side's timeline is sized when its segment changes). */
#include "probes/live_internal.h"
#include "probes/live_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRACE_BUDGET_BYTES (4u << 20) /* per side: ~18k tokens of hst-v4 */
#define TRACE_MAX_RECORDS 65536
#define TRACE_RSS_POINTS 1024         /* 4 minutes at the probes thread's 4 samples a second */
#define TRACE_INSTANTS 256

/* ---- the snapshot's timeline ------------------------------------------------------------- */

/* The setting as one line, with the kernel in use and the mode. */
static void segment_label(const live_segment_info *info, char *buf, size_t len)
{
    char setting[600];
    live_setting_describe(&info->setting, setting, sizeof setting);
    snprintf(buf, len, "%s (in use: %s), %s", setting, info->kernel, info->mode[0] ? info->mode : "causal");
}

static timeline *side_timeline(const live_segment_info *info, int n_threads)
{
    const char *sections[LIVE_MAX_SECTIONS], *counters[LIVE_SAMPLE_COUNTERS];
    int tids[LIVE_SAMPLE_THREADS];
    int threads = n_threads < LIVE_SAMPLE_THREADS ? n_threads : LIVE_SAMPLE_THREADS;
    for (int i = 0; i < info->n_sections; i++)
        sections[i] = info->section_names[i];
    for (int i = 0; i < info->n_counters; i++)
        counters[i] = info->counter_names[i];
    for (int i = 0; i < threads; i++)
        tids[i] = info->thread_tid[i];
    const timeline_shape shape = {info->n_sections, sections, threads, tids, info->n_counters, counters,
                                  info->start_ns};
    size_t per_record = 64 + 8 * (size_t)(info->n_sections + threads + info->n_counters);
    size_t records = TRACE_BUDGET_BYTES / per_record;
    timeline *t = timeline_create(&shape, records < TRACE_MAX_RECORDS ? (int)records : TRACE_MAX_RECORDS,
                                  TRACE_RSS_POINTS, TRACE_INSTANTS, 1);
    char label[800];
    segment_label(info, label, sizeof label);
    if (t)
        timeline_add_instant(t, info->start_ns, "setting", label);
    return t;
}

void live_trace_sample(live_trace_side *side, const live_segment_info *info, const live_sample *s)
{
    if (!side->timeline || side->segment != s->segment) {
        timeline_free(side->timeline);
        side->timeline = side_timeline(info, s->n_threads);
        side->segment = s->segment;
        side->have_busy = 0;
        if (!side->timeline)
            return;
    }
    uint64_t busy[LIVE_SAMPLE_THREADS];
    int threads = s->n_threads < LIVE_SAMPLE_THREADS ? s->n_threads : LIVE_SAMPLE_THREADS;
    for (int k = 0; k < threads; k++) /* cumulative in the sample: this forward's share is the difference */
        busy[k] = side->have_busy ? s->thread_busy_ns[k] - side->busy_ns[k] : TIMELINE_UNKNOWN;
    memcpy(side->busy_ns, s->thread_busy_ns, sizeof side->busy_ns);
    side->have_busy = 1;
    const timeline_record r = {
        .phase = s->phase, .position = s->pos, .n_tokens = s->n_tokens, .token_id = s->token,
        .generation = s->generation, .round = s->ab_round, .start_ns = s->end_ns - s->latency_ns,
        .forward_ns = s->forward_ns, .latency_ns = s->latency_ns, .section_ns = s->section_ns,
        .thread_busy_ns = busy, .counter_delta = s->n_counters > 0 ? s->counter_delta : NULL};
    timeline_add(side->timeline, &r);
}

void live_trace_rss(live_trace_side *side, uint64_t now_ns, double rss_bytes)
{
    if (side->timeline)
        timeline_add_rss(side->timeline, now_ns, rss_bytes);
}

json_t *live_trace_json(const timeline *t, const live_segment_info *info)
{
    char label[800];
    segment_label(info, label, sizeof label);
    json_t *context = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "tool", "hstprof dashboard", "model",
                                info->setting.model, "label", label, "origin",
                                "the segment's start (its setting took effect)", "pid", (int)getpid(), "segment",
                                (int)info->id);
    json_t *o = context ? timeline_json(t, context) : NULL;
    json_decref(context);
    return o;
}

void live_trace_free(live_trace_side *side)
{
    timeline_free(side->timeline);
    memset(side, 0, sizeof *side);
}

/* ---- monitoring figures ------------------------------------------------------------------- */

static probes_metrics_series *series_of(probes_metrics_state *st, const live_segment_info *info)
{
    probes_metrics_labels l;
    memset(&l, 0, sizeof l);
    live_copy_text(l.model, sizeof l.model, info->setting.model);
    live_copy_text(l.mode, sizeof l.mode, info->mode[0] ? info->mode : "causal");
    live_copy_text(l.precision, sizeof l.precision, info->setting.precision);
    live_copy_text(l.kernel, sizeof l.kernel, info->kernel);
    live_copy_text(l.affinity, sizeof l.affinity, info->setting.affinity);
    l.threads = info->setting.threads;
    return probes_metrics_state_use(st, &l);
}

void live_feed_sample(probes_metrics_state *st, const live_segment_info *info, const live_sample *s)
{
    probes_metrics_series *x = series_of(st, info);
    x->tokens_generated++;
    if (s->phase == LIVE_PHASE_PREFILL) {
        x->prefill_tokens += (uint64_t)s->n_tokens;
        x->restarts += s->generation > 1;
    } else {
        probes_metrics_series_latency(x, s->latency_ns);
    }
    if (s->n_counters > 0) {
        probes_metrics_series_events(x, info->n_counters, (const char(*)[PROBES_NAME_MAX])info->counter_names);
        probes_metrics_series_add_events(x, s->counter_delta, s->n_counters);
    }
}

static double rate(double amount, double ns)
{
    return ns > 0 ? amount / (ns * 1e-9) : NAN;
}

void live_feed_view(probes_metrics_state *st, const live_view *v)
{
    probes_metrics_state_clear_gauges(st);
    if (!v->has_current)
        return;
    const live_segment_stats *c = &v->current;
    series_of(st, &c->info); /* the gauges are the shown setting's */
    st->tokens_per_s = c->decode_tok_per_s_now;
    st->rss_bytes = v->memory.rss_bytes.valid ? v->memory.rss_bytes.value : NAN;
    st->pss_bytes = v->memory.pss_bytes.valid ? v->memory.pss_bytes.value : NAN;
    st->kv_cache_bytes = c->info.kv_cache_bytes > 0 ? (double)c->info.kv_cache_bytes : NAN;
    st->bytes_per_s = rate(c->recent_decode_bytes, c->recent_decode_ns);
    st->flops_per_s = rate(c->recent_decode_flops, c->recent_decode_ns);
}
