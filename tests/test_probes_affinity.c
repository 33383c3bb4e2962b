/* test_probes_affinity.c — placement policies on hwloc synthetic
 * topologies (compact fills one L3/package's cores, one thread per core
 * before SMT siblings; scatter alternates packages, then L3s, then cores),
 * PU lists and their errors, wrap-around, binding on this machine, and the
 * topology text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "probes/internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static probes_topo *synthetic(const char *desc)
{
    char err[PROBES_WHY_MAX];
    probes_topo *t = probes_topo_synthetic(desc, err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    return t;
}

/* The plan of policy on desc for n threads equals want[0..n-1]. */
static void expect_plan(const char *desc, const char *policy, int n, const int *want)
{
    probes_topo *t = synthetic(desc);
    char err[PROBES_WHY_MAX];
    probes_affinity *a = probes_affinity_create(t, policy, n, err, sizeof err);
    if (!a)
        fail_msg("%s", err);
    for (int i = 0; i < n; i++)
        if (probes_affinity_pu(a, i) != want[i])
            fail_msg("%s on '%s', thread %d: PU %d, expected %d", policy, desc, i, probes_affinity_pu(a, i), want[i]);
    probes_affinity_free(a);
    probes_topo_free(t);
}

static void expect_error(const char *desc, const char *policy, int n, const char *text)
{
    probes_topo *t = synthetic(desc);
    char err[PROBES_WHY_MAX] = "";
    probes_affinity *a = probes_affinity_create(t, policy, n, err, sizeof err);
    assert_null(a);
    if (!strstr(err, text))
        fail_msg("expected '%s' in: %s", text, err);
    assert_null(strchr(err, '\n'));
    probes_topo_free(t);
}

#define BIG "pack:2 l3:2 core:4 pu:2"

static void test_compact_fills_one_l3_then_the_package_one_thread_per_core(void **state)
{
    (void)state;
    /* PUs are numbered depth-first: package 0 holds 0-15 (L3 0: 0-7), each
     * core two consecutive PUs. */
    const int want[] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 1, 3};
    expect_plan(BIG, "compact", 18, want);
}

static void test_scatter_alternates_packages_then_l3s_then_cores(void **state)
{
    (void)state;
    const int want[] = {0, 16, 8, 24, 2, 18, 10, 26, 4, 20, 12, 28, 6, 22, 14, 30, 1, 17};
    expect_plan(BIG, "scatter", 18, want);
}

static void test_policies_on_this_vms_shape(void **state)
{
    (void)state;
    const int want[] = {0, 1, 0, 1};
    expect_plan("pack:1 core:2 pu:1", "compact", 2, want);
    expect_plan("pack:1 core:2 pu:1", "scatter", 2, want);
    expect_plan("pack:1 core:2 pu:1", "compact", 4, want); /* wraps around */
}

static void test_policies_without_an_l3_level(void **state)
{
    (void)state;
    const int compact[] = {0, 2, 4, 6, 1, 3, 5, 7};
    const int scatter[] = {0, 4, 2, 6, 1, 5, 3, 7};
    expect_plan("pack:2 core:2 pu:2", "compact", 8, compact);
    expect_plan("pack:2 core:2 pu:2", "scatter", 8, scatter);
}

static void test_scatter_spreads_over_l3s_of_one_package(void **state)
{
    (void)state;
    const int scatter[] = {0, 2, 1, 3};
    const int compact[] = {0, 1, 2, 3};
    expect_plan("pack:1 l3:2 core:2 pu:1", "scatter", 4, scatter);
    expect_plan("pack:1 l3:2 core:2 pu:1", "compact", 4, compact);
}

static void test_more_threads_than_pus_wrap_around(void **state)
{
    (void)state;
    probes_topo *t = synthetic("pack:1 core:2 pu:1");
    char err[PROBES_WHY_MAX];
    probes_affinity *a = probes_affinity_create(t, "scatter", 3, err, sizeof err);
    assert_non_null(a);
    assert_true(probes_affinity_wrapped(a));
    assert_int_equal(probes_affinity_pu(a, 2), 0);
    probes_affinity_free(a);
    a = probes_affinity_create(t, "scatter", 2, err, sizeof err);
    assert_false(probes_affinity_wrapped(a));
    probes_affinity_free(a);
    probes_topo_free(t);
}

static void test_list_assigns_pus_in_order_and_wraps(void **state)
{
    (void)state;
    const int want[] = {0, 2, 4, 5, 6, 7, 0, 2};
    expect_plan(BIG, "0,2,4-7", 8, want);
}

static void test_none_binds_nothing(void **state)
{
    (void)state;
    probes_topo *t = synthetic(BIG);
    char err[PROBES_WHY_MAX];
    probes_affinity *a = probes_affinity_create(t, "none", 4, err, sizeof err);
    assert_non_null(a);
    assert_string_equal(probes_affinity_policy(a), "none");
    assert_int_equal(probes_affinity_pu(a, 3), -1);
    probes_affinity_bind_thread(0, a); /* a no-op */
    assert_non_null(strstr(probes_affinity_binding(a, 0).why_not, "affinity none"));
    probes_affinity_free(a);
    probes_topo_free(t);
}

static void test_bad_lists_and_policies_are_one_line_errors(void **state)
{
    (void)state;
    expect_error(BIG, "0,,2", 2, "bad PU list '0,,2'");
    expect_error(BIG, "1-", 2, "bad PU list");
    expect_error(BIG, "3,", 2, "bad PU list");
    expect_error(BIG, "0,x", 2, "bad PU list");
    expect_error(BIG, "7-4", 2, "range 7-4 in '7-4' runs backwards");
    expect_error(BIG, "0,99", 2, "PU 99 does not exist on this topology (PUs: 0-31)");
    expect_error("pack:1 core:2 pu:1", "2", 1, "PU 2 does not exist");
    expect_error(BIG, "spread", 2, "unknown policy 'spread'");
    expect_error(BIG, "-1", 2, "unknown policy '-1'");
    expect_error(BIG, "compact", 0, "0 threads");
    expect_error(BIG, "compact", PROBES_MAX_THREADS + 1, "expected 1 to");
}

static void test_bad_synthetic_description(void **state)
{
    (void)state;
    char err[PROBES_WHY_MAX];
    assert_null(probes_topo_synthetic("pack:two", err, sizeof err));
    assert_non_null(strstr(err, "bad synthetic description 'pack:two'"));
}

static void test_synthetic_plans_cannot_bind(void **state)
{
    (void)state;
    probes_topo *t = synthetic(BIG);
    char err[PROBES_WHY_MAX];
    probes_affinity *a = probes_affinity_create(t, "compact", 2, err, sizeof err);
    assert_non_null(strstr(probes_affinity_binding(a, 1).why_not, "not bound yet"));
    probes_affinity_bind_thread(1, a);
    assert_non_null(strstr(probes_affinity_binding(a, 1).why_not, "cannot bind to PU 2 of a synthetic topology"));
    probes_affinity_free(a);
    probes_topo_free(t);
}

/* ---- this machine ------------------------------------------------------------------ */

typedef struct {
    probes_affinity *a;
    int index;
    int cpu_after;
} bind_job;

static void *bind_and_report(void *arg)
{
    bind_job *j = arg;
    probes_affinity_bind_thread(j->index, j->a);
    sched_yield();
    j->cpu_after = sched_getcpu();
    return NULL;
}

static void test_binding_moves_the_thread_to_its_pu(void **state)
{
    (void)state;
    char err[PROBES_WHY_MAX];
    probes_topo *t = probes_topo_load(err, sizeof err);
    assert_non_null(t);
    int n = probes_topo_pu_count(t);
    probes_affinity *a = probes_affinity_create(t, "scatter", n, err, sizeof err);
    assert_non_null(a);
    for (int i = 1; i < n; i++) {
        bind_job j = {a, i, -1};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, bind_and_report, &j), 0);
        pthread_join(th, NULL);
        assert_true(probes_affinity_binding(a, i).valid);
        assert_int_equal(j.cpu_after, probes_affinity_pu(a, i));
    }
    probes_affinity_free(a);
    probes_topo_free(t);
}

static void test_free_restores_the_callers_binding(void **state)
{
    (void)state;
    char err[PROBES_WHY_MAX];
    probes_topo *t = probes_topo_load(err, sizeof err);
    cpu_set_t before, during, after;
    assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
    int last = probes_topo_pu_count(t) - 1;
    char list[16];
    snprintf(list, sizeof list, "%d", last);
    probes_affinity *a = probes_affinity_create(t, list, 1, err, sizeof err);
    assert_non_null(a);
    probes_affinity_bind_thread(0, a); /* index 0 is the calling thread */
    assert_true(probes_affinity_binding(a, 0).valid);
    sched_getaffinity(0, sizeof during, &during);
    assert_int_equal(CPU_COUNT(&during), 1);
    assert_true(CPU_ISSET(last, &during));
    probes_affinity_free(a);
    sched_getaffinity(0, sizeof after, &after);
    assert_true(CPU_EQUAL(&before, &after));
    probes_topo_free(t);
}

/* ---- text ------------------------------------------------------------------------- */

static void test_topology_text_shows_caches_cores_pus_and_threads(void **state)
{
    (void)state;
    probes_topo *t = synthetic("pack:2 l3:1 core:2 pu:1");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int where[] = {2, -1};
    probes_topo_print(t, out, where, 2);
    fclose(out);
    assert_non_null(strstr(text, "2 package(s)"));
    assert_non_null(strstr(text, "Package P#1"));
    assert_non_null(strstr(text, "L3 ("));
    assert_non_null(strstr(text, "Core L#3 + PU P#3"));
    assert_non_null(strstr(text, "PU P#2  <- thread 0"));
    assert_null(strstr(text, "<- thread 1"));
    free(text);
    assert_int_equal(probes_topo_core_count(t), 4);
    assert_true(probes_topo_l3_bytes(t) > 0);
    probes_topo_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_fills_one_l3_then_the_package_one_thread_per_core),
        cmocka_unit_test(test_scatter_alternates_packages_then_l3s_then_cores),
        cmocka_unit_test(test_policies_on_this_vms_shape),
        cmocka_unit_test(test_policies_without_an_l3_level),
        cmocka_unit_test(test_scatter_spreads_over_l3s_of_one_package),
        cmocka_unit_test(test_more_threads_than_pus_wrap_around),
        cmocka_unit_test(test_list_assigns_pus_in_order_and_wraps),
        cmocka_unit_test(test_none_binds_nothing),
        cmocka_unit_test(test_bad_lists_and_policies_are_one_line_errors),
        cmocka_unit_test(test_bad_synthetic_description),
        cmocka_unit_test(test_synthetic_plans_cannot_bind),
        cmocka_unit_test(test_binding_moves_the_thread_to_its_pu),
        cmocka_unit_test(test_free_restores_the_callers_binding),
        cmocka_unit_test(test_topology_text_shows_caches_cores_pus_and_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
