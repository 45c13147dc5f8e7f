/* kafka_offsets.h - which Kafka offsets the `kafka` source may store.
 *
 * Every emitted batch records, per partition it holds records of, a segment:
 * the offsets first..last it covers (tombstones and undecodable records
 * included: they are done once their batch is). A partition stores its
 * offset only over the contiguous prefix of finished segments (an ack ring
 * per partition), so a record whose delivery failed is never skipped:
 *
 *   delivered  finished.
 *   rejected   finished too (the data itself was refused): logged as an
 *              error naming the topic, partition and offsets, and counted.
 *   errored    not finished: the partition stops taking records, and once
 *              none of its segments is in flight any more it is read again
 *              from its first unacknowledged offset after a backoff (100 ms,
 *              doubling to 5 s, reset by a delivery).
 *
 * A partition's generation changes whenever its ring starts over (a rewind,
 * a revoke, a new assignment), so a late acknowledgement of a segment of the
 * old generation is ignored.
 *
 * Threads: the poller (the source's thread) adds partitions, builds and
 * seals segments and takes actions; acknowledgements arrive on sink
 * threads. One lock guards the rings and counters; fields marked "poller"
 * are only touched by the poller thread. Nothing here calls librdkafka: the
 * poller turns actions into calls. */
#ifndef SLUICE_KAFKA_OFFSETS_H
#define SLUICE_KAFKA_OFFSETS_H

#include "pipeline/ack.h"
#include "pipeline/common.h"
#include "pipeline/metrics.h"

typedef enum kafka_part_state {
    KAFKA_PART_RUNNING = 0,
    KAFKA_PART_ERRORED,      /* a segment errored: paused, waiting for the others */
    KAFKA_PART_BACKOFF,      /* rewound, waiting to read again */
    KAFKA_PART_STOPPED,      /* revoked or stopping: drained, then released */
} kafka_part_state;

typedef struct kafka_partition {
    char *topic;             /* owned */
    int32_t partition;
    bool accepting;          /* poller: records of it go into batches */
    bool assigned;           /* poller */
    int64_t pending_rewind;  /* poller: where to seek once it may resume; -1 none */
    int64_t read_next;       /* poller: the offset after the last record read; -1 none */
    int64_t committed;       /* poller: the group's offset for it (where its next owner
                              * starts); -1 unknown */
    /* under the lock */
    kafka_part_state state;
    bool pause_sent;         /* the poller paused it for the error */
    uint64_t gen;
    ack_ring ring;           /* entries at a segment's last offset; detail: first offset */
    uint64_t open;           /* sealed segments of this generation not completed */
    int64_t acked_next;      /* offset after the acknowledged prefix; -1 unknown */
    int64_t stored;          /* last offset given out to store; -1 none */
    int64_t backoff_ns;
    int64_t resume_at_ns;
} kafka_partition;

/* One partition's records in one batch. */
typedef struct kafka_segment {
    kafka_partition *p;
    uint64_t gen;            /* the generation it was built in */
    int64_t first, last;
    uint32_t events;
    bool sealed;             /* added to the ring */
    uint64_t token;
} kafka_segment;

typedef struct kafka_offsets kafka_offsets;

/* The segments of one batch, made by the poller. */
typedef struct kafka_batch_rec {
    kafka_segment *segs;
    size_t n, cap;
} kafka_batch_rec;

typedef enum kafka_action_kind {
    KAFKA_ACTION_STORE = 0,  /* store `offset` (the next offset to read) */
    KAFKA_ACTION_PAUSE,      /* a segment errored: stop fetching it */
    KAFKA_ACTION_REWIND,     /* resume it and seek to `offset` */
} kafka_action_kind;

typedef struct kafka_action {
    kafka_action_kind kind;
    kafka_partition *p;
    int64_t offset;
} kafka_action;

/* metrics may be NULL (tests). */
kafka_offsets *kafka_offsets_new(const char *log_id, const component_metrics *metrics);
void kafka_offsets_free(kafka_offsets *ko);

/* The partition's entry, made on first use; NULL on allocation failure.
 * Entries live as long as ko. Poller. */
kafka_partition *kafka_offsets_partition(kafka_offsets *ko, const char *topic, int32_t part);
/* Every partition made so far (poller). */
kafka_partition *const *kafka_offsets_all(const kafka_offsets *ko, size_t *n);
/* Starts a partition over for a new assignment: nothing acknowledged yet. */
void kafka_offsets_assign(kafka_offsets *ko, kafka_partition *p);
/* Stops taking its records (revoke, shutdown); its segments in flight are
 * still waited for. */
void kafka_offsets_stop(kafka_offsets *ko, kafka_partition *p);
/* Forgets its segments (late acknowledgements are ignored); returns how
 * many were still in flight. */
uint64_t kafka_offsets_release(kafka_offsets *ko, kafka_partition *p);

/* Notes that `offset` of p, which made `events` events, goes into the
 * batch of rec. Poller; -1 on allocation failure. */
int kafka_rec_note(kafka_batch_rec *rec, kafka_partition *p, int64_t offset, uint32_t events);
void kafka_rec_free(kafka_batch_rec *rec);

/* Registers rec's segments before its batch leaves (segments of a
 * generation that has passed are dropped). -1 on allocation failure. */
int kafka_offsets_seal(kafka_offsets *ko, kafka_batch_rec *rec);
/* rec's batch finished with status (any thread). rec stays the caller's. */
void kafka_offsets_complete(kafka_offsets *ko, const kafka_batch_rec *rec, ack_status status);

/* What the poller has to do now: stores, pauses and rewinds, in *out
 * (ko's array, valid until the next call) and *n. -1 out of memory. */
int kafka_offsets_actions(kafka_offsets *ko, int64_t now_ns, const kafka_action **out,
                          size_t *n);
/* Waits until none of the n partitions has a segment in flight or until
 * deadline_ns (monotonic); returns how many segments are still in flight. */
uint64_t kafka_offsets_wait_idle(kafka_offsets *ko, kafka_partition *const *parts, size_t n,
                                 int64_t deadline_ns);
/* The offset p may store (the next to read after its acknowledged prefix),
 * or -1 when nothing was acknowledged. Marks it stored. */
int64_t kafka_offsets_take_store(kafka_offsets *ko, kafka_partition *p);

/* The group committed `next` (the next offset to read) for p. Poller. */
void kafka_offsets_committed(kafka_partition *p, int64_t next);
/* How many records before `next` the next owner of p reads again, from the
 * group's offset, when `next` could not be committed. Poller. */
uint64_t kafka_offsets_uncommitted(const kafka_partition *p, int64_t next);

/* The acknowledged prefix of p, for tests and logs: -1 when unknown. */
int64_t kafka_offsets_acked_next(kafka_offsets *ko, const kafka_partition *p);

#endif
