/* dedupe.c - the `dedupe` transform: drops a log when an equal one was seen
 * among the last `cache.num_events` distinct logs, as Vector's dedupe does.
 *
 * Logs are compared on `fields.match` (default: message, host, timestamp;
 * a missing field counts as a value of its own) or on every field except
 * `fields.ignore` (an ignored field takes everything under it along). Two
 * values are equal when their types and contents are, as in Vector (1 and
 * "1" differ).
 *
 * The cache holds a 64-bit fingerprint of the compared values instead of the
 * values themselves: memory stays at 40 bytes an entry whatever the logs
 * hold. Two different logs are mistaken for each other only when their
 * fingerprints collide, about once in 2^64 / num_events logs (for the
 * default 5000, never in practice). A duplicate refreshes its entry, as
 * Vector's cache does. Dropped duplicates count as discarded on purpose.
 * Stateful: the runtime runs it one batch at a time. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/component.h"
#include "pipeline/path.h"
#include "transforms/lru.h"
#include "transforms/xf.h"

typedef struct dedupe_options {
    opt_list match;
    opt_list ignore;
    uint64_t num_events;
} dedupe_options;

static const opt_spec fields_table[] = {
    OPT_LIST_ROW("match", dedupe_options, match,
        .help = "Compare logs on these fields only (default: message, host, timestamp)."),
    OPT_LIST_ROW("ignore", dedupe_options, ignore,
        .help = "Compare logs on all their fields except these."),
    OPT_END,
};

static const opt_spec cache_table[] = {
    OPT_UINT_ROW("num_events", dedupe_options, num_events, .def = "5000", OPT_RANGE(1, 1 << 30),
        .help = "How many distinct logs to remember."),
    OPT_END,
};

static const opt_spec dedupe_table[] = {
    OPT_OBJECT_ROW("fields", fields_table, .help = "Which fields make logs equal."),
    OPT_OBJECT_ROW("cache", cache_table, .help = "The cache of logs seen."),
    OPT_END,
};

static const char *const default_match[] = {EVENT_FIELD_MESSAGE, EVENT_FIELD_HOST,
                                            EVENT_FIELD_TIMESTAMP};

typedef struct dedupe_state {
    xf_ctx ctx;
    bool ignore_mode;
    path *paths;
    size_t npaths;
    lru *cache;
} dedupe_state;

static size_t dedupe_check(const void *options, const char *label, const cfg_node *node,
                           diag_list *diags)
{
    const dedupe_options *o = options;
    size_t errors = 0;
    if (opt_set(node, "fields.match") && opt_set(node, "fields.ignore")) {
        diag_add(diags, DIAG_ERROR, cfg_map_get(node, "fields"), label,
                 "give either fields.match or fields.ignore, not both");
        errors++;
    }
    const opt_list *l = o->ignore.n ? &o->ignore : &o->match;
    for (size_t i = 0; i < l->n; i++) {
        path p;
        sl_error err = {{0}};
        if (path_parse(l->items[i], &p, &err) < 0) {
            diag_add(diags, DIAG_ERROR, cfg_map_get(node, "fields"), label,
                     "field \"%s\": %s", l->items[i], err.msg);
            errors++;
        } else {
            path_free(&p);
        }
    }
    return errors;
}

static void dedupe_destroy(void *state)
{
    dedupe_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->npaths; i++)
        path_free(&s->paths[i]);
    free(s->paths);
    lru_free(s->cache);
    free(s);
}

static int dedupe_build(const void *options, const component_info *info, void **state,
                        sl_error *err)
{
    const dedupe_options *o = options;
    dedupe_state *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    xf_ctx_init(&s->ctx, info);
    s->ignore_mode = o->ignore.n > 0;
    const char *const *names = s->ignore_mode ? (const char *const *)o->ignore.items
                               : o->match.n ? (const char *const *)o->match.items
                                            : default_match;
    size_t n = s->ignore_mode ? o->ignore.n : o->match.n ? o->match.n
                                                         : SL_ARRAY_LEN(default_match);
    s->paths = calloc(n, sizeof(*s->paths));
    s->cache = lru_new(o->num_events);
    if (!s->paths || !s->cache) {
        dedupe_destroy(s);
        return sl_fail(err, "out of memory for a cache of %llu events",
                       (unsigned long long)o->num_events);
    }
    for (size_t i = 0; i < n; i++) {
        if (path_parse(names[i], &s->paths[i], err) < 0) {
            dedupe_destroy(s);
            return -1;
        }
        s->npaths++;
    }
    *state = s;
    return 0;
}

/* ---- fingerprints ---- */

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
    return xf_hash(h, &v, sizeof(v));
}

static uint64_t hash_value(uint64_t h, const value *v)
{
    h = xf_hash(h, &v->kind, 1);
    switch (v->kind) {
    case VALUE_BOOL: return xf_hash(h, &v->u.b, 1);
    case VALUE_INT: return hash_u64(h, (uint64_t)v->u.i);
    case VALUE_TIMESTAMP: return hash_u64(h, (uint64_t)v->u.ts);
    case VALUE_FLOAT: {
        double f = v->u.f == 0.0 ? 0.0 : v->u.f;   /* -0.0 equals 0.0 */
        return xf_hash(h, &f, sizeof(f));
    }
    case VALUE_BYTES: return xf_hash(hash_u64(h, v->len), v->u.s, v->len);
    case VALUE_ARRAY:
        h = hash_u64(h, v->u.arr->len);
        for (uint32_t i = 0; i < v->u.arr->len; i++)
            h = hash_value(h, &v->u.arr->items[i]);
        return h;
    case VALUE_MAP:
        h = hash_u64(h, v->u.map->len);
        for (uint32_t i = 0; i < v->u.map->len; i++) {
            const value_entry *e = &v->u.map->entries[i];
            h = xf_hash(hash_u64(h, e->klen), e->key, e->klen);
            h = hash_value(h, &e->val);
        }
        return h;
    default:
        return h;
    }
}

/* The key or index path from the root to the value being hashed. */
typedef struct walk {
    const path *ignored;
    size_t nignored;
    path_segment stack[64];
    size_t depth;
} walk;

static bool segment_equal(const path_segment *a, const path_segment *b)
{
    if (a->is_index != b->is_index)
        return false;
    if (a->is_index)
        return a->index == b->index;
    return a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0;
}

/* Whether the current path is an ignored one. Negative indexes in an
 * ignored path count from the end of the array being walked. */
static bool is_ignored(const walk *w, const uint32_t *lens)
{
    for (size_t i = 0; i < w->nignored; i++) {
        const path *p = &w->ignored[i];
        if (p->n != w->depth)
            continue;
        bool same = true;
        for (size_t d = 0; d < p->n && same; d++) {
            path_segment seg = p->segs[d];
            if (seg.is_index && seg.index < 0)
                seg.index += lens[d];
            same = segment_equal(&seg, &w->stack[d]);
        }
        if (same)
            return true;
    }
    return false;
}

static uint64_t hash_walk(walk *w, uint64_t h, const value *v, uint32_t *lens)
{
    if ((v->kind != VALUE_MAP && v->kind != VALUE_ARRAY) ||
        w->depth >= SL_ARRAY_LEN(w->stack))
        return hash_value(h, v);
    bool is_map = v->kind == VALUE_MAP;
    uint32_t n = is_map ? v->u.map->len : v->u.arr->len;
    h = xf_hash(h, &v->kind, 1);
    lens[w->depth] = n;
    for (uint32_t i = 0; i < n; i++) {
        path_segment *seg = &w->stack[w->depth];
        const value *child;
        if (is_map) {
            const value_entry *e = &v->u.map->entries[i];
            *seg = (path_segment){false, 0, (char *)e->key, e->klen};
            child = &e->val;
        } else {
            *seg = (path_segment){true, i, NULL, 0};
            child = &v->u.arr->items[i];
        }
        w->depth++;
        if (!is_ignored(w, lens)) {
            h = is_map ? xf_hash(hash_u64(h, seg->klen), seg->key, seg->klen)
                       : hash_u64(h, i);
            h = hash_walk(w, h, child, lens);
        }
        w->depth--;
    }
    return h;
}

static uint64_t fingerprint(const dedupe_state *s, const event *e)
{
    uint64_t h = XF_HASH_INIT;
    if (s->ignore_mode) {
        walk w = {s->paths, s->npaths, {{0}}, 0};
        uint32_t lens[SL_ARRAY_LEN(w.stack)];
        return xf_hash_finish(hash_walk(&w, h, &e->u.log, lens));
    }
    for (size_t i = 0; i < s->npaths; i++) {
        const value *v = path_get(&e->u.log, &s->paths[i]);
        uint8_t present = v != NULL;
        h = xf_hash(h, &present, 1);
        if (v)
            h = hash_value(h, v);
    }
    return xf_hash_finish(h);
}

static int dedupe_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    SL_UNUSED(em);
    dedupe_state *s = state;
    if (b->count == 0)
        return 0;
    bool *keep = arena_alloc(b->arena, b->count * sizeof(*keep));
    if (!keep)
        return sl_fail(err, "out of memory deduplicating %u events", b->count);
    uint64_t dropped = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        const event *e = &b->events[i];
        keep[i] = true;
        if (e->type != EVENT_LOG)
            continue;
        uint64_t fp = fingerprint(s, e);
        if (lru_get(s->cache, fp)) {
            keep[i] = false;
            dropped++;
        } else {
            lru_insert(s->cache, fp, 0);
        }
    }
    if (dropped)
        batch_compact(b, keep);
    xf_count_discarded(&s->ctx, true, dropped);
    return 0;
}

const component_desc transform_dedupe_desc = {
    .type = "dedupe",
    .kind = COMPONENT_TRANSFORM,
    .summary = "Drops logs equal to one seen recently.",
    .options = dedupe_table,
    .options_size = sizeof(dedupe_options),
    .input_types = EVENT_LOG,
    .output_types = 0,
    .stateless = false,
    .check = dedupe_check,
    .keeps_fields = true,
    .build = dedupe_build,
    .destroy = dedupe_destroy,
    .transform_process = dedupe_process,
};
