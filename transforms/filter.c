/* filter.c - the `filter` transform: keeps the events for which a remap
 * boolean expression is true, as Vector's filter does.
 *
 * Dropped events count as discarded on purpose (intentional="true"). A
 * condition that fails at run time (a wrong type on a field of unknown type)
 * counts an error and drops the event: the condition reads as false. */
#include <stddef.h>
#include <stdlib.h>

#include "pipeline/component.h"
#include "transforms/xf.h"

typedef struct filter_options {
    const cfg_node *condition;
} filter_options;

static const opt_spec filter_table[] = {
    OPT_NODE_ROW("condition", filter_options, condition, .required = true,
        .help = "The condition events must match to be kept: a remap boolean expression, or "
                "{type: vrl, source: ...}."),
    OPT_END,
};

typedef struct filter_state {
    xf_ctx ctx;
    vrl_program *condition;
} filter_state;

static size_t filter_check_fields(const void *options, const char *label,
                                  const cfg_node *node, const event_field_type *fields,
                                  size_t nfields, diag_list *diags)
{
    SL_UNUSED(node);
    const filter_options *o = options;
    return xf_condition_check(o->condition, label, "condition", fields, nfields, diags);
}

static void filter_destroy(void *state)
{
    filter_state *s = state;
    if (!s)
        return;
    vrl_program_free(s->condition);
    free(s);
}

static int filter_build(const void *options, const component_info *info, void **state,
                        sl_error *err)
{
    const filter_options *o = options;
    filter_state *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    xf_ctx_init(&s->ctx, info);
    if (xf_condition_build(o->condition, "condition", info, &s->condition, err) < 0) {
        filter_destroy(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int filter_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    SL_UNUSED(em);
    filter_state *s = state;
    if (b->count == 0)
        return 0;
    bool *keep = arena_alloc(b->arena, b->count * sizeof(*keep));
    if (!keep)
        return sl_fail(err, "out of memory filtering %u events", b->count);
    uint64_t errors = 0, dropped = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        keep[i] = xf_condition_eval(s->condition, b->arena, &b->events[i], &s->ctx, &errors);
        dropped += !keep[i];
    }
    /* A condition may assign fields: the cached size no longer holds. */
    batch_compact(b, keep);
    xf_count_errors(&s->ctx, XF_CONDITION_ERROR, errors);
    xf_count_discarded(&s->ctx, true, dropped);
    return 0;
}

const component_desc transform_filter_desc = {
    .type = "filter",
    .kind = COMPONENT_TRANSFORM,
    .summary = "Keeps the events that match a remap boolean expression.",
    .options = filter_table,
    .options_size = sizeof(filter_options),
    .input_types = EVENT_ANY,
    .output_types = 0,
    .stateless = true,
    .check_fields = filter_check_fields,
    .keeps_fields = true,
    .build = filter_build,
    .destroy = filter_destroy,
    .transform_process = filter_process,
};
