/* remap.c - the `remap` transform: runs a remap-language program on every
 * event, with Vector's options and error handling.
 *
 * The program (`source`, or a `file` holding it) is compiled when the config
 * is checked, so `validate` shows compile errors at their line, and again at
 * build; workers share the compiled program read-only.
 *
 * A run that fails (`!` on a failing call, a wrong type at run time) counts
 * component_errors_total{error_type="conversion_failed"} as Vector does and
 * logs the error (rate-limited); the event passes on unchanged, or is dropped
 * with drop_on_error. An `abort` drops the event unless drop_on_abort is
 * false. With reroute_dropped, dropped events go to the output
 * `<id>.dropped` instead, carrying the reason the way Vector's default (legacy)
 * log namespace does: a `metadata.dropped` field {reason, message,
 * component_id, component_type, component_kind} on logs, also kept in the
 * event's metadata under `dropped`; `metadata.dropped.*` tags on metrics. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/component.h"
#include "transforms/xf.h"

/* A program file larger than this is refused rather than read. */
#define REMAP_FILE_MAX (4 * 1024 * 1024)

typedef struct remap_options {
    char *source;
    char *file;
    bool drop_on_error;
    bool drop_on_abort;
    bool reroute_dropped;
} remap_options;

static const opt_spec remap_table[] = {
    OPT_STRING_ROW("source", remap_options, source,
        .help = "The remap program to run on each event (or give `file`)."),
    OPT_STRING_ROW("file", remap_options, file,
        .help = "A file holding the remap program (relative paths from the working directory)."),
    OPT_BOOL_ROW("drop_on_error", remap_options, drop_on_error, .def = "false",
        .help = "Drop events the program fails on, instead of passing them on unchanged."),
    OPT_BOOL_ROW("drop_on_abort", remap_options, drop_on_abort, .def = "true",
        .help = "Drop events the program aborts on, instead of passing them on unchanged."),
    OPT_BOOL_ROW("reroute_dropped", remap_options, reroute_dropped, .def = "false",
        .help = "Send dropped events to the output `dropped`, annotated with the reason."),
    OPT_END,
};

#define DROPPED_OUTPUT "dropped"

typedef struct remap_state {
    xf_ctx ctx;
    vrl_program *program;
    bool drop_on_error, drop_on_abort, reroute_dropped;
} remap_state;

/* Reads a program file into a NUL-terminated heap string. */
static char *read_program(const char *path, size_t *len, sl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sl_fail(err, "could not open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(REMAP_FILE_MAX + 1);
    if (!text) {
        fclose(f);
        sl_fail(err, "out of memory reading %s", path);
        return NULL;
    }
    size_t n = fread(text, 1, REMAP_FILE_MAX + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed || n > REMAP_FILE_MAX) {
        free(text);
        sl_fail(err, failed ? "could not read %s" : "%s is larger than 4 MiB", path);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

/* Compiles the configured program against the declared fields of the
 * arriving events: 0, or -1 with err holding the message (a compile error's
 * message starts with "error["). */
static int compile_program(const remap_options *o, const event_field_type *fields,
                           size_t nfields, vrl_program **out, sl_error *err)
{
    vrl_options opts = {.condition = false, .fields = fields, .nfields = nfields};
    if (o->source)
        return vrl_compile(o->source, strlen(o->source), &opts, out, err);
    size_t len = 0;
    char *text = read_program(o->file, &len, err);
    if (!text)
        return -1;
    int rc = vrl_compile(text, len, &opts, out, err);
    free(text);
    return rc;
}

static size_t remap_check(const void *options, const char *label, const cfg_node *node,
                          diag_list *diags)
{
    const remap_options *o = options;
    if (!o->source == !o->file) {
        diag_add(diags, DIAG_ERROR, node, label,
                 "must provide exactly one of `source` or `file` configuration");
        return 1;
    }
    return 0;
}

static size_t remap_check_fields(const void *options, const char *label,
                                 const cfg_node *node, const event_field_type *fields,
                                 size_t nfields, diag_list *diags)
{
    const remap_options *o = options;
    vrl_program *p = NULL;
    sl_error err = {{0}};
    if (compile_program(o, fields, nfields, &p, &err) == 0) {
        vrl_program_free(p);
        return 0;
    }
    const char *option = o->source ? "source" : "file";
    const cfg_node *where = cfg_map_get(node, option);
    if (!where)
        where = node;
    if (o->source)
        xf_diag_program(diags, where, label, option, err.msg);
    else
        diag_add(diags, DIAG_ERROR, where, label, "option \"file\" (%s): %s", o->file, err.msg);
    return 1;
}

static size_t remap_output_count(const void *options)
{
    const remap_options *o = options;
    return o->reroute_dropped ? 1 : 0;
}

static const char *remap_output_name(const void *options, size_t i)
{
    SL_UNUSED(options);
    SL_UNUSED(i);
    return DROPPED_OUTPUT;
}

static void remap_destroy(void *state)
{
    remap_state *s = state;
    if (!s)
        return;
    vrl_program_free(s->program);
    free(s);
}

static int remap_build(const void *options, const component_info *info, void **state,
                       sl_error *err)
{
    const remap_options *o = options;
    remap_state *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    xf_ctx_init(&s->ctx, info);
    s->drop_on_error = o->drop_on_error;
    s->drop_on_abort = o->drop_on_abort;
    s->reroute_dropped = o->reroute_dropped;
    if (!o->source == !o->file) {
        remap_destroy(s);
        return sl_fail(err, "must provide exactly one of `source` or `file` configuration");
    }
    if (compile_program(o, info->fields, info->nfields, &s->program, err) < 0) {
        remap_destroy(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* ---- rerouting dropped events ---- */

static value str_value(arena *a, const char *s)
{
    size_t n = strlen(s);
    char *copy = arena_strndup(a, s, n);
    return copy ? value_bytes(copy, n) : value_null();
}

/* The map Vector's dropped_data builds, in arena a. */
static int dropped_data(arena *a, const char *id, const char *reason, const char *message,
                        value *out)
{
    struct { const char *key, *val; } fields[] = {
        {"component_id", id ? id : ""}, {"component_kind", "transform"},
        {"component_type", "remap"}, {"message", message}, {"reason", reason},
    };
    value m = value_new_map(a, SL_ARRAY_LEN(fields));
    if (m.kind != VALUE_MAP)
        return -1;
    for (size_t i = 0; i < SL_ARRAY_LEN(fields); i++) {
        value v = str_value(a, fields[i].val);
        if (v.kind != VALUE_BYTES || value_map_put_if_absent(a, m.u.map, fields[i].key, v) < 0)
            return -1;
    }
    *out = m;
    return 0;
}

/* Sets map[key] = v, making *root a map first when it is not one. */
static int put_in_map(arena *a, value *root, const char *key, value v)
{
    if (root->kind != VALUE_MAP) {
        *root = value_new_map(a, 1);
        if (root->kind != VALUE_MAP)
            return -1;
    }
    value *slot = value_map_put(a, root->u.map, key, strlen(key));
    if (!slot)
        return -1;
    *slot = v;
    return 0;
}

static int annotate_metric(arena *a, event *e, const char *id, const char *reason)
{
    return event_metric_set_tag(a, e, "metadata.dropped.reason", reason) < 0 ||
           event_metric_set_tag(a, e, "metadata.dropped.component_id", id ? id : "") < 0 ||
           event_metric_set_tag(a, e, "metadata.dropped.component_type", "remap") < 0 ||
           event_metric_set_tag(a, e, "metadata.dropped.component_kind", "transform") < 0
               ? -1 : 0;
}

static int annotate(arena *a, event *e, const char *id, const char *reason, const char *message)
{
    if (e->type == EVENT_METRIC)
        return annotate_metric(a, e, id, reason);
    value data, copy;
    if (dropped_data(a, id, reason, message, &data) < 0 || value_copy(a, &data, &copy) < 0 ||
        put_in_map(a, &e->meta, "dropped", copy) < 0)
        return -1;
    value *meta = value_map_get(e->u.log.u.map, "metadata", 8);
    if (meta)
        return put_in_map(a, meta, "dropped", data);
    value m = value_null();
    if (put_in_map(a, &m, "dropped", data) < 0)
        return -1;
    return event_log_set(a, e, "metadata", m);
}

/* Copies the dropped event e into *out (created on first use with the
 * input's acknowledgement reference) and annotates the copy. */
static int reroute(const remap_state *s, batch **out, const batch *in, const event *e,
                   const char *reason, const char *message)
{
    if (!*out && !(*out = batch_new(in->cap, in->ack)))
        return -1;
    event *dst = batch_push(*out);
    if (!dst)
        return -1;
    if (event_copy((*out)->arena, e, dst) < 0 ||
        annotate((*out)->arena, dst, s->ctx.id, reason, message) < 0) {
        batch_pop(*out);
        return -1;
    }
    return 0;
}

/* ---- processing ---- */

typedef struct remap_tally {
    uint64_t errors;
    uint64_t discarded_error;      /* dropped after a failure */
    uint64_t discarded_abort;      /* dropped after an abort: on purpose */
    uint64_t reroute_failed;
} remap_tally;

/* Decides what happens to event i after a failed or aborted run: true when
 * it leaves the default output. */
static bool handle_stop(remap_state *s, batch *b, uint32_t i, vrl_outcome r,
                        const sl_error *rerr, batch **dropped, remap_tally *t)
{
    bool failed = r == VRL_FAILED;
    if (failed) {
        t->errors++;
        xf_log_error(&s->ctx, "Mapping failed with event%s. error=%s",
                     s->drop_on_error ? "; discarding event" : "", rerr->msg);
    }
    if (!(failed ? s->drop_on_error : s->drop_on_abort))
        return false;
    if (!s->reroute_dropped) {
        if (failed)
            t->discarded_error++;
        else
            t->discarded_abort++;
        return true;
    }
    if (reroute(s, dropped, b, &b->events[i], failed ? "error" : "abort", rerr->msg) < 0)
        t->reroute_failed++;
    return true;
}

static int remap_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    remap_state *s = state;
    bool *keep = NULL;
    batch *dropped = NULL;
    remap_tally t = {0, 0, 0, 0};
    for (uint32_t i = 0; i < b->count; i++) {
        sl_error rerr;
        rerr.msg[0] = '\0';
        vrl_outcome r = vrl_run(s->program, b->arena, &b->events[i], NULL, &rerr);
        if (r == VRL_DONE_WITH_ERRORS) {
            t.errors++;
            xf_log_error(&s->ctx, "Mapping went on past a condition that failed. error=%s",
                         rerr.msg);
            continue;
        }
        if (r == VRL_DONE || !handle_stop(s, b, i, r, &rerr, &dropped, &t))
            continue;
        if (!keep) {
            keep = arena_alloc(b->arena, b->count * sizeof(*keep));
            if (!keep) {
                batch_release(dropped, ACK_ERRORED);
                return sl_fail(err, "out of memory dropping events");
            }
            memset(keep, 1, b->count * sizeof(*keep));
        }
        keep[i] = false;
    }
    b->json_bytes = 0;
    if (keep)
        batch_compact(b, keep);
    xf_count_errors(&s->ctx, "conversion_failed", t.errors);
    xf_count_discarded(&s->ctx, false, t.discarded_error + t.reroute_failed);
    xf_count_discarded(&s->ctx, true, t.discarded_abort);
    int rc = 0;
    if (t.reroute_failed)
        rc = sl_fail(err, "out of memory rerouting %llu dropped events",
                     (unsigned long long)t.reroute_failed);
    if (dropped && transform_emit_to(em, 0, dropped) < 0)
        rc = sl_fail(err, "out of memory handing events to the dropped output");
    return rc;
}

const component_desc transform_remap_desc = {
    .type = "remap",
    .kind = COMPONENT_TRANSFORM,
    .summary = "Runs a remap-language (VRL) program on each event.",
    .options = remap_table,
    .options_size = sizeof(remap_options),
    .input_types = EVENT_ANY,
    .output_types = 0,
    .stateless = true,
    .check = remap_check,
    .check_fields = remap_check_fields,
    .output_count = remap_output_count,
    .output_name = remap_output_name,
    .build = remap_build,
    .destroy = remap_destroy,
    .transform_process = remap_process,
};
