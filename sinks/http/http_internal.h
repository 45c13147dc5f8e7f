/* http_internal.h - what the files of the HTTP sink engine share; sinks use
 * http_sink.h instead.
 *
 *   http_sink.c      the loop on the sink's thread, responses, acks
 *   http_curl.c      the transport: libcurl multi (tests bring a fake)
 *   http_request.c   events into requests: routing, encoding, batching,
 *                    splitting, the pending list
 *   http_setup.c     http_sink_new / free, headers, limits, healthcheck
 *   http_retry.c     pure rules: default judge, backoff, Retry-After
 *   http_compress.c  request bodies compressed
 *   http_zpool.c     the threads that compress them off the sink's thread
 *   http_options.c   the shared option tables and their checks */
#ifndef SLUICE_HTTP_INTERNAL_H
#define SLUICE_HTTP_INTERNAL_H

#include "sinks/http/http_sink.h"
#include "pipeline/log.h"

#include <curl/curl.h>

/* How often a kind of failure (a rejection, a retry) may be logged. */
#define HTTP_LOG_INTERVAL_NS (5 * NS_PER_SEC)

#define STATUS_SERIES_MAX 32

/* ---- compression (http_compress.c) ---- */

typedef struct http_compressor http_compressor;

/* A compressor for one algorithm and level (0: its default), reused for
 * every request of a sink. NULL on allocation failure. */
http_compressor *http_compressor_new(http_compression algo, int level);
void http_compressor_free(http_compressor *c);
/* Replaces out's contents with in compressed as one complete stream
 * (gzip member, zlib stream or zstd frame). -1 with err on failure. */
int http_compress(http_compressor *c, const char *in, size_t n, buf *out, sl_error *err);
/* The Content-Encoding token of an algorithm; NULL for none. */
const char *http_content_encoding(http_compression algo);

/* ---- compression threads (http_zpool.c) ---- */

typedef struct http_zpool http_zpool;
struct request;

/* Starts the compression threads of a sink; a finished request calls
 * wake(wake_ud), from a compression thread, to end the sink thread's wait.
 * 0, or -1 with err. */
int http_zpool_new(http_compression algo, int level, void (*wake)(void *), void *wake_ud,
                   http_zpool **out, sl_error *err);
/* Hands r (its body complete) to the pool; it is the pool's until taken. */
void http_zpool_submit(http_zpool *p, struct request *r);
/* The requests at the head of the pool that are done, in the order they
 * were submitted (linked by next), or NULL. Each has zbody set, or zfailed
 * and zerr, and its plain body freed on success. */
struct request *http_zpool_take_done(http_zpool *p);
/* Stops and joins the threads, frees the pool, and returns the requests
 * still in it (linked by next) for the caller to release. */
struct request *http_zpool_free(http_zpool *p);

/* ---- pure rules (http_retry.c), unit tested ---- */

/* A Retry-After value (delay-seconds or an HTTP-date, RFC 9110 10.2.3) as
 * nanoseconds from now_wall_ns, capped at a day; -1 when unreadable. */
int64_t http_parse_retry_after(const char *v, size_t n, int64_t now_wall_ns);
/* Full jitter: u (in [0, 1)) times min(max, initial * 2^(attempt-1)). */
int64_t http_backoff_ns(double initial, double max, unsigned attempt, double u);
/* A URL fit for a log line: userinfo ("user:pass@") removed. */
void http_url_for_log(const char *url, char *out, size_t cap);

/* ---- adaptive concurrency (http_arc.c), unit tested ---- */

/* request.adaptive_concurrency, with Vector's defaults filled in. */
typedef struct http_arc_settings {
    size_t initial, max;
    double decrease_ratio, ewma_alpha, rtt_deviation_scale;
} http_arc_settings;

typedef struct http_arc {
    http_arc_settings cfg;
    size_t limit;               /* requests that may be in flight now */
    bool have_past;
    double past_mean, past_var; /* EWMA of the periods' mean RTT, seconds */
    double sum_rtt;             /* this period's RTTs */
    uint64_t nrtt;
    int64_t next_update_ns;     /* when this period ends */
    bool back_pressure, reached_limit;
} http_arc;

void http_arc_init(http_arc *a, const http_arc_settings *s, int64_t now);
/* A request started; inflight counts it. */
void http_arc_started(http_arc *a, size_t inflight);
/* A request finished at now: rtt_secs when the endpoint processed it (< 0
 * when it did not: no RTT sample), back_pressure when it answered with a
 * retryable status or timed out. true when the limit changed. */
bool http_arc_done(http_arc *a, int64_t now, double rtt_secs, bool back_pressure);

/* ---- the transport (http_curl.c; unit tests bring a fake) ---- */

typedef struct http_transport http_transport;

/* How requests travel, chosen at setup (http_sink_setup.transport): the
 * engine's state machine - retries, splits, partial failures, the
 * down-endpoint rule - never names curl, so a fake that answers with
 * scripted statuses can drive it without a network. Every call is on the
 * sink's thread except wake. */
struct http_transport {
    /* The transport's state for h (it may read h's options: timeout, TLS,
     * auth, method); ud is http_sink_setup.transport_ud. 0, or -1 with err. */
    int (*open)(void *ud, http_sink *h, void **state, sl_error *err);
    /* Frees the state; the requests in flight were cancelled before. */
    void (*close)(void *state);
    /* Sends r with body to r->dest->urls[r->url] with r->dest->headers.
     * While it is out, the transport fills r->response and r->retry_after_ns
     * (from a Retry-After header) and may keep a handle in r->handle. 0, or
     * -1 when it cannot start (out of memory). */
    int (*start)(void *state, struct request *r, const buf *body);
    /* Waits up to wait_ms (0: not at all) for answers or a wake, and hands
     * each request that finished to http_request_finished. */
    void (*poll)(void *state, int wait_ms);
    /* Ends a poll's wait early; safe from any thread. */
    void (*wake)(void *state);
    /* Drops r, still in flight, at teardown. */
    void (*cancel)(void *state, struct request *r);
};

/* libcurl multi: the default when a setup names no transport. */
extern const http_transport http_curl_transport;

/* An easy handle with the sink's options (timeout, TLS, auth), whose
 * callbacks fill the `request` given as CURLOPT_WRITEDATA/HEADERDATA; the
 * healthcheck's. NULL out of memory. */
CURL *http_curl_easy_new(const http_sink *h);

/* How a request ended, as its transport tells the engine. */
typedef struct http_outcome {
    long status;          /* the response's; 0 when none came */
    const char *error;    /* non-NULL: the request failed in transport (it
                             is retried whatever status says) */
    bool timed_out;       /* that failure was the request timeout */
} http_outcome;

/* ---- the engine's state ---- */

/* An input batch while its events are out. */
typedef struct in_batch {
    batch *b;            /* NULL once detached */
    uint32_t left;       /* events not finished yet */
    uint32_t rejected;   /* finished as failed for good */
    uint32_t errored;    /* finished as given up on for now (retries ran out) */
    uint32_t attached;   /* of those, the ones requests read from b itself
                            rather than from a copy of their own */
    uint64_t event_bytes;   /* each event's share of b's estimated JSON
                               size, counted in http_sink.held_bytes while
                               the event is not finished */
    /* Once every unfinished event is a copy, b is released (so a few items
     * waiting for a retry don't keep a whole input batch in memory) and the
     * acknowledgement waits on a reference of the sink's own to b's ack
     * group, with what the runtime would have counted from b. */
    ack_group *ack;
    uint32_t count;
    uint64_t json_bytes;
} in_batch;

/* One event a request carries, with what the codec's prepare() said. */
typedef struct ev_ref {
    in_batch *t;
    const event *ev;     /* in t's batch, or a copy in the request's arena */
    double note;
    bool copied;
} ev_ref;

/* Where a request goes and how its body looks: the setup's main URLs and
 * codec, or one of its routes. Requests never mix destinations. */
typedef struct http_dest {
    char **urls;
    size_t nurls, next_url;
    http_codec codec;
    char *prefix, *separator, *suffix;
    size_t prefix_len, separator_len, suffix_len;
    struct curl_slist *headers;   /* the sink's, with this codec's Content-Type */
    uint64_t max_events, max_bytes;
    struct request *open;         /* the request events are added to */
    int64_t open_deadline_ns;
    /* The items of partial failures waiting to be sent again, pooled into
     * one request that goes at retry_due_ns, a backoff drawn when it
     * opened: one retry request per backoff rather than one per failed
     * request. */
    struct request *retry_open;
    int64_t retry_due_ns;
} http_dest;

typedef struct request {
    http_dest *dest;
    ev_ref *refs;
    size_t n, cap;
    buf body;             /* encoded events, uncompressed */
    buf zbody;            /* body compressed, when the sink compresses */
    buf response;
    unsigned attempts;    /* sends that failed so far */
    bool needs_body;      /* encoding or compressing it failed: build its
                             body again before it may go */
    bool retrying;        /* waits for its retry (on the pending list, or
                             compressed first) */
    int64_t not_before_ns;
    int64_t started_ns;
    int64_t retry_after_ns;  /* from the last response; -1 when none */
    size_t url;           /* index into dest->urls */
    void *handle;         /* the transport's, while in flight */
    size_t slot;          /* its index in http_sink.flying */
    arena *copies;        /* the events it carries as copies; NULL: none */
    struct request *next;
    /* Set by a compression thread; see http_zpool.c for who reads when. */
    bool zdone, zfailed;
    sl_error zerr;
} request;

typedef struct status_series {
    long status;
    metrics_series *s;
} status_series;

struct http_sink {
    char *id;
    const component_metrics *metrics;
    http_dest *dests;        /* [0]: the setup's urls and codec; then routes */
    size_t ndests;
    size_t (*route)(void *ud, const event *e);
    void *route_ud;
    char *method;
    char *healthcheck_path;
    encoding_fields fields;      /* encoding.only_fields, except_fields, ... */
    http_compression compression;
    http_zpool *zpool;       /* NULL when the sink does not compress */
    int64_t batch_timeout_ns;
    size_t concurrency;      /* the fixed limit; adaptive: the highest */
    bool adaptive;           /* the limit is arc's */
    http_arc arc;
    long timeout_ms;
    double backoff_initial, backoff_max;
    uint64_t retry_attempts;
    uint64_t rate_num;       /* requests started per window; 0: no limit */
    int64_t rate_window_ns;
    int64_t window_start_ns;
    uint64_t window_started; /* requests started in the current window */
    char *ca_file, *crt_file, *key_file, *key_pass;
    bool verify_peer, verify_host;
    char *user, *password;   /* basic auth; other credentials are headers */
    struct curl_slist *probe_headers;   /* the healthcheck's: no body headers */

    /* run time */
    sink_ctx *ctx;
    const http_transport *transport;
    void *transport_state;
    request *pending;        /* singly linked, in order of arrival */
    request **flying;        /* in flight: inflight of them */
    size_t npending, inflight;
    size_t nretrying;        /* of the pending ones, those waiting to retry */
    size_t ncompressing;     /* in the pool: submitted, not taken back yet */
    uint64_t events_held;
    /* The estimated size of the events the sink holds, in flight, ready,
     * being compressed or waiting to retry: no input is taken at
     * held_per_slot times the concurrency limit or above (http_setup.c). */
    uint64_t held_bytes, held_per_slot;
    /* Requests in a row that failed in a way worth retrying (a retryable
     * status, a transport error): the endpoint seems down once a whole
     * concurrency limit's worth has. */
    uint32_t failures_in_row;
    uint64_t rng;
    uint8_t *items;
    const event **events;    /* the judged request's events, for the codec */
    size_t items_cap;
    log_limiter retry_log, reject_log;

    metrics_series *m_requests, *m_inflight, *m_events_inflight, *m_rtt;
    metrics_series *m_arc_limit;   /* adaptive_concurrency_limit, when adaptive */
    status_series statuses[STATUS_SERIES_MAX];
    size_t nstatuses;
};

/* ---- http_sink.c ---- */

/* One event is finished with status (copied: a request carried it as a
 * copy); the last of its batch acknowledges the batch, errored when any of
 * its events was, else rejected when any was. */
void http_finish_event(http_sink *h, in_batch *t, bool copied, ack_status status);
void http_finish_refs(http_sink *h, const ev_ref *refs, size_t n, ack_status status);
/* An event that cannot be sent at all: counted, logged, finished. */
void http_reject_one(http_sink *h, const ev_ref *ref, const char *error_type, const char *why);
/* The event of *ref, from its batch, is now read from a copy elsewhere:
 * the batch is released once none of its unfinished events is read from
 * it. */
void http_detach_ref(const ev_ref *ref);
/* Releases a batch whose events are all finished or copies: see in_batch. */
void http_release_input(http_sink *h, in_batch *t, ack_status status);
/* r, in flight, has finished: its slot is freed and its answer judged
 * (retried, split, rejected, delivered in full or in part). Called by the
 * transport's poll. */
void http_request_finished(http_sink *h, request *r, const http_outcome *o);

/* ---- http_request.c ---- */

/* A request to d, on d's next URL in turn. NULL out of memory. */
request *http_request_new(http_dest *d);
void http_request_free(request *r);
/* Adds an event reference to r (not to its body). -1 out of memory. */
int http_push_ref(request *r, ev_ref ref);
/* Encodes r's body again from its references; events that no longer
 * encode are dropped from r. -1 out of memory. */
int http_encode_request(http_sink *h, request *r);
/* Queues a finished body to be sent as soon as there is room; a sink that
 * compresses hands it to its pool first. */
void http_queue_request(http_sink *h, request *r);
/* Builds the body of a request whose building failed, then queues it. */
void http_rebuild_request(http_sink *h, request *r);
/* Takes back the requests the pool has compressed: each is queued, split
 * when over the codec's compressed limit, or (compression failed) tried
 * again later, or given up on (errored) when it was a retry. */
void http_take_compressed(http_sink *h);
/* Puts r at the end of the pending list. */
void http_pending_push(http_sink *h, request *r);
/* Fails every event of r for good and frees it. */
void http_reject_request(http_sink *h, request *r);
/* Gives up on r for now (its retries ran out: not the data's fault) and
 * frees it: its events are released as errored, so a disk buffer or a
 * source with acknowledgements reads them again. */
void http_give_up_request(http_sink *h, request *r);
/* Sends r's events as two requests of half as many; a single event still
 * too large is rejected. */
void http_split_request(http_sink *h, request *r, const char *why);
/* Routes, prepares and encodes every event of b into its destination's
 * open request. */
void http_take_batch(http_sink *h, batch *b);
/* Adds ref, an item of a partial failure to send again, to d's pooled
 * retry request (as a copy of its event, so that its input batch need not
 * wait for it), opening one that goes at due_if_new when d has none. The
 * request is queued when full or due. 0: ref is taken care of (pooled, or
 * finished as rejected); -1 out of memory before anything changed. */
int http_pool_retry(http_sink *h, http_dest *d, ev_ref ref, int64_t due_if_new);
/* Sends the open requests whose batch.timeout has passed (all: now < 0),
 * and the pooled retry requests whose backoff is ending. */
void http_flush_due(http_sink *h, int64_t now);
/* The earliest deadline of an open or pooled retry request, or INT64_MAX
 * without one. */
int64_t http_next_open_deadline(const http_sink *h);

#endif
