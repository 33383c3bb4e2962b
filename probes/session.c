/* session.c — the measured session: one function builds what run, bench,
 * layerbench and the live slots measure with (session.h says in which order),
 * one tears it down. */
#include "probes/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- names ---------------------------------------------------------------------- */

int probes_check_kernel_name(const char *what, const char *name, char *why, size_t why_len)
{
    hst_kernel k;
    if (name && hst_kernel_from_name(name, &k) == 0)
        return 0;
    snprintf(why, why_len, "%s must be auto, avx512, avx2 or portable, got '%.200s'", what, name ? name : "");
    return -1;
}

int probes_check_precision_name(const char *what, const char *name, char *why, size_t why_len)
{
    hst_precision p;
    if (name && hst_precision_from_name(name, &p) == 0)
        return 0;
    snprintf(why, why_len, "%s must be f32, bf16 or int8, got '%.200s'", what, name ? name : "");
    return -1;
}

int probes_check_mode_name(const char *what, const char *name, char *why, size_t why_len)
{
    hst_mode m;
    if (name && hst_mode_from_name(name, &m) == 0)
        return 0;
    snprintf(why, why_len, "%s must be causal or parity, got '%.200s'", what, name ? name : "");
    return -1;
}

void probes_mode_label(hst_arch arch, hst_mode mode, char *buf, size_t len)
{
    if (hst_arch_modes_differ(arch))
        snprintf(buf, len, "%s", hst_mode_name(mode));
    else
        snprintf(buf, len, "%s (same as %s for %s)", hst_mode_name(mode),
                 hst_mode_name(mode == HST_MODE_CAUSAL ? HST_MODE_PARITY : HST_MODE_CAUSAL), hst_arch_name(arch));
}

static const char *or_default(const char *value, const char *fallback)
{
    return value && *value ? value : fallback;
}

/* A bad setting is the user's to fix (exit 2); anything else failed at run time (1). */
static int status_of(probes_session_part part)
{
    switch (part) {
    case PROBES_PART_THREADS:
    case PROBES_PART_KERNEL:
    case PROBES_PART_PRECISION:
    case PROBES_PART_MODE:
    case PROBES_PART_AFFINITY:
    case PROBES_PART_COUNTERS:
        return 2;
    default:
        return 1;
    }
}

void probes_session_error_line(const probes_session *s, const char *err, char *line, size_t size)
{
    const char *part = s->failed == PROBES_PART_AFFINITY ? "affinity" : s->failed == PROBES_PART_COUNTERS ? "events" : NULL;
    size_t len = part ? strlen(part) : 0;
    if (!part) {
        snprintf(line, size, "%s", err);
        return;
    }
    if (strncmp(err, part, len) == 0 && strncmp(err + len, ": ", 2) == 0) /* "events: ..." names it already */
        err += len + 2;
    snprintf(line, size, "--%s: %s", part, err);
}

static int fail(probes_session_part *failed, probes_session_part part)
{
    *failed = part;
    return status_of(part);
}

/* ---- the model --------------------------------------------------------------------- */

hst_model *probes_session_open_model(const probes_session_settings *st, double *load_ms, char *warning,
                                     size_t warning_len, probes_session_part *failed, char *err, size_t err_len)
{
    hst_precision precision;
    if (probes_check_precision_name("precision", or_default(st->precision, "f32"), err, err_len) != 0) {
        *failed = PROBES_PART_PRECISION;
        return NULL;
    }
    hst_precision_from_name(or_default(st->precision, "f32"), &precision);
    hst_error herr = {{0}};
    const hst_load_opts opts = {.reject_nonfinite_weights = st->strict_weights};
    uint64_t t0 = hst_now_ns();
    hst_model *m = hst_model_open_opts(st->model, st->seed, &opts, &herr);
    *load_ms = (double)(hst_now_ns() - t0) / 1e6;
    if (!m) {
        *failed = PROBES_PART_MODEL;
        snprintf(err, err_len, "%s", herr.msg);
        return NULL;
    }
    if (warning && !hst_model_warning(m, warning, warning_len))
        warning[0] = '\0';
    if (hst_model_set_precision(m, precision, &herr) != 0) {
        *failed = PROBES_PART_MODEL; /* the name was fine: repacking failed */
        snprintf(err, err_len, "%s", herr.msg);
        hst_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- placement and counters -------------------------------------------------------------- */

/* The topology when there is one: given, or loaded here. Only an affinity
 * other than none needs it; without one the pool runs unbound. */
static int find_topology(const probes_session_settings *st, probes_session *s, char *err, size_t err_len)
{
    const char *affinity = or_default(st->affinity, "none");
    if (st->topo) {
        s->topo = st->topo;
        return 0;
    }
    char why[256];
    s->own_topo = probes_topo_load(why, sizeof why);
    s->topo = s->own_topo;
    if (s->topo || strcmp(affinity, "none") == 0)
        return 0;
    snprintf(err, err_len, "affinity %s needs the topology, which could not be read: %s", affinity, why);
    return fail(&s->failed, PROBES_PART_TOPOLOGY);
}

static void close_pool(probes_session *s)
{
    probes_counters_close(s->counters);
    s->counters = NULL;
    hst_pool_free(s->pool);
    s->pool = NULL;
    probes_affinity_free(s->affinity);
    s->affinity = NULL;
}

/* Counters on the pool's own threads; events that cannot count here stay in
 * the set with their reason. */
static int open_counters(const probes_session_settings *st, probes_session *s, char *err, size_t err_len)
{
    if (st->counters_off) {
        snprintf(s->counters_summary, sizeof s->counters_summary, "%s", st->counters_off);
        return 0;
    }
    int n = hst_pool_threads(s->pool), tids[PROBES_MAX_THREADS];
    n = n < PROBES_MAX_THREADS ? n : PROBES_MAX_THREADS;
    for (int i = 0; i < n; i++)
        tids[i] = hst_pool_thread_tid(s->pool, i);
    probes_counter_opts opts = {.events = or_default(st->events, NULL), .backend = NULL, .fake_script = NULL};
    char why[512];
    s->counters = probes_counters_open(&opts, tids, n, why, sizeof why);
    snprintf(s->counters_summary, sizeof s->counters_summary, "%s",
             s->counters ? probes_counters_summary(s->counters) : why);
    if (s->counters || st->counters_optional)
        return 0;
    snprintf(err, err_len, "%s", why);
    return fail(&s->failed, PROBES_PART_COUNTERS);
}

/* The affinity plan, the pool its workers are bound by, and the counters. */
static int open_pool(const probes_session_settings *st, probes_session *s, char *err, size_t err_len)
{
    const char *affinity = or_default(st->affinity, "none");
    if (st->threads < 1 || st->threads > PROBES_MAX_THREADS) {
        snprintf(err, err_len, "threads: %d is outside 1..%d", st->threads, PROBES_MAX_THREADS);
        return fail(&s->failed, PROBES_PART_THREADS);
    }
    if (s->topo) {
        s->affinity = probes_affinity_create(s->topo, affinity, st->threads, err, err_len);
        if (!s->affinity)
            return fail(&s->failed, PROBES_PART_AFFINITY);
    }
    hst_error herr = {{0}};
    s->pool = hst_pool_create(st->threads, s->affinity ? probes_affinity_bind_thread : NULL, s->affinity, &herr);
    if (!s->pool) {
        snprintf(err, err_len, "%s", herr.msg);
        return fail(&s->failed, PROBES_PART_POOL);
    }
    return open_counters(st, s, err, err_len);
}

/* ---- the session -------------------------------------------------------------------------- */

static int choose_kernel(const probes_session_settings *st, probes_session *s, char *err, size_t err_len)
{
    const char *name = or_default(st->kernel, "auto");
    hst_kernel k;
    if (probes_check_kernel_name("kernel", name, err, err_len) != 0)
        return fail(&s->failed, PROBES_PART_KERNEL);
    hst_kernel_from_name(name, &k);
    int got = hst_kernel_resolve(k);
    if (got < 0) {
        snprintf(err, err_len, "this CPU cannot run the %s kernel", name);
        return fail(&s->failed, PROBES_PART_KERNEL);
    }
    s->kernel = (hst_kernel)got;
    return 0;
}

/* Cached ceilings only: measuring takes seconds, `hstprof ceilings` does it. */
static void load_ceilings(probes_session *s)
{
    char path[1024], err[sizeof s->ceilings_why];
    int have_path = probes_ceilings_cache_path(path, sizeof path, err, sizeof err) == 0;
    if (have_path && probes_ceilings_load(path, &s->ceilings, err, sizeof err) == 0) {
        s->have_ceilings = 1;
        return;
    }
    /* A file that is there but does not load (an earlier format) says why. */
    if (have_path && access(path, F_OK) == 0)
        snprintf(s->ceilings_why, sizeof s->ceilings_why, "%s", err);
    else
        snprintf(s->ceilings_why, sizeof s->ceilings_why,
                 "no ceilings measured on this machine yet (run 'hstprof ceilings')");
}

static int open_model_and_session(const probes_session_settings *st, probes_session *s, char *err, size_t err_len)
{
    s->owns_model = !st->shared_model;
    s->model = st->shared_model;
    if (s->owns_model) {
        s->model = probes_session_open_model(st, &s->load_ms, s->warning, sizeof s->warning, &s->failed, err, err_len);
        if (!s->model)
            return status_of(s->failed);
    }
    return 0;
}

/* The mode is checked before anything opens: a bad name costs no model load. */
static int check_mode(const probes_session_settings *st, probes_session *s, char *err, size_t err_len)
{
    if (probes_check_mode_name("mode", or_default(st->mode, "causal"), err, err_len) != 0)
        return fail(&s->failed, PROBES_PART_MODE);
    return 0;
}

static int create_engine_session(const probes_session_settings *st, probes_session *s, char *err, size_t err_len)
{
    hst_error herr = {{0}};
    s->session = hst_session_create(s->model, s->pool, &herr);
    if (!s->session) {
        snprintf(err, err_len, "%s", herr.msg);
        return fail(&s->failed, PROBES_PART_SESSION);
    }
    hst_session_set_kernel(s->session, s->kernel);
    hst_mode mode;
    hst_mode_from_name(or_default(st->mode, "causal"), &mode);
    /* A new session holds no tokens: setting the mode rebuilds nothing. */
    if (hst_session_set_mode(s->session, mode, &herr) != 0) {
        snprintf(err, err_len, "%s", herr.msg);
        return fail(&s->failed, PROBES_PART_SESSION);
    }
    return 0;
}

int probes_prompt_room(int n_prompt, const char *model, int max_seq_len, char *why, size_t why_len)
{
    if (n_prompt < max_seq_len)
        return 0;
    snprintf(why, why_len, "the prompt (%d tokens) leaves no room to generate; %s has max_seq_len %d", n_prompt, model,
             max_seq_len);
    return -1;
}

int probes_session_open(const probes_session_settings *st, probes_session *s, char *err, size_t err_len)
{
    memset(s, 0, sizeof *s);
    int rc = choose_kernel(st, s, err, err_len);
    if (rc == 0)
        rc = check_mode(st, s, err, err_len);
    if (rc == 0 && (st->model || st->shared_model))
        rc = open_model_and_session(st, s, err, err_len);
    if (rc == 0)
        rc = find_topology(st, s, err, err_len);
    if (rc == 0)
        rc = open_pool(st, s, err, err_len);
    if (rc == 0 && s->model)
        rc = create_engine_session(st, s, err, err_len);
    if (rc == 0 && st->load_ceilings)
        load_ceilings(s);
    if (rc != 0) {
        probes_session_part failed = s->failed;
        probes_session_close(s);
        s->failed = failed;
    }
    return rc;
}

void probes_session_close(probes_session *s)
{
    hst_session_free(s->session);
    close_pool(s);
    if (s->owns_model)
        hst_model_free(s->model);
    probes_topo_free(s->own_topo);
    memset(s, 0, sizeof *s);
}

int probes_session_new_pool(const probes_session *s, const probes_session_settings *st, probes_session *fresh,
                            char *err, size_t err_len)
{
    memset(fresh, 0, sizeof *fresh);
    fresh->topo = s->topo;
    int rc = open_pool(st, fresh, err, err_len);
    if (rc != 0) {
        probes_session_part failed = fresh->failed;
        close_pool(fresh);
        fresh->failed = failed;
    }
    return rc;
}

void probes_session_swap_pool(probes_session *s, probes_session *fresh)
{
    close_pool(s);
    s->affinity = fresh->affinity, s->pool = fresh->pool, s->counters = fresh->counters;
    memcpy(s->counters_summary, fresh->counters_summary, sizeof s->counters_summary);
    if (s->session)
        hst_session_set_pool(s->session, s->pool);
    memset(fresh, 0, sizeof *fresh);
}

int probes_session_thread_pu(const probes_session *s, int i)
{
    return s->affinity ? probes_affinity_pu(s->affinity, i) : -1;
}

const char *probes_session_affinity_policy(const probes_session *s)
{
    return s->affinity ? probes_affinity_policy(s->affinity) : "none";
}

/* ---- windows ---------------------------------------------------------------------------------- */

void probes_window_begin(const probes_session *s, probes_window *w, int memory)
{
    memset(w, 0, sizeof *w);
    w->sampling_memory = memory;
    if (memory)
        probes_memory_begin(&w->memory);
    w->counting = s->counters != NULL;
    if (w->counting)
        probes_counters_read(s->counters, &w->begin);
}

void probes_window_end(const probes_session *s, probes_window *w)
{
    if (w->counting)
        probes_counters_read(s->counters, &w->end);
}

void probes_window_report_of(const probes_session *s, probes_window *w, double kv_cache_bytes, double bytes,
                             double flops, uint64_t elapsed_ns, double working_set, probes_window_report *out)
{
    memset(out, 0, sizeof *out);
    out->have_counters = w->counting;
    if (w->counting)
        probes_counters_window(s->counters, &w->begin, &w->end, &out->counters);
    out->have_memory = w->sampling_memory;
    if (w->sampling_memory)
        probes_memory_end(&w->memory, kv_cache_bytes, &out->memory);
    out->roofline = probes_roofline_point(s->have_ceilings ? &s->ceilings : NULL, hst_pool_threads(s->pool), bytes,
                                          flops, elapsed_ns, working_set);
}
