/* ceilings_child.c — one step of a ceilings measurement in a child process:
 * its arrays (3 x up to 256 MiB for the triad) and its threads never count
 * in the caller's memory figures, and the caller can stop it at once by
 * killing the child. */
#include "probes/ceilings.h"
#include "probes/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define POLL_MS 20 /* how soon a stop is noticed */

/* The child: measure, send the figure whole, leave without running the
 * parent's exit handlers (curses, atexit) or flushing its stdio. */
static void child_main(const probes_ceiling_plan *plan, int step, int out_fd)
{
    /* Gone with the thread that started it, even if that one crashes. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* The engine's own kernel, whatever the dashboard's setting selected. */
    hst_kernel_use(HST_KERNEL_AUTO);
    probes_metric m = probes_ceilings_run_step(plan, step);
    const char *p = (const char *)&m;
    size_t left = sizeof m;
    while (left > 0) {
        ssize_t n = write(out_fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    _exit(left == 0 ? 0 : 1);
}

static void describe_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Reads the child's figure until it is whole, the child ends, or *stop. */
static int read_figure(int fd, _Atomic int *stop, probes_metric *m)
{
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got < sizeof *m) {
        if (stop && atomic_load(stop))
            return -1;
        int r = poll(&p, 1, POLL_MS);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        ssize_t n = read(fd, (char *)m + got, sizeof *m - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the child ended without a figure */
        got += (size_t)n;
    }
    return got == sizeof *m ? 1 : 0;
}

int probes_ceilings_run_step_in_child(const probes_ceiling_plan *plan, int step, _Atomic int *stop,
                                      probes_metric *out)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        *out = probes_metric_invalid("cannot start the measuring process: pipe: %s", strerror(errno));
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        *out = probes_metric_invalid("cannot start the measuring process: fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(plan, step, fds[1]);
    }
    close(fds[1]);
    probes_metric m;
    int whole = read_figure(fds[0], stop, &m);
    close(fds[0]);
    if (whole < 0)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (whole < 0)
        return -1;
    if (whole) {
        *out = m;
        return 0;
    }
    char how[96];
    describe_status(status, how, sizeof how);
    *out = probes_metric_invalid("the measuring process ended without a figure: %s", how);
    return 1;
}
