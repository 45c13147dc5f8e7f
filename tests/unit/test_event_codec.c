/* Unit tests: the disk buffer's event codec - exact round trips of every
 * value kind and metric type, and refusal (never a crash) of truncated,
 * damaged, disordered, too deep or unknown-version input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pipeline/event_codec.h"

/* Structural equality that compares floats by their bits, so NaN, -0.0 and
 * infinities count as round-tripping only when they come back exactly. */
static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof(a)) == 0; }

static bool same_value(const value *a, const value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case VALUE_FLOAT:
        return same_bits(a->u.f, b->u.f);
    case VALUE_ARRAY:
        if (a->u.arr->len != b->u.arr->len)
            return false;
        for (uint32_t i = 0; i < a->u.arr->len; i++)
            if (!same_value(&a->u.arr->items[i], &b->u.arr->items[i]))
                return false;
        return true;
    case VALUE_MAP:
        if (a->u.map->len != b->u.map->len)
            return false;
        for (uint32_t i = 0; i < a->u.map->len; i++) {
            const value_entry *x = &a->u.map->entries[i], *y = &b->u.map->entries[i];
            if (x->klen != y->klen || memcmp(x->key, y->key, x->klen) != 0 ||
                !same_value(&x->val, &y->val))
                return false;
        }
        return true;
    default:
        return value_equal(a, b);
    }
}

static bool same_cstr(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_metric_value(const metric *a, const metric *b)
{
    switch (a->type) {
    case METRIC_COUNTER:
        return same_bits(a->v.counter, b->v.counter);
    case METRIC_GAUGE:
        return same_bits(a->v.gauge, b->v.gauge);
    case METRIC_SET:
        if (a->v.set.n != b->v.set.n)
            return false;
        for (uint32_t i = 0; i < a->v.set.n; i++)
            if (!same_cstr(a->v.set.values[i], b->v.set.values[i]))
                return false;
        return true;
    case METRIC_DISTRIBUTION:
        if (a->v.dist.n != b->v.dist.n || a->v.dist.statistic != b->v.dist.statistic)
            return false;
        for (uint32_t i = 0; i < a->v.dist.n; i++)
            if (!same_bits(a->v.dist.samples[i].value, b->v.dist.samples[i].value) ||
                a->v.dist.samples[i].rate != b->v.dist.samples[i].rate)
                return false;
        return true;
    case METRIC_AGGREGATED_HISTOGRAM:
        if (a->v.hist.n != b->v.hist.n || a->v.hist.count != b->v.hist.count ||
            !same_bits(a->v.hist.sum, b->v.hist.sum))
            return false;
        for (uint32_t i = 0; i < a->v.hist.n; i++)
            if (!same_bits(a->v.hist.buckets[i].upper_limit, b->v.hist.buckets[i].upper_limit) ||
                a->v.hist.buckets[i].count != b->v.hist.buckets[i].count)
                return false;
        return true;
    default:
        if (a->v.summary.n != b->v.summary.n || a->v.summary.count != b->v.summary.count ||
            !same_bits(a->v.summary.sum, b->v.summary.sum))
            return false;
        for (uint32_t i = 0; i < a->v.summary.n; i++)
            if (!same_bits(a->v.summary.quantiles[i].quantile,
                           b->v.summary.quantiles[i].quantile) ||
                !same_bits(a->v.summary.quantiles[i].value, b->v.summary.quantiles[i].value))
                return false;
        return true;
    }
}

static bool same_metric(const metric *a, const metric *b)
{
    if (!same_cstr(a->name, b->name) || !same_cstr(a->namespace_, b->namespace_) ||
        a->ntags != b->ntags || a->kind != b->kind || a->type != b->type ||
        a->has_timestamp != b->has_timestamp || a->interval_ms != b->interval_ms ||
        (a->has_timestamp && a->timestamp != b->timestamp))
        return false;
    for (uint32_t i = 0; i < a->ntags; i++)
        if (!same_cstr(a->tags[i].key, b->tags[i].key) ||
            !same_cstr(a->tags[i].value, b->tags[i].value))
            return false;
    return same_metric_value(a, b);
}

static void assert_same_event(const event *a, const event *b)
{
    assert_int_equal(a->type, b->type);
    assert_true(same_value(&a->meta, &b->meta));
    if (a->type == EVENT_LOG)
        assert_true(same_value(&a->u.log, &b->u.log));
    else
        assert_true(same_metric(a->u.metric, b->u.metric));
}

/* Encodes b, decodes the bytes into a new batch, checks every event came
 * back, and returns the new batch (its strings point into *bytes). */
static batch *round_trip(const batch *b, buf *bytes)
{
    sl_error err = {{0}};
    buf_reset(bytes);
    assert_int_equal(event_codec_encode(b, bytes, &err), 0);
    batch *c = batch_new(b->count ? b->count : 1, NULL);
    assert_non_null(c);
    int64_t n = event_codec_decode(c, (const uint8_t *)bytes->data, bytes->len, &err);
    if (n < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(n, b->count);
    assert_int_equal(c->count, b->count);
    for (uint32_t i = 0; i < b->count; i++)
        assert_same_event(&b->events[i], &c->events[i]);
    return c;
}

static value bytes_of(const char *s, size_t n) { return value_bytes(s, n); }

static value array_of(arena *a, const value *items, uint32_t n)
{
    value v = value_new_array(a, n);
    assert_int_equal(v.kind, VALUE_ARRAY);
    for (uint32_t i = 0; i < n; i++) {
        value *slot = value_array_push(a, v.u.arr);
        assert_non_null(slot);
        *slot = items[i];
    }
    return v;
}

static void put(arena *a, value *map, const char *key, value v)
{
    value *slot = value_map_put(a, map->u.map, key, strlen(key));
    assert_non_null(slot);
    *slot = v;
}

/* A log as a file source makes it: the hot case the format is sized for. */
static void push_typical_log(batch *b, int i)
{
    event *e = batch_push(b);
    assert_non_null(e);
    assert_int_equal(event_init_log(b->arena, e, 5), 0);
    char *msg = arena_alloc(b->arena, 201);
    assert_non_null(msg);
    memset(msg, 'x', 200);
    int len = snprintf(msg, 201, "%d GET /api/v1/items?page=%d HTTP/1.1 200 ", i, i);
    msg[len] = 'x';
    assert_int_equal(event_log_set(b->arena, e, "message", bytes_of(msg, 200)), 0);
    assert_int_equal(event_log_set(b->arena, e, "timestamp",
                                   value_timestamp(1763700000123456789LL + i)), 0);
    assert_int_equal(event_log_set(b->arena, e, "host", bytes_of("web-01.example", 14)), 0);
    assert_int_equal(event_log_set(b->arena, e, "source_type", bytes_of("file", 4)), 0);
    assert_int_equal(event_log_set(b->arena, e, "file", bytes_of("/var/log/app/access.log", 23)),
                     0);
}

static void every_value_kind_round_trips(void **state)
{
    (void)state;
    batch *b = batch_new(2, NULL);
    arena *a = b->arena;
    event *e = batch_push(b);
    assert_int_equal(event_init_log(a, e, 4), 0);
    value *log = &e->u.log;
    put(a, log, "null", value_null());
    put(a, log, "false", value_bool(false));
    put(a, log, "true", value_bool(true));
    put(a, log, "int_min", value_int(INT64_MIN));
    put(a, log, "int_max", value_int(INT64_MAX));
    put(a, log, "int_neg", value_int(-1));
    put(a, log, "int_zero", value_int(0));
    put(a, log, "float", value_float(1.5));
    put(a, log, "neg_zero", value_float(-0.0));
    put(a, log, "inf", value_float(INFINITY));
    put(a, log, "neg_inf", value_float(-INFINITY));
    put(a, log, "nan", value_float(NAN));
    put(a, log, "bytes", bytes_of("a\0b\xff\xfe\xc3(", 7));
    put(a, log, "empty", bytes_of("", 0));
    put(a, log, "long", bytes_of(memset(arena_alloc(a, 70000), 'q', 70000), 70000));
    put(a, log, "ts", value_timestamp(1763700000123456789LL));
    put(a, log, "ts_before_epoch", value_timestamp(-86400000000000LL));
    put(a, log, "", bytes_of("empty key", 9));
    assert_non_null(value_map_put(a, log->u.map, "key\0with nul", 12));
    value inner = value_new_map(a, 0);
    put(a, &inner, "deep", array_of(a, (value[]){value_int(1), value_new_map(a, 0)}, 2));
    value items[] = {value_int(7), bytes_of("s", 1), inner, value_new_array(a, 0), value_null()};
    put(a, log, "array", array_of(a, items, 5));
    put(a, log, "map", inner);
    e->meta = value_new_map(a, 1);
    put(a, &e->meta, "dropped", value_bool(true));

    event *bare = batch_push(b);
    assert_int_equal(event_init_log(a, bare, 0), 0);
    bare->meta = bytes_of("any kind of meta", 16);

    buf bytes = BUF_INIT;
    batch *c = round_trip(b, &bytes);
    const value *nan = event_log_get(&c->events[0], "nan");
    assert_true(isnan(nan->u.f));
    assert_true(signbit(event_log_get(&c->events[0], "neg_zero")->u.f));
    const value *back = event_log_get(&c->events[0], "bytes");
    assert_memory_equal(back->u.s, "a\0b\xff\xfe\xc3(", 7);
    /* Strings are not copied: they point into the record. */
    assert_true(back->u.s >= bytes.data && back->u.s < bytes.data + bytes.len);
    batch_release(c, ACK_DELIVERED);
    buf_free(&bytes);
    batch_release(b, ACK_DELIVERED);
}

static void logs_without_nan_stay_value_equal(void **state)
{
    (void)state;
    batch *b = batch_new(8, NULL);
    for (int i = 0; i < 8; i++)
        push_typical_log(b, i);
    buf bytes = BUF_INIT;
    batch *c = round_trip(b, &bytes);
    for (int i = 0; i < 8; i++) {
        assert_true(value_equal(&b->events[i].u.log, &c->events[i].u.log));
        assert_true(value_equal(&b->events[i].meta, &c->events[i].meta));
    }
    batch_release(c, ACK_DELIVERED);
    buf_free(&bytes);
    batch_release(b, ACK_DELIVERED);
}

static metric *push_metric(batch *b, const char *name, const char *ns, metric_type type)
{
    event *e = batch_push(b);
    assert_non_null(e);
    assert_int_equal(event_init_metric(b->arena, e, name, ns), 0);
    e->u.metric->type = (uint8_t)type;
    return e->u.metric;
}

static void *arena_copy(arena *a, const void *src, size_t n)
{
    void *p = arena_alloc(a, n);
    assert_non_null(p);
    return memcpy(p, src, n);
}

/* One metric of each type, with and without namespace, tags (bare ones
 * included), timestamp and interval. */
static batch *metrics_of_every_type(void)
{
    batch *b = batch_new(16, NULL);
    arena *a = b->arena;
    metric *m = push_metric(b, "requests_total", "app", METRIC_COUNTER);
    m->v.counter = 42.5;
    m->kind = METRIC_INCREMENTAL;
    m->has_timestamp = true;
    m->timestamp = 1763700000000000001LL;
    m->interval_ms = 10000;
    assert_int_equal(event_metric_set_tag(a, &b->events[0], "method", "GET"), 0);
    assert_int_equal(event_metric_set_tag(a, &b->events[0], "bare", NULL), 0);
    assert_int_equal(event_metric_set_tag(a, &b->events[0], "empty", ""), 0);
    b->events[0].meta = value_new_map(a, 0);

    m = push_metric(b, "temperature", NULL, METRIC_GAUGE);
    m->kind = METRIC_ABSOLUTE;
    m->v.gauge = -0.0;

    m = push_metric(b, "users", "ns", METRIC_SET);
    static const char *users[] = {"alice", "bob", ""};
    m->v.set.values = arena_copy(a, users, sizeof(users));
    m->v.set.n = 3;

    push_metric(b, "empty_set", NULL, METRIC_SET);

    m = push_metric(b, "latency", NULL, METRIC_DISTRIBUTION);
    metric_sample samples[] = {{0.25, 1}, {NAN, UINT32_MAX}, {-INFINITY, 0}};
    m->v.dist.samples = arena_copy(a, samples, sizeof(samples));
    m->v.dist.n = 3;
    m->v.dist.statistic = METRIC_STAT_HISTOGRAM;

    m = push_metric(b, "latency_summary", NULL, METRIC_DISTRIBUTION);
    m->v.dist.statistic = METRIC_STAT_SUMMARY;

    m = push_metric(b, "sizes", "web", METRIC_AGGREGATED_HISTOGRAM);
    metric_bucket buckets[] = {{1.0, 3}, {10.0, UINT64_MAX}, {INFINITY, 0}};
    m->v.hist.buckets = arena_copy(a, buckets, sizeof(buckets));
    m->v.hist.n = 3;
    m->v.hist.count = UINT64_MAX;
    m->v.hist.sum = 1234.5;
    m->interval_ms = UINT32_MAX;

    m = push_metric(b, "durations", NULL, METRIC_AGGREGATED_SUMMARY);
    metric_quantile qs[] = {{0.5, 1.0}, {0.99, 7.25}};
    m->v.summary.quantiles = arena_copy(a, qs, sizeof(qs));
    m->v.summary.n = 2;
    m->v.summary.count = 9;
    m->v.summary.sum = 20.0;
    m->has_timestamp = true;
    m->timestamp = -5;

    push_typical_log(b, 0);
    return b;
}

static void metrics_of_every_type_round_trip(void **state)
{
    (void)state;
    batch *b = metrics_of_every_type();
    buf bytes = BUF_INIT;
    batch *c = round_trip(b, &bytes);
    const metric *m = c->events[0].u.metric;
    assert_string_equal(m->tags[0].key, "bare");
    assert_null(m->tags[0].value);
    assert_string_equal(m->tags[1].value, "");
    assert_null(c->events[1].u.metric->namespace_);
    assert_null(c->events[3].u.metric->v.set.values);
    batch_release(c, ACK_DELIVERED);
    buf_free(&bytes);
    batch_release(b, ACK_DELIVERED);
}

static void empty_batch_round_trips(void **state)
{
    (void)state;
    batch *b = batch_new(4, NULL);
    buf bytes = BUF_INIT;
    batch *c = round_trip(b, &bytes);
    assert_int_equal(bytes.len, 2);   /* version, count */
    assert_int_equal(c->count, 0);
    batch_release(c, ACK_DELIVERED);
    buf_free(&bytes);
    batch_release(b, ACK_DELIVERED);
}

static void full_batch_of_logs_round_trips(void **state)
{
    (void)state;
    batch *b = batch_new(BATCH_DEFAULT_EVENTS, NULL);
    for (int i = 0; i < BATCH_DEFAULT_EVENTS; i++)
        push_typical_log(b, i);
    buf bytes = BUF_INIT;
    batch *c = round_trip(b, &bytes);
    /* Binary form of the hot case: well under its JSON size. */
    assert_true(bytes.len < batch_json_bytes(b));
    batch_release(c, ACK_DELIVERED);
    buf_free(&bytes);
    batch_release(b, ACK_DELIVERED);
}

static void encoding_appends_to_what_out_holds(void **state)
{
    (void)state;
    batch *b = metrics_of_every_type();
    sl_error err;
    buf alone = BUF_INIT, after = BUF_INIT;
    assert_int_equal(event_codec_encode(b, &alone, &err), 0);
    assert_int_equal(buf_append_str(&after, "header"), 0);
    assert_int_equal(event_codec_encode(b, &after, &err), 0);
    assert_int_equal(after.len, 6 + alone.len);
    assert_memory_equal(after.data + 6, alone.data, alone.len);
    buf_free(&alone);
    buf_free(&after);
    batch_release(b, ACK_DELIVERED);
}

static int64_t decode_into_new_batch(const void *data, size_t n, sl_error *err)
{
    batch *c = batch_new(64, NULL);
    assert_non_null(c);
    int64_t rc = event_codec_decode(c, data, n, err);
    batch_release(c, ACK_DELIVERED);
    return rc;
}

static void every_truncated_prefix_is_refused(void **state)
{
    (void)state;
    batch *b = metrics_of_every_type();
    event *e = batch_push(b);
    assert_int_equal(event_init_log(b->arena, e, 1), 0);
    value nested[] = {value_float(2.0), value_timestamp(3), value_bool(true)};
    put(b->arena, &e->u.log, "a", array_of(b->arena, nested, 3));
    buf bytes = BUF_INIT;
    sl_error err;
    assert_int_equal(event_codec_encode(b, &bytes, &err), 0);
    for (size_t n = 0; n < bytes.len; n++) {
        /* A copy of exactly n bytes, so ASan sees any read past them. */
        uint8_t *prefix = test_malloc(n ? n : 1);
        memcpy(prefix, bytes.data, n);
        err.msg[0] = '\0';
        assert_int_equal(decode_into_new_batch(prefix, n, &err), -1);
        assert_non_null(strstr(err.msg, "event codec: "));
        test_free(prefix);
    }
    assert_int_equal(decode_into_new_batch(bytes.data, bytes.len, &err), b->count);
    buf_free(&bytes);
    batch_release(b, ACK_DELIVERED);
}

/* Whatever a damaged record decodes to, it is a well-formed one: encoding
 * it again gives the same bytes, since every form is canonical. */
static void damaged_record_is_refused_or_canonical(const uint8_t *data, size_t n)
{
    sl_error err;
    batch *c = batch_new(64, NULL);
    int64_t rc = event_codec_decode(c, data, n, &err);
    if (rc >= 0) {
        buf again = BUF_INIT;
        assert_int_equal(event_codec_encode(c, &again, &err), 0);
        assert_int_equal(again.len, n);
        assert_memory_equal(again.data, data, n);
        buf_free(&again);
    }
    batch_release(c, ACK_DELIVERED);
}

static void flipped_bytes_never_crash(void **state)
{
    (void)state;
    batch *b = metrics_of_every_type();
    event *e = batch_push(b);
    assert_int_equal(event_init_log(b->arena, e, 1), 0);
    put(b->arena, &e->u.log, "k", array_of(b->arena, (value[]){value_int(-3)}, 1));
    buf bytes = BUF_INIT;
    sl_error err;
    assert_int_equal(event_codec_encode(b, &bytes, &err), 0);
    static const uint8_t masks[] = {0x01, 0x02, 0x10, 0x80, 0xff};
    uint8_t *copy = test_malloc(bytes.len);
    for (size_t i = 0; i < bytes.len; i++) {
        for (size_t m = 0; m < SL_ARRAY_LEN(masks); m++) {
            memcpy(copy, bytes.data, bytes.len);
            copy[i] ^= masks[m];
            damaged_record_is_refused_or_canonical(copy, bytes.len);
        }
    }
    test_free(copy);
    buf_free(&bytes);
    batch_release(b, ACK_DELIVERED);
}

static void assert_refused(const uint8_t *data, size_t n, const char *why)
{
    sl_error err;
    assert_int_equal(decode_into_new_batch(data, n, &err), -1);
    if (!strstr(err.msg, why))
        fail_msg("expected \"%s\", got \"%s\"", why, err.msg);
}

static void unsorted_map_keys_are_refused(void **state)
{
    (void)state;
    /* version 1, one event: log, null meta, map of 2: "b" null, "a" null. */
    static const uint8_t unsorted[] = {1, 1, 1, 0, 2, 1, 'b', 0, 1, 'a', 0};
    assert_refused(unsorted, sizeof(unsorted), "map keys not in strictly increasing order at byte 8");
    static const uint8_t duplicate[] = {1, 1, 1, 0, 2, 1, 'a', 0, 1, 'a', 0};
    assert_refused(duplicate, sizeof(duplicate), "strictly increasing");
    /* A longer key sorts after its prefix. */
    static const uint8_t longer_first[] = {1, 1, 1, 0, 2, 2, 'a', 'b', 0, 1, 'a', 0};
    assert_refused(longer_first, sizeof(longer_first), "strictly increasing");
    static const uint8_t sorted[] = {1, 1, 1, 0, 2, 1, 'a', 0, 2, 'a', 'b', 0};
    sl_error err;
    assert_int_equal(decode_into_new_batch(sorted, sizeof(sorted), &err), 1);

    /* The encoder refuses a map built out of order rather than write a
     * record that could not be read back. */
    batch *b = batch_new(1, NULL);
    event *e = batch_push(b);
    assert_int_equal(event_init_log(b->arena, e, 2), 0);
    value_map *m = e->u.log.u.map;
    m->entries[0] = (value_entry){"b", 1, value_null()};
    m->entries[1] = (value_entry){"a", 1, value_null()};
    m->len = 2;
    buf out = BUF_INIT;
    assert_int_equal(event_codec_encode(b, &out, &err), -1);
    assert_non_null(strstr(err.msg, "out of order"));
    assert_int_equal(out.len, 0);
    buf_free(&out);
    batch_release(b, ACK_DELIVERED);
}

static void unsorted_metric_tags_are_refused(void **state)
{
    (void)state;
    /* A counter "m" with tags b=NULL, a=NULL. */
    static const uint8_t unsorted[] = {1, 1, 2, 0, 1, 'm', 0, 0, 0, 0,
                                       2, 1, 'b', 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_refused(unsorted, sizeof(unsorted), "metric tags not in strictly increasing order");
    /* Same key: the bare tag first, then values in order. */
    static const uint8_t same_key[] = {1, 1, 2, 0, 1, 'm', 0, 0, 0, 0,
                                       2, 1, 'a', 0, 2, 'x', 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_refused(same_key, sizeof(same_key), "metric tags not in strictly increasing order");
    static const uint8_t sorted[] = {1, 1, 2, 0, 1, 'm', 0, 0, 0, 0,
                                     2, 1, 'a', 0, 0, 1, 'a', 0, 2, 'x', 0, 0, 0, 0, 0, 0, 0, 0, 0};
    sl_error err;
    assert_int_equal(decode_into_new_batch(sorted, sizeof(sorted), &err), 1);

    batch *b = batch_new(1, NULL);
    metric *m = push_metric(b, "m", NULL, METRIC_COUNTER);
    metric_tag tags[] = {{"b", NULL}, {"a", NULL}};
    m->tags = arena_copy(b->arena, tags, sizeof(tags));
    m->ntags = 2;
    buf out = BUF_INIT;
    assert_int_equal(event_codec_encode(b, &out, &err), -1);
    assert_non_null(strstr(err.msg, "metric tag \"a\" out of order"));
    buf_free(&out);
    batch_release(b, ACK_DELIVERED);
}

/* A log whose field "a" holds arrays nested so that the log map and the
 * arrays make `depth` containers. */
static batch *log_nested(int depth)
{
    batch *b = batch_new(1, NULL);
    event *e = batch_push(b);
    assert_int_equal(event_init_log(b->arena, e, 1), 0);
    value v = value_int(1);
    for (int i = 1; i < depth; i++)
        v = array_of(b->arena, &v, 1);
    put(b->arena, &e->u.log, "a", v);
    return b;
}

/* A record of one log whose field "a" holds `arrays` arrays nested in each
 * other around a null; the log map makes one container more. */
static void append_log_with_arrays(buf *out, int arrays)
{
    static const uint8_t head[] = {1, 1, 1, 0, 1, 1, 'a'};
    assert_int_equal(buf_append(out, head, sizeof(head)), 0);
    for (int i = 0; i < arrays; i++)
        assert_int_equal(buf_append(out, "\x07\x01", 2), 0);
    assert_int_equal(buf_append(out, "\x00", 1), 0);
}

static void nesting_is_limited_on_both_sides(void **state)
{
    (void)state;
    batch *b = log_nested(EVENT_CODEC_MAX_DEPTH);
    buf bytes = BUF_INIT;
    batch *c = round_trip(b, &bytes);
    batch_release(c, ACK_DELIVERED);
    batch_release(b, ACK_DELIVERED);

    sl_error err;
    b = log_nested(EVENT_CODEC_MAX_DEPTH + 1);
    buf_reset(&bytes);
    assert_int_equal(event_codec_encode(b, &bytes, &err), -1);
    assert_non_null(strstr(err.msg, "nested deeper than 128"));
    batch_release(b, ACK_DELIVERED);

    /* The same nesting written by hand: one array more is refused at its
     * tag, one less is read. */
    buf_reset(&bytes);
    append_log_with_arrays(&bytes, EVENT_CODEC_MAX_DEPTH);
    char want[64];
    snprintf(want, sizeof(want), "values nested too deep at byte %d",
             7 + 2 * (EVENT_CODEC_MAX_DEPTH - 1));
    assert_refused((const uint8_t *)bytes.data, bytes.len, want);
    buf_reset(&bytes);
    append_log_with_arrays(&bytes, EVENT_CODEC_MAX_DEPTH - 1);
    assert_int_equal(decode_into_new_batch(bytes.data, bytes.len, &err), 1);
    buf_free(&bytes);
}

static void depth_counts_meta_from_its_own_root(void **state)
{
    (void)state;
    buf bytes = BUF_INIT;
    static const uint8_t head[] = {1, 1, 1};
    assert_int_equal(buf_append(&bytes, head, sizeof(head)), 0);
    for (int i = 0; i < EVENT_CODEC_MAX_DEPTH; i++)
        assert_int_equal(buf_append(&bytes, "\x07\x01", 2), 0);
    assert_int_equal(buf_append(&bytes, "\x00\x00", 2), 0);   /* null leaf, empty log */
    sl_error err;
    assert_int_equal(decode_into_new_batch(bytes.data, bytes.len, &err), 1);
    buf_free(&bytes);
}

static void unknown_version_is_refused(void **state)
{
    (void)state;
    static const uint8_t v2[] = {2, 0};
    assert_refused(v2, sizeof(v2), "unknown format version 2");
    static const uint8_t v0[] = {0, 0};
    assert_refused(v0, sizeof(v0), "unknown format version 0");
    static const uint8_t v1[] = {1, 0};
    sl_error err;
    assert_int_equal(decode_into_new_batch(v1, sizeof(v1), &err), 0);
}

static void malformed_records_are_refused(void **state)
{
    (void)state;
    static const uint8_t trailing[] = {1, 0, 0};
    assert_refused(trailing, sizeof(trailing), "trailing bytes after the last event at byte 2");
    /* Four billion events in a record of a few bytes: refused before any
     * allocation. */
    static const uint8_t forged_count[] = {1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 0, 0};
    assert_refused(forged_count, sizeof(forged_count), "count larger than the rest");
    static const uint8_t forged_map[] = {1, 1, 1, 0, 0xff, 0xff, 0xff, 0x7f, 0};
    assert_refused(forged_map, sizeof(forged_map), "count larger than the rest of the record can hold at byte 4");
    static const uint8_t long_string[] = {1, 1, 1, 0, 1, 0x7f, 'a'};
    assert_refused(long_string, sizeof(long_string), "string runs past the end");
    static const uint8_t overlong_varint[] = {1, 0x80, 0x00};
    assert_refused(overlong_varint, sizeof(overlong_varint), "shortest form");
    static const uint8_t huge_varint[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x02};
    assert_refused(huge_varint, sizeof(huge_varint), "overflows 64 bits");
    static const uint8_t bad_event_type[] = {1, 1, 3, 0, 0};
    assert_refused(bad_event_type, sizeof(bad_event_type), "unknown event type at byte 2");
    static const uint8_t value_tag[] = {1, 1, 1, 9, 0};
    assert_refused(value_tag, sizeof(value_tag), "unknown value tag at byte 3");
    /* Metric "m": flags, type, interval, no tags, then the value. */
    static const uint8_t bad_metric_type[] = {1, 1, 2, 0, 1, 'm', 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_refused(bad_metric_type, sizeof(bad_metric_type), "unknown metric type at byte 8");
    static const uint8_t flags[] = {1, 1, 2, 0, 1, 'm', 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_refused(flags, sizeof(flags), "unknown metric flags at byte 7");
    static const uint8_t statistic[] = {1, 1, 2, 0, 1, 'm', 0, 0, 3, 0, 0, 2, 0};
    assert_refused(statistic, sizeof(statistic), "unknown distribution statistic at byte 11");
    static const uint8_t nul_in_name[] = {1, 1, 2, 0, 2, 'm', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_refused(nul_in_name, sizeof(nul_in_name), "NUL");
    static const uint8_t unterminated[] = {1, 1, 2, 0, 1, 'm', 'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_refused(unterminated, sizeof(unterminated), "NUL");
    static const uint8_t big_interval[] = {1, 1, 2, 0, 1, 'm', 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10,
                                           0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_refused(big_interval, sizeof(big_interval), "interval too large");
}

static void a_full_batch_is_refused(void **state)
{
    (void)state;
    batch *b = batch_new(4, NULL);
    for (int i = 0; i < 3; i++)
        push_typical_log(b, i);
    buf bytes = BUF_INIT;
    sl_error err;
    assert_int_equal(event_codec_encode(b, &bytes, &err), 0);
    batch *c = batch_new(4, NULL);
    assert_non_null(batch_push(c));
    assert_non_null(batch_push(c));
    assert_int_equal(event_codec_decode(c, (const uint8_t *)bytes.data, bytes.len, &err), -1);
    assert_non_null(strstr(err.msg, "record holds 3 events, the batch has room for 2"));
    batch_pop(c);
    assert_int_equal(event_codec_decode(c, (const uint8_t *)bytes.data, bytes.len, &err), 3);
    assert_int_equal(c->count, 4);
    batch_release(c, ACK_DELIVERED);
    buf_free(&bytes);
    batch_release(b, ACK_DELIVERED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_value_kind_round_trips),
        cmocka_unit_test(logs_without_nan_stay_value_equal),
        cmocka_unit_test(metrics_of_every_type_round_trip),
        cmocka_unit_test(empty_batch_round_trips),
        cmocka_unit_test(full_batch_of_logs_round_trips),
        cmocka_unit_test(encoding_appends_to_what_out_holds),
        cmocka_unit_test(every_truncated_prefix_is_refused),
        cmocka_unit_test(flipped_bytes_never_crash),
        cmocka_unit_test(unsorted_map_keys_are_refused),
        cmocka_unit_test(unsorted_metric_tags_are_refused),
        cmocka_unit_test(nesting_is_limited_on_both_sides),
        cmocka_unit_test(depth_counts_meta_from_its_own_root),
        cmocka_unit_test(unknown_version_is_refused),
        cmocka_unit_test(malformed_records_are_refused),
        cmocka_unit_test(a_full_batch_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
