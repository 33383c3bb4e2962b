/* test_probes_counters.c — counter sets: scaling of multiplexed counts,
 * derived metrics only within one group and one window, backend selection
 * and its fallbacks, the reasons given when counting is impossible (errno
 * injected through the fake script or the perf_event_open seam), the
 * EACCES -> user-space-only retry, and software events counting for real. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "probes/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const probes_machine_facts vm_without_pmu = {.hypervisor = 1, .cpu_pmu_present = 0, .paranoid = 2};

static char script_path[256];

static void write_script(const char *text)
{
    snprintf(script_path, sizeof script_path, "/tmp/hstprof-test-fake-%ld.txt", (long)getpid());
    FILE *f = fopen(script_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    unsetenv("HSTPROF_FAKE_COUNTERS");
    probes_test_set_machine_facts(&vm_without_pmu);
    probes_test_set_perf_open(NULL);
    probes_test_set_papi_status(-1, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (script_path[0])
        unlink(script_path);
    probes_test_set_machine_facts(NULL);
    probes_test_set_perf_open(NULL);
    probes_test_set_papi_status(-1, NULL);
    return 0;
}

static probes_counters *open_fake(const char *script, const char *events)
{
    write_script(script);
    char err[PROBES_WHY_MAX] = "";
    probes_counter_opts opts = {.events = events, .backend = "fake", .fake_script = script_path};
    probes_counters *c = probes_counters_open(&opts, NULL, 0, err, sizeof err);
    if (!c)
        fail_msg("open failed: %s", err);
    return c;
}

/* One window measured with two reads: exactly the script's first step. */
static void first_window(probes_counters *c, probes_counter_window *w)
{
    probes_counter_snapshot a, b;
    probes_counters_read(c, &a);
    probes_counters_read(c, &b);
    probes_counters_window(c, &a, &b, w);
}

static const probes_counter_value *counter(const probes_counter_window *w, const char *name)
{
    for (int i = 0; i < w->n_counters; i++)
        if (strcmp(w->counters[i].name, name) == 0)
            return &w->counters[i];
    fail_msg("no counter %s", name);
    return NULL;
}

static const probes_metric *metric(const probes_counter_window *w, const char *name)
{
    const probes_metric *m = probes_window_metric(w, name);
    if (!m)
        fail_msg("no metric %s", name);
    return m;
}

static void assert_why_contains(const probes_metric *m, const char *text)
{
    assert_false(m->valid);
    if (!strstr(m->why_not, text))
        fail_msg("expected '%s' in: %s", text, m->why_not);
}

/* ---- scaling ---------------------------------------------------------------- */

static void test_multiplexed_count_scales_by_enabled_over_running(void **state)
{
    (void)state;
    probes_counters *c = open_fake("cycles 1000 100 50\n", NULL);
    probes_counter_window w;
    first_window(c, &w);
    const probes_counter_value *v = counter(&w, "cycles");
    assert_true(v->value.valid);
    assert_int_equal(v->raw, 1000);
    assert_int_equal(v->time_enabled_ns, 100);
    assert_int_equal(v->time_running_ns, 50);
    assert_true(v->value.value == 2000.0);
    assert_true(v->running_share.valid);
    assert_true(v->running_share.value == 0.5);
    probes_counters_close(c);
}

static void test_running_zero_is_invalid_multiplexed_out(void **state)
{
    (void)state;
    probes_counters *c = open_fake("cycles 1000 100 0\ninstructions 10 0 0\n", NULL);
    probes_counter_window w;
    first_window(c, &w);
    assert_why_contains(&counter(&w, "cycles")->value, "not counted: multiplexed out");
    assert_why_contains(&counter(&w, "instructions")->value, "no measured thread ran");
    probes_counters_close(c);
}

static void test_consecutive_windows_replay_successive_steps(void **state)
{
    (void)state;
    probes_counters *c = open_fake("cycles 10 100 100\ncycles 40 100 25\n", NULL);
    probes_counter_snapshot s[4];
    for (int i = 0; i < 4; i++)
        probes_counters_read(c, &s[i]);
    probes_counter_window w;
    probes_counters_window(c, &s[0], &s[1], &w);
    assert_true(counter(&w, "cycles")->value.value == 10.0);
    probes_counters_window(c, &s[1], &s[2], &w);
    assert_true(counter(&w, "cycles")->value.value == 160.0); /* 40 x 100/25 */
    probes_counters_window(c, &s[2], &s[3], &w); /* the script cycles back */
    assert_true(counter(&w, "cycles")->value.value == 10.0);
    probes_counters_close(c);
}

/* ---- derived metrics ------------------------------------------------------------ */

static void test_ipc_within_one_group_uses_scaled_counts(void **state)
{
    (void)state;
    probes_counters *c = open_fake("cycles 1000 100 50\ninstructions 2500 100 50\n", NULL);
    probes_counter_window w;
    first_window(c, &w);
    const probes_metric *ipc = metric(&w, "ipc");
    assert_true(ipc->valid);
    assert_true(ipc->value == 2.5);
    probes_counters_close(c);
}

static void test_ipc_across_groups_is_invalid_with_reason(void **state)
{
    (void)state;
    probes_counters *c = open_fake("cycles 1000 100 50\ninstructions 2500 100 100\n", "{cycles},{instructions}");
    probes_counter_window w;
    first_window(c, &w);
    assert_true(counter(&w, "cycles")->value.valid);
    assert_true(counter(&w, "instructions")->value.valid);
    assert_why_contains(metric(&w, "ipc"), "different groups");
    probes_counters_close(c);
}

static void test_script_group_lines_split_groups(void **state)
{
    (void)state;
    probes_counters *c = open_fake("group cycles\ngroup instructions\ncycles 1 1 1\ninstructions 1 1 1\n", NULL);
    probes_counter_window w;
    first_window(c, &w);
    assert_int_not_equal(counter(&w, "cycles")->group, counter(&w, "instructions")->group);
    assert_why_contains(metric(&w, "ipc"), "different groups");
    probes_counters_close(c);
}

static void test_derived_invalid_when_an_operand_was_multiplexed_out(void **state)
{
    (void)state;
    probes_counters *c = open_fake("cycles 1000 100 50\ninstructions 2500 100 0\n", NULL);
    probes_counter_window w;
    first_window(c, &w);
    assert_why_contains(metric(&w, "ipc"), "instructions: not counted: multiplexed out");
    probes_counters_close(c);
}

static void test_miss_ratios_and_mpki(void **state)
{
    (void)state;
    probes_counters *c = open_fake("instructions 100000 10 10\n"
                                   "cycles 50000 10 10\n"
                                   "branches 20000 10 10\n"
                                   "branch-misses 500 10 10\n"
                                   "L1-dcache-loads 40000 10 10\n"
                                   "L1-dcache-load-misses 2000 10 10\n"
                                   "LLC-loads 1000 10 10\n"
                                   "LLC-load-misses 250 10 10\n",
                                   NULL);
    probes_counter_window w;
    first_window(c, &w);
    assert_true(metric(&w, "ipc")->value == 2.0);
    assert_true(metric(&w, "branch_miss_ratio")->value == 0.025);
    assert_true(metric(&w, "l1d_miss_ratio")->value == 0.05);
    assert_true(metric(&w, "llc_miss_ratio")->value == 0.25);
    assert_true(metric(&w, "l1d_mpki")->value == 20.0);
    assert_true(metric(&w, "llc_mpki")->value == 2.5);
    assert_true(metric(&w, "branch_mpki")->value == 5.0);
    probes_counters_close(c);
}

static void test_llc_miss_bandwidth_is_lines_per_window_second(void **state)
{
    (void)state;
    probes_counters *c = open_fake("LLC-load-misses 1000 10 5\n", NULL);
    probes_counter_snapshot a, b;
    probes_counters_read(c, &a);
    probes_counters_read(c, &b);
    a.t_ns = 1000000000ull, b.t_ns = 1500000000ull; /* a half-second window */
    probes_counter_window w;
    probes_counters_window(c, &a, &b, &w);
    /* 1000 raw x 2 (multiplexed) x 64 bytes / 0.5 s */
    assert_true(metric(&w, "llc_miss_bytes_per_s")->value == 256000.0);
    probes_counters_close(c);
}

static void test_llc_ratio_pairs_matching_events_only(void **state)
{
    (void)state;
    /* cache-misses must not be divided by LLC-loads: no listed ratio. */
    probes_counters *c = open_fake("cache-misses 10 1 1\nLLC-loads 100 1 1\n", NULL);
    probes_counter_window w;
    first_window(c, &w);
    assert_null(probes_window_metric(&w, "llc_miss_ratio"));
    assert_non_null(probes_window_metric(&w, "llc_miss_bytes_per_s"));
    probes_counters_close(c);
}

static void test_zero_denominator_is_invalid(void **state)
{
    (void)state;
    probes_counters *c = open_fake("cycles 0 10 10\ninstructions 5 10 10\n", NULL);
    probes_counter_window w;
    first_window(c, &w);
    assert_why_contains(metric(&w, "ipc"), "cycles counted 0");
    probes_counters_close(c);
}

/* ---- reasons ------------------------------------------------------------------------- */

static void test_fake_enoent_reports_no_pmu_in_this_vm(void **state)
{
    (void)state;
    probes_counters *c = open_fake("error cycles ENOENT\ntask-clock 100 100 100\n", "cycles,task-clock");
    probes_event_info info;
    probes_counters_event(c, 0, &info);
    assert_string_equal(info.name, "cycles");
    assert_string_equal(info.countable.why_not, "hardware counters unavailable: no PMU in this virtual machine");
    assert_non_null(strstr(probes_counters_summary(c), "no PMU in this virtual machine"));
    assert_true(probes_counters_any_counting(c));
    probes_counter_window w;
    first_window(c, &w);
    assert_why_contains(metric(&w, "cycles"), "no PMU in this virtual machine");
    probes_counters_close(c);
}

static void test_events_missing_from_script_are_invalid(void **state)
{
    (void)state;
    probes_counters *c = open_fake("cycles 1 1 1\n", "cycles,instructions");
    probes_counter_window w;
    first_window(c, &w);
    assert_why_contains(&counter(&w, "instructions")->value, "not in the fake script");
    probes_counters_close(c);
}

static void test_reason_texts(void **state)
{
    (void)state;
    char why[PROBES_WHY_MAX];
    probes_machine_facts bare = {.hypervisor = 0, .cpu_pmu_present = 0, .paranoid = 2};
    probes_reason_for_errno(ENODEV, 1, 0, &bare, why, sizeof why);
    assert_non_null(strstr(why, "kernel exposes no CPU PMU"));
    probes_machine_facts with_pmu = {.hypervisor = 0, .cpu_pmu_present = 1, .paranoid = 2};
    probes_reason_for_errno(ENOENT, 1, 0, &with_pmu, why, sizeof why);
    assert_non_null(strstr(why, "not supported by this CPU's PMU"));
    probes_reason_for_errno(EOPNOTSUPP, 1, 0, &vm_without_pmu, why, sizeof why);
    assert_string_equal(why, "hardware counters unavailable: no PMU in this virtual machine");
    probes_reason_for_errno(EACCES, 0, 1, &vm_without_pmu, why, sizeof why);
    assert_non_null(strstr(why, "perf_event_paranoid is 2"));
    assert_non_null(strstr(why, "user-space-only counting was refused too"));
    probes_machine_facts locked = {.hypervisor = 0, .cpu_pmu_present = 1, .paranoid = 3};
    probes_reason_for_errno(EPERM, 1, 0, &locked, why, sizeof why);
    assert_non_null(strstr(why, "perf_event_paranoid is 3"));
    probes_reason_for_errno(EMFILE, 1, 0, &with_pmu, why, sizeof why);
    assert_non_null(strstr(why, "too many open files"));
}

/* ---- perf_event through the seam ------------------------------------------------------ */

static atomic_int seam_calls;

static int real_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static int is_hardware_attr(const struct perf_event_attr *attr)
{
    return attr->type != PERF_TYPE_SOFTWARE;
}

/* A VM without a PMU: hardware fails with ENOENT, software works. */
static int seam_no_pmu(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    atomic_fetch_add(&seam_calls, 1);
    if (is_hardware_attr(attr)) {
        errno = ENOENT;
        return -1;
    }
    return real_open(attr, pid, cpu, group_fd, flags);
}

/* paranoid refuses kernel counting; user-space-only is allowed. Counts a
 * software event in place of whatever was asked for. */
static int seam_user_only(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    atomic_fetch_add(&seam_calls, 1);
    if (!attr->exclude_kernel) {
        errno = EACCES;
        return -1;
    }
    struct perf_event_attr sw = *attr;
    sw.type = PERF_TYPE_SOFTWARE, sw.config = PERF_COUNT_SW_TASK_CLOCK;
    return real_open(&sw, pid, cpu, group_fd, flags);
}

static int seam_always_eacces(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    (void)attr, (void)pid, (void)cpu, (void)group_fd, (void)flags;
    atomic_fetch_add(&seam_calls, 1);
    errno = EACCES;
    return -1;
}

/* A PMU whose counters hold one event: members of a group get EINVAL;
 * alone, hardware events "work" (as software cpu-clock). */
static int seam_tiny_pmu(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    if (is_hardware_attr(attr) && group_fd >= 0) {
        errno = EINVAL;
        return -1;
    }
    struct perf_event_attr sw = *attr;
    sw.type = PERF_TYPE_SOFTWARE, sw.config = PERF_COUNT_SW_CPU_CLOCK;
    return real_open(&sw, pid, cpu, group_fd, flags);
}

static probes_counters *open_real(const char *events, const char *backend)
{
    char err[PROBES_WHY_MAX] = "";
    probes_counter_opts opts = {.events = events, .backend = backend, .fake_script = NULL};
    probes_counters *c = probes_counters_open(&opts, NULL, 0, err, sizeof err);
    if (!c)
        fail_msg("open failed: %s", err);
    return c;
}

static void test_default_set_on_a_vm_without_pmu(void **state)
{
    (void)state;
    probes_test_set_perf_open(seam_no_pmu);
    probes_counters *c = open_real(NULL, NULL);
    int hw = 0, sw = 0;
    for (int i = 0; i < probes_counters_event_count(c); i++) {
        probes_event_info info;
        probes_counters_event(c, i, &info);
        if (strcmp(info.backend, "perf_event") == 0) {
            hw++;
            assert_string_equal(info.countable.why_not,
                                "hardware counters unavailable: no PMU in this virtual machine");
        } else {
            sw++;
            assert_string_equal(info.backend, "software");
            assert_true(info.countable.valid);
        }
    }
    assert_int_equal(hw, 5);
    assert_int_equal(sw, 4);
    probes_counter_window w;
    first_window(c, &w);
    assert_why_contains(metric(&w, "ipc"), "no PMU in this virtual machine");
    probes_counters_close(c);
}

static void test_eacces_retries_user_space_only(void **state)
{
    (void)state;
    probes_test_set_perf_open(seam_user_only);
    atomic_store(&seam_calls, 0);
    probes_counters *c = open_real("{cycles,instructions}", "perf");
    probes_event_info info;
    for (int i = 0; i < 2; i++) {
        probes_counters_event(c, i, &info);
        assert_true(info.countable.valid);
        assert_string_equal(info.note, "user space only (perf_event_paranoid=2)");
    }
    /* cycles: refused, then retried; instructions: user-only at once. */
    assert_int_equal(atomic_load(&seam_calls), 3);
    probes_counters_close(c);
}

static void test_eacces_without_high_paranoid_is_not_retried(void **state)
{
    (void)state;
    probes_machine_facts low = {.hypervisor = 0, .cpu_pmu_present = 1, .paranoid = 1};
    probes_test_set_machine_facts(&low);
    probes_test_set_perf_open(seam_user_only);
    atomic_store(&seam_calls, 0);
    probes_counters *c = open_real("cycles", "perf");
    probes_event_info info;
    probes_counters_event(c, 0, &info);
    assert_false(info.countable.valid);
    assert_non_null(strstr(info.countable.why_not, "permission denied: perf_event_paranoid is 1"));
    assert_int_equal(atomic_load(&seam_calls), 1);
    probes_counters_close(c);
}

static void test_eacces_twice_gives_up_with_paranoid_reason(void **state)
{
    (void)state;
    probes_test_set_perf_open(seam_always_eacces);
    probes_counters *c = open_real("task-clock", NULL);
    probes_event_info info;
    probes_counters_event(c, 0, &info);
    assert_false(info.countable.valid);
    assert_non_null(strstr(info.countable.why_not, "perf_event_paranoid is 2"));
    assert_non_null(strstr(info.countable.why_not, "user-space-only counting was refused too"));
    assert_false(probes_counters_any_counting(c));
    probes_counters_close(c);
}

static void test_group_too_big_for_the_pmu_says_split_it(void **state)
{
    (void)state;
    probes_test_set_perf_open(seam_tiny_pmu);
    probes_counters *c = open_real("{cycles,instructions}", "perf");
    probes_event_info info;
    probes_counters_event(c, 0, &info);
    assert_true(info.countable.valid);
    probes_counters_event(c, 1, &info);
    assert_false(info.countable.valid);
    assert_non_null(strstr(info.countable.why_not, "cannot be scheduled together"));
    assert_non_null(strstr(info.countable.why_not, "own group"));
    probes_counters_close(c);
}

static void test_perf_group_read_matches_ids(void **state)
{
    (void)state;
    /* Hardware events through the real group read path (counted as cpu-clock). */
    probes_test_set_perf_open(seam_user_only);
    probes_counters *c = open_real("{cycles,instructions,branches}", "perf");
    probes_counter_snapshot a, b;
    probes_counters_read(c, &a);
    volatile double x = 0;
    for (int i = 0; i < 3000000; i++)
        x += i * 0.5;
    probes_counters_read(c, &b);
    probes_counter_window w;
    probes_counters_window(c, &a, &b, &w);
    for (int i = 0; i < 3; i++) {
        assert_true(w.counters[i].value.valid);
        assert_true(w.counters[i].value.value > 0);
        assert_true(w.counters[i].running_share.value == 1.0);
    }
    assert_true(metric(&w, "ipc")->valid);
    probes_counters_close(c);
}

/* ---- backend selection --------------------------------------------------------------- */

static const char *backend_of(const probes_counters *c, const char *name)
{
    static probes_event_info info;
    for (int i = 0; i < probes_counters_event_count(c); i++) {
        probes_counters_event(c, i, &info);
        if (strcmp(info.name, name) == 0)
            return info.backend;
    }
    return "absent";
}

static void test_backend_fallback_order(void **state)
{
    (void)state;
    probes_test_set_perf_open(seam_no_pmu);
    /* papi requested and available: the PAPI presets. */
    probes_test_set_papi_status(1, NULL);
    probes_counters *c = open_real(NULL, "papi");
    assert_string_equal(backend_of(c, "PAPI_TOT_CYC"), "papi");
    assert_string_equal(backend_of(c, "task-clock"), "software");
    probes_counters_close(c);
    /* papi requested but unavailable: perf_event, saying why. */
    probes_test_set_papi_status(0, "PAPI reports 0 hardware counters");
    c = open_real(NULL, "papi");
    assert_string_equal(backend_of(c, "cycles"), "perf_event");
    assert_string_equal(backend_of(c, "PAPI_TOT_CYC"), "absent");
    assert_non_null(strstr(probes_counters_summary(c), "PAPI unavailable (PAPI reports 0 hardware counters)"));
    assert_true(probes_counters_any_counting(c)); /* software still counts */
    probes_counters_close(c);
    /* auto: perf_event for hardware, software events through software. */
    c = open_real(NULL, "auto");
    assert_string_equal(backend_of(c, "cycles"), "perf_event");
    assert_string_equal(backend_of(c, "page-faults"), "software");
    probes_counters_close(c);
    /* software only. */
    c = open_real(NULL, "software");
    assert_string_equal(backend_of(c, "cycles"), "absent");
    assert_string_equal(backend_of(c, "task-clock"), "software");
    probes_counters_close(c);
}

static void test_fake_env_replaces_every_backend(void **state)
{
    (void)state;
    write_script("cycles 10 10 10\n");
    setenv("HSTPROF_FAKE_COUNTERS", script_path, 1);
    probes_counters *c = open_real(NULL, NULL);
    assert_int_equal(probes_counters_event_count(c), 1);
    assert_string_equal(backend_of(c, "cycles"), "fake");
    probes_counters_close(c);
    unsetenv("HSTPROF_FAKE_COUNTERS");
}

/* ---- bad input -------------------------------------------------------------------------- */

static void expect_open_error(const char *events, const char *backend, const char *text)
{
    char err[PROBES_WHY_MAX] = "";
    probes_counter_opts opts = {.events = events, .backend = backend, .fake_script = NULL};
    probes_counters *c = probes_counters_open(&opts, NULL, 0, err, sizeof err);
    assert_null(c);
    if (!strstr(err, text))
        fail_msg("expected '%s' in: %s", text, err);
    assert_null(strchr(err, '\n'));
}

static void test_bad_event_lists_are_one_line_errors(void **state)
{
    (void)state;
    expect_open_error("cycles,no-such-event-xyz", NULL, "unknown event 'no-such-event-xyz'");
    expect_open_error("cycles,,instructions", NULL, "empty event name");
    expect_open_error("{cycles,instructions", NULL, "'{' without '}'");
    expect_open_error("cycles}", NULL, "'}' without '{'");
    expect_open_error("{cycles,{instructions}}", NULL, "nested");
    expect_open_error("{cycles,task-clock}", NULL, "mixes");
    expect_open_error("PAPI_TOT_CYC", "perf", "is a PAPI preset");
    expect_open_error("cycles", "software", "not a software event");
    expect_open_error("cycles", "nonsense", "unknown backend 'nonsense'");
    expect_open_error(NULL, "fake", "needs a script");
    char many[2048] = "";
    for (int i = 0; i <= PROBES_MAX_EVENTS; i++)
        strcat(many, i ? ",task-clock" : "task-clock");
    expect_open_error(many, NULL, "more than");
}

static void test_bad_fake_scripts_are_rejected(void **state)
{
    (void)state;
    char err[PROBES_WHY_MAX];
    assert_null(probes_fake_script_parse("cycles 1 2\n", err, sizeof err));
    assert_non_null(strstr(err, "line 1"));
    assert_null(probes_fake_script_parse("# c\ncycles 5 10 20\n", err, sizeof err));
    assert_non_null(strstr(err, "line 2: running time 20 exceeds enabled time 10"));
    assert_null(probes_fake_script_parse("error cycles EWHATEVER\n", err, sizeof err));
    assert_non_null(strstr(err, "unknown errno name"));
    assert_null(probes_fake_script_parse("# nothing\n", err, sizeof err));
    assert_null(probes_fake_script_load("/nonexistent/script", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/script: cannot open"));
}

/* ---- software events, for real ----------------------------------------------------------- */

static void busy_ms(int ms)
{
    uint64_t until = probes_now_ns() + (uint64_t)ms * 1000000ull;
    volatile uint64_t x = 0;
    while (probes_now_ns() < until)
        x++;
}

static void test_software_events_count_on_this_machine(void **state)
{
    (void)state;
    probes_test_set_machine_facts(NULL);
    probes_counters *c = open_real(NULL, "software");
    probes_counter_snapshot a, b;
    probes_counters_read(c, &a);
    busy_ms(30);
    char *touch = malloc(1 << 22);
    assert_non_null(touch);
    memset(touch, 1, 1 << 22);
    probes_counters_read(c, &b);
    free(touch);
    probes_counter_window w;
    probes_counters_window(c, &a, &b, &w);
    const probes_counter_value *tc = counter(&w, "task-clock");
    assert_true(tc->value.valid);
    assert_true(tc->value.value > 0);
    assert_true(tc->running_share.value == 1.0);
    /* the busy loop ran for 30 ms of wall time; task-clock is CPU time, which
     * can only be less than the window's wall time */
    assert_true(tc->value.value <= (double)w.window_ns * 1.01);
    assert_true(counter(&w, "page-faults")->value.valid);
    assert_true(counter(&w, "page-faults")->value.value > 0);
    probes_counters_close(c);
}

typedef struct {
    atomic_int tid, stop;
} spinner;

static void *spin(void *arg)
{
    spinner *s = arg;
    atomic_store(&s->tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&s->stop))
        busy_ms(1);
    return NULL;
}

static void test_counts_are_summed_over_threads(void **state)
{
    (void)state;
    probes_test_set_machine_facts(NULL);
    spinner s = {0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, spin, &s), 0);
    while (!atomic_load(&s.tid))
        busy_ms(1);
    int tids[2] = {(int)syscall(SYS_gettid), atomic_load(&s.tid)};
    char err[PROBES_WHY_MAX];
    probes_counter_opts opts = {.events = "task-clock", .backend = NULL, .fake_script = NULL};
    probes_counters *both = probes_counters_open(&opts, tids, 2, err, sizeof err);
    probes_counters *other = probes_counters_open(&opts, tids + 1, 1, err, sizeof err);
    assert_non_null(both);
    assert_non_null(other);
    probes_counter_snapshot a1, a2, b1, b2;
    probes_counters_read(both, &a1);
    probes_counters_read(other, &a2);
    busy_ms(20);
    probes_counters_read(other, &b2);
    probes_counters_read(both, &b1);
    probes_counter_window w_both, w_other;
    probes_counters_window(both, &a1, &b1, &w_both);
    probes_counters_window(other, &a2, &b2, &w_other);
    assert_true(w_both.counters[0].value.valid && w_other.counters[0].value.valid);
    /* both threads' time includes the other thread's, read inside it */
    assert_true(w_both.counters[0].value.value > w_other.counters[0].value.value);
    probes_counters_close(both);
    probes_counters_close(other);
    atomic_store(&s.stop, 1);
    pthread_join(t, NULL);
}

static void test_check_event_reports_per_backend(void **state)
{
    (void)state;
    probes_test_set_perf_open(seam_no_pmu);
    probes_metric m = probes_check_event("software", "context-switches", NULL, 0);
    assert_true(m.valid);
    m = probes_check_event("perf", "cycles", NULL, 0);
    assert_string_equal(m.why_not, "hardware counters unavailable: no PMU in this virtual machine");
    probes_test_set_papi_status(0, "PAPI: test says no");
    m = probes_check_event("papi", "PAPI_TOT_CYC", NULL, 0);
    assert_string_equal(m.why_not, "PAPI: test says no");
}

static void test_perf_stat_style_text(void **state)
{
    (void)state;
    probes_counters *c = open_fake("cycles 1000000 100 50\ninstructions 3000000 100 50\nerror LLC-load-misses ENOENT\n",
                                   "{cycles,instructions,LLC-load-misses}");
    probes_counter_window w;
    first_window(c, &w);
    char line[512];
    probes_counter_format(counter(&w, "cycles"), line, sizeof line);
    assert_non_null(strstr(line, "2,000,000  cycles"));
    assert_non_null(strstr(line, "(50.00%)"));
    probes_counter_format(counter(&w, "LLC-load-misses"), line, sizeof line);
    assert_non_null(strstr(line, "<not counted>  LLC-load-misses"));
    assert_non_null(strstr(line, "no PMU in this virtual machine"));
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    probes_counter_window_print(&w, out, "  ");
    fclose(out);
    assert_non_null(strstr(text, "                 3  IPC"));
    assert_non_null(strstr(text, "<n/a>  LLC misses per 1k instructions"));
    free(text);
    probes_counters_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_multiplexed_count_scales_by_enabled_over_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_running_zero_is_invalid_multiplexed_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consecutive_windows_replay_successive_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipc_within_one_group_uses_scaled_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipc_across_groups_is_invalid_with_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_group_lines_split_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_derived_invalid_when_an_operand_was_multiplexed_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_miss_ratios_and_mpki, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llc_miss_bandwidth_is_lines_per_window_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llc_ratio_pairs_matching_events_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_denominator_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fake_enoent_reports_no_pmu_in_this_vm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_missing_from_script_are_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reason_texts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_set_on_a_vm_without_pmu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eacces_retries_user_space_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eacces_without_high_paranoid_is_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eacces_twice_gives_up_with_paranoid_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_too_big_for_the_pmu_says_split_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perf_group_read_matches_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_fallback_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fake_env_replaces_every_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_event_lists_are_one_line_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fake_scripts_are_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_software_events_count_on_this_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_are_summed_over_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_event_reports_per_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perf_stat_style_text, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
