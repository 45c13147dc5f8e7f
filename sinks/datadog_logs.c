/* datadog_logs.c - the `datadog_logs` sink: logs to Datadog's HTTP logs
 * intake, POST <base>/api/v2/logs with a JSON array per request.
 *
 * The shared HTTP engine (http_sink.h) batches, compresses (zstd by
 * default, as in current Vector; gzip available), retries and acknowledges;
 * this file supplies the intake's URLs and headers, its limits (1000 logs
 * and 5,000,000 uncompressed bytes per request) and the encoder.
 *
 * The encoder writes each log the way Vector's datadog_logs sink does for
 * events of the legacy namespace (src/sinks/datadog/logs/sink.rs,
 * normalize_event): the reserved attributes its sources give a meaning are
 * moved where the intake reads them, i.e. `host` becomes `hostname` (a
 * `hostname` already there is kept as `_RESERVED_host`), a timestamp
 * `timestamp` becomes integer epoch milliseconds, an array `ddtags` becomes
 * the comma-joined string; `message`, `service`, `ddsource` and `status`
 * are already where they belong. Events are shared with other sinks and
 * never modified: the encoder writes a view of the root map with the
 * renamed and replaced fields, keys in byte order as serde_json writes
 * Vector's BTreeMap.
 *
 * A log that encodes larger than the intake's 1 MB is cut the way Vector's
 * truncation does it (sink.rs, encode_log): the message is shortened and
 * marked "...TRUNCATED...", `ddtags` gets truncated:single_line; if that is
 * not enough the non-reserved fields are left out, then the message is cut
 * further; a log that still doesn't fit, or whose message is not a string,
 * is dropped and counted. Truncated logs are counted in
 * datadog_logs_truncated_events_total. */
#include "sinks/datadog.h"
#include "sinks/http/http_sink.h"
#include "pipeline/json.h"
#include "pipeline/log.h"
#include "pipeline/utf8.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGS_PATH "/api/v2/logs"
#define LOGS_MAX_EVENTS 1000           /* per request, the intake's limit */
#define LOGS_MAX_BODY_BYTES 5000000    /* uncompressed, per request */
#define LOGS_BATCH_GOAL_BYTES 4250000  /* Vector's default batch.max_bytes */
#define LOGS_BATCH_TIMEOUT_SECS 5.0

#define TRUNCATION_MARKER "...TRUNCATED..."
#define TRUNCATED_TAG "truncated:single_line"

/* ---- the encoder ------------------------------------------------------- */

/* One top-level field of the log as the intake gets it. */
typedef struct dd_field {
    const char *key;
    uint32_t klen;
    const value *val;
} dd_field;

struct dd_logs_encoder {
    size_t max_log_bytes, max_message_bytes;
    dd_field *fields;          /* the view of the log being encoded */
    size_t nfields, cap;
    value timestamp_ms;        /* replacement values the view points at */
    value tags, message;
    buf tags_text, message_text;
};

/* The reserved attributes the intake reads at the root, and `message`:
 * what is kept when a log must shed its other fields. */
static const char *const reserved_fields[] = {
    "status", "timestamp", "hostname", "service", "ddsource", "ddtags", "message",
};

dd_logs_encoder *dd_logs_encoder_new(size_t max_log_bytes, size_t max_message_bytes)
{
    dd_logs_encoder *enc = calloc(1, sizeof(*enc));
    if (!enc)
        return NULL;
    enc->max_log_bytes = max_log_bytes;
    enc->max_message_bytes = max_message_bytes;
    return enc;
}

void dd_logs_encoder_free(dd_logs_encoder *enc)
{
    if (!enc)
        return;
    free(enc->fields);
    buf_free(&enc->tags_text);
    buf_free(&enc->message_text);
    free(enc);
}

static bool key_is(const char *key, uint32_t klen, const char *name)
{
    return klen == strlen(name) && memcmp(key, name, klen) == 0;
}

static dd_field *find_field(dd_logs_encoder *enc, const char *name)
{
    for (size_t i = 0; i < enc->nfields; i++)
        if (key_is(enc->fields[i].key, enc->fields[i].klen, name))
            return &enc->fields[i];
    return NULL;
}

static int reserve_fields(dd_logs_encoder *enc, size_t want)
{
    if (want <= enc->cap)
        return 0;
    size_t cap = enc->cap ? enc->cap : 16;
    while (cap < want)
        cap *= 2;
    dd_field *f = realloc(enc->fields, cap * sizeof(*f));
    if (!f)
        return -1;
    enc->fields = f;
    enc->cap = cap;
    return 0;
}

/* Adds a field at its place in key order (the view is kept sorted). */
static void insert_field(dd_logs_encoder *enc, const char *key, const value *val)
{
    uint32_t klen = (uint32_t)strlen(key);
    size_t at = 0;
    while (at < enc->nfields &&
           value_key_compare(enc->fields[at].key, enc->fields[at].klen, key, klen) < 0)
        at++;
    memmove(&enc->fields[at + 1], &enc->fields[at], (enc->nfields - at) * sizeof(dd_field));
    enc->fields[at] = (dd_field){key, klen, val};
    enc->nfields++;
}

/* chrono's timestamp_millis: floor division, also before 1970. */
static int64_t floor_millis(int64_t ns)
{
    int64_t ms = ns / 1000000;
    return (ns % 1000000 < 0) ? ms - 1 : ms;
}

/* The string elements of a non-empty ddtags array joined with ",", as
 * Vector does (other elements are skipped). */
static int join_tags(dd_logs_encoder *enc, const value_array *arr)
{
    buf_reset(&enc->tags_text);
    bool first = true;
    for (uint32_t i = 0; i < arr->len; i++) {
        const value *tag = &arr->items[i];
        if (tag->kind != VALUE_BYTES)
            continue;
        if (!first && buf_append_char(&enc->tags_text, ',') < 0)
            return -1;
        if (buf_append(&enc->tags_text, tag->u.s, tag->len) < 0)
            return -1;
        first = false;
    }
    if (buf_reserve(&enc->tags_text, 0) < 0)
        return -1;
    enc->tags = value_bytes(enc->tags_text.data, enc->tags_text.len);
    return 0;
}

/* Builds the view of a log map: its fields, with `host` moved to
 * `hostname` and the values the intake wants in another shape replaced. */
static int build_view(dd_logs_encoder *enc, const value_map *m)
{
    if (reserve_fields(enc, (size_t)m->len + 2) < 0)
        return -1;
    const value *host = value_map_get(m, "host", 4);
    const value *hostname = value_map_get(m, "hostname", 8);
    enc->nfields = 0;
    for (uint32_t i = 0; i < m->len; i++) {
        const value_entry *en = &m->entries[i];
        if (host && (key_is(en->key, en->klen, "host") || key_is(en->key, en->klen, "hostname") ||
                     (hostname && key_is(en->key, en->klen, "_RESERVED_host"))))
            continue;
        enc->fields[enc->nfields++] = (dd_field){en->key, en->klen, &en->val};
    }
    if (host) {
        insert_field(enc, "hostname", host);
        if (hostname)
            insert_field(enc, "_RESERVED_host", hostname);
    }
    dd_field *ts = find_field(enc, "timestamp");
    if (ts && ts->val->kind == VALUE_TIMESTAMP) {
        enc->timestamp_ms = value_int(floor_millis(ts->val->u.ts));
        ts->val = &enc->timestamp_ms;
    }
    dd_field *tags = find_field(enc, "ddtags");
    if (tags && tags->val->kind == VALUE_ARRAY && tags->val->u.arr->len > 0) {
        if (join_tags(enc, tags->val->u.arr) < 0)
            return -1;
        tags->val = &enc->tags;
    }
    return 0;
}

static int write_view(dd_logs_encoder *enc, buf *out)
{
    if (buf_append_char(out, '{') < 0)
        return -1;
    for (size_t i = 0; i < enc->nfields; i++) {
        const dd_field *f = &enc->fields[i];
        if (i && buf_append_char(out, ',') < 0)
            return -1;
        if (json_encode_string(out, f->key, f->klen) < 0 || buf_append_char(out, ':') < 0 ||
            json_encode_value(out, f->val) < 0)
            return -1;
    }
    return buf_append_char(out, '}');
}

/* Writes the view again in place of what was written from `start`;
 * returns the size written or -1. */
static long rewrite_view(dd_logs_encoder *enc, buf *out, size_t start)
{
    out->len = start;
    if (write_view(enc, out) < 0)
        return -1;
    return (long)(out->len - start);
}

static int set_truncated_message(dd_logs_encoder *enc, dd_field *msg, const value *original,
                                 size_t body_len)
{
    buf_reset(&enc->message_text);
    if (buf_append(&enc->message_text, original->u.s, body_len) < 0 ||
        buf_append_str(&enc->message_text, TRUNCATION_MARKER) < 0)
        return -1;
    enc->message = value_bytes(enc->message_text.data, enc->message_text.len);
    msg->val = &enc->message;
    return 0;
}

static bool has_truncated_tag(const char *tags, size_t n)
{
    size_t tag_len = strlen(TRUNCATED_TAG);
    for (size_t i = 0; i <= n;) {
        size_t end = i;
        while (end < n && tags[end] != ',')
            end++;
        size_t a = i, b = end;
        while (a < b && (tags[a] == ' ' || tags[a] == '\t'))
            a++;
        while (b > a && (tags[b - 1] == ' ' || tags[b - 1] == '\t'))
            b--;
        if (b - a == tag_len && memcmp(tags + a, TRUNCATED_TAG, tag_len) == 0)
            return true;
        i = end + 1;
    }
    return false;
}

/* truncated:single_line appended to a non-empty string ddtags (once), or
 * ddtags set to it otherwise, as Vector's ensure_truncated_tag. */
static int ensure_truncated_tag(dd_logs_encoder *enc)
{
    dd_field *tags = find_field(enc, "ddtags");
    static const value tag_only = {VALUE_BYTES, sizeof(TRUNCATED_TAG) - 1,
                                   {.s = TRUNCATED_TAG}};
    if (!tags) {
        insert_field(enc, "ddtags", &tag_only);
        return 0;
    }
    const value *v = tags->val;
    if (v->kind != VALUE_BYTES || v->len == 0) {
        tags->val = &tag_only;
        return 0;
    }
    if (has_truncated_tag(v->u.s, v->len))
        return 0;
    /* v may point into tags_text (a joined array): build the new text
     * aside before replacing it. */
    buf joined = BUF_INIT;
    if (buf_append(&joined, v->u.s, v->len) < 0 || buf_append_char(&joined, ',') < 0 ||
        buf_append_str(&joined, TRUNCATED_TAG) < 0) {
        buf_free(&joined);
        return -1;
    }
    buf_free(&enc->tags_text);
    enc->tags_text = joined;
    enc->tags = value_bytes(joined.data, joined.len);
    tags->val = &enc->tags;
    return 0;
}

static void keep_only_reserved_fields(dd_logs_encoder *enc)
{
    size_t kept = 0;
    for (size_t i = 0; i < enc->nfields; i++) {
        const dd_field *f = &enc->fields[i];
        for (size_t r = 0; r < SL_ARRAY_LEN(reserved_fields); r++) {
            if (key_is(f->key, f->klen, reserved_fields[r])) {
                enc->fields[kept++] = *f;
                break;
            }
        }
    }
    enc->nfields = kept;
}

/* Makes the log written at `start` (size `size`) fit max_log_bytes, in
 * Vector's steps. 0 when it fits now, -1 with err when it can't. */
static int truncate_log(dd_logs_encoder *enc, buf *out, size_t start, long size,
                        sl_error *err)
{
    long max = (long)enc->max_log_bytes;
    dd_field *msg = find_field(enc, "message");
    if (!msg || msg->val->kind != VALUE_BYTES)
        return sl_fail(err, "Dropped a log of %ld bytes, over the intake's limit of %ld, "
                       "with no string message to truncate.", size, max);
    const value *original = msg->val;
    size_t n = original->len;
    size_t body_len = utf8_cut(original->u.s, n,
                               n < enc->max_message_bytes ? n : enc->max_message_bytes);
    if (body_len < n && set_truncated_message(enc, msg, original, body_len) < 0)
        return sl_fail(err, "out of memory");
    if (ensure_truncated_tag(enc) < 0 || (size = rewrite_view(enc, out, start)) < 0)
        return sl_fail(err, "out of memory");
    if (size > max) {
        keep_only_reserved_fields(enc);
        msg = find_field(enc, "message");
        if ((size = rewrite_view(enc, out, start)) < 0)
            return sl_fail(err, "out of memory");
    }
    if (size > max) {
        size_t marker = body_len == n ? strlen(TRUNCATION_MARKER) : 0;
        size_t excess = (size_t)(size - max) + marker;
        body_len = utf8_cut(original->u.s, n, body_len > excess ? body_len - excess : 0);
        if (set_truncated_message(enc, msg, original, body_len) < 0 ||
            (size = rewrite_view(enc, out, start)) < 0)
            return sl_fail(err, "out of memory");
    }
    if (size > max)
        return sl_fail(err, "Dropped a log that is still %ld bytes after truncation, over "
                       "the intake's limit of %ld.", size, max);
    return 0;
}

int dd_logs_encode(dd_logs_encoder *enc, const event *e, buf *out, bool *truncated,
                   sl_error *err)
{
    *truncated = false;
    if (e->type != EVENT_LOG || e->u.log.kind != VALUE_MAP)
        return sl_fail(err, "Dropped an event that is not a log.");
    size_t start = out->len;
    long size;
    if (build_view(enc, e->u.log.u.map) < 0 || (size = rewrite_view(enc, out, start)) < 0) {
        out->len = start;
        return sl_fail(err, "out of memory");
    }
    if ((size_t)size <= enc->max_log_bytes)
        return 0;
    if (truncate_log(enc, out, start, size, err) < 0) {
        out->len = start;
        return -1;
    }
    *truncated = true;
    return 0;
}

/* ---- the sink ---------------------------------------------------------- */

typedef struct dd_logs_options {
    http_sink_options http;   /* first: HTTP_SINK_OPTIONS fill it */
    char *default_api_key;
    char *site;
    char *endpoint;
} dd_logs_options;

static const opt_spec dd_logs_option_table[] = {
    HTTP_SINK_OPTIONS,
    OPT_OBJECT_ROW("encoding", http_encoding_fields,
        .help = "Vector's transformer: only_fields, except_fields, timestamp_format."),
    OPT_STRING_ROW("default_api_key", dd_logs_options, default_api_key,
        .help = "Datadog API key, sent as DD-API-KEY; the DD_API_KEY environment variable when "
                "not set."),
    OPT_STRING_ROW("site", dd_logs_options, site,
        .help = "Datadog site: datadoghq.com (the default, or DD_SITE), datadoghq.eu, "
                "us3.datadoghq.com, us5.datadoghq.com, ap1.datadoghq.com, ddog-gov.com."),
    OPT_STRING_ROW("endpoint", dd_logs_options, endpoint,
        .help = "Base URL replacing https://http-intake.logs.<site> (a proxy, a test receiver); "
                "logs go to <endpoint>/api/v2/logs."),
    OPT_END,
};

typedef struct dd_logs_sink {
    http_sink *http;
    dd_logs_encoder *enc;     /* used on the sink's thread only */
    metrics_series *truncated;
    const char *id;
} dd_logs_sink;

static size_t dd_logs_check(const void *options, const char *label, const cfg_node *node,
                            diag_list *diags)
{
    const dd_logs_options *o = options;
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
    /* Vector refuses batch settings above the intake's limits rather than
     * quietly lowering them. */
    if (o->http.batch_max_events > LOGS_MAX_EVENTS) {
        diag_add(diags, DIAG_ERROR, cfg_map_get(cfg_map_get(node, "batch"), "max_events"), label,
                 "batch.max_events: at most %d (the Datadog logs intake's limit)",
                 LOGS_MAX_EVENTS);
        errors++;
    }
    if (o->http.batch_max_bytes > LOGS_BATCH_GOAL_BYTES) {
        diag_add(diags, DIAG_ERROR, cfg_map_get(cfg_map_get(node, "batch"), "max_bytes"), label,
                 "batch.max_bytes: at most %d (requests must stay under the Datadog logs "
                 "intake's 5,000,000 bytes)", LOGS_BATCH_GOAL_BYTES);
        errors++;
    }
    return errors;
}

static int encode_log(void *ud, const event *e, double note, buf *out, sl_error *err)
{
    dd_logs_sink *s = ud;
    SL_UNUSED(note);
    bool truncated;
    if (dd_logs_encode(s->enc, e, out, &truncated, err) < 0)
        return -1;
    if (truncated) {
        metrics_add(s->truncated, 1);
        slog_warn(s->id, "Truncated a log over the Datadog intake's limit of %d bytes.",
                  DATADOG_LOGS_MAX_LOG_BYTES);
    }
    return 0;
}

/* The engine's rules (2xx delivered; 408, 429, 5xx retried; 413 split;
 * other statuses rejected), with a reason that names the likely cause when
 * the intake refuses the key: every log sent with it will be lost. */
static http_verdict judge_response(void *ud, const http_response *r, size_t n, uint8_t *items,
                                   char *reason, size_t reason_cap)
{
    http_verdict v = http_judge_default(ud, r, n, items, reason, reason_cap);
    if (r->status == 401 || r->status == 403)
        snprintf(reason, reason_cap,
                 "Datadog refused the API key; check default_api_key or DD_API_KEY");
    return v;
}

static void dd_logs_destroy(void *state)
{
    dd_logs_sink *s = state;
    if (!s)
        return;
    http_sink_free(s->http);
    dd_logs_encoder_free(s->enc);
    free(s);
}

/* What the engine GETs for the healthcheck: Vector's <API host>/api/v1/
 * validate, as an absolute URL (the API host is not the intake's). */
static char *validate_target(const char *api, sl_error *err)
{
    return datadog_join_url(api, DATADOG_VALIDATE_PATH, err);
}

static int start_http_sink(dd_logs_sink *s, const dd_logs_options *o, const char *key,
                           const char *logs_url, const char *validate, const component_info *info,
                           sl_error *err)
{
    char *key_header = datadog_key_header(key, err);
    if (!key_header)
        return -1;
    const char *headers[] = {
        key_header,
        "DD-EVP-ORIGIN: sluice",
        "DD-EVP-ORIGIN-VERSION: " SLUICE_VERSION,
    };
    const char *urls[] = {logs_url};
    http_sink_setup setup = {
        .options = &o->http,
        .defaults = {LOGS_MAX_EVENTS, LOGS_BATCH_GOAL_BYTES, LOGS_BATCH_TIMEOUT_SECS,
                     HTTP_COMPRESSION_ZSTD},
        .urls = urls,
        .nurls = 1,
        .method = "POST",
        .headers = headers,
        .nheaders = SL_ARRAY_LEN(headers),
        .codec = {
            .content_type = "application/json",
            .prefix = "[",
            .separator = ",",
            .suffix = "]",
            .encode = encode_log,
            .judge = judge_response,
            .max_events = LOGS_MAX_EVENTS,
            .max_bytes = LOGS_MAX_BODY_BYTES,
            .ud = s,
        },
        .healthcheck_path = validate,
    };
    int rc = http_sink_new(&setup, info, &s->http, err);
    datadog_free_secret(key_header);
    return rc;
}

static int dd_logs_build(const void *options, const component_info *info, void **state,
                         sl_error *err)
{
    const dd_logs_options *o = options;
    const char *key = datadog_api_key(o->default_api_key);
    if (!key)
        return sl_fail(err, "default_api_key is required (or set DD_API_KEY)");
    dd_logs_sink *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    s->id = info->id;
    s->enc = dd_logs_encoder_new(DATADOG_LOGS_MAX_LOG_BYTES, DATADOG_LOGS_MAX_MESSAGE_BYTES);
    if (info->metrics)
        s->truncated = component_metrics_extra(info->metrics,
                                               "datadog_logs_truncated_events_total",
                                               METRICS_COUNTER,
                                               "Logs truncated to fit the intake's 1 MB limit.");
    const char *site = datadog_site(o->site);
    char *base = datadog_base_url(o->endpoint, site, "http-intake.logs", err);
    char *api = base ? datadog_api_base_url(o->endpoint, site, err) : NULL;
    char *logs_url = api ? datadog_join_url(base, LOGS_PATH, err) : NULL;
    char *validate = logs_url ? validate_target(api, err) : NULL;
    int rc = -1;
    if (!s->enc)
        sl_fail(err, "out of memory");
    else if (validate)
        rc = start_http_sink(s, o, key, logs_url, validate, info, err);
    free(base);
    free(api);
    free(logs_url);
    free(validate);
    if (rc < 0) {
        dd_logs_destroy(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int dd_logs_run(void *state, sink_ctx *ctx, sl_error *err)
{
    dd_logs_sink *s = state;
    return http_sink_run(s->http, ctx, err);
}

static int dd_logs_healthcheck(void *state, sl_error *err)
{
    dd_logs_sink *s = state;
    return http_sink_healthcheck(s->http, err);
}

const component_desc sink_datadog_logs_desc = {
    .type = "datadog_logs",
    .kind = COMPONENT_SINK,
    .summary = "Logs to Datadog's HTTP logs intake (/api/v2/logs).",
    .options = dd_logs_option_table,
    .options_size = sizeof(dd_logs_options),
    .input_types = EVENT_LOG,
    .check = dd_logs_check,
    .build = dd_logs_build,
    .destroy = dd_logs_destroy,
    .sink_run = dd_logs_run,
    .healthcheck = dd_logs_healthcheck,
};
