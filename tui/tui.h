/* tui.h — the whole interface of tui/: the live dashboard.
 *
 * `hstprof` with no arguments and `hstprof dashboard [OPTIONS]` open it
 * (cmd_dashboard.c reads the options): the engine generates continuously on
 * its own thread while panels show throughput, per-layer timers, counters,
 * bandwidth and compute against the machine's ceilings, memory, topology,
 * an A/B comparison and the text. A screen dump renders it once as plain
 * text to stdout instead. */
#ifndef HSTPROF_TUI_H
#define HSTPROF_TUI_H

#include <stddef.h>
#include <stdint.h>

/* What the dashboard starts with; checked by the caller. */
typedef struct {
    const char *model;     /* preset or safetensors file */
    uint64_t seed;
    int threads;           /* >= 1 */
    const char *affinity;  /* none|compact|scatter|LIST */
    const char *kernel;    /* auto|avx512|avx2|portable */
    const char *precision; /* f32|bf16|int8 */
    const char *mode;      /* causal|parity */
    const char *prompt;    /* "": the default prompt */
    const char *events;    /* "": the default set */
    const char *profile;   /* the profile's name ("" none), for snapshots */
    int no_counters, no_ceilings;
    int oversubscribe;     /* + may go past the PUs */
    int screen_dump;       /* 1: run screen_dump_s seconds, print the dashboard once, return */
    double screen_dump_s;  /* with dump_when: the longest wait */
    int dump_when;         /* 1: dump as soon as the conditions below hold (--screen-dump-when) */
    uint64_t dump_when_tokens; /* decode tokens of the shown segment; 0: any */
    int dump_when_ceilings;    /* the ceilings are final (cached, measured, or why not) */
    const char *dump_when_text; /* as given, for the message when it is not reached */
    int dump_cols, dump_rows; /* the dump's size; 0: the terminal's, else 120x40 */
    struct probes_metrics_feed *metrics_feed; /* non-NULL: monitoring figures published there */
    int delay;             /* redraw at most every delay tenths of a second (htop's --delay); < 1: 1 */
    unsigned hidden;       /* panels hidden at start (tui_parse_hide) */
} tui_config;

#define TUI_DELAY_MAX 100 /* tenths of a second, as htop's --delay */

/* --hide: panel names, comma-separated (header, throughput, timers,
 * counters, bandwidth, memory, ab, segments, topology, text), as a mask for
 * tui_config.hidden. 0 ok; -1 with one line in err naming the unknown name
 * and listing the known ones. */
int tui_parse_hide(const char *list, unsigned *hidden, char *err, size_t err_size);

/* Returns the exit status (0 ok, 1 run-time error, 2 a screen dump smaller
 * than the dashboard's minimum size, refused before anything starts, 128 + N
 * after signal N asked it to quit). */
int tui_run(const tui_config *c);

#endif
