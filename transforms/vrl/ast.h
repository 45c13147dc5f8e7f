/* ast.h - the syntax tree of a remap program, as the parser builds it and
 * the type checker annotates it.
 *
 * The tree lives in an arena owned by the compilation and is gone once the
 * program is lowered (compile.c). Every node keeps its source span for
 * messages. The checker fills in what lowering needs: the kinds a node may
 * produce, variable slots, the resolved function and how its arguments map
 * to its parameters. */
#ifndef SLUICE_VRL_AST_H
#define SLUICE_VRL_AST_H

#include "transforms/vrl/diag.h"
#include "transforms/vrl/function.h"
#include "pipeline/arena.h"
#include "pipeline/value.h"

typedef enum vrl_ast_kind {
    AST_LITERAL,     /* null, bool, int, float, string, timestamp */
    AST_REGEX,       /* r'...': only ever a function argument */
    AST_ARRAY,
    AST_OBJECT,
    AST_QUERY,       /* `.a.b`, `%m`, `x`, `x.a[0]`, `f(x).a`, `(e)[1]` */
    AST_CALL,
    AST_NOT,
    AST_NEGATE,
    AST_BINARY,
    AST_ASSIGN,
    AST_IF,
    AST_BLOCK,
    AST_ABORT,
    AST_NOOP,        /* `_` as an assignment target */
} vrl_ast_kind;

typedef enum vrl_binop {
    OP_COALESCE,     /* ?? */
    OP_OR,
    OP_AND,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_MERGE,        /* | */
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_REM,
} vrl_binop;

typedef enum vrl_assign_op {
    ASSIGN_SET,      /* = */
    ASSIGN_MERGE,    /* |= */
    ASSIGN_IF_OK,    /* ??= */
} vrl_assign_op;

typedef enum vrl_query_root {
    ROOT_EVENT,      /* . */
    ROOT_META,       /* % */
    ROOT_VAR,
    ROOT_EXPR,       /* a call, a group, a literal container */
} vrl_query_root;

typedef struct vrl_segment {
    bool is_index;
    int64_t index;
    const char *key;     /* field name bytes (not terminated) */
    uint32_t klen;
} vrl_segment;

typedef struct vrl_ast vrl_ast;

typedef struct vrl_arg_ast {
    const char *keyword; /* NULL when positional */
    uint32_t klen;
    vrl_span keyword_span;
    vrl_ast *value;
} vrl_arg_ast;

typedef struct vrl_entry_ast {
    const char *key;
    uint32_t klen;
    vrl_ast *value;
} vrl_entry_ast;

struct vrl_ast {
    vrl_ast_kind kind;
    vrl_span span;
    bool grouped;        /* written in parentheses */
    /* Filled by the checker. */
    uint16_t kinds;      /* VRL_KIND() mask of what it may produce */
    bool fallible;       /* may fail with an error that must be handled */
    vrl_span fail_at;    /* when fallible: the expression the error comes from */
    union {
        value literal;                        /* AST_LITERAL */
        struct {
            const char *pattern;
            uint32_t len;
        } regex;
        struct {
            vrl_ast **items;
            uint32_t n;
        } list;                               /* AST_ARRAY, AST_BLOCK */
        struct {
            vrl_entry_ast *entries;
            uint32_t n;
        } object;
        struct {
            vrl_query_root root;
            const char *name;                 /* ROOT_VAR */
            uint32_t nlen;
            uint32_t slot;                    /* ROOT_VAR, from the checker */
            vrl_ast *expr;                    /* ROOT_EXPR */
            vrl_segment *segs;
            uint32_t nsegs;
        } query;
        struct {
            const char *name;
            uint32_t nlen;
            vrl_span name_span;
            bool bang;
            vrl_arg_ast *args;
            uint32_t nargs;
            /* From the checker: the function, and the argument given for
             * each parameter (NULL when absent), with the kinds to verify at
             * run time (0 when the checker proved them). */
            const vrl_function *fn;
            vrl_ast *by_param[VRL_MAX_ARGS];
            uint16_t runtime_check[VRL_MAX_ARGS];
        } call;
        struct {
            vrl_ast *operand;
        } unary;                              /* AST_NOT, AST_NEGATE */
        struct {
            vrl_binop op;
            vrl_span op_span;
            vrl_ast *lhs, *rhs;
        } binary;
        struct {
            vrl_assign_op op;
            vrl_ast *target;                  /* AST_QUERY or AST_NOOP */
            vrl_ast *err_target;              /* `ok, err = ...`, else NULL */
            vrl_ast *rhs;
        } assign;
        struct {
            vrl_ast *cond, *then, *otherwise; /* otherwise may be NULL */
            bool check_bool;                  /* condition may not be a boolean */
        } branch;
        struct {
            vrl_ast *message;                 /* may be NULL */
        } abort;
    } u;
};

/* Parses a whole program into a block. -1 with a positioned message. */
int vrl_parse(const vrl_source *src, arena *a, vrl_ast **out, sl_error *err);

/* What the checker learned about the whole program. */
typedef struct vrl_check_result {
    uint32_t nvars;           /* variable slots */
    bool mutates_event;       /* writes an event or metadata path */
} vrl_check_result;

/* `[r'a', r'b']`: an array literal of regex literals, which a function
 * argument may be (match_any's patterns); each is compiled like one. */
bool vrl_is_regex_array(const vrl_ast *n);

/* Type-checks the program in place (see check.c). */
int vrl_check(vrl_ast *program, const vrl_source *src, const vrl_options *opts, arena *a,
              vrl_check_result *res, sl_error *err);

#endif
