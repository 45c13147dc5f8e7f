/* test_datadog_metrics.c - what the datadog_metrics sink sends: the
 * normalizer (absolute counters as deltas per series, resets, incremental
 * gauges made absolute, set counting, what is refused) and the series and
 * distribution encoders, byte for byte against the shapes of Datadog's
 * spec (openapi-v2.yaml MetricSeries, openapi-v1.yaml
 * DistributionPointsSeries) as Vector fills them (src/sinks/datadog/
 * metrics/encoder.rs and its tests: encode_tags, encode_timestamp). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/arena.h"
#include "pipeline/json.h"
#include "sinks/datadog.h"
#include "sinks/datadog_series.h"

/* 2018-11-14T08:09:10.000000011Z, Vector's test timestamp: 1542182950 s. */
#define TS_NS 1542182950000000011LL
#define TS_S "1542182950"
#define NOW_S 1700000000

static int setup(void **state)
{
    *state = arena_new();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

/* A metric named `name` (namespace ns, may be NULL) with tags given as
 * "key=value" or "key" (bare), NULL-terminated, at TS_NS. */
static event make_metric(arena *a, const char *ns, const char *name, uint8_t type, int kind,
                         ...)
{
    event e;
    assert_int_equal(event_init_metric(a, &e, name, ns), 0);
    e.u.metric->type = type;
    e.u.metric->kind = (uint8_t)kind;
    e.u.metric->has_timestamp = true;
    e.u.metric->timestamp = TS_NS;
    va_list ap;
    va_start(ap, kind);
    for (const char *tag; (tag = va_arg(ap, const char *));) {
        char key[64];
        const char *eq = strchr(tag, '=');
        size_t klen = eq ? (size_t)(eq - tag) : strlen(tag);
        memcpy(key, tag, klen);
        key[klen] = '\0';
        assert_int_equal(event_metric_set_tag(a, &e, key, eq ? eq + 1 : NULL), 0);
    }
    va_end(ap);
    return e;
}

static event counter(arena *a, const char *name, uint8_t kind, double v)
{
    event e = make_metric(a, NULL, name, METRIC_COUNTER, kind, NULL);
    e.u.metric->v.counter = v;
    return e;
}

static dd_metrics_encoder *encoder(const char *default_namespace, uint32_t interval)
{
    dd_metrics_format f = {default_namespace, interval};
    dd_metrics_encoder *enc = dd_metrics_encoder_new(&f);
    assert_non_null(enc);
    return enc;
}

/* Normalizes then encodes m as the sink does; returns heap text. */
static char *encode_one(dd_metrics_encoder *enc, const metric *m)
{
    dd_normalizer *n = dd_normalizer_new();
    assert_non_null(n);
    double val;
    sl_error err;
    if (dd_normalize(n, m, &val, &err) != 0)
        fail_msg("normalize: %s", err.msg);
    dd_normalizer_free(n);
    buf b = BUF_INIT;
    int rc = dd_metrics_route_of(m) == DD_ROUTE_SERIES
                 ? dd_series_encode(enc, m, val, NOW_S, &b, &err)
                 : dd_distribution_encode(enc, m, NOW_S, &b, &err);
    if (rc < 0)
        fail_msg("encode: %s", err.msg);
    assert_int_equal(buf_reserve(&b, 0), 0);
    return buf_detach(&b);
}

static void assert_encodes(dd_metrics_encoder *enc, const event *e, const char *want)
{
    char *got = encode_one(enc, e->u.metric);
    assert_string_equal(got, want);
    free(got);
}

/* ---- series encoding ---- */

static void test_incremental_counter_is_a_count_with_the_flush_interval(void **state)
{
    dd_metrics_encoder *enc = encoder(NULL, 2);
    event e = counter(*state, "requests", METRIC_INCREMENTAL, 1.5);
    assert_encodes(enc, &e,
                   "{\"metric\":\"requests\",\"type\":1,\"interval\":2,"
                   "\"points\":[{\"timestamp\":" TS_S ",\"value\":1.5}]}");
    /* A counter's own interval wins (whole seconds, as Vector divides). */
    e.u.metric->interval_ms = 10000;
    assert_encodes(enc, &e,
                   "{\"metric\":\"requests\",\"type\":1,\"interval\":10,"
                   "\"points\":[{\"timestamp\":" TS_S ",\"value\":1.5}]}");
    e.u.metric->interval_ms = 250;
    assert_encodes(enc, &e,
                   "{\"metric\":\"requests\",\"type\":1,\"interval\":1,"
                   "\"points\":[{\"timestamp\":" TS_S ",\"value\":1.5}]}");
    dd_metrics_encoder_free(enc);
}

static void test_gauge_is_type_3_without_interval_unless_it_has_one(void **state)
{
    dd_metrics_encoder *enc = encoder(NULL, 2);
    event e = make_metric(*state, NULL, "load", METRIC_GAUGE, METRIC_ABSOLUTE, NULL);
    e.u.metric->v.gauge = 0.7;
    assert_encodes(enc, &e,
                   "{\"metric\":\"load\",\"type\":3,"
                   "\"points\":[{\"timestamp\":" TS_S ",\"value\":0.7}]}");
    e.u.metric->interval_ms = 10000;
    e.u.metric->v.gauge = 3;
    assert_encodes(enc, &e,
                   "{\"metric\":\"load\",\"type\":3,\"interval\":10,"
                   "\"points\":[{\"timestamp\":" TS_S ",\"value\":3.0}]}");
    dd_metrics_encoder_free(enc);
}

static void test_tags_sorted_as_strings_bare_tags_and_host_resource(void **state)
{
    dd_metrics_encoder *enc = encoder(NULL, 2);
    /* Sorted as "key:value" strings, like Vector's encode_tags: "a.b:x"
     * before "a:y" although key "a" sorts before key "a.b". */
    event e = make_metric(*state, NULL, "load", METRIC_GAUGE, METRIC_ABSOLUTE, "true_tag=true",
                          "normal_tag=value", "empty_tag", "host=web-1", "a=y", "a.b=x",
                          "quote=say \"hi\"", NULL);
    e.u.metric->v.gauge = 1;
    assert_encodes(enc, &e,
                   "{\"metric\":\"load\",\"type\":3,"
                   "\"points\":[{\"timestamp\":" TS_S ",\"value\":1.0}],"
                   "\"tags\":[\"a.b:x\",\"a:y\",\"empty_tag\",\"normal_tag:value\","
                   "\"quote:say \\\"hi\\\"\",\"true_tag:true\"],"
                   "\"resources\":[{\"name\":\"web-1\",\"type\":\"host\"}]}");
    /* A host tag alone: a resource and no tags. */
    event h = make_metric(*state, NULL, "up", METRIC_GAUGE, METRIC_ABSOLUTE, "host=db", NULL);
    h.u.metric->v.gauge = 1;
    assert_encodes(enc, &h,
                   "{\"metric\":\"up\",\"type\":3,"
                   "\"points\":[{\"timestamp\":" TS_S ",\"value\":1.0}],"
                   "\"resources\":[{\"name\":\"db\",\"type\":\"host\"}]}");
    dd_metrics_encoder_free(enc);
}

static void test_namespaces(void **state)
{
    dd_metrics_encoder *plain = encoder(NULL, 2);
    dd_metrics_encoder *with_default = encoder("svc", 2);
    event own = make_metric(*state, "app", "hits", METRIC_GAUGE, METRIC_ABSOLUTE, NULL);
    event none = make_metric(*state, NULL, "hits", METRIC_GAUGE, METRIC_ABSOLUTE, NULL);
    own.u.metric->v.gauge = none.u.metric->v.gauge = 1;
    const char *rest = ",\"type\":3,\"points\":[{\"timestamp\":" TS_S ",\"value\":1.0}]}";
    char want[256];
    snprintf(want, sizeof(want), "{\"metric\":\"app.hits\"%s", rest);
    assert_encodes(plain, &own, want);
    assert_encodes(with_default, &own, want);   /* the metric's own wins */
    snprintf(want, sizeof(want), "{\"metric\":\"svc.hits\"%s", rest);
    assert_encodes(with_default, &none, want);
    snprintf(want, sizeof(want), "{\"metric\":\"hits\"%s", rest);
    assert_encodes(plain, &none, want);
    dd_metrics_encoder_free(plain);
    dd_metrics_encoder_free(with_default);
}

static void test_set_is_a_gauge_of_distinct_values(void **state)
{
    dd_metrics_encoder *enc = encoder(NULL, 2);
    event e = make_metric(*state, NULL, "users", METRIC_SET, METRIC_INCREMENTAL, NULL);
    static const char *values[] = {"bob", "alice", "bob", "carol", "alice"};
    e.u.metric->v.set.values = values;
    e.u.metric->v.set.n = 5;
    assert_encodes(enc, &e,
                   "{\"metric\":\"users\",\"type\":3,"
                   "\"points\":[{\"timestamp\":" TS_S ",\"value\":3.0}]}");
    e.u.metric->v.set.n = 0;
    assert_encodes(enc, &e,
                   "{\"metric\":\"users\",\"type\":3,"
                   "\"points\":[{\"timestamp\":" TS_S ",\"value\":0.0}]}");
    dd_metrics_encoder_free(enc);
}

static void test_timestamps_in_whole_seconds(void **state)
{
    dd_metrics_encoder *enc = encoder(NULL, 2);
    event e = counter(*state, "c", METRIC_INCREMENTAL, 1);
    e.u.metric->timestamp = -1500000000LL;   /* 1969-12-31T23:59:58.5Z */
    assert_encodes(enc, &e,
                   "{\"metric\":\"c\",\"type\":1,\"interval\":2,"
                   "\"points\":[{\"timestamp\":-2,\"value\":1.0}]}");
    e.u.metric->has_timestamp = false;   /* stamped with now */
    assert_encodes(enc, &e,
                   "{\"metric\":\"c\",\"type\":1,\"interval\":2,"
                   "\"points\":[{\"timestamp\":1700000000,\"value\":1.0}]}");
    dd_metrics_encoder_free(enc);
}

/* ---- distributions ---- */

static void test_distribution_points_repeat_samples_by_rate(void **state)
{
    dd_metrics_encoder *enc = encoder("web", 2);
    event e = make_metric(*state, NULL, "latency", METRIC_DISTRIBUTION, METRIC_INCREMENTAL,
                          "host=web-1", "env=prod", "canary", NULL);
    metric_sample samples[] = {{1.0, 2}, {2.5, 1}, {9.0, 0}};
    e.u.metric->v.dist.samples = samples;
    e.u.metric->v.dist.n = 3;
    assert_int_equal(dd_metrics_route_of(e.u.metric), DD_ROUTE_DISTRIBUTION);
    assert_encodes(enc, &e,
                   "{\"metric\":\"web.latency\",\"points\":[[" TS_S ",[1.0,1.0,2.5]]],"
                   "\"tags\":[\"canary\",\"env:prod\"],\"host\":\"web-1\","
                   "\"type\":\"distribution\"}");
    dd_metrics_encoder_free(enc);
}

static void test_distribution_without_samples_sends_nothing(void **state)
{
    dd_normalizer *n = dd_normalizer_new();
    event e = make_metric(*state, NULL, "latency", METRIC_DISTRIBUTION, METRIC_INCREMENTAL,
                          NULL);
    metric_sample samples[] = {{1.0, 0}};
    e.u.metric->v.dist.samples = samples;
    e.u.metric->v.dist.n = 1;
    double v;
    sl_error err;
    assert_int_equal(dd_normalize(n, e.u.metric, &v, &err), 1);
    e.u.metric->v.dist.n = 0;
    assert_int_equal(dd_normalize(n, e.u.metric, &v, &err), 1);
    dd_normalizer_free(n);
}

static void test_routes(void **state)
{
    event c = counter(*state, "c", METRIC_INCREMENTAL, 1);
    assert_int_equal(dd_metrics_route_of(c.u.metric), DD_ROUTE_SERIES);
    c.u.metric->type = METRIC_GAUGE;
    assert_int_equal(dd_metrics_route_of(c.u.metric), DD_ROUTE_SERIES);
    c.u.metric->type = METRIC_SET;
    assert_int_equal(dd_metrics_route_of(c.u.metric), DD_ROUTE_SERIES);
}

/* ---- normalization ---- */

/* dd_normalize's answer for m, and the value in *v. */
static int normalize(dd_normalizer *n, const event *e, double *v)
{
    sl_error err = {{0}};
    int rc = dd_normalize(n, e->u.metric, v, &err);
    if (rc < 0)
        fail_msg("normalize: %s", err.msg);
    return rc;
}

static void test_absolute_counter_becomes_deltas_with_resets(void **state)
{
    dd_normalizer *n = dd_normalizer_new();
    double v;
    event e = counter(*state, "total", METRIC_ABSOLUTE, 10);
    assert_int_equal(normalize(n, &e, &v), 1);   /* first sample: reference only */
    e.u.metric->v.counter = 15;
    assert_int_equal(normalize(n, &e, &v), 0);
    assert_true(v == 5);
    e.u.metric->v.counter = 15;
    assert_int_equal(normalize(n, &e, &v), 0);
    assert_true(v == 0);
    e.u.metric->v.counter = 22.5;
    assert_int_equal(normalize(n, &e, &v), 0);
    assert_true(v == 7.5);
    /* Lower than the last: a reset, the new reference, nothing sent. */
    e.u.metric->v.counter = 3;
    assert_int_equal(normalize(n, &e, &v), 1);
    e.u.metric->v.counter = 5;
    assert_int_equal(normalize(n, &e, &v), 0);
    assert_true(v == 2);
    assert_int_equal(dd_normalizer_size(n), 1);
    dd_normalizer_free(n);
}

static void test_incremental_counter_passes_through_without_state(void **state)
{
    dd_normalizer *n = dd_normalizer_new();
    double v;
    event e = counter(*state, "hits", METRIC_INCREMENTAL, 4);
    assert_int_equal(normalize(n, &e, &v), 0);
    assert_true(v == 4);
    assert_int_equal(normalize(n, &e, &v), 0);
    assert_true(v == 4);
    assert_int_equal(dd_normalizer_size(n), 0);
    dd_normalizer_free(n);
}

static void test_series_identity_is_type_namespace_name_and_tags(void **state)
{
    arena *a = *state;
    dd_normalizer *n = dd_normalizer_new();
    double v;
    event series[] = {
        make_metric(a, NULL, "req", METRIC_COUNTER, METRIC_ABSOLUTE, "code=200", NULL),
        make_metric(a, NULL, "req", METRIC_COUNTER, METRIC_ABSOLUTE, "code=500", NULL),
        make_metric(a, NULL, "req", METRIC_COUNTER, METRIC_ABSOLUTE, "code=200", "host=b", NULL),
        make_metric(a, NULL, "req", METRIC_COUNTER, METRIC_ABSOLUTE, "code", NULL),
        make_metric(a, NULL, "req", METRIC_COUNTER, METRIC_ABSOLUTE, "code=", NULL),
        make_metric(a, "ns", "req", METRIC_COUNTER, METRIC_ABSOLUTE, "code=200", NULL),
        make_metric(a, NULL, "req2", METRIC_COUNTER, METRIC_ABSOLUTE, "code=200", NULL),
        make_metric(a, NULL, "req", METRIC_COUNTER, METRIC_ABSOLUTE, NULL),
    };
    size_t k = sizeof(series) / sizeof(series[0]);
    for (size_t i = 0; i < k; i++) {
        series[i].u.metric->v.counter = 100.0 * (double)i;
        assert_int_equal(normalize(n, &series[i], &v), 1);   /* each one new */
    }
    assert_int_equal(dd_normalizer_size(n), k);
    for (size_t i = 0; i < k; i++) {
        series[i].u.metric->v.counter += (double)i + 1;
        assert_int_equal(normalize(n, &series[i], &v), 0);
        assert_true(v == (double)i + 1);
    }
    /* An incremental gauge of the same name keeps a state of its own. */
    event g = make_metric(a, NULL, "req", METRIC_GAUGE, METRIC_INCREMENTAL, "code=200", NULL);
    g.u.metric->v.gauge = 2;
    assert_int_equal(normalize(n, &g, &v), 0);
    assert_true(v == 2);
    assert_int_equal(dd_normalizer_size(n), k + 1);
    dd_normalizer_free(n);
}

static void test_many_series_survive_table_growth(void **state)
{
    dd_normalizer *n = dd_normalizer_new();
    double v;
    char name[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 1000; i++) {
            snprintf(name, sizeof(name), "m%d", i);
            event e = counter(*state, name, METRIC_ABSOLUTE, i + round * 3.0);
            int rc = normalize(n, &e, &v);
            assert_int_equal(rc, round == 0 ? 1 : 0);
            if (round)
                assert_true(v == 3.0);
        }
    }
    assert_int_equal(dd_normalizer_size(n), 1000);
    dd_normalizer_free(n);
}

static void test_gauges_are_sent_absolute(void **state)
{
    dd_normalizer *n = dd_normalizer_new();
    double v;
    event g = make_metric(*state, NULL, "queue", METRIC_GAUGE, METRIC_INCREMENTAL, NULL);
    double deltas[] = {1, 2, -0.5};
    double totals[] = {1, 3, 2.5};
    for (size_t i = 0; i < 3; i++) {
        g.u.metric->v.gauge = deltas[i];
        assert_int_equal(normalize(n, &g, &v), 0);
        assert_true(v == totals[i]);
    }
    g.u.metric->kind = METRIC_ABSOLUTE;
    g.u.metric->v.gauge = 42;
    assert_int_equal(normalize(n, &g, &v), 0);
    assert_true(v == 42);
    dd_normalizer_free(n);
}

static void assert_refused(dd_normalizer *n, const event *e, const char *words)
{
    double v;
    sl_error err = {{0}};
    assert_int_equal(dd_normalize(n, e->u.metric, &v, &err), -1);
    if (!strstr(err.msg, words))
        fail_msg("error \"%s\" does not say \"%s\"", err.msg, words);
}

static void test_what_datadog_cannot_take_is_refused(void **state)
{
    arena *a = *state;
    dd_normalizer *n = dd_normalizer_new();
    event h = make_metric(a, NULL, "h", METRIC_AGGREGATED_HISTOGRAM, METRIC_ABSOLUTE, NULL);
    assert_refused(n, &h, "no type");
    event s = make_metric(a, NULL, "s", METRIC_AGGREGATED_SUMMARY, METRIC_ABSOLUTE, NULL);
    assert_refused(n, &s, "no type");
    event d = make_metric(a, NULL, "d", METRIC_DISTRIBUTION, METRIC_ABSOLUTE, NULL);
    assert_refused(n, &d, "absolute distribution");
    metric_sample huge = {1.0, 4000000000u};
    d.u.metric->kind = METRIC_INCREMENTAL;
    d.u.metric->v.dist.samples = &huge;
    d.u.metric->v.dist.n = 1;
    assert_refused(n, &d, "can't fit");
    event c = counter(a, "c", METRIC_INCREMENTAL, NAN);
    assert_refused(n, &c, "finite");
    event g = make_metric(a, NULL, "g", METRIC_GAUGE, METRIC_ABSOLUTE, NULL);
    g.u.metric->v.gauge = INFINITY;
    assert_refused(n, &g, "finite");
    assert_int_equal(dd_normalizer_size(n), 0);
    dd_normalizer_free(n);
}

/* ---- a whole body ---- */

static void test_body_parses_and_matches_spec_example_shape(void **state)
{
    arena *a = *state;
    dd_metrics_encoder *enc = encoder(NULL, 2);
    event e = make_metric(a, NULL, "system.load.1", METRIC_GAUGE, METRIC_ABSOLUTE,
                          "host=dummyhost", NULL);
    e.u.metric->v.gauge = 0.7;
    e.u.metric->timestamp = 1475317847000000000LL;
    buf body = BUF_INIT;
    sl_error err;
    assert_int_equal(buf_append_str(&body, "{\"series\":["), 0);
    assert_int_equal(dd_series_encode(enc, e.u.metric, 0.7, NOW_S, &body, &err), 0);
    assert_int_equal(buf_append_str(&body, "]}"), 0);
    /* series_v2_request_example.json, with the gauge type written out. */
    assert_string_equal(body.data,
                        "{\"series\":[{\"metric\":\"system.load.1\",\"type\":3,"
                        "\"points\":[{\"timestamp\":1475317847,\"value\":0.7}],"
                        "\"resources\":[{\"name\":\"dummyhost\",\"type\":\"host\"}]}]}");
    value v;
    assert_int_equal(json_decode(a, body.data, body.len, &v, &err), 0);
    buf_free(&body);
    dd_metrics_encoder_free(enc);
}

static void test_join_url(void **state)
{
    (void)state;
    sl_error err;
    char *url = datadog_join_url("https://api.datadoghq.eu", "/api/v2/series", &err);
    assert_string_equal(url, "https://api.datadoghq.eu/api/v2/series");
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_incremental_counter_is_a_count_with_the_flush_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_gauge_is_type_3_without_interval_unless_it_has_one, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_tags_sorted_as_strings_bare_tags_and_host_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_is_a_gauge_of_distinct_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps_in_whole_seconds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_distribution_points_repeat_samples_by_rate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_distribution_without_samples_sends_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_counter_becomes_deltas_with_resets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_incremental_counter_passes_through_without_state,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_identity_is_type_namespace_name_and_tags,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_series_survive_table_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gauges_are_sent_absolute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_datadog_cannot_take_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_body_parses_and_matches_spec_example_shape, setup,
                                        teardown),
        cmocka_unit_test(test_join_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
