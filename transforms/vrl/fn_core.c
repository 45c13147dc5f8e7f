/* fn_core.c - the core of the remap language's standard library: paths
 * (exists, del), objects (merge, compact), type assertions (string!, int!,
 * ...), type tests (is_*), coercions (to_*), assert and log.
 *
 * Behaviour and messages follow VRL's reference: coercions fail with Rust's
 * wording ("Invalid integer \"abc\": invalid digit found in string"),
 * floats print as Rust's Display does ("5", "0.1"), timestamps as RFC 3339.
 * exists and del take a path, not a value: the interpreter looks the path
 * up (and, for del, removes it, journaled like any write) and hands the
 * result over as the argument. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transforms/vrl/fn_util.h"
#include "transforms/vrl/function.h"
#include "pipeline/buf.h"
#include "pipeline/json.h"
#include "pipeline/log.h"
#include "transforms/vrl/program.h"
#include "pipeline/sltime.h"

/* compact() nests no deeper than this (the JSON codec stops at 128). */
#define COMPACT_MAX_DEPTH 256

static const vrl_param value_param[] = {{"value", K_ANY, true}};

static int oom(sl_error *err)
{
    return sl_fail(err, "out of memory");
}

static bool bool_arg(const vrl_arg *a, bool dflt)
{
    return a->present && a->val.kind == VALUE_BOOL ? a->val.u.b : dflt;
}

/* Rust's {:?} of a string, as VRL's messages quote input. */
static void debug_quote(char *out, size_t cap, const char *s, size_t n)
{
    size_t len = 0;
    if (cap < 3)
        return;
    out[len++] = '"';
    for (size_t i = 0; i < n && len + 12 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': len += (size_t)snprintf(out + len, cap - len, "\\\""); break;
        case '\\': len += (size_t)snprintf(out + len, cap - len, "\\\\"); break;
        case '\n': len += (size_t)snprintf(out + len, cap - len, "\\n"); break;
        case '\r': len += (size_t)snprintf(out + len, cap - len, "\\r"); break;
        case '\t': len += (size_t)snprintf(out + len, cap - len, "\\t"); break;
        case '\0': len += (size_t)snprintf(out + len, cap - len, "\\0"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                len += (size_t)snprintf(out + len, cap - len, "\\u{%x}", c);
            else
                out[len++] = (char)c;
        }
    }
    out[len++] = '"';
    out[len] = '\0';
}

/* ---- exists, del ----------------------------------------------------------- */

static const vrl_param exists_params[] = {{"path", VRL_ARG_PATH, true}};

static int exists_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    SL_UNUSED(err);
    *out = value_bool(args[0].present);
    return 0;
}

static const vrl_function fn_exists = {
    .name = "exists", .params = exists_params, .nparams = 1, .returns = K_BOOL,
    .call = exists_call,
};

static const vrl_param del_params[] = {
    {"path", VRL_ARG_PATH, true},
    {"compact", K_BOOL, false},
};

static int del_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    SL_UNUSED(err);
    *out = args[0].val;
    return 0;
}

const vrl_function vrl_fn_del = {
    .name = "del", .params = del_params, .nparams = 2, .returns = K_ANY, .call = del_call,
};

/* ---- merge ----------------------------------------------------------------- */

static const vrl_param merge_params[] = {
    {"to", K_MAP, true},
    {"from", K_MAP, true},
    {"deep", K_BOOL, false},
};

/* A new map: `to`'s fields, then `from`'s over them. With `deep`, objects
 * present on both sides are merged the same way instead of replaced. */
static int merge_maps(arena *a, const value_map *to, const value_map *from, bool deep, value *out,
                      int depth)
{
    if (depth > COMPACT_MAX_DEPTH)
        return -1;
    value m = value_new_map(a, to->len + from->len);
    if (m.kind != VALUE_MAP)
        return -1;
    if (to->len)
        memcpy(m.u.map->entries, to->entries, to->len * sizeof(value_entry));
    m.u.map->len = to->len;
    for (uint32_t i = 0; i < from->len; i++) {
        const value_entry *e = &from->entries[i];
        value *slot = value_map_put(a, m.u.map, e->key, e->klen);
        if (!slot)
            return -1;
        if (deep && slot->kind == VALUE_MAP && e->val.kind == VALUE_MAP) {
            if (merge_maps(a, slot->u.map, e->val.u.map, true, slot, depth + 1) < 0)
                return -1;
        } else {
            *slot = e->val;
        }
    }
    *out = m;
    return 0;
}

static int merge_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    if (merge_maps(c->a, args[0].val.u.map, args[1].val.u.map, bool_arg(&args[2], false), out,
                   0) < 0)
        return oom(err);
    return 0;
}

static const vrl_function fn_merge = {
    .name = "merge", .params = merge_params, .nparams = 3, .returns = K_MAP, .call = merge_call,
};

/* ---- compact --------------------------------------------------------------- */

static const vrl_param compact_params[] = {
    {"value", K_ARRAY | K_MAP, true},
    {"recursive", K_BOOL, false},
    {"null", K_BOOL, false},
    {"string", K_BOOL, false},
    {"object", K_BOOL, false},
    {"array", K_BOOL, false},
    {"nullish", K_BOOL, false},
};

typedef struct compact_opts {
    bool recursive, null, string, object, array, nullish;
} compact_opts;

/* VRL's is_nullish: null, "", "-", or only whitespace. */
static bool is_nullish(const value *v)
{
    if (v->kind == VALUE_NULL)
        return true;
    if (v->kind != VALUE_BYTES)
        return false;
    if (v->len == 1 && v->u.s[0] == '-')
        return true;
    for (uint32_t i = 0; i < v->len; i++) {
        char ch = v->u.s[i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\v' && ch != '\f')
            return false;
    }
    return true;
}

static bool is_empty_value(const value *v, const compact_opts *o)
{
    switch (v->kind) {
    case VALUE_NULL: return o->null || o->nullish;
    case VALUE_BYTES: return (o->string && v->len == 0) || (o->nullish && is_nullish(v));
    case VALUE_MAP: return o->object && v->u.map->len == 0;
    case VALUE_ARRAY: return o->array && v->u.arr->len == 0;
    default: return false;
    }
}

static int compact_value(arena *a, const value *in, const compact_opts *o, value *out, int depth);

static int compact_child(arena *a, const value *in, const compact_opts *o, value *out, int depth)
{
    if (o->recursive && (in->kind == VALUE_MAP || in->kind == VALUE_ARRAY))
        return compact_value(a, in, o, out, depth + 1);
    *out = *in;
    return 0;
}

static int compact_value(arena *a, const value *in, const compact_opts *o, value *out, int depth)
{
    if (depth > COMPACT_MAX_DEPTH)
        return -1;
    if (in->kind == VALUE_MAP) {
        value m = value_new_map(a, in->u.map->len);
        if (m.kind != VALUE_MAP)
            return -1;
        for (uint32_t i = 0; i < in->u.map->len; i++) {
            const value_entry *e = &in->u.map->entries[i];
            value v;
            if (compact_child(a, &e->val, o, &v, depth) < 0)
                return -1;
            if (!is_empty_value(&v, o)) {
                /* Entries come sorted and stay so: append in order. */
                value_entry *d = &m.u.map->entries[m.u.map->len++];
                d->key = e->key;
                d->klen = e->klen;
                d->val = v;
            }
        }
        *out = m;
        return 0;
    }
    value arr = value_new_array(a, in->u.arr->len);
    if (arr.kind != VALUE_ARRAY)
        return -1;
    for (uint32_t i = 0; i < in->u.arr->len; i++) {
        value v;
        if (compact_child(a, &in->u.arr->items[i], o, &v, depth) < 0)
            return -1;
        if (!is_empty_value(&v, o))
            arr.u.arr->items[arr.u.arr->len++] = v;
    }
    *out = arr;
    return 0;
}

static int compact_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    compact_opts o = {
        bool_arg(&args[1], true), bool_arg(&args[2], true), bool_arg(&args[3], true),
        bool_arg(&args[4], true), bool_arg(&args[5], true), bool_arg(&args[6], false),
    };
    if (compact_value(c->a, &args[0].val, &o, out, 0) < 0)
        return sl_fail(err, "out of memory or nested too deeply");
    return 0;
}

static const vrl_function fn_compact = {
    .name = "compact", .params = compact_params, .nparams = 7, .returns = K_ARRAY | K_MAP,
    .call = compact_call,
};

/* ---- type assertions and tests ---------------------------------------------- */

static int expect_kind(const vrl_arg *args, value *out, sl_error *err, uint8_t kind)
{
    if (args[0].val.kind != kind)
        return sl_fail(err, "expected %s, got %s", vrl_kind_name(kind),
                       vrl_kind_name(args[0].val.kind));
    *out = args[0].val;
    return 0;
}

#define TYPE_ASSERTION(fname, KIND)                                                     \
    static int fname##_call(const vrl_call *c, const vrl_arg *args, value *out,         \
                            sl_error *err)                                              \
    {                                                                                   \
        SL_UNUSED(c);                                                                   \
        return expect_kind(args, out, err, KIND);                                       \
    }                                                                                   \
    static const vrl_function fn_##fname = {                                            \
        .name = #fname, .params = value_param, .nparams = 1, .returns = VRL_KIND(KIND), \
        .call = fname##_call, .fallible_kinds = K_ANY & ~VRL_KIND(KIND),                \
    };

TYPE_ASSERTION(string, VALUE_BYTES)
TYPE_ASSERTION(int, VALUE_INT)
TYPE_ASSERTION(float, VALUE_FLOAT)
TYPE_ASSERTION(bool, VALUE_BOOL)
TYPE_ASSERTION(object, VALUE_MAP)
TYPE_ASSERTION(array, VALUE_ARRAY)

#define TYPE_TEST(fname, KIND)                                                          \
    static int fname##_call(const vrl_call *c, const vrl_arg *args, value *out,         \
                            sl_error *err)                                              \
    {                                                                                   \
        SL_UNUSED(c);                                                                   \
        SL_UNUSED(err);                                                                 \
        *out = value_bool(args[0].val.kind == KIND);                                    \
        return 0;                                                                       \
    }                                                                                   \
    static const vrl_function fn_##fname = {                                            \
        .name = #fname, .params = value_param, .nparams = 1, .returns = K_BOOL,         \
        .call = fname##_call,                                                           \
    };

TYPE_TEST(is_string, VALUE_BYTES)
TYPE_TEST(is_integer, VALUE_INT)
TYPE_TEST(is_float, VALUE_FLOAT)
TYPE_TEST(is_boolean, VALUE_BOOL)
TYPE_TEST(is_null, VALUE_NULL)
TYPE_TEST(is_object, VALUE_MAP)
TYPE_TEST(is_array, VALUE_ARRAY)
TYPE_TEST(is_timestamp, VALUE_TIMESTAMP)

/* ---- to_string --------------------------------------------------------------- */

static int cant_coerce(sl_error *err, uint8_t from, const char *to)
{
    return sl_fail(err, "unable to coerce %s into %s", vrl_kind_name(from), to);
}

static int text_value(arena *a, const char *s, size_t n, value *out, sl_error *err)
{
    char *copy = arena_strndup(a, s, n);
    if (!copy)
        return oom(err);
    *out = value_bytes(copy, n);
    return 0;
}

/* An integer, float or timestamp as text, copied into the arena. */
static int number_text(arena *a, const value *v, value *out, sl_error *err)
{
    buf text = BUF_INIT;
    int rc = json_append_text(&text, v, false, "") < 0 ? oom(err)
             : text_value(a, text.data, text.len, out, err);
    buf_free(&text);
    return rc;
}

static int to_string_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    switch (v->kind) {
    case VALUE_BYTES:
        *out = *v;
        return 0;
    case VALUE_NULL:
        *out = value_bytes("", 0);
        return 0;
    case VALUE_BOOL:
        *out = v->u.b ? value_bytes("true", 4) : value_bytes("false", 5);
        return 0;
    case VALUE_INT:
    case VALUE_FLOAT:
    case VALUE_TIMESTAMP:
        return number_text(c->a, v, out, err);
    default:
        return cant_coerce(err, v->kind, "string");
    }
}

static const vrl_function fn_to_string = {
    .name = "to_string", .params = value_param, .nparams = 1, .returns = K_BYTES,
    .call = to_string_call, .fallible_kinds = K_ARRAY | K_MAP,
};

/* ---- to_int -------------------------------------------------------------------- */

/* Rust's i64::from_str, with its messages. */
static const char *parse_i64(const char *s, size_t n, int64_t *out)
{
    if (n == 0)
        return "cannot parse integer from empty string";
    size_t i = 0;
    bool negative = false;
    if (s[0] == '+' || s[0] == '-') {
        negative = s[0] == '-';
        i = 1;
        if (n == 1)
            return "invalid digit found in string";
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    bool overflow = false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return "invalid digit found in string";
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    if (overflow)
        return negative ? "number too small to fit in target type"
                        : "number too large to fit in target type";
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return NULL;
}

static int64_t float_to_i64(double f)
{
    if (isnan(f))
        return 0;
    if (f >= 9223372036854775807.0)
        return INT64_MAX;
    if (f <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)f;
}

/* Seconds of a timestamp, rounded towards the past as chrono does. */
static int64_t timestamp_seconds(int64_t ns)
{
    int64_t s = ns / 1000000000;
    return ns % 1000000000 < 0 ? s - 1 : s;
}

static int to_int_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    const value *v = &args[0].val;
    switch (v->kind) {
    case VALUE_INT: *out = *v; return 0;
    case VALUE_FLOAT: *out = value_int(float_to_i64(v->u.f)); return 0;
    case VALUE_BOOL: *out = value_int(v->u.b ? 1 : 0); return 0;
    case VALUE_NULL: *out = value_int(0); return 0;
    case VALUE_TIMESTAMP: *out = value_int(timestamp_seconds(v->u.ts)); return 0;
    case VALUE_BYTES: {
        int64_t i;
        const char *why = parse_i64(v->u.s, v->len, &i);
        if (why) {
            char q[200];
            debug_quote(q, sizeof(q), v->u.s, v->len);
            return sl_fail(err, "Invalid integer %s: %s", q, why);
        }
        *out = value_int(i);
        return 0;
    }
    default:
        return cant_coerce(err, v->kind, "integer");
    }
}

static const vrl_function fn_to_int = {
    .name = "to_int", .params = value_param, .nparams = 1, .returns = K_INT,
    .call = to_int_call, .fallible_kinds = K_BYTES | K_ARRAY | K_MAP,
};

/* ---- to_float ------------------------------------------------------------------ */

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool word_is(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
        if (ch != word[i])
            return false;
    }
    return true;
}

/* The grammar of Rust's f64::from_str, which is stricter than strtod (no
 * blanks, no hex, no "nan(...)"). */
static bool is_float_text(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (word_is(s + i, n - i, "inf") || word_is(s + i, n - i, "infinity") ||
        word_is(s + i, n - i, "nan"))
        return true;
    size_t int_digits = 0, frac_digits = 0;
    while (i < n && is_digit(s[i])) {
        i++;
        int_digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) {
            i++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < n && is_digit(s[i])) {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return false;
    }
    return i == n;
}

static int parse_float_text(arena *a, const value *v, double *f, sl_error *err)
{
    char q[200];
    if (v->len == 0)
        return sl_fail(err, "Invalid floating point number \"\": cannot parse float from empty "
                            "string");
    if (!is_float_text(v->u.s, v->len)) {
        debug_quote(q, sizeof(q), v->u.s, v->len);
        return sl_fail(err, "Invalid floating point number %s: invalid float literal", q);
    }
    char *text = arena_strndup(a, v->u.s, v->len);
    if (!text)
        return oom(err);
    *f = strtod(text, NULL);
    if (isnan(*f)) {
        debug_quote(q, sizeof(q), v->u.s, v->len);
        return sl_fail(err, "NaN number not supported %s", q);
    }
    return 0;
}

static int to_float_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    double f = 0;
    switch (v->kind) {
    case VALUE_FLOAT: *out = *v; return 0;
    case VALUE_INT: *out = value_float((double)v->u.i); return 0;
    case VALUE_BOOL: *out = value_float(v->u.b ? 1.0 : 0.0); return 0;
    case VALUE_NULL: *out = value_float(0.0); return 0;
    case VALUE_TIMESTAMP: *out = value_float((double)v->u.ts / 1e9); return 0;
    case VALUE_BYTES:
        if (parse_float_text(c->a, v, &f, err) < 0)
            return -1;
        *out = value_float(f);
        return 0;
    default:
        return cant_coerce(err, v->kind, "float");
    }
}

static const vrl_function fn_to_float = {
    .name = "to_float", .params = value_param, .nparams = 1, .returns = K_FLOAT,
    .call = to_float_call, .fallible_kinds = K_BYTES | K_ARRAY | K_MAP,
};

/* ---- to_bool ------------------------------------------------------------------- */

static bool is_one_of(const char *s, size_t n, const char *const *words, size_t nwords,
                      bool fold)
{
    for (size_t i = 0; i < nwords; i++) {
        if (fold ? word_is(s, n, words[i])
                 : strlen(words[i]) == n && memcmp(s, words[i], n) == 0)
            return true;
    }
    return false;
}

/* VRL's parse_bool: exact words, then any integer, then the words in any
 * case. */
static int parse_bool_text(const value *v, bool *b, sl_error *err)
{
    static const char *const yes[] = {"true", "t", "yes", "y"};
    static const char *const no[] = {"false", "f", "no", "n", "0"};
    const char *s = v->u.s;
    size_t n = v->len;
    int64_t i;
    if (is_one_of(s, n, yes, SL_ARRAY_LEN(yes), false))
        *b = true;
    else if (is_one_of(s, n, no, SL_ARRAY_LEN(no), false))
        *b = false;
    else if (!parse_i64(s, n, &i))
        *b = i != 0;
    else if (is_one_of(s, n, yes, SL_ARRAY_LEN(yes), true))
        *b = true;
    else if (is_one_of(s, n, no, SL_ARRAY_LEN(no) - 1, true))
        *b = false;
    else {
        char q[200];
        debug_quote(q, sizeof(q), s, n);
        return sl_fail(err, "Invalid boolean value %s", q);
    }
    return 0;
}

static int to_bool_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    const value *v = &args[0].val;
    bool b = false;
    switch (v->kind) {
    case VALUE_BOOL: *out = *v; return 0;
    case VALUE_INT: *out = value_bool(v->u.i != 0); return 0;
    case VALUE_FLOAT: *out = value_bool(v->u.f != 0.0); return 0;
    case VALUE_NULL: *out = value_bool(false); return 0;
    case VALUE_BYTES:
        if (parse_bool_text(v, &b, err) < 0)
            return -1;
        *out = value_bool(b);
        return 0;
    default:
        return cant_coerce(err, v->kind, "boolean");
    }
}

static const vrl_function fn_to_bool = {
    .name = "to_bool", .params = value_param, .nparams = 1, .returns = K_BOOL,
    .call = to_bool_call, .fallible_kinds = K_BYTES | K_TS | K_ARRAY | K_MAP,
};

/* ---- to_timestamp -------------------------------------------------------------- */

static const vrl_param to_timestamp_params[] = {
    {"value", K_ANY, true},
    {"unit", K_BYTES, false},
};

static const struct {
    const char *name;
    int64_t ns;
} time_units[] = {
    {"seconds", 1000000000},
    {"milliseconds", 1000000},
    {"microseconds", 1000},
    {"nanoseconds", 1},
};

/* Nanoseconds per unit, 0 for an unknown unit. */
static int64_t unit_ns(const value *unit)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(time_units); i++)
        if (unit->len == strlen(time_units[i].name) &&
            memcmp(unit->u.s, time_units[i].name, unit->len) == 0)
            return time_units[i].ns;
    return 0;
}

static int to_timestamp_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    SL_UNUSED(state);
    if (args[1].present && args[1].constant && unit_ns(&args[1].val) == 0)
        return sl_fail(err, "unit must be one of \"seconds\", \"milliseconds\", "
                            "\"microseconds\", \"nanoseconds\"");
    return 0;
}

/* Unix time strings and RFC 3339 (a missing zone reads as UTC). */
static int parse_timestamp_text(const value *v, int64_t *ns, sl_error *err)
{
    int64_t secs;
    if (!sltime_parse_rfc3339(v->u.s, v->len, SLTIME_RFC3339_CHRONO | SLTIME_RFC3339_ZONE_OPTIONAL,
                              ns, NULL))
        return 0;
    if (!parse_i64(v->u.s, v->len, &secs) && secs < INT64_MAX / 1000000000 &&
        secs > INT64_MIN / 1000000000) {
        *ns = secs * 1000000000;
        return 0;
    }
    char q[200];
    debug_quote(q, sizeof(q), v->u.s, v->len);
    return sl_fail(err, "No matching timestamp format found for %s", q);
}

static int to_timestamp_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    const value *v = &args[0].val;
    int64_t per = args[1].present ? unit_ns(&args[1].val) : 1000000000;
    int64_t ns;
    if (per == 0)
        return sl_fail(err, "unknown unit for to_timestamp");
    switch (v->kind) {
    case VALUE_TIMESTAMP:
        *out = *v;
        return 0;
    case VALUE_INT:
        if (v->u.i > INT64_MAX / per || v->u.i < INT64_MIN / per)
            return sl_fail(err, "timestamp out of range: %lld", (long long)v->u.i);
        *out = value_timestamp(v->u.i * per);
        return 0;
    case VALUE_FLOAT: {
        /* Whole units and the fraction apart, as chrono takes them, so that
         * 1603296000.25 keeps its quarter second. */
        double whole = trunc(v->u.f);
        double limit = (double)(INT64_MAX / per) - 1;
        if (!(whole < limit && whole > -limit))
            return sl_fail(err, "timestamp out of range");
        int64_t frac = (int64_t)((v->u.f - whole) * (double)per);
        *out = value_timestamp((int64_t)whole * per + frac);
        return 0;
    }
    case VALUE_BYTES:
        if (parse_timestamp_text(v, &ns, err) < 0)
            return -1;
        *out = value_timestamp(ns);
        return 0;
    default:
        return cant_coerce(err, v->kind, "timestamp");
    }
}

static const vrl_function fn_to_timestamp = {
    .name = "to_timestamp", .params = to_timestamp_params, .nparams = 2, .returns = K_TS,
    .compile = to_timestamp_compile, .call = to_timestamp_call,
    .fallible_kinds = K_ANY & ~K_TS,
};

/* ---- assert ----------------------------------------------------------------------- */

static const vrl_param assert_params[] = {
    {"condition", K_BOOL, true},
    {"message", K_BYTES, false},
};

static int assert_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    if (args[0].val.u.b) {
        *out = value_bool(true);
        return 0;
    }
    if (args[1].present && args[1].val.kind == VALUE_BYTES)
        return sl_fail(err, "%.*s", (int)(args[1].val.len > 400 ? 400 : args[1].val.len),
                       args[1].val.u.s);
    return sl_fail(err, "assertion failed");
}

static const vrl_function fn_assert = {
    .name = "assert", .params = assert_params, .nparams = 2, .returns = K_BOOL,
    .fallible = true, .call = assert_call,
};

/* ---- log --------------------------------------------------------------------------- */

static const vrl_param log_params[] = {
    {"value", K_ANY, true},
    {"level", K_BYTES, false},
    {"rate_limit_secs", K_INT, false},
};

static const struct {
    const char *name;
    slog_level level;
} log_levels[] = {
    {"trace", SLOG_TRACE}, {"debug", SLOG_DEBUG}, {"info", SLOG_INFO},
    {"warn", SLOG_WARN},   {"error", SLOG_ERROR},
};

static bool find_level(const value *v, slog_level *out)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(log_levels); i++) {
        if (v->kind == VALUE_BYTES && v->len == strlen(log_levels[i].name) &&
            memcmp(v->u.s, log_levels[i].name, v->len) == 0) {
            *out = log_levels[i].level;
            return true;
        }
    }
    return false;
}

/* The level is the state, so a constant level is checked once. */
static int log_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    slog_level level = SLOG_INFO;
    if (args[1].present && args[1].constant && !find_level(&args[1].val, &level))
        return sl_fail(err, "level must be one of \"trace\", \"debug\", \"info\", \"warn\", "
                            "\"error\"");
    *state = (void *)(uintptr_t)(level + 1);
    return 0;
}

/* Repeated identical lines are summarised by the service's log (log.h), which
 * stands in for VRL's per-call rate_limit_secs. */
static int log_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    slog_level level = c->state ? (slog_level)((uintptr_t)c->state - 1) : SLOG_INFO;
    if (args[1].present && !find_level(&args[1].val, &level))
        return sl_fail(err, "unknown log level");
    *out = value_null();
    if (!slog_enabled(level))
        return 0;
    const value *v = &args[0].val;
    if (v->kind == VALUE_BYTES) {
        slog(level, "vrl", "%.*s", (int)v->len, v->u.s);
        return 0;
    }
    buf text = BUF_INIT;
    if (json_encode_value(&text, v) < 0) {
        buf_free(&text);
        return oom(err);
    }
    slog(level, "vrl", "%s", text.data ? text.data : "");
    buf_free(&text);
    return 0;
}

static const vrl_function fn_log = {
    .name = "log", .params = log_params, .nparams = 3, .returns = K_NULL,
    .compile = log_compile, .call = log_call,
};

const vrl_function *const vrl_core_functions[] = {
    &fn_exists, &vrl_fn_del, &fn_merge, &fn_compact,
    &fn_string, &fn_int, &fn_float, &fn_bool, &fn_object, &fn_array,
    &fn_is_string, &fn_is_integer, &fn_is_float, &fn_is_boolean, &fn_is_null,
    &fn_is_object, &fn_is_array, &fn_is_timestamp,
    &fn_to_string, &fn_to_int, &fn_to_float, &fn_to_bool, &fn_to_timestamp,
    &fn_assert, &fn_log,
    NULL,
};
