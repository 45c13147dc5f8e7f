/* vrl.h - the remap language (a compiled subset of Vector's VRL), as the
 * transforms use it.
 *
 * A program is compiled once when the config loads: parse, type-check
 * (fallibility as in VRL: an unhandled fallible call does not compile),
 * compile regex literals with PCRE2 JIT, and lower to a tree that workers
 * evaluate. A compiled program is immutable and shared read-only by every
 * worker; per-thread scratch (PCRE2 match data) is kept thread-locally by the
 * runtime, so vrl_run may be called concurrently on different events.
 *
 * vrl_run allocates only from the arena it is given (the batch's). */
#ifndef SLUICE_VRL_H
#define SLUICE_VRL_H

#include "pipeline/common.h"
#include "pipeline/event.h"

typedef struct vrl_program vrl_program;

/* A field whose type the source declares (kubernetes_logs metadata are
 * strings): the type checker uses it instead of "any". */
typedef event_field_type vrl_field_type;

#define VRL_KIND(k) EVENT_KIND(k)
#define VRL_KIND_ANY ((uint16_t)0xff)

typedef struct vrl_options {
    /* A condition (filter, route): the program must be able to produce a
     * boolean; vrl_run's *result then says whether the event matched. */
    bool condition;
    const vrl_field_type *fields;
    size_t nfields;
} vrl_options;

/* Compiles `source`. On failure the message is multi-line, VRL style, and
 * names the line and column with the source line and a caret under the
 * spot:
 *
 *   error[E103]: unhandled fallible assignment
 *     --> 2:10
 *      |
 *    2 | .level = parse_json(.message)
 *      |          ^^^^^^^^^^^^^^^^^^^^ this expression is fallible
 *      = handle the error with `!`, `??` or `value, err = ...`
 */
int vrl_compile(const char *source, size_t len, const vrl_options *opts,
                vrl_program **out, sl_error *err);
/* Events a program ran on may refer to its memory (string literals, new
 * field names, keys of parse_regex results): free it only once the batches
 * it ran on are released, as the runtime does by draining before it
 * destroys components. */
void vrl_program_free(vrl_program *p);

typedef enum vrl_outcome {
    VRL_DONE = 0,      /* ran to the end; *result holds the last value */
    VRL_ABORTED,       /* `abort` ran; err says where */
    VRL_FAILED,        /* a runtime error (`!` on a failing call, a type
                          error on a field of unknown type outside an `if`
                          predicate); err says what. The event is left as
                          it was before the run. */
    VRL_DONE_WITH_ERRORS, /* ran to the end, but an `if` predicate called a
                          function with an argument of the wrong kind (a
                          field whose type was unknown when compiled): that
                          predicate counted as false and the run went on,
                          so that `match(.pod_name, ...)` on JSON input
                          without a pod name does not stop the program.
                          err holds the first such error, for
                          the caller to count and log. */
} vrl_outcome;

/* Runs p on e (a log or a metric; metrics expose .name, .namespace, .tags,
 * .kind), mutating it in place, allocating in a. result may be NULL. */
vrl_outcome vrl_run(const vrl_program *p, arena *a, event *e, value *result, sl_error *err);

/* VRL truthiness for conditions: only boolean true is true. */
static inline bool vrl_is_true(const value *v)
{
    return v->kind == VALUE_BOOL && v->u.b;
}

#endif
