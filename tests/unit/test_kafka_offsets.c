/* test_kafka_offsets.c - the offsets the kafka source may store
 * (sources/kafka/kafka_offsets.c): only the contiguous prefix of finished
 * segments of a partition, whatever order acknowledgements arrive in;
 * rejected segments pass; an errored one pauses the partition and rewinds
 * it to its first unacknowledged offset once nothing is in flight, after a
 * backoff; acknowledgements of an older generation are ignored; records
 * that made no event (tombstones) still count as done; what a failed commit
 * leaves to be read again counts from the group's offset. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sources/kafka/kafka_offsets.h"

#define MS 1000000LL

typedef struct fixture {
    kafka_offsets *ko;
    kafka_partition *p;
} fixture;

static void setup(fixture *f)
{
    f->ko = kafka_offsets_new("k", NULL);
    assert_non_null(f->ko);
    f->p = kafka_offsets_partition(f->ko, "logs", 3);
    assert_non_null(f->p);
    assert_ptr_equal(kafka_offsets_partition(f->ko, "logs", 3), f->p);
    kafka_offsets_assign(f->ko, f->p);
}

/* A sealed batch of one segment: offsets first..last of f->p. */
static kafka_batch_rec *seal_range(fixture *f, int64_t first, int64_t last)
{
    kafka_batch_rec *rec = calloc(1, sizeof(*rec));
    assert_non_null(rec);
    for (int64_t o = first; o <= last; o++)
        assert_int_equal(kafka_rec_note(rec, f->p, o, 1), 0);
    assert_int_equal(kafka_offsets_seal(f->ko, rec), 0);
    return rec;
}

static void finish(fixture *f, kafka_batch_rec *rec, ack_status status)
{
    kafka_offsets_complete(f->ko, rec, status);
    kafka_rec_free(rec);
    free(rec);
}

/* The STORE offset of the next actions, or -1; counts the other kinds. */
static int64_t next_store(fixture *f, int64_t now, int *pauses, int64_t *rewind)
{
    const kafka_action *a;
    size_t n;
    assert_int_equal(kafka_offsets_actions(f->ko, now, &a, &n), 0);
    int64_t store = -1;
    for (size_t i = 0; i < n; i++) {
        if (a[i].kind == KAFKA_ACTION_STORE)
            store = a[i].offset;
        else if (a[i].kind == KAFKA_ACTION_PAUSE && pauses)
            (*pauses)++;
        else if (a[i].kind == KAFKA_ACTION_REWIND && rewind)
            *rewind = a[i].offset;
    }
    return store;
}

static void teardown(fixture *f)
{
    kafka_offsets_free(f->ko);
}

static void test_contiguous_prefix_with_out_of_order_acks(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    kafka_batch_rec *a = seal_range(&f, 0, 9);
    kafka_batch_rec *b = seal_range(&f, 10, 19);
    kafka_batch_rec *c = seal_range(&f, 20, 29);
    finish(&f, c, ACK_DELIVERED);
    assert_int_equal(next_store(&f, 0, NULL, NULL), -1);
    finish(&f, a, ACK_DELIVERED);
    assert_int_equal(next_store(&f, 0, NULL, NULL), 10);
    assert_int_equal(next_store(&f, 0, NULL, NULL), -1);   /* stored once */
    finish(&f, b, ACK_DELIVERED);
    assert_int_equal(next_store(&f, 0, NULL, NULL), 30);
    assert_int_equal(kafka_offsets_take_store(f.ko, f.p), 30);
    teardown(&f);
}

static void test_rejected_passes(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    kafka_batch_rec *a = seal_range(&f, 0, 4);
    kafka_batch_rec *b = seal_range(&f, 5, 9);
    finish(&f, a, ACK_REJECTED);
    finish(&f, b, ACK_DELIVERED);
    assert_int_equal(next_store(&f, 0, NULL, NULL), 10);
    teardown(&f);
}

static void test_errored_rewinds_to_first_unacknowledged(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    kafka_batch_rec *a = seal_range(&f, 100, 109);
    kafka_batch_rec *b = seal_range(&f, 110, 119);
    kafka_batch_rec *c = seal_range(&f, 120, 129);
    finish(&f, a, ACK_DELIVERED);
    finish(&f, b, ACK_ERRORED);
    int pauses = 0;
    int64_t rewind = -1;
    assert_int_equal(next_store(&f, 0, &pauses, &rewind), 110);
    assert_int_equal(pauses, 1);
    assert_int_equal(rewind, -1);            /* c is still in flight */
    finish(&f, c, ACK_DELIVERED);            /* delivered, but after the errored one */
    assert_int_equal(next_store(&f, 0, &pauses, &rewind), -1);
    assert_int_equal(pauses, 1);
    assert_int_equal(rewind, -1);            /* backing off: 100 ms */
    assert_int_equal(next_store(&f, 50 * MS, NULL, &rewind), -1);
    assert_int_equal(rewind, -1);
    assert_int_equal(next_store(&f, 100 * MS, NULL, &rewind), -1);
    assert_int_equal(rewind, 110);
    /* Read again from 110 and delivered this time. */
    kafka_batch_rec *again = seal_range(&f, 110, 129);
    finish(&f, again, ACK_DELIVERED);
    assert_int_equal(next_store(&f, 100 * MS, NULL, NULL), 130);
    teardown(&f);
}

static void test_backoff_doubles_and_resets(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    int64_t now = 0, rewind;
    for (int64_t wait = 100; wait <= 400; wait *= 2) {
        finish(&f, seal_range(&f, 0, 0), ACK_ERRORED);
        rewind = -1;
        next_store(&f, now, NULL, &rewind);
        next_store(&f, now + (wait - 1) * MS, NULL, &rewind);
        assert_int_equal(rewind, -1);
        next_store(&f, now + wait * MS, NULL, &rewind);
        assert_int_equal(rewind, 0);
        now += wait * MS;
    }
    finish(&f, seal_range(&f, 0, 0), ACK_DELIVERED);
    finish(&f, seal_range(&f, 1, 1), ACK_ERRORED);
    rewind = -1;
    next_store(&f, now, NULL, &rewind);
    next_store(&f, now + 100 * MS, NULL, &rewind);
    assert_int_equal(rewind, 1);
    teardown(&f);
}

static void test_stale_generation_is_ignored(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    kafka_batch_rec *old = seal_range(&f, 0, 9);
    /* Revoked and assigned again: the old batch's late ack is ignored. */
    assert_int_equal(kafka_offsets_release(f.ko, f.p), 1);
    kafka_offsets_assign(f.ko, f.p);
    kafka_batch_rec *fresh = seal_range(&f, 5, 9);
    finish(&f, old, ACK_DELIVERED);
    assert_int_equal(next_store(&f, 0, NULL, NULL), -1);
    finish(&f, fresh, ACK_DELIVERED);
    assert_int_equal(next_store(&f, 0, NULL, NULL), 10);
    /* A segment built before a rewind and sealed after it is not tracked. */
    kafka_batch_rec built = {0};
    assert_int_equal(kafka_rec_note(&built, f.p, 10, 1), 0);
    kafka_offsets_release(f.ko, f.p);
    kafka_offsets_assign(f.ko, f.p);
    assert_int_equal(kafka_offsets_seal(f.ko, &built), 0);
    assert_false(built.segs[0].sealed);
    kafka_offsets_complete(f.ko, &built, ACK_DELIVERED);
    assert_int_equal(kafka_offsets_acked_next(f.ko, f.p), -1);
    kafka_rec_free(&built);
    teardown(&f);
}

static void test_records_without_events_count_as_done(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    kafka_batch_rec *rec = calloc(1, sizeof(*rec));
    assert_non_null(rec);
    assert_int_equal(kafka_rec_note(rec, f.p, 0, 1), 0);
    assert_int_equal(kafka_rec_note(rec, f.p, 1, 0), 0);   /* a tombstone */
    assert_int_equal(kafka_rec_note(rec, f.p, 2, 0), 0);   /* bad JSON */
    assert_int_equal(rec->n, 1);
    assert_int_equal(rec->segs[0].events, 1);
    assert_int_equal(kafka_offsets_seal(f.ko, rec), 0);
    finish(&f, rec, ACK_DELIVERED);
    assert_int_equal(next_store(&f, 0, NULL, NULL), 3);
    teardown(&f);
}

static void test_several_partitions_and_idle_wait(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    kafka_partition *q = kafka_offsets_partition(f.ko, "logs", 4);
    assert_non_null(q);
    kafka_offsets_assign(f.ko, q);
    kafka_batch_rec *rec = calloc(1, sizeof(*rec));
    assert_non_null(rec);
    assert_int_equal(kafka_rec_note(rec, f.p, 7, 1), 0);
    assert_int_equal(kafka_rec_note(rec, q, 70, 1), 0);
    assert_int_equal(kafka_rec_note(rec, f.p, 8, 1), 0);
    assert_int_equal(rec->n, 2);
    assert_int_equal(kafka_offsets_seal(f.ko, rec), 0);
    kafka_partition *both[] = {f.p, q};
    assert_int_equal(kafka_offsets_wait_idle(f.ko, both, 2, 0), 2);
    finish(&f, rec, ACK_DELIVERED);
    assert_int_equal(kafka_offsets_wait_idle(f.ko, both, 2, 0), 0);
    assert_int_equal(kafka_offsets_take_store(f.ko, f.p), 9);
    assert_int_equal(kafka_offsets_take_store(f.ko, q), 71);
    size_t n;
    kafka_offsets_all(f.ko, &n);
    assert_int_equal(n, 2);
    teardown(&f);
}

static void test_uncommitted_counts_from_the_group_offset(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    /* Nothing read yet: where the group stands is unknown. */
    assert_int_equal(kafka_offsets_uncommitted(f.p, 10), 0);
    /* The assignment started at the group's offset, 5. */
    finish(&f, seal_range(&f, 5, 9), ACK_DELIVERED);
    assert_int_equal(kafka_offsets_take_store(f.ko, f.p), 10);
    assert_int_equal(kafka_offsets_uncommitted(f.p, 10), 5);
    kafka_offsets_committed(f.p, 8);
    assert_int_equal(kafka_offsets_uncommitted(f.p, 10), 2);
    /* A late report of an older commit does not move it back. */
    kafka_offsets_committed(f.p, 6);
    assert_int_equal(kafka_offsets_uncommitted(f.p, 10), 2);
    kafka_offsets_committed(f.p, 10);
    assert_int_equal(kafka_offsets_uncommitted(f.p, 10), 0);
    /* A new assignment starts over from wherever it starts. */
    kafka_offsets_release(f.ko, f.p);
    kafka_offsets_assign(f.ko, f.p);
    assert_int_equal(kafka_offsets_uncommitted(f.p, 30), 0);
    finish(&f, seal_range(&f, 20, 21), ACK_DELIVERED);
    assert_int_equal(kafka_offsets_uncommitted(f.p, 22), 2);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contiguous_prefix_with_out_of_order_acks),
        cmocka_unit_test(test_rejected_passes),
        cmocka_unit_test(test_errored_rewinds_to_first_unacknowledged),
        cmocka_unit_test(test_backoff_doubles_and_resets),
        cmocka_unit_test(test_stale_generation_is_ignored),
        cmocka_unit_test(test_records_without_events_count_as_done),
        cmocka_unit_test(test_several_partitions_and_idle_wait),
        cmocka_unit_test(test_uncommitted_counts_from_the_group_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
