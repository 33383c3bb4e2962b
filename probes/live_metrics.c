/* live_metrics.c — the probes thread: drains the engine's sample ring,
 * keeps statistics per segment (never mixing two settings), samples the
 * process's memory and the machine's CPU load, measures or loads the
 * ceilings, runs the A/B statistics, and publishes a live_view that the UI
 * copies. The UI never waits for anything slower than a memcpy. */
#include "probes/live_internal.h"
#include "probes/live_metrics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECENT_BUCKETS 10
#define RECENT_BUCKET_NS 100000000ull  /* 10 x 100 ms = the last second */
#define SMOOTHING_NS 5e9               /* time constant of the smoothed rate */
#define MEMORY_EVERY_NS 250000000ull
#define CPU_LOAD_EVERY_NS 500000000ull
#define AB_EVERY_NS 1000000000ull
#define PUBLISH_IDLE_NS 500000000ull
#define TTFT_KEEP 64
#define CEILINGS_FIRST_AFTER_NS 3000000000ull /* generation before the first step: a new user sees tokens, */
#define CEILINGS_FIRST_AFTER_TOKENS 256        /* a first sparkline and latency distribution first */
#define CEILINGS_GAP_MIN_NS 1000000000ull     /* generation between two steps, at least this... */
#define CEILINGS_GAP_FACTOR 2                 /* ...and twice the last step: measuring holds a third at most */
#define CEILINGS_POLL_MS 50
#define ROUND_MAX_TOKENS 4096

typedef struct {
    uint64_t stamp; /* bucket number (end_ns / RECENT_BUCKET_NS) it holds */
    uint64_t tokens;
    double ns, flops, bytes;
} recent_bucket;

/* Everything kept for one segment; stats is the part the view shows. */
typedef struct {
    live_segment_stats stats;
    live_histogram latency;
    double ttft_ms[TTFT_KEEP];
    uint64_t section_tokens;
    uint64_t section_ns[LIVE_MAX_SECTIONS];
    recent_bucket recent[RECENT_BUCKETS];
    double ew_tokens, ew_ns;             /* exponentially weighted, for the smoothed rate */
    uint64_t point_start_ns, point_tokens;
    double point_ns;
    uint64_t busy_ns[LIVE_SAMPLE_THREADS], busy_at_ns;          /* latest, from samples */
    uint64_t busy_prev_ns[LIVE_SAMPLE_THREADS], busy_prev_at_ns; /* at the previous publish */
    double *round_rates;                 /* A/B sides only: [ROUND_MAX_TOKENS] */
    int round_len;
    double *rounds;                      /* per-round median tok/s, [LIVE_AB_MAX_ROUNDS] */
    int n_rounds;
    int dirty;
} segment_state;

typedef struct {
    uint64_t generation;
    int prompt_len, len;
    int ids[LIVE_TEXT_MAX];
} text_state;

struct live_metrics {
    live_engine *engine;
    live_metrics_options opts;
    pthread_t thread, ceilings_thread;
    int thread_started, ceilings_started;
    _Atomic int stop;
    _Atomic int shown_side;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;

    pthread_mutex_t state_lock;          /* segments, for live_metrics_segments */
    segment_state *segments[LIVE_MAX_SEGMENTS];
    uint32_t order[LIVE_MAX_SEGMENTS];   /* ids, oldest first */
    int n_order;
    text_state text[2];
    uint64_t samples;

    pthread_mutex_t view_lock;
    _Atomic uint64_t version;
    live_view *published;
    live_view *scratch;                  /* probes thread only */

    pthread_mutex_t ceilings_lock;
    int ceilings_ok, ceilings_done;
    probes_ceilings ceilings;
    char ceilings_state[256];

    /* probes thread only */
    uint64_t start_ns, last_memory_ns, last_cpu_ns, last_ab_ns, last_publish_ns;
    live_status last_status;
    probes_memory_window memory;
    probes_memory_report memory_report;
    uint64_t last_minor_faults, last_faults_ns;
    double minor_faults_per_s;
    uint64_t cpu_busy[LIVE_MAX_PUS], cpu_total[LIVE_MAX_PUS];
    live_pu pus[LIVE_MAX_PUS];
    int n_pus, n_cores, n_packages;
    uint64_t l3_bytes;
    ab_result ab;
    uint32_t ab_for[2];                  /* the segments m->ab is about */
    int ab_rounds_seen;                  /* their rounds when it was computed */
    /* the standard formats (live_export.c): the timeline each side shows
     * (under state_lock), the monitoring figures (NULL without a feed) */
    live_trace_side trace[2];
    probes_metrics_state *prom;
};

/* ---- segments ------------------------------------------------------------------------------ */

static segment_state *find_segment(live_metrics *m, uint32_t id)
{
    segment_state *g = m->segments[id % LIVE_MAX_SEGMENTS];
    return g && g->stats.info.id == id ? g : NULL;
}

static void forget_segment(live_metrics *m, uint32_t id)
{
    segment_state *g = find_segment(m, id);
    if (g) {
        free(g->rounds);
        free(g->round_rates);
        free(g);
        m->segments[id % LIVE_MAX_SEGMENTS] = NULL;
    }
    for (int i = 0; i < m->n_order; i++)
        if (m->order[i] == id) {
            memmove(m->order + i, m->order + i + 1, (size_t)(m->n_order - i - 1) * sizeof m->order[0]);
            m->n_order--;
            break;
        }
}

static segment_state *segment_for(live_metrics *m, uint32_t id)
{
    segment_state *g = find_segment(m, id);
    if (g)
        return g;
    g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    if (live_get_segment(m->engine, id, &g->stats.info) != 0) {
        free(g);
        return NULL;
    }
    if (g->stats.info.ab_side >= 0) {
        g->rounds = calloc(LIVE_AB_MAX_ROUNDS, sizeof *g->rounds);
        g->round_rates = calloc(ROUND_MAX_TOKENS, sizeof *g->round_rates);
    }
    /* Past LIVE_MAX_SEGMENTS the oldest are forgotten. */
    const segment_state *occupant = m->segments[id % LIVE_MAX_SEGMENTS];
    if (occupant)
        forget_segment(m, occupant->stats.info.id);
    if (m->n_order == LIVE_MAX_SEGMENTS)
        forget_segment(m, m->order[0]);
    m->segments[id % LIVE_MAX_SEGMENTS] = g;
    m->order[m->n_order++] = id;
    return g;
}

/* ---- per-sample updates ---------------------------------------------------------------------- */

static void add_recent(segment_state *g, const live_sample *s)
{
    uint64_t stamp = s->end_ns / RECENT_BUCKET_NS;
    recent_bucket *b = &g->recent[stamp % RECENT_BUCKETS];
    if (b->stamp != stamp)
        memset(b, 0, sizeof *b), b->stamp = stamp;
    b->tokens++;
    b->ns += (double)s->latency_ns;
    b->flops += s->flops;
    b->bytes += s->bytes;
}

/* History points cover LIVE_HISTORY_NS of wall time; a point's rate is
 * tokens over the time spent computing them (a pause is not slowness). */
static void add_history(segment_state *g, const live_sample *s)
{
    live_segment_stats *st = &g->stats;
    if (g->point_start_ns == 0)
        g->point_start_ns = s->end_ns;
    if (s->end_ns - g->point_start_ns >= LIVE_HISTORY_NS && g->point_ns > 0) {
        if (st->history_len == LIVE_HISTORY) {
            memmove(st->history_tok_per_s, st->history_tok_per_s + 1, (LIVE_HISTORY - 1) * sizeof(double));
            memmove(st->history_end_ns, st->history_end_ns + 1, (LIVE_HISTORY - 1) * sizeof(uint64_t));
        } else
            st->history_len++;
        st->history_tok_per_s[st->history_len - 1] = (double)g->point_tokens / (g->point_ns * 1e-9);
        st->history_end_ns[st->history_len - 1] = s->end_ns;
        g->point_start_ns = s->end_ns, g->point_tokens = 0, g->point_ns = 0;
    }
    g->point_tokens++;
    g->point_ns += (double)s->latency_ns;
}

static void add_round_rate(segment_state *g, const live_sample *s)
{
    if (s->ab_side < 0 || !g->rounds || !g->round_rates)
        return;
    if (s->phase == LIVE_PHASE_DECODE && g->round_len < ROUND_MAX_TOKENS)
        g->round_rates[g->round_len++] = 1e9 / (double)(s->latency_ns ? s->latency_ns : 1);
    if (!s->round_end)
        return;
    if (g->round_len > 0) {
        if (g->n_rounds == LIVE_AB_MAX_ROUNDS) /* keep the newest */
            memmove(g->rounds, g->rounds + 1, (LIVE_AB_MAX_ROUNDS - 1) * sizeof *g->rounds);
        else
            g->n_rounds++;
        g->rounds[g->n_rounds - 1] = ab_median(g->round_rates, g->round_len);
    }
    g->round_len = 0;
}

static void add_decode(segment_state *g, const live_sample *s)
{
    live_segment_stats *st = &g->stats;
    double ns = (double)s->latency_ns;
    st->decode_tokens++;
    st->decode_ns += s->latency_ns;
    st->decode_flops += s->flops;
    st->decode_bytes += s->bytes;
    live_hist_add(&g->latency, ns);
    double decay = exp(-ns / SMOOTHING_NS);
    g->ew_tokens = g->ew_tokens * decay + 1;
    g->ew_ns = g->ew_ns * decay + ns;
    g->section_tokens++;
    for (int i = 0; i < s->n_sections && i < LIVE_MAX_SECTIONS; i++)
        g->section_ns[i] += s->section_ns[i];
    add_recent(g, s);
    add_history(g, s);
}

static void add_prefill(segment_state *g, const live_sample *s)
{
    live_segment_stats *st = &g->stats;
    st->prefills++;
    st->prefill_tokens += (uint64_t)s->n_tokens;
    st->prefill_ns += s->latency_ns;
    st->prefill_flops += s->flops;
    st->prefill_bytes += s->bytes;
    st->prefill_tok_per_s_last = s->n_tokens / ((double)s->latency_ns * 1e-9);
    /* Time to first token: the prefill plus sampling the first token. */
    st->ttft_ms_last = (double)s->latency_ns / 1e6;
    g->ttft_ms[st->ttft_count++ % TTFT_KEEP] = st->ttft_ms_last;
}

static void add_text(live_metrics *m, const live_sample *s)
{
    text_state *t = &m->text[s->ab_side > 0 ? 1 : 0];
    if (s->generation != t->generation || s->phase == LIVE_PHASE_PREFILL) {
        t->generation = s->generation;
        t->len = 0;
        t->prompt_len = s->phase == LIVE_PHASE_PREFILL ? s->n_tokens : 0;
    }
    if (t->len < LIVE_TEXT_MAX)
        t->ids[t->len++] = s->token;
}

static void on_sample(live_metrics *m, const live_sample *s)
{
    segment_state *g = segment_for(m, s->segment);
    m->samples++;
    if (!g)
        return;
    g->dirty = 1;
    live_trace_sample(&m->trace[s->ab_side > 0 ? 1 : 0], &g->stats.info, s);
    if (m->prom)
        live_feed_sample(m->prom, &g->stats.info, s);
    if (s->phase == LIVE_PHASE_PREFILL)
        add_prefill(g, s);
    else
        add_decode(g, s);
    add_round_rate(g, s);
    live_segment_stats *st = &g->stats;
    st->n_threads = s->n_threads;
    st->pool_jobs = s->pool_jobs;
    st->pool_jobs_solo = s->pool_jobs_solo;
    st->pool_stalls = s->pool_stalls;
    st->pool_solo_periods = s->pool_solo_periods;
    st->pool_solo_now = s->pool_solo_now;
    for (int i = 0; i < s->n_threads && i < LIVE_SAMPLE_THREADS; i++) {
        st->thread_cpu[i] = s->thread_cpu[i];
        st->thread_migrations[i] = s->thread_migrations[i];
        g->busy_ns[i] = s->thread_busy_ns[i];
    }
    g->busy_at_ns = s->end_ns;
    st->last_pos = s->pos + s->n_tokens;
    st->last_generation = s->generation;
    add_text(m, s);
}

/* ---- finishing a segment's figures --------------------------------------------------------------- */

static double ttft_median(const segment_state *g)
{
    int n = g->stats.ttft_count < TTFT_KEEP ? g->stats.ttft_count : TTFT_KEEP;
    return ab_median(g->ttft_ms, n);
}

static void finish_recent(segment_state *g, uint64_t now_ns)
{
    live_segment_stats *st = &g->stats;
    uint64_t now_stamp = now_ns / RECENT_BUCKET_NS;
    double tokens = 0;
    st->recent_decode_ns = st->recent_decode_flops = st->recent_decode_bytes = 0;
    for (int i = 0; i < RECENT_BUCKETS; i++) {
        const recent_bucket *b = &g->recent[i];
        if (b->stamp + RECENT_BUCKETS <= now_stamp)
            continue; /* older than a second */
        tokens += (double)b->tokens;
        st->recent_decode_ns += b->ns;
        st->recent_decode_flops += b->flops;
        st->recent_decode_bytes += b->bytes;
    }
    st->recent_decode_tokens = tokens;
    st->decode_tok_per_s_now = st->recent_decode_ns > 0 ? tokens / (st->recent_decode_ns * 1e-9) : NAN;
}

static void finish_threads(segment_state *g)
{
    live_segment_stats *st = &g->stats;
    uint64_t dt = g->busy_at_ns - g->busy_prev_at_ns;
    for (int i = 0; i < st->n_threads && i < LIVE_SAMPLE_THREADS; i++) {
        double busy = (double)(g->busy_ns[i] - g->busy_prev_ns[i]);
        st->thread_load[i] = g->busy_prev_at_ns && dt > 0 ? busy / (double)dt : 0;
        if (st->thread_load[i] > 1)
            st->thread_load[i] = 1;
        g->busy_prev_ns[i] = g->busy_ns[i];
    }
    if (dt > 0 || !g->busy_prev_at_ns)
        g->busy_prev_at_ns = g->busy_at_ns;
}

static void finish_latency(segment_state *g)
{
    live_segment_stats *st = &g->stats;
    const live_histogram *h = &g->latency;
    st->latency_p50_ms = live_hist_percentile(h, 50) / 1e6;
    st->latency_p95_ms = live_hist_percentile(h, 95) / 1e6;
    st->latency_p99_ms = live_hist_percentile(h, 99) / 1e6;
    st->latency_min_ms = h->n ? h->min_ns / 1e6 : NAN;
    st->latency_max_ms = h->n ? h->max_ns / 1e6 : NAN;
    st->latency_mean_ms = h->n ? h->sum_ns / (double)h->n / 1e6 : NAN;
}

static void finish_segment(live_metrics *m, segment_state *g, uint64_t now_ns)
{
    live_segment_stats *st = &g->stats;
    live_get_segment(m->engine, st->info.id, &st->info); /* counter windows, end time */
    st->decode_tok_per_s = st->decode_ns ? (double)st->decode_tokens / ((double)st->decode_ns * 1e-9) : NAN;
    st->prefill_tok_per_s = st->prefill_ns ? (double)st->prefill_tokens / ((double)st->prefill_ns * 1e-9) : NAN;
    st->decode_tok_per_s_smoothed = g->ew_ns > 0 ? g->ew_tokens / (g->ew_ns * 1e-9) : NAN;
    st->ttft_ms_median = ttft_median(g);
    st->section_token_ms = 0;
    for (int i = 0; i < LIVE_MAX_SECTIONS; i++) {
        st->section_ms[i] = g->section_tokens ? (double)g->section_ns[i] / (double)g->section_tokens / 1e6 : 0;
        st->section_token_ms += st->section_ms[i];
    }
    finish_latency(g);
    finish_recent(g, now_ns);
    finish_threads(g);
    g->dirty = 0;
}

/* ---- machine: memory, CPU load, topology ------------------------------------------------------- */

static void sample_memory(live_metrics *m, uint64_t now)
{
    if (now - m->last_memory_ns < MEMORY_EVERY_NS)
        return;
    probes_memory_sample(&m->memory);
    if (m->memory.rss_ok) {
        pthread_mutex_lock(&m->state_lock);
        for (int side = 0; side < 2; side++)
            live_trace_rss(&m->trace[side], now, (double)m->memory.rss_bytes);
        pthread_mutex_unlock(&m->state_lock);
    }
    probes_memory_window copy = m->memory; /* _end also samples; keep the running window */
    probes_memory_end(&copy, -1, &m->memory_report);
    if (m->memory_report.minor_faults.valid) {
        uint64_t faults = (uint64_t)m->memory_report.minor_faults.value;
        if (m->last_faults_ns)
            m->minor_faults_per_s = (double)(faults - m->last_minor_faults) / ((double)(now - m->last_faults_ns) * 1e-9);
        m->last_minor_faults = faults;
        m->last_faults_ns = now;
    }
    m->last_memory_ns = now;
}

static int read_int_file(const char *path, int fallback)
{
    FILE *f = fopen(path, "r");
    int v = fallback;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = fallback;
        fclose(f);
    }
    return v;
}

/* PUs in /proc/stat order with their core and package from sysfs. */
static void load_topology(live_metrics *m)
{
    char err[256];
    probes_topo *t = probes_topo_load(err, sizeof err);
    if (t) {
        m->n_cores = probes_topo_core_count(t);
        m->l3_bytes = probes_topo_l3_bytes(t);
        probes_topo_free(t);
    }
    FILE *f = fopen("/proc/stat", "r");
    char line[512];
    int packages_seen[64] = {0};
    while (f && fgets(line, sizeof line, f) && m->n_pus < LIVE_MAX_PUS) {
        int cpu;
        /* "cpu " is the machine's total; "cpuN " one PU. */
        if (strncmp(line, "cpu", 3) != 0 || !isdigit((unsigned char)line[3]) || sscanf(line + 3, "%d", &cpu) != 1)
            continue;
        live_pu *p = &m->pus[m->n_pus++];
        char path[128];
        p->os_index = cpu;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        p->core = read_int_file(path, cpu);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        p->package = read_int_file(path, 0);
        p->load = -1;
        if (p->package >= 0 && p->package < 64 && !packages_seen[p->package]++)
            m->n_packages++;
    }
    if (f)
        fclose(f);
    if (m->n_cores == 0)
        m->n_cores = m->n_pus;
}

/* Whole-machine busy share per PU, as top and htop compute it. */
static void sample_cpu_load(live_metrics *m, uint64_t now)
{
    if (now - m->last_cpu_ns < CPU_LOAD_EVERY_NS)
        return;
    m->last_cpu_ns = now;
    FILE *f = fopen("/proc/stat", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        int cpu;
        unsigned long long v[8] = {0};
        if (strncmp(line, "cpu", 3) != 0 || !isdigit((unsigned char)line[3]))
            continue;
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6], &v[7]) < 5)
            continue;
        for (int i = 0; i < m->n_pus; i++) {
            if (m->pus[i].os_index != cpu)
                continue;
            uint64_t idle = v[3] + v[4], total = 0;
            for (int k = 0; k < 8; k++)
                total += v[k];
            uint64_t busy = total - idle;
            if (m->cpu_total[i] && total > m->cpu_total[i])
                m->pus[i].load = (double)(busy - m->cpu_busy[i]) / (double)(total - m->cpu_total[i]);
            m->cpu_busy[i] = busy, m->cpu_total[i] = total;
        }
    }
    if (f)
        fclose(f);
}

/* ---- ceilings (their own thread: a first measurement takes seconds) ------------------------------
 * Not cached yet, they are measured one step at a time (a figure for a thread
 * count, well under a second), each in a child process so that its arrays
 * never show in this process's memory, with the engine held only for that
 * step: it would compete with the measurement for the cores and both figures
 * would be wrong. Generation comes first: the first step waits for a few
 * seconds and a few hundred tokens of it, and between steps the engine runs
 * at least twice as long as the last step took. Paused (or failed), the
 * engine is idle anyway, so the steps follow each other at once. */

/* done: final (ok, or why there are none); else still measuring. */
static void set_ceilings_state(live_metrics *m, int done, int ok, const probes_ceilings *c, const char *state)
{
    pthread_mutex_lock(&m->ceilings_lock);
    m->ceilings_done = done;
    m->ceilings_ok = ok;
    if (c)
        m->ceilings = *c;
    live_copy_text(m->ceilings_state, sizeof m->ceilings_state, state);
    pthread_mutex_unlock(&m->ceilings_lock);
}

/* Sleeps ms unless stopped; 0 once stopping. */
static int nap_ms(live_metrics *m, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + ms * 1000000L;
    until.tv_sec += ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&m->stop_lock);
    while (!atomic_load(&m->stop))
        if (pthread_cond_timedwait(&m->stop_cond, &m->stop_lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&m->stop_lock);
    return !atomic_load(&m->stop);
}

/* Until the engine has generated for need_ns and need_tokens since this
 * call, or is not generating at all (paused, failed). 0 once stopping. */
static int wait_for_generation(live_metrics *m, uint64_t need_ns, uint64_t need_tokens)
{
    live_status st;
    live_get_status(m->engine, &st);
    uint64_t generated = 0, last = hst_now_ns(), tokens_at_start = st.tokens;
    while (generated < need_ns || st.tokens - tokens_at_start < need_tokens) {
        if (st.state == LIVE_PAUSED || st.state == LIVE_FAILED)
            return !atomic_load(&m->stop);
        if (!nap_ms(m, CEILINGS_POLL_MS))
            return 0;
        uint64_t now = hst_now_ns();
        if (st.state == LIVE_RUNNING)
            generated += now - last;
        last = now;
        live_get_status(m->engine, &st);
    }
    return !atomic_load(&m->stop);
}

/* Holds the engine and waits until it is between tokens; 0, or -1 once stopping. */
static int hold_engine(live_metrics *m, const char *reason)
{
    live_hold(m->engine, 1, reason, 0);
    while (!atomic_load(&m->engine->idle) && !atomic_load(&m->engine->stop)) {
        if (atomic_load(&m->stop))
            return -1;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&m->stop) ? -1 : 0;
}

/* Runs the plan's steps; 0 done (*whole: every step gave its figure), -1 stopped. */
static int run_steps(live_metrics *m, probes_ceiling_plan *plan, int *whole)
{
    char state[64], reason[96];
    uint64_t need = CEILINGS_FIRST_AFTER_NS, need_tokens = CEILINGS_FIRST_AFTER_TOKENS;
    *whole = 1;
    for (int k = 0; k < plan->n_steps; k++) {
        snprintf(state, sizeof state, "measuring (%d of %d)", k + 1, plan->n_steps);
        set_ceilings_state(m, 0, 0, NULL, state);
        if (!wait_for_generation(m, need, need_tokens))
            return -1;
        snprintf(reason, sizeof reason, "measuring ceilings (%d of %d)", k + 1, plan->n_steps);
        uint64_t t0 = hst_now_ns();
        probes_metric figure;
        int rc = hold_engine(m, reason) == 0 ? probes_ceilings_run_step_in_child(plan, k, &m->stop, &figure) : -1;
        live_hold(m->engine, 0, NULL, 0);
        if (rc < 0)
            return -1;
        *whole = *whole && rc == 0;
        probes_ceilings_set_step(plan, k, &figure);
        uint64_t took = hst_now_ns() - t0;
        need = CEILINGS_GAP_FACTOR * took > CEILINGS_GAP_MIN_NS ? CEILINGS_GAP_FACTOR * took : CEILINGS_GAP_MIN_NS;
        need_tokens = 0;
    }
    return 0;
}

/* Measures, publishes and caches (path NULL: why_no_path); a stopped
 * measurement leaves no cache. */
static void measure_ceilings(live_metrics *m, const char *path, const char *why_no_path)
{
    char err[1400], state[1500];
    probes_ceiling_plan *plan = malloc(sizeof *plan);
    if (!plan || probes_ceilings_plan(&m->opts.ceilings, plan, err, sizeof err) != 0) {
        set_ceilings_state(m, 1, 0, NULL, plan ? err : "not measured: out of memory");
        free(plan);
        return;
    }
    int whole = 0;
    if (run_steps(m, plan, &whole) != 0) {
        free(plan);
        return;
    }
    if (!whole)
        snprintf(state, sizeof state, "measured (not cached: a measuring process failed)");
    else if (!path)
        snprintf(state, sizeof state, "measured (not cached: %s)", why_no_path);
    else if (probes_ceilings_save(path, &plan->result, err, sizeof err) != 0)
        snprintf(state, sizeof state, "measured (not cached: %s)", err);
    else
        snprintf(state, sizeof state, "measured");
    set_ceilings_state(m, 1, 1, &plan->result, state);
    free(plan);
}

static void *ceilings_main(void *arg)
{
    live_metrics *m = arg;
    char path[1024], err[512];
    probes_ceilings *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    int have_path = probes_ceilings_cache_path(path, sizeof path, err, sizeof err) == 0;
    if (have_path && probes_ceilings_load(path, c, err, sizeof err) == 0)
        set_ceilings_state(m, 1, 1, c, "cached");
    else if (m->opts.no_ceilings)
        set_ceilings_state(m, 1, 0, NULL, "not measured (--no-ceilings); run `hstprof ceilings` once");
    else
        measure_ceilings(m, have_path ? path : NULL, err);
    free(c);
    return NULL;
}

/* ---- A/B ------------------------------------------------------------------------------------------ */

/* The verdict of the running comparison (at most once a second), or of the
 * stopped one: its last rounds may still be in the ring when it stops, so it
 * is computed again whenever its rounds grew. A stopped comparison whose
 * segments were forgotten keeps the verdict it had. */
static void update_ab(live_metrics *m, const live_status *st, uint64_t now)
{
    if (!st->ab_active && !st->ab_stopped) {
        memset(&m->ab, 0, sizeof m->ab);
        m->ab_rounds_seen = -1;
        return;
    }
    const segment_state *a = find_segment(m, st->ab_segment[0]), *b = find_segment(m, st->ab_segment[1]);
    int rounds = (a ? a->n_rounds : 0) + (b ? b->n_rounds : 0);
    int same_pair = st->ab_segment[0] == m->ab_for[0] && st->ab_segment[1] == m->ab_for[1];
    if (same_pair && (rounds == m->ab_rounds_seen || (!st->ab_active && (!a || !b))))
        return;
    if (same_pair && st->ab_active && now - m->last_ab_ns < AB_EVERY_NS)
        return;
    m->last_ab_ns = now;
    m->ab_for[0] = st->ab_segment[0], m->ab_for[1] = st->ab_segment[1];
    m->ab_rounds_seen = rounds;
    ab_compute(a ? a->rounds : NULL, a ? a->n_rounds : 0, b ? b->rounds : NULL, b ? b->n_rounds : 0, &m->ab);
}

/* ---- the view --------------------------------------------------------------------------------------- */

static void fill_segment_list(live_metrics *m, live_view *v)
{
    int first = m->n_order > LIVE_VIEW_SEGMENTS ? m->n_order - LIVE_VIEW_SEGMENTS : 0;
    v->n_segments = 0;
    for (int i = first; i < m->n_order; i++) {
        const segment_state *g = find_segment(m, m->order[i]);
        if (!g)
            continue;
        live_segment_summary *out = &v->segments[v->n_segments++];
        out->id = g->stats.info.id;
        out->ab_side = g->stats.info.ab_side;
        out->setting = g->stats.info.setting;
        out->decode_tokens = g->stats.decode_tokens;
        out->decode_tok_per_s = g->stats.decode_tok_per_s;
        out->latency_p50_ms = g->stats.latency_p50_ms;
        out->latency_p99_ms = g->stats.latency_p99_ms;
        out->ttft_ms_median = g->stats.ttft_ms_median;
    }
}

static void fill_machine(live_metrics *m, live_view *v)
{
    v->memory = m->memory_report;
    v->minor_faults_per_s = m->minor_faults_per_s;
    v->n_pus = m->n_pus;
    v->n_cores = m->n_cores;
    v->n_packages = m->n_packages;
    v->l3_bytes = m->l3_bytes;
    memcpy(v->pus, m->pus, sizeof v->pus);
    pthread_mutex_lock(&m->ceilings_lock);
    v->ceilings_ok = m->ceilings_ok;
    v->ceilings_done = m->ceilings_done;
    v->ceilings = m->ceilings;
    live_copy_text(v->ceilings_state, sizeof v->ceilings_state, m->ceilings_state);
    pthread_mutex_unlock(&m->ceilings_lock);
}

static void fill_text(live_metrics *m, live_view *v, int side)
{
    const text_state *t = &m->text[side];
    live_copy_text(v->prompt, sizeof v->prompt, m->engine->prompt_text);
    v->text_generation = t->generation;
    v->text_prompt_len = t->prompt_len;
    v->text_len = t->len;
    memcpy(v->text, t->ids, (size_t)t->len * sizeof t->ids[0]);
}

static void build_view(live_metrics *m, live_view *v, uint64_t now)
{
    live_status st;
    live_get_status(m->engine, &st);
    int side = st.ab_active ? atomic_load(&m->shown_side) : 0;
    uint32_t shown = st.ab_active ? st.ab_segment[side] : st.segment;
    v->now_ns = now;
    v->start_ns = m->start_ns;
    v->status = st;
    v->samples = m->samples;
    v->dropped_samples = live_ring_dropped(live_engine_ring(m->engine));
    v->shown_side = side;
    update_ab(m, &st, now);
    v->ab_active = st.ab_active;
    v->ab = m->ab;
    live_setting_difference(&st.ab[0], &st.ab[1], v->ab_label, sizeof v->ab_label);
    pthread_mutex_lock(&m->state_lock);
    for (int i = 0; i < m->n_order; i++) {
        segment_state *g = find_segment(m, m->order[i]);
        if (g && (g->dirty || g->stats.info.id == shown))
            finish_segment(m, g, now);
    }
    const segment_state *cur = find_segment(m, shown);
    if (!cur && live_get_segment(m->engine, shown, &v->current.info) == 0) {
        /* No token yet: show what is known (model, setting). */
        live_segment_info info = v->current.info;
        memset(&v->current, 0, sizeof v->current);
        v->current.info = info;
        v->has_current = 1;
    } else {
        v->has_current = cur != NULL;
        if (cur)
            v->current = cur->stats;
    }
    fill_segment_list(m, v);
    fill_text(m, v, side);
    pthread_mutex_unlock(&m->state_lock);
    fill_machine(m, v);
}

static void publish(live_metrics *m, uint64_t now)
{
    build_view(m, m->scratch, now);
    if (m->prom) {
        pthread_mutex_lock(&m->state_lock); /* on_sample changes it under this lock */
        live_feed_view(m->prom, m->scratch);
        probes_metrics_feed_publish(m->opts.feed, m->prom);
        pthread_mutex_unlock(&m->state_lock);
    }
    pthread_mutex_lock(&m->view_lock);
    m->scratch->version = m->published->version + 1;
    memcpy(m->published, m->scratch, sizeof *m->published);
    atomic_store(&m->version, m->scratch->version);
    pthread_mutex_unlock(&m->view_lock);
    m->last_publish_ns = now;
}

/* A paused engine produces nothing new: publishing then only costs the UI
 * a redraw, so it happens when samples arrived, the engine's status
 * changed, or every PUBLISH_IDLE_NS for the clocks. */
static int status_changed(const live_status *a, const live_status *b)
{
    return a->state != b->state || a->tokens != b->tokens || a->segment != b->segment ||
           a->ab_active != b->ab_active || a->ab_rounds[0] != b->ab_rounds[0] || a->ab_rounds[1] != b->ab_rounds[1] ||
           a->ab_stopped != b->ab_stopped || a->resets != b->resets || strcmp(a->setting.mode, b->setting.mode) != 0 ||
           strcmp(a->error, b->error) != 0 || strcmp(a->hold_reason, b->hold_reason) != 0 ||
           a->setting.threads != b->setting.threads || strcmp(a->setting.model, b->setting.model) != 0 ||
           strcmp(a->setting.affinity, b->setting.affinity) != 0 || strcmp(a->setting.kernel, b->setting.kernel) != 0 ||
           strcmp(a->setting.precision, b->setting.precision) != 0;
}

static int worth_publishing(live_metrics *m, int drained, uint64_t now)
{
    live_status st;
    live_get_status(m->engine, &st);
    int changed = status_changed(&st, &m->last_status);
    m->last_status = st;
    return drained > 0 || changed || now - m->last_publish_ns >= PUBLISH_IDLE_NS;
}

uint64_t live_metrics_version(live_metrics *m)
{
    return atomic_load(&m->version);
}

/* ---- the thread -------------------------------------------------------------------------------------- */

static int drain(live_metrics *m)
{
    live_ring *ring = live_engine_ring(m->engine);
    live_sample s;
    int n = 0;
    pthread_mutex_lock(&m->state_lock);
    for (; live_ring_pop(ring, &s); n++)
        on_sample(m, &s);
    pthread_mutex_unlock(&m->state_lock);
    return n;
}

static void *metrics_main(void *arg)
{
    live_metrics *m = arg;
    pthread_setname_np(pthread_self(), "hstprof-probes");
    load_topology(m);
    probes_memory_begin(&m->memory);
    while (!atomic_load(&m->stop)) {
        uint64_t now = hst_now_ns();
        int drained = drain(m);
        sample_memory(m, now);
        sample_cpu_load(m, now);
        if (worth_publishing(m, drained, now))
            publish(m, now);
        nap_ms(m, m->opts.update_ms);
    }
    drain(m);
    publish(m, hst_now_ns());
    return NULL;
}

live_metrics *live_metrics_start(live_engine *e, const live_metrics_options *opts, char *err, size_t err_len)
{
    live_metrics *m = calloc(1, sizeof *m);
    if (!m || !(m->published = calloc(1, sizeof *m->published)) || !(m->scratch = calloc(1, sizeof *m->scratch))) {
        snprintf(err, err_len, "metrics: out of memory");
        if (m)
            free(m->published);
        free(m);
        return NULL;
    }
    m->engine = e;
    if (opts)
        m->opts = *opts;
    if (m->opts.feed && !(m->prom = malloc(sizeof *m->prom))) {
        snprintf(err, err_len, "metrics: out of memory");
        free(m->published);
        free(m->scratch);
        free(m);
        return NULL;
    }
    if (m->prom)
        probes_metrics_state_init(m->prom);
    if (m->opts.update_ms <= 0)
        m->opts.update_ms = 100;
    m->start_ns = hst_now_ns();
    m->ab_for[0] = m->ab_for[1] = UINT32_MAX; /* no comparison computed yet */
    m->ab_rounds_seen = -1;
    pthread_mutex_init(&m->stop_lock, NULL);
    pthread_cond_init(&m->stop_cond, NULL);
    pthread_mutex_init(&m->state_lock, NULL);
    pthread_mutex_init(&m->view_lock, NULL);
    pthread_mutex_init(&m->ceilings_lock, NULL);
    snprintf(m->ceilings_state, sizeof m->ceilings_state, "loading...");
    int rc = pthread_create(&m->thread, NULL, metrics_main, m);
    m->thread_started = rc == 0;
    if (rc == 0)
        m->ceilings_started = pthread_create(&m->ceilings_thread, NULL, ceilings_main, m) == 0;
    if (rc != 0) {
        snprintf(err, err_len, "metrics: cannot start the probes thread: %s", strerror(rc));
        live_metrics_stop(m);
        return NULL;
    }
    return m;
}

void live_metrics_stop(live_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->stop_lock);
    atomic_store(&m->stop, 1);
    pthread_cond_broadcast(&m->stop_cond); /* the probes and the ceilings threads */
    pthread_mutex_unlock(&m->stop_lock);
    if (m->thread_started)
        pthread_join(m->thread, NULL);
    if (m->ceilings_started)
        pthread_join(m->ceilings_thread, NULL);
    while (m->n_order > 0)
        forget_segment(m, m->order[0]);
    live_trace_free(&m->trace[0]);
    live_trace_free(&m->trace[1]);
    free(m->prom);
    pthread_mutex_destroy(&m->stop_lock);
    pthread_cond_destroy(&m->stop_cond);
    pthread_mutex_destroy(&m->state_lock);
    pthread_mutex_destroy(&m->view_lock);
    pthread_mutex_destroy(&m->ceilings_lock);
    free(m->published);
    free(m->scratch);
    free(m);
}

void live_metrics_view(live_metrics *m, live_view *out)
{
    pthread_mutex_lock(&m->view_lock);
    memcpy(out, m->published, sizeof *out);
    pthread_mutex_unlock(&m->view_lock);
}

void live_metrics_show_side(live_metrics *m, int side)
{
    atomic_store(&m->shown_side, side ? 1 : 0);
}

int live_metrics_segments(live_metrics *m, live_segment_stats *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&m->state_lock);
    for (int i = 0; i < m->n_order && n < max; i++) {
        const segment_state *g = find_segment(m, m->order[i]);
        if (g)
            out[n++] = g->stats;
    }
    pthread_mutex_unlock(&m->state_lock);
    return n;
}

json_t *live_metrics_trace_json(live_metrics *m, uint32_t id)
{
    timeline *copy = NULL;
    live_segment_info *info = malloc(sizeof *info);
    if (!info)
        return NULL;
    pthread_mutex_lock(&m->state_lock);
    const segment_state *g = find_segment(m, id);
    for (int side = 0; side < 2 && g && !copy; side++)
        if (m->trace[side].timeline && m->trace[side].segment == id)
            copy = timeline_clone(m->trace[side].timeline);
    if (g)
        *info = g->stats.info;
    pthread_mutex_unlock(&m->state_lock);
    /* Built outside the lock: the probes thread goes on draining meanwhile. */
    json_t *o = copy ? live_trace_json(copy, info) : NULL;
    timeline_free(copy);
    free(info);
    return o;
}

int live_metrics_latency_histogram(live_metrics *m, uint32_t id, live_histogram *out)
{
    pthread_mutex_lock(&m->state_lock);
    const segment_state *g = find_segment(m, id);
    if (g)
        *out = g->latency;
    pthread_mutex_unlock(&m->state_lock);
    return g ? 0 : -1;
}
