/* http_sink.c - the engine the HTTP sinks share (see http_sink.h).
 *
 * Everything runs on the sink's thread. Events are encoded into the "open"
 * request as batches arrive; it is sent when it reaches the batch limits or
 * its timeout. A sent request sits in the curl multi handle; a request to be
 * retried, or one that could not start because request.concurrency requests
 * are in flight, waits on the pending list with the time it may go again.
 *
 * Each request keeps (input batch, index) references to its events, so the
 * halves of a 413 or the items to retry after a partial failure are encoded
 * again from the events themselves. An input batch counts its events not yet
 * finished; the last one to finish acknowledges it with the worst status.
 *
 * The loop never spins: while requests are in flight it alternates a
 * non-blocking look at the input with curl_multi_poll for a few
 * milliseconds; when nothing is in flight it blocks in sink_next until the
 * open request's timeout or the next retry is due; while the in-flight and
 * pending requests reach request.concurrency it takes no input at all, which
 * is how an endpoint that is down pushes back on the pipeline. */
#include "http_internal.h"
#include "../pipeline/log.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NS_PER_MS 1000000LL
#define NS_PER_SEC 1000000000LL
#define DEFAULT_CONCURRENCY 8
#define DEFAULT_TIMEOUT_SECS 60
#define DEFAULT_BACKOFF_SECS 1.0
#define DEFAULT_MAX_BACKOFF_SECS 30.0
#define POLL_SLICE_MS 5          /* curl's wait while input may be arriving */
#define IDLE_WAIT_MS 1000        /* the longest wait between two looks around */
#define MAX_RESPONSE_BYTES (64u << 20)
#define LOG_INTERVAL_NS (5 * NS_PER_SEC)
#define STATUS_SERIES_MAX 32

typedef struct in_batch {
    batch *b;
    uint32_t left;       /* events not finished yet */
    uint32_t rejected;
} in_batch;

typedef struct ev_ref {
    in_batch *t;
    uint32_t index;
} ev_ref;

typedef struct request {
    ev_ref *refs;
    size_t n, cap;
    buf body;             /* encoded events, uncompressed */
    buf zbody;            /* body compressed, when the sink compresses */
    buf response;
    unsigned attempts;    /* sends that failed so far */
    int64_t not_before_ns;
    int64_t started_ns;
    int64_t retry_after_ns;  /* from the last response; -1 when none */
    size_t url;
    CURL *easy;           /* while in flight */
    size_t slot;          /* its index in http_sink.flying */
    struct request *next;
} request;

typedef struct rate_limited_log {
    int64_t next_ns;
    uint64_t suppressed;
} rate_limited_log;

typedef struct status_series {
    long status;
    metrics_series *s;
} status_series;

struct http_sink {
    char *id;
    const component_metrics *metrics;
    char **urls;
    size_t nurls, next_url;
    char *method;
    struct curl_slist *headers;
    http_codec codec;
    char *prefix, *separator, *suffix;
    size_t prefix_len, separator_len, suffix_len;
    char *healthcheck_path;
    http_compression compression;
    http_compressor *zc;
    uint64_t max_events, max_bytes;
    int64_t batch_timeout_ns;
    size_t concurrency;
    long timeout_ms;
    double backoff_initial, backoff_max;
    uint64_t retry_attempts;
    char *ca_file, *crt_file, *key_file, *key_pass;
    bool verify_peer, verify_host;
    char *user, *password;   /* basic auth; the token is in headers */

    /* run time */
    sink_ctx *ctx;
    CURLM *multi;
    CURL **idle;
    size_t nidle, idle_cap;
    request *open;
    int64_t open_deadline_ns;
    request *pending;        /* singly linked, in order of arrival */
    request **flying;        /* in flight: inflight of them */
    size_t npending, inflight;
    uint64_t events_held;
    uint64_t rng;
    uint8_t *items;
    const event **events;    /* the judged request's events, for the codec */
    size_t items_cap;
    rate_limited_log retry_log, reject_log;

    metrics_series *m_requests, *m_inflight, *m_events_inflight, *m_rtt;
    status_series statuses[STATUS_SERIES_MAX];
    size_t nstatuses;
};

static const double rtt_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1, 2.5, 5, 10, 30, 60};

/* ---- small helpers ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_OK;

static void init_curl_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t now_ns(void)
{
    return sl_now_mono_ns();
}

static uint64_t next_random(http_sink *h)
{
    /* xorshift64*: jitter needs spread, not secrecy. */
    h->rng ^= h->rng >> 12;
    h->rng ^= h->rng << 25;
    h->rng ^= h->rng >> 27;
    return h->rng * 2685821657736338717ULL;
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

/* A URL fit for a log line: userinfo ("user:pass@") removed. */
static void url_for_log(const char *url, char *out, size_t cap)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *path = host + strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < path; p++)
        if (*p == '@')
            at = p;
    if (!at) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s%s", (int)(host - url), url, at + 1);
}

/* Logs at most one message per interval per kind, saying how many were
 * held back, so an endpoint failing every request cannot flood the log. */
static void log_limited(http_sink *h, rate_limited_log *rl, slog_level level, const char *fmt,
                        ...) SL_PRINTF(4, 5);
static void log_limited(http_sink *h, rate_limited_log *rl, slog_level level, const char *fmt,
                        ...)
{
    int64_t now = now_ns();
    if (now < rl->next_ns) {
        rl->suppressed++;
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (rl->suppressed)
        slog(level, h->id, "%s (%" PRIu64 " similar messages suppressed)", msg, rl->suppressed);
    else
        slog(level, h->id, "%s", msg);
    rl->suppressed = 0;
    rl->next_ns = now + LOG_INTERVAL_NS;
}

/* ---- metrics ---- */

static metrics_series *status_counter(http_sink *h, long status)
{
    for (size_t i = 0; i < h->nstatuses; i++)
        if (h->statuses[i].status == status)
            return h->statuses[i].s;
    const component_metrics *m = h->metrics;
    if (!m || !m->id)
        return NULL;
    char code[24];
    snprintf(code, sizeof(code), "%ld", status);
    const metrics_label labels[] = {
        {"component_id", m->id}, {"component_kind", m->kind},
        {"component_type", m->type}, {"status", code},
    };
    metrics_series *s = metrics_counter("http_client_responses_total",
                                        "HTTP responses received, by status code.", labels,
                                        SL_ARRAY_LEN(labels));
    if (s && h->nstatuses < STATUS_SERIES_MAX)
        h->statuses[h->nstatuses++] = (status_series){status, s};
    return s;
}

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
    h->m_rtt = metrics_histogram("http_client_rtt_seconds",
                                 "Time from sending a request to its response.", labels,
                                 SL_ARRAY_LEN(labels), rtt_buckets, SL_ARRAY_LEN(rtt_buckets));
}

static void update_gauges(http_sink *h)
{
    metrics_set(h->m_inflight, (double)h->inflight);
    metrics_set(h->m_events_inflight, (double)h->events_held);
}

/* ---- acknowledgements ---- */

/* One event of b is finished: the last one acknowledges the batch. */
static void finish_event(http_sink *h, in_batch *t, bool rejected)
{
    if (rejected)
        t->rejected++;
    if (--t->left > 0)
        return;
    sink_done_mixed(h->ctx, t->b, t->rejected);
    free(t);
}

static void finish_refs(http_sink *h, const ev_ref *refs, size_t n, bool rejected)
{
    h->events_held -= n < h->events_held ? n : h->events_held;
    for (size_t i = 0; i < n; i++)
        finish_event(h, refs[i].t, rejected);
}

/* An event that cannot be sent at all (encoding failed, too large alone). */
static void reject_one(http_sink *h, in_batch *t, const char *error_type, const char *why)
{
    component_metrics_error(h->metrics, error_type, "processing", 1);
    log_limited(h, &h->reject_log, SLOG_ERROR, "Event dropped (%s): %s", error_type, why);
    finish_event(h, t, true);
}

/* ---- requests ---- */

static request *request_new(http_sink *h)
{
    request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->url = h->next_url;
    h->next_url = (h->next_url + 1) % h->nurls;
    r->retry_after_ns = -1;
    return r;
}

static void request_free(request *r)
{
    if (!r)
        return;
    free(r->refs);
    buf_free(&r->body);
    buf_free(&r->zbody);
    buf_free(&r->response);
    free(r);
}

static int request_push_ref(request *r, ev_ref ref)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        ev_ref *refs = realloc(r->refs, cap * sizeof(*refs));
        if (!refs)
            return -1;
        r->refs = refs;
        r->cap = cap;
    }
    r->refs[r->n++] = ref;
    return 0;
}

/* Truncates a buffer back to a mark, keeping it NUL-terminated. */
static void buf_truncate(buf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

static const event *ref_event(ev_ref ref)
{
    return &ref.t->b->events[ref.index];
}

/* Appends one event (with its separator) to r's body: 1 when it was
 * appended, 0 when it was rejected alone, -1 out of memory. */
static int encode_event(http_sink *h, request *r, ev_ref ref)
{
    size_t mark = r->body.len;
    if (r->n > 0 && buf_append(&r->body, h->separator, h->separator_len) < 0)
        return -1;
    size_t start = r->body.len;
    sl_error err = {{0}};
    if (h->codec.encode(h->codec.ud, ref_event(ref), &r->body, &err) < 0) {
        buf_truncate(&r->body, mark);
        reject_one(h, ref.t, "encode_failed", err.msg[0] ? err.msg : "cannot encode");
        return 0;
    }
    size_t alone = h->prefix_len + (r->body.len - start) + h->suffix_len;
    if (h->codec.max_bytes && alone > h->codec.max_bytes) {
        buf_truncate(&r->body, mark);
        char why[96];
        snprintf(why, sizeof(why), "%zu bytes encoded, over the limit of %zu", alone,
                 h->codec.max_bytes);
        reject_one(h, ref.t, "event_too_large", why);
        return 0;
    }
    return 1;
}

/* Encodes r's body again from its references (halves of a split, items to
 * retry); events that no longer encode are dropped from r. */
static int encode_request(http_sink *h, request *r)
{
    buf_reset(&r->body);
    if (buf_append(&r->body, h->prefix, h->prefix_len) < 0)
        return -1;
    size_t kept = 0, n = r->n;
    r->n = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = encode_event(h, r, r->refs[i]);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            r->refs[kept++] = r->refs[i];
            r->n = kept;
        } else {
            h->events_held--;
        }
    }
    r->n = kept;
    return buf_append(&r->body, h->suffix, h->suffix_len);
}

static void pending_push(http_sink *h, request *r)
{
    r->next = NULL;
    request **p = &h->pending;
    while (*p)
        p = &(*p)->next;
    *p = r;
    h->npending++;
}

/* Fails every event of r for good and frees it. */
static void reject_request(http_sink *h, request *r)
{
    finish_refs(h, r->refs, r->n, true);
    request_free(r);
}

static void queue_request(http_sink *h, request *r);

/* Two requests from the halves of r, each encoded again; a single event
 * that is still too large is rejected. */
static void split_request(http_sink *h, request *r, const char *why)
{
    if (r->n <= 1) {
        component_metrics_error(h->metrics, "event_too_large", "sending", r->n);
        log_limited(h, &h->reject_log, SLOG_ERROR,
                    "Event dropped: a request of one event is still too large (%s).", why);
        reject_request(h, r);
        return;
    }
    size_t half = r->n / 2;
    request *a = request_new(h), *b = request_new(h);
    bool ok = a && b;
    for (size_t i = 0; ok && i < r->n; i++)
        ok = request_push_ref(i < half ? a : b, r->refs[i]) == 0;
    if (ok) {
        a->url = b->url = r->url;
        ok = encode_request(h, a) == 0 && encode_request(h, b) == 0;
    }
    if (!ok) {
        /* Out of memory: the events stay in r, which is tried again later. */
        request_free(a);
        request_free(b);
        r->not_before_ns = now_ns() + NS_PER_SEC;
        pending_push(h, r);
        return;
    }
    r->n = 0;
    request_free(r);
    queue_request(h, a);
    queue_request(h, b);
}

/* Compresses a finished body and queues it, splitting it first when the
 * codec's compressed limit is exceeded. */
static void queue_request(http_sink *h, request *r)
{
    if (r->n == 0) {
        request_free(r);
        return;
    }
    if (h->zc) {
        sl_error err = {{0}};
        if (http_compress(h->zc, r->body.data, r->body.len, &r->zbody, &err) < 0) {
            log_limited(h, &h->retry_log, SLOG_ERROR, "Cannot compress a request: %s", err.msg);
            r->not_before_ns = now_ns() + NS_PER_SEC;
            pending_push(h, r);
            return;
        }
        if (h->codec.max_compressed_bytes && r->zbody.len > h->codec.max_compressed_bytes) {
            split_request(h, r, "over the compressed size limit");
            return;
        }
    }
    r->not_before_ns = 0;
    pending_push(h, r);
}

/* ---- the open request ---- */

static void flush_open(http_sink *h)
{
    request *r = h->open;
    h->open = NULL;
    if (!r)
        return;
    if (buf_append(&r->body, h->suffix, h->suffix_len) < 0) {
        /* Keep the events: encode_request builds the body again later. */
        if (encode_request(h, r) < 0) {
            r->not_before_ns = now_ns() + NS_PER_SEC;
            pending_push(h, r);
            return;
        }
    }
    queue_request(h, r);
}

static request *open_request(http_sink *h)
{
    if (h->open)
        return h->open;
    request *r = request_new(h);
    if (!r || buf_append(&r->body, h->prefix, h->prefix_len) < 0) {
        request_free(r);
        return NULL;
    }
    h->open = r;
    h->open_deadline_ns = now_ns() + h->batch_timeout_ns;
    return r;
}

/* Adds one event to the open request, sending it first when the event would
 * take it over max_bytes; an event alone over max_bytes goes alone. */
static int add_event(http_sink *h, in_batch *t, uint32_t index)
{
    ev_ref ref = {t, index};
    request *r = open_request(h);
    if (!r)
        return -1;
    size_t mark = r->body.len;
    int rc = encode_event(h, r, ref);
    if (rc <= 0)
        return rc;
    if (r->n > 0 && r->body.len + h->suffix_len > h->max_bytes) {
        buf_truncate(&r->body, mark);
        flush_open(h);
        return add_event(h, t, index);
    }
    if (request_push_ref(r, ref) < 0) {
        buf_truncate(&r->body, mark);
        return -1;
    }
    h->events_held++;
    if (r->n >= h->max_events || r->body.len + h->suffix_len >= h->max_bytes)
        flush_open(h);
    return 0;
}

static void take_batch(http_sink *h, batch *b)
{
    uint32_t n = b->count;
    if (n == 0) {
        sink_done(h->ctx, b, ACK_DELIVERED);
        return;
    }
    in_batch *t = calloc(1, sizeof(*t));
    if (!t) {
        slog_error(h->id, "Out of memory: a batch of %" PRIu32 " events was not sent.", n);
        sink_done(h->ctx, b, ACK_ERRORED);
        return;
    }
    t->b = b;
    t->left = n;
    for (uint32_t i = 0; i < n; i++) {
        if (add_event(h, t, i) < 0)
            reject_one(h, t, "out_of_memory", "out of memory encoding the event");
    }
}

/* ---- curl ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    request *r = ud;
    size_t n = size * nmemb;
    if (r->response.len + n > MAX_RESPONSE_BYTES || buf_append(&r->response, data, n) < 0)
        return 0;   /* curl turns this into a transport error: retried */
    return n;
}

/* Retry-After: delay-seconds or an HTTP-date (RFC 9110 10.2.3). */
static int64_t parse_retry_after(const char *v, size_t n)
{
    char text[128];
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n == 0 || n >= sizeof(text))
        return -1;
    memcpy(text, v, n);
    text[n] = '\0';
    char *end;
    unsigned long long secs = strtoull(text, &end, 10);
    if (*end == '\0' && text[0] >= '0' && text[0] <= '9')
        return secs > 86400 ? 86400 * NS_PER_SEC : (int64_t)secs * NS_PER_SEC;
    time_t when = curl_getdate(text, NULL);
    if (when < 0)
        return -1;
    int64_t delta = ((int64_t)when * NS_PER_SEC) - sl_now_wall_ns();
    return delta < 0 ? 0 : delta;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    request *r = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0)
        r->retry_after_ns = parse_retry_after(data + sizeof(name) - 1, n - (sizeof(name) - 1));
    return n;
}

/* Options every handle of the sink shares; set once per handle, which is
 * then reused for request after request (and keeps its connection). */
static CURLcode configure_easy(http_sink *h, CURL *e)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                  \
    do {                                               \
        if (rc == CURLE_OK)                            \
            rc = curl_easy_setopt(e, opt, val);        \
    } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_USERAGENT, "sluice/" SLUICE_VERSION);
    SET(CURLOPT_TIMEOUT_MS, h->timeout_ms);
    SET(CURLOPT_HTTPHEADER, h->headers);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_SSL_VERIFYPEER, h->verify_peer ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, h->verify_host ? 2L : 0L);
    if (h->ca_file)
        SET(CURLOPT_CAINFO, h->ca_file);
    if (h->crt_file)
        SET(CURLOPT_SSLCERT, h->crt_file);
    if (h->key_file)
        SET(CURLOPT_SSLKEY, h->key_file);
    if (h->key_pass)
        SET(CURLOPT_KEYPASSWD, h->key_pass);
    if (h->user) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, h->user);
        SET(CURLOPT_PASSWORD, h->password ? h->password : "");
    }
    /* No CURLOPT_PROXY: curl then reads http_proxy, https_proxy and
     * no_proxy from the environment by itself. */
#undef SET
    return rc;
}

static CURL *take_easy(http_sink *h)
{
    if (h->nidle > 0)
        return h->idle[--h->nidle];
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    if (configure_easy(h, e) != CURLE_OK) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

static void return_easy(http_sink *h, CURL *e)
{
    if (h->nidle == h->idle_cap) {
        size_t cap = h->idle_cap ? h->idle_cap * 2 : 8;
        CURL **idle = realloc(h->idle, cap * sizeof(*idle));
        if (!idle) {
            curl_easy_cleanup(e);
            return;
        }
        h->idle = idle;
        h->idle_cap = cap;
    }
    h->idle[h->nidle++] = e;
}

static int start_request(http_sink *h, request *r)
{
    CURL *e = take_easy(h);
    if (!e)
        return -1;
    const buf *body = h->zc ? &r->zbody : &r->body;
    buf_reset(&r->response);
    r->retry_after_ns = -1;
    curl_easy_setopt(e, CURLOPT_URL, h->urls[r->url]);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body->data ? body->data : "");
    if (strcmp(h->method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, h->method);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        return_easy(h, e);
        return -1;
    }
    r->started_ns = now_ns();
    r->easy = e;
    r->slot = h->inflight;
    h->flying[h->inflight++] = r;
    metrics_add(h->m_requests, 1);
    return 0;
}

/* Starts pending requests whose time has come while there is room. */
static void start_ready(http_sink *h, int64_t now)
{
    request **p = &h->pending;
    while (*p && h->inflight < h->concurrency) {
        request *r = *p;
        if (r->not_before_ns > now) {
            p = &r->next;
            continue;
        }
        *p = r->next;
        h->npending--;
        if (start_request(h, r) < 0) {
            log_limited(h, &h->retry_log, SLOG_ERROR,
                        "Cannot start a request (out of memory); retrying in 1s.");
            r->not_before_ns = now + NS_PER_SEC;
            pending_push(h, r);
            break;
        }
    }
    update_gauges(h);
}

/* ---- responses ---- */

/* Full jitter: a uniform delay up to min(max, initial * 2^(attempt-1)). */
static int64_t backoff_ns(http_sink *h, unsigned attempt)
{
    double cap = h->backoff_initial;
    for (unsigned i = 1; i < attempt && cap < h->backoff_max; i++)
        cap *= 2;
    if (cap > h->backoff_max)
        cap = h->backoff_max;
    double u = (double)(next_random(h) >> 11) / (double)(1ULL << 53);
    return (int64_t)(u * cap * (double)NS_PER_SEC);
}

static void retry_request(http_sink *h, request *r, const char *why)
{
    r->attempts++;
    if (h->retry_attempts && r->attempts > h->retry_attempts) {
        log_limited(h, &h->reject_log, SLOG_ERROR,
                    "Request failed for good after %u attempts, %zu events dropped: %s",
                    r->attempts, r->n, why);
        reject_request(h, r);
        return;
    }
    int64_t delay = r->retry_after_ns >= 0 ? r->retry_after_ns : backoff_ns(h, r->attempts);
    log_limited(h, &h->retry_log, SLOG_WARN, "Request failed (%s); retrying in %.3f s.", why,
                (double)delay / NS_PER_SEC);
    r->not_before_ns = now_ns() + delay;
    pending_push(h, r);
}

/* The scratch a judge fills (items) and reads (the request's events). */
static uint8_t *items_for(http_sink *h, const request *r)
{
    size_t n = r->n;
    if (n > h->items_cap) {
        uint8_t *items = realloc(h->items, n);
        if (items)
            h->items = items;
        const event **events = items ? realloc(h->events, n * sizeof(*events)) : NULL;
        if (!events)
            return NULL;
        h->events = events;
        h->items_cap = n;
    }
    memset(h->items, HTTP_ITEM_DELIVERED, n);
    for (size_t i = 0; i < n; i++)
        h->events[i] = &r->refs[i].t->b->events[r->refs[i].index];
    return h->items;
}

/* After a partial failure: delivered and rejected items finish, the ones to
 * retry go again in a request of their own after a backoff. */
static void handle_partial(http_sink *h, request *r, const uint8_t *items, const char *why)
{
    request *again = request_new(h);
    size_t delivered = 0, rejected = 0;
    for (size_t i = 0; i < r->n; i++) {
        bool retry = items[i] == HTTP_ITEM_RETRY;
        if (retry && again && request_push_ref(again, r->refs[i]) == 0)
            continue;
        bool failed = items[i] != HTTP_ITEM_DELIVERED;
        finish_refs(h, &r->refs[i], 1, failed);
        if (failed)
            rejected++;
        else
            delivered++;
    }
    if (rejected) {
        component_metrics_error(h->metrics, "request_failed", "sending", 1);
        log_limited(h, &h->reject_log, SLOG_ERROR,
                    "%zu of %zu events rejected by the endpoint: %s", rejected, r->n, why);
    }
    if (again && again->n) {
        again->url = r->url;
        again->attempts = r->attempts;
        again->retry_after_ns = r->retry_after_ns;
        if (encode_request(h, again) == 0) {
            request *keep = again;
            if (h->zc) {
                sl_error err;
                if (http_compress(h->zc, keep->body.data, keep->body.len, &keep->zbody, &err) <
                    0) {
                    reject_request(h, keep);
                    keep = NULL;
                }
            }
            if (keep)
                retry_request(h, keep, why);
        } else {
            reject_request(h, again);
        }
    } else {
        request_free(again);
    }
    r->n = 0;
    request_free(r);
}

static void handle_response(http_sink *h, request *r, long status)
{
    metrics_add(status_counter(h, status), 1);
    uint8_t *items = items_for(h, r);
    http_response resp = {status, NULL, r->response.data ? r->response.data : "",
                          r->response.len, h->events};
    char reason[256] = "";
    http_verdict v = items ? (h->codec.judge ? h->codec.judge : http_judge_default)(
                                 h->codec.ud, &resp, r->n, items, reason, sizeof(reason))
                           : HTTP_RETRY;
    char why[320];
    snprintf(why, sizeof(why), "HTTP %ld%s%s", status, reason[0] ? ": " : "", reason);
    switch (v) {
    case HTTP_DELIVERED:
        finish_refs(h, r->refs, r->n, false);
        request_free(r);
        break;
    case HTTP_RETRY:
        component_metrics_error(h->metrics, "request_failed", "sending", 1);
        retry_request(h, r, why);
        break;
    case HTTP_REJECTED:
        component_metrics_error(h->metrics, "request_failed", "sending", 1);
        log_limited(h, &h->reject_log, SLOG_ERROR, "Request rejected, %zu events dropped: %s",
                    r->n, why);
        reject_request(h, r);
        break;
    case HTTP_SPLIT:
        split_request(h, r, why);
        break;
    case HTTP_PARTIAL:
        handle_partial(h, r, items, why);
        break;
    }
}

static void handle_done(http_sink *h, CURL *e, CURLcode result)
{
    request *r = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    curl_multi_remove_handle(h->multi, e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    return_easy(h, e);
    if (!r)
        return;
    request *last = h->flying[--h->inflight];
    h->flying[r->slot] = last;
    last->slot = r->slot;
    r->easy = NULL;
    metrics_observe(h->m_rtt, (double)(now_ns() - r->started_ns) / NS_PER_SEC);
    if (result != CURLE_OK) {
        char url[512], why[768];
        url_for_log(h->urls[r->url], url, sizeof(url));
        snprintf(why, sizeof(why), "%s: %s", url, curl_easy_strerror(result));
        component_metrics_error(h->metrics, "request_failed", "sending", 1);
        r->url = (r->url + 1) % h->nurls;   /* fail over */
        r->retry_after_ns = -1;
        retry_request(h, r, why);
        return;
    }
    handle_response(h, r, status);
}

static void read_done(http_sink *h)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            handle_done(h, msg->easy_handle, msg->data.result);
    update_gauges(h);
}

static void drive_curl(http_sink *h, int wait_ms)
{
    if (wait_ms > 0)
        curl_multi_poll(h->multi, NULL, 0, wait_ms, NULL);
    int running;
    curl_multi_perform(h->multi, &running);
    read_done(h);
}

/* ---- the loop ---- */

static bool can_take_input(const http_sink *h)
{
    return h->inflight + h->npending < h->concurrency;
}

/* The next moment something is due: the open request's timeout, or a
 * pending request's retry when there is room to start it. */
static int ms_until_due(const http_sink *h, int64_t now)
{
    int64_t due = now + IDLE_WAIT_MS * NS_PER_MS;
    if (h->open && h->open_deadline_ns < due)
        due = h->open_deadline_ns;
    if (h->inflight < h->concurrency)
        for (const request *r = h->pending; r; r = r->next)
            if (r->not_before_ns < due)
                due = r->not_before_ns;
    if (due <= now)
        return 0;
    return (int)((due - now + NS_PER_MS - 1) / NS_PER_MS);
}

int http_sink_run(http_sink *h, sink_ctx *ctx, sl_error *err)
{
    SL_UNUSED(err);
    h->ctx = ctx;
    bool ended = false;
    for (;;) {
        int64_t now = now_ns();
        if (h->open && now >= h->open_deadline_ns)
            flush_open(h);
        start_ready(h, now);
        if (ended && !h->open && !h->pending && !h->inflight)
            break;
        bool took = false, waited = false;
        if (!ended && can_take_input(h)) {
            int wait = h->inflight ? 0 : ms_until_due(h, now);
            batch *b;
            queue_result q = sink_next(ctx, &b, wait);
            waited = wait > 0;
            if (q == QUEUE_OK) {
                take_batch(h, b);
                took = true;
            } else if (q == QUEUE_END) {
                ended = true;
                flush_open(h);
                continue;
            }
        }
        if (took) {
            if (h->inflight)
                drive_curl(h, 0);
            continue;
        }
        if (h->inflight) {
            int wait = !ended && can_take_input(h) ? POLL_SLICE_MS : ms_until_due(h, now_ns());
            drive_curl(h, wait > 0 ? wait : 1);
        } else if (!waited) {
            /* Nothing in flight and no input to take: sleep until due. */
            int wait = ms_until_due(h, now_ns());
            if (wait > 0)
                curl_multi_poll(h->multi, NULL, 0, wait, NULL);
        }
    }
    return 0;
}

/* ---- setup ---- */

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

/* The header list every request carries: the user's request.headers, the
 * sink's own (API keys), then Content-Type/-Encoding unless already given. */
static int build_headers(http_sink *h, const http_sink_setup *s, sl_error *err)
{
    const http_sink_options *o = s->options;
    buf line = BUF_INIT;
    int rc = 0;
    const cfg_node *map = o->request_headers;
    for (size_t i = 0; rc == 0 && map && map->kind == CFG_MAP && i < map->npairs; i++) {
        const cfg_pair *p = &map->pairs[i];
        if (p->value->kind != CFG_SCALAR)
            continue;
        buf_reset(&line);
        rc = buf_printf(&line, "%s: %s", p->key->text, p->value->text);
        if (rc == 0)
            rc = append_header(&h->headers, line.data);
    }
    for (size_t i = 0; rc == 0 && i < s->nheaders; i++)
        rc = append_header(&h->headers, s->headers[i]);
    if (rc == 0 && o->auth_strategy == HTTP_AUTH_BEARER && o->auth_token) {
        buf_reset(&line);
        rc = buf_printf(&line, "Authorization: Bearer %s", o->auth_token);
        if (rc == 0)
            rc = append_header(&h->headers, line.data);
    }
    if (rc == 0 && s->codec.content_type && !has_header(h->headers, "Content-Type")) {
        buf_reset(&line);
        rc = buf_printf(&line, "Content-Type: %s", s->codec.content_type);
        if (rc == 0)
            rc = append_header(&h->headers, line.data);
    }
    const char *enc = http_content_encoding(h->compression);
    if (rc == 0 && enc) {
        buf_reset(&line);
        rc = buf_printf(&line, "Content-Encoding: %s", enc);
        if (rc == 0)
            rc = append_header(&h->headers, line.data);
    }
    /* No "Expect: 100-continue" round trip before large bodies. */
    if (rc == 0)
        rc = append_header(&h->headers, "Expect:");
    if (line.data) {
        memset(line.data, 0, line.cap);   /* it held a token */
        buf_free(&line);
    }
    return rc < 0 ? sl_fail(err, "out of memory building the request headers") : 0;
}

static void apply_limits(http_sink *h, const http_sink_setup *s)
{
    const http_sink_options *o = s->options;
    h->max_events = o->batch_max_events ? o->batch_max_events : s->defaults.batch_max_events;
    if (s->codec.max_events && (!h->max_events || h->max_events > s->codec.max_events))
        h->max_events = s->codec.max_events;
    if (!h->max_events)
        h->max_events = UINT64_MAX;
    h->max_bytes = o->batch_max_bytes ? o->batch_max_bytes : s->defaults.batch_max_bytes;
    if (s->codec.max_bytes && (!h->max_bytes || h->max_bytes > s->codec.max_bytes))
        h->max_bytes = s->codec.max_bytes;
    if (!h->max_bytes)
        h->max_bytes = SIZE_MAX / 2;
    double secs = o->batch_timeout_secs > 0 ? o->batch_timeout_secs
                                            : s->defaults.batch_timeout_secs;
    h->batch_timeout_ns = secs > 0 ? (int64_t)(secs * NS_PER_SEC) : NS_PER_SEC;
    h->concurrency = o->concurrency ? (size_t)o->concurrency : DEFAULT_CONCURRENCY;
    h->timeout_ms = 1000L * (long)(o->timeout_secs ? o->timeout_secs : DEFAULT_TIMEOUT_SECS);
    h->backoff_initial = o->retry_initial_backoff_secs > 0 ? o->retry_initial_backoff_secs
                                                           : DEFAULT_BACKOFF_SECS;
    h->backoff_max = o->retry_max_duration_secs > 0 ? o->retry_max_duration_secs
                                                    : DEFAULT_MAX_BACKOFF_SECS;
    h->retry_attempts = o->retry_attempts;
    int c = o->compression >= 0 ? o->compression : (int)s->defaults.compression;
    h->compression = (http_compression)c;
    h->verify_peer = o->tls_verify_certificate || !o->tls_verify_certificate_set;
    h->verify_host = o->tls_verify_hostname || !o->tls_verify_hostname_set;
}

static int copy_strings(http_sink *h, const http_sink_setup *s, const component_info *info)
{
    const http_sink_options *o = s->options;
    bool failed = false;
    h->id = dup_or_null(info && info->id ? info->id : "http", &failed);
    h->method = dup_or_null(s->method ? s->method : "POST", &failed);
    h->prefix = dup_or_null(s->codec.prefix ? s->codec.prefix : "", &failed);
    h->separator = dup_or_null(s->codec.separator ? s->codec.separator : "", &failed);
    h->suffix = dup_or_null(s->codec.suffix ? s->codec.suffix : "", &failed);
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
    h->urls = calloc(s->nurls, sizeof(*h->urls));
    failed = failed || !h->urls;
    for (size_t i = 0; h->urls && i < s->nurls; i++)
        h->urls[i] = dup_or_null(s->urls[i], &failed);
    h->nurls = s->nurls;
    if (!failed) {
        h->prefix_len = strlen(h->prefix);
        h->separator_len = strlen(h->separator);
        h->suffix_len = strlen(h->suffix);
    }
    return failed ? -1 : 0;
}

int http_sink_new(const http_sink_setup *setup, const component_info *info, http_sink **out,
                  sl_error *err)
{
    *out = NULL;
    if (!setup || !setup->options || !setup->nurls || !setup->urls || !setup->codec.encode)
        return sl_fail(err, "HTTP sink: a URL and an encoder are required");
    pthread_once(&curl_once, init_curl_once);
    if (curl_init_result != CURLE_OK)
        return sl_fail(err, "cannot initialise libcurl: %s",
                       curl_easy_strerror(curl_init_result));
    http_sink *h = calloc(1, sizeof(*h));
    if (!h)
        return sl_fail(err, "out of memory");
    h->codec = setup->codec;
    h->metrics = info ? info->metrics : NULL;
    h->rng = (uint64_t)now_ns() ^ ((uint64_t)(uintptr_t)h << 16) ^ 0x9e3779b97f4a7c15ULL;
    if (!h->rng)
        h->rng = 1;
    apply_limits(h, setup);
    if (copy_strings(h, setup, info) < 0) {
        http_sink_free(h);
        return sl_fail(err, "out of memory");
    }
    if (build_headers(h, setup, err) < 0) {
        http_sink_free(h);
        return -1;
    }
    if (h->compression != HTTP_COMPRESSION_NONE) {
        h->zc = http_compressor_new(h->compression, (int)setup->options->compression_level);
        if (!h->zc) {
            http_sink_free(h);
            return sl_fail(err, "cannot set up %s compression (out of memory)",
                           http_compression_names[h->compression]);
        }
    }
    h->multi = curl_multi_init();
    h->flying = calloc(h->concurrency, sizeof(*h->flying));
    if (!h->multi || !h->flying) {
        http_sink_free(h);
        return sl_fail(err, "cannot create a libcurl multi handle");
    }
    register_metrics(h);
    *out = h;
    return 0;
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

static void free_request_list(http_sink *h, request *r)
{
    while (r) {
        request *next = r->next;
        /* Only at teardown after a forced stop: the batches are released as
         * errored, so a source re-reads them. */
        for (size_t i = 0; i < r->n; i++) {
            in_batch *t = r->refs[i].t;
            if (--t->left == 0) {
                if (h->ctx)
                    sink_done(h->ctx, t->b, ACK_ERRORED);
                else
                    batch_release(t->b, ACK_ERRORED);
                free(t);
            }
        }
        r->n = 0;
        request_free(r);
        r = next;
    }
}

void http_sink_free(http_sink *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->inflight; i++) {
        request *r = h->flying[i];
        curl_multi_remove_handle(h->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->next = NULL;
        free_request_list(h, r);
    }
    free(h->flying);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    free_request_list(h, h->open);
    free_request_list(h, h->pending);
    for (size_t i = 0; i < h->nidle; i++)
        curl_easy_cleanup(h->idle[i]);
    free(h->idle);
    free(h->items);
    free(h->events);
    http_compressor_free(h->zc);
    curl_slist_free_all(h->headers);
    for (size_t i = 0; h->urls && i < h->nurls; i++)
        free(h->urls[i]);
    free(h->urls);
    free(h->id);
    free(h->method);
    free(h->prefix);
    free(h->separator);
    free(h->suffix);
    free(h->healthcheck_path);
    free(h->ca_file);
    free(h->crt_file);
    free(h->key_file);
    free_secret(h->key_pass);
    free(h->user);
    free_secret(h->password);
    free(h);
}

/* ---- judging and the healthcheck ---- */

http_verdict http_judge_default(void *ud, const http_response *r, size_t n, uint8_t *items,
                                char *reason, size_t reason_cap)
{
    SL_UNUSED(ud);
    SL_UNUSED(n);
    SL_UNUSED(items);
    long s = r->status;
    if (s >= 200 && s < 300)
        return HTTP_DELIVERED;
    if (reason && reason_cap) {
        /* The start of the body says why, usually; never a header. */
        size_t len = r->body_len < reason_cap - 1 ? r->body_len : reason_cap - 1;
        size_t j = 0;
        for (size_t i = 0; i < len; i++) {
            char c = r->body[i];
            reason[j++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
        }
        reason[j] = '\0';
    }
    if (s == 0 || s == 408 || s == 429 || s >= 500)
        return HTTP_RETRY;
    if (s == 413)
        return HTTP_SPLIT;
    return HTTP_REJECTED;
}

/* scheme://host:port of the first URL with the healthcheck's path. */
static char *healthcheck_url(const http_sink *h)
{
    CURLU *u = curl_url();
    char *url = NULL, *copy = NULL;
    if (!u)
        return NULL;
    if (strncmp(h->healthcheck_path, "http://", 7) == 0 ||
        strncmp(h->healthcheck_path, "https://", 8) == 0) {
        curl_url_cleanup(u);
        return strdup(h->healthcheck_path);
    }
    if (curl_url_set(u, CURLUPART_URL, h->urls[0], 0) == CURLUE_OK &&
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
    url_for_log(url, shown, sizeof(shown));
    CURL *e = take_easy(h);
    if (!e) {
        free(url);
        return sl_fail(err, "cannot create a libcurl handle");
    }
    request probe = {0};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
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
