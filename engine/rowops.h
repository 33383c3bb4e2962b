/* rowops.h — row-parallel helpers over [n_rows][width] matrices with row
 * strides: the layernorm of spec 1 (eps 1e-5, biased variance, the numerics
 * of hst_layernorm) with the optional GELU of the meta fusion (spec 4.4),
 * and strided row copies. Rows are split into fixed blocks of rows over the
 * pool; a row's result never depends on the split or the thread count. */
#ifndef HST_ROWOPS_H
#define HST_ROWOPS_H

#include "engine/internal.h"

/* out[r] = LN(in[r]; gamma, beta), then GELU when gelu != 0 (meta fusion,
 * spec 4.4; multi_res.fusion 12.D.2.2). in and out may be the same rows. */
void hst_layernorm_rows(hst_pool *pool, const float *in, int ld_in, float *out, int ld_out, const float *gamma,
                        const float *beta, int n_rows, int width, int gelu);

/* dst[r][0..width) = src[r][0..width); a no-op when dst == src with equal strides. */
void hst_rows_copy(const float *src, int ld_src, float *dst, int ld_dst, int n_rows, int width);

/* dst[positions[r]][..] = src[r][..] (positions NULL: row t0 + r). */
void hst_rows_scatter(const float *src, int ld_src, float *dst, int ld_dst, int n_rows, int width,
                      const int *positions, int t0);

#endif
