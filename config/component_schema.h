/* component_schema.h - component kinds, and what the configuration knows of
 * a component type: its option table and its own checks.
 *
 * config/ sits below the component contract and the runtime: it parses each
 * component's options through a component_catalog that its caller passes to
 * config_load. The registry (pipeline/registry.c) supplies the real catalog,
 * so config/ reads option tables without depending on what builds and runs
 * components. The descriptor a lookup returns is carried in component_config
 * for the layers above; config/ never looks inside it. */
#ifndef SLUICE_COMPONENT_SCHEMA_H
#define SLUICE_COMPONENT_SCHEMA_H

#include <stddef.h>
#include <stdbool.h>
#include "config/cfg_node.h"
#include "config/diag.h"
#include "config/options.h"

typedef enum component_kind {
    COMPONENT_SOURCE = 0,
    COMPONENT_TRANSFORM,
    COMPONENT_SINK,
} component_kind;

/* "source" / "transform" / "sink" */
const char *component_kind_name(component_kind kind);

struct component_desc;

/* One component type as the configuration sees it. Everything points to
 * static data of the type (its descriptor), never owned. */
typedef struct component_schema {
    const struct component_desc *desc;   /* the type itself, for the layers above */
    const opt_spec *options;             /* the type's option table */
    size_t options_size;                 /* size of the struct the table fills */
    /* Semantic checks beyond the table; adds to diags under label, returns
     * the number of errors. May be NULL. */
    size_t (*check)(const void *options, const char *label, const cfg_node *node,
                    diag_list *diags);
} component_schema;

/* The component types a configuration may name. */
typedef struct component_catalog {
    /* Fills *out and returns true when kind has a public or internal type
     * of that name; false when it has none. */
    bool (*find)(component_kind kind, const char *type, component_schema *out);
    /* Every public type of a kind, for did-you-mean on a misspelled type;
     * returns how many it put in names (at most max). */
    size_t (*type_names)(component_kind kind, const char **names, size_t max);
} component_catalog;

#endif
