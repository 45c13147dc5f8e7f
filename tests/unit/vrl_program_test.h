/* vrl_program_test.h - what the remap language tests (test_vrl_*.c) share:
 * compiling a program and expecting success or an exact message, running it
 * on an event written as JSON, and comparing events through their JSON
 * encoding (keys sorted, as Vector prints them). Include after cmocka.h. */
#ifndef SLUICE_TEST_VRL_PROGRAM_TEST_H
#define SLUICE_TEST_VRL_PROGRAM_TEST_H

#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "transforms/vrl/vrl.h"

static inline vrl_program *tprog_opts(const char *src, const vrl_options *opts)
{
    vrl_program *p = NULL;
    sl_error err;
    if (vrl_compile(src, strlen(src), opts, &p, &err) < 0)
        fail_msg("program does not compile:\n%s\n---\n%s", src, err.msg);
    return p;
}

static inline vrl_program *tprog(const char *src)
{
    return tprog_opts(src, NULL);
}

/* Checks that src is refused with exactly `want`. */
static inline void assert_compile_error_opts(const char *src, const vrl_options *opts,
                                             const char *want)
{
    vrl_program *p = NULL;
    sl_error err;
    if (vrl_compile(src, strlen(src), opts, &p, &err) == 0) {
        vrl_program_free(p);
        fail_msg("program compiles, want error:\n%s\n---\n%s", want, src);
    }
    if (strcmp(err.msg, want) != 0)
        fail_msg("program:\n%s\nrefused with:\n%s\nwant:\n%s", src, err.msg, want);
}

static inline void assert_compile_error(const char *src, const char *want)
{
    assert_compile_error_opts(src, NULL, want);
}

static inline void assert_compiles(const char *src)
{
    vrl_program_free(tprog(src));
}

/* The JSON encoding of v, NUL-terminated, in a. */
static inline const char *tjson_of(arena *a, const value *v)
{
    buf b = BUF_INIT;
    assert_int_equal(json_encode_value(&b, v), 0);
    char *s = arena_strndup(a, b.data ? b.data : "", b.len);
    buf_free(&b);
    return s;
}

/* A log event from a JSON object. */
static inline event tlog(arena *a, const char *json)
{
    event e;
    sl_error err;
    e.type = EVENT_LOG;
    e.meta = value_null();
    if (json_decode(a, json, strlen(json), &e.u.log, &err) < 0)
        fail_msg("bad test JSON %s: %s", json, err.msg);
    return e;
}

typedef struct trun_result {
    vrl_outcome outcome;
    const char *event;     /* the log after the run, as JSON */
    const char *result;    /* the program's value, as JSON (VRL_DONE) */
    sl_error err;
} trun_result;

static inline trun_result trun_event(const vrl_program *p, arena *a, event *e)
{
    trun_result r;
    value v = value_null();
    r.err.msg[0] = '\0';
    r.outcome = vrl_run(p, a, e, &v, &r.err);
    r.event = e->type == EVENT_LOG ? tjson_of(a, &e->u.log) : "";
    r.result = r.outcome == VRL_DONE ? tjson_of(a, &v) : "";
    return r;
}

static inline trun_result trun(const vrl_program *p, arena *a, const char *json)
{
    event e = tlog(a, json);
    return trun_event(p, a, &e);
}

/* Runs src on `in`; the event must become `want` (JSON). */
static inline void assert_program(arena *a, const char *src, const char *in, const char *want)
{
    vrl_program *p = tprog(src);
    trun_result r = trun(p, a, in);
    vrl_program_free(p);
    if (r.outcome != VRL_DONE)
        fail_msg("program:\n%s\nfailed (%d): %s", src, r.outcome, r.err.msg);
    if (strcmp(r.event, want) != 0)
        fail_msg("program:\n%s\non %s\ngave %s\nwant %s", src, in, r.event, want);
}

/* Runs src on `in`; the program's value must be `want` (JSON). */
static inline void assert_value(arena *a, const char *src, const char *in, const char *want)
{
    vrl_program *p = tprog(src);
    trun_result r = trun(p, a, in);
    vrl_program_free(p);
    if (r.outcome != VRL_DONE)
        fail_msg("program:\n%s\nfailed (%d): %s", src, r.outcome, r.err.msg);
    if (strcmp(r.result, want) != 0)
        fail_msg("program:\n%s\nreturned %s\nwant %s", src, r.result, want);
}

/* Runs src on `in`: it must end with `outcome` and exactly the message
 * `want`, and leave the event exactly as it was. */
static inline void assert_run_fails(arena *a, const char *src, const char *in,
                                    vrl_outcome outcome, const char *want)
{
    vrl_program *p = tprog(src);
    event e = tlog(a, in);
    const char *before = tjson_of(a, &e.u.log);
    trun_result r = trun_event(p, a, &e);
    vrl_program_free(p);
    if (r.outcome != outcome)
        fail_msg("program:\n%s\nended with %d (%s), want %d", src, r.outcome, r.err.msg, outcome);
    if (strcmp(r.err.msg, want) != 0)
        fail_msg("program:\n%s\nfailed with \"%s\"\nwant \"%s\"", src, r.err.msg, want);
    if (strcmp(r.event, before) != 0)
        fail_msg("program:\n%s\nchanged the event to %s, want %s", src, r.event, before);
}

/* Runs p on `in`: a predicate got an argument of the wrong kind, so the run
 * must end VRL_DONE_WITH_ERRORS with exactly the message `want_err`, having
 * gone on with that predicate false to leave the event as `want` (JSON). */
static inline void assert_run_handles(const vrl_program *p, arena *a, const char *in,
                                      const char *want_err, const char *want)
{
    trun_result r = trun(p, a, in);
    if (r.outcome != VRL_DONE_WITH_ERRORS)
        fail_msg("on %s: ended with %d (%s), want %d", in, r.outcome, r.err.msg,
                 VRL_DONE_WITH_ERRORS);
    if (strcmp(r.err.msg, want_err) != 0)
        fail_msg("on %s: error \"%s\"\nwant \"%s\"", in, r.err.msg, want_err);
    if (strcmp(r.event, want) != 0)
        fail_msg("on %s: gave %s\nwant %s", in, r.event, want);
}

static inline int vrl_test_setup(void **state)
{
    *state = arena_new();
    return *state ? 0 : -1;
}

static inline int vrl_test_teardown(void **state)
{
    arena_free(*state);
    return 0;
}

/* Returns the arena chunks cached by the process, so leak checks see none. */
static inline int vrl_group_teardown(void **state)
{
    (void)state;
    arena_cache_drain();
    return 0;
}

#endif
