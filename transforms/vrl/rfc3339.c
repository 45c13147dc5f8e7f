/* rfc3339.c - RFC 3339 timestamps to nanoseconds (see rfc3339.h).
 *
 * Dates go through Howard Hinnant's days_from_civil, which is exact for the
 * whole proleptic Gregorian calendar without the C library's time zone
 * state. Nanoseconds in an int64 span the years 1677 to 2262; a timestamp
 * outside is refused rather than wrapped. */
#include "transforms/vrl/rfc3339.h"

typedef struct cursor {
    const char *s;
    size_t n, i;
} cursor;

/* Reads exactly `width` digits. */
static bool read_digits(cursor *c, int width, int64_t *out)
{
    int64_t v = 0;
    for (int k = 0; k < width; k++) {
        if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9')
            return false;
        v = v * 10 + (c->s[c->i++] - '0');
    }
    *out = v;
    return true;
}

static bool expect(cursor *c, char ch)
{
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t days_in_month(int64_t y, int64_t m)
{
    static const int64_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Fraction digits after a '.', as nanoseconds. */
static bool read_fraction(cursor *c, int64_t *nanos)
{
    int64_t v = 0;
    int ndigits = 0;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        if (ndigits < 9) {
            v = v * 10 + (c->s[c->i] - '0');
            ndigits++;
        }
        c->i++;
    }
    if (ndigits == 0)
        return false;
    while (ndigits++ < 9)
        v *= 10;
    *nanos = v;
    return true;
}

/* The zone offset in seconds east of UTC. */
static bool read_offset(cursor *c, bool zone_optional, int64_t *offset)
{
    *offset = 0;
    if (c->i == c->n)
        return zone_optional;
    char ch = c->s[c->i];
    if (ch == 'Z' || ch == 'z') {
        c->i++;
        return true;
    }
    if (ch != '+' && ch != '-')
        return false;
    c->i++;
    int64_t hh, mm;
    if (!read_digits(c, 2, &hh) || !expect(c, ':') || !read_digits(c, 2, &mm) || hh > 23 ||
        mm > 59)
        return false;
    *offset = (hh * 3600 + mm * 60) * (ch == '-' ? -1 : 1);
    return true;
}

int vrl_rfc3339_parse(const char *s, size_t n, bool zone_optional, int64_t *ns)
{
    cursor c = {s, n, 0};
    int64_t y, mo, d, h, mi, sec, nanos = 0, offset;
    if (!read_digits(&c, 4, &y) || !expect(&c, '-') || !read_digits(&c, 2, &mo) ||
        !expect(&c, '-') || !read_digits(&c, 2, &d))
        return -1;
    if (!(expect(&c, 'T') || expect(&c, 't') || expect(&c, ' ')))
        return -1;
    if (!read_digits(&c, 2, &h) || !expect(&c, ':') || !read_digits(&c, 2, &mi) ||
        !expect(&c, ':') || !read_digits(&c, 2, &sec))
        return -1;
    if (expect(&c, '.') && !read_fraction(&c, &nanos))
        return -1;
    if (!read_offset(&c, zone_optional, &offset) || c.i != n)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    if (secs > INT64_MAX / 1000000000 - 1 || secs < INT64_MIN / 1000000000 + 1)
        return -1;
    *ns = secs * 1000000000 + nanos;
    return 0;
}
