/* topo.c — the machine's topology through hwloc, and its compact text form
 * for `hstprof topo`. */
#include "probes/topo_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static probes_topo *topo_new(char *err, size_t err_len)
{
    probes_topo *t = calloc(1, sizeof *t);
    if (!t) {
        probes_set_why(err, err_len, "topology: out of memory");
        return NULL;
    }
    if (hwloc_topology_init(&t->topo) != 0) {
        probes_set_why(err, err_len, "topology: hwloc_topology_init failed: %s", strerror(errno));
        free(t);
        return NULL;
    }
    /* hwloc drops instruction caches by default; lstopo shows them, so do we. */
    hwloc_topology_set_icache_types_filter(t->topo, HWLOC_TYPE_FILTER_KEEP_ALL);
    return t;
}

static probes_topo *topo_finish(probes_topo *t, char *err, size_t err_len)
{
    if (hwloc_topology_load(t->topo) != 0) {
        probes_set_why(err, err_len, "topology: hwloc could not load the topology: %s", strerror(errno));
        probes_topo_free(t);
        return NULL;
    }
    return t;
}

probes_topo *probes_topo_load(char *err, size_t err_len)
{
    probes_topo *t = topo_new(err, err_len);
    return t ? topo_finish(t, err, err_len) : NULL;
}

probes_topo *probes_topo_synthetic(const char *description, char *err, size_t err_len)
{
    probes_topo *t = topo_new(err, err_len);
    if (!t)
        return NULL;
    if (hwloc_topology_set_synthetic(t->topo, description) != 0) {
        probes_set_why(err, err_len, "topology: bad synthetic description '%s' (hwloc syntax, e.g. "
                                     "\"pack:2 l3:2 core:4 pu:2\")", description);
        probes_topo_free(t);
        return NULL;
    }
    t->synthetic = 1;
    return topo_finish(t, err, err_len);
}

void probes_topo_free(probes_topo *t)
{
    if (!t)
        return;
    hwloc_topology_destroy(t->topo);
    free(t);
}

int probes_topo_pu_count(const probes_topo *t)
{
    return hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_PU);
}

int probes_topo_core_count(const probes_topo *t)
{
    int cores = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_CORE);
    return cores > 0 ? cores : probes_topo_pu_count(t);
}

uint64_t probes_topo_l3_bytes(const probes_topo *t)
{
    uint64_t total = 0;
    int n = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_L3CACHE);
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t->topo, HWLOC_OBJ_L3CACHE, (unsigned)i);
        total += o->attr ? o->attr->cache.size : 0;
    }
    return total;
}

int probes_topo_caches(const probes_topo *t, probes_topo_cache *out, int max)
{
    static const hwloc_obj_type_t types[] = {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE,
                                             HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L5CACHE};
    int n = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0] && n < max; i++) {
        int count = hwloc_get_nbobjs_by_type(t->topo, types[i]);
        hwloc_obj_t o = count > 0 ? hwloc_get_obj_by_type(t->topo, types[i], 0) : NULL;
        if (!o)
            continue;
        int cores = o->cpuset ? hwloc_get_nbobjs_inside_cpuset_by_type(t->topo, o->cpuset, HWLOC_OBJ_CORE) : 0;
        out[n++] = (probes_topo_cache){.depth = (int)i + 1,
                                       .size_bytes = o->attr ? o->attr->cache.size : 0,
                                       .instances = count,
                                       .cores_per_instance = cores > 0 ? cores : 1,
                                       .type = o->attr && o->attr->cache.type == HWLOC_OBJ_CACHE_DATA ? "Data"
                                                                                                      : "Unified"};
    }
    return n;
}

/* ---- text form ---------------------------------------------------------------- */

void probes_human_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    snprintf(buf, len, v == (double)(uint64_t)v ? "%.0f %s" : "%.1f %s", v, units[u]);
}

/* "L2 (1 MiB)", "Core L#3", "PU P#5", "NUMANode P#0 (3.9 GiB)". */
static void describe_obj(hwloc_obj_t o, char *buf, size_t len)
{
    char type[32], size[32];
    hwloc_obj_type_snprintf(type, sizeof type, o, 0);
    if (hwloc_obj_type_is_cache(o->type) && o->attr->cache.size) {
        probes_human_bytes(o->attr->cache.size, size, sizeof size);
        snprintf(buf, len, "%s (%s)", type, size);
    } else if (o->type == HWLOC_OBJ_NUMANODE) {
        probes_human_bytes(o->attr->numanode.local_memory, size, sizeof size);
        snprintf(buf, len, "%s P#%u (%s)", type, o->os_index, size);
    } else if (o->type == HWLOC_OBJ_PU || o->type == HWLOC_OBJ_PACKAGE) {
        snprintf(buf, len, "%s P#%u", type, o->os_index);
    } else if (hwloc_obj_type_is_cache(o->type) || o->type == HWLOC_OBJ_MACHINE) {
        snprintf(buf, len, "%s", type);
    } else {
        snprintf(buf, len, "%s L#%u", type, o->logical_index);
    }
}

static void append_threads(hwloc_obj_t pu, const int *thread_cpu, int n_threads, char *line, size_t len)
{
    size_t used = strlen(line);
    int count = 0;
    for (int i = 0; thread_cpu && i < n_threads; i++)
        count += thread_cpu[i] >= 0 && (unsigned)thread_cpu[i] == pu->os_index;
    int first = 1;
    for (int i = 0; count && i < n_threads && used + 1 < len; i++) {
        if (thread_cpu[i] < 0 || (unsigned)thread_cpu[i] != pu->os_index)
            continue;
        used += (size_t)snprintf(line + used, len - used, "%s%d",
                                 first ? (count > 1 ? "  <- threads " : "  <- thread ") : ",", i);
        first = 0;
    }
}

static void print_obj(hwloc_obj_t o, int indent, FILE *out, const int *thread_cpu, int n_threads)
{
    char line[1024], part[128];
    describe_obj(o, line, sizeof line);
    /* Chains of single children go on one line, as lstopo's text output does. */
    while (o->arity == 1 && o->memory_arity == 0) {
        o = o->children[0];
        describe_obj(o, part, sizeof part);
        size_t used = strlen(line);
        snprintf(line + used, sizeof line - used, " + %s", part);
    }
    if (o->type == HWLOC_OBJ_PU)
        append_threads(o, thread_cpu, n_threads, line, sizeof line);
    fprintf(out, "%*s%s\n", indent, "", line);
    for (hwloc_obj_t m = o->memory_first_child; m; m = m->next_sibling)
        print_obj(m, indent + 2, out, thread_cpu, n_threads);
    for (unsigned c = 0; c < o->arity; c++)
        print_obj(o->children[c], indent + 2, out, thread_cpu, n_threads);
}

void probes_topo_print(const probes_topo *t, FILE *out, const int *thread_cpu, int n_threads)
{
    char l3[32];
    probes_human_bytes(probes_topo_l3_bytes(t), l3, sizeof l3);
    fprintf(out, "%s: %d package(s), %d NUMA node(s), %d L3 (%s in all), %d core(s), %d PU(s)\n",
            t->synthetic ? "synthetic topology" : "this machine",
            hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_PACKAGE), hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_NUMANODE),
            hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_L3CACHE), l3, probes_topo_core_count(t),
            probes_topo_pu_count(t));
    print_obj(hwloc_get_root_obj(t->topo), 0, out, thread_cpu, n_threads);
}
