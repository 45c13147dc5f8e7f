/* cli.c - parsing the sluice command line (see cli.h). Every problem is a
 * usage error on stderr, never an exit: main decides the exit code. */
#include "app/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

const char cli_usage_text[] =
    "Usage: sluice [COMMAND] [OPTIONS]\n"
    "\n"
    "A high-throughput log and metric pipeline, configured like Vector.\n"
    "\n"
    "Commands:\n"
    "  run        Run the pipeline (default). Without -c/-C it reads\n"
    "             " SL_DEFAULT_CONFIG_PATH " or runs the embedded default pipeline.\n"
    "  validate   Check the configuration and exit: 0 valid, 78 invalid.\n"
    "  list       List the component types.\n"
    "  doc TYPE   Show the options of a component type.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE       Configuration file (YAML or JSON); repeatable\n"
    "  -C, --config-dir DIR    Every *.yaml, *.yml and *.json in DIR; repeatable\n"
    "      --no-environment    validate: skip data_dir and healthcheck checks\n"
    "  -t, --threads N         Transform worker threads (default: online CPUs)\n"
    "      --graceful-shutdown-limit-secs N\n"
    "                          Wait at most N seconds for the drain after SIGTERM\n"
    "                          (overrides shutdown_timeout_secs, default 60)\n"
    "      --no-graceful-shutdown-limit\n"
    "                          Wait for the drain without limit\n"
    "  -l, --log-level LEVEL   trace, debug, info (default), warn, error\n"
    "      --log-format FMT    text (default) or json\n"
    "  -V, --version           Print the version\n"
    "  -h, --help              Print this help\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "sluice: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'sluice --help'.\n");
    return -1;
}

static int parse_command(cli *c, const char *word)
{
    static const struct { const char *name; command cmd; } words[] = {
        {"run", CMD_RUN}, {"validate", CMD_VALIDATE}, {"list", CMD_LIST}, {"doc", CMD_DOC},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(words); i++) {
        if (strcmp(word, words[i].name) == 0) {
            c->cmd = words[i].cmd;
            return 0;
        }
    }
    return usage_error("unknown command '%s'", word);
}

static int add_path(const char **list, size_t *n, const char *path)
{
    if (*n == CLI_MAX_PATHS)
        return usage_error("too many configuration paths (at most 64), at '%s'", path);
    list[(*n)++] = path;
    return 0;
}

static int parse_threads(cli *c, const char *text)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(text, &end, 10);
    if (errno || *end || n == 0 || n > 1024 || text[0] == '-')
        return usage_error("--threads needs a number from 1 to 1024, got '%s'", text);
    c->threads = (unsigned)n;
    return 0;
}

/* Vector's --graceful-shutdown-limit-secs: a whole number of seconds above 0. */
static int parse_shutdown_limit(cli *c, const char *text)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno || *end || n == 0 || n > UINT32_MAX || text[0] == '-' || !*text)
        return usage_error("--graceful-shutdown-limit-secs needs a number of seconds above 0, "
                           "got '%s'", text);
    c->shutdown_limit_secs = n;
    return 0;
}

static bool is_opt(const char *arg, const char *s, const char *l)
{
    return (s && strcmp(arg, s) == 0) || (l && strcmp(arg, l) == 0);
}

/* Options that take a value; `arg` may carry it after '=' (--threads=4). */
static int parse_valued(cli *c, const char *name, const char *val)
{
    if (is_opt(name, "-c", "--config"))
        return add_path(c->files, &c->nfiles, val);
    if (is_opt(name, "-C", "--config-dir"))
        return add_path(c->dirs, &c->ndirs, val);
    if (is_opt(name, "-t", "--threads"))
        return parse_threads(c, val);
    if (is_opt(name, NULL, "--graceful-shutdown-limit-secs"))
        return parse_shutdown_limit(c, val);
    if (is_opt(name, "-l", "--log-level"))
        return slog_parse_level(val, &c->level) < 0
                   ? usage_error("unknown log level '%s'", val) : 0;
    if (is_opt(name, NULL, "--log-format"))
        return slog_parse_format(val, &c->format) < 0
                   ? usage_error("unknown log format '%s' (text or json)", val) : 0;
    return 1;
}

int cli_parse(cli *c, int argc, char **argv)
{
    bool have_command = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (is_opt(arg, "-h", "--help")) {
            c->cmd = CMD_HELP;
            return 0;
        }
        if (is_opt(arg, "-V", "--version")) {
            c->cmd = CMD_VERSION;
            return 0;
        }
        if (is_opt(arg, NULL, "--no-environment")) {
            c->no_environment = true;
            continue;
        }
        if (is_opt(arg, NULL, "--no-graceful-shutdown-limit")) {
            c->no_shutdown_limit = true;
            continue;
        }
        if (arg[0] == '-') {
            char name[64];
            const char *eq = strchr(arg, '=');
            const char *val;
            if (eq && arg[1] == '-' && (size_t)(eq - arg) < sizeof(name)) {
                memcpy(name, arg, (size_t)(eq - arg));
                name[eq - arg] = '\0';
                val = eq + 1;
            } else {
                snprintf(name, sizeof(name), "%s", arg);
                if (i + 1 >= argc)
                    return usage_error("option '%s' needs a value", arg);
                val = argv[++i];
            }
            int rc = parse_valued(c, name, val);
            if (rc > 0)
                return usage_error("unknown option '%s'", arg);
            if (rc < 0)
                return -1;
            continue;
        }
        if (!have_command) {
            if (parse_command(c, arg) < 0)
                return -1;
            have_command = true;
            continue;
        }
        if (c->cmd == CMD_DOC && !c->doc_type) {
            c->doc_type = arg;
            continue;
        }
        return usage_error("unexpected argument '%s'", arg);
    }
    if (c->cmd == CMD_DOC && !c->doc_type)
        return usage_error("%s", "doc needs a component type, e.g. 'sluice doc file'");
    if (c->no_shutdown_limit && c->shutdown_limit_secs)
        return usage_error("%s", "--no-graceful-shutdown-limit and "
                           "--graceful-shutdown-limit-secs can't be used together");
    return 0;
}
