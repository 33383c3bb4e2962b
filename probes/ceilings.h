/* ceilings.h — this machine's bandwidth and compute ceilings, cached per
 * machine, and where a run stands against them (the roofline). */
#ifndef PROBES_CEILINGS_H
#define PROBES_CEILINGS_H

#include "probes/probes.h"

/* ---- ceilings and roofline --------------------------------------------------
 * Measured per thread count:
 *   triad_bytes_per_s   STREAM triad a[i] = b[i] + s*c[i] over arrays larger
 *                       than the L3; counts 24 bytes per element (two reads,
 *                       one write, as STREAM does: no write-allocate traffic).
 *   fma_flops_per_s     register-only FP32 FMA loop with independent
 *                       accumulators, best ISA at run time (fma_isa), all
 *                       threads at once; each thread's rate is timed on its
 *                       own CPU clock (time-sharing with other processes
 *                       does not lower it), and the rates are summed.
 *   matmul_flops_per_s  the engine's own kernel (hst_matmul_gflops).
 * Cached in $XDG_CACHE_HOME/hstprof/ceilings-<machine key>.json
 * (default ~/.cache), keyed by CPU model, PU count and kernel release. */

#define PROBES_MAX_CEILING_ROWS 16

typedef struct {
    int threads;
    probes_metric triad_bytes_per_s;
    probes_metric fma_flops_per_s;
    probes_metric matmul_flops_per_s;
} probes_ceiling_row;

typedef struct {
    char machine_key[256];
    char cpu_model[128];
    int pu_count;
    char kernel[96];
    char fma_isa[16];        /* "avx512", "avx2", "sse" */
    uint64_t triad_array_bytes; /* size of each of the three arrays */
    int64_t measured_unix_s;
    int n_rows;
    probes_ceiling_row rows[PROBES_MAX_CEILING_ROWS];
} probes_ceilings;

typedef struct {
    uint64_t triad_array_bytes; /* 0: 4 x L3, between 64 and 256 MiB */
    double fma_seconds;         /* 0: 0.05 s per repetition (best of 8) */
    int max_threads;            /* 0: the PU count */
    int skip_matmul;            /* 1: no engine kernel (row figure invalid) */
} probes_ceiling_opts;

/* The key and cache file of this machine. */
void probes_machine_key(char *buf, size_t len);
int probes_ceilings_cache_path(char *buf, size_t len, char *err, size_t err_len);

/* Takes a few seconds; opts may be NULL. 0 ok, -1 with err. */
int probes_ceilings_measure(const probes_ceiling_opts *opts, probes_ceilings *out, char *err, size_t err_len);

/* The same measurement in steps, one figure for one thread count each
 * (triad, FMA, matmul for the first thread count, then the next), so that a
 * caller can spread it out: the dashboard runs one step at a time, in a
 * child process, between stretches of generation. */
typedef struct {
    probes_ceilings result;   /* identity and thread counts; each figure once its step ran */
    probes_ceiling_opts opts;
    int n_steps;
} probes_ceiling_plan;

/* opts may be NULL. 0 ok, -1 with err. */
int probes_ceilings_plan(const probes_ceiling_opts *opts, probes_ceiling_plan *plan, char *err, size_t err_len);
/* "triad, 2 threads". */
void probes_ceilings_step_name(const probes_ceiling_plan *plan, int step, char *buf, size_t len);
/* Measures step 0..n_steps-1 in this process (the FMA step calibrates its
 * loop first) and returns its figure; probes_ceilings_set_step stores it. */
probes_metric probes_ceilings_run_step(const probes_ceiling_plan *plan, int step);
void probes_ceilings_set_step(probes_ceiling_plan *plan, int step, const probes_metric *m);
/* probes_ceilings_run_step in a child process, so that its arrays never
 * count in this process's memory; *stop (may be NULL) becoming non-zero
 * kills the child at once. 0: *out is the step's figure; 1: the child could
 * not start or ended without one (*out says why); -1: stopped. */
int probes_ceilings_run_step_in_child(const probes_ceiling_plan *plan, int step, _Atomic int *stop,
                                      probes_metric *out);
/* JSON file I/O; save is atomic (temp file + rename) and creates the directory. */
int probes_ceilings_save(const char *path, const probes_ceilings *c, char *err, size_t err_len);
int probes_ceilings_load(const char *path, probes_ceilings *out, char *err, size_t err_len);
/* Cached ceilings of this machine, or a fresh measurement (then cached).
 * *source = "cached" or "measured". */
int probes_ceilings_load_or_measure(probes_ceilings *out, const char **source, char *err, size_t err_len);

typedef struct {
    int ceiling_threads;            /* the row used (largest <= threads) */
    probes_metric achieved_bytes_per_s;
    probes_metric achieved_flops_per_s;
    probes_metric arithmetic_intensity_flops_per_byte;
    probes_metric bandwidth_pct;    /* of triad_bytes_per_s */
    probes_metric fma_pct;          /* of fma_flops_per_s */
    probes_metric matmul_pct;       /* of matmul_flops_per_s */
    probes_metric roofline_pct;     /* of min(fma peak, intensity * triad) */
    const char *bound;              /* "memory", "compute" or "unknown" */
} probes_roofline;

/* bytes and flops done in elapsed_ns by a run on `threads` threads. */
probes_roofline probes_roofline_point(const probes_ceilings *c, int threads, double bytes, double flops,
                                      uint64_t elapsed_ns);

#endif
