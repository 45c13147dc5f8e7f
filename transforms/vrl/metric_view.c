/* metric_view.c - a metric event as the map a remap program sees (see
 * program.h).
 *
 * As in Vector, a program reads and writes `.name`, `.namespace`, `.tags`
 * (an object of strings; a bare tag is null), `.kind` ("incremental" or
 * "absolute") and `.timestamp`; `.type` is read-only. The run works on a
 * map built from the metric and the metric changes only once the program
 * succeeded and every field still holds something a metric can hold, so a
 * failed run leaves the metric as it was without a journal. Strings that did
 * not change are not copied again. */
#include <string.h>

#include "transforms/vrl/fn_util.h"
#include "transforms/vrl/program.h"

static int put(arena *a, value_map *m, const char *key, value v)
{
    value *slot = value_map_put(a, m, key, strlen(key));
    if (!slot)
        return -1;
    *slot = v;
    return 0;
}

static value c_string(const char *s)
{
    return value_bytes(s, strlen(s));
}

static int tags_view(arena *a, const metric *m, value *out)
{
    *out = value_new_map(a, m->ntags);
    if (out->kind != VALUE_MAP)
        return -1;
    for (uint32_t i = 0; i < m->ntags; i++) {
        const metric_tag *t = &m->tags[i];
        value v = t->value ? c_string(t->value) : value_null();
        if (put(a, out->u.map, t->key, v) < 0)
            return -1;
    }
    return 0;
}

int vrl_metric_view(arena *a, const metric *m, value *out)
{
    *out = value_new_map(a, 6);
    if (out->kind != VALUE_MAP)
        return -1;
    value_map *map = out->u.map;
    if (put(a, map, "name", c_string(m->name)) < 0 ||
        put(a, map, "kind", c_string(metric_kind_name(m->kind))) < 0 ||
        put(a, map, "type", c_string(metric_type_name(m->type))) < 0)
        return -1;
    if (m->namespace_ && put(a, map, "namespace", c_string(m->namespace_)) < 0)
        return -1;
    if (m->has_timestamp && put(a, map, "timestamp", value_timestamp(m->timestamp)) < 0)
        return -1;
    if (m->ntags) {
        value tags;
        if (tags_view(a, m, &tags) < 0 || put(a, map, "tags", tags) < 0)
            return -1;
    }
    return 0;
}

/* ---- writing back -------------------------------------------------------- */

/* What the view says the metric should become. */
typedef struct metric_update {
    const value *name, *namespace_, *kind, *type, *timestamp, *tags;
} metric_update;

static const value *field(const value_map *m, const char *key)
{
    const value *v = value_map_get(m, key, strlen(key));
    return v && v->kind != VALUE_NULL ? v : NULL;
}

static bool is_known_field(const value_entry *e)
{
    static const char *const known[] = {"name", "namespace", "kind", "type", "timestamp", "tags"};
    for (size_t i = 0; i < SL_ARRAY_LEN(known); i++)
        if (strlen(known[i]) == e->klen && memcmp(known[i], e->key, e->klen) == 0)
            return true;
    return false;
}

static bool bytes_are(const value *v, const char *s)
{
    return v->kind == VALUE_BYTES && v->len == strlen(s) && memcmp(v->u.s, s, v->len) == 0;
}

static int check_tags(const value *tags, sl_error *err)
{
    if (tags->kind != VALUE_MAP)
        return sl_fail(err, "metric tags must be an object, got %s", vrl_kind_name(tags->kind));
    for (uint32_t i = 0; i < tags->u.map->len; i++) {
        const value_entry *e = &tags->u.map->entries[i];
        if (e->val.kind != VALUE_BYTES && e->val.kind != VALUE_NULL)
            return sl_fail(err, "metric tag \"%.*s\" must be a string, got %s", (int)e->klen,
                           e->key, vrl_kind_name(e->val.kind));
    }
    return 0;
}

static int read_update(const metric *m, const value_map *view, metric_update *u, sl_error *err)
{
    for (uint32_t i = 0; i < view->len; i++)
        if (!is_known_field(&view->entries[i]))
            return sl_fail(err, "a metric has no field \"%.*s\"", (int)view->entries[i].klen,
                           view->entries[i].key);
    u->name = field(view, "name");
    u->namespace_ = field(view, "namespace");
    u->kind = field(view, "kind");
    u->type = field(view, "type");
    u->timestamp = field(view, "timestamp");
    u->tags = field(view, "tags");
    if (!u->name || u->name->kind != VALUE_BYTES || u->name->len == 0)
        return sl_fail(err, "metric name must be a non-empty string");
    if (u->namespace_ && u->namespace_->kind != VALUE_BYTES)
        return sl_fail(err, "metric namespace must be a string, got %s",
                       vrl_kind_name(u->namespace_->kind));
    if (!u->kind || !(bytes_are(u->kind, "incremental") || bytes_are(u->kind, "absolute")))
        return sl_fail(err, "metric kind must be \"incremental\" or \"absolute\"");
    if (u->type && !bytes_are(u->type, metric_type_name(m->type)))
        return sl_fail(err, "metric type is read-only");
    if (u->timestamp && u->timestamp->kind != VALUE_TIMESTAMP)
        return sl_fail(err, "metric timestamp must be a timestamp, got %s",
                       vrl_kind_name(u->timestamp->kind));
    return u->tags ? check_tags(u->tags, err) : 0;
}

/* The string as the metric keeps it (NUL-terminated), reusing `old` when
 * the text did not change. */
static const char *metric_string(arena *a, const value *v, const char *old)
{
    if (old && bytes_are(v, old))
        return old;
    return arena_strndup(a, v->u.s, v->len);
}

static bool tags_unchanged(const metric *m, const value *tags)
{
    uint32_t n = tags ? tags->u.map->len : 0;
    if (n != m->ntags)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        const value_entry *e = &tags->u.map->entries[i];
        const metric_tag *t = &m->tags[i];
        bool same_key = strlen(t->key) == e->klen && memcmp(t->key, e->key, e->klen) == 0;
        bool same_value = t->value ? bytes_are(&e->val, t->value) : e->val.kind == VALUE_NULL;
        if (!same_key || !same_value)
            return false;
    }
    return true;
}

/* Map keys are sorted, and keys are unique, so the tags come out sorted by
 * key as the metric model wants. */
static int rebuild_tags(arena *a, metric *m, const value *tags)
{
    uint32_t n = tags ? tags->u.map->len : 0;
    metric_tag *t = n ? arena_alloc(a, n * sizeof(*t)) : NULL;
    if (n && !t)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const value_entry *e = &tags->u.map->entries[i];
        t[i].key = arena_strndup(a, e->key, e->klen);
        t[i].value = e->val.kind == VALUE_NULL ? NULL : arena_strndup(a, e->val.u.s, e->val.len);
        if (!t[i].key || (e->val.kind != VALUE_NULL && !t[i].value))
            return -1;
    }
    m->tags = t;
    m->ntags = n;
    return 0;
}

int vrl_metric_apply(arena *a, metric *m, const value *view, sl_error *err)
{
    if (view->kind != VALUE_MAP)
        return sl_fail(err, "a metric must stay an object");
    metric_update u = {0};
    if (read_update(m, view->u.map, &u, err) < 0)
        return -1;
    const char *name = metric_string(a, u.name, m->name);
    const char *ns = u.namespace_ ? metric_string(a, u.namespace_, m->namespace_) : NULL;
    if (!name || (u.namespace_ && !ns))
        return sl_fail(err, "out of memory");
    if (!tags_unchanged(m, u.tags) && rebuild_tags(a, m, u.tags) < 0)
        return sl_fail(err, "out of memory");
    m->name = name;
    m->namespace_ = ns;
    m->kind = bytes_are(u.kind, "absolute") ? METRIC_ABSOLUTE : METRIC_INCREMENTAL;
    m->has_timestamp = u.timestamp != NULL;
    if (u.timestamp)
        m->timestamp = u.timestamp->u.ts;
    return 0;
}
