/* test_metrics.c - the internal metrics registry: one handle per series, type
 * clashes refused, exact Prometheus exposition (escaping, order, one header
 * per name), per-component series, and lock-free updates from threads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/metrics.h"

static int reset_registry(void **state)
{
    (void)state;
    metrics_reset();
    return 0;
}

static char *render(void)
{
    buf out = BUF_INIT;
    assert_int_equal(metrics_render_prometheus(&out), 0);
    return buf_detach(&out);
}

static void same_series_returns_same_handle(void **state)
{
    (void)state;
    metrics_label ab[] = {{"a", "1"}, {"b", "2"}};
    metrics_label ba[] = {{"b", "2"}, {"a", "1"}};
    metrics_series *x = metrics_counter("events_total", "Events.", ab, 2);
    metrics_series *y = metrics_counter("events_total", "Events.", ba, 2);
    assert_non_null(x);
    assert_ptr_equal(x, y);

    metrics_label other[] = {{"a", "1"}, {"b", "3"}};
    metrics_series *z = metrics_counter("events_total", "Events.", other, 2);
    assert_non_null(z);
    assert_ptr_not_equal(x, z);

    metrics_add(x, 2);
    metrics_add(y, 3);
    assert_int_equal(metrics_counter_value(x), 5);
    assert_int_equal(metrics_counter_value(z), 0);
}

static void another_type_under_the_same_name_is_refused(void **state)
{
    (void)state;
    assert_non_null(metrics_counter("things_total", "Things.", NULL, 0));
    assert_null(metrics_gauge("things_total", "Things.", NULL, 0));
    metrics_label l[] = {{"k", "v"}};
    assert_null(metrics_gauge("things_total", "Things.", l, 1));
    assert_non_null(metrics_gauge("level", "Level.", NULL, 0));
    assert_null(metrics_counter("level", "Level.", NULL, 0));
}

static void invalid_names_and_labels_are_refused(void **state)
{
    (void)state;
    metrics_label dup[] = {{"a", "1"}, {"a", "2"}};
    metrics_label reserved[] = {{"__name__", "x"}};
    metrics_label bad_key[] = {{"bad-key", "x"}};
    assert_null(metrics_counter("with space_total", NULL, NULL, 0));
    assert_null(metrics_counter("9lives_total", NULL, NULL, 0));
    assert_null(metrics_counter("", NULL, NULL, 0));
    assert_null(metrics_counter("ok_total", NULL, dup, 2));
    assert_null(metrics_counter("ok_total", NULL, reserved, 1));
    assert_null(metrics_counter("ok_total", NULL, bad_key, 1));
    char *text = render();
    assert_string_equal(text, "");
    free(text);
}

static void null_handles_are_ignored(void **state)
{
    (void)state;
    metrics_add(NULL, 1);
    metrics_set(NULL, 1.0);
    metrics_gauge_add(NULL, 1.0);
    assert_int_equal(metrics_counter_value(NULL), 0);
}

static void gauges_set_and_add(void **state)
{
    (void)state;
    metrics_series *g = metrics_gauge("depth", "Depth.", NULL, 0);
    assert_true(metrics_gauge_value(g) == 0.0);
    metrics_set(g, 2.5);
    metrics_gauge_add(g, -1.0);
    assert_true(metrics_gauge_value(g) == 1.5);
}

static void exposition_is_exact(void **state)
{
    (void)state;
    metrics_label out[] = {{"component_id", "out"}};
    metrics_label in[] = {{"component_id", "in"}};
    metrics_label odd[] = {{"path", "C:\\logs\n\"x\""}};
    metrics_add(metrics_counter("sent_total", "Sent events.", out, 1), 7);
    metrics_add(metrics_counter("sent_total", "Sent events.", in, 1), 3);
    metrics_set(metrics_gauge("ratio", "A back\\slash\nand newline.", NULL, 0), 0.25);
    metrics_set(metrics_gauge("odd", NULL, odd, 1), -1e300);
    metrics_set(metrics_gauge("nothing", "Not a number.", NULL, 0), NAN);
    metrics_set(metrics_gauge("tenth", "One tenth.", NULL, 0), 0.1);

    char *text = render();
    assert_string_equal(text,
        "# HELP sluice_nothing Not a number.\n"
        "# TYPE sluice_nothing gauge\n"
        "sluice_nothing NaN\n"
        "# HELP sluice_odd odd\n"
        "# TYPE sluice_odd gauge\n"
        "sluice_odd{path=\"C:\\\\logs\\n\\\"x\\\"\"} -1e+300\n"
        "# HELP sluice_ratio A back\\\\slash\\nand newline.\n"
        "# TYPE sluice_ratio gauge\n"
        "sluice_ratio 0.25\n"
        "# HELP sluice_sent_total Sent events.\n"
        "# TYPE sluice_sent_total counter\n"
        "sluice_sent_total{component_id=\"in\"} 3\n"
        "sluice_sent_total{component_id=\"out\"} 7\n"
        "# HELP sluice_tenth One tenth.\n"
        "# TYPE sluice_tenth gauge\n"
        "sluice_tenth 0.1\n");
    free(text);
}

typedef struct visit_log {
    int count;
    char first[64];
    double first_value;
} visit_log;

static void visit(void *ud, const char *name, metrics_type type,
                  const metrics_label *labels, size_t nlabels, double value)
{
    visit_log *v = ud;
    if (v->count++ == 0) {
        snprintf(v->first, sizeof(v->first), "%s/%d/%zu/%s=%s", name, (int)type, nlabels,
                 nlabels ? labels[0].key : "", nlabels ? labels[0].value : "");
        v->first_value = value;
    }
}

static void foreach_visits_every_series_in_order(void **state)
{
    (void)state;
    metrics_label l[] = {{"k", "v"}};
    metrics_add(metrics_counter("b_total", NULL, NULL, 0), 1);
    metrics_add(metrics_counter("a_total", NULL, l, 1), 42);
    visit_log v = {0};
    metrics_foreach(visit, &v);
    assert_int_equal(v.count, 2);
    assert_string_equal(v.first, "a_total/0/1/k=v");
    assert_true(v.first_value == 42.0);
}

static void component_series_follow_the_kind(void **state)
{
    (void)state;
    component_metrics src, xf, sink;
    sl_error err;
    assert_int_equal(component_metrics_init(&src, "in", "source", "demo_logs", &err), 0);
    assert_int_equal(component_metrics_init(&xf, "parse", "transform", "remap", &err), 0);
    assert_int_equal(component_metrics_init(&sink, "out", "sink", "blackhole", &err), 0);

    assert_non_null(src.received_events);
    assert_non_null(src.sent_bytes);
    assert_non_null(src.discarded_error);
    assert_null(src.buffer_events);
    assert_null(src.buffer_bytes);
    assert_null(src.utilization);
    assert_null(xf.buffer_events);
    assert_non_null(xf.utilization);
    assert_non_null(sink.buffer_events);
    assert_non_null(sink.buffer_bytes);
    assert_non_null(sink.utilization);
    assert_ptr_not_equal(sink.discarded_error, sink.discarded_intentional);

    component_metrics again;
    assert_int_equal(component_metrics_init(&again, "out", "sink", "blackhole", &err), 0);
    assert_ptr_equal(again.sent_events, sink.sent_events);

    metrics_add(src.sent_events, 10);
    component_metrics_error(&sink, "request_failed", "sending", 2);
    component_metrics_error(&sink, "request_failed", "sending", 1);
    metrics_series *watched = component_metrics_extra(&src, "files_watched", METRICS_GAUGE,
                                                      "Files being watched.");
    metrics_set(watched, 3);

    char *text = render();
    assert_non_null(strstr(text,
        "sluice_component_sent_events_total{component_id=\"in\",component_kind=\"source\","
        "component_type=\"demo_logs\"} 10\n"));
    assert_non_null(strstr(text,
        "sluice_component_errors_total{component_id=\"out\",component_kind=\"sink\","
        "component_type=\"blackhole\",error_type=\"request_failed\",stage=\"sending\"} 3\n"));
    assert_non_null(strstr(text,
        "sluice_component_discarded_events_total{component_id=\"out\",component_kind=\"sink\","
        "component_type=\"blackhole\",intentional=\"false\"} 0\n"));
    assert_non_null(strstr(text,
        "sluice_files_watched{component_id=\"in\",component_kind=\"source\","
        "component_type=\"demo_logs\"} 3\n"));
    const char *first = strstr(text, "# TYPE sluice_component_sent_events_total counter");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# TYPE sluice_component_sent_events_total"));
    free(text);
}

static void process_series_are_registered(void **state)
{
    (void)state;
    assert_int_equal(metrics_register_process(), 0);
    assert_int_equal(metrics_register_process(), 0);
    char *text = render();
    assert_non_null(strstr(text, "# TYPE sluice_uptime_seconds gauge\nsluice_uptime_seconds "));
    assert_non_null(strstr(text, "sluice_build_info{arch=\""));
    assert_non_null(strstr(text, ",version=\""));
    free(text);
}

#define THREADS 4
#define ADDS 200000

static void *add_many(void *arg)
{
    metrics_series **s = arg;
    for (int i = 0; i < ADDS; i++) {
        metrics_add(s[0], 1);
        metrics_gauge_add(s[1], 0.5);
    }
    return NULL;
}

static void concurrent_updates_add_up(void **state)
{
    (void)state;
    metrics_series *s[2] = {
        metrics_counter("hits_total", "Hits.", NULL, 0),
        metrics_gauge("weight", "Weight.", NULL, 0),
    };
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, add_many, s), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(metrics_counter_value(s[0]), (uint64_t)THREADS * ADDS);
    assert_true(metrics_gauge_value(s[1]) == THREADS * ADDS * 0.5);
}

static void *register_many(void *arg)
{
    metrics_series **out = arg;
    char value[16];
    for (int i = 0; i < 100; i++) {
        snprintf(value, sizeof(value), "%d", i);
        metrics_label l[] = {{"n", value}};
        out[i] = metrics_counter("registered_total", "Registered.", l, 1);
        metrics_add(out[i], 1);
    }
    return NULL;
}

static void concurrent_registration_never_duplicates(void **state)
{
    (void)state;
    static metrics_series *seen[THREADS][100];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, register_many, seen[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < 100; i++) {
        for (int t = 1; t < THREADS; t++)
            assert_ptr_equal(seen[0][i], seen[t][i]);
        assert_int_equal(metrics_counter_value(seen[0][i]), THREADS);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(same_series_returns_same_handle, reset_registry),
        cmocka_unit_test_setup(another_type_under_the_same_name_is_refused, reset_registry),
        cmocka_unit_test_setup(invalid_names_and_labels_are_refused, reset_registry),
        cmocka_unit_test_setup(null_handles_are_ignored, reset_registry),
        cmocka_unit_test_setup(gauges_set_and_add, reset_registry),
        cmocka_unit_test_setup(exposition_is_exact, reset_registry),
        cmocka_unit_test_setup(foreach_visits_every_series_in_order, reset_registry),
        cmocka_unit_test_setup(component_series_follow_the_kind, reset_registry),
        cmocka_unit_test_setup(process_series_are_registered, reset_registry),
        cmocka_unit_test_setup(concurrent_updates_add_up, reset_registry),
        cmocka_unit_test_setup(concurrent_registration_never_duplicates, reset_registry),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    metrics_reset();
    return failed;
}
