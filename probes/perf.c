/* perf.c — the perf_event backends: hardware and PMU events encoded by
 * libpfm4, and software events. One group = one perf group per thread
 * (a leader plus members), read in one read() with PERF_FORMAT_GROUP. */
#include "probes/internal.h"

#include <errno.h>
#include <perfmon/pfmlib_perf_event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the syscall and its test seam ------------------------------------------ */

static int real_perf_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static probes_perf_open_fn g_perf_open = real_perf_open;

void probes_test_set_perf_open(probes_perf_open_fn fn)
{
    g_perf_open = fn ? fn : real_perf_open;
}

/* ---- libpfm4 ------------------------------------------------------------------- */

static pthread_once_t g_pfm_once = PTHREAD_ONCE_INIT;
static int g_pfm_status = PFM_ERR_NOINIT;

static void pfm_init_once(void)
{
    g_pfm_status = pfm_initialize();
}

int probes_pfm_init(char *why, size_t len)
{
    pthread_once(&g_pfm_once, pfm_init_once);
    if (g_pfm_status == PFM_SUCCESS)
        return 0;
    probes_set_why(why, len, "libpfm4 failed to initialise: %s", pfm_strerror(g_pfm_status));
    return -1;
}

/* ---- software events --------------------------------------------------------- */

int probes_software_event(const char *name, uint64_t *config)
{
    static const struct {
        const char *name;
        uint64_t config;
    } table[] = {
        {"task-clock", PERF_COUNT_SW_TASK_CLOCK},
        {"cpu-clock", PERF_COUNT_SW_CPU_CLOCK},
        {"page-faults", PERF_COUNT_SW_PAGE_FAULTS},
        {"faults", PERF_COUNT_SW_PAGE_FAULTS},
        {"minor-faults", PERF_COUNT_SW_PAGE_FAULTS_MIN},
        {"major-faults", PERF_COUNT_SW_PAGE_FAULTS_MAJ},
        {"context-switches", PERF_COUNT_SW_CONTEXT_SWITCHES},
        {"cs", PERF_COUNT_SW_CONTEXT_SWITCHES},
        {"cpu-migrations", PERF_COUNT_SW_CPU_MIGRATIONS},
        {"migrations", PERF_COUNT_SW_CPU_MIGRATIONS},
        {"alignment-faults", PERF_COUNT_SW_ALIGNMENT_FAULTS},
        {"emulation-faults", PERF_COUNT_SW_EMULATION_FAULTS},
    };
    if (strncasecmp(name, "perf::", 6) == 0)
        name += 6;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcasecmp(table[i].name, name) == 0) {
            *config = table[i].config;
            return 1;
        }
    return 0;
}

/* ---- per-group state ----------------------------------------------------------- */

typedef struct {
    int n_tids, n;
    int *fd;      /* [t * n + e]; -1 when not open */
    uint64_t *id; /* [t * n + e]; the kernel's event id, to match group reads */
    int *leader;  /* [t]; -1 when no event of the group opened on thread t */
    int *failed;  /* [e]; could not be opened on some thread */
    int user_only;
    struct perf_event_attr attr[PROBES_MAX_EVENTS];
    uint64_t *buf; /* one group read */
} perf_group;

static perf_group *perf_group_new(int n_tids, int n)
{
    perf_group *pg = calloc(1, sizeof *pg);
    if (!pg)
        return NULL;
    pg->n_tids = n_tids, pg->n = n;
    pg->fd = malloc(sizeof *pg->fd * (size_t)(n_tids * n));
    pg->id = calloc((size_t)(n_tids * n), sizeof *pg->id);
    pg->leader = malloc(sizeof *pg->leader * (size_t)n_tids);
    pg->failed = calloc((size_t)n, sizeof *pg->failed);
    pg->buf = malloc(sizeof *pg->buf * (size_t)(3 + 2 * n));
    if (!pg->fd || !pg->id || !pg->leader || !pg->failed || !pg->buf) {
        free(pg->fd), free(pg->id), free(pg->leader), free(pg->failed), free(pg->buf), free(pg);
        return NULL;
    }
    for (int i = 0; i < n_tids * n; i++)
        pg->fd[i] = -1;
    for (int t = 0; t < n_tids; t++)
        pg->leader[t] = -1;
    return pg;
}

static void perf_close(probes_counters *set, probes_group *g)
{
    (void)set;
    perf_group *pg = g->state;
    if (!pg)
        return;
    for (int i = 0; i < pg->n_tids * pg->n; i++)
        if (pg->fd[i] >= 0)
            close(pg->fd[i]);
    free(pg->fd), free(pg->id), free(pg->leader), free(pg->failed), free(pg->buf), free(pg);
    g->state = NULL;
}

/* ---- encoding --------------------------------------------------------------------- */

/* libpfm4 knows perf's generic names (cycles, LLC-load-misses, ...) through
 * its "perf" PMU, and every native event of the PMUs it detects. Returns
 * 0 ok, 1 the event cannot be encoded here (reason in why), -1 bad input. */
static int encode_hardware(const char *name, struct perf_event_attr *attr, char *why, size_t why_len, char *err,
                           size_t err_len)
{
    if (probes_pfm_init(why, why_len) != 0)
        return 1;
    memset(attr, 0, sizeof *attr);
    pfm_perf_encode_arg_t arg;
    memset(&arg, 0, sizeof arg);
    arg.attr = attr;
    arg.size = sizeof arg;
    /* Kernel and user; the open retries user-only when paranoid refuses. */
    int rc = pfm_get_os_event_encoding(name, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
    if (rc == PFM_ERR_NOTFOUND) {
        probes_set_why(err, err_len, "events: unknown event '%s': not a perf generic event and no PMU libpfm4 "
                                     "detected has it (see hstprof events)", name);
        return -1;
    }
    if (rc != PFM_SUCCESS) {
        probes_set_why(err, err_len, "events: '%s': libpfm4: %s", name, pfm_strerror(rc));
        return -1;
    }
    attr->size = sizeof *attr;
    return 0;
}

static void encode_software(const char *name, struct perf_event_attr *attr)
{
    memset(attr, 0, sizeof *attr);
    attr->size = sizeof *attr;
    attr->type = PERF_TYPE_SOFTWARE;
    uint64_t config = 0;
    probes_software_event(name, &config);
    attr->config = config;
}

/* ---- opening ---------------------------------------------------------------------- */

/* As perf does: refused with paranoid > 1 -> retry counting user space only. */
static int open_one(perf_group *pg, int e, pid_t tid, int leader_fd, int *user_only_tried)
{
    struct perf_event_attr attr = pg->attr[e];
    attr.disabled = leader_fd < 0; /* the leader starts the group in start() */
    attr.read_format = PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING |
                       PERF_FORMAT_ID;
    attr.inherit = 0;
    if (pg->user_only)
        attr.exclude_kernel = 1, attr.exclude_hv = 1;
    *user_only_tried = pg->user_only;
    int fd = g_perf_open(&attr, tid, -1, leader_fd, PERF_FLAG_FD_CLOEXEC);
    if (fd >= 0 || (errno != EACCES && errno != EPERM) || attr.exclude_kernel)
        return fd;
    probes_machine_facts facts = probes_machine_facts_get();
    if (facts.paranoid <= 1)
        return -1;
    attr.exclude_kernel = 1, attr.exclude_hv = 1;
    *user_only_tried = 1;
    fd = g_perf_open(&attr, tid, -1, leader_fd, PERF_FLAG_FD_CLOEXEC);
    if (fd >= 0)
        pg->user_only = 1;
    return fd;
}

/* A member refused with EINVAL that opens fine alone: the group is too big
 * for the PMU's counters (the kernel validates group scheduling at open). */
static int fails_only_in_group(perf_group *pg, int e, pid_t tid)
{
    int tried;
    int fd = open_one(pg, e, tid, -1, &tried);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static void mark_failed(probes_counters *set, probes_group *g, perf_group *pg, int e, int t, int err,
                        int user_only_tried, int in_group)
{
    probes_event *ev = &set->events[g->first + e];
    char why[PROBES_WHY_MAX];
    probes_machine_facts facts = probes_machine_facts_get();
    if (err == EINVAL && in_group && fails_only_in_group(pg, e, set->tids[t])) {
        char names[256];
        probes_group_names(set, g, names, sizeof names);
        probes_set_why(why, sizeof why, "cannot be scheduled together with the rest of {%s}: the PMU has too "
                                        "few counters; put it in its own group", names);
    } else {
        probes_reason_for_errno(err, !ev->is_software, user_only_tried, &facts, why, sizeof why);
    }
    if (t > 0)
        probes_set_why(ev->why_not, sizeof ev->why_not, "on thread %d: %s", set->tids[t], why);
    else
        probes_set_why(ev->why_not, sizeof ev->why_not, "%s", why);
    pg->failed[e] = 1;
}

static void open_on_thread(probes_counters *set, probes_group *g, perf_group *pg, int t)
{
    for (int e = 0; e < g->n; e++) {
        if (pg->failed[e])
            continue;
        int tried = 0;
        int fd = open_one(pg, e, set->tids[t], pg->leader[t], &tried);
        if (fd < 0) {
            mark_failed(set, g, pg, e, t, errno, tried, pg->leader[t] >= 0);
            continue;
        }
        pg->fd[t * pg->n + e] = fd;
        if (pg->leader[t] < 0)
            pg->leader[t] = fd;
        if (ioctl(fd, PERF_EVENT_IOC_ID, &pg->id[t * pg->n + e]) != 0)
            pg->id[t * pg->n + e] = 0;
    }
}

static void finish_open(probes_counters *set, probes_group *g, const perf_group *pg)
{
    probes_machine_facts facts = probes_machine_facts_get();
    for (int e = 0; e < g->n; e++) {
        probes_event *ev = &set->events[g->first + e];
        ev->countable = !pg->failed[e];
        if (ev->countable && pg->user_only)
            probes_set_why(ev->note, sizeof ev->note, "user space only (perf_event_paranoid=%d)", facts.paranoid);
    }
}

static int open_group(probes_counters *set, probes_group *g, int hardware, char *err, size_t err_len)
{
    perf_group *pg = perf_group_new(set->n_tids, g->n);
    if (!pg) {
        probes_set_why(err, err_len, "counters: out of memory");
        return -1;
    }
    g->state = pg;
    for (int e = 0; e < g->n; e++) {
        probes_event *ev = &set->events[g->first + e];
        if (!hardware) {
            encode_software(ev->name, &pg->attr[e]);
            continue;
        }
        int rc = encode_hardware(ev->name, &pg->attr[e], ev->why_not, sizeof ev->why_not, err, err_len);
        if (rc < 0)
            return -1;
        pg->failed[e] = rc > 0;
    }
    for (int t = 0; t < set->n_tids; t++)
        open_on_thread(set, g, pg, t);
    finish_open(set, g, pg);
    return 0;
}

static int perf_open_hw(probes_counters *set, probes_group *g, char *err, size_t err_len)
{
    return open_group(set, g, 1, err, err_len);
}

static int perf_open_sw(probes_counters *set, probes_group *g, char *err, size_t err_len)
{
    return open_group(set, g, 0, err, err_len);
}

/* ---- counting ----------------------------------------------------------------------- */

static void perf_start(probes_counters *set, probes_group *g)
{
    (void)set;
    const perf_group *pg = g->state;
    for (int t = 0; t < pg->n_tids; t++) {
        if (pg->leader[t] < 0)
            continue;
        ioctl(pg->leader[t], PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
        ioctl(pg->leader[t], PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
    }
}

/* Adds one thread's group read to the sums: PROBES_READ_OK, EOF (the
 * kernel puts a group it can no longer count in error state, and read()
 * then returns 0 bytes), SHORT, or the errno of a failed read(). */
static int read_thread(const perf_group *pg, int t, uint64_t *raw, uint64_t *enabled, uint64_t *running, int *seen)
{
    size_t want = sizeof *pg->buf * (size_t)(3 + 2 * pg->n);
    ssize_t got;
    do
        got = read(pg->leader[t], pg->buf, want);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return errno ? errno : EIO;
    if (got == 0)
        return PROBES_READ_EOF;
    if (got < (ssize_t)(3 * sizeof *pg->buf))
        return PROBES_READ_SHORT;
    uint64_t nr = pg->buf[0];
    if (nr > (uint64_t)pg->n || (size_t)got < sizeof *pg->buf * (3 + 2 * nr))
        return PROBES_READ_SHORT;
    for (uint64_t k = 0; k < nr; k++) {
        uint64_t value = pg->buf[3 + 2 * k], id = pg->buf[4 + 2 * k];
        for (int e = 0; e < pg->n; e++) {
            if (pg->fd[t * pg->n + e] < 0 || pg->id[t * pg->n + e] != id)
                continue;
            raw[e] += value;
            enabled[e] += pg->buf[1];
            running[e] += pg->buf[2];
            seen[e] = 1;
        }
    }
    return PROBES_READ_OK;
}

/* One read() per thread; the first failure is every event's status (the
 * sums over threads would be partial), and says on which thread. */
static void perf_read(probes_counters *set, probes_group *g, int *status, uint64_t *raw, uint64_t *enabled_ns,
                      uint64_t *running_ns)
{
    const perf_group *pg = g->state;
    int seen[PROBES_MAX_EVENTS] = {0};
    for (int t = 0; pg && t < pg->n_tids; t++) {
        if (pg->leader[t] < 0)
            continue;
        int rc = read_thread(pg, t, raw, enabled_ns, running_ns, seen);
        if (rc != PROBES_READ_OK) {
            for (int e = 0; e < g->n; e++)
                status[e] = rc;
            if (set->tids[t] != 0)
                probes_set_why(g->read_detail, sizeof g->read_detail, "on thread %d", set->tids[t]);
            return;
        }
    }
    for (int e = 0; e < g->n; e++)
        status[e] = seen[e] && set->events[g->first + e].countable ? PROBES_READ_OK : PROBES_READ_SKIPPED;
}

/* ---- availability ------------------------------------------------------------------- */

static int describe_with_probe(struct perf_event_attr *attr, int hardware, char *why, size_t len)
{
    perf_group probe_group;
    memset(&probe_group, 0, sizeof probe_group);
    probe_group.attr[0] = *attr;
    int tried = 0;
    int fd = open_one(&probe_group, 0, 0, -1, &tried);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    probes_machine_facts facts = probes_machine_facts_get();
    probes_reason_for_errno(errno, hardware, tried, &facts, why, len);
    return 1;
}

static int perf_unavailable_hw(char *why, size_t len)
{
    if (probes_pfm_init(why, len) != 0)
        return 1;
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_CPU_CYCLES;
    return describe_with_probe(&attr, 1, why, len);
}

static int perf_unavailable_sw(char *why, size_t len)
{
    struct perf_event_attr attr;
    encode_software("task-clock", &attr);
    return describe_with_probe(&attr, 0, why, len);
}

const probes_backend probes_backend_perf = {
    .name = "perf_event",
    .open = perf_open_hw,
    .start = perf_start,
    .read = perf_read,
    .close = perf_close,
    .describe_unavailable = perf_unavailable_hw,
};

const probes_backend probes_backend_software = {
    .name = "software",
    .open = perf_open_sw,
    .start = perf_start,
    .read = perf_read,
    .close = perf_close,
    .describe_unavailable = perf_unavailable_sw,
};
