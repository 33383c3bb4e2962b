/* test_faults.c — writes that fail part way (issue 7, faults): a full disk,
 * a file-size limit, write/fsync/close errors, short writes, one of several
 * files failing after the others were put in place, and a model save
 * interrupted by a signal. After each: the error is one line naming the file
 * and the cause, every target is byte-identical to what it was (the very same
 * file, when it existed), and no temporary is left.
 *
 * Real faults where a test can cause them (RLIMIT_FSIZE, as `ulimit -f`);
 * the rest through the test hooks of exports/internal.h (a model file is
 * written by the same code as every export, so they reach it too).
 * Against the real binary: tests/e2e_full_disk.sh (every writer, a file-size
 * limit and a full tmpfs), e2e_snapshot_full_disk.sh (the dashboard) and
 * e2e_model_init_signals.sh (model init killed while it writes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "engine/hst.h"
#include "exports/internal.h"
#include "exports/model_file.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* ---- files ----------------------------------------------------------------------------- */

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

/* Entries of tmpdir, and how many of them look like a temporary. */
static int entries(int *temps)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    *temps = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        *temps += strstr(e->d_name, ".tmp.") != NULL;
    }
    closedir(d);
    return n;
}

static void assert_entries(int expected)
{
    int temps;
    int n = entries(&temps);
    if (temps != 0 || n != expected)
        fail_msg("%s holds %d entries (%d temporaries); expected %d and none", tmpdir, n, temps, expected);
}

static void assert_content(const char *path, const char *expected)
{
    char *got = harness_slurp(path);
    assert_string_equal(got, expected);
    free(got);
}

/* err is one line naming path and the cause. */
static void assert_error(const char *err, const char *path, int errnum)
{
    char want[700];
    snprintf(want, sizeof want, "%s: cannot write: %s", path, strerror(errnum));
    assert_string_equal(err, want);
}

/* ---- the file-size limit: a real full disk, as `ulimit -f` makes it --------------------- */

static struct rlimit unlimited;

/* Writes past bytes fail with EFBIG (SIGXFSZ is ignored, as in hstprof).
 * Nothing may be printed until unlimit_file_size(): the test log is a file. */
static void limit_file_size(rlim_t bytes)
{
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &unlimited), 0);
    struct rlimit l = {bytes, unlimited.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &l), 0);
}

static void unlimit_file_size(void)
{
    setrlimit(RLIMIT_FSIZE, &unlimited);
}

/* Text of n bytes ("0123456789...") with a newline at the end, malloc'd. */
static char *text_of(size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('0' + i % 10);
    s[n - 1] = '\n';
    s[n] = '\0';
    return s;
}

/* Both ways a file is staged: anonymous (O_TMPFILE) and, as on a filesystem
 * without it, a named temporary. */
static const char *const staging_name[2] = {"O_TMPFILE", "named temporary"};

static void use_staging(int named)
{
    ex_test_inject_fault(EX_FAULT_NO_TMPFILE, 0, named ? EOPNOTSUPP : 0);
}

/* ---- exports ---------------------------------------------------------------------------- */

static void test_file_size_limit_keeps_the_old_file(void **state)
{
    (void)state;
    char old[600], fresh[600], err[800];
    path_in(old, sizeof old, "BENCHMARKS.md");
    path_in(fresh, sizeof fresh, "new.md");
    char *big = text_of(10000);
    for (int named = 0; named < 2; named++) {
        use_staging(named);
        spit(old, "# earlier entries\n");
        ino_t before = inode_of(old);
        /* 1000 bytes fit: the first write() stops short, the next one fails. */
        limit_file_size(1000);
        int rc_old = export_write_atomic(old, big, strlen(big), err, sizeof err);
        char err_fresh[800];
        int rc_fresh = export_write_atomic(fresh, big, strlen(big), err_fresh, sizeof err_fresh);
        unlimit_file_size();
        print_message("staging: %s\n", staging_name[named]);
        assert_int_equal(rc_old, -1);
        assert_error(err, old, EFBIG);
        assert_int_equal(rc_fresh, -1);
        assert_error(err_fresh, fresh, EFBIG);
        assert_content(old, "# earlier entries\n");
        assert_true(inode_of(old) == before);
        assert_false(harness_file_exists(fresh));
        assert_entries(1);
    }
    free(big);
}

/* export_write_atomic_files: the second file does not fit, so the first,
 * which did, must not have replaced its target either. */
static void test_second_file_failing_changes_neither(void **state)
{
    (void)state;
    char a[600], b[600], err[800];
    path_in(a, sizeof a, "run.md");
    path_in(b, sizeof b, "BENCHMARKS.md");
    char *big = text_of(5000);
    for (int named = 0; named < 2; named++) {
        use_staging(named);
        spit(a, "old report\n");
        spit(b, "old log\n");
        const char *paths[2] = {a, b}, *data[2] = {"new report\n", big};
        const size_t lens[2] = {strlen(data[0]), strlen(big)};
        limit_file_size(2000);
        int rc = export_write_atomic_files(2, paths, data, lens, err, sizeof err);
        unlimit_file_size();
        print_message("staging: %s\n", staging_name[named]);
        assert_int_equal(rc, -1);
        assert_error(err, b, EFBIG);
        assert_content(a, "old report\n");
        assert_content(b, "old log\n");
        assert_entries(2);
    }
    free(big);
}

/* write(), fsync() and close() failing: ENOSPC or EIO at any of them is the
 * same failure, reported with its cause, the old file kept. */
static void test_write_fsync_close_errors(void **state)
{
    (void)state;
    const struct {
        ex_fault op;
        int skip, errnum;
        const char *what;
    } faults[] = {
        {EX_FAULT_WRITE, 0, ENOSPC, "the first write"},
        {EX_FAULT_WRITE, 2, ENOSPC, "the third write"},
        {EX_FAULT_FSYNC, 0, ENOSPC, "fsync (delayed allocation)"},
        {EX_FAULT_FSYNC, 0, EIO, "fsync (I/O error)"},
        {EX_FAULT_CLOSE, 0, ENOSPC, "close (a named temporary: NFS reports here)"},
    };
    char target[600], fresh[600], err[800];
    path_in(target, sizeof target, "notes.md");
    path_in(fresh, sizeof fresh, "fresh.md");
    spit(target, "before\n");
    ex_test_short_writes(4); /* several writes per file */
    for (int named = 0; named < 2; named++) {
        use_staging(named);
        for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
            if (faults[i].op == EX_FAULT_CLOSE && !named)
                continue; /* an anonymous file's close comes after fsync and naming: nothing to lose */
            print_message("staging: %s, failing: %s\n", staging_name[named], faults[i].what);
            ex_test_inject_fault(faults[i].op, faults[i].skip, faults[i].errnum);
            int rc = export_write_atomic(target, "after, longer\n", 14, err, sizeof err);
            assert_int_equal(rc, -1);
            assert_error(err, target, faults[i].errnum);
            ex_test_inject_fault(faults[i].op, faults[i].skip, faults[i].errnum);
            rc = export_write_atomic(fresh, "after, longer\n", 14, err, sizeof err);
            ex_test_inject_fault(faults[i].op, 0, 0);
            assert_int_equal(rc, -1);
            assert_error(err, fresh, faults[i].errnum);
            assert_content(target, "before\n");
            assert_false(harness_file_exists(fresh));
            assert_entries(1);
        }
    }
    ex_test_short_writes(0);
}

/* write() writing a few bytes at a time (a signal, a limit) still writes all. */
static void test_short_writes_write_everything(void **state)
{
    (void)state;
    char target[600], err[800];
    path_in(target, sizeof target, "report.csv");
    char *text = text_of(1001);
    ex_test_short_writes(7);
    for (int named = 0; named < 2; named++) {
        use_staging(named);
        assert_int_equal(export_write_atomic(target, text, strlen(text), err, sizeof err), 0);
        assert_content(target, text);
        spit(target, "short\n");
        assert_int_equal(export_write_atomic(target, text, strlen(text), err, sizeof err), 0);
        assert_content(target, text);
        assert_entries(1);
        unlink(target);
    }
    ex_test_short_writes(0);
    free(text);
}

/* The third of three files fails when the first two are already in place:
 * they are swapped back (the old files are the same inodes again) or
 * removed (the one that was new). */
static void test_failure_after_commits_rolls_back(void **state)
{
    (void)state;
    char a[600], b[600], c[600], err[800];
    path_in(a, sizeof a, "snap.md");
    path_in(b, sizeof b, "snap.csv");
    path_in(c, sizeof c, "snap.json");
    for (int named = 0; named < 2; named++) {
        for (int failing = 1; failing < 3; failing++) {
            print_message("staging: %s, file %d fails\n", staging_name[named], failing + 1);
            use_staging(named);
            spit(a, "old md\n");
            spit(c, "old json\n");
            ino_t a_before = inode_of(a), c_before = inode_of(c);
            const char *paths[3] = {a, b, c}, *data[3] = {"new md\n", "new csv\n", "new json\n"};
            const size_t lens[3] = {7, 8, 9};
            ex_test_inject_fault(EX_FAULT_COMMIT, failing, EIO);
            int rc = export_write_atomic_files(3, paths, data, lens, err, sizeof err);
            ex_test_inject_fault(EX_FAULT_COMMIT, 0, 0);
            assert_int_equal(rc, -1);
            assert_error(err, paths[failing], EIO);
            assert_content(a, "old md\n");
            assert_true(inode_of(a) == a_before);
            assert_false(harness_file_exists(b));
            assert_content(c, "old json\n");
            assert_true(inode_of(c) == c_before);
            assert_entries(2);
            /* And without a fault all three are written. */
            assert_int_equal(export_write_atomic_files(3, paths, data, lens, err, sizeof err), 0);
            assert_content(a, "new md\n");
            assert_content(b, "new csv\n");
            assert_content(c, "new json\n");
            assert_entries(3);
            unlink(b);
        }
    }
}

/* The same target twice (--export and --log naming one file): the last one
 * wins, and a rollback unwinds both. */
static void test_same_target_twice(void **state)
{
    (void)state;
    char a[600], b[600], err[800];
    path_in(a, sizeof a, "same.md");
    path_in(b, sizeof b, "other.md");
    spit(a, "original\n");
    const char *paths[3] = {a, a, b}, *data[3] = {"first\n", "second\n", "third\n"};
    const size_t lens[3] = {6, 7, 6};
    ex_test_inject_fault(EX_FAULT_COMMIT, 2, ENOSPC);
    assert_int_equal(export_write_atomic_files(3, paths, data, lens, err, sizeof err), -1);
    ex_test_inject_fault(EX_FAULT_COMMIT, 0, 0);
    assert_content(a, "original\n");
    assert_entries(1);
    assert_int_equal(export_write_atomic_files(2, paths, data, lens, err, sizeof err), 0);
    assert_content(a, "second\n");
    assert_entries(1);
}

/* A new export is an ordinary file: 0666 less the umask, however staged. */
static void test_new_files_get_the_usual_mode(void **state)
{
    (void)state;
    char target[600], err[800];
    path_in(target, sizeof target, "mode.md");
    mode_t old_mask = umask(027);
    for (int named = 0; named < 2; named++) {
        use_staging(named);
        assert_int_equal(export_write_atomic(target, "x\n", 2, err, sizeof err), 0);
        struct stat st;
        assert_int_equal(stat(target, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640);
        unlink(target);
    }
    umask(old_mask);
}

/* ---- the model file ------------------------------------------------------------------------ */

static hst_model *small_model(void)
{
    hst_config cfg;
    assert_int_equal(hst_preset_config("hst-v3", &cfg), 0);
    hst_error err = {{0}};
    hst_model *m = hst_model_random(&cfg, 7, &err);
    assert_non_null(m);
    return m;
}

static void test_model_save_on_a_full_disk(void **state)
{
    (void)state;
    char old[600], fresh[600];
    path_in(old, sizeof old, "old.safetensors");
    path_in(fresh, sizeof fresh, "new.safetensors");
    hst_model *m = small_model();
    mode_t old_mask = umask(027);
    for (int named = 0; named < 2; named++) {
        use_staging(named);
        print_message("staging: %s\n", staging_name[named]);
        spit(old, "an earlier model\n");
        char err_old[800], err_fresh[800];
        limit_file_size(100000); /* the header and some tensors fit */
        int rc_old = export_model_save(m, old, NULL, err_old, sizeof err_old);
        int rc_fresh = export_model_save(m, fresh, NULL, err_fresh, sizeof err_fresh);
        unlimit_file_size();
        assert_int_equal(rc_old, -1);
        assert_error(err_old, old, EFBIG);
        assert_int_equal(rc_fresh, -1);
        assert_error(err_fresh, fresh, EFBIG);
        assert_content(old, "an earlier model\n");
        assert_false(harness_file_exists(fresh));
        assert_entries(1);
        /* Room again: the save succeeds, replaces the file, and it loads. */
        char why[800];
        assert_int_equal(export_model_save(m, old, NULL, why, sizeof why), 0);
        struct stat st;
        assert_int_equal(stat(old, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0640); /* 0666 less the umask, like every export */
        hst_error err = {{0}};
        hst_model *back = hst_model_load(old, &err);
        assert_non_null(back);
        hst_model_free(back);
        assert_entries(1);
    }
    umask(old_mask);
    hst_model_free(m);
}

static int asked, answer_after;

/* interrupted() as a signal arriving after answer_after questions. */
static int signal_after_some_tensors(void)
{
    return asked++ >= answer_after;
}

static void test_interrupted_model_save_writes_nothing(void **state)
{
    (void)state;
    char old[600], fresh[600];
    path_in(old, sizeof old, "old.safetensors");
    path_in(fresh, sizeof fresh, "new.safetensors");
    spit(old, "an earlier model\n");
    hst_model *m = small_model();
    /* Before the first tensor, part way, and after the last (before the name). */
    const int afters[] = {0, 40, hst_model_tensor_count(m)};
    for (int named = 0; named < 2; named++) {
        use_staging(named);
        for (size_t i = 0; i < sizeof afters / sizeof afters[0]; i++) {
            print_message("staging: %s, interrupted after %d questions\n", staging_name[named], afters[i]);
            const char *targets[2] = {old, fresh};
            for (int t = 0; t < 2; t++) {
                asked = 0;
                answer_after = afters[i];
                char err[800];
                assert_int_equal(
                    export_model_save(m, targets[t], signal_after_some_tensors, err, sizeof err), -1);
                char want[700];
                snprintf(want, sizeof want, "%s: not written: interrupted", targets[t]);
                assert_string_equal(err, want);
                assert_true(asked > afters[i]);
            }
            assert_content(old, "an earlier model\n");
            assert_false(harness_file_exists(fresh));
            assert_entries(1);
        }
    }
    /* Never interrupted: written whole. */
    asked = 0;
    answer_after = 1 << 30;
    char why[800];
    assert_int_equal(export_model_save(m, fresh, signal_after_some_tensors, why, sizeof why), 0);
    hst_error err = {{0}};
    hst_model *back = hst_model_load(fresh, &err);
    assert_non_null(back);
    hst_model_free(back);
    assert_entries(2);
    hst_model_free(m);
}

static int setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmpdir, sizeof tmpdir, "faults");
}

static int teardown(void **state)
{
    (void)state;
    unlimit_file_size();
    for (int op = 0; op < EX_FAULT_N; op++)
        ex_test_inject_fault((ex_fault)op, 0, 0);
    ex_test_short_writes(0);
    return harness_remove_tmpdir(tmpdir);
}

int main(void)
{
    /* As hstprof does: past the limit, write() fails instead of the process dying. */
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &unlimited);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_size_limit_keeps_the_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_file_failing_changes_neither, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_fsync_close_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_writes_write_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_after_commits_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_target_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_files_get_the_usual_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_save_on_a_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_model_save_writes_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
