/* template.c - Vector's templates (see template.h).
 *
 * A template is split once into parts: literal text, `{{ path }}` field
 * references (Vector's pattern: `{{`, anything but `}`, `}}`, trimmed), and
 * literal stretches holding strftime specifiers. Specifiers apply to the
 * template's own text only, never to field values, as in current Vector.
 *
 * The strftime dialect is chrono's, which Vector uses, implemented here
 * without the C library (no locale, no gmtime_r): the C specifiers plus
 * chrono's fractions (%f %.f %.3f %3f ...), %:z and %+; `-`, `_` and `0`
 * change the padding of numbers. An unknown specifier fails at parse time,
 * as chrono's does. Times are UTC.
 *
 * Field values render as Vector's to_string_lossy: bytes read as UTF-8
 * (invalid sequences become U+FFFD), numbers and booleans as text,
 * timestamps in RFC 3339, maps and arrays as JSON, null as `<null>`. A
 * metric offers `name`, `namespace` and `tags.KEY`. */
#include "pipeline/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "pipeline/path.h"

typedef enum part_kind {
    PART_LITERAL,
    PART_FIELD,
    PART_STRFTIME,
} part_kind;

typedef struct part {
    part_kind kind;
    char *text;      /* literal text, the strftime format, or the field name */
    size_t len;
    path field;      /* PART_FIELD */
} part;

struct template {
    part *parts;
    size_t n;
    bool has_fields;
    bool has_time;
};

/* ---- broken-down time -------------------------------------------------- */

typedef struct civil_time {
    int64_t year;
    unsigned month, day, hour, minute, second, nanos;
    unsigned wday;   /* 0 = Sunday */
    unsigned yday;   /* 0-based */
    int64_t unix_secs;
    int32_t offset;  /* seconds east of UTC the fields are shown at */
    const char *zone; /* what %Z prints */
} civil_time;

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Howard Hinnant's civil_from_days. */
static void civil_from_ns(int64_t ns, civil_time *t)
{
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
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
    t->wday = (unsigned)(((days % 7) + 7 + 4) % 7);
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    t->day = doy - (153 * mp + 2) / 5 + 1;
    t->month = mp < 10 ? mp + 3 : mp - 9;
    t->year = (int64_t)yoe + era * 400 + (t->month <= 2);
    static const unsigned before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    t->yday = before_month[t->month - 1] + t->day - 1 + (t->month > 2 && is_leap(t->year));
}

/* ISO 8601 weeks: years with 53 weeks start or end on a Thursday. */
static unsigned iso_weeks_in_year(int64_t y)
{
    int64_t p = (y + y / 4 - y / 100 + y / 400) % 7;
    int64_t q = ((y - 1) + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400) % 7;
    return (p == 4 || q == 3) ? 53 : 52;
}

static void iso_week(const civil_time *t, int64_t *iso_year, unsigned *week)
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

/* ---- strftime ---------------------------------------------------------- */

static const char *const month_names[12] = {
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
};
static const char *const day_names[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};

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

static int render_format(buf *b, const char *fmt, size_t len, const civil_time *t);

static int render_composite(buf *b, const char *fmt, const civil_time *t)
{
    return render_format(b, fmt, strlen(fmt), t);
}

static int render_spec(buf *b, const spec *sp, const civil_time *t)
{
    switch (sp->conv) {
    case 'Y': return put_num(b, t->year, 4, pad_for(sp, '0'));
    case 'C': return put_num(b, t->year / 100, 2, pad_for(sp, '0'));
    case 'y': return put_num(b, t->year % 100, 2, pad_for(sp, '0'));
    case 'm': return put_num(b, t->month, 2, pad_for(sp, '0'));
    case 'b':
    case 'h': return buf_append(b, month_names[t->month - 1], 3);
    case 'B': return buf_append_str(b, month_names[t->month - 1]);
    case 'd': return put_num(b, t->day, 2, pad_for(sp, '0'));
    case 'e': return put_num(b, t->day, 2, pad_for(sp, ' '));
    case 'a': return buf_append(b, day_names[t->wday], 3);
    case 'A': return buf_append_str(b, day_names[t->wday]);
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
static int render_format(buf *b, const char *fmt, size_t len, const civil_time *t)
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

bool template_strftime_valid(const char *fmt)
{
    size_t len = strlen(fmt);
    for (size_t i = 0; i < len; i++) {
        if (fmt[i] != '%')
            continue;
        spec sp;
        if (i + 1 >= len || !parse_spec(fmt + i + 1, &sp) || i + 1 + sp.len > len)
            return false;
        i += sp.len;
    }
    return true;
}

int template_strftime(buf *out, const char *fmt, int64_t ns, int32_t offset, const char *zone)
{
    civil_time t;
    int64_t local;
    /* Within a day of the ends of the int64 range, show the time in UTC
     * rather than wrap around. */
    if (__builtin_add_overflow(ns, (int64_t)offset * 1000000000, &local)) {
        local = ns;
        offset = 0;
        zone = "UTC";
    }
    civil_from_ns(local, &t);
    t.unix_secs -= offset;
    t.offset = offset;
    t.zone = zone;
    return render_format(out, fmt, strlen(fmt), &t);
}

/* ---- parsing ----------------------------------------------------------- */

static void free_part(part *p)
{
    free(p->text);
    if (p->kind == PART_FIELD)
        path_free(&p->field);
}

void template_free(template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free_part(&t->parts[i]);
    free(t->parts);
    free(t);
}

static part *add_part(template *t, size_t *cap, part_kind kind)
{
    if (t->n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        part *p = realloc(t->parts, c * sizeof(*p));
        if (!p)
            return NULL;
        t->parts = p;
        *cap = c;
    }
    part *p = &t->parts[t->n++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    return p;
}

static char *copy_text(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* A stretch of template text: checked for specifiers, and kept as a plain
 * literal (with %% %t %n already applied) unless it depends on the time. */
static int add_text(template *t, size_t *cap, const char *src, size_t off, size_t n, sl_error *err)
{
    const char *s = src + off;
    bool timed = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%')
            continue;
        spec sp;
        if (i + 1 >= n || !parse_spec(s + i + 1, &sp) || i + 1 + sp.len > n)
            return sl_fail(err, "invalid strftime specifier in template \"%s\" at offset %zu",
                           src, off + i);
        timed |= !spec_is_literal(&sp);
        i += sp.len;
    }
    part *p = add_part(t, cap, timed ? PART_STRFTIME : PART_LITERAL);
    if (!p)
        return sl_fail(err, "out of memory parsing template");
    if (timed) {
        p->text = copy_text(s, n);
        p->len = n;
    } else {
        buf lit = BUF_INIT;
        if (render_format(&lit, s, n, NULL) < 0 || buf_reserve(&lit, 0) < 0) {
            buf_free(&lit);
            return sl_fail(err, "out of memory parsing template");
        }
        p->len = lit.len;
        p->text = buf_detach(&lit);
    }
    if (!p->text)
        return sl_fail(err, "out of memory parsing template");
    t->has_time |= timed;
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int add_field(template *t, size_t *cap, const char *name, size_t n, sl_error *err)
{
    while (n && is_space(*name)) {
        name++;
        n--;
    }
    while (n && is_space(name[n - 1]))
        n--;
    part *p = add_part(t, cap, PART_FIELD);
    if (!p)
        return sl_fail(err, "out of memory parsing template");
    p->text = copy_text(name, n);
    if (!p->text)
        return sl_fail(err, "out of memory parsing template");
    p->len = n;
    sl_error perr;
    if (path_parse(p->text, &p->field, &perr) < 0)
        return sl_fail(err, "invalid field reference in template: %s", perr.msg);
    t->has_fields = true;
    return 0;
}

/* The end of a `{{ name }}` starting at s[i] (just past the closing braces),
 * or 0 when none starts there. */
static size_t field_end(const char *s, size_t i)
{
    if (s[i] != '{' || s[i + 1] != '{')
        return 0;
    size_t j = i + 2;
    while (s[j] && s[j] != '}')
        j++;
    if (j == i + 2 || s[j] != '}' || s[j + 1] != '}')
        return 0;
    return j + 2;
}

int template_parse(const char *text, template **out, sl_error *err)
{
    template *t = calloc(1, sizeof(*t));
    if (!t)
        return sl_fail(err, "out of memory parsing template");
    size_t cap = 0, lit = 0, i = 0;
    int rc = 0;
    while (text[i] && rc == 0) {
        size_t end = field_end(text, i);
        if (!end) {
            i++;
            continue;
        }
        if (i > lit)
            rc = add_text(t, &cap, text, lit, i - lit, err);
        if (rc == 0)
            rc = add_field(t, &cap, text + i + 2, end - i - 4, err);
        i = lit = end;
    }
    if (rc == 0 && (i > lit || t->n == 0))
        rc = add_text(t, &cap, text, lit, i - lit, err);
    if (rc < 0) {
        template_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

bool template_is_dynamic(const template *t)
{
    return t->has_fields || t->has_time;
}

bool template_has_fields(const template *t)
{
    return t->has_fields;
}

/* ---- rendering --------------------------------------------------------- */

static void truncate_to(buf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

static int render_value(buf *out, const value *v)
{
    switch (v->kind) {
    case VALUE_BYTES:
        return json_append_utf8_lossy(out, v->u.s, v->len);
    case VALUE_INT:
        return buf_printf(out, "%lld", (long long)v->u.i);
    case VALUE_FLOAT:
        return json_append_float_display(out, v->u.f);
    case VALUE_BOOL:
        return buf_append_str(out, v->u.b ? "true" : "false");
    case VALUE_TIMESTAMP: {
        char ts[JSON_TIMESTAMP_MAX];
        size_t n = json_format_timestamp(ts, v->u.ts);
        return buf_append(out, ts, n);
    }
    case VALUE_MAP:
    case VALUE_ARRAY:
        return json_encode_value(out, v);
    default:
        return buf_append_str(out, "<null>");
    }
}

/* Vector's render_metric_field: NULL when the metric has no such field. */
static const char *metric_field(const metric *m, const part *p)
{
    const char *name = p->text;
    if (strcmp(name, "name") == 0 || strcmp(name, ".name") == 0)
        return m->name;
    if (strcmp(name, "namespace") == 0 || strcmp(name, ".namespace") == 0)
        return m->namespace_;
    if (name[0] == '.')
        name++;
    if (strncmp(name, "tags.", 5) == 0) {
        const char *key = name + 5;
        for (uint32_t i = 0; i < m->ntags; i++)
            if (strcmp(m->tags[i].key, key) == 0)
                return m->tags[i].value;
    }
    return NULL;
}

/* Appends the field's rendering; 1 when the event lacks it. */
static int render_field(buf *out, const part *p, const event *e)
{
    if (e->type == EVENT_METRIC) {
        const char *s = metric_field(e->u.metric, p);
        if (!s)
            return 1;
        return buf_append_str(out, s);
    }
    const value *v = path_get(&e->u.log, &p->field);
    if (!v)
        return 1;
    return render_value(out, v);
}

static int64_t event_time(const event *e)
{
    if (e->type == EVENT_METRIC) {
        if (e->u.metric->has_timestamp)
            return e->u.metric->timestamp;
    } else {
        const value *ts = event_log_get(e, EVENT_FIELD_TIMESTAMP);
        if (ts && ts->kind == VALUE_TIMESTAMP)
            return ts->u.ts;
    }
    return sl_now_wall_ns();
}

static int report_missing(const template *t, const event *e, sl_error *err)
{
    buf names = BUF_INIT;
    size_t count = 0;
    for (size_t i = 0; i < t->n; i++) {
        const part *p = &t->parts[i];
        if (p->kind != PART_FIELD)
            continue;
        buf probe = BUF_INIT;
        int missing = render_field(&probe, p, e);
        buf_free(&probe);
        if (missing != 1)
            continue;
        buf_printf(&names, "%s\"%s\"", count ? ", " : "", p->text);
        count++;
    }
    sl_fail(err, "missing field%s %s", count > 1 ? "s" : "", names.data ? names.data : "");
    buf_free(&names);
    return -1;
}

int template_render(const template *t, const event *e, buf *out, sl_error *err)
{
    size_t start = out->len;
    civil_time when;
    bool have_time = false;
    for (size_t i = 0; i < t->n; i++) {
        const part *p = &t->parts[i];
        int rc;
        switch (p->kind) {
        case PART_LITERAL:
            rc = buf_append(out, p->text, p->len);
            break;
        case PART_FIELD:
            rc = render_field(out, p, e);
            if (rc == 1) {
                truncate_to(out, start);
                return report_missing(t, e, err);
            }
            break;
        default:
            if (!have_time) {
                civil_from_ns(event_time(e), &when);
                have_time = true;
            }
            rc = render_format(out, p->text, p->len, &when);
            break;
        }
        if (rc < 0) {
            truncate_to(out, start);
            return sl_fail(err, "out of memory rendering template");
        }
    }
    return buf_reserve(out, 0) < 0 ? sl_fail(err, "out of memory rendering template") : 0;
}
