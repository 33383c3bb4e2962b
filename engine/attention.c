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

/* e^x to about 1 ulp on [-87, 88] (Cephes polynomial), lanes at -inf give 0. */
__attribute__((target("avx512f"))) static __m512 exp512(__m512 x)
{
    const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-87.3365447504f);
    __mmask16 underflow = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    y = _mm512_scalef_ps(y, fx);
    return _mm512_maskz_mov_ps((__mmask16)~underflow, y);
}

/* Scores of one 16-key block: four partial chains over d for latency. */
__attribute__((target("avx512f"))) static __m512 block_scores512(const float *q, const float *kb, int hd)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int d = 0; d < hd; d += 4) {
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[d]), _mm512_load_ps(kb + (size_t)d * KB), a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(q[d + 1]), _mm512_load_ps(kb + (size_t)(d + 1) * KB), a1);
        a2 = _mm512_fmadd_ps(_mm512_set1_ps(q[d + 2]), _mm512_load_ps(kb + (size_t)(d + 2) * KB), a2);
        a3 = _mm512_fmadd_ps(_mm512_set1_ps(q[d + 3]), _mm512_load_ps(kb + (size_t)(d + 3) * KB), a3);
    }
    return _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
}

#define MAX_HD_VECTORS 16 /* hd up to 256 in registers/stack */

#define CHUNK_BLOCKS 4 /* streaming-softmax step: 64 keys per max/rescale */

/* Scaled scores of the key blocks of one chunk; lanes past t are -inf. */
__attribute__((target("avx512f"))) static int chunk_scores512(const attention_job *j, const float *q,
                                                              const float *kh, int b0, int t, __m512 *sc)
{
    int n = 0;
    for (; n < CHUNK_BLOCKS && (b0 + n) * KB <= t; n++) {
        int b = b0 + n, valid = t - b * KB + 1 < KB ? t - b * KB + 1 : KB;
        __mmask16 live = (__mmask16)((1u << valid) - 1u);
        __m512 v = _mm512_mul_ps(block_scores512(q, kh + (size_t)b * j->hd * KB, j->hd), _mm512_set1_ps(j->scale));
        sc[n] = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), live, v);
    }
    return n;
}

__attribute__((target("avx512f"))) static void attend_row_avx512(const attention_job *j, int row, int h)
{
    const int D = j->D, hd = j->hd, t = j->t0 + row, nv = hd / 16;
    const float *q = j->q + (size_t)row * D + h * hd;
    const float *kh = j->kt + (size_t)h * j->blocks * hd * KB;
    __m512 o[MAX_HD_VECTORS], sc[CHUNK_BLOCKS], denom = _mm512_setzero_ps();
    float running_max = -INFINITY;
    float p[KB] __attribute__((aligned(64)));
    for (int v = 0; v < nv; v++)
        o[v] = _mm512_setzero_ps();
    for (int b0 = 0; b0 * KB <= t; b0 += CHUNK_BLOCKS) {
        int nb = chunk_scores512(j, q, kh, b0, t, sc);
        __m512 m = sc[0];
        for (int i = 1; i < nb; i++)
            m = _mm512_max_ps(m, sc[i]);
        float chunk_max = _mm512_reduce_max_ps(m);
        float new_max = chunk_max > running_max ? chunk_max : running_max;
        __m512 corr = _mm512_set1_ps(expf(running_max - new_max)), mx = _mm512_set1_ps(new_max);
        denom = _mm512_mul_ps(denom, corr);
        for (int v = 0; v < nv; v++)
            o[v] = _mm512_mul_ps(o[v], corr);
        for (int i = 0; i < nb; i++) {
            int b = b0 + i, valid = t - b * KB + 1 < KB ? t - b * KB + 1 : KB;
            __m512 pv = exp512(_mm512_sub_ps(sc[i], mx));
            denom = _mm512_add_ps(denom, pv);
            _mm512_store_ps(p, pv);
            const float *vb = j->v + (size_t)b * KB * D + h * hd;
            for (int l = 0; l < valid; l++) {
                __m512 pl = _mm512_set1_ps(p[l]);
                for (int v = 0; v < nv; v++)
                    o[v] = _mm512_fmadd_ps(pl, _mm512_loadu_ps(vb + (size_t)l * D + v * 16), o[v]);
            }
        }
        running_max = new_max;
    }
    float *out = j->out + (size_t)row * D + h * hd;
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(denom));
    for (int v = 0; v < nv; v++)
        _mm512_storeu_ps(out + v * 16, _mm512_mul_ps(o[v], inv));
}

/* ---- dispatch ------------------------------------------------------------------ */

#define ROWS_PER_TASK 16

static int use_avx512(int hd)
{
    return hst_kernel_current() == HST_KERNEL_AVX512 && hd % 16 == 0 && hd / 16 <= MAX_HD_VECTORS;
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
    void (*row)(const attention_job *j, int row, int h);
} attention_run;

static void attention_task(void *ctx, int task)
{
    const attention_run *run = ctx;
    const attention_job *j = &run->job;
    int h, rt = row_block_of(j, task, &h);
    int r1 = (rt + 1) * ROWS_PER_TASK < j->n_rows ? (rt + 1) * ROWS_PER_TASK : j->n_rows;
    for (int r = rt * ROWS_PER_TASK; r < r1; r++)
        run->row(j, r, h);
}

void hst_attention(hst_pool *pool, const float *q, const float *kt, const float *v, float *out, int n, int t0,
                   int nh, int hd, int blocks)
{
    attention_run run = {{q, kt, v, out, nh * hd, hd, nh, blocks, n, t0, (n + ROWS_PER_TASK - 1) / ROWS_PER_TASK,
                          1.0f / sqrtf((float)hd)},
                         use_avx512(hd) ? attend_row_avx512 : attend_row_portable};
    hst_pool_run(pool, nh * run.job.row_tasks, attention_task, &run);
}
