/* cmd_common.c — what the commands share: option parsing for events, topo
 * and ceilings (one line on stderr for every bad input, exit status 2) and
 * the signal handling of the headless commands. */
#include "commands.h"
#include "probes/session.h"
#include "probes/topo.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_opt_value(const char *cmd, int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0)
        return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "hstprof %s: %s needs a value (see hstprof %s --help)\n", cmd, name, cmd);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cmd_bad_option(const char *cmd, const char *arg)
{
    fprintf(stderr, "hstprof %s: unknown option '%s' (see hstprof %s --help)\n", cmd, arg, cmd);
    return 2;
}

int cmd_parse_int(const char *cmd, const char *opt, const char *value, int min, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "hstprof %s: %s '%s': expected a whole number from %d to %d\n", cmd, opt, value, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* ---- Ctrl-C, SIGTERM and SIGHUP during the headless commands ----------------
 * The handler only records the signal (any thread may run it, the engine's
 * workers included); the command checks at token and run boundaries, drops
 * what it had not written yet and exits 128 + signal. An export already being
 * written completes first, so a finished export is whole and an unfinished one
 * absent. A SIGHUP ignored at start (nohup) stays ignored. */

static volatile sig_atomic_t pending_signal;

static void record_signal(int sig)
{
    if (sig == SIGINT && pending_signal == SIGINT) { /* a second Ctrl-C: stop now (files on disk stay whole) */
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
    if (!pending_signal)
        pending_signal = sig;
}

void cmd_interrupt_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = record_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Under nohup SIGHUP starts ignored: a soak run must outlive its terminal. */
    struct sigaction old;
    if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
        return;
    sigaction(SIGHUP, &sa, NULL);
}

int cmd_interrupted(void)
{
    return pending_signal;
}

int cmd_interrupt_exit_status(const char *command)
{
    int sig = pending_signal;
    fprintf(stderr, "%s: interrupted by %s; nothing more was written\n", command,
            sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal");
    return 128 + sig;
}

/* ---- the model ------------------------------------------------------------------------ */

int cmd_check_model(const char *cmd, const char *model, const char *how)
{
    hst_config cfg;
    if (hst_preset_config(model, &cfg) == 0 || access(model, F_OK) == 0 || errno != ENOENT)
        return 0; /* a file that exists but does not load is the loader's to report (exit 1) */
    char presets[512] = "";
    for (int i = 0; i < hst_preset_count(); i++)
        snprintf(presets + strlen(presets), sizeof presets - strlen(presets), "%s%s", i ? ", " : "",
                 hst_preset_name(i));
    fprintf(stderr, "hstprof %s: %s%s%s: unknown model: not a preset (%s) and no such file\n", cmd, how ? how : "",
            how ? " " : "", model, presets);
    return 2;
}

int cmd_check_settings_model(const char *cmd, const hst_settings *s)
{
    char how[1200];
    if (s->model_from[0])
        snprintf(how, sizeof how, "%s: model =", s->model_from);
    else
        snprintf(how, sizeof how, "--model");
    return cmd_check_model(cmd, s->model, how);
}

/* ---- the engine's settings --------------------------------------------------------- */

int cmd_check_engine_settings(const char *cmd, const char *kernel, const char *precision, hst_kernel *resolved)
{
    char why[300];
    hst_kernel k = HST_KERNEL_AUTO;
    int got = 0;
    if (probes_check_kernel_name("--kernel", kernel && *kernel ? kernel : "auto", why, sizeof why) != 0 ||
        probes_check_precision_name("--precision", precision && *precision ? precision : "f32", why, sizeof why) != 0) {
        fprintf(stderr, "hstprof %s: %s\n", cmd, why);
        return 2;
    }
    if (kernel && *kernel)
        hst_kernel_from_name(kernel, &k);
    if ((got = hst_kernel_resolve(k)) < 0) {
        fprintf(stderr, "hstprof %s: this CPU cannot run the %s kernel\n", cmd, kernel);
        return 2;
    }
    if (resolved)
        *resolved = (hst_kernel)got;
    return 0;
}

int cmd_check_modes(const char *cmd, const settings_flags *f, hst_mode *modes, int max)
{
    char what[PROFILE_NAME_MAX + 32], why[400];
    if (f->seen_mode || !f->s.name[0])
        snprintf(what, sizeof what, "--mode");
    else
        snprintf(what, sizeof what, "profile %s: mode", f->s.name);
    int n = settings_modes(f->s.mode, what, modes, max, why, sizeof why);
    if (n < 0)
        fprintf(stderr, "hstprof %s: %s\n", cmd, why);
    return n;
}

int cmd_check_placement(const char *cmd, const settings_flags *f, int threads, int *shared)
{
    const hst_settings *s = &f->s;
    char what[1200], affinity_what[1400], why[2400];
    if (s->threads_from[0])
        snprintf(what, sizeof what, "%s: threads = %d", s->threads_from, threads);
    else if (f->seen_threads)
        snprintf(what, sizeof what, "--threads %d", threads);
    else
        snprintf(what, sizeof what, "%d threads (every PU, the default)", threads);
    snprintf(affinity_what, sizeof affinity_what, "%s: affinity = %s", s->affinity_from, s->affinity);
    const probes_placement placement = {threads, what, s->affinity, s->affinity_from[0] ? affinity_what : NULL,
                                        f->oversubscribe};
    int share = 0;
    if (probes_check_placement(&placement, &share, why, sizeof why) != 0) {
        fprintf(stderr, "hstprof %s: %s\n", cmd, why);
        return -1;
    }
    if (shared)
        *shared |= share;
    return 0;
}

void cmd_default_threads(hst_settings *s)
{
    if (s->threads > 0)
        return;
    s->threads = probes_pu_budget_get().allowed;
    s->threads_from[0] = '\0'; /* a profile's "threads = 0" is the default, not a choice to point at */
}
