/* commands.h — the commands `hstprof.c` dispatches to, one file each beside
 * it (cmd_run.c, cmd_bench.c, ...), as perf's builtin.h declares its
 * builtin-*.c. A command parses its options and calls the layers below it
 * (engine, probes, profiles, exports, serve, tui); no layer calls a command.
 *
 * argv[0] is the command's name. Exit status: 0 ok, 1 run-time error,
 * 2 bad usage (one line on stderr), 128 + N after signal N. */
#ifndef HSTPROF_COMMANDS_H
#define HSTPROF_COMMANDS_H

#include "engine/hst.h"
#include "probes/metrics_feed.h"
#include "profiles/profiles.h"
#include "exports/serve/serve.h"

int cmd_dashboard(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_layerbench(int argc, char **argv);
int cmd_model(int argc, char **argv); /* `model init|info` */
int cmd_events(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_ceilings(int argc, char **argv);
int cmd_profiles(int argc, char **argv);

/* ---- shared by the commands (cmd_common.c) ---------------------------------- */

/* SIGINT/SIGTERM/SIGHUP for the headless commands: the handler records the
 * signal; cmd_interrupted() returns it (0: none) for checks at token and
 * run boundaries (the layers below take it as a callback);
 * cmd_interrupt_exit_status() prints one line and returns 128 + signal. */
void cmd_interrupt_install(void);
int cmd_interrupted(void);
int cmd_interrupt_exit_status(const char *command);

/* ---- settings every engine-running command checks the same way ---------- */

/* A model that is neither a preset nor an existing file: one line naming it
 * as the user set it, how = "--model", "x.ini:3: model =" (a profile's line)
 * or NULL (a positional argument), and 2 (a bad value, like an unknown
 * preset). 0 otherwise: a file that exists but does not load is reported by
 * the loader, exit 1. */
int cmd_check_model(const char *cmd, const char *model, const char *how);
/* The same for the model of the settings, named by its profile line or --model. */
int cmd_check_settings_model(const char *cmd, const hst_settings *s);

/* The --kernel and --precision values (NULL or "": the defaults) as the
 * measured session will take them; the kernel this CPU runs for it in
 * *resolved (may be NULL). 0, or 2 after one line "hstprof <cmd>: --kernel
 * must be ..." or "... this CPU cannot run the avx512 kernel". */
int cmd_check_engine_settings(const char *cmd, const char *kernel, const char *precision, hst_kernel *resolved);
/* The modes the settings name (--mode, else the profile's mode key, else
 * causal), at most max of them (run and the dashboard: 1; bench: a list).
 * The count, or -1 after one line "hstprof <cmd>: --mode must be causal or
 * parity, got 'x'" (naming the profile when the value came from one). */
int cmd_check_modes(const char *cmd, const settings_flags *f, hst_mode *modes, int max);
/* The placement checks before a model loads (threads within this process's
 * PUs unless --oversubscribe, the affinity on this machine), the line naming
 * how the user set each: "--threads 3", "x.ini:4: threads = 8" or "3 threads
 * (every PU, the default)". threads: the count to check (bench checks each
 * of its list). 0, or -1 after one line; *shared (may be NULL) becomes 1
 * when --oversubscribe let threads share PUs. */
int cmd_check_placement(const char *cmd, const settings_flags *f, int threads, int *shared);
/* threads 0 (the defaults', or a profile's "threads = 0") becomes every PU
 * this process may use. */
void cmd_default_threads(hst_settings *s);

/* ---- the hand-written option loop of events, topo and ceilings ----------- */

/* 1 when argv[*i] is --name (value after '=' or in the next argument, *i
 * advanced), 0 when it is not, -1 when the value is missing (one line
 * printed). */
int cmd_opt_value(const char *cmd, int argc, char **argv, int *i, const char *name, const char **value);
/* Prints "unknown option" and returns 2. */
int cmd_bad_option(const char *cmd, const char *arg);
/* value as a whole number within [min, max]; 0, or -1 with one line printed. */
int cmd_parse_int(const char *cmd, const char *opt, const char *value, int min, int max, int *out);

/* ---- monitoring figures for a fleet (cmd_common_metrics.c) -----------------
 * --metrics-listen ADDR:PORT, --metrics-allow-remote and --metrics-file FILE,
 * the same in `run` and the dashboard. */
typedef struct {
    char listen[256], file[1024];
    int allow_remote, seen_listen, seen_file;
} cmd_metrics_flags;
/* The option of that name ("metrics-listen", "metrics-allow-remote",
 * "metrics-file") for a command's table. */
opt_spec cmd_metrics_option(cmd_metrics_flags *m, const char *name);
/* 1 when any of them asks for figures. */
int cmd_metrics_wanted(const cmd_metrics_flags *m);
/* The flags checked before any work: an empty value, --metrics-allow-remote
 * alone, the address (loopback unless allowed). 0, or -1 after one line. */
int cmd_check_metrics(const char *cmd, const cmd_metrics_flags *m);
/* A feed and what serves it, when asked (else both NULL); the endpoint's URL
 * on stderr. 0, or 1 after one line (a port in use, out of memory). */
int cmd_start_metrics(const char *cmd, const cmd_metrics_flags *m, probes_metrics_feed **feed,
                      serve_metrics **server);
/* Stops them (final: the file is written once more) and frees the feed.
 * 0, or 1 after one line when the file's last write failed. */
int cmd_stop_metrics(const char *cmd, probes_metrics_feed *feed, serve_metrics *server, int final);

#endif
