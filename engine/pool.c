/* pool.c — a persistent pthread pool. Workers are created once; between jobs
 * they spin briefly (jobs of one token come back to back) and then sleep on a
 * condition variable, so an idle engine costs no CPU. Tasks are taken from a
 * shared counter; since a task's result never depends on the thread that runs
 * it, outputs are bit-identical for any thread count. */
#include "engine/internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* About 50-100 µs of polling before sleeping: longer than the gap between two
 * matmuls of one token, much shorter than a human-visible pause. After the
 * first PAUSE_ITERATIONS the poll yields the CPU between checks: on a busy
 * machine the thread being waited for may be runnable on this very core, and
 * burning the time slice in a spin would only delay it. */
#define SPIN_ITERATIONS 20000
#define PAUSE_ITERATIONS 2000

typedef struct {
    hst_pool *pool;
    int index;
    pthread_t thread;
    _Atomic int tid;
    _Atomic int cpu;
    _Atomic uint64_t migrations;
    _Atomic uint64_t busy_ns;
} worker;

struct hst_pool {
    int n_threads;
    worker *workers;
    hst_thread_start_fn on_start;
    void *on_start_user;

    pthread_mutex_t mutex;
    pthread_cond_t wake;      /* workers wait here for a new job */
    pthread_cond_t finished;  /* the caller waits here for the last worker */
    _Atomic unsigned generation;
    _Atomic int sleepers;
    _Atomic int caller_sleeping;
    _Atomic int stop;

    /* The current job. */
    hst_kernel kernel;   /* the caller's, taken by every worker */
    hst_task_fn fn;
    void *ctx;
    int n_tasks;
    _Atomic int next_task;
    _Atomic int pending; /* workers (not the caller) still in the job */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline void relax_or_yield(int iteration)
{
    if (iteration < PAUSE_ITERATIONS)
        cpu_relax();
    else
        sched_yield();
}

_Thread_local hst_kernel hst_thread_kernel = HST_KERNEL_AUTO;

static void run_tasks(hst_pool *p, worker *w)
{
    hst_thread_kernel = p->kernel;
    uint64_t t0 = hst_now_ns();
    int cpu = sched_getcpu();
    int last = atomic_load_explicit(&w->cpu, memory_order_relaxed);
    if (last >= 0 && cpu != last)
        atomic_fetch_add_explicit(&w->migrations, 1, memory_order_relaxed);
    atomic_store_explicit(&w->cpu, cpu, memory_order_relaxed);
    for (;;) {
        int task = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (task >= p->n_tasks)
            break;
        p->fn(p->ctx, task);
    }
    atomic_fetch_add_explicit(&w->busy_ns, hst_now_ns() - t0, memory_order_relaxed);
}

/* Waits until the generation differs from seen; returns the new one. */
static unsigned wait_for_job(hst_pool *p, unsigned seen)
{
    for (int i = 0; i < SPIN_ITERATIONS; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen)
            return g;
        relax_or_yield(i);
    }
    pthread_mutex_lock(&p->mutex);
    atomic_fetch_add(&p->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&p->generation)) == seen)
        pthread_cond_wait(&p->wake, &p->mutex);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mutex);
    return g;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    hst_pool *p = w->pool;
    /* The tid is published after the start callback: hst_pool_create waits
     * for it, so every worker is placed before the pool is handed out. */
    int tid = (int)syscall(SYS_gettid);
    if (p->on_start)
        p->on_start(w->index, p->on_start_user);
    atomic_store(&w->tid, tid);
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(p, seen);
        if (atomic_load(&p->stop))
            break;
        run_tasks(p, w);
        /* The last worker out wakes the caller if it went to sleep. */
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_sleeping)) {
            pthread_mutex_lock(&p->mutex);
            pthread_cond_signal(&p->finished);
            pthread_mutex_unlock(&p->mutex);
        }
    }
    return NULL;
}

static void publish_job(hst_pool *p)
{
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
}

static void wait_for_workers(hst_pool *p)
{
    for (int i = 0; i < SPIN_ITERATIONS; i++) {
        if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0)
            return;
        relax_or_yield(i);
    }
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->caller_sleeping, 1);
    while (atomic_load(&p->pending) != 0)
        pthread_cond_wait(&p->finished, &p->mutex);
    atomic_store(&p->caller_sleeping, 0);
    pthread_mutex_unlock(&p->mutex);
}

void hst_pool_run(hst_pool *p, int n_tasks, hst_task_fn fn, void *ctx)
{
    if (n_tasks <= 0)
        return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        worker *w = p ? &p->workers[0] : NULL;
        if (w) {
            p->kernel = hst_thread_kernel;
            p->fn = fn;
            p->ctx = ctx;
            p->n_tasks = n_tasks;
            atomic_store(&p->next_task, 0);
            run_tasks(p, w);
        } else {
            for (int t = 0; t < n_tasks; t++)
                fn(ctx, t);
        }
        return;
    }
    p->kernel = hst_thread_kernel;
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    atomic_store(&p->pending, p->n_threads - 1);
    publish_job(p);
    run_tasks(p, &p->workers[0]);
    wait_for_workers(p);
}

static void init_worker(hst_pool *p, int i)
{
    worker *w = &p->workers[i];
    w->pool = p;
    w->index = i;
    atomic_init(&w->tid, 0);
    atomic_init(&w->cpu, -1);
    atomic_init(&w->migrations, 0);
    atomic_init(&w->busy_ns, 0);
}

hst_pool *hst_pool_create(int n_threads, hst_thread_start_fn on_start, void *user, hst_error *err)
{
    if (n_threads < 1 || n_threads > 1024) {
        hst_set_error(err, "threads: %d is not a usable thread count (1..1024)", n_threads);
        return NULL;
    }
    hst_pool *p = calloc(1, sizeof *p);
    worker *workers = calloc((size_t)n_threads, sizeof *workers);
    if (!p || !workers) {
        free(p);
        free(workers);
        hst_set_error(err, "threads: out of memory");
        return NULL;
    }
    p->n_threads = n_threads;
    p->workers = workers;
    p->on_start = on_start;
    p->on_start_user = user;
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->finished, NULL);
    for (int i = 0; i < n_threads; i++)
        init_worker(p, i);
    atomic_store(&workers[0].tid, (int)syscall(SYS_gettid));
    if (on_start)
        on_start(0, user);
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            p->n_threads = i; /* free only what started */
            hst_pool_free(p);
            hst_set_error(err, "threads: cannot start worker %d", i);
            return NULL;
        }
    }
    /* Worker TIDs are part of the interface (counters open per thread): wait for them. */
    for (int i = 1; i < n_threads; i++)
        while (atomic_load(&workers[i].tid) == 0)
            sched_yield();
    return p;
}

void hst_pool_free(hst_pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    pthread_mutex_lock(&p->mutex);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->finished);
    free(p->workers);
    free(p);
}

int hst_pool_threads(const hst_pool *p) { return p->n_threads; }

static worker *worker_at(const hst_pool *p, int i)
{
    return (i >= 0 && i < p->n_threads) ? &p->workers[i] : NULL;
}

int hst_pool_thread_tid(const hst_pool *p, int i)
{
    worker *w = worker_at(p, i);
    return w ? atomic_load(&w->tid) : -1;
}

int hst_pool_thread_cpu(const hst_pool *p, int i)
{
    worker *w = worker_at(p, i);
    return w ? atomic_load(&w->cpu) : -1;
}

uint64_t hst_pool_thread_migrations(const hst_pool *p, int i)
{
    worker *w = worker_at(p, i);
    return w ? atomic_load(&w->migrations) : 0;
}

uint64_t hst_pool_thread_busy_ns(const hst_pool *p, int i)
{
    worker *w = worker_at(p, i);
    return w ? atomic_load(&w->busy_ns) : 0;
}
