/* st_edit.h — a test-side safetensors reader and writer (spec 9): read a
 * saved file, edit its header or data, write it back, and expect the load
 * to fail with one exact class. Used by the tests of every arch's files. */
#ifndef HSTPROF_TEST_ST_EDIT_H
#define HSTPROF_TEST_ST_EDIT_H

#include "engine/hst.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    json_t *header;
    unsigned char *data;
    size_t data_bytes;
} st_file;

unsigned char *st_read_whole(const char *path, size_t *len); /* malloc'd, NUL-padded by one byte */
uint64_t st_le64(const unsigned char *p);
void st_read(const char *path, st_file *f);
void st_free(st_file *f);
/* Writes the 8-byte length, the header (declared_n may lie) and the data. */
void st_write_raw(const char *path, uint64_t declared_n, const void *header, size_t header_len, const void *data,
                  size_t data_len);
/* The header text padded with spaces so 8 + N is a multiple of 8 (spec 9.5),
 * or, when misalign, so the data section starts at an odd address. */
void st_write_text_header(const char *path, const char *text, const void *data, size_t data_len, int misalign);
char *st_dump_header(const st_file *f);
void st_write_opts(const char *path, const st_file *f, int misalign);
void st_write(const char *path, const st_file *f);
json_t *st_entry(const st_file *f, const char *name);
void st_offsets(const st_file *f, const char *name, uint64_t *b, uint64_t *e);
void st_set_offsets(st_file *f, const char *name, json_int_t b, json_int_t e);
void st_set_shape(st_file *f, const char *name, json_t *shape);
void st_set_dtype(st_file *f, const char *name, const char *dtype);
/* Moves every range at or after byte at by delta (an edit of the data section). */
void st_shift_offsets_from(st_file *f, uint64_t at, int64_t delta);
void st_insert_bytes(st_file *f, uint64_t at, size_t count);
/* Drops a tensor and its bytes, keeping the rest tiled. */
void st_remove_tensor(st_file *f, const char *name);
void st_add_tensor(st_file *f, const char *name, const char *dtype, json_t *shape, const void *bytes, size_t n);
/* value NULL deletes the key. */
void st_set_metadata(st_file *f, const char *key, const char *value);
/* Where a tensor's bytes are in the data section (to edit them in place). */
unsigned char *st_tensor_bytes(const st_file *f, const char *name);
/* Loads path with stdout and stderr captured: the loader must print nothing. */
hst_model *st_load_silently(const char *path, hst_error *err, long *printed);
/* The load fails with one line "<path>: <class>: <details>" that mentions
 * detail (when not NULL), prints nothing and returns no model. */
void st_expect_load_error(const char *path, const char *cls, const char *detail);
/* Every tensor of a and b bit-identical (f32 as held), the counts equal. */
void st_assert_same_tensors(const hst_model *a, const hst_model *b);
/* The model operations a test cannot go on without: fail the test with the engine's line. */
void st_save_or_die(const hst_model *m, const char *path);
hst_model *st_random_or_die(const hst_config *cfg, uint64_t seed);
hst_model *st_load_or_die(const char *path);
/* For group setups (no cmocka there): the seeded random model saved to path;
 * 0, or -1 with the reason on stderr. */
int st_save_random(const hst_config *cfg, uint64_t seed, const char *path);

#endif
