/* harness.c — see harness.h. Linked into every test binary by the Makefile. */
#include "tests/harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

const char *harness_binary(void)
{
    const char *b = getenv("HSTPROF");
    return b && *b ? b : "./hstprof";
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
    char args[4096], cmd[8192], out[512], err[512];
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
    snprintf(dir, size, "/tmp/hstprof-%s-XXXXXX", name);
    return mkdtemp(dir) ? 0 : -1;
}

int harness_remove_tmpdir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}
