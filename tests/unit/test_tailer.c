/* Unit tests: the shared tailer (sources/tail/): glob matching with `**`,
 * fingerprints, reading lines, checkpoints round trip, a corrupt checkpoint
 * file, rename, truncation, deletion, oversized lines, inotify notes,
 * max_open_files (files taking turns for descriptors) and oldest_first. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sources/tail/tailer.h"

typedef struct fixture {
    char dir[64];
    char pattern[96];
    char ckpt[96];
    char *include[1];
    char *exclude[1];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_tailer.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->pattern, sizeof(f->pattern), "%s/*.log", f->dir);
    snprintf(f->ckpt, sizeof(f->ckpt), "%s/checkpoints.json", f->dir);
    f->include[0] = f->pattern;
    f->exclude[0] = "**/skip*.log";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static tailer_options options(fixture *f)
{
    tailer_options o = {
        .include = f->include, .ninclude = 1,
        .exclude = f->exclude, .nexclude = 1,
        .max_line_bytes = 100,
        .delimiter = "\n", .delimiter_len = 1,
        .fingerprint = TAILER_FP_CHECKSUM,
        .fingerprint_lines = 1,
        .auto_commit = true,
        .log_id = "test",
    };
    return o;
}

static tailer *new_tailer(fixture *f, const tailer_options *o)
{
    sl_error err;
    tailer *t = tailer_new(o, f->ckpt, &err);
    assert_non_null(t);
    return t;
}

static void write_file(fixture *f, const char *name, const char *text, const char *mode)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    FILE *fp = fopen(path, mode);
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void file_path(fixture *f, const char *name, char *out)
{
    snprintf(out, PATH_MAX, "%s/%s", f->dir, name);
}

typedef struct lines {
    char text[4096];
    size_t n;
    uint64_t last_end;
} lines;

static int collect(void *ud, tailer_file *file, const char *line, size_t len,
                   uint64_t end)
{
    (void)file;
    lines *l = ud;
    strncat(l->text, line, len);
    strcat(l->text, "|");
    l->n++;
    l->last_end = end;
    return 0;
}

/* Reads until no file has anything left. */
static void drain(tailer *t, lines *l)
{
    static char buf[4096];
    size_t used;
    while (tailer_read(t, buf, sizeof(buf), 1000, collect, l, &used) > 0)
        ;
}

static void glob_match_rules(void **state)
{
    (void)state;
    assert_true(tailer_glob_match("/var/log/*.log", "/var/log/a.log"));
    assert_false(tailer_glob_match("/var/log/*.log", "/var/log/x/a.log"));
    assert_true(tailer_glob_match("/var/log/**/*.log", "/var/log/a.log"));
    assert_true(tailer_glob_match("/var/log/**/*.log", "/var/log/x/y/a.log"));
    assert_false(tailer_glob_match("/var/log/**/*.log", "/var/log/x/a.log.gz"));
    assert_true(tailer_glob_match("**/*.gz", "/var/log/x/a.log.gz"));
    assert_true(tailer_glob_match("/l/a?[0-9].log", "/l/ab7.log"));
    assert_false(tailer_glob_match("/l/a?[!0-9].log", "/l/ab7.log"));
    assert_true(tailer_glob_match("/l/**", "/l/x/y"));
}

static void reads_lines_and_excludes(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "one\ntwo\npart", "w");
    write_file(f, "skip-me.log", "no\n", "w");
    tailer_options o = options(f);
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    assert_int_equal(tailer_open_files(t), 1);
    lines l = {0};
    drain(t, &l);
    assert_string_equal(l.text, "one|two|");
    write_file(f, "a.log", "ial\n", "a");
    drain(t, &l);
    assert_string_equal(l.text, "one|two|partial|");
    assert_int_equal(l.last_end, 16);
    tailer_free(t);
}

static void fingerprint_needs_a_first_line(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "no newline yet", "w");
    tailer_options o = options(f);
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    assert_int_equal(tailer_open_files(t), 0);
    write_file(f, "a.log", "\nsecond\n", "a");
    tailer_scan(t);
    assert_int_equal(tailer_open_files(t), 1);

    char path[PATH_MAX];
    file_path(f, "a.log", path);
    int fd = open(path, O_RDONLY);
    uint64_t fp1, fp2;
    assert_int_equal(tailer_fingerprint_fd(t, fd, &fp1), 1);
    close(fd);
    write_file(f, "b.log", "no newline yet\nother\n", "w");
    file_path(f, "b.log", path);
    fd = open(path, O_RDONLY);
    assert_int_equal(tailer_fingerprint_fd(t, fd, &fp2), 1);
    close(fd);
    assert_true(fp1 == fp2);   /* same first line, same fingerprint */
    tailer_free(t);
}

static int fingerprint_of(tailer *t, fixture *f, const char *name, uint64_t *fp)
{
    char path[PATH_MAX];
    file_path(f, name, path);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    int rc = tailer_fingerprint_fd(t, fd, fp);
    close(fd);
    return rc;
}

static void fingerprint_of_long_first_lines(void **state)
{
    fixture *f = *state;
    tailer_options o = options(f);
    tailer *t = new_tailer(f, &o);
    char *text = malloc(70 * 1024 + 1);
    memset(text, 'y', 70 * 1024);
    text[5000] = '\0';
    write_file(f, "a.log", text, "w");
    uint64_t fp1, fp2;
    assert_int_equal(fingerprint_of(t, f, "a.log", &fp1), 0);   /* no line end yet */
    write_file(f, "a.log", "\n", "a");
    assert_int_equal(fingerprint_of(t, f, "a.log", &fp1), 1);
    write_file(f, "a.log", "more\n", "a");
    assert_int_equal(fingerprint_of(t, f, "a.log", &fp2), 1);
    assert_true(fp1 == fp2);
    /* A first line beyond the most bytes hashed: those bytes are enough. */
    text[5000] = 'y';
    text[70 * 1024] = '\0';
    write_file(f, "b.log", text, "w");
    assert_int_equal(fingerprint_of(t, f, "b.log", &fp1), 1);
    free(text);
    tailer_free(t);
}

static void device_and_inode_reads_short_files(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "", "w");
    tailer_options o = options(f);
    o.fingerprint = TAILER_FP_DEVICE_AND_INODE;
    tailer *t = new_tailer(f, &o);
    uint64_t fp1, fp2;
    assert_int_equal(fingerprint_of(t, f, "a.log", &fp1), 1);
    tailer_scan(t);
    assert_int_equal(tailer_open_files(t), 1);
    write_file(f, "a.log", "x\n", "a");
    char from[PATH_MAX], to[PATH_MAX];
    file_path(f, "a.log", from);
    file_path(f, "b.log", to);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(fingerprint_of(t, f, "b.log", &fp2), 1);
    assert_true(fp1 == fp2);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_string_equal(l.text, "x|");
    assert_int_equal(tailer_open_files(t), 1);
    tailer_free(t);
}

static void checkpoint_round_trip(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "one\ntwo\n", "w");
    tailer_options o = options(f);
    tailer *t = new_tailer(f, &o);
    sl_error err;
    assert_int_equal(tailer_load(t, &err), 0);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_int_equal(tailer_save(t, &err), 1);
    assert_int_equal(tailer_save(t, &err), 0);   /* unchanged: not written */
    tailer_free(t);

    /* Renamed while stopped, then appended: resumes after "two". */
    char from[PATH_MAX], to[PATH_MAX];
    file_path(f, "a.log", from);
    file_path(f, "b.log", to);
    assert_int_equal(rename(from, to), 0);
    write_file(f, "b.log", "three\n", "a");
    t = new_tailer(f, &o);
    assert_int_equal(tailer_load(t, &err), 0);
    tailer_scan(t);
    lines l2 = {0};
    drain(t, &l2);
    assert_string_equal(l2.text, "three|");
    tailer_free(t);
}

static void commit_without_auto_commit(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "one\ntwo\n", "w");
    tailer_options o = options(f);
    o.auto_commit = false;
    tailer *t = new_tailer(f, &o);
    sl_error err;
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_int_equal(tailer_save(t, &err), 1);   /* the new file, at 0 */
    char path[PATH_MAX];
    file_path(f, "a.log", path);
    int fd = open(path, O_RDONLY);
    uint64_t fp;
    assert_int_equal(tailer_fingerprint_fd(t, fd, &fp), 1);
    close(fd);
    tailer_commit(t, fp, 0, 4);   /* only "one" delivered */
    assert_int_equal(tailer_save(t, &err), 1);
    tailer_free(t);

    t = new_tailer(f, &o);
    assert_int_equal(tailer_load(t, &err), 0);
    tailer_scan(t);
    lines l2 = {0};
    drain(t, &l2);
    assert_string_equal(l2.text, "two|");
    tailer_free(t);
}

static void corrupt_checkpoint_is_set_aside(void **state)
{
    fixture *f = *state;
    write_file(f, "checkpoints.json", "{not json", "w");
    write_file(f, "a.log", "one\n", "w");
    tailer_options o = options(f);
    tailer *t = new_tailer(f, &o);
    sl_error err;
    assert_int_equal(tailer_load(t, &err), 1);
    char aside[PATH_MAX];
    snprintf(aside, sizeof(aside), "%s.corrupt", f->ckpt);
    assert_int_equal(access(aside, F_OK), 0);
    assert_int_not_equal(access(f->ckpt, F_OK), 0);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_string_equal(l.text, "one|");
    tailer_free(t);

    /* Valid JSON of the wrong shape is corrupt too. */
    write_file(f, "checkpoints.json", "{\"version\":1,\"checkpoints\":[{\"path\":1}]}", "w");
    t = new_tailer(f, &o);
    assert_int_equal(tailer_load(t, &err), 1);
    tailer_free(t);
}

static void read_from_end_applies_to_the_first_scan(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "old\n", "w");
    tailer_options o = options(f);
    o.read_from_end = true;
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    write_file(f, "a.log", "new\n", "a");
    write_file(f, "b.log", "later\n", "w");
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_true(strstr(l.text, "new|") != NULL);
    assert_true(strstr(l.text, "later|") != NULL);
    assert_null(strstr(l.text, "old|"));
    tailer_free(t);
}

static void truncation_rereads_from_start(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "first line\nsecond line\n", "w");
    tailer_options o = options(f);
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    write_file(f, "a.log", "first line\n", "w");   /* truncated, same first line */
    drain(t, &l);
    drain(t, &l);
    assert_string_equal(l.text, "first line|second line|first line|");
    tailer_free(t);
}

static void deleted_file_is_drained_and_closed(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "one\n", "w");
    tailer_options o = options(f);
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    write_file(f, "a.log", "two\n", "a");
    char path[PATH_MAX];
    file_path(f, "a.log", path);
    assert_int_equal(unlink(path), 0);
    lines l = {0};
    drain(t, &l);
    assert_string_equal(l.text, "one|two|");
    assert_int_equal(tailer_open_files(t), 0);
    tailer_free(t);
}

static void renamed_file_keeps_its_position(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "a1\n", "w");
    tailer_options o = options(f);
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    char from[PATH_MAX], to[PATH_MAX];
    file_path(f, "a.log", from);
    file_path(f, "a.log.1", to);   /* leaves the pattern */
    write_file(f, "a.log", "a2\n", "a");
    assert_int_equal(rename(from, to), 0);
    write_file(f, "a.log", "b1\n", "w");
    tailer_scan(t);
    drain(t, &l);
    assert_int_equal(l.n, 3);
    assert_true(strstr(l.text, "a2|") != NULL);
    assert_true(strstr(l.text, "b1|") != NULL);
    assert_int_equal(tailer_open_files(t), 1);   /* the old one is closed */
    tailer_free(t);
}

static void oversized_lines_are_discarded(void **state)
{
    fixture *f = *state;
    char big[400];
    memset(big, 'x', sizeof(big) - 2);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    write_file(f, "a.log", "ok\n", "w");
    write_file(f, "a.log", big, "a");
    write_file(f, "a.log", "after\n", "a");
    tailer_options o = options(f);
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_string_equal(l.text, "ok|after|");
    assert_int_equal(tailer_discarded_lines(t), 1);
    tailer_free(t);
}

static void oversized_lines_are_truncated(void **state)
{
    fixture *f = *state;
    /* 99 bytes, then a two-byte character across the 100-byte limit. */
    char split[256];
    memset(split, 'y', 99);
    snprintf(split + 99, sizeof(split) - 99, "\xc3\xa9tail\n");
    /* Longer than the read buffer: its delimiter comes in a later read. */
    static char huge[6002];
    memset(huge, 'z', 6000);
    huge[6000] = '\n';
    write_file(f, "a.log", "ok\n", "w");
    write_file(f, "a.log", split, "a");
    write_file(f, "a.log", huge, "a");
    write_file(f, "a.log", "after\n", "a");
    tailer_options o = options(f);
    o.truncate_long_lines = true;
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    char want[512];
    snprintf(want, sizeof(want), "ok|%.99s|%.100s|after|", split, huge);
    assert_string_equal(l.text, want);
    assert_int_equal(tailer_truncated_lines(t), 2);
    assert_int_equal(tailer_discarded_lines(t), 0);
    assert_int_equal(l.last_end, 3 + strlen(split) + 6001 + 6);
    tailer_free(t);
}

static void multibyte_delimiter(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "one\r\ntwo\nstill two\r\n", "w");
    tailer_options o = options(f);
    o.delimiter = "\r\n";
    o.delimiter_len = 2;
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_string_equal(l.text, "one|two\nstill two|");
    tailer_free(t);
}

/* ------------------------------------------------------------ inotify */

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, timeout_ms) == 1;
}

/* The notes that arrive within a second. */
static unsigned notes_within_a_second(tailer *t)
{
    unsigned bits = 0;
    for (int i = 0; i < 10 && !(bits & TAILER_NOTE_FILES); i++) {
        if (!readable(tailer_wait_fd(t), 100))
            continue;
        bits |= tailer_take_notes(t);
    }
    return bits;
}

static tailer *watching_tailer(fixture *f, const tailer_options *o)
{
    tailer *t = new_tailer(f, o);
    if (tailer_wait_fd(t) < 0) {
        tailer_free(t);
        skip();   /* no inotify here: the tailer polls, nothing to test */
    }
    return t;
}

static void append_to_a_followed_file_notes_data(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "one\n", "w");
    tailer_options o = options(f);
    tailer *t = watching_tailer(f, &o);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_int_equal(tailer_take_notes(t), 0);

    write_file(f, "a.log", "two\n", "a");
    assert_true(readable(tailer_wait_fd(t), 2000));
    assert_int_equal(tailer_take_notes(t), TAILER_NOTE_DATA);
    assert_false(readable(tailer_wait_fd(t), 0));   /* all taken */
    drain(t, &l);
    assert_string_equal(l.text, "one|two|");

    /* The checkpoint file shares the directory but is no log: no note. */
    sl_error err;
    assert_int_equal(tailer_save(t, &err), 1);
    if (readable(tailer_wait_fd(t), 200))
        assert_int_equal(tailer_take_notes(t), 0);
    tailer_free(t);
}

static void new_file_notes_files(void **state)
{
    fixture *f = *state;
    tailer_options o = options(f);
    tailer *t = watching_tailer(f, &o);
    tailer_scan(t);   /* nothing yet, but the pattern's directory is watched */
    write_file(f, "a.log", "first\n", "w");
    assert_true(notes_within_a_second(t) & TAILER_NOTE_FILES);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_string_equal(l.text, "first|");

    /* A file without a first line is not followed yet; when it gets one,
     * the write asks for a rescan. */
    write_file(f, "b.log", "no end", "w");
    assert_true(notes_within_a_second(t) & TAILER_NOTE_FILES);
    tailer_scan(t);
    assert_int_equal(tailer_files(t), 1);
    write_file(f, "b.log", "\n", "a");
    assert_true(notes_within_a_second(t) & TAILER_NOTE_FILES);
    tailer_scan(t);
    assert_int_equal(tailer_files(t), 2);
    tailer_free(t);
}

static void new_subdirectory_of_a_double_star_pattern_is_watched(void **state)
{
    fixture *f = *state;
    snprintf(f->pattern, sizeof(f->pattern), "%s/**/*.log", f->dir);
    tailer_options o = options(f);
    tailer *t = watching_tailer(f, &o);
    tailer_scan(t);

    char sub[PATH_MAX];
    file_path(f, "sub", sub);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_true(notes_within_a_second(t) & TAILER_NOTE_FILES);
    tailer_scan(t);   /* walks into sub and watches it */
    write_file(f, "sub/x.log", "deep\n", "w");
    assert_true(notes_within_a_second(t) & TAILER_NOTE_FILES);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_string_equal(l.text, "deep|");
    tailer_free(t);
}

static void new_directory_level_of_a_glob_pattern_is_watched(void **state)
{
    fixture *f = *state;
    snprintf(f->pattern, sizeof(f->pattern), "%s/*/*/*.log", f->dir);
    tailer_options o = options(f);
    tailer *t = watching_tailer(f, &o);
    tailer_scan(t);

    char dir[PATH_MAX];
    file_path(f, "pod", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_true(notes_within_a_second(t) & TAILER_NOTE_FILES);
    tailer_scan(t);
    file_path(f, "pod/app", dir);
    assert_int_equal(mkdir(dir, 0755), 0);   /* no file yet: still watched */
    assert_true(notes_within_a_second(t) & TAILER_NOTE_FILES);
    tailer_scan(t);
    write_file(f, "pod/app/0.log", "hello\n", "w");
    assert_true(notes_within_a_second(t) & TAILER_NOTE_FILES);
    tailer_scan(t);
    lines l = {0};
    drain(t, &l);
    assert_string_equal(l.text, "hello|");
    tailer_free(t);
}

/* ------------------------------------------------------- max_open_files */

#define NFILES 5

typedef struct follow_log {
    lines l;
    int users;                 /* per-file states the callback created */
    int closed[NFILES];        /* file_closed calls per file */
    int closed_total;
    bool closed_without_user;
} follow_log;

static int file_index(const tailer_file *file)
{
    const char *slash = strrchr(file->path, '/');
    return slash[1] - 'a';
}

/* Keeps a per-file state in file->user, as the sources do. */
static int collect_with_state(void *ud, tailer_file *file, const char *line, size_t len,
                              uint64_t end)
{
    follow_log *fl = ud;
    if (!file->user) {
        file->user = malloc(1);
        fl->users++;
    }
    return collect(&fl->l, file, line, len, end);
}

static void note_closed(void *ud, tailer_file *file)
{
    follow_log *fl = ud;
    fl->closed[file_index(file)]++;
    fl->closed_total++;
    if (!file->user)
        fl->closed_without_user = true;
    free(file->user);
}

/* Reads until no file has anything left, checking the descriptor limit
 * after every read. */
static void drain_within(tailer *t, follow_log *fl, size_t max_open, uint32_t max_lines)
{
    static char buf[4096];
    size_t used;
    while (tailer_read(t, buf, sizeof(buf), max_lines, collect_with_state, fl, &used) > 0)
        assert_true(tailer_open_files(t) <= max_open);
    assert_true(tailer_open_files(t) <= max_open);
}

static void write_numbered_lines(fixture *f, int from, int to)
{
    for (int i = 0; i < NFILES; i++) {
        char name[16], text[256] = "";
        snprintf(name, sizeof(name), "%c.log", 'a' + i);
        for (int k = from; k < to; k++) {
            char line[16];
            snprintf(line, sizeof(line), "%c%d\n", 'a' + i, k);
            strcat(text, line);
        }
        write_file(f, name, text, "a");
    }
}

static int times_read(const lines *l, const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *p = l->text; *p; p = strchr(p, '|') + 1)
        n += strncmp(p, line, len) == 0 && p[len] == '|';
    return n;
}

static void assert_each_line_once(const lines *l, int to)
{
    assert_int_equal(l->n, (size_t)(NFILES * to));
    for (int i = 0; i < NFILES; i++)
        for (int k = 0; k < to; k++) {
            char line[16];
            snprintf(line, sizeof(line), "%c%d", 'a' + i, k);
            assert_int_equal(times_read(l, line), 1);
        }
}

static void files_take_turns_under_max_open_files(void **state)
{
    fixture *f = *state;
    write_numbered_lines(f, 0, 4);
    follow_log fl = {0};
    tailer_options o = options(f);
    o.max_open_files = 2;
    o.file_closed = note_closed;
    o.ud = &fl;
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    assert_int_equal(tailer_open_files(t), 2);
    assert_int_equal(tailer_files(t), NFILES);

    drain_within(t, &fl, 2, 3);   /* 3 lines a read: files stop mid-way */
    assert_each_line_once(&fl.l, 4);
    assert_int_equal(fl.closed_total, 0);   /* parking is not closing */

    write_numbered_lines(f, 4, 9);
    tailer_scan(t);
    drain_within(t, &fl, 2, 1000);
    assert_each_line_once(&fl.l, 9);
    assert_int_equal(fl.users, NFILES);    /* the state survived parking */
    assert_int_equal(fl.closed_total, 0);

    for (int i = 0; i < NFILES; i++) {
        char name[16], path[PATH_MAX];
        snprintf(name, sizeof(name), "%c.log", 'a' + i);
        file_path(f, name, path);
        assert_int_equal(unlink(path), 0);
    }
    tailer_scan(t);
    drain_within(t, &fl, 2, 1000);
    assert_int_equal(tailer_files(t), 0);
    assert_int_equal(tailer_open_files(t), 0);
    for (int i = 0; i < NFILES; i++)
        assert_int_equal(fl.closed[i], 1);
    assert_false(fl.closed_without_user);
    tailer_free(t);
    assert_int_equal(fl.closed_total, NFILES);   /* nothing left for free */
}

static void parked_file_is_found_by_inode(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "a0\n", "w");
    write_file(f, "b.log", "b0\n", "w");
    follow_log fl = {0};
    tailer_options o = options(f);
    o.max_open_files = 1;
    o.file_closed = note_closed;
    o.ud = &fl;
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    assert_int_equal(tailer_open_files(t), 1);
    assert_int_equal(tailer_files(t), 2);

    /* Both renamed within the patterns before a rescan: the parked one
     * can't be reopened by its old path when its turn comes, but is not
     * given up; the scan finds it by inode under its new name. */
    char a[PATH_MAX], a2[PATH_MAX], b[PATH_MAX], b2[PATH_MAX];
    file_path(f, "a.log", a);
    file_path(f, "a2.log", a2);
    file_path(f, "b.log", b);
    file_path(f, "b2.log", b2);
    assert_int_equal(rename(a, a2), 0);
    assert_int_equal(rename(b, b2), 0);
    write_file(f, "a2.log", "a1\n", "a");
    write_file(f, "b2.log", "b1\n", "a");
    drain_within(t, &fl, 1, 1000);
    assert_int_equal(fl.l.n, 2);   /* the open one's lines */
    tailer_scan(t);
    assert_int_equal(tailer_files(t), 2);
    drain_within(t, &fl, 1, 1000);
    assert_int_equal(fl.l.n, 4);
    assert_int_equal(times_read(&fl.l, "a0") + times_read(&fl.l, "a1") +
                     times_read(&fl.l, "b0") + times_read(&fl.l, "b1"), 4);
    assert_int_equal(fl.closed_total, 0);

    /* Deleted: the open one is drained and closed, the parked one ends at
     * the scan; each is closed once. */
    write_file(f, "a2.log", "a2\n", "a");
    write_file(f, "b2.log", "b2\n", "a");
    assert_int_equal(unlink(a2), 0);
    assert_int_equal(unlink(b2), 0);
    tailer_scan(t);
    drain_within(t, &fl, 1, 1000);
    assert_int_equal(tailer_files(t), 0);
    assert_int_equal(fl.closed[0], 1);
    assert_int_equal(fl.closed[1], 1);
    tailer_free(t);
    assert_int_equal(fl.closed_total, 2);
}

/* --------------------------------------------------------- oldest_first */

static void set_mtime(fixture *f, const char *name, time_t when)
{
    char path[PATH_MAX];
    file_path(f, name, path);
    struct timespec ts[2] = { { when, 0 }, { when, 0 } };
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void oldest_first_drains_the_oldest_file_first(void **state)
{
    fixture *f = *state;
    write_file(f, "a.log", "a1\na2\n", "w");
    write_file(f, "b.log", "b1\nb2\n", "w");
    write_file(f, "c.log", "c1\nc2\n", "w");
    time_t now = time(NULL);
    set_mtime(f, "b.log", now - 300);   /* oldest */
    set_mtime(f, "c.log", now - 200);
    set_mtime(f, "a.log", now - 100);   /* youngest */
    tailer_options o = options(f);
    o.oldest_first = true;
    tailer *t = new_tailer(f, &o);
    tailer_scan(t);
    lines l = {0};
    static char buf[4096];
    size_t used;
    while (tailer_read(t, buf, sizeof(buf), 1, collect, &l, &used) > 0)
        ;
    assert_string_equal(l.text, "b1|b2|c1|c2|a1|a2|");

    /* New data in an older file comes before a younger one's. */
    write_file(f, "a.log", "a3\n", "a");
    write_file(f, "b.log", "b3\n", "a");
    while (tailer_read(t, buf, sizeof(buf), 1, collect, &l, &used) > 0)
        ;
    assert_string_equal(l.text, "b1|b2|c1|c2|a1|a2|b3|a3|");
    tailer_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(glob_match_rules),
        cmocka_unit_test_setup_teardown(reads_lines_and_excludes, setup, teardown),
        cmocka_unit_test_setup_teardown(fingerprint_needs_a_first_line, setup, teardown),
        cmocka_unit_test_setup_teardown(fingerprint_of_long_first_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(device_and_inode_reads_short_files, setup, teardown),
        cmocka_unit_test_setup_teardown(checkpoint_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_without_auto_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_checkpoint_is_set_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(read_from_end_applies_to_the_first_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(truncation_rereads_from_start, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted_file_is_drained_and_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(renamed_file_keeps_its_position, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_lines_are_discarded, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_lines_are_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(multibyte_delimiter, setup, teardown),
        cmocka_unit_test_setup_teardown(append_to_a_followed_file_notes_data, setup, teardown),
        cmocka_unit_test_setup_teardown(new_file_notes_files, setup, teardown),
        cmocka_unit_test_setup_teardown(new_subdirectory_of_a_double_star_pattern_is_watched,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(new_directory_level_of_a_glob_pattern_is_watched,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(files_take_turns_under_max_open_files, setup, teardown),
        cmocka_unit_test_setup_teardown(parked_file_is_found_by_inode, setup, teardown),
        cmocka_unit_test_setup_teardown(oldest_first_drains_the_oldest_file_first,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
