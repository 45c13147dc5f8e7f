/* disk_buffer_internal.h - what the files of the disk buffer share
 * (disk_buffer.c: writing, reading, acknowledgements; disk_buffer_recover.c:
 * opening at start). Only they include it; everyone else uses
 * disk_buffer.h. The struct's fields are guarded as marked: shared ones by
 * mu, the writer's and the reader's by their own threads. */
#ifndef SLUICE_DISK_BUFFER_INTERNAL_H
#define SLUICE_DISK_BUFFER_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pipeline/ack.h"
#include "pipeline/buf.h"
#include "pipeline/buffer_kind.h"
#include "pipeline/buffer_ledger.h"
#include "pipeline/buffer_segment.h"
#include "pipeline/disk_buffer.h"

typedef struct segment {
    uint64_t first_id;   /* its name */
    uint64_t last_id;    /* of its last record; 0 while it has none */
    uint64_t size;       /* bytes written and readable */
} segment;

/* Where a record the reader handed out lies, kept with it in the ack ring
 * (where its position is the record id) until it is finished. */
typedef struct record_place {
    uint64_t segment_first;
    uint64_t offset;
    uint32_t count;
} record_place;

struct disk_buffer {
    char *dir;
    char *id;
    uint64_t max_size;
    uint64_t segment_target;
    uint32_t sync_interval_ms;
    uint32_t batch_events;
    bool drop_newest;
    const component_metrics *metrics;
    buffer_counters counters;
    int lock_fd;
    int dir_fd;
    buffer_ledger ledger;

    pthread_mutex_t mu;
    pthread_cond_t readable;   /* a record, writer_done, a rewind or close */
    pthread_cond_t room;       /* space freed, or close */

    /* Shared, under mu. */
    segment *segs;             /* in record order */
    size_t nsegs, segs_cap;
    bool writer_has_segment;   /* segs[nsegs - 1] is being appended to */
    uint64_t total_bytes;
    uint64_t unacked_events;
    ack_ring records;          /* handed out, by record id; tokens are their
                                  batches' ack tokens */
    uint64_t acked_id;
    uint64_t rewind_token;     /* the earliest record released as errored */
    bool rewind_asked;
    int64_t rewind_at_ns;      /* when the reader may go back to it */
    unsigned errored_in_row;   /* errored releases since a record was last
                                  finished: the pause before going back
                                  grows with them */
    bool ledger_dirty;
    bool writer_done;
    bool closed;
    unsigned damage_logged;

    /* The writer's. */
    int wfd;
    uint64_t next_id;
    buf encoded;
    char *compressed;
    size_t compressed_cap;
    ack_group **unsynced;      /* of the batches written since the last sync */
    size_t nunsynced, unsynced_cap;
    bool needs_fsync;
    bool dir_needs_fsync;
    int64_t last_sync_ns;

    /* The reader's. */
    bseg_reader reader;
    uint64_t read_segment;     /* first id of the segment read */
    uint64_t reader_file;      /* first id of the segment open in reader (fd >= 0) */
    uint64_t last_read_id;
};

/* <dir>/<segment file name of first_id> */
void dbuf_segment_path(const disk_buffer *db, uint64_t first_id, char out[PATH_MAX]);
/* Counts buffer_errors_total{error_code=code} on the sink's labels. */
void dbuf_count_error(disk_buffer *db, const char *code);
/* Appends a segment named first_id to the list: 0, or -1 out of memory. */
int dbuf_append_segment_locked(disk_buffer *db, uint64_t first_id);
/* Deletes the segments whose records are all finished and that the writer
 * has left. */
void dbuf_delete_finished_segments_locked(disk_buffer *db);

/* disk_buffer_recover.c: locks the directory, reads the ledger and scans
 * the segments. 0, or -1 (err). */
int dbuf_recover(disk_buffer *db, sl_error *err);

#endif
