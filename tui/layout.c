/* layout.c — where each panel goes, as a pure function of the terminal size
 * (nvtop's approach): no curses here, so tests can check hundreds of sizes.
 *
 *   +------------------------------------------+
 *   | TOP panels (header), stacked              |
 *   +---------------------+--------------------+
 *   | LEFT column         | RIGHT column       |
 *   |  panels get min,    |  same rules        |
 *   |  then up to max,    |                    |
 *   |  the last stretches |                    |
 *   +---------------------+--------------------+
 *   | BOTTOM panel (the rest of the height)     |
 *   +------------------------------------------+
 *   | status bar (1 row)                        |
 *   +------------------------------------------+
 */
#include "tui/layout.h"

#include <string.h>

#define STATUS_ROWS 1
#define COLUMN_GAP 1 /* blank column between LEFT and RIGHT */

static int sum_rows(const struct panel_place *p, int n, enum panel_area area, int use_max)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        if (p[i].area == area)
            total += use_max && p[i].max_rows > p[i].min_rows ? p[i].max_rows : p[i].min_rows;
    return total;
}

static int count_area(const struct panel_place *p, int n, enum panel_area area)
{
    int count = 0;
    for (int i = 0; i < n; i++)
        count += p[i].area == area;
    return count;
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

/* Stacks the column's panels from row y in `height` rows: each gets its
 * minimum, extra rows go in order up to each maximum, and whatever is still
 * left goes to the column's last panel so both columns end on one line. */
static void place_column(const struct panel_place *p, int n, enum panel_area area, int y, int x, int w, int height,
                         struct rect *out)
{
    int extra = height - sum_rows(p, n, area, 0), last = -1;
    int rows[LAYOUT_MAX_PANELS] = {0};
    for (int i = 0; i < n; i++) {
        if (p[i].area != area)
            continue;
        int grow = p[i].max_rows > p[i].min_rows ? p[i].max_rows - p[i].min_rows : 0;
        if (grow > extra)
            grow = extra;
        rows[i] = p[i].min_rows + grow;
        extra -= grow;
        last = i;
    }
    if (last >= 0)
        rows[last] += extra;
    for (int i = 0; i < n; i++) {
        if (p[i].area != area)
            continue;
        out[i] = (struct rect){y, x, rows[i], w};
        y += rows[i];
    }
}

void layout_compute(int rows, int cols, const struct panel_place *p, int n, struct layout_result *out)
{
    memset(out, 0, sizeof *out);
    if (n > LAYOUT_MAX_PANELS)
        n = LAYOUT_MAX_PANELS;
    const int top = sum_rows(p, n, AREA_TOP, 0), bottom_min = sum_rows(p, n, AREA_BOTTOM, 0);
    const int columns_min = max_int(sum_rows(p, n, AREA_LEFT, 0), sum_rows(p, n, AREA_RIGHT, 0));
    out->need_rows = top + columns_min + bottom_min + STATUS_ROWS;
    out->need_cols = LAYOUT_MIN_COLS;
    if (rows < out->need_rows || cols < out->need_cols)
        return;
    out->ok = 1;
    int y = 0;
    for (int i = 0; i < n; i++)
        if (p[i].area == AREA_TOP) {
            out->panels[i] = (struct rect){y, 0, p[i].min_rows, cols};
            y += p[i].min_rows;
        }
    /* The columns take what they can use; the bottom panel the rest. */
    int available = rows - STATUS_ROWS - y - bottom_min;
    int columns_want = max_int(sum_rows(p, n, AREA_LEFT, 1), sum_rows(p, n, AREA_RIGHT, 1));
    int columns = columns_want < available && count_area(p, n, AREA_BOTTOM) ? columns_want : available;
    /* With panels hidden, a column left empty gives its width to the other. */
    int has_left = count_area(p, n, AREA_LEFT) > 0, has_right = count_area(p, n, AREA_RIGHT) > 0;
    int left_w = !has_right ? cols : !has_left ? 0 : (cols - COLUMN_GAP) * 52 / 100;
    int right_x = has_left ? left_w + COLUMN_GAP : 0;
    place_column(p, n, AREA_LEFT, y, 0, left_w, columns, out->panels);
    place_column(p, n, AREA_RIGHT, y, right_x, cols - right_x, columns, out->panels);
    y += columns;
    int bottom = rows - STATUS_ROWS - y;
    for (int i = 0; i < n; i++)
        if (p[i].area == AREA_BOTTOM) {
            /* Several bottom panels share: all but the last get their minimum. */
            int h = p[i].min_rows;
            int later = 0;
            for (int j = i + 1; j < n; j++)
                later += p[j].area == AREA_BOTTOM;
            if (!later)
                h = bottom;
            out->panels[i] = (struct rect){y, 0, h, cols};
            y += h;
            bottom -= h;
        }
    out->status_bar = (struct rect){rows - STATUS_ROWS, 0, STATUS_ROWS, cols};
}
