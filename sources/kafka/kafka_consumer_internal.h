/* kafka_consumer_internal.h - the `kafka` source's engine state, shared
 * by its two files: kafka_consumer.c (lifetime, the hand-off to the
 * emitter, records into batches, the poll loop) and kafka_partitions.c
 * (offsets stored, pauses, rewinds, rebalances, drains). Not for use
 * outside sources/kafka/. */
#ifndef SLUICE_KAFKA_CONSUMER_INTERNAL_H
#define SLUICE_KAFKA_CONSUMER_INTERNAL_H

#include "sources/kafka/kafka_consumer.h"
#include "sources/kafka/kafka_offsets.h"
#include "pipeline/log.h"

#include <pthread.h>

#define HANDOFF_BATCHES 8        /* the hand-off's capacity, in full batches */
#define RESUME_AT_BATCHES 2      /* paused partitions resume once the hand-off is this low */
#define PAUSE_AFTER_MS 1000      /* a hand-off full this long pauses the partitions */
#define LOGGED_PARTITIONS_MAX 32 /* partitions a rebalance's log line names */

/* The segments of one batch. Without acknowledgements, tickets wait in a
 * list beside the hand-off, in the same order as their batches. */
typedef struct batch_ticket {
    struct batch_ticket *next;
    kafka_batch_rec rec;
} batch_ticket;

struct kafka_consumer {
    kafka_client client;                /* first: librdkafka's opaque */
    char *id;
    const kafka_source_options *o;
    bool acks;
    kafka_record_format fmt;
    kafka_offsets *offsets;
    rd_kafka_t *rk;
    rd_kafka_queue_t *cq;
    source_ctx *ctx;
    const component_metrics *metrics;
    /* the hand-off to the emitter */
    queue *handoff;
    pthread_t emitter;
    bool emitter_started;
    pthread_mutex_t tickets_lock;
    batch_ticket *tickets_head, *tickets_tail;
    /* the poller's */
    batch *b;
    batch_ticket *ticket;
    uint32_t batch_cap;
    bool paused;                        /* back-pressure paused every partition */
    bool closing;                       /* the hand-off is finished */
    bool failed;                        /* out of memory: the source stops */
    rd_kafka_message_t **msgs;
    kafka_header_view *hdrs;
    size_t hdrs_cap;
    kafka_partition *last_p;
    kafka_partition **scratch;
    size_t scratch_cap;
    metrics_series *tombstones, *drain_unacked, *drain_uncommitted, *pauses;
    log_limiter bad_log, read_log;
};

/* kafka_consumer.c: seals the batch being filled and hands it to the
 * emitter. -1 when its records could not be tracked (the source stops). */
int kafka_consumer_flush(kafka_consumer *kc);

/* kafka_partitions.c */
/* Stores what may be stored, pauses and rewinds errored partitions. -1 out
 * of memory. */
int kafka_partitions_act(kafka_consumer *kc);
/* Waits while the hand-off has no room; pauses every partition when that
 * lasts PAUSE_AFTER_MS, resumes them once it drained. */
void kafka_partitions_back_pressure(kafka_consumer *kc);
/* Drains, commits and lets go of every partition (shutdown). */
void kafka_partitions_drain_all(kafka_consumer *kc, const char *why);
/* librdkafka's rebalance and offset commit callbacks (opaque: kc). */
void kafka_partitions_rebalanced(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t *parts, void *opaque);
void kafka_partitions_committed(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *parts, void *opaque);

#endif
