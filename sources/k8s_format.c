/* k8s_format.c - parsers for CRI and docker json-file log lines, the merger
 * of partial chunks, and the pod log path layouts (see k8s_format.h).
 *
 * The parsers sit on the hot path of kubernetes_logs, so they scan bytes in
 * place without copying and allocate only what the docker JSON decoder needs. */
#include "sources/k8s_format.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "pipeline/sltime.h"
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
    const char *what = sltime_parse_rfc3339(line, ts_len, SLTIME_RFC3339_LEAP_SECOND,
                                            &out->timestamp_ns, &at);
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
    const char *what = sltime_parse_rfc3339(time->u.s, time->len, SLTIME_RFC3339_LEAP_SECOND,
                                            &out->timestamp_ns, &at);
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

static bool k8s_is_digit(char c)
{
    return c >= '0' && c <= '9';
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
