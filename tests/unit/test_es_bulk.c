/* test_es_bulk.c - the Elasticsearch bulk lines and response parser: action
 * lines byte for byte, documents with Vector's edits (id_key removed, data
 * stream fields and @timestamp) without touching the event, and the
 * verdicts read from real and synthetic bulk responses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "sinks/es_bulk.h"

/* The response examples of PROTOCOLS.md seed the fuzz corpus; the tests
 * read them from there, next to this file's directory. */
static void corpus_path(char *out, size_t cap, const char *name)
{
    const char *unit = strstr(__FILE__, "unit/test_es_bulk.c");
    int dir = unit ? (int)(unit - __FILE__) : 0;
    snprintf(out, cap, "%.*sfuzz/corpus/es_bulk/%s", dir, __FILE__, name);
}

/* ---- helpers ---- */

static void decode_log(arena *a, const char *json, event *e)
{
    sl_error err;
    memset(e, 0, sizeof(*e));
    e->type = EVENT_LOG;
    assert_int_equal(json_decode(a, json, strlen(json), &e->u.log, &err), 0);
}

static char *document_of(const char *json, const es_doc_edits *ed)
{
    arena *a = arena_new(), *scratch = arena_new();
    assert_non_null(a);
    assert_non_null(scratch);
    event e;
    decode_log(a, json, &e);
    buf before = BUF_INIT, out = BUF_INIT;
    assert_int_equal(json_encode_event(&before, &e), 0);
    assert_int_equal(es_bulk_write_document(&out, &e, ed, scratch), 0);
    buf after = BUF_INIT;
    assert_int_equal(json_encode_event(&after, &e), 0);
    assert_string_equal(before.data, after.data);   /* the event is untouched */
    buf_free(&before);
    buf_free(&after);
    arena_free(scratch);
    arena_free(a);
    return buf_detach(&out);
}

static char *read_file(const char *name, size_t *len)
{
    char file_path[1024];
    corpus_path(file_path, sizeof(file_path), name);
    FILE *f = fopen(file_path, "rb");
    assert_non_null(f);
    buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), 0);
    fclose(f);
    *len = b.len;
    return buf_detach(&b);
}

typedef struct seen {
    int calls;
    char log[2048];
} seen;

static void record_failure(void *ctx, const es_bulk_item *it, http_item verdict)
{
    seen *s = ctx;
    size_t used = strlen(s->log);
    snprintf(s->log + used, sizeof(s->log) - used, "%zu:%d:%c:%.*s:%.*s;", it->pos, it->status,
             verdict == HTTP_ITEM_RETRY ? 'R' : 'X', (int)it->id.n, it->id.p, (int)it->type.n,
             it->type.p);
    s->calls++;
}

static es_bulk_result parse(const char *body, size_t n, uint8_t *items, seen *s)
{
    const char *why;
    memset(s, 0, sizeof(*s));
    memset(items, 0xEE, n);
    return es_bulk_parse(body, strlen(body), n, items, record_failure, s, &why);
}

/* ---- action lines ---- */

static void test_action_lines(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_int_equal(es_bulk_write_action(&b, ES_ACTION_INDEX, "sluice-2026.11.21", 17, NULL, 0), 0);
    assert_string_equal(b.data, "{\"index\":{\"_index\":\"sluice-2026.11.21\"}}\n");
    buf_reset(&b);
    assert_int_equal(es_bulk_write_action(&b, ES_ACTION_CREATE, "logs-app-default", 16, "a\"1", 3), 0);
    assert_string_equal(b.data, "{\"create\":{\"_index\":\"logs-app-default\",\"_id\":\"a\\\"1\"}}\n");
    buf_free(&b);
}

static void test_id_of(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    value s = value_bytes("abc", 3), i = value_int(-42), f = value_float(1.5);
    assert_true(es_bulk_id_of(&s, &b));
    assert_int_equal(b.len, 3);
    buf_reset(&b);
    assert_true(es_bulk_id_of(&i, &b));
    assert_string_equal(b.data, "-42");
    buf_reset(&b);
    assert_false(es_bulk_id_of(&f, &b));
    buf_free(&b);
}

/* ---- documents ---- */

static void test_document_plain(void **state)
{
    (void)state;
    char *d = document_of("{\"message\":\"hi\",\"n\":1}", NULL);
    assert_string_equal(d, "{\"message\":\"hi\",\"n\":1}\n");
    free(d);
}

static void test_document_id_removed(void **state)
{
    (void)state;
    path p;
    sl_error err;
    assert_int_equal(path_parse("id", &p, &err), 0);
    es_doc_edits ed = {.remove = &p};
    char *d = document_of("{\"id\":\"x1\",\"message\":\"hi\"}", &ed);
    assert_string_equal(d, "{\"message\":\"hi\"}\n");
    free(d);
    path_free(&p);

    assert_int_equal(path_parse(".meta.doc_id", &p, &err), 0);
    ed.remove = &p;
    d = document_of("{\"meta\":{\"doc_id\":\"x\",\"k\":2},\"message\":\"hi\"}", &ed);
    assert_string_equal(d, "{\"message\":\"hi\",\"meta\":{\"k\":2}}\n");
    free(d);
    d = document_of("{\"meta\":\"flat\"}", &ed);   /* nothing to remove */
    assert_string_equal(d, "{\"meta\":\"flat\"}\n");
    free(d);
    path_free(&p);
}

static void test_document_data_stream(void **state)
{
    (void)state;
    es_doc_edits ed = {.rename_timestamp = true, .data_stream = {"logs", "generic", "default"}};
    char *d = document_of("{\"message\":\"m\",\"timestamp\":\"2026-11-21T10:00:00Z\"}", &ed);
    assert_string_equal(d, "{\"@timestamp\":\"2026-11-21T10:00:00Z\",\"data_stream\":{\"dataset\":"
                           "\"generic\",\"namespace\":\"default\",\"type\":\"logs\"},\"message\":\"m\"}\n");
    free(d);
    /* fields the event has are kept (Vector's or_insert) */
    d = document_of("{\"data_stream\":{\"dataset\":\"nginx\"}}", &ed);
    assert_string_equal(d, "{\"data_stream\":{\"dataset\":\"nginx\",\"namespace\":\"default\","
                           "\"type\":\"logs\"}}\n");
    free(d);
}

/* ---- responses ---- */

static void test_all_ok_stops_early(void **state)
{
    (void)state;
    uint8_t items[4];
    seen s;
    /* what follows "errors":false is not even read */
    assert_int_equal(parse("{\"took\":3,\"errors\":false,\"items\":[garbage", 4, items, &s),
                     ES_BULK_ALL_OK);
    assert_int_equal(s.calls, 0);
    assert_int_equal(parse("{\"errors\" : false }", 4, items, &s), ES_BULK_ALL_OK);
    assert_int_equal(parse("{\"errors\":falsey}", 4, items, &s), ES_BULK_MALFORMED);
}

static void test_example_files(void **state)
{
    (void)state;
    size_t len;
    const char *why;
    uint8_t items[6];
    char *body = read_file("bulk_response_example1.json", &len);
    assert_int_equal(es_bulk_parse(body, len, 4, items, NULL, NULL, &why), ES_BULK_ALL_OK);
    free(body);

    body = read_file("bulk_response_example2.json", &len);
    assert_int_equal(es_bulk_parse(body, len, 3, items, NULL, NULL, &why), ES_BULK_ITEMS);
    assert_int_equal(items[0], HTTP_ITEM_REJECTED);   /* 404 on update */
    assert_int_equal(items[1], HTTP_ITEM_REJECTED);
    assert_int_equal(items[2], HTTP_ITEM_DELIVERED);
    assert_int_equal(es_bulk_parse(body, len, 2, items, NULL, NULL, &why), ES_BULK_MALFORMED);
    assert_string_equal(why, "the response has not one item per document");
    free(body);

    body = read_file("bulk_response_example3.json", &len);   /* no status, no errors flag */
    assert_int_equal(es_bulk_parse(body, len, 2, items, NULL, NULL, &why), ES_BULK_ITEMS);
    assert_int_equal(items[0], HTTP_ITEM_REJECTED);
    assert_int_equal(items[1], HTTP_ITEM_REJECTED);
    free(body);

    seen s = {0};
    body = read_file("SYNTHETIC_bulk_response_mixed_failures.json", &len);
    assert_int_equal(es_bulk_parse(body, len, 6, items, record_failure, &s, &why), ES_BULK_ITEMS);
    uint8_t want[6] = {HTTP_ITEM_DELIVERED, HTTP_ITEM_DELIVERED, HTTP_ITEM_REJECTED,
                       HTTP_ITEM_RETRY, HTTP_ITEM_REJECTED, HTTP_ITEM_RETRY};
    assert_memory_equal(items, want, 6);
    assert_string_equal(s.log, "2:400:X:a3:document_parsing_exception;"
                               "3:429:R:a4:es_rejected_execution_exception;"
                               "4:400:X:a5:illegal_argument_exception;"
                               "5:503:R:a6:unavailable_shards_exception;");
    free(body);
}

static void test_conflict_only_counts_for_create(void **state)
{
    (void)state;
    uint8_t items[2];
    seen s;
    assert_int_equal(parse("{\"errors\":true,\"items\":[{\"create\":{\"status\":409}},"
                           "{\"index\":{\"status\":409,\"error\":{\"type\":\"v\"}}}]}",
                           2, items, &s),
                     ES_BULK_ITEMS);
    assert_int_equal(items[0], HTTP_ITEM_DELIVERED);
    assert_int_equal(items[1], HTTP_ITEM_REJECTED);
}

static void test_odd_fields(void **state)
{
    (void)state;
    uint8_t items[5];
    seen s;
    /* status as a float or out of range is no status; error as a string or
       null; extra members and nesting are skipped */
    assert_int_equal(parse("{\"items\":[{\"index\":{\"status\":201.0}},"
                           "{\"index\":{\"status\":5000,\"error\":\"boom\"}},"
                           "{\"index\":{\"status\":500,\"error\":null,\"x\":[[{}],{\"a\":[1e5]}]}},"
                           "{\"create\":{\"_id\":7,\"status\":400},\"extra\":true},"
                           "{\"index\":{\"status\":\"429\"}}],\"errors\":true}",
                           5, items, &s),
                     ES_BULK_ITEMS);
    uint8_t want[5] = {HTTP_ITEM_DELIVERED, HTTP_ITEM_REJECTED, HTTP_ITEM_RETRY,
                       HTTP_ITEM_REJECTED, HTTP_ITEM_DELIVERED};
    assert_memory_equal(items, want, 5);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "", "<html>502</html>", "[]", "{}", "{\"errors\":true}", "{\"errors\":true,\"items\":{}}",
        "{\"items\":[{\"index\":1}]}", "{\"items\":[{}]}", "{\"items\":[]} x",
        "{\"items\":[{\"index\":{\"status\":200}}]", "{\"items\":[{\"index\":{\"_id\":\"\\x\"}}]}",
        "{\"items\":[{\"index\":{\"status\":-}}]}", "{\"items\":[{\"index\":{\"status\":01}}]}",
        "{\"items\":[{\"index\":{\"_id\":\"a\nb\"}}]}",
        "{\"items\":[{\"index\":{\"status\":400}}],\"items\":[{\"index\":{}}]}",
    };
    uint8_t items[1];
    seen s;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        es_bulk_result r = parse(bodies[i], 1, items, &s);
        if (r != ES_BULK_MALFORMED)
            fail_msg("accepted: %s", bodies[i]);
    }
    /* nesting beyond the limit is refused, not recursed into */
    buf deep = BUF_INIT;
    assert_int_equal(buf_append_str(&deep, "{\"took\":"), 0);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(buf_append_char(&deep, '['), 0);
    assert_int_equal(parse(deep.data, 1, items, &s), ES_BULK_MALFORMED);
    buf_free(&deep);
}

static void test_more_items_than_events(void **state)
{
    (void)state;
    uint8_t items[2] = {9, 9};
    seen s;
    const char *why;
    const char *body = "{\"errors\":true,\"items\":[{\"index\":{\"status\":429}},"
                       "{\"index\":{\"status\":201}},{\"index\":{\"status\":400}}]}";
    memset(&s, 0, sizeof(s));
    assert_int_equal(es_bulk_parse(body, strlen(body), 1, items, record_failure, &s, &why),
                     ES_BULK_MALFORMED);
    assert_int_equal(items[1], 9);   /* nothing written past n */
}

static void test_unescape(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    es_slice s = {"a\\\"b\\n\\u00e9\\ud83d\\ude00\\ud800x\\/", 0};
    s.n = strlen(s.p);
    assert_int_equal(es_bulk_unescape(&b, s), 0);
    assert_string_equal(b.data, "a\"b\n\xC3\xA9\xF0\x9F\x98\x80\xEF\xBF\xBDx/");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_lines),
        cmocka_unit_test(test_id_of),
        cmocka_unit_test(test_document_plain),
        cmocka_unit_test(test_document_id_removed),
        cmocka_unit_test(test_document_data_stream),
        cmocka_unit_test(test_all_ok_stops_early),
        cmocka_unit_test(test_example_files),
        cmocka_unit_test(test_conflict_only_counts_for_create),
        cmocka_unit_test(test_odd_fields),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_more_items_than_events),
        cmocka_unit_test(test_unescape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
