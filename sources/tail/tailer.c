/* tailer.c - see tailer.h.
 *
 * Every file ever fingerprinted has an entry (malloc'd, so pointers stay
 * put). A followed entry is open (being read) or parked: waiting without a
 * descriptor for its turn under max_open_files, with its identity (dev,
 * inode) and position kept. Other entries only remember a checkpoint and are
 * forgotten after FORGET_SECS without being seen. Reads use pread() at the
 * file's position, so nothing is buffered per file: a partial last line is
 * simply read again, and parking a file costs nothing but the descriptor.
 *
 * Discovery uses glob(3) for patterns without `**` and a directory walk for
 * the others; each scan also names the directories to watch with inotify
 * (tail_watch.c), so the caller can wake on changes instead of polling.
 * Lookups are linear scans, fine for the hundreds of files a node holds. */
#include "sources/tail/tailer.h"
#include "sources/tail/tail_watch.h"
#include "pipeline/log.h"
#include "pipeline/utf8.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <jansson.h>
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
#define FP_MAX_BYTES (64 * 1024)   /* most bytes the checksum reads */
#define FORGET_SECS 3600           /* closed entries not seen for this long go */
#define WALK_MAX_DEPTH 32

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

static bool followed(const entry *e)
{
    return e->fd >= 0 || e->parked;
}

/* ------------------------------------------------------------- matching */

/* One bracket expression at *pp against c; advances *pp past it. */
static bool match_class(const char **pp, char c)
{
    const char *p = *pp + 1;
    bool negate = false, hit = false;
    if (*p == '!' || *p == '^') {
        negate = true;
        p++;
    }
    bool first = true;
    while (*p && (first || *p != ']')) {
        first = false;
        char lo = *p, hi = *p;
        if (p[1] == '-' && p[2] && p[2] != ']') {
            hi = p[2];
            p += 3;
        } else {
            p++;
        }
        if (c >= lo && c <= hi)
            hit = true;
    }
    if (*p == ']')
        p++;
    *pp = p;
    return hit != negate;
}

static bool match_here(const char *p, const char *s)
{
    for (;;) {
        if (p[0] == '*' && p[1] == '*') {
            p += 2;
            if (*p == '/')
                p++;
            if (!*p)
                return true;
            /* `**` is any run of whole segments, none included. */
            for (const char *t = s;; t++) {
                if ((t == s || t[-1] == '/') && match_here(p, t))
                    return true;
                if (!*t)
                    return false;
            }
        }
        switch (*p) {
        case '\0':
            return *s == '\0';
        case '*':
            p++;
            for (const char *t = s;; t++) {
                if (match_here(p, t))
                    return true;
                if (!*t || *t == '/')
                    return false;
            }
        case '?':
            if (!*s || *s == '/')
                return false;
            p++;
            s++;
            break;
        case '[':
            if (!*s || *s == '/' || !match_class(&p, *s))
                return false;
            s++;
            break;
        default:
            if (*p != *s)
                return false;
            p++;
            s++;
        }
    }
}

bool tailer_glob_match(const char *pattern, const char *path)
{
    return match_here(pattern, path);
}

static bool excluded(const tailer *t, const char *path)
{
    for (size_t i = 0; i < t->o.nexclude; i++)
        if (tailer_glob_match(t->exclude[i], path))
            return true;
    return t->o.accept && !t->o.accept(t->o.accept_ud, path);
}

/* ---------------------------------------------------------- fingerprints */

static const char *find_delim(const tailer *t, const char *p, size_t n)
{
    if (t->o.delimiter_len == 1)
        return memchr(p, t->delimiter[0], n);
    return memmem(p, n, t->delimiter, t->o.delimiter_len);
}

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
            const char *d = find_delim(t, t->fpbuf + at, (size_t)n - at);
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

static void entry_free(entry *e)
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
        entry_free(t->e[i]);
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

static entry *entry_add(tailer *t, uint64_t fp, const char *path)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        entry **e = realloc(t->e, cap * sizeof(*e));
        if (!e)
            return NULL;
        t->e = e;
        t->cap = cap;
    }
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

static entry *find_fp(const tailer *t, uint64_t fp)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i]->pub.fp == fp)
            return t->e[i];
    return NULL;
}

static int set_path(entry *e, const char *path)
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

static void attach_fd(tailer *t, entry *e, int fd)
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

static bool descriptor_free(const tailer *t)
{
    return t->o.max_open_files == 0 || t->nopen < t->o.max_open_files;
}

/* e waits for a descriptor; the position and the caller's state stay. */
static void park(tailer *t, entry *e)
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
static void stop_following(tailer *t, entry *e, const char *why)
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

/* ----------------------------------------------------------- checkpoints */

static int corrupt(tailer *t, const char *why)
{
    char aside[PATH_MAX];
    snprintf(aside, sizeof(aside), "%s.corrupt", t->ckpt_path);
    if (rename(t->ckpt_path, aside) < 0)
        slog_error(t->o.log_id, "Checkpoint file %s is corrupt (%s) and could not be set "
                   "aside: %s; reading starts without checkpoints.",
                   t->ckpt_path, why, strerror(errno));
    else
        slog_error(t->o.log_id, "Checkpoint file %s is corrupt (%s); moved to %s, reading "
                   "starts without checkpoints.", t->ckpt_path, why, aside);
    for (size_t i = 0; i < t->n; i++) {
        if (followed(t->e[i]))
            stop_following(t, t->e[i], "its checkpoint was discarded");
        entry_free(t->e[i]);
    }
    t->n = 0;
    t->cursor = 0;
    return 1;
}

int tailer_load(tailer *t, sl_error *err)
{
    if (!t->ckpt_path)
        return 0;
    if (access(t->ckpt_path, F_OK) < 0) {
        if (errno == ENOENT)
            return 0;
        return sl_fail(err, "checkpoint file %s: %s", t->ckpt_path, strerror(errno));
    }
    json_error_t jerr;
    json_t *root = json_load_file(t->ckpt_path, 0, &jerr);
    if (!root)
        return corrupt(t, jerr.text);
    json_t *list = json_is_object(root) ? json_object_get(root, "checkpoints") : NULL;
    if (!json_is_array(list) || json_integer_value(json_object_get(root, "version")) != 1) {
        json_decref(root);
        return corrupt(t, "not a version 1 checkpoint object");
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *fps = json_string_value(json_object_get(c, "fingerprint"));
        const char *path = json_string_value(json_object_get(c, "path"));
        json_t *pos = json_object_get(c, "position");
        json_t *mod = json_object_get(c, "modified");
        char *end = NULL;
        uint64_t fp = fps ? strtoull(fps, &end, 16) : 0;
        if (!fps || !*fps || *end || !path || !json_is_integer(pos) ||
            json_integer_value(pos) < 0 || !json_is_integer(mod)) {
            json_decref(root);
            return corrupt(t, "a checkpoint lacks fingerprint, path, position or modified");
        }
        if (find_fp(t, fp))
            continue;
        entry *e = entry_add(t, fp, path);
        if (!e) {
            json_decref(root);
            return sl_fail(err, "out of memory loading checkpoints");
        }
        e->position = e->offset = (uint64_t)json_integer_value(pos);
        e->modified = json_integer_value(mod);
    }
    json_decref(root);
    return 0;
}

static int fsync_dir(const char *file)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static json_t *checkpoints_json(const tailer *t)
{
    json_t *list = json_array();
    json_t *root = json_pack("{s:i, s:o}", "version", 1, "checkpoints", list);
    if (!root)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const entry *e = t->e[i];
        char fp[17];
        snprintf(fp, sizeof(fp), "%016" PRIx64, e->pub.fp);
        json_t *c = json_pack("{s:s, s:s, s:I, s:I}", "fingerprint", fp, "path", e->pub.path,
                              "position", (json_int_t)e->position,
                              "modified", (json_int_t)e->modified);
        if (!c || json_array_append_new(list, c) < 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

int tailer_save(tailer *t, sl_error *err)
{
    if (!t->ckpt_path || !t->dirty)
        return 0;
    json_t *root = checkpoints_json(t);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text)
        return sl_fail(err, "out of memory writing checkpoints");
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", t->ckpt_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(text);
        return sl_fail(err, "writing checkpoints to %s: %s", tmp, strerror(errno));
    }
    int rc = sl_write_all(fd, text, strlen(text));
    free(text);
    if (rc == 0)
        rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc == 0 && rename(tmp, t->ckpt_path) < 0) {
        rc = -1;
        saved = errno;
    }
    if (rc < 0) {
        unlink(tmp);
        return sl_fail(err, "writing checkpoints to %s: %s", t->ckpt_path, strerror(saved));
    }
    if (fsync_dir(t->ckpt_path) < 0)
        return sl_fail(err, "syncing the directory of %s: %s", t->ckpt_path, strerror(errno));
    t->dirty = false;
    return 1;
}

void tailer_commit(tailer *t, uint64_t fp, uint64_t gen, uint64_t position)
{
    entry *e = find_fp(t, fp);
    if (!e || e->pub.gen != gen || e->position == position)
        return;
    e->position = position;
    t->dirty = true;
}

/* ------------------------------------------------------------- discovery */

static void restart_entry(tailer *t, entry *e, uint64_t fp, const char *why)
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

static void read_error(tailer *t, const char *path, const char *what)
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
    stop_following(t, e, how);
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
        entry *other = find_fp(t, fp);
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
        entry *other = find_fp(t, fp);
        if (other && other != e && !followed(other)) {
            /* Keep one entry per fingerprint: the old checkpoint goes. */
            other->pub.fp = ~fp;
            other->last_seen = 0;
        }
        restart_entry(t, e, fp, "was replaced");
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
        if (set_path(e, path) == 0)
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
static entry *next_parked(const tailer *t, uint64_t parked_by)
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
static bool unpark(tailer *t, entry *e)
{
    int fd = open(e->pub.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            vanish(t, e);
        } else {
            read_error(t, e->pub.path, "open");
            stop_following(t, e, "open failed");
        }
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        read_error(t, e->pub.path, "stat");
        close(fd);
        stop_following(t, e, "stat failed");
        return false;
    }
    if (st.st_dev != e->dev || st.st_ino != e->ino) {
        close(fd);
        vanish(t, e);   /* the new file at its path is found by the scan */
        return false;
    }
    attach_fd(t, e, fd);
    check_fingerprint(t, e);
    return true;
}

static void fill_free_descriptors(tailer *t)
{
    entry *e;
    while (descriptor_free(t) && (e = next_parked(t, UINT64_MAX)))
        unpark(t, e);
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
            read_error(t, path, "open");
        return;
    }
    uint64_t fp;
    int rc = tailer_fingerprint_fd(t, fd, &fp);
    if (rc <= 0) {
        if (rc < 0)
            read_error(t, path, "read");
        close(fd);
        return;
    }
    entry *e = find_fp(t, fp);
    if (e && followed(e)) {
        /* The same content under another inode (a copy): Vector ignores it. */
        close(fd);
        return;
    }
    bool resumed = e != NULL;
    if (!e && !(e = entry_add(t, fp, path))) {
        close(fd);
        return;
    }
    set_path(e, path);
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
            restart_entry(t, e, fp, "is shorter than its checkpoint");
        e->position = e->offset;
    } else {
        e->offset = e->position = (!t->scanned && t->o.read_from_end) ? (uint64_t)st->st_size : 0;
    }
    bool waits = !descriptor_free(t);
    if (waits) {
        close(fd);
        park(t, e);
    } else {
        attach_fd(t, e, fd);
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
            entry_free(e);
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
    fill_free_descriptors(t);
    if (t->o.oldest_first)
        qsort(t->e, t->n, sizeof(*t->e), by_read_order);
}

/* --------------------------------------------------------------- reading */

/* At the end of what e holds: starts over after a truncation, stops
 * following a deleted file or one that left the patterns. */
static void at_eof(tailer *t, entry *e)
{
    struct stat st;
    if (fstat(e->fd, &st) < 0) {
        read_error(t, e->pub.path, "stat");
        stop_following(t, e, "stat failed");
        return;
    }
    e->modified = (int64_t)st.st_mtime;
    if ((uint64_t)st.st_size < e->offset) {
        uint64_t fp = e->pub.fp;
        bool pending = t->o.fingerprint == TAILER_FP_CHECKSUM &&
                       tailer_fingerprint_fd(t, e->fd, &fp) != 1;
        entry *other = pending ? NULL : find_fp(t, fp);
        if (other && other != e)
            fp = e->pub.fp;   /* keep one entry per fingerprint */
        restart_entry(t, e, fp, "was truncated");
        e->fp_pending = pending;
    } else if (st.st_nlink == 0) {
        stop_following(t, e, "deleted");
    } else if (e->gone) {
        stop_following(t, e, "no longer matches the include patterns");
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
        const char *d = find_delim(t, p, left);
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
        read_error(t, e->pub.path, "read");
        stop_following(t, e, "read failed");
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
    if (e->fd >= 0 && next_parked(t, parked_by))
        park(t, e);
    entry *next = NULL;
    while (descriptor_free(t) && (next = next_parked(t, parked_by)) && !unpark(t, next))
        next = NULL;
    fill_free_descriptors(t);
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
