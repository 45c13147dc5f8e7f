/* k8s_format.h - the formats of Kubernetes pod log files, as pure functions.
 *
 * The kubernetes_logs source reads files the container runtime writes under
 * the kubelet's pod log directory: CRI lines (containerd, CRI-O) or docker
 * json-file lines, long lines cut into partial chunks, and paths that carry the
 * pod's identity. Everything here is free of threads and I/O so that it can be
 * unit tested and fuzzed exhaustively; the source adds the reading. */
#ifndef SLUICE_K8S_FORMAT_H
#define SLUICE_K8S_FORMAT_H

#include "pipeline/common.h"
#include "pipeline/arena.h"

typedef enum k8s_stream {
    K8S_STDOUT = 0,
    K8S_STDERR = 1
} k8s_stream;

#define K8S_STREAMS 2

/* "stdout" or "stderr". */
const char *k8s_stream_name(k8s_stream s);

/* One CRI line: `<timestamp> <stdout|stderr> <tags> <content>`. */
typedef struct k8s_cri_line {
    int64_t timestamp_ns;
    k8s_stream stream;
    bool partial;          /* first tag `P`; `F` is a full line */
    const char *content;   /* points into the line; not terminated */
    size_t content_len;
} k8s_cri_line;

/* Parses a line without its trailing newline. Tags are split on `:` and only
 * the first counts; a line that ends right after the tags has empty content.
 * Errors name what is wrong and the byte offset. */
int k8s_parse_cri(const char *line, size_t len, k8s_cri_line *out, sl_error *err);

/* One docker json-file line. */
typedef struct k8s_docker_line {
    int64_t timestamp_ns;
    k8s_stream stream;
    bool partial;          /* `log` did not end with `\n` (a 16 KiB chunk) */
    const char *content;   /* `log` without its `\n`, in `a` or in the line */
    size_t content_len;
} k8s_docker_line;

/* Decodes `{"log":...,"stream":...,"time":...}` (other keys such as `attrs`
 * are ignored) into memory from `a`; content may point into `line`, which must
 * outlive it. A missing or ill-typed field is an error naming it. */
int k8s_parse_docker(arena *a, const char *line, size_t len, k8s_docker_line *out,
                     sl_error *err);

typedef enum k8s_format {
    K8S_FORMAT_UNKNOWN = 0,
    K8S_FORMAT_CRI,
    K8S_FORMAT_DOCKER
} k8s_format;

/* The format of a file from its first line: docker lines start with `{`
 * (after any JSON whitespace), CRI lines parse as CRI. */
k8s_format k8s_detect_format(const char *first_line, size_t len);

/* Joins partial chunks into lines, separately for stdout and stderr, since a
 * runtime interleaves the two streams' chunks in one file.
 *
 * As Vector does, a joined line takes the timestamp of its first chunk, and a
 * line longer than max_merged_line_bytes is discarded whole (not truncated):
 * the chunk that crosses the limit reports K8S_MERGE_TOO_BIG once, and the
 * rest of that line's chunks are dropped up to and including its full chunk.
 * A full line that is too long on its own is discarded in the same way. The
 * pending bytes of a stream never exceed the limit. */
typedef enum k8s_merge_result {
    K8S_MERGE_PENDING = 0, /* nothing complete yet */
    K8S_MERGE_LINE,        /* out holds a complete line */
    K8S_MERGE_TOO_BIG      /* a line just went over the limit: count and log it */
} k8s_merge_result;

typedef struct k8s_merged {
    k8s_merge_result result;
    const char *data;      /* K8S_MERGE_LINE: the line's bytes */
    size_t len;
    int64_t timestamp_ns;  /* of the line's first chunk */
    k8s_stream stream;
    size_t too_big_len;    /* K8S_MERGE_TOO_BIG: bytes gathered when the limit was crossed */
} k8s_merged;

typedef struct k8s_pending {
    char *data;            /* heap, owned by the merger */
    size_t len, cap;
    int64_t timestamp_ns;
    bool active;           /* a partial line is being gathered */
    bool too_big;          /* the line went over the limit: skip to its end */
} k8s_pending;

typedef struct k8s_merger {
    k8s_pending pending[K8S_STREAMS];
    size_t max_bytes;      /* 0: no limit */
    uint64_t too_big_lines;
} k8s_merger;

void k8s_merger_init(k8s_merger *m, size_t max_merged_line_bytes);
void k8s_merger_free(k8s_merger *m);

/* Feeds one chunk. A line's bytes in out stay valid until the next feed or
 * flush of the same stream: a full line with nothing pending points at
 * `content` itself (no copy), a joined one into the merger. -1 only when
 * memory runs out (the pending line is then dropped). */
int k8s_merger_feed(k8s_merger *m, k8s_stream s, bool partial, const char *content,
                    size_t len, int64_t timestamp_ns, k8s_merged *out, sl_error *err);

/* Ends the stream's pending partial line, at the end of a file or when it has
 * waited too long: K8S_MERGE_LINE with what was gathered, or PENDING when
 * there was none (or it had gone over the limit). */
void k8s_merger_flush(k8s_merger *m, k8s_stream s, k8s_merged *out);

/* Pieces of a pod log path; they point into the path. */
typedef struct k8s_span {
    const char *ptr;
    size_t len;
} k8s_span;

enum {
    K8S_POD_NAMESPACE = 1u << 0,
    K8S_POD_NAME = 1u << 1,
    K8S_POD_UID = 1u << 2,
    K8S_POD_CONTAINER = 1u << 3
};

typedef struct k8s_pod_path {
    unsigned fields;       /* K8S_POD_* bits for the pieces found */
    k8s_span pod_namespace, pod_name, pod_uid, container;
    uint32_t restart;      /* the `<n>` of `<n>.log` */
    bool rotated;          /* `.log.<YYYYMMDD-hhmmss>` */
} k8s_pod_path;

/* `<dir>/<namespace>_<pod>_<uid>/<container>/<n>.log` gives all four pieces;
 * the pre-1.14 `<dir>/<uid>/<container>_<n>.log` gives uid and container.
 * Either may carry kubelet's rotation suffix. -1 for any other layout. */
int k8s_parse_pod_path(const char *path, k8s_pod_path *out);

#endif
