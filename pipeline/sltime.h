/* sltime.h - time for every component: civil (proleptic Gregorian) dates,
 * RFC 3339 timestamps, chrono's strftime and strptime dialects, and zones
 * from the TZ database.
 *
 * Vector formats and parses time with Rust's chrono and names zones from
 * the TZ database (chrono-tz). Templates, the remap language's timestamp
 * functions, the JSON codec and the kubernetes_logs source all need the same
 * calendar, so it is here once, without the C library's locale or zone state
 * (no gmtime_r, no TZ environment). Times are nanoseconds since the Unix
 * epoch in an int64: the years 1677 to 2262. */
#ifndef SLUICE_SLTIME_H
#define SLUICE_SLTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/buf.h"

/* ---- civil dates ------------------------------------------------------- */

bool sltime_is_leap_year(int64_t y);
/* 28-31, or 0 for a month outside 1-12. */
unsigned sltime_days_in_month(int64_t y, unsigned month);
/* Days since 1970-01-01 of a date (Howard Hinnant's days_from_civil). */
int64_t sltime_days_from_civil(int64_t y, unsigned month, unsigned day);
/* 0 = Sunday. */
unsigned sltime_weekday_from_days(int64_t days);
/* Seconds and nanoseconds since the epoch as nanoseconds; false when the
 * result does not fit. */
bool sltime_to_ns(int64_t secs, int64_t nanos, int64_t *ns);
/* "jan".."dec" in any case, three letters: 1-12, or 0. */
unsigned sltime_month_from_abbr(const char *s);

/* English names, "January" and "Sunday" first (what %B and %A print). */
extern const char *const sltime_month_names[12];
extern const char *const sltime_weekday_names[7];

/* The year, month (1-12) and day of a day number (Hinnant's
 * civil_from_days). Inline: every timestamp an encoder writes goes through
 * it. */
static inline void sltime_civil_from_days(int64_t days, int64_t *y, unsigned *month,
                                          unsigned *day)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*month <= 2);
}

/* A time broken down for display. */
typedef struct sltime_fields {
    int64_t year;
    unsigned month, day, hour, minute, second, nanos;
    unsigned wday;    /* 0 = Sunday */
    unsigned yday;    /* 0-based */
    int64_t unix_secs;
    int32_t offset;   /* seconds east of UTC the fields are shown at */
    const char *zone; /* what %Z prints */
} sltime_fields;

/* The fields of ns in UTC. */
void sltime_fields_from_ns(int64_t ns, sltime_fields *t);

/* ---- RFC 3339 ---------------------------------------------------------- */

/* "2020-10-21T16:00:00Z", "2020-10-21T16:00:00.123456+02:00": `T` or `t`
 * between date and time, `Z`/`z` or a +hh:mm offset. The flags widen what
 * is read, for the readers that take more. */
enum {
    SLTIME_RFC3339_SPACE = 1,         /* a space may stand for the `T` */
    SLTIME_RFC3339_ZONE_OPTIONAL = 2, /* no offset reads as UTC */
    SLTIME_RFC3339_LEAP_SECOND = 4,   /* second 60 counts into the next minute */
    SLTIME_RFC3339_LONG_FRACTION = 8, /* digits past the ninth are cut (else
                                       * refused) */
    /* chrono's parse_from_rfc3339, which the remap language uses. */
    SLTIME_RFC3339_CHRONO = SLTIME_RFC3339_SPACE | SLTIME_RFC3339_LONG_FRACTION,
};

/* Longest text sltime_format_rfc3339 writes, with its NUL. */
#define SLTIME_RFC3339_MAX 40

/* RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits, whichever is the
 * shortest exact one (chrono's SecondsFormat::AutoSi, what Vector writes):
 * "2026-11-21T10:00:00.123Z". Returns the length written. */
size_t sltime_format_rfc3339(char out[SLTIME_RFC3339_MAX], int64_t ns);

/* NULL on success, with *ns set; else what was expected, with *at its byte
 * offset (for a message such as "expected month (1-12) at byte 5"). */
const char *sltime_parse_rfc3339(const char *s, size_t n, unsigned flags, int64_t *ns,
                                 size_t *at);

/* ---- time zones -------------------------------------------------------- */

typedef struct sltime_zone sltime_zone;

/* "UTC", "local" or "" (the process's zone: $TZ, else /etc/localtime, else
 * UTC), or a TZ database name such as "Europe/Berlin", read from the
 * system's TZif files (/usr/share/zoneinfo, or $TZDIR). NULL when there is
 * no such zone. Zones are loaded once and kept for the process's life, so
 * the pointer may be stored. Thread-safe. */
const sltime_zone *sltime_zone_find(const char *name, size_t n);
const sltime_zone *sltime_zone_local(void);

/* The offset from UTC (seconds east) in effect at utc_secs, and the zone's
 * abbreviation for it ("CET", "UTC"). */
int32_t sltime_zone_offset(const sltime_zone *tz, int64_t utc_secs, const char **abbr);
/* The UTC time of a wall-clock time in tz, the earlier one when the wall
 * clock repeats; false when it falls in a gap (a spring-forward hour). */
bool sltime_zone_to_utc(const sltime_zone *tz, int64_t local_secs, int64_t *utc_secs);

/* ---- strptime ---------------------------------------------------------- */

/* chrono's ParseErrorKind. */
typedef enum sltime_error {
    SLTIME_OK = 0,
    SLTIME_OUT_OF_RANGE,
    SLTIME_IMPOSSIBLE,
    SLTIME_NOT_ENOUGH,
    SLTIME_INVALID,
    SLTIME_TOO_SHORT,
    SLTIME_TOO_LONG,
    SLTIME_BAD_FORMAT,
} sltime_error;

/* chrono's message for the error ("input contains invalid characters"). */
const char *sltime_error_text(sltime_error e);

/* Whether fmt is a format chrono can parse with (every specifier known). */
bool sltime_strptime_format_ok(const char *fmt, size_t n);

/* Parses s with the strptime format fmt (chrono's dialect: %Y %m %d %H %M
 * %S %f %.f %z %:z %#z %Z %b %B %a %A %p %j %e %s %+ %T %D %F %R %v %c ...).
 * A time that carries no offset (%z, %+) or epoch seconds (%s) is read as
 * wall-clock time in tz. */
sltime_error sltime_strptime(const char *s, size_t n, const char *fmt, size_t fmtlen,
                             const sltime_zone *tz, int64_t *ns);

/* ---- strftime ---------------------------------------------------------- */

/* chrono's strftime: the C specifiers plus chrono's fractions (%f %.f %.3f
 * %3f ...), %:z and %+; `-`, `_` and `0` change the padding of numbers. */

/* Checks the len bytes of fmt: 0 when chrono knows every specifier, with
 * *timed telling whether any shows the time (not only %% %t %n); else -1
 * with *bad_at the offset of the '%' chrono would refuse. */
int sltime_strftime_check(const char *fmt, size_t len, bool *timed, size_t *bad_at);
/* sltime_strftime_check of a whole string, as a yes or no. */
bool sltime_strftime_valid(const char *fmt);

/* Appends fmt (len bytes, checked) rendered with t; t may be NULL when the
 * format shows no time. -1 when out of memory. */
int sltime_strftime_fields(buf *out, const char *fmt, size_t len, const sltime_fields *t);
/* Appends fmt (checked) for the time ns shown at offset seconds east of
 * UTC, %Z printing zone. -1 when out of memory. */
int sltime_strftime(buf *out, const char *fmt, int64_t ns, int32_t offset, const char *zone);

#endif
