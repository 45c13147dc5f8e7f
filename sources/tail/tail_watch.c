/* tail_watch.c - see tail_watch.h.
 *
 * The table maps directory paths to inotify watch descriptors. Two paths
 * can share one descriptor (one directory under two spellings, or renamed
 * while a scan names both): each gets the events, and the watch goes only
 * when neither is named any more. Lookups are linear, starting at the last
 * hit, since a scan names the directory of each file and files of one
 * directory come together. */
#include "sources/tail/tail_watch.h"
#include "pipeline/log.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

/* What a directory reports: its files written, appearing, moving and going,
 * and itself moving or going (its path is then stale: watched anew by the
 * next scan). Metadata changes (IN_ATTRIB) matter to nothing the tailer
 * does. */
#define WATCH_MASK (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | \
                    IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define LIMIT_WARN_SECS 60   /* at most one watch-limit warning this often */

typedef struct watched {
    int wd;
    char *dir;
    bool named;          /* named by the scan in progress */
} watched;

struct tail_watch {
    int fd;
    const char *log_id;
    watched *w;
    size_t n, cap;
    size_t last;         /* where the last lookup hit */
    time_t limit_warned; /* when the watch limit was last reported */
    size_t limit_hits;   /* directories refused since then */
};

tail_watch *tail_watch_new(const char *log_id)
{
    tail_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->log_id = log_id;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0)
        slog_warn(log_id, "inotify is unavailable (%s); files are found and read by "
                  "polling only.", strerror(errno));
    return w;
}

void tail_watch_free(tail_watch *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->w[i].dir);
    free(w->w);
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

int tail_watch_fd(const tail_watch *w)
{
    return w->fd;
}

/* Same directory, one spelling: no trailing slash except for "/". */
static void normalize(const char *dir, char *out, size_t cap)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0) {
        dir = ".";
        len = 1;
    }
    if (len >= cap)
        len = cap - 1;
    memcpy(out, dir, len);
    out[len] = '\0';
}

static watched *find_dir(tail_watch *w, const char *dir)
{
    for (size_t k = 0; k < w->n; k++) {
        size_t i = (w->last + k) % w->n;
        if (strcmp(w->w[i].dir, dir) == 0) {
            w->last = i;
            return &w->w[i];
        }
    }
    return NULL;
}

static bool wd_in_table(const tail_watch *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->w[i].wd == wd)
            return true;
    return false;
}

static void drop_row(tail_watch *w, size_t i)
{
    free(w->w[i].dir);
    w->w[i] = w->w[--w->n];
    w->last = 0;
}

static void warn_watch_limit(tail_watch *w, const char *dir)
{
    time_t now = time(NULL);
    if (w->limit_warned && now - w->limit_warned < LIMIT_WARN_SECS) {
        w->limit_hits++;
        return;
    }
    char more[64] = "";
    if (w->limit_hits)
        snprintf(more, sizeof(more), " (%zu more refusals since the last warning)",
                 w->limit_hits);
    slog_warn(w->log_id, "Cannot watch directory %s: the inotify watch limit is reached "
              "(raise fs.inotify.max_user_watches); changes there are found by polling "
              "only%s.", dir, more);
    w->limit_warned = now;
    w->limit_hits = 0;
}

void tail_watch_begin(tail_watch *w)
{
    for (size_t i = 0; i < w->n; i++)
        w->w[i].named = false;
}

static int add_row(tail_watch *w, int wd, const char *dir)
{
    if (SL_GROW(w->w, w->n, w->cap, 16) < 0)
        return -1;
    char *copy = strdup(dir);
    if (!copy)
        return -1;
    w->w[w->n++] = (watched){ .wd = wd, .dir = copy, .named = true };
    return 0;
}

int tail_watch_dir(tail_watch *w, const char *dir)
{
    if (w->fd < 0)
        return 0;
    char norm[PATH_MAX];
    normalize(dir, norm, sizeof(norm));
    watched *known = find_dir(w, norm);
    if (known) {
        known->named = true;
        return 0;
    }
    int wd = inotify_add_watch(w->fd, norm, WATCH_MASK);
    if (wd < 0) {
        int saved = errno;
        if (saved == ENOSPC)
            warn_watch_limit(w, norm);
        else if (saved != ENOENT && saved != ENOTDIR)
            slog_debug(w->log_id, "Cannot watch directory %s: %s", norm, strerror(saved));
        errno = saved;
        return -1;
    }
    if (add_row(w, wd, norm) < 0) {
        /* Unwatched, it is polled; a watch kept without a row would leak. */
        if (!wd_in_table(w, wd))
            inotify_rm_watch(w->fd, wd);
        slog_warn(w->log_id, "Out of memory watching directory %s; it is polled only.", norm);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void tail_watch_end(tail_watch *w)
{
    for (size_t i = w->n; i-- > 0;) {
        if (w->w[i].named)
            continue;
        int wd = w->w[i].wd;
        drop_row(w, i);
        if (!wd_in_table(w, wd))
            inotify_rm_watch(w->fd, wd);
    }
}

/* The kernel dropped wd (IN_IGNORED), or its directory moved away: every
 * path it was known by goes. */
static void forget_wd(tail_watch *w, int wd, bool remove_watch)
{
    for (size_t i = w->n; i-- > 0;)
        if (w->w[i].wd == wd)
            drop_row(w, i);
    if (remove_watch)
        inotify_rm_watch(w->fd, wd);
}

static void deliver(tail_watch *w, const struct inotify_event *ev, tail_watch_fn fn, void *ud)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        fn(ud, NULL, "", IN_Q_OVERFLOW);
        return;
    }
    if (ev->mask & IN_IGNORED) {
        forget_wd(w, ev->wd, false);
        return;
    }
    const char *name = ev->len ? ev->name : "";
    for (size_t i = 0; i < w->n; i++)
        if (w->w[i].wd == ev->wd)
            fn(ud, w->w[i].dir, name, ev->mask);
    if (ev->mask & IN_MOVE_SELF)
        forget_wd(w, ev->wd, true);
}

void tail_watch_take(tail_watch *w, tail_watch_fn fn, void *ud)
{
    if (w->fd < 0)
        return;
    _Alignas(struct inotify_event) char buf[16384];
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                slog_warn(w->log_id, "Reading inotify events failed: %s", strerror(errno));
            return;
        }
        if (n == 0)
            return;
        for (const char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(const void *)p;
            deliver(w, ev, fn, ud);
            p += sizeof(*ev) + ev->len;
        }
    }
}
