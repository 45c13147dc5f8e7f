/* tailer.c - see tailer.h.
 *
 * Every file ever fingerprinted has an entry (malloc'd, so pointers stay
 * put): open ones are being read, closed ones only remember a checkpoint,
 * and are forgotten after FORGET_SECS without being seen. Reads use pread()
 * at the file's position, so nothing is buffered per file: a partial last
 * line is simply read again. Discovery uses glob(3) for patterns without
 * `**` and a directory walk for the others. Lookups are linear scans, fine
 * for the hundreds of files a node holds. */
#include "tailer.h"
#include "../pipeline/log.h"

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
    int fd;                 /* -1: closed, checkpoint only */
    dev_t dev;
    ino_t ino;
    uint64_t offset;        /* read position */
    uint64_t position;      /* checkpoint */
    int64_t modified;       /* mtime, unix seconds */
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
    bool scanned;           /* the first scan has run */
    bool dirty;
    char *fpbuf;
    uint64_t discarded, read_errors;
};

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
    return false;
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
    for (size_t i = 0; i < t->n; i++)
        entry_free(t->e[i]);
    free(t->e);
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
    if (!t->include || !t->exclude || !t->delimiter || !t->fpbuf ||
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
    for (size_t i = 0; i < t->n; i++)
        entry_free(t->e[i]);
    t->n = 0;
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

static void close_entry(tailer *t, entry *e, const char *why)
{
    slog_debug(t->o.log_id, "Stopped watching file %s (%s).", e->pub.path, why);
    close(e->fd);
    e->fd = -1;
    e->gone = false;
    e->discarding = false;
}

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

static void found_open(tailer *t, entry *e, const char *path)
{
    e->seen = true;
    e->gone = false;
    e->last_seen = (int64_t)time(NULL);
    if (strcmp(e->pub.path, path) != 0) {
        slog_debug(t->o.log_id, "File %s was renamed to %s.", e->pub.path, path);
        if (set_path(e, path) == 0)
            t->dirty = true;
    }
    uint64_t fp;
    if (t->o.fingerprint != TAILER_FP_CHECKSUM || tailer_fingerprint_fd(t, e->fd, &fp) != 1)
        return;
    if (e->fp_pending) {
        /* Truncated while empty: what it holds now is read from the start
         * already, only the fingerprint was missing. */
        e->fp_pending = false;
        entry *other = find_fp(t, fp);
        if (other && other != e && other->fd < 0) {
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
        if (other && other != e && other->fd < 0) {
            /* Keep one entry per fingerprint: the old checkpoint goes. */
            other->pub.fp = ~fp;
            other->last_seen = 0;
        }
        restart_entry(t, e, fp, "was replaced");
    }
}

static void found_path(tailer *t, const char *path, const struct stat *st)
{
    if (excluded(t, path))
        return;
    for (size_t i = 0; i < t->n; i++) {
        entry *e = t->e[i];
        if (e->fd >= 0 && e->dev == st->st_dev && e->ino == st->st_ino) {
            found_open(t, e, path);
            return;
        }
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
    if (e && e->fd >= 0) {
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
    e->fd = fd;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->seen = true;
    e->gone = false;
    e->last_seen = now;
    e->modified = (int64_t)st->st_mtime;
    if (resumed) {
        if ((uint64_t)st->st_size < e->offset)
            restart_entry(t, e, fp, "is shorter than its checkpoint");
        e->position = e->offset;
    } else {
        e->offset = e->position = (!t->scanned && t->o.read_from_end) ? (uint64_t)st->st_size : 0;
    }
    t->dirty = true;
    slog_info(t->o.log_id, "%s file %s at offset %" PRIu64 ".",
              resumed ? "Resuming" : "Found new", path, e->offset);
}

static void walk(tailer *t, const char *pattern, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
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

/* The directory before the first wildcard of a `**` pattern. */
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

static void expand(tailer *t, const char *pattern)
{
    if (strstr(pattern, "**")) {
        char dir[PATH_MAX];
        static_prefix(pattern, dir, sizeof(dir));
        walk(t, pattern, dir, 0);
        return;
    }
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
    for (size_t i = 0; i < t->o.ninclude; i++)
        expand(t, t->include[i]);
    t->scanned = true;
    int64_t now = (int64_t)time(NULL);
    size_t keep = 0;
    for (size_t i = 0; i < t->n; i++) {
        entry *e = t->e[i];
        if (e->fd >= 0 && !e->seen)
            e->gone = true;
        if (e->fd < 0 && now - e->last_seen > FORGET_SECS) {
            entry_free(e);
            t->dirty = true;
            continue;
        }
        t->e[keep++] = e;
    }
    t->n = keep;
    if (t->cursor >= t->n)
        t->cursor = 0;
}

/* --------------------------------------------------------------- reading */

/* At the end of what e holds: starts over after a truncation, closes a
 * deleted file or one that left the patterns. */
static void at_eof(tailer *t, entry *e)
{
    struct stat st;
    if (fstat(e->fd, &st) < 0) {
        read_error(t, e->pub.path, "stat");
        close_entry(t, e, "stat failed");
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
        close_entry(t, e, "deleted");
    } else if (e->gone) {
        close_entry(t, e, "no longer matches the include patterns");
    }
}

typedef struct chunk_result {
    size_t consumed;
    uint32_t lines;
    int stop;
} chunk_result;

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
                    t->discarded++;
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
            t->discarded++;
            continue;
        }
        r->lines++;
        r->stop = fn(ud, &e->pub, p, len, e->offset + r->consumed);
    }
}

int tailer_read(tailer *t, char *buf, size_t cap, uint32_t max_lines,
                tailer_line_fn fn, void *ud, size_t *consumed)
{
    *consumed = 0;
    if (cap <= t->o.max_line_bytes + t->o.delimiter_len)
        return -1;
    for (size_t tries = 0; tries < t->n; tries++) {
        entry *e = t->e[t->cursor];
        t->cursor = (t->cursor + 1) % t->n;
        if (e->fd < 0)
            continue;
        ssize_t n;
        do
            n = pread(e->fd, buf, cap, (off_t)e->offset);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            read_error(t, e->pub.path, "read");
            close_entry(t, e, "read failed");
            continue;
        }
        chunk_result r = {0, 0, 0};
        if (n > 0)
            take_lines(t, e, buf, (size_t)n, max_lines, fn, ud, &r);
        if (r.consumed == 0) {
            at_eof(t, e);
            continue;
        }
        e->offset += r.consumed;
        if (t->o.auto_commit) {
            e->position = e->offset;
            t->dirty = true;
        }
        *consumed = r.consumed;
        return 1;
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

uint64_t tailer_discarded_lines(const tailer *t)
{
    return t->discarded;
}

uint64_t tailer_read_errors(const tailer *t)
{
    return t->read_errors;
}
