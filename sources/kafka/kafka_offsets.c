/* kafka_offsets.c - which Kafka offsets the `kafka` source may store (see
 * kafka_offsets.h). */
#include "sources/kafka/kafka_offsets.h"
#include "pipeline/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_FIRST_NS (100 * 1000000LL)
#define BACKOFF_MAX_NS (5 * NS_PER_SEC)

struct kafka_offsets {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    const char *log_id;
    const component_metrics *metrics;
    metrics_series *rejected;
    kafka_partition **parts;
    size_t nparts, capparts;
    kafka_action *actions;
    size_t nactions, capactions;
};

kafka_offsets *kafka_offsets_new(const char *log_id, const component_metrics *metrics)
{
    kafka_offsets *ko = calloc(1, sizeof(*ko));
    if (!ko)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&ko->lock, NULL);
    pthread_cond_init(&ko->idle, &ca);
    pthread_condattr_destroy(&ca);
    ko->log_id = log_id;
    ko->metrics = metrics;
    if (metrics)
        ko->rejected = component_metrics_extra(metrics, "kafka_rejected_messages_total",
                                               METRICS_COUNTER,
                                               "Records a sink rejected for good; their offsets "
                                               "were passed.");
    return ko;
}

void kafka_offsets_free(kafka_offsets *ko)
{
    if (!ko)
        return;
    for (size_t i = 0; i < ko->nparts; i++) {
        ack_ring_free(&ko->parts[i]->ring);
        free(ko->parts[i]->topic);
        free(ko->parts[i]);
    }
    free(ko->parts);
    free(ko->actions);
    pthread_cond_destroy(&ko->idle);
    pthread_mutex_destroy(&ko->lock);
    free(ko);
}

/* ---- partitions ---- */

static kafka_partition *partition_new(const char *topic, int32_t part)
{
    kafka_partition *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (!(p->topic = strdup(topic)) || ack_ring_init(&p->ring, 0) < 0) {
        free(p->topic);
        free(p);
        return NULL;
    }
    p->partition = part;
    p->acked_next = -1;
    p->stored = -1;
    p->pending_rewind = -1;
    p->read_next = -1;
    p->committed = -1;
    p->backoff_ns = BACKOFF_FIRST_NS;
    p->state = KAFKA_PART_STOPPED;
    return p;
}

kafka_partition *kafka_offsets_partition(kafka_offsets *ko, const char *topic, int32_t part)
{
    for (size_t i = 0; i < ko->nparts; i++)
        if (ko->parts[i]->partition == part && strcmp(ko->parts[i]->topic, topic) == 0)
            return ko->parts[i];
    kafka_partition *p = partition_new(topic, part);
    if (!p)
        return NULL;
    pthread_mutex_lock(&ko->lock);
    int rc = SL_GROW(ko->parts, ko->nparts, ko->capparts, 8);
    if (rc == 0)
        ko->parts[ko->nparts++] = p;
    pthread_mutex_unlock(&ko->lock);
    if (rc < 0) {
        ack_ring_free(&p->ring);
        free(p->topic);
        free(p);
        return NULL;
    }
    return p;
}

kafka_partition *const *kafka_offsets_all(const kafka_offsets *ko, size_t *n)
{
    *n = ko->nparts;
    return ko->parts;
}

/* The ring starts over: what is in flight no longer counts. Lock held. */
static uint64_t start_over(kafka_partition *p)
{
    uint64_t in_flight = p->open;
    p->gen++;
    p->open = 0;
    p->ring.first = p->ring.next;
    return in_flight;
}

void kafka_offsets_assign(kafka_offsets *ko, kafka_partition *p)
{
    pthread_mutex_lock(&ko->lock);
    start_over(p);
    p->state = KAFKA_PART_RUNNING;
    p->pause_sent = false;
    p->acked_next = -1;
    p->stored = -1;
    p->backoff_ns = BACKOFF_FIRST_NS;
    pthread_mutex_unlock(&ko->lock);
    p->accepting = true;
    p->assigned = true;
    p->pending_rewind = -1;
    p->read_next = -1;
    p->committed = -1;
}

void kafka_offsets_stop(kafka_offsets *ko, kafka_partition *p)
{
    p->accepting = false;
    pthread_mutex_lock(&ko->lock);
    p->state = KAFKA_PART_STOPPED;
    pthread_mutex_unlock(&ko->lock);
}

uint64_t kafka_offsets_release(kafka_offsets *ko, kafka_partition *p)
{
    p->accepting = false;
    p->assigned = false;
    pthread_mutex_lock(&ko->lock);
    p->state = KAFKA_PART_STOPPED;
    uint64_t in_flight = start_over(p);
    pthread_mutex_unlock(&ko->lock);
    return in_flight;
}

/* ---- segments ---- */

int kafka_rec_note(kafka_batch_rec *rec, kafka_partition *p, int64_t offset, uint32_t events)
{
    for (size_t i = rec->n; i-- > 0;) {
        kafka_segment *s = &rec->segs[i];
        if (s->p == p && s->gen == p->gen) {
            s->last = offset;
            s->events += events;
            return 0;
        }
    }
    if (SL_GROW(rec->segs, rec->n, rec->cap, 4) < 0)
        return -1;
    rec->segs[rec->n++] = (kafka_segment){.p = p, .gen = p->gen, .first = offset,
                                          .last = offset, .events = events};
    return 0;
}

void kafka_rec_free(kafka_batch_rec *rec)
{
    free(rec->segs);
    rec->segs = NULL;
    rec->n = rec->cap = 0;
}

int kafka_offsets_seal(kafka_offsets *ko, kafka_batch_rec *rec)
{
    int rc = 0;
    pthread_mutex_lock(&ko->lock);
    for (size_t i = 0; i < rec->n && rc == 0; i++) {
        kafka_segment *s = &rec->segs[i];
        kafka_partition *p = s->p;
        if (s->gen != p->gen)
            continue;
        if (ack_ring_add(&p->ring, (uint64_t)s->last, NULL, &s->token) < 0) {
            rc = -1;
            break;
        }
        s->sealed = true;
        p->open++;
        /* Where the partition started: where it is read again from, and
         * nothing to store yet. An assignment starts at the group's offset
         * (or where auto_offset_reset puts a group without one, which is
         * also where a next owner would start). */
        if (p->acked_next < 0)
            p->acked_next = p->stored = s->first;
        if (p->committed < 0)
            p->committed = s->first;
    }
    pthread_mutex_unlock(&ko->lock);
    return rc;
}

static void report_rejected(kafka_offsets *ko, const kafka_segment *s)
{
    slog_error(ko->log_id, "A sink rejected %" PRIu32 " events of topic %s partition %" PRId32
               " offsets %" PRId64 "..%" PRId64 " for good; the offsets are passed.",
               s->events, s->p->topic, s->p->partition, s->first, s->last);
    metrics_add(ko->rejected, (uint64_t)(s->last - s->first + 1));
    if (ko->metrics)
        metrics_add(ko->metrics->discarded_error, s->events);
}

/* Lock held. */
static void complete_segment(kafka_offsets *ko, const kafka_segment *s, ack_status status)
{
    kafka_partition *p = s->p;
    if (!s->sealed || s->gen != p->gen)
        return;
    if (p->open)
        p->open--;
    if (!ack_ring_complete(&p->ring, s->token, status) && status != ACK_ERRORED)
        return;
    if (status == ACK_ERRORED) {
        if (p->state == KAFKA_PART_RUNNING) {
            p->state = KAFKA_PART_ERRORED;
            p->pause_sent = false;
        }
        return;
    }
    if (status == ACK_REJECTED)
        report_rejected(ko, s);
    else
        p->backoff_ns = BACKOFF_FIRST_NS;
    uint64_t last;
    while (ack_ring_advance(&p->ring, &last, NULL))
        p->acked_next = (int64_t)last + 1;
}

void kafka_offsets_complete(kafka_offsets *ko, const kafka_batch_rec *rec, ack_status status)
{
    pthread_mutex_lock(&ko->lock);
    for (size_t i = 0; i < rec->n; i++)
        complete_segment(ko, &rec->segs[i], status);
    pthread_cond_broadcast(&ko->idle);
    pthread_mutex_unlock(&ko->lock);
}

/* ---- actions ---- */

static int add_action(kafka_offsets *ko, kafka_action_kind kind, kafka_partition *p,
                      int64_t offset)
{
    if (SL_GROW(ko->actions, ko->nactions, ko->capactions, 8) < 0)
        return -1;
    ko->actions[ko->nactions++] = (kafka_action){kind, p, offset};
    return 0;
}

/* An errored partition: paused at once, rewound once nothing of it is in
 * flight, read again after its backoff. Lock held. */
static int error_actions(kafka_offsets *ko, kafka_partition *p, int64_t now_ns)
{
    if (p->state == KAFKA_PART_ERRORED && !p->pause_sent) {
        p->pause_sent = true;
        slog_warn(ko->log_id, "Delivery of topic %s partition %" PRId32 " failed for now; "
                  "it is read again from offset %" PRId64 ".", p->topic, p->partition,
                  p->acked_next);
        if (add_action(ko, KAFKA_ACTION_PAUSE, p, -1) < 0)
            return -1;
    }
    if (p->state == KAFKA_PART_ERRORED && p->open == 0) {
        start_over(p);
        p->state = KAFKA_PART_BACKOFF;
        p->resume_at_ns = now_ns + p->backoff_ns;
        p->backoff_ns = p->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : p->backoff_ns * 2;
    }
    if (p->state == KAFKA_PART_BACKOFF && now_ns >= p->resume_at_ns) {
        p->state = KAFKA_PART_RUNNING;
        p->pause_sent = false;
        return add_action(ko, KAFKA_ACTION_REWIND, p, p->acked_next);
    }
    return 0;
}

int kafka_offsets_actions(kafka_offsets *ko, int64_t now_ns, const kafka_action **out,
                          size_t *n)
{
    int rc = 0;
    pthread_mutex_lock(&ko->lock);
    ko->nactions = 0;
    for (size_t i = 0; i < ko->nparts && rc == 0; i++) {
        kafka_partition *p = ko->parts[i];
        if (p->acked_next > p->stored) {
            p->stored = p->acked_next;
            rc = add_action(ko, KAFKA_ACTION_STORE, p, p->acked_next);
        }
        if (rc == 0)
            rc = error_actions(ko, p, now_ns);
    }
    pthread_mutex_unlock(&ko->lock);
    *out = ko->actions;
    *n = ko->nactions;
    return rc;
}

static uint64_t open_count(kafka_partition *const *parts, size_t n)
{
    uint64_t open = 0;
    for (size_t i = 0; i < n; i++)
        open += parts[i]->open;
    return open;
}

uint64_t kafka_offsets_wait_idle(kafka_offsets *ko, kafka_partition *const *parts, size_t n,
                                 int64_t deadline_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t wait_ns = deadline_ns - sl_now_mono_ns();
    if (wait_ns < 0)
        wait_ns = 0;
    ts.tv_sec += (time_t)(wait_ns / NS_PER_SEC);
    ts.tv_nsec += (long)(wait_ns % NS_PER_SEC);
    if (ts.tv_nsec >= NS_PER_SEC) {
        ts.tv_sec++;
        ts.tv_nsec -= NS_PER_SEC;
    }
    pthread_mutex_lock(&ko->lock);
    uint64_t open;
    while ((open = open_count(parts, n)) > 0)
        if (pthread_cond_timedwait(&ko->idle, &ko->lock, &ts) != 0)
            break;
    open = open_count(parts, n);
    pthread_mutex_unlock(&ko->lock);
    return open;
}

int64_t kafka_offsets_take_store(kafka_offsets *ko, kafka_partition *p)
{
    pthread_mutex_lock(&ko->lock);
    int64_t next = p->acked_next;
    if (next > p->stored)
        p->stored = next;
    pthread_mutex_unlock(&ko->lock);
    return next;
}

void kafka_offsets_committed(kafka_partition *p, int64_t next)
{
    if (next > p->committed)
        p->committed = next;
}

uint64_t kafka_offsets_uncommitted(const kafka_partition *p, int64_t next)
{
    return p->committed >= 0 && next > p->committed ? (uint64_t)(next - p->committed) : 0;
}

int64_t kafka_offsets_acked_next(kafka_offsets *ko, const kafka_partition *p)
{
    pthread_mutex_lock(&ko->lock);
    int64_t next = p->acked_next;
    pthread_mutex_unlock(&ko->lock);
    return next;
}
