/* cmd_topo.c — `hstprof topo`: the topology as compact text and, with
 * --affinity, where a policy puts each thread and where the engine's pool
 * threads really run. */
#include "commands.h"
#include "engine/hst.h"
#include "probes/topo.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *synthetic, *affinity;
    int threads;
} topo_args;

static void usage(FILE *out)
{
    fprintf(out, "usage: hstprof topo [--synthetic DESC] [--affinity POLICY] [--threads N]\n\n"
                 "Packages, NUMA nodes, caches with sizes, cores and PUs (hwloc).\n\n"
                 "  --synthetic DESC  show a made-up topology instead, e.g. 'pack:2 l3:2 core:4 pu:2'\n"
                 "  --affinity POLICY none, compact, scatter or a PU list like 0,2,4-7: show where\n"
                 "                    each thread goes; on this machine also start the engine's pool\n"
                 "                    with that binding and report the CPU each thread ran on\n"
                 "  --threads N       threads to place (default: one per PU)\n");
}

/* 1 parsed, 0 --help shown, -1 bad usage (message printed). */
static int parse_args(int argc, char **argv, topo_args *a)
{
    memset(a, 0, sizeof *a);
    const char *threads = NULL;
    for (int i = 1; i < argc; i++) {
        int rc = cmd_opt_value("topo", argc, argv, &i, "--synthetic", &a->synthetic);
        if (rc == 0)
            rc = cmd_opt_value("topo", argc, argv, &i, "--affinity", &a->affinity);
        if (rc == 0)
            rc = cmd_opt_value("topo", argc, argv, &i, "--threads", &threads);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        cmd_bad_option("topo", argv[i]);
        return -1;
    }
    if (threads && cmd_parse_int("topo", "--threads", threads, 1, PROBES_MAX_THREADS, &a->threads) != 0)
        return -1;
    return 1;
}

/* Starts the pool with the binding, gives every worker a task (a small
 * matmul), and reads back where each ran. */
static int observe_pool(probes_affinity *aff, int n, int *cpu, uint64_t *migrations, char *err, size_t err_len)
{
    hst_error herr;
    hst_pool *pool = hst_pool_create(n, probes_affinity_bind_thread, aff, &herr);
    if (!pool) {
        snprintf(err, err_len, "engine pool: %s", herr.msg);
        return -1;
    }
    /* Large enough for the engine to use the pool (it runs tiny products serially). */
    hst_matmul_gflops(pool, 32 * n, 256, 256, 3);
    for (int i = 0; i < n; i++)
        cpu[i] = hst_pool_thread_cpu(pool, i), migrations[i] = hst_pool_thread_migrations(pool, i);
    hst_pool_free(pool);
    return 0;
}

static void print_plan(const probes_affinity *aff, const int *cpu, const uint64_t *migrations)
{
    int n = probes_affinity_threads(aff);
    printf("\naffinity %s, %d thread(s)%s:\n", probes_affinity_policy(aff), n,
           probes_affinity_wrapped(aff) ? " (more threads than PUs to place them on: they wrap around and share)" : "");
    printf("  %-7s %-11s %-28s %s\n", "thread", "planned PU", "binding", cpu ? "ran on CPU (migrations)" : "");
    for (int i = 0; i < n; i++) {
        probes_metric b = probes_affinity_binding(aff, i);
        char planned[16], ran[48] = "";
        int pu = probes_affinity_pu(aff, i);
        snprintf(planned, sizeof planned, pu < 0 ? "-" : "P#%d", pu);
        if (cpu)
            snprintf(ran, sizeof ran, cpu[i] < 0 ? "unknown" : "P#%d (%llu)", cpu[i],
                     (unsigned long long)migrations[i]);
        printf("  %-7d %-11s %-28s %s\n", i, planned, b.valid ? "bound" : cpu ? b.why_not : "(plan only)", ran);
    }
}

static int show(const topo_args *a, probes_topo *t)
{
    int n = a->threads > 0 ? a->threads : probes_topo_pu_count(t);
    char err[sizeof(hst_error) + 32]; /* an affinity's reason, or the pool's error */
    if (!a->affinity) {
        probes_topo_print(t, stdout, NULL, 0);
        return 0;
    }
    probes_affinity *aff = probes_affinity_create(t, a->affinity, n, err, sizeof err);
    if (!aff) {
        fprintf(stderr, "hstprof topo: %s\n", err);
        return 2;
    }
    int *where = calloc((size_t)n, sizeof *where);
    int *cpu = calloc((size_t)n, sizeof *cpu);
    uint64_t *migrations = calloc((size_t)n, sizeof *migrations);
    int observed = 0, rc = 0;
    if (!where || !cpu || !migrations) {
        fprintf(stderr, "hstprof topo: out of memory\n");
        rc = 1;
    } else {
        if (!a->synthetic)
            observed = observe_pool(aff, n, cpu, migrations, err, sizeof err) == 0;
        for (int i = 0; i < n; i++)
            where[i] = observed ? cpu[i] : probes_affinity_pu(aff, i);
        probes_topo_print(t, stdout, where, n);
        print_plan(aff, observed ? cpu : NULL, migrations);
        if (!a->synthetic && !observed)
            printf("  (threads not started: %s)\n", err);
    }
    free(where), free(cpu), free(migrations);
    probes_affinity_free(aff);
    return rc;
}

int cmd_topo(int argc, char **argv)
{
    topo_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc <= 0)
        return rc < 0 ? 2 : 0;
    char err[PROBES_WHY_MAX];
    probes_topo *t = a.synthetic ? probes_topo_synthetic(a.synthetic, err, sizeof err) : probes_topo_load(err, sizeof err);
    if (!t) {
        fprintf(stderr, "hstprof topo: %s\n", err);
        return a.synthetic ? 2 : 1;
    }
    rc = show(&a, t);
    probes_topo_free(t);
    return rc;
}
