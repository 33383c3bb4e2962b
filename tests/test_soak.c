/* test_soak.c — issue 7.5: a long headless run (`hstprof run --duration S`)
 * keeps RSS flat after warm-up and its statistics in bounded memory. This is
 * the shortened version (seconds, not an hour) through the real binary
 * ($HSTPROF): the run restarts from the prompt whenever the context is full,
 * greedy cycles repeat the first one, and nothing grows with the length.
 * What needs the run to get somewhere (cycles, warm-up) is asked of runs
 * that -n ends after a number of tokens, --duration only bounding a hang: a
 * slow machine takes longer, never fails. */
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

static char tmpdir[256];

/* A per-token double would add 8 bytes x thousands of tokens a second; the
 * RSS after warm-up may move by a page or two of allocator noise, no more. */
#define RSS_GROWTH_LIMIT_BYTES (64 * 1024)

static int setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmpdir, sizeof tmpdir, "soak");
}

static int teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmpdir);
}

static json_t *run_json(const char *args)
{
    cli_result r = harness_run(tmpdir, "run --threads 1 --format json %s", args);
    if (r.status != 0)
        fail_msg("run %s: status %d, stderr '%s'", args, r.status, r.err);
    json_error_t jerr;
    json_t *o = json_loads(r.out, 0, &jerr);
    if (!o)
        fail_msg("run %s: stdout is not JSON (%s)", args, jerr.text);
    harness_done(&r);
    return o;
}

static double number(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("'%s' is not a number", key);
    return json_number_value(v);
}

static const json_t *soak_of(const json_t *o)
{
    const json_t *k = json_object_get(o, "soak");
    assert_non_null(k);
    return k;
}

/* Everything a soak run reports hangs together: every token is either a
 * decode step or the first token of a cycle, latencies cover every step.
 * capped: -n ended it before duration_s. */
static void check_consistent(const json_t *o, double duration_s, int capped)
{
    const json_t *k = soak_of(o), *lat = json_object_get(o, "latency");
    double tokens = number(o, "tokens_generated"), cycles = number(k, "cycles");
    assert_true(number(o, "decode_tokens") == tokens - cycles);
    assert_true(number(lat, "samples") == tokens - cycles);
    assert_string_equal(json_string_value(json_object_get(lat, "method")),
                        "log-bucketed histogram over every decode step, within 0.5%");
    assert_true(number(lat, "min_ms") <= number(lat, "p50_ms"));
    assert_true(number(lat, "p50_ms") <= number(lat, "p99_ms"));
    assert_true(number(lat, "p99_ms") <= number(lat, "max_ms"));
    double elapsed = number(k, "elapsed_s");
    if (capped) {
        assert_true(elapsed < duration_s);
    } else {
        assert_true(elapsed >= duration_s);
        assert_true(elapsed < duration_s + 5); /* stops at the first token past the end */
    }
    int max_seq = (int)number(json_object_get(o, "config"), "max_seq_len");
    assert_true(json_array_size(json_object_get(o, "generated")) <= (size_t)max_seq);
    assert_true(json_array_size(json_object_get(k, "rss_timeline")) <= 120);
}

static void test_soak_restarts_and_keeps_rss_flat(void **state)
{
    (void)state;
    json_t *o = run_json("--duration 600 -n 1000");
    check_consistent(o, 600, 1);
    const json_t *k = soak_of(o);
    /* hst-v4 has 512 positions: 1000 tokens after a 39-token prompt fill them 3 times. */
    assert_true(number(k, "cycles") >= 3);
    assert_true(json_is_true(json_object_get(k, "cycles_identical")));
    assert_true(number(k, "cycles_compared") == number(k, "cycles") - 1 ||
                number(k, "cycles_compared") == number(k, "cycles") - 2); /* the last cycle may be cut short */
    double growth = number(k, "rss_growth_after_warmup_bytes");
    if (growth > RSS_GROWTH_LIMIT_BYTES)
        fail_msg("RSS grew by %.0f bytes after warm-up (limit %d)", growth, RSS_GROWTH_LIMIT_BYTES);
    assert_true(json_array_size(json_object_get(k, "rss_timeline")) >= 20);
    json_decref(o);
}

/* Statistics cost the same for a short and a longer run. */
static void test_soak_statistics_do_not_grow(void **state)
{
    (void)state;
    json_t *short_run = run_json("--duration 600 -n 300");
    json_t *long_run = run_json("--duration 600 -n 700");
    check_consistent(short_run, 600, 1);
    check_consistent(long_run, 600, 1);
    assert_true(number(soak_of(short_run), "statistics_bytes") == number(soak_of(long_run), "statistics_bytes"));
    assert_true(number(long_run, "tokens_generated") > number(short_run, "tokens_generated"));
    json_decref(short_run);
    json_decref(long_run);
}

/* Without -n, --duration alone ends the run, at the first token past it. */
static void test_soak_stops_at_its_duration(void **state)
{
    (void)state;
    json_t *o = run_json("--duration 1");
    check_consistent(o, 1, 0);
    json_decref(o);
}

/* -n still caps a soak run; sampled cycles are not compared. */
static void test_soak_token_cap_and_sampling(void **state)
{
    (void)state;
    json_t *o = run_json("--duration 600 -n 1500 --temperature 0.8 --top-k 40");
    assert_true(number(o, "tokens_generated") == 1500);
    const json_t *k = soak_of(o);
    assert_true(number(k, "cycles") >= 3); /* 1500 tokens do not fit in 512 positions */
    assert_true(json_is_null(json_object_get(k, "cycles_identical")));
    assert_non_null(strstr(json_string_value(json_object_get(k, "cycles_identical_why_not")), "sampled"));
    json_decref(o);
}

/* The performance notes of a soak run say how it held up. */
static void test_soak_notes(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/soak.md", tmpdir);
    cli_result r = harness_run(tmpdir, "run --threads 1 --duration 600 -n 1000 -q --export %s", path);
    assert_int_equal(r.status, 0);
    harness_done(&r);
    char *md = harness_slurp(path);
    assert_non_null(strstr(md, "## Soak Run"));
    assert_non_null(strstr(md, "- Greedy cycles repeat the first: **yes**"));
    assert_non_null(strstr(md, "- RSS growth after warm-up (highest - first): **"));
    /* Every figure of the section is measured in a run past its warm-up. */
    char *section = strstr(md, "## Soak Run"), *next = strstr(section + 1, "\n## ");
    assert_non_null(next);
    *next = '\0';
    assert_null(strstr(section, "unavailable"));
    free(md);
}

static void expect_error(const char *args, int status, const char *needle)
{
    cli_result r = harness_run(tmpdir, "%s", args);
    if (r.status != status || harness_count_lines(r.err) != 1 || !strstr(r.err, needle))
        fail_msg("'%s': status %d, stderr '%s' (want %d and one line with '%s')", args, r.status, r.err, status,
                 needle);
    harness_done(&r);
}

static void test_soak_bad_settings(void **state)
{
    (void)state;
    expect_error("run --duration 0", 2, "--duration");
    expect_error("run --duration -5", 2, "--duration");
    expect_error("run --duration soon", 2, "--duration");
    expect_error("run --duration 5 --trace t.csv", 2, "cannot be combined with --duration");
    /* A prompt that fills the whole context leaves nothing to restart into. */
    char args[8192] = "run --duration 1 --prompt-tokens 1";
    for (int i = 1; i < 512; i++)
        strcat(args, ",1");
    expect_error(args, 2, "leaves no room to generate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soak_restarts_and_keeps_rss_flat),
        cmocka_unit_test(test_soak_statistics_do_not_grow),
        cmocka_unit_test(test_soak_stops_at_its_duration),
        cmocka_unit_test(test_soak_token_cap_and_sampling),
        cmocka_unit_test(test_soak_notes),
        cmocka_unit_test(test_soak_bad_settings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
