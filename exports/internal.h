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


/* Reasons a report could not give a figure, each stated once: cells and
 * bullets carry "n/a[k]", and the list at the end says what k means. */
#define EX_WHY_LIST_MAX 48
typedef struct {
    int n;
    char why[EX_WHY_LIST_MAX][EX_WHY_MAX];
} ex_why_list;

/* The 1-based number of why in the list (added when new), 0 when full. */
int ex_why_ref(ex_why_list *l, const char *why);
/* "n/a[k]" for why (a full list: "n/a (why)"). */
void ex_na_text(ex_why_list *l, const char *why, char *buf, size_t size);
/* ex_na_text as a table cell or inline text. */
void ex_md_na(FILE *f, ex_why_list *l, const char *why);
/* "heading\n\n- [1] why\n..." when the list has any; nothing otherwise. */
void ex_md_why_list(FILE *f, const ex_why_list *l, const char *heading);
/* "## A/B Comparison" from a dashboard snapshot's "ab" object; nothing without one (ab_notes.c). */
void ex_md_ab_section(FILE *f, const json_t *snapshot, ex_why_list *whys);

/* The text of a file a report adds to (a log, a CSV): *text NULL when it
 * does not exist yet, or is not a file to read back: a stream ("-", a FIFO,
 * a device) gets the new part alone (reading a FIFO would wait for a writer
 * for ever), and a target the write refuses is reported by the write. Over
 * max_bytes it is not kind ("a benchmark log"). 0, or -1 with one line. */
int ex_read_existing(const char *path, size_t max_bytes, const char *kind, char **text, char *err, size_t err_size);

/* The id a row goes by: the dashboard's segment id ("#4", "#5A", as on
 * screen) when it is a segment, else its 1-based index among the runs. */
void ex_segment_id(const json_t *row, size_t index, char *buf, size_t size);

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
