/* test_http_sink.c - the HTTP sink engine's pure rules (sinks/http/http_retry.c):
 * how responses are judged by default, the capped exponential backoff with
 * full jitter, Retry-After in both of its forms, and URLs shown in logs
 * without their credentials. Routing, prepare() and batching need the
 * engine's loop and are covered end to end by the sinks' tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sinks/http/http_internal.h"

#define SEC NS_PER_SEC

/* ---- http_judge_default ---- */

static http_verdict judge(long status, const char *body, char *reason, size_t cap)
{
    http_response r = {status, NULL, body, strlen(body), NULL};
    return http_judge_default(NULL, &r, 0, NULL, reason, cap);
}

static void test_judge_statuses(void **state)
{
    (void)state;
    char reason[64];
    assert_int_equal(judge(200, "", reason, sizeof(reason)), HTTP_DELIVERED);
    assert_int_equal(judge(204, "", reason, sizeof(reason)), HTTP_DELIVERED);
    assert_int_equal(judge(0, "", reason, sizeof(reason)), HTTP_RETRY);
    assert_int_equal(judge(408, "", reason, sizeof(reason)), HTTP_RETRY);
    assert_int_equal(judge(429, "", reason, sizeof(reason)), HTTP_RETRY);
    assert_int_equal(judge(503, "", reason, sizeof(reason)), HTTP_RETRY);
    assert_int_equal(judge(413, "", reason, sizeof(reason)), HTTP_SPLIT);
    assert_int_equal(judge(400, "", reason, sizeof(reason)), HTTP_REJECTED);
    assert_int_equal(judge(404, "", reason, sizeof(reason)), HTTP_REJECTED);
}

static void test_judge_reason_is_one_line_and_bounded(void **state)
{
    (void)state;
    char reason[8];
    assert_int_equal(judge(400, "bad\nre\tquest body", reason, sizeof(reason)), HTTP_REJECTED);
    assert_string_equal(reason, "bad re ");
}

/* ---- http_backoff_ns ---- */

static void test_backoff_doubles_up_to_the_cap(void **state)
{
    (void)state;
    /* u just under 1 shows the cap of each attempt. */
    double u = 0.999999;
    assert_in_range(http_backoff_ns(1, 30, 1, u), SEC - SEC / 1000, SEC);
    assert_in_range(http_backoff_ns(1, 30, 2, u), 2 * SEC - SEC / 1000, 2 * SEC);
    assert_in_range(http_backoff_ns(1, 30, 5, u), 16 * SEC - SEC / 1000, 16 * SEC);
    assert_in_range(http_backoff_ns(1, 30, 6, u), 30 * SEC - SEC / 1000, 30 * SEC);
    /* No overflow however many attempts failed. */
    assert_in_range(http_backoff_ns(1, 30, 100000, u), 30 * SEC - SEC / 1000, 30 * SEC);
}

static void test_backoff_is_full_jitter(void **state)
{
    (void)state;
    assert_int_equal(http_backoff_ns(2, 30, 3, 0), 0);
    assert_int_equal(http_backoff_ns(2, 30, 3, 0.5), 4 * SEC);
    assert_int_equal(http_backoff_ns(0.5, 30, 1, 0.5), SEC / 4);
}

/* ---- http_parse_retry_after ---- */

static int64_t retry_after(const char *v, int64_t now)
{
    return http_parse_retry_after(v, strlen(v), now);
}

static void test_retry_after_seconds(void **state)
{
    (void)state;
    assert_int_equal(retry_after("120", 0), 120 * SEC);
    assert_int_equal(retry_after(" 5\r\n", 0), 5 * SEC);
    assert_int_equal(retry_after("0", 0), 0);
    assert_int_equal(retry_after("99999999", 0), 86400 * SEC);   /* capped at a day */
}

static void test_retry_after_http_date(void **state)
{
    (void)state;
    /* Wed, 21 Oct 2015 07:28:00 GMT is 1445412480 s after the epoch. */
    const char *date = " Wed, 21 Oct 2015 07:28:00 GMT\r\n";
    assert_int_equal(retry_after(date, (1445412480LL - 10) * SEC), 10 * SEC);
    assert_int_equal(retry_after(date, (1445412480LL + 10) * SEC), 0);   /* past: now */
    assert_int_equal(retry_after(date, 0), 86400 * SEC);
}

static void test_retry_after_garbage(void **state)
{
    (void)state;
    assert_int_equal(retry_after("", 0), -1);
    assert_int_equal(retry_after("  \r\n", 0), -1);
    assert_int_equal(retry_after("5x", 0), -1);
    assert_int_equal(retry_after("-5", 0), -1);
    assert_int_equal(retry_after("soon", 0), -1);
    char lng[300];
    memset(lng, '1', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    assert_int_equal(retry_after(lng, 0), -1);
}

/* ---- http_url_for_log ---- */

static void shown(const char *url, const char *want)
{
    char out[256];
    http_url_for_log(url, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_url_for_log_drops_userinfo(void **state)
{
    (void)state;
    shown("https://elastic:s3cret@es.local:9200/_bulk?x=1", "https://es.local:9200/_bulk?x=1");
    shown("http://user@host/", "http://host/");
    shown("http://a:b@c@host:1/p", "http://host:1/p");   /* the last @ ends userinfo */
    shown("http://host/path@not-userinfo", "http://host/path@not-userinfo");
    shown("http://host", "http://host");
    shown("host:80/x", "host:80/x");
}

static void test_url_for_log_truncates(void **state)
{
    (void)state;
    char out[12];
    http_url_for_log("http://k:v@example.com/long/path", out, sizeof(out));
    assert_string_equal(out, "http://exam");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_judge_statuses),
        cmocka_unit_test(test_judge_reason_is_one_line_and_bounded),
        cmocka_unit_test(test_backoff_doubles_up_to_the_cap),
        cmocka_unit_test(test_backoff_is_full_jitter),
        cmocka_unit_test(test_retry_after_seconds),
        cmocka_unit_test(test_retry_after_http_date),
        cmocka_unit_test(test_retry_after_garbage),
        cmocka_unit_test(test_url_for_log_drops_userinfo),
        cmocka_unit_test(test_url_for_log_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
