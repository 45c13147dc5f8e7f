/* compile.c - vrl_compile: source to an executable program (see vrl.h and
 * program.h).
 *
 * Parsing and checking work in a scratch arena thrown away at the end; the
 * lowered program keeps only what runs. Regex literals are compiled here,
 * once, with PCRE2 JIT:
 *
 * - UTF mode with PCRE2_MATCH_INVALID_UTF. VRL regexes are Rust regexes,
 *   which see text as Unicode characters (`.` is one character, not one
 *   byte), so UTF mode. Events carry whatever bytes the input had, and PCRE2
 *   in plain UTF mode must either validate every subject first (a pass over
 *   each line) or be promised valid UTF-8; MATCH_INVALID_UTF lets the JIT
 *   run on any bytes safely, an invalid sequence simply never matching. No
 *   PCRE2_UCP: \d, \w and \b stay ASCII, which is much faster and differs
 *   from Rust only on non-ASCII digits and letters.
 * - A match limit written into the pattern ((*LIMIT_MATCH=...)), so that
 *   every caller, whatever match context it passes, is bounded on
 *   catastrophic backtracking; the JIT's own stack bounds recursion depth.
 *
 * Literal operands are folded: `2 * 60` is one constant at run time. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transforms/vrl/ast.h"
#include "transforms/vrl/program.h"

/* A million backtracking steps: plenty for any sane pattern on a long line,
 * and a runaway backtrack stops within milliseconds. */
#define LIMIT_PREFIX "(*LIMIT_MATCH=1000000)"

typedef struct lowerer {
    const vrl_source *src;
    vrl_program *prog;
    sl_error *err;
} lowerer;

static vrl_node *lower(lowerer *L, const vrl_ast *n);

static int out_of_memory(lowerer *L)
{
    return sl_fail(L->err, "out of memory compiling the program");
}

static void *alloc(lowerer *L, size_t n)
{
    void *p = arena_alloc(L->prog->mem, n);
    if (p)
        memset(p, 0, n);
    else
        out_of_memory(L);
    return p;
}

/* Copies bytes into the string pool (NUL-terminated, for function states
 * that want C strings). The pool is sized from the source, which no
 * constant outgrows. */
static const char *pool_copy(lowerer *L, const char *s, size_t n)
{
    vrl_program *p = L->prog;
    if (p->pool_used + n + 1 > p->pool_len) {
        sl_fail(L->err, "internal error: string pool exhausted");
        return NULL;
    }
    char *dst = p->pool + p->pool_used;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
    p->pool_used += n + 1;
    return dst;
}

static int own(lowerer *L, void *ptr, void (*free_fn)(void *))
{
    vrl_program *p = L->prog;
    if (SL_GROW(p->owned, p->nowned, p->owned_cap, 8) < 0) {
        free_fn(ptr);
        return out_of_memory(L);
    }
    p->owned[p->nowned].ptr = ptr;
    p->owned[p->nowned].free_fn = free_fn;
    p->nowned++;
    return 0;
}

static vrl_node *node_new(lowerer *L, vrl_eval_fn eval, vrl_span span)
{
    vrl_node *n = alloc(L, sizeof(*n));
    if (n) {
        n->eval = eval;
        n->span = span;
    }
    return n;
}

/* ---- constants ----------------------------------------------------------- */

static int pooled_value(lowerer *L, value v, value *out)
{
    if (v.kind == VALUE_BYTES) {
        const char *s = pool_copy(L, v.u.s, v.len);
        if (!s)
            return -1;
        v.u.s = s;
    }
    *out = v;
    return 0;
}

static vrl_node *lower_literal(lowerer *L, const vrl_ast *n)
{
    vrl_node *c = node_new(L, vrl_eval_const, n->span);
    if (!c || pooled_value(L, n->u.literal, &c->u.constant) < 0)
        return NULL;
    return c;
}

static bool is_const(const vrl_node *n)
{
    return n->eval == vrl_eval_const;
}

static bool foldable(vrl_eval_fn eval)
{
    static const vrl_eval_fn pure[] = {
        vrl_eval_not, vrl_eval_negate, vrl_eval_coalesce, vrl_eval_or, vrl_eval_and,
        vrl_eval_eq, vrl_eval_ne, vrl_eval_lt, vrl_eval_le, vrl_eval_gt, vrl_eval_ge,
        vrl_eval_add, vrl_eval_sub, vrl_eval_mul, vrl_eval_div, vrl_eval_rem,
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(pure); i++)
        if (pure[i] == eval)
            return true;
    return false;
}

/* Evaluates an operator on constants now. Results that would need memory
 * at run time (strings, containers) stay operators: the pool holds only
 * what the source spells out. A failing operation stays too, so it fails
 * at run time as the checker announced. */
static void fold(lowerer *L, vrl_node *n)
{
    if (!foldable(n->eval))
        return;
    if (n->eval == vrl_eval_not || n->eval == vrl_eval_negate) {
        if (!is_const(n->u.operand))
            return;
    } else if (!is_const(n->u.bin.lhs) || !is_const(n->u.bin.rhs)) {
        return;
    }
    vrl_ctx cx;
    memset(&cx, 0, sizeof(cx));
    cx.prog = L->prog;
    cx.a = L->prog->mem;
    value v;
    if (vrl_eval(n, &cx, &v) != VRL_OK)
        return;
    if (v.kind == VALUE_BYTES || v.kind == VALUE_ARRAY || v.kind == VALUE_MAP)
        return;
    n->eval = vrl_eval_const;
    n->u.constant = v;
}

/* ---- paths --------------------------------------------------------------- */

static int lower_place(lowerer *L, const vrl_ast *q, vrl_place *out)
{
    memset(out, 0, sizeof(*out));
    switch (q->u.query.root) {
    case ROOT_EVENT: out->root = PLACE_EVENT; break;
    case ROOT_META: out->root = PLACE_META; break;
    case ROOT_VAR:
        out->root = PLACE_VAR;
        out->var = q->u.query.slot;
        break;
    case ROOT_EXPR:
        out->root = PLACE_EXPR;
        out->expr = lower(L, q->u.query.expr);
        if (!out->expr)
            return -1;
        break;
    }
    uint32_t n = q->u.query.nsegs;
    if (n == 0)
        return 0;
    vrl_seg *segs = alloc(L, n * sizeof(*segs));
    if (!segs)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const vrl_segment *s = &q->u.query.segs[i];
        segs[i].is_index = s->is_index;
        segs[i].index = s->index;
        if (!s->is_index) {
            segs[i].key = pool_copy(L, s->key, s->klen);
            if (!segs[i].key)
                return -1;
            segs[i].klen = s->klen;
        }
    }
    out->segs = segs;
    out->nsegs = n;
    return 0;
}

static vrl_eval_fn query_evaluator(const vrl_place *p)
{
    if (p->root == PLACE_EVENT && p->nsegs == 1 && !p->segs[0].is_index)
        return vrl_eval_event_field;
    if (p->root == PLACE_VAR && p->nsegs == 0)
        return vrl_eval_var;
    return vrl_eval_query;
}

static vrl_node *lower_query(lowerer *L, const vrl_ast *q)
{
    vrl_node *n = node_new(L, vrl_eval_query, q->span);
    if (!n || lower_place(L, q, &n->u.place) < 0)
        return NULL;
    n->eval = query_evaluator(&n->u.place);
    return n;
}

/* ---- containers ---------------------------------------------------------- */

static vrl_node *lower_list(lowerer *L, const vrl_ast *a, vrl_eval_fn eval)
{
    vrl_node *n = node_new(L, eval, a->span);
    if (!n)
        return NULL;
    uint32_t count = a->u.list.n;
    n->u.list.n = count;
    if (count) {
        n->u.list.items = alloc(L, count * sizeof(vrl_node *));
        if (!n->u.list.items)
            return NULL;
    }
    for (uint32_t i = 0; i < count; i++) {
        n->u.list.items[i] = lower(L, a->u.list.items[i]);
        if (!n->u.list.items[i])
            return NULL;
    }
    n->fresh = eval == vrl_eval_array;
    return n;
}

static vrl_node *lower_object(lowerer *L, const vrl_ast *o)
{
    vrl_node *n = node_new(L, vrl_eval_object, o->span);
    if (!n)
        return NULL;
    uint32_t count = o->u.object.n;
    n->fresh = true;
    n->u.object.n = count;
    if (count == 0)
        return n;
    vrl_seg *keys = alloc(L, count * sizeof(*keys));
    n->u.object.values = alloc(L, count * sizeof(vrl_node *));
    if (!keys || !n->u.object.values)
        return NULL;
    for (uint32_t i = 0; i < count; i++) {
        const vrl_entry_ast *e = &o->u.object.entries[i];
        keys[i].key = pool_copy(L, e->key, e->klen);
        keys[i].klen = e->klen;
        n->u.object.values[i] = lower(L, e->value);
        if (!keys[i].key || !n->u.object.values[i])
            return NULL;
    }
    n->u.object.keys = keys;
    return n;
}

/* ---- function calls ------------------------------------------------------ */

static void free_regex(void *code)
{
    pcre2_code_free(code);
}

static const vrl_regex_code *compile_regex(lowerer *L, const vrl_ast *r, const char **source)
{
    size_t prefix = sizeof(LIMIT_PREFIX) - 1;
    size_t n = prefix + r->u.regex.len;
    char *pattern = malloc(n + 1);
    if (!pattern) {
        out_of_memory(L);
        return NULL;
    }
    memcpy(pattern, LIMIT_PREFIX, prefix);
    memcpy(pattern + prefix, r->u.regex.pattern, r->u.regex.len);
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, n, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
                                   &code, &offset, NULL);
    free(pattern);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof(msg));
        size_t at = offset > prefix ? offset - prefix : 0;
        vrl_diag(L->err, L->src, 101, "malformed regex literal", r->span, NULL,
                 "%s (at pattern offset %zu)", (const char *)msg, at);
        return NULL;
    }
    /* Without JIT (an unsupported CPU) the interpreter matches the same. */
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    if (own(L, re, free_regex) < 0)
        return NULL;
    *source = pool_copy(L, r->u.regex.pattern, r->u.regex.len);
    return *source ? (const vrl_regex_code *)re : NULL;
}

/* The message a function's compile hook gave, at the arguments. */
static int refused_arguments(lowerer *L, const vrl_ast *call, const char *why)
{
    vrl_span at = call->span;
    uint32_t nargs = call->u.call.nargs;
    if (nargs) {
        at.start = call->u.call.args[0].value->span.start;
        at.end = call->u.call.args[nargs - 1].value->span.end;
        if (call->u.call.args[0].keyword)
            at.start = call->u.call.args[0].keyword_span.start;
    }
    return vrl_diag(L->err, L->src, 403, "invalid argument", at, NULL, "%s", why);
}

/* A function sees an array of regex literals through its compile step
 * only; at run time the argument is an empty array. */
static int lower_regex_array(lowerer *L, const vrl_ast *arg, vrl_call_node *c, uint8_t p,
                             vrl_const_arg *carg)
{
    uint32_t n = arg->u.list.n;
    const vrl_regex_code **codes = alloc(L, n * sizeof(*codes));
    vrl_node *empty = node_new(L, vrl_eval_const, arg->span);
    if (!codes || !empty)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *source;
        codes[i] = compile_regex(L, arg->u.list.items[i], &source);
        if (!codes[i])
            return -1;
    }
    empty->u.constant = value_new_array(L->prog->mem, 0);
    if (empty->u.constant.kind != VALUE_ARRAY)
        return out_of_memory(L);
    c->args[p] = empty;
    carg->constant = true;
    carg->regexes = codes;
    carg->nregexes = n;
    return 0;
}

static int lower_argument(lowerer *L, const vrl_ast *arg, vrl_call_node *c, uint8_t p,
                          vrl_const_arg *carg)
{
    carg->present = true;
    if (vrl_is_regex_array(arg))
        return lower_regex_array(L, arg, c, p, carg);
    if (arg->kind == AST_REGEX) {
        c->regex[p] = compile_regex(L, arg, &carg->regex_source);
        carg->regex = c->regex[p];
        carg->constant = true;
        return c->regex[p] ? 0 : -1;
    }
    c->args[p] = lower(L, arg);
    if (!c->args[p])
        return -1;
    if (is_const(c->args[p])) {
        carg->constant = true;
        carg->val = c->args[p]->u.constant;
    }
    return 0;
}

static int prepare_state(lowerer *L, const vrl_ast *call, vrl_call_node *c,
                         const vrl_const_arg *cargs)
{
    const vrl_function *fn = c->fn;
    if (!fn->compile)
        return 0;
    sl_error why;
    why.msg[0] = '\0';
    if (fn->compile(cargs, &c->state, &why) < 0)
        return refused_arguments(L, call, why.msg[0] ? why.msg : "refused by the function");
    if (c->state && fn->free_state)
        return own(L, c->state, fn->free_state);
    return 0;
}

static vrl_node *lower_call(lowerer *L, const vrl_ast *a)
{
    vrl_node *n = node_new(L, vrl_eval_call, a->span);
    vrl_call_node *c = alloc(L, sizeof(*c));
    if (!n || !c)
        return NULL;
    n->u.call = c;
    const vrl_function *fn = a->u.call.fn;
    c->fn = fn;
    c->nparams = fn->nparams;
    c->bang = a->u.call.bang;
    c->path_param = -1;
    c->deletes = fn == &vrl_fn_del;
    vrl_const_arg cargs[VRL_MAX_ARGS];
    memset(cargs, 0, sizeof(cargs));
    for (uint8_t p = 0; p < fn->nparams; p++) {
        const vrl_ast *arg = a->u.call.by_param[p];
        if (!arg)
            continue;
        c->check[p] = a->u.call.runtime_check[p];
        if (fn->params[p].kinds & VRL_ARG_PATH) {
            c->path_param = p;
            cargs[p].present = true;
            if (lower_place(L, arg, &c->path) < 0)
                return NULL;
        } else if (lower_argument(L, arg, c, p, &cargs[p]) < 0) {
            return NULL;
        }
    }
    return prepare_state(L, a, c, cargs) < 0 ? NULL : n;
}

/* ---- operators ----------------------------------------------------------- */

static vrl_eval_fn binary_evaluator(vrl_binop op)
{
    switch (op) {
    case OP_COALESCE: return vrl_eval_coalesce;
    case OP_OR: return vrl_eval_or;
    case OP_AND: return vrl_eval_and;
    case OP_EQ: return vrl_eval_eq;
    case OP_NE: return vrl_eval_ne;
    case OP_LT: return vrl_eval_lt;
    case OP_LE: return vrl_eval_le;
    case OP_GT: return vrl_eval_gt;
    case OP_GE: return vrl_eval_ge;
    case OP_MERGE: return vrl_eval_merge;
    case OP_ADD: return vrl_eval_add;
    case OP_SUB: return vrl_eval_sub;
    case OP_MUL: return vrl_eval_mul;
    case OP_DIV: return vrl_eval_div;
    case OP_REM: return vrl_eval_rem;
    }
    return vrl_eval_add;
}

static vrl_node *lower_binary(lowerer *L, const vrl_ast *a)
{
    vrl_node *n = node_new(L, binary_evaluator(a->u.binary.op), a->span);
    if (!n)
        return NULL;
    n->u.bin.lhs = lower(L, a->u.binary.lhs);
    n->u.bin.rhs = n->u.bin.lhs ? lower(L, a->u.binary.rhs) : NULL;
    if (!n->u.bin.rhs)
        return NULL;
    fold(L, n);
    return n;
}

static vrl_node *lower_unary(lowerer *L, const vrl_ast *a, vrl_eval_fn eval)
{
    vrl_node *n = node_new(L, eval, a->span);
    if (!n)
        return NULL;
    n->u.operand = lower(L, a->u.unary.operand);
    if (!n->u.operand)
        return NULL;
    fold(L, n);
    return n;
}

/* ---- statements ---------------------------------------------------------- */

static uint8_t default_kind(uint16_t kinds)
{
    for (uint8_t k = VALUE_NULL; k <= VALUE_MAP; k++)
        if (kinds == VRL_KIND(k))
            return k;
    return VALUE_NULL;
}

static int lower_target(lowerer *L, const vrl_ast *t, vrl_place *place, bool *present)
{
    *present = t && t->kind == AST_QUERY;
    return *present ? lower_place(L, t, place) : 0;
}

static vrl_node *lower_assign(lowerer *L, const vrl_ast *a)
{
    vrl_node *n = node_new(L, vrl_eval_assign, a->span);
    vrl_assign_node *as = alloc(L, sizeof(*as));
    if (!n || !as)
        return NULL;
    n->u.assign = as;
    as->merge = a->u.assign.op == ASSIGN_MERGE;
    if (lower_target(L, a->u.assign.target, &as->target, &as->has_target) < 0 ||
        lower_target(L, a->u.assign.err_target, &as->err_target, &as->has_err) < 0)
        return NULL;
    as->default_kind = default_kind(a->u.assign.rhs->kinds);
    as->rhs = lower(L, a->u.assign.rhs);
    if (!as->rhs)
        return NULL;
    if (a->u.assign.err_target)
        n->eval = vrl_eval_assign_err;
    else if (a->u.assign.op == ASSIGN_MERGE)
        n->eval = vrl_eval_assign_merge;
    else if (a->u.assign.op == ASSIGN_IF_OK)
        n->eval = vrl_eval_assign_if_ok;
    return n;
}

static vrl_node *lower_if(lowerer *L, const vrl_ast *a)
{
    vrl_node *n = node_new(L, vrl_eval_if, a->span);
    if (!n)
        return NULL;
    n->u.branch.check_bool = a->u.branch.check_bool;
    n->u.branch.cond = lower(L, a->u.branch.cond);
    n->u.branch.then = n->u.branch.cond ? lower(L, a->u.branch.then) : NULL;
    if (!n->u.branch.then)
        return NULL;
    if (a->u.branch.otherwise) {
        n->u.branch.otherwise = lower(L, a->u.branch.otherwise);
        if (!n->u.branch.otherwise)
            return NULL;
    }
    return n;
}

static vrl_node *lower_abort(lowerer *L, const vrl_ast *a)
{
    vrl_node *n = node_new(L, vrl_eval_abort, a->span);
    if (!n)
        return NULL;
    if (a->u.abort.message) {
        n->u.message = lower(L, a->u.abort.message);
        if (!n->u.message)
            return NULL;
    }
    return n;
}

static vrl_node *lower(lowerer *L, const vrl_ast *n)
{
    switch (n->kind) {
    case AST_LITERAL: return lower_literal(L, n);
    case AST_ARRAY: return lower_list(L, n, vrl_eval_array);
    case AST_OBJECT: return lower_object(L, n);
    case AST_QUERY: return lower_query(L, n);
    case AST_CALL: return lower_call(L, n);
    case AST_NOT: return lower_unary(L, n, vrl_eval_not);
    case AST_NEGATE: return lower_unary(L, n, vrl_eval_negate);
    case AST_BINARY: return lower_binary(L, n);
    case AST_ASSIGN: return lower_assign(L, n);
    case AST_IF: return lower_if(L, n);
    case AST_BLOCK: return lower_list(L, n, vrl_eval_block);
    case AST_ABORT: return lower_abort(L, n);
    case AST_REGEX:
    case AST_NOOP:
        break;
    }
    sl_fail(L->err, "internal error: unexpected node in lowering");
    return NULL;
}

/* ---- entry points -------------------------------------------------------- */

static vrl_program *program_new(size_t source_len)
{
    vrl_program *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->mem = arena_new();
    p->pool_len = source_len + 1;
    p->pool = malloc(p->pool_len);
    if (!p->mem || !p->pool) {
        vrl_program_free(p);
        return NULL;
    }
    return p;
}

static int build(const vrl_source *src, const vrl_options *opts, arena *scratch,
                 vrl_program *prog, sl_error *err)
{
    vrl_ast *ast;
    vrl_check_result res;
    if (vrl_parse(src, scratch, &ast, err) < 0 ||
        vrl_check(ast, src, opts, scratch, &res, err) < 0)
        return -1;
    lowerer L = {src, prog, err};
    prog->nvars = res.nvars;
    prog->journal = res.mutates_event;
    prog->root = lower(&L, ast);
    return prog->root ? 0 : -1;
}

int vrl_compile(const char *source, size_t len, const vrl_options *opts, vrl_program **out,
                sl_error *err)
{
    *out = NULL;
    if (len > UINT32_MAX / 2)
        return sl_fail(err, "the program is too long (%zu bytes)", len);
    vrl_source src = {source, len};
    arena *scratch = arena_new();
    vrl_program *prog = program_new(len);
    if (!scratch || !prog) {
        arena_free(scratch);
        vrl_program_free(prog);
        return sl_fail(err, "out of memory compiling the program");
    }
    int rc = build(&src, opts, scratch, prog, err);
    arena_free(scratch);
    if (rc < 0) {
        vrl_program_free(prog);
        return -1;
    }
    *out = prog;
    return 0;
}

void vrl_program_free(vrl_program *p)
{
    if (!p)
        return;
    for (size_t i = p->nowned; i-- > 0;)
        p->owned[i].free_fn(p->owned[i].ptr);
    free(p->owned);
    arena_free(p->mem);
    free(p->pool);
    free(p);
}
