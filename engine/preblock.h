/* preblock.h — the pre-norm transformer block of spec 4.2 with its KV cache
 * (spec 5): the bottom and top stacks of Cores A, B and C, and the one-block
 * benchmark of hst.h (hst_block_*), all through hst_preblock_run. */
#ifndef HST_PREBLOCK_H
#define HST_PREBLOCK_H

#include "engine/internal.h"

/* A block's weights: the six matmuls packed (in the model's precision), the
 * norms and biases pointing at the model's f32 tensors. */
typedef struct {
    hst_packed wq, wk, wv, wo, w1, w2;
    const float *ln1_g, *ln1_b, *b1, *b2, *ln2_g, *ln2_b;
} hst_block_rt;

/* prefix + ".attn.q_proj.weight", ... (spec 4.2's twelve names). */
void hst_block_resolve(hst_resolver *r, hst_block_rt *b, const char *prefix, int d_model);
void hst_block_rt_free(hst_block_rt *b);
uint64_t hst_block_rt_packed_bytes(const hst_block_rt *b);

/* Key blocks of HST_KEY_BLOCK positions a K cache of max_seq_len needs. */
int hst_kv_key_blocks(int max_seq_len);
/* Floats of one block's K cache (transposed key blocks) and V cache. */
size_t hst_kv_k_floats(int d_model, int max_seq_len);
size_t hst_kv_v_floats(int d_model, int max_seq_len);

/* What one PreBlock call reads and writes: the rows, the scratch and the
 * block's caches. A session fills it from its buffers; hst_block (the
 * one-block benchmark) from its workspace, so both run the same code. */
typedef struct {
    hst_pool *pool;
    int D, nh, key_blocks;
    float *x;                    /* [n][D], updated in place */
    float *a, *q, *kstage, *att; /* [n][D] scratch */
    float *hidden;               /* [n][4D] scratch */
    float *kt;                   /* K cache, transposed blocks (hst_kcache_store); 64-byte aligned */
    float *vc;                   /* V cache [pos][D] */
} hst_block_io;

/* x <- PreBlock(x) for rows at positions t0..t0+n-1: appends their K, V to
 * the caches and attends over keys 0..t_i (spec 4.2, 5). */
void hst_preblock_run(const hst_block_rt *b, const hst_block_io *io, int n, int t0);

/* Spec 11: 24D²·n + 4D·Σ(t_i + 1) for rows at positions t0..t0+n-1. */
double hst_preblock_flops(int d_model, int n, int t0);

#endif
