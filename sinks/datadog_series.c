/* datadog_series.c - the normalizer and encoders of the datadog_metrics sink
 * (see datadog_series.h).
 *
 * The normalizer follows Vector's DatadogMetricsNormalizer (src/sinks/
 * datadog/metrics/normalizer.rs, over MetricSet in src/sinks/util/buffer/
 * metrics): counters are sent incremental, gauges absolute. An absolute
 * counter's first sample is only remembered (sending the total would count
 * everything before it again, e.g. after a restart); later ones send the
 * difference; a value lower than the last is a reset: it becomes the new
 * reference and nothing is sent, as MetricValue::subtract refuses to make
 * a counter go backwards. An incremental gauge is added to the series'
 * last value (from 0). Only series that need it are remembered: absolute
 * counters and incremental gauges.
 *
 * The series encoder writes the MetricSeries of openapi-v2.yaml the way
 * Vector's generate_series_metrics fills it (src/sinks/datadog/metrics/
 * encoder.rs): the name prefixed by the namespace and a dot, tags as
 * "key:value" (a bare tag as "key") sorted as strings, the `host` tag
 * moved to a host resource, the timestamp in whole seconds. Types: counters
 * `count` (1), gauges and sets `gauge` (3). One difference: Vector sends a
 * counter that carries an interval as a `rate` (value / interval); here
 * every counter is a `count` with its `interval` (the metric's, else the
 * sink's flush interval), which Datadog reads as the same thing.
 *
 * Distributions go to the v1 distribution points API, as Vector's sink did
 * before it moved to sketches (src/sinks/datadog/metrics.rs, 0.1x,
 * encode_distribution_events): one point with every sample repeated by
 * its sample rate. Aggregated histograms and summaries have no Datadog
 * type without sketches: they are refused, each counted as an error. */
#include "sinks/datadog_series.h"
#include "pipeline/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A value takes at least 4 bytes in a distribution ("1.0,"): a metric with
 * more samples than this can't fit in a request. Refusing it up front
 * keeps a huge sample rate from expanding into gigabytes first. */
#define MAX_DISTRIBUTION_VALUES (DD_METRICS_MAX_BYTES / 4)

dd_metrics_route dd_metrics_route_of(const metric *m)
{
    return m->type == METRIC_DISTRIBUTION ? DD_ROUTE_DISTRIBUTION : DD_ROUTE_SERIES;
}

/* ---- the normalizer: series -> last value ---- */

typedef struct series_slot {
    uint64_t hash;       /* 0: empty */
    char *key;           /* series_key bytes (heap) */
    size_t klen;
    double value;
} series_slot;

struct dd_normalizer {
    series_slot *slots;
    size_t cap, used;    /* cap: a power of two */
    buf key;             /* scratch for the key being looked up */
};

dd_normalizer *dd_normalizer_new(void)
{
    return calloc(1, sizeof(dd_normalizer));
}

void dd_normalizer_free(dd_normalizer *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->cap; i++)
        free(n->slots[i].key);
    free(n->slots);
    buf_free(&n->key);
    free(n);
}

size_t dd_normalizer_size(const dd_normalizer *n)
{
    return n->used;
}

/* The identity of m's series as bytes: type, namespace, name, then each tag
 * as key and value (strings hold no NUL, so NUL separates them; a bare
 * tag is told from an empty value by its marker). */
static int series_key(buf *key, const metric *m)
{
    buf_reset(key);
    const char *ns = m->namespace_ ? m->namespace_ : "";
    if (buf_append_char(key, (char)('0' + m->type)) < 0 ||
        buf_append(key, ns, strlen(ns) + 1) < 0 ||
        buf_append(key, m->name, strlen(m->name) + 1) < 0)
        return -1;
    for (uint32_t i = 0; i < m->ntags; i++) {
        const metric_tag *t = &m->tags[i];
        if (buf_append(key, t->key, strlen(t->key) + 1) < 0)
            return -1;
        int rc = t->value ? buf_append_char(key, '=') : buf_append_char(key, '!');
        if (rc < 0 || (t->value && buf_append(key, t->value, strlen(t->value) + 1) < 0))
            return -1;
    }
    return 0;
}

/* FNV-1a, never 0 (0 marks an empty slot). */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h ? h : 1;
}

static series_slot *probe(series_slot *slots, size_t cap, uint64_t hash, const char *key,
                          size_t klen)
{
    size_t i = hash & (cap - 1);
    while (slots[i].hash &&
           !(slots[i].hash == hash && slots[i].klen == klen && memcmp(slots[i].key, key, klen) == 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Keeps the table at most half full. */
static int grow(dd_normalizer *n)
{
    if (n->cap && (n->used + 1) * 2 <= n->cap)
        return 0;
    size_t cap = n->cap ? n->cap * 2 : 64;
    series_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < n->cap; i++)
        if (n->slots[i].hash)
            *probe(slots, cap, n->slots[i].hash, n->slots[i].key, n->slots[i].klen) = n->slots[i];
    free(n->slots);
    n->slots = slots;
    n->cap = cap;
    return 0;
}

/* The slot of m's series, added with value 0 when new (*fresh tells).
 * NULL when memory ran out. */
static series_slot *series_slot_of(dd_normalizer *n, const metric *m, bool *fresh)
{
    if (series_key(&n->key, m) < 0 || grow(n) < 0)
        return NULL;
    uint64_t hash = hash_bytes(n->key.data, n->key.len);
    series_slot *slot = probe(n->slots, n->cap, hash, n->key.data, n->key.len);
    *fresh = slot->hash == 0;
    if (*fresh) {
        char *key = malloc(n->key.len);
        if (!key)
            return NULL;
        memcpy(key, n->key.data, n->key.len);
        *slot = (series_slot){hash, key, n->key.len, 0.0};
        n->used++;
    }
    return slot;
}

static int absolute_counter_delta(dd_normalizer *n, const metric *m, double *val,
                                  sl_error *err)
{
    bool fresh;
    series_slot *slot = series_slot_of(n, m, &fresh);
    if (!slot)
        return sl_fail(err, "out of memory");
    double last = slot->value;
    slot->value = m->v.counter;
    if (fresh || m->v.counter < last)
        return 1;
    *val = m->v.counter - last;
    return 0;
}

static int incremental_gauge_total(dd_normalizer *n, const metric *m, double *val,
                                   sl_error *err)
{
    bool fresh;
    series_slot *slot = series_slot_of(n, m, &fresh);
    if (!slot)
        return sl_fail(err, "out of memory");
    slot->value += m->v.gauge;
    *val = slot->value;
    return 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A set's values may repeat (a set event is a list): count each once. */
static int distinct_values(const metric *m, double *val, sl_error *err)
{
    uint32_t n = m->v.set.n;
    if (n < 2) {
        *val = n;
        return 0;
    }
    const char **sorted = malloc(n * sizeof(*sorted));
    if (!sorted)
        return sl_fail(err, "out of memory");
    memcpy(sorted, m->v.set.values, n * sizeof(*sorted));
    uint32_t distinct = metric_set_sort_unique(sorted, n);
    free(sorted);
    *val = distinct;
    return 0;
}

/* 1 when the distribution has no sample to send (all rates 0). */
static int check_distribution(const metric *m, sl_error *err)
{
    if (m->kind == METRIC_ABSOLUTE)
        return sl_fail(err, "Dropped the absolute distribution \"%s\": only incremental "
                       "distributions can be sent to Datadog.", m->name);
    uint64_t values = 0;
    for (uint32_t i = 0; i < m->v.dist.n; i++) {
        if (!isfinite(m->v.dist.samples[i].value))
            return sl_fail(err, "Dropped the distribution \"%s\": a sample is not a finite "
                           "number.", m->name);
        values += m->v.dist.samples[i].rate;
    }
    if (values > MAX_DISTRIBUTION_VALUES)
        return sl_fail(err, "Dropped the distribution \"%s\": %llu samples (with their rates) "
                       "can't fit in one request.", m->name, (unsigned long long)values);
    return values == 0;
}

int dd_normalize(dd_normalizer *n, const metric *m, double *val, sl_error *err)
{
    *val = 0;
    switch (m->type) {
    case METRIC_COUNTER:
        if (!isfinite(m->v.counter))
            return sl_fail(err, "Dropped the counter \"%s\": its value is not a finite number.",
                           m->name);
        if (m->kind == METRIC_ABSOLUTE)
            return absolute_counter_delta(n, m, val, err);
        *val = m->v.counter;
        return 0;
    case METRIC_GAUGE:
        if (!isfinite(m->v.gauge))
            return sl_fail(err, "Dropped the gauge \"%s\": its value is not a finite number.",
                           m->name);
        if (m->kind == METRIC_INCREMENTAL)
            return incremental_gauge_total(n, m, val, err);
        *val = m->v.gauge;
        return 0;
    case METRIC_SET:
        return distinct_values(m, val, err);
    case METRIC_DISTRIBUTION:
        return check_distribution(m, err);
    default:
        return sl_fail(err, "Dropped the %s \"%s\": Datadog's series and distribution APIs "
                       "have no type for it.", metric_type_name(m->type), m->name);
    }
}

/* ---- the encoders ---- */

struct dd_metrics_encoder {
    char *default_namespace;   /* NULL: none */
    uint32_t count_interval_secs;
    buf name;                  /* "namespace.name" being written */
    buf tags;                  /* "key:value\0" of each tag being written */
    size_t *tag_offsets;
    const char **tag_order;
    size_t tag_cap;
};

dd_metrics_encoder *dd_metrics_encoder_new(const dd_metrics_format *format)
{
    dd_metrics_encoder *enc = calloc(1, sizeof(*enc));
    if (!enc)
        return NULL;
    enc->count_interval_secs = format->count_interval_secs;
    const char *ns = format->default_namespace;
    if (ns && *ns && !(enc->default_namespace = strdup(ns))) {
        free(enc);
        return NULL;
    }
    return enc;
}

void dd_metrics_encoder_free(dd_metrics_encoder *enc)
{
    if (!enc)
        return;
    free(enc->default_namespace);
    buf_free(&enc->name);
    buf_free(&enc->tags);
    free(enc->tag_offsets);
    free(enc->tag_order);
    free(enc);
}

static bool is_host_tag(const metric_tag *t)
{
    return strcmp(t->key, DD_METRICS_HOST_TAG) == 0;
}

/* The host resource: the first `host` tag's value; NULL without one. */
static const char *host_of(const metric *m)
{
    for (uint32_t i = 0; i < m->ntags; i++)
        if (is_host_tag(&m->tags[i]) && m->tags[i].value && *m->tags[i].value)
            return m->tags[i].value;
    return NULL;
}

static int reserve_tags(dd_metrics_encoder *enc, size_t n)
{
    if (n <= enc->tag_cap)
        return 0;
    size_t *offsets = realloc(enc->tag_offsets, n * sizeof(*offsets));
    if (!offsets)
        return -1;
    enc->tag_offsets = offsets;
    const char **order = realloc(enc->tag_order, n * sizeof(*order));
    if (!order)
        return -1;
    enc->tag_order = order;
    enc->tag_cap = n;
    return 0;
}

/* Fills enc->tag_order with m's tags but the host as "key:value" / "key",
 * sorted as strings (Vector's encode_tags); returns how many, -1 on OOM. */
static long sorted_tags(dd_metrics_encoder *enc, const metric *m)
{
    if (reserve_tags(enc, m->ntags ? m->ntags : 1) < 0)
        return -1;
    buf_reset(&enc->tags);
    size_t n = 0;
    for (uint32_t i = 0; i < m->ntags; i++) {
        const metric_tag *t = &m->tags[i];
        if (is_host_tag(t))
            continue;
        enc->tag_offsets[n++] = enc->tags.len;
        if (buf_append_str(&enc->tags, t->key) < 0 ||
            (t->value && buf_printf(&enc->tags, ":%s", t->value) < 0) ||
            buf_append(&enc->tags, "", 1) < 0)
            return -1;
    }
    /* Pointers only now: the buffer may have moved while it grew. */
    for (size_t i = 0; i < n; i++)
        enc->tag_order[i] = enc->tags.data + enc->tag_offsets[i];
    qsort(enc->tag_order, n, sizeof(*enc->tag_order), compare_strings);
    return (long)n;
}

static int write_tags(dd_metrics_encoder *enc, const metric *m, buf *out)
{
    long n = sorted_tags(enc, m);
    if (n <= 0)
        return (int)n;
    if (buf_append_str(out, ",\"tags\":[") < 0)
        return -1;
    for (long i = 0; i < n; i++) {
        const char *tag = enc->tag_order[i];
        if ((i && buf_append_char(out, ',') < 0) || json_encode_string(out, tag, strlen(tag)) < 0)
            return -1;
    }
    return buf_append_char(out, ']');
}

/* `{"metric":"namespace.name"`: the metric's namespace, else the default. */
static int write_name(dd_metrics_encoder *enc, const metric *m, buf *out)
{
    const char *ns = m->namespace_ && *m->namespace_ ? m->namespace_ : enc->default_namespace;
    if (buf_append_str(out, "{\"metric\":") < 0)
        return -1;
    if (!ns)
        return json_encode_string(out, m->name, strlen(m->name));
    buf_reset(&enc->name);
    if (buf_printf(&enc->name, "%s.%s", ns, m->name) < 0)
        return -1;
    return json_encode_string(out, enc->name.data, enc->name.len);
}

/* chrono's DateTime::timestamp(): whole seconds, floored. */
static int64_t timestamp_secs(const metric *m, int64_t now_s)
{
    if (!m->has_timestamp)
        return now_s;
    int64_t s = m->timestamp / 1000000000;
    return (m->timestamp % 1000000000 < 0) ? s - 1 : s;
}

static int write_float(buf *out, double f)
{
    char text[JSON_FLOAT_MAX];
    size_t n = json_format_float(text, f);
    return buf_append(out, text, n);
}

/* The metric's own interval in whole seconds (at least 1), 0 without. */
static uint32_t own_interval_secs(const metric *m)
{
    if (!m->interval_ms)
        return 0;
    return m->interval_ms < 1000 ? 1 : m->interval_ms / 1000;
}

enum { DD_TYPE_COUNT = 1, DD_TYPE_GAUGE = 3 };

/* `,"resources":[{"name":<host>,"type":"host"}]` when m names a host. */
static int write_host_resource(const metric *m, buf *out)
{
    const char *host = host_of(m);
    if (!host)
        return 0;
    if (buf_append_str(out, ",\"resources\":[{\"name\":") < 0 ||
        json_encode_string(out, host, strlen(host)) < 0)
        return -1;
    return buf_append_str(out, ",\"type\":\"host\"}]");
}

int dd_series_encode(dd_metrics_encoder *enc, const metric *m, double val, int64_t now_s,
                     buf *out, sl_error *err)
{
    if (m->type != METRIC_COUNTER && m->type != METRIC_GAUGE && m->type != METRIC_SET)
        return sl_fail(err, "a %s is not a series", metric_type_name(m->type));
    if (!isfinite(val))
        return sl_fail(err, "Dropped the metric \"%s\": its value is not a finite number.",
                       m->name);
    bool count = m->type == METRIC_COUNTER;
    uint32_t interval = own_interval_secs(m);
    if (count && !interval)
        interval = enc->count_interval_secs;
    size_t start = out->len;
    if (write_name(enc, m, out) < 0 ||
        buf_printf(out, ",\"type\":%d", count ? DD_TYPE_COUNT : DD_TYPE_GAUGE) < 0 ||
        (interval && buf_printf(out, ",\"interval\":%u", interval) < 0) ||
        buf_printf(out, ",\"points\":[{\"timestamp\":%lld,\"value\":",
                   (long long)timestamp_secs(m, now_s)) < 0 ||
        write_float(out, val) < 0 || buf_append_str(out, "}]") < 0 ||
        write_tags(enc, m, out) < 0 || write_host_resource(m, out) < 0 ||
        buf_append_char(out, '}') < 0) {
        out->len = start;
        return sl_fail(err, "out of memory");
    }
    return 0;
}

static int write_samples(const metric *m, buf *out)
{
    bool first = true;
    for (uint32_t i = 0; i < m->v.dist.n; i++) {
        const metric_sample *s = &m->v.dist.samples[i];
        char text[JSON_FLOAT_MAX];
        size_t n = json_format_float(text, s->value);
        for (uint32_t r = 0; r < s->rate; r++) {
            if ((!first && buf_append_char(out, ',') < 0) || buf_append(out, text, n) < 0)
                return -1;
            first = false;
        }
    }
    return 0;
}

int dd_distribution_encode(dd_metrics_encoder *enc, const metric *m, int64_t now_s, buf *out,
                           sl_error *err)
{
    if (m->type != METRIC_DISTRIBUTION)
        return sl_fail(err, "a %s is not a distribution", metric_type_name(m->type));
    const char *host = host_of(m);
    size_t start = out->len;
    if (write_name(enc, m, out) < 0 ||
        buf_printf(out, ",\"points\":[[%lld,[", (long long)timestamp_secs(m, now_s)) < 0 ||
        write_samples(m, out) < 0 || buf_append_str(out, "]]]") < 0 ||
        write_tags(enc, m, out) < 0 ||
        (host && (buf_append_str(out, ",\"host\":") < 0 ||
                  json_encode_string(out, host, strlen(host)) < 0)) ||
        buf_append_str(out, ",\"type\":\"distribution\"}") < 0) {
        out->len = start;
        return sl_fail(err, "out of memory");
    }
    return 0;
}
