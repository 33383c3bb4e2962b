/* tui_fixture.c — see tui_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/tui_fixture.h"

#include "tests/harness.h"

#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static SCREEN *screen;
static FILE *terminal_file; /* curses writes its start-up sequences here */

int tui_fixture_setup(void **state)
{
    (void)state;
    /* UTF-8 glyphs need a UTF-8 locale; without one the ASCII set is tested. */
    if (!setlocale(LC_ALL, "C.UTF-8"))
        setlocale(LC_ALL, "");
    char path[4096];
    snprintf(path, sizeof path, "%s/curses-terminal", harness_workdir());
    terminal_file = fopen(path, "w+");
    const char *names[] = {"xterm-256color", "xterm", "vt100", "dumb"};
    for (size_t i = 0; terminal_file && i < sizeof names / sizeof names[0] && !screen; i++)
        screen = newterm(names[i], terminal_file, terminal_file);
    return screen ? 0 : -1;
}

int tui_fixture_teardown(void **state)
{
    (void)state;
    endwin();
    delscreen(screen);
    fclose(terminal_file);
    screen = NULL; /* the next setup makes a new one */
    terminal_file = NULL;
    return 0;
}

/* A view with something in every panel. */
void tui_fixture_fill_view(live_view *v)
{
    memset(v, 0, sizeof *v);
    v->has_current = 1;
    live_segment_stats *s = &v->current;
    snprintf(v->status.setting.model, sizeof v->status.setting.model, "hst-v4");
    snprintf(v->status.setting.affinity, sizeof v->status.setting.affinity, "compact");
    v->status.setting.threads = 3;
    v->status.pu_count = 2;
    snprintf(v->status.error, sizeof v->status.error, "model: x: unknown model: a long error that goes on and on");
    s->info.n_sections = 11;
    for (int i = 0; i < 11; i++) {
        snprintf(s->info.section_names[i], sizeof s->info.section_names[i], "section.%d", i);
        s->section_ms[i] = 0.01 * (i + 1);
        s->section_token_ms += s->section_ms[i];
    }
    s->decode_tokens = 1000;
    s->decode_ns = 200000000;
    s->decode_bytes = 1e9;
    s->decode_flops = 1e9;
    s->history_len = LIVE_HISTORY;
    for (int i = 0; i < LIVE_HISTORY; i++)
        s->history_tok_per_s[i] = 1000 + i;
    s->n_threads = 3;
    v->n_segments = LIVE_VIEW_SEGMENTS;
    for (int i = 0; i < LIVE_VIEW_SEGMENTS; i++)
        v->segments[i] = (live_segment_summary){.id = (uint32_t)i, .ab_side = i % 3 - 1, .decode_tokens = 5,
                                                .decode_tok_per_s = 1e6 / (i + 1)};
    v->n_pus = 40;
    for (int i = 0; i < v->n_pus; i++)
        v->pus[i] = (live_pu){i, i / 2, 0, 0.5};
    v->ab_active = 1;
    snprintf(v->ab.verdict, sizeof v->ab.verdict, "B is 1.31x faster (95%% CI 1.22-1.40)");
    v->text_len = LIVE_TEXT_MAX;
    for (int i = 0; i < LIVE_TEXT_MAX; i++)
        v->text[i] = i * 7;
    snprintf(v->prompt, sizeof v->prompt, "The harmonic spine carries the lattice.");
    /* figures with units, as a running segment has them */
    s->decode_tok_per_s_now = 2345.6, s->decode_tok_per_s_smoothed = 2300.1, s->decode_tok_per_s = 2290.4;
    s->prefills = 12, s->info.prompt_tokens = 39, s->prefill_tok_per_s_last = 31234, s->prefill_tok_per_s = 30111;
    s->ttft_count = 12, s->ttft_ms_last = 1.25, s->ttft_ms_median = 1.21;
    s->latency_p50_ms = 0.358, s->latency_p95_ms = 4.27, s->latency_p99_ms = 8.4;
    for (int i = 0; i < LIVE_HISTORY; i++)
        s->history_end_ns[i] = 1000000000ull + (uint64_t)i * 500000000ull;
    v->status.max_seq_len = 512, v->status.pos = 229, v->status.generations = 12;
    snprintf(v->status.kernel_in_use, sizeof v->status.kernel_in_use, "avx512");
    v->status.ab_active = 1;
    v->status.ab[0] = v->status.setting;
    v->status.ab[1] = v->status.setting;
    v->status.ab[1].threads = 2;
    v->status.ab_round_tokens = 32;
    snprintf(v->ab_label, sizeof v->ab_label, "threads 3 vs 2");
    v->ab.a = (ab_side_stats){.n = 9, .median = 2210.5, .ci_valid = 1, .ci_lo = 2190, .ci_hi = 2230};
    v->ab.b = (ab_side_stats){.n = 9, .median = 2895.3, .ci_valid = 1, .ci_lo = 2850, .ci_hi = 2940};
    v->ab.ratio_valid = 1, v->ab.ratio = 1.31, v->ab.significant = 1;
    for (int i = 0; i < LIVE_VIEW_SEGMENTS; i++) {
        live_segment_summary *g = &v->segments[i];
        g->setting = v->status.setting;
        snprintf(g->setting.precision, sizeof g->setting.precision, "f32");
        snprintf(g->setting.kernel, sizeof g->setting.kernel, "avx512");
        g->latency_p50_ms = 0.35 + i * 0.01, g->latency_p99_ms = 4.27 + i;
    }
    v->memory.rss_bytes = probes_metric_of(51.2 * 1048576);
    v->memory.pss_bytes = probes_metric_of(45.1 * 1048576);
    v->memory.rss_peak_bytes = probes_metric_of(53.9 * 1048576);
    v->memory.minor_faults = probes_metric_of(9790);
    v->memory.major_faults = probes_metric_of(3);
    v->minor_faults_per_s = 82;
    v->n_packages = 1, v->n_cores = 20, v->l3_bytes = 260u << 20;
    s->info.has_windows = 1;
    s->info.counters_open = 1;
    s->info.counters_decode.n_counters = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(s->info.counters_decode.counters[i].name, PROBES_NAME_MAX, "event-%d", i);
        snprintf(s->info.counters_decode.counters[i].backend, 16, i ? "software" : "perf_event");
        s->info.counters_decode.counters[i].value = probes_metric_invalid("a reason that is rather long, to wrap");
    }
}


/* The whole dashboard as text, one row after another. */
char *tui_fixture_text(const live_view *view, const struct ui_state *ui, int rows, int cols)
{
    struct theme theme;
    theme_init(&theme, 0, theme_utf8_wanted());
    WINDOW *pad = newpad(rows, cols);
    assert_non_null(pad);
    render_dashboard(pad, rows, cols, view, &theme, ui);
    size_t line_len = (size_t)cols * MB_LEN_MAX + 2;
    char *text = calloc((size_t)rows, line_len), *p = text;
    assert_non_null(text);
    for (int y = 0; y < rows; y++) {
        draw_row_text(pad, y, cols, p, line_len - 1);
        p += strlen(p);
        *p++ = '\n';
    }
    delwin(pad);
    return text;
}
