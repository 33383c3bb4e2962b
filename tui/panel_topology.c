/* panel_topology.c — the machine's PUs (with their core and package), the
 * whole machine's load on each, and which engine threads ran where with
 * their own load: the picture an affinity policy changes. */
#include "tui/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* "T0 74% T3 12%": threads that last ran on this PU. */
static void threads_on(const live_segment_stats *s, int os_index, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int t = 0; t < s->n_threads && t < LIVE_SAMPLE_THREADS && used + 1 < len; t++)
        if (s->thread_cpu[t] == os_index)
            used += (size_t)snprintf(buf + used, len - used, "%sT%d %.0f%%", used ? " " : "", t,
                                     s->thread_load[t] * 100);
    if (used >= len)
        buf[len - 1] = '\0';
}

static void pu_row(const struct draw_ctx *c, struct rect r, int y, const live_pu *pu)
{
    const live_segment_stats *s = &c->view->current;
    char threads[128];
    threads_on(s, pu->os_index, threads, sizeof threads);
    int x = r.x + draw_textf(c, y, r.x, r.w, ROLE_LABEL, "PU%-3d core %-3d ", pu->os_index, pu->core);
    int bar_w = (r.w - (x - r.x)) / 3;
    if (bar_w > 12)
        bar_w = 12;
    if (bar_w >= 4) {
        draw_bar(c, y, x, bar_w, pu->load, pu->load > 0.9 ? ROLE_WARN : ROLE_BAR);
        x += bar_w;
    }
    if (pu->load >= 0)
        x += draw_textf(c, y, x, r.x + r.w - x, ROLE_NORMAL, " %3.0f%% ", pu->load * 100);
    char first[128], both[260];
    snprintf(first, sizeof first, "%s", threads);
    char *space = strchr(first, ' '), *second = space ? strchr(space + 1, ' ') : NULL;
    if (second) { /* "T0 74% T3 12% T5 1%" narrows to "T0 74% +2" */
        int more = 0;
        for (const char *p = threads + (second - first); (p = strchr(p, 'T')) != NULL; p++)
            more++;
        snprintf(second, sizeof first - (size_t)(second - first), " +%d", more);
    }
    snprintf(both, sizeof both, "%s\n%s", threads, first);
    draw_first_fit(c, y, x, r.x + r.w - x, threads[0] ? ROLE_VALUE : ROLE_DIM, threads[0] ? both : "-");
}

/* Many PUs: compact cells "12:97%T3" in a grid. */
static void pu_grid(const struct draw_ctx *c, struct rect r, int y, int rows)
{
    const live_view *v = c->view;
    const int cell_w = 13;
    int per_row = r.w / cell_w > 0 ? r.w / cell_w : 1;
    for (int i = 0; i < v->n_pus && i / per_row < rows; i++) {
        const live_pu *pu = &v->pus[i];
        char threads[128];
        threads_on(&v->current, pu->os_index, threads, sizeof threads);
        char *space = strchr(threads, ' '); /* the first thread's name is enough here */
        if (space)
            *space = '\0';
        draw_textf(c, y + i / per_row, r.x + (i % per_row) * cell_w, cell_w - 1,
                   threads[0] ? ROLE_VALUE : ROLE_NORMAL, "%d:%.0f%%%s", pu->os_index, pu->load * 100, threads);
    }
}

/* Whether the measured ceilings found hwloc's L3 size one the machine cannot have. */
static int l3_suspicious(const live_view *v)
{
    for (int l = 0; v->ceilings_ok && l < v->ceilings.n_levels; l++)
        if (strcmp(v->ceilings.levels[l].name, "L3") == 0)
            return v->ceilings.levels[l].suspicious;
    return 0;
}

static void topology_draw(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    char right[256], l3[32], pkg[16], cores[16], pus[16];
    /* Counts of 0 are not read yet (the probes thread reads them at start). */
    fmt_bytes(l3, sizeof l3, v->l3_bytes ? (double)v->l3_bytes : NAN);
    fmt_count(pkg, sizeof pkg, v->n_packages ? v->n_packages : NAN);
    fmt_count(cores, sizeof cores, v->n_cores ? v->n_cores : NAN);
    fmt_count(pus, sizeof pus, v->n_pus ? v->n_pus : NAN);
    const char *suspicious = l3_suspicious(v) ? " (suspicious)" : "";
    snprintf(right, sizeof right, "%s pkg, %s cores, %s PUs, L3 %s%s\n%s cores, %s PUs, L3 %s%s\n%s PUs", pkg, cores,
             pus, l3, suspicious, cores, pus, l3, suspicious, pus);
    draw_title(c, r, "Topology", right);
    int rows = r.h - 1, y = r.y + 1;
    const live_segment_info *info = &v->current.info;
    if (info->binding_why_not[0] && rows > 1) {
        char why[sizeof info->binding_why_not + 16];
        snprintf(why, sizeof why, "binding: %s", info->binding_why_not);
        draw_message(c, y++, r.x, r.w, ROLE_WARN, why);
        rows--;
    } else if (info->affinity_wrapped && rows > 1) {
        draw_text(c, y++, r.x, r.w, ROLE_WARN, "more threads than PUs: threads share PUs");
        rows--;
    }
    if (v->n_pus <= rows)
        for (int i = 0; i < v->n_pus; i++)
            pu_row(c, r, y + i, &v->pus[i]);
    else
        pu_grid(c, r, y, rows);
}

const struct panel panel_topology = {
    .title = "Topology",
    .place = {.area = AREA_RIGHT, .min_rows = 3, .max_rows = 10},
    .draw = topology_draw,
};
