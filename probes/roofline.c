/* roofline.c — where a measured phase stands against this machine's
 * ceilings: its bytes against the read ceiling of the memory level its
 * working set fits in, its FLOPs against the FMA peak and the engine's own
 * matmul, and the roof (the lower of the two) that bounds it. A share is
 * never above 100%: a figure above a ceiling shows that the ceiling does not
 * bound it, and says so instead. */
#include "probes/ceilings.h"
#include "probes/internal.h"

#include <string.h>

/* achieved as a share of ceiling (units "GB/s" or "GFLOP/s": both 1e9 per second). */
static probes_metric share(const probes_metric *achieved, const probes_metric *ceiling, const char *what,
                           const char *unit, const char *above_because)
{
    if (!achieved->valid)
        return *achieved;
    if (!ceiling->valid)
        return probes_metric_invalid("no %s: %s", what, ceiling->why_not);
    if (ceiling->value <= 0)
        return probes_metric_invalid("the %s is 0", what);
    if (achieved->value > ceiling->value)
        return probes_metric_invalid("above the %s (%.1f %s), which therefore does not bound it: %s", what,
                                     ceiling->value / 1e9, unit, above_because);
    return probes_metric_of(100.0 * achieved->value / ceiling->value);
}

static probes_metric rate(double amount, uint64_t elapsed_ns, const char *what)
{
    if (elapsed_ns == 0)
        return probes_metric_invalid("no elapsed time");
    if (amount <= 0)
        return probes_metric_invalid("no %s figure from the engine", what);
    return probes_metric_of(amount / ((double)elapsed_ns * 1e-9));
}

/* The first level the working set fits in (DRAM holds any), or -1 with why
 * in *ceiling: the set is unknown, or it is past every cache before one that
 * is not used (a suspicious size with no part that reads as a cache: the
 * set may or may not fit it). A cache whose size is suspicious but part of
 * which reads as a cache holds what fits in that part. */
static int fitting_level(const probes_ceilings *c, const probes_ceiling_row *row, int threads, double working_set,
                         probes_metric *ceiling)
{
    if (!(working_set > 0)) {
        *ceiling = probes_metric_invalid("the working set of a step is unknown");
        return -1;
    }
    if (c->n_levels == 0) {
        *ceiling = probes_metric_invalid("these ceilings have no read ceilings per level (run 'hstprof ceilings')");
        return -1;
    }
    char set[32], held[32];
    probes_human_bytes((uint64_t)working_set, set, sizeof set);
    for (int l = 0; l < c->n_levels; l++) {
        const probes_memory_level *lv = &c->levels[l];
        uint64_t capacity = probes_level_capacity(c, l, threads);
        if (l + 1 < c->n_levels && lv->usable_bytes == 0) {
            probes_human_bytes(l > 0 ? probes_level_capacity(c, l - 1, threads) : 0, held, sizeof held);
            if (l > 0)
                *ceiling = probes_metric_invalid("a step reads %s, more than the %s holds for %d thread(s) (%s), and "
                                                 "the %s's size is suspicious (see hstprof ceilings)",
                                                 set, c->levels[l - 1].name, threads, held, lv->name);
            else
                *ceiling = probes_metric_invalid("the %s's size is suspicious (see hstprof ceilings)", lv->name);
            return -1;
        }
        if (capacity && working_set > (double)capacity)
            continue;
        *ceiling = row->read_bytes_per_s[l];
        if (!ceiling->valid)
            *ceiling = probes_metric_invalid("no %s read ceiling for %d thread(s): %s", lv->name, row->threads,
                                             row->read_bytes_per_s[l].why_not);
        return ceiling->valid ? l : -1;
    }
    *ceiling = probes_metric_invalid("no DRAM level in these ceilings");
    return -1;
}

static void roofline_position(probes_roofline *r, const probes_ceiling_row *row)
{
    const probes_metric *ai = &r->arithmetic_intensity_flops_per_byte;
    if (!ai->valid || !row->fma_flops_per_s.valid || !r->level_read_bytes_per_s.valid ||
        !r->achieved_flops_per_s.valid) {
        r->roofline_pct = probes_metric_invalid(
            "needs the FLOPs, the bytes, the FMA peak and the read ceiling of the working set's level");
        return;
    }
    double memory_roof = ai->value * r->level_read_bytes_per_s.value;
    int memory_bound = memory_roof < row->fma_flops_per_s.value;
    probes_metric roof = probes_metric_of(memory_bound ? memory_roof : row->fma_flops_per_s.value);
    r->bound = memory_bound ? "memory" : "compute";
    r->roofline_pct = share(&r->achieved_flops_per_s, &roof, "roof", "GFLOP/s", "one of the ceilings under it does not either");
}

probes_roofline probes_roofline_point(const probes_ceilings *c, int threads, double bytes, double flops,
                                      uint64_t elapsed_ns, double working_set)
{
    probes_roofline r;
    memset(&r, 0, sizeof r);
    r.bound = "unknown";
    r.working_set_bytes = working_set > 0 ? working_set : 0;
    r.achieved_bytes_per_s = rate(bytes, elapsed_ns, "bytes");
    r.achieved_flops_per_s = rate(flops, elapsed_ns, "FLOPs");
    r.arithmetic_intensity_flops_per_byte = bytes > 0 && flops > 0 ? probes_metric_of(flops / bytes)
                                                                    : probes_metric_invalid("needs FLOPs and bytes");
    const probes_ceiling_row *row = NULL;
    for (int i = 0; c && i < c->n_rows; i++)
        if (c->rows[i].threads <= threads)
            row = &c->rows[i];
    if (!row) {
        probes_metric none = probes_metric_invalid("no ceilings measured for %d thread(s)", threads);
        r.level_read_bytes_per_s = r.bandwidth_pct = r.fma_pct = r.matmul_pct = r.roofline_pct = none;
        return r;
    }
    r.ceiling_threads = row->threads;
    int level = fitting_level(c, row, threads, working_set, &r.level_read_bytes_per_s);
    if (level >= 0)
        snprintf(r.level, sizeof r.level, "%s", c->levels[level].name);
    if (level >= 0) {
        char what[48];
        snprintf(what, sizeof what, "%s read ceiling", r.level);
        r.bandwidth_pct = share(&r.achieved_bytes_per_s, &r.level_read_bytes_per_s, what, "GB/s",
                                "part of the working set stays in a faster level, or the machine was busier when "
                                "the ceiling was measured");
    } else {
        r.bandwidth_pct = r.achieved_bytes_per_s.valid ? r.level_read_bytes_per_s : r.achieved_bytes_per_s;
    }
    r.fma_pct = share(&r.achieved_flops_per_s, &row->fma_flops_per_s, "FMA peak", "GFLOP/s",
                      "the machine was busier when the peak was measured");
    r.matmul_pct = share(&r.achieved_flops_per_s, &row->matmul_flops_per_s, "engine's matmul benchmark", "GFLOP/s",
                         "this phase's products run faster than the benchmark's 64x1024x1024");
    roofline_position(&r, row);
    return r;
}

void probes_roofline_bandwidth_text(const probes_roofline *r, char *buf, size_t len)
{
    const probes_metric *bw = &r->achieved_bytes_per_s, *pct = &r->bandwidth_pct;
    if (!bw->valid) {
        snprintf(buf, len, "bandwidth unavailable (%s)", bw->why_not);
        return;
    }
    if (!r->level[0]) {
        snprintf(buf, len, "%.2f GB/s, no read ceiling applies: %s", bw->value / 1e9, r->level_read_bytes_per_s.why_not);
        return;
    }
    char set[32];
    probes_human_bytes((uint64_t)r->working_set_bytes, set, sizeof set);
    if (pct->valid)
        snprintf(buf, len, "%s-resident (%s a step): %.2f GB/s = %.0f%% of the %s read ceiling (%.1f GB/s)", r->level,
                 set, bw->value / 1e9, pct->value, r->level, r->level_read_bytes_per_s.value / 1e9);
    else
        snprintf(buf, len, "%s-resident (%s a step): %.2f GB/s, %s", r->level, set, bw->value / 1e9, pct->why_not);
}
