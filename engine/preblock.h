/* preblock.h — the pre-norm transformer block of spec 4.2 with its KV cache
 * (spec 5): the bottom and top stacks of Cores A, B and C, and the one-block
 * benchmark of hst.h (hst_block_*), all through hst_preblock_run. */
#ifndef HST_PREBLOCK_H
#define HST_PREBLOCK_H

#include "engine/block.h"
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

/* ---- the weights around a stack of PreBlocks (Cores A, B, C) ---------------------
 * The embeddings (4.1), the L blocks (bottom 0..Lb-1, then top_stack.0..Lt-1)
 * packed in the resolver's precision, ln_f and lm_head (4.5). */
typedef struct {
    hst_block_rt *blocks; /* [n_blocks]: bottom, then top */
    int n_blocks;
    const float *tok_emb, *pos_emb, *lnf_g, *lnf_b;
    hst_packed head;
} hst_stack_weights;

/* Writes bottom block i's name prefix for cfg ("adaptive_bottom.layers.2"). */
typedef void (*hst_bottom_prefix_fn)(const hst_config *cfg, int i, char *prefix, size_t size);
/* Resolves w for r's model; a missing tensor or OOM sets r->failed and r->err.
 * Free with hst_stack_weights_free in either case. */
void hst_stack_weights_resolve(hst_resolver *r, hst_stack_weights *w, hst_bottom_prefix_fn bottom_prefix);
void hst_stack_weights_free(hst_stack_weights *w);
uint64_t hst_stack_weights_packed_bytes(const hst_stack_weights *w);

/* ---- a session's stack of PreBlocks (Cores A, B, C) ----------------------------
 * The K, V caches of n_blocks blocks (spec 5) and the scratch of calls of up
 * to max_rows rows, allocated once per session; the stack's input (4.1) and
 * output (4.5) are the rows the core keeps. */
typedef struct {
    int D, nh, max_seq_len, key_blocks, n_blocks;
    float *kcache;               /* [n_blocks] K caches (hst_kv_k_floats each) */
    float *vcache;               /* [n_blocks] V caches [Lmax][D] */
    float *kstage, *a, *q, *att; /* [max_rows][D] */
    float *hidden;               /* [max_rows][4D] */
} hst_block_stack;

/* 0, or -1 on OOM (what was allocated is freed). */
int hst_block_stack_init(hst_block_stack *st, const hst_config *cfg, int n_blocks, int max_rows);
void hst_block_stack_free(hst_block_stack *st);
/* Bytes of the K, V caches of n_blocks blocks of cfg (the decode state, spec 5). */
uint64_t hst_block_stack_kv_bytes(const hst_config *cfg, int n_blocks);
/* x <- PreBlock B(x) with cache slot b, for n rows at t0..t0+n-1 (hst_preblock_run). */
void hst_block_stack_run(const hst_block_stack *st, const hst_block_rt *B, int b, hst_pool *pool, float *x, int n,
                         int t0);

/* Blocks first..first+count-1 of the stack (weights blocks[first..], cache
 * slots first..) on x, n rows at t0..t0+n-1: each closes one timer section
 * with its FLOPs (spec 10, 11) and reaches the stage hook as "<stage>.<i>",
 * i counted from 0. */
void hst_block_stack_sections(hst_session *s, hst_section_clock *clk, const hst_block_stack *st,
                              const hst_block_rt *blocks, int first, int count, const char *stage, float *x, int n,
                              int t0);
/* The last section, head (4.5): "hidden" to the stage hook (the n rows of x
 * entering ln_f), then, when logits is not NULL, the logits of the call's
 * rows, the last call_rows of the n (all_logits), or of the last row; closes
 * the section with 2DV per row. */
void hst_head_section(hst_session *s, hst_section_clock *clk, const float *x, int n, int call_rows,
                      const float *lnf_g, const float *lnf_b, const hst_packed *head, float *scratch, float *logits,
                      int all_logits);

/* Spec 4.1: x_i = E[id_i] + P[t0 + i], rows of width D. */
void hst_embed_rows(const float *tok_emb, const float *pos_emb, int D, const int *ids, int n, int t0, float *x);
/* Spec 4.5: logits[i] = W_head · LN_f(x_i) for n rows of width D (row
 * stride D); scratch holds n rows of D. */
void hst_head_rows(hst_pool *pool, const float *x, int n, int D, const float *lnf_g, const float *lnf_b,
                   const hst_packed *head, int V, float *scratch, float *logits);

#endif
