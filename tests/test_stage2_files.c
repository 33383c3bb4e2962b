/* test_stage2_files.c — safetensors files of archs v7.0, v7.1 and v8 (spec
 * 9 with the changes of 12.0, 12.C.4, 12.D.4, 12.E.4): the engine writes
 * every entry of the arch's name list in order and reads it back bit for
 * bit; every validation class of 9.4 and the new "bad tie" is reported for
 * each arch, with one line; optional tensors and buffers may be absent; a
 * half-precision buffer or tie is widened. Each malformed file is a valid
 * saved file with one thing changed (tests/st_edit.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/internal.h"
#include "exports/exports.h"
#include "tests/harness.h"
#include "tests/st_edit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { V70, V71, V8, N_ARCHS } arch_case;

/* Small configs: the memory buffers ([10000, D]) dominate these files. */
static const hst_config configs[N_ARCHS] = {
    [V70] = {HST_ARCH_V7_0, 30, 16, 2, 2, 40, 2},
    [V71] = {HST_ARCH_V7_1, 30, 16, 2, 1, 40, 2},
    [V8] = {HST_ARCH_V8, 30, 16, 2, 1, 40, 2},
};

static char tmp_dir[64];
static char base[N_ARCHS][128]; /* a valid file of each arch, saved by the engine */
static char bad_path[128];



static int group_setup(void **state)
{
    (void)state;
    if (harness_make_tmpdir(tmp_dir, sizeof tmp_dir, "stage2-files") != 0)
        return -1;
    snprintf(bad_path, sizeof bad_path, "%s/bad.safetensors", tmp_dir);
    for (int a = 0; a < N_ARCHS; a++) {
        snprintf(base[a], sizeof base[a], "%s/base-%s.safetensors", tmp_dir, hst_arch_name(configs[a].arch));
        if (st_save_random(&configs[a], 7 + (uint64_t)a, base[a]) != 0)
            return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmp_dir);
}

/* Writes f to the bad file, frees it, and expects cls (with detail in the line). */
static void expect_file_error(st_file *f, const char *cls, const char *detail)
{
    st_write(bad_path, f);
    st_free(f);
    st_expect_load_error(bad_path, cls, detail);
}

static hst_model *expect_file_loads(st_file *f)
{
    st_write(bad_path, f);
    st_free(f);
    return st_load_or_die(bad_path);
}

static json_t *shape2(json_int_t a, json_int_t b) { return json_pack("[I,I]", a, b); }

/* ---- what the engine writes (spec 9.5, 12.0) ---------------------------------------- */

/* The header lists the table in order: I64 spines, F32 everything else, and
 * the tie and the buffers are there (a strict load of the original needs them). */
static void check_written_layout(const char *path, const hst_config *cfg)
{
    st_file f;
    st_read(path, &f);
    hst_tensor_spec *specs;
    int n;
    hst_error err = {{0}};
    assert_int_equal(hst_tensor_specs(cfg, &specs, &n, &err), 0);
    int i = 0;
    uint64_t offset = 0;
    const char *key;
    json_t *entry;
    json_object_foreach(f.header, key, entry) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        assert_true(i < n);
        if (strcmp(key, specs[i].name) != 0)
            fail_msg("entry %d of the file is %s, the table's is %s", i, key, specs[i].name);
        const char *dtype = json_string_value(json_object_get(entry, "dtype"));
        assert_string_equal(dtype, (specs[i].flags & HST_T_I64) ? "I64" : "F32");
        uint64_t b, e;
        st_offsets(&f, key, &b, &e);
        assert_int_equal(b, offset); /* contiguous from 0, in this order */
        offset = e;
        i++;
    }
    assert_int_equal(i, n);
    assert_int_equal(offset, f.data_bytes);
    free(specs);
    st_free(&f);
}

static void test_written_files_hold_every_entry_and_load_back_bit_exact(void **state)
{
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        check_written_layout(base[a], &configs[a]);
        hst_error err = {{0}};
        hst_model *want = hst_model_random(&configs[a], 7 + (uint64_t)a, &err);
        hst_model *got = st_load_or_die(base[a]);
        st_assert_same_tensors(want, got);
        assert_memory_equal(hst_model_config(want), hst_model_config(got), sizeof(hst_config));
        /* Saved again: the same bytes. */
        char again[160];
        snprintf(again, sizeof again, "%s/again.safetensors", tmp_dir);
        st_save_or_die(got, again);
        size_t la, lb;
        unsigned char *x = st_read_whole(base[a], &la), *y = st_read_whole(again, &lb);
        /* The headers differ in hst.source (the path); the data sections are identical. */
        assert_int_equal(la - 8 - st_le64(x), lb - 8 - st_le64(y));
        assert_memory_equal(x + 8 + st_le64(x), y + 8 + st_le64(y), la - 8 - st_le64(x));
        free(x);
        free(y);
        hst_model_free(want);
        hst_model_free(got);
    }
    /* v8: lm_head.weight is written as the token table's bytes, memory as zeros. */
    st_file f;
    st_read(base[V8], &f);
    uint64_t b1, e1, b2, e2;
    st_offsets(&f, "token_embedding.embed.weight", &b1, &e1);
    st_offsets(&f, "lm_head.weight", &b2, &e2);
    assert_int_equal(e1 - b1, e2 - b2);
    assert_memory_equal(f.data + b1, f.data + b2, e1 - b1);
    st_offsets(&f, "memory.memory", &b1, &e1);
    for (uint64_t k = b1; k < e1; k++)
        assert_int_equal(f.data[k], 0);
    /* the 2-term spine of Lmax 40: 0, 2, 4, 10, 24 */
    const int64_t *spine = (const int64_t *)(const void *)st_tensor_bytes(&f, "lattice_core.path_weighted.analyzer.spine");
    assert_true(spine[3] == 10 && spine[4] == 24);
    st_free(&f);
}

/* ---- every class of spec 9.4, for each arch --------------------------------------- */

static void test_truncated_each_arch(void **state)
{
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        st_file f;
        st_read(base[a], &f);
        f.data_bytes -= 3; /* the last tensor ends beyond the data section */
        expect_file_error(&f, "truncated", "ends at byte");
    }
}

static void test_header_too_large_each_arch(void **state)
{
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        st_file f;
        st_read(base[a], &f);
        char *text = st_dump_header(&f);
        st_write_raw(bad_path, 100000001ull, text, strlen(text), f.data, f.data_bytes);
        free(text);
        st_free(&f);
        st_expect_load_error(bad_path, "header too large", "100000001");
    }
}

static void test_bad_header_each_arch(void **state)
{
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        st_file f;
        st_read(base[a], &f);
        /* An entry with a fourth key. */
        const char *name = a == V8 ? "pos_encoding.pe" : a == V71 ? "memory.importance" : "lm_head.weight";
        json_object_set_new(st_entry(&f, name), "extra", json_true());
        expect_file_error(&f, "bad header", "extra");
    }
}

static void test_unsupported_dtype_each_arch(void **state)
{
    (void)state;
    static const struct {
        arch_case a;
        const char *name, *dtype;
    } cases[] = {
        {V70, "lattice_core.task_router.2.bias", "I64"},            /* I64 on a weight */
        {V70, "lattice_core.analyzer.spine", "F32"},                 /* a float spine */
        {V71, "pos_encoding.spine", "BF16"},                         /* v7.1's third spine */
        {V71, "memory.importance", "I64"},                           /* a float buffer */
        {V8, "pos_encoding.pe", "I64"},
        {V8, "lattice_core.multi_level.analyzer.spine", "F16"},
        {V8, "sparse_router.expert_up", "F64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_file f;
        st_read(base[cases[i].a], &f);
        st_set_dtype(&f, cases[i].name, cases[i].dtype);
        expect_file_error(&f, "unsupported dtype", cases[i].name);
    }
}

static void test_bad_offsets_each_arch(void **state)
{
    (void)state;
    for (int a = 0; a < N_ARCHS; a++) {
        st_file f;
        st_read(base[a], &f);
        uint64_t b, e;
        st_offsets(&f, "ln_f.weight", &b, &e);
        st_insert_bytes(&f, b, 4); /* a gap before ln_f.weight */
        st_set_offsets(&f, "ln_f.weight", (json_int_t)(b + 4), (json_int_t)(e + 4));
        expect_file_error(&f, "bad offsets", "belong to no tensor");
    }
}

static void test_missing_tensor_each_arch(void **state)
{
    (void)state;
    static const struct {
        arch_case a;
        const char *name;
    } cases[] = {
        {V70, "lattice_core.layer_processors.9.norm2.bias"},
        {V70, "lattice_core.task_router.0.weight"},
        {V71, "lattice_core.multi_level.level_transforms.7.3.bias"}, /* required, never read (12.D.4) */
        {V71, "sparse_router.experts.7.2.weight"},
        {V71, "pos_encoding.lattice_encoder.1.bias"},
        {V8, "pos_encoding.pe"},                    /* a required buffer (12.E.4) */
        {V8, "attention_layers.0.norm3.bias"},      /* required, never read */
        {V8, "token_embedding.embed.weight"},       /* the tie's own tensor */
        {V8, "feedback_loop.loop_net.bias_hh"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_file f;
        st_read(base[cases[i].a], &f);
        st_remove_tensor(&f, cases[i].name);
        expect_file_error(&f, "missing tensor", cases[i].name);
    }
}

static void test_unexpected_tensor_each_arch(void **state)
{
    (void)state;
    static const struct {
        arch_case a;
        const char *name;
    } cases[] = {
        {V70, "plasticity.qkv.weight"},                       /* v8's */
        {V70, "lattice_core.multi_level.analyzer.spine"},     /* v7.0 has one spine, not Core A's two */
        {V71, "pos_encoding.pe"},
        {V71, "lattice_core.analyzer.layer_weights"},
        {V8, "pos_embedding.weight"},
        {V8, "token_embedding.weight"},                       /* v8's table is token_embedding.embed.weight */
    };
    float zero[4] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_file f;
        st_read(base[cases[i].a], &f);
        st_add_tensor(&f, cases[i].name, "F32", json_pack("[i]", 4), zero, sizeof zero);
        expect_file_error(&f, "unexpected tensor", cases[i].name);
    }
}

static void test_wrong_shape_each_arch(void **state)
{
    (void)state;
    const int D = 16, Lmax = 40;
    const struct {
        arch_case a;
        const char *name;
        json_int_t rows, cols;
    } cases[] = {
        {V70, "lattice_core.task_router.2.weight", 10, 255},
        {V70, "lattice_core.layer_processors.0.linear1.weight", 4 * D, D}, /* FF is 2048 whatever D */
        {V71, "memory.memory", 9999, D},
        {V71, "horizon_predictor.predictors.near.weight", 8 * 30, D}, /* 4V rows whatever Hz */
        {V8, "pos_encoding.pe", Lmax + 1, D},
        {V8, "lm_head.weight", 31, D},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_file f;
        st_read(base[cases[i].a], &f);
        st_set_shape(&f, cases[i].name, shape2(cases[i].rows, cases[i].cols));
        expect_file_error(&f, "wrong shape", cases[i].name);
    }
    /* A spine of another length is a wrong shape; v8's is the 2-term spine's (5 entries at Lmax 40). */
    st_file f;
    st_read(base[V8], &f);
    st_set_shape(&f, "lattice_core.path_weighted.analyzer.spine", json_pack("[i]", 6));
    expect_file_error(&f, "wrong shape", "[5]");
    st_read(base[V8], &f);
    st_set_shape(&f, "sparse_router.expert_up", json_pack("[i,i,i]", 8, 4 * D, D + 1));
    expect_file_error(&f, "wrong shape", "expert_up");
}

static void test_bad_metadata_each_arch(void **state)
{
    (void)state;
    st_file f;
    st_read(base[V70], &f);
    st_set_metadata(&f, "hst.d_model", "20"); /* the 8-head processors need D % 8 == 0 (12.0) */
    st_set_metadata(&f, "hst.n_heads", "4");
    expect_file_error(&f, "bad metadata", "multiple of 8");
    st_read(base[V70], &f);
    st_set_metadata(&f, "hst.n_layers", "1"); /* v7.0 keeps section 3's L >= 2 */
    expect_file_error(&f, "bad metadata", "n_layers 1");
    st_read(base[V71], &f);
    st_set_metadata(&f, "hst.preset", "hst-v7.1");
    expect_file_error(&f, "bad metadata", "hst.preset hst-v7.1 means arch v7.1, V 5000");
    st_read(base[V70], &f);
    st_set_metadata(&f, "hst.preset", "hst-chaos"); /* an alias is a preset: its values must match */
    expect_file_error(&f, "bad metadata", "hst.preset hst-chaos means arch v7.0, V 5000");
    st_read(base[V8], &f);
    st_set_metadata(&f, "hst.arch", "v9");
    expect_file_error(&f, "bad metadata", "v7.0, v7.1, v8");
    st_read(base[V8], &f);
    st_set_metadata(&f, "hst.n_heads", "3");
    expect_file_error(&f, "bad metadata", "n_heads 3");
}

static void test_bad_spine_each_arch(void **state)
{
    (void)state;
    static const struct {
        arch_case a;
        const char *name;
        int index;
        int64_t value;
    } cases[] = {
        {V70, "lattice_core.analyzer.spine", 3, 13},
        {V71, "pos_encoding.spine", 4, 35},
        {V71, "lattice_core.path_weighted.analyzer.spine", 0, 1},
        {V8, "lattice_core.multi_level.analyzer.spine", 3, 12}, /* the 3-term spine's 12 where 2-term has 10 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_file f;
        st_read(base[cases[i].a], &f);
        memcpy(st_tensor_bytes(&f, cases[i].name) + 8 * cases[i].index, &cases[i].value, 8);
        expect_file_error(&f, "bad spine", cases[i].name);
    }
    /* A v8 file holding the whole 3-term spine of Lmax 40 (0, 2, 4, 12, 36): same length, bad spine. */
    st_file f;
    st_read(base[V8], &f);
    const int64_t three_term[5] = {0, 2, 4, 12, 36};
    memcpy(st_tensor_bytes(&f, "lattice_core.path_weighted.analyzer.spine"), three_term, sizeof three_term);
    expect_file_error(&f, "bad spine", "the spine of max_seq_len 40 has 10 there");
}

/* ---- v8's tie (12.E.4) ----------------------------------------------------------------- */

static void test_bad_tie_when_lm_head_differs(void **state)
{
    (void)state;
    st_file f;
    st_read(base[V8], &f);
    float *head = (float *)(void *)st_tensor_bytes(&f, "lm_head.weight");
    head[77] = nextafterf(head[77], 1.0f); /* one ulp */
    expect_file_error(&f, "bad tie", "lm_head.weight differs from token_embedding.embed.weight at element 77");
    /* -0 and +0 differ bit for bit. */
    st_read(base[V8], &f);
    float *tok = (float *)(void *)st_tensor_bytes(&f, "token_embedding.embed.weight");
    head = (float *)(void *)st_tensor_bytes(&f, "lm_head.weight");
    tok[5] = 0.0f;
    head[5] = -0.0f;
    expect_file_error(&f, "bad tie", "at element 5");
}

/* "bad tie" comes after "missing tensor" and "wrong shape" (spec 12.0). */
static void test_bad_tie_is_checked_after_missing_and_shape(void **state)
{
    (void)state;
    st_file f;
    st_read(base[V8], &f);
    float *head = (float *)(void *)st_tensor_bytes(&f, "lm_head.weight");
    head[0] += 1.0f;
    st_remove_tensor(&f, "attention_layers.0.norm3.weight");
    expect_file_error(&f, "missing tensor", "norm3");
    st_read(base[V8], &f);
    head = (float *)(void *)st_tensor_bytes(&f, "lm_head.weight");
    head[0] += 1.0f;
    st_set_shape(&f, "ln_f.bias", json_pack("[i]", 17));
    expect_file_error(&f, "wrong shape", "ln_f.bias");
}

/* Narrows an F32 tensor of f to BF16 in place (each value's upper half). */
static void st_narrow_to_bf16(st_file *f, const char *name)
{
    uint64_t b, e;
    st_offsets(f, name, &b, &e);
    uint64_t n = (e - b) / 4;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, f->data + b + 4 * i, 4);
        uint16_t hi = (uint16_t)(bits >> 16);
        memcpy(f->data + b + 2 * i, &hi, 2);
    }
    memmove(f->data + b + 2 * n, f->data + e, f->data_bytes - e);
    f->data_bytes -= 2 * n;
    st_shift_offsets_from(f, e, -(int64_t)(2 * n));
    st_set_offsets(f, name, (json_int_t)b, (json_int_t)(b + 2 * n));
    st_set_dtype(f, name, "BF16");
}

/* Both widened to F32 and compared: an F32 table and a BF16 head holding the same values are one tensor. */
static void test_tie_compares_widened_values(void **state)
{
    (void)state;
    st_file f;
    st_read(base[V8], &f);
    uint64_t b, e;
    st_offsets(&f, "token_embedding.embed.weight", &b, &e);
    for (uint64_t k = b; k < e; k += 4) { /* make the table exactly representable in BF16 */
        f.data[k] = 0;
        f.data[k + 1] = 0;
    }
    memcpy(st_tensor_bytes(&f, "lm_head.weight"), f.data + b, e - b);
    st_narrow_to_bf16(&f, "lm_head.weight");
    hst_model *m = expect_file_loads(&f);
    uint64_t n;
    const float *tok = hst_model_tensor_data(m, "token_embedding.embed.weight", &n);
    assert_true(hst_model_tensor_data(m, "lm_head.weight", NULL) == tok); /* one copy */
    hst_model_free(m);
}

/* ---- optional tensors, buffers, widening ---------------------------------------------- */

static void test_optional_entries_may_be_absent(void **state)
{
    (void)state;
    static const struct {
        arch_case a;
        const char *names[4];
    } cases[] = {
        {V70, {"lattice_core.analyzer.spine", "lattice_core.analyzer.layer_weights", "horizon_predictor.projection.weight",
               "speculative_verifier.proj.weight"}},
        {V71, {"memory.memory", "memory.importance", "pos_encoding.spine", "horizon_predictor.predictors.far.weight"}},
        {V8, {"lm_head.weight", "memory.memory", "cache_manager.importance_net.0.weight", "loss_weighting.log_vars"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_file f;
        st_read(base[cases[i].a], &f);
        for (int k = 0; k < 4; k++)
            st_remove_tensor(&f, cases[i].names[k]);
        hst_model *m = expect_file_loads(&f);
        hst_counts c = hst_model_counts(m);
        hst_error err = {{0}};
        hst_model *full = hst_model_random(&configs[cases[i].a], 7 + (uint64_t)cases[i].a, &err);
        hst_counts cf = hst_model_counts(full);
        assert_int_equal(c.n_tensors, cf.n_tensors - 4);
        assert_int_equal(c.params_next_token, cf.params_next_token); /* none of them is on the path */
        hst_model_free(full);
        hst_model_free(m);
    }
    /* Without lm_head.weight, the tie is the token table, and a save writes it again. */
    st_file f;
    st_read(base[V8], &f);
    st_remove_tensor(&f, "lm_head.weight");
    hst_model *m = expect_file_loads(&f);
    uint64_t n, nh;
    const float *tok = hst_model_tensor_data(m, "token_embedding.embed.weight", &n);
    assert_true(hst_model_tensor_data(m, "lm_head.weight", &nh) == tok && nh == n);
    st_save_or_die(m, bad_path);
    st_read(bad_path, &f);
    uint64_t b, e;
    st_offsets(&f, "lm_head.weight", &b, &e);
    assert_int_equal(e - b, n * 4);
    st_free(&f);
    hst_model_free(m);
}

/* F16/BF16 buffers are widened; memory values are neither read nor checked (12.0). */
static void test_float_buffers_widen_and_memory_is_unchecked(void **state)
{
    (void)state;
    st_file f;
    st_read(base[V8], &f);
    float *pe = (float *)(void *)st_tensor_bytes(&f, "pos_encoding.pe");
    float pe_want = pe[17];
    uint32_t bits;
    memcpy(&bits, &pe_want, 4);
    bits &= 0xffff0000u; /* what the BF16 copy holds */
    memcpy(&pe_want, &bits, 4);
    float *memory = (float *)(void *)st_tensor_bytes(&f, "memory.memory");
    memory[3] = NAN;
    memory[4] = INFINITY;
    st_narrow_to_bf16(&f, "pos_encoding.pe");
    st_narrow_to_bf16(&f, "memory.importance");
    hst_model *m = expect_file_loads(&f);
    assert_true(hst_model_tensor_data(m, "pos_encoding.pe", NULL)[17] == pe_want);
    assert_int_equal(hst_model_nonfinite_weights(m, NULL), 0);
    hst_counts c = hst_model_counts(m);
    assert_int_equal(c.weight_bytes, 4 * c.params_total); /* buffers are not weights */
    hst_model_free(m);
    /* A NaN in pe (read as stored) is reported like any weight's. */
    st_read(base[V8], &f);
    pe = (float *)(void *)st_tensor_bytes(&f, "pos_encoding.pe");
    pe[1] = NAN;
    m = expect_file_loads(&f);
    const char *first = NULL;
    assert_int_equal(hst_model_nonfinite_weights(m, &first), 1);
    assert_string_equal(first, "pos_encoding.pe");
    hst_model_free(m);
}

/* ---- presets through the command line (12.C.9, 12.0) ---------------------------------- */

static void test_model_init_of_the_stage2_presets(void **state)
{
    (void)state;
    static const struct {
        const char *preset, *arch, *total, *tensors;
    } cases[] = {
        {"hst-chaos", "v7.0", "21,205,922", "321 tensors"},
        {"hst-v7.1", "v7.1", "57,287,819", "369 tensors"},
        {"hst-v8", "v8", "24,183,686", "368 tensors"},
    };
    char path[160];
    snprintf(path, sizeof path, "%s/preset.safetensors", tmp_dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_result r = harness_run(tmp_dir, "model init --preset %s --seed 3 -o %s", cases[i].preset, path);
        if (r.status != 0)
            fail_msg("model init --preset %s: %s", cases[i].preset, r.err);
        assert_non_null(strstr(r.out, cases[i].total));
        assert_non_null(strstr(r.out, cases[i].tensors));
        harness_done(&r);
        hst_config cfg;
        assert_int_equal(hst_preset_config(cases[i].preset, &cfg), 0);
        check_written_layout(path, &cfg);
        hst_model *m = st_load_or_die(path);
        assert_string_equal(hst_model_preset(m), cases[i].preset); /* hst-chaos keeps its name */
        hst_error err = {{0}};
        hst_model *want = hst_model_open(cases[i].preset, 3, &err);
        st_assert_same_tensors(want, m);
        hst_model_free(want);
        hst_model_free(m);
        r = harness_run(tmp_dir, "model info %s", path);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, cases[i].total));
        char arch[64];
        snprintf(arch, sizeof arch, "arch          %s (%s, Core %c)", cases[i].arch, hst_arch_class(cfg.arch),
                 hst_arch_core(cfg.arch));
        assert_non_null(strstr(r.out, arch));
        harness_done(&r);
    }
    cli_result r = harness_run(tmp_dir, "model info %s", path); /* the v8 file */
    assert_non_null(strstr(r.out, "lm_head.weight"));
    assert_non_null(strstr(r.out, "tied (the token table)"));
    assert_non_null(strstr(r.out, "3,788,874 on the next-token path"));
    harness_done(&r);
    r = harness_run(tmp_dir, "run --model %s -n 2 -q", path);
    if (!hst_arch_implemented(HST_ARCH_V8)) {
        assert_int_equal(r.status, 1);
        assert_int_equal(harness_count_lines(r.err), 1);
        assert_non_null(strstr(r.err, "forward: hst-v8 is not implemented in this build"));
    }
    harness_done(&r);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written_files_hold_every_entry_and_load_back_bit_exact),
        cmocka_unit_test(test_truncated_each_arch),
        cmocka_unit_test(test_header_too_large_each_arch),
        cmocka_unit_test(test_bad_header_each_arch),
        cmocka_unit_test(test_unsupported_dtype_each_arch),
        cmocka_unit_test(test_bad_offsets_each_arch),
        cmocka_unit_test(test_missing_tensor_each_arch),
        cmocka_unit_test(test_unexpected_tensor_each_arch),
        cmocka_unit_test(test_wrong_shape_each_arch),
        cmocka_unit_test(test_bad_metadata_each_arch),
        cmocka_unit_test(test_bad_spine_each_arch),
        cmocka_unit_test(test_bad_tie_when_lm_head_differs),
        cmocka_unit_test(test_bad_tie_is_checked_after_missing_and_shape),
        cmocka_unit_test(test_tie_compares_widened_values),
        cmocka_unit_test(test_optional_entries_may_be_absent),
        cmocka_unit_test(test_float_buffers_widen_and_memory_is_unchecked),
        cmocka_unit_test(test_model_init_of_the_stage2_presets),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
