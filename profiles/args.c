/* args.c — one option parser for every command, so flags behave alike
 * everywhere: --name value or --name=value, strict numbers, one-line errors
 * with a "did you mean" suggestion, --help generated from the table. */
#include "profiles/profiles.h"

#include "exports/atomic.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Every error is one line (README): the values quoted come from argv and may
 * hold a newline or other control characters (found by tests/fuzz/fuzz_args),
 * which are shown as '?'. */
static void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void print_error(const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fputs("hstprof: out of memory\n", stderr);
        return;
    }
    for (unsigned char *p = (unsigned char *)line; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    fprintf(stderr, "%s\n", line);
    free(line);
}

size_t args_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const opt_spec *closest_option(const opt_table *t, const char *name)
{
    const opt_spec *best = NULL;
    size_t best_d = 3; /* suggest only near misses */
    for (int i = 0; i < t->n_opts; i++) {
        size_t d = args_edit_distance(name, t->opts[i].name);
        if (d < best_d) {
            best_d = d;
            best = &t->opts[i];
        }
    }
    return best;
}

static void error_unknown(const opt_table *t, const char *arg, const char *name)
{
    const opt_spec *near = closest_option(t, name);
    if (near)
        print_error("%s: unknown option %s (did you mean --%s?)", t->command, arg, near->name);
    else
        print_error("%s: unknown option %s (see %s --help)", t->command, arg, t->command);
}

static int parse_value(const opt_table *t, const opt_spec *o, const char *v)
{
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case OPT_INT: {
        long x = strtol(v, &end, 10);
        if (!*v || *end || errno || x < o->min || x > o->max) {
            print_error("%s: --%s expects a whole number from %.0f to %.0f, got '%s'", t->command, o->name,
                    o->min, o->max, v);
            return -1;
        }
        *(int *)o->target = (int)x;
        return 0;
    }
    case OPT_U64: {
        if (*v == '-' || *v == '+' || *v == ' ') {
            print_error("%s: --%s expects a non-negative whole number, got '%s'", t->command, o->name, v);
            return -1;
        }
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || errno) {
            print_error("%s: --%s expects a non-negative whole number, got '%s'", t->command, o->name, v);
            return -1;
        }
        *(uint64_t *)o->target = x;
        return 0;
    }
    case OPT_FLOAT: {
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x) || x < o->min || x > o->max) {
            print_error("%s: --%s expects a number from %g to %g, got '%s'", t->command, o->name, o->min,
                    o->max, v);
            return -1;
        }
        *(double *)o->target = x;
        return 0;
    }
    case OPT_STRING:
        if (strlen(v) >= o->size) {
            print_error("%s: --%s value is too long (at most %zu bytes)", t->command, o->name, o->size - 1);
            return -1;
        }
        memcpy(o->target, v, strlen(v) + 1);
        return 0;
    case OPT_STRING_LIST: {
        opt_string_list *list = o->target;
        if (strlen(v) >= OPT_LIST_ITEM_MAX) {
            print_error("%s: --%s value is too long (at most %d bytes)", t->command, o->name, OPT_LIST_ITEM_MAX - 1);
            return -1;
        }
        if (list->n == OPT_LIST_MAX) {
            print_error("%s: --%s is given more than %d times", t->command, o->name, OPT_LIST_MAX);
            return -1;
        }
        memcpy(list->items[list->n++], v, strlen(v) + 1);
        return 0;
    }
    case OPT_FLAG:
        break;
    }
    return -1;
}

static const opt_spec *find_long(const opt_table *t, const char *name, size_t len)
{
    for (int i = 0; i < t->n_opts; i++)
        if (strlen(t->opts[i].name) == len && strncmp(t->opts[i].name, name, len) == 0)
            return &t->opts[i];
    return NULL;
}

static const opt_spec *find_short(const opt_table *t, char c)
{
    for (int i = 0; i < t->n_opts; i++)
        if (t->opts[i].short_name == c)
            return &t->opts[i];
    return NULL;
}

/* Resolves one option argument; *i advances past a separate value. */
static int parse_option(const opt_table *t, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    const opt_spec *o;
    const char *value = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        o = find_long(t, name, len);
        if (!o) {
            char buf[64];
            snprintf(buf, sizeof buf, "%.*s", (int)(len < 63 ? len : 63), name);
            error_unknown(t, arg, buf);
            return -1;
        }
        if (eq)
            value = eq + 1;
    } else {
        o = arg[2] == '\0' ? find_short(t, arg[1]) : NULL;
        if (!o) {
            error_unknown(t, arg, arg + 1);
            return -1;
        }
    }
    if (o->seen)
        *o->seen = 1;
    if (o->kind == OPT_FLAG) {
        if (value) {
            print_error("%s: --%s takes no value", t->command, o->name);
            return -1;
        }
        *(int *)o->target = 1;
        return 0;
    }
    if (!value) {
        if (*i + 1 >= argc) {
            print_error("%s: --%s needs a value (%s)", t->command, o->name, o->metavar ? o->metavar : "VALUE");
            return -1;
        }
        value = argv[++*i];
    }
    return parse_value(t, o, value);
}

const char *args_find_value(const opt_table *t, int argc, char **argv, int first, const char *name)
{
    const char *found = NULL;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0)
            break;
        if (arg[0] != '-' || arg[1] == '\0')
            continue;
        const opt_spec *o;
        const char *value = NULL;
        if (arg[1] == '-') {
            const char *long_name = arg + 2, *eq = strchr(long_name, '=');
            o = find_long(t, long_name, eq ? (size_t)(eq - long_name) : strlen(long_name));
            value = eq ? eq + 1 : NULL;
        } else {
            o = arg[2] == '\0' ? find_short(t, arg[1]) : NULL;
        }
        if (!o || o->kind == OPT_FLAG)
            continue;
        if (!value && i + 1 < argc)
            value = argv[++i]; /* skipped, so a value that looks like an option is not read as one */
        if (value && strcmp(o->name, name) == 0)
            found = value;
    }
    return found;
}

int args_parse(const opt_table *t, int argc, char **argv, int first, char **positional, int *n_positional)
{
    int np = 0;
    int only_positional = 0;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            args_print_help(t);
            return ARGS_HELP;
        }
        if (!only_positional && strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (!only_positional && arg[0] == '-' && arg[1] != '\0') {
            if (parse_option(t, argc, argv, &i) != 0)
                return ARGS_ERROR;
            continue;
        }
        if (np >= t->max_positional) {
            print_error("%s: unexpected argument '%s' (see %s --help)", t->command, arg, t->command);
            return ARGS_ERROR;
        }
        positional[np++] = argv[i];
    }
    if (n_positional)
        *n_positional = np;
    return ARGS_OK;
}

void args_print_help(const opt_table *t)
{
    printf("usage: %s\n\n%s\n\noptions:\n", t->usage, t->summary);
    for (int i = 0; i < t->n_opts; i++) {
        const opt_spec *o = &t->opts[i];
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        printf("  %-30s %s\n", left, o->help);
    }
    printf("  %-30s %s\n", "-h, --help", "show this help");
}

int args_split_list(char *buf, char **out, int max_out)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && n < max_out; tok = strtok_r(NULL, ",", &save))
        out[n++] = tok;
    return n;
}

int args_parse_int_list(const char *s, int *out, int max_out, long min, long max, char *err, size_t err_size)
{
    int n = 0;
    const char *p = s;
    if (!*p) {
        snprintf(err, err_size, "empty list");
        return -1;
    }
    for (;;) {
        char *end = NULL;
        errno = 0;
        if (*p == '+' || *p == ' ') {
            snprintf(err, err_size, "'%s' is not a comma-separated list of whole numbers", s);
            return -1;
        }
        long v = strtol(p, &end, 10);
        if (end == p || errno || (*end != ',' && *end != '\0')) {
            snprintf(err, err_size, "'%s' is not a comma-separated list of whole numbers", s);
            return -1;
        }
        if (v < min || v > max) {
            snprintf(err, err_size, "%ld is outside %ld..%ld", v, min, max);
            return -1;
        }
        if (n >= max_out) {
            snprintf(err, err_size, "more than %d values", max_out);
            return -1;
        }
        out[n++] = (int)v;
        if (*end == '\0')
            return n;
        p = end + 1;
    }
}

/* The directory part of path ("." for a bare name, "/" for "/x"). */
static void directory_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == path)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

/* The path comes from argv and may hold control characters: one line stays one. */
static int output_path_error(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int output_path_error(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    for (unsigned char *p = (unsigned char *)err; err_size > 0 && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    return -1;
}

int args_check_output_path(const char *flag, const char *path, char *err, size_t err_size)
{
    struct stat st;
    char dir[4096], file[4096], why[160];
    if (!*path)
        return output_path_error(err, err_size, "%s: the file name is empty", flag);
    switch (export_target_check(path, file, sizeof file, why, sizeof why)) {
    case EXPORT_TARGET_REFUSED:
        return output_path_error(err, err_size, "%s %s: %s", flag, path, why);
    case EXPORT_TARGET_STREAM: /* "-", a FIFO, a character device: written in place */
        return 0;
    case EXPORT_TARGET_FILE: /* the file a symbolic link names is the one replaced, in its directory */
        break;
    }
    directory_of(file, dir, sizeof dir);
    if (stat(dir, &st) != 0 && errno == ENOENT)
        return output_path_error(err, err_size, "%s %s: directory %s does not exist", flag, path, dir);
    if (stat(dir, &st) != 0)
        return output_path_error(err, err_size, "%s %s: directory %s: %s", flag, path, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return output_path_error(err, err_size, "%s %s: %s is not a directory", flag, path, dir);
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0 && (fs.f_flag & ST_RDONLY))
        return output_path_error(err, err_size, "%s %s: directory %s is on a read-only file system", flag, path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return output_path_error(err, err_size, "%s %s: cannot write in directory %s: %s", flag, path, dir,
                                 strerror(errno));
    return 0;
}

void settings_defaults(hst_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->model, sizeof s->model, "%s", SETTINGS_DEFAULT_MODEL);
    snprintf(s->affinity, sizeof s->affinity, "none");
    snprintf(s->precision, sizeof s->precision, "f32");
    snprintf(s->kernel, sizeof s->kernel, "auto");
    snprintf(s->mode, sizeof s->mode, "causal");
    snprintf(s->models, sizeof s->models, "%s", SETTINGS_DEFAULT_MODEL);
    snprintf(s->seq, sizeof s->seq, "128,256,512");
    s->n_tokens = 128;
    s->gen = 128;
    s->warmup = 2;
    s->runs = 5;
    s->delay = 1;
}
