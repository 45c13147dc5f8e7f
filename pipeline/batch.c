/* batch.c - reference-counted batches of events (see batch.h). */
#include "pipeline/batch.h"

#include "pipeline/metrics.h"

#include <stdlib.h>
#include <string.h>

/* The events array starts small and doubles, so a batch holding a handful of
 * events (an interactive stdin, a demo_logs tick) costs little. */
#define BATCH_INITIAL_EVENTS 16

batch *batch_new(uint32_t cap, ack_group *ack)
{
    batch *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->arena = arena_new();
    if (!b->arena) {
        free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->cap = cap ? cap : BATCH_DEFAULT_EVENTS;
    b->ack = ack;
    ack_group_ref(ack);
    return b;
}

static int batch_grow_events(batch *b)
{
    uint32_t have = b->events_cap;
    uint32_t want = have ? have * 2 : BATCH_INITIAL_EVENTS;
    if (want > b->cap)
        want = b->cap;
    event *ev = arena_grow(b->arena, b->events, have * sizeof(event), want * sizeof(event));
    if (!ev)
        return -1;
    b->events = ev;
    b->events_cap = want;
    return 0;
}

event *batch_push(batch *b)
{
    if (b->count >= b->cap)
        return NULL;
    if (b->count == b->events_cap && batch_grow_events(b) < 0)
        return NULL;
    event *e = &b->events[b->count++];
    memset(e, 0, sizeof(*e));
    b->json_bytes = 0;
    return e;
}

void batch_pop(batch *b)
{
    if (b->count)
        b->count--;
    b->json_bytes = 0;
}

void batch_ref(batch *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    ack_group_ref(b->ack);
}

static void batch_destroy(batch *b)
{
    arena_free(b->arena);
    free(b);
}

void batch_release(batch *b, ack_status status)
{
    if (!b)
        return;
    ack_group *g = b->ack;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        batch_destroy(b);
    /* The ack goes last: the source may free what the batch pointed into
     * only after the last reference is gone. */
    ack_group_release(g, status);
}

batch *batch_clone(const batch *b)
{
    batch *c = batch_new(b->cap, b->ack);
    if (!c)
        return NULL;
    for (uint32_t i = 0; i < b->count; i++) {
        event *e = batch_push(c);
        if (!e || event_copy(c->arena, &b->events[i], e) < 0) {
            batch_release(c, ACK_DELIVERED);
            return NULL;
        }
    }
    c->seq = b->seq;
    c->input_bytes = b->input_bytes;
    c->json_bytes = b->json_bytes;
    return c;
}

int batch_make_writable(batch **bp)
{
    batch *b = *bp;
    if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1)
        return 0;
    batch *c = batch_clone(b);
    if (!c)
        return -1;
    batch_release(b, ACK_DELIVERED);
    *bp = c;
    return 0;
}

void batch_compact(batch *b, const bool *keep)
{
    uint32_t out = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (!keep[i])
            continue;
        if (out != i)
            b->events[out] = b->events[i];
        out++;
    }
    b->count = out;
    b->json_bytes = 0;
}

uint64_t batch_json_bytes(batch *b)
{
    if (b->json_bytes == 0 && b->count) {
        uint64_t total = 0;
        for (uint32_t i = 0; i < b->count; i++)
            total += event_json_size_estimate(&b->events[i]);
        b->json_bytes = total;
        for (size_t k = 0; k < SL_ARRAY_LEN(b->owed_bytes); k++) {
            metrics_add(b->owed_bytes[k], total);
            b->owed_bytes[k] = NULL;
        }
    }
    return b->json_bytes;
}
