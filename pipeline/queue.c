/* queue.c - bounded batch queue with back-pressure (see queue.h).
 *
 * A mutex and two condition variables: batches hold ~1024 events, so the
 * queue is touched a few thousand times a second at full speed and a lock is
 * far from the bottleneck, while it keeps blocking, closing and draining easy
 * to reason about. */
#include "pipeline/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct node {
    struct node *next;
    batch *b;
} node;

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    node *head, *tail;
    size_t events;
    size_t batches;
    uint64_t bytes;
    size_t max_events;
    queue_mode mode;
    int producers;
    int producers_done;
    bool closed;
    void (*notify)(void *ud);
    void *notify_ud;
};

queue *queue_new(size_t max_events, queue_mode mode)
{
    queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_cond_init(&q->not_full, &attr);
    pthread_condattr_destroy(&attr);
    q->max_events = max_events ? max_events : 1;
    q->mode = mode;
    return q;
}

void queue_free(queue *q)
{
    if (!q)
        return;
    node *n = q->head;
    while (n) {
        node *next = n->next;
        batch_release(n->b, ACK_ERRORED);
        free(n);
        n = next;
    }
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

void queue_add_producer(queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->producers++;
    pthread_mutex_unlock(&q->lock);
}

void queue_producer_done(queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->producers_done++;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    if (q->notify)
        q->notify(q->notify_ud);
}

static bool queue_is_full(const queue *q)
{
    return q->events >= q->max_events;
}

queue_result queue_push(queue *q, batch *b)
{
    node *n = malloc(sizeof(*n));
    if (!n) {
        batch_release(b, ACK_ERRORED);
        return QUEUE_CLOSED;
    }
    n->next = NULL;
    n->b = b;
    pthread_mutex_lock(&q->lock);
    while (!q->closed && queue_is_full(q) && q->mode == QUEUE_BLOCK)
        pthread_cond_wait(&q->not_full, &q->lock);
    if (q->closed || queue_is_full(q)) {
        bool closed = q->closed;
        pthread_mutex_unlock(&q->lock);
        free(n);
        /* drop_newest is the operator's choice: the events count as
         * delivered, and the caller counts them as discarded. */
        batch_release(b, closed ? ACK_ERRORED : ACK_DELIVERED);
        return closed ? QUEUE_CLOSED : QUEUE_DROPPED;
    }
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->events += b->count;
    q->bytes += b->json_bytes;
    q->batches++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    if (q->notify)
        q->notify(q->notify_ud);
    return QUEUE_OK;
}

static bool queue_has_ended(const queue *q)
{
    return q->closed || (!q->head && q->producers_done >= q->producers);
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

queue_result queue_pop(queue *q, batch **out, int timeout_ms)
{
    struct timespec deadline;
    if (timeout_ms > 0)
        deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&q->lock);
    while (!q->head && !queue_has_ended(q)) {
        if (timeout_ms == 0)
            break;
        if (timeout_ms < 0) {
            pthread_cond_wait(&q->not_empty, &q->lock);
        } else if (pthread_cond_timedwait(&q->not_empty, &q->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    if (q->closed || !q->head) {
        queue_result r = queue_has_ended(q) ? QUEUE_END : QUEUE_TIMEOUT;
        pthread_mutex_unlock(&q->lock);
        return r;
    }
    node *n = q->head;
    q->head = n->next;
    if (!q->head)
        q->tail = NULL;
    q->events -= n->b->count;
    q->bytes -= n->b->json_bytes;
    q->batches--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    *out = n->b;
    free(n);
    return QUEUE_OK;
}

void queue_close(queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    if (q->notify)
        q->notify(q->notify_ud);
}

void queue_set_notify(queue *q, void (*fn)(void *ud), void *ud)
{
    q->notify = fn;
    q->notify_ud = ud;
}

size_t queue_events(queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->events;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t queue_batches(queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->batches;
    pthread_mutex_unlock(&q->lock);
    return n;
}

uint64_t queue_bytes(queue *q)
{
    pthread_mutex_lock(&q->lock);
    uint64_t n = q->bytes;
    pthread_mutex_unlock(&q->lock);
    return n;
}
