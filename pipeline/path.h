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

/* The position an index refers to in an array of len items (a negative
 * index counts from the end), or -1 when there is none. */
static inline int64_t path_resolve_index(int64_t index, uint32_t len)
{
    if (index < 0)
        index += len;
    return index < 0 || index >= (int64_t)len ? -1 : index;
}

/* One step of a walk down a value: the field key of a map, or the item at
 * index of an array; NULL when cur is not that kind of container or has no
 * such member. Every walker (path_get, the remap language's compiled paths)
 * takes its steps here. */
static inline const value *path_step(const value *cur, bool is_index, int64_t index,
                                     const char *key, uint32_t klen)
{
    if (is_index) {
        if (cur->kind != VALUE_ARRAY)
            return NULL;
        int64_t at = path_resolve_index(index, cur->u.arr->len);
        return at < 0 ? NULL : &cur->u.arr->items[at];
    }
    return cur->kind == VALUE_MAP ? value_map_get(cur->u.map, key, klen) : NULL;
}

/* The value at p under root, or NULL when absent. */
const value *path_get(const value *root, const path *p);
/* The slot at p, creating maps and extending arrays as needed (replacing
 * non-container values on the way, as VRL assignment does). NULL on
 * allocation failure. */
value *path_set(arena *a, value *root, const path *p);

#endif
