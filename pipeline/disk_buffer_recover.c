/* disk_buffer_recover.c - opening a disk buffer's directory at start: the
 * lock that keeps a second process out, the ledger, and a scan of every
 * segment that cuts a torn tail off the last one (a crash while writing),
 * drops files with no intact record, and finds where reading resumes and
 * the next record id. Damage is counted and logged, never fatal: what can
 * be read is read. */
#include "pipeline/disk_buffer_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pipeline/log.h"

static int lock_directory(disk_buffer *db, sl_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/lock", db->dir);
    db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lock_fd < 0)
        return sl_fail(err, "cannot open %s: %s", path, strerror(errno));
    if (flock(db->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return sl_fail(err, "the disk buffer directory %s is in use by another sluice "
                           "process (or another sink with the same buffer directory)", db->dir);
        return sl_fail(err, "cannot lock %s: %s", path, strerror(errno));
    }
    return 0;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first ids of the segment files in the directory, sorted. */
static int list_segment_files(disk_buffer *db, uint64_t **ids, size_t *n, sl_error *err)
{
    DIR *d = opendir(db->dir);
    if (!d)
        return sl_fail(err, "cannot read the buffer directory %s: %s", db->dir, strerror(errno));
    uint64_t *v = NULL;
    size_t len = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        uint64_t first;
        if (!bseg_parse_file_name(e->d_name, &first))
            continue;
        if (SL_GROW(v, len, cap, 16) < 0) {
            rc = sl_fail(err, "out of memory listing the buffer directory");
            break;
        }
        v[len++] = first;
    }
    closedir(d);
    if (rc < 0) {
        free(v);
        return -1;
    }
    if (len > 1)
        qsort(v, len, sizeof(*v), compare_u64);
    *ids = v;
    *n = len;
    return 0;
}

static void remove_empty_segment(disk_buffer *db, const char *path, uint64_t size)
{
    if (size > 0) {
        slog_warn(db->id, "buffer segment %s holds no intact record (%" PRIu64
                  " bytes); removed", path, size);
        dbuf_count_error(db, "corrupt_record");
    }
    if (unlink(path) < 0 && errno != ENOENT)
        slog_error(db->id, "cannot remove buffer segment %s: %s", path, strerror(errno));
}

static void report_scan(disk_buffer *db, const char *path, const bseg_scan_result *r)
{
    if (r->truncated) {
        slog_warn(db->id, "buffer segment %s ended in a partly written record (a crash "
                  "while writing); cut %" PRIu64 " bytes at offset %" PRIu64,
                  path, r->truncated, r->size);
        dbuf_count_error(db, "torn_tail");
    }
    if (r->damaged)
        slog_info(db->id, "buffer segment %s has %" PRIu64 " damaged region(s); their "
                  "records will be skipped", path, r->damaged);
}

/* Scans every segment: cuts a torn tail off the last one, drops files with
 * no record, and finds where reading resumes and the next record id. */
static int recover_segments(disk_buffer *db, sl_error *err)
{
    uint64_t *ids = NULL;
    size_t n = 0;
    if (list_segment_files(db, &ids, &n, err) < 0)
        return -1;
    uint64_t max_id = db->acked_id;
    bool resume_set = false;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[PATH_MAX];
        dbuf_segment_path(db, ids[i], path);
        bseg_scan_result r;
        if (bseg_scan(path, db->acked_id, i == n - 1, &r, err) < 0) {
            rc = -1;
            break;
        }
        report_scan(db, path, &r);
        if (r.records == 0) {
            remove_empty_segment(db, path, r.size);
            continue;
        }
        if (dbuf_append_segment_locked(db, ids[i]) < 0) {
            rc = sl_fail(err, "out of memory recovering the disk buffer");
            break;
        }
        segment *s = &db->segs[db->nsegs - 1];
        s->last_id = r.last_id;
        s->size = r.size;
        db->total_bytes += r.size;
        db->unacked_events += r.pending_events;
        if (r.last_id > max_id)
            max_id = r.last_id;
        if (ids[i] > max_id)
            max_id = ids[i];
        if (!resume_set && r.resume_offset < r.size) {
            db->read_segment = ids[i];
            db->reader.offset = r.resume_offset;
            resume_set = true;
        }
    }
    free(ids);
    if (rc < 0)
        return -1;
    db->next_id = max_id + 1;
    db->last_read_id = db->acked_id;
    dbuf_delete_finished_segments_locked(db);
    return 0;
}

static int open_ledger(disk_buffer *db, ledger_state *state, sl_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ledger", db->dir);
    if (buffer_ledger_open(&db->ledger, path, state, err) < 0)
        return -1;
    if (*state == LEDGER_CORRUPT) {
        slog_warn(db->id, "the buffer ledger %s is damaged; reading resumes at the oldest "
                  "record (some may be sent again)", path);
        dbuf_count_error(db, "ledger_corrupt");
    }
    db->acked_id = db->ledger.acked_id;
    return 0;
}

static int open_directory(disk_buffer *db, sl_error *err)
{
    if (sl_mkdir_p(db->dir) < 0)
        return sl_fail(err, "cannot create the buffer directory %s: %s", db->dir,
                       strerror(errno));
    if (lock_directory(db, err) < 0)
        return -1;
    db->dir_fd = open(db->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (db->dir_fd < 0)
        return sl_fail(err, "cannot open the buffer directory %s: %s", db->dir,
                       strerror(errno));
    return 0;
}

/* Locks the directory, reads the ledger and scans the segments: where
 * reading resumes and the next record id. */
int dbuf_recover(disk_buffer *db, sl_error *err)
{
    ledger_state ledger;
    if (open_directory(db, err) < 0 || open_ledger(db, &ledger, err) < 0 ||
        recover_segments(db, err) < 0)
        return -1;
    if (ledger == LEDGER_MISSING && db->nsegs > 0) {
        slog_warn(db->id, "the buffer in %s has no ledger; reading resumes at the oldest "
                  "record (some may be sent again)", db->dir);
        dbuf_count_error(db, "ledger_missing");
    }
    return 0;
}
