/* http_sink.c - the engine the HTTP sinks share (see http_sink.h): the loop
 * on the sink's thread, responses and acknowledgements; requests travel
 * through the sink's transport (libcurl's: http_curl.c).
 *
 * Events are encoded into their destination's "open" request as batches
 * arrive (http_request.c); it is queued when it reaches the batch limits or
 * its timeout (compressed first by the sink's compression threads,
 * http_zpool.c, when the sink compresses). A queued request waits on the
 * pending list, with the time it may go, until one of the
 * request.concurrency slots is free; a sent one is the transport's until
 * it finishes. Concurrency is shared by all destinations.
 *
 * An input batch counts its events not yet finished; the last one to finish
 * acknowledges it with the worst status.
 *
 * The loop never spins: while requests are in flight (or being
 * compressed, whose return wakes the transport's poll) it alternates a
 * non-blocking look at the input with the transport's poll for a few
 * milliseconds; when nothing is in flight it blocks in sink_next until an
 * open request's timeout or the next retry is due; while the in-flight and
 * pending requests reach the concurrency limit, or the events it holds
 * reach its memory budget (requests waiting for a retry count there, not
 * in the slots), it takes no input at all, which is how an endpoint that is
 * down pushes back on the pipeline. Adaptive concurrency (http_arc.c) moves
 * the limit with the round-trip times. */
#include "sinks/http/http_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_SLICE_MS 5          /* the transport's wait while input may be arriving */
#define IDLE_WAIT_MS 1000        /* the longest wait between two looks around */

/* ---- small helpers ---- */

static uint64_t next_random(http_sink *h)
{
    /* xorshift64*: jitter needs spread, not secrecy. */
    h->rng ^= h->rng >> 12;
    h->rng ^= h->rng << 25;
    h->rng ^= h->rng >> 27;
    return h->rng * 2685821657736338717ULL;
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

static void update_gauges(http_sink *h)
{
    metrics_set(h->m_inflight, (double)h->inflight);
    metrics_set(h->m_events_inflight, (double)h->events_held);
}

/* ---- acknowledgements ---- */

/* What the runtime's sink_done_mixed counts and reports, for a batch the
 * sink released early (see in_batch): `failed` of its events not sent. */
static void finish_detached(http_sink *h, in_batch *t, uint32_t failed, ack_status status)
{
    if (failed > t->count)
        failed = t->count;
    const component_metrics *m = h->metrics;
    uint32_t sent = t->count - failed;
    if (m) {
        metrics_add(m->sent_events, sent);
        metrics_add(m->sent_bytes, t->count ? t->json_bytes * sent / t->count : 0);
        if (failed) {
            metrics_add(m->discarded_error, failed);
            component_metrics_error(m, "delivery_failed", "sending", 1);
        }
    }
    ack_group_release(t->ack, status);
}

void http_release_input(http_sink *h, in_batch *t, ack_status status)
{
    if (!t->b)
        finish_detached(h, t, t->count, status);
    else if (h->ctx)
        sink_done(h->ctx, t->b, status);
    else
        batch_release(t->b, status);
    free(t);
}

/* Every unfinished event of t is read from a copy: its batch goes now, its
 * acknowledgement when the last of them is done. */
static void detach_input(in_batch *t)
{
    batch *b = t->b;
    t->ack = b->ack;
    ack_group_ref(t->ack);
    t->count = b->count;
    t->json_bytes = batch_json_bytes(b);
    t->b = NULL;
    /* Delivered, for this reference: the sink's own one reports the rest. */
    batch_release(b, ACK_DELIVERED);
}

void http_detach_ref(const ev_ref *ref)
{
    in_batch *t = ref->t;
    if (ref->copied || !t->b)
        return;
    if (--t->attached == 0)
        detach_input(t);
}

void http_finish_event(http_sink *h, in_batch *t, bool copied, ack_status status)
{
    t->rejected += status == ACK_REJECTED;
    t->errored += status == ACK_ERRORED;
    h->held_bytes -= t->event_bytes;
    if (!copied)
        t->attached--;
    if (--t->left > 0) {
        if (!copied && t->attached == 0 && t->b)
            detach_input(t);
        return;
    }
    if (t->b)
        sink_done_mixed(h->ctx, t->b, t->rejected, t->errored);
    else
        finish_detached(h, t, t->rejected + t->errored,
                        t->errored ? ACK_ERRORED : t->rejected ? ACK_REJECTED : ACK_DELIVERED);
    free(t);
}

void http_finish_refs(http_sink *h, const ev_ref *refs, size_t n, ack_status status)
{
    h->events_held -= n < h->events_held ? n : h->events_held;
    for (size_t i = 0; i < n; i++)
        http_finish_event(h, refs[i].t, refs[i].copied, status);
}

void http_reject_one(http_sink *h, const ev_ref *ref, const char *error_type, const char *why)
{
    component_metrics_error(h->metrics, error_type, "processing", 1);
    slog_limited(&h->reject_log, HTTP_LOG_INTERVAL_NS, SLOG_ERROR, h->id,
                 "Event dropped (%s): %s", error_type, why);
    http_finish_event(h, ref->t, ref->copied, ACK_REJECTED);
}

/* ---- sending ---- */

/* The requests that may be in flight now. */
static size_t concurrency_limit(const http_sink *h)
{
    return h->adaptive ? h->arc.limit : h->concurrency;
}

static int start_request(http_sink *h, request *r)
{
    const buf *body = h->zpool ? &r->zbody : &r->body;
    buf_reset(&r->response);
    r->retry_after_ns = -1;
    if (h->transport->start(h->transport_state, r, body) < 0)
        return -1;
    r->started_ns = sl_now_mono_ns();
    r->slot = h->inflight;
    h->flying[h->inflight++] = r;
    if (h->adaptive)
        http_arc_started(&h->arc, h->inflight);
    metrics_add(h->m_requests, 1);
    return 0;
}

/* Vector's request rate limit: at most rate_limit_num requests started in
 * each window of rate_limit_duration_secs (a fixed window, as tower's). */
static bool rate_allows_start(http_sink *h, int64_t now)
{
    if (!h->rate_num)
        return true;
    if (now - h->window_start_ns >= h->rate_window_ns) {
        h->window_start_ns = now;
        h->window_started = 0;
    }
    return h->window_started < h->rate_num;
}

/* When the rate limit lets requests start again (now when it doesn't hold). */
static int64_t rate_reopens_at(const http_sink *h, int64_t now)
{
    if (!h->rate_num || h->window_started < h->rate_num)
        return now;
    return h->window_start_ns + h->rate_window_ns;
}

/* Starts pending requests whose time has come while there is room. */
static void start_ready(http_sink *h, int64_t now)
{
    request **p = &h->pending;
    while (*p && h->inflight < concurrency_limit(h) && rate_allows_start(h, now)) {
        request *r = *p;
        if (r->not_before_ns > now) {
            p = &r->next;
            continue;
        }
        *p = r->next;
        h->npending--;
        if (r->retrying) {
            r->retrying = false;
            h->nretrying--;
        }
        if (r->needs_body) {
            http_rebuild_request(h, r);
            continue;
        }
        if (start_request(h, r) == 0) {
            h->window_started++;
        } else {
            slog_limited(&h->retry_log, HTTP_LOG_INTERVAL_NS, SLOG_ERROR, h->id,
                         "Cannot start a request (out of memory); retrying in 1s.");
            r->not_before_ns = now + NS_PER_SEC;
            http_pending_push(h, r);
            break;
        }
    }
    update_gauges(h);
}

/* ---- responses ---- */

static int64_t backoff_ns(http_sink *h, unsigned attempt)
{
    double u = (double)(next_random(h) >> 11) / (double)(1ULL << 53);
    return http_backoff_ns(h->backoff_initial, h->backoff_max, attempt, u);
}

/* Counts a failed attempt and sets when r may go again; false when r has
 * no attempts left and was given up on. Running out of retries is not the
 * data's fault: its events are released as errored, never passed as
 * rejected, so that what can read them again (a disk buffer, a source with
 * acknowledgements) does. */
static bool plan_retry(http_sink *h, request *r, const char *why)
{
    r->attempts++;
    if (h->retry_attempts && r->attempts > h->retry_attempts) {
        slog_limited(&h->reject_log, HTTP_LOG_INTERVAL_NS, SLOG_ERROR, h->id,
                     "Request failed after %u attempts (%s); its %zu events are released "
                     "as errored: a disk buffer or a source with acknowledgements reads "
                     "them again.", r->attempts, why, r->n);
        http_give_up_request(h, r);
        return false;
    }
    int64_t delay = r->retry_after_ns >= 0 ? r->retry_after_ns : backoff_ns(h, r->attempts);
    slog_limited(&h->retry_log, HTTP_LOG_INTERVAL_NS, SLOG_WARN, h->id,
                 "Request failed (%s); retrying in %.3f s.",
                 why, (double)delay / NS_PER_SEC);
    r->not_before_ns = sl_now_mono_ns() + delay;
    r->retrying = true;
    return true;
}

static void retry_request(http_sink *h, request *r, const char *why)
{
    if (!plan_retry(h, r, why))
        return;
    h->nretrying++;
    http_pending_push(h, r);
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
        h->events[i] = r->refs[i].ev;
    return h->items;
}

/* After a partial failure delivered and rejected items finish. When some
 * items got through, the endpoint works: the ones to retry join their
 * destination's pooled retry request, whose backoff starts over, so that
 * a storm of partial failures makes one retry request per backoff rather
 * than one per failed request. When none got through, or the response set
 * Retry-After, they go again in a request of their own after r's backoff. */
static void handle_partial(http_sink *h, request *r, const uint8_t *items, const char *why)
{
    size_t delivered = 0;
    for (size_t i = 0; i < r->n; i++)
        delivered += items[i] == HTTP_ITEM_DELIVERED;
    bool pool = delivered && r->retry_after_ns < 0;
    int64_t due = pool ? sl_now_mono_ns() + backoff_ns(h, 1) : 0;
    request *again = pool ? NULL : http_request_new(r->dest);
    size_t rejected = 0, errored = 0, pooled = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (items[i] == HTTP_ITEM_RETRY) {
            int rc = pool    ? http_pool_retry(h, r->dest, r->refs[i], due)
                     : again ? http_push_ref(again, r->refs[i])
                             : -1;
            if (rc == 0) {
                pooled += pool;
                continue;
            }
        }
        /* An item to retry gets here only when pooling it ran out of
         * memory: not its fault, so errored. */
        ack_status status = items[i] == HTTP_ITEM_DELIVERED ? ACK_DELIVERED
                            : items[i] == HTTP_ITEM_REJECTED ? ACK_REJECTED
                                                             : ACK_ERRORED;
        http_finish_refs(h, &r->refs[i], 1, status);
        rejected += status == ACK_REJECTED;
        errored += items[i] == HTTP_ITEM_ERRORED;
    }
    if (errored)
        slog_limited(&h->retry_log, HTTP_LOG_INTERVAL_NS, SLOG_WARN, h->id,
                     "%zu of %zu events failed for now and are not sent again by this "
                     "sink (%s); released as errored: a disk buffer or a source with "
                     "acknowledgements reads them again.", errored, r->n, why);
    if (rejected) {
        component_metrics_error(h->metrics, "request_failed", "sending", 1);
        slog_limited(&h->reject_log, HTTP_LOG_INTERVAL_NS, SLOG_ERROR, h->id,
                     "%zu of %zu events rejected by the endpoint: %s", rejected, r->n,
                     why);
    }
    if (pooled)
        slog_limited(&h->retry_log, HTTP_LOG_INTERVAL_NS, SLOG_WARN, h->id,
                     "%zu of %zu events to send again (%s); they go with the next pooled "
                     "retry request.", pooled, r->n, why);
    if (again && again->n) {
        /* r's copies, if any, are read by again now. */
        again->copies = r->copies;
        r->copies = NULL;
        again->url = r->url;
        again->attempts = delivered ? 0 : r->attempts;
        again->retry_after_ns = r->retry_after_ns;
        /* Its new body is compressed like a fresh request's; it then
         * waits out the backoff planned here. */
        if (http_encode_request(h, again) < 0)
            http_give_up_request(h, again);
        else if (plan_retry(h, again, why))
            http_queue_request(h, again);
    } else {
        http_request_free(again);
    }
    r->n = 0;
    http_request_free(r);
}

/* Adaptive concurrency learns from every finished request: its RTT when
 * the endpoint processed it (delivered, in full or in part), back pressure
 * when it asked for a retry or timed out. */
static void observe_for_concurrency(http_sink *h, const request *r, bool processed,
                                    bool back_pressure)
{
    if (!h->adaptive)
        return;
    int64_t now = sl_now_mono_ns();
    double rtt = processed ? (double)(now - r->started_ns) / NS_PER_SEC : -1;
    if (http_arc_done(&h->arc, now, rtt, back_pressure))
        metrics_set(h->m_arc_limit, (double)h->arc.limit);
}

static void handle_response(http_sink *h, request *r, long status)
{
    metrics_add(status_counter(h, status), 1);
    uint8_t *items = items_for(h, r);
    http_response resp = {status, NULL, r->response.data ? r->response.data : "",
                          r->response.len, h->events};
    char reason[256] = "";
    const http_codec *c = &r->dest->codec;
    http_verdict v = items ? (c->judge ? c->judge : http_judge_default)(
                                 c->ud, &resp, r->n, items, reason, sizeof(reason))
                           : HTTP_RETRY;
    char why[320];
    snprintf(why, sizeof(why), "HTTP %ld%s%s", status, reason[0] ? ": " : "", reason);
    observe_for_concurrency(h, r, v == HTTP_DELIVERED || v == HTTP_PARTIAL, v == HTTP_RETRY);
    h->failures_in_row = v == HTTP_RETRY ? h->failures_in_row + 1 : 0;
    switch (v) {
    case HTTP_DELIVERED:
        http_finish_refs(h, r->refs, r->n, ACK_DELIVERED);
        http_request_free(r);
        break;
    case HTTP_RETRY:
        component_metrics_error(h->metrics, "request_failed", "sending", 1);
        retry_request(h, r, why);
        break;
    case HTTP_REJECTED:
        component_metrics_error(h->metrics, "request_failed", "sending", 1);
        slog_limited(&h->reject_log, HTTP_LOG_INTERVAL_NS, SLOG_ERROR, h->id,
                     "Request rejected, %zu events dropped: %s", r->n, why);
        http_reject_request(h, r);
        break;
    case HTTP_SPLIT:
        http_split_request(h, r, why);
        break;
    case HTTP_PARTIAL:
        handle_partial(h, r, items, why);
        break;
    }
}

void http_request_finished(http_sink *h, request *r, const http_outcome *o)
{
    request *last = h->flying[--h->inflight];
    h->flying[r->slot] = last;
    last->slot = r->slot;
    metrics_observe(h->m_rtt, (double)(sl_now_mono_ns() - r->started_ns) / NS_PER_SEC);
    if (o->error) {
        char url[512], why[768];
        http_url_for_log(r->dest->urls[r->url], url, sizeof(url));
        snprintf(why, sizeof(why), "%s: %s", url, o->error);
        component_metrics_error(h->metrics, "request_failed", "sending", 1);
        observe_for_concurrency(h, r, false, o->timed_out);
        h->failures_in_row++;
        r->url = (r->url + 1) % r->dest->nurls;   /* fail over */
        r->retry_after_ns = -1;
        retry_request(h, r, why);
        return;
    }
    handle_response(h, r, o->status);
}

/* Lets the transport move requests along, waiting up to wait_ms. */
static void drive_transport(http_sink *h, int wait_ms)
{
    h->transport->poll(h->transport_state, wait_ms);
    update_gauges(h);
}

/* ---- the loop ---- */

/* New requests may be made while fewer than the concurrency limit are in
 * flight or ready to go (requests being compressed are about to be ready and
 * count as such). Requests waiting for a retry don't hold those slots, or a
 * few retries would stall a healthy endpoint; what bounds them is memory:
 * no input is taken while the events the sink holds, in flight or waiting,
 * reach held_per_slot per slot of the limit (see http_setup.c). While the
 * endpoint seems down, though, reading ahead only fills memory with more
 * requests to retry: waiting retries take slots again, so the sink holds one
 * limit's worth of requests and its buffer keeps the rest. */
static bool endpoint_seems_down(const http_sink *h)
{
    return h->failures_in_row >= concurrency_limit(h);
}

static bool can_take_input(const http_sink *h)
{
    size_t ready = h->npending - h->nretrying + h->ncompressing;
    if (endpoint_seems_down(h))
        ready += h->nretrying;
    size_t limit = concurrency_limit(h);
    return h->inflight + ready < limit && h->held_bytes < h->held_per_slot * limit;
}

/* The next moment something is due: the open request's timeout, or a
 * pending request's retry when there is room to start it. */
static int ms_until_due(const http_sink *h, int64_t now)
{
    int64_t due = now + IDLE_WAIT_MS * NS_PER_MS;
    int64_t open_due = http_next_open_deadline(h);
    if (open_due < due)
        due = open_due;
    int64_t reopens = rate_reopens_at(h, now);
    if (h->inflight < concurrency_limit(h))
        for (const request *r = h->pending; r; r = r->next) {
            int64_t at = r->not_before_ns > reopens ? r->not_before_ns : reopens;
            if (at < due)
                due = at;
        }
    if (due <= now)
        return 0;
    return (int)((due - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* The runtime wants the sink gone (its disk buffer keeps the rest, or the
 * shutdown timeout passed): no more tries. What the sink holds is released
 * as errored when it is freed, so its buffer or its sources read it again. */
static bool told_to_stop(http_sink *h, sink_ctx *ctx)
{
    if (!sink_must_stop(ctx))
        return false;
    size_t held = h->inflight + h->npending + h->ncompressing;
    if (held)
        slog_info(h->id, "stopping; requests not delivered: %zu, released as errored "
                  "(a disk buffer or a source with acknowledgements reads them again at "
                  "the next start)", held);
    return true;
}

int http_sink_run(http_sink *h, sink_ctx *ctx, sl_error *err)
{
    SL_UNUSED(err);
    h->ctx = ctx;
    bool ended = false;
    for (;;) {
        if (told_to_stop(h, ctx))
            break;
        int64_t now = sl_now_mono_ns();
        http_flush_due(h, now);
        http_take_compressed(h);
        start_ready(h, now);
        if (ended && !h->pending && !h->inflight && !h->ncompressing &&
            http_next_open_deadline(h) == INT64_MAX)
            break;
        /* A request coming back from the pool wakes the transport's poll,
         * never sink_next: while one is out, the loop polls the transport as
         * if in flight. */
        bool busy = h->inflight || h->ncompressing;
        bool took = false, waited = false;
        if (!ended && can_take_input(h)) {
            int wait = busy ? 0 : ms_until_due(h, now);
            batch *b;
            queue_result q = sink_next(ctx, &b, wait);
            waited = wait > 0;
            if (q == QUEUE_OK) {
                http_take_batch(h, b);
                took = true;
            } else if (q == QUEUE_END) {
                ended = true;
                http_flush_due(h, -1);
                continue;
            }
        }
        if (took) {
            if (h->inflight)
                drive_transport(h, 0);
            continue;
        }
        if (busy) {
            int wait = !ended && can_take_input(h) ? POLL_SLICE_MS
                                                   : ms_until_due(h, sl_now_mono_ns());
            drive_transport(h, wait > 0 ? wait : 1);
        } else if (!waited) {
            /* Nothing in flight and no input to take: sleep until due. */
            int wait = ms_until_due(h, sl_now_mono_ns());
            if (wait > 0)
                drive_transport(h, wait);
        }
    }
    return 0;
}
