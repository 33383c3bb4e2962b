/* test_tui_fields.c — what the dashboard shows at small sizes and how it is
 * driven: every field it draws is whole on screen (at 80x24 and other sizes
 * a field that does not fit is left out or shortened, never cut), the A/B
 * verdict and the latency units survive 80x24, the throughput chart scales
 * to the 95th percentile and says its span, the segment list scrolls,
 * panels hide, the prompt shows as UTF-8, the model dialog starts on the
 * running model and takes typing at once, a failed load is an error on the
 * status line that fits, and the help lists the README's keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/harness.h"
#include "tests/tui_fixture.h"
#include "tui/tui.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- every field whole ------------------------------------------------------------------ */

/* The glyph at (y, x) of win as UTF-8. */
static void cell_text(WINDOW *win, int y, int x, char *out, size_t size)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t n = wcrtomb(out, draw_cell_char(win, y, x), &st);
    out[n == (size_t)-1 || n >= size ? 0 : n] = '\0';
}

/* Each field drawn shows whole at its place once the frame is done: not cut
 * by the edge, not overwritten in part by a later field. */
static void expect_fields_whole(WINDOW *win, const struct draw_field_log *log, int utf8, const char *where)
{
    for (int i = 0; i < log->n; i++) {
        const struct draw_field *f = &log->fields[i];
        if (f->cells == 0)
            continue; /* left out whole */
        int x = f->x, cells;
        char want[8], got[8];
        for (const char *p = f->text; *p; x += cells) {
            p += draw_char(p, utf8, want, &cells);
            cell_text(win, f->y, x, got, sizeof got);
            if (strcmp(want, got) != 0) {
                char row[1024 * MB_LEN_MAX];
                draw_row_text(win, f->y, 1024, row, sizeof row);
                fail_msg("%s: field '%s' at column %d of row %d is cut at column %d:\n%s", where, f->text, f->x, f->y,
                         x, row);
            }
        }
    }
}

static void test_no_field_is_cut_at_80x24_or_other_sizes(void **state)
{
    (void)state;
    static live_view view;
    static struct draw_field_log log;
    static struct ui_state ui;
    tui_fixture_fill_view(&view);
    struct theme theme;
    theme_init(&theme, 0, theme_utf8_wanted());
    const int sizes[][2] = {{24, 80}, {25, 81}, {30, 97}, {30, 100}, {40, 120}, {45, 140}, {60, 200}, {24, 90}};
    int fields = 0, left_out = 0;
    for (size_t k = 0; k < 3 * sizeof sizes / sizeof sizes[0]; k++) {
        int rows = sizes[k / 3][0], cols = sizes[k / 3][1];
        view.ab_active = view.status.ab_active = k % 3 != 0; /* both faces of the A/B panel */
        memset(&ui, 0, sizeof ui);
        ui.segments_first = k % 3 == 2 ? 4 : 0;
        if (k % 3 == 2) /* a status message instead of the key hints */
            ui_message(&ui, ROLE_BAD, "model not loaded: /a/long/path/to/missing.safetensors: unknown model: not a "
                                      "preset (hst-v3, hst-v4, hst-v5.2) and no such file");
        WINDOW *pad = newpad(rows, cols);
        assert_non_null(pad);
        log.n = 0;
        draw_log_fields(&log);
        render_dashboard(pad, rows, cols, &view, &theme, &ui);
        draw_log_fields(NULL);
        char where[64];
        snprintf(where, sizeof where, "%dx%d%s", cols, rows, view.ab_active ? " (A/B)" : "");
        expect_fields_whole(pad, &log, theme.glyphs.utf8, where);
        for (int i = 0; i < log.n; i++)
            log.fields[i].cells ? fields++ : left_out++;
        delwin(pad);
    }
    assert_true(fields > 500);
    assert_true(left_out > 0); /* 80x24 had to leave some out */
}

/* The row of text that starts with prefix, or NULL. */
static const char *row_starting(const char *text, const char *prefix)
{
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            return line;
    return NULL;
}

/* The 80x24: `p99 ... 4.27` without its unit and `(95% CI 4` with
 * the verdict cut. The verdict shows whole or without its interval; the
 * latency row ends with a unit. */
static void test_80x24_keeps_the_verdict_whole_and_latency_units(void **state)
{
    (void)state;
    static live_view view;
    tui_fixture_fill_view(&view);
    char *text = tui_fixture_text(&view, NULL, 24, 80);
    const char *full = view.ab.verdict;
    if (!strstr(text, "B is 1.31x faster") || (strstr(text, "(95% CI") && !strstr(text, full)))
        fail_msg("the verdict is missing or cut:\n%s", text);
    const char *latency = row_starting(text, "latency ");
    if (!latency) {
        fail_msg("no latency row:\n%s", text);
        return; /* not reached: for the analyzer, which does not know fail_msg ends the test */
    }
    char row[200];
    snprintf(row, sizeof row, "%.*s", (int)strcspn(latency, "\n"), latency);
    row[40] = '\0'; /* the left column (41 columns with the gap) */
    size_t len = strlen(row);
    while (len > 0 && row[len - 1] == ' ')
        row[--len] = '\0';
    if (len < 3 || (strcmp(row + len - 3, " ms") != 0 && strcmp(row + len - 3, " us") != 0))
        fail_msg("the latency row does not end with a unit: '%s'", row);
    if (!strstr(row, "8.4"))
        fail_msg("the latency row lacks p99: '%s'", row);
    free(text);
}

/* ---- the throughput chart ----------------------------------------------------------------- */

/* A start-up outlier ten times the rest set the scale, flattening the
 * chart: the scale is now the 95th percentile of the points shown, the
 * outliers are marked as clipped, and the title says the span. */
static void test_chart_scales_to_the_95th_percentile_and_says_its_span(void **state)
{
    (void)state;
    static live_view view;
    tui_fixture_fill_view(&view);
    live_segment_stats *s = &view.current;
    for (int i = 0; i < LIVE_HISTORY; i++)
        s->history_tok_per_s[i] = i >= LIVE_HISTORY - 2 ? 12000 : 1500;
    struct theme theme;
    theme_init(&theme, 0, theme_utf8_wanted());
    char *text = tui_fixture_text(&view, NULL, 40, 120);
    if (!row_starting(text, "1500 ") || strstr(text, "12000"))
        fail_msg("want the scale 1500 (the 95th percentile), not the outliers' 12000:\n%s", text);
    if (!strstr(text, theme.glyphs.spark_clipped))
        fail_msg("the clipped points are not marked with '%s':\n%s", theme.glyphs.spark_clipped, text);
    if (!strstr(text, "chart: last 2")) /* 53 points of 0.5 s */
        fail_msg("the title does not say the chart's span:\n%s", text);
    free(text);
}

/* ---- keys: scrolling, hiding, the model dialog ------------------------------------------------ */

static struct app *new_app(void)
{
    struct app *a = calloc(1, sizeof *a);
    assert_non_null(a);
    a->view = calloc(1, sizeof *a->view);
    assert_non_null(a->view);
    tui_fixture_fill_view(a->view);
    theme_init(&a->theme, 0, theme_utf8_wanted());
    return a;
}

static void free_app(struct app *a)
{
    free(a->view);
    free(a);
}

/* The number after '#' on the first segment row. */
static int first_segment_shown(const char *text)
{
    const char *title = strstr(text, " Segments ");
    assert_non_null(title);
    const char *row = strchr(title, '\n');
    assert_non_null(row);
    const char *hash = strchr(row, '#');
    assert_non_null(hash);
    return atoi(hash + 1);
}

static void test_segment_list_scrolls_with_the_keys(void **state)
{
    (void)state;
    struct app *a = new_app();
    resizeterm(40, 120); /* the keys page by the panel's rows at the terminal's size */
    char *text = tui_fixture_text(a->view, &a->ui, 40, 120);
    int n = a->view->n_segments, newest = first_segment_shown(text);
    assert_int_equal(newest, n - 1);
    free(text);
    keys_handle(a, KEY_NPAGE);
    text = tui_fixture_text(a->view, &a->ui, 40, 120);
    int paged = first_segment_shown(text);
    if (!(paged < newest - 1) || !strstr(text, " of 32"))
        fail_msg("PgDn did not scroll the segment list (first #%d):\n%s", paged, text);
    free(text);
    keys_handle(a, KEY_UP);
    text = tui_fixture_text(a->view, &a->ui, 40, 120);
    assert_int_equal(first_segment_shown(text), paged + 1);
    free(text);
    keys_handle(a, KEY_END);
    keys_handle(a, KEY_DOWN); /* past the end: stays on the last page */
    text = tui_fixture_text(a->view, &a->ui, 40, 120);
    int last_page_first = first_segment_shown(text);
    if (!strstr(text, "#0 "))
        fail_msg("End does not show the oldest segment:\n%s", text);
    free(text);
    keys_handle(a, KEY_UP);
    text = tui_fixture_text(a->view, &a->ui, 40, 120);
    assert_int_equal(first_segment_shown(text), last_page_first + 1); /* Up answers at once after overshooting */
    free(text);
    keys_handle(a, KEY_HOME);
    text = tui_fixture_text(a->view, &a->ui, 40, 120);
    assert_int_equal(first_segment_shown(text), n - 1);
    free(text);
    free_app(a);
}

static void test_hidden_panels_leave_their_room_to_the_others(void **state)
{
    (void)state;
    struct app *a = new_app();
    char err[512];
    assert_int_equal(tui_parse_hide("timers,counters", &a->ui.hidden, err, sizeof err), 0);
    char *text = tui_fixture_text(a->view, &a->ui, 40, 120);
    if (strstr(text, "Per-layer timers") || strstr(text, " Counters ") || !strstr(text, " Throughput "))
        fail_msg("--hide timers,counters:\n%s", text);
    free(text);
    struct layout_result l;
    int panel_of[LAYOUT_MAX_PANELS];
    int n = render_layout(40, 120, a->ui.hidden, &l, panel_of);
    assert_int_equal(n, tui_panel_count - 2);
    for (int i = 0; i < n; i++)
        if (tui_panels[panel_of[i]] == &panel_throughput && l.panels[i].h < 20)
            fail_msg("the throughput panel, alone in its column, got %d rows", l.panels[i].h);
    /* a key shows it again, another hides the text panel */
    keys_handle(a, '3');
    keys_handle(a, '0');
    text = tui_fixture_text(a->view, &a->ui, 40, 120);
    if (!strstr(text, "Per-layer timers") || strstr(text, "Generated text"))
        fail_msg("keys 3 and 0 did not toggle the timers and the text:\n%s", text);
    free(text);
    /* every right-hand panel hidden: the left column takes the width */
    assert_int_equal(tui_parse_hide("bandwidth,memory,ab,segments,topology", &a->ui.hidden, err, sizeof err), 0);
    n = render_layout(24, 80, a->ui.hidden, &l, panel_of);
    assert_true(l.ok);
    for (int i = 0; i < n; i++)
        assert_int_equal(l.panels[i].w, 80);
    assert_int_equal(tui_parse_hide("timers,bogus", &a->ui.hidden, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown panel 'bogus' (panels: header, throughput, timers"));
    assert_int_equal(tui_parse_hide("timers,", &a->ui.hidden, err, sizeof err), -1);
    free_app(a);
}

static int preset_index(const char *name)
{
    for (int i = 0; i < hst_preset_count(); i++)
        if (strcmp(hst_preset_name(i), name) == 0)
            return i;
    fail_msg("no preset %s", name);
    return -1;
}

/* The cursor started on hst-v3 whatever ran, and keys typed before it
 * reached `file:` were dropped. */
static void test_model_dialog_starts_on_the_running_model_and_takes_typing(void **state)
{
    (void)state;
    struct app *a = new_app();
    a->view->ab_active = a->view->status.ab_active = 0; /* m changes nothing during an A/B */
    snprintf(a->view->status.setting.model, sizeof a->view->status.setting.model, "hst-v6");
    keys_handle(a, 'm');
    assert_int_equal(a->ui.dialog, DIALOG_MODEL);
    assert_int_equal(a->ui.selected, preset_index("hst-v6"));
    for (const char *p = "/tmp/m.safetensors"; *p; p++)
        keys_handle(a, *p);
    assert_string_equal(a->ui.input, "/tmp/m.safetensors");
    assert_int_equal(a->ui.selected, hst_preset_count()); /* the file line */
    keys_handle(a, 27);
    /* a file running: the cursor on the file line, with its path */
    snprintf(a->view->status.setting.model, sizeof a->view->status.setting.model, "/models/x.safetensors");
    keys_handle(a, 'm');
    assert_int_equal(a->ui.selected, hst_preset_count());
    assert_string_equal(a->ui.input, "/models/x.safetensors");
    free_app(a);
}

/* "loading model" stayed on the status line while the error was cut off
 * in the header; now the error replaces it, and fits 80 columns. Other
 * errors of the engine, which the header may have no room for, too. */
static void test_failed_load_is_an_error_on_the_status_line_that_fits(void **state)
{
    (void)state;
    struct app *a = new_app();
    a->view->status.error[0] = '\0';
    snprintf(a->ui.model_pending, sizeof a->ui.model_pending, "/a/long/path/to/missing.safetensors");
    a->ui.segment_at_send = a->view->current.info.id;
    ui_message(&a->ui, ROLE_GOOD, "loading model %s (at the next token)", a->ui.model_pending);
    follow_engine(&a->ui, a->view); /* the engine has not answered yet */
    assert_non_null(strstr(a->ui.message, "loading model"));
    snprintf(a->view->status.error, sizeof a->view->status.error,
             "model: /a/long/path/to/missing.safetensors: unknown model: not a preset (hst-v3, hst-v4, hst-v5.2, "
             "hst-v6, hst-v6.1, hst-v7.0, hst-chaos, hst-v7.1, hst-v8) and no such file");
    follow_engine(&a->ui, a->view);
    assert_int_equal(a->ui.message_role, ROLE_BAD);
    char *text = tui_fixture_text(a->view, &a->ui, 24, 80);
    const char *status = strrchr(text, '\n');
    while (status > text && status[-1] != '\n')
        status--; /* the last row */
    const char *want = "model not loaded: missing.safetensors: unknown model: not a preset";
    if (strncmp(status, want, strlen(want)) != 0 || strstr(status, "loading"))
        fail_msg("want the error on the status line, shortened to fit:\n%s", status);
    free(text);
    /* a model that loads says so */
    snprintf(a->ui.model_pending, sizeof a->ui.model_pending, "hst-v6");
    a->ui.segment_at_send = a->view->current.info.id;
    a->view->status.error[0] = '\0';
    snprintf(a->view->status.setting.model, sizeof a->view->status.setting.model, "hst-v6");
    a->view->current.info.id++;
    follow_engine(&a->ui, a->view);
    assert_string_equal(a->ui.message, "model hst-v6 loaded");
    /* any other new error of the engine reaches the status line too */
    snprintf(a->view->status.error, sizeof a->view->status.error, "affinity: no PU 9999 on this machine");
    follow_engine(&a->ui, a->view);
    assert_string_equal(a->ui.message, "affinity: no PU 9999 on this machine");
    assert_int_equal(a->ui.message_role, ROLE_BAD);
    free_app(a);
}

/* ---- text ------------------------------------------------------------------------------- */

/* Multi-byte UTF-8 showed as "??" (one '?' a byte). */
static void test_prompt_shows_as_utf8(void **state)
{
    (void)state;
    static live_view view;
    tui_fixture_fill_view(&view);
    snprintf(view.prompt, sizeof view.prompt, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac ok");
    view.text_len = 3;
    struct theme theme;
    theme_init(&theme, 0, theme_utf8_wanted());
    char *text = tui_fixture_text(&view, NULL, 40, 120);
    const char *want = theme.glyphs.utf8 ? "h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac ok"
                                         : "h?llo w?rld ? ?? ok"; /* one '?' a character */
    if (!strstr(text, want))
        fail_msg("want '%s' in the text panel:\n%s", want, text);
    free(text);
}

static void test_status_message_fits_the_width_without_cutting_words(void **state)
{
    (void)state;
    static live_view view;
    tui_fixture_fill_view(&view);
    struct theme theme;
    theme_init(&theme, 0, theme_utf8_wanted());
    WINDOW *pad = newpad(1, 40);
    assert_non_null(pad);
    struct draw_ctx c = {.win = pad, .view = &view, .theme = &theme, .ui = NULL};
    int used = draw_message(&c, 0, 0, 40, ROLE_BAD, "snapshot: /very/long/directory/name/hstprof-snapshot-1.md and more words");
    char row[40 * MB_LEN_MAX + 1];
    draw_row_text(pad, 0, 40, row, sizeof row);
    const char *more = theme.glyphs.utf8 ? "\xe2\x80\xa6" : "...";
    char want[80];
    snprintf(want, sizeof want, "snapshot: hstprof-snapshot-1.md and %s", more);
    assert_string_equal(row, want);
    assert_true(used <= 40);
    delwin(pad);
}

/* ---- the help and the README ---------------------------------------------------------------- */

/* Adds the key names of a help line ("+ -      one thread more") to keys. */
static void add_help_keys(const char *line, char keys[][32], int *n)
{
    size_t end = strstr(line, "  ") ? (size_t)(strstr(line, "  ") - line) : strlen(line);
    char column[128];
    snprintf(column, sizeof column, "%.*s", (int)end, line);
    char *save = NULL;
    for (char *k = strtok_r(column, " ", &save); k && *n < 64; k = strtok_r(NULL, " ", &save))
        snprintf(keys[(*n)++], 32, "%s", k);
}

/* Adds the keys of a README row ("| `+` / `-` | ...") to keys. */
static void add_readme_keys(const char *row, char keys[][32], int *n)
{
    const char *start = row + 1, *bar = strchr(start, '|');
    char column[256];
    snprintf(column, sizeof column, "%.*s", (int)(bar - start), start);
    char *save = NULL;
    for (char *k = strtok_r(column, "/", &save); k && *n < 64; k = strtok_r(NULL, "/", &save)) {
        char clean[32] = "";
        size_t len = 0;
        for (const char *p = k; *p && len + 1 < sizeof clean; p++)
            if (*p != '`' && *p != ' ')
                clean[len++] = *p, clean[len] = '\0';
        snprintf(keys[(*n)++], 32, "%s", clean);
    }
}

static int lists_key(char keys[][32], int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(keys[i], key) == 0)
            return 1;
    return 0;
}

static void test_help_and_readme_list_the_same_keys(void **state)
{
    (void)state;
    char help[64][32], readme[64][32];
    int n_help = 0, n_readme = 0;
    for (int i = 0; i < help_line_count && help_lines[i][0]; i++)
        if (help_lines[i][0] != ' ') /* a continuation line */
            add_help_keys(help_lines[i], help, &n_help);
    for (int i = 0; i < help_line_count; i++)
        if (strlen(help_lines[i]) > 72) /* the help box's inside at 80 columns */
            fail_msg("help line %d is cut at 80 columns: '%s'", i, help_lines[i]);
    if (help_line_count + 2 > 24) /* with its border */
        fail_msg("the help has %d lines: its last ones are cut at 80x24", help_line_count);
    char *text = harness_slurp(harness_source("README.md"));
    const char *table = strstr(text, "| key | does |");
    assert_non_null(table);
    for (const char *row = strchr(table, '\n') + 1; row && row[0] == '|'; row = strchr(row, '\n') + 1)
        if (strncmp(row, "|---", 4) != 0)
            add_readme_keys(row, readme, &n_readme);
    assert_true(n_help >= 20);
    for (int i = 0; i < n_help; i++)
        if (!lists_key(readme, n_readme, help[i]))
            fail_msg("the help lists key '%s', the README's key table does not", help[i]);
    for (int i = 0; i < n_readme; i++)
        if (!lists_key(help, n_help, readme[i]))
            fail_msg("the README's key table lists key '%s', the help does not", readme[i]);
    /* the help's figure for the percentiles is the README's */
    for (int i = 0; i < help_line_count; i++) {
        const char *within = strstr(help_lines[i], "within ");
        char figure[32];
        if (within && sscanf(within, "within %31[0-9.]%%", figure) == 1) {
            strcat(figure, "%");
            char says[64];
            snprintf(says, sizeof says, "(within %s)", figure);
            if (!strstr(text, says))
                fail_msg("the help says percentiles are within %s, the README does not", figure);
        }
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_field_is_cut_at_80x24_or_other_sizes, tui_fixture_setup,
                                        tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_80x24_keeps_the_verdict_whole_and_latency_units, tui_fixture_setup,
                                        tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_chart_scales_to_the_95th_percentile_and_says_its_span, tui_fixture_setup,
                                        tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_segment_list_scrolls_with_the_keys, tui_fixture_setup,
                                        tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_hidden_panels_leave_their_room_to_the_others, tui_fixture_setup,
                                        tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_model_dialog_starts_on_the_running_model_and_takes_typing,
                                        tui_fixture_setup, tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_failed_load_is_an_error_on_the_status_line_that_fits, tui_fixture_setup,
                                        tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_prompt_shows_as_utf8, tui_fixture_setup, tui_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_status_message_fits_the_width_without_cutting_words, tui_fixture_setup,
                                        tui_fixture_teardown),
        cmocka_unit_test(test_help_and_readme_list_the_same_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
