/* fn_parse.c - the remap language's parsing and timestamp functions:
 * parse_json, encode_json, parse_key_value, parse_logfmt, parse_syslog,
 * parse_common_log, parse_apache_log, parse_timestamp, format_timestamp
 * and now.
 *
 * Each parser reproduces what VRL's returns, including its corner cases:
 * parse_key_value follows the grammar of VRL's nom parser (quoted keys and
 * values, standalone keys, the lenient whitespace rule, duplicate keys
 * gathered into arrays); parse_syslog follows syslog_loose (RFC 5424 first,
 * then RFC 3164 and its common variations); the Apache formats use VRL's
 * regexes, translated to PCRE2 and compiled once per call site. Parsed
 * strings point into the input unless an escape had to be undone. Inputs
 * are read as from_utf8_lossy reads them, and every loop is bounded by the
 * input's length, so hostile input costs time in proportion to its size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/sltime.h"
#include "transforms/vrl/fn_util.h"
#include "pipeline/json.h"

#define K(kind) VRL_KIND(kind)
#define JSON_KINDS (K(VALUE_NULL) | K(VALUE_BOOL) | K(VALUE_INT) | K(VALUE_FLOAT) | \
                    K(VALUE_BYTES) | K(VALUE_ARRAY) | K(VALUE_MAP))

#define OOM(err, fn) sl_fail((err), "out of memory in " fn)

/* The lossy text of a string argument. */
static int lossy_arg(const vrl_call *c, const vrl_arg *a, const char **s, size_t *n, sl_error *err)
{
    if (vrl_arg_bytes(a, s, n, err) < 0)
        return -1;
    if (vrl_utf8_lossy(c->a, s, n) < 0)
        return sl_fail(err, "out of memory reading a string");
    return 0;
}

/* A buf's contents as a string value in the arena (and the buf freed). */
static int buf_to_value(arena *a, buf *b, value *out)
{
    *out = vrl_bytes_copy(a, b->data, b->len);
    buf_free(b);
    return out->kind == VALUE_BYTES ? 0 : -1;
}

/* ---- parse_json -------------------------------------------------------- */

/* The end of the JSON value starting at s[i], in text that json_decode
 * has already accepted. */
static size_t skip_json_value(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '"') {
        for (i++; i < n; i++) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                return i + 1;
        }
        return n;
    }
    if (i < n && (s[i] == '{' || s[i] == '[')) {
        int depth = 0;
        bool in_string = false;
        for (; i < n; i++) {
            char ch = s[i];
            if (in_string) {
                if (ch == '\\')
                    i++;
                else if (ch == '"')
                    in_string = false;
            } else if (ch == '"') {
                in_string = true;
            } else if (ch == '{' || ch == '[') {
                depth++;
            } else if ((ch == '}' || ch == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i;
}

static size_t skip_json_space(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Decodes valid JSON text to `depth` levels of objects and arrays; deeper
 * ones stay as their JSON text, as VRL's max_depth does. */
static int json_layer(arena *a, const char *s, size_t n, size_t *pos, int depth, value *out)
{
    sl_error err;
    size_t i = skip_json_space(s, n, *pos);
    size_t end = skip_json_value(s, n, i);
    *pos = end;
    bool container = i < n && (s[i] == '{' || s[i] == '[');
    if (!container)
        return json_decode(a, s + i, end - i, out, &err);
    if (depth == 0) {
        *out = value_bytes(s + i, end - i);
        return 0;
    }
    bool object = s[i] == '{';
    *out = object ? value_new_map(a, 0) : value_new_array(a, 0);
    if (out->kind == VALUE_NULL)
        return -1;
    i = skip_json_space(s, n, i + 1);
    while (i < n && s[i] != '}' && s[i] != ']') {
        value *slot;
        if (object) {
            size_t kend = skip_json_value(s, n, i);
            value key;
            if (json_decode(a, s + i, kend - i, &key, &err) < 0)
                return -1;
            i = skip_json_space(s, n, kend) + 1;
            slot = value_map_put(a, out->u.map, key.u.s, key.len);
        } else {
            slot = value_array_push(a, out->u.arr);
        }
        if (!slot || json_layer(a, s, n, &i, depth - 1, slot) < 0)
            return -1;
        i = skip_json_space(s, n, i);
        if (i < n && s[i] == ',')
            i = skip_json_space(s, n, i + 1);
    }
    return 0;
}

static int parse_json_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *s;
    size_t n;
    bool lossy;
    int64_t depth = 0;
    if (vrl_arg_bytes(&args[0], &s, &n, err) < 0 ||
        vrl_arg_opt_bool(&args[2], true, &lossy, err) < 0)
        return -1;
    if (args[1].present) {
        if (vrl_arg_opt_int(&args[1], 0, &depth, err) < 0)
            return -1;
        if (depth < 0 || depth > 255)
            return sl_fail(err, "out of range integral type conversion attempted");
        if (depth < 1 || depth > 128)
            return sl_fail(err, "max_depth value should be greater than 0 and less than 128, "
                                "got %lld", (long long)depth);
    }
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        n -= 3;
    }
    if (lossy && vrl_utf8_lossy(c->a, &s, &n) < 0)
        return OOM(err, "parse_json");
    sl_error jerr;
    if (json_decode(c->a, s, n, out, &jerr) < 0)
        return sl_fail(err, "unable to %s json: %s", depth ? "read" : "parse", jerr.msg);
    if (depth) {
        size_t pos = 0;
        if (json_layer(c->a, s, n, &pos, (int)depth, out) < 0)
            return OOM(err, "parse_json");
    }
    return 0;
}

static const vrl_param parse_json_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"max_depth", K(VALUE_INT), false},
    {"lossy", K(VALUE_BOOL), false},
};

static const vrl_function fn_parse_json = {
    .name = "parse_json",
    .params = parse_json_params,
    .nparams = SL_ARRAY_LEN(parse_json_params),
    .returns = JSON_KINDS,
    .fallible = true,
    .call = parse_json_call,
};

/* ---- encode_json ------------------------------------------------------- */

static int put_indent(buf *b, int level)
{
    if (buf_append_char(b, '\n') < 0)
        return -1;
    for (int i = 0; i < level; i++)
        if (buf_append(b, "  ", 2) < 0)
            return -1;
    return 0;
}

/* Re-lays compact JSON out as serde_json's to_string_pretty does: two
 * spaces per level, "key": value, empty containers kept on one line. */
static int prettify(const char *s, size_t n, buf *out)
{
    int level = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int rc = 0;
        if (ch == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            rc = buf_append(out, s + i, j + 1 - i);
            i = j;
        } else if ((ch == '{' || ch == '[') && i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
            rc = buf_append(out, s + i, 2);
            i++;
        } else if (ch == '{' || ch == '[') {
            rc = buf_append_char(out, ch) < 0 ? -1 : put_indent(out, ++level);
        } else if (ch == '}' || ch == ']') {
            rc = put_indent(out, --level) < 0 ? -1 : buf_append_char(out, ch);
        } else if (ch == ',') {
            rc = buf_append_char(out, ',') < 0 ? -1 : put_indent(out, level);
        } else if (ch == ':') {
            rc = buf_append(out, ": ", 2);
        } else {
            rc = buf_append_char(out, ch);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int encode_json_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    bool pretty;
    if (vrl_arg_opt_bool(&args[1], false, &pretty, err) < 0)
        return -1;
    buf compact = BUF_INIT, laid = BUF_INIT;
    int rc = json_encode_value(&compact, &args[0].val);
    if (rc == 0 && pretty) {
        rc = prettify(compact.data, compact.len, &laid);
        buf_free(&compact);
        compact = laid;
    }
    if (rc < 0) {
        buf_free(&compact);
        return OOM(err, "encode_json");
    }
    return buf_to_value(c->a, &compact, out) < 0 ? OOM(err, "encode_json") : 0;
}

static const vrl_param encode_json_params[] = {
    {"value", VRL_KIND_ANY, true},
    {"pretty", K(VALUE_BOOL), false},
};

static const vrl_function fn_encode_json = {
    .name = "encode_json",
    .params = encode_json_params,
    .nparams = SL_ARRAY_LEN(encode_json_params),
    .returns = K(VALUE_BYTES),
    .call = encode_json_call,
};

/* ---- parse_key_value, parse_logfmt ------------------------------------- */

#define NOT_FOUND ((size_t)-1)

/* Where a delimiter next occurs, remembered so that scanning a line costs
 * time in proportion to its length however many pairs it holds. */
typedef struct finder {
    const char *d;
    size_t dn;
    size_t from, at;   /* first occurrence at or after `from` (NOT_FOUND if none) */
} finder;

typedef struct kv_parser {
    arena *a;
    const char *s;
    size_t n;
    finder kvd, fd;
    bool strict, standalone;
} kv_parser;

static size_t find(const kv_parser *p, finder *f, size_t pos)
{
    if (f->from != NOT_FOUND && pos >= f->from && (f->at == NOT_FOUND || f->at >= pos))
        return f->at;
    const char *hit = pos <= p->n ? memmem(p->s + pos, p->n - pos, f->d, f->dn) : NULL;
    f->from = pos;
    f->at = hit ? (size_t)(hit - p->s) : NOT_FOUND;
    return f->at;
}

static bool has_at(const kv_parser *p, size_t pos, const char *t, size_t tn)
{
    return pos <= p->n && p->n - pos >= tn && memcmp(p->s + pos, t, tn) == 0;
}

static size_t skip_blanks(const kv_parser *p, size_t pos)
{
    while (pos < p->n && (p->s[pos] == ' ' || p->s[pos] == '\t'))
        pos++;
    return pos;
}

/* A field delimiter at pos: one or more spaces when it is " ", else any
 * spaces and then the delimiter. NOT_FOUND when there is none. */
static size_t delimiter_end(const kv_parser *p, const finder *d, size_t pos)
{
    if (d->dn == 1 && d->d[0] == ' ') {
        size_t e = pos;
        while (e < p->n && p->s[e] == ' ')
            e++;
        return e > pos ? e : NOT_FOUND;
    }
    while (pos < p->n && p->s[pos] == ' ')
        pos++;
    return has_at(p, pos, d->d, d->dn) ? pos + d->dn : NOT_FOUND;
}

/* Undoes the escapes VRL's encode_key_value writes: \n, \\ and \"; any
 * other backslash stays. */
static int unescape_kv(arena *a, const char *s, size_t n, value *out)
{
    if (!memchr(s, '\\', n)) {
        *out = value_bytes(s, n);
        return 0;
    }
    char *o = arena_alloc(a, n);
    if (!o)
        return -1;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == 'n' || s[i + 1] == '\\' || s[i + 1] == '"')) {
            o[w++] = s[i + 1] == 'n' ? '\n' : s[i + 1];
            i++;
        } else {
            o[w++] = s[i];
        }
    }
    *out = value_bytes(o, w);
    return 0;
}

/* A field quoted with q, followed by `terminator` or the end of the line.
 * 1 and *end on success, 0 when it does not apply, -1 on allocation
 * failure. */
static int quoted_field(kv_parser *p, char q, const finder *terminator, size_t pos, size_t *end,
                        value *out)
{
    if (pos >= p->n || p->s[pos] != q)
        return 0;
    size_t i = pos + 1;
    for (;;) {
        if (i >= p->n)
            return 0;
        char ch = p->s[i];
        if (ch == q)
            break;
        uint32_t cp;
        if (ch == '\\') {
            if (i + 1 >= p->n)
                return 0;
            i += 1 + utf8_next(p->s + i + 1, p->n - i - 1, &cp);
        } else {
            i += utf8_next(p->s + i, p->n - i, &cp);
        }
    }
    size_t close = i + 1;
    if (delimiter_end(p, terminator, close) == NOT_FOUND && skip_blanks(p, close) != p->n)
        return 0;
    if (unescape_kv(p->a, p->s + pos + 1, i - pos - 1, out) < 0)
        return -1;
    *end = close;
    return 1;
}

/* Everything up to the next `d` (or the rest of the line), trimmed. */
static void unquoted_field(kv_parser *p, finder *d, size_t pos, size_t *end, const char **t,
                           size_t *tn)
{
    size_t at = find(p, d, pos);
    *end = at == NOT_FOUND ? p->n : at;
    *t = p->s + pos;
    *tn = *end - pos;
    vrl_trim(t, tn);
}

static int kv_value(kv_parser *p, size_t pos, size_t *end, value *out)
{
    int rc = quoted_field(p, '\'', &p->fd, pos, end, out);
    if (rc == 0)
        rc = quoted_field(p, '"', &p->fd, pos, end, out);
    if (rc != 0)
        return rc;
    const char *t;
    size_t tn;
    unquoted_field(p, &p->fd, pos, end, &t, &tn);
    *out = value_bytes(t, tn);
    return 0;
}

/* 1 with the key, 0 when there is no (non-empty) key at pos. */
static int kv_key(kv_parser *p, size_t pos, size_t *end, value *key)
{
    /* VRL's order of attempts: quoted keys first, single quotes before
     * double; a standalone key may also end at a field delimiter. The
     * first form that applies decides, even when its key is empty. */
    const struct {
        char quote;
        const finder *until;
        bool standalone_only;
    } quoted[] = {
        {'\'', &p->kvd, false},
        {'\'', &p->fd, true},
        {'"', &p->kvd, false},
        {'"', &p->fd, true},
    };
    for (size_t k = 0; k < SL_ARRAY_LEN(quoted); k++) {
        if (quoted[k].standalone_only && !p->standalone)
            continue;
        int rc = quoted_field(p, quoted[k].quote, quoted[k].until, pos, end, key);
        if (rc != 0)
            return rc < 0 ? -1 : key->len > 0;
    }
    const char *t;
    size_t tn;
    unquoted_field(p, &p->kvd, pos, end, &t, &tn);
    if (p->standalone) {
        size_t fd_at = tn ? find(p, &p->fd, (size_t)(t - p->s)) : NOT_FOUND;
        bool has_fd = fd_at != NOT_FOUND && fd_at + p->fd.dn <= (size_t)(t - p->s) + tn;
        if (tn == 0 || has_fd)
            unquoted_field(p, &p->fd, pos, end, &t, &tn);
    }
    *key = value_bytes(t, tn);
    return tn > 0;
}

/* One `key=value` (or standalone key) at pos. 1 with the pair, 0 when
 * none starts there. */
static int kv_pair(kv_parser *p, size_t pos, size_t *end, value_entry *pair)
{
    value key, val;
    int rc = kv_key(p, skip_blanks(p, pos), &pos, &key);
    if (rc <= 0)
        return rc;
    size_t after = p->strict ? pos : skip_blanks(p, pos);
    bool separated = has_at(p, after, p->kvd.d, p->kvd.dn);
    if (separated)
        pos = p->strict ? after + p->kvd.dn : skip_blanks(p, after + p->kvd.dn);
    else if (!p->standalone)
        return 0;
    if (kv_value(p, pos, end, &val) < 0)
        return -1;
    pair->key = key.u.s;
    pair->klen = key.len;
    pair->val = separated ? val : value_bool(true);
    return 1;
}

/* Repeated keys: a later standalone key adds nothing, a value replaces a
 * standalone `true`, and several values become an array. */
static int gather_values(arena *a, value *acc, const value *next)
{
    if (next->kind == VALUE_BOOL)
        return 0;
    if (acc->kind == VALUE_BOOL) {
        *acc = *next;
        return 0;
    }
    if (acc->kind != VALUE_ARRAY) {
        value arr = value_new_array(a, 2);
        if (arr.kind != VALUE_ARRAY)
            return -1;
        arr.u.arr->items[0] = *acc;
        arr.u.arr->len = 1;
        *acc = arr;
    }
    value *slot = value_array_push(a, acc->u.arr);
    if (!slot)
        return -1;
    *slot = *next;
    return 0;
}

static int pairs_to_map(arena *a, vrl_entry_list *pairs, value *out)
{
    if (vrl_sort_entries(a, pairs->items, pairs->len) < 0)
        return -1;
    uint32_t o = 0;
    for (uint32_t i = 0; i < pairs->len; i++) {
        if (o && vrl_same_key(&pairs->items[o - 1], &pairs->items[i])) {
            if (gather_values(a, &pairs->items[o - 1].val, &pairs->items[i].val) < 0)
                return -1;
        } else {
            pairs->items[o++] = pairs->items[i];
        }
    }
    return vrl_map_from_entries(a, pairs->items, o, out);
}

static int parse_kv_text(kv_parser *p, value *out, sl_error *err)
{
    vrl_entry_list pairs = {NULL, 0, 0};
    size_t pos = 0, end;
    value_entry *slot = vrl_entry_push(p->a, &pairs);
    if (!slot)
        return OOM(err, "parse_key_value");
    int rc = kv_pair(p, pos, &end, slot);
    if (rc < 0)
        return OOM(err, "parse_key_value");
    if (rc == 0)
        return sl_fail(err, "unable to parse key-value pairs: "
                            "no key-value pair at the start of the value");
    pos = end;
    for (;;) {
        size_t next = delimiter_end(p, &p->fd, pos);
        value_entry pair;
        if (next == NOT_FOUND || (rc = kv_pair(p, next, &end, &pair)) == 0)
            break;
        if (rc < 0 || !(slot = vrl_entry_push(p->a, &pairs)))
            return OOM(err, "parse_key_value");
        *slot = pair;
        pos = end;
    }
    const char *rest = p->s + pos;
    size_t rn = p->n - pos;
    vrl_trim(&rest, &rn);
    if (rn)
        return sl_fail(err, "could not parse whole line successfully");
    return pairs_to_map(p->a, &pairs, out) < 0 ? OOM(err, "parse_key_value") : 0;
}

static int run_kv(const vrl_call *c, const char *s, size_t n, const char *kvd, size_t kvdn,
                  const char *fd, size_t fdn, bool strict, bool standalone, value *out,
                  sl_error *err)
{
    if (kvdn == 0)
        return sl_fail(err, "key_value_delimiter must not be empty");
    if (fdn == 0)
        return sl_fail(err, "field_delimiter must not be empty");
    kv_parser p = {c->a, s, n, {kvd, kvdn, NOT_FOUND, NOT_FOUND}, {fd, fdn, NOT_FOUND, NOT_FOUND},
                   strict, standalone};
    return parse_kv_text(&p, out, err);
}

/* The whitespace mode, known at compile time (VRL requires a literal). */
static const bool strict_mode = true, lenient_mode = false;

static int parse_key_value_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    const char *w = "lenient";
    size_t n = strlen(w);
    if (args[3].present && !vrl_const_bytes(&args[3], &w, &n))
        return sl_fail(err, "`whitespace` must be a literal string");
    if (n == 6 && memcmp(w, "strict", 6) == 0)
        *state = (void *)&strict_mode;
    else if (n == 7 && memcmp(w, "lenient", 7) == 0)
        *state = (void *)&lenient_mode;
    else
        return sl_fail(err, "`whitespace` must be \"lenient\" or \"strict\"");
    return 0;
}

static int parse_key_value_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *s, *kvd, *fd;
    size_t n, kvdn, fdn;
    bool standalone;
    if (lossy_arg(c, &args[0], &s, &n, err) < 0 ||
        vrl_arg_opt_bytes(&args[1], "=", &kvd, &kvdn, err) < 0 ||
        vrl_arg_opt_bytes(&args[2], " ", &fd, &fdn, err) < 0 ||
        vrl_arg_opt_bool(&args[4], true, &standalone, err) < 0)
        return -1;
    if (vrl_utf8_lossy(c->a, &kvd, &kvdn) < 0 || vrl_utf8_lossy(c->a, &fd, &fdn) < 0)
        return OOM(err, "parse_key_value");
    bool strict = c->state && *(const bool *)c->state;
    return run_kv(c, s, n, kvd, kvdn, fd, fdn, strict, standalone, out, err);
}

static const vrl_param parse_key_value_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"key_value_delimiter", K(VALUE_BYTES), false},
    {"field_delimiter", K(VALUE_BYTES), false},
    {"whitespace", K(VALUE_BYTES), false},
    {"accept_standalone_key", K(VALUE_BOOL), false},
};

static const vrl_function fn_parse_key_value = {
    .name = "parse_key_value",
    .params = parse_key_value_params,
    .nparams = SL_ARRAY_LEN(parse_key_value_params),
    .returns = K(VALUE_MAP),
    .fallible = true,
    .compile = parse_key_value_compile,
    .call = parse_key_value_call,
};

static int parse_logfmt_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *s;
    size_t n;
    if (lossy_arg(c, &args[0], &s, &n, err) < 0)
        return -1;
    return run_kv(c, s, n, "=", 1, " ", 1, false, true, out, err);
}

static const vrl_param value_param[] = {
    {"value", K(VALUE_BYTES), true},
};

static const vrl_function fn_parse_logfmt = {
    .name = "parse_logfmt",
    .params = value_param,
    .nparams = SL_ARRAY_LEN(value_param),
    .returns = K(VALUE_MAP),
    .fallible = true,
    .call = parse_logfmt_call,
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

static int put_entry(arena *a, vrl_entry_list *l, const char *key, value v)
{
    value_entry *e = vrl_entry_push(a, l);
    if (!e)
        return -1;
    e->key = key;
    e->klen = (uint32_t)strlen(key);
    e->val = v;
    return 0;
}

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
    if (put_entry(a, &f, "message", value_bytes(m->msg, m->msgn)) < 0 ||
        (m->host && put_entry(a, &f, "hostname", value_bytes(m->host, m->hostn)) < 0) ||
        (m->severity >= 0 && put_entry(a, &f, "severity", value_bytes(severity_names[m->severity],
                                       strlen(severity_names[m->severity]))) < 0) ||
        (m->facility >= 0 && put_entry(a, &f, "facility", value_bytes(facility_names[m->facility],
                                       strlen(facility_names[m->facility]))) < 0) ||
        (m->version >= 0 && put_entry(a, &f, "version", value_int(m->version)) < 0) ||
        (m->app && put_entry(a, &f, "appname", value_bytes(m->app, m->appn)) < 0) ||
        (m->msgid && put_entry(a, &f, "msgid", value_bytes(m->msgid, m->msgidn)) < 0) ||
        (m->has_time && put_entry(a, &f, "timestamp", value_timestamp(m->time)) < 0) ||
        (m->procid && put_entry(a, &f, "procid", syslog_procid(m->procid, m->procidn)) < 0))
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
    if (lossy_arg(c, &args[0], &s, &n, err) < 0)
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
        if (put_entry(a, &f, name, v) < 0)
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
    if (lossy_arg(c, value_arg, &s, &n, err) < 0 ||
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

/* ---- parse_timestamp, format_timestamp, now ---------------------------- */

/* A `timezone` argument: resolved at compile time when it is a literal. */
typedef struct zone_arg {
    const sltime_zone *tz;
} zone_arg;

static int compile_zone(const vrl_const_arg *a, void **state, sl_error *err)
{
    const char *name;
    size_t n;
    *state = NULL;
    if (!vrl_const_bytes(a, &name, &n))
        return 0;
    zone_arg *z = malloc(sizeof(*z));
    if (!z)
        return sl_fail(err, "out of memory compiling a time zone");
    z->tz = sltime_zone_find(name, n);
    if (!z->tz) {
        free(z);
        return sl_fail(err, "unable to parse timezone: %.*s", (int)n, name);
    }
    *state = z;
    return 0;
}

static void free_zone(void *state)
{
    free(state);
}

/* The zone to use: the literal's, the run-time argument's, or dflt. */
static int zone_of(const vrl_call *c, const vrl_arg *a, const sltime_zone *dflt,
                   const sltime_zone **tz, sl_error *err)
{
    const zone_arg *z = c->state;
    if (z) {
        *tz = z->tz;
        return 0;
    }
    if (!a->present) {
        *tz = dflt;
        return 0;
    }
    const char *name;
    size_t n;
    if (vrl_arg_bytes(a, &name, &n, err) < 0)
        return -1;
    *tz = sltime_zone_find(name, n);
    if (!*tz)
        return sl_fail(err, "unable to parse timezone: %.*s", (int)n, name);
    return 0;
}

static int parse_timestamp_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    const char *f;
    size_t n;
    if (vrl_const_bytes(&args[1], &f, &n) && !sltime_strptime_format_ok(f, n))
        return sl_fail(err, "`format` is not a valid format string");
    return compile_zone(&args[2], state, err);
}

static int parse_timestamp_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    if (v->kind == VALUE_TIMESTAMP) {
        *out = *v;
        return 0;
    }
    if (v->kind != VALUE_BYTES)
        return sl_fail(err, "unable to convert %s value to timestamp", vrl_kind_name(v->kind));
    const char *s, *fmt;
    size_t n, fmtn;
    const sltime_zone *tz;
    if (lossy_arg(c, &args[0], &s, &n, err) < 0 || lossy_arg(c, &args[1], &fmt, &fmtn, err) < 0 ||
        zone_of(c, &args[2], sltime_zone_local(), &tz, err) < 0)
        return -1;
    int64_t ns;
    sltime_error e = sltime_strptime(s, n, fmt, fmtn, tz, &ns);
    if (e != SLTIME_OK) {
        buf quoted = BUF_INIT;
        int rc = json_encode_string(&quoted, s, n);
        sl_fail(err, "Invalid timestamp %s: %s", rc == 0 && quoted.data ? quoted.data : "",
                sltime_error_text(e));
        buf_free(&quoted);
        return -1;
    }
    *out = value_timestamp(ns);
    return 0;
}

static const vrl_param parse_timestamp_params[] = {
    {"value", K(VALUE_BYTES) | K(VALUE_TIMESTAMP), true},
    {"format", K(VALUE_BYTES), true},
    {"timezone", K(VALUE_BYTES), false},
};

static const vrl_function fn_parse_timestamp = {
    .name = "parse_timestamp",
    .params = parse_timestamp_params,
    .nparams = SL_ARRAY_LEN(parse_timestamp_params),
    .returns = K(VALUE_TIMESTAMP),
    .fallible = true,
    .compile = parse_timestamp_compile,
    .free_state = free_zone,
    .call = parse_timestamp_call,
};

/* The format as the NUL-terminated text the renderer reads; NULL (and
 * "invalid format") when chrono would refuse it. */
static const char *strftime_format(arena *a, const char *f, size_t n, sl_error *err)
{
    const char *text = arena_strndup(a, f, n);
    if (!text) {
        sl_fail(err, "out of memory in format_timestamp");
        return NULL;
    }
    if (strlen(text) != n || !sltime_strftime_valid(text)) {
        sl_fail(err, "invalid format");
        return NULL;
    }
    return text;
}

static int format_timestamp_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    const char *f;
    size_t n;
    if (vrl_const_bytes(&args[1], &f, &n)) {
        arena *scratch = arena_new();
        if (!scratch)
            return sl_fail(err, "out of memory compiling format_timestamp");
        bool ok = strftime_format(scratch, f, n, err) != NULL;
        arena_free(scratch);
        if (!ok)
            return -1;
    }
    return compile_zone(&args[2], state, err);
}

static int format_timestamp_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    const char *fmt;
    size_t fmtn;
    const sltime_zone *tz;
    if (v->kind != VALUE_TIMESTAMP)
        return vrl_expected(err, K(VALUE_TIMESTAMP), v);
    if (lossy_arg(c, &args[1], &fmt, &fmtn, err) < 0 || zone_of(c, &args[2], NULL, &tz, err) < 0 ||
        !(fmt = strftime_format(c->a, fmt, fmtn, err)))
        return -1;
    int32_t offset = 0;
    const char *zone = "UTC";
    if (tz) {
        int64_t secs = v->u.ts / 1000000000 - (v->u.ts % 1000000000 < 0);
        offset = sltime_zone_offset(tz, secs, &zone);
    }
    buf b = BUF_INIT;
    if (sltime_strftime(&b, fmt, v->u.ts, offset, zone) < 0) {
        buf_free(&b);
        return OOM(err, "format_timestamp");
    }
    return buf_to_value(c->a, &b, out) < 0 ? OOM(err, "format_timestamp") : 0;
}

static const vrl_param format_timestamp_params[] = {
    {"value", K(VALUE_TIMESTAMP), true},
    {"format", K(VALUE_BYTES), true},
    {"timezone", K(VALUE_BYTES), false},
};

static const vrl_function fn_format_timestamp = {
    .name = "format_timestamp",
    .params = format_timestamp_params,
    .nparams = SL_ARRAY_LEN(format_timestamp_params),
    .returns = K(VALUE_BYTES),
    .fallible = true,
    .compile = format_timestamp_compile,
    .free_state = free_zone,
    .call = format_timestamp_call,
};

static int now_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    SL_UNUSED(args);
    SL_UNUSED(err);
    *out = value_timestamp(sl_now_wall_ns());
    return 0;
}

static const vrl_function fn_now = {
    .name = "now",
    .params = NULL,
    .nparams = 0,
    .returns = K(VALUE_TIMESTAMP),
    .call = now_call,
};

const vrl_function *const vrl_parse_functions[] = {
    &fn_parse_json,
    &fn_encode_json,
    &fn_parse_key_value,
    &fn_parse_logfmt,
    &fn_parse_syslog,
    &fn_parse_common_log,
    &fn_parse_apache_log,
    &fn_parse_timestamp,
    &fn_format_timestamp,
    &fn_now,
    NULL,
};
