/* ring.h — what one token of the live loop did (a sample), and the
 * single-producer single-consumer ring that carries samples from the engine
 * thread to the metrics thread. */
#ifndef PROBES_RING_H
#define PROBES_RING_H

#include <stddef.h>
#include <stdint.h>

/* ---- per-token samples and the SPSC ring ---------------------------------------- */

#define LIVE_MAX_SECTIONS 48     /* sections beyond this are summed into the last */
#define LIVE_SAMPLE_THREADS 32   /* threads whose CPU and load a sample carries */
#define LIVE_SAMPLE_COUNTERS 24  /* counter events a sample carries (PROBES_MAX_EVENTS) */

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
    uint64_t forward_ns;   /* the forward call alone */
    double flops, bytes;   /* spec 11 counts for this forward */
    int32_t n_sections;
    uint64_t section_ns[LIVE_MAX_SECTIONS];
    int32_t n_threads;     /* threads of the pool (may exceed LIVE_SAMPLE_THREADS) */
    int16_t thread_cpu[LIVE_SAMPLE_THREADS];       /* CPU each worker last ran on, -1 unknown */
    uint32_t thread_migrations[LIVE_SAMPLE_THREADS]; /* CPU changes between tasks, since creation */
    uint64_t thread_busy_ns[LIVE_SAMPLE_THREADS];  /* cumulative, since the pool was created */
    uint64_t pool_jobs, pool_jobs_solo, pool_stalls, pool_solo_periods; /* hst_pool_contention, cumulative */
    int32_t pool_solo_now;               /* 1 while the pool runs jobs on one thread (contention) */
    int32_t n_counters;    /* the segment's counter events (0: none open) */
    double counter_delta[LIVE_SAMPLE_COUNTERS];     /* this forward's count of each, scaled; NAN: not counted */
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

#endif
