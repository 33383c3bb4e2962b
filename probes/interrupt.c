/* interrupt.c — Ctrl-C, SIGTERM and SIGHUP during the headless commands.
 * The handler only records the signal (any thread may run it, the engine's
 * workers included); the command checks at token and run boundaries, drops
 * what it had not written yet and exits 128 + signal. An export already being
 * written completes first, so a finished export is whole and an unfinished one
 * absent. A SIGHUP ignored at start (nohup) stays ignored. */
#include "probes/probes.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t pending_signal;

static void record_signal(int sig)
{
    if (!pending_signal)
        pending_signal = sig;
}

void probes_interrupt_install(void)
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

int probes_interrupted(void)
{
    return pending_signal;
}

int probes_interrupt_exit_status(const char *command)
{
    int sig = pending_signal;
    fprintf(stderr, "%s: interrupted by %s; nothing more was written\n", command,
            sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal");
    return 128 + sig;
}
