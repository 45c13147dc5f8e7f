/* tailer.c - see tailer.h; the tailer's own parts: setup, entries,
 * descriptors and reading (tail_internal.h says which file does what).
 *
 * Every file ever fingerprinted has an entry (malloc'd, so pointers stay
 * put). A followed entry is open (being read) or parked: waiting without a
 * descriptor for its turn under max_open_files, with its identity (dev,
 * inode) and position kept. Other entries only remember a checkpoint and are
 * forgotten after FORGET_SECS (tail_discovery.c) without being seen. Reads
 * use pread() at the file's position, so nothing is buffered per file: a
 * partial last line is simply read again, and parking a file costs nothing
 * but the descriptor.
 *
 * Lookups are linear scans, fine for the hundreds of files a node holds. */
#include "sources/tail/tail_internal.h"
#include "pipeline/log.h"
#include "pipeline/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *tail_find_delim(const tailer *t, const char *p, size_t n)
{
    if (t->o.delimiter_len == 1)
        return memchr(p, t->delimiter[0], n);
    return memmem(p, n, t->delimiter, t->o.delimiter_len);
}

/* ---------------------------------------------------------------- setup */

static char **copy_list(char *const *src, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof(*out));
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = strdup(src[i]))) {
            while (i--)
                free(out[i]);
            free(out);
            return NULL;
        }
    return out;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

void tail_entry_free(entry *e)
{
    if (!e)
        return;
    if (e->fd >= 0)
        close(e->fd);
    free((char *)e->pub.path);
    free(e);
}

void tailer_free(tailer *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (followed(t->e[i]) && t->o.file_closed)
            t->o.file_closed(t->o.ud, &t->e[i]->pub);
        tail_entry_free(t->e[i]);
    }
    free(t->e);
    tail_watch_free(t->watch);
    free_list(t->include, t->o.ninclude);
    free_list(t->exclude, t->o.nexclude);
    free(t->delimiter);
    free(t->ckpt_path);
    free(t->fpbuf);
    free(t);
}

tailer *tailer_new(const tailer_options *o, const char *checkpoint_path, sl_error *err)
{
    if (o->delimiter_len == 0 || o->fingerprint_lines == 0) {
        sl_fail(err, "tailer: empty line delimiter or no fingerprint lines");
        return NULL;
    }
    tailer *t = calloc(1, sizeof(*t));
    if (!t) {
        sl_fail(err, "out of memory");
        return NULL;
    }
    t->o = *o;
    t->include = copy_list(o->include, o->ninclude);
    t->exclude = copy_list(o->exclude, o->nexclude);
    t->delimiter = malloc(o->delimiter_len);
    t->ckpt_path = checkpoint_path ? strdup(checkpoint_path) : NULL;
    t->fpbuf = malloc(FP_MAX_BYTES);
    t->watch = tail_watch_new(o->log_id);
    if (!t->include || !t->exclude || !t->delimiter || !t->fpbuf || !t->watch ||
        (checkpoint_path && !t->ckpt_path)) {
        tailer_free(t);
        sl_fail(err, "out of memory");
        return NULL;
    }
    memcpy(t->delimiter, o->delimiter, o->delimiter_len);
    t->o.include = t->include;
    t->o.exclude = t->exclude;
    t->o.delimiter = t->delimiter;
    t->o.log_id = o->log_id;
    return t;
}

entry *tail_entry_add(tailer *t, uint64_t fp, const char *path)
{
    if (SL_GROW(t->e, t->n, t->cap, 16) < 0)
        return NULL;
    entry *e = calloc(1, sizeof(*e));
    char *p = strdup(path);
    if (!e || !p) {
        free(e);
        free(p);
        return NULL;
    }
    e->pub.fp = fp;
    e->pub.path = p;
    e->fd = -1;
    e->last_seen = (int64_t)time(NULL);
    t->e[t->n++] = e;
    return e;
}

entry *tail_find_fp(const tailer *t, uint64_t fp)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i]->pub.fp == fp)
            return t->e[i];
    return NULL;
}

int tail_set_path(entry *e, const char *path)
{
    if (strcmp(e->pub.path, path) == 0)
        return 0;
    char *p = strdup(path);
    if (!p)
        return -1;
    free((char *)e->pub.path);
    e->pub.path = p;
    return 0;
}

/* ----------------------------------------------------------- descriptors */

void tail_attach_fd(tailer *t, entry *e, int fd)
{
    if (e->parked)
        t->nparked--;
    e->fd = fd;
    e->parked = false;
    t->nopen++;
}

static void release_fd(tailer *t, entry *e)
{
    close(e->fd);
    e->fd = -1;
    t->nopen--;
}

bool tail_descriptor_free(const tailer *t)
{
    return t->o.max_open_files == 0 || t->nopen < t->o.max_open_files;
}

/* e waits for a descriptor; the position and the caller's state stay. */
void tail_park(tailer *t, entry *e)
{
    if (e->fd >= 0)
        release_fd(t, e);
    t->nparked += !e->parked;
    e->parked = true;
    e->vanished = false;
    e->parked_at = ++t->tick;
}

/* The file stops being followed for good. The one place, besides
 * tailer_free(), that calls file_closed: parking never does. */
void tail_stop_following(tailer *t, entry *e, const char *why)
{
    slog_debug(t->o.log_id, "Stopped watching file %s (%s).", e->pub.path, why);
    if (e->fd >= 0)
        release_fd(t, e);
    t->nparked -= e->parked;
    e->parked = false;
    e->vanished = false;
    e->gone = false;
    e->discarding = false;
    if (t->o.file_closed)
        t->o.file_closed(t->o.ud, &e->pub);
    e->pub.user = NULL;
}

/* --------------------------------------------------------------- reading */

/* At the end of what e holds: starts over after a truncation, stops
 * following a deleted file or one that left the patterns. */
static void at_eof(tailer *t, entry *e)
{
    struct stat st;
    if (fstat(e->fd, &st) < 0) {
        tail_read_error(t, e->pub.path, "stat");
        tail_stop_following(t, e, "stat failed");
        return;
    }
    e->modified = (int64_t)st.st_mtime;
    if ((uint64_t)st.st_size < e->offset) {
        uint64_t fp = e->pub.fp;
        bool pending = t->o.fingerprint == TAILER_FP_CHECKSUM &&
                       tailer_fingerprint_fd(t, e->fd, &fp) != 1;
        entry *other = pending ? NULL : tail_find_fp(t, fp);
        if (other && other != e)
            fp = e->pub.fp;   /* keep one entry per fingerprint */
        tail_restart_entry(t, e, fp, "was truncated");
        e->fp_pending = pending;
    } else if (st.st_nlink == 0) {
        tail_stop_following(t, e, "deleted");
    } else if (e->gone) {
        tail_stop_following(t, e, "no longer matches the include patterns");
    }
}

typedef struct chunk_result {
    size_t consumed;
    uint32_t lines;
    int stop;
} chunk_result;

/* A line longer than max_line_bytes, starting at file offset `start`: its
 * head is passed on when the tailer truncates, or it is counted as
 * discarded. When its delimiter hasn't been seen yet (complete false) the
 * rest is then skipped like a discarded line's, and the head's end is the
 * checkpoint: a restart before the delimiter would read the rest as a
 * line. */
static void take_long_line(tailer *t, entry *e, const char *p, size_t len, uint64_t start,
                           bool complete, tailer_line_fn fn, void *ud, chunk_result *r)
{
    if (!t->o.truncate_long_lines) {
        t->discarded++;
        return;
    }
    size_t cut = utf8_cut(p, len, t->o.max_line_bytes);
    uint64_t end = complete ? start + len + t->o.delimiter_len : start + cut;
    t->truncated++;
    r->lines++;
    r->stop = fn(ud, &e->pub, p, cut, end);
}

static void take_lines(tailer *t, entry *e, const char *buf, size_t n, uint32_t max_lines,
                       tailer_line_fn fn, void *ud, chunk_result *r)
{
    size_t dl = t->o.delimiter_len;
    while (r->consumed < n && r->lines < max_lines && !r->stop) {
        const char *p = buf + r->consumed;
        size_t left = n - r->consumed;
        const char *d = tail_find_delim(t, p, left);
        if (!d) {
            if (left > t->o.max_line_bytes || e->discarding) {
                /* The line already exceeds the limit: skip what is here,
                 * and the rest of it up to the next delimiter. */
                if (!e->discarding)
                    take_long_line(t, e, p, left, e->offset + r->consumed, false, fn, ud, r);
                e->discarding = true;
                /* Keep a possible partial delimiter for the next read. */
                size_t skip = left > dl - 1 ? left - (dl - 1) : 0;
                r->consumed += skip;
            }
            return;
        }
        size_t len = (size_t)(d - p);
        r->consumed += len + dl;
        if (e->discarding) {
            e->discarding = false;
            continue;
        }
        if (len > t->o.max_line_bytes) {
            take_long_line(t, e, p, len, e->offset + r->consumed - len - dl, true, fn, ud, r);
            continue;
        }
        r->lines++;
        r->stop = fn(ud, &e->pub, p, len, e->offset + r->consumed);
    }
}

/* One chunk of the open file e: 1 when lines (or a skipped part of one)
 * were consumed, 0 when e had none (e may have stopped being followed). */
static int read_chunk(tailer *t, entry *e, char *buf, size_t cap, uint32_t max_lines,
                      tailer_line_fn fn, void *ud, size_t *consumed)
{
    ssize_t n;
    do
        n = pread(e->fd, buf, cap, (off_t)e->offset);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        tail_read_error(t, e->pub.path, "read");
        tail_stop_following(t, e, "read failed");
        return 0;
    }
    chunk_result r = {0, 0, 0};
    if (n > 0)
        take_lines(t, e, buf, (size_t)n, max_lines, fn, ud, &r);
    if (r.consumed == 0) {
        at_eof(t, e);
        return 0;
    }
    e->offset += r.consumed;
    if (t->o.auto_commit) {
        e->position = e->offset;
        t->dirty = true;
    }
    *consumed = r.consumed;
    return 1;
}

/* e has nothing to read now. If files parked by tick parked_by wait, e
 * gives its descriptor to the next of them (if e still has one), and that
 * file is returned, to be read at once. Only files parked before the read
 * began take turns in it, so a read passes each file once at most. */
static entry *give_turn(tailer *t, entry *e, uint64_t parked_by)
{
    if (e->fd >= 0 && tail_next_parked(t, parked_by))
        tail_park(t, e);
    entry *next = NULL;
    while (tail_descriptor_free(t) && (next = tail_next_parked(t, parked_by)) && !tail_unpark(t, next))
        next = NULL;
    tail_fill_free_descriptors(t);
    return next;
}

int tailer_read(tailer *t, char *buf, size_t cap, uint32_t max_lines,
                tailer_line_fn fn, void *ud, size_t *consumed)
{
    *consumed = 0;
    if (cap <= t->o.max_line_bytes + t->o.delimiter_len)
        return -1;
    uint64_t parked_by = t->tick;
    for (size_t tries = 0; tries < t->n; tries++) {
        entry *e;
        if (t->o.oldest_first) {
            e = t->e[tries];   /* sorted by the scan */
        } else {
            e = t->e[t->cursor];
            t->cursor = (t->cursor + 1) % t->n;
        }
        while (e && e->fd >= 0) {
            if (read_chunk(t, e, buf, cap, max_lines, fn, ud, consumed))
                return 1;
            e = give_turn(t, e, parked_by);
        }
    }
    return 0;
}

size_t tailer_open_files(const tailer *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->e[i]->fd >= 0;
    return n;
}

size_t tailer_files(const tailer *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += followed(t->e[i]);
    return n;
}

uint64_t tailer_discarded_lines(const tailer *t)
{
    return t->discarded;
}

uint64_t tailer_truncated_lines(const tailer *t)
{
    return t->truncated;
}

uint64_t tailer_read_errors(const tailer *t)
{
    return t->read_errors;
}
