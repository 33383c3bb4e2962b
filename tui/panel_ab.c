/* panel_ab.c — the A/B comparison: each side's median tok/s over rounds
 * with its 95% interval, the ratio and the verdict (probes/ab.c), and what
 * those medians are (the segments' averages include the switching). After
 * the comparison stops its verdict stays here, as in snapshots, until the
 * statistics are reset. */
#include "tui/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void side_row(const struct draw_ctx *c, struct rect r, int y, int side)
{
    const live_view *v = c->view;
    const ab_side_stats *s = side ? &v->ab.b : &v->ab.a;
    char label[160], median[32];
    live_setting_describe(&v->status.ab[side], label, sizeof label);
    fmt_tok_rate(median, sizeof median, s->median);
    enum role role = v->ab_active && v->shown_side == side ? ROLE_TITLE : ROLE_LABEL;
    int x = r.x + draw_textf(c, y, r.x, r.w, role, "%c ", side ? 'B' : 'A');
    x += draw_textf(c, y, x, r.x + r.w - x, ROLE_VALUE, "%-6s tok/s ", s->n ? median : "...");
    if (s->ci_valid)
        x += draw_textf(c, y, x, r.x + r.w - x, ROLE_NORMAL, "[%.0f-%.0f] ", s->ci_lo, s->ci_hi);
    x += draw_textf(c, y, x, r.x + r.w - x, ROLE_DIM, "%d rounds  ", s->n);
    draw_text(c, y, x, r.x + r.w - x, ROLE_DIM, label);
}

/* What the medians are, as long as the width allows (never cut mid-word). */
static void method_row(const struct draw_ctx *c, struct rect r, int y)
{
    draw_first_fit(c, y, r.x, r.w, ROLE_DIM,
                   "medians: per round, measured rounds only; segment tok/s include the switching\n"
                   "round medians; segment tok/s include switching\n"
                   "round medians; segments incl. switching");
}

static void idle_draw(const struct draw_ctx *c, struct rect r)
{
    draw_title(c, r, "A/B compare", "");
    draw_wrapped(c, (struct rect){r.y + 1, r.x, r.h - 1, r.w}, ROLE_DIM,
                 "press c to compare two settings in alternating rounds (threads, affinity, kernel, precision, "
                 "mode, model): ABAB... rounds cancel drift");
}

static void ab_draw(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    if (!v->ab_active && !v->status.ab_stopped) {
        idle_draw(c, r);
        return;
    }
    char right[300];
    if (v->ab_active)
        snprintf(right, sizeof right, "%s, %d tok/round", v->ab_label, v->status.ab_round_tokens);
    else
        snprintf(right, sizeof right, "%s, stopped, kept %s", v->ab_label, live_ab_keep_name(v->status.ab_kept));
    draw_title(c, r, "A/B compare", right);
    side_row(c, r, r.y + 1, 0);
    if (r.h > 2)
        side_row(c, r, r.y + 2, 1);
    if (r.h > 3) {
        /* "B/A 1.310  B is 1.31x faster (95% CI ...)"; when narrow the ratio goes
         * first, then the interval: the verdict itself is never cut */
        enum role role = v->ab.significant ? ROLE_GOOD : ROLE_WARN;
        char ratio[32] = "", verdict[2 * sizeof v->ab.verdict + 2];
        if (v->ab.ratio_valid)
            snprintf(ratio, sizeof ratio, "B/A %.3f  ", v->ab.ratio);
        const char *ci = strstr(v->ab.verdict, " (");
        snprintf(verdict, sizeof verdict, "%s\n%.*s", v->ab.verdict,
                 ci ? (int)(ci - v->ab.verdict) : (int)strlen(v->ab.verdict), v->ab.verdict);
        int x = r.x;
        if (draw_text_cells(ratio, c->theme->glyphs.utf8) + draw_text_cells(v->ab.verdict, c->theme->glyphs.utf8) <= r.w)
            x += draw_text(c, r.y + 3, x, r.w, ROLE_NORMAL, ratio);
        draw_first_fit(c, r.y + 3, x, r.x + r.w - x, role, verdict);
    }
    if (r.h > 4)
        method_row(c, r, r.y + 4);
    if (r.h > 5 && v->ab_active) {
        char shown[160];
        char side = v->shown_side ? 'B' : 'A';
        snprintf(shown, sizeof shown, "other panels show side %c (Tab switches); c stops\nside %c on screen (Tab); c stops",
                 side, side);
        draw_first_fit(c, r.y + 5, r.x, r.w, ROLE_DIM, shown);
    } else if (r.h > 5)
        draw_first_fit(c, r.y + 5, r.x, r.w, ROLE_DIM,
                       "press c to compare again; r clears this verdict\nc compares again; r clears this");
}

const struct panel panel_ab = {
    .title = "A/B compare",
    .place = {.area = AREA_RIGHT, .min_rows = 4, .max_rows = 6},
    .draw = ab_draw,
};
