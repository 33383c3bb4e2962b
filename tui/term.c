/* term.c — the terminal's lifecycle: start curses, and give the terminal
 * back on every way out. A normal exit and the quit signals go through
 * endwin (atexit, and the main loop's flag); a crash cannot run endwin (not
 * async-signal-safe), so its handler writes the terminal's own "leave
 * alternate screen, show cursor, reset attributes" strings, prepared in
 * advance, restores the saved termios, then re-raises the signal so the
 * exit status and any core dump stay truthful. */
#include "tui/internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t quit_signal;
static volatile sig_atomic_t curses_active;
static struct termios saved_termios;
static int have_saved_termios;
static char restore_sequence[256];
static size_t restore_length;
static SCREEN *screen;

static const int quit_signals[] = {SIGINT, SIGTERM, SIGHUP};
static const int crash_signals[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};

static void on_quit_signal(int sig)
{
    quit_signal = sig;
}

static void on_crash_signal(int sig)
{
    if (curses_active) {
        ssize_t ignored = write(STDOUT_FILENO, restore_sequence, restore_length);
        (void)ignored;
        if (have_saved_termios)
            tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

int term_quit_requested(void)
{
    return quit_signal;
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_quit_signal; /* no SA_RESTART: getch returns at once */
    for (size_t i = 0; i < sizeof quit_signals / sizeof quit_signals[0]; i++)
        sigaction(quit_signals[i], &sa, NULL);
    sa.sa_handler = on_crash_signal;
    sa.sa_flags = SA_NODEFER;
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
        sigaction(crash_signals[i], &sa, NULL);
}

static void append_capability(const char *name)
{
    char *cap = tigetstr(name);
    if (!cap || cap == (char *)-1)
        return;
    size_t len = strlen(cap);
    if (restore_length + len < sizeof restore_sequence) {
        memcpy(restore_sequence + restore_length, cap, len + 1); /* with its '\0' */
        restore_length += len;
    }
}

void term_block_signals_for_workers(sigset_t *old)
{
    sigset_t block;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof quit_signals / sizeof quit_signals[0]; i++)
        sigaddset(&block, quit_signals[i]);
    sigaddset(&block, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &block, old);
}

int term_start(void)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "hstprof dashboard: the dashboard needs a terminal; for a text rendering use --screen-dump SECONDS\n");
        return -1;
    }
    have_saved_termios = tcgetattr(STDIN_FILENO, &saved_termios) == 0;
    install_handlers(); /* before curses, which then leaves them alone */
    screen = newterm(NULL, stdout, stdin);
    if (!screen) {
        const char *term = getenv("TERM");
        fprintf(stderr, "hstprof dashboard: cannot use terminal type '%s' (no terminfo entry); try TERM=xterm-256color\n",
                term ? term : "(unset)");
        return -1;
    }
    restore_length = 0;
    append_capability("rmcup");
    append_capability("cnorm");
    append_capability("sgr0");
    curses_active = 1;
    static int atexit_done;
    if (!atexit_done++)
        atexit(term_stop);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    typeahead(-1); /* no input polling in the middle of every refresh */
    timeout(100); /* the UI wakes at most ~10 times a second */
    return 0;
}

void term_stop(void)
{
    if (!curses_active)
        return;
    curses_active = 0;
    endwin();
    delscreen(screen);
    screen = NULL;
}
