/* model.c — archs, presets, configurations and modes; model objects, random
 * initialisation, parameter counts, precision, and the per-core figures
 * (spec 3, 7, 8, 11, 12.0). The tensor table is tensors.c's. */
#include "engine/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- archs and presets (spec 3) ----------------------------------------- */

static const struct {
    const char *name;
    const char *class_name; /* the original PyTorch module (spec 3, 12) */
    char core;
} archs[HST_ARCH_COUNT] = {
    [HST_ARCH_V3] = {"v3", "HSTv3Ultra", 'A'},
    [HST_ARCH_V4] = {"v4", "HSTv4Unified", 'A'},
    [HST_ARCH_V5_2] = {"v5.2", "HSTv5_2Unified", 'B'},
    [HST_ARCH_V6] = {"v6", "HSTv6Giga", 'B'},
    [HST_ARCH_V6_1] = {"v6.1", "HSTv6Giga", 'B'},
    [HST_ARCH_V7_0] = {"v7.0", "HSTv7Agile", 'C'},
    [HST_ARCH_V7_1] = {"v7.1", "HSTv7_1Ultimate", 'D'},
    [HST_ARCH_V8] = {"v8", "HSTv8Crystalline", 'E'},
};

const char *hst_arch_name(hst_arch arch)
{
    return (unsigned)arch < HST_ARCH_COUNT ? archs[arch].name : "?";
}

const char *hst_arch_class(hst_arch arch)
{
    return (unsigned)arch < HST_ARCH_COUNT ? archs[arch].class_name : "?";
}

char hst_arch_core(hst_arch arch)
{
    return (unsigned)arch < HST_ARCH_COUNT ? archs[arch].core : '?';
}

int hst_arch_implemented(hst_arch arch)
{
    const hst_core_ops *ops = hst_core_ops_for(arch);
    return ops && ops->forward != NULL;
}

/* Cores C, D, E are non-causal as written; A and B are causal (spec 12.0). */
int hst_arch_modes_differ(hst_arch arch)
{
    char core = hst_arch_core(arch);
    return core == 'C' || core == 'D' || core == 'E';
}

const hst_core_ops *hst_core_ops_for(hst_arch arch)
{
    switch (hst_arch_core(arch)) {
    case 'A':
    case 'B': return &hst_core_ab;
    case 'C': return &hst_core_c;
    case 'D': return &hst_core_d;
    case 'E': return &hst_core_e;
    default: return NULL;
    }
}

int hst_arch_from_name(const char *name, hst_arch *out)
{
    for (int i = 0; i < HST_ARCH_COUNT; i++)
        if (strcmp(name, archs[i].name) == 0) {
            *out = (hst_arch)i;
            return 0;
        }
    return -1;
}

static const char *const mode_names[HST_MODE_COUNT] = {"causal", "parity"};

const char *hst_mode_name(hst_mode mode)
{
    return (unsigned)mode < HST_MODE_COUNT ? mode_names[mode] : "?";
}

int hst_mode_from_name(const char *name, hst_mode *out)
{
    for (int i = 0; i < HST_MODE_COUNT; i++)
        if (strcmp(name, mode_names[i]) == 0) {
            *out = (hst_mode)i;
            return 0;
        }
    return -1;
}

typedef struct {
    const char *name;
    hst_config cfg;
} preset;

/* The published benchmark's configuration: V 5000, D 128, 4 heads, Lmax 512,
 * Hz 8 (spec 3, 12). hst-chaos is hst-v7.0 under the name of the report's
 * eighth row (12.C.9); hst_preset_matching finds hst-v7.0 first. */
static const preset presets[] = {
    {"hst-v3", {HST_ARCH_V3, 5000, 128, 4, 6, 512, 8}},
    {"hst-v4", {HST_ARCH_V4, 5000, 128, 4, 6, 512, 8}},
    {"hst-v5.2", {HST_ARCH_V5_2, 5000, 128, 4, 6, 512, 8}},
    {"hst-v6", {HST_ARCH_V6, 5000, 128, 4, 6, 512, 8}},
    {"hst-v6.1", {HST_ARCH_V6_1, 5000, 128, 4, 8, 512, 8}},
    {"hst-v7.0", {HST_ARCH_V7_0, 5000, 128, 4, 8, 512, 8}},
    {"hst-chaos", {HST_ARCH_V7_0, 5000, 128, 4, 8, 512, 8}},
    {"hst-v7.1", {HST_ARCH_V7_1, 5000, 128, 4, 6, 512, 8}},
    {"hst-v8", {HST_ARCH_V8, 5000, 128, 4, 6, 512, 8}},
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

/* How many V·D-sized tensors the arch's table holds, counting Hz·V-row ones
 * Hz times: what bounds the largest tensor and the file (spec 6, 12). */
static int64_t vocab_tables(const hst_config *c)
{
    switch (hst_arch_core(c->arch)) {
    case 'C': return c->horizon + 9;       /* token, lm_head, verifier, 6 of the recursive head, Hz·V proj */
    case 'D': return c->horizon + 67;      /* token, lm_head, verifier, 64V horizon rows, Hz·V proj */
    case 'E': return 3 * c->horizon + 3;   /* token, verifier, Hz·V·2D horizon, Hz·V proj */
    default: return c->horizon + 8;
    }
}

/* Section 3's constraints and those 12.0 adds for v7.0, v7.1, v8. */
static int check_shape_rules(const hst_config *c, hst_error *err)
{
    const char core = hst_arch_core(c->arch);
    const int stage2 = core == 'C' || core == 'D' || core == 'E';
    if (c->d_model % 4 != 0 || c->d_model % c->n_heads != 0) {
        hst_set_error(err, "config: bad metadata: d_model %d must be a multiple of 4 and of n_heads %d",
                      c->d_model, c->n_heads);
        return -1;
    }
    /* Their fixed 8-head layers (spec 12.0; the original fails to construct otherwise). */
    if (stage2 && c->d_model % 8 != 0) {
        hst_set_error(err, "config: bad metadata: arch %s needs d_model a multiple of 8 (got %d)",
                      hst_arch_name(c->arch), c->d_model);
        return -1;
    }
    /* Cores D and E have no bottom/top split (12.D.1, 12.E.1). */
    int min_layers = core == 'D' || core == 'E' ? 1 : 2;
    if (c->n_layers < min_layers) {
        hst_set_error(err, "config: bad metadata: n_layers %d must be >= %d", c->n_layers, min_layers);
        return -1;
    }
    /* v6.1's original computes depth max(4, min(d, Lb)) and crashes when Lb < 4 (spec 3). */
    if (c->arch == HST_ARCH_V6_1 && c->n_layers / 2 < 4) {
        hst_set_error(err, "config: bad metadata: arch v6.1 needs n_layers >= 8 (got %d)", c->n_layers);
        return -1;
    }
    return 0;
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
    if (check_shape_rules(c, err) != 0)
        return -1;
    if (c->max_seq_len > 8192) {
        hst_set_error(err, "config: bad metadata: max_seq_len %d exceeds 8192", c->max_seq_len);
        return -1;
    }
    /* Keep every tensor's element count far below overflow of the offsets. */
    if ((int64_t)c->vocab_size * c->d_model * vocab_tables(c) > (int64_t)1 << 34 ||
        c->d_model > 16384 || c->n_layers > 1024) {
        hst_set_error(err, "config: bad metadata: model too large (V %d, D %d, L %d, Hz %d)",
                      c->vocab_size, c->d_model, c->n_layers, c->horizon);
        return -1;
    }
    return 0;
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
    m->ops = hst_core_ops_for(cfg->arch);
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
    if (m->specs[i].flags & (HST_T_I64 | HST_T_TIED))
        return NULL;
    free(m->data[i]);
    m->data[i] = calloc(m->specs[i].numel ? m->specs[i].numel : 1, sizeof(float));
    if (!m->data[i])
        m->present[i] = 0;
    return m->data[i];
}

const float *hst_model_data(const hst_model *m, int i)
{
    if (m->specs[i].flags & HST_T_TIED)
        i = m->specs[i].tie_to; /* one copy: the tie is the other name of that tensor */
    return m->present[i] ? m->data[i] : NULL;
}

static void free_runtime(hst_model *m)
{
    if (m->runtime && m->ops->runtime_free)
        m->ops->runtime_free(m->runtime, &m->cfg);
    m->runtime = NULL;
}

/* The core's view of the tensors in precision p; NULL (and no error) for a
 * core that has none in this build. */
static int build_runtime(hst_model *m, hst_precision p, void **out, hst_error *err)
{
    *out = NULL;
    if (!m->ops->runtime_build)
        return 0;
    *out = m->ops->runtime_build(m, p, err);
    return *out ? 0 : -1;
}

int hst_model_finalize(hst_model *m, hst_error *err)
{
    for (int i = 0; i < m->n_specs; i++)
        if ((m->specs[i].flags & HST_T_REQUIRED) && !m->present[i]) {
            hst_set_error(err, "%s: missing tensor: %s", m->source, m->specs[i].name);
            return -1;
        }
    return build_runtime(m, m->precision, &m->runtime, err);
}

void hst_model_free(hst_model *m)
{
    if (!m)
        return;
    free_runtime(m);
    if (m->data)
        for (int i = 0; i < m->n_specs; i++)
            free(m->data[i]);
    free(m->data);
    free(m->present);
    free(m->specs);
    free(m);
}

/* ---- precision (hst.h) ------------------------------------------------------- */

/* Sessions read m->runtime at every call, so the old view can go at once. */
int hst_model_set_precision(hst_model *m, hst_precision p, hst_error *err)
{
    if ((unsigned)p >= HST_PRECISION_COUNT) {
        hst_set_error(err, "precision: unknown precision %d (f32, bf16, int8)", (int)p);
        return -1;
    }
    if (m->precision == p)
        return 0;
    void *fresh;
    if (build_runtime(m, p, &fresh, err) != 0)
        return -1;
    free_runtime(m);
    m->runtime = fresh;
    m->precision = p;
    return 0;
}

hst_precision hst_model_precision(const hst_model *m) { return m->precision; }

uint64_t hst_model_packed_bytes(const hst_model *m)
{
    return m->runtime && m->ops->packed_bytes ? m->ops->packed_bytes(m->runtime, &m->cfg) : 0;
}

/* ---- resolving tensors for a core's runtime ---------------------------------- */

const float *hst_resolve(hst_resolver *r, const char *fmt, ...)
{
    static const float zero[1];
    if (r->failed)
        return zero;
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int i = hst_spec_find(r->m->specs, r->m->n_specs, name);
    const float *data = i < 0 ? NULL : hst_model_data(r->m, i);
    if (!data) {
        hst_set_error(r->err, "%s: missing tensor: %s", r->m->source, name);
        r->failed = 1;
        return zero;
    }
    return data;
}

static void resolve_pack_as(hst_resolver *r, hst_packed *dst, const float *W, int N, int K, hst_precision precision)
{
    if (r->failed)
        return;
    if (hst_pack_precision(dst, W, N, K, precision) != 0) {
        hst_set_error(r->err, "%s: out of memory packing weights", r->m->source);
        r->failed = 1;
    }
}

void hst_resolve_pack(hst_resolver *r, hst_packed *dst, const float *W, int N, int K)
{
    resolve_pack_as(r, dst, W, N, K, HST_PRECISION_F32);
}

void hst_resolve_pack_hot(hst_resolver *r, hst_packed *dst, const float *W, int N, int K)
{
    resolve_pack_as(r, dst, W, N, K, r->precision);
}

/* ---- random initialisation (spec 8) ---------------------------------------- */

/* v8's positional table for random init (spec 12.E.2.1): pe[t][2i] =
 * RN32(sin(t·ω_i)), pe[t][2i+1] = RN32(cos(t·ω_i)), ω_i = 10000^(-2i/D),
 * all in double. A loaded file's table is used as stored, never this one. */
static void init_sinusoid(const hst_tensor_spec *t, float *dst)
{
    const int64_t rows = t->shape[0], D = t->shape[1];
    for (int64_t i = 0; 2 * i < D; i++) {
        double omega = pow(10000.0, -2.0 * (double)i / (double)D);
        for (int64_t pos = 0; pos < rows; pos++) {
            dst[pos * D + 2 * i] = (float)sin((double)pos * omega);
            if (2 * i + 1 < D)
                dst[pos * D + 2 * i + 1] = (float)cos((double)pos * omega);
        }
    }
}

static void init_tensor(const hst_tensor_spec *t, float *dst, hst_init_rng *r)
{
    switch (t->init) {
    case HST_INIT_UNIFORM:
        for (uint64_t i = 0; i < t->numel; i++)
            dst[i] = (float)(t->init_scale * (2.0 * hst_rng_uniform(r->s) - 1.0));
        break;
    case HST_INIT_NORMAL:
        for (uint64_t i = 0; i < t->numel; i++)
            dst[i] = (float)(t->init_scale * hst_init_rng_normal(r));
        break;
    case HST_INIT_SINUSOID:
        init_sinusoid(t, dst);
        break;
    case HST_INIT_ONES:
        for (uint64_t i = 0; i < t->numel; i++)
            dst[i] = 1.0f;
        break;
    case HST_INIT_IDENTITY:
        for (int64_t i = 0; i < t->shape[0] && i < t->shape[1]; i++)
            dst[i * t->shape[1] + i] = 1.0f;
        break;
    case HST_INIT_ZEROS:  /* the storage is zeroed */
    case HST_INIT_SPINE3: /* I64 spines are written from hst_spine_of */
    case HST_INIT_SPINE2:
    case HST_INIT_TIED:   /* no storage of its own */
        break;
    }
}

hst_model *hst_model_random(const hst_config *cfg, uint64_t seed, hst_error *err)
{
    hst_model *m = hst_model_new(cfg, err);
    if (!m)
        return NULL;
    hst_init_rng r = {0};
    hst_rng_seed(r.s, seed);
    /* One stream, tensors drawn in canonical order: same weights for a given
     * preset and seed whatever else changes (spec 8). */
    for (int i = 0; i < m->n_specs; i++) {
        float *dst = hst_model_tensor_alloc(m, i);
        if (!dst && !(m->specs[i].flags & (HST_T_I64 | HST_T_TIED))) {
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
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, presets[i].name, sizeof list - strlen(list) - 1);
    }
    hst_set_error(err, "%s: unknown model: not a preset (%s) and no such file", name, list);
    return NULL;
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
        out->dtype = (t->flags & HST_T_I64) ? "I64" : "F32";
        out->ndim = t->ndim;
        memcpy(out->shape, t->shape, sizeof out->shape);
        out->numel = t->numel;
        out->next_token = (t->flags & HST_T_NEXT_TOKEN) != 0;
        out->group = hst_spec_group(t);
        return 0;
    }
    return -1;
}

const float *hst_model_tensor_data(const hst_model *m, const char *name, uint64_t *numel)
{
    int i = hst_spec_find(m->specs, m->n_specs, name);
    const float *data = i < 0 ? NULL : hst_model_data(m, i); /* a tie is its tensor, in the file or not */
    if (data && numel)
        *numel = m->specs[i].numel;
    return data;
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
        if (t->flags & (HST_T_BUFFER | HST_T_TIED)) /* a tied tensor is counted once, as its tie */
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

/* ---- figures of the core (spec 11; 12.C.6, 12.C.8, 12.D.6, 12.D.8, 12.E.5, 12.E.7) ---- */

/* The arch's core, or NULL for a value outside hst_arch (then every figure is NaN). */
static const hst_core_ops *core_of(const hst_config *cfg)
{
    return hst_core_ops_for(cfg->arch);
}

#define FIGURE(member, cfg, mode, n) \
    (core_of(cfg) && core_of(cfg)->member ? core_of(cfg)->member(cfg, mode, n) : NAN)

double hst_flops_prefill_per_token(const hst_config *cfg, hst_mode mode, int S)
{
    return FIGURE(flops_prefill_per_token, cfg, mode, S);
}

double hst_flops_decode(const hst_config *cfg, hst_mode mode, int t) { return FIGURE(flops_decode, cfg, mode, t); }
double hst_bytes_decode(const hst_config *cfg, hst_mode mode, int t) { return FIGURE(bytes_decode, cfg, mode, t); }
double hst_bytes_prefill(const hst_config *cfg, hst_mode mode, int S) { return FIGURE(bytes_prefill, cfg, mode, S); }

uint64_t hst_decode_state_bytes(const hst_config *cfg)
{
    const hst_core_ops *ops = core_of(cfg);
    return ops && ops->state_bytes ? ops->state_bytes(cfg) : 0;
}
