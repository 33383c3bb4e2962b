/* test_probes_counters.c — counter sets: scaling of multiplexed counts,
 * derived metrics only within one group and one window, backend selection
 * and its fallbacks, the reasons given when counting is impossible (errno
 * injected through the fake script or the perf_event_open seam), the
 * EACCES -> user-space-only retry, software events counting for real, and
 * faults mid-run: a failed read, a read of 0 bytes or a stolen counter
 * (through fake-script directives and, for real, through the perf_event
 * path), and a reopen at the fd limit (EMFILE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "probes/internal.h"
#include "tests/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static const probes_machine_facts vm_without_pmu = {.hypervisor = 1, .cpu_pmu_present = 0, .paranoid = 2};

static char script_path[1200];

static void write_script(const char *text)
{
    snprintf(script_path, sizeof script_path, "%s/fake-counters.txt", harness_workdir());
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
    uint64_t until = hst_now_ns() + (uint64_t)ms * 1000000ull;
    volatile uint64_t x = 0;
    while (hst_now_ns() < until)
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

/* ---- faults mid-run (issue 7) ----------------------------------------------------------------
 * A counter set that opened fine and then fails: a read error, a read of 0
 * bytes, or its counters taken by another user. The group is lost with the
 * reason, its fds closed; the other groups go on; windows that reach past
 * the loss are invalid, never a garbage delta. */

static const char *const split_groups_script = "group cycles,instructions\n"
                                               "cycles 1000 100 100\n"
                                               "instructions 3000 100 100\n"
                                               "group task-clock\n"
                                               "task-clock 50 100 100\n";

static probes_counters *open_fake_with(const char *faults)
{
    char script[1024];
    snprintf(script, sizeof script, "%s%s", split_groups_script, faults);
    return open_fake(script, NULL);
}

static void read_n(probes_counters *c, probes_counter_snapshot *s, int n)
{
    for (int i = 0; i < n; i++)
        probes_counters_read(c, &s[i]);
}

static void assert_summary_contains(const probes_counters *c, const char *text)
{
    if (!strstr(probes_counters_summary(c), text))
        fail_msg("expected '%s' in the summary: %s", text, probes_counters_summary(c));
}

static void test_failed_read_loses_the_group_with_the_reason(void **state)
{
    (void)state;
    probes_counters *c = open_fake_with("fail instructions 2 ENODEV\n");
    probes_counter_snapshot s[4];
    read_n(c, s, 4);
    probes_counter_window w;
    /* before the loss: whole, as read */
    probes_counters_window(c, &s[0], &s[1], &w);
    assert_true(counter(&w, "cycles")->value.value == 1000.0);
    assert_true(metric(&w, "ipc")->valid);
    /* the window that ends at the failed read, and every one after it */
    for (int k = 1; k <= 2; k++) {
        probes_counters_window(c, &s[k], &s[k + 1], &w);
        assert_why_contains(&counter(&w, "cycles")->value, "lost mid-run at ");
        assert_why_contains(&counter(&w, "instructions")->value, "read failed: No such device (ENODEV)");
        assert_why_contains(metric(&w, "ipc"), "lost mid-run");
        assert_true(counter(&w, "task-clock")->value.valid);
        assert_true(counter(&w, "task-clock")->value.value == 50.0);
    }
    /* spanning it */
    probes_counters_window(c, &s[0], &s[3], &w);
    assert_why_contains(&counter(&w, "cycles")->value, "lost mid-run");
    assert_true(counter(&w, "task-clock")->value.value == 150.0);
    probes_event_info info;
    probes_counters_event(c, 0, &info);
    assert_why_contains(&info.countable, "lost mid-run at ");
    assert_summary_contains(c, "group 0 (fake): 0 of 2 counting (lost mid-run at ");
    assert_summary_contains(c, "read failed: No such device (ENODEV)); group 1 (fake): 1 of 1 counting");
    assert_true(probes_counters_any_counting(c));
    /* closed at once, and never read again */
    assert_true(c->groups[0].lost);
    assert_null(c->groups[0].state);
    assert_false(s[3].ok[0] || s[3].ok[1]);
    probes_counters_close(c);
}

static void test_failed_read_before_any_window_is_invalid_from_the_start(void **state)
{
    (void)state;
    probes_counters *c = open_fake_with("fail cycles 1 EIO\n");
    probes_counter_snapshot s[3];
    read_n(c, s, 3);
    probes_counter_window w;
    probes_counters_window(c, &s[0], &s[1], &w);
    assert_why_contains(&counter(&w, "cycles")->value, "read failed: Input/output error (EIO)");
    assert_true(counter(&w, "task-clock")->value.valid);
    probes_counters_close(c);
}

static void test_read_of_zero_bytes_loses_the_group(void **state)
{
    (void)state;
    probes_counters *c = open_fake_with("eof cycles 2\n");
    probes_counter_snapshot s[3];
    read_n(c, s, 3);
    probes_counter_window w;
    probes_counters_window(c, &s[0], &s[1], &w);
    assert_true(counter(&w, "cycles")->value.valid);
    probes_counters_window(c, &s[1], &s[2], &w);
    assert_why_contains(&counter(&w, "cycles")->value, "read returned no data: the kernel put the group in error state");
    assert_why_contains(&counter(&w, "instructions")->value, "lost mid-run");
    assert_true(counter(&w, "task-clock")->value.valid);
    assert_summary_contains(c, "0 of 2 counting (lost mid-run");
    probes_counters_close(c);
}

static void test_every_group_can_be_lost_and_nothing_counts(void **state)
{
    (void)state;
    probes_counters *c = open_fake_with("fail cycles 1 ENODEV\nfail task-clock 3 EIO\n");
    probes_counter_snapshot s[5];
    read_n(c, s, 5);
    assert_false(probes_counters_any_counting(c));
    assert_summary_contains(c, "group 0 (fake): 0 of 2 counting (lost mid-run");
    assert_summary_contains(c, "group 1 (fake): 0 of 1 counting (lost mid-run");
    probes_counter_window w;
    probes_counters_window(c, &s[1], &s[2], &w);
    assert_true(counter(&w, "task-clock")->value.valid); /* before its own loss */
    probes_counters_window(c, &s[3], &s[4], &w);
    assert_why_contains(&counter(&w, "task-clock")->value, "Input/output error (EIO)");
    probes_counters_close(c);
}

/* 0.6 s of enabled time per read: three stolen reads make a long stretch. */
static const char *const stolen_script = "cycles 1000 600000000 600000000\n"
                                         "task-clock 50 600000000 600000000\n"
                                         "group cycles\n"
                                         "group task-clock\n";

static void test_stolen_counter_is_multiplexed_out_per_window(void **state)
{
    (void)state;
    char script[512];
    snprintf(script, sizeof script, "%sstolen cycles 2 4\n", stolen_script);
    probes_counters *c = open_fake(script, NULL);
    probes_counter_snapshot s[7];
    read_n(c, s, 3);
    probes_counter_window w;
    probes_counters_window(c, &s[1], &s[2], &w);
    const probes_counter_value *v = counter(&w, "cycles");
    assert_why_contains(&v->value, "not counted: multiplexed out");
    assert_int_equal(v->raw, 0);
    assert_int_equal(v->time_enabled_ns, 600000000);
    assert_true(counter(&w, "task-clock")->value.valid);
    /* 0.6 s: ordinary multiplexing could do that; not summarised yet */
    assert_null(strstr(probes_counters_summary(c), "no PMU time"));
    read_n(c, s + 3, 1);
    /* 1.2 s without PMU time: summarised, the events still listed as counting */
    assert_summary_contains(c, "group 0 (fake): 1 of 1 counting, but no PMU time since ");
    assert_summary_contains(c, "its counters are taken by another user");
    read_n(c, s + 4, 3);
    /* read 5 ran again: the stretch (reads 2..4, 1.8 s) is over, and said so */
    assert_summary_contains(c, "no PMU time from ");
    assert_summary_contains(c, "(1.8 s of counting per thread; its counters were taken by another user");
    probes_counters_window(c, &s[5], &s[6], &w);
    assert_true(counter(&w, "cycles")->value.value == 1000.0);
    /* a window that spans the stretch is scaled, as perf stat would */
    probes_counters_window(c, &s[0], &s[6], &w);
    assert_true(counter(&w, "cycles")->value.valid);
    assert_true(counter(&w, "cycles")->running_share.value == 0.5);
    probes_counters_close(c);
}

static void test_short_stolen_stretch_is_not_summarised(void **state)
{
    (void)state;
    char script[512];
    snprintf(script, sizeof script, "%sstolen cycles 2 2\nstolen cycles 4 4\n", stolen_script);
    probes_counters *c = open_fake(script, NULL);
    probes_counter_snapshot s[6];
    read_n(c, s, 6);
    assert_null(strstr(probes_counters_summary(c), "no PMU time"));
    probes_counters_close(c);
}

/* perf_event for real: software events whose leader fd is replaced under
 * the set by something read() fails on, as when the kernel drops the PMU. */
static int recorded_fds[8], n_recorded;

static int seam_record(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    int fd = real_open(attr, pid, cpu, group_fd, flags);
    if (fd >= 0 && n_recorded < 8)
        recorded_fds[n_recorded++] = fd;
    return fd;
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static probes_counters *open_recorded_two_groups(void)
{
    n_recorded = 0;
    probes_test_set_perf_open(seam_record);
    int tid = (int)syscall(SYS_gettid);
    char err[PROBES_WHY_MAX] = "";
    probes_counter_opts opts = {.events = "{task-clock,page-faults},{context-switches}", .backend = "software"};
    probes_counters *c = probes_counters_open(&opts, &tid, 1, err, sizeof err);
    if (!c)
        fail_msg("open failed: %s", err);
    assert_int_equal(n_recorded, 3);
    return c;
}

static void perf_group_lost_when_leader_reads(const char *replacement, int flags, const char *reason)
{
    probes_counters *c = open_recorded_two_groups();
    probes_counter_snapshot a, b, d;
    probes_counters_read(c, &a);
    busy_ms(5);
    int fd = open(replacement, flags);
    assert_true(fd >= 0);
    assert_true(dup2(fd, recorded_fds[0]) == recorded_fds[0]);
    close(fd);
    probes_counters_read(c, &b);
    /* the lost group's fds are closed at once; the other group's are not */
    assert_false(fd_is_open(recorded_fds[0]));
    assert_false(fd_is_open(recorded_fds[1]));
    assert_true(fd_is_open(recorded_fds[2]));
    busy_ms(5);
    probes_counters_read(c, &d);
    probes_counter_window w;
    probes_counters_window(c, &a, &b, &w);
    assert_why_contains(&counter(&w, "task-clock")->value, reason);
    assert_why_contains(&counter(&w, "page-faults")->value, "lost mid-run at ");
    assert_true(counter(&w, "context-switches")->value.valid);
    probes_counters_window(c, &b, &d, &w);
    assert_why_contains(&counter(&w, "task-clock")->value, reason);
    assert_true(counter(&w, "context-switches")->value.valid);
    assert_summary_contains(c, "group 0 (software): 0 of 2 counting (lost mid-run");
    assert_summary_contains(c, "group 1 (software): 1 of 1 counting");
    probes_counters_close(c);
    assert_false(fd_is_open(recorded_fds[2]));
}

static void test_perf_read_of_zero_bytes_loses_the_group(void **state)
{
    (void)state;
    probes_test_set_machine_facts(NULL);
    perf_group_lost_when_leader_reads("/dev/null", O_RDONLY, "read returned no data");
}

static void test_perf_read_error_loses_the_group_naming_the_thread(void **state)
{
    (void)state;
    probes_test_set_machine_facts(NULL);
    char reason[128];
    snprintf(reason, sizeof reason, "read failed: Is a directory (EISDIR) on thread %d", (int)syscall(SYS_gettid));
    perf_group_lost_when_leader_reads("/", O_RDONLY | O_DIRECTORY, reason);
}

/* A reopen (the dashboard reopens on a thread or model change, beside the
 * set still open) that meets the fd limit: the new set opens with every
 * event invalid and the reason; the old one still counts. */
static void test_reopen_at_the_fd_limit_says_emfile(void **state)
{
    (void)state;
    probes_test_set_machine_facts(NULL);
    probes_counters *old = open_real(NULL, "software");
    struct rlimit saved, tight;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    int lowest_free = open("/dev/null", O_RDONLY);
    assert_true(lowest_free >= 0);
    close(lowest_free);
    tight = saved;
    tight.rlim_cur = (rlim_t)lowest_free; /* no new fd at all */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
    char err[PROBES_WHY_MAX] = "";
    probes_counter_opts opts = {.events = NULL, .backend = "software"};
    probes_counters *fresh = probes_counters_open(&opts, NULL, 0, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    assert_non_null(fresh);
    assert_false(probes_counters_any_counting(fresh));
    probes_event_info info;
    probes_counters_event(fresh, 0, &info);
    assert_why_contains(&info.countable, "too many open files (EMFILE)");
    assert_why_contains(&info.countable, "raise ulimit -n");
    assert_summary_contains(fresh, "0 of 4 counting (too many open files (EMFILE)");
    probes_counter_window w;
    first_window(fresh, &w);
    assert_why_contains(&counter(&w, "task-clock")->value, "EMFILE");
    first_window(old, &w);
    assert_true(counter(&w, "task-clock")->value.valid);
    probes_counters_close(fresh);
    probes_counters_close(old);
}

static void expect_script_error(const char *text, const char *expected)
{
    write_script(text);
    char err[PROBES_WHY_MAX] = "";
    assert_null(probes_fake_script_load(script_path, err, sizeof err));
    char where[sizeof script_path + 300];
    snprintf(where, sizeof where, "%s:%s", script_path, expected);
    if (!strstr(err, where))
        fail_msg("expected '%s' in: %s", where, err);
    assert_null(strchr(err, '\n'));
}

static void test_malformed_script_lines_name_file_and_line(void **state)
{
    (void)state;
    /* blank and comment lines count: the bad line is line 4 */
    expect_script_error("cycles 1 2 2\n\n# comment\ncycles 1 x 3\n", "4: time_enabled_ns 'x' is not a non-negative whole number");
    expect_script_error("cycles -1 2 2\n", "1: raw count '-1' is not a non-negative whole number");
    expect_script_error("cycles 1 2 2junk\n", "1: time_running_ns '2junk' is not");
    expect_script_error("cycles 99999999999999999999999 2 2\n", "1: raw count '99999999999999999999999' is too large");
    expect_script_error("cycles 1 2\n", "1: expected '<event> <raw> <time_enabled_ns> <time_running_ns>'");
    expect_script_error("cycles 1 2 2\nfail cycles 2 EWHATEVER\n", "2: unknown errno name 'EWHATEVER'");
    expect_script_error("cycles 1 2 2\nfail cycles two EIO\n", "2: read index 'two' is not");
    expect_script_error("cycles 1 2 2\nfail cycles 2\n", "2: expected 'fail <event> <read_index> <ERRNO>'");
    expect_script_error("cycles 1 2 2\neof cycles\n", "2: expected 'eof <event> <read_index>'");
    expect_script_error("cycles 1 2 2\nstolen cycles 5 2\n", "2: stolen: last read 2 comes before first read 5");
    expect_script_error("cycles 1 2 2\nstolen cycles 5\n", "2: expected 'stolen <event> <from_read> <to_read>'");
    expect_script_error("error cycles\n", "1: expected 'error <event> <ERRNO>'");
    expect_script_error("group\n", "1: expected 'group <event>,<event>,...'");
    expect_script_error("a 1 2 3 4 5 6\n", "1: too many words");
}

static void test_fault_directives_parse_any_errno_name(void **state)
{
    (void)state;
    char err[PROBES_WHY_MAX] = "";
    probes_fake_script *s = probes_fake_script_parse("cycles 1 2 2\nfail cycles 3 ENXIO\nfail cycles 9 EBADF\n"
                                                     "eof cycles 4\nstolen cycles 5 7\n\terror  cycles   EBUSY \n",
                                                     err, sizeof err);
    if (!s)
        fail_msg("%s", err);
    probes_fake_script_free(s);
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
        cmocka_unit_test_setup_teardown(test_failed_read_loses_the_group_with_the_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_read_before_any_window_is_invalid_from_the_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_of_zero_bytes_loses_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_group_can_be_lost_and_nothing_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stolen_counter_is_multiplexed_out_per_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_stolen_stretch_is_not_summarised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perf_read_of_zero_bytes_loses_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perf_read_error_loses_the_group_naming_the_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_at_the_fd_limit_says_emfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_script_lines_name_file_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_directives_parse_any_errno_name, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
