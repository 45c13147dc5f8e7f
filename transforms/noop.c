/* noop.c - the internal `noop` transform, hidden from `sluice list`.
 *
 * It exists so tests can prove what the runtime promises before the real
 * transforms land: fusion (each instance appends its `mark` to the event's
 * `trail` field, so a fused chain shows its order), parallelism and order
 * restoration (`delay_ms` with `jitter` makes batches finish out of order on
 * the worker pool; they must still leave in order). */
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <time.h>

#include "pipeline/component.h"

typedef struct noop_options {
    char *mark;
    uint64_t delay_ms;
    bool jitter;
} noop_options;

static const opt_spec noop_table[] = {
    OPT_STRING_ROW("mark", noop_options, mark,
        .help = "Appended to each event's `trail` field, to show the order of a chain."),
    OPT_UINT_ROW("delay_ms", noop_options, delay_ms, .def = "0",
        .help = "Time spent on each batch, to make work overlap on the worker pool."),
    OPT_BOOL_ROW("jitter", noop_options, jitter, .def = "false",
        .help = "Spend a random part of delay_ms instead, so batches finish out of order."),
    OPT_END,
};

static int noop_build(const void *options, const component_info *info, void **state,
                      sl_error *err)
{
    SL_UNUSED(info);
    SL_UNUSED(err);
    *state = (void *)options;
    return 0;
}

static int append_mark(arena *a, event *e, const char *mark)
{
    if (e->type != EVENT_LOG)
        return 0;
    const value *old = event_log_get(e, "trail");
    size_t oldlen = old && old->kind == VALUE_BYTES ? old->len : 0;
    size_t mlen = strlen(mark);
    char *s = arena_alloc(a, oldlen + mlen);
    if (!s)
        return -1;
    if (oldlen)
        memcpy(s, old->u.s, oldlen);
    memcpy(s + oldlen, mark, mlen);
    return event_log_set(a, e, "trail", value_bytes(s, oldlen + mlen));
}

static void spend_time(const noop_options *o, uint64_t seq)
{
    uint64_t ms = o->delay_ms;
    if (o->jitter && ms)
        ms = (seq * 2654435761u) % (ms + 1);
    if (!ms)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int noop_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    SL_UNUSED(em);
    const noop_options *o = state;
    spend_time(o, b->seq ^ (uintptr_t)b);
    if (!o->mark)
        return 0;
    for (uint32_t i = 0; i < b->count; i++)
        if (append_mark(b->arena, &b->events[i], o->mark) < 0)
            return sl_fail(err, "out of memory marking event %u", i);
    b->json_bytes = 0;
    return 0;
}

const component_desc transform_noop_desc = {
    .type = "noop",
    .kind = COMPONENT_TRANSFORM,
    .summary = "Passes events through unchanged (internal, for tests).",
    .options = noop_table,
    .options_size = sizeof(noop_options),
    .input_types = EVENT_ANY,
    .output_types = 0,
    .stateless = true,
    .internal = true,
    .build = noop_build,
    .transform_process = noop_process,
};
