/* batch.h - the unit that moves between threads.
 *
 * A batch is up to `cap` events plus the arena they live in. It is reference
 * counted: fan-out to several consumers hands each one a reference instead of
 * a copy. Every reference also holds a reference on the batch's ack group, so
 * a consumer finishes with a batch by calling batch_release() with the
 * delivery status, which reports to the source and drops the memory when it
 * was the last reference. A consumer that mutates events and finds the batch
 * shared makes its own copy first (batch_make_writable). */
#ifndef SLUICE_BATCH_H
#define SLUICE_BATCH_H

#include <stdatomic.h>
#include "pipeline/event.h"
#include "pipeline/ack.h"

#define BATCH_DEFAULT_EVENTS 1024

typedef struct batch {
    atomic_uint refs;
    uint32_t count;         /* events in use */
    uint32_t cap;
    uint32_t events_cap;    /* slots allocated in events (grows up to cap) */
    event *events;
    arena *arena;           /* owned: freed with the batch */
    ack_group *ack;         /* one reference per batch reference; may be NULL */
    uint64_t seq;           /* order within a stage, set by the runtime */
    uint64_t input_bytes;   /* raw bytes the source read for these events */
    uint64_t json_bytes;    /* cached estimated JSON size; 0 = not computed */
    /* Counters of the producer still owed this batch's size: a source whose
     * only consumer is a transform leaves the estimate to that worker, which
     * computes it anyway, instead of walking every event on its own thread.
     * Credited, then cleared, by the first batch_json_bytes. */
    struct metrics_series *owed_bytes[2];
} batch;

/* A new batch with one reference, holding a reference on `ack` (may be NULL;
 * the caller keeps its own). NULL on allocation failure. */
batch *batch_new(uint32_t cap, ack_group *ack);

/* The next free event slot (zeroed), or NULL when the batch is full or the
 * events array could not grow. Up to cap events; the array grows lazily. */
event *batch_push(batch *b);
/* Drops the last pushed event (a line that failed to decode, say). */
void batch_pop(batch *b);

/* Adds a reference (and an ack reference). */
void batch_ref(batch *b);
/* Releases one reference, reporting `status` to the ack group. */
void batch_release(batch *b, ack_status status);

/* A deep copy with its own arena and one new ack reference; NULL on failure. */
batch *batch_clone(const batch *b);

/* Makes *b safe to mutate: when shared, replaces *b by a private copy and
 * releases the shared reference (as delivered: the copy carries the ack on).
 * -1 on allocation failure (*b unchanged). */
int batch_make_writable(batch **b);

/* Removes events for which keep[i] is false, preserving order. */
void batch_compact(batch *b, const bool *keep);

/* Sum of event_json_size_estimate over the events, cached in json_bytes;
 * the first computation also credits owed_bytes. */
uint64_t batch_json_bytes(batch *b);

#endif
