/* kafka.c - the `kafka` sink: each event one Kafka record, produced with
 * librdkafka to a topic named by a template (`logs-{{ service }}`), with a
 * key from a field or tag, headers from a map field, the event's timestamp
 * as the record's, and the payload in the configured encoding.
 *
 * Vector's options and defaults, so Vector configs run unchanged; the
 * client settings (brokers, sasl, tls, librdkafka_options) are the ones the
 * kafka source has (sources/kafka/kafka_client.h). Unlike Vector, a record
 * whose message_timeout_ms ran out is produced again rather than dropped: a
 * batch is acknowledged delivered only once the brokers acknowledged every
 * record of it (the engine is sinks/kafka_producer.c). */
#include "pipeline/component.h"
#include "sinks/kafka_producer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEALTHCHECK_TIMEOUT_MS 5000
#define IDLE_WAIT_MS 1000     /* nothing in flight: statistics still need serving */
#define BUSY_WAIT_MS 5        /* records in flight: their reports need serving */

enum { COMPRESSION_NONE = 0, COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4,
       COMPRESSION_ZSTD };

typedef struct kafka_sink_options {
    kafka_client_options client;   /* first: KAFKA_CLIENT_OPTIONS' offsets are into it */
    char *topic;
    char *healthcheck_topic;
    char *key_field;
    char *headers_key;
    int codec;
    opt_list only_fields, except_fields;
    int timestamp_format;
    int compression;
    uint64_t batch_max_events, batch_max_bytes;   /* 0: librdkafka's default */
    double batch_timeout_secs;                    /* 0: librdkafka's default */
    uint64_t message_timeout_ms;
    uint64_t rate_limit_num;            /* 0: unlimited */
    uint64_t rate_limit_duration_secs;
} kafka_sink_options;

/* In enum order: librdkafka's compression.codec names are the same. */
static const opt_enum_value compression_values[] = {
    {"none", COMPRESSION_NONE},
    {"gzip", COMPRESSION_GZIP},
    {"snappy", COMPRESSION_SNAPPY},
    {"lz4", COMPRESSION_LZ4},
    {"zstd", COMPRESSION_ZSTD},
    {NULL, 0},
};

static const opt_spec encoding_table[] = {
    OPT_ENUM_ROW("codec", kafka_sink_options, codec, encoding_codec_values, .required = true,
        .help = "How each record's payload is written: json, text (the message) or logfmt."),
    ENCODING_FIELDS_OPTIONS(kafka_sink_options, only_fields, except_fields, timestamp_format),
    OPT_END,
};

static const opt_spec batch_fields[] = {
    OPT_UINT_ROW("max_events", kafka_sink_options, batch_max_events, OPT_RANGE(1, 1000000),
        .help = "Records in one produce request (librdkafka's batch.num.messages)."),
    OPT_UINT_ROW("max_bytes", kafka_sink_options, batch_max_bytes, OPT_RANGE(1, 2147483647),
        .unit = "bytes", .help = "Bytes in one produce request (librdkafka's batch.size)."),
    OPT_FLOAT_ROW("timeout_secs", kafka_sink_options, batch_timeout_secs, OPT_ABOVE(0),
        OPT_MAX(900), .unit = "seconds",
        .help = "How long records wait for more to join them in a request "
                "(librdkafka's queue.buffering.max.ms)."),
    OPT_END,
};

static const opt_spec kafka_option_table[] = {
    KAFKA_CLIENT_OPTIONS,
    OPT_STRING_ROW("topic", kafka_sink_options, topic, .required = true, .nonempty = true,
        .help = "Topic of each record: a template with {{ field }} references and strftime "
                "specifiers."),
    OPT_STRING_ROW("healthcheck_topic", kafka_sink_options, healthcheck_topic, .nonempty = true,
        .help = "Topic whose metadata the healthcheck asks for; the topic when it is not "
                "templated."),
    OPT_STRING_ROW("key_field", kafka_sink_options, key_field, .nonempty = true,
        .help = "Log field (or metric tag) whose value is the record key; no key when "
                "missing."),
    OPT_STRING_ROW("headers_key", kafka_sink_options, headers_key, .nonempty = true,
        .help = "Log field holding a map of header name to value, sent as record headers."),
    OPT_ALIAS_ROW("headers_field", "headers_key"),
    OPT_OBJECT_ROW("encoding", encoding_table, .required = true,
        .help = "codec, only_fields, except_fields, timestamp_format."),
    OPT_ENUM_ROW("compression", kafka_sink_options, compression, compression_values,
        .def = "none", .help = "Compression of the produce requests (compression.codec)."),
    OPT_OBJECT_ROW("batch", batch_fields,
        .help = "max_events, max_bytes, timeout_secs: librdkafka's producer batching."),
    OPT_UINT_ROW("message_timeout_ms", kafka_sink_options, message_timeout_ms,
        .def = "300000", OPT_MAX(2147483647), .unit = "milliseconds",
        .help = "How long librdkafka tries to deliver a record before it is produced "
                "again (message.timeout.ms; 0: forever)."),
    OPT_UINT_ROW("rate_limit_num", kafka_sink_options, rate_limit_num, OPT_MIN(1),
        .help = "The most records produced per rate_limit_duration_secs (records produced "
                "again not included); unlimited when not set."),
    OPT_UINT_ROW("rate_limit_duration_secs", kafka_sink_options, rate_limit_duration_secs,
        .def = "1", OPT_RANGE(1, 86400), .unit = "seconds",
        .help = "The window of rate_limit_num, a fixed one as in Vector."),
    OPT_END,
};

/* ---- checks ---- */

static size_t check_path(const char *text, const char *key, const char *label,
                         const cfg_node *node, diag_list *diags)
{
    path p;
    sl_error err;
    if (!text)
        return 0;
    if (path_parse(text, &p, &err) < 0) {
        diag_add(diags, DIAG_ERROR, cfg_map_get(node, key), label, "%s: %s", key, err.msg);
        return 1;
    }
    path_free(&p);
    return 0;
}

/* A batch.* option writes a librdkafka property: setting it both ways is
 * ambiguous, so it is refused, as Vector refuses it. */
static size_t check_batch_conflict(const kafka_sink_options *o, bool given, const char *option,
                                   const char *property, const char *label, diag_list *diags)
{
    if (!given || !kafka_conf_user_sets(&o->client, property))
        return 0;
    diag_add(diags, DIAG_ERROR, cfg_map_get(o->client.librdkafka_options, property), label,
             "batch.%s sets librdkafka's %s, which librdkafka_options sets too; remove one",
             option, property);
    return 1;
}

static size_t kafka_check(const void *options, const char *label, const cfg_node *node,
                          diag_list *diags)
{
    const kafka_sink_options *o = options;
    size_t errors = kafka_client_check(&o->client, label, node, diags);
    if (o->topic) {
        template *t;
        sl_error err;
        if (template_parse(o->topic, &t, &err) < 0) {
            diag_add(diags, DIAG_ERROR, cfg_map_get(node, "topic"), label, "topic: %s",
                     err.msg);
            errors++;
        } else {
            template_free(t);
        }
    }
    errors += check_path(o->key_field, "key_field", label, node, diags);
    errors += check_path(o->headers_key, "headers_key", label, node, diags);
    errors += check_batch_conflict(o, o->batch_max_events, "max_events", "batch.num.messages",
                                   label, diags);
    errors += check_batch_conflict(o, o->batch_max_bytes, "max_bytes", "batch.size", label,
                                   diags);
    errors += check_batch_conflict(o, o->batch_timeout_secs > 0, "timeout_secs",
                                   "queue.buffering.max.ms", label, diags);
    return errors;
}

/* ---- build ---- */

static int set_producer_options(rd_kafka_conf_t *conf, const kafka_sink_options *o,
                                sl_error *err)
{
    if (kafka_conf_set(conf, "compression.codec", compression_values[o->compression].name,
                       err) < 0 ||
        kafka_conf_set_uint(conf, "message.timeout.ms", o->message_timeout_ms, err) < 0)
        return -1;
    if (o->batch_max_events &&
        kafka_conf_set_uint(conf, "batch.num.messages", o->batch_max_events, err) < 0)
        return -1;
    if (o->batch_max_bytes && kafka_conf_set_uint(conf, "batch.size", o->batch_max_bytes, err) < 0)
        return -1;
    if (o->batch_timeout_secs > 0) {
        char ms[32];
        snprintf(ms, sizeof(ms), "%.3f", o->batch_timeout_secs * 1000.0);
        if (kafka_conf_set(conf, "queue.buffering.max.ms", ms, err) < 0)
            return -1;
    }
    return 0;
}

static int make_producer(kafka_sink *s, const kafka_sink_options *o, sl_error *err)
{
    rd_kafka_conf_t *conf = kafka_conf_new(&o->client, &s->client, err);
    if (!conf)
        return -1;
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_sink_delivery_report);
    if (set_producer_options(conf, o, err) < 0 || kafka_conf_finish(conf, &o->client, err) < 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    char why[512];
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        return sl_fail(err, "cannot make the Kafka producer: %s", why);
    }
    return 0;
}

/* A topic without fields or time specifiers is the same for every event:
 * its handle is made once. */
static int open_static_topic(kafka_sink *s, sl_error *err)
{
    if (template_is_dynamic(s->topic))
        return 0;
    value_map empty = {0};
    event e = {.type = EVENT_LOG};
    e.u.log.kind = VALUE_MAP;
    e.u.log.u.map = &empty;
    buf name = {0};
    if (template_render(s->topic, &e, &name, err) < 0)
        return -1;
    s->static_rkt = name.len ? rd_kafka_topic_new(s->rk, name.data, NULL) : NULL;
    buf_free(&name);
    return s->static_rkt ? 0 : sl_fail(err, "cannot open the topic");
}

static int parse_record_paths(kafka_sink *s, const kafka_sink_options *o, sl_error *err)
{
    if (o->key_field) {
        if (path_parse(o->key_field, &s->key_path, err) < 0)
            return -1;
        s->has_key = true;
        s->key_tag = o->key_field[0] == '.' ? o->key_field + 1 : o->key_field;
    }
    if (o->headers_key) {
        if (path_parse(o->headers_key, &s->headers_path, err) < 0)
            return -1;
        s->has_headers = true;
    }
    return 0;
}

static int kafka_build(const void *options, const component_info *info, void **state,
                       sl_error *err)
{
    const kafka_sink_options *o = options;
    kafka_sink *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    s->codec = (encoding_codec)o->codec;
    s->rate_num = o->rate_limit_num;
    s->rate_window_ns = (int64_t)o->rate_limit_duration_secs * NS_PER_SEC;
    if (encoding_fields_init(&s->fields, &o->only_fields, &o->except_fields,
                             o->timestamp_format, err) < 0) {
        kafka_sink_free(s);
        return -1;
    }
    s->healthcheck_topic = o->healthcheck_topic;
    s->client.id = info->id;
    /* validate builds sinks for their healthchecks without metrics */
    if ((info->metrics && kafka_client_init(&s->client, info->metrics, false, err) < 0) ||
        template_parse(o->topic, &s->topic, err) < 0 || parse_record_paths(s, o, err) < 0 ||
        make_producer(s, o, err) < 0 || open_static_topic(s, err) < 0) {
        kafka_sink_free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static void kafka_destroy(void *state)
{
    if (state)
        kafka_sink_free(state);
}

/* ---- healthcheck ---- */

/* A metadata request: for the healthcheck topic, else the topic when it
 * is not templated, else for no topic (which still needs a broker). */
static int kafka_healthcheck(void *state, sl_error *err)
{
    kafka_sink *s = state;
    const char *topic = s->healthcheck_topic;
    if (!topic && s->static_rkt)
        topic = rd_kafka_topic_name(s->static_rkt);
    rd_kafka_topic_t *rkt = topic ? rd_kafka_topic_new(s->rk, topic, NULL) : NULL;
    if (topic && !rkt)
        return sl_fail(err, "cannot open topic %s", topic);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(s->rk, 0, rkt, &md, HEALTHCHECK_TIMEOUT_MS);
    int rc = 0;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = sl_fail(err, "no Kafka broker answered a metadata request within %d ms: %s",
                     HEALTHCHECK_TIMEOUT_MS, rd_kafka_err2str(e));
    } else if (rkt && md->topic_cnt == 1 && md->topics[0].err &&
               md->topics[0].err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
        rc = sl_fail(err, "topic %s: %s", topic, rd_kafka_err2str(md->topics[0].err));
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return rc;
}

/* ---- run ---- */

/* Template drops count as discarded whatever happened to the rest; they
 * make the batch rejected only when some record was refused too. */
static void finish_batch(void *arg, batch *b, uint32_t rejected, uint32_t errored,
                         uint32_t dropped)
{
    sink_ctx *ctx = arg;
    if (!rejected && !errored)
        sink_done_partial(ctx, b, ACK_DELIVERED, dropped);
    else
        sink_done_mixed(ctx, b, rejected + dropped, errored);
}

static bool stop_now(void *arg)
{
    return sink_must_stop(arg);
}

static int kafka_run(void *state, sink_ctx *ctx, sl_error *err)
{
    kafka_sink *s = state;
    SL_UNUSED(err);
    kafka_sink_attach(s, finish_batch, stop_now, ctx);
    while (!s->stopping) {
        if (s->inflight >= KAFKA_MAX_INFLIGHT) {
            if (sink_must_stop(ctx))
                break;
            kafka_sink_serve(s, BUSY_WAIT_MS * 20);
            continue;
        }
        batch *b;
        queue_result q = sink_next(ctx, &b, s->inflight ? BUSY_WAIT_MS : IDLE_WAIT_MS);
        if (q == QUEUE_END)
            break;
        if (q == QUEUE_OK)
            kafka_sink_send(s, b);
        kafka_sink_serve(s, 0);
    }
    kafka_sink_drain(s);
    return 0;
}

const component_desc sink_kafka_desc = {
    .type = "kafka",
    .kind = COMPONENT_SINK,
    .summary = "Events produced to Kafka topics; a batch is delivered once every record is.",
    .options = kafka_option_table,
    .options_size = sizeof(kafka_sink_options),
    .input_types = EVENT_LOG | EVENT_METRIC,
    .check = kafka_check,
    .build = kafka_build,
    .destroy = kafka_destroy,
    .sink_run = kafka_run,
    .healthcheck = kafka_healthcheck,
};
