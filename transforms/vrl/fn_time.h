/* fn_time.h - time for the remap language's timestamp functions.
 *
 * VRL parses and formats timestamps with Rust's chrono and names zones from
 * the TZ database (chrono-tz). This module gives the function groups the
 * same three things: civil dates, time zones read from the system's TZif
 * files (/usr/share/zoneinfo, or $TZDIR), and a parser for chrono's
 * strptime dialect with chrono's error kinds. Formatting reuses the chrono
 * strftime renderer of pipeline/template.c. */
#ifndef SLUICE_VRL_FN_TIME_H
#define SLUICE_VRL_FN_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- civil dates ------------------------------------------------------- */

bool vrl_is_leap_year(int64_t y);
unsigned vrl_days_in_month(int64_t y, unsigned month);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t vrl_days_from_civil(int64_t y, unsigned month, unsigned day);
/* 0 = Sunday. */
unsigned vrl_weekday_from_days(int64_t days);
/* Seconds and nanoseconds since the epoch as nanoseconds; false when the
 * result does not fit (years before 1677 or after 2262). */
bool vrl_time_to_ns(int64_t secs, int64_t nanos, int64_t *ns);
/* The year, month (1-12) and day of a day number. */
void vrl_civil_from_days(int64_t days, int64_t *y, unsigned *month, unsigned *day);
/* "jan".."dec" in any case, three letters: 1-12, or 0. */
unsigned vrl_month_from_abbr(const char *s);

/* ---- time zones -------------------------------------------------------- */

typedef struct vrl_tz vrl_tz;

/* "UTC", "local" or "" (the process's zone: $TZ, else /etc/localtime, else
 * UTC), or a TZ database name such as "Europe/Berlin". NULL when there is
 * no such zone. Zones are loaded once and kept for the process's life, so
 * the pointer may be stored. Thread-safe. */
const vrl_tz *vrl_tz_find(const char *name, size_t n);
const vrl_tz *vrl_tz_local(void);

/* The offset from UTC (seconds east) in effect at utc_secs, and the zone's
 * abbreviation for it ("CET", "UTC"). */
int32_t vrl_tz_offset(const vrl_tz *tz, int64_t utc_secs, const char **abbr);
/* The UTC time of a wall-clock time in tz, the earlier one when the wall
 * clock repeats; false when it falls in a gap (a spring-forward hour). */
bool vrl_tz_to_utc(const vrl_tz *tz, int64_t local_secs, int64_t *utc_secs);

/* ---- parsing ----------------------------------------------------------- */

/* chrono's ParseErrorKind. */
typedef enum vrl_time_error {
    VRL_TIME_OK = 0,
    VRL_TIME_OUT_OF_RANGE,
    VRL_TIME_IMPOSSIBLE,
    VRL_TIME_NOT_ENOUGH,
    VRL_TIME_INVALID,
    VRL_TIME_TOO_SHORT,
    VRL_TIME_TOO_LONG,
    VRL_TIME_BAD_FORMAT,
} vrl_time_error;

/* chrono's message for the error ("input contains invalid characters"). */
const char *vrl_time_error_text(vrl_time_error e);

/* Whether fmt is a format chrono can parse with (every specifier known). */
bool vrl_time_format_ok(const char *fmt, size_t n);

/* Parses s with the strptime format fmt (chrono's dialect: %Y %m %d %H %M
 * %S %f %.f %z %:z %#z %Z %b %B %a %A %p %j %e %s %+ %T %D %F %R %v %c ...).
 * A time that carries no offset (%z, %+) or epoch seconds (%s) is read as
 * wall-clock time in tz. */
vrl_time_error vrl_time_parse(const char *s, size_t n, const char *fmt, size_t fmtlen,
                              const vrl_tz *tz, int64_t *ns);

#endif
