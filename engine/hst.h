/* hst.h — the public interface of the HST inference engine (engine/).
 *
 * Two parts sit in their own headers: engine/pool.h (the thread pool,
 * included below) and engine/block.h (one PreBlock alone, for layerbench).
 *
 * The engine computes tokens and reports what it did: section times, tokens,
 * FLOPs and bytes read. It never draws, formats a report or opens a counter.
 * The normative model definition is ../shared/HST_MODEL.md ("spec" below),
 * with Cores C, D and E in its section 12 (HST_MODEL_STAGE2.md).
 */
#ifndef HST_H
#define HST_H

#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"

/* ---- configuration (spec 3) -------------------------------------------- */

typedef enum {
    HST_ARCH_V3,   /* Core A */
    HST_ARCH_V4,   /* Core A */
    HST_ARCH_V5_2, /* Core B */
    HST_ARCH_V6,   /* Core B */
    HST_ARCH_V6_1, /* Core B */
    HST_ARCH_V7_0, /* Core C, v7.0 Agile (spec 12.C) */
    HST_ARCH_V7_1, /* Core D, v7.1 Ultimate (spec 12.D) */
    HST_ARCH_V8,   /* Core E, v8 Crystalline (spec 12.E) */
    HST_ARCH_COUNT
} hst_arch;

typedef struct {
    hst_arch arch;
    int vocab_size;   /* V */
    int d_model;      /* D */
    int n_heads;      /* nh */
    int n_layers;     /* L: Lb = L/2 bottom blocks, Lt = L - Lb top blocks */
    int max_seq_len;  /* Lmax */
    int horizon;      /* Hz */
} hst_config;

const char *hst_arch_name(hst_arch arch);            /* "v3", "v5.2", "v7.0", ... */
int hst_arch_from_name(const char *name, hst_arch *out); /* 0 ok, -1 unknown */
/* The core that computes the arch: 'A' (v3, v4), 'B' (v5.2, v6, v6.1), 'C'
 * (v7.0), 'D' (v7.1), 'E' (v8); '?' for a value outside hst_arch. */
char hst_arch_core(hst_arch arch);
/* 1 when this build runs the arch's forward pass. 0 while its core is not
 * implemented: models of the arch load, initialise, count and save, and
 * hst_forward fails with "forward: <preset> is not implemented in this build". */
int hst_arch_implemented(hst_arch arch);

/* Presets: "hst-v3", "hst-v4", "hst-v5.2", "hst-v6", "hst-v6.1", "hst-v7.0",
 * "hst-chaos" (an alias of arch v7.0 with hst-v7.0's values, spec 12.C.9),
 * "hst-v7.1", "hst-v8". */
int hst_preset_count(void);
const char *hst_preset_name(int i);
int hst_preset_config(const char *name, hst_config *out); /* 0 ok, -1 unknown */
/* The preset whose configuration equals cfg, or NULL ("custom"). */
const char *hst_preset_matching(const hst_config *cfg);
/* 0 when cfg satisfies spec section 3 (and 12.0 for v7.0, v7.1, v8); else -1
 * with err "config: bad metadata: ...". */
int hst_config_check(const hst_config *cfg, hst_error *err);

#define HST_DEFAULT_PRESET "hst-v4"
#define HST_DEFAULT_SEED 0

/* ---- modes (spec 12.0) ------------------------------------------------- */

/* Cores C, D and E are non-causal as originally written: parity mode is the
 * original's computation over the whole window (a decode step recomputes the
 * window), causal mode the spec's causal rewrite with an incremental decode.
 * Causal is the default. For Cores A and B both modes are the same
 * computation: the mode is accepted and reported, and changes nothing. */
typedef enum { HST_MODE_CAUSAL, HST_MODE_PARITY, HST_MODE_COUNT } hst_mode;

const char *hst_mode_name(hst_mode mode);                   /* "causal", "parity" */
int hst_mode_from_name(const char *name, hst_mode *out);   /* 0 ok, -1 unknown */
/* 1 when the two modes compute different things for the arch (Cores C, D, E). */
int hst_arch_modes_differ(hst_arch arch);

/* ---- counts (spec 7, 11) ---------------------------------------------- */

typedef struct {
    uint64_t params_total;      /* every parameter tensor present, as the original counted */
    uint64_t params_next_token; /* what the default next-token path can read */
    uint64_t weight_bytes;      /* bytes of the loaded weights (f32 as held in memory) */
    int n_tensors;              /* tensors in the file / model, spine buffers included */
} hst_counts;

/* The figures of the computation the mode runs (spec 11; 12.C.6, 12.D.6,
 * 12.E.5 for FLOPs, 12.C.8, 12.D.8, 12.E.7 for bytes). NaN when this build
 * has no formula for the arch's core. */
/* Matmul FLOPs per token of a prefill of S tokens from position 0, logits for every row. */
double hst_flops_prefill_per_token(const hst_config *cfg, hst_mode mode, int S);
/* Matmul FLOPs of one decode step at position t. */
double hst_flops_decode(const hst_config *cfg, hst_mode mode, int t);
/* Bytes a decode step at position t reads: next-token weights + decode state. */
double hst_bytes_decode(const hst_config *cfg, hst_mode mode, int t);
/* Bytes a prefill of S tokens reads once (weights) plus its KV traffic. */
double hst_bytes_prefill(const hst_config *cfg, hst_mode mode, int S);
/* Bytes of the decode state (KV caches and the rest) a session of cfg
 * allocates; 0 when the arch's core is not implemented in this build. */
uint64_t hst_decode_state_bytes(const hst_config *cfg);

/* ---- models ------------------------------------------------------------- */

typedef struct hst_model hst_model;

/* Seeded random initialisation (spec 8); deterministic for (cfg, seed). */
hst_model *hst_model_random(const hst_config *cfg, uint64_t seed, hst_error *err);
/* Load and validate a safetensors file (spec 9); every failure is one line. */
hst_model *hst_model_load(const char *path, hst_error *err);
/* Loading options (issue 7); all-zero (or a NULL pointer) is hst_model_load's behaviour. */
typedef struct {
    /* NaN or Inf among the weights fails the load with "<file>: non-finite
     * weights: ..." instead of loading (and being reported by
     * hst_model_nonfinite_weights). Spec 9 allows any f32 value; a trained
     * checkpoint holding one is almost always broken. */
    int reject_nonfinite_weights;
} hst_load_opts;
hst_model *hst_model_load_opts(const char *path, const hst_load_opts *opts, hst_error *err);
/* Writes m in the spec 9.5 layout (header, then the tensors) to fd, from
 * where fd is. interrupted (may be NULL) is asked before each tensor: when
 * it answers non-zero, writing stops with errno EINTR and err "not written:
 * interrupted". A failed write keeps its errno and err says "cannot write:
 * <reason>". 0 ok, -1 error. The bytes only: exports/ (export_model_save)
 * makes them a file atomically. */
int hst_model_write(const hst_model *m, int fd, int (*interrupted)(void), hst_error *err);
void hst_model_free(hst_model *m);
/* A preset name (random init from seed) or a safetensors path. Unknown names
 * fail with "<name>: unknown model: not a preset (hst-v3, ...) and no such file". */
hst_model *hst_model_open(const char *preset_or_path, uint64_t seed, hst_error *err);
/* hst_model_open with loading options for a file (presets ignore them). */
hst_model *hst_model_open_opts(const char *preset_or_path, uint64_t seed, const hst_load_opts *opts,
                               hst_error *err);
/* Class name of the original PyTorch module (the published report's "Class"). */
const char *hst_arch_class(hst_arch arch);

const hst_config *hst_model_config(const hst_model *m);
hst_counts hst_model_counts(const hst_model *m);
/* Preset name from metadata or matching config, "custom" otherwise. */
const char *hst_model_preset(const hst_model *m);
/* Where the weights came from: "random (seed N)" or the file path. */
const char *hst_model_source(const hst_model *m);
uint64_t hst_model_seed(const hst_model *m); /* seed for random models, else 0 */
/* NaN/Inf values among the weights loaded from a file (0 for random weights);
 * *first_tensor (when not NULL) names the first tensor holding one, or NULL.
 * Callers warn with it: the engine loads such files unless told not to. */
uint64_t hst_model_nonfinite_weights(const hst_model *m, const char **first_tensor);
/* The warning about the model's weights as one line ("<file>: non-finite
 * weights: N NaN/Inf values, the first in tensor T"); 1 when there is one,
 * 0 (and "") when the weights are all finite. */
int hst_model_warning(const hst_model *m, char *buf, size_t size);

/* Tensor listing, canonical order (for `hstprof model info`). */
typedef struct {
    const char *name;
    const char *dtype;  /* "F32", "I64", as the engine writes it */
    int ndim;
    int64_t shape[4];
    uint64_t numel;
    int next_token;     /* read by the next-token path */
    /* "next_token", "horizon", "never_read", "buffer" (not a parameter:
     * spine, positional table, memory) or "tied" (v8's lm_head.weight, the
     * token table under a second name): the name lists' group (spec 12). */
    const char *group;
} hst_tensor_info;
int hst_model_tensor_count(const hst_model *m);
int hst_model_tensor(const hst_model *m, int i, hst_tensor_info *out);
/* Raw f32 data of a tensor by name (tests, tools); NULL when absent or I64.
 * A tied tensor (v8's lm_head.weight) gives its tie's data, in the file or not. */
const float *hst_model_tensor_data(const hst_model *m, const char *name, uint64_t *numel);

/* ---- kernels ------------------------------------------------------------ */

/* The matmul (and row-op) kernel is a property of a session
 * (hst_session_set_kernel), not of the process: sessions with different
 * kernels can run side by side, e.g. the two sides of an A/B comparison. */
typedef enum { HST_KERNEL_AUTO, HST_KERNEL_PORTABLE, HST_KERNEL_AVX2, HST_KERNEL_AVX512 } hst_kernel;
const char *hst_kernel_name(hst_kernel k);                   /* "auto", "portable", "avx2", "avx512" */
int hst_kernel_from_name(const char *name, hst_kernel *out); /* 0 ok, -1 unknown */
/* What k means on this CPU: AUTO is the best kernel it supports; -1 when it
 * cannot run k. */
int hst_kernel_resolve(hst_kernel k);
/* Every new session's kernel: HSTPROF_KERNEL (portable|avx2|avx512) when set
 * and runnable here, else the best (read once). */
hst_kernel hst_kernel_default(void);
/* The calling thread's kernel, for engine calls made outside a session
 * (hst_block_forward, hst_matmul_gflops); a pool's workers take their
 * caller's for each job, and hst_forward sets its session's. Returns the
 * kernel in use, or -1 (nothing changed) when the CPU cannot run k. */
int hst_kernel_use(hst_kernel k);
hst_kernel hst_kernel_current(void);

/* ---- weight precision (issue 6) ----------------------------------------- */

/* How the weights of the big matmuls are stored in the packed panels. The
 * arithmetic is f32 for every precision: bf16 weights are widened exactly
 * (a 16-bit shift), int8 weights are converted and the per-output-channel
 * scale is applied to the finished f32 sum, inside the micro-kernel.
 * Activations, accumulators, the KV cache, embeddings, norms, biases and the
 * lattice's spine-update matmuls (read only at the <= 10 processed spine
 * positions, spec 4.4) stay f32 whatever the precision. Quantised: every
 * PreBlock matmul (Wq, Wk, Wv, Wo, W1, W2; spec 4.2), the meta fusion (Wa,
 * Wb; spec 4.4) and lm_head (spec 4.5), the weights every token reads. */
typedef enum { HST_PRECISION_F32, HST_PRECISION_BF16, HST_PRECISION_INT8, HST_PRECISION_COUNT } hst_precision;

const char *hst_precision_name(hst_precision p);                    /* "f32", "bf16", "int8" */
int hst_precision_from_name(const char *name, hst_precision *out); /* 0 ok, -1 unknown */
/* Repacks the model's weights in precision p from the f32 tensors (which the
 * model keeps, so switching back to f32 is exact). Sessions of the model stay
 * valid; call it between forward calls, never during one. 0 ok, -1 with err. */
int hst_model_set_precision(hst_model *m, hst_precision p, hst_error *err);
hst_precision hst_model_precision(const hst_model *m); /* HST_PRECISION_F32 after load */
/* Bytes the packed weight panels (and int8 scales) of the model occupy. */
uint64_t hst_model_packed_bytes(const hst_model *m);

/* ---- thread pool: engine/pool.h -------------------------------------- */

#include "engine/pool.h"

/* ---- sessions: prefill and decode with a KV cache (spec 4, 5) ----------- */

typedef struct hst_session hst_session;

/* Buffers for the whole session are allocated here, never per token. */
hst_session *hst_session_create(const hst_model *m, hst_pool *pool, hst_error *err);
void hst_session_free(hst_session *s);
/* Forget all tokens (t = 0); keeps buffers and the mode. */
void hst_session_reset(hst_session *s);
/* The mode the next forward calls run in; HST_MODE_CAUSAL after create.
 * Allowed at any token boundary: the session keeps the ids of every token
 * it processed and rebuilds its state in the new mode by processing that
 * history again (one prefill of hst_session_pos() tokens, at the new mode's
 * prefill cost; nothing for Cores A and B, whose modes are the same
 * computation). The rebuild overwrites the last call's section figures. On
 * failure the session is reset (position 0) in the new mode. */
int hst_session_set_mode(hst_session *s, hst_mode mode, hst_error *err);
hst_mode hst_session_mode(const hst_session *s);
/* Use another pool (thread count change at a token boundary). */
void hst_session_set_pool(hst_session *s, hst_pool *pool);
/* The kernel this session's forward passes run with (hst_kernel_default()
 * at creation). Returns the kernel in use, or -1 (unchanged) when the CPU
 * cannot run k. */
int hst_session_set_kernel(hst_session *s, hst_kernel k);
hst_kernel hst_session_kernel(const hst_session *s);
int hst_session_pos(const hst_session *s);         /* tokens processed so far */
const hst_config *hst_session_config(const hst_session *s);
const hst_model *hst_session_model(const hst_session *s);
uint64_t hst_session_kv_bytes(const hst_session *s); /* decode state allocation (hst_decode_state_bytes) */

/* The bytes the last successful hst_forward call read, by spec 11's count
 * (hst_bytes_decode for one token after position 0, hst_bytes_prefill of
 * the positions so far otherwise) with the weights stored in bf16 or int8
 * (hst_model_set_precision) at the size they are stored in, scales
 * included; 0 before any call. */
double hst_session_last_bytes(const hst_session *s);

/* Process n >= 1 tokens at positions pos..pos+n-1 (a prefill when pos = 0,
 * a decode step when n = 1) in the session's mode. Writes logits for every
 * row ([n, V]) when all_logits, else only for the last row ([V]). logits may
 * be NULL. Errors: id outside the vocabulary, "context full" (pos + n >
 * Lmax), an arch whose core this build does not implement. */
int hst_forward(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err);

/* ---- per-section timers (spec 10) --------------------------------------- */

/* The core's sections (spec 10; 12.C.7, 12.D.7, 12.E.6), e.g. for Cores A
 * and B: embed, bottom.0..Lb-1, lattice, top.0..Lt-1, head. */
int hst_session_section_count(const hst_session *s);
const char *hst_session_section_name(const hst_session *s, int i);
/* Off by default; when off the forward pass reads no clock. */
void hst_session_set_timing(hst_session *s, int on);
/* Nanoseconds per section of the most recent hst_forward call. */
void hst_session_last_section_ns(const hst_session *s, uint64_t *ns_out);
/* FLOPs (spec 11) per section of the most recent call. */
void hst_session_last_section_flops(const hst_session *s, double *flops_out);

/* ---- sampling ----------------------------------------------------------- */

typedef struct {
    float temperature; /* <= 0: greedy */
    int top_k;         /* <= 0: whole vocabulary */
    uint64_t rng[4];   /* xoshiro256** state */
} hst_sampler;

void hst_sampler_init(hst_sampler *smp, float temperature, int top_k, uint64_t seed);
/* Greedy: arg-max, lowest index on ties (spec 4.5). */
int hst_argmax(const float *logits, int n);
int hst_sample(hst_sampler *smp, const float *logits, int n);

/* ---- quality hash ------------------------------------------------------- */

#define HST_QUALITY_TOKENS 32
#define HST_QUALITY_PROMPT "The harmonic spine carries the lattice."
/* FNV-1a 64 over the ids as 4-byte little-endian integers. */
uint64_t hst_tokens_hash(const int *ids, int n);
/* 32 greedy tokens after HST_QUALITY_PROMPT (as byte ids), hashed; the
 * tokens are written to first_tokens[0..31] when it is not NULL. Uses (and
 * resets) the session. */
int hst_quality_hash(hst_session *s, uint64_t *hash, int *first_tokens, hst_error *err);

/* ---- deterministic random numbers (spec 8) ------------------------------ */

void hst_rng_seed(uint64_t state[4], uint64_t seed); /* splitmix64 -> xoshiro256** */
uint64_t hst_rng_next(uint64_t state[4]);
double hst_rng_uniform(uint64_t state[4]);            /* [0, 1) */

/* GFLOP/s of the engine's own matmul kernel on an [M,K]x[K,N] product run on
 * pool, best of reps repetitions (for `hstprof ceilings`). <= 0 on error. */
double hst_matmul_gflops(hst_pool *pool, int M, int N, int K, int reps);

/* Monotonic nanoseconds (CLOCK_MONOTONIC). */
uint64_t hst_now_ns(void);

#endif
