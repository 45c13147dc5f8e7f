/* test_vrl_fn_regex.c - match, match_any, parse_regex and parse_regex_all:
 * VRL's documented examples, named and numbered groups, groups that do not
 * take part, invalid UTF-8 subjects, catastrophic backtracking bounded by
 * the match limit, and the errors for a wrong argument or no match. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/vrl_fn_test.h"

#define STR(s) value_bytes((s), sizeof(s) - 1)

static void parse_regex_with(arena *a, const char *subject, const char *pattern, bool numeric,
                             const char *want)
{
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, value_bytes(subject, strlen(subject)));
    targ_regex(&t, 1, pattern);
    if (numeric)
        targ(&t, 2, value_bool(true));
    assert_call_json(a, "parse_regex", &t, want);
    targs_free(&t);
}

static void test_parse_regex_examples(void **state)
{
    arena *a = *state;
    parse_regex_with(a, "8.7.6.5 - zorp", "^(?P<host>[\\w\\.]+) - (?P<user>[\\w]+)", false,
                     "{\"host\":\"8.7.6.5\",\"user\":\"zorp\"}");
    parse_regex_with(a, "8.7.6.5 - zorp", "^(?P<host>[\\w\\.]+) - (?P<user>[\\w]+)", true,
                     "{\"0\":\"8.7.6.5 - zorp\",\"1\":\"8.7.6.5\",\"2\":\"zorp\","
                     "\"host\":\"8.7.6.5\",\"user\":\"zorp\"}");
    parse_regex_with(a, "first group and second group", "(?P<number>.*?) group", false,
                     "{\"number\":\"first\"}");
}

static const char *const access_re =
    "^(?P<host>[\\w\\.]+) - (?P<user>[\\w]+) (?P<bytes_in>[\\d]+) \\[(?P<timestamp>.*)\\] "
    "\"(?P<method>[\\w]+) (?P<path>.*)\" (?P<status>[\\d]+) (?P<bytes_out>[\\d]+)$";

static void test_parse_regex_many_groups_sorted(void **state)
{
    arena *a = *state;
    const char *line = "5.86.210.12 - zieme4647 5667 [19/06/2019:17:20:49 -0400] "
                       "\"GET /embrace/supply-chains/dynamic/vertical\" 201 20574";
    parse_regex_with(a, line, access_re, false,
                     "{\"bytes_in\":\"5667\",\"bytes_out\":\"20574\",\"host\":\"5.86.210.12\","
                     "\"method\":\"GET\",\"path\":\"/embrace/supply-chains/dynamic/vertical\","
                     "\"status\":\"201\",\"timestamp\":\"19/06/2019:17:20:49 -0400\","
                     "\"user\":\"zieme4647\"}");
    parse_regex_with(a, line, access_re, true,
                     "{\"0\":\"5.86.210.12 - zieme4647 5667 [19/06/2019:17:20:49 -0400] "
                     "\\\"GET /embrace/supply-chains/dynamic/vertical\\\" 201 20574\","
                     "\"1\":\"5.86.210.12\",\"2\":\"zieme4647\",\"3\":\"5667\","
                     "\"4\":\"19/06/2019:17:20:49 -0400\",\"5\":\"GET\","
                     "\"6\":\"/embrace/supply-chains/dynamic/vertical\",\"7\":\"201\","
                     "\"8\":\"20574\",\"bytes_in\":\"5667\",\"bytes_out\":\"20574\","
                     "\"host\":\"5.86.210.12\",\"method\":\"GET\","
                     "\"path\":\"/embrace/supply-chains/dynamic/vertical\",\"status\":\"201\","
                     "\"timestamp\":\"19/06/2019:17:20:49 -0400\",\"user\":\"zieme4647\"}");
}

static void test_parse_regex_groups_not_taking_part(void **state)
{
    arena *a = *state;
    parse_regex_with(a, "y", "(?P<a>x)?(?P<b>y)", false, "{\"a\":null,\"b\":\"y\"}");
    /* VRL numbers only the groups that took part. */
    parse_regex_with(a, "b", "(a)?(b)", true, "{\"0\":\"b\",\"1\":\"b\"}");
    parse_regex_with(a, "b", "(?J)(?<x>a)|(?<x>b)", false, "{\"x\":\"b\"}");
    parse_regex_with(a, "abc", "abc", false, "{}");
}

static void test_parse_regex_invalid_utf8(void **state)
{
    arena *a = *state;
    parse_regex_with(a, "\xff word", "(?P<w>word)", false, "{\"w\":\"word\"}");
    parse_regex_with(a, "a\xff" "b", "(?P<all>.+)", false, "{\"all\":\"a\xEF\xBF\xBD" "b\"}");
}

static void test_parse_regex_errors(void **state)
{
    arena *a = *state;
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, STR("I don't match"));
    targ_regex(&t, 1, access_re);
    assert_call_fails(a, "parse_regex", &t, "could not find any pattern matches");
    targ_runtime(&t, 0, value_int(3));
    assert_call_fails(a, "parse_regex", &t, "expected string, got integer");
    targ_runtime(&t, 0, STR("x"));
    targ_runtime(&t, 2, STR("yes"));
    assert_call_fails(a, "parse_regex", &t, "expected boolean, got string");
    targs_free(&t);

    targs_init(&t);
    targ_runtime(&t, 0, STR("x"));
    targ_str(&t, 1, "x");
    assert_compile_fails("parse_regex", &t, "`pattern` must be a regex literal");
    assert_compile_fails("parse_regex_all", &t, "`pattern` must be a regex literal");
    assert_compile_fails("match", &t, "`pattern` must be a regex literal");
}

/* Nested quantifiers on a subject that almost matches take exponential time
 * without a bound; PCRE2's match limit turns that into an error. */
static void test_parse_regex_backtracking_is_bounded(void **state)
{
    arena *a = *state;
    char subject[64];
    memset(subject, 'a', 40);
    strcpy(subject + 40, "!");
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, value_bytes(subject, strlen(subject)));
    targ_regex(&t, 1, "^(?P<x>(a|aa)+)+$");
    value out;
    sl_error err;
    int64_t start = sl_now_mono_ns();
    assert_int_equal(tcall(a, "parse_regex", &t, &out, &err), -1);
    assert_true(strncmp(err.msg, "regex match failed: ", 20) == 0);
    assert_true(sl_now_mono_ns() - start < 10LL * 1000000000);
    targs_free(&t);
}

static void parse_regex_all_with(arena *a, const char *subject, const char *pattern, bool numeric,
                                 const char *want)
{
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, value_bytes(subject, strlen(subject)));
    targ_regex(&t, 1, pattern);
    if (numeric)
        targ(&t, 2, value_bool(true));
    assert_call_json(a, "parse_regex_all", &t, want);
    targs_free(&t);
}

static void test_parse_regex_all_examples(void **state)
{
    arena *a = *state;
    parse_regex_all_with(a, "first group and second group.", "(?P<number>\\w+) group", true,
                         "[{\"0\":\"first group\",\"1\":\"first\",\"number\":\"first\"},"
                         "{\"0\":\"second group\",\"1\":\"second\",\"number\":\"second\"}]");
    parse_regex_all_with(a, "apples and carrots, peaches and peas",
                         "(?P<fruit>[\\w\\.]+) and (?P<veg>[\\w]+)", false,
                         "[{\"fruit\":\"apples\",\"veg\":\"carrots\"},"
                         "{\"fruit\":\"peaches\",\"veg\":\"peas\"}]");
    parse_regex_all_with(a, "apples and carrots, peaches and peas",
                         "(?P<fruit>[\\w\\.]+) and (?P<veg>[\\w]+)", true,
                         "[{\"0\":\"apples and carrots\",\"1\":\"apples\",\"2\":\"carrots\","
                         "\"fruit\":\"apples\",\"veg\":\"carrots\"},"
                         "{\"0\":\"peaches and peas\",\"1\":\"peaches\",\"2\":\"peas\","
                         "\"fruit\":\"peaches\",\"veg\":\"peas\"}]");
    parse_regex_all_with(a, "I don't match", "(?P<fruit>[\\w\\.]+) and (?P<veg>[\\w]+)", false, "[]");
}

static void test_parse_regex_all_empty_matches(void **state)
{
    arena *a = *state;
    parse_regex_all_with(a, "ab", "(?P<x>x*)", false, "[{\"x\":\"\"},{\"x\":\"\"},{\"x\":\"\"}]");
    parse_regex_all_with(a, "\xC3\xA9\xC3\xA9", "(?P<x>x*)", false,
                         "[{\"x\":\"\"},{\"x\":\"\"},{\"x\":\"\"}]");
    parse_regex_all_with(a, "a\xff" "a", "(?P<x>a)", false, "[{\"x\":\"a\"},{\"x\":\"a\"}]");
}

static void match_with(arena *a, value subject, const char *pattern, const char *want)
{
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, subject);
    targ_regex(&t, 1, pattern);
    assert_call_json(a, "match", &t, want);
    targs_free(&t);
}

static void test_match(void **state)
{
    arena *a = *state;
    match_with(a, STR("I'm a little teapot"), "teapot", "true");
    match_with(a, STR("I'm a little teapot"), "^teapot", "false");
    match_with(a, STR("chat-ui-7d9f"), "chat-ui", "true");
    match_with(a, STR("request FAILED"), "(?i)(error|exception|failed|denied)", "true");
    match_with(a, STR("all good"), "(?i)(error|exception|failed|denied)", "false");
    match_with(a, STR("\xfe\xff error"), "error", "true");
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, value_null());
    targ_regex(&t, 1, "x");
    assert_call_fails(a, "match", &t, "expected string, got null");
    targs_free(&t);
}

static void match_any_with(arena *a, const char *subject, const char *const *patterns, int n,
                           const char *want)
{
    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, value_bytes(subject, strlen(subject)));
    targ_regex_array(&t, 1, patterns, n);
    assert_call_json(a, "match_any", &t, want);
    targs_free(&t);
}

static void test_match_any(void **state)
{
    arena *a = *state;
    static const char *const foo_123[] = {"foo", "123"};
    static const char *const digits_jane[] = {"\\d+", "Jane"};
    static const char *const three[] = {"foo", "bar", "baz"};
    static const char *const two[] = {"baz|quux", "foobar"};
    match_any_with(a, "foo bar baz", foo_123, 2, "true");
    match_any_with(a, "My name is John Doe", digits_jane, 2, "false");
    match_any_with(a, "foobar", three, 3, "true");
    match_any_with(a, "foo 2 bar", two, 2, "false");
    match_any_with(a, "anything", three, 0, "false");

    targs t;
    targs_init(&t);
    targ_runtime(&t, 0, STR("x"));
    targ(&t, 1, value_null());
    assert_compile_fails("match_any", &t, "`patterns` must be an array of regex literals");
    targ_regex_array(&t, 1, three, 3);
    targ_runtime(&t, 0, value_bool(true));
    assert_call_fails(a, "match_any", &t, "expected string, got boolean");
    targs_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        VRL_FN_TEST(test_parse_regex_examples),
        VRL_FN_TEST(test_parse_regex_many_groups_sorted),
        VRL_FN_TEST(test_parse_regex_groups_not_taking_part),
        VRL_FN_TEST(test_parse_regex_invalid_utf8),
        VRL_FN_TEST(test_parse_regex_errors),
        VRL_FN_TEST(test_parse_regex_backtracking_is_bounded),
        VRL_FN_TEST(test_parse_regex_all_examples),
        VRL_FN_TEST(test_parse_regex_all_empty_matches),
        VRL_FN_TEST(test_match),
        VRL_FN_TEST(test_match_any),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
