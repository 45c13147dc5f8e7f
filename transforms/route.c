/* route.c - the `route` transform: splits a stream into named outputs by
 * remap conditions, as Vector's route does.
 *
 * `route: {name: condition, ...}` makes an output `<id>.<name>` per entry;
 * an event goes to every output whose condition it matches (a copy each), and
 * to `<id>._unmatched` when it matches none, unless reroute_unmatched is
 * false (then it is dropped and counted as discarded on purpose). Like
 * Vector's, a route has no default output: `inputs: [<id>]` is refused. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/component.h"
#include "transforms/xf.h"

#define UNMATCHED "_unmatched"
/* Routes per transform: far more than any real config, and a bound on the
 * work per event. */
#define ROUTE_MAX 255

typedef struct route_options {
    const cfg_node *route;
    bool reroute_unmatched;
} route_options;

static const opt_spec route_table[] = {
    OPT_NODE_ROW("route", route_options, route, .required = true,
        .help = "A map from output name to the condition events must match to go there (a remap "
                "boolean expression, or {type: vrl, source: ...})."),
    OPT_BOOL_ROW("reroute_unmatched", route_options, reroute_unmatched, .def = "true",
        .help = "Send events that match no route to the output `_unmatched`; when false they are "
                "dropped."),
    OPT_END,
};

typedef struct route_state {
    xf_ctx ctx;
    vrl_program **conditions;
    size_t nroutes;
    bool reroute_unmatched;
} route_state;

static size_t route_count(const route_options *o)
{
    return o->route && o->route->kind == CFG_MAP ? o->route->npairs : 0;
}

static size_t route_check(const void *options, const char *label, const cfg_node *node,
                          diag_list *diags)
{
    SL_UNUSED(node);
    const route_options *o = options;
    if (o->route->kind != CFG_MAP) {
        diag_add(diags, DIAG_ERROR, o->route, label,
                 "option \"route\" must be a map from output name to condition, got a %s",
                 cfg_kind_name(o->route->kind));
        return 1;
    }
    if (o->route->npairs > ROUTE_MAX) {
        diag_add(diags, DIAG_ERROR, o->route, label, "option \"route\" has %zu routes; at most %d",
                 o->route->npairs, ROUTE_MAX);
        return 1;
    }
    size_t errors = 0;
    for (size_t i = 0; i < o->route->npairs; i++) {
        const cfg_pair *p = &o->route->pairs[i];
        char option[160];
        snprintf(option, sizeof(option), "route.%s", p->key->text);
        if (strcmp(p->key->text, UNMATCHED) == 0 || p->key->text[0] == '\0') {
            diag_add(diags, DIAG_ERROR, p->key, label,
                     "route name \"%s\" is reserved or empty: name it otherwise", p->key->text);
            errors++;
            continue;
        }
        if (p->value->kind == CFG_NULL) {
            diag_add(diags, DIAG_ERROR, p->value, label, "option \"%s\" needs a condition",
                     option);
            errors++;
        }
    }
    return errors;
}

static size_t route_check_fields(const void *options, const char *label,
                                 const cfg_node *node, const event_field_type *fields,
                                 size_t nfields, diag_list *diags)
{
    SL_UNUSED(node);
    const route_options *o = options;
    size_t errors = 0;
    for (size_t i = 0; i < route_count(o); i++) {
        const cfg_pair *p = &o->route->pairs[i];
        char option[160];
        snprintf(option, sizeof(option), "route.%s", p->key->text);
        errors += xf_condition_check(p->value, label, option, fields, nfields, diags);
    }
    return errors;
}

/* The topology's view: one output per route, then `_unmatched`. */
static size_t route_output_count(const void *options)
{
    const route_options *o = options;
    return route_count(o) + (o->reroute_unmatched ? 1 : 0);
}

/* Route names are the keys of the config document, which outlives the
 * topology. */
static const char *route_output_name(const void *options, size_t i)
{
    const route_options *o = options;
    return i < route_count(o) ? o->route->pairs[i].key->text : UNMATCHED;
}

static void route_destroy(void *state)
{
    route_state *s = state;
    if (!s)
        return;
    for (size_t i = 0; i < s->nroutes; i++)
        vrl_program_free(s->conditions[i]);
    free(s->conditions);
    free(s);
}

static int route_build(const void *options, const component_info *info, void **state,
                       sl_error *err)
{
    const route_options *o = options;
    route_state *s = calloc(1, sizeof(*s));
    size_t n = route_count(o);
    if (!s || !(s->conditions = calloc(n ? n : 1, sizeof(*s->conditions)))) {
        free(s);
        return sl_fail(err, "out of memory");
    }
    xf_ctx_init(&s->ctx, info);
    s->reroute_unmatched = o->reroute_unmatched;
    for (size_t i = 0; i < n; i++) {
        const cfg_pair *p = &o->route->pairs[i];
        char option[160];
        snprintf(option, sizeof(option), "route.%s", p->key->text);
        if (xf_condition_build(p->value, option, info, &s->conditions[i], err) < 0) {
            route_destroy(s);
            return -1;
        }
        s->nroutes++;
    }
    *state = s;
    return 0;
}

/* Appends a copy of e to the output batch *out, creating it on first use
 * with the input's acknowledgement reference. */
static int route_copy(batch **out, const batch *in, const event *e)
{
    if (!*out && !(*out = batch_new(in->cap, in->ack)))
        return -1;
    event *dst = batch_push(*out);
    if (!dst)
        return -1;
    if (event_copy((*out)->arena, e, dst) < 0) {
        batch_pop(*out);
        return -1;
    }
    return 0;
}

static void release_all(batch **outs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        batch_release(outs[i], ACK_ERRORED);
}

static int route_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    route_state *s = state;
    size_t nout = s->nroutes + (s->reroute_unmatched ? 1 : 0);
    batch **outs = arena_alloc(b->arena, (nout ? nout : 1) * sizeof(*outs));
    if (!outs)
        return sl_fail(err, "out of memory routing %u events", b->count);
    memset(outs, 0, (nout ? nout : 1) * sizeof(*outs));
    uint64_t errors = 0, unmatched_dropped = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        event *e = &b->events[i];
        bool matched = false;
        for (size_t r = 0; r < s->nroutes; r++) {
            if (!xf_condition_eval(s->conditions[r], b->arena, e, &s->ctx, &errors))
                continue;
            matched = true;
            if (route_copy(&outs[r], b, e) < 0)
                goto oom;
        }
        if (matched)
            continue;
        if (s->reroute_unmatched) {
            if (route_copy(&outs[s->nroutes], b, e) < 0)
                goto oom;
        } else {
            unmatched_dropped++;
        }
    }
    /* Nothing stays for the default output: a route has none. */
    b->count = 0;
    b->json_bytes = 0;
    xf_count_errors(&s->ctx, XF_CONDITION_ERROR, errors);
    xf_count_discarded(&s->ctx, true, unmatched_dropped);
    int rc = 0;
    for (size_t r = 0; r < nout; r++)
        if (outs[r] && transform_emit_to(em, r, outs[r]) < 0)
            rc = sl_fail(err, "out of memory handing events to output %zu", r);
    return rc;

oom:
    release_all(outs, nout);
    xf_count_errors(&s->ctx, XF_CONDITION_ERROR, errors);
    xf_count_discarded(&s->ctx, false, b->count);
    b->count = 0;
    return sl_fail(err, "out of memory copying events to the route outputs");
}

const component_desc transform_route_desc = {
    .type = "route",
    .kind = COMPONENT_TRANSFORM,
    .summary = "Splits events into named outputs by remap conditions.",
    .options = route_table,
    .options_size = sizeof(route_options),
    .input_types = EVENT_ANY,
    .output_types = 0,
    .stateless = true,
    .no_default_output = true,
    .check = route_check,
    .check_fields = route_check_fields,
    .keeps_fields = true,
    .output_count = route_output_count,
    .output_name = route_output_name,
    .build = route_build,
    .destroy = route_destroy,
    .transform_process = route_process,
};
