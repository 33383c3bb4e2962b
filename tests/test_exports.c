/* test_exports.c — every export format from FIXED input (tests/golden/exports/
 * *.json: no timing, a fixed date): golden files, CSV read back with an RFC 4180
 * reader and compared figure by figure with the JSON, JSON read back with
 * jansson, every Markdown table checked for a constant column count, the
 * benchmark log's grouping and quality-hash flag, and atomic writes that fail
 * cleanly. The last tests drive the real binary ($HSTPROF, default ./hstprof).
 *
 * Regenerate the goldens after an intended change of a format:
 *     HSTPROF_UPDATE_GOLDEN=1 build/tests/test_exports
 * then review `git diff tests/golden/exports/` before committing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "exports/atomic.h"
#include "exports/exports.h"
#include "probes/json.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GOLDEN_DIR "tests/golden/exports"

static char tmpdir[256];

/* ---- files ------------------------------------------------------------------------ */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int count_occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Files in dir whose name contains ".tmp." (what a failed atomic write must not leave). */
static int temp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    const struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static json_t *fixture(const char *name)
{
    char path[256];
    json_error_t e;
    snprintf(path, sizeof path, "%s/%s", harness_source(GOLDEN_DIR), name);
    json_t *o = json_load_file(path, 0, &e);
    if (!o)
        fail_msg("%s:%d: %s", path, e.line, e.text);
    return o;
}

/* Compares text with the golden file, or rewrites it under HSTPROF_UPDATE_GOLDEN=1. */
static void check_golden(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", harness_source(GOLDEN_DIR), name);
    const char *update = getenv("HSTPROF_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        spit(path, text);
        return;
    }
    char *golden = slurp(path);
    if (!golden)
        fail_msg("%s missing: run HSTPROF_UPDATE_GOLDEN=1 build/tests/test_exports", path);
    if (strcmp(golden, text) != 0) {
        const char *a = golden, *b = text;
        int line = 1;
        while (*a && *a == *b) {
            line += *a == '\n';
            a++;
            b++;
        }
        fail_msg("%s differs at line %d: golden '%.60s' vs now '%.60s'", path, line, a, b);
    }
    free(golden);
}

/* ---- an RFC 4180 reader, written from the RFC, not from the writer ------------------ */

typedef struct {
    int n_records;
    int n_fields[64];
    char *field[64][512];
} csv_doc;

static void csv_free(csv_doc *d)
{
    for (int r = 0; r < d->n_records; r++)
        for (int c = 0; c < d->n_fields[r]; c++)
            free(d->field[r][c]);
    free(d);
}

/* One field starting at *p; returns it (malloc'd) and leaves *p on the separator. */
static char *csv_next_field(const char **p, int *ok)
{
    size_t cap = strlen(*p) + 1, n = 0;
    char *out = malloc(cap);
    const char *s = *p;
    if (*s == '"') {
        for (s++;; s++) {
            if (*s == '\0') {
                *ok = 0; /* unterminated quoted field */
                break;
            }
            if (*s == '"' && s[1] == '"') {
                out[n++] = '"';
                s++;
            } else if (*s == '"') {
                s++;
                break;
            } else {
                out[n++] = *s;
            }
        }
        if (*s != ',' && *s != '\r' && *s != '\n' && *s != '\0')
            *ok = 0; /* text after the closing quote */
    } else {
        for (; *s != ',' && *s != '\r' && *s != '\n' && *s != '\0'; s++) {
            if (*s == '"')
                *ok = 0; /* a quote in an unquoted field */
            out[n++] = *s;
        }
    }
    out[n] = '\0';
    *p = s;
    return out;
}

static csv_doc *csv_parse(const char *text)
{
    csv_doc *d = calloc(1, sizeof *d);
    const char *p = text;
    int ok = 1;
    while (*p && ok && d->n_records < 64) {
        int r = d->n_records++;
        for (;;) {
            assert_true(d->n_fields[r] < 512);
            d->field[r][d->n_fields[r]++] = csv_next_field(&p, &ok);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '\r' && p[1] == '\n')
                p += 2;
            else if (*p == '\n')
                ok = 0; /* RFC 4180 records end with CRLF */
            break;
        }
    }
    if (!ok)
        fail_msg("not RFC 4180 CSV near '%.40s'", p);
    return d;
}

/* ---- CSV columns back to JSON leaves ------------------------------------------------ */

/* The leaf a flattened column names: object keys and array element names or
 * indexes joined by '.', matched greedily so names holding '.' still resolve. */
static const json_t *resolve_column(const json_t *node, const char *path)
{
    if (*path == '\0')
        return node;
    if (json_is_object(node)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)node, key, v)
        {
            size_t len = strlen(key);
            if (strncmp(path, key, len) == 0 && (path[len] == '\0' || path[len] == '.')) {
                const json_t *hit = resolve_column(v, path + len + (path[len] == '.'));
                if (hit)
                    return hit;
            }
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v)
        {
            char index[32];
            const char *name = json_string_value(json_object_get(v, "name"));
            snprintf(index, sizeof index, "%zu", i);
            const char *id = name ? name : index;
            size_t len = strlen(id);
            if (strncmp(path, id, len) == 0 && (path[len] == '\0' || path[len] == '.')) {
                const json_t *hit = resolve_column(v, path + len + (path[len] == '.'));
                if (hit)
                    return hit;
            }
        }
    }
    return NULL;
}

static void expect_field_matches(const char *column, const char *field, const json_t *leaf)
{
    if (!leaf)
        fail_msg("column '%s' names nothing in the JSON", column);
    if (json_is_null(leaf)) {
        if (*field)
            fail_msg("column '%s': null in JSON but '%s' in CSV", column, field);
    } else if (json_is_string(leaf)) {
        if (strcmp(field, json_string_value(leaf)) != 0)
            fail_msg("column '%s': '%s' vs '%s'", column, field, json_string_value(leaf));
    } else if (json_is_number(leaf)) {
        double a = strtod(field, NULL), b = json_number_value(leaf);
        if (!*field || fabs(a - b) > 1e-11 * fmax(1, fabs(b)))
            fail_msg("column '%s': %s vs %.17g", column, field, b);
    } else if (json_is_array(leaf)) {
        char joined[4096] = "";
        size_t i;
        json_t *v;
        json_array_foreach(leaf, i, v)
        {
            size_t len = strlen(joined);
            snprintf(joined + len, sizeof joined - len, "%s%lld", i ? " " : "", (long long)json_integer_value(v));
        }
        assert_string_equal(field, joined);
    }
}

/* ---- the Markdown table checker ------------------------------------------------------- */

#define MD_CELL_MAX 64   /* characters: a cell past this makes rows wider than they need to be */
#define MD_MAX_CELLS 32

/* The words that may follow a number as its unit (or be a column's header). */
static const char *const md_units[] = {
    "ms",      "s",       "us",        "µs",     "ns",       "%",          "tok/s",  "tokens", "token",
    "MB",      "MiB",     "KiB",       "GiB",    "GB",       "KB",         "B",      "bytes",  "GB/s",
    "MB/s",    "GFLOP/s", "MFLOP/s",   "K/s",    "/s",       "x",          "CPUs",   "threads", "thread",
    "steps",   "layers",  "dimensions", "faults", "rounds",  "runs",       "cores",  "PUs",    "parameters",
    "cycles",  "instructions", "MB/token", "sequence", "tok/s)", "ms)", "(ms)", "(tok/s)", "(MB)", "(%)"};

static int md_is_unit(const char *word, size_t len)
{
    while (len > 0 && strchr(",;.)*", word[len - 1])) /* "ms," "ms)" "ms**" */
        len--;
    for (size_t i = 0; i < sizeof md_units / sizeof md_units[0]; i++)
        if (strlen(md_units[i]) == len && strncmp(md_units[i], word, len) == 0)
            return 1;
    return 0;
}

typedef struct {
    int n;
    char text[MD_MAX_CELLS][512];
} md_row;

/* Splits "| a | b \| c |" into trimmed cells ('|' escaped by a backslash stays). */
static void md_split(const char *line, size_t len, md_row *row)
{
    row->n = 0;
    size_t start = 1;
    for (size_t i = 1; i < len && row->n < MD_MAX_CELLS; i++) {
        if (line[i] != '|' || line[i - 1] == '\\')
            continue;
        size_t a = start, b = i;
        while (a < b && line[a] == ' ')
            a++;
        while (b > a && line[b - 1] == ' ')
            b--;
        snprintf(row->text[row->n++], sizeof row->text[0], "%.*s", (int)(b - a), line + a);
        start = i + 1;
    }
}

static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* A unit in a header: "(unit)" or a last word that is one ("Tokens", "Minor faults"). */
static int md_header_has_unit(const char *header)
{
    if (strchr(header, '(') && strchr(header, ')'))
        return 1;
    const char *last = strrchr(header, ' ');
    last = last ? last + 1 : header;
    char lower[64];
    snprintf(lower, sizeof lower, "%s", last);
    lower[0] = (char)(lower[0] >= 'A' && lower[0] <= 'Z' ? lower[0] + 32 : lower[0]);
    return md_is_unit(lower, strlen(lower));
}

/* Whether the number at p follows a word that makes it a name. */
static int md_after_id_word(const char *cell, const char *p)
{
    static const char *const words[] = {"seed ", "run ", "group ", "thread ", "PU ", "CPU "};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t len = strlen(words[i]);
        if ((size_t)(p - cell) >= len && strncmp(p - len, words[i], len) == 0)
            return 1;
    }
    return 0;
}

/* The first number of cell that is a figure standing without a unit, or NULL.
 * A number glued to letters, '-', ':' or '[' is part of a name (hst-v4,
 * 2026-01-01, n/a[3], 3.0GHz); otherwise one of the next two words must be a
 * unit ("39 prompt tokens"). */
static const char *md_bare_number(const char *cell)
{
    for (const char *p = cell; *p; p++) {
        if (!(*p >= '0' && *p <= '9'))
            continue;
        if (p > cell && !strchr(" (*~±", p[-1])) {
            while (p[1] >= '0' && p[1] <= '9')
                p++;
            continue;
        }
        const char *start = p;
        if (md_after_id_word(cell, p)) { /* "seed 0", "run 2": a name, not a figure */
            while (p[1] >= '0' && p[1] <= '9')
                p++;
            continue;
        }
        while ((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9'))
            p++;
        if (*p && (isalpha((unsigned char)*p) || strchr("-:[_/.,", *p)))
            continue; /* a name, a date, a reference */
        if (*p == '%' || (p[0] == '*' && p[1] == '*' && p[2] == ' ' && md_is_unit(p + 3, strcspn(p + 3, " "))))
            continue;
        const char *w = p;
        int ok = 0;
        for (int k = 0; k < 2 && *w == ' ' && !ok; k++) {
            w++;
            size_t len = strcspn(w, " ");
            ok = md_is_unit(w, len);
            w += len;
        }
        if (!ok)
            return start;
        p--;
    }
    return NULL;
}

enum { MD_STRUCTURE = 0, MD_UNITS = 1 };

/* A data row of a table: no empty cell, none too wide, and (MD_UNITS) every
 * number with its unit: in the cell, in its column's header, in a "Unit"
 * column of the row, or in the row's label. The first cell names the row. */
static void md_check_row(const char *name, int lineno, const md_row *header, const md_row *row, int rules)
{
    int unit_column = -1;
    for (int c = 0; c < header->n; c++)
        if (strcmp(header->text[c], "Unit") == 0)
            unit_column = c;
    for (int c = 0; c < row->n; c++) {
        const char *cell = row->text[c];
        if (!*cell)
            fail_msg("%s:%d: cell %d is empty (say why, or n/a[k])", name, lineno, c + 1);
        if (utf8_length(cell) > MD_CELL_MAX)
            fail_msg("%s:%d: cell %d is %zu characters (at most %d): '%s'", name, lineno, c + 1, utf8_length(cell),
                     MD_CELL_MAX, cell);
        if (!(rules & MD_UNITS) || c == 0 || md_header_has_unit(header->text[c]) ||
            (unit_column >= 0 && strcmp(row->text[unit_column], "") != 0) || md_header_has_unit(row->text[0]))
            continue;
        const char *bare = md_bare_number(cell);
        if (bare)
            fail_msg("%s:%d: column '%s': '%s' has a number without its unit", name, lineno, header->text[c], cell);
    }
}

/* Cells of a table row: '|' separators not escaped by a backslash. */
static int md_cells(const char *line, size_t len)
{
    int pipes = 0;
    for (size_t i = 0; i < len; i++)
        if (line[i] == '|' && (i == 0 || line[i - 1] != '\\'))
            pipes++;
    return pipes - 1; /* "| a | b |" has 3 pipes and 2 cells */
}

static int md_delimiter_row(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr("|-: ", line[i]))
            return 0;
    return memchr(line, '-', len) != NULL;
}

/* Every table: a header, a delimiter row, rows with the header's cell count,
 * and each data row as md_check_row wants it. Returns the number of tables. */
static int check_markdown(const char *name, const char *md, int rules)
{
    int tables = 0, expect = -1, row = 0, lineno = 0, in_fence = 0;
    md_row *header = calloc(1, sizeof *header), *cells = calloc(1, sizeof *cells);
    for (const char *line = md; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        lineno++;
        if (len >= 3 && strncmp(line, "```", 3) == 0)
            in_fence = !in_fence;
        if (!in_fence && len > 0 && line[0] == '|') {
            if (len < 2 || line[len - 1] != '|')
                fail_msg("%s:%d: a table row must end with '|'", name, lineno);
            int n = md_cells(line, len);
            if (row == 0) {
                expect = n;
                tables++;
                md_split(line, len, header);
            } else if (n != expect) {
                fail_msg("%s:%d: %d cells, the header has %d", name, lineno, n, expect);
            }
            if (row == 1 && !md_delimiter_row(line, len))
                fail_msg("%s:%d: the second row of a table must be the delimiter row", name, lineno);
            if (row >= 2) {
                md_split(line, len, cells);
                md_check_row(name, lineno, header, cells, rules);
            }
            row++;
        } else {
            if (row == 1)
                fail_msg("%s:%d: a table needs a delimiter row", name, lineno);
            row = 0;
        }
        line = nl ? nl + 1 : line + len;
    }
    free(header);
    free(cells);
    return tables;
}

/* The reports hstprof writes: tables well formed, every figure with its unit,
 * each reason for a missing figure stated once (n/a[k] and its list entry). */
static int check_markdown_tables(const char *name, const char *md)
{
    int tables = check_markdown(name, md, MD_STRUCTURE | MD_UNITS);
    for (const char *p = strstr(md, "n/a["); p; p = strstr(p + 1, "n/a[")) {
        char entry[32];
        if (!isdigit((unsigned char)p[4]))
            continue; /* "n/a[k]" in the list's explanation */
        snprintf(entry, sizeof entry, "- [%d] ", atoi(p + 4));
        if (!strstr(md, entry))
            fail_msg("%s: '%.8s' has no reason listed ('%s')", name, p, entry);
    }
    if (strstr(md, "| unavailable") || strstr(md, "unavailable: unavailable"))
        fail_msg("%s: a reason repeated in a cell instead of n/a[k]", name);
    return tables;
}

/* ---- notes ------------------------------------------------------------------------------ */

static void test_notes_golden(void **state)
{
    (void)state;
    json_t *run = fixture("run.json");
    char *md = export_notes_render(run);
    assert_non_null(md);
    check_golden("notes.md", md);
    assert_true(check_markdown_tables("notes.md", md) >= 3);
    /* The figures are the fixture's, with units; unknown ones point at their reason. */
    assert_non_null(strstr(md, "- hst-v4: **1523.8 tok/s** in the run (causal, f32, kernel avx2, 2 threads"));
    assert_non_null(strstr(md, "- True TPS (Σ tokens / Σ wall time): **1523.8 tok/s**"));
    assert_non_null(strstr(md, "- p99: **0.875 ms**"));
    assert_non_null(strstr(md, "- PSS peak: n/a[1]\n"));
    assert_non_null(strstr(md, "- [1] /proc/self/smaps_rollup: Permission denied\n"));
    assert_non_null(strstr(md, "- Share of that read ceiling (decode): n/a[2]\n"));
    assert_non_null(strstr(md, "| cycles | count | n/a[3] | n/a[3] | n/a[3] |"));
    assert_non_null(strstr(md, "| task-clock | ms | 3.000 (2.00 CPUs utilized) |"));
    /* Each reason once, however many figures it explains. */
    assert_int_equal(count_occurrences(md, "no PMU in this virtual machine"), 3); /* the summary, [3] and [4] */
    assert_int_equal(count_occurrences(md, "no ceilings measured"), 1);
    assert_null(strstr(md, "| unavailable"));
    assert_null(strstr(md, ": unavailable"));
    free(md);
    json_decref(run);
}

static void test_notes_sum_over_runs(void **state)
{
    (void)state;
    json_t *a = fixture("run.json");
    json_t *b = json_deep_copy(a);
    json_object_set_new(b, "threads", json_integer(1));
    json_object_set_new(b, "wall_ms", json_real(8.0));
    json_object_set_new(b, "decode_ms", json_real(7.0));
    json_t *snap = json_deep_copy(a);
    json_object_set_new(snap, "runs", json_pack("[O, O]", a, b));
    char *md = export_notes_render(snap);
    assert_non_null(md);
    check_golden("notes_runs.md", md);
    check_markdown_tables("notes_runs.md", md);
    assert_non_null(strstr(md, "- Runs: **2** (1, 2)"));
    assert_non_null(strstr(md, "- Tokens generated (Σ): **16 tokens**"));
    assert_non_null(strstr(md, "- Wall time (Σ, prefill + decode): **13.250 ms**"));
    assert_non_null(strstr(md, "- True TPS (Σ tokens / Σ wall time): **1207.5 tok/s**")); /* 16 / 13.25 ms */
    assert_non_null(strstr(md, "- Decode (Σ, one token per forward): **14 tokens in 10.500 ms = 1333.3 tok/s**"));
    free(md);
    json_decref(snap);
    json_decref(a);
    json_decref(b);
}

/* A dashboard snapshot (a real one, its system info and date fixed): five
 * segments of two models, the last two an A/B pair. */
static void test_dashboard_notes_golden(void **state)
{
    (void)state;
    json_t *snap = fixture("dashboard.json");
    char *md = export_notes_render(snap);
    assert_non_null(md);
    check_golden("dashboard.md", md);
    check_markdown_tables("dashboard.md", md);
    /* Each model its own best and its own sums; the shown segment named as the window. */
    assert_non_null(strstr(md, "- hst-v4: **2841.8 tok/s** in segment #1 (causal, f32, kernel avx512, 2 threads"));
    assert_non_null(strstr(md, "- hst-v6: **2678.2 tok/s** in segment #2 ("));
    assert_non_null(strstr(md, "### hst-v6\n\n- Runs: **3** (#2, #5A, #6B)\n"));
    assert_non_null(strstr(md, "over every decode step of segment #5A, the one on screen (hst-v6, causal, f32, "
                               "kernel portable, 2 threads, affinity none)"));
    assert_non_null(strstr(md, "| #6B | hst-v6 | causal | f32 | avx512 | 2 | none | B | 8608 |"));
    assert_non_null(strstr(md, "- Verdict: **B is 3.41x faster (95% CI 3.41-3.42)**"));
    assert_non_null(strstr(md, "_Memory is recorded for the whole process only: see Spatial Complexity._"));
    assert_int_equal(count_occurrences(md, "no PMU in this virtual machine"), 6); /* summary + 5 reasons */
    /* Both settings, each side's rounds, median and interval; a stopped comparison says what it kept. */
    assert_non_null(strstr(md, "| B | #6 | hst-v6 | f32 | causal | auto (avx512) | 2 | none | 260 | 2929.8 | 2846.5-2982.2 |"));
    assert_non_null(strstr(md, "- State: **running**\n"));
    free(md);
    json_object_set_new(json_object_get(snap, "ab"), "state", json_string("stopped"));
    json_object_set_new(json_object_get(snap, "ab"), "kept", json_string("B"));
    md = export_notes_render(snap);
    assert_non_null(strstr(md, "- State: **stopped**; kept: **side B**\n"));
    free(md);
    json_decref(snap);
}

/* A snapshot that knows almost nothing renders every figure as unavailable, none as 0. */
static void test_unknown_figures_are_never_zero(void **state)
{
    (void)state;
    json_t *snap = json_pack("{s:s, s:s, s:s, s:{}}", "tool", "hstprof dashboard", "model", "hst-v4", "date",
                             "2026-01-01 00:00:00 UTC", "system");
    char *md = export_notes_render(snap);
    assert_non_null(md);
    check_markdown_tables("sparse notes", md);
    assert_non_null(strstr(md, "- p50: n/a[1]\n"));
    assert_non_null(strstr(md, "- RSS peak (sampled in the window): n/a[1]\n"));
    assert_non_null(strstr(md, "Counters: n/a[1]\n"));
    assert_non_null(strstr(md, "- hst-v4: n/a["));
    assert_non_null(strstr(md, "- [1] not recorded in this snapshot\n"));
    assert_null(strstr(md, "**0"));
    assert_null(strstr(md, "| 0 |"));
    free(md);
    char *csv = export_snapshot_csv_render(snap);
    assert_non_null(csv);
    free(csv);
    json_decref(snap);
}

/* ---- snapshot CSV and JSON -------------------------------------------------------------- */

/* Columns that copy a figure of the JSON as it is, and where it is. */
static const struct {
    const char *column, *path;
} csv_copies[] = {
    {"model", "model"},
    {"arch", "config.arch"},
    {"source", "source"},
    {"mode", "mode"},
    {"precision", "precision"},
    {"kernel", "kernel"},
    {"threads", "threads"},
    {"affinity", "affinity"},
    {"prefill_ms", "prefill_ms"},
    {"decode_tokens", "decode_tokens"},
    {"decode_tok_per_s", "decode_tok_per_s"},
    {"tokens_generated", "tokens_generated"},
    {"wall_ms", "wall_ms"},
    {"latency_p50_ms", "latency.p50_ms"},
    {"latency_p99_ms", "latency.p99_ms"},
    {"kv_cache_bytes", "kv_cache_bytes"},
    {"decode_bytes_per_s", "roofline.decode.achieved_bytes_per_s"},
    {"decode_memory_level", "roofline.decode.level"},
};

/* Cells left blank by design (not a segment, not an A/B side, not interrupted). */
static int csv_blank_by_design(const char *column)
{
    return strcmp(column, "segment") == 0 || strncmp(column, "ab_", 3) == 0 ||
           strcmp(column, "interrupted_after_s") == 0 || strcmp(column, "profile") == 0;
}

static int csv_column(const csv_doc *d, const char *name)
{
    for (int c = 0; c < d->n_fields[0]; c++)
        if (strcmp(d->field[0][c], name) == 0)
            return c;
    fail_msg("no column '%s'", name);
    return -1;
}

/* Every record has the header's fields; the figures copied are the JSON's;
 * an empty cell is blank by design or named in the row's "unavailable". */
static void check_csv_rows(const csv_doc *d, const json_t *const *rows)
{
    int unavailable = csv_column(d, "unavailable");
    assert_int_equal(unavailable, d->n_fields[0] - 1);
    for (int r = 1; r < d->n_records; r++) {
        assert_int_equal(d->n_fields[r], d->n_fields[0]);
        for (size_t k = 0; k < sizeof csv_copies / sizeof csv_copies[0]; k++) {
            const json_t *leaf = resolve_column(rows[r - 1], csv_copies[k].path);
            expect_field_matches(csv_copies[k].column, d->field[r][csv_column(d, csv_copies[k].column)],
                                 leaf ? leaf : json_null());
        }
        for (int c = 0; c < unavailable; c++) {
            char named[160];
            snprintf(named, sizeof named, "%s", d->field[0][c]);
            const char *why = d->field[r][unavailable];
            const char *at = strstr(why, named);
            int listed = at && (at == why || at[-1] == ' ') && strchr(",:", at[strlen(named)]);
            if (!d->field[r][c][0] && !csv_blank_by_design(named) && !listed)
                fail_msg("row %d: '%s' is empty and 'unavailable' does not say why: '%s'", r, named, why);
            if (d->field[r][c][0] && listed)
                fail_msg("row %d: '%s' has a value and a reason", r, named);
        }
    }
}

static void test_snapshot_csv_golden_and_read_back(void **state)
{
    (void)state;
    json_t *run = fixture("run.json");
    char *csv = export_snapshot_csv_render(run);
    assert_non_null(csv);
    check_golden("snapshot.csv", csv);
    csv_doc *d = csv_parse(csv);
    assert_int_equal(d->n_records, 2); /* a header and the run's row */
    assert_true(strncmp(csv, export_csv_header(), strlen(export_csv_header())) == 0);
    const json_t *rows[] = {run};
    check_csv_rows(d, rows);
    /* Counters as perf stat shows them: task-clock in ms, and the CPUs it kept busy. */
    assert_string_equal(d->field[1][csv_column(d, "decode_task_clock_ms")], "7");
    assert_string_equal(d->field[1][csv_column(d, "decode_cpus_utilized")], "2");
    assert_string_equal(d->field[1][csv_column(d, "prefill_page_faults")], "162");
    assert_string_equal(d->field[1][csv_column(d, "decode_cycles")], "");
    assert_non_null(strstr(d->field[1][csv_column(d, "unavailable")],
                           "prefill_cycles, prefill_instructions, decode_cycles, decode_instructions: hardware "
                           "counters unavailable: no PMU in this virtual machine"));
    /* The source holds a comma, quotes and a newline: quoted, and read back intact. */
    assert_string_equal(d->field[1][csv_column(d, "source")], "/models/v4, \"tuned\"\nfinal.safetensors");
    csv_free(d);
    free(csv);
    json_decref(run);
}

/* The dashboard's CSV: a row per segment, with its id as on screen, and the
 * A/B verdict on the rows of its two sides. */
static void test_dashboard_csv_has_a_row_per_segment(void **state)
{
    (void)state;
    json_t *snap = fixture("dashboard.json");
    char *csv = export_snapshot_csv_render(snap);
    assert_non_null(csv);
    csv_doc *d = csv_parse(csv);
    const json_t *runs = json_object_get(snap, "runs");
    assert_int_equal(d->n_records, 1 + (int)json_array_size(runs));
    const json_t *rows[8];
    for (size_t i = 0; i < json_array_size(runs); i++)
        rows[i] = json_array_get(runs, i);
    check_csv_rows(d, rows);
    static const char *const ids[] = {"#0", "#1", "#2", "#5A", "#6B"};
    int segment = csv_column(d, "segment"), verdict = csv_column(d, "ab_verdict");
    int median = csv_column(d, "ab_median_tok_per_s");
    for (int r = 1; r < d->n_records; r++) {
        assert_string_equal(d->field[r][segment], ids[r - 1]);
        assert_int_equal(d->field[r][verdict][0] != '\0', r >= 4);
    }
    assert_true(strtod(d->field[4][median], NULL) < strtod(d->field[5][median], NULL)); /* A's, then B's */
    assert_string_equal(d->field[1][csv_column(d, "rss_peak_bytes")], "");
    assert_non_null(strstr(d->field[1][csv_column(d, "unavailable")], "memory is recorded for the whole process"));
    csv_free(d);
    free(csv);
    json_decref(snap);
}

/* One header whatever the run: threads, probes, events and segments change
 * the rows, never the columns. */
static void test_csv_columns_are_fixed(void **state)
{
    (void)state;
    json_t *run = fixture("run.json"), *dash = fixture("dashboard.json");
    json_t *bare = json_pack("{s:s, s:s}", "tool", "hstprof run", "model", "hst-v4");
    json_t *three = json_deep_copy(run);
    json_object_set_new(three, "threads", json_integer(3));
    json_object_del(three, "counters");
    json_object_set_new(three, "counters_why_not", json_string("--no-probes"));
    json_object_del(three, "memory");
    const json_t *cases[] = {run, dash, bare, three};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *csv = export_snapshot_csv_render(cases[i]);
        assert_non_null(csv);
        const char *header = export_csv_header();
        if (strncmp(csv, header, strlen(header)) != 0 || strncmp(csv + strlen(header), "\r\n", 2) != 0)
            fail_msg("case %zu: another header: %.80s", i, csv);
        free(csv);
    }
    csv_doc *d = csv_parse(export_csv_header());
    assert_true(d->n_fields[0] < 100);
    csv_free(d);
    json_decref(run);
    json_decref(dash);
    json_decref(bare);
    json_decref(three);
}

/* The README documents every column (its "CSV columns" table). */
static void test_readme_documents_every_csv_column(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/README.md", harness_source("."));
    char *readme = slurp(path);
    assert_non_null(readme);
    csv_doc *d = csv_parse(export_csv_header());
    for (int c = 0; c < d->n_fields[0]; c++) {
        char cell[160];
        snprintf(cell, sizeof cell, "`%s`", d->field[0][c]);
        if (!strstr(readme, cell))
            fail_msg("README.md does not document the CSV column %s", cell);
    }
    csv_free(d);
    free(readme);
}

static void test_snapshot_json_golden_and_read_back(void **state)
{
    (void)state;
    json_t *run = fixture("run.json");
    char *text = export_snapshot_render(run, EXPORT_JSON);
    assert_non_null(text);
    check_golden("snapshot.json", text);
    json_error_t e;
    json_t *back = json_loads(text, 0, &e);
    assert_non_null(back);
    assert_true(json_equal(back, run));
    json_decref(back);
    free(text);
    json_decref(run);
}

/* ---- trace -------------------------------------------------------------------------------- */

static void test_trace_csv_golden_and_read_back(void **state)
{
    (void)state;
    json_t *trace = fixture("trace.json");
    char *csv = export_trace_render(trace);
    assert_non_null(csv);
    check_golden("trace.csv", csv);
    csv_doc *d = csv_parse(csv);
    assert_int_equal(d->n_records, 4);
    for (int r = 1; r < d->n_records; r++)
        assert_int_equal(d->n_fields[r], d->n_fields[0]);
    assert_int_equal(d->n_fields[0], 8 + 5 + 2);
    assert_string_equal(d->field[0][2], "mode");
    assert_string_equal(d->field[0][9], "section.bottom.0_ns");
    assert_string_equal(d->field[0][14], "counter.cycles, \"ref\"_delta");
    assert_string_equal(d->field[1][1], "prefill");
    for (int r = 1; r < d->n_records; r++)
        assert_string_equal(d->field[r][2], "causal"); /* every row says which mode ran */
    assert_string_equal(d->field[2][7], "500000");
    assert_string_equal(d->field[2][13], "1000000");
    assert_string_equal(d->field[2][14], ""); /* not counted: empty, never 0 */
    csv_free(d);
    free(csv);
    json_decref(trace);
}

/* ---- bench report ---------------------------------------------------------------------------- */

static void test_bench_report_golden(void **state)
{
    (void)state;
    json_t *report = fixture("bench.json");
    char *md = export_bench_render(report, EXPORT_MD);
    char *csv = export_bench_render(report, EXPORT_CSV);
    assert_non_null(md);
    assert_non_null(csv);
    check_golden("bench.md", md);
    check_golden("bench.csv", csv);
    /* The bench report's tables have their units in the title lines. */
    assert_true(check_markdown("bench.md", md, MD_STRUCTURE) >= 3);
    csv_doc *d = csv_parse(csv);
    assert_int_equal(d->n_records, 1 + 12); /* 2 models x 2 thread counts x (pp128, pp256, tg128) */
    const json_t *runs = json_object_get(report, "runs");
    for (int r = 1; r < d->n_records; r++) {
        assert_int_equal(d->n_fields[r], d->n_fields[0]);
        /* Every column that is a key of the run agrees with the JSON. */
        const json_t *run = json_array_get(runs, (size_t)r - 1);
        for (int c = 0; c < d->n_fields[0]; c++) {
            const json_t *leaf = json_object_get(run, d->field[0][c]);
            if (leaf)
                expect_field_matches(d->field[0][c], d->field[r][c], leaf);
        }
    }
    csv_free(d);
    free(md);
    free(csv);
    json_decref(report);
}

/* ---- benchmark log --------------------------------------------------------------------------- */

static json_t *variant(const json_t *base, const char *date, const char *hash, double decode_tok_per_s)
{
    json_t *o = json_deep_copy(base);
    json_object_set_new(o, "date", json_string(date));
    json_object_set_new(o, "quality_hash", json_string(hash));
    json_object_set_new(o, "decode_tok_per_s", json_real(decode_tok_per_s));
    return o;
}

static void test_log_groups_by_title_and_flags_hash_change(void **state)
{
    (void)state;
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/BENCHMARKS.md", tmpdir);
    unlink(path);
    json_t *run = fixture("run.json");
    json_t *before = variant(run, "2026-01-01 05:06:38 UTC", "3895ad4add71cff0", 2000);
    json_t *other = variant(run, "2026-01-01 05:08:27 UTC", "3895ad4add71cff0", 2100);
    json_t *after = variant(run, "2026-01-01 05:14:11 UTC", "bcbb65bac1fd4a96", 2200);
    assert_int_equal(export_log_append(path, before, "Baseline", "Before the fused loop", err, sizeof err), 0);
    assert_int_equal(export_log_append(path, other, "Shader Opt 1", "Reordered state access", err, sizeof err), 0);
    assert_int_equal(export_log_append(path, after, "Baseline", "After the fused loop", err, sizeof err), 0);
    char *log = slurp(path);
    check_golden("log.md", log);
    check_markdown_tables("log.md", log);
    assert_int_equal(count_occurrences(log, "## Baseline\n"), 1);
    assert_int_equal(count_occurrences(log, "### "), 3);
    /* Before and after sit together, above the other title. */
    const char *after_entry = strstr(log, "After the fused loop");
    assert_non_null(after_entry);
    assert_true(after_entry < strstr(log, "## Shader Opt 1"));
    assert_true(strstr(log, "Before the fused loop") < after_entry);
    /* Flagged against the newest entry, whatever its title. */
    assert_int_equal(count_occurrences(log, "**Quality hash changed**"), 1);
    assert_non_null(strstr(log, "**Quality hash changed**: was 3895ad4add71cff0, now bcbb65bac1fd4a96 "
                                "(entry \"Shader Opt 1\")"));
    assert_non_null(strstr(log, "[33, 3319, 153, 129, 33, 3319, 153, 129, 33, 3319, 153, 129, 33, 3319, 153, 129]"));
    assert_int_equal(temp_files_in(tmpdir), 0);
    free(log);
    json_decref(before);
    json_decref(other);
    json_decref(after);
    json_decref(run);
}

static void test_log_ignores_headings_in_code_blocks(void **state)
{
    (void)state;
    json_t *run = fixture("run.json");
    char err[256];
    const char *existing = "# Benchmark Results\n\n```\n## Baseline\n```\n";
    char *log = export_log_render(existing, run, "Baseline", NULL, err, sizeof err);
    assert_non_null(log);
    /* The fenced one is not a heading: a real one is appended. */
    assert_int_equal(count_occurrences(log, "## Baseline\n"), 2);
    assert_non_null(strstr(log, "```\n\n## Baseline\n\n### 2026-01-01 05:06:38 UTC\n"));
    free(log);
    json_decref(run);
}

/* An entry of an interrupted run: each missing figure n/a[k], each reason once,
 * listed under the table. */
static void test_log_entry_states_each_reason_once(void **state)
{
    (void)state;
    json_t *run = fixture("run.json");
    const char *why = "interrupted (SIGINT) before the quality check";
    json_object_set_new(run, "quality_hash", json_null());
    json_object_set_new(run, "quality_hash_why_not", json_string(why));
    json_object_del(run, "quality_tokens");
    json_object_set_new(run, "quality_tokens_why_not", json_string(why));
    json_object_set_new(run, "decode_tok_per_s", json_null());
    json_object_set_new(run, "decode_tok_per_s_why_not", json_string("interrupted before the first decode step"));
    char err[256];
    char *log = export_log_render(NULL, run, "Interrupted", NULL, err, sizeof err);
    assert_non_null(log);
    check_markdown_tables("interrupted log", log);
    assert_non_null(strstr(log, "| **Generation** | n/a[1] |\n| Quality Hash | n/a[2] |\n\n_Unavailable:_\n\n"
                                "- [1] interrupted before the first decode step\n- [2] " ));
    assert_non_null(strstr(log, "Quality tokens: n/a[2]\n"));
    assert_int_equal(count_occurrences(log, why), 1);
    free(log);
    json_decref(run);
}

static void test_log_rejects_bad_titles(void **state)
{
    (void)state;
    json_t *run = fixture("run.json");
    char err[256];
    assert_null(export_log_render(NULL, run, "two\nlines", "x", err, sizeof err));
    assert_string_equal(err, "--title must be one line");
    assert_null(export_log_render(NULL, run, "", "x", err, sizeof err));
    assert_string_equal(err, "--title is empty");
    assert_null(export_log_render(NULL, run, "t", "a\rb", err, sizeof err));
    assert_string_equal(err, "--change must be one line");
    json_decref(run);
}

/* ---- atomic writes ------------------------------------------------------------------------------ */

static void expect_one_line_error(const char *err, const char *path)
{
    assert_int_equal(harness_count_lines(err), 0);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot write"));
}

static void test_atomic_write_failures_leave_nothing(void **state)
{
    (void)state;
    char path[600], err[800], dir[512];
    snprintf(path, sizeof path, "%s/missing/notes.md", tmpdir);
    assert_int_equal(export_write_atomic(path, "x", 1, err, sizeof err), -1);
    expect_one_line_error(err, path);
    assert_non_null(strstr(err, "No such file or directory"));
    /* The target is a directory: the rename fails, the temp file goes. */
    snprintf(dir, sizeof dir, "%s/a-directory", tmpdir);
    mkdir(dir, 0755);
    assert_int_equal(export_write_atomic(dir, "x", 1, err, sizeof err), -1);
    expect_one_line_error(err, dir);
    assert_int_equal(temp_files_in(tmpdir), 0);
    /* A read-only directory (root writes anyway, so only as a user). */
    if (geteuid() != 0) {
        snprintf(dir, sizeof dir, "%s/read-only", tmpdir);
        mkdir(dir, 0555);
        snprintf(path, sizeof path, "%s/notes.md", dir);
        assert_int_equal(export_write_atomic(path, "x", 1, err, sizeof err), -1);
        expect_one_line_error(err, path);
        assert_false(harness_file_exists(path));
        assert_int_equal(temp_files_in(dir), 0);
        chmod(dir, 0755);
    }
    rmdir(dir);
}

static void test_snapshot_files_all_or_nothing(void **state)
{
    (void)state;
    json_t *run = fixture("run.json");
    char paths[EXPORT_SNAPSHOT_FILES][1024], err[512], dir[512];
    snprintf(dir, sizeof dir, "%s/snap", tmpdir);
    mkdir(dir, 0755);
    assert_int_equal(export_snapshot_files(run, NULL, dir, "s1", paths, err, sizeof err), 0);
    /* The files are the snapshot's renderings, which name the plots beside them. */
    json_t *named = json_deep_copy(run);
    json_object_set_new(named, "plots", json_pack("{s:s, s:s}", "latency", "s1-latency.svg", "throughput",
                                                  "s1-throughput.svg"));
    for (int i = 0; i < 5; i++) {
        char *written = slurp(paths[i]);
        char *expected = i == 0   ? export_snapshot_render(named, EXPORT_MD)
                         : i == 1 ? export_snapshot_render(named, EXPORT_CSV)
                         : i == 2 ? export_snapshot_render(named, EXPORT_JSON)
                         : i == 3 ? export_latency_plot_svg(named)
                                  : export_throughput_plot_svg(named);
        assert_non_null(written);
        assert_string_equal(written, expected);
        free(written);
        free(expected);
    }
    assert_string_equal(paths[5], ""); /* no trace given, none written */
    json_decref(named);
    /* s2.json is in the way as a directory: none of the three appears. */
    char blocker[600], md[600], csv[600];
    snprintf(blocker, sizeof blocker, "%s/s2.json", dir);
    mkdir(blocker, 0755);
    assert_int_equal(export_snapshot_files(run, NULL, dir, "s2", paths, err, sizeof err), -1);
    expect_one_line_error(err, blocker);
    snprintf(md, sizeof md, "%s/s2.md", dir);
    snprintf(csv, sizeof csv, "%s/s2.csv", dir);
    assert_false(harness_file_exists(md));
    assert_false(harness_file_exists(csv));
    assert_int_equal(temp_files_in(dir), 0);
    /* A missing directory: one line, and the snapshot is untouched for a retry. */
    json_t *copy = json_deep_copy(run);
    assert_int_equal(export_snapshot_files(run, NULL, "/nonexistent/dir", "s3", paths, err, sizeof err), -1);
    expect_one_line_error(err, "/nonexistent/dir/s3.md");
    assert_true(json_equal(copy, run));
    json_decref(copy);
    json_decref(run);
}

/* ---- small pieces ----------------------------------------------------------------------------------- */

static void test_format_from_path(void **state)
{
    (void)state;
    export_format f;
    assert_int_equal(export_format_from_path("notes.md", &f), 0);
    assert_int_equal(f, EXPORT_MD);
    assert_int_equal(export_format_from_path("a/b.csv", &f), 0);
    assert_int_equal(f, EXPORT_CSV);
    assert_int_equal(export_format_from_path("x.json", &f), 0);
    assert_int_equal(f, EXPORT_JSON);
    assert_int_equal(export_format_from_path("notes.txt", &f), -1);
    assert_int_equal(export_format_from_path("dir.md/notes", &f), -1);
}

static void test_system_info_has_every_field_or_a_reason(void **state)
{
    (void)state;
    json_t *s = probes_system_json();
    assert_non_null(s);
    static const char *const keys[] = {"cpu_model", "cores", "pus", "l3_total_bytes", "caches", "mem_total_bytes",
                                       "os", "kernel", "compiler", "git_commit"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *v = json_object_get(s, keys[i]);
        char why[64];
        snprintf(why, sizeof why, "%s_why_not", keys[i]);
        if (!v || (json_is_null(v) && !json_is_string(json_object_get(s, why))))
            fail_msg("system info: %s neither known nor explained", keys[i]);
    }
    assert_true(strlen(json_string_value(json_object_get(s, "git_commit"))) > 0);
    json_decref(s);
}

/* ---- through the binary ------------------------------------------------------------------------------ */

/* "$HSTPROF <args>", captured. */
static cli_result run_cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cli_result run_cli(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return harness_run(tmpdir, "%s", args);
}

static void test_cli_run_exports_every_format(void **state)
{
    (void)state;
    const char *ext[] = {"md", "csv", "json"};
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/notes.%s", tmpdir, ext[i]);
        cli_result r = run_cli("run -n 6 -t 1 --prompt-tokens 1,2,3 -q --export %s", path);
        if (r.status != 0)
            fail_msg("run --export %s: status %d, stderr '%s'", path, r.status, r.err);
        harness_done(&r);
        char *text = slurp(path);
        assert_non_null(text);
        if (i == 0) {
            check_markdown_tables(path, text);
            assert_non_null(strstr(text, "# Performance Notes"));
            assert_non_null(strstr(text, "- Tokens generated (Σ): **6 tokens**"));
        } else if (i == 1) {
            csv_doc *d = csv_parse(text);
            assert_int_equal(d->n_records, 2);
            assert_int_equal(d->n_fields[0], d->n_fields[1]);
            csv_free(d);
        } else {
            json_t *o = json_loads(text, 0, NULL);
            assert_non_null(o);
            assert_int_equal(json_integer_value(json_object_get(o, "tokens_generated")), 6);
            assert_int_equal(json_integer_value(json_object_get(o, "decode_tokens")), 5);
            assert_non_null(json_object_get(o, "system"));
            json_decref(o);
        }
        free(text);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/notes.txt", tmpdir);
    cli_result r = run_cli("run -n 2 -q --export %s --export-format json", path);
    assert_int_equal(r.status, 0);
    harness_done(&r);
    char *text = slurp(path);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    assert_non_null(o);
    json_decref(o);
    free(text);
}

/* --export repeated: every file from one run (the same quality hash in
 * each), written together. */
static void test_cli_run_writes_every_export_given(void **state)
{
    (void)state;
    char md[512], csv[512], js[512];
    snprintf(md, sizeof md, "%s/one-run.md", tmpdir);
    snprintf(csv, sizeof csv, "%s/one-run.csv", tmpdir);
    snprintf(js, sizeof js, "%s/one-run.json", tmpdir);
    cli_result r = run_cli("run -n 6 -t 1 -q --export %s --export %s --export %s", md, csv, js);
    if (r.status != 0)
        fail_msg("status %d, stderr '%s'", r.status, r.err);
    harness_done(&r);
    char *md_text = slurp(md), *csv_text = slurp(csv), *json_text = slurp(js);
    assert_non_null(md_text);
    assert_non_null(csv_text);
    assert_non_null(json_text);
    json_t *o = json_loads(json_text, 0, NULL);
    assert_non_null(o);
    const char *hash = json_string_value(json_object_get(o, "quality_hash"));
    assert_non_null(hash);
    assert_non_null(strstr(md_text, hash));
    assert_non_null(strstr(csv_text, hash));
    json_decref(o);
    free(md_text);
    free(csv_text);
    free(json_text);
    /* Twice the same file, or --export-format for several: refused before the run. */
    const char *refused[] = {"--export %s/twice.md --export %s/./twice.md",
                             "--export %s/a.md --export %s/a.csv --export-format md"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char args[1200];
        snprintf(args, sizeof args, refused[i], tmpdir, tmpdir);
        r = run_cli("run -n 2 -q %s", args);
        if (r.status != 2 || harness_count_lines(r.err) != 1)
            fail_msg("'%s': status %d, stderr '%s' (want 2 and one line)", args, r.status, r.err);
        harness_done(&r);
    }
}

static void test_cli_run_log_and_trace(void **state)
{
    (void)state;
    char log[512], trace[512];
    snprintf(log, sizeof log, "%s/cli-BENCHMARKS.md", tmpdir);
    snprintf(trace, sizeof trace, "%s/trace.csv", tmpdir);
    unlink(log);
    for (int i = 0; i < 2; i++) {
        cli_result r = run_cli("run -n 5 -t 1 -q --log %s --title 'Same title' --change 'pass %d' --trace %s", log, i,
                           trace);
        if (r.status != 0)
            fail_msg("run --log: status %d, stderr '%s'", r.status, r.err);
        harness_done(&r);
    }
    char *text = slurp(log);
    assert_non_null(text);
    assert_int_equal(count_occurrences(text, "## Same title\n"), 1);
    assert_int_equal(count_occurrences(text, "### "), 2);
    assert_int_equal(count_occurrences(text, "**Quality hash changed**"), 0); /* same model, same hash */
    check_markdown_tables(log, text);
    free(text);
    text = slurp(trace);
    assert_non_null(text);
    csv_doc *d = csv_parse(text);
    assert_int_equal(d->n_records, 1 + 5); /* the prefill and four decode steps */
    for (int r = 1; r < d->n_records; r++)
        assert_int_equal(d->n_fields[r], d->n_fields[0]);
    assert_string_equal(d->field[1][1], "prefill");
    assert_string_equal(d->field[2][1], "decode");
    assert_string_equal(d->field[0][2], "mode");
    assert_string_equal(d->field[1][2], "causal");
    assert_string_equal(d->field[0][8], "section.embed_ns");
    csv_free(d);
    free(text);
}

/* Every Markdown the tool writes, from real runs of several shapes (prefill
 * only, no probes, threads pinned, a soak run, a log entry), passes the
 * table checker; the bench and layerbench reports keep well-formed tables. */
static void test_cli_every_markdown_passes_the_checker(void **state)
{
    (void)state;
    static const struct {
        const char *args, *file;
        int rules;
    } cases[] = {
        {"run -n 0 -q --export %s", "prefill-only.md", MD_UNITS},
        {"run -n 1 -q --no-probes --export %s", "no-probes.md", MD_UNITS},
        {"run -n 8 -t 2 --oversubscribe --affinity compact -q --export %s", "pinned.md", MD_UNITS},
        {"run --duration 1 -t 1 -q --export %s", "soak.md", MD_UNITS},
        {"run -n 0 -q --log %s --title 'prefill only'", "log-n0.md", MD_UNITS},
        {"bench --models hst-v4 --seq 16 --threads 1 --warmup 0 --runs 2 -o %s", "bench.md", MD_STRUCTURE},
        {"layerbench --seq 16 --runs 1 --warmup 0 -o %s", "layerbench.md", MD_STRUCTURE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], args[1024];
        snprintf(path, sizeof path, "%s/%s", tmpdir, cases[i].file);
        snprintf(args, sizeof args, cases[i].args, path);
        cli_result r = run_cli("%s", args);
        if (r.status != 0)
            fail_msg("%s: status %d, stderr '%s'", args, r.status, r.err);
        harness_done(&r);
        char *md = slurp(path);
        assert_non_null(md);
        if (cases[i].rules & MD_UNITS)
            check_markdown_tables(path, md);
        else
            check_markdown(path, md, MD_STRUCTURE);
        free(md);
    }
}

/* --export onto an existing CSV appends the run's row under the one header,
 * whatever threads or probes; a CSV with other columns is refused before
 * the run (exit 2, one line) and left as it was. */
static void test_cli_run_csv_appends_rows(void **state)
{
    (void)state;
    char path[512], other[512];
    snprintf(path, sizeof path, "%s/runs.csv", tmpdir);
    snprintf(other, sizeof other, "%s/other.csv", tmpdir);
    unlink(path);
    const char *runs[] = {"-n 4 -t 1", "-n 3 -t 2 --oversubscribe --no-probes", "-n 2 -t 1 --events task-clock"};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        cli_result r = run_cli("run %s -q --export %s", runs[i], path);
        if (r.status != 0)
            fail_msg("run %s: status %d, stderr '%s'", runs[i], r.status, r.err);
        harness_done(&r);
    }
    char *text = slurp(path);
    assert_non_null(text);
    assert_int_equal(count_occurrences(text, export_csv_header()), 1);
    csv_doc *d = csv_parse(text);
    assert_int_equal(d->n_records, 1 + 3);
    int threads = csv_column(d, "threads"), tokens = csv_column(d, "tokens_generated");
    static const char *const want_threads[] = {"1", "2", "1"}, *const want_tokens[] = {"4", "3", "2"};
    for (int r = 1; r < d->n_records; r++) {
        assert_int_equal(d->n_fields[r], d->n_fields[0]);
        assert_string_equal(d->field[r][threads], want_threads[r - 1]);
        assert_string_equal(d->field[r][tokens], want_tokens[r - 1]);
    }
    csv_free(d);
    free(text);
    /* Another CSV: refused before any work, untouched. */
    spit(other, "x,y\r\n1,2\r\n");
    cli_result r = run_cli("run -n 2 -q --export %s", other);
    if (r.status != 2 || harness_count_lines(r.err) != 1 || !strstr(r.err, "hstprof run: --export") ||
        !strstr(r.err, "no row is appended"))
        fail_msg("status %d, stderr '%s' (want 2 and one line)", r.status, r.err);
    harness_done(&r);
    text = slurp(other);
    assert_string_equal(text, "x,y\r\n1,2\r\n");
    free(text);
    /* An empty file is a new one: the header, then the row. */
    spit(other, "");
    r = run_cli("run -n 2 -q --export %s", other);
    assert_int_equal(r.status, 0);
    harness_done(&r);
    text = slurp(other);
    assert_true(strncmp(text, export_csv_header(), strlen(export_csv_header())) == 0);
    d = csv_parse(text);
    assert_int_equal(d->n_records, 2);
    csv_free(d);
    free(text);
}

/* An export into a directory that does not exist is a bad setting: found
 * before the run (issue 7), exit 2, one line, nothing written. */
static void test_cli_export_failures_exit_2_with_one_line(void **state)
{
    (void)state;
    const char *cases[] = {"--export %s/missing/notes.md", "--log %s/missing/B.md --title t",
                           "--trace %s/missing/t.csv"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[600];
        snprintf(args, sizeof args, cases[i], tmpdir);
        cli_result r = run_cli("run -n 2 -q %s", args);
        if (r.status != 2 || harness_count_lines(r.err) != 1 || !strstr(r.err, "does not exist"))
            fail_msg("'%s': status %d, stderr '%s' (want 2 and one line)", args, r.status, r.err);
        harness_done(&r);
    }
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing", tmpdir);
    assert_false(harness_file_exists(missing));
    /* Usage errors: 2 and one line. */
    const char *usage[] = {"--export notes.txt", "--export-format xml --export a.md", "--log B.md",
                           "--title t", "--log B.md --title \"$(printf 'a\\nb')\""};
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        cli_result r = run_cli("run -n 2 -q %s", usage[i]);
        if (r.status != 2 || harness_count_lines(r.err) != 1)
            fail_msg("'%s': status %d, stderr '%s' (want 2 and one line)", usage[i], r.status, r.err);
        harness_done(&r);
    }
}

static int setup(void **state)
{
    (void)state;
    return harness_make_tmpdir(tmpdir, sizeof tmpdir, "exports");
}

static int teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notes_golden),
        cmocka_unit_test(test_notes_sum_over_runs),
        cmocka_unit_test(test_dashboard_notes_golden),
        cmocka_unit_test(test_unknown_figures_are_never_zero),
        cmocka_unit_test(test_snapshot_csv_golden_and_read_back),
        cmocka_unit_test(test_dashboard_csv_has_a_row_per_segment),
        cmocka_unit_test(test_csv_columns_are_fixed),
        cmocka_unit_test(test_readme_documents_every_csv_column),
        cmocka_unit_test(test_snapshot_json_golden_and_read_back),
        cmocka_unit_test(test_trace_csv_golden_and_read_back),
        cmocka_unit_test(test_bench_report_golden),
        cmocka_unit_test(test_log_groups_by_title_and_flags_hash_change),
        cmocka_unit_test(test_log_ignores_headings_in_code_blocks),
        cmocka_unit_test(test_log_entry_states_each_reason_once),
        cmocka_unit_test(test_log_rejects_bad_titles),
        cmocka_unit_test(test_atomic_write_failures_leave_nothing),
        cmocka_unit_test(test_snapshot_files_all_or_nothing),
        cmocka_unit_test(test_format_from_path),
        cmocka_unit_test(test_system_info_has_every_field_or_a_reason),
        cmocka_unit_test(test_cli_run_exports_every_format),
        cmocka_unit_test(test_cli_run_writes_every_export_given),
        cmocka_unit_test(test_cli_run_log_and_trace),
        cmocka_unit_test(test_cli_every_markdown_passes_the_checker),
        cmocka_unit_test(test_cli_run_csv_appends_rows),
        cmocka_unit_test(test_cli_export_failures_exit_2_with_one_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
