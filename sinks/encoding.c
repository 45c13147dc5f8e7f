/* encoding.c - the json, text and logfmt codecs of the console and file
 * sinks (see encoding.h), byte for byte as Vector writes them.
 *
 *   text    a log's `message` as Vector's coerce_to_bytes gives it (bytes as
 *           they are, other values as text, maps and arrays as JSON, null as
 *           `<null>`); a metric in the form of Vector's Display for Metric.
 *   logfmt  Vector's encode_logfmt: fields flattened to `a.b` and `a.0`
 *           keys in byte order, true as a bare key, false left out, values
 *           and keys quoted when they hold whitespace, `"` or `=`.
 *
 * Vector refuses logfmt for metrics at config time; here a metric given to
 * logfmt is written in its text form rather than lost. */
#include "sinks/encoding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "pipeline/sltime.h"
#include "pipeline/utf8.h"

const char *const encoding_codec_names[] = {"json", "text", "logfmt", NULL};
const opt_enum_value encoding_codec_values[] = {
    {"json", ENCODING_JSON},
    {"text", ENCODING_TEXT},
    {"logfmt", ENCODING_LOGFMT},
    {NULL, 0},
};

#define PUT_LIT(b, lit) buf_append((b), (lit), sizeof(lit) - 1)

static int put_uint(buf *b, uint64_t u)
{
    return buf_printf(b, "%llu", (unsigned long long)u);
}

static int put_timestamp_text(buf *b, int64_t ns)
{
    char ts[SLTIME_RFC3339_MAX];
    size_t n = sltime_format_rfc3339(ts, ns);
    return buf_append(b, ts, n);
}

/* ---- text: logs -------------------------------------------------------- */

static int put_message_text(buf *b, const value *v)
{
    return json_append_text(b, v, false, "<null>");
}

static int write_log_text(buf *out, const event *e)
{
    const value *msg = event_log_get(e, EVENT_FIELD_MESSAGE);
    if (!msg)
        return buf_reserve(out, 0);
    return put_message_text(out, msg);
}

/* ---- text: metrics ----------------------------------------------------- */

static int put_code_point(buf *b, uint32_t cp)
{
    char u[4];
    return buf_append(b, u, utf8_encode(cp, u));
}

/* Rust's `{:?}` for a str: quoted, with \" \\ \t \r \n \0 and \u{..} for
 * other control characters. Rust also escapes a few non-printable
 * characters outside the control ranges; those are written raw here. */
static int put_debug_string(buf *b, const char *str)
{
    size_t n = strlen(str);
    if (buf_append_char(b, '"') < 0)
        return -1;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += utf8_next(str + i, n - i, &cp);
        int rc;
        switch (cp) {
        case '"': rc = PUT_LIT(b, "\\\""); break;
        case '\\': rc = PUT_LIT(b, "\\\\"); break;
        case '\t': rc = PUT_LIT(b, "\\t"); break;
        case '\r': rc = PUT_LIT(b, "\\r"); break;
        case '\n': rc = PUT_LIT(b, "\\n"); break;
        case '\0': rc = PUT_LIT(b, "\\0"); break;
        default:
            if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
                rc = buf_printf(b, "\\u{%x}", (unsigned)cp);
            else
                rc = put_code_point(b, cp);
            break;
        }
        if (rc < 0)
            return -1;
    }
    return buf_append_char(b, '"');
}

static bool is_plain_word(const char *w)
{
    for (const char *p = w; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Vector's write_word: bare when only [A-Za-z0-9_], else Debug-quoted. */
static int put_word(buf *b, const char *w)
{
    return is_plain_word(w) ? buf_append_str(b, w) : put_debug_string(b, w);
}

static int put_series(buf *b, const metric *m)
{
    if (m->namespace_ && (put_word(b, m->namespace_) < 0 || buf_append_char(b, '_') < 0))
        return -1;
    if (put_word(b, m->name) < 0 || buf_append_char(b, '{') < 0)
        return -1;
    for (uint32_t i = 0; i < m->ntags; i++) {
        if (i && buf_append_char(b, ',') < 0)
            return -1;
        if (put_word(b, m->tags[i].key) < 0)
            return -1;
        if (m->tags[i].value &&
            (buf_append_char(b, '=') < 0 || put_debug_string(b, m->tags[i].value) < 0))
            return -1;
    }
    return buf_append_char(b, '}');
}

/* Set values in BTreeSet order: sorted, each once. */
static int put_set_words(buf *b, const metric *m)
{
    uint32_t n = m->v.set.n;
    if (n == 0)
        return 0;
    const char **sorted = malloc((size_t)n * sizeof(*sorted));
    if (!sorted)
        return -1;
    memcpy(sorted, m->v.set.values, (size_t)n * sizeof(*sorted));
    n = metric_set_sort_unique(sorted, n);
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (i)
            rc = buf_append_char(b, ' ');
        if (rc == 0)
            rc = put_word(b, sorted[i]);
    }
    free(sorted);
    return rc;
}

/* `X@Y` with X an unsigned count and Y a float, space separated. */
static int put_count_at(buf *b, bool first, uint64_t x, double y)
{
    if (!first && buf_append_char(b, ' ') < 0)
        return -1;
    if (put_uint(b, x) < 0 || buf_append_char(b, '@') < 0)
        return -1;
    return json_append_float_display(b, y);
}

static int put_count_sum(buf *b, uint64_t count, double sum)
{
    if (PUT_LIT(b, "count=") < 0 || put_uint(b, count) < 0 || PUT_LIT(b, " sum=") < 0)
        return -1;
    if (json_append_float_display(b, sum) < 0)
        return -1;
    return buf_append_char(b, ' ');
}

static int put_metric_data(buf *b, const metric *m)
{
    switch (m->type) {
    case METRIC_COUNTER:
    case METRIC_GAUGE:
        return json_append_float_display(b, m->v.counter);
    case METRIC_SET:
        return put_set_words(b, m);
    case METRIC_DISTRIBUTION:
        if (m->v.dist.statistic == METRIC_STAT_SUMMARY ? PUT_LIT(b, "summary ") < 0
                                                       : PUT_LIT(b, "histogram ") < 0)
            return -1;
        for (uint32_t i = 0; i < m->v.dist.n; i++)
            if (put_count_at(b, i == 0, m->v.dist.samples[i].rate, m->v.dist.samples[i].value) < 0)
                return -1;
        return 0;
    case METRIC_AGGREGATED_HISTOGRAM:
        if (put_count_sum(b, m->v.hist.count, m->v.hist.sum) < 0)
            return -1;
        for (uint32_t i = 0; i < m->v.hist.n; i++)
            if (put_count_at(b, i == 0, m->v.hist.buckets[i].count,
                             m->v.hist.buckets[i].upper_limit) < 0)
                return -1;
        return 0;
    case METRIC_AGGREGATED_SUMMARY:
        if (put_count_sum(b, m->v.summary.count, m->v.summary.sum) < 0)
            return -1;
        for (uint32_t i = 0; i < m->v.summary.n; i++) {
            const metric_quantile *q = &m->v.summary.quantiles[i];
            if ((i && buf_append_char(b, ' ') < 0) || json_append_float_display(b, q->quantile) < 0 ||
                buf_append_char(b, '@') < 0 || json_append_float_display(b, q->value) < 0)
                return -1;
        }
        return 0;
    default:
        return 0;
    }
}

/* `TIMESTAMP NAMESPACE_NAME{TAGS} KIND DATA`, KIND `=` absolute, `+`
 * incremental. */
static int write_metric_text(buf *out, const metric *m)
{
    if (m->has_timestamp && (put_timestamp_text(out, m->timestamp) < 0 || buf_append_char(out, ' ') < 0))
        return -1;
    if (put_series(out, m) < 0)
        return -1;
    if ((m->kind == METRIC_ABSOLUTE ? PUT_LIT(out, " = ") : PUT_LIT(out, " + ")) < 0)
        return -1;
    return put_metric_data(out, m);
}

/* ---- logfmt ------------------------------------------------------------ */

typedef struct logfmt_leaf {
    size_t key_off, key_len;   /* into the key buffer, which may move */
    const char *key;           /* set once the buffer is complete */
    size_t seq;                /* flattening order, for a stable sort */
    const value *val;
} logfmt_leaf;

typedef struct logfmt_state {
    buf keys;
    logfmt_leaf *leaves;
    size_t n, cap;
} logfmt_state;

static int add_leaf(logfmt_state *st, size_t key_off, const value *v)
{
    if (SL_GROW(st->leaves, st->n, st->cap, 16) < 0)
        return -1;
    logfmt_leaf *leaf = &st->leaves[st->n];
    leaf->key_off = key_off;
    leaf->key_len = st->keys.len - key_off;
    leaf->key = NULL;
    leaf->seq = st->n++;
    leaf->val = v;
    return 0;
}

/* Each leaf's key is written whole into the key buffer: the prefix is copied
 * from its earlier position, then the child name appended. */
static int flatten_value(logfmt_state *st, size_t prefix_off, size_t prefix_len, const value *v);

static int flatten_child(logfmt_state *st, size_t prefix_off, size_t prefix_len,
                         const char *name, size_t name_len, const value *v)
{
    size_t off = st->keys.len;
    if (buf_reserve(&st->keys, prefix_len + 1 + name_len) < 0)
        return -1;
    if (prefix_len) {
        memcpy(st->keys.data + st->keys.len, st->keys.data + prefix_off, prefix_len);
        st->keys.len += prefix_len;
        st->keys.data[st->keys.len++] = '.';
    }
    if (buf_append(&st->keys, name, name_len) < 0)
        return -1;
    return flatten_value(st, off, st->keys.len - off, v);
}

static int flatten_value(logfmt_state *st, size_t prefix_off, size_t prefix_len, const value *v)
{
    if (v->kind == VALUE_MAP) {
        const value_map *m = v->u.map;
        for (uint32_t i = 0; i < m->len; i++)
            if (flatten_child(st, prefix_off, prefix_len, m->entries[i].key, m->entries[i].klen,
                              &m->entries[i].val) < 0)
                return -1;
        return 0;
    }
    if (v->kind == VALUE_ARRAY) {
        const value_array *arr = v->u.arr;
        for (uint32_t i = 0; i < arr->len; i++) {
            char idx[16];
            int n = snprintf(idx, sizeof(idx), "%u", (unsigned)i);
            if (flatten_child(st, prefix_off, prefix_len, idx, (size_t)n, &arr->items[i]) < 0)
                return -1;
        }
        return 0;
    }
    return add_leaf(st, prefix_off, v);
}

static int compare_keys(const logfmt_leaf *x, const logfmt_leaf *y)
{
    return value_key_compare(x->key, x->key_len, y->key, y->key_len);
}

/* Byte order of the flattened keys; equal keys keep their flattening order
 * so that the later one wins, as Vector's BTreeMap insert does. */
static int compare_leaves(const void *a, const void *b)
{
    const logfmt_leaf *x = a, *y = b;
    int c = compare_keys(x, y);
    if (c)
        return c;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void sort_leaves(logfmt_state *st)
{
    for (size_t i = 0; i < st->n; i++)
        st->leaves[i].key = st->keys.data + st->leaves[i].key_off;
    if (st->n > 1)
        qsort(st->leaves, st->n, sizeof(*st->leaves), compare_leaves);
}

/* Unicode White_Space, Rust's char::is_whitespace. */
static bool is_unicode_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Vector's encode_string: quoted when the text holds whitespace, `"` or
 * `=`; `\` and `"` escaped, a newline written as `\\n`. The text arrives as
 * bytes and is read lossily, as Vector's String::from_utf8_lossy does. */
static int put_logfmt_string(buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    bool quote = false;
    for (size_t i = 0; i < n && !quote;) {
        uint32_t cp;
        i += utf8_next(str + i, n - i, &cp);
        quote = is_unicode_space(cp) || cp == '"' || cp == '=';
    }
    if (quote && buf_append_char(b, '"') < 0)
        return -1;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_next(str + i, n - i, &cp);
        int rc;
        if (cp == '\\')
            rc = PUT_LIT(b, "\\\\");
        else if (cp == '"')
            rc = PUT_LIT(b, "\\\"");
        else if (cp == '\n')
            rc = PUT_LIT(b, "\\\\n");
        else if (cp == 0xFFFD)
            rc = put_code_point(b, cp);
        else
            rc = buf_append(b, s + i, k);
        if (rc < 0)
            return -1;
        i += k;
    }
    return quote ? buf_append_char(b, '"') : 0;
}

/* The leaf as Vector's key-value Data Display writes it. */
static int put_leaf_text(buf *tmp, const value *v)
{
    return json_append_text(tmp, v, false, "null");
}

static int put_leaves(buf *out, logfmt_state *st)
{
    buf tmp = BUF_INIT;
    bool first = true;
    int rc = 0;
    for (size_t i = 0; i < st->n && rc == 0; i++) {
        const logfmt_leaf *l = &st->leaves[i];
        if (i + 1 < st->n && compare_keys(l, &st->leaves[i + 1]) == 0)
            continue;
        if (l->val->kind == VALUE_BOOL && !l->val->u.b)
            continue;
        if (!first && buf_append_char(out, ' ') < 0)
            rc = -1;
        first = false;
        if (rc == 0)
            rc = put_logfmt_string(out, l->key, l->key_len);
        if (rc == 0 && l->val->kind == VALUE_BOOL)
            continue;
        buf_reset(&tmp);
        if (rc == 0)
            rc = buf_append_char(out, '=');
        if (rc == 0)
            rc = put_leaf_text(&tmp, l->val);
        if (rc == 0)
            rc = put_logfmt_string(out, tmp.data ? tmp.data : "", tmp.len);
    }
    buf_free(&tmp);
    return rc;
}

static int write_logfmt(buf *out, const event *e)
{
    logfmt_state st = {BUF_INIT, NULL, 0, 0};
    int rc = flatten_value(&st, 0, 0, &e->u.log);
    if (rc == 0) {
        sort_leaves(&st);
        rc = put_leaves(out, &st);
    }
    buf_free(&st.keys);
    free(st.leaves);
    if (rc == 0)
        rc = buf_reserve(out, 0);
    return rc;
}

int encoding_write_event(buf *out, encoding_codec codec, const event *e)
{
    switch (codec) {
    case ENCODING_JSON:
        return json_encode_event(out, e);
    case ENCODING_TEXT:
        if (e->type == EVENT_METRIC)
            return write_metric_text(out, e->u.metric);
        return write_log_text(out, e);
    case ENCODING_LOGFMT:
        if (e->type == EVENT_METRIC)
            return write_metric_text(out, e->u.metric);
        return write_logfmt(out, e);
    default:
        return -1;
    }
}
