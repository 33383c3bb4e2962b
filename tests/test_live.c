/* test_live.c — the live loop behind the dashboard: the SPSC sample ring
 * (order, wrap-around, drops, a real producer thread), the engine thread
 * (generations restart when the context is full, it stops cleanly, a thread
 * change lands at a token boundary and starts a new segment, pause, A/B
 * rounds), the latency histogram, and the metrics thread's view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "exports/exports.h"
#include "probes/ceilings.h"
#include "probes/json.h"
#include "probes/live.h"
#include "probes/live_metrics.h"
#include "probes/ring.h"
#include "probes/stats.h"
#include "tests/figures_check.h"
#include "tests/harness.h"

#include <errno.h>
#include <sys/wait.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#define WAIT_NS 20000000000ull /* generous: ASan builds are slow */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- ring ------------------------------------------------------------------------------- */

static void test_ring_capacity_is_a_power_of_two(void **state)
{
    (void)state;
    live_ring *r = live_ring_create(100);
    assert_int_equal(live_ring_capacity(r), 128);
    live_ring_free(r);
    r = live_ring_create(0);
    assert_int_equal(live_ring_capacity(r), 2);
    live_ring_free(r);
}

static void test_ring_full_drops_new_samples_and_counts_them(void **state)
{
    (void)state;
    live_ring *r = live_ring_create(8);
    live_sample s, out;
    memset(&s, 0, sizeof s);
    for (uint64_t i = 0; i < 8; i++) {
        s.seq = i;
        assert_int_equal(live_ring_push(r, &s), 0);
    }
    s.seq = 99;
    assert_int_equal(live_ring_push(r, &s), -1);
    assert_int_equal(live_ring_push(r, &s), -1);
    assert_int_equal(live_ring_dropped(r), 2);
    assert_int_equal(live_ring_size(r), 8);
    for (uint64_t i = 0; i < 8; i++) {
        assert_int_equal(live_ring_pop(r, &out), 1);
        assert_int_equal(out.seq, i); /* the oldest are kept, in order */
    }
    assert_int_equal(live_ring_pop(r, &out), 0);
    live_ring_free(r);
}

static void test_ring_wraps_around_many_times(void **state)
{
    (void)state;
    live_ring *r = live_ring_create(4);
    live_sample s, out;
    memset(&s, 0, sizeof s);
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 1000; round++) {
        int k = 1 + round % 4;
        for (int i = 0; i < k; i++) {
            s.seq = next_in++;
            s.token = (int32_t)s.seq * 3;
            assert_int_equal(live_ring_push(r, &s), 0);
        }
        for (int i = 0; i < k; i++) {
            assert_int_equal(live_ring_pop(r, &out), 1);
            assert_int_equal(out.seq, next_out);
            assert_int_equal(out.token, (int32_t)next_out * 3);
            next_out++;
        }
    }
    assert_int_equal(live_ring_dropped(r), 0);
    live_ring_free(r);
}

typedef struct {
    live_ring *ring;
    uint64_t n;
    int retry; /* 1: push again until accepted; 0: a full ring drops */
} producer_args;

static void *producer(void *arg)
{
    producer_args *p = arg;
    live_sample s;
    memset(&s, 0, sizeof s);
    for (uint64_t i = 0; i < p->n; i++) {
        s.seq = i;
        s.latency_ns = i * 7 + 1; /* a second field checked for torn copies */
        while (live_ring_push(p->ring, &s) != 0 && p->retry)
            ;
    }
    return NULL;
}

/* Pops until the producer is done and the ring is empty; checks order and
 * integrity; returns how many arrived. */
static uint64_t consume(live_ring *r, pthread_t thread, _Atomic int *done)
{
    live_sample out;
    uint64_t got = 0, last = 0;
    int first = 1;
    for (;;) {
        if (live_ring_pop(r, &out)) {
            assert_true(first || out.seq > last);
            assert_int_equal(out.latency_ns, out.seq * 7 + 1);
            last = out.seq, first = 0, got++;
        } else if (atomic_load(done)) {
            if (!live_ring_pop(r, &out))
                break;
            assert_true(first || out.seq > last);
            last = out.seq, first = 0, got++;
        }
    }
    (void)thread;
    return got;
}

typedef struct {
    producer_args args;
    _Atomic int done;
} producer_run;

static void *producer_then_flag(void *arg)
{
    producer_run *run = arg;
    producer(&run->args);
    atomic_store(&run->done, 1);
    return NULL;
}

static void test_ring_spsc_with_a_producer_thread_loses_nothing_when_retried(void **state)
{
    (void)state;
    producer_run run = {{live_ring_create(64), 200000, 1}, 0};
    pthread_t t;
    pthread_create(&t, NULL, producer_then_flag, &run);
    uint64_t got = consume(run.args.ring, t, &run.done);
    pthread_join(t, NULL);
    assert_int_equal(got, 200000);
    live_ring_free(run.args.ring);
}

static void test_ring_spsc_drops_are_counted_exactly(void **state)
{
    (void)state;
    producer_run run = {{live_ring_create(16), 200000, 0}, 0};
    pthread_t t;
    pthread_create(&t, NULL, producer_then_flag, &run);
    uint64_t got = consume(run.args.ring, t, &run.done);
    pthread_join(t, NULL);
    assert_int_equal(got + live_ring_dropped(run.args.ring), 200000);
    live_ring_free(run.args.ring);
}

/* ---- histogram ------------------------------------------------------------------------------- */

static void test_histogram_percentiles_within_one_percent(void **state)
{
    (void)state;
    static live_histogram h;
    memset(&h, 0, sizeof h);
    for (int i = 1; i <= 10000; i++)
        live_hist_add(&h, 1000.0 * i); /* 1 us .. 10 ms, uniform */
    assert_int_equal(h.n, 10000);
    assert_true(fabs(live_hist_percentile(&h, 50) / 5000500.0 - 1) < 0.01);
    assert_true(fabs(live_hist_percentile(&h, 99) / 9900010.0 - 1) < 0.01);
    assert_float_equal(live_hist_percentile(&h, 0), 1000, 0);
    assert_float_equal(live_hist_percentile(&h, 100), 1e7, 0);
    static live_histogram empty;
    assert_true(isnan(live_hist_percentile(&empty, 50)));
}

/* ---- the engine thread -------------------------------------------------------------------------- */

/* hst-v4 generating from prompt (NULL: the default prompt). */
static live_engine *start_engine_with_prompt(int threads, int max_seq_len, int round_tokens, const char *prompt)
{
    live_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.setting.model, sizeof o.setting.model, "hst-v4");
    o.setting.threads = threads;
    snprintf(o.setting.affinity, sizeof o.setting.affinity, "none");
    snprintf(o.setting.kernel, sizeof o.setting.kernel, "auto");
    o.max_seq_len = max_seq_len;
    o.ab_round_tokens = round_tokens;
    o.ring_capacity = 1 << 14;
    o.prompt = prompt;
    char err[256];
    live_engine *e = live_start(&o, err, sizeof err);
    assert_non_null(e);
    return e;
}

static live_engine *start_engine(int threads, int max_seq_len, int round_tokens)
{
    return start_engine_with_prompt(threads, max_seq_len, round_tokens, NULL);
}

/* The next sample, waiting for it; fails after WAIT_NS. */
static void next_sample(live_engine *e, live_sample *out)
{
    uint64_t until = hst_now_ns() + WAIT_NS;
    while (!live_ring_pop(live_engine_ring(e), out)) {
        if (hst_now_ns() > until) {
            live_status st;
            live_get_status(e, &st);
            fail_msg("no sample within the time limit (state %s, error '%s')", live_state_name(st.state), st.error);
        }
        sleep_ms(1);
    }
}

static void test_generations_restart_when_the_context_is_full(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 12, 0);
    live_sample s;
    next_sample(e, &s);
    assert_int_equal(s.phase, LIVE_PHASE_PREFILL);
    assert_int_equal(s.pos, 0);
    assert_int_equal(s.generation, 1);
    assert_int_equal(s.n_tokens, 11); /* the prompt, cut to leave room for decoding */
    assert_true(s.latency_ns > 0 && s.flops > 0 && s.bytes > 0);
    assert_int_equal(s.n_sections, 9); /* embed, 3 bottom, lattice, 3 top, head */
    next_sample(e, &s);
    assert_int_equal(s.phase, LIVE_PHASE_DECODE);
    assert_int_equal(s.pos, 11);
    assert_int_equal(s.n_tokens, 1);
    uint64_t sections = 0;
    for (int i = 0; i < s.n_sections; i++)
        sections += s.section_ns[i];
    assert_true(sections > 0 && sections <= s.latency_ns);
    next_sample(e, &s); /* generation 2 starts: pos 12 was full */
    assert_int_equal(s.phase, LIVE_PHASE_PREFILL);
    assert_int_equal(s.generation, 2);
    assert_int_equal(s.pos, 0);
    live_stop(e);
}

static void test_thread_change_lands_at_a_token_boundary_in_a_new_segment(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 0, 0);
    live_sample s;
    for (int i = 0; i < 20; i++) {
        next_sample(e, &s);
        assert_int_equal(s.segment, 0);
        assert_int_equal(s.n_threads, 1);
    }
    assert_int_equal(live_send_threads(e, 2), 0);
    do {
        next_sample(e, &s);
        if (s.segment == 0)
            assert_int_equal(s.n_threads, 1); /* tokens of the old setting, never mixed */
    } while (s.segment == 0);
    assert_int_equal(s.segment, 1);
    assert_int_equal(s.n_threads, 2);
    for (int i = 0; i < 20; i++) {
        next_sample(e, &s);
        assert_int_equal(s.segment, 1);
        assert_int_equal(s.n_threads, 2);
    }
    live_segment_info *info = calloc(1, sizeof *info);
    assert_int_equal(live_get_segment(e, 0, info), 0);
    assert_int_equal(info->threads, 1);
    assert_true(info->end_ns > 0);
    assert_int_equal(live_get_segment(e, 1, info), 0);
    assert_int_equal(info->threads, 2);
    assert_int_equal(info->end_ns, 0);
    free(info);
    live_status st;
    live_get_status(e, &st);
    assert_int_equal(st.setting.threads, 2);
    assert_int_equal(st.segment, 1);
    live_stop(e);
}

/* An engine that generated a token, then paused (and said so). */
static live_engine *paused_engine(int max_seq_len)
{
    live_engine *e = start_engine(1, max_seq_len, 0);
    live_sample s;
    next_sample(e, &s);
    live_send_simple(e, LIVE_CMD_PAUSE);
    live_status st;
    uint64_t until = hst_now_ns() + WAIT_NS;
    do {
        sleep_ms(5);
        live_get_status(e, &st);
    } while (st.state != LIVE_PAUSED && hst_now_ns() < until);
    assert_int_equal(st.state, LIVE_PAUSED);
    return e;
}

static void test_pause_stops_tokens_and_resume_restarts_them(void **state)
{
    (void)state;
    live_engine *e = paused_engine(0);
    live_sample s;
    sleep_ms(50);
    while (live_ring_pop(live_engine_ring(e), &s))
        ;
    sleep_ms(100);
    assert_int_equal(live_ring_pop(live_engine_ring(e), &s), 0);
    live_send_simple(e, LIVE_CMD_RESUME);
    next_sample(e, &s);
    live_stop(e);
}

/* Asks for model and waits for the engine's error (the status, in st). */
static void set_model_and_wait_for_error(live_engine *e, const char *model, live_status *st)
{
    live_send_text(e, LIVE_CMD_SET_MODEL, model);
    uint64_t until = hst_now_ns() + WAIT_NS;
    do {
        sleep_ms(5);
        live_get_status(e, st);
    } while (!st->error[0] && hst_now_ns() < until);
}

static void test_bad_model_keeps_the_running_setting(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 0, 0);
    live_sample s;
    next_sample(e, &s);
    live_status st;
    set_model_and_wait_for_error(e, "no-such-model", &st);
    assert_non_null(strstr(st.error, "unknown model"));
    assert_string_equal(st.setting.model, "hst-v4");
    assert_int_equal(st.segment, 0); /* nothing was reloaded */
    while (live_ring_pop(live_engine_ring(e), &s))
        ;
    next_sample(e, &s); /* still generating */
    live_stop(e);
}

/* A model whose context the prompt fills is refused in run's words and
 * the running model stays; before, the prompt was cut to max_seq_len - 1. */
static void test_model_without_room_for_the_prompt_is_refused(void **state)
{
    (void)state;
    char prompt[201];
    memset(prompt, 'a', 200);
    prompt[200] = '\0';
    live_engine *e = start_engine_with_prompt(1, 0, 0, prompt);
    live_sample s;
    next_sample(e, &s);
    live_status st;
    set_model_and_wait_for_error(e, harness_source("tests/golden/tiny-v4.safetensors"), &st); /* max_seq_len 128 */
    if (!strstr(st.error, "the prompt (200 tokens) leaves no room to generate; ") ||
        !strstr(st.error, "tiny-v4.safetensors has max_seq_len 128"))
        fail_msg("want run's refusal, got '%s'", st.error);
    assert_string_equal(st.setting.model, "hst-v4");
    live_stop(e);
}

static void test_failed_affinity_change_changes_nothing(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 0, 0);
    live_sample s;
    next_sample(e, &s);
    live_send_text(e, LIVE_CMD_SET_AFFINITY, "9999"); /* no such PU */
    live_status st;
    uint64_t until = hst_now_ns() + WAIT_NS;
    do {
        sleep_ms(5);
        live_get_status(e, &st);
    } while (!st.error[0] && hst_now_ns() < until);
    assert_non_null(strstr(st.error, "affinity"));
    assert_string_equal(st.setting.affinity, "none");
    assert_int_equal(st.segment, 0); /* the same segment goes on */
    while (live_ring_pop(live_engine_ring(e), &s))
        ;
    next_sample(e, &s);
    assert_int_equal(s.segment, 0);
    live_stop(e);
}

static void test_ab_rounds_alternate_sides(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 0, 4);
    live_sample s;
    next_sample(e, &s);
    live_command c;
    memset(&c, 0, sizeof c);
    c.kind = LIVE_CMD_AB_START;
    c.a = c.b = (live_setting){.threads = 1};
    snprintf(c.a.model, sizeof c.a.model, "hst-v4");
    snprintf(c.b.model, sizeof c.b.model, "hst-v4");
    snprintf(c.a.affinity, sizeof c.a.affinity, "none");
    snprintf(c.b.affinity, sizeof c.b.affinity, "none");
    snprintf(c.a.kernel, sizeof c.a.kernel, "auto");
    snprintf(c.b.kernel, sizeof c.b.kernel, "portable");
    assert_int_equal(live_send(e, &c), 0);
    do
        next_sample(e, &s);
    while (s.ab_side < 0);
    /* Side A's first round: 4 tokens, then B's, then A's second. Round i
     * of both sides covers the same positions (fresh sessions, same size). */
    int a_positions[4];
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 4; k++) {
            if (round || k)
                next_sample(e, &s);
            assert_int_equal(s.ab_side, round % 2);
            assert_int_equal(s.ab_round, (uint32_t)(round / 2));
            assert_int_equal(s.round_end, k == 3);
            if (round == 0)
                a_positions[k] = s.pos;
            if (round == 1)
                assert_int_equal(s.pos, a_positions[k]);
        }
    assert_int_equal(a_positions[0], 0);
    live_status st;
    live_get_status(e, &st);
    assert_true(st.ab_active);
    assert_true(st.ab_segment[0] != st.ab_segment[1]);
    /* Each side's session runs its own kernel. */
    live_segment_info *info = malloc(sizeof *info);
    assert_non_null(info);
    assert_int_equal(live_get_segment(e, st.ab_segment[0], info), 0);
    assert_string_equal(info->kernel, hst_kernel_name(hst_kernel_default()));
    assert_int_equal(live_get_segment(e, st.ab_segment[1], info), 0);
    assert_string_equal(info->kernel, "portable");
    free(info);
    live_send_simple(e, LIVE_CMD_AB_STOP);
    do
        next_sample(e, &s);
    while (s.ab_side >= 0);
    live_stop(e);
}

/* Waits until the engine's status satisfies done (or WAIT_NS passes) and returns it. */
static void wait_status(live_engine *e, int (*done)(const live_status *), live_status *st)
{
    uint64_t until = hst_now_ns() + WAIT_NS;
    do {
        sleep_ms(2);
        live_get_status(e, st);
    } while (!done(st) && hst_now_ns() < until);
    if (!done(st))
        fail_msg("status not reached (state %s, error '%s')", live_state_name(st->state), st->error);
}

static int has_error(const live_status *st) { return st->error[0] != 0; }
static int ab_running(const live_status *st) { return st->ab_active; }
static int ab_over(const live_status *st) { return !st->ab_active && st->ab_stopped; }
static int no_ab_verdict(const live_status *st) { return !st->ab_active && !st->ab_stopped; }

/* hst-v4, one thread, on the given kernel and mode. */
static live_setting v4_setting(const char *kernel, const char *mode)
{
    live_setting s = {.threads = 1};
    snprintf(s.model, sizeof s.model, "hst-v4");
    snprintf(s.affinity, sizeof s.affinity, "none");
    snprintf(s.kernel, sizeof s.kernel, "%s", kernel);
    snprintf(s.precision, sizeof s.precision, "f32");
    snprintf(s.mode, sizeof s.mode, "%s", mode);
    return s;
}

static void start_ab(live_engine *e, const live_setting *a, const live_setting *b)
{
    live_command c;
    memset(&c, 0, sizeof c);
    c.kind = LIVE_CMD_AB_START;
    c.a = *a;
    c.b = *b;
    assert_int_equal(live_send(e, &c), 0);
    live_status st;
    wait_status(e, ab_running, &st);
}

static void stop_ab(live_engine *e, live_ab_keep keep, live_status *st)
{
    live_command c;
    memset(&c, 0, sizeof c);
    c.kind = LIVE_CMD_AB_STOP;
    c.keep = keep;
    assert_int_equal(live_send(e, &c), 0);
    wait_status(e, ab_over, st);
}

/* The first sample of a segment after `from` (ids only grow). */
static void next_segment_sample(live_engine *e, uint32_t from, live_sample *s)
{
    do
        next_sample(e, s);
    while (s->segment <= from);
}

static void test_mode_change_lands_at_a_token_boundary_in_a_new_segment(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 0, 0);
    live_sample s;
    for (int i = 0; i < 5; i++)
        next_sample(e, &s);
    assert_int_equal(live_send_text(e, LIVE_CMD_SET_MODE, "parity"), 0);
    next_segment_sample(e, 0, &s);
    assert_int_equal(s.segment, 1);
    live_segment_info *info = calloc(1, sizeof *info);
    assert_non_null(info);
    assert_int_equal(live_get_segment(e, 0, info), 0);
    assert_string_equal(info->mode, "causal");
    assert_true(info->end_ns > 0);
    assert_int_equal(live_get_segment(e, 1, info), 0);
    assert_string_equal(info->mode, "parity");
    assert_string_equal(info->setting.mode, "parity");
    live_status st;
    live_get_status(e, &st);
    assert_string_equal(st.setting.mode, "parity");
    /* A bad name changes nothing and says why. */
    live_send_text(e, LIVE_CMD_SET_MODE, "sideways");
    wait_status(e, has_error, &st);
    assert_non_null(strstr(st.error, "mode: unknown mode 'sideways'"));
    assert_string_equal(st.setting.mode, "parity");
    assert_int_equal(st.segment, 1);
    free(info);
    live_stop(e);
}

/* A mode is a setting an A/B alternates; during it a mode change is refused;
 * stopping it and keeping B goes on with B's slot (here sharing A's model). */
static void test_ab_alternates_modes_and_stop_keeps_side_b(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 0, 4);
    live_sample s;
    next_sample(e, &s);
    live_setting a = v4_setting("auto", "causal"), b = v4_setting("auto", "parity");
    start_ab(e, &a, &b);
    live_status st;
    live_get_status(e, &st);
    assert_string_equal(st.ab[0].mode, "causal");
    assert_string_equal(st.ab[1].mode, "parity");
    assert_false(st.ab_stopped);
    live_segment_info *info = calloc(1, sizeof *info);
    assert_non_null(info);
    assert_int_equal(live_get_segment(e, st.ab_segment[1], info), 0);
    assert_string_equal(info->mode, "parity");
    live_send_text(e, LIVE_CMD_SET_MODE, "causal");
    wait_status(e, has_error, &st);
    assert_non_null(strstr(st.error, "stop the A/B comparison first"));
    assert_true(st.ab_active);
    do
        next_sample(e, &s);
    while (s.ab_side != 1);
    uint32_t b_segment = st.ab_segment[1];
    stop_ab(e, LIVE_AB_KEEP_B, &st);
    assert_int_equal(st.ab_kept, LIVE_AB_KEEP_B);
    assert_string_equal(st.setting.mode, "parity");
    assert_true(st.segment > b_segment);
    assert_int_equal(st.ab_segment[1], b_segment); /* the stopped comparison is still described */
    next_segment_sample(e, b_segment, &s);
    assert_int_equal(s.ab_side, -1);
    assert_int_equal(live_get_segment(e, s.segment, info), 0);
    assert_string_equal(info->mode, "parity");
    assert_int_equal(info->ab_side, -1);
    for (int i = 0; i < 20; i++)
        next_sample(e, &s); /* B's borrowed model now belongs to it: still generating */
    free(info);
    live_stop(e);
}

/* Stopping with "before" reopens the setting that ran before the comparison
 * when neither side was it; a reset then drops the kept verdict. */
static void test_ab_stop_restores_the_setting_from_before(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 0, 4);
    live_sample s;
    next_sample(e, &s);
    live_setting a = v4_setting("portable", "causal"), b = v4_setting("portable", "parity");
    start_ab(e, &a, &b);
    live_status st;
    live_get_status(e, &st);
    assert_string_equal(st.ab_before.kernel, "auto");
    stop_ab(e, LIVE_AB_KEEP_BEFORE, &st);
    assert_int_equal(st.ab_kept, LIVE_AB_KEEP_BEFORE);
    assert_string_equal(st.setting.kernel, "auto");
    assert_string_equal(st.setting.mode, "causal");
    assert_string_equal(st.kernel_in_use, hst_kernel_name(hst_kernel_default()));
    next_segment_sample(e, st.ab_segment[1], &s);
    assert_int_equal(s.ab_side, -1);
    assert_int_equal(s.segment, st.segment);
    live_send_simple(e, LIVE_CMD_RESET_STATS);
    wait_status(e, no_ab_verdict, &st);
    assert_int_equal(st.resets, 1);
    live_stop(e);
}

/* ---- metrics and the view ------------------------------------------------------------------------ */

static void test_metrics_view_shows_the_current_segment(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 64, 0);
    live_metrics_options mo = {.no_ceilings = 1, .update_ms = 20};
    char err[256];
    live_metrics *m = live_metrics_start(e, &mo, err, sizeof err);
    assert_non_null(m);
    live_view *v = calloc(1, sizeof *v);
    uint64_t until = hst_now_ns() + WAIT_NS;
    do {
        sleep_ms(20);
        live_metrics_view(m, v);
    } while ((v->current.decode_tokens < 200 || v->current.prefills < 2) && hst_now_ns() < until);
    const live_segment_stats *s = &v->current;
    assert_true(s->decode_tokens >= 200);
    assert_true(s->latency_p50_ms > 0);
    assert_true(s->latency_p50_ms <= s->latency_p95_ms && s->latency_p95_ms <= s->latency_p99_ms);
    assert_true(s->latency_min_ms <= s->latency_p50_ms && s->latency_p99_ms <= s->latency_max_ms);
    assert_true(s->decode_tok_per_s > 0 && s->prefill_tok_per_s > 0 && s->ttft_ms_median > 0);
    assert_true(s->section_token_ms > 0);
    assert_true(v->text_len > 0 && v->text_len <= 64);
    assert_true(v->n_pus >= 1);
    assert_true(v->memory.rss_bytes.valid);
    assert_int_equal(v->dropped_samples, 0);
    uint64_t version = live_metrics_version(m);
    assert_true(version > 0);
    /* The snapshot object has the run keys the exporters read. */
    live_snapshot_setup setup = {.seed = 0, .profile = "", .events = ""};
    live_segment_stats *segs = calloc(4, sizeof *segs);
    int n = live_metrics_segments(m, segs, 4);
    assert_int_equal(n, 1);
    json_t *j = live_view_json(v, segs, n, &setup);
    assert_non_null(j);
    const char *keys[] = {"tool", "model", "preset", "config", "threads", "decode_tok_per_s", "latency", "memory",
                          "counters", "sections", "bandwidth", "compute", "roofline", "runs", "tokens_generated"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (!json_object_get(j, keys[k]))
            fail_msg("snapshot lacks '%s'", keys[k]);
    assert_int_equal(json_array_size(json_object_get(j, "runs")), 1);
    assert_true(json_is_null(json_object_get(j, "quality_hash")));
    assert_true(json_is_string(json_object_get(j, "quality_hash_why_not")));
    /* Unknowns are null with a reason; a known KV cache has no why-not beside it. */
    char problem[1024];
    if (json_unknowns_check(j, problem, sizeof problem) != 0)
        fail_msg("snapshot: %s", problem);
    assert_true(json_number_value(json_object_get(json_object_get(j, "memory"), "kv_cache_bytes")) > 0);
    json_decref(j);
    /* A snapshot before the engine reported anything keeps the rule too. */
    live_view *none = calloc(1, sizeof *none);
    assert_non_null(none);
    j = live_view_json(none, NULL, 0, &setup);
    assert_non_null(j);
    if (json_unknowns_check(j, problem, sizeof problem) != 0)
        fail_msg("snapshot before any figure: %s", problem);
    json_decref(j);
    free(none);
    free(segs);
    free(v);
    live_metrics_stop(m);
    live_stop(e);
}

/* The latest view once done(view) holds; fails after WAIT_NS. */
static void wait_view(live_metrics *m, live_view *v, int (*done)(const live_view *))
{
    uint64_t until = hst_now_ns() + WAIT_NS;
    do {
        sleep_ms(10);
        live_metrics_view(m, v);
    } while (!done(v) && hst_now_ns() < until);
    if (!done(v))
        fail_msg("view not reached (A/B rounds %d/%d, error '%s')", v->ab.a.n, v->ab.b.n, v->status.error);
}

static int ab_verdict_ready(const live_view *v) { return v->ab_active && v->ab.ratio_valid && v->ab.pairs >= 6; }
static int ab_stopped_view(const live_view *v) { return !v->ab_active && v->status.ab_stopped; }
static int ab_forgotten_view(const live_view *v) { return !v->ab_active && !v->status.ab_stopped; }

/* The snapshot of the view (JSON object), its A/B object checked for the unknowns rule. */
static json_t *snapshot_of(live_metrics *m, const live_view *v)
{
    live_segment_stats *segs = calloc(LIVE_VIEW_SEGMENTS, sizeof *segs);
    assert_non_null(segs);
    int n = live_metrics_segments(m, segs, LIVE_VIEW_SEGMENTS);
    live_snapshot_setup setup = {.seed = 0, .profile = "", .events = ""};
    json_t *j = live_view_json(v, segs, n, &setup);
    free(segs);
    assert_non_null(j);
    char problem[1024];
    if (json_unknowns_check(j, problem, sizeof problem) != 0)
        fail_msg("snapshot: %s", problem);
    return j;
}

static void assert_contains(const char *text, const char *what, const char *where)
{
    if (!strstr(text, what))
        fail_msg("%s lacks '%s':\n%s", where, what, text);
}

/* The verdict (medians, CIs, ratio, rounds, both settings) is in the JSON,
 * CSV and Markdown of every snapshot while the comparison runs and after it
 * stopped, until the statistics are reset. */
static void test_ab_verdict_stays_in_every_snapshot_until_reset(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 0, 4);
    live_metrics_options mo = {.no_ceilings = 1, .update_ms = 20};
    char err[256];
    live_metrics *m = live_metrics_start(e, &mo, err, sizeof err);
    assert_non_null(m);
    live_setting a = v4_setting("auto", "causal"), b = v4_setting("portable", "causal");
    start_ab(e, &a, &b);
    live_view *v = calloc(1, sizeof *v);
    assert_non_null(v);
    wait_view(m, v, ab_verdict_ready);
    json_t *j = snapshot_of(m, v);
    json_t *ab = json_object_get(j, "ab");
    assert_true(json_is_object(ab));
    assert_string_equal(json_string_value(json_object_get(ab, "state")), "running");
    assert_true(json_is_null(json_object_get(ab, "kept")));
    json_decref(j);

    live_status st;
    stop_ab(e, LIVE_AB_KEEP_A, &st);
    wait_view(m, v, ab_stopped_view);
    j = snapshot_of(m, v);
    ab = json_object_get(j, "ab");
    assert_true(json_is_object(ab));
    assert_string_equal(json_string_value(json_object_get(ab, "state")), "stopped");
    assert_string_equal(json_string_value(json_object_get(ab, "kept")), "A");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ab, "a"), "kernel")), "auto");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ab, "b"), "kernel")), "portable");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ab, "b"), "kernel_in_use")), "portable");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ab, "b"), "mode")), "causal");
    assert_true(json_integer_value(json_object_get(ab, "rounds_a")) >= 6);
    assert_true(json_number_value(json_object_get(ab, "ratio_b_over_a")) > 0);
    assert_true(json_number_value(json_object_get(ab, "a_median_tok_per_s")) > 0);
    assert_true(json_is_number(json_object_get(ab, "b_ci95_lo")));
    const char *verdict = json_string_value(json_object_get(ab, "verdict"));
    assert_non_null(verdict);
    char *csv = export_snapshot_render(j, EXPORT_CSV), *md = export_snapshot_render(j, EXPORT_MD);
    assert_non_null(csv);
    assert_non_null(md);
    /* The CSV has a row per segment: the verdict is on the two sides' rows, each with its own settings. */
    assert_contains(csv, "ab_verdict", "CSV header");
    assert_contains(csv, "ab_ratio_b_over_a", "CSV header");
    assert_contains(csv, "ab_side", "CSV header");
    assert_contains(csv, verdict, "CSV row");
    assert_contains(csv, ",portable,", "CSV row of side B");
    assert_contains(md, "## A/B Comparison", "Markdown");
    assert_contains(md, verdict, "Markdown");
    assert_contains(md, "- State: **stopped**; kept: **side A**", "Markdown");
    assert_contains(md, "| B | #", "Markdown");
    assert_contains(md, "| hst-v4 | f32 | causal | portable | 1 | none |", "Markdown");
    assert_contains(md, "- B/A (median of the paired rounds' ratios): **", "Markdown");
    free(csv);
    free(md);
    json_decref(j);

    live_send_simple(e, LIVE_CMD_RESET_STATS);
    wait_view(m, v, ab_forgotten_view);
    j = snapshot_of(m, v);
    assert_true(json_is_null(json_object_get(j, "ab")));
    json_decref(j);
    free(v);
    live_metrics_stop(m);
    live_stop(e);
}

/* Past LIVE_MAX_SEGMENTS the oldest segments are forgotten, nothing leaks. */
static void test_many_segments_keep_the_newest(void **state)
{
    (void)state;
    live_engine *e = start_engine(1, 32, 0);
    live_metrics_options mo = {.no_ceilings = 1, .update_ms = 5};
    char err[256];
    live_metrics *m = live_metrics_start(e, &mo, err, sizeof err);
    assert_non_null(m);
    for (int i = 0; i < LIVE_MAX_SEGMENTS + 40; i++) {
        while (live_send_simple(e, LIVE_CMD_RESET_STATS) != 0)
            sleep_ms(1); /* the mailbox holds a few; the engine drains it */
        if (i % 8 == 0)
            sleep_ms(3); /* let some tokens land in most segments */
    }
    live_status st;
    uint64_t until = hst_now_ns() + WAIT_NS;
    do {
        sleep_ms(10);
        live_get_status(e, &st);
    } while (st.segment < LIVE_MAX_SEGMENTS + 40 && hst_now_ns() < until);
    assert_int_equal(st.segment, LIVE_MAX_SEGMENTS + 40);
    sleep_ms(100);
    live_segment_stats *segs = calloc(LIVE_MAX_SEGMENTS, sizeof *segs);
    int n = live_metrics_segments(m, segs, LIVE_MAX_SEGMENTS);
    assert_true(n > 0 && n <= LIVE_MAX_SEGMENTS);
    for (int i = 1; i < n; i++)
        assert_true(segs[i].info.id > segs[i - 1].info.id); /* oldest first */
    assert_true(segs[n - 1].info.id > LIVE_MAX_SEGMENTS);
    free(segs);
    live_metrics_stop(m);
    live_stop(e);
}

/* ---- ceilings measured while the dashboard runs -------------------------------------------------- */

#define MIB (1024.0 * 1024.0)

/* This process's peak RSS (the kernel's high-water mark), in bytes. */
static double peak_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    assert_true(kib > 0);
    return kib * 1024;
}

/* A fresh XDG_CACHE_HOME: nothing measured on this "machine" yet. */
static void fresh_cache(char *dir, size_t size)
{
    assert_int_equal(harness_make_tmpdir(dir, size, "cache"), 0);
    setenv("XDG_CACHE_HOME", dir, 1);
}

/* Measured in child processes: 3 x 64 MiB of triad arrays and 64 MiB read
 * sets never show in this process's memory (the figures the Memory panel
 * shows). A paused engine lets the steps follow each other at once. A cache
 * file of an earlier format is measured again and replaced. */
static void test_ceilings_measured_beside_the_engine_leave_its_memory_alone(void **state)
{
    (void)state;
    char cache[256], path[1024], err[512];
    fresh_cache(cache, sizeof cache);
    assert_int_equal(probes_ceilings_cache_path(path, sizeof path, err, sizeof err), 0);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/hstprof", cache);
    assert_int_equal(mkdir(dir, 0755), 0);
    FILE *old = fopen(path, "w");
    assert_non_null(old);
    fputs("{\"format\": \"hstprof-ceilings-1\", \"rows\": [{\"threads\": 1, \"triad_bytes_per_s\": 3e10}]}\n", old);
    fclose(old);
    live_engine *e = paused_engine(64);
    /* The high-water mark from here on (Linux: "5" resets it). */
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    assert_non_null(clear);
    fputs("5", clear);
    fclose(clear);
    double before = peak_rss_bytes();
    live_metrics_options mo = {.update_ms = 20,
                               .ceilings = {.triad_array_bytes = 64 * 1024 * 1024, .fma_seconds = 0.01,
                                            .max_threads = 1, .read_set_max = 64 * 1024 * 1024}};
    live_metrics *m = live_metrics_start(e, &mo, err, sizeof err);
    assert_non_null(m);
    live_view *v = calloc(1, sizeof *v);
    uint64_t until = hst_now_ns() + WAIT_NS * 3;
    do {
        sleep_ms(20);
        live_metrics_view(m, v);
    } while (!v->ceilings_done && hst_now_ns() < until);
    if (!v->ceilings_ok)
        fail_msg("ceilings: %s", v->ceilings_state);
    assert_string_equal(v->ceilings_state, "measured");
    assert_int_equal(v->ceilings.n_rows, 1);
    if (!v->ceilings.rows[0].triad_bytes_per_s.valid)
        fail_msg("triad: %s", v->ceilings.rows[0].triad_bytes_per_s.why_not);
    assert_true(v->ceilings.rows[0].fma_flops_per_s.valid);
    for (int l = 0; l < v->ceilings.n_levels; l++) /* each level's read ran in a child too */
        if (!v->ceilings.rows[0].read_bytes_per_s[l].valid)
            fail_msg("%s read: %s", v->ceilings.levels[l].name, v->ceilings.rows[0].read_bytes_per_s[l].why_not);
    double grown = peak_rss_bytes() - before;
    print_message("peak RSS grew by %.1f MiB while measuring with 3 x 64 MiB arrays\n", grown / MIB);
    assert_true(grown < 64 * MIB);
    probes_ceilings *cached = calloc(1, sizeof *cached);
    assert_non_null(cached);
    if (probes_ceilings_load(path, cached, err, sizeof err) != 0) /* cached for the next start, in the new format */
        fail_msg("%s", err);
    assert_int_equal(cached->n_levels, v->ceilings.n_levels);
    free(cached);
    free(v);
    live_metrics_stop(m);
    live_stop(e);
    harness_remove_tmpdir(cache);
}

/* Stopping (q) in the middle of a step kills its child at once: no
 * measuring process is left, and a measurement cut short is not cached. */
static void test_stop_during_a_ceilings_step_kills_it_and_caches_nothing(void **state)
{
    (void)state;
    char cache[256], path[1024], err[512];
    fresh_cache(cache, sizeof cache);
    live_engine *e = paused_engine(64);
    /* Steps of seconds: a stop that waited for them would be seen. */
    live_metrics_options mo = {.update_ms = 20,
                               .ceilings = {.triad_array_bytes = 256 * 1024 * 1024, .fma_seconds = 1, .max_threads = 1,
                                            .read_set_max = 64 * 1024 * 1024}};
    live_metrics *m = live_metrics_start(e, &mo, err, sizeof err);
    assert_non_null(m);
    live_status st;
    uint64_t until = hst_now_ns() + WAIT_NS;
    do {
        sleep_ms(5);
        live_get_status(e, &st);
    } while (!strstr(st.hold_reason, "measuring ceilings (1 of ") && hst_now_ns() < until);
    assert_non_null(strstr(st.hold_reason, "measuring ceilings (1 of "));
    sleep_ms(50); /* into the step */
    uint64_t t0 = hst_now_ns();
    live_metrics_stop(m);
    print_message("stopped in %.1f ms during a ceilings step\n", (double)(hst_now_ns() - t0) / 1e6);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child left behind */
    assert_int_equal(errno, ECHILD);
    assert_int_equal(probes_ceilings_cache_path(path, sizeof path, err, sizeof err), 0);
    assert_false(harness_file_exists(path));
    live_get_status(e, &st);
    assert_string_equal(st.hold_reason, ""); /* the engine is let go */
    live_stop(e);
    harness_remove_tmpdir(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_capacity_is_a_power_of_two),
        cmocka_unit_test(test_ring_full_drops_new_samples_and_counts_them),
        cmocka_unit_test(test_ring_wraps_around_many_times),
        cmocka_unit_test(test_ring_spsc_with_a_producer_thread_loses_nothing_when_retried),
        cmocka_unit_test(test_ring_spsc_drops_are_counted_exactly),
        cmocka_unit_test(test_histogram_percentiles_within_one_percent),
        cmocka_unit_test(test_generations_restart_when_the_context_is_full),
        cmocka_unit_test(test_thread_change_lands_at_a_token_boundary_in_a_new_segment),
        cmocka_unit_test(test_pause_stops_tokens_and_resume_restarts_them),
        cmocka_unit_test(test_bad_model_keeps_the_running_setting),
        cmocka_unit_test(test_model_without_room_for_the_prompt_is_refused),
        cmocka_unit_test(test_failed_affinity_change_changes_nothing),
        cmocka_unit_test(test_ab_rounds_alternate_sides),
        cmocka_unit_test(test_mode_change_lands_at_a_token_boundary_in_a_new_segment),
        cmocka_unit_test(test_ab_alternates_modes_and_stop_keeps_side_b),
        cmocka_unit_test(test_ab_stop_restores_the_setting_from_before),
        cmocka_unit_test(test_metrics_view_shows_the_current_segment),
        cmocka_unit_test(test_ab_verdict_stays_in_every_snapshot_until_reset),
        cmocka_unit_test(test_many_segments_keep_the_newest),
        cmocka_unit_test(test_ceilings_measured_beside_the_engine_leave_its_memory_alone),
        cmocka_unit_test(test_stop_during_a_ceilings_step_kills_it_and_caches_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
