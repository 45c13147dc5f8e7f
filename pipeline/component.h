/* component.h - what a source, transform or sink type provides, and the
 * context the runtime gives it.
 *
 * A component type is one .c file exporting one component_desc, listed in
 * registry.c. The descriptor's option table parses its config; build() turns
 * the parsed options into the component's state; the kind's callback runs it:
 *
 *   source    run() on its own thread: make batches, source_emit() them,
 *             return when source_stopping() or the input ends.
 *   transform process() on a worker: called concurrently on different
 *             batches when `stateless`, so state must be read-only then.
 *   sink      run() on its own thread: sink_next() until QUEUE_END, finish
 *             each batch with sink_done() and the delivery status.
 *
 * Callbacks return 0, or -1 with a message in err. */
#ifndef SLUICE_COMPONENT_H
#define SLUICE_COMPONENT_H

#include "pipeline/common.h"
#include "pipeline/batch.h"
#include "pipeline/queue.h"
#include "pipeline/metrics.h"
#include "config/component_schema.h"
#include "config/options.h"

typedef struct source_ctx source_ctx;
typedef struct sink_ctx sink_ctx;
typedef struct transform_emit transform_emit;

/* What build() learns about the component beyond its options. */
typedef struct component_info {
    const char *id;
    const char *data_dir;
    const component_metrics *metrics;
    bool acks_enabled;    /* sources: some sink downstream wants acknowledgements */
    /* transforms: the fields every arriving event has, with their types
       (what the sources upstream declare); borrowed from the topology */
    const event_field_type *fields;
    size_t nfields;
} component_info;

typedef struct component_desc {
    const char *type;
    component_kind kind;
    const char *summary;            /* one line for `sluice list` */
    const opt_spec *options;
    size_t options_size;            /* size of the struct the table fills */
    uint8_t input_types;            /* transforms, sinks: EVENT_LOG | EVENT_METRIC */
    uint8_t output_types;           /* sources, transforms; 0 = as its input */
    bool stateless;                 /* transforms: may be fused and parallel */
    bool internal;                  /* hidden from `sluice list` (test helpers) */
    bool acknowledges;              /* sources: hold their position (a checkpoint)
                                       until deliveries are acknowledged */
    /* Sources that acknowledge: what becomes of their position when no sink
     * they feed wants acknowledgements ("offsets are stored as events leave
     * the source"), for validate's warning. May be NULL. */
    const char *position_without_acks;
    bool no_default_output;         /* transforms: only the named outputs can be
                                       read (route): `inputs: [id]` is refused */

    /* Semantic checks beyond the table (e.g. "shuffle needs lines"); adds to
     * diags under label, returns the number of errors. May be NULL. */
    size_t (*check)(const void *options, const char *label, const cfg_node *node,
                    diag_list *diags);
    /* Transforms: checks that need the declared fields of the arriving
     * events (remap programs and conditions are compiled here); run by the
     * topology for every transform. May be NULL. */
    size_t (*check_fields)(const void *options, const char *label, const cfg_node *node,
                           const event_field_type *fields, size_t nfields,
                           diag_list *diags);
    /* Sources: fields every event they make has, with their types. */
    const event_field_type *fields;
    size_t nfields;
    /* Transforms: events leave with the fields they arrived with, untouched
     * (filter, route, sample...), so declared fields pass through. */
    bool keeps_fields;
    /* How many named outputs it has besides the default one (route);
     * NULL for none. */
    size_t (*output_count)(const void *options);
    /* The name of named output i < output_count(); it points into the
     * options or the config document, which outlive the topology. */
    const char *(*output_name)(const void *options, size_t i);

    int (*build)(const void *options, const component_info *info, void **state,
                 sl_error *err);
    void (*destroy)(void *state);

    int (*source_run)(void *state, source_ctx *ctx, sl_error *err);
    int (*transform_process)(void *state, batch *b, transform_emit *em, sl_error *err);
    int (*sink_run)(void *state, sink_ctx *ctx, sl_error *err);
    /* Checks that the peer is reachable (validate, and at start on the
     * sink's thread before run, where a failure is logged and the sink goes
     * on, as Vector does): 0 healthy, 1 nothing to check, -1 (err)
     * unhealthy. May be NULL. */
    int (*healthcheck)(void *state, sl_error *err);
} component_desc;

/* registry.c */
const component_desc *registry_find(component_kind kind, const char *type);
/* The registry as config_load looks types up in it. */
extern const component_catalog registry_catalog;
const component_desc *const *registry_all(size_t *n);
/* Every public type of a kind, for did-you-mean on a misspelled type. */
size_t registry_type_names(component_kind kind, const char **names, size_t max);

/* ---- sources (runtime.c) ---- */

/* A new batch sized for this pipeline, holding a reference on ack (may be
 * NULL). NULL on allocation failure. */
batch *source_batch_new(source_ctx *ctx, ack_group *ack);
/* Hands b to every consumer (ownership passes), counting the component's
 * received and sent events. Blocks while a consumer is full. Returns 0, or -1
 * when the pipeline is stopping and b could not be delivered (b is released
 * as errored). Empty batches are released and not sent. */
int source_emit(source_ctx *ctx, batch *b);
bool source_stopping(const source_ctx *ctx);
/* Waits for fd to become readable: 1 readable (or hung up), 0 timeout,
 * -1 the pipeline is stopping. timeout_ms < 0 waits without limit. */
int source_wait_fd(source_ctx *ctx, int fd, int timeout_ms);
/* Sleeps; 0 after the full time, -1 as soon as the pipeline is stopping. */
int source_sleep_ms(source_ctx *ctx, int64_t ms);
const component_metrics *source_metrics(const source_ctx *ctx);
const char *source_id(const source_ctx *ctx);

/* ---- transforms (runtime.c) ---- */

/* Sends b to the named output `named` (an index below output_count());
 * ownership passes, and what the transform leaves in its input batch goes to
 * the default output. -1 when b could not be kept (it is released). */
int transform_emit_to(transform_emit *em, size_t named, batch *b);

/* ---- sinks (runtime.c) ---- */

/* QUEUE_OK with *out, QUEUE_TIMEOUT, or QUEUE_END (input finished, or the
 * sink must stop: flush and return). Counts received events and bytes. */
queue_result sink_next(sink_ctx *ctx, batch **out, int timeout_ms);
/* Whether the sink must stop now rather than finish what it holds: its
 * disk buffer keeps what was not delivered for the next start, or the
 * shutdown timeout passed. A sink that retries checks it between tries and
 * then returns, releasing what it holds as errored. */
bool sink_must_stop(const sink_ctx *ctx);
/* Finishes b: counts `events` sent (and their estimated bytes) when
 * delivered, an error otherwise, and releases b with status. */
void sink_done(sink_ctx *ctx, batch *b, ack_status status);
/* The same when the sink had to drop `dropped` of b's events on its own (a
 * path template that could not render): they are counted as discarded, not
 * sent. */
void sink_done_partial(sink_ctx *ctx, batch *b, ack_status status, uint32_t dropped);
/* Finishes b when `rejected` of its events failed for good, `errored` of
 * them were given up on for now (retries ran out) and the others were
 * delivered (an HTTP sink's partial failures): the delivered ones are
 * counted as sent, the failed ones as discarded, as sink_done counts them.
 * b is released as errored when any was, so that no source passes it, else
 * as rejected when any was. */
void sink_done_mixed(sink_ctx *ctx, batch *b, uint32_t rejected, uint32_t errored);
const component_metrics *sink_metrics(const sink_ctx *ctx);
const char *sink_id(const sink_ctx *ctx);

#endif
