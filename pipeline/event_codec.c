/* event_codec.c - events as compact bytes, for the disk buffer (see
 * event_codec.h).
 *
 * Layout (varint = unsigned LEB128, zigzag for signed; f64/i64 = 8 bytes
 * little-endian; str = varint length + bytes; cstr = str + a NUL byte):
 *
 *   record  = version(1) varint(count) event*
 *   event   = type(1: 1 log, 2 metric) value(meta) (map-body | metric)
 *   value   = tag(1) payload: null, false, true (no payload), int (zigzag
 *             varint), float (f64 bits), bytes (str), timestamp (i64 ns),
 *             array (varint n, value*), map (map-body)
 *   map-body = varint(n) (str(key) value)*, keys strictly increasing
 *   metric  = cstr(name) flags(1: kind, has namespace, has timestamp)
 *             type(1) [cstr(namespace)] [i64 timestamp] varint(interval_ms)
 *             varint(ntags) (cstr(key) varint(0 = bare | value length + 1)
 *             [value bytes NUL])* then the type's value
 *
 * Binary rather than JSON so that timestamps, byte strings and metrics come
 * back as they were, and so that reading a record is bounds checks and
 * pointer arithmetic: strings are not copied but point into the record.
 * Every form is canonical (minimal varints, no spare bits, sorted keys), so
 * what the decoder accepts re-encodes to the same bytes; the encoder refuses
 * what the decoder would, so a record written can always be read back. */
#include "pipeline/event_codec.h"

#include <string.h>

#define EVENT_CODEC_VERSION 1

enum codec_tag {
    TAG_NULL = 0,
    TAG_FALSE,
    TAG_TRUE,
    TAG_INT,
    TAG_FLOAT,
    TAG_BYTES,
    TAG_TIMESTAMP,
    TAG_ARRAY,
    TAG_MAP,
};

#define FLAG_ABSOLUTE 0x01
#define FLAG_NAMESPACE 0x02
#define FLAG_TIMESTAMP 0x04
#define FLAGS_KNOWN (FLAG_ABSOLUTE | FLAG_NAMESPACE | FLAG_TIMESTAMP)

/* The most bytes a varint of 64 bits takes. */
#define VARINT_MAX 10

/* The fewest bytes each element can take, to refuse a count that the rest of
 * the input cannot hold before allocating for it. */
#define MIN_EVENT_BYTES 3   /* type, null meta, empty map */
#define MIN_ENTRY_BYTES 2   /* empty key, null value */
#define MIN_CSTR_BYTES 2    /* length, NUL */
#define MIN_TAG_BYTES 3     /* empty key, NUL, bare */
#define MIN_SAMPLE_BYTES 9  /* f64, varint */
#define MIN_BUCKET_BYTES 9  /* f64, varint */
#define MIN_QUANTILE_BYTES 16

static inline uint64_t u64_to_le(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static inline bool keys_ascend(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    uint32_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c < 0 || (c == 0 && alen < blen);
}

/* Tags order by key, then value with a bare tag first (event.h). */
static bool tags_ascend(const metric_tag *a, const metric_tag *b)
{
    int c = strcmp(a->key, b->key);
    if (c)
        return c < 0;
    if (!b->value)
        return false;
    return !a->value || strcmp(a->value, b->value) < 0;
}

/* ---- encoding ----
 *
 * Writes go straight into out's memory after one room check per item; the
 * terminating NUL buf promises is restored when the record is complete. */

static inline int enc_room(buf *out, size_t n)
{
    return out->cap - out->len > n ? 0 : buf_reserve(out, n);
}

static inline void put_byte(buf *out, uint8_t c) { out->data[out->len++] = (char)c; }

static inline void put_varint(buf *out, uint64_t v)
{
    while (v >= 0x80) {
        out->data[out->len++] = (char)(v | 0x80);
        v >>= 7;
    }
    out->data[out->len++] = (char)v;
}

static inline void put_u64(buf *out, uint64_t v)
{
    v = u64_to_le(v);
    memcpy(out->data + out->len, &v, 8);
    out->len += 8;
}

static inline void put_f64(buf *out, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u64(out, v);
}

static inline void put_raw(buf *out, const void *s, size_t n)
{
    if (n)
        memcpy(out->data + out->len, s, n);
    out->len += n;
}

static int enc_oom(sl_error *err) { return sl_fail(err, "event codec: out of memory"); }

static int enc_cstr(buf *out, const char *s, sl_error *err)
{
    size_t n = strlen(s);
    if (enc_room(out, VARINT_MAX + n + 1) < 0)
        return enc_oom(err);
    put_varint(out, n);
    put_raw(out, s, n + 1);
    return 0;
}

static int enc_value(buf *out, const value *v, unsigned depth, sl_error *err);

static int enc_map_body(buf *out, const value_map *m, unsigned depth, sl_error *err)
{
    if (enc_room(out, VARINT_MAX) < 0)
        return enc_oom(err);
    put_varint(out, m->len);
    for (uint32_t i = 0; i < m->len; i++) {
        const value_entry *e = &m->entries[i];
        if (i && !keys_ascend(m->entries[i - 1].key, m->entries[i - 1].klen, e->key, e->klen))
            return sl_fail(err, "event codec: map key \"%.*s\" out of order", (int)e->klen, e->key);
        if (enc_room(out, VARINT_MAX + e->klen) < 0)
            return enc_oom(err);
        put_varint(out, e->klen);
        put_raw(out, e->key, e->klen);
        if (enc_value(out, &e->val, depth, err) < 0)
            return -1;
    }
    return 0;
}

/* The count goes into the room enc_value made for its tag and a varint. */
static int enc_array(buf *out, const value_array *arr, unsigned depth, sl_error *err)
{
    put_varint(out, arr->len);
    for (uint32_t i = 0; i < arr->len; i++)
        if (enc_value(out, &arr->items[i], depth, err) < 0)
            return -1;
    return 0;
}

/* depth: the containers around v. */
static int enc_value(buf *out, const value *v, unsigned depth, sl_error *err)
{
    size_t need = 1 + VARINT_MAX + (v->kind == VALUE_BYTES ? v->len : 0);
    if (enc_room(out, need) < 0)
        return enc_oom(err);
    if ((v->kind == VALUE_ARRAY || v->kind == VALUE_MAP) && depth >= EVENT_CODEC_MAX_DEPTH)
        return sl_fail(err, "event codec: value nested deeper than %d levels",
                       EVENT_CODEC_MAX_DEPTH);
    switch (v->kind) {
    case VALUE_NULL:
        put_byte(out, TAG_NULL);
        return 0;
    case VALUE_BOOL:
        put_byte(out, v->u.b ? TAG_TRUE : TAG_FALSE);
        return 0;
    case VALUE_INT:
        put_byte(out, TAG_INT);
        put_varint(out, zigzag(v->u.i));
        return 0;
    case VALUE_FLOAT:
        put_byte(out, TAG_FLOAT);
        put_f64(out, v->u.f);
        return 0;
    case VALUE_BYTES:
        put_byte(out, TAG_BYTES);
        put_varint(out, v->len);
        put_raw(out, v->u.s, v->len);
        return 0;
    case VALUE_TIMESTAMP:
        put_byte(out, TAG_TIMESTAMP);
        put_u64(out, (uint64_t)v->u.ts);
        return 0;
    case VALUE_ARRAY:
        put_byte(out, TAG_ARRAY);
        return enc_array(out, v->u.arr, depth + 1, err);
    case VALUE_MAP:
        put_byte(out, TAG_MAP);
        return enc_map_body(out, v->u.map, depth + 1, err);
    default:
        return sl_fail(err, "event codec: unknown value kind %u", v->kind);
    }
}

static int enc_tags(buf *out, const metric *m, sl_error *err)
{
    if (enc_room(out, VARINT_MAX) < 0)
        return enc_oom(err);
    put_varint(out, m->ntags);
    for (uint32_t i = 0; i < m->ntags; i++) {
        const metric_tag *t = &m->tags[i];
        if (i && !tags_ascend(&m->tags[i - 1], t))
            return sl_fail(err, "event codec: metric tag \"%s\" out of order", t->key);
        if (enc_cstr(out, t->key, err) < 0)
            return -1;
        size_t n = t->value ? strlen(t->value) : 0;
        if (enc_room(out, VARINT_MAX + n + 1) < 0)
            return enc_oom(err);
        if (!t->value) {
            put_varint(out, 0);
            continue;
        }
        put_varint(out, (uint64_t)n + 1);
        put_raw(out, t->value, n + 1);
    }
    return 0;
}

static int enc_metric_value(buf *out, const metric *m, sl_error *err)
{
    uint32_t n = 0;
    size_t each = 0;
    switch (m->type) {
    case METRIC_SET: n = m->v.set.n; break;
    case METRIC_DISTRIBUTION: n = m->v.dist.n; each = 8 + VARINT_MAX; break;
    case METRIC_AGGREGATED_HISTOGRAM: n = m->v.hist.n; each = 8 + VARINT_MAX; break;
    case METRIC_AGGREGATED_SUMMARY: n = m->v.summary.n; each = 16; break;
    default: break;
    }
    /* A byte, a count, a count and a sum, then the fixed-size elements. */
    if (enc_room(out, 1 + 2 * VARINT_MAX + 8 + (size_t)n * each) < 0)
        return enc_oom(err);
    switch (m->type) {
    case METRIC_COUNTER:
        put_f64(out, m->v.counter);
        return 0;
    case METRIC_GAUGE:
        put_f64(out, m->v.gauge);
        return 0;
    case METRIC_SET:
        put_varint(out, n);
        for (uint32_t i = 0; i < n; i++)
            if (enc_cstr(out, m->v.set.values[i], err) < 0)
                return -1;
        return 0;
    case METRIC_DISTRIBUTION:
        if (m->v.dist.statistic > METRIC_STAT_SUMMARY)
            return sl_fail(err, "event codec: unknown distribution statistic %u",
                           m->v.dist.statistic);
        put_byte(out, m->v.dist.statistic);
        put_varint(out, n);
        for (uint32_t i = 0; i < n; i++) {
            put_f64(out, m->v.dist.samples[i].value);
            put_varint(out, m->v.dist.samples[i].rate);
        }
        return 0;
    case METRIC_AGGREGATED_HISTOGRAM:
        put_varint(out, n);
        for (uint32_t i = 0; i < n; i++) {
            put_f64(out, m->v.hist.buckets[i].upper_limit);
            put_varint(out, m->v.hist.buckets[i].count);
        }
        put_varint(out, m->v.hist.count);
        put_f64(out, m->v.hist.sum);
        return 0;
    case METRIC_AGGREGATED_SUMMARY:
        put_varint(out, n);
        for (uint32_t i = 0; i < n; i++) {
            put_f64(out, m->v.summary.quantiles[i].quantile);
            put_f64(out, m->v.summary.quantiles[i].value);
        }
        put_varint(out, m->v.summary.count);
        put_f64(out, m->v.summary.sum);
        return 0;
    default:
        return sl_fail(err, "event codec: unknown metric type %u", m->type);
    }
}

static int enc_metric(buf *out, const metric *m, sl_error *err)
{
    if (m->kind > METRIC_ABSOLUTE)
        return sl_fail(err, "event codec: unknown metric kind %u", m->kind);
    if (enc_cstr(out, m->name, err) < 0)
        return -1;
    if (enc_room(out, 2) < 0)
        return enc_oom(err);
    uint8_t flags = (m->kind == METRIC_ABSOLUTE ? FLAG_ABSOLUTE : 0) |
                    (m->namespace_ ? FLAG_NAMESPACE : 0) |
                    (m->has_timestamp ? FLAG_TIMESTAMP : 0);
    put_byte(out, flags);
    put_byte(out, m->type);
    if (m->namespace_ && enc_cstr(out, m->namespace_, err) < 0)
        return -1;
    if (enc_room(out, 8 + VARINT_MAX) < 0)
        return enc_oom(err);
    if (m->has_timestamp)
        put_u64(out, (uint64_t)m->timestamp);
    put_varint(out, m->interval_ms);
    if (enc_tags(out, m, err) < 0)
        return -1;
    return enc_metric_value(out, m, err);
}

static int enc_event(buf *out, const event *e, sl_error *err)
{
    if (e->type != EVENT_LOG && e->type != EVENT_METRIC)
        return sl_fail(err, "event codec: unknown event type %u", e->type);
    if (e->type == EVENT_LOG && e->u.log.kind != VALUE_MAP)
        return sl_fail(err, "event codec: a log event that is not a map");
    if (enc_room(out, 1) < 0)
        return enc_oom(err);
    put_byte(out, e->type);
    if (enc_value(out, &e->meta, 0, err) < 0)
        return -1;
    if (e->type == EVENT_METRIC)
        return enc_metric(out, e->u.metric, err);
    return enc_map_body(out, e->u.log.u.map, 1, err);
}

int event_codec_encode(const batch *b, buf *out, sl_error *err)
{
    size_t start = out->len;
    int rc = 0;
    if (enc_room(out, 1 + VARINT_MAX) < 0)
        return enc_oom(err);
    put_byte(out, EVENT_CODEC_VERSION);
    put_varint(out, b->count);
    for (uint32_t i = 0; i < b->count && rc == 0; i++)
        rc = enc_event(out, &b->events[i], err);
    if (rc < 0)
        out->len = start;
    if (out->data)
        out->data[out->len] = '\0';
    return rc;
}

/* ---- decoding ---- */

typedef struct reader {
    const uint8_t *p, *end, *start;
    arena *a;
    sl_error *err;
} reader;

static size_t rd_left(const reader *r) { return (size_t)(r->end - r->p); }

/* Says -1 itself rather than pass on sl_fail's, so that the compiler sees
 * every failed read return early (no "maybe uninitialized" outputs). */
static int rd_fail(reader *r, const char *what)
{
    sl_fail(r->err, "event codec: %s at byte %zu", what, (size_t)(r->p - r->start));
    return -1;
}

static int rd_oom(reader *r) { return rd_fail(r, "out of memory"); }

static int rd_byte(reader *r, uint8_t *out)
{
    if (r->p == r->end)
        return rd_fail(r, "record truncated");
    *out = *r->p++;
    return 0;
}

static int rd_varint_slow(reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p == r->end)
            return rd_fail(r, "record truncated");
        uint8_t c = *r->p;
        if (shift == 63 && c > 1)
            return rd_fail(r, "varint overflows 64 bits");
        if (shift && c == 0)
            return rd_fail(r, "varint not in its shortest form");
        r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return rd_fail(r, "varint overflows 64 bits");
}

/* Lengths and counts are nearly always below 128: one byte, one branch. */
static inline int rd_varint(reader *r, uint64_t *out)
{
    if (r->p < r->end && *r->p < 0x80) {
        *out = *r->p++;
        return 0;
    }
    return rd_varint_slow(r, out);
}

static int rd_u32(reader *r, uint32_t *out, const char *what)
{
    uint64_t v;
    if (rd_varint(r, &v) < 0)
        return -1;
    if (v > UINT32_MAX)
        return rd_fail(r, what);
    *out = (uint32_t)v;
    return 0;
}

/* A count of elements of at least `min_bytes` each, that the rest can hold. */
static int rd_count(reader *r, size_t min_bytes, uint32_t *out)
{
    const uint8_t *at = r->p;
    if (rd_u32(r, out, "count too large") < 0)
        return -1;
    if (*out > rd_left(r) / min_bytes) {
        r->p = at;
        return rd_fail(r, "count larger than the rest of the record can hold");
    }
    return 0;
}

static int rd_u64(reader *r, uint64_t *out)
{
    if (rd_left(r) < 8)
        return rd_fail(r, "record truncated");
    uint64_t v;
    memcpy(&v, r->p, 8);
    r->p += 8;
    *out = u64_to_le(v);
    return 0;
}

static int rd_f64(reader *r, double *out)
{
    uint64_t v;
    if (rd_u64(r, &v) < 0)
        return -1;
    memcpy(out, &v, 8);
    return 0;
}

/* A length-prefixed string, left in place. */
static int rd_str(reader *r, const char **s, uint32_t *len)
{
    if (rd_u32(r, len, "string too long") < 0)
        return -1;
    if (*len > rd_left(r))
        return rd_fail(r, "string runs past the end of the record");
    *s = (const char *)r->p;
    r->p += *len;
    return 0;
}

/* n bytes then a NUL, none inside: a C string that stays in place. */
static int rd_cstr_bytes(reader *r, uint32_t n, const char **s)
{
    if (n >= rd_left(r))
        return rd_fail(r, "string runs past the end of the record");
    if (r->p[n] != 0 || memchr(r->p, 0, n))
        return rd_fail(r, "metric string not NUL-terminated or holding a NUL");
    *s = (const char *)r->p;
    r->p += (size_t)n + 1;
    return 0;
}

static int rd_cstr(reader *r, const char **s)
{
    uint32_t n;
    if (rd_u32(r, &n, "string too long") < 0)
        return -1;
    return rd_cstr_bytes(r, n, s);
}

static int rd_value(reader *r, value *out, unsigned depth);

static int rd_map_body(reader *r, value_map **out, unsigned depth)
{
    uint32_t n;
    if (rd_count(r, MIN_ENTRY_BYTES, &n) < 0)
        return -1;
    value_map *m = value_map_new(r->a, n);
    if (!m)
        return rd_oom(r);
    for (uint32_t i = 0; i < n; i++) {
        value_entry *e = &m->entries[i];
        const uint8_t *at = r->p;
        if (rd_str(r, &e->key, &e->klen) < 0)
            return -1;
        if (i && !keys_ascend(e[-1].key, e[-1].klen, e->key, e->klen)) {
            r->p = at;
            return rd_fail(r, "map keys not in strictly increasing order");
        }
        if (rd_value(r, &e->val, depth) < 0)
            return -1;
    }
    m->len = n;
    *out = m;
    return 0;
}

static int rd_array(reader *r, value_array **out, unsigned depth)
{
    uint32_t n;
    if (rd_count(r, 1, &n) < 0)
        return -1;
    value_array *arr = value_array_new(r->a, n);
    if (!arr)
        return rd_oom(r);
    for (uint32_t i = 0; i < n; i++)
        if (rd_value(r, &arr->items[i], depth) < 0)
            return -1;
    arr->len = n;
    *out = arr;
    return 0;
}

/* depth: the containers around the value read. */
static int rd_value(reader *r, value *out, unsigned depth)
{
    uint8_t tag;
    uint64_t u;
    if (rd_byte(r, &tag) < 0)
        return -1;
    if ((tag == TAG_ARRAY || tag == TAG_MAP) && depth >= EVENT_CODEC_MAX_DEPTH) {
        r->p--;
        return rd_fail(r, "values nested too deep");
    }
    *out = value_null();
    switch (tag) {
    case TAG_NULL:
        return 0;
    case TAG_FALSE:
    case TAG_TRUE:
        *out = value_bool(tag == TAG_TRUE);
        return 0;
    case TAG_INT:
        if (rd_varint(r, &u) < 0)
            return -1;
        *out = value_int(unzigzag(u));
        return 0;
    case TAG_FLOAT:
        out->kind = VALUE_FLOAT;
        return rd_f64(r, &out->u.f);
    case TAG_BYTES:
        out->kind = VALUE_BYTES;
        return rd_str(r, &out->u.s, &out->len);
    case TAG_TIMESTAMP:
        if (rd_u64(r, &u) < 0)
            return -1;
        *out = value_timestamp((int64_t)u);
        return 0;
    case TAG_ARRAY:
        out->kind = VALUE_ARRAY;
        return rd_array(r, &out->u.arr, depth + 1);
    case TAG_MAP:
        out->kind = VALUE_MAP;
        return rd_map_body(r, &out->u.map, depth + 1);
    default:
        r->p--;
        return rd_fail(r, "unknown value tag");
    }
}

/* Room for a count and then n elements of `size` bytes each, at least
 * min_bytes each in the record; *out is NULL for none. */
static int rd_elements(reader *r, size_t min_bytes, size_t size, uint32_t *n, void **out)
{
    *out = NULL;
    if (rd_count(r, min_bytes, n) < 0)
        return -1;
    if (*n && !(*out = arena_alloc(r->a, (size_t)*n * size)))
        return rd_oom(r);
    return 0;
}

static int rd_tags(reader *r, metric *m)
{
    void *p;
    if (rd_elements(r, MIN_TAG_BYTES, sizeof(metric_tag), &m->ntags, &p) < 0)
        return -1;
    m->tags = p;
    for (uint32_t i = 0; i < m->ntags; i++) {
        metric_tag *t = &m->tags[i];
        const uint8_t *at = r->p;
        uint32_t vlen;
        if (rd_cstr(r, &t->key) < 0 || rd_u32(r, &vlen, "tag value too long") < 0)
            return -1;
        t->value = NULL;
        if (vlen && rd_cstr_bytes(r, vlen - 1, &t->value) < 0)
            return -1;
        if (i && !tags_ascend(&t[-1], t)) {
            r->p = at;
            return rd_fail(r, "metric tags not in strictly increasing order");
        }
    }
    return 0;
}

static int rd_set(reader *r, metric *m)
{
    void *p;
    if (rd_elements(r, MIN_CSTR_BYTES, sizeof(char *), &m->v.set.n, &p) < 0)
        return -1;
    m->v.set.values = p;
    for (uint32_t i = 0; i < m->v.set.n; i++)
        if (rd_cstr(r, &m->v.set.values[i]) < 0)
            return -1;
    return 0;
}

static int rd_distribution(reader *r, metric *m)
{
    uint8_t stat;
    if (rd_byte(r, &stat) < 0)
        return -1;
    if (stat > METRIC_STAT_SUMMARY) {
        r->p--;
        return rd_fail(r, "unknown distribution statistic");
    }
    m->v.dist.statistic = stat;
    void *p;
    if (rd_elements(r, MIN_SAMPLE_BYTES, sizeof(metric_sample), &m->v.dist.n, &p) < 0)
        return -1;
    m->v.dist.samples = p;
    for (uint32_t i = 0; i < m->v.dist.n; i++) {
        metric_sample *s = &m->v.dist.samples[i];
        if (rd_f64(r, &s->value) < 0 || rd_u32(r, &s->rate, "sample rate too large") < 0)
            return -1;
    }
    return 0;
}

static int rd_histogram(reader *r, metric *m)
{
    void *p;
    if (rd_elements(r, MIN_BUCKET_BYTES, sizeof(metric_bucket), &m->v.hist.n, &p) < 0)
        return -1;
    m->v.hist.buckets = p;
    for (uint32_t i = 0; i < m->v.hist.n; i++) {
        metric_bucket *bk = &m->v.hist.buckets[i];
        if (rd_f64(r, &bk->upper_limit) < 0 || rd_varint(r, &bk->count) < 0)
            return -1;
    }
    return rd_varint(r, &m->v.hist.count) < 0 ? -1 : rd_f64(r, &m->v.hist.sum);
}

static int rd_summary(reader *r, metric *m)
{
    void *p;
    if (rd_elements(r, MIN_QUANTILE_BYTES, sizeof(metric_quantile), &m->v.summary.n, &p) < 0)
        return -1;
    m->v.summary.quantiles = p;
    for (uint32_t i = 0; i < m->v.summary.n; i++) {
        metric_quantile *q = &m->v.summary.quantiles[i];
        if (rd_f64(r, &q->quantile) < 0 || rd_f64(r, &q->value) < 0)
            return -1;
    }
    return rd_varint(r, &m->v.summary.count) < 0 ? -1 : rd_f64(r, &m->v.summary.sum);
}

static int rd_metric_value(reader *r, metric *m)
{
    switch (m->type) {
    case METRIC_COUNTER:
        return rd_f64(r, &m->v.counter);
    case METRIC_GAUGE:
        return rd_f64(r, &m->v.gauge);
    case METRIC_SET:
        return rd_set(r, m);
    case METRIC_DISTRIBUTION:
        return rd_distribution(r, m);
    case METRIC_AGGREGATED_HISTOGRAM:
        return rd_histogram(r, m);
    default:
        return rd_summary(r, m);
    }
}

static int rd_metric(reader *r, metric **out)
{
    metric *m = arena_alloc(r->a, sizeof(*m));
    if (!m)
        return rd_oom(r);
    memset(m, 0, sizeof(*m));
    uint8_t flags;
    if (rd_cstr(r, &m->name) < 0 || rd_byte(r, &flags) < 0 || rd_byte(r, &m->type) < 0)
        return -1;
    if (flags & ~FLAGS_KNOWN) {
        r->p -= 2;
        return rd_fail(r, "unknown metric flags");
    }
    if (m->type > METRIC_AGGREGATED_SUMMARY) {
        r->p--;
        return rd_fail(r, "unknown metric type");
    }
    m->kind = (flags & FLAG_ABSOLUTE) ? METRIC_ABSOLUTE : METRIC_INCREMENTAL;
    m->has_timestamp = (flags & FLAG_TIMESTAMP) != 0;
    if ((flags & FLAG_NAMESPACE) && rd_cstr(r, &m->namespace_) < 0)
        return -1;
    uint64_t ts;
    if (m->has_timestamp) {
        if (rd_u64(r, &ts) < 0)
            return -1;
        m->timestamp = (int64_t)ts;
    }
    if (rd_u32(r, &m->interval_ms, "interval too large") < 0 || rd_tags(r, m) < 0 ||
        rd_metric_value(r, m) < 0)
        return -1;
    *out = m;
    return 0;
}

static int rd_event(reader *r, event *e)
{
    uint8_t type;
    if (rd_byte(r, &type) < 0)
        return -1;
    if (type != EVENT_LOG && type != EVENT_METRIC) {
        r->p--;
        return rd_fail(r, "unknown event type");
    }
    e->type = type;
    if (rd_value(r, &e->meta, 0) < 0)
        return -1;
    if (type == EVENT_METRIC)
        return rd_metric(r, &e->u.metric);
    value_map *log;
    if (rd_map_body(r, &log, 1) < 0)
        return -1;
    e->u.log.kind = VALUE_MAP;
    e->u.log.u.map = log;
    return 0;
}

int64_t event_codec_decode(batch *b, const uint8_t *data, size_t n, sl_error *err)
{
    reader r = {data, data + n, data, b->arena, err};
    uint8_t version;
    uint32_t count;
    if (rd_byte(&r, &version) < 0)
        return -1;
    if (version != EVENT_CODEC_VERSION)
        return sl_fail(err, "event codec: unknown format version %u at byte 0 (this build "
                       "reads %d)", version, EVENT_CODEC_VERSION);
    if (rd_count(&r, MIN_EVENT_BYTES, &count) < 0)
        return -1;
    if (count > b->cap - b->count)
        return sl_fail(err, "event codec: record holds %u events, the batch has room for %u",
                       count, b->cap - b->count);
    for (uint32_t i = 0; i < count; i++) {
        event *e = batch_push(b);
        if (!e)
            return rd_oom(&r);
        if (rd_event(&r, e) < 0)
            return -1;
    }
    if (r.p != r.end)
        return rd_fail(&r, "trailing bytes after the last event");
    return count;
}
