/* store.c - how a run writes into the event and its variables, and how a
 * failed run is undone (see program.h).
 *
 * Unchanged on error. Vector runs a remap program on a copy of the event and
 * emits the original when the program fails or aborts. Copying every event
 * would cost more than most programs, so a run instead keeps a journal: the
 * first time it is about to change a map or array of the event, it saves
 * that container's entry table (a memcpy of its live entries into the
 * batch's arena); the event's roots are saved when the run starts. Undoing
 * restores every saved table in reverse order. Containers the run created
 * are marked fresh and never saved. The arena never frees or reuses memory
 * during a batch, so a saved table and everything it points at stay valid,
 * and a table that moved when it grew is simply pointed back at. Programs
 * that never write the event (filters, routes) keep no journal at all.
 *
 * Value semantics. VRL values are copied on assignment: after `.b = .a`,
 * changing `.b.x` must not change `.a.x`. Containers are therefore copied
 * (the tree of maps and arrays, never the string bytes, which nothing
 * mutates) whenever they are stored into the event, a variable or a new
 * container, unless the expression that produced them built them just now
 * (node->fresh). No container is ever reachable from two places, so writing
 * through a path only ever touches what that path owns.
 *
 * Strings are never copied: nothing mutates them, and string literals and
 * new field names may stay in the program, which outlives the events it ran
 * on (vrl.h). */
#include <string.h>

#include "pipeline/path.h"
#include "transforms/vrl/fn_util.h"
#include "transforms/vrl/program.h"

#define NEW_MAP_CAP 4
/* Deeper than any JSON the codec accepts (128). */
#define OWN_MAX_DEPTH 256

static vrl_status out_of_memory(vrl_ctx *cx)
{
    return vrl_raise(cx, "out of memory");
}

value *vrl_place_root(vrl_ctx *cx, const vrl_place *p)
{
    switch (p->root) {
    case PLACE_EVENT: return cx->root;
    case PLACE_META: return cx->meta;
    case PLACE_VAR: return &cx->vars[p->var];
    default: return NULL;
    }
}

const value *vrl_walk(const value *root, const vrl_seg *segs, uint32_t n)
{
    const value *cur = root;
    for (uint32_t i = 0; i < n && cur; i++)
        cur = path_step(cur, segs[i].is_index, segs[i].index, segs[i].key, segs[i].klen);
    return cur;
}

/* ---- the journal --------------------------------------------------------- */

void vrl_journal_begin(vrl_ctx *cx)
{
    vrl_journal *j = &cx->journal;
    j->enabled = cx->prog->journal;
    j->n = 0;
    j->cap = VRL_UNDO_INLINE;
    j->entries = j->inline_entries;
    if (!j->enabled)
        return;
    if (cx->e->type == EVENT_LOG)
        j->log = cx->e->u.log;
    j->meta = cx->e->meta;
}

static vrl_undo *undo_find(vrl_journal *j, const void *container)
{
    for (uint32_t i = 0; i < j->n; i++)
        if (j->entries[i].container == container)
            return &j->entries[i];
    return NULL;
}

static vrl_undo *undo_push(vrl_ctx *cx)
{
    vrl_journal *j = &cx->journal;
    if (j->n == j->cap) {
        uint32_t cap = j->cap * 2;
        vrl_undo *e = arena_alloc(cx->a, cap * sizeof(*e));
        if (!e)
            return NULL;
        memcpy(e, j->entries, j->n * sizeof(*e));
        j->entries = e;
        j->cap = cap;
    }
    vrl_undo *u = &j->entries[j->n++];
    memset(u, 0, sizeof(*u));
    return u;
}

/* Saves a container's table before its first change in this run. */
static int remember(vrl_ctx *cx, void *container, bool is_map)
{
    if (undo_find(&cx->journal, container))
        return 0;
    uint32_t len = is_map ? ((value_map *)container)->len : ((value_array *)container)->len;
    uint32_t cap = is_map ? ((value_map *)container)->cap : ((value_array *)container)->cap;
    void *items = is_map ? (void *)((value_map *)container)->entries
                         : (void *)((value_array *)container)->items;
    size_t size = (size_t)len * (is_map ? sizeof(value_entry) : sizeof(value));
    void *saved = NULL;
    if (size) {
        saved = arena_alloc(cx->a, size);
        if (!saved)
            return -1;
        memcpy(saved, items, size);
    }
    vrl_undo *u = undo_push(cx);
    if (!u)
        return -1;
    u->container = container;
    u->is_map = is_map;
    u->len = len;
    u->cap = cap;
    u->items = items;
    u->saved = saved;
    return 0;
}

/* A container this run created: nothing to save, and no need to look. */
static int remember_fresh(vrl_ctx *cx, void *container)
{
    vrl_undo *u = undo_push(cx);
    if (!u)
        return -1;
    u->container = container;
    u->fresh = true;
    return 0;
}

static void restore(const vrl_undo *u)
{
    size_t size = (size_t)u->len * (u->is_map ? sizeof(value_entry) : sizeof(value));
    if (size)
        memcpy(u->items, u->saved, size);
    if (u->is_map) {
        value_map *m = u->container;
        m->entries = u->items;
        m->len = u->len;
        m->cap = u->cap;
    } else {
        value_array *a = u->container;
        a->items = u->items;
        a->len = u->len;
        a->cap = u->cap;
    }
}

void vrl_journal_rollback(vrl_ctx *cx)
{
    vrl_journal *j = &cx->journal;
    if (!j->enabled)
        return;
    for (uint32_t i = j->n; i-- > 0;)
        if (!j->entries[i].fresh)
            restore(&j->entries[i]);
    if (cx->e->type == EVENT_LOG)
        cx->e->u.log = j->log;
    cx->e->meta = j->meta;
    j->n = 0;
}

static bool journaled(const vrl_ctx *cx, const vrl_place *p)
{
    return cx->journal.enabled && (p->root == PLACE_EVENT || p->root == PLACE_META);
}

/* ---- owning values ------------------------------------------------------- */

static vrl_status own_tree(vrl_ctx *cx, value *v, int depth);

static vrl_status copy_map(vrl_ctx *cx, value *v, int depth)
{
    const value_map *src = v->u.map;
    value copy = value_new_map(cx->a, src->len);
    if (copy.kind != VALUE_MAP)
        return out_of_memory(cx);
    value_map *m = copy.u.map;
    for (uint32_t i = 0; i < src->len; i++) {
        value_entry *e = &m->entries[i];
        *e = src->entries[i];
        m->len = i + 1;
        vrl_status st = own_tree(cx, &e->val, depth + 1);
        if (st != VRL_OK)
            return st;
    }
    *v = copy;
    return VRL_OK;
}

static vrl_status copy_array(vrl_ctx *cx, value *v, int depth)
{
    const value_array *src = v->u.arr;
    value copy = value_new_array(cx->a, src->len);
    if (copy.kind != VALUE_ARRAY)
        return out_of_memory(cx);
    value_array *arr = copy.u.arr;
    for (uint32_t i = 0; i < src->len; i++) {
        arr->items[i] = src->items[i];
        arr->len = i + 1;
        vrl_status st = own_tree(cx, &arr->items[i], depth + 1);
        if (st != VRL_OK)
            return st;
    }
    *v = copy;
    return VRL_OK;
}

static vrl_status own_tree(vrl_ctx *cx, value *v, int depth)
{
    if (depth > OWN_MAX_DEPTH)
        return vrl_raise(cx, "value nests deeper than %d levels", OWN_MAX_DEPTH);
    switch (v->kind) {
    case VALUE_MAP:
        return copy_map(cx, v, depth);
    case VALUE_ARRAY:
        return copy_array(cx, v, depth);
    default:
        return VRL_OK;
    }
}

vrl_status vrl_own(vrl_ctx *cx, value *v, bool fresh)
{
    if (fresh || (v->kind != VALUE_MAP && v->kind != VALUE_ARRAY))
        return VRL_OK;
    return own_tree(cx, v, 0);
}

/* ---- writing ------------------------------------------------------------- */

static value *field_slot(vrl_ctx *cx, value *cur, const vrl_seg *s, bool journal)
{
    if (cur->kind != VALUE_MAP) {
        value m = value_new_map(cx->a, NEW_MAP_CAP);
        if (m.kind != VALUE_MAP || (journal && remember_fresh(cx, m.u.map) < 0))
            return NULL;
        *cur = m;
    } else if (journal && remember(cx, cur->u.map, true) < 0) {
        return NULL;
    }
    return value_map_put(cx->a, cur->u.map, s->key, s->klen);
}

/* Arrays grow to at most this many items through an index assignment. */
#define MAX_INDEX_PAD (1u << 20)

static value *index_slot(vrl_ctx *cx, value *cur, const vrl_seg *s, bool journal)
{
    if (cur->kind != VALUE_ARRAY) {
        value a = value_new_array(cx->a, 0);
        if (a.kind != VALUE_ARRAY || (journal && remember_fresh(cx, a.u.arr) < 0))
            return NULL;
        *cur = a;
    } else if (journal && remember(cx, cur->u.arr, false) < 0) {
        return NULL;
    }
    value_array *arr = cur->u.arr;
    int64_t idx = s->index;
    if (idx >= 0) {
        if (idx >= (int64_t)arr->len) {
            if (idx >= MAX_INDEX_PAD || value_array_pad(cx->a, arr, (uint32_t)idx + 1, false) < 0)
                return NULL;
        }
        return &arr->items[idx];
    }
    if (-idx <= (int64_t)arr->len)
        return &arr->items[(int64_t)arr->len + idx];
    if (-idx >= MAX_INDEX_PAD || value_array_pad(cx->a, arr, (uint32_t)-idx, true) < 0)
        return NULL;
    return &arr->items[0];
}

/* The slot for the place, created as VRL assignment creates it. */
static value *slot_for_write(vrl_ctx *cx, const vrl_place *p)
{
    bool journal = journaled(cx, p);
    value *cur = vrl_place_root(cx, p);
    for (uint32_t i = 0; i < p->nsegs && cur; i++) {
        const vrl_seg *s = &p->segs[i];
        cur = s->is_index ? index_slot(cx, cur, s, journal) : field_slot(cx, cur, s, journal);
    }
    return cur;
}

static bool is_event_root(const vrl_place *p)
{
    return p->nsegs == 0 && (p->root == PLACE_EVENT || p->root == PLACE_META);
}

vrl_status vrl_place_store(vrl_ctx *cx, const vrl_place *p, value v)
{
    if (is_event_root(p) && v.kind != VALUE_MAP)
        return vrl_raise(cx, "the event root must be an object, got %s", vrl_kind_name(v.kind));
    value *slot = slot_for_write(cx, p);
    if (!slot)
        return vrl_raise(cx, "can't assign: out of memory or index too large");
    *slot = v;
    return VRL_OK;
}

/* The order value.c keeps map entries in: by bytes, the shorter first on a
 * common prefix. */
static int key_order(const value_entry *a, const value_entry *b)
{
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n ? memcmp(a->key, b->key, n) : 0;
    if (c)
        return c;
    return (a->klen > b->klen) - (a->klen < b->klen);
}

/* Both tables are sorted, so the merged one is built in a single pass, with
 * no search and no shifting: `. |= parse_regex!(...)` adds its fields for
 * the price of one copy of the event's table. The old table is left as it
 * was (the journal may point back at it). */
static vrl_status merge_sorted(vrl_ctx *cx, value_map *m, const value_map *src)
{
    size_t cap = (size_t)m->len + src->len;
    if (cap > UINT32_MAX)
        return out_of_memory(cx);
    value_entry *out = arena_alloc(cx->a, (cap ? cap : 1) * sizeof(*out));
    if (!out)
        return out_of_memory(cx);
    uint32_t i = 0, j = 0, k = 0;
    while (i < m->len || j < src->len) {
        int c = i == m->len ? 1 : j == src->len ? -1 : key_order(&m->entries[i], &src->entries[j]);
        if (c < 0) {
            out[k++] = m->entries[i++];
            continue;
        }
        if (c == 0)
            i++;
        value_entry e = src->entries[j++];
        vrl_status st = vrl_own(cx, &e.val, false);
        if (st != VRL_OK)
            return st;
        out[k++] = e;
    }
    m->entries = out;
    m->len = k;
    m->cap = (uint32_t)cap;
    return VRL_OK;
}

vrl_status vrl_place_merge(vrl_ctx *cx, const vrl_place *p, const value *from)
{
    const value *current = vrl_walk(vrl_place_root(cx, p), p->segs, p->nsegs);
    uint8_t have = current ? current->kind : VALUE_NULL;
    if (have != VALUE_MAP || from->kind != VALUE_MAP)
        return vrl_raise(cx, "can't merge type %s into %s", vrl_kind_name(from->kind),
                         vrl_kind_name(have));
    value *slot = slot_for_write(cx, p);
    if (!slot)
        return out_of_memory(cx);
    value_map *m = slot->u.map;
    if (journaled(cx, p) && remember(cx, m, true) < 0)
        return out_of_memory(cx);
    return merge_sorted(cx, m, from->u.map);
}

/* ---- deleting ------------------------------------------------------------ */

/* Removes the last segment of segs[0, n) from its parent: 1 when it was
 * there, 0 when absent, -1 out of memory. */
static int remove_last(vrl_ctx *cx, const vrl_place *p, uint32_t n, value *removed)
{
    value *parent = (value *)vrl_walk(vrl_place_root(cx, p), p->segs, n - 1);
    const vrl_seg *s = &p->segs[n - 1];
    bool journal = journaled(cx, p);
    if (!parent)
        return 0;
    if (!s->is_index && parent->kind == VALUE_MAP) {
        value *v = value_map_get(parent->u.map, s->key, s->klen);
        if (!v)
            return 0;
        if (journal && remember(cx, parent->u.map, true) < 0)
            return -1;
        *removed = *v;
        value_map_del(parent->u.map, s->key, s->klen);
        return 1;
    }
    if (s->is_index && parent->kind == VALUE_ARRAY) {
        value_array *arr = parent->u.arr;
        int64_t at = path_resolve_index(s->index, arr->len);
        if (at < 0)
            return 0;
        if (journal && remember(cx, arr, false) < 0)
            return -1;
        *removed = arr->items[at];
        memmove(&arr->items[at], &arr->items[at + 1], (size_t)(arr->len - at - 1) * sizeof(value));
        arr->len--;
        return 1;
    }
    return 0;
}

static bool is_empty_container(const value *v)
{
    return v && ((v->kind == VALUE_MAP && v->u.map->len == 0) ||
                 (v->kind == VALUE_ARRAY && v->u.arr->len == 0));
}

vrl_status vrl_place_delete(vrl_ctx *cx, const vrl_place *p, bool compact, value *removed)
{
    *removed = value_null();
    value *root = vrl_place_root(cx, p);
    if (p->nsegs == 0) {
        *removed = *root;
        *root = p->root == PLACE_VAR ? value_null() : value_new_map(cx->a, NEW_MAP_CAP);
        return p->root == PLACE_VAR || root->kind == VALUE_MAP ? VRL_OK : out_of_memory(cx);
    }
    int rc = remove_last(cx, p, p->nsegs, removed);
    for (uint32_t n = p->nsegs - 1; rc > 0 && compact && n > 0; n--) {
        if (!is_empty_container(vrl_walk(root, p->segs, n)))
            break;
        value gone;
        rc = remove_last(cx, p, n, &gone);
    }
    return rc < 0 ? out_of_memory(cx) : VRL_OK;
}
