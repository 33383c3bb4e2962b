/* machine.c — facts about this machine that explain what can be measured,
 * and the one place that turns an errno into a reason a user can act on. */
#include "probes/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void probes_set_why(char *why, size_t len, const char *fmt, ...)
{
    if (!why || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

probes_metric probes_metric_of(double value)
{
    probes_metric m;
    memset(&m, 0, sizeof m);
    m.value = value;
    m.valid = 1;
    return m;
}

probes_metric probes_metric_invalid(const char *fmt, ...)
{
    probes_metric m;
    memset(&m, 0, sizeof m);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.why_not, sizeof m.why_not, fmt, ap);
    va_end(ap);
    return m;
}

/* ---- facts --------------------------------------------------------------- */

static int cpuinfo_has_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        char *save = NULL;
        char *list = strchr(line, ':') ? strchr(line, ':') + 1 : line;
        for (char *tok = strtok_r(list, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
            if (strcmp(tok, flag) == 0)
                found = 1;
        break; /* the first CPU's flags are enough */
    }
    fclose(f);
    return found;
}

static int path_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static int read_paranoid(void)
{
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    int v = -100;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = -100;
        fclose(f);
    }
    return v;
}

static probes_machine_facts g_test_facts;
static int g_test_facts_set;

void probes_test_set_machine_facts(const probes_machine_facts *facts)
{
    g_test_facts_set = facts != NULL;
    if (facts)
        g_test_facts = *facts;
}

probes_machine_facts probes_machine_facts_get(void)
{
    if (g_test_facts_set)
        return g_test_facts;
    probes_machine_facts f;
    f.hypervisor = cpuinfo_has_flag("hypervisor");
    /* Hybrid Intel parts register cpu_core/cpu_atom instead of cpu. */
    f.cpu_pmu_present = path_exists("/sys/bus/event_source/devices/cpu") ||
                        path_exists("/sys/bus/event_source/devices/cpu_core") ||
                        path_exists("/sys/bus/event_source/devices/cpu_atom");
    f.paranoid = read_paranoid();
    return f;
}

int probes_cpu_model(char *buf, size_t len)
{
    probes_set_why(buf, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        probes_set_why(buf, len, "%s", colon);
        buf[strcspn(buf, "\n")] = '\0';
        found = 1;
    }
    fclose(f);
    return found;
}

/* ---- reasons --------------------------------------------------------------- */

static void reason_no_pmu(const probes_machine_facts *f, char *why, size_t len)
{
    if (f->hypervisor && !f->cpu_pmu_present)
        probes_set_why(why, len, "hardware counters unavailable: no PMU in this virtual machine");
    else if (!f->cpu_pmu_present)
        probes_set_why(why, len, "hardware counters unavailable: the kernel exposes no CPU PMU "
                                 "(no /sys/bus/event_source/devices/cpu)");
    else
        probes_set_why(why, len, "event not supported by this CPU's PMU");
}

static void reason_permission(const probes_machine_facts *f, int user_only_tried, char *why, size_t len)
{
    if (f->paranoid >= 3)
        probes_set_why(why, len,
                       "permission denied: perf_event_paranoid is %d, which disables perf events for "
                       "unprivileged users; try: sudo sysctl kernel.perf_event_paranoid=2",
                       f->paranoid);
    else if (f->paranoid == -100)
        probes_set_why(why, len, "permission denied by perf_event_open (perf_event_paranoid unreadable; "
                                 "a container's seccomp filter may block perf events)");
    else
        probes_set_why(why, len,
                       "permission denied: perf_event_paranoid is %d%s; try: sudo sysctl "
                       "kernel.perf_event_paranoid=1, or run with CAP_PERFMON",
                       f->paranoid, user_only_tried ? " (user-space-only counting was refused too)" : "");
}

void probes_reason_for_errno(int err, int is_hardware, int user_only_tried, const probes_machine_facts *f,
                             char *why, size_t len)
{
    switch (err) {
    case ENOENT:
    case ENODEV:
    case EOPNOTSUPP:
        if (is_hardware)
            reason_no_pmu(f, why, len);
        else
            probes_set_why(why, len, "event not supported by this kernel (%s)", strerror(err));
        return;
    case EACCES:
    case EPERM:
        reason_permission(f, user_only_tried, why, len);
        return;
    case EMFILE: {
        struct rlimit rl;
        long lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : -1;
        probes_set_why(why, len, "too many open files (EMFILE): one counter per event per thread exceeds the "
                                 "limit (ulimit -n is %ld); raise ulimit -n, or count fewer events or threads", lim);
        return;
    }
    case ENFILE:
        probes_set_why(why, len, "too many open files in the system (ENFILE): the kernel's file table is full "
                                 "(sysctl fs.file-max); count fewer events or threads");
        return;
    case EINVAL:
        probes_set_why(why, len, "the kernel rejected the event's attributes (EINVAL)%s",
                       is_hardware ? ": a modifier this PMU lacks, or a group too big for its counters" : "");
        return;
    case EBUSY:
        probes_set_why(why, len, "counter busy: another user holds the PMU exclusively (EBUSY)");
        return;
    case ESRCH:
        probes_set_why(why, len, "thread no longer exists (ESRCH)");
        return;
    case ENOSYS:
        probes_set_why(why, len, "perf_event_open is not available in this kernel or sandbox (ENOSYS)");
        return;
    default:
        probes_set_why(why, len, "perf_event_open failed: %s", strerror(err));
    }
}

int probes_errno_from_name(const char *name)
{
    static const struct {
        const char *name;
        int value;
    } names[] = {
        {"ENOENT", ENOENT}, {"ENODEV", ENODEV}, {"EOPNOTSUPP", EOPNOTSUPP}, {"EACCES", EACCES},
        {"EPERM", EPERM},   {"EMFILE", EMFILE}, {"EINVAL", EINVAL},         {"EBUSY", EBUSY},
        {"ESRCH", ESRCH},   {"ENOSYS", ENOSYS},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0)
            return names[i].value;
    return 0;
}
