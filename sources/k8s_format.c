/* k8s_format.c - parsers for CRI and docker json-file log lines, the merger
 * of partial chunks, and the pod log path layouts (see k8s_format.h).
 *
 * The parsers sit on the hot path of kubernetes_logs, so they scan bytes in
 * place without copying and allocate only what the docker JSON decoder needs. */
#include "sources/k8s_format.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "pipeline/value.h"

/* A merger keeps a stream's buffer between lines so that a steady flow of
 * partials does not allocate; one that grew past this for a huge line is given
 * back when the next line starts. */
#define K8S_MERGER_KEEP_BYTES (64 * 1024)

/* `.log.` + YYYYMMDD + `-` + hhmmss */
#define K8S_ROTATED_SUFFIX_LEN 20

const char *k8s_stream_name(k8s_stream s)
{
    return s == K8S_STDERR ? "stderr" : "stdout";
}

/* ---- timestamps ---------------------------------------------------------- */

static bool k8s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads n digits at s[pos]; false when they are not all there. */
static bool k8s_digits(const char *s, size_t len, size_t pos, size_t n, int *v)
{
    if (pos + n > len)
        return false;
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!k8s_is_digit(s[pos + i]))
            return false;
        x = x * 10 + (s[pos + i] - '0');
    }
    *v = x;
    return true;
}

static bool k8s_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int k8s_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && k8s_is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), exact for every year the format can hold. */
static int64_t k8s_days_from_civil(int y, int m, int d)
{
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads the date and time of day; NULL on success, else what is wrong with
 * *at set to its byte offset. */
static const char *k8s_ts_date_time(const char *s, size_t len, int f[6], size_t *at)
{
    static const struct {
        size_t pos, n;
        char after;
        const char *what;
    } part[6] = {
        {0, 4, '-', "year"},   {5, 2, '-', "month"},  {8, 2, 'T', "day"},
        {11, 2, ':', "hour"},  {14, 2, ':', "minute"}, {17, 2, 0, "second"},
    };
    for (size_t i = 0; i < 6; i++) {
        *at = part[i].pos;
        if (!k8s_digits(s, len, part[i].pos, part[i].n, &f[i]))
            return part[i].what;
        size_t sep = part[i].pos + part[i].n;
        *at = sep;
        if (part[i].after == 'T' && (sep >= len || (s[sep] != 'T' && s[sep] != 't')))
            return "'T' between date and time";
        if (part[i].after && part[i].after != 'T' && (sep >= len || s[sep] != part[i].after))
            return part[i].after == '-' ? "'-' in the date" : "':' in the time";
    }
    *at = 5;
    if (f[1] < 1 || f[1] > 12)
        return "month (1-12)";
    *at = 8;
    if (f[2] < 1 || f[2] > k8s_days_in_month(f[0], f[1]))
        return "day of the month";
    *at = 11;
    if (f[3] > 23)
        return "hour (0-23)";
    *at = 14;
    if (f[4] > 59)
        return "minute (0-59)";
    *at = 17;
    /* 60 is a leap second, which RFC 3339 allows; it counts into the next
     * minute as chrono's timestamps do. */
    if (f[5] > 60)
        return "second (0-60)";
    return NULL;
}

/* Reads `.ddddddddd` at s[*pos] when there is one, as nanoseconds. */
static const char *k8s_ts_fraction(const char *s, size_t len, size_t *pos, int64_t *frac)
{
    *frac = 0;
    if (*pos >= len || s[*pos] != '.')
        return NULL;
    size_t i = *pos + 1, n = 0;
    int64_t scale = 100000000;
    while (i < len && k8s_is_digit(s[i])) {
        if (n == 9) {
            *pos = i;
            return "fraction (at most 9 digits)";
        }
        *frac += (s[i] - '0') * scale;
        scale /= 10;
        i++;
        n++;
    }
    if (n == 0) {
        *pos = *pos + 1;
        return "fraction digits after '.'";
    }
    *pos = i;
    return NULL;
}

/* Reads `Z` or `+hh:mm` / `-hh:mm` at s[*pos], which must end the text, as
 * seconds east of UTC. */
static const char *k8s_ts_offset(const char *s, size_t len, size_t *pos, int64_t *off)
{
    size_t p = *pos;
    *off = 0;
    if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
        int h, m;
        if (!k8s_digits(s, len, p + 1, 2, &h) || p + 3 >= len || s[p + 3] != ':' ||
            !k8s_digits(s, len, p + 4, 2, &m))
            return "offset (+hh:mm)";
        if (h > 23 || m > 59)
            return "offset (hours 0-23, minutes 0-59)";
        *off = (int64_t)(h * 3600 + m * 60) * (s[p] == '-' ? -1 : 1);
        p += 6;
    } else {
        return "'Z' or an offset";
    }
    *pos = p;
    if (p != len)
        return "end of the timestamp";
    return NULL;
}

static const char *k8s_ts_scan(const char *s, size_t len, int64_t *ns, size_t *at)
{
    int f[6];
    const char *what = k8s_ts_date_time(s, len, f, at);
    if (what)
        return what;
    size_t pos = 19;
    int64_t frac, off;
    if ((what = k8s_ts_fraction(s, len, &pos, &frac)) != NULL) {
        *at = pos;
        return what;
    }
    *at = pos;
    if ((what = k8s_ts_offset(s, len, at, &off)) != NULL)
        return what;
    int64_t secs = k8s_days_from_civil(f[0], f[1], f[2]) * 86400 + f[3] * 3600 + f[4] * 60 +
                   f[5] - off;
    /* Before 1970 with a fraction, borrow a second so that the product
     * stays in range down to the earliest representable instant. */
    if (secs < 0 && frac > 0) {
        secs += 1;
        frac -= 1000000000;
    }
    int64_t out;
    if (__builtin_mul_overflow(secs, (int64_t)1000000000, &out) ||
        __builtin_add_overflow(out, frac, &out)) {
        *at = 0;
        return "time within 1677-2262 (nanoseconds since 1970 in 64 bits)";
    }
    *ns = out;
    return NULL;
}

int k8s_parse_timestamp(const char *s, size_t len, int64_t *ns, sl_error *err)
{
    size_t at = 0;
    const char *what = k8s_ts_scan(s, len, ns, &at);
    if (what)
        return sl_fail(err, "bad RFC 3339 timestamp: expected %s at byte %zu", what, at);
    return 0;
}

/* ---- CRI ----------------------------------------------------------------- */

static const char *k8s_find_space(const char *s, size_t from, size_t len)
{
    const void *p = from < len ? memchr(s + from, ' ', len - from) : NULL;
    return p;
}

/* Reads `stdout ` or `stderr ` at line[pos]. */
static int k8s_cri_stream(const char *line, size_t len, size_t pos, k8s_stream *s,
                          sl_error *err)
{
    if (len - pos >= 6 && memcmp(line + pos, "stdout", 6) == 0)
        *s = K8S_STDOUT;
    else if (len - pos >= 6 && memcmp(line + pos, "stderr", 6) == 0)
        *s = K8S_STDERR;
    else
        return sl_fail(err, "CRI line: stream is not stdout or stderr at byte %zu", pos);
    if (pos + 6 >= len || line[pos + 6] != ' ')
        return sl_fail(err, "CRI line: expected a space after the stream at byte %zu",
                       pos + 6);
    return 0;
}

/* Reads the tags at line[pos] up to a space or the end; only the first of the
 * `:`-separated tags matters. Sets *end to where the tags stop. */
static int k8s_cri_tags(const char *line, size_t len, size_t pos, bool *partial,
                        size_t *end, sl_error *err)
{
    const char *sp = k8s_find_space(line, pos, len);
    size_t stop = sp ? (size_t)(sp - line) : len;
    const char *colon = stop > pos ? memchr(line + pos, ':', stop - pos) : NULL;
    size_t first_end = colon ? (size_t)(colon - line) : stop;
    if (first_end - pos != 1 || (line[pos] != 'F' && line[pos] != 'P'))
        return sl_fail(err, "CRI line: tag is not F or P at byte %zu", pos);
    *partial = line[pos] == 'P';
    *end = stop;
    return 0;
}

int k8s_parse_cri(const char *line, size_t len, k8s_cri_line *out, sl_error *err)
{
    const char *sp = k8s_find_space(line, 0, len);
    if (!sp)
        return sl_fail(err, "CRI line: no space after the timestamp (byte %zu)", len);
    size_t ts_len = (size_t)(sp - line), at = 0;
    const char *what = k8s_ts_scan(line, ts_len, &out->timestamp_ns, &at);
    if (what)
        return sl_fail(err, "CRI line: bad timestamp: expected %s at byte %zu", what, at);
    size_t pos = ts_len + 1, end = len;
    if (k8s_cri_stream(line, len, pos, &out->stream, err) < 0)
        return -1;
    pos += 7;
    if (k8s_cri_tags(line, len, pos, &out->partial, &end, err) < 0)
        return -1;
    /* containerd writes `F ` before empty content; a line cut right after
     * the tags is read the same way rather than refused. */
    out->content = end < len ? line + end + 1 : line + len;
    out->content_len = end < len ? len - end - 1 : 0;
    return 0;
}

/* ---- docker json-file ---------------------------------------------------- */

static const value *k8s_docker_string(const value *obj, const char *key, sl_error *err)
{
    const value *v = value_map_get(obj->u.map, key, strlen(key));
    if (!v) {
        sl_fail(err, "docker json-file line: missing \"%s\"", key);
        return NULL;
    }
    if (v->kind != VALUE_BYTES) {
        sl_fail(err, "docker json-file line: \"%s\" is not a string", key);
        return NULL;
    }
    return v;
}

static int k8s_docker_stream(const value *v, k8s_stream *s, sl_error *err)
{
    if (v->len == 6 && memcmp(v->u.s, "stdout", 6) == 0)
        *s = K8S_STDOUT;
    else if (v->len == 6 && memcmp(v->u.s, "stderr", 6) == 0)
        *s = K8S_STDERR;
    else
        return sl_fail(err, "docker json-file line: \"stream\" is not stdout or stderr");
    return 0;
}

int k8s_parse_docker(arena *a, const char *line, size_t len, k8s_docker_line *out,
                     sl_error *err)
{
    value doc;
    sl_error inner;
    if (json_decode(a, line, len, &doc, &inner) < 0)
        return sl_fail(err, "docker json-file line: %s", inner.msg);
    if (doc.kind != VALUE_MAP)
        return sl_fail(err, "docker json-file line: not a JSON object");
    const value *log = k8s_docker_string(&doc, "log", err);
    const value *stream = log ? k8s_docker_string(&doc, "stream", err) : NULL;
    const value *time = stream ? k8s_docker_string(&doc, "time", err) : NULL;
    if (!time || k8s_docker_stream(stream, &out->stream, err) < 0)
        return -1;
    size_t at = 0;
    const char *what = k8s_ts_scan(time->u.s, time->len, &out->timestamp_ns, &at);
    if (what)
        return sl_fail(err, "docker json-file line: bad \"time\": expected %s at byte %zu",
                       what, at);
    out->partial = log->len == 0 || log->u.s[log->len - 1] != '\n';
    out->content = log->len ? log->u.s : "";
    out->content_len = out->partial ? log->len : log->len - 1;
    return 0;
}

k8s_format k8s_detect_format(const char *first_line, size_t len)
{
    k8s_cri_line cri;
    /* As the JSON reader does, whitespace may come before the object. */
    size_t i = 0;
    while (i < len && (first_line[i] == ' ' || first_line[i] == '\t' ||
                       first_line[i] == '\r' || first_line[i] == '\n'))
        i++;
    if (i < len && first_line[i] == '{')
        return K8S_FORMAT_DOCKER;
    if (k8s_parse_cri(first_line, len, &cri, NULL) == 0)
        return K8S_FORMAT_CRI;
    return K8S_FORMAT_UNKNOWN;
}

/* ---- merging partial chunks ---------------------------------------------- */

void k8s_merger_init(k8s_merger *m, size_t max_merged_line_bytes)
{
    memset(m, 0, sizeof *m);
    m->max_bytes = max_merged_line_bytes;
}

void k8s_merger_free(k8s_merger *m)
{
    for (int i = 0; i < K8S_STREAMS; i++) {
        free(m->pending[i].data);
        m->pending[i].data = NULL;
        m->pending[i].len = m->pending[i].cap = 0;
        m->pending[i].active = m->pending[i].too_big = false;
    }
}

static int k8s_pending_append(k8s_pending *p, const char *s, size_t n, sl_error *err)
{
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / 2 - p->len)
        return sl_fail(err, "partial line too long to join (%zu bytes)", p->len);
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < p->len + n)
            cap *= 2;
        char *d = realloc(p->data, cap);
        if (!d)
            return sl_fail(err, "out of memory joining a partial line of %zu bytes",
                           p->len + n);
        p->data = d;
        p->cap = cap;
    }
    memcpy(p->data + p->len, s, n);
    p->len += n;
    return 0;
}

/* Starts a new line on a stream: the previous line's bytes are no longer
 * referenced by the caller (see k8s_merger_feed), so a buffer a huge line
 * grew is released here. */
static void k8s_pending_start(k8s_pending *p, int64_t timestamp_ns)
{
    if (p->cap > K8S_MERGER_KEEP_BYTES) {
        free(p->data);
        p->data = NULL;
        p->cap = 0;
    }
    p->len = 0;
    p->too_big = false;
    p->timestamp_ns = timestamp_ns;
}

static void k8s_merged_line(k8s_merged *out, const char *data, size_t len, int64_t ts)
{
    out->result = K8S_MERGE_LINE;
    out->data = data ? data : "";
    out->len = len;
    out->timestamp_ns = ts;
}

int k8s_merger_feed(k8s_merger *m, k8s_stream s, bool partial, const char *content,
                    size_t len, int64_t timestamp_ns, k8s_merged *out, sl_error *err)
{
    k8s_pending *p = &m->pending[s == K8S_STDERR ? K8S_STDERR : K8S_STDOUT];
    bool fresh = !p->active;
    memset(out, 0, sizeof *out);
    out->stream = s;
    if (fresh)
        k8s_pending_start(p, timestamp_ns);
    if (p->too_big) {
        p->active = partial;
        return 0;
    }
    if (m->max_bytes && (len > m->max_bytes || p->len > m->max_bytes - len)) {
        m->too_big_lines++;
        out->result = K8S_MERGE_TOO_BIG;
        out->too_big_len = p->len + len;
        out->timestamp_ns = p->timestamp_ns;
        p->len = 0;
        p->too_big = p->active = partial;
        return 0;
    }
    if (fresh && !partial) {
        k8s_merged_line(out, content, len, timestamp_ns);
        return 0;
    }
    if (k8s_pending_append(p, content, len, err) < 0) {
        p->len = 0;
        p->active = false;
        return -1;
    }
    p->active = partial;
    if (!partial)
        k8s_merged_line(out, p->data, p->len, p->timestamp_ns);
    return 0;
}

void k8s_merger_flush(k8s_merger *m, k8s_stream s, k8s_merged *out)
{
    k8s_pending *p = &m->pending[s == K8S_STDERR ? K8S_STDERR : K8S_STDOUT];
    memset(out, 0, sizeof *out);
    out->stream = s;
    if (p->active && !p->too_big)
        k8s_merged_line(out, p->data, p->len, p->timestamp_ns);
    p->active = p->too_big = false;
}

/* ---- pod log paths ------------------------------------------------------- */

/* The path component that ends just before `end` (an index into path). */
static bool k8s_component_before(const char *path, size_t end, k8s_span *out)
{
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    out->ptr = path + start;
    out->len = end - start;
    return out->len > 0;
}

static bool k8s_span_has(k8s_span sp, char c)
{
    return sp.len && memchr(sp.ptr, c, sp.len) != NULL;
}

static bool k8s_all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!k8s_is_digit(s[i]))
            return false;
    return true;
}

/* A restart count `<n>`; false unless all digits and within 32 bits. */
static bool k8s_restart(const char *s, size_t n, uint32_t *out)
{
    if (!k8s_all_digits(s, n) || n > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool k8s_name_rotated(const char *name, size_t n)
{
    if (n <= K8S_ROTATED_SUFFIX_LEN)
        return false;
    const char *t = name + n - K8S_ROTATED_SUFFIX_LEN;
    return memcmp(t, ".log.", 5) == 0 && k8s_all_digits(t + 5, 8) && t[13] == '-' &&
           k8s_all_digits(t + 14, 6);
}

static bool k8s_ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* `<namespace>_<pod>_<uid>`: exactly two `_` and three non-empty parts. */
static bool k8s_split_pod_dir(k8s_span dir, k8s_pod_path *out)
{
    const char *u1 = memchr(dir.ptr, '_', dir.len);
    if (!u1)
        return false;
    const char *rest = u1 + 1, *end = dir.ptr + dir.len;
    const char *u2 = memchr(rest, '_', (size_t)(end - rest));
    if (!u2 || memchr(u2 + 1, '_', (size_t)(end - u2 - 1)))
        return false;
    out->pod_namespace = (k8s_span){dir.ptr, (size_t)(u1 - dir.ptr)};
    out->pod_name = (k8s_span){rest, (size_t)(u2 - rest)};
    out->pod_uid = (k8s_span){u2 + 1, (size_t)(end - u2 - 1)};
    return out->pod_namespace.len && out->pod_name.len && out->pod_uid.len;
}

/* `<dir>/<namespace>_<pod>_<uid>/<container>/<n>.log`; name_at is where the
 * file name starts, stem its `<n>`. */
static bool k8s_layout_current(const char *path, size_t name_at, k8s_span stem,
                               k8s_pod_path *out)
{
    k8s_span container, pod_dir;
    if (name_at < 2 || !k8s_restart(stem.ptr, stem.len, &out->restart) ||
        !k8s_component_before(path, name_at - 1, &container) ||
        k8s_span_has(container, '_') || container.ptr - path < 2 ||
        !k8s_component_before(path, (size_t)(container.ptr - path) - 1, &pod_dir) ||
        !k8s_split_pod_dir(pod_dir, out))
        return false;
    out->container = container;
    out->fields = K8S_POD_NAMESPACE | K8S_POD_NAME | K8S_POD_UID | K8S_POD_CONTAINER;
    return true;
}

/* `<dir>/<uid>/<container>_<n>.log`, the layout before Kubernetes 1.14. */
static bool k8s_layout_legacy(const char *path, size_t name_at, k8s_span stem,
                              k8s_pod_path *out)
{
    const char *u = NULL;
    for (size_t i = stem.len; i > 0; i--)
        if (stem.ptr[i - 1] == '_') {
            u = stem.ptr + i - 1;
            break;
        }
    k8s_span uid;
    if (!u || u == stem.ptr || name_at < 2 ||
        !k8s_restart(u + 1, (size_t)(stem.ptr + stem.len - u - 1), &out->restart) ||
        !k8s_component_before(path, name_at - 1, &uid) || k8s_span_has(uid, '_'))
        return false;
    out->pod_uid = uid;
    out->container = (k8s_span){stem.ptr, (size_t)(u - stem.ptr)};
    out->fields = K8S_POD_UID | K8S_POD_CONTAINER;
    return true;
}

int k8s_parse_pod_path(const char *path, k8s_pod_path *out)
{
    memset(out, 0, sizeof *out);
    size_t n = strlen(path);
    const char *slash = strrchr(path, '/');
    size_t name_at = slash ? (size_t)(slash - path) + 1 : 0;
    size_t name_len = n - name_at;
    if (k8s_name_rotated(path + name_at, name_len)) {
        out->rotated = true;
        name_len -= K8S_ROTATED_SUFFIX_LEN - 4; /* keep the `.log` */
    }
    if (!k8s_ends_with(path + name_at, name_len, ".log"))
        return -1;
    k8s_span stem = {path + name_at, name_len - 4};
    if (k8s_layout_current(path, name_at, stem, out))
        return 0;
    bool rotated = out->rotated;
    memset(out, 0, sizeof *out);
    out->rotated = rotated;
    if (k8s_layout_legacy(path, name_at, stem, out))
        return 0;
    memset(out, 0, sizeof *out);
    return -1;
}
