/* cmd_ceilings.c — `hstprof ceilings`: measure this machine's triad
 * bandwidth, FMA peak, engine matmul rate and the read ceiling of each memory
 * level per thread count, print them and cache them for the dashboard and
 * the exports. */
#include "commands.h"
#include "probes/ceilings.h"
#include "probes/topo.h"

#include <stdio.h>

#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: hstprof ceilings [--cached] [--threads N]\n\n"
                 "Measures, for 1 up to N threads (default: every PU), a STREAM-style triad\n"
                 "bandwidth, the peak FP32 FMA throughput of a register-only loop, the\n"
                 "engine's own matmul, and the read bandwidth of a working set that fits each\n"
                 "data cache hwloc reports (and not the one before) and of DRAM, in several\n"
                 "seconds. A cache whose size the machine cannot have (not larger than the\n"
                 "level before, more than half the memory, or half of it reading no faster\n"
                 "than what lies beyond) is reported as suspicious and not used. Prints them\n"
                 "and caches them in $XDG_CACHE_HOME/hstprof/ (default ~/.cache/hstprof/),\n"
                 "where runs and the dashboard compare a phase's bytes with the read ceiling\n"
                 "of the level its working set fits in, and its FLOPs with the FMA peak.\n\n"
                 "  --cached     print the cached figures; measure only when there are none\n"
                 "  --threads N  measure up to N threads\n");
}

static void format_metric(const probes_metric *m, double scale, char *buf, size_t len)
{
    if (m->valid)
        snprintf(buf, len, "%.1f", m->value / scale);
    else
        snprintf(buf, len, "n/a");
}

static void print_reasons(const probes_ceilings *c)
{
    for (int r = 0; r < c->n_rows; r++) {
        const probes_ceiling_row *row = &c->rows[r];
        const probes_metric *ms[] = {&row->triad_bytes_per_s, &row->fma_flops_per_s, &row->matmul_flops_per_s};
        const char *names[] = {"triad", "FMA", "matmul"};
        for (int k = 0; k < 3; k++)
            if (!ms[k]->valid)
                printf("  n/a, %s with %d thread(s): %s\n", names[k], row->threads, ms[k]->why_not);
        for (int l = 0; l < c->n_levels; l++)
            if (!row->read_bytes_per_s[l].valid)
                printf("  n/a, %s read with %d thread(s): %s\n", c->levels[l].name, row->threads,
                       row->read_bytes_per_s[l].why_not);
    }
    for (int l = 0; l + 1 < c->n_levels; l++)
        for (int i = 0; i < c->levels[l].n_checks; i++)
            if (!c->levels[l].check_read_bytes_per_s[i].valid)
                printf("  n/a, %s size check %d: %s\n", c->levels[l].name, i + 1,
                       c->levels[l].check_read_bytes_per_s[i].why_not);
}

/* One line per level: its size, then each thread count's read set and rate. */
static void print_levels(const probes_ceilings *c)
{
    printf("\nread ceilings per memory level (GB/s; the working set read, all threads together)\n");
    printf("  %-5s %-16s", "level", "size (hwloc)");
    for (int r = 0; r < c->n_rows; r++)
        printf("  %9d thread%s", c->rows[r].threads, c->rows[r].threads == 1 ? " " : "s");
    printf("\n");
    for (int l = 0; l < c->n_levels; l++) {
        const probes_memory_level *lv = &c->levels[l];
        char size[48] = "-", set[32], rate[32];
        if (l + 1 < c->n_levels) {
            probes_human_bytes(lv->size_bytes, set, sizeof set);
            snprintf(size, sizeof size, "%s x%d%s", set, lv->instances, lv->suspicious ? " (?)" : "");
        }
        printf("  %-5s %-16s", lv->name, size);
        for (int r = 0; r < c->n_rows; r++) {
            probes_human_bytes(probes_level_read_set(c, l, c->rows[r].threads, c->read_set_max), set, sizeof set);
            format_metric(&c->rows[r].read_bytes_per_s[l], 1e9, rate, sizeof rate);
            printf("  %8s %7s", set, rate);
        }
        printf("\n");
    }
    for (int l = 0; l + 1 < c->n_levels; l++)
        if (c->levels[l].suspicious)
            printf("  %s: suspicious size: %s\n", c->levels[l].name, c->levels[l].suspicious_why);
}

static void print_ceilings(const probes_ceilings *c, const char *source, const char *path)
{
    printf("ceilings of %s\n", c->machine_key);
    printf("FMA loop: %s; triad arrays: 3 x %llu MiB; %s\n\n", c->fma_isa,
           (unsigned long long)(c->triad_array_bytes >> 20), source);
    printf("  %7s  %12s  %14s  %15s  %17s\n", "threads", "triad GB/s", "FMA GFLOP/s", "matmul GFLOP/s",
           "FMA GFLOP/s/core");
    for (int r = 0; r < c->n_rows; r++) {
        const probes_ceiling_row *row = &c->rows[r];
        char triad[32], fma[32], mm[32], per_core[32];
        format_metric(&row->triad_bytes_per_s, 1e9, triad, sizeof triad);
        format_metric(&row->fma_flops_per_s, 1e9, fma, sizeof fma);
        format_metric(&row->matmul_flops_per_s, 1e9, mm, sizeof mm);
        format_metric(&row->fma_flops_per_s, 1e9 * row->threads, per_core, sizeof per_core);
        printf("  %7d  %12s  %14s  %15s  %17s\n", row->threads, triad, fma, mm, per_core);
    }
    print_levels(c);
    print_reasons(c);
    if (path)
        printf("\ncache: %s\n", path);
}

static int parse_args(int argc, char **argv, int *cached, int *threads)
{
    const char *value = NULL;
    for (int i = 1; i < argc; i++) {
        int rc = cmd_opt_value("ceilings", argc, argv, &i, "--threads", &value);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            if (cmd_parse_int("ceilings", "--threads", value, 1, PROBES_MAX_THREADS, threads) != 0)
                return -1;
            /* A ceiling is one thread per PU: shared PUs would sum CPU-time rates past the machine's peak. */
            char why[PROBES_WHY_MAX];
            if (!probes_threads_fit(*threads, probes_pu_budget_get(), why, sizeof why)) {
                fprintf(stderr, "hstprof ceilings: --threads %d: %s; ceilings are measured with one thread per PU\n",
                        *threads, why);
                return -1;
            }
        } else if (strcmp(argv[i], "--cached") == 0) {
            *cached = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            cmd_bad_option("ceilings", argv[i]);
            return -1;
        }
    }
    return 1;
}

int cmd_ceilings(int argc, char **argv)
{
    int cached = 0, threads = 0;
    int rc = parse_args(argc, argv, &cached, &threads);
    if (rc <= 0)
        return rc < 0 ? 2 : 0;
    char path[1024], err[1400]; /* a failed save names the path (up to 1 KiB) and the reason */
    int have_path = probes_ceilings_cache_path(path, sizeof path, err, sizeof err) == 0;
    probes_ceilings c;
    const char *source = "measured now";
    if (cached) {
        if (probes_ceilings_load_or_measure(&c, &source, err, sizeof err) != 0) {
            fprintf(stderr, "hstprof ceilings: %s\n", err);
            return 1;
        }
        print_ceilings(&c, source, have_path ? path : NULL);
        return 0;
    }
    probes_ceiling_opts opts = {.max_threads = threads};
    if (probes_ceilings_measure(&opts, &c, err, sizeof err) != 0) {
        fprintf(stderr, "hstprof ceilings: %s\n", err);
        return 1;
    }
    if (!have_path || probes_ceilings_save(path, &c, err, sizeof err) != 0) {
        print_ceilings(&c, source, NULL);
        fprintf(stderr, "hstprof ceilings: not cached: %s\n", err);
        return 1;
    }
    print_ceilings(&c, source, path);
    return 0;
}
