/* test_value.c - the value tree: sorted maps, arrays, deep copies, equality,
 * Vector's JSON size estimate, and the event helpers built on them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/event.h"
#include "pipeline/json.h"

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

static void assert_key_at(const value_map *m, uint32_t i, const char *key)
{
    assert_int_equal(m->entries[i].klen, strlen(key));
    assert_memory_equal(m->entries[i].key, key, strlen(key));
}

static void test_map_keeps_keys_sorted(void **state)
{
    arena *a = *state;
    value_map *m = value_map_new(a, 0);
    assert_non_null(m);
    const char *keys[] = {"m", "b", "ab", "a", "z", "", "b\0x", "zz", "a b"};
    size_t lens[] = {1, 1, 2, 1, 1, 0, 3, 2, 3};
    for (size_t i = 0; i < SL_ARRAY_LEN(keys); i++) {
        value *slot = value_map_put(a, m, keys[i], lens[i]);
        assert_non_null(slot);
        assert_int_equal(slot->kind, VALUE_NULL);
        *slot = value_int((int64_t)i);
    }
    assert_int_equal(m->len, SL_ARRAY_LEN(keys));
    /* Byte order, a shorter key first on a common prefix. */
    assert_key_at(m, 0, "");
    assert_key_at(m, 1, "a");
    assert_key_at(m, 2, "a b");
    assert_key_at(m, 3, "ab");
    assert_key_at(m, 4, "b");
    assert_int_equal(m->entries[5].klen, 3);
    assert_key_at(m, 6, "m");
    assert_key_at(m, 7, "z");
    assert_key_at(m, 8, "zz");
    assert_int_equal(value_map_get(m, "ab", 2)->u.i, 2);
    assert_null(value_map_get(m, "abc", 3));
    /* Putting an existing key returns its slot. */
    value *again = value_map_put(a, m, "ab", 2);
    assert_int_equal(again->u.i, 2);
    assert_int_equal(m->len, SL_ARRAY_LEN(keys));
}

static void test_map_delete(void **state)
{
    arena *a = *state;
    value_map *m = value_map_new(a, 2);
    for (int i = 0; i < 100; i++) {
        char *k = arena_alloc(a, 8);
        int n = snprintf(k, 8, "k%02d", i);
        *value_map_put(a, m, k, (size_t)n) = value_int(i);
    }
    assert_int_equal(m->len, 100);
    assert_true(value_map_del(m, "k50", 3));
    assert_false(value_map_del(m, "k50", 3));
    assert_false(value_map_del(m, "nope", 4));
    assert_int_equal(m->len, 99);
    assert_null(value_map_get(m, "k50", 3));
    assert_int_equal(value_map_get(m, "k51", 3)->u.i, 51);
    assert_int_equal(value_map_get(m, "k49", 3)->u.i, 49);
    for (uint32_t i = 1; i < m->len; i++)
        assert_true(memcmp(m->entries[i - 1].key, m->entries[i].key, 3) < 0);
}

static void test_array_push_grows(void **state)
{
    arena *a = *state;
    value v = value_new_array(a, 0);
    assert_int_equal(v.kind, VALUE_ARRAY);
    for (int i = 0; i < 1000; i++) {
        value *slot = value_array_push(a, v.u.arr);
        assert_non_null(slot);
        *slot = value_int(i);
    }
    assert_int_equal(v.u.arr->len, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(v.u.arr->items[i].u.i, i);
}

static value sample_tree(arena *a, char *text)
{
    value root = value_new_map(a, 0);
    *value_map_put(a, root.u.map, "s", 1) = value_bytes(text, strlen(text));
    *value_map_put(a, root.u.map, "f", 1) = value_float(1.5);
    *value_map_put(a, root.u.map, "t", 1) = value_timestamp(1597263831404000000LL);
    value inner = value_new_array(a, 0);
    *value_array_push(a, inner.u.arr) = value_bool(true);
    *value_array_push(a, inner.u.arr) = value_null();
    value deep = value_new_map(a, 0);
    *value_map_put(a, deep.u.map, "k", 1) = value_bytes(text, 1);
    *value_array_push(a, inner.u.arr) = deep;
    *value_map_put(a, root.u.map, "list", 4) = inner;
    return root;
}

static void test_copy_is_deep(void **state)
{
    arena *a = *state;
    char text[] = "hello world";
    value src = sample_tree(a, text);
    arena *dst = arena_new();
    value copy;
    assert_int_equal(value_copy(dst, &src, &copy), 0);
    assert_true(value_equal(&src, &copy));
    /* Changing the source's bytes leaves the copy alone. */
    text[0] = 'J';
    assert_false(value_equal(&src, &copy));
    const value *s = value_map_get(copy.u.map, "s", 1);
    assert_memory_equal(s->u.s, "hello world", 11);
    assert_true(s->u.s != text);
    arena_free(dst);
}

static void test_equality(void **state)
{
    arena *a = *state;
    value x = value_int(1), y = value_float(1.0);
    assert_false(value_equal(&x, &y));
    value n1 = value_float(NAN), n2 = value_float(NAN);
    assert_false(value_equal(&n1, &n2));
    value z1 = value_float(0.0), z2 = value_float(-0.0);
    assert_true(value_equal(&z1, &z2));
    value b1 = value_bytes("ab", 2), b2 = value_bytes("abc", 2);
    assert_true(value_equal(&b1, &b2));
    char t1[] = "x", t2[] = "x";
    value m1 = sample_tree(a, t1), m2 = sample_tree(a, t2);
    assert_true(value_equal(&m1, &m2));
    *value_map_put(a, m2.u.map, "extra", 5) = value_null();
    assert_false(value_equal(&m1, &m2));
}

static size_t encoded_length(const value *v)
{
    buf b = BUF_INIT;
    assert_int_equal(json_encode_value(&b, v), 0);
    size_t n = b.len;
    buf_free(&b);
    return n;
}

static void test_size_estimate(void **state)
{
    arena *a = *state;
    value cases[] = {
        value_null(), value_bool(true), value_bool(false), value_int(0), value_int(-7),
        value_int(INT64_MIN), value_int(INT64_MAX), value_float(0.1), value_float(1e20),
        value_float(-2.5), value_bytes("plain text", 10), value_timestamp(0),
        value_timestamp(1597263831404000000LL), value_timestamp(951825600000120000LL),
        value_timestamp(1735689599000000001LL), value_timestamp(-1),
        value_new_map(a, 0), value_new_array(a, 0),
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        assert_int_equal(value_json_size_estimate(&cases[i]), encoded_length(&cases[i]));
    char text[] = "abc";
    value tree = sample_tree(a, text);
    assert_int_equal(value_json_size_estimate(&tree), encoded_length(&tree));
    /* Strings are counted as their bytes plus quotes, escapes or not. */
    value esc = value_bytes("a\"b", 3);
    assert_int_equal(value_json_size_estimate(&esc), 5);
}

static void test_log_event_fields(void **state)
{
    arena *a = *state;
    event e;
    assert_int_equal(event_init_log(a, &e, 0), 0);
    assert_int_equal(e.type, EVENT_LOG);
    assert_int_equal(event_log_set(a, &e, EVENT_FIELD_MESSAGE, value_bytes("hi", 2)), 0);
    assert_int_equal(event_log_set(a, &e, EVENT_FIELD_HOST, value_bytes("h", 1)), 0);
    const value *msg = event_log_get(&e, "message");
    assert_non_null(msg);
    assert_memory_equal(msg->u.s, "hi", 2);
    assert_null(event_log_get(&e, "nope"));
    assert_int_equal(event_json_size_estimate(&e), strlen("{\"host\":\"h\",\"message\":\"hi\"}"));

    event copy;
    arena *dst = arena_new();
    assert_int_equal(event_copy(dst, &e, &copy), 0);
    assert_true(value_equal(&e.u.log, &copy.u.log));
    arena_free(dst);
}

static void test_metric_tags_sorted_unique(void **state)
{
    arena *a = *state;
    event e;
    char name[] = "requests";
    assert_int_equal(event_init_metric(a, &e, name, "app"), 0);
    name[0] = 'X';
    assert_string_equal(e.u.metric->name, "requests");
    assert_string_equal(e.u.metric->namespace_, "app");
    assert_int_equal(event_metric_set_tag(a, &e, "zone", "b"), 0);
    assert_int_equal(event_metric_set_tag(a, &e, "host", "h1"), 0);
    assert_int_equal(event_metric_set_tag(a, &e, "bare", NULL), 0);
    assert_int_equal(event_metric_set_tag(a, &e, "host", "h2"), 0);
    metric *m = e.u.metric;
    assert_int_equal(m->ntags, 3);
    assert_string_equal(m->tags[0].key, "bare");
    assert_null(m->tags[0].value);
    assert_string_equal(m->tags[1].key, "host");
    assert_string_equal(m->tags[1].value, "h2");
    assert_string_equal(m->tags[2].key, "zone");
    assert_string_equal(metric_kind_name(METRIC_INCREMENTAL), "incremental");
    assert_string_equal(metric_kind_name(METRIC_ABSOLUTE), "absolute");
    assert_string_equal(metric_type_name(METRIC_AGGREGATED_HISTOGRAM), "aggregated_histogram");
    assert_string_equal(metric_type_name(METRIC_SET), "set");
}

static void test_metric_copy_and_estimate(void **state)
{
    arena *a = *state;
    event e;
    assert_int_equal(event_init_metric(a, &e, "latency", NULL), 0);
    assert_int_equal(event_metric_set_tag(a, &e, "host", "h"), 0);
    metric *m = e.u.metric;
    m->type = METRIC_DISTRIBUTION;
    m->has_timestamp = true;
    m->timestamp = 1597263831404000000LL;
    metric_sample samples[] = {{1.5, 2}, {3.0, 1}};
    m->v.dist.samples = samples;
    m->v.dist.n = 2;

    arena *dst = arena_new();
    event copy;
    assert_int_equal(event_copy(dst, &e, &copy), 0);
    samples[0].value = 99;
    assert_true(copy.u.metric->v.dist.samples[0].value == 1.5);
    assert_string_equal(copy.u.metric->tags[0].value, "h");
    assert_true(copy.u.metric->name != m->name);

    buf b = BUF_INIT;
    assert_int_equal(json_encode_event(&b, &copy), 0);
    assert_int_equal(event_json_size_estimate(&copy), b.len);
    buf_free(&b);

    event set;
    assert_int_equal(event_init_metric(a, &set, "users", NULL), 0);
    set.u.metric->type = METRIC_SET;
    static const char *values[] = {"a", "b"};
    set.u.metric->v.set.values = values;
    set.u.metric->v.set.n = 2;
    assert_int_equal(event_copy(dst, &set, &copy), 0);
    assert_string_equal(copy.u.metric->v.set.values[1], "b");
    assert_true(copy.u.metric->v.set.values[1] != values[1]);
    assert_int_equal(json_encode_event(&b, &copy), 0);
    assert_int_equal(event_json_size_estimate(&copy), b.len);
    buf_free(&b);
    arena_free(dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_map_keeps_keys_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_push_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_is_deep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equality, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_estimate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_event_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metric_tags_sorted_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metric_copy_and_estimate, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    arena_cache_drain();
    return rc;
}
