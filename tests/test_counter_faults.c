/* test_counter_faults.c — issue 7, point 4, end to end: counters that fail
 * while `hstprof run` generates (a failed read, a read of 0 bytes, a counter
 * taken by another user, injected through the fake backend's script; and,
 * for real, perf_event_open refused with EMFILE under a low `ulimit -n`)
 * degrade to what still counts, with the reason in the text and JSON
 * summaries, and never stop generation: exit 0, every token generated, the
 * same tokens as a run without faults. The dashboard's counters panel shows
 * the reason too. Runs the binary in $HSTPROF (release, then ASan+UBSan
 * through run_all.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_ARGS "run -n 64 --threads 1 --format json"

static char dir[256];
static json_t *baseline; /* the tokens of a run without faults */

/* Two groups, as the default set has: "hardware" and "software". */
static const char *const base_script = "group cycles,instructions\n"
                                       "cycles 1000000 1000000 1000000\n"
                                       "instructions 2000000 1000000 1000000\n"
                                       "group task-clock,page-faults\n"
                                       "task-clock 1000000 1000000 1000000\n"
                                       "page-faults 10 1000000 1000000\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* "$HSTPROF <args>" with HSTPROF_FAKE_COUNTERS = script. */
static cli_result run_with_script(const char *script, const char *args)
{
    char path[512];
    snprintf(path, sizeof path, "%s/faults.txt", dir);
    write_file(path, script);
    setenv("HSTPROF_FAKE_COUNTERS", path, 1);
    cli_result r = harness_run(dir, "%s", args);
    unsetenv("HSTPROF_FAKE_COUNTERS");
    return r;
}

/* ... with base_script followed by the fault directives. */
static cli_result run_with_faults(const char *faults, const char *args)
{
    char script[2048];
    snprintf(script, sizeof script, "%s%s", base_script, faults);
    return run_with_script(script, args);
}

static json_t *parse_json(const char *text)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    if (!o)
        fail_msg("stdout is not JSON (%s): %.300s", jerr.text, text);
    return o;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle))
        fail_msg("expected '%s' in: %.600s", needle, haystack ? haystack : "(null)");
}

/* Generation went on: exit 0, nothing on stderr, all 64 tokens, the
 * baseline's tokens. */
static json_t *assert_generation_unharmed(cli_result *r)
{
    if (r->status != 0)
        fail_msg("exit %d, stderr: %s", r->status, r->err);
    assert_string_equal(r->err, "");
    json_t *o = parse_json(r->out);
    assert_int_equal(json_integer_value(json_object_get(o, "tokens_generated")), 64);
    json_t *tokens = json_object_get(o, "generated");
    assert_int_equal(json_array_size(tokens), 64);
    assert_true(json_equal(tokens, baseline));
    return o;
}

static const char *summary_of(json_t *o)
{
    return json_string_value(json_object_get(json_object_get(o, "counters"), "summary"));
}

static json_t *event_in(json_t *o, const char *phase, const char *name)
{
    json_t *events = json_object_get(json_object_get(json_object_get(o, "counters"), phase), "events");
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return e;
    }
    fail_msg("no event %s in the %s window", name, phase);
    return NULL;
}

static void assert_counted(json_t *o, const char *phase, const char *name)
{
    json_t *e = event_in(o, phase, name);
    if (!json_is_number(json_object_get(e, "value")))
        fail_msg("%s in %s not counted: %s", name, phase,
                 json_string_value(json_object_get(e, "value_why_not")));
}

static void assert_not_counted(json_t *o, const char *phase, const char *name, const char *why)
{
    json_t *e = event_in(o, phase, name);
    assert_true(json_is_null(json_object_get(e, "value")));
    assert_contains(json_string_value(json_object_get(e, "value_why_not")), why);
}

static int setup(void **state)
{
    (void)state;
    unsetenv("HSTPROF_FAKE_COUNTERS");
    if (harness_make_tmpdir(dir, sizeof dir, "counter-faults") != 0)
        return -1;
    cli_result r = run_with_faults("", RUN_ARGS);
    json_error_t jerr;
    json_t *o = r.status == 0 ? json_loads(r.out, 0, &jerr) : NULL;
    harness_done(&r);
    if (!o)
        return -1;
    baseline = json_incref(json_object_get(o, "generated"));
    json_decref(o);
    return json_array_size(baseline) == 64 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(baseline);
    harness_remove_tmpdir(dir);
    return 0;
}

/* ---- hstprof run with faults from the fake script ------------------------------------ */

static void test_run_real_counters_give_the_baseline_tokens(void **state)
{
    (void)state;
    cli_result r = harness_run(dir, RUN_ARGS);
    json_decref(assert_generation_unharmed(&r));
    harness_done(&r);
}

static void test_read_failing_at_the_end_of_decode(void **state)
{
    (void)state;
    cli_result r = run_with_faults("fail cycles 2 ENODEV\n", RUN_ARGS);
    json_t *o = assert_generation_unharmed(&r);
    assert_contains(summary_of(o), "group 0 (fake): 0 of 2 counting (lost mid-run at ");
    assert_contains(summary_of(o), "read failed: No such device (ENODEV)); group 1 (fake): 2 of 2 counting");
    /* read before the loss: whole; the window ending at the failed read: invalid */
    assert_counted(o, "prefill", "cycles");
    assert_not_counted(o, "decode", "cycles", "lost mid-run at ");
    assert_not_counted(o, "decode", "instructions", "No such device (ENODEV)");
    assert_counted(o, "decode", "task-clock");
    assert_counted(o, "decode", "page-faults");
    json_t *ipc = json_object_get(json_object_get(json_object_get(o, "counters"), "decode"), "derived");
    assert_true(json_is_null(json_object_get(ipc, "ipc")));
    assert_contains(json_string_value(json_object_get(ipc, "ipc_why_not")), "lost mid-run");
    json_decref(o);
    harness_done(&r);
}

static void test_read_failing_after_prefill(void **state)
{
    (void)state;
    cli_result r = run_with_faults("fail instructions 1 EIO\n", RUN_ARGS);
    json_t *o = assert_generation_unharmed(&r);
    assert_not_counted(o, "prefill", "cycles", "read failed: Input/output error (EIO)");
    assert_not_counted(o, "decode", "cycles", "read failed: Input/output error (EIO)");
    assert_counted(o, "prefill", "task-clock");
    assert_counted(o, "decode", "task-clock");
    json_decref(o);
    harness_done(&r);
}

static void test_read_of_zero_bytes(void **state)
{
    (void)state;
    cli_result r = run_with_faults("eof cycles 2\n", RUN_ARGS);
    json_t *o = assert_generation_unharmed(&r);
    assert_contains(summary_of(o), "0 of 2 counting (lost mid-run at ");
    assert_not_counted(o, "decode", "cycles", "read returned no data: the kernel put the group in error state");
    assert_counted(o, "decode", "task-clock");
    json_decref(o);
    harness_done(&r);
}

static void test_software_group_lost_too(void **state)
{
    (void)state;
    cli_result r = run_with_faults("fail cycles 1 ENODEV\nfail task-clock 2 EBADF\n", RUN_ARGS);
    json_t *o = assert_generation_unharmed(&r);
    assert_contains(summary_of(o), "group 1 (fake): 0 of 2 counting (lost mid-run at ");
    assert_counted(o, "prefill", "task-clock");
    assert_not_counted(o, "decode", "task-clock", "Bad file descriptor (EBADF)");
    json_decref(o);
    harness_done(&r);
}

/* 0.7 s of enabled time per read: cycles taken from the prefill's end on
 * is 1.4 s without PMU time by the end of the run, which is summarised. */
static void test_counter_stolen(void **state)
{
    (void)state;
    cli_result r = run_with_script("group cycles,instructions\n"
                                   "cycles 1000000 700000000 700000000\n"
                                   "instructions 2000000 700000000 700000000\n"
                                   "group task-clock\n"
                                   "task-clock 1000000 1000000 1000000\n"
                                   "stolen cycles 1 2\n",
                                   RUN_ARGS);
    json_t *o = assert_generation_unharmed(&r);
    assert_not_counted(o, "prefill", "cycles", "not counted: multiplexed out");
    assert_not_counted(o, "decode", "cycles", "not counted: multiplexed out");
    assert_counted(o, "decode", "instructions");
    assert_counted(o, "decode", "task-clock");
    assert_contains(summary_of(o), "group 0 (fake): 2 of 2 counting, but no PMU time since ");
    assert_contains(summary_of(o), "its counters are taken by another user");
    json_decref(o);
    harness_done(&r);
}

static void test_text_summary_shows_the_reason(void **state)
{
    (void)state;
    cli_result r = run_with_faults("fail cycles 2 ENODEV\n", "run -n 64 --threads 1");
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\ncounters    group 0 (fake): 0 of 2 counting (lost mid-run at ");
    assert_contains(r.out, "IPC                                unavailable (instructions: lost mid-run");
    assert_contains(r.out, "decode   task-clock ");
    harness_done(&r);
}

/* Read once per token: the loss comes mid-decode; the trace's counter
 * deltas stop there (empty cells), the software group's go on. */
static void test_trace_rows_after_a_loss_are_empty(void **state)
{
    (void)state;
    char args[600], path[512];
    snprintf(path, sizeof path, "%s/trace.csv", dir);
    snprintf(args, sizeof args, "%s --trace %s", RUN_ARGS, path);
    cli_result r = run_with_faults("fail cycles 20 ENODEV\n", args);
    json_t *o = assert_generation_unharmed(&r);
    assert_not_counted(o, "decode", "cycles", "lost mid-run");
    char *csv = harness_slurp(path);
    assert_int_equal(harness_count_lines(csv), 65); /* header + prefill + 63 decode rows, CRLF */
    assert_contains(csv, ",counter.cycles_delta,counter.instructions_delta,counter.task-clock_delta,"
                         "counter.page-faults_delta\r\n");
    assert_contains(csv, "\n0,prefill,");
    const char *last = strrchr(csv, '\n');
    while (last > csv && last[-1] != '\n')
        last--;
    assert_contains(last, "63,decode,");
    assert_contains(last, ",,,1000000,10\r\n"); /* cycles, instructions empty; software counted */
    free(csv);
    json_decref(o);
    harness_done(&r);
}

/* ---- for real: perf_event_open at the fd limit ----------------------------------------- */

/* "$HSTPROF args..." with only fds 0-2 open and RLIMIT_NOFILE at limit;
 * stdout and stderr to files in dir, read into r. */
static cli_result run_with_fd_limit(int limit, const char *const *args)
{
    char out[512], err[512];
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644),
            e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        for (int fd = 3; fd < 4096; fd++)
            close(fd);
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = (rlim_t)limit;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(126);
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)harness_binary();
        for (; args[n - 1] && n < 15; n++)
            argv[n] = (char *)args[n - 1];
        argv[n] = NULL;
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    cli_result r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), harness_slurp(out), harness_slurp(err)};
    return r;
}

/* The lowest limit at which hstprof starts at all leaves it (almost) no fd
 * for counters: the software events meet EMFILE, generation runs. */
static void test_run_at_the_fd_limit(void **state)
{
    (void)state;
    static const char *const args[] = {"run", "-n", "64", "--threads", "1", "--format", "json", NULL};
    for (int limit = 3; limit <= 16; limit++) {
        cli_result r = run_with_fd_limit(limit, args);
        if (r.status != 0) { /* too few fds to load the libraries or the model */
            harness_done(&r);
            continue;
        }
        json_t *o = assert_generation_unharmed(&r);
        assert_contains(summary_of(o), "group 1 (software): ");
        assert_contains(summary_of(o), "too many open files (EMFILE)");
        assert_contains(summary_of(o), "raise ulimit -n");
        assert_not_counted(o, "decode", "cpu-migrations", "too many open files (EMFILE)");
        json_decref(o);
        harness_done(&r);
        return;
    }
    fail_msg("hstprof did not run with any fd limit up to 16");
}

/* ---- the dashboard ------------------------------------------------------------------ */

/* Printed once 200 decode tokens are counted (throughput and counters),
 * 600 s only bounding a hang; no ceilings measured meanwhile. */
#define DASHBOARD_DUMP "dashboard --threads 1 --no-ceilings --screen-dump 600 --screen-dump-when tokens=200 --size 140x45"

static void test_dashboard_panel_shows_a_loss_and_generation_goes_on(void **state)
{
    (void)state;
    cli_result r = run_with_faults("fail cycles 40 EIO\n", DASHBOARD_DUMP);
    if (r.status != 0)
        fail_msg("exit %d, stderr: %s", r.status, r.err);
    assert_contains(r.out, "─ Counters ");
    assert_contains(r.out, "cycles            lost mid-run at ");
    assert_contains(r.out, "read failed: Input/output"); /* a reason too long for the panel ends with an ellipsis */
    assert_contains(r.out, "state RUNNING");
    /* far more tokens than the 40 reads it took to lose the group */
    const char *t = strstr(r.out, " decode tokens ─");
    assert_non_null(t);
    while (t > r.out && t[-1] >= '0' && t[-1] <= '9')
        t--;
    assert_true(strtol(t, NULL, 10) > 100);
    harness_done(&r);
}

/* Nothing left counting (fake events all show as hardware): the panel's
 * headline gives the loss instead of "unavailable". */
static void test_dashboard_panel_headline_when_everything_is_lost(void **state)
{
    (void)state;
    cli_result r = run_with_faults("fail cycles 10 ENODEV\nfail task-clock 12 EIO\n", DASHBOARD_DUMP);
    if (r.status != 0)
        fail_msg("exit %d, stderr: %s", r.status, r.err);
    assert_contains(r.out, "hardware counters lost mid-run at ");
    assert_contains(r.out, "software events instead:");
    assert_null(strstr(r.out, "unavailable: lost"));
    harness_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_real_counters_give_the_baseline_tokens),
        cmocka_unit_test(test_read_failing_at_the_end_of_decode),
        cmocka_unit_test(test_read_failing_after_prefill),
        cmocka_unit_test(test_read_of_zero_bytes),
        cmocka_unit_test(test_software_group_lost_too),
        cmocka_unit_test(test_counter_stolen),
        cmocka_unit_test(test_text_summary_shows_the_reason),
        cmocka_unit_test(test_trace_rows_after_a_loss_are_empty),
        cmocka_unit_test(test_run_at_the_fd_limit),
        cmocka_unit_test(test_dashboard_panel_shows_a_loss_and_generation_goes_on),
        cmocka_unit_test(test_dashboard_panel_headline_when_everything_is_lost),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
