/* multires.h — the multi-resolution block of Cores D and E (HST_MODEL_STAGE2
 * 12.D.2.2 / 12.D.3 item 2 and 12.E.2.3 / 12.E.3): the rows x are seen at
 * the resolutions r = 1, 2, 4, 8, each through an encoder layer with its own
 * K/V cache, and the four results y_1, y_2, y_4, y_8 are written side by
 * side as the fusion's input [y_1 | y_2 | y_4 | y_8] (4D columns per row).
 * The fusion itself differs between the cores and is theirs.
 *
 *   Core D: four different post-norm layers (multi_res.processors.0..3),
 *           parity pooling HST_MULTIRES_POOL_ADAPTIVE.
 *   Core E: one pre-norm layer P passed four times (each resolution still
 *           has its own cache), parity pooling HST_MULTIRES_POOL_FLOOR.
 *
 * Parity (the whole window, rows 0..S-1, no mask):
 *   y_1 = enc_1(x);  for r in 2, 4, 8 with S >= r: n = floor(S/r) pooled rows
 *   (the pooling kind's bins, hst_multires_bin), Y = enc_r(pooled rows),
 *   y_r = linear upsampling of Y to S rows (hst_multires_upsample);
 *   y_r = y_1 when S < r.
 * Causal (rows at positions t0..t0+n-1 after the rows 0..t0-1 of earlier calls):
 *   y_1 = enc_1 with a causal mask; for r in 2, 4, 8: pooled row c is the sum
 *   of x rows cr..cr+r-1 in row order divided by r, made once its last row
 *   exists, run through enc_r causally over the pooled rows (each pooled row
 *   once); zero-order hold y_r(t) = Y_r[floor((t+1)/r) - 1], and y_r(t) =
 *   y_1(t) before the first pooled row (t < r - 1).
 *
 * Split invariance (12.0): the open block's sum lives in the state and is
 * continued in row order, and the encoder computes a row the same way alone
 * or in a batch, so every output row is bitwise independent of how the rows
 * are grouped into calls and of the thread count.
 *
 * Each call closes the four timer sections multires.1, .2, .4, .8 (12.D.7,
 * 12.E.6: pooling or the block sum, the layer, upsampling or hold) through
 * the caller's section clock, with the layer's FLOPs (pooling, upsampling
 * and hold are not counted, 12.D.6, 12.E.5), and hands y_r to the stage hook
 * under the same names. Nothing allocates per call. */
#ifndef HST_MULTIRES_H
#define HST_MULTIRES_H

#include "engine/encoder.h"

#define HST_MULTIRES_COUNT 4

/* The resolutions in the order of the fusion's input columns: 1, 2, 4, 8. */
extern const int hst_multires_factors[HST_MULTIRES_COUNT];

typedef enum {
    /* adaptive_avg_pool1d to n = floor(S/r) rows: bin i holds rows floor(i·S/n) ..
     * ceil((i+1)·S/n) - 1, so bins overlap when r does not divide S (12.D.2.2). */
    HST_MULTIRES_POOL_ADAPTIVE,
    /* avg_pool1d(kernel r, stride r): bin i holds rows i·r .. i·r + r - 1; rows
     * n·r..S-1 are not pooled (12.E.2.3). */
    HST_MULTIRES_POOL_FLOOR,
} hst_multires_pooling;

/* The layers (owned by the core's runtime; E passes the same P four times)
 * and the parity pooling. Every layer has the same d_model and n_heads. */
typedef struct {
    const hst_encoder *layers[HST_MULTIRES_COUNT];
    hst_multires_pooling pooling;
} hst_multires;

/* A session's part: the four K/V caches (r = 1: Lmax positions; r: floor(Lmax/r)
 * pooled positions), per r in 2, 4, 8 the open block's sum and the held row,
 * and the scratch of a call of up to Lmax rows. It holds no pointer into the
 * layers, so the model's precision may change between calls. */
typedef struct hst_multires_state hst_multires_state;

/* For mr's layer widths (d_ff the largest of the four) and Lmax. NULL with err. */
hst_multires_state *hst_multires_state_create(const hst_multires *mr, int max_seq_len, hst_error *err);
void hst_multires_state_free(hst_multires_state *st);
/* Forgets every row (a new sequence starts at position 0). */
void hst_multires_state_reset(hst_multires_state *st);
/* The decode state as allocated for d_model and Lmax: the four K/V caches, the
 * three open sums and held rows (12.D.3.1, 12.E.3); scratch not included. */
uint64_t hst_multires_state_bytes(int d_model, int max_seq_len);

/* A call's rows: x[i·ldx] (width D) in, y[i·ldy] out with y_r at columns
 * k·D..k·D+D-1 for r = hst_multires_factors[k] (ldy >= 4D; y must not
 * overlap x). Parity: the window, t0 = 0 and n = S. Causal: the rows at
 * positions t0..t0+n-1, t0 + n <= Lmax. */
typedef struct {
    const float *x;
    int ldx;
    float *y;
    int ldy;
    int n, t0;
} hst_multires_rows;

/* Parity (12.D.2.2, 12.E.2.3). clk may be NULL (no sections, no stages).
 * Returns the FLOPs, or -1 with err. The caches serve as scratch: a parity
 * call leaves no causal state behind. */
double hst_multires_parity(const hst_multires *mr, hst_multires_state *st, hst_pool *pool,
                           const hst_multires_rows *rows, hst_section_clock *clk, hst_error *err);
/* Causal (12.D.3 item 2, 12.E.3), continuing the state of the rows 0..t0-1. */
double hst_multires_causal(const hst_multires *mr, hst_multires_state *st, hst_pool *pool,
                           const hst_multires_rows *rows, hst_section_clock *clk, hst_error *err);

/* ---- the parity recipes, exposed for the unit tests --------------------------------- */

/* Pooled row i (0 <= i < n, n = floor(S/r) >= 1) of a window of S rows covers
 * rows [*first, *end). */
void hst_multires_bin(hst_multires_pooling pooling, int S, int r, int i, int *first, int *end);

/* Linear upsampling of n rows to S (align_corners false), output row t:
 * y = lambda0·Y[i0] + lambda1·Y[i1] with PyTorch's CPU recipe (12.D.2.2):
 * sigma = fl32(n/S), u = max(sigma·(t + 0.5) - 0.5, 0) in double,
 * i0 = floor(u), i1 = min(i0 + 1, n - 1), lambda1 = fl32(u - i0),
 * lambda0 = 1 - lambda1 in float32. Core E's text accepts any precision at
 * least float32 (12.E.2.3), so the one recipe serves both cores. */
void hst_multires_upsample_coeffs(int n, int S, int t, int *i0, int *i1, float *lambda0, float *lambda1);

#endif
