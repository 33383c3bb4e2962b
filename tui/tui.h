/* tui.h — the whole interface of tui/: the live dashboard.
 *
 * `hstprof` with no arguments and `hstprof dashboard [OPTIONS]` open it:
 * the engine generates continuously on its own thread while panels show
 * throughput, per-layer timers, counters, bandwidth and compute against the
 * machine's ceilings, memory, topology, an A/B comparison and the text.
 * `--screen-dump SECONDS` renders it once as plain text to stdout instead. */
#ifndef HSTPROF_TUI_H
#define HSTPROF_TUI_H

/* argv[0] is the command name; returns the exit status (0 ok, 1 run-time
 * error, 2 bad usage, 128 + N after signal N asked it to quit). */
int tui_main(int argc, char **argv);

#endif
