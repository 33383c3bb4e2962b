/* internal.h — shared between the engine's own .c files and its unit tests.
 * Nothing outside engine/ and tests/ includes this; the module's interface is hst.h. */
#ifndef HST_INTERNAL_H
#define HST_INTERNAL_H

#include "engine/hst.h"
#include <stdarg.h>

void hst_set_error(hst_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the tensor table: every tensor an arch defines, canonical order (spec 6) ---- */

enum {
    HST_T_REQUIRED = 1u << 0,   /* "missing tensor" when absent (spec 9.4) */
    HST_T_NEXT_TOKEN = 1u << 1, /* read by the default next-token path (spec 4.6) */
    HST_T_BUFFER = 1u << 2,     /* I64 spine buffer, not a parameter */
};

typedef enum {
    HST_INIT_NONE,      /* buffers */
    HST_INIT_UNIFORM,   /* U(-a, +a) */
    HST_INIT_NORMAL,    /* N(0, 1) */
    HST_INIT_ONES,
    HST_INIT_ZEROS,
    HST_INIT_IDENTITY,  /* continual_updater.basis */
} hst_init_kind;

typedef struct {
    char name[112];
    int ndim;
    int64_t shape[4];
    uint64_t numel;
    unsigned flags;
    hst_init_kind init;
    double init_bound;   /* a of U(-a, a) */
} hst_tensor_spec;

/* Builds the table for cfg (which must pass hst_config_check). Caller frees. */
int hst_tensor_specs(const hst_config *cfg, hst_tensor_spec **specs, int *n, hst_error *err);
int hst_spec_find(const hst_tensor_spec *specs, int n, const char *name); /* index or -1 */

/* The 3-term spine for Lmax (spec 2); returns its length (<= 10). */
int hst_spine(int max_seq_len, int64_t out[16]);
/* Ancestor levels of spine position p (spec 2 table): levels[l][j], counts[l].
 * Returns the number of levels m, 0 when p has no ancestors. */
int hst_spine_levels(int p, int levels[3][3], int counts[3]);

/* ---- models ---------------------------------------------------------------- */

typedef struct hst_packed hst_packed; /* defined with the kernels below */

struct hst_model {
    hst_config cfg;
    hst_tensor_spec *specs;
    int n_specs;
    float **data;       /* [n_specs]; NULL when absent or a buffer */
    unsigned char *present; /* [n_specs]; 1 when the tensor exists (file or init) */
    char preset[32];    /* preset name or "custom" */
    char source[512];
    uint64_t seed;
    int has_seed;
    void *runtime;      /* resolved pointers and packed weights (forward.c) */
    uint64_t nonfinite_weights; /* NaN/Inf values loaded from the file (issue 7) */
    int nonfinite_first;        /* spec index of the first tensor holding one; valid when the count > 0 */
};

/* An empty model for cfg: specs built, no tensor present. */
hst_model *hst_model_new(const hst_config *cfg, hst_error *err);
/* Allocate (zeroed) f32 storage for spec i and mark it present; buffers are
 * only marked present. Returns the storage, NULL for buffers or on OOM. */
float *hst_model_tensor_alloc(hst_model *m, int i);
/* Called once every tensor is in place: checks required tensors, resolves
 * the forward pass's pointers and packs weights. */
int hst_model_finalize(hst_model *m, hst_error *err);

/* forward.c: build / free the runtime view (packed weights) of a model. */
int hst_runtime_build(hst_model *m, hst_error *err);
void hst_runtime_free(hst_model *m);

/* ---- half-precision widening (spec 9.2) ------------------------------------ */
float hst_f16_to_f32(uint16_t h);
float hst_bf16_to_f32(uint16_t h);

/* ---- thread pool ------------------------------------------------------------- */

/* Run fn(ctx, task) for task = 0..n_tasks-1 on all workers and wait. Tasks must
 * write disjoint outputs and not depend on which thread runs them: that is
 * what makes results bit-identical for any thread count. */
typedef void (*hst_task_fn)(void *ctx, int task);
void hst_pool_run(hst_pool *p, int n_tasks, hst_task_fn fn, void *ctx);
/* The kernel of the calling thread (HST_KERNEL_AUTO: hst_kernel_default()).
 * hst_forward sets it from its session; hst_pool_run hands the caller's to
 * the workers for the job, so every task of a call computes alike. */
extern _Thread_local hst_kernel hst_thread_kernel;

/* ---- kernels ------------------------------------------------------------------ */

#define HST_NR 16 /* output columns per packed panel: one AVX-512 register */

/* W [N, K] row-major (PyTorch's [out, in]) packed as panels of HST_NR output
 * columns: panel p holds W[p*NR + c][k] at data[(p*K + k)*NR + c], zero-padded. */
struct hst_packed {
    int N, K;
    float *data;
    /* Issue 6: the same panels in another element type. Exactly one of data
     * (f32), bf16 and q8 is set, as precision says. q8 has the f32 layout;
     * scale[n] is its per-output-channel scale (W[n][k] ~ q8 * scale[n]),
     * zero-padded to whole panels. bf16 interleaves panels in pairs, one
     * 32-bit word per column holding both (kernels.c, bf16_pair_index). */
    hst_precision precision;
    uint16_t *bf16;
    int8_t *q8;
    float *scale;
};
int hst_pack(hst_packed *dst, const float *W, int N, int K);
void hst_packed_free(hst_packed *p);
/* hst_pack in any precision: bf16 rounds to nearest even; int8 uses
 * scale[n] = max_k |W[n][k]| / 127 and q = round(W / scale) (spec-free:
 * weight-only quantisation, issue 6). 0 ok, -1 out of memory. */
int hst_pack_precision(hst_packed *dst, const float *W, int N, int K, hst_precision precision);
/* The weight W[n][k] as the kernel sees it (dequantised), for tests. */
float hst_packed_weight(const hst_packed *p, int n, int k);
/* Bytes of the panels plus scales. */
size_t hst_packed_bytes(const hst_packed *p);

typedef enum {
    HST_EPI_NONE,
    HST_EPI_RELU,  /* y = relu(xW^T + b) */
    HST_EPI_ADD,   /* y += xW^T + b (residual) */
} hst_epilogue;

/* Y[S, N] (row stride ldy) = epilogue(X[S, K] (row stride ldx) · W^T + bias).
 * bias may be NULL. Every output element is the same FMA chain over k in
 * increasing order whatever S, the thread count or the tile it falls in. */
void hst_matmul(hst_pool *pool, const float *X, int S, int ldx, const hst_packed *W,
                const float *bias, float *Y, int ldy, hst_epilogue epi);
/* Same computation on the calling thread only (small matrices of the lattice). */
void hst_matmul_serial(const float *X, int S, int ldx, const hst_packed *W,
                       const float *bias, float *Y, int ldy, hst_epilogue epi);

/* Attention (attention.c). K is cached transposed in blocks of HST_KEY_BLOCK
 * positions per head: kt[h][blk][d][HST_KEY_BLOCK], blocks = ceil(Lmax / 16). */
#define HST_KEY_BLOCK 16
void hst_kcache_store(float *kt, const float *k_rows, int ld, int n, int t0, int nh, int hd, int blocks);
/* out[i] (row stride nh*hd) = causal attention of q[i] at position t0 + i. */
void hst_attention(hst_pool *pool, const float *q, const float *kt, const float *v, float *out, int n, int t0,
                   int nh, int hd, int blocks);

/* Row-wise ops (spec 1). */
void hst_layernorm(const float *x, const float *gamma, const float *beta, float *y, int n);
float hst_gelu(float x);
/* y[i] = GELU(y[i]) for i < n; vectorised with the AVX-512 kernel (same
 * accuracy as the scalar erff form, see simd512.h). */
void hst_gelu_inplace(float *y, int n);
float hst_sigmoid(float x);
float hst_softplus(float x);

#endif
