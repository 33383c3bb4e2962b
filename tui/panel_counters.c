/* panel_counters.c — hardware counters of the shown segment (IPC, L1/L2/LLC
 * misses, ratios, running share when multiplexed) or, when the machine
 * cannot count them or they were lost mid-run (a failed read), the reason
 * and the software events instead. Numbers
 * are scaled as perf stat scales them (probes/). */
#include "tui/internal.h"

#include <stdio.h>
#include <string.h>

static int is_software(const probes_counter_value *v)
{
    return strcmp(v->backend, "software") == 0;
}

static int any_hardware_counting(const probes_counter_window *w)
{
    for (int i = 0; i < w->n_counters; i++)
        if (!is_software(&w->counters[i]) && w->counters[i].value.valid)
            return 1;
    return 0;
}

static const char *first_hardware_reason(const probes_counter_window *w)
{
    for (int i = 0; i < w->n_counters; i++)
        if (!is_software(&w->counters[i]) && !w->counters[i].value.valid)
            return w->counters[i].value.why_not;
    return "no hardware events in the set";
}

/* "name  12.3 M  (4.56 M/s)  running 50.0%" */
static int counter_row(const struct draw_ctx *c, struct rect r, int y, const probes_counter_value *v, double seconds)
{
    char value[32], rate[32];
    int x = r.x + draw_textf(c, y, r.x, r.w, ROLE_LABEL, "%-17.17s ", v->name);
    if (!v->value.valid) {
        draw_message(c, y, x, r.x + r.w - x, ROLE_DIM, v->value.why_not);
        return 1;
    }
    if (strcmp(v->name, "task-clock") == 0) {
        /* task-clock counts ns of CPU time: as perf stat, show CPUs used. */
        fmt_ms(value, sizeof value, v->value.value / 1e6);
        x += draw_text(c, y, x, r.x + r.w - x, ROLE_VALUE, value);
        draw_textf(c, y, x, r.x + r.w - x, ROLE_NORMAL, "  %.2f CPUs utilized",
                   seconds > 0 ? v->value.value / 1e9 / seconds : 0);
        return 1;
    }
    fmt_count(value, sizeof value, v->value.value);
    fmt_rate(rate, sizeof rate, seconds > 0 ? v->value.value / seconds : 0, "/s");
    x += draw_text(c, y, x, r.x + r.w - x, ROLE_VALUE, value);
    x += draw_textf(c, y, x, r.x + r.w - x, ROLE_NORMAL, "  %s", rate);
    if (v->running_share.valid && v->running_share.value < 0.999)
        draw_textf(c, y, x, r.x + r.w - x, ROLE_WARN, "  running %.1f%%", v->running_share.value * 100);
    return 1;
}

static int derived_rows(const struct draw_ctx *c, struct rect r, int y, const probes_counter_window *w)
{
    int used = 0;
    for (int i = 0; i < w->n_derived && y + used < r.y + r.h; i++) {
        const probes_derived_metric *d = &w->derived[i];
        if (strcmp(d->name, "llc_miss_bytes_per_s") == 0)
            continue; /* the bandwidth panel's business */
        int x = r.x + draw_textf(c, y + used, r.x, r.w, ROLE_LABEL, "%-17.17s ", d->label);
        if (d->metric.valid)
            draw_textf(c, y + used, x, r.x + r.w - x, ROLE_VALUE,
                       strstr(d->name, "ratio") ? "%.2f%%" : "%.3f", d->metric.value * (strstr(d->name, "ratio") ? 100 : 1));
        else
            draw_message(c, y + used, x, r.x + r.w - x, ROLE_DIM, d->metric.why_not);
        used++;
    }
    return used;
}

static void counters_draw(const struct draw_ctx *c, struct rect r)
{
    const live_segment_info *info = &c->view->current.info;
    const probes_counter_window *w = &info->counters_decode;
    double seconds = (double)w->window_ns * 1e-9;
    char right[64];
    snprintf(right, sizeof right, "decode tokens, %.1f s", seconds);
    draw_title(c, r, "Counters", info->has_windows ? right : "");
    int y = r.y + 1, end = r.y + r.h;
    char why[PROBES_WHY_MAX + 600];
    if (!c->view->has_current) { /* the engine has not opened them yet */
        draw_text(c, y, r.x, r.w, ROLE_DIM, FIG_NONE);
        return;
    }
    if (!info->counters_open) {
        snprintf(why, sizeof why, "unavailable: %s",
                 info->counters_summary[0] ? info->counters_summary : "the engine gave no reason");
        draw_wrapped(c, (struct rect){y, r.x, end - y, r.w}, ROLE_WARN, why);
        return;
    }
    if (!info->has_windows) {
        draw_text(c, y, r.x, r.w, ROLE_DIM, "counting...");
        return;
    }
    int hardware = any_hardware_counting(w);
    if (hardware)
        y += derived_rows(c, (struct rect){y, r.x, end - y, r.w}, y, w);
    else if (y < end) {
        const char *reason = first_hardware_reason(w);
        /* "lost mid-run at 12.3 s: ..." once a read failed; else why it never counted. */
        const char *prefix = strncmp(reason, "lost ", 5) == 0 ? "hardware counters "
                             : strstr(reason, "unavailable") ? "" : "unavailable: ";
        snprintf(why, sizeof why, "%s%s", prefix, reason);
        y += draw_wrapped(c, (struct rect){y, r.x, end - y > 2 ? 2 : end - y, r.w}, ROLE_WARN, why);
    }
    if (!hardware && y < end)
        draw_text(c, y++, r.x, r.w, ROLE_DIM, "software events instead:");
    for (int pass = 0; pass < 2; pass++) /* hardware first, then software */
        for (int i = 0; i < w->n_counters && y < end; i++) {
            const probes_counter_value *v = &w->counters[i];
            if (is_software(v) == pass && (pass || hardware))
                y += counter_row(c, r, y, v, seconds);
        }
}

const struct panel panel_counters = {
    .title = "Counters",
    .place = {.area = AREA_LEFT, .min_rows = 4, .max_rows = 14},
    .draw = counters_draw,
};
