/* fn_collection.c - the remap language's functions on arrays and objects:
 * length, keys, values, push, append and flatten.
 *
 * VRL values are immutable: push and append return a new array and leave
 * their argument as it was, so the result is a fresh top-level array in the
 * arena whose items are the argument's (nested containers are shared, not
 * copied). flatten builds its keys in the arena and sorts the result once,
 * the last of two colliding keys winning as in VRL's BTreeMap. */
#include <string.h>

#include "transforms/vrl/fn_util.h"

/* ---- length ------------------------------------------------------------ */

static int length_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    SL_UNUSED(c);
    switch (v->kind) {
    case VALUE_ARRAY: *out = value_int(v->u.arr->len); return 0;
    case VALUE_MAP: *out = value_int(v->u.map->len); return 0;
    case VALUE_BYTES: *out = value_int(v->len); return 0;
    default: return vrl_expected(err, K(VALUE_ARRAY) | K(VALUE_MAP) | K(VALUE_BYTES), v);
    }
}

static const vrl_param length_params[] = {
    {"value", K(VALUE_ARRAY) | K(VALUE_MAP) | K(VALUE_BYTES), true},
};

static const vrl_function fn_length = {
    .name = "length",
    .params = length_params,
    .nparams = SL_ARRAY_LEN(length_params),
    .returns = K(VALUE_INT),
    .call = length_call,
};

/* ---- keys, values ------------------------------------------------------ */

static int map_column(const vrl_call *c, const vrl_arg *args, bool keys, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    if (v->kind != VALUE_MAP)
        return vrl_expected(err, K(VALUE_MAP), v);
    const value_map *m = v->u.map;
    value result = value_new_array(c->a, m->len);
    if (result.kind != VALUE_ARRAY)
        return sl_fail(err, "out of memory in %s", keys ? "keys" : "values");
    for (uint32_t i = 0; i < m->len; i++)
        result.u.arr->items[i] = keys ? value_bytes(m->entries[i].key, m->entries[i].klen)
                                      : m->entries[i].val;
    result.u.arr->len = m->len;
    *out = result;
    return 0;
}

static int keys_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    return map_column(c, args, true, out, err);
}

static int values_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    return map_column(c, args, false, out, err);
}

static const vrl_param object_param[] = {
    {"value", K(VALUE_MAP), true},
};

static const vrl_function fn_keys = {
    .name = "keys",
    .params = object_param,
    .nparams = SL_ARRAY_LEN(object_param),
    .returns = K(VALUE_ARRAY),
    .call = keys_call,
};

static const vrl_function fn_values = {
    .name = "values",
    .params = object_param,
    .nparams = SL_ARRAY_LEN(object_param),
    .returns = K(VALUE_ARRAY),
    .call = values_call,
};

/* ---- push, append ------------------------------------------------------ */

/* A new array holding arr's items followed by the n items at extra. */
static int concat(arena *a, const value_array *arr, const value *extra, uint32_t n, value *out)
{
    if (arr->len > UINT32_MAX - n)
        return -1;
    value result = value_new_array(a, arr->len + n);
    if (result.kind != VALUE_ARRAY)
        return -1;
    if (arr->len)
        memcpy(result.u.arr->items, arr->items, (size_t)arr->len * sizeof(value));
    if (n)
        memcpy(result.u.arr->items + arr->len, extra, (size_t)n * sizeof(value));
    result.u.arr->len = arr->len + n;
    *out = result;
    return 0;
}

static int push_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    if (args[0].val.kind != VALUE_ARRAY)
        return vrl_expected(err, K(VALUE_ARRAY), &args[0].val);
    if (concat(c->a, args[0].val.u.arr, &args[1].val, 1, out) < 0)
        return sl_fail(err, "out of memory in push");
    return 0;
}

static int append_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    if (args[0].val.kind != VALUE_ARRAY)
        return vrl_expected(err, K(VALUE_ARRAY), &args[0].val);
    if (args[1].val.kind != VALUE_ARRAY)
        return vrl_expected(err, K(VALUE_ARRAY), &args[1].val);
    const value_array *items = args[1].val.u.arr;
    if (concat(c->a, args[0].val.u.arr, items->items, items->len, out) < 0)
        return sl_fail(err, "out of memory in append");
    return 0;
}

static const vrl_param push_params[] = {
    {"value", K(VALUE_ARRAY), true},
    {"item", VRL_KIND_ANY, true},
};

static const vrl_param append_params[] = {
    {"value", K(VALUE_ARRAY), true},
    {"items", K(VALUE_ARRAY), true},
};

static const vrl_function fn_push = {
    .name = "push",
    .params = push_params,
    .nparams = SL_ARRAY_LEN(push_params),
    .returns = K(VALUE_ARRAY),
    .call = push_call,
};

static const vrl_function fn_append = {
    .name = "append",
    .params = append_params,
    .nparams = SL_ARRAY_LEN(append_params),
    .returns = K(VALUE_ARRAY),
    .call = append_call,
};

/* ---- flatten ----------------------------------------------------------- */

/* Nesting deeper than this is refused rather than recursed into: values
 * decoded from JSON stop at 128 levels, so only a pathological program
 * could get here. */
#define FLATTEN_MAX_DEPTH 512

static int flatten_array(arena *a, const value_array *arr, value_array *into, int depth)
{
    if (depth > FLATTEN_MAX_DEPTH)
        return -1;
    for (uint32_t i = 0; i < arr->len; i++) {
        const value *item = &arr->items[i];
        if (item->kind == VALUE_ARRAY) {
            if (flatten_array(a, item->u.arr, into, depth + 1) < 0)
                return -1;
            continue;
        }
        value *slot = value_array_push(a, into);
        if (!slot)
            return -1;
        *slot = *item;
    }
    return 0;
}

/* prefix + sep + key in the arena (just key when there is no prefix). */
static const char *join_key(arena *a, const char *prefix, size_t plen, const char *sep, size_t sn,
                            const char *key, size_t kn, size_t *len)
{
    if (!prefix) {
        *len = kn;
        return key;
    }
    *len = plen + sn + kn;
    char *k = arena_alloc(a, *len ? *len : 1);
    if (!k)
        return NULL;
    memcpy(k, prefix, plen);
    memcpy(k + plen, sep, sn);
    memcpy(k + plen + sn, key, kn);
    return k;
}

static int flatten_map(arena *a, const value_map *m, const char *prefix, size_t plen,
                       const char *sep, size_t sn, vrl_entry_list *into, int depth)
{
    if (depth > FLATTEN_MAX_DEPTH)
        return -1;
    for (uint32_t i = 0; i < m->len; i++) {
        const value_entry *e = &m->entries[i];
        size_t klen;
        const char *key = join_key(a, prefix, plen, sep, sn, e->key, e->klen, &klen);
        if (!key || klen > UINT32_MAX)
            return -1;
        if (e->val.kind == VALUE_MAP) {
            if (flatten_map(a, e->val.u.map, key, klen, sep, sn, into, depth + 1) < 0)
                return -1;
            continue;
        }
        value_entry *slot = vrl_entry_push(a, into);
        if (!slot)
            return -1;
        slot->key = key;
        slot->klen = (uint32_t)klen;
        slot->val = e->val;
    }
    return 0;
}

static int flatten_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    const char *sep;
    size_t sn;
    if (vrl_arg_opt_bytes(&args[1], ".", &sep, &sn, err) < 0)
        return -1;
    if (vrl_utf8_lossy(c->a, &sep, &sn) < 0)
        return sl_fail(err, "out of memory in flatten");
    if (v->kind == VALUE_ARRAY) {
        value result = value_new_array(c->a, v->u.arr->len);
        if (result.kind != VALUE_ARRAY || flatten_array(c->a, v->u.arr, result.u.arr, 0) < 0)
            return sl_fail(err, "unable to flatten: out of memory or nested too deeply");
        *out = result;
        return 0;
    }
    if (v->kind != VALUE_MAP)
        return vrl_expected(err, K(VALUE_ARRAY) | K(VALUE_MAP), v);
    vrl_entry_list list = {NULL, 0, 0};
    if (flatten_map(c->a, v->u.map, NULL, 0, sep, sn, &list, 0) < 0 ||
        vrl_map_from_entries(c->a, list.items, list.len, out) < 0)
        return sl_fail(err, "unable to flatten: out of memory or nested too deeply");
    return 0;
}

static const vrl_param flatten_params[] = {
    {"value", K(VALUE_ARRAY) | K(VALUE_MAP), true},
    {"separator", K(VALUE_BYTES), false},
};

static const vrl_function fn_flatten = {
    .name = "flatten",
    .params = flatten_params,
    .nparams = SL_ARRAY_LEN(flatten_params),
    .returns = K(VALUE_ARRAY) | K(VALUE_MAP),
    .call = flatten_call,
};

const vrl_function *const vrl_collection_functions[] = {
    &fn_length,
    &fn_keys,
    &fn_values,
    &fn_push,
    &fn_append,
    &fn_flatten,
    NULL,
};
