/* test_json.c - the hot-path JSON codec: exact encodings (strings, floats,
 * timestamps, metrics), decoding checked against jansson on a table of
 * documents and on generated ones, and encode/decode round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "tests/fuzz/json_oracle.h"

/* ---- helpers ----------------------------------------------------------- */

static char *encode_string(const char *s, size_t n)
{
    buf b = BUF_INIT;
    assert_int_equal(json_encode_string(&b, s, n), 0);
    return buf_detach(&b);
}

static void assert_string_encodes(const char *in, size_t n, const char *want)
{
    char *got = encode_string(in, n);
    assert_string_equal(got, want);
    free(got);
}

static void assert_float_formats(double f, const char *json, const char *display)
{
    char out[JSON_FLOAT_MAX];
    size_t n = json_format_float(out, f);
    assert_string_equal(out, json);
    assert_int_equal(n, strlen(json));
    buf b = BUF_INIT;
    assert_int_equal(json_append_float_display(&b, f), 0);
    assert_string_equal(b.data, display);
    buf_free(&b);
}

static char *encode_event(const event *e)
{
    buf b = BUF_INIT;
    assert_int_equal(json_encode_event(&b, e), 0);
    return buf_detach(&b);
}

/* ---- strings ----------------------------------------------------------- */

static void test_string_escapes(void **state)
{
    (void)state;
    const char in[] = "a\"b\\c\n\t\r\b\f\x01\x1f/\xc3\xa9\x7f";
    assert_string_encodes(in, sizeof(in) - 1,
                          "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f/\xc3\xa9\x7f\"");
    assert_string_encodes("", 0, "\"\"");
    assert_string_encodes("\0", 1, "\"\\u0000\"");
}

static void test_string_long_runs(void **state)
{
    (void)state;
    /* Specials at every offset around the 16-byte blocks. */
    for (size_t len = 1; len < 70; len++) {
        for (size_t at = 0; at < len; at++) {
            char in[80], want[100];
            memset(in, 'x', len);
            in[at] = '\n';
            size_t w = 0;
            want[w++] = '"';
            for (size_t i = 0; i < len; i++) {
                if (i == at) {
                    want[w++] = '\\';
                    want[w++] = 'n';
                } else {
                    want[w++] = 'x';
                }
            }
            want[w++] = '"';
            want[w] = '\0';
            assert_string_encodes(in, len, want);
        }
    }
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\x80", "\"\xef\xbf\xbd\""},
        {"\xc3", "\"\xef\xbf\xbd\""},
        {"\xe2\x82", "\"\xef\xbf\xbd\""},
        {"\xe2\x82" "A", "\"\xef\xbf\xbd" "A\""},
        {"\xf0\x9f\x98", "\"\xef\xbf\xbd\""},
        {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xff", "\"\xef\xbf\xbd\""},
        {"\xe0\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},
        {"a\xf1\x80\x80\xe1\x80\xc2" "b", "\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "b\""},
        {"0123456789abcdef\xff" "0123456789abcdef",
         "\"0123456789abcdef\xef\xbf\xbd" "0123456789abcdef\""},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        assert_string_encodes(cases[i].in, strlen(cases[i].in), cases[i].want);

    buf b = BUF_INIT;
    assert_int_equal(json_append_utf8_lossy(&b, "a\xe2\x82" "b\xf0\x9f\x98\x80", 8), 0);
    assert_string_equal(b.data, "a\xef\xbf\xbd" "b\xf0\x9f\x98\x80");
    buf_free(&b);
}

/* A byte-at-a-time encoder written from the spec, for random inputs. */
static size_t reference_utf8(const unsigned char *s, size_t n, size_t *bad)
{
    static const struct {
        unsigned char lead_lo, lead_hi, second_lo, second_hi;
        int len;
    } table[] = {
        {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3}, {0xE1, 0xEC, 0x80, 0xBF, 3},
        {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3}, {0xF0, 0xF0, 0x90, 0xBF, 4},
        {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
    };
    for (size_t t = 0; t < SL_ARRAY_LEN(table); t++) {
        if (s[0] < table[t].lead_lo || s[0] > table[t].lead_hi)
            continue;
        size_t i = 1;
        if (i >= n || s[1] < table[t].second_lo || s[1] > table[t].second_hi) {
            *bad = 1;
            return 0;
        }
        for (i = 2; i < (size_t)table[t].len; i++) {
            if (i >= n || s[i] < 0x80 || s[i] > 0xBF) {
                *bad = i;
                return 0;
            }
        }
        return (size_t)table[t].len;
    }
    *bad = 1;
    return 0;
}

static void reference_encode(buf *b, const unsigned char *s, size_t n)
{
    buf_append_char(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            buf_printf(b, "\\%c", c);
        } else if (c == '\n') {
            buf_append_str(b, "\\n");
        } else if (c == '\t') {
            buf_append_str(b, "\\t");
        } else if (c == '\r') {
            buf_append_str(b, "\\r");
        } else if (c == '\b') {
            buf_append_str(b, "\\b");
        } else if (c == '\f') {
            buf_append_str(b, "\\f");
        } else if (c < 0x20) {
            buf_printf(b, "\\u%04x", c);
        } else if (c < 0x80) {
            buf_append_char(b, (char)c);
        } else {
            size_t bad = 1, k = reference_utf8(s + i, n - i, &bad);
            if (k) {
                buf_append(b, s + i, k);
                i += k;
            } else {
                buf_append_str(b, "\xef\xbf\xbd");
                i += bad;
            }
            continue;
        }
        i++;
    }
    buf_append_char(b, '"');
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_string_random_bytes(void **state)
{
    (void)state;
    static const unsigned char alphabet[] = {
        'a', 'b', ' ', '"', '\\', '\n', 0x00, 0x1f, 0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xe0,
        0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f,
    };
    for (int iter = 0; iter < 20000; iter++) {
        unsigned char in[96];
        size_t n = rng() % sizeof(in);
        bool mostly_plain = rng() % 2;
        for (size_t i = 0; i < n; i++)
            in[i] = mostly_plain && rng() % 8 ? (unsigned char)('a' + rng() % 26)
                                              : alphabet[rng() % sizeof(alphabet)];
        buf want = BUF_INIT;
        reference_encode(&want, in, n);
        char *got = encode_string((const char *)in, n);
        assert_string_equal(got, want.data);
        /* Whatever the input, the output is JSON jansson reads. */
        json_error_t jerr;
        json_t *j = json_loads(got, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        assert_non_null(j);
        json_decref(j);
        free(got);
        buf_free(&want);
    }
}

/* ---- numbers and timestamps -------------------------------------------- */

static void test_float_formats(void **state)
{
    (void)state;
    /* Rust's Display writes the extremes out in full: 0.(323 zeros)5 and
     * 17976931348623157 followed by 292 zeros. */
    char tiny_display[400], huge_display[400];
    memcpy(tiny_display, "0.", 2);
    memset(tiny_display + 2, '0', 323);
    memcpy(tiny_display + 325, "5", 2);
    memcpy(huge_display, "17976931348623157", 17);
    memset(huge_display + 17, '0', 292);
    huge_display[309] = '\0';
    assert_float_formats(1.0, "1.0", "1");
    assert_float_formats(0.1, "0.1", "0.1");
    assert_float_formats(-2.5, "-2.5", "-2.5");
    assert_float_formats(123.456, "123.456", "123.456");
    assert_float_formats(1e20, "1e20", "100000000000000000000");
    assert_float_formats(1e16, "1e16", "10000000000000000");
    assert_float_formats(1e15, "1000000000000000.0", "1000000000000000");
    assert_float_formats(1.5e-7, "1.5e-7", "0.00000015");
    assert_float_formats(1e-7, "1e-7", "0.0000001");
    assert_float_formats(1e-5, "0.00001", "0.00001");
    assert_float_formats(1e-6, "1e-6", "0.000001");
    assert_float_formats(0.0001, "0.0001", "0.0001");
    assert_float_formats(0.0, "0.0", "0");
    assert_float_formats(-0.0, "-0.0", "-0");
    assert_float_formats(0.30000000000000004, "0.30000000000000004", "0.30000000000000004");
    assert_float_formats(5e-324, "5e-324", tiny_display);
    assert_float_formats(1.7976931348623157e308, "1.7976931348623157e308", huge_display);
    assert_float_formats(9007199254740993.0, "9007199254740992.0", "9007199254740992");
    assert_float_formats(123456789012345680.0, "1.2345678901234568e17", "123456789012345680");
    assert_float_formats(NAN, "null", "NaN");
    assert_float_formats(INFINITY, "null", "inf");
    assert_float_formats(-INFINITY, "null", "-inf");
}

/* Significant digits of a formatted float: no sign, exponent, point, or
 * leading and trailing zeros. */
static int significant_digits(const char *text)
{
    char d[40];
    int n = 0;
    for (const char *p = text; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            d[n++] = *p;
    int lo = 0;
    while (lo < n && d[lo] == '0')
        lo++;
    while (n > lo && d[n - 1] == '0')
        n--;
    return n - lo;
}

/* Every double prints as a text that reads back as it, and no text with one
 * digit less does (the correctly rounded shorter text is the one that would). */
static void test_float_round_trip_random(void **state)
{
    (void)state;
    for (int iter = 0; iter < 200000; iter++) {
        uint64_t bits = rng();
        double f;
        memcpy(&f, &bits, sizeof(f));
        if (!isfinite(f) || f == 0)
            continue;
        char out[JSON_FLOAT_MAX];
        json_format_float(out, f);
        double back = strtod(out, NULL);
        assert_memory_equal(&back, &f, sizeof(f));
        int digits = significant_digits(out);
        if (digits > 1) {
            char shorter[40];
            snprintf(shorter, sizeof(shorter), "%.*e", digits - 2, f);
            assert_true(strtod(shorter, NULL) != f);
        }
    }
}

/* ---- values and metrics ------------------------------------------------ */

static void test_encode_value_tree(void **state)
{
    (void)state;
    arena *a = arena_new();
    event e;
    assert_int_equal(event_init_log(a, &e, 4), 0);
    assert_int_equal(event_log_set(a, &e, "message", value_bytes("hi \"there\"", 10)), 0);
    assert_int_equal(event_log_set(a, &e, "timestamp", value_timestamp(1597263831404000000LL)), 0);
    assert_int_equal(event_log_set(a, &e, "count", value_int(-42)), 0);
    assert_int_equal(event_log_set(a, &e, "ratio", value_float(0.5)), 0);
    assert_int_equal(event_log_set(a, &e, "ok", value_bool(true)), 0);
    assert_int_equal(event_log_set(a, &e, "none", value_null()), 0);
    value arr = value_new_array(a, 0);
    *value_array_push(a, arr.u.arr) = value_int(1);
    *value_array_push(a, arr.u.arr) = value_new_map(a, 0);
    assert_int_equal(event_log_set(a, &e, "list", arr), 0);
    char *got = encode_event(&e);
    assert_string_equal(got, "{\"count\":-42,\"list\":[1,{}],\"message\":\"hi \\\"there\\\"\","
                             "\"none\":null,\"ok\":true,\"ratio\":0.5,"
                             "\"timestamp\":\"2020-08-12T20:23:51.404Z\"}");
    free(got);
    buf b = BUF_INIT;
    value big = value_int(INT64_MIN);
    assert_int_equal(json_encode_value(&b, &big), 0);
    assert_string_equal(b.data, "-9223372036854775808");
    buf_free(&b);
    arena_free(a);
}

static event make_metric(arena *a, const char *name, const char *ns, uint8_t kind, uint8_t type)
{
    event e;
    assert_int_equal(event_init_metric(a, &e, name, ns), 0);
    e.u.metric->kind = kind;
    e.u.metric->type = type;
    return e;
}

static void assert_metric_json(const event *e, const char *want)
{
    char *got = encode_event(e);
    assert_string_equal(got, want);
    free(got);
}

static void test_metric_counter_json(void **state)
{
    (void)state;
    arena *a = arena_new();
    event e = make_metric(a, "requests", "app", METRIC_INCREMENTAL, METRIC_COUNTER);
    assert_int_equal(event_metric_set_tag(a, &e, "host", "a"), 0);
    assert_int_equal(event_metric_set_tag(a, &e, "bare", NULL), 0);
    e.u.metric->has_timestamp = true;
    e.u.metric->timestamp = 1597263831404000000LL;
    e.u.metric->interval_ms = 10000;
    e.u.metric->v.counter = 1;
    assert_metric_json(&e, "{\"name\":\"requests\",\"namespace\":\"app\","
                           "\"tags\":{\"bare\":null,\"host\":\"a\"},"
                           "\"timestamp\":\"2020-08-12T20:23:51.404Z\",\"interval_ms\":10000,"
                           "\"kind\":\"incremental\",\"counter\":{\"value\":1.0}}");
    arena_free(a);
}

static void test_metric_gauge_and_set_json(void **state)
{
    (void)state;
    arena *a = arena_new();
    event g = make_metric(a, "temp", NULL, METRIC_ABSOLUTE, METRIC_GAUGE);
    g.u.metric->v.gauge = -3.5;
    assert_metric_json(&g, "{\"name\":\"temp\",\"kind\":\"absolute\",\"gauge\":{\"value\":-3.5}}");

    event s = make_metric(a, "users", NULL, METRIC_INCREMENTAL, METRIC_SET);
    static const char *values[] = {"b", "a", "b"};
    s.u.metric->v.set.values = values;
    s.u.metric->v.set.n = 3;
    assert_metric_json(&s, "{\"name\":\"users\",\"kind\":\"incremental\","
                           "\"set\":{\"values\":[\"a\",\"b\"]}}");
    arena_free(a);
}

static void test_metric_distribution_json(void **state)
{
    (void)state;
    arena *a = arena_new();
    event e = make_metric(a, "latency", NULL, METRIC_INCREMENTAL, METRIC_DISTRIBUTION);
    metric_sample samples[] = {{1.5, 2}, {3.0, 1}};
    e.u.metric->v.dist.samples = samples;
    e.u.metric->v.dist.n = 2;
    e.u.metric->v.dist.statistic = METRIC_STAT_HISTOGRAM;
    assert_metric_json(&e, "{\"name\":\"latency\",\"kind\":\"incremental\",\"distribution\":"
                           "{\"samples\":[{\"value\":1.5,\"rate\":2},{\"value\":3.0,\"rate\":1}],"
                           "\"statistic\":\"histogram\"}}");
    e.u.metric->v.dist.statistic = METRIC_STAT_SUMMARY;
    e.u.metric->v.dist.n = 0;
    assert_metric_json(&e, "{\"name\":\"latency\",\"kind\":\"incremental\",\"distribution\":"
                           "{\"samples\":[],\"statistic\":\"summary\"}}");
    arena_free(a);
}

static void test_metric_histogram_and_summary_json(void **state)
{
    (void)state;
    arena *a = arena_new();
    event h = make_metric(a, "h", NULL, METRIC_ABSOLUTE, METRIC_AGGREGATED_HISTOGRAM);
    metric_bucket buckets[] = {{1.0, 2}, {INFINITY, 3}};
    h.u.metric->v.hist.buckets = buckets;
    h.u.metric->v.hist.n = 2;
    h.u.metric->v.hist.count = 3;
    h.u.metric->v.hist.sum = 4.5;
    assert_metric_json(&h, "{\"name\":\"h\",\"kind\":\"absolute\",\"aggregated_histogram\":"
                           "{\"buckets\":[{\"upper_limit\":1.0,\"count\":2},"
                           "{\"upper_limit\":null,\"count\":3}],\"count\":3,\"sum\":4.5}}");

    event s = make_metric(a, "s", NULL, METRIC_ABSOLUTE, METRIC_AGGREGATED_SUMMARY);
    metric_quantile q[] = {{0.5, 1.0}, {0.99, 2.5}};
    s.u.metric->v.summary.quantiles = q;
    s.u.metric->v.summary.n = 2;
    s.u.metric->v.summary.count = 10;
    s.u.metric->v.summary.sum = 12;
    assert_metric_json(&s, "{\"name\":\"s\",\"kind\":\"absolute\",\"aggregated_summary\":"
                           "{\"quantiles\":[{\"quantile\":0.5,\"value\":1.0},"
                           "{\"quantile\":0.99,\"value\":2.5}],\"count\":10,\"sum\":12.0}}");
    arena_free(a);
}

/* ---- decoding ---------------------------------------------------------- */

static value decode_ok(arena *a, const char *text)
{
    value v;
    sl_error err;
    int rc = json_decode(a, text, strlen(text), &v, &err);
    if (rc != 0)
        fail_msg("decode of %s failed: %s", text, err.msg);
    return v;
}

static void assert_decode_error(const char *text, size_t n, const char *want)
{
    arena *a = arena_new();
    value v;
    sl_error err;
    assert_int_equal(json_decode(a, text, n, &v, &err), -1);
    assert_string_equal(err.msg, want);
    arena_free(a);
}

static void test_decode_numbers(void **state)
{
    (void)state;
    arena *a = arena_new();
    value v = decode_ok(a, "[0, -1, 9223372036854775807, -9223372036854775808, "
                           "9223372036854775808, -9223372036854775809, -0, 1.5, 1e2, "
                           "12345678901234567890123, 0.1, -0.0, 1E-2, 2.5e+3]");
    assert_int_equal(v.kind, VALUE_ARRAY);
    const value *it = v.u.arr->items;
    assert_int_equal(it[0].kind, VALUE_INT);
    assert_int_equal(it[1].u.i, -1);
    assert_true(it[2].kind == VALUE_INT && it[2].u.i == INT64_MAX);
    assert_true(it[3].kind == VALUE_INT && it[3].u.i == INT64_MIN);
    assert_true(it[4].kind == VALUE_FLOAT && it[4].u.f == 9223372036854775808.0);
    assert_true(it[5].kind == VALUE_FLOAT && it[5].u.f == -9223372036854775809.0);
    assert_true(it[6].kind == VALUE_FLOAT && it[6].u.f == 0 && signbit(it[6].u.f));
    assert_true(it[7].kind == VALUE_FLOAT && it[7].u.f == 1.5);
    assert_true(it[8].kind == VALUE_FLOAT && it[8].u.f == 100.0);
    assert_true(it[9].kind == VALUE_FLOAT && it[9].u.f == 12345678901234567890123.0);
    assert_true(it[10].kind == VALUE_FLOAT && it[10].u.f == 0.1);
    assert_true(it[11].kind == VALUE_FLOAT && signbit(it[11].u.f));
    assert_true(it[12].u.f == 0.01 && it[13].u.f == 2500.0);
    arena_free(a);
}

static void test_decode_strings(void **state)
{
    (void)state;
    arena *a = arena_new();
    const char *text = "{\"plain\":\"xyz\",\"esc\":\"a\\n\\\"\\u00e9\\ud83d\\ude00\\/\","
                       "\"lone\":\"\\ud800x\\udc00\",\"nul\":\"\\u0000\",\"utf8\":\"\xc3\xa9\"}";
    value v = decode_ok(a, text);
    const value *plain = value_map_get(v.u.map, "plain", 5);
    assert_non_null(plain);
    assert_true(plain->u.s > text && plain->u.s < text + strlen(text));
    const value *esc = value_map_get(v.u.map, "esc", 3);
    assert_int_equal(esc->len, 10);
    assert_memory_equal(esc->u.s, "a\n\"\xc3\xa9\xf0\x9f\x98\x80/", 10);
    const value *lone = value_map_get(v.u.map, "lone", 4);
    assert_int_equal(lone->len, 7);
    assert_memory_equal(lone->u.s, "\xef\xbf\xbdx\xef\xbf\xbd", 7);
    const value *nul = value_map_get(v.u.map, "nul", 3);
    assert_true(nul->len == 1 && nul->u.s[0] == '\0');
    assert_int_equal(value_map_get(v.u.map, "utf8", 4)->len, 2);
    arena_free(a);
}

static void test_decode_objects(void **state)
{
    (void)state;
    arena *a = arena_new();
    value v = decode_ok(a, " {\"b\":1,\"a\":2,\"b\":3,\"c\":{},\"ab\":[]} ");
    assert_int_equal(v.u.map->len, 4);
    assert_memory_equal(v.u.map->entries[0].key, "a", 1);
    assert_memory_equal(v.u.map->entries[1].key, "ab", 2);
    assert_memory_equal(v.u.map->entries[2].key, "b", 1);
    assert_int_equal(v.u.map->entries[2].val.u.i, 3);
    /* Few members: repeats found by the insertion sort, in order or not,
     * adjacent or not; the last one wins and the others go. */
    value r = decode_ok(a, "{\"a\":1,\"a\":2}");
    assert_int_equal(r.u.map->len, 1);
    assert_int_equal(r.u.map->entries[0].val.u.i, 2);
    r = decode_ok(a, "{\"a\":1,\"b\":2,\"ab\":3,\"a\":4,\"c\":5,\"b\":6}");
    assert_int_equal(r.u.map->len, 4);
    assert_memory_equal(r.u.map->entries[0].key, "a", 1);
    assert_int_equal(r.u.map->entries[0].val.u.i, 4);
    assert_memory_equal(r.u.map->entries[1].key, "ab", 2);
    assert_int_equal(r.u.map->entries[2].val.u.i, 6);
    assert_int_equal(r.u.map->entries[3].val.u.i, 5);
    /* Out of order without repeats: every member stays, sorted. */
    r = decode_ok(a, "{\"stream\":\"x\",\"response_time\":\"1\",\"ab\":1,\"a\":2}");
    assert_int_equal(r.u.map->len, 4);
    assert_memory_equal(r.u.map->entries[0].key, "a", 1);
    assert_memory_equal(r.u.map->entries[1].key, "ab", 2);
    assert_memory_equal(r.u.map->entries[2].key, "response_time", 13);
    assert_memory_equal(r.u.map->entries[3].key, "stream", 6);
    /* Many members, out of order, with repeats: the merge path. */
    buf doc = BUF_INIT;
    buf_append_char(&doc, '{');
    for (int i = 0; i < 200; i++)
        buf_printf(&doc, "%s\"k%03d\":%d", i ? "," : "", (i * 37) % 100, i);
    buf_append_char(&doc, '}');
    value big = decode_ok(a, doc.data);
    assert_int_equal(big.u.map->len, 100);
    for (uint32_t i = 1; i < big.u.map->len; i++)
        assert_true(memcmp(big.u.map->entries[i - 1].key, big.u.map->entries[i].key, 4) < 0);
    /* k000 appears for i = 0 and i = 100: the last wins. */
    assert_int_equal(value_map_get(big.u.map, "k000", 4)->u.i, 100);
    buf_free(&doc);
    arena_free(a);
}

static void test_decode_errors(void **state)
{
    (void)state;
    assert_decode_error("{\"a\" 1}", 7, "invalid JSON at byte 5: expected ':'");
    assert_decode_error("{\"a\":1}x", 8, "invalid JSON at byte 7: trailing characters");
    assert_decode_error("", 0, "invalid JSON at byte 0: unexpected end of input");
    assert_decode_error("[1,2", 4, "invalid JSON at byte 4: expected ',' or ']'");
    assert_decode_error("{1:2}", 5, "invalid JSON at byte 1: expected a string key");
    assert_decode_error("\"a\x01\"", 4, "invalid JSON at byte 2: control character in string");
    assert_decode_error("\"a\xff\"", 4, "invalid JSON at byte 2: invalid UTF-8 in string");
    assert_decode_error("\"abc", 4, "invalid JSON at byte 0: unterminated string");
    assert_decode_error("\"a\\x\"", 5, "invalid JSON at byte 2: invalid escape");
    assert_decode_error("\"\\u12g4\"", 8, "invalid JSON at byte 1: invalid \\u escape");
    assert_decode_error("01", 2, "invalid JSON at byte 1: trailing characters");
    assert_decode_error("1.", 2, "invalid JSON at byte 2: invalid number");
    assert_decode_error("-", 1, "invalid JSON at byte 1: invalid number");
    assert_decode_error("1e400", 5, "invalid JSON at byte 0: number out of range");
    assert_decode_error("tru", 3, "invalid JSON at byte 0: expected a value");
    assert_decode_error("[1,]", 4, "invalid JSON at byte 3: expected a value");
}

static void test_decode_depth(void **state)
{
    (void)state;
    char doc[300];
    for (int depth = 127; depth <= 129; depth++) {
        memset(doc, '[', (size_t)depth);
        memset(doc + depth, ']', (size_t)depth);
        arena *a = arena_new();
        value v;
        sl_error err;
        int rc = json_decode(a, doc, (size_t)depth * 2, &v, &err);
        assert_int_equal(rc, depth <= 128 ? 0 : -1);
        arena_free(a);
    }
}

static void test_decode_matches_jansson_table(void **state)
{
    (void)state;
    static const char *docs[] = {
        "null", "true", "false", "0", "-0", "1", "-1", "1.0", "1e5", "1E-5", "-1.5e+300",
        "123456789012345678901234567890", "9223372036854775807", "-9223372036854775808",
        "18446744073709551616", "0.1", "3.141592653589793", "5e-324", "1e-400", "1e400",
        "\"\"", "\"abc\"", "\"\\u0041\\u00e9\\u4e2d\\ud83d\\ude00\"", "\"\\ud800\"",
        "\"\\udc00\\ud800\"", "\"\\ud800\\u0041\"", "\"\\\\u0000\"", "\"\\u0000\"",
        "{\"\\u0000\":1}", "[]", "{}", "[[]]", "[{},{}]", "{\"a\":[1,2,{\"b\":null}]}",
        "{\"a\":1,\"a\":2}", " \t\n\r[ 1 , 2 ] \n", "[1,]", "{\"a\":1,}", "[01]", "[1.]",
        "[.5]", "[+1]", "[-]", "[1e]", "[1e+]", "\"\\x\"", "\"\t\"", "'a'", "[1 2]",
        "{\"a\" 1}", "{a:1}", "nul", "truex", "\xef\xbb\xbf{}", "\"\xc3\xa9\"", "\"\xc3\"",
        "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xc0\xaf\"", "[1]x", "",
        "\"\\uD834\\uDD1E\"", "\"\\uDBFF\\uDFFF\"", "[-0.0, 0e0, -0e-0]",
        "{\"b\":{\"c\":[true,false,null]},\"a\":\"x\\/y\"}",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(docs); i++) {
        oracle_verdict v = oracle_check(docs[i], strlen(docs[i]));
        if (v != ORACLE_AGREE)
            fail_msg("document %s: verdict %d", docs[i], (int)v);
    }
}

/* ---- generated documents ----------------------------------------------- */

static void gen_ws(buf *b)
{
    static const char *ws[] = {"", "", "", " ", "\n", "\t ", "\r\n"};
    buf_append_str(b, ws[rng() % SL_ARRAY_LEN(ws)]);
}

static void gen_string(buf *b)
{
    static const char *pieces[] = {
        "a", "key", "z", "msg", " ", "\\n", "\\\"", "\\\\", "\\/", "\\t", "\\u00e9", "\\u0000",
        "\\ud83d\\ude00", "\\ud800", "\\udfff", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
        "\\u001f", "0123456789abcdef", "\\b\\f\\r",
    };
    buf_append_char(b, '"');
    int n = (int)(rng() % 6);
    for (int i = 0; i < n; i++)
        buf_append_str(b, pieces[rng() % SL_ARRAY_LEN(pieces)]);
    buf_append_char(b, '"');
}

static void gen_number(buf *b)
{
    switch (rng() % 8) {
    case 0: buf_printf(b, "%lld", (long long)(int64_t)rng()); break;
    case 1: buf_printf(b, "%d", (int)(rng() % 1000) - 500); break;
    case 2: buf_printf(b, "%llu%llu", (unsigned long long)rng(), (unsigned long long)rng()); break;
    case 3: buf_printf(b, "%.17g", (double)(int64_t)rng() / (double)(rng() | 1)); break;
    case 4: buf_printf(b, "%de%d", (int)(rng() % 100), (int)(rng() % 600) - 300); break;
    case 5: buf_printf(b, "-0"); break;
    case 6: buf_printf(b, "%d.%03d", (int)(rng() % 100), (int)(rng() % 1000)); break;
    default: {
        uint64_t bits = rng();
        double f;
        memcpy(&f, &bits, sizeof(f));
        if (isfinite(f))
            buf_printf(b, "%.17g", f);
        else
            buf_append_str(b, "1.5");
    }
    }
}

static void gen_value(buf *b, int depth)
{
    gen_ws(b);
    unsigned pick = (unsigned)(rng() % (depth > 5 ? 6 : 8));
    switch (pick) {
    case 0: buf_append_str(b, "null"); break;
    case 1: buf_append_str(b, rng() % 2 ? "true" : "false"); break;
    case 2:
    case 3: gen_number(b); break;
    case 4:
    case 5: gen_string(b); break;
    case 6: {
        buf_append_char(b, '[');
        int n = (int)(rng() % 5);
        for (int i = 0; i < n; i++) {
            if (i)
                buf_append_char(b, ',');
            gen_value(b, depth + 1);
        }
        gen_ws(b);
        buf_append_char(b, ']');
        break;
    }
    default: {
        buf_append_char(b, '{');
        int n = (int)(rng() % 6);
        for (int i = 0; i < n; i++) {
            if (i)
                buf_append_char(b, ',');
            gen_ws(b);
            gen_string(b);
            gen_ws(b);
            buf_append_char(b, ':');
            gen_value(b, depth + 1);
        }
        gen_ws(b);
        buf_append_char(b, '}');
        break;
    }
    }
    gen_ws(b);
}

static void test_decode_matches_jansson_random(void **state)
{
    (void)state;
    for (int iter = 0; iter < 20000; iter++) {
        buf doc = BUF_INIT;
        gen_value(&doc, 0);
        oracle_verdict v = oracle_check(doc.data, doc.len);
        if (v != ORACLE_AGREE)
            fail_msg("generated document %s: verdict %d", doc.data, (int)v);
        /* A damaged copy must still get the same verdict from both. */
        if (doc.len) {
            doc.data[rng() % doc.len] = "\"{}[],:\\0x\xff"[rng() % 12];
            v = oracle_check(doc.data, doc.len);
            if (v != ORACLE_AGREE)
                fail_msg("damaged document %s: verdict %d", doc.data, (int)v);
        }
        buf_free(&doc);
    }
}

static void test_round_trip_is_stable(void **state)
{
    (void)state;
    for (int iter = 0; iter < 5000; iter++) {
        buf doc = BUF_INIT;
        gen_value(&doc, 0);
        arena *a = arena_new();
        value v1, v2;
        sl_error err;
        assert_int_equal(json_decode(a, doc.data, doc.len, &v1, &err), 0);
        buf e1 = BUF_INIT, e2 = BUF_INIT;
        assert_int_equal(json_encode_value(&e1, &v1), 0);
        assert_int_equal(json_decode(a, e1.data, e1.len, &v2, &err), 0);
        assert_int_equal(json_encode_value(&e2, &v2), 0);
        assert_true(value_equal(&v1, &v2));
        assert_string_equal(e1.data, e2.data);
        buf_free(&e1);
        buf_free(&e2);
        buf_free(&doc);
        arena_free(a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_string_long_runs),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_string_random_bytes),
        cmocka_unit_test(test_float_formats),
        cmocka_unit_test(test_float_round_trip_random),
        cmocka_unit_test(test_encode_value_tree),
        cmocka_unit_test(test_metric_counter_json),
        cmocka_unit_test(test_metric_gauge_and_set_json),
        cmocka_unit_test(test_metric_distribution_json),
        cmocka_unit_test(test_metric_histogram_and_summary_json),
        cmocka_unit_test(test_decode_numbers),
        cmocka_unit_test(test_decode_strings),
        cmocka_unit_test(test_decode_objects),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_depth),
        cmocka_unit_test(test_decode_matches_jansson_table),
        cmocka_unit_test(test_decode_matches_jansson_random),
        cmocka_unit_test(test_round_trip_is_stable),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    arena_cache_drain();
    return rc;
}
