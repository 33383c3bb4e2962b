/* profile.c — named INI profiles: parse with the flags' rules, render, save
 * atomically, find by name and list. The file format is described in
 * profiles.h; every error is one line "<file>:<line>: <problem>". */
#include "profiles/profiles.h"

#include "exports/atomic.h"
#include "probes/session.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A profile is a handful of lines; anything bigger is not one. */
#define PROFILE_FILE_MAX (1 << 20)
#define SEQ_MAX_VALUES 32

/* ---- the keys ------------------------------------------------------------- */

typedef enum { KEY_STRING, KEY_INT, KEY_U64, KEY_FLOAT } key_kind;

/* An extra rule on a value; 0 ok, else -1 with the whole problem in why. */
typedef int (*value_rule)(const char *value, char *why, size_t why_size);

typedef struct {
    const char *key;
    key_kind kind;
    size_t offset;    /* of the field in hst_settings */
    size_t size;      /* KEY_STRING: buffer size */
    double min, max;  /* KEY_INT, KEY_FLOAT */
    value_rule rule;  /* NULL: the kind's checks only */
    const char *help; /* the comment profile_render writes above the key */
} profile_key;

static int rule_model(const char *v, char *why, size_t n)
{
    if (*v)
        return 0;
    snprintf(why, n, "model is empty (give a preset such as hst-v4, or a safetensors file)");
    return -1;
}

/* PU lists as probes/affinity accepts them: "0,2,4-7". */
static int is_pu_list(const char *v)
{
    const char *p = v;
    for (;;) {
        char *end;
        if (!isdigit((unsigned char)*p))
            return 0;
        long lo = strtol(p, &end, 10), hi = lo;
        p = end;
        if (*p == '-') {
            if (!isdigit((unsigned char)p[1]))
                return 0;
            hi = strtol(p + 1, &end, 10);
            p = end;
        }
        if (hi < lo)
            return 0;
        if (*p == '\0')
            return 1;
        if (*p++ != ',')
            return 0;
    }
}

static int rule_affinity(const char *v, char *why, size_t n)
{
    if (strcmp(v, "none") == 0 || strcmp(v, "compact") == 0 || strcmp(v, "scatter") == 0 || is_pu_list(v))
        return 0;
    snprintf(why, n, "affinity must be none, compact, scatter or a PU list like 0,2,4-7, got '%.200s'", v);
    return -1;
}

/* The names a measured session takes, checked as it checks them. */
static int rule_precision(const char *v, char *why, size_t n)
{
    return probes_check_precision_name("precision", v, why, n);
}

static int rule_kernel(const char *v, char *why, size_t n)
{
    return probes_check_kernel_name("kernel", v, why, n);
}

/* One mode, or a list for bench; run and the dashboard refuse a list when they use it. */
static int rule_mode(const char *v, char *why, size_t n)
{
    hst_mode modes[HST_MODE_COUNT];
    return settings_modes(v, "mode", modes, HST_MODE_COUNT, why, n) < 0 ? -1 : 0;
}

static int rule_models(const char *v, char *why, size_t n)
{
    if (*v == '\0') {
        snprintf(why, n, "models is empty (give presets or files, comma-separated, or all)");
        return -1;
    }
    if (v[0] == ',' || v[strlen(v) - 1] == ',' || strstr(v, ",,")) {
        snprintf(why, n, "models has an empty entry in '%.200s'", v);
        return -1;
    }
    return 0;
}

static int rule_seq(const char *v, char *why, size_t n)
{
    int values[SEQ_MAX_VALUES];
    char err[160];
    /* The same bounds as `hstprof bench --seq`. */
    if (args_parse_int_list(v, values, SEQ_MAX_VALUES, 1, 8192, err, sizeof err) >= 0)
        return 0;
    snprintf(why, n, "seq: %s", err);
    return -1;
}

#define FIELD(f) offsetof(hst_settings, f), sizeof(((hst_settings *)0)->f)

static const profile_key keys[] = {
    {"model", KEY_STRING, FIELD(model), 0, 0, rule_model,
     "Model: a preset (hst-v3, hst-v4, hst-v5.2, hst-v6, hst-v6.1, hst-v7.0, hst-chaos, hst-v7.1, hst-v8) or a "
     "safetensors file."},
    {"seed", KEY_U64, FIELD(seed), 0, 0, NULL, "Seed of the random weights and of sampling."},
    {"threads", KEY_INT, FIELD(threads), 0, 1024, NULL, "Engine threads; 0 = every PU."},
    {"affinity", KEY_STRING, FIELD(affinity), 0, 0, rule_affinity,
     "Thread placement: none, compact, scatter, or PU numbers like 0,2,4-7."},
    {"events", KEY_STRING, FIELD(events), 0, 0, NULL,
     "Counter events, e.g. {cycles,instructions},task-clock; empty = the default set; none = no counters."},
    {"prompt", KEY_STRING, FIELD(prompt), 0, 0, NULL, "Prompt text (its UTF-8 bytes are the ids); empty = the default prompt."},
    {"tokens", KEY_INT, offsetof(hst_settings, n_tokens), 0, 0, 1 << 20, NULL, "Tokens to generate (0: prefill only)."},
    {"temperature", KEY_FLOAT, offsetof(hst_settings, temperature), 0, 0, 1e6, NULL, "Sampling temperature; 0 = greedy."},
    {"top_k", KEY_INT, offsetof(hst_settings, top_k), 0, 0, 1 << 30, NULL,
     "Sample among the K most likely tokens; 0 = the whole vocabulary (needs temperature > 0)."},
    {"precision", KEY_STRING, FIELD(precision), 0, 0, rule_precision,
     "Weight precision: f32, bf16 or int8 (weights only; the arithmetic stays f32)."},
    {"kernel", KEY_STRING, FIELD(kernel), 0, 0, rule_kernel, "Matmul kernel: auto, avx512, avx2 or portable."},
    {"mode", KEY_STRING, FIELD(mode), 0, 0, rule_mode,
     "Mode: causal (incremental decode) or parity (the original's computation over the window); bench also takes "
     "parity,causal."},
    {"models", KEY_STRING, FIELD(models), 0, 0, rule_models, "bench: models, comma-separated, or all."},
    {"seq", KEY_STRING, FIELD(seq), 0, 0, rule_seq, "bench: sequence lengths, comma-separated."},
    {"gen", KEY_INT, offsetof(hst_settings, gen), 0, 0, 1 << 20, NULL,
     "bench: tokens decoded in each generation row (tgN); 0 = prefill rows only."},
    {"warmup", KEY_INT, offsetof(hst_settings, warmup), 0, 0, 1000, NULL, "bench: untimed runs per cell."},
    {"runs", KEY_INT, offsetof(hst_settings, runs), 0, 1, 100000, NULL, "bench: timed runs per cell."},
    {"delay", KEY_INT, offsetof(hst_settings, delay), 0, 1, 100, NULL,
     "dashboard: tenths of a second between redraws (htop's --delay)."},
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

static int find_key(const char *name)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].key, name) == 0)
            return i;
    return -1;
}

static const char *closest_key(const char *name)
{
    const char *best = NULL;
    size_t best_d = 3; /* the flags' threshold: suggest near misses only */
    for (int i = 0; i < N_KEYS; i++) {
        size_t d = args_edit_distance(name, keys[i].key);
        if (d < best_d) {
            best_d = d;
            best = keys[i].key;
        }
    }
    return best;
}

/* ---- values -----------------------------------------------------------------
 * Numbers are as strict as the flags (profiles/args.c): no '+', no leading
 * space, nothing after the digits. A rejected start leaves end NULL, which
 * the range check below reports like any other bad value. */

static int parse_int_value(const profile_key *k, const char *v, int *out, char *why, size_t n)
{
    char *end = NULL;
    errno = 0;
    long x = (*v == '+' || isspace((unsigned char)*v)) ? 0 : strtol(v, &end, 10);
    if (!end || !*v || *end || errno || x < k->min || x > k->max) {
        snprintf(why, n, "%s expects a whole number from %.0f to %.0f, got '%.200s'", k->key, k->min, k->max, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int parse_u64_value(const profile_key *k, const char *v, uint64_t *out, char *why, size_t n)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = isdigit((unsigned char)*v) ? strtoull(v, &end, 10) : 0;
    if (!end || *end || errno) {
        snprintf(why, n, "%s expects a non-negative whole number, got '%.200s'", k->key, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_float_value(const profile_key *k, const char *v, double *out, char *why, size_t n)
{
    char *end = NULL;
    errno = 0;
    double x = (*v && !isspace((unsigned char)*v)) ? strtod(v, &end) : NAN;
    if (!end || *end || errno || !isfinite(x) || x < k->min || x > k->max) {
        snprintf(why, n, "%s expects a number from %g to %g, got '%.200s'", k->key, k->min, k->max, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* Stores value into the key's field of s, after the kind's and the key's checks. */
static int apply_value(const profile_key *k, const char *v, hst_settings *s, char *why, size_t n)
{
    char *field = (char *)s + k->offset;
    switch (k->kind) {
    case KEY_INT:
        return parse_int_value(k, v, (int *)(void *)field, why, n);
    case KEY_U64:
        return parse_u64_value(k, v, (uint64_t *)(void *)field, why, n);
    case KEY_FLOAT:
        return parse_float_value(k, v, (double *)(void *)field, why, n);
    case KEY_STRING:
        if (strlen(v) >= k->size) {
            snprintf(why, n, "%s is too long (%zu bytes, at most %zu)", k->key, strlen(v), k->size - 1);
            return -1;
        }
        if (k->rule && k->rule(v, why, n) != 0)
            return -1;
        memcpy(field, v, strlen(v) + 1);
        return 0;
    }
    return -1;
}

/* A quoted value: "..." with \\ \" \n \t; then only white space or a comment. */
static int decode_quoted(const char *p, char *out, char *why, size_t n)
{
    p++; /* the opening quote */
    for (;; p++) {
        if (*p == '\0') {
            snprintf(why, n, "missing closing quote");
            return -1;
        }
        if (*p == '"')
            break;
        if (*p != '\\') {
            *out++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case '\\': *out++ = '\\'; break;
        case '"': *out++ = '"'; break;
        case 'n': *out++ = '\n'; break;
        case 't': *out++ = '\t'; break;
        default:
            snprintf(why, n, "unknown escape '\\%c' in a quoted value (use \\\\, \\\", \\n or \\t)", *p ? *p : ' ');
            return -1;
        }
    }
    *out = '\0';
    for (p++; isspace((unsigned char)*p); p++)
        ;
    if (*p && *p != '#' && *p != ';') {
        snprintf(why, n, "unexpected text after the closing quote: '%.60s'", p);
        return -1;
    }
    return 0;
}

/* The value after '=': quoted, or the rest of the line up to a comment
 * ('#' or ';' at the start or after white space), trimmed. */
static int decode_value(const char *p, char *out, char *why, size_t n)
{
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '"')
        return decode_quoted(p, out, why, n);
    size_t len = 0;
    for (size_t i = 0; p[i]; i++) {
        if ((p[i] == '#' || p[i] == ';') && (i == 0 || isspace((unsigned char)p[i - 1])))
            break;
        len = i + 1;
    }
    while (len > 0 && isspace((unsigned char)p[len - 1]))
        len--;
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

/* ---- lines ------------------------------------------------------------------ */

typedef struct {
    const char *file;
    int line_of[N_KEYS]; /* where each key was set, 0 = not set */
    hst_settings next;
    char *value;         /* scratch, as long as the longest line */
} parse_state;

static void trim(char **start)
{
    char *s = *start;
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    *start = s;
}

/* One line of the file (NUL-terminated, no newline). 0 ok; -1 with why. */
static int parse_line(parse_state *st, char *line, int lineno, char *why, size_t n)
{
    char *text = line;
    trim(&text);
    if (*text == '\0' || *text == '#' || *text == ';')
        return 0;
    if (*text == '[') {
        snprintf(why, n, "sections are not used in profiles: write 'key = value' lines (got '%.60s')", text);
        return -1;
    }
    char *eq = strchr(text, '=');
    if (!eq) {
        snprintf(why, n, "expected 'key = value', got '%.60s'", text);
        return -1;
    }
    *eq = '\0';
    char *name = text;
    trim(&name);
    if (*name == '\0') {
        snprintf(why, n, "missing key before '='");
        return -1;
    }
    int k = find_key(name);
    if (k < 0) {
        const char *near = closest_key(name);
        if (near)
            snprintf(why, n, "unknown key '%.60s' (did you mean '%s'?)", name, near);
        else
            snprintf(why, n, "unknown key '%.60s' (keys: model, seed, threads, affinity, events, prompt, tokens, "
                             "temperature, top_k, precision, kernel, mode, models, seq, gen, warmup, runs, delay)", name);
        return -1;
    }
    if (st->line_of[k]) {
        snprintf(why, n, "'%s' is set twice (first on line %d)", keys[k].key, st->line_of[k]);
        return -1;
    }
    st->line_of[k] = lineno;
    if (decode_value(eq + 1, st->value, why, n) != 0)
        return -1;
    return apply_value(&keys[k], st->value, &st->next, why, n);
}

/* Rules between keys, checked once the whole file is read. */
static int check_combinations(const parse_state *st, int *lineno, char *why, size_t n)
{
    int top_k = find_key("top_k");
    if (st->line_of[top_k] && st->next.top_k > 0 && st->next.temperature <= 0) {
        *lineno = st->line_of[top_k];
        snprintf(why, n, "top_k needs temperature > 0 (with temperature 0 decoding is greedy)");
        return -1;
    }
    return 0;
}

/* "<file>:<line>: <problem>" on one line: the problem quotes values, and a
 * value may hold a raw '\r' or a decoded "\n" (found by tests/fuzz/fuzz_profile). */
static void one_line_error(char *err, size_t err_size, const char *file, int lineno, const char *why)
{
    if (err_size == 0)
        return;
    snprintf(err, err_size, "%s:%d: %s", file, lineno, why);
    for (unsigned char *p = (unsigned char *)err; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* "<file>:<line>" of a key the file set; untouched when it did not. */
static void note_origin(char *buf, size_t size, const char *file, int lineno)
{
    if (lineno > 0)
        snprintf(buf, size, "%.1000s:%d", file, lineno);
}

/* ---- model paths: relative to the profile, not to where it is used ---------- */

/* A file a profile names (not a preset, not "all", not absolute) is read from
 * the profile's own directory, so that `-p NAME` finds it from anywhere.
 * *model rewritten in place; 0, or -1 when the result would not fit. */
static int rebase_model(char *model, size_t size, const char *file)
{
    hst_config cfg;
    const char *slash = strrchr(file, '/');
    if (!*model || model[0] == '/' || !slash || strcmp(model, "all") == 0 || hst_preset_config(model, &cfg) == 0)
        return 0;
    char joined[PROFILE_PATH_MAX + 1024];
    int n = snprintf(joined, sizeof joined, "%.*s%s", (int)(slash - file + 1), file, model);
    if (n < 0 || (size_t)n >= size)
        return -1;
    memcpy(model, joined, (size_t)n + 1);
    return 0;
}

/* Each entry of bench's comma-separated "models" rebased the same way. */
static int rebase_model_list(char *models, size_t size, const char *file)
{
    char copy[sizeof ((hst_settings *)0)->models], out[sizeof copy] = "", *save = NULL;
    snprintf(copy, sizeof copy, "%s", models);
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char one[PROFILE_PATH_MAX];
        snprintf(one, sizeof one, "%s", item);
        size_t used = strlen(out);
        if (rebase_model(one, sizeof one, file) != 0 ||
            snprintf(out + used, sizeof out - used, "%s%s", used ? "," : "", one) >= (int)(sizeof out - used))
            return -1;
    }
    if (strlen(out) >= size)
        return -1;
    memcpy(models, out, strlen(out) + 1);
    return 0;
}

/* The model keys once the file is read: rebased, and where they were set
 * noted for the messages of a model that does not exist. */
static int settle_models(parse_state *st, int *lineno, char *why, size_t n)
{
    const int model = st->line_of[find_key("model")], models = st->line_of[find_key("models")];
    if (model && rebase_model(st->next.model, sizeof st->next.model, st->file) != 0) {
        *lineno = model;
        snprintf(why, n, "model: the path, read from the profile's directory, is too long");
        return -1;
    }
    if (models && rebase_model_list(st->next.models, sizeof st->next.models, st->file) != 0) {
        *lineno = models;
        snprintf(why, n, "models: the paths, read from the profile's directory, are too long");
        return -1;
    }
    note_origin(st->next.model_from, sizeof st->next.model_from, st->file, model);
    note_origin(st->next.models_from, sizeof st->next.models_from, st->file, models);
    return 0;
}

int profile_parse(const char *text, size_t len, const char *file, hst_settings *s, char *err, size_t err_size)
{
    parse_state st = {.file = file, .next = *s};
    char *copy = malloc(len + 1), *value = malloc(len + 1);
    if (!copy || !value) {
        free(copy);
        free(value);
        snprintf(err, err_size, "%s: out of memory", file);
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    st.value = value;
    char why[400] = "";
    int lineno = 0, rc = 0;
    char *line = copy;
    while (rc == 0 && line < copy + len) {
        lineno++;
        char *nl = memchr(line, '\n', (size_t)(copy + len - line));
        char *end = nl ? nl : copy + len;
        if (memchr(line, '\0', (size_t)(end - line))) {
            snprintf(why, sizeof why, "contains a NUL byte (a profile is a text file)");
            rc = -1;
            break;
        }
        *end = '\0';
        rc = parse_line(&st, line, lineno, why, sizeof why);
        line = end + 1;
    }
    if (rc == 0)
        rc = check_combinations(&st, &lineno, why, sizeof why);
    if (rc == 0)
        rc = settle_models(&st, &lineno, why, sizeof why);
    if (rc == 0) {
        note_origin(st.next.threads_from, sizeof st.next.threads_from, file, st.line_of[find_key("threads")]);
        note_origin(st.next.affinity_from, sizeof st.next.affinity_from, file, st.line_of[find_key("affinity")]);
    }
    if (rc == 0)
        *s = st.next;
    else
        one_line_error(err, err_size, file, lineno, why);
    free(copy);
    free(value);
    return rc;
}

/* ---- files and directories ----------------------------------------------- */

/* The whole file in a malloc'd buffer. 0 ok; -1 with err. */
static int read_file(const char *path, char **text, size_t *len, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "%s: cannot read profile: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(PROFILE_FILE_MAX + 1);
    size_t got = buf ? fread(buf, 1, PROFILE_FILE_MAX + 1, f) : 0;
    int failed = !buf || ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        snprintf(err, err_size, "%s: cannot read profile: %s", path, buf ? strerror(saved) : "out of memory");
        free(buf);
        return -1;
    }
    if (got > PROFILE_FILE_MAX) {
        snprintf(err, err_size, "%s: larger than %d bytes; not a profile", path, PROFILE_FILE_MAX);
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}

static int is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Letters, digits, '.', '_', '-'; not starting with '.' (no hidden files, no "..") */
static int valid_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= PROFILE_NAME_MAX || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int looks_like_path(const char *arg)
{
    return strchr(arg, '/') != NULL || ends_with(arg, ".ini");
}

int profile_user_dir(char *buf, size_t size, char *err, size_t err_size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    int n;
    /* The XDG spec ignores relative values. */
    if (xdg && xdg[0] == '/') {
        n = snprintf(buf, size, "%s/hstprof/profiles", xdg);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home) {
            const struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home || !*home) {
            snprintf(err, err_size, "cannot find the user's profile directory: set HOME or XDG_CONFIG_HOME");
            return -1;
        }
        n = snprintf(buf, size, "%s/.config/hstprof/profiles", home);
    }
    if (n < 0 || (size_t)n >= size) {
        snprintf(err, err_size, "the user's profile directory path is too long");
        return -1;
    }
    return 0;
}

/* dir + "/" + rel + "/default.ini" exists: then buf = canonical dir/rel. */
static int try_shipped(const char *dir, const char *rel, char *buf, size_t size)
{
    char candidate[PATH_MAX], marker[PATH_MAX + 16], resolved[PATH_MAX];
    if ((size_t)snprintf(candidate, sizeof candidate, "%s/%s", dir, rel) >= sizeof candidate)
        return -1;
    snprintf(marker, sizeof marker, "%s/default.ini", candidate);
    if (!is_regular_file(marker) || !realpath(candidate, resolved) || strlen(resolved) >= size)
        return -1;
    snprintf(buf, size, "%s", resolved);
    return 0;
}

int profile_shipped_dir(char *buf, size_t size, char *err, size_t err_size)
{
    const char *env = getenv("HSTPROF_PROFILE_DIR");
    if (env && *env) {
        if (!is_directory(env)) {
            snprintf(err, err_size, "HSTPROF_PROFILE_DIR=%.200s: not a directory", env);
            return -1;
        }
        snprintf(buf, size, "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(err, err_size, "cannot find the shipped profiles: /proc/self/exe: %s (set HSTPROF_PROFILE_DIR)",
                 strerror(errno));
        return -1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    /* Beside the binary (./hstprof), or above it (build-asan/hstprof, build/tests/test_*). */
    static const char *const rel[] = {"profiles", "../profiles", "../../profiles"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
        if (try_shipped(exe, rel[i], buf, size) == 0)
            return 0;
    snprintf(err, err_size, "no shipped profiles beside %.200s (set HSTPROF_PROFILE_DIR)", exe);
    return -1;
}

static int join_profile_path(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s.ini", dir, name);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The nearest profile name for "did you mean", "" when none is near. */
static void closest_profile(const char *name, char *near, size_t size)
{
    profile_info *all = NULL;
    char err[256];
    int n = profile_list(&all, err, sizeof err);
    size_t best_d = 3;
    near[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t d = args_edit_distance(name, all[i].name);
        if (d < best_d) {
            best_d = d;
            snprintf(near, size, "%s", all[i].name);
        }
    }
    free(all);
}

static int resolve_name(const char *name, char *path, size_t path_size, char *err, size_t err_size)
{
    char user[PROFILE_PATH_MAX] = "", shipped[PROFILE_PATH_MAX] = "", why[256];
    int have_user = profile_user_dir(user, sizeof user, why, sizeof why) == 0;
    int have_shipped = profile_shipped_dir(shipped, sizeof shipped, why, sizeof why) == 0;
    if (have_user && join_profile_path(path, path_size, user, name) == 0 && is_regular_file(path))
        return 0;
    if (have_shipped && join_profile_path(path, path_size, shipped, name) == 0 && is_regular_file(path))
        return 0;
    char near[PROFILE_NAME_MAX], hint[PROFILE_NAME_MAX + 32] = "";
    closest_profile(name, near, sizeof near);
    if (near[0])
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    snprintf(err, err_size, "profile '%s' not found in %s or %s%s; 'hstprof profiles' lists them", name,
             have_user ? user : "(no user directory)", have_shipped ? shipped : "(no shipped directory)", hint);
    return -1;
}

int profile_resolve(const char *name_or_path, char *path, size_t path_size, char *err, size_t err_size)
{
    if (looks_like_path(name_or_path)) {
        if (!is_regular_file(name_or_path)) {
            snprintf(err, err_size, "%s: cannot read profile: %s", name_or_path,
                     access(name_or_path, F_OK) == 0 ? "not a regular file" : strerror(errno));
            return -1;
        }
        if (strlen(name_or_path) >= path_size) {
            snprintf(err, err_size, "%.200s...: path too long", name_or_path);
            return -1;
        }
        snprintf(path, path_size, "%s", name_or_path);
        return 0;
    }
    if (!valid_name(name_or_path)) {
        snprintf(err, err_size, "'%.200s' is neither a profile name (letters, digits, '.', '_', '-') nor a file path",
                 name_or_path);
        return -1;
    }
    return resolve_name(name_or_path, path, path_size, err, err_size);
}

/* "dir/NAME.ini" -> "NAME". */
static void name_from_path(const char *path, char *name, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (ends_with(base, ".ini"))
        len -= 4;
    snprintf(name, size, "%.*s", (int)(len < size ? len : size - 1), base);
}

int profile_load(const char *name_or_path, hst_settings *s, char *err, size_t err_size)
{
    char path[PROFILE_PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    if (profile_resolve(name_or_path, path, sizeof path, err, err_size) != 0 ||
        read_file(path, &text, &len, err, err_size) != 0)
        return -1;
    int rc = profile_parse(text, len, path, s, err, err_size);
    free(text);
    if (rc == 0)
        name_from_path(path, s->name, sizeof s->name);
    return rc;
}

/* ---- writing -------------------------------------------------------------- */

static int needs_quotes(const char *v)
{
    size_t len = strlen(v);
    return len == 0 || isspace((unsigned char)v[0]) || isspace((unsigned char)v[len - 1]) ||
           strpbrk(v, "#;\"\\\n\t\r") != NULL;
}

static void write_quoted(FILE *f, const char *v)
{
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        default: fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* The shortest decimal that reads back as the same double. */
static void write_double(FILE *f, double x)
{
    char buf[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    fputs(buf, f);
}

static void write_key(FILE *f, const profile_key *k, const hst_settings *s)
{
    const char *field = (const char *)s + k->offset;
    fprintf(f, "\n# %s\n%s = ", k->help, k->key);
    switch (k->kind) {
    case KEY_INT: fprintf(f, "%d", *(const int *)(const void *)field); break;
    case KEY_U64: fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)(const void *)field); break;
    case KEY_FLOAT: write_double(f, *(const double *)(const void *)field); break;
    case KEY_STRING:
        if (needs_quotes(field))
            write_quoted(f, field);
        else
            fputs(field, f);
        break;
    }
    fputc('\n', f);
}

char *profile_render(const hst_settings *s, const char *description)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "# %s\n", description && *description ? description : "hstprof profile");
    fprintf(f, "# Every key is listed. '-p NAME' applies a profile; flags on the command line override it.\n");
    for (int i = 0; i < N_KEYS; i++)
        write_key(f, &keys[i], s);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* mkdir -p: every missing component of dir. */
static int make_directories(const char *dir, char *err, size_t err_size)
{
    char path[PROFILE_PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, err_size, "%s: cannot create directory: %s", path, strerror(errno));
            return -1;
        }
        if (!is_directory(path)) {
            snprintf(err, err_size, "%s: cannot create directory: a file is in the way", path);
            return -1;
        }
        *p = saved;
        if (saved == '\0')
            return 0;
    }
}

/* A relative file name made absolute (from the working directory); a preset,
 * or a path that cannot be made absolute, stays as it is. */
static void absolute_model_path(char *model, size_t size)
{
    hst_config cfg;
    char real[PATH_MAX], cwd[PATH_MAX];
    if (model[0] == '/' || hst_preset_config(model, &cfg) == 0)
        return;
    if (realpath(model, real)) {
        if (strlen(real) < size)
            memcpy(model, real, strlen(real) + 1);
    } else if (getcwd(cwd, sizeof cwd) && strlen(cwd) + 1 + strlen(model) < size) {
        char joined[2 * PATH_MAX];
        snprintf(joined, sizeof joined, "%s/%s", cwd, model);
        memcpy(model, joined, strlen(joined) + 1);
    }
}

int profile_save(const hst_settings *s, const char *name, char *path_out, size_t path_size, char *err,
                 size_t err_size)
{
    char dir[PROFILE_PATH_MAX], path[PROFILE_PATH_MAX], description[160];
    if (!valid_name(name)) {
        snprintf(err, err_size, "'%.60s' is not a profile name: use letters, digits, '.', '_', '-' (at most %d)", name,
                 PROFILE_NAME_MAX - 1);
        return -1;
    }
    if (profile_user_dir(dir, sizeof dir, err, err_size) != 0)
        return -1;
    if (join_profile_path(path, sizeof path, dir, name) != 0) {
        snprintf(err, err_size, "%s/%s.ini: path too long", dir, name);
        return -1;
    }
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    snprintf(description, sizeof description, "Profile '%s', saved by hstprof on %s.", name, date);
    /* A model file is saved by its absolute path: the profile is used from anywhere. */
    hst_settings saved = *s;
    absolute_model_path(saved.model, sizeof saved.model);
    char *text = profile_render(&saved, description);
    if (!text) {
        snprintf(err, err_size, "%s: cannot write: out of memory", path);
        return -1;
    }
    /* Never write a profile that would not load back. */
    hst_settings check;
    settings_defaults(&check);
    int rc = profile_parse(text, strlen(text), path, &check, err, err_size);
    if (rc == 0)
        rc = make_directories(dir, err, err_size);
    if (rc == 0)
        rc = export_write_atomic(path, text, strlen(text), err, err_size);
    free(text);
    if (rc == 0 && path_out)
        snprintf(path_out, path_size, "%s", path);
    return rc;
}

/* ---- listing -------------------------------------------------------------- */

void profile_summary(const hst_settings *s, char *buf, size_t size)
{
    char threads[32], sampling[96], extras[160] = "";
    if (s->threads == 0)
        snprintf(threads, sizeof threads, "every PU");
    else
        snprintf(threads, sizeof threads, "%d thread%s", s->threads, s->threads == 1 ? "" : "s");
    if (s->temperature > 0 && s->top_k > 0)
        snprintf(sampling, sizeof sampling, "%d tokens at temperature %g, top-k %d", s->n_tokens, s->temperature,
                 s->top_k);
    else if (s->temperature > 0)
        snprintf(sampling, sizeof sampling, "%d tokens at temperature %g", s->n_tokens, s->temperature);
    else
        snprintf(sampling, sizeof sampling, "%d greedy tokens", s->n_tokens);
    if (s->events[0])
        snprintf(extras + strlen(extras), sizeof extras - strlen(extras), ", events %.60s", s->events);
    if (s->prompt[0])
        snprintf(extras + strlen(extras), sizeof extras - strlen(extras), ", own prompt (%zu bytes)",
                 strlen(s->prompt));
    snprintf(buf, size,
             "%.60s, seed %llu, %s, affinity %.40s, %s, kernel %s, mode %s%s; bench %.60s at seq %.40s, tg %d, "
             "%d+%d runs",
             s->model, (unsigned long long)s->seed, threads, s->affinity, sampling, s->kernel, s->mode, extras,
             s->models, s->seq, s->gen, s->warmup, s->runs);
}

/* The first comment line of the file, without its marker. */
static void first_comment(const char *text, char *buf, size_t size)
{
    buf[0] = '\0';
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '\n' || *line == '\r')
            continue;
        if (*line != '#' && *line != ';')
            return;
        line++;
        while (*line == ' ')
            line++;
        size_t len = strcspn(line, "\r\n");
        snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), line);
        return;
    }
}

static void describe_file(profile_info *p)
{
    char *text = NULL;
    size_t len = 0;
    hst_settings s;
    settings_defaults(&s);
    char err[512];
    p->valid = read_file(p->path, &text, &len, err, sizeof err) == 0 &&
               profile_parse(text, len, p->path, &s, err, sizeof err) == 0;
    if (p->valid)
        profile_summary(&s, p->summary, sizeof p->summary);
    else
        snprintf(p->summary, sizeof p->summary, "does not load: %.230s", err);
    if (text)
        first_comment(text, p->description, sizeof p->description);
    free(text);
}

/* Appends the *.ini profiles of dir to the list. */
static int collect(const char *dir, int user, profile_info **list, int *n, int *cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* a missing directory holds no profiles */
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char name[PROFILE_NAME_MAX + 8];
        if (!ends_with(e->d_name, ".ini") || strlen(e->d_name) >= sizeof name)
            continue;
        name_from_path(e->d_name, name, sizeof name);
        if (!valid_name(name))
            continue;
        if (*n == *cap) {
            int grown = *cap ? 2 * *cap : 16;
            profile_info *more = realloc(*list, (size_t)grown * sizeof *more);
            if (!more) {
                closedir(d);
                return -1;
            }
            *list = more;
            *cap = grown;
        }
        profile_info *p = &(*list)[*n];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%.63s", name);
        if (join_profile_path(p->path, sizeof p->path, dir, name) != 0 || !is_regular_file(p->path))
            continue;
        p->user = user;
        describe_file(p);
        (*n)++;
    }
    closedir(d);
    return 0;
}

static int by_name_user_first(const void *a, const void *b)
{
    const profile_info *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : y->user - x->user;
}

int profile_list(profile_info **out, char *err, size_t err_size)
{
    char user[PROFILE_PATH_MAX], shipped[PROFILE_PATH_MAX], why[256];
    profile_info *list = NULL;
    int n = 0, cap = 0, rc = 0;
    if (profile_user_dir(user, sizeof user, why, sizeof why) == 0)
        rc = collect(user, 1, &list, &n, &cap);
    if (rc == 0 && profile_shipped_dir(shipped, sizeof shipped, why, sizeof why) == 0)
        rc = collect(shipped, 0, &list, &n, &cap);
    if (rc != 0) {
        free(list);
        snprintf(err, err_size, "listing profiles: out of memory");
        return -1;
    }
    if (n > 1)
        qsort(list, (size_t)n, sizeof *list, by_name_user_first);
    for (int i = 1; i < n; i++)
        if (!list[i].user && strcmp(list[i].name, list[i - 1].name) == 0)
            list[i].shadowed = 1;
    *out = list;
    return n;
}
