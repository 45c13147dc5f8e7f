/* path.h - Vector's field paths: `.message`, `.kubernetes.pod_name`,
 * `."key with space"`, `.items[0]`, `.items[-1]`, `.` (the whole event).
 *
 * A parsed path is a small array of segments owned by the path (path_free).
 * It is parsed once at config load and used on every event. */
#ifndef SLUICE_PATH_H
#define SLUICE_PATH_H

#include "pipeline/common.h"
#include "pipeline/value.h"

typedef struct path_segment {
    bool is_index;
    int64_t index;   /* is_index: array index, negative counts from the end */
    char *key;       /* !is_index: field name, NUL-terminated, owned */
    uint32_t klen;
} path_segment;

typedef struct path {
    path_segment *segs;
    size_t n;        /* 0 = the root `.` */
} path;

/* Parses `text` (the leading dot is optional, as in Vector's templates:
 * "kubernetes.pod_name" == ".kubernetes.pod_name"). */
int path_parse(const char *text, path *out, sl_error *err);
void path_free(path *p);

/* The value at p under root, or NULL when absent. */
const value *path_get(const value *root, const path *p);
/* The slot at p, creating maps and extending arrays as needed (replacing
 * non-container values on the way, as VRL assignment does). NULL on
 * allocation failure. */
value *path_set(arena *a, value *root, const path *p);

#endif
