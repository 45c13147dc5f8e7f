/* fn_syslog.c - the remap language's parse_syslog.
 *
 * It follows syslog_loose: RFC 5424 first, then RFC 3164 and its common
 * variations, with what VRL returns in every corner case. Parsed strings
 * point into the input unless an escape had to be undone. Inputs are read as
 * from_utf8_lossy reads them, and every loop is bounded by the input's
 * length, so hostile input costs time in proportion to its size. */
#include <string.h>

#include "pipeline/sltime.h"
#include "transforms/vrl/fn_util.h"

#define OOM(err, fn) sl_fail((err), "out of memory in " fn)

static const vrl_param value_param[] = {
    {"value", K(VALUE_BYTES), true},
};

/* ---- parse_syslog ------------------------------------------------------ */

typedef struct cursor {
    const char *s;
    size_t n, i;
} cursor;

typedef struct syslog_msg {
    int facility, severity;     /* -1 when absent */
    int64_t version;            /* -1 for RFC 3164 */
    bool has_time;
    int64_t time;
    const char *host, *app, *procid, *msgid;  /* NULL when absent */
    size_t hostn, appn, procidn, msgidn;
    size_t sd_start, sd_end;    /* the structured data's text */
    bool sd_strict;             /* 3164: elements without parameters refused */
    const char *msg;
    size_t msgn;
} syslog_msg;

static bool at_digit(const cursor *c)
{
    return c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9';
}

/* digit1 read as an unsigned number no larger than max. */
static bool read_uint(cursor *c, uint64_t max, uint64_t *out)
{
    if (!at_digit(c))
        return false;
    uint64_t v = 0;
    while (at_digit(c)) {
        v = v * 10 + (uint64_t)(c->s[c->i++] - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

static size_t count_blanks(const cursor *c)
{
    size_t k = 0;
    while (c->i + k < c->n && (c->s[c->i + k] == ' ' || c->s[c->i + k] == '\t'))
        k++;
    return k;
}

static bool space1(cursor *c)
{
    size_t k = count_blanks(c);
    c->i += k;
    return k > 0;
}

static void space0(cursor *c)
{
    c->i += count_blanks(c);
}

static bool take_char(cursor *c, char ch)
{
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

/* The optional <PRI>; the cursor is left alone when there is none. */
static void read_pri(cursor *c, syslog_msg *m)
{
    cursor t = *c;
    uint64_t pri;
    m->facility = m->severity = -1;
    if (!take_char(&t, '<') || !read_uint(&t, 255, &pri) || !take_char(&t, '>'))
        return;
    m->facility = pri >> 3 <= 23 ? (int)(pri >> 3) : -1;
    m->severity = (int)(pri & 7);
    *c = t;
}

static bool char_is_space(const cursor *c, size_t i, size_t *len)
{
    uint32_t cp;
    *len = utf8_next(c->s + i, c->n - i, &cp);
    return vrl_is_whitespace(cp);
}

/* syslog_loose's header field: a run of non-space characters (and no ':'
 * unless colons are allowed); "-" is an empty field, and a trailing ':' is
 * left for the header/message separator. 1 with the field (NULL when
 * empty), 0 when there is none. */
static int header_field(cursor *c, bool colons, const char **f, size_t *fn)
{
    size_t e = c->i, len;
    while (e < c->n && !char_is_space(c, e, &len) && (colons || c->s[e] != ':'))
        e += len;
    size_t n = e - c->i;
    const char *v = c->s + c->i;
    if (n == 0 || (n == 1 && v[0] == ':'))
        return 0;
    if (v[n - 1] == ':') {
        c->i += n - 1;
        *f = v;
        *fn = n - 1;
        return 1;
    }
    c->i = e;
    *f = n == 1 && v[0] == '-' ? NULL : v;
    *fn = n;
    return 1;
}

/* `"..."` with \ escapes, the raw text between the quotes in *v. */
static bool sd_param_value(cursor *c, const char **v, size_t *vn)
{
    if (!take_char(c, '"'))
        return false;
    size_t start = c->i;
    while (c->i < c->n && c->s[c->i] != '"') {
        if (c->s[c->i] == '\\') {
            if (c->i + 1 >= c->n)
                return false;
            uint32_t cp;
            c->i += 1 + utf8_next(c->s + c->i + 1, c->n - c->i - 1, &cp);
        } else {
            c->i++;
        }
    }
    if (!take_char(c, '"'))
        return false;
    *v = c->s + start;
    *vn = c->i - 1 - start;
    return true;
}

static bool sd_param(cursor *c, const char **name, size_t *nn, const char **v, size_t *vn)
{
    size_t start = c->i;
    while (c->i < c->n && c->s[c->i] != ']' && c->s[c->i] != '=')
        c->i++;
    if (c->i == start || !take_char(c, '='))
        return false;
    *name = c->s + start;
    *nn = c->i - 1 - start;
    space0(c);
    return sd_param_value(c, v, vn);
}

/* One `[id name="value" ...]`. Visits each parameter when `visit` is set.
 * -1 on allocation failure, 0 when the text is not such an element. */
typedef int (*sd_visit)(void *ctx, const char *id, size_t idn, const char *name, size_t nn,
                        const char *v, size_t vn);

static int sd_element(cursor *c, sd_visit visit, void *ctx, size_t *nparams)
{
    if (!take_char(c, '['))
        return 0;
    size_t start = c->i, len;
    while (c->i < c->n && !char_is_space(c, c->i, &len) && c->s[c->i] != ']' && c->s[c->i] != '=')
        c->i += len;
    if (c->i == start)
        return 0;
    const char *id = c->s + start;
    size_t idn = c->i - start;
    space0(c);
    *nparams = 0;
    if (visit && visit(ctx, id, idn, NULL, 0, NULL, 0) < 0)
        return -1;
    for (;;) {
        cursor t = *c;
        if (*nparams > 0 && !take_char(&t, ' '))
            break;
        const char *name, *v;
        size_t nn, vn;
        if (!sd_param(&t, &name, &nn, &v, &vn))
            break;
        *c = t;
        (*nparams)++;
        if (visit && visit(ctx, id, idn, name, nn, v, vn) < 0)
            return -1;
    }
    return take_char(c, ']');
}

/* syslog_loose's structured data: "-", or one or more elements. In 5424
 * mode anything between brackets is skipped when it is not an element; in
 * 3164 mode such text, and elements without parameters, end it. */
static int structured_data(cursor *c, bool rfc3164, sd_visit visit, void *ctx)
{
    if (take_char(c, '-'))
        return 1;
    int count = 0;
    while (c->i < c->n && c->s[c->i] == '[') {
        cursor t = *c;
        size_t nparams;
        int rc = sd_element(&t, NULL, NULL, &nparams);
        if (rc == 1 && !(rfc3164 && nparams == 0)) {
            if (visit && sd_element(c, visit, ctx, &nparams) < 0)
                return -1;
            *c = t;
        } else if (!rfc3164) {
            const char *close = memchr(c->s + c->i, ']', c->n - c->i);
            if (!close)
                break;
            c->i = (size_t)(close - c->s) + 1;
        } else {
            break;
        }
        count++;
    }
    return count > 0;
}

static bool parse_5424(cursor c, syslog_msg *m)
{
    uint64_t version;
    read_pri(&c, m);
    if (!read_uint(&c, UINT32_MAX, &version) || !space1(&c))
        return false;
    m->version = (int64_t)version;
    const char *sp = memchr(c.s + c.i, ' ', c.n - c.i);
    if (!sp || sltime_parse_rfc3339(c.s + c.i, (size_t)(sp - (c.s + c.i)),
                                    SLTIME_RFC3339_CHRONO, &m->time, NULL))
        return false;
    m->has_time = true;
    c.i = (size_t)(sp - c.s);
    if (!space1(&c) || !header_field(&c, true, &m->host, &m->hostn) || !space1(&c) ||
        !header_field(&c, true, &m->app, &m->appn) || !space1(&c) ||
        !header_field(&c, true, &m->procid, &m->procidn) || !space1(&c) ||
        !header_field(&c, true, &m->msgid, &m->msgidn))
        return false;
    space0(&c);
    m->sd_start = c.i;
    if (structured_data(&c, false, NULL, NULL) <= 0)
        return false;
    m->sd_end = c.i;
    m->sd_strict = false;
    space0(&c);
    m->msg = c.s + c.i;
    m->msgn = c.n - c.i;
    return true;
}

/* The year of a timestamp without one: this year, or last year for a
 * December message read in January. */
static int64_t syslog_year(unsigned month)
{
    int64_t y;
    unsigned mon, day;
    int64_t now = sl_now_wall_ns() / 1000000000;
    sltime_civil_from_days(now / 86400, &y, &mon, &day);
    return mon == 1 && month == 12 ? y - 1 : y;
}

/* "Mmm dd [yyyy] hh:mm:ss[:]", read in the local zone. */
static bool timestamp_3164_text(cursor *c, bool with_year, int64_t *ns)
{
    uint64_t day, year = 0, h, mi, sec;
    if (c->n - c->i < 3)
        return false;
    char abbr[4] = {c->s[c->i], c->s[c->i + 1], c->s[c->i + 2], '\0'};
    unsigned month = sltime_month_from_abbr(abbr);
    c->i += 3;
    if (!month || !space1(c) || !read_uint(c, UINT32_MAX, &day) || !space1(c))
        return false;
    if (with_year && (!read_uint(c, INT32_MAX, &year) || !space1(c)))
        return false;
    if (!read_uint(c, UINT32_MAX, &h) || !take_char(c, ':') || !read_uint(c, UINT32_MAX, &mi) ||
        !take_char(c, ':') || !read_uint(c, UINT32_MAX, &sec))
        return false;
    take_char(c, ':');
    int64_t y = with_year ? (int64_t)year : syslog_year(month);
    if (day < 1 || day > sltime_days_in_month(y, month) || h > 23 || mi > 59 || sec > 59)
        return false;
    int64_t local = sltime_days_from_civil(y, month, (unsigned)day) * 86400 +
                    (int64_t)(h * 3600 + mi * 60 + sec);
    int64_t utc;
    return sltime_zone_to_utc(sltime_zone_local(), local, &utc) && sltime_to_ns(utc, 0, ns);
}

static bool timestamp_3164(cursor *c, int64_t *ns)
{
    cursor t = *c;
    if (timestamp_3164_text(&t, false, ns)) {
        *c = t;
        return true;
    }
    t = *c;
    if (timestamp_3164_text(&t, true, ns)) {
        *c = t;
        return true;
    }
    const char *sp = memchr(c->s + c->i, ' ', c->n - c->i);
    if (!sp || sltime_parse_rfc3339(c->s + c->i, (size_t)(sp - (c->s + c->i)),
                                    SLTIME_RFC3339_CHRONO, ns, NULL))
        return false;
    c->i = (size_t)(sp - c->s);
    return true;
}

/* "app[pid]" exactly: the app (possibly empty) and the pid. */
static bool systag(const char *f, size_t n, size_t *appn, const char **pid, size_t *pidn)
{
    size_t i = 0;
    while (i < n && f[i] != ' ' && f[i] != '\t' && f[i] != ':' && f[i] != '[')
        i++;
    if (i >= n || f[i] != '[' || n < i + 3 || f[n - 1] != ']')
        return false;
    if (memchr(f + i + 1, ']', n - i - 2))
        return false;
    *appn = i;
    *pid = f + i + 1;
    *pidn = n - i - 2;
    return true;
}

/* One optional header field after exactly one space. */
typedef struct opt_field {
    bool present;
    const char *v;
    size_t n;
} opt_field;

static opt_field optional_field(cursor *c, bool colons)
{
    opt_field f = {false, NULL, 0};
    cursor t = *c;
    if (take_char(&t, ' ') && header_field(&t, colons, &f.v, &f.n)) {
        f.present = true;
        *c = t;
    }
    return f;
}

/* Two fields are host and tag; a lone field is the tag when it looks like
 * app[pid], else the host. A "-" tag leaves all three empty. */
static void resolve_host_and_tag(syslog_msg *m, opt_field f1, opt_field f2)
{
    const char *pid;
    size_t appn, pidn;
    bool both = f1.present && f2.present;
    opt_field field = both ? f2 : f1.present ? f1 : f2;
    if (!field.present || !field.v)
        return;
    if (both && f1.v) {
        m->host = f1.v;
        m->hostn = f1.n;
    }
    if (systag(field.v, field.n, &appn, &pid, &pidn)) {
        m->app = field.v;
        m->appn = appn;
        m->procid = pid;
        m->procidn = pidn;
    } else if (both) {
        m->app = field.v;
        m->appn = field.n;
    } else {
        m->host = field.v;
        m->hostn = field.n;
    }
}

static bool parse_3164(cursor c, syslog_msg *m)
{
    read_pri(&c, m);
    m->version = -1;
    space0(&c);
    if (!timestamp_3164(&c, &m->time))
        return false;
    m->has_time = true;
    opt_field f1 = optional_field(&c, true);
    opt_field f2 = optional_field(&c, false);
    resolve_host_and_tag(m, f1, f2);
    space0(&c);
    take_char(&c, ':');
    space0(&c);
    cursor t = c;
    m->sd_start = m->sd_end = c.i;
    if (structured_data(&t, true, NULL, NULL) > 0) {
        c = t;
        m->sd_end = c.i;
    }
    m->sd_strict = true;
    space0(&c);
    m->msg = c.s + c.i;
    m->msgn = c.n - c.i;
    return true;
}

static const char *const facility_names[24] = {
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clockd",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
};
static const char *const severity_names[8] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/* A structured-data value with syslog_loose's escapes undone: \", \\ and
 * \] lose the backslash, \n is a newline, others stay as written. */
static int unescape_sd(arena *a, const char *s, size_t n, value *out)
{
    if (!memchr(s, '\\', n)) {
        *out = value_bytes(s, n);
        return 0;
    }
    char *o = arena_alloc(a, n);
    if (!o)
        return -1;
    size_t w = 0;
    bool escaped = false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\\' && !escaped) {
            escaped = true;
            continue;
        }
        if (escaped && ch == 'n')
            ch = '\n';
        else if (escaped && ch != '"' && ch != ']' && ch != '\\')
            o[w++] = '\\';
        o[w++] = ch;
        escaped = false;
    }
    *out = value_bytes(o, w);
    return 0;
}

/* Collects one SD element's parameters into an object. */
typedef struct sd_collect {
    arena *a;
    vrl_entry_list *fields;
    vrl_entry_list params;
} sd_collect;

static int sd_flush(sd_collect *sc)
{
    if (!sc->fields->len)
        return 0;
    value_entry *e = &sc->fields->items[sc->fields->len - 1];
    if (e->val.kind != VALUE_MAP)
        return 0;
    return vrl_map_from_entries(sc->a, sc->params.items, sc->params.len, &e->val);
}

static int sd_visit_param(void *ctx, const char *id, size_t idn, const char *name, size_t nn,
                          const char *v, size_t vn)
{
    sd_collect *sc = ctx;
    if (!name) {
        if (sd_flush(sc) < 0)
            return -1;
        value_entry *e = vrl_entry_push(sc->a, sc->fields);
        if (!e)
            return -1;
        e->key = id;
        e->klen = (uint32_t)idn;
        e->val = value_new_map(sc->a, 0);
        sc->params.items = NULL;
        sc->params.len = sc->params.cap = 0;
        return e->val.kind == VALUE_MAP ? 0 : -1;
    }
    value_entry *p = vrl_entry_push(sc->a, &sc->params);
    if (!p)
        return -1;
    p->key = name;
    p->klen = (uint32_t)nn;
    return unescape_sd(sc->a, v, vn, &p->val);
}

/* procid: an integer when it reads as an i32, else the text. */
static value syslog_procid(const char *s, size_t n)
{
    int64_t v = 0;
    size_t i = 0;
    bool neg = n > 0 && (s[0] == '-' || s[0] == '+');
    if (neg)
        i++;
    if (i == n)
        return value_bytes(s, n);
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return value_bytes(s, n);
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t)INT32_MAX + 1)
            return value_bytes(s, n);
    }
    if (s[0] == '-')
        v = -v;
    if (v > INT32_MAX || v < INT32_MIN)
        return value_bytes(s, n);
    return value_int(v);
}

static int syslog_to_value(arena *a, const cursor *c, const syslog_msg *m, value *out)
{
    vrl_entry_list f = {NULL, 0, 0};
    if (vrl_entry_put(a, &f, "message", value_bytes(m->msg, m->msgn)) < 0 ||
        (m->host && vrl_entry_put(a, &f, "hostname", value_bytes(m->host, m->hostn)) < 0) ||
        (m->severity >= 0 && vrl_entry_put(a, &f, "severity", value_bytes(severity_names[m->severity],
                                       strlen(severity_names[m->severity]))) < 0) ||
        (m->facility >= 0 && vrl_entry_put(a, &f, "facility", value_bytes(facility_names[m->facility],
                                       strlen(facility_names[m->facility]))) < 0) ||
        (m->version >= 0 && vrl_entry_put(a, &f, "version", value_int(m->version)) < 0) ||
        (m->app && vrl_entry_put(a, &f, "appname", value_bytes(m->app, m->appn)) < 0) ||
        (m->msgid && vrl_entry_put(a, &f, "msgid", value_bytes(m->msgid, m->msgidn)) < 0) ||
        (m->has_time && vrl_entry_put(a, &f, "timestamp", value_timestamp(m->time)) < 0) ||
        (m->procid && vrl_entry_put(a, &f, "procid", syslog_procid(m->procid, m->procidn)) < 0))
        return -1;
    cursor sd = {c->s, m->sd_end, m->sd_start};
    sd_collect sc = {a, &f, {NULL, 0, 0}};
    if (m->sd_end > m->sd_start &&
        (structured_data(&sd, m->sd_strict, sd_visit_param, &sc) < 0 || sd_flush(&sc) < 0))
        return -1;
    return vrl_map_from_entries(a, f.items, f.len, out);
}

static int parse_syslog_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *s;
    size_t n;
    if (vrl_arg_lossy(c, &args[0], &s, &n, err) < 0)
        return -1;
    vrl_trim(&s, &n);
    cursor cur = {s, n, 0};
    syslog_msg m;
    memset(&m, 0, sizeof(m));
    if (!parse_5424(cur, &m)) {
        memset(&m, 0, sizeof(m));
        if (!parse_3164(cur, &m))
            return sl_fail(err, "unable to parse input as valid syslog message");
    }
    return syslog_to_value(c->a, &cur, &m, out) < 0 ? OOM(err, "parse_syslog") : 0;
}

static const vrl_function fn_parse_syslog = {
    .name = "parse_syslog",
    .params = value_param,
    .nparams = SL_ARRAY_LEN(value_param),
    .returns = K(VALUE_MAP),
    .fallible = true,
    .call = parse_syslog_call,
};

const vrl_function *const vrl_syslog_functions[] = {
    &fn_parse_syslog,
    NULL,
};
