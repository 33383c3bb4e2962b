/* test_settings.c — the checks behind issue 7's bad settings, as functions:
 * the PU budget (the allowed CPU set, not the machine), threads against it,
 * affinity plans that make threads share PUs, --oversubscribe, output paths
 * checked before the work, the profile line a value came from, and the
 * dashboard's A/B offer on a 1-PU budget. The same settings through the
 * real binary are in tests/e2e_bad_settings.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "profiles/profiles.h"
#include "tests/harness.h"
#include "tui/internal.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

static void assert_contains(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("'%s' does not contain '%s'", text, want);
}

/* ---- threads against the PU budget ---------------------------------------------- */

static void test_threads_fit_the_allowed_pus_only(void **state)
{
    (void)state;
    char why[200] = "";
    const probes_pu_budget whole = {2, 2}, pinned = {1, 4}, single = {1, 1};
    assert_int_equal(probes_threads_fit(1, whole, why, sizeof why), 1);
    assert_int_equal(probes_threads_fit(2, whole, why, sizeof why), 1);
    assert_int_equal(probes_threads_fit(3, whole, why, sizeof why), 0);
    assert_string_equal(why, "this machine has 2 PUs");
    assert_int_equal(probes_threads_fit(2, pinned, why, sizeof why), 0);
    assert_contains(why, "only 1 of this machine's 4 PUs is allowed to this process");
    assert_int_equal(probes_threads_fit(2, single, why, sizeof why), 0);
    assert_string_equal(why, "this machine has 1 PU");
}

/* taskset -c N: the budget is the process's allowed set, whatever the machine has. */
/* The budget is the process's CPU set as it was at the first question (the
 * argument checks, before any binding): binding a thread later, as pool
 * thread 0 is bound on the calling thread, must not shrink it. A process
 * started under taskset is covered end to end in tests/e2e_bad_settings.sh. */
static void test_budget_is_the_cpu_set_the_process_was_given(void **state)
{
    (void)state;
    cpu_set_t before, one;
    assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
    probes_pu_budget b = probes_pu_budget_get();
    assert_int_equal(b.allowed, CPU_COUNT(&before));
    assert_true(b.machine >= b.allowed);
    int first = 0;
    while (!CPU_ISSET(first, &before))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    probes_pu_budget bound = probes_pu_budget_get();
    assert_int_equal(sched_setaffinity(0, sizeof before, &before), 0);
    assert_int_equal(bound.allowed, b.allowed);
    assert_int_equal(bound.machine, b.machine);
}

static probes_placement placement(int threads, const char *affinity, int oversubscribe)
{
    probes_placement p = {threads, "--threads N", affinity, NULL, oversubscribe};
    return p;
}

static void test_placement_rejects_zero_negative_and_too_many_threads(void **state)
{
    (void)state;
    char why[600];
    const int counts[] = {0, -1, PROBES_MAX_THREADS + 1};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        probes_placement p = placement(counts[i], "none", 1);
        assert_int_equal(probes_check_placement(&p, NULL, why, sizeof why), -1);
        assert_contains(why, "--threads N: expected 1 to 256 threads");
    }
}

static void test_placement_above_the_pus_needs_oversubscribe(void **state)
{
    (void)state;
    char why[600];
    int shared = -1;
    int over = probes_pu_budget_get().allowed + 1;
    probes_placement p = placement(over, "none", 0);
    p.threads_what = "x.ini:4: threads = 9";
    assert_int_equal(probes_check_placement(&p, &shared, why, sizeof why), -1);
    assert_contains(why, "x.ini:4: threads = 9: ");
    assert_contains(why, "threads would share PUs and timings would not scale; add --oversubscribe to run anyway");
    assert_null(strchr(why, '\n'));
    p.oversubscribe = 1;
    assert_int_equal(probes_check_placement(&p, &shared, why, sizeof why), 0);
    assert_int_equal(shared, 1);
    p = placement(1, "none", 0);
    assert_int_equal(probes_check_placement(&p, &shared, why, sizeof why), 0);
    assert_int_equal(shared, 0);
}

/* Two threads on a one-PU list share it even when the machine has PUs to spare. */
static void test_an_affinity_list_shorter_than_the_threads_shares_pus(void **state)
{
    (void)state;
    char why[600];
    int shared = 0;
    probes_placement p = placement(2, "0", 0);
    assert_int_equal(probes_check_placement(&p, &shared, why, sizeof why), -1);
    if (probes_pu_budget_get().allowed >= 2)
        assert_contains(why, "--threads N: --affinity 0 places them on 1 PU");
    p = placement(2, "0,0", 0);
    assert_int_equal(probes_check_placement(&p, &shared, why, sizeof why), -1);
    p.oversubscribe = 1;
    assert_int_equal(probes_check_placement(&p, &shared, why, sizeof why), 0);
    assert_int_equal(shared, 1);
}

static void test_affinity_errors_name_the_setting(void **state)
{
    (void)state;
    char why[600];
    probes_placement p = placement(1, "0,999", 1);
    assert_int_equal(probes_check_placement(&p, NULL, why, sizeof why), -1);
    assert_contains(why, "--affinity 0,999: PU 999 does not exist on this machine");
    p.affinity_what = "x.ini:2: affinity = 0,999";
    assert_int_equal(probes_check_placement(&p, NULL, why, sizeof why), -1);
    assert_contains(why, "x.ini:2: affinity = 0,999: PU 999 does not exist");
    p = placement(1, "", 1);
    assert_int_equal(probes_check_placement(&p, NULL, why, sizeof why), -1);
    assert_contains(why, "--affinity is empty");
    p = placement(1, "5-3", 1);
    assert_int_equal(probes_check_placement(&p, NULL, why, sizeof why), -1);
    assert_contains(why, "runs backwards");
    p = placement(1, "0\nmore", 1); /* one line, whatever argv held */
    assert_int_equal(probes_check_placement(&p, NULL, why, sizeof why), -1);
    assert_null(strchr(why, '\n'));
}

/* ---- output paths, before the work ------------------------------------------------ */

static void expect_output_error(const char *path, const char *want)
{
    char err[2400] = "";
    if (args_check_output_path("--export", path, err, sizeof err) != -1)
        fail_msg("'%s' passed the check", path);
    assert_contains(err, want);
    assert_null(strchr(err, '\n'));
}

static void test_output_paths_are_checked_before_the_run(void **state)
{
    (void)state;
    char path[600], file[400], err[2400];
    snprintf(path, sizeof path, "%s/report.md", tmpdir);
    assert_int_equal(args_check_output_path("--export", path, err, sizeof err), 0);
    assert_false(harness_file_exists(path)); /* a check, not a write */
    assert_int_equal(args_check_output_path("-o", "bare-name.md", err, sizeof err), 0); /* the current directory */
    expect_output_error("", "--export: the file name is empty");
    expect_output_error(tmpdir, "is a directory; name a file");
    snprintf(path, sizeof path, "%s/missing/report.md", tmpdir);
    expect_output_error(path, "missing does not exist");
    snprintf(file, sizeof file, "%s/plain", tmpdir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/report.md", file);
    expect_output_error(path, "plain is not a directory");
    snprintf(path, sizeof path, "%s/missing/a\nb.md", tmpdir);
    expect_output_error(path, "a?b.md"); /* control characters shown as '?' */
}

/* Root writes through permission bits: as root the check runs in a child
 * that became an unprivileged user. */
static void test_output_path_in_an_unwritable_directory(void **state)
{
    (void)state;
    char dir[400], path[500], err[2400] = "";
    snprintf(dir, sizeof dir, "%s/locked", tmpdir);
    assert_int_equal(mkdir(dir, 0555), 0);
    snprintf(path, sizeof path, "%s/x.md", dir);
    if (geteuid() != 0) {
        expect_output_error(path, "cannot write in directory");
        return;
    }
    assert_int_equal(chmod(tmpdir, 0755), 0); /* let the child reach dir */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const uid_t nobody = 65534;
        int ok = setgid(nobody) == 0 && setuid(nobody) == 0 &&
                 args_check_output_path("--export", path, err, sizeof err) == -1 &&
                 strstr(err, "cannot write in directory") != NULL;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(chmod(tmpdir, 0700), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- the profile line a value came from --------------------------------------------- */

static void test_profile_notes_where_threads_and_affinity_were_set(void **state)
{
    (void)state;
    hst_settings s;
    char err[512];
    settings_defaults(&s);
    const char text[] = "# two keys\nmodel = hst-v4\nthreads = 8\n\naffinity = 0,3\n";
    assert_int_equal(profile_parse(text, sizeof text - 1, "p/x.ini", &s, err, sizeof err), 0);
    assert_int_equal(s.threads, 8);
    assert_string_equal(s.threads_from, "p/x.ini:3");
    assert_string_equal(s.affinity_from, "p/x.ini:5");
    settings_defaults(&s);
    const char none[] = "seed = 4\n";
    assert_int_equal(profile_parse(none, sizeof none - 1, "y.ini", &s, err, sizeof err), 0);
    assert_string_equal(s.threads_from, "");
    assert_string_equal(s.affinity_from, "");
}

/* ---- the dashboard's A/B offer -------------------------------------------------------- */

static void test_ab_dialog_offers_shared_pus_only_when_allowed(void **state)
{
    (void)state;
    struct ui_state ui;
    live_status st;
    memset(&ui, 0, sizeof ui);
    memset(&st, 0, sizeof st);
    st.setting.threads = 1;
    snprintf(st.setting.model, sizeof st.setting.model, "hst-v4");
    snprintf(st.setting.affinity, sizeof st.setting.affinity, "none");
    st.pu_count = 1;
    ui.budget = (probes_pu_budget){1, 1};
    dialogs_build_ab_choices(&ui, &st);
    assert_true(ui.n_ab > 0);
    assert_int_equal(ui.ab[0].b.threads, 2);
    assert_int_equal(ui.ab[0].available, 0);
    assert_contains(ui.ab[0].why_not, "this machine has 1 PU; start with --oversubscribe");
    ui.oversubscribe = 1;
    dialogs_build_ab_choices(&ui, &st);
    assert_int_equal(ui.ab[0].available, 1);
    ui.oversubscribe = 0;
    ui.budget = (probes_pu_budget){4, 4};
    dialogs_build_ab_choices(&ui, &st);
    assert_int_equal(ui.ab[0].a.threads, 1);
    assert_int_equal(ui.ab[0].b.threads, 4);
    assert_int_equal(ui.ab[0].available, 1);
}

static int setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmpdir, sizeof tmpdir, "settings");
}

static int teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_fit_the_allowed_pus_only),
        cmocka_unit_test(test_budget_is_the_cpu_set_the_process_was_given),
        cmocka_unit_test(test_placement_rejects_zero_negative_and_too_many_threads),
        cmocka_unit_test(test_placement_above_the_pus_needs_oversubscribe),
        cmocka_unit_test(test_an_affinity_list_shorter_than_the_threads_shares_pus),
        cmocka_unit_test(test_affinity_errors_name_the_setting),
        cmocka_unit_test(test_output_paths_are_checked_before_the_run),
        cmocka_unit_test(test_output_path_in_an_unwritable_directory),
        cmocka_unit_test(test_profile_notes_where_threads_and_affinity_were_set),
        cmocka_unit_test(test_ab_dialog_offers_shared_pus_only_when_allowed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
