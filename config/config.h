/* config.h - a loaded pipeline configuration in Vector's shape.
 *
 * config_load reads YAML or JSON files (several -c files are merged, -C
 * directories contribute every *.yaml, *.yml and *.json in name order),
 * interpolates environment variables in parsed scalars, parses globals and
 * each component's options through its type's option table (looked up in a
 * component_catalog), and collects every problem in a diag_list. Topology
 * checks (inputs, cycles, types) are the topology module's; environment
 * checks (data_dir, healthchecks) are validate's (app/). The sl_config owns
 * everything it points to. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "config/cfg_node.h"
#include "config/component_schema.h"
#include "config/diag.h"
#include "config/options.h"

typedef enum buffer_type {
    BUFFER_MEMORY = 0,
    BUFFER_DISK,
} buffer_type;

/* The smallest buffer.max_size accepted for a disk buffer (Vector asks for
 * 256 MiB; small disks and tests need less). */
#define BUFFER_DISK_MIN_SIZE (1024u * 1024u)

typedef enum buffer_when_full {
    WHEN_FULL_BLOCK = 0,
    WHEN_FULL_DROP_NEWEST,
} buffer_when_full;

typedef struct component_config {
    char *id;
    component_kind kind;
    const struct component_desc *desc;   /* the catalog's; config/ never reads it */
    const opt_spec *options_table;       /* the type's table, which filled options */
    void *options;             /* the type's options_size bytes */
    opt_list inputs;           /* transforms and sinks */
    const cfg_node *node;      /* the component's map, for positions */
    char *label;               /* "sources.in" etc., for messages */
    /* sinks */
    int buffer_type;           /* buffer_type */
    uint64_t buffer_max_events;
    uint64_t buffer_max_size;  /* disk buffers: bytes the directory may hold */
    uint64_t buffer_sync_interval_ms;  /* disk buffers: how often to fsync */
    int buffer_when_full;      /* buffer_when_full */
    bool acks_enabled;         /* acknowledgements.enabled */
    bool acks_set;             /* given explicitly for this sink */
    bool healthcheck_enabled;
    char *healthcheck_uri;     /* healthcheck.uri: what the http sink GETs */
} component_config;

typedef struct sl_config {
    char *data_dir;            /* default /var/lib/sluice */
    bool data_dir_set;         /* given in the config: checked by validate */
    const cfg_node *data_dir_node;   /* where it was given, for messages */
    bool api_enabled;          /* default true */
    char *api_address;         /* default 127.0.0.1:8686 */
    bool acks_enabled;         /* acknowledgements.enabled, default false */
    uint64_t threads;          /* 0 = online CPUs */
    uint64_t shutdown_timeout_secs;   /* default 60 */
    component_config *components;
    size_t ncomponents;
    char **files;              /* what was loaded, for messages */
    size_t nfiles;
    void *docs;                /* the parsed documents (owned) */
} sl_config;

/* Where to read the configuration from. With no files and no dirs,
 * SL_DEFAULT_CONFIG_PATH is used when it exists, else the embedded default. */
typedef struct config_sources {
    const char *const *files;
    size_t nfiles;
    const char *const *dirs;
    size_t ndirs;
} config_sources;

#define SL_DEFAULT_CONFIG_PATH "/etc/sluice/sluice.yaml"

/* Returns NULL when any error was found (all of them are in diags; warnings
 * may be there either way). Component types are looked up in types (the
 * program passes &registry_catalog). */
sl_config *config_load(const config_sources *src, const component_catalog *types,
                       diag_list *diags);
/* Loads one in-memory document; `name` stands for the file in messages and
 * its extension (.json or not) picks the syntax. */
sl_config *config_load_text(const char *name, const char *text, size_t len,
                            const component_catalog *types, diag_list *diags);
void config_free(sl_config *cfg);

/* The embedded default pipeline (YAML) and whether config_load used it. */
extern const char config_default_yaml[];
bool config_is_default(const sl_config *cfg);

const component_config *config_find(const sl_config *cfg, const char *id);

#endif
