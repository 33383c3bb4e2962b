/* rowops.c — row-parallel helpers (rowops.h). */
#include "engine/rowops.h"

#include <string.h>

#define ROWS_PER_TASK 16
/* Below this many elements a norm costs less than waking the workers. */
#define PARALLEL_ELEMENTS 4096

typedef struct {
    const float *in;
    int ld_in;
    float *out;
    int ld_out;
    const float *gamma, *beta;
    int n_rows, width;
    int gelu; /* apply GELU after the norm (meta fusion) */
} layernorm_job;

static void layernorm_task(void *ctx, int task)
{
    const layernorm_job *j = ctx;
    int r1 = (task + 1) * ROWS_PER_TASK < j->n_rows ? (task + 1) * ROWS_PER_TASK : j->n_rows;
    for (int r = task * ROWS_PER_TASK; r < r1; r++) {
        float *y = j->out + (size_t)r * j->ld_out;
        hst_layernorm(j->in + (size_t)r * j->ld_in, j->gamma, j->beta, y, j->width);
        if (j->gelu)
            hst_gelu_inplace(y, j->width);
    }
}

void hst_layernorm_rows(hst_pool *pool, const float *in, int ld_in, float *out, int ld_out, const float *gamma,
                        const float *beta, int n_rows, int width, int gelu)
{
    layernorm_job j = {in, ld_in, out, ld_out, gamma, beta, n_rows, width, gelu};
    int tasks = (n_rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    hst_pool_run((int64_t)n_rows * width >= PARALLEL_ELEMENTS ? pool : NULL, tasks, layernorm_task, &j);
}

void hst_rows_copy(const float *src, int ld_src, float *dst, int ld_dst, int n_rows, int width)
{
    if (src == dst && ld_src == ld_dst)
        return;
    for (int r = 0; r < n_rows; r++)
        memmove(dst + (size_t)r * ld_dst, src + (size_t)r * ld_src, (size_t)width * sizeof *src);
}

void hst_rows_scatter(const float *src, int ld_src, float *dst, int ld_dst, int n_rows, int width,
                      const int *positions, int t0)
{
    for (int r = 0; r < n_rows; r++) {
        int to = positions ? positions[r] : t0 + r;
        memcpy(dst + (size_t)to * ld_dst, src + (size_t)r * ld_src, (size_t)width * sizeof *src);
    }
}
