/* test_core_e.c — Core E, v8 Crystalline (spec 12.E), op by op against naive
 * double-precision references written out below from the text: every stage
 * the forward hands to the stage hook is recomputed from the stage before it
 * (the engine's own f32 rows as input, so errors do not add up) and compared
 * within a small fraction of the stage's largest magnitude, in both modes:
 * the embedding rescale, the Hebbian prefix sum, the shared multi-resolution
 * layer P with its pooling, interpolation and hold, the top-2 MoE, the
 * attention layers (self-attention, cross-attention over the layer input,
 * diamond mixer), the feedback GRU cell twice and the tied head. Then the
 * properties of 12.0 and 12.E.3: split invariance, decode = prefill,
 * thread-count independence, causality, the section figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "tests/harness.h"
#include "tests/st_edit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stage rows against the naive references: a fraction of the stage's largest
 * magnitude (f32 against double over sums of at most 4D = 256 products). */
#define STAGE_TOLERANCE 2e-5

/* A small v8: D 64 (8 heads of 8 in P, 4 of 16 in the layers), Lmax 160 (spine
 * positions 4, 10, 24, 58, 140 processed). */
static const hst_config small_v8 = {HST_ARCH_V8, 300, 64, 4, 2, 160, 4};

/* ---- models --------------------------------------------------------------------- */

typedef void (*file_edit)(st_file *f, const hst_config *cfg);

/* The seeded random model, saved, edited and loaded again (the edits of a test:
 * embedding rows of chosen norms, a router with ties). */
static hst_model *edited_model(const hst_config *cfg, uint64_t seed, file_edit edit)
{
    char dir[128], path[192];
    assert_int_equal(harness_make_tmpdir(dir, sizeof dir, "core-e"), 0);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    assert_int_equal(st_save_random(cfg, seed, path), 0);
    st_file f;
    st_read(path, &f);
    edit(&f, cfg);
    st_write(path, &f);
    st_free(&f);
    hst_model *m = st_load_or_die(path);
    harness_remove_tmpdir(dir);
    return m;
}

static void scale_rows(unsigned char *bytes, int D, int row, float factor)
{
    float *r = (float *)(void *)(bytes + (size_t)row * D * sizeof(float));
    for (int d = 0; d < D; d++) {
        float v;
        memcpy(&v, &r[d], sizeof v);
        v *= factor;
        memcpy(&r[d], &v, sizeof v);
    }
}

/* Row 0 zero; rows 5k+1 forty times longer (norm ~3: the clamp branch); the rest
 * N(0, 0.01²) as drawn (norm ~0.08: scaled up to 0.999). The tied copy too. */
static void edit_embedding_norms(st_file *f, const hst_config *cfg)
{
    const char *names[] = {"token_embedding.embed.weight", "lm_head.weight"};
    for (int k = 0; k < 2; k++) {
        unsigned char *t = st_tensor_bytes(f, names[k]);
        scale_rows(t, cfg->d_model, 0, 0.0f);
        for (int r = 1; r < cfg->vocab_size; r += 5)
            scale_rows(t, cfg->d_model, r, 40.0f);
    }
}

static void set_floats(st_file *f, const char *name, size_t at, const float *values, size_t n)
{
    memcpy(st_tensor_bytes(f, name) + at * sizeof(float), values, n * sizeof(float));
}

/* A router with no weights and biases 2 (expert 1), 1 (experts 3 and 6, an exact
 * tie for the second place), 0 elsewhere: every row must take experts 1 and 3. */
static void edit_router_tie(st_file *f, const hst_config *cfg)
{
    const size_t D = (size_t)cfg->d_model;
    float *zeros = calloc(8 * D, sizeof *zeros);
    assert_non_null(zeros);
    set_floats(f, "sparse_router.router.weight", 0, zeros, 8 * D);
    const float bias[8] = {0, 2, 0, 1, 0, 0, 1, 0};
    set_floats(f, "sparse_router.router.bias", 0, bias, 8);
    free(zeros);
    edit_embedding_norms(f, cfg);
}

static const float *tensor(const hst_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const float *tensor(const hst_model *m, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const float *t = hst_model_tensor_data(m, name, NULL);
    if (!t)
        fail_msg("no tensor %s", name);
    return t;
}

/* ---- running the engine with the stage hook -------------------------------------- */

#define MAX_STAGES 40

typedef struct {
    char name[HST_SECTION_NAME_BYTES];
    float *rows;
    int n;
} stage_rows;

typedef struct {
    int D;
    int count;
    stage_rows s[MAX_STAGES];
} stage_log;

static void log_stage(void *user, const char *stage, const float *rows, int n_rows, int ld)
{
    stage_log *log = user;
    assert_true(log->count < MAX_STAGES);
    stage_rows *s = &log->s[log->count++];
    snprintf(s->name, sizeof s->name, "%s", stage);
    s->n = n_rows;
    s->rows = malloc((size_t)n_rows * log->D * sizeof(float));
    assert_non_null(s->rows);
    for (int r = 0; r < n_rows; r++)
        memcpy(s->rows + (size_t)r * log->D, rows + (size_t)r * ld, (size_t)log->D * sizeof(float));
}

static const float *stage(const stage_log *log, const char *name, int n)
{
    for (int i = 0; i < log->count; i++)
        if (strcmp(log->s[i].name, name) == 0) {
            assert_int_equal(log->s[i].n, n);
            return log->s[i].rows;
        }
    fail_msg("no stage %s", name);
    return NULL;
}

static void stage_log_free(stage_log *log)
{
    for (int i = 0; i < log->count; i++)
        free(log->s[i].rows);
    log->count = 0;
}

static hst_pool *pool_of(int threads)
{
    hst_error err = {{0}};
    hst_pool *p = hst_pool_create(threads, NULL, NULL, &err);
    hst_pool_set_adaptive(p, 0); /* every job on the whole team: the test compares thread counts */
    if (!p)
        fail_msg("%s", err.msg);
    return p;
}

/* The kernel of the sessions a test creates (a session property, hst.h). */
static hst_kernel session_kernel = HST_KERNEL_AUTO;

static hst_session *session_of(const hst_model *m, hst_pool *pool, hst_mode mode)
{
    hst_error err = {{0}};
    hst_session *s = hst_session_create(m, pool, &err);
    if (!s || hst_session_set_mode(s, mode, &err) != 0)
        fail_msg("%s", err.msg);
    if (hst_session_set_kernel(s, session_kernel) < 0)
        fail_msg("kernel %s cannot run here", hst_kernel_name(session_kernel));
    return s;
}

/* Selects the kernel of the sessions to come; 0 when this CPU cannot run it. */
static int use_kernel(hst_kernel k)
{
    if (hst_kernel_resolve(k) < 0)
        return 0;
    session_kernel = k;
    return 1;
}

/* One prefill of ids[0..S) from position 0 in mode: logits of every row [S][V],
 * and the stages when log is not NULL. */
static float *prefill(const hst_model *m, hst_mode mode, int threads, const int *ids, int S, stage_log *log)
{
    const int V = hst_model_config(m)->vocab_size;
    hst_pool *pool = pool_of(threads);
    hst_session *s = session_of(m, pool, mode);
    float *logits = malloc((size_t)S * V * sizeof *logits);
    assert_non_null(logits);
    if (log) {
        log->D = hst_model_config(m)->d_model;
        hst_session_set_stage_hook(s, log_stage, log);
    }
    hst_error err = {{0}};
    if (hst_forward(s, ids, S, logits, 1, &err) != 0)
        fail_msg("%s", err.msg);
    hst_session_free(s);
    hst_pool_free(pool);
    return logits;
}

/* The same tokens split into calls of the given sizes (cycled): logits of every row. */
static float *split_run(const hst_model *m, hst_mode mode, int threads, const int *ids, int S, const int *sizes,
                        int n_sizes)
{
    const int V = hst_model_config(m)->vocab_size;
    hst_pool *pool = pool_of(threads);
    hst_session *s = session_of(m, pool, mode);
    float *logits = malloc((size_t)S * V * sizeof *logits);
    assert_non_null(logits);
    hst_error err = {{0}};
    for (int at = 0, k = 0; at < S; k++) {
        int n = sizes[k % n_sizes];
        n = n < S - at ? n : S - at;
        if (hst_forward(s, ids + at, n, logits + (size_t)at * V, 1, &err) != 0)
            fail_msg("%s", err.msg);
        at += n;
    }
    hst_session_free(s);
    hst_pool_free(pool);
    return logits;
}

static void prompt_ids(int *ids, int n, int V)
{
    uint64_t rng[4];
    hst_rng_seed(rng, 11);
    for (int i = 0; i < n; i++)
        ids[i] = (int)(hst_rng_next(rng) % (uint64_t)V);
    ids[0] = 0; /* the zero embedding row */
    if (n > 3)
        ids[3] = 1; /* a long row */
}

/* ---- naive references (double) ----------------------------------------------------- */

static double *dalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static double *widen(const float *x, size_t n)
{
    double *y = dalloc(n);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i];
    return y;
}

/* y[out] = W[out,in]·x + b (b may be NULL). */
static void linear(const float *W, const float *b, const double *x, int in, int out, double *y)
{
    for (int o = 0; o < out; o++) {
        double acc = b ? b[o] : 0;
        for (int i = 0; i < in; i++)
            acc += (double)W[(size_t)o * in + i] * x[i];
        y[o] = acc;
    }
}

static void layernorm(const double *x, const float *g, const float *b, int n, double *y)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    for (int i = 0; i < n; i++)
        y[i] = (x[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i];
}

static double gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

/* out[i] = multi-head attention of q[i] over k, v rows 0..last(i) (rows of width D,
 * heads the contiguous slices): last(i) = i when causal, else n_keys - 1. */
static void attention(const double *q, const double *k, const double *v, int n, int n_keys, int D, int heads,
                      int causal, double *out)
{
    const int hd = D / heads;
    double *score = dalloc((size_t)n_keys);
    for (int i = 0; i < n; i++)
        for (int h = 0; h < heads; h++) {
            const int last = causal ? i : n_keys - 1;
            double max = -INFINITY, sum = 0;
            for (int j = 0; j <= last; j++) {
                double s = 0;
                for (int d = 0; d < hd; d++)
                    s += q[(size_t)i * D + h * hd + d] * k[(size_t)j * D + h * hd + d];
                score[j] = s / sqrt((double)hd);
                max = score[j] > max ? score[j] : max;
            }
            for (int j = 0; j <= last; j++)
                sum += score[j] = exp(score[j] - max);
            for (int d = 0; d < hd; d++) {
                double acc = 0;
                for (int j = 0; j <= last; j++)
                    acc += score[j] * v[(size_t)j * D + h * hd + d];
                out[(size_t)i * D + h * hd + d] = acc / sum;
            }
        }
    free(score);
}

/* The largest |ref| of a stage, and the check of got against ref within STAGE_TOLERANCE of it. */
static void check_stage(const float *got, const double *ref, int n, int D, const char *what)
{
    double max = 1e-30, worst = 0;
    int at = 0;
    for (size_t i = 0; i < (size_t)n * D; i++)
        max = fabs(ref[i]) > max ? fabs(ref[i]) : max;
    for (size_t i = 0; i < (size_t)n * D; i++)
        if (fabs(got[i] - ref[i]) > worst) {
            worst = fabs(got[i] - ref[i]);
            at = (int)i;
        }
    if (!(worst <= STAGE_TOLERANCE * max))
        fail_msg("%s: row %d column %d is %.9g, the reference %.9g (max |diff| %.3g, stage max %.3g)", what, at / D,
                 at % D, got[at], ref[at], worst, max);
}

/* 12.E.2.1: x = e / (min(‖e‖/0.999, 1) + 1e-8) + PE[t]. */
static void naive_embed(const hst_model *m, const int *ids, int S, double *x)
{
    const int D = hst_model_config(m)->d_model;
    const float *E = tensor(m, "token_embedding.embed.weight"), *pe = tensor(m, "pos_encoding.pe");
    for (int i = 0; i < S; i++) {
        const float *e = E + (size_t)ids[i] * D;
        double norm = 0;
        for (int d = 0; d < D; d++)
            norm += (double)e[d] * e[d];
        norm = sqrt(norm);
        const double scale = (norm / 0.999 < 1 ? norm / 0.999 : 1) + 1e-8;
        for (int d = 0; d < D; d++)
            x[(size_t)i * D + d] = e[d] / scale + pe[(size_t)i * D + d];
    }
}

/* 12.E.2.2 / 12.E.3: row i reads M = 0.95·Σ k_τ v_τᵀ over τ ≤ i (causal) or the window. */
static void naive_hebbian(const hst_model *m, const double *x, int S, int parity, double *out)
{
    const int D = hst_model_config(m)->d_model;
    const float *W = tensor(m, "plasticity.qkv.weight");
    double *qkv = dalloc((size_t)S * 3 * D), *row = dalloc((size_t)D);
    for (int i = 0; i < S; i++)
        linear(W, NULL, x + (size_t)i * D, D, 3 * D, qkv + (size_t)i * 3 * D);
    for (int i = 0; i < S; i++) {
        const double *q = qkv + (size_t)i * 3 * D, *k = q + D;
        double qk = 0;
        for (int d = 0; d < D; d++)
            qk += q[d] * k[d];
        const int last = parity ? S - 1 : i;
        for (int e = 0; e < D; e++) {
            double read = 0; /* (Mᵀq)[e] = Σ_τ (q·k_τ) v_τ[e] */
            for (int tau = 0; tau <= last; tau++) {
                const double *kt = qkv + (size_t)tau * 3 * D + D, *vt = kt + D;
                double qkt = 0;
                for (int d = 0; d < D; d++)
                    qkt += q[d] * kt[d];
                read += qkt * vt[e];
            }
            row[e] = x[(size_t)i * D + e] + sigmoid(qk) * 0.95 * read;
        }
        layernorm(row, tensor(m, "plasticity.norm.weight"), tensor(m, "plasticity.norm.bias"), D,
                  out + (size_t)i * D);
    }
    free(qkv);
    free(row);
}

/* P (12.E.2.3): the norm-first layer, 8 heads, FFN 4D with ReLU, over n rows,
 * causal or unmasked. */
static void naive_processor(const hst_model *m, const double *z, int n, int causal, double *out)
{
    const int D = hst_model_config(m)->d_model;
    const char *p = "multi_res.processor";
    const float *in_w = tensor(m, "%s.self_attn.in_proj_weight", p), *in_b = tensor(m, "%s.self_attn.in_proj_bias", p);
    double *a = dalloc((size_t)n * D), *q = dalloc((size_t)n * D), *k = dalloc((size_t)n * D);
    double *v = dalloc((size_t)n * D), *o = dalloc((size_t)n * D), *y = dalloc((size_t)D), *h = dalloc((size_t)4 * D);
    for (int i = 0; i < n; i++) {
        layernorm(z + (size_t)i * D, tensor(m, "%s.norm1.weight", p), tensor(m, "%s.norm1.bias", p), D,
                  a + (size_t)i * D);
        linear(in_w, in_b, a + (size_t)i * D, D, D, q + (size_t)i * D);
        linear(in_w + (size_t)D * D, in_b + D, a + (size_t)i * D, D, D, k + (size_t)i * D);
        linear(in_w + (size_t)2 * D * D, in_b + 2 * D, a + (size_t)i * D, D, D, v + (size_t)i * D);
    }
    attention(q, k, v, n, n, D, 8, causal, o);
    for (int i = 0; i < n; i++) {
        double *zi = out + (size_t)i * D;
        linear(tensor(m, "%s.self_attn.out_proj.weight", p), tensor(m, "%s.self_attn.out_proj.bias", p),
               o + (size_t)i * D, D, D, y);
        for (int d = 0; d < D; d++)
            zi[d] = z[(size_t)i * D + d] + y[d];
        layernorm(zi, tensor(m, "%s.norm2.weight", p), tensor(m, "%s.norm2.bias", p), D, y);
        linear(tensor(m, "%s.linear1.weight", p), tensor(m, "%s.linear1.bias", p), y, D, 4 * D, h);
        for (int f = 0; f < 4 * D; f++)
            h[f] = h[f] > 0 ? h[f] : 0;
        linear(tensor(m, "%s.linear2.weight", p), tensor(m, "%s.linear2.bias", p), h, 4 * D, D, y);
        for (int d = 0; d < D; d++)
            zi[d] += y[d];
    }
    free(a), free(q), free(k), free(v), free(o), free(y), free(h);
}

/* y_f of 12.E.2.3 (parity: floor pooling, linear interpolation) or 12.E.3
 * (causal: completed blocks, P causal over them, hold), into cat columns f. */
static void naive_resolution(const hst_model *m, const double *x, const double *y1, int S, int f, int parity,
                             double *cat, int column)
{
    const int D = hst_model_config(m)->d_model, n = S / f;
    for (int i = 0; i < S; i++)
        memcpy(cat + (size_t)i * 4 * D + column * D, y1 + (size_t)i * D, (size_t)D * sizeof(double));
    if (n == 0)
        return; /* S < f: y_f = y_1 (parity); no complete block (causal) */
    double *pooled = dalloc((size_t)n * D), *z = dalloc((size_t)n * D);
    for (int j = 0; j < n; j++)
        for (int d = 0; d < D; d++) {
            double sum = 0;
            for (int r = 0; r < f; r++)
                sum += x[(size_t)(j * f + r) * D + d];
            pooled[(size_t)j * D + d] = sum / f;
        }
    naive_processor(m, pooled, n, !parity, z);
    for (int i = 0; i < S; i++) {
        double *y = cat + (size_t)i * 4 * D + column * D;
        if (parity) {
            double s = (i + 0.5) * n / S - 0.5;
            s = s > 0 ? s : 0;
            const int a = (int)floor(s), b = a + 1 < n ? a + 1 : n - 1;
            const double lambda = s - a;
            for (int d = 0; d < D; d++)
                y[d] = (1 - lambda) * z[(size_t)a * D + d] + lambda * z[(size_t)b * D + d];
        } else if ((i + 1) / f >= 1) {
            memcpy(y, z + (size_t)((i + 1) / f - 1) * D, (size_t)D * sizeof(double));
        }
    }
    free(pooled);
    free(z);
}

/* The multi-resolution block and its fusion: x (the Hebbian rows) → LN_F(Wf·[y_1; y_2; y_4; y_8] + bf). */
static void naive_multires(const hst_model *m, const double *x, int S, int parity, double *out)
{
    const int D = hst_model_config(m)->d_model;
    double *y1 = dalloc((size_t)S * D), *cat = dalloc((size_t)S * 4 * D), *row = dalloc((size_t)D);
    naive_processor(m, x, S, !parity, y1);
    for (int i = 0; i < S; i++)
        memcpy(cat + (size_t)i * 4 * D, y1 + (size_t)i * D, (size_t)D * sizeof(double));
    for (int k = 1; k < 4; k++)
        naive_resolution(m, x, y1, S, 1 << k, parity, cat, k);
    for (int i = 0; i < S; i++) {
        linear(tensor(m, "multi_res.fusion.0.weight"), tensor(m, "multi_res.fusion.0.bias"),
               cat + (size_t)i * 4 * D, 4 * D, D, row);
        layernorm(row, tensor(m, "multi_res.fusion.1.weight"), tensor(m, "multi_res.fusion.1.bias"), D,
                  out + (size_t)i * D);
    }
    free(y1), free(cat), free(row);
}

/* 12.E.2.4: p = softmax(router); the two largest p, lower index first on ties;
 * x = Σ_k p_{e_k}·Dn[e_k]·GELU(U[e_k]·x), no renormalisation, no biases. */
static void naive_moe(const hst_model *m, const double *x, int S, double *out, int chosen[][2])
{
    const int D = hst_model_config(m)->d_model;
    const float *U = tensor(m, "sparse_router.expert_up"), *Dn = tensor(m, "sparse_router.expert_down");
    double p[8], *h = dalloc((size_t)4 * D), *y = dalloc((size_t)D);
    for (int i = 0; i < S; i++) {
        const double *xi = x + (size_t)i * D;
        linear(tensor(m, "sparse_router.router.weight"), tensor(m, "sparse_router.router.bias"), xi, D, 8, p);
        double max = p[0], sum = 0;
        for (int e = 0; e < 8; e++)
            max = p[e] > max ? p[e] : max;
        for (int e = 0; e < 8; e++)
            sum += p[e] = exp(p[e] - max);
        int best[2] = {-1, -1};
        for (int k = 0; k < 2; k++)
            for (int e = 0; e < 8; e++)
                if (e != best[0] && (best[k] < 0 || p[e] > p[best[k]]))
                    best[k] = e;
        memset(out + (size_t)i * D, 0, (size_t)D * sizeof(double));
        for (int k = 0; k < 2; k++) {
            const int e = best[k];
            chosen[i][k] = e;
            linear(U + (size_t)e * 4 * D * D, NULL, xi, D, 4 * D, h);
            for (int f = 0; f < 4 * D; f++)
                h[f] = gelu(h[f]);
            linear(Dn + (size_t)e * D * 4 * D, NULL, h, 4 * D, D, y);
            for (int d = 0; d < D; d++)
                out[(size_t)i * D + d] += p[e] / sum * y[d];
        }
    }
    free(h);
    free(y);
}

/* 12.E.2.5: layer l over the rows u; cross-attention memory = u, causal (rows ≤ i)
 * or the whole window (parity). */
static void naive_layer(const hst_model *m, int l, const double *u, int S, int parity, double *out)
{
    const hst_config *c = hst_model_config(m);
    const int D = c->d_model, nh = c->n_heads;
    const float *qkv_w = tensor(m, "attention_layers.%d.self_attn.qkv.weight", l);
    const float *in_w = tensor(m, "attention_layers.%d.cross_attn.in_proj_weight", l);
    const float *in_b = tensor(m, "attention_layers.%d.cross_attn.in_proj_bias", l);
    double *a = dalloc((size_t)D), *q = dalloc((size_t)S * D), *k = dalloc((size_t)S * D), *v = dalloc((size_t)S * D);
    double *o = dalloc((size_t)S * D), *y = dalloc((size_t)D), *ab = dalloc((size_t)2 * D), *h = dalloc((size_t)2 * D);
    memcpy(out, u, (size_t)S * D * sizeof *out);
    for (int i = 0; i < S; i++) {
        layernorm(u + (size_t)i * D, tensor(m, "attention_layers.%d.norm1.weight", l),
                  tensor(m, "attention_layers.%d.norm1.bias", l), D, a);
        linear(qkv_w, NULL, a, D, D, q + (size_t)i * D);
        linear(qkv_w + (size_t)D * D, NULL, a, D, D, k + (size_t)i * D);
        linear(qkv_w + (size_t)2 * D * D, NULL, a, D, D, v + (size_t)i * D);
    }
    attention(q, k, v, S, S, D, nh, 1, o);
    for (int i = 0; i < S; i++) {
        linear(tensor(m, "attention_layers.%d.self_attn.out_proj.weight", l), NULL, o + (size_t)i * D, D, D, y);
        for (int d = 0; d < D; d++)
            out[(size_t)i * D + d] += y[d];
        layernorm(out + (size_t)i * D, tensor(m, "attention_layers.%d.norm2.weight", l),
                  tensor(m, "attention_layers.%d.norm2.bias", l), D, a);
        linear(in_w, in_b, a, D, D, q + (size_t)i * D);
        linear(in_w + (size_t)D * D, in_b + D, u + (size_t)i * D, D, D, k + (size_t)i * D);
        linear(in_w + (size_t)2 * D * D, in_b + 2 * D, u + (size_t)i * D, D, D, v + (size_t)i * D);
    }
    attention(q, k, v, S, S, D, nh, !parity, o);
    for (int i = 0; i < S; i++) {
        double *x = out + (size_t)i * D;
        linear(tensor(m, "attention_layers.%d.cross_attn.out_proj.weight", l),
               tensor(m, "attention_layers.%d.cross_attn.out_proj.bias", l), o + (size_t)i * D, D, D, y);
        for (int d = 0; d < D; d++)
            x[d] += y[d];
        linear(tensor(m, "attention_layers.%d.diamond_mixer.split_proj.weight", l),
               tensor(m, "attention_layers.%d.diamond_mixer.split_proj.bias", l), x, D, 2 * D, ab);
        for (int d = 0; d < D; d++) {
            h[d] = gelu(ab[d] + ab[D + d]);
            h[D + d] = gelu(ab[D + d] - ab[d]);
        }
        linear(tensor(m, "attention_layers.%d.diamond_mixer.merge_proj.weight", l),
               tensor(m, "attention_layers.%d.diamond_mixer.merge_proj.bias", l), h, 2 * D, D, y);
        for (int d = 0; d < D; d++)
            y[d] += x[d];
        layernorm(y, tensor(m, "attention_layers.%d.diamond_mixer.norm.weight", l),
                  tensor(m, "attention_layers.%d.diamond_mixer.norm.bias", l), D, x);
    }
    free(a), free(q), free(k), free(v), free(o), free(y), free(ab), free(h);
}

/* 12.E.2.7: twice ε = σ(we·x + be), x = (1 − ε)·x + ε·GRUCell(x, x) (section 1 GRU step). */
static void naive_feedback(const hst_model *m, const double *in, int S, double *out)
{
    const int D = hst_model_config(m)->d_model;
    const float *w_ih = tensor(m, "feedback_loop.loop_net.weight_ih"), *w_hh = tensor(m, "feedback_loop.loop_net.weight_hh");
    const float *b_ih = tensor(m, "feedback_loop.loop_net.bias_ih"), *b_hh = tensor(m, "feedback_loop.loop_net.bias_hh");
    const float *we = tensor(m, "feedback_loop.error_estimator.weight"), *be = tensor(m, "feedback_loop.error_estimator.bias");
    double *gi = dalloc((size_t)3 * D), *gh = dalloc((size_t)3 * D), eps;
    memcpy(out, in, (size_t)S * D * sizeof *out);
    for (int i = 0; i < S; i++)
        for (int it = 0; it < 2; it++) {
            double *x = out + (size_t)i * D;
            linear(we, be, x, D, 1, &eps);
            eps = sigmoid(eps);
            linear(w_ih, b_ih, x, D, 3 * D, gi);
            linear(w_hh, b_hh, x, D, 3 * D, gh);
            for (int d = 0; d < D; d++) {
                const double r = sigmoid(gi[d] + gh[d]), z = sigmoid(gi[D + d] + gh[D + d]);
                const double n = tanh(gi[2 * D + d] + r * gh[2 * D + d]);
                x[d] = (1 - eps) * x[d] + eps * ((1 - z) * n + z * x[d]);
            }
        }
    free(gi);
    free(gh);
}

/* 12.E.2.8: logits = E·LN_f(x) with E the raw token table. */
static void naive_head(const hst_model *m, const double *x, int S, double *logits)
{
    const hst_config *c = hst_model_config(m);
    const int D = c->d_model;
    double *a = dalloc((size_t)D);
    for (int i = 0; i < S; i++) {
        layernorm(x + (size_t)i * D, tensor(m, "ln_f.weight"), tensor(m, "ln_f.bias"), D, a);
        linear(tensor(m, "token_embedding.embed.weight"), NULL, a, D, c->vocab_size, logits + (size_t)i * c->vocab_size);
    }
    free(a);
}

/* ---- the ops against their references --------------------------------------------- */

/* The lengths that reach the edge cases of 12.E.2.3: S = 1, S < f for some f, S not
 * a multiple of 8 (tail rows), and S past the spine positions 4, 10, 24. */
static const int stage_lengths[] = {1, 3, 6, 13, 29};
#define N_STAGE_LENGTHS (int)(sizeof stage_lengths / sizeof stage_lengths[0])

typedef void (*stage_check)(const hst_model *m, const stage_log *log, const int *ids, int S, int parity);

/* The kernels whose code paths the core has (its AVX-512 Hebbian panel and
 * feedback rows, and the matmul and attention kernels under them); a kernel
 * this CPU cannot run is skipped. */
static const hst_kernel test_kernels[] = {HST_KERNEL_PORTABLE, HST_KERNEL_AVX512};
#define N_KERNELS 2

/* Runs check on the stages of a prefill of every stage length in both modes, on every kernel. */
static void for_each_case(const hst_model *m, stage_check check)
{
    int ids[32];
    prompt_ids(ids, 32, hst_model_config(m)->vocab_size);
    for (int kernel = 0; kernel < N_KERNELS; kernel++) {
        if (!use_kernel(test_kernels[kernel]))
            continue;
        for (int parity = 0; parity < 2; parity++)
            for (int k = 0; k < N_STAGE_LENGTHS; k++) {
                stage_log log = {0};
                const int S = stage_lengths[k];
                free(prefill(m, parity ? HST_MODE_PARITY : HST_MODE_CAUSAL, 1, ids, S, &log));
                check(m, &log, ids, S, parity);
                stage_log_free(&log);
            }
    }
    use_kernel(HST_KERNEL_AUTO);
}

static hst_model *norms_model(void) { return edited_model(&small_v8, 5, edit_embedding_norms); }

static void check_embed(const hst_model *m, const stage_log *log, const int *ids, int S, int parity)
{
    (void)parity;
    const int D = hst_model_config(m)->d_model;
    double *ref = dalloc((size_t)S * D);
    naive_embed(m, ids, S, ref);
    const float *got = stage(log, "embed", S);
    check_stage(got, ref, S, D, "embed");
    /* The zero row adds nothing to PE[0]; short rows are scaled up to norm 0.999. */
    const float *pe = tensor(m, "pos_encoding.pe");
    for (int d = 0; d < D; d++)
        assert_true(got[d] == pe[d]);
    free(ref);
}

static void test_embedding_rescale_matches_naive(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    for_each_case(m, check_embed);
    hst_model_free(m);
}

static void check_hebbian(const hst_model *m, const stage_log *log, const int *ids, int S, int parity)
{
    (void)ids;
    const int D = hst_model_config(m)->d_model;
    double *in = widen(stage(log, "embed", S), (size_t)S * D), *ref = dalloc((size_t)S * D);
    naive_hebbian(m, in, S, parity, ref);
    check_stage(stage(log, "hebbian", S), ref, S, D, parity ? "hebbian (parity)" : "hebbian (causal)");
    free(in);
    free(ref);
}

static void test_hebbian_prefix_sum_matches_naive(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    for_each_case(m, check_hebbian);
    hst_model_free(m);
}

static void check_multires(const hst_model *m, const stage_log *log, const int *ids, int S, int parity)
{
    (void)ids;
    const int D = hst_model_config(m)->d_model;
    double *in = widen(stage(log, "hebbian", S), (size_t)S * D), *ref = dalloc((size_t)S * D);
    naive_multires(m, in, S, parity, ref);
    check_stage(stage(log, "multires", S), ref, S, D, parity ? "multires (parity)" : "multires (causal)");
    free(in);
    free(ref);
}

static void test_shared_multires_processor_matches_naive(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    for_each_case(m, check_multires);
    hst_model_free(m);
}

static void check_moe(const hst_model *m, const stage_log *log, const int *ids, int S, int parity)
{
    (void)ids;
    const int D = hst_model_config(m)->d_model;
    double *in = widen(stage(log, "multires", S), (size_t)S * D), *ref = dalloc((size_t)S * D);
    int(*chosen)[2] = calloc((size_t)S, sizeof *chosen);
    assert_non_null(chosen);
    naive_moe(m, in, S, ref, chosen);
    check_stage(stage(log, "moe", S), ref, S, D, parity ? "moe (parity)" : "moe (causal)");
    free(in);
    free(ref);
    free(chosen);
}

static void test_moe_top2_matches_naive(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    for_each_case(m, check_moe);
    hst_model_free(m);
}

/* An exact tie for the second place (experts 3 and 6): the lower index wins,
 * and the weights are the softmax values themselves (not renormalised). */
static void check_moe_tie(const hst_model *m, const stage_log *log, const int *ids, int S, int parity)
{
    (void)ids;
    (void)parity;
    const int D = hst_model_config(m)->d_model;
    double *in = widen(stage(log, "multires", S), (size_t)S * D), *ref = dalloc((size_t)S * D);
    int(*chosen)[2] = calloc((size_t)S, sizeof *chosen);
    assert_non_null(chosen);
    naive_moe(m, in, S, ref, chosen);
    for (int i = 0; i < S; i++) {
        assert_int_equal(chosen[i][0], 1);
        assert_int_equal(chosen[i][1], 3);
    }
    check_stage(stage(log, "moe", S), ref, S, D, "moe with a tie");
    free(in);
    free(ref);
    free(chosen);
}

static void test_moe_tie_takes_lower_index(void **state)
{
    (void)state;
    hst_model *m = edited_model(&small_v8, 6, edit_router_tie);
    for_each_case(m, check_moe_tie);
    hst_model_free(m);
}

static void check_layers(const hst_model *m, const stage_log *log, const int *ids, int S, int parity)
{
    (void)ids;
    const int D = hst_model_config(m)->d_model;
    double *ref = dalloc((size_t)S * D);
    for (int l = 0; l < hst_model_config(m)->n_layers; l++) {
        char in_name[HST_SECTION_NAME_BYTES], out_name[HST_SECTION_NAME_BYTES], what[64];
        if (l == 0)
            snprintf(in_name, sizeof in_name, "moe");
        else
            snprintf(in_name, sizeof in_name, "attn.%d", l - 1);
        snprintf(out_name, sizeof out_name, "attn.%d", l);
        snprintf(what, sizeof what, "%s (%s)", out_name, parity ? "parity" : "causal");
        double *in = widen(stage(log, in_name, S), (size_t)S * D);
        naive_layer(m, l, in, S, parity, ref);
        check_stage(stage(log, out_name, S), ref, S, D, what);
        free(in);
    }
    free(ref);
}

static void test_attention_layers_cross_attention_and_diamond_match_naive(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    for_each_case(m, check_layers);
    hst_model_free(m);
}

static void check_feedback_and_head(const hst_model *m, const stage_log *log, const int *ids, int S, int parity)
{
    const hst_config *c = hst_model_config(m);
    const int D = c->d_model, V = c->vocab_size;
    double *in = widen(stage(log, "lattice", S), (size_t)S * D), *ref = dalloc((size_t)S * D);
    naive_feedback(m, in, S, ref);
    check_stage(stage(log, "hidden", S), ref, S, D, parity ? "feedback (parity)" : "feedback (causal)");
    free(in);
    free(ref);
    /* The head from the engine's hidden rows: E·LN_f(x) with the raw table. */
    in = widen(stage(log, "hidden", S), (size_t)S * D);
    ref = dalloc((size_t)S * V);
    naive_head(m, in, S, ref);
    float *logits = prefill(m, parity ? HST_MODE_PARITY : HST_MODE_CAUSAL, 1, ids, S, NULL);
    check_stage(logits, ref, S, V, "tied head");
    free(logits);
    free(in);
    free(ref);
}

static void test_feedback_gru_twice_and_tied_head_match_naive(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    for_each_case(m, check_feedback_and_head);
    /* One copy of the table: lm_head.weight is the token table itself. */
    assert_ptr_equal(hst_model_tensor_data(m, "lm_head.weight", NULL),
                     hst_model_tensor_data(m, "token_embedding.embed.weight", NULL));
    hst_model_free(m);
}

/* ---- the properties of 12.0 and 12.E.3 ------------------------------------------------ */

static void assert_same_logits(const float *a, const float *b, int S, int V, const char *what)
{
    for (size_t i = 0; i < (size_t)S * V; i++) {
        uint32_t x, y;
        memcpy(&x, &a[i], sizeof x);
        memcpy(&y, &b[i], sizeof y);
        if (x != y)
            fail_msg("%s: row %zu logit %zu is %.9g, not %.9g", what, i / V, i % V, b[i], a[i]);
    }
}

/* The last call of each split against the whole prefill: causal compares every
 * row; a parity call's rows are the last rows of its window, so the call that
 * ends at S is compared (the parity decode test covers the other windows). */
static void check_splits(const hst_model *m, hst_mode mode, const int *ids, int S)
{
    static const int splits[][4] = {{1}, {5}, {3, 7}, {64, 1}, {11, 13, 2}, {149}};
    static const int n_splits[] = {1, 1, 2, 2, 3, 1};
    const int V = hst_model_config(m)->vocab_size;
    float *whole = prefill(m, mode, 1, ids, S, NULL);
    for (size_t k = 0; k < sizeof n_splits / sizeof n_splits[0]; k++) {
        if (mode == HST_MODE_PARITY && (k == 0 || splits[k][0] >= S))
            continue; /* S window recomputations, or one call: the parity decode test covers them */
        float *split = split_run(m, mode, 1, ids, S, splits[k], n_splits[k]);
        if (mode == HST_MODE_CAUSAL) {
            assert_same_logits(whole, split, S, V, "causal split");
        } else {
            int at = 0;
            for (int j = 0; at < S; j++) {
                int n = splits[k][j % n_splits[k]];
                n = n < S - at ? n : S - at;
                if (at + n == S)
                    assert_same_logits(whole + (size_t)at * V, split + (size_t)at * V, n, V, "parity split");
                at += n;
            }
        }
        free(split);
    }
    free(whole);
}

/* Every split of the tokens into calls gives the same bits (12.0 split invariance):
 * one at a time, chunks straddling the pooling blocks and the spine positions. */
static void test_every_split_gives_the_same_bits(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    const int S = 150;
    int ids[150];
    prompt_ids(ids, S, small_v8.vocab_size);
    for (int kernel = 0; kernel < N_KERNELS; kernel++) {
        if (!use_kernel(test_kernels[kernel]))
            continue;
        check_splits(m, HST_MODE_CAUSAL, ids, S);
        check_splits(m, HST_MODE_PARITY, ids, 40); /* each parity call recomputes its window */
    }
    use_kernel(HST_KERNEL_AUTO);
    hst_model_free(m);
}

/* Parity decode at t = parity prefill of the window 0..t (12.0): each one-row call
 * returns the last row of a prefill of its window. */
static void test_parity_decode_equals_window_prefill(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    const int S = 30, V = small_v8.vocab_size;
    int ids[30];
    prompt_ids(ids, S, V);
    const int one = 1;
    float *steps = split_run(m, HST_MODE_PARITY, 2, ids, S, &one, 1);
    for (int t = 0; t < S; t += 7) {
        float *window = prefill(m, HST_MODE_PARITY, 1, ids, t + 1, NULL);
        assert_same_logits(window + (size_t)t * V, steps + (size_t)t * V, 1, V, "parity decode");
        free(window);
    }
    free(steps);
    hst_model_free(m);
}

static void test_logits_bit_identical_for_1_2_3_threads(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    const int S = 70, V = small_v8.vocab_size;
    int ids[70];
    prompt_ids(ids, S, V);
    for (int parity = 0; parity < 2; parity++) {
        const hst_mode mode = parity ? HST_MODE_PARITY : HST_MODE_CAUSAL;
        float *one = prefill(m, mode, 1, ids, S, NULL);
        for (int threads = 2; threads <= 3; threads++) {
            float *other = prefill(m, mode, threads, ids, S, NULL);
            assert_same_logits(one, other, S, V, parity ? "parity threads" : "causal threads");
            free(other);
            const int sizes[] = {9, 1};
            other = split_run(m, mode, threads, ids, S, sizes, 2);
            if (!parity)
                assert_same_logits(one, other, S, V, "causal threads, split");
            free(other);
        }
        free(one);
    }
    hst_model_free(m);
}

/* Greedy generation through hst_forward one token at a time. */
static void greedy_tokens(const hst_model *m, hst_mode mode, int threads, int *out, int n)
{
    const int V = hst_model_config(m)->vocab_size;
    hst_pool *pool = pool_of(threads);
    hst_session *s = session_of(m, pool, mode);
    float *logits = malloc((size_t)V * sizeof *logits);
    int prompt[12];
    prompt_ids(prompt, 12, V);
    hst_error err = {{0}};
    assert_int_equal(hst_forward(s, prompt, 12, logits, 0, &err), 0);
    for (int i = 0; i < n; i++) {
        out[i] = hst_argmax(logits, V);
        assert_int_equal(hst_forward(s, &out[i], 1, logits, 0, &err), 0);
    }
    free(logits);
    hst_session_free(s);
    hst_pool_free(pool);
}

static void test_tokens_identical_for_1_2_3_threads(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    for (int parity = 0; parity < 2; parity++) {
        const hst_mode mode = parity ? HST_MODE_PARITY : HST_MODE_CAUSAL;
        int base[20], other[20];
        greedy_tokens(m, mode, 1, base, 20);
        for (int threads = 2; threads <= 3; threads++) {
            greedy_tokens(m, mode, threads, other, 20);
            assert_memory_equal(base, other, sizeof base);
        }
    }
    hst_model_free(m);
}

/* Causal: changing the last token leaves every earlier row's logits exactly as
 * they were (12.E.3); parity: the whole-window ops move them (E2). Both modes
 * agree at S = 1. */
static void test_causal_rows_ignore_later_tokens_parity_rows_do_not(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    const int S = 40, V = small_v8.vocab_size;
    int ids[40], changed[40];
    prompt_ids(ids, S, V);
    memcpy(changed, ids, sizeof ids);
    changed[S - 1] = (ids[S - 1] + 1) % V;
    for (int parity = 0; parity < 2; parity++) {
        const hst_mode mode = parity ? HST_MODE_PARITY : HST_MODE_CAUSAL;
        float *a = prefill(m, mode, 1, ids, S, NULL), *b = prefill(m, mode, 1, changed, S, NULL);
        int same = memcmp(a, b, sizeof(float) * (size_t)(S - 1) * V) == 0;
        assert_int_equal(same, !parity);
        free(a);
        free(b);
    }
    float *c = prefill(m, HST_MODE_CAUSAL, 1, ids, 1, NULL), *p = prefill(m, HST_MODE_PARITY, 1, ids, 1, NULL);
    for (int v = 0; v < V; v++)
        assert_true(fabsf(c[v] - p[v]) <= 1e-5f * (1 + fabsf(c[v]))); /* the same math, other roundings */
    free(c);
    free(p);
    hst_model_free(m);
}

/* The sections (12.E.6) in order, and their FLOPs (what was computed) summing to
 * the figures of 12.E.5 for a prefill and a decode step, both modes. */
static void test_sections_and_flops_follow_spec(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    const hst_config *c = hst_model_config(m);
    const int V = c->vocab_size, S = 58; /* 58: a processed spine position (decode step below) */
    hst_pool *pool = pool_of(1);
    int ids[59];
    prompt_ids(ids, 59, V);
    float *logits = malloc((size_t)(S + 1) * V * sizeof *logits);
    assert_non_null(logits);
    for (int parity = 0; parity < 2; parity++) {
        const hst_mode mode = parity ? HST_MODE_PARITY : HST_MODE_CAUSAL;
        hst_session *s = session_of(m, pool, mode);
        const int n_sec = hst_session_section_count(s);
        assert_int_equal(n_sec, 11 + c->n_layers);
        const char *expect[] = {"embed", "hebbian", "multires.1", "multires.2", "multires.4", "multires.8",
                                "fusion", "moe", "attn.0", "attn.1", "lattice", "feedback", "head"};
        for (int i = 0; i < n_sec; i++)
            assert_string_equal(hst_session_section_name(s, i), expect[i]);
        double flops[16], sum = 0;
        hst_error err = {{0}};
        assert_int_equal(hst_forward(s, ids, S, logits, 1, &err), 0);
        hst_session_last_section_flops(s, flops);
        for (int i = 0; i < n_sec; i++)
            sum += flops[i];
        assert_true(fabs(sum - S * hst_flops_prefill_per_token(c, mode, S)) <= 1e-9 * sum);
        assert_int_equal(hst_forward(s, ids + S, 1, logits, 0, &err), 0); /* t = 58, processed */
        hst_session_last_section_flops(s, flops);
        sum = 0;
        for (int i = 0; i < n_sec; i++)
            sum += flops[i];
        /* 12.E.5's parity decode, (t+1)·F_p(t+1), counts the head on every row of the
         * window; a step computes it on its own row only. */
        const double head_skipped = parity ? 2.0 * c->d_model * V * S : 0;
        assert_true(fabs(sum - (hst_flops_decode(c, mode, S) - head_skipped)) <= 1e-9 * sum);
        hst_session_free(s);
    }
    free(logits);
    hst_pool_free(pool);
    hst_model_free(m);
}

/* The weights every token reads follow the model's precision (hst.h): bf16 and
 * int8 logits stay near the f32 ones, a session outlives the switch (its state
 * holds no pointer into the weights), and f32 again gives the same bits. */
static void test_precision_switch_keeps_sessions_and_f32_bits(void **state)
{
    (void)state;
    hst_model *m = norms_model();
    const int S = 24, V = small_v8.vocab_size;
    int ids[24];
    prompt_ids(ids, S, V);
    float *f32 = prefill(m, HST_MODE_CAUSAL, 1, ids, S, NULL);
    hst_pool *pool = pool_of(1);
    hst_session *s = session_of(m, pool, HST_MODE_CAUSAL);
    float *logits = malloc((size_t)S * V * sizeof *logits);
    assert_non_null(logits);
    hst_error err = {{0}};
    assert_int_equal(hst_forward(s, ids, S / 2, logits, 1, &err), 0);
    double max = 0;
    for (size_t i = 0; i < (size_t)S * V; i++)
        max = fabs(f32[i]) > max ? fabs(f32[i]) : max;
    const hst_precision lower[] = {HST_PRECISION_BF16, HST_PRECISION_INT8};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(hst_model_set_precision(m, lower[k], &err), 0);
        float *other = prefill(m, HST_MODE_CAUSAL, 1, ids, S, NULL);
        double worst = 0;
        for (size_t i = 0; i < (size_t)S * V; i++)
            worst = fabs(other[i] - f32[i]) > worst ? fabs(other[i] - f32[i]) : worst;
        assert_true(worst > 0);           /* the packed weights did change */
        assert_true(worst < 0.05 * max);  /* and stay close: 8-bit weights, f32 arithmetic */
        free(other);
    }
    assert_int_equal(hst_model_set_precision(m, HST_PRECISION_F32, &err), 0);
    /* The session's rows 0..S/2-1 were computed in f32; the rest are f32 again now. */
    assert_int_equal(hst_forward(s, ids + S / 2, S - S / 2, logits + (size_t)(S / 2) * V, 1, &err), 0);
    assert_same_logits(f32, logits, S, V, "f32 after a precision round trip");
    free(logits);
    free(f32);
    hst_session_free(s);
    hst_pool_free(pool);
    hst_model_free(m);
}

/* 12.E.3's decode state for hst-v8: D² + (4L + 2)·Lmax·D + 2·D·(⌊Lmax/2⌋ + ⌊Lmax/4⌋ +
 * ⌊Lmax/8⌋) floats = 7.0 MiB, plus the open blocks, held rows and kept lattice rows. */
static void test_decode_state_bytes_cover_spec_state(void **state)
{
    (void)state;
    hst_config cfg;
    assert_int_equal(hst_preset_config("hst-v8", &cfg), 0);
    const double D = cfg.d_model, Lmax = cfg.max_seq_len;
    const double spec_floats = D * D + (4.0 * cfg.n_layers + 2) * Lmax * D + 2 * D * (256 + 128 + 64);
    const double bytes = (double)hst_decode_state_bytes(&cfg);
    assert_true(bytes >= spec_floats * 4);
    assert_true(bytes <= spec_floats * 4 * 1.05); /* cache padding and the small rows only */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding_rescale_matches_naive),
        cmocka_unit_test(test_hebbian_prefix_sum_matches_naive),
        cmocka_unit_test(test_shared_multires_processor_matches_naive),
        cmocka_unit_test(test_moe_top2_matches_naive),
        cmocka_unit_test(test_moe_tie_takes_lower_index),
        cmocka_unit_test(test_attention_layers_cross_attention_and_diamond_match_naive),
        cmocka_unit_test(test_feedback_gru_twice_and_tied_head_match_naive),
        cmocka_unit_test(test_every_split_gives_the_same_bits),
        cmocka_unit_test(test_parity_decode_equals_window_prefill),
        cmocka_unit_test(test_logits_bit_identical_for_1_2_3_threads),
        cmocka_unit_test(test_tokens_identical_for_1_2_3_threads),
        cmocka_unit_test(test_causal_rows_ignore_later_tokens_parity_rows_do_not),
        cmocka_unit_test(test_sections_and_flops_follow_spec),
        cmocka_unit_test(test_precision_switch_keeps_sessions_and_f32_bits),
        cmocka_unit_test(test_decode_state_bytes_cover_spec_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
