/* api.c - the HTTP API on api.address (see api.h), served by libmicrohttpd
 * on its own thread.
 *
 * The listening socket is created and bound here rather than by MHD, so that
 * an address already in use is reported as such, with the setting to change,
 * instead of MHD's generic start failure. MHD then owns the socket (it closes
 * it on stop, and on a failed start). MHD_USE_AUTO picks epoll on Linux, so
 * the server thread sleeps in the kernel while nobody calls. */
#include "pipeline/api.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include "pipeline/buf.h"
#include "pipeline/component.h"
#include "pipeline/log.h"
#include "pipeline/metrics.h"

#define API_LISTEN_BACKLOG 64
#define API_CONNECTION_TIMEOUT_S 30
#define API_CONNECTION_LIMIT 128
#define API_ALLOW "GET, HEAD"
#define API_JSON "application/json"
#define API_PROMETHEUS "text/plain; version=0.0.4"

struct api_server {
    struct MHD_Daemon *daemon;
    const sl_config *cfg;
    atomic_bool shutting_down;
    int port;
};

/* ---- the listening socket ---- */

/* Splits "host:port" or "[v6]:port" into its parts. */
static int address_split(const char *address, char *host, size_t hostsz,
                         char *port, size_t portsz, sl_error *err)
{
    const char *host_start = address, *host_end, *port_start;
    if (*address == '[') {
        host_start = address + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || host_end[1] != ':')
            return sl_fail(err, "invalid API address \"%s\": expected [IPv6]:port", address);
        port_start = host_end + 2;
    } else {
        host_end = strrchr(address, ':');
        if (!host_end || memchr(address, ':', (size_t)(host_end - address)))
            return sl_fail(err, "invalid API address \"%s\": expected host:port "
                           "(IPv6 as [addr]:port)", address);
        port_start = host_end + 1;
    }

    size_t hlen = (size_t)(host_end - host_start);
    size_t plen = strlen(port_start);
    if (hlen == 0 || hlen >= hostsz)
        return sl_fail(err, "invalid API address \"%s\": missing or overlong host", address);
    if (plen == 0 || plen > 5 || strspn(port_start, "0123456789") != plen ||
        atoi(port_start) > 65535 || plen >= portsz)
        return sl_fail(err, "invalid API address \"%s\": the port must be a number "
                       "from 0 to 65535", address);
    memcpy(host, host_start, hlen);
    host[hlen] = '\0';
    memcpy(port, port_start, plen + 1);
    return 0;
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* A listening socket on the first of ai's addresses that binds, or -1 with
 * errno from the last attempt. */
static int listen_first(const struct addrinfo *ai)
{
    int saved = EADDRNOTAVAIL;
    for (; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, API_LISTEN_BACKLOG) == 0 &&
            set_nonblocking(fd) == 0)
            return fd;
        saved = errno;
        close(fd);
    }
    errno = saved;
    return -1;
}

static int api_listen(const char *address, int *out_fd, sl_error *err)
{
    char host[256], port[8];
    if (address_split(address, host, sizeof(host), port, sizeof(port), err) < 0)
        return -1;

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0)
        return sl_fail(err, "cannot resolve API address %s: %s", address, gai_strerror(gai));

    int fd = listen_first(res);
    int saved = errno;
    freeaddrinfo(res);
    if (fd < 0) {
        if (saved == EADDRINUSE)
            return sl_fail(err, "API address %s is already in use "
                           "(set api.address or api.enabled: false)", address);
        return sl_fail(err, "cannot listen on API address %s: %s", address, strerror(saved));
    }
    *out_fd = fd;
    return 0;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/* ---- responses ---- */

static enum MHD_Result send_response(struct MHD_Connection *c, unsigned int status,
                                     struct MHD_Response *r, const char *content_type, bool allow)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, API_ALLOW);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_static(struct MHD_Connection *c, unsigned int status,
                                      const char *content_type, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_PERSISTENT);
    return send_response(c, status, r, content_type, status == MHD_HTTP_METHOD_NOT_ALLOWED);
}

/* Takes ownership of body (malloc'd). */
static enum MHD_Result respond_owned(struct MHD_Connection *c, unsigned int status,
                                     const char *content_type, char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!r)
        free(body);
    return send_response(c, status, r, content_type, false);
}

static enum MHD_Result respond_out_of_memory(struct MHD_Connection *c)
{
    return respond_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, API_JSON,
                          "{\"error\":\"out of memory\"}");
}

/* ---- routes ---- */

static enum MHD_Result serve_health(api_server *s, struct MHD_Connection *c)
{
    if (atomic_load(&s->shutting_down))
        return respond_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, API_JSON, "{\"ok\":false}");
    return respond_static(c, MHD_HTTP_OK, API_JSON, "{\"ok\":true}");
}

static enum MHD_Result serve_metrics(api_server *s, struct MHD_Connection *c)
{
    SL_UNUSED(s);
    buf out = BUF_INIT;
    if (metrics_render_prometheus(&out) < 0) {
        buf_free(&out);
        return respond_out_of_memory(c);
    }
    size_t len = out.len;
    char *body = buf_detach(&out);
    if (!body)
        return respond_out_of_memory(c);
    return respond_owned(c, MHD_HTTP_OK, API_PROMETHEUS, body, len);
}

typedef struct component_totals {
    uint64_t received_events, sent_events, received_bytes, sent_bytes, errors, discarded;
} component_totals;

typedef struct totals_ctx {
    const sl_config *cfg;
    component_totals *totals;   /* one per cfg->components */
} totals_ctx;

static const char *label_value(const metrics_label *labels, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].key, key) == 0)
            return labels[i].value;
    return NULL;
}

/* The counter of t that metric `name` adds to, or NULL when it is not one
 * the API reports. */
static uint64_t *totals_slot(component_totals *t, const char *name)
{
    static const struct {
        const char *name;
        size_t offset;
    } slots[] = {
        {"component_received_events_total", offsetof(component_totals, received_events)},
        {"component_sent_events_total", offsetof(component_totals, sent_events)},
        {"component_received_event_bytes_total", offsetof(component_totals, received_bytes)},
        {"component_sent_event_bytes_total", offsetof(component_totals, sent_bytes)},
        {"component_errors_total", offsetof(component_totals, errors)},
        {"component_discarded_events_total", offsetof(component_totals, discarded)},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(slots); i++)
        if (strcmp(slots[i].name, name) == 0)
            return (uint64_t *)((char *)t + slots[i].offset);
    return NULL;
}

static void add_series_to_totals(void *ud, const char *name, metrics_type type,
                                 const metrics_label *labels, size_t nlabels, double v)
{
    totals_ctx *ctx = ud;
    const char *id = label_value(labels, nlabels, "component_id");
    if (type != METRICS_COUNTER || !id)
        return;
    for (size_t i = 0; i < ctx->cfg->ncomponents; i++) {
        if (strcmp(ctx->cfg->components[i].id, id) == 0) {
            uint64_t *slot = totals_slot(&ctx->totals[i], name);
            if (slot)
                *slot += (uint64_t)v;
            return;
        }
    }
}

static int object_add(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *totals_json(const component_totals *t)
{
    json_t *m = json_object();
    if (!m)
        return NULL;
    if (object_add(m, "received_events", json_integer((json_int_t)t->received_events)) < 0 ||
        object_add(m, "sent_events", json_integer((json_int_t)t->sent_events)) < 0 ||
        object_add(m, "received_bytes", json_integer((json_int_t)t->received_bytes)) < 0 ||
        object_add(m, "sent_bytes", json_integer((json_int_t)t->sent_bytes)) < 0 ||
        object_add(m, "errors", json_integer((json_int_t)t->errors)) < 0 ||
        object_add(m, "discarded", json_integer((json_int_t)t->discarded)) < 0) {
        json_decref(m);
        return NULL;
    }
    return m;
}

static json_t *inputs_json(const opt_list *inputs)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < inputs->n; i++) {
        if (json_array_append_new(arr, json_string(inputs->items[i])) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *component_json(const component_config *cc, const component_totals *t)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    json_t *type = cc->desc ? json_string(cc->desc->type) : json_null();
    if (object_add(obj, "id", json_string(cc->id)) < 0 ||
        object_add(obj, "kind", json_string(component_kind_name(cc->kind))) < 0 ||
        object_add(obj, "type", type) < 0 ||
        object_add(obj, "inputs", inputs_json(&cc->inputs)) < 0 ||
        object_add(obj, "metrics", totals_json(t)) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static char *components_document(const sl_config *cfg)
{
    size_t n = cfg->ncomponents;
    component_totals *totals = calloc(n ? n : 1, sizeof(*totals));
    if (!totals)
        return NULL;
    totals_ctx ctx = {cfg, totals};
    metrics_foreach(add_series_to_totals, &ctx);

    char *text = NULL;
    json_t *root = json_object();
    json_t *list = json_array();
    if (root && list && json_object_set(root, "components", list) == 0) {
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++)
            ok = json_array_append_new(list, component_json(&cfg->components[i], &totals[i])) == 0;
        if (ok)
            text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(list);
    json_decref(root);
    free(totals);
    return text;
}

static enum MHD_Result serve_components(api_server *s, struct MHD_Connection *c)
{
    char *body = components_document(s->cfg);
    if (!body)
        return respond_out_of_memory(c);
    return respond_owned(c, MHD_HTTP_OK, API_JSON, body, strlen(body));
}

typedef enum MHD_Result (*route_fn)(api_server *s, struct MHD_Connection *c);

static const struct {
    const char *path;
    route_fn serve;
} routes[] = {
    {"/health", serve_health},
    {"/metrics", serve_metrics},
    {"/api/components", serve_components},
};

static enum MHD_Result api_handle(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    SL_UNUSED(version);
    SL_UNUSED(upload_data);
    SL_UNUSED(upload_data_size);
    SL_UNUSED(con_cls);
    api_server *s = cls;
    for (size_t i = 0; i < SL_ARRAY_LEN(routes); i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
            return respond_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, API_JSON,
                                  "{\"error\":\"method not allowed\"}");
        return routes[i].serve(s, c);
    }
    return respond_static(c, MHD_HTTP_NOT_FOUND, API_JSON, "{\"error\":\"not found\"}");
}

/* MHD's own complaints (a client that misbehaves, a failed accept) go to the
 * service log, where they are rate-limited like everything else. */
static void api_log(void *cls, const char *fmt, va_list ap)
{
    SL_UNUSED(cls);
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    slog_warn(NULL, "api: %s", msg);
}

/* ---- lifecycle ---- */

int api_start(const sl_config *cfg, api_server **out, sl_error *err)
{
    *out = NULL;
    const char *address = cfg->api_address ? cfg->api_address : "127.0.0.1:8686";
    api_server *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory starting the API server");
    s->cfg = cfg;
    atomic_init(&s->shutting_down, false);

    int fd;
    if (api_listen(address, &fd, err) < 0) {
        free(s);
        return -1;
    }
    s->port = bound_port(fd);
    s->daemon = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, api_handle, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, api_log, NULL,
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_CONNECTION_TIMEOUT_S,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_CONNECTION_LIMIT,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        free(s);
        return sl_fail(err, "cannot start the API server on %s", address);
    }
    *out = s;
    return 0;
}

void api_set_shutting_down(api_server *s)
{
    if (s)
        atomic_store(&s->shutting_down, true);
}

int api_port(const api_server *s)
{
    return s ? s->port : -1;
}

void api_stop(api_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
