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

#include "engine/hst.h"

#include <jansson.h>
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
 *
 * Faults mid-run (issue 7) never stop the caller, and are decided here for
 * every backend alike (a backend only reports how each read went):
 *   - a read that fails (EIO, ENODEV when the PMU or CPU goes away, ...),
 *     returns 0 bytes (the kernel put the group in error state) or less
 *     than a record loses the event's whole group: its fds are closed at
 *     once, it is never read again, and its events become uncountable,
 *     "lost mid-run at 12.3 s: read failed: No such device (ENODEV) on
 *     thread 4321" (seconds since the set was opened). The other groups
 *     (the software group, typically) go on counting. Windows read before
 *     the loss keep their values; any window that reaches past it is
 *     invalid with that reason, never a delta of garbage.
 *   - a counter taken by another user (NMI watchdog, another perf session,
 *     the VM host) keeps its enabled time but gets no running time: each
 *     such window is "not counted: multiplexed out", and once a stretch
 *     reaches 1 s of enabled time per measured thread the summary says
 *     "..., but no PMU time since 2.0 s (...)", then "from 2.0 s to 6.0 s"
 *     when the group runs again.
 *   - opening (or reopening, e.g. the dashboard on a thread change, beside
 *     the set still open) at the fd limit: the events that did not open are
 *     invalid, "too many open files (EMFILE): ... raise ulimit -n, ...".
 *   probes_counters_summary(), probes_counters_any_counting() and
 *   probes_counters_event() always tell the current state.
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
 * Faults mid-run, by read index: the N-th read of the set, counting from 0
 * (read 0 is the one that starts counting; `hstprof run` reads at 0, after
 * the prefill at 1 and after decoding at 2, or once per token with --trace;
 * the dashboard reads before and after every token):
 *   fail <event> <read_index> <ERRNO>
 *        that read fails with errno ERRNO (any name the C library knows:
 *        ENODEV, EIO, EBADF, ...): the event's group is lost (above).
 *   eof <event> <read_index>
 *        that read returns 0 bytes (a group in error state): lost likewise.
 *   stolen <event> <from_read> <to_read>
 *        from that read to that one (inclusive) the event's count and running
 *        time stand still while its enabled time advances by its steps.
 * Numbers are decimal, non-negative, without sign; a malformed line is
 * refused with one line naming it: "<file>:<line>: <what is wrong>".
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
 * this virtual machine); group 1 (software): 4 of 4 counting". As of the
 * last read: a group lost or starved mid-run says so (see Faults above);
 * only probes_counters_read changes it, so read it on the reading thread. */
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

/* ---- the PU budget: more threads than PUs is a bad setting (issue 7) -------
 * Threads that share a PU take turns: their timings say nothing about how
 * the engine scales. run, bench, layerbench and the dashboard refuse it
 * unless --oversubscribe is given. The budget is the PUs this process may
 * run on (sched_getaffinity: taskset or a cgroup cpuset can make it smaller
 * than the machine), not the machine's PU count. */
typedef struct {
    int allowed; /* PUs in this process's allowed CPU set */
    int machine; /* PUs online in the machine */
} probes_pu_budget;

/* The budget of the calling process (at least 1 PU each). */
probes_pu_budget probes_pu_budget_get(void);
/* 1 when n_threads threads each get a PU of their own within the budget;
 * else 0 and why says how many PUs there are, e.g. "this machine has 2 PUs"
 * or "only 1 of this machine's 2 PUs is allowed to this process". */
int probes_threads_fit(int n_threads, probes_pu_budget b, char *why, size_t why_len);
/* Every placement check a command can make before it loads a model:
 * threads within 1..PROBES_MAX_THREADS, affinity a policy or a PU list
 * whose PUs exist on this machine (the empty string is refused), and,
 * unless oversubscribe, no two threads sharing a PU (more threads than the
 * budget, or than the distinct PUs of an affinity list). */
typedef struct {
    int threads;
    const char *threads_what;  /* how the user set it: "--threads 3", "x.ini:4: threads = 8" */
    const char *affinity;      /* none|compact|scatter|LIST */
    const char *affinity_what; /* "x.ini:5: affinity = 0,7"; NULL: "--affinity <affinity>" */
    int oversubscribe;         /* --oversubscribe: threads may share PUs */
} probes_placement;
/* 0 ok; -1 with one line in why (no command prefix), e.g. "--threads 3:
 * this machine has 2 PUs, so threads would share PUs and timings would not
 * scale; add --oversubscribe to run anyway". *shared (may be NULL) is set
 * to 1 when oversubscribe let threads share PUs. */
int probes_check_placement(const probes_placement *p, int *shared, char *why, size_t why_len);

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

/* ---- commands (argv[0] is the command name) -----------------------------
 * Exit status: 0 ok, 1 run-time error, 2 bad usage; errors are one line. */
int probes_cmd_events(int argc, char **argv);
int probes_cmd_topo(int argc, char **argv);
int probes_cmd_ceilings(int argc, char **argv);
/* SIGINT/SIGTERM/SIGHUP for the headless commands: the handler records the
 * signal; probes_interrupted() returns it (0: none) for checks at token and
 * run boundaries; probes_interrupt_exit_status() prints one line and returns
 * 128 + signal. */
void probes_interrupt_install(void);
int probes_interrupted(void);
int probes_interrupt_exit_status(const char *command);
int probes_cmd_run(int argc, char **argv);
int probes_cmd_bench(int argc, char **argv);
int probes_cmd_layerbench(int argc, char **argv);
/* `hstprof model init|info` (argv[0] = "model"); returns the exit status. */
int probes_cmd_model(int argc, char **argv);

/* ==== statistics over samples ==== */
/* stats.h — statistics over samples (to be folded into probes/probes.h). */


typedef struct {
    size_t n;
    double min, max, mean, stddev; /* stddev: sample (n - 1) */
    double median, p50, p95, p99;
} sample_summary;

/* Percentile q in [0, 100] of sorted values, linear between closest ranks
 * (the definition numpy and most benchmark tools use). */
double stats_percentile_sorted(const double *sorted, size_t n, double q);
/* Summary of n values (copied and sorted internally; values untouched).
 * Returns 0, or -1 when n == 0 or out of memory (summary zeroed). */
int stats_summarize(const double *values, size_t n, sample_summary *out);

/* ---- latency histogram ------------------------------------------------------------------
 * Log-bucketed (each bucket 1% wide, 100 ns .. 1000 s): O(1) per token, so
 * percentiles cover every token of a segment however long it runs; a
 * percentile is exact to within 1%. */
#define LIVE_HIST_BUCKETS 2400
typedef struct {
    uint64_t n;
    double min_ns, max_ns, sum_ns;
    uint32_t counts[LIVE_HIST_BUCKETS];
} live_histogram;

void live_hist_add(live_histogram *h, double ns);
double live_hist_percentile(const live_histogram *h, double q); /* q in [0,100]; NAN when empty */

/* ==== the measured run loop (run, bench) ==== */
/* runner.h — the measured generation loop (to be folded into probes/probes.h). */


typedef struct {
    const char *model;    /* preset or file */
    uint64_t seed;
    int threads;
    const char *kernel;   /* auto|avx512|avx2|portable */
    const int *prompt;
    int n_prompt;
    int n_tokens;
    float temperature;    /* <= 0: greedy */
    int top_k;
    int keep_prefill_logits;
    int progress;         /* live one-line progress on stderr (when a terminal) */
    const char *affinity; /* none|compact|scatter|LIST */
    const char *events;   /* counter events; NULL = the default set, "none" = no counters */
    int no_probes;        /* 1: no counters, no memory sampling (overhead baseline) */
    int strict_weights;   /* 1: a file with NaN/Inf weights is an error, not a warning (issue 7) */
    /* issue 5 (exports) */
    int trace;             /* 1: record a per-token trace (section timers on) */
    const char *precision; /* as the profile or flag named it; NULL: "f32" */
    /* issue 7: a soak run. duration_s > 0: generate until that much time has
     * passed (n_tokens > 0 still caps the tokens). Whenever the context is
     * full the session restarts from the prompt (a new "cycle"), so a run can
     * last hours on a 512-position model; the prompt re-prefills are timed
     * apart from the decode steps. Memory stays bounded: latencies go to a
     * log-bucketed histogram, only the last cycle's tokens are kept, and no
     * trace is allowed. */
    double duration_s;
} run_request;

/* ---- issue 7: what a soak run (--duration) keeps, in bounded memory ---------- */
#define RUN_RSS_POINTS 120 /* RSS timeline; halved (every other point dropped) when full */
typedef struct {
    int active;
    double duration_s;             /* requested */
    uint64_t cycles;               /* prompt prefills: 1 + restarts */
    double restart_prefill_ms;     /* the restarts' prefills (not in decode_ms) */
    int cycles_identical;          /* greedy: every full cycle produced the first cycle's tokens */
    uint64_t cycles_compared;
    live_histogram latency_ns;     /* every decode step */
    double latency_m2;             /* Welford, for the standard deviation */
    double latency_mean_ns;
    int rss_points;
    double rss_interval_s;         /* spacing of the timeline's points now: 1% of --duration... */
    int64_t rss_interval_tokens;   /* ...or of -n's tokens when -n caps the run (0: no cap) */
    int64_t rss_last_tokens;       /* tokens at the last point */
    double rss_t_s[RUN_RSS_POINTS];
    double rss_bytes[RUN_RSS_POINTS];
    double warmup_s;               /* RSS before this is warm-up: the first cycle and at least 10% of
                                    * the run (of --duration, at most 60 s, or of -n's tokens when -n
                                    * caps it, whichever comes first); once over, when it ended */
    int64_t warmup_tokens;         /* 10% of -n (0: no cap) */
    double rss_after_warmup_bytes; /* first sample at or after warmup_s; 0 until then */
    double rss_max_after_warmup_bytes;
    double rss_end_bytes;
    int *first_cycle;              /* [max_seq_len]: the first cycle's tokens, to compare */
    int first_cycle_len;
} run_soak;

/* ---- issue 5: the per-token trace (probes/runner_report.c) --------------------
 * Sized before the loop (one prefill row + one row per decode step); nothing
 * is allocated per token. */
typedef struct {
    int enabled;
    int capacity, n_rows;
    int n_sections, n_counters;
    int *position, *tokens_processed, *token_id;  /* token_id -1: none (-n 0) */
    uint64_t *time_ns, *latency_ns;               /* time: since the prefill started */
    uint64_t *section_ns;                         /* [capacity * n_sections] */
    double *counter_delta;                        /* [capacity * n_counters]; NAN: not counted */
    uint64_t start_ns;
    probes_counter_snapshot last;                 /* the previous read, for deltas */
} run_trace;

typedef struct {
    hst_model *model;
    hst_pool *pool;
    hst_session *session;
    hst_config config;
    hst_counts counts;
    char model_name[256], preset[32], source[512], kernel[16];
    int threads;
    int prompt_len;
    int kept_all_logits;
    double prefill_ms, prefill_tok_per_s, prefill_gflops_per_s;
    int64_t decode_steps;
    double decode_ms, decode_tok_per_s, decode_gflops_per_s;
    double decode_flops, decode_bytes; /* spec 11, summed over the decode steps */
    double ttft_ms;
    double *latencies_ms; /* [decode_steps]; NULL in a soak run (soak.latency_ns instead) */
    sample_summary latency;
    int *generated;       /* a soak run: the last cycle's tokens only */
    int n_generated;
    int64_t tokens_total; /* every generated token (soak runs: all cycles) */
    uint64_t wall_start_ns; /* CLOCK_MONOTONIC when the prefill started */
    run_soak soak;
    float *prefill_logits; /* [prompt_len, vocab] when kept */
    double peak_rss_bytes, kv_cache_bytes;
    /* probes */
    probes_topo *topo;
    probes_affinity *affinity;
    probes_counters *counters;
    char affinity_policy[32];
    char counters_summary[512];
    int have_counters;
    probes_counter_window prefill_counters, decode_counters;
    int have_memory;
    probes_memory_report memory;
    probes_ceilings ceilings;
    int have_ceilings;
    char ceilings_why[200];
    probes_roofline prefill_roofline, decode_roofline;
    uint64_t quality_hash;
    int quality_tokens[HST_QUALITY_TOKENS];
    /* issue 5 (exports): what reports need beyond the summary */
    double load_ms;        /* hst_model_open: file read or random initialisation */
    double wall_ms;        /* prefill start to the last generated token */
    uint64_t seed;
    double temperature;
    int top_k, tokens_requested;
    char events_requested[256], precision[16];
    run_trace trace;
} run_result;

/* --kernel NAME: selects it, writes the kernel in use to chosen. 0 ok, 2 bad
 * name or unsupported ISA (one line printed). */
int runner_select_kernel(const char *name, char *chosen, size_t size);

/* Loads the model and creates the pool and session. 0 ok; 1 run-time error,
 * 2 bad settings (one line printed on stderr either way). */
int runner_prepare(const run_request *req, run_result *res);
/* Prefill + generation + quality hash. Same return convention. */
int runner_generate(const run_request *req, run_result *res);
void runner_release(run_result *res);
json_t *runner_result_json(const run_result *res);
/* JSON of probe results, shared by run, bench and the dashboard's snapshots:
 * a metric is its value, or null beside "<key>_why_not". */
void probes_metric_put_json(json_t *o, const char *key, const probes_metric *m);
json_t *probes_counter_window_json(const probes_counter_window *w);
json_t *probes_memory_report_json(const probes_memory_report *m);
json_t *probes_roofline_json(const probes_roofline *r);

/* Affinity, counters (prefill and decode windows), memory window, roofline. */
json_t *runner_probes_json(const run_result *res);
void runner_print_probes(FILE *f, const run_result *res);

/* ---- issue 5: report fields and the trace (probes/runner_report.c) ------------ */

/* Copies the request's settings that reports name (seed, sampling, events...). */
void runner_note_request(const run_request *req, run_result *res);
/* Adds to the runner_result_json object what exports read (load_ms, wall_ms,
 * tokens_generated, weight_bytes, seed, precision, batch, sampling,
 * decode_bytes_per_token, quality_tokens, memory_why_not) and turns figures
 * that were not measured (no decode step, no token) into null + "_why_not". */
void runner_add_report_fields(json_t *o, const run_result *res);
/* Allocates the trace for req and turns the section timers on. 0, or 1 (one line printed). */
int runner_trace_begin(const run_request *req, run_result *res);
/* The prefill row (counter delta between the two snapshots when counting). */
void runner_trace_prefill(run_result *res, const probes_counter_snapshot *before, const probes_counter_snapshot *after);
/* One decode row: the step that produced generated[i], begun at t0_ns. */
void runner_trace_decode(run_result *res, int i, uint64_t t0_ns);
void runner_trace_free(run_trace *t);
/* {"sections": [...], "counters": [...], "tokens": [...]}, as export_trace_render reads it. */
json_t *runner_trace_json(const run_result *res);

/* ==== the live engine loop and A/B statistics (the dashboard) ==== */
/* live.h — the live generation loop behind the dashboard (to be folded into
 * probes/probes.h by the lead; everything below is one clearly marked section).
 *
 * ======================== probes: live engine loop ==========================
 *
 * Data flows one way:
 *
 *   live_setting ──> live_engine (its own thread: model, pool, session)
 *                       │ one live_sample per token, SPSC lock-free ring
 *                       v
 *                    live_metrics (its own "probes" thread: statistics per
 *                       │           segment, memory, CPU load, ceilings, A/B)
 *                       v
 *                    live_view (a plain copy; the UI and snapshots read it)
 *
 * Control goes the other way through a small mutex-protected mailbox that the
 * engine thread checks at every token boundary, so a change never lands in
 * the middle of a token. Every change of setting (threads, affinity, model,
 * kernel, a statistics reset, an A/B start or stop) starts a new *segment*:
 * statistics are kept per segment and never mixed.
 */



/* ---- settings ----------------------------------------------------------------- */

#define LIVE_MODEL_MAX 1024

/* What the engine runs; one of these per A/B side. */
typedef struct {
    char model[LIVE_MODEL_MAX]; /* preset name or safetensors path */
    int threads;                /* >= 1 */
    char affinity[256];         /* none|compact|scatter|PU list */
    char kernel[16];            /* auto|avx512|avx2|portable */
    char precision[16];         /* f32|bf16|int8: how the weights are stored (issue 6) */
} live_setting;

/* "4 threads, compact, hst-v4, kernel auto" style one-liner (for A/B labels). */
void live_setting_describe(const live_setting *s, char *buf, size_t len);
/* The single field in which a and b differ, described as "threads 1 vs 2";
 * falls back to both descriptions when several differ. */
void live_setting_difference(const live_setting *a, const live_setting *b, char *buf, size_t len);

/* ---- per-token samples and the SPSC ring ---------------------------------------- */

#define LIVE_MAX_SECTIONS 48     /* sections beyond this are summed into the last */
#define LIVE_SAMPLE_THREADS 32   /* threads whose CPU and load a sample carries */

typedef enum { LIVE_PHASE_PREFILL = 0, LIVE_PHASE_DECODE = 1 } live_phase;

/* What one hst_forward call (one token boundary to the next) did. */
typedef struct {
    uint64_t seq;          /* per engine: every sample produced, pushed or dropped */
    uint32_t segment;
    int32_t ab_side;       /* -1 outside A/B; 0 = A, 1 = B */
    uint32_t ab_round;     /* round of that side, from 0 */
    int32_t round_end;     /* 1 on the last token of an A/B round */
    uint64_t generation;   /* prompt + decode-until-full cycles, from 1 */
    int32_t pos;           /* position of the first token processed */
    int32_t n_tokens;      /* tokens processed (the prompt length for a prefill) */
    int32_t token;         /* id produced (greedy, from the last row's logits) */
    int32_t phase;         /* live_phase */
    uint64_t end_ns;       /* hst_now_ns() after sampling */
    uint64_t latency_ns;   /* forward + sampling */
    double flops, bytes;   /* spec 11 counts for this forward */
    int32_t n_sections;
    uint64_t section_ns[LIVE_MAX_SECTIONS];
    int32_t n_threads;     /* threads of the pool (may exceed LIVE_SAMPLE_THREADS) */
    int16_t thread_cpu[LIVE_SAMPLE_THREADS];       /* CPU each worker last ran on, -1 unknown */
    uint32_t thread_migrations[LIVE_SAMPLE_THREADS]; /* CPU changes between tasks, since creation */
    uint64_t thread_busy_ns[LIVE_SAMPLE_THREADS];  /* cumulative, since the pool was created */
} live_sample;

/* Single producer, single consumer, fixed capacity, lock-free (C11 atomics).
 * When full, push drops the *new* sample and counts it: only the consumer
 * may move the read index, so the producer cannot drop the oldest without a
 * race. A drop means the consumer fell behind; statistics say how many. */
typedef struct live_ring live_ring;

live_ring *live_ring_create(size_t capacity); /* rounded up to a power of two, >= 2 */
void live_ring_free(live_ring *r);
size_t live_ring_capacity(const live_ring *r);
int live_ring_push(live_ring *r, const live_sample *s); /* 0, or -1 when full (counted) */
int live_ring_pop(live_ring *r, live_sample *out);     /* 1 when a sample was taken, 0 empty */
uint64_t live_ring_dropped(const live_ring *r);
size_t live_ring_size(const live_ring *r);             /* samples waiting (approximate) */

/* ---- the engine thread ------------------------------------------------------------ */

typedef struct live_engine live_engine;

typedef struct {
    live_setting setting;
    uint64_t seed;          /* random weights of presets */
    const char *prompt;     /* text (bytes are ids); NULL: HST_QUALITY_PROMPT */
    const char *events;     /* counter events; NULL: probes' default set */
    int no_counters;        /* 1: do not open counters */
    size_t ring_capacity;   /* 0: 4096 */
    int ab_round_tokens;    /* 0: LIVE_AB_ROUND_TOKENS */
    int max_seq_len;        /* > 0: generations restart at this position (tests) */
} live_options;

#define LIVE_AB_ROUND_TOKENS 32

typedef enum {
    LIVE_CMD_PAUSE,
    LIVE_CMD_RESUME,
    LIVE_CMD_SET_THREADS,   /* .threads */
    LIVE_CMD_SET_AFFINITY,  /* .text */
    LIVE_CMD_SET_MODEL,     /* .text */
    LIVE_CMD_SET_KERNEL,    /* .text */
    LIVE_CMD_SET_PRECISION, /* .text */
    LIVE_CMD_RESET_STATS,
    LIVE_CMD_AB_START,      /* .a, .b */
    LIVE_CMD_AB_STOP,
} live_command_kind;

typedef struct {
    live_command_kind kind;
    int threads;
    char text[LIVE_MODEL_MAX];
    live_setting a, b;
} live_command;

typedef enum {
    LIVE_STARTING,   /* loading the first model */
    LIVE_RUNNING,
    LIVE_PAUSED,     /* by the user */
    LIVE_HELD,       /* by the probes thread (e.g. measuring ceilings) */
    LIVE_FAILED,     /* no runnable setting; error says why; commands still work */
    LIVE_STOPPED,
} live_state;

const char *live_state_name(live_state s);

typedef struct {
    live_state state;
    char error[512];        /* last failed command or setting, "" when none */
    char hold_reason[128];
    live_setting setting;   /* the running one (side A during A/B) */
    uint32_t segment;       /* segment of the running setting (side A during A/B) */
    uint64_t generations;   /* of the running setting's session */
    int pos, max_seq_len;
    uint64_t tokens;        /* samples produced since start */
    int ab_active;
    live_setting ab[2];
    uint32_t ab_segment[2];
    uint32_t ab_rounds[2];  /* completed rounds per side */
    int ab_round_tokens;
    int pu_count;           /* of the machine (hwloc) */
    char kernel_in_use[16];
} live_status;

/* Starts the engine thread; it loads the model itself, so this returns at
 * once. NULL with err only when the thread or ring cannot be created. */
live_engine *live_start(const live_options *opts, char *err, size_t err_len);
/* Stops at the next token boundary, joins and frees everything. */
void live_stop(live_engine *e);
/* Queues a command for the next token boundary. 0, or -1 when the mailbox
 * is full (the UI says "busy"). Never waits for the engine. */
int live_send(live_engine *e, const live_command *cmd);
/* Convenience wrappers around live_send. */
int live_send_simple(live_engine *e, live_command_kind kind);
int live_send_threads(live_engine *e, int threads);
int live_send_text(live_engine *e, live_command_kind kind, const char *text);
/* Holds generation (independent of the user's pause); reason shown in the
 * header. Returns once the engine is between tokens when wait is 1. */
void live_hold(live_engine *e, int on, const char *reason, int wait);
void live_get_status(live_engine *e, live_status *out);
live_ring *live_engine_ring(live_engine *e);

/* ---- segments ------------------------------------------------------------------------ */

#define LIVE_MAX_SEGMENTS 64 /* the oldest are forgotten beyond this */

typedef struct {
    uint32_t id;
    int valid;
    int ab_side;                 /* -1, 0, 1 */
    live_setting setting;
    char preset[32], source[LIVE_MODEL_MAX + 32], arch[16], arch_class[32];
    hst_config config;
    hst_counts counts;
    char kernel[16];             /* in use */
    uint64_t kv_cache_bytes;
    int prompt_tokens;
    int n_sections;
    char section_names[LIVE_MAX_SECTIONS][24];
    int threads;
    int thread_pu[LIVE_SAMPLE_THREADS]; /* planned PU per thread, -1 unbound */
    int affinity_wrapped;        /* more threads than PUs: they share */
    char binding_why_not[PROBES_WHY_MAX + 32]; /* first failed binding, "" when all bound */
    uint64_t start_ns, end_ns;   /* end_ns 0 while running */
    /* Counters over the segment's prefills, over its decode tokens, and over
     * the decode tokens since the previous publish (about half a second);
     * published by the engine thread twice a second. */
    int counters_open;
    char counters_summary[512];
    int has_windows;
    uint64_t counters_decode_tokens; /* the decode tokens counters_decode covers */
    probes_counter_window counters_prefill, counters_decode, counters_recent;
} live_segment_info;

/* Copies segment id's description; 0, or -1 when unknown or forgotten. */
int live_get_segment(live_engine *e, uint32_t id, live_segment_info *out);

/* ---- A/B statistics (ab.c) ---------------------------------------------------------------- */

#define AB_MIN_ROUNDS 6        /* pairs needed before any verdict */
#define AB_BOOTSTRAP 2000      /* resamples */
#define AB_SEED 0x5eedab5eedULL

typedef struct {
    int n;                     /* rounds */
    double median;             /* of per-round median tok/s */
    int ci_valid;              /* enough rounds for a 95% interval */
    double ci_lo, ci_hi;
} ab_side_stats;

typedef struct {
    ab_side_stats a, b;
    int pairs;                 /* rounds paired A_i with B_i */
    int ratio_valid;
    double ratio, ratio_lo, ratio_hi; /* median of B_i/A_i over round pairs, 95% bootstrap CI */
    int significant;           /* the CI excludes 1.0 */
    char verdict[128];         /* "B is 1.31x faster (95% CI 1.22-1.40)" ... */
} ab_result;

/* Median of x[0..n-1] (copied; x untouched). NAN when n == 0. */
double ab_median(const double *x, int n);
/* Distribution-free 95% CI of the median from order statistics (binomial
 * with p = 1/2): the widest-needed ranks l..u so that P(X_(l) <= m <= X_(u))
 * >= 0.95. 0 ok; -1 when n is too small for 95% (n < 6). */
int ab_median_ci(const double *x, int n, double *lo, double *hi);
/* Everything above from per-round median tok/s of each side, in round order. */
void ab_compute(const double *a_rounds, int n_a, const double *b_rounds, int n_b, ab_result *out);

/* ---- metrics (the consumer thread) and the view ------------------------------------------ */

#define LIVE_HISTORY 240       /* sparkline points */
#define LIVE_HISTORY_NS 500000000ull /* one point per 0.5 s */
#define LIVE_TEXT_MAX 1024
#define LIVE_MAX_PUS 256
#define LIVE_VIEW_SEGMENTS 32
#define LIVE_AB_MAX_ROUNDS 4096

/* Statistics of one segment as the panels show them. */
typedef struct {
    live_segment_info info;
    uint64_t prefills, prefill_tokens, prefill_ns;
    uint64_t decode_tokens, decode_ns;
    double prefill_flops, prefill_bytes, decode_flops, decode_bytes;
    double prefill_tok_per_s_last, prefill_tok_per_s;      /* last prefill; over all */
    double decode_tok_per_s_now;      /* last second */
    double decode_tok_per_s_smoothed; /* exponential, time constant 5 s */
    double decode_tok_per_s;          /* over the segment */
    double ttft_ms_last, ttft_ms_median;
    int ttft_count;
    double latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_min_ms, latency_max_ms, latency_mean_ms;
    /* per decode token, mean over the segment */
    double section_ms[LIVE_MAX_SECTIONS];
    double section_token_ms;          /* sum of the above */
    /* last second of decode tokens, for rates against the ceilings */
    double recent_decode_ns, recent_decode_flops, recent_decode_bytes;
    int history_len;                  /* oldest first */
    double history_tok_per_s[LIVE_HISTORY];
    int n_threads;
    int thread_cpu[LIVE_SAMPLE_THREADS];
    uint32_t thread_migrations[LIVE_SAMPLE_THREADS];
    double thread_load[LIVE_SAMPLE_THREADS]; /* busy share over the last update, 0..1 */
    int last_pos;
    uint64_t last_generation;
} live_segment_stats;

/* One line per segment in the view's history. */
typedef struct {
    uint32_t id;
    int ab_side;
    live_setting setting;
    uint64_t decode_tokens;
    double decode_tok_per_s, latency_p50_ms, latency_p99_ms, ttft_ms_median;
} live_segment_summary;

typedef struct {
    int os_index, core, package;
    double load;          /* whole-machine busy share from /proc/stat, 0..1; <0 unknown */
} live_pu;

typedef struct {
    uint64_t version;            /* bumped on every publish */
    uint64_t now_ns, start_ns;
    live_status status;
    uint64_t dropped_samples, samples;
    int shown_side;              /* 0 = A (or the only setting), 1 = B */
    int has_current;
    live_segment_stats current;  /* the shown segment */
    /* earlier segments, newest last (summaries of their stats) */
    int n_segments;
    live_segment_summary segments[LIVE_VIEW_SEGMENTS];
    /* A/B */
    int ab_active;
    ab_result ab;
    char ab_label[256];          /* "threads 1 vs 2" */
    /* memory (the whole process, since the dashboard started) */
    probes_memory_report memory;
    double minor_faults_per_s;
    /* ceilings */
    int ceilings_ok;
    int ceilings_done;           /* ceilings_ok and ceilings_state are final */
    char ceilings_state[256];    /* "cached", "measured", "measuring (2 of 6)", or why not */
    probes_ceilings ceilings;
    /* topology */
    int n_pus, n_cores, n_packages;
    uint64_t l3_bytes;
    live_pu pus[LIVE_MAX_PUS];
    /* text of the shown side's current generation, after the prompt */
    char prompt[256];
    uint64_t text_generation;
    int text_prompt_len;         /* the first ids are the prompt */
    int text_len;
    int text[LIVE_TEXT_MAX];
} live_view;

typedef struct live_metrics live_metrics;

typedef struct {
    int no_ceilings;         /* 1: never measure (only load the cache) */
    int update_ms;           /* 0: 100 */
    probes_ceiling_opts ceilings; /* how to measure them when not cached (zeros: as `hstprof ceilings`) */
} live_metrics_options;

/* Starts the probes thread that drains e's ring. */
live_metrics *live_metrics_start(live_engine *e, const live_metrics_options *opts, char *err, size_t err_len);
void live_metrics_stop(live_metrics *m);
/* Bumped whenever a new view is published (something changed, or at
 * least twice a second for the clocks); lets the UI skip redraws. */
uint64_t live_metrics_version(live_metrics *m);
/* Copies the latest view (cheap: no computation under the lock). */
void live_metrics_view(live_metrics *m, live_view *out);
/* Which A/B side the view's per-segment panels show. */
void live_metrics_show_side(live_metrics *m, int side);
/* The statistics of every segment seen so far (for snapshots); returns the
 * count written to out[0..max-1], oldest first. */
int live_metrics_segments(live_metrics *m, live_segment_stats *out, int max);

/* What the snapshot records beyond the view: how the run was set up. */
typedef struct {
    uint64_t seed;
    const char *profile;     /* "" when none */
    const char *events;      /* "" = the default set */
} live_snapshot_setup;

/* The snapshot object of exports/exports.h, in the shape of `hstprof run
 * --format json` (so exports renders it like a run) for the shown segment,
 * plus sections[], bandwidth{}, compute{}, runs[] (one row per segment,
 * oldest first) and ab{}. New reference; NULL when out of memory. */
json_t *live_view_json(const live_view *v, const live_segment_stats *segments, int n_segments,
                       const live_snapshot_setup *setup);

/* ====================== end of probes: live engine loop ===================== */

#endif
