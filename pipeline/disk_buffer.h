/* disk_buffer.h - a sink's input buffer on disk (`buffer.type: disk`).
 *
 * Batches on their way to a sink are appended as records to segment files
 * under one directory (<data_dir>/buffer/<sink_id>/), so they survive a sink
 * outage and a crash. A record is one batch:
 *
 *   [magic][length][event count][raw length][record id][crc32c][lz4 payload]
 *
 * the payload being the batch's events in event_codec form, and the crc
 * covering the header fields after the magic and the payload, so a damaged
 * length is caught too and the reader resynchronises by scanning for the
 * next magic whose record checks out. A small ledger file records the
 * acknowledged read position.
 *
 * Threads: one writer (the buffer's writer thread, disk_buffer_writer.c) calls
 * write/sync/writer_done; one reader (the sink's thread) calls read; the
 * acknowledgements of batches read come from whichever thread releases them;
 * close may be called from any thread. The buffer owns its files; a batch
 * written is freed at once, its acknowledgement held until the fsync.
 *
 * Guarantees:
 * - A written batch is released upstream (as delivered, so its source may
 *   checkpoint) only after the record is fsynced: by disk_buffer_sync, on
 *   the sync interval, or at the final sync in disk_buffer_free.
 * - A record is removed (its segment deleted once every record in it is)
 *   only after the batch read from it was released by the sink as delivered
 *   or rejected. A batch released as errored (the sink gave up for now, or
 *   was stopped) is read again: the ledger never moves past it, and the
 *   reader goes back to it, reading again the records after it that are
 *   not finished either (at-least-once: a sink may see a batch twice). On
 *   restart reading starts at the first record the ledger does not cover.
 * - Opening recovers: a torn record at the end of the last segment is
 *   truncated away; a corrupt record anywhere is skipped, counted in
 *   buffer_errors_total and logged with the segment and offset, and reading
 *   resumes at the next intact record; a missing or corrupt ledger starts
 *   from the oldest record (duplicates, never loss). Opening fails only when
 *   the directory can't be created or used, or another process holds it.
 * - The segment files never hold more than max_size bytes together: the
 *   writer blocks (when_full: block) or drops the batch (drop_newest, as
 *   delivered, counted in buffer_discarded_events_total) while the next
 *   record doesn't fit. A write that fails (ENOSPC, EIO) is undone, logged
 *   and counted, and retried every second until it succeeds or the buffer
 *   is closed: the sink's input blocks, nothing is lost.
 * - Segments roll over at max_size / 8, at least 64 KiB and at most
 *   128 MiB; a record is at most 64 MiB compressed and 256 MiB encoded (a
 *   batch beyond that is dropped, logged). A batch whose record would be
 *   larger than max_size is written as several records of part of its
 *   events each; only a single event that can't fit is dropped. The ledger is written at each
 *   sync when the acknowledged position moved, and at free.
 *
 * Metrics (on the sink's component labels, registered by open):
 * buffer_size_events and buffer_size_bytes (the component's gauges: events
 * written and not yet acknowledged, and the bytes of segment files on disk),
 * buffer_received_events_total, buffer_received_event_bytes_total,
 * buffer_sent_events_total, buffer_sent_event_bytes_total (estimated JSON
 * bytes), buffer_discarded_events_total, buffer_errors_total{error_code}
 * with codes
 * corrupt_record, torn_tail, ledger_corrupt, ledger_missing, write_failed,
 * read_failed, sync_failed, encode_failed, delete_failed. */
#ifndef SLUICE_DISK_BUFFER_H
#define SLUICE_DISK_BUFFER_H

#include <stdbool.h>
#include <stdint.h>
#include "pipeline/batch.h"
#include "pipeline/metrics.h"
#include "pipeline/queue.h"

typedef struct disk_buffer disk_buffer;

typedef struct disk_buffer_options {
    const char *dir;                 /* created when missing (parents too) */
    const char *id;                  /* the sink's id, for logs */
    uint64_t max_size;               /* bytes the segment files may take */
    uint32_t sync_interval_ms;       /* 0: fsync after every write */
    bool drop_newest;                /* when_full: drop_newest, else block */
    uint32_t batch_events;           /* capacity of the batches read back */
    const component_metrics *metrics;   /* the sink's; NULL in unit tests */
} disk_buffer_options;

/* Opens the buffer in o->dir and recovers what a previous run left there.
 * -1 (err) when the directory can't be created, locked (another sluice
 * uses it: the message says so) or read, or on allocation failure. */
int disk_buffer_open(const disk_buffer_options *o, disk_buffer **out, sl_error *err);

/* Writer: appends b as one record (or several, see above) and takes
 * ownership of b. QUEUE_OK when written (b is released after the next
 * sync), QUEUE_DROPPED when the buffer was full under drop_newest or some
 * of b's events can never fit in max_size (released as delivered, counted
 * in buffer_discarded_events_total and the component's
 * component_discarded_events_total{intentional="true"}, logged),
 * QUEUE_CLOSED when the buffer was closed while waiting for room (b
 * released as errored). Blocks while the buffer is full (block) or a write
 * keeps failing. With sync_interval_ms 0 it syncs before returning. */
queue_result disk_buffer_write(disk_buffer *db, batch *b);

/* Writer: fsyncs what was written since the last sync, releases the
 * batches written before it, then writes the ledger when acknowledgements
 * moved it. A no-op when nothing changed.
 * -1 (err) when fsync failed: the batches stay unreleased and the next call
 * tries again. */
int disk_buffer_sync(disk_buffer *db, sl_error *err);

/* Writer: milliseconds until a sync is due (0: now), or -1 when nothing
 * waits for one (no unsynced write, no acknowledgement since the ledger was
 * last written). A writer idle on its queue should wait at most this long,
 * so that the ledger follows the sink while no new batch comes. */
int64_t disk_buffer_sync_due_ms(disk_buffer *db);

/* Writer: no more writes. Syncs; the reader gets QUEUE_END once it has read
 * every record. */
void disk_buffer_writer_done(disk_buffer *db);

/* Reader: the next batch, decoded from the next intact record, with an ack
 * group of the buffer's (released by the sink through sink_done as usual).
 * QUEUE_OK with *out, QUEUE_TIMEOUT when nothing came within timeout_ms
 * (< 0 waits for ever), or QUEUE_END after writer_done and the last record,
 * or once closed. */
queue_result disk_buffer_read(disk_buffer *db, batch **out, int timeout_ms);

/* Shutdown timeout: wakes a blocked writer (QUEUE_CLOSED) and the reader
 * (QUEUE_END). What is on disk stays for the next run. */
void disk_buffer_close(disk_buffer *db);

/* Syncs, releases what was written, writes the ledger and frees. Batches the
 * sink still holds must have been released first. NULL is fine. */
void disk_buffer_free(disk_buffer *db);

/* Events written and not yet acknowledged, and bytes of segment files. */
uint64_t disk_buffer_events(disk_buffer *db);
uint64_t disk_buffer_bytes(disk_buffer *db);

#endif
