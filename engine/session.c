/* session.c — what every core's session shares (spec 5, 10, 12.0): the
 * position, the mode, the token history, the section timers and the stage
 * hook, and hst_forward's checks before it hands the call to the core. */
#include "engine/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hst_session *hst_session_create(const hst_model *m, hst_pool *pool, hst_error *err)
{
    hst_session *s = calloc(1, sizeof *s);
    if (!s) {
        hst_set_error(err, "session: out of memory");
        return NULL;
    }
    s->model = m;
    s->ops = m->ops;
    s->cfg = m->cfg;
    s->pool = pool;
    s->kernel = hst_kernel_default();
    s->mode = HST_MODE_CAUSAL;
    s->history = calloc((size_t)m->cfg.max_seq_len, sizeof *s->history);
    size_t n_sec = (size_t)s->ops->section_names(&s->cfg, NULL);
    s->section_names = calloc(n_sec ? n_sec : 1, sizeof *s->section_names);
    s->section_ns = calloc(n_sec ? n_sec : 1, sizeof *s->section_ns);
    s->section_flops = calloc(n_sec ? n_sec : 1, sizeof *s->section_flops);
    if (!s->history || !s->section_names || !s->section_ns || !s->section_flops) {
        hst_session_free(s);
        hst_set_error(err, "session: out of memory for buffers of %s", m->preset);
        return NULL;
    }
    s->n_sections = s->ops->section_names(&s->cfg, s->section_names);
    if (s->ops->state_create && !(s->state = s->ops->state_create(m, err))) {
        hst_session_free(s);
        return NULL;
    }
    return s;
}

void hst_session_free(hst_session *s)
{
    if (!s)
        return;
    if (s->state && s->ops->state_free)
        s->ops->state_free(s->state);
    free(s->history);
    free(s->section_names);
    free(s->section_ns);
    free(s->section_flops);
    free(s);
}

void hst_session_reset(hst_session *s)
{
    s->pos = 0;
    if (s->state && s->ops->state_reset)
        s->ops->state_reset(s->state);
}

void hst_session_set_pool(hst_session *s, hst_pool *pool) { s->pool = pool; }
int hst_session_set_kernel(hst_session *s, hst_kernel k)
{
    int got = hst_kernel_resolve(k);
    if (got >= 0)
        s->kernel = (hst_kernel)got;
    return got;
}
hst_kernel hst_session_kernel(const hst_session *s) { return s->kernel; }
int hst_session_pos(const hst_session *s) { return s->pos; }
const hst_config *hst_session_config(const hst_session *s) { return &s->cfg; }
const hst_model *hst_session_model(const hst_session *s) { return s->model; }
uint64_t hst_session_kv_bytes(const hst_session *s) { return hst_decode_state_bytes(&s->cfg); }
hst_mode hst_session_mode(const hst_session *s) { return s->mode; }

double hst_session_last_bytes(const hst_session *s)
{
    if (s->last_n == 0)
        return 0;
    double spec = s->last_n == 1 && s->last_t0 > 0 ? hst_bytes_decode(&s->cfg, s->mode, s->last_t0)
                                                   : hst_bytes_prefill(&s->cfg, s->mode, s->last_t0 + s->last_n);
    return spec - (double)s->last_bytes_saved;
}

int hst_session_set_mode(hst_session *s, hst_mode mode, hst_error *err)
{
    if ((unsigned)mode >= HST_MODE_COUNT) {
        hst_set_error(err, "session: unknown mode %d (causal, parity)", (int)mode);
        return -1;
    }
    if (mode == s->mode)
        return 0;
    s->mode = mode;
    /* Cores A and B compute the same thing in both modes: nothing to rebuild. */
    if (!hst_arch_modes_differ(s->cfg.arch) || s->pos == 0)
        return 0;
    int n = s->pos;
    hst_session_reset(s);
    if (hst_forward(s, s->history, n, NULL, 0, err) != 0) {
        hst_session_reset(s);
        return -1;
    }
    return 0;
}

/* ---- sections (spec 10) and stages ------------------------------------------- */

int hst_session_section_count(const hst_session *s) { return s->n_sections; }
const char *hst_session_section_name(const hst_session *s, int i)
{
    return i >= 0 && i < s->n_sections ? s->section_names[i] : NULL;
}
void hst_session_set_timing(hst_session *s, int on) { s->timing = on; }
void hst_session_last_section_ns(const hst_session *s, uint64_t *ns_out)
{
    memcpy(ns_out, s->section_ns, (size_t)s->n_sections * sizeof *ns_out);
}
void hst_session_last_section_flops(const hst_session *s, double *flops_out)
{
    memcpy(flops_out, s->section_flops, (size_t)s->n_sections * sizeof *flops_out);
}

void hst_section_start(hst_session *s, hst_section_clock *c)
{
    c->s = s;
    c->section = 0;
    c->t = s->timing ? hst_now_ns() : 0;
}

void hst_section_done(hst_section_clock *c, double flops)
{
    hst_session *s = c->s;
    if (c->section >= s->n_sections)
        return;
    s->section_flops[c->section] = flops;
    if (s->timing) {
        uint64_t now = hst_now_ns();
        s->section_ns[c->section] = now - c->t;
        c->t = now;
    }
    c->section++;
}

int hst_section_name(char (*names)[HST_SECTION_NAME_BYTES], int k, const char *fmt, ...)
{
    if (names) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(names[k], HST_SECTION_NAME_BYTES, fmt, ap);
        va_end(ap);
    }
    return k + 1;
}

void hst_session_set_stage_hook(hst_session *s, hst_stage_fn fn, void *user)
{
    s->stage_fn = fn;
    s->stage_user = user;
}

void hst_stage_numbered(const hst_session *s, const char *stack, int i, const float *rows, int n_rows, int ld)
{
    if (!s->stage_fn)
        return;
    char name[HST_SECTION_NAME_BYTES];
    snprintf(name, sizeof name, "%s.%d", stack, i);
    s->stage_fn(s->stage_user, name, rows, n_rows, ld);
}

/* ---- the call ------------------------------------------------------------------ */

static int check_call(const hst_session *s, const int *ids, int n, hst_error *err)
{
    if (!s->ops->forward) {
        const char *preset = s->model->preset;
        if (strcmp(preset, "custom") == 0)
            hst_set_error(err, "forward: arch %s is not implemented in this build", hst_arch_name(s->cfg.arch));
        else
            hst_set_error(err, "forward: %s is not implemented in this build", preset);
        return -1;
    }
    if (n < 1) {
        hst_set_error(err, "forward: no tokens given");
        return -1;
    }
    if (s->pos + n > s->cfg.max_seq_len) {
        hst_set_error(err, "forward: context full: position %d + %d tokens exceeds max_seq_len %d", s->pos, n,
                      s->cfg.max_seq_len);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->cfg.vocab_size) {
            hst_set_error(err, "forward: token id %d at index %d is outside the vocabulary 0..%d", ids[i], i,
                          s->cfg.vocab_size - 1);
            return -1;
        }
    return 0;
}

int hst_forward(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err)
{
    if (check_call(s, ids, n, err) != 0)
        return -1;
    hst_thread_kernel = s->kernel;
    /* memmove: hst_session_set_mode hands the history itself back in. */
    memmove(s->history + s->pos, ids, (size_t)n * sizeof *ids);
    memset(s->section_ns, 0, (size_t)s->n_sections * sizeof *s->section_ns);
    memset(s->section_flops, 0, (size_t)s->n_sections * sizeof *s->section_flops);
    uint64_t saved = hst_thread_bytes_saved;
    hst_pool_take_bytes_saved(s->pool); /* nothing of an earlier call's */
    if (s->ops->forward(s, s->history + s->pos, n, logits, all_logits, err) != 0)
        return -1;
    s->last_bytes_saved = hst_thread_bytes_saved - saved + hst_pool_take_bytes_saved(s->pool);
    s->last_t0 = s->pos;
    s->last_n = n;
    s->pos += n;
    return 0;
}
