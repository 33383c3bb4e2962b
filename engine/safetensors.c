/* safetensors.c — load models from safetensors files and write them in that
 * format (spec 9); the writing is the bytes only: exports/model_file.c puts
 * them in a file atomically.
 *
 * Loading maps the file (a checkpoint larger than memory still loads: only
 * the header is parsed in place and each tensor is streamed once from the
 * mapping into its f32 storage) and validates it in this order, stopping at
 * the first failure so the user gets one line (spec 9.4):
 *
 *   1. structure: the file holds the 8-byte length ("truncated"), the length
 *      is sane ("header too large", checked before the header is touched),
 *      the header fits in the file ("truncated"), it is a JSON object whose
 *      entries all have the right form ("bad header");
 *   2. metadata: the configuration every shape derives from ("bad metadata");
 *   3. each entry in file order: dtype known, name defined for the arch,
 *      dtype allowed for that tensor ("unsupported dtype", "unexpected
 *      tensor"), shape ("wrong shape"), own offsets ("bad offsets"), end
 *      inside the data section ("truncated");
 *   4. the ranges together tile the data section ("bad offsets");
 *   5. every required tensor is there ("missing tensor");
 *   6. spine buffers hold the spine of their kind ("bad spine");
 *   7. a tied tensor present beside its tie equals it ("bad tie", spec 12.0);
 * and only then allocates and copies weights, counting NaN/Inf values on the
 * way (issue 7: a warning for the caller, or "non-finite weights" when asked
 * to reject them). Metadata comes before the tensors because shapes, names
 * and the spine all derive from it (spec 9.3).
 */
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies little-endian tensor data (spec 9.1) as host words"
#endif

#define HEADER_MAX_BYTES 100000000ull /* spec 9.4 "header too large" */
#define SHOWN_NAME_BYTES 96           /* a name quoted from the file, so a line fits in hst_error */
#define SHOWN_PATH_BYTES 200
#define FORMAT_VERSION "1"            /* spec 9.3 hst.format_version */
#define METADATA_KEY "__metadata__"

/* ---- half-precision widening (spec 9.2) ------------------------------------ */

static float f32_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float hst_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f) /* inf, or nan with its payload kept */
        return f32_from_bits(sign | 0x7f800000u | (mantissa << 13));
    if (exponent != 0) /* normal: rebias 15 -> 127 */
        return f32_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    /* zero or subnormal: mantissa · 2^-24, exact in f32 */
    float magnitude = (float)mantissa * (1.0f / 16777216.0f);
    return sign ? -magnitude : magnitude;
}

float hst_bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16); /* BF16 is the upper half of an f32 */
}

/* ---- dtypes (spec 9.2) ------------------------------------------------------ */

typedef enum { DT_F32, DT_F16, DT_BF16, DT_I64 } dtype;

static const struct {
    const char *name;
    uint64_t size;
} dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}};

static int dtype_from_name(const char *name, dtype *out)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(name, dtypes[i].name) == 0) {
            *out = (dtype)i;
            return 0;
        }
    return -1;
}

/* ---- bounded quoting for messages -------------------------------------------- */

/* A UTF-8 character boundary at or before cut. */
static size_t utf8_boundary(const char *s, size_t cut)
{
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0u) == 0x80u)
        cut--;
    return cut;
}

/* The first max bytes of s and "..." when cut: names come from the file and
 * can be of any length, and a message must fit in hst_error. buf holds max + 4. */
static const char *shorten(const char *s, size_t max, char *buf)
{
    size_t len = strlen(s);
    size_t cut = len <= max ? len : utf8_boundary(s, max);
    memcpy(buf, s, cut);
    memcpy(buf + cut, len <= max ? "" : "...", len <= max ? 1 : 4);
    return buf;
}

/* "..." and the last max - 3 bytes of a long path: the file name is at the end. */
static const char *shorten_path(const char *path, char buf[SHOWN_PATH_BYTES + 4])
{
    size_t len = strlen(path);
    if (len <= SHOWN_PATH_BYTES)
        return memcpy(buf, path, len + 1);
    const char *tail = path + len - (SHOWN_PATH_BYTES - 3);
    while (((unsigned char)*tail & 0xC0u) == 0x80u)
        tail++;
    snprintf(buf, SHOWN_PATH_BYTES + 4, "...%s", tail);
    return buf;
}

/* Names, values and jansson's "near '...'" come from the file and may hold
 * newlines or other control characters; the message must stay one line. */
static void keep_one_line(char *msg)
{
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

typedef struct {
    char text[SHOWN_NAME_BYTES + 4];
} shown_name;

static const char *show(const char *name, shown_name *buf)
{
    return shorten(name, SHOWN_NAME_BYTES, buf->text);
}

/* "[a, b, c]" of the first n dims of a shape, then ", ..." when there are more. */
static void format_shape(const int64_t *dims, int n, int more, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "%s]", more ? ", ..." : "");
}

/* ---- the loader ------------------------------------------------------------------ */

typedef struct {
    const char *name; /* key in the header (owned by the JSON) */
    json_t *entry;
    int spec;         /* index into m->specs */
    dtype type;
    uint64_t begin, end; /* data_offsets, bytes into the data section */
} tensor_entry;

typedef struct {
    const char *path;
    char shown_path[SHOWN_PATH_BYTES + 4];
    hst_error *err;
    const unsigned char *map;
    size_t map_bytes;
    const unsigned char *data; /* the data section */
    uint64_t data_bytes;
    json_t *header;
    hst_config cfg;
    char preset[32];           /* hst.preset, "" when absent */
    uint64_t seed;
    int has_seed;
    hst_model *m;
    tensor_entry *entries;
    int n_entries;
    hst_load_opts opts;
} loader;

static int fail(loader *ld, const char *cls, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Every failure is one line "<file>: <class>: <details>" (spec 9.4). */
static int fail(loader *ld, const char *cls, const char *fmt, ...)
{
    char details[sizeof ld->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(details, sizeof details, fmt, ap);
    va_end(ap);
    hst_set_error(ld->err, "%s: %s: %s", ld->shown_path, cls, details);
    keep_one_line(ld->err->msg);
    return -1;
}

static uint64_t read_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Maps the whole file read-only: the kernel pages tensors in as they are
 * copied, so memory use is the f32 model, not the file plus the model.
 * (A file truncated by another process while it loads raises SIGBUS; that
 * is the price of mmap and the caller's race, not a format error.) */
static int map_file(loader *ld)
{
    /* O_NONBLOCK: a FIFO must fail below, not block the open. */
    int fd = open(ld->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fail(ld, "cannot open", "%s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(ld, "cannot open", "%s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(ld, "cannot open", "not a regular file");
    }
    if ((uint64_t)st.st_size < 8) {
        close(fd);
        return fail(ld, "truncated", "the file has %lld bytes; the header length alone takes 8",
                    (long long)st.st_size);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return fail(ld, "cannot open", "the file is larger than the address space");
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return fail(ld, "cannot open", "mmap: %s", strerror(e));
    /* Tensors are read once, front to back: pages can go as soon as they are copied. */
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    ld->map = map;
    ld->map_bytes = (size_t)st.st_size;
    return 0;
}

/* Spec 9.1/9.4: N is checked against the limit before the header is read,
 * then against the file. Reading N from 8 bytes cannot overflow; 8 + N
 * cannot either once N <= 1e8. */
static int locate_header(loader *ld, uint64_t *header_bytes)
{
    uint64_t n = read_le64(ld->map);
    if (n > HEADER_MAX_BYTES)
        return fail(ld, "header too large", "the header length is %llu bytes; the limit is %llu",
                    (unsigned long long)n, HEADER_MAX_BYTES);
    if (8 + n > ld->map_bytes)
        return fail(ld, "truncated", "the header needs bytes 8..%llu but the file has %zu bytes",
                    (unsigned long long)(8 + n), ld->map_bytes);
    ld->data = ld->map + 8 + n;
    ld->data_bytes = ld->map_bytes - 8 - n;
    *header_bytes = n;
    return 0;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* The header is not NUL-terminated in the file: json_loadb reads exactly n
 * bytes. Jansson rejects invalid UTF-8 and, with the flag, duplicate keys. */
static int parse_header(loader *ld, uint64_t header_bytes)
{
    json_error_t jerr;
    ld->header = json_loadb((const char *)ld->map + 8, (size_t)header_bytes, JSON_REJECT_DUPLICATES, &jerr);
    if (!ld->header)
        return fail(ld, "bad header", "invalid JSON at header byte %d: %s", jerr.position, jerr.text);
    if (!json_is_object(ld->header))
        return fail(ld, "bad header", "the header is %s, not a JSON object", json_type_name(ld->header));
    return 0;
}

static int check_metadata_form(loader *ld, json_t *metadata)
{
    if (!json_is_object(metadata))
        return fail(ld, "bad header", METADATA_KEY " is %s, not an object of strings",
                    json_type_name(metadata));
    const char *key;
    json_t *value;
    json_object_foreach(metadata, key, value) {
        if (!json_is_string(value)) {
            shown_name s;
            return fail(ld, "bad header", METADATA_KEY " value of \"%s\" is %s, not a string",
                        show(key, &s), json_type_name(value));
        }
    }
    return 0;
}

static int check_shape_form(loader *ld, const char *name, const json_t *shape)
{
    shown_name s;
    if (!json_is_array(shape))
        return fail(ld, "bad header", "tensor %s: shape is %s, not a list of non-negative integers",
                    show(name, &s), json_type_name(shape));
    size_t i;
    json_t *dim;
    json_array_foreach(shape, i, dim) {
        if (!json_is_integer(dim))
            return fail(ld, "bad header", "tensor %s: shape element %zu is %s, not a non-negative integer",
                        show(name, &s), i, json_type_name(dim));
        if (json_integer_value(dim) < 0)
            return fail(ld, "bad header", "tensor %s: shape element %zu is %lld; dimensions are non-negative",
                        show(name, &s), i, (long long)json_integer_value(dim));
    }
    return 0;
}

/* Spec 9.1: an entry is exactly {"dtype", "shape", "data_offsets"}. The
 * offsets' own form is checked with the tensor ("bad offsets", spec 9.4). */
static int check_entry_form(loader *ld, const char *name, json_t *entry)
{
    static const char *const keys[] = {"dtype", "shape", "data_offsets"};
    shown_name s;
    if (!json_is_object(entry))
        return fail(ld, "bad header", "tensor %s: entry is %s, not an object", show(name, &s),
                    json_type_name(entry));
    for (size_t i = 0; i < 3; i++)
        if (!json_object_get(entry, keys[i]))
            return fail(ld, "bad header", "tensor %s: entry has no \"%s\" (it needs exactly dtype, shape, data_offsets)",
                        show(name, &s), keys[i]);
    if (json_object_size(entry) != 3) {
        const char *key;
        json_t *value;
        json_object_foreach(entry, key, value) {
            if (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 && strcmp(key, "data_offsets") != 0) {
                shown_name k;
                return fail(ld, "bad header", "tensor %s: entry has the extra key \"%s\" (it needs exactly dtype, shape, data_offsets)",
                            show(name, &s), show(key, &k));
            }
        }
    }
    if (!json_is_string(json_object_get(entry, "dtype")))
        return fail(ld, "bad header", "tensor %s: dtype is %s, not a string", show(name, &s),
                    json_type_name(json_object_get(entry, "dtype")));
    return check_shape_form(ld, name, json_object_get(entry, "shape"));
}

/* Checks the form of every entry and lists the tensors in file order. */
static int check_header_form(loader *ld)
{
    ld->entries = calloc(json_object_size(ld->header) + 1, sizeof *ld->entries);
    if (!ld->entries)
        return fail(ld, "out of memory", "listing %zu header entries", json_object_size(ld->header));
    const char *key;
    json_t *value;
    json_object_foreach(ld->header, key, value) {
        if (strcmp(key, METADATA_KEY) == 0) {
            if (check_metadata_form(ld, value) != 0)
                return -1;
            continue;
        }
        if (check_entry_form(ld, key, value) != 0)
            return -1;
        tensor_entry *t = &ld->entries[ld->n_entries++];
        t->name = key;
        t->entry = value;
        t->spec = -1;
    }
    return 0;
}

/* ---- metadata (spec 9.3) ------------------------------------------------------------ */

/* Digits only: no sign, no space, no overflow of max. */
static int parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t digit = (uint64_t)(*s - '0');
        if (v > (max - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

static const char *metadata_value(loader *ld, const char *key)
{
    return json_string_value(json_object_get(json_object_get(ld->header, METADATA_KEY), key));
}

static const char *required_metadata(loader *ld, const char *key)
{
    const char *v = metadata_value(ld, key);
    if (!v)
        fail(ld, "bad metadata", "the required key %s is absent", key);
    return v;
}

static int read_positive_int(loader *ld, const char *key, int *out)
{
    const char *s = required_metadata(ld, key);
    uint64_t v;
    if (!s)
        return -1;
    if (parse_decimal(s, INT_MAX, &v) != 0 || v == 0) {
        shown_name sv;
        return fail(ld, "bad metadata", "%s is \"%s\", not a positive decimal integer (at most %d)", key,
                    show(s, &sv), INT_MAX);
    }
    *out = (int)v;
    return 0;
}

static int read_version_and_arch(loader *ld)
{
    shown_name sv;
    if (!json_object_get(ld->header, METADATA_KEY))
        return fail(ld, "bad metadata", "the header has no " METADATA_KEY
                    "; hst.format_version, hst.arch and the six sizes are required");
    const char *version = required_metadata(ld, "hst.format_version");
    if (!version)
        return -1;
    if (strcmp(version, FORMAT_VERSION) != 0)
        return fail(ld, "bad metadata", "hst.format_version is \"%s\"; this engine reads version " FORMAT_VERSION,
                    show(version, &sv));
    const char *arch = required_metadata(ld, "hst.arch");
    if (!arch)
        return -1;
    if (hst_arch_from_name(arch, &ld->cfg.arch) != 0)
        return fail(ld, "bad metadata", "unknown hst.arch \"%s\" (known: v3, v4, v5.2, v6, v6.1, v7.0, v7.1, v8)",
                    show(arch, &sv));
    return 0;
}

static int read_sizes(loader *ld)
{
    struct {
        const char *key;
        int *dst;
    } sizes[] = {
        {"hst.vocab_size", &ld->cfg.vocab_size}, {"hst.d_model", &ld->cfg.d_model},
        {"hst.n_heads", &ld->cfg.n_heads},       {"hst.n_layers", &ld->cfg.n_layers},
        {"hst.max_seq_len", &ld->cfg.max_seq_len}, {"hst.horizon", &ld->cfg.horizon},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (read_positive_int(ld, sizes[i].key, sizes[i].dst) != 0)
            return -1;
    hst_error config_err;
    if (hst_config_check(&ld->cfg, &config_err) != 0) {
        /* hst_config_check names no file ("config: bad metadata: ..."): keep its details. */
        const char *details = strstr(config_err.msg, "bad metadata: ");
        return fail(ld, "bad metadata", "%s", details ? details + strlen("bad metadata: ") : config_err.msg);
    }
    return 0;
}

static void describe_config(const hst_config *c, char *buf, size_t size)
{
    snprintf(buf, size, "arch %s, V %d, D %d, heads %d, L %d, Lmax %d, Hz %d", hst_arch_name(c->arch),
             c->vocab_size, c->d_model, c->n_heads, c->n_layers, c->max_seq_len, c->horizon);
}

/* Optional hst.preset: "custom" or a preset whose values are the file's (spec 9.3). */
static int read_preset(loader *ld)
{
    const char *name = metadata_value(ld, "hst.preset");
    shown_name sv;
    hst_config preset_cfg;
    if (!name || strcmp(name, "custom") == 0) {
        snprintf(ld->preset, sizeof ld->preset, "%s", name ? name : "");
        return 0;
    }
    if (hst_preset_config(name, &preset_cfg) != 0)
        return fail(ld, "bad metadata", "unknown hst.preset \"%s\" (a preset name or \"custom\")", show(name, &sv));
    if (memcmp(&preset_cfg, &ld->cfg, sizeof preset_cfg) != 0) {
        char want[160], got[160];
        describe_config(&preset_cfg, want, sizeof want);
        describe_config(&ld->cfg, got, sizeof got);
        return fail(ld, "bad metadata", "hst.preset %s means %s but the file says %s", name, want, got);
    }
    snprintf(ld->preset, sizeof ld->preset, "%s", name);
    return 0;
}

static int read_seed(loader *ld)
{
    const char *s = metadata_value(ld, "hst.seed");
    shown_name sv;
    if (!s)
        return 0;
    if (parse_decimal(s, UINT64_MAX, &ld->seed) != 0)
        return fail(ld, "bad metadata", "hst.seed is \"%s\", not a decimal unsigned 64-bit integer", show(s, &sv));
    ld->has_seed = 1;
    return 0;
}

/* hst.source is optional and informational; the loaded model's source is the path. */
static int read_metadata(loader *ld)
{
    if (read_version_and_arch(ld) != 0 || read_sizes(ld) != 0 || read_preset(ld) != 0 || read_seed(ld) != 0)
        return -1;
    return 0;
}

/* ---- tensors (spec 9.2, 9.4) ------------------------------------------------------- */

static int check_dtype(loader *ld, tensor_entry *t)
{
    const char *dt = json_string_value(json_object_get(t->entry, "dtype"));
    shown_name s, sd;
    if (dtype_from_name(dt, &t->type) != 0)
        return fail(ld, "unsupported dtype", "tensor %s has dtype \"%s\" (accepted: F32, F16, BF16; I64 for spine buffers)",
                    show(t->name, &s), show(dt, &sd));
    return 0;
}

static int check_name(loader *ld, tensor_entry *t)
{
    shown_name s;
    t->spec = hst_spec_find(ld->m->specs, ld->m->n_specs, t->name);
    if (t->spec < 0)
        return fail(ld, "unexpected tensor", "%s is not a tensor of arch %s", show(t->name, &s),
                    hst_arch_name(ld->cfg.arch));
    return 0;
}

/* I64 is only for the spine buffers, and they must be I64 (spec 9.2, 12.0);
 * weights and float buffers (v8's pos_encoding.pe, memory.*) are F32, F16 or BF16. */
static int check_dtype_role(loader *ld, const tensor_entry *t)
{
    const hst_tensor_spec *spec = &ld->m->specs[t->spec];
    int is_spine = (spec->flags & HST_T_I64) != 0;
    shown_name s;
    if (is_spine && t->type != DT_I64)
        return fail(ld, "unsupported dtype", "spine buffer %s has dtype %s; it must be I64", show(t->name, &s),
                    dtypes[t->type].name);
    if (!is_spine && t->type == DT_I64)
        return fail(ld, "unsupported dtype", "%s %s has dtype I64; it must be F32, F16 or BF16",
                    (spec->flags & HST_T_BUFFER) ? "float buffer" : "weight", show(t->name, &s));
    return 0;
}

/* Compares dims as JSON integers: a file shape is never multiplied out, so
 * huge or many dims cannot overflow anything (spec 9.3: shapes derive from metadata). */
static int check_shape(loader *ld, const tensor_entry *t)
{
    const hst_tensor_spec *spec = &ld->m->specs[t->spec];
    const json_t *shape = json_object_get(t->entry, "shape");
    size_t ndim = json_array_size(shape);
    int same = ndim == (size_t)spec->ndim;
    for (size_t i = 0; same && i < ndim; i++)
        same = json_integer_value(json_array_get(shape, i)) == spec->shape[i];
    if (same)
        return 0;
    int64_t dims[5];
    size_t shown_dims = ndim < 5 ? ndim : 5;
    for (size_t i = 0; i < shown_dims; i++)
        dims[i] = json_integer_value(json_array_get(shape, i));
    char got[128], want[128];
    shown_name s;
    format_shape(dims, (int)shown_dims, ndim > shown_dims, got, sizeof got);
    format_shape(spec->shape, spec->ndim, 0, want, sizeof want);
    return fail(ld, "wrong shape", "tensor %s has shape %s but the metadata implies %s", show(t->name, &s), got, want);
}

static int check_offsets(loader *ld, tensor_entry *t)
{
    const json_t *offsets = json_object_get(t->entry, "data_offsets");
    const json_t *b = json_array_get(offsets, 0), *e = json_array_get(offsets, 1);
    shown_name s;
    if (json_array_size(offsets) != 2 || !json_is_integer(b) || !json_is_integer(e) ||
        json_integer_value(b) < 0 || json_integer_value(e) < 0)
        return fail(ld, "bad offsets", "tensor %s: data_offsets must be two non-negative integers [begin, end]",
                    show(t->name, &s));
    t->begin = (uint64_t)json_integer_value(b);
    t->end = (uint64_t)json_integer_value(e);
    if (t->begin > t->end)
        return fail(ld, "bad offsets", "tensor %s begins at byte %llu after its end %llu", show(t->name, &s),
                    (unsigned long long)t->begin, (unsigned long long)t->end);
    uint64_t numel = ld->m->specs[t->spec].numel, want;
    if (__builtin_mul_overflow(numel, dtypes[t->type].size, &want) || t->end - t->begin != want)
        return fail(ld, "bad offsets", "tensor %s spans %llu bytes but %llu %s elements need %llu",
                    show(t->name, &s), (unsigned long long)(t->end - t->begin), (unsigned long long)numel,
                    dtypes[t->type].name, (unsigned long long)want);
    if (t->end > ld->data_bytes)
        return fail(ld, "truncated", "tensor %s ends at byte %llu but the data section has %llu bytes",
                    show(t->name, &s), (unsigned long long)t->end, (unsigned long long)ld->data_bytes);
    return 0;
}

static int check_entries(loader *ld)
{
    for (int i = 0; i < ld->n_entries; i++) {
        tensor_entry *t = &ld->entries[i];
        if (check_dtype(ld, t) != 0 || check_name(ld, t) != 0 || check_dtype_role(ld, t) != 0 ||
            check_shape(ld, t) != 0 || check_offsets(ld, t) != 0)
            return -1;
    }
    return 0;
}

static int by_begin(const void *a, const void *b)
{
    const tensor_entry *x = *(tensor_entry *const *)a, *y = *(tensor_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->spec < y->spec ? -1 : x->spec > y->spec;
}

static int check_neighbours(loader *ld, const tensor_entry *prev, const tensor_entry *t, uint64_t covered)
{
    shown_name s, sp;
    if (t->begin < covered)
        return fail(ld, "bad offsets", "tensor %s [%llu, %llu) overlaps tensor %s [%llu, %llu)", show(t->name, &s),
                    (unsigned long long)t->begin, (unsigned long long)t->end, show(prev->name, &sp),
                    (unsigned long long)prev->begin, (unsigned long long)prev->end);
    if (t->begin > covered) {
        if (prev)
            return fail(ld, "bad offsets", "bytes %llu..%llu between tensors %s and %s belong to no tensor",
                        (unsigned long long)covered, (unsigned long long)t->begin, show(prev->name, &sp),
                        show(t->name, &s));
        return fail(ld, "bad offsets", "bytes 0..%llu before tensor %s belong to no tensor",
                    (unsigned long long)t->begin, show(t->name, &s));
    }
    return 0;
}

/* Spec 9.4: the non-empty tensors, sorted by offset, tile the data section:
 * no overlap, no gap, nothing unused at the end. */
static int check_tiling(loader *ld)
{
    tensor_entry **order = malloc(((size_t)ld->n_entries + 1) * sizeof(tensor_entry *));
    if (!order)
        return fail(ld, "out of memory", "sorting %d tensors", ld->n_entries);
    int n = 0;
    for (int i = 0; i < ld->n_entries; i++)
        if (ld->entries[i].end > ld->entries[i].begin)
            order[n++] = &ld->entries[i];
    qsort(order, (size_t)n, sizeof(tensor_entry *), by_begin);
    uint64_t covered = 0;
    const tensor_entry *prev = NULL;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = check_neighbours(ld, prev, order[i], covered);
        prev = order[i];
        covered = prev->end;
    }
    if (rc == 0 && covered != ld->data_bytes)
        rc = fail(ld, "bad offsets", "the tensors end at byte %llu but the data section has %llu bytes (unused bytes at the end)",
                  (unsigned long long)covered, (unsigned long long)ld->data_bytes);
    free(order);
    return rc;
}

static int check_missing(loader *ld)
{
    unsigned char *in_file = calloc((size_t)ld->m->n_specs + 1, 1);
    if (!in_file)
        return fail(ld, "out of memory", "checking %d tensors", ld->m->n_specs);
    for (int i = 0; i < ld->n_entries; i++)
        in_file[ld->entries[i].spec] = 1;
    int rc = 0;
    for (int i = 0; i < ld->m->n_specs && rc == 0; i++)
        if ((ld->m->specs[i].flags & HST_T_REQUIRED) && !in_file[i])
            rc = fail(ld, "missing tensor", "%s (required for arch %s) is not in the file", ld->m->specs[i].name,
                      hst_arch_name(ld->cfg.arch));
    free(in_file);
    return rc;
}

/* Spec 6, 12.0: a spine buffer present in the file holds the spine of Lmax
 * (3-term, or 2-term for v8's). */
static hst_spine_kind spine_kind(const hst_tensor_spec *spec)
{
    return spec->init == HST_INIT_SPINE2 ? HST_SPINE_2TERM : HST_SPINE_3TERM;
}

static int check_spine(loader *ld, const tensor_entry *t)
{
    int64_t spine[HST_SPINE_MAX];
    int n = hst_spine_of(spine_kind(&ld->m->specs[t->spec]), ld->cfg.max_seq_len, spine);
    shown_name s;
    /* The shape check made the file's length the table's; never read past either. */
    if ((uint64_t)n > ld->m->specs[t->spec].numel)
        n = (int)ld->m->specs[t->spec].numel;
    for (int i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, ld->data + t->begin + (uint64_t)i * 8, sizeof v);
        if (v != spine[i])
            return fail(ld, "bad spine", "%s[%d] is %lld but the spine of max_seq_len %d has %lld there",
                        show(t->name, &s), i, (long long)v, ld->cfg.max_seq_len, (long long)spine[i]);
    }
    return 0;
}

static int check_spines(loader *ld)
{
    for (int i = 0; i < ld->n_entries; i++)
        if ((ld->m->specs[ld->entries[i].spec].flags & HST_T_I64) && check_spine(ld, &ld->entries[i]) != 0)
            return -1;
    return 0;
}

/* Widens one tensor into f32 (spec 9.2). The source may be unaligned (spec 9.1). */
static void widen(float *dst, const unsigned char *src, uint64_t numel, dtype type)
{
    if (type == DT_F32) {
        memcpy(dst, src, numel * sizeof(float));
        return;
    }
    for (uint64_t i = 0; i < numel; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, sizeof h);
        dst[i] = type == DT_F16 ? hst_f16_to_f32(h) : hst_bf16_to_f32(h);
    }
}

/* Element i of a tensor in the file, widened to f32, as its bit pattern. */
static uint32_t widened_bits(const loader *ld, const tensor_entry *t, uint64_t i)
{
    float f;
    widen(&f, ld->data + t->begin + i * dtypes[t->type].size, 1, t->type);
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

static const tensor_entry *entry_of_spec(const loader *ld, int spec)
{
    for (int i = 0; i < ld->n_entries; i++)
        if (ld->entries[i].spec == spec)
            return &ld->entries[i];
    return NULL;
}

/* Spec 12.0, 12.E.4: a tied tensor (v8's lm_head.weight) present beside its
 * tie must equal it bit for bit once both are widened to F32; the original
 * would silently load the later one into both. Absent, it is its tie. */
static int check_ties(loader *ld)
{
    for (int i = 0; i < ld->n_entries; i++) {
        const tensor_entry *t = &ld->entries[i];
        const hst_tensor_spec *spec = &ld->m->specs[t->spec];
        if (!(spec->flags & HST_T_TIED))
            continue;
        const tensor_entry *tie = entry_of_spec(ld, spec->tie_to);
        if (!tie) /* the tie is required: check_missing has seen it */
            continue;
        for (uint64_t k = 0; k < spec->numel; k++) {
            uint32_t a = widened_bits(ld, t, k), b = widened_bits(ld, tie, k);
            if (a != b) {
                float fa, fb;
                memcpy(&fa, &a, sizeof fa);
                memcpy(&fb, &b, sizeof fb);
                shown_name s;
                return fail(ld, "bad tie",
                            "%s differs from %s at element %llu (%.9g vs %.9g); arch %s ties them, so store "
                            "equal values or leave %s out",
                            show(t->name, &s), ld->m->specs[spec->tie_to].name, (unsigned long long)k, (double)fa,
                            (double)fb, hst_arch_name(ld->cfg.arch), spec->name);
            }
        }
    }
    return 0;
}

static uint64_t count_nonfinite(const float *v, uint64_t n)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++)
        bad += !isfinite(v[i]);
    return bad;
}

/* Counted as the tensors are copied (the values are in cache then), and
 * recorded in the model for the caller's warning (issue 7). The first tensor
 * is the first in file order, the order the user can look it up in. */
static void note_nonfinite(loader *ld, const tensor_entry *t, const float *dst)
{
    uint64_t bad = count_nonfinite(dst, ld->m->specs[t->spec].numel);
    if (bad && ld->m->nonfinite_weights == 0)
        ld->m->nonfinite_first = t->spec;
    ld->m->nonfinite_weights += bad;
}

static int copy_tensors(loader *ld)
{
    for (int i = 0; i < ld->n_entries; i++) {
        const tensor_entry *t = &ld->entries[i];
        const hst_tensor_spec *spec = &ld->m->specs[t->spec];
        float *dst = hst_model_tensor_alloc(ld->m, t->spec); /* I64 spines, ties: only marked present */
        if (spec->flags & (HST_T_I64 | HST_T_TIED))
            continue;
        if (!dst)
            return fail(ld, "out of memory", "allocating %llu floats for %s", (unsigned long long)spec->numel,
                        spec->name);
        widen(dst, ld->data + t->begin, spec->numel, t->type);
        if (!(spec->flags & HST_T_UNCHECKED)) /* memory.*: values never read nor checked (spec 12.0) */
            note_nonfinite(ld, t, dst);
    }
    if (ld->opts.reject_nonfinite_weights && ld->m->nonfinite_weights > 0)
        return fail(ld, "non-finite weights", "%llu NaN/Inf values, the first in tensor %s",
                    (unsigned long long)ld->m->nonfinite_weights, ld->m->specs[ld->m->nonfinite_first].name);
    return 0;
}

static void record_origin(loader *ld)
{
    hst_model *m = ld->m;
    const char *matching = hst_preset_matching(&ld->cfg);
    snprintf(m->preset, sizeof m->preset, "%s", ld->preset[0] ? ld->preset : matching ? matching : "custom");
    snprintf(m->source, sizeof m->source, "%s", ld->path);
    m->seed = ld->has_seed ? ld->seed : 0;
    m->has_seed = ld->has_seed;
}

static int build_model(loader *ld)
{
    hst_error model_err;
    ld->m = hst_model_new(&ld->cfg, &model_err); /* the config passed hst_config_check */
    if (!ld->m)
        return fail(ld, "out of memory", "building the tensor table (%s)", model_err.msg);
    /* hst_model_finalize names the file through m->source, so set it first. */
    record_origin(ld);
    return 0;
}

/* Everything up to the copied weights; the mapping is no longer needed after. */
static int validate_and_copy(loader *ld)
{
    uint64_t header_bytes = 0;
    if (map_file(ld) != 0 || locate_header(ld, &header_bytes) != 0 || parse_header(ld, header_bytes) != 0 ||
        check_header_form(ld) != 0 || read_metadata(ld) != 0 || build_model(ld) != 0 ||
        check_entries(ld) != 0 || check_tiling(ld) != 0 || check_missing(ld) != 0 ||
        check_spines(ld) != 0 || check_ties(ld) != 0 || copy_tensors(ld) != 0)
        return -1;
    return 0;
}

static void release_file(loader *ld)
{
    free(ld->entries);
    ld->entries = NULL;
    json_decref(ld->header);
    ld->header = NULL;
    if (ld->map)
        munmap((void *)ld->map, ld->map_bytes);
    ld->map = NULL;
}

hst_model *hst_model_load(const char *path, hst_error *err)
{
    return hst_model_load_opts(path, NULL, err);
}

hst_model *hst_model_load_opts(const char *path, const hst_load_opts *opts, hst_error *err)
{
    hst_error scratch = {{0}};
    loader ld = {.path = path, .err = err ? err : &scratch};
    if (opts)
        ld.opts = *opts;
    shorten_path(path, ld.shown_path);
    int rc = validate_and_copy(&ld);
    /* Unmapped before the runtime packs its copy of the weights. */
    release_file(&ld);
    if (rc == 0)
        rc = hst_model_finalize(ld.m, ld.err);
    if (rc != 0) {
        hst_model_free(ld.m);
        return NULL;
    }
    return ld.m;
}

/* ---- writing (spec 9.5) -------------------------------------------------------------- */

/* Spine buffers and tied tensors are always written, as the spine and a copy
 * of the tie (so files load into the original with strict=True, spec 9.5,
 * 12.0); every other tensor when present. */
static int saved(const hst_model *m, int i)
{
    return (m->specs[i].flags & (HST_T_I64 | HST_T_TIED)) || (m->present[i] && m->data[i]);
}

static uint64_t saved_bytes(const hst_model *m, int i)
{
    return m->specs[i].numel * ((m->specs[i].flags & HST_T_I64) ? 8 : 4);
}

/* json_string rejects invalid UTF-8 (a path may hold any bytes): replace those bytes. */
static json_t *json_string_lossy(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

static int set_string(json_t *obj, const char *key, const char *value)
{
    return json_object_set_new(obj, key, json_string_lossy(value));
}

static int set_decimal(json_t *obj, const char *key, uint64_t value)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)value);
    return set_string(obj, key, buf);
}

/* Spec 9.3: everything the loader needs, as decimal strings. */
static json_t *metadata_json(const hst_model *m)
{
    const hst_config *c = &m->cfg;
    json_t *md = json_object();
    int rc = !md;
    rc = rc || set_string(md, "hst.format_version", FORMAT_VERSION);
    rc = rc || set_string(md, "hst.arch", hst_arch_name(c->arch));
    rc = rc || set_decimal(md, "hst.vocab_size", (uint64_t)c->vocab_size);
    rc = rc || set_decimal(md, "hst.d_model", (uint64_t)c->d_model);
    rc = rc || set_decimal(md, "hst.n_heads", (uint64_t)c->n_heads);
    rc = rc || set_decimal(md, "hst.n_layers", (uint64_t)c->n_layers);
    rc = rc || set_decimal(md, "hst.max_seq_len", (uint64_t)c->max_seq_len);
    rc = rc || set_decimal(md, "hst.horizon", (uint64_t)c->horizon);
    rc = rc || set_string(md, "hst.preset", m->preset[0] ? m->preset : "custom");
    if (m->has_seed)
        rc = rc || set_decimal(md, "hst.seed", m->seed);
    rc = rc || set_string(md, "hst.source", m->source);
    if (rc) {
        json_decref(md);
        return NULL;
    }
    return md;
}

static json_t *shape_json(const hst_tensor_spec *spec)
{
    json_t *shape = json_array();
    for (int d = 0; shape && d < spec->ndim; d++)
        if (json_array_append_new(shape, json_integer(spec->shape[d])) != 0) {
            json_decref(shape);
            shape = NULL;
        }
    return shape;
}

static json_t *entry_json(const hst_tensor_spec *spec, uint64_t begin, uint64_t end)
{
    json_t *entry = json_object();
    int rc = !entry;
    /* json_object_set_new takes NULL values as failures and frees what it is given. */
    rc = rc || json_object_set_new(entry, "dtype", json_string((spec->flags & HST_T_I64) ? "I64" : "F32"));
    rc = rc || json_object_set_new(entry, "shape", shape_json(spec));
    rc = rc || json_object_set_new(entry, "data_offsets", json_pack("[I,I]", (json_int_t)begin, (json_int_t)end));
    if (rc) {
        json_decref(entry);
        return NULL;
    }
    return entry;
}

/* The header object: __metadata__ first, then the tensors in canonical order,
 * contiguous from offset 0 (spec 9.5). */
static json_t *header_json(const hst_model *m)
{
    json_t *root = json_object();
    if (!root || json_object_set_new(root, METADATA_KEY, metadata_json(m)) != 0) {
        json_decref(root);
        return NULL;
    }
    uint64_t offset = 0;
    for (int i = 0; i < m->n_specs; i++) {
        if (!saved(m, i))
            continue;
        uint64_t bytes = saved_bytes(m, i);
        if (json_object_set_new(root, m->specs[i].name, entry_json(&m->specs[i], offset, offset + bytes)) != 0) {
            json_decref(root);
            return NULL;
        }
        offset += bytes;
    }
    return root;
}

/* The serialised header with its 8-byte length, padded with spaces so the
 * data section starts at a multiple of 8 (spec 9.5). */
static unsigned char *header_bytes(const hst_model *m, size_t *total)
{
    json_t *root = header_json(m);
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text)
        return NULL;
    size_t len = strlen(text), padded = len + (8 - (8 + len) % 8) % 8;
    unsigned char *buf = malloc(8 + padded);
    if (buf) {
        for (int i = 0; i < 8; i++)
            buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
        /* Length-prefixed, padded with spaces, no NUL (spec 9.1, 9.5). */
        memcpy(buf + 8, text, len); // NOLINT(bugprone-not-null-terminated-result)
        memset(buf + 8 + len, ' ', padded - len);
        *total = 8 + padded;
    }
    free(text);
    return buf;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        size_t chunk = len < ((size_t)1 << 30) ? len : ((size_t)1 << 30);
        ssize_t w = write(fd, p, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The spine buffer i holds (spec 9.5): the spine of its kind the model was
 * built with. Its length, or -1 with err when it disagrees with the tensor
 * table: such a file must never be written. */
static int spine_of(const hst_model *m, int i, int64_t spine[HST_SPINE_MAX], hst_error *err)
{
    int n = hst_spine_of(spine_kind(&m->specs[i]), m->cfg.max_seq_len, spine);
    if ((uint64_t)n == m->specs[i].numel)
        return n;
    hst_set_error(err, "cannot write: %s holds %llu entries, the spine has %d", m->specs[i].name,
                  (unsigned long long)m->specs[i].numel, n);
    errno = EINVAL;
    return -1;
}

/* Only the format: where the bytes go, and how they become a file
 * atomically, is the caller's (exports/model_file.c). The header, then each
 * saved tensor in canonical order; interrupted is asked before each tensor. */
int hst_model_write(const hst_model *m, int fd, int (*interrupted)(void), hst_error *err)
{
    size_t header_len = 0;
    unsigned char *header = header_bytes(m, &header_len);
    int rc = header ? write_all(fd, header, header_len) : -1;
    if (!header)
        errno = ENOMEM;
    free(header);
    for (int i = 0; i < m->n_specs && rc == 0; i++) {
        if (interrupted && interrupted()) {
            hst_set_error(err, "not written: interrupted");
            errno = EINTR;
            return -1;
        }
        if (!saved(m, i))
            continue;
        if (m->specs[i].flags & HST_T_I64) {
            int64_t spine[HST_SPINE_MAX];
            int n = spine_of(m, i, spine, err);
            if (n < 0)
                return -1;
            rc = write_all(fd, spine, (size_t)n * sizeof spine[0]);
        } else {
            rc = write_all(fd, hst_model_data(m, i), (size_t)saved_bytes(m, i));
        }
    }
    if (rc != 0) {
        int e = errno;
        hst_set_error(err, "cannot write: %s", strerror(e));
        errno = e; /* for callers that report the cause themselves */
    }
    return rc;
}
