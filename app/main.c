/* main.c - the sluice program: runs the command the command line names
 * (cli.h): run, validate, list, doc.
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
#include "app/cli.h"
#include "app/validate.h"

#define EXIT_USAGE 2

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
    if (cli_parse(&c, argc, argv) < 0)
        return EXIT_USAGE;
    init_logging(&c);
    switch (c.cmd) {
    case CMD_HELP:
        fputs(cli_usage_text, stdout);
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
