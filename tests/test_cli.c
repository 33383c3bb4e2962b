/* test_cli.c — the command-line contract, driven through the real binary
 * ($HSTPROF, default ./hstprof): outputs parsed back, exit statuses (2 usage,
 * 1 run-time), one-line errors, and no partial output file on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

typedef cli_result result;

static result run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static result run(const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return harness_run(tmpdir, "%s", args);
}

static void expect_usage_error(const char *args, const char *needle)
{
    result r = run("%s", args);
    if (r.status != 2 || harness_count_lines(r.err) != 1 || !strstr(r.err, needle))
        fail_msg("'%s': status %d, stderr '%s' (want 2 and one line with '%s')", args, r.status, r.err, needle);
    harness_done(&r);
}

static int setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmpdir, sizeof tmpdir, "cli");
}

static int teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmpdir);
}

/* ---- usage errors: exit 2, one line naming the problem ----------------------- */

static void test_usage_errors_are_one_line_exit_2(void **state)
{
    (void)state;
    expect_usage_error("frobnicate", "unknown command");
    expect_usage_error("run --bogus", "unknown option --bogus");
    expect_usage_error("run --seeed 3", "did you mean --seed");
    expect_usage_error("run --threads 0", "--threads");
    expect_usage_error("run --threads two", "--threads");
    expect_usage_error("run -n -1", "--tokens");
    expect_usage_error("run --prompt-tokens 1,x,3", "--prompt-tokens");
    expect_usage_error("run --prompt-tokens 1,99999", "vocabulary");
    expect_usage_error("run --greedy --temperature 0.5", "--greedy");
    expect_usage_error("run --top-k 5", "--temperature");
    expect_usage_error("run --prompt hi --prompt-tokens 1", "not both");
    expect_usage_error("run -n 600", "max_seq_len");
    expect_usage_error("run --kernel sse9", "--kernel");
    expect_usage_error("run --seed", "needs a value");
    expect_usage_error("bench --seq 1024", "max_seq_len");
    expect_usage_error("bench --seq 12a", "--seq");
    expect_usage_error("bench --format xml", "--format");
    expect_usage_error("bench --runs 0", "--runs");
    expect_usage_error("model", "usage");
    expect_usage_error("model init --preset hst-v9 -o x.safetensors", "unknown preset");
    expect_usage_error("model init --preset hst-v4", "-o FILE");
    expect_usage_error("model info", "model file");
    expect_usage_error("run --affinity 0,99", "--affinity");
    expect_usage_error("run --affinity diagonal", "--affinity");
    expect_usage_error("run --events no-such-event", "--events");
    expect_usage_error("bench --affinity 99 --seq 16", "--affinity");
}

/* Counters, the memory window and the roofline are in run's JSON; a metric
 * that cannot be measured is null with its reason, never 0. */
static void test_run_json_carries_probes(void **state)
{
    (void)state;
    result r = run("run -n 30 --affinity compact --format json");
    assert_int_equal(r.status, 0);
    json_t *o = json_loads(r.out, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "affinity")), "compact");
    json_t *counters = json_object_get(o, "counters");
    assert_non_null(json_string_value(json_object_get(counters, "summary")));
    json_t *events = json_object_get(json_object_get(counters, "decode"), "events");
    assert_true(json_array_size(events) > 0);
    size_t i;
    json_t *e;
    int software_counted = 0;
    json_array_foreach(events, i, e)
    {
        json_t *v = json_object_get(e, "value");
        if (json_is_null(v))
            assert_non_null(json_string_value(json_object_get(e, "value_why_not")));
        else if (strcmp(json_string_value(json_object_get(e, "name")), "task-clock") == 0)
            software_counted = json_real_value(v) > 0;
    }
    assert_true(software_counted); /* software events work even without a PMU */
    json_t *mem = json_object_get(o, "memory");
    assert_true(json_real_value(json_object_get(mem, "rss_peak_bytes")) > 1e6);
    assert_true(json_real_value(json_object_get(mem, "kv_cache_bytes")) > 0);
    json_t *roof = json_object_get(json_object_get(o, "roofline"), "decode");
    assert_true(json_real_value(json_object_get(roof, "achieved_bytes_per_s")) > 0);
    json_decref(o);
    harness_done(&r);
    r = run("run -n 10 --no-probes --format json");
    assert_int_equal(r.status, 0);
    o = json_loads(r.out, 0, NULL);
    assert_true(json_is_null(json_object_get(o, "memory")));
    json_decref(o);
    harness_done(&r);
}

static void test_help_on_every_command(void **state)
{
    (void)state;
    const char *cmds[] = {"--help", "run --help", "bench --help", "model --help", "model init --help",
                          "model info --help", "events --help", "topo --help", "ceilings --help"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        result r = run("%s", cmds[i]);
        if (r.status != 0 || !strstr(r.out, "usage"))
            fail_msg("'%s': status %d, stdout '%.80s'", cmds[i], r.status, r.out);
        harness_done(&r);
    }
}

/* ---- run ------------------------------------------------------------------------ */

static void test_run_json_summary_is_consistent(void **state)
{
    (void)state;
    result r = run("run -n 40 --threads 2 --oversubscribe --format json");
    assert_int_equal(r.status, 0);
    json_error_t jerr;
    json_t *o = json_loads(r.out, 0, &jerr);
    if (!o)
        fail_msg("not JSON: %s", jerr.text);
    assert_string_equal(json_string_value(json_object_get(o, "preset")), "hst-v4");
    assert_int_equal(json_integer_value(json_object_get(o, "params_total")), 4038508);
    assert_int_equal(json_integer_value(json_object_get(o, "decode_tokens")), 39);
    assert_int_equal(json_array_size(json_object_get(o, "generated")), 40);
    json_t *lat = json_object_get(o, "latency");
    double p50 = json_real_value(json_object_get(lat, "p50_ms")), p95 = json_real_value(json_object_get(lat, "p95_ms"));
    double p99 = json_real_value(json_object_get(lat, "p99_ms"));
    assert_true(p50 > 0 && p50 <= p95 && p95 <= p99);
    assert_true(json_real_value(json_object_get(o, "prefill_tok_per_s")) > 0);
    assert_int_equal(strlen(json_string_value(json_object_get(o, "quality_hash"))), 16);
    /* How the two threads were used is a fact of the run, whatever the machine's load. */
    json_t *tc = json_object_get(o, "thread_contention");
    assert_true(json_is_object(tc));
    json_int_t jobs = json_integer_value(json_object_get(tc, "jobs"));
    assert_true(jobs > 0);
    assert_true(json_integer_value(json_object_get(tc, "jobs_on_one_thread")) <= jobs);
    assert_true(json_is_boolean(json_object_get(tc, "on_one_thread_now")));
    assert_true(json_is_real(json_object_get(tc, "share_on_one_thread")));
    json_decref(o);
    harness_done(&r);
}

static void test_run_text_summary_has_every_figure(void **state)
{
    (void)state;
    result r = run("run -n 20");
    assert_int_equal(r.status, 0);
    const char *want[] = {"prefill ", "tok/s", "decode ", "ttft", "p50", "p95", "p99", "peak RSS", "hash "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(r.out, want[i]))
            fail_msg("summary lacks '%s':\n%s", want[i], r.out);
    harness_done(&r);
}

static void test_print_tokens_identical_across_threads(void **state)
{
    (void)state;
    result a = run("run -n 24 --threads 1 --print-tokens -q --temperature 0.8 --top-k 20 --seed 5");
    result b = run("run -n 24 --threads 2 --oversubscribe --print-tokens -q --temperature 0.8 --top-k 20 --seed 5");
    /* 3 threads share the PUs of a 2-PU machine: allowed with --oversubscribe (issue 7). */
    result c = run("run -n 24 --threads 3 --oversubscribe --print-tokens -q --temperature 0.8 --top-k 20 --seed 5");
    assert_int_equal(a.status, 0);
    assert_int_equal(harness_count_lines(a.out), 1);
    int commas = 0;
    for (const char *p = a.out; *p; p++)
        commas += *p == ',';
    assert_int_equal(commas, 23);
    assert_string_equal(a.out, b.out);
    assert_string_equal(a.out, c.out);
    harness_done(&a);
    harness_done(&b);
    harness_done(&c);
}

static void test_prefill_only_with_n_0(void **state)
{
    (void)state;
    result r = run("run -n 0 --prompt-tokens 1,2,3,4 --format json");
    assert_int_equal(r.status, 0);
    json_t *o = json_loads(r.out, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "prompt_tokens")), 4);
    assert_int_equal(json_array_size(json_object_get(o, "generated")), 0);
    json_decref(o);
    harness_done(&r);
}

static void test_dump_logits_shape_and_failure(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/logits.f32", tmpdir);
    result r = run("run -n 1 --prompt-tokens 5,6,7 --dump-logits %s", path);
    assert_int_equal(r.status, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3 * 5000 * 4);
    harness_done(&r);
    /* A directory that does not exist is a bad setting, found before the run (issue 7). */
    r = run("run -n 1 --dump-logits %s/missing/dir/x.f32", tmpdir);
    assert_int_equal(r.status, 2);
    assert_int_equal(harness_count_lines(r.err), 1);
    assert_non_null(strstr(r.err, "does not exist"));
    harness_done(&r);
}

/* ---- model init / info ----------------------------------------------------------- */

static void test_model_init_info_and_run_from_file(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/v61.safetensors", tmpdir);
    result r = run("model init --preset hst-v6.1 --seed 3 -o %s", path);
    assert_int_equal(r.status, 0);
    harness_done(&r);
    r = run("model info %s", path);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "hst-v6.1"));
    assert_non_null(strstr(r.out, "16,886,166"));
    assert_non_null(strstr(r.out, "3,357,889"));
    assert_non_null(strstr(r.out, "speculative_verifier.proj.weight"));
    harness_done(&r);
    result a = run("run --model %s -n 12 -q --print-tokens", path);
    result b = run("run --model hst-v6.1 --seed 3 -n 12 -q --print-tokens");
    assert_int_equal(a.status, 0);
    assert_string_equal(a.out, b.out); /* the file holds exactly the preset's weights */
    harness_done(&a);
    harness_done(&b);
}

static void test_bad_model_files_exit_1_without_output(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/bad.safetensors", tmpdir);
    FILE *f = fopen(path, "wb");
    fputs("garbage", f);
    fclose(f);
    result r = run("run --model %s", path);
    assert_int_equal(r.status, 1);
    assert_int_equal(harness_count_lines(r.err), 1);
    assert_non_null(strstr(r.err, "truncated"));
    harness_done(&r);
    r = run("model info %s/nope.safetensors", tmpdir);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "unknown model"));
    harness_done(&r);
    r = run("model init --preset hst-v4 -o %s/missing/x.safetensors", tmpdir);
    assert_int_equal(r.status, 2); /* checked before the weights are built (issue 7) */
    assert_int_equal(harness_count_lines(r.err), 1);
    harness_done(&r);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing", tmpdir);
    assert_false(harness_file_exists(missing));
}

/* ---- bench ---------------------------------------------------------------------------- */

static void test_bench_json_counts_every_cell(void **state)
{
    (void)state;
    result r = run("bench --models hst-v4,hst-v3 --seq 16,32 --threads 1,2 --oversubscribe --warmup 0 --runs 3 --format json");
    assert_int_equal(r.status, 0);
    json_t *o = json_loads(r.out, 0, NULL);
    assert_non_null(o);
    json_t *runs = json_object_get(o, "runs");
    assert_int_equal(json_array_size(runs), 2 * 2 * 2);
    size_t i;
    json_t *cell;
    json_array_foreach(runs, i, cell)
    {
        double mn = json_real_value(json_object_get(cell, "tps_min"));
        double med = json_real_value(json_object_get(cell, "tps_median"));
        double mx = json_real_value(json_object_get(cell, "tps_max"));
        assert_true(mn > 0 && mn <= med && med <= mx);
        assert_int_equal(json_array_size(json_object_get(cell, "samples_ms")), 3);
    }
    json_decref(o);
    harness_done(&r);
}

static void test_bench_csv_and_markdown_shapes(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/bench.csv", tmpdir);
    result r = run("bench --seq 16,24 --warmup 0 --runs 2 --format csv -o %s", path);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, ""); /* the report went to the file */
    harness_done(&r);
    char *csv = harness_slurp(path);
    assert_int_equal(harness_count_lines(csv), 3);
    assert_non_null(strstr(csv, "model,seq_len,threads"));
    free(csv);
    r = run("bench --seq 16 --warmup 0 --runs 2");
    assert_int_equal(r.status, 0);
    const char *sections[] = {"## Overall Summary", "## Detailed Results by Sequence Length",
                              "### Sequence Length: 16", "## Performance Insights", "## Model Details"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (!strstr(r.out, sections[i]))
            fail_msg("bench report lacks '%s'", sections[i]);
    harness_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors_are_one_line_exit_2),
        cmocka_unit_test(test_help_on_every_command),
        cmocka_unit_test(test_run_json_summary_is_consistent),
        cmocka_unit_test(test_run_json_carries_probes),
        cmocka_unit_test(test_run_text_summary_has_every_figure),
        cmocka_unit_test(test_print_tokens_identical_across_threads),
        cmocka_unit_test(test_prefill_only_with_n_0),
        cmocka_unit_test(test_dump_logits_shape_and_failure),
        cmocka_unit_test(test_model_init_info_and_run_from_file),
        cmocka_unit_test(test_bad_model_files_exit_1_without_output),
        cmocka_unit_test(test_bench_json_counts_every_cell),
        cmocka_unit_test(test_bench_csv_and_markdown_shapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
