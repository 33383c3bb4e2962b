/* snapshot.c — a run snapshot as JSON (the structure itself), as CSV rows
 * (runs_csv.c), or as performance notes; and the three written together for
 * the dashboard's 's' key. */
#include "exports/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int export_format_from_name(const char *name, export_format *out)
{
    if (strcmp(name, "md") == 0 || strcmp(name, "markdown") == 0)
        *out = EXPORT_MD;
    else if (strcmp(name, "csv") == 0)
        *out = EXPORT_CSV;
    else if (strcmp(name, "json") == 0)
        *out = EXPORT_JSON;
    else
        return -1;
    return 0;
}

int export_format_from_path(const char *path, export_format *out)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return -1;
    return export_format_from_name(dot + 1, out);
}

char *export_snapshot_render(const json_t *snapshot, export_format fmt)
{
    switch (fmt) {
    case EXPORT_MD: return export_notes_render(snapshot);
    case EXPORT_CSV: return export_snapshot_csv_render(snapshot);
    case EXPORT_JSON: return export_json_render(snapshot);
    }
    return NULL;
}

/* ---- completing and writing ---------------------------------------------------- */

int export_snapshot_complete(json_t *snapshot)
{
    if (!json_object_get(snapshot, "date")) {
        char date[64];
        time_t now = time(NULL);
        struct tm tm;
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&now, &tm));
        if (json_object_set_new(snapshot, "date", json_string(date)) != 0)
            return -1;
    }
    return 0;
}

/* The names of the snapshot's files: md, csv, json, the two plots, the trace. */
static int snapshot_paths(const char *dir, const char *base, int with_trace, char paths[EXPORT_SNAPSHOT_FILES][1024],
                          char *err, size_t err_size)
{
    static const char *const suffix[EXPORT_SNAPSHOT_FILES] = {".md", ".csv", ".json", "-latency.svg",
                                                              "-throughput.svg", ".trace.json"};
    for (int i = 0; i < EXPORT_SNAPSHOT_FILES; i++) {
        paths[i][0] = '\0';
        if (i == EXPORT_SNAPSHOT_FILES - 1 && !with_trace)
            break;
        int n = snprintf(paths[i], 1024, "%s/%s%s", dir, base, suffix[i]);
        if (n < 0 || n >= 1024) {
            snprintf(err, err_size, "%.200s/%.200s%s: path too long", dir, base, suffix[i]);
            return -1;
        }
    }
    return 0;
}

/* What the snapshot's JSON records of its companions (their names beside it). */
static int name_companions(json_t *snap, char paths[EXPORT_SNAPSHOT_FILES][1024])
{
    const char *latency = strrchr(paths[3], '/') + 1, *throughput = strrchr(paths[4], '/') + 1;
    int rc = json_object_set_new(snap, "plots", json_pack("{s:s, s:s}", "latency", latency, "throughput", throughput));
    if (rc == 0 && paths[5][0])
        rc = json_object_set_new(snap, "trace", json_string(strrchr(paths[5], '/') + 1));
    return rc;
}

int export_snapshot_files(const json_t *snapshot, const json_t *trace, const char *dir, const char *base,
                          char paths[EXPORT_SNAPSHOT_FILES][1024], char *err, size_t err_size)
{
    if (snapshot_paths(dir, base, trace != NULL, paths, err, err_size) != 0)
        return -1;
    /* A copy: the caller's snapshot stays as it was, ready for a retry elsewhere. */
    json_t *complete = json_deep_copy(snapshot);
    char *text[EXPORT_SNAPSHOT_FILES] = {NULL};
    char notes_paths[EXPORT_NOTES_FILES][1024];
    int n = trace ? EXPORT_SNAPSHOT_FILES : EXPORT_SNAPSHOT_FILES - 1;
    int rc = complete && export_snapshot_complete(complete) == 0 && name_companions(complete, paths) == 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err, err_size, "%s: cannot write: out of memory", paths[0]);
    if (rc == 0) { /* md and its two plots */
        char *notes[EXPORT_NOTES_FILES];
        rc = export_notes_files(complete, paths[0], notes_paths, notes, err, err_size);
        text[0] = rc == 0 ? notes[0] : NULL;
        text[3] = rc == 0 ? notes[1] : NULL;
        text[4] = rc == 0 ? notes[2] : NULL;
    }
    if (rc == 0) {
        text[1] = export_snapshot_render(complete, EXPORT_CSV);
        text[2] = export_snapshot_render(complete, EXPORT_JSON);
        if (trace)
            text[5] = export_trace_events_render(trace);
        rc = text[1] && text[2] && (!trace || text[5]) ? 0 : -1;
        if (rc != 0)
            snprintf(err, err_size, "%s: cannot write: out of memory", paths[0]);
    }
    if (rc == 0) {
        const char *names[EXPORT_SNAPSHOT_FILES], *data[EXPORT_SNAPSHOT_FILES];
        size_t lens[EXPORT_SNAPSHOT_FILES];
        for (int i = 0; i < n; i++)
            names[i] = paths[i], data[i] = text[i], lens[i] = strlen(text[i]);
        rc = export_write_atomic_files(n, names, data, lens, err, err_size);
    }
    for (int i = 0; i < EXPORT_SNAPSHOT_FILES; i++)
        free(text[i]);
    json_decref(complete);
    return rc;
}
