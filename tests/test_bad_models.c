/* test_bad_models.c — issue 7's bad model files that tests/test_safetensors.c
 * does not cover: NaN/Inf weights (counted and warned about by default,
 * "non-finite weights" under hst_load_opts.reject_nonfinite_weights), files
 * far larger than what is read (a 2 GiB sparse file must fail without being
 * paged in), and headers promising far more than the file holds (no
 * allocation larger than the file justifies). The command-line side of the
 * same classes is tests/e2e_bad_models.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "engine/internal.h"
#include "exports/model_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static const hst_config cfg_v4 = {HST_ARCH_V4, 40, 16, 2, 2, 64, 2};
#define SEEDS "tests/fuzz/corpus/safetensors/"
#define TWO_GIB (2ull << 30)
/* Reading a whole 2 GiB file, or allocating for a header's promises, is far
 * above this; the loader's own structures for these files are a few MB. */
#define PEAK_RSS_GROWTH_MAX_BYTES (64ull << 20)

static char tmp_dir[64];

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp_dir, name);
}

static int group_setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmp_dir, sizeof tmp_dir, "bad-models");
}

static int group_teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmp_dir);
}

/* ---- NaN and Inf weights ------------------------------------------------------ */

/* A v4 model whose token embedding holds a NaN at index 3, then two infinities
 * in lm_head: three non-finite values, the first in token_embedding.weight. */
static void save_nonfinite_model(const char *path)
{
    hst_error err = {{0}};
    hst_model *m = hst_model_random(&cfg_v4, 3, &err);
    assert_non_null(m);
    int emb = hst_spec_find(m->specs, m->n_specs, "token_embedding.weight");
    int head = hst_spec_find(m->specs, m->n_specs, "lm_head.weight");
    assert_true(emb >= 0 && head >= 0);
    m->data[emb][3] = NAN;
    m->data[head][0] = INFINITY;
    m->data[head][m->specs[head].numel - 1] = -INFINITY;
    char why[600];
    if (export_model_save(m, path, NULL, why, sizeof why) != 0)
        fail_msg("save: %s", why);
    hst_model_free(m);
}

static void test_nonfinite_weights_load_and_are_reported(void **state)
{
    (void)state;
    char path[128], warning[700], want[400];
    tmp_path(path, sizeof path, "nonfinite.safetensors");
    save_nonfinite_model(path);
    hst_error err = {{0}};
    hst_model *m = hst_model_load(path, &err);
    if (!m)
        fail_msg("a file with NaN/Inf weights must load by default: %s", err.msg);
    const char *first = NULL;
    assert_int_equal(hst_model_nonfinite_weights(m, &first), 3);
    assert_string_equal(first, "token_embedding.weight");
    assert_int_equal(hst_model_warning(m, warning, sizeof warning), 1);
    snprintf(want, sizeof want, "%s: non-finite weights: 3 NaN/Inf values, the first in tensor token_embedding.weight",
             path);
    assert_string_equal(warning, want);
    hst_model_free(m);
}

static void test_nonfinite_weights_rejected_when_asked(void **state)
{
    (void)state;
    char path[128], want[400];
    tmp_path(path, sizeof path, "nonfinite.safetensors");
    save_nonfinite_model(path);
    hst_error err = {{0}};
    const hst_load_opts strict = {.reject_nonfinite_weights = 1};
    hst_model *m = hst_model_load_opts(path, &strict, &err);
    if (m) {
        hst_model_free(m);
        fail_msg("reject_nonfinite_weights loaded a file with NaN/Inf weights");
    }
    snprintf(want, sizeof want, "%s: non-finite weights: 3 NaN/Inf values, the first in tensor token_embedding.weight",
             path);
    assert_string_equal(err.msg, want);
    /* hst_model_open passes the options on to files. */
    m = hst_model_open_opts(path, 0, &strict, &err);
    assert_null(m);
    assert_string_equal(err.msg, want);
}

static void test_finite_weights_have_no_warning(void **state)
{
    (void)state;
    char warning[700];
    hst_error err = {{0}};
    const hst_load_opts strict = {.reject_nonfinite_weights = 1};
    hst_model *m = hst_model_load_opts(harness_source(SEEDS "tiny-v4.safetensors"), &strict, &err);
    if (!m)
        fail_msg("a finite file must load under reject_nonfinite_weights: %s", err.msg);
    const char *first = "stale";
    assert_int_equal(hst_model_nonfinite_weights(m, &first), 0);
    assert_null(first);
    memset(warning, 'x', sizeof warning);
    assert_int_equal(hst_model_warning(m, warning, sizeof warning), 0);
    assert_string_equal(warning, "");
    hst_model_free(m);
    m = hst_model_random(&cfg_v4, 1, &err);
    assert_non_null(m);
    assert_int_equal(hst_model_nonfinite_weights(m, NULL), 0);
    hst_model_free(m);
}

/* Copies a seed, then overwrites the first element of its first tensor with
 * a 16-bit pattern (the half-precision files widen on load, spec 9.2). */
static void copy_with_first_half(const char *seed, const char *path, uint16_t bits)
{
    FILE *in = fopen(seed, "rb");
    assert_non_null(in);
    static unsigned char buf[1 << 17];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    assert_true(n > 8 && n < sizeof buf);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | buf[i];
    json_error_t jerr;
    json_t *header = json_loadb((const char *)buf + 8, header_len, 0, &jerr);
    assert_non_null(header);
    json_t *offsets = json_object_get(json_object_get(header, "token_embedding.weight"), "data_offsets");
    uint64_t begin = (uint64_t)json_integer_value(json_array_get(offsets, 0));
    json_decref(header);
    memcpy(buf + 8 + header_len + begin, &bits, sizeof bits);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(buf, 1, n, out), n);
    assert_int_equal(fclose(out), 0);
}

static void test_half_precision_nan_and_inf_are_counted(void **state)
{
    (void)state;
    static const struct {
        const char *seed;
        uint16_t bits;
    } cases[] = {
        {SEEDS "tiny-v6-f16.safetensors", 0x7c00},   /* F16 +Inf */
        {SEEDS "tiny-v6-f16.safetensors", 0xfe01},   /* F16 NaN with a payload */
        {SEEDS "tiny-v52-bf16.safetensors", 0x7fc0}, /* BF16 NaN */
        {SEEDS "tiny-v52-bf16.safetensors", 0xff80}, /* BF16 -Inf */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128];
        tmp_path(path, sizeof path, "half.safetensors");
        copy_with_first_half(harness_source(cases[i].seed), path, cases[i].bits);
        hst_error err = {{0}};
        hst_model *m = hst_model_load(path, &err);
        if (!m)
            fail_msg("case %zu: %s", i, err.msg);
        const char *first = NULL;
        assert_int_equal(hst_model_nonfinite_weights(m, &first), 1);
        assert_string_equal(first, "token_embedding.weight");
        hst_model_free(m);
    }
}

/* ---- files far larger than what is read --------------------------------------- */

static uint64_t status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kib = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0)
            kib = strtoull(line + n, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* Loads path in a child process (so its peak RSS is the load's alone, and a
 * resource limit cannot hurt the test runner) and checks that it fails with
 * cls, that peak RSS grew by less than PEAK_RSS_GROWTH_MAX_BYTES and, with
 * address_space_slack > 0, that it fit in that much more address space
 * (outside ASan, whose shadow memory needs terabytes of address space). */
static void expect_small_failure(const char *path, const char *cls, uint64_t address_space_slack)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* "5" resets VmHWM to the current RSS (Linux >= 4.0). */
        int fd = open("/proc/self/clear_refs", O_WRONLY);
        if (fd < 0 || write(fd, "5", 1) != 1)
            _exit(3);
        close(fd);
        uint64_t before_kib = status_kib("VmRSS:");
        if (address_space_slack && !UNDER_ASAN) {
            rlim_t limit = (rlim_t)(status_kib("VmSize:") * 1024 + address_space_slack);
            struct rlimit rl = {limit, limit};
            if (setrlimit(RLIMIT_AS, &rl) != 0)
                _exit(3);
        }
        hst_error err = {{0}};
        hst_model *m = hst_model_load(path, &err);
        uint64_t grown = (status_kib("VmHWM:") - before_kib) * 1024;
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s: %s: ", path, cls);
        if (m || strncmp(err.msg, prefix, strlen(prefix)) != 0) {
            fprintf(stderr, "expected \"%s...\", got \"%s\"\n", prefix, m ? "a model" : err.msg);
            _exit(1);
        }
        if (grown > PEAK_RSS_GROWTH_MAX_BYTES) {
            fprintf(stderr, "peak RSS grew by %llu bytes loading %s\n", (unsigned long long)grown, path);
            _exit(2);
        }
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

/* A valid model followed by 2 GiB of holes: the tensors do not cover the
 * data section, which the loader sees from the header and the file size
 * alone, without paging in the holes. */
static void test_2gib_sparse_file_fails_without_being_read(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "sparse.safetensors");
    copy_file(harness_source(SEEDS "tiny-v4.safetensors"), path);
    assert_int_equal(truncate(path, (off_t)TWO_GIB), 0);
    expect_small_failure(path, "bad offsets", 0);
    unlink(path);
}

/* Writes the header of a valid file for cfg (with_tensors: every required
 * tensor, contiguous in canonical order; else the metadata alone) and makes
 * the file data_bytes longer (holes, never written). */
static void write_header_only(const char *path, const hst_config *cfg, int with_tensors, uint64_t data_bytes)
{
    json_t *header = json_object(), *md = json_object();
    assert_non_null(header);
    assert_non_null(md);
    const struct {
        const char *key;
        int value;
    } sizes[] = {{"hst.vocab_size", cfg->vocab_size}, {"hst.d_model", cfg->d_model},
                 {"hst.n_heads", cfg->n_heads},       {"hst.n_layers", cfg->n_layers},
                 {"hst.max_seq_len", cfg->max_seq_len}, {"hst.horizon", cfg->horizon}};
    json_object_set_new(md, "hst.format_version", json_string("1"));
    json_object_set_new(md, "hst.arch", json_string(hst_arch_name(cfg->arch)));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", sizes[i].value);
        json_object_set_new(md, sizes[i].key, json_string(v));
    }
    json_object_set_new(header, "__metadata__", md);
    hst_tensor_spec *specs = NULL;
    int n = 0;
    hst_error err = {{0}};
    if (hst_tensor_specs(cfg, &specs, &n, &err) != 0)
        fail_msg("%s", err.msg);
    uint64_t offset = 0;
    for (int i = 0; with_tensors && i < n; i++) {
        if (!(specs[i].flags & HST_T_REQUIRED))
            continue;
        json_t *shape = json_array();
        for (int d = 0; d < specs[i].ndim; d++)
            json_array_append_new(shape, json_integer(specs[i].shape[d]));
        uint64_t bytes = specs[i].numel * 4;
        json_object_set_new(header, specs[i].name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", shape, "data_offsets",
                                      (json_int_t)offset, (json_int_t)(offset + bytes)));
        offset += bytes;
    }
    free(specs);
    char *text = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(header);
    assert_non_null(text);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t len = strlen(text);
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(len >> (8 * i));
    assert_int_equal(fwrite(le, 1, 8, f), 8);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(text);
    assert_int_equal(truncate(path, (off_t)(8 + len + data_bytes)), 0);
}

/* A model of over 4 GiB of f32 weights (token embedding and lm_head, 2 GiB
 * each) whose file stops 1 byte short of the first tensor: "truncated", with
 * neither the file read nor the weights allocated. */
static void test_header_promising_more_than_a_2gib_file_holds(void **state)
{
    (void)state;
    static const hst_config big = {HST_ARCH_V4, 1 << 19, 1024, 4, 2, 16, 1};
    char path[128];
    tmp_path(path, sizeof path, "promises.safetensors");
    write_header_only(path, &big, 1, TWO_GIB - 1);
    expect_small_failure(path, "truncated", 0);
    unlink(path);
}

/* The largest configuration spec 3 allows (V·D = 1.6e9 weights in the token
 * embedding alone; ~16k tensors for L = 1024) in files of a few KB (metadata
 * only) and ~2 MB (every header entry, no data): "missing tensor" and
 * "truncated", in little more address space than the tensor table and the
 * parsed header take. */
static void test_largest_config_in_a_small_file_allocates_little(void **state)
{
    (void)state;
    static const hst_config largest = {HST_ARCH_V4, 100000, 16384, 1, 1024, 8192, 1};
    char path[128];
    tmp_path(path, sizeof path, "largest.safetensors");
    hst_error err = {{0}};
    assert_int_equal(hst_config_check(&largest, &err), 0);
    write_header_only(path, &largest, 0, 0);
    expect_small_failure(path, "missing tensor", 256ull << 20);
    write_header_only(path, &largest, 1, 0);
    expect_small_failure(path, "truncated", 256ull << 20);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonfinite_weights_load_and_are_reported),
        cmocka_unit_test(test_nonfinite_weights_rejected_when_asked),
        cmocka_unit_test(test_finite_weights_have_no_warning),
        cmocka_unit_test(test_half_precision_nan_and_inf_are_counted),
        cmocka_unit_test(test_2gib_sparse_file_fails_without_being_read),
        cmocka_unit_test(test_header_promising_more_than_a_2gib_file_holds),
        cmocka_unit_test(test_largest_config_in_a_small_file_allocates_little),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
