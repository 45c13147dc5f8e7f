/* fn_key_value.c - the remap language's parse_key_value and parse_logfmt.
 *
 * parse_key_value follows the grammar of VRL's nom parser (quoted keys and
 * values, standalone keys, the lenient whitespace rule, duplicate keys
 * gathered into arrays); parse_logfmt is parse_key_value with logfmt's
 * delimiters. Parsed strings point into the input unless an escape had to
 * be undone. Inputs are read as from_utf8_lossy reads them, and every loop
 * is bounded by the input's length, so hostile input costs time in
 * proportion to its size. */
#include <string.h>

#include "transforms/vrl/fn_util.h"

#define OOM(err, fn) sl_fail((err), "out of memory in " fn)

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
    if (vrl_arg_lossy(c, &args[0], &s, &n, err) < 0 ||
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
    if (vrl_arg_lossy(c, &args[0], &s, &n, err) < 0)
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

const vrl_function *const vrl_key_value_functions[] = {
    &fn_parse_key_value,
    &fn_parse_logfmt,
    NULL,
};
