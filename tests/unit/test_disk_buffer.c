/* Unit tests: the disk buffer - batches read back equal and in order,
 * upstream released only after fsync, acknowledgements in any order moving
 * the ledger and deleting segments, restart resuming after the acknowledged
 * records, errored batches read again, max_size under block and
 * drop_newest, close waking both sides, the directory lock, and damage
 * found on disk at startup. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pipeline/arena.h"
#include "pipeline/buffer_segment.h"
#include "pipeline/disk_buffer.h"

typedef struct fixture {
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/sluice-dbuf-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static disk_buffer *open_buffer_with(const fixture *f, uint64_t max_size, uint32_t sync_ms,
                                     bool drop_newest, const component_metrics *m)
{
    disk_buffer_options o = {
        .metrics = m,
        .dir = f->dir,
        .id = "test_sink",
        .max_size = max_size,
        .sync_interval_ms = sync_ms,
        .drop_newest = drop_newest,
        .batch_events = 16,
    };
    disk_buffer *db = NULL;
    sl_error err;
    int rc = disk_buffer_open(&o, &db, &err);
    if (rc < 0)
        fail_msg("open: %s", err.msg);
    return db;
}

static disk_buffer *open_buffer(const fixture *f, uint64_t max_size, uint32_t sync_ms,
                                bool drop_newest)
{
    return open_buffer_with(f, max_size, sync_ms, drop_newest, NULL);
}

static uint64_t buffer_errors(const component_metrics *m, const char *code)
{
    metrics_label labels[4] = {
        {"component_id", m->id},
        {"component_kind", m->kind},
        {"component_type", m->type},
        {"error_code", code},
    };
    return metrics_counter_value(metrics_counter("buffer_errors_total", "", labels, 4));
}

/* Observes the acknowledgement of the batches written. */
typedef struct upstream {
    atomic_int delivered;
    atomic_int errored;
} upstream;

static void upstream_acked(void *ud, uint64_t token, ack_status status)
{
    (void)token;
    upstream *u = ud;
    if (status == ACK_DELIVERED)
        atomic_fetch_add(&u->delivered, 1);
    else
        atomic_fetch_add(&u->errored, 1);
}

/* A batch of n logs {message: "<first + i> <filler>", seq: first + i};
 * filler_len bytes of barely compressible filler. */
static batch *make_batch(uint32_t n, int64_t first, size_t filler_len, upstream *u)
{
    ack_group *g = u ? ack_group_new(upstream_acked, u, 0) : NULL;
    batch *b = batch_new(n, g);
    ack_group_release(g, ACK_DELIVERED);
    assert_non_null(b);
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    for (uint32_t i = 0; i < n; i++) {
        event *e = batch_push(b);
        assert_non_null(e);
        assert_int_equal(event_init_log(b->arena, e, 2), 0);
        char *msg = arena_alloc(b->arena, filler_len + 32);
        int len = snprintf(msg, 32, "%lld ", (long long)(first + i));
        uint64_t x = (uint64_t)(first + i) * 0x9E3779B97F4A7C15ull;
        for (size_t k = 0; k < filler_len; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            msg[len++] = alphabet[x & 63];
        }
        assert_int_equal(event_log_set(b->arena, e, "message", value_bytes(msg, (size_t)len)), 0);
        assert_int_equal(event_log_set(b->arena, e, "seq", value_int(first + i)), 0);
    }
    return b;
}

/* The seq of the batch's first event, after checking that every event is
 * the one make_batch made. */
static int64_t check_batch(const batch *b, uint32_t n, size_t filler_len)
{
    assert_int_equal(b->count, n);
    batch *want = make_batch(n, event_log_get(&b->events[0], "seq")->u.i, filler_len, NULL);
    for (uint32_t i = 0; i < n; i++) {
        assert_true(value_equal(&b->events[i].u.log, &want->events[i].u.log));
    }
    int64_t first = event_log_get(&b->events[0], "seq")->u.i;
    batch_release(want, ACK_DELIVERED);
    return first;
}

static size_t count_segments(const fixture *f)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t id;
        n += bseg_parse_file_name(e->d_name, &id);
    }
    closedir(d);
    return n;
}

static void batches_come_back_equal_and_in_order(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 64 << 20, 0, false);
    for (int i = 0; i < 10; i++)
        assert_int_equal(disk_buffer_write(db, make_batch(5, i * 5, 40, NULL)), QUEUE_OK);
    assert_int_equal(disk_buffer_events(db), 50);
    assert_true(disk_buffer_bytes(db) > 0);
    disk_buffer_writer_done(db);
    for (int i = 0; i < 10; i++) {
        batch *b;
        assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
        assert_int_equal(check_batch(b, 5, 40), i * 5);
        assert_true(b->cap >= 16);
        batch_release(b, ACK_DELIVERED);
    }
    batch *b;
    assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_END);
    assert_int_equal(disk_buffer_events(db), 0);
    disk_buffer_free(db);
}

static void upstream_is_released_only_after_sync(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 64 << 20, 60000, false);
    upstream u = {0};
    assert_int_equal(disk_buffer_sync_due_ms(db), -1);
    assert_int_equal(disk_buffer_write(db, make_batch(3, 0, 10, &u)), QUEUE_OK);
    assert_int_equal(disk_buffer_write(db, make_batch(3, 3, 10, &u)), QUEUE_OK);
    assert_int_equal(atomic_load(&u.delivered), 0);
    int64_t due = disk_buffer_sync_due_ms(db);
    assert_true(due > 0 && due <= 60000);
    /* The reader may take a record before it is synced. */
    batch *b;
    assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
    assert_int_equal(atomic_load(&u.delivered), 0);
    sl_error err;
    assert_int_equal(disk_buffer_sync(db, &err), 0);
    assert_int_equal(atomic_load(&u.delivered), 2);
    assert_int_equal(atomic_load(&u.errored), 0);
    assert_int_equal(disk_buffer_sync_due_ms(db), -1);
    batch_release(b, ACK_DELIVERED);
    /* The acknowledgement moved: the ledger is due, then nothing is. */
    assert_true(disk_buffer_sync_due_ms(db) >= 0);
    assert_int_equal(disk_buffer_sync(db, &err), 0);
    assert_int_equal(disk_buffer_sync_due_ms(db), -1);
    assert_int_equal(disk_buffer_write(db, make_batch(3, 6, 10, &u)), QUEUE_OK);
    disk_buffer_free(db);
    assert_int_equal(atomic_load(&u.delivered), 3);
}

static void acks_in_any_order_delete_finished_segments(void **state)
{
    fixture *f = *state;
    /* 1 MiB: 128 KiB segments; each batch ~30 KB on disk. */
    disk_buffer *db = open_buffer(f, 1 << 20, 0, false);
    enum { N = 20 };
    for (int i = 0; i < N; i++)
        assert_int_equal(disk_buffer_write(db, make_batch(10, i * 10, 4000, NULL)), QUEUE_OK);
    size_t segments = count_segments(f);
    assert_true(segments >= 4);
    batch *held[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(disk_buffer_read(db, &held[i], 1000), QUEUE_OK);
        assert_int_equal(check_batch(held[i], 10, 4000), i * 10);
    }
    uint64_t bytes = disk_buffer_bytes(db);
    for (int i = N - 1; i >= 1; i--)
        batch_release(held[i], ACK_DELIVERED);
    /* The first record holds everything behind it. */
    assert_int_equal(count_segments(f), segments);
    assert_int_equal(disk_buffer_bytes(db), bytes);
    assert_int_equal(disk_buffer_events(db), 10);
    batch_release(held[0], ACK_REJECTED);
    assert_int_equal(disk_buffer_events(db), 0);
    /* Only the segment the writer is in stays. */
    assert_int_equal(count_segments(f), 1);
    assert_true(disk_buffer_bytes(db) < bytes / 2);
    disk_buffer_free(db);

    /* Nothing is read again after a restart. */
    db = open_buffer(f, 1 << 20, 0, false);
    batch *b;
    assert_int_equal(disk_buffer_read(db, &b, 0), QUEUE_TIMEOUT);
    assert_int_equal(disk_buffer_events(db), 0);
    assert_int_equal(count_segments(f), 0);
    assert_int_equal(disk_buffer_write(db, make_batch(2, 1000, 10, NULL)), QUEUE_OK);
    assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
    assert_int_equal(check_batch(b, 2, 10), 1000);
    batch_release(b, ACK_DELIVERED);
    disk_buffer_free(db);
}

static void restart_resumes_after_the_acknowledged_records(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 1 << 20, 0, false);
    for (int i = 0; i < 6; i++)
        assert_int_equal(disk_buffer_write(db, make_batch(4, i * 4, 3000, NULL)), QUEUE_OK);
    batch *held[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(disk_buffer_read(db, &held[i], 1000), QUEUE_OK);
    /* 0, 1 and 3 delivered; 2 errored; 4 and 5 still with the sink when it
     * stopped (errored too). */
    batch_release(held[3], ACK_DELIVERED);
    batch_release(held[0], ACK_DELIVERED);
    batch_release(held[1], ACK_DELIVERED);
    batch_release(held[2], ACK_ERRORED);
    batch_release(held[4], ACK_ERRORED);
    batch_release(held[5], ACK_ERRORED);
    disk_buffer_free(db);

    db = open_buffer(f, 1 << 20, 0, false);
    assert_int_equal(disk_buffer_events(db), 16);
    int64_t want[] = {8, 12, 16, 20};
    for (int i = 0; i < 4; i++) {
        batch *b;
        assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
        assert_int_equal(check_batch(b, 4, 3000), want[i]);
        batch_release(b, ACK_DELIVERED);
    }
    batch *b;
    assert_int_equal(disk_buffer_read(db, &b, 0), QUEUE_TIMEOUT);
    /* New records continue the ids: they are read, not mistaken for old. */
    assert_int_equal(disk_buffer_write(db, make_batch(4, 100, 10, NULL)), QUEUE_OK);
    assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
    assert_int_equal(check_batch(b, 4, 10), 100);
    batch_release(b, ACK_DELIVERED);
    disk_buffer_free(db);

    db = open_buffer(f, 1 << 20, 0, false);
    assert_int_equal(disk_buffer_read(db, &b, 0), QUEUE_TIMEOUT);
    assert_int_equal(disk_buffer_events(db), 0);
    disk_buffer_free(db);
}

/* Writes 3 records, acknowledges the first 2, and reopens after `damage`
 * did its work on the ledger: reading must start over at record 1. */
static void check_ledger_loss(const fixture *f, const char *code, void (*damage)(const char *))
{
    disk_buffer *db = open_buffer(f, 1 << 20, 0, false);
    for (int i = 0; i < 3; i++)
        assert_int_equal(disk_buffer_write(db, make_batch(2, i * 2, 10, NULL)), QUEUE_OK);
    for (int i = 0; i < 2; i++) {
        batch *b;
        assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
        batch_release(b, ACK_DELIVERED);
    }
    disk_buffer_free(db);
    char path[128];
    snprintf(path, sizeof(path), "%s/ledger", f->dir);
    damage(path);

    component_metrics m;
    sl_error err;
    assert_int_equal(component_metrics_init(&m, code, "sink", "blackhole", &err), 0);
    db = open_buffer_with(f, 1 << 20, 0, false, &m);
    assert_int_equal(buffer_errors(&m, code), 1);
    for (int i = 0; i < 3; i++) {
        batch *b;
        assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
        assert_int_equal(check_batch(b, 2, 10), i * 2);
        batch_release(b, ACK_DELIVERED);
    }
    disk_buffer_free(db);
}

static void remove_file(const char *path)
{
    assert_int_equal(unlink(path), 0);
}

static void scribble_on_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    char junk[600];
    memset(junk, 0x33, sizeof(junk));
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
}

static void lost_ledger_reads_from_the_oldest_record(void **state)
{
    fixture *f = *state;
    check_ledger_loss(f, "ledger_missing", remove_file);
}

static void damaged_ledger_reads_from_the_oldest_record(void **state)
{
    fixture *f = *state;
    check_ledger_loss(f, "ledger_corrupt", scribble_on_file);
}

static void errored_batch_is_read_again(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 1 << 20, 0, false);
    for (int i = 0; i < 4; i++)
        assert_int_equal(disk_buffer_write(db, make_batch(2, i * 2, 10, NULL)), QUEUE_OK);
    batch *b[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(disk_buffer_read(db, &b[i], 1000), QUEUE_OK);
    batch_release(b[1], ACK_ERRORED);
    batch_release(b[0], ACK_DELIVERED);
    batch_release(b[2], ACK_DELIVERED);
    /* Back to record 2; record 3 was delivered and is not sent again. */
    batch *again;
    assert_int_equal(disk_buffer_read(db, &again, 1000), QUEUE_OK);
    assert_int_equal(check_batch(again, 2, 10), 2);
    assert_int_equal(disk_buffer_events(db), 4);
    batch_release(again, ACK_DELIVERED);
    assert_int_equal(disk_buffer_read(db, &b[3], 1000), QUEUE_OK);
    assert_int_equal(check_batch(b[3], 2, 10), 6);
    batch_release(b[3], ACK_DELIVERED);
    assert_int_equal(disk_buffer_read(db, &again, 0), QUEUE_TIMEOUT);
    assert_int_equal(disk_buffer_events(db), 0);
    disk_buffer_free(db);
}

static void a_record_errored_again_is_read_again_after_a_growing_pause(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 1 << 20, 0, false);
    assert_int_equal(disk_buffer_write(db, make_batch(2, 0, 10, NULL)), QUEUE_OK);
    batch *b;
    assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
    /* The first time after progress: back at once. */
    batch_release(b, ACK_ERRORED);
    assert_int_equal(disk_buffer_read(db, &b, 0), QUEUE_OK);
    /* Errored again, with nothing finished: a pause, which grows, so that a
     * sink failing every time does not read the record at full speed. */
    int64_t pause_ns[2];
    for (int i = 0; i < 2; i++) {
        batch_release(b, ACK_ERRORED);
        int64_t t0 = sl_now_mono_ns();
        assert_int_equal(disk_buffer_read(db, &b, 0), QUEUE_TIMEOUT);
        assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
        pause_ns[i] = sl_now_mono_ns() - t0;
        assert_int_equal(check_batch(b, 2, 10), 0);
    }
    assert_true(pause_ns[0] >= 9000000);
    assert_true(pause_ns[1] >= 19000000);
    batch_release(b, ACK_DELIVERED);
    assert_int_equal(disk_buffer_events(db), 0);
    disk_buffer_free(db);
}

typedef struct writer_run {
    disk_buffer *db;
    int batches;
    atomic_int written;
    queue_result last;
    upstream u;
} writer_run;

static void *write_batches(void *arg)
{
    writer_run *w = arg;
    for (int i = 0; i < w->batches; i++) {
        w->last = disk_buffer_write(w->db, make_batch(10, i * 10, 2000, &w->u));
        if (w->last != QUEUE_OK)
            break;
        atomic_fetch_add(&w->written, 1);
    }
    return NULL;
}

static void full_buffer_blocks_the_writer_until_acks(void **state)
{
    fixture *f = *state;
    /* ~15 KB per record: about 4 fit in 64 KiB. */
    disk_buffer *db = open_buffer(f, 64 << 10, 60000, false);
    writer_run w = {.db = db, .batches = 30};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_batches, &w), 0);
    usleep(300 * 1000);
    int early = atomic_load(&w.written);
    assert_true(early > 0 && early < 30);
    assert_true(disk_buffer_bytes(db) <= 64 << 10);
    /* Blocked, the writer synced: its batches were released upstream. */
    assert_int_equal(atomic_load(&w.u.delivered), early);
    for (int i = 0; i < 30; i++) {
        batch *b;
        assert_int_equal(disk_buffer_read(db, &b, 5000), QUEUE_OK);
        assert_int_equal(check_batch(b, 10, 2000), i * 10);
        batch_release(b, ACK_DELIVERED);
        assert_true(disk_buffer_bytes(db) <= 64 << 10);
    }
    pthread_join(t, NULL);
    assert_int_equal(w.last, QUEUE_OK);
    assert_int_equal(atomic_load(&w.written), 30);
    disk_buffer_free(db);
    assert_int_equal(atomic_load(&w.u.delivered), 30);
}

typedef struct big_write {
    disk_buffer *db;
    queue_result result;
    upstream u;
} big_write;

static void *write_one_big_batch(void *arg)
{
    big_write *w = arg;
    w->result = disk_buffer_write(w->db, make_batch(100, 0, 2000, &w->u));
    return NULL;
}

/* A batch of about 200 KB into a 64 KiB buffer under `block`: written as
 * smaller records as room comes, every event read back once, in order,
 * and the batch acknowledged upstream once, when the last part is. */
static void batch_larger_than_max_size_goes_in_parts(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 64 << 10, 0, false);
    big_write w = {.db = db};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_one_big_batch, &w), 0);
    int64_t next = 0;
    int records = 0;
    while (next < 100) {
        batch *b;
        assert_int_equal(disk_buffer_read(db, &b, 5000), QUEUE_OK);
        assert_true(b->count < 100);
        for (uint32_t i = 0; i < b->count; i++)
            assert_int_equal(event_log_get(&b->events[i], "seq")->u.i, next++);
        if (records == 0)   /* the rest can't be in before this is acknowledged */
            assert_int_equal(atomic_load(&w.u.delivered), 0);
        batch_release(b, ACK_DELIVERED);
        records++;
        assert_true(disk_buffer_bytes(db) <= 64 << 10);
    }
    pthread_join(t, NULL);
    assert_int_equal(w.result, QUEUE_OK);
    assert_true(records >= 4);
    disk_buffer_free(db);
    assert_int_equal(atomic_load(&w.u.delivered), 1);
    assert_int_equal(atomic_load(&w.u.errored), 0);
}

static void drop_newest_drops_when_full(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 64 << 10, 0, true);
    upstream u = {0};
    int ok = 0, dropped = 0;
    for (int i = 0; i < 10; i++) {
        queue_result r = disk_buffer_write(db, make_batch(10, i * 10, 2000, &u));
        assert_true(r == QUEUE_OK || r == QUEUE_DROPPED);
        ok += r == QUEUE_OK;
        dropped += r == QUEUE_DROPPED;
    }
    assert_true(ok > 0 && dropped > 0);
    assert_int_equal(atomic_load(&u.delivered), 10);
    assert_true(disk_buffer_bytes(db) <= 64 << 10);
    /* A batch that could never fit whole goes in parts, which don't fit
     * either while the buffer is full. */
    assert_int_equal(disk_buffer_write(db, make_batch(100, 0, 2000, &u)), QUEUE_DROPPED);
    for (int i = 0; i < ok; i++) {
        batch *b;
        assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
        assert_int_equal(check_batch(b, 10, 2000), i * 10);
        batch_release(b, ACK_DELIVERED);
    }
    /* Room again. */
    assert_int_equal(disk_buffer_write(db, make_batch(10, 500, 2000, &u)), QUEUE_OK);
    disk_buffer_free(db);
}

typedef struct reader_run {
    disk_buffer *db;
    queue_result result;
} reader_run;

static void *read_one(void *arg)
{
    reader_run *r = arg;
    batch *b = NULL;
    r->result = disk_buffer_read(r->db, &b, -1);
    if (r->result == QUEUE_OK)
        batch_release(b, ACK_DELIVERED);
    return NULL;
}

static void close_wakes_a_blocked_writer_and_reader(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 64 << 10, 0, false);
    reader_run r = {db, QUEUE_OK};
    pthread_t rt;
    assert_int_equal(pthread_create(&rt, NULL, read_one, &r), 0);
    usleep(100 * 1000);
    /* The reader took the first batch; fill the buffer behind it. */
    writer_run w = {.db = db, .batches = 30};
    pthread_t wt;
    assert_int_equal(pthread_create(&wt, NULL, write_batches, &w), 0);
    pthread_join(rt, NULL);
    assert_int_equal(r.result, QUEUE_OK);
    usleep(300 * 1000);
    assert_true(atomic_load(&w.written) < 30);
    assert_int_equal(pthread_create(&rt, NULL, read_one, &r), 0);
    pthread_join(rt, NULL);
    assert_int_equal(r.result, QUEUE_OK);

    disk_buffer_close(db);
    pthread_join(wt, NULL);
    assert_int_equal(w.last, QUEUE_CLOSED);
    assert_int_equal(atomic_load(&w.u.errored), 1);
    batch *b;
    assert_int_equal(disk_buffer_read(db, &b, -1), QUEUE_END);
    disk_buffer_free(db);

    /* A reader waiting on an empty buffer. */
    db = open_buffer(f, 64 << 10, 0, false);
    batch *rest;
    while (disk_buffer_read(db, &rest, 0) == QUEUE_OK)
        batch_release(rest, ACK_DELIVERED);
    r.db = db;
    assert_int_equal(pthread_create(&rt, NULL, read_one, &r), 0);
    usleep(100 * 1000);
    disk_buffer_close(db);
    pthread_join(rt, NULL);
    assert_int_equal(r.result, QUEUE_END);
    disk_buffer_free(db);
}

static char *only_segment_path(const fixture *f)
{
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char *path = NULL;
    while ((e = readdir(d))) {
        uint64_t id;
        if (bseg_parse_file_name(e->d_name, &id)) {
            assert_null(path);
            assert_true(asprintf(&path, "%s/%s", f->dir, e->d_name) > 0);
        }
    }
    closedir(d);
    assert_non_null(path);
    return path;
}

typedef struct one_write {
    disk_buffer *db;
    batch *b;
    atomic_bool done;
    queue_result result;
} one_write;

static void *write_one(void *arg)
{
    one_write *w = arg;
    w->result = disk_buffer_write(w->db, w->b);
    atomic_store(&w->done, true);
    return NULL;
}

static void failed_write_is_undone_and_retried(void **state)
{
    fixture *f = *state;
    component_metrics m;
    sl_error err;
    assert_int_equal(component_metrics_init(&m, "retry", "sink", "blackhole", &err), 0);
    disk_buffer *db = open_buffer_with(f, 1 << 20, 0, false, &m);
    assert_int_equal(disk_buffer_write(db, make_batch(3, 0, 100, NULL)), QUEUE_OK);
    uint64_t written = disk_buffer_bytes(db);
    char *path = only_segment_path(f);

    /* A file size limit that lets the next record in halfway: the writev
     * fails with EFBIG (SIGXFSZ ignored) after a partial write. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = written + 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    one_write w = {.db = db, .b = make_batch(3, 3, 3000, NULL)};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_one, &w), 0);
    usleep(1500 * 1000);
    assert_false(atomic_load(&w.done));
    assert_true(buffer_errors(&m, "write_failed") >= 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, written);
    assert_int_equal(disk_buffer_bytes(db), written);

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    pthread_join(t, NULL);
    assert_int_equal(w.result, QUEUE_OK);
    for (int i = 0; i < 2; i++) {
        batch *b;
        assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
        assert_int_equal(check_batch(b, 3, i ? 3000 : 100), i * 3);
        batch_release(b, ACK_DELIVERED);
    }
    disk_buffer_free(db);
    free(path);
}

typedef struct paced_writer {
    disk_buffer *db;
    int batches;
} paced_writer;

/* Writes like the runtime's buffer thread: syncing whenever one is due. */
static void *write_and_sync(void *arg)
{
    paced_writer *w = arg;
    sl_error err;
    for (int i = 0; i < w->batches; i++) {
        assert_int_equal(disk_buffer_write(w->db, make_batch(4, i * 4, 300, NULL)), QUEUE_OK);
        if (disk_buffer_sync_due_ms(w->db) == 0)
            assert_int_equal(disk_buffer_sync(w->db, &err), 0);
    }
    disk_buffer_writer_done(w->db);
    return NULL;
}

static void concurrent_reads_with_acks_in_any_order(void **state)
{
    fixture *f = *state;
    enum { N = 400, HOLD = 8 };
    /* Small segments and a tight max_size: rollover, deletion and blocking
     * all happen while the reader acknowledges out of order. */
    disk_buffer *db = open_buffer(f, 128 << 10, 2, false);
    paced_writer w = {db, N};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_and_sync, &w), 0);
    int delivered[N] = {0}, errored[N] = {0};
    batch *held[HOLD];
    int nheld = 0;
    uint32_t x = 7;
    for (;;) {
        batch *b;
        queue_result r = disk_buffer_read(db, &b, 100);
        if (r == QUEUE_END && nheld == 0)
            break;
        if (r == QUEUE_OK) {
            check_batch(b, 4, 300);
            held[nheld++] = b;
        }
        while (nheld > 0 && (nheld == HOLD || r != QUEUE_OK)) {
            x = x * 1103515245u + 12345u;
            int k = (int)((x >> 16) % (uint32_t)nheld);
            batch *out = held[k];
            held[k] = held[--nheld];
            int seq = (int)(event_log_get(&out->events[0], "seq")->u.i / 4);
            bool fail = ((x >> 8) % 10) == 0 && errored[seq] < 2;
            errored[seq] += fail;
            delivered[seq] += !fail;
            batch_release(out, fail ? ACK_ERRORED : ACK_DELIVERED);
        }
    }
    pthread_join(t, NULL);
    for (int i = 0; i < N; i++)
        assert_true(delivered[i] >= 1);
    assert_int_equal(disk_buffer_events(db), 0);
    assert_true(count_segments(f) <= 1);
    disk_buffer_free(db);
}

static void second_open_of_a_directory_fails(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 1 << 20, 0, false);
    disk_buffer_options o = {.dir = f->dir, .id = "other", .max_size = 1 << 20};
    disk_buffer *second = NULL;
    sl_error err;
    assert_int_equal(disk_buffer_open(&o, &second, &err), -1);
    assert_null(second);
    assert_non_null(strstr(err.msg, "in use by another sluice process"));
    disk_buffer_free(db);
    assert_int_equal(disk_buffer_open(&o, &second, &err), 0);
    disk_buffer_free(second);
}

static void damage_on_disk_is_skipped_and_torn_tail_cut(void **state)
{
    fixture *f = *state;
    disk_buffer *db = open_buffer(f, 1 << 20, 0, false);
    for (int i = 0; i < 3; i++)
        assert_int_equal(disk_buffer_write(db, make_batch(3, i * 3, 500, NULL)), QUEUE_OK);
    disk_buffer_free(db);
    char *path = only_segment_path(f);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_RDWR);
    /* A byte in the middle record's payload, then half a record at the end. */
    uint8_t x = 0;
    off_t mid = st.st_size / 2;
    assert_int_equal(pread(fd, &x, 1, mid), 1);
    x ^= 0x10;
    assert_int_equal(pwrite(fd, &x, 1, mid), 1);
    static const uint8_t torn[] = {0xF1, 'S', 'L', 'B', 100, 0, 0, 0, 1, 0};
    assert_int_equal(pwrite(fd, torn, sizeof(torn), st.st_size), (ssize_t)sizeof(torn));
    close(fd);

    off_t intact = st.st_size;
    component_metrics m;
    sl_error err;
    assert_int_equal(component_metrics_init(&m, "out", "sink", "blackhole", &err), 0);
    db = open_buffer_with(f, 1 << 20, 0, false, &m);
    assert_int_equal(buffer_errors(&m, "torn_tail"), 1);
    assert_int_equal(metrics_gauge_value(m.buffer_events), 6);
    assert_int_equal(metrics_gauge_value(m.buffer_bytes), intact);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, intact);
    batch *b;
    assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
    assert_int_equal(check_batch(b, 3, 500), 0);
    batch_release(b, ACK_DELIVERED);
    assert_int_equal(disk_buffer_read(db, &b, 1000), QUEUE_OK);
    assert_int_equal(check_batch(b, 3, 500), 6);
    batch_release(b, ACK_DELIVERED);
    assert_int_equal(disk_buffer_read(db, &b, 0), QUEUE_TIMEOUT);
    assert_int_equal(buffer_errors(&m, "corrupt_record"), 1);
    metrics_series *sent = component_metrics_extra(&m, "buffer_sent_events_total",
                                                   METRICS_COUNTER, "");
    assert_int_equal(metrics_counter_value(sent), 6);
    /* Every record finished (the damaged one lost): the segment goes. */
    assert_int_equal(count_segments(f), 0);
    assert_int_equal(metrics_gauge_value(m.buffer_bytes), 0);
    disk_buffer_free(db);
    free(path);
}

static void damage_in_an_older_segment_is_found_when_read(void **state)
{
    fixture *f = *state;
    /* 512 KiB: 64 KiB segments; each record ~6 KB. */
    disk_buffer *db = open_buffer(f, 512 << 10, 0, false);
    for (int i = 0; i < 30; i++)
        assert_int_equal(disk_buffer_write(db, make_batch(4, i * 4, 2000, NULL)), QUEUE_OK);
    disk_buffer_free(db);
    assert_true(count_segments(f) >= 3);
    char path[128];
    snprintf(path, sizeof(path), "%s/0000000000000001.seg", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_RDWR);
    uint8_t x = 0;
    off_t mid = st.st_size / 2;
    assert_int_equal(pread(fd, &x, 1, mid), 1);
    x ^= 0x01;
    assert_int_equal(pwrite(fd, &x, 1, mid), 1);
    close(fd);

    component_metrics m;
    sl_error err;
    assert_int_equal(component_metrics_init(&m, "older", "sink", "blackhole", &err), 0);
    db = open_buffer_with(f, 512 << 10, 0, false, &m);
    assert_int_equal(buffer_errors(&m, "corrupt_record"), 0);
    int got = 0;
    batch *b;
    while (disk_buffer_read(db, &b, 0) == QUEUE_OK) {
        check_batch(b, 4, 2000);
        batch_release(b, ACK_DELIVERED);
        got++;
    }
    assert_int_equal(got, 29);
    assert_int_equal(buffer_errors(&m, "corrupt_record"), 1);
    /* The damaged segment went with the others once the rest was acknowledged. */
    assert_int_equal(count_segments(f), 0);
    disk_buffer_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(batches_come_back_equal_and_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(upstream_is_released_only_after_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(acks_in_any_order_delete_finished_segments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(restart_resumes_after_the_acknowledged_records, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(lost_ledger_reads_from_the_oldest_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(damaged_ledger_reads_from_the_oldest_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(errored_batch_is_read_again, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_record_errored_again_is_read_again_after_a_growing_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(full_buffer_blocks_the_writer_until_acks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(batch_larger_than_max_size_goes_in_parts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(drop_newest_drops_when_full, setup, teardown),
        cmocka_unit_test_setup_teardown(close_wakes_a_blocked_writer_and_reader, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failed_write_is_undone_and_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_reads_with_acks_in_any_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(second_open_of_a_directory_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(damage_on_disk_is_skipped_and_torn_tail_cut, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(damage_in_an_older_segment_is_found_when_read, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
