/* attention.c — causal multi-head attention over the KV cache (spec 4.2):
 * streaming softmax over blocks of 16 keys, no S x S buffer, no masked work
 * beyond the last partial block.
 *
 * K is cached transposed in blocks of 16 positions per head, kt[h][blk][d][16],
 * so the 16 scores of a block are one chain of broadcast-FMAs (the matmul
 * micro-kernel's shape) instead of 16 horizontal dot products. V stays
 * row-major [pos][D]. A row's result depends only on its position and the
 * cache, never on how rows are grouped or split over threads, so a decode
 * step equals the prefill row bit for bit. */
#include "engine/internal.h"
#include "engine/simd512.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define KB HST_KEY_BLOCK

void hst_kcache_store(float *kt, const float *k_rows, int ld, int n, int t0, int nh, int hd, int blocks)
{
    for (int i = 0; i < n; i++) {
        int pos = t0 + i;
        const float *k = k_rows + (size_t)i * ld;
        for (int h = 0; h < nh; h++) {
            float *dst = kt + (((size_t)h * blocks + pos / KB) * hd) * KB + pos % KB;
            for (int d = 0; d < hd; d++)
                dst[(size_t)d * KB] = k[h * hd + d];
        }
    }
}

typedef struct {
    const float *q, *kt, *v;
    float *out;
    int D, hd, nh, blocks, n_rows, t0, row_tasks;
    float scale;
} attention_job;

/* ---- portable ------------------------------------------------------------- */

static void attend_row_portable(const attention_job *j, int row, int h)
{
    const int D = j->D, hd = j->hd, t = j->t0 + row;
    const float *q = j->q + (size_t)row * D + h * hd;
    const float *kh = j->kt + (size_t)h * j->blocks * hd * KB;
    float *o = j->out + (size_t)row * D + h * hd;
    float running_max = -INFINITY, denom = 0;
    memset(o, 0, (size_t)hd * sizeof *o);
    for (int b = 0; b * KB <= t; b++) {
        const float *kb = kh + (size_t)b * hd * KB;
        int valid = t - b * KB + 1 < KB ? t - b * KB + 1 : KB;
        float sc[KB] = {0}, block_max = -INFINITY;
        for (int d = 0; d < hd; d++)
            for (int l = 0; l < KB; l++)
                sc[l] += q[d] * kb[(size_t)d * KB + l];
        for (int l = 0; l < valid; l++) {
            sc[l] *= j->scale;
            block_max = sc[l] > block_max ? sc[l] : block_max;
        }
        float new_max = block_max > running_max ? block_max : running_max;
        float correction = expf(running_max - new_max);
        denom *= correction;
        for (int d = 0; d < hd; d++)
            o[d] *= correction;
        for (int l = 0; l < valid; l++) {
            float p = expf(sc[l] - new_max);
            const float *v = j->v + (size_t)(b * KB + l) * D + h * hd;
            denom += p;
            for (int d = 0; d < hd; d++)
                o[d] += p * v[d];
        }
        running_max = new_max;
    }
    for (int d = 0; d < hd; d++)
        o[d] /= denom;
}

/* ---- AVX-512 (hd a multiple of 16) ---------------------------------------- */

#define CHUNK_BLOCKS 4       /* streaming-softmax step: 64 keys per max/rescale */
#define GROUP_LANES 4        /* (row, head) pairs attended together */
#define MAX_GROUP_VECTORS 16 /* hd up to 256 */

/* Several (row, head) lanes at once: either R consecutive rows of one head
 * (a prefill: every K and V vector loaded serves R rows) or R heads of one
 * row (a decode step), so that R*NV output accumulators form independent FMA
 * chains (one lane alone is latency-bound on its NV chains). Each lane's
 * arithmetic is exactly that of the lane on its own (R = 1): keys past a
 * lane's position get score -inf, so in the shared loops they add
 * exp(-inf) = 0 (fma(0, v, o) = o) and a chunk with no key of the lane
 * rescales by exp(0) = 1. So a decode step equals its prefill row bit for
 * bit, whatever the grouping. Per lane and 16-key block: scores in four
 * partial chains over d, scaled, masked; per 64-key chunk one max and
 * rescale; then p = e^(s - max) and o += p * v over the keys in order. */
__attribute__((always_inline, target("avx512f"))) static inline void
attend_lanes512(const attention_job *j, int row0, int h0, const int R, const int NV, const int BY_HEAD)
{
    const int D = j->D, hd = NV * 16, t_last = j->t0 + row0 + (BY_HEAD ? 0 : R - 1);
    const float *q[GROUP_LANES] = {NULL}, *kh[GROUP_LANES] = {NULL};
    int t[GROUP_LANES] = {0}, head[GROUP_LANES] = {0};
    __m512 o[GROUP_LANES][MAX_GROUP_VECTORS], denom[GROUP_LANES];
    float running_max[GROUP_LANES];
    float sc[GROUP_LANES][CHUNK_BLOCKS][KB] __attribute__((aligned(64)));
    const __m512 scale = _mm512_set1_ps(j->scale), minus_inf = _mm512_set1_ps(-INFINITY);
    for (int r = 0; r < R; r++) {
        int row = BY_HEAD ? row0 : row0 + r;
        head[r] = BY_HEAD ? h0 + r : h0;
        t[r] = j->t0 + row;
        q[r] = j->q + (size_t)row * D + head[r] * hd;
        kh[r] = j->kt + (size_t)head[r] * j->blocks * hd * KB;
        running_max[r] = -INFINITY;
        denom[r] = _mm512_setzero_ps();
        for (int v = 0; v < NV; v++)
            o[r][v] = _mm512_setzero_ps();
    }
    for (int b0 = 0; b0 * KB <= t_last; b0 += CHUNK_BLOCKS) {
        int nb = 0;
        for (; nb < CHUNK_BLOCKS && (b0 + nb) * KB <= t_last; nb++) {
            const size_t block = (size_t)(b0 + nb) * hd * KB;
            __m512 acc[GROUP_LANES][4];
            for (int r = 0; r < R; r++)
                acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm512_setzero_ps();
            for (int d = 0; d < hd; d += 4)
                for (int i = 0; i < 4; i++) {
                    __m512 k = _mm512_load_ps(kh[0] + block + (size_t)(d + i) * KB);
                    for (int r = 0; r < R; r++) {
                        if (BY_HEAD && r > 0)
                            k = _mm512_load_ps(kh[r] + block + (size_t)(d + i) * KB);
                        acc[r][i] = _mm512_fmadd_ps(_mm512_set1_ps(q[r][d + i]), k, acc[r][i]);
                    }
                }
            for (int r = 0; r < R; r++) {
                int valid = t[r] - (b0 + nb) * KB + 1;
                __mmask16 live = valid >= KB ? (__mmask16)0xffff : valid <= 0 ? 0 : (__mmask16)((1u << valid) - 1u);
                __m512 s = _mm512_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]), _mm512_add_ps(acc[r][2], acc[r][3]));
                _mm512_store_ps(sc[r][nb], _mm512_mask_mov_ps(minus_inf, live, _mm512_mul_ps(s, scale)));
            }
        }
        __m512 mx[GROUP_LANES];
        for (int r = 0; r < R; r++) {
            __m512 m = _mm512_load_ps(sc[r][0]);
            for (int i = 1; i < nb; i++)
                m = _mm512_max_ps(m, _mm512_load_ps(sc[r][i]));
            float chunk_max = _mm512_reduce_max_ps(m);
            float new_max = chunk_max > running_max[r] ? chunk_max : running_max[r];
            __m512 corr = _mm512_set1_ps(expf(running_max[r] - new_max));
            mx[r] = _mm512_set1_ps(new_max);
            denom[r] = _mm512_mul_ps(denom[r], corr);
            for (int v = 0; v < NV; v++)
                o[r][v] = _mm512_mul_ps(o[r][v], corr);
            running_max[r] = new_max;
        }
        for (int i = 0; i < nb; i++) {
            int b = b0 + i, keys = t_last - b * KB + 1 < KB ? t_last - b * KB + 1 : KB;
            for (int r = 0; r < R; r++) {
                __m512 p = exp512(_mm512_sub_ps(_mm512_load_ps(sc[r][i]), mx[r]));
                denom[r] = _mm512_add_ps(denom[r], p);
                _mm512_store_ps(sc[r][i], p);
            }
            const float *vb = j->v + (size_t)b * KB * D;
            for (int l = 0; l < keys; l++)
                for (int v = 0; v < NV; v++) {
                    __m512 vv = _mm512_loadu_ps(vb + (size_t)l * D + head[0] * hd + v * 16);
                    for (int r = 0; r < R; r++) {
                        if (BY_HEAD && r > 0)
                            vv = _mm512_loadu_ps(vb + (size_t)l * D + head[r] * hd + v * 16);
                        o[r][v] = _mm512_fmadd_ps(_mm512_set1_ps(sc[r][i][l]), vv, o[r][v]);
                    }
                }
        }
    }
    for (int r = 0; r < R; r++) {
        float *out = j->out + (size_t)(t[r] - j->t0) * D + head[r] * hd;
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(denom[r]));
        for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(out + v * 16, _mm512_mul_ps(o[r][v], inv));
    }
}

/* Specialisations with R and NV known at compile time, so the accumulators
 * live in registers (hd = 16, 32, 64 keep R = 4; wider heads go one by one). */
#define DEFINE_ATTEND(NV, R)                                                                            \
    __attribute__((target("avx512f"))) static void attend512_rows_##NV##_##R(const attention_job *j,     \
                                                                              int row0, int h)          \
    {                                                                                                   \
        attend_lanes512(j, row0, h, R, NV, 0);                                                          \
    }                                                                                                   \
    __attribute__((target("avx512f"))) static void attend512_heads_##NV##_##R(const attention_job *j,    \
                                                                               int row, int h0)         \
    {                                                                                                   \
        attend_lanes512(j, row, h0, R, NV, 1);                                                          \
    }
#define DEFINE_ATTEND_LANES(NV) DEFINE_ATTEND(NV, 1) DEFINE_ATTEND(NV, 2) DEFINE_ATTEND(NV, 3) DEFINE_ATTEND(NV, 4)

DEFINE_ATTEND_LANES(1)
DEFINE_ATTEND_LANES(2)
DEFINE_ATTEND_LANES(4)

/* Any other hd (a multiple of 16 up to 256): one lane at a time, same arithmetic. */
__attribute__((target("avx512f"))) static void attend512_any_1(const attention_job *j, int row0, int h)
{
    attend_lanes512(j, row0, h, 1, j->hd / 16, 0);
}

typedef void (*attend_group_fn)(const attention_job *j, int row, int h);

#define LANE_TABLE(KIND, NV)                                                                            \
    {NULL, attend512_##KIND##_##NV##_1, attend512_##KIND##_##NV##_2, attend512_##KIND##_##NV##_3,        \
     attend512_##KIND##_##NV##_4}

/* [by_head][NV][lanes] */
static const attend_group_fn attend512_groups[2][5][GROUP_LANES + 1] = {
    {[1] = LANE_TABLE(rows, 1), [2] = LANE_TABLE(rows, 2), [4] = LANE_TABLE(rows, 4)},
    {[1] = LANE_TABLE(heads, 1), [2] = LANE_TABLE(heads, 2), [4] = LANE_TABLE(heads, 4)},
};

/* ---- dispatch ------------------------------------------------------------------ */

#define ROWS_PER_TASK 16

/* The AVX-512 kernel for `lanes` rows (or heads), NULL when the portable one applies. */
static attend_group_fn avx512_kernel(int hd, int lanes, int by_head)
{
    if (hst_kernel_current() != HST_KERNEL_AVX512 || hd % 16 != 0 || hd / 16 > MAX_GROUP_VECTORS)
        return NULL;
    int nv = hd / 16;
    if (nv <= 4 && attend512_groups[by_head][nv][lanes])
        return attend512_groups[by_head][nv][lanes];
    return lanes == 1 ? attend512_any_1 : NULL;
}

/* Lanes per kernel call: GROUP_LANES when a group kernel fits hd, else 1. */
static int group_lanes(int hd)
{
    return avx512_kernel(hd, GROUP_LANES, 0) ? GROUP_LANES : 1;
}

/* Later rows attend to more keys: hand out the heaviest row blocks first so
 * the last task taken is a light one and no thread idles at the end. */
static int row_block_of(const attention_job *j, int task, int *h)
{
    *h = task % j->nh;
    return j->row_tasks - 1 - task / j->nh;
}

typedef struct {
    attention_job job;
    int group;          /* lanes per kernel call */
    int heads_per_task; /* a one-row call (decode): heads grouped per task */
} attention_run;

/* A prefill task: up to ROWS_PER_TASK rows of one head, `group` rows at a time. */
static void attention_rows_task(void *ctx, int task)
{
    const attention_run *run = ctx;
    const attention_job *j = &run->job;
    int h, rt = row_block_of(j, task, &h);
    int r1 = (rt + 1) * ROWS_PER_TASK < j->n_rows ? (rt + 1) * ROWS_PER_TASK : j->n_rows;
    for (int r = rt * ROWS_PER_TASK; r < r1; r += run->group) {
        int rows = r1 - r < run->group ? r1 - r : run->group;
        attend_group_fn group = avx512_kernel(j->hd, rows, 0);
        if (group) {
            group(j, r, h);
        } else {
            for (int i = 0; i < rows; i++)
                attend_row_portable(j, r + i, h);
        }
    }
}

/* A decode task: heads h0.. of the one row, as one group. */
static void attention_heads_task(void *ctx, int task)
{
    const attention_run *run = ctx;
    const attention_job *j = &run->job;
    int h0 = task * run->heads_per_task, heads = j->nh - h0 < run->heads_per_task ? j->nh - h0 : run->heads_per_task;
    attend_group_fn group = avx512_kernel(j->hd, heads, 1);
    if (group) {
        group(j, 0, h0);
    } else {
        for (int h = h0; h < h0 + heads; h++)
            attend_row_portable(j, 0, h);
    }
}

void hst_attention(hst_pool *pool, const float *q, const float *kt, const float *v, float *out, int n, int t0,
                   int nh, int hd, int blocks)
{
    attention_run run = {{q, kt, v, out, nh * hd, hd, nh, blocks, n, t0, (n + ROWS_PER_TASK - 1) / ROWS_PER_TASK,
                          1.0f / sqrtf((float)hd)},
                         group_lanes(hd), 1};
    if (n > 1 || run.group == 1) {
        hst_pool_run(pool, nh * run.job.row_tasks, attention_rows_task, &run);
        return;
    }
    /* One row: spread the heads over the threads, up to GROUP_LANES per task.
     * The split may follow the thread count: no lane's result depends on it. */
    int threads = pool ? hst_pool_threads(pool) : 1;
    run.heads_per_task = (nh + threads - 1) / threads;
    if (run.heads_per_task > GROUP_LANES)
        run.heads_per_task = GROUP_LANES;
    hst_pool_run(pool, (nh + run.heads_per_task - 1) / run.heads_per_task, attention_heads_task, &run);
}
