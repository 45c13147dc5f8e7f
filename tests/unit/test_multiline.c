/* Unit tests: the multiline aggregator against Vector's own line_agg.rs test
 * cases and documentation examples, its timeouts, checkpoint positions and
 * size bound, and a randomized comparison with a direct model of Vector's
 * algorithm. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sources/tail/multiline.h"

#define MS 1000000LL
#define MAX_MESSAGES 256
#define RANDOM_LINES 2000

static ml_rules *rules_ok(const char *start, const char *condition, ml_mode mode,
                          uint64_t timeout_ms, size_t max_bytes)
{
    ml_config c = {start, condition, mode, timeout_ms, max_bytes};
    ml_rules *r = NULL;
    sl_error err = {{0}};
    if (ml_rules_new(&c, &r, &err) != 0)
        fail_msg("%s", err.msg);
    return r;
}

/* Messages gathered from a group, copied because theirs last one call. */
typedef struct collected {
    char *text[MAX_MESSAGES];
    uint64_t end[MAX_MESSAGES];
    size_t n;
} collected;

static void collect(collected *c, const ml_message *m)
{
    assert_true(c->n < MAX_MESSAGES);
    c->text[c->n] = malloc(m->len + 1);
    assert_non_null(c->text[c->n]);
    memcpy(c->text[c->n], m->data, m->len);
    c->text[c->n][m->len] = '\0';
    c->end[c->n++] = m->end;
}

static void collected_free(collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->text[i]);
    c->n = 0;
}

/* Feeds lines as a file holds them, one per "\n", with no time passing,
 * then closes the file, as Vector's tests run to the end of their stream. */
static void feed_all(ml_group *g, const char *const *lines, size_t n, collected *c)
{
    uint64_t offset = 0;
    ml_message m;
    sl_error err = {{0}};
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lines[i]);
        int rc = ml_feed(g, lines[i], len, offset, offset + len + 1, 0, &m, &err);
        assert_int_not_equal(rc, -1);
        if (rc == 1)
            collect(c, &m);
        offset += len + 1;
    }
    if (ml_flush(g, 0, true, &m))
        collect(c, &m);
    assert_int_equal(ml_flush(g, 0, true, &m), 0);
    assert_true(ml_held_from(g) == UINT64_MAX);
}

static void expect_messages(const char *start, const char *condition, ml_mode mode,
                            const char *const *lines, size_t nlines,
                            const char *const *expected, size_t nexpected)
{
    ml_rules *r = rules_ok(start, condition, mode, 1000, SIZE_MAX);
    ml_group *g = ml_group_new(r);
    assert_non_null(g);
    collected c = {0};
    feed_all(g, lines, nlines, &c);
    for (size_t i = 0; i < c.n && i < nexpected; i++)
        assert_string_equal(c.text[i], expected[i]);
    assert_int_equal(c.n, nexpected);
    collected_free(&c);
    ml_group_free(g);
    ml_rules_free(r);
}

#define EXPECT(start, condition, mode, lines, expected)                                    \
    expect_messages(start, condition, mode, lines, SL_ARRAY_LEN(lines), expected,          \
                    SL_ARRAY_LEN(expected))

/* ---- Vector's test cases (src/line_agg.rs) and documentation examples ---- */

static void continue_through_joins_indented_lines(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "some usual line", "some other usual line", "first part", " second part",
        " last part", "another normal message", "finishing message",
        " last part of the incomplete finishing message",
    };
    static const char *const expected[] = {
        "some usual line", "some other usual line", "first part\n second part\n last part",
        "another normal message",
        "finishing message\n last part of the incomplete finishing message",
    };
    EXPECT("^[^\\s]", "^[\\s]+", ML_CONTINUE_THROUGH, lines, expected);
}

static void continue_through_java_stack_trace(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "Exception in thread \"main\" java.lang.IllegalStateException: boom",
        "    at com.example.Foo.bar(Foo.java:10)",
        "    at com.example.Main.main(Main.java:3)",
        "Caused by: java.io.IOException: disk",
        "\tat com.example.Disk.read(Disk.java:7)",
        "2024-01-02 INFO next",
    };
    static const char *const expected[] = {
        "Exception in thread \"main\" java.lang.IllegalStateException: boom\n"
        "    at com.example.Foo.bar(Foo.java:10)\n"
        "    at com.example.Main.main(Main.java:3)",
        "Caused by: java.io.IOException: disk\n\tat com.example.Disk.read(Disk.java:7)",
        "2024-01-02 INFO next",
    };
    EXPECT("^[^\\s]", "^[\\s]+", ML_CONTINUE_THROUGH, lines, expected);
}

static void continue_past_joins_lines_ending_in_backslash(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "some usual line", "some other usual line", "first part \\", "second part \\",
        "last part", "another normal message", "finishing message \\",
        "last part of the incomplete finishing message \\",
    };
    static const char *const expected[] = {
        "some usual line", "some other usual line",
        "first part \\\nsecond part \\\nlast part", "another normal message",
        "finishing message \\\nlast part of the incomplete finishing message \\",
    };
    EXPECT("\\\\$", "\\\\$", ML_CONTINUE_PAST, lines, expected);
}

static void halt_before_starts_at_each_marker(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "INFO some usual line", "INFO some other usual line", "INFO first part",
        "second part", "last part", "ERROR another normal message",
        "ERROR finishing message", "last part of the incomplete finishing message",
    };
    static const char *const expected[] = {
        "INFO some usual line", "INFO some other usual line",
        "INFO first part\nsecond part\nlast part", "ERROR another normal message",
        "ERROR finishing message\nlast part of the incomplete finishing message",
    };
    EXPECT("", "^(INFO|ERROR) ", ML_HALT_BEFORE, lines, expected);
}

static void halt_with_ends_at_semicolon(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "some usual line;", "some other usual line;", "first part", "second part",
        "last part;", "another normal message;", "finishing message",
        "last part of the incomplete finishing message",
    };
    static const char *const expected[] = {
        "some usual line;", "some other usual line;", "first part\nsecond part\nlast part;",
        "another normal message;",
        "finishing message\nlast part of the incomplete finishing message",
    };
    EXPECT("[^;]$", ";$", ML_HALT_WITH, lines, expected);
}

/* As Vector does: a line that ends a group is taken anew, and passes
 * alone unless it matches start_pattern. */
static void ending_line_is_taken_anew_in_continue_through(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "not merged 1", " merged 1", " merged 2", "not merged 2", " merged 3", " merged 4",
        "not merged 3", "not merged 4", " merged 5", "not merged 5", " merged 6",
        " merged 7", " merged 8", "not merged 6",
    };
    static const char *const expected[] = {
        "not merged 1", " merged 1\n merged 2", "not merged 2", " merged 3\n merged 4",
        "not merged 3", "not merged 4", " merged 5", "not merged 5",
        " merged 6\n merged 7\n merged 8", "not merged 6",
    };
    EXPECT("^\\s", "^\\s", ML_CONTINUE_THROUGH, lines, expected);
}

static void ending_line_is_taken_anew_in_halt_before(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "part 0.1", "part 0.2", "START msg 1", "part 1.1", "part 1.2", "START msg 2",
        "START msg 3", "part 3.1", "START msg 4", "part 4.1", "part 4.2", "part 4.3",
        "START msg 5",
    };
    static const char *const expected[] = {
        "part 0.1\npart 0.2", "START msg 1\npart 1.1\npart 1.2", "START msg 2",
        "START msg 3\npart 3.1", "START msg 4\npart 4.1\npart 4.2\npart 4.3", "START msg 5",
    };
    EXPECT("", "^START ", ML_HALT_BEFORE, lines, expected);
}

/* ---- the aggregator's own contract ---- */

static int feed_at(ml_group *g, const char *line, uint64_t start, int64_t now, ml_message *m)
{
    sl_error err = {{0}};
    size_t len = strlen(line);
    int rc = ml_feed(g, line, len, start, start + len + 1, now, m, &err);
    assert_int_not_equal(rc, -1);
    return rc;
}

static void lone_lines_pass_through_uncopied(void **state)
{
    (void)state;
    ml_rules *r = rules_ok("^START", "^\\s", ML_CONTINUE_THROUGH, 1000, SIZE_MAX);
    ml_group *g = ml_group_new(r);
    ml_message m;
    const char *line = "plain";
    assert_int_equal(feed_at(g, line, 0, 0, &m), 1);
    assert_ptr_equal(m.data, line);
    assert_int_equal(m.len, 5);
    assert_int_equal(m.end, 6);
    assert_true(ml_held_from(g) == UINT64_MAX);
    /* an empty line is a message too */
    assert_int_equal(feed_at(g, "", 6, 0, &m), 1);
    assert_int_equal(m.len, 0);
    assert_int_equal(m.end, 7);
    ml_group_free(g);
    ml_rules_free(r);
}

static void timeout_counts_from_the_last_joined_line(void **state)
{
    (void)state;
    ml_rules *r = rules_ok("^START", "^\\s", ML_CONTINUE_THROUGH, 1000, SIZE_MAX);
    ml_group *g = ml_group_new(r);
    ml_message m;
    assert_int_equal(feed_at(g, "START", 0, 0, &m), 0);
    assert_int_equal(ml_flush(g, 999 * MS, false, &m), 0);
    assert_int_equal(feed_at(g, " more", 6, 999 * MS, &m), 0);
    assert_int_equal(ml_flush(g, 1998 * MS, false, &m), 0);
    assert_int_equal(ml_flush(g, 1999 * MS, false, &m), 1);
    assert_int_equal(m.len, 11);
    assert_memory_equal(m.data, "START\n more", 11);
    assert_int_equal(m.end, 12);
    assert_true(ml_held_from(g) == UINT64_MAX);
    assert_int_equal(ml_flush(g, 5000 * MS, false, &m), 0);
    ml_group_free(g);
    ml_rules_free(r);
}

/* A line that ends a group and stands alone waits for the next call; any
 * flush releases it, whatever the time. */
static void a_lone_line_after_a_group_waits_one_call(void **state)
{
    (void)state;
    ml_rules *r = rules_ok("^START", "^\\s", ML_CONTINUE_THROUGH, 1000, SIZE_MAX);
    ml_group *g = ml_group_new(r);
    ml_message m;
    assert_int_equal(feed_at(g, "START", 0, 0, &m), 0);
    assert_int_equal(feed_at(g, "alone", 6, 0, &m), 1);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "START", 5);
    assert_int_equal(m.end, 6);
    assert_int_equal(ml_held_from(g), 6);
    assert_int_equal(ml_flush(g, 0, false, &m), 1);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "alone", 5);
    assert_int_equal(m.end, 12);
    assert_true(ml_held_from(g) == UINT64_MAX);
    ml_group_free(g);
    ml_rules_free(r);
}

/* Where a checkpoint may go while lines are held, and the ends of the
 * messages, through a group that ends before a line that opens the next. */
static void held_from_follows_the_first_held_line(void **state)
{
    (void)state;
    ml_rules *r = rules_ok("^[^\\s]", "^\\s", ML_CONTINUE_THROUGH, 1000, SIZE_MAX);
    ml_group *g = ml_group_new(r);
    ml_message m;
    assert_true(ml_held_from(g) == UINT64_MAX);
    assert_int_equal(feed_at(g, "first", 100, 0, &m), 0);
    assert_int_equal(ml_held_from(g), 100);
    assert_int_equal(feed_at(g, " cont", 106, 0, &m), 0);
    assert_int_equal(ml_held_from(g), 100);
    assert_int_equal(feed_at(g, "second", 112, 0, &m), 1);
    assert_int_equal(m.end, 112);
    assert_int_equal(m.len, 11);
    assert_memory_equal(m.data, "first\n cont", 11);
    assert_int_equal(ml_held_from(g), 112);
    assert_int_equal(ml_flush(g, 0, true, &m), 1);
    assert_int_equal(m.end, 119);
    assert_int_equal(m.len, 6);
    assert_memory_equal(m.data, "second", 6);
    assert_true(ml_held_from(g) == UINT64_MAX);
    ml_group_free(g);
    ml_rules_free(r);
}

/* A group that a line would push past max_bytes is emitted as it is, and
 * the line starts the next group even though it does not match start. */
static void groups_never_exceed_max_bytes(void **state)
{
    (void)state;
    ml_rules *r = rules_ok("^[^\\s]", "^\\s", ML_CONTINUE_THROUGH, 1000, 10);
    ml_group *g = ml_group_new(r);
    ml_message m;
    assert_int_equal(feed_at(g, "abcd", 0, 0, &m), 0);
    assert_int_equal(feed_at(g, " efg", 5, 0, &m), 0);          /* 9 bytes */
    assert_int_equal(feed_at(g, " h", 10, 0, &m), 1);           /* 12 > 10 */
    assert_int_equal(m.len, 9);
    assert_memory_equal(m.data, "abcd\n efg", 9);
    assert_int_equal(ml_held_from(g), 10);
    assert_int_equal(feed_at(g, " i", 13, 0, &m), 0);           /* " h\n i" */
    /* a single line longer than the bound is still taken whole */
    assert_int_equal(feed_at(g, " 0123456789ab", 16, 0, &m), 1);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, " h\n i", 5);
    assert_int_equal(ml_flush(g, 0, true, &m), 1);
    assert_int_equal(m.len, 13);
    assert_int_equal(m.end, 30);
    ml_group_free(g);
    ml_rules_free(r);
}

/* A line that would have ended the group with it becomes a message of its
 * own when it does not fit. */
static void an_ending_line_that_does_not_fit_stands_alone(void **state)
{
    (void)state;
    ml_rules *r = rules_ok("[^;]$", ";$", ML_HALT_WITH, 1000, 8);
    ml_group *g = ml_group_new(r);
    ml_message m;
    assert_int_equal(feed_at(g, "abcdef", 0, 0, &m), 0);
    assert_int_equal(feed_at(g, "gh;", 7, 0, &m), 1);
    assert_int_equal(m.len, 6);
    assert_memory_equal(m.data, "abcdef", 6);
    assert_int_equal(ml_held_from(g), 7);
    assert_int_equal(feed_at(g, "x", 11, 0, &m), 1);
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.data, "gh;", 3);
    assert_int_equal(m.end, 11);
    assert_int_equal(ml_held_from(g), 11);
    ml_group_free(g);
    ml_rules_free(r);
}

static void bad_patterns_are_named_with_their_offset(void **state)
{
    (void)state;
    ml_config c = {"^ok", "(ab", ML_HALT_BEFORE, 1000, 100};
    ml_rules *r = NULL;
    sl_error err = {{0}};
    assert_int_equal(ml_rules_new(&c, &r, &err), -1);
    assert_null(r);
    assert_string_equal(err.msg, "multiline.condition_pattern is not a valid regex: missing "
                                 "closing parenthesis (at pattern offset 3)");
    c.start_pattern = "a[";
    assert_int_equal(ml_rules_new(&c, &r, &err), -1);
    assert_string_equal(err.msg, "multiline.start_pattern is not a valid regex: missing "
                                 "terminating ] for character class (at pattern offset 2)");
}

static void mode_names_follow_the_enum(void **state)
{
    (void)state;
    assert_string_equal(ml_mode_names[ML_CONTINUE_THROUGH], "continue_through");
    assert_string_equal(ml_mode_names[ML_CONTINUE_PAST], "continue_past");
    assert_string_equal(ml_mode_names[ML_HALT_BEFORE], "halt_before");
    assert_string_equal(ml_mode_names[ML_HALT_WITH], "halt_with");
    assert_null(ml_mode_names[4]);
}

/* `$` ends the line only at its very end, as in Rust; invalid UTF-8 bytes
 * match nothing, yet the valid rest of the line is still searched. */
static void patterns_match_as_rust_regexes(void **state)
{
    (void)state;
    ml_rules *r = rules_ok("x$", "^\\s", ML_CONTINUE_THROUGH, 1000, SIZE_MAX);
    ml_group *g = ml_group_new(r);
    ml_message m;
    assert_int_equal(feed_at(g, "ax\n", 0, 0, &m), 1);
    assert_int_equal(feed_at(g, "\xff\xfe x", 4, 0, &m), 0);
    assert_int_equal(ml_flush(g, 0, true, &m), 1);
    ml_group_free(g);
    ml_rules_free(r);
}

/* ---- randomized: against a direct model of Vector's algorithm ---- */

/* The model cannot run PCRE2, so the random patterns are a fixed set whose
 * meaning it spells out by hand. */
static const char *const patterns[] = {"^[^\\s]", "^\\s", "\\\\$", ";$", "^START", ""};

static bool model_matches(const char *p, const char *line)
{
    size_t n = strlen(line);
    if (!strcmp(p, "^[^\\s]"))
        return n && !strchr(" \t", line[0]);
    if (!strcmp(p, "^\\s"))
        return n && strchr(" \t", line[0]);
    if (!strcmp(p, "\\\\$"))
        return n && line[n - 1] == '\\';
    if (!strcmp(p, ";$"))
        return n && line[n - 1] == ';';
    if (!strcmp(p, "^START"))
        return !strncmp(line, "START", 5);
    return true;
}

/* Vector's Logic::handle_line over a list of line indexes: a group is
 * lines[first..last]; emitted messages are [first, last] pairs. */
typedef struct model {
    bool open;
    size_t first;
    size_t out[RANDOM_LINES][2];
    size_t n;
} model;

static void model_emit(model *md, size_t first, size_t last)
{
    md->out[md->n][0] = first;
    md->out[md->n][1] = last;
    md->n++;
}

static void model_take_fresh(model *md, const char *start, size_t i, const char *line)
{
    if (model_matches(start, line)) {
        md->open = true;
        md->first = i;
    } else {
        model_emit(md, i, i);
    }
}

static void model_feed(model *md, const char *start, const char *cond, ml_mode mode,
                       size_t i, const char *line)
{
    if (!md->open) {
        model_take_fresh(md, start, i, line);
        return;
    }
    bool m = model_matches(cond, line);
    bool join = mode == ML_CONTINUE_THROUGH || mode == ML_CONTINUE_PAST ? m : !m;
    bool end_with = (mode == ML_CONTINUE_PAST && !m) || (mode == ML_HALT_WITH && m);
    if (end_with) {
        model_emit(md, md->first, i);
        md->open = false;
    } else if (!join) {
        model_emit(md, md->first, i - 1);
        md->open = false;
        model_take_fresh(md, start, i, line);
    }
}

static const char *const pieces[] = {"START", " at x", "\tat y", "plain", "cont \\",
                                     "end;", "", "START;", " \\"};


/* One random run: its lines, their offsets, and how far the output got. */
typedef struct run {
    const char *lines[RANDOM_LINES];
    uint64_t starts[RANDOM_LINES + 1];
    size_t n;
    size_t next;           /* the first line not yet in a message */
    size_t max;
    model md;              /* when the run is compared with the model */
    bool modeled;
    size_t model_next;
} run;

/* A message must be exactly the next lines joined, and end just past the
 * last of them; a modeled run must also cut where Vector does. */
static void check_message(run *t, const ml_message *m)
{
    size_t first = t->next;
    size_t at = 0;
    for (;; t->next++) {
        assert_true(t->next < t->n);
        size_t len = strlen(t->lines[t->next]);
        assert_true(at + len <= m->len);
        assert_memory_equal(m->data + at, t->lines[t->next], len);
        at += len;
        if (at == m->len)
            break;
        assert_int_equal(m->data[at], '\n');
        at++;
    }
    assert_int_equal(m->end, t->starts[t->next + 1]);
    t->next++;
    assert_true(m->len <= t->max || first + 1 == t->next);
    if (t->modeled) {
        assert_true(t->model_next < t->md.n);
        assert_int_equal(t->md.out[t->model_next][0], first);
        assert_int_equal(t->md.out[t->model_next][1], t->next - 1);
        t->model_next++;
    }
}

/* Feeds every line with flushes at random between them, time passing
 * unless the run is compared with the model (which has no timeouts), then
 * closes the file; after each call, what is held must be exactly the lines
 * fed but not yet emitted. */
static void feed_randomly(run *t, ml_group *g, const char *start, const char *cond,
                          ml_mode mode)
{
    int64_t now = 0;
    ml_message m;
    sl_error err = {{0}};
    for (size_t i = 0; i < t->n; i++) {
        size_t len = strlen(t->lines[i]);
        int rc = ml_feed(g, t->lines[i], len, t->starts[i], t->starts[i + 1], now, &m, &err);
        assert_int_not_equal(rc, -1);
        if (t->modeled)
            model_feed(&t->md, start, cond, mode, i, t->lines[i]);
        if (rc == 1)
            check_message(t, &m);
        if (!t->modeled)
            now += (rand() % 4) * 20 * MS;
        if (rand() % 2 && ml_flush(g, now, false, &m))
            check_message(t, &m);
        assert_true(ml_held_from(g) == (t->next <= i ? t->starts[t->next] : UINT64_MAX));
    }
    if (t->modeled && t->md.open)
        model_emit(&t->md, t->md.first, t->n - 1);
    if (ml_flush(g, now, true, &m))
        check_message(t, &m);
    assert_int_equal(ml_flush(g, now, true, &m), 0);
    assert_true(ml_held_from(g) == UINT64_MAX);
    assert_int_equal(t->next, t->n);
    if (t->modeled)
        assert_int_equal(t->model_next, t->md.n);
}

static void random_feeds_reproduce_every_line_in_order(void **state)
{
    (void)state;
    static run t;
    srand(20240611);
    for (int round = 0; round < 300; round++) {
        const char *start = patterns[rand() % SL_ARRAY_LEN(patterns)];
        const char *cond = patterns[rand() % SL_ARRAY_LEN(patterns)];
        ml_mode mode = (ml_mode)(rand() % 4);
        memset(&t, 0, sizeof(t));
        t.modeled = round % 3 == 0;
        t.max = round % 3 == 1 ? (size_t)(5 + rand() % 40) : SIZE_MAX;
        t.n = 1 + (size_t)rand() % RANDOM_LINES;
        for (size_t i = 0; i < t.n; i++) {
            t.lines[i] = pieces[rand() % SL_ARRAY_LEN(pieces)];
            t.starts[i + 1] = t.starts[i] + strlen(t.lines[i]) + 1;
        }
        ml_rules *r = rules_ok(start, cond, mode, 50, t.max);
        ml_group *g = ml_group_new(r);
        assert_non_null(g);
        feed_randomly(&t, g, start, cond, mode);
        ml_group_free(g);
        ml_rules_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(continue_through_joins_indented_lines),
        cmocka_unit_test(continue_through_java_stack_trace),
        cmocka_unit_test(continue_past_joins_lines_ending_in_backslash),
        cmocka_unit_test(halt_before_starts_at_each_marker),
        cmocka_unit_test(halt_with_ends_at_semicolon),
        cmocka_unit_test(ending_line_is_taken_anew_in_continue_through),
        cmocka_unit_test(ending_line_is_taken_anew_in_halt_before),
        cmocka_unit_test(lone_lines_pass_through_uncopied),
        cmocka_unit_test(timeout_counts_from_the_last_joined_line),
        cmocka_unit_test(a_lone_line_after_a_group_waits_one_call),
        cmocka_unit_test(held_from_follows_the_first_held_line),
        cmocka_unit_test(groups_never_exceed_max_bytes),
        cmocka_unit_test(an_ending_line_that_does_not_fit_stands_alone),
        cmocka_unit_test(bad_patterns_are_named_with_their_offset),
        cmocka_unit_test(mode_names_follow_the_enum),
        cmocka_unit_test(patterns_match_as_rust_regexes),
        cmocka_unit_test(random_feeds_reproduce_every_line_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
