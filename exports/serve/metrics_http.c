/* metrics_http.c — GET /metrics over HTTP with libmicrohttpd (its own
 * polling thread), and the checks of --metrics-listen. The listening
 * socket is made here, so that a port in use or a bad address is reported
 * with its cause and port 0 can name the port it got. */
#include "exports/serve/internal.h"

#include "exports/exports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the address -------------------------------------------------------------------- */

/* Splits "host:port", "[v6]:port", ":port" or "port"; an empty host is 127.0.0.1. */
static int split_listen(const char *listen, char *host, size_t host_len, char *port, size_t port_len)
{
    const char *colon = strrchr(listen, ':');
    const char *port_text = colon ? colon + 1 : listen;
    size_t n = colon ? (size_t)(colon - listen) : 0;
    if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
        listen++;
        n -= 2;
    } else if (colon && memchr(listen, ':', n)) {
        return -1; /* an IPv6 address needs brackets: [::1]:9100 */
    }
    if (n >= host_len || strlen(port_text) >= port_len || !*port_text)
        return -1;
    for (const char *p = port_text; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    if (atol(port_text) > 65535 || strlen(port_text) > 5)
        return -1;
    snprintf(host, host_len, "%.*s", (int)n, listen);
    if (!*host)
        snprintf(host, host_len, "127.0.0.1");
    snprintf(port, port_len, "%s", port_text);
    return 0;
}

static int is_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->ss_family == AF_INET6) {
        const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(x) || (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
    }
    return 0;
}

int serve_resolve_listen(const char *listen, int allow_remote, struct sockaddr_storage *out, socklen_t *out_len,
                         char *why, size_t why_len)
{
    char host[256], port[8];
    if (split_listen(listen, host, sizeof host, port, sizeof port) != 0) {
        snprintf(why, why_len, "--metrics-listen must be ADDR:PORT like 127.0.0.1:9464 or [::1]:9464 (port 0-65535; "
                               "0 picks a free one), got '%s'", listen);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(why, why_len, "--metrics-listen %s: cannot resolve '%s': %s", listen, host, gai_strerror(rc));
        return -1;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *out_len = res->ai_addrlen;
    freeaddrinfo(res);
    if (!allow_remote && !is_loopback(out)) {
        snprintf(why, why_len, "--metrics-listen %s is not a loopback address: other machines could read the "
                               "metrics; add --metrics-allow-remote to serve them there", listen);
        return -1;
    }
    return 0;
}

int serve_check_listen(const char *listen, int allow_remote, char *why, size_t why_len)
{
    struct sockaddr_storage addr;
    socklen_t len;
    return serve_resolve_listen(listen, allow_remote, &addr, &len, why, why_len);
}

/* A listening socket on addr; -1 with the cause in why. */
static int listen_on(const char *what, const struct sockaddr_storage *addr, socklen_t len, char *why, size_t why_len)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, 16) != 0) {
        snprintf(why, why_len, "--metrics-listen %s: cannot listen: %s", what, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void describe_url(int fd, char *url, size_t len)
{
    struct sockaddr_storage a;
    socklen_t n = sizeof a;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&a, &n) != 0)
        memset(&a, 0, sizeof a);
    if (a.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&a)->sin_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in *)&a)->sin_port);
        snprintf(url, len, "http://%s:%d/metrics", host, port);
    } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a)->sin6_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
        snprintf(url, len, "http://[%s]:%d/metrics", host, port);
    }
}

/* ---- requests ------------------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, const char *type)
{
    if (!body)
        return MHD_NO; /* out of memory: the connection is closed */
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    serve_metrics *s = cls;
    (void)version, (void)upload_data, (void)upload_size, (void)state;
    const char *text_type = "text/plain; charset=utf-8";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("only GET and HEAD\n"), text_type);
    if (strcmp(url, "/metrics") != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, strdup("hstprof serves its metrics at /metrics\n"), text_type);
    char *body = serve_render(s->feed);
    if (!body)
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, strdup("out of memory\n"), text_type);
    return reply(c, MHD_HTTP_OK, body, EXPORT_METRICS_CONTENT_TYPE);
}

int serve_http_start(serve_metrics *s, const char *listen, int allow_remote, char *err, size_t err_len)
{
    struct sockaddr_storage addr;
    socklen_t len;
    if (serve_resolve_listen(listen, allow_remote, &addr, &len, err, err_len) != 0)
        return -1;
    int fd = listen_on(listen, &addr, len, err, err_len);
    if (fd < 0)
        return -1;
    describe_url(fd, s->url, sizeof s->url);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)64, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, err_len, "--metrics-listen %s: cannot start the HTTP server (libmicrohttpd)", listen);
        close(fd);
        s->url[0] = '\0';
        return -1;
    }
    return 0;
}

/* MHD_stop_daemon closes the listening socket it was given. */
void serve_http_stop(serve_metrics *s)
{
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}
