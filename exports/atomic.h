/* atomic.h — the one writer of every file hstprof produces (reports, logs,
 * model files, the ceilings cache, profiles): a reader finds the target
 * absent, as it was, or complete, whatever fails. A leaf: no JSON, no
 * engine, so any layer may write through it. */
#ifndef HSTPROF_EXPORTS_ATOMIC_H
#define HSTPROF_EXPORTS_ATOMIC_H

#include <stddef.h>

/* Writes data to path atomically: to an anonymous file in path's directory
 * (O_TMPFILE; a named "<path>.tmp.*" where the filesystem has none), fsynced,
 * then put in place. path is absent, its old content (byte for byte), or
 * complete, and no temporary is left, whatever fails: a full disk or a
 * file-size limit (at write, fsync or close), a signal, a kill. On error
 * returns -1 with one line in err ("<path>: cannot write: <reason>", e.g.
 * "No space left on device", "File too large"). */
int export_write_atomic(const char *path, const char *data, size_t len, char *err, size_t err_size);

/* Writes the whole content of a file to fd (a new, empty file opened for
 * writing). 0, or -1 with errno: the cause of the failure (ENOSPC, EFBIG, ...,
 * EINTR when it stopped because it was interrupted). */
typedef int (*export_producer)(int fd, void *ctx);

/* export_write_atomic for content too large to hold in memory: produce(fd,
 * ctx) writes it straight into the staged file, with the same guarantees and
 * errors. interrupted (may be NULL) is asked once more when the content is on
 * disk, before path changes; when it answers non-zero (or produce stopped
 * with EINTR while it does), path is left as it was, nothing else is left,
 * and err is "<path>: not written: interrupted". */
int export_write_atomic_with(const char *path, export_producer produce, void *ctx, int (*interrupted)(void),
                             char *err, size_t err_size);

#define EXPORT_MAX_FILES 32 /* `run`: 8 notes with their 2 plots each, a log, a trace */

/* ---- what a target is ---------------------------------------------------------
 * A regular file (or nothing yet) is replaced atomically as described above;
 * a symbolic link is followed, and the file it names is the one replaced, in
 * its own directory (the link stays a link). "-" means standard output, and
 * a FIFO or a character device is written as a stream: opened for writing
 * without truncating or replacing it, the data written in order, nothing
 * staged (a FIFO that no process reads fails at once, "no process is reading
 * it", rather than block). Anything else (a directory, a socket, a block
 * device, a loop of links) is refused before anything is written. Of files
 * written together, the streams are written after every regular file is
 * staged and before any is put in place; a stream cannot be taken back. */
typedef enum {
    EXPORT_TARGET_FILE,    /* absent or a regular file: staged, then put in place */
    EXPORT_TARGET_STREAM,  /* "-", a FIFO or a character device: written in place */
    EXPORT_TARGET_REFUSED, /* why says what it is and what to name instead */
} export_target;

/* What writing to path would do. For EXPORT_TARGET_FILE, the file the data
 * would replace (path with the symbolic links of its last component followed)
 * goes to file (may be NULL). A check only: nothing is opened. */
export_target export_target_check(const char *path, char *file, size_t file_size, char *why, size_t why_size);

/* Writes n files together, all or nothing: all are staged first (a full disk,
 * no permission, no directory fail here, before any target changes), then
 * put in place one by one; an existing target is swapped with its new
 * content (RENAME_EXCHANGE), so when a later one fails, the earlier ones are
 * swapped back and new ones removed. 0, or -1 with one line in err. */
int export_write_atomic_files(int n, const char *const *paths, const char *const *data, const size_t *lens, char *err,
                              size_t err_size);

/* ---- tests only: the system calls atomic.c makes, failing on demand ------
 * For the errors a test cannot cause for real (fsync and close failing, a
 * commit failing after others succeeded, a filesystem without O_TMPFILE). */
typedef enum {
    EX_FAULT_WRITE,      /* write() */
    EX_FAULT_FSYNC,      /* fsync() of the file */
    EX_FAULT_CLOSE,      /* close() of a named temporary */
    EX_FAULT_COMMIT,     /* putting a staged file in place of its target */
    EX_FAULT_NO_TMPFILE, /* open(O_TMPFILE) (errnum EOPNOTSUPP: use a named temporary) */
    EX_FAULT_N
} ex_fault;
/* op succeeds skip more times, then fails with errnum every time until
 * called again with errnum 0. */
void ex_test_inject_fault(ex_fault op, int skip, int errnum);
/* Each write() writes at most max_bytes (0: no limit), as when interrupted. */
void ex_test_short_writes(size_t max_bytes);

#endif
