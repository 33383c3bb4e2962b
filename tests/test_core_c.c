/* test_core_c.c — Core C, v7.0 Agile (spec 12.C), against a naive
 * double-precision reference of the text written out below, on a small model
 * whose router is set so that the gates are mixed: per row in causal mode
 * (rows switch processors on and off within one call) and per window in
 * parity mode. What each test pins down:
 *   - both modes' logits and stage rows against the reference (12.C.2,
 *     12.C.3): the whole-window mean, bidirectional processors; the running
 *     mean, per-row gates, k and v of every row stored whatever its gate;
 *   - the gate test g > 0.1f, strict (a gate of exactly 0.1f is off);
 *   - the running mean: one float32 sum in position order and a float32
 *     division by t + 1, bit for bit in prefill, chunked prefill and decode;
 *   - the mix h + g·(u − h) bit for bit, in that order;
 *   - split invariance and thread counts 1, 2, 3, bit for bit (12.0), and
 *     parity decode = parity prefill of the window (the bottom-stack
 *     shortcut of 12.C.2);
 *   - sections, their FLOPs (12.C.6, 12.C.7), the decode-state size, and
 *     hst-chaos computing what hst-v7.0 computes (12.C.9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROCS 10
#define FF 2048
#define ROUTER 256
#define S_MAX 72          /* rows of the longest case: past the 64-row block */
#define LOGIT_TOL 1e-4    /* 12.0 conformance against an independent implementation */
#define STAGE_TOL 1e-4    /* relative to the stage's largest |value| (12.0) */
#define GATE_MARGIN 1e-4  /* every reference gate this far from 0.1: 100 times the engine-reference gap */

/* ---- the model ------------------------------------------------------------------- */

/* V 48, D 16, nh 2, L 4 (2 bottom + 2 top blocks), Lmax 80. */
static const hst_config tiny_cfg = {HST_ARCH_V7_0, 48, 16, 2, 4, 80, 1};

/* What each processor's router bias makes of it (set_router). */
typedef enum { GATE_ON, GATE_OFF, GATE_MIXED } gate_plan;
static const gate_plan plan[PROCS] = {GATE_MIXED, GATE_ON,    GATE_OFF, GATE_MIXED, GATE_ON,
                                      GATE_OFF,   GATE_MIXED, GATE_ON,  GATE_ON,    GATE_MIXED};

static float *tensor(hst_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static float *tensor(hst_model *m, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    uint64_t n;
    const float *data = hst_model_tensor_data(m, name, &n);
    if (!data)
        fail_msg("no tensor %s", name);
    return (float *)data; /* the test edits weights in place, then rebuilds the runtime */
}

/* The runtime packs the weights: rebuild it after an edit. */
static void rebuild(hst_model *m)
{
    hst_error err = {{0}};
    if (hst_model_set_precision(m, HST_PRECISION_BF16, &err) != 0 ||
        hst_model_set_precision(m, HST_PRECISION_F32, &err) != 0)
        fail_msg("%s", err.msg);
}

static void fill_normal(float *x, size_t n, double mean, double sd, uint64_t rng[4])
{
    for (size_t i = 0; i < n; i++) {
        double u1 = hst_rng_uniform(rng), u2 = hst_rng_uniform(rng);
        x[i] = (float)(mean + sd * sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2));
    }
}

/* PyTorch initialises LayerNorm to 1, 0 and attention biases to 0: give them
 * values so that the reference checks their use. */
static void perturb_norms_and_biases(hst_model *m)
{
    uint64_t rng[4];
    hst_rng_seed(rng, 77);
    const int D = m->cfg.d_model;
    for (int i = 0; i < m->n_specs; i++) {
        const char *name = m->specs[i].name;
        float *data = m->data[i];
        if (!data || !(m->specs[i].flags & HST_T_NEXT_TOKEN))
            continue;
        if (strstr(name, "norm") && strstr(name, ".weight"))
            fill_normal(data, (size_t)D, 1.0, 0.1, rng);
        else if (strstr(name, "norm") && strstr(name, ".bias"))
            fill_normal(data, (size_t)D, 0.0, 0.1, rng);
        else if (strstr(name, "in_proj_bias") || strstr(name, "out_proj.bias"))
            fill_normal(data, m->specs[i].numel, 0.0, 0.1, rng);
    }
}

static void prompt_ids(int *ids, int n, int vocab)
{
    for (int i = 0; i < n; i++)
        ids[i] = (int)(((uint64_t)i * 2654435761u + 17u) % (uint64_t)vocab);
}

/* ---- the naive reference (double; spec 4.1, 4.2, 4.5, 12.C.2, 12.C.3) ---------------------- */

static void ref_layernorm(const double *x, const float *g, const float *b, double *y, int n)
{
    double mu = 0, var = 0;
    for (int i = 0; i < n; i++)
        mu += x[i];
    mu /= n;
    for (int i = 0; i < n; i++)
        var += (x[i] - mu) * (x[i] - mu);
    var /= n;
    for (int i = 0; i < n; i++)
        y[i] = (x[i] - mu) / sqrt(var + 1e-5) * g[i] + b[i];
}

/* y = W·x + b, W [out, in] (b may be NULL). */
static void ref_linear(const float *W, const float *b, const double *x, double *y, int out, int in)
{
    for (int o = 0; o < out; o++) {
        double acc = b ? b[o] : 0;
        for (int k = 0; k < in; k++)
            acc += (double)W[(size_t)o * in + k] * x[k];
        y[o] = acc;
    }
}

/* Multi-head attention of row i over keys 0..last: q, k, v rows [S][D]. */
static void ref_attend(const double *q, const double *k, const double *v, int i, int last, int D, int heads,
                       double *out)
{
    const int hd = D / heads;
    double *w = malloc((size_t)(last + 1) * sizeof *w);
    for (int h = 0; h < heads; h++) {
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j <= last; j++) {
            double s = 0;
            for (int d = 0; d < hd; d++)
                s += q[(size_t)i * D + h * hd + d] * k[(size_t)j * D + h * hd + d];
            w[j] = s / sqrt((double)hd);
            mx = fmax(mx, w[j]);
        }
        for (int j = 0; j <= last; j++)
            sum += (w[j] = exp(w[j] - mx));
        for (int d = 0; d < hd; d++) {
            double o = 0;
            for (int j = 0; j <= last; j++)
                o += w[j] / sum * v[(size_t)j * D + h * hd + d];
            out[h * hd + d] = o;
        }
    }
    free(w);
}

/* Spec 4.2 over rows 0..S-1 (causal), x updated in place. */
static void ref_preblock(hst_model *m, const char *prefix, double *x, int S)
{
    const int D = m->cfg.d_model, nh = m->cfg.n_heads;
    double *a = calloc((size_t)S * D, sizeof *a), *q = calloc((size_t)S * D, sizeof *q);
    double *k = calloc((size_t)S * D, sizeof *k), *v = calloc((size_t)S * D, sizeof *v);
    double *o = calloc((size_t)D, sizeof *o), *p = calloc((size_t)D, sizeof *p), *hid = calloc(4 * (size_t)D, sizeof *hid);
    for (int i = 0; i < S; i++) {
        ref_layernorm(x + (size_t)i * D, tensor(m, "%s.norm1.weight", prefix), tensor(m, "%s.norm1.bias", prefix),
                      a + (size_t)i * D, D);
        ref_linear(tensor(m, "%s.attn.q_proj.weight", prefix), NULL, a + (size_t)i * D, q + (size_t)i * D, D, D);
        ref_linear(tensor(m, "%s.attn.k_proj.weight", prefix), NULL, a + (size_t)i * D, k + (size_t)i * D, D, D);
        ref_linear(tensor(m, "%s.attn.v_proj.weight", prefix), NULL, a + (size_t)i * D, v + (size_t)i * D, D, D);
    }
    for (int i = 0; i < S; i++) {
        double *xi = x + (size_t)i * D;
        ref_attend(q, k, v, i, i, D, nh, o);
        ref_linear(tensor(m, "%s.attn.out_proj.weight", prefix), NULL, o, p, D, D);
        for (int d = 0; d < D; d++)
            xi[d] += p[d];
        ref_layernorm(xi, tensor(m, "%s.norm2.weight", prefix), tensor(m, "%s.norm2.bias", prefix), a, D);
        ref_linear(tensor(m, "%s.linear1.weight", prefix), tensor(m, "%s.linear1.bias", prefix), a, hid, 4 * D, D);
        for (int j = 0; j < 4 * D; j++)
            hid[j] = fmax(hid[j], 0);
        ref_linear(tensor(m, "%s.linear2.weight", prefix), tensor(m, "%s.linear2.bias", prefix), hid, p, D, 4 * D);
        for (int d = 0; d < D; d++)
            xi[d] += p[d];
    }
    free(a), free(q), free(k), free(v), free(o), free(p), free(hid);
}

/* PostEnc_l (12.C.2) of the rows with on[i] (all when on is NULL): u[i] from
 * keys 0..i (causal) or 0..S-1 (parity); k, v from every row's h. */
static void ref_postenc(hst_model *m, int l, const double *h, int S, int causal, const int *on, double *u)
{
    const int D = m->cfg.d_model;
    const char *p = "lattice_core.layer_processors";
    const float *W = tensor(m, "%s.%d.self_attn.in_proj_weight", p, l), *b = tensor(m, "%s.%d.self_attn.in_proj_bias", p, l);
    double *q = calloc((size_t)S * D, sizeof *q), *k = calloc((size_t)S * D, sizeof *k), *v = calloc((size_t)S * D, sizeof *v);
    double *o = calloc((size_t)D, sizeof *o), *z = calloc((size_t)D, sizeof *z), *hid = calloc(FF, sizeof *hid);
    for (int i = 0; i < S; i++) {
        ref_linear(W, b, h + (size_t)i * D, q + (size_t)i * D, D, D);
        ref_linear(W + (size_t)D * D, b + D, h + (size_t)i * D, k + (size_t)i * D, D, D);
        ref_linear(W + (size_t)2 * D * D, b + 2 * D, h + (size_t)i * D, v + (size_t)i * D, D, D);
    }
    for (int i = 0; i < S; i++) {
        if (on && !on[i])
            continue;
        double *ui = u + (size_t)i * D;
        ref_attend(q, k, v, i, causal ? i : S - 1, D, 8, o);
        ref_linear(tensor(m, "%s.%d.self_attn.out_proj.weight", p, l), tensor(m, "%s.%d.self_attn.out_proj.bias", p, l),
                   o, z, D, D);
        for (int d = 0; d < D; d++)
            z[d] += h[(size_t)i * D + d];
        ref_layernorm(z, tensor(m, "%s.%d.norm1.weight", p, l), tensor(m, "%s.%d.norm1.bias", p, l), z, D);
        ref_linear(tensor(m, "%s.%d.linear1.weight", p, l), tensor(m, "%s.%d.linear1.bias", p, l), z, hid, FF, D);
        for (int j = 0; j < FF; j++)
            hid[j] = fmax(hid[j], 0);
        ref_linear(tensor(m, "%s.%d.linear2.weight", p, l), tensor(m, "%s.%d.linear2.bias", p, l), hid, ui, D, FF);
        for (int d = 0; d < D; d++)
            ui[d] += z[d];
        ref_layernorm(ui, tensor(m, "%s.%d.norm2.weight", p, l), tensor(m, "%s.%d.norm2.bias", p, l), ui, D);
    }
    free(q), free(k), free(v), free(o), free(z), free(hid);
}

/* The router's pre-sigmoid value of processor l without its bias, for a mean. */
static void ref_router_logits(hst_model *m, const double *mean, double *z)
{
    const int D = m->cfg.d_model;
    double hid[ROUTER];
    ref_linear(tensor(m, "lattice_core.task_router.0.weight"), tensor(m, "lattice_core.task_router.0.bias"), mean, hid,
               ROUTER, D);
    for (int j = 0; j < ROUTER; j++)
        hid[j] = fmax(hid[j], 0);
    ref_linear(tensor(m, "lattice_core.task_router.2.weight"), NULL, hid, z, PROCS, ROUTER);
}

typedef struct {
    double bottom[S_MAX * 16], proc[PROCS][S_MAX * 16], hidden[S_MAX * 16];
    double gates[S_MAX][PROCS]; /* causal: per row; parity: row 0 */
    double logits[S_MAX * 48];
} reference;

/* The bottom stack's output rows (4.1, 4.2). */
static void ref_bottom(hst_model *m, const int *ids, int S, double *x)
{
    const int D = m->cfg.d_model, Lb = m->cfg.n_layers / 2;
    const float *E = tensor(m, "token_embedding.weight"), *P = tensor(m, "pos_embedding.weight");
    for (int i = 0; i < S; i++)
        for (int d = 0; d < D; d++)
            x[(size_t)i * D + d] = (double)E[(size_t)ids[i] * D + d] + P[(size_t)i * D + d];
    char prefix[64];
    for (int b = 0; b < Lb; b++) {
        snprintf(prefix, sizeof prefix, "adaptive_bottom.layers.%d", b);
        ref_preblock(m, prefix, x, S);
    }
}

/* Mean of rows 0..t (causal row t; parity's window when t = S - 1). */
static void ref_mean(const double *x, int t, int D, double *mean)
{
    for (int d = 0; d < D; d++) {
        double s = 0;
        for (int i = 0; i <= t; i++)
            s += x[(size_t)i * D + d];
        mean[d] = s / (t + 1);
    }
}

/* The whole forward of 12.C.2 (parity) or 12.C.3 (causal) for ids[0..S). */
static void ref_forward(hst_model *m, const int *ids, int S, hst_mode mode, reference *r)
{
    const int D = m->cfg.d_model, V = m->cfg.vocab_size, Lb = m->cfg.n_layers / 2, Lt = m->cfg.n_layers - Lb;
    const int causal = mode == HST_MODE_CAUSAL;
    const float *b2 = tensor(m, "lattice_core.task_router.2.bias");
    double h[S_MAX * 16], u[S_MAX * 16], mean[16], z[PROCS];
    int on[S_MAX];
    ref_bottom(m, ids, S, r->bottom);
    for (int t = causal ? 0 : S - 1, row = 0; t < S; t++, row++) {
        ref_mean(r->bottom, t, D, mean);
        ref_router_logits(m, mean, z);
        for (int l = 0; l < PROCS; l++)
            r->gates[row][l] = 1 / (1 + exp(-(z[l] + b2[l])));
    }
    memcpy(h, r->bottom, sizeof(double) * S * D);
    for (int l = 0; l < PROCS; l++) {
        for (int i = 0; i < S; i++)
            on[i] = r->gates[causal ? i : 0][l] > 0.1;
        ref_postenc(m, l, h, S, causal, on, u);
        for (int i = 0; i < S; i++)
            if (on[i]) {
                const double g = r->gates[causal ? i : 0][l];
                for (int d = 0; d < D; d++)
                    h[(size_t)i * D + d] += g * (u[(size_t)i * D + d] - h[(size_t)i * D + d]);
            }
        memcpy(r->proc[l], h, sizeof(double) * S * D);
    }
    char prefix[64];
    for (int j = 0; j < Lt; j++) {
        snprintf(prefix, sizeof prefix, "top_stack.%d", j);
        ref_preblock(m, prefix, h, S);
    }
    memcpy(r->hidden, h, sizeof(double) * S * D);
    for (int i = 0; i < S; i++) {
        ref_layernorm(h + (size_t)i * D, tensor(m, "ln_f.weight"), tensor(m, "ln_f.bias"), u, D);
        ref_linear(tensor(m, "lm_head.weight"), NULL, u, r->logits + (size_t)i * V, V, D);
    }
}

/* Router biases after plan[]: ON puts every row's gate at >= 0.5, OFF at
 * <= 0.01, MIXED puts 0.1 in the widest gap of the processor's causal gate
 * logits with a fifth of the rows on each side at least (the tests check
 * that some row whose gate is on comes after a row whose gate is off, so
 * that it sees that row's key, 12.C.3). */
static void set_router(hst_model *m, const int *ids, int S)
{
    const int D = m->cfg.d_model;
    double x[S_MAX * 16], mean[16], z[S_MAX][PROCS], sorted[S_MAX];
    float *b2 = tensor(m, "lattice_core.task_router.2.bias");
    const double logit_01 = log(0.1 / 0.9);
    ref_bottom(m, ids, S, x);
    for (int t = 0; t < S; t++) {
        ref_mean(x, t, D, mean);
        ref_router_logits(m, mean, z[t]);
    }
    for (int l = 0; l < PROCS; l++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int t = 0; t < S; t++)
            lo = fmin(lo, z[t][l]), hi = fmax(hi, z[t][l]);
        if (plan[l] == GATE_ON)
            b2[l] = (float)(-lo);        /* σ(z - lo) >= 0.5 */
        else if (plan[l] == GATE_OFF)
            b2[l] = (float)(-hi - 4.6);  /* σ <= 0.01 */
        else {
            int n = 0;
            for (int t = 0; t < S; t++)
                sorted[n++] = z[t][l];
            for (int a = 0; a < n; a++) /* insertion sort: n < 80 */
                for (int b = a; b > 0 && sorted[b] < sorted[b - 1]; b--) {
                    double tmp = sorted[b];
                    sorted[b] = sorted[b - 1], sorted[b - 1] = tmp;
                }
            double best = -1, threshold = 0;
            for (int k = S / 5; k + 1 < n && n - (k + 1) >= S / 5; k++)
                if (sorted[k + 1] - sorted[k] > best)
                    best = sorted[k + 1] - sorted[k], threshold = (sorted[k] + sorted[k + 1]) / 2;
            if (best <= 0)
                fail_msg("processor %d: no gap for a mixed gate", l);
            b2[l] = (float)(logit_01 - threshold);
        }
    }
    rebuild(m);
}

/* ---- the engine's side ----------------------------------------------------------------------- */

/* Captures named stages; rows of successive calls are appended (causal). */
typedef struct {
    const char *names[16];
    int widths[16], n_names;
    float *rows[16];
    int n_rows[16], calls[16];
} recorder;

static void record(void *user, const char *stage, const float *rows, int n_rows, int ld)
{
    recorder *r = user;
    for (int i = 0; i < r->n_names; i++)
        if (strcmp(r->names[i], stage) == 0) {
            for (int k = 0; k < n_rows && r->n_rows[i] < S_MAX * 8; k++, r->n_rows[i]++)
                memcpy(r->rows[i] + (size_t)r->n_rows[i] * r->widths[i], rows + (size_t)k * ld,
                       (size_t)r->widths[i] * sizeof(float));
            r->calls[i]++;
        }
}

static void recorder_want(recorder *r, const char *name, int width)
{
    r->names[r->n_names] = name;
    r->widths[r->n_names] = width;
    r->rows[r->n_names] = calloc((size_t)S_MAX * 8 * width, sizeof(float));
    r->n_names++;
}

static const float *recorded(const recorder *r, const char *name)
{
    for (int i = 0; i < r->n_names; i++)
        if (strcmp(r->names[i], name) == 0)
            return r->rows[i];
    fail_msg("no stage %s recorded", name);
    return NULL;
}

static void recorder_free(recorder *r)
{
    for (int i = 0; i < r->n_names; i++)
        free(r->rows[i]);
}

typedef struct {
    hst_pool *pool;
    hst_session *s;
} runner;

static runner open_runner(const hst_model *m, int threads, hst_mode mode)
{
    hst_error err = {{0}};
    runner r = {hst_pool_create(threads, NULL, NULL, &err), NULL};
    hst_pool_set_adaptive(r.pool, 0); /* every job on the whole team: the test compares thread counts */
    if (!r.pool || !(r.s = hst_session_create(m, r.pool, &err)) || hst_session_set_mode(r.s, mode, &err) != 0)
        fail_msg("%s", err.msg);
    return r;
}

static void close_runner(runner *r)
{
    hst_session_free(r->s);
    hst_pool_free(r->pool);
}

/* ids[0..S) in calls of chunks[] tokens (cycled), logits of every row. */
static void run_split(const hst_model *m, int threads, hst_mode mode, const int *ids, int S, const int *chunks,
                      int n_chunks, float *logits, recorder *rec)
{
    runner r = open_runner(m, threads, mode);
    hst_error err = {{0}};
    if (rec)
        hst_session_set_stage_hook(r.s, record, rec);
    const int V = m->cfg.vocab_size;
    for (int t = 0, k = 0; t < S; k++) {
        int n = chunks[k % n_chunks] < S - t ? chunks[k % n_chunks] : S - t;
        if (hst_forward(r.s, ids + t, n, logits + (size_t)t * V, 1, &err) != 0)
            fail_msg("%s", err.msg);
        t += n;
    }
    close_runner(&r);
}

static void run_prefill(const hst_model *m, int threads, hst_mode mode, const int *ids, int S, float *logits,
                        recorder *rec)
{
    const int all[] = {S};
    run_split(m, threads, mode, ids, S, all, 1, logits, rec);
}

static void check_close(const float *got, const double *want, size_t n, double tol, const char *what)
{
    double scale = 0, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (isnan(d) || d > worst)
            worst = isnan(d) ? INFINITY : d, at = i;
    }
    if (!(worst <= tol))
        fail_msg("%s: |engine - reference| = %.3g > %.3g at %zu (engine %.7g, reference %.7g, largest %.3g)", what,
                 worst, tol, at, (double)got[at], want[at], scale);
}

/* Bit-for-bit equality of float arrays (12.0's split invariance). */
static int same_bits(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x, y;
        memcpy(&x, &a[i], sizeof x);
        memcpy(&y, &b[i], sizeof y);
        if (x != y)
            return 0;
    }
    return 1;
}

static double largest(const double *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

/* ---- model and prompt shared by the tests ---------------------------------------------- */

static hst_model *model;
static int ids[S_MAX];

static int setup(void **state)
{
    (void)state;
    hst_error err = {{0}};
    model = hst_model_random(&tiny_cfg, 5, &err);
    if (!model)
        return -1;
    perturb_norms_and_biases(model);
    prompt_ids(ids, S_MAX, tiny_cfg.vocab_size);
    /* The runtime packs the weights: rebuild it after the edit. */
    if (hst_model_set_precision(model, HST_PRECISION_BF16, &err) != 0 ||
        hst_model_set_precision(model, HST_PRECISION_F32, &err) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hst_model_free(model);
    return 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

/* Logits and stages against the reference, and the reference's gates away from 0.1. */
static void check_against_reference(hst_mode mode, int S, reference *ref, recorder *rec)
{
    const int D = tiny_cfg.d_model, V = tiny_cfg.vocab_size;
    float *logits = calloc((size_t)S * V, sizeof *logits);
    ref_forward(model, ids, S, mode, ref);
    const int gate_rows = mode == HST_MODE_CAUSAL ? S : 1;
    for (int t = 0; t < gate_rows; t++)
        for (int l = 0; l < PROCS; l++)
            if (fabs(ref->gates[t][l] - 0.1) < GATE_MARGIN)
                fail_msg("setup: row %d processor %d has gate %.6f, too near 0.1", t, l, ref->gates[t][l]);
    static const char *proc_names[PROCS] = {"proc.0", "proc.1", "proc.2", "proc.3", "proc.4",
                                            "proc.5", "proc.6", "proc.7", "proc.8", "proc.9"};
    recorder_want(rec, "bottom", D);
    recorder_want(rec, "hidden", D);
    recorder_want(rec, "gates", PROCS);
    for (int l = 0; l < PROCS; l++)
        recorder_want(rec, proc_names[l], D);
    run_prefill(model, 1, mode, ids, S, logits, rec);
    char what[96];
    snprintf(what, sizeof what, "%s S=%d logits", hst_mode_name(mode), S);
    check_close(logits, ref->logits, (size_t)S * V, LOGIT_TOL, what);
    check_close(recorded(rec, "bottom"), ref->bottom, (size_t)S * D, STAGE_TOL * largest(ref->bottom, (size_t)S * D),
                "bottom");
    for (int l = 0; l < PROCS; l++) {
        snprintf(what, sizeof what, "%s S=%d stage proc.%d", hst_mode_name(mode), S, l);
        check_close(recorded(rec, proc_names[l]), ref->proc[l], (size_t)S * D,
                    STAGE_TOL * largest(ref->proc[l], (size_t)S * D), what);
    }
    const float *gates = recorded(rec, "gates");
    for (int t = 0; t < gate_rows; t++)
        for (int l = 0; l < PROCS; l++)
            if (fabs(gates[t * PROCS + l] - ref->gates[t][l]) > 1e-5)
                fail_msg("row %d gate %d: engine %.7f, reference %.7f", t, l, (double)gates[t * PROCS + l],
                         ref->gates[t][l]);
    free(logits);
}

/* 12.C.3: per-row gates switch processors on and off inside one call; the k,
 * v of a row whose gate is off are keys of the later rows whose gate is on. */
static void test_causal_prefill_matches_reference_with_mixed_gates(void **state)
{
    (void)state;
    set_router(model, ids, S_MAX);
    reference *ref = calloc(1, sizeof *ref);
    recorder rec = {0};
    check_against_reference(HST_MODE_CAUSAL, S_MAX, ref, &rec);
    int off_then_on = 0;
    for (int l = 0; l < PROCS; l++)
        for (int i = 0; i < S_MAX; i++)
            for (int j = i + 1; j < S_MAX && ref->gates[i][l] < 0.1; j++)
                off_then_on += ref->gates[j][l] > 0.1;
    if (!off_then_on)
        fail_msg("setup: no row with its gate on after a row with the gate off");
    recorder_free(&rec);
    free(ref);
}

/* 12.C.2: one mean over the whole window, one gate per processor,
 * bidirectional processors; S = 1 equals causal (12.C.2 edge cases). */
static void test_parity_prefill_matches_reference(void **state)
{
    (void)state;
    set_router(model, ids, S_MAX);
    static const int lengths[] = {1, 7, 40, S_MAX};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        reference *ref = calloc(1, sizeof *ref);
        recorder rec = {0};
        check_against_reference(HST_MODE_PARITY, lengths[k], ref, &rec);
        recorder_free(&rec);
        free(ref);
    }
    const int V = tiny_cfg.vocab_size;
    float parity[48], causal[48];
    run_prefill(model, 2, HST_MODE_PARITY, ids, 1, parity, NULL);
    run_prefill(model, 2, HST_MODE_CAUSAL, ids, 1, causal, NULL);
    assert_memory_equal(parity, causal, sizeof(float) * V);
}

/* The float whose hst_sigmoid is exactly 0.1f (searched near logit(0.1)). */
static float bias_of_gate_exactly_0_1(void)
{
    float up = -2.1972246f, down = up;
    for (int k = 0; k < 4000; k++) {
        if (hst_sigmoid(up) == 0.1f)
            return up;
        if (hst_sigmoid(down) == 0.1f)
            return down;
        up = nextafterf(up, 0.0f);
        down = nextafterf(down, -10.0f);
    }
    fail_msg("no float b with hst_sigmoid(b) == 0.1f near -2.1972246");
    return 0;
}

/* 12.C.2: g > 0.1 strict in float32 (0x3DCCCCCD): a gate of exactly 0.1f
 * leaves h unchanged; the next float up runs the processor. */
static void test_gate_of_exactly_0_1f_is_off_and_the_next_float_is_on(void **state)
{
    (void)state;
    const int D = tiny_cfg.d_model, S = 9, l = 4;
    const float exact = bias_of_gate_exactly_0_1();
    float *W2 = tensor(model, "lattice_core.task_router.2.weight"), *b2 = tensor(model, "lattice_core.task_router.2.bias");
    float saved_row[ROUTER];
    memcpy(saved_row, W2 + (size_t)l * ROUTER, sizeof saved_row);
    memset(W2 + (size_t)l * ROUTER, 0, sizeof saved_row); /* the gate is σ(bias) for every row */
    const float biases[2] = {exact, nextafterf(exact, 1.0f)};
    for (int mode = 0; mode < HST_MODE_COUNT; mode++)
        for (int k = 0; k < 2; k++) {
            b2[l] = biases[k];
            rebuild(model);
            recorder rec = {0};
            recorder_want(&rec, "gates", PROCS);
            recorder_want(&rec, "proc.3", D);
            recorder_want(&rec, "proc.4", D);
            static float logits[S_MAX * 48];
            run_prefill(model, 1, (hst_mode)mode, ids, S, logits, &rec);
            const float g = recorded(&rec, "gates")[l];
            uint32_t bits;
            memcpy(&bits, &g, sizeof bits);
            if (k == 0 && bits != 0x3DCCCCCDu)
                fail_msg("the gate is %.9g (0x%08X), not 0.1f", (double)g, bits);
            if (k == 1 && !(g > 0.1f))
                fail_msg("the gate is %.9g, not above 0.1f", (double)g);
            const int same = same_bits(recorded(&rec, "proc.3"), recorded(&rec, "proc.4"), (size_t)S * D);
            if (k == 0 && !same)
                fail_msg("%s: processor %d ran with a gate of exactly 0.1f", hst_mode_name((hst_mode)mode), l);
            if (k == 1 && same)
                fail_msg("%s: processor %d did not run with a gate of %.9g > 0.1f", hst_mode_name((hst_mode)mode), l,
                         (double)g);
            recorder_free(&rec);
        }
    memcpy(W2 + (size_t)l * ROUTER, saved_row, sizeof saved_row);
    set_router(model, ids, S_MAX);
}

/* 12.C.3: s_t = s_{t−1} + x_t in float32 in position order, m_t = s_t/(t+1) in
 * float32: bit for bit from the bottom rows, whatever the split; parity's
 * one mean is the last row's. */
static void test_running_mean_is_a_float32_position_order_sum_in_every_split(void **state)
{
    (void)state;
    const int D = tiny_cfg.d_model, V = tiny_cfg.vocab_size, S = S_MAX;
    static const int splits[][4] = {{S_MAX, 0, 0, 0}, {1, 0, 0, 0}, {5, 60, 2, 1}, {3, 64, 5, 0}};
    static const int n_chunks[] = {1, 1, 4, 3};
    float *logits = calloc((size_t)S * V, sizeof *logits), *first_mean = NULL;
    for (size_t k = 0; k < sizeof n_chunks / sizeof n_chunks[0]; k++) {
        recorder rec = {0};
        recorder_want(&rec, "bottom", D);
        recorder_want(&rec, "mean", D);
        run_split(model, 1 + (int)k % 3, HST_MODE_CAUSAL, ids, S, splits[k], n_chunks[k], logits, &rec);
        const float *x = recorded(&rec, "bottom"), *mean = recorded(&rec, "mean");
        float s[16] = {0}, want[16] = {0};
        for (int t = 0; t < S; t++) {
            for (int d = 0; d < D; d++) {
                s[d] += x[(size_t)t * D + d];
                want[d] = s[d] / (float)(t + 1);
            }
            if (!same_bits(want, mean + (size_t)t * D, (size_t)D))
                fail_msg("split %zu: the mean of row %d is not the float32 running sum / (t + 1)", k, t);
        }
        if (!first_mean) {
            first_mean = malloc(sizeof(float) * S * D);
            memcpy(first_mean, mean, sizeof(float) * S * D);
        }
        recorder_free(&rec);
    }
    recorder rec = {0};
    recorder_want(&rec, "mean", D);
    run_prefill(model, 2, HST_MODE_PARITY, ids, 37, logits, &rec);
    assert_memory_equal(recorded(&rec, "mean"), first_mean + (size_t)36 * D, sizeof(float) * D);
    recorder_free(&rec);
    free(first_mean);
    free(logits);
}

/* 12.C.2: h + g·(u − h), in that order, bit for bit: u from the same layer
 * (engine/encoder.h) over the same rows; (1 − g)·h + g·u must differ
 * somewhere, or the test could not tell the two apart. */
static void check_mix(hst_mode mode)
{
    const int D = tiny_cfg.d_model, S = S_MAX, l = 3;
    recorder rec = {0};
    recorder_want(&rec, "proc.2", D);
    recorder_want(&rec, "proc.3", D);
    recorder_want(&rec, "gates", PROCS);
    float *logits = calloc((size_t)S * tiny_cfg.vocab_size, sizeof *logits);
    run_prefill(model, 1, mode, ids, S, logits, &rec);
    const float *h = recorded(&rec, "proc.2"), *mixed = recorded(&rec, "proc.3"), *gates = recorded(&rec, "gates");
    hst_error err = {{0}};
    const char *p = "lattice_core.layer_processors";
    hst_encoder_weights w = {
        tensor(model, "%s.%d.self_attn.in_proj_weight", p, l), tensor(model, "%s.%d.self_attn.in_proj_bias", p, l),
        tensor(model, "%s.%d.self_attn.out_proj.weight", p, l), tensor(model, "%s.%d.self_attn.out_proj.bias", p, l),
        tensor(model, "%s.%d.linear1.weight", p, l),          tensor(model, "%s.%d.linear1.bias", p, l),
        tensor(model, "%s.%d.linear2.weight", p, l),          tensor(model, "%s.%d.linear2.bias", p, l),
        tensor(model, "%s.%d.norm1.weight", p, l),            tensor(model, "%s.%d.norm1.bias", p, l),
        tensor(model, "%s.%d.norm2.weight", p, l),            tensor(model, "%s.%d.norm2.bias", p, l)};
    const hst_encoder_config ec = {D, 8, FF, HST_ENCODER_POST_NORM, HST_PRECISION_F32};
    hst_encoder *e = hst_encoder_create(&w, &ec, &err);
    hst_encoder_workspace *ws = hst_encoder_workspace_create(D, FF, S, &err);
    hst_encoder_cache cache;
    assert_non_null(e);
    assert_non_null(ws);
    assert_int_equal(hst_encoder_cache_init(&cache, e, S, &err), 0);
    float *u = calloc((size_t)S * D, sizeof *u);
    const hst_encoder_rows rows = {h, D, u, D, S, NULL, 0, mode == HST_MODE_PARITY ? HST_ATTN_FULL : HST_ATTN_CAUSAL, S};
    assert_true(hst_encoder_forward(e, ws, NULL, &cache, &rows, &err) > 0);
    int on_rows = 0, off_rows = 0, forms_differ = 0;
    for (int i = 0; i < S; i++) {
        const float g = gates[(mode == HST_MODE_PARITY ? 0 : i) * PROCS + l];
        const float *hi = h + (size_t)i * D, *ui = u + (size_t)i * D, *got = mixed + (size_t)i * D;
        for (int d = 0; d < D; d++) {
            const float diff = ui[d] - hi[d], step = g * diff, want = g > 0.1f ? hi[d] + step : hi[d];
            const float other_form = (1.0f - g) * hi[d] + g * ui[d];
            if (!same_bits(&want, &got[d], 1))
                fail_msg("%s row %d col %d: h %.9g, u %.9g, g %.9g: engine %.9g, want h + g(u - h) = %.9g",
                         hst_mode_name(mode), i, d, (double)hi[d], (double)ui[d], (double)g, (double)got[d],
                         (double)want);
            forms_differ += g > 0.1f && other_form != want;
        }
        on_rows += g > 0.1f;
        off_rows += !(g > 0.1f);
    }
    if (mode == HST_MODE_CAUSAL && (!on_rows || !off_rows))
        fail_msg("setup: processor %d has %d rows on and %d off; want both", l, on_rows, off_rows);
    if (!forms_differ)
        fail_msg("(1 - g)h + gu equals h + g(u - h) everywhere: the test cannot tell them apart");
    hst_encoder_cache_free(&cache);
    hst_encoder_workspace_free(ws);
    hst_encoder_free(e);
    free(u);
    free(logits);
    recorder_free(&rec);
}

static void test_mix_is_h_plus_g_times_u_minus_h_in_both_modes(void **state)
{
    (void)state;
    set_router(model, ids, S_MAX);
    /* Parity: put processor 3 on for the whole window. */
    check_mix(HST_MODE_CAUSAL);
    float *b2 = tensor(model, "lattice_core.task_router.2.bias");
    const float saved = b2[3];
    b2[3] = 5.0f;
    rebuild(model);
    check_mix(HST_MODE_PARITY);
    b2[3] = saved;
    rebuild(model);
}

/* 12.0: every row bitwise independent of the split into calls and of the
 * thread count, so the gates cannot flip: causal prefill, chunked prefill
 * straddling the 64-row block, and one token per call, at 1, 2 and 3 threads. */
static void test_causal_rows_are_bitwise_the_same_for_every_split_and_thread_count(void **state)
{
    (void)state;
    set_router(model, ids, S_MAX);
    const int V = tiny_cfg.vocab_size, S = S_MAX;
    static const int one[] = {1}, straddle[] = {3, 61, 6, 2}, blocks[] = {64, 1, 7};
    float *want = calloc((size_t)S * V, sizeof *want), *got = calloc((size_t)S * V, sizeof *got);
    run_prefill(model, 1, HST_MODE_CAUSAL, ids, S, want, NULL);
    for (int threads = 1; threads <= 3; threads++) {
        run_prefill(model, threads, HST_MODE_CAUSAL, ids, S, got, NULL);
        assert_memory_equal(want, got, sizeof(float) * S * V);
        run_split(model, threads, HST_MODE_CAUSAL, ids, S, one, 1, got, NULL);
        assert_memory_equal(want, got, sizeof(float) * S * V);
        run_split(model, threads, HST_MODE_CAUSAL, ids, S, straddle, 4, got, NULL);
        assert_memory_equal(want, got, sizeof(float) * S * V);
        run_split(model, threads, HST_MODE_CAUSAL, ids, S, blocks, 3, got, NULL);
        assert_memory_equal(want, got, sizeof(float) * S * V);
    }
    free(want);
    free(got);
}

/* 12.C.2 / 12.0: a parity call of rows t0..t1 recomputes the window 0..t1 and
 * returns its rows; decode(t) = parity_prefill(0..t)[t], here bit for bit (the
 * kept bottom rows are the ones a full recomputation would make), at 1, 2 and
 * 3 threads. */
static void test_parity_calls_return_the_rows_of_the_recomputed_window(void **state)
{
    (void)state;
    set_router(model, ids, S_MAX);
    const int V = tiny_cfg.vocab_size;
    float *window = calloc((size_t)S_MAX * V, sizeof *window), *rows = calloc((size_t)S_MAX * V, sizeof *rows);
    static const int chunks[] = {30, 1, 1, 9, 1, 24, 6};
    for (int threads = 1; threads <= 3; threads++) {
        run_split(model, threads, HST_MODE_PARITY, ids, S_MAX, chunks, 7, rows, NULL);
        for (int t1 = 0, k = 0; t1 < S_MAX && k < 7; k++) {
            int t0 = t1;
            t1 += chunks[k];
            run_prefill(model, 1, HST_MODE_PARITY, ids, t1, window, NULL);
            if (!same_bits(window + (size_t)t0 * V, rows + (size_t)t0 * V, (size_t)(t1 - t0) * V))
                fail_msg("%d threads: the parity call of rows %d..%d differs from the window 0..%d's rows", threads,
                         t0, t1 - 1, t1 - 1);
        }
    }
    free(window);
    free(rows);
}

/* 12.C.7 sections; 12.C.6 FLOPs: causal prefill and parity prefill with every
 * gate on equal F_c(S)·S and F_p(S)·S; a processor whose gate is off costs
 * its k, v (4D² per row) in causal mode and nothing in parity; parity decode
 * with the bottom-stack shortcut costs F_pd(t) − Lb·(24D²·t + 2D·t(t+1)). */
static double call_flops(hst_session *s, double *per_section)
{
    double total = 0;
    hst_session_last_section_flops(s, per_section);
    for (int i = 0; i < hst_session_section_count(s); i++)
        total += per_section[i];
    return total;
}

static void test_sections_and_flops_follow_12_c_6(void **state)
{
    (void)state;
    const int D = tiny_cfg.d_model, S = 40, Lb = tiny_cfg.n_layers / 2;
    float *b2 = tensor(model, "lattice_core.task_router.2.bias"), saved[PROCS];
    memcpy(saved, b2, sizeof saved);
    for (int l = 0; l < PROCS; l++)
        b2[l] = 30.0f; /* every gate on */
    rebuild(model);
    hst_error err = {{0}};
    double per[64];
    runner r = open_runner(model, 2, HST_MODE_CAUSAL);
    static const char *names[] = {"embed",  "bottom.0", "bottom.1", "router", "proc.0", "proc.1", "proc.2",
                                  "proc.3", "proc.4",   "proc.5",   "proc.6", "proc.7", "proc.8", "proc.9",
                                  "top.0",  "top.1",    "head"};
    assert_int_equal(hst_session_section_count(r.s), 17);
    for (int i = 0; i < 17; i++)
        assert_string_equal(hst_session_section_name(r.s, i), names[i]);
    float *logits = calloc((size_t)S * tiny_cfg.vocab_size, sizeof *logits);
    assert_int_equal(hst_forward(r.s, ids, S, logits, 1, &err), 0);
    assert_float_equal(call_flops(r.s, per), hst_flops_prefill_per_token(&tiny_cfg, HST_MODE_CAUSAL, S) * S, 1);
    assert_int_equal(hst_forward(r.s, ids + S, 1, logits, 0, &err), 0);
    assert_float_equal(call_flops(r.s, per), hst_flops_decode(&tiny_cfg, HST_MODE_CAUSAL, S), 1);
    close_runner(&r);
    r = open_runner(model, 2, HST_MODE_PARITY);
    assert_int_equal(hst_forward(r.s, ids, S, logits, 1, &err), 0);
    assert_float_equal(call_flops(r.s, per), hst_flops_prefill_per_token(&tiny_cfg, HST_MODE_PARITY, S) * S, 1);
    assert_int_equal(hst_forward(r.s, ids + S, 1, logits, 0, &err), 0);
    const double t = S, shortcut = Lb * (24.0 * D * D * t + 2.0 * D * t * (t + 1));
    assert_float_equal(call_flops(r.s, per), hst_flops_decode(&tiny_cfg, HST_MODE_PARITY, S) - shortcut, 1);
    close_runner(&r);
    b2[5] = -30.0f; /* processor 5 off */
    rebuild(model);
    for (int mode = 0; mode < HST_MODE_COUNT; mode++) {
        r = open_runner(model, 1, (hst_mode)mode);
        assert_int_equal(hst_forward(r.s, ids, S, logits, 1, &err), 0);
        call_flops(r.s, per);
        assert_float_equal(per[4 + 5], mode == HST_MODE_CAUSAL ? 4.0 * D * D * S : 0.0, 0);
        assert_true(per[4 + 4] > 4.0 * D * D * S); /* processor 4 ran */
        close_runner(&r);
    }
    memcpy(b2, saved, sizeof saved);
    rebuild(model);
    free(logits);
}

/* 12.C.3: the decode state is the blocks' and processors' K, V (2·(L + 10)·Lmax·D
 * floats) and s; the engine also keeps the bottom rows for parity's shortcut. */
static void test_decode_state_bytes_of_hst_v7_0(void **state)
{
    (void)state;
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v7.0", &c), 0);
    const uint64_t kv = 2ull * (8 + 10) * 512 * 128 * 4;
    assert_int_equal(kv, 9437184); /* 9 MiB, 12.C.3 */
    assert_int_equal(hst_decode_state_bytes(&c), kv + 128 * 4 + 512 * 128 * 4);
}

/* 12.C.9: hst-chaos is hst-v7.0 under another name: the same seed gives the
 * same weights and the same computation, in both modes. */
static void test_hst_chaos_computes_what_hst_v7_0_computes(void **state)
{
    (void)state;
    hst_error err = {{0}};
    hst_model *v70 = hst_model_open("hst-v7.0", 3, &err), *chaos = hst_model_open("hst-chaos", 3, &err);
    assert_non_null(v70);
    assert_non_null(chaos);
    assert_string_equal(hst_model_preset(chaos), "hst-chaos");
    const int V = hst_model_config(v70)->vocab_size, S = 6;
    int p[6];
    prompt_ids(p, S, V);
    float *a = calloc((size_t)S * V, sizeof *a), *b = calloc((size_t)S * V, sizeof *b);
    for (int mode = 0; mode < HST_MODE_COUNT; mode++) {
        run_prefill(v70, 2, (hst_mode)mode, p, S, a, NULL);
        run_prefill(chaos, 2, (hst_mode)mode, p, S, b, NULL);
        assert_memory_equal(a, b, sizeof(float) * S * V);
        assert_float_equal(hst_flops_prefill_per_token(hst_model_config(v70), (hst_mode)mode, 128),
                           hst_flops_prefill_per_token(hst_model_config(chaos), (hst_mode)mode, 128), 0);
    }
    free(a);
    free(b);
    hst_model_free(v70);
    hst_model_free(chaos);
}

/* hst_session_set_mode rebuilds the state from the history in the new mode:
 * after a switch, the next token's row is the new mode's. */
static void test_mode_switch_continues_in_the_new_mode(void **state)
{
    (void)state;
    set_router(model, ids, S_MAX);
    const int V = tiny_cfg.vocab_size, S = 20;
    float *want = calloc((size_t)(S + 1) * V, sizeof *want), got[48];
    hst_error err = {{0}};
    for (int mode = 0; mode < HST_MODE_COUNT; mode++) {
        const hst_mode to = (hst_mode)mode, from = to == HST_MODE_CAUSAL ? HST_MODE_PARITY : HST_MODE_CAUSAL;
        run_prefill(model, 1, to, ids, S + 1, want, NULL);
        runner r = open_runner(model, 1, from);
        assert_int_equal(hst_forward(r.s, ids, S, NULL, 0, &err), 0);
        assert_int_equal(hst_session_set_mode(r.s, to, &err), 0);
        assert_int_equal(hst_forward(r.s, ids + S, 1, got, 0, &err), 0);
        assert_memory_equal(got, want + (size_t)S * V, sizeof(float) * V);
        close_runner(&r);
    }
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_causal_prefill_matches_reference_with_mixed_gates),
        cmocka_unit_test(test_parity_prefill_matches_reference),
        cmocka_unit_test(test_gate_of_exactly_0_1f_is_off_and_the_next_float_is_on),
        cmocka_unit_test(test_running_mean_is_a_float32_position_order_sum_in_every_split),
        cmocka_unit_test(test_mix_is_h_plus_g_times_u_minus_h_in_both_modes),
        cmocka_unit_test(test_causal_rows_are_bitwise_the_same_for_every_split_and_thread_count),
        cmocka_unit_test(test_parity_calls_return_the_rows_of_the_recomputed_window),
        cmocka_unit_test(test_sections_and_flops_follow_12_c_6),
        cmocka_unit_test(test_decode_state_bytes_of_hst_v7_0),
        cmocka_unit_test(test_hst_chaos_computes_what_hst_v7_0_computes),
        cmocka_unit_test(test_mode_switch_continues_in_the_new_mode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
