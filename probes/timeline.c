/* timeline.c — per-forward records in arrays sized once, as a ring or a
 * bounded list, and their JSON. */
#include "probes/timeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int phase, position, n_tokens, token_id;
    uint32_t round;
    uint64_t generation, start_ns, forward_ns, latency_ns;
} record_head;

typedef struct {
    uint64_t time_ns;
    double bytes;
} rss_point;

typedef struct {
    uint64_t time_ns;
    char name[32];
    char detail[160];
} instant;

/* A bounded sequence: n kept of capacity, first the oldest kept, added in all. */
typedef struct {
    int capacity, n, first;
    uint64_t added;
    int ring;
} slots;

struct timeline {
    int n_sections, n_threads, n_counters;
    char (*section_names)[TIMELINE_NAME_MAX];
    char (*counter_names)[TIMELINE_NAME_MAX];
    int *thread_tids;
    uint64_t origin_ns;
    slots rec, rss_slots, inst_slots;
    record_head *heads;
    uint64_t *section_ns, *busy_ns;
    double *counter_delta;
    rss_point *rss;
    instant *instants;
};

/* The slot the next item goes to, or -1 when full and not a ring. */
static int slot_take(slots *s)
{
    s->added++;
    if (s->n < s->capacity)
        return (s->first + s->n++) % s->capacity;
    if (!s->ring)
        return -1;
    int at = s->first;
    s->first = (s->first + 1) % s->capacity;
    return at;
}

static int slot_at(const slots *s, int i)
{
    return (s->first + i) % s->capacity;
}

static size_t at_least_one(int n)
{
    return n > 0 ? (size_t)n : 1;
}

static int allocate(timeline *t)
{
    size_t n = (size_t)t->rec.capacity;
    t->section_names = calloc(at_least_one(t->n_sections), sizeof *t->section_names);
    t->counter_names = calloc(at_least_one(t->n_counters), sizeof *t->counter_names);
    t->thread_tids = calloc(at_least_one(t->n_threads), sizeof *t->thread_tids);
    t->heads = calloc(n, sizeof *t->heads);
    t->section_ns = calloc(n * at_least_one(t->n_sections), sizeof *t->section_ns);
    t->busy_ns = calloc(n * at_least_one(t->n_threads), sizeof *t->busy_ns);
    t->counter_delta = calloc(n * at_least_one(t->n_counters), sizeof *t->counter_delta);
    t->rss = calloc((size_t)t->rss_slots.capacity, sizeof *t->rss);
    t->instants = calloc((size_t)t->inst_slots.capacity, sizeof *t->instants);
    return t->section_names && t->counter_names && t->thread_tids && t->heads && t->section_ns && t->busy_ns &&
                   t->counter_delta && t->rss && t->instants
               ? 0
               : -1;
}

timeline *timeline_create(const timeline_shape *shape, int capacity, int rss_capacity, int instant_capacity, int ring)
{
    timeline *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n_sections = shape->n_sections > 0 ? shape->n_sections : 0;
    t->n_threads = shape->n_threads > 0 ? shape->n_threads : 0;
    t->n_counters = shape->n_counters > 0 ? shape->n_counters : 0;
    t->origin_ns = shape->origin_ns;
    t->rec = (slots){.capacity = capacity > 0 ? capacity : 1, .ring = ring};
    t->rss_slots = (slots){.capacity = rss_capacity > 0 ? rss_capacity : 1, .ring = ring};
    t->inst_slots = (slots){.capacity = instant_capacity > 0 ? instant_capacity : 1, .ring = ring};
    if (allocate(t) != 0) {
        timeline_free(t);
        return NULL;
    }
    for (int i = 0; i < t->n_sections; i++)
        snprintf(t->section_names[i], TIMELINE_NAME_MAX, "%s", shape->section_names[i] ? shape->section_names[i] : "?");
    for (int i = 0; i < t->n_counters; i++)
        snprintf(t->counter_names[i], TIMELINE_NAME_MAX, "%s", shape->counter_names[i] ? shape->counter_names[i] : "?");
    for (int i = 0; i < t->n_threads; i++)
        t->thread_tids[i] = shape->thread_tids ? shape->thread_tids[i] : 0;
    return t;
}

void timeline_free(timeline *t)
{
    if (!t)
        return;
    free(t->section_names);
    free(t->counter_names);
    free(t->thread_tids);
    free(t->heads);
    free(t->section_ns);
    free(t->busy_ns);
    free(t->counter_delta);
    free(t->rss);
    free(t->instants);
    free(t);
}

static void *copy_of(const void *src, size_t bytes, int *ok)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p)
        memcpy(p, src, bytes);
    else
        *ok = 0;
    return p;
}

timeline *timeline_clone(const timeline *t)
{
    timeline *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = *t;
    size_t n = (size_t)t->rec.capacity;
    int ok = 1;
    c->section_names = copy_of(t->section_names, at_least_one(t->n_sections) * sizeof *t->section_names, &ok);
    c->counter_names = copy_of(t->counter_names, at_least_one(t->n_counters) * sizeof *t->counter_names, &ok);
    c->thread_tids = copy_of(t->thread_tids, at_least_one(t->n_threads) * sizeof *t->thread_tids, &ok);
    c->heads = copy_of(t->heads, n * sizeof *t->heads, &ok);
    c->section_ns = copy_of(t->section_ns, n * at_least_one(t->n_sections) * sizeof *t->section_ns, &ok);
    c->busy_ns = copy_of(t->busy_ns, n * at_least_one(t->n_threads) * sizeof *t->busy_ns, &ok);
    c->counter_delta = copy_of(t->counter_delta, n * at_least_one(t->n_counters) * sizeof *t->counter_delta, &ok);
    c->rss = copy_of(t->rss, (size_t)t->rss_slots.capacity * sizeof *t->rss, &ok);
    c->instants = copy_of(t->instants, (size_t)t->inst_slots.capacity * sizeof *t->instants, &ok);
    if (!ok) {
        timeline_free(c);
        return NULL;
    }
    return c;
}

int timeline_records(const timeline *t)
{
    return t ? t->rec.n : 0;
}

/* Time since the origin; 0 for an instant before it (clocks of one machine). */
static uint64_t since_origin(const timeline *t, uint64_t now_ns)
{
    return now_ns > t->origin_ns ? now_ns - t->origin_ns : 0;
}

void timeline_add_instant(timeline *t, uint64_t now_ns, const char *name, const char *detail)
{
    int at = slot_take(&t->inst_slots);
    if (at < 0)
        return;
    instant *i = &t->instants[at];
    i->time_ns = since_origin(t, now_ns);
    snprintf(i->name, sizeof i->name, "%s", name);
    snprintf(i->detail, sizeof i->detail, "%s", detail ? detail : "");
}

void timeline_add_rss(timeline *t, uint64_t now_ns, double rss_bytes)
{
    int at = slot_take(&t->rss_slots);
    if (at >= 0)
        t->rss[at] = (rss_point){since_origin(t, now_ns), rss_bytes};
}

void timeline_add(timeline *t, const timeline_record *r)
{
    if (r->phase == 0 && r->generation > 1) {
        char detail[160];
        snprintf(detail, sizeof detail, "context full: generation %llu starts again from the prompt",
                 (unsigned long long)r->generation);
        timeline_add_instant(t, r->start_ns, "restart", detail);
    }
    int at = slot_take(&t->rec);
    if (at < 0)
        return;
    t->heads[at] = (record_head){r->phase, r->position, r->n_tokens, r->token_id, r->round, r->generation,
                                 since_origin(t, r->start_ns), r->forward_ns, r->latency_ns};
    size_t a = (size_t)at;
    for (int s = 0; s < t->n_sections; s++)
        t->section_ns[a * t->n_sections + s] = r->section_ns ? r->section_ns[s] : 0;
    for (int k = 0; k < t->n_threads; k++)
        t->busy_ns[a * t->n_threads + k] = r->thread_busy_ns ? r->thread_busy_ns[k] : TIMELINE_UNKNOWN;
    for (int c = 0; c < t->n_counters; c++)
        t->counter_delta[a * t->n_counters + c] = r->counter_delta ? r->counter_delta[c] : NAN;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *names_json(const char (*names)[TIMELINE_NAME_MAX], int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *record_json(const timeline *t, int i)
{
    int at = slot_at(&t->rec, i);
    size_t a = (size_t)at;
    const record_head *h = &t->heads[at];
    json_t *sections = json_array(), *busy = json_array(), *deltas = json_array();
    for (int s = 0; s < t->n_sections; s++)
        json_array_append_new(sections, json_integer((json_int_t)t->section_ns[a * t->n_sections + s]));
    for (int k = 0; k < t->n_threads; k++) {
        uint64_t b = t->busy_ns[a * t->n_threads + k];
        json_array_append_new(busy, b == TIMELINE_UNKNOWN ? json_null() : json_integer((json_int_t)b));
    }
    for (int c = 0; c < t->n_counters; c++) {
        double d = t->counter_delta[a * t->n_counters + c];
        json_array_append_new(deltas, isfinite(d) ? json_real(d) : json_null());
    }
    uint64_t index = t->rec.added - (uint64_t)t->rec.n + (uint64_t)i; /* counted from the first ever added */
    if (!t->rec.ring)
        index = (uint64_t)i;
    return json_pack("{s:I, s:s, s:i, s:i, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "index",
                     (json_int_t)index, "phase", h->phase == 0 ? "prefill" : "decode", "position", h->position,
                     "tokens_processed", h->n_tokens, "token_id",
                     h->token_id >= 0 ? json_integer(h->token_id) : json_null(), "generation",
                     (json_int_t)h->generation, "round", (json_int_t)h->round, "start_ns", (json_int_t)h->start_ns,
                     "forward_ns", (json_int_t)h->forward_ns, "latency_ns", (json_int_t)h->latency_ns, "time_ns",
                     (json_int_t)(h->start_ns + h->latency_ns), "section_ns", sections, "thread_busy_ns", busy,
                     "counter_delta", deltas);
}

static json_t *rss_json(const timeline *t)
{
    json_t *a = json_array();
    for (int i = 0; a && i < t->rss_slots.n; i++) {
        const rss_point *p = &t->rss[slot_at(&t->rss_slots, i)];
        json_array_append_new(a, json_pack("{s:I, s:f}", "time_ns", (json_int_t)p->time_ns, "bytes", p->bytes));
    }
    return a;
}

static json_t *instants_json(const timeline *t)
{
    json_t *a = json_array();
    for (int i = 0; a && i < t->inst_slots.n; i++) {
        const instant *p = &t->instants[slot_at(&t->inst_slots, i)];
        json_array_append_new(a, json_pack("{s:I, s:s, s:s}", "time_ns", (json_int_t)p->time_ns, "name", p->name,
                                           "detail", p->detail));
    }
    return a;
}

static json_t *threads_json(const timeline *t)
{
    json_t *a = json_array();
    for (int i = 0; a && i < t->n_threads; i++)
        json_array_append_new(a, json_pack("{s:i, s:i}", "index", i, "tid", t->thread_tids[i]));
    return a;
}

json_t *timeline_json(const timeline *t, const json_t *context)
{
    json_t *o = context ? json_deep_copy(context) : json_object();
    json_t *tokens = json_array();
    if (!o || !tokens) {
        json_decref(o);
        json_decref(tokens);
        return NULL;
    }
    for (int i = 0; i < t->rec.n; i++)
        if (json_array_append_new(tokens, record_json(t, i)) != 0) {
            json_decref(o);
            json_decref(tokens);
            return NULL;
        }
    int ok = json_object_set_new(o, "sections", names_json(t->section_names, t->n_sections)) == 0;
    ok = ok && json_object_set_new(o, "counters", names_json(t->counter_names, t->n_counters)) == 0;
    ok = ok && json_object_set_new(o, "threads", threads_json(t)) == 0;
    ok = ok && json_object_set_new(o, "tokens", tokens) == 0;
    ok = ok && json_object_set_new(o, "rss", rss_json(t)) == 0;
    ok = ok && json_object_set_new(o, "instants", instants_json(t)) == 0;
    ok = ok && json_object_set_new(o, "dropped_tokens", json_integer((json_int_t)(t->rec.added - (uint64_t)t->rec.n))) == 0;
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
