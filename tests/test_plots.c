/* test_plots.c — the SVG plots: the committed examples (exports/examples/,
 * shown in the README) are exactly what the product renders from the data
 * beside them (golden: the same data give the same bytes); a panel per
 * thread count, a line per model; percentiles and setting changes marked;
 * axes with units; text escaped; a plot without data says why; the
 * Markdown shows the plots written beside it. xmllint parses them back in
 * tests/e2e_plots.sh.
 *
 * HSTPROF_UPDATE_EXAMPLES=1 build/tests/test_plots rewrites the examples
 * from their data (after a deliberate change of the drawing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "exports/atomic.h"
#include "exports/exports.h"
#include "tests/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *example(const char *name)
{
    char rel[128];
    json_error_t err;
    snprintf(rel, sizeof rel, "exports/examples/%s", name);
    json_t *o = json_load_file(harness_source(rel), 0, &err);
    if (!o)
        fail_msg("%s: %s", rel, err.text);
    return o;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

typedef char *(*plot_fn)(const json_t *);

/* The example's SVG against what the product renders from its data. */
static void golden(const char *data, plot_fn plot, const char *svg)
{
    json_t *o = example(data);
    char *text = plot(o), *again = plot(o), rel[128], err[512];
    assert_non_null(text);
    assert_string_equal(text, again); /* nothing but the data decides the bytes */
    snprintf(rel, sizeof rel, "exports/examples/%s", svg);
    const char *path = harness_source(rel);
    if (getenv("HSTPROF_UPDATE_EXAMPLES")) {
        if (export_write_atomic(path, text, strlen(text), err, sizeof err) != 0)
            fail_msg("%s", err);
    } else {
        char *committed = harness_slurp(path);
        if (strcmp(committed, text) != 0)
            fail_msg("%s differs from what %s renders (HSTPROF_UPDATE_EXAMPLES=1 rewrites it)", rel, data);
        free(committed);
    }
    free(text);
    free(again);
    json_decref(o);
}

static void test_examples_are_what_their_data_render(void **state)
{
    (void)state;
    golden("bench.json", export_bench_plot_svg, "bench.svg");
    golden("bench-seed.json", export_bench_plot_svg, "bench-seed.svg");
    golden("run.json", export_latency_plot_svg, "run-latency.svg");
    golden("run.json", export_throughput_plot_svg, "run-throughput.svg");
    golden("dashboard.json", export_latency_plot_svg, "dashboard-latency.svg");
    golden("dashboard.json", export_throughput_plot_svg, "dashboard-throughput.svg");
}

static void test_bench_plot_has_a_panel_per_thread_count_and_a_line_per_model(void **state)
{
    (void)state;
    json_t *r = json_pack("{s:s, s:s, s:{s:[i, i], s:[i, i, i], s:i}, s:[{s:s}, {s:s}], s:[]}", "kernel", "avx512",
                          "machine", "test machine", "settings", "seq", 128, 256, "threads", 1, 2, 4, "runs", 5,
                          "models", "name", "hst-v4", "name", "hst-<v6>&1", "runs");
    const char *models[2] = {"hst-v4", "hst-<v6>&1"};
    for (int m = 0; m < 2; m++)
        for (int t = 1; t <= 4; t *= 2)
            for (int s = 128; s <= 256; s *= 2)
                json_array_append_new(json_object_get(r, "runs"),
                                      json_pack("{s:s, s:i, s:i, s:f}", "model", models[m], "seq_len", s, "threads", t,
                                                "tps_median", 1000.0 * t + s + m));
    char *svg = export_bench_plot_svg(r);
    assert_int_equal(count(svg, ">1 thread</text>"), 1);
    assert_int_equal(count(svg, ">2 threads</text>"), 1);
    assert_int_equal(count(svg, ">4 threads</text>"), 1);
    assert_int_equal(count(svg, "<polyline"), 2 * 3);  /* a line per model in each panel */
    assert_int_equal(count(svg, "<circle"), 2 * 3 * 2 + 2); /* its points, and the legend's */
    assert_int_equal(count(svg, ">sequence length (tokens, log scale)</text>"), 3);
    assert_int_equal(count(svg, ">prefill tokens/s</text>"), 3);
    assert_int_equal(count(svg, ">hst-&lt;v6&gt;&amp;1</text>"), 1); /* the legend, escaped */
    assert_int_equal(count(svg, "prefers-color-scheme:dark"), 1);
    assert_int_equal(count(svg, "<rect class=\"bg\""), 1);
    free(svg);
    json_decref(r);
}

static void test_latency_plot_marks_the_percentiles_on_a_log_axis(void **state)
{
    (void)state;
    json_t *run = example("run.json");
    char *svg = export_latency_plot_svg(run);
    assert_int_equal(count(svg, ">p50 "), 1);
    assert_int_equal(count(svg, ">p95 "), 1);
    assert_int_equal(count(svg, ">p99 "), 1);
    assert_int_equal(count(svg, ">latency per token (ms, log scale)</text>"), 1);
    assert_int_equal(count(svg, ">decode steps</text>"), 1);
    assert_true(count(svg, "<rect class=\"bar\"") >= 5);
    free(svg);
    /* without a histogram: why, not an empty axis */
    json_object_del(run, "latency_histogram");
    json_object_set_new(json_object_get(run, "latency"), "p50_ms", json_null());
    json_object_set_new(json_object_get(run, "latency"), "p50_ms_why_not", json_string("prefill only (-n 0)"));
    svg = export_latency_plot_svg(run);
    assert_int_equal(count(svg, ">unavailable: prefill only (-n 0)</text>"), 1);
    assert_int_equal(count(svg, "<rect class=\"bar\""), 0);
    free(svg);
    json_decref(run);
}

static void test_throughput_plot_marks_every_setting_change(void **state)
{
    (void)state;
    json_t *snap = example("dashboard.json");
    const json_t *tl = json_object_get(snap, "throughput_timeline");
    char *svg = export_throughput_plot_svg(snap);
    assert_int_equal(count(svg, "class=\"chg\""), (int)json_array_size(json_object_get(tl, "changes")));
    assert_int_equal(count(svg, "<polyline"), (int)json_array_size(json_object_get(tl, "series")));
    assert_int_equal(count(svg, ">time since start (s)</text>"), 1);
    assert_int_equal(count(svg, ">decode tokens/s</text>"), 1);
    free(svg);
    json_decref(snap);
}

static void test_markdown_shows_the_plots_written_beside_it(void **state)
{
    (void)state;
    json_t *run = example("run.json");
    char paths[EXPORT_NOTES_FILES][1024], *texts[EXPORT_NOTES_FILES], err[512];
    assert_int_equal(export_notes_files(run, "out/notes.md", paths, texts, err, sizeof err), 0);
    assert_string_equal(paths[1], "out/notes-latency.svg");
    assert_string_equal(paths[2], "out/notes-throughput.svg");
    assert_non_null(strstr(texts[0], "![Per-token decode latency distribution](notes-latency.svg)"));
    assert_non_null(strstr(texts[0], "![Decode tokens/s over time](notes-throughput.svg)"));
    assert_int_equal(strncmp(texts[1], "<?xml", 5), 0);
    assert_null(json_object_get(run, "plots")); /* the caller's object is left as it was */
    for (int i = 0; i < EXPORT_NOTES_FILES; i++)
        free(texts[i]);
    json_decref(run);
    json_t *bench = example("bench.json");
    char bench_paths[2][1024], *bench_texts[2];
    assert_int_equal(export_bench_files(bench, "my report.md", bench_paths, bench_texts, err, sizeof err), 0);
    assert_string_equal(bench_paths[1], "my report.svg");
    assert_non_null(strstr(bench_texts[0], "![Prefill tokens/s against sequence length](<my report.svg>)"));
    free(bench_texts[0]);
    free(bench_texts[1]);
    json_decref(bench);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_are_what_their_data_render),
        cmocka_unit_test(test_bench_plot_has_a_panel_per_thread_count_and_a_line_per_model),
        cmocka_unit_test(test_latency_plot_marks_the_percentiles_on_a_log_axis),
        cmocka_unit_test(test_throughput_plot_marks_every_setting_change),
        cmocka_unit_test(test_markdown_shows_the_plots_written_beside_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
