/* ack.h - end-to-end acknowledgements.
 *
 * An ack group stands for one batch a source emitted. Every holder of that
 * batch (each sink it fans out to, each copy a transform makes) holds one
 * reference; releasing a reference reports a status, and when the last
 * reference goes the source's callback gets the worst status reported
 * (errored > rejected > delivered: a batch some sink could not deliver for
 * now is read again, even if another sink refused it for good). Events a
 * transform drops on purpose are released as delivered.
 *
 * An ack tracker turns out-of-order completions into the contiguous prefix a
 * source may make durable (a file checkpoint, a Kafka offset). Both are
 * thread-safe: releases come from sink threads. The tracker is an ack ring
 * behind a lock; a disk buffer, which has a lock of its own, uses a ring
 * directly for the records it handed out. */
#ifndef SLUICE_ACK_H
#define SLUICE_ACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ack_status {
    ACK_DELIVERED = 0,
    ACK_REJECTED = 1,   /* failed for good */
    ACK_ERRORED = 2,    /* failed, might succeed if sent again */
} ack_status;

typedef struct ack_group ack_group;

/* Called once, on the thread that releases the last reference. */
typedef void (*ack_fn)(void *ud, uint64_t token, ack_status status);

/* A group holding one reference for the caller. NULL on allocation failure. */
ack_group *ack_group_new(ack_fn fn, void *ud, uint64_t token);
/* NULL groups are accepted and ignored by both calls. */
void ack_group_ref(ack_group *g);
void ack_group_release(ack_group *g, ack_status status);

/* The ordered-prefix rule, without a lock (its owner holds one). Entries
 * are added with increasing positions and get consecutive tokens; each may
 * carry detail_size bytes of its owner's. An entry completed as delivered
 * or rejected is finished, and later completions of it are ignored; one
 * completed as errored is not, and blocks the front until it is completed
 * again (read again and delivered). */
typedef struct ack_ring {
    unsigned char *slots;
    size_t slot_size;    /* an entry and its detail, aligned */
    size_t detail_size;
    size_t cap;          /* power of two */
    uint64_t first;      /* token of the front */
    uint64_t next;       /* token the next add gets */
} ack_ring;

/* -1 on allocation failure. */
int ack_ring_init(ack_ring *r, size_t detail_size);
void ack_ring_free(ack_ring *r);
/* Adds an entry at `position` with detail (detail_size bytes, may be NULL
 * when 0) and returns its token. -1 on allocation failure. */
int ack_ring_add(ack_ring *r, uint64_t position, const void *detail, uint64_t *token);
/* True when this completion finished the entry (it was not finished and
 * status is not errored); false for a token no longer (or never) held. */
bool ack_ring_complete(ack_ring *r, uint64_t token, ack_status status);
/* As ack_tracker_advance. */
bool ack_ring_advance(ack_ring *r, uint64_t *position, uint64_t *failed);
bool ack_ring_blocked(const ack_ring *r);
uint64_t ack_ring_pending(const ack_ring *r);
/* Whether token is held (added and not popped yet); and held and finished. */
bool ack_ring_holds(const ack_ring *r, uint64_t token);
bool ack_ring_finished(const ack_ring *r, uint64_t token);
/* The token of the first held entry at or after position (r->next when
 * none), and whether its position is exactly that. */
uint64_t ack_ring_seek(const ack_ring *r, uint64_t position, bool *exact);
/* A held entry's position and detail (its owner's to read and write). */
uint64_t ack_ring_position(const ack_ring *r, uint64_t token);
void *ack_ring_detail(const ack_ring *r, uint64_t token);

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
