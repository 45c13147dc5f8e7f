/* sample.c - the `sample` transform: keeps 1 event in `rate` (or a `ratio`
 * of them) and marks the kept ones with the rate, as Vector's sample does.
 *
 * Which events are kept is deterministic, as in Vector: with `key_field`, a
 * hash of the field's value decides (so all events with one value are kept
 * or dropped together); otherwise a counter keeps the first event and then
 * every rate-th. Events matching `exclude` are always kept, unmarked.
 *
 * The counter is one atomic shared by the workers, so sample stays stateless
 * and runs in parallel: each batch reserves a block of counter values at
 * once. The number of events kept is exactly Vector's; which ones, when
 * batches run concurrently, follows the order the workers reach the counter
 * (with one worker thread it is exactly Vector's choice). The key hash is
 * sluice's own, not Vector's seahash: a different but equally fair set of
 * key values is kept. */
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/component.h"
#include "pipeline/json.h"
#include "pipeline/path.h"
#include "pipeline/template.h"
#include "transforms/xf.h"

typedef struct sample_options {
    uint64_t rate;
    double ratio;
    char *key_field;
    const cfg_node *exclude;
    char *sample_rate_key;
} sample_options;

static const opt_spec sample_table[] = {
    OPT_UINT_ROW("rate", sample_options, rate, OPT_MIN(1),
        .help = "Keep 1 event out of this many (give `rate` or `ratio`)."),
    OPT_FLOAT_ROW("ratio", sample_options, ratio, OPT_ABOVE(0), OPT_MAX(1),
        .help = "Keep this share of the events, above 0 and at most 1 (give `rate` or `ratio`)."),
    OPT_STRING_ROW("key_field", sample_options, key_field,
        .help = "A field whose value decides: events with the same value are all kept or all "
                "dropped. Events without it are sampled by count."),
    OPT_NODE_ROW("exclude", sample_options, exclude,
        .help = "A condition: matching events are never sampled out (a remap boolean expression, "
                "or {type: vrl, source: ...})."),
    OPT_STRING_ROW("sample_rate_key", sample_options, sample_rate_key, .def = "sample_rate",
        .help = "The field kept events get holding the rate (empty: none)."),
    OPT_END,
};

typedef struct sample_state {
    xf_ctx ctx;
    bool by_ratio;
    uint64_t rate;
    double ratio;
    uint64_t hash_threshold;      /* ratio with key_field: keep hash <= this */
    template *key;                /* "{{ key_field }}": the value as text */
    vrl_program *exclude;
    bool mark;
    path rate_path;
    char rate_text[40];           /* the value of sample_rate_key */
    size_t rate_len;
    atomic_uint_fast64_t counter;
} sample_state;

static size_t check_path(const cfg_node *node, const char *label, const char *option,
                         const char *text, diag_list *diags)
{
    if (!text || !text[0])
        return 0;
    path p;
    sl_error err = {{0}};
    if (path_parse(text, &p, &err) < 0) {
        diag_add(diags, DIAG_ERROR, cfg_map_get(node, option), label, "option \"%s\": %s",
                 option, err.msg);
        return 1;
    }
    path_free(&p);
    return 0;
}

static size_t sample_check(const void *options, const char *label, const cfg_node *node,
                           diag_list *diags)
{
    const sample_options *o = options;
    bool has_rate = opt_set(node, "rate"), has_ratio = opt_set(node, "ratio");
    size_t errors = 0;
    if (has_rate == has_ratio) {
        diag_add(diags, DIAG_ERROR, node, label,
                 "exactly one value must be provided for either `rate` or `ratio`");
        errors++;
    }
    errors += check_path(node, label, "key_field", o->key_field, diags);
    errors += check_path(node, label, "sample_rate_key", o->sample_rate_key, diags);
    return errors;
}

static size_t sample_check_fields(const void *options, const char *label,
                                  const cfg_node *node, const event_field_type *fields,
                                  size_t nfields, diag_list *diags)
{
    SL_UNUSED(node);
    const sample_options *o = options;
    return o->exclude ? xf_condition_check(o->exclude, label, "exclude", fields, nfields, diags)
                      : 0;
}

static void sample_destroy(void *state)
{
    sample_state *s = state;
    if (!s)
        return;
    template_free(s->key);
    vrl_program_free(s->exclude);
    path_free(&s->rate_path);
    free(s);
}

/* The text Vector puts in sample_rate: the rate, or the ratio as Rust
 * prints a float. */
static int rate_label(sample_state *s)
{
    if (!s->by_ratio) {
        s->rate_len = (size_t)snprintf(s->rate_text, sizeof(s->rate_text), "%llu",
                                       (unsigned long long)s->rate);
        return 0;
    }
    buf b = BUF_INIT;
    if (json_append_float_display(&b, s->ratio) < 0 || b.len >= sizeof(s->rate_text)) {
        buf_free(&b);
        return -1;
    }
    memcpy(s->rate_text, b.data, b.len);
    s->rate_len = b.len;
    buf_free(&b);
    return 0;
}

static int sample_build(const void *options, const component_info *info, void **state,
                        sl_error *err)
{
    const sample_options *o = options;
    sample_state *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    xf_ctx_init(&s->ctx, info);
    atomic_init(&s->counter, 0);
    s->by_ratio = o->rate == 0;
    s->rate = o->rate;
    s->ratio = o->ratio;
    if (s->by_ratio && !(s->ratio > 0.0 && s->ratio <= 1.0)) {
        sample_destroy(s);
        return sl_fail(err, "give `rate` (1 or more) or `ratio` (above 0, at most 1)");
    }
    s->hash_threshold = s->ratio >= 1.0 ? UINT64_MAX
                                        : (uint64_t)(s->ratio * 18446744073709551615.0);
    if (rate_label(s) < 0) {
        sample_destroy(s);
        return sl_fail(err, "out of memory");
    }
    if (o->key_field) {
        char text[512];
        if ((size_t)snprintf(text, sizeof(text), "{{ %s }}", o->key_field) >= sizeof(text) ||
            template_parse(text, &s->key, err) < 0) {
            sample_destroy(s);
            return sl_fail(err, "option \"key_field\": not a usable field path");
        }
    }
    s->mark = o->sample_rate_key && o->sample_rate_key[0];
    if ((s->mark && path_parse(o->sample_rate_key, &s->rate_path, err) < 0) ||
        (o->exclude && xf_condition_build(o->exclude, "exclude", info, &s->exclude, err) < 0)) {
        sample_destroy(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* The counter's decision for the k-th sampled event (0-based): Vector keeps
 * the first and then every rate-th; for a ratio, the event at which the
 * running sum 1 + k*ratio passes an integer. */
static bool keep_by_count(const sample_state *s, uint64_t k)
{
    if (!s->by_ratio)
        return k % s->rate == 0;
    if (k == 0)
        return true;
    return floor(1.0 + (double)k * s->ratio) > floor(1.0 + (double)(k - 1) * s->ratio);
}

/* The key field's decision: 1 keep, 0 drop, -1 the event has no such field. */
static int keep_by_key(const sample_state *s, const event *e, buf *scratch)
{
    buf_reset(scratch);
    if (template_render(s->key, e, scratch, NULL) < 0)
        return -1;
    uint64_t h = xf_hash_finish(xf_hash(XF_HASH_INIT, scratch->data, scratch->len));
    return s->by_ratio ? h <= s->hash_threshold : h % s->rate == 0;
}

static int mark(const sample_state *s, arena *a, event *e, const char *text)
{
    value *slot = path_set(a, &e->u.log, &s->rate_path);
    if (!slot)
        return -1;
    *slot = value_bytes(text, s->rate_len);
    return 0;
}

static int sample_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    SL_UNUSED(em);
    sample_state *s = state;
    if (b->count == 0)
        return 0;
    /* Excluded events are kept unmarked and don't advance the counter. */
    bool *excluded = arena_alloc(b->arena, b->count * sizeof(bool) * 2);
    const char *text = arena_strndup(b->arena, s->rate_text, s->rate_len);
    if (!excluded || !text)
        return sl_fail(err, "out of memory sampling %u events", b->count);
    bool *keep = excluded + b->count;
    uint64_t errors = 0, sampled = 0, dropped = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        excluded[i] = s->exclude &&
                      xf_condition_eval(s->exclude, b->arena, &b->events[i], &s->ctx, &errors);
        sampled += !excluded[i];
    }
    uint64_t k = sampled ? atomic_fetch_add(&s->counter, sampled) : 0;
    buf scratch = BUF_INIT;
    int rc = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        keep[i] = true;
        if (excluded[i])
            continue;
        bool by_count = keep_by_count(s, k++);
        int by_key = s->key ? keep_by_key(s, &b->events[i], &scratch) : -1;
        keep[i] = by_key < 0 ? by_count : by_key == 1;
        if (!keep[i])
            dropped++;
        else if (s->mark && b->events[i].type == EVENT_LOG &&
                 mark(s, b->arena, &b->events[i], text) < 0)
            rc = sl_fail(err, "out of memory marking sampled events");
    }
    buf_free(&scratch);
    batch_compact(b, keep);
    xf_count_errors(&s->ctx, XF_CONDITION_ERROR, errors);
    xf_count_discarded(&s->ctx, true, dropped);
    return rc;
}

const component_desc transform_sample_desc = {
    .type = "sample",
    .kind = COMPONENT_TRANSFORM,
    .summary = "Keeps 1 event in N (by count or by a field's value).",
    .options = sample_table,
    .options_size = sizeof(sample_options),
    .input_types = EVENT_LOG,
    .output_types = 0,
    .stateless = true,
    .check = sample_check,
    .check_fields = sample_check_fields,
    .keeps_fields = true,
    .build = sample_build,
    .destroy = sample_destroy,
    .transform_process = sample_process,
};
