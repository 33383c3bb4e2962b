/* memory.h — the process's memory over a window (a token, a run). */
#ifndef PROBES_MEMORY_H
#define PROBES_MEMORY_H

#include "probes/probes.h"

/* ---- memory ------------------------------------------------------------------
 * RSS and VMS from /proc/self/statm at begin, end and every sample (about
 * 1 µs: one pread); faults from getrusage (the whole process). PSS
 * (/proc/self/smaps_rollup, which walks the page tables) and swap
 * (/proc/vmstat, system-wide) are read at most every 100 ms by the whole
 * process, so windows as short as a token stay cheap, and their PSS and
 * swap figures may be up to 100 ms old. Peaks are the maxima of the samples
 * taken in the window, not the process's lifetime high-water mark (VmHWM),
 * so short spikes between samples can be missed. A window is used by one
 * thread; several windows (a token's, a run's) may be open at once. */

typedef struct { /* filled by probes_memory_begin/sample; read the report */
    uint64_t begin_ns, last_pss_ns;
    uint64_t samples;
    int rss_ok, pss_ok, faults_ok, swap_ok;
    uint64_t rss_bytes, vms_bytes, pss_bytes;
    uint64_t rss_peak_bytes, vms_peak_bytes, pss_peak_bytes;
    uint64_t minflt_begin, majflt_begin;
    uint64_t swap_in_begin_pages, swap_out_begin_pages;
    char why_rss[PROBES_WHY_MAX], why_pss[PROBES_WHY_MAX], why_swap[PROBES_WHY_MAX];
} probes_memory_window;

typedef struct {
    uint64_t window_ns;
    uint64_t samples;
    probes_metric rss_bytes, pss_bytes, vms_bytes;                /* at the end */
    probes_metric rss_peak_bytes, pss_peak_bytes, vms_peak_bytes; /* within the window */
    probes_metric minor_faults, major_faults;                     /* within the window */
    probes_metric swap_in_bytes_system, swap_out_bytes_system;    /* within the window */
    probes_metric kv_cache_bytes;
} probes_memory_report;

void probes_memory_begin(probes_memory_window *w);
void probes_memory_sample(probes_memory_window *w);
/* kv_cache_bytes < 0: unknown (e.g. no session). */
void probes_memory_end(probes_memory_window *w, double kv_cache_bytes, probes_memory_report *out);

#endif
