/* http_sink.h - the engine the HTTP sinks share (`http`, `datadog_logs`,
 * `datadog_metrics`, `elasticsearch`).
 *
 * A sink supplies a codec: how one event is written into a request body,
 * the framing around the events, and how a response is judged. The engine
 * does the rest on the sink's thread: batching (batch.max_events,
 * batch.max_bytes, batch.timeout_secs), libcurl multi with
 * request.concurrency requests in flight over kept-alive connections,
 * retries with capped exponential backoff and full jitter, Retry-After, 413
 * splitting, acknowledgements, TLS, auth, proxies from the environment, the
 * healthcheck, and the metrics. Compression runs on a few threads of the
 * sink's own (codecs are only ever called on the sink's thread).
 *
 * A request keeps references to the events it carries (batch and index),
 * not only its body, so that part of it can be encoded again: the halves of
 * a request refused as too large, or the items of an Elasticsearch bulk
 * request that must be retried. An input batch is acknowledged once every
 * request carrying one of its events has finished, with the worst status
 * of them; events rejected for good are counted as discarded.
 *
 * Memory is bounded: the engine stops taking batches from its input while
 * as many requests as the concurrency limit (request.concurrency, or the
 * adaptive one) are in flight or ready to go, or while the events it holds
 * reach 2 x that limit x batch.max_bytes (estimated as JSON): requests
 * waiting to be retried count there, not in the limit. So an endpoint that
 * is down backs pressure up the pipeline. Items of partial failures to
 * retry are pooled per destination into one retry request per backoff, as
 * copies of their events, so that their input batches can be released.
 *
 * Secrets (API keys, passwords, tokens) live only in request headers and
 * curl's options: the engine never logs a header, and URLs it logs have
 * any userinfo removed. */
#ifndef SLUICE_HTTP_SINK_H
#define SLUICE_HTTP_SINK_H

#include "pipeline/buf.h"
#include "pipeline/component.h"
#include "pipeline/path.h"
#include "sinks/encoding_fields.h"

/* ---- options, shared by every HTTP sink ---- */

typedef enum http_compression {
    HTTP_COMPRESSION_NONE = 0,
    HTTP_COMPRESSION_GZIP,
    HTTP_COMPRESSION_ZSTD,
    HTTP_COMPRESSION_DEFLATE     /* zlib stream: what HTTP's "deflate" means */
} http_compression;

extern const char *const http_compression_names[];   /* indexed, NULL-ended */
/* "basic", "bearer", "api_key" */
extern const char *const http_auth_strategy_names[];

enum { HTTP_AUTH_BASIC = 0, HTTP_AUTH_BEARER, HTTP_AUTH_API_KEY };

/* Embedded as the FIRST member of each HTTP sink's options struct, so that
 * the shared option fields below (offsets into this struct) fill it. Zero /
 * NULL means "not set": the sink's defaults apply (http_sink_defaults). */
typedef struct http_sink_options {
    /* batch */
    uint64_t batch_max_events;
    uint64_t batch_max_bytes;
    double batch_timeout_secs;
    /* compression: an enum index, -1 when not set; filled by
     * http_sink_check from `compression`, which is a name or Vector's
     * object {algorithm, level} */
    const cfg_node *compression_node;
    int compression;
    uint64_t compression_level;       /* 0: the codec's default */
    /* request */
    const cfg_node *concurrency_node; /* request.concurrency as written */
    uint64_t concurrency;             /* filled by http_sink_check; 0: default */
    bool adaptive;                    /* request.concurrency: adaptive */
    /* request.adaptive_concurrency (Vector's defaults when not set) */
    uint64_t arc_initial, arc_max;
    double arc_decrease_ratio, arc_ewma_alpha, arc_rtt_deviation_scale;
    uint64_t timeout_secs;
    double retry_initial_backoff_secs;
    double retry_max_duration_secs;   /* cap of one backoff */
    uint64_t retry_attempts;          /* 0: unlimited */
    uint64_t rate_limit_num;          /* requests per window; 0: unlimited */
    double rate_limit_duration_secs;  /* the window */
    const cfg_node *request_headers;  /* request.headers: a map name -> value */
    /* tls */
    char *tls_ca_file, *tls_crt_file, *tls_key_file, *tls_key_pass;
    bool tls_verify_certificate_set, tls_verify_certificate;
    bool tls_verify_hostname_set, tls_verify_hostname;
    /* auth */
    int auth_strategy;                /* enum index, -1 when not set */
    char *auth_user, *auth_password, *auth_token;
    char *auth_api_key;               /* sent as `Authorization: ApiKey <key>` */
    /* encoding: Vector's transformer, applied to logs before the codec */
    opt_list encoding_only_fields, encoding_except_fields;
    int encoding_timestamp_format;    /* an encoding_timestamp_format_values value */
} http_sink_options;

/* Table fragments to put in a sink's option table (each is an OPT_OBJECT
 * entry's `fields`), e.g.
 *   OPT_OBJECT_ROW("batch", http_batch_fields, .help = "..."),
 * and HTTP_SINK_OPTIONS below lists all of them at once. */
extern const opt_spec http_batch_fields[];
extern const opt_spec http_request_fields[];
extern const opt_spec http_tls_fields[];
extern const opt_spec http_auth_fields[];
/* only_fields, except_fields, timestamp_format: a sink with an `encoding`
 * object of its own (http: codec) lists HTTP_ENCODING_TRANSFORM_OPTIONS in
 * it; one without (elasticsearch, datadog_logs) uses http_encoding_fields
 * as its `encoding` object's fields. */
extern const opt_spec http_encoding_fields[];

#define HTTP_ENCODING_TRANSFORM_OPTIONS                                                  \
    ENCODING_FIELDS_OPTIONS(http_sink_options, encoding_only_fields,                     \
                            encoding_except_fields, encoding_timestamp_format)

#define HTTP_SINK_OPTIONS                                                                \
    OPT_OBJECT_ROW("batch", http_batch_fields,                                           \
        .help = "When a request is sent: max_events, max_bytes, timeout_secs."),          \
    OPT_NODE_ROW("compression", http_sink_options, compression_node,                     \
        .help = "none, gzip, zstd or deflate; or {algorithm, level}."),                   \
    OPT_UINT_ROW("compression_level", http_sink_options, compression_level,              \
        .help = "gzip/deflate 1-9, zstd 1-19; the codec's default when not set."),        \
    OPT_OBJECT_ROW("request", http_request_fields,                                       \
        .help = "concurrency, adaptive_concurrency, timeout_secs, retry_*, headers."),    \
    OPT_OBJECT_ROW("tls", http_tls_fields,                                               \
        .help = "ca_file, crt_file, key_file, key_pass, verify_certificate, "             \
                "verify_hostname."),                                                     \
    OPT_OBJECT_ROW("auth", http_auth_fields,                                             \
        .help = "strategy (basic, bearer or api_key), user, password, token, api_key.")

/* Problems of the shared options (an auth strategy without its fields,
 * unreadable TLS files, ...): adds them to diags, returns their count.
 * Every HTTP sink's check() must call it: it is also where `compression`
 * and `auth.strategy` are marked "not set" (-1) when the config leaves them
 * out, which the option parser alone cannot tell from their first value. */
size_t http_sink_check(const http_sink_options *o, const char *label, const cfg_node *node,
                       diag_list *diags);

/* ---- codecs ---- */

/* One event a request carries. */
typedef struct http_event_ref {
    batch *b;
    uint32_t index;
} http_event_ref;

typedef enum http_verdict {
    HTTP_DELIVERED = 0,   /* every event of the request was delivered */
    HTTP_RETRY,           /* send the whole request again after a backoff */
    HTTP_REJECTED,        /* failed for good: counted, logged, acknowledged */
    HTTP_SPLIT,           /* too large (413): its halves are sent instead */
    HTTP_PARTIAL          /* per event: see items */
} http_verdict;

typedef enum http_item {
    HTTP_ITEM_DELIVERED = 0,
    HTTP_ITEM_RETRY,
    HTTP_ITEM_REJECTED,
    HTTP_ITEM_ERRORED     /* failed for now, not sent again by this sink (its
                             configuration says so): released as errored, so
                             a disk buffer or an acknowledging source reads
                             it again */
} http_item;

/* A finished request as the codec sees it. */
typedef struct http_response {
    long status;                  /* 0 when no response came */
    const char *transport_error;  /* curl's error text when status is 0 */
    const char *body;             /* NUL-terminated, possibly empty */
    size_t body_len;
    const event *const *events;   /* the request's n events, in order */
} http_response;

typedef struct http_codec {
    const char *content_type;     /* "application/json" */
    /* Written before the first event, between events, after the last:
     * "[" "," "]" for a JSON array, "" "" "" for NDJSON. */
    const char *prefix, *separator, *suffix;
    /* Appends one event's encoding to out; note is what prepare() said of
     * it (0 without prepare). 0; or -1 when this event cannot be encoded
     * (err says why): it is rejected alone, counted and logged, and the rest
     * of the request goes on. It may run several times for one event (a
     * retry after a split or a partial failure) and must write the same. */
    int (*encode)(void *ud, const event *e, double note, buf *out, sl_error *err);
    /* Called once per event when the engine takes it, in input order, before
     * any encoding: for state that must not change when a request is encoded
     * again (datadog_metrics turns absolute counters into deltas here). 0
     * with *note set; 1: nothing to send for this event (the first sample of
     * an absolute counter): it is finished as delivered; -1 (err): rejected.
     * NULL: every note is 0. */
    int (*prepare)(void *ud, const event *e, double *note, sl_error *err);
    /* Judges a response to a request of n events. For HTTP_PARTIAL it fills
     * items[0..n) in request order. reason: a short text for the log when
     * something failed (never a secret). NULL: http_judge_default. */
    http_verdict (*judge)(void *ud, const http_response *r, size_t n, uint8_t *items,
                          char *reason, size_t reason_cap);
    /* Limits of the API beyond the batch options; 0 = none. A request whose
     * compressed body exceeds max_compressed_bytes is split like a 413. */
    size_t max_events, max_bytes, max_compressed_bytes;
    /* encode() applies encoding.only_fields & co. itself (encoding_fields):
     * the engine hands it each event whole. */
    bool applies_fields;
    void *ud;
} http_codec;

/* 2xx delivered; 408, 429 and 5xx retried (as transport errors are); 413
 * split; any other status rejected. */
http_verdict http_judge_default(void *ud, const http_response *r, size_t n, uint8_t *items,
                                char *reason, size_t reason_cap);

/* ---- the engine ---- */

/* What a sink's defaults are, for options the user did not set. */
typedef struct http_sink_defaults {
    uint64_t batch_max_events;
    uint64_t batch_max_bytes;
    double batch_timeout_secs;
    http_compression compression;
} http_sink_defaults;

typedef struct http_sink_setup {
    const http_sink_options *options;
    http_sink_defaults defaults;
    const char *const *urls;      /* one or more; requests go round-robin and
                                     move to the next after a transport error */
    size_t nurls;
    const char *method;           /* "POST" or "PUT" */
    const char *const *headers;   /* "Name: value" the sink adds (may hold
                                     secrets: never logged) */
    size_t nheaders;
    http_codec codec;
    const char *healthcheck_path; /* GET <url base><path> for the healthcheck,
                                     or this whole URL when it starts with
                                     http:// or https:// (Datadog checks keys
                                     on its API host, not the intake);
                                     NULL: no healthcheck */
    /* More destinations, for a sink whose events go to different APIs
     * (datadog_metrics: series and distribution points). route() names each
     * event's destination: 0 for urls + codec above, i > 0 for routes[i-1].
     * Requests never mix destinations; batching limits, retries and
     * concurrency apply to each request alike. route NULL: one destination. */
    const struct http_route *routes;
    size_t nroutes;
    size_t (*route)(void *ud, const event *e);
    void *route_ud;
    /* How requests travel (sinks/http/http_internal.h): NULL for libcurl,
     * which every sink uses; the engine's unit tests pass a fake. */
    const struct http_transport *transport;
    void *transport_ud;
} http_sink_setup;

/* A destination besides the main one: its URLs and how its bodies look. */
typedef struct http_route {
    const char *const *urls;
    size_t nurls;
    http_codec codec;
} http_route;

typedef struct http_sink http_sink;

/* Copies what it needs of setup (strings included). 0, or -1 with err. */
int http_sink_new(const http_sink_setup *setup, const component_info *info, http_sink **out,
                  sl_error *err);
void http_sink_free(http_sink *h);
/* The sink's run(): sends until the input ends and everything in flight
 * has finished (or the runtime's shutdown timeout stops it). */
int http_sink_run(http_sink *h, sink_ctx *ctx, sl_error *err);
/* GET healthcheck_path (on the first URL, or absolute): 0 on 2xx, else -1 with err naming
 * the status or the transport error (not the headers). */
int http_sink_healthcheck(http_sink *h, sl_error *err);

#endif
