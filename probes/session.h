/* session.h — one measured session: everything `run`, `bench`,
 * `layerbench` and each of the dashboard's live slots measure with, built by
 * one function from one settings struct, in this order:
 *
 *   model (opened, or borrowed) -> its weight precision -> kernel ->
 *   topology -> affinity plan -> pool placed by it -> counters on the pool's
 *   threads -> engine session (with the kernel and the mode) -> cached ceilings
 *
 * and torn down by one function in the reverse order. The kernel is the
 * engine session's (hst_session_set_kernel): two sessions with different
 * kernels run side by side. A window (probes_window_*) is what is measured
 * between two instants of a session: counters, memory, then the roofline.
 * Every failure is one line, and says which part failed, so a command can
 * name its flag. */
#ifndef PROBES_SESSION_H
#define PROBES_SESSION_H

#include "engine/hst.h"
#include "probes/ceilings.h"
#include "probes/counters.h"
#include "probes/memory.h"
#include "probes/topo.h"

/* ---- the one check of each name a session takes ---------------------------
 * 0, or -1 with "<what> must be auto, avx512, avx2 or portable, got 'x'" (and
 * "f32, bf16 or int8" for a precision) in why; what is how the user set it
 * ("--kernel", "kernel" in a profile). */
int probes_check_kernel_name(const char *what, const char *name, char *why, size_t why_len);
int probes_check_precision_name(const char *what, const char *name, char *why, size_t why_len);
/* "<what> must be causal or parity, got 'x'". */
int probes_check_mode_name(const char *what, const char *name, char *why, size_t why_len);
/* The mode as reports name it: "parity" or "causal" where the two differ
 * (Cores C, D, E), else "causal (same as parity for v4)": Cores A and B are
 * causal as written, so both modes are one computation (spec 12.0). */
void probes_mode_label(hst_arch arch, hst_mode mode, char *buf, size_t len);

/* Whether a prompt of n_prompt tokens leaves room to generate on a model
 * whose context is max_seq_len positions, for runs whose context restarts
 * when full (`run --duration`, the dashboard): one position after the prompt
 * is enough. 0, or -1 with "the prompt (N tokens) leaves no room to
 * generate; MODEL has max_seq_len M" in why: both say it in these words. */
int probes_prompt_room(int n_prompt, const char *model, int max_seq_len, char *why, size_t why_len);

typedef struct {
    const char *model;           /* preset or safetensors file; NULL: no model (a pool and a kernel only) */
    uint64_t seed;               /* a preset's random weights */
    int strict_weights;          /* NaN/Inf weights fail the load instead of a warning */
    hst_model *shared_model;     /* used instead of opening model (borrowed: an A/B side's, bench's) */
    const char *precision;       /* f32|bf16|int8 of an opened model; NULL or "": f32 */
    const char *kernel;          /* auto|avx512|avx2|portable; NULL or "": auto */
    const char *mode;            /* causal|parity, set on the engine session; NULL or "": causal */
    int threads;                 /* 1..PROBES_MAX_THREADS */
    const char *affinity;        /* none|compact|scatter|LIST; NULL: none */
    const probes_topo *topo;     /* shared topology; NULL: loaded here when there is one to load */
    const char *events;          /* counter events; NULL or "": the default set */
    const char *counters_off;    /* non-NULL: no counters, and this is their summary */
    int counters_optional;       /* 1: counters that do not open leave the session without (summary why) */
    int load_ceilings;           /* 1: this machine's cached ceilings, or why there are none */
} probes_session_settings;

typedef enum {
    PROBES_PART_NONE,
    PROBES_PART_THREADS,
    PROBES_PART_KERNEL,
    PROBES_PART_PRECISION,
    PROBES_PART_MODE,
    PROBES_PART_MODEL,
    PROBES_PART_TOPOLOGY,
    PROBES_PART_AFFINITY,
    PROBES_PART_POOL,
    PROBES_PART_COUNTERS,
    PROBES_PART_SESSION,
} probes_session_part;

typedef struct {
    hst_model *model;            /* NULL without a model */
    int owns_model;
    double load_ms;              /* opening the model (file read or random init) */
    char warning[600];           /* the model's weights warning ("" none), e.g. NaN/Inf weights */
    hst_kernel kernel;           /* resolved: never AUTO */
    probes_topo *own_topo;       /* loaded here (settings.topo was NULL) */
    const probes_topo *topo;     /* NULL when none could be read and none was needed */
    probes_affinity *affinity;   /* NULL without a topology (policy none) */
    hst_pool *pool;
    probes_counters *counters;   /* NULL when off or not opened */
    char counters_summary[512];
    hst_session *session;        /* NULL without a model */
    int have_ceilings;
    probes_ceilings ceilings;
    char ceilings_why[600];
    probes_session_part failed;  /* what failed, after a failed open */
} probes_session;

/* Opens everything settings name. 0 ok; 2 a bad setting (kernel, precision,
 * mode, threads, affinity, events), 1 a run-time failure (model, topology, pool,
 * memory); then err has one line without a command prefix, s->failed names
 * the part, and the session is closed again (probes_session_close is
 * harmless). */
int probes_session_open(const probes_session_settings *settings, probes_session *s, char *err, size_t err_len);
void probes_session_close(probes_session *s);
/* The line a command prints after "hstprof <cmd>: " for a session that did
 * not open: err behind the flag of the part that failed, said once
 * ("--events: unknown event 'x': ..."). */
void probes_session_error_line(const probes_session *s, const char *err, char *line, size_t size);
/* A new thread count or affinity, in two steps so that the caller can close
 * its books on the old pool in between: new_pool builds the pool (affinity
 * plan, pool, counters) of settings beside s's, into fresh (same returns as
 * open; s unchanged either way); swap_pool puts it in place of s's, which
 * it closes. The model and the engine session stay. */
int probes_session_new_pool(const probes_session *s, const probes_session_settings *settings,
                            probes_session *fresh, char *err, size_t err_len);
void probes_session_swap_pool(probes_session *s, probes_session *fresh);
/* The model as a session opens it: loaded (timed in *load_ms) and its weights
 * in precision. NULL with err (one line) and *failed. For sessions that
 * share one model (bench's thread counts, the dashboard's A/B sides). */
hst_model *probes_session_open_model(const probes_session_settings *settings, double *load_ms, char *warning,
                                     size_t warning_len, probes_session_part *failed, char *err, size_t err_len);
/* Where thread i is bound ("none": -1), and the policy's name ("none" without a plan). */
int probes_session_thread_pu(const probes_session *s, int i);
const char *probes_session_affinity_policy(const probes_session *s);

/* ---- a measured window of a session --------------------------------------- */

typedef struct {
    probes_counter_snapshot begin, end;
    probes_memory_window memory;
    int counting, sampling_memory;
} probes_window;

/* Starts the window: a counter read and the memory window (memory: 0 skips it). */
void probes_window_begin(const probes_session *s, probes_window *w, int memory);
void probes_window_end(const probes_session *s, probes_window *w);

/* What a window measured, as run, bench and their reports give it. */
typedef struct {
    int have_counters;
    probes_counter_window counters;
    int have_memory;
    probes_memory_report memory;
    probes_roofline roofline;
} probes_window_report;

/* kv_cache_bytes for the memory report (< 0 unknown); bytes and flops the
 * window's work moved and computed in elapsed_ns, in steps that each read
 * working_set bytes, for the roofline against the session's ceilings. */
void probes_window_report_of(const probes_session *s, probes_window *w, double kv_cache_bytes, double bytes,
                             double flops, uint64_t elapsed_ns, double working_set, probes_window_report *out);

#endif
