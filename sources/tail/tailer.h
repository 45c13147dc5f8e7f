/* tailer.h - follows a set of files found by glob patterns, line by line,
 * with checkpoints. Shared by the sources that read log files (`file`,
 * `kubernetes_logs`); it knows nothing about events.
 *
 * Files are identified by a fingerprint: a CRC32 of their first line(s)
 * (Vector's `checksum` strategy) or their device and inode. A file renamed
 * within the patterns keeps its fingerprint and is followed at its new path;
 * a file found again after a restart resumes at its checkpoint; a file whose
 * size drops below the read position (copy-truncate) or whose first line
 * changes is read again from the start. A file that is deleted or leaves the
 * patterns is read to its end, then its descriptor is closed. With the
 * checksum strategy a file is not read until it holds a complete first line.
 *
 * Reading is pull-based: tailer_read() reads one chunk of one file into a
 * buffer the caller owns and hands each complete line (pointing into that
 * buffer, never copied) to a callback; successive calls take the files in
 * turn, so one busy file can't starve the others. Only complete lines are
 * consumed: a partial last line is read again on the next call.
 *
 * With oldest_first, each read takes the file that was least recently
 * modified when found (ties by path) among those with a complete line, so
 * older files are drained before younger ones are read.
 *
 * With max_open_files, files beyond the limit are followed without a
 * descriptor ("parked", known by device and inode, position and user state
 * kept). A file that has nothing to read gives its descriptor to the file
 * that waited longest (with oldest_first: the oldest), which is reopened by
 * path. A parked file that a scan no longer finds (by inode, so renames are
 * followed) stops being followed; what it held unread is lost (logged).
 *
 * tailer_wait_fd() turns readable when watched files change (inotify), so
 * the caller can sleep in poll() instead of polling on a timer.
 *
 * Checkpoints (fingerprint, path, position, modified) are kept per file.
 * With auto_commit a file's position follows what tailer_read consumed;
 * otherwise the caller moves it with tailer_commit() once lines are
 * delivered. tailer_save() writes them atomically as JSON.
 *
 * Not thread-safe: one thread drives a tailer. */
#ifndef SLUICE_TAILER_H
#define SLUICE_TAILER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "pipeline/common.h"

struct tailer_file;   /* defined below; named by tailer_options.file_closed */

typedef enum tailer_fingerprint {
    TAILER_FP_CHECKSUM = 0,
    TAILER_FP_DEVICE_AND_INODE,
} tailer_fingerprint;

typedef struct tailer_options {
    char *const *include;            /* glob patterns; `**` spans directories */
    size_t ninclude;
    char *const *exclude;
    size_t nexclude;
    bool read_from_end;              /* files found by the first scan without a
                                        checkpoint start at their end */
    uint64_t ignore_older_secs;      /* 0: no limit */
    size_t max_line_bytes;           /* longer lines are skipped and counted */
    bool truncate_long_lines;        /* ... or cut to max_line_bytes (at a
                                        character boundary) and passed on */
    const char *delimiter;
    size_t delimiter_len;            /* >= 1 */
    tailer_fingerprint fingerprint;
    uint32_t fingerprint_lines;      /* checksum: lines hashed, >= 1 */
    bool auto_commit;
    const char *log_id;              /* component id for the service log */
    size_t max_open_files;           /* 0: no limit. Beyond it, files wait
                                        closed (position kept) and take turns:
                                        a file at its end gives its descriptor
                                        to one that waits. */
    bool oldest_first;               /* read the least recently modified file
                                        with data first, instead of in turn */
    /* A file stops being followed for good (deleted and drained, left the
     * patterns, unreadable) or the tailer is freed: the owner of f->user
     * flushes and frees it. Not called when a file only waits for a
     * descriptor (max_open_files). May be NULL. */
    void (*file_closed)(void *ud, struct tailer_file *f);
    void *ud;
    /* A last say on a path the patterns found (after exclude), for rules a
     * glob can't express; false skips it as if excluded. May be NULL. */
    bool (*accept)(void *accept_ud, const char *path);
    void *accept_ud;
} tailer_options;

/* What a line callback learns about the file it comes from. */
typedef struct tailer_file {
    uint64_t fp;
    uint64_t gen;        /* bumped when the file starts over (truncation) */
    const char *path;    /* valid until the next tailer_scan() */
    void *user;          /* the caller's per-file state, NULL at first; the
                            tailer only hands it to file_closed */
} tailer_file;

typedef struct tailer tailer;

/* Copies what it needs from o. checkpoint_path may be NULL (no checkpoints).
 * NULL with err filled on failure. */
tailer *tailer_new(const tailer_options *o, const char *checkpoint_path, sl_error *err);
void tailer_free(tailer *t);

/* Loads the checkpoint file. 0 when loaded or absent; 1 when it was corrupt:
 * it has been renamed to <path>.corrupt and reading starts as if there were
 * none; -1 on another failure (err). */
int tailer_load(tailer *t, sl_error *err);

/* Writes the checkpoints when they changed since the last save: to a
 * temporary file, fsync, rename over the file, fsync of the directory.
 * 1 when written, 0 when nothing changed, -1 on failure (err). */
int tailer_save(tailer *t, sl_error *err);

/* Finds files matching the patterns now, starts following new ones and
 * notices renames, truncations and files that left the patterns. */
void tailer_scan(tailer *t);

/* Called per complete line, without its delimiter; end is the file offset
 * just past the delimiter. Nonzero stops the read after this line. */
typedef int (*tailer_line_fn)(void *ud, tailer_file *f, const char *line,
                              size_t len, uint64_t end);

/* Reads the next file that has data into buf (cap bytes; must exceed
 * max_line_bytes + delimiter_len) and passes at most max_lines lines to fn.
 * *consumed = the bytes of buf the lines used (they stay valid as long as
 * the caller keeps buf). 1 when some file made progress, 0 when none had a
 * complete line, -1 when buf is too small. */
int tailer_read(tailer *t, char *buf, size_t cap, uint32_t max_lines,
                tailer_line_fn fn, void *ud, size_t *consumed);

/* Moves the checkpoint of file (fp, gen) to position, unless the file has
 * started over since (another gen) or is no longer known. */
void tailer_commit(tailer *t, uint64_t fp, uint64_t gen, uint64_t position);

/* A descriptor that becomes readable when a followed file grows or a
 * watched directory changes (inotify), or -1 when inotify is unavailable
 * (the caller then relies on its polling). Watches follow tailer_scan():
 * the directories of followed files and those the patterns can match. */
int tailer_wait_fd(const tailer *t);

enum {
    TAILER_NOTE_DATA = 1u << 0,   /* a followed file grew or changed */
    TAILER_NOTE_FILES = 1u << 1   /* files appeared, moved or went: rescan */
};

/* Reads what the wait descriptor holds, without blocking: TAILER_NOTE_* bits,
 * 0 when nothing happened (or inotify is unavailable). Only files that are
 * followed or match the patterns count (a rewritten checkpoint file does
 * not). Call it whenever the descriptor is readable, or it stays readable;
 * on TAILER_NOTE_FILES call tailer_scan(), on TAILER_NOTE_DATA read. Keep
 * scanning on a timer as well: a directory that can't be watched (watch
 * limit, not there yet) is only found that way. */
unsigned tailer_take_notes(tailer *t);

/* Files open now (holding a descriptor). */
size_t tailer_open_files(const tailer *t);
/* Files followed now: open ones and those waiting for a descriptor
 * (max_open_files); what a `files_watched` gauge shows. */
size_t tailer_files(const tailer *t);
/* Lines skipped for exceeding max_line_bytes, since the tailer started. */
uint64_t tailer_discarded_lines(const tailer *t);
/* Lines cut to max_line_bytes (truncate_long_lines), since it started. */
uint64_t tailer_truncated_lines(const tailer *t);
/* Files that could not be opened or read, since the tailer started. */
uint64_t tailer_read_errors(const tailer *t);

/* Whether path matches pattern: `*`, `?` and `[...]` stay within one path
 * segment, `**` spans any number of them (also none). */
bool tailer_glob_match(const char *pattern, const char *path);

/* The fingerprint of an open file: 1 with *fp set, 0 when the file is too
 * short (checksum: no complete first lines yet), -1 on a read error. */
int tailer_fingerprint_fd(const tailer *t, int fd, uint64_t *fp);

#endif
