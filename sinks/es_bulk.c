/* es_bulk.c - the Elasticsearch `_bulk` request lines and response parser
 * (see es_bulk.h).
 *
 * Documents are written by the hot-path JSON codec. When the document must
 * differ from the event (id_key taken out, data stream fields), only the
 * maps on the way to the change are copied, shallowly, into a scratch arena:
 * the event is shared with other sinks and must stay as it is.
 *
 * Bulk responses can be megabytes (one item per document), so the parser is
 * a single forward scan that builds nothing: it validates the JSON it walks,
 * reads the few fields that matter (status, _id, _index, error type and
 * reason) as slices of the body, and skips everything else. `"errors":false`
 * ends the scan at once, which is what nearly every response says. */
#include "sinks/es_bulk.h"

#include <string.h>

#include "pipeline/json.h"
#include "pipeline/utf8.h"

const char *const es_action_names[] = {"index", "create", NULL};

#define PUT_LIT(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

/* ---- requests ---------------------------------------------------------- */

int es_bulk_write_action(buf *out, es_action action, const char *index, size_t index_len,
                         const char *id, size_t id_len)
{
    if (buf_append_char(out, '{') < 0 || json_encode_string(out, es_action_names[action],
                                                             strlen(es_action_names[action])) < 0)
        return -1;
    if (PUT_LIT(out, ":{\"_index\":") < 0 || json_encode_string(out, index, index_len) < 0)
        return -1;
    if (id && (PUT_LIT(out, ",\"_id\":") < 0 || json_encode_string(out, id, id_len) < 0))
        return -1;
    return PUT_LIT(out, "}}\n");
}

bool es_bulk_id_of(const value *v, buf *out)
{
    if (v->kind == VALUE_BYTES)
        return buf_append(out, v->u.s, v->len) == 0;
    if (v->kind == VALUE_INT)
        return buf_printf(out, "%lld", (long long)v->u.i) == 0;
    return false;
}

static bool has_edits(const es_doc_edits *ed)
{
    return ed && ((ed->remove && ed->remove->n > 0) || ed->rename_timestamp ||
                  ed->data_stream[0] || ed->data_stream[1] || ed->data_stream[2]);
}

/* Takes the field at segs[0..n) out of m, a map of the document's own,
 * copying the maps below it that must change. Paths are keys only (the
 * sink refuses array indices in id_key). */
static int remove_field(arena *a, value_map *m, const path_segment *segs, size_t n)
{
    if (n == 1) {
        value_map_del(m, segs[0].key, segs[0].klen);
        return 0;
    }
    value *child = value_map_get(m, segs[0].key, segs[0].klen);
    if (!child || child->kind != VALUE_MAP)
        return 0;
    value_map *c = value_map_copy_entries(a, child->u.map, 0);
    if (!c)
        return -1;
    child->u.map = c;
    return remove_field(a, c, segs + 1, n - 1);
}

/* Vector's sync_fields: data_stream.{type,dataset,namespace} added where
 * missing. A data_stream that is not a map is left alone. */
static int sync_data_stream(arena *a, value_map *root, const char *const names[3])
{
    static const char *const keys[3] = {"type", "dataset", "namespace"};
    value *ds = value_map_get(root, "data_stream", 11);
    value_map *m;
    if (!ds) {
        ds = value_map_put(a, root, "data_stream", 11);
        m = ds ? value_map_new(a, 3) : NULL;
    } else if (ds->kind == VALUE_MAP) {
        m = value_map_copy_entries(a, ds->u.map, 3);
    } else {
        return 0;
    }
    if (!m)
        return -1;
    ds->kind = VALUE_MAP;
    ds->u.map = m;
    for (int i = 0; i < 3; i++)
        if (names[i] &&
            value_map_put_if_absent(a, m, keys[i], value_bytes(names[i], strlen(names[i]))) < 0)
            return -1;
    return 0;
}

/* Vector's remap_timestamp: `timestamp` renamed to `@timestamp`, the
 * Elastic Common Schema name data streams require. */
static int rename_timestamp(arena *a, value_map *root)
{
    value *ts = value_map_get(root, EVENT_FIELD_TIMESTAMP, sizeof(EVENT_FIELD_TIMESTAMP) - 1);
    if (!ts)
        return 0;
    value saved = *ts;
    value_map_del(root, EVENT_FIELD_TIMESTAMP, sizeof(EVENT_FIELD_TIMESTAMP) - 1);
    value *slot = value_map_put(a, root, "@timestamp", 10);
    if (!slot)
        return -1;
    *slot = saved;
    return 0;
}

/* In Vector's order: data stream fields, timestamp, then the id. */
static int edit_log(const value_map *log, const es_doc_edits *ed, arena *a, value *doc)
{
    value_map *root = value_map_copy_entries(a, log, 2);
    if (!root)
        return -1;
    if ((ed->data_stream[0] || ed->data_stream[1] || ed->data_stream[2]) &&
        sync_data_stream(a, root, ed->data_stream) < 0)
        return -1;
    if (ed->rename_timestamp && rename_timestamp(a, root) < 0)
        return -1;
    if (ed->remove && ed->remove->n > 0 &&
        remove_field(a, root, ed->remove->segs, ed->remove->n) < 0)
        return -1;
    doc->kind = VALUE_MAP;
    doc->u.map = root;
    return 0;
}

int es_bulk_write_document(buf *out, const event *e, const es_doc_edits *ed, arena *scratch)
{
    if (e->type != EVENT_LOG || e->u.log.kind != VALUE_MAP || !has_edits(ed)) {
        if (json_encode_event(out, e) < 0)
            return -1;
    } else {
        value doc;
        if (edit_log(e->u.log.u.map, ed, scratch, &doc) < 0 || json_encode_value(out, &doc) < 0)
            return -1;
    }
    return buf_append_char(out, '\n');
}

/* ---- responses: scanning ----------------------------------------------- */

/* Deeper than this is not a bulk response: refused rather than recursed. */
#define MAX_DEPTH 128

typedef struct scan {
    const char *p, *end;
} scan;

static void skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* Consumes c (after whitespace) when it is next. */
static bool eat(scan *s, char c)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

static bool next_is(scan *s, char c)
{
    skip_ws(s);
    return s->p < s->end && *s->p == c;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A JSON string: out gets its contents between the quotes, unescaped. */
static int scan_string(scan *s, es_slice *out)
{
    if (!eat(s, '"'))
        return -1;
    const char *start = s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            out->p = start;
            out->n = (size_t)(s->p - start);
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            s->p++;
            continue;
        }
        if (s->end - s->p < 2)
            return -1;
        char e = s->p[1];
        if (e == 'u') {
            if (s->end - s->p < 6 || !is_hex(s->p[2]) || !is_hex(s->p[3]) || !is_hex(s->p[4]) ||
                !is_hex(s->p[5]))
                return -1;
            s->p += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                   e == 'r' || e == 't') {
            s->p += 2;
        } else {
            return -1;
        }
    }
    return -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A JSON number; *integer tells whether it had neither fraction nor
 * exponent, and *val holds it then (saturated far above any status). */
static int scan_number(scan *s, bool *integer, int64_t *val)
{
    skip_ws(s);
    bool negative = s->p < s->end && *s->p == '-';
    if (negative)
        s->p++;
    if (s->p >= s->end || !is_digit(*s->p))
        return -1;
    int64_t v = 0;
    if (*s->p == '0') {
        s->p++;
    } else {
        while (s->p < s->end && is_digit(*s->p)) {
            if (v < 1000000000)
                v = v * 10 + (*s->p - '0');
            s->p++;
        }
    }
    *integer = true;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return -1;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
        *integer = false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return -1;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
        *integer = false;
    }
    *val = negative ? -v : v;
    return 0;
}

static bool scan_literal(scan *s, const char *lit, size_t n)
{
    skip_ws(s);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

static int skip_value(scan *s, int depth);

/* The members of an object whose `{` was consumed, each handed to member()
 * with the scanner on its value; member() must consume that value. */
typedef int (*member_fn)(scan *s, es_slice key, void *ud, int depth);

static int scan_members(scan *s, member_fn member, void *ud, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    if (eat(s, '}'))
        return 0;
    for (;;) {
        es_slice key;
        if (scan_string(s, &key) < 0 || !eat(s, ':') || member(s, key, ud, depth) < 0)
            return -1;
        if (eat(s, ','))
            continue;
        return eat(s, '}') ? 0 : -1;
    }
}

static int skip_member(scan *s, es_slice key, void *ud, int depth)
{
    SL_UNUSED(key);
    SL_UNUSED(ud);
    return skip_value(s, depth + 1);
}

static int skip_array(scan *s, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    if (eat(s, ']'))
        return 0;
    for (;;) {
        if (skip_value(s, depth + 1) < 0)
            return -1;
        if (eat(s, ','))
            continue;
        return eat(s, ']') ? 0 : -1;
    }
}

static int skip_value(scan *s, int depth)
{
    skip_ws(s);
    if (s->p >= s->end)
        return -1;
    es_slice str;
    bool integer;
    int64_t num;
    switch (*s->p) {
    case '{':
        s->p++;
        return scan_members(s, skip_member, NULL, depth);
    case '[':
        s->p++;
        return skip_array(s, depth);
    case '"':
        return scan_string(s, &str);
    case 't':
        return scan_literal(s, "true", 4) ? 0 : -1;
    case 'f':
        return scan_literal(s, "false", 5) ? 0 : -1;
    case 'n':
        return scan_literal(s, "null", 4) ? 0 : -1;
    default:
        return scan_number(s, &integer, &num);
    }
}

static bool key_is(es_slice key, const char *name)
{
    size_t n = strlen(name);
    return key.n == n && memcmp(key.p, name, n) == 0;
}

/* A string member's value into *out; any other value is skipped, leaving
 * *out as it was. */
static int string_or_skip(scan *s, es_slice *out, int depth)
{
    if (next_is(s, '"'))
        return scan_string(s, out);
    return skip_value(s, depth + 1);
}

/* ---- responses: items -------------------------------------------------- */

static const es_slice EMPTY = {"", 0};

static int error_member(scan *s, es_slice key, void *ud, int depth)
{
    es_bulk_item *it = ud;
    if (key_is(key, "type"))
        return string_or_skip(s, &it->type, depth);
    if (key_is(key, "reason"))
        return string_or_skip(s, &it->reason, depth);
    return skip_value(s, depth + 1);
}

/* `error` is an object {type, reason, ...} (a bare string in old
 * versions); null means none. */
static int scan_error(scan *s, es_bulk_item *it, int depth)
{
    if (scan_literal(s, "null", 4)) {
        it->error = false;
        it->type = it->reason = EMPTY;
        return 0;
    }
    it->error = true;
    it->type = it->reason = EMPTY;
    if (next_is(s, '"'))
        return scan_string(s, &it->reason);
    if (eat(s, '{'))
        return scan_members(s, error_member, it, depth + 1);
    return skip_value(s, depth + 1);
}

static int status_member(scan *s, es_bulk_item *it, int depth)
{
    skip_ws(s);
    if (s->p < s->end && (*s->p == '-' || is_digit(*s->p))) {
        bool integer;
        int64_t v;
        if (scan_number(s, &integer, &v) < 0)
            return -1;
        it->status = integer && v >= 100 && v <= 999 ? (int)v : 0;
        return 0;
    }
    it->status = 0;
    return skip_value(s, depth + 1);
}

static int result_member(scan *s, es_slice key, void *ud, int depth)
{
    es_bulk_item *it = ud;
    if (key_is(key, "status"))
        return status_member(s, it, depth);
    if (key_is(key, "_id"))
        return string_or_skip(s, &it->id, depth);
    if (key_is(key, "_index"))
        return string_or_skip(s, &it->index, depth);
    if (key_is(key, "error"))
        return scan_error(s, it, depth);
    return skip_value(s, depth + 1);
}

/* One item: {"<action>":{status, _id, error...}}; the action's result must
 * be an object, other members after it are skipped. */
static int scan_item(scan *s, es_bulk_item *it, int depth)
{
    es_slice action;
    if (!eat(s, '{') || scan_string(s, &action) < 0 || !eat(s, ':') || !eat(s, '{'))
        return -1;
    it->create = key_is(action, "create");
    if (scan_members(s, result_member, it, depth + 2) < 0)
        return -1;
    if (eat(s, '}'))
        return 0;
    if (!eat(s, ','))
        return -1;
    return scan_members(s, skip_member, NULL, depth + 1) == 0 ? 0 : -1;
}

static http_item verdict_of(const es_bulk_item *it)
{
    int st = it->status;
    if (st == 0)
        return it->error ? HTTP_ITEM_REJECTED : HTTP_ITEM_DELIVERED;
    if (st >= 200 && st < 300)
        return HTTP_ITEM_DELIVERED;
    if (st == 409 && it->create)
        return HTTP_ITEM_DELIVERED;
    if (st == 429 || st >= 500)
        return HTTP_ITEM_RETRY;
    return HTTP_ITEM_REJECTED;
}

typedef struct items_scan {
    size_t n;
    uint8_t *items;
    es_bulk_failure_fn on_failure;
    void *ctx;
    size_t count;
} items_scan;

static int scan_items(scan *s, items_scan *is)
{
    is->count = 0;
    if (!eat(s, '['))
        return -1;
    if (eat(s, ']'))
        return 0;
    for (;;) {
        es_bulk_item it = {0};
        it.id = it.index = it.type = it.reason = EMPTY;
        if (scan_item(s, &it, 2) < 0)
            return -1;
        it.pos = is->count++;
        http_item v = verdict_of(&it);
        if (it.pos < is->n) {
            is->items[it.pos] = (uint8_t)v;
            if (v != HTTP_ITEM_DELIVERED && is->on_failure)
                is->on_failure(is->ctx, &it, v);
        }
        if (eat(s, ','))
            continue;
        return eat(s, ']') ? 0 : -1;
    }
}

es_bulk_result es_bulk_parse(const char *body, size_t len, size_t n, uint8_t *items,
                             es_bulk_failure_fn on_failure, void *ctx, const char **why)
{
    scan s = {body, body + len};
    items_scan is = {n, items, on_failure, ctx, 0};
    bool seen_items = false;
    *why = "the body is not a JSON object";
    if (!eat(&s, '{'))
        return ES_BULK_MALFORMED;
    *why = "the body is not valid JSON";
    if (!eat(&s, '}')) {
        for (;;) {
            es_slice key;
            if (scan_string(&s, &key) < 0 || !eat(&s, ':'))
                return ES_BULK_MALFORMED;
            if (key_is(key, "errors") && scan_literal(&s, "false", 5)) {
                if (next_is(&s, ',') || next_is(&s, '}'))
                    return ES_BULK_ALL_OK;
                return ES_BULK_MALFORMED;
            }
            if (key_is(key, "items")) {
                /* twice would report failures of items that are not the answer */
                if (seen_items || scan_items(&s, &is) < 0)
                    return ES_BULK_MALFORMED;
                seen_items = true;
            } else if (skip_value(&s, 1) < 0) {
                return ES_BULK_MALFORMED;
            }
            if (eat(&s, ','))
                continue;
            if (eat(&s, '}'))
                break;
            return ES_BULK_MALFORMED;
        }
    }
    skip_ws(&s);
    if (s.p != s.end)
        return ES_BULK_MALFORMED;
    *why = "the response has no items";
    if (!seen_items)
        return ES_BULK_MALFORMED;
    *why = "the response has not one item per document";
    if (is.count != n)
        return ES_BULK_MALFORMED;
    return ES_BULK_ITEMS;
}

/* ---- unescaping -------------------------------------------------------- */

static int put_utf8(buf *out, uint32_t cp)
{
    char u[4];
    return buf_append(out, u, utf8_encode(cp, u));
}

int es_bulk_unescape(buf *out, es_slice s)
{
    if (buf_reserve(out, s.n) < 0)
        return -1;
    size_t i = 0;
    while (i < s.n) {
        const char *bs = memchr(s.p + i, '\\', s.n - i);
        size_t plain = bs ? (size_t)(bs - (s.p + i)) : s.n - i;
        if (buf_append(out, s.p + i, plain) < 0)
            return -1;
        i += plain;
        if (i >= s.n)
            break;
        char e = i + 1 < s.n ? s.p[i + 1] : '\0';
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *k = e ? strchr(from, e) : NULL;
        uint32_t cp;
        size_t used;
        int rc;
        if (k) {
            rc = buf_append_char(out, to[k - from]);
            used = 2;
        } else if (e == 'u' &&
                   (used = utf8_json_escape((const unsigned char *)s.p + i + 1, s.n - i - 1,
                                            &cp)) > 0) {
            rc = put_utf8(out, utf8_is_surrogate(cp) ? UTF8_REPLACEMENT : cp);
            used++;
        } else {
            rc = buf_append_char(out, '\\');
            used = 1;
        }
        if (rc < 0)
            return -1;
        i += used;
    }
    return 0;
}
