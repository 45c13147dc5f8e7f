/* function.h - how a function of the remap language's standard library is
 * described to the compiler and called by the interpreter.
 *
 * Every function is one vrl_function in a table (functions.c lists them).
 * The compiler checks calls against `params` (positional or by keyword,
 * required ones present, argument types where known) and `fallible`; it
 * hands constant arguments (literals, regex literals) to `compile` once, so
 * regexes and format strings are prepared when the config loads, never per
 * event. `call` runs per event, on any worker thread at once: it must not
 * write to `state`.
 *
 * Argument kinds are masks of VRL_KIND(value_kind) plus VRL_ARG_REGEX (a
 * regex literal, only ever constant) and VRL_ARG_PATH (a path such as
 * `.a.b`, passed unevaluated: exists, del). */
#ifndef SLUICE_VRL_FUNCTION_H
#define SLUICE_VRL_FUNCTION_H

#include "transforms/vrl/vrl.h"
#include "pipeline/value.h"

#define VRL_ARG_REGEX ((uint16_t)(1u << 8))
#define VRL_ARG_PATH ((uint16_t)(1u << 9))
#define VRL_MAX_ARGS 8

typedef struct vrl_param {
    const char *name;
    uint16_t kinds;        /* what the argument may be */
    bool required;
} vrl_param;

typedef struct pcre2_real_code_8 vrl_regex_code;

/* A constant argument as the compiler saw it. */
typedef struct vrl_const_arg {
    bool present;          /* given in the call */
    bool constant;         /* its value is known at compile time */
    value val;             /* when constant and not a regex; strings live
                              as long as the program */
    const vrl_regex_code *regex; /* when a regex literal (compiled with JIT) */
    const char *regex_source;
    /* When an array literal whose items are all regex literals (match_any's
     * `patterns`): each compiled with JIT, in order; they live as long as
     * the program. NULL otherwise. */
    const vrl_regex_code *const *regexes;
    uint32_t nregexes;
} vrl_const_arg;

/* An argument at run time. Regex literals arrive as their compiled code. */
typedef struct vrl_arg {
    bool present;
    value val;
    const vrl_regex_code *regex;
} vrl_arg;

/* What a call may use besides its arguments. */
typedef struct vrl_call {
    arena *a;              /* results are allocated here */
    void *state;           /* from compile, read-only */
    event *event;          /* for the few functions that touch it */
} vrl_call;

typedef struct vrl_function {
    const char *name;
    const vrl_param *params;
    uint8_t nparams;
    uint16_t returns;      /* kinds the result may have */
    bool fallible;         /* may fail at run time on valid arguments */
    /* Optional: validate/prepare constant arguments; -1 with a message
     * (reported at the argument's position) to refuse the program. */
    int (*compile)(const vrl_const_arg *args, void **state, sl_error *err);
    void (*free_state)(void *state);
    /* -1 with a message on failure (fallible functions, or an argument of a
     * kind the function can't take that was unknown at compile time). */
    int (*call)(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err);
    /* Optional: the call is also fallible when its first argument may be of
     * one of these kinds, as VRL types its coercions (to_int is fallible on
     * a string or an unknown value, not on an integer). 0: only `fallible`
     * counts. */
    uint16_t fallible_kinds;
} vrl_function;

/* The standard library (functions.c), looked up by name. */
const vrl_function *vrl_function_find(const char *name);
const vrl_function *const *vrl_functions_all(size_t *n);

/* Thread-local PCRE2 match data big enough for `code` (shared by every
 * function that matches on this thread). NULL on allocation failure. */
struct pcre2_real_match_data_8 *vrl_match_data(const vrl_regex_code *code);

#endif
