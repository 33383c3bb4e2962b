/* test_safetensors.c — loading and saving safetensors files (spec 9).
 *
 * Malformed files are made from a valid saved file by editing its header
 * with jansson and re-padding it, so each test changes exactly one thing and
 * asserts the exact class word of spec 9.4. */
#include "engine/internal.h"
#include "exports/model_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness.h"
#include "tests/st_edit.h"

/* ---- fixtures --------------------------------------------------------------- */

static const hst_config cfg_v4 = {HST_ARCH_V4, 40, 16, 2, 2, 64, 2};
/* D = 16 gives continual_updater.sparse_proj [D/20 = 0, D]: empty tensors. */
static const hst_config cfg_v61 = {HST_ARCH_V6_1, 40, 16, 2, 8, 64, 2};
static const hst_config cfg_v61_wide = {HST_ARCH_V6_1, 24, 40, 4, 8, 128, 3};

static char tmp_dir[64];
static char base_v4[128];  /* a valid v4 file saved by the engine */
static char bad_path[128]; /* each malformed-file test writes here */

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp_dir, name);
}




static int group_setup(void **state)
{
    (void)state;
    if (harness_make_tmpdir(tmp_dir, sizeof tmp_dir, "safetensors") != 0)
        return -1;
    tmp_path(base_v4, sizeof base_v4, "base_v4.safetensors");
    tmp_path(bad_path, sizeof bad_path, "bad.safetensors");
    return st_save_random(&cfg_v4, 7, base_v4);
}

static int group_teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmp_dir);
}

static int count_dir_entries(const char *dir, const char *containing)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && strstr(e->d_name, containing))
            n++;
    closedir(d);
    return n;
}

static void read_base(st_file *f) { st_read(base_v4, f); }

static void expect_load_error(const char *cls, const char *detail)
{
    st_expect_load_error(bad_path, cls, detail);
}

/* Writes f to the bad file and expects cls. */
static void expect_file_error(st_file *f, const char *cls, const char *detail)
{
    st_write(bad_path, f);
    st_free(f);
    expect_load_error(cls, detail);
}

static void assert_same_config(const hst_config *a, const hst_config *b)
{
    assert_memory_equal(a, b, sizeof *a);
}

/* ---- round trips (spec 9.5 then 9.4) ------------------------------------------- */

static void check_round_trip(const hst_config *cfg, uint64_t seed, const char *file)
{
    char path[160];
    tmp_path(path, sizeof path, file);
    hst_model *a = st_random_or_die(cfg, seed);
    st_save_or_die(a, path);
    hst_model *b = st_load_or_die(path);
    assert_same_config(hst_model_config(a), hst_model_config(b));
    st_assert_same_tensors(a, b);
    assert_string_equal(hst_model_preset(a), hst_model_preset(b));
    assert_string_equal(hst_model_source(b), path);
    assert_int_equal(hst_model_seed(b), seed);
    hst_model_free(a);
    hst_model_free(b);
}

static void test_round_trip_v4_is_bit_identical(void **state)
{
    (void)state;
    check_round_trip(&cfg_v4, 7, "rt_v4.safetensors");
}

static void test_round_trip_v61_with_extras_is_bit_identical(void **state)
{
    (void)state;
    check_round_trip(&cfg_v61, 11, "rt_v61.safetensors");
    check_round_trip(&cfg_v61_wide, 12, "rt_v61w.safetensors");
}

static void test_round_trip_v52_large_seed(void **state)
{
    (void)state;
    const hst_config c = {HST_ARCH_V5_2, 33, 8, 1, 3, 5, 1};
    check_round_trip(&c, UINT64_MAX, "rt_v52.safetensors");
}

static void test_round_trip_preset_keeps_name_and_counts(void **state)
{
    (void)state;
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v4", &c), 0);
    char path[160];
    tmp_path(path, sizeof path, "preset.safetensors");
    hst_model *a = st_random_or_die(&c, 3);
    st_save_or_die(a, path);
    hst_model *b = st_load_or_die(path);
    assert_string_equal(hst_model_preset(b), "hst-v4");
    assert_int_equal(hst_model_counts(b).params_total, 4038508); /* spec 3 */
    assert_int_equal(hst_model_counts(b).params_next_token, 2962369);
    st_assert_same_tensors(a, b);
    hst_model_free(a);
    hst_model_free(b);
}

/* Spec 9.5: canonical order, contiguous from 0, F32 weights, I64 spines, the
 * header padded with spaces to a multiple of 8, every metadata key. */
static void test_saved_layout_follows_spec(void **state)
{
    (void)state;
    size_t len;
    unsigned char *raw = st_read_whole(base_v4, &len);
    uint64_t n = st_le64(raw);
    assert_int_equal((8 + n) % 8, 0);
    assert_true(raw[8] == '{');
    size_t last = 8 + n - 1;
    while (raw[last] == ' ')
        last--;
    assert_true(raw[last] == '}');
    assert_true(8 + n - 1 - last < 8);
    free(raw);

    st_file f;
    read_base(&f);
    hst_model *m = st_load_or_die(base_v4);
    const char *key;
    json_t *entry;
    uint64_t expect_begin = 0;
    int spec = -1;
    json_object_foreach(f.header, key, entry) {
        if (strcmp(key, "__metadata__") == 0) {
            assert_int_equal(spec, -1); /* written first */
            continue;
        }
        int i = hst_spec_find(m->specs, m->n_specs, key);
        assert_true(i > spec); /* canonical order */
        spec = i;
        uint64_t b, e;
        st_offsets(&f, key, &b, &e);
        assert_int_equal(b, expect_begin);
        expect_begin = e;
        const char *dt = json_string_value(json_object_get(entry, "dtype"));
        assert_string_equal(dt, (m->specs[i].flags & HST_T_BUFFER) ? "I64" : "F32");
    }
    assert_int_equal(expect_begin, f.data_bytes);
    const json_t *md = json_object_get(f.header, "__metadata__");
    static const char *const want[][2] = {
        {"hst.format_version", "1"}, {"hst.arch", "v4"},       {"hst.vocab_size", "40"},
        {"hst.d_model", "16"},       {"hst.n_heads", "2"},     {"hst.n_layers", "2"},
        {"hst.max_seq_len", "64"},   {"hst.horizon", "2"},     {"hst.preset", "custom"},
        {"hst.seed", "7"},           {"hst.source", "random (seed 7)"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(json_string_value(json_object_get(md, want[i][0])), want[i][1]);
    /* The spine of Lmax 64 is 0, 2, 4, 12, 36 (spec 2), as I64. */
    const unsigned char *sp = st_tensor_bytes(&f, "lattice_core.multi_level.analyzer.spine");
    int64_t spine[5];
    memcpy(spine, sp, sizeof spine);
    assert_int_equal(spine[3], 12);
    assert_int_equal(spine[4], 36);
    hst_model_free(m);
    st_free(&f);
}

static void test_optional_tensors_may_be_absent(void **state)
{
    (void)state;
    static const char *const optional[] = {
        "lattice_core.multi_level.analyzer.spine",
        "lattice_core.path_weighted.analyzer.spine",
        "harmonic_horizon_predictor.horizon_projection.weight",
        "harmonic_horizon_predictor.horizon_projection.bias",
        "harmonic_horizon_predictor.prediction_head.weight",
        "harmonic_horizon_predictor.confidence_head.0.weight",
        "harmonic_horizon_predictor.confidence_head.0.bias",
        "harmonic_horizon_predictor.confidence_head.2.weight",
        "harmonic_horizon_predictor.confidence_head.2.bias",
    };
    st_file f;
    read_base(&f);
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++)
        st_remove_tensor(&f, optional[i]);
    st_write(bad_path, &f);
    st_free(&f);
    hst_model *full = st_load_or_die(base_v4);
    hst_model *m = st_load_or_die(bad_path);
    const int D = 16, V = 40, Hz = 2;
    uint64_t harmonic = (uint64_t)(Hz * D * D + Hz * D + V * D + D * D / 4 + D / 4 + Hz * D / 4 + Hz); /* spec 7 */
    assert_int_equal(hst_model_counts(m).n_tensors, hst_model_counts(full).n_tensors - 9);
    assert_int_equal(hst_model_counts(m).params_total, hst_model_counts(full).params_total - harmonic);
    assert_int_equal(hst_model_counts(m).params_next_token, hst_model_counts(full).params_next_token);
    assert_null(hst_model_tensor_data(m, "harmonic_horizon_predictor.prediction_head.weight", NULL));
    hst_model_free(full);
    hst_model_free(m);
}

/* Spec 9.1: readers must not assume alignment. */
static void test_unaligned_data_section_loads(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    st_write_opts(bad_path, &f, 1);
    st_free(&f);
    size_t len;
    unsigned char *raw = st_read_whole(bad_path, &len);
    assert_int_equal((8 + st_le64(raw)) % 2, 1);
    free(raw);
    hst_model *a = st_load_or_die(base_v4), *b = st_load_or_die(bad_path);
    st_assert_same_tensors(a, b);
    hst_model_free(a);
    hst_model_free(b);
}

static void test_metadata_preset_seed_and_extra_keys(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    st_set_metadata(&f, "hst.seed", "18446744073709551615");
    st_set_metadata(&f, "hst.source", "somewhere else");
    st_set_metadata(&f, "format", "pt"); /* other writers' keys are ignored */
    st_write(bad_path, &f);
    st_free(&f);
    hst_model *m = st_load_or_die(bad_path);
    assert_int_equal(hst_model_seed(m), UINT64_MAX);
    assert_string_equal(hst_model_preset(m), "custom");
    assert_string_equal(hst_model_source(m), bad_path);
    hst_model_free(m);

    read_base(&f);
    st_set_metadata(&f, "hst.seed", NULL);
    st_set_metadata(&f, "hst.preset", NULL);
    st_set_metadata(&f, "hst.source", NULL);
    st_write(bad_path, &f);
    st_free(&f);
    m = st_load_or_die(bad_path);
    assert_int_equal(hst_model_seed(m), 0);
    assert_string_equal(hst_model_preset(m), "custom");
    hst_model_free(m);
}

static void test_preset_found_from_config_without_metadata_name(void **state)
{
    (void)state;
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v6", &c), 0);
    char path[160];
    tmp_path(path, sizeof path, "v6.safetensors");
    hst_model *a = st_random_or_die(&c, 1);
    st_save_or_die(a, path);
    hst_model_free(a);
    st_file f;
    st_read(path, &f);
    st_set_metadata(&f, "hst.preset", NULL);
    st_write(path, &f);
    st_free(&f);
    hst_model *m = st_load_or_die(path);
    assert_string_equal(hst_model_preset(m), "hst-v6");
    hst_model_free(m);
}

/* ---- F16 / BF16 widening (spec 9.2) ------------------------------------------ */

typedef struct {
    uint16_t half;
    float value; /* NAN: any nan */
} half_case;

static const half_case f16_cases[] = {
    {0x0000, 0.0f},        {0x8000, -0.0f},         {0x3c00, 1.0f},          {0xc000, -2.0f},
    {0x0001, 0x1p-24f},    {0x8001, -0x1p-24f},     {0x03ff, 0x1.ff8p-15f},  {0x0400, 0x1p-14f},
    {0x7bff, 65504.0f},    {0x7c00, INFINITY},      {0xfc00, -INFINITY},     {0x7e00, NAN},
    {0x3555, 0x1.554p-2f}, {0x7c01, NAN},           {0x0200, 0x1p-15f},
};

static const half_case bf16_cases[] = {
    {0x0000, 0.0f},       {0x8000, -0.0f},         {0x3f80, 1.0f},          {0xc000, -2.0f},
    {0x0001, 0x1p-133f},  {0x4049, 3.140625f},     {0x7f7f, 0x1.fep127f},   {0x7f80, INFINITY},
    {0xff80, -INFINITY},  {0x7fc0, NAN},           {0x0080, 0x1p-126f},     {0xbf00, -0.5f},
};

#define N_F16 (sizeof f16_cases / sizeof f16_cases[0])
#define N_BF16 (sizeof bf16_cases / sizeof bf16_cases[0])

static void assert_float_same(float got, float want)
{
    if (isnan(want)) {
        assert_true(isnan(got));
        return;
    }
    uint32_t g, w;
    memcpy(&g, &got, 4);
    memcpy(&w, &want, 4);
    if (g != w)
        fail_msg("got %a (0x%08x), want %a (0x%08x)", (double)got, g, (double)want, w);
}

static void test_f16_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_F16; i++)
        assert_float_same(hst_f16_to_f32(f16_cases[i].half), f16_cases[i].value);
    for (size_t i = 0; i < N_BF16; i++)
        assert_float_same(hst_bf16_to_f32(bf16_cases[i].half), bf16_cases[i].value);
}

/* Every one of the 65536 halves against the compiler's own conversion. */
static void test_f16_all_values_match_compiler(void **state)
{
    (void)state;
#ifdef __FLT16_MAX__
    for (uint32_t bits = 0; bits <= 0xffff; bits++) {
        uint16_t h = (uint16_t)bits;
        _Float16 x;
        memcpy(&x, &h, sizeof h);
        assert_float_same(hst_f16_to_f32(h), (float)x);
        /* BF16 is exactly the upper half of the f32 (spec 9.2). */
        float b = hst_bf16_to_f32(h);
        uint32_t bb;
        memcpy(&bb, &b, 4);
        assert_int_equal(bb, bits << 16);
    }
#else
    skip();
#endif
}

/* Rewrites every F32 tensor of f as dtypes[k % 2] (k = its index in the
 * header), element i holding the half pattern of case i % n; spines kept. */
static void st_retype(st_file *f, const char *const dtypes[2])
{
    unsigned char *data = malloc(f->data_bytes + 1);
    assert_non_null(data);
    size_t used = 0;
    const char *key;
    json_t *entry;
    int k = 0;
    json_object_foreach(f->header, key, entry) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        uint64_t b, e;
        st_offsets(f, key, &b, &e);
        const char *dt = json_string_value(json_object_get(entry, "dtype"));
        if (strcmp(dt, "F32") != 0) {
            memcpy(data + used, f->data + b, e - b);
            st_set_offsets(f, key, (json_int_t)used, (json_int_t)(used + (e - b)));
            used += e - b;
            continue;
        }
        const char *to = dtypes[k++ % 2];
        int is_f16 = strcmp(to, "F16") == 0;
        uint64_t numel = (e - b) / 4;
        for (uint64_t i = 0; i < numel; i++) {
            uint16_t h = is_f16 ? f16_cases[i % N_F16].half : bf16_cases[i % N_BF16].half;
            memcpy(data + used + 2 * i, &h, 2);
        }
        st_set_dtype(f, key, to);
        st_set_offsets(f, key, (json_int_t)used, (json_int_t)(used + 2 * numel));
        used += 2 * numel;
    }
    free(f->data);
    f->data = data;
    f->data_bytes = used;
}

static void check_widened_file(const char *const dtypes[2])
{
    st_file f;
    read_base(&f);
    st_retype(&f, dtypes);
    st_write(bad_path, &f);
    hst_model *m = st_load_or_die(bad_path);
    hst_model *ref = st_load_or_die(base_v4);
    assert_int_equal(hst_model_counts(m).n_tensors, hst_model_counts(ref).n_tensors);
    assert_int_equal(hst_model_counts(m).params_total, hst_model_counts(ref).params_total);
    for (int t = 0; t < hst_model_tensor_count(m); t++) {
        hst_tensor_info info;
        assert_int_equal(hst_model_tensor(m, t, &info), 0);
        uint64_t numel = 0;
        const float *d = hst_model_tensor_data(m, info.name, &numel);
        if (!d)
            continue;
        const char *dt = json_string_value(json_object_get(st_entry(&f, info.name), "dtype"));
        int is_f16 = strcmp(dt, "F16") == 0;
        for (uint64_t i = 0; i < numel; i++)
            assert_float_same(d[i], is_f16 ? f16_cases[i % N_F16].value : bf16_cases[i % N_BF16].value);
    }
    st_free(&f);
    hst_model_free(m);
    hst_model_free(ref);
}

static void test_f16_file_widens(void **state)
{
    (void)state;
    static const char *const dt[2] = {"F16", "F16"};
    check_widened_file(dt);
}

static void test_bf16_file_widens(void **state)
{
    (void)state;
    static const char *const dt[2] = {"BF16", "BF16"};
    check_widened_file(dt);
}

static void test_mixed_f16_bf16_file_widens(void **state)
{
    (void)state;
    static const char *const dt[2] = {"F16", "BF16"};
    check_widened_file(dt);
}

/* ---- truncated / header too large (spec 9.4) ------------------------------------ */

static void test_empty_file_is_truncated(void **state)
{
    (void)state;
    st_write_raw(bad_path, 0, NULL, 0, NULL, 0);
    assert_int_equal(truncate(bad_path, 0), 0);
    expect_load_error("truncated", "0 bytes");
}

static void test_seven_byte_file_is_truncated(void **state)
{
    (void)state;
    st_write_raw(bad_path, 0, NULL, 0, NULL, 0);
    assert_int_equal(truncate(bad_path, 7), 0);
    expect_load_error("truncated", "7 bytes");
}

static void test_header_length_beyond_file_is_truncated(void **state)
{
    (void)state;
    const char *text = "{}";
    st_write_raw(bad_path, 64, text, 2, NULL, 0);
    expect_load_error("truncated", NULL);
}

static void test_header_length_at_limit_is_only_truncated(void **state)
{
    (void)state;
    st_write_raw(bad_path, 100000000, "{}", 2, NULL, 0);
    expect_load_error("truncated", NULL);
}

static void test_header_over_limit_is_too_large(void **state)
{
    (void)state;
    st_write_raw(bad_path, 100000001, "{}", 2, NULL, 0);
    expect_load_error("header too large", "100000001");
    st_write_raw(bad_path, UINT64_MAX, "{}", 2, NULL, 0);
    expect_load_error("header too large", NULL);
}

/* A data section cut short: every offset is consistent but the file ends early. */
static void test_data_cut_short_is_truncated(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    f.data_bytes -= 4;
    expect_file_error(&f, "truncated", "ln_f.bias");
}

static void test_offsets_beyond_data_are_truncated(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    uint64_t b, e;
    st_offsets(&f, "lm_head.weight", &b, &e);
    st_set_offsets(&f, "lm_head.weight", (json_int_t)(b + f.data_bytes), (json_int_t)(e + f.data_bytes));
    expect_file_error(&f, "truncated", "lm_head.weight");
}

/* ---- bad header ---------------------------------------------------------------- */

static void test_header_not_json_is_bad_header(void **state)
{
    (void)state;
    st_write_text_header(bad_path, "this is not JSON", NULL, 0, 0);
    expect_load_error("bad header", NULL);
}

static void test_header_json_array_is_bad_header(void **state)
{
    (void)state;
    st_write_text_header(bad_path, "[1, 2, 3]", NULL, 0, 0);
    expect_load_error("bad header", "array");
    st_write_text_header(bad_path, "\"text\"", NULL, 0, 0);
    expect_load_error("bad header", NULL);
}

static void test_header_not_utf8_is_bad_header(void **state)
{
    (void)state;
    st_write_text_header(bad_path, "{\"\xff\xfe\": 1}", NULL, 0, 0);
    expect_load_error("bad header", NULL);
}

static void test_empty_header_is_bad_header(void **state)
{
    (void)state;
    st_write_raw(bad_path, 0, NULL, 0, NULL, 0);
    expect_load_error("bad header", NULL);
}

/* The header is not NUL-terminated in the file: an unterminated JSON value
 * ending exactly at the end of a one-page file must not be read past. */
static void test_header_ending_at_page_boundary(void **state)
{
    (void)state;
    size_t n = 4096 - 8;
    char *text = malloc(n);
    assert_non_null(text);
    text[0] = '[';
    for (size_t i = 1; i < n; i += 2) {
        text[i] = '1';
        if (i + 1 < n)
            text[i + 1] = ',';
    }
    text[n - 1] = '9';
    st_write_raw(bad_path, n, text, n, NULL, 0);
    free(text);
    expect_load_error("bad header", NULL);
}

static void test_duplicate_key_is_bad_header(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    char *text = st_dump_header(&f);
    char *entry = json_dumps(st_entry(&f, "ln_f.bias"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len = strlen(text);
    char *dup = malloc(len + strlen(entry) + 32);
    assert_non_null(dup);
    memcpy(dup, text, len - 1); /* drop the closing brace */
    sprintf(dup + len - 1, ",\"ln_f.bias\":%s}", entry);
    st_write_text_header(bad_path, dup, f.data, f.data_bytes, 0);
    free(dup);
    free(entry);
    free(text);
    st_free(&f);
    expect_load_error("bad header", "duplicate");
}

static void test_entry_missing_key_is_bad_header(void **state)
{
    (void)state;
    static const char *const keys[] = {"dtype", "shape", "data_offsets"};
    for (size_t i = 0; i < 3; i++) {
        st_file f;
        read_base(&f);
        assert_int_equal(json_object_del(st_entry(&f, "ln_f.bias"), keys[i]), 0);
        expect_file_error(&f, "bad header", keys[i]);
    }
}

static void test_entry_extra_key_is_bad_header(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    json_object_set_new(st_entry(&f, "ln_f.bias"), "stride", json_integer(1));
    expect_file_error(&f, "bad header", "stride");
}

static void test_entry_not_object_is_bad_header(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    json_object_set_new(f.header, "ln_f.bias", json_string("F32"));
    expect_file_error(&f, "bad header", "ln_f.bias");
}

static void test_dtype_not_string_is_bad_header(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    json_object_set_new(st_entry(&f, "ln_f.bias"), "dtype", json_integer(4));
    expect_file_error(&f, "bad header", "dtype");
}

static void test_negative_shape_is_bad_header(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    st_set_shape(&f, "ln_f.bias", json_pack("[i]", -16));
    expect_file_error(&f, "bad header", "ln_f.bias");
}

static void test_non_integer_shape_is_bad_header(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    st_set_shape(&f, "ln_f.bias", json_pack("[f]", 16.0));
    expect_file_error(&f, "bad header", "ln_f.bias");
    read_base(&f);
    st_set_shape(&f, "ln_f.bias", json_string("[16]"));
    expect_file_error(&f, "bad header", "ln_f.bias");
    read_base(&f);
    st_set_shape(&f, "ln_f.bias", json_pack("[s]", "16"));
    expect_file_error(&f, "bad header", "ln_f.bias");
}

static void test_metadata_non_string_value_is_bad_header(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    json_object_set_new(json_object_get(f.header, "__metadata__"), "hst.d_model", json_integer(16));
    expect_file_error(&f, "bad header", "hst.d_model");
}

static void test_metadata_not_object_is_bad_header(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    json_object_set_new(f.header, "__metadata__", json_pack("[s]", "hst.arch"));
    expect_file_error(&f, "bad header", "__metadata__");
}

/* ---- unsupported dtype ---------------------------------------------------------- */

static void test_unknown_dtype_is_unsupported(void **state)
{
    (void)state;
    static const char *const bad[] = {"F64", "f32", "I32", "U8", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_file f;
        read_base(&f);
        st_set_dtype(&f, "ln_f.bias", bad[i]);
        expect_file_error(&f, "unsupported dtype", "ln_f.bias");
    }
}

static void test_i64_weight_is_unsupported(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    st_set_dtype(&f, "ln_f.bias", "I64");
    expect_file_error(&f, "unsupported dtype", "ln_f.bias");
}

static void test_float_spine_buffer_is_unsupported(void **state)
{
    (void)state;
    static const char *const bad[] = {"F32", "BF16"};
    for (size_t i = 0; i < 2; i++) {
        st_file f;
        read_base(&f);
        st_set_dtype(&f, "lattice_core.path_weighted.analyzer.spine", bad[i]);
        expect_file_error(&f, "unsupported dtype", "lattice_core.path_weighted.analyzer.spine");
    }
}

/* ---- bad offsets ------------------------------------------------------------------ */

static void test_offsets_begin_after_end_are_bad(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    uint64_t b, e;
    st_offsets(&f, "ln_f.bias", &b, &e);
    st_set_offsets(&f, "ln_f.bias", (json_int_t)e, (json_int_t)b);
    expect_file_error(&f, "bad offsets", "ln_f.bias");
}

static void test_offsets_size_mismatch_is_bad(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    uint64_t b, e;
    st_offsets(&f, "ln_f.bias", &b, &e);
    st_set_offsets(&f, "ln_f.bias", (json_int_t)b, (json_int_t)(e - 4));
    expect_file_error(&f, "bad offsets", "ln_f.bias");
}

static void test_offsets_not_two_integers_are_bad(void **state)
{
    (void)state;
    json_t *bad[] = {json_pack("[i]", 0), json_pack("[i,i,i]", 0, 4, 8), json_pack("[s,i]", "0", 64),
                     json_pack("[i,i]", -64, 0), json_pack("{s:i}", "begin", 0), json_pack("[f,f]", 0.0, 64.0)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_file f;
        read_base(&f);
        json_object_set_new(st_entry(&f, "ln_f.bias"), "data_offsets", bad[i]);
        expect_file_error(&f, "bad offsets", "ln_f.bias");
    }
}

static void test_overlapping_ranges_are_bad_offsets(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    uint64_t b, e;
    st_offsets(&f, "ln_f.bias", &b, &e);
    st_set_offsets(&f, "ln_f.bias", (json_int_t)(b - 4), (json_int_t)(e - 4));
    expect_file_error(&f, "bad offsets", "overlaps");
}

static void test_gap_between_tensors_is_bad_offsets(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    uint64_t b, e;
    st_offsets(&f, "lm_head.weight", &b, &e);
    st_insert_bytes(&f, e, 8);
    expect_file_error(&f, "bad offsets", "lm_head.weight");
}

static void test_gap_at_start_is_bad_offsets(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    st_insert_bytes(&f, 0, 4);
    expect_file_error(&f, "bad offsets", "token_embedding.weight");
}

static void test_trailing_unused_bytes_are_bad_offsets(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    st_insert_bytes(&f, f.data_bytes, 4);
    expect_file_error(&f, "bad offsets", "unused");
}

/* ---- missing / unexpected tensor, wrong shape -------------------------------------- */

static void test_missing_required_tensor(void **state)
{
    (void)state;
    static const char *const required[] = {"ln_f.weight", "token_embedding.weight",
                                           "adaptive_bottom.0.confidence_predictor.2.bias",
                                           "lattice_core.multi_level.level_transforms.9.3.bias"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        st_file f;
        read_base(&f);
        st_remove_tensor(&f, required[i]);
        expect_file_error(&f, "missing tensor", required[i]);
    }
}

static void test_no_tensors_at_all_is_missing_tensor(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    json_t *md = json_incref(json_object_get(f.header, "__metadata__"));
    json_object_clear(f.header);
    json_object_set_new(f.header, "__metadata__", md);
    f.data_bytes = 0;
    expect_file_error(&f, "missing tensor", "token_embedding.weight");
}

static void test_v61_name_in_v4_file_is_unexpected(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    float bias[8] = {0};
    st_add_tensor(&f, "reasoning_head.residual_mlp.0.bias", "F32", json_pack("[i]", 8), bias, sizeof bias);
    expect_file_error(&f, "unexpected tensor", "reasoning_head.residual_mlp.0.bias");
}

static void test_v61_bottom_name_in_v4_file_is_unexpected(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    float w[16] = {0};
    st_add_tensor(&f, "adaptive_bottom.layers.0.norm1.weight", "F32", json_pack("[i]", 16), w, sizeof w);
    expect_file_error(&f, "unexpected tensor", "adaptive_bottom.layers.0.norm1.weight");
}

/* Names are quoted shortened so the line fits in hst_error. */
static void test_long_unexpected_name_fits_message(void **state)
{
    (void)state;
    char name[5000];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    st_file f;
    read_base(&f);
    float w[4] = {0};
    st_add_tensor(&f, name, "F32", json_pack("[i]", 4), w, sizeof w);
    expect_file_error(&f, "unexpected tensor", "nnn...");
}

/* A name with a newline (legal JSON) must not break the one-line rule. */
static void test_control_characters_in_name_stay_one_line(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    float w[4] = {0};
    st_add_tensor(&f, "evil\nname\r\x1b[2J", "F32", json_pack("[i]", 4), w, sizeof w);
    expect_file_error(&f, "unexpected tensor", "evil?name");
    st_write_text_header(bad_path, "{\"a\n\": 1}", NULL, 0, 0); /* raw newline inside a string */
    expect_load_error("bad header", NULL);
}

static void test_wrong_shape(void **state)
{
    (void)state;
    json_t *bad[] = {json_pack("[i,i]", 4, 4), json_pack("[i]", 17), json_pack("[]"),
                     json_pack("[i,i,i,i,i]", 16, 1, 1, 1, 1), json_pack("[i,i,i,i,i,i,i]", 1, 2, 3, 4, 5, 6, 7),
                     json_pack("[I,I,I]", (json_int_t)1 << 62, (json_int_t)1 << 62, (json_int_t)1 << 62)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_file f;
        read_base(&f);
        st_set_shape(&f, "ln_f.weight", bad[i]);
        expect_file_error(&f, "wrong shape", "ln_f.weight");
    }
}

static void test_spine_of_wrong_length_is_wrong_shape(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    st_set_shape(&f, "lattice_core.multi_level.analyzer.spine", json_pack("[i]", 4));
    expect_file_error(&f, "wrong shape", "lattice_core.multi_level.analyzer.spine");
}

/* ---- bad metadata (spec 9.3) --------------------------------------------------------- */

static void expect_metadata_error(const char *key, const char *value, const char *detail)
{
    st_file f;
    read_base(&f);
    st_set_metadata(&f, key, value);
    expect_file_error(&f, "bad metadata", detail);
}

static void test_metadata_missing_required_key(void **state)
{
    (void)state;
    static const char *const keys[] = {"hst.format_version", "hst.arch",    "hst.vocab_size", "hst.d_model",
                                       "hst.n_heads",        "hst.n_layers", "hst.max_seq_len", "hst.horizon"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        expect_metadata_error(keys[i], NULL, keys[i]);
}

static void test_metadata_absent(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    json_object_del(f.header, "__metadata__");
    expect_file_error(&f, "bad metadata", "__metadata__");
}

static void test_metadata_not_positive_decimal(void **state)
{
    (void)state;
    static const char *const bad[] = {"abc", "+5", "-5", " 5", "5 ", "0", "", "16.0", "0x10",
                                      "2147483648", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_metadata_error("hst.d_model", bad[i], "hst.d_model");
}

static void test_metadata_unknown_arch(void **state)
{
    (void)state;
    expect_metadata_error("hst.arch", "v9", "v9");
    expect_metadata_error("hst.arch", "V4", "V4");
}

static void test_metadata_version_2(void **state)
{
    (void)state;
    expect_metadata_error("hst.format_version", "2", "hst.format_version");
    expect_metadata_error("hst.format_version", "1.0", "hst.format_version");
}

static void test_metadata_d_not_multiple_of_heads(void **state)
{
    (void)state;
    expect_metadata_error("hst.n_heads", "3", "n_heads");
}

static void test_metadata_section3_constraints(void **state)
{
    (void)state;
    expect_metadata_error("hst.max_seq_len", "9000", "max_seq_len");
    expect_metadata_error("hst.n_layers", "1", "n_layers");
    expect_metadata_error("hst.d_model", "18", "d_model");
    expect_metadata_error("hst.arch", "v6.1", "v6.1"); /* L = 2 < 8 */
}

static void test_metadata_preset_mismatch(void **state)
{
    (void)state;
    expect_metadata_error("hst.preset", "hst-v4", "hst-v4");
    expect_metadata_error("hst.preset", "hst-v9", "hst-v9");
}

static void test_metadata_bad_seed(void **state)
{
    (void)state;
    expect_metadata_error("hst.seed", "18446744073709551616", "hst.seed");
    expect_metadata_error("hst.seed", "-1", "hst.seed");
}

/* ---- bad spine (spec 6) ------------------------------------------------------------------ */

static void test_bad_spine_values(void **state)
{
    (void)state;
    static const char *const spines[] = {"lattice_core.multi_level.analyzer.spine",
                                         "lattice_core.path_weighted.analyzer.spine"};
    for (size_t i = 0; i < 2; i++) {
        st_file f;
        read_base(&f);
        int64_t eleven = 11;
        memcpy(st_tensor_bytes(&f, spines[i]) + 3 * 8, &eleven, 8);
        expect_file_error(&f, "bad spine", spines[i]);
    }
}

/* ---- files that are not there --------------------------------------------------------------- */

static void test_missing_file_cannot_open(void **state)
{
    (void)state;
    char path[160];
    tmp_path(path, sizeof path, "does-not-exist.safetensors");
    st_expect_load_error(path, "cannot open", NULL);
    st_expect_load_error(tmp_dir, "cannot open", NULL); /* a directory */
    assert_null(hst_model_load(path, NULL));            /* err is optional */
}

/* A FIFO must fail at once, not block waiting for a writer. */
static void test_fifo_fails_without_blocking(void **state)
{
    (void)state;
    char path[160];
    tmp_path(path, sizeof path, "fifo.safetensors");
    assert_int_equal(mkfifo(path, 0600), 0);
    st_expect_load_error(path, "cannot open", "regular file");
    unlink(path);
}

static void test_long_path_message_fits(void **state)
{
    (void)state;
    char path[600];
    int n = snprintf(path, sizeof path, "%s/", tmp_dir);
    memset(path + n, 'p', 250);
    path[n + 250] = '\0';
    hst_error err;
    long printed = -1;
    assert_null(st_load_silently(path, &err, &printed));
    assert_non_null(strstr(err.msg, "...ppp"));
    assert_non_null(strstr(err.msg, ": cannot open: "));
    assert_true(strlen(err.msg) < 300);
}

/* ---- saving (spec 9.5) ------------------------------------------------------------------------ */

static void test_save_into_missing_directory_fails_cleanly(void **state)
{
    (void)state;
    char path[200];
    tmp_path(path, sizeof path, "no-such-dir/model.safetensors");
    int before = count_dir_entries(tmp_dir, "");
    hst_model *m = st_random_or_die(&cfg_v4, 1);
    char err[600];
    assert_int_equal(export_model_save(m, path, NULL, err, sizeof err), -1);
    char want[300];
    snprintf(want, sizeof want, "%s: cannot write: %s", path, strerror(ENOENT));
    assert_string_equal(err, want);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(count_dir_entries(tmp_dir, ""), before);
    hst_model_free(m);
}

static void test_save_replaces_existing_file_atomically(void **state)
{
    (void)state;
    char dir[160], path[200];
    tmp_path(dir, sizeof dir, "replace");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *old = fopen(path, "w");
    assert_non_null(old);
    fputs("an older, shorter file", old);
    fclose(old);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    hst_model *m = st_random_or_die(&cfg_v4, 5);
    st_save_or_die(m, path);
    assert_int_equal(stat(path, &after), 0);
    assert_true(before.st_ino != after.st_ino); /* renamed over, not rewritten in place */
    mode_t mask = umask(0);
    umask(mask);
    assert_int_equal(after.st_mode & 0777, 0666 & ~mask); /* like any new file */
    assert_int_equal(count_dir_entries(dir, ""), 1); /* no temporary left behind */
    hst_model *b = st_load_or_die(path);
    st_assert_same_tensors(m, b);
    hst_model_free(m);
    hst_model_free(b);
}

/* rename() onto a directory fails after the data are written: the temporary
 * must go and the directory stay. */
static void test_failed_rename_leaves_nothing_behind(void **state)
{
    (void)state;
    char dir[160], target[200];
    tmp_path(dir, sizeof dir, "rename");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(target, sizeof target, "%s/target", dir);
    assert_int_equal(mkdir(target, 0755), 0);
    hst_model *m = st_random_or_die(&cfg_v4, 5);
    char err[600];
    assert_int_equal(export_model_save(m, target, NULL, err, sizeof err), -1);
    char prefix[260];
    snprintf(prefix, sizeof prefix, "%s: cannot write: ", target);
    assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);
    assert_null(strchr(err, '\n'));
    assert_int_equal(count_dir_entries(dir, ""), 1);
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    hst_model_free(m);
}

/* A saved loaded model saves identically (the loader keeps everything the writer needs). */
static void test_resave_of_loaded_file_is_identical_data(void **state)
{
    (void)state;
    char path[160];
    tmp_path(path, sizeof path, "resave.safetensors");
    hst_model *m = st_load_or_die(base_v4);
    st_save_or_die(m, path);
    st_file a, b;
    st_read(base_v4, &a);
    st_read(path, &b);
    assert_int_equal(a.data_bytes, b.data_bytes);
    assert_memory_equal(a.data, b.data, a.data_bytes);
    st_free(&a);
    st_free(&b);
    hst_model_free(m);
}

/* Spec 6/9.5: the engine writes the spine buffers even when the model it
 * saves came from a file without them. */
static void test_save_always_writes_spine_buffers(void **state)
{
    (void)state;
    st_file f;
    read_base(&f);
    st_remove_tensor(&f, "lattice_core.multi_level.analyzer.spine");
    st_remove_tensor(&f, "lattice_core.path_weighted.analyzer.spine");
    st_write(bad_path, &f);
    st_free(&f);
    hst_model *m = st_load_or_die(bad_path);
    char path[160];
    tmp_path(path, sizeof path, "spines.safetensors");
    st_save_or_die(m, path);
    hst_model_free(m);
    st_read(path, &f);
    const json_t *e = st_entry(&f, "lattice_core.path_weighted.analyzer.spine");
    assert_string_equal(json_string_value(json_object_get(e, "dtype")), "I64");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(e, "shape"), 0)), 5);
    st_free(&f);
    m = st_load_or_die(path);
    assert_int_equal(hst_model_counts(m).n_tensors, hst_model_tensor_count(m));
    hst_model_free(m);
}

/* hst_model_write is the format alone: the bytes it writes to any descriptor
 * are the file export_model_save makes. */
static void test_model_write_to_a_descriptor_is_the_file(void **state)
{
    (void)state;
    char path[160], saved_path[160];
    tmp_path(path, sizeof path, "by-fd.safetensors");
    tmp_path(saved_path, sizeof saved_path, "by-path.safetensors");
    hst_model *m = st_random_or_die(&cfg_v4, 11);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    hst_error err = {{0}};
    assert_int_equal(hst_model_write(m, fileno(f), NULL, &err), 0);
    assert_int_equal(fclose(f), 0);
    st_save_or_die(m, saved_path);
    hst_model_free(m);
    size_t saved_len = 0, written_len = 0;
    unsigned char *saved = st_read_whole(saved_path, &saved_len), *written = st_read_whole(path, &written_len);
    assert_int_equal(written_len, saved_len);
    assert_memory_equal(written, saved, saved_len);
    free(saved);
    free(written);
}

static int asked_at_most_once(void)
{
    static int asked;
    return asked++ > 0;
}

/* A failed write names its cause and keeps errno; an interruption is EINTR. */
static void test_model_write_failures_name_the_cause(void **state)
{
    (void)state;
    hst_model *m = st_load_or_die(base_v4);
    /* Private nodes of the kernel's full and null devices: a writer bug never
     * reaches /dev (needs root, as these tests run; without it, skipped). */
    char dir[512], full_path[600], null_path[600];
    assert_int_equal(harness_make_tmpdir(dir, sizeof dir, "nodes"), 0);
    snprintf(full_path, sizeof full_path, "%s/full", dir);
    snprintf(null_path, sizeof null_path, "%s/null", dir);
    if (mknod(full_path, S_IFCHR | 0600, makedev(1, 7)) != 0 || mknod(null_path, S_IFCHR | 0600, makedev(1, 3)) != 0) {
        harness_remove_tmpdir(dir);
        hst_model_free(m);
        skip();
    }
    int full = open(full_path, O_WRONLY | O_CLOEXEC);
    assert_true(full >= 0);
    hst_error err = {{0}};
    errno = 0;
    assert_int_equal(hst_model_write(m, full, NULL, &err), -1);
    assert_int_equal(errno, ENOSPC);
    char want[200];
    snprintf(want, sizeof want, "cannot write: %s", strerror(ENOSPC));
    assert_string_equal(err.msg, want);
    close(full);
    int null = open(null_path, O_WRONLY | O_CLOEXEC);
    assert_true(null >= 0);
    errno = 0;
    assert_int_equal(hst_model_write(m, null, asked_at_most_once, &err), -1);
    assert_int_equal(errno, EINTR);
    assert_string_equal(err.msg, "not written: interrupted");
    close(null);
    harness_remove_tmpdir(dir);
    hst_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_v4_is_bit_identical),
        cmocka_unit_test(test_round_trip_v61_with_extras_is_bit_identical),
        cmocka_unit_test(test_round_trip_v52_large_seed),
        cmocka_unit_test(test_round_trip_preset_keeps_name_and_counts),
        cmocka_unit_test(test_saved_layout_follows_spec),
        cmocka_unit_test(test_optional_tensors_may_be_absent),
        cmocka_unit_test(test_unaligned_data_section_loads),
        cmocka_unit_test(test_metadata_preset_seed_and_extra_keys),
        cmocka_unit_test(test_preset_found_from_config_without_metadata_name),
        cmocka_unit_test(test_f16_table),
        cmocka_unit_test(test_f16_all_values_match_compiler),
        cmocka_unit_test(test_f16_file_widens),
        cmocka_unit_test(test_bf16_file_widens),
        cmocka_unit_test(test_mixed_f16_bf16_file_widens),
        cmocka_unit_test(test_empty_file_is_truncated),
        cmocka_unit_test(test_seven_byte_file_is_truncated),
        cmocka_unit_test(test_header_length_beyond_file_is_truncated),
        cmocka_unit_test(test_header_length_at_limit_is_only_truncated),
        cmocka_unit_test(test_header_over_limit_is_too_large),
        cmocka_unit_test(test_data_cut_short_is_truncated),
        cmocka_unit_test(test_offsets_beyond_data_are_truncated),
        cmocka_unit_test(test_header_not_json_is_bad_header),
        cmocka_unit_test(test_header_json_array_is_bad_header),
        cmocka_unit_test(test_header_not_utf8_is_bad_header),
        cmocka_unit_test(test_empty_header_is_bad_header),
        cmocka_unit_test(test_header_ending_at_page_boundary),
        cmocka_unit_test(test_duplicate_key_is_bad_header),
        cmocka_unit_test(test_entry_missing_key_is_bad_header),
        cmocka_unit_test(test_entry_extra_key_is_bad_header),
        cmocka_unit_test(test_entry_not_object_is_bad_header),
        cmocka_unit_test(test_dtype_not_string_is_bad_header),
        cmocka_unit_test(test_negative_shape_is_bad_header),
        cmocka_unit_test(test_non_integer_shape_is_bad_header),
        cmocka_unit_test(test_metadata_non_string_value_is_bad_header),
        cmocka_unit_test(test_metadata_not_object_is_bad_header),
        cmocka_unit_test(test_unknown_dtype_is_unsupported),
        cmocka_unit_test(test_i64_weight_is_unsupported),
        cmocka_unit_test(test_float_spine_buffer_is_unsupported),
        cmocka_unit_test(test_offsets_begin_after_end_are_bad),
        cmocka_unit_test(test_offsets_size_mismatch_is_bad),
        cmocka_unit_test(test_offsets_not_two_integers_are_bad),
        cmocka_unit_test(test_overlapping_ranges_are_bad_offsets),
        cmocka_unit_test(test_gap_between_tensors_is_bad_offsets),
        cmocka_unit_test(test_gap_at_start_is_bad_offsets),
        cmocka_unit_test(test_trailing_unused_bytes_are_bad_offsets),
        cmocka_unit_test(test_missing_required_tensor),
        cmocka_unit_test(test_no_tensors_at_all_is_missing_tensor),
        cmocka_unit_test(test_v61_name_in_v4_file_is_unexpected),
        cmocka_unit_test(test_v61_bottom_name_in_v4_file_is_unexpected),
        cmocka_unit_test(test_long_unexpected_name_fits_message),
        cmocka_unit_test(test_control_characters_in_name_stay_one_line),
        cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_spine_of_wrong_length_is_wrong_shape),
        cmocka_unit_test(test_metadata_missing_required_key),
        cmocka_unit_test(test_metadata_absent),
        cmocka_unit_test(test_metadata_not_positive_decimal),
        cmocka_unit_test(test_metadata_unknown_arch),
        cmocka_unit_test(test_metadata_version_2),
        cmocka_unit_test(test_metadata_d_not_multiple_of_heads),
        cmocka_unit_test(test_metadata_section3_constraints),
        cmocka_unit_test(test_metadata_preset_mismatch),
        cmocka_unit_test(test_metadata_bad_seed),
        cmocka_unit_test(test_bad_spine_values),
        cmocka_unit_test(test_missing_file_cannot_open),
        cmocka_unit_test(test_fifo_fails_without_blocking),
        cmocka_unit_test(test_long_path_message_fits),
        cmocka_unit_test(test_save_into_missing_directory_fails_cleanly),
        cmocka_unit_test(test_save_replaces_existing_file_atomically),
        cmocka_unit_test(test_failed_rename_leaves_nothing_behind),
        cmocka_unit_test(test_resave_of_loaded_file_is_identical_data),
        cmocka_unit_test(test_save_always_writes_spine_buffers),
        cmocka_unit_test(test_model_write_to_a_descriptor_is_the_file),
        cmocka_unit_test(test_model_write_failures_name_the_cause),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
