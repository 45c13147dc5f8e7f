/* fn_util.c - helpers the standard library's function groups share (see
 * fn_util.h). */
#include "transforms/vrl/fn_util.h"
#include "pipeline/utf8.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <wctype.h>

/* ---- kinds and arguments ----------------------------------------------- */

const char *vrl_kind_name(uint8_t kind)
{
    switch (kind) {
    case VALUE_NULL: return "null";
    case VALUE_BOOL: return "boolean";
    case VALUE_INT: return "integer";
    case VALUE_FLOAT: return "float";
    case VALUE_BYTES: return "string";
    case VALUE_TIMESTAMP: return "timestamp";
    case VALUE_ARRAY: return "array";
    case VALUE_MAP: return "object";
    default: return "unknown";
    }
}

int vrl_expected(sl_error *err, uint16_t kinds, const value *got)
{
    /* VRL's Kind display: the kinds in this order, except that the first
     * one goes last ("array, object or string"). */
    static const uint8_t order[] = {VALUE_BYTES, VALUE_INT, VALUE_FLOAT, VALUE_BOOL,
                                    VALUE_TIMESTAMP, VALUE_NULL, VALUE_ARRAY, VALUE_MAP};
    const char *names[SL_ARRAY_LEN(order)];
    size_t count = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(order); i++)
        if (kinds & VRL_KIND(order[i]))
            names[count++] = vrl_kind_name(order[i]);
    char want[160] = "any";
    if (count == 1) {
        snprintf(want, sizeof(want), "%s", names[0]);
    } else if (count > 1 && count < SL_ARRAY_LEN(order)) {
        size_t len = 0;
        for (size_t i = 1; i < count && len < sizeof(want); i++)
            len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s", i > 1 ? ", " : "",
                                    names[i]);
        if (len < sizeof(want))
            snprintf(want + len, sizeof(want) - len, " or %s", names[0]);
    }
    return sl_fail(err, "expected %s, got %s", want, vrl_kind_name(got->kind));
}

int vrl_arg_bytes(const vrl_arg *a, const char **s, size_t *n, sl_error *err)
{
    if (a->val.kind != VALUE_BYTES)
        return vrl_expected(err, VRL_KIND(VALUE_BYTES), &a->val);
    *s = a->val.u.s;
    *n = a->val.len;
    return 0;
}

int vrl_arg_lossy(const vrl_call *c, const vrl_arg *a, const char **s, size_t *n,
                  sl_error *err)
{
    if (vrl_arg_bytes(a, s, n, err) < 0)
        return -1;
    if (vrl_utf8_lossy(c->a, s, n) < 0)
        return sl_fail(err, "out of memory reading a string");
    return 0;
}

int vrl_arg_opt_bytes(const vrl_arg *a, const char *dflt, const char **s, size_t *n,
                      sl_error *err)
{
    if (a->present)
        return vrl_arg_bytes(a, s, n, err);
    *s = dflt;
    *n = strlen(dflt);
    return 0;
}

int vrl_arg_opt_bool(const vrl_arg *a, bool dflt, bool *out, sl_error *err)
{
    if (!a->present) {
        *out = dflt;
        return 0;
    }
    if (a->val.kind != VALUE_BOOL)
        return vrl_expected(err, VRL_KIND(VALUE_BOOL), &a->val);
    *out = a->val.u.b;
    return 0;
}

int vrl_arg_opt_int(const vrl_arg *a, int64_t dflt, int64_t *out, sl_error *err)
{
    if (!a->present) {
        *out = dflt;
        return 0;
    }
    if (a->val.kind != VALUE_INT)
        return vrl_expected(err, VRL_KIND(VALUE_INT), &a->val);
    *out = a->val.u.i;
    return 0;
}

bool vrl_const_bytes(const vrl_const_arg *a, const char **s, size_t *n)
{
    if (!a->present || !a->constant || a->val.kind != VALUE_BYTES)
        return false;
    *s = a->val.u.s;
    *n = a->val.len;
    return true;
}

/* ---- UTF-8 ------------------------------------------------------------- */

int vrl_utf8_lossy(arena *a, const char **s, size_t *n)
{
    if (utf8_valid(*s, *n))
        return 0;
    /* Each invalid byte becomes at most three. */
    if (*n > SIZE_MAX / 3)
        return -1;
    char *out = arena_alloc(a, *n * 3 + 1);
    if (!out)
        return -1;
    size_t o = 0, i = 0;
    while (i < *n) {
        uint32_t cp;
        size_t k = utf8_next(*s + i, *n - i, &cp);
        if (cp == UTF8_REPLACEMENT)
            o += utf8_encode(cp, out + o);
        else {
            memcpy(out + o, *s + i, k);
            o += k;
        }
        i += k;
    }
    *s = out;
    *n = o;
    return 0;
}

bool vrl_is_whitespace(uint32_t cp)
{
    if (cp < 0x80)
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* The start of the character that ends at s[end - 1]. */
static size_t char_start_before(const char *s, size_t end)
{
    size_t i = end - 1;
    size_t floor = end > 4 ? end - 4 : 0;
    while (i > floor && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

void vrl_trim(const char **sp, size_t *np)
{
    const char *s = *sp;
    size_t start = 0, end = *np;
    while (start < end) {
        uint32_t cp;
        size_t k = utf8_next(s + start, end - start, &cp);
        if (!vrl_is_whitespace(cp))
            break;
        start += k;
    }
    while (end > start) {
        size_t i = char_start_before(s, end);
        if (i < start)
            i = start;
        uint32_t cp;
        size_t k = utf8_next(s + i, end - i, &cp);
        if (i + k != end || !vrl_is_whitespace(cp))
            break;
        end = i;
    }
    *sp = s + start;
    *np = end - start;
}

static locale_t case_locale;
static pthread_once_t case_once = PTHREAD_ONCE_INIT;

/* C.UTF-8 carries the Unicode case tables; without it only ASCII maps. */
static void load_case_locale(void)
{
    case_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

uint32_t vrl_to_lower(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    pthread_once(&case_once, load_case_locale);
    return case_locale ? (uint32_t)towlower_l((wint_t)cp, case_locale) : cp;
}

uint32_t vrl_to_upper(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
    pthread_once(&case_once, load_case_locale);
    return case_locale ? (uint32_t)towupper_l((wint_t)cp, case_locale) : cp;
}

/* ---- results ----------------------------------------------------------- */

value vrl_bytes_copy(arena *a, const char *s, size_t n)
{
    if (n == 0)
        return value_bytes("", 0);
    char *p = arena_alloc(a, n);
    if (!p)
        return value_null();
    memcpy(p, s, n);
    return value_bytes(p, n);
}

int vrl_bytes_from_buf(arena *a, buf *b, value *out)
{
    *out = vrl_bytes_copy(a, b->data, b->len);
    buf_free(b);
    return out->kind == VALUE_BYTES ? 0 : -1;
}

value_entry *vrl_entry_push(arena *a, vrl_entry_list *l)
{
    if (l->len == l->cap) {
        if (l->cap > UINT32_MAX / 2)
            return NULL;
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        value_entry *items = arena_grow(a, l->items, (size_t)l->cap * sizeof(*items),
                                        (size_t)cap * sizeof(*items));
        if (!items)
            return NULL;
        l->items = items;
        l->cap = cap;
    }
    return &l->items[l->len++];
}

int vrl_entry_put(arena *a, vrl_entry_list *l, const char *key, value v)
{
    value_entry *e = vrl_entry_push(a, l);
    if (!e)
        return -1;
    e->key = key;
    e->klen = (uint32_t)strlen(key);
    e->val = v;
    return 0;
}

static int entry_key_cmp(const value_entry *x, const value_entry *y)
{
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    if (c)
        return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

/* Stable merge sort, so that the last of equal keys can win. */
static void sort_entries(value_entry *e, value_entry *tmp, uint32_t n)
{
    if (n < 2)
        return;
    uint32_t h = n / 2;
    sort_entries(e, tmp, h);
    sort_entries(e + h, tmp, n - h);
    if (entry_key_cmp(&e[h - 1], &e[h]) <= 0)
        return;
    uint32_t i = 0, j = h, o = 0;
    while (i < h && j < n)
        tmp[o++] = entry_key_cmp(&e[j], &e[i]) < 0 ? e[j++] : e[i++];
    while (i < h)
        tmp[o++] = e[i++];
    while (j < n)
        tmp[o++] = e[j++];
    memcpy(e, tmp, (size_t)n * sizeof(*e));
}

int vrl_sort_entries(arena *a, value_entry *entries, uint32_t n)
{
    if (n < 2)
        return 0;
    value_entry *tmp = arena_alloc(a, (size_t)n * sizeof(*tmp));
    if (!tmp)
        return -1;
    sort_entries(entries, tmp, n);
    return 0;
}

bool vrl_same_key(const value_entry *x, const value_entry *y)
{
    return entry_key_cmp(x, y) == 0;
}

int vrl_map_from_entries(arena *a, value_entry *entries, uint32_t n, value *out)
{
    value_map *m = value_map_new(a, 0);
    if (!m || vrl_sort_entries(a, entries, n) < 0)
        return -1;
    uint32_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (o && entry_key_cmp(&entries[o - 1], &entries[i]) == 0)
            entries[o - 1] = entries[i];
        else
            entries[o++] = entries[i];
    }
    m->entries = entries;
    m->len = m->cap = o;
    out->kind = VALUE_MAP;
    out->len = 0;
    out->u.map = m;
    return 0;
}

/* ---- regexes ----------------------------------------------------------- */

/* PCRE2's own UTF-8 check costs more than the JIT match of a typical log
 * line, so the subject is checked here (eight ASCII bytes at a time) and
 * matched with PCRE2_NO_UTF_CHECK; a JIT-compiled pattern goes straight to
 * pcre2_jit_match. */
int vrl_regex_exec(arena *a, const vrl_regex_code *code, const char **s, size_t *n,
                   size_t start, uint32_t opts, pcre2_match_data **mdp, sl_error *err)
{
    pcre2_match_data *md = vrl_match_data(code);
    if (!md)
        return sl_fail(err, "out of memory for regex match data");
    *mdp = md;
    if (!(opts & PCRE2_NO_UTF_CHECK)) {
        if (vrl_utf8_lossy(a, s, n) < 0)
            return sl_fail(err, "out of memory matching a regex");
        opts |= PCRE2_NO_UTF_CHECK;
    }
    size_t jit_size = 0;
    pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit_size);
    int rc = jit_size ? pcre2_jit_match(code, (PCRE2_SPTR)*s, *n, start, opts, md, NULL)
                      : pcre2_match(code, (PCRE2_SPTR)*s, *n, start, opts, md, NULL);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    PCRE2_UCHAR msg[128];
    if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
        snprintf((char *)msg, sizeof(msg), "error %d", rc);
    return sl_fail(err, "regex match failed: %s", (const char *)msg);
}

size_t vrl_regex_step(const vrl_regex_code *code, const char *s, size_t n, size_t i)
{
    uint32_t options = 0;
    if (i >= n)
        return 1;
    pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &options);
    if (!(options & PCRE2_UTF))
        return 1;
    uint32_t cp;
    return utf8_next(s + i, n - i, &cp);
}
