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

/* status and one line on stderr holding want (and, when given, starting with prefix). */
static void expect_status_line(int status, const char *prefix, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void expect_status_line(int status, const char *prefix, const char *want, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    result r = run("%s", args);
    if (r.status != status || harness_count_lines(r.err) != 1 || !strstr(r.err, want) ||
        (prefix && strncmp(r.err, prefix, strlen(prefix)) != 0))
        fail_msg("'%s': status %d, stderr '%s' (want %d and one line '%s...%s')", args, r.status, r.err, status,
                 prefix ? prefix : "", want);
    harness_done(&r);
}

static void expect_usage_error(const char *args, const char *needle)
{
    expect_status_line(2, NULL, needle, "%s", args);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
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
    write_text(path, "garbage");
    result r = run("run --model %s", path);
    assert_int_equal(r.status, 1);
    assert_int_equal(harness_count_lines(r.err), 1);
    assert_non_null(strstr(r.err, "truncated"));
    harness_done(&r);
    r = run("model info %s/nope.safetensors", tmpdir);
    assert_int_equal(r.status, 2); /* names nothing: a bad value, as from every command */
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
    result r = run("bench --models hst-v4,hst-v3 --seq 16,32 --gen 16 --threads 1,2 --oversubscribe --warmup 0 --runs 3 "
                   "--format json");
    assert_int_equal(r.status, 0);
    json_t *o = json_loads(r.out, 0, NULL);
    assert_non_null(o);
    json_t *runs = json_object_get(o, "runs");
    assert_int_equal(json_array_size(runs), 2 * 2 * (2 + 1)); /* models x threads x (pp16, pp32, tg16) */
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

/* Each cell warms up for at least its --warmup runs (and until 0.1 s has
 * passed, which the settings say); --warmup 0 means none. The JSON says how
 * many runs each cell's warm-up took. */
static void check_bench_warmup(const char *warmup, double min_s, int at_least, int at_most)
{
    result r = run("bench --models hst-v4 --seq 8 --gen 4 --threads 1 --warmup %s --runs 1 --format json", warmup);
    assert_int_equal(r.status, 0);
    json_t *o = json_loads(r.out, 0, NULL);
    assert_non_null(o);
    assert_true(json_real_value(json_object_get(json_object_get(o, "settings"), "warmup_min_s")) == min_s);
    size_t i;
    json_t *cell;
    json_array_foreach(json_object_get(o, "runs"), i, cell)
    {
        json_int_t runs = json_integer_value(json_object_get(cell, "warmup_runs"));
        assert_true(runs >= at_least && runs <= at_most);
    }
    assert_int_equal(json_array_size(json_object_get(o, "runs")), 2); /* pp8, tg4 */
    json_decref(o);
    harness_done(&r);
}

static void test_bench_warms_each_cell_up(void **state)
{
    (void)state;
    check_bench_warmup("3", 0.1, 3, 1000);
    check_bench_warmup("0", 0.0, 0, 0);
}

static void test_bench_csv_and_markdown_shapes(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/bench.csv", tmpdir);
    result r = run("bench --seq 16,24 --gen 8 --warmup 0 --runs 2 --format csv -o %s", path);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, ""); /* the report went to the file */
    harness_done(&r);
    char *csv = harness_slurp(path);
    assert_int_equal(harness_count_lines(csv), 4); /* the header, pp16, pp24, tg8 */
    assert_non_null(strstr(csv, "model,label,mode,test,phase,n_prompt,n_gen,seq_len,threads"));
    free(csv);
    r = run("bench --seq 16 --gen 8 --warmup 0 --runs 2");
    assert_int_equal(r.status, 0);
    const char *sections[] = {"## Overall Summary", "## Detailed Results by Sequence Length",
                              "### Sequence Length: 16", "## Prefill and Generation", "## Performance Insights",
                              "## Model Details"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (!strstr(r.out, sections[i]))
            fail_msg("bench report lacks '%s'", sections[i]);
    harness_done(&r);
}

/* ---- one contract for every command ------------------------------------------------ */

/* A model that names nothing is a bad value (2) from every command; a file
 * that exists but does not load is a run-time error (1) from every command. */
static void test_exit_codes_are_one_rule(void **state)
{
    (void)state;
    char bad[512];
    snprintf(bad, sizeof bad, "%s/garbage.safetensors", tmpdir);
    write_text(bad, "garbage");
    expect_status_line(2, "hstprof run: ", "unknown model", "run -n 2 --model %s/nope.safetensors", tmpdir);
    expect_status_line(2, "hstprof bench: ", "unknown model", "bench --seq 8 --models hst-v4,%s/nope.st", tmpdir);
    expect_status_line(2, "hstprof model info: ", "unknown model", "model info %s/nope.safetensors", tmpdir);
    expect_status_line(2, "hstprof dashboard: ", "unknown model", "dashboard --screen-dump 1 --model no-such-model");
    expect_status_line(2, "hstprof model init: ", "unknown preset", "model init --preset hst-v9 -o %s/x.st", tmpdir);
    expect_status_line(1, "hstprof run: ", "truncated", "run -n 2 --model %s", bad);
    expect_status_line(1, "hstprof bench: ", "truncated", "bench --seq 8 --models %s", bad);
    expect_status_line(1, "hstprof model info: ", "truncated", "model info %s", bad);
    expect_status_line(1, "hstprof dashboard: ", "truncated", "dashboard --screen-dump 1 --model %s", bad);
}

/* Every error names its command once, and the flag once. */
static void test_errors_are_prefixed_with_the_command(void **state)
{
    (void)state;
    expect_status_line(2, "hstprof run: --events: unknown event 'bogus'", "see hstprof events", "run -n 2 --events bogus");
    expect_status_line(2, "hstprof bench: --events: unknown event 'bogus'", "see hstprof events",
                       "bench --seq 8 --runs 1 --warmup 0 --events bogus");
}

/* A saved profile's "temperature = 0" is greedy, and so is the flag. */
static void test_temperature_zero_is_greedy(void **state)
{
    (void)state;
    result a = run("run -n 12 --temperature 0 --print-tokens -q");
    result b = run("run -n 12 --greedy --print-tokens -q");
    if (a.status != 0)
        fail_msg("--temperature 0: exit %d, %s", a.status, a.err);
    assert_string_equal(a.out, b.out);
    harness_done(&a);
    harness_done(&b);
    expect_usage_error("run --temperature 0 --top-k 5", "--top-k needs --temperature above 0");
}

/* stderr is a file here: progress as plain lines, no \r, no escape sequence. */
static void test_progress_off_a_terminal_has_no_control_sequences(void **state)
{
    (void)state;
    result r = run("run -n 40 --progress -q");
    assert_int_equal(r.status, 0);
    if (!strstr(r.err, "[hst-v4] generated 40/40 tokens") || strchr(r.err, '\r') || strchr(r.err, '\033'))
        fail_msg("progress on a file: '%s'", r.err);
    assert_int_equal(harness_count_lines(r.err), 1);
    harness_done(&r);
}

/* A dump smaller than the dashboard can draw is refused before it starts. */
static void test_screen_dump_too_small_is_refused(void **state)
{
    (void)state;
    result r = run("dashboard --threads 1 --screen-dump 0.2 --size 30x8");
    if (r.status != 2 || harness_count_lines(r.err) != 1 || !strstr(r.err, "--screen-dump at 30x8") ||
        !strstr(r.err, "needs at least") || r.out[0])
        fail_msg("exit %d, stdout '%.100s', stderr '%s'", r.status, r.out, r.err);
    harness_done(&r);
}

/* --version: the Makefile's version and the commit of build/version.h. */
static void test_version_names_version_and_commit(void **state)
{
    (void)state;
    char *header = harness_slurp(harness_source("build/version.h"));
    char version[64] = "", commit[64] = "", want[200];
    const char *v = strstr(header, "HSTPROF_VERSION \""), *c = strstr(header, "HSTPROF_GIT_COMMIT \"");
    assert_non_null(v);
    assert_non_null(c);
    sscanf(v, "HSTPROF_VERSION \"%63[^\"]", version);
    sscanf(c, "HSTPROF_GIT_COMMIT \"%63[^\"]", commit);
    free(header);
    snprintf(want, sizeof want, "hstprof %s (commit %s)\n", version, commit);
    result r = run("--version");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, want);
    harness_done(&r);
}

/* "-" is standard output for a single output; never a file named "-". */
static void test_dash_means_standard_output(void **state)
{
    (void)state;
    result r = run("bench --seq 8 --runs 1 --warmup 0 --format csv -o -");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "model,label,mode,test,phase"));
    harness_done(&r);
    r = run("run -n 4 --export - --export-format json");
    assert_int_equal(r.status, 0);
    json_t *o = json_loads(r.out, 0, NULL); /* the export alone: it takes the summary's place */
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "tool")), "hstprof run");
    json_decref(o);
    harness_done(&r);
    expect_usage_error("run -n 4 --export - --export-format json --print-tokens", "both write to standard output");
    expect_usage_error("run -n 4 --export - --export-format json --trace -", "one output at most goes to standard output");
    char file[512], piped[512];
    snprintf(file, sizeof file, "%s/init-file.st", tmpdir);
    snprintf(piped, sizeof piped, "%s/stdout", tmpdir); /* where harness_run puts standard output */
    r = run("model init --preset hst-v3 -o %s", file);
    assert_int_equal(r.status, 0);
    harness_done(&r);
    r = run("model init --preset hst-v3 -o -");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "wrote standard output: hst-v3"));
    harness_done(&r);
    FILE *a = fopen(file, "rb"), *b = fopen(piped, "rb"); /* the same bytes as the file */
    assert_non_null(a);
    assert_non_null(b);
    int ca, cb;
    do {
        ca = fgetc(a);
        cb = fgetc(b);
    } while (ca == cb && ca != EOF);
    assert_int_equal(ca, cb);
    fclose(a);
    fclose(b);
    assert_false(harness_file_exists("-"));
}

/* model init over an existing file replaces it, and says so with its old size. */
static void test_model_init_says_it_replaces(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/replaced.st", tmpdir);
    write_text(path, "twelve bytes");
    result r = run("model init --preset hst-v4 -o %s", path);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "(replaced: it held 12 bytes)"));
    harness_done(&r);
}

/* A profile's model file is read from the profile's directory, wherever it
 * is used from; a missing one is "<profile>:<line>" and exit 2 everywhere. */
static void test_profile_model_paths(void **state)
{
    (void)state;
    char dir[512], ini[600], gone[600];
    snprintf(dir, sizeof dir, "%s/profiled", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    result r = run("model init --preset hst-v3 -o %s/weights.st", dir);
    assert_int_equal(r.status, 0);
    harness_done(&r);
    snprintf(ini, sizeof ini, "%s/mine.ini", dir);
    write_text(ini, "model = weights.st\nmodels = weights.st\nthreads = 1\n");
    r = run("run -p %s -n 4 -q --print-tokens", ini); /* the working directory is not dir */
    if (r.status != 0)
        fail_msg("run -p: exit %d, %s", r.status, r.err);
    harness_done(&r);
    r = run("bench -p %s --seq 8 --runs 1 --warmup 0 --format csv", ini);
    if (r.status != 0 || !strstr(r.out, "/profiled/weights.st,causal,pp8,prefill,8,0,8,1,"))
        fail_msg("bench -p: exit %d, %s%s", r.status, r.out, r.err);
    harness_done(&r);
    snprintf(gone, sizeof gone, "%s/gone.ini", dir);
    write_text(gone, "# a model that went away\nmodel = moved.st\nmodels = hst-v4,moved.st\n");
    char want[1400];
    snprintf(want, sizeof want, "%s:2: model = %s/moved.st: unknown model", gone, dir);
    expect_status_line(2, "hstprof run: ", want, "run -p %s -n 2", gone);
    expect_status_line(2, "hstprof dashboard: ", want, "dashboard -p %s --screen-dump 1", gone);
    snprintf(want, sizeof want, "%s:3: models entry %s/moved.st: unknown model", gone, dir);
    expect_status_line(2, "hstprof bench: ", want, "bench -p %s --seq 8", gone);
    r = run("run -p %s --model hst-v4 -n 2 -q", gone); /* the flag overrides the line */
    assert_int_equal(r.status, 0);
    harness_done(&r);
}

/* ---- the dashboard on a machine it has never seen ----------------------------------- */

/* No ceilings cached: generation starts at once, and the ceilings wait for
 * it (the Bandwidth panel says they are coming) instead of holding it. */
static void test_dashboard_generates_before_measuring_ceilings(void **state)
{
    (void)state;
    char cache[512], saved[1024];
    snprintf(cache, sizeof cache, "%s/fresh-cache", tmpdir);
    assert_int_equal(mkdir(cache, 0755), 0);
    snprintf(saved, sizeof saved, "%s", getenv("XDG_CACHE_HOME") ? getenv("XDG_CACHE_HOME") : "");
    setenv("XDG_CACHE_HOME", cache, 1);
    result r = run("dashboard --threads 1 --screen-dump 600 --screen-dump-when tokens=50 --size 140x45 --no-counters");
    setenv("XDG_CACHE_HOME", saved, 1);
    if (r.status != 0)
        fail_msg("exit %d, stderr: %s", r.status, r.err);
    if (!strstr(r.out, "state RUNNING") || !strstr(r.out, "ceilings: measuring (1 of "))
        fail_msg("want a running engine and ceilings still to come:\n%s", r.out);
    harness_done(&r);
}

/* The dashboard cut a prompt longer than the context to 511 tokens (one
 * decode a generation) where `run` refused it; both refuse it in one wording. */
static void test_dashboard_refuses_a_prompt_without_room_like_run(void **state)
{
    (void)state;
    char prompt[601];
    memset(prompt, 'a', 600);
    prompt[600] = '\0';
    const char *body = "the prompt (600 tokens) leaves no room to generate; hst-v4 has max_seq_len 512";
    expect_status_line(2, "hstprof dashboard: ", body, "dashboard --threads 1 --screen-dump 1 --prompt %s", prompt);
    expect_status_line(2, "hstprof run: ", body, "run --threads 1 --duration 1 --prompt %s", prompt);
    result r = run("dashboard --threads 1 --screen-dump 0.2 --size 80x24 --prompt %.500s", prompt); /* 500 < 512 */
    if (r.status != 0)
        fail_msg("a 500-token prompt: exit %d, %s", r.status, r.err);
    harness_done(&r);
}

/* --delay is htop's (tenths of a second, 1 to 100), also a profile key;
 * --hide starts with panels hidden. */
static void test_dashboard_delay_and_hide(void **state)
{
    (void)state;
    expect_status_line(2, "hstprof dashboard: ", "--delay expects a whole number from 1 to 100, got '0'",
                       "dashboard --delay 0 --screen-dump 1");
    expect_status_line(2, "hstprof dashboard: ", "--hide: unknown panel 'bogus' (panels: header, throughput",
                       "dashboard --hide timers,bogus --screen-dump 1");
    char path[512];
    snprintf(path, sizeof path, "%s/slow.ini", tmpdir);
    write_text(path, "delay = 0\n");
    expect_status_line(2, "hstprof dashboard: ", "slow.ini:1: delay expects a whole number from 1 to 100",
                       "dashboard -p %s --screen-dump 1", path);
    write_text(path, "delay = 30\nthreads = 1\n");
    result r = run("dashboard -p %s --delay 5 --hide timers,counters --screen-dump 0.3 --size 80x24", path);
    if (r.status != 0 || strstr(r.out, "Per-layer timers") || strstr(r.out, " Counters ") ||
        !strstr(r.out, " Throughput "))
        fail_msg("--hide timers,counters: exit %d, %s\n%s", r.status, r.err, r.out);
    harness_done(&r);
}

/* The 80x24: `segmen`, a p99 without its unit. Fields that do not
 * fit are left out whole: the latency row ends with a unit. */
static void test_dashboard_at_80x24_keeps_units(void **state)
{
    (void)state;
    result r = run("dashboard --threads 1 --screen-dump 60 --screen-dump-when tokens=100 --size 80x24 --no-ceilings");
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    const char *latency = strstr(r.out, "\nlatency ");
    if (!latency)
        fail_msg("no latency row:\n%s", r.out);
    char row[42];
    snprintf(row, sizeof row, "%.41s", latency + 1); /* the left column */
    char *nl = strchr(row, '\n');
    if (nl)
        *nl = '\0';
    size_t len = strlen(row);
    while (len > 0 && row[len - 1] == ' ')
        row[--len] = '\0';
    if (len < 3 || (strcmp(row + len - 3, " ms") != 0 && strcmp(row + len - 3, " us") != 0))
        fail_msg("the latency row does not end with its unit: '%s'\n%s", row, r.out);
    if (strstr(r.out, "segmen ") || strstr(r.out, "segmen\n"))
        fail_msg("a word cut:\n%s", r.out);
    harness_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors_are_one_line_exit_2),
        cmocka_unit_test(test_dashboard_generates_before_measuring_ceilings),
        cmocka_unit_test(test_dashboard_refuses_a_prompt_without_room_like_run),
        cmocka_unit_test(test_dashboard_delay_and_hide),
        cmocka_unit_test(test_dashboard_at_80x24_keeps_units),
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
        cmocka_unit_test(test_bench_warms_each_cell_up),
        cmocka_unit_test(test_exit_codes_are_one_rule),
        cmocka_unit_test(test_errors_are_prefixed_with_the_command),
        cmocka_unit_test(test_temperature_zero_is_greedy),
        cmocka_unit_test(test_progress_off_a_terminal_has_no_control_sequences),
        cmocka_unit_test(test_screen_dump_too_small_is_refused),
        cmocka_unit_test(test_version_names_version_and_commit),
        cmocka_unit_test(test_dash_means_standard_output),
        cmocka_unit_test(test_model_init_says_it_replaces),
        cmocka_unit_test(test_profile_model_paths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
