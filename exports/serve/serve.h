/* serve.h — the whole interface of serve/: a run's or the dashboard's
 * monitoring figures (probes/metrics_feed.h) served to a fleet's monitoring,
 * in the Prometheus text exposition format (exports/metrics.c):
 *
 *   --metrics-listen ADDR:PORT  an HTTP endpoint, GET /metrics (libmicrohttpd,
 *                               its own thread); loopback only unless the
 *                               caller allows other addresses explicitly
 *   --metrics-file FILE         a textfile-collector file (node_exporter),
 *                               rewritten atomically once a second
 *
 * Both read the feed's latest published copy; neither blocks its producer. */
#ifndef HSTPROF_SERVE_H
#define HSTPROF_SERVE_H

#include "probes/metrics_feed.h"

#include <stddef.h>

typedef struct {
    const char *listen; /* "ADDR:PORT", "[IPv6]:PORT" or ":PORT" (127.0.0.1); NULL or "": no endpoint */
    int allow_remote;   /* 1: an address other than loopback may be served (--metrics-allow-remote) */
    const char *file;   /* NULL or "": none */
} serve_metrics_options;

typedef struct serve_metrics serve_metrics;

/* The address checked before any work: 0, or -1 with one line in why (no
 * command prefix), e.g. "--metrics-listen 0.0.0.0:9100 is not a loopback
 * address ... add --metrics-allow-remote". */
int serve_check_listen(const char *listen, int allow_remote, char *why, size_t why_len);

/* Binds the endpoint (port 0: any free port; serve_metrics_url says which)
 * and starts the file writer; their threads never take the process's
 * signals. NULL with one line in err (e.g. "--metrics-listen
 * 127.0.0.1:9100: cannot listen: Address already in use"). */
serve_metrics *serve_metrics_start(const serve_metrics_options *o, probes_metrics_feed *feed, char *err,
                                   size_t err_len);
/* "http://127.0.0.1:9100/metrics", or "" without an endpoint. */
const char *serve_metrics_url(const serve_metrics *s);
/* Stops the endpoint and the writer; with final, writes the file once more
 * from the feed as it is now. 0, or -1 with one line in err when the file's
 * last write failed (the file is then as it was, never half-written). NULL
 * is harmless. */
int serve_metrics_stop(serve_metrics *s, int final, char *err, size_t err_len);

#endif
