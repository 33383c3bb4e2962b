/* test_metrics.c — the monitoring figures in the Prometheus text format:
 * names, types and labels as Prometheus' conventions want them, a figure
 * that is not known left out (never 0), the histogram cumulative; the
 * endpoint (libmicrohttpd) on loopback only unless allowed, its errors; the
 * textfile-collector file rewritten atomically; and a run publishing its
 * figures. promtool checks the real outputs in tests/e2e_metrics.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "exports/exports.h"
#include "probes/metrics_feed.h"
#include "probes/runner.h"
#include "exports/serve/serve.h"
#include "tests/harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_NS 30000000000ull /* bounds a hang only */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static probes_metrics_state *sample_state(void)
{
    probes_metrics_state *s = calloc(1, sizeof *s);
    probes_metrics_state_init(s);
    snprintf(s->host, sizeof s->host, "node-1");
    probes_metrics_labels l = {.threads = 2};
    snprintf(l.model, sizeof l.model, "my \"best\"\\model.safetensors");
    snprintf(l.mode, sizeof l.mode, "causal");
    snprintf(l.precision, sizeof l.precision, "bf16");
    snprintf(l.kernel, sizeof l.kernel, "avx512");
    snprintf(l.affinity, sizeof l.affinity, "compact");
    probes_metrics_series *x = probes_metrics_state_use(s, &l);
    x->tokens_generated = 10;
    x->prefill_tokens = 39;
    x->restarts = 1;
    probes_metrics_series_latency(x, 200000);  /* 0.2 ms */
    probes_metrics_series_latency(x, 900000);  /* 0.9 ms */
    probes_metrics_series_latency(x, 3000000); /* 3 ms */
    const char names[2][PROBES_NAME_MAX] = {"task-clock", "cycles"};
    probes_metrics_series_events(x, 2, names);
    const double deltas[2] = {1000, NAN}; /* cycles never counted (no PMU) */
    probes_metrics_series_add_events(x, deltas, 2);
    s->tokens_per_s = 812.5;
    s->rss_bytes = 46153728;
    s->kv_cache_bytes = 3145728;
    return s; /* pss, bandwidth, flops: not known */
}

static char *render(const probes_metrics_state *s)
{
    json_t *o = probes_metrics_json(s);
    char *text = export_metrics_render(o);
    json_decref(o);
    return text;
}

static void test_exposition_follows_prometheus_conventions(void **state)
{
    (void)state;
    probes_metrics_state *s = sample_state();
    char *text = render(s);
    const char *labels = "{model=\"my \\\"best\\\"\\\\model.safetensors\",mode=\"causal\",precision=\"bf16\","
                         "kernel=\"avx512\",threads=\"2\",affinity=\"compact\",host=\"node-1\"";
    char line[512];
    snprintf(line, sizeof line, "# TYPE hstprof_tokens_generated_total counter\nhstprof_tokens_generated_total%s} 10\n",
             labels);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "hstprof_prefill_tokens_total%s} 39\n", labels);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "hstprof_restarts_total%s} 1\n", labels);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "hstprof_perf_events_total%s,event=\"task-clock\"} 1000\n", labels);
    assert_non_null(strstr(text, line));
    assert_null(strstr(text, "event=\"cycles\"")); /* never counted: absent */
    /* the histogram: seconds, cumulative, +Inf = count */
    assert_non_null(strstr(text, "# TYPE hstprof_token_latency_seconds histogram\n"));
    snprintf(line, sizeof line, "hstprof_token_latency_seconds_bucket%s,le=\"0.00025\"} 1\n", labels);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "hstprof_token_latency_seconds_bucket%s,le=\"0.001\"} 2\n", labels);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "hstprof_token_latency_seconds_bucket%s,le=\"+Inf\"} 3\n", labels);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "hstprof_token_latency_seconds_count%s} 3\n", labels);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "hstprof_token_latency_seconds_sum%s} 0.0041\n", labels);
    assert_non_null(strstr(text, line));
    /* gauges: the known ones only */
    assert_non_null(strstr(text, "# TYPE hstprof_decode_tokens_per_second gauge\n"));
    snprintf(line, sizeof line, "hstprof_resident_memory_bytes%s} 46153728\n", labels);
    assert_non_null(strstr(text, line));
    assert_non_null(strstr(text, "hstprof_kv_cache_bytes{"));
    assert_null(strstr(text, "hstprof_proportional_memory_bytes"));
    assert_null(strstr(text, "hstprof_achieved_bandwidth_bytes_per_second"));
    assert_null(strstr(text, "hstprof_achieved_flops_per_second"));
    /* every family has its HELP and TYPE once; every counter ends in _total */
    for (const char *p = strstr(text, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[128], type[32];
        assert_int_equal(sscanf(p, "# TYPE %127s %31s", name, type), 2);
        char help[160];
        snprintf(help, sizeof help, "# HELP %s ", name);
        assert_non_null(strstr(text, help));
        if (strcmp(type, "counter") == 0)
            assert_string_equal(name + strlen(name) - 6, "_total");
    }
    free(text);
    free(s);
}

static void test_nothing_known_is_an_empty_exposition(void **state)
{
    (void)state;
    probes_metrics_state *s = calloc(1, sizeof *s);
    probes_metrics_state_init(s);
    char *text = render(s);
    assert_string_equal(text, "");
    free(text);
    free(s);
}

static void test_settings_beyond_capacity_replace_the_least_recently_used(void **state)
{
    (void)state;
    probes_metrics_state *s = calloc(1, sizeof *s);
    probes_metrics_state_init(s);
    probes_metrics_labels l;
    memset(&l, 0, sizeof l);
    for (int t = 1; t <= PROBES_METRICS_SERIES + 3; t++) {
        l.threads = t;
        probes_metrics_state_use(s, &l)->tokens_generated = (uint64_t)t;
    }
    assert_int_equal(s->n_series, PROBES_METRICS_SERIES);
    l.threads = PROBES_METRICS_SERIES + 3;
    assert_int_equal(probes_metrics_state_use(s, &l)->tokens_generated, PROBES_METRICS_SERIES + 3);
    l.threads = 1; /* the oldest: gone, back at 0 */
    assert_int_equal(probes_metrics_state_use(s, &l)->tokens_generated, 0);
    free(s);
}

/* ---- the endpoint ------------------------------------------------------------------------------------ */

/* A whole HTTP/1.0 exchange with 127.0.0.1:port (malloc'd response). */
static char *http(int port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_true(write(fd, request, strlen(request)) == (ssize_t)strlen(request));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    return buf;
}

static int port_of(const serve_metrics *s)
{
    const char *colon = strrchr(serve_metrics_url(s), ':');
    assert_non_null(colon);
    return atoi(colon + 1);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

static void test_endpoint_serves_the_exposition_on_loopback(void **state)
{
    (void)state;
    int fds_before = open_fds();
    probes_metrics_feed *feed = probes_metrics_feed_create();
    probes_metrics_state *s = sample_state();
    probes_metrics_feed_publish(feed, s);
    char err[512];
    const serve_metrics_options o = {"127.0.0.1:0", 0, NULL};
    serve_metrics *srv = serve_metrics_start(&o, feed, err, sizeof err);
    assert_non_null(srv);
    assert_int_equal(strncmp(serve_metrics_url(srv), "http://127.0.0.1:", 17), 0);
    int port = port_of(srv);
    char *reply = http(port, "GET /metrics HTTP/1.0\r\n\r\n");
    char *expected = render(s);
    assert_int_equal(strncmp(reply, "HTTP/1.0 200", 12) == 0 || strncmp(reply, "HTTP/1.1 200", 12) == 0, 1);
    assert_non_null(strstr(reply, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    const char *body = strstr(reply, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, expected);
    free(reply);
    reply = http(port, "GET /elsewhere HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(reply, " 404 "));
    free(reply);
    reply = http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    assert_non_null(strstr(reply, " 405 "));
    free(reply);
    /* a second server on the same port: one line with the cause */
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    const serve_metrics_options again = {listen, 0, NULL};
    assert_null(serve_metrics_start(&again, feed, err, sizeof err));
    assert_non_null(strstr(err, "Address already in use"));
    assert_null(strchr(err, '\n'));
    assert_int_equal(serve_metrics_stop(srv, 0, err, sizeof err), 0);
    assert_int_equal(open_fds(), fds_before); /* the listening socket closed with the server */
    free(expected);
    free(s);
    probes_metrics_feed_free(feed);
}

static void test_other_addresses_need_saying_so(void **state)
{
    (void)state;
    char why[512];
    assert_int_equal(serve_check_listen("0.0.0.0:9464", 0, why, sizeof why), -1);
    assert_non_null(strstr(why, "not a loopback address"));
    assert_non_null(strstr(why, "--metrics-allow-remote"));
    assert_int_equal(serve_check_listen("192.0.2.7:9464", 0, why, sizeof why), -1);
    assert_int_equal(serve_check_listen("[::]:9464", 0, why, sizeof why), -1);
    assert_int_equal(serve_check_listen("0.0.0.0:9464", 1, why, sizeof why), 0);
    assert_int_equal(serve_check_listen("127.0.0.1:9464", 0, why, sizeof why), 0);
    assert_int_equal(serve_check_listen("127.8.9.10:0", 0, why, sizeof why), 0);
    assert_int_equal(serve_check_listen("[::1]:9464", 0, why, sizeof why), 0);
    assert_int_equal(serve_check_listen(":9464", 0, why, sizeof why), 0);
    const char *bad[] = {"", "9464x", "127.0.0.1:", "127.0.0.1:70000", "::1:9464", "127.0.0.1:-1", "host:12a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (serve_check_listen(bad[i], 0, why, sizeof why) != -1)
            fail_msg("'%s' was accepted", bad[i]);
        assert_null(strchr(why, '\n'));
    }
}

/* ---- the textfile-collector file ------------------------------------------------------------------------ */

static int temporaries_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* Until path holds text (a complete version), within the bound. */
static void wait_for_content(const char *path, const char *text)
{
    uint64_t until = hst_now_ns() + WAIT_NS;
    for (;;) {
        char *now = harness_slurp(path);
        int same = strcmp(now, text) == 0;
        free(now);
        if (same)
            return;
        if (hst_now_ns() > until)
            fail_msg("%s never held the expected exposition", path);
        sleep_ms(50);
    }
}

static void test_metrics_file_is_rewritten_each_second_atomically(void **state)
{
    (void)state;
    char dir[512], path[600], err[1200];
    assert_int_equal(harness_make_tmpdir(dir, sizeof dir, "prom"), 0);
    snprintf(path, sizeof path, "%s/hstprof.prom", dir);
    probes_metrics_feed *feed = probes_metrics_feed_create();
    probes_metrics_state *s = sample_state();
    probes_metrics_feed_publish(feed, s);
    const serve_metrics_options o = {NULL, 0, path};
    serve_metrics *srv = serve_metrics_start(&o, feed, err, sizeof err);
    assert_non_null(srv);
    assert_string_equal(serve_metrics_url(srv), "");
    char *first = render(s);
    wait_for_content(path, first);
    s->series[0].tokens_generated = 20; /* the next second's figures replace them */
    probes_metrics_feed_publish(feed, s);
    char *second = render(s);
    wait_for_content(path, second);
    s->series[0].tokens_generated = 30; /* stopping writes the last figures once more */
    probes_metrics_feed_publish(feed, s);
    assert_int_equal(serve_metrics_stop(srv, 1, err, sizeof err), 0);
    char *last = render(s), *on_disk = harness_slurp(path);
    assert_string_equal(on_disk, last);
    assert_int_equal(temporaries_in(dir), 0);
    /* the directory gone: the final write fails with one line, nothing else is left */
    srv = serve_metrics_start(&o, feed, err, sizeof err);
    assert_non_null(srv);
    assert_int_equal(harness_remove_tmpdir(dir), 0);
    assert_int_equal(serve_metrics_stop(srv, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "--metrics-file "));
    assert_non_null(strstr(err, "cannot write"));
    assert_null(strchr(err, '\n'));
    free(first);
    free(second);
    free(last);
    free(on_disk);
    free(s);
    probes_metrics_feed_free(feed);
}

/* ---- a run's figures ------------------------------------------------------------------------------------ */

static void test_a_run_publishes_its_figures_with_its_labels(void **state)
{
    (void)state;
    static int prompt[24];
    for (int i = 0; i < 24; i++)
        prompt[i] = 5 + 11 * i;
    probes_metrics_feed *feed = probes_metrics_feed_create();
    run_request req;
    memset(&req, 0, sizeof req);
    req.session.model = "hst-v4";
    req.session.threads = 1;
    req.session.affinity = "none";
    req.prompt = prompt;
    req.n_prompt = 24;
    req.n_tokens = 20;
    req.metrics = feed;
    run_result *res = calloc(1, sizeof *res);
    assert_int_equal(runner_prepare(&req, res), 0);
    assert_int_equal(runner_generate(&req, res), 0);
    json_t *o = probes_metrics_feed_json(feed);
    const json_t *x = json_array_get(json_object_get(o, "series"), 0), *l = json_object_get(x, "labels");
    assert_int_equal(json_array_size(json_object_get(o, "series")), 1);
    assert_int_equal(json_integer_value(json_object_get(x, "tokens_generated")), 20);
    assert_int_equal(json_integer_value(json_object_get(x, "prefill_tokens")), 24);
    assert_int_equal(json_integer_value(json_object_get(x, "restarts")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(x, "latency"), "count")), 19);
    assert_string_equal(json_string_value(json_object_get(l, "model")), "hst-v4");
    assert_string_equal(json_string_value(json_object_get(l, "mode")), "causal");
    assert_string_equal(json_string_value(json_object_get(l, "precision")), "f32");
    assert_string_equal(json_string_value(json_object_get(l, "kernel")), res->kernel);
    assert_string_equal(json_string_value(json_object_get(l, "affinity")), "none");
    assert_int_equal(json_integer_value(json_object_get(l, "threads")), 1);
    const json_t *g = json_object_get(o, "gauges");
    assert_true(json_number_value(json_object_get(g, "tokens_per_s")) > 0);
    assert_true(json_number_value(json_object_get(g, "kv_cache_bytes")) > 0);
    assert_true(json_number_value(json_object_get(g, "rss_bytes")) > 0);
    json_decref(o);
    runner_release(res);
    free(res);
    probes_metrics_feed_free(feed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition_follows_prometheus_conventions),
        cmocka_unit_test(test_nothing_known_is_an_empty_exposition),
        cmocka_unit_test(test_settings_beyond_capacity_replace_the_least_recently_used),
        cmocka_unit_test(test_endpoint_serves_the_exposition_on_loopback),
        cmocka_unit_test(test_other_addresses_need_saying_so),
        cmocka_unit_test(test_metrics_file_is_rewritten_each_second_atomically),
        cmocka_unit_test(test_a_run_publishes_its_figures_with_its_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
