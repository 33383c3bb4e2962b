/* test_tui_keys.c — the dashboard's setting keys and its A/B dialogs,
 * driven without a terminal: each key handler runs against a view and an
 * engine mailbox without an engine thread, so what a key queued (or did not
 * queue) can be read back. Then the header and the A/B panel are drawn into
 * an off-screen pad: the header names the settings of the side on screen,
 * the panel says what its medians are and keeps a stopped verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "probes/live_internal.h"
#include "tests/harness.h"
#include "tui/internal.h"

#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- an app around a mailbox ------------------------------------------------------------ */

struct fixture {
    struct app app;
    live_engine engine; /* no thread: live_send only queues */
    live_view view;
};

static live_setting setting(int threads, const char *kernel, const char *precision, const char *mode)
{
    live_setting s = {.threads = threads};
    snprintf(s.model, sizeof s.model, "hst-v4");
    snprintf(s.affinity, sizeof s.affinity, "none");
    snprintf(s.kernel, sizeof s.kernel, "%s", kernel);
    snprintf(s.precision, sizeof s.precision, "%s", precision);
    snprintf(s.mode, sizeof s.mode, "%s", mode);
    return s;
}

static int setup_app(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    pthread_mutex_init(&f->engine.lock, NULL);
    pthread_cond_init(&f->engine.wake, NULL);
    f->app.engine = &f->engine;
    f->app.view = &f->view;
    f->app.ui.max_threads = 4;
    f->app.ui.budget.allowed = f->app.ui.budget.machine = 4;
    f->view.status.state = LIVE_RUNNING;
    f->view.status.pu_count = 4;
    f->view.status.setting = setting(1, "auto", "f32", "causal");
    *state = f;
    return 0;
}

static int teardown_app(void **state)
{
    struct fixture *f = *state;
    pthread_cond_destroy(&f->engine.wake);
    pthread_mutex_destroy(&f->engine.lock);
    free(f);
    return 0;
}

/* The command the last key queued (fails when it queued none), emptying the mailbox. */
static live_command take_command(struct fixture *f)
{
    if (f->engine.n_queued != 1)
        fail_msg("%d commands queued, want 1 (status line: '%s')", f->engine.n_queued, f->app.ui.message);
    live_command c = f->engine.queue[0];
    f->engine.n_queued = 0;
    return c;
}

static void press(struct fixture *f, int key)
{
    keys_handle(&f->app, key);
}

/* An A/B comparison of threads 1 vs 2 running, side A on screen. */
static void ab_running(struct fixture *f)
{
    live_status *st = &f->view.status;
    st->ab_active = f->view.ab_active = 1;
    st->ab[0] = setting(1, "auto", "f32", "causal");
    st->ab[1] = setting(2, "portable", "f32", "parity");
    st->ab_before = setting(1, "avx2", "f32", "causal");
    st->setting = st->ab[0];
}

static void expect_text(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("want '%s' in:\n%s", want, text);
}

/* ---- keys --------------------------------------------------------------------------------- */

/* The kernels k steps through from auto on this CPU, back to auto. */
static int kernel_cycle(const char **out)
{
    static const char *const order[] = {"avx512", "avx2", "portable"};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        hst_kernel k;
        hst_kernel_from_name(order[i], &k);
        if (hst_kernel_resolve(k) >= 0)
            out[n++] = order[i];
    }
    out[n++] = "auto";
    return n;
}

/* The engine applied every request: the view shows them, nothing is pending. */
static void land(struct fixture *f, const char *kernel, const char *precision, const char *mode)
{
    live_setting *s = &f->view.status.setting;
    snprintf(s->kernel, sizeof s->kernel, "%s", kernel);
    snprintf(s->precision, sizeof s->precision, "%s", precision);
    snprintf(s->mode, sizeof s->mode, "%s", mode);
    keys_view_changed(&f->app.ui, &f->view.status);
}

/* Each press steps from the last request, so quick presses go several steps
 * before the first lands (as + does for threads). */
static void test_kernel_precision_and_mode_keys_queue_their_changes(void **state)
{
    struct fixture *f = *state;
    const char *kernels[4];
    int n = kernel_cycle(kernels);
    for (int i = 0; i < n; i++) {
        press(f, 'k');
        live_command c = take_command(f);
        assert_int_equal(c.kind, LIVE_CMD_SET_KERNEL);
        assert_string_equal(c.text, kernels[i]);
    }
    assert_non_null(strstr(f->app.ui.message, "kernel auto (at the next token"));

    press(f, 'w');
    live_command c = take_command(f);
    assert_int_equal(c.kind, LIVE_CMD_SET_PRECISION);
    assert_string_equal(c.text, "bf16");
    press(f, 'w');
    assert_string_equal(take_command(f).text, "int8");
    land(f, "auto", "int8", "causal");
    press(f, 'w');
    assert_string_equal(take_command(f).text, "f32");

    press(f, 'M');
    c = take_command(f);
    assert_int_equal(c.kind, LIVE_CMD_SET_MODE);
    assert_string_equal(c.text, "parity");
    assert_non_null(strstr(f->app.ui.message, "mode parity"));
    land(f, "auto", "f32", "parity");
    press(f, 'M');
    assert_string_equal(take_command(f).text, "causal");
    press(f, 'M');
    assert_string_equal(take_command(f).text, "parity");
}

/* During an A/B, a key whose change cannot apply queues nothing and says so
 * on the status line (it used to report "affinity compact"). */
static void test_keys_that_cannot_apply_during_an_ab_say_so(void **state)
{
    struct fixture *f = *state;
    ab_running(f);
    const int keys[] = {'+', '-', 'a', 'm', 'k', 'w', 'M'};
    const char *what[] = {"threads", "threads", "affinity", "model", "kernel", "precision", "mode"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        f->app.ui.message[0] = '\0';
        press(f, keys[i]);
        if (f->engine.n_queued != 0)
            fail_msg("'%c' queued a change during an A/B", keys[i]);
        assert_int_equal(f->app.ui.dialog, DIALOG_NONE);
        char want[96];
        snprintf(want, sizeof want, "%s: not changed during an A/B comparison", what[i]);
        if (!strstr(f->app.ui.message, want))
            fail_msg("'%c': status line '%s', want '%s'", keys[i], f->app.ui.message, want);
    }
    press(f, 'r'); /* a reset applies: the rounds start again */
    assert_int_equal(take_command(f).kind, LIVE_CMD_RESET_STATS);
}

/* c while a comparison runs asks what to keep (Enter alone: the setting
 * from before); Esc goes on comparing. */
static void test_stopping_an_ab_asks_which_side_to_keep(void **state)
{
    struct fixture *f = *state;
    ab_running(f);
    const live_ab_keep want[] = {LIVE_AB_KEEP_BEFORE, LIVE_AB_KEEP_B, LIVE_AB_KEEP_A};
    for (int row = 0; row < 3; row++) {
        press(f, 'c');
        assert_int_equal(f->app.ui.dialog, DIALOG_AB_STOP);
        assert_int_equal(f->engine.n_queued, 0);
        for (int k = 0; k < row; k++)
            press(f, KEY_UP);
        press(f, '\n');
        assert_int_equal(f->app.ui.dialog, DIALOG_NONE);
        live_command c = take_command(f);
        assert_int_equal(c.kind, LIVE_CMD_AB_STOP);
        assert_int_equal(c.keep, want[row]);
    }
    press(f, 'c');
    press(f, 27); /* Esc */
    assert_int_equal(f->app.ui.dialog, DIALOG_NONE);
    assert_int_equal(f->engine.n_queued, 0);
}

/* The A/B chooser offers the mode as a setting to alternate. */
static void test_ab_chooser_offers_causal_vs_parity(void **state)
{
    struct fixture *f = *state;
    press(f, 'c');
    assert_int_equal(f->app.ui.dialog, DIALOG_AB);
    int row = -1;
    for (int i = 0; i < f->app.ui.n_ab; i++)
        if (strcmp(f->app.ui.ab[i].label, "mode causal vs parity") == 0)
            row = i;
    assert_true(row >= 0);
    for (int k = 0; k < row; k++)
        press(f, KEY_DOWN);
    press(f, '\n');
    live_command c = take_command(f);
    assert_int_equal(c.kind, LIVE_CMD_AB_START);
    assert_string_equal(c.a.mode, "causal");
    assert_string_equal(c.b.mode, "parity");
    assert_int_equal(c.a.threads, c.b.threads);
}

/* p during an A/B saves the settings of the side on screen (the header's). */
static void test_profile_during_an_ab_saves_the_side_on_screen(void **state)
{
    struct fixture *f = *state;
    ab_running(f);
    f->view.shown_side = 1;
    char dir[256], path[1024];
    assert_int_equal(harness_make_tmpdir(dir, sizeof dir, "config"), 0);
    setenv("XDG_CONFIG_HOME", dir, 1);
    press(f, 'p');
    assert_int_equal(f->app.ui.dialog, DIALOG_PROFILE);
    for (const char *k = "sideb"; *k; k++)
        press(f, *k);
    press(f, '\n');
    assert_non_null(strstr(f->app.ui.message, "(side B's settings)"));
    snprintf(path, sizeof path, "%s/hstprof/profiles/sideb.ini", dir);
    char *ini = harness_slurp(path);
    if (!ini)
        fail_msg("no profile at %s (status line: %s)", path, f->app.ui.message);
    expect_text(ini, "threads = 2");
    expect_text(ini, "kernel = portable");
    expect_text(ini, "mode = parity");
    free(ini);
    harness_remove_tmpdir(dir);
}

/* ---- drawing ---------------------------------------------------------------------------------- */

static SCREEN *screen;
static FILE *term_file;

static int setup_curses(void **state)
{
    if (setup_app(state) != 0)
        return -1;
    if (!setlocale(LC_ALL, "C.UTF-8"))
        setlocale(LC_ALL, "");
    term_file = tmpfile(); /* curses' output: a private file, never a device */
    const char *names[] = {"xterm-256color", "xterm", "vt100", "dumb"};
    for (size_t i = 0; term_file && i < sizeof names / sizeof names[0] && !screen; i++)
        screen = newterm(names[i], term_file, term_file);
    return screen ? 0 : -1;
}

static int teardown_curses(void **state)
{
    endwin();
    delscreen(screen);
    fclose(term_file);
    screen = NULL;
    term_file = NULL;
    return teardown_app(state);
}

/* The rows of pad as text, one line each (malloc'd). */
static char *pad_text(WINDOW *pad, int rows, int cols)
{
    size_t line_len = (size_t)cols * MB_LEN_MAX + 2;
    char *text = calloc((size_t)rows, line_len), *at = text;
    assert_non_null(text);
    for (int y = 0; y < rows; y++) {
        draw_row_text(pad, y, cols, at, line_len - 1);
        at += strlen(at);
        *at++ = '\n';
    }
    return text;
}

/* Panel p drawn alone in rows x cols, as text. */
static char *drawn_panel(const struct panel *p, const live_view *v, const struct ui_state *ui, int rows, int cols)
{
    struct theme theme;
    theme_init(&theme, 0, 0);
    WINDOW *pad = newpad(rows, cols);
    assert_non_null(pad);
    struct draw_ctx c = {.win = pad, .view = v, .theme = &theme, .ui = ui};
    p->draw(&c, (struct rect){0, 0, rows, cols});
    char *text = pad_text(pad, rows, cols);
    delwin(pad);
    return text;
}

/* The open dialog drawn over an 80x24 screen, as text. */
static char *drawn_dialog(struct fixture *f)
{
    struct theme theme;
    theme_init(&theme, 0, 0);
    WINDOW *pad = newpad(24, 80);
    assert_non_null(pad);
    struct draw_ctx c = {.win = pad, .view = &f->view, .theme = &theme, .ui = &f->app.ui};
    draw_dialog(&c, 24, 80);
    char *text = pad_text(pad, 24, 80);
    delwin(pad);
    return text;
}

/* Side B on screen: threads, kernel, mode are B's, not A's. */
static void test_header_names_the_settings_of_the_side_on_screen(void **state)
{
    struct fixture *f = *state;
    ab_running(f);
    live_status *st = &f->view.status;
    snprintf(st->kernel_in_use, sizeof st->kernel_in_use, "avx512");
    snprintf(st->ab_kernel_in_use[0], sizeof st->ab_kernel_in_use[0], "avx512");
    snprintf(st->ab_kernel_in_use[1], sizeof st->ab_kernel_in_use[1], "portable");
    f->view.shown_side = 1;
    char *text = drawn_panel(&panel_header, &f->view, &f->app.ui, 2, 200);
    expect_text(text, "threads 2/4 PUs");
    expect_text(text, "kernel portable");
    expect_text(text, "mode parity");
    free(text);
    f->view.shown_side = 0;
    text = drawn_panel(&panel_header, &f->view, &f->app.ui, 2, 200);
    expect_text(text, "threads 1/4 PUs");
    expect_text(text, "kernel avx512");
    expect_text(text, "mode causal");
    free(text);
}

/* The panel says what its medians are; a stopped comparison's verdict stays,
 * with what was kept, until a reset. */
static void test_ab_panel_explains_its_medians_and_keeps_a_stopped_verdict(void **state)
{
    struct fixture *f = *state;
    ab_running(f);
    live_view *v = &f->view;
    snprintf(v->ab_label, sizeof v->ab_label, "threads 1 vs 2");
    v->ab.a = (ab_side_stats){.n = 8, .median = 3000, .ci_valid = 1, .ci_lo = 2900, .ci_hi = 3100};
    v->ab.b = (ab_side_stats){.n = 8, .median = 5000, .ci_valid = 1, .ci_lo = 4800, .ci_hi = 5200};
    v->ab.ratio_valid = v->ab.significant = 1;
    v->ab.ratio = 1.667;
    snprintf(v->ab.verdict, sizeof v->ab.verdict, "B is 1.67x faster (95%% CI 1.60-1.72)");
    char *text = drawn_panel(&panel_ab, v, &f->app.ui, 6, 60);
    expect_text(text, "round medians; segment tok/s include switching");
    expect_text(text, "B is 1.67x faster");
    free(text);
    text = drawn_panel(&panel_ab, v, &f->app.ui, 6, 100);
    expect_text(text, "medians: per round, measured rounds only; segment tok/s include the switching");
    free(text);
    v->ab_active = v->status.ab_active = 0;
    v->status.ab_stopped = 1;
    v->status.ab_kept = LIVE_AB_KEEP_B;
    text = drawn_panel(&panel_ab, v, &f->app.ui, 6, 100);
    expect_text(text, "threads 1 vs 2, stopped, kept B");
    expect_text(text, "B is 1.67x faster");
    expect_text(text, "A 3000   tok/s [2900-3100] 8 rounds");
    expect_text(text, "r clears this verdict");
    free(text);
    v->status.ab_stopped = 0; /* after r */
    text = drawn_panel(&panel_ab, v, &f->app.ui, 6, 100);
    expect_text(text, "press c to compare");
    if (strstr(text, "faster"))
        fail_msg("a reset verdict is still shown:\n%s", text);
    free(text);
}

/* The stop dialog names what each choice keeps; help lists the new keys. */
static void test_stop_dialog_and_help_name_the_choices_and_keys(void **state)
{
    struct fixture *f = *state;
    ab_running(f);
    press(f, 'c');
    char *text = drawn_dialog(f);
    expect_text(text, "keep side A     1 thread, none, hst-v4 f32 causal, kernel auto");
    expect_text(text, "keep side B     2 threads, none, hst-v4 f32 parity, kernel portable");
    expect_text(text, "back to before  1 thread, none, hst-v4 f32 causal, kernel avx2");
    assert_null(strstr(text, "before = side")); /* neither side is the setting from before */
    free(text);
    press(f, 27);
    f->view.status.ab_before = f->view.status.ab[1]; /* the usual case: one side is the setting from before */
    press(f, 'c');
    text = drawn_dialog(f);
    expect_text(text, "before = side B 2 threads, none, hst-v4 f32 parity, kernel portable");
    free(text);
    press(f, 27);
    press(f, '?');
    text = drawn_dialog(f);
    expect_text(text, "k        kernel:");
    expect_text(text, "w        weight precision:");
    expect_text(text, "M        mode: causal <-> parity");
    expect_text(text, "keep A, B or before");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kernel_precision_and_mode_keys_queue_their_changes, setup_app,
                                        teardown_app),
        cmocka_unit_test_setup_teardown(test_keys_that_cannot_apply_during_an_ab_say_so, setup_app, teardown_app),
        cmocka_unit_test_setup_teardown(test_stopping_an_ab_asks_which_side_to_keep, setup_app, teardown_app),
        cmocka_unit_test_setup_teardown(test_ab_chooser_offers_causal_vs_parity, setup_app, teardown_app),
        cmocka_unit_test_setup_teardown(test_profile_during_an_ab_saves_the_side_on_screen, setup_app, teardown_app),
        cmocka_unit_test_setup_teardown(test_header_names_the_settings_of_the_side_on_screen, setup_curses,
                                        teardown_curses),
        cmocka_unit_test_setup_teardown(test_ab_panel_explains_its_medians_and_keeps_a_stopped_verdict, setup_curses,
                                        teardown_curses),
        cmocka_unit_test_setup_teardown(test_stop_dialog_and_help_name_the_choices_and_keys, setup_curses,
                                        teardown_curses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
