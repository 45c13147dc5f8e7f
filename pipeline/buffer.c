/* buffer.c - a sink's input buffer (see buffer.h): opens the kind the
 * sink's config names and hands every call to it. */
#include "pipeline/buffer_kind.h"

#include <stdlib.h>

void buffer_counters_register(buffer_counters *c, const component_metrics *m)
{
    c->received_events = component_metrics_extra(m, "buffer_received_events_total",
        METRICS_COUNTER, "The number of events written to the buffer.");
    c->received_bytes = component_metrics_extra(m, "buffer_received_event_bytes_total",
        METRICS_COUNTER, "The estimated JSON bytes of the events written to the buffer.");
    c->sent_events = component_metrics_extra(m, "buffer_sent_events_total",
        METRICS_COUNTER, "The number of events read from the buffer.");
    c->sent_bytes = component_metrics_extra(m, "buffer_sent_event_bytes_total",
        METRICS_COUNTER, "The estimated JSON bytes of the events read from the buffer.");
    c->discarded_events = component_metrics_extra(m, "buffer_discarded_events_total",
        METRICS_COUNTER, "The number of events the buffer dropped.");
}

int buffer_open(const component_config *cc, const char *data_dir, uint32_t batch_events,
                const component_metrics *m, sink_buffer **out, sl_error *err)
{
    *out = NULL;
    if (cc->buffer_type == BUFFER_DISK)
        return disk_sink_buffer_open(cc, data_dir, batch_events, m, out, err);
    return memory_buffer_open(cc, m, out, err);
}

int buffer_start(sink_buffer *b, sl_error *err)
{
    return b->ops->start ? b->ops->start(b, err) : 0;
}

void buffer_add_producer(sink_buffer *b)
{
    queue_add_producer(b->input);
}

void buffer_producer_done(sink_buffer *b)
{
    queue_producer_done(b->input);
}

queue_result buffer_push(sink_buffer *b, batch *bt)
{
    return b->ops->push(b, bt);
}

queue_result buffer_pop(sink_buffer *b, batch **out, int timeout_ms)
{
    return b->ops->pop(b, out, timeout_ms);
}

bool buffer_must_stop(sink_buffer *b)
{
    return b->ops->must_stop(b);
}

void buffer_shutting_down(sink_buffer *b)
{
    if (b->ops->shutting_down)
        b->ops->shutting_down(b);
}

void buffer_close(sink_buffer *b)
{
    b->ops->close(b);
}

void buffer_discard_rest(sink_buffer *b, const char *sink_id)
{
    b->ops->discard_rest(b, sink_id);
}

void buffer_stop(sink_buffer *b)
{
    if (b->ops->stop)
        b->ops->stop(b);
}

void buffer_log_pending(sink_buffer *b, const char *sink_id, uint64_t sink_held)
{
    b->ops->log_pending(b, sink_id, sink_held);
}

void buffer_free(sink_buffer *b)
{
    if (b)
        b->ops->free(b);
}
