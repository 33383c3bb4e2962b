/* log.c — the benchmark log (the shape of the published BENCHMARKS.md): one
 * dated entry per run, grouped under "## <title>" so a before and an after
 * with the same title sit together, and a changed quality hash flagged. */
#include "exports/internal.h"

#include <stdlib.h>
#include <string.h>

#define LOG_TITLE_MAX 200
#define LOG_FIRST_TOKENS 16 /* the quality tokens an entry shows */
#define LOG_FILE_MAX (64 << 20)

static const char log_preamble[] =
    "# Benchmark Results\n"
    "\n"
    "This file tracks performance benchmarks across changes to the codebase.\n"
    "\n"
    "**How to use:**\n"
    "1. Run benchmark BEFORE making changes with a descriptive title\n"
    "2. Make your changes\n"
    "3. Run benchmark AFTER with the SAME title to group results\n"
    "\n"
    "```bash\n"
    "hstprof run --log BENCHMARKS.md --title \"<title>\" --change \"<description>\"\n"
    "```\n"
    "\n"
    "---\n"
    "\n";

/* ---- reading the existing log ---------------------------------------------------- */

typedef struct {
    long section_end;        /* where an entry under the title goes; -1: no such heading */
    int have_previous;       /* the newest entry with a quality hash */
    char previous_hash[64];
    char previous_title[LOG_TITLE_MAX + 1];
    char previous_date[32];
} log_scan;

typedef struct {
    char title[LOG_TITLE_MAX + 1]; /* of the "## " heading above */
    char date[32];                 /* of the "### " entry being read */
} scan_cursor;

static int starts_with(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

/* Copies line[from..len) without trailing white space. */
static void copy_trimmed(char *out, size_t size, const char *line, size_t from, size_t len)
{
    while (len > from && (line[len - 1] == ' ' || line[len - 1] == '\r' || line[len - 1] == '\t'))
        len--;
    size_t n = len - from < size - 1 ? len - from : size - 1;
    memcpy(out, line + from, n);
    out[n] = '\0';
}

/* "| Quality Hash | `abc` |": the entry's hash; the newest entry (by date,
 * later in the file on a tie) is the one a new entry compares against. */
static void note_hash(log_scan *scan, const scan_cursor *cur, const char *line, size_t len)
{
    const char *open = memchr(line, '`', len);
    const char *close = open ? memchr(open + 1, '`', (size_t)(line + len - open - 1)) : NULL;
    if (!close || close - open - 1 >= (long)sizeof scan->previous_hash)
        return;
    if (scan->have_previous && strncmp(cur->date, scan->previous_date, 19) < 0)
        return;
    scan->have_previous = 1;
    snprintf(scan->previous_hash, sizeof scan->previous_hash, "%.*s", (int)(close - open - 1), open + 1);
    snprintf(scan->previous_title, sizeof scan->previous_title, "%s", cur->title);
    snprintf(scan->previous_date, sizeof scan->previous_date, "%s", cur->date);
}

static void scan_heading(log_scan *scan, scan_cursor *cur, const char *title, int *in_section, long offset,
                         const char *line, size_t len)
{
    if (*in_section && scan->section_end < 0) {
        scan->section_end = offset; /* the next "## " heading ends the title's section */
        *in_section = 0;
    }
    copy_trimmed(cur->title, sizeof cur->title, line, 3, len);
    cur->date[0] = '\0';
    if (scan->section_end < 0 && !*in_section && strcmp(cur->title, title) == 0)
        *in_section = 1;
}

static void scan_log(const char *text, const char *title, log_scan *scan)
{
    memset(scan, 0, sizeof *scan);
    scan->section_end = -1;
    scan_cursor cur = {"", ""};
    int in_fence = 0, in_section = 0, found = 0;
    size_t total = strlen(text);
    for (size_t off = 0; off < total;) {
        const char *line = text + off;
        const char *nl = memchr(line, '\n', total - off);
        size_t len = nl ? (size_t)(nl - line) : total - off;
        if (starts_with(line, len, "```")) {
            in_fence = !in_fence; /* headings inside code blocks are not headings */
        } else if (!in_fence && starts_with(line, len, "## ")) {
            scan_heading(scan, &cur, title, &in_section, (long)off, line, len);
            found |= in_section;
        } else if (!in_fence && starts_with(line, len, "### ")) {
            const char *dash = NULL;
            for (size_t i = 4; i + 3 <= len && !dash; i++)
                if (memcmp(line + i, " - ", 3) == 0)
                    dash = line + i;
            copy_trimmed(cur.date, sizeof cur.date, line, 4, dash ? (size_t)(dash - line) : len);
        } else if (!in_fence && starts_with(line, len, "| Quality Hash |")) {
            note_hash(scan, &cur, line, len);
        }
        off += len + (nl ? 1 : 0);
    }
    if (found && scan->section_end < 0)
        scan->section_end = (long)total;
}

/* ---- the entry ------------------------------------------------------------------------- */

/* A figure with its unit (in fmt) and what it covers (window, may be ""),
 * or n/a[k] with the reason listed under the table. */
static void metric_row(FILE *f, ex_why_list *why_list, const char *label, const json_t *run, const char *path,
                       const char *fmt, const char *window, int bold)
{
    double v;
    char why[EX_WHY_MAX];
    fprintf(f, "| %s%s%s | ", bold ? "**" : "", label, bold ? "**" : "");
    if (ex_number(run, path, &v, why, sizeof why)) {
        fprintf(f, "%s", bold ? "**" : "");
        fprintf(f, fmt, v);
        fprintf(f, "%s%s |\n", bold ? "**" : "", window);
        return;
    }
    ex_md_na(f, why_list, why);
    fputs(" |\n", f);
}

static void text_row(FILE *f, ex_why_list *why_list, const char *label, const char *text)
{
    fprintf(f, "| %s | ", label);
    if (text && *text)
        ex_md_cell(f, text);
    else
        ex_md_na(f, why_list, "not recorded in this snapshot");
    fputs(" |\n", f);
}

static void threads_row(FILE *f, ex_why_list *why_list, const json_t *run)
{
    char buf[512];
    double threads;
    char why[EX_WHY_MAX];
    if (!ex_number(run, "threads", &threads, why, sizeof why)) {
        fputs("| Threads | ", f);
        ex_md_na(f, why_list, why);
        fputs(" |\n", f);
        return;
    }
    snprintf(buf, sizeof buf, "%.0f thread%s (affinity %s, kernel %s, %s)", threads, threads == 1 ? "" : "s",
             ex_string(run, "affinity", "unknown"), ex_string(run, "kernel", "unknown"),
             ex_string(run, "precision", "precision unknown"));
    text_row(f, why_list, "Threads", buf);
}

/* " (over N what)" when the run records N, else "". */
static void window_of(const json_t *run, const char *path, const char *what, char *buf, size_t size)
{
    double n;
    char why[EX_WHY_MAX];
    buf[0] = '\0';
    if (ex_number(run, path, &n, why, sizeof why))
        snprintf(buf, size, " (%.0f %s)", n, what);
}

static void quality_tokens(FILE *f, ex_why_list *why, const json_t *run)
{
    const json_t *tokens = json_object_get(run, "quality_tokens");
    if (!json_is_array(tokens) || json_array_size(tokens) == 0) {
        fputs("Quality tokens: ", f);
        ex_md_na(f, why, ex_string(run, "quality_tokens_why_not", "not recorded in this snapshot"));
        fputs("\n\n", f);
        return;
    }
    fprintf(f, "<details><summary>Quality tokens (first %d)</summary>\n\n```\n[", LOG_FIRST_TOKENS);
    size_t i;
    const json_t *t;
    json_array_foreach(tokens, i, t)
    {
        if (i >= LOG_FIRST_TOKENS)
            break;
        fprintf(f, "%s%lld", i ? ", " : "", (long long)json_integer_value(t));
    }
    fprintf(f, "]\n```\n\n</details>\n\n");
}

static void write_entry(FILE *f, const json_t *run, const char *change, const log_scan *scan)
{
    ex_why_list why_list = {0}, *why = &why_list;
    const char *date = ex_string(run, "date", "date unknown");
    if (change && *change)
        fprintf(f, "### %s - %s\n\n", date, change);
    else
        fprintf(f, "### %s\n\n", date);
    ex_md_interrupted(f, run);
    char prompt[96], steps[96];
    window_of(run, "prompt_tokens", "prompt tokens", prompt, sizeof prompt);
    window_of(run, "decode_tokens", "decode steps", steps, sizeof steps);
    fprintf(f, "| Metric | Value |\n|--------|-------|\n");
    text_row(f, why, "Model", ex_string(run, "model", NULL));
    text_row(f, why, "Weights", ex_string(run, "source", NULL));
    text_row(f, why, "Version", ex_string(run, "config.arch", NULL));
    text_row(f, why, "Mode", ex_string(run, "mode_label", ex_string(run, "mode", NULL)));
    metric_row(f, why, "Layers", run, "config.n_layers", "%.0f layers", "", 0);
    metric_row(f, why, "Embedding", run, "config.d_model", "%.0f dimensions", " (d_model)", 0);
    text_row(f, why, "CPU", ex_string(run, "system.cpu_model", NULL));
    threads_row(f, why, run);
    metric_row(f, why, "Load Time", run, "load_ms", "%.2f ms", "", 1);
    metric_row(f, why, "Prefill", run, "prefill_tok_per_s", "%.2f tok/s", prompt, 1);
    metric_row(f, why, "Generation", run, "decode_tok_per_s", "%.2f tok/s", steps, 1);
    const char *hash = ex_string(run, "quality_hash", NULL);
    if (hash)
        fprintf(f, "| Quality Hash | `%s` |\n\n", hash);
    else {
        fputs("| Quality Hash | ", f);
        ex_md_na(f, why, ex_string(run, "quality_hash_why_not", "not recorded in this snapshot"));
        fputs(" |\n\n", f);
    }
    const json_t *tokens = json_object_get(run, "quality_tokens");
    if (!json_is_array(tokens) || json_array_size(tokens) == 0) /* numbered before the list under the table */
        ex_why_ref(why, ex_string(run, "quality_tokens_why_not", "not recorded in this snapshot"));
    ex_md_why_list(f, why, "_Unavailable:_");
    if (hash && scan->have_previous && strcmp(hash, scan->previous_hash) != 0)
        fprintf(f, "**Quality hash changed**: was %s, now %s (entry \"%s\")\n\n", scan->previous_hash, hash,
                scan->previous_title);
    quality_tokens(f, why, run);
}

/* ---- composing ------------------------------------------------------------------------ */

static int check_one_line(const char *what, const char *text, int required, char *err, size_t err_size)
{
    if (required && (!text || !*text)) {
        snprintf(err, err_size, "%s is empty", what);
        return -1;
    }
    if (text && strpbrk(text, "\r\n")) {
        snprintf(err, err_size, "%s must be one line", what);
        return -1;
    }
    if (text && strlen(text) > LOG_TITLE_MAX) {
        snprintf(err, err_size, "%s is longer than %d bytes", what, LOG_TITLE_MAX);
        return -1;
    }
    return 0;
}

/* Blank line before what follows, whatever the text ended with. */
static void separate(FILE *f, const char *text, size_t len)
{
    if (len == 0)
        return;
    if (text[len - 1] != '\n')
        fputs("\n\n", f);
    else if (len < 2 || text[len - 2] != '\n')
        fputc('\n', f);
}

char *export_log_render(const char *existing, const json_t *run, const char *title, const char *change, char *err,
                        size_t err_size)
{
    if (check_one_line("--title", title, 1, err, err_size) != 0 ||
        check_one_line("--change", change, 0, err, err_size) != 0)
        return NULL;
    if (!existing)
        existing = "";
    log_scan scan;
    scan_log(existing, title, &scan);
    ex_text t;
    if (ex_text_open(&t) != 0) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    size_t len = strlen(existing);
    if (len == 0) {
        fputs(log_preamble, t.f);
        fprintf(t.f, "## %s\n\n", title);
        write_entry(t.f, run, change, &scan);
    } else if (scan.section_end < 0) {
        fputs(existing, t.f);
        separate(t.f, existing, len);
        fprintf(t.f, "## %s\n\n", title);
        write_entry(t.f, run, change, &scan);
    } else {
        size_t at = (size_t)scan.section_end;
        fwrite(existing, 1, at, t.f);
        separate(t.f, existing, at);
        write_entry(t.f, run, change, &scan);
        fputs(existing + at, t.f);
    }
    char *out = ex_text_close(&t);
    if (!out)
        snprintf(err, err_size, "out of memory");
    return out;
}

char *export_log_prepare(const char *path, const json_t *run, const char *title, const char *change, char *err,
                         size_t err_size)
{
    char *existing = NULL;
    if (ex_read_existing(path, LOG_FILE_MAX, "a benchmark log", &existing, err, err_size) != 0)
        return NULL;
    json_t *complete = json_deep_copy(run);
    char *text = NULL;
    if (!complete || export_snapshot_complete(complete) != 0)
        snprintf(err, err_size, "%s: cannot write: out of memory", path);
    else
        text = export_log_render(existing, complete, title, change, err, err_size);
    free(existing);
    json_decref(complete);
    return text;
}

int export_log_append(const char *path, const json_t *run, const char *title, const char *change, char *err,
                      size_t err_size)
{
    char *text = export_log_prepare(path, run, title, change, err, err_size);
    if (!text)
        return -1;
    int rc = export_write_atomic(path, text, strlen(text), err, err_size);
    free(text);
    return rc;
}
