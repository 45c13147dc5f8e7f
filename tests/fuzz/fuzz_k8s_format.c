/* fuzz_k8s_format.c - libFuzzer target for the Kubernetes log formats.
 *
 * The input is read as a pod log file: each line goes through the CRI and the
 * docker json-file parsers, and every chunk either of them accepts is fed to
 * the partial-line merger, which is checked against a plain model (per stream
 * concatenation; a line over the limit never comes out). Each line is also
 * tried as a timestamp and as a pod log path. The first byte picks the
 * merger's limit so that small limits are exercised too. A failed check
 * traps, which libFuzzer reports with the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/sltime.h"
#include "sources/k8s_format.h"

static void require(bool ok)
{
    if (!ok)
        __builtin_trap();
}

/* What the merger should hold for one stream. */
typedef struct model {
    char *data;
    size_t len;
    bool pending, over;
} model;

static void model_add(model *md, const char *s, size_t n, size_t limit)
{
    if (limit && md->len + n > limit)
        md->over = true;
    if (!md->over && n) {
        memcpy(md->data + md->len, s, n);
        md->len += n;
    }
}

static void model_reset(model *md)
{
    md->len = 0;
    md->pending = md->over = false;
}

static void check_feed(k8s_merger *m, model *models, k8s_stream s, bool partial,
                       const char *c, size_t n, int64_t ts)
{
    model *md = &models[s];
    k8s_merged out;
    sl_error err;
    bool was_over = md->over;
    if (k8s_merger_feed(m, s, partial, c, n, ts, &out, &err) < 0) {
        model_reset(md);
        return;
    }
    model_add(md, c, n, m->max_bytes);
    md->pending = partial;
    require(out.stream == s);
    if (out.result == K8S_MERGE_TOO_BIG)
        require(md->over && !was_over);
    if (out.result == K8S_MERGE_LINE) {
        require(!partial && !md->over && out.len == md->len);
        require(out.len == 0 || memcmp(out.data, md->data, out.len) == 0);
    }
    if (out.result == K8S_MERGE_PENDING)
        require(partial || was_over);
    if (m->max_bytes)
        require(m->pending[s].len <= m->max_bytes);
    if (!partial)
        model_reset(md);
}

static void check_flush(k8s_merger *m, model *models, k8s_stream s)
{
    model *md = &models[s];
    k8s_merged out;
    k8s_merger_flush(m, s, &out);
    if (out.result == K8S_MERGE_LINE) {
        require(md->pending && !md->over && out.len == md->len);
        require(out.len == 0 || memcmp(out.data, md->data, out.len) == 0);
    } else {
        require(!md->pending || md->over);
    }
    model_reset(md);
}

static void check_line(arena *a, k8s_merger *m, model *models, const char *line, size_t n)
{
    k8s_cri_line c;
    k8s_docker_line d;
    sl_error err;
    int64_t ns;
    k8s_format f = k8s_detect_format(line, n);
    int cri = k8s_parse_cri(line, n, &c, &err);
    if (cri == 0) {
        require(c.content >= line && c.content + c.content_len <= line + n);
        require(f == K8S_FORMAT_CRI || f == K8S_FORMAT_DOCKER);
        check_feed(m, models, c.stream, c.partial, c.content, c.content_len, c.timestamp_ns);
    } else {
        require(f != K8S_FORMAT_CRI);
    }
    if (k8s_parse_docker(a, line, n, &d, &err) == 0) {
        require(f == K8S_FORMAT_DOCKER);
        check_feed(m, models, d.stream, d.partial, d.content, d.content_len, d.timestamp_ns);
    }
    (void)sltime_parse_rfc3339(line, n, SLTIME_RFC3339_LEAP_SECOND, &ns, NULL);

    char *path = malloc(n + 1);
    if (!path)
        return;
    memcpy(path, line, n);
    path[n] = '\0';
    k8s_pod_path p;
    if (k8s_parse_pod_path(path, &p) == 0) {
        require(p.fields & K8S_POD_UID);
        require(p.pod_uid.ptr >= path && p.pod_uid.ptr + p.pod_uid.len <= path + n);
        require(p.container.ptr >= path && p.container.ptr + p.container.len <= path + n);
    }
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t limit = data[0] < 128 ? data[0] : 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    arena *a = arena_new();
    model models[K8S_STREAMS] = {{0}};
    models[0].data = malloc(n + 1);
    models[1].data = malloc(n + 1);
    if (!a || !models[0].data || !models[1].data)
        goto done;
    k8s_merger m;
    k8s_merger_init(&m, limit);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || text[i] == '\n') {
            check_line(a, &m, models, text + start, i - start);
            start = i + 1;
        }
    }
    check_flush(&m, models, K8S_STDOUT);
    check_flush(&m, models, K8S_STDERR);
    k8s_merger_free(&m);
done:
    free(models[0].data);
    free(models[1].data);
    arena_free(a);
    return 0;
}
