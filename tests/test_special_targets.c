/* test_special_targets.c — the one writer (exports/atomic.c) and the check
 * before the work (args_check_output_path) on targets that are not regular
 * files: a character device and a FIFO are written as streams and stay what
 * they are, "-" is standard output, a symbolic link is followed and the file
 * it names replaced in its own directory (the link stays a link), a socket,
 * a directory and a loop of links are refused before anything is written,
 * and of files written together a stream is written only once every file is
 * staged. Every node is private, in this binary's own directory (as root a
 * character device is made with mknod; the test says so and skips that case
 * when it cannot). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "exports/atomic.h"
#include "profiles/profiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmpdir, sizeof tmpdir, "targets");
}

static int teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmpdir);
}

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static mode_t type_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & S_IFMT;
}

/* Entries of tmpdir named like a temporary of the writer. */
static int temporaries(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* ---- character devices -------------------------------------------------------------- */

/* The null device's numbers (1, 3): a private node, never the system's. */
static void test_character_device_is_written_as_a_stream(void **state)
{
    (void)state;
    char node[400], err[600];
    path_in(node, sizeof node, "null");
    if (mknod(node, S_IFCHR | 0666, makedev(1, 3)) != 0) {
        print_message("skip: cannot make a device node here (%s); run as root\n", strerror(errno));
        skip();
    }
    assert_int_equal(export_write_atomic(node, "report\n", 7, err, sizeof err), 0);
    assert_int_equal(type_of(node), S_IFCHR); /* not replaced by a regular file */
    const char *paths[2] = {node, NULL};
    char other[400];
    path_in(other, sizeof other, "beside.md");
    paths[1] = other;
    const char *data[2] = {"to the device\n", "to a file\n"};
    const size_t lens[2] = {14, 10};
    assert_int_equal(export_write_atomic_files(2, paths, data, lens, err, sizeof err), 0);
    assert_int_equal(type_of(node), S_IFCHR);
    char *got = harness_slurp(other);
    assert_string_equal(got, "to a file\n");
    free(got);
    assert_int_equal(args_check_output_path("-o", node, err, sizeof err), 0);
    assert_int_equal(temporaries(), 0);
}

/* ---- FIFOs --------------------------------------------------------------------------- */

typedef struct {
    char path[400];
    char got[256];
} fifo_reader;

static void *read_fifo(void *arg)
{
    fifo_reader *r = arg;
    int fd = open(r->path, O_RDONLY); /* waits for the writer */
    size_t n = 0;
    ssize_t k;
    while (fd >= 0 && n + 1 < sizeof r->got && (k = read(fd, r->got + n, sizeof r->got - 1 - n)) > 0)
        n += (size_t)k;
    r->got[n] = '\0';
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Opening a FIFO for writing waits for a reader: the reader's open is made
 * before the write by retrying the write until the reader is there. */
static void test_fifo_is_written_as_a_stream_when_read(void **state)
{
    (void)state;
    fifo_reader r;
    char err[600];
    path_in(r.path, sizeof r.path, "fifo");
    assert_int_equal(mkfifo(r.path, 0600), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_fifo, &r), 0);
    int rc;
    while ((rc = export_write_atomic(r.path, "through the pipe\n", 17, err, sizeof err)) != 0) {
        assert_non_null(strstr(err, "no process is reading this FIFO")); /* the reader is not there yet */
        usleep(1000);
    }
    if (type_of(r.path) != S_IFIFO) { /* replaced: the reader would wait for ever */
        pthread_cancel(t);
        pthread_join(t, NULL);
        fail_msg("%s is no longer a FIFO", r.path);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_string_equal(r.got, "through the pipe\n");
    assert_int_equal(temporaries(), 0);
}

/* No reader: one line at once, not a write that waits for ever. */
static void test_fifo_without_reader_fails_at_once(void **state)
{
    (void)state;
    char fifo[400], err[600];
    path_in(fifo, sizeof fifo, "lonely");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(args_check_output_path("--log", fifo, err, sizeof err), 0); /* a check opens nothing */
    assert_int_equal(export_write_atomic(fifo, "x", 1, err, sizeof err), -1);
    assert_null(strchr(err, '\n'));
    assert_non_null(strstr(err, fifo));
    assert_non_null(strstr(err, "no process is reading this FIFO"));
    assert_int_equal(type_of(fifo), S_IFIFO);
}

/* ---- standard output ----------------------------------------------------------------- */

/* "-" is standard output (here a file put in its place), after what stdio
 * holds for it; and of files written together, the stream is written only
 * when every file staged, so a file that cannot be staged leaves it empty. */
static void test_dash_is_standard_output(void **state)
{
    (void)state;
    char out[400], bad[400], err[600];
    path_in(out, sizeof out, "stdout.txt");
    path_in(bad, sizeof bad, "missing/x.md");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    const char *paths[2] = {"-", bad};
    const char *data[2] = {"never\n", "x"};
    const size_t lens[2] = {6, 1};
    int group = export_write_atomic_files(2, paths, data, lens, err, sizeof err);
    long after_group = lseek(STDOUT_FILENO, 0, SEEK_CUR);
    printf("held by stdio\n");
    int single = export_write_atomic("-", "written\n", 8, err, sizeof err);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    assert_int_equal(group, -1);
    assert_int_equal(after_group, 0);
    assert_int_equal(single, 0);
    char *got = harness_slurp(out);
    assert_string_equal(got, "held by stdio\nwritten\n");
    free(got);
    assert_false(harness_file_exists("-"));
    assert_int_equal(args_check_output_path("-o", "-", err, sizeof err), 0);
}

/* ---- symbolic links ------------------------------------------------------------------- */

static void test_symlink_replaces_the_file_it_names(void **state)
{
    (void)state;
    char sub[400], target[500], link[400], err[600];
    path_in(sub, sizeof sub, "logs");
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(target, sizeof target, "%s/BENCHMARKS.md", sub);
    spit(target, "old\n");
    path_in(link, sizeof link, "BENCHMARKS.md");
    assert_int_equal(symlink("logs/BENCHMARKS.md", link), 0); /* relative to the link's directory */
    assert_int_equal(args_check_output_path("--log", link, err, sizeof err), 0);
    assert_int_equal(export_write_atomic(link, "new\n", 4, err, sizeof err), 0);
    assert_int_equal(type_of(link), S_IFLNK);
    char *got = harness_slurp(target);
    assert_string_equal(got, "new\n");
    free(got);
    /* A link to nothing yet: the file it names is created. */
    char dangling[400], created[500];
    path_in(dangling, sizeof dangling, "dangling.md");
    snprintf(created, sizeof created, "%s/created.md", sub);
    assert_int_equal(symlink(created, dangling), 0);
    assert_int_equal(export_write_atomic(dangling, "made\n", 5, err, sizeof err), 0);
    assert_int_equal(type_of(dangling), S_IFLNK);
    got = harness_slurp(created);
    assert_string_equal(got, "made\n");
    free(got);
    assert_int_equal(temporaries(), 0);
}

/* A link into a directory that does not exist is found by the check, naming it. */
static void test_symlink_checks_the_directory_of_its_target(void **state)
{
    (void)state;
    char link[400], err[2400];
    path_in(link, sizeof link, "to-nowhere.md");
    assert_int_equal(symlink("no-such-dir/x.md", link), 0);
    assert_int_equal(args_check_output_path("--export", link, err, sizeof err), -1);
    assert_non_null(strstr(err, "no-such-dir does not exist"));
}

/* ---- refused before anything is written ----------------------------------------------- */

static void expect_refused(const char *path, const char *why)
{
    char err[2400];
    assert_int_equal(args_check_output_path("--trace", path, err, sizeof err), -1);
    assert_non_null(strstr(err, why));
    assert_null(strchr(err, '\n'));
    assert_int_equal(export_write_atomic(path, "x", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, why));
}

static void test_socket_directory_and_link_loop_are_refused(void **state)
{
    (void)state;
    char sock[400], loop_a[400], loop_b[400];
    path_in(sock, sizeof sock, "sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(strlen(sock) < sizeof addr.sun_path);
    memcpy(addr.sun_path, sock, strlen(sock) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    expect_refused(sock, "is a socket; name a regular file, a FIFO or a character device");
    close(fd);
    assert_int_equal(type_of(sock), S_IFSOCK);
    expect_refused(tmpdir, "is a directory; name a file");
    path_in(loop_a, sizeof loop_a, "loop-a");
    path_in(loop_b, sizeof loop_b, "loop-b");
    assert_int_equal(symlink("loop-b", loop_a), 0);
    assert_int_equal(symlink("loop-a", loop_b), 0);
    expect_refused(loop_a, "is a loop of symbolic links");
    assert_int_equal(temporaries(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_character_device_is_written_as_a_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_is_written_as_a_stream_when_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_without_reader_fails_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dash_is_standard_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_replaces_the_file_it_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_checks_the_directory_of_its_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_directory_and_link_loop_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
