/* live.c — the live engine loop: a thread that generates continuously
 * (prefill a prompt, decode until the context is full, reset, again) and
 * pushes one sample per token into the SPSC ring. Commands from the UI wait
 * in a small mailbox and are applied only between tokens. */
#include "probes/live_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RING_CAPACITY 4096

const char *live_state_name(live_state s)
{
    static const char *const names[] = {"starting", "running", "paused", "held", "failed", "stopped"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* ---- status for the other threads ---------------------------------------------------------- */

static void set_error(live_engine *e, const char *what, const char *why)
{
    pthread_mutex_lock(&e->lock);
    if (snprintf(e->error, sizeof e->error, "%s: %s", what, why) < 0)
        e->error[0] = '\0';
    pthread_mutex_unlock(&e->lock);
}

/* Mirrors the slots into the fields other threads read under the lock. */
static void publish_slots(live_engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->n_slots_status = e->n_slots;
    e->ab_active_status = e->ab_active;
    if (e->n_slots > 0) {
        e->shown_setting = e->slots[0].setting;
        atomic_store(&e->segment_shown, e->slots[0].segment);
        atomic_store(&e->max_seq_len, e->slots[0].max_seq_len);
    }
    for (int i = 0; i < 2 && e->ab_active; i++) {
        e->ab_settings[i] = e->slots[i].setting;
        e->ab_segments[i] = e->slots[i].segment;
        snprintf(e->ab_kernel_in_use[i], sizeof e->ab_kernel_in_use[i], "%s",
                 hst_kernel_name(hst_session_kernel(e->slots[i].m.session)));
    }
    hst_kernel in_use = e->n_slots > 0 ? hst_session_kernel(e->slots[0].m.session) : hst_kernel_default();
    snprintf(e->kernel_in_use, sizeof e->kernel_in_use, "%s", hst_kernel_name(in_use));
    pthread_mutex_unlock(&e->lock);
}

static live_state state_locked(live_engine *e)
{
    if (atomic_load(&e->stop))
        return LIVE_STOPPED;
    if (e->n_slots_status == 0)
        return atomic_load(&e->started) ? LIVE_FAILED : LIVE_STARTING;
    /* The user's pause first: a hold (measuring ceilings) then only shows
     * as the reason beside it. */
    if (atomic_load(&e->paused))
        return LIVE_PAUSED;
    return atomic_load(&e->held) ? LIVE_HELD : LIVE_RUNNING;
}

void live_get_status(live_engine *e, live_status *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&e->lock);
    out->state = state_locked(e);
    snprintf(out->error, sizeof out->error, "%s", e->error);
    snprintf(out->hold_reason, sizeof out->hold_reason, "%s", e->hold_reason);
    out->setting = e->shown_setting;
    out->ab_active = e->ab_active_status;
    out->ab_stopped = e->ab_stopped;
    out->ab_kept = e->ab_kept;
    out->ab_before = e->ab_before;
    out->ab[0] = e->ab_settings[0], out->ab[1] = e->ab_settings[1];
    out->ab_segment[0] = e->ab_segments[0], out->ab_segment[1] = e->ab_segments[1];
    out->pu_count = e->pu_count;
    snprintf(out->kernel_in_use, sizeof out->kernel_in_use, "%s", e->kernel_in_use);
    for (int i = 0; i < 2; i++)
        snprintf(out->ab_kernel_in_use[i], sizeof out->ab_kernel_in_use[i], "%s", e->ab_kernel_in_use[i]);
    pthread_mutex_unlock(&e->lock);
    out->segment = atomic_load(&e->segment_shown);
    out->generations = atomic_load(&e->generations);
    out->pos = atomic_load(&e->pos);
    out->max_seq_len = atomic_load(&e->max_seq_len);
    out->tokens = atomic_load(&e->tokens);
    out->ab_rounds[0] = atomic_load(&e->ab_rounds[0]);
    out->ab_rounds[1] = atomic_load(&e->ab_rounds[1]);
    out->ab_round_tokens = e->opts.ab_round_tokens;
    out->resets = atomic_load(&e->resets);
}

int live_get_segment(live_engine *e, uint32_t id, live_segment_info *out)
{
    int rc = -1;
    pthread_mutex_lock(&e->lock);
    const live_segment_info *info = &e->segments[id % LIVE_MAX_SEGMENTS];
    if (info->valid && info->id == id) {
        *out = *info;
        rc = 0;
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

live_ring *live_engine_ring(live_engine *e)
{
    return e->ring;
}

/* ---- the mailbox ------------------------------------------------------------------------------ */

int live_send(live_engine *e, const live_command *cmd)
{
    int rc = -1;
    pthread_mutex_lock(&e->lock);
    if (e->n_queued < (int)(sizeof e->queue / sizeof e->queue[0])) {
        e->queue[e->n_queued++] = *cmd;
        atomic_store(&e->pending, 1);
        pthread_cond_signal(&e->wake);
        rc = 0;
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int live_send_simple(live_engine *e, live_command_kind kind)
{
    live_command c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    return live_send(e, &c);
}

int live_send_threads(live_engine *e, int threads)
{
    live_command c;
    memset(&c, 0, sizeof c);
    c.kind = LIVE_CMD_SET_THREADS;
    c.threads = threads;
    return live_send(e, &c);
}

int live_send_text(live_engine *e, live_command_kind kind, const char *text)
{
    live_command c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    snprintf(c.text, sizeof c.text, "%s", text);
    return live_send(e, &c);
}

void live_hold(live_engine *e, int on, const char *reason, int wait)
{
    pthread_mutex_lock(&e->lock);
    atomic_store(&e->held, on);
    snprintf(e->hold_reason, sizeof e->hold_reason, "%s", on && reason ? reason : "");
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    /* The engine notices at its next token boundary; a token is short, a
     * model load may not be, so poll gently. */
    while (on && wait && !atomic_load(&e->idle) && !atomic_load(&e->stop)) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

/* ---- applying commands (engine thread) ------------------------------------------------------- */

static void close_all_slots(live_engine *e)
{
    for (int i = e->n_slots - 1; i >= 0; i--)
        live_slot_close(e, &e->slots[i]);
    e->n_slots = 0;
    e->ab_active = 0;
    e->active = 0;
}

/* Opening a slot may rebind the engine thread: the running slot takes its
 * binding back. */
static void reactivate(live_engine *e)
{
    if (e->n_slots)
        live_slot_activate(e, &e->slots[e->active]);
}

/* Opens setting in a fresh slot and only then replaces the running ones,
 * so a request that fails leaves the engine exactly as it was. */
static void replace_with_single(live_engine *e, const live_setting *setting, const char *what)
{
    live_slot fresh;
    char err[512];
    if (live_slot_open(e, &fresh, setting, -1, NULL, err, sizeof err) != 0) {
        set_error(e, what, err);
        reactivate(e);
        return;
    }
    close_all_slots(e);
    e->slots[0] = fresh;
    e->n_slots = 1;
    live_slot_activate(e, &e->slots[0]);
}

static void change_placement(live_engine *e, int threads, const char *affinity, const char *what)
{
    if (e->ab_active) {
        set_error(e, what, "stop the A/B comparison first (c)");
        return;
    }
    if (e->n_slots == 0)
        return;
    char err[512];
    if (live_slot_set_threads(e, &e->slots[0], threads, affinity, err, sizeof err) != 0)
        set_error(e, what, err);
    live_slot_activate(e, &e->slots[0]);
}

/* A new model, kernel or precision: a new slot, if it opens. */
static void change_model_or_kernel(live_engine *e, const live_command *c)
{
    const char *what = c->kind == LIVE_CMD_SET_MODEL ? "model" : c->kind == LIVE_CMD_SET_KERNEL ? "kernel" : "precision";
    if (e->ab_active) {
        set_error(e, what, "stop the A/B comparison first (c)");
        return;
    }
    live_setting old = e->n_slots ? e->slots[0].setting : e->opts.setting, want = old;
    if (c->kind == LIVE_CMD_SET_MODEL)
        snprintf(want.model, sizeof want.model, "%s", c->text);
    else if (c->kind == LIVE_CMD_SET_KERNEL)
        live_copy_text(want.kernel, sizeof want.kernel, c->text);
    else
        live_copy_text(want.precision, sizeof want.precision, c->text);
    replace_with_single(e, &want, what);
}

/* A new mode on the running session: the engine rebuilds the session's
 * state for the tokens so far (hst_session_set_mode), so the generation goes
 * on where it was, in a new segment. No model load, no new pool. */
static void change_mode(live_engine *e, const char *name)
{
    hst_mode mode, old;
    if (e->ab_active) {
        set_error(e, "mode", "stop the A/B comparison first (c)");
        return;
    }
    if (hst_mode_from_name(name, &mode) != 0) {
        char why[160];
        snprintf(why, sizeof why, "unknown mode '%.40s' (causal or parity)", name);
        set_error(e, "mode", why);
        return;
    }
    if (e->n_slots == 0) { /* nothing runs: try the start setting in that mode */
        live_setting want = e->opts.setting;
        live_copy_text(want.mode, sizeof want.mode, hst_mode_name(mode));
        replace_with_single(e, &want, "mode");
        return;
    }
    live_slot *s = &e->slots[0];
    old = hst_session_mode(s->m.session);
    hst_error herr = {{0}};
    if (hst_session_set_mode(s->m.session, mode, &herr) != 0) {
        set_error(e, "mode", herr.msg);
        hst_session_set_mode(s->m.session, old, &herr); /* resets the session in the old mode */
        return;
    }
    live_slot_end_segment(e, s);
    live_copy_text(s->setting.mode, sizeof s->setting.mode, hst_mode_name(mode));
    live_slot_new_segment(e, s);
    live_slot_activate(e, s);
}

static void reset_stats(live_engine *e)
{
    for (int i = 0; i < e->n_slots; i++) {
        live_slot_end_segment(e, &e->slots[i]);
        live_slot_new_segment(e, &e->slots[i]);
        if (e->ab_active)
            hst_session_reset(e->slots[i].m.session); /* both sides at the same positions again */
    }
    e->round[0] = e->round[1] = 0;
    e->round_tokens_done = 0;
    e->active = 0;
    atomic_store(&e->ab_rounds[0], 0);
    atomic_store(&e->ab_rounds[1], 0);
    if (e->n_slots)
        live_slot_activate(e, &e->slots[0]);
}

/* Precision is stored in the model's packed weights, so a shared model
 * needs the same precision too. */
static int same_model(const live_setting *a, const live_setting *b)
{
    return strcmp(a->model, b->model) == 0 && strcmp(a->precision, b->precision) == 0;
}

static int same_setting(const live_setting *a, const live_setting *b)
{
    const char *mode_a = a->mode[0] ? a->mode : "causal", *mode_b = b->mode[0] ? b->mode : "causal";
    return same_model(a, b) && a->threads == b->threads && strcmp(a->affinity, b->affinity) == 0 &&
           strcmp(a->kernel, b->kernel) == 0 && strcmp(mode_a, mode_b) == 0;
}

static void set_ab_stopped(live_engine *e, int stopped, live_ab_keep kept)
{
    pthread_mutex_lock(&e->lock);
    e->ab_stopped = stopped;
    e->ab_kept = kept;
    pthread_mutex_unlock(&e->lock);
}

static void ab_start(live_engine *e, const live_command *c)
{
    live_slot a, b;
    char err[512];
    const live_setting before = e->n_slots ? e->slots[0].setting : e->opts.setting;
    /* The same model on both sides is loaded once: two copies would sit at
     * different addresses, and memory placement alone can make one copy a
     * few percent faster, which an A/B test would then report. */
    if (live_slot_open(e, &a, &c->a, 0, NULL, err, sizeof err) != 0) {
        set_error(e, "A/B", err);
        reactivate(e);
        return;
    }
    if (live_slot_open(e, &b, &c->b, 1, same_model(&c->a, &c->b) ? a.m.model : NULL, err, sizeof err) != 0) {
        set_error(e, "A/B", err);
        live_slot_close(e, &a);
        reactivate(e);
        return;
    }
    close_all_slots(e);
    e->slots[0] = a;
    e->slots[1] = b;
    e->n_slots = 2;
    e->ab_active = 1;
    pthread_mutex_lock(&e->lock);
    e->ab_before = before;
    pthread_mutex_unlock(&e->lock);
    set_ab_stopped(e, 0, LIVE_AB_KEEP_A);
    reset_stats(e);
}

/* The setting from before, in a fresh slot; 0, or -1 (nothing changed). */
static int ab_stop_to_before(live_engine *e, const live_setting *before)
{
    live_slot fresh;
    char err[512], why[700];
    if (live_slot_open(e, &fresh, before, -1, NULL, err, sizeof err) != 0) {
        snprintf(why, sizeof why, "the setting from before does not open (%s); side A runs on", err);
        set_error(e, "A/B stop", why);
        reactivate(e);
        return -1;
    }
    close_all_slots(e);
    e->slots[0] = fresh;
    e->n_slots = 1;
    live_slot_activate(e, &e->slots[0]);
    return 0;
}

/* Ends the comparison; keep says which setting generates on. Keeping a
 * side keeps its slot (no reload), in a new segment. */
static void ab_stop(live_engine *e, live_ab_keep keep)
{
    if (!e->ab_active)
        return;
    const live_setting before = e->ab_before; /* written by this thread only */
    live_ab_keep ran = keep;
    if (keep == LIVE_AB_KEEP_BEFORE && same_setting(&before, &e->slots[0].setting))
        keep = LIVE_AB_KEEP_A; /* the usual case: one side is the setting from before */
    else if (keep == LIVE_AB_KEEP_BEFORE && same_setting(&before, &e->slots[1].setting))
        keep = LIVE_AB_KEEP_B;
    if (keep == LIVE_AB_KEEP_BEFORE && ab_stop_to_before(e, &before) == 0) {
        set_ab_stopped(e, 1, ran);
        return;
    }
    if (keep == LIVE_AB_KEEP_BEFORE)
        keep = ran = LIVE_AB_KEEP_A;
    live_slot *kept = &e->slots[keep == LIVE_AB_KEEP_B], *other = &e->slots[keep != LIVE_AB_KEEP_B];
    if (kept->m.model == other->m.model && !kept->m.owns_model) { /* B borrows A's model: it stays */
        kept->m.owns_model = 1;
        other->m.owns_model = 0;
    }
    live_slot_close(e, other);
    if (keep == LIVE_AB_KEEP_B)
        e->slots[0] = e->slots[1];
    e->n_slots = 1;
    e->ab_active = 0;
    e->active = 0;
    e->slots[0].ab_side = -1;
    live_slot_end_segment(e, &e->slots[0]);
    live_slot_new_segment(e, &e->slots[0]);
    live_slot_activate(e, &e->slots[0]);
    set_ab_stopped(e, 1, ran);
}

static void apply_command(live_engine *e, const live_command *c)
{
    live_setting cur = e->n_slots ? e->slots[0].setting : e->opts.setting;
    switch (c->kind) {
    case LIVE_CMD_PAUSE:
    case LIVE_CMD_RESUME:
        pthread_mutex_lock(&e->lock);
        atomic_store(&e->paused, c->kind == LIVE_CMD_PAUSE);
        pthread_mutex_unlock(&e->lock);
        break;
    case LIVE_CMD_SET_THREADS:
        change_placement(e, c->threads, cur.affinity, "threads");
        break;
    case LIVE_CMD_SET_AFFINITY:
        change_placement(e, cur.threads, c->text, "affinity");
        break;
    case LIVE_CMD_SET_MODEL:
    case LIVE_CMD_SET_KERNEL:
    case LIVE_CMD_SET_PRECISION:
        change_model_or_kernel(e, c);
        break;
    case LIVE_CMD_SET_MODE:
        change_mode(e, c->text);
        break;
    case LIVE_CMD_RESET_STATS:
        reset_stats(e);
        atomic_fetch_add(&e->resets, 1);
        if (!e->ab_active) /* a stopped comparison's verdict goes with the statistics */
            set_ab_stopped(e, 0, LIVE_AB_KEEP_A);
        break;
    case LIVE_CMD_AB_START:
        ab_start(e, c);
        break;
    case LIVE_CMD_AB_STOP:
        ab_stop(e, c->keep);
        break;
    }
}

static void process_mailbox(live_engine *e)
{
    live_command *batch = malloc(sizeof e->queue);
    if (!batch)
        return;
    pthread_mutex_lock(&e->lock);
    int n = e->n_queued;
    memcpy(batch, e->queue, (size_t)n * sizeof *batch);
    e->n_queued = 0;
    atomic_store(&e->pending, 0);
    if (n > 0)
        e->error[0] = '\0'; /* a new request: the last error is history */
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < n; i++)
        apply_command(e, &batch[i]);
    free(batch);
    publish_slots(e);
}

/* ---- the loop ------------------------------------------------------------------------------------ */

static int runnable(live_engine *e)
{
    return e->n_slots > 0 && !atomic_load(&e->paused) && !atomic_load(&e->held);
}

/* Sleeps (no CPU) until a command, a resume or stop; the slots' counter
 * windows are published first so that a paused dashboard shows them. */
static void wait_until_runnable(live_engine *e)
{
    for (int i = 0; i < e->n_slots; i++)
        live_slot_publish_counters(e, &e->slots[i], 1);
    pthread_mutex_lock(&e->lock);
    atomic_store(&e->idle, 1);
    while (!atomic_load(&e->stop) && !atomic_load(&e->pending) && !runnable(e))
        pthread_cond_wait(&e->wake, &e->lock);
    atomic_store(&e->idle, 0);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < e->n_slots; i++)
        e->slots[i].have_last_read = 0; /* the pause is nobody's token */
}

/* ABAB...: after round_tokens tokens the other side runs. Both sides run
 * the same number of tokens per round from the same start, so round i of
 * A and round i of B cover the same positions. */
static void advance_ab_round(live_engine *e, live_sample *smp)
{
    smp->ab_round = e->round[e->active];
    if (++e->round_tokens_done < e->opts.ab_round_tokens)
        return;
    smp->round_end = 1;
    e->round_tokens_done = 0;
    e->round[e->active]++;
    atomic_store(&e->ab_rounds[e->active], e->round[e->active]);
    live_slot_publish_counters(e, &e->slots[e->active], 1);
    e->active = 1 - e->active;
    live_slot_activate(e, &e->slots[e->active]);
}

static void step_once(live_engine *e)
{
    live_slot *s = &e->slots[e->active];
    live_sample smp;
    char err[512];
    if (live_slot_step(e, s, &smp, err, sizeof err) != 0) {
        set_error(e, "forward", err);
        close_all_slots(e);
        publish_slots(e);
        return;
    }
    smp.seq = e->seq++;
    if (e->ab_active)
        advance_ab_round(e, &smp);
    live_ring_push(e->ring, &smp);
    atomic_fetch_add(&e->tokens, 1);
    if (s->ab_side <= 0) {
        atomic_store(&e->pos, smp.pos + smp.n_tokens);
        atomic_store(&e->generations, smp.generation);
    }
    live_slot_publish_counters(e, s, 0);
}

static void engine_startup(live_engine *e)
{
    e->have_original_mask = sched_getaffinity(0, sizeof e->original_mask, &e->original_mask) == 0;
    e->topo = probes_topo_load(e->topo_why, sizeof e->topo_why);
    pthread_mutex_lock(&e->lock);
    e->pu_count = e->topo ? probes_topo_pu_count(e->topo) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    pthread_mutex_unlock(&e->lock);
    replace_with_single(e, &e->opts.setting, "start");
    atomic_store(&e->started, 1);
    publish_slots(e);
}

static void *engine_main(void *arg)
{
    live_engine *e = arg;
    pthread_setname_np(pthread_self(), "hstprof-engine"); /* for top -H and debuggers */
    engine_startup(e);
    while (!atomic_load(&e->stop)) {
        if (atomic_load(&e->pending))
            process_mailbox(e);
        if (runnable(e)) /* no lock: a token boundary costs two atomic loads */
            step_once(e);
        else
            wait_until_runnable(e);
    }
    close_all_slots(e);
    live_restore_engine_mask(e);
    probes_topo_free(e->topo);
    e->topo = NULL;
    return NULL;
}

/* ---- start / stop ---------------------------------------------------------------------------------- */

static void copy_options(live_engine *e, const live_options *opts)
{
    e->opts = *opts;
    snprintf(e->prompt_text, sizeof e->prompt_text, "%s", opts->prompt ? opts->prompt : HST_QUALITY_PROMPT);
    snprintf(e->events, sizeof e->events, "%s", opts->events ? opts->events : "");
    e->opts.prompt = e->prompt_text;
    e->opts.events = e->events[0] ? e->events : NULL;
    if (e->opts.ab_round_tokens <= 0)
        e->opts.ab_round_tokens = LIVE_AB_ROUND_TOKENS;
    if (e->opts.setting.threads < 1)
        e->opts.setting.threads = 1;
    if (!e->opts.setting.affinity[0])
        snprintf(e->opts.setting.affinity, sizeof e->opts.setting.affinity, "none");
    if (!e->opts.setting.kernel[0])
        snprintf(e->opts.setting.kernel, sizeof e->opts.setting.kernel, "auto");
    if (!e->opts.setting.precision[0])
        snprintf(e->opts.setting.precision, sizeof e->opts.setting.precision, "f32");
    if (!e->opts.setting.model[0])
        snprintf(e->opts.setting.model, sizeof e->opts.setting.model, "%s", HST_DEFAULT_PRESET);
}

live_engine *live_start(const live_options *opts, char *err, size_t err_len)
{
    live_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, err_len, "live: out of memory");
        return NULL;
    }
    copy_options(e, opts);
    e->shown_setting = e->opts.setting;
    e->segments = calloc(LIVE_MAX_SEGMENTS, sizeof *e->segments);
    e->ring = live_ring_create(opts->ring_capacity ? opts->ring_capacity : DEFAULT_RING_CAPACITY);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    int rc = e->segments && e->ring ? pthread_create(&e->thread, NULL, engine_main, e) : ENOMEM;
    if (rc != 0) {
        snprintf(err, err_len, "live: cannot start the engine thread: %s", strerror(rc));
        live_stop(e);
        return NULL;
    }
    e->thread_started = 1;
    return e;
}

void live_stop(live_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    atomic_store(&e->stop, 1);
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    if (e->thread_started)
        pthread_join(e->thread, NULL);
    pthread_cond_destroy(&e->wake);
    pthread_mutex_destroy(&e->lock);
    live_ring_free(e->ring);
    free(e->segments);
    free(e);
}
