/* tail_discovery.c - how the tailer finds files and learns they changed:
 * fingerprints, scans, parked files' turns, and inotify notes (see
 * tailer.h, tail_internal.h).
 *
 * Discovery uses glob(3) for patterns without `**` and a directory walk for
 * the others; each scan also names the directories to watch with inotify
 * (tail_watch.c), so the caller can wake on changes instead of polling. */
#include "sources/tail/tail_internal.h"
#include "pipeline/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define FP_FIRST_BYTES 4096        /* what the checksum reads first */
#define FORGET_SECS 3600           /* closed entries not seen for this long go */
#define WALK_MAX_DEPTH 32

static bool excluded(const tailer *t, const char *path)
{
    for (size_t i = 0; i < t->o.nexclude; i++)
        if (tailer_glob_match(t->exclude[i], path))
            return true;
    return t->o.accept && !t->o.accept(t->o.accept_ud, path);
}

/* ---------------------------------------------------------- fingerprints */

static uint64_t devino_fp(dev_t dev, ino_t ino)
{
    /* A 64-bit mix: dev and inode both matter, and the result is stable. */
    uint64_t x = ((uint64_t)dev << 40) ^ (uint64_t)ino;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

int tailer_fingerprint_fd(const tailer *t, int fd, uint64_t *fp)
{
    if (t->o.fingerprint == TAILER_FP_DEVICE_AND_INODE) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            return -1;
        *fp = devino_fp(st.st_dev, st.st_ino);
        return 1;
    }
    /* Reads a little first: a rescan fingerprints every open file. */
    for (size_t want = FP_FIRST_BYTES;; want = FP_MAX_BYTES) {
        ssize_t n;
        do
            n = pread(fd, t->fpbuf, want, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return -1;
        size_t at = 0;
        uint32_t i = 0;
        for (; i < t->o.fingerprint_lines; i++) {
            const char *d = tail_find_delim(t, t->fpbuf + at, (size_t)n - at);
            if (!d)
                break;
            at = (size_t)(d - t->fpbuf) + t->o.delimiter_len;
        }
        if (i < t->o.fingerprint_lines) {
            if ((size_t)n < want)
                return 0;
            if (want < FP_MAX_BYTES)
                continue;
            at = (size_t)n;   /* huge first lines: their first bytes do */
        }
        *fp = crc32(0L, (const Bytef *)t->fpbuf, (uInt)at);
        return 1;
    }
}

/* ------------------------------------------------------------- discovery */

void tail_restart_entry(tailer *t, entry *e, uint64_t fp, const char *why)
{
    slog_info(t->o.log_id, "File %s %s; reading it again from the start.", e->pub.path, why);
    e->pub.fp = fp;
    e->pub.gen++;
    e->offset = 0;
    e->position = 0;
    e->discarding = false;
    e->fp_pending = false;
    t->dirty = true;
}

void tail_read_error(tailer *t, const char *path, const char *what)
{
    t->read_errors++;
    slog_error(t->o.log_id, "Failed to %s file %s: %s", what, path, strerror(errno));
}

/* A scan no longer finds a parked file: without a descriptor, what it held
 * beyond the read position can't be read any more. */
static void lose_parked(tailer *t, entry *e, const char *how)
{
    if (e->size > e->offset)
        slog_warn(t->o.log_id, "File %s %s while waiting for a descriptor (max_open_files); "
                  "its unread rest (at least %" PRIu64 " bytes) could not be read.",
                  e->pub.path, how, e->size - e->offset);
    tail_stop_following(t, e, how);
}

/* With checksums, a file rewritten in place gets another fingerprint and
 * is read again from the start. */
static void check_fingerprint(tailer *t, entry *e)
{
    uint64_t fp;
    if (t->o.fingerprint != TAILER_FP_CHECKSUM || tailer_fingerprint_fd(t, e->fd, &fp) != 1)
        return;
    if (e->fp_pending) {
        /* Truncated while empty: what it holds now is read from the start
         * already, only the fingerprint was missing. */
        e->fp_pending = false;
        entry *other = tail_find_fp(t, fp);
        if (other && other != e && !followed(other)) {
            other->pub.fp = ~fp;   /* an old checkpoint of that content goes */
            other->last_seen = 0;
            other = NULL;
        }
        if (fp != e->pub.fp && !other) {
            e->pub.fp = fp;
            t->dirty = true;
        }
        return;
    }
    if (fp != e->pub.fp) {
        entry *other = tail_find_fp(t, fp);
        if (other && other != e && !followed(other)) {
            /* Keep one entry per fingerprint: the old checkpoint goes. */
            other->pub.fp = ~fp;
            other->last_seen = 0;
        }
        tail_restart_entry(t, e, fp, "was replaced");
    }
}

/* A followed file found again, perhaps under another name. A parked one is
 * not fingerprinted: that waits until it is reopened. */
static void found_again(tailer *t, entry *e, const char *path, const struct stat *st)
{
    e->seen = true;
    e->gone = false;
    e->vanished = false;
    e->last_seen = (int64_t)time(NULL);
    e->size = (uint64_t)st->st_size;
    if (strcmp(e->pub.path, path) != 0) {
        slog_debug(t->o.log_id, "File %s was renamed to %s.", e->pub.path, path);
        if (tail_set_path(e, path) == 0)
            t->dirty = true;
    }
    if (e->fd >= 0)
        check_fingerprint(t, e);
}

static entry *find_followed_inode(const tailer *t, dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < t->n; i++) {
        entry *e = t->e[i];
        if (followed(e) && e->dev == dev && e->ino == ino)
            return e;
    }
    return NULL;
}

/* oldest_first's order: modification time at discovery, then path. */
static int read_order(const entry *a, const entry *b)
{
    if (a->born_ns != b->born_ns)
        return a->born_ns < b->born_ns ? -1 : 1;
    return strcmp(a->pub.path, b->pub.path);
}

static int by_read_order(const void *a, const void *b)
{
    return read_order(*(entry *const *)a, *(entry *const *)b);
}

/* The parked file whose turn is next, among those parked by tick
 * parked_by: the longest waiting, or with oldest_first the oldest. */
entry *tail_next_parked(const tailer *t, uint64_t parked_by)
{
    entry *best = NULL;
    for (size_t i = 0; t->nparked && i < t->n; i++) {
        entry *e = t->e[i];
        if (!e->parked || e->vanished || e->parked_at > parked_by)
            continue;
        if (!best || (t->o.oldest_first ? read_order(e, best) < 0
                                        : e->parked_at < best->parked_at))
            best = e;
    }
    return best;
}

/* Its path no longer holds the parked file: renamed, or deleted. Only the
 * next scan can tell, by inode; until then it waits out of turn. */
static void vanish(tailer *t, entry *e)
{
    slog_debug(t->o.log_id, "File %s moved or went while waiting for a descriptor.",
               e->pub.path);
    e->vanished = true;
}

/* Gives a parked file its descriptor back. False when it can't be had: the
 * file vanished, or could not be opened and has stopped being followed. */
bool tail_unpark(tailer *t, entry *e)
{
    int fd = open(e->pub.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            vanish(t, e);
        } else {
            tail_read_error(t, e->pub.path, "open");
            tail_stop_following(t, e, "open failed");
        }
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        tail_read_error(t, e->pub.path, "stat");
        close(fd);
        tail_stop_following(t, e, "stat failed");
        return false;
    }
    if (st.st_dev != e->dev || st.st_ino != e->ino) {
        close(fd);
        vanish(t, e);   /* the new file at its path is found by the scan */
        return false;
    }
    tail_attach_fd(t, e, fd);
    check_fingerprint(t, e);
    return true;
}

void tail_fill_free_descriptors(tailer *t)
{
    entry *e;
    while (tail_descriptor_free(t) && (e = tail_next_parked(t, UINT64_MAX)))
        tail_unpark(t, e);
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void found_path(tailer *t, const char *path, const struct stat *st)
{
    if (excluded(t, path))
        return;
    entry *known = find_followed_inode(t, st->st_dev, st->st_ino);
    if (known) {
        found_again(t, known, path, st);
        return;
    }
    int64_t now = (int64_t)time(NULL);
    if (t->o.ignore_older_secs && st->st_mtime < now - (int64_t)t->o.ignore_older_secs)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            tail_read_error(t, path, "open");
        return;
    }
    uint64_t fp;
    int rc = tailer_fingerprint_fd(t, fd, &fp);
    if (rc <= 0) {
        if (rc < 0)
            tail_read_error(t, path, "read");
        close(fd);
        return;
    }
    entry *e = tail_find_fp(t, fp);
    if (e && followed(e)) {
        /* The same content under another inode (a copy): Vector ignores it. */
        close(fd);
        return;
    }
    bool resumed = e != NULL;
    if (!e && !(e = tail_entry_add(t, fp, path))) {
        close(fd);
        return;
    }
    tail_set_path(e, path);
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->seen = true;
    e->gone = false;
    e->last_seen = now;
    e->modified = (int64_t)st->st_mtime;
    e->born_ns = mtime_ns(st);
    e->size = (uint64_t)st->st_size;
    if (resumed) {
        if ((uint64_t)st->st_size < e->offset)
            tail_restart_entry(t, e, fp, "is shorter than its checkpoint");
        e->position = e->offset;
    } else {
        e->offset = e->position = (!t->scanned && t->o.read_from_end) ? (uint64_t)st->st_size : 0;
    }
    bool waits = !tail_descriptor_free(t);
    if (waits) {
        close(fd);
        tail_park(t, e);
    } else {
        tail_attach_fd(t, e, fd);
    }
    t->dirty = true;
    slog_info(t->o.log_id, "%s file %s at offset %" PRIu64 "%s.",
              resumed ? "Resuming" : "Found new", path, e->offset,
              waits ? "; it waits for a descriptor (max_open_files)" : "");
}

static void watch_dir_of(tailer *t, const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    tail_watch_dir(t->watch, dir);
}

static void walk(tailer *t, const char *pattern, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    tail_watch_dir(t->watch, dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s%s%s", dir,
                         dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        struct stat st;
        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < WALK_MAX_DEPTH)
                walk(t, pattern, path, depth + 1);
        } else if (S_ISREG(st.st_mode) && tailer_glob_match(pattern, path)) {
            found_path(t, path, &st);
        }
    }
    closedir(d);
}

/* The directory before the first wildcard of a pattern. */
static void static_prefix(const char *pattern, char *out, size_t cap)
{
    size_t wild = strcspn(pattern, "*?[");
    size_t cut = 0;
    for (size_t i = 0; i < wild; i++)
        if (pattern[i] == '/')
            cut = i + 1;
    if (cut == 0) {
        snprintf(out, cap, ".");
        return;
    }
    snprintf(out, cap, "%.*s", (int)cut, pattern);
}

/* New files of a glob(3) pattern can appear in its static prefix or in any
 * directory its directory part matches, including one that holds no file
 * yet (a pod's directory before its container's): each level of the
 * directory part is watched. */
static void watch_glob_dirs(tailer *t, const char *pattern)
{
    char dir[PATH_MAX];
    static_prefix(pattern, dir, sizeof(dir));
    tail_watch_dir(t->watch, dir);
    for (const char *s = pattern + strcspn(pattern, "*?["); (s = strchr(s, '/')); s++) {
        snprintf(dir, sizeof(dir), "%.*s", (int)(s - pattern), pattern);
        glob_t g;
        if (glob(dir, GLOB_NOSORT | GLOB_ONLYDIR | GLOB_MARK, NULL, &g) != 0)
            return;   /* no match here, none deeper */
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *m = g.gl_pathv[i];
            if (m[strlen(m) - 1] == '/')   /* GLOB_MARK: a directory */
                tail_watch_dir(t->watch, m);
        }
        globfree(&g);
    }
}

static void expand(tailer *t, const char *pattern)
{
    if (strstr(pattern, "**")) {
        char dir[PATH_MAX];
        static_prefix(pattern, dir, sizeof(dir));
        walk(t, pattern, dir, 0);
        return;
    }
    watch_glob_dirs(t, pattern);
    glob_t g;
    if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
            found_path(t, g.gl_pathv[i], &st);
    }
    globfree(&g);
}

void tailer_scan(tailer *t)
{
    for (size_t i = 0; i < t->n; i++)
        t->e[i]->seen = false;
    tail_watch_begin(t->watch);
    for (size_t i = 0; i < t->o.ninclude; i++)
        expand(t, t->include[i]);
    t->scanned = true;
    int64_t now = (int64_t)time(NULL);
    size_t keep = 0;
    for (size_t i = 0; i < t->n; i++) {
        entry *e = t->e[i];
        if (e->fd >= 0 && !e->seen)
            e->gone = true;
        else if (e->parked && !e->seen)
            lose_parked(t, e, "went away");
        if (!followed(e) && now - e->last_seen > FORGET_SECS) {
            tail_entry_free(e);
            t->dirty = true;
            continue;
        }
        if (followed(e))
            watch_dir_of(t, e->pub.path);
        t->e[keep++] = e;
    }
    t->n = keep;
    if (t->cursor >= t->n)
        t->cursor = 0;
    tail_watch_end(t->watch);
    tail_fill_free_descriptors(t);
    if (t->o.oldest_first)
        qsort(t->e, t->n, sizeof(*t->e), by_read_order);
}

/* ----------------------------------------------------------------- notes */

int tailer_wait_fd(const tailer *t)
{
    return tail_watch_fd(t->watch);
}

static bool followed_path(const tailer *t, const char *path)
{
    for (size_t i = 0; i < t->n; i++)
        if (followed(t->e[i]) && strcmp(t->e[i]->pub.path, path) == 0)
            return true;
    return false;
}

static bool matches_patterns(const tailer *t, const char *path)
{
    for (size_t i = 0; i < t->o.ninclude; i++)
        if (tailer_glob_match(t->include[i], path))
            return !excluded(t, path);
    return false;
}

typedef struct notes {
    tailer *t;
    unsigned bits;
} notes;

/* Only files the tailer follows or would follow count: the checkpoint file
 * or a busy neighbour in a watched directory must not wake the caller into
 * rescans. A file that matches but is not followed yet (no complete first
 * line, or older than ignore_older_secs) asks for a rescan when written. */
static void note_event(void *ud, const char *dir, const char *name, uint32_t mask)
{
    notes *n = ud;
    if (mask & IN_Q_OVERFLOW) {
        n->bits |= TAILER_NOTE_DATA | TAILER_NOTE_FILES;
        return;
    }
    if (mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        n->bits |= TAILER_NOTE_FILES;
        return;
    }
    if (mask & IN_ISDIR) {
        if (mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE))
            n->bits |= TAILER_NOTE_FILES;
        return;
    }
    if (!*name)
        return;
    char path[PATH_MAX];
    if (strcmp(dir, ".") == 0)
        snprintf(path, sizeof(path), "%s", name);
    else
        snprintf(path, sizeof(path), "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", name);
    bool known = followed_path(n->t, path);
    if (mask & (IN_MODIFY | IN_CLOSE_WRITE)) {
        if (known)
            n->bits |= TAILER_NOTE_DATA;
        else if (matches_patterns(n->t, path))
            n->bits |= TAILER_NOTE_FILES;
    } else if (known || matches_patterns(n->t, path)) {
        n->bits |= TAILER_NOTE_FILES;
    }
}

unsigned tailer_take_notes(tailer *t)
{
    notes n = { t, 0 };
    tail_watch_take(t->watch, note_event, &n);
    return n.bits;
}
