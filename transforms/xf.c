/* xf.c - conditions, program error positions and rate-limited error logs
 * shared by the transforms (see xf.h). */
#include "transforms/xf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/log.h"

void xf_ctx_init(xf_ctx *c, const component_info *info)
{
    c->id = info ? info->id : NULL;
    c->metrics = info ? info->metrics : NULL;
    atomic_init(&c->log.next_ns, 0);
    atomic_init(&c->log.held, 0);
}

void xf_log_error(xf_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    slog_limitedv(&c->log, XF_LOG_INTERVAL_NS, SLOG_ERROR, c->id, fmt, ap);
    va_end(ap);
}

void xf_count_errors(const xf_ctx *c, const char *error_type, uint64_t n)
{
    if (n)
        component_metrics_error(c->metrics, error_type, "processing", n);
}

void xf_count_discarded(const xf_ctx *c, bool intentional, uint64_t n)
{
    if (n && c->metrics)
        metrics_add(intentional ? c->metrics->discarded_intentional
                                : c->metrics->discarded_error, n);
}

uint64_t xf_hash(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t xf_hash_finish(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static bool is_json_file(const char *file)
{
    size_t n = file ? strlen(file) : 0;
    return n >= 5 && strcmp(file + n - 5, ".json") == 0;
}

/* A YAML block scalar (`source: |`) starts on the line after its indicator,
 * which is where the node's position is; other scalars start where they
 * are. Only block scalars keep the program's lines as file lines. */
static bool is_block_scalar(const cfg_node *n)
{
    return n->kind == CFG_SCALAR && !n->plain && !is_json_file(n->file) &&
           memchr(n->text, '\n', n->len) != NULL;
}

void xf_diag_program(diag_list *diags, const cfg_node *where, const char *label,
                     const char *option, const char *msg)
{
    int line = where->line;
    const char *arrow = strstr(msg, "--> ");
    int pl = 0, pc = 0;
    if (is_block_scalar(where) && arrow && sscanf(arrow + 4, "%d:%d", &pl, &pc) == 2 &&
        pl >= 1 && pl < 1000000)
        line = where->line + pl;
    diag_add_at(diags, DIAG_ERROR, where->file, line, label, "option \"%s\": %s", option,
                msg);
}

/* The scalar holding the condition's program, or NULL with *where and err
 * saying what is wrong. `name` receives the option's full name. */
static const cfg_node *condition_source(const cfg_node *node, const char *option,
                                        char *name, size_t name_size,
                                        const cfg_node **where, sl_error *err)
{
    snprintf(name, name_size, "%s", option);
    *where = node;
    if (node->kind == CFG_SCALAR)
        return node;
    if (node->kind != CFG_MAP) {
        sl_fail(err, "option \"%s\" must be a remap expression or a map with `type` and "
                "`source`, got a %s", option, cfg_kind_name(node->kind));
        return NULL;
    }
    for (size_t i = 0; i < node->npairs; i++) {
        const char *key = node->pairs[i].key->text;
        if (strcmp(key, "type") != 0 && strcmp(key, "source") != 0) {
            *where = node->pairs[i].key;
            sl_fail(err, "unknown option \"%s.%s\" (a condition takes `type` and `source`)",
                    option, key);
            return NULL;
        }
    }
    const cfg_node *type = cfg_map_get(node, "type");
    if (type && type->kind != CFG_NULL &&
        (type->kind != CFG_SCALAR || strcmp(type->text, "vrl") != 0)) {
        *where = type;
        sl_fail(err, "option \"%s.type\" must be \"vrl\" (the only condition type supported)",
                option);
        return NULL;
    }
    const cfg_node *src = cfg_map_get(node, "source");
    snprintf(name, name_size, "%s.source", option);
    if (!src || src->kind != CFG_SCALAR) {
        if (src)
            *where = src;
        sl_fail(err, "option \"%s.source\" is required: the remap boolean expression", option);
        return NULL;
    }
    return src;
}

size_t xf_condition_check(const cfg_node *node, const char *label, const char *option,
                          const event_field_type *fields, size_t nfields, diag_list *diags)
{
    char name[128];
    const cfg_node *where;
    sl_error err = {{0}};
    const cfg_node *src = condition_source(node, option, name, sizeof(name), &where, &err);
    if (!src) {
        diag_add(diags, DIAG_ERROR, where, label, "%s", err.msg);
        return 1;
    }
    vrl_options opts = {.condition = true, .fields = fields, .nfields = nfields};
    vrl_program *p = NULL;
    if (vrl_compile(src->text, src->len, &opts, &p, &err) < 0) {
        xf_diag_program(diags, src, label, name, err.msg);
        return 1;
    }
    vrl_program_free(p);
    return 0;
}

int xf_condition_build(const cfg_node *node, const char *option, const component_info *info,
                       vrl_program **out, sl_error *err)
{
    char name[128];
    const cfg_node *where;
    const cfg_node *src = condition_source(node, option, name, sizeof(name), &where, err);
    if (!src)
        return -1;
    vrl_options opts = {.condition = true, .fields = info->fields, .nfields = info->nfields};
    sl_error cerr = {{0}};
    if (vrl_compile(src->text, src->len, &opts, out, &cerr) < 0)
        return sl_fail(err, "option \"%s\": %s", name, cerr.msg);
    return 0;
}

bool xf_condition_eval(const vrl_program *p, arena *a, event *e, xf_ctx *c,
                       uint64_t *errors)
{
    value result = value_null();
    sl_error err;
    err.msg[0] = '\0';
    switch (vrl_run(p, a, e, &result, &err)) {
    case VRL_DONE:
        return vrl_is_true(&result);
    case VRL_DONE_WITH_ERRORS:
        (*errors)++;
        xf_log_error(c, "VRL condition went on past a failed predicate: %s", err.msg);
        return vrl_is_true(&result);
    case VRL_FAILED:
        (*errors)++;
        xf_log_error(c, "VRL condition execution failed: %s", err.msg);
        return false;
    case VRL_ABORTED:
        return false;
    }
    return false;
}
