/* disk_buffer_writer.c - the disk kind of sink buffer (`buffer.type:
 * disk`): a short queue in front of a writer thread that moves batches into
 * the disk_buffer (disk_buffer.h), fsyncing on the sync interval, which is
 * when the batches are acknowledged upstream. The sink reads the disk
 * buffer.
 *
 * At shutdown the writer ends once every producer is done and its last
 * write is synced: everything upstream had is safe on disk then, so the
 * sink gets BUFFER_DISK_STOP_GRACE_MS to finish what it has in flight and
 * is then told to stop; what it did not deliver stays in the buffer. (A
 * writer that ends while the pipeline runs on, its producers finished,
 * leaves the sink to read everything.) */
#include "pipeline/buffer_kind.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/disk_buffer.h"
#include "pipeline/log.h"

/* How often acknowledgements reach the ledger while nothing is written,
 * when the sink has no sync interval of its own. */
#define IDLE_SYNC_MS 500

typedef struct disk_sink_buffer {
    sink_buffer base;
    disk_buffer *disk;
    char *id;
    uint32_t sync_interval_ms;
    pthread_t writer;
    bool writer_started;
    atomic_int_fast64_t synced_at_ns;   /* the writer's last sync; 0 while it runs */
    atomic_int_fast64_t stopping_at_ns; /* when the shutdown began; 0 before */
    atomic_bool closed;
} disk_sink_buffer;

static disk_sink_buffer *as_disk(sink_buffer *b)
{
    return (disk_sink_buffer *)b;
}

/* Until the next sync is due; with nothing written, a sync interval, so
 * that acknowledgements arriving while the input is idle still reach the
 * ledger (fewer duplicates after a crash). */
static int writer_wait_ms(const disk_sink_buffer *d)
{
    int64_t due = disk_buffer_sync_due_ms(d->disk);
    if (due < 0)
        due = d->sync_interval_ms ? (int64_t)d->sync_interval_ms : IDLE_SYNC_MS;
    return due > 60000 ? 60000 : (int)due;
}

static void writer_sync(disk_sink_buffer *d)
{
    sl_error err = {{0}};
    if (disk_buffer_sync(d->disk, &err) < 0) {
        slog_error(d->id, "disk buffer: %s; retrying", err.msg);
        if (d->base.metrics)
            component_metrics_error(d->base.metrics, "buffer_sync_failed", "sending", 1);
    }
}

/* Moves what arrives in the input queue into the buffer. (What the buffer
 * drops it counts itself.) */
static void *writer_thread(void *arg)
{
    disk_sink_buffer *d = arg;
    for (;;) {
        batch *b = NULL;
        queue_result r = queue_pop(d->base.input, &b, writer_wait_ms(d));
        if (r == QUEUE_END)
            break;
        if (r == QUEUE_OK && disk_buffer_write(d->disk, b) == QUEUE_CLOSED)
            break;
        if (r == QUEUE_TIMEOUT || disk_buffer_sync_due_ms(d->disk) == 0)
            writer_sync(d);
    }
    disk_buffer_writer_done(d->disk);
    atomic_store(&d->synced_at_ns, sl_now_mono_ns());
    return NULL;
}

static int disk_start(sink_buffer *b, sl_error *err)
{
    disk_sink_buffer *d = as_disk(b);
    if (pthread_create(&d->writer, NULL, writer_thread, d) != 0)
        return sl_fail(err, "cannot start the disk buffer thread of %s: %s", d->id,
                       strerror(errno));
    d->writer_started = true;
    return 0;
}

static queue_result disk_push(sink_buffer *b, batch *bt)
{
    return queue_push(b->input, bt);
}

/* Milliseconds the sink may still go on: INT64_MAX until the shutdown has
 * begun and the writer has synced its last write. */
static int64_t grace_left_ms(disk_sink_buffer *d)
{
    if (atomic_load_explicit(&d->closed, memory_order_relaxed))
        return 0;
    int64_t synced = atomic_load_explicit(&d->synced_at_ns, memory_order_relaxed);
    int64_t stopping = atomic_load_explicit(&d->stopping_at_ns, memory_order_relaxed);
    if (synced == 0 || stopping == 0)
        return INT64_MAX;
    int64_t since = synced > stopping ? synced : stopping;
    int64_t left = BUFFER_DISK_STOP_GRACE_MS - (sl_now_mono_ns() - since) / 1000000;
    return left > 0 ? left : 0;
}

static queue_result disk_pop(sink_buffer *b, batch **out, int timeout_ms)
{
    disk_sink_buffer *d = as_disk(b);
    int64_t left = grace_left_ms(d);
    if (left == 0)
        return QUEUE_END;
    if (left < INT64_MAX && (timeout_ms < 0 || timeout_ms > left))
        timeout_ms = (int)left;
    queue_result r = disk_buffer_read(d->disk, out, timeout_ms);
    if (r == QUEUE_TIMEOUT && grace_left_ms(d) == 0)
        return QUEUE_END;
    return r;
}

static bool disk_must_stop(sink_buffer *b)
{
    return grace_left_ms(as_disk(b)) == 0;
}

static void disk_shutting_down(sink_buffer *b)
{
    int64_t none = 0;
    atomic_compare_exchange_strong(&as_disk(b)->stopping_at_ns, &none, sl_now_mono_ns());
}

static void disk_close(sink_buffer *b)
{
    disk_sink_buffer *d = as_disk(b);
    atomic_store(&d->closed, true);
    queue_close(b->input);
    disk_buffer_close(d->disk);
}

/* The writer goes on until the buffer is full; only a sink that stopped
 * while upstream still runs is worth a word. */
static void disk_discard_rest(sink_buffer *b, const char *sink_id)
{
    if (atomic_load(&as_disk(b)->synced_at_ns) == 0)
        slog_error(sink_id, "the sink stopped; its disk buffer keeps what arrives "
                   "until it is full, for the next run");
}

static void disk_stop(sink_buffer *b)
{
    disk_sink_buffer *d = as_disk(b);
    if (d->writer_started) {
        pthread_join(d->writer, NULL);
        d->writer_started = false;
    }
    writer_sync(d);
}

/* What the sink holds was read from the disk buffer: it is among the
 * buffer's unacknowledged events. */
static void disk_log_pending(sink_buffer *b, const char *sink_id, uint64_t sink_held)
{
    SL_UNUSED(sink_held);
    disk_sink_buffer *d = as_disk(b);
    uint64_t events = disk_buffer_events(d->disk);
    size_t queued = queue_events(b->input);
    if (events == 0 && queued == 0)
        return;
    slog_warn(sink_id, "not delivered: %" PRIu64 " events stay in the disk buffer for the "
              "next start; %zu events in %zu batches had not reached it, and sources with "
              "acknowledgements read them again at the next start", events, queued,
              queue_batches(b->input));
}

static void disk_free(sink_buffer *b)
{
    disk_sink_buffer *d = as_disk(b);
    disk_buffer_free(d->disk);   /* after the sink released what it read */
    queue_free(b->input);
    free(d->id);
    free(d);
}

static const buffer_ops disk_ops = {
    .start = disk_start,
    .push = disk_push,
    .pop = disk_pop,
    .must_stop = disk_must_stop,
    .shutting_down = disk_shutting_down,
    .close = disk_close,
    .discard_rest = disk_discard_rest,
    .stop = disk_stop,
    .log_pending = disk_log_pending,
    .free = disk_free,
};

/* <data_dir>/buffer/<sink id>; the config refuses ids that aren't a plain
 * file name for disk buffers. A short queue in front of the writer: the
 * disk holds the rest. */
int disk_sink_buffer_open(const component_config *cc, const char *data_dir,
                          uint32_t batch_events, const component_metrics *m,
                          sink_buffer **out, sl_error *err)
{
    char dir[4096];
    int len = snprintf(dir, sizeof(dir), "%s/buffer/%s", data_dir, cc->id);
    if (len < 0 || (size_t)len >= sizeof(dir))
        return sl_fail(err, "%s: the disk buffer's path is too long", cc->label);
    disk_sink_buffer *d = calloc(1, sizeof(*d));
    if (d) {
        d->id = strdup(cc->id);
        d->base.input = queue_new((size_t)batch_events * 2, QUEUE_BLOCK);
    }
    if (!d || !d->id || !d->base.input) {
        if (d) {
            queue_free(d->base.input);
            free(d->id);
        }
        free(d);
        return sl_fail(err, "out of memory creating the buffer of %s", cc->id);
    }
    d->base.ops = &disk_ops;
    d->base.metrics = m;
    d->sync_interval_ms = (uint32_t)cc->buffer_sync_interval_ms;
    atomic_init(&d->synced_at_ns, 0);
    atomic_init(&d->stopping_at_ns, 0);
    atomic_init(&d->closed, false);
    disk_buffer_options o = {
        .dir = dir,
        .id = cc->id,
        .max_size = cc->buffer_max_size,
        .sync_interval_ms = d->sync_interval_ms,
        .drop_newest = cc->buffer_when_full == WHEN_FULL_DROP_NEWEST,
        .batch_events = batch_events,
        .metrics = m,
    };
    sl_error derr = {{0}};
    if (disk_buffer_open(&o, &d->disk, &derr) < 0) {
        queue_free(d->base.input);
        free(d->id);
        free(d);
        return sl_fail(err, "%s: %s", cc->label, derr.msg);
    }
    *out = &d->base;
    return 0;
}
