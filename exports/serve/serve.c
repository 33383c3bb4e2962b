/* serve.c — starting and stopping the endpoint and the file writer together.
 * Their threads start with every signal blocked: Ctrl-C, SIGTERM and the
 * terminal's resizes stay with the threads that handle them. */
#include "exports/serve/internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

serve_metrics *serve_metrics_start(const serve_metrics_options *o, probes_metrics_feed *feed, char *err,
                                   size_t err_len)
{
    serve_metrics *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "metrics: out of memory");
        return NULL;
    }
    s->feed = feed;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (o->file && o->file[0])
        snprintf(s->file, sizeof s->file, "%s", o->file);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = o->listen && o->listen[0] ? serve_http_start(s, o->listen, o->allow_remote, err, err_len) : 0;
    if (rc == 0 && s->file[0])
        rc = serve_file_start(s, err, err_len);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        serve_metrics_stop(s, 0, NULL, 0);
        return NULL;
    }
    return s;
}

const char *serve_metrics_url(const serve_metrics *s)
{
    return s ? s->url : "";
}

int serve_metrics_stop(serve_metrics *s, int final, char *err, size_t err_len)
{
    if (!s)
        return 0;
    serve_http_stop(s);
    int rc = serve_file_stop(s, final);
    if (rc != 0 && err)
        snprintf(err, err_len, "%s", s->error);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
    return rc;
}
