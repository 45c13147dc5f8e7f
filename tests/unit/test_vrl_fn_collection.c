/* test_vrl_fn_collection.c - length, keys, values, push, append and
 * flatten: VRL's documented examples and unit cases, that push and append
 * leave their argument unchanged, and the errors for wrong argument
 * types. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/vrl_fn_test.h"

#define CHECK(a, name, want, ...) tcheck_json((a), (name), (want), TARGS(__VA_ARGS__))
#define CHECK_FAILS(a, name, want, ...) \
    tcheck_json_fails((a), (name), (want), TARGS(__VA_ARGS__), false)

static void test_length(void **state)
{
    arena *a = *state;
    CHECK(a, "length", "2", "[0,1]");
    CHECK(a, "length", "1", "{\"foo\":\"bar\"}");
    CHECK(a, "length", "6", "\"foobar\"");
    CHECK(a, "length", "3", "{\"foo\":\"bar\",\"baz\":true,\"baq\":[1,2,3]}");
    CHECK(a, "length", "0", "{}");
    CHECK(a, "length", "1", "{\"nested\":{\"foo\":\"bar\"}}");
    CHECK(a, "length", "6", "[1,2,3,4,true,\"hello\"]");
    CHECK(a, "length", "0", "[]");
    CHECK(a, "length", "11", "\"hello world\"");
    CHECK(a, "length", "2", "\"\\u00e9\"");
    CHECK_FAILS(a, "length", "expected array, object or string, got integer", "42");
}

static void test_keys_values(void **state)
{
    arena *a = *state;
    CHECK(a, "keys", "[\"key1\",\"key2\"]", "{\"key1\":\"val1\",\"key2\":\"val2\"}");
    CHECK(a, "values", "[\"val1\",\"val2\"]", "{\"key1\":\"val1\",\"key2\":\"val2\"}");
    CHECK(a, "keys", "[\"a\",\"b\"]", "{\"b\":{\"x\":1},\"a\":[1]}");
    CHECK(a, "values", "[[1],{\"x\":1}]", "{\"b\":{\"x\":1},\"a\":[1]}");
    CHECK(a, "keys", "[]", "{}");
    CHECK(a, "values", "[]", "{}");
    CHECK_FAILS(a, "keys", "expected object, got array", "[]");
    CHECK_FAILS(a, "values", "expected object, got string", "\"x\"");
}

static void test_push_append(void **state)
{
    arena *a = *state;
    CHECK(a, "push", "[1,2,3]", "[1,2]", "3");
    CHECK(a, "push", "[{\"a\":1}]", "[]", "{\"a\":1}");
    CHECK(a, "push", "[null]", "[]", "null");
    CHECK(a, "append", "[1,2,3,4]", "[1,2]", "[3,4]");
    CHECK(a, "append", "[1,2]", "[1,2]", "[]");
    CHECK_FAILS(a, "push", "expected array, got object", "{}", "1");
    CHECK_FAILS(a, "append", "expected array, got integer", "[1]", "2");

    /* The argument is not changed, even with spare capacity. */
    value arr = value_new_array(a, 8);
    arr.u.arr->items[0] = value_int(1);
    arr.u.arr->len = 1;
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, arr);
    targ(&t, 1, value_int(2));
    assert_call_json(a, "push", &t, "[1,2]");
    assert_int_equal(arr.u.arr->len, 1);
    targs_free(&t);
}

static void test_flatten(void **state)
{
    arena *a = *state;
    CHECK(a, "flatten", "{\"foo.bar\":true}", "{\"foo\":{\"bar\":true}}");
    CHECK(a, "flatten", "{\"foo_bar\":true}", "{\"foo\":{\"bar\":true}}", "\"_\"");
    CHECK(a, "flatten", "[true]", "[[true]]");
    CHECK(a, "flatten", "[42]", "[42]");
    CHECK(a, "flatten", "[42,43,44]", "[42,[43,44]]");
    CHECK(a, "flatten", "[42,43]", "[42,[],43]");
    CHECK(a, "flatten", "[42,43,44,45,46]", "[42,[43,44,[45,46]]]");
    CHECK(a, "flatten", "[42,43,44,45]", "[[42,43],[44,45]]");
    CHECK(a, "flatten", "{\"parent\":\"child\"}", "{\"parent\":\"child\"}");
    CHECK(a, "flatten", "{\"key\":\"val\",\"parent.child1\":1,\"parent.child2\":2}",
          "{\"parent\":{\"child1\":1,\"child2\":2},\"key\":\"val\"}");
    CHECK(a, "flatten", "{\"key\":\"val\",\"parent.child1\":1,\"parent.child2.grandchild1\":1,"
          "\"parent.child2.grandchild2\":2}",
          "{\"parent\":{\"child1\":1,\"child2\":{\"grandchild1\":1,\"grandchild2\":2}},\"key\":\"val\"}");
    CHECK(a, "flatten", "{\"key\":\"val\",\"parent_child1\":[1,[2,3]],\"parent_child2_grandchild1\":1,"
          "\"parent_child2_grandchild2\":[1,[2,3],4]}",
          "{\"parent\":{\"child1\":[1,[2,3]],\"child2\":{\"grandchild1\":1,\"grandchild2\":[1,[2,3],4]}},"
          "\"key\":\"val\"}", "\"_\"");
    CHECK(a, "flatten", "[{\"parent1\":{\"child1\":1,\"child2\":2}},{\"parent2\":{\"child3\":3}}]",
          "[{\"parent1\":{\"child1\":1,\"child2\":2}},[{\"parent2\":{\"child3\":3}}]]");
    CHECK(a, "flatten", "{\"b\":1}", "{\"a\":{},\"b\":1}");
    /* Colliding keys: the later one (in key order) wins, as in VRL. */
    CHECK(a, "flatten", "{\"a.b\":1}", "{\"a\":{\"b\":2},\"a.b\":1}");
    CHECK_FAILS(a, "flatten", "expected object or array, got string", "\"x\"");
    CHECK_FAILS(a, "flatten", "expected string, got integer", "{}", "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        VRL_FN_TEST(test_length),
        VRL_FN_TEST(test_keys_values),
        VRL_FN_TEST(test_push_append),
        VRL_FN_TEST(test_flatten),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
