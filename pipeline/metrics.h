/* metrics.h - the process's internal metrics registry.
 *
 * Every series (name + label set) is registered once and returns a handle the
 * hot path updates with one atomic operation. Registering the same name and
 * labels again returns the same handle, so there are never duplicate series.
 * Names are given without the `sluice_` prefix; the Prometheus renderer adds
 * it, and the internal_metrics source uses namespace "sluice". The registry is
 * process-wide (like Vector's global recorder) and thread-safe. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdint.h>
#include <stdatomic.h>
#include "pipeline/common.h"
#include "pipeline/buf.h"

typedef enum metrics_type {
    METRICS_COUNTER = 0,  /* monotonically increasing integer */
    METRICS_GAUGE,        /* double that goes up and down */
    METRICS_HISTOGRAM,    /* observations counted in fixed buckets, with sum */
} metrics_type;

typedef struct metrics_label {
    const char *key;
    const char *value;
} metrics_label;

typedef struct metrics_series metrics_series;

/* Registers (or finds) the series name{labels}. Labels are copied; their
 * order does not matter (they are sorted). NULL on allocation failure or when
 * the name is already registered with another type. */
metrics_series *metrics_counter(const char *name, const char *help,
                                const metrics_label *labels, size_t nlabels);
metrics_series *metrics_gauge(const char *name, const char *help,
                              const metrics_label *labels, size_t nlabels);

/* A histogram with the given upper bucket bounds (ascending, finite; +Inf
 * is implied). Rendered as Prometheus _bucket{le}, _sum and _count series.
 * metrics_foreach does not visit histograms (they have no single value). */
metrics_series *metrics_histogram(const char *name, const char *help,
                                  const metrics_label *labels, size_t nlabels,
                                  const double *bounds, size_t nbounds);

/* NULL handles are ignored, so a failed registration never crashes a caller. */
void metrics_add(metrics_series *s, uint64_t n);      /* counter */
void metrics_set(metrics_series *s, double v);        /* gauge */
void metrics_gauge_add(metrics_series *s, double d);  /* gauge */
uint64_t metrics_counter_value(const metrics_series *s);
double metrics_gauge_value(const metrics_series *s);
void metrics_observe(metrics_series *s, double v);    /* histogram */

/* Prometheus text format 0.0.4 of every series, names prefixed `sluice_`. */
int metrics_render_prometheus(buf *out);

/* Visits every series (under the registry's lock: do not register from fn). */
typedef void (*metrics_visit_fn)(void *ud, const char *name, metrics_type type,
                                 const metrics_label *labels, size_t nlabels,
                                 double value);
void metrics_foreach(metrics_visit_fn fn, void *ud);

/* Forgets every series (tests; at exit). Handles become invalid. */
void metrics_reset(void);

/* The process's own series, as Vector has them: build_info{arch,version} = 1
 * and uptime_seconds, counted from this call and brought up to date whenever
 * the registry is read (rendered or visited). -1 on allocation failure. */
int metrics_register_process(void);

/* The standard per-component series, with labels component_id,
 * component_kind, component_type. Created by the topology for each component;
 * errors and discards by reason are registered on demand. */
typedef struct component_metrics {
    const char *id, *kind, *type;          /* borrowed from the config */
    metrics_series *received_events;       /* component_received_events_total */
    metrics_series *received_bytes;        /* component_received_event_bytes_total */
    metrics_series *received_raw_bytes;    /* component_received_bytes_total (sources) */
    metrics_series *sent_events;           /* component_sent_events_total */
    metrics_series *sent_bytes;            /* component_sent_event_bytes_total */
    metrics_series *discarded_intentional; /* component_discarded_events_total{intentional="true"} */
    metrics_series *discarded_error;       /* ...{intentional="false"} */
    metrics_series *buffer_events;         /* buffer_size_events (sinks) */
    metrics_series *buffer_bytes;          /* buffer_size_bytes (sinks): estimated JSON bytes */
    metrics_series *utilization;           /* utilization, 0..1 */
} component_metrics;

int component_metrics_init(component_metrics *m, const char *id,
                           const char *kind, const char *type, sl_error *err);
/* component_errors_total{error_type,stage} += n */
void component_metrics_error(const component_metrics *m, const char *error_type,
                             const char *stage, uint64_t n);
/* Registers a component-labelled series of the component's own
 * (files watched, consumer lag, ...). */
metrics_series *component_metrics_extra(const component_metrics *m,
                                        const char *name, metrics_type type,
                                        const char *help);

#endif
