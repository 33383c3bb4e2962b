/* runs_csv.c — the run and snapshot CSV: tidy and appendable. One row per
 * run or dashboard segment, one fixed set of columns whatever the threads,
 * probes or segments (README, "CSV columns"), so that the rows of many runs
 * stack in one file. Counters have fixed columns for the default events,
 * task-clock in ms beside the CPUs it kept busy, as perf stat shows it. A
 * figure that is not known is an empty cell, its reason in the row's last
 * column, "unavailable". */
#include "exports/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_FILE_MAX (256 << 20)
#define MAX_ROWS 4096

/* ---- a cell's value ------------------------------------------------------------ */

typedef struct {
    enum { CELL_NONE, CELL_NUMBER, CELL_TEXT } kind;
    double number;
    const char *text;
    char buf[64];
    char why[EX_WHY_MAX]; /* CELL_NONE: why, "" when nothing is missing (a blank by design) */
} cell;

typedef struct {
    const json_t *snap, *row;
    size_t index; /* of the row among the runs */
} row_ctx;

typedef void (*cell_fn)(const row_ctx *r, const char *arg, cell *out);

typedef struct {
    const char *name;
    cell_fn fn;
    const char *arg; /* the path the getter reads, or what it needs */
} column;

static void set_number(cell *out, double v)
{
    out->kind = CELL_NUMBER;
    out->number = v;
}

static void set_text(cell *out, const char *s)
{
    out->kind = CELL_TEXT;
    out->text = s;
}

static void set_none(cell *out, const char *why)
{
    out->kind = CELL_NONE;
    snprintf(out->why, sizeof out->why, "%s", why);
}

/* A number at a path of the row. */
static void row_number(const row_ctx *r, const char *path, cell *out)
{
    double v;
    if (ex_number(r->row, path, &v, out->why, sizeof out->why))
        set_number(out, v);
    else
        out->kind = CELL_NONE;
}

/* A setting the whole snapshot shares (seed, sampling, ...): the row's own
 * when it has one, else the snapshot's. */
static const json_t *shared_root(const row_ctx *r, const char *path)
{
    return ex_path(r->row, path) ? r->row : r->snap;
}

static void shared_number(const row_ctx *r, const char *path, cell *out)
{
    double v;
    if (ex_number(shared_root(r, path), path, &v, out->why, sizeof out->why))
        set_number(out, v);
    else
        out->kind = CELL_NONE;
}

static void text_at(const json_t *root, const char *path, cell *out)
{
    const json_t *v = ex_path(root, path);
    double unused;
    if (json_is_string(v) && *json_string_value(v))
        set_text(out, json_string_value(v));
    else if (json_is_string(v))
        set_none(out, "empty in this snapshot");
    else if (!ex_number(root, path, &unused, out->why, sizeof out->why))
        out->kind = CELL_NONE;
    else {
        snprintf(out->buf, sizeof out->buf, "%.12g", unused);
        set_text(out, out->buf);
    }
}

static void row_text(const row_ctx *r, const char *path, cell *out)
{
    text_at(r->row, path, out);
}

static void shared_text(const row_ctx *r, const char *path, cell *out)
{
    text_at(shared_root(r, path), path, out);
}

/* ---- computed columns ----------------------------------------------------------------- */

static int is_segment(const row_ctx *r)
{
    return json_is_integer(json_object_get(r->row, "segment"));
}

static void segment_id(const row_ctx *r, const char *arg, cell *out)
{
    (void)arg;
    if (!is_segment(r)) {
        set_none(out, ""); /* a run is not a segment: blank by design */
        return;
    }
    ex_segment_id(r->row, r->index, out->buf, sizeof out->buf);
    set_text(out, out->buf);
}

static void ab_side(const row_ctx *r, const char *arg, cell *out)
{
    (void)arg;
    const char *side = ex_string(r->row, "ab_side", NULL);
    if (side)
        set_text(out, side);
    else
        set_none(out, ""); /* not a side of a comparison */
}

static void profile(const row_ctx *r, const char *arg, cell *out)
{
    (void)arg;
    shared_text(r, "profile", out);
    if (out->kind == CELL_NONE && json_is_string(ex_path(r->snap, "profile")))
        set_none(out, ""); /* no profile: defaults and flags */
}

/* The prompt's length: a segment counts every prefill in prompt_tokens. */
static void prompt_length(const row_ctx *r, const char *arg, cell *out)
{
    (void)arg;
    row_number(r, json_object_get(r->row, "prompt_length") ? "prompt_length" : "prompt_tokens", out);
}

static void prefills(const row_ctx *r, const char *arg, cell *out)
{
    (void)arg;
    if (json_object_get(r->row, "prefills"))
        row_number(r, "prefills", out);
    else
        set_number(out, 1); /* hstprof run prefills its prompt once */
}

/* Tokens generated over the whole wall time (prefill + decode). */
static void true_tps(const row_ctx *r, const char *arg, cell *out)
{
    (void)arg;
    double tokens, wall_ms;
    if (!ex_number(r->row, "tokens_generated", &tokens, out->why, sizeof out->why) ||
        !ex_number(r->row, "wall_ms", &wall_ms, out->why, sizeof out->why))
        out->kind = CELL_NONE;
    else if (tokens <= 0 || wall_ms <= 0)
        set_none(out, tokens <= 0 ? "no token generated" : "no wall time recorded");
    else
        set_number(out, tokens / (wall_ms / 1e3));
}

static void interrupted_after(const row_ctx *r, const char *arg, cell *out)
{
    (void)arg;
    if (json_object_get(r->row, "interrupted_after_s"))
        row_number(r, "interrupted_after_s", out);
    else
        set_none(out, ""); /* ran to its end */
}

/* A memory figure: per run; the dashboard keeps memory for the whole process only. */
static void memory_figure(const row_ctx *r, const char *path, cell *out)
{
    if (r->row != r->snap && !ex_path(r->row, "memory") && ex_path(r->snap, "memory"))
        set_none(out, "memory is recorded for the whole process, not per segment");
    else
        row_number(r, path, out);
}

/* ---- counters --------------------------------------------------------------------------- */

/* The names an event goes by in perf and PAPI. */
static const char *const *event_aliases(const char *column_event)
{
    static const char *const cycles[] = {"cycles", "cpu-cycles", "PAPI_TOT_CYC", NULL};
    static const char *const instructions[] = {"instructions", "PAPI_TOT_INS", NULL};
    static const char *const l1d[] = {"L1-dcache-load-misses", "PAPI_L1_DCM", NULL};
    static const char *const llc[] = {"LLC-load-misses", "cache-misses", "PAPI_L3_TCM", NULL};
    static const char *const branch[] = {"branch-misses", "PAPI_BR_MSP", NULL};
    static const char *const task_clock[] = {"task-clock", NULL};
    static const char *const page_faults[] = {"page-faults", "faults", NULL};
    static const char *const cs[] = {"context-switches", "cs", NULL};
    static const char *const migrations[] = {"cpu-migrations", "migrations", NULL};
    static const struct {
        const char *name;
        const char *const *aliases;
    } table[] = {{"cycles", cycles},           {"instructions", instructions}, {"l1d", l1d},
                 {"llc", llc},                 {"branch", branch},             {"task-clock", task_clock},
                 {"page-faults", page_faults}, {"cs", cs},                     {"migrations", migrations}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, column_event) == 0)
            return table[i].aliases;
    return NULL;
}

/* arg "decode:cycles": the phase's counter window and the event. */
static const json_t *counter_window(const row_ctx *r, const char *arg, char *event, size_t size, cell *out)
{
    const char *colon = strchr(arg, ':');
    char path[64];
    snprintf(path, sizeof path, "counters.%.*s", (int)(colon - arg), arg);
    snprintf(event, size, "%s", colon + 1);
    const json_t *window = ex_path(r->row, path);
    if (json_is_object(window))
        return window;
    const char *summary = ex_string(r->row, "counters.summary", NULL);
    double unused;
    if (!ex_number(r->row, path, &unused, out->why, sizeof out->why) && summary && *summary &&
        strcmp(out->why, "not recorded in this snapshot") == 0)
        snprintf(out->why, sizeof out->why, "%s", summary);
    out->kind = CELL_NONE;
    return NULL;
}

static const json_t *find_event(const json_t *window, const char *column_event)
{
    const char *const *aliases = event_aliases(column_event);
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(window, "events"), i, e)
    {
        for (size_t k = 0; aliases && aliases[k]; k++)
            if (strcasecmp(ex_string(e, "name", ""), aliases[k]) == 0)
                return e;
    }
    return NULL;
}

/* An event's count (task-clock: ms) in a phase. */
static void counter_value(const row_ctx *r, const char *arg, cell *out)
{
    char name[32];
    const json_t *window = counter_window(r, arg, name, sizeof name, out);
    if (!window)
        return;
    const json_t *e = find_event(window, name);
    double v;
    if (!e)
        set_none(out, "not counted (not among the events asked for)");
    else if (!ex_number(e, "value", &v, out->why, sizeof out->why))
        out->kind = CELL_NONE;
    else
        set_number(out, strcmp(name, "task-clock") == 0 ? v / 1e6 : v);
}

/* task-clock / window: the CPUs the engine kept busy, perf stat's "CPUs utilized". */
static void cpus_utilized(const row_ctx *r, const char *arg, cell *out)
{
    char name[32];
    const json_t *window = counter_window(r, arg, name, sizeof name, out);
    if (!window)
        return;
    const json_t *e = find_event(window, "task-clock");
    double clock_ns, window_ns;
    if (!e)
        set_none(out, "task-clock not counted");
    else if (!ex_number(e, "value", &clock_ns, out->why, sizeof out->why) ||
             !ex_number(window, "window_ns", &window_ns, out->why, sizeof out->why))
        out->kind = CELL_NONE;
    else if (window_ns <= 0)
        set_none(out, "an empty counter window");
    else
        set_number(out, clock_ns / window_ns);
}

static void counter_window_ms(const row_ctx *r, const char *arg, cell *out)
{
    char name[32];
    const json_t *window = counter_window(r, arg, name, sizeof name, out);
    double ns;
    if (window && ex_number(window, "window_ns", &ns, out->why, sizeof out->why))
        set_number(out, ns / 1e6);
    else
        out->kind = CELL_NONE;
}

static void counter_derived(const row_ctx *r, const char *arg, cell *out)
{
    char name[32], path[64];
    const json_t *window = counter_window(r, arg, name, sizeof name, out);
    if (!window)
        return;
    snprintf(path, sizeof path, "derived.%s", name);
    double v;
    if (ex_number(window, path, &v, out->why, sizeof out->why))
        set_number(out, v);
    else
        out->kind = CELL_NONE;
}

/* ---- A/B ---------------------------------------------------------------------------------- */

/* The comparison a row was a side of: its own "ab", or the snapshot's for
 * the newest segment of each side (the pair the verdict is about). */
static const json_t *row_ab(const row_ctx *r)
{
    const json_t *own = json_object_get(r->row, "ab");
    if (json_is_object(own))
        return own;
    const char *side = ex_string(r->row, "ab_side", NULL);
    const json_t *ab = json_object_get(r->snap, "ab");
    if (!side || !json_is_object(ab))
        return NULL;
    const json_t *runs = json_object_get(r->snap, "runs");
    for (size_t i = json_array_size(runs); i-- > 0;) {
        const json_t *other = json_array_get(runs, i);
        if (strcmp(ex_string(other, "ab_side", ""), side) == 0)
            return other == r->row ? ab : NULL;
    }
    return r->row == r->snap ? ab : NULL;
}

/* arg: a key of the comparison, "side:median_tok_per_s" for the row's own side's. */
static void ab_value(const row_ctx *r, const char *arg, cell *out)
{
    const json_t *ab = row_ab(r);
    if (!ab) {
        set_none(out, ex_string(r->row, "ab_side", NULL) ? "an earlier comparison (its verdict is gone)" : "");
        return;
    }
    char key[64];
    if (strncmp(arg, "side:", 5) == 0) {
        const char *side = ex_string(r->row, "ab_side", "A");
        if (strcmp(arg + 5, "rounds") == 0)
            snprintf(key, sizeof key, "rounds_%c", side[0] == 'B' ? 'b' : 'a');
        else
            snprintf(key, sizeof key, "%c_%s", side[0] == 'B' ? 'b' : 'a', arg + 5);
    } else {
        snprintf(key, sizeof key, "%s", arg);
    }
    text_at(ab, key, out);
    if (out->kind == CELL_TEXT && json_is_number(json_object_get(ab, key)))
        set_number(out, json_number_value(json_object_get(ab, key)));
}

/* ---- the columns ---------------------------------------------------------------------------- */

#define ROW_NUMBER(name, path) {name, row_number, path}
#define COUNTER(phase, event) {phase "_" event, counter_value, phase ":" event}

static const column columns[] = {
    {"tool", shared_text, "tool"},
    {"date", shared_text, "date"},
    {"segment", segment_id, NULL},
    {"model", row_text, "model"},
    {"preset", row_text, "preset"},
    {"arch", row_text, "config.arch"},
    {"source", row_text, "source"},
    {"mode", row_text, "mode"},
    {"precision", shared_text, "precision"},
    {"kernel", row_text, "kernel"},
    ROW_NUMBER("threads", "threads"),
    {"affinity", row_text, "affinity"},
    {"ab_side", ab_side, NULL},
    {"profile", profile, NULL},
    {"seed", shared_number, "seed"},
    {"temperature", shared_number, "temperature"},
    {"top_k", shared_number, "top_k"},
    {"prompt_tokens", prompt_length, NULL},
    {"tokens_requested", shared_number, "tokens_requested"},
    {"prefills", prefills, NULL},
    ROW_NUMBER("prefill_tokens", "prompt_tokens"),
    ROW_NUMBER("prefill_ms", "prefill_ms"),
    ROW_NUMBER("prefill_tok_per_s", "prefill_tok_per_s"),
    ROW_NUMBER("prefill_gflops_per_s", "prefill_gflops_per_s"),
    ROW_NUMBER("decode_tokens", "decode_tokens"),
    ROW_NUMBER("decode_ms", "decode_ms"),
    ROW_NUMBER("decode_tok_per_s", "decode_tok_per_s"),
    ROW_NUMBER("decode_gflops_per_s", "decode_gflops_per_s"),
    ROW_NUMBER("tokens_generated", "tokens_generated"),
    ROW_NUMBER("wall_ms", "wall_ms"),
    {"true_tok_per_s", true_tps, NULL},
    ROW_NUMBER("ttft_ms", "ttft_ms"),
    ROW_NUMBER("latency_samples", "latency.samples"),
    ROW_NUMBER("latency_p50_ms", "latency.p50_ms"),
    ROW_NUMBER("latency_p95_ms", "latency.p95_ms"),
    ROW_NUMBER("latency_p99_ms", "latency.p99_ms"),
    ROW_NUMBER("latency_min_ms", "latency.min_ms"),
    ROW_NUMBER("latency_max_ms", "latency.max_ms"),
    ROW_NUMBER("latency_mean_ms", "latency.mean_ms"),
    {"interrupted_after_s", interrupted_after, NULL},
    {"load_ms", shared_number, "load_ms"},
    {"rss_peak_bytes", memory_figure, "memory.rss_peak_bytes"},
    {"vmhwm_bytes", memory_figure, "peak_rss_bytes"},
    {"pss_peak_bytes", memory_figure, "memory.pss_peak_bytes"},
    {"vms_peak_bytes", memory_figure, "memory.vms_peak_bytes"},
    {"minor_faults", memory_figure, "memory.minor_faults"},
    {"major_faults", memory_figure, "memory.major_faults"},
    ROW_NUMBER("kv_cache_bytes", "kv_cache_bytes"),
    ROW_NUMBER("weight_bytes", "weight_bytes"),
    ROW_NUMBER("decode_bytes_per_token", "decode_bytes_per_token"),
    ROW_NUMBER("decode_bytes_per_s", "roofline.decode.achieved_bytes_per_s"),
    {"decode_memory_level", row_text, "roofline.decode.level"},
    ROW_NUMBER("decode_level_read_bytes_per_s", "roofline.decode.level_read_bytes_per_s"),
    ROW_NUMBER("decode_bandwidth_pct", "roofline.decode.bandwidth_pct"),
    ROW_NUMBER("decode_fma_pct", "roofline.decode.fma_pct"),
    {"decode_bound", row_text, "roofline.decode.bound"},
    ROW_NUMBER("prefill_bytes_per_s", "roofline.prefill.achieved_bytes_per_s"),
    ROW_NUMBER("prefill_bandwidth_pct", "roofline.prefill.bandwidth_pct"),
    {"prefill_counter_window_ms", counter_window_ms, "prefill:"},
    {"prefill_task_clock_ms", counter_value, "prefill:task-clock"},
    {"prefill_cpus_utilized", cpus_utilized, "prefill:"},
    COUNTER("prefill", "cycles"),
    COUNTER("prefill", "instructions"),
    {"prefill_ipc", counter_derived, "prefill:ipc"},
    {"prefill_l1d_load_misses", counter_value, "prefill:l1d"},
    {"prefill_llc_load_misses", counter_value, "prefill:llc"},
    {"prefill_branch_misses", counter_value, "prefill:branch"},
    {"prefill_page_faults", counter_value, "prefill:page-faults"},
    {"prefill_context_switches", counter_value, "prefill:cs"},
    {"prefill_cpu_migrations", counter_value, "prefill:migrations"},
    {"decode_counter_window_ms", counter_window_ms, "decode:"},
    {"decode_task_clock_ms", counter_value, "decode:task-clock"},
    {"decode_cpus_utilized", cpus_utilized, "decode:"},
    COUNTER("decode", "cycles"),
    COUNTER("decode", "instructions"),
    {"decode_ipc", counter_derived, "decode:ipc"},
    {"decode_l1d_load_misses", counter_value, "decode:l1d"},
    {"decode_llc_load_misses", counter_value, "decode:llc"},
    {"decode_branch_misses", counter_value, "decode:branch"},
    {"decode_page_faults", counter_value, "decode:page-faults"},
    {"decode_context_switches", counter_value, "decode:cs"},
    {"decode_cpu_migrations", counter_value, "decode:migrations"},
    {"ab_comparison", ab_value, "comparison"},
    {"ab_verdict", ab_value, "verdict"},
    {"ab_rounds", ab_value, "side:rounds"},
    {"ab_median_tok_per_s", ab_value, "side:median_tok_per_s"},
    {"ab_ratio_b_over_a", ab_value, "ratio_b_over_a"},
    {"ab_ratio_ci95_lo", ab_value, "ratio_ci95_lo"},
    {"ab_ratio_ci95_hi", ab_value, "ratio_ci95_hi"},
    {"quality_hash", shared_text, "quality_hash"},
    {"cpu_model", shared_text, "system.cpu_model"},
    {"git_commit", shared_text, "system.git_commit"},
};

#define N_COLUMNS (sizeof columns / sizeof columns[0])

/* ---- rendering ------------------------------------------------------------------------------- */

const char *export_csv_header(void)
{
    static char header[4096];
    if (!header[0]) {
        size_t len = 0;
        for (size_t c = 0; c < N_COLUMNS; c++)
            len += (size_t)snprintf(header + len, sizeof header - len, "%s,", columns[c].name);
        snprintf(header + len, sizeof header - len, "unavailable");
    }
    return header;
}

/* "column, column: reason; column: reason": each reason once (a column's
 * name has no ':', so the first ": " ends the columns). */
static void write_reasons(FILE *f, const cell *cells)
{
    ex_text t;
    if (ex_text_open(&t) != 0)
        return;
    int reasons = 0;
    for (size_t c = 0; c < N_COLUMNS; c++) {
        if (cells[c].kind != CELL_NONE || !cells[c].why[0])
            continue;
        size_t first = 0;
        while (first < c && !(cells[first].kind == CELL_NONE && strcmp(cells[first].why, cells[c].why) == 0))
            first++;
        if (first < c)
            continue; /* listed with its first column */
        fprintf(t.f, "%s%s", reasons++ ? "; " : "", columns[c].name);
        for (size_t k = c + 1; k < N_COLUMNS; k++)
            if (cells[k].kind == CELL_NONE && strcmp(cells[k].why, cells[c].why) == 0)
                fprintf(t.f, ", %s", columns[k].name);
        fprintf(t.f, ": %s", cells[c].why);
    }
    char *text = ex_text_close(&t);
    if (text)
        ex_csv_text(f, text);
    free(text);
}

static void write_header(FILE *f)
{
    fputs(export_csv_header(), f);
    fputs("\r\n", f);
}

static void write_row(FILE *f, const row_ctx *r)
{
    cell cells[N_COLUMNS]; /* ~30 KiB: the row's values, then its reasons */
    memset(cells, 0, sizeof cells);
    for (size_t c = 0; c < N_COLUMNS; c++) {
        columns[c].fn(r, columns[c].arg, &cells[c]);
        if (cells[c].kind == CELL_NUMBER)
            ex_csv_number(f, cells[c].number);
        else if (cells[c].kind == CELL_TEXT)
            ex_csv_text(f, cells[c].text);
        fputc(',', f);
    }
    write_reasons(f, cells);
    fputs("\r\n", f);
}

/* The rows: runs[] when the snapshot has it, else the snapshot itself. */
static void write_rows(FILE *f, const json_t *snapshot)
{
    const json_t *runs = json_object_get(snapshot, "runs");
    if (!json_is_array(runs) || json_array_size(runs) == 0) {
        row_ctx r = {snapshot, snapshot, 0};
        write_row(f, &r);
        return;
    }
    size_t i;
    const json_t *run;
    json_array_foreach(runs, i, run)
    {
        if (i >= MAX_ROWS)
            break;
        row_ctx r = {snapshot, run, i};
        write_row(f, &r);
    }
}

char *export_snapshot_csv_render(const json_t *snapshot)
{
    ex_text t;
    if (ex_text_open(&t) != 0)
        return NULL;
    write_header(t.f);
    write_rows(t.f, snapshot);
    return ex_text_close(&t);
}

/* ---- appending ------------------------------------------------------------------------------- */

/* 0 when text is empty or starts with this version's header line. */
static int same_header(const char *path, const char *text, char *err, size_t err_size)
{
    if (!*text)
        return 0;
    const char *header = export_csv_header();
    size_t len = strlen(header);
    if (strncmp(text, header, len) == 0 && (text[len] == '\r' || text[len] == '\n'))
        return 0;
    snprintf(err, err_size,
             "--export %s: its header is not that of hstprof's run CSV (%zu columns), so no row is appended; "
             "name a new file, or move this one away",
             path, N_COLUMNS + 1);
    return -1;
}

int export_csv_check_appendable(const char *path, char *err, size_t err_size)
{
    char *text;
    if (ex_read_existing(path, CSV_FILE_MAX, "a run CSV", &text, err, err_size) != 0)
        return -1;
    int rc = text ? same_header(path, text, err, err_size) : 0;
    free(text);
    return rc;
}

char *export_csv_prepare(const char *path, const json_t *snapshot, char *err, size_t err_size)
{
    char *existing;
    if (ex_read_existing(path, CSV_FILE_MAX, "a run CSV", &existing, err, err_size) != 0)
        return NULL;
    if (existing && same_header(path, existing, err, err_size) != 0) {
        free(existing);
        return NULL;
    }
    ex_text t;
    char *text = NULL;
    if (ex_text_open(&t) == 0) {
        size_t len = existing ? strlen(existing) : 0;
        if (len == 0)
            write_header(t.f);
        else {
            fputs(existing, t.f);
            if (existing[len - 1] != '\n') /* a last row cut short of its line end */
                fputs("\r\n", t.f);
        }
        write_rows(t.f, snapshot);
        text = ex_text_close(&t);
    }
    if (!text)
        snprintf(err, err_size, "%s: cannot write: out of memory", path);
    free(existing);
    return text;
}
