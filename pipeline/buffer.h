/* buffer.h - a sink's input buffer, the layer between the graph and a sink.
 *
 * Two kinds behind one interface: memory (a bounded queue, `when_full`
 * block or drop_newest) and disk (disk_buffer.c, fed by a writer thread of
 * its own that fsyncs on the sync interval). Each kind owns its threads,
 * its sync timing and its counters, so the runtime only pushes, pops and
 * stops buffers and never asks which kind a sink has.
 *
 *   producers  buffer_add_producer / buffer_producer_done, buffer_push
 *   the sink   buffer_pop, buffer_must_stop
 *   runtime    buffer_open, buffer_start, buffer_shutting_down, buffer_close,
 *              buffer_stop, buffer_log_pending, buffer_discard_rest,
 *              buffer_free
 *
 * Metrics, on the sink's component labels: buffer_size_events and
 * buffer_size_bytes (the component's gauges), buffer_received_events_total,
 * buffer_received_event_bytes_total, buffer_sent_events_total,
 * buffer_sent_event_bytes_total and buffer_discarded_events_total (Vector's
 * names), and for disk buffers buffer_errors_total (see disk_buffer.h).
 *
 * Shutdown: once every producer is done, a memory buffer hands out what it
 * holds and then ends. A disk buffer, once the pipeline is shutting down
 * and its last write is synced (what it holds is safe on disk), gives the
 * sink BUFFER_DISK_STOP_GRACE_MS and then tells it to stop
 * (buffer_must_stop), leaving what is not delivered by then in the buffer
 * for the next start. While the pipeline runs on, a disk buffer whose
 * producers are done hands out everything, as a memory buffer does. */
#ifndef SLUICE_BUFFER_H
#define SLUICE_BUFFER_H

#include <stdbool.h>
#include <stdint.h>
#include "pipeline/batch.h"
#include "pipeline/common.h"
#include "pipeline/metrics.h"
#include "pipeline/queue.h"
#include "config/config.h"

/* How long a disk-buffered sink may go on delivering (requests in flight,
 * a retry) once its buffer has taken and synced everything upstream had:
 * long enough for a request on its way to a live receiver to come back, short
 * enough that a dead receiver never holds a shutdown up (the buffer keeps
 * what was not delivered). */
#define BUFFER_DISK_STOP_GRACE_MS 2000

typedef struct sink_buffer sink_buffer;

/* The buffer of sink cc (its buffer options), counting on m (borrowed, may
 * be NULL in tests); disk buffers live in <data_dir>/buffer/<id>. Batches
 * read back from a disk buffer hold up to batch_events events. 0, or -1
 * (err) when it can't be created or opened. */
int buffer_open(const component_config *cc, const char *data_dir, uint32_t batch_events,
                const component_metrics *m, sink_buffer **out, sl_error *err);

/* Starts the buffer's own threads. 0, or -1 (err). */
int buffer_start(sink_buffer *b, sl_error *err);

void buffer_add_producer(sink_buffer *b);
void buffer_producer_done(sink_buffer *b);

/* Takes ownership of bt in every case (see queue_push for the results): the
 * fan-out's push, once per batch; bt's JSON size must be cached already. */
queue_result buffer_push(sink_buffer *b, batch *bt);

/* The sink's next batch: QUEUE_OK with *out, QUEUE_TIMEOUT, or QUEUE_END
 * (everything read, or the sink must stop). */
queue_result buffer_pop(sink_buffer *b, batch **out, int timeout_ms);

/* Whether the sink should stop now, leaving what it has not delivered to
 * the buffer (released as errored, read again at the next start) or to the
 * sources: a disk buffer's grace after its last sync is over, or the buffer
 * was closed. */
bool buffer_must_stop(sink_buffer *b);

/* The pipeline is shutting down (the sources were told to stop). */
void buffer_shutting_down(sink_buffer *b);

/* Forced shutdown: wakes blocked pushers (QUEUE_CLOSED) and the sink
 * (QUEUE_END). What a disk buffer holds stays on disk. */
void buffer_close(sink_buffer *b);

/* After the sink stopped early: what keeps arriving must not stall the
 * pipeline. A memory buffer releases it as errored (counted as discarded);
 * a disk buffer keeps it until it is full. Returns when the producers are
 * done (or the buffer closed). */
void buffer_discard_rest(sink_buffer *b, const char *sink_id);

/* Joins the buffer's threads (they end once the producers are done or the
 * buffer is closed) and syncs what the sink acknowledged. */
void buffer_stop(sink_buffer *b);

/* Logs what is not delivered yet, the buffer's share (events and batches
 * the sink has not read) and the sink_held events the sink read and has not
 * finished, and what becomes of it: a memory buffer's is lost unless its
 * sources acknowledge (they read it again at the next start); a disk
 * buffer keeps its own for the next start. Nothing when all is delivered. */
void buffer_log_pending(sink_buffer *b, const char *sink_id, uint64_t sink_held);

/* Frees it; batches the sink read must have been released first. A disk
 * buffer syncs and writes its ledger. NULL is fine. */
void buffer_free(sink_buffer *b);

#endif
