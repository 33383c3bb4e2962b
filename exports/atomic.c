/* atomic.c — every export goes through here. A reader finds a target absent,
 * as it was, or complete: a full disk, a signal or a crash never leaves half a
 * file or a stray temporary behind, and never touches what was there before.
 *
 * The data go first to an anonymous file in the target's directory
 * (O_TMPFILE), written and fsynced before it has any name, so dying before
 * then (even by SIGKILL) leaves nothing. A new target is then linked into
 * place in one step; an existing one is swapped with the new file (renameat2
 * RENAME_EXCHANGE) rather than replaced, so that when one of several files
 * written together fails, the earlier ones are swapped back. A filesystem
 * without anonymous files gets a named temporary "<path>.tmp.<pid>.<n>"
 * instead, and one without RENAME_EXCHANGE a plain rename (which cannot be
 * undone).
 *
 * What goes into a file is written by a producer, given the staged file's
 * descriptor: a buffer for the reports, the safetensors writer of the engine
 * for a model (model_file.c).
 *
 * Not every target is a file to replace: renaming over a FIFO or a device
 * node would destroy it (as root, a character device became a regular file),
 * and renaming over a symbolic link would fork a log from the file the link
 * names. So a link is followed first and the file it names is replaced in its
 * own directory; "-", a FIFO or a character device get the data as a stream;
 * anything else is refused before anything is written (atomic.h). */
#include "exports/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One file of an atomic write: staged (written and fsynced, not
 * yet visible), then committed (in place of its target), then finished. */
typedef enum { EX_STAGED, EX_CREATED, EX_SWAPPED, EX_REPLACED, EX_DONE } ex_stage_state;
typedef struct {
    const char *path;
    int fd;               /* the file being written; once written, kept open
                           * only while anonymous (linkat names it by it), else -1 */
    char *tmp;            /* its temporary name, NULL while anonymous; once
                           * swapped in, the name of the old content */
    ex_stage_state state; /* EX_CREATED: path is new; EX_SWAPPED: the old content
                           * is at tmp; EX_REPLACED: plain rename, no way back */
} ex_staged;

/* ---- faults on demand, for the tests -------------------------------------------------- */

static int fault_errno[EX_FAULT_N];
static int fault_skip[EX_FAULT_N];
static size_t short_write_max;

void ex_test_inject_fault(ex_fault op, int skip, int errnum)
{
    fault_skip[op] = skip;
    fault_errno[op] = errnum;
}

void ex_test_short_writes(size_t max_bytes)
{
    short_write_max = max_bytes;
}

/* 1, with errno set, when a test asked op to fail from now on. */
static int injected(ex_fault op)
{
    if (!fault_errno[op])
        return 0;
    if (fault_skip[op] > 0) {
        fault_skip[op]--;
        return 0;
    }
    errno = fault_errno[op];
    return 1;
}

/* ---- writing the data ------------------------------------------------------------------- */

/* write() may write less than asked (a file-size limit or a full disk reached
 * part way, a signal): carry on from there until all is written or it fails. */
static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        size_t chunk = short_write_max && len > short_write_max ? short_write_max : len;
        ssize_t n = injected(EX_FAULT_WRITE) ? -1 : write(fd, data, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* no progress and no reason: do not spin */
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Some filesystems report a full disk only here (delayed allocation, NFS). */
static int sync_file(int fd)
{
    if (injected(EX_FAULT_FSYNC))
        return -1;
    int rc;
    do
        rc = fsync(fd);
    while (rc != 0 && errno == EINTR);
    return rc;
}

/* The descriptor is gone either way (Linux closes it even on error). */
static int close_file(int fd)
{
    if (injected(EX_FAULT_CLOSE)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

/* ---- names ------------------------------------------------------------------------------ */

static atomic_uint temp_serial;

/* "<path>.tmp.<pid>.<n>", malloc'd. */
static char *temp_name(const char *path)
{
    size_t size = strlen(path) + 40;
    char *name = malloc(size);
    if (name)
        snprintf(name, size, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&temp_serial, 1u));
    return name;
}

/* Links the anonymous file fd to name (which must not exist). linkat needs
 * the file by path; /proc/self/fd gives it one without any privilege. */
static int link_anonymous(int fd, const char *name)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

/* Gives s a fresh temporary name beside its target: a new empty file opened in
 * s->fd (create), or the anonymous s->fd linked there. 0, or -1 with errno. */
static int take_temp_name(ex_staged *s, int create)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        char *name = temp_name(s->path);
        if (!name) {
            errno = ENOMEM;
            return -1;
        }
        int rc;
        if (create) {
            /* 0666 less the umask, like any new file (mkstemp would make 0600). */
            s->fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            rc = s->fd >= 0 ? 0 : -1;
        } else {
            rc = link_anonymous(s->fd, name);
        }
        if (rc == 0) {
            s->tmp = name;
            return 0;
        }
        int e = errno;
        free(name);
        errno = e;
        if (e != EEXIST) /* EEXIST: a leftover of an earlier process with our pid */
            return -1;
    }
    return -1;
}

/* ---- staging ---------------------------------------------------------------------------- */

/* The directory holding path, malloc'd ("." for a bare name). */
static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

/* An anonymous file in path's directory, or -1 with errno. */
static int open_anonymous(const char *path)
{
    if (injected(EX_FAULT_NO_TMPFILE))
        return -1;
    char *dir = directory_of(path);
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666); /* the umask applies */
    int e = errno;
    free(dir);
    errno = e;
    return fd;
}

/* Opens where the data go: an anonymous file when the filesystem has them
 * (EOPNOTSUPP: not this one; EISDIR/EINVAL: a kernel without O_TMPFILE) and
 * /proc can name it later, else a named temporary. */
static int open_staging(ex_staged *s)
{
    if (access("/proc/self/fd", X_OK) == 0) {
        s->fd = open_anonymous(s->path);
        if (s->fd >= 0)
            return 0;
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return -1;
    }
    return take_temp_name(s, 1);
}

/* Closes and forgets the staged file; a named temporary not yet committed is removed. */
static void discard(ex_staged *s)
{
    if (s->fd >= 0)
        close(s->fd);
    if (s->tmp && s->state == EX_STAGED)
        unlink(s->tmp);
    free(s->tmp);
    *s = (ex_staged){.fd = -1};
}

/* What one file will hold: produce(fd, ctx) writes it. */
typedef struct {
    export_producer produce;
    void *ctx;
} ex_source;

/* Has src write to an anonymous file (or a temporary) beside path and
 * fsyncs it; interrupted (may be NULL) is asked last, with the data on disk
 * and path not yet touched. 0, or -1 with errno and nothing left. */
static int stage(ex_staged *s, const char *path, const ex_source *src, int (*interrupted)(void))
{
    *s = (ex_staged){.path = path, .fd = -1, .state = EX_STAGED};
    int rc = open_staging(s);
    if (rc == 0)
        rc = src->produce(s->fd, src->ctx);
    if (rc == 0)
        rc = sync_file(s->fd);
    if (rc == 0 && s->tmp) { /* named: close now, so that its error counts */
        rc = close_file(s->fd);
        s->fd = -1;
    }
    if (rc == 0 && interrupted && interrupted()) {
        errno = EINTR;
        rc = -1;
    }
    if (rc != 0) {
        int e = errno;
        discard(s);
        errno = e;
    }
    return rc;
}

/* The one line for path failing with errnum: an interruption (EINTR while
 * interrupted() says so) is not an error of the file. */
static void say_failed(const char *path, int errnum, int (*interrupted)(void), char *err, size_t err_size)
{
    if (errnum == EINTR && interrupted && interrupted())
        snprintf(err, err_size, "%s: not written: interrupted", path);
    else
        snprintf(err, err_size, "%s: cannot write: %s", path, strerror(errnum));
}

/* ---- what a target is ------------------------------------------------------------------ */

#define MAX_LINKS 40 /* the kernel's own limit on the links of one path */

/* path with the symbolic links of its last component followed: the file a
 * write to path reaches (the directories on the way are the kernel's to
 * follow). A link to nothing gives the file it would create. 0, or -1 with
 * errno (ELOOP, ENAMETOOLONG). */
static int follow_links(const char *path, char *out, size_t size)
{
    if (snprintf(out, size, "%s", path) >= (int)size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (int hops = 0; hops <= MAX_LINKS; hops++) {
        struct stat st;
        char link[PATH_MAX], next[PATH_MAX];
        if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode))
            return 0; /* absent, or not a link: the write's own errors say the rest */
        ssize_t n = readlink(out, link, sizeof link - 1);
        if (n < 0)
            return -1;
        link[n] = '\0';
        const char *slash = strrchr(out, '/');
        int len = link[0] == '/' || !slash ? snprintf(next, sizeof next, "%s", link) /* relative to the link's directory */
                                           : snprintf(next, sizeof next, "%.*s%s", (int)(slash - out + 1), out, link);
        if (len < 0 || (size_t)len >= size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(out, next, (size_t)len + 1);
    }
    errno = ELOOP;
    return -1;
}

static export_target refuse(char *why, size_t why_size, const char *what)
{
    if (why && why_size)
        snprintf(why, why_size, "%s", what);
    return EXPORT_TARGET_REFUSED;
}

export_target export_target_check(const char *path, char *file, size_t file_size, char *why, size_t why_size)
{
    char resolved[PATH_MAX];
    struct stat st;
    if (strcmp(path, "-") == 0)
        return EXPORT_TARGET_STREAM;
    if (follow_links(path, resolved, sizeof resolved) != 0)
        return refuse(why, why_size, errno == ELOOP ? "is a loop of symbolic links; name a file" : strerror(errno));
    if (stat(resolved, &st) != 0 || S_ISREG(st.st_mode)) {
        if (file && file_size)
            snprintf(file, file_size, "%s", resolved);
        return EXPORT_TARGET_FILE;
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))
        return EXPORT_TARGET_STREAM;
    return refuse(why, why_size,
                  S_ISDIR(st.st_mode)    ? "is a directory; name a file"
                  : S_ISSOCK(st.st_mode) ? "is a socket; name a regular file, a FIFO or a character device"
                  : S_ISBLK(st.st_mode)  ? "is a block device; name a regular file, a FIFO or a character device"
                                         : "is not a regular file; name a regular file, a FIFO or a character device");
}

/* ---- streams ---------------------------------------------------------------------------- */

/* Standard output as it is (after what stdio holds for it), or the node
 * opened for writing as it is: no truncation, no rename, never our
 * controlling terminal. A FIFO is opened without waiting, so that one no
 * process reads fails with ENXIO instead of blocking for ever; then writes
 * wait for a slow reader as usual. fd, or -1 with errno. */
static int open_stream(const char *path)
{
    if (strcmp(path, "-") == 0) {
        fflush(stdout);
        return STDOUT_FILENO;
    }
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* What stdio holds for standard output goes first; our own descriptors close. */
static int write_stream(const char *path, const ex_source *src)
{
    int fd = open_stream(path);
    if (fd < 0)
        return -1;
    int rc = src->produce(fd, src->ctx), e = errno;
    if (fd != STDOUT_FILENO && close(fd) != 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}

/* ---- committing ------------------------------------------------------------------------- */

/* The anonymous file, once it has a name, needs no descriptor: its data were
 * fsynced, so closing cannot lose them. */
static void close_anonymous(ex_staged *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* The target does not exist: the data get its name in one step. */
static int place_new(ex_staged *s)
{
    int rc;
    if (!s->tmp) {
        rc = link_anonymous(s->fd, s->path);
    } else {
        rc = renameat2(AT_FDCWD, s->tmp, AT_FDCWD, s->path, RENAME_NOREPLACE);
        if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) /* no RENAME_NOREPLACE: the lstat before was the check */
            rc = rename(s->tmp, s->path);
    }
    if (rc != 0)
        return -1;
    close_anonymous(s);
    free(s->tmp);
    s->tmp = NULL;
    s->state = EX_CREATED;
    return 0;
}

/* The target exists: swap the new file in, keeping the old one under the
 * temporary name until every file is in place. */
static int swap_in(ex_staged *s)
{
    if (!s->tmp && take_temp_name(s, 0) != 0)
        return -1;
    close_anonymous(s);
    if (renameat2(AT_FDCWD, s->tmp, AT_FDCWD, s->path, RENAME_EXCHANGE) == 0) {
        s->state = EX_SWAPPED;
        return 0;
    }
    if ((errno != EINVAL && errno != ENOSYS) || rename(s->tmp, s->path) != 0)
        return -1;
    free(s->tmp);
    s->tmp = NULL;
    s->state = EX_REPLACED;
    return 0;
}

static int commit(ex_staged *s)
{
    if (injected(EX_FAULT_COMMIT))
        return -1;
    struct stat st;
    if (lstat(s->path, &st) != 0) {
        if (errno != ENOENT)
            return -1;
        if (place_new(s) == 0)
            return 0;
        if (errno != EEXIST) /* EEXIST: it appeared meanwhile; replace it like any other */
            return -1;
    } else if (S_ISDIR(st.st_mode)) {
        errno = EISDIR; /* RENAME_EXCHANGE would happily swap a directory away */
        return -1;
    }
    return swap_in(s);
}

/* Undoes a commit after a later file failed. A plain rename cannot be undone. */
static void roll_back(ex_staged *s)
{
    if (s->state == EX_CREATED)
        unlink(s->path);
    /* Swapped back, the temporary holds the new data and goes; if the swap
     * back failed it holds the old data, which are the user's and stay. */
    if (s->state == EX_SWAPPED && renameat2(AT_FDCWD, s->tmp, AT_FDCWD, s->path, RENAME_EXCHANGE) == 0)
        unlink(s->tmp);
    s->state = EX_DONE;
    discard(s);
}

/* The rename is only durable once the directory is on disk; failing that
 * loses nothing already visible, so it is not an error. */
static void sync_directory_of(const char *path)
{
    char *dir = directory_of(path);
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Every file is in place: the old contents swapped out go. */
static void finish(ex_staged *s)
{
    if (s->state == EX_SWAPPED)
        unlink(s->tmp);
    sync_directory_of(s->path);
    s->state = EX_DONE;
    discard(s);
}

/* ---- writing files together ------------------------------------------------------------ */

/* The one line for a stream that could not be written. */
static void say_stream_failed(const char *path, int errnum, int (*interrupted)(void), char *err, size_t err_size)
{
    if (errnum == ENXIO) /* O_NONBLOCK on a FIFO without a reader */
        snprintf(err, err_size, "%s: cannot write: no process is reading this FIFO (start the reader first)", path);
    else
        say_failed(path, errnum, interrupted, err, err_size);
}

/* Files first staged (in order), then the streams written, then the files
 * put in place; files[i] is where paths[i] leads, "" for a stream. */
static int stage_and_stream(int n, const char *const *paths, char files[][PATH_MAX], const ex_source *sources,
                            int (*interrupted)(void), ex_staged *staged, char *err, size_t err_size)
{
    int failed = 0;
    for (int i = 0; !failed && i < n; i++)
        if (files[i][0] && stage(&staged[i], files[i], &sources[i], interrupted) != 0) {
            say_failed(paths[i], errno, interrupted, err, err_size);
            failed = 1;
        }
    for (int i = 0; !failed && i < n; i++)
        if (!files[i][0] && write_stream(paths[i], &sources[i]) != 0) {
            say_stream_failed(paths[i], errno, interrupted, err, err_size);
            failed = 1;
        }
    /* None is in place yet: discarding is enough (an entry not staged, or
     * discarded by stage itself, has nothing to discard). */
    for (int i = 0; failed && i < n; i++)
        if (files[i][0])
            discard(&staged[i]);
    return failed ? -1 : 0;
}

/* n files, all or nothing (export_write_atomic_files); n <= EXPORT_MAX_FILES. */
static int write_files(int n, const char *const *paths, const ex_source *sources, int (*interrupted)(void), char *err,
                       size_t err_size)
{
    ex_staged staged[EXPORT_MAX_FILES];
    char files[EXPORT_MAX_FILES][PATH_MAX];
    /* What each target is, before anything is written: a directory, a socket... fail here. */
    for (int i = 0; i < n; i++) {
        char why[160];
        export_target kind = export_target_check(paths[i], files[i], sizeof files[i], why, sizeof why);
        if (kind == EXPORT_TARGET_REFUSED) {
            snprintf(err, err_size, "%s: cannot write: %s", paths[i], why);
            return -1;
        }
        if (kind == EXPORT_TARGET_STREAM)
            files[i][0] = '\0';
        staged[i] = (ex_staged){.fd = -1, .state = EX_DONE};
    }
    /* A full disk is found while staging, before any target changes. */
    if (stage_and_stream(n, paths, files, sources, interrupted, staged, err, err_size) != 0)
        return -1;
    int i = 0;
    for (; i < n; i++)
        if (files[i][0] && commit(&staged[i]) != 0)
            break;
    if (i < n) {
        say_failed(paths[i], errno, NULL, err, err_size);
        for (int j = i; j < n; j++)
            if (files[j][0])
                discard(&staged[j]);
        while (i-- > 0) /* newest first: the same path twice unwinds in order */
            if (files[i][0])
                roll_back(&staged[i]);
        return -1;
    }
    for (i = 0; i < n; i++)
        if (files[i][0])
            finish(&staged[i]);
    return 0;
}

/* ---- the interface ---------------------------------------------------------------------- */

typedef struct {
    const char *data;
    size_t len;
} ex_buffer;

static int write_buffer(int fd, void *ctx)
{
    const ex_buffer *b = ctx;
    return write_all(fd, b->data, b->len);
}

int export_write_atomic(const char *path, const char *data, size_t len, char *err, size_t err_size)
{
    return export_write_atomic_files(1, &path, &data, &len, err, err_size);
}

int export_write_atomic_files(int n, const char *const *paths, const char *const *data, const size_t *lens, char *err,
                              size_t err_size)
{
    if (n > EXPORT_MAX_FILES) {
        snprintf(err, err_size, "cannot write more than %d files at once", EXPORT_MAX_FILES);
        return -1;
    }
    ex_buffer buffers[EXPORT_MAX_FILES];
    ex_source sources[EXPORT_MAX_FILES];
    for (int i = 0; i < n; i++) {
        buffers[i] = (ex_buffer){data[i], lens[i]};
        sources[i] = (ex_source){write_buffer, &buffers[i]};
    }
    return write_files(n, paths, sources, NULL, err, err_size);
}

int export_write_atomic_with(const char *path, export_producer produce, void *ctx, int (*interrupted)(void),
                             char *err, size_t err_size)
{
    const ex_source source = {produce, ctx};
    return write_files(1, &path, &source, interrupted, err, err_size);
}
