/* test_vrl_fn_parse.c - parse_json, encode_json, parse_key_value,
 * parse_logfmt, parse_syslog, parse_common_log, parse_apache_log,
 * parse_timestamp, format_timestamp and now: VRL's documented examples and
 * unit cases (and syslog_loose's for the syslog variants), time zones from
 * the TZ database, invalid UTF-8, and the exact error messages. The local
 * zone is set to UTC so that times without an offset are deterministic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/vrl_fn_test.h"
#include "pipeline/sltime.h"

#define STR(s) value_bytes((s), sizeof(s) - 1)

/* name(args...) with each argument a string literal given as raw text
 * ("i:N" an integer, "b:true"/"b:false" a boolean, "j:JSON" any JSON). */
static value targ_from_text(arena *a, const char *text)
{
    if (strncmp(text, "i:", 2) == 0)
        return value_int(strtoll(text + 2, NULL, 10));
    if (strncmp(text, "b:", 2) == 0)
        return value_bool(strcmp(text + 2, "true") == 0);
    if (strncmp(text, "j:", 2) == 0)
        return tval(a, text + 2);
    return value_bytes(text, strlen(text));
}

static void fill(arena *a, targs *t, const char *const *args)
{
    for (int i = 0; args[i]; i++)
        if (strcmp(args[i], "-") != 0)
            targ(t, i, targ_from_text(a, args[i]));
}

static void check(arena *a, const char *name, const char *want, const char *const *args)
{
    targs t;
    targs_init(&t);
    fill(a, &t, args);
    assert_call_json(a, name, &t, want);
    targs_free(&t);
}

static void check_str(arena *a, const char *name, const char *want, const char *const *args)
{
    targs t;
    targs_init(&t);
    fill(a, &t, args);
    assert_call_str(a, name, &t, want);
    targs_free(&t);
}

static void check_fails(arena *a, const char *name, const char *want, const char *const *args)
{
    targs t;
    targs_init(&t);
    fill(a, &t, args);
    assert_call_fails(a, name, &t, want);
    targs_free(&t);
}

static void check_refused(const char *name, const char *want, const char *const *args)
{
    arena *a = arena_new();
    targs t;
    targs_init(&t);
    fill(a, &t, args);
    assert_compile_fails(name, &t, want);
    targs_free(&t);
    arena_free(a);
}

#define ARGS(...) (const char *const[]){__VA_ARGS__, NULL}
#define CHECK(a, name, want, ...) check((a), (name), (want), ARGS(__VA_ARGS__))
#define CHECK_STR(a, name, want, ...) check_str((a), (name), (want), ARGS(__VA_ARGS__))
#define CHECK_FAILS(a, name, want, ...) check_fails((a), (name), (want), ARGS(__VA_ARGS__))
#define CHECK_REFUSED(name, want, ...) check_refused((name), (want), ARGS(__VA_ARGS__))

/* ---- parse_json, encode_json ------------------------------------------- */

static void test_parse_json(void **state)
{
    arena *a = *state;
    CHECK(a, "parse_json", "{\"key\":\"val\"}", "{\"key\": \"val\"}");
    CHECK(a, "parse_json", "[true,0]", "[true, 0]");
    CHECK(a, "parse_json", "\"hello\"", "\"hello\"");
    CHECK(a, "parse_json", "42", "42");
    CHECK(a, "parse_json", "42.13", "42.13");
    CHECK(a, "parse_json", "false", "false");
    CHECK(a, "parse_json", "{\"object\":{\"array\":[\"hello\",\"world\"],\"boolean\":false,\"number\":42,"
          "\"string\":\"value\"}}",
          "{\"object\": {\"string\":\"value\",\"number\":42,\"array\":[\"hello\",\"world\"],\"boolean\":false}}");
    CHECK(a, "parse_json", "{\"num\":9223372036854775806}", "{\"num\": 9223372036854775806}");
    CHECK(a, "parse_json", "{\"num\":9.223372036854776e18}", "{\"num\": 9223372036854775808}");
    CHECK(a, "parse_json", "{}", "\xEF\xBB\xBF{}");
    CHECK(a, "parse_json", "{}", "\xEF\xBB\xBF{}", "-", "b:false");
    CHECK(a, "parse_json", "\"\xEF\xBF\xBD\"", "\"\xf5\"");
    CHECK(a, "parse_json", "\"\xEF\xBF\xBD\"", "\"\xf5\"", "-", "b:true");

    value out;
    sl_error err;
    targs t;
    targs_init(&t);
    targ_str(&t, 0, "{ INVALID }");
    assert_int_equal(tcall(a, "parse_json", &t, &out, &err), -1);
    assert_true(strncmp(err.msg, "unable to parse json: ", 22) == 0);
    targ_str(&t, 0, "\"\xf5\"");
    targ(&t, 2, value_bool(false));
    assert_int_equal(tcall(a, "parse_json", &t, &out, &err), -1);
    assert_true(strncmp(err.msg, "unable to parse json: ", 22) == 0);
    targs_free(&t);
    CHECK_FAILS(a, "parse_json", "expected string, got integer", "i:42");
}

static void test_parse_json_max_depth(void **state)
{
    arena *a = *state;
    CHECK(a, "parse_json", "{\"first_level\":\"{\\\"second_level\\\":\\\"finish\\\"}\"}",
          "{\"first_level\":{\"second_level\":\"finish\"}}", "i:1");
    CHECK(a, "parse_json", "{\"top_layer\":\"{\\\"layer_one\\\": \\\"finish\\\", \\\"layer_two\\\": 2}\"}",
          "{\"top_layer\": {\"layer_one\": \"finish\", \"layer_two\": 2}}", "i:1");
    CHECK(a, "parse_json", "[{\"top_layer\":\"{\\\"next_layer\\\": [\\\"finish\\\"]}\"}]",
          "[{\"top_layer\": {\"next_layer\": [\"finish\"]}}]", "i:2");
    CHECK(a, "parse_json", "{\"top_layer\":{\"layer_one\":\"finish\",\"layer_two\":2}}",
          "{\"top_layer\": {\"layer_one\": \"finish\", \"layer_two\": 2}}", "i:10");
    CHECK(a, "parse_json", "{\"a\":\"[1, [2]]\",\"b\":\"x\\\"y\",\"c\":null}",
          " { \"b\" : \"x\\\"y\" , \"a\" : [1, [2]], \"c\": null } ", "i:1");
    CHECK(a, "parse_json", "{\"a\":2}", "{\"a\": 1, \"a\": 2}", "i:3");
    CHECK(a, "parse_json", "\"\\\"s\\\"\"", "\"\\\"s\\\"\"", "i:1");
    CHECK_FAILS(a, "parse_json", "max_depth value should be greater than 0 and less than 128, got 129",
                "{\"top_layer\": \"finish\"}", "i:129");
    CHECK_FAILS(a, "parse_json", "max_depth value should be greater than 0 and less than 128, got 0",
                "{}", "i:0");
    CHECK_FAILS(a, "parse_json", "out of range integral type conversion attempted", "{}", "i:-1");
    value out;
    sl_error err;
    targs t;
    targs_init(&t);
    targ_str(&t, 0, "{\"field\": \"value");
    targ(&t, 1, value_int(3));
    assert_int_equal(tcall(a, "parse_json", &t, &out, &err), -1);
    assert_true(strncmp(err.msg, "unable to read json: ", 21) == 0);
    targs_free(&t);
}

static void test_encode_json(void **state)
{
    arena *a = *state;
    CHECK_STR(a, "encode_json", "{\"another\":[1,2,3],\"field\":\"value\"}",
              "j:{\"field\": \"value\", \"another\": [1,2,3]}");
    CHECK_STR(a, "encode_json", "{\n  \"another\": [\n    1,\n    2,\n    3\n  ],\n  \"field\": \"value\"\n}",
              "j:{\"field\": \"value\", \"another\": [1,2,3]}", "b:true");
    CHECK_STR(a, "encode_json", "\"hello\"", "hello");
    CHECK_STR(a, "encode_json", "\"hello\"", "hello", "b:true");
    CHECK_STR(a, "encode_json", "42", "i:42");
    CHECK_STR(a, "encode_json", "42.0", "j:42.0", "b:true");
    CHECK_STR(a, "encode_json", "false", "b:false");
    CHECK_STR(a, "encode_json", "null", "j:null", "b:true");
    CHECK_STR(a, "encode_json", "{\n  \"field\": \"value\"\n}", "j:{\"field\":\"value\"}", "b:true");
    CHECK_STR(a, "encode_json", "[1,2,3]", "j:[1,2,3]");
    CHECK_STR(a, "encode_json", "[\n  1,\n  2,\n  3\n]", "j:[1,2,3]", "b:true");
    CHECK_STR(a, "encode_json", "{\n  \"a\": {},\n  \"b\": [],\n  \"c\": \"{[,:]}\"\n}",
              "j:{\"a\":{},\"b\":[],\"c\":\"{[,:]}\"}", "b:true");
    targs t;
    targs_init(&t);
    /* 1983-04-13T12:09:14.274Z */
    targ(&t, 0, value_timestamp(419083754274000000LL));
    assert_call_str(a, "encode_json", &t, "\"1983-04-13T12:09:14.274Z\"");
    targ(&t, 1, value_bool(true));
    assert_call_str(a, "encode_json", &t, "\"1983-04-13T12:09:14.274Z\"");
    targs_free(&t);
}

/* ---- parse_key_value, parse_logfmt ------------------------------------- */

static void test_parse_key_value_examples(void **state)
{
    arena *a = *state;
    CHECK(a, "parse_key_value", "{\"zonk\":\"nork\",\"zork\":\"zook\"}", "zork=zook zonk=nork");
    CHECK(a, "parse_key_value",
          "{\"@timestamp\":\"Sun Jan 10 16:47:39 EST 2021\",\"id\":\"ConsumerFetcherManager-1382721708341\","
          "\"level\":\"info\",\"module\":\"kafka.consumer.ConsumerFetcherManager\","
          "\"msg\":\"Stopping all fetchers\",\"tag#production\":\"stopping_fetchers\"}",
          "@timestamp=\"Sun Jan 10 16:47:39 EST 2021\" level=info msg=\"Stopping all fetchers\" "
          "tag#production=stopping_fetchers id=ConsumerFetcherManager-1382721708341 "
          "module=kafka.consumer.ConsumerFetcherManager");
    CHECK(a, "parse_key_value",
          "{\"bytes\":\"632\",\"connect\":\"0ms\",\"dyno\":\"web.1\",\"fwd\":\"102.30.171.16\","
          "\"host\":\"store.app.com\",\"path\":\"/cart_link\",\"protocol\":\"https\",\"service\":\"87ms\","
          "\"status\":\"304\"}",
          "path:\"/cart_link\", host:store.app.com, fwd: \"102.30.171.16\", dyno: web.1, connect:0ms, "
          "service:87ms, status:304, bytes:632, protocol:https",
          ":", ",");
    CHECK(a, "parse_key_value", "{\"beta\":true,\"env\":\"prod\",\"region\":\"eu-east1\",\"service\":\"backend\"}",
          "env:prod,service:backend,region:eu-east1,beta", ":", ",");
    CHECK(a, "parse_key_value",
          "{\"at\":\"info\",\"method\":\"GET\",\"path\":\"/index\",\"status\":\"200\",\"tags\":[\"dev\",\"dummy\"]}",
          "at=info,method=GET,path=\"/index\",status=200,tags=dev,tags=dummy", "=", ",");
    CHECK(a, "parse_key_value", "{\"app\":\"my-app\",\"ip\":\"1.2.3.4\",\"msg\":\"hello-world\",\"user\":\"\"}",
          "app=my-app ip=1.2.3.4 user= msg=hello-world", "-", "-", "strict");
}

static void test_parse_key_value_cases(void **state)
{
    arena *a = *state;
    CHECK(a, "parse_key_value",
          "{\"at\":\"info\",\"bytes\":\"13\",\"connect\":\"1ms\",\"dyno\":\"web.1\",\"fwd\":\"204.204.204.204\","
          "\"host\":\"myapp.herokuapp.com\",\"method\":\"GET\",\"path\":\"/\",\"protocol\":\"http\","
          "\"request_id\":\"8601b555-6a83-4c12-8269-97c8e32cdb22\",\"service\":\"18ms\",\"status\":\"200\","
          "\"tls_version\":\"tls1.1\"}",
          "at=info method=GET path=/ host=myapp.herokuapp.com request_id=8601b555-6a83-4c12-8269-97c8e32cdb22 "
          "fwd=\"204.204.204.204\" dyno=web.1 connect=1ms service=18ms status=200 bytes=13 "
          "tls_version=tls1.1 protocol=http");
    CHECK(a, "parse_key_value",
          "{\"Action\":\"PERMIT\",\"Content\":\"Session Backout\",\"DstIP\":\"10.10.254.7\",\"DstPort\":\"137\","
          "\"GenTime\":\"2019-10-24 14:25:03\",\"PolicyID\":\"3\",\"Protocol\":\"UDP\","
          "\"SerialNum\":\"100018002000001906146520\",\"SrcIP\":\"10.10.254.2\",\"SrcPort\":\"137\"}",
          "SerialNum=100018002000001906146520 GenTime=\"2019-10-24 14:25:03\" SrcIP=10.10.254.2 "
          "DstIP=10.10.254.7 Protocol=UDP SrcPort=137 DstPort=137 PolicyID=3 Action=PERMIT "
          "Content=\"Session Backout\"");
    CHECK(a, "parse_key_value", "{\"bar\":\"\",\"foo\":\"\",\"tar\":\"data\"}", "foo= bar= tar=data", "-", "-",
          "strict");
    CHECK(a, "parse_key_value", "{\"foo\":\"bar=\",\"tar\":\"data\"}", "foo= bar= tar=data");
    CHECK(a, "parse_key_value", "{\"nonk\":\"nink\",\"zork one\":\"zoog\\\"zink\\\"zork\"}",
          "\"zork one\" : \"zoog\\\"zink\\\"zork\"        nonk          : nink", ":");
    CHECK(a, "parse_key_value", "{\"nonk\":\"nink\",\"zork one\":\"zoog\\\"zink\\\"zork\"}",
          "\"zork one\":\"zoog\\\"zink\\\"zork\", nonk:nink", ":", ",");
    CHECK(a, "parse_key_value", "{\"nonk\":\"nink\",\"zork one\":\"zoog\\\"zink\\\"zork\"}",
          "\"zork one\" : \"zoog\\\"zink\\\"zork\"  ,      nonk          : nink", ":", ",");
    CHECK(a, "parse_key_value", "{\"nonk\":\"nink\",\"zork one\":\"zoog\\\"zink\\\"zork\"}",
          "\"zork one\" -- \"zoog\\\"zink\\\"zork\"  ||    nonk          -- nink", "--", "||");
    CHECK(a, "parse_key_value", "{\"nonk\":\"nink norgle: noog\",\"zork\":\"zoog\"}",
          "zork: zoog, nonk: nink norgle: noog", ":", ",");
    CHECK(a, "parse_key_value", "{\"nonk\":\"\\\"nink\\\" norgle: noog\",\"zork\":\"zoog\"}",
          "zork: zoog, nonk: \"nink\" norgle: noog", ":", ",");
    CHECK(a, "parse_key_value", "{\"To\":\"tom\",\"test\":\"\\\"tom\\\" test\"}", "To: tom\ntest: \"tom\" test",
          ":", "\n");
    CHECK(a, "parse_key_value", "{\"To\":\"tom\",\"test\":\"tom test\"}", "To: tom\ntest: \"tom test\"  ", ":",
          "\n");
    CHECK(a, "parse_key_value", "{\"Cc\":[\"tom\",\"bob\"]}", "Cc:\"tom\" Cc:\"bob\"", ":", " ");
    CHECK(a, "parse_key_value", "{\"Cc\":\"bob\"}", "Cc Cc:\"bob\"", ":", " ");
    CHECK(a, "parse_key_value", "{\"Cc\":[\"a\",\"b\",\"c\"]}", "Cc=a Cc Cc=b Cc=c");
    CHECK(a, "parse_key_value", "{\"field\":\"escaped tabs \\\\t\\\\t\",\"level\":\"info\"}",
          "level=info field=\"escaped tabs \\t\\t\"", "=", " ");
    CHECK(a, "parse_key_value", "{\"field\":\"quote -> \\\" <-\",\"level\":\"info\"}",
          "level=info field=\"quote -> \\\" <-\"", "=", " ");
    CHECK(a, "parse_key_value", "{\"=(key)\":true,\"level\":\"info\"}", "level=info =(key)", "=", " ");
    CHECK(a, "parse_key_value", "{\"=\":true,\"argh\":\"no\"}", "argh=no =", "=", " ");
    CHECK(a, "parse_key_value", "{\"'\":\"\",\"argh\":\"no\"}", "argh=no '=", "=", " ");
    CHECK(a, "parse_key_value", "{\"argh\":\"no =\"}", "argh=\"no =\"", "=", " ");
    CHECK(a, "parse_key_value", "{\"\\\\\":\"oh boy\"}", "\\=\"oh boy\"", "=", " ");
    CHECK(a, "parse_key_value", "{\"key\":\"a\\\\a\"}", "key=\"a\\a\"", "-", "-", "strict");
    CHECK(a, "parse_key_value", "{\"a\\\\ a\":\"val\"}", "\"a\\ a\"=val", "-", "-", "strict");
    CHECK(a, "parse_key_value",
          "{\"@timestamp\":\"2020-12-31T12:43:22.2322232Z\",\"key\":\"with special=characters\","
          "\"key#hash\":\"value\",\"key=with=special=characters\":\"value\",\"ook\":\"pook\"}",
          "ook=pook @timestamp=2020-12-31T12:43:22.2322232Z key#hash=value \"key=with=special=characters\"=value "
          "key=\"with special=characters\"",
          "=", " ", "lenient", "b:false");
    CHECK(a, "parse_key_value", "{\"onk\":\"ponk\",\"ook\":\"\"}", "ook= onk=ponk", "=", " ", "strict", "b:false");
    CHECK(a, "parse_key_value", "{\"foo\":\"bar\",\"foobar\":true}", "foo:bar ,   foobar   ", ":", ",");
    CHECK(a, "parse_key_value", "{\"foo\":\"bar\",\"foobar\":true}", "foo:bar ,   foobar   ", ":", ",", "strict");
    CHECK(a, "parse_key_value", "{\"bar\":\"baz\",\"barfoo\":true,\"foo\":\"bar\",\"foobar\":true}",
          "foo=bar foobar bar=baz barfoo");
    CHECK(a, "parse_key_value", "{\"bar\":true,\"barfoo\":true,\"baz\":true,\"foo\":true,\"foobar\":true}",
          "foo bar foobar baz barfoo");
    CHECK(a, "parse_key_value", "{\"foobar\":true}", "foobar", ":", ",");
    CHECK(a, "parse_key_value", "{\"key1\":\"val1\",\"key2\":\"val2\"}", "key1=val1,key2='val2'", "=", ",",
          "strict", "b:false");
    CHECK(a, "parse_key_value", "{\"key1\":\"val1\",\"key2\":\"some value with \\\"nested quotes\\\"\"}",
          "key1=val1,key2='some value with \"nested quotes\"'", "=", ",", "strict", "b:false");
    CHECK(a, "parse_key_value", "{\"a\":\"\xEF\xBF\xBD\"}", "a=\xff");
}

static void test_parse_key_value_errors(void **state)
{
    arena *a = *state;
    CHECK_FAILS(a, "parse_key_value",
                "unable to parse key-value pairs: no key-value pair at the start of the value",
                "I am not a valid line.", "--", "||", "-", "b:false");
    CHECK_FAILS(a, "parse_key_value", "could not parse whole line successfully",
                "level=error field=\"no quote here \"\"", "=", " ");
    CHECK_FAILS(a, "parse_key_value",
                "unable to parse key-value pairs: no key-value pair at the start of the value", "");
    CHECK_FAILS(a, "parse_key_value", "field_delimiter must not be empty", "a=b", "=", "");
    CHECK_FAILS(a, "parse_key_value", "key_value_delimiter must not be empty", "a=b", "");
    CHECK_FAILS(a, "parse_key_value", "expected string, got integer", "i:1");
    CHECK_REFUSED("parse_key_value", "`whitespace` must be \"lenient\" or \"strict\"", "a=b", "-", "-", "loose");
}

static void test_parse_logfmt(void **state)
{
    arena *a = *state;
    CHECK(a, "parse_logfmt", "{\"zonk\":\"nork\",\"zork\":\"zook\"}", "zork=zook zonk=nork");
    CHECK(a, "parse_logfmt", "{\"plonk\":true,\"zonk\":\"nork\",\"zork\":\"zook\"}", "zork=zook plonk zonk=nork");
    CHECK(a, "parse_logfmt", "{\"id\":\"ConsumerFetcherManager-1382721708341\",\"level\":\"info\","
          "\"module\":\"kafka.consumer.ConsumerFetcherManager\",\"msg\":\"Stopping all fetchers\","
          "\"tag\":\"stopping_fetchers\"}",
          "level=info msg=\"Stopping all fetchers\" tag=stopping_fetchers id=ConsumerFetcherManager-1382721708341 "
          "module=kafka.consumer.ConsumerFetcherManager");
    CHECK_FAILS(a, "parse_logfmt", "expected string, got null", "j:null");
}

/* ---- parse_syslog ------------------------------------------------------ */

/* "YYYY" of now, for RFC 3164 timestamps without a year. */
static const char *this_year(arena *a)
{
    int64_t y;
    unsigned m, d;
    sltime_civil_from_days(sl_now_wall_ns() / 1000000000 / 86400, &y, &m, &d);
    char *s = arena_alloc(a, 24);
    snprintf(s, 24, "%lld", (long long)y);
    return s;
}

static void check_syslog(arena *a, const char *line, const char *want_fmt)
{
    char want[2048];
    snprintf(want, sizeof(want), want_fmt, this_year(a));
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, value_bytes(line, strlen(line)));
    assert_call_json(a, "parse_syslog", &t, want);
    targs_free(&t);
}

static void test_parse_syslog_5424(void **state)
{
    arena *a = *state;
    check_syslog(a, "<13>1 2020-03-13T20:45:38.119Z dynamicwireless.name non 2426 ID931 [exampleSDID@32473 "
                    "iut=\"3\" eventSource= \"Application\" eventID=\"1011\"] Try to override the THX port, "
                    "maybe it will reboot the neural interface!",
                 "{\"appname\":\"non\",\"exampleSDID@32473\":{\"eventID\":\"1011\",\"eventSource\":\"Application\","
                 "\"iut\":\"3\"},\"facility\":\"user\",\"hostname\":\"dynamicwireless.name\","
                 "\"message\":\"Try to override the THX port, maybe it will reboot the neural interface!\","
                 "\"msgid\":\"ID931\",\"procid\":2426,\"severity\":\"notice\","
                 "\"timestamp\":\"2020-03-13T20:45:38.119Z\",\"version\":1}");
    check_syslog(a, "<13>1 2019-02-13T19:48:34+00:00 74794bfb6795 root 8449 - [empty] qwerty",
                 "{\"appname\":\"root\",\"empty\":{},\"facility\":\"user\",\"hostname\":\"74794bfb6795\","
                 "\"message\":\"qwerty\",\"procid\":8449,\"severity\":\"notice\","
                 "\"timestamp\":\"2019-02-13T19:48:34Z\",\"version\":1}");
    check_syslog(a, "<13>1 2019-02-13T19:48:34+00:00 74794bfb6795 root 8449 - [non_empty x=\"1\"][empty] qwerty",
                 "{\"appname\":\"root\",\"empty\":{},\"facility\":\"user\",\"hostname\":\"74794bfb6795\","
                 "\"message\":\"qwerty\",\"non_empty\":{\"x\":\"1\"},\"procid\":8449,\"severity\":\"notice\","
                 "\"timestamp\":\"2019-02-13T19:48:34Z\",\"version\":1}");
    check_syslog(a, "<13>1 2019-02-13T19:48:34+00:00 74794bfb6795 root 8449 - [non_empty x=\"\"][empty] qwerty",
                 "{\"appname\":\"root\",\"empty\":{},\"facility\":\"user\",\"hostname\":\"74794bfb6795\","
                 "\"message\":\"qwerty\",\"non_empty\":{\"x\":\"\"},\"procid\":8449,\"severity\":\"notice\","
                 "\"timestamp\":\"2019-02-13T19:48:34Z\",\"version\":1}");
    static const char *const escapes[][2] = {
        {"hello \\\"test\\\"", "hello \\\"test\\\""},
        {"hello a\\\\b", "hello a\\\\b"},
        {"hello [bye\\]", "hello [bye]"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(escapes); i++) {
        char line[512], want[1024];
        snprintf(line, sizeof(line), "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
                 "[exampleSDID@32473 key=\"%s\"] An application event log entry...", escapes[i][0]);
        snprintf(want, sizeof(want), "{\"appname\":\"evntslog\",\"exampleSDID@32473\":{\"key\":\"%s\"},"
                 "\"facility\":\"local4\",\"hostname\":\"mymachine.example.com\","
                 "\"message\":\"An application event log entry...\",\"msgid\":\"ID47\",\"severity\":\"notice\","
                 "\"timestamp\":\"2003-10-11T22:14:15.003Z\",\"version\":1}", escapes[i][1]);
        check_syslog(a, line, want);
    }
    check_syslog(a, "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - message",
                 "{\"appname\":\"su\",\"facility\":\"auth\",\"hostname\":\"mymachine.example.com\","
                 "\"message\":\"message\",\"msgid\":\"ID47\",\"severity\":\"crit\","
                 "\"timestamp\":\"2003-10-11T22:14:15.003Z\",\"version\":1}");
    check_syslog(a, "<34>1 2003-10-11T22:14:15.003Z host app 12 - [a x=\"1\" y=\"2\"][garbage =][b z=\"\\n\"] m",
                 "{\"a\":{\"x\":\"1\",\"y\":\"2\"},\"appname\":\"app\",\"b\":{\"z\":\"\\n\"},\"facility\":\"auth\","
                 "\"hostname\":\"host\",\"message\":\"m\",\"procid\":12,\"severity\":\"crit\","
                 "\"timestamp\":\"2003-10-11T22:14:15.003Z\",\"version\":1}");
}

static void test_parse_syslog_3164(void **state)
{
    arena *a = *state;
    check_syslog(a, "<133>Jun 13 16:33:35 haproxy[73411]: Proxy sticky-servers started.",
                 "{\"appname\":\"haproxy\",\"facility\":\"local0\",\"message\":\"Proxy sticky-servers started.\","
                 "\"procid\":73411,\"severity\":\"notice\",\"timestamp\":\"%s-06-13T16:33:35Z\"}");
    check_syslog(a, "Jun 13 16:33:35 haproxy[73411]: I am missing a pri.",
                 "{\"appname\":\"haproxy\",\"message\":\"I am missing a pri.\",\"procid\":73411,"
                 "\"timestamp\":\"%s-06-13T16:33:35Z\"}");
    check_syslog(a, "<131>Jun 8 11:54:08 master apache_error [Tue Jun 08 11:54:08.929301 2021] [php7:emerg] "
                    "[pid 1374899] [client 95.223.77.60:41888] rest of message",
                 "{\"appname\":\"apache_error\",\"facility\":\"local0\",\"hostname\":\"master\","
                 "\"message\":\"[Tue Jun 08 11:54:08.929301 2021] [php7:emerg] [pid 1374899] "
                 "[client 95.223.77.60:41888] rest of message\",\"severity\":\"err\","
                 "\"timestamp\":\"%s-06-08T11:54:08Z\"}");
    check_syslog(a, "<34>Oct 11 22:14:15 : a message",
                 "{\"facility\":\"auth\",\"message\":\"a message\",\"severity\":\"crit\","
                 "\"timestamp\":\"%s-10-11T22:14:15Z\"}");
    check_syslog(a, "<34>OCT 11 22:14:15 : a message",
                 "{\"facility\":\"auth\",\"message\":\"a message\",\"severity\":\"crit\","
                 "\"timestamp\":\"%s-10-11T22:14:15Z\"}");
    check_syslog(a, "<34>Oct 11 22:14:15 mymachine: a message",
                 "{\"facility\":\"auth\",\"hostname\":\"mymachine\",\"message\":\"a message\","
                 "\"severity\":\"crit\",\"timestamp\":\"%s-10-11T22:14:15Z\"}");
    check_syslog(a, "<54> 1970-01-01T00:01:31+00:00 host :",
                 "{\"facility\":\"lpr\",\"hostname\":\"host\",\"message\":\"\",\"severity\":\"info\","
                 "\"timestamp\":\"1970-01-01T00:01:31Z\"}");
    check_syslog(a, "<34>Oct 11 22:14:15 mymachine app[323]: a message",
                 "{\"appname\":\"app\",\"facility\":\"auth\",\"hostname\":\"mymachine\",\"message\":\"a message\","
                 "\"procid\":323,\"severity\":\"crit\",\"timestamp\":\"%s-10-11T22:14:15Z\"}");
    check_syslog(a, "<34>2020-10-11T22:14:15.00Z mymachine app[323]: a message",
                 "{\"appname\":\"app\",\"facility\":\"auth\",\"hostname\":\"mymachine\",\"message\":\"a message\","
                 "\"procid\":323,\"severity\":\"crit\",\"timestamp\":\"2020-10-11T22:14:15Z\"}");
    check_syslog(a, "<134>Oct 30 16:05:54 opsaudit  {\"username\": \"admin\", \"mfa\": 0}",
                 "{\"facility\":\"local0\",\"hostname\":\"opsaudit\","
                 "\"message\":\"{\\\"username\\\": \\\"admin\\\", \\\"mfa\\\": 0}\",\"severity\":\"info\","
                 "\"timestamp\":\"%s-10-30T16:05:54Z\"}");
    check_syslog(a, "<13>Dec 28 2008 16:49:07 host app[ab]: m",
                 "{\"appname\":\"app\",\"facility\":\"user\",\"hostname\":\"host\",\"message\":\"m\","
                 "\"procid\":\"ab\",\"severity\":\"notice\",\"timestamp\":\"2008-12-28T16:49:07Z\"}");
    check_syslog(a, "<13>Feb 1 00:00:00 host app: [id x=\"1\"] m",
                 "{\"appname\":\"app\",\"facility\":\"user\",\"hostname\":\"host\",\"id\":{\"x\":\"1\"},"
                 "\"message\":\"m\",\"severity\":\"notice\",\"timestamp\":\"%s-02-01T00:00:00Z\"}");
}

static void test_parse_syslog_errors(void **state)
{
    arena *a = *state;
    CHECK_FAILS(a, "parse_syslog", "unable to parse input as valid syslog message", "not much of a syslog message");
    CHECK_FAILS(a, "parse_syslog", "unable to parse input as valid syslog message", "");
    CHECK_FAILS(a, "parse_syslog", "unable to parse input as valid syslog message", "<13>Feb 30 00:00:00 x");
    CHECK_FAILS(a, "parse_syslog", "expected string, got boolean", "b:true");
    /* Invalid UTF-8 is read lossily, never refused. */
    check_syslog(a, "<13>1 2019-02-13T19:48:34Z h\xff a p - - m\xfe",
                 "{\"appname\":\"a\",\"facility\":\"user\",\"hostname\":\"h\xEF\xBF\xBD\",\"message\":\"m\xEF\xBF\xBD\","
                 "\"procid\":\"p\",\"severity\":\"notice\",\"timestamp\":\"2019-02-13T19:48:34Z\",\"version\":1}");
}

/* ---- parse_common_log, parse_apache_log -------------------------------- */

static void test_parse_common_log(void **state)
{
    arena *a = *state;
    const char *common = "{\"host\":\"127.0.0.1\",\"identity\":\"bob\",\"message\":\"GET /apache_pb.gif HTTP/1.0\","
                         "\"method\":\"GET\",\"path\":\"/apache_pb.gif\",\"protocol\":\"HTTP/1.0\",\"size\":2326,"
                         "\"status\":200,\"timestamp\":\"2000-10-10T20:55:36Z\",\"user\":\"frank\"}";
    CHECK(a, "parse_common_log", common,
          "127.0.0.1 bob frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326");
    CHECK(a, "parse_common_log", common,
          "127.0.0.1 bob frank [2000-10-10T13:55:36-07:00] \"GET /apache_pb.gif HTTP/1.0\" 200 2326", "%+");
    CHECK(a, "parse_common_log", "{}", "- - - - - - -");
    CHECK(a, "parse_common_log", "{}", "- - - [-] \"-\" - -");
    CHECK_FAILS(a, "parse_common_log", "failed parsing common log line", "not a common log line");
    CHECK_FAILS(a, "parse_common_log",
                "failed parsing timestamp 10/Oct/2000 using format %d/%b/%Y:%T %z: premature end of input",
                "- - - [10/Oct/2000] - - -");
    CHECK_REFUSED("parse_common_log", "`timestamp_format` is not a valid format string", "-", "%Q");
}

static void test_parse_apache_log(void **state)
{
    arena *a = *state;
    CHECK(a, "parse_apache_log",
          "{\"host\":\"127.0.0.1\",\"identity\":\"bob\",\"message\":\"GET /apache_pb.gif HTTP/1.0\","
          "\"method\":\"GET\",\"path\":\"/apache_pb.gif\",\"protocol\":\"HTTP/1.0\",\"size\":2326,"
          "\"status\":200,\"timestamp\":\"2000-10-10T20:55:36Z\",\"user\":\"frank\"}",
          "127.0.0.1 bob frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326", "common");
    CHECK(a, "parse_apache_log",
          "{\"agent\":\"Mozilla/5.0 (X11; Linux i686; rv:5.0) Gecko/1945-10-12 Firefox/37.0\",\"host\":\"127.0.0.1\","
          "\"identity\":\"bob\",\"message\":\"GET /apache_pb.gif HTTP/1.0\",\"method\":\"GET\","
          "\"path\":\"/apache_pb.gif\",\"protocol\":\"HTTP/1.0\","
          "\"referrer\":\"http://www.seniorinfomediaries.com/vertical/channels/front-end/bandwidth\","
          "\"size\":2326,\"status\":200,\"timestamp\":\"2000-10-10T20:55:36Z\",\"user\":\"frank\"}",
          "127.0.0.1 bob frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
          "\"http://www.seniorinfomediaries.com/vertical/channels/front-end/bandwidth\" "
          "\"Mozilla/5.0 (X11; Linux i686; rv:5.0) Gecko/1945-10-12 Firefox/37.0\"",
          "combined");
    CHECK(a, "parse_apache_log",
          "{\"host\":\"224.92.49.50\",\"identity\":\"bob\",\"message\":\"PATCH /one-to-one HTTP/1.1\","
          "\"method\":\"PATCH\",\"path\":\"/one-to-one\",\"protocol\":\"HTTP/1.1\",\"size\":84170,\"status\":401,"
          "\"timestamp\":\"2021-02-25T12:44:08Z\",\"user\":\"frank\"}",
          "224.92.49.50 bob frank [25/Feb/2021:12:44:08 +0000] \"PATCH /one-to-one HTTP/1.1\" 401 84170 - -",
          "combined");
    CHECK(a, "parse_apache_log",
          "{\"client\":\"147.159.108.175\",\"message\":\"I will bypass the haptic COM bandwidth, that should "
          "matrix the CSS driver!\",\"module\":\"ab\",\"pid\":4803,\"port\":24259,\"severity\":\"alert\","
          "\"thread\":\"3814\",\"timestamp\":\"2021-03-01T12:00:19Z\"}",
          "[01/Mar/2021:12:00:19 +0000] [ab:alert] [pid 4803:tid 3814] [client 147.159.108.175:24259] I will "
          "bypass the haptic COM bandwidth, that should matrix the CSS driver!",
          "error");
    CHECK(a, "parse_apache_log",
          "{\"client\":\"eda7:35d:3ceb:ef1e:2133:e7bf:116e:24cc\",\"message\":\"I'll bypass it\",\"module\":\"ab\","
          "\"pid\":4803,\"port\":24259,\"severity\":\"alert\",\"thread\":\"3814\","
          "\"timestamp\":\"2021-03-01T12:00:19Z\"}",
          "[01/Mar/2021:12:00:19 +0000] [ab:alert] [pid 4803:tid 3814] "
          "[client eda7:35d:3ceb:ef1e:2133:e7bf:116e:24cc:24259] I'll bypass it",
          "error");
    CHECK(a, "parse_apache_log",
          "{\"client\":\"95.223.77.60\",\"message\":\"PHP Parse error:  syntax error, unexpected \\\\'->\\\\' "
          "(T_OBJECT_OPERATOR) in /var/www/index.php on line 14\",\"module\":\"php7\",\"pid\":4803,\"port\":35106,"
          "\"severity\":\"emerg\",\"timestamp\":\"2021-06-04T15:40:27.000138633Z\"}",
          "[2021-06-04 15:40:27.138633] [php7:emerg] [pid 4803] [client 95.223.77.60:35106] PHP Parse error:  "
          "syntax error, unexpected \\'->\\' (T_OBJECT_OPERATOR) in /var/www/index.php on line 14",
          "error", "%Y-%m-%d %H:%M:%S.%f");
    CHECK(a, "parse_apache_log",
          "{\"message1\":\"(113)No route to host: AH00957: \",\"message2\":\"HTTP: attempt to connect to "
          "10.1.0.244:9000 (hostname.domain.com) failed\",\"module\":\"proxy\",\"pid\":23964,"
          "\"severity\":\"error\",\"timestamp\":\"2021-03-01T12:00:19Z\"}",
          "[01/Mar/2021:12:00:19 +0000] [proxy:error] [pid 23964] (113)No route to host: AH00957: HTTP: attempt "
          "to connect to 10.1.0.244:9000 (hostname.domain.com) failed",
          "error");
    CHECK(a, "parse_apache_log", "{\"timestamp\":\"2021-06-03T07:30:50Z\"}", "[2021/06/03 07:30:50] - - - -",
          "error", "%Y/%m/%d %H:%M:%S");
    CHECK_FAILS(a, "parse_apache_log", "failed parsing combined log line", "not a log line", "combined");
    CHECK_FAILS(a, "parse_apache_log",
                "failed parsing timestamp 1234 using format %d/%b/%Y:%T %z: input contains invalid characters",
                "- - - [1234] - - - - - ", "combined");
    CHECK_FAILS(a, "parse_apache_log", "failed parsing status",
                "- - - - \"-\" 99999999999999999999 - - -", "combined");
    CHECK_REFUSED("parse_apache_log", "`format` must be one of \"common\", \"combined\", \"error\"", "x", "nginx");
}

/* ---- parse_timestamp, format_timestamp, now ---------------------------- */

static void test_parse_timestamp(void **state)
{
    arena *a = *state;
    CHECK(a, "parse_timestamp", "\"2020-10-10T16:00:00Z\"", "10-Oct-2020 16:00+00:00", "%v %R %:z");
    CHECK(a, "parse_timestamp", "\"2019-10-16T04:00:00Z\"", "16/10/2019 12:00:00", "%d/%m/%Y %H:%M:%S",
          "Asia/Taipei");
    CHECK(a, "parse_timestamp", "\"2019-10-16T12:00:00Z\"", "16/10/2019:12:00:00 +0000", "%d/%m/%Y:%H:%M:%S %z");
    CHECK(a, "parse_timestamp", "\"2019-12-31T11:00:00Z\"", "31/12/2019:12:00:00", "%d/%m/%Y:%H:%M:%S",
          "Europe/Paris");
    CHECK(a, "parse_timestamp", "\"2019-10-16T10:00:00Z\"", "16/10/2019:12:00:00", "%d/%m/%Y:%H:%M:%S",
          "Europe/Paris");
    CHECK(a, "parse_timestamp", "\"2019-10-16T12:00:00Z\"", "16/10/2019:12:00:00", "%d/%m/%Y:%H:%M:%S");
    CHECK(a, "parse_timestamp", "\"2020-09-13T12:26:40Z\"", "1600000000", "%s");
    CHECK(a, "parse_timestamp", "\"2021-02-10T22:32:00.123Z\"", "2021-02-10T23:32:00.123+01:00", "%+");
    CHECK(a, "parse_timestamp", "\"2021-02-10T23:32:00Z\"", "2021-02-10 23:32:00Z", "%+");
    CHECK(a, "parse_timestamp", "\"2020-01-02T15:04:05Z\"", "01/02/2020 03:04:05 pm", "%m/%d/%Y %I:%M:%S %p");
    CHECK(a, "parse_timestamp", "\"2020-02-29T10:00:00Z\"", "2020-060 10:00", "%Y-%j %H:%M");
    CHECK(a, "parse_timestamp", "\"1983-04-13T12:09:14.274Z\"", "1983 Apr 13 12:09:14.274 +0000",
          "%Y %b %d %H:%M:%S%.3f %z");
    CHECK(a, "parse_timestamp", "\"2021-06-04T15:40:27.000138633Z\"", "2021-06-04 15:40:27.138633",
          "%Y-%m-%d %H:%M:%S.%f");
    CHECK(a, "parse_timestamp", "\"2021-06-04T15:40:27.500Z\"", "2021-06-04 15:40:27.5", "%F %T%.f");
    CHECK(a, "parse_timestamp", "\"2021-06-04T15:40:27Z\"", "Friday, 4 June 2021 15:40:27 CEST",
          "%A, %e %B %Y %T %Z");
    CHECK(a, "parse_timestamp", "\"2020-10-10T20:55:36Z\"", "Sat Oct 10 13:55:36 -0700 2020", "%a %b %e %T %z %Y");
    CHECK(a, "parse_timestamp", "\"2038-01-19T03:14:08Z\"", "38-01-19 03:14:08", "%y-%m-%d %H:%M:%S");
    CHECK(a, "parse_timestamp", "\"1970-01-19T03:14:08Z\"", "70-01-19 03:14:08", "%y-%m-%d %H:%M:%S");
    /* A wall-clock time that happens twice is read as the earlier. */
    CHECK(a, "parse_timestamp", "\"2021-10-31T00:30:00Z\"", "2021-10-31 02:30", "%F %R", "Europe/Paris");
    /* Beyond the zone's transition table, the POSIX rule applies. */
    CHECK(a, "parse_timestamp", "\"2100-07-01T10:00:00Z\"", "2100-07-01 12:00", "%F %R", "Europe/Berlin");
    CHECK(a, "parse_timestamp", "\"2100-01-15T01:00:00Z\"", "2100-01-15 12:00", "%F %R", "Australia/Sydney");
    targs t;
    targs_init(&t);
    targ(&t, 0, value_timestamp(1571227200000000000LL));
    targ_str(&t, 1, "%d/%m/%Y:%H:%M:%S %z");
    assert_call_json(a, "parse_timestamp", &t, "\"2019-10-16T12:00:00Z\"");
    targs_free(&t);
}

static void test_parse_timestamp_errors(void **state)
{
    arena *a = *state;
    CHECK_FAILS(a, "parse_timestamp", "unable to convert null value to timestamp", "j:null", "%d/%m/%Y:%H:%M:%S");
    CHECK_FAILS(a, "parse_timestamp", "Invalid timestamp \"foo\": input contains invalid characters", "foo", "%Y");
    CHECK_FAILS(a, "parse_timestamp", "Invalid timestamp \"2020-01-01\": input is not enough for unique date and time",
                "2020-01-01", "%Y-%m-%d");
    CHECK_FAILS(a, "parse_timestamp", "Invalid timestamp \"2020-01-01 10:00x\": trailing input",
                "2020-01-01 10:00x", "%Y-%m-%d %H:%M");
    CHECK_FAILS(a, "parse_timestamp", "Invalid timestamp \"2020-02-30 10:00\": input is out of range",
                "2020-02-30 10:00", "%Y-%m-%d %H:%M");
    CHECK_FAILS(a, "parse_timestamp", "Invalid timestamp \"2020-01-\": premature end of input", "2020-01-",
                "%Y-%m-%d");
    CHECK_FAILS(a, "parse_timestamp", "Invalid timestamp \"Monday 2020-01-01 10:00\": "
                "no possible date and time matching input", "Monday 2020-01-01 10:00", "%A %F %R");
    CHECK_FAILS(a, "parse_timestamp", "Invalid timestamp \"2021-03-28 02:30\": "
                "no possible date and time matching input", "2021-03-28 02:30", "%F %R", "Europe/Paris");
    CHECK_FAILS(a, "parse_timestamp", "Invalid timestamp \"+3000000000-01-01 00:00\": input is out of range",
                "+3000000000-01-01 00:00", "%Y-%m-%d %H:%M");
    /* Timestamps are nanoseconds in an int64: years 1677 to 2262. */
    CHECK_FAILS(a, "parse_timestamp", "Invalid timestamp \"9999-01-01 00:00\": input is out of range",
                "9999-01-01 00:00", "%Y-%m-%d %H:%M");
    CHECK_REFUSED("parse_timestamp", "unable to parse timezone: Europe/Pariss", "16/10/2019:12:00:00",
                  "%d/%m/%Y:%H:%M:%S", "Europe/Pariss");
    CHECK_REFUSED("parse_timestamp", "unable to parse timezone: ../../etc/passwd", "x", "%s", "../../etc/passwd");
    CHECK_REFUSED("parse_timestamp", "`format` is not a valid format string", "x", "%Q");
    targs t;
    targs_init(&t);
    targ_str(&t, 0, "16/10/2019:12:00:00");
    targ_str(&t, 1, "%d/%m/%Y:%H:%M:%S");
    targ_runtime(&t, 2, STR("Europe/Pariss"));
    assert_call_fails(a, "parse_timestamp", &t, "unable to parse timezone: Europe/Pariss");
    targ_runtime(&t, 2, STR("Europe/Paris"));
    assert_call_json(a, "parse_timestamp", &t, "\"2019-10-16T10:00:00Z\"");
    targs_free(&t);
}

static void format_with(arena *a, int64_t ns, const char *fmt, const char *tz, const char *want)
{
    targs t;
    targs_init(&t);
    targ(&t, 0, value_timestamp(ns));
    targ_str(&t, 1, fmt);
    if (tz)
        targ_str(&t, 2, tz);
    assert_call_str(a, "format_timestamp", &t, want);
    targs_free(&t);
}

static void test_format_timestamp(void **state)
{
    arena *a = *state;
    const int64_t feb10 = 1612999920LL * 1000000000;  /* 2021-02-10T23:32:00Z */
    const int64_t ten = 10LL * 1000000000;
    format_with(a, feb10, "%d %B %Y %H:%M", NULL, "10 February 2021 23:32");
    format_with(a, feb10, "%d %B %Y %H:%M", "Europe/Berlin", "11 February 2021 00:32");
    format_with(a, ten, "%s", NULL, "10");
    format_with(a, ten, "%+", NULL, "1970-01-01T00:00:10+00:00");
    format_with(a, ten, "%+", "Europe/Berlin", "1970-01-01T01:00:10+01:00");
    format_with(a, ten, "%s", "local", "10");
    format_with(a, ten, "%s", "Europe/Berlin", "10");
    format_with(a, feb10, "%H:%M %Z %z %:z", "Europe/Berlin", "00:32 CET +0100 +01:00");
    format_with(a, feb10, "%Z %z", NULL, "UTC +0000");
    format_with(a, 1625140800LL * 1000000000, "%H:%M %Z %z", "America/New_York", "08:00 EDT -0400");
    format_with(a, 4118126400LL * 1000000000, "%F %H:%M %Z", "America/New_York", "2100-07-01 08:00 EDT");
    format_with(a, 4103661600LL * 1000000000, "%F %H:%M %Z", "Australia/Sydney", "2100-01-15 13:00 AEDT");
    format_with(a, 1625140800LL * 1000000000 + 123456789, "%T%.f %.3f %6f", "Asia/Kolkata",
                "17:30:00.123456789 .123 123456");
    format_with(a, -1, "%F %T%.f", NULL, "1969-12-31 23:59:59.999999999");

    targs t;
    targs_init(&t);
    targ(&t, 0, value_timestamp(ten));
    targ_str(&t, 1, "%Q INVALID");
    assert_compile_fails("format_timestamp", &t, "invalid format");
    targ_runtime(&t, 1, STR("%Q INVALID"));
    assert_call_fails(a, "format_timestamp", &t, "invalid format");
    targ_str(&t, 1, "%+");
    targ_str(&t, 2, "llocal");
    assert_compile_fails("format_timestamp", &t, "unable to parse timezone: llocal");
    targ_runtime(&t, 2, STR("llocal"));
    assert_call_fails(a, "format_timestamp", &t, "unable to parse timezone: llocal");
    targ_runtime(&t, 0, STR("2021-01-01"));
    assert_call_fails(a, "format_timestamp", &t, "expected timestamp, got string");
    targs_free(&t);
}

static void test_now(void **state)
{
    arena *a = *state;
    targs t;
    targs_init(&t);
    value out;
    sl_error err;
    int64_t before = sl_now_wall_ns();
    assert_int_equal(tcall(a, "now", &t, &out, &err), 0);
    int64_t after = sl_now_wall_ns();
    assert_int_equal(out.kind, VALUE_TIMESTAMP);
    assert_true(out.u.ts >= before && out.u.ts <= after);
    targs_free(&t);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    const struct CMUnitTest tests[] = {
        VRL_FN_TEST(test_parse_json),
        VRL_FN_TEST(test_parse_json_max_depth),
        VRL_FN_TEST(test_encode_json),
        VRL_FN_TEST(test_parse_key_value_examples),
        VRL_FN_TEST(test_parse_key_value_cases),
        VRL_FN_TEST(test_parse_key_value_errors),
        VRL_FN_TEST(test_parse_logfmt),
        VRL_FN_TEST(test_parse_syslog_5424),
        VRL_FN_TEST(test_parse_syslog_3164),
        VRL_FN_TEST(test_parse_syslog_errors),
        VRL_FN_TEST(test_parse_common_log),
        VRL_FN_TEST(test_parse_apache_log),
        VRL_FN_TEST(test_parse_timestamp),
        VRL_FN_TEST(test_parse_timestamp_errors),
        VRL_FN_TEST(test_format_timestamp),
        VRL_FN_TEST(test_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
