/* lru.c - the bounded LRU table (see lru.h): entries in one array, linked
 * in use order (a doubly linked list through indexes) and chained per hash
 * bucket; a freed entry goes on a free list. */
#include "transforms/lru.h"

#include <stdlib.h>

#define NIL UINT32_MAX

typedef struct lru_entry {
    uint64_t key, value;
    uint32_t prev, next;    /* use order: head is the most recent */
    uint32_t chain;         /* next in the bucket, or in the free list */
} lru_entry;

struct lru {
    lru_entry *entries;
    uint32_t *buckets;
    uint32_t mask;
    uint32_t cap, size;
    uint32_t head, tail;
    uint32_t free_list;
};

lru *lru_new(size_t cap)
{
    if (cap == 0 || cap > (1u << 30))
        return NULL;
    uint32_t nbuckets = 1;
    while (nbuckets < cap * 2)
        nbuckets <<= 1;
    lru *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->entries = malloc(cap * sizeof(*l->entries));
    l->buckets = malloc((size_t)nbuckets * sizeof(*l->buckets));
    if (!l->entries || !l->buckets) {
        lru_free(l);
        return NULL;
    }
    for (uint32_t i = 0; i < nbuckets; i++)
        l->buckets[i] = NIL;
    for (uint32_t i = 0; i < cap; i++)
        l->entries[i].chain = i + 1 < cap ? i + 1 : NIL;
    l->mask = nbuckets - 1;
    l->cap = (uint32_t)cap;
    l->head = l->tail = NIL;
    l->free_list = 0;
    return l;
}

void lru_free(lru *l)
{
    if (!l)
        return;
    free(l->entries);
    free(l->buckets);
    free(l);
}

static void unlink_use(lru *l, uint32_t i)
{
    lru_entry *e = &l->entries[i];
    if (e->prev != NIL)
        l->entries[e->prev].next = e->next;
    else
        l->head = e->next;
    if (e->next != NIL)
        l->entries[e->next].prev = e->prev;
    else
        l->tail = e->prev;
}

static void push_front(lru *l, uint32_t i)
{
    lru_entry *e = &l->entries[i];
    e->prev = NIL;
    e->next = l->head;
    if (l->head != NIL)
        l->entries[l->head].prev = i;
    l->head = i;
    if (l->tail == NIL)
        l->tail = i;
}

uint64_t *lru_get(lru *l, uint64_t key)
{
    for (uint32_t i = l->buckets[key & l->mask]; i != NIL; i = l->entries[i].chain) {
        if (l->entries[i].key != key)
            continue;
        if (l->head != i) {
            unlink_use(l, i);
            push_front(l, i);
        }
        return &l->entries[i].value;
    }
    return NULL;
}

static void unlink_bucket(lru *l, uint32_t i)
{
    uint32_t *link = &l->buckets[l->entries[i].key & l->mask];
    while (*link != i)
        link = &l->entries[*link].chain;
    *link = l->entries[i].chain;
}

void lru_remove_oldest(lru *l)
{
    uint32_t i = l->tail;
    if (i == NIL)
        return;
    unlink_use(l, i);
    unlink_bucket(l, i);
    l->entries[i].chain = l->free_list;
    l->free_list = i;
    l->size--;
}

uint64_t *lru_insert(lru *l, uint64_t key, uint64_t value)
{
    if (l->size == l->cap)
        lru_remove_oldest(l);
    uint32_t i = l->free_list;
    lru_entry *e = &l->entries[i];
    l->free_list = e->chain;
    e->key = key;
    e->value = value;
    uint32_t *bucket = &l->buckets[key & l->mask];
    e->chain = *bucket;
    *bucket = i;
    push_front(l, i);
    l->size++;
    return &e->value;
}

bool lru_oldest(const lru *l, uint64_t *key, uint64_t *value)
{
    if (l->tail == NIL)
        return false;
    *key = l->entries[l->tail].key;
    *value = l->entries[l->tail].value;
    return true;
}

size_t lru_size(const lru *l)
{
    return l->size;
}
