/* harness.h — what the test binaries share: a private directory for each
 * binary, the repository's files, and driving the real binary.
 *
 * Every test binary links harness.c, which runs before main: it makes a
 * fresh directory under $TMPDIR (else /tmp), points HOME, XDG_CACHE_HOME
 * and XDG_CONFIG_HOME inside it, makes it the working directory, and
 * removes it at exit. Nothing a test or the binary it runs writes by default
 * (caches, profiles, snapshots) lands outside it. Files of the repository
 * are found with harness_source(): $HSTPROF_SOURCE_DIR, else the directory
 * the binary was started in (the repository's root when run by hand). */
#ifndef HSTPROF_TEST_HARNESS_H
#define HSTPROF_TEST_HARNESS_H

#include <stddef.h>

typedef struct {
    int status; /* exit status, or 128 + signal */
    char *out, *err;
} cli_result;

/* The binary under test, as an absolute path: $HSTPROF (relative to the
 * source directory when relative), else the source directory's hstprof. */
const char *harness_binary(void);
/* The absolute path of a repository file, e.g. "tests/golden/tiny-v4.safetensors";
 * a static buffer, one of a few used in turn (valid until the 8th next call). */
const char *harness_source(const char *relative);
/* This binary's private directory (the working directory at start). */
const char *harness_workdir(void);
/* A file's whole content (malloc'd), "" when it cannot be read. */
char *harness_slurp(const char *path);
/* Runs "$HSTPROF <args>" through sh with stdin from /dev/null, stdout and stderr
 * captured via files in dir. */
cli_result harness_run(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void harness_done(cli_result *r);
int harness_count_lines(const char *s);
int harness_file_exists(const char *path);
/* A fresh <private directory>/<name>-XXXXXX into dir; 0 ok. */
int harness_make_tmpdir(char *dir, size_t size, const char *name);
/* rm -rf dir; 0 ok. */
int harness_remove_tmpdir(const char *dir);

#endif
