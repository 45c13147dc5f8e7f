/* Unit tests: bounded queues - order, back-pressure, drop_newest, producers
 * ending the stream, close, timeouts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "pipeline/queue.h"

static batch *batch_of(uint32_t events, uint64_t tag)
{
    batch *b = batch_new(events, NULL);
    for (uint32_t i = 0; i < events; i++)
        batch_push(b);
    b->seq = tag;
    return b;
}

static void fifo_order_and_event_accounting(void **state)
{
    (void)state;
    queue *q = queue_new(100, QUEUE_BLOCK);
    queue_add_producer(q);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(queue_push(q, batch_of(10, i)), QUEUE_OK);
    assert_int_equal(queue_events(q), 50);
    assert_int_equal(queue_batches(q), 5);
    for (uint64_t i = 0; i < 5; i++) {
        batch *b;
        assert_int_equal(queue_pop(q, &b, 0), QUEUE_OK);
        assert_int_equal(b->seq, i);
        batch_release(b, ACK_DELIVERED);
    }
    batch *b;
    assert_int_equal(queue_pop(q, &b, 0), QUEUE_TIMEOUT);
    assert_int_equal(queue_pop(q, &b, 20), QUEUE_TIMEOUT);
    queue_producer_done(q);
    assert_int_equal(queue_pop(q, &b, -1), QUEUE_END);
    queue_free(q);
}

static void drop_newest_discards_when_full(void **state)
{
    (void)state;
    queue *q = queue_new(20, QUEUE_DROP_NEWEST);
    assert_int_equal(queue_push(q, batch_of(15, 0)), QUEUE_OK);
    assert_int_equal(queue_push(q, batch_of(15, 1)), QUEUE_OK);
    assert_int_equal(queue_push(q, batch_of(15, 2)), QUEUE_DROPPED);
    assert_int_equal(queue_events(q), 30);
    queue_free(q);
}

typedef struct pusher {
    queue *q;
    int pushed;
} pusher;

static void *push_three(void *arg)
{
    pusher *p = arg;
    for (int i = 0; i < 3; i++) {
        queue_push(p->q, batch_of(10, (uint64_t)i));
        __atomic_add_fetch(&p->pushed, 1, __ATOMIC_SEQ_CST);
    }
    queue_producer_done(p->q);
    return NULL;
}

static void block_mode_applies_back_pressure(void **state)
{
    (void)state;
    queue *q = queue_new(10, QUEUE_BLOCK);
    queue_add_producer(q);
    pusher p = {q, 0};
    pthread_t t;
    pthread_create(&t, NULL, push_three, &p);
    usleep(100 * 1000);
    assert_int_equal(__atomic_load_n(&p.pushed, __ATOMIC_SEQ_CST), 1);
    int got = 0;
    batch *b;
    while (queue_pop(q, &b, 2000) == QUEUE_OK) {
        assert_int_equal(b->seq, (uint64_t)got);
        got++;
        batch_release(b, ACK_DELIVERED);
    }
    pthread_join(t, NULL);
    assert_int_equal(got, 3);
    queue_free(q);
}

static void *pop_until_end(void *arg)
{
    batch *b;
    return (void *)(intptr_t)queue_pop(arg, &b, -1);
}

static void close_wakes_blocked_consumers_and_producers(void **state)
{
    (void)state;
    queue *q = queue_new(10, QUEUE_BLOCK);
    queue_add_producer(q);
    pthread_t t;
    pthread_create(&t, NULL, pop_until_end, q);
    usleep(50 * 1000);
    queue_close(q);
    void *r;
    pthread_join(t, &r);
    assert_int_equal((intptr_t)r, QUEUE_END);
    assert_int_equal(queue_push(q, batch_of(1, 0)), QUEUE_CLOSED);
    queue_free(q);
}

static void end_waits_for_every_producer(void **state)
{
    (void)state;
    queue *q = queue_new(100, QUEUE_BLOCK);
    queue_add_producer(q);
    queue_add_producer(q);
    queue_producer_done(q);
    batch *b;
    assert_int_equal(queue_pop(q, &b, 10), QUEUE_TIMEOUT);
    queue_producer_done(q);
    assert_int_equal(queue_pop(q, &b, 10), QUEUE_END);
    queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fifo_order_and_event_accounting),
        cmocka_unit_test(drop_newest_discards_when_full),
        cmocka_unit_test(block_mode_applies_back_pressure),
        cmocka_unit_test(close_wakes_blocked_consumers_and_producers),
        cmocka_unit_test(end_waits_for_every_producer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
