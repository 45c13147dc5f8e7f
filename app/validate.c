/* validate.c - the checks behind `sluice validate` and the start of
 * `sluice run` (see validate.h). */
#include "app/validate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/component.h"
#include "pipeline/runtime.h"

#define MARK_OK "\xE2\x9C\x93"    /* ✓ */
#define MARK_FAIL "\xE2\x9C\x97"  /* ✗ */
#define MARK_WARN "~"

static void print_diags(const diag_list *diags, FILE *out)
{
    buf line = BUF_INIT;
    for (size_t i = 0; i < diags->n; i++) {
        buf_reset(&line);
        if (diag_format(&diags->items[i], &line) < 0)
            continue;
        fprintf(out, "%s %s\n", diags->items[i].level == DIAG_ERROR ? MARK_FAIL : MARK_WARN,
                line.data);
    }
    buf_free(&line);
}

static void print_loaded(const sl_config *cfg, FILE *out)
{
    if (config_is_default(cfg)) {
        fprintf(out, "%s Loaded the embedded default pipeline\n", MARK_OK);
        return;
    }
    fprintf(out, "%s Loaded [", MARK_OK);
    for (size_t i = 0; i < cfg->nfiles; i++)
        fprintf(out, "%s\"%s\"", i ? ", " : "", cfg->files[i]);
    fprintf(out, "]\n");
}

static void count_kinds(const sl_config *cfg, size_t counts[3])
{
    counts[0] = counts[1] = counts[2] = 0;
    for (size_t i = 0; i < cfg->ncomponents; i++)
        counts[cfg->components[i].kind]++;
}

int validate_data_dir(const char *dir, sl_error *err)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        if (errno != ENOENT)
            return sl_fail(err, "data_dir \"%s\" is not accessible: %s", dir, strerror(errno));
        if (mkdir(dir, 0755) < 0)
            return sl_fail(err, "data_dir \"%s\" does not exist and cannot be created: %s",
                           dir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return sl_fail(err, "data_dir \"%s\" is not a directory", dir);
    }
    char probe[4096];
    snprintf(probe, sizeof(probe), "%s/.sluice-write-check-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0)
        return sl_fail(err, "data_dir \"%s\" is not writable: %s", dir, strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

static bool uses_disk_buffers(const sl_config *cfg)
{
    for (size_t i = 0; i < cfg->ncomponents; i++)
        if (cfg->components[i].kind == COMPONENT_SINK &&
            cfg->components[i].buffer_type == BUFFER_DISK)
            return true;
    return false;
}

/* The default data_dir is checked too when a disk buffer will live there:
 * the buffer can't start without it. */
static int check_data_dir(const sl_config *cfg, const validate_options *opts, FILE *out)
{
    if (!cfg->data_dir_set && !uses_disk_buffers(cfg))
        return 0;
    sl_error err = {{0}};
    if (validate_data_dir(cfg->data_dir, &err) < 0) {
        diag_list d = DIAG_LIST_INIT;
        diag_add(&d, DIAG_ERROR, cfg->data_dir_node, NULL, "%s", err.msg);
        print_diags(&d, out);
        diag_list_free(&d);
        return -1;
    }
    if (opts->verbose)
        fprintf(out, "%s data_dir \"%s\" is writable\n", MARK_OK, cfg->data_dir);
    return 0;
}

static int run_healthchecks(const sl_config *cfg, const validate_options *opts, FILE *out)
{
    int failed = 0;
    for (size_t i = 0; i < cfg->ncomponents; i++) {
        const component_config *cc = &cfg->components[i];
        if (cc->kind != COMPONENT_SINK || !cc->healthcheck_enabled || !cc->desc->healthcheck)
            continue;
        void *state = NULL;
        sl_error err = {{0}};
        int rc = runtime_build_component(cc, cfg->data_dir, &state, &err);
        if (rc == 0)
            rc = cc->desc->healthcheck(state, &err);
        if (cc->desc->destroy && state)
            cc->desc->destroy(state);
        if (rc < 0) {
            fprintf(out, "%s Health check \"%s\": %s\n", MARK_FAIL, cc->id, err.msg);
            failed = -1;
        } else if (opts->verbose) {
            fprintf(out, "%s Health check \"%s\"\n", MARK_OK, cc->id);
        }
    }
    return failed;
}

static int fail(FILE *out, const validate_options *opts, sl_config *cfg)
{
    config_free(cfg);
    if (opts->verbose)
        fprintf(out, "%s\n%40s\n", "----------------------------------------",
                "Validation failed");
    return VALIDATE_EXIT_INVALID;
}

int validate_config(const config_sources *src, const validate_options *opts, FILE *out,
                    sl_config **cfg_out, topology **topo_out)
{
    if (cfg_out)
        *cfg_out = NULL;
    if (topo_out)
        *topo_out = NULL;
    diag_list diags = DIAG_LIST_INIT;
    sl_config *cfg = config_load(src, &registry_catalog, &diags);
    if (!cfg) {
        fprintf(out, "%s Failed to load the configuration\n", MARK_FAIL);
        print_diags(&diags, out);
        diag_list_free(&diags);
        return fail(out, opts, NULL);
    }
    if (opts->verbose) {
        print_loaded(cfg, out);
        fprintf(out, "%s Component configuration\n", MARK_OK);
    }
    print_diags(&diags, out);
    diag_list_free(&diags);

    topology *topo = topo_build(cfg, &diags);
    print_diags(&diags, out);
    diag_list_free(&diags);
    if (!topo)
        return fail(out, opts, cfg);
    if (opts->verbose) {
        size_t k[3];
        count_kinds(cfg, k);
        fprintf(out, "%s Topology: %zu source%s, %zu transform%s, %zu sink%s\n", MARK_OK,
                k[0], k[0] == 1 ? "" : "s", k[1], k[1] == 1 ? "" : "s", k[2], k[2] == 1 ? "" : "s");
    }
    if (opts->check_environment &&
        (check_data_dir(cfg, opts, out) < 0 ||
         (opts->healthchecks && run_healthchecks(cfg, opts, out) < 0))) {
        topo_free(topo);
        return fail(out, opts, cfg);
    }
    if (opts->verbose)
        fprintf(out, "%s\n%40s\n", "----------------------------------------", "Validated");
    if (cfg_out && topo_out) {
        *cfg_out = cfg;
        *topo_out = topo;
    } else {
        topo_free(topo);
        config_free(cfg);
    }
    return VALIDATE_EXIT_OK;
}
