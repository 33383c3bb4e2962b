/* attention.h — multi-head attention over a K/V cache with the options of
 * the Stage 2 cores (HST_MODEL_STAGE2 12.C–12.E): any score scale, causal or
 * full key extent, rows given with their own positions, and Core D's 64-key
 * block filter. hst_attention (internal.h) is the causal case of spec 4.2.
 *
 * Cache layout (as internal.h): K transposed in blocks of HST_KEY_BLOCK keys
 * per head, kt[h][blk][d][16] with key_blocks blocks per head (64-byte
 * aligned); V row-major, the key at position j in v[j * ldv], head h at
 * columns h*hd..h*hd+hd-1.
 *
 * Determinism: a row's result depends only on its position, the keys it may
 * see and the cache — never on how rows are grouped into calls, on which
 * rows share a call or on the thread count. Keys are visited in increasing
 * position in one fixed order per (row, head), so one call over many rows,
 * row-by-row calls and any thread count give the same bits (with one kernel;
 * the portable and AVX-512 kernels differ from each other by rounding). */
#ifndef HST_ATTENTION_H
#define HST_ATTENTION_H

#include "engine/internal.h"

/* Core D's block size for the keep filter (12.D.2.4). */
#define HST_ATTN_KEEP_BLOCK 64

typedef enum {
    HST_ATTN_CAUSAL, /* the row at position p sees keys 0..p */
    HST_ATTN_FULL,   /* every row sees keys 0..n_keys-1 (parity's bidirectional attention, 12.C.2, 12.D.2.2,
                        cross-attention 12.E.2.5) */
} hst_attn_extent;

typedef struct {
    const float *q; /* [n_rows][ldq], head h at columns h*head_dim.. */
    int ldq;
    const float *kt; /* K cache, transposed blocks (see above) */
    int key_blocks;  /* 16-key blocks per head in kt */
    const float *v;  /* V cache [pos][ldv] */
    int ldv;
    float *out; /* [n_rows][ldo] */
    int ldo;
    int n_rows, n_heads, head_dim;
    float scale; /* scores are (q·k) * scale: 1/sqrt(hd) usually, 1/sqrt(D) in Core D's layers (12.D.2.4) */
    hst_attn_extent extent;
    int n_keys;           /* HST_ATTN_FULL: keys 0..n_keys-1 (ignored when causal) */
    const int *positions; /* position of row i; NULL: t0 + i */
    int t0;
    /* Core D's filter (12.D.2.4, 12.D.3 item 3), NULL for none: one flag per
     * 64-key block; a row at p sees the keys of its own block p/64 and of
     * every other block whose flag is non-zero, within its extent. Needs a
     * flag for every block the extent reaches; in full extent a row's
     * position must be below n_keys, so its own block holds keys. */
    const unsigned char *keep;
} hst_attention_args;

/* out[i] = softmax attention of q[i] over the keys row i may see, per head.
 * Rows sorted by position run fastest (rows are grouped for the kernel). */
void hst_attention_run(hst_pool *pool, const hst_attention_args *a);

/* The call's matmul FLOPs by the spec's convention (section 11): 2·hd per
 * visible key for the scores and 2·hd for the values, per head and row. */
double hst_attention_flops(const hst_attention_args *a);

/* hst_kcache_store for rows at given positions (NULL: t0 + i). */
void hst_kcache_store_rows(float *kt, const float *k_rows, int ld, int n, const int *positions, int t0, int nh,
                           int hd, int blocks);

#endif
