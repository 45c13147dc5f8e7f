/* Unit tests: the shared tailer (sources/tailer.c): glob matching with `**`,
 * fingerprints, reading lines, checkpoints round trip, a corrupt checkpoint
 * file, rename, truncation, deletion, oversized lines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sources/tailer.h"

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

static int collect(void *ud, const tailer_file *file, const char *line, size_t len,
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
        cmocka_unit_test_setup_teardown(multibyte_delimiter, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
