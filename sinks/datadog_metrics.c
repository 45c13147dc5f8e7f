/* datadog_metrics.c - the `datadog_metrics` sink: metrics to Datadog's API,
 * counters, gauges and sets as series (POST <base>/api/v2/series), and
 * distributions as distribution points (POST <base>/api/v1/distribution_
 * points), <base> being https://api.<site> or the `endpoint` option.
 *
 * The shared HTTP engine (http_sink.h) batches, compresses (deflate by
 * default, what both APIs take; gzip and zstd for series), retries and
 * acknowledges; this file supplies the two destinations (the engine's
 * routes), the API's limits (512,000 bytes per request as sent, 5,242,880
 * decompressed) and the codec. The codec's prepare() runs the normalizer
 * once per metric as the engine takes it (absolute counters become deltas
 * there, so a request encoded again after a split or a retry sends the same
 * values); encode() writes the metric with the value prepare() gave. What
 * is sent, and why, is in datadog_series.c.
 *
 * Defaults follow Vector's datadog_metrics sink (src/sinks/datadog/metrics/
 * config.rs): batches of up to 100,000 metrics or 2 seconds. */
#include "sinks/datadog.h"
#include "sinks/datadog_series.h"
#include "sinks/http/http_sink.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_PATH "/api/v2/series"
#define DISTRIBUTION_PATH "/api/v1/distribution_points"
#define BATCH_MAX_EVENTS 100000
#define BATCH_TIMEOUT_SECS 2.0

typedef struct dd_metrics_options {
    http_sink_options http;   /* first: HTTP_SINK_OPTIONS fill it */
    char *default_api_key;
    char *site;
    char *endpoint;
    char *default_namespace;
} dd_metrics_options;

static const opt_spec dd_metrics_option_table[] = {
    HTTP_SINK_OPTIONS,
    OPT_STRING_ROW("default_api_key", dd_metrics_options, default_api_key,
        .help = "Datadog API key, sent as DD-API-KEY; the DD_API_KEY environment variable when "
                "not set."),
    OPT_STRING_ROW("site", dd_metrics_options, site,
        .help = "Datadog site: datadoghq.com (the default, or DD_SITE), datadoghq.eu, "
                "us3.datadoghq.com, us5.datadoghq.com, ap1.datadoghq.com, ddog-gov.com."),
    OPT_STRING_ROW("endpoint", dd_metrics_options, endpoint,
        .help = "Base URL replacing https://api.<site> (a proxy, a test receiver); metrics go to "
                "<endpoint>/api/v2/series and <endpoint>/api/v1/distribution_points."),
    OPT_STRING_ROW("default_namespace", dd_metrics_options, default_namespace,
        .help = "Namespace of metrics that have none, prefixed to the name with a dot."),
    OPT_END,
};

typedef struct dd_metrics_sink {
    http_sink *http;
    dd_normalizer *normalizer;   /* used on the sink's thread only */
    dd_metrics_encoder *enc;
} dd_metrics_sink;

static const cfg_node *option_node(const cfg_node *node, const char *object, const char *key)
{
    const cfg_node *where = cfg_map_get(cfg_map_get(node, object), key);
    return where ? where : node;
}

static size_t dd_metrics_check(const void *options, const char *label, const cfg_node *node,
                               diag_list *diags)
{
    const dd_metrics_options *o = options;
    size_t errors = http_sink_check(&o->http, label, node, diags);
    sl_error err;
    if (!datadog_api_key(o->default_api_key)) {
        diag_add(diags, DIAG_ERROR, node, label,
                 "default_api_key is required (or set the DD_API_KEY environment variable)");
        errors++;
    }
    if (o->endpoint && datadog_check_endpoint(o->endpoint, &err) < 0) {
        diag_add(diags, DIAG_ERROR, cfg_map_get(node, "endpoint"), label, "%s", err.msg);
        errors++;
    }
    if (o->http.batch_max_bytes > DD_METRICS_MAX_BYTES) {
        diag_add(diags, DIAG_ERROR, option_node(node, "batch", "max_bytes"), label,
                 "batch.max_bytes: at most %d (the Datadog metrics API's limit)",
                 DD_METRICS_MAX_BYTES);
        errors++;
    }
    if (o->http.compression == HTTP_COMPRESSION_GZIP ||
        o->http.compression == HTTP_COMPRESSION_ZSTD)
        diag_add(diags, DIAG_WARNING, cfg_map_get(node, "compression"), label,
                 "distribution points (/api/v1/distribution_points) are documented to take "
                 "deflate only; series take deflate, gzip and zstd");
    return errors;
}

/* ---- the codec ---- */

static int prepare_metric(void *ud, const event *e, double *note, sl_error *err)
{
    dd_metrics_sink *s = ud;
    if (e->type != EVENT_METRIC)
        return sl_fail(err, "Dropped an event that is not a metric.");
    return dd_normalize(s->normalizer, e->u.metric, note, err);
}

static int64_t now_secs(void)
{
    return sl_now_wall_ns() / 1000000000;
}

static int encode_series(void *ud, const event *e, double note, buf *out, sl_error *err)
{
    dd_metrics_sink *s = ud;
    return dd_series_encode(s->enc, e->u.metric, note, now_secs(), out, err);
}

static int encode_distribution(void *ud, const event *e, double note, buf *out, sl_error *err)
{
    SL_UNUSED(note);
    dd_metrics_sink *s = ud;
    return dd_distribution_encode(s->enc, e->u.metric, now_secs(), out, err);
}

static size_t route_metric(void *ud, const event *e)
{
    SL_UNUSED(ud);
    return e->type == EVENT_METRIC ? (size_t)dd_metrics_route_of(e->u.metric) : DD_ROUTE_SERIES;
}

/* The engine's rules (2xx delivered; 408, 429, 5xx retried; 413 split;
 * other statuses rejected), naming the likely cause when the API refuses
 * the key: every metric sent with it will be lost. */
static http_verdict judge_response(void *ud, const http_response *r, size_t n, uint8_t *items,
                                   char *reason, size_t reason_cap)
{
    http_verdict v = http_judge_default(ud, r, n, items, reason, reason_cap);
    if (r->status == 401 || r->status == 403)
        snprintf(reason, reason_cap,
                 "Datadog refused the API key; check default_api_key or DD_API_KEY");
    return v;
}

/* Both APIs share the body framing `{"series":[...]}` and the limits; with
 * no compression the body as sent must itself stay within 512,000 bytes. */
static http_codec codec_for(dd_metrics_sink *s, const char *content_type,
                            int (*encode)(void *, const event *, double, buf *, sl_error *),
                            bool compressed)
{
    return (http_codec){
        .content_type = content_type,
        .prefix = "{\"series\":[",
        .separator = ",",
        .suffix = "]}",
        .encode = encode,
        .prepare = prepare_metric,
        .judge = judge_response,
        .max_bytes = compressed ? DD_METRICS_MAX_BYTES : DD_METRICS_MAX_COMPRESSED_BYTES,
        .max_compressed_bytes = DD_METRICS_MAX_COMPRESSED_BYTES,
        .ud = s,
    };
}

/* ---- the sink ---- */

static void dd_metrics_destroy(void *state)
{
    dd_metrics_sink *s = state;
    if (!s)
        return;
    http_sink_free(s->http);
    dd_normalizer_free(s->normalizer);
    dd_metrics_encoder_free(s->enc);
    free(s);
}

/* The URLs a sink talks to: both APIs and the key check, all heap. */
typedef struct dd_metrics_urls {
    char *series, *distribution, *validate;
} dd_metrics_urls;

static void free_urls(dd_metrics_urls *u)
{
    free(u->series);
    free(u->distribution);
    free(u->validate);
}

static int make_urls(const dd_metrics_options *o, dd_metrics_urls *u, sl_error *err)
{
    const char *site = datadog_site(o->site);
    char *base = datadog_base_url(o->endpoint, site, "api", err);
    char *api = base ? datadog_api_base_url(o->endpoint, site, err) : NULL;
    if (api) {
        u->series = datadog_join_url(base, SERIES_PATH, err);
        u->distribution = u->series ? datadog_join_url(base, DISTRIBUTION_PATH, err) : NULL;
        u->validate = u->distribution ? datadog_join_url(api, DATADOG_VALIDATE_PATH, err) : NULL;
    }
    free(base);
    free(api);
    return u->validate ? 0 : -1;
}

static bool compression_on(const dd_metrics_options *o)
{
    return o->http.compression != HTTP_COMPRESSION_NONE;
}

static double batch_timeout(const dd_metrics_options *o)
{
    return o->http.batch_timeout_secs > 0 ? o->http.batch_timeout_secs : BATCH_TIMEOUT_SECS;
}

static int start_http_sink(dd_metrics_sink *s, const dd_metrics_options *o, const char *key,
                           const dd_metrics_urls *u, const component_info *info, sl_error *err)
{
    char *key_header = datadog_key_header(key, err);
    if (!key_header)
        return -1;
    const char *headers[] = {key_header};
    const char *series_urls[] = {u->series};
    const char *distribution_urls[] = {u->distribution};
    bool compressed = compression_on(o);
    /* The v1 spec gives distribution points the media type text/json. */
    const http_route distributions = {
        .urls = distribution_urls,
        .nurls = 1,
        .codec = codec_for(s, "text/json", encode_distribution, compressed),
    };
    http_sink_setup setup = {
        .options = &o->http,
        .defaults = {BATCH_MAX_EVENTS, 0, BATCH_TIMEOUT_SECS, HTTP_COMPRESSION_DEFLATE},
        .urls = series_urls,
        .nurls = 1,
        .method = "POST",
        .headers = headers,
        .nheaders = SL_ARRAY_LEN(headers),
        .codec = codec_for(s, "application/json", encode_series, compressed),
        .healthcheck_path = u->validate,
        .routes = &distributions,
        .nroutes = 1,
        .route = route_metric,
        .route_ud = s,
    };
    int rc = http_sink_new(&setup, info, &s->http, err);
    datadog_free_secret(key_header);
    return rc;
}

static int dd_metrics_build(const void *options, const component_info *info, void **state,
                            sl_error *err)
{
    const dd_metrics_options *o = options;
    const char *key = datadog_api_key(o->default_api_key);
    if (!key)
        return sl_fail(err, "default_api_key is required (or set DD_API_KEY)");
    dd_metrics_sink *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    /* Counters without an interval of their own cover one flush. */
    dd_metrics_format format = {
        .default_namespace = o->default_namespace,
        .count_interval_secs = (uint32_t)fmax(1.0, ceil(batch_timeout(o))),
    };
    s->normalizer = dd_normalizer_new();
    s->enc = dd_metrics_encoder_new(&format);
    dd_metrics_urls urls = {0};
    int rc = -1;
    if (!s->normalizer || !s->enc)
        sl_fail(err, "out of memory");
    else if (make_urls(o, &urls, err) == 0)
        rc = start_http_sink(s, o, key, &urls, info, err);
    free_urls(&urls);
    if (rc < 0) {
        dd_metrics_destroy(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int dd_metrics_run(void *state, sink_ctx *ctx, sl_error *err)
{
    dd_metrics_sink *s = state;
    return http_sink_run(s->http, ctx, err);
}

static int dd_metrics_healthcheck(void *state, sl_error *err)
{
    dd_metrics_sink *s = state;
    return http_sink_healthcheck(s->http, err);
}

const component_desc sink_datadog_metrics_desc = {
    .type = "datadog_metrics",
    .kind = COMPONENT_SINK,
    .summary = "Metrics to Datadog's series and distribution points APIs.",
    .options = dd_metrics_option_table,
    .options_size = sizeof(dd_metrics_options),
    .input_types = EVENT_METRIC,
    .check = dd_metrics_check,
    .build = dd_metrics_build,
    .destroy = dd_metrics_destroy,
    .sink_run = dd_metrics_run,
    .healthcheck = dd_metrics_healthcheck,
};
