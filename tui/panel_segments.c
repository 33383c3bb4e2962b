/* panel_segments.c — every setting tried so far, newest first, each with
 * its own figures: a change never mixes statistics, and this is where the
 * earlier ones stay visible for comparison (and in snapshots). The list
 * scrolls (ui_state.segments_first) when it is longer than the panel. */
#include "tui/internal.h"

#include <stdio.h>

/* Fields from the most telling on: one that does not fit ends the row, so
 * what shows is always a prefix of the whole row, never a cut word. */
static void segment_row(const struct draw_ctx *c, struct rect r, int y, const live_segment_summary *s, int current)
{
    char rate[32], p50[32], p99[32], fields[10][sizeof s->setting.model + 8]; /* a model file's whole path */
    fmt_tok_rate(rate, sizeof rate, s->decode_tok_per_s);
    fmt_ms(p50, sizeof p50, s->latency_p50_ms);
    fmt_ms(p99, sizeof p99, s->latency_p99_ms);
    const live_setting *st = &s->setting;
    char id[16];
    snprintf(id, sizeof id, "#%u%s", s->id, s->ab_side < 0 ? "" : s->ab_side ? "B" : "A");
    snprintf(fields[0], sizeof fields[0], "%c%-5s ", current ? '*' : ' ', id);
    snprintf(fields[1], sizeof fields[1], "%6s tok/s ", s->decode_tokens ? rate : "-");
    snprintf(fields[2], sizeof fields[2], "%s ", st->model);
    snprintf(fields[3], sizeof fields[3], "%s ", st->mode[0] ? st->mode : "causal");
    snprintf(fields[4], sizeof fields[4], "%dT ", st->threads);
    snprintf(fields[5], sizeof fields[5], "%s ", st->affinity);
    snprintf(fields[6], sizeof fields[6], "%s ", st->precision);
    snprintf(fields[7], sizeof fields[7], "%s  ", st->kernel);
    snprintf(fields[8], sizeof fields[8], "p50 %s  ", p50);
    snprintf(fields[9], sizeof fields[9], "p99 %s", p99);
    static const enum role roles[10] = {ROLE_LABEL, ROLE_VALUE, ROLE_DIM, ROLE_DIM,    ROLE_DIM,
                                        ROLE_DIM,   ROLE_DIM,   ROLE_DIM, ROLE_NORMAL, ROLE_NORMAL};
    int x = r.x;
    for (int i = 0; i < 10; i++) {
        int used = draw_text(c, y, x, r.x + r.w - x, i == 0 && current ? ROLE_TITLE : roles[i], fields[i]);
        if (!used)
            break;
        x += used;
    }
}

/* The first row shown (0 = the newest), kept so the last page is full. */
int segments_first_shown(const struct ui_state *ui, int n_segments, int rows)
{
    int first = ui ? ui->segments_first : 0, last_page = n_segments > rows ? n_segments - rows : 0;
    return first < 0 ? 0 : first > last_page ? last_page : first;
}

static void segments_draw(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    int rows = r.h - 1, n = v->n_segments;
    int first = segments_first_shown(c->ui, n, rows), last = first + rows < n ? first + rows : n;
    char right[200];
    if (first > 0 || last < n)
        snprintf(right, sizeof right, "%d-%d of %d, newest first (Up/Down)\n%d-%d of %d", first + 1, last, n,
                 first + 1, last, n);
    else
        snprintf(right, sizeof right, "%d kept, newest first, * shown\n%d kept", n, n);
    draw_title(c, r, "Segments", right);
    int y = r.y + 1;
    for (int k = first; k < last; k++) {
        const live_segment_summary *s = &v->segments[n - 1 - k];
        segment_row(c, r, y++, s, s->id == v->current.info.id);
    }
    if (n == 0 && r.h > 1)
        draw_text(c, y, r.x, r.w, ROLE_DIM, "each change of setting starts a segment");
}

const struct panel panel_segments = {
    .title = "Segments",
    .place = {.area = AREA_RIGHT, .min_rows = 2, .max_rows = 6},
    .draw = segments_draw,
};
