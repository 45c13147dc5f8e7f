/* Unit tests: the growable-array rule every module uses (sl_grow). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pipeline/common.h"

static void an_empty_array_gets_its_first_capacity_then_doubles(void **state)
{
    (void)state;
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    for (uint64_t i = 0; i < 100; i++) {
        assert_int_equal(SL_GROW(v, n, cap, 4), 0);
        assert_true(n < cap);
        v[n++] = i;
    }
    assert_int_equal(cap, 128);   /* 4, 8, ... 128 */
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(v[i], i);
    free(v);
}

static void an_array_with_room_is_left_alone(void **state)
{
    (void)state;
    int *v = malloc(8 * sizeof(*v));
    assert_non_null(v);
    int *before = v;
    size_t cap = 8;
    assert_int_equal(SL_GROW(v, 7, cap, 4), 0);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 8);
    free(v);
}

static void a_size_that_would_overflow_is_refused_and_the_array_kept(void **state)
{
    (void)state;
    char *v = malloc(16);
    assert_non_null(v);
    char *before = v;
    size_t cap = SIZE_MAX / 2 + 1;   /* doubling wraps */
    assert_int_equal(sl_grow(&v, &cap, cap, 1, 4), -1);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, SIZE_MAX / 2 + 1);
    cap = SIZE_MAX / 16;             /* doubling passes SIZE_MAX / size */
    assert_int_equal(sl_grow(&v, &cap, cap, 16, 4), -1);
    assert_ptr_equal(v, before);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_empty_array_gets_its_first_capacity_then_doubles),
        cmocka_unit_test(an_array_with_room_is_left_alone),
        cmocka_unit_test(a_size_that_would_overflow_is_refused_and_the_array_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
