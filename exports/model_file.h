/* model_file.h — a model saved as a safetensors file, atomically. */
#ifndef HSTPROF_EXPORTS_MODEL_FILE_H
#define HSTPROF_EXPORTS_MODEL_FILE_H

#include "engine/hst.h"

#include <stddef.h>

/* A model as a safetensors file (spec 9.5, engine's hst_model_write), written
 * atomically by export_write_atomic_with: path is absent, as it was, or
 * complete, and no temporary is left, whatever fails, even a kill part way.
 * interrupted (may be NULL; e.g. cmd_interrupted) is asked before each
 * tensor and before path changes: when it answers non-zero, the error is
 * "<path>: not written: interrupted". A new file is 0666 less the umask, like
 * every export. 0, or -1 with one line in err ("<path>: cannot write: <reason>"). */
int export_model_save(const hst_model *m, const char *path, int (*interrupted)(void), char *err, size_t err_size);

#endif
