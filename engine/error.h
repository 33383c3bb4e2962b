/* error.h — the engine's error line, shared by every engine header. */
#ifndef HST_ERROR_H
#define HST_ERROR_H

/* ---- errors ------------------------------------------------------------ */

/* One line, no trailing newline: "<what>: <class>: <details>" (spec 9.4). */
typedef struct {
    char msg[512];
} hst_error;

#endif
