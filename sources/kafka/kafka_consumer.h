/* kafka_consumer.h - the engine of the `kafka` source: a librdkafka
 * high-level consumer read in batches straight into sluice batches.
 *
 * Two threads: the source's own thread polls librdkafka without ever
 * blocking on the pipeline (records, rebalances, statistics and commits
 * all arrive through the consumer queue it polls), and an emitter thread
 * hands the full batches on with source_emit, which blocks while the
 * pipeline is full. While the hand-off between the two has no room the
 * poller takes no records; when that lasts a second it pauses its
 * partitions and keeps polling, so the group never evicts it, and resumes
 * them once the emitter caught up (kafka_partitions.c). Which offsets are
 * stored is kafka_offsets' business. */
#ifndef SLUICE_KAFKA_CONSUMER_H
#define SLUICE_KAFKA_CONSUMER_H

#include "pipeline/component.h"
#include "sources/kafka/kafka_client.h"
#include "sources/kafka/kafka_record.h"

typedef struct kafka_source_options {
    kafka_client_options client;   /* first: KAFKA_CLIENT_OPTIONS rows fill it */
    opt_list topics;
    char *group_id;
    int auto_offset_reset;
    uint64_t session_timeout_ms;
    uint64_t fetch_wait_max_ms;
    uint64_t commit_interval_ms;
    uint64_t drain_timeout_ms;     /* filled by check() when not given */
    char *key_field, *topic_key, *partition_key, *offset_key, *headers_key;
    int codec;                     /* KAFKA_CODEC_* */
    bool topic_lag_metric;
    uint64_t fetch_memory_bytes;
} kafka_source_options;

/* librdkafka's auto.offset.reset names, indexed by the option's value. */
extern const char *const kafka_offset_reset_names[];

typedef struct kafka_consumer kafka_consumer;

/* Builds the consumer (no connection yet). */
int kafka_consumer_new(const kafka_source_options *o, const component_info *info,
                       kafka_consumer **out, sl_error *err);
void kafka_consumer_free(kafka_consumer *kc);
/* Runs until the pipeline stops: then drains what is in flight (up to
 * drain_timeout_ms), commits and leaves the group. */
int kafka_consumer_run(kafka_consumer *kc, source_ctx *ctx, sl_error *err);

#endif
