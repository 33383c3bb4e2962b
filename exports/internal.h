/* internal.h — shared between the .c files of exports/ and its tests only.
 * The module's interface is exports.h; nothing else includes this. */
#ifndef HSTPROF_EXPORTS_INTERNAL_H
#define HSTPROF_EXPORTS_INTERNAL_H

#include "exports/atomic.h"
#include "exports/exports.h"

#include <stdio.h>

#define EX_WHY_MAX 256

/* The member at a dotted path ("memory.rss_peak_bytes"), or NULL. */
const json_t *ex_path(const json_t *root, const char *dotted);

/* The number at a dotted path. 1 with *value when it is a number; else 0
 * with why: the "<key>_why_not" beside the missing value (or beside the
 * missing object on the way), or "not recorded in this snapshot". */
int ex_number(const json_t *root, const char *dotted, double *value, char *why, size_t why_size);

/* The string at a dotted path, or fallback. */
const char *ex_string(const json_t *root, const char *dotted, const char *fallback);

/* The number directly under key (not a path), NAN when absent: report tables. */
double ex_num(const json_t *o, const char *key);
/* The string directly under key, "" when absent. */
const char *ex_str(const json_t *o, const char *key);

/* Text built with stdio (open_memstream). */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} ex_text;

/* 0, or -1 when out of memory. */
int ex_text_open(ex_text *t);
/* The text (malloc'd), or NULL when a write ran out of memory. */
char *ex_text_close(ex_text *t);

/* A Markdown table cell: '|' escaped, newlines as spaces. */
void ex_md_cell(FILE *f, const char *text);
/* Text inside a list item or heading: newlines as spaces, so the item stays one line. */
void ex_md_inline(FILE *f, const char *text);
/* A run Ctrl-C stopped ("interrupted_after_s"): one Markdown paragraph
 * saying that its figures cover the run so far; nothing otherwise. */
void ex_md_interrupted(FILE *f, const json_t *run);

/* "## A/B Comparison" from a dashboard snapshot's "ab" object; nothing without one (ab_notes.c). */
void ex_md_ab_section(FILE *f, const json_t *snapshot);

/* "![alt](file)\n\n": a picture beside the Markdown (file relative to it). */
void ex_md_image(FILE *f, const char *alt, const char *file);

/* RFC 4180 field: quoted when it holds a comma, quote, CR or LF; inner quotes doubled. */
int ex_csv_needs_quotes(const char *field);
void ex_csv_text(FILE *f, const char *field);

/* A number in the 12-digit form CSV and JSON share, so the two agree. */
void ex_csv_number(FILE *f, double x);
/* One JSON leaf as a CSV cell: quoted text, an integer, or a real with the
 * digits the JSON has, so CSV and JSON agree; nothing for null/missing. */
void ex_csv_json_value(FILE *f, const json_t *v);
/* A header row of columns, then one row per element of report["runs"], each
 * cell written by cell(f, run, report, column); CRLF line ends (RFC 4180). */
typedef void (*ex_csv_cell_fn)(FILE *f, const json_t *run, const json_t *report, const char *column);
void ex_csv_runs(FILE *f, const json_t *report, const char *const *columns, size_t n_columns, ex_csv_cell_fn cell);
/* A report rendered in fmt: JSON as is, CSV through ex_csv_runs, Markdown by md.
 * Returns a malloc'd string, NULL when out of memory. */
char *ex_render_report(const json_t *report, export_format fmt, void (*md)(FILE *f, const json_t *report),
                       const char *const *columns, size_t n_columns, ex_csv_cell_fn cell);

#endif
