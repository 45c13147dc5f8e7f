/* fn_access_log.c - the remap language's parse_common_log and
 * parse_apache_log (common, combined and error formats).
 *
 * They use VRL's regexes, translated to PCRE2 and compiled once per call
 * site, and type the captured fields as VRL does. Inputs are read as
 * from_utf8_lossy reads them. */
#include <stdlib.h>
#include <string.h>

#include "pipeline/sltime.h"
#include "transforms/vrl/fn_util.h"

#define OOM(err, fn) sl_fail((err), "out of memory in " fn)

/* ---- parse_common_log, parse_apache_log -------------------------------- */

/* VRL's regexes (log_util.rs) in PCRE2 syntax. Rust's class union
 * [[\\"][^"]] matches any character, hence [\s\S]; in Rust's x mode the
 * space in ", referer " is ignored, hence ",referer". */
#define CLF_HEAD                                                                             \
    "^\\s*(-|(?<host>.*?))\\s+(-|(?<identity>.*?))\\s+(-|(?<user>.*?))\\s+"                 \
    "(-|\\[(-|(?<timestamp>[^\\[]*))\\])\\s+"                                                \
    "(-|\"(-|(\\s*(?<message>((?<method>\\w+)\\s+(?<path>[\\s\\S]*?)\\s+"                   \
    "(?<protocol>[\\s\\S]*?)\\s*|[\\s\\S]*?))\\s*))\")\\s+(-|(?<status>\\d+))\\s+"

static const char *const common_re[] = {CLF_HEAD "(-|(?<size>\\d+))\\s*$", NULL};

static const char *const combined_re[] = {
    CLF_HEAD "(-|(?<size>\\d+))\\s+(-|\"(-|(\\s*(?<referrer>[\\s\\S]*?)\")))\\s+"
             "(-|\"(-|(\\s*(?<agent>[\\s\\S]*?)\")))",
    NULL,
};

static const char *const error_re[] = {
    "^\\s*(-|\\[(-|(?<timestamp>[^\\[]*))\\])\\s+"
    "(-|\\[(-|(?<module>[^:]*):(?<severity>[^\\[]*))\\])\\s+"
    "(-|\\[\\s*pid\\s*(-|(?<pid>[^:]*)(:\\s*tid\\s*(?<thread>[^\\[]*))?)\\])\\s"
    "(-|\\[\\s*client\\s*(-|(?<client>.*:?):(?<port>[^\\[]*))\\])\\s(-|(?<message>.*))\\s*$",
    "^\\s*\\[(?<timestamp>[^\\]]+)\\]\\s+\\[(-|(?<module>[^:]+)):(?<severity>[^\\]]+)\\]\\s+"
    "\\[pid\\s+(?<pid>\\d+)(:tid\\s+(?<thread>\\d+))?\\]\\s+"
    "(?<message1>[^\\[]*?:\\s+([^\\[]*?:\\s+)?)?(\\[client\\s+(?<client>.+?):(?<port>\\d+)\\]\\s+)?"
    "(?<message2>.*)(,referer.*)?\\s*$",
    NULL,
};

#define DEFAULT_CLF_TIME "%d/%b/%Y:%T %z"

typedef struct access_log {
    const char *kind;        /* "common", "combined", "error" */
    pcre2_code *re[2];
    int nre;
} access_log;

static void access_log_free(void *state)
{
    access_log *al = state;
    if (!al)
        return;
    for (int i = 0; i < al->nre; i++)
        pcre2_code_free(al->re[i]);
    free(al);
}

static int access_log_new(const char *kind, const char *const *patterns, void **state,
                          sl_error *err)
{
    access_log *al = calloc(1, sizeof(*al));
    if (!al)
        return sl_fail(err, "out of memory compiling %s log regexes", kind);
    al->kind = kind;
    for (; patterns[al->nre]; al->nre++) {
        int code;
        PCRE2_SIZE off;
        al->re[al->nre] = pcre2_compile((PCRE2_SPTR)patterns[al->nre], PCRE2_ZERO_TERMINATED,
                                        PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &code, &off,
                                        NULL);
        if (!al->re[al->nre]) {
            access_log_free(al);
            return sl_fail(err, "unable to compile the %s log regex (error %d)", kind, code);
        }
        pcre2_jit_compile(al->re[al->nre], PCRE2_JIT_COMPLETE);
    }
    *state = al;
    return 0;
}

static int check_time_format(const vrl_const_arg *a, sl_error *err)
{
    const char *f;
    size_t n;
    if (vrl_const_bytes(a, &f, &n) && !sltime_strptime_format_ok(f, n))
        return sl_fail(err, "`timestamp_format` is not a valid format string");
    return 0;
}

static int parse_common_log_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    if (check_time_format(&args[1], err) < 0)
        return -1;
    return access_log_new("common", common_re, state, err);
}

static int parse_apache_log_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    const char *f;
    size_t n;
    if (!vrl_const_bytes(&args[1], &f, &n))
        return sl_fail(err, "`format` must be a literal string");
    if (check_time_format(&args[2], err) < 0)
        return -1;
    if (n == 6 && memcmp(f, "common", 6) == 0)
        return access_log_new("common", common_re, state, err);
    if (n == 8 && memcmp(f, "combined", 8) == 0)
        return access_log_new("combined", combined_re, state, err);
    if (n == 5 && memcmp(f, "error", 5) == 0)
        return access_log_new("error", error_re, state, err);
    return sl_fail(err, "`format` must be one of \"common\", \"combined\", \"error\"");
}

static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i++;
    }
    if (i == n)
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        int digit = s[i] - '0';
        if (digit < 0 || digit > 9 || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, neg ? -digit : digit, &v))
            return false;
    }
    *out = v;
    return true;
}

/* A captured field as VRL types it: the timestamp parsed, counters as
 * integers, the rest as text. */
static int log_field(const char *name, const char *v, size_t vn, const char *fmt, size_t fmtn,
                     value *out, sl_error *err)
{
    if (strcmp(name, "timestamp") == 0) {
        int64_t ns;
        sltime_error e = sltime_strptime(v, vn, fmt, fmtn, sltime_zone_local(), &ns);
        if (e != SLTIME_OK)
            return sl_fail(err, "failed parsing timestamp %.*s using format %.*s: %s", (int)vn, v,
                           (int)fmtn, fmt, sltime_error_text(e));
        *out = value_timestamp(ns);
        return 0;
    }
    static const char *const integers[] = {"status", "size", "pid", "tid", "cid", "port"};
    for (size_t i = 0; i < SL_ARRAY_LEN(integers); i++) {
        if (strcmp(name, integers[i]) != 0)
            continue;
        int64_t iv;
        if (!parse_i64(v, vn, &iv))
            return sl_fail(err, "failed parsing %s", name);
        *out = value_int(iv);
        return 0;
    }
    *out = value_bytes(v, vn);
    return 0;
}

static int log_fields(arena *a, const pcre2_code *re, const char *s, pcre2_match_data *md,
                      const char *fmt, size_t fmtn, value *out, sl_error *err)
{
    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    vrl_entry_list f = {NULL, 0, 0};
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * entry_size;
        uint32_t g = (uint32_t)e[0] << 8 | e[1];
        if (ov[2 * g] == PCRE2_UNSET)
            continue;
        const char *name = (const char *)e + 2;
        value v;
        if (log_field(name, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g], fmt, fmtn, &v, err) < 0)
            return -1;
        if (vrl_entry_put(a, &f, name, v) < 0)
            return OOM(err, "parsing a log line");
    }
    return vrl_map_from_entries(a, f.items, f.len, out) < 0 ? OOM(err, "parsing a log line") : 0;
}

static int parse_access_log(const vrl_call *c, const vrl_arg *value_arg, const vrl_arg *fmt_arg,
                            value *out, sl_error *err)
{
    const access_log *al = c->state;
    const char *s, *fmt;
    size_t n, fmtn;
    if (vrl_arg_lossy(c, value_arg, &s, &n, err) < 0 ||
        vrl_arg_opt_bytes(fmt_arg, DEFAULT_CLF_TIME, &fmt, &fmtn, err) < 0)
        return -1;
    for (int i = 0; i < al->nre; i++) {
        pcre2_match_data *md;
        int rc = vrl_regex_exec(c->a, al->re[i], &s, &n, 0, 0, &md, err);
        if (rc < 0)
            return -1;
        if (rc == 1)
            return log_fields(c->a, al->re[i], s, md, fmt, fmtn, out, err);
    }
    return sl_fail(err, "failed parsing %s log line", al->kind);
}

static int parse_common_log_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    return parse_access_log(c, &args[0], &args[1], out, err);
}

static int parse_apache_log_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    return parse_access_log(c, &args[0], &args[2], out, err);
}

static const vrl_param parse_common_log_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"timestamp_format", K(VALUE_BYTES), false},
};

static const vrl_function fn_parse_common_log = {
    .name = "parse_common_log",
    .params = parse_common_log_params,
    .nparams = SL_ARRAY_LEN(parse_common_log_params),
    .returns = K(VALUE_MAP),
    .fallible = true,
    .compile = parse_common_log_compile,
    .free_state = access_log_free,
    .call = parse_common_log_call,
};

static const vrl_param parse_apache_log_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"format", K(VALUE_BYTES), true},
    {"timestamp_format", K(VALUE_BYTES), false},
};

static const vrl_function fn_parse_apache_log = {
    .name = "parse_apache_log",
    .params = parse_apache_log_params,
    .nparams = SL_ARRAY_LEN(parse_apache_log_params),
    .returns = K(VALUE_MAP),
    .fallible = true,
    .compile = parse_apache_log_compile,
    .free_state = access_log_free,
    .call = parse_apache_log_call,
};

const vrl_function *const vrl_access_log_functions[] = {
    &fn_parse_common_log,
    &fn_parse_apache_log,
    NULL,
};
