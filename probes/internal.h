/* internal.h — shared between the .c files of probes/ and the probes tests only.
 * The module's interface is its public headers (probes.h lists them); nothing
 * else includes this. */
#ifndef PROBES_INTERNAL_H
#define PROBES_INTERNAL_H

#include "engine/hst.h" /* hst_now_ns: the one clock */
#include "probes/ceilings.h"
#include "probes/counters.h"
#include "probes/topo.h"

#include <linux/perf_event.h>
#include <sys/types.h>

void probes_set_why(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- machine facts (machine.c) ------------------------------------------ */

typedef struct {
    int hypervisor;      /* "hypervisor" flag in /proc/cpuinfo */
    int cpu_pmu_present; /* /sys/bus/event_source/devices/cpu (or cpu_core/cpu_atom) */
    int paranoid;        /* /proc/sys/kernel/perf_event_paranoid; -100 when unreadable */
} probes_machine_facts;

probes_machine_facts probes_machine_facts_get(void);
/* Tests: replace the facts (NULL: read the machine again). */
void probes_test_set_machine_facts(const probes_machine_facts *facts);

/* Why an event could not be opened, phrased as this module reports it
 * everywhere (perf_event, fake, PAPI): e.g. ENOENT for a hardware event in
 * a VM without a PMU -> "hardware counters unavailable: no PMU in this
 * virtual machine". user_only_tried: the EACCES retry already happened. */
void probes_reason_for_errno(int err, int is_hardware, int user_only_tried, const probes_machine_facts *f,
                             char *why, size_t len);
/* "ENOENT" -> ENOENT; 0 when unknown. */
int probes_errno_from_name(const char *name);

/* ---- counter sets -------------------------------------------------------- */

typedef struct probes_backend probes_backend;

typedef struct {
    char name[PROBES_NAME_MAX];
    char canonical[PROBES_NAME_MAX]; /* "perf::cycles:u" -> "cycles", for derived metrics */
    int group;
    int is_software;
    int countable;
    char why_not[PROBES_WHY_MAX];
    char note[PROBES_NOTE_MAX];
} probes_event;

typedef struct {
    const probes_backend *backend;
    int first, n; /* events[first .. first + n - 1] */
    int explicit_group; /* written with braces */
    void *state;  /* the backend's */
    /* Set by the backend's read when it fails: where, e.g. "on thread 4321". */
    char read_detail[PROBES_WHY_MAX / 2];
    /* Lost mid-run (a read failed): closed, never read again, and why. */
    int lost;
    char lost_why[PROBES_WHY_MAX];
    /* Reads in a row whose enabled time advanced but running time did not
     * (its counters taken by another user): since when, and how much
     * enabled time; the last such stretch long enough to report. */
    uint64_t stall_start_ns, stall_enabled_ns;
    char stall_note[PROBES_WHY_MAX];
} probes_group;

typedef struct probes_fake_script probes_fake_script;

struct probes_counters {
    int n_events;
    probes_event events[PROBES_MAX_EVENTS];
    int n_groups;
    probes_group groups[PROBES_MAX_EVENTS];
    int n_tids;
    int *tids; /* 0 = the calling thread */
    probes_fake_script *fake;
    uint64_t opened_ns;             /* when counting started, for "lost mid-run at 12.3 s" */
    int have_last;                  /* last: the previous read, to see stalls */
    probes_counter_snapshot last;
    char summary_note[PROBES_WHY_MAX + 64]; /* e.g. why PAPI was not used; heads the summary */
    char summary[1024];
};

/* What a backend's read gave for one event: PROBES_READ_OK, another of
 * these, or a positive errno when read() failed with it. Any value but OK
 * and SKIPPED loses the event's whole group (counters.c). */
enum {
    PROBES_READ_OK = 0,
    PROBES_READ_SKIPPED = -1, /* not read: the event does not count, or was missing from the group read */
    PROBES_READ_EOF = -2,     /* read() returned 0 bytes: the kernel put the group in error state */
    PROBES_READ_SHORT = -3,   /* read() returned less than one group record */
};

/* A counter backend: a const table, one instance per kind (papi.c,
 * perf.c (perf_event and software), fake.c). */
struct probes_backend {
    const char *name;
    /* Opens the group on every thread; marks each event countable or sets
     * why_not. -1 with err only for bad input (unknown event name). */
    int (*open)(probes_counters *set, probes_group *g, char *err, size_t err_len);
    /* Resets and enables: counting starts. */
    void (*start)(probes_counters *set, probes_group *g);
    /* Cumulative counts since start of every event of the group, summed over
     * threads; status[i] says whether event i was read (PROBES_READ_*, or
     * the errno of a failed read(), with g->read_detail saying where).
     * Indexes are group-local. Only maps the outcome: what a failure means
     * (the group is lost) is decided in counters.c, for every backend. */
    void (*read)(probes_counters *set, probes_group *g, int *status, uint64_t *raw, uint64_t *enabled_ns,
                 uint64_t *running_ns);
    /* Releases the group (its fds); g->state NULL afterwards. Also called
     * for a group lost mid-run, and again at close (then a no-op). */
    void (*close)(probes_counters *set, probes_group *g);
    /* 0 when the backend can count on this machine; else 1 and why. */
    int (*describe_unavailable)(char *why, size_t len);
};

extern const probes_backend probes_backend_perf;     /* hardware, libpfm4 */
extern const probes_backend probes_backend_software; /* software perf_event */
extern const probes_backend probes_backend_papi;
extern const probes_backend probes_backend_fake;

/* Software event names (with perf's aliases): 1 and the config when known. */
int probes_software_event(const char *name, uint64_t *config);

/* The group's events as a perf-style event list, for messages. */
void probes_group_names(const probes_counters *set, const probes_group *g, char *buf, size_t len);

/* ---- perf_event seams (perf.c) ------------------------------------------ */

typedef int (*probes_perf_open_fn)(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                                   unsigned long flags);
/* Tests: replace perf_event_open (NULL: the real syscall). */
void probes_test_set_perf_open(probes_perf_open_fn fn);

/* libpfm4: initialised once, lazily. 0 ok, else why. */
int probes_pfm_init(char *why, size_t len);

/* ---- PAPI seams (papi.c) -------------------------------------------------- */

/* Tests: pretend PAPI is available (1) or not (0, with why); -1 undoes it. */
void probes_test_set_papi_status(int available, const char *why);
/* PAPI version and counters of its perf_event component, for `events`. */
void probes_papi_describe(char *buf, size_t len);

/* ---- fake scripts (fake.c) ---------------------------------------------- */

probes_fake_script *probes_fake_script_load(const char *path, char *err, size_t err_len);
probes_fake_script *probes_fake_script_parse(const char *text, char *err, size_t err_len);
void probes_fake_script_free(probes_fake_script *s);
/* The script's events as an event list ("{a,b},{c}"), for events == NULL. */
void probes_fake_script_events(const probes_fake_script *s, char *buf, size_t len);

/* ---- single-event checks (for `hstprof events`) -------------------------- */

/* Opens name alone on the calling thread with the named backend ("perf",
 * "software", "papi", "fake"); countable or why not; note gets any note. */
probes_metric probes_check_event(const char *backend, const char *name, char *note, size_t note_len);

/* ---- affinity (affinity.c) ---------------------------------------------- */

/* Parses "0,2,4-7" into pus (at most max entries). -1 with err. */
int probes_parse_pu_list(const char *spec, int *pus, int max, int *n, char *err, size_t err_len);

/* ---- the loops ceilings time (ceiling_loops.c) ---------------------------- */

/* FMA throughput loop on the calling thread; returns FLOPs done. */
double probes_fma_loop(uint64_t iterations);
const char *probes_fma_isa(void);
/* FLOPs per iteration of probes_fma_loop. */
double probes_fma_flops_per_iteration(void);
void probes_triad(double *a, const double *b, const double *c, double s, size_t n);
/* Reads p[0..n-1] once, with the widest loads the CPU has. */
void probes_read_loop(const float *p, size_t n);

/* ---- what ceilings measure with (ceilings.c, ceiling_levels.c) ------------- */

/* Runs work(ctx, index, n) on n threads bound by affinity (may be NULL),
 * reps times between barriers; the best wall time, 0 when the threads
 * could not start. */
typedef void (*probes_team_work_fn)(void *ctx, int index, int n_threads);
uint64_t probes_team_run(int n, probes_affinity *affinity, probes_team_work_fn work, void *ctx, int reps);
/* Thread index's share [lo, hi) of n items. */
void probes_team_slice(size_t n, int index, int n_threads, size_t *lo, size_t *hi);
/* The memory levels of topo (may be NULL: DRAM only) and the machine's
 * memory, into c->levels, c->n_levels and c->memory_bytes. */
void probes_ceilings_levels_from_topo(const probes_topo *topo, probes_ceilings *c);
/* Each cache level's size checks: its halves down to twice the level before. */
void probes_ceilings_plan_checks(probes_ceilings *c, uint64_t read_set_max);
/* The best read rate of set_bytes on n threads, each reading its share. */
probes_metric probes_measure_read(int n, probes_affinity *affinity, uint64_t set_bytes);

#endif
