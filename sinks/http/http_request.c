/* http_request.c - how events become requests: each event taken from the
 * input is routed to its destination, prepared once by that destination's
 * codec, and encoded into the destination's open request, which is queued
 * when it reaches the batch limits or its batch.timeout.
 *
 * A request keeps (input batch, index, note) references to its events, so
 * the halves of a 413, or a request cut down to the items to retry, is
 * encoded again from the events themselves with the same notes: prepare()
 * runs once per event, encode() as often as needed. */
#include "sinks/http/http_internal.h"
#include "pipeline/arena.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- requests ---- */

request *http_request_new(http_dest *d)
{
    request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->dest = d;
    r->url = d->next_url;
    d->next_url = (d->next_url + 1) % d->nurls;
    r->retry_after_ns = -1;
    return r;
}

void http_request_free(request *r)
{
    if (!r)
        return;
    free(r->refs);
    arena_free(r->copies);
    buf_free(&r->body);
    buf_free(&r->zbody);
    buf_free(&r->response);
    free(r);
}

int http_push_ref(request *r, ev_ref ref)
{
    if (SL_GROW(r->refs, r->n, r->cap, 64) < 0)
        return -1;
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

/* Points ref at a copy of its event in r's arena. -1 out of memory. */
static int copy_event(request *r, ev_ref *ref)
{
    if (!r->copies && !(r->copies = arena_new()))
        return -1;
    event *e = arena_alloc(r->copies, sizeof(*e));
    if (!e || event_copy(r->copies, ref->ev, e) < 0)
        return -1;
    ref->ev = e;
    ref->copied = true;
    return 0;
}

/* Appends one event (with its separator) to r's body: 1 when it was
 * appended, 0 when it was rejected alone, -1 out of memory. */
static int encode_event(http_sink *h, request *r, ev_ref ref)
{
    const http_dest *d = r->dest;
    size_t mark = r->body.len;
    if (r->n > 0 && buf_append(&r->body, d->separator, d->separator_len) < 0)
        return -1;
    size_t start = r->body.len;
    sl_error err = {{0}};
    event view;
    const event *e = d->codec.applies_fields ? ref.ev
                                             : encoding_fields_apply(&h->fields, ref.ev, &view);
    if (!e) {
        buf_truncate(&r->body, mark);
        return -1;
    }
    if (d->codec.encode(d->codec.ud, e, ref.note, &r->body, &err) < 0) {
        buf_truncate(&r->body, mark);
        http_reject_one(h, &ref, "encode_failed", err.msg[0] ? err.msg : "cannot encode");
        return 0;
    }
    size_t alone = d->prefix_len + (r->body.len - start) + d->suffix_len;
    if (d->codec.max_bytes && alone > d->codec.max_bytes) {
        buf_truncate(&r->body, mark);
        char why[96];
        snprintf(why, sizeof(why), "%zu bytes encoded, over the limit of %zu", alone,
                 d->codec.max_bytes);
        http_reject_one(h, &ref, "event_too_large", why);
        return 0;
    }
    return 1;
}

int http_encode_request(http_sink *h, request *r)
{
    const http_dest *d = r->dest;
    buf_reset(&r->body);
    if (buf_append(&r->body, d->prefix, d->prefix_len) < 0)
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
    return buf_append(&r->body, d->suffix, d->suffix_len);
}

void http_pending_push(http_sink *h, request *r)
{
    r->next = NULL;
    request **p = &h->pending;
    while (*p)
        p = &(*p)->next;
    *p = r;
    h->npending++;
}

void http_reject_request(http_sink *h, request *r)
{
    http_finish_refs(h, r->refs, r->n, ACK_REJECTED);
    http_request_free(r);
}

void http_give_up_request(http_sink *h, request *r)
{
    http_finish_refs(h, r->refs, r->n, ACK_ERRORED);
    http_request_free(r);
}

/* Out of memory while building r's body: it waits a second on the pending
 * list, then its body is built again (http_rebuild_request) before it is
 * sent, never the half-built one. */
static void try_again_later(http_sink *h, request *r)
{
    r->needs_body = true;
    r->not_before_ns = sl_now_mono_ns() + NS_PER_SEC;
    http_pending_push(h, r);
}

void http_rebuild_request(http_sink *h, request *r)
{
    r->needs_body = false;
    if (http_encode_request(h, r) < 0) {
        try_again_later(h, r);
        return;
    }
    http_queue_request(h, r);
}

void http_split_request(http_sink *h, request *r, const char *why)
{
    if (r->n <= 1) {
        component_metrics_error(h->metrics, "event_too_large", "sending", r->n);
        slog_limited(&h->reject_log, HTTP_LOG_INTERVAL_NS, SLOG_ERROR, h->id,
                     "Event dropped: a request of one event is still too large (%s).", why);
        http_reject_request(h, r);
        return;
    }
    size_t half = r->n / 2;
    request *a = http_request_new(r->dest), *b = http_request_new(r->dest);
    bool ok = a && b;
    for (size_t i = 0; ok && i < r->n; i++) {
        /* r's copies go with r: each half copies the ones it takes. */
        ev_ref ref = r->refs[i];
        request *to = i < half ? a : b;
        ok = (!ref.copied || copy_event(to, &ref) == 0) && http_push_ref(to, ref) == 0;
    }
    if (ok) {
        a->url = b->url = r->url;
        ok = http_encode_request(h, a) == 0 && http_encode_request(h, b) == 0;
    }
    if (!ok) {
        http_request_free(a);
        http_request_free(b);
        try_again_later(h, r);
        return;
    }
    r->n = 0;
    http_request_free(r);
    http_queue_request(h, a);
    http_queue_request(h, b);
}

/* Puts a request whose body is ready on the pending list: a fresh one to go
 * now, a retry at the time its backoff set. */
static void queue_ready(http_sink *h, request *r)
{
    if (r->retrying)
        h->nretrying++;
    else
        r->not_before_ns = 0;
    http_pending_push(h, r);
}

void http_queue_request(http_sink *h, request *r)
{
    if (r->n == 0) {
        http_request_free(r);
        return;
    }
    if (h->zpool) {
        h->ncompressing++;
        http_zpool_submit(h->zpool, r);
        return;
    }
    queue_ready(h, r);
}

/* A request back from the pool. A retry is not checked against the
 * compressed limit: its items fitted in the request that was answered. */
static void queue_compressed(http_sink *h, request *r)
{
    if (r->zfailed) {
        if (r->retrying) {
            http_give_up_request(h, r);
            return;
        }
        slog_limited(&h->retry_log, HTTP_LOG_INTERVAL_NS, SLOG_ERROR, h->id,
                     "Cannot compress a request: %s",
                     r->zerr.msg);
        try_again_later(h, r);
        return;
    }
    size_t limit = r->dest->codec.max_compressed_bytes;
    if (!r->retrying && limit && r->zbody.len > limit) {
        http_split_request(h, r, "over the compressed size limit");
        return;
    }
    queue_ready(h, r);
}

void http_take_compressed(http_sink *h)
{
    if (!h->zpool)
        return;
    request *r = http_zpool_take_done(h->zpool);
    while (r) {
        request *next = r->next;
        h->ncompressing--;
        queue_compressed(h, r);
        r = next;
    }
}

/* ---- open requests: one per destination, and one pooling its retries ---- */

static void flush_open(http_sink *h, http_dest *d)
{
    request *r = d->open;
    d->open = NULL;
    if (!r)
        return;
    /* On failure the events stay: the body is built again from them. */
    if (buf_append(&r->body, d->suffix, d->suffix_len) < 0 && http_encode_request(h, r) < 0) {
        try_again_later(h, r);
        return;
    }
    http_queue_request(h, r);
}

/* Queues d's pooled retry request to go when its backoff ends, as the first
 * retry of its items: each came back from a response that delivered others,
 * so the endpoint works and their backoff starts over. */
static void flush_retry(http_sink *h, http_dest *d)
{
    request *r = d->retry_open;
    d->retry_open = NULL;
    if (!r)
        return;
    if (buf_append(&r->body, d->suffix, d->suffix_len) < 0 && http_encode_request(h, r) < 0) {
        try_again_later(h, r);
        return;
    }
    r->attempts = 1;
    r->retrying = true;
    r->not_before_ns = d->retry_due_ns;
    http_queue_request(h, r);
}

void http_flush_due(http_sink *h, int64_t now)
{
    for (size_t i = 0; i < h->ndests; i++) {
        http_dest *d = &h->dests[i];
        if (d->open && (now < 0 || now >= d->open_deadline_ns))
            flush_open(h, d);
        if (d->retry_open && (now < 0 || now >= d->retry_due_ns))
            flush_retry(h, d);
    }
}

int64_t http_next_open_deadline(const http_sink *h)
{
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < h->ndests; i++) {
        const http_dest *d = &h->dests[i];
        if (d->open && d->open_deadline_ns < due)
            due = d->open_deadline_ns;
        if (d->retry_open && d->retry_due_ns < due)
            due = d->retry_due_ns;
    }
    return due;
}

/* A request to d with its prefix written. NULL out of memory. */
static request *request_with_prefix(http_dest *d)
{
    request *r = http_request_new(d);
    if (!r || buf_append(&r->body, d->prefix, d->prefix_len) < 0) {
        http_request_free(r);
        return NULL;
    }
    return r;
}

enum { EVENT_REJECTED = 0, EVENT_ADDED = 1, EVENT_NO_ROOM = 2 };

/* Encodes ref into r and adds it to r's events: EVENT_ADDED; EVENT_REJECTED
 * when it was rejected alone; EVENT_NO_ROOM when it would take r, which has
 * events already, over max_bytes (r is left as it was); -1 out of memory. */
static int add_to_request(http_sink *h, request *r, ev_ref ref)
{
    const http_dest *d = r->dest;
    size_t mark = r->body.len;
    int rc = encode_event(h, r, ref);
    if (rc <= 0)
        return rc;
    if (r->n > 0 && r->body.len + d->suffix_len > d->max_bytes) {
        buf_truncate(&r->body, mark);
        return EVENT_NO_ROOM;
    }
    if (http_push_ref(r, ref) < 0) {
        buf_truncate(&r->body, mark);
        return -1;
    }
    return EVENT_ADDED;
}

static bool request_is_full(const request *r)
{
    const http_dest *d = r->dest;
    return r->n >= d->max_events || r->body.len + d->suffix_len >= d->max_bytes;
}

/* Adds one event to d's open request, sending it first when the event would
 * take it over max_bytes; an event alone over max_bytes goes alone. */
static int add_event(http_sink *h, http_dest *d, ev_ref ref)
{
    if (!d->open) {
        d->open = request_with_prefix(d);
        if (!d->open)
            return -1;
        d->open_deadline_ns = sl_now_mono_ns() + h->batch_timeout_ns;
    }
    int rc = add_to_request(h, d->open, ref);
    if (rc == EVENT_NO_ROOM) {
        flush_open(h, d);
        return add_event(h, d, ref);
    }
    if (rc != EVENT_ADDED)
        return rc;
    h->events_held++;
    if (request_is_full(d->open))
        flush_open(h, d);
    return 0;
}

int http_pool_retry(http_sink *h, http_dest *d, ev_ref ref, int64_t due_if_new)
{
    if (!d->retry_open) {
        d->retry_open = request_with_prefix(d);
        if (!d->retry_open)
            return -1;
        d->retry_due_ns = due_if_new;
    }
    ev_ref copy = ref;
    if (copy_event(d->retry_open, &copy) < 0)
        return -1;
    http_detach_ref(&ref);
    int rc = add_to_request(h, d->retry_open, copy);
    if (rc == EVENT_NO_ROOM) {
        flush_retry(h, d);
        rc = http_pool_retry(h, d, copy, due_if_new) == 0 ? EVENT_ADDED : -1;
    }
    if (rc == EVENT_ADDED) {
        if (d->retry_open && request_is_full(d->retry_open))
            flush_retry(h, d);
        return 0;
    }
    h->events_held--;   /* finished alone; it was held since its first request */
    if (rc < 0)
        http_reject_one(h, &copy, "out_of_memory", "out of memory pooling a retry");
    return 0;
}

/* The destination of an event; a route() answer out of range is the
 * sink's bug, and the main destination is the safe place for it. */
static http_dest *dest_of(http_sink *h, const event *e)
{
    if (!h->route)
        return &h->dests[0];
    size_t i = h->route(h->route_ud, e);
    return i < h->ndests ? &h->dests[i] : &h->dests[0];
}

/* Routes, prepares and adds one event; it may finish right here. */
static void take_event(http_sink *h, in_batch *t, uint32_t index)
{
    const event *e = &t->b->events[index];
    http_dest *d = dest_of(h, e);
    ev_ref ref = {t, e, 0, false};
    if (d->codec.prepare) {
        sl_error err = {{0}};
        int rc = d->codec.prepare(d->codec.ud, e, &ref.note, &err);
        if (rc > 0) {
            http_finish_event(h, t, false, ACK_DELIVERED);   /* nothing to send */
            return;
        }
        if (rc < 0) {
            http_reject_one(h, &ref, "prepare_failed", err.msg[0] ? err.msg : "cannot prepare");
            return;
        }
    }
    if (add_event(h, d, ref) < 0)
        http_reject_one(h, &ref, "out_of_memory", "out of memory encoding the event");
}

void http_take_batch(http_sink *h, batch *b)
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
    t->attached = n;
    t->event_bytes = batch_json_bytes(b) / n;
    h->held_bytes += t->event_bytes * n;
    /* t is freed by the last event to finish, which is never before the
     * last index is taken: the events after i keep t->left above 0. */
    for (uint32_t i = 0; i < n; i++)
        take_event(h, t, i);
}
