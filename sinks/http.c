/* http.c - the `http` sink: events POSTed (or PUT) to any HTTP endpoint,
 * the escape hatch for receivers without a sink of their own.
 *
 * Options follow Vector's http sink: `uri`, `method`, `encoding.codec`,
 * `framing.method`, `payload_prefix` / `payload_suffix`, `headers`
 * (deprecated top-level form of request.headers), and the shared HTTP
 * options (batch, compression, request, tls, auth). Bodies:
 *
 *   json                 a JSON array of the events          application/json
 *   json + framing       newline_delimited: NDJSON           application/x-ndjson
 *   ndjson               one JSON object per line            application/x-ndjson
 *   text                 each event's message, one per line  text/plain
 *
 * Everything else (batching, retries, acks, compression) is the shared
 * engine's, in http_sink.c.
 *
 * Healthcheck: as in Vector, only `healthcheck.uri` is checked (a GET, any
 * 2xx healthy, with the sink's headers and auth); without it the sink sends
 * nothing, since a request to an arbitrary receiver's URL could be a write.
 * It runs in `sluice validate` and when the sink starts, where a failure is
 * logged and the sink goes on, as Vector's does without --require-healthy.
 * The `healthcheck` section is the framework's (config.c), which build()
 * does not see: check() reads the two keys from the sink's node. */
#include "sinks/http/http_sink.h"
#include "sinks/encoding.h"
#include "pipeline/log.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Vector's http sink defaults: 10 MB, 1 s, no event count limit. */
#define HTTP_DEFAULT_MAX_BYTES 10000000
#define HTTP_DEFAULT_TIMEOUT_SECS 1.0

enum { CODEC_JSON = 0, CODEC_NDJSON, CODEC_TEXT };
enum { FRAMING_DEFAULT = 0, FRAMING_NEWLINE };

enum { METHOD_POST = 0, METHOD_PUT, METHOD_PATCH };

static const opt_enum_value codec_values[] = {
    {"json", CODEC_JSON},
    {"ndjson", CODEC_NDJSON},
    {"text", CODEC_TEXT},
    {NULL, 0},
};
static const opt_enum_value method_values[] = {
    {"post", METHOD_POST},
    {"put", METHOD_PUT},
    {"patch", METHOD_PATCH},
    {NULL, 0},
};
static const char *const method_verbs[] = {
    [METHOD_POST] = "POST",
    [METHOD_PUT] = "PUT",
    [METHOD_PATCH] = "PATCH",
};
static const opt_enum_value framing_values[] = {
    {"default", FRAMING_DEFAULT},
    {"newline_delimited", FRAMING_NEWLINE},
    {NULL, 0},
};

typedef struct http_options {
    http_sink_options http;   /* first: the shared tables fill it */
    char *uri;
    int method;
    int codec;
    int framing;
    const cfg_node *headers;
    char *payload_prefix, *payload_suffix;
    /* healthcheck.uri when healthcheck.enabled: borrowed from the config */
    const char *healthcheck_uri;
} http_options;

static const opt_spec encoding_table[] = {
    OPT_ENUM_ROW("codec", http_options, codec, codec_values, .required = true,
        .help = "json (a JSON array per request), ndjson, or text (each message on a line)."),
    HTTP_ENCODING_TRANSFORM_OPTIONS,
    OPT_END,
};

static const opt_spec framing_fields[] = {
    OPT_ENUM_ROW("method", http_options, framing, framing_values, .def = "default",
        .help = "newline_delimited turns the json codec's array into NDJSON."),
    OPT_END,
};

static const opt_spec http_option_table[] = {
    OPT_STRING_ROW("uri", http_options, uri, .required = true,
        .help = "The full URL to send to (userinfo is used as basic auth)."),
    OPT_ENUM_ROW("method", http_options, method, method_values, .def = "post",
        .help = "The HTTP method: post, put or patch."),
    OPT_OBJECT_ROW("encoding", encoding_table, .required = true,
        .help = "How events are encoded."),
    OPT_OBJECT_ROW("framing", framing_fields, .help = "How encoded events are separated."),
    OPT_STRING_ROW("payload_prefix", http_options, payload_prefix,
        .help = "Text before the events of each request (replaces the json codec's \"[\")."),
    OPT_STRING_ROW("payload_suffix", http_options, payload_suffix,
        .help = "Text after the events of each request (replaces the json codec's \"]\")."),
    OPT_NODE_ROW("headers", http_options, headers, .help = "Deprecated: use request.headers."),
    HTTP_SINK_OPTIONS,
    OPT_END,
};

typedef struct http_state {
    http_sink *engine;
    char *id;
    bool healthcheck;        /* healthcheck.uri is set and enabled */
    encoding_codec codec;
    char **header_lines;
    size_t nheader_lines;
} http_state;

static bool is_http_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* Keeps healthcheck.uri, unless healthcheck.enabled is false (config.c has
 * checked both keys' types already). */
static size_t check_healthcheck(http_options *o, const char *label, const cfg_node *node,
                                diag_list *diags)
{
    const cfg_node *hc = cfg_map_get(node, "healthcheck");
    const cfg_node *uri = hc && hc->kind == CFG_MAP ? cfg_map_get(hc, "uri") : NULL;
    const cfg_node *enabled = uri ? cfg_map_get(hc, "enabled") : NULL;
    bool on = true;
    if (!uri || uri->kind != CFG_SCALAR)
        return 0;
    if (!is_http_url(uri->text)) {
        diag_add(diags, DIAG_ERROR, uri, label,
                 "healthcheck.uri: must start with http:// or https://");
        return 1;
    }
    if (enabled && enabled->kind == CFG_SCALAR)
        opt_parse_bool(enabled->text, &on);   /* leaves `on` as it is when unreadable */
    o->healthcheck_uri = on ? uri->text : NULL;
    return 0;
}

static size_t http_check(const void *options, const char *label, const cfg_node *node,
                         diag_list *diags)
{
    const http_options *o = options;
    size_t errors = http_sink_check(&o->http, label, node, diags);
    errors += check_healthcheck((http_options *)o, label, node, diags);
    if (o->uri && !is_http_url(o->uri)) {
        /* Not the URI itself: it may carry a password. */
        diag_add(diags, DIAG_ERROR, cfg_map_get(node, "uri"), label,
                 "uri: must start with http:// or https://");
        errors++;
    }
    const cfg_node *h = o->headers;
    if (h && h->kind != CFG_MAP) {
        diag_add(diags, DIAG_ERROR, h, label, "headers: expected a map of name to value");
        errors++;
    }
    for (size_t i = 0; h && h->kind == CFG_MAP && i < h->npairs; i++) {
        const cfg_pair *p = &h->pairs[i];
        if (p->value->kind != CFG_SCALAR || strpbrk(p->key->text, ": \r\n") ||
            strpbrk(p->value->text, "\r\n")) {
            diag_add(diags, DIAG_ERROR, p->key, label,
                     "headers.%s: expected a header name and a one-line string", p->key->text);
            errors++;
        }
    }
    return errors;
}

static int encode_event(void *ud, const event *e, double note, buf *out, sl_error *err)
{
    const http_state *st = ud;
    SL_UNUSED(note);
    if (encoding_write_event(out, st->codec, e) < 0)
        return sl_fail(err, "cannot encode the event as %s",
                       st->codec == ENCODING_JSON ? "JSON" : "text");
    return 0;
}

/* The codec of a configuration: framing and the JSON array around it. */
static void choose_framing(const http_options *o, http_codec *c, encoding_codec *enc)
{
    bool array = o->codec == CODEC_JSON && o->framing != FRAMING_NEWLINE;
    *enc = o->codec == CODEC_TEXT ? ENCODING_TEXT : ENCODING_JSON;
    if (array) {
        c->content_type = "application/json";
        c->prefix = "[";
        c->separator = ",";
        c->suffix = "]";
    } else {
        c->content_type = o->codec == CODEC_TEXT ? "text/plain" : "application/x-ndjson";
        c->prefix = "";
        c->separator = "\n";
        c->suffix = "\n";
    }
    if (o->payload_prefix)
        c->prefix = o->payload_prefix;
    if (o->payload_suffix)
        c->suffix = o->payload_suffix;
}

static int collect_headers(http_state *st, const cfg_node *h, sl_error *err)
{
    if (!h || h->kind != CFG_MAP || h->npairs == 0)
        return 0;
    st->header_lines = calloc(h->npairs, sizeof(*st->header_lines));
    if (!st->header_lines)
        return sl_fail(err, "out of memory");
    for (size_t i = 0; i < h->npairs; i++) {
        const cfg_pair *p = &h->pairs[i];
        if (p->value->kind != CFG_SCALAR)
            continue;
        buf line = BUF_INIT;
        if (buf_printf(&line, "%s: %s", p->key->text, p->value->text) < 0)
            return sl_fail(err, "out of memory");
        st->header_lines[st->nheader_lines++] = buf_detach(&line);
    }
    return 0;
}

static void http_destroy(void *state)
{
    http_state *st = state;
    if (!st)
        return;
    http_sink_free(st->engine);
    free(st->id);
    for (size_t i = 0; i < st->nheader_lines; i++)
        free(st->header_lines[i]);
    free(st->header_lines);
    free(st);
}

static int http_build(const void *options, const component_info *info, void **state,
                      sl_error *err)
{
    const http_options *o = options;
    http_state *st = calloc(1, sizeof(*st));
    if (!st)
        return sl_fail(err, "out of memory");
    http_sink_setup setup = {
        .options = &o->http,
        .defaults = {0, HTTP_DEFAULT_MAX_BYTES, HTTP_DEFAULT_TIMEOUT_SECS,
                     HTTP_COMPRESSION_NONE},
        .urls = (const char *const *)&o->uri,
        .nurls = 1,
        .method = method_verbs[o->method],
        .healthcheck_path = o->healthcheck_uri,
    };
    st->healthcheck = o->healthcheck_uri != NULL;
    choose_framing(o, &setup.codec, &st->codec);
    setup.codec.encode = encode_event;
    setup.codec.ud = st;
    if (collect_headers(st, o->headers, err) < 0) {
        http_destroy(st);
        return -1;
    }
    setup.headers = (const char *const *)st->header_lines;
    setup.nheaders = st->nheader_lines;
    st->id = strdup(info && info->id ? info->id : "http");
    if (!st->id) {
        http_destroy(st);
        return sl_fail(err, "out of memory");
    }
    if (http_sink_new(&setup, info, &st->engine, err) < 0) {
        http_destroy(st);
        return -1;
    }
    *state = st;
    return 0;
}

static int http_healthcheck(void *state, sl_error *err)
{
    http_state *st = state;
    if (!st->healthcheck)
        return 1;
    return http_sink_healthcheck(st->engine, err);
}

static int http_run(void *state, sink_ctx *ctx, sl_error *err)
{
    http_state *st = state;
    return http_sink_run(st->engine, ctx, err);
}

const component_desc sink_http_desc = {
    .type = "http",
    .kind = COMPONENT_SINK,
    .summary = "Events sent in batches to any HTTP endpoint (JSON, NDJSON or text).",
    .options = http_option_table,
    .options_size = sizeof(http_options),
    .input_types = EVENT_LOG | EVENT_METRIC,
    .check = http_check,
    .build = http_build,
    .destroy = http_destroy,
    .sink_run = http_run,
    .healthcheck = http_healthcheck,
};
