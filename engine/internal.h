/* internal.h — shared between the engine's own .c files and its unit tests.
 * Nothing outside engine/ and tests/ includes this; the module's interface is hst.h. */
#ifndef HST_INTERNAL_H
#define HST_INTERNAL_H

#include "engine/hst.h"
#include <stdarg.h>

void hst_set_error(hst_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the tensor table: every tensor an arch defines, canonical order (spec 6, 12) ---- */

enum {
    HST_T_REQUIRED = 1u << 0,   /* "missing tensor" when absent (spec 9.4) */
    HST_T_NEXT_TOKEN = 1u << 1, /* read by the default next-token path (spec 4.6) */
    HST_T_BUFFER = 1u << 2,     /* not a parameter: not counted in params or weight bytes (spec 7, 12.0) */
    HST_T_I64 = 1u << 3,        /* an I64 spine buffer (spec 9.2); every other tensor is a float tensor */
    HST_T_HORIZON = 1u << 4,    /* a horizon head (spec 6), read only when one is requested */
    HST_T_TIED = 1u << 5,       /* the same tensor as the spec's tie_to (v8's lm_head.weight, spec 12.E.4):
                                   one copy, counted once, written as a copy, "bad tie" when it differs */
    HST_T_UNCHECKED = 1u << 6,  /* a float buffer whose values are never read nor checked (memory.*) */
};

typedef enum {
    HST_INIT_UNIFORM,   /* U(-a, +a), a = init_scale */
    HST_INIT_NORMAL,    /* N(0, s²), s = init_scale */
    HST_INIT_ONES,
    HST_INIT_ZEROS,
    HST_INIT_IDENTITY,  /* continual_updater.basis */
    HST_INIT_SPINE3,    /* the 3-term spine of Lmax (spec 2) */
    HST_INIT_SPINE2,    /* the 2-term spine of Lmax (spec 2) */
    HST_INIT_SINUSOID,  /* v8's positional table, spec 12.E.2.1 */
    HST_INIT_TIED,      /* a copy of tie_to: no draw */
} hst_init_kind;

typedef struct {
    char name[112];
    int ndim;
    int64_t shape[4];
    uint64_t numel;
    unsigned flags;
    hst_init_kind init;
    double init_scale;   /* a of U(-a, a), s of N(0, s²) */
    int tie_to;          /* HST_T_TIED: the index of the tensor this one is */
} hst_tensor_spec;

/* Builds the table for cfg (which must pass hst_config_check). Caller frees. */
int hst_tensor_specs(const hst_config *cfg, hst_tensor_spec **specs, int *n, hst_error *err);
int hst_spec_find(const hst_tensor_spec *specs, int n, const char *name); /* index or -1 */
/* The name lists' group of a spec: "next_token", "horizon", "never_read", "buffer", "tied". */
const char *hst_spec_group(const hst_tensor_spec *spec);

/* Random init's stream (spec 8): xoshiro256** (hst_rng_*) for uniforms, and
 * Box–Muller normals whose second value of each pair is kept for the next draw. */
typedef struct {
    uint64_t s[4];
    int has_spare;
    double spare;
} hst_init_rng;

double hst_init_rng_normal(hst_init_rng *r); /* N(0, 1) */

/* ---- the spines (spec 2) ------------------------------------------------------- */

typedef enum { HST_SPINE_3TERM, HST_SPINE_2TERM } hst_spine_kind;

#define HST_SPINE_MAX 16          /* entries of a spine up to Lmax 8192: 10 (3-term), 11 (2-term) */
#define HST_SPINE_MAX_LEVELS 5    /* the 2-term spine's 1970 and 4756 have 5 levels */
#define HST_SPINE_MAX_PER_LEVEL 3 /* a 3-term position has 3 immediate ancestors */

/* A spine position's ancestor levels A_1..A_m in the normative order of the
 * spec 2 table (the order the lattice's GRU reads them). */
typedef struct {
    int m;                                                /* levels; 0: not processed */
    int count[HST_SPINE_MAX_LEVELS];                      /* |A_l| */
    int pos[HST_SPINE_MAX_LEVELS][HST_SPINE_MAX_PER_LEVEL];
} hst_spine_ancestors;

/* The spine of kind for Lmax; returns its length. Always starts 0, 2, 4. */
int hst_spine_of(hst_spine_kind kind, int max_seq_len, int64_t out[HST_SPINE_MAX]);
/* Fills *out for position p; returns m (0 when p is no processed position). */
int hst_spine_ancestors_of(hst_spine_kind kind, int p, hst_spine_ancestors *out);
/* Bit m set for every level count m of a processed position < Lmax: which
 * level_transforms.{m} the lattice can read (spec 4.4, 7). */
unsigned hst_spine_reachable_levels(hst_spine_kind kind, int max_seq_len);
/* The 3-term shorthands (Cores A, B): the spine for Lmax (<= 10 entries),
 * and position p's levels as levels[l][j], counts[l]; returns m. */
int hst_spine(int max_seq_len, int64_t out[16]);
int hst_spine_levels(int p, int levels[3][3], int counts[3]);

/* ---- models ---------------------------------------------------------------- */

typedef struct hst_packed hst_packed; /* defined with the kernels below */
typedef struct hst_core_ops hst_core_ops; /* defined with the sessions below */

struct hst_model {
    hst_config cfg;
    const hst_core_ops *ops; /* the arch's core */
    hst_tensor_spec *specs;
    int n_specs;
    float **data;       /* [n_specs]; NULL when absent, an I64 spine or tied (hst_model_data) */
    unsigned char *present; /* [n_specs]; 1 when the tensor exists (file or init) */
    char preset[32];    /* preset name or "custom" */
    char source[512];
    uint64_t seed;
    int has_seed;
    hst_precision precision; /* of the packed weights (hst.h) */
    void *runtime;      /* the core's resolved pointers and packed weights (ops->runtime_build) */
    uint64_t nonfinite_weights; /* NaN/Inf values loaded from the file (issue 7) */
    int nonfinite_first;        /* spec index of the first tensor holding one; valid when the count > 0 */
};

/* An empty model for cfg: specs built, no tensor present. */
hst_model *hst_model_new(const hst_config *cfg, hst_error *err);
/* Allocate (zeroed) f32 storage for spec i and mark it present; I64 spines
 * and tied tensors are only marked present. Returns the storage, NULL for
 * those or on OOM. */
float *hst_model_tensor_alloc(hst_model *m, int i);
/* The f32 values of spec i: its own storage, or its tie's; NULL when absent or I64. */
const float *hst_model_data(const hst_model *m, int i);
/* Called once every tensor is in place: checks required tensors, then the
 * core resolves the forward pass's pointers and packs weights. */
int hst_model_finalize(hst_model *m, hst_error *err);

/* Binding tensor names to a core's runtime (ops->runtime_build). The first
 * absent tensor sets err ("<source>: missing tensor: <name>") and failed;
 * later calls then do nothing and return a zero, so a build can resolve
 * everything and check failed once at the end. */
typedef struct {
    hst_model *m;
    hst_error *err;
    int failed;
    hst_precision precision; /* of the weights every token reads (hst.h) */
} hst_resolver;

const float *hst_resolve(hst_resolver *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Packs W [N, K] in f32: weights read only now and then (the lattice's spine updates). */
void hst_resolve_pack(hst_resolver *r, hst_packed *dst, const float *W, int N, int K);
/* Packs W [N, K] in r->precision: the weights every token reads. */
void hst_resolve_pack_hot(hst_resolver *r, hst_packed *dst, const float *W, int N, int K);

/* ---- cores: one const table of operations per core ----------------------------
 *
 * Each core (A/B in core_ab.c; C, D, E in core_c.c, core_d.c, core_e.c) is
 * one hst_core_ops instance; hst_core_ops_for() maps an arch to it. What all
 * cores share lives in hst_session (below) and in session.c: the position,
 * the mode, the token history, the section timers and the stage hook. A
 * member may be NULL where a core has nothing to do (or, for a core that is
 * not implemented yet, no forward pass: hst_forward then fails with
 * "forward: <preset> is not implemented in this build").
 */

#define HST_SECTION_NAME_BYTES 24

struct hst_core_ops {
    const char *name; /* "A/B", "C", "D", "E" */
    /* Model side: the runtime view of m's tensors (resolved pointers, packed
     * weights), built after every required tensor is present and again by
     * hst_model_set_precision; sessions read m->runtime at each call. */
    void *(*runtime_build)(hst_model *m, hst_precision precision, hst_error *err);
    void (*runtime_free)(void *runtime, const hst_config *cfg);
    uint64_t (*packed_bytes)(const void *runtime, const hst_config *cfg);
    /* Session side: the core's own decode state (KV caches, running sums,
     * kept lattice rows) and scratch, allocated once per session for calls of
     * up to Lmax rows; reset forgets every token. */
    void *(*state_create)(const hst_model *m, hst_error *err);
    void (*state_free)(void *state);
    void (*state_reset)(void *state);
    uint64_t (*state_bytes)(const hst_config *cfg); /* what state_create allocates for cfg */
    /* The timer sections in call order (spec 10, 12.C.7, 12.D.7, 12.E.6):
     * writes them to names (when not NULL) and returns their count. */
    int (*section_names)(const hst_config *cfg, char (*names)[HST_SECTION_NAME_BYTES]);
    /* The n rows at positions s->pos..s->pos+n-1, in s->mode (hst_forward's
     * contract; session.c has already checked the call and appended ids to
     * s->history). Closes every section through hst_section_done and calls
     * hst_stage at the end of each stage. 0, or -1 with err and the session
     * left as before the call. */
    int (*forward)(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err);
    /* The figures of hst.h (hst_flops_*, hst_bytes_*) for the mode. */
    double (*flops_prefill_per_token)(const hst_config *cfg, hst_mode mode, int S);
    double (*flops_decode)(const hst_config *cfg, hst_mode mode, int t);
    double (*bytes_decode)(const hst_config *cfg, hst_mode mode, int t);
    double (*bytes_prefill)(const hst_config *cfg, hst_mode mode, int S);
};

extern const hst_core_ops hst_core_ab, hst_core_c, hst_core_d, hst_core_e;
const hst_core_ops *hst_core_ops_for(hst_arch arch);

/* ---- sessions: what every core shares ------------------------------------------
 *
 * A core's forward may read every field and write only its state (and the
 * rows it hands to hst_stage). session.c owns the rest: it sets pos after a
 * successful call, fills history, zeroes the section figures before the call.
 */

/* A golden test's view of intermediate rows: called at the end of each named
 * stage with the rows the stage computed in this call (causal: the call's n
 * rows; parity: every row of the recomputed window), row r at rows + r·ld.
 * Stage names: the section names where a stage is a section ("embed",
 * "bottom.0", "multires.1", "fusion", "moe", "attn.0", "lattice", "top.0",
 * "proc.3", "hebbian", "feedback", ...) and "hidden" for the rows that enter
 * ln_f (every core calls it). */
typedef void (*hst_stage_fn)(void *user, const char *stage, const float *rows, int n_rows, int ld);

struct hst_session {
    const hst_model *model;
    const hst_core_ops *ops;
    hst_config cfg;
    hst_pool *pool;
    hst_kernel kernel;      /* resolved; hst_forward computes with it */
    int pos;                /* tokens processed before the current call */
    hst_mode mode;
    int *history;           /* [Lmax]: ids of positions 0..pos-1, and during a call 0..pos+n-1 */
    int timing;             /* read the clock in hst_section_done */
    int n_sections;
    char (*section_names)[HST_SECTION_NAME_BYTES];
    uint64_t *section_ns;
    double *section_flops;
    int last_t0, last_n;    /* the last successful call's rows */
    uint64_t last_bytes_saved; /* its hst_thread_bytes_saved */
    hst_stage_fn stage_fn;  /* NULL unless a test asked (hst_session_set_stage_hook) */
    void *stage_user;
    void *state;            /* the core's (ops->state_create); NULL when it has none */
};

/* Sections are closed in order: start one clock per call, then one
 * hst_section_done per section with its FLOPs (spec 11). The clock is read
 * only when timing is on. */
typedef struct {
    hst_session *s;
    int section;
    uint64_t t;
} hst_section_clock;

void hst_section_start(hst_session *s, hst_section_clock *c);
void hst_section_done(hst_section_clock *c, double flops);
/* For ops->section_names: writes section k's name when names is not NULL
 * and returns k + 1, so one function both counts and names. */
int hst_section_name(char (*names)[HST_SECTION_NAME_BYTES], int k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Tests only: receive intermediate rows (fn NULL turns it off). */
void hst_session_set_stage_hook(hst_session *s, hst_stage_fn fn, void *user);
/* For cores: hands rows to the hook when one is set; costs a branch otherwise. */
static inline void hst_stage(const hst_session *s, const char *stage, const float *rows, int n_rows, int ld)
{
    if (s->stage_fn)
        s->stage_fn(s->stage_user, stage, rows, n_rows, ld);
}
/* hst_stage of "<stack>.<i>" ("bottom.2", "proc.7"), named only when a hook listens. */
void hst_stage_numbered(const hst_session *s, const char *stack, int i, const float *rows, int n_rows, int ld);

/* ---- half-precision widening (spec 9.2) ------------------------------------ */
float hst_f16_to_f32(uint16_t h);
float hst_bf16_to_f32(uint16_t h);

/* ---- thread pool ------------------------------------------------------------- */

/* Run fn(ctx, task) for task = 0..n_tasks-1 on all workers and wait. Tasks must
 * write disjoint outputs and not depend on which thread runs them: that is
 * what makes results bit-identical for any thread count. */
typedef void (*hst_task_fn)(void *ctx, int task);
void hst_pool_run(hst_pool *p, int n_tasks, hst_task_fn fn, void *ctx);
/* hst_pool_run for a fn whose jobs of as many tasks differ in task size
 * (the matmul of one weight matrix against another): shape tells them
 * apart (0: all alike), so that the pool compares the team with the
 * caller's time on tasks of that size (pool.c, contention). */
void hst_pool_run_shaped(hst_pool *p, int n_tasks, hst_task_fn fn, void *ctx, uintptr_t shape);
/* Tests only: the caller's remembered time per task on jobs of that shape (0: none yet). */
uint64_t hst_pool_task_ns(hst_pool *p, hst_task_fn fn, int n_tasks, uintptr_t shape);
/* The kernel of the calling thread (HST_KERNEL_AUTO: hst_kernel_default()).
 * hst_forward sets it from its session; hst_pool_run hands the caller's to
 * the workers for the job, so every task of a call computes alike. */
extern _Thread_local hst_kernel hst_thread_kernel;
/* Bytes of bf16/int8 weights the calling thread's matmuls did not read
 * because of their storage (4·N·K f32 bytes minus the stored ones, per call).
 * Workers add theirs to the pool after each job; hst_forward takes them
 * (hst_pool_take_bytes_saved, which also resets) with the caller's into
 * hst_session_last_bytes. Jobs complete before hst_pool_run returns, so a
 * call's share is in the pool when the call ends. */
extern _Thread_local uint64_t hst_thread_bytes_saved;
uint64_t hst_pool_take_bytes_saved(hst_pool *p);

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
/* Several products of the same rows X (Q, K and V of a block) as one job of
 * the pool: one synchronisation instead of one per product. Each output is
 * computed exactly as hst_matmul computes it. */
typedef struct {
    const hst_packed *W;
    const float *bias;
    float *Y;
    int ldy;
    hst_epilogue epi;
} hst_matmul_out;
void hst_matmul_group(hst_pool *pool, const float *X, int S, int ldx, const hst_matmul_out *outs, int n);
/* Inside a pool task: rows 0..S-1 of one product on this thread, as hst_matmul
 * computes them, without counting the weight's bytes; the caller counts each
 * weight once per call with hst_matmul_count_read. */
void hst_matmul_rows(const float *X, int S, int ldx, const hst_packed *W, const float *bias, float *Y, int ldy,
                     hst_epilogue epi);
void hst_matmul_count_read(const hst_packed *W);
/* The same for output panels p0..p1-1 only (columns p0*HST_NR ..). */
void hst_matmul_panels(const float *X, int S, int ldx, const hst_packed *W, const float *bias, float *Y, int ldy,
                       hst_epilogue epi, int p0, int p1);
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
/* Zeroed, 64-byte aligned (the AVX-512 attention loads key blocks aligned)
 * floats; sets *failed on OOM. Free with free(). */
float *hst_alloc_floats(size_t n, int *failed);
float hst_gelu(float x);
/* y[i] = GELU(y[i]) for i < n; vectorised with the AVX-512 kernel (same
 * accuracy as the scalar erff form, see simd512.h). */
void hst_gelu_inplace(float *y, int n);
float hst_sigmoid(float x);
float hst_softplus(float x);

#endif
