/* test_vrl_fn_string.c - contains, starts_with, ends_with, downcase, upcase,
 * replace, split, join, slice, strip_whitespace and truncate: VRL's
 * documented examples and unit cases, Unicode, invalid UTF-8 (read as
 * U+FFFD, never a crash) and the errors for wrong argument types. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/vrl_fn_test.h"

#define STR(s) value_bytes((s), sizeof(s) - 1)
#define FFFD "\xEF\xBF\xBD"

/* Calls name(args...) where each arg is a JSON literal (NULL ends the list,
 * "r:..." is a regex literal) and compares the result's JSON. */
#define CHECK(a, name, want, ...) tcheck_json((a), (name), (want), TARGS(__VA_ARGS__))
#define CHECK_FAILS(a, name, want, ...) \
    tcheck_json_fails((a), (name), (want), TARGS(__VA_ARGS__), false)

/* A call with raw byte strings (for invalid UTF-8). */
static void check_raw(arena *a, const char *name, const char *want, value v0, value v1)
{
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, v0);
    if (v1.kind != VALUE_NULL)
        targ(&t, 1, v1);
    assert_call_json(a, name, &t, want);
    targs_free(&t);
}

static void test_contains(void **state)
{
    arena *a = *state;
    CHECK(a, "contains", "false", "\"banana\"", "\"AnA\"");
    CHECK(a, "contains", "true", "\"banana\"", "\"AnA\"", "false");
    CHECK(a, "contains", "false", "\"foo\"", "\"bar\"");
    CHECK(a, "contains", "true", "\"foobar\"", "\"oba\"");
    CHECK(a, "contains", "true", "\"foo\"", "\"foo\"");
    CHECK(a, "contains", "true", "\"fooBAR\"", "\"BAR\"");
    CHECK(a, "contains", "false", "\"fooBAR\"", "\"bar\"", "true");
    CHECK(a, "contains", "true", "\"foobar\"", "\"BAR\"", "false");
    CHECK(a, "contains", "true", "\"foo\"", "\"\"");
    CHECK(a, "contains", "true", "\"\xC3\x89" "COLE\"", "\"\xC3\xA9\"", "false");
    check_raw(a, "contains", "true", STR("a\xff" "b"), STR("\xfe"));
    CHECK_FAILS(a, "contains", "expected string, got integer", "1", "\"a\"");
    CHECK_FAILS(a, "contains", "expected boolean, got string", "\"a\"", "\"a\"", "\"no\"");
}

static void test_starts_ends_with(void **state)
{
    arena *a = *state;
    CHECK(a, "starts_with", "false", "\"foobar\"", "\"F\"");
    CHECK(a, "starts_with", "true", "\"foobar\"", "\"F\"", "false");
    CHECK(a, "starts_with", "false", "\"foobar\"", "\"bar\"");
    CHECK(a, "starts_with", "false", "\"foo\"", "\"foobar\"");
    CHECK(a, "starts_with", "true", "\"foo\"", "\"foo\"");
    CHECK(a, "starts_with", "false", "\"foobar\"", "\"oba\"");
    CHECK(a, "starts_with", "true", "\"\xCE\xBE\xF0\x9B\x8B\x99 zook\"", "\"\xCE\x9E\xF0\x9B\x8B\x99\"",
          "false");
    CHECK(a, "starts_with", "false", "\"\xCE\xBE\xF0\x9B\x8B\x99 zook\"", "\"\xCE\x9E\xF0\x9B\x8B\x99\"");
    CHECK(a, "ends_with", "true", "\"abc\"", "\"bc\"");
    CHECK(a, "ends_with", "true", "\"abc\"", "\"BC\"", "false");
    CHECK(a, "ends_with", "false", "\"abc\"", "\"BC\"");
    CHECK(a, "ends_with", "false", "\"foobar\"", "\"foo\"");
    CHECK(a, "ends_with", "false", "\"bar\"", "\"foobar\"");
    check_raw(a, "starts_with", "true", STR("\xff" "abc"), STR("\xff"));
    CHECK_FAILS(a, "ends_with", "expected string, got null", "\"abc\"", "null");
}

static void test_case(void **state)
{
    arena *a = *state;
    CHECK(a, "downcase", "\"foo 2 bar\"", "\"FOO 2 BAR\"");
    CHECK(a, "upcase", "\"FOO 2 BAR\"", "\"foo 2 bar\"");
    CHECK(a, "downcase", "\"\xC3\xA9\x63ole \xCE\xBE\"", "\"\xC3\x89\x43OLE \xCE\x9E\"");
    CHECK(a, "upcase", "\"STRASSE\"", "\"stra\xC3\x9F\x65\"");
    check_raw(a, "downcase", "\"" FFFD " a\"", STR("\xff A"), value_null());
    check_raw(a, "upcase", "\"" FFFD FFFD "\"", STR("\xe2\x82\xff"), value_null());
    CHECK_FAILS(a, "upcase", "expected string, got array", "[]");
}

static void test_strip_whitespace(void **state)
{
    arena *a = *state;
    CHECK(a, "strip_whitespace", "\"A sentence.\"", "\"  A sentence.  \"");
    CHECK(a, "strip_whitespace", "\"foobar\"", "\"  foobar\"");
    CHECK(a, "strip_whitespace", "\"foo bar\"", "\"foo bar  \"");
    CHECK(a, "strip_whitespace", "\"foo bar\"", "\"\\n\\nfoo bar\\n  \"");
    CHECK(a, "strip_whitespace", "\"\"", "\"      \"");
    CHECK(a, "strip_whitespace", "\"\"", "\"\"");
    CHECK(a, "strip_whitespace", "\"\xE2\x9D\xA4 hi \xE2\x9D\xA4\"",
          "\" \xE3\x80\x80\xE2\x81\x9F\xE2\x80\xAF\xC2\xA0\\t \xE2\x9D\xA4 hi \xE2\x9D\xA4 \\t\xC2\xA0"
          "\xE2\x80\xAF\xE2\x81\x9F\xE3\x80\x80 \"");
    check_raw(a, "strip_whitespace", "\"" FFFD "\"", STR(" \xff "), value_null());
    CHECK_FAILS(a, "strip_whitespace", "expected string, got float", "1.5");
}

static void test_replace(void **state)
{
    arena *a = *state;
    CHECK(a, "replace", "\"Apples not Bananas\"", "\"Apples and Bananas\"", "\"and\"", "\"not\"");
    CHECK(a, "replace", "\"Apples and Pineapples\"", "\"Apples and Bananas\"", "r:(?i)bananas",
          "\"Pineapples\"");
    CHECK(a, "replace", "\"Pineapples and Bananas\"", "\"Bananas and Bananas\"", "\"Bananas\"",
          "\"Pineapples\"", "1");
    CHECK(a, "replace", "\"123\"", "\"foo123bar\"", "r:foo(?P<num>\\d+)bar", "\"$num\"");
    CHECK(a, "replace", "\"fiibar\"", "\"foobar\"", "\"o\"", "\"i\"");
    static const char *const counts[][2] = {
        {"-1", "\"I like opples ond bononos\""}, {"0", "\"I like apples and bananas\""},
        {"1", "\"I like opples and bananas\""}, {"2", "\"I like opples ond bananas\""},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(counts); i++) {
        CHECK(a, "replace", counts[i][1], "\"I like apples and bananas\"", "\"a\"", "\"o\"", counts[i][0]);
        CHECK(a, "replace", counts[i][1], "\"I like apples and bananas\"", "r:a", "\"o\"", counts[i][0]);
    }
    CHECK(a, "replace", "\"I like biscuits and bananas\"", "\"I like [apples] and bananas\"",
          "r:\\[apples\\]", "\"biscuits\"");
    CHECK(a, "replace", "\"b-a $ $x [a]\"", "\"a-b\"", "r:(\\w)-(?<second>\\w)",
          "\"$second-$1 $$ $$x [${1}]\"");
    CHECK(a, "replace", "\" !\"", "\"ab\"", "r:(a)(b)", "\"$1a $3!\"");
    CHECK(a, "replace", "\"-a-b-\"", "\"ab\"", "\"\"", "\"-\"");
    CHECK(a, "replace", "\"-a-b-\"", "\"ab\"", "r:x*", "\"-\"");
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, STR("a\xff" "b"));
    targ_str(&t, 1, "b");
    targ_str(&t, 2, "c");
    assert_call_json(a, "replace", &t, "\"a" FFFD "c\"");
    targ_regex(&t, 1, "(?<x>.)$");
    targ_str(&t, 2, "<$x>");
    assert_call_json(a, "replace", &t, "\"a" FFFD "<b>\"");
    targs_free(&t);
}

static void test_replace_errors(void **state)
{
    arena *a = *state;
    targs t;
    targs_init(&t);
    targ_str(&t, 0, "abc");
    targ(&t, 1, value_int(1));
    targ_str(&t, 2, "x");
    assert_call_fails(a, "replace", &t, "expected string, got integer");
    targ_str(&t, 1, "b");
    targ(&t, 3, value_bool(true));
    assert_call_fails(a, "replace", &t, "expected integer, got boolean");
    targs_free(&t);
}

static void test_split(void **state)
{
    arena *a = *state;
    CHECK(a, "split", "[\"apples\",\"pears\",\"bananas\"]", "\"apples and pears and bananas\"", "\" and \"");
    CHECK(a, "split", "[\"apples\",\"pears and bananas\"]", "\"apples and pears and bananas\"",
          "\" and \"", "2");
    CHECK(a, "split", "[\"foo\",\"ar\"]", "\"foobar\"", "\"b\"");
    CHECK(a, "split", "[\"\",\"r\",\"z\"]", "\"barbaz\"", "r:ba");
    CHECK(a, "split", "[\"\"]", "\"\"", "\" \"");
    CHECK(a, "split", "[\"foo\"]", "\"foo\"", "\" \"");
    CHECK(a, "split", "[\"This\",\"is\",\"a\",\"long\",\"string.\"]", "\"This is a long string.\"", "\" \"");
    CHECK(a, "split", "[\"This\",\"is a long string\"]", "\"This is a long string\"", "r: ", "2");
    CHECK(a, "split", "[\"This\",\"is\",\"long\",\"string.\"]", "\"ThisaisAlongAstring.\"", "r:(?i)a");
    CHECK(a, "split", "[\"\xCB\x99\xC6\x83uol\",\"\xC9\x90\"]", "\"\xCB\x99\xC6\x83uol \xC9\x90\"", "\" \"");
    CHECK(a, "split", "[\"This\",\"is\",\"a\",\"long\",\"string.\"]", "\"This is a long string.\"", "\" \"",
          "2000");
    CHECK(a, "split", "[]", "\"This is a long string.\"", "\" \"", "0");
    CHECK(a, "split", "[]", "\"This is a long string.\"", "\" \"", "-1");
    CHECK(a, "split", "[\"\",\"a\",\"b\",\"\"]", "\"ab\"", "\"\"");
    CHECK(a, "split", "[\"\",\"a\",\"b\",\"\"]", "\"ab\"", "r:");
    check_raw(a, "split", "[\"a\",\"" FFFD "b\"]", STR("a \xff" "b"), STR(" "));
    CHECK_FAILS(a, "split", "expected string, got boolean", "true", "\" \"");
}

static void test_join(void **state)
{
    arena *a = *state;
    CHECK(a, "join", "\"bringustogether\"", "[\"bring\",\"us\",\"together\"]");
    CHECK(a, "join", "\"sources, transforms, sinks\"", "[\"sources\",\"transforms\",\"sinks\"]", "\", \"");
    CHECK(a, "join", "\"one two three\"", "[\"one\",\"two\",\"three\"]", "\" \"");
    CHECK(a, "join", "\"\"", "[]", "\",\"");
    CHECK_FAILS(a, "join", "all array items must be strings", "[\"one\",\"two\",3]");
    CHECK_FAILS(a, "join", "expected array, got string", "\"one\"");
    targs t;
    targs_init(&t);
    value arr = value_new_array(a, 2);
    arr.u.arr->items[0] = STR("\xff");
    arr.u.arr->items[1] = STR("b");
    arr.u.arr->len = 2;
    targ_runtime(&t, 0, arr);
    assert_call_json(a, "join", &t, "\"" FFFD "b\"");
    targs_free(&t);
}

static void test_slice(void **state)
{
    arena *a = *state;
    CHECK(a, "slice", "\"bar\"", "\"foobar\"", "3");
    CHECK(a, "slice", "\"ob\"", "\"foobar\"", "2", "4");
    CHECK(a, "slice", "[1,2]", "[0,1,2]", "1");
    CHECK(a, "slice", "\"foo\"", "\"foo\"", "0");
    CHECK(a, "slice", "\"oo\"", "\"foo\"", "-2");
    CHECK(a, "slice", "\"\"", "\"foo\"", "3");
    CHECK(a, "slice", "\"\"", "\"foo\"", "2", "2");
    CHECK(a, "slice", "\"foo\"", "\"foo\"", "0", "4");
    CHECK(a, "slice", "\"oo\"", "\"foo\"", "1", "5");
    CHECK(a, "slice", "\"docious\"", "\"Supercalifragilisticexpialidocious\"", "-7");
    CHECK(a, "slice", "\"cali\"", "\"Supercalifragilisticexpialidocious\"", "5", "9");
    CHECK(a, "slice", "[1,2]", "[0,1,2]", "-2");
    CHECK(a, "slice", "[\"ook\",true]", "[0,\"ook\",true]", "1");
    CHECK(a, "slice", "\"fo\"", "\"foo\"", "0", "-1");
    CHECK_FAILS(a, "slice", "\"start\" must be between \"-3\" and \"3\"", "\"foo\"", "4");
    CHECK_FAILS(a, "slice", "\"start\" must be between \"-3\" and \"3\"", "\"foo\"", "-4");
    CHECK_FAILS(a, "slice", "\"end\" must be greater or equal to \"start\"", "\"foo\"", "2", "1");
    CHECK_FAILS(a, "slice", "expected array or string, got object", "{}", "0");
}

static void test_truncate(void **state)
{
    arena *a = *state;
    CHECK(a, "truncate", "\"foo\"", "\"foobar\"", "3");
    CHECK(a, "truncate", "\"foo...\"", "\"foobarzoo\"", "3", "\"...\"");
    CHECK(a, "truncate", "\"foo [TRUNCATED]\"", "\"foo bar zoo\"", "4", "\"[TRUNCATED]\"");
    CHECK(a, "truncate", "\"\"", "\"Super\"", "0");
    CHECK(a, "truncate", "\"...\"", "\"Super\"", "0", "\"...\"");
    CHECK(a, "truncate", "\"Super\"", "\"Super\"", "10");
    CHECK(a, "truncate", "\"Super\"", "\"Super\"", "5", "\".\"");
    CHECK(a, "truncate", "\"Super...\"", "\"Supercalifragilisticexpialidocious\"", "5", "\"...\"");
    CHECK(a, "truncate", "\"\xE2\x99\x94\xE2\x99\x95...\"", "\"\xE2\x99\x94\xE2\x99\x95\xE2\x99\x96\"", "2",
          "\"...\"");
    CHECK(a, "truncate", "\"S[TRUNCATED]\"", "\"Super\"", "1", "\"[TRUNCATED]\"");
    CHECK(a, "truncate", "\"\"", "\"Super\"", "-3");
    targs t;
    targs_init(&t);
    targ_str(&t, 0, "Super");
    targ(&t, 1, value_int(2));
    targ(&t, 3, value_bool(true));
    assert_call_json(a, "truncate", &t, "\"Su...\"");
    targs_free(&t);
    check_raw(a, "truncate", "\"" FFFD "\"", STR("\xff\xfe"), value_int(1));
    CHECK_FAILS(a, "truncate", "expected integer, got string", "\"Super\"", "\"3\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        VRL_FN_TEST(test_contains),
        VRL_FN_TEST(test_starts_ends_with),
        VRL_FN_TEST(test_case),
        VRL_FN_TEST(test_strip_whitespace),
        VRL_FN_TEST(test_replace),
        VRL_FN_TEST(test_replace_errors),
        VRL_FN_TEST(test_split),
        VRL_FN_TEST(test_join),
        VRL_FN_TEST(test_slice),
        VRL_FN_TEST(test_truncate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
