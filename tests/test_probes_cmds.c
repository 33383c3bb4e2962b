/* test_probes_cmds.c — `hstprof events`, `topo` and `ceilings` through the
 * real binary ($HSTPROF, default ./hstprof): what they print, exit statuses
 * (2 bad usage, 1 run-time error), one-line errors, and the fake counter
 * script driving the hardware path on a machine without a PMU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "probes/ceilings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

typedef struct {
    int status;
    char out[65536], err[4096];
} result;

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs `hstprof args...` with stdout and stderr captured; args ends with NULL. */
static void run_argv(result *r, const char *const *args)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)harness_binary();
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    char out_path[300], err_path[300];
    snprintf(out_path, sizeof out_path, "%s/out", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/err", tmpdir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    slurp(out_path, r->out, sizeof r->out);
    slurp(err_path, r->err, sizeof r->err);
}

#define run(r, ...) run_argv((r), (const char *const[]){__VA_ARGS__})

static void assert_contains(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("expected '%s' in:\n%s", want, text);
}

/* Bad usage: status 2 and exactly one line on stderr. */
static void assert_usage_error(const result *r, const char *want)
{
    assert_int_equal(r->status, 2);
    assert_contains(r->err, want);
    const char *nl = strchr(r->err, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0');
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(harness_make_tmpdir(tmpdir, sizeof tmpdir, "cmds"), 0);
    setenv("XDG_CACHE_HOME", tmpdir, 1);
    unsetenv("HSTPROF_FAKE_COUNTERS");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(harness_remove_tmpdir(tmpdir), 0);
    unsetenv("HSTPROF_FAKE_COUNTERS");
    return 0;
}

/* ---- events -------------------------------------------------------------------- */

static void test_events_lists_every_backend_with_reasons(void **state)
{
    (void)state;
    static result r;
    run(&r, "events", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "perf_event hardware events");
    assert_contains(r.out, "perf_event software events");
    assert_contains(r.out, "libpfm4 PMUs detected");
    assert_contains(r.out, "PAPI presets");
    assert_contains(r.out, "PAPI_TOT_CYC");
    assert_contains(r.out, "summary: ");
    /* software events count on any Linux machine this runs on */
    const char *line = strstr(r.out, "  task-clock");
    assert_non_null(line);
    assert_non_null(strstr(line, "yes"));
    /* an uncountable event always says why */
    for (const char *p = strstr(r.out, " no "); p; p = strstr(p + 1, " no "))
        assert_true(p[4] != '\n' && p[5] != '\n');
}

static void test_events_with_a_fake_script(void **state)
{
    (void)state;
    char script[300];
    snprintf(script, sizeof script, "%s/fake.txt", tmpdir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs("cycles 1000 100 50\nerror instructions ENOENT\n", f);
    fclose(f);
    setenv("HSTPROF_FAKE_COUNTERS", script, 1);
    static result r;
    run(&r, "events", NULL);
    assert_int_equal(r.status, 0);
    const char *fake = strstr(r.out, "fake backend");
    assert_non_null(fake);
    assert_contains(fake, "cycles");
    assert_contains(fake, "instructions");
    run(&r, "events", "--events", "cycles,instructions", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "fake");
    unsetenv("HSTPROF_FAKE_COUNTERS");
}

static void test_events_named_list(void **state)
{
    (void)state;
    static result r;
    run(&r, "events", "--events", "{cycles,instructions},task-clock", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "perf_event");
    assert_contains(r.out, "software");
    assert_contains(r.out, "summary: ");
}

static void test_events_bad_usage(void **state)
{
    (void)state;
    static result r;
    run(&r, "events", "--events", "cycles,not-an-event-xyz", NULL);
    assert_usage_error(&r, "hstprof events: unknown event 'not-an-event-xyz'");
    run(&r, "events", "--frobnicate", NULL);
    assert_usage_error(&r, "unknown option '--frobnicate'");
    run(&r, "events", "--events", NULL);
    assert_usage_error(&r, "--events needs a value");
    run(&r, "events", "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "usage: hstprof events");
}

/* ---- topo ------------------------------------------------------------------------ */

static void test_topo_prints_this_machine(void **state)
{
    (void)state;
    static result r;
    run(&r, "topo", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "this machine:");
    assert_contains(r.out, "PU P#0");
    assert_contains(r.out, "Core L#0");
}

static void test_topo_synthetic_scatter_plan(void **state)
{
    (void)state;
    static result r;
    run(&r, "topo", "--synthetic", "pack:2 l3:2 core:4 pu:2", "--affinity", "scatter", "--threads", "4", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "synthetic topology: 2 package(s)");
    assert_contains(r.out, "PU P#16  <- thread 1");
    assert_contains(r.out, "affinity scatter, 4 thread(s)");
}

static void test_topo_binds_the_engine_pool(void **state)
{
    (void)state;
    static result r;
    run(&r, "topo", "--affinity", "compact", "--threads", "1", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "bound");
    assert_contains(r.out, "<- thread 0");
}

static void test_topo_bad_usage(void **state)
{
    (void)state;
    static result r;
    run(&r, "topo", "--affinity", "0,99", NULL);
    assert_usage_error(&r, "PU 99 does not exist");
    run(&r, "topo", "--affinity", "1-x", NULL);
    assert_usage_error(&r, "bad PU list");
    run(&r, "topo", "--threads", "0", NULL);
    assert_usage_error(&r, "--threads '0'");
    run(&r, "topo", "--synthetic", "nonsense:1", NULL);
    assert_usage_error(&r, "bad synthetic description");
    run(&r, "topo", "extra", NULL);
    assert_usage_error(&r, "unknown option 'extra'");
}

/* ---- ceilings ------------------------------------------------------------------------ */

static void test_ceilings_cached_prints_the_cache_without_measuring(void **state)
{
    (void)state;
    probes_ceilings c;
    memset(&c, 0, sizeof c);
    probes_machine_key(c.machine_key, sizeof c.machine_key);
    snprintf(c.fma_isa, sizeof c.fma_isa, "avx2");
    c.triad_array_bytes = 64u << 20;
    c.n_rows = 1;
    c.rows[0].threads = 1;
    c.rows[0].triad_bytes_per_s = probes_metric_of(12.5e9);
    c.rows[0].fma_flops_per_s = probes_metric_of(99.9e9);
    c.rows[0].matmul_flops_per_s = probes_metric_invalid("engine pool: test reason");
    c.n_levels = 1; /* DRAM only */
    snprintf(c.levels[0].name, sizeof c.levels[0].name, "DRAM");
    c.rows[0].read_bytes_per_s[0] = probes_metric_of(23.4e9);
    char path[1024], err[PROBES_WHY_MAX];
    assert_int_equal(probes_ceilings_cache_path(path, sizeof path, err, sizeof err), 0);
    assert_int_equal(probes_ceilings_save(path, &c, err, sizeof err), 0);
    static result r;
    run(&r, "ceilings", "--cached", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "cached");
    assert_contains(r.out, "12.5");
    assert_contains(r.out, "99.9");
    assert_contains(r.out, "23.4"); /* the DRAM read ceiling */
    assert_contains(r.out, "engine pool: test reason");
    assert_contains(r.out, path);
}

static void test_ceilings_bad_usage(void **state)
{
    (void)state;
    static result r;
    run(&r, "ceilings", "--threads", "0", NULL);
    assert_usage_error(&r, "--threads '0'");
    run(&r, "ceilings", "--threads", NULL);
    assert_usage_error(&r, "--threads needs a value");
    run(&r, "ceilings", "--fast", NULL);
    assert_usage_error(&r, "unknown option '--fast'");
    run(&r, "ceilings", "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "usage: hstprof ceilings");
}

static void test_ceilings_unwritable_cache_is_a_runtime_error(void **state)
{
    (void)state;
    char file[300];
    snprintf(file, sizeof file, "%s/not-a-dir", tmpdir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    setenv("XDG_CACHE_HOME", file, 1); /* a file where a directory should be */
    static result r;
    run(&r, "ceilings", "--threads", "1", NULL);
    setenv("XDG_CACHE_HOME", tmpdir, 1);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "not cached");
    assert_contains(r.out, "threads"); /* the measurement is still shown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_events_lists_every_backend_with_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_with_a_fake_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_named_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_bad_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topo_prints_this_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topo_synthetic_scatter_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topo_binds_the_engine_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topo_bad_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ceilings_cached_prints_the_cache_without_measuring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ceilings_bad_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ceilings_unwritable_cache_is_a_runtime_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
