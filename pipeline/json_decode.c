/* json_decode.c - JSON text into values in a batch's arena (see json.h).
 *
 * Decoding follows serde_json where the two references differ: integers that
 * do not fit int64 become floats, "-0" is the float -0.0, numbers that
 * overflow a double are rejected, and so is invalid UTF-8 inside strings
 * (serde_json refuses such a line, so Vector drops it; jansson agrees). Two
 * deliberate departures: an escaped lone surrogate (\ud800) becomes U+FFFD
 * instead of failing the line, and nesting is limited to 128 levels. Floats
 * are read with strtod, which assumes the C locale for LC_NUMERIC; sluice
 * never changes it. */
#include "pipeline/json_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 128

/* ---- decoding ---------------------------------------------------------- */

/* Members and items of the containers being parsed wait on one stack, so
 * that each container is allocated once, at its exact size, when it closes;
 * the first ones fit in the decoder itself. */
#define DECODE_STACK_INLINE 64

typedef struct decoder {
    const unsigned char *start, *p, *end;
    arena *a;
    sl_error *err;
    unsigned depth;
    value_entry *stack;
    size_t top, cap;
    value_entry inline_stack[DECODE_STACK_INLINE];
} decoder;

static int decode_fail(decoder *d, const unsigned char *at, const char *what)
{
    return sl_fail(d->err, "invalid JSON at byte %zu: %s", (size_t)(at - d->start), what);
}

static int out_of_memory(decoder *d)
{
    return sl_fail(d->err, "out of memory decoding JSON");
}

/* The parsers of values return the value itself, which travels in
 * registers: it is stored into the member stack right away, and reading back
 * whole a value that a callee had just stored in pieces through a pointer
 * defeats store forwarding and stalls on every member. A value of kind
 * DECODE_FAILED says that parsing failed, the error being in d->err. */
#define DECODE_FAILED 0xFF

static inline value failed_value(void)
{
    value v = value_null();
    v.kind = DECODE_FAILED;
    return v;
}

static inline bool is_failed(value v)
{
    return v.kind == DECODE_FAILED;
}

static value fail_value(decoder *d, const unsigned char *at, const char *what)
{
    decode_fail(d, at, what);
    return failed_value();
}

/* Doubles the stack; the rare path of stack_push, kept out of line. */
static int stack_grow(decoder *d)
{
    size_t cap = d->cap * 2;
    value_entry *s;
    if (d->stack == d->inline_stack) {
        s = malloc(cap * sizeof(*s));
        if (s)
            memcpy(s, d->stack, d->top * sizeof(*s));
    } else {
        s = realloc(d->stack, cap * sizeof(*s));
    }
    if (!s)
        return out_of_memory(d);
    d->stack = s;
    d->cap = cap;
    return 0;
}

/* Takes the value by value, so that one built in registers is stored
 * straight into its slot. */
static inline int stack_push(decoder *d, const char *key, size_t klen, value v)
{
    if (d->top == d->cap && stack_grow(d) < 0)
        return -1;
    value_entry *e = &d->stack[d->top++];
    e->key = key;
    e->klen = (uint32_t)klen;
    e->val = v;
    return 0;
}

static inline void skip_whitespace(decoder *d)
{
    /* Compact JSON has no whitespace: one compare settles the common case. */
    if (d->p < d->end && *d->p > ' ')
        return;
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
        d->p++;
}

static value parse_value(decoder *d);

/* Decodes the \u escape at p (p[0] == 'u', the backslash before it),
 * combining a surrogate pair; a lone surrogate becomes U+FFFD. Returns the
 * input bytes consumed after the backslash, or 0 on a malformed escape. */
static size_t decode_unicode_escape(const unsigned char *p, const unsigned char *end, char **o)
{
    uint32_t cp;
    size_t used = utf8_json_escape(p, (size_t)(end - p), &cp);
    if (used)
        *o += utf8_encode(utf8_is_surrogate(cp) ? UTF8_REPLACEMENT : cp, *o);
    return used;
}

static bool decode_simple_escape(unsigned char c, char *out)
{
    switch (c) {
    case '"': *out = '"'; return true;
    case '\\': *out = '\\'; return true;
    case '/': *out = '/'; return true;
    case 'b': *out = '\b'; return true;
    case 'f': *out = '\f'; return true;
    case 'n': *out = '\n'; return true;
    case 'r': *out = '\r'; return true;
    case 't': *out = '\t'; return true;
    default: return false;
    }
}

/* A byte at p that skip_plain stopped at and that is not `"` or `\`:
 * returns the length of the valid UTF-8 character there, or 0 after
 * reporting the error. */
static size_t check_special(decoder *d, const unsigned char *p)
{
    if (*p < 0x20) {
        decode_fail(d, p, "control character in string");
        return 0;
    }
    size_t bad;
    size_t k = utf8_sequence(p, (size_t)(d->end - p), &bad);
    if (!k)
        decode_fail(d, p, "invalid UTF-8 in string");
    return k;
}

/* The string starting at `body` has an escape: find its closing quote, then
 * decode it into the arena (it only shrinks). */
static int parse_escaped_string(decoder *d, const unsigned char *body, const char **s, size_t *n)
{
    const unsigned char *q = d->p;
    for (;;) {
        q = skip_plain(q, d->end);
        if (q >= d->end)
            return decode_fail(d, body - 1, "unterminated string");
        if (*q == '"')
            break;
        if (*q == '\\' && d->end - q < 2)
            return decode_fail(d, body - 1, "unterminated string");
        q += *q == '\\' ? 2 : 1;
    }
    const unsigned char *close = q;
    char *text = arena_alloc(d->a, (size_t)(close - body));
    if (!text)
        return out_of_memory(d);
    char *o = text;
    const unsigned char *p = body;
    while (p < close) {
        const unsigned char *stop = skip_plain(p, close);
        memcpy(o, p, (size_t)(stop - p));
        o += stop - p;
        p = stop;
        if (p == close)
            break;
        if (*p != '\\') {
            size_t k = check_special(d, p);
            if (!k)
                return -1;
            memcpy(o, p, k);
            o += k;
            p += k;
            continue;
        }
        p++;
        if (*p == 'u') {
            size_t used = decode_unicode_escape(p, close, &o);
            if (!used)
                return decode_fail(d, p - 1, "invalid \\u escape");
            p += used;
        } else if (decode_simple_escape(*p, o)) {
            o++;
            p++;
        } else {
            return decode_fail(d, p - 1, "invalid escape");
        }
    }
    *s = text;
    *n = (size_t)(o - text);
    d->p = close + 1;
    return 0;
}

/* The rest of parse_string from q, the first byte of the string at d->p
 * that needs work (or the end): kept out of line, as most strings end at
 * their first such byte. */
static int finish_string(decoder *d, const unsigned char *body, const unsigned char *q,
                         const char **s, size_t *n)
{
    for (;;) {
        if (q == d->end)
            return decode_fail(d, body - 1, "unterminated string");
        if (*q == '"') {
            if ((size_t)(q - body) > UINT32_MAX)
                return decode_fail(d, body - 1, "string longer than 4 GiB");
            *s = (const char *)body;
            *n = (size_t)(q - body);
            d->p = q + 1;
            return 0;
        }
        if (*q == '\\') {
            d->p = q;
            return parse_escaped_string(d, body, s, n);
        }
        size_t k = check_special(d, q);
        if (!k)
            return -1;
        q = skip_plain(q + k, d->end);
    }
}

/* d->p is at the opening quote. Strings without escapes point into the
 * input. Inline, as it runs for every key and most values: a plain run up
 * to the closing quote is the whole of most strings. */
static inline int parse_string(decoder *d, const char **s, size_t *n)
{
    const unsigned char *body = ++d->p;
    const unsigned char *q = skip_plain(body, d->end);
    if (q < d->end && *q == '"' && (size_t)(q - body) <= UINT32_MAX) {
        *s = (const char *)body;
        *n = (size_t)(q - body);
        d->p = q + 1;
        return 0;
    }
    return finish_string(d, body, q, s, n);
}

static value parse_literal(decoder *d, const char *word, size_t len, value v)
{
    if ((size_t)(d->end - d->p) < len || memcmp(d->p, word, len) != 0)
        return fail_value(d, d->p, "expected a value");
    d->p += len;
    return v;
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Exact when the digits fit 2^53 and the power of ten is exact: the one
 * rounding is then the correct one (Clinger's fast path). */
static bool float_fast_path(uint64_t mantissa, int exp10, bool negative, double *out)
{
    if (mantissa > (1ULL << 53) || exp10 < -22 || exp10 > 22)
        return false;
    double v = (double)mantissa;
    v = exp10 < 0 ? v / json_pow10[-exp10] : v * json_pow10[exp10];
    *out = negative ? -v : v;
    return true;
}

static int parse_float_text(decoder *d, const unsigned char *start, size_t len, double *out)
{
    char small[64];
    char *text = len < sizeof(small) ? small : malloc(len + 1);
    if (!text)
        return out_of_memory(d);
    memcpy(text, start, len);
    text[len] = '\0';
    double v = strtod(text, NULL);
    if (text != small)
        free(text);
    if (isinf(v))
        return decode_fail(d, start, "number out of range");
    *out = v;
    return 0;
}

static value parse_number(decoder *d)
{
    const unsigned char *start = d->p, *p = d->p, *end = d->end;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    uint64_t mantissa = 0;
    int digits = 0, exp10 = 0;
    bool is_integer = true;
    if (!is_digit(p, end))
        return fail_value(d, p, "invalid number");
    if (*p == '0') {
        p++;
    } else {
        for (; is_digit(p, end); p++) {
            if (digits < 19)
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            else
                exp10++;
            digits++;
        }
    }
    if (p < end && *p == '.') {
        is_integer = false;
        p++;
        if (!is_digit(p, end))
            return fail_value(d, p, "invalid number");
        for (; is_digit(p, end); p++) {
            if (digits == 0 && *p == '0') {
                exp10--;
                continue;
            }
            if (digits < 19) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                exp10--;
            }
            digits++;
        }
    }
    bool has_exponent = false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_integer = false;
        has_exponent = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return fail_value(d, p, "invalid number");
        while (is_digit(p, end))
            p++;
    }
    d->p = p;

    if (is_integer && digits <= 19) {
        /* serde_json reads "-0" as the float -0.0. */
        if (negative && mantissa == 0)
            return value_float(-0.0);
        if (!negative && mantissa <= (uint64_t)INT64_MAX)
            return value_int((int64_t)mantissa);
        if (negative && mantissa <= (uint64_t)INT64_MAX + 1)
            return value_int((int64_t)(0 - mantissa));
    }
    double v = 0;
    if (!has_exponent && digits <= 19 && float_fast_path(mantissa, exp10, negative, &v))
        return value_float(v);
    if (parse_float_text(d, start, (size_t)(p - start), &v) < 0)
        return failed_value();
    return value_float(v);
}

/* Stable. Returns whether some key is repeated: each entry stops at the
 * greatest key not above its own, which is an equal one if there is any
 * before it, so every repeat shows up as a comparison that found equality. */
static bool insertion_sort(value_entry *e, size_t n)
{
    bool repeats = false;
    for (size_t i = 1; i < n; i++) {
        value_entry x = e[i];
        size_t j = i;
        int c = 0;
        while (j > 0 && (c = value_entry_compare(&e[j - 1], &x)) > 0) {
            e[j] = e[j - 1];
            j--;
        }
        if (j > 0 && c == 0)
            repeats = true;
        e[j] = x;
    }
    return repeats;
}

/* Stable, so that of repeated keys the last one stays last. */
static int merge_sort(value_entry *e, size_t n)
{
    value_entry *tmp = malloc(n * sizeof(*tmp));
    if (!tmp)
        return -1;
    const size_t run = 16;
    for (size_t i = 0; i < n; i += run)
        insertion_sort(e + i, n - i < run ? n - i : run);
    for (size_t width = run; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = value_entry_compare(&e[j], &e[i]) < 0 ? e[j++] : e[i++];
            while (i < mid)
                tmp[k++] = e[i++];
            while (j < hi)
                tmp[k++] = e[j++];
        }
        memcpy(e, tmp, n * sizeof(*e));
    }
    free(tmp);
    return 0;
}

/* Sorts the members of the object being closed and keeps the last of
 * repeated keys, as serde_json does. `sorted` tells that the parser already
 * saw the keys strictly ascending. Returns the count left. */
static int sort_members(decoder *d, value_entry *e, size_t n, bool sorted, size_t *kept)
{
    if (sorted) {
        *kept = n;
        return 0;
    }
    if (n <= 32) {
        if (!insertion_sort(e, n)) {
            *kept = n;
            return 0;
        }
    } else if (merge_sort(e, n) < 0) {
        return out_of_memory(d);
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && value_entry_compare(&e[w - 1], &e[i]) == 0)
            e[w - 1] = e[i];
        else
            e[w++] = e[i];
    }
    *kept = w;
    return 0;
}

static int enter(decoder *d)
{
    if (++d->depth > JSON_MAX_DEPTH)
        return decode_fail(d, d->p, "nesting deeper than 128 levels");
    d->p++;
    return 0;
}

static value close_object(decoder *d, size_t base, bool sorted)
{
    size_t n = 0;
    if (sort_members(d, d->stack + base, d->top - base, sorted, &n) < 0)
        return failed_value();
    value v = value_new_map(d->a, (uint32_t)n);
    if (v.kind != VALUE_MAP) {
        out_of_memory(d);
        return failed_value();
    }
    if (n)
        memcpy(v.u.map->entries, d->stack + base, n * sizeof(value_entry));
    v.u.map->len = (uint32_t)n;
    d->top = base;
    d->depth--;
    return v;
}

static value parse_object(decoder *d)
{
    if (enter(d) < 0)
        return failed_value();
    size_t base = d->top;
    skip_whitespace(d);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        return close_object(d, base, true);
    }
    /* Whether the keys so far are strictly ascending, checked as each one
     * is pushed (its predecessor is still hot) so that close_object can skip
     * sorting the objects real producers mostly write in key order. */
    bool sorted = true;
    for (;;) {
        skip_whitespace(d);
        if (d->p == d->end)
            return fail_value(d, d->p, "unexpected end of input");
        if (*d->p != '"')
            return fail_value(d, d->p, "expected a string key");
        const char *key;
        size_t klen;
        if (parse_string(d, &key, &klen) < 0)
            return failed_value();
        skip_whitespace(d);
        if (d->p == d->end || *d->p != ':')
            return fail_value(d, d->p, "expected ':'");
        d->p++;
        value v = parse_value(d);
        if (is_failed(v) || stack_push(d, key, klen, v) < 0)
            return failed_value();
        if (sorted && d->top - base > 1 &&
            value_entry_compare(&d->stack[d->top - 2], &d->stack[d->top - 1]) >= 0)
            sorted = false;
        skip_whitespace(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            return close_object(d, base, sorted);
        }
        return fail_value(d, d->p, "expected ',' or '}'");
    }
}

static value close_array(decoder *d, size_t base)
{
    size_t n = d->top - base;
    value v = value_new_array(d->a, (uint32_t)n);
    if (v.kind != VALUE_ARRAY) {
        out_of_memory(d);
        return failed_value();
    }
    for (size_t i = 0; i < n; i++)
        v.u.arr->items[i] = d->stack[base + i].val;
    v.u.arr->len = (uint32_t)n;
    d->top = base;
    d->depth--;
    return v;
}

static value parse_array(decoder *d)
{
    if (enter(d) < 0)
        return failed_value();
    size_t base = d->top;
    skip_whitespace(d);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        return close_array(d, base);
    }
    for (;;) {
        value v = parse_value(d);
        if (is_failed(v) || stack_push(d, NULL, 0, v) < 0)
            return failed_value();
        skip_whitespace(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            return close_array(d, base);
        }
        return fail_value(d, d->p, "expected ',' or ']'");
    }
}

static value parse_value(decoder *d)
{
    skip_whitespace(d);
    if (d->p == d->end)
        return fail_value(d, d->p, "unexpected end of input");
    switch (*d->p) {
    case '{':
        return parse_object(d);
    case '[':
        return parse_array(d);
    case '"': {
        const char *s;
        size_t n;
        if (parse_string(d, &s, &n) < 0)
            return failed_value();
        return value_bytes(s, n);
    }
    case 't':
        return parse_literal(d, "true", 4, value_bool(true));
    case 'f':
        return parse_literal(d, "false", 5, value_bool(false));
    case 'n':
        return parse_literal(d, "null", 4, value_null());
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(d);
    default:
        return fail_value(d, d->p, "expected a value");
    }
}

int json_decode(arena *a, const char *text, size_t n, value *out, sl_error *err)
{
    decoder d;
    d.start = d.p = (const unsigned char *)text;
    d.end = d.start + n;
    d.a = a;
    d.err = err;
    d.depth = 0;
    d.stack = d.inline_stack;
    d.top = 0;
    d.cap = DECODE_STACK_INLINE;
    value v = parse_value(&d);
    int rc = is_failed(v) ? -1 : 0;
    if (rc == 0) {
        *out = v;
        skip_whitespace(&d);
        if (d.p != d.end)
            rc = decode_fail(&d, d.p, "trailing characters");
    }
    if (d.stack != d.inline_stack)
        free(d.stack);
    return rc;
}
