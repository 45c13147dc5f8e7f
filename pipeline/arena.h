/* arena.h - bump allocation in chunks, freed all at once.
 *
 * Every batch owns one arena; all memory of its events (field maps, strings,
 * metric tags, and the raw input block lines point into) comes from it, so a
 * batch is freed with one call whatever it holds. Chunks of the standard size
 * are recycled through a small process-wide cache so that the hot path does
 * not page-fault on fresh memory for every batch. Not thread-safe: one arena is
 * written by one thread at a time (the owner of its batch). */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stddef.h>

#define ARENA_CHUNK_SIZE (64 * 1024)

typedef struct arena arena;

arena *arena_new(void);                 /* NULL on allocation failure */
void arena_free(arena *a);              /* NULL is fine */

/* 8-byte aligned memory valid until arena_free(); NULL on failure. Requests
 * larger than a chunk get a chunk of their own. */
void *arena_alloc(arena *a, size_t n);

/* Copies n bytes and adds a NUL terminator (not counted in n). */
char *arena_strndup(arena *a, const char *s, size_t n);

/* Grows the most recent allocation `p` of `old_n` bytes to `new_n` in place
 * when it is the last one in its chunk, or moves it. NULL on failure (p stays
 * valid). */
void *arena_grow(arena *a, void *p, size_t old_n, size_t new_n);

/* Bytes the arena holds from the system (for memory accounting). */
size_t arena_reserved(const arena *a);

/* Frees every cached chunk (at exit, and in tests that count allocations). */
void arena_cache_drain(void);

#endif
