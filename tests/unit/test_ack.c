/* Unit tests: ack groups (worst status, last release fires once) and the
 * ordered-prefix tracker. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <cmocka.h>

#include "pipeline/ack.h"

typedef struct seen {
    int calls;
    uint64_t token;
    ack_status status;
} seen;

static void record(void *ud, uint64_t token, ack_status status)
{
    seen *s = ud;
    s->calls++;
    s->token = token;
    s->status = status;
}

static void group_reports_worst_status_once(void **state)
{
    (void)state;
    seen s = {0};
    ack_group *g = ack_group_new(record, &s, 42);
    ack_group_ref(g);
    ack_group_ref(g);
    ack_group_release(g, ACK_DELIVERED);
    ack_group_release(g, ACK_REJECTED);
    assert_int_equal(s.calls, 0);
    ack_group_release(g, ACK_ERRORED);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.token, 42);
    /* errored outranks rejected: the source must read the batch again */
    assert_int_equal(s.status, ACK_ERRORED);
}

static void null_group_is_ignored(void **state)
{
    (void)state;
    ack_group_ref(NULL);
    ack_group_release(NULL, ACK_DELIVERED);
}

static void *release_many(void *arg)
{
    for (int i = 0; i < 10000; i++)
        ack_group_release(arg, ACK_DELIVERED);
    return NULL;
}

static void concurrent_releases_fire_exactly_once(void **state)
{
    (void)state;
    seen s = {0};
    ack_group *g = ack_group_new(record, &s, 7);
    for (int i = 0; i < 40000 - 1; i++)
        ack_group_ref(g);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, release_many, g);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, ACK_DELIVERED);
}

static void tracker_advances_over_contiguous_prefix_only(void **state)
{
    (void)state;
    ack_tracker *t = ack_tracker_new();
    uint64_t tok[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(ack_tracker_add(t, (uint64_t)(i + 1) * 100, &tok[i]), 0);
    uint64_t pos = 0, failed = 0;
    ack_tracker_complete(t, tok[1], ACK_DELIVERED);
    ack_tracker_complete(t, tok[3], ACK_DELIVERED);
    assert_false(ack_tracker_advance(t, &pos, &failed));
    ack_tracker_complete(t, tok[0], ACK_DELIVERED);
    assert_true(ack_tracker_advance(t, &pos, &failed));
    assert_int_equal(pos, 200);
    assert_int_equal(failed, 0);
    ack_tracker_complete(t, tok[2], ACK_REJECTED);
    assert_true(ack_tracker_advance(t, &pos, &failed));
    assert_int_equal(pos, 400);
    assert_int_equal(failed, 1);
    assert_int_equal(ack_tracker_pending(t), 1);
    assert_false(ack_tracker_blocked(t));
    ack_tracker_free(t);
}

/* An errored batch may succeed if read again: nothing after it becomes
 * durable, however many later batches are delivered. */
static void tracker_stops_before_an_errored_batch(void **state)
{
    (void)state;
    ack_tracker *t = ack_tracker_new();
    uint64_t tok[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(ack_tracker_add(t, (uint64_t)(i + 1) * 10, &tok[i]), 0);
    uint64_t pos = 0, failed = 0;
    ack_tracker_complete(t, tok[0], ACK_DELIVERED);
    ack_tracker_complete(t, tok[1], ACK_ERRORED);
    ack_tracker_complete(t, tok[2], ACK_DELIVERED);
    ack_tracker_complete(t, tok[3], ACK_DELIVERED);
    assert_true(ack_tracker_advance(t, &pos, &failed));
    assert_int_equal(pos, 10);
    assert_int_equal(failed, 0);
    assert_true(ack_tracker_blocked(t));
    assert_false(ack_tracker_advance(t, &pos, &failed));
    assert_int_equal(pos, 10);
    assert_int_equal(ack_tracker_pending(t), 3);
    ack_tracker_free(t);
}

static void tracker_grows_past_its_first_ring(void **state)
{
    (void)state;
    ack_tracker *t = ack_tracker_new();
    uint64_t tok[1000];
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ack_tracker_add(t, (uint64_t)i, &tok[i]), 0);
    for (int i = 999; i >= 0; i--)
        ack_tracker_complete(t, tok[i], ACK_DELIVERED);
    uint64_t pos = 0;
    assert_true(ack_tracker_advance(t, &pos, NULL));
    assert_int_equal(pos, 999);
    assert_int_equal(ack_tracker_pending(t), 0);
    ack_tracker_free(t);
}

typedef struct place {
    uint64_t where;
    uint32_t count;
} place;

/* The ring as the disk buffer uses it: record ids with gaps as positions,
 * a detail per entry, an errored entry completed again once read again. */
static void ring_keeps_details_finds_positions_and_retries_errored(void **state)
{
    (void)state;
    ack_ring r;
    assert_int_equal(ack_ring_init(&r, sizeof(place)), 0);
    uint64_t tok[200];
    for (uint32_t i = 0; i < 200; i++) {
        place p = {1000 + i, i};
        assert_int_equal(ack_ring_add(&r, 10 + 2 * (uint64_t)i, &p, &tok[i]), 0);
    }
    bool exact;
    assert_int_equal(ack_ring_seek(&r, 14, &exact), tok[2]);
    assert_true(exact);
    assert_int_equal(ack_ring_seek(&r, 15, &exact), tok[3]);
    assert_false(exact);
    assert_int_equal(ack_ring_seek(&r, 9999, &exact), r.next);
    assert_false(exact);
    const place *p = ack_ring_detail(&r, tok[150]);
    assert_int_equal(p->where, 1150);
    assert_int_equal(p->count, 150);
    assert_int_equal(ack_ring_position(&r, tok[150]), 310);

    assert_false(ack_ring_complete(&r, tok[0], ACK_ERRORED));
    assert_true(ack_ring_complete(&r, tok[1], ACK_DELIVERED));
    assert_false(ack_ring_complete(&r, tok[1], ACK_ERRORED));   /* finished stays so */
    uint64_t pos = 0;
    assert_true(ack_ring_blocked(&r));
    assert_false(ack_ring_advance(&r, &pos, NULL));
    assert_false(ack_ring_finished(&r, tok[0]));
    assert_true(ack_ring_complete(&r, tok[0], ACK_DELIVERED));   /* read again */
    assert_true(ack_ring_advance(&r, &pos, NULL));
    assert_int_equal(pos, 12);
    assert_false(ack_ring_holds(&r, tok[1]));
    assert_false(ack_ring_complete(&r, tok[1], ACK_DELIVERED));
    assert_int_equal(ack_ring_pending(&r), 198);
    ack_ring_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(group_reports_worst_status_once),
        cmocka_unit_test(null_group_is_ignored),
        cmocka_unit_test(concurrent_releases_fire_exactly_once),
        cmocka_unit_test(tracker_advances_over_contiguous_prefix_only),
        cmocka_unit_test(tracker_stops_before_an_errored_batch),
        cmocka_unit_test(tracker_grows_past_its_first_ring),
        cmocka_unit_test(ring_keeps_details_finds_positions_and_retries_errored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
