/* Unit tests: batches - growth to capacity, sharing by reference with ack
 * references, copy-on-write for mutating consumers, compaction. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pipeline/batch.h"

typedef struct seen {
    int calls;
    ack_status status;
} seen;

static void record(void *ud, uint64_t token, ack_status status)
{
    (void)token;
    seen *s = ud;
    s->calls++;
    s->status = status;
}

static batch *batch_with_messages(ack_group *g, int n)
{
    batch *b = batch_new(n, g);
    for (int i = 0; i < n; i++) {
        event *e = batch_push(b);
        assert_non_null(e);
        char *msg = arena_alloc(b->arena, 16);
        int len = snprintf(msg, 16, "line %d", i);
        assert_int_equal(event_init_log(b->arena, e, 2), 0);
        assert_int_equal(event_log_set(b->arena, e, "message", value_bytes(msg, (size_t)len)), 0);
    }
    return b;
}

static void push_stops_at_capacity(void **state)
{
    (void)state;
    batch *b = batch_new(100, NULL);
    for (int i = 0; i < 100; i++)
        assert_non_null(batch_push(b));
    assert_null(batch_push(b));
    assert_int_equal(b->count, 100);
    batch_pop(b);
    assert_int_equal(b->count, 99);
    batch_release(b, ACK_DELIVERED);
}

static void shared_batch_acks_after_every_holder(void **state)
{
    (void)state;
    seen s = {0};
    ack_group *g = ack_group_new(record, &s, 1);
    batch *b = batch_with_messages(g, 3);
    ack_group_release(g, ACK_DELIVERED);   /* the source's own reference */
    batch_ref(b);
    batch_ref(b);
    batch_release(b, ACK_DELIVERED);
    batch_release(b, ACK_ERRORED);
    assert_int_equal(s.calls, 0);
    batch_release(b, ACK_DELIVERED);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, ACK_ERRORED);
}

static void writable_copy_leaves_other_holders_untouched(void **state)
{
    (void)state;
    seen s = {0};
    ack_group *g = ack_group_new(record, &s, 1);
    batch *shared = batch_with_messages(g, 3);
    ack_group_release(g, ACK_DELIVERED);
    batch_ref(shared);
    batch *mine = shared;
    assert_int_equal(batch_make_writable(&mine), 0);
    assert_ptr_not_equal(mine, shared);
    assert_int_equal(mine->count, 3);
    assert_int_equal(event_log_set(mine->arena, &mine->events[0], "message",
                                   value_bytes("changed", 7)), 0);
    const value *orig = event_log_get(&shared->events[0], "message");
    assert_int_equal(orig->len, 6);
    assert_memory_equal(orig->u.s, "line 0", 6);
    batch_release(shared, ACK_DELIVERED);
    assert_int_equal(s.calls, 0);
    batch_release(mine, ACK_DELIVERED);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, ACK_DELIVERED);
}

static void sole_owner_is_writable_in_place(void **state)
{
    (void)state;
    batch *b = batch_with_messages(NULL, 2);
    batch *p = b;
    assert_int_equal(batch_make_writable(&p), 0);
    assert_ptr_equal(p, b);
    batch_release(b, ACK_DELIVERED);
}

static void compact_keeps_order(void **state)
{
    (void)state;
    batch *b = batch_with_messages(NULL, 5);
    bool keep[5] = {true, false, true, false, true};
    batch_compact(b, keep);
    assert_int_equal(b->count, 3);
    const char *want[] = {"line 0", "line 2", "line 4"};
    for (int i = 0; i < 3; i++)
        assert_memory_equal(event_log_get(&b->events[i], "message")->u.s, want[i], 6);
    assert_true(batch_json_bytes(b) > 0);
    batch_release(b, ACK_DELIVERED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(push_stops_at_capacity),
        cmocka_unit_test(shared_batch_acks_after_every_holder),
        cmocka_unit_test(writable_copy_leaves_other_holders_untouched),
        cmocka_unit_test(sole_owner_is_writable_in_place),
        cmocka_unit_test(compact_keeps_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
