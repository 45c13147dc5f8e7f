/* elasticsearch.c - the `elasticsearch` sink: events indexed through the
 * `_bulk` API, as Vector's sink of the same name does.
 *
 * Each event becomes an action line and a document line (es_bulk.c) in an
 * NDJSON body POSTed to `<endpoint>/_bulk`; the shared HTTP engine batches,
 * compresses, spreads requests over the endpoints and retries. What is
 * particular to Elasticsearch is how a response is judged: the API answers
 * 200 even when some documents failed, so the body's items decide, one per
 * event: 429 and 5xx items are sent again, a 409 to `create` means the
 * document is there already, any other failure is permanent: counted,
 * logged with the document's id and Elasticsearch's reason, and written to
 * the dead-letter file when one is configured.
 *
 * Modes, as in Vector: `bulk` (the index from the `bulk.index` template,
 * action `bulk.action`) and `data_stream` (index `<type>-<dataset>-<namespace>`,
 * action `create`, the `data_stream.*` fields added to the documents and
 * `timestamp` renamed `@timestamp`). */
#include "pipeline/json.h"
#include "pipeline/log.h"
#include "pipeline/template.h"
#include "sinks/es_bulk.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Vector's RealtimeSizeBasedDefaultBatchSettings: no event limit, 10 MB,
 * one second. */
#define ES_BATCH_MAX_BYTES 10000000
#define ES_BATCH_TIMEOUT_SECS 1.0
/* Documents edited per scratch arena before it is replaced. */
#define SCRATCH_EVENTS 1024

enum { MODE_BULK = 0, MODE_DATA_STREAM };
enum { API_AUTO = 0, API_V6, API_V7, API_V8 };

static const opt_enum_value mode_values[] = {
    {"bulk", MODE_BULK},
    {"data_stream", MODE_DATA_STREAM},
    {NULL, 0},
};
static const opt_enum_value api_version_values[] = {
    {"auto", API_AUTO},
    {"v6", API_V6},
    {"v7", API_V7},
    {"v8", API_V8},
    {NULL, 0},
};
static const opt_enum_value es_action_values[] = {
    {"index", ES_ACTION_INDEX},
    {"create", ES_ACTION_CREATE},
    {NULL, 0},
};

typedef struct es_options {
    http_sink_options http;   /* first: the shared option fields fill it */
    char *endpoint;
    opt_list endpoints;
    int mode;
    int api_version;
    int bulk_action;
    char *bulk_index;
    char *bulk_fallback_index;
    char *ds_type, *ds_dataset, *ds_namespace;
    bool ds_auto_routing, ds_sync_fields;
    char *id_key;
    char *pipeline;
    const cfg_node *query;
    bool retry_partial;
    char *dead_letter_path;
} es_options;

static const opt_spec bulk_fields[] = {
    OPT_ENUM_ROW("action", es_options, bulk_action, es_action_values, .def = "index",
        .help = "The bulk action of every document: index or create."),
    OPT_STRING_ROW("index", es_options, bulk_index, .def = "sluice-%Y.%m.%d",
        .help = "The index: a template with strftime specifiers and {{ field }} references."),
    OPT_STRING_ROW("template_fallback_index", es_options, bulk_fallback_index,
        .help = "The index of events whose bulk.index cannot be rendered (else they are dropped)."),
    OPT_END,
};

static const opt_spec data_stream_fields[] = {
    OPT_STRING_ROW("type", es_options, ds_type, .def = "logs",
        .help = "The data stream's type (template)."),
    OPT_STRING_ROW("dataset", es_options, ds_dataset, .def = "generic",
        .help = "The data stream's dataset (template)."),
    OPT_STRING_ROW("namespace", es_options, ds_namespace, .def = "default",
        .help = "The data stream's namespace (template)."),
    OPT_BOOL_ROW("auto_routing", es_options, ds_auto_routing, .def = "true",
        .help = "Take type, dataset and namespace from the event's data_stream fields when it "
                "has them."),
    OPT_BOOL_ROW("sync_fields", es_options, ds_sync_fields, .def = "true",
        .help = "Add the data_stream fields the event lacks to its document."),
    OPT_END,
};

static const opt_spec dead_letter_fields[] = {
    OPT_STRING_ROW("path", es_options, dead_letter_path,
        .help = "File that documents rejected for good are appended to, as JSON lines."),
    OPT_END,
};

static const opt_spec es_option_table[] = {
    OPT_LIST_ROW("endpoints", es_options, endpoints,
        .help = "Elasticsearch URLs (scheme, host, port, optional path); requests go round-robin."),
    OPT_STRING_ROW("endpoint", es_options, endpoint,
        .help = "One Elasticsearch URL (Vector's older form of endpoints)."),
    OPT_ENUM_ROW("mode", es_options, mode, mode_values, .def = "bulk",
        .help = "bulk (bulk.index and bulk.action) or data_stream (data_stream.*, action create)."),
    OPT_ENUM_ROW("api_version", es_options, api_version, api_version_values, .def = "auto",
        .help = "Elasticsearch's major version; auto, v7 and v8 all send typeless requests."),
    OPT_OBJECT_ROW("bulk", bulk_fields, .help = "action, index, template_fallback_index."),
    OPT_OBJECT_ROW("data_stream", data_stream_fields,
        .help = "type, dataset, namespace, auto_routing, sync_fields."),
    OPT_STRING_ROW("id_key", es_options, id_key,
        .help = "Field whose value becomes the document's _id; it is left out of the document."),
    OPT_STRING_ROW("pipeline", es_options, pipeline,
        .help = "Ingest pipeline to run the documents through."),
    OPT_NODE_ROW("query", es_options, query,
        .help = "Extra query string parameters of the bulk requests: a map of name to value."),
    OPT_BOOL_ROW("request_retry_partial", es_options, retry_partial, .def = "true",
        .help = "Send again the documents that got 429 or 5xx in a bulk response (else they "
                "fail)."),
    OPT_OBJECT_ROW("dead_letter", dead_letter_fields, .help = "path."),
    HTTP_SINK_OPTIONS,
    OPT_OBJECT_ROW("encoding", http_encoding_fields,
        .help = "Vector's transformer: only_fields, except_fields, timestamp_format."),
    OPT_END,
};

/* What a bulk response taught about its failed items, kept until the
 * response is known to be well formed. */
typedef struct judging {
    size_t rejected, retried;
    const event *const *events;  /* the judged request's, in order */
    buf first;          /* the first rejected item, for the log */
    buf dead_letters;   /* lines for the dead-letter file */
} judging;

typedef struct es_sink {
    http_sink *http;
    encoding_fields fields;   /* encoding.*: applied to the document only */
    const char *id;
    int mode;
    es_action action;
    bool retry_partial;
    /* bulk mode */
    template *index;
    bool index_static, index_time_only;
    char *fallback_index;
    /* data stream mode: type, dataset, namespace */
    template *ds[3];
    bool auto_routing, sync_fields;
    /* id_key */
    bool has_id_key;
    path id_key;
    /* dead letters */
    char *dead_letter_path;
    int dead_letter_fd;
    /* on the sink's thread */
    buf index_buf, id_buf, ds_buf[3];
    int64_t index_ts;              /* the timestamp index_buf was rendered for */
    bool index_ts_valid;
    arena *scratch;
    unsigned scratch_uses;
    judging j;
} es_sink;

/* ---- checks ---- */

static const char *const ds_names[3] = {"data_stream.type", "data_stream.dataset",
                                        "data_stream.namespace"};

static size_t check_template(const char *text, const char *name, const char *label,
                             const cfg_node *at, diag_list *diags)
{
    template *t;
    sl_error err;
    if (!text)
        return 0;
    if (template_parse(text, &t, &err) < 0) {
        diag_add(diags, DIAG_ERROR, at, label, "%s: %s", name, err.msg);
        return 1;
    }
    template_free(t);
    return 0;
}

static const cfg_node *node_at(const cfg_node *node, const char *section, const char *key)
{
    const cfg_node *s = cfg_map_get(node, section);
    const cfg_node *k = s && key ? cfg_map_get(s, key) : NULL;
    return k ? k : s ? s : node;
}

static bool has_userinfo(const char *url)
{
    const char *host = strstr(url, "://");
    if (!host)
        return false;
    host += 3;
    const char *at = strchr(host, '@');
    return at && at < host + strcspn(host, "/?#");
}

static size_t check_endpoints(const es_options *o, const char *label, const cfg_node *node,
                              diag_list *diags)
{
    if (o->endpoint && o->endpoints.n > 0) {
        diag_add(diags, DIAG_ERROR, node_at(node, "endpoint", NULL), label,
                 "cannot set both `endpoints` and `endpoint`");
        return 1;
    }
    if (!o->endpoint && o->endpoints.n == 0) {
        diag_add(diags, DIAG_ERROR, node, label, "`endpoints` is required and cannot be empty");
        return 1;
    }
    size_t errors = 0;
    size_t n = o->endpoint ? 1 : o->endpoints.n;
    for (size_t i = 0; i < n; i++) {
        const char *url = o->endpoint ? o->endpoint : o->endpoints.items[i];
        const cfg_node *at = node_at(node, o->endpoint ? "endpoint" : "endpoints", NULL);
        /* the URL may hold a password: name the position, not the text */
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            diag_add(diags, DIAG_ERROR, at, label,
                     "endpoint %zu: must start with http:// or https://", i + 1);
            errors++;
        } else if (has_userinfo(url) && o->http.auth_strategy >= 0) {
            diag_add(diags, DIAG_ERROR, at, label,
                     "endpoint %zu: credentials in the URL cannot be combined with `auth`", i + 1);
            errors++;
        }
    }
    return errors;
}

static size_t check_id_key(const es_options *o, const char *label, const cfg_node *node,
                           diag_list *diags)
{
    path p;
    sl_error err;
    if (!o->id_key)
        return 0;
    const cfg_node *at = node_at(node, "id_key", NULL);
    if (path_parse(o->id_key, &p, &err) < 0) {
        diag_add(diags, DIAG_ERROR, at, label, "id_key: %s", err.msg);
        return 1;
    }
    size_t errors = 0;
    if (p.n == 0)
        errors++;
    for (size_t i = 0; i < p.n; i++)
        errors += p.segs[i].is_index;
    path_free(&p);
    if (errors)
        diag_add(diags, DIAG_ERROR, at, label, "id_key: must name a field (no array index)");
    return errors ? 1 : 0;
}

static size_t check_query(const es_options *o, const char *label, diag_list *diags)
{
    const cfg_node *q = o->query;
    if (!q)
        return 0;
    if (q->kind != CFG_MAP) {
        diag_add(diags, DIAG_ERROR, q, label, "query: expected a map of name to value");
        return 1;
    }
    for (size_t i = 0; i < q->npairs; i++) {
        if (q->pairs[i].value->kind != CFG_SCALAR) {
            diag_add(diags, DIAG_ERROR, q->pairs[i].key, label, "query.%s: expected a string",
                     q->pairs[i].key->text);
            return 1;
        }
    }
    return 0;
}

static size_t es_check(const void *options, const char *label, const cfg_node *node,
                       diag_list *diags)
{
    const es_options *o = options;
    size_t errors = http_sink_check(&o->http, label, node, diags);
    errors += check_endpoints(o, label, node, diags);
    errors += check_id_key(o, label, node, diags);
    errors += check_query(o, label, diags);
    if (o->api_version == API_V6) {
        diag_add(diags, DIAG_ERROR, node_at(node, "api_version", NULL), label,
                 "api_version: v6 (mapping types) is not supported; use v7, v8 or auto");
        errors++;
    }
    errors += check_template(o->bulk_index, "bulk.index", label, node_at(node, "bulk", "index"),
                             diags);
    const char *ds[3] = {o->ds_type, o->ds_dataset, o->ds_namespace};
    static const char *const keys[3] = {"type", "dataset", "namespace"};
    for (int i = 0; i < 3; i++)
        errors += check_template(ds[i], ds_names[i], label,
                                 node_at(node, "data_stream", keys[i]), diags);
    return errors;
}

/* ---- the index, the id, the document ---- */

/* err's message, which names the missing fields, prefixed with the option
 * whose template could not be rendered. */
static int fail_with_prefix(sl_error *err, const char *option)
{
    char why[SL_ERRMSG_MAX];
    snprintf(why, sizeof(why), "%s", err->msg);
    return sl_fail(err, "%s: %s", option, why);
}

/* A value as text, as Vector's to_string_lossy gives it for routing. */
static int append_text(buf *out, const value *v)
{
    switch (v->kind) {
    case VALUE_BYTES:
        return buf_append(out, v->u.s, v->len);
    case VALUE_INT:
        return buf_printf(out, "%lld", (long long)v->u.i);
    case VALUE_BOOL:
        return buf_append_str(out, v->u.b ? "true" : "false");
    case VALUE_NULL:
        return buf_append_str(out, "<null>");
    default:
        return json_encode_value(out, v);
    }
}

static const value *data_stream_field(const event *e, const char *key)
{
    if (e->type != EVENT_LOG)
        return NULL;
    const value *ds = event_log_get(e, "data_stream");
    if (!ds || ds->kind != VALUE_MAP)
        return NULL;
    return value_map_get(ds->u.map, key, strlen(key));
}

/* Vector's DataStreamConfig::index: `<type>-<dataset>-<namespace>`, each
 * from the event's data_stream fields (auto_routing) or the templates,
 * empty parts left out. The rendered templates stay in ds_buf for
 * sync_fields. */
static int data_stream_index(es_sink *s, const event *e, sl_error *err)
{
    static const char *const keys[3] = {"type", "dataset", "namespace"};
    bool first = true;
    buf_reset(&s->index_buf);
    for (int i = 0; i < 3; i++) {
        buf_reset(&s->ds_buf[i]);
        bool rendered = template_render(s->ds[i], e, &s->ds_buf[i], err) == 0;
        const value *v = s->auto_routing ? data_stream_field(e, keys[i]) : NULL;
        size_t start = s->index_buf.len;
        if (!first && buf_append_char(&s->index_buf, '-') < 0)
            return sl_fail(err, "out of memory");
        if (v) {
            if (append_text(&s->index_buf, v) < 0)
                return sl_fail(err, "out of memory");
        } else if (!rendered) {
            return fail_with_prefix(err, ds_names[i]);
        } else if (buf_append(&s->index_buf, s->ds_buf[i].data, s->ds_buf[i].len) < 0) {
            return sl_fail(err, "out of memory");
        }
        if (s->index_buf.len == start + (first ? 0 : 1))
            s->index_buf.len = start;   /* an empty part: no dash either */
        else
            first = false;
        if (!rendered)
            buf_reset(&s->ds_buf[i]);
    }
    return buf_reserve(&s->index_buf, 0) < 0 ? sl_fail(err, "out of memory") : 0;
}

static bool event_time(const event *e, int64_t *ts)
{
    if (e->type != EVENT_LOG)
        return false;
    const value *v = event_log_get(e, EVENT_FIELD_TIMESTAMP);
    if (!v || v->kind != VALUE_TIMESTAMP)
        return false;
    *ts = v->u.ts;
    return true;
}

/* bulk.index for e into index_buf. A static index is rendered once; one of
 * strftime specifiers only is rendered again only when the timestamp
 * changes, which it rarely does from one event to the next. */
static int bulk_index(es_sink *s, const event *e, sl_error *err)
{
    int64_t ts = 0;
    if (s->index_static && s->index_buf.len > 0)
        return 0;
    bool timed = s->index_time_only && event_time(e, &ts);
    if (timed && s->index_ts_valid && ts == s->index_ts)
        return 0;
    buf_reset(&s->index_buf);
    s->index_ts_valid = false;
    if (template_render(s->index, e, &s->index_buf, err) < 0) {
        if (!s->fallback_index)
            return fail_with_prefix(err, "bulk.index");
        buf_reset(&s->index_buf);
        if (buf_append_str(&s->index_buf, s->fallback_index) < 0)
            return sl_fail(err, "out of memory");
        return 0;
    }
    s->index_ts_valid = timed;
    s->index_ts = ts;
    return buf_reserve(&s->index_buf, 0) < 0 ? sl_fail(err, "out of memory") : 0;
}

static const char *document_id(es_sink *s, const event *e, size_t *len)
{
    if (!s->has_id_key || e->type != EVENT_LOG)
        return NULL;
    const value *v = path_get(&e->u.log, &s->id_key);
    buf_reset(&s->id_buf);
    if (!v || !es_bulk_id_of(v, &s->id_buf) || buf_reserve(&s->id_buf, 0) < 0)
        return NULL;
    *len = s->id_buf.len;
    return s->id_buf.data;
}

/* The arena document edits are made in, replaced now and then: it has no
 * reset, and what is in it is garbage once a document is written. */
static arena *scratch_arena(es_sink *s)
{
    if (s->scratch && ++s->scratch_uses < SCRATCH_EVENTS)
        return s->scratch;
    arena_free(s->scratch);
    s->scratch = arena_new();
    s->scratch_uses = 0;
    return s->scratch;
}

static int es_encode(void *ud, const event *e, double note, buf *out, sl_error *err)
{
    es_sink *s = ud;
    SL_UNUSED(note);
    size_t start = out->len;
    int rc = s->mode == MODE_DATA_STREAM ? data_stream_index(s, e, err) : bulk_index(s, e, err);
    if (rc < 0)
        return -1;
    size_t id_len = 0;
    const char *id = document_id(s, e, &id_len);
    es_doc_edits ed = {.remove = s->has_id_key ? &s->id_key : NULL};
    if (s->mode == MODE_DATA_STREAM) {
        ed.rename_timestamp = true;
        for (int i = 0; i < 3 && s->sync_fields; i++)
            ed.data_stream[i] = s->ds_buf[i].len ? s->ds_buf[i].data : NULL;
    }
    /* The index and the id come from the whole event, as in Vector; the
     * encoding options shape the document. */
    event view;
    const event *doc = encoding_fields_apply(&s->fields, e, &view);
    arena *scratch = scratch_arena(s);
    if (!doc || !scratch ||
        es_bulk_write_action(out, s->action, s->index_buf.data, s->index_buf.len, id, id_len) < 0 ||
        es_bulk_write_document(out, doc, &ed, scratch) < 0) {
        out->len = start;
        return sl_fail(err, "out of memory");
    }
    return 0;
}

/* ---- judging responses ---- */

/* A failed item in the dead-letter file's shape: the bulk item's fields. */
/* The document as it was sent: the second line of the event's encoding. */
static int append_sent_document(es_sink *s, const event *e, buf *out, buf *tmp)
{
    sl_error err;
    buf_reset(tmp);
    if (es_encode(s, e, 0, tmp, &err) < 0)
        return buf_append_str(out, "null");
    const char *doc = memchr(tmp->data, '\n', tmp->len);
    if (!doc)
        return buf_append_str(out, "null");
    doc++;
    size_t len = tmp->len - (size_t)(doc - tmp->data);
    return buf_append(out, doc, len && doc[len - 1] == '\n' ? len - 1 : len);
}

static int dead_letter_line(es_sink *s, buf *out, const es_bulk_item *it, buf *tmp)
{
    es_slice parts[4] = {it->id, it->index, it->type, it->reason};
    static const char *const keys[4] = {"{\"_id\":", ",\"_index\":", ",\"error\":{\"type\":",
                                        ",\"reason\":"};
    for (int i = 0; i < 4; i++) {
        buf_reset(tmp);
        if (buf_append_str(out, keys[i]) < 0 || es_bulk_unescape(tmp, parts[i]) < 0 ||
            json_encode_string(out, tmp->data ? tmp->data : "", tmp->len) < 0)
            return -1;
        if (i == 1 && buf_printf(out, ",\"status\":%d", it->status) < 0)
            return -1;
    }
    if (buf_append_str(out, "},\"document\":") < 0 ||
        append_sent_document(s, s->j.events[it->pos], out, tmp) < 0)
        return -1;
    return buf_append_str(out, "}\n");
}

static void note_failure(void *ctx, const es_bulk_item *it, http_item verdict)
{
    es_sink *s = ctx;
    judging *j = &s->j;
    if (verdict == HTTP_ITEM_RETRY) {   /* sent again, or read again: no dead letter */
        j->retried++;
        return;
    }
    if (j->rejected++ == 0) {
        buf_reset(&j->first);
        if (buf_printf(&j->first, "document ") == 0 && es_bulk_unescape(&j->first, it->id) == 0 &&
            buf_printf(&j->first, " (index ") == 0 &&
            es_bulk_unescape(&j->first, it->index) == 0 &&
            buf_printf(&j->first, "): %d ", it->status) == 0 &&
            es_bulk_unescape(&j->first, it->type) == 0 && buf_append_str(&j->first, ": ") == 0)
            es_bulk_unescape(&j->first, it->reason);
    }
    if (s->dead_letter_path) {
        buf tmp = BUF_INIT;
        if (dead_letter_line(s, &j->dead_letters, it, &tmp) < 0)
            slog_error(s->id, "Out of memory writing a dead letter: one is lost.");
        buf_free(&tmp);
    }
}

static void write_dead_letters(es_sink *s)
{
    buf *d = &s->j.dead_letters;
    if (d->len == 0)
        return;
    if (s->dead_letter_fd < 0)
        s->dead_letter_fd =
            open(s->dead_letter_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->dead_letter_fd < 0 || sl_write_all(s->dead_letter_fd, d->data, d->len) < 0)
        slog_error(s->id, "Failed to write dead letters to %s: %s.", s->dead_letter_path,
                   strerror(errno));
}

/* Texts from the response go to a one-line log. */
static void keep_one_line(char *text)
{
    for (char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

/* Statuses of the whole request: Vector's ElasticsearchRetryLogic, which
 * retries 429 and 5xx except 501, plus the engine's 408 and 413 rules. */
static http_verdict judge_status(const http_response *r, char *reason, size_t cap)
{
    long st = r->status;
    int excerpt = (int)(r->body_len < 160 ? r->body_len : 160);
    snprintf(reason, cap, "%.*s", excerpt, r->body);
    keep_one_line(reason);
    if (st == 413)
        return HTTP_SPLIT;
    if (st == 408 || st == 429 || (st >= 500 && st != 501))
        return HTTP_RETRY;
    return HTTP_REJECTED;
}

static http_verdict es_judge(void *ud, const http_response *r, size_t n, uint8_t *items,
                             char *reason, size_t cap)
{
    es_sink *s = ud;
    if (r->status == 0)
        return http_judge_default(ud, r, n, items, reason, cap);
    if (r->status < 200 || r->status >= 300)
        return judge_status(r, reason, cap);
    judging *j = &s->j;
    j->rejected = j->retried = 0;
    j->events = r->events;
    buf_reset(&j->dead_letters);
    const char *why;
    switch (es_bulk_parse(r->body, r->body_len, n, items, note_failure, s, &why)) {
    case ES_BULK_ALL_OK:
        return HTTP_DELIVERED;
    case ES_BULK_MALFORMED:
        /* As Vector does with a bulk response it cannot read: not retried,
           since what was indexed is unknown and a retry may repeat it. */
        snprintf(reason, cap, "unreadable bulk response (%s)", why);
        return HTTP_REJECTED;
    case ES_BULK_ITEMS:
        break;
    }
    /* Without partial retries, a document that failed for a reason that
       may pass (429, 5xx) is not sent again here, yet not refused either:
       an acknowledging source or a disk buffer reads it again. */
    if (!s->retry_partial)
        for (size_t i = 0; i < n; i++)
            if (items[i] == HTTP_ITEM_RETRY)
                items[i] = HTTP_ITEM_ERRORED;
    if (j->rejected == 0 && j->retried == 0)
        return HTTP_DELIVERED;
    write_dead_letters(s);
    const char *first = j->first.data ? j->first.data : "";
    int first_len = (int)j->first.len;
    if (j->rejected > 1)
        snprintf(reason, cap, "%.*s (and %zu more)", first_len, first, j->rejected - 1);
    else if (j->rejected)
        snprintf(reason, cap, "%.*s", first_len, first);
    else
        snprintf(reason, cap, "%zu documents failed for now (429 or 5xx)", j->retried);
    keep_one_line(reason);
    return HTTP_PARTIAL;
}

/* ---- building ---- */

static void es_destroy(void *state)
{
    es_sink *s = state;
    if (!s)
        return;
    http_sink_free(s->http);
    encoding_fields_free(&s->fields);
    template_free(s->index);
    for (int i = 0; i < 3; i++) {
        template_free(s->ds[i]);
        buf_free(&s->ds_buf[i]);
    }
    if (s->has_id_key)
        path_free(&s->id_key);
    if (s->dead_letter_fd >= 0)
        close(s->dead_letter_fd);
    free(s->dead_letter_path);
    free(s->fallback_index);
    buf_free(&s->index_buf);
    buf_free(&s->id_buf);
    buf_free(&s->j.first);
    buf_free(&s->j.dead_letters);
    arena_free(s->scratch);
    free(s);
}

static int append_query_param(buf *q, const char *name, const char *val)
{
    char *n = curl_easy_escape(NULL, name, 0);
    char *v = curl_easy_escape(NULL, val, 0);
    int rc = n && v ? buf_printf(q, "%c%s=%s", q->len ? '&' : '?', n, v) : -1;
    curl_free(n);
    curl_free(v);
    return rc;
}

/* `?pipeline=...&<query>`, escaped; empty when there is none. */
static int query_string(const es_options *o, buf *q)
{
    if (o->pipeline && append_query_param(q, "pipeline", o->pipeline) < 0)
        return -1;
    for (size_t i = 0; o->query && i < o->query->npairs; i++)
        if (append_query_param(q, o->query->pairs[i].key->text, o->query->pairs[i].value->text) <
            0)
            return -1;
    return buf_reserve(q, 0);
}

/* <endpoint>/_bulk<query> for every endpoint. */
static char **bulk_urls(const es_options *o, size_t *n, sl_error *err)
{
    *n = o->endpoint ? 1 : o->endpoints.n;
    char **urls = calloc(*n, sizeof(*urls));
    buf q = BUF_INIT;
    if (!urls || query_string(o, &q) < 0) {
        free(urls);
        buf_free(&q);
        sl_fail(err, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < *n; i++) {
        const char *base = o->endpoint ? o->endpoint : o->endpoints.items[i];
        size_t len = strlen(base);
        while (len > 0 && base[len - 1] == '/')
            len--;
        buf u = BUF_INIT;
        if (buf_printf(&u, "%.*s/_bulk%s", (int)len, base, q.data ? q.data : "") < 0) {
            for (size_t k = 0; k < i; k++)
                free(urls[k]);
            free(urls);
            buf_free(&q);
            sl_fail(err, "out of memory");
            return NULL;
        }
        urls[i] = buf_detach(&u);
    }
    buf_free(&q);
    return urls;
}

/* GET / of the cluster (or of the path the endpoint has, behind a proxy). */
static char *healthcheck_path(const char *endpoint)
{
    const char *host = strstr(endpoint, "://");
    const char *rest = host ? host + 3 + strcspn(host + 3, "/?#") : endpoint;
    size_t len = strcspn(rest, "?#");
    while (len > 0 && rest[len - 1] == '/')
        len--;
    buf p = BUF_INIT;
    if (buf_printf(&p, "%.*s/", (int)len, rest) < 0)
        return NULL;
    return buf_detach(&p);
}

static int build_templates(es_sink *s, const es_options *o, sl_error *err)
{
    if (s->mode == MODE_DATA_STREAM) {
        const char *ds[3] = {o->ds_type, o->ds_dataset, o->ds_namespace};
        for (int i = 0; i < 3; i++)
            if (template_parse(ds[i], &s->ds[i], err) < 0)
                return -1;
        return 0;
    }
    if (template_parse(o->bulk_index, &s->index, err) < 0)
        return -1;
    s->index_static = !template_is_dynamic(s->index);
    s->index_time_only = !s->index_static && !template_has_fields(s->index);
    if (o->bulk_fallback_index && !(s->fallback_index = strdup(o->bulk_fallback_index)))
        return sl_fail(err, "out of memory");
    return 0;
}

static int start_http_sink(es_sink *s, const es_options *o, const component_info *info,
                           sl_error *err)
{
    size_t nurls;
    char **urls = bulk_urls(o, &nurls, err);
    if (!urls)
        return -1;
    char *health = healthcheck_path(o->endpoint ? o->endpoint : o->endpoints.items[0]);
    int rc = -1;
    if (!health) {
        sl_fail(err, "out of memory");
    } else {
        http_sink_setup setup = {
            .options = &o->http,
            .defaults = {0, ES_BATCH_MAX_BYTES, ES_BATCH_TIMEOUT_SECS, HTTP_COMPRESSION_NONE},
            .urls = (const char *const *)urls,
            .nurls = nurls,
            .method = "POST",
            .codec = {
                .content_type = "application/x-ndjson",
                .prefix = "",
                .separator = "",
                .suffix = "",
                .encode = es_encode,
                .judge = es_judge,
                .applies_fields = true,
                .ud = s,
            },
            .healthcheck_path = health,
        };
        rc = http_sink_new(&setup, info, &s->http, err);
    }
    free(health);
    for (size_t i = 0; i < nurls; i++)
        free(urls[i]);
    free(urls);
    return rc;
}

static int es_build(const void *options, const component_info *info, void **state, sl_error *err)
{
    const es_options *o = options;
    es_sink *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    s->id = info->id;
    s->dead_letter_fd = -1;
    s->mode = o->mode;
    s->action = s->mode == MODE_DATA_STREAM ? ES_ACTION_CREATE : (es_action)o->bulk_action;
    s->retry_partial = o->retry_partial;
    s->auto_routing = o->ds_auto_routing;
    s->sync_fields = o->ds_sync_fields;
    int rc = build_templates(s, o, err);
    if (rc == 0 && o->id_key) {
        rc = path_parse(o->id_key, &s->id_key, err);
        s->has_id_key = rc == 0;
    }
    if (rc == 0 && o->dead_letter_path && !(s->dead_letter_path = strdup(o->dead_letter_path)))
        rc = sl_fail(err, "out of memory");
    if (rc == 0)
        rc = encoding_fields_init(&s->fields, &o->http.encoding_only_fields,
                                      &o->http.encoding_except_fields,
                                      o->http.encoding_timestamp_format, err);
    if (rc == 0)
        rc = start_http_sink(s, o, info, err);
    if (rc < 0) {
        es_destroy(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int es_run(void *state, sink_ctx *ctx, sl_error *err)
{
    es_sink *s = state;
    return http_sink_run(s->http, ctx, err);
}

static int es_healthcheck(void *state, sl_error *err)
{
    es_sink *s = state;
    return http_sink_healthcheck(s->http, err);
}

const component_desc sink_elasticsearch_desc = {
    .type = "elasticsearch",
    .kind = COMPONENT_SINK,
    .summary = "Events indexed in Elasticsearch through the _bulk API (or data streams).",
    .options = es_option_table,
    .options_size = sizeof(es_options),
    .input_types = EVENT_LOG | EVENT_METRIC,
    .check = es_check,
    .build = es_build,
    .destroy = es_destroy,
    .sink_run = es_run,
    .healthcheck = es_healthcheck,
};
