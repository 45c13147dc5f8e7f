/* test_datadog_logs.c - the datadog_logs encoder and the Datadog URL and
 * key helpers, against what Vector's datadog_logs sink writes
 * (src/sinks/datadog/logs/sink.rs: normalize_event and its truncation
 * tests) and how it finds its endpoints (src/common/datadog.rs). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "sinks/datadog.h"

#define MAX_LOG DATADOG_LOGS_MAX_LOG_BYTES
#define MAX_MSG DATADOG_LOGS_MAX_MESSAGE_BYTES
#define MARKER "...TRUNCATED..."

/* 2026-11-21T10:00:00.123456789Z */
#define TS_NS 1795255200123456789LL
#define TS_MS "1795255200123"

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

/* Encodes e with the given limits; returns the heap text (free it). */
static char *encode_with(const event *e, size_t max_log, size_t max_msg, bool *truncated)
{
    dd_logs_encoder *enc = dd_logs_encoder_new(max_log, max_msg);
    assert_non_null(enc);
    buf b = BUF_INIT;
    sl_error err;
    bool t;
    if (dd_logs_encode(enc, e, &b, &t, &err) < 0)
        fail_msg("encode failed: %s", err.msg);
    dd_logs_encoder_free(enc);
    if (truncated)
        *truncated = t;
    assert_int_equal(buf_reserve(&b, 0), 0);
    return buf_detach(&b);
}

static void assert_encodes(const event *e, const char *want)
{
    bool truncated;
    char *got = encode_with(e, MAX_LOG, MAX_MSG, &truncated);
    assert_string_equal(got, want);
    assert_false(truncated);
    free(got);
}

/* The output parses back as one JSON object (our decoder is tested
 * against jansson). */
static value parse_object(arena *a, const char *text)
{
    value v;
    sl_error err;
    if (json_decode(a, text, strlen(text), &v, &err) < 0)
        fail_msg("output is not JSON: %s", err.msg);
    assert_int_equal(v.kind, VALUE_MAP);
    return v;
}

static const value *field(const value *obj, const char *key)
{
    return value_map_get(obj->u.map, key, strlen(key));
}

static char *repeat(const char *unit, size_t times)
{
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

static void set_string(arena *a, event *e, const char *key, const char *text)
{
    assert_int_equal(event_log_set(a, e, key, value_bytes(text, strlen(text))), 0);
}

/* ---- reserved attributes ---- */

static void test_reserved_attributes(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"message\":\"GET /\",\"host\":\"web-1\",\"service\":\"shop\","
                               "\"ddsource\":\"nginx\",\"status\":\"info\",\"ddtags\":\"env:prod\","
                               "\"http\":{\"code\":200}}");
    assert_int_equal(event_log_set(a, &e, "timestamp", value_timestamp(TS_NS)), 0);
    assert_encodes(&e, "{\"ddsource\":\"nginx\",\"ddtags\":\"env:prod\",\"hostname\":\"web-1\","
                       "\"http\":{\"code\":200},\"message\":\"GET /\",\"service\":\"shop\","
                       "\"status\":\"info\",\"timestamp\":" TS_MS "}");
}

static void test_host_moves_over_hostname(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"host\":\"a\",\"hostname\":\"b\",\"message\":\"m\","
                               "\"_RESERVED_host\":\"old\",\"z\":1}");
    assert_encodes(&e, "{\"_RESERVED_host\":\"b\",\"hostname\":\"a\",\"message\":\"m\",\"z\":1}");
}

static void test_hostname_without_host_is_kept(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"hostname\":\"b\",\"message\":\"m\"}");
    assert_encodes(&e, "{\"hostname\":\"b\",\"message\":\"m\"}");
}

static void test_non_string_host_moves_too(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"host\":{\"name\":\"x\"},\"a\":null}");
    assert_encodes(&e, "{\"a\":null,\"hostname\":{\"name\":\"x\"}}");
}

static void test_ddtags_array_joined(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"ddtags\":[\"env:prod\",7,\"team:core\",null],\"message\":\"m\"}");
    assert_encodes(&e, "{\"ddtags\":\"env:prod,team:core\",\"message\":\"m\"}");
    e = log_from_json(a, "{\"ddtags\":[],\"message\":\"m\"}");
    assert_encodes(&e, "{\"ddtags\":[],\"message\":\"m\"}");
}

static void test_timestamp_forms(void **state)
{
    arena *a = *state;
    /* Only a timestamp value is converted; text stays as it is. */
    event e = log_from_json(a, "{\"timestamp\":\"2026-11-21T10:00:00Z\"}");
    assert_encodes(&e, "{\"timestamp\":\"2026-11-21T10:00:00Z\"}");
    /* Floor division, like chrono's timestamp_millis. */
    e = log_from_json(a, "{}");
    assert_int_equal(event_log_set(a, &e, "timestamp", value_timestamp(-1)), 0);
    assert_encodes(&e, "{\"timestamp\":-1}");
    /* A nested timestamp is written as RFC 3339, as any other field. */
    e = log_from_json(a, "{\"message\":\"m\"}");
    assert_int_equal(event_log_set(a, &e, "when", value_timestamp(TS_NS)), 0);
    assert_encodes(&e, "{\"message\":\"m\",\"when\":\"2026-11-21T10:00:00.123456789Z\"}");
}

static void test_event_is_not_modified(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"host\":\"a\",\"ddtags\":[\"x:1\"],\"message\":\"m\"}");
    assert_int_equal(event_log_set(a, &e, "timestamp", value_timestamp(TS_NS)), 0);
    char *first = encode_with(&e, MAX_LOG, MAX_MSG, NULL);
    buf plain = BUF_INIT;
    assert_int_equal(json_encode_event(&plain, &e), 0);
    assert_string_equal(plain.data, "{\"ddtags\":[\"x:1\"],\"host\":\"a\",\"message\":\"m\","
                                    "\"timestamp\":\"2026-11-21T10:00:00.123456789Z\"}");
    char *second = encode_with(&e, MAX_LOG, MAX_MSG, NULL);
    assert_string_equal(first, second);
    buf_free(&plain);
    free(first);
    free(second);
}

static void test_appends_after_existing_output(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"message\":\"m\"}");
    dd_logs_encoder *enc = dd_logs_encoder_new(MAX_LOG, MAX_MSG);
    buf b = BUF_INIT;
    sl_error err;
    bool t;
    assert_int_equal(buf_append_str(&b, "[{\"x\":1},"), 0);
    assert_int_equal(dd_logs_encode(enc, &e, &b, &t, &err), 0);
    assert_string_equal(b.data, "[{\"x\":1},{\"message\":\"m\"}");
    buf_free(&b);
    dd_logs_encoder_free(enc);
}

/* ---- truncation (Vector's sink.rs tests) ---- */

static void test_truncates_oversized_message(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"service\":\"payments\",\"custom\":\"keep-me\"}");
    char *msg = repeat("a", MAX_LOG + 1);
    set_string(a, &e, "message", msg);
    bool truncated;
    char *got = encode_with(&e, MAX_LOG, MAX_MSG, &truncated);
    assert_true(truncated);
    assert_true(strlen(got) <= MAX_LOG);
    value v = parse_object(a, got);
    const value *m = field(&v, "message");
    assert_int_equal(m->len, MAX_MSG + strlen(MARKER));
    assert_memory_equal(m->u.s + MAX_MSG, MARKER, strlen(MARKER));
    assert_memory_equal(field(&v, "ddtags")->u.s, "truncated:single_line", 21);
    assert_memory_equal(field(&v, "custom")->u.s, "keep-me", 7);
    assert_memory_equal(field(&v, "service")->u.s, "payments", 8);
    free(got);
    free(msg);
}

static void test_truncation_tag_added_once(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"ddtags\":\"env:prod\"}");
    char *msg = repeat("b", 600);
    set_string(a, &e, "message", msg);
    char *got = encode_with(&e, 500, 400, NULL);
    value v = parse_object(a, got);
    const value *tags = field(&v, "ddtags");
    assert_int_equal(tags->len, strlen("env:prod,truncated:single_line"));
    assert_memory_equal(tags->u.s, "env:prod,truncated:single_line", tags->len);
    free(got);

    e = log_from_json(a, "{\"ddtags\":[\"env:prod\", \"truncated:single_line\"]}");
    set_string(a, &e, "message", msg);
    got = encode_with(&e, 500, 400, NULL);
    v = parse_object(a, got);
    tags = field(&v, "ddtags");
    assert_int_equal(tags->len, strlen("env:prod,truncated:single_line"));
    free(got);
    free(msg);
}

static void test_truncates_at_configured_limit(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{}");
    char *msg = repeat("a", 600);
    set_string(a, &e, "message", msg);
    char *got = encode_with(&e, 500, 400, NULL);
    assert_true(strlen(got) <= 500);
    value v = parse_object(a, got);
    assert_int_equal(field(&v, "message")->len, 400 + strlen(MARKER));
    free(got);
    free(msg);
}

static void test_removes_custom_fields_when_still_too_large(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"service\":\"payments\",\"host\":\"h\"}");
    char *msg = repeat("c", MAX_LOG + 1);
    char *custom = repeat("x", 200000);
    set_string(a, &e, "message", msg);
    set_string(a, &e, "custom", custom);
    char *got = encode_with(&e, MAX_LOG, MAX_MSG, NULL);
    assert_true(strlen(got) <= MAX_LOG);
    value v = parse_object(a, got);
    assert_null(field(&v, "custom"));
    assert_non_null(field(&v, "hostname"));
    assert_memory_equal(field(&v, "service")->u.s, "payments", 8);
    free(got);
    free(msg);
    free(custom);
}

static void test_short_message_unmarked_when_only_fields_removed(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{\"message\":\"hello\",\"service\":\"payments\"}");
    char *custom = repeat("x", MAX_LOG + 1);
    set_string(a, &e, "custom", custom);
    char *got = encode_with(&e, MAX_LOG, MAX_MSG, NULL);
    assert_string_equal(got, "{\"ddtags\":\"truncated:single_line\",\"message\":\"hello\","
                             "\"service\":\"payments\"}");
    free(got);
    free(custom);
}

static void test_escaped_message_shrunk_again(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{}");
    char *msg = repeat("\"", 600000);
    set_string(a, &e, "message", msg);
    char *got = encode_with(&e, MAX_LOG, MAX_MSG, NULL);
    assert_true(strlen(got) <= MAX_LOG);
    value v = parse_object(a, got);
    const value *m = field(&v, "message");
    assert_true(m->len < 600000 + strlen(MARKER));
    assert_memory_equal(m->u.s + m->len - strlen(MARKER), MARKER, strlen(MARKER));
    free(got);
    free(msg);
}

static void test_cut_on_character_boundary(void **state)
{
    arena *a = *state;
    event e = log_from_json(a, "{}");
    char *msg = repeat("\xc3\xa9", 400);   /* é: 2 bytes */
    set_string(a, &e, "message", msg);
    char *got = encode_with(&e, 500, 301, NULL);
    value v = parse_object(a, got);
    const value *m = field(&v, "message");
    assert_int_equal(m->len, 300 + strlen(MARKER));
    assert_true(strlen(got) <= 500);
    free(got);
    free(msg);
}

static void assert_dropped(const event *e, size_t max_log, size_t max_msg)
{
    dd_logs_encoder *enc = dd_logs_encoder_new(max_log, max_msg);
    buf b = BUF_INIT;
    sl_error err;
    bool t;
    assert_int_equal(buf_append_str(&b, "["), 0);
    assert_int_equal(dd_logs_encode(enc, e, &b, &t, &err), -1);
    assert_int_equal(b.len, 1);
    assert_non_null(strstr(err.msg, "Dropped"));
    buf_free(&b);
    dd_logs_encoder_free(enc);
}

static void test_drops_what_cannot_fit(void **state)
{
    arena *a = *state;
    /* The reserved fields alone are too large. */
    event e = log_from_json(a, "{}");
    char *big = repeat("e", 700);
    set_string(a, &e, "message", big);
    set_string(a, &e, "service", big);
    assert_dropped(&e, 500, 400);
    /* A message that is not a string can't be truncated. */
    e = log_from_json(a, "{\"message\":{}}");
    set_string(a, &e, "custom", big);
    assert_dropped(&e, 500, 400);
    /* Nor can a log without one. */
    e = log_from_json(a, "{}");
    set_string(a, &e, "custom", big);
    assert_dropped(&e, 500, 400);
    free(big);
}

/* ---- URLs and the key ---- */

static void assert_url(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_urls(void **state)
{
    (void)state;
    sl_error err;
    assert_url(datadog_base_url(NULL, "datadoghq.eu", "http-intake.logs", &err),
               "https://http-intake.logs.datadoghq.eu");
    assert_url(datadog_base_url("http://127.0.0.1:8080/", "x", "http-intake.logs", &err),
               "http://127.0.0.1:8080");
    assert_url(datadog_base_url("localhost:8080", "x", "http-intake.logs", &err),
               "https://localhost:8080");
    assert_url(datadog_base_url("https://proxy.example/dd", "x", "api", &err),
               "https://proxy.example/dd");
    assert_null(datadog_base_url("ftp://x", "x", "api", &err));
    assert_null(datadog_base_url("not a uri", "x", "api", &err));
    assert_null(datadog_base_url("https://", "x", "api", &err));

    /* Vector's computes_correct_api_endpoint cases, region kept. */
    assert_url(datadog_api_base_url(NULL, "datadoghq.com", &err), "https://api.datadoghq.com");
    assert_url(datadog_api_base_url("https://http-intake.logs.datadoghq.com/", "x", &err),
               "https://api.datadoghq.com");
    assert_url(datadog_api_base_url("http://http-intake.logs.datadoghq.com", "x", &err),
               "https://api.datadoghq.com");
    assert_url(datadog_api_base_url("https://this.datadoghq.eu/", "x", &err),
               "https://api.datadoghq.eu");
    assert_url(datadog_api_base_url("https://http-intake.logs.us3.datadoghq.com", "x", &err),
               "https://api.us3.datadoghq.com");
    assert_url(datadog_api_base_url("https://http-intake.logs.ddog-gov.com", "x", &err),
               "https://api.ddog-gov.com");
    assert_url(datadog_api_base_url("http://datadog.com/", "x", &err), "http://datadog.com");
    assert_url(datadog_api_base_url("http://127.0.0.1:9/", "x", &err), "http://127.0.0.1:9");
}

static void test_site_and_key_resolution(void **state)
{
    (void)state;
    unsetenv("DD_SITE");
    unsetenv("DD_API_KEY");
    assert_string_equal(datadog_site(NULL), "datadoghq.com");
    assert_null(datadog_api_key(NULL));
    assert_null(datadog_api_key(""));
    setenv("DD_SITE", "datadoghq.eu", 1);
    setenv("DD_API_KEY", "env-key", 1);
    assert_string_equal(datadog_site(NULL), "datadoghq.eu");
    assert_string_equal(datadog_site("us5.datadoghq.com"), "us5.datadoghq.com");
    assert_string_equal(datadog_api_key(NULL), "env-key");
    assert_string_equal(datadog_api_key("opt-key"), "opt-key");
    unsetenv("DD_SITE");
    unsetenv("DD_API_KEY");

    sl_error err;
    char *h = datadog_key_header("abc123", &err);
    assert_string_equal(h, "DD-API-KEY: abc123");
    datadog_free_secret(h);
    assert_null(datadog_key_header("abc\r\nX-Evil: 1", &err));
    assert_null(strstr(err.msg, "abc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reserved_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_moves_over_hostname, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostname_without_host_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_string_host_moves_too, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ddtags_array_joined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_is_not_modified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_appends_after_existing_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncates_oversized_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_tag_added_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncates_at_configured_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removes_custom_fields_when_still_too_large, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_short_message_unmarked_when_only_fields_removed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaped_message_shrunk_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_on_character_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drops_what_cannot_fit, setup, teardown),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_site_and_key_resolution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
