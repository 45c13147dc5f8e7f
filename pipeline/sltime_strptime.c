/* sltime_strptime.c - chrono's strptime dialect (see sltime.h).
 *
 * The parser follows chrono's format::parse: literals must match, a space
 * in the format skips any whitespace, numbers take between one digit and
 * the field's width, names are matched without regard to case, and the
 * fields are resolved to a date and time at the end, with chrono's errors
 * for what is missing, out of range or contradictory. */
#include "pipeline/sltime.h"
#include "pipeline/common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *sltime_error_text(sltime_error e)
{
    switch (e) {
    case SLTIME_OUT_OF_RANGE: return "input is out of range";
    case SLTIME_IMPOSSIBLE: return "no possible date and time matching input";
    case SLTIME_NOT_ENOUGH: return "input is not enough for unique date and time";
    case SLTIME_INVALID: return "input contains invalid characters";
    case SLTIME_TOO_SHORT: return "premature end of input";
    case SLTIME_TOO_LONG: return "trailing input";
    case SLTIME_BAD_FORMAT: return "bad or unsupported format string";
    default: return "no error";
    }
}

/* The fields a format sets, as chrono's Parsed holds them. */
typedef struct parsed {
    bool has_year, has_century, has_year_mod, has_month, has_day, has_ordinal;
    bool has_hour_div, has_hour_mod, has_minute, has_second, has_nanos;
    bool has_offset, has_timestamp, has_weekday;
    int64_t year, century, year_mod, timestamp;
    int64_t month, day, ordinal, hour_div, hour_mod, minute, second, weekday;
    int64_t nanos;
    int32_t offset;
} parsed;

typedef struct scanner {
    const char *s;
    size_t n, i;
} scanner;

/* Sets a field once; a second, different value is chrono's IMPOSSIBLE. */
static sltime_error set_field(bool *has, int64_t *field, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo || v > hi)
        return SLTIME_OUT_OF_RANGE;
    if (*has && *field != v)
        return SLTIME_IMPOSSIBLE;
    *has = true;
    *field = v;
    return SLTIME_OK;
}

static void skip_spaces(scanner *sc)
{
    while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t'))
        sc->i++;
}

/* Unicode whitespace, as str::trim_start. */
static void skip_whitespace(scanner *sc)
{
    while (sc->i < sc->n) {
        unsigned char c = (unsigned char)sc->s[sc->i];
        if (c == ' ' || (c >= 0x09 && c <= 0x0D)) {
            sc->i++;
        } else if (c == 0xC2 && sc->i + 1 < sc->n && ((unsigned char)sc->s[sc->i + 1] == 0x85 ||
                                                      (unsigned char)sc->s[sc->i + 1] == 0xA0)) {
            sc->i += 2;
        } else {
            break;
        }
    }
}

/* chrono's scan::number: min..max digits. */
static sltime_error scan_number(scanner *sc, size_t min, size_t max, int64_t *out)
{
    size_t k = 0;
    int64_t v = 0;
    if (sc->n - sc->i < min)
        return SLTIME_TOO_SHORT;
    while (k < max && sc->i + k < sc->n && isdigit((unsigned char)sc->s[sc->i + k])) {
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, sc->s[sc->i + k] - '0', &v))
            return SLTIME_OUT_OF_RANGE;
        k++;
    }
    if (k < min)
        return SLTIME_INVALID;
    sc->i += k;
    *out = v;
    return SLTIME_OK;
}

static sltime_error scan_signed(scanner *sc, size_t width, int64_t *out)
{
    if (sc->i < sc->n && (sc->s[sc->i] == '-' || sc->s[sc->i] == '+')) {
        bool neg = sc->s[sc->i++] == '-';
        sltime_error e = scan_number(sc, 1, 19, out);
        if (e == SLTIME_OK && neg)
            *out = -*out;
        return e;
    }
    return scan_number(sc, 1, width, out);
}

/* A fraction's digits (1-9 read, more skipped) as nanoseconds. */
static sltime_error scan_fraction(scanner *sc, size_t min, size_t max, int64_t *nanos)
{
    size_t start = sc->i;
    int64_t v = 0;
    while (sc->i < sc->n && sc->i - start < max && isdigit((unsigned char)sc->s[sc->i])) {
        if (sc->i - start < 9)
            v = v * 10 + (sc->s[sc->i] - '0');
        sc->i++;
    }
    size_t k = sc->i - start;
    if (k < min)
        return sc->i >= sc->n ? SLTIME_TOO_SHORT : SLTIME_INVALID;
    for (size_t d = k; d < 9; d++)
        v *= 10;
    *nanos = v;
    return SLTIME_OK;
}

/* A name among `names` (full names, matched by their first three letters,
 * then optionally the rest when `long_ok`). Returns the index or -1. */
static sltime_error scan_name(scanner *sc, const char *const *names, int count, bool long_ok,
                                int64_t *index)
{
    if (sc->n - sc->i < 3)
        return SLTIME_TOO_SHORT;
    for (int k = 0; k < count; k++) {
        if (strncasecmp(sc->s + sc->i, names[k], 3) != 0)
            continue;
        sc->i += 3;
        size_t rest = strlen(names[k]) - 3;
        if (long_ok && sc->n - sc->i >= rest && strncasecmp(sc->s + sc->i, names[k] + 3, rest) == 0)
            sc->i += rest;
        *index = k;
        return SLTIME_OK;
    }
    return SLTIME_INVALID;
}

/* +hh:mm, +hhmm (and Z, or +hh, when permissive). */
static sltime_error scan_offset(scanner *sc, bool permissive, int32_t *out)
{
    skip_spaces(sc);
    if (sc->i >= sc->n)
        return SLTIME_TOO_SHORT;
    char c = sc->s[sc->i];
    if (permissive && (c == 'Z' || c == 'z')) {
        sc->i++;
        *out = 0;
        return SLTIME_OK;
    }
    if (c != '+' && c != '-')
        return SLTIME_INVALID;
    sc->i++;
    int64_t h, m = 0;
    size_t before = sc->i;
    sltime_error e = scan_number(sc, 2, 2, &h);
    if (e != SLTIME_OK)
        return e;
    if (sc->i - before != 2)
        return SLTIME_INVALID;
    if (sc->i < sc->n && sc->s[sc->i] == ':')
        sc->i++;
    if (!permissive || (sc->i < sc->n && isdigit((unsigned char)sc->s[sc->i]))) {
        before = sc->i;
        if ((e = scan_number(sc, 2, 2, &m)) != SLTIME_OK)
            return e;
        if (m > 59)
            return SLTIME_OUT_OF_RANGE;
    }
    *out = (int32_t)((h * 3600 + m * 60) * (c == '-' ? -1 : 1));
    return SLTIME_OK;
}

static sltime_error parse_format(scanner *sc, const char *fmt, size_t fmtlen, parsed *p);

static sltime_error set_hour(parsed *p, int64_t h)
{
    sltime_error e = set_field(&p->has_hour_div, &p->hour_div, h / 12, 0, 1);
    if (e == SLTIME_OK)
        e = set_field(&p->has_hour_mod, &p->hour_mod, h % 12, 0, 11);
    return h < 0 || h > 23 ? SLTIME_OUT_OF_RANGE : e;
}

static sltime_error set_offset(parsed *p, int32_t off)
{
    int64_t cur = p->offset, v = off;
    sltime_error e = set_field(&p->has_offset, &cur, v, -86399, 86399);
    p->offset = (int32_t)cur;
    return e;
}

/* RFC 3339 with chrono's relaxations for %+ (any case of T/Z, a space
 * between date and time, no colon in the offset). */
static sltime_error parse_rfc3339_fields(scanner *sc, parsed *p)
{
    sltime_error e;
    if ((e = parse_format(sc, "%Y-%m-%d", 8, p)) != SLTIME_OK)
        return e;
    if (sc->i >= sc->n)
        return SLTIME_TOO_SHORT;
    char t = sc->s[sc->i];
    if (t != 'T' && t != 't' && t != ' ')
        return SLTIME_INVALID;
    sc->i++;
    if ((e = parse_format(sc, "%H:%M:%S%.f", 11, p)) != SLTIME_OK)
        return e;
    int32_t off;
    if ((e = scan_offset(sc, true, &off)) != SLTIME_OK)
        return e;
    return set_offset(p, off);
}

static const char *composite(char c)
{
    switch (c) {
    case 'D':
    case 'x': return "%m/%d/%y";
    case 'F': return "%Y-%m-%d";
    case 'v': return "%e-%b-%Y";
    case 'R': return "%H:%M";
    case 'T':
    case 'X': return "%H:%M:%S";
    case 'r': return "%I:%M:%S %p";
    case 'c': return "%a %b %e %H:%M:%S %Y";
    default: return NULL;
    }
}

static sltime_error parse_numeric(scanner *sc, char conv, parsed *p)
{
    int64_t v;
    sltime_error e;
    skip_spaces(sc);
    switch (conv) {
    case 'Y':
        if ((e = scan_signed(sc, 4, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_year, &p->year, v, -262143, 262142);
    case 'G':
        return scan_signed(sc, 4, &v);
    case 'C':
        if ((e = scan_number(sc, 1, 2, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_century, &p->century, v, 0, 99);
    case 'y':
        if ((e = scan_number(sc, 1, 2, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_year_mod, &p->year_mod, v, 0, 99);
    case 'g':
    case 'U':
    case 'W':
    case 'V':
        if ((e = scan_number(sc, 1, 2, &v)) != SLTIME_OK)
            return e;
        return v > 53 ? SLTIME_OUT_OF_RANGE : SLTIME_OK;
    case 'm':
        if ((e = scan_number(sc, 1, 2, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_month, &p->month, v, 1, 12);
    case 'd':
    case 'e':
        if ((e = scan_number(sc, 1, 2, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_day, &p->day, v, 1, 31);
    case 'j':
        if ((e = scan_number(sc, 1, 3, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_ordinal, &p->ordinal, v, 1, 366);
    case 'w':
    case 'u':
        if ((e = scan_number(sc, 1, 1, &v)) != SLTIME_OK)
            return e;
        if (conv == 'u' && (v < 1 || v > 7))
            return SLTIME_OUT_OF_RANGE;
        return set_field(&p->has_weekday, &p->weekday, v % 7, 0, 6);
    case 'H':
    case 'k':
        if ((e = scan_number(sc, 1, 2, &v)) != SLTIME_OK)
            return e;
        return set_hour(p, v);
    case 'I':
    case 'l':
        if ((e = scan_number(sc, 1, 2, &v)) != SLTIME_OK)
            return e;
        if (v < 1 || v > 12)
            return SLTIME_OUT_OF_RANGE;
        return set_field(&p->has_hour_mod, &p->hour_mod, v % 12, 0, 11);
    case 'M':
        if ((e = scan_number(sc, 1, 2, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_minute, &p->minute, v, 0, 59);
    case 'S':
        if ((e = scan_number(sc, 1, 2, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_second, &p->second, v, 0, 60);
    case 'f':
        if ((e = scan_number(sc, 1, 9, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_nanos, &p->nanos, v, 0, 999999999);
    case 's':
        if ((e = scan_signed(sc, 19, &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_timestamp, &p->timestamp, v, INT64_MIN, INT64_MAX);
    default:
        return SLTIME_BAD_FORMAT;
    }
}

/* One specifier at fmt (just after '%'); *used gets its length. */
static sltime_error parse_spec(scanner *sc, const char *fmt, size_t len, size_t *used, parsed *p)
{
    size_t k = 0;
    if (k < len && (fmt[k] == '-' || fmt[k] == '_' || fmt[k] == '0'))
        k++;
    if (k >= len)
        return SLTIME_BAD_FORMAT;
    char c = fmt[k];
    int64_t v;
    sltime_error e;
    /* Fractions: %.f %.3f %.6f %.9f (optional dot and digits), %3f %6f %9f. */
    if (c == '.' && k + 1 < len) {
        size_t j = k + 1;
        if (j < len && (fmt[j] == '3' || fmt[j] == '6' || fmt[j] == '9'))
            j++;
        if (j >= len || fmt[j] != 'f')
            return SLTIME_BAD_FORMAT;
        *used = j + 1;
        if (sc->i < sc->n && sc->s[sc->i] == '.') {
            sc->i++;
            if ((e = scan_fraction(sc, 1, SIZE_MAX, &v)) != SLTIME_OK)
                return e;
            return set_field(&p->has_nanos, &p->nanos, v, 0, 999999999);
        }
        return SLTIME_OK;
    }
    if ((c == '3' || c == '6' || c == '9') && k + 1 < len && fmt[k + 1] == 'f') {
        *used = k + 2;
        if ((e = scan_fraction(sc, (size_t)(c - '0'), (size_t)(c - '0'), &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_nanos, &p->nanos, v, 0, 999999999);
    }
    if (c == ':' || c == '#') {
        size_t j = k;
        while (j < len && fmt[j] == ':')
            j++;
        if (c == '#')
            j++;
        if (j >= len || fmt[j] != 'z')
            return SLTIME_BAD_FORMAT;
        *used = j + 1;
        int32_t off;
        if ((e = scan_offset(sc, c == '#', &off)) != SLTIME_OK)
            return e;
        return set_offset(p, off);
    }
    *used = k + 1;
    const char *expansion = composite(c);
    if (expansion)
        return parse_format(sc, expansion, strlen(expansion), p);
    switch (c) {
    case 'b':
    case 'h':
    case 'B':
        if ((e = scan_name(sc, sltime_month_names, 12, c == 'B', &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_month, &p->month, v + 1, 1, 12);
    case 'a':
    case 'A':
        if ((e = scan_name(sc, sltime_weekday_names, 7, c == 'A', &v)) != SLTIME_OK)
            return e;
        return set_field(&p->has_weekday, &p->weekday, v, 0, 6);
    case 'p':
    case 'P': {
        if (sc->n - sc->i < 2)
            return SLTIME_TOO_SHORT;
        char a = (char)tolower((unsigned char)sc->s[sc->i]);
        char m = (char)tolower((unsigned char)sc->s[sc->i + 1]);
        if ((a != 'a' && a != 'p') || m != 'm')
            return SLTIME_INVALID;
        sc->i += 2;
        return set_field(&p->has_hour_div, &p->hour_div, a == 'p', 0, 1);
    }
    case 'z': {
        int32_t off;
        if ((e = scan_offset(sc, false, &off)) != SLTIME_OK)
            return e;
        return set_offset(p, off);
    }
    case 'Z':
        /* chrono skips a zone name without interpreting it. */
        while (sc->i < sc->n && !isspace((unsigned char)sc->s[sc->i]))
            sc->i++;
        return SLTIME_OK;
    case '+':
        return parse_rfc3339_fields(sc, p);
    case 'n':
    case 't':
        skip_whitespace(sc);
        return SLTIME_OK;
    case '%':
        if (sc->i >= sc->n)
            return SLTIME_TOO_SHORT;
        if (sc->s[sc->i] != '%')
            return SLTIME_INVALID;
        sc->i++;
        return SLTIME_OK;
    default:
        return parse_numeric(sc, c, p);
    }
}

static sltime_error parse_format(scanner *sc, const char *fmt, size_t fmtlen, parsed *p)
{
    size_t f = 0;
    while (f < fmtlen) {
        char c = fmt[f];
        if (c == '%') {
            size_t used = 0;
            sltime_error e = parse_spec(sc, fmt + f + 1, fmtlen - f - 1, &used, p);
            if (e != SLTIME_OK)
                return e;
            f += 1 + used;
        } else if (isspace((unsigned char)c)) {
            skip_whitespace(sc);
            f++;
        } else {
            if (sc->i >= sc->n)
                return SLTIME_TOO_SHORT;
            if (sc->s[sc->i] != c)
                return SLTIME_INVALID;
            sc->i++;
            f++;
        }
    }
    return SLTIME_OK;
}

/* The date the fields name, as days since the epoch. */
static sltime_error resolve_date(const parsed *p, int64_t *days)
{
    int64_t year;
    if (p->has_year) {
        year = p->year;
        if (p->has_year_mod && ((year % 100) + 100) % 100 != p->year_mod)
            return SLTIME_IMPOSSIBLE;
    } else if (p->has_century && p->has_year_mod) {
        year = p->century * 100 + p->year_mod;
    } else if (p->has_year_mod) {
        year = p->year_mod + (p->year_mod < 70 ? 2000 : 1900);
    } else {
        return SLTIME_NOT_ENOUGH;
    }
    if (p->has_month && p->has_day) {
        if ((unsigned)p->day > sltime_days_in_month(year, (unsigned)p->month))
            return SLTIME_OUT_OF_RANGE;
        *days = sltime_days_from_civil(year, (unsigned)p->month, (unsigned)p->day);
    } else if (p->has_ordinal) {
        if (p->ordinal > 365 + sltime_is_leap_year(year))
            return SLTIME_OUT_OF_RANGE;
        *days = sltime_days_from_civil(year, 1, 1) + p->ordinal - 1;
        if (p->has_month || p->has_day) {
            int64_t y;
            unsigned m, d;
            sltime_civil_from_days(*days, &y, &m, &d);
            if ((p->has_month && m != p->month) || (p->has_day && d != p->day))
                return SLTIME_IMPOSSIBLE;
        }
    } else {
        return SLTIME_NOT_ENOUGH;
    }
    if (p->has_weekday && sltime_weekday_from_days(*days) != p->weekday)
        return SLTIME_IMPOSSIBLE;
    return SLTIME_OK;
}

static sltime_error resolve(const parsed *p, const sltime_zone *tz, int64_t *ns)
{
    int64_t nanos = p->has_nanos ? p->nanos : 0;
    if (p->has_timestamp)
        return sltime_to_ns(p->timestamp, nanos, ns) ? SLTIME_OK : SLTIME_OUT_OF_RANGE;
    int64_t days;
    sltime_error e = resolve_date(p, &days);
    if (e != SLTIME_OK)
        return e;
    if (!p->has_hour_div || !p->has_hour_mod || !p->has_minute)
        return SLTIME_NOT_ENOUGH;
    int64_t second = p->has_second ? p->second : 0;
    int64_t hour = p->hour_div * 12 + p->hour_mod;
    int64_t local = days * 86400 + hour * 3600 + p->minute * 60 + second;
    int64_t utc;
    if (p->has_offset)
        utc = local - p->offset;
    else if (!sltime_zone_to_utc(tz, local, &utc))
        return SLTIME_IMPOSSIBLE;
    return sltime_to_ns(utc, nanos, ns) ? SLTIME_OK : SLTIME_OUT_OF_RANGE;
}

sltime_error sltime_strptime(const char *s, size_t n, const char *fmt, size_t fmtlen,
                              const sltime_zone *tz, int64_t *ns)
{
    if (!sltime_strptime_format_ok(fmt, fmtlen))
        return SLTIME_BAD_FORMAT;
    scanner sc = {s, n, 0};
    parsed p;
    memset(&p, 0, sizeof(p));
    sltime_error e = parse_format(&sc, fmt, fmtlen, &p);
    if (e != SLTIME_OK)
        return e;
    if (sc.i < sc.n)
        return SLTIME_TOO_LONG;
    return resolve(&p, tz, ns);
}

bool sltime_strptime_format_ok(const char *fmt, size_t n)
{
    static const char known[] = "YGCygUWVmdejwuHkIlMSfsbhBaApPzZ+ntDxFvRTXrc%";
    for (size_t i = 0; i < n; i++) {
        if (fmt[i] != '%')
            continue;
        size_t k = i + 1;
        if (k < n && (fmt[k] == '-' || fmt[k] == '_' || fmt[k] == '0'))
            k++;
        if (k >= n)
            return false;
        if (fmt[k] == '.') {
            k++;
            if (k < n && (fmt[k] == '3' || fmt[k] == '6' || fmt[k] == '9'))
                k++;
            if (k >= n || fmt[k] != 'f')
                return false;
        } else if ((fmt[k] == '3' || fmt[k] == '6' || fmt[k] == '9') && k + 1 < n &&
                   fmt[k + 1] == 'f') {
            k++;
        } else if (fmt[k] == ':' || fmt[k] == '#') {
            k += fmt[k] == '#';
            while (k < n && fmt[k] == ':')
                k++;
            if (k >= n || fmt[k] != 'z')
                return false;
        } else if (!strchr(known, fmt[k]) || fmt[k] == '\0') {
            return false;
        }
        i = k;
    }
    return true;
}
