/* Unit tests: the time module - civil dates, RFC 3339 timestamps as
 * containerd and CRI-O write them and as the remap language reads them,
 * chrono's strftime and strptime, and fixed zones. Expected values are
 * exact. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pipeline/sltime.h"

#define SEC 1000000000LL
/* 2016-10-06T00:17:09Z */
#define T0 (1475713029LL * SEC)

/* RFC 3339 as the kubernetes_logs source reads it (leap seconds too). */
static int64_t ts_ok(const char *s)
{
    int64_t ns = -1;
    size_t at;
    const char *what = sltime_parse_rfc3339(s, strlen(s), SLTIME_RFC3339_LEAP_SECOND, &ns, &at);
    if (what)
        fail_msg("%s: expected %s at byte %zu", s, what, at);
    return ns;
}

static void ts_bad(const char *s, const char *msg)
{
    int64_t ns = 0;
    size_t at;
    const char *what = sltime_parse_rfc3339(s, strlen(s), SLTIME_RFC3339_LEAP_SECOND, &ns, &at);
    assert_non_null(what);
    char got[256];
    snprintf(got, sizeof(got), "bad RFC 3339 timestamp: expected %s at byte %zu", what, at);
    assert_string_equal(got, msg);
}

static void timestamps_of_any_fraction_width(void **state)
{
    (void)state;
    assert_int_equal(ts_ok("2016-10-06T00:17:09.669794202Z"), T0 + 669794202);
    assert_int_equal(ts_ok("2016-10-06T00:17:41Z"), 1475713061LL * SEC);
    assert_int_equal(ts_ok("2016-10-06T00:17:09.5Z"), T0 + 500000000);
    assert_int_equal(ts_ok("2016-10-06T00:17:09.05Z"), T0 + 50000000);
    assert_int_equal(ts_ok("2016-10-06T00:17:09.123456Z"), T0 + 123456000);
    assert_int_equal(ts_ok("2016-10-06T00:17:09.000000001Z"), T0 + 1);
    assert_int_equal(ts_ok("2016-10-06t00:17:09z"), T0);
    assert_int_equal(ts_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(ts_ok("1969-12-31T23:59:59.5Z"), -SEC / 2);
    assert_int_equal(ts_ok("2024-02-29T23:59:59Z"), 1709251199LL * SEC);
    /* a leap second counts into the next minute */
    assert_int_equal(ts_ok("2016-10-06T00:17:60Z"), (1475713029LL + 51) * SEC);
    assert_int_equal(ts_ok("2262-04-11T23:47:16.854775807Z"), INT64_MAX);
    assert_int_equal(ts_ok("1677-09-21T00:12:43.145224192Z"), INT64_MIN);
}

static void timestamps_with_offsets(void **state)
{
    (void)state;
    assert_int_equal(ts_ok("2016-10-06T00:17:09.669794202+00:00"), T0 + 669794202);
    assert_int_equal(ts_ok("2016-10-06T00:17:09-00:00"), T0);
    /* 23:59:59 at -07:00 is 06:59:59 the next day in UTC */
    assert_int_equal(ts_ok("2024-02-29T23:59:59.250-07:00"), 1709276399LL * SEC + 250000000);
    assert_int_equal(ts_ok("2016-10-06T05:47:09+05:30"), T0);
    assert_int_equal(ts_ok("2016-10-06T00:17:09.669794202+23:59"),
                     T0 - (23 * 3600 + 59 * 60) * SEC + 669794202);
}

static void bad_timestamps(void **state)
{
    (void)state;
    ts_bad("", "bad RFC 3339 timestamp: expected year at byte 0");
    ts_bad("2016/10/06T00:17:09Z", "bad RFC 3339 timestamp: expected '-' in the date at byte 4");
    ts_bad("2016-10-06 00:17:09Z",
           "bad RFC 3339 timestamp: expected 'T' between date and time at byte 10");
    ts_bad("2016-13-06T00:17:09Z", "bad RFC 3339 timestamp: expected month (1-12) at byte 5");
    ts_bad("2016-00-06T00:17:09Z", "bad RFC 3339 timestamp: expected month (1-12) at byte 5");
    ts_bad("2023-02-29T00:17:09Z",
           "bad RFC 3339 timestamp: expected day of the month at byte 8");
    ts_bad("2016-10-06T24:17:09Z", "bad RFC 3339 timestamp: expected hour (0-23) at byte 11");
    ts_bad("2016-10-06T00:60:09Z", "bad RFC 3339 timestamp: expected minute (0-59) at byte 14");
    ts_bad("2016-10-06T00:17:61Z", "bad RFC 3339 timestamp: expected second (0-60) at byte 17");
    ts_bad("2016-10-06T00:17:0Z", "bad RFC 3339 timestamp: expected second at byte 17");
    ts_bad("2016-10-06T00:17:09", "bad RFC 3339 timestamp: expected 'Z' or an offset at byte 19");
    ts_bad("2016-10-06T00:17:09.Z",
           "bad RFC 3339 timestamp: expected fraction digits after '.' at byte 20");
    ts_bad("2016-10-06T00:17:09.1234567891Z",
           "bad RFC 3339 timestamp: expected fraction (at most 9 digits) at byte 29");
    ts_bad("2016-10-06T00:17:09+0000", "bad RFC 3339 timestamp: expected offset (+hh:mm) at byte 19");
    ts_bad("2016-10-06T00:17:09+24:00",
           "bad RFC 3339 timestamp: expected offset (hours 0-23, minutes 0-59) at byte 19");
    ts_bad("2016-10-06T00:17:09Zx", "bad RFC 3339 timestamp: expected end of the timestamp at byte 20");
    ts_bad("2262-04-11T23:47:16.854775808Z",
           "bad RFC 3339 timestamp: expected time within 1677-2262 (nanoseconds since 1970 in "
           "64 bits) at byte 0");
    ts_bad("1677-09-21T00:12:43.145224191Z",
           "bad RFC 3339 timestamp: expected time within 1677-2262 (nanoseconds since 1970 in "
           "64 bits) at byte 0");
    ts_bad("0000-01-01T00:00:00Z",
           "bad RFC 3339 timestamp: expected time within 1677-2262 (nanoseconds since 1970 in "
           "64 bits) at byte 0");
}

static void rfc3339_as_chrono_reads_it(void **state)
{
    (void)state;
    int64_t ns;
    assert_null(sltime_parse_rfc3339("2016-10-06 00:17:09Z", 20, SLTIME_RFC3339_CHRONO, &ns, NULL));
    assert_int_equal(ns, T0);
    const char *long_fraction = "2016-10-06T00:17:09.1234567891Z";
    assert_null(sltime_parse_rfc3339(long_fraction, strlen(long_fraction), SLTIME_RFC3339_CHRONO,
                                     &ns, NULL));
    assert_int_equal(ns, T0 + 123456789);
    assert_non_null(sltime_parse_rfc3339("2016-10-06T00:17:60Z", 20, SLTIME_RFC3339_CHRONO, &ns,
                                         NULL));
    assert_non_null(sltime_parse_rfc3339("2016-10-06T00:17:09", 19, SLTIME_RFC3339_CHRONO, &ns,
                                         NULL));
    assert_null(sltime_parse_rfc3339("2016-10-06T00:17:09", 19,
                                     SLTIME_RFC3339_CHRONO | SLTIME_RFC3339_ZONE_OPTIONAL, &ns,
                                     NULL));
    assert_int_equal(ns, T0);
}

static void assert_timestamp(int64_t ns, const char *want)
{
    char out[SLTIME_RFC3339_MAX];
    size_t n = sltime_format_rfc3339(out, ns);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void rfc3339_written_with_autosi_fractions(void **state)
{
    (void)state;
    assert_timestamp(0, "1970-01-01T00:00:00Z");
    assert_timestamp(981173106000000000LL, "2001-02-03T04:05:06Z");
    assert_timestamp(1597263831404000000LL, "2020-08-12T20:23:51.404Z");
    assert_timestamp(1795255200123000000LL, "2026-11-21T10:00:00.123Z");
    assert_timestamp(951825600000120000LL, "2000-02-29T12:00:00.000120Z");
    assert_timestamp(1735689599000000001LL, "2024-12-31T23:59:59.000000001Z");
    assert_timestamp(-1, "1969-12-31T23:59:59.999999999Z");
    assert_timestamp(-9223372036000000000LL, "1677-09-21T00:12:44Z");
    assert_timestamp(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    assert_timestamp(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
}

static void civil_dates_round_trip(void **state)
{
    (void)state;
    for (int64_t days = -106751; days <= 106751; days += 97) {
        int64_t y;
        unsigned m, d;
        sltime_civil_from_days(days, &y, &m, &d);
        assert_int_equal(sltime_days_from_civil(y, m, d), days);
    }
    assert_int_equal(sltime_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(sltime_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(sltime_weekday_from_days(0), 4);
    assert_int_equal(sltime_days_in_month(2024, 2), 29);
    assert_int_equal(sltime_days_in_month(1900, 2), 28);
    assert_int_equal(sltime_days_in_month(2023, 13), 0);
    assert_int_equal(sltime_month_from_abbr("dEc"), 12);
    assert_int_equal(sltime_month_from_abbr("xyz"), 0);
}

static void strftime_with_an_offset(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_int_equal(sltime_strftime(&b, "%Y-%m-%dT%H:%M:%S%.3f%:z %Z %a %B %j", T0 + 250000000,
                                     7200, "CEST"), 0);
    assert_int_equal(buf_reserve(&b, 0), 0);
    assert_string_equal(b.data, "2016-10-06T02:17:09.250+02:00 CEST Thu October 280");
    buf_free(&b);
    bool timed;
    size_t bad_at;
    assert_int_equal(sltime_strftime_check("100%% %n", 8, &timed, &bad_at), 0);
    assert_false(timed);
    assert_int_equal(sltime_strftime_check("at %Y %E", 8, &timed, &bad_at), -1);
    assert_int_equal(bad_at, 6);
    assert_true(sltime_strftime_valid("%F %T"));
    assert_false(sltime_strftime_valid("%"));
}

static void strptime_in_utc(void **state)
{
    (void)state;
    const sltime_zone *utc = sltime_zone_find("UTC", 3);
    assert_non_null(utc);
    int64_t ns;
    const char *s = "06/Oct/2016:00:17:09 +0000";
    const char *fmt = "%d/%b/%Y:%H:%M:%S %z";
    assert_int_equal(sltime_strptime(s, strlen(s), fmt, strlen(fmt), utc, &ns), SLTIME_OK);
    assert_int_equal(ns, T0);
    assert_int_equal(sltime_strptime("2016-10-06", 10, "%Y-%m-%d %H", 11, utc, &ns),
                     SLTIME_TOO_SHORT);
    assert_string_equal(sltime_error_text(SLTIME_INVALID), "input contains invalid characters");
    assert_true(sltime_strptime_format_ok("%F %T", 5));
    const char *abbr;
    assert_int_equal(sltime_zone_offset(utc, 0, &abbr), 0);
    assert_string_equal(abbr, "UTC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timestamps_of_any_fraction_width),
        cmocka_unit_test(timestamps_with_offsets),
        cmocka_unit_test(bad_timestamps),
        cmocka_unit_test(rfc3339_as_chrono_reads_it),
        cmocka_unit_test(rfc3339_written_with_autosi_fractions),
        cmocka_unit_test(civil_dates_round_trip),
        cmocka_unit_test(strftime_with_an_offset),
        cmocka_unit_test(strptime_in_utc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
