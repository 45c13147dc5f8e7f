/* kafka_record.c - one Kafka record as sluice events (see kafka_record.h).
 *
 * With the bytes codec an event is a copy of a prebuilt field table that is
 * already in map order, with the per-record values filled in: one arena
 * allocation for the table instead of an insertion per field. Fields under
 * nested paths, and every field of a json-codec event, are set by path,
 * later fields over earlier ones, in the order Vector writes them (the
 * decoded payload, then source_type, timestamp, and the Kafka metadata). */
#include "sources/kafka/kafka_record.h"
#include "pipeline/json.h"

#include <stdlib.h>
#include <string.h>

enum { FIELD_MESSAGE = KAFKA_META_COUNT, FIELD_SOURCE_TYPE, FIELD_TIMESTAMP };

static const char source_type[] = "kafka";

static int entry_order(const void *a, const void *b)
{
    return value_entry_compare(a, b);
}

static int add_field(kafka_record_format *f, int what, const char *text, sl_error *err)
{
    if (!text || !*text)
        return 0;
    kafka_record_field *fd = &f->fields[f->nfields];
    if (path_parse(text, &fd->at, err) < 0)
        return -1;
    f->nfields++;
    fd->what = what;
    fd->slot = -1;
    if (fd->at.n == 0)
        return sl_fail(err, "\"%s\" names the whole event, not a field", text);
    return 0;
}

static bool is_top_level(const path *p)
{
    return p->n == 1 && !p->segs[0].is_index;
}

static bool same_key(const path *a, const path *b)
{
    return value_key_compare(a->segs[0].key, a->segs[0].klen, b->segs[0].key,
                             b->segs[0].klen) == 0;
}

/* The bytes-codec table: the top-level fields, the last writer of a key
 * winning, sorted; each field learns its slot. */
static void build_template(kafka_record_format *f)
{
    for (size_t i = 0; i < f->nfields; i++) {
        kafka_record_field *fd = &f->fields[i];
        if (!is_top_level(&fd->at))
            continue;
        for (size_t j = 0; j < i; j++)
            if (f->fields[j].slot >= 0 && same_key(&f->fields[j].at, &fd->at))
                f->fields[j].slot = -2;
        fd->slot = 0;
    }
    f->ntmpl = 0;
    for (size_t i = 0; i < f->nfields; i++) {
        kafka_record_field *fd = &f->fields[i];
        if (fd->slot < 0)
            continue;
        value_entry *e = &f->tmpl[f->ntmpl++];
        e->key = fd->at.segs[0].key;
        e->klen = fd->at.segs[0].klen;
        e->val = value_int((int64_t)i);
    }
    qsort(f->tmpl, f->ntmpl, sizeof(f->tmpl[0]), entry_order);
    for (uint32_t s = 0; s < f->ntmpl; s++) {
        f->fields[f->tmpl[s].val.u.i].slot = (int)s;
        f->tmpl[s].val = value_null();
    }
}

int kafka_record_format_init(kafka_record_format *f, int codec, const kafka_record_keys *keys,
                             sl_error *err)
{
    memset(f, 0, sizeof(*f));
    f->codec = codec;
    if ((codec == KAFKA_CODEC_BYTES && add_field(f, FIELD_MESSAGE, "message", err) < 0) ||
        add_field(f, FIELD_SOURCE_TYPE, "source_type", err) < 0 ||
        add_field(f, FIELD_TIMESTAMP, "timestamp", err) < 0 ||
        add_field(f, KAFKA_META_KEY, keys->key_field, err) < 0 ||
        add_field(f, KAFKA_META_TOPIC, keys->topic_key, err) < 0 ||
        add_field(f, KAFKA_META_PARTITION, keys->partition_key, err) < 0 ||
        add_field(f, KAFKA_META_OFFSET, keys->offset_key, err) < 0 ||
        add_field(f, KAFKA_META_HEADERS, keys->headers_key, err) < 0) {
        kafka_record_format_free(f);
        return -1;
    }
    build_template(f);
    return 0;
}

void kafka_record_format_free(kafka_record_format *f)
{
    for (size_t i = 0; i < f->nfields; i++)
        path_free(&f->fields[i].at);
    f->nfields = 0;
    f->ntmpl = 0;
}

/* ---- values ---- */

static const char *copy_bytes(arena *a, const void *p, size_t n)
{
    char *s = arena_alloc(a, n ? n : 1);
    if (s && n)
        memcpy(s, p, n);
    return s;
}

/* Headers as a map of name to bytes; a header without value is left out and
 * a repeated name keeps its last value, as Vector's map does. */
static int headers_value(arena *a, const kafka_record_view *r, value *out)
{
    *out = value_new_map(a, r->nheaders ? (uint32_t)r->nheaders : 1);
    if (out->kind != VALUE_MAP)
        return -1;
    for (size_t i = 0; i < r->nheaders; i++) {
        const kafka_header_view *h = &r->headers[i];
        if (!h->value || h->name_len > UINT32_MAX || h->value_len > UINT32_MAX)
            continue;
        const char *name = copy_bytes(a, h->name, h->name_len);
        const char *val = name ? copy_bytes(a, h->value, h->value_len) : NULL;
        value *slot = val ? value_map_put(a, out->u.map, name, h->name_len) : NULL;
        if (!slot)
            return -1;
        *slot = value_bytes(val, h->value_len);
    }
    return 0;
}

/* The value of field `what` for r; message is set by the caller. */
static int field_value(arena *a, int what, const kafka_record_view *r, int64_t ts_ns,
                       const value *topic, value *out)
{
    switch (what) {
    case FIELD_SOURCE_TYPE:
        *out = value_bytes(source_type, sizeof(source_type) - 1);
        return 0;
    case FIELD_TIMESTAMP:
        *out = value_timestamp(ts_ns);
        return 0;
    case KAFKA_META_KEY:
        if (!r->key) {
            *out = value_null();
            return 0;
        }
        if (r->key_len > UINT32_MAX)
            return -1;
        *out = value_bytes(copy_bytes(a, r->key, r->key_len), r->key_len);
        return out->u.s ? 0 : -1;
    case KAFKA_META_TOPIC:
        *out = *topic;
        return 0;
    case KAFKA_META_PARTITION:
        *out = value_int(r->partition);
        return 0;
    case KAFKA_META_OFFSET:
        *out = value_int(r->offset);
        return 0;
    default:
        return headers_value(a, r, out);
    }
}

static int64_t record_time_ns(const kafka_record_view *r, int64_t now_ns)
{
    if (r->timestamp_ms < 0 || r->timestamp_ms > INT64_MAX / 1000000)
        return now_ns;
    return r->timestamp_ms * 1000000;
}

/* Sets the source's fields on an event (nested ones only when `tmpl`, the
 * template already holding the top-level ones). */
static int set_fields(const kafka_record_format *f, arena *a, value *root, value_entry *tmpl,
                      const kafka_record_view *r, int64_t ts_ns, const value *topic,
                      const value *message)
{
    for (size_t i = 0; i < f->nfields; i++) {
        const kafka_record_field *fd = &f->fields[i];
        if (tmpl && fd->slot != -1)
            continue;
        value v;
        if (fd->what == FIELD_MESSAGE)
            v = *message;
        else if (field_value(a, fd->what, r, ts_ns, topic, &v) < 0)
            return -1;
        value *slot = path_set(a, root, &fd->at);
        if (!slot)
            return -1;
        *slot = v;
    }
    return 0;
}

static int fill_template(const kafka_record_format *f, arena *a, value_entry *ent,
                         const kafka_record_view *r, int64_t ts_ns, const value *topic,
                         const value *message)
{
    for (size_t i = 0; i < f->nfields; i++) {
        const kafka_record_field *fd = &f->fields[i];
        if (fd->slot < 0)
            continue;
        if (fd->what == FIELD_MESSAGE)
            ent[fd->slot].val = *message;
        else if (field_value(a, fd->what, r, ts_ns, topic, &ent[fd->slot].val) < 0)
            return -1;
    }
    return 0;
}

static kafka_record_result add_bytes_event(const kafka_record_format *f, batch *b,
                                           const kafka_record_view *r, int64_t ts_ns,
                                           const value *topic)
{
    arena *a = b->arena;
    value message = value_bytes(copy_bytes(a, r->payload, r->payload_len), r->payload_len);
    value_map *m = arena_alloc(a, sizeof(*m));
    value_entry *ent = arena_alloc(a, (f->ntmpl ? f->ntmpl : 1) * sizeof(*ent));
    if (!message.u.s || !m || !ent)
        return KAFKA_RECORD_NO_MEMORY;
    memcpy(ent, f->tmpl, f->ntmpl * sizeof(*ent));
    if (fill_template(f, a, ent, r, ts_ns, topic, &message) < 0)
        return KAFKA_RECORD_NO_MEMORY;
    m->len = m->cap = f->ntmpl;
    m->entries = ent;
    event *e = batch_push(b);
    if (!e)
        return KAFKA_RECORD_NO_MEMORY;
    e->type = EVENT_LOG;
    e->u.log.kind = VALUE_MAP;
    e->u.log.u.map = m;
    if (set_fields(f, a, &e->u.log, ent, r, ts_ns, topic, &message) < 0) {
        batch_pop(b);
        return KAFKA_RECORD_NO_MEMORY;
    }
    return KAFKA_RECORD_OK;
}

static bool all_objects(const value_array *arr)
{
    for (uint32_t i = 0; i < arr->len; i++)
        if (arr->items[i].kind != VALUE_MAP)
            return false;
    return true;
}

/* A JSON object is one event, an array of objects one event per element
 * (as Vector's json decoder makes them); anything else is refused. */
static kafka_record_result add_json_events(const kafka_record_format *f, batch *b,
                                           const kafka_record_view *r, int64_t ts_ns,
                                           const value *topic, sl_error *err)
{
    arena *a = b->arena;
    const char *text = copy_bytes(a, r->payload, r->payload_len);
    if (!text)
        return KAFKA_RECORD_NO_MEMORY;
    value doc;
    if (json_decode(a, text, r->payload_len, &doc, err) < 0)
        return KAFKA_RECORD_BAD;
    const value *items = &doc;
    uint32_t n = 1;
    if (doc.kind == VALUE_ARRAY && all_objects(doc.u.arr)) {
        items = doc.u.arr->items;
        n = doc.u.arr->len;
    } else if (doc.kind != VALUE_MAP) {
        sl_fail(err, "not a JSON object or an array of objects");
        return KAFKA_RECORD_BAD;
    }
    if (n > b->cap - b->count) {
        if (b->count == 0) {
            sl_fail(err, "an array of %u objects is more than a batch holds (%u)", n, b->cap);
            return KAFKA_RECORD_BAD;
        }
        return KAFKA_RECORD_NO_ROOM;
    }
    for (uint32_t i = 0; i < n; i++) {
        event *e = batch_push(b);
        if (!e)
            return KAFKA_RECORD_NO_MEMORY;
        e->type = EVENT_LOG;
        e->u.log = items[i];
        if (set_fields(f, a, &e->u.log, NULL, r, ts_ns, topic, NULL) < 0)
            return KAFKA_RECORD_NO_MEMORY;
    }
    return KAFKA_RECORD_OK;
}

kafka_record_result kafka_record_add(const kafka_record_format *f, batch *b,
                                     const kafka_record_view *r, int64_t now_ns, sl_error *err)
{
    if (r->payload_len == 0)
        return KAFKA_RECORD_OK;
    if (r->payload_len > UINT32_MAX || r->topic_len > UINT32_MAX) {
        sl_fail(err, "a record of %zu bytes is larger than an event field holds",
                r->payload_len);
        return KAFKA_RECORD_BAD;
    }
    if (b->count >= b->cap)
        return KAFKA_RECORD_NO_ROOM;
    /* The topic is the same for many records in a row, but each batch has
     * its own arena, so it is copied once per record all the same: a few
     * bytes, and no state shared across batches. */
    value topic = value_bytes(copy_bytes(b->arena, r->topic, r->topic_len), r->topic_len);
    if (!topic.u.s)
        return KAFKA_RECORD_NO_MEMORY;
    int64_t ts_ns = record_time_ns(r, now_ns);
    if (f->codec == KAFKA_CODEC_JSON)
        return add_json_events(f, b, r, ts_ns, &topic, err);
    return add_bytes_event(f, b, r, ts_ns, &topic);
}
