/* live_internal.h — shared by probes/live*.c and the live tests only; the
 * interface is probes/live.h, probes/ring.h and probes/live_metrics.h. */
#ifndef HSTPROF_LIVE_INTERNAL_H
#define HSTPROF_LIVE_INTERNAL_H

#include "probes/live.h"
#include "probes/live_metrics.h"
#include "probes/metrics_feed.h"
#include "probes/session.h"
#include "probes/timeline.h"
#include "probes/topo.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

/* Copies src into dst[size], cut when longer (labels, names). */
static inline void live_copy_text(char *dst, size_t size, const char *src)
{
    if (snprintf(dst, size, "%s", src) < 0 && size > 0)
        dst[0] = '\0';
}

/* One instantiated setting: everything needed to generate with it. Normal
 * operation has one slot; an A/B comparison has two, alive together, so a
 * switch between rounds costs a pointer change instead of a pool rebuild. */
typedef struct {
    live_setting setting;
    int ab_side;                 /* -1, 0, 1 */
    probes_session m;            /* model (owned, or borrowed from the other A/B side), kernel,
                                  * affinity, pool, counters, engine session */
    float *logits;
    uint64_t *section_scratch;   /* hst_session_section_count() entries */
    int *prompt;
    int prompt_len;
    int max_seq_len;             /* where generations restart */
    int last_token;
    uint64_t generation;
    uint32_t segment;
    /* Counter sums over the segment's tokens and since the last publish:
     * reads at token boundaries, deltas added only while this slot runs, so
     * the other A/B side's tokens never leak in. */
    probes_counter_snapshot last_read;
    int have_last_read;
    probes_counter_snapshot prefill_sum, decode_sum, recent_sum;
    uint64_t decode_tokens;      /* of the segment: the sums cover them */
    uint64_t last_publish_ns;
} live_slot;

struct live_engine {
    live_options opts;
    char prompt_text[4096];
    char events[1024];
    live_ring *ring;
    pthread_t thread;
    int thread_started;

    pthread_mutex_t lock;        /* guards everything below up to "engine thread only" */
    pthread_cond_t wake;
    live_command queue[8];
    int n_queued;
    char hold_reason[128];
    char error[512];
    live_segment_info *segments; /* [LIVE_MAX_SEGMENTS], by id % LIVE_MAX_SEGMENTS */
    live_setting shown_setting;  /* slot 0's, for the status */
    live_setting ab_settings[2];
    uint32_t ab_segments[2];
    int ab_active_status;
    int ab_stopped;              /* live_status.ab_stopped */
    live_ab_keep ab_kept;
    live_setting ab_before;      /* what ran before the comparison */
    int n_slots_status;
    char kernel_in_use[16];
    char ab_kernel_in_use[2][16];
    int pu_count;

    _Atomic int pending;         /* commands queued: checked without the lock */
    _Atomic int paused, held;    /* written under the lock (for the wait), read without */
    _Atomic int stop;
    _Atomic int idle;            /* waiting between tokens */
    _Atomic int started;         /* the first setting was tried */
    _Atomic int pos, max_seq_len;
    _Atomic uint64_t generations, tokens;
    _Atomic uint32_t ab_rounds[2];
    _Atomic uint32_t segment_shown;
    _Atomic uint32_t resets;

    /* ---- engine thread only ---- */
    probes_topo *topo;
    char topo_why[256];
    cpu_set_t original_mask;
    int have_original_mask;
    live_slot slots[2];
    int n_slots, active;
    int ab_active;
    int round_tokens_done;
    uint32_t round[2];
    uint32_t next_segment;
    uint64_t seq;
};

/* live_export.c: the timeline of the segment one side shows, for snapshots */
typedef struct {
    timeline *timeline;       /* NULL before the side's first sample */
    uint32_t segment;
    int have_busy;
    uint64_t busy_ns[LIVE_SAMPLE_THREADS]; /* the previous sample's, cumulative */
} live_trace_side;
/* Appends the sample (a new segment starts the side's timeline again). */
void live_trace_sample(live_trace_side *side, const live_segment_info *info, const live_sample *s);
void live_trace_rss(live_trace_side *side, uint64_t now_ns, double rss_bytes);
/* timeline_json of t (a copy of a side's), with the segment's context. */
json_t *live_trace_json(const timeline *t, const live_segment_info *info);
void live_trace_free(live_trace_side *side);
/* live_export.c: monitoring figures per setting; the gauges from a view. */
void live_feed_sample(probes_metrics_state *st, const live_segment_info *info, const live_sample *s);
void live_feed_view(probes_metrics_state *st, const live_view *v);

/* live_slot.c */
/* shared_model: the other A/B side's model when both name the same one,
 * so that both read the very same weights (else NULL). */
int live_slot_open(live_engine *e, live_slot *s, const live_setting *setting, int ab_side, hst_model *shared_model,
                   char *err, size_t len);
void live_slot_close(live_engine *e, live_slot *s);
/* Rebuilds the pool (threads or affinity changed); the session and model
 * stay. 0, or -1 with err and the slot unchanged. */
int live_slot_set_threads(live_engine *e, live_slot *s, int threads, const char *affinity, char *err, size_t len);
/* Makes s the running slot: the engine thread's own binding. */
void live_slot_activate(live_engine *e, live_slot *s);
/* Starts a new segment for the slot (ends its previous one). */
void live_slot_new_segment(live_engine *e, live_slot *s);
void live_slot_end_segment(live_engine *e, live_slot *s);
/* One forward: a prefill at the start of a generation, else a decode step;
 * fills the sample. 0, or -1 with err. */
int live_slot_step(live_engine *e, live_slot *s, live_sample *out, char *err, size_t len);
/* Publishes the counter windows of the slot's segment (rate-limited unless force). */
void live_slot_publish_counters(live_engine *e, live_slot *s, int force);
/* The engine thread's own CPU mask back to what it was at start. */
void live_restore_engine_mask(live_engine *e);

#endif
