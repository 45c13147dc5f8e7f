/* sltime_zone.c - time zones from the TZ database (see sltime.h).
 *
 * Zones come from TZif files (RFC 8536): the 64-bit transition table, then
 * the POSIX TZ rule in the footer for times after the last transition. A
 * zone is read once, on first use, and kept in a process-wide list. */
#include "pipeline/sltime.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct sltime_zone {
    char *name;
    uint32_t ntrans, ntypes;
    int64_t *trans;
    uint8_t *trans_type;
    tz_type *types;
    char *abbrs;
    uint32_t nabbrs;
    bool has_rule;
    tz_rule rule;
    struct sltime_zone *next;
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
        int64_t first = sltime_days_from_civil(year, (unsigned)d->month, 1);
        int day = 1 + (d->wday - (int)sltime_weekday_from_days(first) + 7) % 7 + (d->week - 1) * 7;
        while ((unsigned)day > sltime_days_in_month(year, (unsigned)d->month))
            day -= 7;
        days = first + day - 1;
    } else if (d->kind == 'J') {
        days = sltime_days_from_civil(year, 1, 1) + d->yday - 1 +
               (sltime_is_leap_year(year) && d->yday >= 60);
    } else {
        days = sltime_days_from_civil(year, 1, 1) + d->yday;
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
        sltime_civil_from_days(days, &y, &m, &d);
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

static void tz_free(sltime_zone *tz)
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
static sltime_zone *tz_from_tzif(const unsigned char *p, size_t n)
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
    sltime_zone *tz = calloc(1, sizeof(*tz));
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

static sltime_zone *tz_load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *data = malloc(TZIF_MAX);
    sltime_zone *tz = NULL;
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
static sltime_zone utc_zone = {
    .name = utc_abbr, .ntypes = 1, .types = (tz_type *)&utc_type, .abbrs = utc_abbr, .nabbrs = 3,
};

static pthread_mutex_t zones_lock = PTHREAD_MUTEX_INITIALIZER;
static sltime_zone *zones;

static sltime_zone *tz_load_named(const char *name, size_t n)
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
static const sltime_zone *tz_cached(const char *key, size_t n, const char *path)
{
    pthread_mutex_lock(&zones_lock);
    sltime_zone *tz = zones;
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

static const sltime_zone *local_zone;
static pthread_once_t local_once = PTHREAD_ONCE_INIT;

static void find_local_zone(void)
{
    const char *env = getenv("TZ");
    if (env && *env) {
        if (*env == ':')
            env++;
        local_zone = *env == '/' ? tz_cached(env, strlen(env), env)
                                 : sltime_zone_find(env, strlen(env));
    } else {
        local_zone = tz_cached("/etc/localtime", strlen("/etc/localtime"), "/etc/localtime");
    }
    if (!local_zone)
        local_zone = &utc_zone;
}

const sltime_zone *sltime_zone_local(void)
{
    pthread_once(&local_once, find_local_zone);
    return local_zone;
}

const sltime_zone *sltime_zone_find(const char *name, size_t n)
{
    if (n == 0 || (n == 5 && memcmp(name, "local", 5) == 0))
        return sltime_zone_local();
    if (is_utc_name(name, n))
        return &utc_zone;
    if (!tz_name_safe(name, n))
        return NULL;
    return tz_cached(name, n, NULL);
}

int32_t sltime_zone_offset(const sltime_zone *tz, int64_t t, const char **abbr)
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

bool sltime_zone_to_utc(const sltime_zone *tz, int64_t local, int64_t *utc)
{
    /* Every offset in effect around the wall time is a candidate; the ones
     * that map back to it are the answers. */
    const char *abbr;
    int32_t cand[2] = {sltime_zone_offset(tz, local - 86400, &abbr),
                       sltime_zone_offset(tz, local + 86400, &abbr)};
    bool found = false;
    for (int i = 0; i < 2; i++) {
        int64_t t = local - cand[i];
        if (sltime_zone_offset(tz, t, &abbr) == cand[i] && (!found || t < *utc)) {
            *utc = t;
            found = true;
        }
    }
    return found;
}
