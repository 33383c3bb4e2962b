/* ceiling_loops.c — the loops `hstprof ceilings` times: a register-only FMA loop
 * and a read loop, each compiled per ISA and picked at run time (the build is
 * generic x86-64, so -march=native is not an option), and the STREAM triad. */
#include "probes/internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PROBES_X86 1
#endif

/* Independent accumulators: FMA latency (4 cycles) x FMA pipes (2) = 8
 * chains keep the pipes busy; 12 leave headroom and still fit in 16
 * registers next to the two constants. */
#define FMA_CHAINS 12
#define REPEAT12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/* a = a * m + c converges to c / (1 - m) = 1: no overflow, no denormals. */
#define FMA_MUL 0.999999f
#define FMA_ADD 0.000001f

#ifdef PROBES_X86
__attribute__((target("avx512f"))) static float fma_avx512(uint64_t iterations)
{
    const __m512 m = _mm512_set1_ps(FMA_MUL), c = _mm512_set1_ps(FMA_ADD);
#define DECL(k) __m512 a##k = _mm512_set1_ps(0.5f + 0.01f * (k));
    REPEAT12(DECL)
#undef DECL
    for (uint64_t i = 0; i < iterations; i++) {
#define STEP(k) a##k = _mm512_fmadd_ps(a##k, m, c);
        REPEAT12(STEP)
#undef STEP
    }
    __m512 sum = _mm512_setzero_ps();
#define ADD(k) sum = _mm512_add_ps(sum, a##k);
    REPEAT12(ADD)
#undef ADD
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(uint64_t iterations)
{
    const __m256 m = _mm256_set1_ps(FMA_MUL), c = _mm256_set1_ps(FMA_ADD);
#define DECL(k) __m256 a##k = _mm256_set1_ps(0.5f + 0.01f * (k));
    REPEAT12(DECL)
#undef DECL
    for (uint64_t i = 0; i < iterations; i++) {
#define STEP(k) a##k = _mm256_fmadd_ps(a##k, m, c);
        REPEAT12(STEP)
#undef STEP
    }
    __m256 sum = _mm256_setzero_ps();
#define ADD(k) sum = _mm256_add_ps(sum, a##k);
    REPEAT12(ADD)
#undef ADD
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#endif

/* Portable fallback: 4-wide vectors, a multiply and an add (2 FLOPs). */
typedef float v4f __attribute__((vector_size(16)));

static float fma_portable(uint64_t iterations)
{
    const v4f m = {FMA_MUL, FMA_MUL, FMA_MUL, FMA_MUL}, c = {FMA_ADD, FMA_ADD, FMA_ADD, FMA_ADD};
#define DECL(k) v4f a##k = {0.5f + 0.01f * (k), 0.5f, 0.5f, 0.5f};
    REPEAT12(DECL)
#undef DECL
    for (uint64_t i = 0; i < iterations; i++) {
#define STEP(k) a##k = a##k * m + c;
        REPEAT12(STEP)
#undef STEP
    }
    v4f sum = {0, 0, 0, 0};
#define ADD(k) sum += a##k;
    REPEAT12(ADD)
#undef ADD
    return sum[0] + sum[1] + sum[2] + sum[3];
}

typedef enum { ISA_PORTABLE, ISA_AVX2, ISA_AVX512 } fma_isa;

static fma_isa best_isa(void)
{
#ifdef PROBES_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return ISA_AVX2;
#endif
    return ISA_PORTABLE;
}

const char *probes_fma_isa(void)
{
    static const char *names[] = {"sse", "avx2", "avx512"};
    return names[best_isa()];
}

double probes_fma_flops_per_iteration(void)
{
    static const int lanes[] = {4, 8, 16};
    return (double)FMA_CHAINS * lanes[best_isa()] * 2.0;
}

/* Keeps the result observable so the loop cannot be optimised away. */
static volatile float g_fma_sink;

double probes_fma_loop(uint64_t iterations)
{
    float r;
    switch (best_isa()) {
#ifdef PROBES_X86
    case ISA_AVX512:
        r = fma_avx512(iterations);
        break;
    case ISA_AVX2:
        r = fma_avx2(iterations);
        break;
#endif
    default:
        r = fma_portable(iterations);
    }
    g_fma_sink = r;
    return (double)iterations * probes_fma_flops_per_iteration();
}

/* ---- reading: loads into independent sums, as wide as the engine's kernels
 * load weights, so that the ceiling is what the core can read, not what one
 * dependent chain of adds allows. */

#define READ_CHAINS 8

#ifdef PROBES_X86
__attribute__((target("avx512f"))) static float read_avx512(const float *p, size_t n)
{
    __m512 acc[READ_CHAINS];
    for (int k = 0; k < READ_CHAINS; k++)
        acc[k] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 * READ_CHAINS <= n; i += 16 * READ_CHAINS)
        for (int k = 0; k < READ_CHAINS; k++)
            acc[k] = _mm512_add_ps(acc[k], _mm512_loadu_ps(p + i + 16 * k));
    for (int k = 1; k < READ_CHAINS; k++)
        acc[0] = _mm512_add_ps(acc[0], acc[k]);
    float tail = 0;
    for (; i < n; i++)
        tail += p[i];
    return _mm512_reduce_add_ps(acc[0]) + tail;
}

__attribute__((target("avx2"))) static float read_avx2(const float *p, size_t n)
{
    __m256 acc[READ_CHAINS];
    for (int k = 0; k < READ_CHAINS; k++)
        acc[k] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 * READ_CHAINS <= n; i += 8 * READ_CHAINS)
        for (int k = 0; k < READ_CHAINS; k++)
            acc[k] = _mm256_add_ps(acc[k], _mm256_loadu_ps(p + i + 8 * k));
    for (int k = 1; k < READ_CHAINS; k++)
        acc[0] = _mm256_add_ps(acc[0], acc[k]);
    float lanes[8], tail = 0;
    _mm256_storeu_ps(lanes, acc[0]);
    for (; i < n; i++)
        tail += p[i];
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7] + tail;
}
#endif

static float read_portable(const float *p, size_t n)
{
    v4f acc[READ_CHAINS] = {{0}};
    size_t i = 0;
    for (; i + 4 * READ_CHAINS <= n; i += 4 * READ_CHAINS)
        for (int k = 0; k < READ_CHAINS; k++) {
            v4f x;
            __builtin_memcpy(&x, p + i + 4 * k, sizeof x);
            acc[k] += x;
        }
    float sum = 0;
    for (int k = 0; k < READ_CHAINS; k++)
        sum += acc[k][0] + acc[k][1] + acc[k][2] + acc[k][3];
    for (; i < n; i++)
        sum += p[i];
    return sum;
}

static volatile float g_read_sink;

void probes_read_loop(const float *p, size_t n)
{
    float r;
    switch (best_isa()) {
#ifdef PROBES_X86
    case ISA_AVX512:
        r = read_avx512(p, n);
        break;
    case ISA_AVX2:
        r = read_avx2(p, n);
        break;
#endif
    default:
        r = read_portable(p, n);
    }
    g_read_sink = r;
}

void probes_triad(double *restrict a, const double *restrict b, const double *restrict c, double s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}
