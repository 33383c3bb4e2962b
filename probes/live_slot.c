/* live_slot.c — one instantiated setting of the live loop (model, placed
 * pool, session, counters) and its step: one forward per call, timed, with
 * the per-section clock on, turned into a live_sample. Runs on the engine
 * thread only. */
#include "probes/live_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNTER_PUBLISH_NS 500000000ull /* counter windows reach the UI twice a second */
_Static_assert(LIVE_SAMPLE_COUNTERS == PROBES_MAX_EVENTS, "a sample carries every counter event");

/* ---- prompt, CPU mask -------------------------------------------------------------- */

/* The prompt's bytes are the ids (as `hstprof run` does); a vocabulary
 * smaller than 256 takes them modulo its size. A prompt that leaves the
 * model no room to generate is refused as `run --duration` refuses it;
 * only a test's shorter context (live_options.max_seq_len) cuts it. */
static int build_prompt(live_engine *e, live_slot *s, char *err, size_t len)
{
    const char *text = e->prompt_text;
    const hst_config *cfg = hst_session_config(s->m.session);
    int n = (int)strlen(text);
    if (probes_prompt_room(n, s->setting.model, cfg->max_seq_len, err, len) != 0)
        return -1;
    if (n > s->max_seq_len - 1)
        n = s->max_seq_len - 1;
    if (n < 1)
        n = 1;
    s->prompt = malloc((size_t)n * sizeof *s->prompt);
    if (!s->prompt) {
        snprintf(err, len, "%s: out of memory for the session", s->setting.model);
        return -1;
    }
    for (int i = 0; i < n; i++)
        s->prompt[i] = (unsigned char)text[i] % cfg->vocab_size; /* text[0] is '\0' when the prompt is empty */
    s->prompt_len = n;
    return 0;
}

void live_restore_engine_mask(live_engine *e)
{
    if (e->have_original_mask)
        sched_setaffinity(0, sizeof e->original_mask, &e->original_mask);
}

static void reset_sums(live_slot *s)
{
    s->decode_tokens = 0;
    memset(&s->prefill_sum, 0, sizeof s->prefill_sum);
    memset(&s->decode_sum, 0, sizeof s->decode_sum);
    memset(&s->recent_sum, 0, sizeof s->recent_sum);
}

/* ---- the measured session --------------------------------------------------------------- */

/* What a slot of setting measures with; shared: the other A/B side's model. */
static probes_session_settings session_settings(const live_engine *e, const live_setting *setting,
                                                hst_model *shared)
{
    const char *off = e->opts.no_counters ? "counters off (--no-counters)"
                    : strcmp(e->events, "none") == 0 ? "counters off (--events none)"
                                                      : NULL;
    const probes_session_settings st = {
        .model = setting->model, .seed = e->opts.seed, .shared_model = shared, .precision = setting->precision,
        .kernel = setting->kernel, .mode = setting->mode, .threads = setting->threads, .affinity = setting->affinity, .topo = e->topo,
        .events = e->events, .counters_off = off, .counters_optional = 1};
    return st;
}

/* The session's reason, naming the setting where the reason does not. */
static void describe_failure(const probes_session *m, const char *why, char *err, size_t len)
{
    int named = strncmp(why, "kernel", 6) == 0 || strncmp(why, "precision", 9) == 0;
    snprintf(err, len, "%s%s", m->failed == PROBES_PART_KERNEL && !named ? "kernel: " : "", why);
}

/* ---- open / close ------------------------------------------------------------------------ */

/* The slot's own buffers: logits, section times and the prompt. */
static int open_buffers(live_engine *e, live_slot *s, char *err, size_t len)
{
    hst_session_set_timing(s->m.session, 1);
    const hst_config *cfg = hst_session_config(s->m.session);
    s->max_seq_len = cfg->max_seq_len;
    if (e->opts.max_seq_len > 1 && e->opts.max_seq_len < s->max_seq_len)
        s->max_seq_len = e->opts.max_seq_len;
    s->logits = malloc((size_t)cfg->vocab_size * sizeof *s->logits);
    s->section_scratch = calloc((size_t)hst_session_section_count(s->m.session), sizeof *s->section_scratch);
    if (!s->logits || !s->section_scratch) {
        snprintf(err, len, "%s: out of memory for the session", s->setting.model);
        return -1;
    }
    return build_prompt(e, s, err, len);
}

static void free_buffers(live_slot *s)
{
    free(s->logits);
    free(s->section_scratch);
    free(s->prompt);
    s->logits = NULL, s->section_scratch = NULL, s->prompt = NULL;
}

int live_slot_open(live_engine *e, live_slot *s, const live_setting *setting, int ab_side, hst_model *shared_model,
                   char *err, size_t len)
{
    memset(s, 0, sizeof *s);
    s->setting = *setting;
    s->ab_side = ab_side;
    if (!s->setting.precision[0]) /* how a model loads */
        snprintf(s->setting.precision, sizeof s->setting.precision, "f32");
    if (!s->setting.mode[0]) /* how a session starts */
        snprintf(s->setting.mode, sizeof s->setting.mode, "causal");
    live_restore_engine_mask(e); /* workers inherit their creator's mask */
    const probes_session_settings st = session_settings(e, &s->setting, shared_model);
    char why[sizeof(hst_error) + 64];
    if (probes_session_open(&st, &s->m, why, sizeof why) != 0) {
        describe_failure(&s->m, why, err, len);
        live_restore_engine_mask(e); /* probes_affinity_free gives back a binding that may be stale by now */
        return -1;
    }
    if (open_buffers(e, s, err, len) != 0) {
        free_buffers(s);
        probes_session_close(&s->m);
        live_restore_engine_mask(e);
        return -1;
    }
    live_slot_new_segment(e, s);
    return 0;
}

void live_slot_close(live_engine *e, live_slot *s)
{
    live_slot_end_segment(e, s);
    free_buffers(s);
    probes_session_close(&s->m);
    live_restore_engine_mask(e); /* probes_affinity_free gives back a binding that may be stale by now */
}

int live_slot_set_threads(live_engine *e, live_slot *s, int threads, const char *affinity, char *err, size_t len)
{
    if (threads < 1 || threads > PROBES_MAX_THREADS) {
        snprintf(err, len, "%d is outside 1..%d", threads, PROBES_MAX_THREADS);
        return -1;
    }
    live_setting want = s->setting;
    want.threads = threads;
    live_copy_text(want.affinity, sizeof want.affinity, affinity);
    live_restore_engine_mask(e); /* workers inherit their creator's mask */
    const probes_session_settings st = session_settings(e, &want, NULL);
    probes_session fresh;
    char why[sizeof(hst_error) + 64];
    if (probes_session_new_pool(&s->m, &st, &fresh, why, sizeof why) != 0) {
        describe_failure(&fresh, why, err, len);
        live_restore_engine_mask(e);
        return -1;
    }
    live_slot_end_segment(e, s);
    probes_session_swap_pool(&s->m, &fresh);
    live_restore_engine_mask(e);
    s->setting = want;
    s->have_last_read = 0;
    reset_sums(s);
    live_slot_new_segment(e, s);
    return 0;
}

void live_slot_activate(live_engine *e, live_slot *s)
{
    live_restore_engine_mask(e);
    if (s->m.affinity)
        probes_affinity_bind_thread(0, s->m.affinity);
    s->have_last_read = 0;
}

/* ---- segments --------------------------------------------------------------------------- */

static void describe_placement(live_slot *s, live_segment_info *info)
{
    info->threads = s->setting.threads;
    for (int i = 0; i < LIVE_SAMPLE_THREADS && i < hst_pool_threads(s->m.pool); i++)
        info->thread_tid[i] = hst_pool_thread_tid(s->m.pool, i);
    info->affinity_wrapped = s->m.affinity ? probes_affinity_wrapped(s->m.affinity) : 0;
    for (int i = 0; i < LIVE_SAMPLE_THREADS; i++)
        info->thread_pu[i] = s->m.affinity && i < info->threads ? probes_affinity_pu(s->m.affinity, i) : -1;
    for (int i = 0; s->m.affinity && i < info->threads; i++) {
        probes_metric bound = probes_affinity_binding(s->m.affinity, i);
        if (!bound.valid && probes_affinity_pu(s->m.affinity, i) >= 0) {
            snprintf(info->binding_why_not, sizeof info->binding_why_not, "thread %d: %s", i, bound.why_not);
            break;
        }
    }
}

static void describe_sections(live_slot *s, live_segment_info *info)
{
    int n = hst_session_section_count(s->m.session);
    info->n_sections = n < LIVE_MAX_SECTIONS ? n : LIVE_MAX_SECTIONS;
    for (int i = 0; i < info->n_sections; i++)
        snprintf(info->section_names[i], sizeof info->section_names[i], "%s", hst_session_section_name(s->m.session, i));
    if (n > LIVE_MAX_SECTIONS)
        snprintf(info->section_names[LIVE_MAX_SECTIONS - 1], sizeof info->section_names[0], "(%d more)",
                 n - LIVE_MAX_SECTIONS + 1);
}

static void describe_segment(live_engine *e, live_slot *s, live_segment_info *info)
{
    memset(info, 0, sizeof *info);
    info->id = s->segment;
    info->valid = 1;
    info->ab_side = s->ab_side;
    info->setting = s->setting;
    snprintf(info->preset, sizeof info->preset, "%s", hst_model_preset(s->m.model));
    snprintf(info->source, sizeof info->source, "%s", hst_model_source(s->m.model));
    info->config = *hst_model_config(s->m.model);
    snprintf(info->arch, sizeof info->arch, "%s", hst_arch_name(info->config.arch));
    snprintf(info->arch_class, sizeof info->arch_class, "%s", hst_arch_class(info->config.arch));
    info->counts = hst_model_counts(s->m.model);
    snprintf(info->kernel, sizeof info->kernel, "%s", hst_kernel_name(hst_session_kernel(s->m.session)));
    info->kv_cache_bytes = hst_session_kv_bytes(s->m.session);
    info->prompt_tokens = s->prompt_len;
    describe_sections(s, info);
    describe_placement(s, info);
    info->start_ns = hst_now_ns();
    info->counters_open = s->m.counters != NULL;
    snprintf(info->mode, sizeof info->mode, "%s", hst_mode_name(hst_session_mode(s->m.session)));
    info->n_counters = s->m.counters ? probes_counters_event_count(s->m.counters) : 0;
    for (int i = 0; i < info->n_counters; i++) {
        probes_event_info event;
        probes_counters_event(s->m.counters, i, &event);
        snprintf(info->counter_names[i], sizeof info->counter_names[i], "%s", event.name);
    }
    snprintf(info->counters_summary, sizeof info->counters_summary, "%s", s->m.counters_summary);
    (void)e;
}

void live_slot_new_segment(live_engine *e, live_slot *s)
{
    s->segment = e->next_segment++;
    s->have_last_read = 0;
    reset_sums(s);
    s->last_publish_ns = hst_now_ns();
    live_segment_info *info = malloc(sizeof *info);
    if (!info)
        return;
    describe_segment(e, s, info);
    pthread_mutex_lock(&e->lock);
    e->segments[s->segment % LIVE_MAX_SEGMENTS] = *info;
    pthread_mutex_unlock(&e->lock);
    free(info);
}

void live_slot_end_segment(live_engine *e, live_slot *s)
{
    live_slot_publish_counters(e, s, 1);
    pthread_mutex_lock(&e->lock);
    live_segment_info *info = &e->segments[s->segment % LIVE_MAX_SEGMENTS];
    if (info->id == s->segment && info->end_ns == 0)
        info->end_ns = hst_now_ns();
    pthread_mutex_unlock(&e->lock);
}

/* ---- counters -------------------------------------------------------------------------------- */

static void add_delta(probes_counter_snapshot *sum, const probes_counter_snapshot *from,
                      const probes_counter_snapshot *to)
{
    int fresh = sum->n == 0;
    sum->n = to->n;
    sum->t_ns += to->t_ns - from->t_ns;
    for (int i = 0; i < to->n; i++) {
        int ok = from->ok[i] && to->ok[i];
        sum->ok[i] = fresh ? ok : sum->ok[i] && ok;
        sum->raw[i] += to->raw[i] - from->raw[i];
        sum->enabled_ns[i] += to->enabled_ns[i] - from->enabled_ns[i];
        sum->running_ns[i] += to->running_ns[i] - from->running_ns[i];
    }
}

static void counters_before_token(live_slot *s)
{
    if (s->m.counters && !s->have_last_read) {
        probes_counters_read(s->m.counters, &s->last_read);
        s->have_last_read = 1;
    }
}

/* Adds the token's counts to the sums, and each event's count to the sample. */
static void counters_after_token(live_slot *s, int prefill, live_sample *out)
{
    if (!s->m.counters)
        return;
    probes_counter_snapshot now;
    probes_counters_read(s->m.counters, &now);
    out->n_counters = probes_counters_event_count(s->m.counters);
    probes_counter_deltas(&s->last_read, &now, out->n_counters, out->counter_delta);
    add_delta(prefill ? &s->prefill_sum : &s->decode_sum, &s->last_read, &now);
    if (!prefill)
        add_delta(&s->recent_sum, &s->last_read, &now);
    s->last_read = now;
}

/* A window over summed deltas: begin is all zeros, end the sums; its time
 * is the time this slot actually ran. */
static void window_of(const probes_counters *c, const probes_counter_snapshot *sum, probes_counter_window *out)
{
    probes_counter_snapshot zero;
    memset(&zero, 0, sizeof zero);
    zero.n = probes_counters_event_count(c);
    for (int i = 0; i < zero.n; i++)
        zero.ok[i] = 1;
    /* A phase without tokens yet: an empty window, "no measured thread ran". */
    probes_counters_window(c, &zero, sum->n ? sum : &zero, out);
}

void live_slot_publish_counters(live_engine *e, live_slot *s, int force)
{
    uint64_t now = hst_now_ns();
    int any = s->prefill_sum.n || s->decode_sum.n;
    if (!s->m.counters || !any || (!force && now - s->last_publish_ns < COUNTER_PUBLISH_NS))
        return;
    s->last_publish_ns = now;
    probes_counter_window *w = malloc(3 * sizeof *w);
    if (!w)
        return;
    window_of(s->m.counters, &s->prefill_sum, &w[0]);
    window_of(s->m.counters, &s->decode_sum, &w[1]);
    window_of(s->m.counters, s->recent_sum.n ? &s->recent_sum : &s->decode_sum, &w[2]);
    memset(&s->recent_sum, 0, sizeof s->recent_sum);
    /* A group lost since the last publish (a failed read) shows in the summary. */
    snprintf(s->m.counters_summary, sizeof s->m.counters_summary, "%s", probes_counters_summary(s->m.counters));
    pthread_mutex_lock(&e->lock);
    live_segment_info *info = &e->segments[s->segment % LIVE_MAX_SEGMENTS];
    if (info->id == s->segment) {
        snprintf(info->counters_summary, sizeof info->counters_summary, "%s", s->m.counters_summary);
        info->counters_prefill = w[0];
        info->counters_decode = w[1];
        info->counters_recent = w[2];
        info->has_windows = 1;
        info->counters_decode_tokens = s->decode_tokens;
    }
    pthread_mutex_unlock(&e->lock);
    free(w);
}

/* ---- one step ------------------------------------------------------------------------------------ */

static void fill_sections(live_slot *s, live_sample *out)
{
    int n = hst_session_section_count(s->m.session);
    hst_session_last_section_ns(s->m.session, s->section_scratch);
    out->n_sections = n < LIVE_MAX_SECTIONS ? n : LIVE_MAX_SECTIONS;
    for (int i = 0; i < n; i++)
        out->section_ns[i < LIVE_MAX_SECTIONS ? i : LIVE_MAX_SECTIONS - 1] += s->section_scratch[i];
}

static void fill_threads(live_slot *s, live_sample *out)
{
    out->n_threads = hst_pool_threads(s->m.pool);
    for (int i = 0; i < out->n_threads && i < LIVE_SAMPLE_THREADS; i++) {
        out->thread_cpu[i] = (int16_t)hst_pool_thread_cpu(s->m.pool, i);
        out->thread_migrations[i] = (uint32_t)hst_pool_thread_migrations(s->m.pool, i);
        out->thread_busy_ns[i] = hst_pool_thread_busy_ns(s->m.pool, i);
    }
    hst_pool_contention_stats c;
    hst_pool_contention(s->m.pool, &c);
    out->pool_jobs = c.jobs;
    out->pool_jobs_solo = c.jobs_solo;
    out->pool_stalls = c.stalls;
    out->pool_solo_periods = c.solo_periods;
    out->pool_solo_now = c.solo_now;
}

/* Spec 11 counts logits for every row; the live loop computes only the
 * last row's, as `hstprof run` does without --dump-logits. */
static double prefill_flops(const hst_config *c, hst_mode mode, int n)
{
    return hst_flops_prefill_per_token(c, mode, n) * n - 2.0 * c->d_model * c->vocab_size * (n - 1);
}

int live_slot_step(live_engine *e, live_slot *s, live_sample *out, char *err, size_t len)
{
    (void)e;
    const hst_config *cfg = hst_session_config(s->m.session);
    int pos = hst_session_pos(s->m.session);
    if (pos >= s->max_seq_len) {
        hst_session_reset(s->m.session);
        pos = 0;
    }
    const int prefill = pos == 0;
    if (prefill)
        s->generation++;
    const int *ids = prefill ? s->prompt : &s->last_token;
    const int n = prefill ? s->prompt_len : 1;
    hst_error herr = {{0}};
    memset(out, 0, sizeof *out);
    counters_before_token(s);
    uint64_t t0 = hst_now_ns();
    int rc = hst_forward(s->m.session, ids, n, s->logits, 0, &herr);
    uint64_t t_forward = hst_now_ns();
    int token = rc == 0 ? hst_argmax(s->logits, cfg->vocab_size) : -1;
    uint64_t t1 = hst_now_ns();
    counters_after_token(s, prefill, out);
    s->decode_tokens += !prefill;
    if (rc != 0) {
        snprintf(err, len, "%s", herr.msg);
        return -1;
    }
    s->last_token = token;
    out->segment = s->segment;
    out->ab_side = s->ab_side;
    out->generation = s->generation;
    out->pos = pos;
    out->n_tokens = n;
    out->token = token;
    out->phase = prefill ? LIVE_PHASE_PREFILL : LIVE_PHASE_DECODE;
    out->end_ns = t1;
    out->latency_ns = t1 - t0;
    out->forward_ns = t_forward - t0;
    const hst_mode mode = hst_session_mode(s->m.session);
    out->flops = prefill ? prefill_flops(cfg, mode, n) : hst_flops_decode(cfg, mode, pos);
    out->bytes = hst_session_last_bytes(s->m.session);
    fill_sections(s, out);
    fill_threads(s, out);
    return 0;
}
