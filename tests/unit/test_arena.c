/* Unit tests: arena allocation, alignment, growth and big blocks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "pipeline/arena.h"

static void allocations_are_aligned_and_distinct(void **state)
{
    (void)state;
    arena *a = arena_new();
    assert_non_null(a);
    char *prev = NULL;
    for (int i = 1; i < 5000; i++) {
        char *p = arena_alloc(a, (size_t)(i % 37) + 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        memset(p, 0xab, (size_t)(i % 37) + 1);
        assert_ptr_not_equal(p, prev);
        prev = p;
    }
    assert_true(arena_reserved(a) >= ARENA_CHUNK_SIZE);
    arena_free(a);
}

static void big_blocks_get_their_own_chunk(void **state)
{
    (void)state;
    arena *a = arena_new();
    char *small = arena_alloc(a, 16);
    char *big = arena_alloc(a, 1 << 20);
    assert_non_null(big);
    memset(big, 1, 1 << 20);
    char *small2 = arena_alloc(a, 16);
    assert_ptr_equal(small2, small + 16);
    arena_free(a);
}

static void grow_extends_the_last_allocation_in_place(void **state)
{
    (void)state;
    arena *a = arena_new();
    char *p = arena_alloc(a, 32);
    memcpy(p, "0123456789abcdef0123456789abcde", 32);
    char *q = arena_grow(a, p, 32, 64);
    assert_ptr_equal(p, q);
    arena_alloc(a, 8);
    char *r = arena_grow(a, q, 64, 128);
    assert_ptr_not_equal(r, q);
    assert_memory_equal(r, "0123456789abcdef0123456789abcde", 32);
    arena_free(a);
}

static void strndup_terminates(void **state)
{
    (void)state;
    arena *a = arena_new();
    char *s = arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    arena_free(a);
    arena_cache_drain();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocations_are_aligned_and_distinct),
        cmocka_unit_test(big_blocks_get_their_own_chunk),
        cmocka_unit_test(grow_extends_the_last_allocation_in_place),
        cmocka_unit_test(strndup_terminates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
