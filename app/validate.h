/* validate.h - everything that decides whether a configuration can run:
 * loading and options (config.h), the graph (topology.h), and, unless told
 * not to, the environment: data_dir writability and sink healthchecks.
 *
 * `sluice validate` prints a line per check (✓ passed, ✗ failed, ~ warning)
 * and `sluice run` prints only the problems, with the same messages. */
#ifndef SLUICE_VALIDATE_H
#define SLUICE_VALIDATE_H

#include <stdio.h>
#include "config/config.h"
#include "pipeline/topology.h"

#define VALIDATE_EXIT_OK 0
#define VALIDATE_EXIT_INVALID 78   /* EX_CONFIG, as Vector */

typedef struct validate_options {
    bool check_environment;   /* data_dir; healthchecks too when `healthchecks` */
    bool healthchecks;        /* run sinks' healthchecks (validate, not run) */
    bool verbose;             /* print passed checks too (validate) */
} validate_options;

/* Returns VALIDATE_EXIT_OK with *cfg and *topo set (caller frees with
 * topo_free and config_free), or VALIDATE_EXIT_INVALID after printing every
 * problem to out. Pass cfg and topo both NULL to get only the verdict. */
int validate_config(const config_sources *src, const validate_options *opts, FILE *out,
                    sl_config **cfg, topology **topo);

/* 0 when dir exists (or can be created) and a file can be written in it. */
int validate_data_dir(const char *dir, sl_error *err);

#endif
