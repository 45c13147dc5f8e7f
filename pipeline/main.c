/* main.c - the sluice command line.
 *
 *   sluice [run] [-c FILE]... [-C DIR]...   run a pipeline
 *   sluice validate [--no-environment] [-c FILE]... [-C DIR]...
 *   sluice list                             component types
 *   sluice doc TYPE                         a type's options
 *
 * Signals are blocked in every thread and read from a signalfd here, so the
 * drain runs on the main thread in ordinary code, never in a handler. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "pipeline/api.h"
#include "pipeline/component.h"
#include "pipeline/log.h"
#include "pipeline/runtime.h"
#include "config/validate.h"

#define EXIT_USAGE 2
#define MAX_PATHS 64

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
    const char *files[MAX_PATHS];
    size_t nfiles;
    const char *dirs[MAX_PATHS];
    size_t ndirs;
    bool no_environment;
    unsigned threads;
    uint64_t shutdown_limit_secs;   /* --graceful-shutdown-limit-secs; 0: the config's */
    bool no_shutdown_limit;         /* --no-graceful-shutdown-limit */
    const char *doc_type;
    slog_level level;
    slog_format format;
} cli;

static const char usage_text[] =
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
    if (*n == MAX_PATHS)
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

static int parse_args(cli *c, int argc, char **argv)
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

static void init_logging(cli *c)
{
    const char *env = getenv("SLUICE_LOG");
    if (env && c->level == SLOG_INFO)
        slog_parse_level(env, &c->level);
    slog_configure(c->level, c->format);
}

static int cmd_list(void)
{
    static const char *const headings[] = {"Sources", "Transforms", "Sinks"};
    size_t n;
    const component_desc *const *all = registry_all(&n);
    for (int kind = COMPONENT_SOURCE; kind <= COMPONENT_SINK; kind++) {
        printf("%s:\n", headings[kind]);
        size_t shown = 0;
        for (size_t i = 0; i < n; i++) {
            if ((int)all[i]->kind == kind && !all[i]->internal) {
                printf("  %-18s %s\n", all[i]->type, all[i]->summary);
                shown++;
            }
        }
        printf("%s\n", shown ? "" : "  (none yet)\n");
    }
    return 0;
}

static int cmd_doc(const char *type)
{
    size_t n, shown = 0;
    const component_desc *const *all = registry_all(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i]->type, type) != 0)
            continue;
        buf out = BUF_INIT;
        if (opt_doc(all[i]->options, &out) < 0) {
            buf_free(&out);
            fprintf(stderr, "sluice: out of memory\n");
            return 1;
        }
        printf("%s%s (%s): %s\n\n%s", shown ? "\n" : "", all[i]->type,
               component_kind_name(all[i]->kind), all[i]->summary, out.data ? out.data : "");
        buf_free(&out);
        shown++;
    }
    if (!shown) {
        fprintf(stderr, "sluice: no component type '%s' (see 'sluice list')\n", type);
        return 1;
    }
    return 0;
}

static int cmd_validate(const cli *c)
{
    config_sources src = {c->files, c->nfiles, c->dirs, c->ndirs};
    validate_options opts = {!c->no_environment, !c->no_environment, true};
    return validate_config(&src, &opts, stdout, NULL, NULL);
}

/* Blocks the signals sluice handles in this and every later thread, and
 * returns a descriptor that reads them. */
static int take_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

/* Waits until a stop signal arrives or every source finished by itself. */
static void wait_for_end(int sigfd, int donefd)
{
    struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = donefd, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[1].revents & POLLIN) {
            slog_info(NULL, "all sources have finished; draining");
            return;
        }
        struct signalfd_siginfo si;
        if (read(sigfd, &si, sizeof(si)) != sizeof(si))
            continue;
        if (si.ssi_signo == SIGHUP) {
            slog_warn(NULL, "SIGHUP received: configuration reload is not supported yet; "
                            "restart sluice to apply changes");
            continue;
        }
        slog_info(NULL, "signal %s received; stopping sources and draining",
                  si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        return;
    }
}

/* Runs until stopped. *abandoned tells that a sink thread could not be
 * stopped, so nothing it may still touch can be freed. */
static int run_pipeline(const cli *c, const sl_config *cfg, const topology *topo, int sigfd,
                        bool *abandoned)
{
    api_server *api = NULL;
    sl_error err = {{0}};
    if (cfg->api_enabled && api_start(cfg, &api, &err) < 0) {
        slog_error(NULL, "%s", err.msg);
        return 1;
    }
    runtime_options ro = {c->threads ? c->threads : (unsigned)cfg->threads, 0};
    runtime *rt = NULL;
    if (runtime_start(topo, &ro, &rt, &err) < 0) {
        slog_error(NULL, "cannot start the pipeline: %s", err.msg);
        api_stop(api);
        return VALIDATE_EXIT_INVALID;
    }
    slog_info(NULL, "sluice %s started%s%s", SLUICE_VERSION,
              api ? "; API on " : "", api ? cfg->api_address : "");
    wait_for_end(sigfd, runtime_done_fd(rt));
    api_set_shutting_down(api);
    uint64_t limit_secs = c->shutdown_limit_secs ? c->shutdown_limit_secs
                                                 : cfg->shutdown_timeout_secs;
    int64_t timeout_ms = c->no_shutdown_limit ? -1 : (int64_t)limit_secs * 1000;
    if (runtime_drain(rt, timeout_ms) < 0) {
        api_stop(api);
        *abandoned = true;
        return 0;
    }
    runtime_free(rt);
    api_stop(api);
    slog_info(NULL, "stopped");
    return 0;
}

static int cmd_run(const cli *c)
{
    int sigfd = take_signals();
    if (sigfd < 0) {
        slog_error(NULL, "cannot set up signal handling: %s", strerror(errno));
        return 1;
    }
    config_sources src = {c->files, c->nfiles, c->dirs, c->ndirs};
    validate_options opts = {true, false, false};
    sl_config *cfg = NULL;
    topology *topo = NULL;
    int rc = validate_config(&src, &opts, stderr, &cfg, &topo);
    if (rc == VALIDATE_EXIT_OK) {
        bool abandoned = false;
        metrics_register_process();
        rc = run_pipeline(c, cfg, topo, sigfd, &abandoned);
        if (!abandoned) {
            topo_free(topo);
            config_free(cfg);
        }
    }
    close(sigfd);
    slog_flush();
    return rc;
}

int main(int argc, char **argv)
{
    cli c = {.cmd = CMD_RUN, .level = SLOG_INFO, .format = SLOG_TEXT};
    if (parse_args(&c, argc, argv) < 0)
        return EXIT_USAGE;
    init_logging(&c);
    switch (c.cmd) {
    case CMD_HELP:
        fputs(usage_text, stdout);
        return 0;
    case CMD_VERSION:
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    case CMD_LIST:
        return cmd_list();
    case CMD_DOC:
        return cmd_doc(c.doc_type);
    case CMD_VALIDATE:
        return cmd_validate(&c);
    case CMD_RUN:
        break;
    }
    return cmd_run(&c);
}
