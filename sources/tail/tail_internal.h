/* tail_internal.h - what the tailer's files share (see tailer.h for the
 * interface): the per-file entry, the tailer itself, and the functions one
 * file of the tailer calls in another. Nothing outside sources/tail/tail*.c
 * includes it.
 *
 * Who owns what: the tailer owns its entries (malloc'd, so pointers stay
 * put, freed by tail_entry_free or tailer_free) and each entry its path and
 * descriptor. The files divide the work:
 *   tailer.c          setup, entries, descriptors, reading (tailer_read)
 *   tail_discovery.c  fingerprints, scans, parked files' turns, inotify notes
 *   tail_checkpoint.c loading and saving the checkpoint file
 *   tail_glob.c       pattern matching with `**` (needs nothing here) */
#ifndef SLUICE_TAIL_INTERNAL_H
#define SLUICE_TAIL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sources/tail/tailer.h"
#include "sources/tail/tail_watch.h"

#define FP_MAX_BYTES (64 * 1024)   /* most bytes the checksum reads */

typedef struct entry {
    tailer_file pub;        /* fp, gen, path (owned) */
    int fd;                 /* -1: parked or checkpoint only */
    bool parked;            /* followed, waiting for a descriptor */
    bool vanished;          /* parked, and its path no longer holds it: the
                               next scan finds it elsewhere or lets it go */
    uint64_t parked_at;     /* tailer tick when it was parked: turns go in order */
    dev_t dev;
    ino_t ino;
    uint64_t offset;        /* read position */
    uint64_t position;      /* checkpoint */
    uint64_t size;          /* as the last scan saw it */
    int64_t modified;       /* mtime, unix seconds */
    int64_t born_ns;        /* mtime when this run found it: oldest_first's order */
    int64_t last_seen;      /* wall seconds of the last scan that found it */
    bool seen;              /* found by the scan in progress */
    bool gone;              /* not found by the last scan: close at EOF */
    bool discarding;        /* inside a line longer than max_line_bytes */
    bool fp_pending;        /* started over before it had a first line again */
} entry;

struct tailer {
    tailer_options o;
    char **include, **exclude;
    char *delimiter;
    char *ckpt_path;
    entry **e;
    size_t n, cap;
    size_t cursor;
    size_t nopen;           /* entries holding a descriptor */
    size_t nparked;         /* entries waiting for one */
    uint64_t tick;          /* counts parkings */
    bool scanned;           /* the first scan has run */
    bool dirty;
    char *fpbuf;
    tail_watch *watch;
    uint64_t discarded, truncated, read_errors;
};

static inline bool followed(const entry *e)
{
    return e->fd >= 0 || e->parked;
}

/* ---- tailer.c ---- */

/* Frees e, its path and a descriptor it still holds; the open-file count is
 * not touched, so a followed entry is stopped first. */
void tail_entry_free(entry *e);
/* A new entry (not followed yet) for fingerprint fp at a copy of path,
 * appended to t's list; NULL on allocation failure. */
entry *tail_entry_add(tailer *t, uint64_t fp, const char *path);
entry *tail_find_fp(const tailer *t, uint64_t fp);
/* Replaces e's path by a copy of path; -1 on allocation failure. */
int tail_set_path(entry *e, const char *path);
/* e reads through fd from now on (the tailer owns fd). */
void tail_attach_fd(tailer *t, entry *e, int fd);
/* Whether max_open_files leaves room for another descriptor. */
bool tail_descriptor_free(const tailer *t);
/* e keeps being followed without its descriptor until its turn comes. */
void tail_park(tailer *t, entry *e);
/* e stops being followed for good (why goes to the log). */
void tail_stop_following(tailer *t, entry *e, const char *why);
/* The next delimiter in p[0..n), or NULL. */
const char *tail_find_delim(const tailer *t, const char *p, size_t n);

/* ---- tail_discovery.c ---- */

/* e starts over from the start with fingerprint fp (why goes to the log). */
void tail_restart_entry(tailer *t, entry *e, uint64_t fp, const char *why);
/* Counts and logs a failure to `what` (open, read, ...) path, from errno. */
void tail_read_error(tailer *t, const char *path, const char *what);
/* The parked file whose turn is next among those parked by tick parked_by. */
entry *tail_next_parked(const tailer *t, uint64_t parked_by);
/* Gives a parked file its descriptor back; false when it can't be had. */
bool tail_unpark(tailer *t, entry *e);
/* Hands free descriptors to the parked files whose turn it is. */
void tail_fill_free_descriptors(tailer *t);

#endif
