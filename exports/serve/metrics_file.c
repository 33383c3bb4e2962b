/* metrics_file.c — the textfile-collector file: rewritten once a second on
 * its own thread through the one atomic writer, so that a collector reading
 * it at any moment finds the previous version or the new one, whole. */
#include "exports/serve/internal.h"

#include "exports/atomic.h"
#include "exports/exports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRITE_EVERY_S 1

char *serve_render(probes_metrics_feed *feed)
{
    json_t *o = probes_metrics_feed_json(feed);
    char *text = o ? export_metrics_render(o) : NULL;
    json_decref(o);
    return text;
}

/* One write; remembers whether it failed and why (cleared by a success). */
static void write_once(serve_metrics *s)
{
    char err[1024];
    char *text = serve_render(s->feed);
    int rc = text ? export_write_atomic(s->file, text, strlen(text), err, sizeof err) : -1;
    if (!text)
        snprintf(err, sizeof err, "%.900s: cannot write: out of memory", s->file);
    free(text);
    pthread_mutex_lock(&s->lock);
    s->last_failed = rc != 0;
    if (rc != 0)
        snprintf(s->error, sizeof s->error, "--metrics-file %s", err);
    pthread_mutex_unlock(&s->lock);
}

static void *writer_main(void *arg)
{
    serve_metrics *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WRITE_EVERY_S;
        while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT) {
        }
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->lock);
        write_once(s);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int serve_file_start(serve_metrics *s, char *err, size_t err_len)
{
    int rc = pthread_create(&s->writer, NULL, writer_main, s);
    if (rc != 0) {
        snprintf(err, err_len, "--metrics-file %s: cannot start its writer: %s", s->file, strerror(rc));
        return -1;
    }
    s->writer_started = 1;
    return 0;
}

int serve_file_stop(serve_metrics *s, int final)
{
    if (s->writer_started) {
        pthread_mutex_lock(&s->lock);
        s->stop = 1;
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->writer, NULL);
        s->writer_started = 0;
    }
    if (final && s->file[0])
        write_once(s);
    return s->last_failed ? -1 : 0;
}
