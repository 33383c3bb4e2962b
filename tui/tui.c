/* tui.c — the dashboard: the engine and probes threads, and the UI loop
 * (cmd_dashboard.c reads the options). The UI thread only reads published
 * views and sends commands; it wakes at most ten times a second (getch with a
 * 100 ms timeout) and redraws only when the view changed, a key was pressed
 * or the size did. */
#include "tui/tui.h"

#include "tui/internal.h"

#include <ctype.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#define FRAME_NS 100000000ull     /* getch's wait, and one tenth of --delay */
#define CLOCK_FRAME_NS 1000000000ull /* the elapsed clock ticks even when idle */
#define DUMP_COLS 120
#define DUMP_ROWS 40

/* ---- engine and probes threads ---------------------------------------------------------- */

static const char *or_default(const char *value, const char *fallback)
{
    return value && *value ? value : fallback;
}

static int start_threads(struct app *a, const tui_config *c)
{
    live_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.setting.model, sizeof o.setting.model, "%s", c->model);
    o.setting.threads = c->threads;
    snprintf(o.setting.affinity, sizeof o.setting.affinity, "%s", or_default(c->affinity, "none"));
    snprintf(o.setting.kernel, sizeof o.setting.kernel, "%s", or_default(c->kernel, "auto"));
    snprintf(o.setting.precision, sizeof o.setting.precision, "%s", or_default(c->precision, "f32"));
    snprintf(o.setting.mode, sizeof o.setting.mode, "%s", or_default(c->mode, "causal"));
    o.seed = c->seed;
    o.prompt = or_default(c->prompt, NULL);
    o.events = or_default(c->events, NULL);
    o.no_counters = c->no_counters;
    snprintf(a->prompt, sizeof a->prompt, "%s", or_default(c->prompt, ""));
    snprintf(a->profile, sizeof a->profile, "%s", or_default(c->profile, ""));
    snprintf(a->events, sizeof a->events, "%s", or_default(c->events, ""));
    a->seed = c->seed;
    live_metrics_options mo = {.no_ceilings = c->no_ceilings, .update_ms = 100, .feed = c->metrics_feed};
    char err[512];
    sigset_t old;
    term_block_signals_for_workers(&old); /* quit and resize signals go to the UI thread */
    a->engine = live_start(&o, err, sizeof err);
    if (a->engine)
        a->metrics = live_metrics_start(a->engine, &mo, err, sizeof err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!a->metrics) {
        fprintf(stderr, "hstprof dashboard: %s\n", err);
        return -1;
    }
    return 0;
}

static void stop_threads(struct app *a)
{
    live_metrics_stop(a->metrics);
    live_stop(a->engine);
    a->metrics = NULL;
    a->engine = NULL;
}

/* ---- the interactive loop ------------------------------------------------------------------- */

static void refresh_view(struct app *a, uint64_t *version)
{
    uint64_t v = live_metrics_version(a->metrics);
    if (v == *version)
        return;
    *version = v;
    live_metrics_view(a->metrics, a->view);
    follow_engine(&a->ui, a->view);
    const live_status *st = &a->view->status;
    if (a->ui.threads_target && (st->setting.threads == a->ui.threads_target || st->error[0]))
        a->ui.threads_target = 0;
    keys_view_changed(&a->ui, st);
}

/* getch returns at once, over and over, once the terminal is gone without
 * a SIGHUP (stdin at end of file); without this check the loop would spin. */
static int input_lost(int key, uint64_t waited_ns, int *quick_errors)
{
    *quick_errors = key == ERR && waited_ns < FRAME_NS / 10 ? *quick_errors + 1 : 0;
    return *quick_errors > 50;
}

/* A key redraws at once; new figures and the clock wait for the delay
 * (--delay, htop's: tenths of a second between updates). */
static int run_interactive(struct app *a, int delay)
{
    theme_init(&a->theme, theme_color_wanted(), theme_utf8_wanted());
    const uint64_t delay_ns = (uint64_t)(delay < 1 ? 1 : delay) * FRAME_NS;
    uint64_t version = 0, last_frame = 0;
    int redraw = REDRAW_ALL, quick_errors = 0;
    while (!term_quit_requested()) {
        uint64_t before_key = hst_now_ns();
        int key = getch(); /* returns within 100 ms */
        if (input_lost(key, hst_now_ns() - before_key, &quick_errors))
            return 1;
        int keyed = key != ERR ? keys_handle(a, key) : REDRAW_NONE;
        if (keyed & REDRAW_QUIT)
            return 0;
        redraw |= keyed;
        uint64_t before = version, now = hst_now_ns();
        refresh_view(a, &version);
        if (version != before || now - last_frame >= CLOCK_FRAME_NS)
            redraw |= REDRAW_ALL;
        if (redraw && (keyed || now - last_frame >= delay_ns)) {
            render_dashboard(stdscr, LINES, COLS, a->view, &a->theme, &a->ui);
            refresh();
            last_frame = now;
            redraw = REDRAW_NONE;
        }
    }
    return 128 + term_quit_requested();
}

/* ---- --screen-dump ---------------------------------------------------------------------------- */

static void dump_size(const tui_config *c, int *cols, int *rows)
{
    struct winsize ws;
    *cols = DUMP_COLS, *rows = DUMP_ROWS;
    if (c->dump_cols > 0 && c->dump_rows > 0)
        *cols = c->dump_cols, *rows = c->dump_rows;
    else if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0)
        *cols = ws.ws_col, *rows = ws.ws_row;
}

/* A dump smaller than the layout's minimum would print only the request to
 * enlarge the terminal: refused before the engine starts, as a bad value. */
static int check_dump_size(const tui_config *c)
{
    struct layout_result l;
    int cols, rows, panel_of[LAYOUT_MAX_PANELS];
    dump_size(c, &cols, &rows);
    render_layout(rows, cols, c->hidden, &l, panel_of);
    if (l.ok)
        return 0;
    fprintf(stderr, "hstprof dashboard: --screen-dump at %dx%d%s: the dashboard needs at least %dx%d; give --size "
                    "%dx%d or larger\n", cols, rows, c->dump_cols > 0 ? "" : " (the terminal's size)", l.need_cols,
            l.need_rows, l.need_cols, l.need_rows);
    return 2;
}

/* curses needs a terminal description even off-screen; any will do. */
static SCREEN *offscreen_terminal(FILE *out, FILE *in)
{
    const char *names[] = {getenv("TERM"), "xterm-256color", "xterm", "vt100", "dumb"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        SCREEN *s = names[i] && names[i][0] ? newterm(names[i], out, in) : NULL;
        if (s)
            return s;
    }
    return NULL;
}

static void print_pad(WINDOW *pad, int rows, int cols)
{
    char *line = malloc((size_t)cols * MB_LEN_MAX + 2);
    if (!line)
        return;
    for (int y = 0; y < rows; y++) {
        draw_row_text(pad, y, cols, line, (size_t)cols * MB_LEN_MAX + 2);
        printf("%s\n", line);
    }
    free(line);
}

/* The shown segment's decode tokens count in its throughput and, when it
 * counts, in its counter windows (published twice a second); the ceilings
 * are final (cached, measured, or why not). */
static int dump_condition_met(const live_view *v, const tui_config *c)
{
    const live_segment_stats *s = &v->current;
    if (c->dump_when_ceilings && !v->ceilings_done)
        return 0;
    if (c->dump_when_tokens && (!v->has_current || s->decode_tokens < c->dump_when_tokens ||
                                (s->info.counters_open && s->info.counters_decode_tokens < c->dump_when_tokens)))
        return 0;
    return 1;
}

/* Into a->view: the first view meeting --screen-dump-when (1), or the view
 * after --screen-dump's SECONDS (1 without a condition, else 0). */
static int wait_for_dump(struct app *a, const tui_config *c)
{
    uint64_t until = hst_now_ns() + (uint64_t)(c->screen_dump_s * 1e9), version = 0;
    for (;;) {
        uint64_t v = live_metrics_version(a->metrics);
        if (c->dump_when && v != version) {
            version = v;
            live_metrics_view(a->metrics, a->view);
            if (dump_condition_met(a->view, c))
                return 1;
        }
        if (hst_now_ns() >= until)
            break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    live_metrics_view(a->metrics, a->view);
    return !c->dump_when;
}

static int screen_dump(struct app *a, const tui_config *c)
{
    int cols, rows;
    dump_size(c, &cols, &rows);
    int reached = wait_for_dump(a, c);
    FILE *null_dev = fopen("/dev/null", "r+"); /* curses' input and output: nothing */
    SCREEN *screen = null_dev ? offscreen_terminal(null_dev, null_dev) : NULL;
    int rc = 1;
    if (screen) {
        struct theme theme;
        theme_init(&theme, 0, theme_utf8_wanted());
        WINDOW *pad = newpad(rows, cols);
        if (pad) {
            render_dashboard(pad, rows, cols, a->view, &theme, &a->ui);
            print_pad(pad, rows, cols);
            delwin(pad);
            rc = 0;
        }
        endwin();
        delscreen(screen);
    } else {
        fprintf(stderr, "hstprof dashboard: no terminal description to render with (install ncurses-base)\n");
    }
    if (null_dev)
        fclose(null_dev);
    if (rc == 0 && !reached) {
        fprintf(stderr, "hstprof dashboard: --screen-dump-when %s: not reached in %g s (the dashboard above is as it was then)\n",
                c->dump_when_text, c->screen_dump_s);
        rc = 1;
    }
    return rc;
}

/* ---- entry ---------------------------------------------------------------------------------------- */

/* How far + goes: the PUs this process may use, or with --oversubscribe two
 * threads per PU (at least the count it started with). */
static void set_thread_limit(struct ui_state *ui, int start_threads, int oversubscribe)
{
    ui->budget = probes_pu_budget_get();
    ui->oversubscribe = oversubscribe;
    ui->max_threads = ui->budget.allowed;
    if (oversubscribe) {
        int limit = 2 * ui->budget.allowed > start_threads ? 2 * ui->budget.allowed : start_threads;
        ui->max_threads = limit < PROBES_MAX_THREADS ? limit : PROBES_MAX_THREADS;
    }
}

int tui_run(const tui_config *c)
{
    setlocale(LC_ALL, "");
    if (c->screen_dump && check_dump_size(c) != 0)
        return 2;
    struct app *a = calloc(1, sizeof *a);
    live_view *view = calloc(1, sizeof *view);
    int rc = 1;
    if (!a || !view) {
        fprintf(stderr, "hstprof dashboard: out of memory\n");
        free(a);
        free(view);
        return 1;
    }
    a->view = view;
    a->ui.hidden = c->hidden;
    a->delay = c->delay;
    set_thread_limit(&a->ui, c->threads, c->oversubscribe);
    if (start_threads(a, c) != 0)
        rc = 1;
    else if (c->screen_dump)
        rc = screen_dump(a, c);
    else
        rc = term_start() == 0 ? run_interactive(a, c->delay) : 1;
    term_stop(); /* before joining the threads: the terminal comes back at once */
    if (a->engine)
        stop_threads(a);
    free(a);
    free(view);
    return rc;
}

int tui_parse_hide(const char *list, unsigned *hidden, char *err, size_t err_size)
{
    char buf[512], *save = NULL, known[256] = "";
    snprintf(buf, sizeof buf, "%s", list);
    for (int i = 0; i < tui_panel_count; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", tui_panel_names[i]);
    *hidden = 0;
    for (char *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int i = 0; i < tui_panel_count; i++)
            if (strcmp(name, tui_panel_names[i]) == 0)
                found = i;
        if (found < 0) {
            snprintf(err, err_size, "--hide: unknown panel '%.60s' (panels: %s)", name, known);
            return -1;
        }
        *hidden |= 1u << found;
    }
    if (!list[0] || list[0] == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,")) {
        snprintf(err, err_size, "--hide: give panel names separated by commas, like timers,topology (panels: %s)",
                 known);
        return -1;
    }
    return 0;
}
