/* fn_time.c - civil dates, TZ database zones and chrono's strptime dialect
 * for the remap language's timestamp functions (see fn_time.h).
 *
 * Zones come from TZif files (RFC 8536): the 64-bit transition table, then
 * the POSIX TZ rule in the footer for times after the last transition. A
 * zone is read once, on first use, and kept in a process-wide list.
 *
 * The parser follows chrono's format::parse: literals must match, a space
 * in the format skips any whitespace, numbers take between one digit and
 * the field's width, names are matched without regard to case, and the
 * fields are resolved to a date and time at the end, with chrono's errors
 * for what is missing, out of range or contradictory. */
#include "transforms/vrl/fn_time.h"
#include "pipeline/common.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- civil dates ------------------------------------------------------- */

bool vrl_is_leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned vrl_days_in_month(int64_t y, unsigned month)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return days[month - 1] + (month == 2 && vrl_is_leap_year(y));
}

/* Howard Hinnant's days_from_civil. */
int64_t vrl_days_from_civil(int64_t y, unsigned month, unsigned day)
{
    y -= month <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void vrl_civil_from_days(int64_t days, int64_t *y, unsigned *month, unsigned *day)
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

unsigned vrl_weekday_from_days(int64_t days)
{
    return (unsigned)(((days % 7) + 7 + 4) % 7);
}

bool vrl_time_to_ns(int64_t secs, int64_t nanos, int64_t *ns)
{
    int64_t s;
    if (__builtin_mul_overflow(secs, NS_PER_SEC, &s) || __builtin_add_overflow(s, nanos, ns))
        return false;
    return true;
}

static const char *const month_names[12] = {
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
};
static const char *const weekday_names[7] = {
    "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
};

unsigned vrl_month_from_abbr(const char *s)
{
    for (unsigned i = 0; i < 12; i++)
        if (strncasecmp(s, month_names[i], 3) == 0)
            return i + 1;
    return 0;
}

/* ---- POSIX TZ rules ---------------------------------------------------- */

typedef struct tz_rule_date {
    char kind;        /* 'M' (month.week.day), 'J' (1-365, no Feb 29), 'D' (0-365) */
    int month, week, wday, yday;
    int32_t time;     /* seconds after local midnight (may be negative or > 24h) */
} tz_rule_date;

typedef struct tz_rule {
    int32_t std_off, dst_off;   /* seconds east of UTC */
    char std_abbr[16], dst_abbr[16];
    bool has_dst;
    tz_rule_date start, end;
} tz_rule;

typedef struct tz_type {
    int32_t off;
    uint8_t abbr;    /* index into abbrs */
} tz_type;

struct vrl_tz {
    char *name;
    uint32_t ntrans, ntypes;
    int64_t *trans;
    uint8_t *trans_type;
    tz_type *types;
    char *abbrs;
    uint32_t nabbrs;
    bool has_rule;
    tz_rule rule;
    struct vrl_tz *next;
};

static const char *parse_tz_name(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    if (*p == '<') {
        p++;
        while (*p && *p != '>') {
            if (n + 1 < cap)
                out[n++] = *p;
            p++;
        }
        if (*p != '>')
            return NULL;
        p++;
    } else {
        while (isalpha((unsigned char)*p)) {
            if (n + 1 < cap)
                out[n++] = *p;
            p++;
        }
        if (n < 3)
            return NULL;
    }
    out[n] = '\0';
    return p;
}

/* [+-]hh[:mm[:ss]] as seconds. */
static const char *parse_tz_hms(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p))
        return NULL;
    int32_t v[3] = {0, 0, 0};
    for (int part = 0; part < 3; part++) {
        if (part > 0) {
            if (*p != ':')
                break;
            p++;
        }
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p) && v[part] < 1000)
            v[part] = v[part] * 10 + (*p++ - '0');
    }
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return p;
}

static const char *parse_tz_num(const char *p, int *out)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    int v = 0;
    while (isdigit((unsigned char)*p) && v < 1000)
        v = v * 10 + (*p++ - '0');
    *out = v;
    return p;
}

static const char *parse_tz_date(const char *p, tz_rule_date *d)
{
    d->time = 2 * 3600;
    if (*p == 'M') {
        d->kind = 'M';
        if (!(p = parse_tz_num(p + 1, &d->month)) || *p != '.' ||
            !(p = parse_tz_num(p + 1, &d->week)) || *p != '.' ||
            !(p = parse_tz_num(p + 1, &d->wday)))
            return NULL;
        if (d->month < 1 || d->month > 12 || d->week < 1 || d->week > 5 || d->wday > 6)
            return NULL;
    } else if (*p == 'J') {
        d->kind = 'J';
        if (!(p = parse_tz_num(p + 1, &d->yday)) || d->yday < 1 || d->yday > 365)
            return NULL;
    } else {
        d->kind = 'D';
        if (!(p = parse_tz_num(p, &d->yday)) || d->yday > 365)
            return NULL;
    }
    if (*p == '/')
        p = parse_tz_hms(p + 1, &d->time);
    return p;
}

/* A POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". */
static bool parse_tz_rule(const char *p, tz_rule *r)
{
    memset(r, 0, sizeof(*r));
    int32_t off;
    if (!(p = parse_tz_name(p, r->std_abbr, sizeof(r->std_abbr))) || !(p = parse_tz_hms(p, &off)))
        return false;
    r->std_off = -off;
    if (*p == '\0')
        return true;
    if (!(p = parse_tz_name(p, r->dst_abbr, sizeof(r->dst_abbr))))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_tz_hms(p, &off)))
            return false;
        r->dst_off = -off;
    }
    /* Without a rule POSIX takes the US one. */
    const char *rule = *p == ',' ? p + 1 : "M3.2.0,M11.1.0";
    if (!(rule = parse_tz_date(rule, &r->start)) || *rule != ',' ||
        !(rule = parse_tz_date(rule + 1, &r->end)))
        return false;
    return *rule == '\0';
}

/* Local seconds (in the offset before the change) of a rule date in year. */
static int64_t rule_local_secs(int64_t year, const tz_rule_date *d)
{
    int64_t days;
    if (d->kind == 'M') {
        int64_t first = vrl_days_from_civil(year, (unsigned)d->month, 1);
        int day = 1 + (d->wday - (int)vrl_weekday_from_days(first) + 7) % 7 + (d->week - 1) * 7;
        while ((unsigned)day > vrl_days_in_month(year, (unsigned)d->month))
            day -= 7;
        days = first + day - 1;
    } else if (d->kind == 'J') {
        days = vrl_days_from_civil(year, 1, 1) + d->yday - 1 +
               (vrl_is_leap_year(year) && d->yday >= 60);
    } else {
        days = vrl_days_from_civil(year, 1, 1) + d->yday;
    }
    return days * 86400 + d->time;
}

static int32_t rule_offset(const tz_rule *r, int64_t t, const char **abbr)
{
    if (r->has_dst) {
        int64_t y;
        unsigned m, d;
        int64_t days = t + r->std_off;
        days = (days >= 0 ? days : days - 86399) / 86400;
        vrl_civil_from_days(days, &y, &m, &d);
        int64_t start = rule_local_secs(y, &r->start) - r->std_off;
        int64_t end = rule_local_secs(y, &r->end) - r->dst_off;
        bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
        if (dst) {
            *abbr = r->dst_abbr;
            return r->dst_off;
        }
    }
    *abbr = r->std_abbr;
    return r->std_off;
}

/* ---- TZif -------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static bool read_counts(const unsigned char *p, size_t n, tzif_counts *c)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    return c->type > 0 && c->type <= 256 && c->time <= 1000000 && c->chars <= 65536 &&
           c->leap <= 100000 && c->isut <= 256 && c->isstd <= 256;
}

static size_t block_size(const tzif_counts *c, size_t tsize)
{
    return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) +
           c->isstd + c->isut;
}

static void tz_free(vrl_tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->trans);
    free(tz->trans_type);
    free(tz->types);
    free(tz->abbrs);
    free(tz);
}

/* Reads the version 2+ data block (64-bit times) and the footer. */
static vrl_tz *tz_from_tzif(const unsigned char *p, size_t n)
{
    tzif_counts c;
    if (!read_counts(p, n, &c) || p[4] < '2')
        return NULL;
    size_t v1 = 44 + block_size(&c, 4);
    if (v1 > n || !read_counts(p + v1, n - v1, &c))
        return NULL;
    const unsigned char *d = p + v1 + 44;
    size_t avail = n - v1 - 44;
    if (block_size(&c, 8) > avail)
        return NULL;
    vrl_tz *tz = calloc(1, sizeof(*tz));
    if (!tz)
        return NULL;
    tz->ntrans = c.time;
    tz->ntypes = c.type;
    tz->nabbrs = c.chars;
    tz->trans = malloc((c.time ? c.time : 1) * sizeof(int64_t));
    tz->trans_type = malloc(c.time ? c.time : 1);
    tz->types = malloc(c.type * sizeof(tz_type));
    tz->abbrs = malloc(c.chars + 1);
    if (!tz->trans || !tz->trans_type || !tz->types || !tz->abbrs) {
        tz_free(tz);
        return NULL;
    }
    for (uint32_t i = 0; i < c.time; i++)
        tz->trans[i] = be64(d + 8 * i);
    d += 8 * c.time;
    for (uint32_t i = 0; i < c.time; i++)
        tz->trans_type[i] = d[i] < c.type ? d[i] : 0;
    d += c.time;
    for (uint32_t i = 0; i < c.type; i++) {
        tz->types[i].off = (int32_t)be32(d + 6 * i);
        tz->types[i].abbr = d[6 * i + 5] < c.chars ? d[6 * i + 5] : 0;
    }
    d += 6 * c.type;
    memcpy(tz->abbrs, d, c.chars);
    tz->abbrs[c.chars] = '\0';
    d += c.chars + c.leap * 12 + c.isstd + c.isut;
    const unsigned char *end = p + n;
    if (d < end && *d == '\n') {
        const unsigned char *nl = memchr(d + 1, '\n', (size_t)(end - d - 1));
        char footer[128];
        size_t len = nl ? (size_t)(nl - d - 1) : 0;
        if (nl && len > 0 && len < sizeof(footer)) {
            memcpy(footer, d + 1, len);
            footer[len] = '\0';
            tz->has_rule = parse_tz_rule(footer, &tz->rule);
        }
    }
    return tz;
}

#define TZIF_MAX (1 << 20)

static vrl_tz *tz_load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *data = malloc(TZIF_MAX);
    vrl_tz *tz = NULL;
    if (data) {
        size_t n = fread(data, 1, TZIF_MAX, f);
        tz = tz_from_tzif(data, n);
        free(data);
    }
    fclose(f);
    return tz;
}

/* TZ database names: letters, digits and _+-, in /-separated parts that are
 * never "." or "..", so a name can't leave the zoneinfo directory. */
static bool tz_name_safe(const char *name, size_t n)
{
    if (n == 0 || n > 100 || name[0] == '/' || name[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!isalnum((unsigned char)c) && c != '_' && c != '+' && c != '-' && c != '/')
            return false;
        if ((i == 0 || name[i - 1] == '/') && (c == '-' || c == '/'))
            return false;
    }
    return true;
}

static const tz_type utc_type = {0, 0};
static char utc_abbr[] = "UTC";
static vrl_tz utc_zone = {
    .name = utc_abbr, .ntypes = 1, .types = (tz_type *)&utc_type, .abbrs = utc_abbr, .nabbrs = 3,
};

static pthread_mutex_t zones_lock = PTHREAD_MUTEX_INITIALIZER;
static vrl_tz *zones;

static vrl_tz *tz_load_named(const char *name, size_t n)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    int w = snprintf(path, sizeof(path), "%s/%.*s", dir && *dir ? dir : "/usr/share/zoneinfo",
                     (int)n, name);
    if (w < 0 || (size_t)w >= sizeof(path))
        return NULL;
    return tz_load_file(path);
}

/* Finds or loads a zone under `key`; path NULL loads the zone database
 * file for the key. */
static const vrl_tz *tz_cached(const char *key, size_t n, const char *path)
{
    pthread_mutex_lock(&zones_lock);
    vrl_tz *tz = zones;
    while (tz && (strlen(tz->name) != n || memcmp(tz->name, key, n) != 0))
        tz = tz->next;
    if (!tz) {
        tz = path ? tz_load_file(path) : tz_load_named(key, n);
        if (tz) {
            tz->name = malloc(n + 1);
            if (tz->name) {
                memcpy(tz->name, key, n);
                tz->name[n] = '\0';
                tz->next = zones;
                zones = tz;
            } else {
                tz_free(tz);
                tz = NULL;
            }
        }
    }
    pthread_mutex_unlock(&zones_lock);
    return tz;
}

static bool is_utc_name(const char *name, size_t n)
{
    static const char *const names[] = {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Zulu", "Etc/Zulu",
                                        "Universal", "Etc/Universal"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
            return true;
    return false;
}

static const vrl_tz *local_zone;
static pthread_once_t local_once = PTHREAD_ONCE_INIT;

static void find_local_zone(void)
{
    const char *env = getenv("TZ");
    if (env && *env) {
        if (*env == ':')
            env++;
        local_zone = *env == '/' ? tz_cached(env, strlen(env), env) : vrl_tz_find(env, strlen(env));
    } else {
        local_zone = tz_cached("/etc/localtime", strlen("/etc/localtime"), "/etc/localtime");
    }
    if (!local_zone)
        local_zone = &utc_zone;
}

const vrl_tz *vrl_tz_local(void)
{
    pthread_once(&local_once, find_local_zone);
    return local_zone;
}

const vrl_tz *vrl_tz_find(const char *name, size_t n)
{
    if (n == 0 || (n == 5 && memcmp(name, "local", 5) == 0))
        return vrl_tz_local();
    if (is_utc_name(name, n))
        return &utc_zone;
    if (!tz_name_safe(name, n))
        return NULL;
    return tz_cached(name, n, NULL);
}

int32_t vrl_tz_offset(const vrl_tz *tz, int64_t t, const char **abbr)
{
    const tz_type *type = &tz->types[0];
    if (tz->ntrans > 0 && t >= tz->trans[0]) {
        if (t >= tz->trans[tz->ntrans - 1] && tz->has_rule)
            return rule_offset(&tz->rule, t, abbr);
        uint32_t lo = 0, hi = tz->ntrans;
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (tz->trans[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        type = &tz->types[tz->trans_type[lo]];
    } else if (tz->ntrans == 0 && tz->has_rule) {
        return rule_offset(&tz->rule, t, abbr);
    }
    *abbr = tz->abbrs + type->abbr;
    return type->off;
}

bool vrl_tz_to_utc(const vrl_tz *tz, int64_t local, int64_t *utc)
{
    /* Every offset in effect around the wall time is a candidate; the ones
     * that map back to it are the answers. */
    const char *abbr;
    int32_t cand[2] = {vrl_tz_offset(tz, local - 86400, &abbr),
                       vrl_tz_offset(tz, local + 86400, &abbr)};
    bool found = false;
    for (int i = 0; i < 2; i++) {
        int64_t t = local - cand[i];
        if (vrl_tz_offset(tz, t, &abbr) == cand[i] && (!found || t < *utc)) {
            *utc = t;
            found = true;
        }
    }
    return found;
}

/* ---- parsing ----------------------------------------------------------- */

const char *vrl_time_error_text(vrl_time_error e)
{
    switch (e) {
    case VRL_TIME_OUT_OF_RANGE: return "input is out of range";
    case VRL_TIME_IMPOSSIBLE: return "no possible date and time matching input";
    case VRL_TIME_NOT_ENOUGH: return "input is not enough for unique date and time";
    case VRL_TIME_INVALID: return "input contains invalid characters";
    case VRL_TIME_TOO_SHORT: return "premature end of input";
    case VRL_TIME_TOO_LONG: return "trailing input";
    case VRL_TIME_BAD_FORMAT: return "bad or unsupported format string";
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
static vrl_time_error set_field(bool *has, int64_t *field, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo || v > hi)
        return VRL_TIME_OUT_OF_RANGE;
    if (*has && *field != v)
        return VRL_TIME_IMPOSSIBLE;
    *has = true;
    *field = v;
    return VRL_TIME_OK;
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
static vrl_time_error scan_number(scanner *sc, size_t min, size_t max, int64_t *out)
{
    size_t k = 0;
    int64_t v = 0;
    if (sc->n - sc->i < min)
        return VRL_TIME_TOO_SHORT;
    while (k < max && sc->i + k < sc->n && isdigit((unsigned char)sc->s[sc->i + k])) {
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, sc->s[sc->i + k] - '0', &v))
            return VRL_TIME_OUT_OF_RANGE;
        k++;
    }
    if (k < min)
        return VRL_TIME_INVALID;
    sc->i += k;
    *out = v;
    return VRL_TIME_OK;
}

static vrl_time_error scan_signed(scanner *sc, size_t width, int64_t *out)
{
    if (sc->i < sc->n && (sc->s[sc->i] == '-' || sc->s[sc->i] == '+')) {
        bool neg = sc->s[sc->i++] == '-';
        vrl_time_error e = scan_number(sc, 1, 19, out);
        if (e == VRL_TIME_OK && neg)
            *out = -*out;
        return e;
    }
    return scan_number(sc, 1, width, out);
}

/* A fraction's digits (1-9 read, more skipped) as nanoseconds. */
static vrl_time_error scan_fraction(scanner *sc, size_t min, size_t max, int64_t *nanos)
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
        return sc->i >= sc->n ? VRL_TIME_TOO_SHORT : VRL_TIME_INVALID;
    for (size_t d = k; d < 9; d++)
        v *= 10;
    *nanos = v;
    return VRL_TIME_OK;
}

/* A name among `names` (full names, matched by their first three letters,
 * then optionally the rest when `long_ok`). Returns the index or -1. */
static vrl_time_error scan_name(scanner *sc, const char *const *names, int count, bool long_ok,
                                int64_t *index)
{
    if (sc->n - sc->i < 3)
        return VRL_TIME_TOO_SHORT;
    for (int k = 0; k < count; k++) {
        if (strncasecmp(sc->s + sc->i, names[k], 3) != 0)
            continue;
        sc->i += 3;
        size_t rest = strlen(names[k]) - 3;
        if (long_ok && sc->n - sc->i >= rest && strncasecmp(sc->s + sc->i, names[k] + 3, rest) == 0)
            sc->i += rest;
        *index = k;
        return VRL_TIME_OK;
    }
    return VRL_TIME_INVALID;
}

/* +hh:mm, +hhmm (and Z, or +hh, when permissive). */
static vrl_time_error scan_offset(scanner *sc, bool permissive, int32_t *out)
{
    skip_spaces(sc);
    if (sc->i >= sc->n)
        return VRL_TIME_TOO_SHORT;
    char c = sc->s[sc->i];
    if (permissive && (c == 'Z' || c == 'z')) {
        sc->i++;
        *out = 0;
        return VRL_TIME_OK;
    }
    if (c != '+' && c != '-')
        return VRL_TIME_INVALID;
    sc->i++;
    int64_t h, m = 0;
    size_t before = sc->i;
    vrl_time_error e = scan_number(sc, 2, 2, &h);
    if (e != VRL_TIME_OK)
        return e;
    if (sc->i - before != 2)
        return VRL_TIME_INVALID;
    if (sc->i < sc->n && sc->s[sc->i] == ':')
        sc->i++;
    if (!permissive || (sc->i < sc->n && isdigit((unsigned char)sc->s[sc->i]))) {
        before = sc->i;
        if ((e = scan_number(sc, 2, 2, &m)) != VRL_TIME_OK)
            return e;
        if (m > 59)
            return VRL_TIME_OUT_OF_RANGE;
    }
    *out = (int32_t)((h * 3600 + m * 60) * (c == '-' ? -1 : 1));
    return VRL_TIME_OK;
}

static vrl_time_error parse_format(scanner *sc, const char *fmt, size_t fmtlen, parsed *p);

static vrl_time_error set_hour(parsed *p, int64_t h)
{
    vrl_time_error e = set_field(&p->has_hour_div, &p->hour_div, h / 12, 0, 1);
    if (e == VRL_TIME_OK)
        e = set_field(&p->has_hour_mod, &p->hour_mod, h % 12, 0, 11);
    return h < 0 || h > 23 ? VRL_TIME_OUT_OF_RANGE : e;
}

static vrl_time_error set_offset(parsed *p, int32_t off)
{
    int64_t cur = p->offset, v = off;
    vrl_time_error e = set_field(&p->has_offset, &cur, v, -86399, 86399);
    p->offset = (int32_t)cur;
    return e;
}

/* RFC 3339 with chrono's relaxations for %+ (any case of T/Z, a space
 * between date and time, no colon in the offset). */
static vrl_time_error parse_rfc3339_fields(scanner *sc, parsed *p)
{
    vrl_time_error e;
    if ((e = parse_format(sc, "%Y-%m-%d", 8, p)) != VRL_TIME_OK)
        return e;
    if (sc->i >= sc->n)
        return VRL_TIME_TOO_SHORT;
    char t = sc->s[sc->i];
    if (t != 'T' && t != 't' && t != ' ')
        return VRL_TIME_INVALID;
    sc->i++;
    if ((e = parse_format(sc, "%H:%M:%S%.f", 11, p)) != VRL_TIME_OK)
        return e;
    int32_t off;
    if ((e = scan_offset(sc, true, &off)) != VRL_TIME_OK)
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

static vrl_time_error parse_numeric(scanner *sc, char conv, parsed *p)
{
    int64_t v;
    vrl_time_error e;
    skip_spaces(sc);
    switch (conv) {
    case 'Y':
        if ((e = scan_signed(sc, 4, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_year, &p->year, v, -262143, 262142);
    case 'G':
        return scan_signed(sc, 4, &v);
    case 'C':
        if ((e = scan_number(sc, 1, 2, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_century, &p->century, v, 0, 99);
    case 'y':
        if ((e = scan_number(sc, 1, 2, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_year_mod, &p->year_mod, v, 0, 99);
    case 'g':
    case 'U':
    case 'W':
    case 'V':
        if ((e = scan_number(sc, 1, 2, &v)) != VRL_TIME_OK)
            return e;
        return v > 53 ? VRL_TIME_OUT_OF_RANGE : VRL_TIME_OK;
    case 'm':
        if ((e = scan_number(sc, 1, 2, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_month, &p->month, v, 1, 12);
    case 'd':
    case 'e':
        if ((e = scan_number(sc, 1, 2, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_day, &p->day, v, 1, 31);
    case 'j':
        if ((e = scan_number(sc, 1, 3, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_ordinal, &p->ordinal, v, 1, 366);
    case 'w':
    case 'u':
        if ((e = scan_number(sc, 1, 1, &v)) != VRL_TIME_OK)
            return e;
        if (conv == 'u' && (v < 1 || v > 7))
            return VRL_TIME_OUT_OF_RANGE;
        return set_field(&p->has_weekday, &p->weekday, v % 7, 0, 6);
    case 'H':
    case 'k':
        if ((e = scan_number(sc, 1, 2, &v)) != VRL_TIME_OK)
            return e;
        return set_hour(p, v);
    case 'I':
    case 'l':
        if ((e = scan_number(sc, 1, 2, &v)) != VRL_TIME_OK)
            return e;
        if (v < 1 || v > 12)
            return VRL_TIME_OUT_OF_RANGE;
        return set_field(&p->has_hour_mod, &p->hour_mod, v % 12, 0, 11);
    case 'M':
        if ((e = scan_number(sc, 1, 2, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_minute, &p->minute, v, 0, 59);
    case 'S':
        if ((e = scan_number(sc, 1, 2, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_second, &p->second, v, 0, 60);
    case 'f':
        if ((e = scan_number(sc, 1, 9, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_nanos, &p->nanos, v, 0, 999999999);
    case 's':
        if ((e = scan_signed(sc, 19, &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_timestamp, &p->timestamp, v, INT64_MIN, INT64_MAX);
    default:
        return VRL_TIME_BAD_FORMAT;
    }
}

/* One specifier at fmt (just after '%'); *used gets its length. */
static vrl_time_error parse_spec(scanner *sc, const char *fmt, size_t len, size_t *used, parsed *p)
{
    size_t k = 0;
    if (k < len && (fmt[k] == '-' || fmt[k] == '_' || fmt[k] == '0'))
        k++;
    if (k >= len)
        return VRL_TIME_BAD_FORMAT;
    char c = fmt[k];
    int64_t v;
    vrl_time_error e;
    /* Fractions: %.f %.3f %.6f %.9f (optional dot and digits), %3f %6f %9f. */
    if (c == '.' && k + 1 < len) {
        size_t j = k + 1;
        if (j < len && (fmt[j] == '3' || fmt[j] == '6' || fmt[j] == '9'))
            j++;
        if (j >= len || fmt[j] != 'f')
            return VRL_TIME_BAD_FORMAT;
        *used = j + 1;
        if (sc->i < sc->n && sc->s[sc->i] == '.') {
            sc->i++;
            if ((e = scan_fraction(sc, 1, SIZE_MAX, &v)) != VRL_TIME_OK)
                return e;
            return set_field(&p->has_nanos, &p->nanos, v, 0, 999999999);
        }
        return VRL_TIME_OK;
    }
    if ((c == '3' || c == '6' || c == '9') && k + 1 < len && fmt[k + 1] == 'f') {
        *used = k + 2;
        if ((e = scan_fraction(sc, (size_t)(c - '0'), (size_t)(c - '0'), &v)) != VRL_TIME_OK)
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
            return VRL_TIME_BAD_FORMAT;
        *used = j + 1;
        int32_t off;
        if ((e = scan_offset(sc, c == '#', &off)) != VRL_TIME_OK)
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
        if ((e = scan_name(sc, month_names, 12, c == 'B', &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_month, &p->month, v + 1, 1, 12);
    case 'a':
    case 'A':
        if ((e = scan_name(sc, weekday_names, 7, c == 'A', &v)) != VRL_TIME_OK)
            return e;
        return set_field(&p->has_weekday, &p->weekday, v, 0, 6);
    case 'p':
    case 'P': {
        if (sc->n - sc->i < 2)
            return VRL_TIME_TOO_SHORT;
        char a = (char)tolower((unsigned char)sc->s[sc->i]);
        char m = (char)tolower((unsigned char)sc->s[sc->i + 1]);
        if ((a != 'a' && a != 'p') || m != 'm')
            return VRL_TIME_INVALID;
        sc->i += 2;
        return set_field(&p->has_hour_div, &p->hour_div, a == 'p', 0, 1);
    }
    case 'z': {
        int32_t off;
        if ((e = scan_offset(sc, false, &off)) != VRL_TIME_OK)
            return e;
        return set_offset(p, off);
    }
    case 'Z':
        /* chrono skips a zone name without interpreting it. */
        while (sc->i < sc->n && !isspace((unsigned char)sc->s[sc->i]))
            sc->i++;
        return VRL_TIME_OK;
    case '+':
        return parse_rfc3339_fields(sc, p);
    case 'n':
    case 't':
        skip_whitespace(sc);
        return VRL_TIME_OK;
    case '%':
        if (sc->i >= sc->n)
            return VRL_TIME_TOO_SHORT;
        if (sc->s[sc->i] != '%')
            return VRL_TIME_INVALID;
        sc->i++;
        return VRL_TIME_OK;
    default:
        return parse_numeric(sc, c, p);
    }
}

static vrl_time_error parse_format(scanner *sc, const char *fmt, size_t fmtlen, parsed *p)
{
    size_t f = 0;
    while (f < fmtlen) {
        char c = fmt[f];
        if (c == '%') {
            size_t used = 0;
            vrl_time_error e = parse_spec(sc, fmt + f + 1, fmtlen - f - 1, &used, p);
            if (e != VRL_TIME_OK)
                return e;
            f += 1 + used;
        } else if (isspace((unsigned char)c)) {
            skip_whitespace(sc);
            f++;
        } else {
            if (sc->i >= sc->n)
                return VRL_TIME_TOO_SHORT;
            if (sc->s[sc->i] != c)
                return VRL_TIME_INVALID;
            sc->i++;
            f++;
        }
    }
    return VRL_TIME_OK;
}

/* The date the fields name, as days since the epoch. */
static vrl_time_error resolve_date(const parsed *p, int64_t *days)
{
    int64_t year;
    if (p->has_year) {
        year = p->year;
        if (p->has_year_mod && ((year % 100) + 100) % 100 != p->year_mod)
            return VRL_TIME_IMPOSSIBLE;
    } else if (p->has_century && p->has_year_mod) {
        year = p->century * 100 + p->year_mod;
    } else if (p->has_year_mod) {
        year = p->year_mod + (p->year_mod < 70 ? 2000 : 1900);
    } else {
        return VRL_TIME_NOT_ENOUGH;
    }
    if (p->has_month && p->has_day) {
        if ((unsigned)p->day > vrl_days_in_month(year, (unsigned)p->month))
            return VRL_TIME_OUT_OF_RANGE;
        *days = vrl_days_from_civil(year, (unsigned)p->month, (unsigned)p->day);
    } else if (p->has_ordinal) {
        if (p->ordinal > 365 + vrl_is_leap_year(year))
            return VRL_TIME_OUT_OF_RANGE;
        *days = vrl_days_from_civil(year, 1, 1) + p->ordinal - 1;
        if (p->has_month || p->has_day) {
            int64_t y;
            unsigned m, d;
            vrl_civil_from_days(*days, &y, &m, &d);
            if ((p->has_month && m != p->month) || (p->has_day && d != p->day))
                return VRL_TIME_IMPOSSIBLE;
        }
    } else {
        return VRL_TIME_NOT_ENOUGH;
    }
    if (p->has_weekday && vrl_weekday_from_days(*days) != p->weekday)
        return VRL_TIME_IMPOSSIBLE;
    return VRL_TIME_OK;
}

static vrl_time_error resolve(const parsed *p, const vrl_tz *tz, int64_t *ns)
{
    int64_t nanos = p->has_nanos ? p->nanos : 0;
    if (p->has_timestamp)
        return vrl_time_to_ns(p->timestamp, nanos, ns) ? VRL_TIME_OK : VRL_TIME_OUT_OF_RANGE;
    int64_t days;
    vrl_time_error e = resolve_date(p, &days);
    if (e != VRL_TIME_OK)
        return e;
    if (!p->has_hour_div || !p->has_hour_mod || !p->has_minute)
        return VRL_TIME_NOT_ENOUGH;
    int64_t second = p->has_second ? p->second : 0;
    int64_t hour = p->hour_div * 12 + p->hour_mod;
    int64_t local = days * 86400 + hour * 3600 + p->minute * 60 + second;
    int64_t utc;
    if (p->has_offset)
        utc = local - p->offset;
    else if (!vrl_tz_to_utc(tz, local, &utc))
        return VRL_TIME_IMPOSSIBLE;
    return vrl_time_to_ns(utc, nanos, ns) ? VRL_TIME_OK : VRL_TIME_OUT_OF_RANGE;
}

vrl_time_error vrl_time_parse(const char *s, size_t n, const char *fmt, size_t fmtlen,
                              const vrl_tz *tz, int64_t *ns)
{
    if (!vrl_time_format_ok(fmt, fmtlen))
        return VRL_TIME_BAD_FORMAT;
    scanner sc = {s, n, 0};
    parsed p;
    memset(&p, 0, sizeof(p));
    vrl_time_error e = parse_format(&sc, fmt, fmtlen, &p);
    if (e != VRL_TIME_OK)
        return e;
    if (sc.i < sc.n)
        return VRL_TIME_TOO_LONG;
    return resolve(&p, tz, ns);
}

bool vrl_time_format_ok(const char *fmt, size_t n)
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
