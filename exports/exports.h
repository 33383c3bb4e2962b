/* exports.h — the whole interface of exports/: reports rendered from one
 * JSON structure (so Markdown, CSV and JSON always agree), written atomically. */
#ifndef HSTPROF_EXPORTS_H
#define HSTPROF_EXPORTS_H

#include <jansson.h>
#include <stddef.h>

typedef enum { EXPORT_MD, EXPORT_CSV, EXPORT_JSON } export_format;

/* "md", "csv", "json" -> format; -1 when unknown. */
int export_format_from_name(const char *name, export_format *out);

/* Writes data to path through a temporary file in the same directory and a
 * rename, so path is either absent, its old content, or complete. On error
 * returns -1 with one line in err ("<path>: cannot write: <reason>"). */
int export_write_atomic(const char *path, const char *data, size_t len, char *err, size_t err_size);

/* Bench report (`hstprof bench`), the shape of the published benchmark:
 * Overall Summary, Detailed Results by Sequence Length, Performance Insights,
 * Model Details. report is the object `hstprof bench --format json` prints.
 * Returns a malloc'd string, NULL when out of memory. */
char *export_bench_render(const json_t *report, export_format fmt);

/* A snapshot: the state of a run or of the dashboard at one moment, as one
 * JSON object. Its keys are those of `hstprof run --format json` (tool, date,
 * model, preset, source, config{}, params_total, params_next_token, threads,
 * affinity, kernel, prompt_tokens, prefill_*, decode_*, ttft_ms, latency{},
 * quality_hash, generated[]) plus, when known: memory{}, counters{},
 * sections[] ({name, ms, percent}), bandwidth{}, compute{}. A metric that is
 * not available is null with a sibling "<key>_why_not" string.
 * Writes <dir>/<base>.md and <dir>/<base>.csv (one row, every metric) and
 * <dir>/<base>.json, each atomically; the written paths go to paths[0..2].
 * On error: -1, one line in err, nothing half-written. */
int export_snapshot_files(const json_t *snapshot, const char *dir, const char *base, char paths[3][1024],
                          char *err, size_t err_size);

/* CSV field quoting of RFC 4180: quotes when needed, doubles inner quotes. */
void export_csv_field(char *out, size_t out_size, const char *field);

#endif
