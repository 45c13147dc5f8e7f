/* tail_watch.h - the inotify watches of a tailer (tail_discovery.c): which
 * directories are watched, kept in step with each scan, and the events they
 * report.
 *
 * A scan names every directory it wants watched between tail_watch_begin()
 * and tail_watch_end(). A directory already watched costs a table lookup, a
 * new one an inotify_add_watch(), and one that no scan named any more loses
 * its watch at the end. Without inotify (tail_watch_fd() is -1) every call is
 * a no-op and the tailer relies on its caller's polling. Not thread-safe. */
#ifndef SLUICE_TAIL_WATCH_H
#define SLUICE_TAIL_WATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct tail_watch tail_watch;

/* One event: dir is the watched directory as it was named (no trailing
 * slash), name the entry in it ("" for the directory itself), mask the
 * inotify bits. A queue overflow comes once with dir NULL and IN_Q_OVERFLOW. */
typedef void (*tail_watch_fn)(void *ud, const char *dir, const char *name, uint32_t mask);

/* NULL only when out of memory. When inotify can't be had, a warning is
 * logged (under log_id, which must outlive the watch) and the watch works
 * without it. */
tail_watch *tail_watch_new(const char *log_id);
void tail_watch_free(tail_watch *w);

/* The inotify descriptor, readable when events wait; -1 without inotify. */
int tail_watch_fd(const tail_watch *w);

void tail_watch_begin(tail_watch *w);
/* Keeps dir watched through the scan in progress. 0, or -1 with errno set
 * when it can't be watched (ENOENT: no such directory). */
int tail_watch_dir(tail_watch *w, const char *dir);
/* Drops the watches of directories the scan did not name. */
void tail_watch_end(tail_watch *w);

/* Passes every pending event to fn, without blocking. */
void tail_watch_take(tail_watch *w, tail_watch_fn fn, void *ud);

#endif
