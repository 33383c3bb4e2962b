/* test_honest_figures.c — what the reports say about figures, through the
 * real binary ($HSTPROF): the roofline of `run` compares a phase's bytes
 * with the read ceiling of the memory level its working set fits in, names
 * it, and shows no share above 100% (the reason instead); a ceilings file of
 * an earlier format says to measure again; no JSON export has a value and
 * a why-not together, an empty reason or a null without one; no Markdown
 * says "unavailable" without a reason; `run -n 0` prints no decode figures;
 * and the first frame of the dashboard shows no zeros for unknowns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"
#include "tests/figures_check.h"

#include "probes/ceilings.h"
#include "probes/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIB (1024ull)
#define MIB (1024ull * 1024ull)

static char tmpdir[256];

static cli_result run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cli_result run(const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return harness_run(tmpdir, "%s", args);
}

static int setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmpdir, sizeof tmpdir, "honest");
}

static int teardown(void **state)
{
    (void)state;
    char path[1024], err[PROBES_WHY_MAX];
    if (probes_ceilings_cache_path(path, sizeof path, err, sizeof err) == 0)
        remove(path); /* each test writes the ceilings it needs */
    return harness_remove_tmpdir(tmpdir);
}

/* Ceilings of a 2-core machine (L1d 48 KiB and L2 2 MiB per core, one L3
 * of l3 bytes, DRAM), every read ceiling `read`, cached where the binary
 * looks: the run's figures do not depend on this machine's speed. */
static void cache_ceilings(uint64_t l3, double read, int l3_unusable)
{
    probes_ceilings *c = calloc(1, sizeof *c);
    assert_non_null(c);
    probes_machine_key(c->machine_key, sizeof c->machine_key);
    snprintf(c->cpu_model, sizeof c->cpu_model, "Test CPU");
    snprintf(c->fma_isa, sizeof c->fma_isa, "avx2");
    c->pu_count = 2;
    c->memory_bytes = 24ull << 30;
    const char *names[] = {"L1d", "L2", "L3", "DRAM"};
    const uint64_t sizes[] = {48 * KIB, 2 * MIB, l3, 0};
    const int instances[] = {2, 2, 1, 0}, cores[] = {1, 1, 2, 0};
    c->n_levels = 4;
    for (int l = 0; l < 4; l++) {
        snprintf(c->levels[l].name, sizeof c->levels[l].name, "%s", names[l]);
        c->levels[l].size_bytes = sizes[l];
        c->levels[l].instances = instances[l];
        c->levels[l].cores_per_instance = cores[l];
    }
    if (l3_unusable) { /* half of it, and every smaller part, reads as slowly as DRAM */
        c->levels[2].n_checks = 4;
        for (int i = 0; i < 4; i++) {
            c->levels[2].check_set_bytes[i] = (l3 / 2) >> i;
            c->levels[2].check_read_bytes_per_s[i] = probes_metric_of(read);
        }
    }
    c->n_rows = 2;
    for (int r = 0; r < 2; r++) {
        c->rows[r].threads = r + 1;
        c->rows[r].triad_bytes_per_s = probes_metric_of(1e6); /* far below any run: 1 MB/s */
        c->rows[r].fma_flops_per_s = probes_metric_of(1e15);
        c->rows[r].matmul_flops_per_s = probes_metric_of(1e15);
        for (int l = 0; l < 4; l++)
            c->rows[r].read_bytes_per_s[l] = probes_metric_of(read);
    }
    char path[1024], err[1400];
    assert_int_equal(probes_ceilings_cache_path(path, sizeof path, err, sizeof err), 0);
    if (probes_ceilings_save(path, c, err, sizeof err) != 0)
        fail_msg("%s", err);
    free(c);
}

/* Every "N% of" in text is at most 100. */
static void expect_no_share_above_100(const char *text)
{
    const char *share = text_share_above_100(text);
    if (share)
        fail_msg("a share above 100%%: '%.12s' in\n%s", share, text);
}

/* ---- the roofline ------------------------------------------------------------------------ */

/* hst-v4 reads ~8 MiB a decode step: more than the L2s, less than a 32 MiB
 * L3. Ceilings of 1 PB/s: a share, of the L3's ceiling, named. */
static void test_run_compares_bytes_with_the_level_the_working_set_fits_in(void **state)
{
    (void)state;
    cache_ceilings(32 * MIB, 1e15, 0);
    cli_result r = run("run -n 16 --threads 1");
    assert_int_equal(r.status, 0);
    expect_no_share_above_100(r.out);
    if (!strstr(r.out, "decode   L3-resident (") || !strstr(r.out, "% of the L3 read ceiling (1000000.0 GB/s)"))
        fail_msg("want the decode bytes against the L3 read ceiling:\n%s", r.out);
    assert_null(strstr(r.out, "triad"));
    harness_done(&r);
    r = run("run -n 16 --threads 1 --format json");
    json_t *o = json_loads(r.out, 0, NULL);
    assert_non_null(o);
    json_t *decode = json_object_get(json_object_get(o, "roofline"), "decode");
    assert_string_equal(json_string_value(json_object_get(decode, "level")), "L3");
    assert_true(json_number_value(json_object_get(decode, "working_set_bytes")) > 2 * MIB);
    assert_true(json_number_value(json_object_get(decode, "bandwidth_pct")) <= 100);
    json_decref(o);
    harness_done(&r);
}

/* Read ceilings of 1 MB/s, far below any run: no share, the reason. */
static void test_run_above_a_ceiling_gives_the_reason_not_a_share(void **state)
{
    (void)state;
    cache_ceilings(32 * MIB, 1e6, 0);
    cli_result r = run("run -n 16 --threads 1");
    assert_int_equal(r.status, 0);
    expect_no_share_above_100(r.out);
    if (!strstr(r.out, "above the L3 read ceiling (0.0 GB/s)"))
        fail_msg("want the reason for no share:\n%s", r.out);
    harness_done(&r);
}

/* hwloc's 1016 MiB L3 that no part of reads faster than DRAM: not used, so
 * a working set past the L2 has no ceiling, and the run says why. */
static void test_run_past_a_suspicious_cache_says_no_ceiling_applies(void **state)
{
    (void)state;
    cache_ceilings(1016 * MIB, 29e9, 1);
    cli_result r = run("run -n 16 --threads 1");
    assert_int_equal(r.status, 0);
    expect_no_share_above_100(r.out);
    if (!strstr(r.out, "no read ceiling applies") || !strstr(r.out, "the L3's size is suspicious"))
        fail_msg("want why no ceiling applies:\n%s", r.out);
    harness_done(&r);
    r = run("ceilings --cached");
    assert_int_equal(r.status, 0);
    if (!strstr(r.out, "L3: suspicious size: hwloc's L3 of 1016 MiB") || !strstr(r.out, "not used"))
        fail_msg("want the suspicious L3 reported:\n%s", r.out);
    harness_done(&r);
}

/* A cache of the format before read ceilings per level: runs say to
 * measure again rather than "no ceilings measured". */
static void test_run_with_an_earlier_ceilings_file_says_measure_again(void **state)
{
    (void)state;
    char path[1024], err[PROBES_WHY_MAX];
    assert_int_equal(probes_ceilings_cache_path(path, sizeof path, err, sizeof err), 0);
    cache_ceilings(32 * MIB, 1e15, 0); /* makes the directory */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"format\": \"hstprof-ceilings-1\", \"rows\": [{\"threads\": 1, \"triad_bytes_per_s\": 3e10}]}\n", f);
    fclose(f);
    cli_result r = run("run -n 4 --threads 1");
    assert_int_equal(r.status, 0);
    if (!strstr(r.out, "ceilings of an earlier hstprof") || !strstr(r.out, "run 'hstprof ceilings'"))
        fail_msg("want a note to measure again:\n%s", r.out);
    harness_done(&r);
}

/* ---- unknowns ---------------------------------------------------------------------------- */

static void expect_json_keeps_the_rule(const char *label, const char *text)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    if (!o)
        fail_msg("%s: not JSON: %s", label, jerr.text);
    char problem[1024];
    if (json_unknowns_check(o, problem, sizeof problem) != 0)
        fail_msg("%s: %s", label, problem);
    json_decref(o);
}

static void expect_command_json_keeps_the_rule(const char *args)
{
    cli_result r = run("%s", args);
    if (r.status != 0)
        fail_msg("'%s': exit %d: %s", args, r.status, r.err);
    expect_json_keeps_the_rule(args, r.out);
    harness_done(&r);
}

static void expect_file_json_keeps_the_rule(const char *path)
{
    char *text = harness_slurp(path);
    expect_json_keeps_the_rule(path, text);
    free(text);
}

/* run (with and without decode steps, probes and ceilings), its export,
 * bench, layerbench, the ceilings file and the system object. The
 * dashboard's snapshot is walked in test_live. */
static void test_every_json_export_keeps_the_rule_for_unknowns(void **state)
{
    (void)state;
    static const char *const commands[] = {
        "run -n 16 --format json",        "run -n 0 --format json",
        "run -n 1 --format json",         "run -n 8 --no-probes --format json",
        "bench --seq 16 --runs 1 --warmup 0 --format json",
        "layerbench --seq 64 --runs 1 --warmup 0 --format json",
    };
    for (int with_ceilings = 0; with_ceilings < 2; with_ceilings++) {
        if (with_ceilings)
            cache_ceilings(1016 * MIB, 29e9, 1); /* a level not used, shares above ceilings: every why */
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            expect_command_json_keeps_the_rule(commands[i]);
    }
    char path[1024], err[PROBES_WHY_MAX];
    snprintf(path, sizeof path, "%s/export.json", tmpdir);
    cli_result r = run("run -n 8 -q --export %s", path);
    assert_int_equal(r.status, 0);
    harness_done(&r);
    expect_file_json_keeps_the_rule(path);
    assert_int_equal(probes_ceilings_cache_path(path, sizeof path, err, sizeof err), 0);
    expect_file_json_keeps_the_rule(path);
    json_t *system = probes_system_json();
    char *text = json_dumps(system, 0);
    expect_json_keeps_the_rule("probes_system_json", text);
    free(text);
    json_decref(system);
}

/* The checker itself: each breach it exists for is found. */
static void test_the_unknowns_check_finds_each_breach(void **state)
{
    (void)state;
    static const struct {
        const char *json, *breach;
    } cases[] = {
        {"{\"kv_cache_bytes\": 4194304, \"kv_cache_bytes_why_not\": \"x\"}", "a value and a why-not together"},
        {"{\"a\": null, \"a_why_not\": \"\"}", "an empty reason"},
        {"{\"b\": {\"a\": null}}", "b.a: null without a why-not"},
        {"{\"e\": [{\"name\": \"cycles\", \"backend\": \"perf\", \"raw\": 0, \"value\": null, \"value_why_not\": "
         "\"no PMU\"}]}",
         "e[0]: an event that counted nothing"},
    };
    char problem[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = json_loads(cases[i].json, 0, NULL);
        assert_non_null(o);
        assert_int_equal(json_unknowns_check(o, problem, sizeof problem), -1);
        if (!strstr(problem, cases[i].breach))
            fail_msg("case %zu: '%s', want '%s'", i, problem, cases[i].breach);
        json_decref(o);
    }
    json_t *o = json_loads("{\"a\": null, \"a_why_not\": \"no PMU\", \"b\": 1}", 0, NULL);
    assert_int_equal(json_unknowns_check(o, problem, sizeof problem), 0);
    json_decref(o);
}

/* Markdown: every "unavailable:" has a reason after it. */
static void test_markdown_never_says_unavailable_without_a_reason(void **state)
{
    (void)state;
    static const char *const runs[] = {"-n 16", "-n 0", "-n 8 --no-probes"};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/notes-%zu.md", tmpdir, i);
        cli_result r = run("run %s -q --export %s", runs[i], path);
        assert_int_equal(r.status, 0);
        harness_done(&r);
        char *md = harness_slurp(path);
        for (const char *p = strstr(md, "unavailable:"); p; p = strstr(p + 1, "unavailable:")) {
            const char *after = p + strlen("unavailable:");
            while (*after == ' ')
                after++;
            if (*after == '\n' || *after == '|' || *after == '\0' || *after == '\r')
                fail_msg("run %s: 'unavailable:' without a reason near:\n%.120s", runs[i], p > md + 60 ? p - 60 : md);
        }
        free(md);
    }
}

/* -n 0 only prefills: no decode line among the counters or the roofline. */
static void test_run_n_0_prints_no_decode_figures(void **state)
{
    (void)state;
    cache_ceilings(32 * MIB, 1e15, 0);
    cli_result r = run("run -n 0");
    assert_int_equal(r.status, 0);
    assert_non_null(r.out);
    assert_non_null(strstr(r.out, "\n  prefill"));
    if (strstr(r.out, "\n  decode"))
        fail_msg("a decode line after -n 0:\n%s", r.out);
    harness_done(&r);
}

/* The first frame, before the engine reports anything: dashes, no zeros
 * standing for unknowns, no empty reasons. */
static void test_first_frame_of_a_screen_dump_has_no_zeros_for_unknowns(void **state)
{
    (void)state;
    cli_result r = run("dashboard --screen-dump 0 --size 140x45 --threads 1");
    assert_int_equal(r.status, 0);
    static const char *const zeros[] = {"threads 0", "pos 0/0", "KV cache 0 B", "0 pkg", "0 cores", "0 PUs",
                                        "of 0",      "generation 0", "0 B ", "unavailable: \n"};
    for (size_t i = 0; i < sizeof zeros / sizeof zeros[0]; i++)
        if (strstr(r.out, zeros[i]))
            fail_msg("'%s' in the first frame:\n%s", zeros[i], r.out);
    for (const char *p = strstr(r.out, "unavailable:"); p; p = strstr(p + 1, "unavailable:"))
        if (p[12] == '\n' || (p[12] == ' ' && (p[13] == ' ' || p[13] == '\n')))
            fail_msg("'unavailable:' without a reason in the first frame:\n%s", r.out);
    assert_non_null(strstr(r.out, "RSS \xe2\x80\x94")); /* the Memory panel: a dash until the first sample */
    harness_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_compares_bytes_with_the_level_the_working_set_fits_in, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_run_above_a_ceiling_gives_the_reason_not_a_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_past_a_suspicious_cache_says_no_ceiling_applies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_with_an_earlier_ceilings_file_says_measure_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_json_export_keeps_the_rule_for_unknowns, setup, teardown),
        cmocka_unit_test(test_the_unknowns_check_finds_each_breach),
        cmocka_unit_test_setup_teardown(test_markdown_never_says_unavailable_without_a_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_n_0_prints_no_decode_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_frame_of_a_screen_dump_has_no_zeros_for_unknowns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
