/* value.c - the value tree of log events (see value.h).
 *
 * Maps are arrays of entries kept sorted by key bytes (shorter first on a
 * common prefix), which is the order of Rust's BTreeMap<String, _> and
 * therefore the order Vector prints fields in. Arrays and entry tables grow by
 * doubling inside the arena; when the table is the arena's latest allocation
 * it grows in place. */
#include "pipeline/value.h"

#include <string.h>

#include "pipeline/json.h"

#define VALUE_MIN_CAP 4

value_map *value_map_new(arena *a, uint32_t cap)
{
    value_map *m = arena_alloc(a, sizeof(*m));
    if (!m)
        return NULL;
    m->len = 0;
    m->cap = 0;
    m->entries = NULL;
    if (cap) {
        m->entries = arena_alloc(a, (size_t)cap * sizeof(value_entry));
        if (!m->entries)
            return NULL;
        m->cap = cap;
    }
    return m;
}

value_array *value_array_new(arena *a, uint32_t cap)
{
    value_array *arr = arena_alloc(a, sizeof(*arr));
    if (!arr)
        return NULL;
    arr->len = 0;
    arr->cap = 0;
    arr->items = NULL;
    if (cap) {
        arr->items = arena_alloc(a, (size_t)cap * sizeof(value));
        if (!arr->items)
            return NULL;
        arr->cap = cap;
    }
    return arr;
}

value value_new_map(arena *a, uint32_t cap)
{
    value v = value_null();
    value_map *m = value_map_new(a, cap);
    if (m) {
        v.kind = VALUE_MAP;
        v.u.map = m;
    }
    return v;
}

value value_new_array(arena *a, uint32_t cap)
{
    value v = value_null();
    value_array *arr = value_array_new(a, cap);
    if (arr) {
        v.kind = VALUE_ARRAY;
        v.u.arr = arr;
    }
    return v;
}

typedef struct key_ref {
    const char *key;
    size_t klen;
} key_ref;

static int entry_cmp(const void *elem, const void *key)
{
    const value_entry *e = elem;
    const key_ref *k = key;
    return value_key_compare(e->key, e->klen, k->key, k->klen);
}

/* Index of key in m when found (*found = true), else the index it would be
 * inserted at. */
static uint32_t map_search(const value_map *m, const char *key, size_t klen, bool *found)
{
    key_ref k = {key, klen};
    return (uint32_t)sl_bsearch(m->entries, m->len, sizeof(*m->entries), &k, entry_cmp, found);
}

value_map *value_map_copy_entries(arena *a, const value_map *m, uint32_t extra)
{
    value_map *c = value_map_new(a, m->len + extra);
    if (!c)
        return NULL;
    if (m->len)
        memcpy(c->entries, m->entries, (size_t)m->len * sizeof(value_entry));
    c->len = m->len;
    return c;
}

value *value_map_get(const value_map *m, const char *key, size_t klen)
{
    if (!m || m->len == 0)
        return NULL;
    bool found;
    uint32_t i = map_search(m, key, klen, &found);
    return found ? &m->entries[i].val : NULL;
}

static int map_make_room(arena *a, value_map *m)
{
    if (m->len < m->cap)
        return 0;
    if (m->cap > UINT32_MAX / 2)
        return -1;
    uint32_t cap = m->cap ? m->cap * 2 : VALUE_MIN_CAP;
    value_entry *e = arena_grow(a, m->entries, (size_t)m->cap * sizeof(value_entry),
                                (size_t)cap * sizeof(value_entry));
    if (!e)
        return -1;
    m->entries = e;
    m->cap = cap;
    return 0;
}

value *value_map_put(arena *a, value_map *m, const char *key, size_t klen)
{
    if (klen > UINT32_MAX)
        return NULL;
    bool found;
    uint32_t i = map_search(m, key, klen, &found);
    if (found)
        return &m->entries[i].val;
    if (map_make_room(a, m) < 0)
        return NULL;
    if (i < m->len)
        memmove(&m->entries[i + 1], &m->entries[i], (size_t)(m->len - i) * sizeof(value_entry));
    value_entry *e = &m->entries[i];
    e->key = key;
    e->klen = (uint32_t)klen;
    e->val = value_null();
    m->len++;
    return &e->val;
}

int value_map_put_if_absent(arena *a, value_map *m, const char *key, value v)
{
    size_t klen = strlen(key);
    if (value_map_get(m, key, klen))
        return 0;
    value *slot = value_map_put(a, m, key, klen);
    if (!slot)
        return -1;
    *slot = v;
    return 0;
}

bool value_map_del(value_map *m, const char *key, size_t klen)
{
    if (!m || m->len == 0)
        return false;
    bool found;
    uint32_t i = map_search(m, key, klen, &found);
    if (!found)
        return false;
    memmove(&m->entries[i], &m->entries[i + 1], (size_t)(m->len - i - 1) * sizeof(value_entry));
    m->len--;
    return true;
}

value *value_array_push(arena *a, value_array *arr)
{
    if (arr->len == arr->cap) {
        if (arr->cap > UINT32_MAX / 2)
            return NULL;
        uint32_t cap = arr->cap ? arr->cap * 2 : VALUE_MIN_CAP;
        value *items = arena_grow(a, arr->items, (size_t)arr->cap * sizeof(value),
                                  (size_t)cap * sizeof(value));
        if (!items)
            return NULL;
        arr->items = items;
        arr->cap = cap;
    }
    value *slot = &arr->items[arr->len++];
    *slot = value_null();
    return slot;
}

static const char *copy_bytes(arena *dst, const char *s, size_t n)
{
    if (n == 0)
        return "";
    char *p = arena_alloc(dst, n);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    return p;
}

static int copy_map(arena *dst, const value_map *src, value *out)
{
    value v = value_new_map(dst, src->len);
    if (v.kind != VALUE_MAP)
        return -1;
    value_map *m = v.u.map;
    for (uint32_t i = 0; i < src->len; i++) {
        const value_entry *se = &src->entries[i];
        value_entry *de = &m->entries[i];
        de->key = copy_bytes(dst, se->key, se->klen);
        if (!de->key)
            return -1;
        de->klen = se->klen;
        if (value_copy(dst, &se->val, &de->val) < 0)
            return -1;
        m->len = i + 1;
    }
    *out = v;
    return 0;
}

static int copy_array(arena *dst, const value_array *src, value *out)
{
    value v = value_new_array(dst, src->len);
    if (v.kind != VALUE_ARRAY)
        return -1;
    value_array *arr = v.u.arr;
    for (uint32_t i = 0; i < src->len; i++) {
        if (value_copy(dst, &src->items[i], &arr->items[i]) < 0)
            return -1;
        arr->len = i + 1;
    }
    *out = v;
    return 0;
}

int value_array_pad(arena *a, value_array *arr, uint32_t want, bool front)
{
    uint32_t old = arr->len;
    while (arr->len < want)
        if (!value_array_push(a, arr))
            return -1;
    if (front && old) {
        uint32_t shift = want - old;
        memmove(&arr->items[shift], &arr->items[0], (size_t)old * sizeof(value));
        for (uint32_t i = 0; i < shift; i++)
            arr->items[i] = value_null();
    }
    return 0;
}

int value_copy(arena *dst, const value *src, value *out)
{
    switch (src->kind) {
    case VALUE_BYTES: {
        const char *s = copy_bytes(dst, src->u.s, src->len);
        if (!s)
            return -1;
        *out = value_bytes(s, src->len);
        return 0;
    }
    case VALUE_MAP:
        return copy_map(dst, src->u.map, out);
    case VALUE_ARRAY:
        return copy_array(dst, src->u.arr, out);
    default:
        *out = *src;
        return 0;
    }
}

static bool maps_equal(const value_map *a, const value_map *b)
{
    if (a->len != b->len)
        return false;
    for (uint32_t i = 0; i < a->len; i++) {
        const value_entry *x = &a->entries[i], *y = &b->entries[i];
        if (x->klen != y->klen || (x->klen && memcmp(x->key, y->key, x->klen) != 0))
            return false;
        if (!value_equal(&x->val, &y->val))
            return false;
    }
    return true;
}

static bool arrays_equal(const value_array *a, const value_array *b)
{
    if (a->len != b->len)
        return false;
    for (uint32_t i = 0; i < a->len; i++)
        if (!value_equal(&a->items[i], &b->items[i]))
            return false;
    return true;
}

bool value_equal(const value *a, const value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case VALUE_NULL:
        return true;
    case VALUE_BOOL:
        return a->u.b == b->u.b;
    case VALUE_INT:
        return a->u.i == b->u.i;
    case VALUE_FLOAT:
        return a->u.f == b->u.f;
    case VALUE_TIMESTAMP:
        return a->u.ts == b->u.ts;
    case VALUE_BYTES:
        return a->len == b->len && (a->len == 0 || memcmp(a->u.s, b->u.s, a->len) == 0);
    case VALUE_ARRAY:
        return arrays_equal(a->u.arr, b->u.arr);
    case VALUE_MAP:
        return maps_equal(a->u.map, b->u.map);
    default:
        return false;
    }
}

/* Vector's estimate for integers: the digits plus a sign. */
static size_t int_json_size(int64_t i)
{
    uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    size_t n = i < 0 ? 2 : 1;
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

/* Vector measures a timestamp by the AutoSi RFC 3339 form of the epoch with
 * the same number of fraction digits, plus quotes. */
static size_t timestamp_json_size(int64_t ns)
{
    int64_t frac = ns % 1000000000;
    if (frac < 0)
        frac += 1000000000;
    size_t len;
    if (frac == 0)
        len = sizeof("1970-01-01T00:00:00Z") - 1;
    else if (frac % 1000000 == 0)
        len = sizeof("1970-01-01T00:00:00.000Z") - 1;
    else if (frac % 1000 == 0)
        len = sizeof("1970-01-01T00:00:00.000000Z") - 1;
    else
        len = sizeof("1970-01-01T00:00:00.000000000Z") - 1;
    return len + 2;
}

static size_t float_json_size(double f)
{
    char tmp[JSON_FLOAT_MAX];
    return json_format_float(tmp, f);
}

static size_t map_json_size(const value_map *m)
{
    size_t n = 2;
    for (uint32_t i = 0; i < m->len; i++)
        n += m->entries[i].klen + 2 + 1 + value_json_size_estimate(&m->entries[i].val) + 1;
    return m->len ? n - 1 : n;
}

static size_t array_json_size(const value_array *arr)
{
    size_t n = 2;
    for (uint32_t i = 0; i < arr->len; i++)
        n += value_json_size_estimate(&arr->items[i]) + 1;
    return arr->len ? n - 1 : n;
}

size_t value_json_size_estimate(const value *v)
{
    switch (v->kind) {
    case VALUE_NULL:
        return 4;
    case VALUE_BOOL:
        return v->u.b ? 4 : 5;
    case VALUE_INT:
        return int_json_size(v->u.i);
    case VALUE_FLOAT:
        return float_json_size(v->u.f);
    case VALUE_BYTES:
        return (size_t)v->len + 2;
    case VALUE_TIMESTAMP:
        return timestamp_json_size(v->u.ts);
    case VALUE_ARRAY:
        return array_json_size(v->u.arr);
    case VALUE_MAP:
        return map_json_size(v->u.map);
    default:
        return 0;
    }
}
