/* kafka.c - the `kafka` source: records of Kafka topics read by a consumer
 * group, with Vector's options and event fields.
 *
 * This file holds the options and their checks; the consumer is
 * sources/kafka/kafka_consumer.c, the record-to-event conversion
 * kafka_record.c and the offset bookkeeping kafka_offsets.c. Unlike
 * Vector, a record whose delivery failed is never skipped: offsets pass
 * only over the acknowledged prefix of each partition (docs/delivery.md). */
#include "pipeline/component.h"
#include "sources/kafka/kafka_consumer.h"

#include <stdlib.h>

enum { RESET_SMALLEST = 0, RESET_EARLIEST, RESET_BEGINNING, RESET_LARGEST, RESET_LATEST,
       RESET_END, RESET_ERROR };

static const opt_enum_value offset_reset_values[] = {
    {"smallest", RESET_SMALLEST},
    {"earliest", RESET_EARLIEST},
    {"beginning", RESET_BEGINNING},
    {"largest", RESET_LARGEST},
    {"latest", RESET_LATEST},
    {"end", RESET_END},
    {"error", RESET_ERROR},
    {NULL, 0},
};

static const opt_enum_value codec_values[] = {
    {"bytes", KAFKA_CODEC_BYTES},
    {"json", KAFKA_CODEC_JSON},
    {NULL, 0},
};

static const opt_spec decoding_fields[] = {
    OPT_ENUM_ROW("codec", kafka_source_options, codec, codec_values, .def = "bytes",
        .help = "How a record's payload becomes an event: bytes (the payload is .message) or "
                "json (the payload's object is the event)."),
    OPT_END,
};

static const opt_spec metrics_fields[] = {
    OPT_BOOL_ROW("topic_lag_metric", kafka_source_options, topic_lag_metric, .def = "true",
        .help = "Write kafka_consumer_lag{topic_id,partition_id} for the partitions read."),
    OPT_END,
};

static const opt_spec kafka_option_table[] = {
    KAFKA_CLIENT_OPTIONS,
    OPT_LIST_ROW("topics", kafka_source_options, topics, .required = true, .nonempty = true,
        .help = "Topics to read; an entry starting with ^ is a regular expression."),
    OPT_STRING_ROW("group_id", kafka_source_options, group_id, .required = true,
        .nonempty = true, .help = "The consumer group."),
    OPT_ENUM_ROW("auto_offset_reset", kafka_source_options, auto_offset_reset,
        offset_reset_values, .def = "largest",
        .help = "Where a partition without a committed offset starts (librdkafka's "
                "auto.offset.reset)."),
    OPT_UINT_ROW("session_timeout_ms", kafka_source_options, session_timeout_ms,
        .def = "10000", OPT_RANGE(1, 3600000), .unit = "milliseconds",
        .help = "The group drops a member silent for this long."),
    OPT_UINT_ROW("fetch_wait_max_ms", kafka_source_options, fetch_wait_max_ms, .def = "100",
        OPT_RANGE(0, 300000), .unit = "milliseconds",
        .help = "Longest a broker waits to fill a fetch."),
    OPT_UINT_ROW("commit_interval_ms", kafka_source_options, commit_interval_ms,
        .def = "5000", OPT_RANGE(0, 86400000), .unit = "milliseconds",
        .help = "How often stored offsets are committed."),
    OPT_UINT_ROW("drain_timeout_ms", kafka_source_options, drain_timeout_ms,
        .unit = "milliseconds",
        .help = "On a rebalance or at shutdown, how long acknowledgements of the records in "
                "flight are waited for (default: half of session_timeout_ms; at most "
                "session_timeout_ms)."),
    OPT_STRING_ROW("key_field", kafka_source_options, key_field, .def = "message_key",
        .help = "Field of the record's key (null without one); \"\" for none."),
    OPT_STRING_ROW("topic_key", kafka_source_options, topic_key, .def = "topic",
        .help = "Field of the topic; \"\" for none."),
    OPT_STRING_ROW("partition_key", kafka_source_options, partition_key, .def = "partition",
        .help = "Field of the partition; \"\" for none."),
    OPT_STRING_ROW("offset_key", kafka_source_options, offset_key, .def = "offset",
        .help = "Field of the offset; \"\" for none."),
    OPT_STRING_ROW("headers_key", kafka_source_options, headers_key, .def = "headers",
        .help = "Field of the headers (a map of name to value); \"\" for none."),
    OPT_OBJECT_ROW("decoding", decoding_fields, .help = "How payloads are decoded."),
    OPT_OBJECT_ROW("metrics", metrics_fields, .help = "Optional metrics."),
    OPT_UINT_ROW("fetch_memory_bytes", kafka_source_options, fetch_memory_bytes,
        .def = "67108864", OPT_RANGE(4194304, 4294967296.0), .unit = "bytes",
        .help = "Memory for records fetched ahead, whatever the number of partitions "
                "(librdkafka's queued.max.messages.kbytes, fetch.max.bytes and "
                "max.partition.fetch.bytes, unless librdkafka_options sets them)."),
    OPT_END,
};

/* drain_timeout_ms defaults to half the session timeout and may not exceed
 * it: a drain longer than the session would get the member evicted. */
static size_t kafka_check(const void *options, const char *label, const cfg_node *node,
                          diag_list *diags)
{
    kafka_source_options *o = (kafka_source_options *)options;
    size_t errors = kafka_client_check(&o->client, label, node, diags);
    if (!opt_set(node, "drain_timeout_ms")) {
        o->drain_timeout_ms = o->session_timeout_ms / 2;
    } else if (o->drain_timeout_ms > o->session_timeout_ms) {
        diag_add(diags, DIAG_ERROR, cfg_map_get(node, "drain_timeout_ms"), label,
                 "drain_timeout_ms (%llu) must not be larger than session_timeout_ms (%llu)",
                 (unsigned long long)o->drain_timeout_ms,
                 (unsigned long long)o->session_timeout_ms);
        errors++;
    }
    return errors;
}

static int kafka_build(const void *options, const component_info *info, void **state,
                       sl_error *err)
{
    kafka_consumer *kc;
    if (kafka_consumer_new(options, info, &kc, err) < 0)
        return -1;
    *state = kc;
    return 0;
}

static void kafka_destroy(void *state)
{
    kafka_consumer_free(state);
}

static int kafka_run(void *state, source_ctx *ctx, sl_error *err)
{
    return kafka_consumer_run(state, ctx, err);
}

/* Under their default names: a `*_key` option that renames or drops one
 * leaves that declaration wrong, as a decoded JSON payload may replace
 * `.message`. */
static const event_field_type kafka_fields[] = {
    {".headers", EVENT_KIND(VALUE_MAP)},
    {".message_key", EVENT_KIND(VALUE_BYTES) | EVENT_KIND(VALUE_NULL)},
    {".offset", EVENT_KIND(VALUE_INT)},
    {".partition", EVENT_KIND(VALUE_INT)},
    {".source_type", EVENT_KIND(VALUE_BYTES)},
    {".timestamp", EVENT_KIND(VALUE_TIMESTAMP)},
    {".topic", EVENT_KIND(VALUE_BYTES)},
};

const component_desc source_kafka_desc = {
    .type = "kafka",
    .kind = COMPONENT_SOURCE,
    .acknowledges = true,
    .position_without_acks = "its offsets are stored as events leave the source",
    .summary = "Records of Kafka topics, read by a consumer group.",
    .options = kafka_option_table,
    .options_size = sizeof(kafka_source_options),
    .output_types = EVENT_LOG,
    .fields = kafka_fields,
    .nfields = SL_ARRAY_LEN(kafka_fields),
    .check = kafka_check,
    .build = kafka_build,
    .destroy = kafka_destroy,
    .source_run = kafka_run,
};
