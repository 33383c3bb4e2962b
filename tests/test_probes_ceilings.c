/* test_probes_ceilings.c — the ceilings cache (JSON round trip, atomic
 * write, XDG path, "load cached or measure"), the roofline position, and a
 * short real measurement checked only for sanity, never for speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "probes/internal.h"
#include "probes/ceilings.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    assert_int_equal(harness_make_tmpdir(tmpdir, sizeof tmpdir, "ceilings"), 0);
    setenv("XDG_CACHE_HOME", tmpdir, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(harness_remove_tmpdir(tmpdir), 0);
    return 0;
}

static probes_ceilings sample_ceilings(void)
{
    probes_ceilings c;
    memset(&c, 0, sizeof c);
    probes_machine_key(c.machine_key, sizeof c.machine_key);
    snprintf(c.cpu_model, sizeof c.cpu_model, "Test CPU");
    snprintf(c.kernel, sizeof c.kernel, "6.0-test");
    snprintf(c.fma_isa, sizeof c.fma_isa, "avx2");
    c.pu_count = 2;
    c.triad_array_bytes = 128u << 20;
    c.measured_unix_s = 1700000000;
    c.n_rows = 2;
    c.rows[0] = (probes_ceiling_row){1, probes_metric_of(20e9), probes_metric_of(100e9), probes_metric_of(50e9)};
    c.rows[1] = (probes_ceiling_row){2, probes_metric_of(30e9), probes_metric_of(200e9),
                                     probes_metric_invalid("engine pool: test")};
    return c;
}

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-5 * fabs(b);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_cache_round_trip(void **state)
{
    (void)state;
    probes_ceilings c = sample_ceilings(), back;
    char path[600], dir[512], err[PROBES_WHY_MAX];
    snprintf(dir, sizeof dir, "%s/a/b", tmpdir);
    snprintf(path, sizeof path, "%s/ceilings.json", dir);
    assert_int_equal(probes_ceilings_save(path, &c, err, sizeof err), 0);
    assert_int_equal(count_entries(dir), 1); /* no temp file left */
    assert_int_equal(probes_ceilings_load(path, &back, err, sizeof err), 0);
    assert_string_equal(back.machine_key, c.machine_key);
    assert_string_equal(back.cpu_model, "Test CPU");
    assert_string_equal(back.kernel, "6.0-test");
    assert_string_equal(back.fma_isa, "avx2");
    assert_int_equal(back.pu_count, 2);
    assert_int_equal(back.triad_array_bytes, 128u << 20);
    assert_int_equal(back.measured_unix_s, 1700000000);
    assert_int_equal(back.n_rows, 2);
    assert_int_equal(back.rows[1].threads, 2);
    assert_true(near(back.rows[0].triad_bytes_per_s.value, 20e9));
    assert_true(near(back.rows[1].fma_flops_per_s.value, 200e9));
    assert_true(near(back.rows[0].matmul_flops_per_s.value, 50e9));
    assert_false(back.rows[1].matmul_flops_per_s.valid);
    assert_string_equal(back.rows[1].matmul_flops_per_s.why_not, "engine pool: test");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_load_error(const char *text, const char *want)
{
    char path[512], err[PROBES_WHY_MAX] = "";
    snprintf(path, sizeof path, "%s/bad.json", tmpdir);
    write_file(path, text);
    probes_ceilings c;
    assert_int_equal(probes_ceilings_load(path, &c, err, sizeof err), -1);
    if (!strstr(err, want) || !strstr(err, path))
        fail_msg("expected '%s' and the path in: %s", want, err);
}

static void test_bad_cache_files_are_one_line_errors(void **state)
{
    (void)state;
    expect_load_error("{\"format\": ", "bad JSON at line");
    expect_load_error("{\"format\": \"other\"}", "not a ceilings cache");
    expect_load_error("{\"format\": \"hstprof-ceilings-1\", \"rows\": []}", "\"rows\" must be an array");
    expect_load_error("{\"format\": \"hstprof-ceilings-1\", \"rows\": [{\"threads\": 2}, {\"threads\": 1}]}",
                      "must increase");
    char err[PROBES_WHY_MAX];
    probes_ceilings c;
    assert_int_equal(probes_ceilings_load("/nonexistent/x.json", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.json"));
}

static void test_cache_path_follows_xdg_cache_home(void **state)
{
    (void)state;
    char path[1024], err[PROBES_WHY_MAX], want[512];
    assert_int_equal(probes_ceilings_cache_path(path, sizeof path, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s/hstprof/ceilings-", tmpdir);
    assert_memory_equal(path, want, strlen(want));
    assert_non_null(strstr(path, ".json"));
    assert_null(strchr(path + strlen(want), ' '));
    setenv("XDG_CACHE_HOME", "relative/dir", 1); /* ignored, as the XDG spec says */
    assert_int_equal(probes_ceilings_cache_path(path, sizeof path, err, sizeof err), 0);
    assert_null(strstr(path, "relative/dir"));
    assert_non_null(strstr(path, "/.cache/hstprof/ceilings-"));
    setenv("XDG_CACHE_HOME", tmpdir, 1);
}

static void test_load_or_measure_uses_the_cache(void **state)
{
    (void)state;
    probes_ceilings c = sample_ceilings(), got;
    char path[1024], err[PROBES_WHY_MAX];
    assert_int_equal(probes_ceilings_cache_path(path, sizeof path, err, sizeof err), 0);
    assert_int_equal(probes_ceilings_save(path, &c, err, sizeof err), 0);
    const char *source = NULL;
    assert_int_equal(probes_ceilings_load_or_measure(&got, &source, err, sizeof err), 0);
    assert_string_equal(source, "cached");
    assert_string_equal(got.cpu_model, "Test CPU"); /* not remeasured */
}

static void test_roofline_position(void **state)
{
    (void)state;
    probes_ceilings c = sample_ceilings();
    /* 1 GB and 2 GFLOP in one second on 2 threads: AI 2, memory roof 60 GFLOP/s. */
    probes_roofline r = probes_roofline_point(&c, 2, 1e9, 2e9, 1000000000ull);
    assert_int_equal(r.ceiling_threads, 2);
    assert_true(near(r.achieved_bytes_per_s.value, 1e9));
    assert_true(near(r.achieved_flops_per_s.value, 2e9));
    assert_true(near(r.arithmetic_intensity_flops_per_byte.value, 2.0));
    assert_true(near(r.bandwidth_pct.value, 100.0 / 30));
    assert_true(near(r.fma_pct.value, 1.0));
    assert_true(near(r.roofline_pct.value, 100.0 * 2 / 60));
    assert_string_equal(r.bound, "memory");
    assert_false(r.matmul_pct.valid);
    assert_non_null(strstr(r.matmul_pct.why_not, "engine pool: test"));
    /* compute-bound: AI 100 -> memory roof 3 TFLOP/s > FMA peak */
    r = probes_roofline_point(&c, 1, 1e7, 1e9, 1000000000ull);
    assert_string_equal(r.bound, "compute");
    assert_true(near(r.roofline_pct.value, 1.0));
    /* more threads than measured: the largest row below */
    r = probes_roofline_point(&c, 8, 1e9, 1e9, 1000000000ull);
    assert_int_equal(r.ceiling_threads, 2);
    /* nothing to compare with */
    r = probes_roofline_point(&c, 0, 1e9, 1e9, 1000000000ull);
    assert_false(r.bandwidth_pct.valid);
    r = probes_roofline_point(&c, 1, 0, 1e9, 1000000000ull);
    assert_false(r.bandwidth_pct.valid);
    assert_string_equal(r.bound, "unknown");
    r = probes_roofline_point(&c, 1, 1e9, 1e9, 0);
    assert_false(r.achieved_flops_per_s.valid);
}

static void test_short_measurement_is_sane(void **state)
{
    (void)state;
    probes_ceiling_opts opts = {.triad_array_bytes = 8u << 20, .fma_seconds = 0.005, .max_threads = 1,
                                .skip_matmul = 1};
    probes_ceilings c;
    char err[PROBES_WHY_MAX];
    assert_int_equal(probes_ceilings_measure(&opts, &c, err, sizeof err), 0);
    assert_int_equal(c.n_rows, 1);
    assert_int_equal(c.rows[0].threads, 1);
    assert_true(c.rows[0].triad_bytes_per_s.valid && c.rows[0].triad_bytes_per_s.value > 0);
    assert_true(c.rows[0].fma_flops_per_s.valid && c.rows[0].fma_flops_per_s.value > 0);
    assert_false(c.rows[0].matmul_flops_per_s.valid);
    assert_true(strcmp(c.fma_isa, probes_fma_isa()) == 0);
    assert_true(c.pu_count >= 1);
}

static void test_thread_rows_cover_one_to_the_pu_count(void **state)
{
    (void)state;
    probes_ceiling_opts opts = {.triad_array_bytes = 1u << 20, .fma_seconds = 0.001, .max_threads = 0,
                                .skip_matmul = 0};
    probes_ceilings c;
    char err[PROBES_WHY_MAX];
    assert_int_equal(probes_ceilings_measure(&opts, &c, err, sizeof err), 0);
    assert_int_equal(c.rows[0].threads, 1);
    assert_int_equal(c.rows[c.n_rows - 1].threads, c.pu_count);
    for (int r = 0; r < c.n_rows; r++)
        if (!c.rows[r].matmul_flops_per_s.valid || c.rows[r].matmul_flops_per_s.value <= 0)
            fail_msg("matmul row %d: %s", r, c.rows[r].matmul_flops_per_s.why_not);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cache_files_are_one_line_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_path_follows_xdg_cache_home, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_or_measure_uses_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roofline_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_measurement_is_sane, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_rows_cover_one_to_the_pu_count, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
