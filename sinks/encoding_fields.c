/* encoding_fields.c - Vector's sink `encoding` transformer:
 * `only_fields`, `except_fields` and `timestamp_format`, applied to a log
 * before its sink's codec encodes it (the HTTP sinks, kafka).
 *
 * The event itself is shared with other sinks and may be encoded again on a
 * retry, so it is never changed: the engine gets a view of it in a scratch
 * arena, where only the maps and arrays on the way to a change are copied
 * (shallowly) and everything else is the event's own. */
#include "sinks/encoding_fields.h"

#include "pipeline/arena.h"

#include <stdlib.h>
#include <string.h>

enum { TS_RFC3339 = 0, TS_UNIX, TS_UNIX_MS, TS_UNIX_US, TS_UNIX_NS, TS_UNIX_FLOAT };

const opt_enum_value encoding_timestamp_format_values[] = {
    {"rfc3339", TS_RFC3339},
    {"unix", TS_UNIX},
    {"unix_ms", TS_UNIX_MS},
    {"unix_us", TS_UNIX_US},
    {"unix_ns", TS_UNIX_NS},
    {"unix_float", TS_UNIX_FLOAT},
    {NULL, 0},
};

/* Events encoded in one scratch arena before it is replaced: it has no
 * reset, and a view is garbage once its event is encoded. */
#define SCRATCH_EVENTS 4096

static int parse_paths(const opt_list *l, path **out, size_t *n, sl_error *err)
{
    *out = NULL;
    *n = 0;
    if (!l->n)
        return 0;
    *out = calloc(l->n, sizeof(**out));
    if (!*out)
        return sl_fail(err, "out of memory");
    for (size_t i = 0; i < l->n; i++) {
        if (path_parse(l->items[i], &(*out)[i], err) < 0)
            return -1;
        (*n)++;
    }
    return 0;
}

int encoding_fields_init(encoding_fields *f, const opt_list *only, const opt_list *except,
                         int timestamp_format, sl_error *err)
{
    memset(f, 0, sizeof(*f));
    f->timestamp_format = timestamp_format;
    if (parse_paths(only, &f->only, &f->nonly, err) < 0 ||
        parse_paths(except, &f->except, &f->nexcept, err) < 0) {
        encoding_fields_free(f);
        return -1;
    }
    f->active = f->nonly || f->nexcept || f->timestamp_format != TS_RFC3339;
    return 0;
}

void encoding_fields_free(encoding_fields *f)
{
    for (size_t i = 0; i < f->nonly; i++)
        path_free(&f->only[i]);
    for (size_t i = 0; i < f->nexcept; i++)
        path_free(&f->except[i]);
    free(f->only);
    free(f->except);
    arena_free(f->scratch);
    memset(f, 0, sizeof(*f));
}

static value_array *copy_array(arena *a, const value_array *arr)
{
    value_array *c = value_array_new(a, arr->len + 1);
    if (!c)
        return NULL;
    if (arr->len)
        memcpy(c->items, arr->items, (size_t)arr->len * sizeof(value));
    c->len = arr->len;
    return c;
}

/* only_fields: a new root with just the values at the paths, in the shape
 * they had (intermediate maps are new; the values themselves shared). */
static int keep_only(arena *a, const encoding_fields *f, const value *root, value *out)
{
    *out = value_new_map(a, (uint32_t)f->nonly);
    if (out->kind != VALUE_MAP)
        return -1;
    for (size_t i = 0; i < f->nonly; i++) {
        const value *v = path_get(root, &f->only[i]);
        if (!v)
            continue;
        value *slot = path_set(a, out, &f->only[i]);
        if (!slot)
            return -1;
        *slot = *v;
    }
    return 0;
}

/* except_fields: the value at segs[0..n) taken out of m, a map of the
 * view's own, copying the containers below it that must change. */
static int remove_path(arena *a, value_map *m, const path_segment *segs, size_t n)
{
    if (segs[0].is_index)
        return 0;
    if (n == 1) {
        value_map_del(m, segs[0].key, segs[0].klen);
        return 0;
    }
    value *child = value_map_get(m, segs[0].key, segs[0].klen);
    if (!child)
        return 0;
    if (child->kind == VALUE_MAP) {
        value_map *c = value_map_copy_entries(a, child->u.map, 1);
        if (!c)
            return -1;
        child->u.map = c;
        return remove_path(a, c, segs + 1, n - 1);
    }
    if (child->kind == VALUE_ARRAY && segs[1].is_index && n > 2) {
        value_array *c = copy_array(a, child->u.arr);
        if (!c)
            return -1;
        child->u.arr = c;
        int64_t i = segs[1].index < 0 ? segs[1].index + (int64_t)c->len : segs[1].index;
        if (i < 0 || i >= (int64_t)c->len || c->items[i].kind != VALUE_MAP)
            return 0;
        value_map *item = value_map_copy_entries(a, c->items[i].u.map, 1);
        if (!item)
            return -1;
        c->items[i].u.map = item;
        return remove_path(a, item, segs + 2, n - 2);
    }
    return 0;
}

static bool has_timestamp(const value *v)
{
    if (v->kind == VALUE_TIMESTAMP)
        return true;
    if (v->kind == VALUE_MAP) {
        for (uint32_t i = 0; i < v->u.map->len; i++)
            if (has_timestamp(&v->u.map->entries[i].val))
                return true;
    } else if (v->kind == VALUE_ARRAY) {
        for (uint32_t i = 0; i < v->u.arr->len; i++)
            if (has_timestamp(&v->u.arr->items[i]))
                return true;
    }
    return false;
}

static value formatted_timestamp(int64_t ns, int format)
{
    switch (format) {
    case TS_UNIX:
        return value_int(ns >= 0 ? ns / NS_PER_SEC : -((-ns + NS_PER_SEC - 1) / NS_PER_SEC));
    case TS_UNIX_MS:
        return value_int(ns >= 0 ? ns / NS_PER_MS : -((-ns + NS_PER_MS - 1) / NS_PER_MS));
    case TS_UNIX_US:
        return value_int(ns >= 0 ? ns / 1000 : -((-ns + 999) / 1000));
    case TS_UNIX_NS:
        return value_int(ns);
    default:
        return value_float((double)ns / (double)NS_PER_SEC);
    }
}

/* timestamp_format: every timestamp under *v (a value of the view's own)
 * in the format, copying the containers on the way to one. */
static int format_timestamps(arena *a, value *v, int format)
{
    if (v->kind == VALUE_TIMESTAMP) {
        *v = formatted_timestamp(v->u.ts, format);
        return 0;
    }
    if (!has_timestamp(v))
        return 0;
    if (v->kind == VALUE_MAP) {
        value_map *c = value_map_copy_entries(a, v->u.map, 1);
        if (!c)
            return -1;
        v->u.map = c;
        for (uint32_t i = 0; i < c->len; i++)
            if (format_timestamps(a, &c->entries[i].val, format) < 0)
                return -1;
    } else {
        value_array *c = copy_array(a, v->u.arr);
        if (!c)
            return -1;
        v->u.arr = c;
        for (uint32_t i = 0; i < c->len; i++)
            if (format_timestamps(a, &c->items[i], format) < 0)
                return -1;
    }
    return 0;
}

static arena *scratch_arena(encoding_fields *f)
{
    if (f->scratch && ++f->scratch_uses < SCRATCH_EVENTS)
        return f->scratch;
    arena_free(f->scratch);
    f->scratch = arena_new();
    f->scratch_uses = 0;
    return f->scratch;
}

const event *encoding_fields_apply(encoding_fields *f, const event *e, event *view)
{
    if (!f->active || e->type != EVENT_LOG || e->u.log.kind != VALUE_MAP)
        return e;
    arena *a = scratch_arena(f);
    if (!a)
        return NULL;
    *view = *e;
    value root;
    if (f->nonly) {
        if (keep_only(a, f, &e->u.log, &root) < 0)
            return NULL;
    } else {
        value_map *m = value_map_copy_entries(a, e->u.log.u.map, 1);
        if (!m)
            return NULL;
        root = e->u.log;
        root.u.map = m;
    }
    for (size_t i = 0; i < f->nexcept; i++)
        if (f->except[i].n > 0 &&
            remove_path(a, root.u.map, f->except[i].segs, f->except[i].n) < 0)
            return NULL;
    if (f->timestamp_format != TS_RFC3339 && format_timestamps(a, &root, f->timestamp_format) < 0)
        return NULL;
    view->u.log = root;
    return view;
}
