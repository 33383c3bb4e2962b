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
 *   read_bytes_per_s[l] the best read of a working set that fits memory
 *                       level l (a data cache hwloc reports, or DRAM) and
 *                       not the level before: the threads, one per core,
 *                       each read their share of it again and again with the
 *                       widest loads. Bandwidth falls as a working set
 *                       grows, so the smallest set that is past the level
 *                       before gives the fastest read any set served by l
 *                       can have: the ceiling a phase whose working set
 *                       fits l is compared with.
 * Each cache level's size is checked. One that is not larger than the level
 * before, or larger than half the machine's memory, is suspicious and not
 * used: no working set is said to fit it. Else one thread reads half of it,
 * then a quarter, an eighth, a sixteenth (while that is more than twice the
 * level before): when half reads clearly faster than the next level's
 * ceiling, hwloc's size is used; when only a smaller part does, the size is
 * suspicious and that part is what a working set must fit in (a VM may
 * report its host's cache, which it shares); when none does, the level is
 * not used.
 * Cached in $XDG_CACHE_HOME/hstprof/ceilings-<machine key>.json
 * (default ~/.cache), keyed by CPU model, PU count and kernel release. */

#define PROBES_MAX_CEILING_ROWS 16
/* L1d, L2, L3, L4 and DRAM. */
#define PROBES_MAX_MEMORY_LEVELS 5
/* Size checks of a cache: half of it, a quarter, an eighth, a sixteenth. */
#define PROBES_LEVEL_CHECKS 4

typedef struct {
    int threads;
    probes_metric triad_bytes_per_s;
    probes_metric fma_flops_per_s;
    probes_metric matmul_flops_per_s;
    probes_metric read_bytes_per_s[PROBES_MAX_MEMORY_LEVELS]; /* per level, as in probes_ceilings.levels */
} probes_ceiling_row;

typedef struct {
    char name[8];               /* "L1d", "L2", "L3", "L4" or "DRAM" (always the last) */
    uint64_t size_bytes;        /* one instance, as hwloc reports it; 0 for DRAM */
    int instances;              /* of this cache in the machine */
    int cores_per_instance;     /* cores that share one instance */
    /* The size checks (caches only): one thread reading half of one
     * instance, then a quarter, ... */
    int n_checks;
    uint64_t check_set_bytes[PROBES_LEVEL_CHECKS];
    probes_metric check_read_bytes_per_s[PROBES_LEVEL_CHECKS];
    /* Set by probes_ceilings_judge: */
    uint64_t usable_bytes;      /* of one instance, what a working set must fit in; 0: not used */
    int suspicious;
    char suspicious_why[PROBES_WHY_MAX];
} probes_memory_level;

typedef struct {
    char machine_key[256];
    char cpu_model[128];
    int pu_count;
    char kernel[96];
    char fma_isa[16];        /* "avx512", "avx2", "sse" */
    uint64_t triad_array_bytes; /* size of each of the three arrays */
    uint64_t memory_bytes;      /* the machine's memory (a bound for cache sizes); 0 unknown */
    uint64_t read_set_max;      /* the cap the read sets were measured with (0: the default) */
    int64_t measured_unix_s;
    int n_levels;
    probes_memory_level levels[PROBES_MAX_MEMORY_LEVELS];
    int n_rows;
    probes_ceiling_row rows[PROBES_MAX_CEILING_ROWS];
} probes_ceilings;

/* Usable bytes of level l that `threads` threads, placed one per core in
 * topology order, can fill: one instance per cores_per_instance threads;
 * 0 for DRAM (no bound) and for a level that is not used. */
uint64_t probes_level_capacity(const probes_ceilings *c, int l, int threads);
/* The working set level l's read ceiling is measured with on `threads`
 * threads: half the first level; the smaller of twice the level before and
 * half this one; for DRAM twice the largest cache, between 64 MiB and
 * read_set_max (0: 1 GiB). */
uint64_t probes_level_read_set(const probes_ceilings *c, int l, int threads, uint64_t read_set_max);
/* Sets each level's suspicious flag and why from its size and figures;
 * measuring and loading call it. */
void probes_ceilings_judge(probes_ceilings *c);

typedef struct {
    uint64_t triad_array_bytes; /* 0: 4 x L3, between 64 and 256 MiB */
    double fma_seconds;         /* 0: 0.05 s per repetition (best of 8) */
    int max_threads;            /* 0: the PU count */
    int skip_matmul;            /* 1: no engine kernel (row figure invalid) */
    uint64_t read_set_max;      /* 0: 1 GiB; caps every read working set */
} probes_ceiling_opts;

/* The key and cache file of this machine. */
void probes_machine_key(char *buf, size_t len);
int probes_ceilings_cache_path(char *buf, size_t len, char *err, size_t err_len);

/* Takes a few seconds; opts may be NULL. 0 ok, -1 with err. */
int probes_ceilings_measure(const probes_ceiling_opts *opts, probes_ceilings *out, char *err, size_t err_len);

/* The same measurement in steps, one figure each (triad, FMA, matmul and
 * the read of each memory level for the first thread count, then the next;
 * then the size check of each cache level), so that a caller can spread it
 * out: the dashboard runs one step at a time, in a child process, between
 * stretches of generation. */
typedef struct {
    probes_ceilings result;   /* identity, levels and thread counts; each figure once its step ran */
    probes_ceiling_opts opts;
    int steps_per_row;
    int n_checks;
    int check_level[PROBES_MAX_MEMORY_LEVELS * PROBES_LEVEL_CHECKS];
    int check_rung[PROBES_MAX_MEMORY_LEVELS * PROBES_LEVEL_CHECKS];
    int n_steps;
} probes_ceiling_plan;

/* How the cache file is written: atomically, by the writer every output
 * goes through (exports/atomic.h). Probes sit below exports, so the program
 * (hstprof.c, the tests' harness) hands it in once at start; without it a
 * save fails with one line. */
typedef int (*probes_file_writer)(const char *path, const char *data, size_t len, char *err, size_t err_size);
void probes_set_file_writer(probes_file_writer writer);

/* opts may be NULL. 0 ok, -1 with err. */
int probes_ceilings_plan(const probes_ceiling_opts *opts, probes_ceiling_plan *plan, char *err, size_t err_len);
/* "triad, 2 threads", "L2 read, 1 thread", "L3 size check". */
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
    double working_set_bytes;       /* what one step reads; <= 0 unknown */
    char level[8];                  /* the level the working set fits in; "" when none applies */
    probes_metric level_read_bytes_per_s; /* that level's read ceiling, or why none applies */
    probes_metric achieved_bytes_per_s;
    probes_metric achieved_flops_per_s;
    probes_metric arithmetic_intensity_flops_per_byte;
    probes_metric bandwidth_pct;    /* of level_read_bytes_per_s */
    probes_metric fma_pct;          /* of fma_flops_per_s */
    probes_metric matmul_pct;       /* of matmul_flops_per_s */
    probes_metric roofline_pct;     /* of min(fma peak, intensity * level read ceiling) */
    const char *bound;              /* "memory", "compute" or "unknown" */
} probes_roofline;

/* bytes and flops done in elapsed_ns by a run on `threads` threads whose
 * steps each read working_set bytes (hst_bytes_decode/prefill of one step).
 * No share is above 100%: a figure above the ceiling it would be a share of
 * is invalid, saying so. */
probes_roofline probes_roofline_point(const probes_ceilings *c, int threads, double bytes, double flops,
                                      uint64_t elapsed_ns, double working_set);

/* "L3-resident (8.9 MB a step): 67.8 GB/s = 71% of the L3 read ceiling
 * (95.5 GB/s)", or the rate and why no share is given. */
void probes_roofline_bandwidth_text(const probes_roofline *r, char *buf, size_t len);

#endif
