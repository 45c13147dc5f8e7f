/* check.c - the type checker of the remap language (see ast.h).
 *
 * Every expression gets the set of kinds it may produce and whether it may
 * fail with an error the program must handle, following VRL's rules:
 * fallible function calls, `/` and `%` by anything but a non-zero literal,
 * operators whose operands can never be valid. An unhandled fallible
 * expression is refused where VRL refuses it: on the right of `=` (E103), as
 * a statement (E100), as an `if` predicate (E111), as a function argument
 * (E630).
 *
 * Types flow through the program as in VRL: variables and event paths carry
 * the kinds last assigned to them (event fields start as "any", or as the
 * source declares them in vrl_options.fields), `if` branches join, and
 * variables assigned inside a block are gone after it.
 *
 * The one deliberate difference: where VRL refuses an operand whose kinds
 * are not all acceptable (`match(.pod, r"x")` with `.pod` of unknown type),
 * sluice accepts it if any of its kinds is acceptable, and the interpreter
 * checks the kind at run time; a wrong kind there is a runtime error that
 * leaves the event unchanged. Only operands that can never be right are
 * refused (E110) or, for operators, make the expression fallible. */
#include <stdio.h>
#include <string.h>

#include "transforms/vrl/ast.h"
#include "transforms/vrl/kinds.h"
#include "pipeline/path.h"

#define NUMERIC (VRL_KIND(VALUE_INT) | VRL_KIND(VALUE_FLOAT))

#define HANDLE_HINT "handle the error with `!`, `??` or `value, err = ...`"
#define FALLIBLE_LABEL "this expression is fallible"

typedef struct var_state {
    bool defined;
    uint16_t kinds;
} var_state;

/* What the program has assigned to an event or metadata path so far. */
typedef struct path_fact {
    vrl_query_root root;
    const vrl_segment *segs;
    uint32_t nsegs;
    uint16_t kinds;
} path_fact;

typedef struct env {
    var_state *vars;          /* one per slot */
    path_fact *facts;
    uint32_t nfacts, cap;
} env;

typedef struct slot_name {
    const char *name;
    uint32_t len;
} slot_name;

typedef struct checker {
    const vrl_source *src;
    arena *a;
    sl_error *err;
    slot_name *slots;
    uint32_t nslots, slot_cap;
    env env;
    bool mutates;
} checker;

static int check(checker *c, vrl_ast *n);
static int check_block(checker *c, vrl_ast *n, bool scoped);

static int out_of_memory(checker *c)
{
    return sl_fail(c->err, "out of memory checking the program");
}

/* ---- variables ----------------------------------------------------------- */

static int slot_for(checker *c, const char *name, uint32_t len, uint32_t *slot)
{
    for (uint32_t i = 0; i < c->nslots; i++) {
        if (c->slots[i].len == len && memcmp(c->slots[i].name, name, len) == 0) {
            *slot = i;
            return 0;
        }
    }
    if (c->nslots == c->slot_cap) {
        uint32_t cap = c->slot_cap ? c->slot_cap * 2 : 8;
        slot_name *s = arena_grow(c->a, c->slots, c->slot_cap * sizeof(*s), cap * sizeof(*s));
        if (!s)
            return out_of_memory(c);
        c->slots = s;
        c->slot_cap = cap;
    }
    c->slots[c->nslots].name = name;
    c->slots[c->nslots].len = len;
    *slot = c->nslots++;
    return 0;
}

/* Gives every variable name its slot before checking, so that environments
 * have a fixed size. */
static int assign_slots(checker *c, vrl_ast *n)
{
    if (!n)
        return 0;
    switch (n->kind) {
    case AST_QUERY:
        if (n->u.query.root == ROOT_VAR)
            return slot_for(c, n->u.query.name, n->u.query.nlen, &n->u.query.slot);
        return assign_slots(c, n->u.query.expr);
    case AST_ARRAY:
    case AST_BLOCK:
        for (uint32_t i = 0; i < n->u.list.n; i++)
            if (assign_slots(c, n->u.list.items[i]) < 0)
                return -1;
        return 0;
    case AST_OBJECT:
        for (uint32_t i = 0; i < n->u.object.n; i++)
            if (assign_slots(c, n->u.object.entries[i].value) < 0)
                return -1;
        return 0;
    case AST_CALL:
        for (uint32_t i = 0; i < n->u.call.nargs; i++)
            if (assign_slots(c, n->u.call.args[i].value) < 0)
                return -1;
        return 0;
    case AST_NOT:
    case AST_NEGATE:
        return assign_slots(c, n->u.unary.operand);
    case AST_BINARY:
        return assign_slots(c, n->u.binary.lhs) < 0 ? -1 : assign_slots(c, n->u.binary.rhs);
    case AST_ASSIGN:
        if (assign_slots(c, n->u.assign.target) < 0 || assign_slots(c, n->u.assign.err_target) < 0)
            return -1;
        return assign_slots(c, n->u.assign.rhs);
    case AST_IF:
        if (assign_slots(c, n->u.branch.cond) < 0 || assign_slots(c, n->u.branch.then) < 0)
            return -1;
        return assign_slots(c, n->u.branch.otherwise);
    case AST_ABORT:
        return assign_slots(c, n->u.abort.message);
    default:
        return 0;
    }
}

/* ---- environments -------------------------------------------------------- */

static int env_clone(checker *c, const env *src, env *dst)
{
    size_t vbytes = (size_t)c->nslots * sizeof(var_state);
    dst->vars = arena_alloc(c->a, vbytes ? vbytes : 1);
    dst->facts = arena_alloc(c->a, (src->cap ? src->cap : 1) * sizeof(path_fact));
    if (!dst->vars || !dst->facts)
        return out_of_memory(c);
    if (vbytes)
        memcpy(dst->vars, src->vars, vbytes);
    if (src->nfacts)
        memcpy(dst->facts, src->facts, src->nfacts * sizeof(path_fact));
    dst->nfacts = src->nfacts;
    dst->cap = src->cap ? src->cap : 1;
    return 0;
}

static bool same_segment(const vrl_segment *a, const vrl_segment *b)
{
    if (a->is_index != b->is_index)
        return false;
    if (a->is_index)
        return a->index == b->index;
    return a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0;
}

/* Whether the first n segments of a and b agree. */
static bool same_prefix(const vrl_segment *a, const vrl_segment *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!same_segment(&a[i], &b[i]))
            return false;
    return true;
}

static bool same_path(const path_fact *f, vrl_query_root root, const vrl_segment *segs,
                      uint32_t n)
{
    return f->root == root && f->nsegs == n && same_prefix(f->segs, segs, n);
}

static uint16_t fact_lookup(const env *e, vrl_query_root root, const vrl_segment *segs,
                            uint32_t n)
{
    if (n == 0)
        return K_MAP;
    for (uint32_t i = 0; i < e->nfacts; i++)
        if (same_path(&e->facts[i], root, segs, n))
            return e->facts[i].kinds;
    return VRL_KIND_ANY;
}

/* Forgets what is known about the path, the paths inside it and the paths
 * around it: all of them change when it is written. */
static void facts_forget(env *e, vrl_query_root root, const vrl_segment *segs, uint32_t n)
{
    uint32_t keep = 0;
    for (uint32_t i = 0; i < e->nfacts; i++) {
        path_fact *f = &e->facts[i];
        uint32_t common = f->nsegs < n ? f->nsegs : n;
        bool related = f->root == root && same_prefix(f->segs, segs, common);
        if (!related)
            e->facts[keep++] = *f;
    }
    e->nfacts = keep;
}

static int facts_set(checker *c, vrl_query_root root, const vrl_segment *segs, uint32_t n,
                     uint16_t kinds)
{
    env *e = &c->env;
    facts_forget(e, root, segs, n);
    if (n == 0)
        return 0;
    if (e->nfacts == e->cap) {
        uint32_t cap = e->cap ? e->cap * 2 : 8;
        path_fact *f = arena_grow(c->a, e->facts, e->cap * sizeof(*f), cap * sizeof(*f));
        if (!f)
            return out_of_memory(c);
        e->facts = f;
        e->cap = cap;
    }
    path_fact *f = &e->facts[e->nfacts++];
    f->root = root;
    f->segs = segs;
    f->nsegs = n;
    f->kinds = kinds;
    return 0;
}

/* After an `if`: what both branches agree on, with the kinds joined. */
static void env_join(checker *c, env *into, const env *other)
{
    for (uint32_t i = 0; i < c->nslots; i++) {
        into->vars[i].defined = into->vars[i].defined && other->vars[i].defined;
        into->vars[i].kinds |= other->vars[i].kinds;
    }
    uint32_t keep = 0;
    for (uint32_t i = 0; i < into->nfacts; i++) {
        path_fact f = into->facts[i];
        for (uint32_t j = 0; j < other->nfacts; j++) {
            if (same_path(&other->facts[j], f.root, f.segs, f.nsegs)) {
                f.kinds |= other->facts[j].kinds;
                into->facts[keep++] = f;
                break;
            }
        }
    }
    into->nfacts = keep;
}

/* Declared field types (kubernetes_logs metadata are strings). */
static int declare_fields(checker *c, const vrl_options *opts)
{
    for (size_t i = 0; opts && i < opts->nfields; i++) {
        path p;
        sl_error perr;
        if (path_parse(opts->fields[i].path, &p, &perr) < 0)
            return sl_fail(c->err, "declared field: %s", perr.msg);
        vrl_segment *segs = arena_alloc(c->a, (p.n ? p.n : 1) * sizeof(*segs));
        bool ok = segs != NULL;
        for (size_t k = 0; ok && k < p.n; k++) {
            segs[k].is_index = p.segs[k].is_index;
            segs[k].index = p.segs[k].index;
            segs[k].klen = p.segs[k].klen;
            segs[k].key = p.segs[k].is_index ? NULL
                                              : arena_strndup(c->a, p.segs[k].key, p.segs[k].klen);
            ok = p.segs[k].is_index || segs[k].key;
        }
        uint32_t n = (uint32_t)p.n;
        path_free(&p);
        if (!ok)
            return out_of_memory(c);
        if (facts_set(c, ROOT_EVENT, segs, n, opts->fields[i].kinds) < 0)
            return -1;
    }
    return 0;
}

/* ---- messages ------------------------------------------------------------ */

static int unhandled(checker *c, int code, const char *title, vrl_span at)
{
    return vrl_diag(c->err, c->src, code, title, at, HANDLE_HINT, FALLIBLE_LABEL);
}

static void mark_fallible(vrl_ast *n, const vrl_ast *from)
{
    if (from && from->fallible && !n->fallible) {
        n->fallible = true;
        n->fail_at = from->fail_at;
    }
}

static void mark_fallible_here(vrl_ast *n)
{
    if (!n->fallible) {
        n->fallible = true;
        n->fail_at = n->span;
    }
}

/* ---- queries ------------------------------------------------------------- */

static int undefined_variable(checker *c, const vrl_ast *n)
{
    vrl_span name = {n->span.start, n->span.start + n->u.query.nlen};
    return vrl_diag(c->err, c->src, 701, "call to undefined variable", name,
                    "assign the variable first, or fix the name", "undefined variable \"%.*s\"",
                    (int)n->u.query.nlen, n->u.query.name);
}

static int check_query(checker *c, vrl_ast *n)
{
    switch (n->u.query.root) {
    case ROOT_EVENT:
    case ROOT_META:
        n->kinds = fact_lookup(&c->env, n->u.query.root, n->u.query.segs, n->u.query.nsegs);
        return 0;
    case ROOT_VAR: {
        var_state *v = &c->env.vars[n->u.query.slot];
        if (!v->defined)
            return undefined_variable(c, n);
        n->kinds = n->u.query.nsegs == 0 ? v->kinds : VRL_KIND_ANY;
        return 0;
    }
    case ROOT_EXPR:
        if (check(c, n->u.query.expr) < 0)
            return -1;
        mark_fallible(n, n->u.query.expr);
        n->kinds = VRL_KIND_ANY;
        return 0;
    }
    return 0;
}

/* ---- function calls ------------------------------------------------------ */

static size_t edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
    size_t row[64];
    if (bn >= SL_ARRAY_LEN(row))
        return SIZE_MAX;
    for (size_t j = 0; j <= bn; j++)
        row[j] = j;
    for (size_t i = 1; i <= an; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[bn];
}

static const char *closest_function(const char *name, size_t len)
{
    size_t n, best = SIZE_MAX;
    const char *found = NULL;
    const vrl_function *const *fns = vrl_functions_all(&n);
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(name, len, fns[i]->name, strlen(fns[i]->name));
        if (d < best) {
            best = d;
            found = fns[i]->name;
        }
    }
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    return best <= limit ? found : NULL;
}

static int undefined_function(checker *c, const vrl_ast *n)
{
    char note[128] = "";
    const char *near = closest_function(n->u.call.name, n->u.call.nlen);
    if (near)
        snprintf(note, sizeof(note), "did you mean \"%s\"?", near);
    return vrl_diag(c->err, c->src, 105, "call to undefined function", n->u.call.name_span, note,
                    "undefined function \"%.*s\"", (int)n->u.call.nlen, n->u.call.name);
}

static void param_list(const vrl_function *fn, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (uint8_t i = 0; i < fn->nparams && len < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", fn->params[i].name);
        if (w < 0)
            return;
        len += (size_t)w;
    }
}

static int param_by_keyword(const vrl_function *fn, const vrl_arg_ast *arg)
{
    for (uint8_t i = 0; i < fn->nparams; i++)
        if (strlen(fn->params[i].name) == arg->klen &&
            memcmp(fn->params[i].name, arg->keyword, arg->klen) == 0)
            return i;
    return -1;
}

static int unknown_keyword(checker *c, const vrl_function *fn, const vrl_arg_ast *arg)
{
    char params[160], note[200];
    param_list(fn, params, sizeof(params));
    snprintf(note, sizeof(note), "\"%s\" takes: %s", fn->name, params);
    return vrl_diag(c->err, c->src, 108, "unknown function argument keyword", arg->keyword_span,
                    note, "unknown keyword \"%.*s\"", (int)arg->klen, arg->keyword);
}

static int too_many_args(checker *c, const vrl_function *fn, const vrl_arg_ast *arg)
{
    char note[128];
    snprintf(note, sizeof(note), "\"%s\" takes at most %u argument%s", fn->name,
             (unsigned)fn->nparams, fn->nparams == 1 ? "" : "s");
    return vrl_diag(c->err, c->src, 106, "function argument arity mismatch", arg->value->span,
                    note, "this argument is one too many");
}

/* Maps each argument to its parameter (positional ones in order). */
static int bind_arguments(checker *c, vrl_ast *n, const vrl_function *fn)
{
    uint32_t positional = 0;
    for (uint32_t i = 0; i < n->u.call.nargs; i++) {
        const vrl_arg_ast *arg = &n->u.call.args[i];
        int p;
        if (arg->keyword) {
            p = param_by_keyword(fn, arg);
            if (p < 0)
                return unknown_keyword(c, fn, arg);
        } else {
            if (positional >= fn->nparams)
                return too_many_args(c, fn, arg);
            p = (int)positional++;
        }
        if (n->u.call.by_param[p])
            return vrl_diag(c->err, c->src, 106, "function argument arity mismatch",
                            arg->value->span, NULL, "\"%s\" is given twice", fn->params[p].name);
        n->u.call.by_param[p] = arg->value;
    }
    for (uint8_t p = 0; p < fn->nparams; p++)
        if (fn->params[p].required && !n->u.call.by_param[p])
            return vrl_diag(c->err, c->src, 107, "required argument missing", n->span, NULL,
                            "\"%s\" needs the argument \"%s\"", fn->name, fn->params[p].name);
    return 0;
}

static int wrong_argument(checker *c, const vrl_ast *arg, const vrl_param *param, uint16_t got)
{
    char got_s[96], want_s[96];
    vrl_kinds_describe(got, got_s, sizeof(got_s));
    vrl_kinds_describe(param->kinds & (VRL_KIND_ANY | VRL_ARG_REGEX), want_s, sizeof(want_s));
    if (param->kinds & VRL_ARG_PATH)
        snprintf(want_s, sizeof(want_s), "a path");
    return vrl_diag(c->err, c->src, 110, "invalid argument type", arg->span, NULL,
                    "this expression resolves to %s, but the parameter \"%s\" expects %s", got_s,
                    param->name, want_s);
}

bool vrl_is_regex_array(const vrl_ast *n)
{
    if (n->kind != AST_ARRAY || n->u.list.n == 0)
        return false;
    for (uint32_t i = 0; i < n->u.list.n; i++)
        if (n->u.list.items[i]->kind != AST_REGEX)
            return false;
    return true;
}

static bool is_path_argument(const vrl_ast *arg)
{
    return arg->kind == AST_QUERY && arg->u.query.root != ROOT_EXPR;
}

/* exists(.a), del(.a): the path itself is the argument. */
static int check_path_argument(checker *c, const vrl_function *fn, vrl_ast *arg,
                               const vrl_param *param)
{
    if (!is_path_argument(arg)) {
        if (arg->kind != AST_REGEX && check(c, arg) < 0)
            return -1;
        return wrong_argument(c, arg, param, arg->kind == AST_REGEX ? VRL_ARG_REGEX : arg->kinds);
    }
    if (arg->u.query.root == ROOT_VAR && !c->env.vars[arg->u.query.slot].defined)
        return undefined_variable(c, arg);
    arg->kinds = VRL_KIND_ANY;
    /* A path argument that is written, not only read, is del's. */
    if (strcmp(fn->name, "del") == 0 && arg->u.query.root != ROOT_VAR) {
        c->mutates = true;
        facts_forget(&c->env, arg->u.query.root, arg->u.query.segs, arg->u.query.nsegs);
    }
    return 0;
}

static int check_argument(checker *c, const vrl_function *fn, vrl_ast *n, uint8_t p)
{
    vrl_ast *arg = n->u.call.by_param[p];
    const vrl_param *param = &fn->params[p];
    if (param->kinds & VRL_ARG_PATH)
        return check_path_argument(c, fn, arg, param);
    if (arg->kind == AST_REGEX) {
        arg->kinds = VRL_ARG_REGEX;
        return (param->kinds & VRL_ARG_REGEX) ? 0 : wrong_argument(c, arg, param, VRL_ARG_REGEX);
    }
    if (vrl_is_regex_array(arg)) {
        arg->kinds = K_ARRAY;
        return (param->kinds & K_ARRAY) ? 0 : wrong_argument(c, arg, param, K_ARRAY);
    }
    if (check(c, arg) < 0)
        return -1;
    if (arg->fallible)
        return vrl_diag(c->err, c->src, 630, "fallible argument", arg->fail_at, HANDLE_HINT,
                        FALLIBLE_LABEL);
    uint16_t accepted = param->kinds & VRL_KIND_ANY;
    if (arg->kinds && !(arg->kinds & accepted))
        return wrong_argument(c, arg, param, arg->kinds);
    if (arg->kinds & ~accepted)
        n->u.call.runtime_check[p] = accepted;
    return 0;
}

static const vrl_function *find_function(const vrl_ast *n)
{
    char name[64];
    if (n->u.call.nlen >= sizeof(name))
        return NULL;
    memcpy(name, n->u.call.name, n->u.call.nlen);
    name[n->u.call.nlen] = '\0';
    return vrl_function_find(name);
}

static int check_call(checker *c, vrl_ast *n)
{
    const vrl_function *fn = find_function(n);
    if (!fn)
        return undefined_function(c, n);
    n->u.call.fn = fn;
    if (bind_arguments(c, n, fn) < 0)
        return -1;
    for (uint8_t p = 0; p < fn->nparams; p++)
        if (n->u.call.by_param[p] && check_argument(c, fn, n, p) < 0)
            return -1;
    n->kinds = fn->returns;
    const vrl_ast *first = n->u.call.by_param[0];
    bool by_kind = first && fn->fallible_kinds && (first->kinds & fn->fallible_kinds);
    if ((fn->fallible || by_kind) && !n->u.call.bang)
        mark_fallible_here(n);
    return 0;
}

/* ---- operators ----------------------------------------------------------- */

static bool overlaps(uint16_t a, uint16_t b)
{
    return (a & b) != 0;
}

static bool is_nonzero_literal(const vrl_ast *n)
{
    if (n->kind != AST_LITERAL)
        return false;
    if (n->u.literal.kind == VALUE_INT)
        return n->u.literal.u.i != 0;
    return n->u.literal.kind == VALUE_FLOAT && n->u.literal.u.f != 0 &&
           n->u.literal.u.f == n->u.literal.u.f;
}

static uint16_t add_kinds(uint16_t l, uint16_t r)
{
    uint16_t k = 0;
    if ((l & K_INT) && (r & K_INT))
        k |= K_INT;
    if (((l & K_FLOAT) && (r & NUMERIC)) || ((l & NUMERIC) && (r & K_FLOAT)))
        k |= K_FLOAT;
    if (((l & K_BYTES) && (r & (K_BYTES | K_NULL))) || ((l & K_NULL) && (r & K_BYTES)))
        k |= K_BYTES;
    return k;
}

static uint16_t numeric_kinds(uint16_t l, uint16_t r)
{
    uint16_t k = 0;
    if ((l & K_INT) && (r & K_INT))
        k |= K_INT;
    if (((l & K_FLOAT) && (r & NUMERIC)) || ((l & NUMERIC) && (r & K_FLOAT)))
        k |= K_FLOAT;
    return k;
}

static uint16_t mul_kinds(uint16_t l, uint16_t r)
{
    uint16_t k = numeric_kinds(l, r);
    if (((l & K_BYTES) && (r & K_INT)) || ((l & K_INT) && (r & K_BYTES)))
        k |= K_BYTES;
    return k;
}

static bool comparable(uint16_t l, uint16_t r)
{
    return (overlaps(l, NUMERIC) && overlaps(r, NUMERIC)) ||
           (overlaps(l, K_BYTES) && overlaps(r, K_BYTES)) || (overlaps(l, K_TS) && overlaps(r, K_TS));
}

static int not_objects(checker *c, const vrl_ast *n, uint16_t kinds)
{
    char got[96];
    vrl_kinds_describe(kinds, got, sizeof(got));
    return vrl_diag(c->err, c->src, 652, "only objects can be merged", n->span, NULL,
                    "this expression resolves to %s", got);
}

/* The kinds an arithmetic result may have; 0 marks an impossible one. */
static uint16_t arithmetic_kinds(vrl_binop op, uint16_t l, uint16_t r)
{
    switch (op) {
    case OP_ADD: return add_kinds(l, r);
    case OP_SUB: return numeric_kinds(l, r);
    case OP_MUL: return mul_kinds(l, r);
    case OP_DIV: return overlaps(l, NUMERIC) && overlaps(r, NUMERIC) ? K_FLOAT : 0;
    case OP_REM: return numeric_kinds(l, r);
    default: return 0;
    }
}

static int check_binary_kinds(checker *c, vrl_ast *n)
{
    vrl_ast *lhs = n->u.binary.lhs, *rhs = n->u.binary.rhs;
    uint16_t l = lhs->kinds, r = rhs->kinds;
    vrl_binop op = n->u.binary.op;
    switch (op) {
    case OP_COALESCE:
        n->kinds = l | r;
        return 0;
    case OP_OR:
        if (l == K_NULL)
            n->kinds = r;
        else if (!overlaps(l, K_NULL | K_BOOL))
            n->kinds = l;
        else
            n->kinds = (uint16_t)((l & ~K_NULL) | r);
        return 0;
    case OP_AND:
        n->kinds = K_BOOL;
        if (!overlaps(l, K_NULL | K_BOOL) || !overlaps(r, K_NULL | K_BOOL))
            mark_fallible_here(n);
        return 0;
    case OP_EQ:
    case OP_NE:
        n->kinds = K_BOOL;
        return 0;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        n->kinds = K_BOOL;
        if (!comparable(l, r))
            mark_fallible_here(n);
        return 0;
    case OP_MERGE:
        if (l && !overlaps(l, K_MAP))
            return not_objects(c, lhs, l);
        if (r && !overlaps(r, K_MAP))
            return not_objects(c, rhs, r);
        n->kinds = K_MAP;
        return 0;
    default:
        n->kinds = arithmetic_kinds(op, l, r);
        if (!n->kinds) {
            mark_fallible_here(n);
            n->kinds = K_INT | K_FLOAT | K_BYTES;
        }
        if ((op == OP_DIV || op == OP_REM) && !is_nonzero_literal(rhs))
            mark_fallible_here(n);
        return 0;
    }
}

static int check_binary(checker *c, vrl_ast *n)
{
    vrl_ast *lhs = n->u.binary.lhs, *rhs = n->u.binary.rhs;
    if (check(c, lhs) < 0)
        return -1;
    /* The right side of `??`, `||` and `&&` may not run: what it assigns
     * is joined with what was known before it. */
    bool maybe_skipped = n->u.binary.op <= OP_AND;
    env before;
    if (maybe_skipped && env_clone(c, &c->env, &before) < 0)
        return -1;
    if (check(c, rhs) < 0)
        return -1;
    if (maybe_skipped)
        env_join(c, &c->env, &before);
    if (n->u.binary.op == OP_COALESCE) {
        if (lhs->fallible)
            mark_fallible(n, rhs);
    } else {
        mark_fallible(n, lhs);
        mark_fallible(n, rhs);
    }
    return check_binary_kinds(c, n);
}

static int check_not(checker *c, vrl_ast *n)
{
    vrl_ast *operand = n->u.unary.operand;
    if (check(c, operand) < 0)
        return -1;
    if (operand->kinds && !overlaps(operand->kinds, K_BOOL)) {
        char got[96];
        vrl_kinds_describe(operand->kinds, got, sizeof(got));
        return vrl_diag(c->err, c->src, 660, "non-boolean negation", operand->span, NULL,
                        "this expression resolves to %s, not a boolean", got);
    }
    mark_fallible(n, operand);
    n->kinds = K_BOOL;
    return 0;
}

static int check_negate(checker *c, vrl_ast *n)
{
    vrl_ast *operand = n->u.unary.operand;
    if (check(c, operand) < 0)
        return -1;
    mark_fallible(n, operand);
    n->kinds = operand->kinds & NUMERIC;
    if (!n->kinds) {
        n->kinds = NUMERIC;
        mark_fallible_here(n);
    }
    return 0;
}

/* ---- assignments --------------------------------------------------------- */

/* The kinds a target holds now (for `|=`). */
static uint16_t target_kinds(checker *c, const vrl_ast *t)
{
    if (t->u.query.root == ROOT_VAR) {
        const var_state *v = &c->env.vars[t->u.query.slot];
        if (!v->defined)
            return K_NULL;
        return t->u.query.nsegs ? VRL_KIND_ANY : v->kinds;
    }
    return fact_lookup(&c->env, t->u.query.root, t->u.query.segs, t->u.query.nsegs);
}

static int root_not_object(checker *c, const vrl_ast *rhs)
{
    char got[96];
    vrl_kinds_describe(rhs->kinds, got, sizeof(got));
    return vrl_diag(c->err, c->src, 653, "invalid root assignment", rhs->span,
                    "the event root `.` (and `%`) must stay an object",
                    "this expression resolves to %s, not an object", got);
}

/* Records that the target now holds `kinds`. */
static int assign_target(checker *c, vrl_ast *t, uint16_t kinds)
{
    if (t->kind == AST_NOOP)
        return 0;
    if (t->u.query.root == ROOT_VAR) {
        var_state *v = &c->env.vars[t->u.query.slot];
        if (t->u.query.nsegs == 0) {
            v->kinds = kinds;
        } else {
            bool index = t->u.query.segs[0].is_index;
            bool keeps = v->defined && (v->kinds & (index ? K_ARRAY : K_MAP));
            v->kinds = keeps ? (v->kinds & (index ? K_ARRAY : K_MAP)) : (index ? K_ARRAY : K_MAP);
        }
        v->defined = true;
        t->kinds = v->kinds;
        return 0;
    }
    c->mutates = true;
    return facts_set(c, t->u.query.root, t->u.query.segs, t->u.query.nsegs, kinds);
}

static bool is_root_target(const vrl_ast *t)
{
    return t && t->kind == AST_QUERY && t->u.query.root != ROOT_VAR && t->u.query.nsegs == 0;
}

/* The value `ok` gets when the right side fails: the default of its type. */
static uint16_t on_error_kinds(uint16_t kinds)
{
    bool single = kinds && (kinds & (kinds - 1)) == 0;
    return single ? kinds : (uint16_t)(kinds | K_NULL);
}

static int check_assign(checker *c, vrl_ast *n)
{
    vrl_ast *target = n->u.assign.target, *err_target = n->u.assign.err_target;
    vrl_ast *rhs = n->u.assign.rhs;
    if (target->kind == AST_QUERY && target->u.query.root == ROOT_VAR && target->u.query.nsegs &&
        !c->env.vars[target->u.query.slot].defined && n->u.assign.op == ASSIGN_MERGE)
        return undefined_variable(c, target);
    if (rhs->kind == AST_REGEX)
        return vrl_diag(c->err, c->src, 110, "invalid argument type", rhs->span,
                        "regex literals can only be function arguments",
                        "a regex can't be assigned");
    uint16_t before = target->kind == AST_QUERY ? target_kinds(c, target) : 0;
    if (check(c, rhs) < 0)
        return -1;
    bool handled = err_target || n->u.assign.op == ASSIGN_IF_OK;
    if (rhs->fallible && !handled)
        return unhandled(c, 103, "unhandled fallible assignment", rhs->fail_at);
    uint16_t kinds = rhs->kinds;
    if (n->u.assign.op == ASSIGN_MERGE) {
        if (before && !overlaps(before, K_MAP))
            return not_objects(c, target, before);
        if (rhs->kinds && !overlaps(rhs->kinds, K_MAP))
            return not_objects(c, rhs, rhs->kinds);
        kinds = K_MAP;
    }
    if (err_target)
        kinds = on_error_kinds(kinds);
    if (n->u.assign.op == ASSIGN_IF_OK && rhs->fallible)
        kinds |= before;
    if (is_root_target(target) && kinds && !overlaps(kinds, K_MAP))
        return root_not_object(c, rhs);
    if (is_root_target(err_target))
        return root_not_object(c, err_target);
    if (assign_target(c, target, kinds) < 0)
        return -1;
    if (err_target && assign_target(c, err_target, K_BYTES | K_NULL) < 0)
        return -1;
    n->kinds = kinds;
    return 0;
}

/* ---- control flow -------------------------------------------------------- */

static int check_if(checker *c, vrl_ast *n)
{
    vrl_ast *cond = n->u.branch.cond;
    if (check(c, cond) < 0)
        return -1;
    if (cond->fallible)
        return unhandled(c, 111, "unhandled fallible predicate", cond->fail_at);
    if (cond->kinds && !overlaps(cond->kinds, K_BOOL)) {
        char got[96];
        vrl_kinds_describe(cond->kinds, got, sizeof(got));
        return vrl_diag(c->err, c->src, 102, "non-boolean if expression predicate", cond->span,
                        "VRL has no truthy values: compare, or use a function such as exists()",
                        "this predicate resolves to %s, not a boolean", got);
    }
    n->u.branch.check_bool = cond->kinds != K_BOOL;

    env before;
    if (env_clone(c, &c->env, &before) < 0 || check_block(c, n->u.branch.then, true) < 0)
        return -1;
    env after_then = c->env;
    c->env = before;
    vrl_ast *otherwise = n->u.branch.otherwise;
    if (otherwise) {
        int rc = otherwise->kind == AST_IF ? check(c, otherwise) : check_block(c, otherwise, true);
        if (rc < 0)
            return -1;
    }
    env_join(c, &c->env, &after_then);
    n->kinds = n->u.branch.then->kinds | (otherwise ? otherwise->kinds : K_NULL);
    mark_fallible(n, n->u.branch.then);
    mark_fallible(n, otherwise);
    return 0;
}

static int check_block(checker *c, vrl_ast *n, bool scoped)
{
    bool *defined_before = NULL;
    if (scoped && c->nslots) {
        defined_before = arena_alloc(c->a, c->nslots * sizeof(bool));
        if (!defined_before)
            return out_of_memory(c);
        for (uint32_t i = 0; i < c->nslots; i++)
            defined_before[i] = c->env.vars[i].defined;
    }
    n->kinds = K_NULL;
    for (uint32_t i = 0; i < n->u.list.n; i++) {
        vrl_ast *stmt = n->u.list.items[i];
        if (check(c, stmt) < 0)
            return -1;
        if (!scoped && stmt->fallible)
            return unhandled(c, 100, "unhandled error", stmt->fail_at);
        mark_fallible(n, stmt);
        n->kinds = stmt->kinds;
    }
    for (uint32_t i = 0; defined_before && i < c->nslots; i++)
        if (!defined_before[i])
            c->env.vars[i].defined = false;
    return 0;
}

static int check_abort(checker *c, vrl_ast *n)
{
    vrl_ast *msg = n->u.abort.message;
    n->kinds = 0;
    if (!msg)
        return 0;
    if (check(c, msg) < 0)
        return -1;
    if (msg->fallible)
        return unhandled(c, 631, "fallible abort message expression", msg->fail_at);
    if (msg->kinds && !overlaps(msg->kinds, K_BYTES)) {
        char got[96];
        vrl_kinds_describe(msg->kinds, got, sizeof(got));
        return vrl_diag(c->err, c->src, 113, "non-string abort message", msg->span, NULL,
                        "this expression resolves to %s, not a string", got);
    }
    return 0;
}

static int check_list(checker *c, vrl_ast *n, uint16_t kinds)
{
    for (uint32_t i = 0; i < n->u.list.n; i++) {
        vrl_ast *item = n->u.list.items[i];
        if (item->kind == AST_REGEX)
            return vrl_diag(c->err, c->src, 110, "invalid argument type", item->span,
                            "regex literals can only be function arguments",
                            "a regex can't be stored");
        if (check(c, item) < 0)
            return -1;
        mark_fallible(n, item);
    }
    n->kinds = kinds;
    return 0;
}

static int check_object(checker *c, vrl_ast *n)
{
    for (uint32_t i = 0; i < n->u.object.n; i++) {
        vrl_ast *v = n->u.object.entries[i].value;
        if (v->kind == AST_REGEX)
            return vrl_diag(c->err, c->src, 110, "invalid argument type", v->span,
                            "regex literals can only be function arguments",
                            "a regex can't be stored");
        if (check(c, v) < 0)
            return -1;
        mark_fallible(n, v);
    }
    n->kinds = K_MAP;
    return 0;
}

static int check(checker *c, vrl_ast *n)
{
    switch (n->kind) {
    case AST_LITERAL:
        n->kinds = VRL_KIND(n->u.literal.kind);
        return 0;
    case AST_REGEX:
        return vrl_diag(c->err, c->src, 110, "invalid argument type", n->span,
                        "regex literals can only be function arguments",
                        "a regex is not a value here");
    case AST_ARRAY: return check_list(c, n, K_ARRAY);
    case AST_OBJECT: return check_object(c, n);
    case AST_QUERY: return check_query(c, n);
    case AST_CALL: return check_call(c, n);
    case AST_NOT: return check_not(c, n);
    case AST_NEGATE: return check_negate(c, n);
    case AST_BINARY: return check_binary(c, n);
    case AST_ASSIGN: return check_assign(c, n);
    case AST_IF: return check_if(c, n);
    case AST_BLOCK: return check_block(c, n, true);
    case AST_ABORT: return check_abort(c, n);
    case AST_NOOP:
        n->kinds = 0;
        return 0;
    }
    return 0;
}

/* A condition (filter, route) must be able to end in a boolean. */
static int check_condition(checker *c, const vrl_ast *program)
{
    uint32_t n = program->u.list.n;
    const vrl_ast *last = n ? program->u.list.items[n - 1] : NULL;
    uint16_t kinds = last ? last->kinds : K_NULL;
    if (overlaps(kinds, K_BOOL) || (last && kinds == 0))
        return 0;
    char got[96];
    vrl_kinds_describe(kinds, got, sizeof(got));
    vrl_span at = last ? last->span : program->span;
    return vrl_diag(c->err, c->src, 102, "non-boolean condition", at,
                    "a condition must end in a boolean expression",
                    "this condition resolves to %s, never a boolean", got);
}

int vrl_check(vrl_ast *program, const vrl_source *src, const vrl_options *opts, arena *a,
              vrl_check_result *res, sl_error *err)
{
    checker c;
    memset(&c, 0, sizeof(c));
    c.src = src;
    c.a = a;
    c.err = err;
    if (assign_slots(&c, program) < 0)
        return -1;
    c.env.vars = arena_alloc(a, (c.nslots ? c.nslots : 1) * sizeof(var_state));
    if (!c.env.vars)
        return out_of_memory(&c);
    memset(c.env.vars, 0, (c.nslots ? c.nslots : 1) * sizeof(var_state));
    if (declare_fields(&c, opts) < 0 || check_block(&c, program, false) < 0)
        return -1;
    if (opts && opts->condition && check_condition(&c, program) < 0)
        return -1;
    res->nvars = c.nslots;
    res->mutates_event = c.mutates;
    return 0;
}
