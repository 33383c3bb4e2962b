/* panel_sections.c — where a decode token's time goes: one bar per section
 * of the forward pass (spec 10: embed, bottom blocks, lattice, top blocks,
 * head) with its mean ms and share; the largest is highlighted. When the
 * panel is short, the largest sections are kept, in forward order. */
#include "tui/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Marks the `keep` largest sections in shown[]. */
static void pick_largest(const live_segment_stats *s, int n, int keep, int *shown)
{
    memset(shown, 0, (size_t)n * sizeof *shown);
    for (int k = 0; k < keep && k < n; k++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!shown[i] && (best < 0 || s->section_ms[i] > s->section_ms[best]))
                best = i;
        shown[best] = 1;
    }
}

static int largest_section(const live_segment_stats *s, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (s->section_ms[i] > s->section_ms[best])
            best = i;
    return best;
}

static void section_row(const struct draw_ctx *c, struct rect r, int y, int i, int hot)
{
    const live_segment_stats *s = &c->view->current;
    double total = s->section_token_ms, share = total > 0 ? s->section_ms[i] / total : 0;
    char ms[32];
    fmt_ms(ms, sizeof ms, s->section_ms[i]);
    const int name_w = 10, tail_w = 18;
    draw_text(c, y, r.x, name_w, hot ? ROLE_BAR_HOT : ROLE_LABEL, s->info.section_names[i]);
    int bar_w = r.w - name_w - tail_w;
    if (bar_w > 2)
        draw_bar(c, y, r.x + name_w, bar_w, share, hot ? ROLE_BAR_HOT : ROLE_BAR);
    else
        bar_w = 0;
    draw_textf(c, y, r.x + name_w + bar_w, r.w - name_w - bar_w, hot ? ROLE_BAR_HOT : ROLE_VALUE, " %10s %5.1f%%", ms,
               share * 100);
}

static void sections_draw(const struct draw_ctx *c, struct rect r)
{
    const live_segment_stats *s = &c->view->current;
    int n = s->info.n_sections;
    char right[160], total[32];
    fmt_ms(total, sizeof total, c->view->has_current && s->decode_tokens > 0 ? s->section_token_ms : NAN);
    snprintf(right, sizeof right, "%s per decode token\n%s a token", total, total);
    draw_title(c, r, "Per-layer timers", right);
    if (n == 0 || s->decode_tokens == 0) {
        draw_text(c, r.y + 1, r.x, r.w, ROLE_DIM, "waiting for the first decode token...");
        return;
    }
    int rows = r.h - 1, shown[LIVE_MAX_SECTIONS];
    int keep = n <= rows ? n : rows - 1; /* the last row says what is hidden */
    pick_largest(s, n, keep, shown);
    int hot = largest_section(s, n), y = r.y + 1;
    for (int i = 0; i < n; i++)
        if (shown[i])
            section_row(c, r, y++, i, i == hot);
    if (keep < n) {
        char hidden[160];
        snprintf(hidden, sizeof hidden, "(+%d smaller sections; enlarge the terminal)\n(+%d smaller sections)\n(+%d)",
                 n - keep, n - keep, n - keep);
        draw_first_fit(c, y, r.x, r.w, ROLE_DIM, hidden);
    }
}

const struct panel panel_sections = {
    .title = "Per-layer timers",
    .place = {.area = AREA_LEFT, .min_rows = 4, .max_rows = 12},
    .draw = sections_draw,
};
