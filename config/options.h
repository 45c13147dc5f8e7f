/* options.h - option tables: one per component type, declaring every option
 * it takes (name, type, default, required, range, enum values, help).
 *
 * The same table parses a component's config map into its options struct,
 * refuses unknown keys with a did-you-mean, types and range-checks values,
 * fills defaults, accepts older names and no-effect options with a warning,
 * and prints `sluice doc TYPE`. Rows are written with the OPT_*_ROW macros
 * (designated initializers, so a row says what each value is); tables end
 * with OPT_END.
 *
 * Storage at `offset` in the target struct, by type:
 *   OPT_BOOL bool, OPT_INT int64_t, OPT_UINT uint64_t, OPT_FLOAT double,
 *   OPT_STRING char * (heap, owned by the struct: opt_free releases it),
 *   OPT_ENUM an int-sized enum (the `value` of the name given),
 *   OPT_STRING_LIST opt_list,
 *   OPT_OBJECT nothing itself: its `fields` are parsed from the nested map
 *   into the same struct, OPT_NODE const cfg_node * (borrowed from the
 *   document, valid as long as the loaded config).
 *   OPT_ALIAS and OPT_NO_EFFECT store nothing: an alias is an older name of
 *   the option `alias` (in the same table), parsed as that option; a
 *   no-effect option takes any value and is only warned about.
 * A missing OPT_STRING without default stays NULL; `opt_set` tells whether a
 * key was given. The row macros check at compile time that the field has
 * the type's storage. */
#ifndef SLUICE_OPTIONS_H
#define SLUICE_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "config/cfg_node.h"
#include "config/diag.h"

typedef enum opt_type {
    OPT_BOOL = 0,
    OPT_INT,
    OPT_UINT,
    OPT_FLOAT,
    OPT_STRING,
    OPT_ENUM,
    OPT_STRING_LIST,
    OPT_OBJECT,
    OPT_NODE,
    OPT_ALIAS,
    OPT_NO_EFFECT,
} opt_type;

typedef struct opt_list {
    char **items;   /* owned */
    size_t n;
} opt_list;

/* One name of an enum option and the component's C enum value for it. */
typedef struct opt_enum_value {
    const char *name;              /* NULL ends a list */
    int value;
} opt_enum_value;

typedef struct opt_spec {
    const char *name;              /* NULL ends a table */
    opt_type type;
    size_t offset;
    const char *def;               /* default as config text, or NULL */
    bool required;
    const char *help;
    const opt_enum_value *values;  /* OPT_ENUM: ends with {NULL, 0} */
    const struct opt_spec *fields; /* OPT_OBJECT */
    /* Numbers: the allowed range (OPT_MIN, OPT_ABOVE, OPT_MAX, OPT_BELOW). */
    bool has_min, has_max, min_exclusive, max_exclusive;
    double min, max;
    const char *unit;              /* "seconds": said in range messages and doc */
    bool nonempty;                 /* strings and lists: "" or [] is refused */
    const char *alias;             /* OPT_ALIAS: the option's current name */
    const char *deprecated;        /* given: a warning with this advice */
    const char *no_effect;         /* OPT_NO_EFFECT: why ("has no effect: ...") */
} opt_spec;

/* Offset of field f of T, refused at compile time unless `is_type` (an
 * integer constant expression about ((T *)0)->f) holds. */
#define OPT_CHECKED_OFFSET(T, f, is_type) \
    (offsetof(T, f) + 0 * sizeof(char[(is_type) ? 1 : -1]))
#define OPT_FIELD_OF(T, f, C) OPT_CHECKED_OFFSET(T, f, _Generic(((T *)0)->f, C: 1, default: 0))

/* Rows: name, struct, field, then designated initializers (.def, .required,
 * .help, OPT_RANGE(...), .unit, .nonempty, .deprecated). */
#define OPT_BOOL_ROW(n, T, f, ...) \
    {.name = (n), .type = OPT_BOOL, .offset = OPT_FIELD_OF(T, f, bool), __VA_ARGS__}
#define OPT_INT_ROW(n, T, f, ...) \
    {.name = (n), .type = OPT_INT, .offset = OPT_FIELD_OF(T, f, int64_t), __VA_ARGS__}
#define OPT_UINT_ROW(n, T, f, ...) \
    {.name = (n), .type = OPT_UINT, .offset = OPT_FIELD_OF(T, f, uint64_t), __VA_ARGS__}
#define OPT_FLOAT_ROW(n, T, f, ...) \
    {.name = (n), .type = OPT_FLOAT, .offset = OPT_FIELD_OF(T, f, double), __VA_ARGS__}
#define OPT_STRING_ROW(n, T, f, ...) \
    {.name = (n), .type = OPT_STRING, .offset = OPT_FIELD_OF(T, f, char *), __VA_ARGS__}
#define OPT_LIST_ROW(n, T, f, ...) \
    {.name = (n), .type = OPT_STRING_LIST, .offset = OPT_FIELD_OF(T, f, opt_list), __VA_ARGS__}
#define OPT_NODE_ROW(n, T, f, ...) \
    {.name = (n), .type = OPT_NODE, .offset = OPT_FIELD_OF(T, f, const cfg_node *), \
     __VA_ARGS__}
/* An enum field is an int or a C enum of int's size. */
#define OPT_ENUM_ROW(n, T, f, vals, ...)                                              \
    {.name = (n), .type = OPT_ENUM,                                                   \
     .offset = OPT_CHECKED_OFFSET(T, f, sizeof(((T *)0)->f) == sizeof(int)), .values = (vals), \
     __VA_ARGS__}
#define OPT_OBJECT_ROW(n, flds, ...) \
    {.name = (n), .type = OPT_OBJECT, .fields = (flds), __VA_ARGS__}
/* Vector's older name of an option of the same table. */
#define OPT_ALIAS_ROW(old, current) {.name = (old), .type = OPT_ALIAS, .alias = (current)}
/* Accepted so that Vector configs load; `why` completes "option X is
 * accepted but ...". */
#define OPT_NO_EFFECT_ROW(n, why, ...) \
    {.name = (n), .type = OPT_NO_EFFECT, .no_effect = (why), __VA_ARGS__}
#define OPT_END {.name = NULL}

/* Ranges of number rows: inclusive (MIN, MAX) or exclusive (ABOVE, BELOW). */
#define OPT_MIN(v) .has_min = true, .min = (v)
#define OPT_MAX(v) .has_max = true, .max = (v)
#define OPT_ABOVE(v) .has_min = true, .min_exclusive = true, .min = (v)
#define OPT_BELOW(v) .has_max = true, .max_exclusive = true, .max = (v)
#define OPT_RANGE(lo, hi) OPT_MIN(lo), OPT_MAX(hi)

/* One table and the struct it fills. */
typedef struct opt_target {
    const opt_spec *table;
    void *base;
} opt_target;

/* Parses map (a CFG_MAP or NULL for "all defaults") against the tables,
 * which together must know every key; `ignore` lists keys handled elsewhere
 * (NULL-terminated, may be NULL). Problems go to diags under `component`
 * ("sinks.out"). Returns the number of errors added. */
size_t opt_apply(const cfg_node *map, const opt_target *targets, size_t ntargets,
                 const char *const *ignore, const char *component, diag_list *diags);

/* Frees what opt_apply allocated in base (strings, lists). */
void opt_free(const opt_spec *table, void *base);

/* Appends the documentation of a table: one line per option, nested objects
 * as `encoding.codec`, with type (enum values), default, required, range,
 * and older names and no-effect options with what they mean. */
int opt_doc(const opt_spec *table, buf *out);

/* The closest name in candidates within a small edit distance, or NULL. */
const char *opt_did_you_mean(const char *word, const char *const *candidates, size_t n);

/* Whether map gives `name` (dotted for nested maps: "buffer.type") a
 * non-null value. */
bool opt_set(const cfg_node *map, const char *name);

/* YAML 1.1/1.2 booleans: true/false, yes/no, on/off (any case). */
int opt_parse_bool(const char *text, bool *out);

#endif
