/* affinity.c — thread placement policies (none, compact, scatter, LIST) as
 * a PU per thread, and the thread-start callback that applies them. */
#include "probes/topo_internal.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct probes_affinity {
    const probes_topo *topo; /* borrowed: must outlive the affinity */
    char policy[16];
    int n_threads;
    int pu[PROBES_MAX_THREADS];          /* OS index, -1 none */
    int bind_status[PROBES_MAX_THREADS]; /* 0 not attempted, 1 bound, -errno failed */
    int wrapped;
    hwloc_bitmap_t saved_caller; /* thread 0's binding before we bound it */
};

/* ---- the CPUs this process may use ------------------------------------------------ */

/* Captured once, on the first call: every command asks (its argument
 * checks) before any thread is bound, and a thread bound since then (the
 * run's calling thread is pool thread 0) must not shrink what the process
 * was given by taskset or a cgroup. */
#define ALLOWED_MAX_CPUS 4096
static cpu_set_t *allowed_set;
static size_t allowed_size;
static int allowed_count; /* 0: unknown (no restriction applied) */
static pthread_once_t allowed_once = PTHREAD_ONCE_INIT;

static void capture_allowed(void)
{
    /* Sized for the CPUs the kernel may number, not just those online:
     * sched_getaffinity fails with EINVAL when the set is smaller than its mask. */
    long configured = sysconf(_SC_NPROCESSORS_CONF);
    int n_cpus = configured > 1024 ? (int)configured : 1024;
    if (n_cpus > ALLOWED_MAX_CPUS)
        n_cpus = ALLOWED_MAX_CPUS;
    allowed_set = CPU_ALLOC(n_cpus);
    allowed_size = CPU_ALLOC_SIZE(n_cpus);
    if (allowed_set && sched_getaffinity(0, allowed_size, allowed_set) == 0)
        allowed_count = CPU_COUNT_S(allowed_size, allowed_set);
}

/* Whether the process may run on PU os_index (1 when unknown). */
static int cpu_allowed(int os_index)
{
    pthread_once(&allowed_once, capture_allowed);
    if (allowed_count <= 0 || os_index < 0 || (size_t)os_index >= allowed_size * 8)
        return allowed_count <= 0;
    return CPU_ISSET_S((size_t)os_index, allowed_size, allowed_set) != 0;
}

static int allowed_cpu_count(void)
{
    pthread_once(&allowed_once, capture_allowed);
    return allowed_count;
}

/* ---- orderings ----------------------------------------------------------------- */

/* Where a PU sits: the keys the policies sort by. */
typedef struct {
    int os_index;
    int pu_in_core, core, core_in_l3, l3_in_pkg, pkg;
} pu_place;

static int first_logical_inside(hwloc_topology_t t, hwloc_obj_t container, hwloc_obj_type_t type)
{
    hwloc_obj_t first = container ? hwloc_get_obj_inside_cpuset_by_type(t, container->cpuset, type, 0) : NULL;
    return first ? (int)first->logical_index : 0;
}

static pu_place place_of(hwloc_topology_t t, hwloc_obj_t pu)
{
    hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, pu);
    hwloc_obj_t l3 = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_L3CACHE, pu);
    hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, pu);
    if (!core)
        core = pu; /* no core level: each PU is its own core */
    pu_place p;
    p.os_index = (int)pu->os_index;
    p.pu_in_core = (int)pu->logical_index - first_logical_inside(t, core, HWLOC_OBJ_PU);
    p.core = (int)core->logical_index;
    p.core_in_l3 = p.core - first_logical_inside(t, l3 ? l3 : pkg, core->type);
    p.l3_in_pkg = l3 ? (int)l3->logical_index - first_logical_inside(t, pkg, HWLOC_OBJ_L3CACHE) : 0;
    p.pkg = pkg ? (int)pkg->logical_index : 0;
    return p;
}

/* compact: SMT rank first (all cores before siblings), then cores in
 * topology order, which keeps one L3 and one package together. */
static int compare_compact(const void *a, const void *b)
{
    const pu_place *x = a, *y = b;
    if (x->pu_in_core != y->pu_in_core)
        return x->pu_in_core - y->pu_in_core;
    return x->core - y->core;
}

/* scatter: SMT rank first, then core within its L3, L3 within its package,
 * and the package last: consecutive threads change package first. */
static int compare_scatter(const void *a, const void *b)
{
    const pu_place *x = a, *y = b;
    if (x->pu_in_core != y->pu_in_core)
        return x->pu_in_core - y->pu_in_core;
    if (x->core_in_l3 != y->core_in_l3)
        return x->core_in_l3 - y->core_in_l3;
    if (x->l3_in_pkg != y->l3_in_pkg)
        return x->l3_in_pkg - y->l3_in_pkg;
    if (x->pkg != y->pkg)
        return x->pkg - y->pkg;
    return x->core - y->core;
}

static int ordered_pus(const probes_topo *topo, int scatter, int *order, char *err, size_t err_len)
{
    int n = probes_topo_pu_count(topo);
    pu_place *places = calloc((size_t)(n > 0 ? n : 1), sizeof *places);
    if (!places) {
        probes_set_why(err, err_len, "affinity: out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++)
        places[i] = place_of(topo->topo, hwloc_get_obj_by_type(topo->topo, HWLOC_OBJ_PU, (unsigned)i));
    qsort(places, (size_t)n, sizeof *places, scatter ? compare_scatter : compare_compact);
    /* Under taskset or a cgroup the policies place threads only on the PUs
     * the process was given (a synthetic topology describes another machine). */
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (topo->synthetic || cpu_allowed(places[i].os_index))
            order[kept++] = places[i].os_index;
    if (kept == 0) /* the mask names no PU of the topology: ignore it rather than place nothing */
        for (int i = 0; i < n; i++)
            order[kept++] = places[i].os_index;
    free(places);
    return kept;
}

/* ---- PU lists ------------------------------------------------------------------- */

static int parse_number(const char **p, int *out)
{
    if (!isdigit((unsigned char)**p))
        return -1;
    long v = 0;
    while (isdigit((unsigned char)**p) && v <= 1000000)
        v = v * 10 + (*(*p)++ - '0');
    *out = (int)v;
    return v > 1000000 ? -1 : 0;
}

int probes_parse_pu_list(const char *spec, int *pus, int max, int *n, char *err, size_t err_len)
{
    const char *p = spec;
    *n = 0;
    for (;;) {
        int lo, hi;
        if (parse_number(&p, &lo) != 0)
            goto bad;
        hi = lo;
        if (*p == '-') {
            p++;
            if (parse_number(&p, &hi) != 0)
                goto bad;
            if (hi < lo) {
                probes_set_why(err, err_len, "affinity: range %d-%d in '%s' runs backwards", lo, hi, spec);
                return -1;
            }
        }
        for (int v = lo; v <= hi; v++) {
            if (*n >= max) {
                probes_set_why(err, err_len, "affinity: list '%s' has more than %d entries", spec, max);
                return -1;
            }
            pus[(*n)++] = v;
        }
        if (*p == '\0')
            return 0;
        if (*p++ != ',')
            goto bad;
    }
bad:
    probes_set_why(err, err_len, "affinity: bad PU list '%s': expected PU numbers and ranges like 0,2,4-7", spec);
    return -1;
}

static int check_list_pus(const probes_topo *topo, const int *pus, int n, char *err, size_t err_len)
{
    for (int i = 0; i < n; i++) {
        if (hwloc_get_pu_obj_by_os_index(topo->topo, (unsigned)pus[i]))
            continue;
        char all[256];
        hwloc_bitmap_list_snprintf(all, sizeof all, hwloc_topology_get_topology_cpuset(topo->topo));
        probes_set_why(err, err_len, "affinity: PU %d does not exist on this %s (PUs: %s)", pus[i],
                       topo->synthetic ? "topology" : "machine", all);
        return -1;
    }
    return 0;
}

/* ---- plans ------------------------------------------------------------------------ */

static int entries_for(probes_affinity *a, const char *spec, int *entries, char *err, size_t err_len)
{
    int max = PROBES_MAX_THREADS * 4;
    if (strcmp(spec, "none") == 0)
        return 0;
    if (strcmp(spec, "compact") == 0 || strcmp(spec, "scatter") == 0) {
        if (probes_topo_pu_count(a->topo) > max) {
            probes_set_why(err, err_len, "affinity: more than %d PUs are not supported", max);
            return -1;
        }
        return ordered_pus(a->topo, spec[0] == 's', entries, err, err_len);
    }
    if (!isdigit((unsigned char)spec[0])) {
        probes_set_why(err, err_len, "affinity: unknown policy '%s' (expected none, compact, scatter or a PU list "
                                     "like 0,2,4-7)", spec);
        return -1;
    }
    int n;
    if (probes_parse_pu_list(spec, entries, max, &n, err, err_len) != 0 ||
        check_list_pus(a->topo, entries, n, err, err_len) != 0)
        return -1;
    return n;
}

probes_affinity *probes_affinity_create(const probes_topo *t, const char *spec, int n_threads, char *err,
                                        size_t err_len)
{
    if (n_threads < 1 || n_threads > PROBES_MAX_THREADS) {
        probes_set_why(err, err_len, "affinity: %d threads: expected 1 to %d", n_threads, PROBES_MAX_THREADS);
        return NULL;
    }
    probes_affinity *a = calloc(1, sizeof *a);
    int *entries = calloc(PROBES_MAX_THREADS * 4, sizeof *entries);
    if (!a || !entries) {
        free(a), free(entries);
        probes_set_why(err, err_len, "affinity: out of memory");
        return NULL;
    }
    a->topo = t;
    a->n_threads = n_threads;
    int n = entries_for(a, spec, entries, err, err_len);
    if (n < 0) {
        free(a), free(entries);
        return NULL;
    }
    snprintf(a->policy, sizeof a->policy, "%s", isdigit((unsigned char)spec[0]) ? "list" : spec);
    /* Threads beyond the entries wrap around and share PUs. */
    for (int i = 0; i < n_threads; i++)
        a->pu[i] = n > 0 ? entries[i % n] : -1;
    a->wrapped = n > 0 && n_threads > n;
    free(entries);
    return a;
}

void probes_affinity_free(probes_affinity *a)
{
    if (!a)
        return;
    if (a->saved_caller) {
        hwloc_set_cpubind(a->topo->topo, a->saved_caller, HWLOC_CPUBIND_THREAD);
        hwloc_bitmap_free(a->saved_caller);
    }
    free(a);
}

const char *probes_affinity_policy(const probes_affinity *a)
{
    return a->policy;
}

int probes_affinity_threads(const probes_affinity *a)
{
    return a->n_threads;
}

int probes_affinity_pu(const probes_affinity *a, int thread_index)
{
    return thread_index >= 0 && thread_index < a->n_threads ? a->pu[thread_index] : -1;
}

int probes_affinity_wrapped(const probes_affinity *a)
{
    return a->wrapped;
}

/* ---- binding ---------------------------------------------------------------------- */

void probes_affinity_bind_thread(int thread_index, void *user)
{
    probes_affinity *a = user;
    if (!a || thread_index < 0 || thread_index >= a->n_threads || a->pu[thread_index] < 0)
        return;
    hwloc_topology_t t = a->topo->topo;
    if (a->topo->synthetic) {
        /* hwloc would "bind" to a made-up machine's PU and report success. */
        a->bind_status[thread_index] = -ENOTSUP;
        return;
    }
    if (thread_index == 0 && !a->saved_caller) {
        /* Thread 0 is the caller's own thread: remember its binding so that
         * probes_affinity_free can give it back. */
        a->saved_caller = hwloc_bitmap_alloc();
        if (a->saved_caller && hwloc_get_cpubind(t, a->saved_caller, HWLOC_CPUBIND_THREAD) != 0) {
            hwloc_bitmap_free(a->saved_caller);
            a->saved_caller = NULL;
        }
    }
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) {
        a->bind_status[thread_index] = -ENOMEM;
        return;
    }
    hwloc_bitmap_only(set, (unsigned)a->pu[thread_index]);
    int rc = hwloc_set_cpubind(t, set, HWLOC_CPUBIND_THREAD);
    a->bind_status[thread_index] = rc == 0 ? 1 : -(errno ? errno : EINVAL);
    hwloc_bitmap_free(set);
}

probes_metric probes_affinity_binding(const probes_affinity *a, int thread_index)
{
    if (thread_index < 0 || thread_index >= a->n_threads)
        return probes_metric_invalid("no thread %d in this plan", thread_index);
    int pu = a->pu[thread_index], status = a->bind_status[thread_index];
    if (pu < 0)
        return probes_metric_invalid("not bound: affinity none");
    if (status == 1)
        return probes_metric_of(1);
    if (status == 0)
        return probes_metric_invalid("not bound yet: the thread has not started");
    if (a->topo->synthetic)
        return probes_metric_invalid("cannot bind to PU %d of a synthetic topology", pu);
    return probes_metric_invalid("binding to PU %d failed: %s", pu, strerror(-status));
}

/* ---- the PU budget --------------------------------------------------------------- */

probes_pu_budget probes_pu_budget_get(void)
{
    probes_pu_budget b;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    b.machine = online > 0 ? (int)online : 1;
    b.allowed = allowed_cpu_count() > 0 ? allowed_cpu_count() : b.machine;
    if (b.allowed > b.machine)
        b.machine = b.allowed;
    return b;
}

int probes_threads_fit(int n_threads, probes_pu_budget b, char *why, size_t why_len)
{
    if (n_threads <= b.allowed)
        return 1;
    if (b.allowed >= b.machine)
        probes_set_why(why, why_len, "this machine has %d PU%s", b.machine, b.machine == 1 ? "" : "s");
    else
        probes_set_why(why, why_len, "only %d of this machine's %d PUs %s allowed to this process (taskset or a cgroup)",
                       b.allowed, b.machine, b.allowed == 1 ? "is" : "are");
    return 0;
}

/* How many distinct PUs the plan for spec gives n_threads threads (n_threads
 * when it binds none); -1 with why for a spec this machine cannot take. A
 * machine whose topology cannot be read is not the user's mistake: the run
 * reports that itself, so this check lets it through. */
static int planned_distinct_pus(const char *spec, const char *what, int n_threads, char *why, size_t why_len)
{
    if (strcmp(spec, "none") == 0)
        return n_threads;
    char err[256];
    probes_topo *topo = probes_topo_load(err, sizeof err);
    if (!topo)
        return n_threads;
    probes_affinity *a = probes_affinity_create(topo, spec, n_threads, err, sizeof err);
    int distinct = -1;
    if (a) {
        distinct = 0;
        for (int i = 0; i < n_threads; i++) {
            int seen_before = 0;
            for (int j = 0; j < i && !seen_before; j++)
                seen_before = a->pu[j] == a->pu[i];
            distinct += !seen_before;
        }
    } else {
        const char *problem = strncmp(err, "affinity: ", 10) == 0 ? err + 10 : err;
        probes_set_why(why, why_len, "%s: %s", what, problem);
    }
    probes_affinity_free(a);
    probes_topo_free(topo);
    return distinct;
}

/* The message quotes argv and profile paths, which may hold control characters. */
static int placement_error(char *why)
{
    for (unsigned char *p = (unsigned char *)why; p && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    return -1;
}

int probes_check_placement(const probes_placement *p, int *shared, char *why, size_t why_len)
{
    char affinity_what[300];
    if (shared)
        *shared = 0;
    if (p->threads < 1 || p->threads > PROBES_MAX_THREADS) {
        probes_set_why(why, why_len, "%s: expected 1 to %d threads", p->threads_what, PROBES_MAX_THREADS);
        return placement_error(why);
    }
    if (!p->affinity || !*p->affinity) {
        probes_set_why(why, why_len, "%s is empty: expected none, compact, scatter or a PU list like 0,2,4-7",
                       p->affinity_what ? p->affinity_what : "--affinity");
        return placement_error(why);
    }
    if (p->affinity_what)
        snprintf(affinity_what, sizeof affinity_what, "%s", p->affinity_what);
    else
        snprintf(affinity_what, sizeof affinity_what, "--affinity %s", p->affinity);
    int distinct = planned_distinct_pus(p->affinity, affinity_what, p->threads, why, why_len);
    if (distinct < 0)
        return placement_error(why);
    char reason[400];
    int fits = probes_threads_fit(p->threads, probes_pu_budget_get(), reason, sizeof reason);
    if (fits && distinct < p->threads) {
        probes_set_why(reason, sizeof reason, "%s places them on %d PU%s", affinity_what, distinct,
                       distinct == 1 ? "" : "s");
        fits = 0;
    }
    if (fits)
        return 0;
    if (p->oversubscribe) {
        if (shared)
            *shared = 1;
        return 0;
    }
    probes_set_why(why, why_len, "%s: %s, so threads would share PUs and timings would not scale; add --oversubscribe "
                                 "to run anyway", p->threads_what, reason);
    return placement_error(why);
}
