/* ceiling_levels.c — the memory levels a working set can be served from
 * (the data caches hwloc reports, then DRAM), the working set each level's
 * read ceiling is measured with, the read itself, and the check of each
 * cache's reported size. */
#include "probes/ceilings.h"
#include "probes/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)
#define READ_SET_MAX_DEFAULT (1024 * MIB)
#define DRAM_SET_MIN (64 * MIB)
/* Each repetition reads at least this much, so that the barriers around it
 * cost under a percent even for an L1-sized set. */
#define READ_BYTES_PER_REP (128 * MIB)
/* Best of many short repetitions, as for the FMA peak: the vCPUs here swing
 * by tens of percent and a ceiling is a best case. */
#define READ_REPS_CACHE 10
#define READ_REPS_DRAM 4
/* A cache's part must read at least this much faster than what lies beyond
 * the cache: a set hwloc says fits, read at the speed of the next level, is
 * not served by a cache of that size. */
#define CHECK_MIN_SPEEDUP 1.2

/* ---- the levels ------------------------------------------------------------------------- */

void probes_ceilings_levels_from_topo(const probes_topo *topo, probes_ceilings *c)
{
    probes_topo_cache caches[PROBES_MAX_MEMORY_LEVELS - 1];
    int n = topo ? probes_topo_caches(topo, caches, PROBES_MAX_MEMORY_LEVELS - 1) : 0;
    c->n_levels = 0;
    for (int i = 0; i < n; i++) {
        if (caches[i].size_bytes == 0)
            continue; /* a level without a size fits nothing */
        probes_memory_level *l = &c->levels[c->n_levels++];
        memset(l, 0, sizeof *l);
        snprintf(l->name, sizeof l->name, caches[i].depth == 1 ? "L1d" : "L%d", caches[i].depth);
        l->size_bytes = caches[i].size_bytes;
        l->instances = caches[i].instances;
        l->cores_per_instance = caches[i].cores_per_instance;
        l->usable_bytes = l->size_bytes;
    }
    probes_memory_level *dram = &c->levels[c->n_levels++];
    memset(dram, 0, sizeof *dram);
    snprintf(dram->name, sizeof dram->name, "DRAM");
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    c->memory_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

static int is_dram(const probes_ceilings *c, int l)
{
    return l == c->n_levels - 1;
}

/* Instances of level l that `threads` threads placed one per core reach. */
static uint64_t instances_reached(const probes_memory_level *lv, int threads)
{
    int per = lv->cores_per_instance > 0 ? lv->cores_per_instance : 1;
    int groups = (threads + per - 1) / per;
    if (lv->instances > 0 && groups > lv->instances)
        groups = lv->instances;
    return (uint64_t)(groups > 0 ? groups : 1);
}

uint64_t probes_level_capacity(const probes_ceilings *c, int l, int threads)
{
    if (l < 0 || l >= c->n_levels || is_dram(c, l))
        return 0;
    return c->levels[l].usable_bytes * instances_reached(&c->levels[l], threads);
}

/* hwloc's bytes of level l for `threads` threads: what the read sets are
 * planned with, before any check. */
static uint64_t reported_capacity(const probes_ceilings *c, int l, int threads)
{
    return c->levels[l].size_bytes * instances_reached(&c->levels[l], threads);
}

void probes_ceilings_plan_checks(probes_ceilings *c, uint64_t read_set_max)
{
    for (int l = 0; l + 1 < c->n_levels; l++) {
        probes_memory_level *lv = &c->levels[l];
        uint64_t before = l > 0 ? 2 * reported_capacity(c, l - 1, 1) : 0;
        lv->n_checks = 0;
        for (uint64_t set = lv->size_bytes / 2; lv->n_checks < PROBES_LEVEL_CHECKS && set > before; set /= 2) {
            lv->check_set_bytes[lv->n_checks] = read_set_max && set > read_set_max ? read_set_max : set;
            lv->check_read_bytes_per_s[lv->n_checks++] = probes_metric_invalid("not measured yet");
            if (l == 0)
                break; /* nothing before the L1 to mistake it for */
        }
    }
}

uint64_t probes_level_read_set(const probes_ceilings *c, int l, int threads, uint64_t read_set_max)
{
    uint64_t max = read_set_max ? read_set_max : READ_SET_MAX_DEFAULT, set;
    if (is_dram(c, l)) {
        uint64_t largest = c->n_levels > 1 ? reported_capacity(c, c->n_levels - 2, threads) : 0;
        set = 2 * largest > DRAM_SET_MIN ? 2 * largest : DRAM_SET_MIN;
    } else if (l == 0) {
        set = reported_capacity(c, 0, threads) / 2;
    } else {
        uint64_t past_previous = 2 * reported_capacity(c, l - 1, threads);
        uint64_t half = reported_capacity(c, l, threads) / 2;
        set = past_previous < half ? past_previous : half;
    }
    return set < max ? set : max;
}

/* ---- the read ------------------------------------------------------------------------------ */

typedef struct {
    float *p;
    size_t n;
    int passes;
} read_set;

/* First touch by the thread that reads the slice: its pages land on that
 * thread's NUMA node, and its cache holds them when the reads start. */
static void read_init_work(void *ctx, int index, int n_threads)
{
    read_set *r = ctx;
    size_t lo, hi;
    probes_team_slice(r->n, index, n_threads, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        r->p[i] = 1.0f;
}

static void read_work(void *ctx, int index, int n_threads)
{
    read_set *r = ctx;
    size_t lo, hi;
    probes_team_slice(r->n, index, n_threads, &lo, &hi);
    for (int k = 0; k < r->passes; k++)
        probes_read_loop(r->p + lo, hi - lo);
}

probes_metric probes_measure_read(int n, probes_affinity *affinity, uint64_t set_bytes)
{
    read_set r = {.n = set_bytes / sizeof(float)};
    if (r.n < (size_t)n * 64)
        return probes_metric_invalid("a working set of %llu bytes is too small to read on %d thread(s)",
                                     (unsigned long long)set_bytes, n);
    r.passes = set_bytes >= READ_BYTES_PER_REP ? 1 : (int)(READ_BYTES_PER_REP / set_bytes);
    r.p = aligned_alloc(64, (r.n * sizeof(float) + 63) / 64 * 64);
    if (!r.p)
        return probes_metric_invalid("could not allocate %llu MiB to read", (unsigned long long)(set_bytes / MIB));
    probes_team_run(n, affinity, read_init_work, &r, 1);
    uint64_t ns = probes_team_run(n, affinity, read_work, &r, set_bytes > 64 * MIB ? READ_REPS_DRAM : READ_REPS_CACHE);
    free(r.p);
    if (!ns)
        return probes_metric_invalid("the reading threads could not start");
    return probes_metric_of((double)r.passes * (double)(r.n * sizeof(float)) / ((double)ns * 1e-9));
}

/* ---- the size check ------------------------------------------------------------------------ */

/* Why hwloc's size of level l cannot be the machine's; "" when it can. */
static void static_verdict(const probes_ceilings *c, int l, char *why, size_t len)
{
    const probes_memory_level *lv = &c->levels[l];
    char size[32], other[32];
    probes_human_bytes(lv->size_bytes, size, sizeof size);
    why[0] = '\0';
    if (l > 0 && lv->size_bytes <= c->levels[l - 1].size_bytes) {
        probes_human_bytes(c->levels[l - 1].size_bytes, other, sizeof other);
        probes_set_why(why, len, "hwloc's %s of %s is not larger than its %s (%s): not used", lv->name, size,
                       c->levels[l - 1].name, other);
    } else if (c->memory_bytes && lv->size_bytes > c->memory_bytes / 2) {
        probes_human_bytes(c->memory_bytes, other, sizeof other);
        probes_set_why(why, len, "hwloc's %s of %s is more than half the machine's memory (%s): not used", lv->name,
                       size, other);
    }
}

/* The first check (half, quarter, ...) that reads clearly faster than
 * beyond; -1 when none does, -2 when the checks cannot tell. */
static int first_fast_check(const probes_memory_level *lv, const probes_metric *beyond)
{
    if (!beyond->valid || lv->n_checks == 0 || !lv->check_read_bytes_per_s[0].valid)
        return -2;
    for (int i = 0; i < lv->n_checks; i++)
        if (lv->check_read_bytes_per_s[i].valid &&
            lv->check_read_bytes_per_s[i].value >= CHECK_MIN_SPEEDUP * beyond->value)
            return i;
    return -1;
}

static void judge_level(probes_ceilings *c, int l)
{
    probes_memory_level *lv = &c->levels[l];
    lv->usable_bytes = lv->size_bytes;
    lv->suspicious = 0;
    static_verdict(c, l, lv->suspicious_why, sizeof lv->suspicious_why);
    if (lv->suspicious_why[0]) {
        lv->suspicious = 1, lv->usable_bytes = 0;
        return;
    }
    if (c->n_rows == 0)
        return; /* nothing measured to check against */
    const probes_metric *beyond = &c->rows[0].read_bytes_per_s[l + 1];
    int fast = first_fast_check(lv, beyond);
    if (fast == 0 || fast == -2) /* half of it behaves as a cache, or nothing says otherwise */
        return;
    char size[32], half[32], part[32];
    probes_human_bytes(lv->size_bytes, size, sizeof size);
    probes_human_bytes(lv->check_set_bytes[0], half, sizeof half);
    lv->suspicious = 1;
    lv->usable_bytes = fast > 0 ? lv->check_set_bytes[fast] : 0;
    probes_human_bytes(lv->usable_bytes, part, sizeof part);
    probes_set_why(lv->suspicious_why, sizeof lv->suspicious_why,
                   "hwloc's %s of %s: %s of it reads at %.1f GB/s, as slowly as the %s (%.1f GB/s); %s%s", lv->name,
                   size, half, lv->check_read_bytes_per_s[0].value / 1e9, c->levels[l + 1].name, beyond->value / 1e9,
                   fast > 0 ? part : "no smaller part reads faster: not used",
                   fast > 0 ? " does not, and is what is used" : "");
}

void probes_ceilings_judge(probes_ceilings *c)
{
    for (int l = 0; l + 1 < c->n_levels; l++)
        judge_level(c, l);
}
