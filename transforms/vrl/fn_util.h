/* fn_util.h - helpers the standard library's function groups share.
 *
 * VRL's functions read their string arguments as Rust's
 * String::from_utf8_lossy does, trim with str::trim (Unicode White_Space)
 * and report a wrong argument type as "expected string, got integer". These
 * helpers give every fn_*.c file the same behaviour, and a regex matcher
 * that treats invalid UTF-8 the way VRL does (match the lossy text) instead
 * of failing with a PCRE2 UTF error. */
#ifndef SLUICE_VRL_FN_UTIL_H
#define SLUICE_VRL_FN_UTIL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "pipeline/buf.h"
#include "pipeline/utf8.h"
#include "transforms/vrl/function.h"
#include "transforms/vrl/kinds.h"

/* VRL's name for a value kind: "string", "integer", "object", ... */
const char *vrl_kind_name(uint8_t kind);

/* Fills err with "expected <kinds>, got <kind of got>" and returns -1. */
int vrl_expected(sl_error *err, uint16_t kinds, const value *got);

/* Argument readers. Each fails with vrl_expected's message when the value
 * has another kind; the optional ones use dflt when the argument is
 * absent. Strings are not copied. */
int vrl_arg_bytes(const vrl_arg *a, const char **s, size_t *n, sl_error *err);
int vrl_arg_opt_bytes(const vrl_arg *a, const char *dflt, const char **s, size_t *n,
                      sl_error *err);
int vrl_arg_opt_bool(const vrl_arg *a, bool dflt, bool *out, sl_error *err);
int vrl_arg_opt_int(const vrl_arg *a, int64_t dflt, int64_t *out, sl_error *err);
/* A string argument as from_utf8_lossy reads it: replaced by a lossy copy
 * in the call's arena when it is not valid UTF-8. */
int vrl_arg_lossy(const vrl_call *c, const vrl_arg *a, const char **s, size_t *n,
                  sl_error *err);

/* A constant string argument given at compile time: true and its bytes when
 * present, constant and a string. */
bool vrl_const_bytes(const vrl_const_arg *a, const char **s, size_t *n);

/* ---- UTF-8 ------------------------------------------------------------- */

/* Characters are read and written with pipeline/utf8.h. */
/* Replaces *s and *n by a lossy copy in a when the text is not valid UTF-8
 * (left as is otherwise). -1 on allocation failure. */
int vrl_utf8_lossy(arena *a, const char **s, size_t *n);

/* Unicode White_Space, as Rust's char::is_whitespace. */
bool vrl_is_whitespace(uint32_t cp);
/* Narrows s/n to drop leading and trailing Unicode whitespace. */
void vrl_trim(const char **s, size_t *n);

/* Unicode simple case mapping (C.UTF-8 tables); ASCII without a lookup. */
uint32_t vrl_to_lower(uint32_t cp);
uint32_t vrl_to_upper(uint32_t cp);

/* ---- results ----------------------------------------------------------- */

/* A copy of s in a as a string value; VALUE_NULL kind on failure. */
value vrl_bytes_copy(arena *a, const char *s, size_t n);
/* A buf's contents copied into a as a string value; the buf is freed
 * either way. -1 on allocation failure. */
int vrl_bytes_from_buf(arena *a, buf *b, value *out);

/* A growing table of map entries in the arena, for results whose size is
 * not known in advance. */
typedef struct vrl_entry_list {
    value_entry *items;
    uint32_t len, cap;
} vrl_entry_list;

/* The next free entry; NULL on allocation failure. */
value_entry *vrl_entry_push(arena *a, vrl_entry_list *l);
/* Appends key = v (key is static or lives in a). -1 on allocation failure. */
int vrl_entry_put(arena *a, vrl_entry_list *l, const char *key, value v);

/* Sorts entries by key, keeping the order of equal keys. -1 on allocation
 * failure. */
int vrl_sort_entries(arena *a, value_entry *entries, uint32_t n);
bool vrl_same_key(const value_entry *x, const value_entry *y);

/* Makes *out a map of the n entries (keys and values referenced), sorted;
 * among entries with equal keys the last one wins, as when inserting them
 * in order into a BTreeMap. The array, allocated in a, becomes the map's
 * entry table. -1 on allocation failure. */
int vrl_map_from_entries(arena *a, value_entry *entries, uint32_t n, value *out);

/* ---- regexes ----------------------------------------------------------- */

/* Runs code on the subject *s (*n bytes) from byte `start` with PCRE2
 * options `opts`, using the thread's match data (returned in *md). 1 on a
 * match, 0 when none, -1 with a message on a PCRE2 error (match limit, JIT
 * stack, ...). Without PCRE2_NO_UTF_CHECK in opts the subject is checked
 * first and, when it is not valid UTF-8, replaced by its lossy copy
 * (allocated in a), which is what VRL matches; offsets always refer to *s.
 * Callers that match the same subject again pass PCRE2_NO_UTF_CHECK. */
int vrl_regex_exec(arena *a, const vrl_regex_code *code, const char **s, size_t *n,
                   size_t start, uint32_t opts, pcre2_match_data **md, sl_error *err);

/* The number of bytes the character at s[i] takes (1 when the pattern is
 * not UTF), for stepping past an empty match. */
size_t vrl_regex_step(const vrl_regex_code *code, const char *s, size_t n, size_t i);

#endif
