/* vrl_fn_test.h - what the standard-library tests (test_vrl_fn_*.c) share:
 * calling a function the way the compiler and interpreter do (look it up,
 * hand its constant arguments to compile, call it, free its state), regex
 * literals compiled as the compiler compiles them (PCRE2 UTF, JIT), and
 * comparing results through their JSON encoding, which reads like VRL's
 * documented examples. Include after cmocka.h. */
#ifndef SLUICE_TEST_VRL_FN_TEST_H
#define SLUICE_TEST_VRL_FN_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "transforms/vrl/fn_util.h"

#define TEST_MAX_REGEXES 16

/* Arguments by parameter index, as both compile and call see them. */
typedef struct targs {
    vrl_const_arg c[VRL_MAX_ARGS];
    vrl_arg r[VRL_MAX_ARGS];
    pcre2_code *codes[TEST_MAX_REGEXES];
    const vrl_regex_code *set[TEST_MAX_REGEXES];
    int ncodes;
    const vrl_function *fn;   /* the last function called, and its state */
    void *state;
} targs;

static inline void targs_init(targs *t)
{
    memset(t, 0, sizeof(*t));
}

/* Results may point into a function's compiled state, as they point into
 * a program: it is freed with the arguments. */
static inline void targs_release_state(targs *t)
{
    if (t->fn && t->fn->free_state)
        t->fn->free_state(t->state);
    t->fn = NULL;
    t->state = NULL;
}

static inline void targs_free(targs *t)
{
    targs_release_state(t);
    for (int i = 0; i < t->ncodes; i++)
        pcre2_code_free(t->codes[i]);
    t->ncodes = 0;
}

/* A constant argument (a literal in the program). */
static inline void targ(targs *t, int i, value v)
{
    t->c[i].present = t->c[i].constant = true;
    t->c[i].val = v;
    t->r[i].present = true;
    t->r[i].val = v;
}

/* An argument whose value is only known at run time (a field). */
static inline void targ_runtime(targs *t, int i, value v)
{
    t->c[i].present = true;
    t->c[i].constant = false;
    t->r[i].present = true;
    t->r[i].val = v;
}

static inline void targ_str(targs *t, int i, const char *s)
{
    targ(t, i, value_bytes(s, strlen(s)));
}

/* As transforms/vrl/compile.c compiles regex literals: UTF that tolerates
 * invalid input, a match limit in the pattern, JIT. */
static inline pcre2_code *test_compile_regex(targs *t, const char *pattern)
{
    int errcode;
    PCRE2_SIZE erroff;
    char limited[1024];
    snprintf(limited, sizeof(limited), "(*LIMIT_MATCH=1000000)%s", pattern);
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)limited, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff, NULL);
    if (!code)
        fail_msg("test regex %s does not compile (%d at %zu)", pattern, errcode, (size_t)erroff);
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    assert_true(t->ncodes < TEST_MAX_REGEXES);
    t->codes[t->ncodes++] = code;
    return code;
}

/* A regex literal argument. */
static inline void targ_regex(targs *t, int i, const char *pattern)
{
    pcre2_code *code = test_compile_regex(t, pattern);
    t->c[i].present = t->c[i].constant = true;
    t->c[i].regex = code;
    t->c[i].regex_source = pattern;
    t->r[i].present = true;
    t->r[i].regex = code;
}

/* An array literal of regex literals (match_any). */
static inline void targ_regex_array(targs *t, int i, const char *const *patterns, int n)
{
    for (int k = 0; k < n; k++)
        t->set[k] = test_compile_regex(t, patterns[k]);
    t->c[i].present = t->c[i].constant = true;
    t->c[i].regexes = t->set;
    t->c[i].nregexes = (uint32_t)n;
    t->r[i].present = true;
}

/* Compiles and calls fn; returns what compile or call returned. */
static inline int tcall(arena *a, const char *name, targs *t, value *out, sl_error *err)
{
    const vrl_function *fn = vrl_function_find(name);
    if (!fn)
        fail_msg("no function %s", name);
    targs_release_state(t);
    err->msg[0] = '\0';
    if (fn->compile && fn->compile(t->c, &t->state, err) < 0)
        return -2;
    t->fn = fn;
    vrl_call c = {a, t->state, NULL};
    *out = value_null();
    return fn->call(&c, t->r, out, err);
}

/* The JSON encoding of v (NUL-terminated, in a). */
static inline const char *tjson(arena *a, const value *v)
{
    buf b = BUF_INIT;
    assert_int_equal(json_encode_value(&b, v), 0);
    char *s = arena_strndup(a, b.data ? b.data : "", b.len);
    buf_free(&b);
    return s;
}

/* Calls fn and checks the result's JSON encoding. */
static inline void assert_call_json(arena *a, const char *name, targs *t, const char *want)
{
    value out;
    sl_error err;
    int rc = tcall(a, name, t, &out, &err);
    if (rc != 0)
        fail_msg("%s failed: %s", name, err.msg);
    const char *got = tjson(a, &out);
    if (strcmp(got, want) != 0)
        fail_msg("%s returned %s, want %s", name, got, want);
}

/* Calls fn and checks that it returns exactly this string. */
static inline void assert_call_str(arena *a, const char *name, targs *t, const char *want)
{
    value out;
    sl_error err;
    if (tcall(a, name, t, &out, &err) != 0)
        fail_msg("%s failed: %s", name, err.msg);
    if (out.kind != VALUE_BYTES)
        fail_msg("%s returned %s, want a string", name, tjson(a, &out));
    if (out.len != strlen(want) || memcmp(out.u.s, want, out.len) != 0)
        fail_msg("%s returned %.*s, want %s", name, (int)out.len, out.u.s, want);
}

/* Calls fn and checks it fails at run time with exactly this message. */
static inline void assert_call_fails(arena *a, const char *name, targs *t, const char *want)
{
    value out;
    sl_error err;
    int rc = tcall(a, name, t, &out, &err);
    if (rc == 0)
        fail_msg("%s succeeded with %s, want error %s", name, tjson(a, &out), want);
    if (rc == -2)
        fail_msg("%s refused at compile time (%s), want run-time error %s", name, err.msg, want);
    if (strcmp(err.msg, want) != 0)
        fail_msg("%s failed with \"%s\", want \"%s\"", name, err.msg, want);
}

/* Checks that compile refuses the constant arguments with this message. */
static inline void assert_compile_fails(const char *name, targs *t, const char *want)
{
    const vrl_function *fn = vrl_function_find(name);
    if (!fn || !fn->compile)
        fail_msg("%s has no compile step", name);
    void *state = NULL;
    sl_error err;
    if (fn->compile(t->c, &state, &err) == 0) {
        if (fn->free_state)
            fn->free_state(state);
        fail_msg("%s compiled, want error %s", name, want);
    }
    if (strcmp(err.msg, want) != 0)
        fail_msg("%s refused with \"%s\", want \"%s\"", name, err.msg, want);
}

/* A value from JSON text (strings point into text). */
static inline value tval(arena *a, const char *text)
{
    value v;
    sl_error err;
    if (json_decode(a, text, strlen(text), &v, &err) < 0)
        fail_msg("bad test JSON %s: %s", text, err.msg);
    return v;
}

/* Arguments written as JSON literals, or "r:PATTERN" for a regex literal.
 * `runtime` passes the values as run-time arguments instead of constants,
 * so compile-time preparation can't see them. */
static inline void targs_fill_json(arena *a, targs *t, const char *const *args, bool runtime)
{
    for (int i = 0; args[i]; i++) {
        if (strncmp(args[i], "r:", 2) == 0)
            targ_regex(t, i, args[i] + 2);
        else if (runtime)
            targ_runtime(t, i, tval(a, args[i]));
        else
            targ(t, i, tval(a, args[i]));
    }
}

/* name(args...) with JSON-literal arguments must return `want` (JSON). */
static inline void tcheck_json(arena *a, const char *name, const char *want,
                               const char *const *args)
{
    targs t;
    targs_init(&t);
    targs_fill_json(a, &t, args, false);
    assert_call_json(a, name, &t, want);
    targs_free(&t);
}

/* name(args...) must fail at run time with exactly `want`. */
static inline void tcheck_json_fails(arena *a, const char *name, const char *want,
                                     const char *const *args, bool runtime)
{
    targs t;
    targs_init(&t);
    targs_fill_json(a, &t, args, runtime);
    assert_call_fails(a, name, &t, want);
    targs_free(&t);
}

#define TARGS(...) (const char *const[]){__VA_ARGS__, NULL}

static int test_setup_arena(void **state)
{
    *state = arena_new();
    return *state ? 0 : -1;
}

static int test_teardown_arena(void **state)
{
    arena_free(*state);
    return 0;
}

/* A test that gets a fresh arena in *state. */
#define VRL_FN_TEST(f) cmocka_unit_test_setup_teardown(f, test_setup_arena, test_teardown_arena)

#endif
