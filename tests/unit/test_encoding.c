/* test_encoding.c - the json, text and logfmt codecs, byte for byte against
 * the outputs of Vector's own tests (Display for metrics, encode_logfmt). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "sinks/encoding.h"

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

static event log_from_json(arena *a, const char *json)
{
    event e;
    sl_error err;
    assert_int_equal(event_init_log(a, &e, 0), 0);
    if (json_decode(a, json, strlen(json), &e.u.log, &err) < 0)
        fail_msg("bad test document %s: %s", json, err.msg);
    return e;
}

static void assert_encodes(encoding_codec codec, const event *e, const char *want)
{
    buf b = BUF_INIT;
    assert_int_equal(encoding_write_event(&b, codec, e), 0);
    assert_non_null(b.data);
    assert_int_equal(b.len, strlen(want));
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_codec_names(void **state)
{
    (void)state;
    assert_string_equal(encoding_codec_names[ENCODING_JSON], "json");
    assert_string_equal(encoding_codec_names[ENCODING_TEXT], "text");
    assert_string_equal(encoding_codec_names[ENCODING_LOGFMT], "logfmt");
    assert_null(encoding_codec_names[3]);
}

static void test_json_log(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"message\":\"hello\",\"host\":\"h\",\"n\":1.0}");
    assert_int_equal(event_log_set(a, &e, "timestamp", value_timestamp(1597263831404000000LL)), 0);
    assert_encodes(ENCODING_JSON, &e, "{\"host\":\"h\",\"message\":\"hello\",\"n\":1.0,"
                                      "\"timestamp\":\"2020-08-12T20:23:51.404Z\"}");
}

static void test_text_log(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"message\":\"hello world\",\"other\":1}");
    assert_encodes(ENCODING_TEXT, &e, "hello world");
    assert_int_equal(event_log_set(a, &e, "message", value_bytes("raw \xff bytes\n", 12)), 0);
    buf b = BUF_INIT;
    assert_int_equal(encoding_write_event(&b, ENCODING_TEXT, &e), 0);
    assert_int_equal(b.len, 12);
    assert_memory_equal(b.data, "raw \xff bytes\n", 12);
    buf_free(&b);

    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"message\":42}", "42"},
        {"{\"message\":1.0}", "1"},
        {"{\"message\":1e20}", "100000000000000000000"},
        {"{\"message\":true}", "true"},
        {"{\"message\":null}", "<null>"},
        {"{\"message\":{\"b\":[1,\"x\"],\"a\":null}}", "{\"a\":null,\"b\":[1,\"x\"]}"},
        {"{\"other\":\"no message\"}", ""},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        event c = log_from_json(a, cases[i].json);
        assert_encodes(ENCODING_TEXT, &c, cases[i].want);
    }
    event ts = log_from_json(a, "{}");
    assert_int_equal(event_log_set(a, &ts, "message", value_timestamp(0)), 0);
    assert_encodes(ENCODING_TEXT, &ts, "1970-01-01T00:00:00Z");
}

static event metric_event(arena *a, const char *name, const char *ns, uint8_t kind, uint8_t type)
{
    event e;
    assert_int_equal(event_init_metric(a, &e, name, ns), 0);
    e.u.metric->kind = kind;
    e.u.metric->type = type;
    return e;
}

/* The cases of Vector's `display` test for Metric. */
static void test_text_metric_like_vector(void **state)
{
    arena *a = *state;
    event one = metric_event(a, "one", NULL, METRIC_ABSOLUTE, METRIC_COUNTER);
    one.u.metric->v.counter = 1.23;
    assert_int_equal(event_metric_set_tag(a, &one, "normal_tag", "value"), 0);
    assert_int_equal(event_metric_set_tag(a, &one, "true_tag", "true"), 0);
    assert_int_equal(event_metric_set_tag(a, &one, "empty_tag", ""), 0);
    assert_encodes(ENCODING_TEXT, &one,
                   "one{empty_tag=\"\",normal_tag=\"value\",true_tag=\"true\"} = 1.23");

    event two = metric_event(a, "two word", NULL, METRIC_INCREMENTAL, METRIC_GAUGE);
    two.u.metric->v.gauge = 2.0;
    two.u.metric->has_timestamp = true;
    two.u.metric->timestamp = 1542182950000000011LL;
    assert_encodes(ENCODING_TEXT, &two, "2018-11-14T08:09:10.000000011Z \"two word\"{} + 2");

    event ns = metric_event(a, "namespace", "vector", METRIC_ABSOLUTE, METRIC_COUNTER);
    ns.u.metric->v.counter = 1.23;
    assert_encodes(ENCODING_TEXT, &ns, "vector_namespace{} = 1.23");
    event ns2 = metric_event(a, "namespace", "vector host", METRIC_ABSOLUTE, METRIC_COUNTER);
    ns2.u.metric->v.counter = 1.23;
    assert_encodes(ENCODING_TEXT, &ns2, "\"vector host\"_namespace{} = 1.23");

    event three = metric_event(a, "three", NULL, METRIC_ABSOLUTE, METRIC_SET);
    static const char *values[] = {"v1", "v2_two", "thr\xc9\x99\xc3\xab", "four=4", "v1"};
    three.u.metric->v.set.values = values;
    three.u.metric->v.set.n = 5;
    assert_encodes(ENCODING_TEXT, &three, "three{} = \"four=4\" \"thr\xc9\x99\xc3\xab\" v1 v2_two");

    event four = metric_event(a, "four", NULL, METRIC_ABSOLUTE, METRIC_DISTRIBUTION);
    metric_sample samples[] = {{1.0, 3}, {2.0, 4}};
    four.u.metric->v.dist.samples = samples;
    four.u.metric->v.dist.n = 2;
    assert_encodes(ENCODING_TEXT, &four, "four{} = histogram 3@1 4@2");

    event five = metric_event(a, "five", NULL, METRIC_ABSOLUTE, METRIC_AGGREGATED_HISTOGRAM);
    metric_bucket buckets[] = {{51.0, 53}, {52.0, 54}};
    five.u.metric->v.hist.buckets = buckets;
    five.u.metric->v.hist.n = 2;
    five.u.metric->v.hist.count = 107;
    five.u.metric->v.hist.sum = 103.0;
    assert_encodes(ENCODING_TEXT, &five, "five{} = count=107 sum=103 53@51 54@52");

    event six = metric_event(a, "six", NULL, METRIC_ABSOLUTE, METRIC_AGGREGATED_SUMMARY);
    metric_quantile quantiles[] = {{1.0, 63.0}, {2.0, 64.0}};
    six.u.metric->v.summary.quantiles = quantiles;
    six.u.metric->v.summary.n = 2;
    six.u.metric->v.summary.count = 2;
    six.u.metric->v.summary.sum = 127.0;
    assert_encodes(ENCODING_TEXT, &six, "six{} = count=2 sum=127 1@63 2@64");
}

static void test_text_metric_details(void **state)
{
    arena *a = *state;
    event c = metric_event(a, "requests", "app", METRIC_INCREMENTAL, METRIC_COUNTER);
    c.u.metric->v.counter = 1;
    c.u.metric->has_timestamp = true;
    c.u.metric->timestamp = 1597263831404000000LL;
    assert_int_equal(event_metric_set_tag(a, &c, "host", "a\"b\\c\n\x01"), 0);
    assert_int_equal(event_metric_set_tag(a, &c, "bare", NULL), 0);
    assert_int_equal(event_metric_set_tag(a, &c, "k.x", "v"), 0);
    assert_encodes(ENCODING_TEXT, &c, "2020-08-12T20:23:51.404Z app_requests"
                                      "{bare,host=\"a\\\"b\\\\c\\n\\u{1}\",\"k.x\"=\"v\"} + 1");
    /* logfmt has no metric form in Vector; the text form is written. */
    assert_encodes(ENCODING_LOGFMT, &c, "2020-08-12T20:23:51.404Z app_requests"
                                        "{bare,host=\"a\\\"b\\\\c\\n\\u{1}\",\"k.x\"=\"v\"} + 1");

    event d = metric_event(a, "latency", NULL, METRIC_INCREMENTAL, METRIC_DISTRIBUTION);
    d.u.metric->v.dist.statistic = METRIC_STAT_SUMMARY;
    assert_encodes(ENCODING_TEXT, &d, "latency{} + summary ");

    event h = metric_event(a, "h", NULL, METRIC_ABSOLUTE, METRIC_AGGREGATED_HISTOGRAM);
    metric_bucket buckets[] = {{0.5, 1}, {INFINITY, 2}};
    h.u.metric->v.hist.buckets = buckets;
    h.u.metric->v.hist.n = 2;
    h.u.metric->v.hist.count = 2;
    h.u.metric->v.hist.sum = 0.75;
    assert_encodes(ENCODING_TEXT, &h, "h{} = count=2 sum=0.75 1@0.5 2@inf");

    event g = metric_event(a, "g", NULL, METRIC_ABSOLUTE, METRIC_GAUGE);
    g.u.metric->v.gauge = NAN;
    assert_encodes(ENCODING_TEXT, &g, "g{} = NaN");
    assert_encodes(ENCODING_JSON, &g, "{\"name\":\"g\",\"kind\":\"absolute\",\"gauge\":{\"value\":null}}");
}

/* The cases of Vector's encode_key_value tests, with logfmt's delimiters. */
static void test_logfmt_like_vector(void **state)
{
    arena *a = *state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"lvl\":\"info\"}", "lvl=info"},
        {"{\"lvl\":\"info\",\"log_id\":12345}", "log_id=12345 lvl=info"},
        {"{\"lvl\":\"info\",\"msg\":\"This is a log message\"}",
         "lvl=info msg=\"This is a log message\""},
        {"{\"lvl\":\"info\",\"msg\":\"{\\\"key\\\":\\\"value\\\"}\"}",
         "lvl=info msg=\"{\\\"key\\\":\\\"value\\\"}\""},
        {"{\"lvl\":\"info\",\"msg\":\"=\"}", "lvl=info msg=\"=\""},
        {"{\"beta\":true,\"prod\":false,\"lvl\":\"info\",\"msg\":\"This is a log message\"}",
         "beta lvl=info msg=\"This is a log message\""},
        {"{\"lvl\":\"info\",\"msg\":\"payload: {\\\"code\\\": 200}\\\\n\","
         "\"another_field\":\"some\\nfield\\\\and things\",\"space key\":\"foo\"}",
         "another_field=\"some\\\\nfield\\\\and things\" lvl=info "
         "msg=\"payload: {\\\"code\\\": 200}\\\\n\" \"space key\"=foo"},
        {"{\"log\":{\"file\":{\"path\":\"encode_key_value.rs\"}},"
         "\"agent\":{\"name\":\"vector\",\"id\":1234},"
         "\"network\":{\"ip\":[127,0,0,1],\"proto\":\"tcp\"},\"event\":\"log\"}",
         "agent.id=1234 agent.name=vector event=log log.file.path=encode_key_value.rs "
         "network.ip.0=127 network.ip.1=0 network.ip.2=0 network.ip.3=1 network.proto=tcp"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        event e = log_from_json(a, cases[i].json);
        assert_encodes(ENCODING_LOGFMT, &e, cases[i].want);
    }
}

static void test_logfmt_details(void **state)
{
    arena *a = *state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        /* Flattened keys sort as strings: "a b" before "a.b", 10 before 2. */
        {"{\"a\":{\"b\":1},\"a b\":2}", "\"a b\"=2 a.b=1"},
        {"{\"x\":[0,1,2,3,4,5,6,7,8,9,10]}",
         "x.0=0 x.1=1 x.10=10 x.2=2 x.3=3 x.4=4 x.5=5 x.6=6 x.7=7 x.8=8 x.9=9"},
        {"{\"f\":1.0,\"g\":0.5,\"n\":null,\"e\":\"\",\"m\":{},\"l\":[]}", "e= f=1 g=0.5 n=null"},
        {"{\"tab\":\"a\\tb\",\"nbsp\":\"a\xc2\xa0" "b\",\"eq\":\"k=v\"}",
         "eq=\"k=v\" nbsp=\"a\xc2\xa0" "b\" tab=\"a\tb\""},
        {"{\"k=v\":1,\"q\\\"\":2}", "\"k=v\"=1 \"q\\\"\"=2"},
        /* A top-level dotted key and a nested one flatten alike: the later
         * one in map order wins. */
        {"{\"a\":{\"b\":1},\"a.b\":2}", "a.b=2"},
        {"{}", ""},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        event e = log_from_json(a, cases[i].json);
        assert_encodes(ENCODING_LOGFMT, &e, cases[i].want);
    }
    event e = log_from_json(a, "{}");
    assert_int_equal(event_log_set(a, &e, "t", value_timestamp(1597263831404000000LL)), 0);
    assert_int_equal(event_log_set(a, &e, "bad", value_bytes("x\xffy", 3)), 0);
    assert_encodes(ENCODING_LOGFMT, &e, "bad=x\xef\xbf\xbdy t=2020-08-12T20:23:51.404Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_names),
        cmocka_unit_test_setup_teardown(test_json_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_metric_like_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_metric_details, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logfmt_like_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logfmt_details, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    arena_cache_drain();
    return rc;
}
