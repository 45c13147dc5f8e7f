/* test_log.c - the service log: text and JSON line formats, level filtering,
 * escaping, rate limiting of repeated lines with their "(repeated N times)"
 * summary, and whole lines from concurrent writers. stderr is redirected to
 * a temporary file for each test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/buf.h"
#include "pipeline/log.h"

typedef struct capture {
    int saved_stderr;
    char path[64];
} capture;

static int capture_start(void **state)
{
    capture *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    strcpy(c->path, "/tmp/sluice-test-log-XXXXXX");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    c->saved_stderr = dup(STDERR_FILENO);
    assert_true(c->saved_stderr >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
    slog_configure(SLOG_INFO, SLOG_TEXT);
    *state = c;
    return 0;
}

static int capture_stop(void **state)
{
    capture *c = *state;
    slog_flush();
    dup2(c->saved_stderr, STDERR_FILENO);
    close(c->saved_stderr);
    unlink(c->path);
    free(c);
    return 0;
}

/* Everything written to stderr since the test began (caller frees). */
static char *captured(void **state)
{
    capture *c = *state;
    FILE *f = fopen(c->path, "rb");
    assert_non_null(f);
    buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), 0);
    fclose(f);
    return buf_detach(&b);
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* "2026-11-21T10:00:00.123456Z" */
static bool looks_like_timestamp(const char *s)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return false;
    }
    return true;
}

static void text_line_has_vector_shape(void **state)
{
    slog_info("out", "delivered %d events", 42);
    char *text = captured(state);
    assert_true(looks_like_timestamp(text));
    assert_string_equal(text + 27,
                        "  INFO sluice::component{id=out}: delivered 42 events\n");
    free(text);
}

static void process_line_has_no_component(void **state)
{
    slog_error(NULL, "cannot start");
    char *text = captured(state);
    assert_true(looks_like_timestamp(text));
    assert_string_equal(text + 27, " ERROR sluice: cannot start\n");
    free(text);
}

static void levels_below_the_configured_one_are_dropped(void **state)
{
    slog_configure(SLOG_WARN, SLOG_TEXT);
    assert_false(slog_enabled(SLOG_INFO));
    assert_true(slog_enabled(SLOG_ERROR));
    slog_debug(NULL, "noise");
    slog_info(NULL, "more noise");
    slog_warn(NULL, "kept");
    char *text = captured(state);
    assert_int_equal(count_lines(text), 1);
    assert_non_null(strstr(text, "  WARN sluice: kept\n"));
    free(text);
}

static void text_escapes_control_characters(void **state)
{
    slog_info("in", "line one\nline two\r\x01");
    char *text = captured(state);
    assert_int_equal(count_lines(text), 1);
    assert_non_null(strstr(text, ": line one\\nline two\\r\\x01\n"));
    free(text);
}

static void json_line_is_one_object(void **state)
{
    slog_configure(SLOG_INFO, SLOG_JSON);
    slog_error("out", "peer said \"no\"\nand \xff closed");
    char *text = captured(state);
    assert_int_equal(count_lines(text), 1);
    assert_true(strncmp(text, "{\"timestamp\":\"", 14) == 0);

    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    assert_non_null(obj);
    assert_true(looks_like_timestamp(json_string_value(json_object_get(obj, "timestamp"))));
    assert_string_equal(json_string_value(json_object_get(obj, "level")), "ERROR");
    assert_string_equal(json_string_value(json_object_get(obj, "component_id")), "out");
    assert_string_equal(json_string_value(json_object_get(obj, "message")),
                        "peer said \"no\"\nand \xef\xbf\xbd closed");
    json_decref(obj);
    free(text);
}

static void json_line_omits_a_missing_component(void **state)
{
    slog_configure(SLOG_INFO, SLOG_JSON);
    slog_info(NULL, "ready");
    char *text = captured(state);
    json_t *obj = json_loads(text, 0, NULL);
    assert_non_null(obj);
    assert_null(json_object_get(obj, "component_id"));
    assert_int_equal(json_object_size(obj), 3);
    json_decref(obj);
    free(text);
}

static void repeated_lines_are_written_once_then_summarised(void **state)
{
    for (int i = 0; i < 5; i++)
        slog_error("out", "connection refused");
    slog_error("other", "connection refused");
    slog_error("out", "timed out");
    char *before = captured(state);
    assert_int_equal(count_lines(before), 3);
    free(before);

    slog_flush();
    char *text = captured(state);
    assert_int_equal(count_lines(text), 4);
    assert_non_null(strstr(text, "sluice::component{id=out}: connection refused (repeated 4 times)\n"));
    assert_null(strstr(text, "timed out (repeated"));
    assert_null(strstr(text, "{id=other}: connection refused (repeated"));
    free(text);
}

static void the_summary_follows_the_end_of_the_window(void **state)
{
    slog_warn("in", "slow disk");
    slog_warn("in", "slow disk");
    slog_warn("in", "slow disk");
    sleep(10);
    usleep(200 * 1000);
    slog_info(NULL, "later");
    slog_warn("in", "slow disk");
    char *text = captured(state);
    const char *summary = strstr(text, "slow disk (repeated 2 times)\n");
    const char *later = strstr(text, "later\n");
    assert_non_null(summary);
    assert_non_null(later);
    assert_true(summary < later);
    assert_int_equal(count_lines(text), 4);
    free(text);
}

static void parse_level_and_format(void **state)
{
    (void)state;
    slog_level level;
    slog_format format;
    assert_int_equal(slog_parse_level("debug", &level), 0);
    assert_int_equal(level, SLOG_DEBUG);
    assert_int_equal(slog_parse_level("WARN", &level), 0);
    assert_int_equal(level, SLOG_WARN);
    assert_int_equal(slog_parse_level("warning", &level), 0);
    assert_int_equal(level, SLOG_WARN);
    assert_int_equal(slog_parse_level("loud", &level), -1);
    assert_int_equal(slog_parse_format("json", &format), 0);
    assert_int_equal(format, SLOG_JSON);
    assert_int_equal(slog_parse_format("text", &format), 0);
    assert_int_equal(format, SLOG_TEXT);
    assert_int_equal(slog_parse_format("xml", &format), -1);
}

#define WRITERS 4
#define LINES 300

static void *write_lines(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < LINES; i++)
        slog_info("writer", "writer %d line %d with some padding to make it longer", id, i);
    return NULL;
}

static void concurrent_writers_never_interleave(void **state)
{
    pthread_t threads[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, write_lines, (void *)(intptr_t)i), 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(threads[i], NULL);
    char *text = captured(state);
    assert_int_equal(count_lines(text), WRITERS * LINES);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        assert_true(looks_like_timestamp(line));
        assert_non_null(strstr(line, "  INFO sluice::component{id=writer}: writer "));
        assert_non_null(strstr(line, " with some padding to make it longer"));
    }
    free(text);
}

static void a_limiter_lets_one_message_through_per_interval(void **state)
{
    (void)state;
    log_limiter l = {0};
    uint64_t held = 99;
    assert_true(log_limiter_allow(&l, 3600 * NS_PER_SEC, &held));
    assert_int_equal(held, 0);
    assert_false(log_limiter_allow(&l, 3600 * NS_PER_SEC, &held));
    assert_false(log_limiter_allow(&l, 3600 * NS_PER_SEC, &held));
    assert_int_equal(log_limiter_take_held(&l), 2);
    assert_int_equal(log_limiter_take_held(&l), 0);
    log_limiter quick = {0};
    assert_true(log_limiter_allow(&quick, 0, &held));
    assert_true(log_limiter_allow(&quick, 0, &held));
    assert_int_equal(held, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(text_line_has_vector_shape, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(process_line_has_no_component, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(levels_below_the_configured_one_are_dropped,
                                        capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(text_escapes_control_characters, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(json_line_is_one_object, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(json_line_omits_a_missing_component,
                                        capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(repeated_lines_are_written_once_then_summarised,
                                        capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(the_summary_follows_the_end_of_the_window,
                                        capture_start, capture_stop),
        cmocka_unit_test(parse_level_and_format),
        cmocka_unit_test(a_limiter_lets_one_message_through_per_interval),
        cmocka_unit_test_setup_teardown(concurrent_writers_never_interleave,
                                        capture_start, capture_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
