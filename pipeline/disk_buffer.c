/* disk_buffer.c - a sink's input buffer on disk (see disk_buffer.h).
 *
 * One record per batch: the writer encodes the batch (event_codec),
 * compresses it with lz4 and appends it to the current segment with one
 * writev; the batch is released upstream once an fsync covers it. The
 * reader walks the segments in order and decodes each record into a batch
 * whose ack group reports back here. The records handed out are tracked in
 * id order by an ack ring (ack.h, the rule sources use for checkpoints):
 * the contiguous prefix of finished records (delivered or rejected) is the
 * acknowledged position, which the ledger stores and which lets whole
 * segments go. An errored record stays unfinished and sends the reader back
 * to it.
 *
 * Locking: one mutex guards what the writer, the reader and the ack
 * callbacks share (the segment list, the tracked records, the counters).
 * File I/O happens outside it, except the unlink of a finished segment. */
#include "pipeline/disk_buffer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <lz4.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/arena.h"
#include "pipeline/event_codec.h"
#include "pipeline/log.h"

/* Segment size: an eighth of max_size (so that deleting finished segments
 * frees space in useful steps) within these bounds. */
#define SEGMENT_MIN_BYTES (64u * 1024)
#define SEGMENT_MAX_BYTES (128u * 1024 * 1024)
/* How long a failed write or a full buffer waits before trying again. */
#define RETRY_WAIT_MS 1000
/* The reader's pause before it goes back to a record released as errored:
 * none the first time after progress, then doubling from the first step up
 * to the most, so a sink that fails every time (an endpoint that is down,
 * a write that keeps failing) reads its records again at a calm pace. */
#define REWIND_PAUSE_FIRST_MS 10
#define REWIND_PAUSE_MAX_MS 1000
/* Damaged regions logged one by one before the rest are logged at debug. */
#define DAMAGE_LOG_LIMIT 20

/* ---- small helpers ---- */

void dbuf_segment_path(const disk_buffer *db, uint64_t first_id, char out[PATH_MAX])
{
    char name[BSEG_NAME_SIZE];
    bseg_file_name(name, first_id);
    snprintf(out, PATH_MAX, "%s/%s", db->dir, name);
}

void dbuf_count_error(disk_buffer *db, const char *code)
{
    const component_metrics *m = db->metrics;
    if (!m || !m->id)
        return;
    metrics_label labels[4] = {
        {"component_id", m->id},
        {"component_kind", m->kind},
        {"component_type", m->type},
        {"error_code", code},
    };
    metrics_add(metrics_counter("buffer_errors_total",
                                "The number of errors the component's buffer met.",
                                labels, 4),
                1);
}

static void publish_gauges_locked(disk_buffer *db)
{
    if (!db->metrics)
        return;
    metrics_set(db->metrics->buffer_events, (double)db->unacked_events);
    metrics_set(db->metrics->buffer_bytes, (double)db->total_bytes);
}

static struct timespec deadline_after_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

static int init_sync_primitives(disk_buffer *db)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = 0;
    if (pthread_mutex_init(&db->mu, NULL) != 0)
        rc = -1;
    else if (pthread_cond_init(&db->readable, &ca) != 0) {
        pthread_mutex_destroy(&db->mu);
        rc = -1;
    } else if (pthread_cond_init(&db->room, &ca) != 0) {
        pthread_cond_destroy(&db->readable);
        pthread_mutex_destroy(&db->mu);
        rc = -1;
    }
    pthread_condattr_destroy(&ca);
    return rc;
}

/* ---- the segment list ---- */

static int compare_segment_first(const void *elem, const void *key)
{
    uint64_t a = ((const segment *)elem)->first_id, b = *(const uint64_t *)key;
    return a < b ? -1 : a > b;
}

/* The index of the segment named first_id, or of the first one after it. */
static size_t find_segment_locked(const disk_buffer *db, uint64_t first_id, bool *found)
{
    return sl_bsearch(db->segs, db->nsegs, sizeof(segment), &first_id,
                      compare_segment_first, found);
}

int dbuf_append_segment_locked(disk_buffer *db, uint64_t first_id)
{
    if (SL_GROW(db->segs, db->nsegs, db->segs_cap, 16) < 0)
        return -1;
    db->segs[db->nsegs++] = (segment){first_id, 0, 0};
    return 0;
}

static bool segment_is_finished_locked(const disk_buffer *db, size_t i)
{
    if (db->writer_has_segment && i == db->nsegs - 1)
        return false;
    return db->segs[i].last_id <= db->acked_id;
}

/* Deletes the segments whose records are all finished and that the writer
 * has left. */
void dbuf_delete_finished_segments_locked(disk_buffer *db)
{
    size_t kept = 0;
    bool freed = false;
    for (size_t i = 0; i < db->nsegs; i++) {
        if (!segment_is_finished_locked(db, i)) {
            db->segs[kept++] = db->segs[i];
            continue;
        }
        char path[PATH_MAX];
        dbuf_segment_path(db, db->segs[i].first_id, path);
        if (unlink(path) < 0 && errno != ENOENT) {
            slog_error(db->id, "cannot delete the finished buffer segment %s: %s", path,
                       strerror(errno));
            dbuf_count_error(db, "delete_failed");
            db->segs[kept++] = db->segs[i];
            continue;
        }
        db->total_bytes -= db->segs[i].size;
        freed = true;
    }
    db->nsegs = kept;
    if (freed) {
        pthread_cond_broadcast(&db->room);
        publish_gauges_locked(db);
    }
}

/* ---- records handed out and their acknowledgements ---- */

/* Finishes a record (delivered, rejected, or vanished) unless it was. */
static bool finish_record_locked(disk_buffer *db, uint64_t token, ack_status status)
{
    if (!ack_ring_complete(&db->records, token, status))
        return false;
    const record_place *p = ack_ring_detail(&db->records, token);
    db->unacked_events -= p->count <= db->unacked_events ? p->count : db->unacked_events;
    return true;
}

/* Moves the acknowledged position over the finished records at the front. */
static void advance_acked_locked(disk_buffer *db)
{
    uint64_t id;
    if (!ack_ring_advance(&db->records, &id, NULL))
        return;
    db->acked_id = id;
    db->ledger_dirty = true;
    dbuf_delete_finished_segments_locked(db);
    publish_gauges_locked(db);
    /* Even when no segment went, a full writer may now leave its own. */
    pthread_cond_broadcast(&db->room);
}

static int64_t rewind_pause_ns(unsigned errored_in_row)
{
    if (errored_in_row == 0)
        return 0;
    int64_t ms = REWIND_PAUSE_FIRST_MS;
    for (unsigned i = 1; i < errored_in_row && ms < REWIND_PAUSE_MAX_MS; i++)
        ms *= 2;
    return (ms < REWIND_PAUSE_MAX_MS ? ms : REWIND_PAUSE_MAX_MS) * 1000000;
}

/* The ack callback of every batch read. An errored record is not finished:
 * the reader goes back to it, after a pause that grows while nothing is
 * finished. */
static void record_acknowledged(void *ud, uint64_t token, ack_status status)
{
    disk_buffer *db = ud;
    pthread_mutex_lock(&db->mu);
    if (ack_ring_holds(&db->records, token) && !ack_ring_finished(&db->records, token)) {
        if (status == ACK_ERRORED) {
            if (!db->rewind_asked) {
                db->rewind_token = token;
                db->rewind_at_ns = sl_now_mono_ns() + rewind_pause_ns(db->errored_in_row);
            } else if (token < db->rewind_token) {
                db->rewind_token = token;
            }
            db->rewind_asked = true;
            if (db->errored_in_row < UINT_MAX)
                db->errored_in_row++;
            pthread_cond_broadcast(&db->readable);
        } else if (finish_record_locked(db, token, status)) {
            db->errored_in_row = 0;
            advance_acked_locked(db);
        }
    }
    pthread_mutex_unlock(&db->mu);
}

/* Records handed out before that the reader, going over them again, did not
 * find any more (damaged since): finished, as nothing can bring them back. */
static void forget_vanished_records_locked(disk_buffer *db, uint64_t after, uint64_t before)
{
    bool exact;
    bool any = false;
    for (uint64_t tok = ack_ring_seek(&db->records, after + 1, &exact);
         tok < db->records.next && ack_ring_position(&db->records, tok) < before; tok++) {
        if (ack_ring_finished(&db->records, tok))
            continue;
        slog_warn(db->id, "buffer record %" PRIu64 " can no longer be read; dropped",
                  ack_ring_position(&db->records, tok));
        any |= finish_record_locked(db, tok, ACK_REJECTED);
    }
    if (any)
        advance_acked_locked(db);
}

/* ---- opening ---- */

static uint64_t segment_target_for(uint64_t max_size)
{
    uint64_t t = max_size / 8;
    if (t < SEGMENT_MIN_BYTES)
        t = SEGMENT_MIN_BYTES;
    if (t > SEGMENT_MAX_BYTES)
        t = SEGMENT_MAX_BYTES;
    return t;
}

int disk_buffer_open(const disk_buffer_options *o, disk_buffer **out, sl_error *err)
{
    if (!o->dir || !*o->dir)
        return sl_fail(err, "the disk buffer needs a directory");
    if (o->max_size == 0)
        return sl_fail(err, "the disk buffer's max_size must be above 0");
    disk_buffer *db = calloc(1, sizeof(*db));
    if (!db)
        return sl_fail(err, "out of memory opening the disk buffer");
    db->lock_fd = db->dir_fd = db->wfd = -1;
    db->ledger.fd = -1;
    bseg_reader_init(&db->reader);
    db->dir = strdup(o->dir);
    db->id = strdup(o->id ? o->id : "buffer");
    if (!db->dir || !db->id || ack_ring_init(&db->records, sizeof(record_place)) < 0 ||
        init_sync_primitives(db) < 0) {
        ack_ring_free(&db->records);
        free(db->dir);
        free(db->id);
        free(db);
        return sl_fail(err, "out of memory opening the disk buffer");
    }
    db->max_size = o->max_size;
    db->segment_target = segment_target_for(o->max_size);
    db->sync_interval_ms = o->sync_interval_ms;
    db->batch_events = o->batch_events ? o->batch_events : BATCH_DEFAULT_EVENTS;
    db->drop_newest = o->drop_newest;
    db->metrics = o->metrics;
    db->last_sync_ns = sl_now_mono_ns();
    buffer_counters_register(&db->counters, db->metrics);
    if (dbuf_recover(db, err) < 0) {
        disk_buffer_free(db);
        return -1;
    }
    publish_gauges_locked(db);
    *out = db;
    return 0;
}

/* ---- writing ---- */

/* Encodes and compresses b into db->compressed; its length, or -1. */
static int64_t encode_batch(disk_buffer *db, const batch *b, sl_error *err)
{
    buf_reset(&db->encoded);
    if (event_codec_encode(b, &db->encoded, err) < 0)
        return -1;
    if (db->encoded.len > BSEG_MAX_RAW)
        return sl_fail(err, "a batch of %zu encoded bytes is above the %u-byte record limit",
                       db->encoded.len, BSEG_MAX_RAW);
    size_t bound = (size_t)LZ4_compressBound((int)db->encoded.len);
    if (bound > db->compressed_cap) {
        char *p = realloc(db->compressed, bound);
        if (!p)
            return sl_fail(err, "out of memory compressing a batch");
        db->compressed = p;
        db->compressed_cap = bound;
    }
    int n = LZ4_compress_default(db->encoded.data, db->compressed, (int)db->encoded.len,
                                 (int)bound);
    if (n <= 0 || (uint64_t)n > BSEG_MAX_PAYLOAD)
        return sl_fail(err, "a batch does not compress into one record");
    return n;
}

static void drop_batch(disk_buffer *db, batch *b, const char *why)
{
    slog_warn(db->id, "disk buffer dropped %" PRIu32 " events: %s", b->count, why);
    metrics_add(db->counters.discarded_events, b->count);
    if (db->metrics)
        metrics_add(db->metrics->discarded_intentional, b->count);
    batch_release(b, ACK_DELIVERED);
}

static int fsync_fd(int fd)
{
    int rc;
    do
        rc = fsync(fd);
    while (rc < 0 && errno == EINTR);
    return rc;
}

/* Leaves the current segment: fsynced so that a later sync, which only
 * fsyncs the new one, still covers what was written here. */
static int close_write_segment(disk_buffer *db, sl_error *err)
{
    if (db->wfd < 0)
        return 0;
    if (db->needs_fsync && fsync_fd(db->wfd) < 0)
        return sl_fail(err, "cannot sync a buffer segment: %s", strerror(errno));
    db->needs_fsync = false;
    close(db->wfd);
    db->wfd = -1;
    pthread_mutex_lock(&db->mu);
    db->writer_has_segment = false;
    dbuf_delete_finished_segments_locked(db);
    pthread_cond_broadcast(&db->readable);
    pthread_mutex_unlock(&db->mu);
    return 0;
}

static int open_write_segment(disk_buffer *db, sl_error *err)
{
    char path[PATH_MAX];
    dbuf_segment_path(db, db->next_id, path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return sl_fail(err, "cannot create buffer segment %s: %s", path, strerror(errno));
    pthread_mutex_lock(&db->mu);
    int rc = dbuf_append_segment_locked(db, db->next_id);
    if (rc == 0)
        db->writer_has_segment = true;
    pthread_mutex_unlock(&db->mu);
    if (rc < 0) {
        close(fd);
        unlink(path);
        return sl_fail(err, "out of memory adding a buffer segment");
    }
    db->wfd = fd;
    db->dir_needs_fsync = true;
    return 0;
}

/* Makes sure the current segment can take `size` more bytes. */
static int prepare_segment(disk_buffer *db, uint64_t size, sl_error *err)
{
    if (db->wfd >= 0) {
        pthread_mutex_lock(&db->mu);
        uint64_t used = db->segs[db->nsegs - 1].size;
        pthread_mutex_unlock(&db->mu);
        if (used > 0 && used + size > db->segment_target && close_write_segment(db, err) < 0)
            return -1;
    }
    return db->wfd >= 0 ? 0 : open_write_segment(db, err);
}

/* Waits up to ms on cond, unless closed. False when closed. */
static bool wait_unless_closed(disk_buffer *db, pthread_cond_t *cond, int64_t ms)
{
    struct timespec until = deadline_after_ms(ms);
    pthread_mutex_lock(&db->mu);
    if (!db->closed)
        pthread_cond_timedwait(cond, &db->mu, &until);
    bool open = !db->closed;
    pthread_mutex_unlock(&db->mu);
    return open;
}

typedef enum room_state {
    ROOM_CLOSED,
    ROOM_FITS,
    ROOM_LEAVE_SEGMENT,   /* full, but the writer's segment is all finished */
    ROOM_FULL,
} room_state;

static room_state room_for_locked(const disk_buffer *db, uint64_t size)
{
    if (db->closed)
        return ROOM_CLOSED;
    if (db->total_bytes + size <= db->max_size)
        return ROOM_FITS;
    const segment *last = db->nsegs ? &db->segs[db->nsegs - 1] : NULL;
    if (db->writer_has_segment && last->size > 0 && last->last_id <= db->acked_id)
        return ROOM_LEAVE_SEGMENT;
    return ROOM_FULL;
}

/* QUEUE_OK once `size` bytes fit under max_size; QUEUE_DROPPED (drop_newest)
 * or QUEUE_CLOSED instead. */
static queue_result wait_for_room(disk_buffer *db, uint64_t size)
{
    for (;;) {
        pthread_mutex_lock(&db->mu);
        room_state room = room_for_locked(db, size);
        pthread_mutex_unlock(&db->mu);
        if (room == ROOM_CLOSED)
            return QUEUE_CLOSED;
        if (room == ROOM_FITS)
            return QUEUE_OK;
        sl_error err;
        if (room == ROOM_LEAVE_SEGMENT) {
            if (close_write_segment(db, &err) == 0)
                continue;
            slog_error(db->id, "%s", err.msg);
        }
        if (db->drop_newest)
            return QUEUE_DROPPED;
        /* Batches waiting for a sync hold their sources' acknowledgements:
         * release them rather than keep them hostage while blocked. */
        if (disk_buffer_sync(db, &err) < 0)
            slog_error(db->id, "%s", err.msg);
        /* Checked again under the lock, so an ack in between is not missed;
         * a segment that could not be left is retried after the wait. */
        struct timespec until = deadline_after_ms(RETRY_WAIT_MS);
        pthread_mutex_lock(&db->mu);
        room_state now = room_for_locked(db, size);
        if (now == ROOM_FULL || (now == ROOM_LEAVE_SEGMENT && room == ROOM_LEAVE_SEGMENT))
            pthread_cond_timedwait(&db->room, &db->mu, &until);
        pthread_mutex_unlock(&db->mu);
    }
}

static int remember_unsynced(disk_buffer *db, ack_group *g)
{
    if (SL_GROW(db->unsynced, db->nunsynced, db->unsynced_cap, 64) < 0)
        return -1;
    db->unsynced[db->nunsynced++] = g;
    return 0;
}

/* Appends the compressed record, retrying every second while the disk
 * refuses it. False when closed first. */
static bool append_record(disk_buffer *db, const bseg_header *h, const uint8_t *hdr)
{
    for (;;) {
        sl_error err;
        uint64_t size = BSEG_HEADER_SIZE + (uint64_t)h->length;
        if (prepare_segment(db, size, &err) == 0) {
            pthread_mutex_lock(&db->mu);
            uint64_t at = db->segs[db->nsegs - 1].size;
            uint64_t first_id = db->segs[db->nsegs - 1].first_id;
            pthread_mutex_unlock(&db->mu);
            if (bseg_append(db->wfd, at, hdr, db->compressed, h->length) == 0)
                return true;
            char path[PATH_MAX];
            dbuf_segment_path(db, first_id, path);
            sl_fail(&err, "cannot write to buffer segment %s: %s", path, strerror(errno));
        }
        slog_error(db->id, "%s; retrying in a second", err.msg);
        dbuf_count_error(db, "write_failed");
        if (!wait_unless_closed(db, &db->room, RETRY_WAIT_MS))
            return false;
    }
}

static void publish_record(disk_buffer *db, const bseg_header *h)
{
    uint64_t size = BSEG_HEADER_SIZE + (uint64_t)h->length;
    pthread_mutex_lock(&db->mu);
    segment *s = &db->segs[db->nsegs - 1];
    s->size += size;
    s->last_id = h->id;
    db->total_bytes += size;
    db->unacked_events += h->count;
    publish_gauges_locked(db);
    pthread_cond_broadcast(&db->readable);
    pthread_mutex_unlock(&db->mu);
}

/* The events are on disk now, so the batch's memory can go; only its
 * acknowledgement waits for the fsync: a reference on its ack group keeps
 * the source from hearing "delivered" before then. */
static void hold_ack_until_sync(disk_buffer *db, batch *b)
{
    ack_group *g = b->ack;
    if (g) {
        ack_group_ref(g);
        if (remember_unsynced(db, g) < 0) {
            /* Without room to remember it, make it durable now. */
            ack_group_release(g, fsync_fd(db->wfd) == 0 ? ACK_DELIVERED : ACK_ERRORED);
        }
    }
    batch_release(b, ACK_DELIVERED);
}

/* Copies of b holding its first half and the rest; b is released (the
 * copies carry its acknowledgement on). -1 on allocation failure, b
 * untouched. */
static int split_batch(batch *b, batch **first, batch **second)
{
    batch *x = batch_clone(b);
    batch *y = x ? batch_clone(b) : NULL;
    bool *keep = calloc(b->count, sizeof(*keep));
    if (!x || !y || !keep) {
        batch_release(x, ACK_DELIVERED);
        batch_release(y, ACK_DELIVERED);
        free(keep);
        return -1;
    }
    for (uint32_t i = 0; i < b->count; i++)
        keep[i] = i < b->count / 2;
    batch_compact(x, keep);
    for (uint32_t i = 0; i < b->count; i++)
        keep[i] = !keep[i];
    batch_compact(y, keep);
    free(keep);
    batch_release(b, ACK_DELIVERED);
    *first = x;
    *second = y;
    return 0;
}

/* A batch whose record could never fit in max_size goes in as two records
 * of half its events each (halved again as needed), so that a small buffer
 * under `block` loses nothing; only a single event too large is dropped. */
static queue_result write_in_halves(disk_buffer *db, batch *b)
{
    batch *first, *second;
    if (b->count < 2) {
        drop_batch(db, b, "an event is larger than the buffer's max_size");
        return QUEUE_DROPPED;
    }
    if (split_batch(b, &first, &second) < 0) {
        drop_batch(db, b, "out of memory splitting a batch larger than max_size");
        return QUEUE_DROPPED;
    }
    queue_result r1 = disk_buffer_write(db, first);
    if (r1 == QUEUE_CLOSED) {
        batch_release(second, ACK_ERRORED);
        return QUEUE_CLOSED;
    }
    queue_result r2 = disk_buffer_write(db, second);
    if (r2 == QUEUE_CLOSED)
        return QUEUE_CLOSED;
    return r1 == QUEUE_DROPPED || r2 == QUEUE_DROPPED ? QUEUE_DROPPED : QUEUE_OK;
}

queue_result disk_buffer_write(disk_buffer *db, batch *b)
{
    if (b->count == 0) {
        batch_release(b, ACK_DELIVERED);
        return QUEUE_OK;
    }
    sl_error err;
    int64_t length = encode_batch(db, b, &err);
    if (length < 0) {
        dbuf_count_error(db, "encode_failed");
        drop_batch(db, b, err.msg);
        return QUEUE_DROPPED;
    }
    uint64_t size = BSEG_HEADER_SIZE + (uint64_t)length;
    if (size > db->max_size)
        return write_in_halves(db, b);
    queue_result room = wait_for_room(db, size);
    if (room == QUEUE_DROPPED) {
        drop_batch(db, b, "the buffer is full (when_full: drop_newest)");
        return QUEUE_DROPPED;
    }
    bseg_header h = {db->next_id, (uint32_t)length, b->count, (uint32_t)db->encoded.len};
    uint8_t hdr[BSEG_HEADER_SIZE];
    bseg_frame(hdr, &h, db->compressed);
    if (room == QUEUE_CLOSED || !append_record(db, &h, hdr)) {
        batch_release(b, ACK_ERRORED);
        return QUEUE_CLOSED;
    }
    db->next_id++;
    db->needs_fsync = true;
    publish_record(db, &h);
    metrics_add(db->counters.received_events, b->count);
    metrics_add(db->counters.received_bytes, batch_json_bytes(b));
    hold_ack_until_sync(db, b);
    if (db->sync_interval_ms == 0 && disk_buffer_sync(db, &err) < 0)
        slog_error(db->id, "%s", err.msg);
    return QUEUE_OK;
}

static void release_unsynced(disk_buffer *db, ack_status status)
{
    for (size_t i = 0; i < db->nunsynced; i++)
        ack_group_release(db->unsynced[i], status);
    db->nunsynced = 0;
}

int disk_buffer_sync(disk_buffer *db, sl_error *err)
{
    if (db->needs_fsync && db->wfd >= 0 && fsync_fd(db->wfd) < 0) {
        dbuf_count_error(db, "sync_failed");
        return sl_fail(err, "cannot sync the disk buffer of %s: %s", db->id, strerror(errno));
    }
    db->needs_fsync = false;
    if (db->dir_needs_fsync && fsync_fd(db->dir_fd) < 0) {
        dbuf_count_error(db, "sync_failed");
        return sl_fail(err, "cannot sync the buffer directory %s: %s", db->dir,
                       strerror(errno));
    }
    db->dir_needs_fsync = false;
    release_unsynced(db, ACK_DELIVERED);
    db->last_sync_ns = sl_now_mono_ns();

    pthread_mutex_lock(&db->mu);
    bool dirty = db->ledger_dirty;
    uint64_t acked = db->acked_id;
    db->ledger_dirty = false;
    pthread_mutex_unlock(&db->mu);
    if (!dirty || db->ledger.fd < 0)
        return 0;
    if (buffer_ledger_save(&db->ledger, acked, err) < 0) {
        pthread_mutex_lock(&db->mu);
        db->ledger_dirty = true;
        pthread_mutex_unlock(&db->mu);
        dbuf_count_error(db, "sync_failed");
        return -1;
    }
    return 0;
}

int64_t disk_buffer_sync_due_ms(disk_buffer *db)
{
    pthread_mutex_lock(&db->mu);
    bool ledger_dirty = db->ledger_dirty;
    pthread_mutex_unlock(&db->mu);
    if (db->nunsynced == 0 && !db->needs_fsync && !ledger_dirty)
        return -1;
    int64_t elapsed_ms = (sl_now_mono_ns() - db->last_sync_ns) / 1000000;
    int64_t left = (int64_t)db->sync_interval_ms - elapsed_ms;
    return left > 0 ? left : 0;
}

void disk_buffer_writer_done(disk_buffer *db)
{
    sl_error err;
    if (disk_buffer_sync(db, &err) < 0)
        slog_error(db->id, "%s", err.msg);
    pthread_mutex_lock(&db->mu);
    db->writer_done = true;
    pthread_cond_broadcast(&db->readable);
    pthread_mutex_unlock(&db->mu);
}

/* ---- reading ---- */

/* Waits (under mu) for the pause before a rewind, or until the read's
 * deadline (has_deadline) when that comes first; false when the read timed
 * out. */
static bool wait_for_rewind_locked(disk_buffer *db, int64_t left_ns, bool has_deadline,
                                   const struct timespec *until)
{
    struct timespec at = deadline_after_ms((left_ns + 999999) / 1000000);
    bool deadline_first = has_deadline && (until->tv_sec < at.tv_sec ||
                                           (until->tv_sec == at.tv_sec &&
                                            until->tv_nsec < at.tv_nsec));
    int rc = pthread_cond_timedwait(&db->readable, &db->mu, deadline_first ? until : &at);
    return !(deadline_first && rc == ETIMEDOUT);
}

/* Goes back to the earliest record a sink released as errored. */
static void apply_rewind_locked(disk_buffer *db)
{
    uint64_t token = db->rewind_token;
    db->rewind_asked = false;
    if (!ack_ring_holds(&db->records, token) || ack_ring_finished(&db->records, token))
        return;
    uint64_t id = ack_ring_position(&db->records, token);
    if (id > db->last_read_id)
        return;
    const record_place *p = ack_ring_detail(&db->records, token);
    db->read_segment = p->segment_first;
    db->reader.offset = p->offset;
    db->last_read_id = id - 1;
}

/* The segment the reader is in, moving on to the next one when the reader
 * is at the end of a segment the writer has left; NULL when there is none. */
static segment *reading_segment_locked(disk_buffer *db)
{
    for (;;) {
        bool found;
        size_t i = find_segment_locked(db, db->read_segment, &found);
        if (!found) {
            if (i == db->nsegs)
                return NULL;
            db->read_segment = db->segs[i].first_id;
            db->reader.offset = 0;
            continue;
        }
        segment *s = &db->segs[i];
        bool writer_in_it = db->writer_has_segment && i == db->nsegs - 1;
        if (db->reader.offset < s->size || writer_in_it || i + 1 == db->nsegs)
            return s;
        db->read_segment = db->segs[i + 1].first_id;
        db->reader.offset = 0;
    }
}

typedef enum take_result {
    TAKE_DELIVER,   /* a new record, or one to read again */
    TAKE_SKIP,      /* finished already, or a stray id */
    TAKE_FAILED,    /* out of memory tracking it */
} take_result;

/* Decides what to do with record h read at (segment, at); to deliver it,
 * *token is its ack token. */
static take_result take_record_locked(disk_buffer *db, const bseg_header *h, uint64_t at,
                                      uint64_t *token)
{
    if (h->id <= db->last_read_id || h->id <= db->acked_id)
        return TAKE_SKIP;
    forget_vanished_records_locked(db, db->last_read_id, h->id);
    db->last_read_id = h->id;
    bool exact;
    uint64_t tok = ack_ring_seek(&db->records, h->id, &exact);
    if (exact) {
        *token = tok;
        return ack_ring_finished(&db->records, tok) ? TAKE_SKIP : TAKE_DELIVER;
    }
    if (tok < db->records.next)   /* a later record is handed out already */
        return TAKE_SKIP;
    record_place p = {db->read_segment, at, h->count};
    return ack_ring_add(&db->records, h->id, &p, token) == 0 ? TAKE_DELIVER : TAKE_FAILED;
}

static void log_damage(disk_buffer *db, const char *what, uint64_t segment_first,
                       uint64_t at, uint64_t skipped)
{
    char path[PATH_MAX];
    dbuf_segment_path(db, segment_first, path);
    dbuf_count_error(db, "corrupt_record");
    pthread_mutex_lock(&db->mu);
    bool loud = db->damage_logged++ < DAMAGE_LOG_LIMIT;
    pthread_mutex_unlock(&db->mu);
    slog(loud ? SLOG_WARN : SLOG_DEBUG, db->id,
         "buffer segment %s: %s at offset %" PRIu64 " (%" PRIu64 " bytes skipped)",
         path, what, at, skipped);
}

/* A batch of record h's events, its payload decompressed into the batch's
 * arena (the events' strings point there). NULL with *damaged when the
 * record does not decode; the record is then finished as rejected. */
static batch *decode_record(disk_buffer *db, const bseg_header *h, uint64_t token,
                            bool *damaged, sl_error *err)
{
    /* Every event takes at least a byte: a count beyond that is damage. */
    *damaged = h->count == 0 || h->count > h->raw_length;
    if (*damaged) {
        sl_fail(err, "it claims %" PRIu32 " events in %" PRIu32 " bytes", h->count,
                h->raw_length);
        record_acknowledged(db, token, ACK_REJECTED);
        return NULL;
    }
    ack_group *g = ack_group_new(record_acknowledged, db, token);
    if (!g) {
        sl_fail(err, "out of memory reading buffer record %" PRIu64, h->id);
        return NULL;
    }
    batch *b = batch_new(h->count > db->batch_events ? h->count : db->batch_events, g);
    if (!b) {
        /* The only reference: errored sends the reader back to the record. */
        ack_group_release(g, ACK_ERRORED);
        sl_fail(err, "out of memory reading buffer record %" PRIu64, h->id);
        return NULL;
    }
    ack_group_release(g, ACK_DELIVERED);
    char *raw = arena_alloc(b->arena, h->raw_length);
    if (!raw) {
        batch_release(b, ACK_ERRORED);
        sl_fail(err, "out of memory reading buffer record %" PRIu64, h->id);
        return NULL;
    }
    int n = LZ4_decompress_safe((const char *)db->reader.payload, raw, (int)h->length,
                                (int)h->raw_length);
    if (n != (int)h->raw_length) {
        sl_fail(err, "its payload does not decompress");
    } else {
        int64_t events = event_codec_decode(b, (const uint8_t *)raw, h->raw_length, err);
        if (events == (int64_t)h->count)
            return b;
        if (events >= 0)
            sl_fail(err, "it holds %" PRId64 " events, not %" PRIu32, events, h->count);
    }
    *damaged = true;
    batch_release(b, ACK_REJECTED);
    return NULL;
}

typedef enum step_result {
    STEP_BATCH,      /* *out holds a batch */
    STEP_NEXT,       /* nothing to hand out from this step; go on */
    STEP_FAILED,     /* out of memory: the caller backs off */
} step_result;

/* Reads the next record of the segment first_id up to limit (without the
 * lock: only the reader touches db->reader). */
static step_result read_step(disk_buffer *db, uint64_t first_id, uint64_t limit, batch **out)
{
    sl_error err;
    if (db->reader.fd < 0 || db->reader_file != first_id) {
        char path[PATH_MAX];
        dbuf_segment_path(db, first_id, path);
        uint64_t offset = db->reader.offset;
        if (bseg_reader_open(&db->reader, path, offset, &err) < 0) {
            slog_error(db->id, "%s; its records are skipped", err.msg);
            dbuf_count_error(db, "read_failed");
            db->reader.offset = limit;
            return STEP_NEXT;
        }
        db->reader_file = first_id;
    }
    bseg_header h;
    uint64_t at, skipped;
    bseg_result res = bseg_read(&db->reader, limit, &h, &at, &skipped, &err);
    if (res == BSEG_END)
        return STEP_NEXT;
    if (res == BSEG_IO_ERROR) {
        slog_error(db->id, "%s; the rest of the segment is skipped", err.msg);
        dbuf_count_error(db, "read_failed");
        db->reader.offset = limit;
        return STEP_NEXT;
    }
    if (res == BSEG_DAMAGED) {
        log_damage(db, "damaged record", first_id, at, skipped);
        return STEP_NEXT;
    }
    pthread_mutex_lock(&db->mu);
    uint64_t token = 0;
    take_result take = take_record_locked(db, &h, at, &token);
    pthread_mutex_unlock(&db->mu);
    if (take == TAKE_SKIP)
        return STEP_NEXT;
    bool damaged = false;
    batch *b = take == TAKE_DELIVER ? decode_record(db, &h, token, &damaged, &err) : NULL;
    if (b) {
        metrics_add(db->counters.sent_events, b->count);
        metrics_add(db->counters.sent_bytes, batch_json_bytes(b));
        *out = b;
        return STEP_BATCH;
    }
    if (damaged) {
        char what[SL_ERRMSG_MAX + 64];
        snprintf(what, sizeof(what), "record %" PRIu64 " is unreadable (%s)", h.id, err.msg);
        log_damage(db, what, first_id, at, BSEG_HEADER_SIZE + (uint64_t)h.length);
        return STEP_NEXT;
    }
    /* Out of memory: the record is read again on the next call. */
    slog_error(db->id, "%s", take == TAKE_FAILED ? "out of memory tracking a buffer record"
                                                 : err.msg);
    db->reader.offset = at;
    pthread_mutex_lock(&db->mu);
    db->last_read_id = h.id - 1;
    pthread_mutex_unlock(&db->mu);
    return STEP_FAILED;
}

queue_result disk_buffer_read(disk_buffer *db, batch **out, int timeout_ms)
{
    struct timespec until = deadline_after_ms(timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&db->mu);
    for (;;) {
        if (db->closed)
            break;
        if (db->rewind_asked) {
            int64_t left_ns = db->rewind_at_ns - sl_now_mono_ns();
            if (left_ns > 0) {
                /* Nothing is handed out meanwhile: it would be sent again
                 * after the rewind. */
                if (timeout_ms == 0 || !wait_for_rewind_locked(db, left_ns, timeout_ms > 0,
                                                               &until))
                    goto timed_out;
                continue;
            }
            apply_rewind_locked(db);
        }
        segment *s = reading_segment_locked(db);
        if (s && db->reader.offset < s->size) {
            uint64_t first_id = s->first_id, limit = s->size;
            pthread_mutex_unlock(&db->mu);
            step_result r = read_step(db, first_id, limit, out);
            if (r == STEP_BATCH)
                return QUEUE_OK;
            if (r == STEP_FAILED) {
                wait_unless_closed(db, &db->room, 100);
                return QUEUE_TIMEOUT;
            }
            pthread_mutex_lock(&db->mu);
            continue;
        }
        /* At the end of the last segment: nothing more comes once the
         * writer is done. */
        if (db->writer_done)
            break;
        if (timeout_ms == 0)
            goto timed_out;
        if (timeout_ms < 0)
            pthread_cond_wait(&db->readable, &db->mu);
        else if (pthread_cond_timedwait(&db->readable, &db->mu, &until) == ETIMEDOUT)
            goto timed_out;
    }
    pthread_mutex_unlock(&db->mu);
    return QUEUE_END;
timed_out:
    pthread_mutex_unlock(&db->mu);
    return QUEUE_TIMEOUT;
}

void disk_buffer_close(disk_buffer *db)
{
    pthread_mutex_lock(&db->mu);
    db->closed = true;
    pthread_cond_broadcast(&db->readable);
    pthread_cond_broadcast(&db->room);
    pthread_mutex_unlock(&db->mu);
}

void disk_buffer_free(disk_buffer *db)
{
    if (!db)
        return;
    sl_error err;
    if (db->dir_fd >= 0) {
        pthread_mutex_lock(&db->mu);
        db->ledger_dirty = true;
        pthread_mutex_unlock(&db->mu);
        if (disk_buffer_sync(db, &err) < 0) {
            slog_error(db->id, "%s; the batches written since the last sync will be sent "
                       "again by their sources", err.msg);
            release_unsynced(db, ACK_ERRORED);
        }
    }
    if (db->wfd >= 0)
        close(db->wfd);
    bseg_reader_free(&db->reader);
    buffer_ledger_close(&db->ledger);
    if (db->dir_fd >= 0)
        close(db->dir_fd);
    if (db->lock_fd >= 0)
        close(db->lock_fd);
    buf_free(&db->encoded);
    free(db->compressed);
    free(db->unsynced);
    ack_ring_free(&db->records);
    free(db->segs);
    pthread_cond_destroy(&db->room);
    pthread_cond_destroy(&db->readable);
    pthread_mutex_destroy(&db->mu);
    free(db->dir);
    free(db->id);
    free(db);
}

uint64_t disk_buffer_events(disk_buffer *db)
{
    pthread_mutex_lock(&db->mu);
    uint64_t n = db->unacked_events;
    pthread_mutex_unlock(&db->mu);
    return n;
}

uint64_t disk_buffer_bytes(disk_buffer *db)
{
    pthread_mutex_lock(&db->mu);
    uint64_t n = db->total_bytes;
    pthread_mutex_unlock(&db->mu);
    return n;
}
