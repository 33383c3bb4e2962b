/* render.c — one frame: the layout for this size, every panel in its
 * rectangle, the status bar and an open dialog; or, below the minimum size,
 * the size the dashboard needs. The same code draws the terminal and the
 * off-screen pad of --screen-dump, so both show the same thing. */
#include "tui/internal.h"

#include <stdio.h>
#include <string.h>

/* The message wraps when the screen is narrower than the message. */
static void draw_too_small(const struct draw_ctx *c, int rows, int cols, const struct layout_result *l)
{
    char msg[160];
    snprintf(msg, sizeof msg, "hstprof needs at least %dx%d (now %dx%d): enlarge the terminal, or q to quit",
             l->need_cols, l->need_rows, cols, rows);
    int len = (int)strlen(msg);
    int lines = cols > 0 ? (len + cols - 1) / cols : 0;
    int y = rows > lines ? (rows - lines) / 2 : 0;
    for (int i = 0; i < lines && y + i < rows; i++) {
        int start = i * cols, w = len - start < cols ? len - start : cols;
        int x = lines == 1 ? (cols - w) / 2 : 0;
        wattrset(c->win, c->theme->attr[ROLE_WARN]);
        mvwaddnstr(c->win, y + i, x, msg + start, w);
    }
    wattrset(c->win, A_NORMAL);
}

int render_layout(int rows, int cols, unsigned hidden, struct layout_result *out, int *panel_of)
{
    struct panel_place all[LAYOUT_MAX_PANELS], shown[LAYOUT_MAX_PANELS];
    tui_panel_places(all);
    int n = 0;
    for (int i = 0; i < tui_panel_count; i++)
        if (!(hidden & 1u << i)) {
            panel_of[n] = i;
            shown[n++] = all[i];
        }
    layout_compute(rows, cols, shown, n, out);
    return n;
}

void render_dashboard(WINDOW *win, int rows, int cols, const live_view *v, const struct theme *t,
                      const struct ui_state *ui)
{
    struct draw_ctx c = {.win = win, .view = v, .theme = t, .ui = ui};
    struct layout_result l;
    int panel_of[LAYOUT_MAX_PANELS];
    int n = render_layout(rows, cols, ui ? ui->hidden : 0, &l, panel_of);
    werase(win);
    if (!l.ok) {
        draw_too_small(&c, rows, cols, &l);
        return;
    }
    for (int i = 0; i < n; i++)
        tui_panels[panel_of[i]]->draw(&c, l.panels[i]);
    draw_status_bar(&c, l.status_bar);
    draw_dialog(&c, rows, cols);
}
