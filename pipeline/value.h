/* value.h - the tree of values a log event holds.
 *
 * A value is 16 bytes: a kind and a payload. Strings are byte strings with a
 * length (they may hold invalid UTF-8 and NULs, and need not be terminated);
 * they point into arena memory, into the raw input block of the batch, or at
 * static storage, and are never freed one by one. Maps keep their entries
 * sorted by key bytes, which makes lookups a binary search and gives encoders
 * Vector's key order for free. Arrays and maps are allocated from, and grow
 * inside, the arena of the batch that owns the event. */
#ifndef SLUICE_VALUE_H
#define SLUICE_VALUE_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "pipeline/arena.h"

typedef enum value_kind {
    VALUE_NULL = 0,
    VALUE_BOOL,
    VALUE_INT,
    VALUE_FLOAT,
    VALUE_BYTES,
    VALUE_TIMESTAMP, /* nanoseconds since the Unix epoch, UTC */
    VALUE_ARRAY,
    VALUE_MAP
} value_kind;

typedef struct value_array value_array;
typedef struct value_map value_map;

typedef struct value {
    uint8_t kind;    /* value_kind */
    uint32_t len;    /* VALUE_BYTES: length in bytes */
    union {
        bool b;
        int64_t i;
        double f;
        const char *s;
        int64_t ts;
        value_array *arr;
        value_map *map;
    } u;
} value;

struct value_array {
    uint32_t len, cap;
    value *items;
};

typedef struct value_entry {
    const char *key;
    uint32_t klen;
    value val;
} value_entry;

struct value_map {
    uint32_t len, cap;
    value_entry *entries; /* sorted by (key bytes, length) */
};

/* The map order: key bytes, then the shorter key first on a common prefix.
 * Field names are short and usually differ in their first bytes, so an
 * inline byte loop beats a call to memcmp (map lookups, JSON decoding and
 * sources that build sorted maps are all hot paths). */
static inline int value_key_compare(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y)
            return x < y ? -1 : 1;
    }
    return (alen > blen) - (alen < blen);
}

static inline int value_entry_compare(const value_entry *x, const value_entry *y)
{
    return value_key_compare(x->key, x->klen, y->key, y->klen);
}

static inline value value_null(void) { value v = {VALUE_NULL, 0, {0}}; return v; }
static inline value value_bool(bool b) { value v = {VALUE_BOOL, 0, {0}}; v.u.b = b; return v; }
static inline value value_int(int64_t i) { value v = {VALUE_INT, 0, {0}}; v.u.i = i; return v; }
static inline value value_float(double f) { value v = {VALUE_FLOAT, 0, {0}}; v.u.f = f; return v; }
static inline value value_timestamp(int64_t ns) { value v = {VALUE_TIMESTAMP, 0, {0}}; v.u.ts = ns; return v; }
/* Refers to s; does not copy. */
static inline value value_bytes(const char *s, size_t n) {
    value v = {VALUE_BYTES, (uint32_t)n, {0}};
    v.u.s = s;
    return v;
}

/* NULL on allocation failure. */
value_map *value_map_new(arena *a, uint32_t cap);
value_array *value_array_new(arena *a, uint32_t cap);

/* A map value wrapping a new empty map; kind VALUE_NULL on failure. */
value value_new_map(arena *a, uint32_t cap);
value value_new_array(arena *a, uint32_t cap);

/* A copy of m's entries (keys and values referenced, not copied) with room
 * for `extra` more, so that inserting into it never reallocates: a view to
 * change without touching m. NULL on allocation failure. */
value_map *value_map_copy_entries(arena *a, const value_map *m, uint32_t extra);

value *value_map_get(const value_map *m, const char *key, size_t klen);
/* The slot for key: the existing one, or a new VALUE_NULL one inserted in
 * order. The key is referenced, not copied. NULL on allocation failure. */
value *value_map_put(arena *a, value_map *m, const char *key, size_t klen);
/* Sets key (NUL-terminated, referenced) to v unless the map has it already.
 * -1 on allocation failure. */
int value_map_put_if_absent(arena *a, value_map *m, const char *key, value v);
/* Removes key; true when it was there. */
bool value_map_del(value_map *m, const char *key, size_t klen);
/* Appends a slot; NULL on allocation failure. */
value *value_array_push(arena *a, value_array *arr);

/* Grows arr to `want` items, padding with nulls: at the front when `front`
 * (a negative index that reaches before the start, as VRL assigns it).
 * -1 on allocation failure. */
int value_array_pad(arena *a, value_array *arr, uint32_t want, bool front);

/* Deep copy of src into dst's memory (strings included). -1 on failure. */
int value_copy(arena *dst, const value *src, value *out);

/* Structural equality (floats compare by value, NaN unequal). */
bool value_equal(const value *a, const value *b);

/* The bytes a JSON encoding of v would take, estimated without encoding
 * (Vector's estimated_json_encoded_size_of): used for *_event_bytes_total. */
size_t value_json_size_estimate(const value *v);

#endif
