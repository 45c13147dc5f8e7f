/* test_vrl_run.c - what remap programs do when they run: VRL's operator
 * rules, paths and assignment in every form, value semantics (assigning
 * copies), error handling, `abort`, the event left exactly as it was when a
 * run fails or aborts whatever the program changed first, metric events,
 * conditions, and one program run by four threads at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>

#include "tests/unit/vrl_program_test.h"

/* ---- operators ------------------------------------------------------------ */

static void test_arithmetic(void **state)
{
    arena *a = *state;
    assert_value(a, "1 + 2", "{}", "3");
    assert_value(a, "1 + 2.5", "{}", "3.5");
    assert_value(a, "7 - 10", "{}", "-3");
    assert_value(a, "2.0 - 1", "{}", "1.0");
    assert_value(a, "3 * 4", "{}", "12");
    assert_value(a, "2.0 * 1", "{}", "2.0");
    assert_value(a, "10 / 4", "{}", "2.5");
    assert_value(a, "10 / 5", "{}", "2.0");
    assert_value(a, "7 % 3", "{}", "1");
    assert_value(a, "-7 % 3", "{}", "-1");
    assert_value(a, "7.5 % 2", "{}", "1.5");
    assert_value(a, "9223372036854775807 + 1", "{}", "-9223372036854775808");
    assert_value(a, "-(.a)", "{\"a\":4}", "-4");
    assert_value(a, ".a * 60", "{\"a\":1.5}", "90.0");
    assert_value(a, "\"Hello\" + \", \" + \"World!\"", "{}", "\"Hello, World!\"");
    assert_value(a, "\"a\" + null", "{}", "\"a\"");
    assert_value(a, "null + \"b\"", "{}", "\"b\"");
    assert_value(a, "\"ab\" * 3", "{}", "\"ababab\"");
    assert_value(a, "2 * \"ab\"", "{}", "\"abab\"");
    assert_value(a, "\"ab\" * -1", "{}", "\"\"");
    assert_value(a, "{\"a\": 1, \"b\": 2} | {\"b\": 3}", "{}", "{\"a\":1,\"b\":3}");
}

static void test_arithmetic_errors(void **state)
{
    arena *a = *state;
    assert_run_fails(a, ".x = 1\n.y = .a / .b ?? 0\n.z = .a + .b", "{\"a\":1,\"b\":\"s\"}",
                     VRL_FAILED, "can't add type string to integer");
    assert_value(a, "(.a / .b) ?? \"caught\"", "{\"a\":1,\"b\":0}", "\"caught\"");
    assert_value(a, "x, err = .a / .b\nerr", "{\"a\":1,\"b\":0}", "\"can't divide by zero\"");
    assert_value(a, "x, err = .a % .b\nerr", "{\"a\":1,\"b\":0.0}", "\"can't divide by zero\"");
    assert_value(a, "x, err = .a - .b\nerr", "{\"a\":1,\"b\":true}",
                 "\"can't subtract type boolean from integer\"");
    assert_value(a, "x, err = .a * .b\nerr", "{\"a\":[],\"b\":2}",
                 "\"can't multiply type array by integer\"");
    assert_value(a, "x, err = .a < .b\nerr", "{\"a\":\"x\",\"b\":2}",
                 "\"can't compare string < integer\"");
    assert_value(a, "x, err = -.a\nerr", "{\"a\":\"x\"}", "\"can't negate type string\"");
}

static void test_comparisons(void **state)
{
    arena *a = *state;
    assert_value(a, "1 == 1.0", "{}", "true");
    assert_value(a, "1 != 2", "{}", "true");
    assert_value(a, "\"a\" == \"a\"", "{}", "true");
    assert_value(a, "[1, {\"a\": null}] == [1, {\"a\": null}]", "{}", "true");
    assert_value(a, "1 == \"1\"", "{}", "false");
    assert_value(a, ".missing == null", "{}", "true");
    assert_value(a, "1 < 1.5", "{}", "true");
    assert_value(a, "2 <= 2", "{}", "true");
    assert_value(a, "\"b\" > \"a\"", "{}", "true");
    assert_value(a, "\"ab\" >= \"abc\"", "{}", "false");
    assert_value(a, "t'2023-05-04T22:22:22Z' > t'2023-04-04T22:22:22Z'", "{}", "true");
}

static void test_logic(void **state)
{
    arena *a = *state;
    assert_value(a, "false || \"foo\"", "{}", "\"foo\"");
    assert_value(a, "null || \"foo\"", "{}", "\"foo\"");
    assert_value(a, "\"x\" || \"foo\"", "{}", "\"x\"");
    assert_value(a, "0 || 1", "{}", "0");
    assert_value(a, "true && true", "{}", "true");
    assert_value(a, "true && null", "{}", "false");
    assert_value(a, "null && .never", "{}", "false");
    assert_value(a, "false && to_int!(.s) == 1", "{\"s\":\"x\"}", "false");
    assert_value(a, "!false", "{}", "true");
    assert_value(a, "!!.t", "{\"t\":true}", "true");
    assert_value(a, "x, err = .a && true\nerr", "{\"a\":1}",
                 "\"can't apply an AND to types integer and boolean\"");
}

static void test_coalescing(void **state)
{
    arena *a = *state;
    assert_value(a, "parse_json(\"{\") ?? \"fallback\"", "{}", "\"fallback\"");
    assert_value(a, "parse_json(\"[1]\") ?? \"fallback\"", "{}", "[1]");
    assert_value(a, "to_int(\"x\") ?? to_int(\"y\") ?? 7", "{}", "7");
    assert_value(a, "to_int(.a) ?? 0", "{\"a\":\"12\"}", "12");
}

/* ---- paths and assignment ---------------------------------------------------- */

static void test_reading_paths(void **state)
{
    arena *a = *state;
    const char *ev = "{\"a\":{\"b\":[1,2,{\"c\":\"d\"}]},\"x y\":5,\"@t\":1}";
    assert_value(a, ".a.b[0]", ev, "1");
    assert_value(a, ".a.b[-1].c", ev, "\"d\"");
    assert_value(a, ".a.b[-4]", ev, "null");
    assert_value(a, ".a.b[9]", ev, "null");
    assert_value(a, ".a.nope.deeper", ev, "null");
    assert_value(a, ".a.b.c", ev, "null");
    assert_value(a, ".\"x y\"", ev, "5");
    assert_value(a, ".@t", ev, "1");
    assert_value(a, ".", "{\"k\":1}", "{\"k\":1}");
    assert_value(a, "parse_json!(\"{\\\"k\\\": [7]}\").k[0]", "{}", "7");
    assert_value(a, "[1, 2, 3][1]", "{}", "2");
    assert_value(a, "{\"a\": {\"b\": 1}}.a.b", "{}", "1");
}

static void test_assigning_paths(void **state)
{
    arena *a = *state;
    assert_program(a, ".message = \"Hello, World!\"", "{}", "{\"message\":\"Hello, World!\"}");
    assert_program(a, ".parent.child = \"x\"", "{}", "{\"parent\":{\"child\":\"x\"}}");
    assert_program(a, ".first = .second = \"x\"", "{}", "{\"first\":\"x\",\"second\":\"x\"}");
    assert_program(a, ".array[1] = \"x\"", "{}", "{\"array\":[null,\"x\"]}");
    assert_program(a, ".array[-3] = 1", "{\"array\":[2]}", "{\"array\":[1,null,2]}");
    assert_program(a, ".array[-1] = 9", "{\"array\":[1,2]}", "{\"array\":[1,9]}");
    assert_program(a, ".a.b = 1", "{\"a\":\"scalar\"}", "{\"a\":{\"b\":1}}");
    assert_program(a, ".\"with space\".x = true", "{}", "{\"with space\":{\"x\":true}}");
    assert_program(a, ". = {\"only\": 1}", "{\"k\":1}", "{\"only\":1}");
    assert_program(a, ". |= {\"k\": 2, \"n\": 3}", "{\"k\":1,\"o\":0}",
                   "{\"k\":2,\"n\":3,\"o\":0}");
    assert_program(a, ".a |= {\"y\": 2}", "{\"a\":{\"x\":1}}", "{\"a\":{\"x\":1,\"y\":2}}");
    assert_program(a, ".a ?\?= parse_json(\"{\")\n.b ?\?= parse_json(\"1\")", "{\"a\":0}",
                   "{\"a\":0,\"b\":1}");
    assert_program(a, "_ = 1", "{\"k\":1}", "{\"k\":1}");
}

static void test_error_assignment(void **state)
{
    arena *a = *state;
    assert_program(a, ".parsed, .err = parse_json(\"{\\\"Hello\\\": \\\"World!\\\"}\")", "{}",
                   "{\"err\":null,\"parsed\":{\"Hello\":\"World!\"}}");
    assert_program(a, ".n, .err = to_int(.s)", "{\"s\":\"abc\"}",
                   "{\"err\":\"function call error for \\\"to_int\\\" at (11:21): Invalid "
                   "integer \\\"abc\\\": invalid digit found in string\",\"n\":0,\"s\":\"abc\"}");
    /* On error `ok` gets its type's empty value, or null when unknown. */
    assert_program(a, ".s, _ = to_string(.o)\n.j, _ = parse_json(\"x\")", "{\"o\":{}}",
                   "{\"j\":null,\"o\":{},\"s\":\"\"}");
    assert_program(a, "_, .err = to_bool(\"yes\")", "{}", "{\"err\":null}");
    assert_program(a, ".o, .e |= parse_json(\"{\\\"b\\\": 2}\")", "{\"o\":{\"a\":1}}",
                   "{\"e\":null,\"o\":{\"a\":1,\"b\":2}}");
    assert_program(a, ".o, _ |= parse_json(\"{\")", "{\"o\":{\"a\":1}}", "{\"o\":{\"a\":1}}");
}

static void test_variables_and_value_semantics(void **state)
{
    arena *a = *state;
    assert_program(a, "x = {\"a\": 1, \"b\": [1, 2, {\"c\": \"d\"}]}\nx.b[2].c = \"e\"\n.y = x",
                   "{}", "{\"y\":{\"a\":1,\"b\":[1,2,{\"c\":\"e\"}]}}");
    /* Assigning copies: changing the copy leaves the original alone. */
    assert_program(a, ".b = .a\n.b.x = 2", "{\"a\":{\"x\":1}}", "{\"a\":{\"x\":1},\"b\":{\"x\":2}}");
    assert_program(a, "x = .a\nx.x = 2\n.c = x", "{\"a\":{\"x\":1}}",
                   "{\"a\":{\"x\":1},\"c\":{\"x\":2}}");
    assert_program(a, ".a = .b = {\"k\": [1]}\n.a.k[0] = 2", "{}",
                   "{\"a\":{\"k\":[2]},\"b\":{\"k\":[1]}}");
    assert_program(a, "x = [.a]\n.a.v = 2\n.x = x", "{\"a\":{\"v\":1}}",
                   "{\"a\":{\"v\":2},\"x\":[{\"v\":1}]}");
    assert_program(a, ". |= .\n.n.m = 1", "{\"n\":{}}", "{\"n\":{\"m\":1}}");
    assert_value(a, "my_variable = {\"message\": \"Hello\"}\nmy_variable |= {\"level\": \"info\"}",
                 "{}", "{\"level\":\"info\",\"message\":\"Hello\"}");
}

static void test_metadata_and_delete(void **state)
{
    arena *a = *state;
    vrl_program *p = tprog("%tenant = \"blue\"\n%route.id = 7\n.t = %tenant\n.r = %route");
    event e = tlog(a, "{}");
    trun_result r = trun_event(p, a, &e);
    assert_int_equal(r.outcome, VRL_DONE);
    assert_string_equal(r.event, "{\"r\":{\"id\":7},\"t\":\"blue\"}");
    assert_string_equal(tjson_of(a, &e.meta), "{\"route\":{\"id\":7},\"tenant\":\"blue\"}");
    vrl_program_free(p);

    assert_program(a, "del(.a.b)\n.c = exists(.a)\n.d = exists(.a.b)", "{\"a\":{\"b\":1}}",
                   "{\"a\":{},\"c\":true,\"d\":false}");
    assert_program(a, "del(.a.b, compact: true)", "{\"a\":{\"b\":1},\"k\":0}", "{\"k\":0}");
    assert_program(a, ".gone = del(.x[1])", "{\"x\":[1,2,3]}", "{\"gone\":2,\"x\":[1,3]}");
    assert_program(a, ".v = del(.nope)", "{}", "{\"v\":null}");
    assert_program(a, "x = del(.)\n.was = x", "{\"k\":1}", "{\"was\":{\"k\":1}}");
    assert_program(a, "x = {\"a\": 1}\ndel(x.a)\n.x = x", "{}", "{\"x\":{}}");
}

/* ---- control flow ------------------------------------------------------------- */

static void test_if_and_blocks(void **state)
{
    arena *a = *state;
    assert_value(a, "if .a == 1 { \"one\" } else if .a == 2 { \"two\" } else { \"many\" }",
                 "{\"a\":2}", "\"two\"");
    assert_value(a, "if .a == 1 { \"one\" } else { \"many\" }", "{\"a\":5}", "\"many\"");
    assert_value(a, "if .a == 1 { \"one\" }", "{\"a\":5}", "null");
    assert_value(a, "x = { y = 2\n y * 3 }\nx", "{}", "6");
    assert_program(a, ".structured = {\n  m = \"{\\\"Hello\\\": \\\"World!\\\"}\"\n  "
                      "parse_json!(m)\n}",
                   "{}", "{\"structured\":{\"Hello\":\"World!\"}}");
    assert_value(a, "", "{}", "null");
    assert_value(a, "2 * 60", "{}", "120");
}

static void test_abort(void **state)
{
    arena *a = *state;
    assert_run_fails(a, "if contains(string!(.message), \"hello\") {\n  abort\n}\n.message = "
                        "\"not hello world\"",
                     "{\"message\":\"hello world\"}", VRL_ABORTED, "aborted at (44:49)");
    assert_run_fails(a, ".a = 1\nabort \"bye \" + .who", "{\"who\":\"you\"}", VRL_ABORTED,
                     "aborted at (7:26): bye you");
    /* Nothing catches abort. */
    assert_run_fails(a, "x = (abort) ?? 1", "{}", VRL_ABORTED, "aborted at (4:11)");
}

/* ---- failures leave the event unchanged -------------------------------------- */

static void test_failure_leaves_event_unchanged(void **state)
{
    arena *a = *state;
    const char *ev = "{\"a\":{\"x\":1,\"y\":[1,2]},\"b\":2,\"c\":[9,8],\"s\":\"zz\"}";
    assert_run_fails(a, ".a.x = 5\n.new = \"n\"\ndel(.b)\n.c[0] = 1\n.c[5] = 2\n. |= {\"z\": 1}\n"
                        ".a.y[0] = {}\n.q = to_int!(.s)",
                     ev, VRL_FAILED,
                     "function call error for \"to_int\" at (80:91): Invalid integer \"zz\": "
                     "invalid digit found in string");
    assert_run_fails(a, ". = {\"only\": 1}\n.only = 2\n.x = to_int!(\"zz\")", ev, VRL_FAILED,
                     "function call error for \"to_int\" at (31:44): Invalid integer \"zz\": "
                     "invalid digit found in string");
    assert_run_fails(a, "del(.a.y[0], compact: true)\ndel(.a, compact: true)\nassert!(false)", ev,
                     VRL_FAILED, "function call error for \"assert\" at (51:65): assertion failed");
    assert_run_fails(a, ".n.m.o = 1\n.a.x = {\"k\": .c}\nabort", ev, VRL_ABORTED,
                     "aborted at (28:33)");

    /* Metadata too. */
    vrl_program *p = tprog("%m = 1\n.a = 1\n.b = to_int!(.s)");
    event e = tlog(a, "{\"s\":\"q\"}");
    e.meta = tlog(a, "{\"keep\":true}").u.log;
    trun_result r = trun_event(p, a, &e);
    assert_int_equal(r.outcome, VRL_FAILED);
    assert_string_equal(r.event, "{\"s\":\"q\"}");
    assert_string_equal(tjson_of(a, &e.meta), "{\"keep\":true}");
    vrl_program_free(p);
}

static void test_runtime_type_errors_of_unknown_kinds(void **state)
{
    arena *a = *state;
    /* In a predicate, the wrong kind makes the predicate false and the run
     * goes on (else branch taken); outside one, it fails the run. */
    vrl_program *p = tprog("if match(.pod, r'chat') { .w = 1 } else { .w = 2 }\n.after = true");
    assert_run_handles(p, a, "{\"pod\":5}",
                       "function call error for \"match\" at (3:23): argument \"value\": "
                       "expected string, got integer",
                       "{\"after\":true,\"pod\":5,\"w\":2}");
    vrl_program_free(p);
    assert_run_fails(a, ".w = match(.pod, r'chat')", "{\"pod\":5}", VRL_FAILED,
                     "function call error for \"match\" at (5:25): argument \"value\": expected "
                     "string, got integer");
    assert_run_fails(a, ".w = 1\nif .flag { .w = 2 }", "{\"flag\":\"yes\"}", VRL_FAILED,
                     "if predicate at (10:15) must be a boolean, got string");
    assert_run_fails(a, ".w = 1\n.v = !.flag", "{\"flag\":1}", VRL_FAILED,
                     "can't negate type integer at (12:18): expected boolean");
    assert_run_fails(a, ".a = 1\n. |= .x", "{\"x\":[1]}", VRL_FAILED,
                     "can't merge type array into object");
    assert_run_fails(a, ".a = 1\n. = .x", "{\"x\":\"s\"}", VRL_FAILED,
                     "the event root must be an object, got string");
}

/* ---- metrics --------------------------------------------------------------- */

static event counter(arena *a)
{
    event e;
    assert_int_equal(event_init_metric(a, &e, "requests_total", "app"), 0);
    e.u.metric->kind = METRIC_INCREMENTAL;
    e.u.metric->type = METRIC_COUNTER;
    e.u.metric->v.counter = 1;
    assert_int_equal(event_metric_set_tag(a, &e, "host", "h1"), 0);
    assert_int_equal(event_metric_set_tag(a, &e, "env", "prod"), 0);
    return e;
}

static void run_on_metric(arena *a, const char *src, event *e, vrl_outcome want, value *result)
{
    vrl_program *p = tprog(src);
    sl_error err;
    vrl_outcome o = vrl_run(p, a, e, result, &err);
    if (o != want)
        fail_msg("%s: outcome %d (%s), want %d", src, o, o ? err.msg : "", want);
    vrl_program_free(p);
}

static void test_metric_fields(void **state)
{
    arena *a = *state;
    event e = counter(a);
    value r;
    run_on_metric(a, "[.name, .namespace, .tags.host, .tags.env, .kind, .type]", &e, VRL_DONE, &r);
    assert_string_equal(tjson_of(a, &r),
                        "[\"requests_total\",\"app\",\"h1\",\"prod\",\"incremental\",\"counter\"]");

    run_on_metric(a, ".name = \"hits\"\n.namespace = \"web\"\n.tags.region = \"eu\"\n"
                     "del(.tags.host)\n.kind = \"absolute\"",
                  &e, VRL_DONE, &r);
    metric *m = e.u.metric;
    assert_string_equal(m->name, "hits");
    assert_string_equal(m->namespace_, "web");
    assert_int_equal(m->kind, METRIC_ABSOLUTE);
    assert_int_equal(m->ntags, 2);
    assert_string_equal(m->tags[0].key, "env");
    assert_string_equal(m->tags[1].key, "region");
    assert_string_equal(m->tags[1].value, "eu");
    assert_true(m->v.counter == 1);

    run_on_metric(a, "del(.namespace)\n.tags = {}", &e, VRL_DONE, &r);
    assert_null(m->namespace_);
    assert_int_equal(m->ntags, 0);
}

static void test_metric_failures_leave_it_unchanged(void **state)
{
    arena *a = *state;
    event e = counter(a);
    value r;
    run_on_metric(a, ".name = \"changed\"\n.kind = \"sideways\"", &e, VRL_FAILED, &r);
    run_on_metric(a, ".name = \"changed\"\n.tags.n = 5", &e, VRL_FAILED, &r);
    run_on_metric(a, ".type = \"gauge\"", &e, VRL_FAILED, &r);
    run_on_metric(a, ".extra = 1", &e, VRL_FAILED, &r);
    run_on_metric(a, ".name = \"changed\"\nto_int!(\"x\")", &e, VRL_FAILED, &r);
    run_on_metric(a, ".name = \"changed\"\nabort", &e, VRL_ABORTED, &r);
    assert_string_equal(e.u.metric->name, "requests_total");
    assert_int_equal(e.u.metric->ntags, 2);
    assert_int_equal(e.u.metric->kind, METRIC_INCREMENTAL);
}

/* ---- conditions ------------------------------------------------------------ */

static void test_condition_result(void **state)
{
    arena *a = *state;
    vrl_options cond = {true, NULL, 0};
    vrl_program *p = tprog_opts(".status >= 500 && exists(.trace)", &cond);
    event yes = tlog(a, "{\"status\":503,\"trace\":\"t\"}");
    event no = tlog(a, "{\"status\":200}");
    value r;
    sl_error err;
    assert_int_equal(vrl_run(p, a, &yes, &r, &err), VRL_DONE);
    assert_true(vrl_is_true(&r));
    assert_int_equal(vrl_run(p, a, &no, &r, &err), VRL_DONE);
    assert_false(vrl_is_true(&r));
    assert_int_equal(vrl_run(p, a, &no, NULL, &err), VRL_DONE);
    vrl_program_free(p);
}

/* ---- threads -------------------------------------------------------------- */

#define THREADS 4
#define RUNS 2000

typedef struct worker {
    const vrl_program *p;
    int id;
    int failures;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < RUNS; i++) {
        arena *a = arena_new();
        char json[160];
        snprintf(json, sizeof(json),
                 "{\"message\":\"worker %d run %d %s\",\"n\":\"%d\",\"kubernetes\":{\"pod_name\":"
                 "\"pod-%d\"}}",
                 w->id, i, i % 3 ? "ok" : "ERROR", i, w->id);
        event e = tlog(a, json);
        value r;
        sl_error err;
        vrl_outcome o = vrl_run(w->p, a, &e, &r, &err);
        const value *n = event_log_get(&e, "n2");
        const value *sec = event_log_get(&e, "security_event");
        bool ok = o == VRL_DONE && n && n->kind == VALUE_INT && n->u.i == 2 * i &&
                  (i % 3 == 0) == (sec != NULL);
        if (!ok)
            w->failures++;
        arena_free(a);
    }
    return NULL;
}

static void test_threads_share_a_program(void **state)
{
    (void)state;
    vrl_program *p = tprog(".n2 = to_int!(.n) * 2\n"
                           "if match(string!(.message), r'(?i)error') { .security_event = true }\n"
                           ".parts = parse_regex!(.message, r'worker (?P<w>\\d+) run (?P<r>\\d+)')");
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){p, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    vrl_program_free(p);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, vrl_test_setup, vrl_test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_arithmetic),
        T(test_arithmetic_errors),
        T(test_comparisons),
        T(test_logic),
        T(test_coalescing),
        T(test_reading_paths),
        T(test_assigning_paths),
        T(test_error_assignment),
        T(test_variables_and_value_semantics),
        T(test_metadata_and_delete),
        T(test_if_and_blocks),
        T(test_abort),
        T(test_failure_leaves_event_unchanged),
        T(test_runtime_type_errors_of_unknown_kinds),
        T(test_metric_fields),
        T(test_metric_failures_leave_it_unchanged),
        T(test_condition_result),
        T(test_threads_share_a_program),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, vrl_group_teardown);
}
