/* block.h — one PreBlock outside any model, for `hstprof layerbench`. */
#ifndef HST_BLOCK_H
#define HST_BLOCK_H

#include "engine/hst.h"

/* ---- one PreBlock on its own (spec 4.2), for `hstprof layerbench` -------
 * The same code path as a session's blocks (packed weights, fused bias /
 * ReLU / residual epilogues, streaming causal attention over a K/V cache),
 * outside any model, so a benchmark can compare it with a reference. */

typedef struct {
    const float *wq, *wk, *wv, *wo;               /* [D, D], PyTorch's [out, in]; no biases */
    const float *w1, *b1;                         /* [4D, D], [4D] */
    const float *w2, *b2;                         /* [D, 4D], [D] */
    const float *ln1_g, *ln1_b, *ln2_g, *ln2_b;   /* [D] */
} hst_block_weights;

typedef struct hst_block hst_block;
typedef struct hst_block_workspace hst_block_workspace;

/* Copies and packs the weights (f32). d_model a multiple of 4 and of
 * n_heads. NULL with one line in err. */
hst_block *hst_block_create(const hst_block_weights *w, int d_model, int n_heads, hst_error *err);
void hst_block_free(hst_block *b);
/* Activations and the K/V cache for calls of up to max_rows rows, allocated
 * and written (so resident) here; a memory window opened before this call
 * sees the whole footprint of a forward. NULL with err. */
hst_block_workspace *hst_block_workspace_create(const hst_block *b, int max_rows, hst_error *err);
void hst_block_workspace_free(hst_block_workspace *w);
uint64_t hst_block_workspace_bytes(const hst_block_workspace *w);
/* x [S, D] <- PreBlock(x), rows at positions 0..S-1 (a prefill). 0 ok; -1
 * with err when S is outside 1..max_rows. */
int hst_block_forward(const hst_block *b, hst_block_workspace *w, hst_pool *pool, float *x, int S, hst_error *err);

#endif
