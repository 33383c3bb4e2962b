/* counters.h — hardware and software counters over windows of a run, and
 * what each backend can count on this machine. */
#ifndef PROBES_COUNTERS_H
#define PROBES_COUNTERS_H

#include "probes/probes.h"

#include <stdio.h>

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
 * Faults mid-run never stop the caller, and are decided here for
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
/* Each event's count between two reads, scaled like perf stat (raw *
 * enabled / running); NAN where it was not counted (failed, multiplexed out). */
void probes_counter_deltas(const probes_counter_snapshot *a, const probes_counter_snapshot *b, int n, double *out);

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

/* ---- what each backend can count (`hstprof events`) ---------------------
 * Every event really opened on the calling thread, with why not. */
void probes_events_print_all(FILE *out);
/* The named events (the --events syntax), each with its backend and group.
 * 0, or -1 with one line in err for a bad list. */
int probes_events_print_named(const char *events, FILE *out, char *err, size_t err_len);

#endif
