/* util.c — reading figures out of the one JSON structure, the same way for
 * every format, so that "unavailable" always carries the recorded reason. */
#include "exports/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* JSON and CSV print reals with the same 12 significant digits, so a figure
 * read back from either is the same number. */
#define EX_REAL_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))

char *export_json_render(const json_t *object)
{
    char *s = json_dumps(object, EX_REAL_FLAGS);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *out = realloc(s, n + 2);
    if (!out) {
        free(s);
        return NULL;
    }
    memcpy(out + n, "\n", 2);
    return out;
}

const json_t *ex_path(const json_t *root, const char *dotted)
{
    char key[128];
    const json_t *node = root;
    const char *p = dotted;
    while (node && *p) {
        size_t len = strcspn(p, ".");
        if (len >= sizeof key)
            return NULL;
        memcpy(key, p, len);
        key[len] = '\0';
        node = json_is_object(node) ? json_object_get(node, key) : NULL;
        p += len;
        if (*p == '.')
            p++;
    }
    return node;
}

/* The reason recorded beside key in parent, if any. */
static int why_beside(const json_t *parent, const char *key, size_t key_len, char *why, size_t why_size)
{
    char why_key[160];
    if (!json_is_object(parent) || key_len + 9 > sizeof why_key)
        return 0;
    snprintf(why_key, sizeof why_key, "%.*s_why_not", (int)key_len, key);
    const char *s = json_string_value(json_object_get(parent, why_key));
    if (!s || !*s) /* an empty reason is none: the caller says so */
        return 0;
    snprintf(why, why_size, "%s", s);
    return 1;
}

int ex_number(const json_t *root, const char *dotted, double *value, char *why, size_t why_size)
{
    const json_t *node = root;
    const char *p = dotted;
    while (*p) {
        size_t len = strcspn(p, ".");
        char key[128];
        if (len >= sizeof key)
            break;
        memcpy(key, p, len);
        key[len] = '\0';
        const json_t *next = json_is_object(node) ? json_object_get(node, key) : NULL;
        if (!next || json_is_null(next)) {
            /* The nearest reason: beside this key, e.g. "memory_why_not". */
            if (!why_beside(node, p, len, why, why_size))
                snprintf(why, why_size, "not recorded in this snapshot");
            return 0;
        }
        node = next;
        p += len;
        if (*p == '.')
            p++;
    }
    if (json_is_number(node) && isfinite(json_number_value(node))) {
        *value = json_number_value(node);
        return 1;
    }
    snprintf(why, why_size, "not a number in this snapshot");
    return 0;
}

const char *ex_string(const json_t *root, const char *dotted, const char *fallback)
{
    const char *s = json_string_value(ex_path(root, dotted));
    return s ? s : fallback;
}

int ex_text_open(ex_text *t)
{
    t->buf = NULL;
    t->len = 0;
    t->f = open_memstream(&t->buf, &t->len);
    return t->f ? 0 : -1;
}

char *ex_text_close(ex_text *t)
{
    int failed = ferror(t->f);
    if (fclose(t->f) != 0 || failed) {
        free(t->buf);
        return NULL;
    }
    return t->buf;
}

void ex_md_cell(FILE *f, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputs("\\|", f);
        else if (*p == '\n' || *p == '\r')
            fputc(' ', f);
        else
            fputc(*p, f);
    }
}

void ex_md_inline(FILE *f, const char *text)
{
    for (const char *p = text; *p; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
}

void ex_md_interrupted(FILE *f, const json_t *run)
{
    double after_s;
    char why[EX_WHY_MAX];
    if (ex_number(run, "interrupted_after_s", &after_s, why, sizeof why))
        fprintf(f, "**Interrupted after %.1f s** (Ctrl-C): every figure covers the run up to then; no quality "
                   "hash.\n\n", after_s);
}

void ex_csv_number(FILE *f, double x)
{
    fprintf(f, "%.12g", x);
}

int ex_csv_needs_quotes(const char *field)
{
    return strpbrk(field, ",\"\r\n") != NULL;
}

void export_csv_field(char *out, size_t out_size, const char *field)
{
    int needs_quotes = ex_csv_needs_quotes(field);
    size_t o = 0;
    if (out_size == 0)
        return;
    if (needs_quotes && o + 1 < out_size)
        out[o++] = '"';
    for (const char *p = field; *p && o + 2 < out_size; p++) {
        if (*p == '"')
            out[o++] = '"';
        out[o++] = *p;
    }
    if (needs_quotes && o + 1 < out_size)
        out[o++] = '"';
    out[o] = '\0';
}

void ex_csv_text(FILE *f, const char *field)
{
    int quoted = ex_csv_needs_quotes(field);
    if (quoted)
        fputc('"', f);
    for (const char *p = field; *p; p++) {
        if (*p == '"')
            fputc('"', f); /* RFC 4180: a quote inside a quoted field is doubled */
        fputc(*p, f);
    }
    if (quoted)
        fputc('"', f);
}

void ex_csv_json_value(FILE *f, const json_t *v)
{
    if (json_is_string(v))
        ex_csv_text(f, json_string_value(v));
    else if (json_is_integer(v))
        fprintf(f, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        ex_csv_number(f, json_real_value(v));
}

void ex_csv_runs(FILE *f, const json_t *report, const char *const *columns, size_t n_columns, ex_csv_cell_fn cell)
{
    for (size_t c = 0; c < n_columns; c++)
        fprintf(f, "%s%s", c ? "," : "", columns[c]);
    fputs("\r\n", f);
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(report, "runs"), i, run)
    {
        for (size_t c = 0; c < n_columns; c++) {
            if (c)
                fputc(',', f);
            cell(f, run, report, columns[c]);
        }
        fputs("\r\n", f);
    }
}

char *ex_render_report(const json_t *report, export_format fmt, void (*md)(FILE *f, const json_t *report),
                       const char *const *columns, size_t n_columns, ex_csv_cell_fn cell)
{
    if (fmt == EXPORT_JSON)
        return export_json_render(report);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    if (fmt == EXPORT_CSV)
        ex_csv_runs(f, report, columns, n_columns, cell);
    else
        md(f, report);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

double ex_num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *ex_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void ex_md_image(FILE *f, const char *alt, const char *file)
{
    /* Angle brackets keep a name with spaces or parentheses one link (CommonMark). */
    int plain = strcspn(file, " ()<>") == strlen(file);
    fprintf(f, "![%s](%s%s%s)\n\n", alt, plain ? "" : "<", file, plain ? "" : ">");
}

/* ---- unavailable figures: one reason, stated once --------------------------------- */

int ex_why_ref(ex_why_list *l, const char *why)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->why[i], why) == 0)
            return i + 1;
    if (l->n == EX_WHY_LIST_MAX)
        return 0;
    snprintf(l->why[l->n], sizeof l->why[l->n], "%s", why);
    return ++l->n;
}

void ex_na_text(ex_why_list *l, const char *why, char *buf, size_t size)
{
    const char *reason = why && *why ? why : "not recorded in this snapshot";
    int ref = ex_why_ref(l, reason);
    if (ref > 0)
        snprintf(buf, size, "n/a[%d]", ref);
    else /* the list is full: the reason in place, once more */
        snprintf(buf, size, "n/a (%s)", reason);
}

void ex_md_na(FILE *f, ex_why_list *l, const char *why)
{
    char buf[EX_WHY_MAX + 16];
    ex_na_text(l, why, buf, sizeof buf);
    ex_md_cell(f, buf);
}

void ex_md_why_list(FILE *f, const ex_why_list *l, const char *heading)
{
    if (l->n == 0)
        return;
    if (heading)
        fprintf(f, "%s\n\n", heading);
    for (int i = 0; i < l->n; i++) {
        fprintf(f, "- [%d] ", i + 1);
        ex_md_inline(f, l->why[i]);
        fputc('\n', f);
    }
    fputc('\n', f);
}

void ex_segment_id(const json_t *row, size_t index, char *buf, size_t size)
{
    const json_t *segment = json_object_get(row, "segment");
    const char *side = ex_string(row, "ab_side", "");
    if (json_is_integer(segment))
        snprintf(buf, size, "#%lld%s", (long long)json_integer_value(segment), side);
    else
        snprintf(buf, size, "%zu", index + 1);
}

int ex_read_existing(const char *path, size_t max_bytes, const char *kind, char **text, char *err, size_t err_size)
{
    *text = NULL;
    if (export_target_check(path, NULL, 0, NULL, 0) != EXPORT_TARGET_FILE)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    ex_text t;
    if (ex_text_open(&t) != 0) {
        fclose(f);
        snprintf(err, err_size, "%s: cannot read: out of memory", path);
        return -1;
    }
    char buf[65536];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 && total <= max_bytes) {
        fwrite(buf, 1, n, t.f);
        total += n;
    }
    int failed = ferror(f);
    fclose(f);
    *text = ex_text_close(&t);
    const char *why = failed                   ? "read error"
                      : !*text                 ? "out of memory"
                      : total > max_bytes      ? "too large"
                      : strlen(*text) != total ? "contains a NUL byte; not a text file"
                                               : NULL;
    if (why) {
        if (total > max_bytes)
            snprintf(err, err_size, "%s: cannot read: larger than %zu MiB; not %s", path, max_bytes >> 20, kind);
        else
            snprintf(err, err_size, "%s: cannot read: %s", path, why);
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

