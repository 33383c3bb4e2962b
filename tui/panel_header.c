/* panel_header.c — what is running and how: model, preset, parameters,
 * threads, affinity, kernel, state and elapsed time (two rows, htop-style). */
#include "probes/session.h"
#include "tui/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static enum role state_role(live_state s)
{
    switch (s) {
    case LIVE_RUNNING:
        return ROLE_GOOD;
    case LIVE_PAUSED:
    case LIVE_HELD:
    case LIVE_STARTING:
        return ROLE_WARN;
    default:
        return ROLE_BAD;
    }
}

/* A label in the label colour, then its value, whole or not at all; returns the new x. */
static int field(const struct draw_ctx *c, int y, int x, int end, const char *label, enum role role, const char *value)
{
    int used = x < end ? draw_labeled(c, y, x, end - x, label, role, value) : 0;
    return used ? x + used + 2 : x; /* one that does not fit leaves room for the next */
}

/* The mode as reports name it once the model is known ("causal (same as
 * parity for v4)"), the setting's name before. */
static const char *mode_text(const live_view *v, const live_setting *s, char *buf, size_t len)
{
    hst_mode mode;
    if (hst_mode_from_name(s->mode, &mode) != 0)
        return FIG_NONE;
    if (!v->has_current)
        return s->mode;
    probes_mode_label(v->current.info.config.arch, mode, buf, len);
    return buf;
}

/* Row 1: what runs. The model's details come last: they are the first
 * thing to go on a narrow terminal. */
static void model_row(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    const live_segment_info *info = &v->current.info;
    const live_setting *s = v->status.ab_active ? &v->status.ab[v->shown_side] : &v->status.setting;
    int x = r.x, end = r.x + r.w;
    char buf[1200], params[32];
    x += draw_text(c, r.y, x, end - x, ROLE_TITLE, "hstprof  ");
    fmt_count(params, sizeof params, (double)info->counts.params_total);
    if (snprintf(buf, sizeof buf, "%s%s%s (%s params)", s->model[0] ? s->model : FIG_NONE, s->precision[0] ? " " : "",
                 s->precision, v->has_current ? params : FIG_NONE) < 0)
        buf[0] = '\0';
    x = field(c, r.y, x, end, "", ROLE_VALUE, buf);
    int pus = v->status.pu_count, over = s->threads > pus && pus > 0;
    /* The pool's fact, not a guess: it runs jobs on one thread while its
     * threads wait for a core (another process wants them). */
    int contended = v->has_current && v->current.pool_solo_now;
    if (s->threads > 0 && pus > 0)
        snprintf(buf, sizeof buf, "%d/%d PUs%s%s", s->threads, pus, over ? " OVERSUBSCRIBED" : "",
                 contended ? ", on 1 (contention)" : "");
    else
        snprintf(buf, sizeof buf, FIG_NONE); /* before the engine reports its setting and the machine's PUs */
    x = field(c, r.y, x, end, "threads ", over || contended ? ROLE_WARN : ROLE_VALUE, buf);
    x = field(c, r.y, x, end, "affinity ", ROLE_VALUE, s->affinity[0] ? s->affinity : FIG_NONE);
    /* The kernel the shown side's session runs (its setting may say auto). */
    const char *kernel = v->status.ab_active ? v->status.ab_kernel_in_use[v->shown_side] : v->status.kernel_in_use;
    x = field(c, r.y, x, end, "kernel ", ROLE_VALUE, kernel[0] ? kernel : FIG_NONE);
    x = field(c, r.y, x, end, "mode ", ROLE_VALUE, mode_text(v, s, buf, sizeof buf));
    if (v->has_current) {
        int is_preset = strcmp(s->model, info->preset) == 0;
        const char *what = is_preset ? info->arch_class : info->preset;
        /* "HSTv8Crystalline, random weights ...", or the class alone when narrow */
        if (snprintf(buf, sizeof buf, "%s%s, %s\n%s%s", is_preset ? "" : "preset ", what, info->source,
                     is_preset ? "" : "preset ", what) < 0)
            buf[0] = '\0';
        if (x < end)
            draw_first_fit(c, r.y, x, end - x, ROLE_DIM, buf);
    }
}

static void state_row(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    int x = r.x, end = r.x + r.w, y = r.y + 1;
    char buf[600], elapsed[32];
    snprintf(buf, sizeof buf, "%s%s%s", live_state_name(v->status.state), v->status.hold_reason[0] ? ": " : "",
             v->status.hold_reason);
    for (char *p = buf; *p && *p != ':'; p++)
        *p = (char)toupper((unsigned char)*p); /* RUNNING reads as a state at a glance */
    x = field(c, y, x, end, "state ", state_role(v->status.state), buf);
    fmt_duration(elapsed, sizeof elapsed, (double)(v->now_ns - v->start_ns) * 1e-9);
    x = field(c, y, x, end, "elapsed ", ROLE_VALUE, elapsed);
    if (v->status.max_seq_len > 0)
        snprintf(buf, sizeof buf, "%llu, pos %d/%d", (unsigned long long)v->status.generations, v->status.pos,
                 v->status.max_seq_len);
    else
        snprintf(buf, sizeof buf, FIG_NONE); /* no session yet */
    x = field(c, y, x, end, "generation ", ROLE_VALUE, buf);
    if (v->has_current)
        snprintf(buf, sizeof buf, "#%u%s", v->current.info.id,
                 v->ab_active ? (v->shown_side ? " (side B)" : " (side A)") : "");
    else
        snprintf(buf, sizeof buf, FIG_NONE);
    x = field(c, y, x, end, "segment ", ROLE_VALUE, buf);
    if (v->dropped_samples) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->dropped_samples);
        x = field(c, y, x, end, "dropped samples ", ROLE_WARN, buf);
    }
    if (v->status.error[0])
        field(c, y, x, end, "", ROLE_BAD, v->status.error);
}

static void header_draw(const struct draw_ctx *c, struct rect r)
{
    model_row(c, r);
    if (r.h > 1)
        state_row(c, r);
}

const struct panel panel_header = {
    .title = "hstprof",
    .place = {.area = AREA_TOP, .min_rows = 2, .max_rows = 2},
    .draw = header_draw,
};
