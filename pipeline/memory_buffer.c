/* memory_buffer.c - the memory kind of sink buffer (`buffer.type: memory`,
 * the default): the bounded queue between the graph and the sink, holding
 * up to buffer.max_events events, blocking producers when full or dropping
 * the newest batch (`when_full: drop_newest`). It has no thread; its
 * gauges follow the queue on every push and pop. */
#include "pipeline/buffer_kind.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "pipeline/log.h"

#define DEFAULT_MAX_EVENTS 500

typedef struct memory_buffer {
    sink_buffer base;
    atomic_bool closed;
} memory_buffer;

static void update_gauges(sink_buffer *b)
{
    if (!b->metrics || !b->metrics->buffer_events)
        return;
    metrics_set(b->metrics->buffer_events, (double)queue_events(b->input));
    metrics_set(b->metrics->buffer_bytes, (double)queue_bytes(b->input));
}

/* The batch's size is read before the push: once queued it is the sink's. */
static queue_result memory_push(sink_buffer *b, batch *bt)
{
    uint32_t count = bt->count;
    uint64_t bytes = bt->json_bytes;
    queue_result r = queue_push(b->input, bt);
    if (r == QUEUE_OK) {
        metrics_add(b->counters.received_events, count);
        metrics_add(b->counters.received_bytes, bytes);
        update_gauges(b);
    } else if (r == QUEUE_DROPPED) {
        metrics_add(b->counters.discarded_events, count);
        if (b->metrics)
            metrics_add(b->metrics->discarded_intentional, count);
    }
    return r;
}

static queue_result memory_pop(sink_buffer *b, batch **out, int timeout_ms)
{
    queue_result r = queue_pop(b->input, out, timeout_ms);
    if (r == QUEUE_OK) {
        metrics_add(b->counters.sent_events, (*out)->count);
        metrics_add(b->counters.sent_bytes, batch_json_bytes(*out));
        update_gauges(b);
    }
    return r;
}

static bool memory_must_stop(sink_buffer *b)
{
    return atomic_load_explicit(&((memory_buffer *)b)->closed, memory_order_relaxed);
}

static void memory_close(sink_buffer *b)
{
    atomic_store(&((memory_buffer *)b)->closed, true);
    queue_close(b->input);
}

static void memory_discard_rest(sink_buffer *b, const char *sink_id)
{
    SL_UNUSED(sink_id);
    batch *bt;
    while (queue_pop(b->input, &bt, -1) == QUEUE_OK) {
        if (b->metrics)
            metrics_add(b->metrics->discarded_error, bt->count);
        batch_release(bt, ACK_ERRORED);
    }
    update_gauges(b);
}

static void memory_log_pending(sink_buffer *b, const char *sink_id, uint64_t sink_held)
{
    size_t events = queue_events(b->input), batches = queue_batches(b->input);
    if (events == 0 && sink_held == 0)
        return;
    slog_warn(sink_id, "not delivered: %zu events in %zu batches in the memory buffer and "
              "%" PRIu64 " events held by the sink; sources with acknowledgements read them "
              "again at the next start, others lose them", events, batches, sink_held);
}

static void memory_free(sink_buffer *b)
{
    queue_free(b->input);
    free(b);
}

static const buffer_ops memory_ops = {
    .push = memory_push,
    .pop = memory_pop,
    .must_stop = memory_must_stop,
    .close = memory_close,
    .discard_rest = memory_discard_rest,
    .log_pending = memory_log_pending,
    .free = memory_free,
};

int memory_buffer_open(const component_config *cc, const component_metrics *m,
                       sink_buffer **out, sl_error *err)
{
    memory_buffer *mb = calloc(1, sizeof(*mb));
    size_t max_events = cc->buffer_max_events ? cc->buffer_max_events : DEFAULT_MAX_EVENTS;
    queue_mode mode = cc->buffer_when_full == WHEN_FULL_DROP_NEWEST ? QUEUE_DROP_NEWEST
                                                                    : QUEUE_BLOCK;
    queue *q = mb ? queue_new(max_events, mode) : NULL;
    if (!q) {
        free(mb);
        return sl_fail(err, "out of memory creating the buffer of %s", cc->id);
    }
    mb->base.ops = &memory_ops;
    mb->base.input = q;
    mb->base.metrics = m;
    atomic_init(&mb->closed, false);
    buffer_counters_register(&mb->base.counters, m);
    *out = &mb->base;
    return 0;
}
