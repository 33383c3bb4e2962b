/* dialogs.c — the modal boxes: help, the model chooser (presets and a line
 * for a file path), the A/B chooser and the profile name prompt. Each has a
 * key handler that returns what to redraw and a draw function; the engine
 * keeps generating while they are open (the main loop never blocks). */
#include "tui/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The key column ends at the first two spaces; the README's key table lists
 * the same keys (tests/test_tui_fields.c compares them). The box fits 80x24. */
const char *const help_lines[] = {
    "F1 ?     this help",
    "q F10    quit (Ctrl-C too)",
    "space    pause / resume generation",
    "+ -      one thread more / fewer, up to the PUs (at the next token)",
    "a        affinity: none -> compact -> scatter",
    "m        choose a model preset or a safetensors file",
    "k        kernel: auto -> avx512 -> avx2 -> portable (those this CPU has)",
    "w        weight precision: f32 -> bf16 -> int8",
    "M        mode: causal <-> parity (at the next token)",
    "r        reset statistics (starts a new segment; clears a stopped A/B)",
    "s        snapshot: Markdown + CSV + JSON in the current directory",
    "c        A/B compare two settings; c again stops (keep A, B or before)",
    "Tab      during A/B: show side A or B in the other panels",
    "p        save the current settings as a profile (hstprof -p NAME)",
    "t        generated text as text or as token ids",
    "Up Down PgUp PgDn Home End  scroll the segment list",
    "1-9 0    hide / show a panel, in --hide's order: 1 header ... 0 text",
    "Ctrl-L   redraw the screen",
    "",
    "A change starts a new segment; percentiles within 0.5%. Any key closes.",
};
const int help_line_count = (int)(sizeof help_lines / sizeof help_lines[0]);
#define N_HELP help_line_count

/* ---- choices ------------------------------------------------------------------------------ */

static void add_choice(struct ui_state *ui, const live_setting *a, const live_setting *b, const char *why_not)
{
    if (ui->n_ab >= UI_AB_CHOICES)
        return;
    struct ab_choice *ch = &ui->ab[ui->n_ab++];
    memset(ch, 0, sizeof *ch);
    ch->a = *a;
    ch->b = *b;
    ch->available = why_not == NULL;
    live_setting_difference(a, b, ch->label, sizeof ch->label);
    snprintf(ch->why_not, sizeof ch->why_not, "%s", why_not ? why_not : "");
}

void dialogs_build_ab_choices(struct ui_state *ui, const live_status *st)
{
    const live_setting base = st->setting;
    live_setting a = base, b = base;
    ui->n_ab = 0;
    /* 1 thread against every PU; on a 1-PU machine 2 threads would share it,
     * offered only with --oversubscribe. */
    probes_pu_budget budget = ui->budget;
    if (budget.allowed < 1) /* not set: the engine's topology */
        budget.allowed = budget.machine = st->pu_count > 0 ? st->pu_count : 1;
    char why[160] = "", why_not[sizeof ui->ab[0].why_not];
    a.threads = 1;
    b.threads = budget.allowed > 1 ? budget.allowed : 2;
    int fits = ui->oversubscribe || probes_threads_fit(b.threads, budget, why, sizeof why);
    snprintf(why_not, sizeof why_not, "%.100s; start with --oversubscribe", why);
    add_choice(ui, &a, &b, fits ? NULL : why_not);
    a = base, b = base;
    snprintf(a.affinity, sizeof a.affinity, "compact");
    snprintf(b.affinity, sizeof b.affinity, "scatter");
    add_choice(ui, &a, &b, NULL);
    a = base, b = base;
    snprintf(a.kernel, sizeof a.kernel, "portable");
    snprintf(b.kernel, sizeof b.kernel, "auto");
    add_choice(ui, &a, &b, NULL);
    for (int i = 0; i < hst_preset_count(); i++) {
        if (strcmp(hst_preset_name(i), base.model) == 0)
            continue;
        a = base, b = base;
        snprintf(b.model, sizeof b.model, "%s", hst_preset_name(i));
        add_choice(ui, &a, &b, NULL);
    }
    static const char *const precisions[] = {"bf16", "int8"};
    for (int i = 0; i < 2; i++) {
        a = base, b = base;
        snprintf(a.precision, sizeof a.precision, "f32");
        snprintf(b.precision, sizeof b.precision, "%s", precisions[i]);
        add_choice(ui, &a, &b, NULL);
    }
    a = base, b = base;
    snprintf(a.mode, sizeof a.mode, "causal");
    snprintf(b.mode, sizeof b.mode, "parity");
    add_choice(ui, &a, &b, NULL);
}

/* ---- drawing ------------------------------------------------------------------------------ */

/* A bordered box centred on the screen; returns the inside. */
static struct rect dialog_box(const struct draw_ctx *c, int rows, int cols, int h, int w, const char *title)
{
    h = h + 2 < rows ? h + 2 : rows;
    w = w + 4 < cols ? w + 4 : cols;
    struct rect box = {(rows - h) / 2, (cols - w) / 2, h, w};
    draw_fill(c, box, ROLE_DIALOG);
    wattrset(c->win, c->theme->attr[ROLE_DIALOG]);
    mvwhline(c->win, box.y, box.x, ACS_HLINE, box.w);
    mvwhline(c->win, box.y + box.h - 1, box.x, ACS_HLINE, box.w);
    mvwvline(c->win, box.y, box.x, ACS_VLINE, box.h);
    mvwvline(c->win, box.y, box.x + box.w - 1, ACS_VLINE, box.h);
    mvwaddch(c->win, box.y, box.x, ACS_ULCORNER);
    mvwaddch(c->win, box.y, box.x + box.w - 1, ACS_URCORNER);
    mvwaddch(c->win, box.y + box.h - 1, box.x, ACS_LLCORNER);
    mvwaddch(c->win, box.y + box.h - 1, box.x + box.w - 1, ACS_LRCORNER);
    mvwprintw(c->win, box.y, box.x + 2, " %.*s ", w > 8 ? w - 8 : 0, title);
    wattrset(c->win, A_NORMAL);
    return (struct rect){box.y + 1, box.x + 2, box.h - 2, box.w - 4};
}

static void dialog_line(const struct draw_ctx *c, struct rect in, int row, int selected, const char *text)
{
    if (row >= in.h)
        return;
    attr_t attr = c->theme->attr[ROLE_DIALOG] | (selected ? A_REVERSE : 0);
    wattrset(c->win, attr);
    mvwhline(c->win, in.y + row, in.x, ' ', in.w);
    mvwaddnstr(c->win, in.y + row, in.x, text, in.w);
    wattrset(c->win, A_NORMAL);
}

static void draw_help(const struct draw_ctx *c, int rows, int cols)
{
    struct rect in = dialog_box(c, rows, cols, N_HELP, 72, "hstprof keys");
    for (int i = 0; i < N_HELP; i++)
        dialog_line(c, in, i, 0, help_lines[i]);
}

static void draw_model(const struct draw_ctx *c, int rows, int cols)
{
    const struct ui_state *ui = c->ui;
    int n = hst_preset_count();
    struct rect in = dialog_box(c, rows, cols, n + 3, 64, "model: Enter loads, Esc cancels");
    char line[UI_INPUT_MAX + 32];
    for (int i = 0; i < n; i++) {
        int current = strcmp(hst_preset_name(i), c->view->status.setting.model) == 0;
        snprintf(line, sizeof line, "%s %s (random weights)", current ? "*" : " ", hst_preset_name(i));
        dialog_line(c, in, i, ui->selected == i, line);
    }
    snprintf(line, sizeof line, "  file: %s%s", ui->input, ui->selected == n ? "_" : "");
    dialog_line(c, in, n + 1, ui->selected == n, line);
    dialog_line(c, in, n + 2, 0, "  (type a safetensors path on this line)");
}

static void draw_ab(const struct draw_ctx *c, int rows, int cols)
{
    const struct ui_state *ui = c->ui;
    struct rect in = dialog_box(c, rows, cols, ui->n_ab + 2, 70, "A/B compare: Enter starts, Esc cancels");
    char line[300];
    for (int i = 0; i < ui->n_ab; i++) {
        const struct ab_choice *ch = &ui->ab[i];
        if (snprintf(line, sizeof line, "%s%s%s", ch->label, ch->available ? "" : "  -- unavailable: ",
                     ch->available ? "" : ch->why_not) < 0)
            line[0] = '\0';
        dialog_line(c, in, i, ui->selected == i, line);
    }
    dialog_line(c, in, ui->n_ab + 1, 0, "A and B alternate every few tokens; the verdict needs 6 rounds each.");
}

/* What each row of the stop dialog keeps, from the running comparison. */
static const live_setting *stop_choice(const live_status *st, int row, const char **name)
{
    static const char *const names[] = {"keep side A", "keep side B", "back to before"};
    *name = names[row];
    return row == 0 ? &st->ab[0] : row == 1 ? &st->ab[1] : &st->ab_before;
}

static void draw_ab_stop(const struct draw_ctx *c, int rows, int cols)
{
    const live_status *st = &c->view->status;
    struct rect in = dialog_box(c, rows, cols, 5, 76, "stop the A/B comparison: Enter stops, Esc goes on");
    char line[400], setting[3][300];
    for (int i = 0; i < 3; i++) {
        const char *name;
        live_setting_describe(stop_choice(st, i, &name), setting[i], sizeof setting[i]);
        /* Usually one side is the setting from before: say which. */
        if (i == 2 && strcmp(setting[2], setting[0]) == 0)
            name = "before = side A";
        else if (i == 2 && strcmp(setting[2], setting[1]) == 0)
            name = "before = side B";
        if (snprintf(line, sizeof line, "%-15s %s", name, setting[i]) < 0)
            line[0] = '\0';
        dialog_line(c, in, i, c->ui->selected == i, line);
    }
    dialog_line(c, in, 4, 0, "The verdict stays on the panel and in snapshots until r resets.");
}

static void draw_profile(const struct draw_ctx *c, int rows, int cols)
{
    struct rect in = dialog_box(c, rows, cols, 3, 64, "save settings as a profile");
    char line[UI_INPUT_MAX + 16];
    snprintf(line, sizeof line, "name: %s_", c->ui->input);
    dialog_line(c, in, 0, 1, line);
    dialog_line(c, in, 2, 0, "letters, digits, . _ -; Enter saves, Esc cancels");
}

void draw_dialog(const struct draw_ctx *c, int rows, int cols)
{
    switch (c->ui ? c->ui->dialog : DIALOG_NONE) {
    case DIALOG_HELP:
        draw_help(c, rows, cols);
        break;
    case DIALOG_MODEL:
        draw_model(c, rows, cols);
        break;
    case DIALOG_AB:
        draw_ab(c, rows, cols);
        break;
    case DIALOG_AB_STOP:
        draw_ab_stop(c, rows, cols);
        break;
    case DIALOG_PROFILE:
        draw_profile(c, rows, cols);
        break;
    case DIALOG_NONE:
        break;
    }
}

/* ---- keys ------------------------------------------------------------------------------- */

static int is_enter(int key)
{
    return key == '\n' || key == '\r' || key == KEY_ENTER;
}

/* Typing into ui->input; returns 1 when the key was used. */
static int edit_input(struct ui_state *ui, int key)
{
    size_t len = strlen(ui->input);
    if ((key == KEY_BACKSPACE || key == 127 || key == 8) && len > 0) {
        ui->input[len - 1] = '\0';
        return 1;
    }
    if (key >= 32 && key < 127 && len + 1 < sizeof ui->input) {
        ui->input[len] = (char)key;
        ui->input[len + 1] = '\0';
        return 1;
    }
    return 0;
}

static void move_selection(struct ui_state *ui, int key, int n)
{
    if (key == KEY_UP && ui->selected > 0)
        ui->selected--;
    else if (key == KEY_DOWN && ui->selected < n - 1)
        ui->selected++;
}

void dialogs_select_current_model(struct ui_state *ui, const live_status *st)
{
    int n = hst_preset_count();
    ui->selected = n; /* a file: its path on the file line */
    snprintf(ui->input, sizeof ui->input, "%s", st->setting.model);
    for (int i = 0; i < n; i++)
        if (strcmp(hst_preset_name(i), st->setting.model) == 0) {
            ui->selected = i;
            ui->input[0] = '\0';
        }
}

/* Remembers what the load must change, so that the status line can say
 * how it ended (tui.c: follow_model_load). */
static void expect_model(struct app *a, const char *model)
{
    struct ui_state *ui = &a->ui;
    snprintf(ui->model_pending, sizeof ui->model_pending, "%s", model);
    snprintf(ui->error_at_send, sizeof ui->error_at_send, "%s", a->view->status.error);
    ui->segment_at_send = a->view->has_current ? a->view->current.info.id : UINT32_MAX;
}

/* Whether a model asked for has failed (1) or loaded (1), with its message. */
static int follow_model_load(struct ui_state *ui, const live_view *v)
{
    if (!ui->model_pending[0])
        return 0;
    const char *error = v->status.error;
    if (strcmp(error, ui->error_at_send) != 0)
        ui->error_at_send[0] = '\0'; /* the error of before is gone: a new one is this load's */
    if (!ui->error_at_send[0] && strncmp(error, "model: ", 7) == 0) {
        if (strstr(error + 7, ui->model_pending)) /* the reason names the model */
            ui_message(ui, ROLE_BAD, "model not loaded: %s", error + 7);
        else
            ui_message(ui, ROLE_BAD, "model %s not loaded: %s", ui->model_pending, error + 7);
    } else if (v->has_current && v->current.info.id != ui->segment_at_send &&
               strcmp(v->status.setting.model, ui->model_pending) == 0) {
        ui_message(ui, ROLE_GOOD, "model %s loaded", ui->model_pending);
    } else {
        return 0;
    }
    ui->model_pending[0] = '\0';
    return 1;
}

void follow_engine(struct ui_state *ui, const live_view *v)
{
    const char *error = v->status.error;
    int new_error = error[0] && strcmp(error, ui->error_seen) != 0;
    snprintf(ui->error_seen, sizeof ui->error_seen, "%s", error);
    if (!follow_model_load(ui, v) && new_error) /* the header may have no room for it */
        ui_message(ui, ROLE_BAD, "%s", error);
}

static int model_key(struct app *a, int key)
{
    struct ui_state *ui = &a->ui;
    int n = hst_preset_count();
    if (is_enter(key)) {
        const char *model = ui->selected < n ? hst_preset_name(ui->selected) : ui->input;
        if (!model[0])
            return REDRAW_ALL;
        if (live_send_text(a->engine, LIVE_CMD_SET_MODEL, model) == 0) {
            ui_message(ui, ROLE_GOOD, "loading model %s (at the next token)", model);
            expect_model(a, model);
        } else {
            ui_message(ui, ROLE_WARN, "busy: model change not queued (too many pending changes)");
        }
        ui->dialog = DIALOG_NONE;
        return REDRAW_ALL;
    }
    if (key >= 32 && key < 127 && ui->selected != n) { /* typing goes to the file line at once */
        ui->selected = n;
        ui->input[0] = '\0';
    }
    if (ui->selected == n && edit_input(ui, key))
        return REDRAW_ALL;
    move_selection(ui, key, n + 1);
    return REDRAW_ALL;
}

static int ab_key(struct app *a, int key)
{
    struct ui_state *ui = &a->ui;
    if (!is_enter(key)) {
        move_selection(ui, key, ui->n_ab);
        return REDRAW_ALL;
    }
    const struct ab_choice *ch = &ui->ab[ui->selected];
    if (!ch->available) {
        ui_message(ui, ROLE_WARN, "%s: %s", ch->label, ch->why_not);
        return REDRAW_ALL;
    }
    live_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.kind = LIVE_CMD_AB_START;
    cmd.a = ch->a;
    cmd.b = ch->b;
    if (live_send(a->engine, &cmd) == 0)
        ui_message(ui, ROLE_GOOD, "A/B: %s; rounds of %d tokens, ABAB...", ch->label, LIVE_AB_ROUND_TOKENS);
    ui->dialog = DIALOG_NONE;
    return REDRAW_ALL;
}

static int ab_stop_key(struct app *a, int key)
{
    struct ui_state *ui = &a->ui;
    if (!is_enter(key)) {
        move_selection(ui, key, 3);
        return REDRAW_ALL;
    }
    ui->dialog = DIALOG_NONE;
    if (!a->view->status.ab_active) /* it ended meanwhile (a failed forward) */
        return REDRAW_ALL;
    live_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.kind = LIVE_CMD_AB_STOP;
    cmd.keep = ui->selected == 0 ? LIVE_AB_KEEP_A : ui->selected == 1 ? LIVE_AB_KEEP_B : LIVE_AB_KEEP_BEFORE;
    const char *name;
    stop_choice(&a->view->status, ui->selected, &name);
    if (live_send(a->engine, &cmd) == 0)
        ui_message(ui, ROLE_GOOD, "A/B stopped, %s (at the next token); its verdict stays until r", name);
    else
        ui_message(ui, ROLE_WARN, "busy: A/B stop not queued (too many pending changes)");
    return REDRAW_ALL;
}

static int profile_key(struct app *a, int key)
{
    struct ui_state *ui = &a->ui;
    if (is_enter(key)) {
        if (ui->input[0])
            profile_save_current(a, ui->input);
        ui->dialog = DIALOG_NONE;
    } else {
        edit_input(ui, key);
    }
    return REDRAW_ALL;
}

int dialogs_handle_key(struct app *a, int key)
{
    struct ui_state *ui = &a->ui;
    if (key == 27 || (ui->dialog == DIALOG_HELP)) { /* Esc; any key closes help */
        ui->dialog = DIALOG_NONE;
        return REDRAW_ALL;
    }
    switch (ui->dialog) {
    case DIALOG_MODEL:
        return model_key(a, key);
    case DIALOG_AB:
        return ab_key(a, key);
    case DIALOG_AB_STOP:
        return ab_stop_key(a, key);
    case DIALOG_PROFILE:
        return profile_key(a, key);
    default:
        return REDRAW_NONE;
    }
}
