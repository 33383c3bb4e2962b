/* probes.h — the whole public interface of probes/: what the machine does
 * around the engine. Hardware and software counters, topology and thread
 * placement, memory, and the machine's bandwidth and compute ceilings.
 *
 * The run loop, the dashboard and the headless commands all use it the same
 * way (step by step, for one measured run):
 *
 *   1. placement:  t = probes_topo_load(err, n);
 *                  a = probes_affinity_create(t, "compact", n_threads, err, n);
 *                  pool = hst_pool_create(n_threads, probes_affinity_bind_thread, a, &herr);
 *   2. counters:   for i < n_threads: tids[i] = hst_pool_thread_tid(pool, i);
 *                  c = probes_counters_open(&opts, tids, n_threads, err, n);
 *                  (NULL only for bad input such as an unknown event name;
 *                  events that cannot be counted here stay in the set, each
 *                  with the reason, and probes_counters_summary() says why.)
 *   3. each window (one token, one bench run):
 *                  probes_counters_read(c, &begin);  probes_memory_begin(&mw);
 *                  ... hst_forward ...                probes_memory_sample(&mw) as often as you like
 *                  probes_counters_read(c, &end);    probes_memory_end(&mw, kv_bytes, &mem);
 *                  probes_counters_window(c, &begin, &end, &win);
 *                  Consecutive windows may share a snapshot (end of one = begin of the next).
 *   4. ceilings:   probes_ceilings_load_or_measure(&ceil, &source, err, n) once;
 *                  r = probes_roofline_point(&ceil, n_threads, bytes, flops, elapsed_ns)
 *                  with bytes/flops from hst_bytes_* / hst_flops_*.
 *   5. teardown:   probes_counters_close(c); hst_pool_free(pool);
 *                  probes_affinity_free(a) (restores the calling thread's binding);
 *                  probes_topo_free(t).
 *
 * Every number is a probes_metric: a value, a valid flag and, when invalid,
 * why (one line). Nothing here prints 0 for "unknown".
 */
#ifndef PROBES_H
#define PROBES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- metrics ------------------------------------------------------------- */

#define PROBES_WHY_MAX 200

typedef struct {
    double value;                 /* meaningful only when valid */
    int valid;
    char why_not[PROBES_WHY_MAX]; /* one line, set when !valid */
} probes_metric;

probes_metric probes_metric_of(double value);
probes_metric probes_metric_invalid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- counters -------------------------------------------------------------
 *
 * Backends, chosen per event at run time:
 *   "papi"       PAPI presets (PAPI_TOT_CYC, PAPI_TOT_INS, PAPI_L1_DCM,
 *                PAPI_L2_DCM, PAPI_L3_TCM, PAPI_BR_MSP, any PAPI_* name).
 *   "perf_event" any other name: perf's generic names (cycles, instructions,
 *                LLC-load-misses, cache-misses, branch-misses, ...) or a
 *                native PMU event (e.g. amd64_fam19h_zen4::RETIRED_INSTRUCTIONS),
 *                encoded by libpfm4 and opened with perf_event_open.
 *   "software"   perf_event software events: task-clock, cpu-clock,
 *                page-faults (faults), minor-faults, major-faults,
 *                context-switches (cs), cpu-migrations (migrations).
 *   "fake"       scripted values, for tests (format below).
 *
 * Event list syntax (--events): names separated by commas; braces make a
 * group, e.g. "{cycles,instructions},{LLC-loads,LLC-load-misses},task-clock".
 * Events outside braces are grouped automatically: all hardware events of
 * one backend in one group, all software events in another. A group is
 * scheduled on the PMU as a unit, so its counters share one time slice; a
 * group the PMU cannot hold fails with a reason that says to split it.
 *
 * Default set (events == NULL):
 *   backend "auto" or "perf": perf_event + libpfm4
 *     {cycles,instructions,L1-dcache-load-misses,LLC-load-misses,branch-misses}
 *   backend "papi": the PAPI presets when PAPI has counters and they exist,
 *     {PAPI_TOT_CYC,PAPI_TOT_INS,PAPI_L1_DCM,PAPI_L2_DCM,PAPI_L3_TCM,PAPI_BR_MSP}
 *     else the perf_event set above, and the summary says why PAPI was not used.
 *   backend "software": only the software group.
 *   plus, always, the software group {task-clock,page-faults,context-switches,cpu-migrations}.
 *   When the hardware group cannot count (no PMU, paranoid, ...) its events
 *   stay listed, invalid with the reason, and the software group still counts.
 *   PAPI is initialised only when backend "papi" or a PAPI_* event is asked
 *   for (or by `hstprof events`): "auto" never starts it, so PAPI's own
 *   start-up cannot disturb perf_event use.
 * Refused with EACCES/EPERM while perf_event_paranoid > 1, an event is
 * retried counting user space only, as perf does; its note says so.
 *
 * Scaling, as perf stat does, over the window and summed over threads:
 *   value = raw * time_enabled / time_running; running_share = running / enabled.
 *   time_running == 0 -> invalid, "not counted: multiplexed out".
 * Derived metrics use only counters of one group and one window; otherwise
 * they are invalid with the reason:
 *   ipc                  instructions / cycles
 *   branch_miss_ratio    branch-misses / branches
 *   l1d_miss_ratio       L1-dcache-load-misses / L1-dcache-loads
 *   llc_miss_ratio       LLC-load-misses / LLC-loads (or cache-misses / cache-references,
 *                        PAPI_L3_TCM / PAPI_L3_TCA)
 *   l1d_mpki, l2_mpki, llc_mpki, branch_mpki   misses per 1000 instructions
 *   llc_miss_bytes_per_s LLC misses * 64 bytes / window wall time
 * A derived metric is listed when all its operands are in the event list.
 *
 * Fake backend: with backend "auto" or "fake", HSTPROF_FAKE_COUNTERS=<file>
 * (or opts.fake_script) replaces every backend, so end-to-end tests drive
 * the hardware path on machines without a PMU. The script is text, one directive
 * per line, '#' starts a comment:
 *   <event> <raw> <time_enabled_ns> <time_running_ns>
 *        one read step of that event: how much the counter and its times
 *        advance. The first read of a counter set returns zeros; every later
 *        read advances each event by its next step, cycling back to its
 *        first step after the last. (A window measured with two reads shows
 *        exactly one step.)
 *   group <event>,<event>,...
 *        these events form one group (default: every event in one group).
 *   error <event> <ERRNO>
 *        opening the event fails with that errno (ENOENT, ENODEV, EOPNOTSUPP,
 *        EACCES, EPERM, EMFILE, EINVAL, EBUSY), reported as perf_event would.
 * With events == NULL the script's events are the set, in order of first
 * appearance; named events missing from the script are invalid ("not in
 * the fake script").
 */

#define PROBES_MAX_EVENTS 24
#define PROBES_MAX_DERIVED 12
#define PROBES_NAME_MAX 64
#define PROBES_NOTE_MAX 96

typedef struct probes_counters probes_counters;

typedef struct {
    const char *events;      /* NULL: the default set above */
    const char *backend;     /* NULL or "auto", "papi", "perf", "software", "fake" */
    const char *fake_script; /* NULL: $HSTPROF_FAKE_COUNTERS, when set */
} probes_counter_opts;

/* Opens the counters on each thread id (Linux tids, e.g. from
 * hst_pool_thread_tid) and starts them; counts are summed across threads
 * (one perf_event fd per event per thread: inherit cannot reach threads
 * that already run). opts may be NULL (the default set, backend auto).
 * NULL only on bad input (unknown event, bad syntax, too many events, bad
 * backend name), with one line in err. n_tids == 0 means the calling thread. */
probes_counters *probes_counters_open(const probes_counter_opts *opts, const int *tids, int n_tids,
                                      char *err, size_t err_len);
void probes_counters_close(probes_counters *c);

/* One line: what counts and what does not, per group, e.g. "group 0
 * (perf_event): 0 of 5 counting (hardware counters unavailable: no PMU in
 * this virtual machine); group 1 (software): 4 of 4 counting". */
const char *probes_counters_summary(const probes_counters *c);
/* 1 when at least one event can count. */
int probes_counters_any_counting(const probes_counters *c);

typedef struct {
    char name[PROBES_NAME_MAX];
    char backend[16];   /* "papi", "perf_event", "software", "fake" */
    int group;
    probes_metric countable; /* valid (value 1) when opened; else why not */
    char note[PROBES_NOTE_MAX]; /* e.g. "user space only (perf_event_paranoid=2)" */
} probes_event_info;
int probes_counters_event_count(const probes_counters *c);
void probes_counters_event(const probes_counters *c, int i, probes_event_info *out);

/* Cumulative counts at one instant; cheap enough for every token
 * (one read() per group per thread, ~2 µs for the default set on 2
 * threads). A counter set is read by one thread at a time. */
typedef struct {
    uint64_t t_ns; /* CLOCK_MONOTONIC at the read */
    int n;
    int ok[PROBES_MAX_EVENTS];
    uint64_t raw[PROBES_MAX_EVENTS];
    uint64_t enabled_ns[PROBES_MAX_EVENTS];
    uint64_t running_ns[PROBES_MAX_EVENTS];
} probes_counter_snapshot;

void probes_counters_read(probes_counters *c, probes_counter_snapshot *snap);

typedef struct {
    char name[PROBES_NAME_MAX];
    char backend[16];
    int group;
    uint64_t raw;             /* unscaled count in the window */
    uint64_t time_enabled_ns; /* summed over threads */
    uint64_t time_running_ns;
    probes_metric value;         /* scaled count */
    probes_metric running_share; /* 0..1; perf stat prints it as (xx.xx%) */
    char note[PROBES_NOTE_MAX];
} probes_counter_value;

typedef struct {
    char name[32];  /* "ipc", "llc_mpki", ... (list above) */
    char label[48]; /* "IPC", "LLC misses per 1k instructions", ... */
    probes_metric metric;
} probes_derived_metric;

typedef struct {
    uint64_t window_ns;
    int n_counters;
    probes_counter_value counters[PROBES_MAX_EVENTS];
    int n_derived;
    probes_derived_metric derived[PROBES_MAX_DERIVED];
} probes_counter_window;

void probes_counters_window(const probes_counters *c, const probes_counter_snapshot *begin,
                            const probes_counter_snapshot *end, probes_counter_window *out);
/* The counter or derived metric called name in w, or NULL when absent. */
const probes_metric *probes_window_metric(const probes_counter_window *w, const char *name);

/* As perf stat prints them: "         2,000,000  cycles   (50.00%)" (the
 * running share only when multiplexed), "<not counted>  cycles  <why>",
 * then one line per derived metric. For run/bench summaries. */
void probes_counter_format(const probes_counter_value *v, char *buf, size_t len);
void probes_counter_window_print(const probes_counter_window *w, FILE *out, const char *indent);

/* ---- topology and affinity (hwloc) -------------------------------------- */

#define PROBES_MAX_THREADS 256

typedef struct probes_topo probes_topo;

probes_topo *probes_topo_load(char *err, size_t err_len);
/* A synthetic topology for tests and demos, e.g. "pack:2 l3:2 core:4 pu:2". */
probes_topo *probes_topo_synthetic(const char *description, char *err, size_t err_len);
void probes_topo_free(probes_topo *t);
int probes_topo_pu_count(const probes_topo *t);
int probes_topo_core_count(const probes_topo *t);
/* Total L3 bytes (sum over L3 caches); 0 when unknown. */
uint64_t probes_topo_l3_bytes(const probes_topo *t);

/* Compact lstopo-like text: packages, NUMA nodes, caches with sizes, cores,
 * PUs. thread_cpu[i] (OS index of thread i's CPU, -1 unknown) marks where
 * threads run; thread_cpu may be NULL. */
void probes_topo_print(const probes_topo *t, FILE *out, const int *thread_cpu, int n_threads);

/* Affinity policies (spec string):
 *   none     no binding.
 *   compact  cores in topology order, so the cores under one L3 and one
 *            package fill first; one thread per core on every core before
 *            any SMT sibling is used (siblings share the FMA units and the
 *            engine's kernels saturate them).
 *   scatter  consecutive threads alternate packages, then L3s within a
 *            package, then cores within an L3; SMT siblings again last.
 *   LIST     explicit PU OS indexes, e.g. "0,2,4-7"; thread i gets entry i.
 * More threads than PUs (or list entries): thread i wraps around to entry
 * i mod count, so PUs are shared. */
typedef struct probes_affinity probes_affinity;

/* t must outlive the affinity. NULL with one line in err for a bad policy,
 * a bad list, a PU that does not exist, or n_threads outside 1..PROBES_MAX_THREADS. */
probes_affinity *probes_affinity_create(const probes_topo *t, const char *spec, int n_threads,
                                        char *err, size_t err_len);
/* Restores the binding the thread that ran index 0 had before (call it on
 * that thread, after the pool is freed). */
void probes_affinity_free(probes_affinity *a);
const char *probes_affinity_policy(const probes_affinity *a); /* "none", "compact", ... */
int probes_affinity_threads(const probes_affinity *a);
/* OS index of the PU thread i is bound to; -1 for "none". */
int probes_affinity_pu(const probes_affinity *a, int thread_index);
/* 1 when threads share PUs (more threads than PUs or list entries). */
int probes_affinity_wrapped(const probes_affinity *a);

/* The thread-start callback (hst_thread_start_fn): binds the calling thread
 * with hwloc_set_cpubind(..., HWLOC_CPUBIND_THREAD). user = the affinity. */
void probes_affinity_bind_thread(int thread_index, void *user);
/* Whether thread i's binding succeeded (value 1), or why not. */
probes_metric probes_affinity_binding(const probes_affinity *a, int thread_index);

/* ---- memory ------------------------------------------------------------------
 * RSS and VMS from /proc/self/statm at begin, end and every sample (about
 * 1 µs: one pread); faults from getrusage (the whole process). PSS
 * (/proc/self/smaps_rollup, which walks the page tables) and swap
 * (/proc/vmstat, system-wide) are read at most every 100 ms by the whole
 * process, so windows as short as a token stay cheap, and their PSS and
 * swap figures may be up to 100 ms old. Peaks are the maxima of the samples
 * taken in the window, not the process's lifetime high-water mark (VmHWM),
 * so short spikes between samples can be missed. A window is used by one
 * thread; several windows (a token's, a run's) may be open at once. */

typedef struct { /* filled by probes_memory_begin/sample; read the report */
    uint64_t begin_ns, last_pss_ns;
    uint64_t samples;
    int rss_ok, pss_ok, faults_ok, swap_ok;
    uint64_t rss_bytes, vms_bytes, pss_bytes;
    uint64_t rss_peak_bytes, vms_peak_bytes, pss_peak_bytes;
    uint64_t minflt_begin, majflt_begin;
    uint64_t swap_in_begin_pages, swap_out_begin_pages;
    char why_rss[PROBES_WHY_MAX], why_pss[PROBES_WHY_MAX], why_swap[PROBES_WHY_MAX];
} probes_memory_window;

typedef struct {
    uint64_t window_ns;
    uint64_t samples;
    probes_metric rss_bytes, pss_bytes, vms_bytes;                /* at the end */
    probes_metric rss_peak_bytes, pss_peak_bytes, vms_peak_bytes; /* within the window */
    probes_metric minor_faults, major_faults;                     /* within the window */
    probes_metric swap_in_bytes_system, swap_out_bytes_system;    /* within the window */
    probes_metric kv_cache_bytes;
} probes_memory_report;

void probes_memory_begin(probes_memory_window *w);
void probes_memory_sample(probes_memory_window *w);
/* kv_cache_bytes < 0: unknown (e.g. no session). */
void probes_memory_end(probes_memory_window *w, double kv_cache_bytes, probes_memory_report *out);

/* ---- ceilings and roofline --------------------------------------------------
 * Measured per thread count:
 *   triad_bytes_per_s   STREAM triad a[i] = b[i] + s*c[i] over arrays larger
 *                       than the L3; counts 24 bytes per element (two reads,
 *                       one write, as STREAM does: no write-allocate traffic).
 *   fma_flops_per_s     register-only FP32 FMA loop with independent
 *                       accumulators, best ISA at run time (fma_isa).
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

/* ---- commands (argv[0] is the command name) -----------------------------
 * Exit status: 0 ok, 1 run-time error, 2 bad usage; errors are one line. */
int probes_cmd_events(int argc, char **argv);
int probes_cmd_topo(int argc, char **argv);
int probes_cmd_ceilings(int argc, char **argv);

#endif
