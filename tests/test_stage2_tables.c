/* test_stage2_tables.c — the tensor tables, counts and random init of archs
 * v7.0, v7.1 and v8 (spec 12.C.1, 12.C.4, 12.C.5, 12.D.1, 12.D.4, 12.D.5,
 * 12.E.1, 12.E.2.1, 12.E.4) against the normative name lists, copied from
 * the spec into tests/golden/stage2/ (name, order, dtype, shape, group,
 * required, init distribution and bound), for the presets and for one
 * custom configuration per arch; and what a model of an arch whose core is
 * not implemented yet does (loads, counts, refuses to run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "tests/st_edit.h"
#include "tests/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAGE2_DIR "tests/golden/stage2"

/* ---- the name lists --------------------------------------------------------------- */

typedef struct {
    char name[112], dtype[8], group[16], init[96];
    int ndim;
    int64_t shape[4];
    int required;
} tsv_row;

typedef struct {
    tsv_row *rows;
    int n;
} tsv;

static void parse_shape(const char *text, tsv_row *r)
{
    const char *p = text + 1; /* after '[' */
    r->ndim = 0;
    while (*p && *p != ']') {
        char *end;
        r->shape[r->ndim++] = strtoll(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
    }
}

static tsv read_tsv(const char *file)
{
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/%s", harness_source(STAGE2_DIR), file);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    tsv t = {calloc(512, sizeof(tsv_row)), 0};
    assert_non_null(t.rows);
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || strncmp(line, "index\t", 6) == 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        const char *field[7] = {"", "", "", "", "", "", ""};
        int k = 0;
        for (char *tok = strtok(line, "\t"); tok && k < 7; tok = strtok(NULL, "\t"))
            field[k++] = tok;
        assert_int_equal(k, 7);
        assert_int_equal(atoi(field[0]), t.n); /* the index column is the canonical order */
        assert_true(t.n < 512);
        tsv_row *r = &t.rows[t.n++];
        snprintf(r->name, sizeof r->name, "%s", field[1]);
        snprintf(r->dtype, sizeof r->dtype, "%s", field[2]);
        parse_shape(field[3], r);
        snprintf(r->group, sizeof r->group, "%s", field[4]);
        r->required = strcmp(field[5], "yes") == 0;
        snprintf(r->init, sizeof r->init, "%s", field[6]);
    }
    fclose(f);
    return t;
}

/* A bound written as in the lists: "1/sqrt(N)", "sqrt(6/N)" or "sqrt(6/(A+B))". */
static double eval_bound(const char *e)
{
    double a, b;
    if (sscanf(e, "1/sqrt(%lf)", &a) == 1)
        return 1 / sqrt(a);
    if (sscanf(e, "sqrt(6/(%lf+%lf))", &a, &b) == 2)
        return sqrt(6 / (a + b));
    if (sscanf(e, "sqrt(6/%lf)", &a) == 1)
        return sqrt(6 / a);
    fail_msg("unreadable bound %s", e);
    return 0;
}

/* The init column against a spec: the kind and, for U(±a) and N(0, s²), the value. */
static void check_init(const tsv_row *r, const hst_tensor_spec *s, const hst_tensor_spec *specs, int n)
{
    const char *init = r->init;
    double bound;
    if (strncmp(init, "uniform(", 8) == 0) {
        const char *expr = init + 8 + (strncmp(init + 8, "+-", 2) == 0 ? 2 : 0);
        bound = eval_bound(expr);
        const char *printed = strstr(init, "= +-");
        if (printed) /* the printed value agrees with its expression */
            assert_true(fabs(atof(printed + 4) - bound) <= 1e-8 * bound);
        if (s->init != HST_INIT_UNIFORM || fabs(s->init_scale - bound) > 1e-12 * bound)
            fail_msg("%s: init %s, the engine draws kind %d scale %.12g", r->name, init, s->init, s->init_scale);
    } else if (strcmp(init, "normal(0,1)") == 0 || strcmp(init, "normal(0,0.01)") == 0) {
        assert_int_equal(s->init, HST_INIT_NORMAL);
        assert_true(s->init_scale == (init[9] == '1' ? 1.0 : 0.01));
    } else if (strcmp(init, "zeros") == 0) {
        assert_int_equal(s->init, HST_INIT_ZEROS);
    } else if (strcmp(init, "ones") == 0) {
        assert_int_equal(s->init, HST_INIT_ONES);
    } else if (strncmp(init, "spine2", 6) == 0) {
        assert_int_equal(s->init, HST_INIT_SPINE2);
    } else if (strncmp(init, "spine", 5) == 0) {
        assert_int_equal(s->init, HST_INIT_SPINE3);
    } else if (strcmp(init, "sinusoid") == 0) {
        assert_int_equal(s->init, HST_INIT_SINUSOID);
    } else if (strncmp(init, "tied(", 5) == 0) {
        char tie[112];
        snprintf(tie, sizeof tie, "%.*s", (int)strlen(init + 5) - 1, init + 5);
        assert_int_equal(s->init, HST_INIT_TIED);
        assert_true(s->flags & HST_T_TIED);
        assert_int_equal(s->tie_to, hst_spec_find(specs, n, tie));
    } else {
        fail_msg("%s: unknown init %s", r->name, init);
    }
}

/* Entry for entry: name, order, dtype, shape, group, required, init. */
static void check_table(const tsv *want, const hst_config *cfg)
{
    hst_tensor_spec *specs = NULL;
    int n = 0;
    hst_error err = {{0}};
    if (hst_tensor_specs(cfg, &specs, &n, &err) != 0)
        fail_msg("%s", err.msg);
    if (n != want->n)
        fail_msg("arch %s: %d tensors, the list has %d", hst_arch_name(cfg->arch), n, want->n);
    for (int i = 0; i < n; i++) {
        const tsv_row *r = &want->rows[i];
        const hst_tensor_spec *s = &specs[i];
        if (strcmp(s->name, r->name) != 0)
            fail_msg("entry %d: %s, the list has %s", i, s->name, r->name);
        assert_string_equal((s->flags & HST_T_I64) ? "I64" : "F32", r->dtype);
        if (s->ndim != r->ndim || memcmp(s->shape, r->shape, sizeof(int64_t) * (size_t)r->ndim) != 0)
            fail_msg("%s: shape differs from the list", r->name);
        if (strcmp(hst_spec_group(s), r->group) != 0)
            fail_msg("%s: group %s, the list says %s", r->name, hst_spec_group(s), r->group);
        if (((s->flags & HST_T_REQUIRED) != 0) != r->required)
            fail_msg("%s: required %d, the list says %d", r->name, (s->flags & HST_T_REQUIRED) != 0, r->required);
        check_init(r, s, specs, n);
    }
    free(specs);
}

static void check_preset_table(const char *preset, const char *file)
{
    tsv want = read_tsv(file);
    hst_config cfg;
    assert_int_equal(hst_preset_config(preset, &cfg), 0);
    check_table(&want, &cfg);
    free(want.rows);
}

static void test_v70_table_equals_the_name_list(void **state)
{
    (void)state;
    check_preset_table("hst-v7.0", "names-v7.0.tsv");
    check_preset_table("hst-chaos", "names-v7.0.tsv"); /* the same network (12.C.9) */
}

static void test_v71_table_equals_the_name_list(void **state)
{
    (void)state;
    check_preset_table("hst-v7.1", "names-v7.1.tsv");
}

static void test_v8_table_equals_the_name_list(void **state)
{
    (void)state;
    check_preset_table("hst-v8", "names-v8.tsv");
}

/* ---- custom configurations: the list's rules with other L, D, V, Lmax, Hz ------------ */

static const hst_config preset_dims = {HST_ARCH_V8, 5000, 128, 4, 6, 512, 8};

/* What a dimension of the preset list stands for (the name forms of 12.C.4,
 * 12.D.4, 12.E.4): one of the config's sizes, or a constant of the arch. */
static int64_t scaled_dim(const char *name, int dim, int64_t v, const hst_config *c)
{
    const int64_t D = c->d_model, V = c->vocab_size, Hz = c->horizon;
    const int64_t pD = preset_dims.d_model, pV = preset_dims.vocab_size, pHz = preset_dims.horizon;
    int64_t spine[HST_SPINE_MAX];
    if (strstr(name, "spine")) /* the spine of Lmax: 2-term in v8 */
        return hst_spine_of(c->arch == HST_ARCH_V8 ? HST_SPINE_2TERM : HST_SPINE_3TERM, c->max_seq_len, spine);
    if (v == 512 && (strcmp(name, "pos_embedding.weight") == 0 || strcmp(name, "pos_encoding.pe") == 0))
        return c->max_seq_len;
    if (v == 512 && strncmp(name, "sparse_router.router.", 21) == 0)
        return 512; /* v7.1's router width */
    if (v == 256 && strncmp(name, "lattice_core.task_router.", 25) == 0)
        return 256; /* v7.0's router width */
    if (v == 256 && strncmp(name, "cache_manager.", 14) == 0) /* importance_net.0 [256, 2D] */
        return strstr(name, ".0.weight") && dim == 1 ? 2 * D : 256;
    if (v == 128 && strstr(name, ".block_router.")) /* v7.1's block router [128, D], [1, 128] */
        return strstr(name, ".0.weight") && dim == 1 ? D : 128;
    if (v == 64 && strncmp(name, "pos_encoding.lattice_encoder.", 29) == 0)
        return D / 2;
    if (v == 2048 || v == 10000 || v == 64 || v <= 20)
        return v; /* FF 2048, memory rows, path-net and uncertainty widths, small constants */
    if (v == pV)
        return V;
    if (v == pHz * pV)
        return Hz * V;
    if (v == 4 * pV || v == 16 * pV || v == 44 * pV)
        return v / pV * V;
    if (v % (pD / 4) == 0)
        return v / (pD / 4) * (D / 4); /* D/4, D, 2D, 3D, 4D */
    fail_msg("%s: no rule for dimension %lld", name, (long long)v);
    return 0;
}

/* A fan-in in a bound is the in-dimension of the weight (a bias has its weight's). */
static int64_t scaled_fan(const char *name, int64_t v, const hst_config *c)
{
    char weight[128];
    const char *bias = strstr(name, "bias"); /* ".bias", "bias_ih" -> ".weight", "weight_ih" */
    if (bias)
        snprintf(weight, sizeof weight, "%.*sweight%s", (int)(bias - name), name, bias + 4);
    else
        snprintf(weight, sizeof weight, "%s", name);
    return scaled_dim(weight, 1, v, c);
}

/* The list's U(±a) with the fans of c: "1/sqrt(in)", "sqrt(6/(in+out))" (the
 * 2-D forms of MHA's in_proj), or the 3-D fans of v8's experts (12.E.4). */
static void scale_init(const tsv_row *r, const hst_config *c, tsv_row *out)
{
    const char *e = r->init + 8 + (strncmp(r->init + 8, "+-", 2) == 0 ? 2 : 0);
    double a, b;
    if (strncmp(r->init, "uniform(", 8) != 0)
        return;
    if (out->ndim == 3)
        snprintf(out->init, sizeof out->init, "uniform(sqrt(6/(%lld+%lld)))",
                 (long long)(out->shape[1] * out->shape[2]), (long long)(out->shape[0] * out->shape[2]));
    else if (sscanf(e, "1/sqrt(%lf)", &a) == 1)
        snprintf(out->init, sizeof out->init, "uniform(1/sqrt(%lld))", (long long)scaled_fan(r->name, (int64_t)a, c));
    else if (sscanf(e, "sqrt(6/(%lf+%lf))", &a, &b) == 2)
        snprintf(out->init, sizeof out->init, "uniform(sqrt(6/(%lld+%lld)))",
                 (long long)scaled_fan(r->name, (int64_t)a, c), (long long)scaled_fan(r->name, (int64_t)b, c));
    else if (sscanf(e, "sqrt(6/%lf)", &a) == 1)
        snprintf(out->init, sizeof out->init, "uniform(sqrt(6/%lld))", (long long)scaled_fan(r->name, (int64_t)a, c));
}

static void scale_shape(const tsv_row *r, const hst_config *c, tsv_row *out)
{
    *out = *r;
    for (int d = 0; d < r->ndim; d++)
        out->shape[d] = scaled_dim(r->name, d, r->shape[d], c);
    scale_init(r, c, out);
}

/* Spec 4.4, 7: level_transforms.{m} is on the next-token path iff a processed
 * position < Lmax has m levels; 12.D.2.2: resolution r = 2^i iff r <= Lmax. */
static void regroup(tsv_row *r, const hst_config *c)
{
    int m, i;
    char rest[64];
    if (sscanf(r->name, "lattice_core.multi_level.level_transforms.%d.%63s", &m, rest) == 2) {
        hst_spine_kind kind = c->arch == HST_ARCH_V8 ? HST_SPINE_2TERM : HST_SPINE_3TERM;
        snprintf(r->group, sizeof r->group, "%s",
                 (hst_spine_reachable_levels(kind, c->max_seq_len) >> m) & 1u ? "next_token" : "never_read");
    }
    if (sscanf(r->name, "multi_res.processors.%d.%63s", &i, rest) == 2)
        snprintf(r->group, sizeof r->group, "%s", (1 << i) <= c->max_seq_len ? "next_token" : "never_read");
}

/* The families whose count follows L (12.C.4: Lb, Lt; 12.D.4, 12.E.4: L). */
static int family_of(const char *name, const hst_config *c, int *count, size_t *prefix_len, int *index)
{
    static const char *const families[] = {"adaptive_bottom.layers.", "top_stack.", "speculative_verifier.layers.",
                                           "attention_layers."};
    const int L = c->n_layers, Lb = L / 2, Lt = L - Lb, v70 = c->arch == HST_ARCH_V7_0;
    const int counts[] = {Lb, Lt, v70 ? Lt : L, L};
    for (int f = 0; f < 4; f++) {
        size_t n = strlen(families[f]);
        if (strncmp(name, families[f], n) == 0) {
            *count = counts[f];
            *prefix_len = n;
            *index = atoi(name + n);
            return f;
        }
    }
    return -1;
}

/* The preset list rewritten for c: each family's block of index 0 repeated
 * for every index c has, dims and groups by the rules. */
static tsv expand(const tsv *preset, const hst_config *c)
{
    tsv t = {calloc(4096, sizeof(tsv_row)), 0};
    assert_non_null(t.rows);
    for (int i = 0; i < preset->n;) {
        int count, index;
        size_t plen;
        int fam = family_of(preset->rows[i].name, c, &count, &plen, &index);
        if (fam < 0) {
            scale_shape(&preset->rows[i], c, &t.rows[t.n]);
            regroup(&t.rows[t.n++], c);
            i++;
            continue;
        }
        int start = i, block = 0, end = i, cnt2;
        size_t p2;
        while (end < preset->n && family_of(preset->rows[end].name, c, &cnt2, &p2, &index) == fam) {
            if (index == 0)
                block++;
            end++;
        }
        for (int k = 0; k < count; k++)
            for (int b = 0; b < block; b++) {
                const tsv_row *src = &preset->rows[start + b];
                tsv_row *dst = &t.rows[t.n++];
                assert_true(t.n < 4096);
                scale_shape(src, c, dst);
                const char *after = strchr(src->name + plen, '.');
                snprintf(dst->name, sizeof dst->name, "%.*s%d%s", (int)plen, src->name, k, after);
                regroup(dst, c);
            }
        i = end;
    }
    return t;
}

static void check_custom_table(const char *file, const hst_config *c)
{
    tsv preset = read_tsv(file);
    tsv want = expand(&preset, c);
    check_table(&want, c);
    free(preset.rows);
    free(want.rows);
}

/* Other L (v7.0: 5 + 5 blocks), D, V, Hz and an Lmax that reaches level 3 (888). */
static const hst_config custom_v70 = {HST_ARCH_V7_0, 97, 24, 3, 10, 1000, 3};
/* L 3, Lmax 900: level_transforms.3 becomes readable (888 has 3 levels). */
static const hst_config custom_v71 = {HST_ARCH_V7_1, 53, 40, 5, 3, 900, 5};
/* L 2, Lmax 2000: the 2-term spine reaches 1970 (5 levels). */
static const hst_config custom_v8 = {HST_ARCH_V8, 61, 16, 2, 2, 2000, 3};

static void test_custom_configs_follow_the_name_rules(void **state)
{
    (void)state;
    check_custom_table("names-v7.0.tsv", &custom_v70);
    check_custom_table("names-v7.1.tsv", &custom_v71);
    check_custom_table("names-v8.tsv", &custom_v8);
    /* v7.1 below Lmax 8: the resolutions above Lmax are counted, required and never read. */
    const hst_config short_v71 = {HST_ARCH_V7_1, 30, 16, 2, 1, 3, 1};
    check_custom_table("names-v7.1.tsv", &short_v71);
}

/* ---- counts (12.C.1, 12.D.1, 12.E.1) ------------------------------------------------ */


static void check_counts(const hst_config *c, uint64_t total, uint64_t next, int n_tensors)
{
    hst_model *m = st_random_or_die(c, 1);
    hst_counts k = hst_model_counts(m);
    if (k.params_total != total || k.params_next_token != next)
        fail_msg("arch %s D %d L %d: counts %llu / %llu, the formulas give %llu / %llu", hst_arch_name(c->arch),
                 c->d_model, c->n_layers, (unsigned long long)k.params_total,
                 (unsigned long long)k.params_next_token, (unsigned long long)total, (unsigned long long)next);
    assert_int_equal(k.weight_bytes, 4 * total); /* buffers are not weights; a tie is held once */
    assert_int_equal(k.n_tensors, n_tensors);
    hst_model_free(m);
}

/* 12.C.1, F = 2048, blk = 12D² + 9D. */
static void v70_counts(const hst_config *c, uint64_t *total, uint64_t *next)
{
    const uint64_t D = (uint64_t)c->d_model, V = (uint64_t)c->vocab_size, L = (uint64_t)c->n_layers;
    const uint64_t Lt = L - L / 2, Hz = (uint64_t)c->horizon, Lmax = (uint64_t)c->max_seq_len, F = 2048;
    uint64_t blk = 12 * D * D + 9 * D, proc = 4 * D * D + 2 * F * D + 9 * D + F, router = 256 * D + 2826;
    *next = 2 * V * D + Lmax * D + L * blk + 10 * proc + router + 2 * D;
    uint64_t horizon = 6 * V * D + 3 * V + 21 * D;
    uint64_t never = (D * D + 5 * D + 53) + 10 + V * D + Lt * (8 * D * D + 4111 * D + 2048) + Hz * V * (D + 1) + D + 1;
    *total = *next + horizon + never;
}

static unsigned popcount(unsigned v)
{
    unsigned n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* 12.D.1 (Lmax >= 8). */
static void v71_counts(const hst_config *c, uint64_t *total, uint64_t *next)
{
    const uint64_t D = (uint64_t)c->d_model, V = (uint64_t)c->vocab_size, L = (uint64_t)c->n_layers;
    const uint64_t Hz = (uint64_t)c->horizon, F = 2048;
    const uint64_t m = popcount(hst_spine_reachable_levels(HST_SPINE_3TERM, c->max_seq_len));
    uint64_t post = 4 * D * D + 2 * F * D + F + 9 * D, lc = 44 * D * D + 64 * D + 193;
    uint64_t mr = 4 * post + 10 * D * D + 7 * D, moe = 64 * D * D + 552 * D + 4616, att = 4 * D * D + 129 * D + 257;
    uint64_t horizon = 64 * V * (D + 1) + D * D / 4 + D / 2 + 1;
    uint64_t never = (V * D + L * (8 * D * D + 2 * F * D + 15 * D + F) + Hz * V * (D + 1) + D + 1) +
                     (D * D + 5 * D + 53) + (512 * D + 513) + 4;
    *total = 2 * V * D + 5 * D + lc + mr + moe + L * att + horizon + never;
    *next = 2 * V * D + 5 * D + lc - (10 - m) * (2 * D * D + 4 * D) - (2 * D * D + 2 * D) + mr + moe + L * att;
}

/* 12.E.1. */
static void v8_counts(const hst_config *c, uint64_t *total, uint64_t *next)
{
    const uint64_t D = (uint64_t)c->d_model, V = (uint64_t)c->vocab_size, L = (uint64_t)c->n_layers;
    const uint64_t Hz = (uint64_t)c->horizon;
    const uint64_t r = popcount(hst_spine_reachable_levels(HST_SPINE_2TERM, c->max_seq_len));
    uint64_t lc = 44 * D * D + 64 * D + 193;
    uint64_t core = V * D + (3 * D * D + 2 * D) + (16 * D * D + 16 * D) + (64 * D * D + 8 * D + 8) +
                    L * (12 * D * D + 15 * D) + lc + (6 * D * D + 7 * D + 1) + 2 * D;
    uint64_t horizon = 2 * D * D + 66 * D + 129 + Hz * V * (2 * D + 1);
    uint64_t never = V * D + L * (8 * D * D + 4111 * D + 2048) + Hz * V * (D + 1) + D + 1 + (D * D + 5 * D + 53) +
                     (512 * D + 513) + 4;
    *total = core + horizon + never;
    *next = core - (10 - r) * (2 * D * D + 4 * D) - (2 * D * D + 2 * D) - 2 * L * D;
}

static void test_preset_counts_match_spec_12(void **state)
{
    (void)state;
    hst_config c;
    uint64_t total, next;
    assert_int_equal(hst_preset_config("hst-v7.0", &c), 0);
    v70_counts(&c, &total, &next);
    assert_int_equal(total, 21205922);
    assert_int_equal(next, 8893706);
    check_counts(&c, 21205922, 8893706, 321);
    assert_int_equal(hst_preset_config("hst-v7.1", &c), 0);
    v71_counts(&c, &total, &next);
    assert_int_equal(total, 57287819);
    assert_int_equal(next, 5865167);
    check_counts(&c, 57287819, 5865167, 369);
    assert_int_equal(hst_preset_config("hst-v8", &c), 0);
    v8_counts(&c, &total, &next);
    assert_int_equal(total, 24183686);
    assert_int_equal(next, 3788874);
    check_counts(&c, 24183686, 3788874, 368);
}

static void test_custom_counts_follow_the_formulas(void **state)
{
    (void)state;
    uint64_t total, next;
    hst_tensor_spec *specs;
    int n;
    hst_error err = {{0}};
    const hst_config *customs[] = {&custom_v70, &custom_v71, &custom_v8};
    void (*formula[])(const hst_config *, uint64_t *, uint64_t *) = {v70_counts, v71_counts, v8_counts};
    for (int i = 0; i < 3; i++) {
        formula[i](customs[i], &total, &next);
        assert_int_equal(hst_tensor_specs(customs[i], &specs, &n, &err), 0);
        free(specs);
        check_counts(customs[i], total, next, n);
    }
    /* The same formulas at other sizes, L = 1 where the arch allows it. */
    const hst_config more[] = {{HST_ARCH_V7_0, 40, 16, 2, 2, 64, 1},
                               {HST_ARCH_V7_1, 40, 16, 4, 1, 64, 2},
                               {HST_ARCH_V8, 40, 8, 1, 1, 64, 2}};
    for (int i = 0; i < 3; i++) {
        formula[i](&more[i], &total, &next);
        assert_int_equal(hst_tensor_specs(&more[i], &specs, &n, &err), 0);
        free(specs);
        check_counts(&more[i], total, next, n);
    }
}

/* ---- random init (spec 8, 12.C.5, 12.D.5, 12.E.4) ------------------------------------- */

/* The engine's stream replayed over the table in order: a uniform draw per
 * element of U(±a), a normal per element of N(0, s²), no draw for the rest.
 * A tensor's values then prove the order of every draw before it. */

static void check_init_replay(const hst_config *c, uint64_t seed)
{
    hst_model *m = st_random_or_die(c, seed);
    hst_init_rng r = {{0}, 0, 0};
    hst_rng_seed(r.s, seed);
    for (int i = 0; i < m->n_specs; i++) {
        const hst_tensor_spec *s = &m->specs[i];
        const float *got = hst_model_data(m, i);
        assert_true(m->present[i]);
        for (uint64_t k = 0; k < s->numel; k++) {
            float want;
            if (s->init == HST_INIT_UNIFORM)
                want = (float)(s->init_scale * (2.0 * hst_rng_uniform(r.s) - 1.0));
            else if (s->init == HST_INIT_NORMAL)
                want = (float)(s->init_scale * hst_init_rng_normal(&r));
            else
                continue;
            if (got[k] != want)
                fail_msg("%s[%llu] is %g, the stream in table order gives %g", s->name, (unsigned long long)k,
                         got[k], want);
        }
    }
    hst_model_free(m);
}

static void test_random_init_draws_in_table_order(void **state)
{
    (void)state;
    check_init_replay(&custom_v70, 3);
    check_init_replay(&custom_v71, 4);
    check_init_replay(&custom_v8, 5);
}

static double max_abs(const float *v, uint64_t n)
{
    double m = 0;
    for (uint64_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

/* The distributions at the preset: bounds reached, N(0, 0.01²), the PE
 * table, zero memory, the tie a copy (12.E.2.1, 12.E.4). */
static void test_v8_init_follows_the_list(void **state)
{
    (void)state;
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v8", &c), 0);
    hst_model *m = st_random_or_die(&c, 9);
    uint64_t n;
    const float *up = hst_model_tensor_data(m, "sparse_router.expert_up", &n);
    double bound = sqrt(6.0 / (65536 + 1024)); /* ±0.0094944 */
    assert_true(max_abs(up, n) <= bound && max_abs(up, n) > 0.999 * bound);
    const float *tok = hst_model_tensor_data(m, "token_embedding.embed.weight", &n);
    double sum2 = 0;
    for (uint64_t i = 0; i < n; i++)
        sum2 += (double)tok[i] * tok[i];
    assert_true(fabs(sqrt(sum2 / n) - 0.01) < 0.0002); /* 640,000 draws of N(0, 0.01²) */
    /* lm_head.weight is the token table: the same values, one copy. */
    uint64_t nh;
    assert_true(hst_model_tensor_data(m, "lm_head.weight", &nh) == tok);
    assert_int_equal(nh, n);
    const float *pe = hst_model_tensor_data(m, "pos_encoding.pe", &n);
    assert_int_equal(n, 512 * 128);
    for (int t = 0; t < 512; t += 37)
        for (int i = 0; i < 64; i += 5) {
            double omega = pow(10000.0, -2.0 * i / 128.0);
            assert_true(pe[t * 128 + 2 * i] == (float)sin(t * omega));
            assert_true(pe[t * 128 + 2 * i + 1] == (float)cos(t * omega));
        }
    const float *memory = hst_model_tensor_data(m, "memory.memory", &n);
    assert_int_equal(n, 10000 * 128);
    assert_true(max_abs(memory, n) == 0);
    const float *log_vars = hst_model_tensor_data(m, "loss_weighting.log_vars", &n);
    assert_true(n == 4 && max_abs(log_vars, n) == 0);
    const float *norm3 = hst_model_tensor_data(m, "attention_layers.5.norm3.weight", &n);
    assert_true(norm3[0] == 1.0f && norm3[n - 1] == 1.0f);
    hst_model_free(m);
}

static void test_v70_and_v71_init_follow_the_lists(void **state)
{
    (void)state;
    hst_config c;
    uint64_t n;
    assert_int_equal(hst_preset_config("hst-v7.0", &c), 0);
    hst_model *m = st_random_or_die(&c, 2);
    const float *lw = hst_model_tensor_data(m, "lattice_core.analyzer.layer_weights", &n);
    assert_true(n == 10 && lw[0] == 1.0f && lw[9] == 1.0f);
    const float *in = hst_model_tensor_data(m, "lattice_core.layer_processors.9.self_attn.in_proj_weight", &n);
    assert_true(max_abs(in, n) <= sqrt(6.0 / 512) && max_abs(in, n) > 0.99 * sqrt(6.0 / 512));
    const float *router = hst_model_tensor_data(m, "lattice_core.task_router.2.bias", &n);
    assert_true(n == 10 && max_abs(router, n) <= 1.0 / 16);
    const float *proj = hst_model_tensor_data(m, "horizon_predictor.projection.weight", &n);
    assert_true(max_abs(proj, n) <= 1 / sqrt(5000.0) && max_abs(proj, n) > 0.99 / sqrt(5000.0));
    hst_model_free(m);
    assert_int_equal(hst_preset_config("hst-v7.1", &c), 0);
    m = st_random_or_die(&c, 2);
    const float *ob = hst_model_tensor_data(m, "attention_layers.0.out_proj.bias", &n);
    assert_true(max_abs(ob, n) > 0 && max_abs(ob, n) <= 1 / sqrt(128.0)); /* a plain Linear: drawn */
    const float *mb = hst_model_tensor_data(m, "multi_res.processors.3.self_attn.out_proj.bias", &n);
    assert_true(max_abs(mb, n) == 0); /* inside nn.MultiheadAttention: zeros */
    const float *le = hst_model_tensor_data(m, "pos_encoding.lattice_encoder.0.weight", &n);
    assert_true(n == 64 * 3 && max_abs(le, n) <= 1 / sqrt(3.0));
    assert_true(max_abs(hst_model_tensor_data(m, "memory.importance", &n), n) == 0);
    hst_model_free(m);
}

/* ---- figures (12.C.6, 12.C.8, 12.D.6, 12.D.8, 12.E.5, 12.E.7) --------------------------- */

static void expect_figure(const char *what, int n, double got, double want)
{
    if (got != want)
        fail_msg("%s at %d: %.1f, the spec's table says %.1f", what, n, got, want);
}

static void test_v70_flops_match_the_spec_table(void **state)
{
    (void)state;
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v7.0", &c), 0);
    const int S[3] = {128, 256, 512};
    const double parity[3] = {17142312, 18059540, 19894410}, causal[3] = {16887296, 17477120, 18656768};
    const double decode[3] = {17472512, 18652160, 21011456}, parity_decode[3] = {2031655936, 4296842240, 9531857920};
    for (int i = 0; i < 3; i++) {
        expect_figure("F_p", S[i], hst_flops_prefill_per_token(&c, HST_MODE_PARITY, S[i]), parity[i]);
        expect_figure("F_c", S[i], hst_flops_prefill_per_token(&c, HST_MODE_CAUSAL, S[i]), causal[i]);
        expect_figure("F_cd", S[i] - 1, hst_flops_decode(&c, HST_MODE_CAUSAL, S[i] - 1), decode[i]);
        expect_figure("F_pd", S[i] - 1, hst_flops_decode(&c, HST_MODE_PARITY, S[i] - 1), parity_decode[i]);
    }
    /* 12.C.8: 8,188,426 floats of weights and 18,432 bytes of K/V per cached position. */
    expect_figure("causal decode bytes", 0, hst_bytes_decode(&c, HST_MODE_CAUSAL, 0), 4.0 * 8188426 + 18432);
    expect_figure("causal decode bytes", 99, hst_bytes_decode(&c, HST_MODE_CAUSAL, 99), 4.0 * 8188426 + 18432 * 100);
}

static void test_v71_flops_match_the_spec_table(void **state)
{
    (void)state;
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v7.1", &c), 0);
    const int S[3] = {128, 256, 512};
    const double parity[3] = {5850648, 6118936, 6682136}, causal[3] = {6002656, 6227424, 6703584};
    const double worst[3] = {8752640, 9268736, 10300928}, none[3] = {5152768, 5611520, 6529024};
    const double mean[3] = {6197056, 6677312, 7637824}, parity_decode[3] = {748882944, 1566447616, 3421253632};
    for (int i = 0; i < 3; i++) {
        expect_figure("F_par", S[i], hst_flops_prefill_per_token(&c, HST_MODE_PARITY, S[i]), parity[i]);
        expect_figure("F_c", S[i], hst_flops_prefill_per_token(&c, HST_MODE_CAUSAL, S[i]), causal[i]);
        expect_figure("F_d", S[i] - 1, hst_flops_decode(&c, HST_MODE_CAUSAL, S[i] - 1), worst[i]);
        expect_figure("F_d", S[i] - 2, hst_flops_decode(&c, HST_MODE_CAUSAL, S[i] - 2), none[i]);
        double sum = 0;
        for (int t = S[i] - 8; t < S[i]; t++)
            sum += hst_flops_decode(&c, HST_MODE_CAUSAL, t);
        expect_figure("mean F_d", S[i], sum / 8, mean[i]);
        expect_figure("parity decode", S[i] - 1, hst_flops_decode(&c, HST_MODE_PARITY, S[i] - 1), parity_decode[i]);
    }
    /* Spine steps add 16D²(1 + n_t): compare with the step before (no pooled row completes at 11, 35, 103, 303). */
    const int spine[4] = {12, 36, 104, 304};
    const double extra[4] = {1048576, 1310720, 1572864, 1835008};
    for (int i = 0; i < 4; i++) {
        double step = hst_flops_decode(&c, HST_MODE_CAUSAL, spine[i]) - hst_flops_decode(&c, HST_MODE_CAUSAL, spine[i] - 2);
        expect_figure("spine step", spine[i], step - 4.0 * 128 * 2 * (c.n_layers + 1), extra[i]); /* 2 more keys */
    }
    /* 12.D.8: 2,357,646 floats at a step without completions or spine update, 7,168 bytes of K/V per position. */
    expect_figure("causal decode bytes", 126, hst_bytes_decode(&c, HST_MODE_CAUSAL, 126), 4.0 * 2357646 + 7168.0 * 127);
}

static void test_v8_flops_match_the_spec_table(void **state)
{
    (void)state;
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v8", &c), 0);
    const int S[3] = {128, 256, 512};
    const double causal[3] = {6331104, 6756576, 7621344}, parity[3] = {6569216, 7234816, 8579840};
    const double decode[3] = {7598848, 8508160, 10326784}, parity_decode[3] = {840859648, 1852112896, 4392878080};
    for (int i = 0; i < 3; i++) {
        expect_figure("F_c", S[i], hst_flops_prefill_per_token(&c, HST_MODE_CAUSAL, S[i]), causal[i]);
        expect_figure("F_p", S[i], hst_flops_prefill_per_token(&c, HST_MODE_PARITY, S[i]), parity[i]);
        expect_figure("F_d", S[i] - 1, hst_flops_decode(&c, HST_MODE_CAUSAL, S[i] - 1), decode[i]);
        expect_figure("parity decode", S[i] - 1, hst_flops_decode(&c, HST_MODE_PARITY, S[i] - 1), parity_decode[i]);
    }
    expect_figure("F_d", 126, hst_flops_decode(&c, HST_MODE_CAUSAL, 126), 6355200);
    double sum = 0;
    for (int t = 120; t < 128; t++)
        sum += hst_flops_decode(&c, HST_MODE_CAUSAL, t);
    expect_figure("mean F_d", 128, sum / 8, 6703680);
    /* 12.E.7: 2,638,089 floats of weights at a plain step, M (64 KiB), (4L + 2)·D floats of K/V per position. */
    expect_figure("causal decode bytes", 126, hst_bytes_decode(&c, HST_MODE_CAUSAL, 126),
                  4.0 * 2638089 + 65536 + 4.0 * 26 * 128 * 127);
}

/* ---- presets and cores not implemented yet -------------------------------------------- */

static void test_chaos_is_an_alias_of_v70(void **state)
{
    (void)state;
    hst_config a, b;
    assert_int_equal(hst_preset_config("hst-v7.0", &a), 0);
    assert_int_equal(hst_preset_config("hst-chaos", &b), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(a.arch, HST_ARCH_V7_0);
    assert_string_equal(hst_preset_matching(&b), "hst-v7.0");
    hst_error err = {{0}};
    hst_model *m = hst_model_open("hst-chaos", 0, &err);
    assert_non_null(m);
    assert_string_equal(hst_model_preset(m), "hst-chaos");
    hst_model *v = hst_model_open("hst-v7.0", 0, &err);
    assert_string_equal(hst_model_preset(v), "hst-v7.0");
    /* Same seed, same weights (12.C.9). */
    uint64_t n;
    const float *x = hst_model_tensor_data(m, "lattice_core.layer_processors.4.linear1.weight", &n);
    assert_memory_equal(x, hst_model_tensor_data(v, "lattice_core.layer_processors.4.linear1.weight", NULL),
                        n * sizeof *x);
    hst_model_free(m);
    hst_model_free(v);
}

static void test_unknown_model_lists_every_preset(void **state)
{
    (void)state;
    hst_error err = {{0}};
    assert_null(hst_model_open("hst-v9", 0, &err));
    assert_string_equal(err.msg, "hst-v9: unknown model: not a preset (hst-v3, hst-v4, hst-v5.2, hst-v6, hst-v6.1, "
                                 "hst-v7.0, hst-chaos, hst-v7.1, hst-v8) and no such file");
}

static void test_stage2_constraints(void **state)
{
    (void)state;
    hst_error err = {{0}};
    const struct {
        hst_config c;
        const char *why;
    } bad[] = {
        {{HST_ARCH_V7_0, 100, 20, 4, 8, 64, 2}, "multiple of 8"}, /* 8-head layers (12.0) */
        {{HST_ARCH_V7_1, 100, 36, 4, 2, 64, 2}, "multiple of 8"},
        {{HST_ARCH_V8, 100, 12, 2, 2, 64, 2}, "multiple of 8"},
        {{HST_ARCH_V8, 100, 24, 5, 2, 64, 2}, "n_heads"},
        {{HST_ARCH_V7_0, 100, 16, 2, 1, 64, 2}, "n_layers 1 must be >= 2"}, /* 12.C.1 */
        {{HST_ARCH_V8, 100, 16, 2, 2, 8193, 2}, "8192"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hst_config_check(&bad[i].c, &err), -1);
        if (!strstr(err.msg, "config: bad metadata: ") || !strstr(err.msg, bad[i].why))
            fail_msg("case %zu: %s", i, err.msg);
    }
    const hst_config ok[] = {{HST_ARCH_V7_1, 10, 8, 1, 1, 1, 1}, {HST_ARCH_V8, 10, 8, 8, 1, 1, 1},
                             {HST_ARCH_V7_0, 10, 8, 2, 2, 1, 1}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (hst_config_check(&ok[i], &err) != 0)
            fail_msg("case %zu: %s", i, err.msg);
}

/* A model of an arch whose core is not implemented loads and counts, and
 * its forward fails with one line naming it (scaffolding, core_c/d/e.c). */
static void test_forward_of_a_core_not_implemented_fails_with_one_line(void **state)
{
    (void)state;
    static const struct {
        const char *preset;
        hst_config custom;
    } cases[] = {{"hst-v7.0", {HST_ARCH_V7_0, 30, 16, 2, 2, 32, 1}},
                 {"hst-v7.1", {HST_ARCH_V7_1, 30, 16, 2, 1, 32, 1}},
                 {"hst-v8", {HST_ARCH_V8, 30, 16, 2, 1, 32, 1}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (hst_arch_implemented(cases[i].custom.arch))
            continue; /* the core has landed: its own tests take over */
        hst_error err = {{0}};
        hst_model *m = st_random_or_die(&cases[i].custom, 1);
        hst_session *s = hst_session_create(m, NULL, &err);
        assert_non_null(s);
        int ids[3] = {1, 2, 3};
        assert_int_equal(hst_forward(s, ids, 3, NULL, 0, &err), -1);
        char want[128];
        snprintf(want, sizeof want, "forward: arch %s is not implemented in this build",
                 hst_arch_name(cases[i].custom.arch));
        assert_string_equal(err.msg, want);
        assert_int_equal(hst_session_pos(s), 0);
        assert_int_equal(hst_session_set_mode(s, HST_MODE_PARITY, &err), 0); /* nothing to rebuild */
        snprintf(m->preset, sizeof m->preset, "%s", cases[i].preset);
        assert_int_equal(hst_forward(s, ids, 3, NULL, 0, &err), -1);
        snprintf(want, sizeof want, "forward: %s is not implemented in this build", cases[i].preset);
        assert_string_equal(err.msg, want);
        /* Precision switches are accepted (nothing is packed yet). */
        assert_int_equal(hst_model_set_precision(m, HST_PRECISION_BF16, &err), 0);
        assert_int_equal(hst_model_precision(m), HST_PRECISION_BF16);
        hst_session_free(s);
        hst_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v70_table_equals_the_name_list),
        cmocka_unit_test(test_v71_table_equals_the_name_list),
        cmocka_unit_test(test_v8_table_equals_the_name_list),
        cmocka_unit_test(test_custom_configs_follow_the_name_rules),
        cmocka_unit_test(test_preset_counts_match_spec_12),
        cmocka_unit_test(test_custom_counts_follow_the_formulas),
        cmocka_unit_test(test_random_init_draws_in_table_order),
        cmocka_unit_test(test_v8_init_follows_the_list),
        cmocka_unit_test(test_v70_and_v71_init_follow_the_lists),
        cmocka_unit_test(test_v70_flops_match_the_spec_table),
        cmocka_unit_test(test_v71_flops_match_the_spec_table),
        cmocka_unit_test(test_v8_flops_match_the_spec_table),
        cmocka_unit_test(test_chaos_is_an_alias_of_v70),
        cmocka_unit_test(test_unknown_model_lists_every_preset),
        cmocka_unit_test(test_stage2_constraints),
        cmocka_unit_test(test_forward_of_a_core_not_implemented_fails_with_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
