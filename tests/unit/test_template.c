/* test_template.c - Vector's templates: field references, chrono's strftime
 * dialect on the event's timestamp, metric fields, and the errors for
 * missing fields and bad specifiers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/template.h"

/* 2001-02-03T04:05:06.026490Z */
#define TS_2001 981173106026490000LL

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

static event log_with(arena *a, int64_t ts)
{
    event e;
    assert_int_equal(event_init_log(a, &e, 4), 0);
    if (ts)
        assert_int_equal(event_log_set(a, &e, "timestamp", value_timestamp(ts)), 0);
    return e;
}

static char *render(const char *text, const event *e)
{
    template *t;
    sl_error err;
    if (template_parse(text, &t, &err) < 0)
        fail_msg("parse of %s failed: %s", text, err.msg);
    buf b = BUF_INIT;
    if (template_render(t, e, &b, &err) < 0)
        fail_msg("render of %s failed: %s", text, err.msg);
    template_free(t);
    return buf_detach(&b);
}

static void assert_renders(const char *text, const event *e, const char *want)
{
    char *got = render(text, e);
    assert_string_equal(got, want);
    free(got);
}

static void assert_render_fails(const char *text, const event *e, const char *want)
{
    template *t;
    sl_error err;
    assert_int_equal(template_parse(text, &t, &err), 0);
    buf b = BUF_INIT;
    assert_int_equal(buf_append_str(&b, "kept"), 0);
    assert_int_equal(template_render(t, e, &b, &err), -1);
    assert_string_equal(err.msg, want);
    assert_string_equal(b.data, "kept");
    buf_free(&b);
    template_free(t);
}

static void test_static_and_dynamic(void **state)
{
    arena *a = *state;
    event e = log_with(a, 0);
    static const struct {
        const char *text;
        bool dynamic, fields;
    } cases[] = {
        {"/kube-demo/echo", false, false},
        {"/kube-demo/%F", true, false},
        {"/kube-demo/{{ foo }}", true, true},
        {"/kube-demo/{{ foo }}/%F", true, true},
        {"100%% sure%t%n", false, false},
        {"", false, false},
        {"{{}}", false, false},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        template *t;
        sl_error err;
        assert_int_equal(template_parse(cases[i].text, &t, &err), 0);
        assert_int_equal(template_is_dynamic(t), cases[i].dynamic);
        assert_int_equal(template_has_fields(t), cases[i].fields);
        template_free(t);
    }
    assert_renders("foo", &e, "foo");
    assert_renders("100%% sure", &e, "100% sure");
    assert_renders("a%tb%nc", &e, "a\tb\nc");
    assert_renders("{{}}", &e, "{{}}");
    assert_renders("", &e, "");
}

static void test_fields(void **state)
{
    arena *a = *state;
    event e = log_with(a, 0);
    assert_int_equal(event_log_set(a, &e, "foo", value_bytes("bar", 3)), 0);
    assert_int_equal(event_log_set(a, &e, "baz", value_bytes("quux", 4)), 0);
    value k8s = value_new_map(a, 0);
    *value_map_put(a, k8s.u.map, "pod_name", 8) = value_bytes("web-1", 5);
    assert_int_equal(event_log_set(a, &e, "kubernetes", k8s), 0);
    assert_renders("stream-{{foo}}-{{ baz }}.log", &e, "stream-bar-quux.log");
    assert_renders("{{ kubernetes.pod_name }}/{{ .kubernetes.pod_name }}", &e, "web-1/web-1");
    assert_renders("{stream}{\\{{}}}-{{foo}}-{{baz}}.log", &e, "{stream}{\\{{}}}-bar-quux.log");
}

static void test_missing_fields(void **state)
{
    arena *a = *state;
    event e = log_with(a, 0);
    assert_int_equal(event_log_set(a, &e, "foo", value_bytes("bar", 3)), 0);
    assert_render_fails("{{ kubernetes.pod_name }}", &e, "missing field \"kubernetes.pod_name\"");
    assert_render_fails("{{log_stream}}-{{foo}}-{{ other }}", &e,
                        "missing fields \"log_stream\", \"other\"");
}

static void test_value_rendering(void **state)
{
    arena *a = *state;
    event e = log_with(a, 0);
    assert_int_equal(event_log_set(a, &e, "i", value_int(-12)), 0);
    assert_int_equal(event_log_set(a, &e, "f", value_float(1.0)), 0);
    assert_int_equal(event_log_set(a, &e, "g", value_float(0.25)), 0);
    assert_int_equal(event_log_set(a, &e, "b", value_bool(false)), 0);
    assert_int_equal(event_log_set(a, &e, "n", value_null()), 0);
    assert_int_equal(event_log_set(a, &e, "t", value_timestamp(1597263831404000000LL)), 0);
    assert_int_equal(event_log_set(a, &e, "bad", value_bytes("a\xff" "b", 3)), 0);
    value m = value_new_map(a, 0);
    *value_map_put(a, m.u.map, "k", 1) = value_bytes("v", 1);
    assert_int_equal(event_log_set(a, &e, "m", m), 0);
    value arr = value_new_array(a, 0);
    *value_array_push(a, arr.u.arr) = value_int(1);
    assert_int_equal(event_log_set(a, &e, "arr", arr), 0);
    assert_renders("{{i}} {{f}} {{g}} {{b}} {{n}}", &e, "-12 1 0.25 false <null>");
    assert_renders("{{t}}", &e, "2020-08-12T20:23:51.404Z");
    assert_renders("{{bad}}", &e, "a\xef\xbf\xbd" "b");
    assert_renders("{{m}} {{arr}} {{arr[0]}}", &e, "{\"k\":\"v\"} [1] 1");
}

static void test_strftime_from_timestamp(void **state)
{
    arena *a = *state;
    event e = log_with(a, TS_2001);
    assert_int_equal(event_log_set(a, &e, "foo", value_bytes("butts", 5)), 0);
    assert_int_equal(event_log_set(a, &e, "format", value_bytes("%F", 2)), 0);
    assert_renders("abcd-%F", &e, "abcd-2001-02-03");
    assert_renders("abcd-%F_%T", &e, "abcd-2001-02-03_04:05:06");
    assert_renders("{{ foo }}-%F_%T", &e, "butts-2001-02-03_04:05:06");
    /* Specifiers in field values are not expanded. */
    assert_renders("nested {{ format }} %T", &e, "nested %F 04:05:06");
    assert_renders("%a %A %b %B %h", &e, "Sat Saturday Feb February Feb");
    assert_renders("%e|%d|%j|%U|%W|%G|%g|%V|%u|%w", &e, " 3|03|034|04|05|2001|01|05|6|6");
    assert_renders("%I %l %p %P %k", &e, "04  4 AM am  4");
    assert_renders("%c", &e, "Sat Feb  3 04:05:06 2001");
    assert_renders("%D %x %R %r %v", &e, "02/03/01 02/03/01 04:05 04:05:06 AM  3-Feb-2001");
    assert_renders("%C %y %Y %m %H%M%S", &e, "20 01 2001 02 040506");
    assert_renders("%s", &e, "981173106");
    assert_renders("%f|%.f|%.3f|%.6f|%.9f|%3f|%6f|%9f", &e,
                   "026490000|.026490|.026|.026490|.026490000|026|026490|026490000");
    assert_renders("%+ %Z %z %:z", &e, "2001-02-03T04:05:06.026490+00:00 UTC +0000 +00:00");
    assert_renders("%-d %-m %_m %0e %-H", &e, "3 2  2 03 4");
}

static void test_iso_weeks(void **state)
{
    arena *a = *state;
    static const struct {
        int64_t ns;
        const char *want;
    } cases[] = {
        {1609459200000000000LL, "2020-53-5 00 00 001"},
        {1609372800000000000LL, "2020-53-4 52 52 366"},
        {1735516800000000000LL, "2025-01-1 52 53 365"},
        {1798934400000000000LL, "2026-53-7 01 00 003"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        event e = log_with(a, cases[i].ns);
        assert_renders("%G-%V-%u %U %W %j", &e, cases[i].want);
    }
}

static void test_now_when_no_timestamp(void **state)
{
    arena *a = *state;
    event e = log_with(a, 0);
    assert_int_equal(event_log_set(a, &e, "timestamp", value_bytes("not a time", 10)), 0);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char want[16];
    strftime(want, sizeof(want), "%Y-%m", &tm);
    char *got = render("%Y-%m", &e);
    assert_string_equal(got, want);
    free(got);
}

static void test_bad_templates(void **state)
{
    (void)state;
    template *t;
    sl_error err;
    assert_int_equal(template_parse("%E", &t, &err), -1);
    assert_string_equal(err.msg, "invalid strftime specifier in template \"%E\" at offset 0");
    assert_int_equal(template_parse("trailing %", &t, &err), -1);
    assert_int_equal(template_parse("x-%{{ foo }}", &t, &err), -1);
    assert_int_equal(template_parse("{{ a b }}", &t, &err), -1);
    assert_string_equal(err.msg, "invalid field reference in template: invalid path \"a b\" at "
                                 "offset 1: expected '.', '[' or the end");
}

static void test_metric_fields(void **state)
{
    arena *a = *state;
    event m;
    assert_int_equal(event_init_metric(a, &m, "a-counter", NULL), 0);
    m.u.metric->has_timestamp = true;
    m.u.metric->timestamp = 1015200000000000000LL + (5 * 3600 + 6 * 60 + 7) * 1000000000LL;
    assert_renders("timestamp %F %T", &m, "timestamp 2002-03-04 05:06:07");
    assert_render_fails("name={{name}} component={{tags.component}}", &m,
                        "missing field \"tags.component\"");
    assert_render_fails("namespace={{namespace}} name={{name}}", &m, "missing field \"namespace\"");
    assert_int_equal(event_metric_set_tag(a, &m, "component", "template"), 0);
    assert_int_equal(event_metric_set_tag(a, &m, "test", "true"), 0);
    assert_renders("name={{name}} component={{tags.component}}", &m,
                   "name=a-counter component=template");
    event ns;
    assert_int_equal(event_init_metric(a, &ns, "a-counter", "vector-test"), 0);
    assert_renders("namespace={{namespace}} name={{ .name }}", &ns,
                   "namespace=vector-test name=a-counter");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_static_and_dynamic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_rendering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strftime_from_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iso_weeks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_now_when_no_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metric_fields, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    arena_cache_drain();
    return rc;
}
