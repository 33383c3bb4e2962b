/* harness.h — helpers the tests share for driving the real binary. */
#ifndef HSTPROF_TEST_HARNESS_H
#define HSTPROF_TEST_HARNESS_H

#include <stddef.h>

typedef struct {
    int status; /* exit status, or 128 + signal */
    char *out, *err;
} cli_result;

/* The binary under test: $HSTPROF, else ./hstprof (tests run from the repository root). */
const char *harness_binary(void);
/* A file's whole content (malloc'd), "" when it cannot be read. */
char *harness_slurp(const char *path);
/* Runs "$HSTPROF <args>" through sh with stdin from /dev/null, stdout and stderr
 * captured via files in dir. */
cli_result harness_run(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void harness_done(cli_result *r);
int harness_count_lines(const char *s);
int harness_file_exists(const char *path);
/* A fresh /tmp/hstprof-<name>-XXXXXX into dir; 0 ok. */
int harness_make_tmpdir(char *dir, size_t size, const char *name);
/* rm -rf dir; 0 ok. */
int harness_remove_tmpdir(const char *dir);

#endif
