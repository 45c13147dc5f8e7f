/* fuzz_kafka_record.c - libFuzzer target for a Kafka record as events
 * (sources/kafka/kafka_record.c): the bytes a broker hands the source.
 *
 * The input is split at 0xFF 0x00 pairs into payload, key, topic and
 * header names and values; the first byte picks the codec, whether there
 * is a key and a timestamp, and field paths that collide or nest. Each
 * record goes through both codecs into a small batch, and the events are
 * checked: maps sorted, the payload back as .message byte for byte (bytes
 * codec), topic/partition/offset as given, every header with a value found
 * under its name with the last value of that name, and the event encodes
 * as JSON. A failed check traps, which libFuzzer reports with the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/buf.h"
#include "pipeline/json.h"
#include "sources/kafka/kafka_record.h"

#define MAX_PARTS 16

static void require(bool ok)
{
    if (!ok)
        __builtin_trap();
}

typedef struct part {
    const char *p;
    size_t n;
} part;

static size_t split(const uint8_t *data, size_t size, part *parts)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i + 1 < size && n < MAX_PARTS - 1; i++)
        if (data[i] == 0xFF && data[i + 1] == 0x00) {
            parts[n++] = (part){(const char *)data + start, i - start};
            start = i + 2;
            i++;
        }
    parts[n++] = (part){(const char *)data + start, size - start};
    return n;
}

static void check_sorted(const value *v)
{
    if (v->kind == VALUE_MAP) {
        const value_map *m = v->u.map;
        for (uint32_t i = 0; i < m->len; i++) {
            require(i == 0 || value_entry_compare(&m->entries[i - 1], &m->entries[i]) < 0);
            check_sorted(&m->entries[i].val);
        }
    } else if (v->kind == VALUE_ARRAY) {
        for (uint32_t i = 0; i < v->u.arr->len; i++)
            check_sorted(&v->u.arr->items[i]);
    }
}

static const value *top(const event *e, const char *key)
{
    return value_map_get(e->u.log.u.map, key, strlen(key));
}

/* The last header of that name with a value. */
static const kafka_header_view *last_header(const kafka_record_view *r, size_t i)
{
    const kafka_header_view *h = &r->headers[i], *last = NULL;
    for (size_t j = 0; j < r->nheaders; j++)
        if (r->headers[j].value && r->headers[j].name_len == h->name_len &&
            memcmp(r->headers[j].name, h->name, h->name_len) == 0)
            last = &r->headers[j];
    return last;
}

static void check_default_fields(const event *e, const kafka_record_view *r)
{
    const value *t = top(e, "topic");
    require(t && t->kind == VALUE_BYTES && t->len == r->topic_len &&
            memcmp(t->u.s, r->topic, r->topic_len) == 0);
    const value *p = top(e, "partition"), *o = top(e, "offset");
    require(p && p->kind == VALUE_INT && p->u.i == r->partition);
    require(o && o->kind == VALUE_INT && o->u.i == r->offset);
    const value *k = top(e, "message_key");
    require(k && (r->key ? k->kind == VALUE_BYTES && k->len == r->key_len &&
                               memcmp(k->u.s, r->key, r->key_len) == 0
                         : k->kind == VALUE_NULL));
    const value *h = top(e, "headers");
    require(h && h->kind == VALUE_MAP);
    for (size_t i = 0; i < r->nheaders; i++) {
        const kafka_header_view *want = last_header(r, i);
        const value *got = value_map_get(h->u.map, r->headers[i].name, r->headers[i].name_len);
        require(want ? got && got->len == want->value_len &&
                           memcmp(got->u.s, want->value, want->value_len) == 0
                     : got == NULL);
    }
}

static void run(int codec, const kafka_record_keys *keys, bool defaults,
                const kafka_record_view *r)
{
    kafka_record_format f;
    sl_error err;
    if (kafka_record_format_init(&f, codec, keys, &err) < 0)
        return;
    batch *b = batch_new(4, NULL);
    require(b != NULL);
    kafka_record_result res = kafka_record_add(&f, b, r, 1, &err);
    require(res != KAFKA_RECORD_NO_MEMORY);
    if (r->payload_len == 0)
        require(res == KAFKA_RECORD_OK && b->count == 0);
    if (codec == KAFKA_CODEC_BYTES && r->payload_len)
        require(res == KAFKA_RECORD_OK && b->count == 1);
    buf out = {0};
    for (uint32_t i = 0; i < b->count; i++) {
        const event *e = &b->events[i];
        require(e->u.log.kind == VALUE_MAP);
        check_sorted(&e->u.log);
        if (defaults)
            check_default_fields(e, r);
        if (defaults && codec == KAFKA_CODEC_BYTES) {
            const value *m = top(e, "message");
            require(m && m->len == r->payload_len &&
                    memcmp(m->u.s, r->payload, r->payload_len) == 0);
        }
        out.len = 0;
        require(json_encode_event(&out, e) == 0);
    }
    buf_free(&out);
    batch_release(b, ACK_DELIVERED);
    kafka_record_format_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    part parts[MAX_PARTS];
    size_t n = split(data + 1, size - 1, parts);
    kafka_header_view headers[MAX_PARTS / 2];
    size_t nh = 0;
    for (size_t i = 3; i + 1 < n; i += 2) {
        bool no_value = parts[i + 1].n == 1 && parts[i + 1].p[0] == '-';
        headers[nh++] = (kafka_header_view){parts[i].p, parts[i].n,
                                            no_value ? NULL : parts[i + 1].p, parts[i + 1].n};
    }
    kafka_record_view r = {
        .topic = n > 2 ? parts[2].p : "t",
        .topic_len = n > 2 ? parts[2].n : 1,
        .partition = (int32_t)(flags >> 4),
        .offset = (int64_t)size,
        .timestamp_ms = (flags & 2) ? (int64_t)size * 1000 : -1,
        .key = (flags & 1) && n > 1 ? parts[1].p : NULL,
        .key_len = (flags & 1) && n > 1 ? parts[1].n : 0,
        .payload = parts[0].p,
        .payload_len = parts[0].n,
        .headers = headers,
        .nheaders = nh,
    };
    static const kafka_record_keys defaults = {"message_key", "topic", "partition", "offset",
                                               "headers"};
    static const kafka_record_keys odd[] = {
        {"message", "timestamp", "a.b", "a.b.c", ".headers[1]"},
        {"", "", "", "", ""},
        {"x", "x", "x.y", "source_type", "message"},
    };
    const kafka_record_keys *keys = (flags & 4) ? &odd[(flags >> 3) % 3] : &defaults;
    run(KAFKA_CODEC_BYTES, keys, keys == &defaults, &r);
    run(KAFKA_CODEC_JSON, keys, keys == &defaults, &r);
    return 0;
}
