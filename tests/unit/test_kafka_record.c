/* test_kafka_record.c - a Kafka record as events
 * (sources/kafka/kafka_record.c): Vector's fields with their types, a null
 * key, headers as a map (a header without value left out, a repeated name
 * keeping its last value), `""` paths dropping their field, nested paths,
 * the json codec (object, array of objects, the source's fields over the
 * payload's), bad JSON refused without an event, tombstones without an
 * event, and a batch without room left untouched. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pipeline/path.h"
#include "sources/kafka/kafka_record.h"

static const kafka_record_keys default_keys = {"message_key", "topic", "partition", "offset",
                                               "headers"};

static kafka_record_view record(const char *payload)
{
    static const kafka_header_view headers[] = {
        {"trace", 5, "abc", 3},
        {"empty", 5, NULL, 0},
        {"trace", 5, "def", 3},
        {"bin", 3, "\0\xff", 2},
    };
    return (kafka_record_view){
        .topic = "logs",
        .topic_len = 4,
        .partition = 2,
        .offset = 41,
        .timestamp_ms = 1700000000123,
        .key = "user-7",
        .key_len = 6,
        .payload = payload,
        .payload_len = strlen(payload),
        .headers = headers,
        .nheaders = SL_ARRAY_LEN(headers),
    };
}

static const value *field(const event *e, const char *text)
{
    path p;
    sl_error err;
    assert_int_equal(path_parse(text, &p, &err), 0);
    const value *v = path_get(&e->u.log, &p);
    path_free(&p);
    return v;
}

static void assert_bytes(const value *v, const char *want, size_t n)
{
    assert_non_null(v);
    assert_int_equal(v->kind, VALUE_BYTES);
    assert_int_equal(v->len, n);
    assert_memory_equal(v->u.s, want, n);
}

static void assert_sorted(const value_map *m)
{
    for (uint32_t i = 1; i < m->len; i++)
        assert_true(value_entry_compare(&m->entries[i - 1], &m->entries[i]) < 0);
}

static void test_bytes_event_has_vector_fields(void **state)
{
    (void)state;
    kafka_record_format f;
    sl_error err;
    assert_int_equal(kafka_record_format_init(&f, KAFKA_CODEC_BYTES, &default_keys, &err), 0);
    batch *b = batch_new(8, NULL);
    kafka_record_view r = record("hello");
    assert_int_equal(kafka_record_add(&f, b, &r, 5, &err), KAFKA_RECORD_OK);
    assert_int_equal(b->count, 1);
    const event *e = &b->events[0];
    assert_int_equal(e->u.log.u.map->len, 8);
    assert_sorted(e->u.log.u.map);
    assert_bytes(field(e, "message"), "hello", 5);
    assert_bytes(field(e, "source_type"), "kafka", 5);
    assert_bytes(field(e, "message_key"), "user-7", 6);
    assert_bytes(field(e, "topic"), "logs", 4);
    assert_int_equal(field(e, "partition")->u.i, 2);
    assert_int_equal(field(e, "offset")->u.i, 41);
    const value *ts = field(e, "timestamp");
    assert_int_equal(ts->kind, VALUE_TIMESTAMP);
    assert_int_equal(ts->u.ts, 1700000000123LL * 1000000);
    const value *h = field(e, "headers");
    assert_int_equal(h->kind, VALUE_MAP);
    assert_int_equal(h->u.map->len, 2);
    assert_bytes(field(e, "headers.trace"), "def", 3);
    assert_bytes(field(e, "headers.bin"), "\0\xff", 2);
    assert_null(field(e, "headers.empty"));
    batch_release(b, ACK_DELIVERED);
    kafka_record_format_free(&f);
}

static void test_null_key_no_headers_no_timestamp(void **state)
{
    (void)state;
    kafka_record_format f;
    sl_error err;
    assert_int_equal(kafka_record_format_init(&f, KAFKA_CODEC_BYTES, &default_keys, &err), 0);
    batch *b = batch_new(8, NULL);
    kafka_record_view r = record("x");
    r.key = NULL;
    r.key_len = 0;
    r.nheaders = 0;
    r.timestamp_ms = -1;
    assert_int_equal(kafka_record_add(&f, b, &r, 777, &err), KAFKA_RECORD_OK);
    const event *e = &b->events[0];
    assert_int_equal(field(e, "message_key")->kind, VALUE_NULL);
    assert_int_equal(field(e, "headers")->kind, VALUE_MAP);
    assert_int_equal(field(e, "headers")->u.map->len, 0);
    assert_int_equal(field(e, "timestamp")->u.ts, 777);
    batch_release(b, ACK_DELIVERED);
    kafka_record_format_free(&f);
}

static void test_empty_keys_drop_fields_and_paths_nest(void **state)
{
    (void)state;
    kafka_record_format f;
    sl_error err;
    kafka_record_keys keys = {"", ".kafka.topic", NULL, "", "kafka.headers"};
    assert_int_equal(kafka_record_format_init(&f, KAFKA_CODEC_BYTES, &keys, &err), 0);
    batch *b = batch_new(8, NULL);
    kafka_record_view r = record("m");
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_OK);
    const event *e = &b->events[0];
    assert_null(field(e, "message_key"));
    assert_null(field(e, "partition"));
    assert_null(field(e, "offset"));
    assert_null(field(e, "topic"));
    assert_bytes(field(e, "kafka.topic"), "logs", 4);
    assert_bytes(field(e, "kafka.headers.trace"), "def", 3);
    assert_sorted(e->u.log.u.map);
    batch_release(b, ACK_DELIVERED);
    kafka_record_format_free(&f);
    /* A key naming a standard field replaces it, as Vector's later insert does. */
    kafka_record_keys over = {"message", "topic", "partition", "offset", "headers"};
    assert_int_equal(kafka_record_format_init(&f, KAFKA_CODEC_BYTES, &over, &err), 0);
    b = batch_new(8, NULL);
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_OK);
    assert_int_equal(b->events[0].u.log.u.map->len, 7);
    assert_bytes(field(&b->events[0], "message"), "user-7", 6);
    batch_release(b, ACK_DELIVERED);
    kafka_record_format_free(&f);
    kafka_record_keys whole = {".", "topic", "partition", "offset", "headers"};
    assert_int_equal(kafka_record_format_init(&f, KAFKA_CODEC_BYTES, &whole, &err), -1);
}

static void test_json_codec(void **state)
{
    (void)state;
    kafka_record_format f;
    sl_error err;
    assert_int_equal(kafka_record_format_init(&f, KAFKA_CODEC_JSON, &default_keys, &err), 0);
    batch *b = batch_new(4, NULL);
    kafka_record_view r = record("{\"pet\":\"p-1\",\"topic\":\"mine\",\"hr\":92}");
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_OK);
    const event *e = &b->events[0];
    assert_bytes(field(e, "pet"), "p-1", 3);
    assert_int_equal(field(e, "hr")->u.i, 92);
    assert_bytes(field(e, "topic"), "logs", 4);
    assert_null(field(e, "message"));
    assert_int_equal(field(e, "offset")->u.i, 41);
    r = record("[{\"a\":1},{\"a\":2}]");
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_OK);
    assert_int_equal(b->count, 3);
    assert_int_equal(field(&b->events[2], "a")->u.i, 2);
    /* Three more do not fit in the one slot left: nothing is added. */
    r = record("[{\"a\":1},{\"a\":2},{\"a\":3}]");
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_NO_ROOM);
    assert_int_equal(b->count, 3);
    r = record("{\"a\":");
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_BAD);
    assert_true(strlen(err.msg) > 0);
    r = record("42");
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_BAD);
    assert_int_equal(b->count, 3);
    batch_release(b, ACK_DELIVERED);
    kafka_record_format_free(&f);
}

static void test_tombstone_and_full_batch(void **state)
{
    (void)state;
    kafka_record_format f;
    sl_error err;
    assert_int_equal(kafka_record_format_init(&f, KAFKA_CODEC_BYTES, &default_keys, &err), 0);
    batch *b = batch_new(1, NULL);
    kafka_record_view r = record("");
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_OK);
    assert_int_equal(b->count, 0);
    r = record("one");
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_OK);
    assert_int_equal(kafka_record_add(&f, b, &r, 0, &err), KAFKA_RECORD_NO_ROOM);
    assert_int_equal(b->count, 1);
    batch_release(b, ACK_DELIVERED);
    kafka_record_format_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_event_has_vector_fields),
        cmocka_unit_test(test_null_key_no_headers_no_timestamp),
        cmocka_unit_test(test_empty_keys_drop_fields_and_paths_nest),
        cmocka_unit_test(test_json_codec),
        cmocka_unit_test(test_tombstone_and_full_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
