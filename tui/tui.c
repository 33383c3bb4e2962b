/* tui.c — `hstprof dashboard`: options, the engine and probes threads, and
 * the UI loop. The UI thread only reads published views and sends commands;
 * it wakes at most ten times a second (getch with a 100 ms timeout) and
 * redraws only when the view changed, a key was pressed or the size did. */
#include "tui/tui.h"

#include "profiles/profiles.h"
#include "tui/internal.h"

#include <ctype.h>
#include <errno.h>
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

#define FRAME_NS 100000000ull     /* at most 10 frames a second */
#define CLOCK_FRAME_NS 1000000000ull /* the elapsed clock ticks even when idle */
#define DUMP_COLS 120
#define DUMP_ROWS 40

typedef struct {
    char model[LIVE_MODEL_MAX];
    uint64_t seed;
    int threads;
    char affinity[256];
    char kernel[16];
    char precision[16];
    char prompt[1024];
    char events[1024];
    char profile[PROFILE_PATH_MAX];
    double screen_dump;
    char dump_when[64];
    char size[32];
    int no_counters, no_ceilings, oversubscribe;
    int seen_model, seen_seed, seen_threads, seen_affinity, seen_kernel, seen_precision, seen_prompt, seen_events,
        seen_profile, seen_dump, seen_dump_when, seen_size;
} dashboard_flags;

/* --screen-dump-when: what the dump waits for. */
typedef struct {
    uint64_t tokens; /* decode tokens of the shown segment, in its throughput and counter figures; 0: any */
    int ceilings;    /* 1: the ceilings known (cached, measured, or why not) */
} dump_condition;

static int parse_flags(int argc, char **argv, dashboard_flags *f)
{
    const opt_spec opts[] = {
        {"model", 'm', OPT_STRING, f->model, sizeof f->model, 0, 0, "PRESET|FILE", "model preset or safetensors file (default hst-v4)", &f->seen_model},
        {"threads", 't', OPT_INT, &f->threads, 0, 1, PROBES_MAX_THREADS, "N", "engine threads (default: every PU)", &f->seen_threads},
        {"oversubscribe", 0, OPT_FLAG, &f->oversubscribe, 0, 0, 0, NULL, "allow more threads than PUs, at start-up and with + (they share PUs)", NULL},
        {"affinity", 0, OPT_STRING, f->affinity, sizeof f->affinity, 0, 0, "POLICY", "none, compact, scatter or a PU list like 0,2-3 (default none)", &f->seen_affinity},
        {"seed", 0, OPT_U64, &f->seed, 0, 0, 0, "N", "seed of a preset's random weights (default 0)", &f->seen_seed},
        {"kernel", 0, OPT_STRING, f->kernel, sizeof f->kernel, 0, 0, "auto|avx512|avx2|portable", "matmul kernel (default auto)", &f->seen_kernel},
        {"precision", 0, OPT_STRING, f->precision, sizeof f->precision, 0, 0, "f32|bf16|int8", "storage of the weights every token reads; math stays f32 (default f32)", &f->seen_precision},
        {"prompt", 0, OPT_STRING, f->prompt, sizeof f->prompt, 0, 0, "TEXT", "prompt of every generation (its bytes are the ids)", &f->seen_prompt},
        {"events", 0, OPT_STRING, f->events, sizeof f->events, 0, 0, "LIST", "counter events (default: probes' set)", &f->seen_events},
        {"profile", 'p', OPT_STRING, f->profile, sizeof f->profile, 0, 0, "NAME", "start from a profile (hstprof profiles lists them); flags override it", &f->seen_profile},
        {"screen-dump", 0, OPT_FLOAT, &f->screen_dump, 0, 0, 86400, "SECONDS", "run that long, print the dashboard once as plain text, exit", &f->seen_dump},
        {"screen-dump-when", 0, OPT_STRING, f->dump_when, sizeof f->dump_when, 0, 0, "tokens=N,ceilings", "print as soon as these are true (--screen-dump's SECONDS then bound the wait; exit 1 if they never are)", &f->seen_dump_when},
        {"size", 0, OPT_STRING, f->size, sizeof f->size, 0, 0, "COLSxROWS", "size of --screen-dump (default: the terminal's, else 120x40)", &f->seen_size},
        {"no-counters", 0, OPT_FLAG, &f->no_counters, 0, 0, 0, NULL, "do not open performance counters", NULL},
        {"no-ceilings", 0, OPT_FLAG, &f->no_ceilings, 0, 0, 0, NULL, "never measure ceilings (use the cache only)", NULL},
    };
    const opt_table t = {
        "hstprof dashboard",
        "hstprof [dashboard] [--model PRESET|FILE] [--threads N [--oversubscribe]] [--affinity POLICY] [--seed N] [-p PROFILE] "
        "[--screen-dump SECONDS [--screen-dump-when tokens=N,ceilings] [--size COLSxROWS]]",
        "The live dashboard: generates continuously on the model and shows throughput, per-token latency, per-layer\n"
        "timers, counters, bandwidth and compute against this machine's ceilings, memory and thread placement.\n"
        "Keys: F1 or ? for help, q to quit.",
        opts, (int)(sizeof opts / sizeof opts[0]), 0};
    return args_parse(&t, argc, argv, 1, NULL, NULL);
}

/* Defaults, then the profile, then the flags that were given. */
static int build_settings(const dashboard_flags *f, hst_settings *s)
{
    settings_defaults(s);
    char err[512];
    if (f->seen_profile && profile_load(f->profile, s, err, sizeof err) != 0) {
        fprintf(stderr, "hstprof dashboard: %s\n", err);
        return -1;
    }
    if (f->seen_model)
        snprintf(s->model, sizeof s->model, "%s", f->model);
    if (f->seen_seed)
        s->seed = f->seed;
    if (f->seen_threads) {
        s->threads = f->threads;
        s->threads_from[0] = '\0';
    }
    if (f->seen_affinity) {
        snprintf(s->affinity, sizeof s->affinity, "%s", f->affinity);
        s->affinity_from[0] = '\0';
    }
    if (f->seen_kernel)
        snprintf(s->kernel, sizeof s->kernel, "%s", f->kernel);
    if (f->seen_precision)
        snprintf(s->precision, sizeof s->precision, "%s", f->precision);
    if (f->seen_prompt)
        snprintf(s->prompt, sizeof s->prompt, "%s", f->prompt);
    if (f->seen_events)
        snprintf(s->events, sizeof s->events, "%s", f->events);
    if (s->threads <= 0) { /* a profile's 0: every PU this process may use */
        s->threads = probes_pu_budget_get().allowed;
        s->threads_from[0] = '\0';
    }
    return 0;
}

static int one_of(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(s, *names) == 0)
            return 1;
    return 0;
}

/* --size: "COLSxROWS", each 1..1000. strtol on each number with every
 * character checked: no sign, no space, nothing after the rows. */
static int parse_size(const char *text, int *cols, int *rows)
{
    long v[2];
    const char *p = text;
    for (int i = 0; i < 2; i++) {
        char *end = NULL;
        if (!isdigit((unsigned char)*p))
            return -1;
        errno = 0;
        v[i] = strtol(p, &end, 10);
        if (errno != 0 || v[i] < 1 || v[i] > 1000)
            return -1;
        p = end;
        if (i == 0 && *p != 'x' && *p != 'X')
            return -1;
        if (i == 0)
            p++;
    }
    if (*p != '\0')
        return -1;
    *cols = (int)v[0];
    *rows = (int)v[1];
    return 0;
}

/* --screen-dump-when: "tokens=N" and "ceilings", comma-separated, at least one. */
static int parse_dump_when(const char *text, dump_condition *c)
{
    char buf[64], *save = NULL;
    int n = 0;
    memset(c, 0, sizeof *c);
    snprintf(buf, sizeof buf, "%s", text);
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save), n++) {
        if (strcmp(item, "ceilings") == 0) {
            c->ceilings = 1;
            continue;
        }
        char *end = NULL;
        if (strncmp(item, "tokens=", 7) != 0 || !isdigit((unsigned char)item[7]))
            return -1;
        errno = 0;
        unsigned long long tokens = strtoull(item + 7, &end, 10);
        if (errno != 0 || *end != '\0' || tokens == 0 || tokens > 1000000000000ull)
            return -1;
        c->tokens = tokens;
    }
    return n > 0 ? 0 : -1;
}

/* A model file is loaded once here: one that does not load fails before the
 * terminal changes (exit 1, as `hstprof run` does), not inside the dashboard. */
static int check_model(const hst_settings *s)
{
    hst_config cfg;
    if (hst_preset_config(s->model, &cfg) == 0)
        return 0;
    if (access(s->model, F_OK) != 0) {
        fprintf(stderr, "hstprof dashboard: %s: unknown model: not a preset and no such file (presets: ", s->model);
        for (int i = 0; i < hst_preset_count(); i++)
            fprintf(stderr, "%s%s", i ? ", " : "", hst_preset_name(i));
        fprintf(stderr, ")\n");
        return 2;
    }
    hst_error err = {{0}};
    hst_model *m = hst_model_open(s->model, s->seed, &err);
    if (!m) {
        fprintf(stderr, "hstprof dashboard: %s\n", err.msg);
        return 1;
    }
    hst_model_free(m);
    return 0;
}

/* Issue 7: the thread count against the PUs and the affinity against this machine. */
static int check_placement(const hst_settings *s, const dashboard_flags *f)
{
    char what[1200], affinity_what[1400], why[2400];
    snprintf(affinity_what, sizeof affinity_what, "%s: affinity = %s", s->affinity_from, s->affinity);
    if (s->threads_from[0])
        snprintf(what, sizeof what, "%s: threads = %d", s->threads_from, s->threads);
    else if (f->seen_threads)
        snprintf(what, sizeof what, "--threads %d", s->threads);
    else
        snprintf(what, sizeof what, "%d threads (every PU, the default)", s->threads);
    const probes_placement placement = {s->threads, what, s->affinity, s->affinity_from[0] ? affinity_what : NULL,
                                        f->oversubscribe};
    if (probes_check_placement(&placement, NULL, why, sizeof why) != 0) {
        fprintf(stderr, "hstprof dashboard: %s\n", why);
        return -1;
    }
    return 0;
}

/* Obvious mistakes fail before the screen changes, with the usual one line:
 * 0 ok, 2 a bad setting, 1 a model file that does not load. */
static int check_settings(const hst_settings *s, const dashboard_flags *f)
{
    int cols, rows;
    if (f->seen_size && !f->seen_dump) {
        fprintf(stderr, "hstprof dashboard: --size applies to --screen-dump only (the terminal sets the size)\n");
        return 2;
    }
    dump_condition when;
    if (f->seen_dump_when && !f->seen_dump) {
        fprintf(stderr, "hstprof dashboard: --screen-dump-when applies to --screen-dump, whose SECONDS bound the wait\n");
        return 2;
    }
    if (f->seen_dump_when && parse_dump_when(f->dump_when, &when) != 0) {
        fprintf(stderr, "hstprof dashboard: --screen-dump-when must be tokens=N (N >= 1) and/or ceilings, comma-separated, "
                        "like tokens=200,ceilings; got '%s'\n", f->dump_when);
        return 2;
    }
    if (f->seen_size && parse_size(f->size, &cols, &rows) != 0) {
        fprintf(stderr, "hstprof dashboard: --size must be COLSxROWS like 120x40 (each 1 to 1000), got '%s'\n",
                f->size);
        return 2;
    }
    const char *k = s->kernel;
    if (!one_of(k, (const char *const[]){"auto", "portable", "avx2", "avx512", NULL})) {
        fprintf(stderr, "hstprof dashboard: --kernel must be auto, avx512, avx2 or portable, got '%s'\n", k);
        return -1;
    }
    hst_precision precision;
    if (s->precision[0] && hst_precision_from_name(s->precision, &precision) != 0) {
        fprintf(stderr, "hstprof dashboard: --precision must be f32, bf16 or int8, got '%s'\n", s->precision);
        return -1;
    }
    if (check_placement(s, f) != 0)
        return 2;
    return check_model(s);
}

/* ---- engine and probes threads ---------------------------------------------------------- */

static int start_threads(struct app *a, const hst_settings *s, const dashboard_flags *f)
{
    live_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.setting.model, sizeof o.setting.model, "%s", s->model);
    o.setting.threads = s->threads;
    snprintf(o.setting.affinity, sizeof o.setting.affinity, "%s", s->affinity[0] ? s->affinity : "none");
    snprintf(o.setting.kernel, sizeof o.setting.kernel, "%s", s->kernel[0] ? s->kernel : "auto");
    snprintf(o.setting.precision, sizeof o.setting.precision, "%s", s->precision[0] ? s->precision : "f32");
    o.seed = s->seed;
    o.prompt = s->prompt[0] ? s->prompt : NULL;
    o.events = s->events[0] ? s->events : NULL;
    o.no_counters = f->no_counters;
    snprintf(a->prompt, sizeof a->prompt, "%s", s->prompt);
    snprintf(a->profile, sizeof a->profile, "%s", s->name);
    snprintf(a->events, sizeof a->events, "%s", s->events);
    a->seed = s->seed;
    live_metrics_options mo = {.no_ceilings = f->no_ceilings, .update_ms = 100};
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
    const live_status *st = &a->view->status;
    if (a->ui.threads_target && (st->setting.threads == a->ui.threads_target || st->error[0]))
        a->ui.threads_target = 0;
}

/* getch returns at once, over and over, once the terminal is gone without
 * a SIGHUP (stdin at end of file); without this check the loop would spin. */
static int input_lost(int key, uint64_t waited_ns, int *quick_errors)
{
    *quick_errors = key == ERR && waited_ns < FRAME_NS / 10 ? *quick_errors + 1 : 0;
    return *quick_errors > 50;
}

static int run_interactive(struct app *a)
{
    theme_init(&a->theme, theme_color_wanted(), theme_utf8_wanted());
    uint64_t version = 0, last_frame = 0;
    int redraw = REDRAW_ALL, quick_errors = 0;
    while (!term_quit_requested()) {
        uint64_t before_key = hst_now_ns();
        int key = getch(); /* returns within 100 ms */
        if (input_lost(key, hst_now_ns() - before_key, &quick_errors))
            return 1;
        if (key != ERR)
            redraw |= keys_handle(a, key);
        if (redraw & REDRAW_QUIT)
            return 0;
        uint64_t before = version, now = hst_now_ns();
        refresh_view(a, &version);
        if (version != before || now - last_frame >= CLOCK_FRAME_NS)
            redraw |= REDRAW_ALL;
        if (redraw && now - last_frame >= FRAME_NS) {
            render_dashboard(stdscr, LINES, COLS, a->view, &a->theme, &a->ui);
            refresh();
            last_frame = now;
            redraw = REDRAW_NONE;
        }
    }
    return 128 + term_quit_requested();
}

/* ---- --screen-dump ---------------------------------------------------------------------------- */

static int dump_size(const dashboard_flags *f, int *cols, int *rows)
{
    struct winsize ws;
    *cols = DUMP_COLS, *rows = DUMP_ROWS;
    if (f->seen_size) {
        if (parse_size(f->size, cols, rows) != 0) /* checked at start-up already */
            return -1;
    } else if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *cols = ws.ws_col, *rows = ws.ws_row;
    }
    return 0;
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
static int dump_condition_met(const live_view *v, const dump_condition *c)
{
    const live_segment_stats *s = &v->current;
    if (c->ceilings && !v->ceilings_done)
        return 0;
    if (c->tokens && (!v->has_current || s->decode_tokens < c->tokens ||
                      (s->info.counters_open && s->info.counters_decode_tokens < c->tokens)))
        return 0;
    return 1;
}

/* Into a->view: the first view meeting the condition (1), or the view after
 * --screen-dump's SECONDS (1 without a condition, else 0). */
static int wait_for_dump(struct app *a, const dashboard_flags *f)
{
    dump_condition when = {0, 0};
    if (f->seen_dump_when && parse_dump_when(f->dump_when, &when) != 0) /* checked at start-up already */
        return 0;
    uint64_t until = hst_now_ns() + (uint64_t)(f->screen_dump * 1e9), version = 0;
    for (;;) {
        uint64_t v = live_metrics_version(a->metrics);
        if (f->seen_dump_when && v != version) {
            version = v;
            live_metrics_view(a->metrics, a->view);
            if (dump_condition_met(a->view, &when))
                return 1;
        }
        if (hst_now_ns() >= until)
            break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    live_metrics_view(a->metrics, a->view);
    return !f->seen_dump_when;
}

static int screen_dump(struct app *a, const dashboard_flags *f)
{
    int cols, rows;
    if (dump_size(f, &cols, &rows) != 0)
        return 2;
    int reached = wait_for_dump(a, f);
    FILE *null_dev = fopen("/dev/null", "r+"); /* curses' input and output: nothing */
    SCREEN *screen = null_dev ? offscreen_terminal(null_dev, null_dev) : NULL;
    int rc = 1;
    if (screen) {
        struct theme theme;
        theme_init(&theme, 0, theme_utf8_wanted());
        WINDOW *pad = newpad(rows, cols);
        if (pad) {
            render_dashboard(pad, rows, cols, a->view, &theme, NULL);
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
                f->dump_when, f->screen_dump);
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

static void release(dashboard_flags *f, struct app *a, live_view *view, hst_settings *s)
{
    free(f);
    free(a);
    free(view);
    free(s);
}

int tui_main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    dashboard_flags *f = calloc(1, sizeof *f);
    struct app *a = calloc(1, sizeof *a);
    live_view *view = calloc(1, sizeof *view);
    hst_settings *s = calloc(1, sizeof *s);
    int rc = f && a && view && s ? parse_flags(argc, argv, f) : ARGS_ERROR;
    int check = 0;
    if (rc == ARGS_OK && build_settings(f, s) != 0)
        rc = ARGS_ERROR;
    if (rc == ARGS_OK && (check = check_settings(s, f)) != 0)
        rc = ARGS_ERROR;
    if (rc != ARGS_OK) {
        release(f, a, view, s);
        return rc == ARGS_HELP ? 0 : check == 1 ? 1 : 2;
    }
    a->view = view;
    set_thread_limit(&a->ui, s->threads, f->oversubscribe);
    if (start_threads(a, s, f) != 0)
        rc = 1;
    else if (f->seen_dump)
        rc = screen_dump(a, f);
    else
        rc = term_start() == 0 ? run_interactive(a) : 1;
    term_stop(); /* before joining the threads: the terminal comes back at once */
    if (a->engine)
        stop_threads(a);
    release(f, a, view, s);
    return rc;
}
