/* test_modes.c — the run setting `mode` (causal, the default, or parity)
 * above the engine: the one check and the one settings field (flags and the
 * profile key), the measured session that applies it, the live slot that
 * carries it, and every command's output naming it: run's summaries and
 * exports (notes, CSV, JSON, --log, --trace), bench's rows (prefill ppS and
 * generation tgN rows, the nine presets with the report's labels, the
 * shipped seed-benchmark profile in parity mode comparing with the
 * published figures), and the dashboard's header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "probes/live.h"
#include "probes/session.h"
#include "profiles/profiles.h"
#include "tests/harness.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TINY_V70 "tests/golden/tiny-v70.safetensors"
#define TINY_V4 "tests/golden/tiny-v4.safetensors"
#define WAIT_NS 60000000000ull /* only bounds a hang: ASan builds are slow */

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmpdir, sizeof tmpdir, "modes");
}

static int teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmpdir);
}

static void assert_contains(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("'%.3000s' does not contain '%s'", text, want);
}

static int count_occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The command's stdout as JSON; fails on a non-zero exit. */
static json_t *run_json(const char *args)
{
    cli_result r = harness_run(tmpdir, "%s", args);
    if (r.status != 0)
        fail_msg("'%s': exit %d: %s", args, r.status, r.err);
    json_error_t e;
    json_t *o = json_loads(r.out, 0, &e);
    if (!o)
        fail_msg("'%s': not JSON (%s): %.300s", args, e.text, r.out);
    harness_done(&r);
    return o;
}

static void expect_usage_error(const char *args, const char *needle)
{
    cli_result r = harness_run(tmpdir, "%s", args);
    if (r.status != 2 || harness_count_lines(r.err) != 1 || !strstr(r.err, needle))
        fail_msg("'%s': status %d, stderr '%s' (want 2 and one line with '%s')", args, r.status, r.err, needle);
    harness_done(&r);
}

/* ---- the one check and the settings field ---------------------------------------------- */

static void test_mode_lists_parse_with_one_rule(void **state)
{
    (void)state;
    hst_mode m[HST_MODE_COUNT];
    char why[300];
    assert_int_equal(settings_modes("causal", "--mode", m, 1, why, sizeof why), 1);
    assert_int_equal(m[0], HST_MODE_CAUSAL);
    assert_int_equal(settings_modes("parity,causal", "--mode", m, HST_MODE_COUNT, why, sizeof why), 2);
    assert_int_equal(m[0], HST_MODE_PARITY);
    assert_int_equal(m[1], HST_MODE_CAUSAL);
    assert_int_equal(settings_modes("parity,causal", "--mode", m, 1, why, sizeof why), -1);
    assert_contains(why, "--mode takes one mode here, got 'parity,causal' (a list is for bench)");
    assert_int_equal(settings_modes("Parity", "--mode", m, 1, why, sizeof why), -1);
    assert_string_equal(why, "--mode must be causal or parity, got 'Parity'");
    assert_int_equal(settings_modes("parity,parity", "mode", m, HST_MODE_COUNT, why, sizeof why), -1);
    assert_string_equal(why, "mode names parity twice");
    static const char *const bad[] = {"", ",parity", "parity,", "parity,,causal", "causal,parity,causal"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (settings_modes(bad[i], "mode", m, HST_MODE_COUNT, why, sizeof why) != -1)
            fail_msg("'%s' accepted", bad[i]);
}

static void test_mode_label_says_when_the_modes_are_one_computation(void **state)
{
    (void)state;
    char buf[64];
    probes_mode_label(HST_ARCH_V4, HST_MODE_CAUSAL, buf, sizeof buf);
    assert_string_equal(buf, "causal (same as parity for v4)");
    probes_mode_label(HST_ARCH_V6_1, HST_MODE_PARITY, buf, sizeof buf);
    assert_string_equal(buf, "parity (same as causal for v6.1)");
    probes_mode_label(HST_ARCH_V7_0, HST_MODE_PARITY, buf, sizeof buf);
    assert_string_equal(buf, "parity");
    probes_mode_label(HST_ARCH_V8, HST_MODE_CAUSAL, buf, sizeof buf);
    assert_string_equal(buf, "causal");
}

static void test_profile_key_mode_and_gen(void **state)
{
    (void)state;
    hst_settings s;
    char err[512];
    settings_defaults(&s);
    assert_string_equal(s.mode, "causal");
    assert_int_equal(s.gen, 128);
    const char *text = "mode = parity\ngen = 0\n";
    assert_int_equal(profile_parse(text, strlen(text), "p.ini", &s, err, sizeof err), 0);
    assert_string_equal(s.mode, "parity");
    assert_int_equal(s.gen, 0);
    text = "mode = parity,causal\n";
    assert_int_equal(profile_parse(text, strlen(text), "p.ini", &s, err, sizeof err), 0);
    assert_string_equal(s.mode, "parity,causal");
    text = "seed = 1\nmode = fast\n";
    assert_int_equal(profile_parse(text, strlen(text), "p.ini", &s, err, sizeof err), -1);
    assert_string_equal(err, "p.ini:2: mode must be causal or parity, got 'fast'");
    /* A saved profile keeps the mode. */
    char *rendered = profile_render(&s, "test");
    assert_non_null(rendered);
    assert_contains(rendered, "\nmode = parity,causal\n");
    assert_contains(rendered, "\ngen = 0\n");
    free(rendered);
    /* The shipped seed-benchmark profile runs the computation the report timed. */
    settings_defaults(&s);
    assert_int_equal(profile_load("seed-benchmark", &s, err, sizeof err), 0);
    assert_string_equal(s.mode, "parity");
    assert_string_equal(s.models, "all");
}

/* ---- the measured session applies it ------------------------------------------------------- */

static void test_session_open_sets_the_mode_on_the_engine_session(void **state)
{
    (void)state;
    char err[512];
    probes_session s;
    probes_session_settings st = {.model = harness_source(TINY_V70), .threads = 1, .counters_off = "off",
                                  .mode = "parity"};
    assert_int_equal(probes_session_open(&st, &s, err, sizeof err), 0);
    assert_int_equal(hst_session_mode(s.session), HST_MODE_PARITY);
    probes_session_close(&s);
    st.mode = NULL; /* the default */
    assert_int_equal(probes_session_open(&st, &s, err, sizeof err), 0);
    assert_int_equal(hst_session_mode(s.session), HST_MODE_CAUSAL);
    probes_session_close(&s);
    st.mode = "both";
    assert_int_equal(probes_session_open(&st, &s, err, sizeof err), 2); /* a bad setting, before any load */
    assert_int_equal(s.failed, PROBES_PART_MODE);
    assert_string_equal(err, "mode must be causal or parity, got 'both'");
}

/* ---- the live setting carries it, a live slot applies it ---------------------------------- */

static void test_live_setting_names_the_mode(void **state)
{
    (void)state;
    live_setting a = {.threads = 1}, b;
    snprintf(a.model, sizeof a.model, "hst-v7.0");
    snprintf(a.affinity, sizeof a.affinity, "none");
    snprintf(a.kernel, sizeof a.kernel, "auto");
    snprintf(a.precision, sizeof a.precision, "f32");
    snprintf(a.mode, sizeof a.mode, "causal");
    b = a;
    snprintf(b.mode, sizeof b.mode, "parity");
    char buf[600];
    live_setting_describe(&b, buf, sizeof buf);
    assert_string_equal(buf, "1 thread, none, hst-v7.0 f32 parity, kernel auto");
    live_setting_difference(&a, &b, buf, sizeof buf);
    assert_string_equal(buf, "mode causal vs parity");
}

static void next_sample(live_engine *e, live_sample *out)
{
    uint64_t until = hst_now_ns() + WAIT_NS;
    while (!live_ring_pop(live_engine_ring(e), out)) {
        if (hst_now_ns() > until) {
            live_status st;
            live_get_status(e, &st);
            fail_msg("no sample in time (state %s, error '%s')", live_state_name(st.state), st.error);
        }
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The samples' FLOPs are the session mode's (spec 12.C.6): a decode step in
 * parity mode recomputes the window, so its count is the parity one. */
static void test_live_slot_runs_in_the_setting_mode(void **state)
{
    (void)state;
    live_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.setting.model, sizeof o.setting.model, "%s", harness_source(TINY_V70));
    o.setting.threads = 1;
    snprintf(o.setting.affinity, sizeof o.setting.affinity, "none");
    snprintf(o.setting.kernel, sizeof o.setting.kernel, "auto");
    snprintf(o.setting.mode, sizeof o.setting.mode, "parity");
    o.no_counters = 1;
    o.max_seq_len = 24;
    char err[256];
    live_engine *e = live_start(&o, err, sizeof err);
    assert_non_null(e);
    live_sample s;
    do
        next_sample(e, &s);
    while (s.phase != LIVE_PHASE_DECODE);
    hst_config cfg;
    live_segment_info *info = malloc(sizeof *info);
    assert_non_null(info);
    assert_int_equal(live_get_segment(e, s.segment, info), 0);
    cfg = info->config;
    assert_string_equal(info->setting.mode, "parity");
    free(info);
    live_status st;
    live_get_status(e, &st);
    assert_string_equal(st.setting.mode, "parity");
    live_stop(e);
    assert_true(hst_flops_decode(&cfg, HST_MODE_PARITY, s.pos) != hst_flops_decode(&cfg, HST_MODE_CAUSAL, s.pos));
    assert_float_equal(s.flops, hst_flops_decode(&cfg, HST_MODE_PARITY, s.pos), 1e-6 * s.flops);
}

/* ---- run ---------------------------------------------------------------------------------- */

static void test_run_names_the_mode_in_its_summaries(void **state)
{
    (void)state;
    /* A parity run computes its quality hash in parity mode too (32 steps that
     * each recompute the window): the slowest run of this suite under ASan, so
     * one run checks the text summary, the note and the JSON export together. */
    cli_result r = harness_run(tmpdir, "run --model hst-v7.0 -n 4 --threads 1 --mode parity --export %s/parity.json",
                               tmpdir);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    assert_contains(r.out, ", mode parity, ");
    /* Parity decode recomputes the window: said once, before the run. */
    assert_int_equal(count_occurrences(r.err, "parity mode recomputes the whole window"), 1);
    assert_int_equal(harness_count_lines(r.err), 1);
    harness_done(&r);
    char path[600];
    snprintf(path, sizeof path, "%s/parity.json", tmpdir);
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    if (!o)
        fail_msg("%s: %s", path, jerr.text);
    assert_string_equal(json_string_value(json_object_get(o, "mode")), "parity");
    assert_string_equal(json_string_value(json_object_get(o, "mode_label")), "parity");
    json_decref(o);
    r = harness_run(tmpdir, "run --model hst-v7.0 -n 4 --threads 1");
    assert_int_equal(r.status, 0);
    assert_contains(r.out, ", mode causal, ");
    assert_string_equal(r.err, "");
    harness_done(&r);
    /* No decode step, no note. */
    r = harness_run(tmpdir, "run --model hst-v7.0 -n 1 --threads 1 --mode parity");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    harness_done(&r);
    /* Cores A and B: accepted, and reported as the same computation. */
    r = harness_run(tmpdir, "run --model hst-v4 -n 4 --threads 1 --mode parity --format json");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    o = json_loads(r.out, 0, &jerr);
    if (!o)
        fail_msg("run --format json: %s", jerr.text);
    assert_string_equal(json_string_value(json_object_get(o, "mode")), "parity");
    assert_string_equal(json_string_value(json_object_get(o, "mode_label")), "parity (same as causal for v4)");
    json_decref(o);
    harness_done(&r);
    r = harness_run(tmpdir, "run --model hst-v4 -n 4 --threads 1 --mode parity");
    assert_int_equal(r.status, 0);
    assert_contains(r.out, ", mode parity (same as causal for v4), ");
    harness_done(&r);
}

static void test_run_mode_errors_are_usage_errors(void **state)
{
    (void)state;
    expect_usage_error("run --mode fast -n 1", "--mode must be causal or parity, got 'fast'");
    expect_usage_error("run --mode parity,causal -n 1", "takes one mode here");
    expect_usage_error("dashboard --mode fast --screen-dump 1", "--mode must be causal or parity");
    char path[600];
    snprintf(path, sizeof path, "%s/both.ini", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("mode = parity,causal\n", f);
    fclose(f);
    char args[800];
    snprintf(args, sizeof args, "run -p %s -n 1", path);
    expect_usage_error(args, "profile both: mode takes one mode here");
}

/* Every export of a run says which mode ran: notes, CSV, JSON, log, trace. */
static void test_run_exports_log_and_trace_name_the_mode(void **state)
{
    (void)state;
    cli_result r = harness_run(tmpdir,
                               "run --model hst-v7.0 -n 3 --threads 1 --mode parity --export %s/n.md --export %s/n.csv "
                               "--export %s/n.json --log %s/log.md --title modes --trace %s/t.csv",
                               tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    harness_done(&r);
    char path[600];
    static const struct {
        const char *file, *want;
    } expect[] = {
        {"n.md", "- Mode: **parity**"},
        {"n.md", "| hst"}, /* the runs table */
        {"n.json", "\"mode\": \"parity\""},
        {"log.md", "| Mode | parity |"},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, expect[i].file);
        char *text = harness_slurp(path);
        assert_contains(text, expect[i].want);
        free(text);
    }
    snprintf(path, sizeof path, "%s/n.md", tmpdir);
    char *notes = harness_slurp(path);
    assert_contains(notes, "| Run | Model | Mode |");
    assert_contains(notes, " | parity | ");
    free(notes);
    /* CSV: a mode column with the value. */
    snprintf(path, sizeof path, "%s/n.csv", tmpdir);
    char *csv = harness_slurp(path);
    char *body = strstr(csv, "\r\n");
    assert_non_null(body);
    *body = '\0';
    int column = -1, k = 0;
    for (char *tok = strtok(csv, ","); tok; tok = strtok(NULL, ","), k++)
        if (strcmp(tok, "mode") == 0)
            column = k;
    assert_true(column >= 0);
    free(csv);
    /* Trace: every row has the mode. */
    snprintf(path, sizeof path, "%s/t.csv", tmpdir);
    char *trace = harness_slurp(path);
    assert_true(strncmp(trace, "token_index,phase,mode,", 23) == 0);
    assert_int_equal(count_occurrences(trace, ",parity,"), 3); /* the prefill row and two decode rows */
    free(trace);
}

/* ---- bench -------------------------------------------------------------------------------- */

static int rows_with(const json_t *runs, const char *key, const char *value)
{
    int n = 0;
    size_t i;
    const json_t *r;
    json_array_foreach(runs, i, r)
    {
        n += json_is_string(json_object_get(r, key)) && strcmp(json_string_value(json_object_get(r, key)), value) == 0;
    }
    return n;
}

static void test_bench_without_a_mode_runs_causal_with_prefill_and_generation_rows(void **state)
{
    (void)state;
    char args[1024];
    snprintf(args, sizeof args, "bench --models %s --seq 8,16 --gen 8 --threads 1 --runs 3 --warmup 0 --format json",
             harness_source(TINY_V70));
    json_t *o = run_json(args);
    const json_t *runs = json_object_get(o, "runs"), *settings = json_object_get(o, "settings");
    assert_int_equal(json_array_size(json_object_get(settings, "modes")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(settings, "modes"), 0)), "causal");
    assert_int_equal(json_integer_value(json_object_get(settings, "gen")), 8);
    assert_int_equal(json_array_size(runs), 3); /* pp8, pp16, tg8 */
    assert_int_equal(rows_with(runs, "mode", "causal"), 3);
    assert_int_equal(rows_with(runs, "test", "pp8"), 1);
    assert_int_equal(rows_with(runs, "test", "pp16"), 1);
    assert_int_equal(rows_with(runs, "test", "tg8"), 1);
    const json_t *tg = json_array_get(runs, 2);
    assert_string_equal(json_string_value(json_object_get(tg, "phase")), "decode");
    assert_int_equal(json_integer_value(json_object_get(tg, "n_gen")), 8);
    assert_int_equal(json_integer_value(json_object_get(tg, "n_prompt")), 16);
    assert_true(json_is_null(json_object_get(tg, "seq_len")));
    size_t i;
    const json_t *r;
    json_array_foreach(runs, i, r)
    {
        double mean = json_number_value(json_object_get(r, "tps_mean"));
        double sd = json_number_value(json_object_get(r, "tps_stddev"));
        double med = json_number_value(json_object_get(r, "tps_median"));
        double lo = json_number_value(json_object_get(r, "tps_min")), hi = json_number_value(json_object_get(r, "tps_max"));
        assert_true(lo > 0 && lo <= mean && mean <= hi && lo <= med && med <= hi && sd >= 0);
        assert_true(json_number_value(json_object_get(r, "flops_per_token")) > 0);
        assert_int_equal(json_array_size(json_object_get(r, "samples_ms")), 3);
    }
    json_decref(o);
}

static void test_bench_gives_a_row_per_mode_in_every_format(void **state)
{
    (void)state;
    char args[1024];
    snprintf(args, sizeof args, "bench --models %s --mode parity,causal --seq 8 --gen 4 --threads 1 --runs 2 "
             "--warmup 0 --format json", harness_source(TINY_V70));
    json_t *o = run_json(args);
    const json_t *runs = json_object_get(o, "runs");
    assert_int_equal(json_array_size(runs), 4);
    assert_int_equal(rows_with(runs, "mode", "parity"), 2);
    assert_int_equal(rows_with(runs, "mode", "causal"), 2);
    /* Parity decode recomputes the window: more FLOPs per generated token than causal. */
    double parity_tg = 0, causal_tg = 0;
    size_t i;
    const json_t *r;
    json_array_foreach(runs, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "phase")), "decode") == 0)
            *(strcmp(json_string_value(json_object_get(r, "mode")), "parity") == 0 ? &parity_tg : &causal_tg) =
                json_number_value(json_object_get(r, "flops_per_token"));
    }
    assert_true(parity_tg > causal_tg && causal_tg > 0);
    json_decref(o);
    cli_result c = harness_run(tmpdir, "bench --models %s --mode parity,causal --seq 8 --gen 4 --threads 1 --runs 2 "
                               "--warmup 0 --format csv", harness_source(TINY_V70));
    assert_int_equal(c.status, 0);
    assert_int_equal(harness_count_lines(c.out), 5);
    assert_true(strncmp(c.out, "model,label,mode,test,phase,n_prompt,n_gen,seq_len,threads,runs,tps_median,tps_mean,",
                        80) == 0);
    assert_int_equal(count_occurrences(c.out, ",parity,pp8,prefill,8,0,8,1,2,"), 1);
    assert_int_equal(count_occurrences(c.out, ",causal,tg4,decode,16,4,,1,2,"), 1);
    harness_done(&c);
    c = harness_run(tmpdir, "bench --models %s --mode parity,causal --seq 8 --gen 4 --threads 1 --runs 2 --warmup 0",
                    harness_source(TINY_V70));
    assert_int_equal(c.status, 0);
    assert_contains(c.out, "## Prefill and Generation");
    assert_contains(c.out, "| model | mode | params | threads | test | t/s | median t/s | MFLOP/token |");
    assert_contains(c.out, " | parity | ");
    assert_contains(c.out, " | causal | ");
    assert_contains(c.out, " | tg4 | ");
    assert_contains(c.out, " ± ");
    harness_done(&c);
}

static void test_bench_gen_defaults_fit_the_context_and_zero_skips(void **state)
{
    (void)state;
    char args[1024];
    /* tiny-v4 has max_seq_len 128: the default 128 tokens after 16 are capped to 112, and say so. */
    snprintf(args, sizeof args, "bench --models %s --seq 8 --threads 1 --runs 1 --warmup 0 --format json",
             harness_source(TINY_V4));
    json_t *o = run_json(args);
    assert_int_equal(rows_with(json_object_get(o, "runs"), "test", "tg112"), 1);
    json_decref(o);
    snprintf(args, sizeof args, "bench --models %s --seq 8 --gen 0 --threads 1 --runs 1 --warmup 0 --format json",
             harness_source(TINY_V4));
    o = run_json(args);
    assert_int_equal(json_array_size(json_object_get(o, "runs")), 1);
    assert_int_equal(rows_with(json_object_get(o, "runs"), "phase", "decode"), 0);
    json_decref(o);
    snprintf(args, sizeof args, "bench --models %s --seq 8 --gen 128", harness_source(TINY_V4));
    expect_usage_error(args, "--gen 128 after a 16-token prompt needs 144 positions");
    expect_usage_error("bench --mode causal,fast --seq 8", "--mode must be causal or parity, got 'fast'");
}

/* --models all: the published report's eight rows and hst-v8, each with its
 * mode and FLOPs per token; the chaos row named as the same network as hst-v7.0. */
static void test_bench_all_gives_nine_rows_with_the_report_labels(void **state)
{
    (void)state;
    json_t *o = run_json("bench --models all --seq 8 --gen 0 --threads 1 --runs 1 --warmup 0 --format json");
    const json_t *runs = json_object_get(o, "runs");
    assert_int_equal(json_array_size(json_object_get(o, "models")), 9);
    assert_int_equal(json_array_size(runs), 9);
    static const char *const labels[] = {
        "hst_v3_ultra (HSTv3Ultra) = hst-v3",           "hst_v4_unified (HSTv4Unified) = hst-v4",
        "hst_v5_2_unified (HSTv5_2Unified) = hst-v5.2", "hst_v6_giga (HSTv6Giga) = hst-v6",
        "hst.v6.1 (HSTv6Giga) = hst-v6.1",              "hst.v7.0_agile (HSTv7Agile) = hst-v7.0",
        "HST-chaos_logic_ai (HSTv7Agile) = hst-v7.0",   "hst.v7.1_ultimate (HSTv7_1Ultimate) = hst-v7.1",
        "hst-v8 (HSTv8Crystalline)",
    };
    for (size_t i = 0; i < 9; i++) {
        const json_t *r = json_array_get(runs, i);
        assert_string_equal(json_string_value(json_object_get(r, "label")), labels[i]);
        assert_string_equal(json_string_value(json_object_get(r, "mode")), "causal");
        assert_true(json_number_value(json_object_get(r, "flops_per_token")) > 0);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 0), "mode_label")),
                        "causal (same as parity for v3)");
    json_decref(o);
}

/* The shipped profile: parity mode, and the Markdown compares each row the
 * report has with its figure, saying the report ran PyTorch elsewhere. */
static void test_seed_benchmark_profile_compares_with_the_report(void **state)
{
    (void)state;
    cli_result r = harness_run(tmpdir, "bench -p seed-benchmark --models hst-v4,hst-v7.0,hst-v8 --seq 128 --gen 0 "
                                       "--threads 1 --runs 1 --warmup 0");
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    assert_contains(r.out, "## Compared with the Published Report");
    assert_contains(r.out, "original PyTorch modules on another machine");
    assert_contains(r.out, "| hst_v4_unified (HSTv4Unified) = hst-v4 | parity (same as causal for v4) | 1 | 128 | "
                           "7119.44 | ");
    assert_contains(r.out, "| hst.v7.0_agile (HSTv7Agile) = hst-v7.0 | parity | 1 | 128 | 2647.90 | ");
    /* hst-v8 has no row in the report: it is measured, not compared. */
    char *compared = strstr(r.out, "## Compared with the Published Report"), *end = strstr(r.out, "## Performance");
    assert_true(compared && end && compared < end);
    *end = '\0';
    assert_null(strstr(compared, "hst-v8"));
    assert_non_null(strstr(r.out, "| hst-v8 (HSTv8Crystalline) | parity | 1 | "));
    harness_done(&r);
    json_t *o = run_json("bench -p seed-benchmark --models hst-v7.0 --mode causal --seq 128 --gen 0 --threads 1 "
                         "--runs 1 --warmup 0 --format json");
    const json_t *row = json_array_get(json_object_get(o, "runs"), 0);
    assert_float_equal(json_number_value(json_object_get(row, "report_tps")), 2647.90, 1e-9);
    assert_true(json_is_false(json_object_get(row, "report_comparable"))); /* causal: another computation */
    json_decref(o);
    r = harness_run(tmpdir, "bench --models hst-v7.0 --seq 128 --gen 0 --threads 1 --runs 1 --warmup 0");
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "1 causal row of hst-v7.0, hst-chaos or hst-v7.1 is not compared: the report timed the "
                           "parity computation");
    assert_null(strstr(r.out, "| Report (tok/s) |"));
    harness_done(&r);
}

/* ---- the dashboard ----------------------------------------------------------------------- */

static void test_dashboard_header_names_the_mode(void **state)
{
    (void)state;
    cli_result r = harness_run(tmpdir, "dashboard --model %s --mode parity --threads 1 --no-counters --no-ceilings "
                               "--screen-dump 600 --screen-dump-when tokens=3 --size 160x40",
                               harness_source(TINY_V70));
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    assert_contains(r.out, "mode parity");
    harness_done(&r);
    r = harness_run(tmpdir, "dashboard --threads 1 --no-counters --no-ceilings --screen-dump 600 "
                            "--screen-dump-when tokens=3 --size 160x40");
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "mode causal (same as parity for v4)");
    harness_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_all_gives_nine_rows_with_the_report_labels),
        cmocka_unit_test(test_seed_benchmark_profile_compares_with_the_report),
        cmocka_unit_test(test_mode_lists_parse_with_one_rule),
        cmocka_unit_test(test_mode_label_says_when_the_modes_are_one_computation),
        cmocka_unit_test(test_profile_key_mode_and_gen),
        cmocka_unit_test(test_session_open_sets_the_mode_on_the_engine_session),
        cmocka_unit_test(test_live_setting_names_the_mode),
        cmocka_unit_test(test_live_slot_runs_in_the_setting_mode),
        cmocka_unit_test(test_run_names_the_mode_in_its_summaries),
        cmocka_unit_test(test_run_mode_errors_are_usage_errors),
        cmocka_unit_test(test_run_exports_log_and_trace_name_the_mode),
        cmocka_unit_test(test_bench_without_a_mode_runs_causal_with_prefill_and_generation_rows),
        cmocka_unit_test(test_bench_gives_a_row_per_mode_in_every_format),
        cmocka_unit_test(test_bench_gen_defaults_fit_the_context_and_zero_skips),
        cmocka_unit_test(test_dashboard_header_names_the_mode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
