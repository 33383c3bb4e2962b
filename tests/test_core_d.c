/* test_core_d.c — Core D, v7.1 Ultimate (spec 12.D), against naive
 * double-precision references written out below from the text, op by op:
 * the positional table (float32 sinusoid recipe, lattice encoder), the top-2
 * mixture of experts (lowest index on ties, unrenormalised weights), the
 * block keep flags and masking of the attention layers in both modes; then
 * the session rules: causal decode equals prefill bit for bit for every
 * split, any thread count, parity decode = parity prefill of the window,
 * the mode switch, and the section FLOPs against the figures of 12.D.6.
 * (The multi-resolution block has its own test, test_multires.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V_TEST 300
#define D_TEST 32
#define NH_TEST 4
#define L_TEST 2
#define LMAX_TEST 512
#define FF 2048
#define ROUTER 512
#define EXPERTS 8
#define BLOCK 64
#define BLOCK_ROUTER 128

/* ---- models, sessions, stages ------------------------------------------------------ */

static hst_model *tiny_v71(uint64_t seed)
{
    hst_config cfg = {HST_ARCH_V7_1, V_TEST, D_TEST, NH_TEST, L_TEST, LMAX_TEST, 8};
    hst_error err = {{0}};
    hst_model *m = hst_model_random(&cfg, seed, &err);
    if (!m)
        fail_msg("%s", err.msg);
    return m;
}

static float *tensor(hst_model *m, const char *name)
{
    int i = hst_spec_find(m->specs, m->n_specs, name);
    if (i < 0 || !m->data[i])
        fail_msg("no tensor %s", name);
    return m->data[i];
}

static const float *weights(const hst_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const float *weights(const hst_model *m, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    uint64_t numel;
    const float *w = hst_model_tensor_data(m, name, &numel);
    if (!w)
        fail_msg("no tensor %s", name);
    return w;
}

/* The core reads its packed copies: rebuild them after editing a tensor. */
static void rebuild(hst_model *m)
{
    hst_error err = {{0}};
    m->ops->runtime_free(m->runtime, &m->cfg);
    if (!(m->runtime = m->ops->runtime_build(m, m->precision, &err)))
        fail_msg("%s", err.msg);
}

static hst_session *session_of(const hst_model *m, hst_pool *pool, hst_mode mode)
{
    hst_error err = {{0}};
    hst_session *s = hst_session_create(m, pool, &err);
    if (!s || hst_session_set_mode(s, mode, &err) != 0)
        fail_msg("%s", err.msg);
    return s;
}

/* logits (when not NULL) of every row of the call */
static void forward(hst_session *s, const int *ids, int n, float *logits)
{
    hst_error err = {{0}};
    if (hst_forward(s, ids, n, logits, logits != NULL, &err) != 0)
        fail_msg("%s", err.msg);
}

/* logits of the call's last row */
static void forward_last(hst_session *s, const int *ids, int n, float *logits)
{
    hst_error err = {{0}};
    if (hst_forward(s, ids, n, logits, 0, &err) != 0)
        fail_msg("%s", err.msg);
}

static void prompt_ids(int *ids, int n)
{
    for (int i = 0; i < n; i++)
        ids[i] = (int)(((uint64_t)i * 2654435761u + 17u) % V_TEST);
}

/* The rows one stage handed to the hook in the last call, copied (width D). */
typedef struct {
    const char *want;
    float *rows;
    int n_rows;
} stage_copy;

static void capture_hook(void *user, const char *stage, const float *rows, int n_rows, int ld)
{
    stage_copy *c = user;
    for (; c->want; c++) {
        if (strcmp(stage, c->want) != 0)
            continue;
        free(c->rows);
        c->rows = malloc(sizeof(float) * (size_t)n_rows * D_TEST);
        assert_non_null(c->rows);
        for (int r = 0; r < n_rows; r++)
            memcpy(c->rows + (size_t)r * D_TEST, rows + (size_t)r * ld, sizeof(float) * D_TEST);
        c->n_rows = n_rows;
    }
}

static void captures_free(stage_copy *c)
{
    for (; c->want; c++) {
        free(c->rows);
        c->rows = NULL;
    }
}

/* Runs ids[0..n) as one call in mode and captures the stages named in c. */
static void run_stages(const hst_model *m, hst_mode mode, const int *ids, int n, stage_copy *c)
{
    hst_session *s = session_of(m, NULL, mode);
    hst_session_set_stage_hook(s, capture_hook, c);
    forward(s, ids, n, NULL);
    hst_session_free(s);
}

/* ---- naive double-precision primitives (spec 1) -------------------------------------- */

static double gelu(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

static void layernorm(double *x, int n, const float *g, const float *b)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    for (int i = 0; i < n; i++)
        x[i] = (x[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i];
}

/* y = W·x + b, W [N][K] row-major; b may be NULL. */
static void affine(const float *W, const float *b, const double *x, int N, int K, double *y)
{
    for (int n = 0; n < N; n++) {
        double s = b ? b[n] : 0;
        for (int k = 0; k < K; k++)
            s += (double)W[(size_t)n * K + k] * x[k];
        y[n] = s;
    }
}

static void to_double(const float *x, int n, double *y)
{
    for (int i = 0; i < n; i++)
        y[i] = x[i];
}

static double max_abs(const double *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* Stage rows against a reference, within tol of the reference's largest magnitude (12.0). */
static void check_rows(const float *got, const double *want, size_t n, double tol, const char *what)
{
    const double scale = max_abs(want, n) > 0 ? max_abs(want, n) : 1;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * scale))
            fail_msg("%s: element %zu (row %zu) is %.9g, reference %.9g (scale %.3g)", what, i, i / D_TEST, got[i],
                     want[i], scale);
}

/* ---- 12.D.2.1: the positional table ------------------------------------------------------ */

/* Correctly rounded values of the float32 recipe at D = 32 (d = 16), computed
 * at 300-bit precision: s(t)[col]. sinf(34) of glibc 2.36 is 1 ulp below the first. */
static const struct {
    int t, col;
    float value;
} sinusoid_values[] = {
    {34, 0, 0x1.0ee3eep-1f},  {34, 1, -0x1.b277cep-1f}, {511, 2, -0x1.f5d4ecp-1f}, {511, 3, -0x1.9621aap-3f},
    {298, 6, 0x1.383e62p-10f}, {298, 7, -0x1.ffffe8p-1f}, {100, 14, 0x1.0302bap-5f}, {100, 15, 0x1.ffbe78p-1f},
    {1, 1, 0x1.14a280p-1f},   {511, 15, 0x1.f95470p-1f},
};

static const int spine_512[] = {0, 2, 4, 12, 36, 104, 304}; /* the 3-term spine of Lmax 512 (spec 2) */

/* ℓ(t) of 12.D.2.1 in double, the spine scanned for its neighbours. */
static void reference_lattice_pe(const hst_model *m, int t, double *out)
{
    const int half = D_TEST / 2, n_sp = (int)(sizeof spine_512 / sizeof spine_512[0]);
    int left = 0, right = -1, level = 0;
    for (int i = 0; i < n_sp; i++) {
        if (spine_512[i] <= t) {
            left = spine_512[i];
            level++;
        } else if (right < 0) {
            right = spine_512[i];
        }
    }
    const double feat[3] = {t - left, right < 0 ? 0.0 : right - t, level};
    affine(weights(m, "pos_encoding.lattice_encoder.0.weight"), weights(m, "pos_encoding.lattice_encoder.0.bias"),
           feat, half, 3, out);
    layernorm(out, half, weights(m, "pos_encoding.lattice_encoder.1.weight"),
              weights(m, "pos_encoding.lattice_encoder.1.bias"));
    for (int j = 0; j < half; j++)
        out[j] = gelu(out[j]);
}

static void test_pe_table_float32_recipe_and_lattice_encoder_v71(void **state)
{
    (void)state;
    hst_model *m = tiny_v71(3);
    memset(tensor(m, "token_embedding.weight"), 0, sizeof(float) * V_TEST * D_TEST); /* embed rows = pe */
    /* a lattice encoder whose features matter: weights of both signs, a non-trivial norm */
    float *w = tensor(m, "pos_encoding.lattice_encoder.1.weight");
    for (int j = 0; j < D_TEST / 2; j++)
        w[j] = 0.5f + 0.05f * (float)j;
    rebuild(m);
    int ids[LMAX_TEST];
    prompt_ids(ids, LMAX_TEST);
    stage_copy c[] = {{"embed", NULL, 0}, {NULL, NULL, 0}};
    run_stages(m, HST_MODE_CAUSAL, ids, LMAX_TEST, c);
    assert_int_equal(c[0].n_rows, LMAX_TEST);
    const int half = D_TEST / 2;
    const float coef = (float)(-log(10000.0) / half);
    double lat[D_TEST / 2];
    for (int t = 0; t < LMAX_TEST; t++) {
        const float *row = c[0].rows + (size_t)t * D_TEST;
        for (int k = 0; k < half / 2; k++) { /* the recipe, each function rounded once from double */
            float f = (float)exp((double)((float)(2 * k) * coef)), a = (float)t * f;
            if (row[2 * k] != (float)sin((double)a) || row[2 * k + 1] != (float)cos((double)a))
                fail_msg("s(%d) columns %d, %d: %a %a, recipe %a %a", t, 2 * k, 2 * k + 1, (double)row[2 * k],
                         (double)row[2 * k + 1], sin((double)a), cos((double)a));
        }
        reference_lattice_pe(m, t, lat);
        for (int j = 0; j < half; j++)
            if (fabs(row[half + j] - lat[j]) > 2e-6)
                fail_msg("l(%d)[%d] = %.9g, reference %.9g", t, j, row[half + j], lat[j]);
    }
    for (size_t i = 0; i < sizeof sinusoid_values / sizeof sinusoid_values[0]; i++) {
        float got = c[0].rows[(size_t)sinusoid_values[i].t * D_TEST + sinusoid_values[i].col];
        if (got != sinusoid_values[i].value)
            fail_msg("s(%d)[%d] = %a, correctly rounded %a", sinusoid_values[i].t, sinusoid_values[i].col,
                     (double)got, (double)sinusoid_values[i].value);
    }
    captures_free(c);
    hst_model_free(m);
}

/* ---- 12.D.2.3: the mixture of experts ----------------------------------------------------- */

/* p of one row in double, then the two largest (the lower index first on
 * equal values); returns the gap between the 2nd and 3rd probability. */
static double reference_top2(const double *logits, int *e1, int *e2, double p[EXPERTS])
{
    double max = logits[0], sum = 0;
    for (int e = 1; e < EXPERTS; e++)
        max = fmax(max, logits[e]);
    for (int e = 0; e < EXPERTS; e++)
        sum += p[e] = exp(logits[e] - max);
    for (int e = 0; e < EXPERTS; e++)
        p[e] /= sum;
    *e1 = 0;
    for (int e = 1; e < EXPERTS; e++)
        if (p[e] > p[*e1])
            *e1 = e;
    *e2 = -1;
    for (int e = 0; e < EXPERTS; e++)
        if (e != *e1 && (*e2 < 0 || p[e] > p[*e2]))
            *e2 = e;
    double third = 0;
    for (int e = 0; e < EXPERTS; e++)
        if (e != *e1 && e != *e2)
            third = fmax(third, p[e]);
    return p[*e2] - third;
}

/* X_e(z) = W_e2·GELU(W_e1·z + b_e1) + b_e2. */
static void reference_expert(const hst_model *m, int e, const double *z, double *out)
{
    double hidden[4 * D_TEST];
    affine(weights(m, "sparse_router.experts.%d.0.weight", e), weights(m, "sparse_router.experts.%d.0.bias", e), z,
           4 * D_TEST, D_TEST, hidden);
    for (int j = 0; j < 4 * D_TEST; j++)
        hidden[j] = gelu(hidden[j]);
    affine(weights(m, "sparse_router.experts.%d.2.weight", e), weights(m, "sparse_router.experts.%d.2.bias", e), hidden,
           D_TEST, 4 * D_TEST, out);
}

/* m(t) for the rows z; the experts chosen for each row in chosen[2t..]. Rows
 * whose 2nd and 3rd probabilities are within 1e-6 are skipped (12.0). */
static void reference_moe(const hst_model *m, const float *z_rows, int n, double *out, int *chosen)
{
    double z[D_TEST], hidden[ROUTER], logits[EXPERTS], p[EXPERTS], x1[D_TEST], x2[D_TEST];
    for (int t = 0; t < n; t++) {
        to_double(z_rows + (size_t)t * D_TEST, D_TEST, z);
        affine(weights(m, "sparse_router.router.0.weight"), weights(m, "sparse_router.router.0.bias"), z, ROUTER,
               D_TEST, hidden);
        for (int j = 0; j < ROUTER; j++)
            hidden[j] = gelu(hidden[j]);
        affine(weights(m, "sparse_router.router.2.weight"), weights(m, "sparse_router.router.2.bias"), hidden, EXPERTS,
               ROUTER, logits);
        int e1, e2;
        double gap = reference_top2(logits, &e1, &e2, p);
        chosen[2 * t] = e1;
        chosen[2 * t + 1] = e2;
        reference_expert(m, e1, z, x1);
        reference_expert(m, e2, z, x2);
        for (int d = 0; d < D_TEST; d++) /* unrenormalised: p_e1 + p_e2 <= 1 */
            out[(size_t)t * D_TEST + d] = gap < 1e-6 && gap > 0 ? NAN : p[e1] * x1[d] + p[e2] * x2[d];
    }
}

static void check_moe(const hst_model *m, const int *ids, int n, hst_mode mode, int *chosen, const char *what)
{
    stage_copy c[] = {{"multires", NULL, 0}, {"moe", NULL, 0}, {NULL, NULL, 0}};
    run_stages(m, mode, ids, n, c);
    double *want = malloc(sizeof(double) * (size_t)n * D_TEST);
    assert_non_null(want);
    reference_moe(m, c[0].rows, n, want, chosen);
    for (size_t i = 0; i < (size_t)n * D_TEST; i++) /* near-ties: take the engine's row */
        if (isnan(want[i]))
            want[i] = c[1].rows[i];
    check_rows(c[1].rows, want, (size_t)n * D_TEST, 1e-5, what);
    free(want);
    captures_free(c);
}

static void test_moe_top2_lowest_index_ties_unrenormalised_v71(void **state)
{
    (void)state;
    hst_model *m = tiny_v71(5);
    float *router_w = tensor(m, "sparse_router.router.2.weight");
    for (int i = 0; i < EXPERTS * ROUTER; i++)
        router_w[i] *= 8; /* data-dependent routing that varies from row to row */
    rebuild(m);
    const int n = 150;
    int ids[150], chosen[300], used[EXPERTS] = {0};
    prompt_ids(ids, n);
    check_moe(m, ids, n, HST_MODE_CAUSAL, chosen, "moe, data-dependent routing");
    for (int i = 0; i < 2 * n; i++)
        used[chosen[i]]++;
    for (int e = 0; e < EXPERTS; e++)
        assert_true(used[e] > 0); /* every expert's batch is exercised */
    check_moe(m, ids, 70, HST_MODE_PARITY, chosen, "moe, parity window");

    /* Equal router outputs: only the biases speak. Experts 1, 3 and 6 tie for
     * the top: 1 then 3 (torch.topk on CPU would give another order). */
    memset(router_w, 0, sizeof(float) * EXPERTS * ROUTER);
    float *bias = tensor(m, "sparse_router.router.2.bias");
    const float tied[EXPERTS] = {0.3f, 0.9f, 0.5f, 0.9f, 0.1f, 0.5f, 0.9f, 0.2f};
    memcpy(bias, tied, sizeof tied);
    rebuild(m);
    check_moe(m, ids, 20, HST_MODE_CAUSAL, chosen, "moe, three experts tied for the top");
    for (int t = 0; t < 20; t++)
        assert_true(chosen[2 * t] == 1 && chosen[2 * t + 1] == 3);
    for (int e = 0; e < EXPERTS; e++)
        bias[e] = 0.25f; /* all equal: experts 0 and 1, each with p = 1/8 */
    rebuild(m);
    check_moe(m, ids, 20, HST_MODE_PARITY, chosen, "moe, all experts tied");
    for (int t = 0; t < 20; t++)
        assert_true(chosen[2 * t] == 0 && chosen[2 * t + 1] == 1);
    hst_model_free(m);
}

/* ---- 12.D.2.4 / 12.D.3 item 3: keep flags and the masking ------------------------------------ */

typedef struct {
    double *q, *k, *v; /* [n][D] */
    double *g;         /* [n]: g of the block mean (parity: at every row of the block) or of the running mean */
} layer_inputs;

/* q, k, v of the rows a and g of the block means: parity's whole-block mean
 * (the partial last block's), or causal's running mean over the block so far. */
static layer_inputs reference_layer_inputs(const hst_model *m, int l, const float *a, int n, int parity)
{
    const int D = D_TEST;
    layer_inputs in = {malloc(sizeof(double) * n * D), malloc(sizeof(double) * n * D), malloc(sizeof(double) * n * D),
                       malloc(sizeof(double) * n)};
    assert_true(in.q && in.k && in.v && in.g);
    const float *W = weights(m, "attention_layers.%d.qkv.weight", l);
    double x[D_TEST], qkv[3 * D_TEST], mean[D_TEST], hidden[BLOCK_ROUTER];
    for (int t = 0; t < n; t++) {
        to_double(a + (size_t)t * D, D, x);
        affine(W, NULL, x, 3 * D, D, qkv);
        memcpy(in.q + (size_t)t * D, qkv, sizeof(double) * D);
        memcpy(in.k + (size_t)t * D, qkv + D, sizeof(double) * D);
        memcpy(in.v + (size_t)t * D, qkv + 2 * D, sizeof(double) * D);
    }
    for (int t = 0; t < n; t++) {
        const int first = t / BLOCK * BLOCK;
        const int last = parity ? (first + BLOCK < n ? first + BLOCK : n) - 1 : t;
        for (int d = 0; d < D; d++) {
            mean[d] = 0;
            for (int j = first; j <= last; j++)
                mean[d] += in.k[(size_t)j * D + d];
            mean[d] /= last - first + 1;
        }
        affine(weights(m, "attention_layers.%d.block_router.0.weight", l),
               weights(m, "attention_layers.%d.block_router.0.bias", l), mean, BLOCK_ROUTER, D, hidden);
        for (int j = 0; j < BLOCK_ROUTER; j++)
            hidden[j] = fmax(hidden[j], 0.0);
        affine(weights(m, "attention_layers.%d.block_router.2.weight", l),
               weights(m, "attention_layers.%d.block_router.2.bias", l), hidden, 1, BLOCK_ROUTER, &in.g[t]);
    }
    return in;
}

static void layer_inputs_free(layer_inputs *in)
{
    free(in->q);
    free(in->k);
    free(in->v);
    free(in->g);
}

/* The layer's output rows from the flags (12.D.2.4): a row of a non-kept block
 * the uniform mean of v over 0..t; a kept row softmax at scale 1/sqrt(D) over
 * the keys j <= t of its own block and of kept earlier blocks (causal: each
 * earlier block's final flag, its last row's). Counts the kept rows. */
static void reference_layer_output(const hst_model *m, int l, const layer_inputs *in, int n, double *out, int *kept)
{
    const int D = D_TEST, hd = D / NH_TEST;
    double o[D_TEST], *w = malloc(sizeof(double) * n);
    assert_non_null(w);
    *kept = 0;
    for (int t = 0; t < n; t++) {
        const int block = t / BLOCK;
        if (!(in->g[t] > 0)) {
            for (int d = 0; d < D; d++) {
                o[d] = 0;
                for (int j = 0; j <= t; j++)
                    o[d] += in->v[(size_t)j * D + d];
                o[d] /= t + 1;
            }
        } else {
            ++*kept;
            for (int h = 0; h < NH_TEST; h++) {
                double max = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    const int jb = j / BLOCK;
                    const int final_row = jb * BLOCK + BLOCK - 1 < n ? jb * BLOCK + BLOCK - 1 : n - 1;
                    w[j] = -INFINITY;
                    if (jb != block && !(in->g[final_row] > 0))
                        continue;
                    double s = 0;
                    for (int d = 0; d < hd; d++)
                        s += in->q[(size_t)t * D + h * hd + d] * in->k[(size_t)j * D + h * hd + d];
                    w[j] = s / sqrt((double)D); /* sqrt(D), not sqrt(hd) */
                    max = fmax(max, w[j]);
                }
                for (int d = 0; d < hd; d++)
                    o[h * hd + d] = 0;
                for (int j = 0; j <= t; j++) {
                    if (w[j] == -INFINITY)
                        continue;
                    double p = exp(w[j] - max);
                    sum += p;
                    for (int d = 0; d < hd; d++)
                        o[h * hd + d] += p * in->v[(size_t)j * D + h * hd + d];
                }
                for (int d = 0; d < hd; d++)
                    o[h * hd + d] /= sum;
            }
        }
        affine(weights(m, "attention_layers.%d.out_proj.weight", l), weights(m, "attention_layers.%d.out_proj.bias", l),
               o, D, D, out + (size_t)t * D);
    }
    free(w);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The offset to subtract from g so that the flags mix: the middle of the widest
 * gap between sorted g values in their middle half. Returns the half gap (the margin). */
static double mixing_offset(const double *g, int n, double *offset)
{
    double *s = malloc(sizeof(double) * n);
    assert_non_null(s);
    memcpy(s, g, sizeof(double) * n);
    qsort(s, (size_t)n, sizeof(double), compare_doubles);
    double best = -1;
    for (int i = n / 4; i < 3 * n / 4; i++)
        if (s[i + 1] - s[i] > best) {
            best = s[i + 1] - s[i];
            *offset = 0.5 * (s[i] + s[i + 1]);
        }
    free(s);
    return best / 2;
}

/* Layer 0 on the MoE rows of n tokens in mode, with its block router's bias
 * moved so that kept and non-kept rows mix (every g at least 1e-5 from 0),
 * against the reference. */
static void check_attention_layer(int parity, int n)
{
    hst_model *m = tiny_v71(7);
    float *qkv = tensor(m, "attention_layers.0.qkv.weight");
    for (int i = 0; i < 3 * D_TEST * D_TEST; i++)
        qkv[i] *= 4; /* peaked softmaxes: the scale and the masks matter */
    float *w2 = tensor(m, "attention_layers.0.block_router.2.weight");
    for (int i = 0; i < BLOCK_ROUTER; i++)
        w2[i] *= 30;
    rebuild(m);
    const hst_mode mode = parity ? HST_MODE_PARITY : HST_MODE_CAUSAL;
    int ids[LMAX_TEST];
    prompt_ids(ids, n);
    stage_copy c[] = {{"moe", NULL, 0}, {"attn.0", NULL, 0}, {NULL, NULL, 0}};
    run_stages(m, mode, ids, n, c);
    layer_inputs in = reference_layer_inputs(m, 0, c[0].rows, n, parity);
    double offset = 0;
    const double margin = mixing_offset(in.g, n, &offset);
    assert_true(margin > 1e-5);
    tensor(m, "attention_layers.0.block_router.2.bias")[0] -= (float)offset;
    rebuild(m);
    run_stages(m, mode, ids, n, c);
    layer_inputs_free(&in);
    in = reference_layer_inputs(m, 0, c[0].rows, n, parity);
    double *want = malloc(sizeof(double) * n * D_TEST);
    assert_non_null(want);
    int kept;
    reference_layer_output(m, 0, &in, n, want, &kept);
    assert_true(kept > n / 8 && kept < n - n / 8); /* both kinds of rows, in several blocks */
    char what[64];
    snprintf(what, sizeof what, "attention layer 0, %s, %d rows (%d kept)", parity ? "parity" : "causal", n, kept);
    check_rows(c[1].rows, want, (size_t)n * D_TEST, 1e-5, what);
    free(want);
    layer_inputs_free(&in);
    captures_free(c);
    hst_model_free(m);
}

static void test_keep_flags_and_masking_parity_v71(void **state)
{
    (void)state;
    check_attention_layer(1, 200); /* four blocks, the last partial (its mean over 8 rows) */
    check_attention_layer(1, 256);
}

static void test_keep_flags_and_masking_causal_v71(void **state)
{
    (void)state;
    check_attention_layer(0, 200);
}

/* ---- session rules (12.0, 12.D.3) ---------------------------------------------------------- */

/* A model whose discrete decisions move from row to row: peaked attention,
 * keep flags that flip, routing that varies. */
static hst_model *stressed_v71(uint64_t seed)
{
    hst_model *m = tiny_v71(seed);
    char name[96];
    for (int l = 0; l < L_TEST; l++) {
        snprintf(name, sizeof name, "attention_layers.%d.block_router.2.weight", l);
        float *w2 = tensor(m, name);
        for (int i = 0; i < BLOCK_ROUTER; i++)
            w2[i] *= 30;
        snprintf(name, sizeof name, "attention_layers.%d.qkv.weight", l);
        float *qkv = tensor(m, name);
        for (int i = 0; i < 3 * D_TEST * D_TEST; i++)
            qkv[i] *= 3;
    }
    float *router_w = tensor(m, "sparse_router.router.2.weight");
    for (int i = 0; i < EXPERTS * ROUTER; i++)
        router_w[i] *= 8;
    rebuild(m);
    return m;
}

/* Every row's logits for ids[0..n) fed in calls of the given sizes (cycled). */
static void logits_by_calls(const hst_model *m, hst_pool *pool, hst_mode mode, const int *ids, int n,
                            const int *sizes, int n_sizes, float *logits)
{
    hst_session *s = session_of(m, pool, mode);
    for (int t0 = 0, k = 0; t0 < n; k++) {
        int size = sizes[k % n_sizes] < n - t0 ? sizes[k % n_sizes] : n - t0;
        forward(s, ids + t0, size, logits + (size_t)t0 * V_TEST);
        t0 += size;
    }
    hst_session_free(s);
}

static int same_bits(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

static void first_difference(const float *a, const float *b, int n, const char *what)
{
    for (int i = 0; i < n * V_TEST; i++)
        if (!same_bits(&a[i], &b[i], sizeof a[i]))
            fail_msg("%s: row %d, logit %d: %.9g vs %.9g", what, i / V_TEST, i % V_TEST, a[i], b[i]);
}

/* 12.0 split invariance: every split of the tokens into calls (one at a time,
 * chunks straddling 64-blocks, pooling blocks and spine positions) and 1, 2,
 * 3 threads give the same bits as one prefill call. */
static void test_causal_decode_matches_prefill_every_split_v71(void **state)
{
    (void)state;
    hst_model *m = stressed_v71(11);
    const int n = 150;
    const size_t bytes = sizeof(float) * (size_t)n * V_TEST;
    int ids[150];
    prompt_ids(ids, n);
    float *one = malloc(bytes), *other = malloc(bytes);
    assert_true(one && other);
    hst_pool *pools[3] = {NULL, NULL, NULL};
    hst_error err = {{0}};
    for (int p = 0; p < 3; p++)
        {
            assert_non_null(pools[p] = hst_pool_create(p + 1, NULL, NULL, &err));
            hst_pool_set_adaptive(pools[p], 0);
        }
    const int whole[] = {n};
    logits_by_calls(m, pools[0], HST_MODE_CAUSAL, ids, n, whole, 1, one);
    const int splits[][5] = {{1}, {5, 59, 1, 64}, {3, 7}, {63, 2}, {13, 24, 67, 1, 9}, {149, 1}};
    const int n_split[] = {1, 4, 2, 2, 5, 2};
    for (size_t sp = 0; sp < sizeof n_split / sizeof n_split[0]; sp++)
        for (int p = 0; p < 3; p++) {
            logits_by_calls(m, pools[p], HST_MODE_CAUSAL, ids, n, splits[sp], n_split[sp], other);
            char what[96];
            snprintf(what, sizeof what, "causal split %zu on %d threads vs one call", sp, p + 1);
            first_difference(one, other, n, what);
        }
    for (int p = 0; p < 3; p++)
        hst_pool_free(pools[p]);
    free(one);
    free(other);
    hst_model_free(m);
}

/* Parity decode recomputes the window: decode(t) = parity_prefill(0..t)[t],
 * a parity call of rows t0..t1 returns the window's rows (12.0), on any
 * thread count. */
static void test_parity_decode_recomputes_the_window_v71(void **state)
{
    (void)state;
    hst_model *m = stressed_v71(13);
    const int n = 80;
    int ids[80];
    prompt_ids(ids, n);
    float *calls = malloc(sizeof(float) * n * V_TEST), *window = malloc(sizeof(float) * n * V_TEST);
    assert_true(calls && window);
    const int split[] = {50, 1, 1, 13, 1, 14};
    logits_by_calls(m, NULL, HST_MODE_PARITY, ids, n, split, 6, calls);
    hst_error err = {{0}};
    for (int threads = 2; threads <= 3; threads++) { /* the same bits on any thread count */
        hst_pool *pool = hst_pool_create(threads, NULL, NULL, &err);
        hst_pool_set_adaptive(pool, 0); /* every job on the whole team: the test compares thread counts */
        assert_non_null(pool);
        logits_by_calls(m, pool, HST_MODE_PARITY, ids, n, split, 6, window);
        first_difference(calls, window, n, "parity calls on 2 or 3 threads vs 1");
        hst_pool_free(pool);
    }
    const int ends[] = {50, 51, 52, 65, 66, 80}; /* the windows each call ended */
    for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
        const int whole[] = {ends[k]};
        logits_by_calls(m, NULL, HST_MODE_PARITY, ids, ends[k], whole, 1, window);
        const int first = k == 0 ? 0 : ends[k - 1];
        first_difference(calls + (size_t)first * V_TEST, window + (size_t)first * V_TEST, ends[k] - first,
                         "parity call vs its window's prefill");
    }
    /* Parity and causal agree at S = 1 only (12.D.2.7, 12.D.3). */
    const int whole[] = {n}, single[] = {1};
    logits_by_calls(m, NULL, HST_MODE_CAUSAL, ids, 1, single, 1, calls);
    logits_by_calls(m, NULL, HST_MODE_PARITY, ids, 1, single, 1, window);
    assert_true(same_bits(calls, window, sizeof(float) * V_TEST));
    logits_by_calls(m, NULL, HST_MODE_CAUSAL, ids, n, whole, 1, calls);
    logits_by_calls(m, NULL, HST_MODE_PARITY, ids, n, whole, 1, window);
    for (int t = 0; t < n; t++)
        assert_false(same_bits(calls + (size_t)t * V_TEST, window + (size_t)t * V_TEST, sizeof(float) * V_TEST));
    free(calls);
    free(window);
    hst_model_free(m);
}

/* hst_session_set_mode replays the history: the next row equals a fresh session's. */
static void test_mode_switch_replays_history_v71(void **state)
{
    (void)state;
    hst_model *m = stressed_v71(17);
    int ids[41];
    prompt_ids(ids, 41);
    float a[V_TEST], b[V_TEST];
    hst_error err = {{0}};
    hst_session *s = session_of(m, NULL, HST_MODE_CAUSAL);
    forward(s, ids, 40, NULL);
    assert_int_equal(hst_session_set_mode(s, HST_MODE_PARITY, &err), 0);
    forward(s, ids + 40, 1, a);
    hst_session *fresh = session_of(m, NULL, HST_MODE_PARITY);
    forward_last(fresh, ids, 41, b);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(hst_session_set_mode(s, HST_MODE_CAUSAL, &err), 0);
    hst_session_reset(fresh);
    assert_int_equal(hst_session_set_mode(fresh, HST_MODE_CAUSAL, &err), 0);
    forward(fresh, ids, 40, NULL);
    forward(s, ids + 40, 1, a); /* position 41 after the replay of 41 tokens */
    forward(fresh, ids + 40, 1, b);
    forward(fresh, ids + 40, 1, b);
    assert_memory_equal(a, b, sizeof a);
    hst_session_free(s);
    hst_session_free(fresh);
    hst_model_free(m);
}

/* ---- sections and figures (12.D.6, 12.D.7) ---------------------------------------------------- */

static double section_total(const hst_session *s, int *count)
{
    double flops[64];
    *count = hst_session_section_count(s);
    assert_true(*count <= 64);
    hst_session_last_section_flops(s, flops);
    double total = 0;
    for (int i = 0; i < *count; i++)
        total += flops[i];
    return total;
}

static void test_sections_and_flops_match_the_figures_v71(void **state)
{
    (void)state;
    hst_model *m = tiny_v71(19);
    for (int l = 0; l < L_TEST; l++) { /* every block kept: the figures' upper bound is exact */
        char name[96];
        snprintf(name, sizeof name, "attention_layers.%d.block_router.2.bias", l);
        tensor(m, name)[0] = 100.0f;
    }
    rebuild(m);
    const hst_config *c = hst_model_config(m);
    static const char *const names[] = {"embed",  "multires.1", "multires.2", "multires.4", "multires.8",
                                        "fusion", "moe",        "attn.0",     "attn.1",     "lattice", "head"};
    int ids[130], count;
    prompt_ids(ids, 130);
    float *logits = malloc(sizeof(float) * 130 * V_TEST);
    assert_non_null(logits);
    for (int parity = 0; parity < 2; parity++) {
        const hst_mode mode = parity ? HST_MODE_PARITY : HST_MODE_CAUSAL;
        hst_session *s = session_of(m, NULL, mode);
        hst_session_set_timing(s, 1);
        assert_int_equal(hst_session_section_count(s), (int)(sizeof names / sizeof names[0]));
        for (int i = 0; i < hst_session_section_count(s); i++)
            assert_string_equal(hst_session_section_name(s, i), names[i]);
        forward(s, ids, 120, logits); /* all rows' logits: 2DV each */
        double want = hst_flops_prefill_per_token(c, mode, 120) * 120;
        assert_true(fabs(section_total(s, &count) - want) <= 1e-9 * want);
        for (int t = 120; t < 128; t++) { /* t = 127 completes r = 2, 4 and 8 */
            forward(s, ids + t, 1, logits);
            /* parity's figure counts the head on every window row; the call computes the returned one */
            want = hst_flops_decode(c, mode, t) - (parity ? 2.0 * D_TEST * V_TEST * t : 0);
            if (fabs(section_total(s, &count) - want) > 1e-9 * want)
                fail_msg("%s decode at %d: sections %.0f FLOPs, figure %.0f", hst_mode_name(mode), t,
                         section_total(s, &count), want);
        }
        hst_session_free(s);
    }
    free(logits);
    hst_model_free(m);
}

/* 12.D.3.2: 2D·(Lmax + Lmax/2 + Lmax/4 + Lmax/8 + L·Lmax) floats (4.13 MB at
 * hst-v7.1) plus the few running sums and flags. */
static void test_decode_state_bytes_v71(void **state)
{
    (void)state;
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v7.1", &c), 0);
    const double D = c.d_model, Lmax = c.max_seq_len, L = c.n_layers;
    const double spec = 4.0 * 2 * D * (Lmax + 256 + 128 + 64 + L * Lmax);
    const double got = (double)hst_decode_state_bytes(&c);
    assert_true(got >= spec && got <= spec * 1.01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pe_table_float32_recipe_and_lattice_encoder_v71),
        cmocka_unit_test(test_moe_top2_lowest_index_ties_unrenormalised_v71),
        cmocka_unit_test(test_keep_flags_and_masking_parity_v71),
        cmocka_unit_test(test_keep_flags_and_masking_causal_v71),
        cmocka_unit_test(test_causal_decode_matches_prefill_every_split_v71),
        cmocka_unit_test(test_parity_decode_recomputes_the_window_v71),
        cmocka_unit_test(test_mode_switch_replays_history_v71),
        cmocka_unit_test(test_sections_and_flops_match_the_figures_v71),
        cmocka_unit_test(test_decode_state_bytes_v71),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
