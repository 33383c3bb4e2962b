/* util.c — helpers every engine file uses: the error setter, the monotonic
 * clock and aligned zeroed buffers. Here, and not beside the code that
 * happened to need them first, so that no engine file depends on another
 * for them. */
#include "engine/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void hst_set_error(hst_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

uint64_t hst_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

float *hst_alloc_floats(size_t n, int *failed)
{
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        *failed = 1;
    else
        memset(p, 0, bytes);
    return p;
}
