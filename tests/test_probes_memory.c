/* test_probes_memory.c — the memory sampler: peaks are those of the window
 * (64 MiB touched inside it show up; a window opened after the memory went
 * back does not inherit the old peak, unlike VmHWM), faults and swap within
 * the window, PSS, and the KV cache figure. mmap/munmap keep the 64 MiB out
 * of malloc's and ASan's caches, so freeing really returns it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "probes/memory.h"

#include <string.h>
#include <sys/mman.h>

#define MIB (1024.0 * 1024.0)
#define BLOCK (64u << 20)

static double old_peak;

static void test_peak_rss_includes_64_mib_touched_inside_the_window(void **state)
{
    (void)state;
    probes_memory_window w;
    probes_memory_begin(&w);
    double begin_rss = (double)w.rss_bytes;
    char *block = mmap(NULL, BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(block != MAP_FAILED);
    memset(block, 7, BLOCK);
    probes_memory_sample(&w);
    munmap(block, BLOCK);
    probes_memory_report r;
    probes_memory_end(&w, -1, &r);
    assert_true(r.rss_peak_bytes.valid);
    double grew = (r.rss_peak_bytes.value - begin_rss) / MIB;
    if (grew < 60 || grew > 96)
        fail_msg("peak RSS grew by %.1f MiB, expected about 64", grew);
    assert_true(r.rss_bytes.value < r.rss_peak_bytes.value - 48 * MIB); /* freed before the end */
    assert_true(r.vms_peak_bytes.value >= r.vms_bytes.value);
    assert_true(r.minor_faults.valid && r.minor_faults.value > 0);
    assert_true(r.samples >= 3);
    old_peak = r.rss_peak_bytes.value;
}

static void test_a_later_window_does_not_report_the_old_peak(void **state)
{
    (void)state;
    probes_memory_window w;
    probes_memory_begin(&w);
    probes_memory_sample(&w);
    probes_memory_report r;
    probes_memory_end(&w, -1, &r);
    assert_true(r.rss_peak_bytes.valid);
    if (!(r.rss_peak_bytes.value < old_peak - 48 * MIB))
        fail_msg("new window peak %.1f MiB, old window peak %.1f MiB", r.rss_peak_bytes.value / MIB, old_peak / MIB);
}

static void test_pss_swap_and_kv_figures(void **state)
{
    (void)state;
    probes_memory_window w;
    probes_memory_begin(&w);
    probes_memory_report r;
    probes_memory_end(&w, 12345, &r);
    assert_true(r.pss_bytes.valid && r.pss_bytes.value > 0);
    assert_true(r.pss_peak_bytes.value >= r.pss_bytes.value);
    assert_true(r.swap_in_bytes_system.valid && r.swap_in_bytes_system.value >= 0);
    assert_true(r.swap_out_bytes_system.valid);
    assert_true(r.major_faults.valid);
    assert_true(r.kv_cache_bytes.valid && r.kv_cache_bytes.value == 12345);
    probes_memory_end(&w, -1, &r);
    assert_false(r.kv_cache_bytes.valid);
    assert_non_null(strstr(r.kv_cache_bytes.why_not, "KV cache size unknown"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peak_rss_includes_64_mib_touched_inside_the_window),
        cmocka_unit_test(test_a_later_window_does_not_report_the_old_peak),
        cmocka_unit_test(test_pss_swap_and_kv_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
