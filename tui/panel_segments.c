/* panel_segments.c — every setting tried so far, newest first, each with
 * its own figures: a change never mixes statistics, and this is where the
 * earlier ones stay visible for comparison (and in snapshots). */
#include "tui/internal.h"

#include <stdio.h>

static void segment_row(const struct draw_ctx *c, struct rect r, int y, const live_segment_summary *s, int current)
{
    char rate[32], p50[32], p99[32];
    fmt_tok_rate(rate, sizeof rate, s->decode_tok_per_s);
    fmt_ms(p50, sizeof p50, s->latency_p50_ms);
    fmt_ms(p99, sizeof p99, s->latency_p99_ms);
    const live_setting *st = &s->setting;
    char id[16];
    snprintf(id, sizeof id, "#%u%s", s->id, s->ab_side < 0 ? "" : s->ab_side ? "B" : "A");
    int x = r.x + draw_textf(c, y, r.x, r.w, current ? ROLE_TITLE : ROLE_LABEL, "%c%-5s", current ? '*' : ' ', id);
    x += draw_textf(c, y, x, r.x + r.w - x, ROLE_VALUE, "%6s tok/s ", s->decode_tokens ? rate : "-");
    x += draw_textf(c, y, x, r.x + r.w - x, ROLE_NORMAL, "p50 %s p99 %s  ", p50, p99);
    draw_textf(c, y, x, r.x + r.w - x, ROLE_DIM, "%s %dT %s %s %s %s", st->mode[0] ? st->mode : "causal", st->threads,
               st->affinity, st->precision, st->kernel, st->model);
}

static void segments_draw(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    char right[64];
    snprintf(right, sizeof right, "%d kept, newest first, * shown", v->n_segments);
    draw_title(c, r, "Segments", right);
    int y = r.y + 1;
    for (int i = v->n_segments - 1; i >= 0 && y < r.y + r.h; i--)
        segment_row(c, r, y++, &v->segments[i], v->segments[i].id == v->current.info.id);
    if (v->n_segments == 0 && r.h > 1)
        draw_text(c, y, r.x, r.w, ROLE_DIM, "each change of setting starts a segment");
}

const struct panel panel_segments = {
    .title = "Segments",
    .place = {.area = AREA_RIGHT, .min_rows = 2, .max_rows = 6},
    .draw = segments_draw,
};
