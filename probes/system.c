/* system.c — the machine and the build behind a report: CPU, cores and
 * caches, memory, OS, kernel, compiler, commit. Each figure is read from
 * where the system keeps it; one that cannot be read is null with the reason. */
#include "probes/json.h"
#include "probes/topo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

/* The commit, which the Makefile writes into build/version.h and rewrites
 * when HEAD or the tree's state changes; "unknown" in a build without it. */
#if __has_include("build/version.h")
#include "build/version.h"
#endif
#ifndef HSTPROF_GIT_COMMIT
#define HSTPROF_GIT_COMMIT "unknown"
#endif
#ifndef HSTPROF_VERSION
#define HSTPROF_VERSION "unknown"
#endif

const char *probes_build_version(void)
{
    return HSTPROF_VERSION;
}

const char *probes_build_commit(void)
{
    return HSTPROF_GIT_COMMIT;
}

static void set_string_or_why(json_t *o, const char *key, const char *value, const char *why)
{
    probes_json_put_or_why(o, key, value && *value ? json_string(value) : NULL, why);
}

static void set_integer_or_why(json_t *o, const char *key, long long value, int valid, const char *why)
{
    probes_json_put_or_why(o, key, valid ? json_integer(value) : NULL, why);
}

/* The value of the first "key<sep>value" line of a text file, unquoted. */
static int read_field(const char *path, const char *key, char sep, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    char line[512];
    size_t klen = strlen(key);
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0)
            continue;
        const char *p = line + klen;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != sep)
            continue;
        p++;
        while (*p == ' ' || *p == '\t' || *p == '"')
            p++;
        snprintf(out, size, "%s", p);
        out[strcspn(out, "\"\n")] = '\0';
        found = 1;
    }
    if (f)
        fclose(f);
    return found;
}

static void add_cpu(json_t *o)
{
    char model[256];
    int ok = probes_cpu_model(model, sizeof model);
    set_string_or_why(o, "cpu_model", ok ? model : NULL, "no 'model name' in /proc/cpuinfo");
}

/* Packages, cores and PUs from hwloc (through probes/). */
static void add_topology(json_t *o)
{
    char err[256] = "";
    probes_topo *t = probes_topo_load(err, sizeof err);
    char why[300];
    snprintf(why, sizeof why, "hwloc topology unavailable: %s", err);
    set_integer_or_why(o, "cores", t ? probes_topo_core_count(t) : 0, t != NULL, why);
    set_integer_or_why(o, "pus", t ? probes_topo_pu_count(t) : 0, t != NULL, why);
    uint64_t l3 = t ? probes_topo_l3_bytes(t) : 0;
    set_integer_or_why(o, "l3_total_bytes", (long long)l3, l3 > 0, t ? "hwloc reports no L3 cache" : why);
    probes_topo_free(t);
}

/* "48K" -> 49152. */
static long long parse_cache_size(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end == 'K')
        v *= 1024;
    else if (*end == 'M')
        v *= 1024 * 1024;
    return v;
}

/* The data caches hwloc reports (from CPUID when sysfs has none, as in some
 * VMs), so that the report agrees with the topology the dashboard shows. */
static void add_hwloc_caches(json_t *caches)
{
    char err[256];
    probes_topo *t = probes_topo_load(err, sizeof err);
    probes_topo_cache found[8];
    int n = t ? probes_topo_caches(t, found, 8) : 0;
    for (int i = 0; i < n; i++)
        json_array_append_new(caches, json_pack("{s:i, s:s, s:I, s:i, s:s}", "level", found[i].depth, "type",
                                                found[i].type, "size_bytes", (json_int_t)found[i].size_bytes,
                                                "instances", found[i].instances, "source", "hwloc"));
    probes_topo_free(t);
}

/* Caches as CPU 0 sees them (sysfs, what hwloc reads too): one entry per level
 * and type, the size of one instance and how many PUs share it. */
static void add_caches(json_t *o)
{
    json_t *caches = json_array();
    for (int i = 0; i < 16; i++) {
        char dir[96], path[128], level[16], type[32], size[32], shared[256];
        snprintf(dir, sizeof dir, "/sys/devices/system/cpu/cpu0/cache/index%d", i);
        snprintf(path, sizeof path, "%s/level", dir);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        int ok = fgets(level, sizeof level, f) != NULL;
        fclose(f);
        snprintf(path, sizeof path, "%s/type", dir);
        f = fopen(path, "r");
        ok = ok && f && fgets(type, sizeof type, f) != NULL;
        if (f)
            fclose(f);
        snprintf(path, sizeof path, "%s/size", dir);
        f = fopen(path, "r");
        ok = ok && f && fgets(size, sizeof size, f) != NULL;
        if (f)
            fclose(f);
        if (!ok)
            continue;
        type[strcspn(type, "\n")] = '\0';
        json_t *c = json_pack("{s:i, s:s, s:I}", "level", atoi(level), "type", type, "size_bytes",
                              (json_int_t)parse_cache_size(size));
        snprintf(path, sizeof path, "%s/shared_cpu_list", dir);
        f = fopen(path, "r");
        if (c && f && fgets(shared, sizeof shared, f)) {
            shared[strcspn(shared, "\n")] = '\0';
            json_object_set_new(c, "shared_cpu_list", json_string(shared));
        }
        if (f)
            fclose(f);
        if (c)
            json_array_append_new(caches, c);
    }
    if (json_array_size(caches) == 0)
        add_hwloc_caches(caches);
    if (json_array_size(caches) > 0) {
        json_object_set_new(o, "caches", caches);
    } else {
        json_decref(caches);
        set_string_or_why(o, "caches", NULL,
                          "no cache description in /sys/devices/system/cpu/cpu0/cache, and hwloc reports none");
    }
}

static void add_memory(json_t *o)
{
    char kb[64] = "";
    int ok = read_field("/proc/meminfo", "MemTotal", ':', kb, sizeof kb);
    set_integer_or_why(o, "mem_total_bytes", ok ? atoll(kb) * 1024 : 0, ok && atoll(kb) > 0,
                       "no MemTotal in /proc/meminfo");
}

static void add_os(json_t *o)
{
    char pretty[256] = "";
    int ok = read_field("/etc/os-release", "PRETTY_NAME", '=', pretty, sizeof pretty) ||
             read_field("/usr/lib/os-release", "PRETTY_NAME", '=', pretty, sizeof pretty);
    set_string_or_why(o, "os", ok ? pretty : NULL, "no PRETTY_NAME in /etc/os-release");
    struct utsname u;
    char kernel[3 * sizeof u.release + 4] = "";
    int have_uname = uname(&u) == 0;
    const char *why = have_uname ? "uname returned nothing" : strerror(errno);
    if (have_uname)
        snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
    set_string_or_why(o, "kernel", kernel, why);
}

static void add_build(json_t *o)
{
#if defined(__clang__)
    const char *family = "clang ";
#elif defined(__GNUC__)
    const char *family = "gcc ";
#else
    const char *family = "";
#endif
    char compiler[256];
    snprintf(compiler, sizeof compiler, "%s%s", family, __VERSION__);
    json_object_set_new(o, "compiler", json_string(compiler));
    json_object_set_new(o, "git_commit", json_string(HSTPROF_GIT_COMMIT));
}

json_t *probes_system_json(void)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    add_cpu(o);
    add_topology(o);
    add_caches(o);
    add_memory(o);
    add_os(o);
    add_build(o);
    return o;
}
