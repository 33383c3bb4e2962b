/* memory.c — RSS, PSS, VMS and their peaks within a window, page faults and
 * swap traffic within it. Peaks come from the samples the window takes, not
 * from VmHWM, which is the process's lifetime maximum and never goes down. */
#include "probes/internal.h"
#include "probes/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The slow sources (PSS, swap) are read at most this often. */
#define PSS_INTERVAL_NS 100000000ull

static uint64_t page_bytes(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (uint64_t)p : 4096;
}

/* Kept open: a pread at offset 0 regenerates the file, and sampling every
 * token must cost a syscall, not an open/parse/close. */
static _Atomic int g_statm_fd = -1;

static int statm_fd(void)
{
    int fd = atomic_load(&g_statm_fd);
    if (fd >= 0)
        return fd;
    fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    int expected = -1;
    if (fd >= 0 && !atomic_compare_exchange_strong(&g_statm_fd, &expected, fd)) {
        close(fd); /* another thread won */
        fd = expected;
    }
    return fd;
}

/* /proc/self/statm: size and resident, in pages; one short line. */
static int read_statm(uint64_t *vms_bytes, uint64_t *rss_bytes, char *why, size_t len)
{
    char buf[128];
    int fd = statm_fd();
    ssize_t got = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
    unsigned long long size = 0, resident = 0;
    if (got > 0)
        buf[got] = '\0';
    if (got <= 0 || sscanf(buf, "%llu %llu", &size, &resident) != 2) {
        probes_set_why(why, len, "cannot read /proc/self/statm: %s", got < 0 ? strerror(errno) : "unexpected format");
        return -1;
    }
    *vms_bytes = size * page_bytes();
    *rss_bytes = resident * page_bytes();
    return 0;
}

/* A small /proc file into buf (NUL-terminated): open, read, close, no
 * allocation, so a soak run's sampling leaves the heap alone. Length, or -1. */
static ssize_t read_proc_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t used = 0;
    ssize_t got = 0;
    while (used < size - 1 && (got = read(fd, buf + used, size - 1 - used)) > 0)
        used += (size_t)got;
    int saved = errno;
    close(fd);
    errno = saved;
    if (got < 0)
        return -1;
    buf[used] = '\0';
    return (ssize_t)used;
}

/* The number after "\n<key>" (or at the very start), or -1 when absent. */
static int proc_field(const char *text, const char *key, unsigned long long *value)
{
    size_t klen = strlen(key);
    for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, klen) != 0)
            continue;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(line + klen, &end, 10);
        if (end == line + klen || errno != 0)
            return -1;
        *value = v;
        return 0;
    }
    return -1;
}

static int read_pss(uint64_t *pss_bytes, char *why, size_t len)
{
    char text[4096];
    if (read_proc_file("/proc/self/smaps_rollup", text, sizeof text) < 0) {
        probes_set_why(why, len, "no /proc/self/smaps_rollup (%s; needs Linux 4.14 or later)", strerror(errno));
        return -1;
    }
    unsigned long long kib = 0;
    if (proc_field(text, "Pss:", &kib) != 0) {
        probes_set_why(why, len, "no Pss line in /proc/self/smaps_rollup");
        return -1;
    }
    *pss_bytes = kib * 1024;
    return 0;
}

static int read_swap_pages(uint64_t *in, uint64_t *out, char *why, size_t len)
{
    char text[16384]; /* /proc/vmstat is ~5 KB on current kernels */
    if (read_proc_file("/proc/vmstat", text, sizeof text) < 0) {
        probes_set_why(why, len, "cannot read /proc/vmstat: %s", strerror(errno));
        return -1;
    }
    unsigned long long pin, pout;
    if (proc_field(text, "pswpin ", &pin) != 0 || proc_field(text, "pswpout ", &pout) != 0) {
        probes_set_why(why, len, "no pswpin/pswpout in /proc/vmstat");
        return -1;
    }
    *in = pin;
    *out = pout;
    return 0;
}

/* ---- the slow sources, shared and rate-limited ------------------------------------ */

/* PSS (smaps_rollup walks the page tables: tens of µs for a small process,
 * milliseconds with a large model mapped) and /proc/vmstat (~25 µs) are read
 * at most every PSS_INTERVAL_NS by the whole process, whatever the number
 * of windows, so a window per token stays cheap. A short window therefore
 * sees figures up to that old. */
typedef struct {
    uint64_t t_ns;
    int pss_ok, swap_ok;
    uint64_t pss_bytes, swap_in_pages, swap_out_pages;
    char why_pss[PROBES_WHY_MAX], why_swap[PROBES_WHY_MAX];
} slow_sample;

static pthread_mutex_t g_slow_lock = PTHREAD_MUTEX_INITIALIZER;
static slow_sample g_slow;

static void slow_get(slow_sample *out)
{
    uint64_t now = hst_now_ns();
    pthread_mutex_lock(&g_slow_lock);
    if (g_slow.t_ns == 0 || now - g_slow.t_ns >= PSS_INTERVAL_NS) {
        g_slow.t_ns = now;
        g_slow.pss_ok = read_pss(&g_slow.pss_bytes, g_slow.why_pss, sizeof g_slow.why_pss) == 0;
        g_slow.swap_ok = read_swap_pages(&g_slow.swap_in_pages, &g_slow.swap_out_pages, g_slow.why_swap,
                                         sizeof g_slow.why_swap) == 0;
    }
    *out = g_slow;
    pthread_mutex_unlock(&g_slow_lock);
}

/* ---- windows ------------------------------------------------------------------------ */

static void sample_rss(probes_memory_window *w)
{
    uint64_t vms, rss;
    w->rss_ok = read_statm(&vms, &rss, w->why_rss, sizeof w->why_rss) == 0;
    if (!w->rss_ok)
        return;
    w->rss_bytes = rss, w->vms_bytes = vms;
    if (rss > w->rss_peak_bytes)
        w->rss_peak_bytes = rss;
    if (vms > w->vms_peak_bytes)
        w->vms_peak_bytes = vms;
}

static void sample_pss(probes_memory_window *w, const slow_sample *s)
{
    w->last_pss_ns = s->t_ns;
    w->pss_ok = s->pss_ok;
    if (!s->pss_ok) {
        probes_set_why(w->why_pss, sizeof w->why_pss, "%s", s->why_pss);
        return;
    }
    w->pss_bytes = s->pss_bytes;
    if (s->pss_bytes > w->pss_peak_bytes)
        w->pss_peak_bytes = s->pss_bytes;
}

void probes_memory_begin(probes_memory_window *w)
{
    memset(w, 0, sizeof *w);
    w->begin_ns = hst_now_ns();
    struct rusage ru;
    w->faults_ok = getrusage(RUSAGE_SELF, &ru) == 0;
    if (w->faults_ok)
        w->minflt_begin = (uint64_t)ru.ru_minflt, w->majflt_begin = (uint64_t)ru.ru_majflt;
    slow_sample s;
    slow_get(&s);
    w->swap_ok = s.swap_ok;
    w->swap_in_begin_pages = s.swap_in_pages, w->swap_out_begin_pages = s.swap_out_pages;
    if (!s.swap_ok)
        probes_set_why(w->why_swap, sizeof w->why_swap, "%s", s.why_swap);
    sample_rss(w);
    sample_pss(w, &s);
    w->samples = 1;
}

void probes_memory_sample(probes_memory_window *w)
{
    sample_rss(w);
    if (hst_now_ns() - w->last_pss_ns >= PSS_INTERVAL_NS) {
        slow_sample s;
        slow_get(&s);
        sample_pss(w, &s);
    }
    w->samples++;
}

static probes_metric metric_if(int ok, uint64_t value, const char *why)
{
    return ok ? probes_metric_of((double)value) : probes_metric_invalid("%s", why);
}

static void report_faults(const probes_memory_window *w, probes_memory_report *out)
{
    struct rusage ru;
    if (w->faults_ok && getrusage(RUSAGE_SELF, &ru) == 0) {
        out->minor_faults = probes_metric_of((double)((uint64_t)ru.ru_minflt - w->minflt_begin));
        out->major_faults = probes_metric_of((double)((uint64_t)ru.ru_majflt - w->majflt_begin));
    } else {
        out->minor_faults = probes_metric_invalid("getrusage failed");
        out->major_faults = out->minor_faults;
    }
}

static void report_swap(const probes_memory_window *w, const slow_sample *s, probes_memory_report *out)
{
    if (w->swap_ok && s->swap_ok) {
        out->swap_in_bytes_system = probes_metric_of((double)((s->swap_in_pages - w->swap_in_begin_pages) * page_bytes()));
        out->swap_out_bytes_system =
            probes_metric_of((double)((s->swap_out_pages - w->swap_out_begin_pages) * page_bytes()));
    } else {
        out->swap_in_bytes_system = probes_metric_invalid("%s", w->swap_ok ? s->why_swap : w->why_swap);
        out->swap_out_bytes_system = out->swap_in_bytes_system;
    }
}

void probes_memory_end(probes_memory_window *w, double kv_cache_bytes, probes_memory_report *out)
{
    memset(out, 0, sizeof *out);
    sample_rss(w);
    slow_sample s;
    slow_get(&s);
    sample_pss(w, &s);
    w->samples++;
    out->window_ns = hst_now_ns() - w->begin_ns;
    out->samples = w->samples;
    out->rss_bytes = metric_if(w->rss_ok, w->rss_bytes, w->why_rss);
    out->vms_bytes = metric_if(w->rss_ok, w->vms_bytes, w->why_rss);
    out->pss_bytes = metric_if(w->pss_ok, w->pss_bytes, w->why_pss);
    out->rss_peak_bytes = metric_if(w->rss_peak_bytes > 0, w->rss_peak_bytes, w->why_rss);
    out->vms_peak_bytes = metric_if(w->vms_peak_bytes > 0, w->vms_peak_bytes, w->why_rss);
    out->pss_peak_bytes = metric_if(w->pss_peak_bytes > 0, w->pss_peak_bytes, w->why_pss);
    report_faults(w, out);
    report_swap(w, &s, out);
    out->kv_cache_bytes = kv_cache_bytes >= 0 ? probes_metric_of(kv_cache_bytes)
                                              : probes_metric_invalid("no session: KV cache size unknown");
}
