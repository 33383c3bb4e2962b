/* ceilings.c — this machine's bandwidth and compute limits per thread count,
 * measured in steps, and their cache file. The memory levels are in
 * ceiling_levels.c, the roofline in roofline.c. */
#include "engine/hst.h"
#include "probes/ceilings.h"
#include "probes/internal.h"
#include "probes/json.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)
#define TRIAD_REPS 5
/* Many short repetitions, best kept: the vCPUs here run the first few
 * hundred milliseconds of a burst ~15% slower, and a peak is a best case. */
#define FMA_REPS 8
#define FMA_WARMUP_S 0.3
/* A prefill-sized product: compute-bound, its weights fit in L2/L3. */
#define MATMUL_M 64
#define MATMUL_N 1024
#define MATMUL_K 1024
#define MATMUL_REPS 10
#define CACHE_FORMAT "hstprof-ceilings-2"
/* The format before read ceilings per memory level. */
#define CACHE_FORMAT_1 "hstprof-ceilings-1"

/* ---- a team of bound threads, timed with barriers ----------------------------- */

typedef struct {
    int n;
    int reps;
    probes_affinity *affinity; /* may be NULL */
    probes_team_work_fn work;
    void *ctx;
    pthread_barrier_t barrier;
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond;
    int gate; /* 0 wait, 1 go, -1 give up: not every thread could start */
    uint64_t start_ns, best_ns;
} team;

typedef struct {
    team *tm;
    int index;
} team_member;

static void *team_main(void *arg)
{
    team_member *me = arg;
    team *tm = me->tm;
    pthread_mutex_lock(&tm->gate_lock);
    while (tm->gate == 0)
        pthread_cond_wait(&tm->gate_cond, &tm->gate_lock);
    int go = tm->gate > 0;
    pthread_mutex_unlock(&tm->gate_lock);
    if (!go)
        return NULL;
    probes_affinity_bind_thread(me->index, tm->affinity);
    for (int r = 0; r < tm->reps; r++) {
        pthread_barrier_wait(&tm->barrier);
        if (me->index == 0)
            tm->start_ns = hst_now_ns();
        tm->work(tm->ctx, me->index, tm->n);
        pthread_barrier_wait(&tm->barrier);
        if (me->index == 0) {
            uint64_t ns = hst_now_ns() - tm->start_ns;
            if (tm->best_ns == 0 || ns < tm->best_ns)
                tm->best_ns = ns;
        }
    }
    return NULL;
}

uint64_t probes_team_run(int n, probes_affinity *affinity, probes_team_work_fn work, void *ctx, int reps)
{
    team tm = {.n = n, .reps = reps, .affinity = affinity, .work = work, .ctx = ctx};
    pthread_t threads[PROBES_MAX_THREADS];
    team_member members[PROBES_MAX_THREADS];
    if (pthread_barrier_init(&tm.barrier, NULL, (unsigned)n) != 0)
        return 0;
    pthread_mutex_init(&tm.gate_lock, NULL);
    pthread_cond_init(&tm.gate_cond, NULL);
    int started = 0;
    for (; started < n; started++) {
        members[started] = (team_member){&tm, started};
        if (pthread_create(&threads[started], NULL, team_main, &members[started]) != 0)
            break;
    }
    /* The barrier counts n threads: run only when all of them exist. */
    pthread_mutex_lock(&tm.gate_lock);
    tm.gate = started == n ? 1 : -1;
    pthread_cond_broadcast(&tm.gate_cond);
    pthread_mutex_unlock(&tm.gate_lock);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&tm.barrier);
    pthread_mutex_destroy(&tm.gate_lock);
    pthread_cond_destroy(&tm.gate_cond);
    return started == n ? tm.best_ns : 0;
}

/* ---- triad ---------------------------------------------------------------------- */

typedef struct {
    double *a, *b, *c;
    size_t n;
} triad_arrays;

void probes_team_slice(size_t n, int index, int n_threads, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)index / (size_t)n_threads;
    *hi = n * (size_t)(index + 1) / (size_t)n_threads;
}

/* First touch by the thread that will stream the slice puts its pages on
 * that thread's NUMA node. */
static void triad_init_work(void *ctx, int index, int n_threads)
{
    triad_arrays *t = ctx;
    size_t lo, hi;
    probes_team_slice(t->n, index, n_threads, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        t->a[i] = 0.0, t->b[i] = 1.0, t->c[i] = 2.0;
}

static void triad_work(void *ctx, int index, int n_threads)
{
    triad_arrays *t = ctx;
    size_t lo, hi;
    probes_team_slice(t->n, index, n_threads, &lo, &hi);
    probes_triad(t->a + lo, t->b + lo, t->c + lo, 3.0, hi - lo);
}

static probes_metric measure_triad(int n_threads, probes_affinity *affinity, uint64_t array_bytes)
{
    triad_arrays t = {.n = array_bytes / sizeof(double)};
    size_t bytes = (t.n * sizeof(double) + 63) / 64 * 64;
    t.a = aligned_alloc(64, bytes), t.b = aligned_alloc(64, bytes), t.c = aligned_alloc(64, bytes);
    probes_metric m;
    if (!t.a || !t.b || !t.c) {
        m = probes_metric_invalid("could not allocate 3 x %llu MiB for the triad",
                                  (unsigned long long)(array_bytes / MIB));
    } else {
        probes_team_run(n_threads, affinity, triad_init_work, &t, 1);
        uint64_t ns = probes_team_run(n_threads, affinity, triad_work, &t, TRIAD_REPS);
        /* STREAM's count: read b and c, write a. */
        m = ns ? probes_metric_of(3.0 * (double)t.n * sizeof(double) / ((double)ns * 1e-9))
               : probes_metric_invalid("the triad threads could not start");
    }
    free(t.a), free(t.b), free(t.c);
    return m;
}

/* ---- FMA peak ------------------------------------------------------------------- */

typedef struct {
    uint64_t iterations;
    double best_per_thread[PROBES_MAX_THREADS]; /* FLOPs per second of the thread's own CPU time */
} fma_ctx;

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Timed with the thread's CPU clock: when another process shares the core
 * (the vCPUs here run other jobs too), the wall clock would charge its time
 * to the loop and report a ceiling far below what the core can do. */
static void fma_work(void *ctx, int index, int n_threads)
{
    (void)n_threads;
    fma_ctx *f = ctx;
    double t0 = thread_cpu_s();
    double flops = probes_fma_loop(f->iterations);
    double s = thread_cpu_s() - t0;
    if (s > 0 && flops / s > f->best_per_thread[index])
        f->best_per_thread[index] = flops / s;
}

/* Iterations for about `seconds` of the loop on one core, measured after
 * a warm-up so the clock has ramped up. */
static uint64_t fma_calibrate(double seconds)
{
    uint64_t warm_until = hst_now_ns() + (uint64_t)(FMA_WARMUP_S * 1e9);
    while (hst_now_ns() < warm_until)
        probes_fma_loop(100000);
    uint64_t iterations = 100000;
    for (;;) {
        uint64_t t0 = hst_now_ns();
        probes_fma_loop(iterations);
        double s = (double)(hst_now_ns() - t0) * 1e-9;
        if (s > 0.02 || iterations > (1ull << 40))
            return (uint64_t)((double)iterations * seconds / (s > 0 ? s : 1e-9)) + 1;
        iterations *= 4;
    }
}

/* The threads run together (all cores busy, as in a run), each keeps its
 * best repetition, and the ceiling is their sum. */
static probes_metric measure_fma(int n_threads, probes_affinity *affinity, uint64_t iterations)
{
    fma_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.iterations = iterations;
    if (!probes_team_run(n_threads, affinity, fma_work, &ctx, FMA_REPS))
        return probes_metric_invalid("the FMA threads could not start");
    double total = 0;
    for (int i = 0; i < n_threads; i++)
        total += ctx.best_per_thread[i];
    return total > 0 ? probes_metric_of(total) : probes_metric_invalid("the FMA loop took no CPU time");
}

/* ---- the engine's matmul --------------------------------------------------------- */

static probes_metric measure_matmul(int n_threads, probes_affinity *affinity)
{
    hst_error herr;
    hst_pool *pool = hst_pool_create(n_threads, probes_affinity_bind_thread, affinity, &herr);
    if (!pool)
        return probes_metric_invalid("engine pool: %s", herr.msg);
    double gflops = hst_matmul_gflops(pool, MATMUL_M, MATMUL_N, MATMUL_K, MATMUL_REPS);
    hst_pool_free(pool);
    if (gflops <= 0)
        return probes_metric_invalid("the engine's matmul benchmark failed");
    return probes_metric_of(gflops * 1e9);
}

/* ---- measuring, in steps ------------------------------------------------------------ */

/* 1..P when P <= 8, else powers of two and P: a few seconds in all. */
static int thread_counts(int max_threads, int *counts)
{
    int n = 0;
    counts[n++] = 1; /* both sequences go on with 2 */
    for (int t = 2; t <= max_threads && n < PROBES_MAX_CEILING_ROWS - 1; t = max_threads <= 8 ? t + 1 : t * 2)
        counts[n++] = t;
    if (counts[n - 1] != max_threads)
        counts[n++] = max_threads;
    return n;
}

static uint64_t default_array_bytes(const probes_topo *topo)
{
    uint64_t l3 = topo ? probes_topo_l3_bytes(topo) : 0;
    uint64_t bytes = 4 * l3;
    if (bytes < 64 * MIB)
        bytes = 64 * MIB;
    if (bytes > 256 * MIB)
        bytes = 256 * MIB;
    return bytes;
}

static void fill_identity(probes_ceilings *out, int pu_count)
{
    memset(out, 0, sizeof *out);
    probes_machine_key(out->machine_key, sizeof out->machine_key);
    probes_cpu_model(out->cpu_model, sizeof out->cpu_model);
    struct utsname u;
    snprintf(out->kernel, sizeof out->kernel, "%s", uname(&u) == 0 ? u.release : "unknown");
    snprintf(out->fma_isa, sizeof out->fma_isa, "%s", probes_fma_isa());
    out->pu_count = pu_count;
    out->measured_unix_s = (int64_t)time(NULL);
}

/* Per row, in this order: triad, FMA, matmul, then the read of each
 * memory level; after the rows, the size checks of each cache level. */
enum { STEP_TRIAD, STEP_FMA, STEP_MATMUL, STEP_FIRST_READ };

static const char *const step_names[STEP_FIRST_READ] = {"triad", "FMA", "matmul"};

/* The index into check_level/check_rung of a check step; -1 for a row's step. */
static int check_of_step(const probes_ceiling_plan *plan, int step)
{
    int k = step - plan->result.n_rows * plan->steps_per_row;
    return k >= 0 ? k : -1;
}

static probes_metric *step_metric(probes_ceiling_plan *plan, int step)
{
    int check = check_of_step(plan, step);
    if (check >= 0)
        return &plan->result.levels[plan->check_level[check]].check_read_bytes_per_s[plan->check_rung[check]];
    probes_ceiling_row *row = &plan->result.rows[step / plan->steps_per_row];
    int kind = step % plan->steps_per_row;
    switch (kind) {
    case STEP_TRIAD:
        return &row->triad_bytes_per_s;
    case STEP_FMA:
        return &row->fma_flops_per_s;
    case STEP_MATMUL:
        return &row->matmul_flops_per_s;
    default:
        return &row->read_bytes_per_s[kind - STEP_FIRST_READ];
    }
}

static void plan_steps(probes_ceiling_plan *plan)
{
    probes_ceilings *c = &plan->result;
    uint64_t max = plan->opts.read_set_max;
    plan->steps_per_row = STEP_FIRST_READ + c->n_levels;
    plan->n_checks = 0;
    probes_ceilings_plan_checks(c, max);
    for (int l = 0; l + 1 < c->n_levels; l++)
        for (int i = 0; i < c->levels[l].n_checks; i++) {
            plan->check_level[plan->n_checks] = l;
            plan->check_rung[plan->n_checks++] = i;
        }
    plan->n_steps = c->n_rows * plan->steps_per_row + plan->n_checks;
    for (int k = 0; k < plan->n_steps; k++)
        *step_metric(plan, k) = probes_metric_invalid("not measured yet");
}

static int plan_with(const probes_ceiling_opts *opts, const probes_topo *topo, probes_ceiling_plan *plan, char *err,
                     size_t err_len)
{
    memset(plan, 0, sizeof *plan);
    plan->opts = opts ? *opts : (probes_ceiling_opts){0};
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int pus = topo ? probes_topo_pu_count(topo) : (int)(online > 0 ? online : 1);
    if (pus < 1) /* a topology without PUs: thread_counts would read counts[-1] (clang-tidy) */
        pus = 1;
    fill_identity(&plan->result, pus);
    int max_threads = plan->opts.max_threads > 0 && plan->opts.max_threads < pus ? plan->opts.max_threads : pus;
    if (max_threads > PROBES_MAX_THREADS) {
        probes_set_why(err, err_len, "ceilings: %d threads exceed the supported %d", max_threads, PROBES_MAX_THREADS);
        return -1;
    }
    plan->result.triad_array_bytes = plan->opts.triad_array_bytes ? plan->opts.triad_array_bytes
                                                                   : default_array_bytes(topo);
    probes_ceilings_levels_from_topo(topo, &plan->result);
    plan->result.read_set_max = plan->opts.read_set_max;
    int counts[PROBES_MAX_CEILING_ROWS];
    plan->result.n_rows = thread_counts(max_threads, counts);
    for (int r = 0; r < plan->result.n_rows; r++)
        plan->result.rows[r].threads = counts[r];
    plan_steps(plan);
    return 0;
}

int probes_ceilings_plan(const probes_ceiling_opts *opts, probes_ceiling_plan *plan, char *err, size_t err_len)
{
    char topo_err[PROBES_WHY_MAX];
    probes_topo *topo = probes_topo_load(topo_err, sizeof topo_err);
    int rc = plan_with(opts, topo, plan, err, err_len);
    probes_topo_free(topo);
    return rc;
}

void probes_ceilings_step_name(const probes_ceiling_plan *plan, int step, char *buf, size_t len)
{
    int check = check_of_step(plan, step);
    if (check >= 0) {
        const probes_memory_level *lv = &plan->result.levels[plan->check_level[check]];
        snprintf(buf, len, "%s size check %d of %d", lv->name, plan->check_rung[check] + 1, lv->n_checks);
        return;
    }
    int threads = plan->result.rows[step / plan->steps_per_row].threads, kind = step % plan->steps_per_row;
    const char *plural = threads == 1 ? "" : "s";
    if (kind < STEP_FIRST_READ)
        snprintf(buf, len, "%s, %d thread%s", step_names[kind], threads, plural);
    else
        snprintf(buf, len, "%s read, %d thread%s", plan->result.levels[kind - STEP_FIRST_READ].name, threads, plural);
}

static probes_metric run_step_with(const probes_ceiling_plan *plan, int step, const probes_topo *topo,
                                   uint64_t fma_iterations)
{
    int check = check_of_step(plan, step);
    int n = check >= 0 ? 1 : plan->result.rows[step / plan->steps_per_row].threads;
    int kind = check >= 0 ? -1 : step % plan->steps_per_row;
    if (kind == STEP_MATMUL && plan->opts.skip_matmul)
        return probes_metric_invalid("not measured (skipped)");
    char err[PROBES_WHY_MAX];
    probes_affinity *aff = topo ? probes_affinity_create(topo, "compact", n, err, sizeof err) : NULL;
    probes_metric m;
    if (check >= 0) {
        m = probes_measure_read(1, aff,
                                plan->result.levels[plan->check_level[check]].check_set_bytes[plan->check_rung[check]]);
    } else if (kind == STEP_TRIAD) {
        m = measure_triad(n, aff, plan->result.triad_array_bytes);
    } else if (kind == STEP_FMA) {
        if (!fma_iterations)
            fma_iterations = fma_calibrate(plan->opts.fma_seconds > 0 ? plan->opts.fma_seconds : 0.05);
        m = measure_fma(n, aff, fma_iterations);
    } else if (kind == STEP_MATMUL) {
        m = measure_matmul(n, aff);
    } else {
        uint64_t set = probes_level_read_set(&plan->result, kind - STEP_FIRST_READ, n, plan->opts.read_set_max);
        m = probes_measure_read(n, aff, set);
    }
    probes_affinity_free(aff);
    return m;
}

probes_metric probes_ceilings_run_step(const probes_ceiling_plan *plan, int step)
{
    char topo_err[PROBES_WHY_MAX];
    probes_topo *topo = probes_topo_load(topo_err, sizeof topo_err);
    probes_metric m = run_step_with(plan, step, topo, 0);
    probes_topo_free(topo);
    return m;
}

void probes_ceilings_set_step(probes_ceiling_plan *plan, int step, const probes_metric *m)
{
    *step_metric(plan, step) = *m;
    probes_ceilings_judge(&plan->result);
}

/* Every step in turn, in this process, the FMA loop calibrated once. */
int probes_ceilings_measure(const probes_ceiling_opts *opts, probes_ceilings *out, char *err, size_t err_len)
{
    char topo_err[PROBES_WHY_MAX];
    probes_topo *topo = probes_topo_load(topo_err, sizeof topo_err);
    probes_ceiling_plan *plan = malloc(sizeof *plan);
    int rc = plan ? plan_with(opts, topo, plan, err, err_len) : -1;
    if (!plan)
        probes_set_why(err, err_len, "ceilings: out of memory");
    if (rc == 0) {
        uint64_t fma_iterations = fma_calibrate(plan->opts.fma_seconds > 0 ? plan->opts.fma_seconds : 0.05);
        for (int k = 0; k < plan->n_steps; k++) {
            probes_metric m = run_step_with(plan, k, topo, fma_iterations);
            probes_ceilings_set_step(plan, k, &m);
        }
        *out = plan->result;
    }
    free(plan);
    probes_topo_free(topo);
    return rc;
}

/* ---- machine key and cache path ----------------------------------------------------- */

static void cpu_signature(char *buf, size_t len)
{
    int family = -1, model = -1, stepping = -1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f) && (family < 0 || model < 0 || stepping < 0)) {
        if (family < 0)
            sscanf(line, "cpu family : %d", &family);
        if (model < 0)
            sscanf(line, "model : %d", &model);
        if (stepping < 0)
            sscanf(line, "stepping : %d", &stepping);
    }
    if (f)
        fclose(f);
    snprintf(buf, len, "family %d model %d stepping %d", family, model, stepping);
}

void probes_machine_key(char *buf, size_t len)
{
    char model[128], sig[64];
    probes_cpu_model(model, sizeof model);
    cpu_signature(sig, sizeof sig);
    struct utsname u;
    long pus = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(buf, len, "%s (%s), %ld PUs, Linux %s", model, sig, pus, uname(&u) == 0 ? u.release : "unknown");
}

/* Letters, digits, '.', '-' and '_' only, runs of anything else as one '-'. */
static void key_to_filename(const char *key, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = key; *p && o + 1 < len; p++) {
        char ch = *p;
        int keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                   ch == '_';
        if (keep)
            out[o++] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        else if (o > 0 && out[o - 1] != '-')
            out[o++] = '-';
    }
    while (o > 0 && out[o - 1] == '-')
        o--;
    out[o] = '\0';
}

static const char *cache_home(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/') /* the XDG spec ignores relative paths */
        return xdg;
    const char *home = getenv("HOME");
    if (!home || !*home) {
        const struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home)
        return NULL;
    snprintf(buf, len, "%s/.cache", home);
    return buf;
}

int probes_ceilings_cache_path(char *buf, size_t len, char *err, size_t err_len)
{
    char home_buf[512], key[256], file[256];
    const char *dir = cache_home(home_buf, sizeof home_buf);
    if (!dir) {
        probes_set_why(err, err_len, "ceilings: no cache directory: set XDG_CACHE_HOME or HOME");
        return -1;
    }
    probes_machine_key(key, sizeof key);
    key_to_filename(key, file, sizeof file);
    if ((size_t)snprintf(buf, len, "%s/hstprof/ceilings-%s.json", dir, file) >= len) {
        probes_set_why(err, err_len, "ceilings: cache path too long under %s", dir);
        return -1;
    }
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------------ */


/* One object per level: hwloc's figures, the size check and its verdict. */
static json_t *levels_to_json(const probes_ceilings *c)
{
    json_t *levels = json_array();
    for (int l = 0; l < c->n_levels; l++) {
        const probes_memory_level *lv = &c->levels[l];
        json_t *o = json_pack("{s:s}", "name", lv->name);
        if (l + 1 < c->n_levels) {
            json_object_set_new(o, "size_bytes", json_integer((json_int_t)lv->size_bytes));
            json_object_set_new(o, "instances", json_integer(lv->instances));
            json_object_set_new(o, "cores_per_instance", json_integer(lv->cores_per_instance));
            json_t *checks = json_array();
            for (int i = 0; i < lv->n_checks; i++) {
                json_t *check = json_pack("{s:I}", "set_bytes", (json_int_t)lv->check_set_bytes[i]);
                probes_metric_put_json(check, "read_bytes_per_s", &lv->check_read_bytes_per_s[i]);
                json_array_append_new(checks, check);
            }
            json_object_set_new(o, "checks", checks);
            json_object_set_new(o, "suspicious", json_boolean(lv->suspicious));
            if (lv->suspicious)
                json_object_set_new(o, "suspicious_because", json_string(lv->suspicious_why));
            probes_json_put_or_why(o, "usable_bytes", lv->usable_bytes ? json_integer((json_int_t)lv->usable_bytes) : NULL,
                                   lv->suspicious_why);
        }
        json_array_append_new(levels, o);
    }
    return levels;
}

static json_t *ceilings_to_json(const probes_ceilings *c)
{
    json_t *root = json_object(), *rows = json_array();
    json_object_set_new(root, "format", json_string(CACHE_FORMAT));
    json_object_set_new(root, "machine_key", json_string(c->machine_key));
    json_object_set_new(root, "cpu_model", json_string(c->cpu_model));
    json_object_set_new(root, "pu_count", json_integer(c->pu_count));
    json_object_set_new(root, "kernel", json_string(c->kernel));
    json_object_set_new(root, "fma_isa", json_string(c->fma_isa));
    json_object_set_new(root, "triad_array_bytes", json_integer((json_int_t)c->triad_array_bytes));
    probes_json_put_or_why(root, "memory_bytes", c->memory_bytes ? json_integer((json_int_t)c->memory_bytes) : NULL,
                           "sysconf gives no memory size");
    json_object_set_new(root, "measured_unix_s", json_integer((json_int_t)c->measured_unix_s));
    if (c->read_set_max)
        json_object_set_new(root, "read_set_max_bytes", json_integer((json_int_t)c->read_set_max));
    json_object_set_new(root, "levels", levels_to_json(c));
    for (int r = 0; r < c->n_rows; r++) {
        json_t *row = json_object(), *reads = json_array();
        json_object_set_new(row, "threads", json_integer(c->rows[r].threads));
        probes_metric_put_json(row, "triad_bytes_per_s", &c->rows[r].triad_bytes_per_s);
        probes_metric_put_json(row, "fma_flops_per_s", &c->rows[r].fma_flops_per_s);
        probes_metric_put_json(row, "matmul_flops_per_s", &c->rows[r].matmul_flops_per_s);
        for (int l = 0; l < c->n_levels; l++) {
            json_t *read = json_pack("{s:s, s:I}", "level", c->levels[l].name, "set_bytes",
                                     (json_int_t)probes_level_read_set(c, l, c->rows[r].threads, c->read_set_max));
            probes_metric_put_json(read, "bytes_per_s", &c->rows[r].read_bytes_per_s[l]);
            json_array_append_new(reads, read);
        }
        json_object_set_new(row, "read", reads);
        json_array_append_new(rows, row);
    }
    json_object_set_new(root, "rows", rows);
    return root;
}

static int mkdir_parents(const char *path, char *err, size_t err_len)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            probes_set_why(err, err_len, "%s: cannot create directory %s: %s", path, dir, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    return 0;
}

static probes_file_writer file_writer;

void probes_set_file_writer(probes_file_writer writer) { file_writer = writer; }

/* Written atomically like every export: a full disk or a signal leaves the
 * cache as it was (runs read it while `hstprof ceilings` may be writing it). */
int probes_ceilings_save(const char *path, const probes_ceilings *c, char *err, size_t err_len)
{
    if (!file_writer) {
        probes_set_why(err, err_len, "%s: cannot write the ceilings cache: no file writer was set", path);
        return -1;
    }
    if (mkdir_parents(path, err, err_len) != 0)
        return -1;
    /* The verdicts written are the ones the figures give, whoever filled c. */
    probes_ceilings *judged = malloc(sizeof *judged);
    if (judged) {
        *judged = *c;
        probes_ceilings_judge(judged);
    }
    json_t *root = judged ? ceilings_to_json(judged) : NULL;
    free(judged);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(root);
    char *line = text ? realloc(text, strlen(text) + 2) : NULL;
    if (!line) {
        free(text);
        probes_set_why(err, err_len, "%s: cannot write the ceilings cache: out of memory", path);
        return -1;
    }
    strcat(line, "\n");
    char why[1400]; /* the path (up to 1 KiB) and the reason */
    int rc = file_writer(path, line, strlen(line), why, sizeof why);
    free(line);
    if (rc != 0)
        probes_set_why(err, err_len, "%s", why);
    return rc;
}

static probes_metric json_get_metric(const json_t *row, const char *name)
{
    const json_t *v = json_object_get(row, name);
    if (json_is_number(v))
        return probes_metric_of(json_number_value(v));
    char key[64];
    snprintf(key, sizeof key, "%s_why_not", name);
    const char *why = json_string_value(json_object_get(row, key));
    return probes_metric_invalid("%s", why ? why : "not in the cache file");
}

static void json_copy_string(const json_t *root, const char *name, char *out, size_t len)
{
    const char *s = json_string_value(json_object_get(root, name));
    snprintf(out, len, "%s", s ? s : "");
}

static uint64_t json_get_bytes(const json_t *o, const char *name)
{
    json_int_t v = json_integer_value(json_object_get(o, name));
    return v > 0 ? (uint64_t)v : 0;
}

/* The levels: caches, each larger than 0, then DRAM last. */
static int levels_from_json(const json_t *levels, probes_ceilings *out, const char *path, char *err, size_t err_len)
{
    size_t n = json_array_size(levels);
    const char *last = n ? json_string_value(json_object_get(json_array_get(levels, n - 1), "name")) : NULL;
    if (!json_is_array(levels) || n == 0 || n > PROBES_MAX_MEMORY_LEVELS || !last || strcmp(last, "DRAM") != 0) {
        probes_set_why(err, err_len, "%s: \"levels\" must be an array of 1 to %d levels, DRAM last", path,
                       PROBES_MAX_MEMORY_LEVELS);
        return -1;
    }
    out->n_levels = (int)n;
    for (int l = 0; l < out->n_levels; l++) {
        const json_t *o = json_array_get(levels, (size_t)l);
        probes_memory_level *lv = &out->levels[l];
        json_copy_string(o, "name", lv->name, sizeof lv->name);
        lv->size_bytes = json_get_bytes(o, "size_bytes");
        lv->instances = (int)json_integer_value(json_object_get(o, "instances"));
        lv->cores_per_instance = (int)json_integer_value(json_object_get(o, "cores_per_instance"));
        const json_t *checks = json_object_get(o, "checks");
        lv->n_checks = (int)json_array_size(checks);
        if (lv->n_checks > PROBES_LEVEL_CHECKS) {
            probes_set_why(err, err_len, "%s: level %s: at most %d checks", path, lv->name, PROBES_LEVEL_CHECKS);
            return -1;
        }
        for (int i = 0; i < lv->n_checks; i++) {
            lv->check_set_bytes[i] = json_get_bytes(json_array_get(checks, (size_t)i), "set_bytes");
            lv->check_read_bytes_per_s[i] = json_get_metric(json_array_get(checks, (size_t)i), "read_bytes_per_s");
        }
        if (l + 1 < out->n_levels && (lv->size_bytes == 0 || lv->instances < 1 || lv->cores_per_instance < 1)) {
            probes_set_why(err, err_len, "%s: level %s: a cache needs size_bytes, instances and cores_per_instance "
                                         "of at least 1", path, lv->name);
            return -1;
        }
    }
    return 0;
}

/* Each row's reads, one per level in the levels' order. */
static int reads_from_json(const json_t *reads, probes_ceilings *out, int r, const char *path, char *err,
                           size_t err_len)
{
    if (json_array_size(reads) != (size_t)out->n_levels) {
        probes_set_why(err, err_len, "%s: row %d: \"read\" must have one entry per level (%d)", path, r,
                       out->n_levels);
        return -1;
    }
    for (int l = 0; l < out->n_levels; l++) {
        const json_t *read = json_array_get(reads, (size_t)l);
        const char *name = json_string_value(json_object_get(read, "level"));
        if (!name || strcmp(name, out->levels[l].name) != 0) {
            probes_set_why(err, err_len, "%s: row %d: read %d is not of level %s", path, r, l, out->levels[l].name);
            return -1;
        }
        out->rows[r].read_bytes_per_s[l] = json_get_metric(read, "bytes_per_s");
    }
    return 0;
}

static int rows_from_json(const json_t *rows, probes_ceilings *out, const char *path, char *err, size_t err_len)
{
    if (!json_is_array(rows) || json_array_size(rows) == 0 || json_array_size(rows) > PROBES_MAX_CEILING_ROWS) {
        probes_set_why(err, err_len, "%s: \"rows\" must be an array of 1 to %d rows", path, PROBES_MAX_CEILING_ROWS);
        return -1;
    }
    out->n_rows = (int)json_array_size(rows);
    for (int r = 0; r < out->n_rows; r++) {
        const json_t *row = json_array_get(rows, (size_t)r);
        json_int_t threads = json_integer_value(json_object_get(row, "threads"));
        if (threads < 1 || threads > PROBES_MAX_THREADS || (r > 0 && threads <= out->rows[r - 1].threads)) {
            probes_set_why(err, err_len, "%s: row %d: \"threads\" must increase from 1 to %d", path, r,
                           PROBES_MAX_THREADS);
            return -1;
        }
        out->rows[r].threads = (int)threads;
        out->rows[r].triad_bytes_per_s = json_get_metric(row, "triad_bytes_per_s");
        out->rows[r].fma_flops_per_s = json_get_metric(row, "fma_flops_per_s");
        out->rows[r].matmul_flops_per_s = json_get_metric(row, "matmul_flops_per_s");
        if (reads_from_json(json_object_get(row, "read"), out, r, path, err, err_len) != 0)
            return -1;
    }
    return 0;
}

int probes_ceilings_load(const char *path, probes_ceilings *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        if (jerr.line < 0)
            probes_set_why(err, err_len, "%s: %s", path, jerr.text);
        else
            probes_set_why(err, err_len, "%s: bad JSON at line %d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    const char *format = json_string_value(json_object_get(root, "format"));
    int rc = -1;
    if (format && strcmp(format, CACHE_FORMAT_1) == 0) {
        probes_set_why(err, err_len, "%s: ceilings of an earlier hstprof, without read ceilings per cache level; "
                                     "run 'hstprof ceilings' to measure them again", path);
    } else if (!format || strcmp(format, CACHE_FORMAT) != 0) {
        probes_set_why(err, err_len, "%s: not a ceilings cache (\"format\" is not \"%s\")", path, CACHE_FORMAT);
    } else {
        json_copy_string(root, "machine_key", out->machine_key, sizeof out->machine_key);
        json_copy_string(root, "cpu_model", out->cpu_model, sizeof out->cpu_model);
        json_copy_string(root, "kernel", out->kernel, sizeof out->kernel);
        json_copy_string(root, "fma_isa", out->fma_isa, sizeof out->fma_isa);
        out->pu_count = (int)json_integer_value(json_object_get(root, "pu_count"));
        out->triad_array_bytes = (uint64_t)json_integer_value(json_object_get(root, "triad_array_bytes"));
        out->memory_bytes = json_get_bytes(root, "memory_bytes");
        out->read_set_max = json_get_bytes(root, "read_set_max_bytes");
        out->measured_unix_s = (int64_t)json_integer_value(json_object_get(root, "measured_unix_s"));
        rc = levels_from_json(json_object_get(root, "levels"), out, path, err, err_len);
        if (rc == 0)
            rc = rows_from_json(json_object_get(root, "rows"), out, path, err, err_len);
        if (rc == 0)
            probes_ceilings_judge(out); /* the verdicts follow from the figures, whoever wrote the file */
    }
    json_decref(root);
    return rc;
}

int probes_ceilings_load_or_measure(probes_ceilings *out, const char **source, char *err, size_t err_len)
{
    char path[1024], key[256], ignored[PROBES_WHY_MAX];
    int have_path = probes_ceilings_cache_path(path, sizeof path, ignored, sizeof ignored) == 0;
    probes_machine_key(key, sizeof key);
    if (have_path && probes_ceilings_load(path, out, ignored, sizeof ignored) == 0 &&
        strcmp(out->machine_key, key) == 0) {
        *source = "cached";
        return 0;
    }
    if (probes_ceilings_measure(NULL, out, err, err_len) != 0)
        return -1;
    int saved = have_path && probes_ceilings_save(path, out, ignored, sizeof ignored) == 0;
    *source = saved ? "measured" : "measured (cache not written)";
    return 0;
}
