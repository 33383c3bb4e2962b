/* kernels.c — packed-weight matmul with run-time ISA dispatch, and row ops.
 *
 * Determinism: every output element is one FMA (or mul+add, portable) chain
 * over k = 0..K-1 from zero, then + bias, then the epilogue. The chain does not
 * depend on how many rows or panels a micro-kernel handles, so the same
 * element computed in a 1-row decode step, an 8-row prefill tile or on another
 * thread is bit-identical. */
#include "engine/internal.h"
#include "engine/simd512.h"

#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- packing ------------------------------------------------------------- */

static size_t element_bytes(hst_precision precision)
{
    return precision == HST_PRECISION_BF16 ? 2 : precision == HST_PRECISION_INT8 ? 1 : 4;
}

static void *aligned_zeroed(size_t bytes)
{
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes ? bytes : 64);
    return p;
}

/* Round to nearest even, as torch.Tensor.bfloat16() does; NaN stays NaN. */
static uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* Symmetric per-output-channel scales: the largest |w| of row n maps to 127. */
static void int8_scales(const float *W, int N, int K, float *scale)
{
    for (int n = 0; n < N; n++) {
        float amax = 0;
        for (int k = 0; k < K; k++)
            amax = fmaxf(amax, fabsf(W[(size_t)n * K + k]));
        scale[n] = amax / 127.0f;
    }
}

static int8_t quantise_int8(float w, float scale)
{
    if (scale == 0.0f)
        return 0;
    float q = nearbyintf(w / scale);
    return (int8_t)(q > 127.0f ? 127 : q < -127.0f ? -127 : q);
}

/* Where W[n][k] lives in the panels (the layout of struct hst_packed). */
static size_t panel_index(int n, int k, int K)
{
    return ((size_t)(n / HST_NR) * K + k) * HST_NR + n % HST_NR;
}

/* bf16 panels go in pairs (2q, 2q+1): at row k, 32-bit word c holds column c
 * of panel 2q in its low half and column c of panel 2q+1 in its high half.
 * One 64-byte load then widens to both panels with a shift (low halves) and
 * a mask (high halves) — exact, no shuffle, about 1.7x the throughput of
 * zero-extending 16-bit lanes, which bounds a decode step's matmuls. */
static size_t bf16_pair_index(int n, int k, int K)
{
    int pair = n / (2 * HST_NR), c = n % HST_NR, high = (n / HST_NR) % 2;
    return (((size_t)pair * K + k) * HST_NR + c) * 2 + high;
}

static size_t weight_index(hst_precision precision, int n, int k, int K)
{
    return precision == HST_PRECISION_BF16 ? bf16_pair_index(n, k, K) : panel_index(n, k, K);
}

/* Panels allocated: bf16 rounds up to whole pairs. */
static size_t stored_panels(hst_precision precision, int N)
{
    size_t panels = (size_t)(N + HST_NR - 1) / HST_NR;
    return precision == HST_PRECISION_BF16 ? (panels + 1) / 2 * 2 : panels;
}

int hst_pack_precision(hst_packed *dst, const float *W, int N, int K, hst_precision precision)
{
    int panels = (N + HST_NR - 1) / HST_NR;
    size_t elems = stored_panels(precision, N) * (size_t)K * HST_NR;
    memset(dst, 0, sizeof *dst);
    dst->N = N;
    dst->K = K;
    dst->precision = precision;
    void *buf = aligned_zeroed(elems * element_bytes(precision));
    if (!buf)
        return -1;
    if (precision == HST_PRECISION_INT8 && !(dst->scale = aligned_zeroed((size_t)panels * HST_NR * sizeof(float)))) {
        free(buf);
        return -1;
    }
    if (precision == HST_PRECISION_INT8)
        int8_scales(W, N, K, dst->scale);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            float w = W[(size_t)n * K + k];
            size_t i = weight_index(precision, n, k, K);
            if (precision == HST_PRECISION_BF16)
                ((uint16_t *)buf)[i] = f32_to_bf16(w);
            else if (precision == HST_PRECISION_INT8)
                ((int8_t *)buf)[i] = quantise_int8(w, dst->scale[n]);
            else
                ((float *)buf)[i] = w;
        }
    if (precision == HST_PRECISION_BF16)
        dst->bf16 = buf;
    else if (precision == HST_PRECISION_INT8)
        dst->q8 = buf;
    else
        dst->data = buf;
    return 0;
}

int hst_pack(hst_packed *dst, const float *W, int N, int K)
{
    return hst_pack_precision(dst, W, N, K, HST_PRECISION_F32);
}

void hst_packed_free(hst_packed *p)
{
    free(p->data);
    free(p->bf16);
    free(p->q8);
    free(p->scale);
    p->data = NULL;
    p->bf16 = NULL;
    p->q8 = NULL;
    p->scale = NULL;
}

float hst_packed_weight(const hst_packed *p, int n, int k)
{
    size_t i = weight_index(p->precision, n, k, p->K);
    if (p->precision == HST_PRECISION_BF16) {
        uint32_t u = (uint32_t)p->bf16[i] << 16;
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    if (p->precision == HST_PRECISION_INT8)
        return (float)p->q8[i] * p->scale[n];
    return p->data[i];
}

size_t hst_packed_bytes(const hst_packed *p)
{
    size_t panels = (size_t)(p->N + HST_NR - 1) / HST_NR;
    size_t bytes = stored_panels(p->precision, p->N) * (size_t)p->K * HST_NR * element_bytes(p->precision);
    return bytes + (p->scale ? panels * HST_NR * sizeof(float) : 0);
}

/* The panels of p as raw bytes, whatever the element type. */
static const unsigned char *panel_base(const hst_packed *p)
{
    return p->precision == HST_PRECISION_BF16   ? (const unsigned char *)p->bf16
         : p->precision == HST_PRECISION_INT8 ? (const unsigned char *)p->q8
                                              : (const unsigned char *)p->data;
}

/* ---- epilogue: shared by every kernel so results match bit for bit ------- */

static void store_tile(const float *tile, int tile_ld, int mr, int ncols, const float *bias, float *Y, int ldy,
                       hst_epilogue epi)
{
    for (int r = 0; r < mr; r++) {
        float *y = Y + (size_t)r * ldy;
        const float *t = tile + r * tile_ld;
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

/* The same epilogue with AVX-512 masks: identical results (t + b, then
 * max(v, 0) — which gives +0 for -0 and NaN as `v > 0 ? v : 0` does — or
 * y + v), without a branch per element. b is zero without a bias: t + 0
 * is what store_tile computes too. */
__attribute__((always_inline, target("avx512f"))) static inline void epilogue512(__m512 t, __m512 b, float *y,
                                                                                 __mmask16 cols, hst_epilogue epi)
{
    __m512 v = _mm512_add_ps(t, b);
    if (epi == HST_EPI_RELU)
        v = _mm512_max_ps(v, _mm512_setzero_ps());
    else if (epi == HST_EPI_ADD)
        v = _mm512_add_ps(_mm512_maskz_loadu_ps(cols, y), v);
    _mm512_mask_storeu_ps(y, cols, v);
}

/* Columns [c0, c0 + 16) of ncols, as a mask. */
static inline __mmask16 column_mask(int c0, int ncols)
{
    int width = ncols - c0 < HST_NR ? ncols - c0 : HST_NR;
    return width <= 0 ? 0 : (__mmask16)((1u << width) - 1u);
}

__attribute__((target("avx512f"))) static void store_tile512(const float *tile, int tile_ld, int mr, int ncols,
                                                             const float *bias, float *Y, int ldy, hst_epilogue epi)
{
    for (int c0 = 0; c0 < ncols; c0 += HST_NR) {
        __mmask16 cols = column_mask(c0, ncols);
        __m512 b = bias ? _mm512_maskz_loadu_ps(cols, bias + c0) : _mm512_setzero_ps();
        for (int r = 0; r < mr; r++)
            epilogue512(_mm512_loadu_ps(tile + r * tile_ld + c0), b, Y + (size_t)r * ldy + c0, cols, epi);
    }
}

/* A micro-kernel computes raw sums for mr rows x (np panels of NR columns)
 * into tile[mr][2*NR]. Wp is the first panel in the kernel's element type;
 * scale (int8 only, else NULL) holds the 2*NR column scales, applied to each
 * finished sum: sum_k x*q, then * scale — one f32 chain per element whatever
 * the precision, so the determinism rules of the file comment still hold. */
typedef void (*micro_fn)(const float *X, int ldx, const void *Wp, const float *scale, int K, int mr, int np,
                         float *tile);
/* The same for mr <= WIDE_MAX_ROWS rows and np = 4 or 8 panels; tile[mr][np*NR]. */
typedef micro_fn wide_fn;

/* ---- portable C ------------------------------------------------------------ */

/* Weights k of panel p (relative to Wp, which starts an even panel) as f32:
 * exact for f32 and bf16, the int8 code for int8. */
static void widen_row(const void *Wp, hst_precision precision, int K, int p, int k, float out[HST_NR])
{
    const void *w = (const unsigned char *)Wp + (size_t)p * K * HST_NR * element_bytes(precision);
    size_t at = (size_t)k * HST_NR;
    for (int c = 0; c < HST_NR; c++) {
        if (precision == HST_PRECISION_BF16) {
            uint32_t u = (uint32_t)((const uint16_t *)Wp)[bf16_pair_index(p * HST_NR + c, k, K)] << 16;
            memcpy(&out[c], &u, sizeof u);
        } else if (precision == HST_PRECISION_INT8) {
            out[c] = (float)((const int8_t *)w)[at + c];
        } else {
            out[c] = ((const float *)w)[at + c];
        }
    }
}

static void micro_portable(hst_precision precision, const float *X, int ldx, const void *Wp, const float *scale,
                           int K, int mr, int np, float *tile)
{
    for (int p = 0; p < np; p++) {
        for (int r = 0; r < mr; r++) {
            float acc[HST_NR] = {0}, wk[HST_NR];
            const float *x = X + (size_t)r * ldx;
            for (int k = 0; k < K; k++) {
                float xv = x[k];
                widen_row(Wp, precision, K, p, k, wk);
                for (int c = 0; c < HST_NR; c++)
                    acc[c] += xv * wk[c];
            }
            for (int c = 0; scale && c < HST_NR; c++)
                acc[c] *= scale[p * HST_NR + c];
            memcpy(tile + r * 2 * HST_NR + p * HST_NR, acc, sizeof acc);
        }
    }
}

static void micro_portable_f32(const float *X, int ldx, const void *Wp, const float *scale, int K, int mr, int np,
                               float *tile)
{
    micro_portable(HST_PRECISION_F32, X, ldx, Wp, scale, K, mr, np, tile);
}

static void micro_portable_bf16(const float *X, int ldx, const void *Wp, const float *scale, int K, int mr, int np,
                                float *tile)
{
    micro_portable(HST_PRECISION_BF16, X, ldx, Wp, scale, K, mr, np, tile);
}

static void micro_portable_int8(const float *X, int ldx, const void *Wp, const float *scale, int K, int mr, int np,
                                float *tile)
{
    micro_portable(HST_PRECISION_INT8, X, ldx, Wp, scale, K, mr, np, tile);
}

/* ---- AVX2 + FMA: 6 rows x 16 columns, 12 accumulators ---------------------- */

#define AVX2_MR 6

/* Eight weights of row k as f32, columns `half`*8..+7 of the panel. */
#define W256_F32(w, k, half) _mm256_load_ps((const float *)(w) + (size_t)(k) * HST_NR + (half) * 8)
/* bf16 pairs (see bf16_pair_index): the even panel is the low halves, the odd one the high halves. */
#define W256_PAIR(w, k, half) _mm256_load_si256((const __m256i *)((const uint32_t *)(w) + (size_t)(k) * HST_NR + (half) * 8))
#define W256_BF16_EVEN(w, k, half) _mm256_castsi256_ps(_mm256_slli_epi32(W256_PAIR(w, k, half), 16))
#define W256_BF16_ODD(w, k, half)                                                                      \
    _mm256_castsi256_ps(_mm256_and_si256(W256_PAIR(w, k, half), _mm256_set1_epi32((int)0xffff0000u)))
#define W256_INT8(w, k, half)                                                                          \
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(                                                           \
        _mm_loadl_epi64((const __m128i *)((const int8_t *)(w) + (size_t)(k) * HST_NR + (half) * 8))))

#define DEFINE_AVX2_PANEL(NAME, LOAD)                                                                       \
    __attribute__((target("avx2,fma"))) static void NAME(const float *X, int ldx, const void *w,              \
                                                          const float *scale, int K, int mr, float *tile)     \
    {                                                                                                       \
        __m256 acc[AVX2_MR][2];                                                                             \
        for (int r = 0; r < AVX2_MR; r++)                                                                   \
            acc[r][0] = acc[r][1] = _mm256_setzero_ps();                                                    \
        for (int k = 0; k < K; k++) {                                                                       \
            __m256 b0 = LOAD(w, k, 0), b1 = LOAD(w, k, 1);                                                  \
            _Pragma("GCC unroll 6") for (int r = 0; r < AVX2_MR; r++)                                       \
            {                                                                                               \
                if (r < mr) {                                                                               \
                    __m256 a = _mm256_broadcast_ss(X + (size_t)r * ldx + k);                                \
                    acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);                                          \
                    acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);                                          \
                }                                                                                           \
            }                                                                                               \
        }                                                                                                   \
        for (int r = 0; r < mr; r++) {                                                                      \
            if (scale) {                                                                                    \
                acc[r][0] = _mm256_mul_ps(acc[r][0], _mm256_loadu_ps(scale));                               \
                acc[r][1] = _mm256_mul_ps(acc[r][1], _mm256_loadu_ps(scale + 8));                           \
            }                                                                                               \
            _mm256_storeu_ps(tile + r * 2 * HST_NR, acc[r][0]);                                             \
            _mm256_storeu_ps(tile + r * 2 * HST_NR + 8, acc[r][1]);                                         \
        }                                                                                                   \
    }

DEFINE_AVX2_PANEL(avx2_panel_f32, W256_F32)
DEFINE_AVX2_PANEL(avx2_panel_bf16_even, W256_BF16_EVEN)
DEFINE_AVX2_PANEL(avx2_panel_bf16_odd, W256_BF16_ODD)
DEFINE_AVX2_PANEL(avx2_panel_int8, W256_INT8)

typedef void (*avx2_panel_fn)(const float *X, int ldx, const void *w, const float *scale, int K, int mr, float *tile);

static void micro_avx2(avx2_panel_fn panel, size_t elt, const float *X, int ldx, const void *Wp, const float *scale,
                       int K, int mr, int np, float *tile)
{
    for (int p = 0; p < np; p++)
        for (int r0 = 0; r0 < mr; r0 += AVX2_MR) {
            int m = mr - r0 < AVX2_MR ? mr - r0 : AVX2_MR;
            panel(X + (size_t)r0 * ldx, ldx, (const unsigned char *)Wp + (size_t)p * K * HST_NR * elt,
                  scale ? scale + p * HST_NR : NULL, K, m, tile + r0 * 2 * HST_NR + p * HST_NR);
        }
}

static void micro_avx2_f32(const float *X, int ldx, const void *Wp, const float *scale, int K, int mr, int np,
                           float *tile)
{
    micro_avx2(avx2_panel_f32, sizeof(float), X, ldx, Wp, scale, K, mr, np, tile);
}

/* Both panels of a bf16 pair start at Wp; the parity picks the halves. */
static void micro_avx2_bf16(const float *X, int ldx, const void *Wp, const float *scale, int K, int mr, int np,
                            float *tile)
{
    for (int p = 0; p < np; p++)
        for (int r0 = 0; r0 < mr; r0 += AVX2_MR) {
            int m = mr - r0 < AVX2_MR ? mr - r0 : AVX2_MR;
            (p ? avx2_panel_bf16_odd : avx2_panel_bf16_even)(X + (size_t)r0 * ldx, ldx, Wp, NULL, K, m,
                                                             tile + r0 * 2 * HST_NR + p * HST_NR);
        }
    (void)scale; /* bf16 has no scales */
}

static void micro_avx2_int8(const float *X, int ldx, const void *Wp, const float *scale, int K, int mr, int np,
                            float *tile)
{
    micro_avx2(avx2_panel_int8, sizeof(int8_t), X, ldx, Wp, scale, K, mr, np, tile);
}

/* ---- AVX-512: 8 rows x 32 columns, 16 accumulators ------------------------- */

#define AVX512_MR 8

/* Sixteen weights of row k as f32. bf16 -> f32 is a 16-bit shift (exact);
 * vdpbf16ps (AVX512_BF16) is deliberately not used: it would round the f32
 * activations to bf16 as well and sum pairs of products in one step, so bf16
 * results would stop being "f32 math on bf16-rounded weights" and the
 * portable and AVX2 paths could not reproduce them. */
#define W512_F32(w, k) _mm512_load_ps((const float *)(w) + (size_t)(k) * HST_NR)
#define W512_PAIR(w, k) _mm512_load_si512((const uint32_t *)(w) + (size_t)(k) * HST_NR)
#define W512_BF16_EVEN(w, k) _mm512_castsi512_ps(_mm512_slli_epi32(W512_PAIR(w, k), 16))
#define W512_BF16_ODD(w, k) _mm512_castsi512_ps(_mm512_and_si512(W512_PAIR(w, k), _mm512_set1_epi32((int)0xffff0000u)))
#define W512_INT8(w, k)                                                                                    \
    _mm512_cvtepi32_ps(                                                                                    \
        _mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)((const int8_t *)(w) + (size_t)(k) * HST_NR))))

/* Weights k of panel p (constant after unrolling) of the panels starting at w,
 * panel stride `stride` elements; for bf16 the odd panel shares its pair's words. */
#define P512_F32(w, stride, p, k) W512_F32((w) + (p) * (stride), k)
#define P512_INT8(w, stride, p, k) W512_INT8((w) + (p) * (stride), k)
#define P512_BF16(w, stride, p, k)                                                                         \
    ((p) % 2 ? W512_BF16_ODD((w) + (size_t)((p) / 2 * 2) * (stride), k)                                    \
             : W512_BF16_EVEN((w) + (size_t)((p) / 2 * 2) * (stride), k))

/* ---- AVX-512, many rows: the product and its epilogue in registers ----------
 * Up to 8 rows x 2 panels: one FMA chain over k per element (as every kernel
 * here), then the scale, then the epilogue, stored straight into Y: no tile
 * round trip and no per-call stack set-up, which on K = 128 (a block's D x D
 * products) cost a tenth of the time. */

/* What the epilogue of one call needs. */
typedef struct {
    const float *bias; /* at the call's first column, or NULL */
    float *Y;          /* at the call's first row and column */
    int ldy, ncols;    /* ncols: valid columns from the first (<= 32) */
    hst_epilogue epi;
} direct_out;

#define DEFINE_DIRECT512(NAME, MR, NP, ELT, LOAD)                                                            \
    __attribute__((target("avx512f"))) static void NAME(const float *X, int ldx, const void *Wp,              \
                                                         const float *scale, int K, const direct_out *o)      \
    {                                                                                                         \
        __m512 c[MR][NP];                                                                                     \
        const ELT *w0 = Wp;                                                                                   \
        const size_t stride = (size_t)K * HST_NR;                                                             \
        for (int r = 0; r < MR; r++)                                                                          \
            for (int p = 0; p < NP; p++)                                                                      \
                c[r][p] = _mm512_setzero_ps();                                                                \
        for (int k = 0; k < K; k++) {                                                                         \
            __m512 b[NP];                                                                                     \
            for (int p = 0; p < NP; p++)                                                                      \
                b[p] = LOAD(w0, stride, p, k);                                                                \
            for (int r = 0; r < MR; r++) {                                                                    \
                __m512 a = _mm512_set1_ps(X[(size_t)r * ldx + k]);                                            \
                for (int p = 0; p < NP; p++)                                                                  \
                    c[r][p] = _mm512_fmadd_ps(a, b[p], c[r][p]);                                              \
            }                                                                                                 \
        }                                                                                                     \
        for (int p = 0; p < NP; p++) {                                                                        \
            __mmask16 cols = column_mask(p * HST_NR, o->ncols);                                               \
            __m512 s = scale ? _mm512_loadu_ps(scale + p * HST_NR) : _mm512_setzero_ps();                    \
            __m512 bias = o->bias ? _mm512_maskz_loadu_ps(cols, o->bias + p * HST_NR) : _mm512_setzero_ps(); \
            for (int r = 0; r < MR; r++)                                                                      \
                epilogue512(scale ? _mm512_mul_ps(c[r][p], s) : c[r][p], bias,                                \
                            o->Y + (size_t)r * o->ldy + p * HST_NR, cols, o->epi);                            \
        }                                                                                                     \
    }

typedef void (*direct_fn)(const float *X, int ldx, const void *Wp, const float *scale, int K, const direct_out *o);

#define DEFINE_DIRECT512_ROWS(PREC, ELT, LOAD)                                                                \
    DEFINE_DIRECT512(direct512_##PREC##_1x1, 1, 1, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_2x1, 2, 1, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_3x1, 3, 1, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_4x1, 4, 1, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_5x1, 5, 1, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_6x1, 6, 1, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_7x1, 7, 1, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_8x1, 8, 1, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_1x2, 1, 2, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_2x2, 2, 2, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_3x2, 3, 2, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_4x2, 4, 2, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_5x2, 5, 2, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_6x2, 6, 2, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_7x2, 7, 2, ELT, LOAD)                                                 \
    DEFINE_DIRECT512(direct512_##PREC##_8x2, 8, 2, ELT, LOAD)

DEFINE_DIRECT512_ROWS(f32, float, P512_F32)
DEFINE_DIRECT512_ROWS(bf16, uint16_t, P512_BF16)
DEFINE_DIRECT512_ROWS(int8, int8_t, P512_INT8)

#define DIRECT_TABLE(PREC)                                                                                    \
    {{NULL, direct512_##PREC##_1x1, direct512_##PREC##_2x1, direct512_##PREC##_3x1, direct512_##PREC##_4x1,  \
      direct512_##PREC##_5x1, direct512_##PREC##_6x1, direct512_##PREC##_7x1, direct512_##PREC##_8x1},       \
     {NULL, direct512_##PREC##_1x2, direct512_##PREC##_2x2, direct512_##PREC##_3x2, direct512_##PREC##_4x2,  \
      direct512_##PREC##_5x2, direct512_##PREC##_6x2, direct512_##PREC##_7x2, direct512_##PREC##_8x2}}

/* [precision][panels - 1][rows] */
static const direct_fn direct512[HST_PRECISION_COUNT][2][AVX512_MR + 1] = {
    [HST_PRECISION_F32] = DIRECT_TABLE(f32),
    [HST_PRECISION_BF16] = DIRECT_TABLE(bf16),
    [HST_PRECISION_INT8] = DIRECT_TABLE(int8),
};

/* ---- AVX-512, few rows: 1-2 rows x 4 or 8 panels ----------------------------
 * A decode step is one row: with two panels it has two FMA chains, each
 * waiting the FMA latency at every k. Eight panels give eight independent
 * chains (and eight weight streams) for the same per-element arithmetic —
 * one chain over k per output, as everywhere in this file. */

#define WIDE_MAX_ROWS 2

#define DEFINE_WIDE512(NAME, MR, NP, ELT, LOAD)                                                             \
    __attribute__((target("avx512f"))) static void NAME(const float *X, int ldx, const void *Wp,            \
                                                         const float *scale, int K, float *tile)            \
    {                                                                                                       \
        __m512 c[MR][NP];                                                                                   \
        const ELT *w = Wp;                                                                                  \
        const size_t stride = (size_t)K * HST_NR;                                                           \
        for (int r = 0; r < MR; r++)                                                                        \
            for (int p = 0; p < NP; p++)                                                                    \
                c[r][p] = _mm512_setzero_ps();                                                              \
        for (int k = 0; k < K; k++)                                                                         \
            for (int p = 0; p < NP; p++) {                                                                  \
                __m512 b = LOAD(w, stride, p, k);                                                           \
                for (int r = 0; r < MR; r++)                                                                \
                    c[r][p] = _mm512_fmadd_ps(_mm512_set1_ps(X[(size_t)r * ldx + k]), b, c[r][p]);          \
            }                                                                                               \
        for (int r = 0; r < MR; r++)                                                                        \
            for (int p = 0; p < NP; p++) {                                                                  \
                if (scale)                                                                                  \
                    c[r][p] = _mm512_mul_ps(c[r][p], _mm512_loadu_ps(scale + p * HST_NR));                  \
                _mm512_storeu_ps(tile + r * NP * HST_NR + p * HST_NR, c[r][p]);                             \
            }                                                                                               \
    }

#define DEFINE_WIDE512_SET(PREC, ELT, LOAD)                                                                 \
    DEFINE_WIDE512(wide512_##PREC##_1x4, 1, 4, ELT, LOAD)                                                  \
    DEFINE_WIDE512(wide512_##PREC##_1x8, 1, 8, ELT, LOAD)                                                  \
    DEFINE_WIDE512(wide512_##PREC##_2x4, 2, 4, ELT, LOAD)                                                  \
    DEFINE_WIDE512(wide512_##PREC##_2x8, 2, 8, ELT, LOAD)                                                  \
    static void wide512_##PREC(const float *X, int ldx, const void *Wp, const float *scale, int K, int mr,  \
                               int np, float *tile)                                                         \
    {                                                                                                       \
        if (mr == 1)                                                                                        \
            (np == 8 ? wide512_##PREC##_1x8 : wide512_##PREC##_1x4)(X, ldx, Wp, scale, K, tile);            \
        else                                                                                                \
            (np == 8 ? wide512_##PREC##_2x8 : wide512_##PREC##_2x4)(X, ldx, Wp, scale, K, tile);            \
    }

DEFINE_WIDE512_SET(f32, float, P512_F32)
DEFINE_WIDE512_SET(bf16, uint16_t, P512_BF16)
DEFINE_WIDE512_SET(int8, int8_t, P512_INT8)

/* ---- dispatch --------------------------------------------------------------- */

typedef void (*store_fn)(const float *tile, int tile_ld, int mr, int ncols, const float *bias, float *Y, int ldy,
                         hst_epilogue epi);

typedef struct {
    hst_kernel kind;
    micro_fn fn[HST_PRECISION_COUNT];  /* by the weights' precision */
    int mr;                            /* rows per micro-kernel call */
    store_fn store;                    /* the epilogue */
    wide_fn wide[HST_PRECISION_COUNT]; /* few rows, many panels; NULL: use fn */
} kernel_impl;

/* One row per ISA, indexed by hst_kernel (AUTO is resolved before any lookup). */
static const kernel_impl impls[] = {
    [HST_KERNEL_PORTABLE] = {HST_KERNEL_PORTABLE, {micro_portable_f32, micro_portable_bf16, micro_portable_int8}, 4,
                             store_tile, {NULL}},
    [HST_KERNEL_AVX2] = {HST_KERNEL_AVX2, {micro_avx2_f32, micro_avx2_bf16, micro_avx2_int8}, AVX2_MR, store_tile,
                         {NULL}},
    /* AVX-512 runs direct512 (the epilogue in registers) where others run fn. */
    [HST_KERNEL_AVX512] = {HST_KERNEL_AVX512, {NULL}, AVX512_MR, store_tile512, {wide512_f32, wide512_bf16, wide512_int8}},
};

static const char *const kernel_names[] = {
    [HST_KERNEL_AUTO] = "auto", [HST_KERNEL_PORTABLE] = "portable", [HST_KERNEL_AVX2] = "avx2",
    [HST_KERNEL_AVX512] = "avx512"};

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

int hst_kernel_from_name(const char *name, hst_kernel *out)
{
    for (int k = 0; name && k < (int)(sizeof kernel_names / sizeof kernel_names[0]); k++)
        if (strcmp(name, kernel_names[k]) == 0) {
            *out = (hst_kernel)k;
            return 0;
        }
    return -1;
}

const char *hst_kernel_name(hst_kernel k)
{
    return (unsigned)k < sizeof kernel_names / sizeof kernel_names[0] ? kernel_names[k] : "auto";
}

int hst_kernel_resolve(hst_kernel k)
{
    if (k == HST_KERNEL_AUTO)
        k = cpu_has(HST_KERNEL_AVX512) ? HST_KERNEL_AVX512
          : cpu_has(HST_KERNEL_AVX2)   ? HST_KERNEL_AVX2
                                       : HST_KERNEL_PORTABLE;
    return (unsigned)k < sizeof impls / sizeof impls[0] && cpu_has(k) ? (int)k : -1;
}

/* HSTPROF_KERNEL names the default of every session (an unknown name or a
 * kernel this CPU lacks falls back to the best one); read once. */
hst_kernel hst_kernel_default(void)
{
    static _Atomic int resolved = -1;
    int k = atomic_load_explicit(&resolved, memory_order_relaxed);
    if (k < 0) {
        hst_kernel wanted = HST_KERNEL_AUTO;
        if (hst_kernel_from_name(getenv("HSTPROF_KERNEL"), &wanted) != 0 || (k = hst_kernel_resolve(wanted)) < 0)
            k = hst_kernel_resolve(HST_KERNEL_AUTO);
        atomic_store_explicit(&resolved, k, memory_order_relaxed);
    }
    return (hst_kernel)k;
}

int hst_kernel_use(hst_kernel k)
{
    int got = hst_kernel_resolve(k);
    if (got >= 0)
        hst_thread_kernel = (hst_kernel)got;
    return got;
}

hst_kernel hst_kernel_current(void)
{
    return hst_thread_kernel == HST_KERNEL_AUTO ? hst_kernel_default() : hst_thread_kernel;
}

static const kernel_impl *current_impl(void)
{
    return &impls[hst_kernel_current()];
}

/* ---- matmul ------------------------------------------------------------------ */

/* Tile sizes depend on S only, never on the thread count (and results do not
 * depend on tiles at all: see the file comment). Calls of a row or two
 * (decode) take 8 panels per task, so the wide kernel has its 8 chains. */
#define ROWS_PER_TASK 32
#define PANELS_PER_TASK 4
#define WIDE_PANELS 8
/* Outputs of this size or more are not in the caches when written: their
 * lines are requested ahead of the stores (prefetch_for_write). */
#define COLD_OUTPUT_BYTES (4u << 20)
/* Below this many multiply-adds, handing the job to the team costs more than
 * it saves. Between the jobs of a token the workers are still polling, so a
 * hand-over costs a microsecond or two: a 128x128 decode matmul (16K) stays
 * on the caller, a d_model 128 QKV group (48K) or FFN (64K) is shared
 * (hst-v4 2-thread decode ~7% faster than with the line at 64K). Which
 * thread runs a task never changes its result. */
#define SERIAL_MACS (1 << 15)

typedef struct {
    const float *X;
    int S, ldx;
    const hst_packed *W;
    const float *bias;
    float *Y;
    int ldy;
    hst_epilogue epi;
    int col_tasks, panels_per_task;
    const kernel_impl *impl; /* the calling thread's, for every task of the call */
    int cold_output;         /* Y is larger than the caches (matmul_job_for) */
} matmul_job;

/* Rows r0..r1 (at most WIDE_MAX_ROWS) x panels p..p+np-1 with the wide kernel. */
static void wide_step(const matmul_job *j, wide_fn wide, int r0, int r1, int p, int np)
{
    const int K = j->W->K, N = j->W->N, c0 = p * HST_NR;
    float tile[WIDE_MAX_ROWS * WIDE_PANELS * HST_NR];
    const void *Wp = panel_base(j->W) + (size_t)p * K * HST_NR * element_bytes(j->W->precision);
    int ncols = N - c0 < np * HST_NR ? N - c0 : np * HST_NR;
    wide(j->X + (size_t)r0 * j->ldx, j->ldx, Wp, j->W->scale ? j->W->scale + c0 : NULL, K, r1 - r0, np, tile);
    j->impl->store(tile, np * HST_NR, r1 - r0, ncols, j->bias ? j->bias + c0 : NULL, j->Y + (size_t)r0 * j->ldy + c0,
                  j->ldy, j->epi);
}

/* Asks for the lines of a tile's output before the tile is computed. An
 * output much larger than the caches (all the logits of a prefill: 10 MB for
 * hst-v4 at S = 512) is in no cache when the head writes it, and each store
 * would miss and wait for its line to come from memory behind the FMAs (the
 * head ran at 95-100 GFLOP/s after the blocks, 146 on its own). Requested
 * before the tile's ~1,000 cycles of arithmetic (8 x 32 at K = 128), the
 * lines are there when the stores come: 135-140 GFLOP/s after the blocks.
 * Non-temporal stores, tried before, were slower still (93-97 GFLOP/s): a
 * logits row of 5,000 floats starts 32 bytes into a line every other row,
 * so neighbouring tasks wrote halves of the same lines. */
static inline void prefetch_for_write(const float *y, int ldy, int rows, int ncols)
{
    for (int r = 0; r < rows; r++) {
        const char *first = (const char *)(y + (size_t)r * ldy), *end = first + (size_t)ncols * sizeof *y;
        for (const char *line = (const char *)((uintptr_t)first & ~(uintptr_t)63); line < end; line += 64)
            __builtin_prefetch(line, 1, 3);
    }
}

static void matmul_block(const matmul_job *j, int r0, int r1, int p0, int p1)
{
    const int K = j->W->K, N = j->W->N, mr_max = j->impl->mr;
    const micro_fn micro = j->impl->fn[j->W->precision];
    const wide_fn wide = r1 - r0 <= WIDE_MAX_ROWS ? j->impl->wide[j->W->precision] : NULL;
    const size_t panel_bytes = (size_t)K * HST_NR * element_bytes(j->W->precision);
    float tile[AVX512_MR * 2 * HST_NR];
    for (int p = p0; wide && p1 - p >= 4; p += p1 - p >= WIDE_PANELS ? WIDE_PANELS : 4)
        wide_step(j, wide, r0, r1, p, p1 - p >= WIDE_PANELS ? WIDE_PANELS : 4);
    if (wide)
        p0 = p1 - (p1 - p0) % 4; /* the panels left over after the wide steps */
    for (int p = p0; p < p1; p += 2) {
        int np = p + 1 < p1 ? 2 : 1;
        int c0 = p * HST_NR;
        int ncols = N - c0 < np * HST_NR ? N - c0 : np * HST_NR;
        const void *Wp = panel_base(j->W) + (size_t)p * panel_bytes;
        const float *scale = j->W->scale ? j->W->scale + c0 : NULL;
        for (int r = r0; r < r1; r += mr_max) {
            int mr = r1 - r < mr_max ? r1 - r : mr_max;
            if (j->cold_output)
                prefetch_for_write(j->Y + (size_t)r * j->ldy + c0, j->ldy, mr, ncols);
            if (j->impl->kind == HST_KERNEL_AVX512) {
                direct_out o = {j->bias ? j->bias + c0 : NULL, j->Y + (size_t)r * j->ldy + c0, j->ldy, ncols, j->epi};
                direct512[j->W->precision][np - 1][mr](j->X + (size_t)r * j->ldx, j->ldx, Wp, scale, K, &o);
                continue;
            }
            micro(j->X + (size_t)r * j->ldx, j->ldx, Wp, scale, K, mr, np, tile);
            j->impl->store(tile, 2 * HST_NR, mr, ncols, j->bias ? j->bias + c0 : NULL,
                          j->Y + (size_t)r * j->ldy + c0, j->ldy, j->epi);
        }
    }
}

static void matmul_task(void *ctx, int task)
{
    const matmul_job *j = ctx;
    int panels = (j->W->N + HST_NR - 1) / HST_NR, per_task = j->panels_per_task;
    /* Column-major: a task's panels stay in cache while it runs through the
     * row blocks, so a weight bigger than the cache (lm_head) is read from
     * memory once per call, not once per row block. */
    int row_tasks = (j->S + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    int ct = task / row_tasks, rt = task % row_tasks;
    int r0 = rt * ROWS_PER_TASK, r1 = r0 + ROWS_PER_TASK < j->S ? r0 + ROWS_PER_TASK : j->S;
    int p0 = ct * per_task, p1 = p0 + per_task < panels ? p0 + per_task : panels;
    matmul_block(j, r0, r1, p0, p1);
}

/* A call of a row or two (decode) reads each weight once: its cost is the
 * weights' bytes, and the threads split them by panels. A matrix of a few
 * panels gets tasks of 4 panels so two threads share even a D x D one. */
static matmul_job matmul_job_for(const float *X, int S, int ldx, const hst_packed *W, const float *bias, float *Y,
                                 int ldy, hst_epilogue epi)
{
    int panels = (W->N + HST_NR - 1) / HST_NR;
    int per_task = S > WIDE_MAX_ROWS ? PANELS_PER_TASK : panels <= 2 * WIDE_PANELS ? 4 : WIDE_PANELS;
    matmul_job j = {X, S, ldx, W, bias, Y, ldy, epi, (panels + per_task - 1) / per_task, per_task, current_impl(), 0};
    /* An output bigger than a core's L2 (all the logits of a prefill). */
    j.cold_output = (size_t)S * W->N * sizeof(float) >= COLD_OUTPUT_BYTES;
    return j;
}

_Thread_local uint64_t hst_thread_bytes_saved;

/* What reading W once saves against f32 weights (spec 11 counts 4 bytes each). */
static uint64_t bytes_saved(const hst_packed *W)
{
    uint64_t elems = (uint64_t)W->N * (uint64_t)W->K;
    if (W->precision == HST_PRECISION_BF16)
        return 2 * elems;
    if (W->precision == HST_PRECISION_INT8)
        return 3 * elems - sizeof(float) * (uint64_t)W->N; /* the scales are read too */
    return 0;
}

/* Which matmul a job is, for the pool's judgement of the team: tasks of
 * another weight matrix or row count have another size. */
static uintptr_t job_shape(const hst_packed *W, int S) { return (uintptr_t)W ^ (uintptr_t)S * 0x9e3779b9u; }

static int matmul_tasks(const matmul_job *j) { return (j->S + ROWS_PER_TASK - 1) / ROWS_PER_TASK * j->col_tasks; }

void hst_matmul(hst_pool *pool, const float *X, int S, int ldx, const hst_packed *W, const float *bias, float *Y,
                int ldy, hst_epilogue epi)
{
    matmul_job j = matmul_job_for(X, S, ldx, W, bias, Y, ldy, epi);
    hst_thread_bytes_saved += bytes_saved(W);
    if ((int64_t)S * W->N * W->K < SERIAL_MACS)
        pool = NULL;
    hst_pool_run_shaped(pool, matmul_tasks(&j), matmul_task, &j, job_shape(W, S));
}

/* Rows 0..S-1 of one product on the calling thread, every panel: the fused
 * row jobs of a PreBlock (preblock.c) call this from inside their own task.
 * Each element is computed as hst_matmul computes it (the same kernel and
 * chain over k); a task's rows are small and stay in cache, and nothing is
 * counted in hst_thread_bytes_saved (the caller counts each weight once with
 * hst_matmul_count_read). */
void hst_matmul_panels(const float *X, int S, int ldx, const hst_packed *W, const float *bias, float *Y, int ldy,
                       hst_epilogue epi, int p0, int p1)
{
    matmul_job j = matmul_job_for(X, S, ldx, W, bias, Y, ldy, epi);
    j.cold_output = 0;
    matmul_block(&j, 0, S, p0, p1);
}

void hst_matmul_rows(const float *X, int S, int ldx, const hst_packed *W, const float *bias, float *Y, int ldy,
                     hst_epilogue epi)
{
    hst_matmul_panels(X, S, ldx, W, bias, Y, ldy, epi, 0, (W->N + HST_NR - 1) / HST_NR);
}

void hst_matmul_count_read(const hst_packed *W) { hst_thread_bytes_saved += bytes_saved(W); }

#define MATMUL_GROUP_MAX 4

typedef struct {
    matmul_job jobs[MATMUL_GROUP_MAX];
    int first_task[MATMUL_GROUP_MAX + 1]; /* job i has tasks first_task[i]..first_task[i+1]-1 */
} matmul_group;

static void matmul_group_task(void *ctx, int task)
{
    const matmul_group *g = ctx;
    int i = 0;
    while (task >= g->first_task[i + 1])
        i++;
    matmul_task((void *)&g->jobs[i], task - g->first_task[i]);
}

void hst_matmul_group(hst_pool *pool, const float *X, int S, int ldx, const hst_matmul_out *outs, int n)
{
    matmul_group g;
    for (int i = 0; i < n; i += MATMUL_GROUP_MAX) {
        int count = n - i < MATMUL_GROUP_MAX ? n - i : MATMUL_GROUP_MAX;
        int64_t macs = 0;
        g.first_task[0] = 0;
        for (int k = 0; k < count; k++) {
            const hst_matmul_out *o = &outs[i + k];
            g.jobs[k] = matmul_job_for(X, S, ldx, o->W, o->bias, o->Y, o->ldy, o->epi);
            g.first_task[k + 1] = g.first_task[k] + matmul_tasks(&g.jobs[k]);
            macs += (int64_t)S * o->W->N * o->W->K;
            hst_thread_bytes_saved += bytes_saved(o->W);
        }
        hst_pool_run_shaped(macs < SERIAL_MACS ? NULL : pool, g.first_task[count], matmul_group_task, &g,
                            job_shape(outs[i].W, S));
    }
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

static void layernorm_scalar(const float *x, const float *gamma, const float *beta, float *y, int n)
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

/* Lanes [i, n) of a 16-float step, all 16 when at least 16 remain. */
static __mmask16 lanes_from(int i, int n)
{
    return n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
}

/* Lanes 0..7 and 8..15 of v as doubles. */
__attribute__((target("avx512f"))) static inline __m512d low_pd(__m512 v)
{
    return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}

__attribute__((target("avx512f"))) static inline __m512d high_pd(__m512 v)
{
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* The same sums, still in double (two 8-lane accumulators, then one
 * reduction), and the same f32 formula for y: only the order of the double
 * additions differs from layernorm_scalar. Masked-off lanes load as 0 and
 * their deviations are masked to 0, so any n works. */
__attribute__((target("avx512f"))) static void layernorm512(const float *x, const float *gamma, const float *beta,
                                                            float *y, int n)
{
    __m512d sum_lo = _mm512_setzero_pd(), sum_hi = sum_lo, var_lo = sum_lo, var_hi = sum_lo;
    for (int i = 0; i < n; i += 16) {
        __m512 v = _mm512_maskz_loadu_ps(lanes_from(i, n), x + i);
        sum_lo = _mm512_add_pd(sum_lo, low_pd(v));
        sum_hi = _mm512_add_pd(sum_hi, high_pd(v));
    }
    double mean = _mm512_reduce_add_pd(_mm512_add_pd(sum_lo, sum_hi)) / n;
    __m512d mean8 = _mm512_set1_pd(mean);
    for (int i = 0; i < n; i += 16) {
        __mmask16 live = lanes_from(i, n);
        __m512 v = _mm512_maskz_loadu_ps(live, x + i);
        __m512d d_lo = _mm512_maskz_sub_pd((__mmask8)live, low_pd(v), mean8);
        __m512d d_hi = _mm512_maskz_sub_pd((__mmask8)(live >> 8), high_pd(v), mean8);
        var_lo = _mm512_fmadd_pd(d_lo, d_lo, var_lo);
        var_hi = _mm512_fmadd_pd(d_hi, d_hi, var_hi);
    }
    double var = _mm512_reduce_add_pd(_mm512_add_pd(var_lo, var_hi));
    __m512 inv = _mm512_set1_ps((float)(1.0 / sqrt(var / n + 1e-5)));
    __m512 mu = _mm512_set1_ps((float)mean);
    for (int i = 0; i < n; i += 16) {
        __mmask16 live = lanes_from(i, n);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, x + i), mu), inv);
        v = _mm512_add_ps(_mm512_mul_ps(v, _mm512_maskz_loadu_ps(live, gamma + i)),
                          _mm512_maskz_loadu_ps(live, beta + i));
        _mm512_mask_storeu_ps(y + i, live, v);
    }
}

void hst_layernorm(const float *x, const float *gamma, const float *beta, float *y, int n)
{
    if (hst_kernel_current() == HST_KERNEL_AVX512)
        layernorm512(x, gamma, beta, y, n);
    else
        layernorm_scalar(x, gamma, beta, y, n);
}

float hst_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

__attribute__((target("avx512f"))) static void gelu_rows512(float *y, int n)
{
    for (int i = 0; i < n; i += 16) {
        __mmask16 live = lanes_from(i, n);
        _mm512_mask_storeu_ps(y + i, live, gelu512(_mm512_maskz_loadu_ps(live, y + i)));
    }
}

void hst_gelu_inplace(float *y, int n)
{
    if (hst_kernel_current() == HST_KERNEL_AVX512) {
        gelu_rows512(y, n);
        return;
    }
    for (int i = 0; i < n; i++)
        y[i] = hst_gelu(y[i]);
}

float hst_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
float hst_softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

/* ---- precision names ---------------------------------------------------------- */

static const char *const precision_names[HST_PRECISION_COUNT] = {"f32", "bf16", "int8"};

const char *hst_precision_name(hst_precision p)
{
    return (unsigned)p < HST_PRECISION_COUNT ? precision_names[p] : "?";
}

int hst_precision_from_name(const char *name, hst_precision *out)
{
    for (int i = 0; name && i < HST_PRECISION_COUNT; i++)
        if (strcmp(name, precision_names[i]) == 0) {
            *out = (hst_precision)i;
            return 0;
        }
    return -1;
}
