/* keys_view.c — the keys that change only what the dashboard shows, not
 * what the engine runs: scrolling the segment list and hiding panels (as
 * htop's F2 setup hides meters). Like keys.c, nothing here draws. */
#include "tui/internal.h"

#include <string.h>

/* Rows of segments the panel shows at the terminal's size (0: hidden). */
static int segment_rows(const struct ui_state *ui)
{
    struct layout_result l;
    int panel_of[LAYOUT_MAX_PANELS];
    int n = render_layout(LINES, COLS, ui->hidden, &l, panel_of);
    for (int i = 0; l.ok && i < n; i++)
        if (tui_panels[panel_of[i]] == &panel_segments)
            return l.panels[i].h - 1;
    return 0;
}

int keys_scroll_segments(struct app *a, int key)
{
    struct ui_state *ui = &a->ui;
    int rows = segment_rows(ui), n = a->view->n_segments;
    if (rows <= 0)
        return REDRAW_NONE;
    int first = segments_first_shown(ui, n, rows);
    switch (key) {
    case KEY_UP:
        first--;
        break;
    case KEY_DOWN:
        first++;
        break;
    case KEY_PPAGE:
        first -= rows;
        break;
    case KEY_NPAGE:
        first += rows;
        break;
    case KEY_HOME:
        first = 0;
        break;
    default: /* KEY_END */
        first = n;
        break;
    }
    ui->segments_first = first; /* stored as asked, kept in range where it is used */
    ui->segments_first = segments_first_shown(ui, n, rows);
    return REDRAW_ALL;
}

int keys_toggle_panel(struct app *a, int key)
{
    int i = key == '0' ? 9 : key - '1';
    if (i < 0 || i >= tui_panel_count)
        return REDRAW_NONE;
    a->ui.hidden ^= 1u << i;
    ui_message(&a->ui, ROLE_NORMAL, "%s panel %s (%c %s it)", tui_panel_names[i],
               a->ui.hidden & 1u << i ? "hidden" : "shown", key, a->ui.hidden & 1u << i ? "shows" : "hides");
    return REDRAW_ALL;
}
