/* plot_files.c — reports written with their plots beside them: the names
 * of the SVGs (from the Markdown's), recorded in the report object so the
 * Markdown shows them, and the texts of all the files, for one all-or-nothing
 * write. */
#include "exports/internal.h"

#include <stdlib.h>
#include <string.h>

/* path without a .md / .markdown extension (the whole path otherwise). */
static void stem_of(const char *path, char *stem, size_t len)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    size_t n = strlen(path);
    if (dot && (!slash || dot > slash) && (strcmp(dot, ".md") == 0 || strcmp(dot, ".markdown") == 0))
        n = (size_t)(dot - path);
    snprintf(stem, len, "%.*s", (int)n, path);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* paths[i] = stem + suffix; -1 (err) when too long. */
static int companion(const char *stem, const char *suffix, char *out, char *err, size_t err_size)
{
    int n = snprintf(out, 1024, "%s%s", stem, suffix);
    if (n < 0 || n >= 1024) {
        snprintf(err, err_size, "%.200s%s: path too long", stem, suffix);
        return -1;
    }
    return 0;
}

static void free_texts(char **texts, int n)
{
    for (int i = 0; i < n; i++) {
        free(texts[i]);
        texts[i] = NULL;
    }
}

int export_bench_files(const json_t *report, const char *md_path, char paths[2][1024], char *texts[2], char *err,
                       size_t err_size)
{
    char stem[1024];
    texts[0] = texts[1] = NULL;
    stem_of(md_path, stem, sizeof stem);
    snprintf(paths[0], 1024, "%s", md_path);
    if (companion(stem, ".svg", paths[1], err, err_size) != 0)
        return -1;
    json_t *copy = json_copy((json_t *)report); /* shallow: only "plot" is added */
    if (copy && json_object_set_new(copy, "plot", json_string(base_name(paths[1]))) == 0) {
        texts[0] = export_bench_render(copy, EXPORT_MD);
        texts[1] = export_bench_plot_svg(copy);
    }
    json_decref(copy);
    if (!texts[0] || !texts[1]) {
        free_texts(texts, 2);
        snprintf(err, err_size, "%.900s: cannot write: out of memory", md_path);
        return -1;
    }
    return 0;
}

int export_notes_files(const json_t *snapshot, const char *md_path, char paths[EXPORT_NOTES_FILES][1024],
                       char *texts[EXPORT_NOTES_FILES], char *err, size_t err_size)
{
    char stem[1024];
    for (int i = 0; i < EXPORT_NOTES_FILES; i++)
        texts[i] = NULL;
    stem_of(md_path, stem, sizeof stem);
    snprintf(paths[0], 1024, "%s", md_path);
    if (companion(stem, "-latency.svg", paths[1], err, err_size) != 0 ||
        companion(stem, "-throughput.svg", paths[2], err, err_size) != 0)
        return -1;
    json_t *copy = json_copy((json_t *)snapshot);
    json_t *plots = json_pack("{s:s, s:s}", "latency", base_name(paths[1]), "throughput", base_name(paths[2]));
    if (copy && plots && json_object_set(copy, "plots", plots) == 0) {
        texts[0] = export_notes_render(copy);
        texts[1] = export_latency_plot_svg(copy);
        texts[2] = export_throughput_plot_svg(copy);
    }
    json_decref(plots);
    json_decref(copy);
    if (!texts[0] || !texts[1] || !texts[2]) {
        free_texts(texts, EXPORT_NOTES_FILES);
        snprintf(err, err_size, "%.900s: cannot write: out of memory", md_path);
        return -1;
    }
    return 0;
}
