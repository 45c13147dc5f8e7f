/* lru.h - a bounded table from 64-bit keys to 64-bit values that forgets
 * the least recently used entry when full: dedupe's cache of event
 * fingerprints and throttle's per-key rate limiter state.
 *
 * Keys are hashes already (the table indexes them by their low bits). Memory
 * is allocated once, for `cap` entries, when the table is made. Not
 * thread-safe: its users are stateful transforms, which the runtime runs one
 * batch at a time. */
#ifndef SLUICE_LRU_H
#define SLUICE_LRU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lru lru;

/* NULL on allocation failure or when cap is 0 or above 2^30. */
lru *lru_new(size_t cap);
void lru_free(lru *l);

/* The value of key, now the most recently used; NULL when absent. */
uint64_t *lru_get(lru *l, uint64_t key);
/* Adds key (which must be absent) as the most recently used, evicting the
 * least recently used entry when the table is full. Returns its value. */
uint64_t *lru_insert(lru *l, uint64_t key, uint64_t value);
/* The least recently used entry; false when the table is empty. */
bool lru_oldest(const lru *l, uint64_t *key, uint64_t *value);
void lru_remove_oldest(lru *l);
size_t lru_size(const lru *l);

#endif
