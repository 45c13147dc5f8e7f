/* kafka_producer.c - the `kafka` sink's engine (see kafka_producer.h):
 * records made from events, produced with a tracker per batch, delivery
 * reports counted against it, and records that failed for now produced
 * again.
 *
 * librdkafka copies each payload (RD_KAFKA_MSG_F_COPY), so the batch's
 * events are encoded one at a time into one reused buffer. A record that
 * failed for now is copied out of its delivery report (payload, key,
 * headers, timestamp) and produced again after a backoff that doubles
 * while failures keep coming and starts over with the next success. */
#include "sinks/kafka_producer.h"
#include "pipeline/json.h"
#include "pipeline/sltime.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_INTERVAL_NS (10 * NS_PER_SEC)
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
#define QUEUE_FULL_WAIT_MS 100
#define ABANDON_WAIT_MS 2000

/* ---- records ---- */

int64_t kafka_record_timestamp_ms(const event *e)
{
    int64_t ns = 0;
    if (e->type == EVENT_METRIC) {
        if (e->u.metric->has_timestamp)
            ns = e->u.metric->timestamp;
    } else {
        const value *v = event_log_get(e, EVENT_FIELD_TIMESTAMP);
        if (v && v->kind == VALUE_TIMESTAMP)
            ns = v->u.ts;
    }
    return ns > 0 ? ns / 1000000 : 0;
}

static const char *tag_value(const metric *m, const char *key)
{
    for (uint32_t i = 0; i < m->ntags; i++)
        if (strcmp(m->tags[i].key, key) == 0)
            return m->tags[i].value;
    return NULL;
}

int kafka_record_key(kafka_sink *s, const event *e)
{
    buf_reset(&s->key);
    if (!s->has_key)
        return 0;
    if (e->type == EVENT_METRIC) {
        const char *tag = tag_value(e->u.metric, s->key_tag);
        if (!tag)
            return 0;
        return buf_append(&s->key, tag, strlen(tag)) < 0 ? -1 : 1;
    }
    const value *v = path_get(&e->u.log, &s->key_path);
    if (!v || v->kind == VALUE_NULL)
        return 0;
    if (v->kind == VALUE_BYTES)
        return buf_append(&s->key, v->u.s, v->len) < 0 ? -1 : 1;
    return json_append_text(&s->key, v, false, "") < 0 ? -1 : 1;
}

static int add_header(kafka_sink *s, rd_kafka_headers_t *h, const value_entry *en)
{
    const value *v = &en->val;
    if (v->kind == VALUE_NULL)
        return rd_kafka_header_add(h, en->key, (ssize_t)en->klen, NULL, 0) ? -1 : 0;
    if (v->kind == VALUE_BYTES)
        return rd_kafka_header_add(h, en->key, (ssize_t)en->klen, v->u.s, (ssize_t)v->len) ? -1
                                                                                           : 0;
    buf_reset(&s->text);
    if (json_append_text(&s->text, v, false, "") < 0)
        return -1;
    return rd_kafka_header_add(h, en->key, (ssize_t)en->klen, s->text.data,
                               (ssize_t)s->text.len) ? -1 : 0;
}

int kafka_record_headers(kafka_sink *s, const event *e, rd_kafka_headers_t **out)
{
    *out = NULL;
    if (!s->has_headers || e->type != EVENT_LOG)
        return 0;
    const value *v = path_get(&e->u.log, &s->headers_path);
    if (!v || v->kind == VALUE_NULL)
        return 0;
    if (v->kind != VALUE_MAP) {
        slog_limited(&s->header_log, LOG_INTERVAL_NS, SLOG_WARN, s->client.id,
                     "The headers field is not a map; the record is sent without headers.");
        return 0;
    }
    const value_map *m = v->u.map;
    if (!m->len)
        return 0;
    rd_kafka_headers_t *h = rd_kafka_headers_new(m->len);
    if (!h)
        return -1;
    for (uint32_t i = 0; i < m->len; i++) {
        if (add_header(s, h, &m->entries[i]) < 0) {
            rd_kafka_headers_destroy(h);
            return -1;
        }
    }
    *out = h;
    return 0;
}

/* Refusals of the record or the topic themselves: producing them again
 * would fail again. A topic the cluster says does not exist is one (after
 * librdkafka waited topic.metadata.propagation.max.ms for it): a rendered
 * topic nobody created must not stop the pipeline for good. Everything
 * else (timeouts, transport, leader changes, the local queue purged) is
 * worth another try. */
kafka_outcome kafka_classify(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return KAFKA_DELIVERED;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
        return KAFKA_REJECTED;
    default:
        return KAFKA_RETRY;
    }
}

/* ---- topics ---- */

static kafka_topic_slot *topic_slot(kafka_topic_slot *slots, size_t cap, const char *name,
                                    size_t len)
{
    size_t i = (size_t)sl_hash_bytes(name, len) & (cap - 1);
    while (slots[i].name &&
           !(strlen(slots[i].name) == len && memcmp(slots[i].name, name, len) == 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int grow_topics(kafka_sink *s)
{
    size_t cap = s->topics_cap ? s->topics_cap * 2 : 16;
    kafka_topic_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->topics_cap; i++)
        if (s->topics[i].name)
            *topic_slot(slots, cap, s->topics[i].name, strlen(s->topics[i].name)) = s->topics[i];
    free(s->topics);
    s->topics = slots;
    s->topics_cap = cap;
    return 0;
}

/* The handle of a topic by name, kept until kafka_sink_free. */
static rd_kafka_topic_t *kafka_sink_topic(kafka_sink *s, const char *name, size_t len)
{
    if ((s->ntopics + 1) * 2 > s->topics_cap && grow_topics(s) < 0)
        return NULL;
    kafka_topic_slot *slot = topic_slot(s->topics, s->topics_cap, name, len);
    if (slot->name)
        return slot->rkt;
    char *copy = strndup(name, len);
    if (!copy)
        return NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, copy, NULL);
    if (!rkt) {
        free(copy);
        return NULL;
    }
    slot->name = copy;
    slot->rkt = rkt;
    s->ntopics++;
    return rkt;
}

/* ---- trackers ---- */

void kafka_sink_attach(kafka_sink *s, kafka_finish_fn finish, kafka_must_stop_fn must_stop,
                       void *arg)
{
    s->finish = finish;
    s->must_stop = must_stop;
    s->cb_arg = arg;
    s->backoff_ms = BACKOFF_MIN_MS;
}

static kafka_tracker *tracker_new(kafka_sink *s, batch *b)
{
    kafka_tracker *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->b = b;
    t->prev = s->trackers_tail;
    if (s->trackers_tail)
        s->trackers_tail->next = t;
    else
        s->trackers = t;
    s->trackers_tail = t;
    s->inflight++;
    return t;
}

static void tracker_unlink(kafka_sink *s, kafka_tracker *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        s->trackers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        s->trackers_tail = t->prev;
    t->prev = t->next = NULL;
    s->inflight--;
}

static void tracker_finish(kafka_sink *s, kafka_tracker *t)
{
    batch *b = t->b;
    t->b = NULL;
    tracker_unlink(s, t);
    s->finish(s->cb_arg, b, t->rejected, t->errored, t->dropped);
    free(t);
}

static void tracker_settle(kafka_sink *s, kafka_tracker *t)
{
    if (t->sealed && t->pending == 0)
        tracker_finish(s, t);
}

/* ---- retries ---- */

/* Doubles at most once per backoff period, so a wave of failures from one
 * outage raises it once, not once per record. */
static void raise_backoff(kafka_sink *s, int64_t now)
{
    if (now - s->backoff_raised_ns < s->backoff_ms * 1000000)
        return;
    s->backoff_raised_ns = now;
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* Queues a record for another try; -1 when it cannot be kept (out of
 * memory), and then it is errored. Takes the headers. */
static int retry_later(kafka_sink *s, kafka_tracker *t, rd_kafka_topic_t *rkt,
                       const void *payload, size_t len, const void *key, size_t key_len,
                       bool has_key, rd_kafka_headers_t *headers, int64_t ts_ms)
{
    kafka_retry *r = malloc(sizeof(*r) + len + key_len);
    if (!r) {
        if (headers)
            rd_kafka_headers_destroy(headers);
        return -1;
    }
    int64_t now = sl_now_mono_ns();
    *r = (kafka_retry){.t = t, .rkt = rkt, .headers = headers, .timestamp_ms = ts_ms,
                       .due_ns = now + s->backoff_ms * 1000000, .len = len,
                       .key_len = key_len, .has_key = has_key};
    if (len)
        memcpy(r->data, payload, len);
    if (key_len)
        memcpy(r->data + len, key, key_len);
    if (s->retries_tail)
        s->retries_tail->next = r;
    else
        s->retries = r;
    s->retries_tail = r;
    raise_backoff(s, now);
    return 0;
}

static void record_errored(kafka_sink *s, kafka_tracker *t)
{
    t->errored++;
    t->pending--;
    tracker_settle(s, t);
}

static void record_rejected(kafka_sink *s, kafka_tracker *t, const char *topic,
                            rd_kafka_resp_err_t err)
{
    slog_limited(&s->reject_log, LOG_INTERVAL_NS, SLOG_ERROR, s->client.id,
                 "Kafka refused a record for topic %s, it is dropped: %s.", topic,
                 rd_kafka_err2str(err));
    t->rejected++;
    t->pending--;
    tracker_settle(s, t);
}

/* ---- delivery reports ---- */

static void copy_headers(const rd_kafka_message_t *m, rd_kafka_headers_t **out)
{
    rd_kafka_headers_t *h;
    *out = NULL;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
        *out = rd_kafka_headers_copy(h);
}

static void retry_reported(kafka_sink *s, kafka_tracker *t, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_topic_t *rkt = s->stopping ? NULL : kafka_sink_topic(s, topic, strlen(topic));
    rd_kafka_headers_t *headers;
    copy_headers(m, &headers);
    rd_kafka_timestamp_type_t type;
    int64_t ts = rd_kafka_message_timestamp(m, &type);
    if (type != RD_KAFKA_TIMESTAMP_CREATE_TIME || ts < 0)
        ts = 0;
    if (!rkt || retry_later(s, t, rkt, m->payload, m->len, m->key, m->key_len, m->key != NULL,
                            headers, ts) < 0) {
        if (!rkt && headers)
            rd_kafka_headers_destroy(headers);
        record_errored(s, t);
        return;
    }
    slog_limited(&s->retry_log, LOG_INTERVAL_NS, SLOG_WARN, s->client.id,
                 "A record for topic %s was not delivered (%s); it is produced again.", topic,
                 rd_kafka_err2str(m->err));
}

void kafka_sink_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka_sink *s = opaque;
    kafka_tracker *t = m->_private;
    SL_UNUSED(rk);
    if (!t || !t->b)
        return;
    switch (kafka_classify(m->err)) {
    case KAFKA_DELIVERED:
        s->backoff_ms = BACKOFF_MIN_MS;
        t->pending--;
        tracker_settle(s, t);
        return;
    case KAFKA_REJECTED:
        record_rejected(s, t, rd_kafka_topic_name(m->rkt), m->err);
        return;
    case KAFKA_RETRY:
        retry_reported(s, t, m);
        return;
    }
}

/* ---- producing ---- */

typedef struct record {
    rd_kafka_topic_t *rkt;
    const void *payload;
    size_t len;
    const void *key;          /* NULL: no key */
    size_t key_len;
    rd_kafka_headers_t *headers;
    int64_t timestamp_ms;
} record;

static rd_kafka_resp_err_t produce(kafka_sink *s, kafka_tracker *t, const record *r)
{
    if (r->headers)
        return rd_kafka_producev(s->rk, RD_KAFKA_V_RKT(r->rkt),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_VALUE((void *)r->payload, r->len),
                                 RD_KAFKA_V_KEY(r->key, r->key_len),
                                 RD_KAFKA_V_TIMESTAMP(r->timestamp_ms),
                                 RD_KAFKA_V_HEADERS(r->headers), RD_KAFKA_V_OPAQUE(t),
                                 RD_KAFKA_V_END);
    return rd_kafka_producev(s->rk, RD_KAFKA_V_RKT(r->rkt),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_VALUE((void *)r->payload, r->len),
                             RD_KAFKA_V_KEY(r->key, r->key_len),
                             RD_KAFKA_V_TIMESTAMP(r->timestamp_ms), RD_KAFKA_V_OPAQUE(t),
                             RD_KAFKA_V_END);
}

static bool must_stop(kafka_sink *s)
{
    if (!s->stopping && s->must_stop(s->cb_arg))
        s->stopping = true;
    return s->stopping;
}

/* Vector's rate limit: at most rate_num new records per window (fixed
 * windows, as Vector's); waits for the next window while serving delivery
 * reports. False when the sink must stop first. */
static bool rate_allows(kafka_sink *s)
{
    if (!s->rate_num)
        return true;
    for (;;) {
        int64_t now = sl_now_mono_ns();
        if (now >= s->window_end_ns) {
            s->window_end_ns = now + s->rate_window_ns;
            s->window_used = 0;
        }
        if (s->window_used < s->rate_num) {
            s->window_used++;
            return true;
        }
        if (must_stop(s))
            return false;
        int64_t left_ms = (s->window_end_ns - now + NS_PER_MS - 1) / NS_PER_MS;
        kafka_sink_serve(s, left_ms < QUEUE_FULL_WAIT_MS ? (int)left_ms : QUEUE_FULL_WAIT_MS);
    }
}

/* Hands one record to librdkafka, waiting for the rate limit and while its
 * queue is full; the record is then pending on t, or finished (rejected,
 * errored). Returns -1 when the sink must stop before the record could be
 * queued. */
static int produce_record(kafka_sink *s, kafka_tracker *t, record *r)
{
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__QUEUE_FULL;
    if (!rate_allows(s)) {
        t->pending++;
        if (r->headers)
            rd_kafka_headers_destroy(r->headers);
        record_errored(s, t);
        return -1;
    }
    while ((err = produce(s, t, r)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        if (must_stop(s))
            break;
        kafka_sink_serve(s, QUEUE_FULL_WAIT_MS);
    }
    t->pending++;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        if (r->headers)
            rd_kafka_headers_destroy(r->headers);
        record_errored(s, t);
        return -1;
    }
    if (kafka_classify(err) == KAFKA_REJECTED) {
        if (r->headers)
            rd_kafka_headers_destroy(r->headers);
        record_rejected(s, t, rd_kafka_topic_name(r->rkt), err);
        return 0;
    }
    if (s->stopping || retry_later(s, t, r->rkt, r->payload, r->len, r->key, r->key_len,
                                   r->key != NULL, r->headers, r->timestamp_ms) < 0) {
        if (s->stopping && r->headers)
            rd_kafka_headers_destroy(r->headers);
        record_errored(s, t);
    }
    return 0;
}

static rd_kafka_topic_t *topic_of(kafka_sink *s, kafka_tracker *t, const event *e)
{
    if (s->static_rkt)
        return s->static_rkt;
    sl_error err;
    buf_reset(&s->topic_name);
    if (template_render(s->topic, e, &s->topic_name, &err) < 0) {
        component_metrics_error(s->client.metrics, "template_failed", "processing", 1);
        slog_limited(&s->template_log, LOG_INTERVAL_NS, SLOG_ERROR, s->client.id,
                     "Failed to render the topic template, event dropped: %s", err.msg);
        t->dropped++;
        return NULL;
    }
    rd_kafka_topic_t *rkt = s->topic_name.len
                                ? kafka_sink_topic(s, s->topic_name.data, s->topic_name.len)
                                : NULL;
    if (!rkt) {
        slog_limited(&s->template_log, LOG_INTERVAL_NS, SLOG_ERROR, s->client.id,
                     "The topic template rendered an empty name, event dropped.");
        t->dropped++;
    }
    return rkt;
}

/* Encodes e into a record; 0 made, 1 dropped (counted on t), -1 out of
 * memory. */
static int make_record(kafka_sink *s, kafka_tracker *t, const event *e, record *r)
{
    r->rkt = topic_of(s, t, e);
    if (!r->rkt)
        return 1;
    buf_reset(&s->payload);
    int has_key = kafka_record_key(s, e);
    /* The key and headers come from the whole event, as Vector takes them;
       the encoding options shape only the payload. */
    event view;
    const event *shaped = encoding_fields_apply(&s->fields, e, &view);
    if (!shaped || encoding_write_event(&s->payload, s->codec, shaped) < 0 || has_key < 0 ||
        kafka_record_headers(s, e, &r->headers) < 0)
        return -1;
    r->payload = s->payload.data ? s->payload.data : "";
    r->len = s->payload.len;
    r->key = has_key ? (s->key.data ? s->key.data : "") : NULL;
    r->key_len = has_key ? s->key.len : 0;
    r->timestamp_ms = kafka_record_timestamp_ms(e);
    return 0;
}

void kafka_sink_send(kafka_sink *s, batch *b)
{
    kafka_tracker *t = tracker_new(s, b);
    if (!t) {
        slog_error(s->client.id, "Out of memory; the batch is not sent.");
        s->finish(s->cb_arg, b, 0, b->count, 0);
        return;
    }
    uint32_t i = 0;
    for (; i < b->count; i++) {
        record r = {0};
        int rc = make_record(s, t, &b->events[i], &r);
        if (rc > 0)
            continue;
        if (rc < 0) {
            slog_error(s->client.id, "Failed to encode an event: out of memory.");
            t->errored++;
            continue;
        }
        if (produce_record(s, t, &r) < 0) {
            i++;
            break;
        }
    }
    t->errored += b->count - i;
    t->sealed = true;
    tracker_settle(s, t);
}

/* ---- serving ---- */

static void produce_due_retries(kafka_sink *s)
{
    int64_t now = sl_now_mono_ns();
    kafka_retry **link = &s->retries, *last = NULL;
    while (*link) {
        kafka_retry *r = *link;
        if (r->due_ns > now) {
            last = r;
            link = &r->next;
            continue;
        }
        record rec = {.rkt = r->rkt, .payload = r->data, .len = r->len,
                      .key = r->has_key ? r->data + r->len : NULL, .key_len = r->key_len,
                      .headers = r->headers, .timestamp_ms = r->timestamp_ms};
        rd_kafka_resp_err_t err = produce(s, r->t, &rec);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        *link = r->next;
        if (s->retries_tail == r)
            s->retries_tail = last;
        kafka_tracker *t = r->t;
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (r->headers)
                rd_kafka_headers_destroy(r->headers);
            if (kafka_classify(err) == KAFKA_REJECTED)
                record_rejected(s, t, rd_kafka_topic_name(r->rkt), err);
            else
                record_errored(s, t);
        }
        free(r);
    }
}

void kafka_sink_serve(kafka_sink *s, int timeout_ms)
{
    rd_kafka_poll(s->rk, timeout_ms);
    if (s->retries && !s->stopping)
        produce_due_retries(s);
}

static void drop_retries(kafka_sink *s)
{
    while (s->retries) {
        kafka_retry *r = s->retries;
        s->retries = r->next;
        if (r->headers)
            rd_kafka_headers_destroy(r->headers);
        kafka_tracker *t = r->t;
        free(r);
        record_errored(s, t);
    }
    s->retries_tail = NULL;
}

/* Purged records come back as delivery reports, errored now that the sink
 * is stopping; what librdkafka still holds after a short wait is given up
 * on too, its tracker kept until the handle is gone. */
static void kafka_sink_abandon(kafka_sink *s)
{
    s->stopping = true;
    drop_retries(s);
    rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    int64_t deadline = sl_now_mono_ns() + (int64_t)ABANDON_WAIT_MS * 1000000;
    while (s->trackers && sl_now_mono_ns() < deadline)
        rd_kafka_poll(s->rk, 50);
    while (s->trackers) {
        kafka_tracker *t = s->trackers;
        batch *b = t->b;
        tracker_unlink(s, t);
        t->b = NULL;
        t->next = s->abandoned;
        s->abandoned = t;
        s->finish(s->cb_arg, b, t->rejected, t->errored + t->pending, t->dropped);
    }
}

void kafka_sink_drain(kafka_sink *s)
{
    while (s->trackers && !must_stop(s)) {
        if (s->retries)
            produce_due_retries(s);
        /* flush sends at once rather than after linger.ms, but returns at
         * once with nothing queued: records waiting for their backoff. */
        if (rd_kafka_outq_len(s->rk) > 0)
            rd_kafka_flush(s->rk, QUEUE_FULL_WAIT_MS);
        else
            rd_kafka_poll(s->rk, QUEUE_FULL_WAIT_MS);
    }
    if (s->trackers)
        kafka_sink_abandon(s);
}

void kafka_sink_free(kafka_sink *s)
{
    for (size_t i = 0; i < s->topics_cap; i++) {
        if (s->topics[i].name) {
            rd_kafka_topic_destroy(s->topics[i].rkt);
            free(s->topics[i].name);
        }
    }
    free(s->topics);
    if (s->static_rkt)
        rd_kafka_topic_destroy(s->static_rkt);
    if (s->rk)
        rd_kafka_destroy(s->rk);
    while (s->abandoned) {
        kafka_tracker *t = s->abandoned;
        s->abandoned = t->next;
        free(t);
    }
    encoding_fields_free(&s->fields);
    buf_free(&s->payload);
    buf_free(&s->topic_name);
    buf_free(&s->key);
    buf_free(&s->text);
    template_free(s->topic);
    if (s->has_key)
        path_free(&s->key_path);
    if (s->has_headers)
        path_free(&s->headers_path);
    free(s);
}
