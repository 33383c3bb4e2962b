/* encoder.h — one transformer encoder layer with a K/V cache, the building
 * block of the Stage 2 cores (HST_MODEL_STAGE2):
 *
 *   HST_ENCODER_POST_NORM  PyTorch nn.TransformerEncoderLayer (post-norm,
 *                          ReLU, eval): Core C's layer_processors.{l} (12.C.2,
 *                          12.C.3) and Core D's multi_res.processors.{i}
 *                          (12.D.2.2, 12.D.3):
 *                            z = LN1(h + out_proj(attention(h)));  u = LN2(z + W2·ReLU(W1·z + b1) + b2)
 *   HST_ENCODER_PRE_NORM   norm-first: Core E's multi_res.processor P (12.E.2.3):
 *                            z = h + out_proj(attention(LN1(h)));  u = z + W2·ReLU(W1·LN2(z) + b1) + b2
 *
 * Attention: n_heads heads of d_model / n_heads, scores scaled by
 * 1/sqrt(head width) (nn.MultiheadAttention), q, k, v from in_proj (rows
 * [0,D) q, [D,2D) k, [2D,3D) v); LayerNorms eps 1e-5 (spec 1).
 *
 * A layer is computed in two parts so that the cores can cache keys and
 * values across calls:
 *   hst_encoder_store_kv  k, v of a batch of rows, written into the caller's
 *                         cache at the rows' positions (Core C's causal mode
 *                         stores them for every row, gate on or off: 12.C.3);
 *   hst_encoder_attend    the rest of the layer for a batch of rows: q,
 *                         attention over the cache (causal or full extent,
 *                         attention.h), out_proj, norms, FFN;
 *   hst_encoder_forward   both, for one batch (parity windows, pooled rows).
 * A row's output depends only on its input row, its position, the keys it
 * may see and the cache: one call over many rows, row-by-row calls, a
 * store_kv of every row followed by attend over any subset, and any thread
 * count give the same bits (the matmuls compute each element by one FMA
 * chain, the attention visits keys in a fixed order).
 *
 * Every call reports its matmul FLOPs by the spec's conventions (section 11:
 * 2 per multiply-add; attention 2·hd per visible key for the scores and 2·hd
 * for the values, per head; norms, activations, biases not counted):
 *   store_kv  4·D²·n                                   (k and v projections)
 *   attend    (4·D² + 4·F·D)·n + 4·D·Σ keys seen       (q, out_proj, FFN, attention)
 * so PostEnc in parity mode costs (8D² + 4FD)·S + 4D·S² (12.C.6) and a
 * causal row at t costs 4D² + 4FD + 4D(t + 1) on top of its k, v.
 *
 * Nothing allocates per call: the layer, its caches and a workspace (shared
 * by every layer of the same widths) are created once. */
#ifndef HST_ENCODER_H
#define HST_ENCODER_H

#include "engine/attention.h"

typedef enum {
    HST_ENCODER_POST_NORM, /* nn.TransformerEncoderLayer default (12.C.2, 12.D.2.2) */
    HST_ENCODER_PRE_NORM,  /* norm_first (12.E.2.3) */
} hst_encoder_norm;

/* The layer's tensors as the model holds them: f32, PyTorch's [out, in]. */
typedef struct {
    const float *in_proj_weight, *in_proj_bias;   /* self_attn.in_proj_*: [3D, D], [3D] */
    const float *out_proj_weight, *out_proj_bias; /* self_attn.out_proj.*: [D, D], [D] */
    const float *linear1_weight, *linear1_bias;   /* [F, D], [F] */
    const float *linear2_weight, *linear2_bias;   /* [D, F], [D] */
    const float *norm1_weight, *norm1_bias;       /* [D] */
    const float *norm2_weight, *norm2_bias;       /* [D] */
} hst_encoder_weights;

typedef struct {
    int d_model;                /* D */
    int n_heads;                /* 8 in every Stage 2 encoder (12.0: D a multiple of 8) */
    int d_ff;                   /* F: 2048 for PostEnc (12.C.1, 12.D), 4D for P (12.E.2.3) */
    hst_encoder_norm norm;
    hst_precision precision;    /* of the packed matrices: the model's precision (hot weights) */
} hst_encoder_config;

typedef struct hst_encoder hst_encoder;

/* Packs the four matrices in cfg->precision and copies the biases and norms,
 * so w may be freed afterwards. D a positive multiple of n_heads, F >= 1.
 * NULL with one line in err. */
hst_encoder *hst_encoder_create(const hst_encoder_weights *w, const hst_encoder_config *cfg, hst_error *err);
void hst_encoder_free(hst_encoder *e);
const hst_encoder_config *hst_encoder_get_config(const hst_encoder *e);
/* Bytes of the packed matrices (what a pass over every row reads). */
uint64_t hst_encoder_packed_bytes(const hst_encoder *e);

/* One layer's K/V cache for positions 0..capacity-1, owned by the caller
 * (a core keeps one per layer, or per resolution for Core E's shared P):
 * kt in attention.h's transposed layout (key_blocks = ceil(capacity / 16)
 * blocks of 16 keys per head, 64-byte aligned), v [capacity][D]. A core may
 * fill the struct itself with pointers into memory of its own of those sizes. */
typedef struct {
    float *kt, *v;
    int capacity, key_blocks, d_model, n_heads;
} hst_encoder_cache;

/* Allocates (zeroed, so resident) a cache for e. 0, or -1 with err. */
int hst_encoder_cache_init(hst_encoder_cache *c, const hst_encoder *e, int capacity, hst_error *err);
void hst_encoder_cache_free(hst_encoder_cache *c);
uint64_t hst_encoder_cache_bytes(const hst_encoder_cache *c);

/* Scratch for calls of up to max_rows rows of layers of width d_model and
 * FFN width up to d_ff. Not shared between threads calling at once. */
typedef struct hst_encoder_workspace hst_encoder_workspace;
hst_encoder_workspace *hst_encoder_workspace_create(int d_model, int d_ff, int max_rows, hst_error *err);
void hst_encoder_workspace_free(hst_encoder_workspace *w);
uint64_t hst_encoder_workspace_bytes(const hst_encoder_workspace *w);

/* A batch of rows. Row i is x[i * ldx] (input) and y[i * ldy] (output: the
 * layer's u); y may be x itself (same stride), else it must not overlap x.
 * Positions: positions[i], or t0 + i when positions is NULL; each within the
 * cache. extent: HST_ATTN_CAUSAL (row at p sees cached keys 0..p) or
 * HST_ATTN_FULL (every row sees keys 0..n_keys-1, n_keys <= capacity). The
 * keys a row sees must have been stored before (or by the same forward). */
typedef struct {
    const float *x;
    int ldx;
    float *y;
    int ldy;
    int n;
    const int *positions;
    int t0;
    hst_attn_extent extent;
    int n_keys;
} hst_encoder_rows;

/* k, v of rows->x into c at the rows' positions (y, extent unused). Returns
 * the FLOPs (4·D²·n), or -1 with err when the rows do not fit the
 * workspace or the cache. */
double hst_encoder_store_kv(const hst_encoder *e, hst_encoder_workspace *ws, hst_pool *pool, hst_encoder_cache *c,
                            const hst_encoder_rows *rows, hst_error *err);
/* y = the layer's output for rows->x, attending over c. Returns the FLOPs,
 * or -1 with err. */
double hst_encoder_attend(const hst_encoder *e, hst_encoder_workspace *ws, hst_pool *pool,
                          const hst_encoder_cache *c, const hst_encoder_rows *rows, hst_error *err);
/* store_kv then attend for the same rows. Returns the FLOPs, or -1 with err. */
double hst_encoder_forward(const hst_encoder *e, hst_encoder_workspace *ws, hst_pool *pool, hst_encoder_cache *c,
                           const hst_encoder_rows *rows, hst_error *err);

#endif
