/* cmd_common_metrics.c — the monitoring options `run` and the dashboard
 * share: their table entries, the checks before any work, and starting and
 * stopping the feed with its endpoint and file (exports/serve/). */
#include "commands.h"
#include "exports/serve/serve.h"

#include <stdio.h>
#include <string.h>

opt_spec cmd_metrics_option(cmd_metrics_flags *m, const char *name)
{
    if (strcmp(name, "metrics-listen") == 0)
        return (opt_spec){"metrics-listen", 0, OPT_STRING, m->listen, sizeof m->listen, 0, 0, "ADDR:PORT",
                          "serve Prometheus metrics at http://ADDR:PORT/metrics (loopback only unless "
                          "--metrics-allow-remote; port 0 picks a free one, printed on stderr)",
                          &m->seen_listen};
    if (strcmp(name, "metrics-allow-remote") == 0)
        return (opt_spec){"metrics-allow-remote", 0, OPT_FLAG, &m->allow_remote, 0, 0, 0, NULL,
                          "let --metrics-listen use an address other machines can reach", NULL};
    return (opt_spec){"metrics-file", 0, OPT_STRING, m->file, sizeof m->file, 0, 0, "FILE.prom",
                      "rewrite a Prometheus textfile-collector file atomically once a second (and at the end)",
                      &m->seen_file};
}

int cmd_metrics_wanted(const cmd_metrics_flags *m)
{
    return m->listen[0] || m->file[0];
}

int cmd_check_metrics(const char *cmd, const cmd_metrics_flags *m)
{
    char why[1400];
    if (m->seen_listen && !m->listen[0]) {
        fprintf(stderr, "hstprof %s: --metrics-listen is empty; give ADDR:PORT like 127.0.0.1:9464\n", cmd);
        return -1;
    }
    if (m->allow_remote && !m->listen[0]) {
        fprintf(stderr, "hstprof %s: --metrics-allow-remote needs --metrics-listen ADDR:PORT\n", cmd);
        return -1;
    }
    if (m->listen[0] && serve_check_listen(m->listen, m->allow_remote, why, sizeof why) != 0) {
        fprintf(stderr, "hstprof %s: %s\n", cmd, why);
        return -1;
    }
    if ((m->seen_file || m->file[0]) && args_check_output_path("--metrics-file", m->file, why, sizeof why) != 0) {
        fprintf(stderr, "hstprof %s: %s\n", cmd, why);
        return -1;
    }
    return 0;
}

int cmd_start_metrics(const char *cmd, const cmd_metrics_flags *m, probes_metrics_feed **feed, serve_metrics **server)
{
    *feed = NULL;
    *server = NULL;
    if (!cmd_metrics_wanted(m))
        return 0;
    char err[1400];
    *feed = probes_metrics_feed_create();
    const serve_metrics_options o = {m->listen, m->allow_remote, m->file};
    if (*feed)
        *server = serve_metrics_start(&o, *feed, err, sizeof err);
    else
        snprintf(err, sizeof err, "out of memory for the metrics");
    if (!*server) {
        fprintf(stderr, "hstprof %s: %s\n", cmd, err);
        probes_metrics_feed_free(*feed);
        *feed = NULL;
        return 1;
    }
    if (m->listen[0])
        fprintf(stderr, "hstprof %s: serving metrics at %s\n", cmd, serve_metrics_url(*server));
    return 0;
}

int cmd_stop_metrics(const char *cmd, probes_metrics_feed *feed, serve_metrics *server, int final)
{
    char err[1400];
    int rc = serve_metrics_stop(server, final, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "hstprof %s: %s\n", cmd, err);
    probes_metrics_feed_free(feed);
    return rc != 0 ? 1 : 0;
}
