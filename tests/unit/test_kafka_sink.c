/* test_kafka_sink.c - the `kafka` sink (sinks/kafka.c, sinks/kafka_producer.c)
 * without a runtime: its option table and checks, the records it makes
 * (key, headers, timestamp), how a final error is classified, and the
 * engine against librdkafka's in-process mock cluster: a batch finished
 * delivered only once every record is, a topic template that drops the
 * events it cannot render, a record too large rejected, records that timed
 * out while the broker was down produced again until delivered, and a
 * batch given up on as errored when the sink must stop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/component.h"
#include "pipeline/arena.h"
#include "sinks/kafka_producer.h"

#include <librdkafka/rdkafka_mock.h>

extern const component_desc sink_kafka_desc;

/* ---- options ---- */

typedef struct loaded {
    cfg_doc *doc;
    diag_list diags;
    void *o;
} loaded;

static size_t load(loaded *l, const char *yaml)
{
    memset(l, 0, sizeof(*l));
    l->doc = cfg_doc_parse("t.yaml", yaml, strlen(yaml), false, &l->diags);
    assert_non_null(l->doc);
    l->o = calloc(1, sink_kafka_desc.options_size);
    assert_non_null(l->o);
    opt_target target = {sink_kafka_desc.options, l->o};
    size_t errors = opt_apply(cfg_doc_root(l->doc), &target, 1, NULL, "sinks.k", &l->diags);
    if (errors)
        return errors;
    return sink_kafka_desc.check(l->o, "sinks.k", cfg_doc_root(l->doc), &l->diags);
}

static void unload(loaded *l)
{
    opt_free(sink_kafka_desc.options, l->o);
    free(l->o);
    cfg_doc_free(l->doc);
    diag_list_free(&l->diags);
}

static bool diag_says(const loaded *l, const char *text)
{
    for (size_t i = 0; i < l->diags.n; i++)
        if (strstr(l->diags.items[i].msg, text))
            return true;
    return false;
}

#define BASE "bootstrap_servers: localhost:9092\nencoding: {codec: json}\n"

static void test_topic_and_encoding_are_required(void **state)
{
    (void)state;
    loaded l;
    assert_int_equal(load(&l, "bootstrap_servers: localhost:9092\n"), 2);
    assert_true(diag_says(&l, "topic"));
    assert_true(diag_says(&l, "encoding"));
    unload(&l);
}

static void test_vector_options_load(void **state)
{
    (void)state;
    loaded l;
    assert_int_equal(load(&l, BASE "topic: 'logs-{{ .service }}'\nkey_field: .user\n"
                              "headers_field: .hdrs\ncompression: lz4\n"
                              "batch: {max_events: 500, max_bytes: 100000, timeout_secs: 0.5}\n"
                              "healthcheck_topic: hc\nmessage_timeout_ms: 1000\n"),
                     0);
    unload(&l);
}

static void test_bad_template_and_paths_are_errors(void **state)
{
    (void)state;
    loaded l;
    assert_int_equal(load(&l, BASE "topic: 'logs-%Q'\n"), 1);
    assert_true(diag_says(&l, "topic"));
    unload(&l);
    assert_int_equal(load(&l, BASE "topic: t\nkey_field: 'a[x'\nheaders_key: '.b.'\n"), 2);
    assert_true(diag_says(&l, "key_field"));
    assert_true(diag_says(&l, "headers_key"));
    unload(&l);
}

static void test_compression_is_an_enum(void **state)
{
    (void)state;
    loaded l;
    assert_true(load(&l, BASE "topic: t\ncompression: brotli\n") >= 1);
    assert_true(diag_says(&l, "compression"));
    unload(&l);
}

static void test_batch_settings_clash_with_librdkafka_options(void **state)
{
    (void)state;
    loaded l;
    assert_int_equal(load(&l, BASE "topic: t\nbatch: {max_bytes: 1000}\n"
                              "librdkafka_options: {batch.size: '2000'}\n"),
                     1);
    assert_true(diag_says(&l, "batch.max_bytes"));
    unload(&l);
    assert_int_equal(load(&l, BASE "topic: t\nbatch: {max_events: 10, timeout_secs: 1}\n"
                              "librdkafka_options: {batch.num.messages: '5', "
                              "queue.buffering.max.ms: '5'}\n"),
                     2);
    unload(&l);
    assert_int_equal(load(&l, BASE "topic: t\nlibrdkafka_options: {batch.size: '2000'}\n"), 0);
    unload(&l);
}

static void test_a_refused_librdkafka_option_is_an_error(void **state)
{
    (void)state;
    loaded l;
    assert_int_equal(load(&l, BASE "topic: t\nlibrdkafka_options: {no.such.thing: '1'}\n"), 1);
    assert_true(diag_says(&l, "no.such.thing"));
    unload(&l);
}

/* ---- a sink on the mock cluster ---- */

typedef struct outcome {
    int finished;
    uint32_t rejected, errored, dropped;
} outcome;

typedef struct fixture {
    loaded l;
    component_metrics metrics;
    kafka_sink *s;
    outcome out;
    bool stop;
} fixture;

static void record_finish(void *arg, batch *b, uint32_t rejected, uint32_t errored,
                          uint32_t dropped)
{
    fixture *f = arg;
    f->out.finished++;
    f->out.rejected += rejected;
    f->out.errored += errored;
    f->out.dropped += dropped;
    batch_release(b, ACK_DELIVERED);
}

static bool record_must_stop(void *arg)
{
    return ((fixture *)arg)->stop;
}

/* A sink on its own mock cluster; rdkafka_extra adds librdkafka
 * properties (", key: 'value'"). */
static fixture *start(const char *extra_yaml, const char *rdkafka_extra)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "bootstrap_servers: unused:9092\nencoding: {codec: text}\n%s"
             "librdkafka_options: {test.mock.num.brokers: '1', linger.ms: '1'%s}\n",
             extra_yaml, rdkafka_extra);
    assert_int_equal(load(&f->l, yaml), 0);
    sl_error err = {{0}};
    assert_int_equal(component_metrics_init(&f->metrics, "k", "sink", "kafka", &err), 0);
    component_info info = {.id = "k", .metrics = &f->metrics};
    void *st = NULL;
    assert_int_equal(sink_kafka_desc.build(f->l.o, &info, &st, &err), 0);
    f->s = st;
    kafka_sink_attach(f->s, record_finish, record_must_stop, f);
    return f;
}

static void stop(fixture *f)
{
    sink_kafka_desc.destroy(f->s);
    unload(&f->l);
    free(f);
}

static rd_kafka_mock_cluster_t *mock_of(fixture *f)
{
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(f->s->rk);
    assert_non_null(mc);
    return mc;
}

typedef struct line_event {
    const char *message;
    const char *service;   /* NULL: no field */
    int64_t ts_ns;
} line_event;

static batch *make_batch(const line_event *lines, size_t n)
{
    batch *b = batch_new((uint32_t)n, NULL);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        event *e = batch_push(b);
        assert_non_null(e);
        assert_int_equal(event_init_log(b->arena, e, 4), 0);
        assert_int_equal(event_log_set(b->arena, e, "message",
                                       value_bytes(lines[i].message, strlen(lines[i].message))),
                         0);
        if (lines[i].service)
            assert_int_equal(event_log_set(b->arena, e, "service",
                                           value_bytes(lines[i].service,
                                                       strlen(lines[i].service))),
                             0);
        if (lines[i].ts_ns)
            assert_int_equal(event_log_set(b->arena, e, "timestamp",
                                           value_timestamp(lines[i].ts_ns)), 0);
    }
    return b;
}

/* Serves reports until `finished` batches are, within a deadline. */
static void serve_until(fixture *f, int finished, int timeout_ms)
{
    for (int waited = 0; f->out.finished < finished && waited < timeout_ms; waited += 50)
        kafka_sink_serve(f->s, 50);
    assert_int_equal(f->out.finished, finished);
}

/* The topic's partition count, from the cluster: the producer may have
 * had the mock create it (4 partitions) before the test did. */
static int partitions_of(rd_kafka_t *c, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c, topic, NULL);
    const struct rd_kafka_metadata *md;
    assert_int_equal(rd_kafka_metadata(c, 0, rkt, &md, 5000), 0);
    assert_int_equal(md->topic_cnt, 1);
    int n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Reads every partition of topic from the start: up to `want` payloads,
 * sorted (records of different partitions come in any order). */
static size_t read_back(fixture *f, const char *topic, char out[][64], size_t want)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[256];
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers",
                                       rd_kafka_mock_cluster_bootstraps(mock_of(f)), why,
                                       sizeof(why)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "reader", why, sizeof(why)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    assert_non_null(c);
    int nparts = partitions_of(c, topic);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(c, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    size_t n = 0;
    for (int tries = 0; n < want && tries < 100; tries++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (!m->err) {
            snprintf(out[n], 64, "%.*s", (int)m->len, (const char *)m->payload);
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    qsort(out, n, 64, by_text);
    return n;
}

static void test_a_batch_is_delivered_once_every_record_is(void **state)
{
    (void)state;
    fixture *f = start("topic: t\n", "");
    rd_kafka_mock_topic_create(mock_of(f), "t", 1, 1);
    const line_event lines[] = {{"a", NULL, 0}, {"b", NULL, 0}, {"c", NULL, 0}};
    kafka_sink_send(f->s, make_batch(lines, 3));
    assert_int_equal(f->out.finished, 0);
    serve_until(f, 1, 10000);
    assert_int_equal(f->out.rejected + f->out.errored + f->out.dropped, 0);
    assert_int_equal(f->s->inflight, 0);
    char got[3][64];
    assert_int_equal(read_back(f, "t", got, 3), 3);
    assert_string_equal(got[0], "a");
    assert_string_equal(got[2], "c");
    stop(f);
}

static void test_a_topic_that_cannot_render_drops_the_event(void **state)
{
    (void)state;
    fixture *f = start("topic: 'logs-{{ service }}'\n", "");
    rd_kafka_mock_topic_create(mock_of(f), "logs-api", 1, 1);
    const line_event lines[] = {{"one", "api", 0}, {"two", NULL, 0}, {"three", "api", 0}};
    kafka_sink_send(f->s, make_batch(lines, 3));
    serve_until(f, 1, 10000);
    assert_int_equal(f->out.dropped, 1);
    assert_int_equal(f->out.rejected + f->out.errored, 0);
    char got[2][64];
    assert_int_equal(read_back(f, "logs-api", got, 2), 2);
    assert_string_equal(got[0], "one");
    assert_string_equal(got[1], "three");
    stop(f);
}

static void test_a_record_too_large_is_rejected(void **state)
{
    (void)state;
    fixture *f = start("topic: t\n", ", message.max.bytes: '1000'");
    rd_kafka_mock_topic_create(mock_of(f), "t", 1, 1);
    static char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    const line_event lines[] = {{"small", NULL, 0}, {big, NULL, 0}, {"small too", NULL, 0}};
    kafka_sink_send(f->s, make_batch(lines, 3));
    serve_until(f, 1, 10000);
    assert_int_equal(f->out.rejected, 1);
    assert_int_equal(f->out.errored + f->out.dropped, 0);
    char got[2][64];
    assert_int_equal(read_back(f, "t", got, 2), 2);
    assert_string_equal(got[0], "small");
    assert_string_equal(got[1], "small too");
    stop(f);
}

static void test_records_timed_out_are_produced_again_until_delivered(void **state)
{
    (void)state;
    fixture *f = start("topic: t\nmessage_timeout_ms: 300\n",
                       ", reconnect.backoff.ms: '10', reconnect.backoff.max.ms: '100'");
    rd_kafka_mock_cluster_t *mc = mock_of(f);
    rd_kafka_mock_topic_create(mc, "t", 1, 1);
    rd_kafka_mock_broker_set_down(mc, 1);
    const line_event lines[] = {{"a", NULL, 0}, {"b", NULL, 0}};
    kafka_sink_send(f->s, make_batch(lines, 2));
    for (int i = 0; i < 30; i++)
        kafka_sink_serve(f->s, 50);
    assert_int_equal(f->out.finished, 0);
    assert_non_null(f->s->retries);
    rd_kafka_mock_broker_set_up(mc, 1);
    serve_until(f, 1, 20000);
    assert_int_equal(f->out.rejected + f->out.errored + f->out.dropped, 0);
    char got[2][64];
    assert_int_equal(read_back(f, "t", got, 2), 2);
    assert_string_equal(got[0], "a");
    assert_string_equal(got[1], "b");
    stop(f);
}

static void test_a_sink_that_must_stop_gives_the_batch_up_as_errored(void **state)
{
    (void)state;
    fixture *f = start("topic: t\n", "");
    rd_kafka_mock_cluster_t *mc = mock_of(f);
    rd_kafka_mock_topic_create(mc, "t", 1, 1);
    rd_kafka_mock_broker_set_down(mc, 1);
    const line_event lines[] = {{"a", NULL, 0}, {"b", NULL, 0}, {"c", NULL, 0}};
    kafka_sink_send(f->s, make_batch(lines, 3));
    kafka_sink_serve(f->s, 200);
    assert_int_equal(f->out.finished, 0);
    f->stop = true;
    kafka_sink_drain(f->s);
    assert_int_equal(f->out.finished, 1);
    assert_int_equal(f->out.errored, 3);
    assert_int_equal(f->s->inflight, 0);
    stop(f);
}

/* ---- records ---- */

static void test_record_key_headers_and_timestamp(void **state)
{
    (void)state;
    fixture *f = start("topic: t\nkey_field: .user.id\nheaders_key: hdrs\n", "");
    arena *a = arena_new();
    event e;
    assert_int_equal(event_init_log(a, &e, 4), 0);
    assert_int_equal(kafka_record_key(f->s, &e), 0);
    value user = value_new_map(a, 2);
    *value_map_put(a, user.u.map, "id", 2) = value_int(42);
    assert_int_equal(event_log_set(a, &e, "user", user), 0);
    assert_int_equal(kafka_record_key(f->s, &e), 1);
    assert_int_equal(f->s->key.len, 2);
    assert_memory_equal(f->s->key.data, "42", 2);
    *value_map_put(a, user.u.map, "id", 2) = value_null();
    assert_int_equal(kafka_record_key(f->s, &e), 0);

    rd_kafka_headers_t *h;
    assert_int_equal(kafka_record_headers(f->s, &e, &h), 0);
    assert_null(h);
    value hdrs = value_new_map(a, 3);
    *value_map_put(a, hdrs.u.map, "trace", 5) = value_bytes("abc", 3);
    *value_map_put(a, hdrs.u.map, "n", 1) = value_int(7);
    *value_map_put(a, hdrs.u.map, "none", 4) = value_null();
    assert_int_equal(event_log_set(a, &e, "hdrs", hdrs), 0);
    assert_int_equal(kafka_record_headers(f->s, &e, &h), 0);
    assert_non_null(h);
    assert_int_equal(rd_kafka_header_cnt(h), 3);
    const void *v;
    size_t n;
    assert_int_equal(rd_kafka_header_get_last(h, "trace", &v, &n), 0);
    assert_memory_equal(v, "abc", 3);
    assert_int_equal(rd_kafka_header_get_last(h, "n", &v, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(v, "7", 1);
    assert_int_equal(rd_kafka_header_get_last(h, "none", &v, &n), 0);
    assert_null(v);
    rd_kafka_headers_destroy(h);

    assert_int_equal(kafka_record_timestamp_ms(&e), 0);
    assert_int_equal(event_log_set(a, &e, "timestamp", value_timestamp(1700000000123456789)), 0);
    assert_int_equal(kafka_record_timestamp_ms(&e), 1700000000123);

    event m;
    assert_int_equal(event_init_metric(a, &m, "requests", NULL), 0);
    assert_int_equal(event_metric_set_tag(a, &m, "user.id", "u-9"), 0);
    m.u.metric->has_timestamp = true;
    m.u.metric->timestamp = 5000000;
    assert_int_equal(kafka_record_timestamp_ms(&m), 5);
    assert_int_equal(kafka_record_key(f->s, &m), 1);
    assert_memory_equal(f->s->key.data, "u-9", 3);
    assert_int_equal(kafka_record_headers(f->s, &m, &h), 0);
    assert_null(h);
    arena_free(a);
    stop(f);
}

static void test_errors_are_rejections_or_retries(void **state)
{
    (void)state;
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_NO_ERROR), KAFKA_DELIVERED);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), KAFKA_REJECTED);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
                     KAFKA_REJECTED);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_INVALID_RECORD), KAFKA_REJECTED);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC), KAFKA_REJECTED);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), KAFKA_RETRY);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__TRANSPORT), KAFKA_RETRY);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION), KAFKA_RETRY);
    assert_int_equal(kafka_classify(RD_KAFKA_RESP_ERR__PURGE_QUEUE), KAFKA_RETRY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_and_encoding_are_required),
        cmocka_unit_test(test_vector_options_load),
        cmocka_unit_test(test_bad_template_and_paths_are_errors),
        cmocka_unit_test(test_compression_is_an_enum),
        cmocka_unit_test(test_batch_settings_clash_with_librdkafka_options),
        cmocka_unit_test(test_a_refused_librdkafka_option_is_an_error),
        cmocka_unit_test(test_errors_are_rejections_or_retries),
        cmocka_unit_test(test_record_key_headers_and_timestamp),
        cmocka_unit_test(test_a_batch_is_delivered_once_every_record_is),
        cmocka_unit_test(test_a_topic_that_cannot_render_drops_the_event),
        cmocka_unit_test(test_a_record_too_large_is_rejected),
        cmocka_unit_test(test_records_timed_out_are_produced_again_until_delivered),
        cmocka_unit_test(test_a_sink_that_must_stop_gives_the_batch_up_as_errored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
