/* test_http_arc.c - the adaptive concurrency controller (sinks/http/http_arc.c)
 * fed with made-up times: the limit grows by one per period while requests
 * reach it with an RTT no worse than its average, never grows when they
 * don't reach it, holds while the RTT stays within rtt_deviation_scale
 * deviations, shrinks by decrease_ratio on back pressure and on an RTT
 * above that, and stays within 1 and max_concurrency_limit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sinks/http/http_internal.h"

#define MS (NS_PER_SEC / 1000)

static const http_arc_settings VECTOR_DEFAULTS = {1, 6, 0.9, 0.4, 2.5};

/* One period of about one RTT: `n` requests start (the last reaching
 * `inflight`) and finish rtt_ms later. */
static int64_t run_period(http_arc *a, int64_t now, size_t inflight, double rtt_ms,
                          bool back_pressure)
{
    http_arc_started(a, inflight);
    now += (int64_t)(rtt_ms * MS);
    http_arc_done(a, now, back_pressure ? -1 : rtt_ms / 1000, back_pressure);
    return now;
}

static void test_grows_by_one_per_period_up_to_the_max(void **state)
{
    (void)state;
    http_arc a;
    http_arc_init(&a, &VECTOR_DEFAULTS, 0);
    assert_int_equal(a.limit, 1);
    int64_t now = run_period(&a, 0, a.limit, 100, false);   /* the first RTT: no change */
    assert_int_equal(a.limit, 1);
    for (size_t want = 2; want <= 6; want++) {
        now = run_period(&a, now, a.limit, 100, false);
        assert_int_equal(a.limit, want);
    }
    for (int i = 0; i < 10; i++) {
        now = run_period(&a, now, a.limit, 100, false);
        assert_true(a.limit <= 6);
    }
}

static void test_never_grows_while_requests_do_not_reach_the_limit(void **state)
{
    (void)state;
    http_arc_settings s = VECTOR_DEFAULTS;
    s.initial = 4;
    http_arc a;
    http_arc_init(&a, &s, 0);
    int64_t now = 0;
    for (int i = 0; i < 20; i++) {
        now = run_period(&a, now, 2, i % 2 ? 90 : 110, false);
        assert_true(a.limit <= 4);
    }
}

static void test_back_pressure_decreases_by_the_ratio(void **state)
{
    (void)state;
    http_arc_settings s = VECTOR_DEFAULTS;
    s.initial = 5;
    s.decrease_ratio = 0.5;
    http_arc a;
    http_arc_init(&a, &s, 0);
    int64_t now = run_period(&a, 0, 5, 100, false);
    /* A 503 within the period, then a normal response ends it. */
    http_arc_started(&a, 5);
    assert_false(http_arc_done(&a, now + 50 * MS, -1, true));
    assert_true(http_arc_done(&a, now + 100 * MS, 0.1, false));
    assert_int_equal(a.limit, 2);   /* floor(5 x 0.5) */
    now += 100 * MS;
    now = run_period(&a, now, 2, 100, true);
    assert_int_equal(a.limit, 1);
    now = run_period(&a, now, 1, 100, true);
    assert_int_equal(a.limit, 1);   /* never below one */
}

static void test_rising_rtt_decreases_the_limit(void **state)
{
    (void)state;
    http_arc_settings s = VECTOR_DEFAULTS;
    s.initial = 4;
    http_arc a;
    http_arc_init(&a, &s, 0);
    int64_t now = 0;
    for (int i = 0; i < 3; i++)
        now = run_period(&a, now, a.limit, 100, false);
    assert_int_equal(a.limit, 6);
    now = run_period(&a, now, a.limit, 300, false);   /* while the limit is reached */
    assert_int_equal(a.limit, 5);                     /* floor(6 x 0.9) */
}

/* An average of 100 ms with a deviation of 20 ms: the limit decreases only
 * when a period's RTT is 2.5 deviations (150 ms) or more above it. */
static void test_rtt_within_the_deviation_holds_the_limit(void **state)
{
    (void)state;
    http_arc_settings s = VECTOR_DEFAULTS;
    s.initial = 3;
    http_arc a;
    http_arc_init(&a, &s, 0);
    a.have_past = true;
    a.past_mean = 0.100;
    a.past_var = 0.020 * 0.020;
    int64_t now = run_period(&a, 0, 1, 140, false);
    assert_int_equal(a.limit, 3);
    a.past_mean = 0.100;
    a.past_var = 0.020 * 0.020;
    now = run_period(&a, now, 1, 160, false);
    assert_int_equal(a.limit, 2);   /* floor(3 x 0.9) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_by_one_per_period_up_to_the_max),
        cmocka_unit_test(test_never_grows_while_requests_do_not_reach_the_limit),
        cmocka_unit_test(test_back_pressure_decreases_by_the_ratio),
        cmocka_unit_test(test_rising_rtt_decreases_the_limit),
        cmocka_unit_test(test_rtt_within_the_deviation_holds_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
