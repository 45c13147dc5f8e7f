/* kafka_producer.h - the engine of the `kafka` sink: events turned into
 * Kafka records (topic, key, headers, timestamp, payload), produced with a
 * tracker per batch, and each batch finished once every record of it has a
 * final outcome.
 *
 * A record the brokers acknowledged is delivered; one they refused for
 * good (too large, not authorized, no such topic) is rejected; one that
 * could not be delivered for now (timed out, transport failure) is produced
 * again after a backoff, until it is delivered or the sink must stop, when
 * the batch is given up as errored so that an acknowledging source reads it
 * again. Delivery reports are served by rd_kafka_poll on the sink's thread,
 * so nothing here is shared between threads.
 *
 * sinks/kafka.c holds the options, the checks and the component; this
 * engine is apart so the unit tests can drive it without a runtime. */
#ifndef SLUICE_KAFKA_PRODUCER_H
#define SLUICE_KAFKA_PRODUCER_H

#include "pipeline/batch.h"
#include "pipeline/buf.h"
#include "pipeline/log.h"
#include "pipeline/path.h"
#include "pipeline/template.h"
#include "sinks/encoding.h"
#include "sinks/encoding_fields.h"
#include "sources/kafka/kafka_client.h"

/* How one record ended, as far as the batch is concerned. */
typedef enum kafka_outcome {
    KAFKA_DELIVERED = 0,
    KAFKA_REJECTED,   /* for good: the record itself or the topic is refused */
    KAFKA_RETRY,      /* for now: produced again after a backoff */
} kafka_outcome;

/* One batch on its way: messages produced carry it as their opaque. */
typedef struct kafka_tracker {
    struct kafka_tracker *prev, *next;
    batch *b;                 /* NULL once finished (given up on at stop) */
    uint32_t pending;         /* records without a final outcome yet */
    uint32_t rejected, errored, dropped;
    bool sealed;              /* every event was handed to librdkafka */
} kafka_tracker;

/* A record waiting to be produced again. */
typedef struct kafka_retry {
    struct kafka_retry *next;
    kafka_tracker *t;
    rd_kafka_topic_t *rkt;
    rd_kafka_headers_t *headers;   /* owned; NULL for none */
    int64_t timestamp_ms;
    int64_t due_ns;                /* monotonic */
    size_t len, key_len;
    bool has_key;
    char data[];                   /* payload, then key */
} kafka_retry;

/* What the engine calls when a batch is finished: `rejected` records were
 * refused, `errored` given up on, `dropped` events never became records
 * (a topic that could not be rendered). */
typedef void (*kafka_finish_fn)(void *arg, batch *b, uint32_t rejected, uint32_t errored,
                                uint32_t dropped);
/* Whether the sink must give up on what it holds now. */
typedef bool (*kafka_must_stop_fn)(void *arg);

typedef struct kafka_topic_slot {
    char *name;
    rd_kafka_topic_t *rkt;
} kafka_topic_slot;

typedef struct kafka_sink {
    kafka_client client;        /* first: librdkafka's callbacks find it there */
    rd_kafka_t *rk;
    /* configuration */
    template *topic;
    rd_kafka_topic_t *static_rkt;   /* the topic when it renders alike for all */
    const char *healthcheck_topic;  /* borrowed from the options; NULL: topic */
    bool has_key;
    path key_path;
    const char *key_tag;            /* key_field as a metric tag name */
    bool has_headers;
    path headers_path;
    encoding_codec codec;
    encoding_fields fields;         /* encoding.only_fields & co., for the payload */
    uint64_t rate_num;              /* records per rate window; 0: no limit */
    int64_t rate_window_ns;
    /* run time, on the sink's thread */
    kafka_finish_fn finish;
    kafka_must_stop_fn must_stop;
    void *cb_arg;
    bool stopping;                  /* no more retries: failures are errored */
    kafka_tracker *trackers;        /* batches in flight, oldest first */
    kafka_tracker *trackers_tail;
    size_t inflight;
    kafka_tracker *abandoned;       /* given up on, freed after rd_kafka_destroy */
    kafka_retry *retries, *retries_tail;
    int64_t backoff_ms, backoff_raised_ns;
    int64_t window_end_ns;          /* the rate window's end, and records in it */
    uint64_t window_used;
    kafka_topic_slot *topics;       /* open addressing by name */
    size_t ntopics, topics_cap;
    buf payload, topic_name, key, text;
    log_limiter template_log, reject_log, retry_log, header_log;
} kafka_sink;

/* The most batches in flight at once: what bounds the sink's memory beside
 * librdkafka's own queue limits. */
#define KAFKA_MAX_INFLIGHT 64

/* ---- records ---- */

/* The record timestamp in milliseconds: the log's `timestamp` or the
 * metric's; 0 (librdkafka: now) when it has none. */
int64_t kafka_record_timestamp_ms(const event *e);
/* The key into s->key: 1 with a key, 0 without one (no key_field, the
 * field or tag is missing or null), -1 out of memory. */
int kafka_record_key(kafka_sink *s, const event *e);
/* The headers of a log from its headers_key map: *out NULL when none.
 * Bytes are sent as they are, other values as text, null as a header
 * without value. -1 out of memory. */
int kafka_record_headers(kafka_sink *s, const event *e, rd_kafka_headers_t **out);
/* Whether a final error of a record rejects it or asks for another try. */
kafka_outcome kafka_classify(rd_kafka_resp_err_t err);

/* ---- the engine ---- */

/* Sets what the engine reports to; before the first send. */
void kafka_sink_attach(kafka_sink *s, kafka_finish_fn finish, kafka_must_stop_fn must_stop,
                       void *arg);
/* The rd_kafka_t's delivery report callback (set on its configuration). */
void kafka_sink_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/* Produces every event of b (ownership passes: the batch is finished
 * through the finish callback). Waits, serving reports, while librdkafka's
 * queue is full. */
void kafka_sink_send(kafka_sink *s, batch *b);
/* Serves delivery reports for up to timeout_ms and produces the records
 * whose backoff is over. */
void kafka_sink_serve(kafka_sink *s, int timeout_ms);
/* Waits until every batch is finished, or gives up on them when the sink
 * must stop: purged and released as errored. */
void kafka_sink_drain(kafka_sink *s);
/* Destroys the handle, then what it could still have referred to. */
void kafka_sink_free(kafka_sink *s);

#endif
