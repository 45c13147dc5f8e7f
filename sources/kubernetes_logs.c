/* kubernetes_logs.c - the `kubernetes_logs` source: the logs of the pods on
 * this node, read from the files kubelet keeps under /var/log/pods, as
 * Vector's source of that name (without its Kubernetes API enrichment yet).
 *
 * Files are followed by the shared engine (tail_source.h), so checkpoints,
 * rotation, truncation, deletion and acknowledgements behave exactly as in
 * the `file` source. This file adds what is particular to pod logs:
 *
 *  - discovery: only `<ns>_<pod>_<uid>/<container>/<n>.log`, kubelet's
 *    renamed `<n>.log.<YYYYMMDD-hhmmss>` (read to its end, continuing from
 *    the live file's checkpoint thanks to fingerprints) and the pre-1.14
 *    `<uid>/<container>_<n>.log`; never the `.gz` / `.tmp` files kubelet's
 *    rotation makes from old logs;
 *  - the line format of each file (CRI or docker json-file), detected from
 *    the first line read of it;
 *  - partial chunks joined per stream (k8s_merger). A joined line is held
 *    back until its last chunk, so every event carries as checkpoint the
 *    start of the earliest chunk still held in its file: a restart reads the
 *    held chunks again instead of losing them. A held line is pushed when
 *    its file stops being followed, or after it waited
 *    partial_merge_timeout_ms (Vector's 30 s);
 *  - the pod's identity from the path: `.kubernetes.pod_namespace`,
 *    `pod_name`, `pod_uid`, `container_name`. The strings point into the
 *    copy of the path the engine makes once per batch (`.file`), so no line
 *    copies anything; a full line with nothing pending is not copied either.
 *
 * The options that only make sense with the Kubernetes API (selectors,
 * annotation fields, kube_config_file, ...) are accepted so that Vector
 * configs run unchanged, and `validate` warns that they have no effect yet.
 * Enrichment from the API is meant to slot in where the event is built
 * (build_event), keyed by the pod uid the path gives. */
#include "pipeline/component.h"
#include "pipeline/log.h"
#include "sources/k8s_format.h"
#include "sources/tail/tail_source.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_EVERY_NS (10 * NS_PER_SEC)   /* one log line per kind per 10 s */

enum { READ_FROM_BEGINNING = 0, READ_FROM_END };

typedef struct k8s_options {
    char *pod_logs_dir;
    opt_list include;
    opt_list exclude;
    bool auto_partial_merge;
    uint64_t max_merged_line_bytes;
    uint64_t partial_merge_timeout_ms;
    uint64_t max_line_bytes;
    uint64_t glob_minimum_cooldown_ms;
    char *data_dir;
    uint64_t ignore_older_secs;
    int read_from;
    uint64_t fingerprint_lines;
    bool oldest_first;
    uint64_t max_open_files;
    const cfg_node *max_merged_line_action;   /* only `drop` is done */
} k8s_options;

static const opt_enum_value read_from_values[] = {
    {"beginning", READ_FROM_BEGINNING},
    {"end", READ_FROM_END},
    {NULL, 0},
};

/* The options that only make sense with the Kubernetes API. */
#define API_OPT(name) \
    OPT_NO_EFFECT_ROW(#name, "has no effect until Kubernetes API enrichment lands")

static const opt_spec k8s_option_table[] = {
    OPT_STRING_ROW("pod_logs_dir", k8s_options, pod_logs_dir, .def = "/var/log/pods",
        .help = "Where kubelet keeps the pod log files (sluice's; Vector has it fixed)."),
    OPT_LIST_ROW("include_paths_glob_patterns", k8s_options, include, .def = "**/*",
        .nonempty = true,
        .help = "Only pod log files whose path matches one of these are read; `*` stays within a "
                "path segment, `**` spans segments."),
    OPT_LIST_ROW("exclude_paths_glob_patterns", k8s_options, exclude,
        .help = "Pod log files whose path matches one of these are not read. kubelet's `.gz` and "
                "`.tmp` files (Vector's default `**/*.gz`, `**/*.tmp`) are never read."),
    OPT_BOOL_ROW("auto_partial_merge", k8s_options, auto_partial_merge, .def = "true",
        .help = "Join the partial chunks a runtime cut a long line into."),
    OPT_UINT_ROW("max_merged_line_bytes", k8s_options, max_merged_line_bytes,
        OPT_MAX(1ull << 32),
        .help = "Joined lines longer than this are discarded and counted; unset: no limit."),
    OPT_UINT_ROW("partial_merge_timeout_ms", k8s_options, partial_merge_timeout_ms,
        .def = "30000",
        .help = "A partial line whose last chunk has not come after this long is emitted as it "
                "is (sluice's; Vector's fixed 30 s)."),
    OPT_UINT_ROW("max_line_bytes", k8s_options, max_line_bytes, .def = "32768",
        OPT_RANGE(1, 1 << 30),
        .help = "File lines longer than this are discarded and counted."),
    OPT_UINT_ROW("glob_minimum_cooldown_ms", k8s_options, glob_minimum_cooldown_ms,
        .def = "60000",
        .help = "How often pod_logs_dir is searched for new files, in milliseconds (inotify "
                "notices most changes at once)."),
    OPT_STRING_ROW("data_dir", k8s_options, data_dir,
        .help = "Directory for the checkpoints, instead of the global data_dir."),
    OPT_UINT_ROW("ignore_older_secs", k8s_options, ignore_older_secs,
        .help = "Files not modified for this many seconds are not read."),
    OPT_ENUM_ROW("read_from", k8s_options, read_from, read_from_values, .def = "beginning",
        .help = "Where files present at startup without a checkpoint start."),
    OPT_UINT_ROW("fingerprint_lines", k8s_options, fingerprint_lines, .def = "1",
        OPT_RANGE(1, 1000),
        .help = "How many first lines identify a file (checksum); a file is read once it has "
                "them."),
    OPT_BOOL_ROW("oldest_first", k8s_options, oldest_first, .def = "true",
        .help = "Drain the least recently modified file first (rotated files go first, releasing "
                "their space), instead of taking files in turn."),
    OPT_UINT_ROW("max_open_files", k8s_options, max_open_files, .def = "1024",
        .help = "Most files open at once (sluice's); beyond it files take turns. 0: no limit."),
    OPT_NO_EFFECT_ROW("max_read_bytes", "has no effect: sluice reads each file in large chunks "
                      "and takes files in turn"),
    OPT_NO_EFFECT_ROW("rotate_wait_secs", "has no effect: a rotated file is read to its end and "
                      "closed once it is deleted"),
    OPT_NO_EFFECT_ROW("timezone",
                      "has no effect: CRI and docker timestamps always carry their zone"),
    OPT_NO_EFFECT_ROW("ingestion_timestamp_field", "is not supported yet and has no effect"),
    OPT_NO_EFFECT_ROW("log_namespace", "has no effect: sluice always uses Vector's legacy "
                      "namespace (fields at the top of the event)"),
    OPT_NO_EFFECT_ROW("internal_metrics",
                      "has no effect: sluice's per-file metrics are not tagged by file"),
    OPT_NO_EFFECT_ROW("acknowledgements", "has no effect on a source: acknowledgements are "
                      "enabled by the sinks' (or the global) acknowledgements.enabled"),
    OPT_NODE_ROW("max_merged_line_action", k8s_options, max_merged_line_action,
        .help = "Accepted for Vector configs; only `drop` is done."),
    API_OPT(self_node_name),
    API_OPT(extra_label_selector),
    API_OPT(extra_field_selector),
    API_OPT(extra_namespace_label_selector),
    API_OPT(kube_config_file),
    API_OPT(use_apiserver_cache),
    API_OPT(pod_annotation_fields),
    API_OPT(namespace_annotation_fields),
    API_OPT(node_annotation_fields),
    API_OPT(insert_namespace_fields),
    API_OPT(delay_deletion_ms),
    OPT_END,
};

static size_t k8s_check(const void *options, const char *label, const cfg_node *node,
                        diag_list *diags)
{
    const k8s_options *o = options;
    size_t errors = 0;
    if (o->max_merged_line_action) {
        const cfg_node *v = o->max_merged_line_action;
        if (v->kind != CFG_SCALAR || strcmp(v->text, "drop") != 0) {
            diag_add(diags, DIAG_ERROR, v, label,
                     "max_merged_line_action: only \"drop\" is supported");
            errors++;
        }
    }
    if (!o->pod_logs_dir || o->pod_logs_dir[0] != '/') {
        diag_add(diags, DIAG_ERROR, cfg_map_get(node, "pod_logs_dir"), label,
                 "pod_logs_dir must be an absolute path");
        errors++;
    }
    return errors;
}

/* ---- state ---- */

/* A pod log file being read: tailer_file.user. Pieces of the path are kept
 * as offsets, so that they can point into the batch's copy of the path. */
typedef struct k8s_file {
    struct k8s_file *prev, *next;  /* every file's state, for the idle hook */
    tailer_file *f;                /* the tailer's, valid while f->user == this */
    uint64_t gen;                  /* f->gen this state describes */
    k8s_format format;
    bool skip;                     /* not a pod log the patterns accept */
    char *path;                    /* the path the pieces come from (heap) */
    size_t path_len;
    const char *batch_path;        /* the batch copy last checked against path */
    unsigned fields;               /* K8S_POD_* */
    uint32_t ns_off, ns_len, name_off, name_len, uid_off, uid_len, ctr_off, ctr_len;
    k8s_merger merger;
    bool held[K8S_STREAMS];        /* a partial line is pending in the merger */
    uint64_t hold_start[K8S_STREAMS];   /* file offset of its first chunk */
    int64_t hold_since[K8S_STREAMS];    /* when it started (monotonic ns) */
    uint64_t last_end;             /* end of the last line consumed */
} k8s_file;

typedef struct k8s_source {
    tail_source *ts;
    char *id;
    char **discover;               /* the tailer's include patterns */
    size_t ndiscover;
    char **include;                /* the user's, NULL when "**" + "/" + "*" */
    size_t ninclude;
    bool merge;
    size_t max_merged;
    int64_t partial_timeout_ns;
    k8s_file *files;               /* list of every k8s_file */
    /* counted locally on the hot path, added to the metrics in the idle hook */
    uint64_t lines_read, parse_errors, too_big;
    metrics_series *lines_read_total;
    metrics_series *parse_errors_total;
    const component_metrics *metrics;
    log_limiter parse_log, too_big_log; /* a broken file can't flood the log */
} k8s_source;

static void file_state_free(k8s_source *src, k8s_file *kf)
{
    if (!kf)
        return;
    if (kf->prev)
        kf->prev->next = kf->next;
    else if (src->files == kf)
        src->files = kf->next;
    if (kf->next)
        kf->next->prev = kf->prev;
    k8s_merger_free(&kf->merger);
    free(kf->path);
    free(kf);
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

static void source_free(k8s_source *src)
{
    if (!src)
        return;
    tail_source_free(src->ts);   /* runs the closed hook for every file */
    while (src->files)           /* none left, unless the engine missed one */
        file_state_free(src, src->files);
    free_list(src->discover, src->ndiscover);
    free_list(src->include, src->ninclude);
    free(src->id);
    free(src);
}

static void register_metrics(k8s_source *src)
{
    if (src->metrics || !(src->metrics = tail_source_metrics(src->ts)))
        return;
    src->lines_read_total = component_metrics_extra(
        src->metrics, "lines_read_total", METRICS_COUNTER,
        "Lines read from pod log files (partial chunks count one each).");
    src->parse_errors_total = component_metrics_extra(
        src->metrics, "parse_errors_total", METRICS_COUNTER,
        "Lines that were neither CRI nor docker json-file, passed on unparsed.");
}

/* Adds what the hot path counted to the metrics. */
static void flush_counters(k8s_source *src)
{
    register_metrics(src);
    if (!src->metrics)
        return;
    if (src->lines_read) {
        metrics_add(src->lines_read_total, src->lines_read);
        src->lines_read = 0;
    }
    if (src->parse_errors) {
        metrics_add(src->parse_errors_total, src->parse_errors);
        component_metrics_error(src->metrics, "parse_failed", "receiving", src->parse_errors);
        src->parse_errors = 0;
    }
    if (src->too_big) {
        component_metrics_error(src->metrics, "line_too_big", "receiving", src->too_big);
        metrics_add(src->metrics->discarded_error, src->too_big);
        src->too_big = 0;
    }
}

/* ---- paths ---- */

/* The tailer's patterns: exactly kubelet's layouts under dir, so nothing
 * else (and never a `.gz` or `.tmp`) is opened. */
static int discovery_patterns(k8s_source *src, const char *dir, sl_error *err)
{
    static const char *const tails[] = {
        "*_*_*/*/[0-9]*.log",
        "*_*_*/*/[0-9]*.log.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-"
        "[0-9][0-9][0-9][0-9][0-9][0-9]",
        "*/*_[0-9]*.log",
        "*/*_[0-9]*.log.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-"
        "[0-9][0-9][0-9][0-9][0-9][0-9]",
    };
    size_t n = SL_ARRAY_LEN(tails);
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    if (!(src->discover = calloc(n, sizeof(char *))))
        return sl_fail(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t len = dlen + 1 + strlen(tails[i]) + 1;
        char *p = malloc(len);
        if (!p)
            return sl_fail(err, "out of memory");
        snprintf(p, len, "%.*s/%s", (int)dlen, dir, tails[i]);
        src->discover[src->ndiscover++] = p;
    }
    return 0;
}

/* The user's include patterns, unless they accept everything anyway. */
static int copy_include(k8s_source *src, const opt_list *l, sl_error *err)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], "**/*") == 0 || strcmp(l->items[i], "**") == 0)
            return 0;
    if (!(src->include = calloc(l->n, sizeof(char *))))
        return sl_fail(err, "out of memory");
    for (; src->ninclude < l->n; src->ninclude++)
        if (!(src->include[src->ninclude] = strdup(l->items[src->ninclude])))
            return sl_fail(err, "out of memory");
    return 0;
}

/* The tailer's accept(): the user's include patterns, so a file they leave
 * out is never opened. */
static bool included(void *ud, const char *path)
{
    const k8s_source *src = ud;
    if (!src->include)
        return true;
    for (size_t i = 0; i < src->ninclude; i++)
        if (tailer_glob_match(src->include[i], path))
            return true;
    return false;
}

static void set_span(const char *base, k8s_span s, uint32_t *off, uint32_t *len)
{
    *off = s.ptr ? (uint32_t)(s.ptr - base) : 0;
    *len = (uint32_t)s.len;
}

/* Takes the pod's identity from the path the file has now (again after a
 * rename); a path kubelet would not write is skipped. -1: out of memory. */
static int describe_path(k8s_file *kf, const char *path, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, path, len);
    copy[len] = '\0';
    free(kf->path);
    kf->path = copy;
    kf->path_len = len;
    k8s_pod_path pp;
    kf->skip = len > UINT32_MAX || k8s_parse_pod_path(copy, &pp) < 0;
    if (kf->skip) {
        kf->fields = 0;
        return 0;
    }
    kf->fields = pp.fields;
    set_span(copy, pp.pod_namespace, &kf->ns_off, &kf->ns_len);
    set_span(copy, pp.pod_name, &kf->name_off, &kf->name_len);
    set_span(copy, pp.pod_uid, &kf->uid_off, &kf->uid_len);
    set_span(copy, pp.container, &kf->ctr_off, &kf->ctr_len);
    return 0;
}

/* Makes sure the pieces describe the batch's copy of the path: the engine
 * copies it once per batch, and a file may have been renamed since. */
static int check_path(k8s_file *kf, value path)
{
    if (path.u.s == kf->batch_path && path.len == kf->path_len)
        return 0;
    kf->batch_path = path.u.s;
    if (path.len == kf->path_len && memcmp(path.u.s, kf->path, path.len) == 0)
        return 0;
    return describe_path(kf, path.u.s, path.len);
}

/* The state of f for its current generation: allocated on its first line,
 * started over when the file did (truncation). NULL: out of memory. */
static k8s_file *file_state(k8s_source *src, tailer_file *f)
{
    k8s_file *kf = f->user;
    if (kf && kf->gen == f->gen)
        return kf;
    if (kf) {
        k8s_merger_free(&kf->merger);
    } else {
        if (!(kf = calloc(1, sizeof(*kf))))
            return NULL;
        kf->next = src->files;
        if (src->files)
            src->files->prev = kf;
        src->files = kf;
        f->user = kf;
        if (describe_path(kf, f->path, strlen(f->path)) < 0) {
            f->user = NULL;
            file_state_free(src, kf);
            return NULL;
        }
    }
    kf->f = f;
    kf->gen = f->gen;
    kf->format = K8S_FORMAT_UNKNOWN;
    k8s_merger_init(&kf->merger, src->max_merged);
    memset(kf->held, 0, sizeof(kf->held));
    kf->last_end = 0;
    return kf;
}

/* How far f may be checkpointed once the line ending at `end` is
 * delivered: not past the first chunk of a line still held back. */
static uint64_t safe_commit(const k8s_file *kf, uint64_t end)
{
    uint64_t c = end;
    for (int s = 0; s < K8S_STREAMS; s++)
        if (kf->held[s] && kf->hold_start[s] < c)
            c = kf->hold_start[s];
    return c;
}

/* ---- events ---- */

typedef struct log_block {
    value_map top, kube;
    value_entry te[7], ke[4];
} log_block;

static value piece(value path, uint32_t off, uint32_t len)
{
    return value_bytes(path.u.s + off, len);
}

/* Fills e (already pushed) as Vector's kubernetes_logs event: `.file`,
 * `.kubernetes.*` from the path, `.message`, `.source_type`, `.stream`
 * (stream < 0: none) and `.timestamp`; `_partial` when partial. The
 * message must already live in the batch's arena. -1: out of memory (e is
 * then left a null log). */
static int build_event(tail_batch *tb, k8s_file *kf, event *e,
                       value message, int stream, int64_t ts_ns, bool partial)
{
    e->type = EVENT_LOG;
    e->u.log = value_null();
    value path = tail_path_value(tb, kf->f);
    log_block *b = arena_alloc(tail_arena(tb), sizeof(*b));
    if (path.kind != VALUE_BYTES || !b || check_path(kf, path) < 0)
        return -1;
    /* In key order (maps are sorted): container_name, pod_name,
     * pod_namespace, pod_uid. */
    uint32_t k = 0;
    if (kf->fields & K8S_POD_CONTAINER)
        b->ke[k++] = (value_entry){"container_name", 14, piece(path, kf->ctr_off, kf->ctr_len)};
    if (kf->fields & K8S_POD_NAME)
        b->ke[k++] = (value_entry){"pod_name", 8, piece(path, kf->name_off, kf->name_len)};
    if (kf->fields & K8S_POD_NAMESPACE)
        b->ke[k++] = (value_entry){"pod_namespace", 13, piece(path, kf->ns_off, kf->ns_len)};
    if (kf->fields & K8S_POD_UID)
        b->ke[k++] = (value_entry){"pod_uid", 7, piece(path, kf->uid_off, kf->uid_len)};
    b->kube = (value_map){k, k, b->ke};
    value kube = {VALUE_MAP, 0, {0}};
    kube.u.map = &b->kube;

    uint32_t n = 0;
    if (partial)
        b->te[n++] = (value_entry){"_partial", 8, value_bool(true)};
    b->te[n++] = (value_entry){"file", 4, path};
    b->te[n++] = (value_entry){"kubernetes", 10, kube};
    b->te[n++] = (value_entry){EVENT_FIELD_MESSAGE, 7, message};
    b->te[n++] = (value_entry){EVENT_FIELD_SOURCE_TYPE, 11, value_bytes("kubernetes_logs", 15)};
    if (stream >= 0)
        b->te[n++] = (value_entry){"stream", 6,
                                   value_bytes(k8s_stream_name((k8s_stream)stream), 6)};
    b->te[n++] = (value_entry){EVENT_FIELD_TIMESTAMP, 9, value_timestamp(ts_ns)};
    b->top = (value_map){n, n, b->te};
    e->u.log.kind = VALUE_MAP;
    e->u.log.u.map = &b->top;
    return 0;
}

/* Pushes one event whose message may live anywhere (a merger's buffer):
 * copied into the batch, whose arena is only known after the push. */
static int push_copy(tail_batch *tb, k8s_file *kf, uint64_t commit,
                     const char *msg, size_t len, int stream, int64_t ts_ns)
{
    event *e = tail_push(tb, kf->f, commit);
    if (!e)
        return 0;   /* stopping: the held line is read again after a restart */
    char *copy = arena_alloc(tail_arena(tb), len ? len : 1);
    if (!copy) {
        e->type = EVENT_LOG;
        e->u.log = value_null();
        return -1;
    }
    memcpy(copy, msg, len);
    return build_event(tb, kf, e, value_bytes(copy, len), stream, ts_ns, false);
}

/* ---- lines ---- */

static void report_parse_error(k8s_source *src, const k8s_file *kf, const char *why)
{
    src->parse_errors++;
    uint64_t more;
    if (log_limiter_allow(&src->parse_log, LOG_EVERY_NS, &more))
        slog_warn(src->id, "Could not parse a line of %s as %s (%s); passed on unparsed. "
                  "(%" PRIu64 " more since the last report)", kf->path,
                  kf->format == K8S_FORMAT_DOCKER ? "docker json-file" :
                  kf->format == K8S_FORMAT_CRI ? "CRI" : "CRI or docker json-file",
                  why, more);
}

static void report_too_big(k8s_source *src, const k8s_file *kf, const k8s_merged *m)
{
    src->too_big++;
    uint64_t more;
    if (log_limiter_allow(&src->too_big_log, LOG_EVERY_NS, &more))
        slog_warn(src->id, "Discarded a %s line of %s longer than max_merged_line_bytes "
                  "(%zu bytes, %zu gathered). (%" PRIu64 " more since the last report)",
                  k8s_stream_name(m->stream), kf->path, src->max_merged, m->too_big_len,
                  more);
}

/* A parsed chunk: an event of its own, or fed to the stream's merger. */
static int take_chunk(k8s_source *src, tail_batch *tb, k8s_file *kf, k8s_stream s,
                      bool partial, const char *content, size_t len, int64_t ts_ns,
                      uint64_t start, uint64_t end)
{
    if (!src->merge) {
        event *e = tail_push(tb, kf->f, end);
        return e ? build_event(tb, kf, e, value_bytes(content, len), (int)s, ts_ns,
                               partial) : 0;
    }
    bool was_held = kf->merger.pending[s].active;
    k8s_merged m;
    sl_error err;
    if (k8s_merger_feed(&kf->merger, s, partial, content, len, ts_ns, &m, &err) < 0) {
        slog_error(src->id, "%s: partial line of %s dropped.", err.msg, kf->path);
        kf->held[s] = false;
        return tail_note(tb, kf->f, safe_commit(kf, end));
    }
    kf->held[s] = kf->merger.pending[s].active;
    if (kf->held[s] && !was_held) {
        kf->hold_start[s] = start;
        kf->hold_since[s] = sl_now_mono_ns();
    }
    if (m.result == K8S_MERGE_TOO_BIG)
        report_too_big(src, kf, &m);
    if (m.result != K8S_MERGE_LINE)
        return tail_note(tb, kf->f, safe_commit(kf, end));
    event *e = tail_push(tb, kf->f, safe_commit(kf, end));
    if (!e)
        return 0;
    value msg;
    if (m.data == content) {
        msg = value_bytes(content, len);          /* the line itself: no copy */
    } else {
        char *copy = arena_alloc(tail_arena(tb), m.len ? m.len : 1);
        if (!copy) {
            e->type = EVENT_LOG;
            e->u.log = value_null();
            return -1;
        }
        memcpy(copy, m.data, m.len);
        msg = value_bytes(copy, m.len);
    }
    return build_event(tb, kf, e, msg, (int)m.stream, m.timestamp_ns, false);
}

static int parse_line(k8s_source *src, tail_batch *tb, k8s_file *kf, const char *line,
                      size_t len, uint64_t end)
{
    uint64_t start = end - len - 1;
    sl_error err;
    if (kf->format == K8S_FORMAT_UNKNOWN)
        kf->format = k8s_detect_format(line, len);
    if (kf->format == K8S_FORMAT_CRI) {
        k8s_cri_line c;
        if (k8s_parse_cri(line, len, &c, &err) == 0)
            return take_chunk(src, tb, kf, c.stream, c.partial, c.content, c.content_len,
                              c.timestamp_ns, start, end);
    } else if (kf->format == K8S_FORMAT_DOCKER) {
        k8s_docker_line d;
        if (k8s_parse_docker(tail_arena(tb), line, len, &d, &err) == 0)
            return take_chunk(src, tb, kf, d.stream, d.partial, d.content, d.content_len,
                              d.timestamp_ns, start, end);
    } else {
        snprintf(err.msg, sizeof(err.msg), "not a CRI or docker line");
    }
    report_parse_error(src, kf, err.msg);
    event *e = tail_push(tb, kf->f, safe_commit(kf, end));
    return e ? build_event(tb, kf, e, value_bytes(line, len), -1,
                           tail_read_time_ns(tb), false) : 0;
}

static int on_line(void *ud, tail_batch *tb, tailer_file *f, const char *line, size_t len,
                   uint64_t end)
{
    k8s_source *src = ud;
    k8s_file *kf = file_state(src, f);
    if (!kf)
        return -1;
    kf->f = f;
    kf->last_end = end;
    src->lines_read++;
    if (kf->skip)
        return tail_note(tb, f, end);
    return parse_line(src, tb, kf, line, len, end);
}

/* ---- held lines ---- */

/* Pushes the stream's held line as it is; commit: how far its file may
 * then be checkpointed. */
static int flush_stream(tail_batch *tb, k8s_file *kf, int s)
{
    k8s_merged m;
    k8s_merger_flush(&kf->merger, (k8s_stream)s, &m);
    kf->held[s] = false;
    if (m.result != K8S_MERGE_LINE)
        return tail_note(tb, kf->f, safe_commit(kf, kf->last_end));
    return push_copy(tb, kf, safe_commit(kf, kf->last_end), m.data, m.len, s,
                     m.timestamp_ns);
}

static void on_closed(void *ud, tail_batch *tb, tailer_file *f)
{
    k8s_source *src = ud;
    k8s_file *kf = f->user;
    if (!kf)
        return;
    if (tb && kf->gen == f->gen && !kf->skip) {
        /* f is the engine's copy; the tailer's own may be gone after this. */
        kf->f = f;
        int first = kf->held[1] && (!kf->held[0] || kf->hold_start[1] < kf->hold_start[0]);
        for (int i = 0; i < K8S_STREAMS; i++) {
            int s = i == 0 ? first : !first;
            if (kf->held[s] && flush_stream(tb, kf, s) < 0)
                break;
        }
    }
    f->user = NULL;
    file_state_free(src, kf);
}

static void on_idle(void *ud, tail_batch *tb, int64_t now)
{
    k8s_source *src = ud;
    flush_counters(src);
    for (k8s_file *kf = src->files; kf; kf = kf->next) {
        if (kf->f->user != kf || kf->f->gen != kf->gen)
            continue;   /* closed or started over: the closed/line hook handles it */
        for (int s = 0; s < K8S_STREAMS; s++)
            if (kf->held[s] && now - kf->hold_since[s] >= src->partial_timeout_ns &&
                flush_stream(tb, kf, s) < 0)
                return;
    }
}

/* ---- lifetime ---- */

static int k8s_build(const void *options, const component_info *info, void **state,
                     sl_error *err)
{
    const k8s_options *o = options;
    k8s_source *src = calloc(1, sizeof(*src));
    if (!src || !(src->id = strdup(info->id))) {
        free(src);
        return sl_fail(err, "out of memory");
    }
    src->merge = o->auto_partial_merge;
    src->max_merged = (size_t)o->max_merged_line_bytes;
    src->partial_timeout_ns = (int64_t)o->partial_merge_timeout_ms * 1000000LL;
    if (discovery_patterns(src, o->pod_logs_dir, err) < 0 ||
        copy_include(src, &o->include, err) < 0) {
        source_free(src);
        return -1;
    }
    tail_source_options to = {
        .tailer = {
            .include = src->discover,
            .ninclude = src->ndiscover,
            .exclude = o->exclude.items,
            .nexclude = o->exclude.n,
            .read_from_end = o->read_from == READ_FROM_END,
            .ignore_older_secs = o->ignore_older_secs,
            .max_line_bytes = (size_t)o->max_line_bytes,
            .delimiter = "\n",
            .delimiter_len = 1,
            .fingerprint = TAILER_FP_CHECKSUM,
            .fingerprint_lines = (uint32_t)o->fingerprint_lines,
            .max_open_files = (size_t)o->max_open_files,
            .oldest_first = o->oldest_first,
            .accept = included,
            .accept_ud = src,
        },
        .data_dir = o->data_dir,
        .rescan_ms = o->glob_minimum_cooldown_ms,
        .hooks = {.line = on_line, .closed = on_closed, .idle = on_idle, .ud = src},
    };
    if (tail_source_new(&to, info, &src->ts, err) < 0) {
        source_free(src);
        return -1;
    }
    register_metrics(src);
    *state = src;
    return 0;
}

static int k8s_run(void *state, source_ctx *ctx, sl_error *err)
{
    k8s_source *src = state;
    int rc = tail_source_run(src->ts, ctx, err);
    flush_counters(src);
    return rc;
}

static void k8s_destroy(void *state)
{
    k8s_source *src = state;
    if (src)
        flush_counters(src);
    source_free(src);
}

/* The pod metadata as the remap language sees it. The pre-1.14 layout names
 * no namespace nor pod, so those two may be missing (null). */
#define K8S_STRING EVENT_KIND(VALUE_BYTES)
static const event_field_type k8s_fields[] = {
    {".kubernetes.container_name", K8S_STRING},
    {".kubernetes.pod_name", K8S_STRING | EVENT_KIND(VALUE_NULL)},
    {".kubernetes.pod_namespace", K8S_STRING | EVENT_KIND(VALUE_NULL)},
    {".kubernetes.pod_uid", K8S_STRING},
};

const component_desc source_kubernetes_logs_desc = {
    .type = "kubernetes_logs",
    .kind = COMPONENT_SOURCE,
    .acknowledges = true,
    .position_without_acks = "its checkpoints move as lines are read",
    .summary = "Logs of the pods on this node, from kubelet's files under /var/log/pods.",
    .options = k8s_option_table,
    .options_size = sizeof(k8s_options),
    .output_types = EVENT_LOG,
    .fields = k8s_fields,
    .nfields = SL_ARRAY_LEN(k8s_fields),
    .check = k8s_check,
    .build = k8s_build,
    .destroy = k8s_destroy,
    .source_run = k8s_run,
};
