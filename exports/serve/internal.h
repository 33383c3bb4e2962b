/* internal.h — shared by the .c files of serve/ only; the interface is serve.h. */
#ifndef HSTPROF_SERVE_INTERNAL_H
#define HSTPROF_SERVE_INTERNAL_H

#include "exports/serve/serve.h"

#include <microhttpd.h>
#include <pthread.h>
#include <sys/socket.h>

struct serve_metrics {
    probes_metrics_feed *feed;
    /* the endpoint */
    struct MHD_Daemon *daemon;
    char url[128];
    /* the file writer */
    char file[1024];
    pthread_t writer;
    int writer_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
    int last_failed;      /* the file's last write failed (error says why) */
    char error[1100];
};

/* The feed as exposition text (malloc'd), NULL when out of memory. */
char *serve_render(probes_metrics_feed *feed);
/* --metrics-listen resolved, and checked for loopback unless allow_remote. */
int serve_resolve_listen(const char *listen, int allow_remote, struct sockaddr_storage *out, socklen_t *out_len,
                         char *why, size_t why_len);
int serve_http_start(serve_metrics *s, const char *listen, int allow_remote, char *err, size_t err_len);
void serve_http_stop(serve_metrics *s);
int serve_file_start(serve_metrics *s, char *err, size_t err_len);
/* Stops the writer; final: one more write. 0, or -1 (s->error) when the last write failed. */
int serve_file_stop(serve_metrics *s, int final);

#endif
