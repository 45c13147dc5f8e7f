/* test_path.c - Vector's field path syntax: parsing, errors naming the
 * offset, lookups and VRL-style assignment. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "pipeline/json.h"
#include "pipeline/path.h"

static void assert_field(const path *p, size_t i, const char *key)
{
    assert_false(p->segs[i].is_index);
    assert_int_equal(p->segs[i].klen, strlen(key));
    assert_string_equal(p->segs[i].key, key);
}

static void assert_index(const path *p, size_t i, int64_t index)
{
    assert_true(p->segs[i].is_index);
    assert_int_equal(p->segs[i].index, index);
}

static void test_parse_fields(void **state)
{
    (void)state;
    path p;
    sl_error err;
    assert_int_equal(path_parse(".kubernetes.pod_name", &p, &err), 0);
    assert_int_equal(p.n, 2);
    assert_field(&p, 0, "kubernetes");
    assert_field(&p, 1, "pod_name");
    path_free(&p);

    assert_int_equal(path_parse("kubernetes.pod_name", &p, &err), 0);
    assert_int_equal(p.n, 2);
    path_free(&p);

    assert_int_equal(path_parse("message", &p, &err), 0);
    assert_int_equal(p.n, 1);
    assert_field(&p, 0, "message");
    path_free(&p);

    assert_int_equal(path_parse(".app-name.@timestamp", &p, &err), 0);
    assert_field(&p, 0, "app-name");
    assert_field(&p, 1, "@timestamp");
    path_free(&p);
}

static void test_parse_quoted_and_indexes(void **state)
{
    (void)state;
    path p;
    sl_error err;
    assert_int_equal(path_parse(".\"key with space\".x", &p, &err), 0);
    assert_int_equal(p.n, 2);
    assert_field(&p, 0, "key with space");
    assert_field(&p, 1, "x");
    path_free(&p);

    assert_int_equal(path_parse(".\"a\\\"b\\\\c.d\"", &p, &err), 0);
    assert_int_equal(p.n, 1);
    assert_field(&p, 0, "a\"b\\c.d");
    path_free(&p);

    assert_int_equal(path_parse(".labels.\"app.kubernetes.io/name\"", &p, &err), 0);
    assert_field(&p, 1, "app.kubernetes.io/name");
    path_free(&p);

    assert_int_equal(path_parse(".items[0].name[-1][12]", &p, &err), 0);
    assert_int_equal(p.n, 5);
    assert_field(&p, 0, "items");
    assert_index(&p, 1, 0);
    assert_field(&p, 2, "name");
    assert_index(&p, 3, -1);
    assert_index(&p, 4, 12);
    path_free(&p);

    assert_int_equal(path_parse(".\"\"", &p, &err), 0);
    assert_int_equal(p.n, 1);
    assert_field(&p, 0, "");
    path_free(&p);

    assert_int_equal(path_parse(".[1]", &p, &err), 0);
    assert_index(&p, 0, 1);
    path_free(&p);
}

static void test_parse_root(void **state)
{
    (void)state;
    path p;
    sl_error err;
    assert_int_equal(path_parse(".", &p, &err), 0);
    assert_int_equal(p.n, 0);
    path_free(&p);
}

static void assert_parse_error(const char *text, const char *want)
{
    path p;
    sl_error err;
    assert_int_equal(path_parse(text, &p, &err), -1);
    assert_string_equal(err.msg, want);
    assert_null(p.segs);
}

static void test_parse_errors(void **state)
{
    (void)state;
    assert_parse_error("", "invalid path \"\" at offset 0: empty path");
    assert_parse_error(".a..b", "invalid path \".a..b\" at offset 3: expected a field name");
    assert_parse_error(".a.", "invalid path \".a.\" at offset 3: expected a field name");
    assert_parse_error(".a[", "invalid path \".a[\" at offset 3: expected an array index");
    assert_parse_error(".a[1", "invalid path \".a[1\" at offset 4: expected ']'");
    assert_parse_error(".a[x]", "invalid path \".a[x]\" at offset 3: expected an array index");
    assert_parse_error(".\"abc", "invalid path \".\"abc\" at offset 5: unterminated quoted field name");
    assert_parse_error(".\"a\\qb\"", "invalid path \".\"a\\qb\"\" at offset 4: unknown escape in quoted field name");
    assert_parse_error(".a b", "invalid path \".a b\" at offset 2: expected '.', '[' or the end");
    assert_parse_error(".a[99999999999999999999]",
                       "invalid path \".a[99999999999999999999]\" at offset 3: array index out of range");
}

static value decode(arena *a, const char *text)
{
    value v;
    sl_error err;
    assert_int_equal(json_decode(a, text, strlen(text), &v, &err), 0);
    return v;
}

static const value *get(const value *root, const char *text)
{
    path p;
    sl_error err;
    assert_int_equal(path_parse(text, &p, &err), 0);
    const value *v = path_get(root, &p);
    path_free(&p);
    return v;
}

static void test_get(void **state)
{
    (void)state;
    arena *a = arena_new();
    value root = decode(a, "{\"a\":{\"b\":[10,20,{\"c\":true}]},\"key with space\":1,\"n\":null}");
    assert_int_equal(get(&root, ".a.b[1]")->u.i, 20);
    assert_int_equal(get(&root, ".a.b[-3]")->u.i, 10);
    assert_true(get(&root, "a.b[-1].c")->u.b);
    assert_null(get(&root, ".a.b[3]"));
    assert_null(get(&root, ".a.b[-4]"));
    assert_null(get(&root, ".a.x"));
    assert_null(get(&root, ".a.b.c"));
    assert_null(get(&root, ".a[0]"));
    assert_int_equal(get(&root, ".\"key with space\"")->u.i, 1);
    assert_int_equal(get(&root, ".n")->kind, VALUE_NULL);
    assert_ptr_equal(get(&root, "."), &root);
    arena_free(a);
}

static value *set(arena *a, value *root, const char *text)
{
    path p;
    sl_error err;
    assert_int_equal(path_parse(text, &p, &err), 0);
    value *slot = path_set(a, root, &p);
    path_free(&p);
    assert_non_null(slot);
    return slot;
}

static void assert_json(const value *v, const char *want)
{
    buf b = BUF_INIT;
    assert_int_equal(json_encode_value(&b, v), 0);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_set_creates_containers(void **state)
{
    (void)state;
    arena *a = arena_new();
    value root = value_new_map(a, 0);
    *set(a, &root, ".a.b") = value_int(1);
    *set(a, &root, ".list[2]") = value_bool(true);
    *set(a, &root, ".list[0].x") = value_int(5);
    *set(a, &root, ".\"k.d\"") = value_null();
    assert_json(&root, "{\"a\":{\"b\":1},\"k.d\":null,\"list\":[{\"x\":5},null,true]}");
    /* Non-containers on the way are replaced, as VRL assignment does. */
    *set(a, &root, ".a.b.c") = value_int(2);
    assert_json(value_map_get(root.u.map, "a", 1), "{\"b\":{\"c\":2}}");
    /* A negative index past the start pads at the front. */
    *set(a, &root, ".neg") = value_new_array(a, 0);
    *set(a, &root, ".neg[0]") = value_int(1);
    *set(a, &root, ".neg[-1]") = value_int(7);
    *set(a, &root, ".neg[-3]") = value_int(9);
    assert_json(value_map_get(root.u.map, "neg", 3), "[9,null,7]");
    /* The key lives in the event's arena, not in the path. */
    path p;
    sl_error err;
    assert_int_equal(path_parse(".fresh", &p, &err), 0);
    *path_set(a, &root, &p) = value_int(3);
    path_free(&p);
    assert_int_equal(value_map_get(root.u.map, "fresh", 5)->u.i, 3);
    assert_ptr_equal(set(a, &root, "."), &root);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_parse_quoted_and_indexes),
        cmocka_unit_test(test_parse_root),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_set_creates_containers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    arena_cache_drain();
    return rc;
}
