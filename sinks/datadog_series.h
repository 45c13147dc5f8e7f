/* datadog_series.h - what the datadog_metrics sink sends, apart from the
 * sending: the normalizer that keeps per-series state (absolute counters
 * made deltas, incremental gauges made absolute) and the encoders of one
 * metric as a Datadog series (POST /api/v2/series) or distribution
 * (POST /api/v1/distribution_points). Pure functions of their inputs, so
 * they are tested byte for byte (tests/unit/test_datadog_metrics.c). */
#ifndef SLUICE_DATADOG_SERIES_H
#define SLUICE_DATADOG_SERIES_H

#include "pipeline/buf.h"
#include "pipeline/event.h"

/* The API's limits on one request (openapi-v2.yaml, SubmitMetrics): the
 * body as sent, and the body once decompressed. Distribution points are
 * held to the same, as the Datadog Agent does. */
#define DD_METRICS_MAX_COMPRESSED_BYTES 512000
#define DD_METRICS_MAX_BYTES 5242880

/* The tag that names the host: it becomes the series' host resource (the
 * `host` field of a distribution) instead of a tag, as in Vector. */
#define DD_METRICS_HOST_TAG "host"

/* Which API a metric goes to: the engine's route index. */
typedef enum dd_metrics_route {
    DD_ROUTE_SERIES = 0,
    DD_ROUTE_DISTRIBUTION = 1,
} dd_metrics_route;

dd_metrics_route dd_metrics_route_of(const metric *m);

/* ---- the normalizer ---- */

typedef struct dd_normalizer dd_normalizer;

dd_normalizer *dd_normalizer_new(void);   /* NULL on allocation failure */
void dd_normalizer_free(dd_normalizer *n);
/* Series whose last value is remembered. */
size_t dd_normalizer_size(const dd_normalizer *n);

/* The value to send for m, in *value: 0; 1 when there is nothing to send
 * (the first sample of an absolute counter, or one lower than the last:
 * a reset); -1 with err when m can't be sent to Datadog at all. Counters
 * give a delta, gauges an absolute value, sets their number of distinct
 * values; distributions give 0 (their samples are the payload). A series
 * is the metric's type, namespace, name and tags. */
int dd_normalize(dd_normalizer *n, const metric *m, double *value, sl_error *err);

/* ---- the encoders ---- */

typedef struct dd_metrics_format {
    const char *default_namespace;   /* for metrics without one; NULL: none */
    uint32_t count_interval_secs;    /* `interval` of counters without one */
} dd_metrics_format;

typedef struct dd_metrics_encoder dd_metrics_encoder;

dd_metrics_encoder *dd_metrics_encoder_new(const dd_metrics_format *format);
void dd_metrics_encoder_free(dd_metrics_encoder *enc);

/* Appends the MetricSeries object of a counter, gauge or set whose value
 * dd_normalize gave. now_s stamps a metric without a timestamp. -1 with
 * err (out unchanged) when it can't. */
int dd_series_encode(dd_metrics_encoder *enc, const metric *m, double value, int64_t now_s,
                     buf *out, sl_error *err);

/* Appends the DistributionPointsSeries object of a distribution: one point
 * holding every sample, each repeated by its rate. */
int dd_distribution_encode(dd_metrics_encoder *enc, const metric *m, int64_t now_s, buf *out,
                           sl_error *err);

#endif
