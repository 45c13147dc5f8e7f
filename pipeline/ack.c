/* ack.c - ack groups and the ordered-prefix tracker (see ack.h). */
#include "pipeline/ack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct ack_group {
    atomic_uint refs;
    atomic_int worst;     /* ack_status, only ever raised */
    ack_fn fn;
    void *ud;
    uint64_t token;
};

ack_group *ack_group_new(ack_fn fn, void *ud, uint64_t token)
{
    ack_group *g = malloc(sizeof(*g));
    if (!g)
        return NULL;
    atomic_init(&g->refs, 1);
    atomic_init(&g->worst, ACK_DELIVERED);
    g->fn = fn;
    g->ud = ud;
    g->token = token;
    return g;
}

void ack_group_ref(ack_group *g)
{
    if (g)
        atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

static void raise_status(ack_group *g, ack_status status)
{
    int cur = atomic_load_explicit(&g->worst, memory_order_relaxed);
    while ((int)status > cur &&
           !atomic_compare_exchange_weak_explicit(&g->worst, &cur, (int)status,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void ack_group_release(ack_group *g, ack_status status)
{
    if (!g)
        return;
    raise_status(g, status);
    if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (g->fn)
        g->fn(g->ud, g->token, (ack_status)atomic_load(&g->worst));
    free(g);
}

/* The tracker is a ring of pending batches in the order they were added;
 * tokens are consecutive, so a token finds its slot in O(1). */
typedef struct tracked {
    uint64_t position;
    bool done;
    ack_status status;
} tracked;

struct ack_tracker {
    pthread_mutex_t lock;
    tracked *ring;
    size_t cap;          /* power of two */
    uint64_t first;      /* token of ring's front */
    uint64_t next;       /* token the next add gets */
};

ack_tracker *ack_tracker_new(void)
{
    ack_tracker *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cap = 64;
    t->ring = calloc(t->cap, sizeof(*t->ring));
    if (!t->ring) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void ack_tracker_free(ack_tracker *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->ring);
    free(t);
}

static int tracker_grow(ack_tracker *t)
{
    size_t ncap = t->cap * 2;
    tracked *ring = calloc(ncap, sizeof(*ring));
    if (!ring)
        return -1;
    for (uint64_t tok = t->first; tok < t->next; tok++)
        ring[tok & (ncap - 1)] = t->ring[tok & (t->cap - 1)];
    free(t->ring);
    t->ring = ring;
    t->cap = ncap;
    return 0;
}

int ack_tracker_add(ack_tracker *t, uint64_t position, uint64_t *token)
{
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    if (t->next - t->first == t->cap && tracker_grow(t) < 0) {
        rc = -1;
    } else {
        tracked *slot = &t->ring[t->next & (t->cap - 1)];
        slot->position = position;
        slot->done = false;
        slot->status = ACK_DELIVERED;
        *token = t->next++;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void ack_tracker_complete(ack_tracker *t, uint64_t token, ack_status status)
{
    pthread_mutex_lock(&t->lock);
    if (token >= t->first && token < t->next) {
        tracked *slot = &t->ring[token & (t->cap - 1)];
        slot->done = true;
        slot->status = status;
    }
    pthread_mutex_unlock(&t->lock);
}

bool ack_tracker_advance(ack_tracker *t, uint64_t *position, uint64_t *failed)
{
    bool moved = false;
    uint64_t nfailed = 0;
    pthread_mutex_lock(&t->lock);
    while (t->first < t->next) {
        tracked *slot = &t->ring[t->first & (t->cap - 1)];
        if (!slot->done || slot->status == ACK_ERRORED)
            break;
        *position = slot->position;
        if (slot->status != ACK_DELIVERED)
            nfailed++;
        t->first++;
        moved = true;
    }
    pthread_mutex_unlock(&t->lock);
    if (failed)
        *failed = nfailed;
    return moved;
}

bool ack_tracker_blocked(ack_tracker *t)
{
    pthread_mutex_lock(&t->lock);
    const tracked *front = &t->ring[t->first & (t->cap - 1)];
    bool blocked = t->first < t->next && front->done && front->status == ACK_ERRORED;
    pthread_mutex_unlock(&t->lock);
    return blocked;
}

uint64_t ack_tracker_pending(ack_tracker *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t n = t->next - t->first;
    pthread_mutex_unlock(&t->lock);
    return n;
}
