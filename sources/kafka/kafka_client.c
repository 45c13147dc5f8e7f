/* kafka_client.c - the librdkafka client settings, log and statistics the
 * `kafka` source and sink share (see kafka_client.h).
 *
 * The settings follow Vector's src/kafka.rs: security.protocol from the
 * sasl and tls flags, a TLS option whose value holds a PEM block is given
 * inline (ssl.*.pem), otherwise as a file (ssl.*.location), and
 * librdkafka_options go last. Statistics arrive every second on the thread
 * that serves the handle's callbacks; they are read with jansson, as every
 * cold-path document is. */
#include "sources/kafka/kafka_client.h"
#include "pipeline/log.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const opt_spec kafka_sasl_fields[] = {
    OPT_BOOL_ROW("enabled", kafka_client_options, sasl_enabled,
        .help = "Authenticate with SASL."),
    OPT_STRING_ROW("mechanism", kafka_client_options, sasl_mechanism,
        .help = "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."),
    OPT_STRING_ROW("username", kafka_client_options, sasl_username, .help = "SASL user name."),
    OPT_STRING_ROW("password", kafka_client_options, sasl_password, .help = "SASL password."),
    OPT_END,
};

const opt_spec kafka_tls_fields[] = {
    OPT_BOOL_ROW("enabled", kafka_client_options, tls_enabled,
        .help = "Connect to the brokers with TLS."),
    OPT_STRING_ROW("ca_file", kafka_client_options, tls_ca_file,
        .help = "PEM CA certificates to verify the brokers with (a file, or the PEM text)."),
    OPT_STRING_ROW("crt_file", kafka_client_options, tls_crt_file,
        .help = "PEM client certificate (a file, or the PEM text)."),
    OPT_STRING_ROW("key_file", kafka_client_options, tls_key_file,
        .help = "PEM client key (a file, or the PEM text)."),
    OPT_STRING_ROW("key_pass", kafka_client_options, tls_key_pass,
        .help = "Passphrase of key_file."),
    OPT_BOOL_ROW("verify_certificate", kafka_client_options, tls_verify_certificate,
        .def = "true", .help = "Verify the brokers' certificates."),
    OPT_BOOL_ROW("verify_hostname", kafka_client_options, tls_verify_hostname, .def = "true",
        .help = "Check that a broker's certificate names the host connected to."),
    OPT_END,
};

static const char pem_marker[] = "-----BEGIN";

bool kafka_property_is_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, ".pem") ||
           strstr(key, "sasl.jaas") || strstr(key, "sasl.oauthbearer.config");
}

/* ---- checks ---- */

static const cfg_node *node_at(const cfg_node *node, const char *obj, const char *key)
{
    const cfg_node *o = cfg_map_get(node, obj);
    const cfg_node *at = o ? cfg_map_get(o, key) : NULL;
    return at ? at : node;
}

static size_t check_tls_file(const char *file, const char *key, const char *label,
                             const cfg_node *node, diag_list *diags)
{
    if (!file || strstr(file, pem_marker) || access(file, R_OK) == 0)
        return 0;
    diag_add(diags, DIAG_ERROR, node_at(node, "tls", key), label,
             "tls.%s: cannot read \"%s\"", key, file);
    return 1;
}

/* Each entry is tried on a scratch configuration, as librdkafka would take
 * it at start, so that a misspelled property fails `validate`. */
static size_t check_librdkafka_options(const cfg_node *map, const char *label, diag_list *diags)
{
    if (!map || map->kind == CFG_NULL)
        return 0;
    if (map->kind != CFG_MAP) {
        diag_add(diags, DIAG_ERROR, map, label,
                 "librdkafka_options: expected a map of librdkafka property to value");
        return 1;
    }
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    if (!scratch) {
        diag_add(diags, DIAG_ERROR, map, label, "out of memory");
        return 1;
    }
    size_t errors = 0;
    for (size_t i = 0; i < map->npairs; i++) {
        const cfg_node *k = map->pairs[i].key, *v = map->pairs[i].value;
        if (v->kind != CFG_SCALAR) {
            diag_add(diags, DIAG_ERROR, v, label, "librdkafka_options.%s: expected a %s, got a %s",
                     k->text, "string", cfg_kind_name(v->kind));
            errors++;
            continue;
        }
        char why[512];
        if (rd_kafka_conf_set(scratch, k->text, v->text, why, sizeof(why)) == RD_KAFKA_CONF_OK)
            continue;
        if (kafka_property_is_secret(k->text))
            diag_add(diags, DIAG_ERROR, k, label, "librdkafka_options.%s: refused by librdkafka",
                     k->text);
        else
            diag_add(diags, DIAG_ERROR, k, label, "librdkafka_options.%s: %s", k->text, why);
        errors++;
    }
    rd_kafka_conf_destroy(scratch);
    return errors;
}

size_t kafka_client_check(const kafka_client_options *o, const char *label,
                          const cfg_node *node, diag_list *diags)
{
    size_t errors = 0;
    if (o->sasl_enabled && (!o->sasl_username || !o->sasl_password)) {
        diag_add(diags, DIAG_ERROR, node_at(node, "sasl", "enabled"), label,
                 "sasl.enabled needs sasl.username and sasl.password");
        errors++;
    }
    if (o->tls_enabled) {
        errors += check_tls_file(o->tls_ca_file, "ca_file", label, node, diags);
        errors += check_tls_file(o->tls_crt_file, "crt_file", label, node, diags);
        errors += check_tls_file(o->tls_key_file, "key_file", label, node, diags);
    }
    return errors + check_librdkafka_options(o->librdkafka_options, label, diags);
}

/* ---- configuration ---- */

int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, sl_error *err)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
        return 0;
    if (kafka_property_is_secret(key))
        return sl_fail(err, "librdkafka refused %s", key);
    return sl_fail(err, "librdkafka refused %s=%s: %s", key, value, why);
}

int kafka_conf_set_uint(rd_kafka_conf_t *conf, const char *key, uint64_t value, sl_error *err)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRIu64, value);
    return kafka_conf_set(conf, key, text, err);
}

bool kafka_conf_user_sets(const kafka_client_options *o, const char *key)
{
    const cfg_node *map = o->librdkafka_options;
    return map && map->kind == CFG_MAP && cfg_map_get(map, key);
}

/* librdkafka's syslog levels to sluice's. */
static slog_level level_of(int syslog_level)
{
    if (syslog_level <= 3)
        return SLOG_ERROR;
    if (syslog_level == 4)
        return SLOG_WARN;
    if (syslog_level <= 6)
        return SLOG_INFO;
    return SLOG_DEBUG;
}

static void log_line(const rd_kafka_t *rk, int level, const char *facility, const char *text)
{
    const kafka_client *c = rd_kafka_opaque(rk);
    slog_level l = level_of(level);
    if (slog_enabled(l))
        slog(l, c ? c->id : NULL, "librdkafka: %s: %s", facility, text);
}

static int stats_arrived(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    SL_UNUSED(rk);
    kafka_client_record_stats(opaque, json, len);
    return 0;   /* librdkafka frees json */
}

static int set_tls_file(rd_kafka_conf_t *conf, const char *what, const char *value,
                        sl_error *err)
{
    if (!value)
        return 0;
    char key[64];
    snprintf(key, sizeof(key), "ssl.%s.%s", what, strstr(value, pem_marker) ? "pem" : "location");
    return kafka_conf_set(conf, key, value, err);
}

static int set_security(rd_kafka_conf_t *conf, const kafka_client_options *o, sl_error *err)
{
    static const char *const protocols[2][2] = {
        {"plaintext", "ssl"},
        {"sasl_plaintext", "sasl_ssl"},
    };
    if (kafka_conf_set(conf, "security.protocol", protocols[o->sasl_enabled][o->tls_enabled],
                       err) < 0)
        return -1;
    if (o->sasl_enabled &&
        ((o->sasl_username && kafka_conf_set(conf, "sasl.username", o->sasl_username, err) < 0) ||
         (o->sasl_password && kafka_conf_set(conf, "sasl.password", o->sasl_password, err) < 0) ||
         (o->sasl_mechanism && kafka_conf_set(conf, "sasl.mechanism", o->sasl_mechanism, err) < 0)))
        return -1;
    if (!o->tls_enabled)
        return 0;
    if (kafka_conf_set(conf, "enable.ssl.certificate.verification",
                       o->tls_verify_certificate ? "true" : "false", err) < 0 ||
        kafka_conf_set(conf, "ssl.endpoint.identification.algorithm",
                       o->tls_verify_hostname ? "https" : "none", err) < 0)
        return -1;
    if (set_tls_file(conf, "ca", o->tls_ca_file, err) < 0 ||
        set_tls_file(conf, "certificate", o->tls_crt_file, err) < 0 ||
        set_tls_file(conf, "key", o->tls_key_file, err) < 0)
        return -1;
    return o->tls_key_pass ? kafka_conf_set(conf, "ssl.key.password", o->tls_key_pass, err) : 0;
}

rd_kafka_conf_t *kafka_conf_new(const kafka_client_options *o, kafka_client *c, sl_error *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        sl_fail(err, "out of memory");
        return NULL;
    }
    if (kafka_conf_set(conf, "bootstrap.servers", o->bootstrap_servers, err) < 0 ||
        kafka_conf_set_uint(conf, "socket.timeout.ms", o->socket_timeout_ms, err) < 0 ||
        kafka_conf_set(conf, "client.id", "sluice", err) < 0 ||
        kafka_conf_set(conf, "statistics.interval.ms", "1000", err) < 0 ||
        set_security(conf, o, err) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_log_cb(conf, log_line);
    rd_kafka_conf_set_stats_cb(conf, stats_arrived);
    return conf;
}

int kafka_conf_finish(rd_kafka_conf_t *conf, const kafka_client_options *o, sl_error *err)
{
    const cfg_node *map = o->librdkafka_options;
    if (!map || map->kind != CFG_MAP)
        return 0;
    for (size_t i = 0; i < map->npairs; i++)
        if (kafka_conf_set(conf, map->pairs[i].key->text, map->pairs[i].value->text, err) < 0)
            return -1;
    return 0;
}

/* ---- metrics ---- */

int kafka_client_init(kafka_client *c, const component_metrics *m, bool lag_metric,
                      sl_error *err)
{
    static const struct {
        size_t offset;
        const char *name;
        metrics_type type;
        const char *help;
    } series[] = {
        {offsetof(kafka_client, queue_messages), "kafka_queue_messages", METRICS_GAUGE,
         "Messages in librdkafka's queues."},
        {offsetof(kafka_client, queue_bytes), "kafka_queue_messages_bytes", METRICS_GAUGE,
         "Bytes of the messages in librdkafka's queues."},
        {offsetof(kafka_client, requests), "kafka_requests_total", METRICS_COUNTER,
         "Requests sent to the brokers."},
        {offsetof(kafka_client, request_bytes), "kafka_requests_bytes_total", METRICS_COUNTER,
         "Bytes sent to the brokers."},
        {offsetof(kafka_client, responses), "kafka_responses_total", METRICS_COUNTER,
         "Responses received from the brokers."},
        {offsetof(kafka_client, response_bytes), "kafka_responses_bytes_total", METRICS_COUNTER,
         "Bytes received from the brokers."},
        {offsetof(kafka_client, produced), "kafka_produced_messages_total", METRICS_COUNTER,
         "Messages sent to the brokers."},
        {offsetof(kafka_client, produced_bytes), "kafka_produced_messages_bytes_total",
         METRICS_COUNTER, "Payload bytes of the messages sent to the brokers."},
        {offsetof(kafka_client, consumed), "kafka_consumed_messages_total", METRICS_COUNTER,
         "Messages received from the brokers."},
        {offsetof(kafka_client, consumed_bytes), "kafka_consumed_messages_bytes_total",
         METRICS_COUNTER, "Payload bytes of the messages received from the brokers."},
    };
    c->id = m->id;
    c->metrics = m;
    c->lag_metric = lag_metric;
    for (size_t i = 0; i < SL_ARRAY_LEN(series); i++) {
        metrics_series **slot = (metrics_series **)((char *)c + series[i].offset);
        *slot = component_metrics_extra(m, series[i].name, series[i].type, series[i].help);
        if (!*slot)
            return sl_fail(err, "cannot register %s", series[i].name);
    }
    return 0;
}

static int64_t int_member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* librdkafka's counters are totals since the handle started; ours only
 * add, so each document adds what grew since the last one. */
static void set_total(metrics_series *s, int64_t total)
{
    uint64_t now = metrics_counter_value(s);
    if (total > 0 && (uint64_t)total > now)
        metrics_add(s, (uint64_t)total - now);
}

/* A partition's lag: its end (the last stable offset under read_committed,
 * else the high watermark) minus the group's committed offset, or, before
 * the group committed anything, minus the position the consumer reads
 * from. Partitions this client does not consume, and offsets librdkafka
 * does not know yet, give no value rather than Vector's -1. */
static bool partition_lag(const json_t *p, int64_t *lag)
{
    if (!json_is_true(json_object_get(p, "desired")))
        return false;
    int64_t end = int_member(p, "ls_offset");
    if (end < 0)
        end = int_member(p, "hi_offset");
    int64_t base = int_member(p, "committed_offset");
    if (base < 0)
        base = int_member(p, "app_offset");
    if (end < 0 || base < 0)
        return false;
    *lag = end > base ? end - base : 0;
    return true;
}

static void record_partition_lag(const kafka_client *c, const char *topic, const json_t *p)
{
    int64_t id = int_member(p, "partition"), lag;
    if (id < 0 || !partition_lag(p, &lag))
        return;
    char pid[24];
    snprintf(pid, sizeof(pid), "%" PRId64, id);
    const metrics_label labels[] = {
        {"component_id", c->metrics->id},
        {"component_kind", c->metrics->kind},
        {"component_type", c->metrics->type},
        {"topic_id", topic},
        {"partition_id", pid},
    };
    metrics_set(metrics_gauge("kafka_consumer_lag", "Messages the group has not committed yet.",
                              labels, SL_ARRAY_LEN(labels)),
                (double)lag);
}

static void record_lag(const kafka_client *c, const json_t *doc)
{
    const char *topic;
    json_t *t;
    json_object_foreach(json_object_get(doc, "topics"), topic, t) {
        const char *key;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), key, p)
            record_partition_lag(c, topic, p);
    }
}

int kafka_client_record_stats(kafka_client *c, const char *json, size_t len)
{
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return -1;
    }
    int64_t v;
    if ((v = int_member(doc, "msg_cnt")) >= 0)
        metrics_set(c->queue_messages, (double)v);
    if ((v = int_member(doc, "msg_size")) >= 0)
        metrics_set(c->queue_bytes, (double)v);
    set_total(c->requests, int_member(doc, "tx"));
    set_total(c->request_bytes, int_member(doc, "tx_bytes"));
    set_total(c->responses, int_member(doc, "rx"));
    set_total(c->response_bytes, int_member(doc, "rx_bytes"));
    set_total(c->produced, int_member(doc, "txmsgs"));
    set_total(c->produced_bytes, int_member(doc, "txmsg_bytes"));
    set_total(c->consumed, int_member(doc, "rxmsgs"));
    set_total(c->consumed_bytes, int_member(doc, "rxmsg_bytes"));
    if (c->lag_metric)
        record_lag(c, doc);
    json_decref(doc);
    return 0;
}
