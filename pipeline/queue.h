/* queue.h - bounded FIFO of batches between threads.
 *
 * Capacity is counted in events: a push is admitted while fewer than
 * `max_events` events are queued, so one batch always fits and memory stays
 * bounded by configuration. When full, a QUEUE_BLOCK queue makes the producer
 * wait (back-pressure that reaches the source); a QUEUE_DROP_NEWEST queue
 * releases the incoming batch and reports it dropped.
 *
 * Several producers may push; the queue ends for its consumer once every
 * registered producer has called queue_producer_done() and it is empty.
 * queue_close() ends it at once (shutdown timeout): pushers and poppers wake
 * and get QUEUE_CLOSED. The queue owns the batches it holds. */
#ifndef SLUICE_QUEUE_H
#define SLUICE_QUEUE_H

#include <stddef.h>
#include "pipeline/batch.h"

typedef enum queue_mode {
    QUEUE_BLOCK = 0,
    QUEUE_DROP_NEWEST,
} queue_mode;

typedef enum queue_result {
    QUEUE_OK = 0,
    QUEUE_DROPPED = 1,   /* drop_newest: the batch was released as delivered */
    QUEUE_CLOSED = -1,   /* the batch was released as errored */
    QUEUE_TIMEOUT = 2,   /* pop: nothing within the timeout */
    QUEUE_END = -2,      /* pop: all producers done and drained, or closed */
} queue_result;

typedef struct queue queue;

queue *queue_new(size_t max_events, queue_mode mode);
void queue_free(queue *q);   /* releases what is left as errored */

void queue_add_producer(queue *q);
void queue_producer_done(queue *q);

/* Takes ownership of b in every case. */
queue_result queue_push(queue *q, batch *b);
/* QUEUE_OK with *out set, QUEUE_TIMEOUT, or QUEUE_END. timeout_ms < 0 waits
 * for ever; 0 polls. */
queue_result queue_pop(queue *q, batch **out, int timeout_ms);

void queue_close(queue *q);

/* Called (outside the queue's lock) after every successful push: the worker
 * pool uses it to learn that a stage has work. */
void queue_set_notify(queue *q, void (*fn)(void *ud), void *ud);

size_t queue_events(queue *q);
size_t queue_batches(queue *q);
/* Estimated JSON bytes queued (each batch's json_bytes as pushed). */
uint64_t queue_bytes(queue *q);

#endif
