/* http_options.c - the options every HTTP sink shares (batch, compression,
 * request, tls, auth): their tables and the checks the tables cannot make.
 *
 * The tables fill an http_sink_options embedded first in each sink's own
 * options struct, so a sink lists HTTP_SINK_OPTIONS in its table and gets
 * the same keys, defaults and errors as the others. Values that hold
 * secrets (auth.password, auth.token, auth.api_key, tls.key_pass) are never
 * echoed in a
 * diagnostic: only the key names are. */
#include "sinks/http/http_sink.h"
#include "pipeline/path.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const http_compression_names[] = {"none", "gzip", "zstd", "deflate", NULL};
const char *const http_auth_strategy_names[] = {"basic", "bearer", "api_key", NULL};
static const opt_enum_value http_auth_strategy_values[] = {
    {"basic", HTTP_AUTH_BASIC},
    {"bearer", HTTP_AUTH_BEARER},
    {"api_key", HTTP_AUTH_API_KEY},
    {NULL, 0},
};

const opt_spec http_batch_fields[] = {
    OPT_UINT_ROW("max_events", http_sink_options, batch_max_events,
        .help = "The most events in one request; the sink's default when not set."),
    OPT_UINT_ROW("max_bytes", http_sink_options, batch_max_bytes,
        .help = "The most bytes of encoded (uncompressed) events in one request."),
    OPT_FLOAT_ROW("timeout_secs", http_sink_options, batch_timeout_secs, OPT_MIN(0),
        .help = "Seconds a partial request waits for more events before it is sent."),
    OPT_END,
};

/* Vector's AdaptiveConcurrencySettings, with its defaults. */
static const opt_spec http_adaptive_fields[] = {
    OPT_UINT_ROW("initial_concurrency", http_sink_options, arc_initial, .def = "1",
        .help = "The limit adaptive concurrency starts from."),
    OPT_UINT_ROW("max_concurrency_limit", http_sink_options, arc_max, .def = "200",
        .help = "The highest limit adaptive concurrency may reach."),
    OPT_FLOAT_ROW("decrease_ratio", http_sink_options, arc_decrease_ratio, .def = "0.9",
        .help = "The fraction of the limit kept when it decreases (rounded down)."),
    OPT_FLOAT_ROW("ewma_alpha", http_sink_options, arc_ewma_alpha, .def = "0.4",
        .help = "The weight of a new RTT measurement in the moving average."),
    OPT_FLOAT_ROW("rtt_deviation_scale", http_sink_options, arc_rtt_deviation_scale,
        .def = "2.5", OPT_MIN(0),
        .help = "Standard deviations the RTT may rise before the limit decreases."),
    OPT_END,
};

const opt_spec http_request_fields[] = {
    OPT_NODE_ROW("concurrency", http_sink_options, concurrency_node,
        .help = "Requests in flight at once: a number (default 8), `none` (1) or `adaptive` (a "
                "limit found from the round-trip times; see adaptive_concurrency)."),
    OPT_OBJECT_ROW("adaptive_concurrency", http_adaptive_fields,
        .help = "initial_concurrency, max_concurrency_limit, decrease_ratio, ewma_alpha, "
                "rtt_deviation_scale."),
    OPT_UINT_ROW("timeout_secs", http_sink_options, timeout_secs, .def = "60", OPT_MIN(1),
        .help = "Seconds one request may take before it is abandoned and retried."),
    OPT_FLOAT_ROW("retry_initial_backoff_secs", http_sink_options, retry_initial_backoff_secs,
        .def = "1", OPT_MIN(0), .help = "The first retry's backoff; it doubles with each attempt."),
    OPT_FLOAT_ROW("retry_max_duration_secs", http_sink_options, retry_max_duration_secs,
        .def = "30", OPT_MIN(0), .help = "The longest backoff between two attempts."),
    OPT_UINT_ROW("retry_attempts", http_sink_options, retry_attempts,
        .help = "Retries before a request fails for good; unlimited when not set."),
    OPT_NODE_ROW("headers", http_sink_options, request_headers,
        .help = "Extra headers of every request: a map of name to value."),
    OPT_UINT_ROW("rate_limit_num", http_sink_options, rate_limit_num,
        .help = "Most requests started per rate_limit_duration_secs; unlimited when not set."),
    OPT_FLOAT_ROW("rate_limit_duration_secs", http_sink_options, rate_limit_duration_secs,
        .def = "1", .help = "The window of rate_limit_num, in seconds."),
    OPT_END,
};

const opt_spec http_encoding_fields[] = {
    HTTP_ENCODING_TRANSFORM_OPTIONS,
    OPT_END,
};

const opt_spec http_tls_fields[] = {
    OPT_STRING_ROW("ca_file", http_sink_options, tls_ca_file,
        .help = "PEM file of the certificate authorities to trust."),
    OPT_STRING_ROW("crt_file", http_sink_options, tls_crt_file, .help = "PEM client certificate."),
    OPT_STRING_ROW("key_file", http_sink_options, tls_key_file,
        .help = "PEM private key of the client certificate."),
    OPT_STRING_ROW("key_pass", http_sink_options, tls_key_pass, .help = "Passphrase of key_file."),
    OPT_BOOL_ROW("verify_certificate", http_sink_options, tls_verify_certificate, .def = "true",
        .help = "Check the server's certificate chain."),
    OPT_BOOL_ROW("verify_hostname", http_sink_options, tls_verify_hostname, .def = "true",
        .help = "Check that the certificate names the host."),
    OPT_END,
};

const opt_spec http_auth_fields[] = {
    OPT_ENUM_ROW("strategy", http_sink_options, auth_strategy, http_auth_strategy_values,
        .help = "basic (user, password), bearer (token) or api_key (api_key)."),
    OPT_STRING_ROW("user", http_sink_options, auth_user, .help = "User name of basic auth."),
    OPT_STRING_ROW("password", http_sink_options, auth_password,
        .help = "Password of basic auth."),
    OPT_STRING_ROW("token", http_sink_options, auth_token,
        .help = "Token of bearer auth, sent as `Authorization: Bearer <token>`."),
    OPT_STRING_ROW("api_key", http_sink_options, auth_api_key,
        .help = "Key of api_key auth (Elasticsearch's base64 `id:key`), sent as `Authorization: "
                "ApiKey <key>`."),
    OPT_END,
};

/* The parser stores an unset enum as 0 (its first choice); the engine needs
 * "not set" to apply a sink's default, and only the node can tell. */
static void mark_unset_enums(http_sink_options *o, const cfg_node *node)
{
    if (!opt_set(node, "auth.strategy"))
        o->auth_strategy = -1;
    o->tls_verify_certificate_set = opt_set(node, "tls.verify_certificate");
    o->tls_verify_hostname_set = opt_set(node, "tls.verify_hostname");
}

static int compression_index(const cfg_node *v)
{
    for (int i = 0; v && v->kind == CFG_SCALAR && http_compression_names[i]; i++)
        if (strcmp(v->text, http_compression_names[i]) == 0)
            return i;
    return -1;
}

/* `compression: gzip`, or Vector's `compression: {algorithm: gzip, level:
 * 6}` (whose level wins over compression_level). -1 when not set. */
static size_t read_compression(http_sink_options *o, const char *label, diag_list *diags)
{
    const cfg_node *v = o->compression_node;
    o->compression = -1;
    if (!v)
        return 0;
    const cfg_node *algo = v->kind == CFG_MAP ? cfg_map_get(v, "algorithm") : v;
    const cfg_node *level = v->kind == CFG_MAP ? cfg_map_get(v, "level") : NULL;
    for (size_t i = 0; v->kind == CFG_MAP && i < v->npairs; i++)
        if (strcmp(v->pairs[i].key->text, "algorithm") != 0 &&
            strcmp(v->pairs[i].key->text, "level") != 0) {
            diag_add(diags, DIAG_ERROR, v->pairs[i].key, label,
                     "compression: unknown field \"%s\" (algorithm, level)",
                     v->pairs[i].key->text);
            return 1;
        }
    o->compression = compression_index(algo);
    if (o->compression < 0) {
        diag_add(diags, DIAG_ERROR, algo ? algo : v, label,
                 "compression%s must be none, gzip, zstd or deflate",
                 v->kind == CFG_MAP ? ".algorithm" : "");
        return 1;
    }
    if (!level)
        return 0;
    char *end = NULL;
    unsigned long long n = level->kind == CFG_SCALAR ? strtoull(level->text, &end, 10) : 0;
    if (!end || *end || n == 0 || level->text[0] == '-') {
        diag_add(diags, DIAG_ERROR, level, label,
                 "compression.level must be a whole number from 1");
        return 1;
    }
    o->compression_level = n;
    return 0;
}

static const cfg_node *node_at(const cfg_node *node, const char *section, const char *key)
{
    const cfg_node *s = cfg_map_get(node, section);
    const cfg_node *k = s && key ? cfg_map_get(s, key) : NULL;
    return k ? k : s ? s : node;
}

/* What each strategy needs, and the one it was given for. */
static const struct {
    const char *key;
    size_t offset;
} auth_credentials[] = {
    [HTTP_AUTH_BASIC] = {"user", offsetof(http_sink_options, auth_user)},
    [HTTP_AUTH_BEARER] = {"token", offsetof(http_sink_options, auth_token)},
    [HTTP_AUTH_API_KEY] = {"api_key", offsetof(http_sink_options, auth_api_key)},
};

static const char *credential(const http_sink_options *o, int strategy)
{
    return *(char *const *)((const char *)o + auth_credentials[strategy].offset);
}

static size_t check_auth(const http_sink_options *o, const char *label, const cfg_node *node,
                         diag_list *diags)
{
    const cfg_node *at = node_at(node, "auth", NULL);
    int strategy = o->auth_strategy;
    if (strategy < 0) {
        if (!o->auth_user && !o->auth_password && !o->auth_token && !o->auth_api_key)
            return 0;
        diag_add(diags, DIAG_ERROR, at, label,
                 "auth: `strategy` is required (basic, bearer or api_key)");
        return 1;
    }
    if (!credential(o, strategy)) {
        diag_add(diags, DIAG_ERROR, at, label, "auth: strategy %s needs `%s`",
                 http_auth_strategy_names[strategy], auth_credentials[strategy].key);
        return 1;
    }
    /* A key or token meant for another strategy would be ignored silently. */
    for (int other = HTTP_AUTH_BEARER; other <= HTTP_AUTH_API_KEY; other++) {
        if (other != strategy && credential(o, other)) {
            diag_add(diags, DIAG_ERROR, at, label, "auth: `%s` goes with strategy %s",
                     auth_credentials[other].key, http_auth_strategy_names[other]);
            return 1;
        }
    }
    /* They become header lines: a line break would start another header. */
    const char *secret = credential(o, strategy);
    if (strategy != HTTP_AUTH_BASIC && strpbrk(secret, "\r\n")) {
        diag_add(diags, DIAG_ERROR, at, label, "auth.%s: must be one line",
                 auth_credentials[strategy].key);
        return 1;
    }
    return 0;
}

static size_t check_tls_file(const char *file, const char *key, const char *label,
                             const cfg_node *node, diag_list *diags)
{
    if (!file || access(file, R_OK) == 0)
        return 0;
    diag_add(diags, DIAG_ERROR, node_at(node, "tls", key), label,
             "tls.%s: cannot read \"%s\"", key, file);
    return 1;
}

static size_t check_headers(const http_sink_options *o, const char *label, diag_list *diags)
{
    const cfg_node *h = o->request_headers;
    if (!h)
        return 0;
    if (h->kind != CFG_MAP) {
        diag_add(diags, DIAG_ERROR, h, label, "request.headers: expected a map of name to value");
        return 1;
    }
    size_t errors = 0;
    for (size_t i = 0; i < h->npairs; i++) {
        const cfg_pair *p = &h->pairs[i];
        bool bad_name = !p->key->text[0] || strpbrk(p->key->text, ": \t\r\n");
        bool bad_value = p->value->kind != CFG_SCALAR || strpbrk(p->value->text, "\r\n");
        if (bad_name || bad_value) {
            diag_add(diags, DIAG_ERROR, p->key, label,
                     "request.headers.%s: %s", p->key->text,
                     bad_name ? "not a valid header name" : "expected a one-line string");
            errors++;
        }
    }
    return errors;
}

/* Vector's request.concurrency: a number, `none` (one at a time) or
 * `adaptive` (Adaptive Request Concurrency, http_arc.c). */
static size_t read_concurrency(http_sink_options *o, const char *label, diag_list *diags)
{
    const cfg_node *v = o->concurrency_node;
    o->concurrency = 0;
    o->adaptive = false;
    if (!v)
        return 0;
    if (v->kind == CFG_SCALAR && strcmp(v->text, "none") == 0) {
        o->concurrency = 1;
        return 0;
    }
    if (v->kind == CFG_SCALAR && strcmp(v->text, "adaptive") == 0) {
        o->adaptive = true;
        return 0;
    }
    char *end = NULL;
    unsigned long long n = v->kind == CFG_SCALAR ? strtoull(v->text, &end, 10) : 0;
    if (!end || *end || n == 0 || v->text[0] == '-' || n > 1024) {
        diag_add(diags, DIAG_ERROR, v, label,
                 "request.concurrency: must be a number from 1 to 1024, none or adaptive");
        return 1;
    }
    o->concurrency = n;
    return 0;
}

/* Vector's ranges for request.adaptive_concurrency. */
static size_t check_adaptive(const http_sink_options *o, const char *label, const cfg_node *node,
                             diag_list *diags)
{
    const char *problem = NULL;
    if (o->arc_initial < 1 || o->arc_max < 1 || o->arc_max > 1024 ||
        o->arc_initial > o->arc_max)
        problem = "initial_concurrency and max_concurrency_limit must be 1 to 1024, "
                  "the first no larger than the second";
    else if (!(o->arc_decrease_ratio > 0 && o->arc_decrease_ratio < 1))
        problem = "decrease_ratio must be between 0 and 1";
    else if (!(o->arc_ewma_alpha > 0 && o->arc_ewma_alpha < 1))
        problem = "ewma_alpha must be between 0 and 1";
    if (!problem)
        return 0;
    diag_add(diags, DIAG_ERROR, node_at(node, "request", "adaptive_concurrency"), label,
             "request.adaptive_concurrency: %s", problem);
    return 1;
}

static size_t check_numbers(const http_sink_options *o, const char *label, const cfg_node *node,
                            diag_list *diags)
{
    size_t errors = 0;
    if (o->compression_level) {
        bool zstd = o->compression == HTTP_COMPRESSION_ZSTD;
        uint64_t max = zstd ? 19 : 9;
        if (o->compression_level > max) {
            diag_add(diags, DIAG_ERROR, node_at(node, "compression_level", NULL), label,
                     "compression_level: must be 1 to %llu for %s", (unsigned long long)max,
                     zstd ? "zstd" : "gzip and deflate");
            errors++;
        }
    }
    errors += read_concurrency((http_sink_options *)o, label, diags);
    errors += check_adaptive(o, label, node, diags);
    return errors;
}

static size_t check_paths(const opt_list *l, const char *name, const char *label,
                          const cfg_node *node, diag_list *diags)
{
    size_t errors = 0;
    for (size_t i = 0; i < l->n; i++) {
        path p;
        sl_error err = {{0}};
        if (path_parse(l->items[i], &p, &err) < 0) {
            diag_add(diags, DIAG_ERROR, node_at(node, "encoding", name), label,
                     "encoding.%s: %s: %s", name, l->items[i], err.msg);
            errors++;
            continue;
        }
        path_free(&p);
    }
    return errors;
}

size_t http_sink_check(const http_sink_options *o, const char *label, const cfg_node *node,
                       diag_list *diags)
{
    mark_unset_enums((http_sink_options *)o, node);
    size_t errors = read_compression((http_sink_options *)o, label, diags);
    errors += check_auth(o, label, node, diags);
    errors += check_tls_file(o->tls_ca_file, "ca_file", label, node, diags);
    errors += check_tls_file(o->tls_crt_file, "crt_file", label, node, diags);
    errors += check_tls_file(o->tls_key_file, "key_file", label, node, diags);
    errors += check_headers(o, label, diags);
    errors += check_numbers(o, label, node, diags);
    errors += check_paths(&o->encoding_only_fields, "only_fields", label, node, diags);
    errors += check_paths(&o->encoding_except_fields, "except_fields", label, node, diags);
    return errors;
}
