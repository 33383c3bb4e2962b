/* kernels.c — packed-weight matmul with run-time ISA dispatch, and row ops.
 *
 * Determinism: every output element is one FMA (or mul+add, portable) chain
 * over k = 0..K-1 from zero, then + bias, then the epilogue. The chain does not
 * depend on how many rows or panels a micro-kernel handles, so the same
 * element computed in a 1-row decode step, an 8-row prefill tile or on another
 * thread is bit-identical. */
#include "engine/internal.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- packing ------------------------------------------------------------- */

int hst_pack(hst_packed *dst, const float *W, int N, int K)
{
    int panels = (N + HST_NR - 1) / HST_NR;
    size_t bytes = (size_t)panels * (size_t)K * HST_NR * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63;
    dst->N = N;
    dst->K = K;
    dst->data = aligned_alloc(64, bytes ? bytes : 64);
    if (!dst->data)
        return -1;
    memset(dst->data, 0, bytes);
    for (int n = 0; n < N; n++) {
        float *panel = dst->data + (size_t)(n / HST_NR) * K * HST_NR;
        for (int k = 0; k < K; k++)
            panel[(size_t)k * HST_NR + n % HST_NR] = W[(size_t)n * K + k];
    }
    return 0;
}

void hst_packed_free(hst_packed *p)
{
    free(p->data);
    p->data = NULL;
}

/* ---- epilogue: shared by every kernel so results match bit for bit ------- */

static void store_tile(const float *tile, int mr, int ncols, const float *bias, float *Y, int ldy,
                       hst_epilogue epi)
{
    for (int r = 0; r < mr; r++) {
        float *y = Y + (size_t)r * ldy;
        const float *t = tile + r * 2 * HST_NR;
        for (int c = 0; c < ncols; c++) {
            float v = t[c] + (bias ? bias[c] : 0.0f);
            if (epi == HST_EPI_RELU)
                v = v > 0.0f ? v : 0.0f;
            else if (epi == HST_EPI_ADD)
                v = y[c] + v;
            y[c] = v;
        }
    }
}

/* A micro-kernel computes raw sums for mr rows x (np panels of NR columns)
 * into tile[mr][2*NR]. */
typedef void (*micro_fn)(const float *X, int ldx, const float *Wp, int K, int mr, int np, float *tile);

/* ---- portable C ------------------------------------------------------------ */

static void micro_portable(const float *X, int ldx, const float *Wp, int K, int mr, int np, float *tile)
{
    for (int p = 0; p < np; p++) {
        const float *w = Wp + (size_t)p * K * HST_NR;
        for (int r = 0; r < mr; r++) {
            float acc[HST_NR] = {0};
            const float *x = X + (size_t)r * ldx;
            for (int k = 0; k < K; k++) {
                float xv = x[k];
                const float *wk = w + (size_t)k * HST_NR;
                for (int c = 0; c < HST_NR; c++)
                    acc[c] += xv * wk[c];
            }
            memcpy(tile + r * 2 * HST_NR + p * HST_NR, acc, sizeof acc);
        }
    }
}

/* ---- AVX2 + FMA: 6 rows x 16 columns, 12 accumulators ---------------------- */

#define AVX2_MR 6

__attribute__((target("avx2,fma"))) static void micro_avx2_panel(const float *X, int ldx, const float *w, int K,
                                                                 int mr, float *tile)
{
    __m256 acc[AVX2_MR][2];
    for (int r = 0; r < AVX2_MR; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m256 b0 = _mm256_load_ps(w + (size_t)k * HST_NR);
        __m256 b1 = _mm256_load_ps(w + (size_t)k * HST_NR + 8);
#pragma GCC unroll 6
        for (int r = 0; r < AVX2_MR; r++) {
            if (r < mr) {
                __m256 a = _mm256_broadcast_ss(X + (size_t)r * ldx + k);
                acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
            }
        }
    }
    for (int r = 0; r < mr; r++) {
        _mm256_storeu_ps(tile + r * 2 * HST_NR, acc[r][0]);
        _mm256_storeu_ps(tile + r * 2 * HST_NR + 8, acc[r][1]);
    }
}

__attribute__((target("avx2,fma"))) static void micro_avx2(const float *X, int ldx, const float *Wp, int K, int mr,
                                                           int np, float *tile)
{
    for (int p = 0; p < np; p++)
        for (int r0 = 0; r0 < mr; r0 += AVX2_MR) {
            int m = mr - r0 < AVX2_MR ? mr - r0 : AVX2_MR;
            micro_avx2_panel(X + (size_t)r0 * ldx, ldx, Wp + (size_t)p * K * HST_NR, K, m,
                             tile + r0 * 2 * HST_NR + p * HST_NR);
        }
}

/* ---- AVX-512: 8 rows x 32 columns, 16 accumulators ------------------------- */

#define AVX512_MR 8

#define DEFINE_MICRO512(MR)                                                                       \
    __attribute__((target("avx512f"))) static void micro512_##MR(const float *X, int ldx,        \
                                                                  const float *Wp, int K, int np, \
                                                                  float *tile)                    \
    {                                                                                             \
        __m512 c0[MR], c1[MR];                                                                    \
        const float *w0 = Wp, *w1 = Wp + (size_t)K * HST_NR;                                      \
        for (int r = 0; r < MR; r++)                                                              \
            c0[r] = c1[r] = _mm512_setzero_ps();                                                  \
        if (np == 2) {                                                                            \
            for (int k = 0; k < K; k++) {                                                         \
                __m512 b0 = _mm512_load_ps(w0 + (size_t)k * HST_NR);                              \
                __m512 b1 = _mm512_load_ps(w1 + (size_t)k * HST_NR);                              \
                for (int r = 0; r < MR; r++) {                                                    \
                    __m512 a = _mm512_set1_ps(X[(size_t)r * ldx + k]);                            \
                    c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);                                        \
                    c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);                                        \
                }                                                                                 \
            }                                                                                     \
        } else {                                                                                  \
            for (int k = 0; k < K; k++) {                                                         \
                __m512 b0 = _mm512_load_ps(w0 + (size_t)k * HST_NR);                              \
                for (int r = 0; r < MR; r++)                                                      \
                    c0[r] = _mm512_fmadd_ps(_mm512_set1_ps(X[(size_t)r * ldx + k]), b0, c0[r]);   \
            }                                                                                     \
        }                                                                                         \
        for (int r = 0; r < MR; r++) {                                                            \
            _mm512_storeu_ps(tile + r * 2 * HST_NR, c0[r]);                                       \
            _mm512_storeu_ps(tile + r * 2 * HST_NR + HST_NR, c1[r]);                              \
        }                                                                                         \
    }

DEFINE_MICRO512(1)
DEFINE_MICRO512(2)
DEFINE_MICRO512(3)
DEFINE_MICRO512(4)
DEFINE_MICRO512(5)
DEFINE_MICRO512(6)
DEFINE_MICRO512(7)
DEFINE_MICRO512(8)

static void micro_avx512(const float *X, int ldx, const float *Wp, int K, int mr, int np, float *tile)
{
    typedef void (*fixed_fn)(const float *, int, const float *, int, int, float *);
    static const fixed_fn by_rows[AVX512_MR + 1] = {
        NULL, micro512_1, micro512_2, micro512_3, micro512_4,
        micro512_5, micro512_6, micro512_7, micro512_8,
    };
    by_rows[mr](X, ldx, Wp, K, np, tile);
}

/* ---- dispatch --------------------------------------------------------------- */

typedef struct {
    hst_kernel kind;
    micro_fn fn;
    int mr; /* rows per micro-kernel call */
} kernel_impl;

static kernel_impl current = {HST_KERNEL_PORTABLE, micro_portable, 4};
static int selected;

static int cpu_has(hst_kernel k)
{
    __builtin_cpu_init();
    switch (k) {
    case HST_KERNEL_AVX512:
        return __builtin_cpu_supports("avx512f");
    case HST_KERNEL_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default:
        return 1;
    }
}

static hst_kernel kernel_from_env(void)
{
    const char *e = getenv("HSTPROF_KERNEL");
    if (!e || !*e)
        return HST_KERNEL_AUTO;
    if (strcmp(e, "avx512") == 0)
        return HST_KERNEL_AVX512;
    if (strcmp(e, "avx2") == 0)
        return HST_KERNEL_AVX2;
    if (strcmp(e, "portable") == 0)
        return HST_KERNEL_PORTABLE;
    return HST_KERNEL_AUTO;
}

int hst_kernel_select(hst_kernel k)
{
    if (k == HST_KERNEL_AUTO)
        k = cpu_has(HST_KERNEL_AVX512) ? HST_KERNEL_AVX512
          : cpu_has(HST_KERNEL_AVX2)   ? HST_KERNEL_AVX2
                                       : HST_KERNEL_PORTABLE;
    if (!cpu_has(k))
        return -1;
    static const kernel_impl impls[] = {
        [HST_KERNEL_PORTABLE] = {HST_KERNEL_PORTABLE, micro_portable, 4},
        [HST_KERNEL_AVX2] = {HST_KERNEL_AVX2, micro_avx2, AVX2_MR},
        [HST_KERNEL_AVX512] = {HST_KERNEL_AVX512, micro_avx512, AVX512_MR},
    };
    current = impls[k];
    selected = 1;
    return (int)k;
}

static void ensure_selected(void)
{
    if (!selected && hst_kernel_select(kernel_from_env()) < 0)
        hst_kernel_select(HST_KERNEL_AUTO);
}

hst_kernel hst_kernel_current(void)
{
    ensure_selected();
    return current.kind;
}

const char *hst_kernel_name(hst_kernel k)
{
    switch (k) {
    case HST_KERNEL_AVX512:
        return "avx512";
    case HST_KERNEL_AVX2:
        return "avx2";
    case HST_KERNEL_PORTABLE:
        return "portable";
    default:
        return "auto";
    }
}

/* ---- matmul ------------------------------------------------------------------ */

/* Fixed tile sizes, independent of the thread count (see the file comment). */
#define ROWS_PER_TASK 32
#define PANELS_PER_TASK 4
/* Below this many multiply-adds, waking workers costs more than it saves. */
#define SERIAL_MACS (1 << 16)

typedef struct {
    const float *X;
    int S, ldx;
    const hst_packed *W;
    const float *bias;
    float *Y;
    int ldy;
    hst_epilogue epi;
    int col_tasks;
} matmul_job;

static void matmul_block(const matmul_job *j, int r0, int r1, int p0, int p1)
{
    const int K = j->W->K, N = j->W->N, mr_max = current.mr;
    float tile[AVX512_MR * 2 * HST_NR];
    for (int p = p0; p < p1; p += 2) {
        int np = p + 1 < p1 ? 2 : 1;
        int c0 = p * HST_NR;
        int ncols = N - c0 < np * HST_NR ? N - c0 : np * HST_NR;
        const float *Wp = j->W->data + (size_t)p * K * HST_NR;
        for (int r = r0; r < r1; r += mr_max) {
            int mr = r1 - r < mr_max ? r1 - r : mr_max;
            current.fn(j->X + (size_t)r * j->ldx, j->ldx, Wp, K, mr, np, tile);
            store_tile(tile, mr, ncols, j->bias ? j->bias + c0 : NULL, j->Y + (size_t)r * j->ldy + c0,
                       j->ldy, j->epi);
        }
    }
}

static void matmul_task(void *ctx, int task)
{
    const matmul_job *j = ctx;
    int panels = (j->W->N + HST_NR - 1) / HST_NR;
    int rt = task / j->col_tasks, ct = task % j->col_tasks;
    int r0 = rt * ROWS_PER_TASK, r1 = r0 + ROWS_PER_TASK < j->S ? r0 + ROWS_PER_TASK : j->S;
    int p0 = ct * PANELS_PER_TASK, p1 = p0 + PANELS_PER_TASK < panels ? p0 + PANELS_PER_TASK : panels;
    matmul_block(j, r0, r1, p0, p1);
}

void hst_matmul(hst_pool *pool, const float *X, int S, int ldx, const hst_packed *W, const float *bias, float *Y,
                int ldy, hst_epilogue epi)
{
    ensure_selected();
    int panels = (W->N + HST_NR - 1) / HST_NR;
    matmul_job j = {X, S, ldx, W, bias, Y, ldy, epi, (panels + PANELS_PER_TASK - 1) / PANELS_PER_TASK};
    int row_tasks = (S + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    if ((int64_t)S * W->N * W->K < SERIAL_MACS)
        pool = NULL;
    hst_pool_run(pool, row_tasks * j.col_tasks, matmul_task, &j);
}

void hst_matmul_serial(const float *X, int S, int ldx, const hst_packed *W, const float *bias, float *Y, int ldy,
                       hst_epilogue epi)
{
    hst_matmul(NULL, X, S, ldx, W, bias, Y, ldy, epi);
}

double hst_matmul_gflops(hst_pool *pool, int M, int N, int K, int reps)
{
    if (M < 1 || N < 1 || K < 1 || reps < 1)
        return -1;
    float *X = malloc((size_t)M * K * sizeof *X), *W = malloc((size_t)N * K * sizeof *W);
    float *Y = malloc((size_t)M * N * sizeof *Y);
    hst_packed P = {0};
    double best = -1;
    if (X && W && Y) {
        for (size_t i = 0; i < (size_t)M * K; i++)
            X[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)N * K; i++)
            W[i] = (float)(i % 5) * 0.1f;
        if (hst_pack(&P, W, N, K) == 0) {
            for (int r = 0; r < reps; r++) {
                uint64_t t0 = hst_now_ns();
                hst_matmul(pool, X, M, K, &P, NULL, Y, N, HST_EPI_NONE);
                double s = (double)(hst_now_ns() - t0) * 1e-9;
                double g = 2.0 * M * N * K / s * 1e-9;
                if (g > best)
                    best = g;
            }
            hst_packed_free(&P);
        }
    }
    free(X);
    free(W);
    free(Y);
    return best;
}

/* ---- row ops (spec 1) ------------------------------------------------------------ */

void hst_layernorm(const float *x, const float *gamma, const float *beta, float *y, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / n, var = 0;
    for (int i = 0; i < n; i++) {
        double d = x[i] - mean;
        var += d * d;
    }
    float inv = (float)(1.0 / sqrt(var / n + 1e-5));
    float mu = (float)mean;
    for (int i = 0; i < n; i++)
        y[i] = (x[i] - mu) * inv * gamma[i] + beta[i];
}

float hst_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
float hst_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
float hst_softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
