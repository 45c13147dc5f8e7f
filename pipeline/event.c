/* event.c - constructing, copying and measuring events (see event.h).
 *
 * Metric tags are kept sorted by key and unique, like the BTreeMap Vector
 * keeps them in, so encoders print them in order without sorting. */
#include "pipeline/event.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"

int event_init_log(arena *a, event *e, uint32_t cap)
{
    value root = value_new_map(a, cap);
    if (root.kind != VALUE_MAP)
        return -1;
    e->type = EVENT_LOG;
    e->meta = value_null();
    e->u.log = root;
    return 0;
}

int event_log_set(arena *a, event *e, const char *key, value v)
{
    if (e->type != EVENT_LOG || e->u.log.kind != VALUE_MAP)
        return -1;
    value *slot = value_map_put(a, e->u.log.u.map, key, strlen(key));
    if (!slot)
        return -1;
    *slot = v;
    return 0;
}

const value *event_log_get(const event *e, const char *key)
{
    if (e->type != EVENT_LOG || e->u.log.kind != VALUE_MAP)
        return NULL;
    return value_map_get(e->u.log.u.map, key, strlen(key));
}

int event_init_metric(arena *a, event *e, const char *name, const char *namespace_)
{
    metric *m = arena_alloc(a, sizeof(*m));
    if (!m)
        return -1;
    memset(m, 0, sizeof(*m));
    m->name = arena_strndup(a, name, strlen(name));
    if (!m->name)
        return -1;
    if (namespace_) {
        m->namespace_ = arena_strndup(a, namespace_, strlen(namespace_));
        if (!m->namespace_)
            return -1;
    }
    e->type = EVENT_METRIC;
    e->meta = value_null();
    e->u.metric = m;
    return 0;
}

static int tag_cmp(const void *elem, const void *key)
{
    return strcmp(((const metric_tag *)elem)->key, key);
}

/* Index of key in the sorted tags (*found = true), else its insertion point. */
static uint32_t tag_search(const metric *m, const char *key, bool *found)
{
    return (uint32_t)sl_bsearch(m->tags, m->ntags, sizeof(*m->tags), key, tag_cmp, found);
}

static const char *copy_tag_value(arena *a, const char *v)
{
    return v ? arena_strndup(a, v, strlen(v)) : NULL;
}

int event_metric_set_tag(arena *a, event *e, const char *key, const char *val)
{
    if (e->type != EVENT_METRIC)
        return -1;
    metric *m = e->u.metric;
    const char *v = copy_tag_value(a, val);
    if (val && !v)
        return -1;
    bool found;
    uint32_t i = tag_search(m, key, &found);
    if (found) {
        m->tags[i].value = v;
        return 0;
    }
    const char *k = arena_strndup(a, key, strlen(key));
    if (!k)
        return -1;
    /* Tag arrays may have been built elsewhere with their exact size, so the
     * array grows by one each time (in place when it is the latest
     * allocation); metrics carry few tags. */
    metric_tag *tags = arena_grow(a, m->tags, (size_t)m->ntags * sizeof(metric_tag),
                                  (size_t)(m->ntags + 1) * sizeof(metric_tag));
    if (!tags)
        return -1;
    memmove(&tags[i + 1], &tags[i], (size_t)(m->ntags - i) * sizeof(metric_tag));
    tags[i].key = k;
    tags[i].value = v;
    m->tags = tags;
    m->ntags++;
    return 0;
}

static void *copy_array_of(arena *dst, const void *src, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    void *p = arena_alloc(dst, n * size);
    if (p)
        memcpy(p, src, n * size);
    return p;
}

static int copy_tags(arena *dst, const metric *src, metric *out)
{
    if (src->ntags == 0) {
        out->tags = NULL;
        return 0;
    }
    out->tags = arena_alloc(dst, (size_t)src->ntags * sizeof(metric_tag));
    if (!out->tags)
        return -1;
    for (uint32_t i = 0; i < src->ntags; i++) {
        out->tags[i].key = arena_strndup(dst, src->tags[i].key, strlen(src->tags[i].key));
        if (!out->tags[i].key)
            return -1;
        out->tags[i].value = copy_tag_value(dst, src->tags[i].value);
        if (src->tags[i].value && !out->tags[i].value)
            return -1;
    }
    return 0;
}

static int copy_set(arena *dst, const metric *src, metric *out)
{
    uint32_t n = src->v.set.n;
    if (n == 0) {
        out->v.set.values = NULL;
        return 0;
    }
    const char **values = arena_alloc(dst, (size_t)n * sizeof(*values));
    if (!values)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        values[i] = arena_strndup(dst, src->v.set.values[i], strlen(src->v.set.values[i]));
        if (!values[i])
            return -1;
    }
    out->v.set.values = values;
    return 0;
}

static int copy_metric_value(arena *dst, const metric *src, metric *out)
{
    switch (src->type) {
    case METRIC_SET:
        return copy_set(dst, src, out);
    case METRIC_DISTRIBUTION:
        out->v.dist.samples = copy_array_of(dst, src->v.dist.samples, src->v.dist.n,
                                            sizeof(metric_sample));
        return src->v.dist.n && !out->v.dist.samples ? -1 : 0;
    case METRIC_AGGREGATED_HISTOGRAM:
        out->v.hist.buckets = copy_array_of(dst, src->v.hist.buckets, src->v.hist.n,
                                            sizeof(metric_bucket));
        return src->v.hist.n && !out->v.hist.buckets ? -1 : 0;
    case METRIC_AGGREGATED_SUMMARY:
        out->v.summary.quantiles = copy_array_of(dst, src->v.summary.quantiles,
                                                 src->v.summary.n, sizeof(metric_quantile));
        return src->v.summary.n && !out->v.summary.quantiles ? -1 : 0;
    default:
        return 0;
    }
}

static int copy_metric(arena *dst, const metric *src, metric **out)
{
    metric *m = arena_alloc(dst, sizeof(*m));
    if (!m)
        return -1;
    *m = *src;
    m->name = arena_strndup(dst, src->name, strlen(src->name));
    if (!m->name)
        return -1;
    if (src->namespace_) {
        m->namespace_ = arena_strndup(dst, src->namespace_, strlen(src->namespace_));
        if (!m->namespace_)
            return -1;
    }
    if (copy_tags(dst, src, m) < 0 || copy_metric_value(dst, src, m) < 0)
        return -1;
    *out = m;
    return 0;
}

int event_copy(arena *dst, const event *src, event *out)
{
    event e;
    e.type = src->type;
    if (value_copy(dst, &src->meta, &e.meta) < 0)
        return -1;
    if (src->type == EVENT_METRIC) {
        if (copy_metric(dst, src->u.metric, &e.u.metric) < 0)
            return -1;
    } else if (value_copy(dst, &src->u.log, &e.u.log) < 0) {
        return -1;
    }
    *out = e;
    return 0;
}

/* Sizes of the pieces of a metric's native JSON form, as Vector's
 * estimator counts them: strings as their length plus quotes, numbers as
 * written. */
static size_t str_size(const char *s)
{
    return strlen(s) + 2;
}

static size_t float_size(double f)
{
    char tmp[JSON_FLOAT_MAX];
    return json_format_float(tmp, f);
}

static size_t uint_size(uint64_t u)
{
    size_t n = 1;
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

/* `"key":` plus the comma before the next member. */
static size_t member_size(const char *key)
{
    return strlen(key) + 2 + 1 + 1;
}

static size_t tags_size(const metric *m)
{
    size_t n = 2;
    for (uint32_t i = 0; i < m->ntags; i++)
        n += str_size(m->tags[i].key) + 1 +
             (m->tags[i].value ? str_size(m->tags[i].value) : 4) + 1;
    return m->ntags ? n - 1 : n;
}

static size_t set_size(const metric *m)
{
    size_t n = 2;
    for (uint32_t i = 0; i < m->v.set.n; i++)
        n += str_size(m->v.set.values[i]) + 1;
    return m->v.set.n ? n - 1 : n;
}

/* An array of n items taking items_total bytes together. */
static size_t list_size(size_t items_total, uint32_t n)
{
    return 2 + items_total + (n ? n - 1 : 0);
}

static size_t samples_size(const metric *m)
{
    size_t total = 0;
    for (uint32_t i = 0; i < m->v.dist.n; i++)
        total += 2 + member_size("value") + float_size(m->v.dist.samples[i].value) +
                 member_size("rate") + uint_size(m->v.dist.samples[i].rate) - 1;
    return list_size(total, m->v.dist.n);
}

static size_t buckets_size(const metric *m)
{
    size_t total = 0;
    for (uint32_t i = 0; i < m->v.hist.n; i++)
        total += 2 + member_size("upper_limit") + float_size(m->v.hist.buckets[i].upper_limit) +
                 member_size("count") + uint_size(m->v.hist.buckets[i].count) - 1;
    return list_size(total, m->v.hist.n);
}

static size_t quantiles_size(const metric *m)
{
    size_t total = 0;
    for (uint32_t i = 0; i < m->v.summary.n; i++)
        total += 2 + member_size("quantile") + float_size(m->v.summary.quantiles[i].quantile) +
                 member_size("value") + float_size(m->v.summary.quantiles[i].value) - 1;
    return list_size(total, m->v.summary.n);
}

/* The object under the metric type's key, e.g. `{"value":1.0}`. */
static size_t metric_value_size(const metric *m)
{
    size_t n = 2;
    switch (m->type) {
    case METRIC_COUNTER:
    case METRIC_GAUGE:
        n += member_size("value") + float_size(m->v.counter);
        break;
    case METRIC_SET:
        n += member_size("values") + set_size(m);
        break;
    case METRIC_DISTRIBUTION:
        n += member_size("samples") + samples_size(m) + member_size("statistic") +
             str_size(m->v.dist.statistic == METRIC_STAT_SUMMARY ? "summary" : "histogram");
        break;
    case METRIC_AGGREGATED_HISTOGRAM:
        n += member_size("buckets") + buckets_size(m) + member_size("count") +
             uint_size(m->v.hist.count) + member_size("sum") + float_size(m->v.hist.sum);
        break;
    case METRIC_AGGREGATED_SUMMARY:
        n += member_size("quantiles") + quantiles_size(m) + member_size("count") +
             uint_size(m->v.summary.count) + member_size("sum") + float_size(m->v.summary.sum);
        break;
    default:
        return n;
    }
    return n - 1;
}

/* Vector measures metrics by their in-memory size; sluice uses the size of
 * their native JSON form instead, which is what a JSON sink would send. */
static size_t metric_json_size(const metric *m)
{
    size_t n = 2 + member_size("name") + str_size(m->name);
    if (m->namespace_)
        n += member_size("namespace") + str_size(m->namespace_);
    if (m->ntags)
        n += member_size("tags") + tags_size(m);
    if (m->has_timestamp) {
        value ts = value_timestamp(m->timestamp);
        n += member_size("timestamp") + value_json_size_estimate(&ts);
    }
    if (m->interval_ms)
        n += member_size("interval_ms") + uint_size(m->interval_ms);
    n += member_size("kind") + str_size(metric_kind_name(m->kind));
    n += member_size(metric_type_name(m->type)) + metric_value_size(m);
    return n - 1;
}

size_t event_json_size_estimate(const event *e)
{
    if (e->type == EVENT_METRIC)
        return metric_json_size(e->u.metric);
    return value_json_size_estimate(&e->u.log);
}

const char *metric_kind_name(uint8_t kind)
{
    return kind == METRIC_ABSOLUTE ? "absolute" : "incremental";
}

const char *metric_type_name(uint8_t type)
{
    static const char *const names[] = {
        "counter", "gauge", "set", "distribution", "aggregated_histogram", "aggregated_summary",
    };
    return type < SL_ARRAY_LEN(names) ? names[type] : "unknown";
}

static int compare_cstrings(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

uint32_t metric_set_sort_unique(const char **values, uint32_t n)
{
    if (n == 0)
        return 0;
    qsort(values, n, sizeof(*values), compare_cstrings);
    uint32_t kept = 1;
    for (uint32_t i = 1; i < n; i++)
        if (strcmp(values[i], values[kept - 1]) != 0)
            values[kept++] = values[i];
    return kept;
}
