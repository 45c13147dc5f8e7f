/* kafka_client.h - what the `kafka` source and the `kafka` sink share: the
 * client options Vector gives both (bootstrap_servers, socket_timeout_ms,
 * sasl, tls, librdkafka_options), the librdkafka configuration made from
 * them, librdkafka's log lines written through sluice's log, and its
 * statistics turned into Vector's kafka_* metrics.
 *
 * Both components embed a kafka_client_options first in their options
 * struct and list KAFKA_CLIENT_OPTIONS in their table, so the keys, defaults
 * and errors are the same. At run time each owns a kafka_client, which must
 * be the first member of the state it gives librdkafka as opaque: the log
 * and statistics callbacks find it there. */
#ifndef SLUICE_KAFKA_CLIENT_H
#define SLUICE_KAFKA_CLIENT_H

#include "pipeline/common.h"
#include "pipeline/metrics.h"
#include "config/options.h"

#include <librdkafka/rdkafka.h>

typedef struct kafka_client_options {
    char *bootstrap_servers;
    uint64_t socket_timeout_ms;
    bool sasl_enabled;
    char *sasl_mechanism, *sasl_username, *sasl_password;
    bool tls_enabled;
    char *tls_ca_file, *tls_crt_file, *tls_key_file, *tls_key_pass;
    bool tls_verify_certificate, tls_verify_hostname;
    const cfg_node *librdkafka_options;   /* a map of librdkafka name -> value */
} kafka_client_options;

extern const opt_spec kafka_sasl_fields[];
extern const opt_spec kafka_tls_fields[];

#define KAFKA_CLIENT_OPTIONS                                                             \
    OPT_STRING_ROW("bootstrap_servers", kafka_client_options, bootstrap_servers,         \
        .required = true, .nonempty = true,                                              \
        .help = "Brokers to connect to first: a comma-separated list of host:port."),    \
    OPT_UINT_ROW("socket_timeout_ms", kafka_client_options, socket_timeout_ms,           \
        .def = "60000", OPT_RANGE(10, 300000), .unit = "milliseconds",                   \
        .help = "Timeout of network requests to the brokers."),                          \
    OPT_OBJECT_ROW("sasl", kafka_sasl_fields,                                            \
        .help = "enabled, mechanism, username, password (PLAIN and SCRAM; other "        \
                "mechanisms through librdkafka_options)."),                              \
    OPT_OBJECT_ROW("tls", kafka_tls_fields,                                              \
        .help = "enabled, ca_file, crt_file, key_file, key_pass, verify_certificate, "   \
                "verify_hostname."),                                                     \
    OPT_NODE_ROW("librdkafka_options", kafka_client_options, librdkafka_options,         \
        .help = "librdkafka settings by their own names, applied last (they override "   \
                "everything sluice sets).")

/* Problems the table cannot see: unreadable TLS files, a librdkafka_options
 * entry librdkafka refuses (tried on a scratch configuration, so a typo is
 * found by `validate`). Secret values are never echoed. Returns the count. */
size_t kafka_client_check(const kafka_client_options *o, const char *label,
                          const cfg_node *node, diag_list *diags);

/* What a running component keeps for its librdkafka handle. */
typedef struct kafka_client {
    const char *id;                     /* the component's id, borrowed */
    const component_metrics *metrics;   /* borrowed */
    bool lag_metric;                    /* write kafka_consumer_lag */
    metrics_series *queue_messages, *queue_bytes;
    metrics_series *requests, *request_bytes, *responses, *response_bytes;
    metrics_series *produced, *produced_bytes, *consumed, *consumed_bytes;
} kafka_client;

int kafka_client_init(kafka_client *c, const component_metrics *m, bool lag_metric,
                      sl_error *err);

/* A configuration with the client options (not librdkafka_options yet),
 * the log and statistics callbacks, and c as the handle's opaque: c is the
 * first member of the component's state, which callbacks get back with
 * rd_kafka_opaque(). The caller adds its own settings, then
 * kafka_conf_finish. NULL on error. */
rd_kafka_conf_t *kafka_conf_new(const kafka_client_options *o, kafka_client *c, sl_error *err);
/* Sets one property; the error names it (and its value unless secret). */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, sl_error *err);
int kafka_conf_set_uint(rd_kafka_conf_t *conf, const char *key, uint64_t value, sl_error *err);
/* Applies librdkafka_options, last, so the user's settings win. */
int kafka_conf_finish(rd_kafka_conf_t *conf, const kafka_client_options *o, sl_error *err);
/* Whether librdkafka_options sets `key` (the user's value wins over ours). */
bool kafka_conf_user_sets(const kafka_client_options *o, const char *key);

/* Records one statistics document (librdkafka's JSON): the kafka_* gauges
 * and counters, and kafka_consumer_lag per partition this client consumes.
 * -1 when the document cannot be read (nothing is recorded then). */
int kafka_client_record_stats(kafka_client *c, const char *json, size_t len);

/* Whether a librdkafka property holds a secret (its value is never shown). */
bool kafka_property_is_secret(const char *key);

#endif
