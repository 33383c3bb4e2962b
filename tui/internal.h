/* internal.h — shared by the .c files of tui/ and its tests only; the
 * module's interface is tui/tui.h.
 *
 * A panel is a const table (htop's MeterClass): a title, where it goes and
 * how many rows it needs, and a draw function that only reads a live_view.
 * The layout is a pure function of the terminal size and the panel table.
 * Key handlers return what to redraw instead of drawing. */
#ifndef HSTPROF_TUI_INTERNAL_H
#define HSTPROF_TUI_INTERNAL_H

#include "probes/live_metrics.h"
#include "probes/topo.h"
#include "tui/layout.h"

#include <curses.h>
#include <signal.h>
#include <stdarg.h>
#include <wchar.h>

/* ---- themes and glyphs (theme.c) ------------------------------------------------------ */

enum role {
    ROLE_NORMAL,
    ROLE_TITLE,
    ROLE_LABEL,
    ROLE_VALUE,
    ROLE_DIM,
    ROLE_GOOD,
    ROLE_WARN,
    ROLE_BAD,
    ROLE_BAR,
    ROLE_BAR_HOT,   /* the largest section */
    ROLE_STATUS,    /* the status bar */
    ROLE_KEY,       /* key names in the status bar */
    ROLE_DIALOG,
    ROLE_COUNT
};

struct glyphs {
    int utf8;
    const char *hline;          /* title rule */
    const char *bar_full;
    const char *bar_partial[8]; /* [k] = k/8 of a cell; [0] unused */
    const char *bar_empty;
    const char *spark[9];       /* 0..8 eighths of a cell */
    const char *spark_clipped;  /* the top of a point above the chart's scale */
    const char *token_open, *token_close;
};

struct theme {
    int color;
    attr_t attr[ROLE_COUNT];
    struct glyphs glyphs;
};

/* Colour when the terminal has it and NO_COLOR is unset or empty; UTF-8
 * glyphs when the locale is UTF-8 and the terminal is not the Linux
 * console (whose fonts lack the block elements). Call after initscr. */
void theme_init(struct theme *t, int want_color, int want_utf8);
/* The glyph decision alone (no curses): for screen dumps and tests. */
int theme_utf8_wanted(void);
int theme_color_wanted(void);

/* ---- drawing (draw.c) ------------------------------------------------------------------- */

/* What a panel's draw function gets: where to draw and what to show. */
struct ui_state;
struct draw_ctx {
    WINDOW *win;
    const live_view *view;
    const struct theme *theme;
    const struct ui_state *ui;
};

/* Title row: " Title " on a rule, with right-aligned extra text: the first
 * of its '\n'-separated alternatives (longest first) that fits, or none. */
void draw_title(const struct draw_ctx *c, struct rect r, const char *title, const char *right);
/* A figure that does not exist yet (no token, no sample so far): shown as
 * an em dash, or "-" without UTF-8 glyphs; never as 0. */
#define FIG_NONE "\xe2\x80\x94"

/* A field at (y, x): drawn whole when it fits in w columns, else not at all
 * (htop drops whole fields; a word, unit or verdict is never cut mid-way).
 * Trailing spaces only pad, to at most w. UTF-8 shows as itself on a UTF-8
 * terminal; elsewhere, and for controls or broken sequences, one '?' a
 * character (FIG_NONE is "-"). Returns the columns written, 0 if dropped. */
int draw_text(const struct draw_ctx *c, int y, int x, int w, enum role role, const char *text);
int draw_textf(const struct draw_ctx *c, int y, int x, int w, enum role role, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The first of '\n'-separated alternatives (longest first) that fits in
 * w, as draw_text; 0 when none does. */
int draw_first_fit(const struct draw_ctx *c, int y, int x, int w, enum role role, const char *alternatives);
/* For tests: every field draw_text is given, with the columns it took (0:
 * left out), into log until draw_log_fields(NULL). */
#define DRAW_FIELD_LOG_MAX 4096
struct draw_field {
    int y, x, cells;
    char text[1024];
};
struct draw_field_log {
    int n;
    struct draw_field fields[DRAW_FIELD_LOG_MAX];
};
void draw_log_fields(struct draw_field_log *log);
/* A label and its value as one field: both, or neither. Returns the columns. */
int draw_labeled(const struct draw_ctx *c, int y, int x, int w, const char *label, enum role role, const char *value);
/* A message or a reason in w columns: whole when it fits; else paths lose
 * their directories, then long asides in parentheses go (longest first;
 * a short tag like "(EMFILE)" stays), then whole words from the end,
 * marked with an ellipsis (never a word cut). */
int draw_message(const struct draw_ctx *c, int y, int x, int w, enum role role, const char *message);
/* The character at p as draw_text shows it: its glyph as UTF-8 in out, its
 * columns in *cells. Returns the bytes of p it takes. */
int draw_char(const char *p, int utf8, char out[8], int *cells);
/* Columns text takes as draw_text shows it. */
int draw_text_cells(const char *text, int utf8);
/* A horizontal bar of w cells filled to fraction (0..1), in eighths. */
void draw_bar(const struct draw_ctx *c, int y, int x, int w, double fraction, enum role role);
/* values[0..n-1] (oldest first) as a chart h rows tall, the newest at the
 * right edge; max scales the top, and a value above it is drawn full with
 * its top cell marked (spark_clipped). */
void draw_sparkline(const struct draw_ctx *c, int y, int x, int w, int h, const double *values, int n, double max);
void draw_fill(const struct draw_ctx *c, struct rect r, enum role role);

/* Number formatting: "1.23 GB", "12.3 M", FIG_NONE for NaN (no figure yet). */
void fmt_bytes(char *buf, size_t len, double bytes);
void fmt_count(char *buf, size_t len, double count);
void fmt_rate(char *buf, size_t len, double per_s, const char *unit);
void fmt_ms(char *buf, size_t len, double ms);
void fmt_duration(char *buf, size_t len, double seconds);
/* "2967" / "12.5" (tokens per second need no prefixes). */
void fmt_tok_rate(char *buf, size_t len, double tok_per_s);
/* The character in cell (y, x) of win (' ' for an empty cell). */
wchar_t draw_cell_char(WINDOW *win, int y, int x);
/* Row y of win (cols wide) as UTF-8 text without its trailing spaces, into
 * out[size] (cols * MB_LEN_MAX + 1 bytes hold any row). */
void draw_row_text(WINDOW *win, int y, int cols, char *out, size_t size);
/* text word-wrapped into r (at most r.h lines); returns the lines used. */
int draw_wrapped(const struct draw_ctx *c, struct rect r, enum role role, const char *text);

/* ---- panels (panel_*.c, panels.c) -------------------------------------------------------- */

struct panel {
    const char *title;
    struct panel_place place;
    void (*draw)(const struct draw_ctx *c, struct rect r);
};

/* The segment list's first row shown, within 0..n_segments - rows. */
int segments_first_shown(const struct ui_state *ui, int n_segments, int rows);

extern const struct panel panel_header, panel_throughput, panel_sections, panel_counters, panel_roofline,
    panel_memory, panel_topology, panel_ab, panel_segments, panel_text;

/* The dashboard, in drawing order; tui_panel_names[i] names tui_panels[i]
 * in --hide and in the help (one word each). */
extern const struct panel *const tui_panels[];
extern const char *const tui_panel_names[];
extern const int tui_panel_count;
void tui_panel_places(struct panel_place *out); /* [tui_panel_count] */

/* ---- the UI's own state, keys and dialogs (keys.c, dialogs.c) ------------------------------ */

/* What a key handler asks of the main loop. */
enum redraw { REDRAW_NONE = 0, REDRAW_ALL = 1, REDRAW_QUIT = 2 };

enum dialog { DIALOG_NONE, DIALOG_HELP, DIALOG_MODEL, DIALOG_AB, DIALOG_AB_STOP, DIALOG_PROFILE };

#define UI_INPUT_MAX 1024
#define UI_AB_CHOICES 16

struct ab_choice {
    char label[160];
    int available;
    char why_not[160];
    live_setting a, b;
};

struct ui_state {
    enum dialog dialog;
    int selected;                /* row in the dialog */
    char input[UI_INPUT_MAX];    /* typed path or profile name */
    int n_ab;
    struct ab_choice ab[UI_AB_CHOICES];
    char message[1200];          /* status line, e.g. the snapshot's files */
    enum role message_role;
    uint64_t message_ns;
    int text_as_ids;             /* 't' */
    int segments_first;          /* the segment list's first row shown, 0 = the newest */
    unsigned hidden;             /* bit i: tui_panels[i] is hidden (--hide, keys 1..9 and 0) */
    char model_pending[1024];    /* a model asked for, until it loads or fails ("" none) */
    char error_at_send[512];     /* the engine's error when it was asked: not this load's */
    uint32_t segment_at_send;    /* the shown segment then: a loaded model starts another */
    char error_seen[512];        /* the engine's error last shown on the status line */
    int shown_side;
    int max_threads;             /* + stops here */
    probes_pu_budget budget;     /* PUs this process may use */
    int oversubscribe;           /* --oversubscribe: threads may share PUs */
    int threads_target;          /* last requested thread count, 0 when it landed */
    /* last requested kernel, precision, mode ("" when it landed): k, w and
     * M count from the last request, so two quick presses go two steps */
    char kernel_target[16], precision_target[16], mode_target[16];
    char snapshot_dir[1024];
};

struct app {
    live_engine *engine;
    live_metrics *metrics;
    live_view *view;             /* latest copy */
    struct ui_state ui;
    struct theme theme;
    uint64_t seed;
    char prompt[4096];
    char profile[64];            /* for snapshots: how the run was set up */
    char events[1024];
    int delay;                   /* --delay, tenths of a second: saved in profiles */
};

/* The help dialog's lines: "KEYS  what they do" (the keys end at two
 * spaces; a line starting with a space continues the one before), up to
 * the first empty line, then notes. */
extern const char *const help_lines[];
extern const int help_line_count;

/* Handles one key; never draws. */
int keys_handle(struct app *a, int key);
/* A new view arrived: requests that landed (or failed) are no longer pending. */
void keys_view_changed(struct ui_state *ui, const live_status *st);
int dialogs_handle_key(struct app *a, int key);
/* Up, Down, PgUp, PgDn, Home, End: scroll the segment list (keys_view.c). */
int keys_scroll_segments(struct app *a, int key);
/* 1..9 and 0: hide or show tui_panels[0..9]. */
int keys_toggle_panel(struct app *a, int key);
/* `p`: the running settings as a profile NAME (profiles/). */
int profile_save_current(struct app *a, const char *name);
void ui_message(struct ui_state *ui, enum role role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The status bar (key hints or the latest message) and an open dialog. */
void draw_status_bar(const struct draw_ctx *c, struct rect r);
void draw_dialog(const struct draw_ctx *c, int rows, int cols);
/* The model dialog's cursor on the running model (a file: the file line, with its path). */
void dialogs_select_current_model(struct ui_state *ui, const live_status *st);
/* After a view update: a pending model load that failed becomes an error on
 * the status line (in place of "loading model"), one that loaded says so;
 * any other new error of the engine goes to the status line too. */
void follow_engine(struct ui_state *ui, const live_view *v);
/* Fills ui->ab with the comparisons offered from the running setting. */
void dialogs_build_ab_choices(struct ui_state *ui, const live_status *st);

/* ---- rendering (render.c) and snapshots (snapshot.c) ------------------------------------------ */

/* The layout of the panels not hidden (bit i of hidden: tui_panels[i]):
 * out->panels[k] is where tui_panels[panel_of[k]] goes. Returns how many. */
int render_layout(int rows, int cols, unsigned hidden, struct layout_result *out, int *panel_of);
/* Everything on win (stdscr or an off-screen pad) at rows x cols. */
void render_dashboard(WINDOW *win, int rows, int cols, const live_view *v, const struct theme *t,
                      const struct ui_state *ui);
/* Writes the snapshot files; 0 with their paths in ui's message, -1 with the error there. */
int snapshot_write(struct app *a);

/* ---- terminal (term.c) ----------------------------------------------------------------------- */

/* Installs the restoring handlers (SIGINT/SIGTERM/SIGHUP set the quit
 * flag; SIGSEGV/SIGABRT/SIGBUS/SIGFPE/SIGILL restore and re-raise) and
 * starts curses. -1 with a message on stderr when there is no terminal. */
int term_start(void);
void term_stop(void);
int term_quit_requested(void);
/* Blocks the quit and resize signals in threads created after this call
 * (the engine's), so they land on the UI thread; returns the old mask. */
void term_block_signals_for_workers(sigset_t *old);

#endif
