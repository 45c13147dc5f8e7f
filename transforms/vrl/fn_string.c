/* fn_string.c - the remap language's string functions: contains,
 * starts_with, ends_with, downcase, upcase, replace, split, join, slice,
 * strip_whitespace and truncate.
 *
 * VRL reads most string arguments with from_utf8_lossy, so invalid UTF-8
 * turns into U+FFFD rather than an error; the same happens here, and the
 * text is copied only when it actually has invalid bytes. Results that are
 * parts of an argument (split, slice, strip_whitespace) point into it.
 * Case-insensitive comparison lowercases both sides as Rust's
 * str::to_lowercase does (simple case mapping from the C.UTF-8 tables). */
#include <stdlib.h>
#include <string.h>

#include "transforms/vrl/fn_util.h"
#include "pipeline/json.h"

#define OOM(err, fn) sl_fail((err), "out of memory in " fn)

static bool is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* s with every character mapped to its lower or upper case, in the arena.
 * Upper-case ß becomes "SS", as in Rust. */
static int change_case(arena *a, const char *s, size_t n, bool upper, const char **out, size_t *on)
{
    if (n > (SIZE_MAX - 1) / 3)
        return -1;
    char *o = arena_alloc(a, n ? 3 * n : 1);
    if (!o)
        return -1;
    size_t w = 0;
    if (is_ascii(s, n)) {
        for (size_t i = 0; i < n; i++)
            o[i] = (char)(upper ? vrl_to_upper((unsigned char)s[i])
                                : vrl_to_lower((unsigned char)s[i]));
        w = n;
    } else {
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            i += utf8_next(s + i, n - i, &cp);
            if (upper && cp == 0xDF) {
                o[w++] = 'S';
                o[w++] = 'S';
                continue;
            }
            w += utf8_encode(upper ? vrl_to_upper(cp) : vrl_to_lower(cp), o + w);
        }
    }
    *out = o;
    *on = w;
    return 0;
}

/* ---- contains, starts_with, ends_with ---------------------------------- */

static const vrl_param substring_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"substring", K(VALUE_BYTES), true},
    {"case_sensitive", K(VALUE_BOOL), false},
};

typedef enum where {
    ANYWHERE,
    AT_START,
    AT_END,
} where;

static bool found_at(const char *s, size_t n, const char *sub, size_t sn, where w)
{
    if (sn > n)
        return false;
    switch (w) {
    case AT_START: return memcmp(s, sub, sn) == 0;
    case AT_END: return memcmp(s + n - sn, sub, sn) == 0;
    default: return sn == 0 || memmem(s, n, sub, sn) != NULL;
    }
}

static int find_substring(const vrl_call *c, const vrl_arg *args, where w, value *out,
                          sl_error *err)
{
    const char *s, *sub;
    size_t n, sn;
    bool sensitive;
    if (vrl_arg_bytes(&args[0], &s, &n, err) < 0 || vrl_arg_bytes(&args[1], &sub, &sn, err) < 0 ||
        vrl_arg_opt_bool(&args[2], true, &sensitive, err) < 0)
        return -1;
    /* Lowercasing reads invalid bytes as U+FFFD; when case matters, contains
     * reads its arguments lossily too, while starts_with and ends_with
     * compare bytes. */
    if (!sensitive) {
        if (change_case(c->a, s, n, false, &s, &n) < 0 ||
            change_case(c->a, sub, sn, false, &sub, &sn) < 0)
            return OOM(err, "a string comparison");
    } else if (w == ANYWHERE) {
        if (vrl_arg_lossy(c, &args[0], &s, &n, err) < 0 || vrl_arg_lossy(c, &args[1], &sub, &sn, err) < 0)
            return -1;
    }
    *out = value_bool(found_at(s, n, sub, sn, w));
    return 0;
}

static int contains_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    return find_substring(c, args, ANYWHERE, out, err);
}

static int starts_with_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    return find_substring(c, args, AT_START, out, err);
}

static int ends_with_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    return find_substring(c, args, AT_END, out, err);
}

static const vrl_function fn_contains = {
    .name = "contains",
    .params = substring_params,
    .nparams = SL_ARRAY_LEN(substring_params),
    .returns = K(VALUE_BOOL),
    .call = contains_call,
};

static const vrl_function fn_starts_with = {
    .name = "starts_with",
    .params = substring_params,
    .nparams = SL_ARRAY_LEN(substring_params),
    .returns = K(VALUE_BOOL),
    .call = starts_with_call,
};

static const vrl_function fn_ends_with = {
    .name = "ends_with",
    .params = substring_params,
    .nparams = SL_ARRAY_LEN(substring_params),
    .returns = K(VALUE_BOOL),
    .call = ends_with_call,
};

/* ---- downcase, upcase, strip_whitespace -------------------------------- */

static const vrl_param value_param[] = {
    {"value", K(VALUE_BYTES), true},
};

static int case_call(const vrl_call *c, const vrl_arg *args, bool upper, value *out, sl_error *err)
{
    const char *s;
    size_t n;
    if (vrl_arg_bytes(&args[0], &s, &n, err) < 0)
        return -1;
    if (change_case(c->a, s, n, upper, &s, &n) < 0)
        return OOM(err, "downcase/upcase");
    *out = value_bytes(s, n);
    return 0;
}

static int downcase_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    return case_call(c, args, false, out, err);
}

static int upcase_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    return case_call(c, args, true, out, err);
}

static const vrl_function fn_downcase = {
    .name = "downcase",
    .params = value_param,
    .nparams = SL_ARRAY_LEN(value_param),
    .returns = K(VALUE_BYTES),
    .call = downcase_call,
};

static const vrl_function fn_upcase = {
    .name = "upcase",
    .params = value_param,
    .nparams = SL_ARRAY_LEN(value_param),
    .returns = K(VALUE_BYTES),
    .call = upcase_call,
};

static int strip_whitespace_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *s;
    size_t n;
    if (vrl_arg_lossy(c, &args[0], &s, &n, err) < 0)
        return -1;
    vrl_trim(&s, &n);
    *out = value_bytes(s, n);
    return 0;
}

static const vrl_function fn_strip_whitespace = {
    .name = "strip_whitespace",
    .params = value_param,
    .nparams = SL_ARRAY_LEN(value_param),
    .returns = K(VALUE_BYTES),
    .call = strip_whitespace_call,
};

/* ---- matches of a string or regex pattern ------------------------------ */

/* Where the next match of a pattern starts and ends. A string pattern
 * matches its occurrences, left to right; the empty string matches at
 * every character boundary, as in Rust. */
typedef struct matcher {
    const vrl_regex_code *regex;
    const char *pat;
    size_t plen;
    const char *s;         /* the subject (a lossy copy when it had to be) */
    size_t n, pos;
    uint32_t opts;
    bool done;
    pcre2_match_data *md;  /* after a regex match: its groups */
    size_t start, end;
} matcher;

static int matcher_init(const vrl_call *c, const vrl_arg *subject, const vrl_arg *pattern,
                        matcher *m, sl_error *err)
{
    memset(m, 0, sizeof(*m));
    if (vrl_arg_lossy(c, subject, &m->s, &m->n, err) < 0)
        return -1;
    if (pattern->regex) {
        m->regex = pattern->regex;
        return 0;
    }
    if (pattern->val.kind != VALUE_BYTES)
        return vrl_expected(err, K(VALUE_BYTES), &pattern->val);
    return vrl_arg_lossy(c, pattern, &m->pat, &m->plen, err);
}

/* 1 with start/end set, 0 when there are no more matches. */
static int matcher_next(arena *a, matcher *m, sl_error *err)
{
    if (m->done || m->pos > m->n)
        return 0;
    if (m->regex) {
        int rc = vrl_regex_exec(a, m->regex, &m->s, &m->n, m->pos, m->opts, &m->md, err);
        if (rc <= 0)
            return rc;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
        m->start = ov[0];
        m->end = ov[1];
        m->opts = PCRE2_NO_UTF_CHECK;
        m->pos = m->end > m->start ? m->end : m->end + vrl_regex_step(m->regex, m->s, m->n, m->end);
        return 1;
    }
    if (m->plen == 0) {
        m->start = m->end = m->pos;
        if (m->pos >= m->n) {
            m->done = true;
        } else {
            uint32_t cp;
            m->pos += utf8_next(m->s + m->pos, m->n - m->pos, &cp);
        }
        return 1;
    }
    const char *hit = memmem(m->s + m->pos, m->n - m->pos, m->pat, m->plen);
    if (!hit) {
        m->done = true;
        return 0;
    }
    m->start = (size_t)(hit - m->s);
    m->end = m->start + m->plen;
    m->pos = m->end;
    return 1;
}

/* ---- replace ----------------------------------------------------------- */

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The text of a capture group named or numbered by ref, empty when there is
 * no such group or it did not take part. */
static void group_text(const matcher *m, const char *ref, size_t len, const char **t, size_t *tn)
{
    *t = "";
    *tn = 0;
    char name[256];
    if (len == 0 || len >= sizeof(name))
        return;
    memcpy(name, ref, len);
    name[len] = '\0';
    int group = -1;
    if (strspn(name, "0123456789") == len) {
        group = len > 9 ? -1 : atoi(name);
    } else {
        group = pcre2_substring_number_from_name(m->regex, (PCRE2_SPTR)name);
    }
    /* Pairs past the pattern's own groups hold whatever an earlier match
     * left there. */
    uint32_t ngroups = 0;
    pcre2_pattern_info(m->regex, PCRE2_INFO_CAPTURECOUNT, &ngroups);
    if (group < 0 || (uint32_t)group > ngroups || (uint32_t)group >= pcre2_get_ovector_count(m->md))
        return;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
    if (ov[2 * group] == PCRE2_UNSET)
        return;
    *t = m->s + ov[2 * group];
    *tn = ov[2 * group + 1] - ov[2 * group];
}

/* Appends `with` to b, expanding $name, ${name}, $1 and $$ as Rust's regex
 * crate does when the pattern is a regex. */
static int append_replacement(buf *b, const matcher *m, const char *with, size_t wn)
{
    if (!m->regex)
        return buf_append(b, with, wn);
    size_t i = 0;
    while (i < wn) {
        const char *dollar = memchr(with + i, '$', wn - i);
        size_t run = dollar ? (size_t)(dollar - (with + i)) : wn - i;
        if (buf_append(b, with + i, run) < 0)
            return -1;
        i += run;
        if (i >= wn)
            break;
        const char *ref = NULL, *t;
        size_t len = 0, skip = 1, tn;
        if (i + 1 < wn && with[i + 1] == '$') {
            if (buf_append_char(b, '$') < 0)
                return -1;
            i += 2;
            continue;
        }
        if (i + 1 < wn && with[i + 1] == '{') {
            const char *close = memchr(with + i + 2, '}', wn - i - 2);
            if (close) {
                ref = with + i + 2;
                len = (size_t)(close - ref);
                skip = len + 3;
            }
        } else {
            ref = with + i + 1;
            while (i + 1 + len < wn && is_name_char(ref[len]))
                len++;
            skip = len + 1;
        }
        if (!ref || len == 0) {
            if (buf_append_char(b, '$') < 0)
                return -1;
            i++;
            continue;
        }
        group_text(m, ref, len, &t, &tn);
        if (buf_append(b, t, tn) < 0)
            return -1;
        i += skip;
    }
    return 0;
}

static int replace_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    matcher m;
    const char *with;
    size_t wn;
    int64_t count;
    if (matcher_init(c, &args[0], &args[1], &m, err) < 0 ||
        vrl_arg_lossy(c, &args[2], &with, &wn, err) < 0 ||
        vrl_arg_opt_int(&args[3], -1, &count, err) < 0)
        return -1;
    if (count == 0) {
        *out = value_bytes(m.s, m.n);
        return 0;
    }
    buf b = BUF_INIT;
    size_t copied = 0;
    int64_t done = 0;
    int rc = 0;
    while ((count < 0 || done < count) && (rc = matcher_next(c->a, &m, err)) == 1) {
        if (buf_append(&b, m.s + copied, m.start - copied) < 0 ||
            append_replacement(&b, &m, with, wn) < 0) {
            rc = -2;
            break;
        }
        copied = m.end;
        done++;
    }
    if (rc >= 0 && buf_append(&b, m.s + copied, m.n - copied) < 0)
        rc = -2;
    if (rc >= 0) {
        *out = vrl_bytes_copy(c->a, b.data, b.len);
        if (out->kind != VALUE_BYTES)
            rc = -2;
    }
    buf_free(&b);
    if (rc == -2)
        return OOM(err, "replace");
    return rc < 0 ? -1 : 0;
}

static const vrl_param replace_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"pattern", K(VALUE_BYTES) | VRL_ARG_REGEX, true},
    {"with", K(VALUE_BYTES), true},
    {"count", K(VALUE_INT), false},
};

static const vrl_function fn_replace = {
    .name = "replace",
    .params = replace_params,
    .nparams = SL_ARRAY_LEN(replace_params),
    .returns = K(VALUE_BYTES),
    .call = replace_call,
};

/* ---- split ------------------------------------------------------------- */

#define SPLIT_DEFAULT_LIMIT 999999999

static int split_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    matcher m;
    int64_t limit;
    if (matcher_init(c, &args[0], &args[1], &m, err) < 0 ||
        vrl_arg_opt_int(&args[2], SPLIT_DEFAULT_LIMIT, &limit, err) < 0)
        return -1;
    value result = value_new_array(c->a, 0);
    if (result.kind != VALUE_ARRAY)
        return OOM(err, "split");
    if (limit <= 0) {
        *out = result;
        return 0;
    }
    size_t last = 0;
    int64_t pieces = 0;
    while (pieces < limit - 1) {
        int rc = matcher_next(c->a, &m, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        value *slot = value_array_push(c->a, result.u.arr);
        if (!slot)
            return OOM(err, "split");
        *slot = value_bytes(m.s + last, m.start - last);
        last = m.end;
        pieces++;
    }
    value *slot = value_array_push(c->a, result.u.arr);
    if (!slot)
        return OOM(err, "split");
    *slot = value_bytes(m.s + last, m.n - last);
    *out = result;
    return 0;
}

static const vrl_param split_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"pattern", K(VALUE_BYTES) | VRL_ARG_REGEX, true},
    {"limit", K(VALUE_INT), false},
};

static const vrl_function fn_split = {
    .name = "split",
    .params = split_params,
    .nparams = SL_ARRAY_LEN(split_params),
    .returns = K(VALUE_ARRAY),
    .call = split_call,
};

/* ---- join -------------------------------------------------------------- */

static int join_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *sep;
    size_t sepn;
    if (args[0].val.kind != VALUE_ARRAY)
        return vrl_expected(err, K(VALUE_ARRAY), &args[0].val);
    if (vrl_arg_opt_bytes(&args[1], "", &sep, &sepn, err) < 0)
        return -1;
    if (vrl_utf8_lossy(c->a, &sep, &sepn) < 0)
        return OOM(err, "join");
    const value_array *arr = args[0].val.u.arr;
    buf b = BUF_INIT;
    int rc = 0;
    for (uint32_t i = 0; i < arr->len && rc == 0; i++) {
        const value *item = &arr->items[i];
        if (item->kind != VALUE_BYTES) {
            rc = -1;
            break;
        }
        if ((i > 0 && buf_append(&b, sep, sepn) < 0) ||
            json_append_utf8_lossy(&b, item->u.s, item->len) < 0)
            rc = -2;
    }
    if (rc == 0) {
        *out = vrl_bytes_copy(c->a, b.data, b.len);
        if (out->kind != VALUE_BYTES)
            rc = -2;
    }
    buf_free(&b);
    if (rc == -1)
        return sl_fail(err, "all array items must be strings");
    return rc < 0 ? OOM(err, "join") : 0;
}

static const vrl_param join_params[] = {
    {"value", K(VALUE_ARRAY), true},
    {"separator", K(VALUE_BYTES), false},
};

static const vrl_function fn_join = {
    .name = "join",
    .params = join_params,
    .nparams = SL_ARRAY_LEN(join_params),
    .returns = K(VALUE_BYTES),
    .fallible = true,
    .call = join_call,
};

/* ---- slice ------------------------------------------------------------- */

static int slice_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    int64_t start, end;
    if (v->kind != VALUE_BYTES && v->kind != VALUE_ARRAY)
        return vrl_expected(err, K(VALUE_BYTES) | K(VALUE_ARRAY), v);
    if (args[1].val.kind != VALUE_INT)
        return vrl_expected(err, K(VALUE_INT), &args[1].val);
    int64_t len = v->kind == VALUE_BYTES ? (int64_t)v->len : (int64_t)v->u.arr->len;
    start = args[1].val.u.i;
    if (vrl_arg_opt_int(&args[2], len, &end, err) < 0)
        return -1;
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0 || start > len)
        return sl_fail(err, "\"start\" must be between \"%lld\" and \"%lld\"", (long long)-len,
                       (long long)len);
    if (end < start)
        return sl_fail(err, "\"end\" must be greater or equal to \"start\"");
    if (end > len)
        end = len;
    if (v->kind == VALUE_BYTES) {
        *out = value_bytes(v->u.s + start, (size_t)(end - start));
        return 0;
    }
    value result = value_new_array(c->a, (uint32_t)(end - start));
    if (result.kind != VALUE_ARRAY)
        return OOM(err, "slice");
    for (int64_t i = start; i < end; i++)
        result.u.arr->items[result.u.arr->len++] = v->u.arr->items[i];
    *out = result;
    return 0;
}

static const vrl_param slice_params[] = {
    {"value", K(VALUE_BYTES) | K(VALUE_ARRAY), true},
    {"start", K(VALUE_INT), true},
    {"end", K(VALUE_INT), false},
};

static const vrl_function fn_slice = {
    .name = "slice",
    .params = slice_params,
    .nparams = SL_ARRAY_LEN(slice_params),
    .returns = K(VALUE_BYTES) | K(VALUE_ARRAY),
    .fallible = true,
    .call = slice_call,
};

/* ---- truncate ---------------------------------------------------------- */

static int truncate_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *s, *suffix;
    size_t n, sn;
    int64_t limit;
    bool ellipsis;
    if (vrl_arg_lossy(c, &args[0], &s, &n, err) < 0)
        return -1;
    if (args[1].val.kind != VALUE_INT)
        return vrl_expected(err, K(VALUE_INT), &args[1].val);
    limit = args[1].val.u.i;
    if (vrl_arg_opt_bool(&args[3], false, &ellipsis, err) < 0 ||
        vrl_arg_opt_bytes(&args[2], ellipsis ? "..." : "", &suffix, &sn, err) < 0)
        return -1;
    if (vrl_utf8_lossy(c->a, &suffix, &sn) < 0)
        return OOM(err, "truncate");
    size_t pos = 0;
    for (int64_t k = 0; k < limit && pos < n; k++) {
        uint32_t cp;
        pos += utf8_next(s + pos, n - pos, &cp);
    }
    if (pos >= n || sn == 0) {
        *out = value_bytes(s, pos);
        return 0;
    }
    char *o = arena_alloc(c->a, pos + sn);
    if (!o)
        return OOM(err, "truncate");
    memcpy(o, s, pos);
    memcpy(o + pos, suffix, sn);
    *out = value_bytes(o, pos + sn);
    return 0;
}

/* `ellipsis` is the older spelling of suffix: "...". */
static const vrl_param truncate_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"limit", K(VALUE_INT), true},
    {"suffix", K(VALUE_BYTES), false},
    {"ellipsis", K(VALUE_BOOL), false},
};

static const vrl_function fn_truncate = {
    .name = "truncate",
    .params = truncate_params,
    .nparams = SL_ARRAY_LEN(truncate_params),
    .returns = K(VALUE_BYTES),
    .call = truncate_call,
};

const vrl_function *const vrl_string_functions[] = {
    &fn_contains,
    &fn_starts_with,
    &fn_ends_with,
    &fn_downcase,
    &fn_upcase,
    &fn_replace,
    &fn_split,
    &fn_join,
    &fn_slice,
    &fn_strip_whitespace,
    &fn_truncate,
    NULL,
};
