/* timeline.h — what each forward call of a run (or of a dashboard segment)
 * did, in order, for the trace exports: when it started, how long the
 * forward took and the sampling after it, the engine's section times, each
 * pool thread's busy time and the counter deltas; beside them RSS samples
 * and instant events (restarts, setting changes). Sized once: adding a
 * record only copies numbers into arrays. A ring keeps the newest records
 * (the dashboard); otherwise records past the capacity are counted and
 * dropped (a run sizes it to its token count). */
#ifndef PROBES_TIMELINE_H
#define PROBES_TIMELINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TIMELINE_NAME_MAX 64
#define TIMELINE_UNKNOWN UINT64_MAX /* a thread's busy time that is not known */

/* The columns every record of one timeline has. */
typedef struct {
    int n_sections;
    const char *const *section_names;  /* the engine's, as the per-layer panel shows them */
    int n_threads;
    const int *thread_tids;            /* Linux thread ids of the pool (index 0 calls the forward) */
    int n_counters;
    const char *const *counter_names;
    uint64_t origin_ns;                /* hst_now_ns() of time 0: the run's or the segment's start */
} timeline_shape;

typedef struct {
    int phase;            /* 0 prefill, 1 decode */
    int position;         /* of the first token processed */
    int n_tokens;         /* tokens processed (the prompt's length for a prefill) */
    int token_id;         /* produced; -1 none */
    uint64_t generation;  /* 1 for the first prompt; a prefill of generation > 1 is a restart */
    uint32_t round;       /* A/B round of the side (0 outside A/B): a new round starts a new phase slice */
    uint64_t start_ns;    /* hst_now_ns() before the forward */
    uint64_t forward_ns;  /* the forward call alone */
    uint64_t latency_ns;  /* forward + sampling */
    const uint64_t *section_ns;     /* [n_sections] */
    const uint64_t *thread_busy_ns; /* [n_threads] busy during this forward; TIMELINE_UNKNOWN, or NULL: none known */
    const double *counter_delta;    /* [n_counters]; NAN: not counted; NULL: none counted */
} timeline_record;

typedef struct timeline timeline;

/* capacity records (>= 1), rss_capacity RSS samples and instant_capacity
 * instants; ring: keep the newest of each, else keep the first. NULL when
 * out of memory. */
timeline *timeline_create(const timeline_shape *shape, int capacity, int rss_capacity, int instant_capacity, int ring);
void timeline_free(timeline *t);
/* A copy (for a reader on another thread); NULL when out of memory. */
timeline *timeline_clone(const timeline *t);
int timeline_records(const timeline *t);
/* Also adds a "restart" instant for a prefill of generation > 1. */
void timeline_add(timeline *t, const timeline_record *r);
void timeline_add_rss(timeline *t, uint64_t now_ns, double rss_bytes);
/* name: "restart", "setting", ...; detail: one line. */
void timeline_add_instant(timeline *t, uint64_t now_ns, const char *name, const char *detail);

/* The object exports render the trace from (export_trace_render as CSV,
 * export_trace_events_render as trace-event JSON). context's members (tool,
 * model, label, pid, ...; may be NULL) are copied in first; then
 * "sections", "counters", "threads" [{index, tid}], "tokens" [{index, phase,
 * position, tokens_processed, token_id, generation, round, start_ns,
 * forward_ns, latency_ns, time_ns (the end), section_ns[], thread_busy_ns[]
 * (null: unknown), counter_delta[] (null: not counted)}], "rss" [{time_ns,
 * bytes}], "instants" [{time_ns, name, detail}] and "dropped_tokens"; times
 * in ns since the origin. New reference; NULL when out of memory. */
json_t *timeline_json(const timeline *t, const json_t *context);

#endif
