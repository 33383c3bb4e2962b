/* test_probes_ceilings.c — the ceilings cache (JSON round trip, atomic
 * write, XDG path, "load cached or measure", the earlier format), the memory
 * levels (from hwloc, their read sets, the check of their sizes), the
 * roofline position against the level a working set fits in (never above
 * 100%), and a short real measurement checked only for sanity, never for
 * speed. */
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

#define KIB (1024ull)
#define MIB (1024ull * 1024ull)

static probes_memory_level cache_level(const char *name, uint64_t size, int instances, int cores_per_instance)
{
    probes_memory_level l;
    memset(&l, 0, sizeof l);
    snprintf(l.name, sizeof l.name, "%s", name);
    l.size_bytes = l.usable_bytes = size;
    l.instances = instances;
    l.cores_per_instance = cores_per_instance;
    return l;
}

/* The levels of a 2-core machine: private L1d and L2, one shared L3. */
static void sample_levels(probes_ceilings *c, uint64_t l3_bytes)
{
    c->n_levels = 4;
    c->levels[0] = cache_level("L1d", 48 * KIB, 2, 1);
    c->levels[1] = cache_level("L2", 2 * MIB, 2, 1);
    c->levels[2] = cache_level("L3", l3_bytes, 1, 2);
    memset(&c->levels[3], 0, sizeof c->levels[3]);
    snprintf(c->levels[3].name, sizeof c->levels[3].name, "DRAM");
    c->memory_bytes = 24ull << 30;
}

/* One thread's and two threads' read ceilings: L1d, L2, L3, DRAM. */
static void sample_reads(probes_ceilings *c, const double *one, const double *two)
{
    for (int l = 0; l < 4; l++) {
        c->rows[0].read_bytes_per_s[l] = probes_metric_of(one[l]);
        c->rows[1].read_bytes_per_s[l] = probes_metric_of(two[l]);
    }
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
    c.rows[0].threads = 1;
    c.rows[0].triad_bytes_per_s = probes_metric_of(20e9);
    c.rows[0].fma_flops_per_s = probes_metric_of(100e9);
    c.rows[0].matmul_flops_per_s = probes_metric_of(50e9);
    c.rows[1].threads = 2;
    c.rows[1].triad_bytes_per_s = probes_metric_of(30e9);
    c.rows[1].fma_flops_per_s = probes_metric_of(200e9);
    c.rows[1].matmul_flops_per_s = probes_metric_invalid("engine pool: test");
    sample_levels(&c, 32 * MIB);
    sample_reads(&c, (double[]){300e9, 140e9, 95e9, 30e9}, (double[]){600e9, 280e9, 150e9, 40e9});
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
    assert_int_equal(back.n_levels, 4);
    assert_string_equal(back.levels[2].name, "L3");
    assert_int_equal(back.levels[2].size_bytes, 32 * MIB);
    assert_int_equal(back.levels[2].cores_per_instance, 2);
    assert_string_equal(back.levels[3].name, "DRAM");
    assert_true(near(back.rows[1].read_bytes_per_s[2].value, 150e9));
    assert_true(near(back.rows[0].read_bytes_per_s[3].value, 30e9));
}

/* A cache of the format before read ceilings per level says what to do. */
static void test_earlier_cache_format_says_measure_again(void **state)
{
    (void)state;
    char path[512], err[PROBES_WHY_MAX] = "";
    snprintf(path, sizeof path, "%s/old.json", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"format\": \"hstprof-ceilings-1\", \"rows\": [{\"threads\": 1, \"triad_bytes_per_s\": 3e10}]}", f);
    fclose(f);
    probes_ceilings c;
    assert_int_equal(probes_ceilings_load(path, &c, err, sizeof err), -1);
    if (!strstr(err, "earlier hstprof") || !strstr(err, "run 'hstprof ceilings'"))
        fail_msg("want a note to measure again: %s", err);
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
#define F2 "{\"format\": \"hstprof-ceilings-2\", "
#define DRAM_ONLY "\"levels\": [{\"name\": \"DRAM\"}], "
#define READ "\"read\": [{\"level\": \"DRAM\", \"bytes_per_s\": 1e10}]"
    expect_load_error(F2 DRAM_ONLY "\"rows\": []}", "\"rows\" must be an array");
    expect_load_error(F2 DRAM_ONLY "\"rows\": [{\"threads\": 2, " READ "}, {\"threads\": 1, " READ "}]}",
                      "must increase");
    expect_load_error(F2 "\"levels\": [], \"rows\": [{\"threads\": 1}]}", "DRAM last");
    expect_load_error(F2 "\"levels\": [{\"name\": \"L2\"}, {\"name\": \"DRAM\"}], \"rows\": []}",
                      "a cache needs size_bytes");
    expect_load_error(F2 DRAM_ONLY "\"rows\": [{\"threads\": 1}]}", "one entry per level");
    expect_load_error(F2 DRAM_ONLY "\"rows\": [{\"threads\": 1, \"read\": [{\"level\": \"L3\"}]}]}",
                      "not of level DRAM");
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
    /* 1 GB and 2 GFLOP in one second on 2 threads, 10 MiB a step (the L3):
     * AI 2, memory roof 2 x 150 GB/s = 300 GFLOP/s > the FMA peak. */
    probes_roofline r = probes_roofline_point(&c, 2, 1e9, 2e9, 1000000000ull, 10.0 * MIB);
    assert_int_equal(r.ceiling_threads, 2);
    assert_string_equal(r.level, "L3");
    assert_true(near(r.level_read_bytes_per_s.value, 150e9));
    assert_true(near(r.achieved_bytes_per_s.value, 1e9));
    assert_true(near(r.achieved_flops_per_s.value, 2e9));
    assert_true(near(r.arithmetic_intensity_flops_per_byte.value, 2.0));
    assert_true(near(r.bandwidth_pct.value, 100.0 / 150));
    assert_true(near(r.fma_pct.value, 1.0));
    assert_string_equal(r.bound, "compute");
    assert_true(near(r.roofline_pct.value, 1.0));
    assert_false(r.matmul_pct.valid);
    assert_non_null(strstr(r.matmul_pct.why_not, "engine pool: test"));
    /* memory-bound: AI 0.5 against DRAM (100 MiB a step): roof 0.5 x 40 GB/s */
    r = probes_roofline_point(&c, 2, 4e9, 2e9, 1000000000ull, 100.0 * MIB);
    assert_string_equal(r.level, "DRAM");
    assert_string_equal(r.bound, "memory");
    assert_true(near(r.roofline_pct.value, 10.0));
    /* more threads than measured: the largest row below */
    r = probes_roofline_point(&c, 8, 1e9, 1e9, 1000000000ull, 10.0 * MIB);
    assert_int_equal(r.ceiling_threads, 2);
    /* nothing to compare with */
    r = probes_roofline_point(&c, 0, 1e9, 1e9, 1000000000ull, 10.0 * MIB);
    assert_false(r.bandwidth_pct.valid);
    r = probes_roofline_point(&c, 1, 0, 1e9, 1000000000ull, 10.0 * MIB);
    assert_false(r.bandwidth_pct.valid);
    assert_string_equal(r.bound, "unknown");
    r = probes_roofline_point(&c, 1, 1e9, 1e9, 0, 10.0 * MIB);
    assert_false(r.achieved_flops_per_s.valid);
    /* an unknown working set: no level, and why */
    r = probes_roofline_point(&c, 1, 1e9, 1e9, 1000000000ull, 0);
    assert_string_equal(r.level, "");
    assert_false(r.bandwidth_pct.valid);
    assert_non_null(strstr(r.bandwidth_pct.why_not, "working set"));
}

/* The level named is the first whose capacity for the threads holds the
 * working set: private caches add up per thread, a shared one does not. */
static void test_roofline_names_the_level_the_working_set_fits_in(void **state)
{
    (void)state;
    probes_ceilings c = sample_ceilings();
    const struct {
        int threads;
        double working_set;
        const char *level;
    } cases[] = {
        {1, 40.0 * KIB, "L1d"}, {1, 64.0 * KIB, "L2"}, {2, 64.0 * KIB, "L1d"}, {1, 3.0 * MIB, "L3"},
        {2, 3.0 * MIB, "L2"},   {2, 31.0 * MIB, "L3"}, {2, 33.0 * MIB, "DRAM"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        probes_roofline r = probes_roofline_point(&c, cases[i].threads, 1e6, 1e6, 1000000000ull, cases[i].working_set);
        if (strcmp(r.level, cases[i].level) != 0)
            fail_msg("case %zu: %.0f bytes on %d thread(s): level '%s', want %s", i, cases[i].working_set,
                     cases[i].threads, r.level, cases[i].level);
    }
}

/* The figures of the issue: decode reads 8.9 MB a token at 67.8 GB/s. The
 * DRAM triad (31.8 GB/s) made that 213%; against the L3 read ceiling it is
 * 71%. A rate above the ceiling of its level gets no share, but why. */
static void test_no_share_is_above_100_percent(void **state)
{
    (void)state;
    probes_ceilings c = sample_ceilings();
    c.rows[0].triad_bytes_per_s = probes_metric_of(31.8e9);
    c.rows[0].read_bytes_per_s[2] = probes_metric_of(95.5e9);
    probes_roofline r = probes_roofline_point(&c, 1, 67.8e9, 0.2e9, 1000000000ull, 8.9e6);
    assert_string_equal(r.level, "L3");
    assert_true(fabs(r.bandwidth_pct.value - 71.0) < 0.1);
    char text[512];
    probes_roofline_bandwidth_text(&r, text, sizeof text);
    if (!strstr(text, "L3-resident") || !strstr(text, "71% of the L3 read ceiling"))
        fail_msg("bandwidth line: %s", text);
    /* above the ceiling: no share */
    r = probes_roofline_point(&c, 1, 120e9, 0.2e9, 1000000000ull, 8.9e6);
    assert_false(r.bandwidth_pct.valid);
    assert_non_null(strstr(r.bandwidth_pct.why_not, "above the L3 read ceiling"));
    assert_false(r.roofline_pct.valid);
    /* a sweep of rates, sets and FLOPs: every share there is is at most 100% */
    for (double bytes = 1e8; bytes < 1e12; bytes *= 3)
        for (double set = 1e3; set < 1e9; set *= 7)
            for (double flops = 1e7; flops < 1e13; flops *= 11) {
                r = probes_roofline_point(&c, 1 + (int)fmod(bytes, 2), bytes, flops, 1000000000ull, set);
                const probes_metric *shares[] = {&r.bandwidth_pct, &r.fma_pct, &r.matmul_pct, &r.roofline_pct};
                for (size_t k = 0; k < 4; k++) {
                    if (shares[k]->valid && shares[k]->value > 100.0)
                        fail_msg("share %zu is %.1f%%", k, shares[k]->value);
                    if (!shares[k]->valid && !shares[k]->why_not[0])
                        fail_msg("share %zu has no reason", k);
                }
            }
}

/* hwloc's L3 of 1016 MiB in a VM: half of it reads as slowly as DRAM. A
 * sixteenth reads faster: that part is what a working set must fit in. When
 * no part does, the level is not used and the roofline says why. */
static void test_a_cache_size_the_machine_cannot_have_is_suspicious(void **state)
{
    (void)state;
    probes_ceilings c = sample_ceilings();
    sample_levels(&c, 1016 * MIB);
    probes_memory_level *l3 = &c.levels[2];
    l3->n_checks = 4;
    const double rates[] = {29.1e9, 29.3e9, 30.0e9, 39.0e9};
    for (int i = 0; i < 4; i++) {
        l3->check_set_bytes[i] = (1016 * MIB / 2) >> i;
        l3->check_read_bytes_per_s[i] = probes_metric_of(rates[i]);
    }
    c.rows[0].read_bytes_per_s[3] = probes_metric_of(29.0e9);
    probes_ceilings_judge(&c);
    assert_true(l3->suspicious);
    assert_int_equal(l3->usable_bytes, 1016 * MIB / 16);
    if (!strstr(l3->suspicious_why, "1016 MiB") || !strstr(l3->suspicious_why, "DRAM"))
        fail_msg("why: %s", l3->suspicious_why);
    assert_false(c.levels[1].suspicious); /* the L2 has no checks: nothing says otherwise */
    probes_roofline r = probes_roofline_point(&c, 1, 67.8e9, 1e9, 1000000000ull, 8.9e6);
    assert_string_equal(r.level, "L3");
    r = probes_roofline_point(&c, 1, 20e9, 1e9, 1000000000ull, 100.0 * MIB);
    assert_string_equal(r.level, "DRAM");
    /* no part reads faster than DRAM: not used */
    l3->check_read_bytes_per_s[3] = probes_metric_of(30.0e9);
    probes_ceilings_judge(&c);
    assert_int_equal(l3->usable_bytes, 0);
    r = probes_roofline_point(&c, 1, 67.8e9, 1e9, 1000000000ull, 8.9e6);
    assert_string_equal(r.level, "");
    assert_false(r.bandwidth_pct.valid);
    if (!strstr(r.bandwidth_pct.why_not, "suspicious") || !strstr(r.bandwidth_pct.why_not, "L2"))
        fail_msg("why: %s", r.bandwidth_pct.why_not);
    /* sizes no machine has: not larger than the level before, or past half the memory */
    sample_levels(&c, 1 * MIB);
    probes_ceilings_judge(&c);
    assert_true(c.levels[2].suspicious && c.levels[2].usable_bytes == 0);
    assert_non_null(strstr(c.levels[2].suspicious_why, "not larger than its L2"));
    sample_levels(&c, 16ull << 30);
    probes_ceilings_judge(&c);
    assert_true(c.levels[2].suspicious && c.levels[2].usable_bytes == 0);
    assert_non_null(strstr(c.levels[2].suspicious_why, "half the machine's memory"));
}

/* The sets each level is read with: half the first level; past the level
 * before and within this one; DRAM past the largest cache. */
static void test_read_sets_fit_their_level_and_not_the_one_before(void **state)
{
    (void)state;
    probes_ceilings c = sample_ceilings();
    assert_int_equal(probes_level_read_set(&c, 0, 1, 0), 24 * KIB);
    assert_int_equal(probes_level_read_set(&c, 0, 2, 0), 48 * KIB);
    assert_int_equal(probes_level_read_set(&c, 1, 1, 0), 96 * KIB);
    assert_int_equal(probes_level_read_set(&c, 2, 1, 0), 4 * MIB);
    assert_int_equal(probes_level_read_set(&c, 2, 2, 0), 8 * MIB);
    assert_int_equal(probes_level_read_set(&c, 3, 1, 0), 64 * MIB);
    assert_int_equal(probes_level_read_set(&c, 3, 1, 16 * MIB), 16 * MIB);
    sample_levels(&c, 260 * MIB);
    assert_int_equal(probes_level_read_set(&c, 3, 2, 0), 520 * MIB);
    assert_int_equal(probes_level_capacity(&c, 1, 2), 4 * MIB);
    assert_int_equal(probes_level_capacity(&c, 2, 2), 260 * MIB);
    assert_int_equal(probes_level_capacity(&c, 3, 2), 0);
}

/* hwloc's caches become the levels, DRAM last; the plan reads each. */
static void test_levels_come_from_the_topology(void **state)
{
    (void)state;
    char err[PROBES_WHY_MAX];
    probes_topo *t = probes_topo_synthetic("pack:1 l3:1(size=1065353216) l2:2(size=2097152) l1d:1(size=49152) "
                                           "core:1 pu:1", err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    probes_ceilings c;
    memset(&c, 0, sizeof c);
    probes_ceilings_levels_from_topo(t, &c);
    probes_topo_free(t);
    assert_int_equal(c.n_levels, 4);
    assert_string_equal(c.levels[0].name, "L1d");
    assert_int_equal(c.levels[0].size_bytes, 48 * KIB);
    assert_int_equal(c.levels[1].instances, 2);
    assert_int_equal(c.levels[1].cores_per_instance, 1);
    assert_string_equal(c.levels[2].name, "L3");
    assert_int_equal(c.levels[2].size_bytes, 1016 * MIB);
    assert_int_equal(c.levels[2].cores_per_instance, 2);
    assert_string_equal(c.levels[3].name, "DRAM");
    assert_true(c.memory_bytes > 0);
    probes_ceilings_plan_checks(&c, 0);
    assert_int_equal(c.levels[0].n_checks, 1);
    assert_int_equal(c.levels[1].n_checks, 4); /* 1 MiB down to 128 KiB, all past twice the L1d */
    assert_int_equal(c.levels[2].n_checks, 4);
    assert_int_equal(c.levels[2].check_set_bytes[0], 508 * MIB);
}

/* The plan reads every level for every thread count, then checks the sizes. */
static void test_plan_reads_every_level(void **state)
{
    (void)state;
    probes_ceiling_opts opts = {.max_threads = 1, .read_set_max = 8 * MIB};
    probes_ceiling_plan *plan = malloc(sizeof *plan);
    char err[PROBES_WHY_MAX], name[96];
    assert_non_null(plan);
    assert_int_equal(probes_ceilings_plan(&opts, plan, err, sizeof err), 0);
    int reads = 0, checks = 0, dram = 0;
    for (int k = 0; k < plan->n_steps; k++) {
        probes_ceilings_step_name(plan, k, name, sizeof name);
        reads += strstr(name, " read, 1 thread") != NULL;
        checks += strstr(name, "size check") != NULL;
        dram += strcmp(name, "DRAM read, 1 thread") == 0;
    }
    assert_int_equal(reads, plan->result.n_levels);
    assert_int_equal(dram, 1);
    assert_int_equal(checks, plan->n_checks);
    assert_int_equal(plan->n_steps, 3 + plan->result.n_levels + plan->n_checks);
    free(plan);
}

static void test_short_measurement_is_sane(void **state)
{
    (void)state;
    probes_ceiling_opts opts = {.triad_array_bytes = 8u << 20, .fma_seconds = 0.005, .max_threads = 1,
                                .skip_matmul = 1, .read_set_max = 8u << 20};
    probes_ceilings c;
    char err[PROBES_WHY_MAX];
    assert_int_equal(probes_ceilings_measure(&opts, &c, err, sizeof err), 0);
    assert_int_equal(c.n_rows, 1);
    assert_int_equal(c.rows[0].threads, 1);
    assert_true(c.rows[0].triad_bytes_per_s.valid && c.rows[0].triad_bytes_per_s.value > 0);
    assert_true(c.rows[0].fma_flops_per_s.valid && c.rows[0].fma_flops_per_s.value > 0);
    assert_false(c.rows[0].matmul_flops_per_s.valid);
    for (int l = 0; l < c.n_levels; l++)
        if (!c.rows[0].read_bytes_per_s[l].valid || c.rows[0].read_bytes_per_s[l].value <= 0)
            fail_msg("%s read: %s", c.levels[l].name, c.rows[0].read_bytes_per_s[l].why_not);
    assert_true(strcmp(c.fma_isa, probes_fma_isa()) == 0);
    assert_true(c.pu_count >= 1);
}

static void test_thread_rows_cover_one_to_the_pu_count(void **state)
{
    (void)state;
    probes_ceiling_opts opts = {.triad_array_bytes = 1u << 20, .fma_seconds = 0.001, .max_threads = 0,
                                .skip_matmul = 0, .read_set_max = 1u << 20};
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
        cmocka_unit_test_setup_teardown(test_earlier_cache_format_says_measure_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roofline_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roofline_names_the_level_the_working_set_fits_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_share_is_above_100_percent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_cache_size_the_machine_cannot_have_is_suspicious, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_sets_fit_their_level_and_not_the_one_before, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_come_from_the_topology, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_reads_every_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_measurement_is_sane, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_rows_cover_one_to_the_pu_count, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
