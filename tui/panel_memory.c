/* panel_memory.c — the process's memory since the dashboard started: RSS,
 * PSS, peaks (of the samples, every 250 ms), the KV cache of the shown
 * session, and page faults. */
#include "tui/internal.h"

#include <math.h>
#include <stdio.h>

/* "n/a" when it cannot be measured (the reason is shown), FIG_NONE before the first sample. */
static void metric_bytes(char *buf, size_t len, const probes_metric *m)
{
    if (m->valid)
        fmt_bytes(buf, len, m->value);
    else
        snprintf(buf, len, "%s", m->why_not[0] ? "n/a" : FIG_NONE);
}

static void memory_draw(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    const probes_memory_report *m = &v->memory;
    char rss[32], pss[32], peak[32], kv[32], faults[32], rate[32], major[32];
    draw_title(c, r, "Memory", "whole process");
    if (r.h < 2)
        return;
    metric_bytes(rss, sizeof rss, &m->rss_bytes);
    metric_bytes(pss, sizeof pss, &m->pss_bytes);
    metric_bytes(peak, sizeof peak, &m->rss_peak_bytes);
    int x = r.x + draw_labeled(c, r.y + 1, r.x, r.w, "RSS ", ROLE_VALUE, rss);
    x += draw_labeled(c, r.y + 1, x, r.x + r.w - x, "  PSS ", ROLE_VALUE, pss);
    draw_labeled(c, r.y + 1, x, r.x + r.w - x, "  peak ", ROLE_VALUE, peak);
    if (!m->pss_bytes.valid && m->pss_bytes.why_not[0] && r.h > 3) {
        char why[sizeof m->pss_bytes.why_not + 8];
        snprintf(why, sizeof why, "PSS: %s", m->pss_bytes.why_not);
        draw_message(c, r.y + 3, r.x, r.w, ROLE_DIM, why);
    }
    if (r.h < 3)
        return;
    /* Unknown until the session exists and the first samples are in. */
    fmt_bytes(kv, sizeof kv, v->has_current && v->current.info.kv_cache_bytes ? (double)v->current.info.kv_cache_bytes : NAN);
    fmt_count(faults, sizeof faults, m->minor_faults.valid ? m->minor_faults.value : NAN);
    fmt_rate(rate, sizeof rate, m->minor_faults.valid && v->minor_faults_per_s > 0 ? v->minor_faults_per_s : NAN, "/s");
    fmt_count(major, sizeof major, m->major_faults.valid ? m->major_faults.value : NAN);
    char minor[64];
    snprintf(minor, sizeof minor, "%s minor", faults);
    x = r.x + draw_labeled(c, r.y + 2, r.x, r.w, "KV cache ", ROLE_VALUE, kv);
    /* the rate and the major faults follow the faults, never the KV cache alone */
    int used = draw_labeled(c, r.y + 2, x, r.x + r.w - x, "  faults ", ROLE_VALUE, minor);
    x += used;
    if (used)
        used = draw_textf(c, r.y + 2, x, r.x + r.w - x, ROLE_VALUE, " (%s)", rate);
    x += used;
    if (used)
        draw_textf(c, r.y + 2, x, r.x + r.w - x, ROLE_VALUE, ", %s major", major);
}

const struct panel panel_memory = {
    .title = "Memory",
    .place = {.area = AREA_RIGHT, .min_rows = 3, .max_rows = 4},
    .draw = memory_draw,
};
