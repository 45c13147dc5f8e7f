/* throttle.c - the `throttle` transform: lets at most `threshold` events per
 * `window_secs` through for each value of `key_field`, as Vector's throttle
 * does; the rest are dropped and counted as discarded on purpose.
 *
 * The limiter is Vector's (the governor crate's GCRA): a bucket of
 * `threshold` cells per key that refills one cell every
 * window_secs / threshold, so a key may burst up to `threshold` events and
 * then averages `threshold` per window. Each key's state is one number, the
 * time its bucket will be full again; events matching `exclude` bypass the
 * limiter. A key_field that can't be rendered for an event puts the event
 * in one shared bucket (and counts an error), as in Vector.
 *
 * Memory is bounded: a key whose bucket is full again holds no information,
 * so such keys are forgotten (the least recently seen first, which are
 * always full again a window after their last event); at most
 * THROTTLE_MAX_KEYS keys are kept, and beyond that the least recently seen
 * key is forgotten early, which lets it burst again (erring on passing
 * events, never on dropping them). Stateful: the runtime runs it one batch
 * at a time. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "pipeline/component.h"
#include "pipeline/template.h"
#include "transforms/lru.h"
#include "transforms/xf.h"

#define THROTTLE_MAX_KEYS 100000

typedef struct throttle_options {
    uint64_t threshold;
    double window_secs;
    char *key_field;
    const cfg_node *exclude;
} throttle_options;

static const opt_spec throttle_table[] = {
    OPT_UINT_ROW("threshold", throttle_options, threshold, .required = true,
        OPT_RANGE(1, UINT32_MAX), .help = "Events allowed per window for each key."),
    OPT_FLOAT_ROW("window_secs", throttle_options, window_secs, .required = true,
        OPT_ABOVE(0), OPT_MAX(1e9), .unit = "seconds", .help = "The window, in seconds."),
    OPT_STRING_ROW("key_field", throttle_options, key_field,
        .help = "A template whose rendering names the bucket an event counts against "
                "(e.g. \"{{ service }}\"); one bucket for all when not given."),
    OPT_NODE_ROW("exclude", throttle_options, exclude,
        .help = "A condition: matching events are never throttled (a remap boolean expression, "
                "or {type: vrl, source: ...})."),
    OPT_END,
};

typedef struct throttle_state {
    xf_ctx ctx;
    int64_t interval_ns;      /* one cell refills in this time */
    int64_t tolerance_ns;     /* how far ahead a bucket's full time may be */
    template *key;
    vrl_program *exclude;
    lru *keys;                /* key hash -> time the bucket is full again */
} throttle_state;

static size_t throttle_check(const void *options, const char *label, const cfg_node *node,
                             diag_list *diags)
{
    const throttle_options *o = options;
    size_t errors = 0;
    template *t = NULL;
    sl_error err = {{0}};
    if (o->key_field && template_parse(o->key_field, &t, &err) < 0) {
        diag_add(diags, DIAG_ERROR, cfg_map_get(node, "key_field"), label,
                 "option \"key_field\": %s", err.msg);
        errors++;
    }
    template_free(t);
    return errors;
}

static size_t throttle_check_fields(const void *options, const char *label,
                                    const cfg_node *node, const event_field_type *fields,
                                    size_t nfields, diag_list *diags)
{
    SL_UNUSED(node);
    const throttle_options *o = options;
    return o->exclude ? xf_condition_check(o->exclude, label, "exclude", fields, nfields, diags)
                      : 0;
}

static void throttle_destroy(void *state)
{
    throttle_state *s = state;
    if (!s)
        return;
    template_free(s->key);
    vrl_program_free(s->exclude);
    lru_free(s->keys);
    free(s);
}

static int throttle_build(const void *options, const component_info *info, void **state,
                          sl_error *err)
{
    const throttle_options *o = options;
    throttle_state *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    xf_ctx_init(&s->ctx, info);
    s->interval_ns = (int64_t)(o->window_secs * 1e9 / (double)o->threshold);
    if (s->interval_ns < 1)
        s->interval_ns = 1;
    s->tolerance_ns = s->interval_ns * (int64_t)(o->threshold - 1);
    s->keys = lru_new(THROTTLE_MAX_KEYS);
    if (!s->keys) {
        throttle_destroy(s);
        return sl_fail(err, "out of memory");
    }
    if ((o->key_field && template_parse(o->key_field, &s->key, err) < 0) ||
        (o->exclude && xf_condition_build(o->exclude, "exclude", info, &s->exclude, err) < 0)) {
        throttle_destroy(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* The bucket of e: the hash of the rendered key, or of "no key". */
static uint64_t bucket_of(throttle_state *s, const event *e, buf *scratch, uint64_t *errors)
{
    if (!s->key)
        return 0;
    buf_reset(scratch);
    sl_error err = {{0}};
    if (template_render(s->key, e, scratch, &err) < 0) {
        (*errors)++;
        xf_log_error(&s->ctx, "Failed to render template for \"key_field\": %s", err.msg);
        return 0;
    }
    /* Hashing the length first keeps every rendering, even an empty one,
     * apart from the "no key" bucket 0. */
    uint64_t len = scratch->len;
    return xf_hash_finish(xf_hash(xf_hash(XF_HASH_INIT, &len, sizeof(len)), scratch->data,
                                  scratch->len)) | 1;
}

/* GCRA: the event fits when the bucket's full time is at most
 * tolerance ahead of now; each event pushes it one interval further. */
static bool admit(throttle_state *s, uint64_t key, int64_t now)
{
    uint64_t *full_at = lru_get(s->keys, key);
    int64_t tat = full_at && (int64_t)*full_at > now ? (int64_t)*full_at : now;
    if (now < tat - s->tolerance_ns)
        return false;
    int64_t next = tat + s->interval_ns;
    if (full_at)
        *full_at = (uint64_t)next;
    else
        lru_insert(s->keys, key, (uint64_t)next);
    return true;
}

/* Forgets keys whose bucket is full again: they are as good as new. */
static void forget_full(throttle_state *s, int64_t now)
{
    uint64_t key, full_at;
    while (lru_oldest(s->keys, &key, &full_at) && (int64_t)full_at <= now)
        lru_remove_oldest(s->keys);
}

static int throttle_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    SL_UNUSED(em);
    throttle_state *s = state;
    if (b->count == 0)
        return 0;
    bool *keep = arena_alloc(b->arena, b->count * sizeof(*keep));
    if (!keep)
        return sl_fail(err, "out of memory throttling %u events", b->count);
    int64_t now = sl_now_mono_ns();
    forget_full(s, now);
    buf scratch = BUF_INIT;
    uint64_t condition_errors = 0, template_errors = 0, dropped = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        event *e = &b->events[i];
        if (s->exclude && xf_condition_eval(s->exclude, b->arena, e, &s->ctx,
                                            &condition_errors)) {
            keep[i] = true;
            continue;
        }
        keep[i] = admit(s, bucket_of(s, e, &scratch, &template_errors), now);
        dropped += !keep[i];
    }
    buf_free(&scratch);
    if (dropped)
        batch_compact(b, keep);
    xf_count_errors(&s->ctx, XF_CONDITION_ERROR, condition_errors);
    xf_count_errors(&s->ctx, "template_failed", template_errors);
    xf_count_discarded(&s->ctx, true, dropped);
    return 0;
}

const component_desc transform_throttle_desc = {
    .type = "throttle",
    .kind = COMPONENT_TRANSFORM,
    .summary = "Rate-limits events, per key, to a threshold per time window.",
    .options = throttle_table,
    .options_size = sizeof(throttle_options),
    .input_types = EVENT_ANY,
    .output_types = 0,
    .stateless = false,
    .check = throttle_check,
    .check_fields = throttle_check_fields,
    .keeps_fields = true,
    .build = throttle_build,
    .destroy = throttle_destroy,
    .transform_process = throttle_process,
};
