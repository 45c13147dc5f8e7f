/* http_setup.c - an HTTP sink engine made from a sink's setup, and undone:
 * the options resolved against the sink's defaults, one destination per
 * URL set and codec (the main one and each route), the header list of each,
 * and the healthcheck.
 *
 * Everything the setup points to is copied, so a sink may build its setup
 * on the stack. Secrets (the password, the key passphrase) are wiped when
 * freed; the others live only in curl's header lists. */
#include "sinks/http/http_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_CONCURRENCY 8
#define DEFAULT_MAX_CONCURRENCY_LIMIT 200   /* Vector's */
#define DEFAULT_TIMEOUT_SECS 60
#define DEFAULT_BACKOFF_SECS 1.0
#define DEFAULT_MAX_BACKOFF_SECS 30.0

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_OK;

static void init_curl_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = true;
    return d;
}

static void free_secret(char *s)
{
    if (!s)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = '\0';
    free(s);
}

/* ---- metrics ---- */

static const double rtt_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1, 2.5, 5, 10, 30, 60};

static void register_metrics(http_sink *h)
{
    const component_metrics *m = h->metrics;
    if (!m || !m->id)
        return;
    h->m_requests = component_metrics_extra(m, "http_client_requests_total", METRICS_COUNTER,
                                            "HTTP requests sent (every attempt).");
    h->m_inflight = component_metrics_extra(m, "http_client_requests_in_flight", METRICS_GAUGE,
                                            "HTTP requests waiting for their response.");
    h->m_events_inflight = component_metrics_extra(
        m, "http_client_events_in_flight", METRICS_GAUGE,
        "Events taken from the buffer and not yet acknowledged.");
    const metrics_label labels[] = {
        {"component_id", m->id}, {"component_kind", m->kind}, {"component_type", m->type},
    };
    if (h->adaptive) {
        h->m_arc_limit = component_metrics_extra(
            m, "adaptive_concurrency_limit", METRICS_GAUGE,
            "The number of requests adaptive concurrency lets fly now.");
        metrics_set(h->m_arc_limit, (double)h->arc.limit);
    }
    h->m_rtt = metrics_histogram("http_client_rtt_seconds",
                                 "Time from sending a request to its response.", labels,
                                 SL_ARRAY_LEN(labels), rtt_buckets, SL_ARRAY_LEN(rtt_buckets));
}

/* ---- headers ---- */

static int append_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

static bool has_header(const struct curl_slist *l, const char *name)
{
    size_t n = strlen(name);
    for (; l; l = l->next)
        if (strncasecmp(l->data, name, n) == 0 && l->data[n] == ':')
            return true;
    return false;
}

static int append_formatted(struct curl_slist **list, buf *line, const char *name,
                            const char *val)
{
    buf_reset(line);
    if (buf_printf(line, "%s: %s", name, val) < 0)
        return -1;
    return append_header(list, line->data);
}

/* The Authorization header of the token strategies; basic auth is curl's. */
static int append_auth(struct curl_slist **list, buf *line, const http_sink_options *o)
{
    const char *scheme = NULL, *secret = NULL;
    if (o->auth_strategy == HTTP_AUTH_BEARER) {
        scheme = "Bearer";
        secret = o->auth_token;
    } else if (o->auth_strategy == HTTP_AUTH_API_KEY) {
        scheme = "ApiKey";
        secret = o->auth_api_key;
    }
    if (!secret)
        return 0;
    buf_reset(line);
    if (buf_printf(line, "Authorization: %s %s", scheme, secret) < 0)
        return -1;
    return append_header(list, line->data);
}

/* The headers of every request, the healthcheck's included: the user's
 * request.headers, the sink's own (API keys), and auth. */
static int append_identity_headers(struct curl_slist **list, buf *line,
                                   const http_sink_setup *s)
{
    const http_sink_options *o = s->options;
    int rc = 0;
    const cfg_node *map = o->request_headers;
    for (size_t i = 0; rc == 0 && map && map->kind == CFG_MAP && i < map->npairs; i++) {
        const cfg_pair *p = &map->pairs[i];
        if (p->value->kind == CFG_SCALAR)
            rc = append_formatted(list, line, p->key->text, p->value->text);
    }
    for (size_t i = 0; rc == 0 && i < s->nheaders; i++)
        rc = append_header(list, s->headers[i]);
    if (rc == 0)
        rc = append_auth(list, line, o);
    return rc;
}

static void wipe(buf *line)
{
    if (line->data) {
        memset(line->data, 0, line->cap);   /* it may have held a key */
        buf_free(line);
    }
}

/* The healthcheck's GET has no body: no Content-Type or -Encoding. */
static int build_probe_headers(http_sink *h, const http_sink_setup *s, sl_error *err)
{
    buf line = BUF_INIT;
    int rc = append_identity_headers(&h->probe_headers, &line, s);
    wipe(&line);
    return rc < 0 ? sl_fail(err, "out of memory building the request headers") : 0;
}

/* The header list of a destination's requests: the identity headers, then
 * Content-Type/-Encoding unless already given. */
static int build_headers(http_sink *h, http_dest *d, const http_sink_setup *s, sl_error *err)
{
    buf line = BUF_INIT;
    int rc = append_identity_headers(&d->headers, &line, s);
    if (rc == 0 && d->codec.content_type && !has_header(d->headers, "Content-Type"))
        rc = append_formatted(&d->headers, &line, "Content-Type", d->codec.content_type);
    const char *enc = http_content_encoding(h->compression);
    if (rc == 0 && enc)
        rc = append_formatted(&d->headers, &line, "Content-Encoding", enc);
    /* No "Expect: 100-continue" round trip before large bodies. */
    if (rc == 0)
        rc = append_header(&d->headers, "Expect:");
    wipe(&line);
    return rc < 0 ? sl_fail(err, "out of memory building the request headers") : 0;
}

/* ---- limits ---- */

/* The smaller of the user's (or the sink's default) and the API's limit;
 * 0 for both means none, `none`. */
static uint64_t tighter(uint64_t configured, uint64_t api, uint64_t none)
{
    if (api && (!configured || configured > api))
        configured = api;
    return configured ? configured : none;
}

static void apply_dest_limits(http_dest *d, const http_sink_setup *s)
{
    const http_sink_options *o = s->options;
    d->max_events = tighter(o->batch_max_events ? o->batch_max_events
                                                : s->defaults.batch_max_events,
                            d->codec.max_events, UINT64_MAX);
    d->max_bytes = tighter(o->batch_max_bytes ? o->batch_max_bytes : s->defaults.batch_max_bytes,
                           d->codec.max_bytes, SIZE_MAX / 2);
}

static void apply_limits(http_sink *h, const http_sink_setup *s)
{
    const http_sink_options *o = s->options;
    double secs = o->batch_timeout_secs > 0 ? o->batch_timeout_secs
                                            : s->defaults.batch_timeout_secs;
    h->batch_timeout_ns = secs > 0 ? (int64_t)(secs * NS_PER_SEC) : NS_PER_SEC;
    h->concurrency = o->concurrency ? (size_t)o->concurrency : DEFAULT_CONCURRENCY;
    h->adaptive = o->adaptive;
    if (h->adaptive) {
        http_arc_settings arc = {
            .initial = o->arc_initial ? (size_t)o->arc_initial : 1,
            .max = o->arc_max ? (size_t)o->arc_max : DEFAULT_MAX_CONCURRENCY_LIMIT,
            .decrease_ratio = o->arc_decrease_ratio > 0 ? o->arc_decrease_ratio : 0.9,
            .ewma_alpha = o->arc_ewma_alpha > 0 ? o->arc_ewma_alpha : 0.4,
            .rtt_deviation_scale = o->arc_rtt_deviation_scale,
        };
        h->concurrency = arc.max;
        http_arc_init(&h->arc, &arc, sl_now_mono_ns());
    }
    h->timeout_ms = 1000L * (long)(o->timeout_secs ? o->timeout_secs : DEFAULT_TIMEOUT_SECS);
    h->backoff_initial = o->retry_initial_backoff_secs > 0 ? o->retry_initial_backoff_secs
                                                           : DEFAULT_BACKOFF_SECS;
    h->backoff_max = o->retry_max_duration_secs > 0 ? o->retry_max_duration_secs
                                                    : DEFAULT_MAX_BACKOFF_SECS;
    h->retry_attempts = o->retry_attempts;
    h->rate_num = o->rate_limit_num;
    double window = o->rate_limit_duration_secs > 0 ? o->rate_limit_duration_secs : 1;
    h->rate_window_ns = (int64_t)(window * NS_PER_SEC);
    int c = o->compression >= 0 ? o->compression : (int)s->defaults.compression;
    h->compression = (http_compression)c;
    h->verify_peer = o->tls_verify_certificate || !o->tls_verify_certificate_set;
    h->verify_host = o->tls_verify_hostname || !o->tls_verify_hostname_set;
}

/* The estimated size (as JSON, as the pipeline's buffers count bytes) of
 * the events the sink may hold before it stops taking input:
 * HELD_BUDGET_REQUESTS full requests (the largest batch.max_bytes of its
 * destinations) per request the concurrency limit lets fly (with adaptive
 * concurrency, the current limit). About half is the requests in
 * flight and ready; the rest is room for the events waiting for a retry,
 * so that retries under a steady rate of failures don't throttle fresh
 * traffic, while an endpoint that is down still backs pressure up once
 * they fill it. An input batch stays allocated until all of its events are
 * done: when only some of its events wait for a retry (Elasticsearch items
 * answered 429), it is held whole while only their share is counted. */
#define HELD_BUDGET_REQUESTS 2

static void set_memory_budget(http_sink *h)
{
    uint64_t largest = 0;
    for (size_t i = 0; i < h->ndests; i++)
        if (h->dests[i].max_bytes > largest)
            largest = h->dests[i].max_bytes;
    uint64_t per_slot = largest < UINT64_MAX / (HELD_BUDGET_REQUESTS * 1024)
                            ? largest * HELD_BUDGET_REQUESTS
                            : UINT64_MAX / 1024;
    h->held_per_slot = per_slot;
}

/* ---- destinations ---- */

static int copy_dest(http_dest *d, const char *const *urls, size_t nurls, const http_codec *c)
{
    bool failed = false;
    d->codec = *c;
    d->prefix = dup_or_null(c->prefix ? c->prefix : "", &failed);
    d->separator = dup_or_null(c->separator ? c->separator : "", &failed);
    d->suffix = dup_or_null(c->suffix ? c->suffix : "", &failed);
    d->urls = calloc(nurls, sizeof(*d->urls));
    failed = failed || !d->urls;
    for (size_t i = 0; d->urls && i < nurls; i++)
        d->urls[i] = dup_or_null(urls[i], &failed);
    d->nurls = nurls;
    if (failed)
        return -1;
    d->prefix_len = strlen(d->prefix);
    d->separator_len = strlen(d->separator);
    d->suffix_len = strlen(d->suffix);
    return 0;
}

static void free_dest(http_dest *d)
{
    curl_slist_free_all(d->headers);
    for (size_t i = 0; d->urls && i < d->nurls; i++)
        free(d->urls[i]);
    free(d->urls);
    free(d->prefix);
    free(d->separator);
    free(d->suffix);
}

static int build_dests(http_sink *h, const http_sink_setup *s, sl_error *err)
{
    h->ndests = 1 + (s->route ? s->nroutes : 0);
    h->dests = calloc(h->ndests, sizeof(*h->dests));
    if (!h->dests)
        return sl_fail(err, "out of memory");
    h->route = s->route;
    h->route_ud = s->route_ud;
    for (size_t i = 0; i < h->ndests; i++) {
        http_dest *d = &h->dests[i];
        const http_route *rt = i ? &s->routes[i - 1] : NULL;
        int rc = rt ? copy_dest(d, rt->urls, rt->nurls, &rt->codec)
                    : copy_dest(d, s->urls, s->nurls, &s->codec);
        if (rc < 0)
            return sl_fail(err, "out of memory");
        apply_dest_limits(d, s);
        if (build_headers(h, d, s, err) < 0)
            return -1;
    }
    return build_probe_headers(h, s, err);
}

static int copy_strings(http_sink *h, const http_sink_setup *s, const component_info *info)
{
    const http_sink_options *o = s->options;
    bool failed = false;
    h->id = dup_or_null(info && info->id ? info->id : "http", &failed);
    h->method = dup_or_null(s->method ? s->method : "POST", &failed);
    h->healthcheck_path = dup_or_null(s->healthcheck_path, &failed);
    h->ca_file = dup_or_null(o->tls_ca_file, &failed);
    h->crt_file = dup_or_null(o->tls_crt_file, &failed);
    h->key_file = dup_or_null(o->tls_key_file, &failed);
    h->key_pass = dup_or_null(o->tls_key_pass, &failed);
    bool basic = o->auth_strategy == HTTP_AUTH_BASIC ||
                 (o->auth_strategy < 0 && o->auth_user);
    if (basic && o->auth_user) {
        h->user = dup_or_null(o->auth_user, &failed);
        h->password = dup_or_null(o->auth_password, &failed);
    }
    return failed ? -1 : 0;
}

/* What a setup must have; the sink's bug otherwise, not the user's. */
static int check_setup(const http_sink_setup *s, sl_error *err)
{
    if (!s || !s->options || !s->nurls || !s->urls || !s->codec.encode)
        return sl_fail(err, "HTTP sink: a URL and an encoder are required");
    if (s->nroutes && (!s->route || !s->routes))
        return sl_fail(err, "HTTP sink: routes need a route function");
    for (size_t i = 0; s->route && i < s->nroutes; i++)
        if (!s->routes[i].nurls || !s->routes[i].urls || !s->routes[i].codec.encode)
            return sl_fail(err, "HTTP sink: route %zu needs a URL and an encoder", i + 1);
    return 0;
}

int http_sink_new(const http_sink_setup *setup, const component_info *info, http_sink **out,
                  sl_error *err)
{
    *out = NULL;
    if (check_setup(setup, err) < 0)
        return -1;
    pthread_once(&curl_once, init_curl_once);
    if (curl_init_result != CURLE_OK)
        return sl_fail(err, "cannot initialise libcurl: %s",
                       curl_easy_strerror(curl_init_result));
    http_sink *h = calloc(1, sizeof(*h));
    if (!h)
        return sl_fail(err, "out of memory");
    h->metrics = info ? info->metrics : NULL;
    h->rng = (uint64_t)sl_now_mono_ns() ^ ((uint64_t)(uintptr_t)h << 16) ^
             0x9e3779b97f4a7c15ULL;
    if (!h->rng)
        h->rng = 1;
    apply_limits(h, setup);
    if (copy_strings(h, setup, info) < 0) {
        http_sink_free(h);
        return sl_fail(err, "out of memory");
    }
    if (build_dests(h, setup, err) < 0) {
        http_sink_free(h);
        return -1;
    }
    set_memory_budget(h);
    if (encoding_fields_init(&h->fields, &setup->options->encoding_only_fields,
                             &setup->options->encoding_except_fields,
                             setup->options->encoding_timestamp_format, err) < 0) {
        http_sink_free(h);
        return -1;
    }
    h->flying = calloc(h->concurrency, sizeof(*h->flying));
    if (!h->flying) {
        http_sink_free(h);
        return sl_fail(err, "out of memory");
    }
    const http_transport *t = setup->transport ? setup->transport : &http_curl_transport;
    if (t->open(setup->transport_ud, h, &h->transport_state, err) < 0) {
        http_sink_free(h);
        return -1;
    }
    h->transport = t;
    if (h->compression != HTTP_COMPRESSION_NONE &&
        http_zpool_new(h->compression, (int)setup->options->compression_level, t->wake,
                       h->transport_state, &h->zpool, err) < 0) {
        http_sink_free(h);
        return -1;
    }
    register_metrics(h);
    *out = h;
    return 0;
}

/* Only at teardown after a forced stop: the batches are released as
 * errored, so a source re-reads them. */
static void free_request_list(http_sink *h, request *r)
{
    while (r) {
        request *next = r->next;
        for (size_t i = 0; i < r->n; i++) {
            in_batch *t = r->refs[i].t;
            if (--t->left == 0)
                http_release_input(h, t, ACK_ERRORED);
        }
        r->n = 0;
        http_request_free(r);
        r = next;
    }
}

void http_sink_free(http_sink *h)
{
    if (!h)
        return;
    /* The pool's threads first: they wake the transport. */
    free_request_list(h, http_zpool_free(h->zpool));
    for (size_t i = 0; i < h->inflight; i++) {
        request *r = h->flying[i];
        h->transport->cancel(h->transport_state, r);
        r->next = NULL;
        free_request_list(h, r);
    }
    free(h->flying);
    if (h->transport)
        h->transport->close(h->transport_state);
    free_request_list(h, h->pending);
    for (size_t i = 0; h->dests && i < h->ndests; i++) {
        free_request_list(h, h->dests[i].open);
        free_request_list(h, h->dests[i].retry_open);
        free_dest(&h->dests[i]);
    }
    free(h->dests);
    encoding_fields_free(&h->fields);
    curl_slist_free_all(h->probe_headers);
    free(h->items);
    free(h->events);
    free(h->id);
    free(h->method);
    free(h->healthcheck_path);
    free(h->ca_file);
    free(h->crt_file);
    free(h->key_file);
    free_secret(h->key_pass);
    free(h->user);
    free_secret(h->password);
    free(h);
}

/* ---- the healthcheck ---- */

static bool is_absolute_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* scheme://host:port of the first URL with the healthcheck's path, or the
 * healthcheck's own URL when it is one. */
static char *healthcheck_url(const http_sink *h)
{
    if (is_absolute_url(h->healthcheck_path))
        return strdup(h->healthcheck_path);
    CURLU *u = curl_url();
    char *url = NULL, *copy = NULL;
    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, h->dests[0].urls[0], 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PATH, h->healthcheck_path, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK) {
        copy = strdup(url);
    }
    curl_free(url);
    curl_url_cleanup(u);
    return copy;
}

int http_sink_healthcheck(http_sink *h, sl_error *err)
{
    if (!h->healthcheck_path)
        return 0;
    char *url = healthcheck_url(h);
    if (!url)
        return sl_fail(err, "cannot build the healthcheck URL from the sink's URL");
    char shown[512];
    http_url_for_log(url, shown, sizeof(shown));
    CURL *e = http_curl_easy_new(h);
    if (!e) {
        free(url);
        return sl_fail(err, "cannot create a libcurl handle");
    }
    request probe = {.dest = &h->dests[0]};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->probe_headers);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &probe);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &probe);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    buf_free(&probe.response);
    free(url);
    if (rc != CURLE_OK)
        return sl_fail(err, "GET %s failed: %s", shown, curl_easy_strerror(rc));
    if (status < 200 || status >= 300)
        return sl_fail(err, "GET %s answered HTTP %ld", shown, status);
    return 0;
}
