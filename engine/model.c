/* model.c — configurations, presets, the canonical tensor table, random
 * initialisation, parameter counts and FLOP/byte figures (spec 2, 3, 6, 7, 8, 11). */
#include "engine/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hst_set_error(hst_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* ---- archs and presets (spec 3) ----------------------------------------- */

static const char *const arch_names[HST_ARCH_COUNT] = {"v3", "v4", "v5.2", "v6", "v6.1"};

const char *hst_arch_name(hst_arch arch)
{
    return (unsigned)arch < HST_ARCH_COUNT ? arch_names[arch] : "?";
}

int hst_arch_from_name(const char *name, hst_arch *out)
{
    for (int i = 0; i < HST_ARCH_COUNT; i++)
        if (strcmp(name, arch_names[i]) == 0) {
            *out = (hst_arch)i;
            return 0;
        }
    return -1;
}

typedef struct {
    const char *name;
    hst_config cfg;
} preset;

/* The published benchmark's configuration: V 5000, D 128, 4 heads, Lmax 512, Hz 8. */
static const preset presets[] = {
    {"hst-v3", {HST_ARCH_V3, 5000, 128, 4, 6, 512, 8}},
    {"hst-v4", {HST_ARCH_V4, 5000, 128, 4, 6, 512, 8}},
    {"hst-v5.2", {HST_ARCH_V5_2, 5000, 128, 4, 6, 512, 8}},
    {"hst-v6", {HST_ARCH_V6, 5000, 128, 4, 6, 512, 8}},
    {"hst-v6.1", {HST_ARCH_V6_1, 5000, 128, 4, 8, 512, 8}},
};
#define N_PRESETS ((int)(sizeof presets / sizeof presets[0]))

int hst_preset_count(void) { return N_PRESETS; }
const char *hst_preset_name(int i) { return i >= 0 && i < N_PRESETS ? presets[i].name : NULL; }

int hst_preset_config(const char *name, hst_config *out)
{
    for (int i = 0; i < N_PRESETS; i++)
        if (strcmp(name, presets[i].name) == 0) {
            *out = presets[i].cfg;
            return 0;
        }
    return -1;
}

const char *hst_preset_matching(const hst_config *cfg)
{
    for (int i = 0; i < N_PRESETS; i++)
        if (memcmp(cfg, &presets[i].cfg, sizeof *cfg) == 0)
            return presets[i].name;
    return NULL;
}

int hst_config_check(const hst_config *c, hst_error *err)
{
    if ((unsigned)c->arch >= HST_ARCH_COUNT) {
        hst_set_error(err, "config: bad metadata: unknown arch");
        return -1;
    }
    const struct { const char *key; int v; } dims[] = {
        {"hst.vocab_size", c->vocab_size}, {"hst.d_model", c->d_model},
        {"hst.n_heads", c->n_heads},       {"hst.n_layers", c->n_layers},
        {"hst.max_seq_len", c->max_seq_len}, {"hst.horizon", c->horizon},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v < 1) {
            hst_set_error(err, "config: bad metadata: %s = %d must be >= 1", dims[i].key, dims[i].v);
            return -1;
        }
    if (c->d_model % 4 != 0 || c->d_model % c->n_heads != 0) {
        hst_set_error(err, "config: bad metadata: d_model %d must be a multiple of 4 and of n_heads %d",
                      c->d_model, c->n_heads);
        return -1;
    }
    if (c->n_layers < 2) {
        hst_set_error(err, "config: bad metadata: n_layers %d must be >= 2", c->n_layers);
        return -1;
    }
    /* v6.1's original computes depth max(4, min(d, Lb)) and crashes when Lb < 4 (spec 3). */
    if (c->arch == HST_ARCH_V6_1 && c->n_layers / 2 < 4) {
        hst_set_error(err, "config: bad metadata: arch v6.1 needs n_layers >= 8 (got %d)", c->n_layers);
        return -1;
    }
    if (c->max_seq_len > 8192) {
        hst_set_error(err, "config: bad metadata: max_seq_len %d exceeds 8192", c->max_seq_len);
        return -1;
    }
    /* Keep every tensor's element count far below overflow of the offsets. */
    if ((int64_t)c->vocab_size * c->d_model * (c->horizon + 8) > (int64_t)1 << 34 ||
        c->d_model > 16384 || c->n_layers > 1024) {
        hst_set_error(err, "config: bad metadata: model too large (V %d, D %d, L %d, Hz %d)",
                      c->vocab_size, c->d_model, c->n_layers, c->horizon);
        return -1;
    }
    return 0;
}

/* ---- the spine (spec 2) ------------------------------------------------- */

int hst_spine(int max_seq_len, int64_t out[16])
{
    int n = 0;
    out[n++] = 0;
    out[n++] = 2;
    out[n++] = 4;
    for (;;) {
        int64_t next = 2 * (out[n - 1] + out[n - 2] + out[n - 3]);
        if (next >= max_seq_len || n >= 16)
            break;
        out[n++] = next;
    }
    return n;
}

/* The normative table of spec 2, in the order the GRU reads it. */
static const struct {
    int pos;
    int m;
    int counts[3];
    int levels[3][3];
} spine_table[] = {
    {12, 1, {3, 0, 0}, {{0, 2, 4}}},
    {36, 2, {3, 1, 0}, {{2, 12, 4}, {0}}},
    {104, 2, {3, 2, 0}, {{4, 36, 12}, {0, 2}}},
    {304, 2, {3, 3, 0}, {{104, 36, 12}, {0, 2, 4}}},
    {888, 3, {3, 3, 1}, {{304, 104, 36}, {2, 12, 4}, {0}}},
    {2592, 3, {3, 3, 2}, {{888, 304, 104}, {4, 36, 12}, {0, 2}}},
    {7568, 3, {3, 3, 3}, {{2592, 304, 888}, {104, 36, 12}, {0, 2, 4}}},
};

int hst_spine_levels(int p, int levels[3][3], int counts[3])
{
    for (size_t i = 0; i < sizeof spine_table / sizeof spine_table[0]; i++)
        if (spine_table[i].pos == p) {
            memcpy(levels, spine_table[i].levels, sizeof spine_table[i].levels);
            memcpy(counts, spine_table[i].counts, sizeof spine_table[i].counts);
            return spine_table[i].m;
        }
    counts[0] = counts[1] = counts[2] = 0;
    return 0;
}

/* ---- the tensor table (spec 4.6, 6) -------------------------------------- */

typedef struct {
    hst_tensor_spec *v;
    int n, cap;
    int oom;
} spec_list;

static void add(spec_list *l, unsigned flags, hst_init_kind init, double bound, int ndim,
                const int64_t *shape, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void add(spec_list *l, unsigned flags, hst_init_kind init, double bound, int ndim,
                const int64_t *shape, const char *fmt, ...)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        hst_tensor_spec *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    hst_tensor_spec *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= (uint64_t)shape[i];
    }
    t->flags = flags;
    t->init = init;
    t->init_bound = bound;
}

/* Common shapes of PyTorch modules. Linear: weight U(±1/√in), bias likewise (spec 8). */
static void add_linear(spec_list *l, unsigned fl, int64_t out, int64_t in, int bias, const char *prefix)
{
    int64_t w[2] = {out, in}, b[1] = {out};
    double bound = 1.0 / sqrt((double)in);
    add(l, fl, HST_INIT_UNIFORM, bound, 2, w, "%s.weight", prefix);
    if (bias)
        add(l, fl, HST_INIT_UNIFORM, bound, 1, b, "%s.bias", prefix);
}

static void add_layernorm(spec_list *l, unsigned fl, int64_t n, const char *prefix)
{
    int64_t s[1] = {n};
    add(l, fl, HST_INIT_ONES, 0, 1, s, "%s.weight", prefix);
    add(l, fl, HST_INIT_ZEROS, 0, 1, s, "%s.bias", prefix);
}

static void add_embedding(spec_list *l, unsigned fl, int64_t rows, int64_t d, const char *name)
{
    int64_t s[2] = {rows, d};
    add(l, fl, HST_INIT_NORMAL, 0, 2, s, "%s", name);
}

/* nn.MultiheadAttention's packed projections (spec 8). */
static void add_mha(spec_list *l, unsigned fl, int64_t D, const char *prefix)
{
    int64_t in_w[2] = {3 * D, D}, in_b[1] = {3 * D}, out_w[2] = {D, D}, out_b[1] = {D};
    add(l, fl, HST_INIT_UNIFORM, sqrt(6.0 / (4.0 * (double)D)), 2, in_w, "%s.in_proj_weight", prefix);
    add(l, fl, HST_INIT_ZEROS, 0, 1, in_b, "%s.in_proj_bias", prefix);
    add(l, fl, HST_INIT_UNIFORM, 1.0 / sqrt((double)D), 2, out_w, "%s.out_proj.weight", prefix);
    add(l, fl, HST_INIT_ZEROS, 0, 1, out_b, "%s.out_proj.bias", prefix);
}

/* GRU / LSTM tensors: U(±1/√hidden) (spec 8). */
static void add_rnn(spec_list *l, unsigned fl, int64_t gates, int64_t in, int64_t hidden, const char *prefix)
{
    double bound = 1.0 / sqrt((double)hidden);
    int64_t ih[2] = {gates, in}, hh[2] = {gates, hidden}, b[1] = {gates};
    add(l, fl, HST_INIT_UNIFORM, bound, 2, ih, "%s.weight_ih_l0", prefix);
    add(l, fl, HST_INIT_UNIFORM, bound, 2, hh, "%s.weight_hh_l0", prefix);
    add(l, fl, HST_INIT_UNIFORM, bound, 1, b, "%s.bias_ih_l0", prefix);
    add(l, fl, HST_INIT_UNIFORM, bound, 1, b, "%s.bias_hh_l0", prefix);
}

static void add_conv3x3(spec_list *l, unsigned fl, int64_t out, int64_t in, const char *prefix)
{
    double bound = 1.0 / sqrt(9.0 * (double)in);
    int64_t w[4] = {out, in, 3, 3}, b[1] = {out};
    add(l, fl, HST_INIT_UNIFORM, bound, 4, w, "%s.weight", prefix);
    add(l, fl, HST_INIT_UNIFORM, bound, 1, b, "%s.bias", prefix);
}

/* The PreBlock of spec 4.2, in the document's order. */
static void add_preblock(spec_list *l, unsigned fl, int64_t D, const char *prefix)
{
    char p[96];
    static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s.attn.%s", prefix, proj[i]);
        add_linear(l, fl, D, D, 0, p);
    }
    snprintf(p, sizeof p, "%s.norm1", prefix);
    add_layernorm(l, fl, D, p);
    snprintf(p, sizeof p, "%s.linear1", prefix);
    add_linear(l, fl, 4 * D, D, 1, p);
    snprintf(p, sizeof p, "%s.linear2", prefix);
    add_linear(l, fl, D, 4 * D, 1, p);
    snprintf(p, sizeof p, "%s.norm2", prefix);
    add_layernorm(l, fl, D, p);
}

static void add_spine_buffer(spec_list *l, int64_t n, const char *name)
{
    int64_t s[1] = {n};
    add(l, HST_T_BUFFER, HST_INIT_NONE, 0, 1, s, "%s", name);
}

static void add_lattice(spec_list *l, const hst_config *c, int n_spine, int max_level)
{
    const unsigned req = HST_T_REQUIRED, nt = HST_T_REQUIRED | HST_T_NEXT_TOKEN;
    const int64_t D = c->d_model;
    char p[96];
    add_spine_buffer(l, n_spine, "lattice_core.multi_level.analyzer.spine");
    for (int m = 0; m < 10; m++) {
        /* Only level_transforms.{m} for reachable m is read (spec 4.4, 7). */
        unsigned fl = (m >= 1 && m <= max_level) ? nt : req;
        snprintf(p, sizeof p, "lattice_core.multi_level.level_transforms.%d.0", m);
        add_linear(l, fl, D, D, 1, p);
        snprintf(p, sizeof p, "lattice_core.multi_level.level_transforms.%d.1", m);
        add_layernorm(l, fl, D, p);
        snprintf(p, sizeof p, "lattice_core.multi_level.level_transforms.%d.3", m);
        add_linear(l, fl, D, D, 1, p);
    }
    add_mha(l, nt, D, "lattice_core.multi_level.level_attention");
    add_linear(l, nt, D, 2 * D, 1, "lattice_core.multi_level.fusion.0");
    add_layernorm(l, nt, D, "lattice_core.multi_level.fusion.1");
    add_spine_buffer(l, n_spine, "lattice_core.path_weighted.analyzer.spine");
    add_linear(l, nt, 64, 1, 1, "lattice_core.path_weighted.path_weight_net.0");
    add_linear(l, nt, 1, 64, 1, "lattice_core.path_weighted.path_weight_net.2");
    add_linear(l, nt, D, 2 * D, 1, "lattice_core.path_weighted.message_fn.0");
    add_layernorm(l, nt, D, "lattice_core.path_weighted.message_fn.1");
    add_rnn(l, nt, 3 * D, D, D, "lattice_core.path_weighted.aggregate_fn");
    add_linear(l, nt, D, 2 * D, 1, "lattice_core.path_weighted.update_gate.0");
    add_linear(l, nt, 2 * D, 3 * D, 1, "lattice_core.meta_fusion.0");
    add_layernorm(l, nt, 2 * D, "lattice_core.meta_fusion.1");
    add_linear(l, nt, D, 2 * D, 1, "lattice_core.meta_fusion.3");
}

static void add_harmonic_head(spec_list *l, const hst_config *c)
{
    const int64_t D = c->d_model, V = c->vocab_size, Hz = c->horizon;
    add_linear(l, 0, Hz * D, D, 1, "harmonic_horizon_predictor.horizon_projection");
    add_linear(l, 0, V, D, 0, "harmonic_horizon_predictor.prediction_head");
    add_linear(l, 0, D / 4, D, 1, "harmonic_horizon_predictor.confidence_head.0");
    add_linear(l, 0, Hz, D / 4, 1, "harmonic_horizon_predictor.confidence_head.2");
}

static void add_recursive_head(spec_list *l, const hst_config *c)
{
    const int64_t D = c->d_model, V = c->vocab_size;
    add_linear(l, 0, V, D, 1, "horizon_predictor.coarse_predictor");
    add_linear(l, 0, V, 2 * D, 1, "horizon_predictor.medium_predictor");
    add_linear(l, 0, V, 2 * D, 1, "horizon_predictor.fine_predictor");
    add_embedding(l, 0, 20, D, "horizon_predictor.lattice_embeddings.weight");
    add_linear(l, 0, D, V, 1, "horizon_predictor.projection");
}

/* v6.1 modules the original never calls (spec 6), after the bottom blocks. */
static void add_v61_bottom_extras(spec_list *l, int64_t D)
{
    add_linear(l, 0, D, D, 1, "adaptive_bottom.task_analyzer.embed");
    add_linear(l, 0, 4, D, 1, "adaptive_bottom.task_analyzer.classifier");
    add_linear(l, 0, 8, 4, 1, "adaptive_bottom.depth_pred.net.0");
    add_linear(l, 0, 1, 8, 1, "adaptive_bottom.depth_pred.net.2");
}

static void add_v61_tail_extras(spec_list *l, const hst_config *c)
{
    const int64_t D = c->d_model, V = c->vocab_size, Hz = c->horizon;
    const int Lt = c->n_layers - c->n_layers / 2;
    int64_t basis[2] = {D, D};
    char p[96];
    add_linear(l, 0, D / 2, D, 1, "reasoning_head.residual_mlp.0");
    add_linear(l, 0, 1, D / 2, 1, "reasoning_head.residual_mlp.2");
    add(l, 0, HST_INIT_IDENTITY, 0, 2, basis, "continual_updater.basis");
    add_linear(l, 0, D / 20, D, 1, "continual_updater.sparse_proj");
    add_rnn(l, 0, 4 * D, 192, D, "multi_agent_controller.world_model");
    add_linear(l, 0, 64, D, 1, "multi_agent_controller.policy");
    add_conv3x3(l, 0, 2 * D, D, "video_diffusion.unet.0");
    add_conv3x3(l, 0, D, 2 * D, "video_diffusion.unet.2");
    add_embedding(l, 0, 1000, D, "video_diffusion.time_embed.weight");
    add_embedding(l, 0, V, D, "speculative_verifier.embed.weight");
    for (int j = 0; j < Lt; j++) {
        snprintf(p, sizeof p, "speculative_verifier.layers.%d.self_attn", j);
        add_mha(l, 0, D, p);
        snprintf(p, sizeof p, "speculative_verifier.layers.%d.multihead_attn", j);
        add_mha(l, 0, D, p);
        snprintf(p, sizeof p, "speculative_verifier.layers.%d.linear1", j);
        add_linear(l, 0, 2048, D, 1, p);
        snprintf(p, sizeof p, "speculative_verifier.layers.%d.linear2", j);
        add_linear(l, 0, D, 2048, 1, p);
        for (int k = 1; k <= 3; k++) {
            snprintf(p, sizeof p, "speculative_verifier.layers.%d.norm%d", j, k);
            add_layernorm(l, 0, D, p);
        }
    }
    add_linear(l, 0, Hz * V, D, 1, "speculative_verifier.proj");
    add_linear(l, 0, 1, D, 1, "speculative_verifier.conf_gate.0");
}

/* Highest number of levels m among processed positions < Lmax (spec 4.4). */
static int max_reachable_level(int max_seq_len)
{
    int m = 0;
    for (size_t i = 0; i < sizeof spine_table / sizeof spine_table[0]; i++)
        if (spine_table[i].pos < max_seq_len && spine_table[i].m > m)
            m = spine_table[i].m;
    return m;
}

int hst_tensor_specs(const hst_config *c, hst_tensor_spec **specs, int *n, hst_error *err)
{
    if (hst_config_check(c, err) != 0)
        return -1;
    spec_list l = {0};
    const unsigned nt = HST_T_REQUIRED | HST_T_NEXT_TOKEN;
    const int64_t D = c->d_model;
    const int Lb = c->n_layers / 2, Lt = c->n_layers - Lb;
    const int v61 = c->arch == HST_ARCH_V6_1;
    int64_t spine[16];
    int n_spine = hst_spine(c->max_seq_len, spine);
    char p[96];

    add_embedding(&l, nt, c->vocab_size, D, "token_embedding.weight");
    add_embedding(&l, nt, c->max_seq_len, D, "pos_embedding.weight");
    for (int i = 0; i < Lb; i++) {
        if (v61) {
            snprintf(p, sizeof p, "adaptive_bottom.layers.%d", i);
            add_preblock(&l, nt, D, p);
        } else {
            snprintf(p, sizeof p, "adaptive_bottom.%d.block", i);
            add_preblock(&l, nt, D, p);
            snprintf(p, sizeof p, "adaptive_bottom.%d.confidence_predictor.2", i);
            add_linear(&l, HST_T_REQUIRED, 1, D, 1, p);
        }
    }
    if (v61)
        add_v61_bottom_extras(&l, D);
    add_lattice(&l, c, n_spine, max_reachable_level(c->max_seq_len));
    for (int j = 0; j < Lt; j++) {
        snprintf(p, sizeof p, "top_stack.%d", j);
        add_preblock(&l, nt, D, p);
    }
    if (c->arch == HST_ARCH_V3 || c->arch == HST_ARCH_V4)
        add_harmonic_head(&l, c);
    else
        add_recursive_head(&l, c);
    add_linear(&l, nt, c->vocab_size, D, 0, "lm_head");
    add_layernorm(&l, nt, D, "ln_f");
    if (v61)
        add_v61_tail_extras(&l, c);
    if (l.oom) {
        free(l.v);
        hst_set_error(err, "config: out of memory building the tensor table");
        return -1;
    }
    *specs = l.v;
    *n = l.n;
    return 0;
}

int hst_spec_find(const hst_tensor_spec *specs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(specs[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- model objects --------------------------------------------------------- */

hst_model *hst_model_new(const hst_config *cfg, hst_error *err)
{
    hst_model *m = calloc(1, sizeof *m);
    if (!m) {
        hst_set_error(err, "model: out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    if (hst_tensor_specs(cfg, &m->specs, &m->n_specs, err) != 0) {
        free(m);
        return NULL;
    }
    m->data = calloc((size_t)m->n_specs, sizeof *m->data);
    m->present = calloc((size_t)m->n_specs, 1);
    if (!m->data || !m->present) {
        hst_model_free(m);
        hst_set_error(err, "model: out of memory");
        return NULL;
    }
    const char *p = hst_preset_matching(cfg);
    snprintf(m->preset, sizeof m->preset, "%s", p ? p : "custom");
    return m;
}

float *hst_model_tensor_alloc(hst_model *m, int i)
{
    m->present[i] = 1;
    if (m->specs[i].flags & HST_T_BUFFER)
        return NULL;
    free(m->data[i]);
    m->data[i] = calloc(m->specs[i].numel ? m->specs[i].numel : 1, sizeof(float));
    if (!m->data[i])
        m->present[i] = 0;
    return m->data[i];
}

int hst_model_finalize(hst_model *m, hst_error *err)
{
    for (int i = 0; i < m->n_specs; i++)
        if ((m->specs[i].flags & HST_T_REQUIRED) && !m->present[i]) {
            hst_set_error(err, "%s: missing tensor: %s", m->source, m->specs[i].name);
            return -1;
        }
    return hst_runtime_build(m, err);
}

void hst_model_free(hst_model *m)
{
    if (!m)
        return;
    hst_runtime_free(m);
    if (m->data)
        for (int i = 0; i < m->n_specs; i++)
            free(m->data[i]);
    free(m->data);
    free(m->present);
    free(m->specs);
    free(m);
}

/* ---- random initialisation (spec 8) ---------------------------------------- */

typedef struct {
    uint64_t s[4];
    int has_spare;
    double spare;
} init_rng;

/* Box–Muller; the second value of each pair is kept for the next draw. */
static double rng_normal(init_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = hst_rng_uniform(r->s), u2 = hst_rng_uniform(r->s);
    if (u1 < 1e-300)
        u1 = 1e-300;
    double radius = sqrt(-2.0 * log(u1)), angle = 2.0 * M_PI * u2;
    r->spare = radius * sin(angle);
    r->has_spare = 1;
    return radius * cos(angle);
}

static void init_tensor(const hst_tensor_spec *t, float *dst, init_rng *r)
{
    switch (t->init) {
    case HST_INIT_UNIFORM:
        for (uint64_t i = 0; i < t->numel; i++)
            dst[i] = (float)(t->init_bound * (2.0 * hst_rng_uniform(r->s) - 1.0));
        break;
    case HST_INIT_NORMAL:
        for (uint64_t i = 0; i < t->numel; i++)
            dst[i] = (float)rng_normal(r);
        break;
    case HST_INIT_ONES:
        for (uint64_t i = 0; i < t->numel; i++)
            dst[i] = 1.0f;
        break;
    case HST_INIT_IDENTITY:
        for (int64_t i = 0; i < t->shape[0] && i < t->shape[1]; i++)
            dst[i * t->shape[1] + i] = 1.0f;
        break;
    case HST_INIT_ZEROS:
    case HST_INIT_NONE:
        break;
    }
}

hst_model *hst_model_random(const hst_config *cfg, uint64_t seed, hst_error *err)
{
    hst_model *m = hst_model_new(cfg, err);
    if (!m)
        return NULL;
    init_rng r = {0};
    hst_rng_seed(r.s, seed);
    /* One stream, tensors drawn in canonical order: same weights for a given
     * preset and seed whatever else changes (spec 8). */
    for (int i = 0; i < m->n_specs; i++) {
        float *dst = hst_model_tensor_alloc(m, i);
        if (!dst && !(m->specs[i].flags & HST_T_BUFFER)) {
            hst_set_error(err, "model: out of memory allocating %s", m->specs[i].name);
            hst_model_free(m);
            return NULL;
        }
        if (dst)
            init_tensor(&m->specs[i], dst, &r);
    }
    m->seed = seed;
    m->has_seed = 1;
    snprintf(m->source, sizeof m->source, "random (seed %llu)", (unsigned long long)seed);
    if (hst_model_finalize(m, err) != 0) {
        hst_model_free(m);
        return NULL;
    }
    return m;
}

hst_model *hst_model_open(const char *name, uint64_t seed, hst_error *err)
{
    return hst_model_open_opts(name, seed, NULL, err);
}

hst_model *hst_model_open_opts(const char *name, uint64_t seed, const hst_load_opts *opts, hst_error *err)
{
    hst_config cfg;
    if (hst_preset_config(name, &cfg) == 0) {
        hst_model *m = hst_model_random(&cfg, seed, err);
        if (m)
            snprintf(m->preset, sizeof m->preset, "%s", name);
        return m;
    }
    if (access(name, F_OK) == 0)
        return hst_model_load_opts(name, opts, err);
    char list[256] = "";
    for (int i = 0; i < N_PRESETS; i++) {
        strcat(list, i ? ", " : "");
        strcat(list, presets[i].name);
    }
    hst_set_error(err, "%s: unknown model: not a preset (%s) and no such file", name, list);
    return NULL;
}

const char *hst_arch_class(hst_arch arch)
{
    static const char *const classes[HST_ARCH_COUNT] = {"HSTv3Ultra", "HSTv4Unified", "HSTv5_2Unified",
                                                        "HSTv6Giga", "HSTv6Giga"};
    return (unsigned)arch < HST_ARCH_COUNT ? classes[arch] : "?";
}

/* ---- accessors --------------------------------------------------------------- */

const hst_config *hst_model_config(const hst_model *m) { return &m->cfg; }
const char *hst_model_preset(const hst_model *m) { return m->preset; }
const char *hst_model_source(const hst_model *m) { return m->source; }
uint64_t hst_model_seed(const hst_model *m) { return m->has_seed ? m->seed : 0; }
uint64_t hst_model_nonfinite_weights(const hst_model *m, const char **first_tensor)
{
    if (first_tensor)
        *first_tensor = m->nonfinite_weights ? m->specs[m->nonfinite_first].name : NULL;
    return m->nonfinite_weights;
}

int hst_model_warning(const hst_model *m, char *buf, size_t size)
{
    const char *first;
    uint64_t n = hst_model_nonfinite_weights(m, &first);
    if (n == 0) {
        if (size)
            buf[0] = '\0';
        return 0;
    }
    /* The same words as the loader's rejection (safetensors.c, copy_tensors). */
    snprintf(buf, size, "%s: non-finite weights: %llu NaN/Inf values, the first in tensor %s", m->source,
             (unsigned long long)n, first);
    return 1;
}
int hst_model_tensor_count(const hst_model *m)
{
    int n = 0;
    for (int i = 0; i < m->n_specs; i++)
        n += m->present[i];
    return n;
}

int hst_model_tensor(const hst_model *m, int idx, hst_tensor_info *out)
{
    for (int i = 0; i < m->n_specs; i++) {
        if (!m->present[i])
            continue;
        if (idx-- > 0)
            continue;
        const hst_tensor_spec *t = &m->specs[i];
        out->name = t->name;
        out->dtype = (t->flags & HST_T_BUFFER) ? "I64" : "F32";
        out->ndim = t->ndim;
        memcpy(out->shape, t->shape, sizeof out->shape);
        out->numel = t->numel;
        out->next_token = (t->flags & HST_T_NEXT_TOKEN) != 0;
        return 0;
    }
    return -1;
}

const float *hst_model_tensor_data(const hst_model *m, const char *name, uint64_t *numel)
{
    int i = hst_spec_find(m->specs, m->n_specs, name);
    if (i < 0 || !m->present[i] || !m->data[i])
        return NULL;
    if (numel)
        *numel = m->specs[i].numel;
    return m->data[i];
}

/* ---- counts (spec 7) ------------------------------------------------------------ */

hst_counts hst_model_counts(const hst_model *m)
{
    hst_counts c = {0};
    for (int i = 0; i < m->n_specs; i++) {
        if (!m->present[i])
            continue;
        c.n_tensors++;
        const hst_tensor_spec *t = &m->specs[i];
        if (t->flags & HST_T_BUFFER)
            continue;
        c.params_total += t->numel;
        c.weight_bytes += t->numel * sizeof(float);
        if (t->flags & HST_T_NEXT_TOKEN) {
            /* Only the value rows (D² + D) of level_attention's in_proj are read. */
            if (strstr(t->name, "level_attention.in_proj"))
                c.params_next_token += t->numel / 3;
            else
                c.params_next_token += t->numel;
        }
    }
    return c;
}

/* ---- FLOPs and bytes (spec 11) ---------------------------------------------------- */

static int ancestors_of(int p)
{
    int levels[3][3], counts[3];
    int m = hst_spine_levels(p, levels, counts);
    int n = 0;
    for (int l = 0; l < m; l++)
        n += counts[l];
    return n;
}

double hst_flops_prefill_per_token(const hst_config *c, int S)
{
    double D = c->d_model, V = c->vocab_size, L = c->n_layers;
    double f = L * (24 * D * D + 2 * D * (S + 1)) + 16 * D * D + 2 * D * V;
    double lattice = 0;
    for (size_t i = 0; i < sizeof spine_table / sizeof spine_table[0]; i++)
        if (spine_table[i].pos < S)
            lattice += 16 * D * D * (1 + ancestors_of(spine_table[i].pos));
    return f + lattice / S;
}

double hst_flops_decode(const hst_config *c, int t)
{
    double D = c->d_model, V = c->vocab_size, L = c->n_layers;
    double f = L * (24 * D * D + 4 * D * (t + 1)) + 16 * D * D + 2 * D * V;
    int n = ancestors_of(t);
    if (n > 0)
        f += 16 * D * D * (1 + n);
    return f;
}

/* Weights a non-spine decode step reads: L·blk + meta fusion (8D² + 7D) + VD + 4D floats (spec 11). */
static double next_token_weight_bytes(const hst_config *c)
{
    double D = c->d_model, V = c->vocab_size, L = c->n_layers;
    double blk = 12 * D * D + 9 * D;
    return 4.0 * (L * blk + 8 * D * D + 7 * D + V * D + 4 * D);
}

double hst_bytes_decode(const hst_config *c, int t)
{
    return next_token_weight_bytes(c) + 2.0 * c->n_layers * c->d_model * 4.0 * (t + 1);
}

double hst_bytes_prefill(const hst_config *c, int S)
{
    return next_token_weight_bytes(c) + 2.0 * c->n_layers * c->d_model * 4.0 * S;
}
