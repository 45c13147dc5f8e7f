/* cli.h - the sluice command line, parsed: the command, the configuration
 * paths, and the settings flags override (threads, the shutdown limit,
 * logging).
 *
 *   sluice [run] [-c FILE]... [-C DIR]...   run a pipeline
 *   sluice validate [--no-environment] [-c FILE]... [-C DIR]...
 *   sluice list                             component types
 *   sluice doc TYPE                         a type's options
 *
 * The paths point into argv, which outlives the cli. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pipeline/log.h"

#define CLI_MAX_PATHS 64

typedef enum command {
    CMD_RUN = 0,
    CMD_VALIDATE,
    CMD_LIST,
    CMD_DOC,
    CMD_VERSION,
    CMD_HELP,
} command;

typedef struct cli {
    command cmd;
    const char *files[CLI_MAX_PATHS];
    size_t nfiles;
    const char *dirs[CLI_MAX_PATHS];
    size_t ndirs;
    bool no_environment;
    unsigned threads;
    uint64_t shutdown_limit_secs;   /* --graceful-shutdown-limit-secs; 0: the config's */
    bool no_shutdown_limit;         /* --no-graceful-shutdown-limit */
    const char *doc_type;
    slog_level level;
    slog_format format;
} cli;

/* `sluice --help` */
extern const char cli_usage_text[];

/* Fills c (holding the defaults) from argv. -1 after printing the problem
 * to stderr. */
int cli_parse(cli *c, int argc, char **argv);

#endif
