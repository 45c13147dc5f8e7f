/* json_encode.c - values, events and strings as JSON (see json.h).
 *
 * Output follows serde_json, which is what Vector writes: only `"`, `\` and
 * control characters are escaped (\n \t \r \b \f, else \u00XX in lower-case
 * hex), `/` and non-ASCII are written raw, invalid UTF-8 becomes U+FFFD per
 * maximal invalid subpart (Rust's from_utf8_lossy), floats use ryu's shortest
 * round-trip form (json_number.c), timestamps chrono's RFC 3339 with AutoSi
 * fractions. */
#include "pipeline/json_internal.h"
#include "pipeline/sltime.h"

#include <stdlib.h>
#include <string.h>

static const char replacement_char[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

/* ---- strings ----------------------------------------------------------- */

static const char hex_digits[] = "0123456789abcdef";

/* Writes the escape for ASCII byte c (a control, `"` or `\`). Room for six
 * bytes must be there. */
static void put_escape(buf *b, unsigned char c)
{
    char *d = b->data + b->len;
    d[0] = '\\';
    switch (c) {
    case '"': d[1] = '"'; b->len += 2; return;
    case '\\': d[1] = '\\'; b->len += 2; return;
    case '\n': d[1] = 'n'; b->len += 2; return;
    case '\t': d[1] = 't'; b->len += 2; return;
    case '\r': d[1] = 'r'; b->len += 2; return;
    case '\b': d[1] = 'b'; b->len += 2; return;
    case '\f': d[1] = 'f'; b->len += 2; return;
    default:
        memcpy(d + 1, "u00", 3);
        d[4] = hex_digits[c >> 4];
        d[5] = hex_digits[c & 15];
        b->len += 6;
        return;
    }
}

/* Handles the byte at s[i] that needs work; returns how many input bytes it
 * consumed. Room for six bytes must be there. */
static size_t put_special(buf *b, const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    if (c < 0x80) {
        put_escape(b, c);
        return 1;
    }
    size_t bad;
    size_t k = utf8_sequence(s + i, n - i, &bad);
    if (k) {
        put_unchecked(b, s + i, k);
        return k;
    }
    put_unchecked(b, replacement_char, sizeof(replacement_char));
    return bad;
}

/* The string in quotes. Plain bytes never grow, so the room reserved at the
 * start (the input plus a margin for one block overrun and the closing
 * quote) lasts until an escape or replacement, which can grow by five
 * bytes; only then is the room checked again. */
static int put_string(buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (ensure(b, n + 34) < 0)
        return -1;
    char *d = b->data + b->len;
    *d++ = '"';
    size_t i = 0;
    for (;;) {
        size_t rem = n - i;
        unsigned k;
        if (rem >= 16) {
            memcpy(d, s + i, 16);
            k = plain_prefix16(s + i);
        } else {
            copy_short(d, s + i, rem);
            k = plain_prefix_short(s + i, rem);
        }
        d += k;
        i += k;
        if (k == 16)
            continue;
        if (i == n)
            break;
        b->len = (size_t)(d - b->data);
        if (ensure(b, (n - i) + 34) < 0)
            return -1;
        i += put_special(b, s, i, n);
        d = b->data + b->len;
    }
    *d++ = '"';
    b->len = (size_t)(d - b->data);
    return 0;
}

int json_encode_string(buf *out, const char *s, size_t n)
{
    return terminate(out, put_string(out, s, n));
}

int json_append_utf8_lossy(buf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        size_t run = 0;
        while (i + run < n && s[i + run] < 0x80)
            run++;
        if (run && put(out, s + i, run) < 0)
            return terminate(out, -1);
        i += run;
        if (i == n)
            break;
        size_t bad;
        size_t k = utf8_sequence(s + i, n - i, &bad);
        int rc = k ? put(out, s + i, k) : put(out, replacement_char, sizeof(replacement_char));
        if (rc < 0)
            return terminate(out, -1);
        i += k ? k : bad;
    }
    return terminate(out, ensure(out, 0));
}

/* ---- values ------------------------------------------------------------ */

static int put_value(buf *b, const value *v);

static int put_int(buf *b, int64_t i)
{
    if (ensure(b, 20) < 0)
        return -1;
    b->len += format_i64(b->data + b->len, i);
    return 0;
}

static int put_uint(buf *b, uint64_t u)
{
    if (ensure(b, 20) < 0)
        return -1;
    b->len += format_u64(b->data + b->len, u);
    return 0;
}

static int put_float(buf *b, double f)
{
    if (ensure(b, JSON_FLOAT_MAX) < 0)
        return -1;
    b->len += json_format_float(b->data + b->len, f);
    return 0;
}

static int put_timestamp(buf *b, int64_t ns)
{
    if (ensure(b, SLTIME_RFC3339_MAX + 2) < 0)
        return -1;
    b->data[b->len++] = '"';
    b->len += sltime_format_rfc3339(b->data + b->len, ns);
    b->data[b->len++] = '"';
    return 0;
}

static int put_map(buf *b, const value_map *m)
{
    if (put_char(b, '{') < 0)
        return -1;
    for (uint32_t i = 0; i < m->len; i++) {
        const value_entry *e = &m->entries[i];
        if (i && put_char(b, ',') < 0)
            return -1;
        if (put_string(b, e->key, e->klen) < 0 || put_char(b, ':') < 0)
            return -1;
        if (put_value(b, &e->val) < 0)
            return -1;
    }
    return put_char(b, '}');
}

static int put_array(buf *b, const value_array *arr)
{
    if (put_char(b, '[') < 0)
        return -1;
    for (uint32_t i = 0; i < arr->len; i++) {
        if (i && put_char(b, ',') < 0)
            return -1;
        if (put_value(b, &arr->items[i]) < 0)
            return -1;
    }
    return put_char(b, ']');
}

static int put_value(buf *b, const value *v)
{
    switch (v->kind) {
    case VALUE_NULL:
        return PUT_LIT(b, "null");
    case VALUE_BOOL:
        return v->u.b ? PUT_LIT(b, "true") : PUT_LIT(b, "false");
    case VALUE_INT:
        return put_int(b, v->u.i);
    case VALUE_FLOAT:
        return put_float(b, v->u.f);
    case VALUE_BYTES:
        return put_string(b, v->u.s, v->len);
    case VALUE_TIMESTAMP:
        return put_timestamp(b, v->u.ts);
    case VALUE_ARRAY:
        return put_array(b, v->u.arr);
    case VALUE_MAP:
        return put_map(b, v->u.map);
    default:
        return PUT_LIT(b, "null");
    }
}

int json_append_text(buf *out, const value *v, bool lossy, const char *null_text)
{
    switch (v->kind) {
    case VALUE_BYTES:
        return lossy ? json_append_utf8_lossy(out, v->u.s, v->len)
                     : buf_append(out, v->u.s, v->len);
    case VALUE_INT:
        return terminate(out, put_int(out, v->u.i));
    case VALUE_FLOAT:
        return json_append_float_display(out, v->u.f);
    case VALUE_BOOL:
        return buf_append_str(out, v->u.b ? "true" : "false");
    case VALUE_TIMESTAMP:
        if (ensure(out, SLTIME_RFC3339_MAX) < 0)
            return terminate(out, -1);
        out->len += sltime_format_rfc3339(out->data + out->len, v->u.ts);
        return terminate(out, 0);
    case VALUE_MAP:
    case VALUE_ARRAY:
        return json_encode_value(out, v);
    default:
        return buf_append_str(out, null_text);
    }
}

int json_encode_value(buf *out, const value *v)
{
    return terminate(out, put_value(out, v));
}

/* ---- metrics in Vector's native JSON shape ----------------------------- */

static int put_cstring(buf *b, const char *s)
{
    return put_string(b, s, strlen(s));
}

/* `"key":` preceded by a comma unless it opens the object. */
static int put_key(buf *b, const char *key, bool first)
{
    if (!first && put_char(b, ',') < 0)
        return -1;
    if (put_cstring(b, key) < 0)
        return -1;
    return put_char(b, ':');
}

static int put_tags(buf *b, const metric *m)
{
    if (put_char(b, '{') < 0)
        return -1;
    for (uint32_t i = 0; i < m->ntags; i++) {
        if (put_key(b, m->tags[i].key, i == 0) < 0)
            return -1;
        int rc = m->tags[i].value ? put_cstring(b, m->tags[i].value) : PUT_LIT(b, "null");
        if (rc < 0)
            return -1;
    }
    return put_char(b, '}');
}

/* Vector keeps set values in a BTreeSet: sorted and unique. */
static int put_set_values(buf *b, const metric *m)
{
    uint32_t n = m->v.set.n;
    const char *small[64];
    const char **sorted = small;
    if (n > SL_ARRAY_LEN(small)) {
        sorted = malloc((size_t)n * sizeof(*sorted));
        if (!sorted)
            return -1;
    }
    if (n)
        memcpy(sorted, m->v.set.values, (size_t)n * sizeof(*sorted));
    n = metric_set_sort_unique(sorted, n);
    int rc = put_char(b, '[');
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (i)
            rc = put_char(b, ',');
        if (rc == 0)
            rc = put_cstring(b, sorted[i]);
    }
    if (rc == 0)
        rc = put_char(b, ']');
    if (sorted != small)
        free(sorted);
    return rc;
}

static int put_samples(buf *b, const metric *m)
{
    if (put_char(b, '[') < 0)
        return -1;
    for (uint32_t i = 0; i < m->v.dist.n; i++) {
        const metric_sample *s = &m->v.dist.samples[i];
        if ((i && put_char(b, ',') < 0) || PUT_LIT(b, "{\"value\":") < 0 ||
            put_float(b, s->value) < 0 || PUT_LIT(b, ",\"rate\":") < 0 ||
            put_uint(b, s->rate) < 0 || put_char(b, '}') < 0)
            return -1;
    }
    return put_char(b, ']');
}

static int put_buckets(buf *b, const metric *m)
{
    if (put_char(b, '[') < 0)
        return -1;
    for (uint32_t i = 0; i < m->v.hist.n; i++) {
        const metric_bucket *k = &m->v.hist.buckets[i];
        if ((i && put_char(b, ',') < 0) || PUT_LIT(b, "{\"upper_limit\":") < 0 ||
            put_float(b, k->upper_limit) < 0 || PUT_LIT(b, ",\"count\":") < 0 ||
            put_uint(b, k->count) < 0 || put_char(b, '}') < 0)
            return -1;
    }
    return put_char(b, ']');
}

static int put_quantiles(buf *b, const metric *m)
{
    if (put_char(b, '[') < 0)
        return -1;
    for (uint32_t i = 0; i < m->v.summary.n; i++) {
        const metric_quantile *q = &m->v.summary.quantiles[i];
        if ((i && put_char(b, ',') < 0) || PUT_LIT(b, "{\"quantile\":") < 0 ||
            put_float(b, q->quantile) < 0 || PUT_LIT(b, ",\"value\":") < 0 ||
            put_float(b, q->value) < 0 || put_char(b, '}') < 0)
            return -1;
    }
    return put_char(b, ']');
}

static int put_count_sum(buf *b, uint64_t count, double sum)
{
    if (PUT_LIT(b, ",\"count\":") < 0 || put_uint(b, count) < 0)
        return -1;
    return PUT_LIT(b, ",\"sum\":") < 0 ? -1 : put_float(b, sum);
}

static int put_metric_value(buf *b, const metric *m)
{
    if (put_key(b, metric_type_name(m->type), false) < 0 || put_char(b, '{') < 0)
        return -1;
    int rc;
    switch (m->type) {
    case METRIC_COUNTER:
    case METRIC_GAUGE:
        rc = PUT_LIT(b, "\"value\":") < 0 ? -1 : put_float(b, m->v.counter);
        break;
    case METRIC_SET:
        rc = PUT_LIT(b, "\"values\":") < 0 ? -1 : put_set_values(b, m);
        break;
    case METRIC_DISTRIBUTION:
        rc = PUT_LIT(b, "\"samples\":") < 0 || put_samples(b, m) < 0 ? -1 : 0;
        if (rc == 0)
            rc = m->v.dist.statistic == METRIC_STAT_SUMMARY
                     ? PUT_LIT(b, ",\"statistic\":\"summary\"")
                     : PUT_LIT(b, ",\"statistic\":\"histogram\"");
        break;
    case METRIC_AGGREGATED_HISTOGRAM:
        rc = PUT_LIT(b, "\"buckets\":") < 0 || put_buckets(b, m) < 0
                 ? -1
                 : put_count_sum(b, m->v.hist.count, m->v.hist.sum);
        break;
    case METRIC_AGGREGATED_SUMMARY:
        rc = PUT_LIT(b, "\"quantiles\":") < 0 || put_quantiles(b, m) < 0
                 ? -1
                 : put_count_sum(b, m->v.summary.count, m->v.summary.sum);
        break;
    default:
        rc = 0;
        break;
    }
    return rc < 0 ? -1 : put_char(b, '}');
}

static int put_metric(buf *b, const metric *m)
{
    if (put_char(b, '{') < 0 || put_key(b, "name", true) < 0 || put_cstring(b, m->name) < 0)
        return -1;
    if (m->namespace_ &&
        (put_key(b, "namespace", false) < 0 || put_cstring(b, m->namespace_) < 0))
        return -1;
    if (m->ntags && (put_key(b, "tags", false) < 0 || put_tags(b, m) < 0))
        return -1;
    if (m->has_timestamp &&
        (put_key(b, "timestamp", false) < 0 || put_timestamp(b, m->timestamp) < 0))
        return -1;
    if (m->interval_ms &&
        (put_key(b, "interval_ms", false) < 0 || put_uint(b, m->interval_ms) < 0))
        return -1;
    if (put_key(b, "kind", false) < 0 || put_cstring(b, metric_kind_name(m->kind)) < 0)
        return -1;
    if (put_metric_value(b, m) < 0)
        return -1;
    return put_char(b, '}');
}

int json_encode_event(buf *out, const event *e)
{
    if (e->type == EVENT_METRIC)
        return terminate(out, put_metric(out, e->u.metric));
    return terminate(out, put_value(out, &e->u.log));
}
