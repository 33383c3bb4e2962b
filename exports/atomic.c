/* atomic.c — every export goes through here: temp file beside the target,
 * write, fsync, rename. A reader never sees half a report. */
#include "exports/exports.h"

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

int export_write_atomic(const char *path, const char *data, size_t len, char *err, size_t err_size)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        snprintf(err, err_size, "%s: cannot write: out of memory", path);
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, err_size, "%s: cannot write: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
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
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, err_size, "%s: cannot write: %s", path, strerror(saved));
    }
    free(tmp);
    return rc;
}

void export_csv_field(char *out, size_t out_size, const char *field)
{
    int needs_quotes = strpbrk(field, ",\"\r\n") != NULL;
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
