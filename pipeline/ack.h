/* ack.h - end-to-end acknowledgements.
 *
 * An ack group stands for one batch a source emitted. Every holder of that
 * batch (each sink it fans out to, each copy a transform makes) holds one
 * reference; releasing a reference reports a status, and when the last
 * reference goes the source's callback gets the worst status reported
 * (rejected > errored > delivered). Events a transform drops on purpose are
 * released as delivered.
 *
 * An ack tracker turns out-of-order completions into the contiguous prefix a
 * source may make durable (a file checkpoint, a Kafka offset). Both are
 * thread-safe: releases come from sink threads. */
#ifndef SLUICE_ACK_H
#define SLUICE_ACK_H

#include <stdint.h>
#include <stdbool.h>

typedef enum ack_status {
    ACK_DELIVERED = 0,
    ACK_ERRORED = 1,    /* failed, might succeed if sent again */
    ACK_REJECTED = 2,   /* failed for good */
} ack_status;

typedef struct ack_group ack_group;

/* Called once, on the thread that releases the last reference. */
typedef void (*ack_fn)(void *ud, uint64_t token, ack_status status);

/* A group holding one reference for the caller. NULL on allocation failure. */
ack_group *ack_group_new(ack_fn fn, void *ud, uint64_t token);
/* NULL groups are accepted and ignored by both calls. */
void ack_group_ref(ack_group *g);
void ack_group_release(ack_group *g, ack_status status);

typedef struct ack_tracker ack_tracker;

ack_tracker *ack_tracker_new(void);
void ack_tracker_free(ack_tracker *t);

/* Records a batch whose events end at `position` (an offset, a line number)
 * and returns its token through *token. -1 on allocation failure. */
int ack_tracker_add(ack_tracker *t, uint64_t position, uint64_t *token);
/* Marks the batch of `token` finished with `status` (any order). */
void ack_tracker_complete(ack_tracker *t, uint64_t token, ack_status status);
/* When batches at the front have finished, pops them and returns true with
 * *position = the position of the last one popped and *failed = how many of
 * the popped ones were rejected (failed for good: there is no point in
 * reading them again). An errored batch is never popped: it may succeed if
 * read again, so nothing after it may become durable; the front stays there
 * (ack_tracker_blocked). False when the front is still open or blocked. */
bool ack_tracker_advance(ack_tracker *t, uint64_t *position, uint64_t *failed);
/* Whether the front batch errored, so the prefix will not move again. */
bool ack_tracker_blocked(ack_tracker *t);
/* Batches added and not yet popped. */
uint64_t ack_tracker_pending(ack_tracker *t);

#endif
