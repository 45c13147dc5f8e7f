/* ack.c - ack groups, the ordered-prefix ring and the tracker (see ack.h). */
#include "pipeline/ack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the ring: slots of an entry header and the owner's detail, in the
 * order they were added; tokens are consecutive, so a token finds its slot
 * in O(1) and a position by binary search. */

typedef struct ring_entry {
    uint64_t position;
    bool done;
    ack_status status;
} ring_entry;

#define RING_INITIAL_CAP 64

static size_t slot_size_for(size_t detail_size)
{
    size_t align = _Alignof(max_align_t);
    size_t n = sizeof(ring_entry) + detail_size;
    return (n + align - 1) / align * align;
}

static ring_entry *ring_slot(const ack_ring *r, uint64_t token)
{
    return (ring_entry *)(r->slots + (size_t)(token & (r->cap - 1)) * r->slot_size);
}

int ack_ring_init(ack_ring *r, size_t detail_size)
{
    r->slot_size = slot_size_for(detail_size);
    r->detail_size = detail_size;
    r->cap = RING_INITIAL_CAP;
    r->first = r->next = 0;
    r->slots = calloc(r->cap, r->slot_size);
    return r->slots ? 0 : -1;
}

void ack_ring_free(ack_ring *r)
{
    free(r->slots);
    r->slots = NULL;
}

static int ring_grow(ack_ring *r)
{
    size_t ncap = r->cap * 2;
    unsigned char *slots = calloc(ncap, r->slot_size);
    if (!slots)
        return -1;
    for (uint64_t tok = r->first; tok < r->next; tok++)
        memcpy(slots + (size_t)(tok & (ncap - 1)) * r->slot_size, ring_slot(r, tok),
               r->slot_size);
    free(r->slots);
    r->slots = slots;
    r->cap = ncap;
    return 0;
}

int ack_ring_add(ack_ring *r, uint64_t position, const void *detail, uint64_t *token)
{
    if (r->next - r->first == r->cap && ring_grow(r) < 0)
        return -1;
    ring_entry *e = ring_slot(r, r->next);
    e->position = position;
    e->done = false;
    e->status = ACK_DELIVERED;
    if (detail)
        memcpy(e + 1, detail, r->detail_size);
    *token = r->next++;
    return 0;
}

bool ack_ring_holds(const ack_ring *r, uint64_t token)
{
    return token >= r->first && token < r->next;
}

static bool entry_finished(const ring_entry *e)
{
    return e->done && e->status != ACK_ERRORED;
}

bool ack_ring_complete(ack_ring *r, uint64_t token, ack_status status)
{
    if (!ack_ring_holds(r, token))
        return false;
    ring_entry *e = ring_slot(r, token);
    if (entry_finished(e))
        return false;
    e->done = true;
    e->status = status;
    return status != ACK_ERRORED;
}

bool ack_ring_advance(ack_ring *r, uint64_t *position, uint64_t *failed)
{
    bool moved = false;
    uint64_t nfailed = 0;
    while (r->first < r->next) {
        const ring_entry *e = ring_slot(r, r->first);
        if (!entry_finished(e))
            break;
        *position = e->position;
        if (e->status != ACK_DELIVERED)
            nfailed++;
        r->first++;
        moved = true;
    }
    if (failed)
        *failed = nfailed;
    return moved;
}

bool ack_ring_blocked(const ack_ring *r)
{
    if (r->first == r->next)
        return false;
    const ring_entry *front = ring_slot(r, r->first);
    return front->done && front->status == ACK_ERRORED;
}

uint64_t ack_ring_pending(const ack_ring *r)
{
    return r->next - r->first;
}

bool ack_ring_finished(const ack_ring *r, uint64_t token)
{
    return ack_ring_holds(r, token) && entry_finished(ring_slot(r, token));
}

uint64_t ack_ring_seek(const ack_ring *r, uint64_t position, bool *exact)
{
    uint64_t lo = r->first, hi = r->next;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ring_slot(r, mid)->position < position)
            lo = mid + 1;
        else
            hi = mid;
    }
    *exact = lo < r->next && ring_slot(r, lo)->position == position;
    return lo;
}

uint64_t ack_ring_position(const ack_ring *r, uint64_t token)
{
    return ring_slot(r, token)->position;
}

void *ack_ring_detail(const ack_ring *r, uint64_t token)
{
    return ring_slot(r, token) + 1;
}

/* ---- the tracker: a ring behind a lock ---- */

struct ack_tracker {
    pthread_mutex_t lock;
    ack_ring ring;
};

ack_tracker *ack_tracker_new(void)
{
    ack_tracker *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (ack_ring_init(&t->ring, 0) < 0) {
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
    ack_ring_free(&t->ring);
    free(t);
}

int ack_tracker_add(ack_tracker *t, uint64_t position, uint64_t *token)
{
    pthread_mutex_lock(&t->lock);
    int rc = ack_ring_add(&t->ring, position, NULL, token);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void ack_tracker_complete(ack_tracker *t, uint64_t token, ack_status status)
{
    pthread_mutex_lock(&t->lock);
    ack_ring_complete(&t->ring, token, status);
    pthread_mutex_unlock(&t->lock);
}

bool ack_tracker_advance(ack_tracker *t, uint64_t *position, uint64_t *failed)
{
    pthread_mutex_lock(&t->lock);
    bool moved = ack_ring_advance(&t->ring, position, failed);
    pthread_mutex_unlock(&t->lock);
    return moved;
}

bool ack_tracker_blocked(ack_tracker *t)
{
    pthread_mutex_lock(&t->lock);
    bool blocked = ack_ring_blocked(&t->ring);
    pthread_mutex_unlock(&t->lock);
    return blocked;
}

uint64_t ack_tracker_pending(ack_tracker *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t n = ack_ring_pending(&t->ring);
    pthread_mutex_unlock(&t->lock);
    return n;
}
