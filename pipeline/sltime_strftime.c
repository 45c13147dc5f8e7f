/* sltime_strftime.c - chrono's strftime dialect (see sltime.h), without
 * the C library: no locale, no gmtime_r. */
#include "pipeline/sltime.h"
#include "pipeline/common.h"

#include <stdio.h>
#include <string.h>

/* ISO 8601 weeks: years with 53 weeks start or end on a Thursday. */
static unsigned iso_weeks_in_year(int64_t y)
{
    int64_t p = (y + y / 4 - y / 100 + y / 400) % 7;
    int64_t q = ((y - 1) + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400) % 7;
    return (p == 4 || q == 3) ? 53 : 52;
}

static void iso_week(const sltime_fields *t, int64_t *iso_year, unsigned *week)
{
    unsigned wday_iso = t->wday ? t->wday : 7;
    int w = (int)(t->yday + 1 - wday_iso + 10) / 7;
    *iso_year = t->year;
    if (w < 1) {
        *iso_year = t->year - 1;
        *week = iso_weeks_in_year(*iso_year);
    } else if ((unsigned)w > iso_weeks_in_year(t->year)) {
        *iso_year = t->year + 1;
        *week = 1;
    } else {
        *week = (unsigned)w;
    }
}


/* A number padded to width with pad ('0' or ' '), or unpadded when pad is
 * 0 (the `-` modifier). */
static int put_num(buf *b, int64_t v, int width, char pad)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%lld", (long long)(v < 0 ? -v : v));
    if (v < 0 && buf_append_char(b, '-') < 0)
        return -1;
    if (pad)
        for (int i = n; i < width; i++)
            if (buf_append_char(b, pad) < 0)
                return -1;
    return buf_append(b, digits, (size_t)n);
}

static int put_fraction(buf *b, unsigned nanos, int digits)
{
    char tmp[10];
    unsigned v = nanos;
    for (int i = 8; i >= 0; i--) {
        tmp[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return buf_append(b, tmp, (size_t)digits);
}

/* chrono's %.f: a dot and 3, 6 or 9 digits, nothing for a whole second. */
static int put_auto_fraction(buf *b, unsigned nanos)
{
    if (nanos == 0)
        return 0;
    int digits = nanos % 1000000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9;
    if (buf_append_char(b, '.') < 0)
        return -1;
    return put_fraction(b, nanos, digits);
}

/* +hhmm, or +hh:mm for %:z. */
static int put_offset(buf *b, int32_t offset, bool colon)
{
    int32_t a = offset < 0 ? -offset : offset;
    return buf_printf(b, "%c%02d%s%02d", offset < 0 ? '-' : '+', (int)(a / 3600), colon ? ":" : "",
                      (int)(a / 60 % 60));
}

/* A parsed specifier: the conversion letter, its padding override and, for
 * fractions, the digit count and whether a dot leads. */
typedef struct spec {
    char conv;
    char pad;        /* 'd' = default, '-' none, '_' space, '0' zero */
    int frac_digits; /* 0 = automatic */
    bool frac_dot;
    int colons;      /* %:z */
    size_t len;      /* bytes of the specifier after '%' */
} spec;

/* Reads the specifier after a '%' at s; false when chrono would refuse it. */
static bool parse_spec(const char *s, spec *sp)
{
    memset(sp, 0, sizeof(*sp));
    sp->pad = 'd';
    size_t i = 0;
    if (s[i] == '-' || s[i] == '_' || s[i] == '0')
        sp->pad = s[i++];
    if (s[i] == '.' && (s[i + 1] == 'f' || ((s[i + 1] == '3' || s[i + 1] == '6' || s[i + 1] == '9') && s[i + 2] == 'f'))) {
        sp->frac_dot = true;
        i++;
        if (s[i] != 'f')
            sp->frac_digits = s[i++] - '0';
        sp->conv = 'f';
        sp->len = i + 1;
        return sp->pad == 'd';
    }
    if ((s[i] == '3' || s[i] == '6' || s[i] == '9') && s[i + 1] == 'f') {
        sp->frac_digits = s[i] - '0';
        sp->conv = 'f';
        sp->len = i + 2;
        return sp->pad == 'd';
    }
    if (s[i] == ':' && s[i + 1] == 'z') {
        sp->colons = 1;
        sp->conv = 'z';
        sp->len = i + 2;
        return sp->pad == 'd';
    }
    static const char known[] = "YCymbhBdeaAwuUWGgVjDxFvHkIlPpMSfRTXrZzcs+tn%";
    if (s[i] == '\0' || !strchr(known, s[i]))
        return false;
    sp->conv = s[i];
    sp->len = i + 1;
    return true;
}

/* Specifiers that print nothing time-dependent (chrono's literals). */
static bool spec_is_literal(const spec *sp)
{
    return sp->conv == '%' || sp->conv == 't' || sp->conv == 'n';
}

static char pad_for(const spec *sp, char dflt)
{
    switch (sp->pad) {
    case '-': return 0;
    case '_': return ' ';
    case '0': return '0';
    default: return dflt;
    }
}

static int render_format(buf *b, const char *fmt, size_t len, const sltime_fields *t);

static int render_composite(buf *b, const char *fmt, const sltime_fields *t)
{
    return render_format(b, fmt, strlen(fmt), t);
}

static int render_spec(buf *b, const spec *sp, const sltime_fields *t)
{
    switch (sp->conv) {
    case 'Y': return put_num(b, t->year, 4, pad_for(sp, '0'));
    case 'C': return put_num(b, t->year / 100, 2, pad_for(sp, '0'));
    case 'y': return put_num(b, t->year % 100, 2, pad_for(sp, '0'));
    case 'm': return put_num(b, t->month, 2, pad_for(sp, '0'));
    case 'b':
    case 'h': return buf_append(b, sltime_month_names[t->month - 1], 3);
    case 'B': return buf_append_str(b, sltime_month_names[t->month - 1]);
    case 'd': return put_num(b, t->day, 2, pad_for(sp, '0'));
    case 'e': return put_num(b, t->day, 2, pad_for(sp, ' '));
    case 'a': return buf_append(b, sltime_weekday_names[t->wday], 3);
    case 'A': return buf_append_str(b, sltime_weekday_names[t->wday]);
    case 'w': return put_num(b, t->wday, 1, pad_for(sp, '0'));
    case 'u': return put_num(b, t->wday ? t->wday : 7, 1, pad_for(sp, '0'));
    case 'U': return put_num(b, (t->yday + 7 - t->wday) / 7, 2, pad_for(sp, '0'));
    case 'W': return put_num(b, (t->yday + 7 - (t->wday + 6) % 7) / 7, 2, pad_for(sp, '0'));
    case 'G':
    case 'g':
    case 'V': {
        int64_t iso_year;
        unsigned week;
        iso_week(t, &iso_year, &week);
        if (sp->conv == 'G')
            return put_num(b, iso_year, 4, pad_for(sp, '0'));
        if (sp->conv == 'g')
            return put_num(b, iso_year % 100, 2, pad_for(sp, '0'));
        return put_num(b, week, 2, pad_for(sp, '0'));
    }
    case 'j': return put_num(b, t->yday + 1, 3, pad_for(sp, '0'));
    case 'D':
    case 'x': return render_composite(b, "%m/%d/%y", t);
    case 'F': return render_composite(b, "%Y-%m-%d", t);
    case 'v': return render_composite(b, "%e-%b-%Y", t);
    case 'H': return put_num(b, t->hour, 2, pad_for(sp, '0'));
    case 'k': return put_num(b, t->hour, 2, pad_for(sp, ' '));
    case 'I': return put_num(b, (t->hour + 11) % 12 + 1, 2, pad_for(sp, '0'));
    case 'l': return put_num(b, (t->hour + 11) % 12 + 1, 2, pad_for(sp, ' '));
    case 'P': return buf_append_str(b, t->hour < 12 ? "am" : "pm");
    case 'p': return buf_append_str(b, t->hour < 12 ? "AM" : "PM");
    case 'M': return put_num(b, t->minute, 2, pad_for(sp, '0'));
    case 'S': return put_num(b, t->second, 2, pad_for(sp, '0'));
    case 'f':
        if (sp->frac_dot && sp->frac_digits == 0)
            return put_auto_fraction(b, t->nanos);
        if (sp->frac_dot && buf_append_char(b, '.') < 0)
            return -1;
        return put_fraction(b, t->nanos, sp->frac_digits ? sp->frac_digits : 9);
    case 'R': return render_composite(b, "%H:%M", t);
    case 'T':
    case 'X': return render_composite(b, "%H:%M:%S", t);
    case 'r': return render_composite(b, "%I:%M:%S %p", t);
    case 'c': return render_composite(b, "%a %b %e %H:%M:%S %Y", t);
    case '+': return render_composite(b, "%Y-%m-%dT%H:%M:%S%.f%:z", t);
    case 'Z': return buf_append_str(b, t->zone);
    case 'z': return put_offset(b, t->offset, sp->colons);
    case 's': return put_num(b, t->unix_secs, 1, pad_for(sp, '0'));
    case 't': return buf_append_char(b, '\t');
    case 'n': return buf_append_char(b, '\n');
    case '%': return buf_append_char(b, '%');
    default: return 0;
    }
}

/* fmt was checked at parse time. */
static int render_format(buf *b, const char *fmt, size_t len, const sltime_fields *t)
{
    size_t i = 0;
    while (i < len) {
        const char *pct = memchr(fmt + i, '%', len - i);
        size_t run = pct ? (size_t)(pct - (fmt + i)) : len - i;
        if (run && buf_append(b, fmt + i, run) < 0)
            return -1;
        i += run;
        if (i == len)
            break;
        spec sp;
        parse_spec(fmt + i + 1, &sp);
        if (render_spec(b, &sp, t) < 0)
            return -1;
        i += 1 + sp.len;
    }
    return 0;
}


int sltime_strftime_check(const char *fmt, size_t len, bool *timed, size_t *bad_at)
{
    *timed = false;
    for (size_t i = 0; i < len; i++) {
        if (fmt[i] != '%')
            continue;
        spec sp;
        if (i + 1 >= len || !parse_spec(fmt + i + 1, &sp) || i + 1 + sp.len > len) {
            *bad_at = i;
            return -1;
        }
        *timed |= !spec_is_literal(&sp);
        i += sp.len;
    }
    return 0;
}

bool sltime_strftime_valid(const char *fmt)
{
    bool timed;
    size_t bad_at;
    return sltime_strftime_check(fmt, strlen(fmt), &timed, &bad_at) == 0;
}

int sltime_strftime_fields(buf *out, const char *fmt, size_t len, const sltime_fields *t)
{
    return render_format(out, fmt, len, t);
}

int sltime_strftime(buf *out, const char *fmt, int64_t ns, int32_t offset, const char *zone)
{
    sltime_fields t;
    int64_t local;
    /* Within a day of the ends of the int64 range, show the time in UTC
     * rather than wrap around. */
    if (__builtin_add_overflow(ns, (int64_t)offset * NS_PER_SEC, &local)) {
        local = ns;
        offset = 0;
        zone = "UTC";
    }
    sltime_fields_from_ns(local, &t);
    t.unix_secs -= offset;
    t.offset = offset;
    t.zone = zone;
    return render_format(out, fmt, strlen(fmt), &t);
}
