/* buffer_kind.h - what the kinds of sink buffer (memory_buffer.c,
 * disk_buffer_writer.c) implement for buffer.c, and the counters they
 * share. Only buffer kinds include it; everyone else uses buffer.h. */
#ifndef SLUICE_BUFFER_KIND_H
#define SLUICE_BUFFER_KIND_H

#include "pipeline/buffer.h"

/* Vector's buffer counters, on the sink's component labels. */
typedef struct buffer_counters {
    metrics_series *received_events, *received_bytes;
    metrics_series *sent_events, *sent_bytes;
    metrics_series *discarded_events;
} buffer_counters;

/* Registers them on m; every handle is NULL when m is (unit tests), and
 * counting on NULL does nothing. */
void buffer_counters_register(buffer_counters *c, const component_metrics *m);

typedef struct buffer_ops {
    int (*start)(sink_buffer *b, sl_error *err);                 /* may be NULL */
    queue_result (*push)(sink_buffer *b, batch *bt);
    queue_result (*pop)(sink_buffer *b, batch **out, int timeout_ms);
    bool (*must_stop)(sink_buffer *b);
    void (*shutting_down)(sink_buffer *b);                       /* may be NULL */
    void (*close)(sink_buffer *b);
    void (*discard_rest)(sink_buffer *b, const char *sink_id);
    void (*stop)(sink_buffer *b);                                /* may be NULL */
    void (*log_pending)(sink_buffer *b, const char *sink_id, uint64_t sink_held);
    void (*free)(sink_buffer *b);
} buffer_ops;

/* The part every kind starts with; a kind's own struct embeds it first. */
struct sink_buffer {
    const buffer_ops *ops;
    queue *input;      /* where producers push; registered on as producers */
    const component_metrics *metrics;
    buffer_counters counters;
};

/* memory_buffer.c */
int memory_buffer_open(const component_config *cc, const component_metrics *m,
                       sink_buffer **out, sl_error *err);
/* disk_buffer_writer.c */
int disk_sink_buffer_open(const component_config *cc, const char *data_dir,
                          uint32_t batch_events, const component_metrics *m,
                          sink_buffer **out, sl_error *err);

#endif
