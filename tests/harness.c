/* harness.c — see harness.h. Linked into every test binary by the Makefile. */
#include "tests/harness.h"

#include "exports/atomic.h"
#include "probes/ceilings.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char source_dir[PATH_MAX];
static char work_dir[PATH_MAX];
static char binary[PATH_MAX];
static pid_t owner; /* 0: not ours to remove; a forked child that exits must not remove it either */

static void die(const char *what, const char *path)
{
    fprintf(stderr, "test harness: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static void make_dir(const char *parent, const char *name, const char *env)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", parent, name);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die("cannot create", path);
    if (env)
        setenv(env, path, 1);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(path);
    return 0;
}

static void remove_work_dir(void)
{
    if (getpid() != owner)
        return;
    if (chdir(source_dir) != 0) /* not inside what is removed */
        return;
    nftw(work_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The repository, the binary under test, then the private directory. */
__attribute__((constructor)) static void harness_enter_private_dir(void)
{
    probes_set_file_writer(export_write_atomic); /* as hstprof.c's main does */
    const char *src = getenv("HSTPROF_SOURCE_DIR");
    if (src && *src) {
        if (!realpath(src, source_dir))
            die("HSTPROF_SOURCE_DIR:", src);
    } else if (!getcwd(source_dir, sizeof source_dir)) {
        die("cannot read", "the working directory");
    }
    const char *bin = getenv("HSTPROF");
    if (!bin || !*bin)
        bin = "hstprof";
    if (bin[0] == '/')
        snprintf(binary, sizeof binary, "%s", bin);
    else if ((size_t)snprintf(binary, sizeof binary, "%s/%s", source_dir, bin) >= sizeof binary)
        die("path too long:", bin);
    setenv("HSTPROF", binary, 1); /* for the scripts and binaries a test starts */
    const char *given = getenv("HSTPROF_TEST_DIR"); /* run_all.sh's, removed by it */
    if (given && given[0] == '/') {
        snprintf(work_dir, sizeof work_dir, "%s", given);
    } else {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || tmp[0] != '/')
            tmp = "/tmp";
        snprintf(work_dir, sizeof work_dir, "%s/hstprof-%s-XXXXXX", tmp, program_invocation_short_name);
        if (!mkdtemp(work_dir))
            die("cannot create", work_dir);
        owner = getpid();
        atexit(remove_work_dir);
    }
    /* Traversable by all: a test drops privileges to check a permission. */
    if (chmod(work_dir, 0755) != 0)
        die("cannot chmod", work_dir);
    make_dir(work_dir, "home", "HOME");
    make_dir(work_dir, "home/.cache", "XDG_CACHE_HOME");
    make_dir(work_dir, "home/.config", "XDG_CONFIG_HOME");
    make_dir(work_dir, "tmp", "TMPDIR");
    if (chdir(work_dir) != 0)
        die("cannot enter", work_dir);
}

const char *harness_binary(void)
{
    return binary;
}

const char *harness_source(const char *relative)
{
    static char paths[8][PATH_MAX];
    static int next;
    char *p = paths[next++ % 8];
    if ((size_t)snprintf(p, PATH_MAX, "%s/%s", source_dir, relative) >= PATH_MAX)
        die("path too long:", relative);
    return p;
}

const char *harness_workdir(void)
{
    return work_dir;
}

char *harness_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (!s) {
        fclose(f);
        return strdup("");
    }
    size_t got = n > 0 ? fread(s, 1, (size_t)n, f) : 0;
    s[got] = '\0';
    fclose(f);
    return s;
}

cli_result harness_run(const char *dir, const char *fmt, ...)
{
    char args[4096], cmd[4096 + 2 * PATH_MAX + 64], out[512], err[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s </dev/null", harness_binary(), args, out, err);
    int st = system(cmd);
    cli_result r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), harness_slurp(out), harness_slurp(err)};
    return r;
}

void harness_done(cli_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

int harness_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

int harness_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int harness_make_tmpdir(char *dir, size_t size, const char *name)
{
    if ((size_t)snprintf(dir, size, "%s/%s-XXXXXX", work_dir, name) >= size) {
        fprintf(stderr, "test harness: %s/%s-XXXXXX is longer than the test's %zu bytes (a shorter TMPDIR?)\n",
                work_dir, name, size);
        return -1;
    }
    return mkdtemp(dir) ? 0 : -1;
}

int harness_remove_tmpdir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}
