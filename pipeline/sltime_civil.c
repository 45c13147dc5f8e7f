/* sltime_civil.c - civil dates and RFC 3339 timestamps (see sltime.h).
 *
 * Dates go through Howard Hinnant's days_from_civil and its inverse, which
 * are exact for the whole proleptic Gregorian calendar. Nanoseconds in an
 * int64 span the years 1677 to 2262; a timestamp outside is refused rather
 * than wrapped. */
#include "pipeline/sltime.h"
#include "pipeline/common.h"

#include <string.h>
#include <strings.h>

const char *const sltime_month_names[12] = {
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
};
const char *const sltime_weekday_names[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};

bool sltime_is_leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned sltime_days_in_month(int64_t y, unsigned month)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return days[month - 1] + (month == 2 && sltime_is_leap_year(y));
}

int64_t sltime_days_from_civil(int64_t y, unsigned month, unsigned day)
{
    y -= month <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

unsigned sltime_weekday_from_days(int64_t days)
{
    return (unsigned)(((days % 7) + 7 + 4) % 7);
}

bool sltime_to_ns(int64_t secs, int64_t nanos, int64_t *ns)
{
    int64_t s;
    if (__builtin_mul_overflow(secs, NS_PER_SEC, &s) || __builtin_add_overflow(s, nanos, ns))
        return false;
    return true;
}

unsigned sltime_month_from_abbr(const char *s)
{
    for (unsigned i = 0; i < 12; i++)
        if (strncasecmp(s, sltime_month_names[i], 3) == 0)
            return i + 1;
    return 0;
}

void sltime_fields_from_ns(int64_t ns, sltime_fields *t)
{
    int64_t secs = ns / NS_PER_SEC, frac = ns % NS_PER_SEC;
    if (frac < 0) {
        frac += NS_PER_SEC;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    t->unix_secs = secs;
    t->offset = 0;
    t->zone = "UTC";
    t->nanos = (unsigned)frac;
    t->hour = (unsigned)(sod / 3600);
    t->minute = (unsigned)(sod / 60 % 60);
    t->second = (unsigned)(sod % 60);
    t->wday = sltime_weekday_from_days(days);
    sltime_civil_from_days(days, &t->year, &t->month, &t->day);
    static const unsigned before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    t->yday = before_month[t->month - 1] + t->day - 1 +
              (t->month > 2 && sltime_is_leap_year(t->year));
}

/* ---- RFC 3339 ---------------------------------------------------------- */

static char *put2(char *p, unsigned v)
{
    memcpy(p, sl_digit_pairs + 2 * v, 2);
    return p + 2;
}

static char *put_fraction(char *p, unsigned v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + digits;
}

size_t sltime_format_rfc3339(char out[SLTIME_RFC3339_MAX], int64_t ns)
{
    int64_t secs = ns / NS_PER_SEC;
    int64_t frac = ns % NS_PER_SEC;
    if (frac < 0) {
        frac += NS_PER_SEC;
        secs--;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t year;
    unsigned month, day;
    sltime_civil_from_days(days, &year, &month, &day);

    /* The int64 nanosecond range spans the years 1677 to 2262. */
    char *p = out;
    p = put2(p, (unsigned)(year / 100));
    p = put2(p, (unsigned)(year % 100));
    *p++ = '-';
    p = put2(p, month);
    *p++ = '-';
    p = put2(p, day);
    *p++ = 'T';
    p = put2(p, (unsigned)(sod / 3600));
    *p++ = ':';
    p = put2(p, (unsigned)(sod / 60 % 60));
    *p++ = ':';
    p = put2(p, (unsigned)(sod % 60));
    if (frac) {
        *p++ = '.';
        if (frac % 1000000 == 0)
            p = put_fraction(p, (unsigned)(frac / 1000000), 3);
        else if (frac % 1000 == 0)
            p = put_fraction(p, (unsigned)(frac / 1000), 6);
        else
            p = put_fraction(p, (unsigned)frac, 9);
    }
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads n digits at s[pos]; false when they are not all there. */
static bool read_digits(const char *s, size_t len, size_t pos, size_t n, int *v)
{
    if (pos + n > len)
        return false;
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[pos + i]))
            return false;
        x = x * 10 + (s[pos + i] - '0');
    }
    *v = x;
    return true;
}

static bool is_date_time_separator(char c, unsigned flags)
{
    return c == 'T' || c == 't' || (c == ' ' && (flags & SLTIME_RFC3339_SPACE));
}

/* Reads the date and time of day; NULL on success, else what is wrong with
 * *at set to its byte offset. */
static const char *read_date_time(const char *s, size_t len, unsigned flags, int f[6], size_t *at)
{
    static const struct {
        size_t pos, n;
        char after;
        const char *what;
    } part[6] = {
        {0, 4, '-', "year"},   {5, 2, '-', "month"},  {8, 2, 'T', "day"},
        {11, 2, ':', "hour"},  {14, 2, ':', "minute"}, {17, 2, 0, "second"},
    };
    for (size_t i = 0; i < 6; i++) {
        *at = part[i].pos;
        if (!read_digits(s, len, part[i].pos, part[i].n, &f[i]))
            return part[i].what;
        size_t sep = part[i].pos + part[i].n;
        *at = sep;
        if (part[i].after == 'T' && (sep >= len || !is_date_time_separator(s[sep], flags)))
            return "'T' between date and time";
        if (part[i].after && part[i].after != 'T' && (sep >= len || s[sep] != part[i].after))
            return part[i].after == '-' ? "'-' in the date" : "':' in the time";
    }
    *at = 5;
    if (f[1] < 1 || f[1] > 12)
        return "month (1-12)";
    *at = 8;
    if (f[2] < 1 || (unsigned)f[2] > sltime_days_in_month(f[0], (unsigned)f[1]))
        return "day of the month";
    *at = 11;
    if (f[3] > 23)
        return "hour (0-23)";
    *at = 14;
    if (f[4] > 59)
        return "minute (0-59)";
    *at = 17;
    /* 60 is a leap second, which RFC 3339 allows; it counts into the next
     * minute as chrono's timestamps do. */
    if (flags & SLTIME_RFC3339_LEAP_SECOND)
        return f[5] > 60 ? "second (0-60)" : NULL;
    return f[5] > 59 ? "second (0-59)" : NULL;
}

/* Reads `.ddddddddd` at s[*pos] when there is one, as nanoseconds. */
static const char *read_fraction(const char *s, size_t len, unsigned flags, size_t *pos,
                                 int64_t *frac)
{
    *frac = 0;
    if (*pos >= len || s[*pos] != '.')
        return NULL;
    size_t i = *pos + 1, n = 0;
    int64_t scale = 100000000;
    while (i < len && is_digit(s[i])) {
        if (n == 9 && !(flags & SLTIME_RFC3339_LONG_FRACTION)) {
            *pos = i;
            return "fraction (at most 9 digits)";
        }
        *frac += (s[i] - '0') * scale;
        scale /= 10;
        i++;
        n++;
    }
    if (n == 0) {
        *pos = *pos + 1;
        return "fraction digits after '.'";
    }
    *pos = i;
    return NULL;
}

/* Reads `Z` or `+hh:mm` / `-hh:mm` at s[*pos], which must end the text, as
 * seconds east of UTC. */
static const char *read_offset(const char *s, size_t len, unsigned flags, size_t *pos,
                               int64_t *off)
{
    size_t p = *pos;
    *off = 0;
    if (p == len && (flags & SLTIME_RFC3339_ZONE_OPTIONAL))
        return NULL;
    if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
        int h, m;
        if (!read_digits(s, len, p + 1, 2, &h) || p + 3 >= len || s[p + 3] != ':' ||
            !read_digits(s, len, p + 4, 2, &m))
            return "offset (+hh:mm)";
        if (h > 23 || m > 59)
            return "offset (hours 0-23, minutes 0-59)";
        *off = (int64_t)(h * 3600 + m * 60) * (s[p] == '-' ? -1 : 1);
        p += 6;
    } else {
        return "'Z' or an offset";
    }
    *pos = p;
    if (p != len)
        return "end of the timestamp";
    return NULL;
}

static const char *scan_rfc3339(const char *s, size_t len, unsigned flags, int64_t *ns,
                                size_t *at)
{
    int f[6];
    const char *what = read_date_time(s, len, flags, f, at);
    if (what)
        return what;
    size_t pos = 19;
    int64_t frac, off;
    if ((what = read_fraction(s, len, flags, &pos, &frac)) != NULL) {
        *at = pos;
        return what;
    }
    *at = pos;
    if ((what = read_offset(s, len, flags, at, &off)) != NULL)
        return what;
    int64_t secs = sltime_days_from_civil(f[0], (unsigned)f[1], (unsigned)f[2]) * 86400 +
                   f[3] * 3600 + f[4] * 60 + f[5] - off;
    /* Before 1970 with a fraction, borrow a second so that the product
     * stays in range down to the earliest representable instant. */
    if (secs < 0 && frac > 0) {
        secs += 1;
        frac -= NS_PER_SEC;
    }
    int64_t out;
    if (!sltime_to_ns(secs, frac, &out)) {
        *at = 0;
        return "time within 1677-2262 (nanoseconds since 1970 in 64 bits)";
    }
    *ns = out;
    return NULL;
}

const char *sltime_parse_rfc3339(const char *s, size_t n, unsigned flags, int64_t *ns,
                                 size_t *at)
{
    size_t where = 0;
    const char *what = scan_rfc3339(s, n, flags, ns, &where);
    if (at)
        *at = where;
    return what;
}
