/* keys.c — what each key does (htop's HandlerResult style): a handler sends
 * a command to the engine or changes UI state, and returns what must be
 * redrawn; nothing here draws. Engine commands take effect at the next
 * token boundary. */
#include "tui/internal.h"

#include <stdio.h>
#include <string.h>

#define MESSAGE_NS 8000000000ull /* how long a status message stays */

void ui_message(struct ui_state *ui, enum role role, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->message, sizeof ui->message, fmt, ap);
    va_end(ap);
    ui->message_role = role;
    ui->message_ns = hst_now_ns();
}

static int sent(struct app *a, int rc, const char *what)
{
    if (rc != 0)
        ui_message(&a->ui, ROLE_WARN, "busy: %s not queued (too many pending changes)", what);
    return REDRAW_ALL;
}

/* During an A/B both sides' settings are fixed (a change would end the
 * pairing of rounds): the key says so instead of queuing a change the
 * engine refuses. 1 when refused. */
static int refused_during_ab(struct app *a, const char *what)
{
    if (!a->view->status.ab_active)
        return 0;
    ui_message(&a->ui, ROLE_WARN, "%s: not changed during an A/B comparison; c stops it (keeping A, B or before)",
               what);
    return 1;
}

/* Relative changes count from the last request, not from the view, so two
 * quick presses of + add two threads even before the first lands. */
static int change_threads(struct app *a, int delta)
{
    const live_status *st = &a->view->status;
    if (refused_during_ab(a, "threads"))
        return REDRAW_ALL;
    int base = a->ui.threads_target > 0 ? a->ui.threads_target : st->setting.threads;
    int want = base + delta;
    if (want < 1)
        return REDRAW_NONE;
    if (want > a->ui.max_threads) {
        char why[160];
        if (a->ui.oversubscribe || probes_threads_fit(want, a->ui.budget, why, sizeof why))
            ui_message(&a->ui, ROLE_WARN, "at most %d threads here (2 per PU with --oversubscribe)", a->ui.max_threads);
        else /* threads sharing PUs measure the sharing, not the engine */
            ui_message(&a->ui, ROLE_WARN, "%d threads: %s; start with --oversubscribe to let threads share PUs", want,
                       why);
        return REDRAW_ALL;
    }
    a->ui.threads_target = want;
    if (want > st->pu_count)
        ui_message(&a->ui, ROLE_WARN, "%d threads on %d PUs: threads will share PUs (oversubscribed)", want,
                   st->pu_count);
    return sent(a, live_send_threads(a->engine, want), "thread change");
}

/* The name after cur in order[n] (cyclic; a name not in it goes to order[0]
 * unless usable says otherwise), skipping names usable() refuses. */
static const char *next_in_cycle(const char *const *order, int n, const char *cur, int (*usable)(const char *))
{
    int at = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(cur, order[i]) == 0)
            at = i;
    for (int step = 1; step <= n; step++) {
        const char *name = order[(at + step + n) % n];
        if (!usable || usable(name))
            return name;
    }
    return cur;
}

/* Sends a setting change by name (affinity, kernel, precision, mode);
 * target (when not NULL) remembers it until it lands. */
static int change_setting(struct app *a, live_command_kind kind, const char *what, const char *value,
                          const char *cost, char target[16])
{
    ui_message(&a->ui, ROLE_NORMAL, "%s %s (at the next token%s)", what, value, cost);
    char label[64];
    snprintf(label, sizeof label, "%s change", what);
    int rc = live_send_text(a->engine, kind, value);
    if (rc == 0 && target)
        snprintf(target, 16, "%s", value);
    return sent(a, rc, label);
}

/* The value a cycling key steps from: the last request until it lands. */
static const char *cycle_base(const char *target, const char *current)
{
    return target[0] ? target : current;
}

static void clear_landed(char target[16], const char *current, int failed)
{
    if (target[0] && (failed || strcmp(target, current) == 0))
        target[0] = '\0';
}

void keys_view_changed(struct ui_state *ui, const live_status *st)
{
    int failed = st->error[0] != 0;
    clear_landed(ui->kernel_target, st->setting.kernel, failed);
    clear_landed(ui->precision_target, st->setting.precision, failed);
    clear_landed(ui->mode_target, st->setting.mode, failed);
}

static int cycle_affinity(struct app *a)
{
    static const char *const order[] = {"none", "compact", "scatter"};
    const char *cur = a->view->status.setting.affinity;
    int known = strcmp(cur, "none") == 0 || strcmp(cur, "compact") == 0 || strcmp(cur, "scatter") == 0;
    const char *next = known ? next_in_cycle(order, 3, cur, NULL) : "compact"; /* a PU list goes to compact */
    if (refused_during_ab(a, "affinity"))
        return REDRAW_ALL;
    return change_setting(a, LIVE_CMD_SET_AFFINITY, "affinity", next, "", NULL);
}

static int kernel_runs_here(const char *name)
{
    hst_kernel k;
    return hst_kernel_from_name(name, &k) == 0 && hst_kernel_resolve(k) >= 0;
}

/* auto -> avx512 -> avx2 -> portable, skipping what this CPU cannot run. */
static int cycle_kernel(struct app *a)
{
    static const char *const order[] = {"auto", "avx512", "avx2", "portable"};
    struct ui_state *ui = &a->ui;
    if (refused_during_ab(a, "kernel"))
        return REDRAW_ALL;
    const char *next = next_in_cycle(order, 4, cycle_base(ui->kernel_target, a->view->status.setting.kernel),
                                     kernel_runs_here);
    return change_setting(a, LIVE_CMD_SET_KERNEL, "kernel", next, "; the model is opened again", ui->kernel_target);
}

static int cycle_precision(struct app *a)
{
    static const char *const order[] = {"f32", "bf16", "int8"};
    struct ui_state *ui = &a->ui;
    if (refused_during_ab(a, "precision"))
        return REDRAW_ALL;
    const char *next = next_in_cycle(order, 3, cycle_base(ui->precision_target, a->view->status.setting.precision),
                                     NULL);
    return change_setting(a, LIVE_CMD_SET_PRECISION, "precision", next, "; the model is opened again",
                          ui->precision_target);
}

static int toggle_mode(struct app *a)
{
    struct ui_state *ui = &a->ui;
    if (refused_during_ab(a, "mode"))
        return REDRAW_ALL;
    const char *cur = cycle_base(ui->mode_target, a->view->status.setting.mode);
    return change_setting(a, LIVE_CMD_SET_MODE, "mode", strcmp(cur, "parity") == 0 ? "causal" : "parity",
                          "; the generation so far is processed again in it", ui->mode_target);
}

static int toggle_pause(struct app *a)
{
    int paused = a->view->status.state == LIVE_PAUSED;
    return sent(a, live_send_simple(a->engine, paused ? LIVE_CMD_RESUME : LIVE_CMD_PAUSE), "pause");
}

static int open_dialog(struct app *a, enum dialog d)
{
    a->ui.dialog = d;
    a->ui.selected = 0;
    a->ui.input[0] = '\0';
    if (d == DIALOG_MODEL)
        dialogs_select_current_model(&a->ui, &a->view->status);
    if (d == DIALOG_AB)
        dialogs_build_ab_choices(&a->ui, &a->view->status);
    if (d == DIALOG_AB_STOP) /* Enter alone goes back to what ran before (e.g. off a slow kernel) */
        a->ui.selected = 2;
    return REDRAW_ALL;
}

/* c: the chooser of comparisons, or while one runs the question of what
 * to keep when it stops. */
static int compare(struct app *a)
{
    return open_dialog(a, a->view->status.ab_active ? DIALOG_AB_STOP : DIALOG_AB);
}

static int switch_side(struct app *a)
{
    if (!a->view->status.ab_active)
        return REDRAW_NONE;
    a->ui.shown_side = !a->ui.shown_side;
    live_metrics_show_side(a->metrics, a->ui.shown_side);
    return REDRAW_ALL;
}

int keys_handle(struct app *a, int key)
{
    if (key == KEY_F(10))
        return REDRAW_QUIT; /* even from a dialog, where q may be typed text */
    if (a->ui.dialog != DIALOG_NONE)
        return dialogs_handle_key(a, key);
    switch (key) {
    case 'q':
    case 'Q':
        return REDRAW_QUIT;
    case '?':
    case 'h':
    case KEY_F(1):
        return open_dialog(a, DIALOG_HELP);
    case ' ':
        return toggle_pause(a);
    case '+':
    case '=':
        return change_threads(a, +1);
    case '-':
    case '_':
        return change_threads(a, -1);
    case 'a':
        return cycle_affinity(a);
    case 'm':
        return refused_during_ab(a, "model") ? REDRAW_ALL : open_dialog(a, DIALOG_MODEL);
    case 'k':
        return cycle_kernel(a);
    case 'w':
        return cycle_precision(a);
    case 'M':
        return toggle_mode(a);
    case 'r':
        ui_message(&a->ui, ROLE_NORMAL, "statistics reset: a new segment starts at the next token");
        return sent(a, live_send_simple(a->engine, LIVE_CMD_RESET_STATS), "reset");
    case 's':
        snapshot_write(a);
        return REDRAW_ALL;
    case 'c':
        return compare(a);
    case 'p':
        return open_dialog(a, DIALOG_PROFILE);
    case 't':
        a->ui.text_as_ids = !a->ui.text_as_ids;
        return REDRAW_ALL;
    case '\t':
        return switch_side(a);
    case 12: /* Ctrl-L */
        clearok(curscr, TRUE);
        return REDRAW_ALL;
    case KEY_RESIZE:
        return REDRAW_ALL;
    case KEY_UP:
    case KEY_DOWN:
    case KEY_PPAGE:
    case KEY_NPAGE:
    case KEY_HOME:
    case KEY_END:
        return keys_scroll_segments(a, key);
    default:
        return key >= '0' && key <= '9' ? keys_toggle_panel(a, key) : REDRAW_NONE;
    }
}

/* ---- the status bar --------------------------------------------------------------------------- */

static const struct {
    const char *key, *label;
} hints[] = {{"F1", "Help"}, {"Spc", "Pause"},    {"+-", "Threads"}, {"a", "Affinity"}, {"m", "Model"},
             {"r", "Reset"}, {"s", "Snapshot"}, {"c", "A/B"},      {"p", "Profile"},  {"q", "Quit"}};

void draw_status_bar(const struct draw_ctx *c, struct rect r)
{
    const struct ui_state *ui = c->ui;
    draw_fill(c, r, ROLE_STATUS);
    if (ui && ui->message[0] && hst_now_ns() - ui->message_ns < MESSAGE_NS) {
        enum role role = ui->message_role == ROLE_NORMAL || ui->message_role == ROLE_GOOD ? ROLE_STATUS : ROLE_BAD;
        draw_message(c, r.y, r.x, r.w, role, ui->message);
        return;
    }
    int x = r.x;
    for (size_t i = 0; i < sizeof hints / sizeof hints[0] && x < r.x + r.w; i++) {
        char hint[64]; /* htop's style, each hint whole or not at all */
        snprintf(hint, sizeof hint, "%s%s", hints[i].key, hints[i].label);
        if (draw_text_cells(hint, c->theme->glyphs.utf8) > r.x + r.w - x)
            break;
        x += draw_text(c, r.y, x, r.x + r.w - x, ROLE_KEY, hints[i].key);
        x += draw_textf(c, r.y, x, r.x + r.w - x, ROLE_STATUS, "%s ", hints[i].label);
    }
}
