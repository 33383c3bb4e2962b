/* pool.h — the engine's thread pool: workers created once per session and
 * placed by the caller, jobs split into tasks, and the contention fallback
 * (pool.c). Part of the engine's interface; engine/hst.h includes it. */
#ifndef HST_POOL_H
#define HST_POOL_H

#include <stdint.h>

#include "engine/error.h"

/* ---- thread pool -------------------------------------------------------- */

typedef struct hst_pool hst_pool;

/* Called on each worker (index 0 is the calling thread) as it starts, so the
 * caller can place it (probes bind with hwloc); the engine knows nothing of it. */
typedef void (*hst_thread_start_fn)(int thread_index, void *user);

/* n_threads >= 1; workers are created once and live until hst_pool_free. */
hst_pool *hst_pool_create(int n_threads, hst_thread_start_fn on_start, void *user, hst_error *err);
void hst_pool_free(hst_pool *p);
int hst_pool_threads(const hst_pool *p);
/* Linux thread id of worker i (0 = the thread that created the pool). */
int hst_pool_thread_tid(const hst_pool *p, int i);
/* CPU each worker last ran a task on (sched_getcpu), and how often that
 * changed between tasks: the migrations an affinity policy should prevent. */
int hst_pool_thread_cpu(const hst_pool *p, int i);
uint64_t hst_pool_thread_migrations(const hst_pool *p, int i);
/* Nanoseconds worker i spent running tasks (its load), since creation. */
uint64_t hst_pool_thread_busy_ns(const hst_pool *p, int i);

/* Contention (pool.c): when the team keeps taking longer over its jobs than
 * the calling thread alone would (another process wants a core), the pool
 * runs jobs on the calling thread alone for a while and then measures again. Results are the same either way; the
 * figures say how the threads were actually used. Counts since creation. */
typedef struct {
    uint64_t jobs;         /* jobs of more than one task on a pool of more than one thread */
    uint64_t jobs_solo;    /* of those, run by the calling thread alone because of contention */
    uint64_t stalls;       /* team jobs in which the caller waited for a descheduled worker */
    uint64_t solo_periods; /* times the pool went solo */
    uint64_t solo_reverts; /* of those, ended at their first window: the caller alone was slower than the team */
    int solo_now;          /* 1 while it runs jobs alone */
} hst_pool_contention_stats;
void hst_pool_contention(const hst_pool *p, hst_pool_contention_stats *out);
/* On by default; off keeps every job on the whole team (tests, A/B of the policy). */
void hst_pool_set_adaptive(hst_pool *p, int on);

#endif
