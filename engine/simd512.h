/* simd512.h — AVX-512 vector maths shared by the engine's kernels
 * (attention.c, kernels.c). Header-only: every function is static inline and
 * compiled for avx512f, so callers must themselves be avx512f functions. */
#ifndef HST_SIMD512_H
#define HST_SIMD512_H

#include <immintrin.h>

/* The shared body of exp512 and exp512_nonpositive: x already clamped to
 * [lo, hi]; returns the polynomial p(r) and sets *fx with exp(x) = p(r) * 2^fx. */
__attribute__((target("avx512f"))) static inline __m512 exp512_poly(__m512 x, __m512 *fx)
{
    *fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(*fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(*fx, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    return _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
}

/* e^x to about 1 ulp on [-87, 88] (Cephes polynomial), lanes at -inf give 0. */
__attribute__((target("avx512f"))) static inline __m512 exp512(__m512 x)
{
    const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-87.3365447504f);
    __mmask16 underflow = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    __m512 fx, y = exp512_poly(_mm512_min_ps(_mm512_max_ps(x, lo), hi), &fx);
    return _mm512_maskz_mov_ps((__mmask16)~underflow, _mm512_scalef_ps(y, fx));
}

/* exp512 for x <= 0 (a softmax's s - max) and -inf: the same values with
 * two instructions fewer (no upper clamp; the underflow mask folded into
 * the final scaling). */
__attribute__((target("avx512f"))) static inline __m512 exp512_nonpositive(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-87.3365447504f);
    __mmask16 underflow = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    __m512 fx, y = exp512_poly(_mm512_max_ps(x, lo), &fx);
    return _mm512_maskz_scalef_ps((__mmask16)~underflow, y, fx);
}

/* GELU(x) = 0.5 x (1 + erf(x / sqrt 2)) (spec 1, the exact erf form).
 * 1 + erf(z) is erfc(-z): erfc(|z|) for z < 0 (no cancellation), 2 - erfc(z)
 * otherwise, with erfc(u) = t e^(-u^2 - 1.26551223 + t P(t)), t = 1/(1 + u/2)
 * (Numerical Recipes' erfcc, relative error < 1.2e-7 for every u >= 0).
 * Measured against double erf on [-12, 12]: |error| <= 1.4e-7 * max(1, |GELU(x)|),
 * as good as libm's erff in the scalar formula (1.2e-7). */
__attribute__((target("avx512f"))) static inline __m512 gelu512(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 u = _mm512_abs_ps(z);
    __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(u, _mm512_set1_ps(0.5f), one));
    __m512 p = _mm512_set1_ps(0.17087277f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.82215223f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.48851587f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.13520398f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.27886807f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.18628806f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.09678418f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.37409196f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.00002368f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.26551223f));
    __m512 erfc_u = _mm512_mul_ps(t, exp512(_mm512_sub_ps(p, _mm512_mul_ps(u, u))));
    __mmask16 negative = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 one_plus_erf = _mm512_mask_mov_ps(_mm512_sub_ps(_mm512_set1_ps(2.0f), erfc_u), negative, erfc_u);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), one_plus_erf);
}

#endif
