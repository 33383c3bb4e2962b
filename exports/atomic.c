/* atomic.c — every export goes through here: temp file beside the target,
 * write, fsync, rename. A reader never sees half a report. */
#include "exports/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int export_format_from_name(const char *name, export_format *out)
{
    if (strcmp(name, "md") == 0 || strcmp(name, "markdown") == 0)
        *out = EXPORT_MD;
    else if (strcmp(name, "csv") == 0)
        *out = EXPORT_CSV;
    else if (strcmp(name, "json") == 0)
        *out = EXPORT_JSON;
    else
        return -1;
    return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes, fsyncs and chmods the temporary file; errno is kept on failure. */
static int fill_temp(int fd, const char *tmp, const char *data, size_t len)
{
    int rc = write_all(fd, data, len);
    if (rc == 0)
        rc = fsync(fd);
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    /* mkstemp creates 0600; a report is an ordinary file. */
    if (rc == 0) {
        mode_t mask = umask(0);
        umask(mask);
        if (chmod(tmp, 0666 & ~mask) != 0) {
            rc = -1;
            saved = errno;
        }
    }
    errno = saved;
    return rc;
}

int ex_stage(ex_staged *s, const char *path, const char *data, size_t len, char *err, size_t err_size)
{
    size_t plen = strlen(path);
    s->path = path;
    s->tmp = malloc(plen + 16);
    if (!s->tmp) {
        snprintf(err, err_size, "%s: cannot write: out of memory", path);
        return -1;
    }
    memcpy(s->tmp, path, plen);
    memcpy(s->tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(s->tmp);
    if (fd < 0 || fill_temp(fd, s->tmp, data, len) != 0) {
        int saved = errno;
        if (fd >= 0)
            unlink(s->tmp);
        free(s->tmp);
        s->tmp = NULL;
        snprintf(err, err_size, "%s: cannot write: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

int ex_commit(ex_staged *s, char *err, size_t err_size)
{
    int rc = rename(s->tmp, s->path);
    if (rc != 0) {
        snprintf(err, err_size, "%s: cannot write: %s", s->path, strerror(errno));
        unlink(s->tmp);
    }
    free(s->tmp);
    s->tmp = NULL;
    return rc;
}

void ex_discard(ex_staged *s)
{
    if (s->tmp)
        unlink(s->tmp);
    free(s->tmp);
    s->tmp = NULL;
}

int export_write_atomic(const char *path, const char *data, size_t len, char *err, size_t err_size)
{
    ex_staged s = {0};
    if (ex_stage(&s, path, data, len, err, err_size) != 0)
        return -1;
    return ex_commit(&s, err, err_size);
}

int export_write_atomic_files(int n, const char *const *paths, const char *const *data, const size_t *lens, char *err,
                              size_t err_size)
{
    ex_staged staged[EXPORT_MAX_FILES] = {{0}};
    if (n > EXPORT_MAX_FILES) {
        snprintf(err, err_size, "cannot write more than %d files at once", EXPORT_MAX_FILES);
        return -1;
    }
    /* A directory in the way is the one rename failure staging cannot
     * foresee; check for it before anything is written. */
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(err, err_size, "%s: cannot write: %s", paths[i], strerror(EISDIR));
            return -1;
        }
    }
    /* Stage everything first: a full disk or a bad directory leaves every
     * target as it was, so the files never disagree with each other. */
    int i = 0;
    for (; i < n; i++)
        if (ex_stage(&staged[i], paths[i], data[i], lens[i], err, err_size) != 0)
            break;
    if (i < n) {
        for (int j = 0; j < i; j++)
            ex_discard(&staged[j]);
        return -1;
    }
    int rc = 0;
    for (i = 0; i < n; i++) {
        if (rc == 0)
            rc = ex_commit(&staged[i], err, err_size);
        else
            ex_discard(&staged[i]);
    }
    return rc;
}

void export_csv_field(char *out, size_t out_size, const char *field)
{
    int needs_quotes = ex_csv_needs_quotes(field);
    size_t o = 0;
    if (out_size == 0)
        return;
    if (needs_quotes && o + 1 < out_size)
        out[o++] = '"';
    for (const char *p = field; *p && o + 2 < out_size; p++) {
        if (*p == '"')
            out[o++] = '"';
        out[o++] = *p;
    }
    if (needs_quotes && o + 1 < out_size)
        out[o++] = '"';
    out[o] = '\0';
}
