/* test_kafka_client.c - the settings the kafka source and sink share
 * (sources/kafka/kafka_client.c): the option table and its checks (a
 * librdkafka property librdkafka refuses fails, without showing a secret),
 * security.protocol from the sasl and tls flags, librdkafka_options applied
 * last, and librdkafka statistics turned into metrics: totals, gauges, and
 * a consumer lag that never is -1 and never names partition -1. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sources/kafka/kafka_client.h"

static const opt_spec table[] = {
    KAFKA_CLIENT_OPTIONS,
    OPT_END,
};

typedef struct fixture {
    cfg_doc *doc;
    diag_list diags;
    kafka_client_options o;
} fixture;

static size_t load(fixture *f, const char *yaml)
{
    memset(f, 0, sizeof(*f));
    f->doc = cfg_doc_parse("t.yaml", yaml, strlen(yaml), false, &f->diags);
    assert_non_null(f->doc);
    opt_target target = {table, &f->o};
    size_t errors = opt_apply(cfg_doc_root(f->doc), &target, 1, NULL, "sources.k", &f->diags);
    return errors + kafka_client_check(&f->o, "sources.k", cfg_doc_root(f->doc), &f->diags);
}

static void unload(fixture *f)
{
    opt_free(table, &f->o);
    cfg_doc_free(f->doc);
    diag_list_free(&f->diags);
}

static bool diag_says(const fixture *f, const char *text)
{
    for (size_t i = 0; i < f->diags.n; i++)
        if (strstr(f->diags.items[i].msg, text))
            return true;
    return false;
}

static void test_defaults_and_required(void **state)
{
    (void)state;
    fixture f;
    assert_int_equal(load(&f, "socket_timeout_ms: 5000\n"), 1);
    assert_true(diag_says(&f, "bootstrap_servers"));
    unload(&f);
    assert_int_equal(load(&f, "bootstrap_servers: a:9092\n"), 0);
    assert_int_equal(f.o.socket_timeout_ms, 60000);
    assert_false(f.o.sasl_enabled);
    unload(&f);
}

static void test_refused_librdkafka_option_is_named(void **state)
{
    (void)state;
    fixture f;
    assert_int_equal(load(&f, "bootstrap_servers: a:9092\n"
                              "librdkafka_options:\n"
                              "  fetch.wait.max.ms: \"100\"\n"
                              "  fetch.wiat.max.ms: \"100\"\n"
                              "  queued.min.messages: lots\n"),
                     2);
    assert_true(diag_says(&f, "librdkafka_options.fetch.wiat.max.ms"));
    assert_true(diag_says(&f, "librdkafka_options.queued.min.messages"));
    unload(&f);
}

static void test_secret_values_are_never_shown(void **state)
{
    (void)state;
    fixture f;
    assert_int_equal(load(&f, "bootstrap_servers: a:9092\n"
                              "librdkafka_options:\n"
                              "  sasl.password: [hunter2]\n"
                              "sasl:\n"
                              "  enabled: true\n"
                              "  username: u\n"),
                     2);
    assert_true(diag_says(&f, "sasl.enabled needs sasl.username and sasl.password"));
    for (size_t i = 0; i < f.diags.n; i++)
        assert_null(strstr(f.diags.items[i].msg, "hunter2"));
    unload(&f);

    sl_error err = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(kafka_conf_set(conf, "ssl.key.password", "hunter2", &err), 0);
    assert_int_equal(kafka_conf_set(conf, "fetch.wait.max.ms", "soon", &err), -1);
    assert_non_null(strstr(err.msg, "fetch.wait.max.ms=soon"));   /* not a secret: shown */
    rd_kafka_conf_destroy(conf);
}

static const char *conf_get(rd_kafka_conf_t *conf, const char *key, char *out, size_t n)
{
    return rd_kafka_conf_get(conf, key, out, &n) == RD_KAFKA_CONF_OK ? out : NULL;
}

static void test_security_protocol_and_user_options_last(void **state)
{
    (void)state;
    fixture f;
    assert_int_equal(load(&f, "bootstrap_servers: a:9092\n"
                              "socket_timeout_ms: 1234\n"
                              "sasl: {enabled: true, username: u, password: p, "
                              "mechanism: SCRAM-SHA-256}\n"
                              "librdkafka_options:\n"
                              "  client.id: mine\n"),
                     0);
    sl_error err = {0};
    kafka_client c = {0};
    rd_kafka_conf_t *conf = kafka_conf_new(&f.o, &c, &err);
    assert_non_null(conf);
    char v[256];
    assert_string_equal(conf_get(conf, "security.protocol", v, sizeof(v)), "sasl_plaintext");
    assert_string_equal(conf_get(conf, "sasl.mechanisms", v, sizeof(v)), "SCRAM-SHA-256");
    assert_string_equal(conf_get(conf, "socket.timeout.ms", v, sizeof(v)), "1234");
    assert_string_equal(conf_get(conf, "client.id", v, sizeof(v)), "sluice");
    assert_true(kafka_conf_user_sets(&f.o, "client.id"));
    assert_false(kafka_conf_user_sets(&f.o, "group.id"));
    assert_int_equal(kafka_conf_finish(conf, &f.o, &err), 0);
    assert_string_equal(conf_get(conf, "client.id", v, sizeof(v)), "mine");
    rd_kafka_conf_destroy(conf);
    unload(&f);
}

static void test_tls_pem_text_is_given_inline(void **state)
{
    (void)state;
    fixture f;
    assert_int_equal(load(&f, "bootstrap_servers: a:9092\n"
                              "tls:\n"
                              "  enabled: true\n"
                              "  verify_hostname: false\n"
                              "  ca_file: \"-----BEGIN CERTIFICATE-----\\nMIIB\\n"
                              "-----END CERTIFICATE-----\\n\"\n"),
                     0);
    sl_error err = {0};
    kafka_client c = {0};
    rd_kafka_conf_t *conf = kafka_conf_new(&f.o, &c, &err);
    assert_non_null(conf);
    char v[256];
    assert_string_equal(conf_get(conf, "security.protocol", v, sizeof(v)), "ssl");
    assert_string_equal(conf_get(conf, "ssl.endpoint.identification.algorithm", v, sizeof(v)),
                        "none");
    rd_kafka_conf_destroy(conf);
    unload(&f);

    assert_int_equal(load(&f, "bootstrap_servers: a:9092\n"
                              "tls: {enabled: true, ca_file: /nonexistent/ca.pem}\n"),
                     1);
    assert_true(diag_says(&f, "tls.ca_file: cannot read \"/nonexistent/ca.pem\""));
    unload(&f);
}

static const char stats_doc[] =
    "{\"msg_cnt\": 7, \"msg_size\": 700, \"tx\": 10, \"tx_bytes\": 1000, \"rx\": 9,"
    " \"rx_bytes\": 900, \"txmsgs\": 0, \"txmsg_bytes\": 0, \"rxmsgs\": 50, \"rxmsg_bytes\": 5000,"
    " \"topics\": {\"pets\": {\"partitions\": {"
    "  \"0\": {\"partition\": 0, \"desired\": true, \"hi_offset\": 100, \"ls_offset\": 90,"
    "         \"committed_offset\": 40, \"app_offset\": 60, \"consumer_lag\": 50},"
    "  \"1\": {\"partition\": 1, \"desired\": true, \"hi_offset\": 100, \"ls_offset\": -1,"
    "         \"committed_offset\": -1001, \"app_offset\": 100, \"consumer_lag\": -1},"
    "  \"2\": {\"partition\": 2, \"desired\": true, \"hi_offset\": -1, \"ls_offset\": -1,"
    "         \"committed_offset\": -1001, \"app_offset\": -1001, \"consumer_lag\": -1},"
    "  \"3\": {\"partition\": 3, \"desired\": false, \"hi_offset\": 100, \"ls_offset\": 100,"
    "         \"committed_offset\": 1, \"app_offset\": 1, \"consumer_lag\": 99},"
    "  \"-1\": {\"partition\": -1, \"desired\": false, \"hi_offset\": -1, \"ls_offset\": -1,"
    "         \"committed_offset\": -1001, \"app_offset\": -1001, \"consumer_lag\": -1}"
    "}}}}";

typedef struct lag_seen {
    size_t n;
    char partitions[8][8];
    double values[8];
} lag_seen;

static void collect_lag(void *ud, const char *name, metrics_type type,
                        const metrics_label *labels, size_t nlabels, double value)
{
    lag_seen *seen = ud;
    (void)type;
    if (strcmp(name, "kafka_consumer_lag") != 0 || seen->n == 8)
        return;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(labels[i].key, "partition_id") == 0)
            snprintf(seen->partitions[seen->n], sizeof(seen->partitions[0]), "%s",
                     labels[i].value);
    seen->values[seen->n++] = value;
}

static double lag_of(const lag_seen *seen, const char *partition)
{
    for (size_t i = 0; i < seen->n; i++)
        if (strcmp(seen->partitions[i], partition) == 0)
            return seen->values[i];
    return -12345;
}

static void test_statistics_become_metrics(void **state)
{
    (void)state;
    metrics_reset();
    component_metrics m;
    sl_error err = {0};
    assert_int_equal(component_metrics_init(&m, "k", "source", "kafka", &err), 0);
    kafka_client c = {0};
    assert_int_equal(kafka_client_init(&c, &m, true, &err), 0);
    assert_int_equal(kafka_client_record_stats(&c, stats_doc, strlen(stats_doc)), 0);
    assert_int_equal(kafka_client_record_stats(&c, stats_doc, strlen(stats_doc)), 0);
    assert_int_equal(metrics_counter_value(c.requests), 10);   /* a total, not added twice */
    assert_int_equal(metrics_counter_value(c.consumed), 50);
    assert_int_equal(metrics_counter_value(c.consumed_bytes), 5000);
    assert_true(metrics_gauge_value(c.queue_messages) == 7);

    lag_seen seen = {0};
    metrics_foreach(collect_lag, &seen);
    assert_int_equal(seen.n, 2);
    assert_true(lag_of(&seen, "0") == 50);    /* last stable 90 - committed 40 */
    assert_true(lag_of(&seen, "1") == 0);     /* nothing committed yet: from the position */
    assert_true(lag_of(&seen, "-1") == -12345);
    assert_true(lag_of(&seen, "3") == -12345);   /* not ours */

    assert_int_equal(kafka_client_record_stats(&c, "{\"tx\": ", 7), -1);
    assert_int_equal(kafka_client_record_stats(&c, "[1]", 3), -1);
    metrics_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_required),
        cmocka_unit_test(test_refused_librdkafka_option_is_named),
        cmocka_unit_test(test_secret_values_are_never_shown),
        cmocka_unit_test(test_security_protocol_and_user_options_last),
        cmocka_unit_test(test_tls_pem_text_is_given_inline),
        cmocka_unit_test(test_statistics_become_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
