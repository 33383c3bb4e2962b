/* st_edit.c — a test-side safetensors reader and writer: malformed files are
 * made from a valid saved file by editing its header with jansson (and its
 * data section), so each test changes exactly one thing (spec 9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/st_edit.h"
#include "exports/model_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


unsigned char *st_read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

uint64_t st_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void st_read(const char *path, st_file *f)
{
    size_t len;
    unsigned char *buf = st_read_whole(path, &len);
    assert_true(len >= 8);
    uint64_t n = st_le64(buf);
    assert_true(8 + n <= len);
    json_error_t jerr;
    f->header = json_loadb((const char *)buf + 8, n, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(f->header);
    f->data_bytes = len - 8 - n;
    f->data = malloc(f->data_bytes + 1);
    assert_non_null(f->data);
    memcpy(f->data, buf + 8 + n, f->data_bytes);
    free(buf);
}

void st_free(st_file *f)
{
    json_decref(f->header);
    free(f->data);
}

/* Writes the 8-byte length, the header (declared_n may lie) and the data. */
void st_write_raw(const char *path, uint64_t declared_n, const void *header, size_t header_len,
                      const void *data, size_t data_len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char n[8];
    for (int i = 0; i < 8; i++)
        n[i] = (unsigned char)(declared_n >> (8 * i));
    assert_int_equal(fwrite(n, 1, 8, f), 8);
    if (header_len)
        assert_int_equal(fwrite(header, 1, header_len, f), header_len);
    if (data_len)
        assert_int_equal(fwrite(data, 1, data_len, f), data_len);
    assert_int_equal(fclose(f), 0);
}

/* The header text padded with spaces so 8 + N is a multiple of 8 (spec 9.5),
 * or, when misalign, so the data section starts at an odd address. */
void st_write_text_header(const char *path, const char *text, const void *data, size_t data_len, int misalign)
{
    size_t len = strlen(text), padded = len + (8 - (8 + len) % 8) % 8 + (misalign ? 1 : 0);
    char *buf = malloc(padded + 1);
    assert_non_null(buf);
    memcpy(buf, text, len + 1); /* buf holds padded + 1 >= len + 1 bytes */
    memset(buf + len, ' ', padded - len);
    st_write_raw(path, padded, buf, padded, data, data_len);
    free(buf);
}

char *st_dump_header(const st_file *f)
{
    char *text = json_dumps(f->header, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(text);
    return text;
}

void st_write_opts(const char *path, const st_file *f, int misalign)
{
    char *text = st_dump_header(f);
    st_write_text_header(path, text, f->data, f->data_bytes, misalign);
    free(text);
}

void st_write(const char *path, const st_file *f) { st_write_opts(path, f, 0); }

json_t *st_entry(const st_file *f, const char *name)
{
    json_t *e = json_object_get(f->header, name);
    assert_non_null(e);
    return e;
}

void st_offsets(const st_file *f, const char *name, uint64_t *b, uint64_t *e)
{
    const json_t *o = json_object_get(st_entry(f, name), "data_offsets");
    *b = (uint64_t)json_integer_value(json_array_get(o, 0));
    *e = (uint64_t)json_integer_value(json_array_get(o, 1));
}

void st_set_offsets(st_file *f, const char *name, json_int_t b, json_int_t e)
{
    assert_int_equal(json_object_set_new(st_entry(f, name), "data_offsets", json_pack("[I,I]", b, e)), 0);
}

void st_set_shape(st_file *f, const char *name, json_t *shape)
{
    assert_non_null(shape);
    assert_int_equal(json_object_set_new(st_entry(f, name), "shape", shape), 0);
}

void st_set_dtype(st_file *f, const char *name, const char *dtype)
{
    assert_int_equal(json_object_set_new(st_entry(f, name), "dtype", json_string(dtype)), 0);
}

/* Moves every range at or after byte at by delta (an edit of the data section). */
void st_shift_offsets_from(st_file *f, uint64_t at, int64_t delta)
{
    const char *key;
    json_t *entry;
    json_object_foreach(f->header, key, entry) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        uint64_t b, e;
        st_offsets(f, key, &b, &e);
        if (b >= at && e > b)
            st_set_offsets(f, key, (json_int_t)(b + (uint64_t)delta), (json_int_t)(e + (uint64_t)delta));
    }
}

void st_insert_bytes(st_file *f, uint64_t at, size_t count)
{
    st_shift_offsets_from(f, at, (int64_t)count);
    f->data = realloc(f->data, f->data_bytes + count + 1);
    assert_non_null(f->data);
    memmove(f->data + at + count, f->data + at, f->data_bytes - at);
    memset(f->data + at, 0xAB, count);
    f->data_bytes += count;
}

/* Drops a tensor and its bytes, keeping the rest tiled. */
void st_remove_tensor(st_file *f, const char *name)
{
    uint64_t b, e;
    st_offsets(f, name, &b, &e);
    assert_int_equal(json_object_del(f->header, name), 0);
    memmove(f->data + b, f->data + e, f->data_bytes - e);
    f->data_bytes -= e - b;
    st_shift_offsets_from(f, e, -(int64_t)(e - b));
}

void st_add_tensor(st_file *f, const char *name, const char *dtype, json_t *shape, const void *bytes,
                          size_t n)
{
    json_t *entry = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtype, "shape", shape, "data_offsets",
                              (json_int_t)f->data_bytes, (json_int_t)(f->data_bytes + n));
    assert_non_null(entry);
    assert_int_equal(json_object_set_new(f->header, name, entry), 0);
    f->data = realloc(f->data, f->data_bytes + n + 1);
    assert_non_null(f->data);
    memcpy(f->data + f->data_bytes, bytes, n);
    f->data_bytes += n;
}

/* value NULL deletes the key. */
void st_set_metadata(st_file *f, const char *key, const char *value)
{
    json_t *md = json_object_get(f->header, "__metadata__");
    assert_non_null(md);
    if (value)
        assert_int_equal(json_object_set_new(md, key, json_string(value)), 0);
    else
        assert_int_equal(json_object_del(md, key), 0);
}

/* Where a tensor's bytes are in the data section (to edit them in place). */
unsigned char *st_tensor_bytes(const st_file *f, const char *name)
{
    uint64_t b, e;
    st_offsets(f, name, &b, &e);
    return f->data + b;
}

/* ---- expectations ------------------------------------------------------------- */

/* Loads path with stdout and stderr captured: the loader must print nothing. */
hst_model *st_load_silently(const char *path, hst_error *err, long *printed)
{
    fflush(stdout);
    fflush(stderr);
    FILE *capture = tmpfile();
    assert_non_null(capture);
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(capture), 1);
    dup2(fileno(capture), 2);
    hst_model *m = hst_model_load(path, err);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    struct stat st;
    fstat(fileno(capture), &st);
    *printed = (long)st.st_size;
    fclose(capture);
    return m;
}

/* The load fails with one line "<path>: <class>: <details>" that mentions
 * detail (when not NULL), prints nothing and returns no model. */
void st_expect_load_error(const char *path, const char *cls, const char *detail)
{
    hst_error err;
    memset(err.msg, 'x', sizeof err.msg); /* a stale message must not pass */
    err.msg[sizeof err.msg - 1] = '\0';
    long printed = -1;
    hst_model *m = st_load_silently(path, &err, &printed);
    if (m) {
        hst_model_free(m);
        fail_msg("expected '%s' but %s loaded", cls, path);
    }
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s: %s: ", path, cls);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("expected \"%s...\", got \"%s\"", prefix, err.msg);
    if (detail && !strstr(err.msg, detail))
        fail_msg("expected \"%s\" in \"%s\"", detail, err.msg);
    assert_true(strlen(err.msg) > strlen(prefix)); /* details follow the class */
    assert_true(strlen(err.msg) < sizeof err.msg);
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(printed, 0);
}

/* Every tensor bit-identical and the counts equal. */
void st_assert_same_tensors(const hst_model *a, const hst_model *b)
{
    hst_counts ca = hst_model_counts(a), cb = hst_model_counts(b);
    assert_int_equal(ca.n_tensors, cb.n_tensors);
    assert_int_equal(ca.params_total, cb.params_total);
    assert_int_equal(ca.params_next_token, cb.params_next_token);
    assert_int_equal(ca.weight_bytes, cb.weight_bytes);
    assert_int_equal(hst_model_tensor_count(a), hst_model_tensor_count(b));
    for (int i = 0; i < hst_model_tensor_count(a); i++) {
        hst_tensor_info ta, tb;
        assert_int_equal(hst_model_tensor(a, i, &ta), 0);
        assert_int_equal(hst_model_tensor(b, i, &tb), 0);
        assert_string_equal(ta.name, tb.name);
        assert_string_equal(ta.dtype, tb.dtype);
        assert_int_equal(ta.numel, tb.numel);
        uint64_t na = 0, nb = 0;
        const float *da = hst_model_tensor_data(a, ta.name, &na), *db = hst_model_tensor_data(b, tb.name, &nb);
        assert_true((da == NULL) == (db == NULL));
        if (da && db) {
            assert_int_equal(na, nb);
            if (na && memcmp(da, db, na * sizeof(float)) != 0)
                fail_msg("tensor %s differs after the round trip", ta.name);
        }
    }
}

void st_save_or_die(const hst_model *m, const char *path)
{
    char err[600];
    if (export_model_save(m, path, NULL, err, sizeof err) != 0)
        fail_msg("save %s: %s", path, err);
}

hst_model *st_random_or_die(const hst_config *cfg, uint64_t seed)
{
    hst_error err = {{0}};
    hst_model *m = hst_model_random(cfg, seed, &err);
    if (!m)
        fail_msg("random model: %s", err.msg);
    return m;
}

hst_model *st_load_or_die(const char *path)
{
    hst_error err = {{0}};
    hst_model *m = hst_model_load(path, &err);
    if (!m)
        fail_msg("load %s: %s", path, err.msg);
    return m;
}

int st_save_random(const hst_config *cfg, uint64_t seed, const char *path)
{
    hst_error err = {{0}};
    char why[600];
    hst_model *m = hst_model_random(cfg, seed, &err);
    int rc = m ? export_model_save(m, path, NULL, why, sizeof why) : -1;
    if (rc != 0)
        fprintf(stderr, "setup: %s\n", m ? why : err.msg);
    hst_model_free(m);
    return rc;
}
