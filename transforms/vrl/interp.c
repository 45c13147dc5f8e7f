/* interp.c - vrl_run and the evaluators of the executable tree (see vrl.h
 * and program.h).
 *
 * Operators follow VRL's value rules: integers and floats mix into floats,
 * integer arithmetic wraps, `/` always gives a float and fails on a zero
 * divisor, `+` joins strings (a null on either side is ignored), `*`
 * repeats a string, `==` compares integers and floats by value, `<` and
 * friends order numbers, strings (bytewise) and timestamps. A float that
 * would be NaN becomes 0, as VRL's from_f64_or_zero makes it. `||` returns
 * its left side unless that is null or false; `&&` treats null as false.
 *
 * A run allocates only from the arena it is given: variables (beyond a few
 * on the stack), strings built by operators, containers, journal entries. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "transforms/vrl/fn_util.h"
#include "transforms/vrl/program.h"

/* Variables kept on the stack; more come from the arena. */
#define STACK_VARS 16
/* `+` and `*` refuse to build strings larger than this: far beyond any log
 * line, and a program repeating a string into gigabytes fails instead of
 * exhausting memory. */
#define MAX_STRING_BYTES (16u << 20)

vrl_status vrl_raise(vrl_ctx *cx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cx->msg, sizeof(cx->msg), fmt, ap);
    va_end(ap);
    return VRL_ERROR;
}

static double float_or_zero(double f)
{
    return isnan(f) ? 0.0 : f;
}

/* ---- constants, variables, paths ----------------------------------------- */

vrl_status vrl_eval_const(const vrl_node *n, vrl_ctx *cx, value *out)
{
    SL_UNUSED(cx);
    *out = n->u.constant;
    return VRL_OK;
}

vrl_status vrl_eval_var(const vrl_node *n, vrl_ctx *cx, value *out)
{
    *out = cx->vars[n->u.place.var];
    return VRL_OK;
}

vrl_status vrl_eval_event_field(const vrl_node *n, vrl_ctx *cx, value *out)
{
    const value *root = cx->root;
    if (root->kind == VALUE_MAP) {
        const vrl_seg *s = n->u.place.segs;
        const value *v = value_map_get(root->u.map, s->key, s->klen);
        if (v) {
            *out = *v;
            return VRL_OK;
        }
    }
    *out = value_null();
    return VRL_OK;
}

vrl_status vrl_eval_query(const vrl_node *n, vrl_ctx *cx, value *out)
{
    const vrl_place *p = &n->u.place;
    value tmp;
    const value *root = vrl_place_root(cx, p);
    if (p->root == PLACE_EXPR) {
        vrl_status st = vrl_eval(p->expr, cx, &tmp);
        if (st != VRL_OK)
            return st;
        root = &tmp;
    }
    const value *v = vrl_walk(root, p->segs, p->nsegs);
    *out = v ? *v : value_null();
    return VRL_OK;
}

/* ---- containers ---------------------------------------------------------- */

vrl_status vrl_eval_array(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value arr = value_new_array(cx->a, n->u.list.n);
    if (arr.kind != VALUE_ARRAY)
        return vrl_raise(cx, "out of memory");
    for (uint32_t i = 0; i < n->u.list.n; i++) {
        const vrl_node *item = n->u.list.items[i];
        value v;
        vrl_status st = vrl_eval(item, cx, &v);
        if (st == VRL_OK)
            st = vrl_own(cx, &v, item->fresh);
        if (st != VRL_OK)
            return st;
        arr.u.arr->items[i] = v;
        arr.u.arr->len = i + 1;
    }
    *out = arr;
    return VRL_OK;
}

vrl_status vrl_eval_object(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value obj = value_new_map(cx->a, n->u.object.n);
    if (obj.kind != VALUE_MAP)
        return vrl_raise(cx, "out of memory");
    for (uint32_t i = 0; i < n->u.object.n; i++) {
        const vrl_node *vn = n->u.object.values[i];
        const vrl_seg *k = &n->u.object.keys[i];
        value v;
        vrl_status st = vrl_eval(vn, cx, &v);
        if (st == VRL_OK)
            st = vrl_own(cx, &v, vn->fresh);
        if (st != VRL_OK)
            return st;
        value *slot = value_map_put(cx->a, obj.u.map, k->key, k->klen);
        if (!slot)
            return vrl_raise(cx, "out of memory");
        *slot = v;
    }
    *out = obj;
    return VRL_OK;
}

/* ---- function calls ------------------------------------------------------ */

static vrl_status call_error(vrl_ctx *cx, const vrl_node *n, const char *msg)
{
    return vrl_raise(cx, "function call error for \"%s\" at (%u:%u): %s", n->u.call->fn->name,
                     n->span.start, n->span.end, msg);
}

/* An argument whose kind the checker could not know turned out wrong. */
static vrl_status wrong_kind(vrl_ctx *cx, const vrl_node *n, uint8_t p, uint8_t got)
{
    const vrl_call_node *c = n->u.call;
    char want[96], why[192];
    vrl_kinds_describe(c->check[p], want, sizeof(want));
    snprintf(why, sizeof(why), "argument \"%s\": expected %s, got %s", c->fn->params[p].name,
             want, vrl_kind_name(got));
    vrl_status st = call_error(cx, n, why);
    cx->soft = true;
    return st;
}

/* The argument of a path parameter: the value there, or removed from there
 * for del(). */
static vrl_status path_argument(const vrl_call_node *c, vrl_ctx *cx, vrl_arg *args)
{
    vrl_arg *arg = &args[c->path_param];
    if (c->deletes) {
        bool compact = args[1].present && args[1].val.kind == VALUE_BOOL && args[1].val.u.b;
        arg->present = true;
        return vrl_place_delete(cx, &c->path, compact, &arg->val);
    }
    const value *v = vrl_walk(vrl_place_root(cx, &c->path), c->path.segs, c->path.nsegs);
    arg->present = v != NULL;
    arg->val = v ? *v : value_null();
    return VRL_OK;
}

vrl_status vrl_eval_call(const vrl_node *n, vrl_ctx *cx, value *out)
{
    const vrl_call_node *c = n->u.call;
    vrl_arg args[VRL_MAX_ARGS];
    for (uint8_t p = 0; p < c->nparams; p++) {
        vrl_arg *arg = &args[p];
        arg->present = false;
        arg->regex = c->regex[p];
        arg->val = value_null();
        if (c->args[p]) {
            vrl_status st = vrl_eval(c->args[p], cx, &arg->val);
            if (st != VRL_OK)
                return st;
            arg->present = true;
            if (c->check[p] && !(VRL_KIND(arg->val.kind) & c->check[p]))
                return wrong_kind(cx, n, p, arg->val.kind);
        } else if (arg->regex) {
            arg->present = true;
        }
    }
    if (c->path_param >= 0) {
        vrl_status st = path_argument(c, cx, args);
        if (st != VRL_OK)
            return st;
    }
    vrl_call call = {cx->a, c->state, cx->e};
    sl_error err;
    err.msg[0] = '\0';
    if (c->fn->call(&call, args, out, &err) < 0)
        return call_error(cx, n, err.msg[0] ? err.msg : "failed");
    return VRL_OK;
}

/* ---- unary operators ----------------------------------------------------- */

vrl_status vrl_eval_not(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value v;
    vrl_status st = vrl_eval(n->u.operand, cx, &v);
    if (st != VRL_OK)
        return st;
    if (v.kind != VALUE_BOOL)
        return vrl_raise(cx, "can't negate type %s at (%u:%u): expected boolean",
                         vrl_kind_name(v.kind), n->span.start, n->span.end);
    *out = value_bool(!v.u.b);
    return VRL_OK;
}

vrl_status vrl_eval_negate(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value v;
    vrl_status st = vrl_eval(n->u.operand, cx, &v);
    if (st != VRL_OK)
        return st;
    if (v.kind == VALUE_INT)
        *out = value_int((int64_t)(0 - (uint64_t)v.u.i));
    else if (v.kind == VALUE_FLOAT)
        *out = value_float(-v.u.f);
    else
        return vrl_raise(cx, "can't negate type %s", vrl_kind_name(v.kind));
    return VRL_OK;
}

/* ---- logic --------------------------------------------------------------- */

vrl_status vrl_eval_coalesce(const vrl_node *n, vrl_ctx *cx, value *out)
{
    vrl_status st = vrl_eval(n->u.bin.lhs, cx, out);
    if (st != VRL_ERROR)
        return st;
    return vrl_eval(n->u.bin.rhs, cx, out);
}

static bool is_falsy(const value *v)
{
    return v->kind == VALUE_NULL || (v->kind == VALUE_BOOL && !v->u.b);
}

vrl_status vrl_eval_or(const vrl_node *n, vrl_ctx *cx, value *out)
{
    vrl_status st = vrl_eval(n->u.bin.lhs, cx, out);
    if (st != VRL_OK || !is_falsy(out))
        return st;
    return vrl_eval(n->u.bin.rhs, cx, out);
}

vrl_status vrl_eval_and(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value l, r;
    vrl_status st = vrl_eval(n->u.bin.lhs, cx, &l);
    if (st != VRL_OK)
        return st;
    if (is_falsy(&l)) {
        *out = value_bool(false);
        return VRL_OK;
    }
    st = vrl_eval(n->u.bin.rhs, cx, &r);
    if (st != VRL_OK)
        return st;
    if (l.kind != VALUE_BOOL || (r.kind != VALUE_BOOL && r.kind != VALUE_NULL))
        return vrl_raise(cx, "can't apply an AND to types %s and %s", vrl_kind_name(l.kind),
                         vrl_kind_name(r.kind));
    *out = value_bool(r.kind == VALUE_BOOL && r.u.b);
    return VRL_OK;
}

/* ---- comparisons --------------------------------------------------------- */

static bool is_number(const value *v)
{
    return v->kind == VALUE_INT || v->kind == VALUE_FLOAT;
}

static double as_double(const value *v)
{
    return v->kind == VALUE_INT ? (double)v->u.i : v->u.f;
}

/* VRL's eq_lossy: numbers compare by value whatever their kinds. */
static bool equal_lossy(const value *a, const value *b)
{
    if (is_number(a) && is_number(b)) {
        if (a->kind == VALUE_INT && b->kind == VALUE_INT)
            return a->u.i == b->u.i;
        return as_double(a) == as_double(b);
    }
    return value_equal(a, b);
}

static vrl_status eval_both(const vrl_node *n, vrl_ctx *cx, value *l, value *r)
{
    vrl_status st = vrl_eval(n->u.bin.lhs, cx, l);
    return st != VRL_OK ? st : vrl_eval(n->u.bin.rhs, cx, r);
}

vrl_status vrl_eval_eq(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value l, r;
    vrl_status st = eval_both(n, cx, &l, &r);
    if (st == VRL_OK)
        *out = value_bool(equal_lossy(&l, &r));
    return st;
}

vrl_status vrl_eval_ne(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value l, r;
    vrl_status st = eval_both(n, cx, &l, &r);
    if (st == VRL_OK)
        *out = value_bool(!equal_lossy(&l, &r));
    return st;
}

static int compare_bytes(const value *a, const value *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->u.s, b->u.s, n) : 0;
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* Orders l against r into *cmp (-1, 0, 1); NaN compares as unordered (2). */
static vrl_status order(vrl_ctx *cx, const value *l, const value *r, const char *op, int *cmp)
{
    if (l->kind == VALUE_INT && r->kind == VALUE_INT) {
        *cmp = (l->u.i > r->u.i) - (l->u.i < r->u.i);
    } else if (is_number(l) && is_number(r)) {
        double a = as_double(l), b = as_double(r);
        *cmp = a < b ? -1 : a > b ? 1 : a == b ? 0 : 2;
    } else if (l->kind == VALUE_BYTES && r->kind == VALUE_BYTES) {
        int c = compare_bytes(l, r);
        *cmp = (c > 0) - (c < 0);
    } else if (l->kind == VALUE_TIMESTAMP && r->kind == VALUE_TIMESTAMP) {
        *cmp = (l->u.ts > r->u.ts) - (l->u.ts < r->u.ts);
    } else {
        return vrl_raise(cx, "can't compare %s %s %s", vrl_kind_name(l->kind), op,
                         vrl_kind_name(r->kind));
    }
    return VRL_OK;
}

static vrl_status compare(const vrl_node *n, vrl_ctx *cx, value *out, const char *op,
                          bool want_lt, bool want_eq, bool want_gt)
{
    value l, r;
    int cmp;
    vrl_status st = eval_both(n, cx, &l, &r);
    if (st == VRL_OK)
        st = order(cx, &l, &r, op, &cmp);
    if (st == VRL_OK)
        *out = value_bool((cmp < 0 && want_lt) || (cmp == 0 && want_eq) || (cmp == 1 && want_gt));
    return st;
}

vrl_status vrl_eval_lt(const vrl_node *n, vrl_ctx *cx, value *out)
{
    return compare(n, cx, out, "<", true, false, false);
}

vrl_status vrl_eval_le(const vrl_node *n, vrl_ctx *cx, value *out)
{
    return compare(n, cx, out, "<=", true, true, false);
}

vrl_status vrl_eval_gt(const vrl_node *n, vrl_ctx *cx, value *out)
{
    return compare(n, cx, out, ">", false, false, true);
}

vrl_status vrl_eval_ge(const vrl_node *n, vrl_ctx *cx, value *out)
{
    return compare(n, cx, out, ">=", false, true, true);
}

/* ---- arithmetic ---------------------------------------------------------- */

vrl_status vrl_eval_merge(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value l, r;
    vrl_status st = eval_both(n, cx, &l, &r);
    if (st != VRL_OK)
        return st;
    if (l.kind != VALUE_MAP || r.kind != VALUE_MAP)
        return vrl_raise(cx, "can't merge type %s into %s", vrl_kind_name(r.kind),
                         vrl_kind_name(l.kind));
    value m = value_new_map(cx->a, l.u.map->len + r.u.map->len);
    if (m.kind != VALUE_MAP)
        return vrl_raise(cx, "out of memory");
    memcpy(m.u.map->entries, l.u.map->entries, l.u.map->len * sizeof(value_entry));
    m.u.map->len = l.u.map->len;
    for (uint32_t i = 0; i < r.u.map->len; i++) {
        const value_entry *e = &r.u.map->entries[i];
        value *slot = value_map_put(cx->a, m.u.map, e->key, e->klen);
        if (!slot)
            return vrl_raise(cx, "out of memory");
        *slot = e->val;
    }
    *out = m;
    return VRL_OK;
}

static vrl_status concat(vrl_ctx *cx, const value *l, const value *r, value *out)
{
    size_t n = (size_t)l->len + r->len;
    if (n > MAX_STRING_BYTES)
        return vrl_raise(cx, "can't build a string of more than %u bytes", MAX_STRING_BYTES);
    char *s = arena_alloc(cx->a, n ? n : 1);
    if (!s)
        return vrl_raise(cx, "out of memory");
    if (l->len)
        memcpy(s, l->u.s, l->len);
    if (r->len)
        memcpy(s + l->len, r->u.s, r->len);
    *out = value_bytes(s, n);
    return VRL_OK;
}

vrl_status vrl_eval_add(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value l, r;
    vrl_status st = eval_both(n, cx, &l, &r);
    if (st != VRL_OK)
        return st;
    if (l.kind == VALUE_INT && r.kind == VALUE_INT)
        *out = value_int((int64_t)((uint64_t)l.u.i + (uint64_t)r.u.i));
    else if (is_number(&l) && is_number(&r))
        *out = value_float(float_or_zero(as_double(&l) + as_double(&r)));
    else if (l.kind == VALUE_BYTES && r.kind == VALUE_BYTES)
        return concat(cx, &l, &r, out);
    else if (l.kind == VALUE_BYTES && r.kind == VALUE_NULL)
        *out = l;
    else if (l.kind == VALUE_NULL && r.kind == VALUE_BYTES)
        *out = r;
    else
        return vrl_raise(cx, "can't add type %s to %s", vrl_kind_name(r.kind),
                         vrl_kind_name(l.kind));
    return VRL_OK;
}

vrl_status vrl_eval_sub(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value l, r;
    vrl_status st = eval_both(n, cx, &l, &r);
    if (st != VRL_OK)
        return st;
    if (l.kind == VALUE_INT && r.kind == VALUE_INT)
        *out = value_int((int64_t)((uint64_t)l.u.i - (uint64_t)r.u.i));
    else if (is_number(&l) && is_number(&r))
        *out = value_float(float_or_zero(as_double(&l) - as_double(&r)));
    else
        return vrl_raise(cx, "can't subtract type %s from %s", vrl_kind_name(r.kind),
                         vrl_kind_name(l.kind));
    return VRL_OK;
}

static vrl_status repeat(vrl_ctx *cx, const value *s, int64_t count, value *out)
{
    if (count <= 0 || s->len == 0) {
        *out = value_bytes("", 0);
        return VRL_OK;
    }
    if ((uint64_t)count > MAX_STRING_BYTES / s->len)
        return vrl_raise(cx, "can't build a string of more than %u bytes", MAX_STRING_BYTES);
    size_t n = (size_t)s->len * (size_t)count;
    char *p = arena_alloc(cx->a, n);
    if (!p)
        return vrl_raise(cx, "out of memory");
    for (int64_t i = 0; i < count; i++)
        memcpy(p + (size_t)i * s->len, s->u.s, s->len);
    *out = value_bytes(p, n);
    return VRL_OK;
}

vrl_status vrl_eval_mul(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value l, r;
    vrl_status st = eval_both(n, cx, &l, &r);
    if (st != VRL_OK)
        return st;
    if (l.kind == VALUE_INT && r.kind == VALUE_INT)
        *out = value_int((int64_t)((uint64_t)l.u.i * (uint64_t)r.u.i));
    else if (is_number(&l) && is_number(&r))
        *out = value_float(float_or_zero(as_double(&l) * as_double(&r)));
    else if (l.kind == VALUE_BYTES && r.kind == VALUE_INT)
        return repeat(cx, &l, r.u.i, out);
    else if (l.kind == VALUE_INT && r.kind == VALUE_BYTES)
        return repeat(cx, &r, l.u.i, out);
    else
        return vrl_raise(cx, "can't multiply type %s by %s", vrl_kind_name(l.kind),
                         vrl_kind_name(r.kind));
    return VRL_OK;
}

vrl_status vrl_eval_div(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value l, r;
    vrl_status st = eval_both(n, cx, &l, &r);
    if (st != VRL_OK)
        return st;
    if (!is_number(&l) || !is_number(&r))
        return vrl_raise(cx, "can't divide type %s by %s", vrl_kind_name(l.kind),
                         vrl_kind_name(r.kind));
    double d = as_double(&r);
    if (d == 0)
        return vrl_raise(cx, "can't divide by zero");
    *out = value_float(float_or_zero(as_double(&l) / d));
    return VRL_OK;
}

vrl_status vrl_eval_rem(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value l, r;
    vrl_status st = eval_both(n, cx, &l, &r);
    if (st != VRL_OK)
        return st;
    if (!is_number(&l) || !is_number(&r))
        return vrl_raise(cx, "can't calculate remainder of type %s and %s",
                         vrl_kind_name(l.kind), vrl_kind_name(r.kind));
    if (as_double(&r) == 0)
        return vrl_raise(cx, "can't divide by zero");
    if (l.kind == VALUE_INT && r.kind == VALUE_INT)
        *out = value_int(r.u.i == -1 ? 0 : l.u.i % r.u.i);
    else
        *out = value_float(float_or_zero(fmod(as_double(&l), as_double(&r))));
    return VRL_OK;
}

/* ---- assignment ---------------------------------------------------------- */

static vrl_status store(vrl_ctx *cx, const vrl_assign_node *as, value *v, bool fresh)
{
    vrl_status st = vrl_own(cx, v, fresh);
    if (st == VRL_OK && as->has_target)
        st = vrl_place_store(cx, &as->target, *v);
    return st;
}

vrl_status vrl_eval_assign(const vrl_node *n, vrl_ctx *cx, value *out)
{
    const vrl_assign_node *as = n->u.assign;
    vrl_status st = vrl_eval(as->rhs, cx, out);
    return st != VRL_OK ? st : store(cx, as, out, as->rhs->fresh);
}

static vrl_status merge_into(vrl_ctx *cx, const vrl_assign_node *as, value *v)
{
    if (!as->has_target)
        return VRL_OK;
    vrl_status st = vrl_place_merge(cx, &as->target, v);
    if (st != VRL_OK)
        return st;
    const value *merged = vrl_walk(vrl_place_root(cx, &as->target), as->target.segs,
                                   as->target.nsegs);
    *v = merged ? *merged : value_null();
    return VRL_OK;
}

vrl_status vrl_eval_assign_merge(const vrl_node *n, vrl_ctx *cx, value *out)
{
    const vrl_assign_node *as = n->u.assign;
    vrl_status st = vrl_eval(as->rhs, cx, out);
    return st != VRL_OK ? st : merge_into(cx, as, out);
}

vrl_status vrl_eval_assign_if_ok(const vrl_node *n, vrl_ctx *cx, value *out)
{
    const vrl_assign_node *as = n->u.assign;
    vrl_status st = vrl_eval(as->rhs, cx, out);
    if (st == VRL_ERROR) {
        *out = value_null();
        return VRL_OK;
    }
    return st != VRL_OK ? st : store(cx, as, out, as->rhs->fresh);
}

/* What `ok` holds after `ok, err = f()` failed: its type's empty value. */
static vrl_status default_value(vrl_ctx *cx, uint8_t kind, value *out)
{
    switch (kind) {
    case VALUE_BOOL: *out = value_bool(false); break;
    case VALUE_INT: *out = value_int(0); break;
    case VALUE_FLOAT: *out = value_float(0); break;
    case VALUE_BYTES: *out = value_bytes("", 0); break;
    case VALUE_ARRAY: *out = value_new_array(cx->a, 0); break;
    case VALUE_MAP: *out = value_new_map(cx->a, 0); break;
    default: *out = value_null(); break;
    }
    if ((kind == VALUE_ARRAY || kind == VALUE_MAP) && out->kind == VALUE_NULL)
        return vrl_raise(cx, "out of memory");
    return VRL_OK;
}

vrl_status vrl_eval_assign_err(const vrl_node *n, vrl_ctx *cx, value *out)
{
    const vrl_assign_node *as = n->u.assign;
    value err = value_null();
    vrl_status st = vrl_eval(as->rhs, cx, out);
    bool fresh = as->rhs->fresh;
    if (st == VRL_ABORT)
        return st;
    if (st == VRL_ERROR) {
        size_t len = strlen(cx->msg);
        const char *msg = arena_strndup(cx->a, cx->msg, len);
        if (!msg)
            return vrl_raise(cx, "out of memory");
        err = value_bytes(msg, len);
        fresh = true;
        if (default_value(cx, as->default_kind, out) != VRL_OK)
            return VRL_ERROR;
    }
    /* A failed `ok, err |= f()` merges nothing: ok keeps its fields. */
    if (!as->merge)
        st = store(cx, as, out, fresh);
    else if (err.kind == VALUE_NULL)
        st = merge_into(cx, as, out);
    else
        st = VRL_OK;
    if (st == VRL_OK && as->has_err)
        st = vrl_place_store(cx, &as->err_target, err);
    return st;
}

/* ---- control flow -------------------------------------------------------- */

/* A predicate whose call got an argument of the wrong kind, from a field
 * whose type was unknown when compiled, is a handled error: counted, the
 * condition false, so that one odd event (a pod name missing or a number in
 * JSON input) does not stop the rest of its program. */
static vrl_status predicate_is_false(vrl_ctx *cx, value *cond)
{
    cx->soft = false;
    if (cx->handled++ == 0)
        memcpy(cx->first_handled, cx->msg, sizeof(cx->first_handled));
    *cond = value_bool(false);
    return VRL_OK;
}

vrl_status vrl_eval_if(const vrl_node *n, vrl_ctx *cx, value *out)
{
    value cond;
    cx->soft = false;
    vrl_status st = vrl_eval(n->u.branch.cond, cx, &cond);
    if (st == VRL_ERROR && cx->soft)
        st = predicate_is_false(cx, &cond);
    if (st != VRL_OK)
        return st;
    if (n->u.branch.check_bool && cond.kind != VALUE_BOOL)
        return vrl_raise(cx, "if predicate at (%u:%u) must be a boolean, got %s",
                         n->u.branch.cond->span.start, n->u.branch.cond->span.end,
                         vrl_kind_name(cond.kind));
    if (cond.kind == VALUE_BOOL && cond.u.b)
        return vrl_eval(n->u.branch.then, cx, out);
    if (n->u.branch.otherwise)
        return vrl_eval(n->u.branch.otherwise, cx, out);
    *out = value_null();
    return VRL_OK;
}

vrl_status vrl_eval_block(const vrl_node *n, vrl_ctx *cx, value *out)
{
    *out = value_null();
    for (uint32_t i = 0; i < n->u.list.n; i++) {
        vrl_status st = vrl_eval(n->u.list.items[i], cx, out);
        if (st != VRL_OK)
            return st;
    }
    return VRL_OK;
}

vrl_status vrl_eval_abort(const vrl_node *n, vrl_ctx *cx, value *out)
{
    *out = value_null();
    if (!n->u.message) {
        snprintf(cx->msg, sizeof(cx->msg), "aborted at (%u:%u)", n->span.start, n->span.end);
        return VRL_ABORT;
    }
    value msg;
    vrl_status st = vrl_eval(n->u.message, cx, &msg);
    if (st != VRL_OK)
        return st;
    if (msg.kind != VALUE_BYTES)
        return vrl_raise(cx, "abort message must be a string, got %s", vrl_kind_name(msg.kind));
    snprintf(cx->msg, sizeof(cx->msg), "aborted at (%u:%u): %.*s", n->span.start, n->span.end,
             (int)(msg.len > 400 ? 400 : msg.len), msg.u.s);
    return VRL_ABORT;
}

/* ---- running ------------------------------------------------------------- */

static vrl_outcome fail(vrl_ctx *cx, vrl_outcome outcome, sl_error *err)
{
    vrl_journal_rollback(cx);
    sl_fail(err, "%s", cx->msg);
    return outcome;
}

vrl_outcome vrl_run(const vrl_program *p, arena *a, event *e, value *result, sl_error *err)
{
    vrl_ctx cx;
    value stack_vars[STACK_VARS];
    value view;
    cx.prog = p;
    cx.a = a;
    cx.e = e;
    cx.msg[0] = '\0';
    cx.soft = false;
    cx.handled = 0;
    cx.meta = &e->meta;
    cx.vars = p->nvars <= STACK_VARS ? stack_vars : arena_alloc(a, p->nvars * sizeof(value));
    if (!cx.vars) {
        sl_fail(err, "out of memory");
        return VRL_FAILED;
    }
    memset(cx.vars, 0, p->nvars * sizeof(value));
    if (e->type == EVENT_METRIC) {
        if (vrl_metric_view(a, e->u.metric, &view) < 0) {
            sl_fail(err, "out of memory");
            return VRL_FAILED;
        }
        cx.root = &view;
    } else {
        cx.root = &e->u.log;
    }
    vrl_journal_begin(&cx);

    value last;
    vrl_status st = vrl_eval(p->root, &cx, &last);
    if (st == VRL_ERROR)
        return fail(&cx, VRL_FAILED, err);
    if (st == VRL_ABORT)
        return fail(&cx, VRL_ABORTED, err);
    sl_error why;
    if (e->type == EVENT_METRIC && vrl_metric_apply(a, e->u.metric, &view, &why) < 0) {
        snprintf(cx.msg, sizeof(cx.msg), "%s", why.msg);
        return fail(&cx, VRL_FAILED, err);
    }
    if (result)
        *result = last;
    if (cx.handled) {
        sl_fail(err, "%s", cx.first_handled);
        return VRL_DONE_WITH_ERRORS;
    }
    return VRL_DONE;
}
