/* model_file.c — a model saved as a safetensors file: the engine writes the
 * bytes (hst_model_write), atomic.c makes them a file the way it makes every
 * export, so a save that fails, is interrupted or killed part way leaves the
 * target as it was and nothing behind. */
#include "exports/model_file.h"

#include "exports/atomic.h"

#include <stdio.h>

typedef struct {
    const hst_model *m;
    int (*interrupted)(void);
    hst_error err; /* why hst_model_write failed, when it did */
} model_save;

static int write_model(int fd, void *ctx)
{
    model_save *save = ctx;
    return hst_model_write(save->m, fd, save->interrupted, &save->err);
}

int export_model_save(const hst_model *m, const char *path, int (*interrupted)(void), char *err, size_t err_size)
{
    model_save save = {.m = m, .interrupted = interrupted};
    if (export_write_atomic_with(path, write_model, &save, interrupted, err, err_size) == 0)
        return 0;
    /* The engine's reason when it stopped the write: the same form as
     * atomic.c's ("cannot write: <reason>"), more precise when a tensor
     * itself was at fault. */
    if (save.err.msg[0])
        snprintf(err, err_size, "%s: %s", path, save.err.msg);
    return -1;
}
