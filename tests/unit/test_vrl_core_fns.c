/* test_vrl_core_fns.c - the core functions of the remap language (fn_core.c)
 * run inside programs: exists, del, merge, compact, the type assertions
 * string/int/float/bool/object/array, the is_* tests, the to_* coercions
 * with VRL's rules and messages, assert and log. Errors are read through
 * `_, err = f(...)`, which puts the call at byte 9 of the program. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "pipeline/log.h"
#include "tests/unit/vrl_program_test.h"

/* The message of the call's error: `_, err = CALL` on the event. */
static void assert_call_error(arena *a, const char *call, const char *in, const char *msg)
{
    char src[512], want[640];
    snprintf(src, sizeof(src), "_, err = %s\nerr", call);
    char name[64];
    size_t n = strcspn(call, "(!");
    snprintf(name, sizeof(name), "%.*s", (int)n, call);
    buf esc = BUF_INIT;
    json_encode_string(&esc, msg, strlen(msg));
    snprintf(want, sizeof(want), "\"function call error for \\\"%s\\\" at (9:%zu): %.*s", name,
             9 + strlen(call), (int)esc.len - 1, esc.data + 1);
    buf_free(&esc);
    assert_value(a, src, in, want);
}

/* ---- paths ----------------------------------------------------------------- */

static void test_exists(void **state)
{
    arena *a = *state;
    const char *ev = "{\"a\":{\"b\":null,\"c\":[1]},\"z\":0}";
    assert_value(a, "[exists(.a), exists(.a.b), exists(.a.x), exists(.a.c[0]), exists(.a.c[1])]",
                 ev, "[true,true,false,true,false]");
    assert_value(a, "[exists(.z), exists(.), exists(.a.c[-1]), exists(.a.b.deeper)]", ev,
                 "[true,true,true,false]");
    assert_value(a, "x = {\"k\": 1}\n[exists(x.k), exists(x.j)]", "{}", "[true,false]");
    assert_value(a, "%m = 1\n[exists(%m), exists(%n)]", "{}", "[true,false]");
}

static void test_del(void **state)
{
    arena *a = *state;
    assert_program(a, ".v = del(.a.b)", "{\"a\":{\"b\":{\"x\":1},\"c\":2}}",
                   "{\"a\":{\"c\":2},\"v\":{\"x\":1}}");
    assert_program(a, "del(.a.b, compact: true)", "{\"a\":{\"b\":1}}", "{}");
    assert_program(a, "del(.a[0].b, compact: true)", "{\"a\":[{\"b\":1}],\"k\":1}", "{\"k\":1}");
    assert_program(a, "del(.a.b, compact: false)", "{\"a\":{\"b\":1}}", "{\"a\":{}}");
    assert_program(a, "del(.a[-1])", "{\"a\":[1,2,3]}", "{\"a\":[1,2]}");
    assert_program(a, ".v = del(.missing.deep)", "{\"k\":1}", "{\"k\":1,\"v\":null}");
    assert_program(a, ".v = del(.a[5])", "{\"a\":[1]}", "{\"a\":[1],\"v\":null}");
    assert_value(a, "x = [1, 2]\ndel(x[0])\nx", "{}", "[2]");
    assert_value(a, "x = 5\ndel(x)\nx", "{}", "null");
}

/* ---- merge and compact ------------------------------------------------------ */

static void test_merge(void **state)
{
    arena *a = *state;
    assert_value(a, "merge({\"a\": 1, \"b\": 2}, {\"b\": 3, \"c\": 4})", "{}",
                 "{\"a\":1,\"b\":3,\"c\":4}");
    assert_value(a, "merge({\"n\": {\"x\": 1}}, {\"n\": {\"y\": 2}})", "{}",
                 "{\"n\":{\"y\":2}}");
    assert_value(a, "merge({\"n\": {\"x\": 1, \"d\": {\"p\": 1}}}, {\"n\": {\"y\": 2, \"d\": {\"q\": 2}}}, "
                    "deep: true)",
                 "{}", "{\"n\":{\"d\":{\"p\":1,\"q\":2},\"x\":1,\"y\":2}}");
    assert_value(a, "merge(.a, .b)\n.a", "{\"a\":{\"x\":1},\"b\":{\"y\":2}}", "{\"x\":1}");
    assert_call_error(a, "merge(.a, .b)", "{\"a\":{},\"b\":[1]}",
                      "argument \"from\": expected object, got array");
}

static void test_compact(void **state)
{
    arena *a = *state;
    assert_value(a, "compact([\"foo\", \"bar\", \"\", null, [], \"buzz\"], string: true, array: true, "
                    "null: true)",
                 "{}", "[\"foo\",\"bar\",\"buzz\"]");
    assert_value(a, "compact({\"field1\": 1, \"field2\": \"\", \"field3\": [], \"field4\": null}, "
                    "string: true, array: true, null: true)",
                 "{}", "{\"field1\":1}");
    /* Recursive by default: emptied children go too. */
    assert_value(a, "compact({\"a\": {\"b\": null}, \"c\": [[], 0], \"d\": false})", "{}",
                 "{\"c\":[0],\"d\":false}");
    assert_value(a, "compact({\"a\": {\"b\": null}}, recursive: false)", "{}",
                 "{\"a\":{\"b\":null}}");
    assert_value(a, "compact({\"a\": null, \"b\": \"\", \"c\": {}, \"d\": []}, null: false, "
                    "string: false, object: false, array: false)",
                 "{}", "{\"a\":null,\"b\":\"\",\"c\":{},\"d\":[]}");
    assert_value(a, "compact([\"-\", \" \", \"x\", null], nullish: true, null: false)", "{}",
                 "[\"x\"]");
    assert_call_error(a, "compact(.a)", "{\"a\":\"s\"}",
                      "argument \"value\": expected array or object, got string");
}

/* ---- type assertions and tests ----------------------------------------------- */

static void test_type_assertions(void **state)
{
    arena *a = *state;
    const char *ev = "{\"s\":\"x\",\"i\":1,\"f\":1.5,\"b\":true,\"o\":{},\"a\":[],\"n\":null}";
    assert_value(a, "[string!(.s), int!(.i), float!(.f), bool!(.b), object!(.o), array!(.a)]", ev,
                 "[\"x\",1,1.5,true,{},[]]");
    assert_call_error(a, "string(.i)", ev, "expected string, got integer");
    assert_call_error(a, "int(.s)", ev, "expected integer, got string");
    assert_call_error(a, "float(.i)", ev, "expected float, got integer");
    assert_call_error(a, "bool(.n)", ev, "expected boolean, got null");
    assert_call_error(a, "object(.a)", ev, "expected object, got array");
    assert_call_error(a, "array(.o)", ev, "expected array, got object");
}

static void test_type_tests(void **state)
{
    arena *a = *state;
    const char *ev = "{\"s\":\"x\",\"i\":1,\"f\":1.5,\"b\":false,\"o\":{},\"a\":[],\"n\":null}";
    assert_value(a, "[is_string(.s), is_integer(.i), is_float(.f), is_boolean(.b), is_object(.o), "
                    "is_array(.a), is_null(.n), is_null(.missing), is_timestamp(now())]",
                 ev, "[true,true,true,true,true,true,true,true,true]");
    assert_value(a, "[is_string(.i), is_integer(.f), is_float(.i), is_boolean(.n), is_object(.a), "
                    "is_array(.o), is_null(.b), is_timestamp(.s)]",
                 ev, "[false,false,false,false,false,false,false,false]");
}

/* ---- coercions ------------------------------------------------------------- */

static void test_to_string(void **state)
{
    arena *a = *state;
    assert_value(a, "[to_string(\"s\"), to_string(5), to_string(-12), to_string(true), "
                    "to_string(null)]",
                 "{}", "[\"s\",\"5\",\"-12\",\"true\",\"\"]");
    assert_value(a, "[to_string(1.5), to_string(5.0), to_string(0.1), to_string(-0.25), "
                    "to_string(100000000000000000000.0), to_string(0.0000001)]",
                 "{}", "[\"1.5\",\"5\",\"0.1\",\"-0.25\",\"100000000000000000000\",\"0.0000001\"]");
    assert_value(a, "to_string(t'2020-10-21T16:00:00Z')", "{}", "\"2020-10-21T16:00:00Z\"");
    assert_value(a, "to_string(t'2020-10-21T16:00:00.5Z')", "{}", "\"2020-10-21T16:00:00.500Z\"");
    assert_call_error(a, "to_string(.o)", "{\"o\":{}}", "unable to coerce object into string");
    assert_call_error(a, "to_string(.a)", "{\"a\":[]}", "unable to coerce array into string");
}

static void test_to_int(void **state)
{
    arena *a = *state;
    assert_value(a, "[to_int(5), to_int(5.6), to_int(-5.6), to_int(true), to_int(false), "
                    "to_int(null)]",
                 "{}", "[5,5,-5,1,0,0]");
    assert_value(a, "to_int(t'2020-12-30T22:20:53.824727Z')", "{}", "1609366853");
    assert_value(a, "[to_int!(\"20\"), to_int!(\"+5\"), to_int!(\"-5\"), "
                    "to_int!(\"9223372036854775807\")]",
                 "{}", "[20,5,-5,9223372036854775807]");
    assert_call_error(a, "to_int(\"foobar\")", "{}",
                      "Invalid integer \"foobar\": invalid digit found in string");
    assert_call_error(a, "to_int(\"\")", "{}",
                      "Invalid integer \"\": cannot parse integer from empty string");
    assert_call_error(a, "to_int(\"1.5\")", "{}",
                      "Invalid integer \"1.5\": invalid digit found in string");
    assert_call_error(a, "to_int(\"99999999999999999999\")", "{}",
                      "Invalid integer \"99999999999999999999\": number too large to fit in "
                      "target type");
    assert_call_error(a, "to_int(\"-99999999999999999999\")", "{}",
                      "Invalid integer \"-99999999999999999999\": number too small to fit in "
                      "target type");
    assert_call_error(a, "to_int(\"a\\\"b\")", "{}",
                      "Invalid integer \"a\\\"b\": invalid digit found in string");
    assert_call_error(a, "to_int(.a)", "{\"a\":[]}", "unable to coerce array into integer");
}

static void test_to_float(void **state)
{
    arena *a = *state;
    assert_value(a, "[to_float(5), to_float(1.5), to_float(true), to_float(null)]", "{}",
                 "[5.0,1.5,1.0,0.0]");
    assert_value(a, "[to_float!(\"12.5\"), to_float!(\"1e3\"), to_float!(\"-.5\"), "
                    "to_float!(\"7\"), to_float!(\"+2.\")]",
                 "{}", "[12.5,1000.0,-0.5,7.0,2.0]");
    assert_value(a, "to_float(t'2020-01-01T00:00:00.5Z')", "{}", "1577836800.5");
    assert_call_error(a, "to_float(\"abc\")", "{}",
                      "Invalid floating point number \"abc\": invalid float literal");
    assert_call_error(a, "to_float(\" 1\")", "{}",
                      "Invalid floating point number \" 1\": invalid float literal");
    assert_call_error(a, "to_float(\"\")", "{}",
                      "Invalid floating point number \"\": cannot parse float from empty string");
    assert_call_error(a, "to_float(\"NaN\")", "{}", "NaN number not supported \"NaN\"");
    assert_call_error(a, "to_float(.o)", "{\"o\":{}}", "unable to coerce object into float");
}

static void test_to_bool(void **state)
{
    arena *a = *state;
    assert_value(a, "[to_bool!(\"yes\"), to_bool!(\"t\"), to_bool!(\"TRUE\"), to_bool!(\"Y\"), "
                    "to_bool!(\"2\"), to_bool!(\"-1\")]",
                 "{}", "[true,true,true,true,true,true]");
    assert_value(a, "[to_bool!(\"no\"), to_bool!(\"f\"), to_bool!(\"False\"), to_bool!(\"0\"), "
                    "to_bool!(\"n\")]",
                 "{}", "[false,false,false,false,false]");
    assert_value(a, "[to_bool(0.0), to_bool(0), to_bool(3), to_bool(null), to_bool(true)]", "{}",
                 "[false,false,true,false,true]");
    assert_call_error(a, "to_bool(\"maybe\")", "{}", "Invalid boolean value \"maybe\"");
    assert_call_error(a, "to_bool(.t)", "{\"t\":[]}", "unable to coerce array into boolean");
}

static void test_to_timestamp(void **state)
{
    arena *a = *state;
    assert_value(a, "to_timestamp!(\"2020-10-21T16:00:00Z\")", "{}", "\"2020-10-21T16:00:00Z\"");
    assert_value(a, "to_timestamp!(\"2020-10-21 18:00:00+02:00\")", "{}",
                 "\"2020-10-21T16:00:00Z\"");
    assert_value(a, "to_timestamp!(\"2020-10-21 16:00:00\")", "{}", "\"2020-10-21T16:00:00Z\"");
    assert_value(a, "to_timestamp!(\"1603296000\")", "{}", "\"2020-10-21T16:00:00Z\"");
    assert_value(a, "to_timestamp!(1603296000)", "{}", "\"2020-10-21T16:00:00Z\"");
    assert_value(a, "to_timestamp!(1603296000500, unit: \"milliseconds\")", "{}",
                 "\"2020-10-21T16:00:00.500Z\"");
    assert_value(a, "to_timestamp!(1603296000.25)", "{}", "\"2020-10-21T16:00:00.250Z\"");
    assert_value(a, "to_timestamp(t'2020-10-21T16:00:00Z')", "{}", "\"2020-10-21T16:00:00Z\"");
    assert_call_error(a, "to_timestamp(\"yesterday\")", "{}",
                      "No matching timestamp format found for \"yesterday\"");
    assert_call_error(a, "to_timestamp(true)", "{}", "unable to coerce boolean into timestamp");
    assert_call_error(a, "to_timestamp(9223372036854775807)", "{}",
                      "timestamp out of range: 9223372036854775807");
    assert_compile_error("to_timestamp!(1, unit: \"weeks\")",
                         "error[E403]: invalid argument\n"
                         "  --> 1:15\n"
                         "   |\n"
                         " 1 | to_timestamp!(1, unit: \"weeks\")\n"
                         "   |               ^^^^^^^^^^^^^^^^ unit must be one of \"seconds\", "
                         "\"milliseconds\", \"microseconds\", \"nanoseconds\"");
}

/* ---- assert and log ----------------------------------------------------------- */

static void test_assert(void **state)
{
    arena *a = *state;
    assert_value(a, "assert!(\"foo\" == \"foo\", message: \"\\\"foo\\\" must be \\\"foo\\\"!\")", "{}",
                 "true");
    assert_run_fails(a, ".a = 1\nassert!(\"foo\" == \"bar\", message: \"\\\"foo\\\" must be "
                        "\\\"foo\\\"!\")",
                     "{}", VRL_FAILED,
                     "function call error for \"assert\" at (7:67): \"foo\" must be \"foo\"!");
    assert_call_error(a, "assert(1 > 2)", "{}", "assertion failed");
    assert_compile_error("assert(1 > 2)", "error[E100]: unhandled error\n"
                                          "  --> 1:1\n"
                                          "   |\n"
                                          " 1 | assert(1 > 2)\n"
                                          "   | ^^^^^^^^^^^^^ this expression is fallible\n"
                                          "   = handle the error with `!`, `??` or `value, err = "
                                          "...`");
}

static void test_log(void **state)
{
    arena *a = *state;
    slog_configure(SLOG_ERROR, SLOG_TEXT);
    assert_value(a, "log(\"hello\")\nlog(.a, level: \"debug\", rate_limit_secs: 5)", "{\"a\":[1]}",
                 "null");
    assert_value(a, "lvl = \"warn\"\nlog({\"k\": 1}, level: lvl)", "{}", "null");
    assert_call_error(a, "log(1, level: .l)", "{\"l\":\"loud\"}", "unknown log level");
    assert_compile_error("log(1, level: \"loud\")",
                         "error[E403]: invalid argument\n"
                         "  --> 1:5\n"
                         "   |\n"
                         " 1 | log(1, level: \"loud\")\n"
                         "   |     ^^^^^^^^^^^^^^^^ level must be one of \"trace\", \"debug\", "
                         "\"info\", \"warn\", \"error\"");
    slog_configure(SLOG_INFO, SLOG_TEXT);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, vrl_test_setup, vrl_test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_exists),
        T(test_del),
        T(test_merge),
        T(test_compact),
        T(test_type_assertions),
        T(test_type_tests),
        T(test_to_string),
        T(test_to_int),
        T(test_to_float),
        T(test_to_bool),
        T(test_to_timestamp),
        T(test_assert),
        T(test_log),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, vrl_group_teardown);
}
