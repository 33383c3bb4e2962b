/* layout.h — where the dashboard's panels go: a pure function of the
 * terminal size and the panel table (layout.c: no curses, no globals), so it
 * is tested over every size without a terminal. */
#ifndef HSTPROF_TUI_LAYOUT_H
#define HSTPROF_TUI_LAYOUT_H

struct rect {
    int y, x, h, w;
};

enum panel_area { AREA_TOP, AREA_LEFT, AREA_RIGHT, AREA_BOTTOM };

struct panel_place {
    enum panel_area area;
    int min_rows;  /* including the title row */
    int max_rows;  /* rows it can use; AREA_BOTTOM takes whatever is left */
};

#define LAYOUT_MIN_COLS 80       /* two columns of 40 */
#define LAYOUT_MAX_PANELS 16

struct layout_result {
    int ok;                      /* 0: too small, see need_* */
    int need_rows, need_cols;
    struct rect panels[LAYOUT_MAX_PANELS];
    struct rect status_bar;      /* the last row */
};

/* Places n panels on a rows x cols screen: TOP panels stacked at the top
 * with their min_rows, then LEFT and RIGHT columns side by side, the
 * BOTTOM panel across the width below them, and a one-row status bar at
 * the very bottom. Rectangles never overlap and never leave the screen.
 * Without a BOTTOM panel the columns take the whole height; without
 * panels in one column the other takes the whole width.
 * Pure: no curses, no globals. */
void layout_compute(int rows, int cols, const struct panel_place *places, int n, struct layout_result *out);

#endif
