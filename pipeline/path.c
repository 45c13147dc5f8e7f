/* path.c - parsing and walking Vector's field paths (see path.h).
 *
 * Grammar: an optional leading dot, then segments separated by dots; a
 * segment is a bare name, a double-quoted name (with \" \\ \n \t \r escapes)
 * or an array index in brackets, which may follow a name directly
 * (`.items[0]`) and may be negative (counted from the end). Bare names stop at
 * a dot, a bracket, a quote or whitespace, so `kubernetes.pod_name` and
 * `app-name` parse as Vector's lookup does. */
#include "pipeline/path.h"

#include <stdlib.h>
#include <string.h>

/* Room for the fields of a map created on the way to a new leaf. */
#define PATH_NEW_MAP_CAP 4

typedef struct path_parser {
    const char *text;
    size_t pos;
    path *out;
    size_t cap;
    sl_error *err;
} path_parser;

static int parse_fail(path_parser *pp, const char *what)
{
    return sl_fail(pp->err, "invalid path \"%s\" at offset %zu: %s", pp->text, pp->pos, what);
}

static path_segment *push_segment(path_parser *pp)
{
    path *p = pp->out;
    if (SL_GROW(p->segs, p->n, pp->cap, 4) < 0)
        return NULL;
    path_segment *s = &p->segs[p->n++];
    memset(s, 0, sizeof(*s));
    return s;
}

static bool is_bare_char(char c)
{
    switch (c) {
    case '\0': case '.': case '[': case ']': case '"':
    case ' ': case '\t': case '\n': case '\r': case '\v': case '\f':
        return false;
    default:
        return true;
    }
}

static int add_field(path_parser *pp, char *key, size_t klen)
{
    path_segment *s = push_segment(pp);
    if (!s) {
        free(key);
        return sl_fail(pp->err, "out of memory parsing path \"%s\"", pp->text);
    }
    s->is_index = false;
    s->key = key;
    s->klen = (uint32_t)klen;
    return 0;
}

static int parse_bare_field(path_parser *pp)
{
    const char *start = pp->text + pp->pos;
    size_t n = 0;
    while (is_bare_char(start[n]))
        n++;
    if (n == 0)
        return parse_fail(pp, "expected a field name");
    char *key = malloc(n + 1);
    if (!key)
        return sl_fail(pp->err, "out of memory parsing path \"%s\"", pp->text);
    memcpy(key, start, n);
    key[n] = '\0';
    pp->pos += n;
    return add_field(pp, key, n);
}

static int unescape_char(char c, char *out)
{
    switch (c) {
    case '"': *out = '"'; return 0;
    case '\\': *out = '\\'; return 0;
    case 'n': *out = '\n'; return 0;
    case 't': *out = '\t'; return 0;
    case 'r': *out = '\r'; return 0;
    default: return -1;
    }
}

/* pp->pos is at the opening quote. */
static int parse_quoted_field(path_parser *pp)
{
    size_t start = ++pp->pos;
    size_t end = start;
    while (pp->text[end] && pp->text[end] != '"') {
        if (pp->text[end] == '\\' && pp->text[end + 1])
            end++;
        end++;
    }
    if (!pp->text[end]) {
        pp->pos = end;
        return parse_fail(pp, "unterminated quoted field name");
    }
    char *key = malloc(end - start + 1);
    if (!key)
        return sl_fail(pp->err, "out of memory parsing path \"%s\"", pp->text);
    size_t n = 0;
    for (size_t i = start; i < end; i++) {
        char c = pp->text[i];
        if (c == '\\') {
            i++;
            if (unescape_char(pp->text[i], &c) < 0) {
                free(key);
                pp->pos = i;
                return parse_fail(pp, "unknown escape in quoted field name");
            }
        }
        key[n++] = c;
    }
    key[n] = '\0';
    pp->pos = end + 1;
    return add_field(pp, key, n);
}

/* pp->pos is at the opening bracket. */
static int parse_index(path_parser *pp)
{
    const char *t = pp->text;
    size_t i = pp->pos + 1;
    bool negative = false;
    if (t[i] == '-') {
        negative = true;
        i++;
    }
    if (t[i] < '0' || t[i] > '9') {
        pp->pos = i;
        return parse_fail(pp, "expected an array index");
    }
    int64_t idx = 0;
    size_t digits = i;
    while (t[i] >= '0' && t[i] <= '9') {
        if (idx > (INT64_MAX - (t[i] - '0')) / 10) {
            pp->pos = digits;
            return parse_fail(pp, "array index out of range");
        }
        idx = idx * 10 + (t[i] - '0');
        i++;
    }
    if (t[i] != ']') {
        pp->pos = i;
        return parse_fail(pp, "expected ']'");
    }
    path_segment *s = push_segment(pp);
    if (!s)
        return sl_fail(pp->err, "out of memory parsing path \"%s\"", pp->text);
    s->is_index = true;
    s->index = negative ? -idx : idx;
    pp->pos = i + 1;
    return 0;
}

static int parse_field(path_parser *pp)
{
    if (pp->text[pp->pos] == '"')
        return parse_quoted_field(pp);
    return parse_bare_field(pp);
}

static int parse_segments(path_parser *pp)
{
    const char *t = pp->text;
    if (t[pp->pos] == '.') {
        pp->pos++;
        if (t[pp->pos] == '\0')
            return 0;
    } else if (t[pp->pos] == '\0') {
        return parse_fail(pp, "empty path");
    }
    if (t[pp->pos] != '[' && parse_field(pp) < 0)
        return -1;
    for (;;) {
        char c = t[pp->pos];
        if (c == '\0')
            return 0;
        if (c == '[') {
            if (parse_index(pp) < 0)
                return -1;
        } else if (c == '.') {
            pp->pos++;
            if (parse_field(pp) < 0)
                return -1;
        } else {
            return parse_fail(pp, "expected '.', '[' or the end");
        }
    }
}

int path_parse(const char *text, path *out, sl_error *err)
{
    path_parser pp = {text, 0, out, 0, err};
    out->segs = NULL;
    out->n = 0;
    if (parse_segments(&pp) < 0) {
        path_free(out);
        return -1;
    }
    return 0;
}

void path_free(path *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        if (!p->segs[i].is_index)
            free(p->segs[i].key);
    free(p->segs);
    p->segs = NULL;
    p->n = 0;
}

const value *path_get(const value *root, const path *p)
{
    const value *cur = root;
    for (size_t i = 0; i < p->n && cur; i++) {
        const path_segment *s = &p->segs[i];
        cur = path_step(cur, s->is_index, s->index, s->key, s->klen);
    }
    return cur;
}

static value *set_field(arena *a, value *cur, const path_segment *s)
{
    if (cur->kind != VALUE_MAP) {
        *cur = value_new_map(a, PATH_NEW_MAP_CAP);
        if (cur->kind != VALUE_MAP)
            return NULL;
    }
    value *slot = value_map_get(cur->u.map, s->key, s->klen);
    if (slot)
        return slot;
    /* The event may outlive the parsed path (a config reload), so the key is
     * copied into the event's arena. */
    const char *key = arena_strndup(a, s->key, s->klen);
    if (!key)
        return NULL;
    return value_map_put(a, cur->u.map, key, s->klen);
}

static value *set_index(arena *a, value *cur, const path_segment *s)
{
    if (cur->kind != VALUE_ARRAY) {
        *cur = value_new_array(a, 0);
        if (cur->kind != VALUE_ARRAY)
            return NULL;
    }
    value_array *arr = cur->u.arr;
    int64_t idx = s->index;
    if (idx >= 0) {
        if (idx >= UINT32_MAX)
            return NULL;
        if (idx >= (int64_t)arr->len && value_array_pad(a, arr, (uint32_t)idx + 1, false) < 0)
            return NULL;
        return &arr->items[idx];
    }
    if (-idx <= (int64_t)arr->len)
        return &arr->items[(int64_t)arr->len + idx];
    if (-idx >= UINT32_MAX)
        return NULL;
    if (value_array_pad(a, arr, (uint32_t)-idx, true) < 0)
        return NULL;
    return &arr->items[0];
}

value *path_set(arena *a, value *root, const path *p)
{
    value *cur = root;
    for (size_t i = 0; i < p->n && cur; i++) {
        const path_segment *s = &p->segs[i];
        cur = s->is_index ? set_index(a, cur, s) : set_field(a, cur, s);
    }
    return cur;
}
