/* metrics_feed.c — the monitoring figures per setting and their published
 * copy. The producer changes its own state without a lock; publishing copies
 * it under the feed's mutex, and a reader copies it back out, so neither
 * waits for more than a memcpy. */
#include "probes/metrics_feed.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 1-2.5-5 per decade from 5 µs to 10 s: a token of these models takes tens
 * of µs to tens of ms; the ends catch what falls outside. */
const double probes_metrics_bucket_s[PROBES_METRICS_BUCKETS] = {
    5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
    1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void probes_metrics_state_clear_gauges(probes_metrics_state *s)
{
    s->tokens_per_s = s->rss_bytes = s->pss_bytes = s->kv_cache_bytes = s->bytes_per_s = s->flops_per_s = NAN;
}

void probes_metrics_state_init(probes_metrics_state *s)
{
    memset(s, 0, sizeof *s);
    s->current = -1;
    if (gethostname(s->host, sizeof s->host) != 0 || !s->host[0])
        snprintf(s->host, sizeof s->host, "unknown");
    s->host[sizeof s->host - 1] = '\0';
    probes_metrics_state_clear_gauges(s);
}

static int same_labels(const probes_metrics_labels *a, const probes_metrics_labels *b)
{
    return a->threads == b->threads && strcmp(a->model, b->model) == 0 && strcmp(a->mode, b->mode) == 0 &&
           strcmp(a->precision, b->precision) == 0 && strcmp(a->kernel, b->kernel) == 0 &&
           strcmp(a->affinity, b->affinity) == 0;
}

/* A free slot, or the least recently used one that is not current. */
static int slot_for_new(const probes_metrics_state *s)
{
    if (s->n_series < PROBES_METRICS_SERIES)
        return s->n_series;
    int oldest = -1;
    for (int i = 0; i < s->n_series; i++)
        if (i != s->current && (oldest < 0 || s->series[i].last_used < s->series[oldest].last_used))
            oldest = i;
    return oldest;
}

probes_metrics_series *probes_metrics_state_use(probes_metrics_state *s, const probes_metrics_labels *labels)
{
    int at = -1;
    for (int i = 0; i < s->n_series && at < 0; i++)
        if (same_labels(&s->series[i].labels, labels))
            at = i;
    if (at < 0) {
        at = slot_for_new(s);
        if (at == s->n_series)
            s->n_series++;
        memset(&s->series[at], 0, sizeof s->series[at]);
        s->series[at].labels = *labels;
    }
    s->current = at;
    s->series[at].last_used = ++s->uses;
    return &s->series[at];
}

void probes_metrics_series_latency(probes_metrics_series *x, uint64_t ns)
{
    double sec = (double)ns * 1e-9;
    int b = 0;
    while (b < PROBES_METRICS_BUCKETS && sec > probes_metrics_bucket_s[b])
        b++;
    x->latency_buckets[b]++;
    x->latency_count++;
    x->latency_sum_s += sec;
}

void probes_metrics_series_events(probes_metrics_series *x, int n, const char (*names)[PROBES_NAME_MAX])
{
    if (n > PROBES_MAX_EVENTS)
        n = PROBES_MAX_EVENTS;
    int same = n == x->n_events;
    for (int i = 0; same && i < n; i++)
        same = strcmp(names[i], x->event_name[i]) == 0;
    if (same)
        return;
    x->n_events = n;
    for (int i = 0; i < n; i++) {
        snprintf(x->event_name[i], sizeof x->event_name[i], "%s", names[i]);
        x->event_total[i] = 0;
        x->event_counted[i] = 0;
    }
}

void probes_metrics_series_add_events(probes_metrics_series *x, const double *deltas, int n)
{
    for (int i = 0; i < n && i < x->n_events; i++)
        if (isfinite(deltas[i])) {
            x->event_total[i] += deltas[i];
            x->event_counted[i] = 1;
        }
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *labels_json(const probes_metrics_labels *l, const char *host)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "model", l->model, "mode", l->mode, "precision",
                     l->precision, "kernel", l->kernel, "threads", l->threads, "affinity", l->affinity, "host", host);
}

static json_t *latency_json(const probes_metrics_series *x)
{
    json_t *bounds = json_array(), *counts = json_array();
    uint64_t cumulative = 0;
    for (int b = 0; b < PROBES_METRICS_BUCKETS; b++) {
        cumulative += x->latency_buckets[b];
        json_array_append_new(bounds, json_real(probes_metrics_bucket_s[b]));
        json_array_append_new(counts, json_integer((json_int_t)cumulative));
    }
    return json_pack("{s:o, s:o, s:I, s:f}", "bounds_s", bounds, "counts", counts, "count",
                     (json_int_t)x->latency_count, "sum_s", x->latency_sum_s);
}

static json_t *series_json(const probes_metrics_series *x, const char *host)
{
    json_t *events = json_array();
    for (int i = 0; events && i < x->n_events; i++)
        if (x->event_counted[i])
            json_array_append_new(events, json_pack("{s:s, s:f}", "name", x->event_name[i], "total", x->event_total[i]));
    return json_pack("{s:o, s:I, s:I, s:I, s:o, s:o}", "labels", labels_json(&x->labels, host), "tokens_generated",
                     (json_int_t)x->tokens_generated, "prefill_tokens", (json_int_t)x->prefill_tokens, "restarts",
                     (json_int_t)x->restarts, "latency", latency_json(x), "events", events);
}

static void put_gauge(json_t *o, const char *key, double v)
{
    if (isfinite(v) && v >= 0)
        json_object_set_new(o, key, json_real(v));
}

json_t *probes_metrics_json(const probes_metrics_state *s)
{
    json_t *o = json_pack("{s:s, s:[]}", "host", s->host, "series");
    if (!o)
        return NULL;
    json_t *series = json_object_get(o, "series");
    for (int i = 0; i < s->n_series; i++)
        json_array_append_new(series, series_json(&s->series[i], s->host));
    if (s->current >= 0 && s->current < s->n_series) {
        json_t *g = json_pack("{s:o}", "labels", labels_json(&s->series[s->current].labels, s->host));
        put_gauge(g, "tokens_per_s", s->tokens_per_s);
        put_gauge(g, "rss_bytes", s->rss_bytes);
        put_gauge(g, "pss_bytes", s->pss_bytes);
        put_gauge(g, "kv_cache_bytes", s->kv_cache_bytes);
        put_gauge(g, "bytes_per_s", s->bytes_per_s);
        put_gauge(g, "flops_per_s", s->flops_per_s);
        json_object_set_new(o, "gauges", g);
    }
    return o;
}

/* ---- the feed -------------------------------------------------------------------------- */

struct probes_metrics_feed {
    pthread_mutex_t lock;
    probes_metrics_state state;
};

probes_metrics_feed *probes_metrics_feed_create(void)
{
    probes_metrics_feed *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    probes_metrics_state_init(&f->state);
    return f;
}

void probes_metrics_feed_free(probes_metrics_feed *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void probes_metrics_feed_publish(probes_metrics_feed *f, const probes_metrics_state *s)
{
    pthread_mutex_lock(&f->lock);
    f->state = *s;
    pthread_mutex_unlock(&f->lock);
}

json_t *probes_metrics_feed_json(probes_metrics_feed *f)
{
    probes_metrics_state *copy = malloc(sizeof *copy);
    if (!copy)
        return NULL;
    pthread_mutex_lock(&f->lock);
    *copy = f->state;
    pthread_mutex_unlock(&f->lock);
    json_t *o = probes_metrics_json(copy);
    free(copy);
    return o;
}
