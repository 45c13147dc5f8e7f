/* program.h - the executable form of a remap program, shared by the
 * compiler that builds it (compile.c) and the interpreter that runs it
 * (interp.c, store.c, metric_view.c).
 *
 * A program is a tree of nodes, each carrying the C function that evaluates
 * it, so running is a chain of indirect calls with no dispatch on node
 * kinds. Paths are pre-split into segments, function calls are bound to
 * their parameters, regex literals are compiled, and literal operators are
 * folded. Everything a program owns lives in its arena (nodes, segments)
 * or in its string pool (every string constant, sized from the source),
 * plus the PCRE2 codes and function states it frees. Events refer to the
 * pool's strings without copying them (see vrl_program_free).
 *
 * Evaluators return a vrl_status. VRL_ERROR is an error the program may
 * handle (`??`, `x, err = ...`), with the message in the context; it stops
 * the run when nothing does. VRL_ABORT is `abort`, which nothing catches. */
#ifndef SLUICE_VRL_PROGRAM_H
#define SLUICE_VRL_PROGRAM_H

#include "transforms/vrl/diag.h"
#include "transforms/vrl/function.h"
#include "transforms/vrl/vrl.h"

typedef enum vrl_status {
    VRL_OK = 0,
    VRL_ERROR,
    VRL_ABORT,
} vrl_status;

typedef struct vrl_node vrl_node;
typedef struct vrl_ctx vrl_ctx;
typedef vrl_status (*vrl_eval_fn)(const vrl_node *n, vrl_ctx *cx, value *out);

typedef struct vrl_seg {
    const char *key;       /* in the string pool */
    uint32_t klen;
    bool is_index;
    int64_t index;
} vrl_seg;

typedef enum vrl_place_root {
    PLACE_EVENT,           /* . */
    PLACE_META,            /* % */
    PLACE_VAR,
    PLACE_EXPR,            /* read only: f(x).a */
} vrl_place_base;

/* Where a path reads or writes. */
typedef struct vrl_place {
    uint8_t root;
    uint32_t var;
    const vrl_node *expr;
    const vrl_seg *segs;
    uint32_t nsegs;
} vrl_place;

typedef struct vrl_call_node {
    const vrl_function *fn;
    void *state;
    uint8_t nparams;
    bool bang;
    int path_param;        /* the VRL_ARG_PATH parameter, or -1 */
    bool deletes;          /* del(): the path is removed */
    vrl_place path;
    const vrl_node *args[VRL_MAX_ARGS];          /* NULL: not given */
    const vrl_regex_code *regex[VRL_MAX_ARGS];   /* regex literal arguments */
    uint16_t check[VRL_MAX_ARGS];                /* kinds to verify, 0: proven */
} vrl_call_node;

typedef struct vrl_assign_node {
    vrl_place target;
    vrl_place err_target;
    bool has_target;       /* false for `_` */
    bool has_err;
    bool merge;            /* `|=` rather than `=` */
    uint8_t default_kind;  /* `ok, err =`: ok's value on error */
    const vrl_node *rhs;
} vrl_assign_node;

struct vrl_node {
    vrl_eval_fn eval;
    vrl_span span;
    /* The value is a container this node just built and nobody else holds,
     * so storing it needs no copy. */
    bool fresh;
    union {
        value constant;
        vrl_place place;
        struct {
            const vrl_node **items;
            uint32_t n;
        } list;                       /* arrays, blocks */
        struct {
            const vrl_seg *keys;      /* key bytes in keys[i].key */
            const vrl_node **values;
            uint32_t n;
        } object;
        struct {
            const vrl_node *lhs, *rhs;
        } bin;
        const vrl_node *operand;
        vrl_assign_node *assign;
        struct {
            const vrl_node *cond, *then, *otherwise;
            bool check_bool;
        } branch;
        const vrl_node *message;      /* abort; may be NULL */
        vrl_call_node *call;
    } u;
};

/* A compiled regex or function state, freed with the program. */
typedef struct vrl_owned {
    void *ptr;
    void (*free_fn)(void *ptr);
} vrl_owned;

struct vrl_program {
    arena *mem;
    char *pool;            /* string constants */
    size_t pool_len, pool_used;
    const vrl_node *root;
    uint32_t nvars;
    bool journal;          /* runs must be able to undo event writes */
    vrl_owned *owned;
    size_t nowned, owned_cap;
};

/* ---- run state ----------------------------------------------------------- */

/* The state of a container before the run first changed it. */
typedef struct vrl_undo {
    void *container;       /* value_map * or value_array * */
    bool is_map;
    bool fresh;            /* created by this run: nothing to restore */
    uint32_t len, cap;
    void *items;
    void *saved;           /* copy of items[0, len) */
} vrl_undo;

#define VRL_UNDO_INLINE 8

typedef struct vrl_journal {
    bool enabled;
    value log, meta;       /* the event's roots before the run */
    vrl_undo *entries;
    uint32_t n, cap;
    vrl_undo inline_entries[VRL_UNDO_INLINE];
} vrl_journal;

struct vrl_ctx {
    const vrl_program *prog;
    arena *a;
    event *e;
    value *root;           /* the log's map, or a metric's view */
    value *meta;
    value *vars;
    vrl_journal journal;
    char msg[SL_ERRMSG_MAX];
    bool soft;             /* the error being raised is a wrong argument kind */
    uint32_t handled;      /* soft errors turned into false predicates */
    char first_handled[SL_ERRMSG_MAX];
};

static inline vrl_status vrl_eval(const vrl_node *n, vrl_ctx *cx, value *out)
{
    return n->eval(n, cx, out);
}

/* Formats the error message into the context; returns VRL_ERROR. */
vrl_status vrl_raise(vrl_ctx *cx, const char *fmt, ...) SL_PRINTF(2, 3);

/* ---- evaluators (interp.c) ----------------------------------------------- */

vrl_status vrl_eval_const(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_query(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_event_field(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_var(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_array(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_object(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_call(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_not(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_negate(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_coalesce(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_or(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_and(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_eq(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_ne(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_lt(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_le(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_gt(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_ge(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_merge(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_add(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_sub(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_mul(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_div(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_rem(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_assign(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_assign_merge(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_assign_if_ok(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_assign_err(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_if(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_block(const vrl_node *n, vrl_ctx *cx, value *out);
vrl_status vrl_eval_abort(const vrl_node *n, vrl_ctx *cx, value *out);

/* ---- places (store.c) ---------------------------------------------------- */

/* The value at segs under root, or NULL when absent. */
const value *vrl_walk(const value *root, const vrl_seg *segs, uint32_t n);

/* The container a place starts from; NULL for PLACE_EXPR. */
value *vrl_place_root(vrl_ctx *cx, const vrl_place *p);

/* Makes v safe to keep in the event or a variable: a container others may
 * hold is copied (unless `fresh`), with the containers inside it; strings
 * are shared, since nothing changes them. */
vrl_status vrl_own(vrl_ctx *cx, value *v, bool fresh);

/* Stores v (owned already) at the place, creating maps and array slots on
 * the way as VRL assignment does. */
vrl_status vrl_place_store(vrl_ctx *cx, const vrl_place *p, value v);

/* Merges the fields of `from` into the object at the place (`|=`). */
vrl_status vrl_place_merge(vrl_ctx *cx, const vrl_place *p, const value *from);

/* Removes the place; *removed gets what was there (null when absent). With
 * `compact`, parents left empty are removed too. */
vrl_status vrl_place_delete(vrl_ctx *cx, const vrl_place *p, bool compact, value *removed);

/* Records the event's roots before a run that may write them. */
void vrl_journal_begin(vrl_ctx *cx);
/* Puts the event back as it was when the run began. */
void vrl_journal_rollback(vrl_ctx *cx);

/* ---- metrics (metric_view.c) --------------------------------------------- */

/* A metric as the map a program sees: name, namespace, tags, kind, type,
 * timestamp. */
int vrl_metric_view(arena *a, const metric *m, value *out);
/* Writes the view's changes back to the metric: all or nothing. -1 with a
 * message when a field has a value a metric can't hold. */
int vrl_metric_apply(arena *a, metric *m, const value *view, sl_error *err);

/* ---- the standard library (fn_core.c) ------------------------------------ */

/* del(): the interpreter removes its path argument (parameter 0) itself,
 * parents left empty too when its parameter 1 (`compact`) is true. */
extern const vrl_function vrl_fn_del;

#endif
