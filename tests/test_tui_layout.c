/* test_tui_layout.c — the dashboard's layout over every size from 1x1 to
 * 300x100: panels never overlap, never leave the screen, get at least their
 * minimum rows, and below the minimum the layout says so (with a minimum no
 * larger than a classic 80x24 terminal). Then each panel is drawn into an
 * off-screen pad at many sizes to check it stays inside its rectangle, the
 * first frame shows dashes, and the Bandwidth panel names the level a
 * token's working set fits in and never shows a share above 100%. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/figures_check.h"
#include "tests/tui_fixture.h"
#include "tui/internal.h"

#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int overlaps(struct rect a, struct rect b)
{
    return a.h > 0 && b.h > 0 && a.w > 0 && b.w > 0 && a.y < b.y + b.h && b.y < a.y + a.h && a.x < b.x + b.w &&
           b.x < a.x + a.w;
}

static int inside(struct rect r, int rows, int cols)
{
    return r.y >= 0 && r.x >= 0 && r.h >= 0 && r.w >= 0 && r.y + r.h <= rows && r.x + r.w <= cols;
}

/* Every property the layout promises, for one size. Returns 1 when it fit. */
static int check_size(const struct panel_place *p, int n, int rows, int cols)
{
    struct layout_result l;
    layout_compute(rows, cols, p, n, &l);
    if (!l.ok) {
        assert_true(rows < l.need_rows || cols < l.need_cols);
        return 0;
    }
    assert_true(rows >= l.need_rows && cols >= l.need_cols);
    assert_true(inside(l.status_bar, rows, cols));
    assert_int_equal(l.status_bar.y, rows - 1);
    assert_int_equal(l.status_bar.w, cols);
    for (int i = 0; i < n; i++) {
        if (!inside(l.panels[i], rows, cols))
            fail_msg("%dx%d: panel %d at %d,%d %dx%d leaves the screen", cols, rows, i, l.panels[i].x, l.panels[i].y,
                     l.panels[i].w, l.panels[i].h);
        assert_true(l.panels[i].h >= p[i].min_rows);
        assert_true(l.panels[i].w >= 1);
        assert_false(overlaps(l.panels[i], l.status_bar));
        for (int j = i + 1; j < n; j++)
            if (overlaps(l.panels[i], l.panels[j]))
                fail_msg("%dx%d: panels %d and %d overlap", cols, rows, i, j);
    }
    return 1;
}

static void test_dashboard_layout_every_size_1x1_to_300x100(void **state)
{
    (void)state;
    struct panel_place places[LAYOUT_MAX_PANELS];
    tui_panel_places(places);
    int fitted = 0, too_small = 0;
    for (int rows = 1; rows <= 100; rows++)
        for (int cols = 1; cols <= 300; cols++) {
            if (check_size(places, tui_panel_count, rows, cols))
                fitted++;
            else
                too_small++;
        }
    assert_true(fitted > 10000);
    assert_true(too_small > 0);
}

static void test_minimum_size_is_at_most_80x24(void **state)
{
    (void)state;
    struct panel_place places[LAYOUT_MAX_PANELS];
    struct layout_result l;
    tui_panel_places(places);
    layout_compute(1, 1, places, tui_panel_count, &l);
    assert_false(l.ok);
    assert_true(l.need_cols <= 80);
    assert_true(l.need_rows <= 24);
    layout_compute(24, 80, places, tui_panel_count, &l);
    assert_true(l.ok);
    layout_compute(l.need_rows, l.need_cols, places, tui_panel_count, &l);
    assert_true(l.ok);
    layout_compute(l.need_rows - 1, l.need_cols, places, tui_panel_count, &l);
    assert_false(l.ok);
    layout_compute(l.need_rows, l.need_cols - 1, places, tui_panel_count, &l);
    assert_false(l.ok);
}

static void test_columns_end_on_one_line_and_bottom_takes_the_rest(void **state)
{
    (void)state;
    struct panel_place places[LAYOUT_MAX_PANELS];
    struct layout_result l;
    tui_panel_places(places);
    layout_compute(60, 200, places, tui_panel_count, &l);
    assert_true(l.ok);
    int left_end = 0, right_end = 0, bottom = -1;
    for (int i = 0; i < tui_panel_count; i++) {
        int end = l.panels[i].y + l.panels[i].h;
        if (places[i].area == AREA_LEFT && end > left_end)
            left_end = end;
        if (places[i].area == AREA_RIGHT && end > right_end)
            right_end = end;
        if (places[i].area == AREA_BOTTOM)
            bottom = i;
    }
    assert_int_equal(left_end, right_end);
    if (bottom < 0)
        fail_msg("no bottom panel");
    assert_int_equal(l.panels[bottom].y, left_end);
    assert_int_equal(l.panels[bottom].y + l.panels[bottom].h, 59); /* up to the status bar */
}

/* Other panel sets (two bottom panels, an empty column) keep the promises. */
static void test_other_panel_sets_keep_the_promises(void **state)
{
    (void)state;
    const struct panel_place sets[][5] = {
        {{AREA_TOP, 1, 1}, {AREA_LEFT, 3, 9}, {AREA_BOTTOM, 2, 0}, {AREA_BOTTOM, 3, 0}, {AREA_RIGHT, 1, 1}},
        {{AREA_LEFT, 5, 5}, {AREA_LEFT, 2, 20}, {AREA_LEFT, 1, 1}, {AREA_TOP, 3, 3}, {AREA_BOTTOM, 1, 0}},
        {{AREA_RIGHT, 4, 4}, {AREA_RIGHT, 4, 40}, {AREA_TOP, 2, 2}, {AREA_TOP, 1, 1}, {AREA_BOTTOM, 1, 0}},
    };
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++)
        for (int rows = 1; rows <= 60; rows++)
            for (int cols = 1; cols <= 200; cols += 3)
                check_size(sets[s], 5, rows, cols);
}

/* ---- drawing stays inside the rectangle --------------------------------------------------- */

static void test_panels_draw_only_inside_their_rectangles(void **state)
{
    (void)state;
    static live_view view;
    tui_fixture_fill_view(&view);
    struct theme theme;
    theme_init(&theme, 0, theme_utf8_wanted());
    struct ui_state ui;
    memset(&ui, 0, sizeof ui);
    struct panel_place places[LAYOUT_MAX_PANELS];
    tui_panel_places(places);
    struct layout_result minimum;
    layout_compute(1, 1, places, tui_panel_count, &minimum);
    const int sizes[][2] = {{minimum.need_rows, minimum.need_cols}, {24, 80}, {40, 120}, {45, 140}, {60, 200},
                            {100, 300}, {30, 97}, {25, 81}};
    for (size_t k = 0; k < 2 * sizeof sizes / sizeof sizes[0]; k++) {
        int rows = sizes[k / 2][0], cols = sizes[k / 2][1];
        view.ab_active = k % 2; /* both faces of the A/B panel */
        struct layout_result l;
        layout_compute(rows, cols, places, tui_panel_count, &l);
        assert_true(l.ok);
        WINDOW *pad = newpad(rows, cols);
        assert_non_null(pad);
        struct draw_ctx c = {.win = pad, .view = &view, .theme = &theme, .ui = &ui};
        for (int i = 0; i < tui_panel_count; i++) {
            /* Fill with a sentinel, draw one panel, look for changes outside it. */
            for (int y = 0; y < rows; y++)
                mvwhline(pad, y, 0, '%', cols);
            tui_panels[i]->draw(&c, l.panels[i]);
            struct rect r = l.panels[i];
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < cols; x++) {
                    int in = y >= r.y && y < r.y + r.h && x >= r.x && x < r.x + r.w;
                    chtype ch = mvwinch(pad, y, x) & A_CHARTEXT;
                    if (!in && ch != '%')
                        fail_msg("%dx%d: panel '%s' drew at %d,%d outside %d,%d %dx%d", cols, rows,
                                 tui_panels[i]->title, x, y, r.x, r.y, r.w, r.h);
                }
        }
        delwin(pad);
    }
}

/* The view the UI holds before the first publish: nothing is known yet, and
 * the panels say so with a dash, never with a 0 that reads as a figure. */
static void test_first_frame_shows_dashes_not_zeros(void **state)
{
    (void)state;
    static live_view view;
    memset(&view, 0, sizeof view);
    view.status.state = LIVE_STARTING;
    struct theme theme;
    theme_init(&theme, 0, theme_utf8_wanted());
    const int rows = 45, cols = 140;
    WINDOW *pad = newpad(rows, cols);
    assert_non_null(pad);
    render_dashboard(pad, rows, cols, &view, &theme, NULL);
    static const char *const zeros[] = {"0/0",   "0 B", "0 pkg",        "0 cores", "0 PUs", "0.0",
                                        "n/a",   "of 0", "generation 0", "unavailable:"};
    int dashes = 0;
    for (int y = 0; y < rows; y++) {
        char line[cols * MB_LEN_MAX + 1];
        draw_row_text(pad, y, cols, line, sizeof line);
        for (size_t k = 0; k < sizeof zeros / sizeof zeros[0]; k++)
            if (strstr(line, zeros[k]))
                fail_msg("row %d shows '%s' before any figure exists:\n%s", y, zeros[k], line);
        dashes += strstr(line, theme.glyphs.utf8 ? FIG_NONE : " - ") != NULL;
    }
    assert_true(dashes >= 5); /* header, throughput, memory, timers, topology at least */
    delwin(pad);
}

/* Every "N% of" in text is at most 100. */
static void expect_no_share_above_100(const char *text)
{
    const char *share = text_share_above_100(text);
    if (share)
        fail_msg("a share above 100%%: '%.12s' in\n%s", share, text);
}

/* A 2-core machine whose L3 is 32 MiB (or hwloc's 1016 MiB, unusable). */
static void ceilings_of_the_issue(probes_ceilings *c, uint64_t l3_bytes, double l3_read)
{
    memset(c, 0, sizeof *c);
    const char *names[] = {"L1d", "L2", "L3", "DRAM"};
    const uint64_t sizes[] = {48 << 10, 2 << 20, l3_bytes, 0};
    const int instances[] = {2, 2, 1, 0}, cores[] = {1, 1, 2, 0};
    const double reads[] = {300e9, 140e9, l3_read, 29e9};
    c->n_levels = 4;
    c->n_rows = 1;
    c->rows[0].threads = 1;
    c->rows[0].triad_bytes_per_s = probes_metric_of(31.8e9);
    c->rows[0].fma_flops_per_s = probes_metric_of(230e9);
    c->rows[0].matmul_flops_per_s = probes_metric_of(150e9);
    for (int l = 0; l < 4; l++) {
        snprintf(c->levels[l].name, sizeof c->levels[l].name, "%s", names[l]);
        c->levels[l].size_bytes = c->levels[l].usable_bytes = sizes[l];
        c->levels[l].instances = instances[l];
        c->levels[l].cores_per_instance = cores[l];
        c->rows[0].read_bytes_per_s[l] = probes_metric_of(reads[l]);
    }
    snprintf(c->fma_isa, sizeof c->fma_isa, "avx512");
}

/* The issue's decode: 8.9 MB a token at 67.8 GB/s on one thread. Against
 * the DRAM triad (31.8 GB/s) the panel said 213.1%; against the L3's read
 * ceiling it is 71%, named; and where no ceiling applies it says why. */
static void test_bandwidth_panel_names_the_level_and_stays_under_100(void **state)
{
    (void)state;
    static live_view view;
    memset(&view, 0, sizeof view);
    view.status.state = LIVE_RUNNING;
    view.has_current = 1;
    view.current.info.threads = 1;
    view.current.decode_tokens = 7618;
    view.current.recent_decode_tokens = 7618;
    view.current.recent_decode_ns = 1e9;
    view.current.recent_decode_bytes = 67.8e9;
    view.current.recent_decode_flops = 1.4e9 * 7618 / 1e3;
    view.ceilings_ok = view.ceilings_done = 1;
    snprintf(view.ceilings_state, sizeof view.ceilings_state, "cached");
    ceilings_of_the_issue(&view.ceilings, 32 << 20, 95.5e9);
    char *text = tui_fixture_text(&view, NULL, 45, 140);
    expect_no_share_above_100(text);
    if (!strstr(text, "71.0% of L3 read") || !strstr(text, "L3-resident"))
        fail_msg("want 71.0%% of the L3 read ceiling, named:\n%s", text);
    free(text);
    /* an L3 ceiling below the rate: no share, the reason instead */
    ceilings_of_the_issue(&view.ceilings, 32 << 20, 50e9);
    text = tui_fixture_text(&view, NULL, 45, 140);
    expect_no_share_above_100(text);
    if (!strstr(text, "above the L3 read"))
        fail_msg("want 'above the L3 read ceiling':\n%s", text);
    free(text);
    /* hwloc's 1016 MiB L3, no part of which reads faster than DRAM */
    ceilings_of_the_issue(&view.ceilings, 1016u << 20, 95.5e9);
    view.ceilings.levels[2].suspicious = 1;
    view.ceilings.levels[2].usable_bytes = 0;
    view.l3_bytes = 1016u << 20;
    text = tui_fixture_text(&view, NULL, 45, 140);
    expect_no_share_above_100(text);
    if (!strstr(text, "size is suspicious") || !strstr(text, "L3 1016 MiB (suspicious)"))
        fail_msg("want the suspicious L3 named in the Bandwidth and Topology panels:\n%s", text);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dashboard_layout_every_size_1x1_to_300x100),
        cmocka_unit_test(test_minimum_size_is_at_most_80x24),
        cmocka_unit_test(test_columns_end_on_one_line_and_bottom_takes_the_rest),
        cmocka_unit_test(test_other_panel_sets_keep_the_promises),
        cmocka_unit_test_setup_teardown(test_panels_draw_only_inside_their_rectangles, tui_fixture_setup, tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_first_frame_shows_dashes_not_zeros, tui_fixture_setup, tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bandwidth_panel_names_the_level_and_stays_under_100, tui_fixture_setup,
                                        tui_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
