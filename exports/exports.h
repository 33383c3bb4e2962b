/* exports.h — reports rendered from one JSON structure (so Markdown, CSV
 * and JSON always agree). Files are written by atomic.h's writer; a model
 * file by model_file.h. */
#ifndef HSTPROF_EXPORTS_H
#define HSTPROF_EXPORTS_H

#include <jansson.h>
#include <stddef.h>

typedef enum { EXPORT_MD, EXPORT_CSV, EXPORT_JSON } export_format;

/* "md", "csv", "json" -> format; -1 when unknown. */
int export_format_from_name(const char *name, export_format *out);
/* "notes.md" -> EXPORT_MD (.md, .markdown), .csv, .json; -1 otherwise. */
int export_format_from_path(const char *path, export_format *out);

/* Bench report (`hstprof bench`), the shape of the published benchmark:
 * Overall Summary, Detailed Results by Sequence Length, Performance Insights,
 * Model Details. report is the object `hstprof bench --format json` prints.
 * Returns a malloc'd string, NULL when out of memory. */
char *export_bench_render(const json_t *report, export_format fmt);

/* ---- the published benchmark's figures (seed_report.c) ------------------------
 * The report `hstprof bench` reproduces, row for row: its TPS per model and
 * sequence length, to compare with (it timed PyTorch on another machine). */
#define EXPORT_SEED_SEQS 3 /* S = 128, 256, 512 */
typedef struct {
    const char *preset;     /* the engine's preset for the row */
    const char *name;       /* the report's model name, e.g. "hst_v4_unified" */
    const char *class_name; /* the PyTorch class it timed */
    const char *same_as;    /* the preset whose network it is (hst-chaos: hst-v7.0) */
    double tps[EXPORT_SEED_SEQS];
    double ms[EXPORT_SEED_SEQS];
} export_seed_row;

/* The report's row for a preset, or NULL (hst-v8 and files have none). */
const export_seed_row *export_seed_report_find(const char *preset);
/* The row's TPS at seq_len, NAN when the report has no such length. */
double export_seed_report_tps(const export_seed_row *row, int seq_len);
/* A bench row's model label: "HST-chaos_logic_ai (HSTv7Agile) = hst-v7.0"
 * for a report row, else "<preset> (<class>)". */
void export_seed_report_label(const char *preset, const char *class_name, char *buf, size_t len);

/* Layer benchmark report (`hstprof layerbench`), the shape of the fused-layer
 * benchmark (seeds/004): Item/Value hyper-parameters, latency and PEAK memory
 * per sequence length for the baseline and optimized variants, agreement.
 * report is the object `hstprof layerbench --format json` prints; CSV has one
 * row per (seq_len, variant). malloc'd; NULL when out of memory. */
char *export_layerbench_render(const json_t *report, export_format fmt);

/* ---- plots (plots.c): SVG, the same bytes for the same data -------------------
 * Readable on light and dark pages (an opaque background, and a dark palette
 * for viewers that prefer dark), axes labelled with their units. malloc'd;
 * NULL when out of memory. */
/* The bench report's prefill tokens/s against sequence length: a line per
 * model, a panel per thread count (settings.threads). */
char *export_bench_plot_svg(const json_t *report);
/* The per-token decode latency distribution of a run or snapshot: its
 * "latency_histogram" ({lowest_ns, growth, first_bucket, counts[]}: bucket
 * b holds [lowest * growth^(first + b), ... ^(first + b + 1)) ns) as a
 * log-scaled histogram with latency.p50_ms, p95_ms and p99_ms marked. */
char *export_latency_plot_svg(const json_t *snapshot);
/* Decode tokens/s over time: "throughput_timeline" {series: [{label, t_s[],
 * tok_per_s[]}], changes: [{t_s, label}] (a setting took effect), note}. */
char *export_throughput_plot_svg(const json_t *snapshot);

/* The bench report as Markdown with its plot beside it: paths[0] = md_path,
 * paths[1] = md_path with .svg for .md (the Markdown shows it), texts[]
 * malloc'd. 0, or -1 with one line in err. */
int export_bench_files(const json_t *report, const char *md_path, char paths[2][1024], char *texts[2], char *err,
                       size_t err_size);
/* Performance notes with their plots: paths[0] = md_path, paths[1..2] =
 * <stem>-latency.svg and <stem>-throughput.svg beside it (the notes show
 * them), texts[] malloc'd. 0, or -1 with one line in err. */
#define EXPORT_NOTES_FILES 3
int export_notes_files(const json_t *snapshot, const char *md_path, char paths[EXPORT_NOTES_FILES][1024],
                       char *texts[EXPORT_NOTES_FILES], char *err, size_t err_size);

/* A snapshot: the state of a run or of the dashboard at one moment, as one
 * JSON object. Its keys are those of `hstprof run --format json` (tool, date,
 * model, preset, source, config{}, params_total, params_next_token, threads,
 * affinity, kernel, mode, mode_label, prompt_tokens, prefill_*, decode_*, ttft_ms, latency{},
 * quality_hash, generated[]) plus, when known: memory{}, counters{},
 * sections[] ({name, ms, percent}), bandwidth{}, compute{}. A metric that is
 * not available is null with a sibling "<key>_why_not" string.
 * Writes <dir>/<base>.md, <dir>/<base>.csv (a row per segment, the columns of
 * export_snapshot_csv_render),
 * <dir>/<base>.json, the notes' plots <base>-latency.svg and
 * <base>-throughput.svg, and, when trace is not NULL (timeline_json's
 * object), <base>.trace.json (export_trace_events_render), all or nothing;
 * the written paths go to paths[0..5] (paths[5] "" without a trace). On
 * error: -1, one line in err, nothing half-written. */
#define EXPORT_SNAPSHOT_FILES 6
int export_snapshot_files(const json_t *snapshot, const json_t *trace, const char *dir, const char *base,
                          char paths[EXPORT_SNAPSHOT_FILES][1024], char *err, size_t err_size);

/* CSV field quoting of RFC 4180: quotes when needed, doubles inner quotes. */
void export_csv_field(char *out, size_t out_size, const char *field);

/* ---- snapshots, notes, log, trace (snapshot.c, notes.c, log.c, trace.c) ------
 *
 * One JSON object per run is the source of every format: Markdown and CSV are
 * rendered from it, JSON is it. Keys read besides those listed above for
 * export_snapshot_files (all optional; a missing or null figure is rendered
 * "n/a[k]" in Markdown with reason k listed once at the end, empty in CSV
 * with the reason in the row's "unavailable" column, and stays null in JSON,
 * never 0): load_ms, wall_ms, tokens_generated, weight_bytes, seed,
 * precision, batch, temperature, top_k, tokens_requested, events_requested,
 * profile, decode_bytes_per_token, quality_tokens[], roofline{prefill,decode},
 * ceilings{}, system{} (probes_system_json, added by the snapshot's
 * producer), and runs[]: run-shaped objects,
 * one per run or dashboard segment, for the summary sums and the Comparative
 * Runs table (absent: the snapshot itself is the only run). */


/* Adds "date" (now, UTC, "YYYY-MM-DD HH:MM:SS UTC") when the snapshot
 * lacks it; a present one is kept, so tests inject fixed ones. 0, or -1
 * when out of memory. */
int export_snapshot_complete(json_t *snapshot);

/* Performance notes (the shape of the published performance notes): last
 * updated, best TPS, summary, latency, spatial complexity, counters, run
 * parameters, system and model info, comparative runs. malloc'd; NULL when
 * out of memory. */
char *export_notes_render(const json_t *snapshot);

/* Snapshot CSV, tidy: a header row, then one row per run or segment
 * (runs[], else the snapshot itself), RFC 4180 (CRLF, quoted when needed).
 * The columns are fixed, whatever the threads, probes or segments (the
 * README's "CSV columns"): settings, throughput, latency, memory, roofline,
 * counters of the default events per phase (task-clock in ms with the CPUs
 * it kept busy), the A/B verdict on the rows of its two sides, and last
 * "unavailable": "column, column: reason; ..." for the empty cells that are
 * unknown. */
char *export_snapshot_csv_render(const json_t *snapshot);
/* The header line of that CSV (no line end). */
const char *export_csv_header(void);
/* `--export FILE.csv` on an existing file appends rows: 0 when path does not
 * exist, is empty, is not a regular file (a stream gets the header and the
 * rows), or starts with the same header; -1 with one line in err otherwise. */
int export_csv_check_appendable(const char *path, char *err, size_t err_size);
/* The text path would hold with the snapshot's rows appended (a new file:
 * the header first). malloc'd; NULL with err (another header: see above). */
char *export_csv_prepare(const char *path, const json_t *snapshot, char *err, size_t err_size);

/* JSON text of any object (2-space indent, key order kept, newline at the end). */
char *export_json_render(const json_t *object);

/* The snapshot as fmt: notes (MD), the CSV (a new file's), or JSON. */
char *export_snapshot_render(const json_t *snapshot, export_format fmt);

/* Benchmark log (the shape of the published BENCHMARKS.md): the text of
 * existing (NULL or "" for a new file) with a dated entry for run added: under
 * "## <title>" after that heading's last entry when the heading exists, else
 * under a new heading at the end. When the quality hash differs from the
 * newest entry already in the file, the entry says
 * **Quality hash changed**: was X, now Y (entry "<previous title>").
 * change may be NULL or "". malloc'd; NULL with err on bad input. */
char *export_log_render(const char *existing, const json_t *run, const char *title, const char *change, char *err,
                        size_t err_size);
/* The text path would hold after the entry is added (path missing: a new
 * log), for callers that write it together with other files. malloc'd;
 * NULL with err. */
char *export_log_prepare(const char *path, const json_t *run, const char *title, const char *change, char *err,
                         size_t err_size);
/* Reads path (missing: a new log), adds the entry, writes it back atomically.
 * run gets a date and system info first when it lacks them. 0, or -1 with err. */
int export_log_append(const char *path, const json_t *run, const char *title, const char *change, char *err,
                      size_t err_size);

/* Per-token trace CSV from the object runner_trace_json (probes) builds:
 * {"mode": "causal"|"parity", "sections": [names], "counters": [names],
 * "tokens": [{index, phase, position, tokens_processed, token_id, time_ns,
 * latency_ns, section_ns[], counter_delta[] (null entries: not counted)}]}.
 * Columns: token_index, phase, mode, position, tokens_processed, token_id,
 * time_since_start_ns, latency_ns, section.<name>_ns...,
 * counter.<name>_delta... */
char *export_trace_render(const json_t *trace);
/* The same trace as Chrome/Perfetto trace-event JSON ({"traceEvents": [...]},
 * microseconds since the trace's origin): a track per pool thread with a
 * slice per forward call and the engine's sections nested in it, phase
 * slices, instants for restarts and setting changes, counter tracks. The
 * trace object may also hold tool, model, label, origin and pid, and per
 * token start_ns, forward_ns, generation, round and thread_busy_ns[], and
 * rss[] and instants[] (what timeline_json in probes builds). */
char *export_trace_events_render(const json_t *trace);
/* The monitoring figures (the object probes_metrics_json builds: series[]
 * with labels, counters and a latency histogram, gauges{}) in the Prometheus
 * text exposition format, EXPORT_METRICS_CONTENT_TYPE. A gauge or counter
 * the object lacks has no sample. malloc'd; NULL when out of memory. */
char *export_metrics_render(const json_t *metrics);
#define EXPORT_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* How --trace FILE is written: JSON for a .json name, else CSV. */
int export_trace_is_json(const char *path);

#endif
