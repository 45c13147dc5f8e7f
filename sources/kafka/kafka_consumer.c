/* kafka_consumer.c - the engine of the `kafka` source (see kafka_consumer.h).
 *
 * The poller reads with rd_kafka_consume_batch_queue on the consumer queue
 * (rd_kafka_poll_set_consumer sends rebalances, statistics and commits
 * there too, so one call serves everything) up to the room left in the
 * batch being filled. Each record becomes events in that batch's arena and
 * a segment of its batch ticket; a batch is sealed (its segments registered
 * with kafka_offsets) and handed to the emitter when it is full or when
 * librdkafka has nothing more right now.
 *
 * With acknowledgements a batch carries an ack group whose callback
 * completes its ticket; without them the emitter completes the ticket as
 * delivered once source_emit took the batch, so offsets are stored as
 * events leave the source. Either way the poller stores offsets
 * (rd_kafka_offsets_store, the next offset to read) and librdkafka commits
 * them every commit_interval_ms.
 *
 * Prefetch memory. The records librdkafka fetched ahead wait in each
 * partition's fetch queue, which it forwards to the consumer queue this
 * source polls; librdkafka 2.0.2 decides whether to fetch more for a
 * partition by the size of that queue, and the size of a forwarded queue is
 * the size of the queue it forwards to. So queued.max.messages.kbytes
 * bounds the one consumer queue, whatever the number of partitions (its
 * documentation says so for the high-level consumer; it applies per
 * partition only once partition queues are split off, which this source
 * does not do), and the budget is not divided over partitions. A fetch
 * response may land on top of a full queue and is decompressed beside it,
 * and librdkafka keeps a few hundred bytes of its own beside each queued
 * record's payload (which is all the queue's size counts), so three eighths
 * of fetch_memory_bytes go to the queue and a quarter bounds a response
 * (fetch.max.bytes, max.partition.fetch.bytes): measured with 200-byte
 * records, the process then stays within 64 MB + fetch_memory_bytes. The queue's count
 * threshold, queued.min.messages, is set to librdkafka's maximum so that
 * bytes decide: at its default (100,000) a queue of small records stops
 * fetching long before the budget, and librdkafka 2.0.2 then waits up to a
 * second before it fetches that partition again. */
#include "sources/kafka/kafka_consumer_internal.h"
#include "pipeline/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define POLL_TIMEOUT_MS 100
#define QUEUED_MIN_MESSAGES "10000000"   /* librdkafka's upper bound: bytes decide */
#define REPORT_INTERVAL_NS (5 * NS_PER_SEC)
#define FETCH_RESPONSE_MAX (50 * 1024 * 1024)   /* librdkafka's fetch.max.bytes default */
#define PARTITION_FETCH_MAX (1024 * 1024)        /* its max.partition.fetch.bytes default */

const char *const kafka_offset_reset_names[] = {
    "smallest", "earliest", "beginning", "largest", "latest", "end", "error",
};


static void ticket_free(batch_ticket *t)
{
    if (t) {
        kafka_rec_free(&t->rec);
        free(t);
    }
}

/* ------------------------------------------------------------ configuration */

/* The prefetch budget (see the top of this file), unless librdkafka_options
 * sets these itself. */
static int set_memory_budget(rd_kafka_conf_t *conf, const kafka_source_options *o,
                             sl_error *err)
{
    uint64_t queued = o->fetch_memory_bytes / 8 * 3, quarter = o->fetch_memory_bytes / 4;
    uint64_t response = quarter < FETCH_RESPONSE_MAX ? quarter : FETCH_RESPONSE_MAX;
    uint64_t partition = response < PARTITION_FETCH_MAX ? response : PARTITION_FETCH_MAX;
    const kafka_client_options *c = &o->client;
    if (!kafka_conf_user_sets(c, "queued.max.messages.kbytes") &&
        kafka_conf_set_uint(conf, "queued.max.messages.kbytes", queued / 1024, err) < 0)
        return -1;
    if (!kafka_conf_user_sets(c, "queued.min.messages") &&
        kafka_conf_set(conf, "queued.min.messages", QUEUED_MIN_MESSAGES, err) < 0)
        return -1;
    if (!kafka_conf_user_sets(c, "fetch.max.bytes") &&
        kafka_conf_set_uint(conf, "fetch.max.bytes", response, err) < 0)
        return -1;
    if (!kafka_conf_user_sets(c, "max.partition.fetch.bytes") &&
        kafka_conf_set_uint(conf, "max.partition.fetch.bytes", partition, err) < 0)
        return -1;
    return 0;
}

static rd_kafka_conf_t *consumer_conf(kafka_consumer *kc, sl_error *err)
{
    const kafka_source_options *o = kc->o;
    rd_kafka_conf_t *conf = kafka_conf_new(&o->client, &kc->client, err);
    if (!conf)
        return NULL;
    if (kafka_conf_set(conf, "group.id", o->group_id, err) < 0 ||
        kafka_conf_set_uint(conf, "session.timeout.ms", o->session_timeout_ms, err) < 0 ||
        kafka_conf_set_uint(conf, "fetch.wait.max.ms", o->fetch_wait_max_ms, err) < 0 ||
        kafka_conf_set(conf, "auto.offset.reset",
                       kafka_offset_reset_names[o->auto_offset_reset], err) < 0 ||
        kafka_conf_set(conf, "enable.partition.eof", "false", err) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "true", err) < 0 ||
        kafka_conf_set_uint(conf, "auto.commit.interval.ms", o->commit_interval_ms, err) < 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", err) < 0 ||
        set_memory_budget(conf, o, err) < 0 ||
        kafka_conf_finish(conf, &o->client, err) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, kafka_partitions_rebalanced);
    rd_kafka_conf_set_offset_commit_cb(conf, kafka_partitions_committed);
    return conf;
}

/* ------------------------------------------------------------ lifetime */

int kafka_consumer_new(const kafka_source_options *o, const component_info *info,
                       kafka_consumer **out, sl_error *err)
{
    kafka_consumer *kc = calloc(1, sizeof(*kc));
    if (!kc || !(kc->id = strdup(info->id))) {
        free(kc);
        return sl_fail(err, "out of memory");
    }
    pthread_mutex_init(&kc->tickets_lock, NULL);
    kc->o = o;
    kc->acks = info->acks_enabled;
    kafka_record_keys keys = {o->key_field, o->topic_key, o->partition_key, o->offset_key,
                              o->headers_key};
    if (kafka_record_format_init(&kc->fmt, o->codec, &keys, err) < 0) {
        kafka_consumer_free(kc);
        return -1;
    }
    if (!(kc->offsets = kafka_offsets_new(kc->id, info->metrics))) {
        kafka_consumer_free(kc);
        return sl_fail(err, "out of memory");
    }
    *out = kc;
    return 0;
}

void kafka_consumer_free(kafka_consumer *kc)
{
    if (!kc)
        return;
    if (kc->b) {
        batch_release(kc->b, ACK_ERRORED);
        if (!kc->acks)
            ticket_free(kc->ticket);
    }
    if (kc->cq)
        rd_kafka_queue_destroy(kc->cq);
    if (kc->rk)
        rd_kafka_destroy(kc->rk);
    while (kc->tickets_head) {
        batch_ticket *t = kc->tickets_head;
        kc->tickets_head = t->next;
        ticket_free(t);
    }
    queue_free(kc->handoff);
    kafka_offsets_free(kc->offsets);
    kafka_record_format_free(&kc->fmt);
    pthread_mutex_destroy(&kc->tickets_lock);
    free(kc->msgs);
    free(kc->hdrs);
    free(kc->scratch);
    free(kc->id);
    free(kc);
}

/* ------------------------------------------------------------ the hand-off */

static void ticket_acked(void *ud, uint64_t token, ack_status status)
{
    kafka_consumer *kc = ud;
    batch_ticket *t = (batch_ticket *)(uintptr_t)token;
    kafka_offsets_complete(kc->offsets, &t->rec, status);
    ticket_free(t);
}

static batch_ticket *tickets_pop(kafka_consumer *kc)
{
    pthread_mutex_lock(&kc->tickets_lock);
    batch_ticket *t = kc->tickets_head;
    if (t) {
        kc->tickets_head = t->next;
        if (!kc->tickets_head)
            kc->tickets_tail = NULL;
    }
    pthread_mutex_unlock(&kc->tickets_lock);
    return t;
}

static void tickets_push(kafka_consumer *kc, batch_ticket *t)
{
    pthread_mutex_lock(&kc->tickets_lock);
    if (kc->tickets_tail)
        kc->tickets_tail->next = t;
    else
        kc->tickets_head = t;
    kc->tickets_tail = t;
    pthread_mutex_unlock(&kc->tickets_lock);
}

static void *emitter_main(void *arg)
{
    kafka_consumer *kc = arg;
    batch *b;
    while (queue_pop(kc->handoff, &b, -1) == QUEUE_OK) {
        batch_ticket *t = kc->acks ? NULL : tickets_pop(kc);
        int rc = source_emit(kc->ctx, b);
        if (t) {
            kafka_offsets_complete(kc->offsets, &t->rec, rc == 0 ? ACK_DELIVERED : ACK_ERRORED);
            ticket_free(t);
        }
    }
    return NULL;
}

static int begin_batch(kafka_consumer *kc)
{
    batch_ticket *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    ack_group *g = NULL;
    if (kc->acks && !(g = ack_group_new(ticket_acked, kc, (uint64_t)(uintptr_t)t))) {
        free(t);
        return -1;
    }
    batch *b = source_batch_new(kc->ctx, g);
    /* Without a batch the group's last reference goes here, and its
     * callback frees the ticket. */
    ack_group_release(g, ACK_DELIVERED);
    if (!b) {
        if (!g)
            free(t);
        return -1;
    }
    kc->b = b;
    kc->ticket = t;
    return 0;
}

/* Seals the batch being filled and hands it to the emitter. */
int kafka_consumer_flush(kafka_consumer *kc)
{
    batch *b = kc->b;
    batch_ticket *t = kc->ticket;
    if (!b || kc->closing)
        return 0;
    kc->b = NULL;
    kc->ticket = NULL;
    if (kafka_offsets_seal(kc->offsets, &t->rec) < 0) {
        /* Its records are not tracked, so nothing may pass them: stop. */
        batch_release(b, ACK_ERRORED);
        if (!kc->acks)
            ticket_free(t);
        return -1;
    }
    if (!kc->acks)
        tickets_push(kc, t);
    queue_push(kc->handoff, b);
    return 0;
}

/* ------------------------------------------------------------ records */

static void report_bad(kafka_consumer *kc, const kafka_partition *p, int64_t offset,
                       const char *why)
{
    component_metrics_error(kc->metrics, "parser_failed", "processing", 1);
    uint64_t held;
    if (!log_limiter_allow(&kc->bad_log, REPORT_INTERVAL_NS, &held))
        return;
    slog_error(kc->id, "Failed to decode the record at topic %s partition %" PRId32
               " offset %" PRId64 ", skipped: %s (%" PRIu64 " more skipped since the last "
               "report).", p->topic, p->partition, offset, why, held);
}

static void report_read_error(kafka_consumer *kc, const rd_kafka_message_t *m)
{
    component_metrics_error(kc->metrics, "reading_message", "receiving", 1);
    uint64_t held;
    if (!log_limiter_allow(&kc->read_log, REPORT_INTERVAL_NS, &held))
        return;
    slog_error(kc->id, "Failed to read from Kafka (%s%s%s): %s (%" PRIu64 " more since the "
               "last report).", m->rkt ? "topic " : "", m->rkt ? rd_kafka_topic_name(m->rkt) : "",
               m->rkt ? "" : "consumer", rd_kafka_message_errstr(m), held);
}

static kafka_partition *partition_of(kafka_consumer *kc, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    kafka_partition *p = kc->last_p;
    if (p && p->partition == m->partition && strcmp(p->topic, topic) == 0)
        return p;
    p = kafka_offsets_partition(kc->offsets, topic, m->partition);
    kc->last_p = p;
    return p;
}

static int fill_headers(kafka_consumer *kc, rd_kafka_message_t *m, kafka_record_view *v)
{
    rd_kafka_headers_t *h;
    v->headers = NULL;
    v->nheaders = 0;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    size_t n = rd_kafka_header_cnt(h);
    while (kc->hdrs_cap < n)
        if (SL_GROW(kc->hdrs, kc->hdrs_cap, kc->hdrs_cap, 8) < 0)
            return -1;
    for (size_t i = 0; i < n; i++) {
        kafka_header_view *hv = &kc->hdrs[i];
        const void *val;
        if (rd_kafka_header_get_all(h, i, &hv->name, &val, &hv->value_len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            return -1;
        hv->name_len = strlen(hv->name);
        hv->value = val;
    }
    v->headers = kc->hdrs;
    v->nheaders = n;
    return 0;
}

static int view_of(kafka_consumer *kc, rd_kafka_message_t *m, const kafka_partition *p,
                   kafka_record_view *v)
{
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    *v = (kafka_record_view){
        .topic = p->topic,
        .topic_len = strlen(p->topic),
        .partition = m->partition,
        .offset = m->offset,
        .timestamp_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts,
        .key = m->key,
        .key_len = m->key_len,
        .payload = m->payload,
        .payload_len = m->payload ? m->len : 0,
    };
    return fill_headers(kc, m, v);
}

/* One record into the batch being filled; -1 out of memory. */
static int take_record(kafka_consumer *kc, rd_kafka_message_t *m, int64_t now_ns)
{
    if (m->err) {
        report_read_error(kc, m);
        return 0;
    }
    kafka_partition *p = partition_of(kc, m);
    if (!p)
        return -1;
    if (!p->accepting)
        return 0;
    kafka_record_view v;
    if (view_of(kc, m, p, &v) < 0)
        return -1;
    for (;;) {
        if (!kc->b && begin_batch(kc) < 0)
            return -1;
        uint32_t before = kc->b->count;
        sl_error err;
        kafka_record_result r = kafka_record_add(&kc->fmt, kc->b, &v, now_ns, &err);
        if (r == KAFKA_RECORD_NO_ROOM) {
            if (kafka_consumer_flush(kc) < 0)
                return -1;
            continue;
        }
        if (r == KAFKA_RECORD_NO_MEMORY)
            return -1;
        if (r == KAFKA_RECORD_BAD)
            report_bad(kc, p, m->offset, err.msg);
        else if (v.payload_len == 0)
            metrics_add(kc->tombstones, 1);
        kc->b->input_bytes += v.payload_len;
        p->read_next = m->offset + 1;
        if (kafka_rec_note(&kc->ticket->rec, p, m->offset, kc->b->count - before) < 0)
            return -1;
        return kc->b->count >= kc->b->cap ? kafka_consumer_flush(kc) : 0;
    }
}

/* ------------------------------------------------------------ running */

static int start(kafka_consumer *kc, source_ctx *ctx, sl_error *err)
{
    kc->ctx = ctx;
    kc->metrics = source_metrics(ctx);
    kc->tombstones = component_metrics_extra(kc->metrics, "kafka_tombstones_total",
                                             METRICS_COUNTER,
                                             "Records with an empty payload: no event.");
    kc->drain_unacked = component_metrics_extra(
        kc->metrics, "kafka_drain_unacknowledged_messages_total", METRICS_COUNTER,
        "Records still unacknowledged when a drain timed out (read again by the next owner).");
    kc->drain_uncommitted = component_metrics_extra(
        kc->metrics, "kafka_drain_uncommitted_messages_total", METRICS_COUNTER,
        "Acknowledged records whose commit failed when their partitions were let go (read "
        "again by the next owner).");
    kc->pauses = component_metrics_extra(
        kc->metrics, "kafka_backpressure_pauses_total", METRICS_COUNTER,
        "Times the partitions were paused because the pipeline was full.");
    if (kafka_client_init(&kc->client, kc->metrics, kc->o->topic_lag_metric, err) < 0)
        return -1;
    batch *probe = source_batch_new(ctx, NULL);
    if (!probe)
        return sl_fail(err, "out of memory");
    kc->batch_cap = probe->cap;
    batch_release(probe, ACK_DELIVERED);
    kc->msgs = calloc(kc->batch_cap, sizeof(*kc->msgs));
    kc->handoff = queue_new((size_t)kc->batch_cap * HANDOFF_BATCHES, QUEUE_BLOCK);
    if (!kc->msgs || !kc->handoff)
        return sl_fail(err, "out of memory");
    queue_add_producer(kc->handoff);
    rd_kafka_conf_t *conf = consumer_conf(kc, err);
    if (!conf)
        return -1;
    char why[512];
    kc->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!kc->rk) {
        rd_kafka_conf_destroy(conf);
        return sl_fail(err, "cannot create the Kafka consumer: %s", why);
    }
    rd_kafka_poll_set_consumer(kc->rk);
    kc->cq = rd_kafka_queue_get_consumer(kc->rk);
    if (!kc->cq)
        return sl_fail(err, "cannot get the consumer queue");
    if (pthread_create(&kc->emitter, NULL, emitter_main, kc) != 0)
        return sl_fail(err, "cannot start the emitter thread");
    kc->emitter_started = true;
    return 0;
}

static int subscribe(kafka_consumer *kc, sl_error *err)
{
    const opt_list *t = &kc->o->topics;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)t->n);
    if (!l)
        return sl_fail(err, "out of memory");
    for (size_t i = 0; i < t->n; i++)
        rd_kafka_topic_partition_list_add(l, t->items[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(kc->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return sl_fail(err, "cannot subscribe: %s", rd_kafka_err2str(e));
    return 0;
}

static int poll_once(kafka_consumer *kc)
{
    size_t want = kc->b ? kc->b->cap - kc->b->count : kc->batch_cap;
    ssize_t n = rd_kafka_consume_batch_queue(kc->cq, POLL_TIMEOUT_MS, kc->msgs, want);
    int64_t now = sl_now_wall_ns();
    int rc = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (rc == 0 && !kc->failed)
            rc = take_record(kc, kc->msgs[i], now);
        rd_kafka_message_destroy(kc->msgs[i]);
    }
    if (rc < 0 || kc->failed)
        return -1;
    if (n < (ssize_t)want && kafka_consumer_flush(kc) < 0)
        return -1;
    if (kafka_partitions_act(kc) < 0)
        return -1;
    kafka_partitions_back_pressure(kc);
    return 0;
}

/* Drains every partition, lets the emitter finish and leaves the group. */
static void shut_down(kafka_consumer *kc)
{
    if (kc->rk)
        kafka_partitions_drain_all(kc, "stopping");
    kafka_consumer_flush(kc);
    kc->closing = true;
    if (kc->handoff)
        queue_producer_done(kc->handoff);
    if (kc->emitter_started)
        pthread_join(kc->emitter, NULL);
    kc->emitter_started = false;
    if (kc->rk) {
        rd_kafka_resp_err_t e = rd_kafka_consumer_close(kc->rk);
        if (e)
            slog_warn(kc->id, "Leaving the consumer group: %s", rd_kafka_err2str(e));
    }
}

int kafka_consumer_run(kafka_consumer *kc, source_ctx *ctx, sl_error *err)
{
    int rc = start(kc, ctx, err);
    if (rc == 0)
        rc = subscribe(kc, err);
    while (rc == 0 && !source_stopping(ctx))
        if (poll_once(kc) < 0)
            rc = sl_fail(err, "out of memory");
    shut_down(kc);
    return rc;
}
