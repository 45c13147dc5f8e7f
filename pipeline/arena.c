/* arena.c - chunked bump allocator with a process-wide chunk cache
 * (see arena.h).
 *
 * Batches are created on a source thread and freed on a sink thread, so the
 * cache is shared and guarded by a mutex; it is touched once per chunk
 * (64 KiB), not per allocation. The cache is bounded so that a burst does not
 * pin memory for ever. */
#include "pipeline/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 8
#define ARENA_CACHE_MAX 256   /* 16 MiB of standard chunks at most */

typedef struct chunk {
    struct chunk *next;
    size_t size;     /* usable bytes after the header */
    size_t used;
} chunk;

struct arena {
    chunk *head;     /* the chunk allocations come from */
    chunk *big;      /* oversized chunks, not cached */
    size_t reserved;
    void *last;      /* most recent allocation, for arena_grow */
};

#define CHUNK_HEADER ((sizeof(chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))
#define CHUNK_DATA(c) ((char *)(c) + CHUNK_HEADER)

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static chunk *cache_head;
static size_t cache_count;

static chunk *chunk_take_standard(void)
{
    chunk *c = NULL;
    pthread_mutex_lock(&cache_lock);
    if (cache_head) {
        c = cache_head;
        cache_head = c->next;
        cache_count--;
    }
    pthread_mutex_unlock(&cache_lock);
    if (!c) {
        c = malloc(CHUNK_HEADER + ARENA_CHUNK_SIZE);
        if (!c)
            return NULL;
    }
    c->next = NULL;
    c->size = ARENA_CHUNK_SIZE;
    c->used = 0;
    return c;
}

static void chunk_give_back(chunk *c)
{
    if (c->size == ARENA_CHUNK_SIZE) {
        pthread_mutex_lock(&cache_lock);
        if (cache_count < ARENA_CACHE_MAX) {
            c->next = cache_head;
            cache_head = c;
            cache_count++;
            c = NULL;
        }
        pthread_mutex_unlock(&cache_lock);
    }
    free(c);
}

void arena_cache_drain(void)
{
    pthread_mutex_lock(&cache_lock);
    chunk *c = cache_head;
    cache_head = NULL;
    cache_count = 0;
    pthread_mutex_unlock(&cache_lock);
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
}

arena *arena_new(void)
{
    arena *a = calloc(1, sizeof(*a));
    return a;
}

static void chunk_list_free(chunk *c)
{
    while (c) {
        chunk *next = c->next;
        chunk_give_back(c);
        c = next;
    }
}

void arena_free(arena *a)
{
    if (!a)
        return;
    chunk_list_free(a->head);
    chunk_list_free(a->big);
    free(a);
}

static size_t align_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

/* A request bigger than a quarter chunk gets a chunk of its own, so that one
 * large block does not waste the rest of the current chunk. */
static void *alloc_big(arena *a, size_t n)
{
    if (n > SIZE_MAX - CHUNK_HEADER)
        return NULL;
    chunk *c = malloc(CHUNK_HEADER + n);
    if (!c)
        return NULL;
    c->size = n;
    c->used = n;
    c->next = a->big;
    a->big = c;
    a->reserved += n;
    return CHUNK_DATA(c);
}

void *arena_alloc(arena *a, size_t n)
{
    n = align_up(n ? n : 1);
    chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        if (n > ARENA_CHUNK_SIZE / 4) {
            void *p = alloc_big(a, n);
            a->last = p;
            return p;
        }
        c = chunk_take_standard();
        if (!c)
            return NULL;
        c->next = a->head;
        a->head = c;
        a->reserved += c->size;
    }
    void *p = CHUNK_DATA(c) + c->used;
    c->used += n;
    a->last = p;
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *arena_grow(arena *a, void *p, size_t old_n, size_t new_n)
{
    if (new_n <= old_n)
        return p;
    chunk *c = a->head;
    if (p && p == a->last && c) {
        char *end = CHUNK_DATA(c) + c->used;
        size_t old_aligned = align_up(old_n ? old_n : 1);
        if ((char *)p + old_aligned == end) {
            size_t extra = align_up(new_n) - old_aligned;
            if (c->size - c->used >= extra) {
                c->used += extra;
                return p;
            }
        }
    }
    void *q = arena_alloc(a, new_n);
    if (!q)
        return NULL;
    if (p && old_n)
        memcpy(q, p, old_n);
    return q;
}

size_t arena_reserved(const arena *a)
{
    return a->reserved;
}
