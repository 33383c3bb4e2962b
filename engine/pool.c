/* pool.c — a persistent pthread pool.
 *
 * Work splitting. A job's tasks are cut into one contiguous range per thread
 * (thread i owns tasks [i·n/T, (i+1)·n/T)), so a thread computes the same
 * output columns, and reads the same weight slice, token after token: the
 * slice stays in that core's own cache. A thread that runs out of its own
 * range takes tasks from the back of the others' ranges, so a slow thread
 * (descheduled, or sharing its core) delays the job by at most the task it is
 * running. The job is over when its tasks are done, not when every worker has
 * checked in: a worker the scheduler has not run yet holds nothing up. Since
 * a task's result never depends on the thread that runs it, outputs are
 * bit-identical for any thread count and any stealing.
 *
 * Contention. With more runnable threads than cores (another process wants
 * one), the scheduler shares the cores out: the team's threads spend time
 * waiting for a core, and whenever the thread the others wait for is the
 * one waiting, everyone waits, so two threads end up slower than one. The
 * pool judges the team by its progress: over a window of team jobs it sums
 * each job's wall time and what the caller alone would have taken for it
 * (the job's task count times the caller's own time per task on jobs of
 * that function, task count and shape, the fastest seen lately, so a task
 * the caller was descheduled in does not inflate it). The shape matters:
 * hst-v4's decode step has two-task matmuls of a 256x128 weight (the meta
 * fusion's second product) and of a 512x128 one (the FFN's second), with
 * the same function and task count; judged by the smaller one's tasks
 * (0.8 us against 1.4-2.3 us for an int8 step), every team job of the larger
 * looked slower than the caller alone. When the team was slower than that
 * in consecutive windows, the pool runs jobs on the calling thread alone for
 * a while (its workers sleep), then tries the team again. A lone burst (the
 * host taking a vCPU for a millisecond or two) spoils one window, not two,
 * and a team that still beats one thread is kept however often its threads
 * wait. The estimate is low (alone, the caller would also read the weights
 * its worker keeps in its own cache), so on a busy host the team can look
 * slower without a competitor: a short hst-v4 int8 decode ran 50-90% of its
 * jobs alone and generated 6% slower than on the team. So solo mode's first
 * window is judged by the times it measures, against the team's recent wall
 * time on the same job shapes: if the caller alone was the slower, the pool
 * returns to the team at once, and wants CONTENDED_WINDOWS_AFTER_REVERT slow
 * windows in a row before trying solo again (CONTENDED_WINDOWS once a solo
 * window is confirmed). hst_pool_contention reports it all, so a run says it
 * happened instead of hiding it.
 *
 * Waiting. Between jobs, workers poll for a short while (the jobs of one
 * token come back to back), then sleep on a futex: an idle or solo engine
 * spins on no core that another thread needs. */
#include "engine/internal.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How long a waiting thread polls before it sleeps: longer than the gap
 * between two jobs of one token, much shorter than a human-visible pause. */
#define SPIN_NS 60000
/* A range word: the job's tag (its generation), then the range's front and
 * back task (16 bits each; bigger jobs run in slices of MAX_SLICE tasks). */
#define MAX_SLICE 0xffff
/* Contention detection (see the file comment). A caller's wait counts as a
 * stall (reported, not acted on) when it exceeds STALL_TASKS times the mean
 * duration of the tasks the caller ran in that job plus STALL_SLACK_NS:
 * imbalance costs at most about one task, a descheduled worker costs a time
 * slice (milliseconds). A window closes after WINDOW_JOBS team jobs and
 * WINDOW_NS; CONTENDED_WINDOWS slow windows in a row turn solo mode on (two
 * windows of 2 ms catch a competitor as soon as one of 5 ms would; a burst
 * of a millisecond or two spoils one of them, rarely both). The caller's
 * time per task is remembered for RATE_SLOTS job shapes (function, task
 * count, the caller's shape word); a faster sample replaces it at once, a
 * slower one moves it by 1/RATE_RISE (the rate can rise, say with the clock,
 * but one descheduled task cannot raise it); the team's wall time per job
 * of each shape is an average with weight 1/TEAM_WALL_WEIGHT. The solo period starts at SOLO_MIN_NS (another
 * process's burst passes quickly) and doubles up to SOLO_MAX_NS while each
 * team window finds contention again (a competitor that stays costs two
 * windows every second). */
#define STALL_TASKS 4
#define STALL_SLACK_NS 50000
#define WINDOW_JOBS 16
#define WINDOW_NS 2000000ull
#define CONTENDED_WINDOWS 2
#define CONTENDED_WINDOWS_AFTER_REVERT 4
#define TEAM_WALL_WEIGHT 8
#define RATE_SLOTS 64
#define RATE_RISE 64
#define SOLO_MIN_NS 32000000ull
#define SOLO_MAX_NS 512000000ull

/* The caller's own time per task on one job shape. */
typedef struct {
    hst_task_fn fn;
    int n_tasks;
    uintptr_t shape;
    uint64_t task_ns;
    uint64_t team_wall_ns; /* the team's recent wall time on one job (0: not seen) */
} task_rate;

typedef struct {
    _Alignas(64) _Atomic uint64_t word; /* tag << 32 | front << 16 | back */
} task_range;

/* One cache line each: the caller and a worker update their own counters
 * after every job, and sharing a line would bounce it between the cores
 * on every job (0.1-0.2 us of a decode step's 1 us jobs). */
typedef struct {
    _Alignas(64) hst_pool *pool;
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
    task_range *ranges; /* [n_threads] */
    hst_thread_start_fn on_start;
    void *on_start_user;

    /* The current job, published by generation (release). A worker that
     * read a stale job finds every range tagged with another generation and
     * claims nothing, so it never runs a task with the wrong fn. */
    _Alignas(64) _Atomic unsigned generation;
    _Atomic int stop;
    _Atomic int sleepers;
    _Atomic(hst_task_fn) fn;
    _Atomic(void *) ctx;
    _Atomic int base;   /* first task of the slice */
    _Atomic int kernel; /* the caller's, taken by every worker */
    _Alignas(64) _Atomic int done; /* tasks of the slice finished */
    _Atomic int n_slice;
    _Atomic int caller_sleeping;

    /* Contention detection: the caller's alone. */
    int adaptive;
    task_rate rates[RATE_SLOTS];
    uint64_t window_start, window_team_ns, window_alone_ns, solo_until, solo_ns;
    int required_windows; /* slow windows in a row that turn solo mode on */
    /* Solo mode's first window, against the team's wall times on the same shapes. */
    int judging, judged_jobs;
    uint64_t judge_start, judged_solo_ns, judged_team_ns;
    int window_jobs, contended_windows;
    _Atomic int solo;
    _Atomic uint64_t jobs, jobs_solo, stalls, solo_periods, solo_reverts;
    /* The workers' hst_thread_bytes_saved, taken by hst_forward (its own line:
     * the workers add to it, the caller reads it once per call). */
    _Alignas(64) _Atomic uint64_t bytes_saved;
};

_Thread_local hst_kernel hst_thread_kernel = HST_KERNEL_AUTO;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic int *addr, int expected)
{
    syscall(SYS_futex, (int *)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(_Atomic int *addr, int n)
{
    syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* ---- ranges -------------------------------------------------------------------- */

static uint64_t range_word(unsigned tag, int front, int back)
{
    return (uint64_t)tag << 32 | (uint64_t)front << 16 | (uint64_t)back;
}

/* Claims the front (own work) or back (stolen work) task of r for job tag. */
static int claim(task_range *r, unsigned tag, int from_back, int *task)
{
    uint64_t v = atomic_load_explicit(&r->word, memory_order_acquire);
    for (;;) {
        int front = (int)(v >> 16 & 0xffff), back = (int)(v & 0xffff);
        if ((unsigned)(v >> 32) != tag || front >= back)
            return 0;
        uint64_t next = from_back ? range_word(tag, front, back - 1) : range_word(tag, front + 1, back);
        if (atomic_compare_exchange_weak_explicit(&r->word, &v, next, memory_order_acq_rel, memory_order_acquire)) {
            *task = from_back ? back - 1 : front;
            return 1;
        }
    }
}

/* Runs thread self's range, then steals; returns the tasks run and their time. */
static int run_tasks(hst_pool *p, int self, unsigned tag, hst_task_fn fn, void *ctx, int base)
{
    int task, ran = 0;
    while (claim(&p->ranges[self], tag, 0, &task)) {
        fn(ctx, base + task);
        ran++;
    }
    for (int k = 1; k < p->n_threads; k++) {
        task_range *victim = &p->ranges[(self + k) % p->n_threads];
        while (claim(victim, tag, 1, &task)) {
            fn(ctx, base + task);
            ran++;
        }
    }
    return ran;
}

static void note_cpu(worker *w)
{
    int cpu = sched_getcpu();
    int last = atomic_load_explicit(&w->cpu, memory_order_relaxed);
    if (last >= 0 && cpu != last)
        atomic_fetch_add_explicit(&w->migrations, 1, memory_order_relaxed);
    atomic_store_explicit(&w->cpu, cpu, memory_order_relaxed);
}

/* ---- workers ------------------------------------------------------------------- */

/* Waits until the generation differs from seen; returns the new one. */
static unsigned wait_for_job(hst_pool *p, unsigned seen)
{
    uint64_t t0 = hst_now_ns();
    for (int i = 0;; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen)
            return g;
        cpu_relax();
        if ((i & 63) == 63 && hst_now_ns() - t0 > SPIN_NS)
            break;
    }
    for (;;) {
        atomic_fetch_add(&p->sleepers, 1);
        unsigned g = atomic_load(&p->generation);
        if (g == seen)
            futex_wait((_Atomic int *)&p->generation, (int)seen);
        atomic_fetch_sub(&p->sleepers, 1);
        g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen)
            return g;
    }
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
        hst_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&p->ctx, memory_order_relaxed);
        int base = atomic_load_explicit(&p->base, memory_order_relaxed);
        hst_thread_kernel = (hst_kernel)atomic_load_explicit(&p->kernel, memory_order_relaxed);
        uint64_t t0 = hst_now_ns();
        int ran = run_tasks(p, w->index, seen, fn, ctx, base);
        if (!ran)
            continue;
        note_cpu(w);
        atomic_fetch_add_explicit(&w->busy_ns, hst_now_ns() - t0, memory_order_relaxed);
        if (hst_thread_bytes_saved) {
            atomic_fetch_add_explicit(&p->bytes_saved, hst_thread_bytes_saved, memory_order_relaxed);
            hst_thread_bytes_saved = 0;
        }
        int n = atomic_load_explicit(&p->n_slice, memory_order_relaxed);
        if (atomic_fetch_add(&p->done, ran) + ran == n && atomic_load(&p->caller_sleeping))
            futex_wake(&p->done, 1);
    }
    return NULL;
}

/* ---- the caller ------------------------------------------------------------------ */

static void wait_for_tasks(hst_pool *p, int n)
{
    uint64_t t0 = hst_now_ns();
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&p->done, memory_order_acquire) == n)
            return;
        cpu_relax();
        if ((i & 63) == 63 && hst_now_ns() - t0 > SPIN_NS)
            break;
    }
    atomic_store(&p->caller_sleeping, 1);
    int d;
    while ((d = atomic_load(&p->done)) != n)
        futex_wait(&p->done, d);
    atomic_store(&p->caller_sleeping, 0);
}

/* Runs every task on the calling thread; returns the time it took. */
static uint64_t run_solo(hst_pool *p, int n_tasks, hst_task_fn fn, void *ctx)
{
    worker *w = p ? &p->workers[0] : NULL;
    uint64_t t0 = w ? hst_now_ns() : 0;
    for (int t = 0; t < n_tasks; t++)
        fn(ctx, t);
    if (!w)
        return 0;
    uint64_t took = hst_now_ns() - t0;
    note_cpu(w);
    atomic_fetch_add_explicit(&w->busy_ns, took, memory_order_relaxed);
    return took;
}

/* What the caller saw of one team job: its wait beyond what imbalance
 * explains (the stall), and the tasks it ran with their time. */
typedef struct {
    uint64_t stall_ns, caller_ns;
    int caller_tasks;
} team_share;

/* One slice of at most MAX_SLICE tasks on the team; adds the caller's share to *share. */
static void run_team_slice(hst_pool *p, int base, int n, hst_task_fn fn, void *ctx, team_share *share)
{
    const int T = p->n_threads;
    unsigned tag = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->n_slice, n, memory_order_relaxed);
    for (int i = 0; i < T; i++)
        atomic_store_explicit(&p->ranges[i].word, range_word(tag, (int)((int64_t)n * i / T),
                                                             (int)((int64_t)n * (i + 1) / T)),
                              memory_order_relaxed);
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&p->base, base, memory_order_relaxed);
    atomic_store_explicit(&p->kernel, (int)hst_thread_kernel, memory_order_relaxed);
    atomic_store(&p->generation, tag); /* seq_cst: ordered before the read of sleepers */
    if (atomic_load(&p->sleepers) > 0)
        futex_wake((_Atomic int *)&p->generation, T - 1);
    uint64_t t0 = hst_now_ns();
    int ran = run_tasks(p, 0, tag, fn, ctx, base);
    uint64_t t1 = hst_now_ns();
    if (ran) {
        note_cpu(&p->workers[0]);
        atomic_fetch_add_explicit(&p->workers[0].busy_ns, t1 - t0, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->done, ran, memory_order_acq_rel);
    }
    wait_for_tasks(p, n);
    uint64_t wait = hst_now_ns() - t1;
    uint64_t explained = (ran ? STALL_TASKS * (t1 - t0) / (uint64_t)ran : 0) + STALL_SLACK_NS;
    share->stall_ns += wait > explained ? wait : 0;
    share->caller_ns += t1 - t0;
    share->caller_tasks += ran;
}

/* The remembered rate of the caller on jobs of fn with n_tasks tasks of this shape. */
static task_rate *rate_of(hst_pool *p, hst_task_fn fn, int n_tasks, uintptr_t shape)
{
    uintptr_t key = (uintptr_t)fn ^ (uintptr_t)n_tasks * 0x9e3779b97f4a7c15ull ^ shape * 0xc2b2ae3d27d4eb4full;
    task_rate *r = &p->rates[(key ^ key >> 17 ^ key >> 41) % RATE_SLOTS];
    if (r->fn != fn || r->n_tasks != n_tasks || r->shape != shape)
        *r = (task_rate){fn, n_tasks, shape, 0, 0};
    return r;
}

uint64_t hst_pool_task_ns(hst_pool *p, hst_task_fn fn, int n_tasks, uintptr_t shape)
{
    return p ? rate_of(p, fn, n_tasks, shape)->task_ns : 0;
}

/* Takes a sample of the caller's time per task (tasks > 0); returns the rate. */
static uint64_t note_rate(task_rate *r, uint64_t ns, int tasks)
{
    uint64_t sample = ns / (uint64_t)tasks;
    if (r->task_ns == 0 || sample < r->task_ns)
        r->task_ns = sample;
    else
        r->task_ns += (sample - r->task_ns) / RATE_RISE;
    return r->task_ns;
}

static void open_window(hst_pool *p, uint64_t now)
{
    p->window_start = now;
    p->window_team_ns = 0;
    p->window_alone_ns = 0;
    p->window_jobs = 0;
}

static void go_solo(hst_pool *p, uint64_t now)
{
    atomic_store_explicit(&p->solo, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->solo_periods, 1, memory_order_relaxed);
    p->solo_until = now + p->solo_ns;
    p->solo_ns = p->solo_ns * 2 < SOLO_MAX_NS ? p->solo_ns * 2 : SOLO_MAX_NS;
    p->window_start = 0;
    p->contended_windows = 0;
    p->judging = 1;
    p->judged_jobs = 0;
    p->judge_start = now;
    p->judged_solo_ns = p->judged_team_ns = 0;
}

static void leave_solo(hst_pool *p)
{
    atomic_store_explicit(&p->solo, 0, memory_order_relaxed);
    p->judging = 0;
}

/* Solo mode's first window: the caller's time alone on each job against
 * the team's recent time on a job of that shape. Slower alone means the team
 * was only slower than the estimate (its overhead, or a host that slowed
 * both threads), not held up by a competitor: the pool returns to it at
 * once and needs more slow windows in a row before trying solo again. */
static void judge_solo_job(hst_pool *p, const task_rate *r, uint64_t took)
{
    if (r->team_wall_ns) {
        p->judged_solo_ns += took;
        p->judged_team_ns += r->team_wall_ns;
        p->judged_jobs++;
    }
    uint64_t now = hst_now_ns();
    if (p->judged_jobs < WINDOW_JOBS || now - p->judge_start < WINDOW_NS)
        return;
    p->judging = 0;
    if (p->judged_solo_ns > p->judged_team_ns) {
        leave_solo(p);
        atomic_fetch_add_explicit(&p->solo_reverts, 1, memory_order_relaxed);
        p->solo_ns = SOLO_MIN_NS;
        p->required_windows = CONTENDED_WINDOWS_AFTER_REVERT;
    } else {
        p->required_windows = CONTENDED_WINDOWS;
    }
}

/* Adds a team job of wall time wall_ns to the window; a window in which the
 * team took longer than the caller alone would have is a contended one, and
 * required_windows of them in a row turn solo mode on. */
static void account_team_job(hst_pool *p, hst_task_fn fn, int n_tasks, uintptr_t shape, uint64_t wall_ns,
                             const team_share *share)
{
    if (share->stall_ns)
        atomic_fetch_add_explicit(&p->stalls, 1, memory_order_relaxed);
    if (!p->adaptive)
        return;
    task_rate *r = rate_of(p, fn, n_tasks, shape);
    uint64_t task_ns = share->caller_tasks ? note_rate(r, share->caller_ns, share->caller_tasks) : r->task_ns;
    r->team_wall_ns = r->team_wall_ns ? r->team_wall_ns - r->team_wall_ns / TEAM_WALL_WEIGHT + wall_ns / TEAM_WALL_WEIGHT
                                      : wall_ns;
    uint64_t now = hst_now_ns();
    if (p->window_start == 0) {
        open_window(p, now);
        return;
    }
    if (task_ns) {
        p->window_team_ns += wall_ns;
        p->window_alone_ns += task_ns * (uint64_t)n_tasks;
    }
    if (++p->window_jobs < WINDOW_JOBS || now - p->window_start < WINDOW_NS)
        return;
    if (p->window_team_ns > p->window_alone_ns) {
        if (++p->contended_windows >= p->required_windows) {
            go_solo(p, now);
            return;
        }
    } else {
        p->contended_windows = 0;
        p->solo_ns = SOLO_MIN_NS; /* a clean window: the next period starts short */
    }
    open_window(p, now);
}

/* In solo mode: whether the period is over (then a window of team jobs measures again). */
static int still_solo(hst_pool *p)
{
    if (!atomic_load_explicit(&p->solo, memory_order_relaxed))
        return 0;
    if (hst_now_ns() < p->solo_until)
        return 1;
    leave_solo(p);
    return 0;
}

void hst_pool_run(hst_pool *p, int n_tasks, hst_task_fn fn, void *ctx) { hst_pool_run_shaped(p, n_tasks, fn, ctx, 0); }

void hst_pool_run_shaped(hst_pool *p, int n_tasks, hst_task_fn fn, void *ctx, uintptr_t shape)
{
    if (n_tasks <= 0)
        return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        run_solo(p, n_tasks, fn, ctx);
        return;
    }
    atomic_fetch_add_explicit(&p->jobs, 1, memory_order_relaxed);
    if (still_solo(p)) {
        atomic_fetch_add_explicit(&p->jobs_solo, 1, memory_order_relaxed);
        /* The caller's rate, measured where it matters: alone. */
        task_rate *r = rate_of(p, fn, n_tasks, shape);
        uint64_t took = run_solo(p, n_tasks, fn, ctx);
        note_rate(r, took, n_tasks);
        if (p->judging)
            judge_solo_job(p, r, took);
        return;
    }
    team_share share = {0, 0, 0};
    uint64_t t0 = hst_now_ns();
    for (int base = 0; base < n_tasks; base += MAX_SLICE) {
        int n = n_tasks - base < MAX_SLICE ? n_tasks - base : MAX_SLICE;
        run_team_slice(p, base, n, fn, ctx, &share);
    }
    account_team_job(p, fn, n_tasks, shape, hst_now_ns() - t0, &share);
}

uint64_t hst_pool_take_bytes_saved(hst_pool *p)
{
    return p && atomic_load_explicit(&p->bytes_saved, memory_order_relaxed)
               ? atomic_exchange_explicit(&p->bytes_saved, 0, memory_order_relaxed)
               : 0;
}

void hst_pool_set_adaptive(hst_pool *p, int on)
{
    if (!p)
        return;
    p->adaptive = on;
    p->window_start = 0;
    p->contended_windows = 0;
    p->required_windows = CONTENDED_WINDOWS;
    if (!on)
        leave_solo(p);
}

void hst_pool_contention(const hst_pool *p, hst_pool_contention_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    out->jobs = atomic_load_explicit(&p->jobs, memory_order_relaxed);
    out->jobs_solo = atomic_load_explicit(&p->jobs_solo, memory_order_relaxed);
    out->stalls = atomic_load_explicit(&p->stalls, memory_order_relaxed);
    out->solo_periods = atomic_load_explicit(&p->solo_periods, memory_order_relaxed);
    out->solo_reverts = atomic_load_explicit(&p->solo_reverts, memory_order_relaxed);
    out->solo_now = atomic_load_explicit(&p->solo, memory_order_relaxed);
}

/* ---- life cycle ------------------------------------------------------------------ */

static void init_worker(hst_pool *p, int i)
{
    worker *w = &p->workers[i];
    w->pool = p;
    w->index = i;
    atomic_init(&w->tid, 0);
    atomic_init(&w->cpu, -1);
    atomic_init(&w->migrations, 0);
    atomic_init(&w->busy_ns, 0);
    atomic_init(&p->ranges[i].word, 0);
}

hst_pool *hst_pool_create(int n_threads, hst_thread_start_fn on_start, void *user, hst_error *err)
{
    if (n_threads < 1 || n_threads > 1024) {
        hst_set_error(err, "threads: %d is not a usable thread count (1..1024)", n_threads);
        return NULL;
    }
    hst_pool *p = aligned_alloc(64, (sizeof *p + 63) / 64 * 64);
    worker *workers = aligned_alloc(64, (size_t)n_threads * sizeof *workers);
    task_range *ranges = aligned_alloc(64, (size_t)n_threads * sizeof *ranges);
    if (!p || !workers || !ranges) {
        free(p);
        free(workers);
        free(ranges);
        hst_set_error(err, "threads: out of memory");
        return NULL;
    }
    memset(p, 0, sizeof *p);
    memset(workers, 0, (size_t)n_threads * sizeof *workers);
    p->n_threads = n_threads;
    p->workers = workers;
    p->ranges = ranges;
    p->on_start = on_start;
    p->on_start_user = user;
    p->adaptive = 1;
    p->solo_ns = SOLO_MIN_NS;
    p->required_windows = CONTENDED_WINDOWS;
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
    atomic_fetch_add(&p->generation, 1);
    futex_wake((_Atomic int *)&p->generation, p->n_threads);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->workers[i].thread, NULL);
    free(p->workers);
    free(p->ranges);
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
