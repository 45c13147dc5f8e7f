/* event.h - the two kinds of event that move through a pipeline.
 *
 * A log is a map of fields (value.h). A metric follows Vector's data model:
 * name, optional namespace, tags sorted by key, kind (incremental/absolute),
 * one typed value, optional timestamp and interval. Everything an event points
 * at lives in the arena of the batch that holds it (or in static storage). */
#ifndef SLUICE_EVENT_H
#define SLUICE_EVENT_H

#include "pipeline/value.h"

typedef enum event_type {
    EVENT_LOG = 1,
    EVENT_METRIC = 2,
} event_type;
#define EVENT_ANY (EVENT_LOG | EVENT_METRIC)

typedef enum metric_kind {
    METRIC_INCREMENTAL = 0,
    METRIC_ABSOLUTE,
} metric_kind;

typedef enum metric_type {
    METRIC_COUNTER = 0,
    METRIC_GAUGE,
    METRIC_SET,
    METRIC_DISTRIBUTION,
    METRIC_AGGREGATED_HISTOGRAM,
    METRIC_AGGREGATED_SUMMARY,
} metric_type;

typedef enum metric_statistic {
    METRIC_STAT_HISTOGRAM = 0,
    METRIC_STAT_SUMMARY,
} metric_statistic;

/* Strings in a metric are NUL-terminated. A tag with value NULL is a bare tag. */
typedef struct metric_tag {
    const char *key;
    const char *value;
} metric_tag;

typedef struct metric_sample {
    double value;
    uint32_t rate;
} metric_sample;

typedef struct metric_bucket {
    double upper_limit;
    uint64_t count;
} metric_bucket;

typedef struct metric_quantile {
    double quantile;
    double value;
} metric_quantile;

typedef struct metric {
    const char *name;
    const char *namespace_;   /* NULL when none */
    metric_tag *tags;         /* sorted by key, then value */
    uint32_t ntags;
    uint8_t kind;             /* metric_kind */
    uint8_t type;             /* metric_type */
    bool has_timestamp;
    int64_t timestamp;        /* ns since epoch, when has_timestamp */
    uint32_t interval_ms;     /* 0 = none */
    union {
        double counter;
        double gauge;
        struct { const char **values; uint32_t n; } set;
        struct { metric_sample *samples; uint32_t n; uint8_t statistic; } dist;
        struct { metric_bucket *buckets; uint32_t n; uint64_t count; double sum; } hist;
        struct { metric_quantile *quantiles; uint32_t n; uint64_t count; double sum; } summary;
    } v;
} metric;

typedef struct event {
    uint8_t type;          /* event_type */
    value meta;            /* metadata map or VALUE_NULL (e.g. dropped reason) */
    union {
        value log;         /* EVENT_LOG: a VALUE_MAP */
        metric *metric;    /* EVENT_METRIC */
    } u;
} event;

/* Vector's well-known log fields. */
/* A field a source always sets, with the value kinds it can hold (bits
 * EVENT_KIND(VALUE_*)), so the remap language can type-check programs that
 * read it (kubernetes_logs metadata are strings). */
typedef struct event_field_type {
    const char *path;     /* ".kubernetes.pod_name" */
    uint16_t kinds;
} event_field_type;

#define EVENT_KIND(k) ((uint16_t)(1u << (k)))

#define EVENT_FIELD_MESSAGE "message"
#define EVENT_FIELD_TIMESTAMP "timestamp"
#define EVENT_FIELD_HOST "host"
#define EVENT_FIELD_SOURCE_TYPE "source_type"

/* Makes e an empty log with room for `cap` fields. -1 on allocation failure. */
int event_init_log(arena *a, event *e, uint32_t cap);
/* Sets a top-level log field (key referenced, not copied). -1 on failure. */
int event_log_set(arena *a, event *e, const char *key, value v);
const value *event_log_get(const event *e, const char *key);

/* Makes e a metric with name/namespace copied into the arena and no tags.
 * The caller fills kind, type and value. -1 on failure. */
int event_init_metric(arena *a, event *e, const char *name, const char *namespace_);
/* Adds or replaces a tag (copied into the arena), keeping tags sorted. */
int event_metric_set_tag(arena *a, event *e, const char *key, const char *value);

/* Deep copy of src into dst's arena. -1 on failure. */
int event_copy(arena *dst, const event *src, event *out);

/* Vector's estimated JSON size of the event (component_*_event_bytes_total). */
size_t event_json_size_estimate(const event *e);

/* Sorts the n values of a set metric (a copy the caller made of
 * m->v.set.values) into Vector's BTreeSet order, sorted and each once;
 * returns how many stay. */
uint32_t metric_set_sort_unique(const char **values, uint32_t n);

const char *metric_kind_name(uint8_t kind);   /* "incremental" / "absolute" */
const char *metric_type_name(uint8_t type);   /* "counter", "gauge", ... */

#endif
