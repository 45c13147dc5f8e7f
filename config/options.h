/* options.h - option tables: one per component type, declaring every option
 * it takes (name, type, default, required, help).
 *
 * The same table parses a component's config map into its options struct,
 * refuses unknown keys with a did-you-mean, types and range-checks values,
 * fills defaults, and prints `sluice doc TYPE`. Tables end with OPT_END.
 *
 * Storage at `offset` in the target struct, by type:
 *   OPT_BOOL bool, OPT_INT int64_t, OPT_UINT uint64_t, OPT_FLOAT double,
 *   OPT_STRING char * (heap, owned by the struct: opt_free releases it),
 *   OPT_ENUM int (index into choices), OPT_STRING_LIST opt_list,
 *   OPT_OBJECT nothing itself: its `fields` are parsed from the nested map
 *   into the same struct, OPT_NODE const cfg_node * (borrowed from the
 *   document, valid as long as the loaded config).
 * A missing OPT_STRING without default stays NULL; `opt_set` tells whether a
 * key was given. */
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
} opt_type;

typedef struct opt_list {
    char **items;   /* owned */
    size_t n;
} opt_list;

typedef struct opt_spec {
    const char *name;              /* NULL ends a table */
    opt_type type;
    size_t offset;
    const char *def;               /* default as config text, or NULL */
    bool required;
    const char *help;
    const char *const *choices;    /* OPT_ENUM: NULL-terminated */
    const struct opt_spec *fields; /* OPT_OBJECT */
} opt_spec;

#define OPT_END {NULL, OPT_BOOL, 0, NULL, false, NULL, NULL, NULL}

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
 * as `encoding.codec`, with type, default, required and choices. */
int opt_doc(const opt_spec *table, buf *out);

/* The closest name in candidates within a small edit distance, or NULL. */
const char *opt_did_you_mean(const char *word, const char *const *candidates, size_t n);

/* Whether map gives `name` (dotted for nested maps: "buffer.type") a
 * non-null value. */
bool opt_set(const cfg_node *map, const char *name);

/* YAML 1.1/1.2 booleans: true/false, yes/no, on/off (any case). */
int opt_parse_bool(const char *text, bool *out);

#endif
