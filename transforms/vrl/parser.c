/* parser.c - remap source to a syntax tree (see ast.h).
 *
 * Recursive descent over VRL's grammar. Binary operators bind, from loosest
 * to tightest: `??`; `||` and `&&` (one level, left to right, as in VRL);
 * `==` `!=`; `<` `<=` `>` `>=`; `|` (object merge); `+` `-`; `*` `/` `%`;
 * then the prefix `!` and `-`. Comparisons don't chain (E650). A newline
 * ends an expression unless an operator, `=`, `(`, `[`, `{` or `,` leaves
 * it open. Assignment (`=`, `|=`, `??=`, `ok, err = ...`) and `if` are
 * expressions of their own that only appear where VRL allows them: as
 * statements, in parentheses and on the right of an assignment; function
 * arguments, array items and object values are operator expressions.
 *
 * Beyond VRL: `r"..."` regexes (real programs use them), `else` on
 * the line after `}`, `%` as remainder, and `-` before any operand. */
#include <stdio.h>
#include <string.h>

#include "transforms/vrl/ast.h"
#include "transforms/vrl/lexer.h"
#include "pipeline/sltime.h"

/* Deep enough for any real program, shallow enough for the C stack. */
#define PARSE_MAX_DEPTH 200

typedef struct parser {
    vrl_lexer lx;
    vrl_token cur;
    const vrl_source *src;
    arena *a;
    sl_error *err;
    int depth;
} parser;

/* Lexer position and token, to look ahead and come back. */
typedef struct mark {
    size_t pos;
    vrl_token cur;
} mark;

static mark save(const parser *p)
{
    mark m = {p->lx.pos, p->cur};
    return m;
}

static void restore(parser *p, mark m)
{
    p->lx.pos = m.pos;
    p->cur = m.cur;
}

static int advance(parser *p)
{
    return vrl_lex_next(&p->lx, &p->cur, p->err);
}

static bool at(const parser *p, vrl_tok_kind kind)
{
    return p->cur.kind == kind;
}

static int skip_newlines(parser *p)
{
    while (at(p, TOK_NEWLINE))
        if (advance(p) < 0)
            return -1;
    return 0;
}

static int unexpected(parser *p, const char *expected)
{
    int code = at(p, TOK_EOF) ? 204 : 203;
    return vrl_diag(p->err, p->src, code, "syntax error", p->cur.span, expected,
                    "unexpected %s", vrl_token_describe(p->cur.kind));
}

static int expect(parser *p, vrl_tok_kind kind, const char *expected)
{
    if (!at(p, kind))
        return unexpected(p, expected);
    return advance(p);
}

static int out_of_memory(parser *p)
{
    return sl_fail(p->err, "out of memory parsing the program");
}

static vrl_ast *node_new(parser *p, vrl_ast_kind kind, vrl_span span)
{
    vrl_ast *n = arena_alloc(p->a, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->span = span;
    return n;
}

/* A growable array of pointers or structs in the parse arena. */
typedef struct vec {
    void *items;
    uint32_t n, cap;
    size_t size;
} vec;

static void *vec_push(parser *p, vec *v)
{
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 4;
        void *items = arena_grow(p->a, v->items, (size_t)v->cap * v->size, (size_t)cap * v->size);
        if (!items)
            return NULL;
        v->items = items;
        v->cap = cap;
    }
    void *slot = (char *)v->items + (size_t)v->n++ * v->size;
    memset(slot, 0, v->size);
    return slot;
}

static int push_node(parser *p, vec *v, vrl_ast *n)
{
    vrl_ast **slot = vec_push(p, v);
    if (!slot)
        return out_of_memory(p);
    *slot = n;
    return 0;
}

static vrl_ast *parse_expr(parser *p);
static vrl_ast *parse_binary(parser *p, int min_level);
static vrl_ast *parse_if(parser *p);

static bool enter(parser *p)
{
    if (++p->depth > PARSE_MAX_DEPTH) {
        vrl_diag(p->err, p->src, 203, "syntax error", p->cur.span, NULL,
                 "the program nests too deeply here");
        return false;
    }
    return true;
}

static void leave(parser *p)
{
    p->depth--;
}

/* ---- statements and blocks --------------------------------------------- */

static bool ends_statement(const parser *p, vrl_tok_kind end)
{
    return at(p, TOK_NEWLINE) || at(p, TOK_SEMI) || at(p, end);
}

/* Statements up to (not including) `end`: TOK_EOF or TOK_RBRACE. */
static int parse_statements(parser *p, vrl_tok_kind end, vec *out)
{
    for (;;) {
        while (at(p, TOK_NEWLINE) || at(p, TOK_SEMI))
            if (advance(p) < 0)
                return -1;
        if (at(p, end))
            return 0;
        vrl_ast *stmt = parse_expr(p);
        if (!stmt || push_node(p, out, stmt) < 0)
            return -1;
        if (!ends_statement(p, end))
            return unexpected(p, "expected a newline or \";\" after the expression");
    }
}

static vrl_ast *make_block(parser *p, vec *stmts, vrl_span span)
{
    vrl_ast *b = node_new(p, AST_BLOCK, span);
    if (!b)
        return NULL;
    b->u.list.items = stmts->items;
    b->u.list.n = stmts->n;
    return b;
}

/* `{ statements }` with p->cur on the `{`. */
static vrl_ast *parse_block(parser *p)
{
    uint32_t start = p->cur.span.start;
    if (expect(p, TOK_LBRACE, "expected \"{\"") < 0)
        return NULL;
    vec stmts = {NULL, 0, 0, sizeof(vrl_ast *)};
    if (parse_statements(p, TOK_RBRACE, &stmts) < 0)
        return NULL;
    vrl_span span = {start, p->cur.span.end};
    if (advance(p) < 0)
        return NULL;
    return make_block(p, &stmts, span);
}

/* ---- literals and containers ------------------------------------------- */

static vrl_ast *literal(parser *p, value v)
{
    vrl_ast *n = node_new(p, AST_LITERAL, p->cur.span);
    if (!n) {
        out_of_memory(p);
        return NULL;
    }
    n->u.literal = v;
    if (advance(p) < 0)
        return NULL;
    return n;
}

static vrl_ast *timestamp_literal(parser *p)
{
    int64_t ns;
    if (sltime_parse_rfc3339(p->cur.text, p->cur.len, SLTIME_RFC3339_CHRONO, &ns, NULL)) {
        vrl_diag(p->err, p->src, 601, "invalid timestamp literal", p->cur.span,
                 "write it in RFC 3339, for example t'2021-02-11T10:32:50.553955473Z'",
                 "this is not an RFC 3339 timestamp");
        return NULL;
    }
    return literal(p, value_timestamp(ns));
}

static vrl_ast *regex_literal(parser *p)
{
    vrl_ast *n = node_new(p, AST_REGEX, p->cur.span);
    if (!n) {
        out_of_memory(p);
        return NULL;
    }
    n->u.regex.pattern = p->cur.text;
    n->u.regex.len = p->cur.len;
    if (advance(p) < 0)
        return NULL;
    return n;
}

/* Skips newlines after a `,`; true when the list goes on. */
static int list_separator(parser *p, vrl_tok_kind close, bool *more)
{
    if (skip_newlines(p) < 0)
        return -1;
    if (at(p, TOK_COMMA)) {
        if (advance(p) < 0 || skip_newlines(p) < 0)
            return -1;
        *more = !at(p, close);
        return 0;
    }
    *more = false;
    return 0;
}

static vrl_ast *parse_array(parser *p)
{
    uint32_t start = p->cur.span.start;
    if (advance(p) < 0 || skip_newlines(p) < 0)
        return NULL;
    vec items = {NULL, 0, 0, sizeof(vrl_ast *)};
    bool more = !at(p, TOK_RBRACKET);
    while (more) {
        vrl_ast *item = parse_binary(p, 0);
        if (!item || push_node(p, &items, item) < 0 || list_separator(p, TOK_RBRACKET, &more) < 0)
            return NULL;
    }
    vrl_span span = {start, p->cur.span.end};
    if (expect(p, TOK_RBRACKET, "expected \",\" or \"]\"") < 0)
        return NULL;
    vrl_ast *n = node_new(p, AST_ARRAY, span);
    if (!n) {
        out_of_memory(p);
        return NULL;
    }
    n->u.list.items = items.items;
    n->u.list.n = items.n;
    return n;
}

static int parse_object_entry(parser *p, vec *entries)
{
    if (!at(p, TOK_STRING))
        return unexpected(p, "expected a string key");
    vrl_entry_ast *e = vec_push(p, entries);
    if (!e)
        return out_of_memory(p);
    e->key = p->cur.text;
    e->klen = p->cur.len;
    if (advance(p) < 0 || expect(p, TOK_COLON, "expected \":\"") < 0 || skip_newlines(p) < 0)
        return -1;
    e->value = parse_binary(p, 0);
    return e->value ? 0 : -1;
}

/* After `{` and newlines, p->cur on a string key or `}`. */
static vrl_ast *parse_object(parser *p, uint32_t start)
{
    vec entries = {NULL, 0, 0, sizeof(vrl_entry_ast)};
    bool more = !at(p, TOK_RBRACE);
    while (more) {
        if (parse_object_entry(p, &entries) < 0 || list_separator(p, TOK_RBRACE, &more) < 0)
            return NULL;
    }
    vrl_span span = {start, p->cur.span.end};
    if (expect(p, TOK_RBRACE, "expected \",\" or \"}\"") < 0)
        return NULL;
    vrl_ast *n = node_new(p, AST_OBJECT, span);
    if (!n) {
        out_of_memory(p);
        return NULL;
    }
    n->u.object.entries = entries.items;
    n->u.object.n = entries.n;
    return n;
}

/* `{` starts an object when it is empty or its first token is a string
 * followed by `:`; otherwise a block. */
static vrl_ast *parse_brace(parser *p)
{
    uint32_t start = p->cur.span.start;
    mark before = save(p);
    if (advance(p) < 0 || skip_newlines(p) < 0)
        return NULL;
    bool object = at(p, TOK_RBRACE);
    if (at(p, TOK_STRING)) {
        mark key = save(p);
        if (advance(p) < 0)
            return NULL;
        object = at(p, TOK_COLON);
        restore(p, key);
    }
    if (object)
        return parse_object(p, start);
    restore(p, before);
    return parse_block(p);
}

/* ---- paths --------------------------------------------------------------- */

static int add_segment(parser *p, vrl_ast *q, vrl_segment seg)
{
    /* Segments grow one at a time while the path is parsed, so the array is
     * usually the arena's latest allocation and grows in place. */
    uint32_t n = q->u.query.nsegs;
    vrl_segment *segs = arena_grow(p->a, q->u.query.segs, n * sizeof(*segs), (n + 1) * sizeof(*segs));
    if (!segs)
        return out_of_memory(p);
    segs[n] = seg;
    q->u.query.segs = segs;
    q->u.query.nsegs = n + 1;
    return 0;
}

/* A field right after a `.` (p->cur is the dot, the lexer sits after it). */
static int parse_field(parser *p, vrl_ast *q)
{
    if (!vrl_lex_at_field(&p->lx)) {
        size_t at_pos = p->lx.pos;
        bool coalesce = at_pos < p->src->len && p->src->text[at_pos] == '(';
        vrl_span span = {(uint32_t)at_pos, (uint32_t)at_pos + 1};
        return vrl_diag(p->err, p->src, 203, "syntax error", span, NULL, "%s",
                        coalesce ? "path coalescing `.(a|b)` is not supported"
                                 : "expected a field name");
    }
    vrl_token field;
    if (vrl_lex_field(&p->lx, &field, p->err) < 0)
        return -1;
    vrl_segment seg = {false, 0, field.text, field.len};
    if (add_segment(p, q, seg) < 0)
        return -1;
    q->span.end = field.span.end;
    return advance(p);
}

/* `[n]` or `[-n]`, p->cur on the `[`. */
static int parse_index(parser *p, vrl_ast *q)
{
    if (advance(p) < 0)
        return -1;
    bool negative = false;
    if (at(p, TOK_MINUS)) {
        negative = true;
        if (advance(p) < 0)
            return -1;
    }
    if (!at(p, TOK_INT))
        return unexpected(p, "expected an integer index");
    vrl_segment seg = {true, negative ? -p->cur.i : p->cur.i, NULL, 0};
    if (add_segment(p, q, seg) < 0 || advance(p) < 0)
        return -1;
    q->span.end = p->cur.span.end;
    return expect(p, TOK_RBRACKET, "expected \"]\"");
}

static bool continues_path(const parser *p)
{
    return !p->cur.spaced && (at(p, TOK_DOT) || at(p, TOK_LBRACKET));
}

static int parse_segments(parser *p, vrl_ast *q)
{
    while (continues_path(p)) {
        int rc = at(p, TOK_DOT) ? parse_field(p, q) : parse_index(p, q);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static vrl_ast *new_query(parser *p, vrl_query_root root, vrl_span span)
{
    vrl_ast *q = node_new(p, AST_QUERY, span);
    if (!q) {
        out_of_memory(p);
        return NULL;
    }
    q->u.query.root = root;
    return q;
}

/* `.`, `.a.b[0]`, `%`, `%a`: p->cur on the `.` or `%`. */
static vrl_ast *parse_root_path(parser *p, vrl_query_root root)
{
    vrl_ast *q = new_query(p, root, p->cur.span);
    if (!q)
        return NULL;
    size_t next = p->lx.pos;
    bool coalesce = next < p->src->len && p->src->text[next] == '(';
    if (vrl_lex_at_field(&p->lx) || coalesce) {
        if (parse_field(p, q) < 0)
            return NULL;
    } else if (advance(p) < 0) {
        return NULL;
    }
    return parse_segments(p, q) < 0 ? NULL : q;
}

/* Segments written right after another expression: `f(x).a`, `[1, 2][0]`. */
static vrl_ast *parse_postfix(parser *p, vrl_ast *target)
{
    if (!target || !continues_path(p))
        return target;
    vrl_ast *q = target;
    if (target->kind != AST_QUERY || target->u.query.root == ROOT_EXPR) {
        q = new_query(p, ROOT_EXPR, target->span);
        if (!q)
            return NULL;
        q->u.query.expr = target;
    }
    return parse_segments(p, q) < 0 ? NULL : q;
}

/* ---- calls --------------------------------------------------------------- */

static bool is_keyword_name(vrl_tok_kind kind)
{
    switch (kind) {
    case TOK_IDENT: case TOK_RESERVED: case TOK_TRUE: case TOK_FALSE: case TOK_NULL:
    case TOK_IF: case TOK_ELSE: case TOK_ABORT:
        return true;
    default:
        return false;
    }
}

/* A name followed by `:` names the parameter (`compact(x, null: false)`). */
static int parse_keyword(parser *p, vrl_arg_ast *arg)
{
    if (!is_keyword_name(p->cur.kind))
        return 0;
    mark before = save(p);
    vrl_token name = p->cur;
    if (advance(p) < 0)
        return -1;
    if (!at(p, TOK_COLON)) {
        restore(p, before);
        return 0;
    }
    arg->keyword = p->src->text + name.span.start;
    arg->klen = name.span.end - name.span.start;
    arg->keyword_span = name.span;
    return advance(p) < 0 || skip_newlines(p) < 0 ? -1 : 0;
}

static vrl_ast *parse_call(parser *p)
{
    vrl_ast *n = node_new(p, AST_CALL, p->cur.span);
    if (!n) {
        out_of_memory(p);
        return NULL;
    }
    n->u.call.name = p->cur.text;
    n->u.call.nlen = p->cur.len;
    n->u.call.name_span = p->cur.span;
    n->u.call.bang = p->cur.bang;
    if (advance(p) < 0 || expect(p, TOK_LPAREN, "expected \"(\"") < 0 || skip_newlines(p) < 0)
        return NULL;
    vec args = {NULL, 0, 0, sizeof(vrl_arg_ast)};
    bool more = !at(p, TOK_RPAREN);
    while (more) {
        vrl_arg_ast *arg = vec_push(p, &args);
        if (!arg) {
            out_of_memory(p);
            return NULL;
        }
        if (parse_keyword(p, arg) < 0)
            return NULL;
        arg->value = parse_binary(p, 0);
        if (!arg->value || list_separator(p, TOK_RPAREN, &more) < 0)
            return NULL;
    }
    n->span.end = p->cur.span.end;
    if (expect(p, TOK_RPAREN, "expected \",\" or \")\"") < 0)
        return NULL;
    n->u.call.args = args.items;
    n->u.call.nargs = args.n;
    return n;
}

/* ---- operands ------------------------------------------------------------ */

static vrl_ast *parse_variable(parser *p)
{
    vrl_ast *q = new_query(p, ROOT_VAR, p->cur.span);
    if (!q)
        return NULL;
    q->u.query.name = p->cur.text;
    q->u.query.nlen = p->cur.len;
    if (advance(p) < 0)
        return NULL;
    return parse_segments(p, q) < 0 ? NULL : q;
}

static vrl_ast *parse_group(parser *p)
{
    uint32_t start = p->cur.span.start;
    if (advance(p) < 0 || skip_newlines(p) < 0)
        return NULL;
    vrl_ast *inner = parse_expr(p);
    if (!inner || skip_newlines(p) < 0)
        return NULL;
    uint32_t end = p->cur.span.end;
    if (expect(p, TOK_RPAREN, "expected \")\"") < 0)
        return NULL;
    /* The group's span covers its parentheses, for messages about it. */
    inner->span.start = start;
    inner->span.end = end;
    inner->grouped = true;
    return inner;
}

static vrl_ast *reserved_name(parser *p)
{
    vrl_diag(p->err, p->src, 205, "reserved keyword", p->cur.span, "use a different name instead",
             "this identifier name is reserved for future use in the language");
    return NULL;
}

static vrl_ast *parse_operand(parser *p)
{
    vrl_token t = p->cur;
    switch (t.kind) {
    case TOK_INT: return literal(p, value_int(t.i));
    case TOK_FLOAT: return literal(p, value_float(t.f));
    case TOK_STRING:
    case TOK_RAW_STRING: return literal(p, value_bytes(t.text, t.len));
    case TOK_TRUE: return literal(p, value_bool(true));
    case TOK_FALSE: return literal(p, value_bool(false));
    case TOK_NULL: return literal(p, value_null());
    case TOK_TIMESTAMP: return timestamp_literal(p);
    case TOK_REGEX: return regex_literal(p);
    case TOK_LBRACKET: return parse_postfix(p, parse_array(p));
    case TOK_LBRACE: return parse_postfix(p, parse_brace(p));
    case TOK_LPAREN: return parse_postfix(p, parse_group(p));
    case TOK_FUNC: return parse_postfix(p, parse_call(p));
    case TOK_DOT: return parse_root_path(p, ROOT_EVENT);
    case TOK_PERCENT: return parse_root_path(p, ROOT_META);
    case TOK_IDENT: return parse_variable(p);
    case TOK_RESERVED: return reserved_name(p);
    default:
        unexpected(p, "expected an expression");
        return NULL;
    }
}

/* Folds `-` into a number literal, as VRL's lexer reads `-1`. */
static vrl_ast *negate(parser *p, vrl_ast *operand, vrl_span span)
{
    if (operand->kind == AST_LITERAL && operand->u.literal.kind == VALUE_INT) {
        operand->u.literal.u.i = (int64_t)(0 - (uint64_t)operand->u.literal.u.i);
        operand->span = span;
        return operand;
    }
    if (operand->kind == AST_LITERAL && operand->u.literal.kind == VALUE_FLOAT) {
        operand->u.literal.u.f = -operand->u.literal.u.f;
        operand->span = span;
        return operand;
    }
    vrl_ast *n = node_new(p, AST_NEGATE, span);
    if (!n) {
        out_of_memory(p);
        return NULL;
    }
    n->u.unary.operand = operand;
    return n;
}

static vrl_ast *parse_unary(parser *p)
{
    if (!enter(p))
        return NULL;
    vrl_ast *result;
    if (at(p, TOK_BANG) || at(p, TOK_MINUS)) {
        vrl_tok_kind op = p->cur.kind;
        uint32_t start = p->cur.span.start;
        vrl_ast *operand = advance(p) < 0 ? NULL : parse_unary(p);
        if (!operand) {
            leave(p);
            return NULL;
        }
        vrl_span span = {start, operand->span.end};
        if (op == TOK_MINUS) {
            result = negate(p, operand, span);
        } else {
            result = node_new(p, AST_NOT, span);
            if (result)
                result->u.unary.operand = operand;
            else
                out_of_memory(p);
        }
    } else {
        result = parse_operand(p);
    }
    leave(p);
    return result;
}

/* ---- binary operators ---------------------------------------------------- */

typedef struct binop_info {
    vrl_tok_kind tok;
    vrl_binop op;
    int level;
} binop_info;

static const binop_info binops[] = {
    {TOK_COALESCE, OP_COALESCE, 1},
    {TOK_OR, OP_OR, 2},
    {TOK_AND, OP_AND, 2},
    {TOK_EQ, OP_EQ, 3},
    {TOK_NE, OP_NE, 3},
    {TOK_LT, OP_LT, 4},
    {TOK_LE, OP_LE, 4},
    {TOK_GT, OP_GT, 4},
    {TOK_GE, OP_GE, 4},
    {TOK_PIPE, OP_MERGE, 5},
    {TOK_PLUS, OP_ADD, 6},
    {TOK_MINUS, OP_SUB, 6},
    {TOK_STAR, OP_MUL, 7},
    {TOK_SLASH, OP_DIV, 7},
    {TOK_PERCENT, OP_REM, 7},
};

static const binop_info *binop_at(const parser *p)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(binops); i++)
        if (binops[i].tok == p->cur.kind)
            return &binops[i];
    return NULL;
}

static bool is_comparison(vrl_binop op)
{
    return op >= OP_EQ && op <= OP_GE;
}

static vrl_ast *binary_node(parser *p, const binop_info *info, vrl_span op_span, vrl_ast *lhs,
                            vrl_ast *rhs)
{
    vrl_ast *n = node_new(p, AST_BINARY, vrl_span_join(lhs->span, rhs->span));
    if (!n) {
        out_of_memory(p);
        return NULL;
    }
    n->u.binary.op = info->op;
    n->u.binary.op_span = op_span;
    n->u.binary.lhs = lhs;
    n->u.binary.rhs = rhs;
    return n;
}

/* Operators of `min_level` and tighter, left-associative. */
static vrl_ast *parse_binary(parser *p, int min_level)
{
    vrl_ast *lhs = parse_unary(p);
    for (;;) {
        if (!lhs)
            return NULL;
        const binop_info *info = binop_at(p);
        if (!info || info->level < min_level)
            return lhs;
        vrl_span op_span = p->cur.span;
        if (is_comparison(info->op) && lhs->kind == AST_BINARY && !lhs->grouped &&
            is_comparison(lhs->u.binary.op)) {
            vrl_diag(p->err, p->src, 650, "chained comparison operators", op_span,
                     "group the comparisons with parentheses",
                     "comparison operators can't be chained together");
            return NULL;
        }
        if (advance(p) < 0 || skip_newlines(p) < 0 || !enter(p))
            return NULL;
        vrl_ast *rhs = parse_binary(p, info->level + 1);
        leave(p);
        if (!rhs)
            return NULL;
        lhs = binary_node(p, info, op_span, lhs, rhs);
    }
}

/* ---- expressions --------------------------------------------------------- */

static vrl_ast *parse_abort(parser *p)
{
    vrl_ast *n = node_new(p, AST_ABORT, p->cur.span);
    if (!n) {
        out_of_memory(p);
        return NULL;
    }
    if (advance(p) < 0)
        return NULL;
    bool has_message = !(at(p, TOK_NEWLINE) || at(p, TOK_SEMI) || at(p, TOK_RBRACE) ||
                         at(p, TOK_EOF) || at(p, TOK_RPAREN));
    if (has_message) {
        n->u.abort.message = parse_binary(p, 0);
        if (!n->u.abort.message)
            return NULL;
        n->span.end = n->u.abort.message->span.end;
    }
    return n;
}

/* `else` may sit on the line after the `}`. */
static int parse_else(parser *p, vrl_ast *n)
{
    mark before = save(p);
    if (skip_newlines(p) < 0)
        return -1;
    if (!at(p, TOK_ELSE)) {
        restore(p, before);
        return 0;
    }
    if (advance(p) < 0 || skip_newlines(p) < 0)
        return -1;
    vrl_ast *otherwise = at(p, TOK_IF) ? parse_if(p) : parse_block(p);
    if (!otherwise)
        return -1;
    n->u.branch.otherwise = otherwise;
    n->span.end = otherwise->span.end;
    return 0;
}

/* `if cond { ... }` and its else branches, p->cur on the `if`. */
static int parse_if_parts(parser *p, vrl_ast *n)
{
    if (advance(p) < 0)
        return -1;
    n->u.branch.cond = parse_binary(p, 0);
    if (!n->u.branch.cond || skip_newlines(p) < 0)
        return -1;
    n->u.branch.then = parse_block(p);
    if (!n->u.branch.then)
        return -1;
    n->span.end = n->u.branch.then->span.end;
    return parse_else(p, n);
}

static vrl_ast *parse_if(parser *p)
{
    if (!enter(p))
        return NULL;
    vrl_ast *n = node_new(p, AST_IF, p->cur.span);
    if (!n)
        out_of_memory(p);
    else if (parse_if_parts(p, n) < 0)
        n = NULL;
    leave(p);
    return n;
}

static bool is_assignable(const vrl_ast *n)
{
    return n->kind == AST_NOOP || (n->kind == AST_QUERY && n->u.query.root != ROOT_EXPR);
}

static vrl_ast *bad_target(parser *p, const vrl_ast *target)
{
    vrl_diag(p->err, p->src, 203, "invalid assignment target", target->span,
             "assign to a path (.field), metadata (%field) or a variable",
             "this can't be assigned to");
    return NULL;
}

/* A target: `_`, or an operator expression that must turn out a path. */
static vrl_ast *parse_target_or_operand(parser *p)
{
    if (at(p, TOK_UNDERSCORE)) {
        vrl_ast *n = node_new(p, AST_NOOP, p->cur.span);
        if (!n) {
            out_of_memory(p);
            return NULL;
        }
        return advance(p) < 0 ? NULL : n;
    }
    return parse_binary(p, 0);
}

static bool at_assign_op(const parser *p)
{
    return at(p, TOK_ASSIGN) || at(p, TOK_MERGE_ASSIGN) || at(p, TOK_COALESCE_ASSIGN);
}

static vrl_ast *parse_assignment(parser *p, vrl_ast *target)
{
    vrl_ast *err_target = NULL;
    if (at(p, TOK_COMMA)) {
        if (advance(p) < 0 || !(err_target = parse_target_or_operand(p)))
            return NULL;
        if (!is_assignable(err_target))
            return bad_target(p, err_target);
        if (!at(p, TOK_ASSIGN) && !at(p, TOK_MERGE_ASSIGN)) {
            unexpected(p, "expected \"=\"");
            return NULL;
        }
    }
    if (!is_assignable(target))
        return bad_target(p, target);
    vrl_assign_op op = at(p, TOK_ASSIGN) ? ASSIGN_SET
                       : at(p, TOK_MERGE_ASSIGN) ? ASSIGN_MERGE : ASSIGN_IF_OK;
    if (advance(p) < 0 || skip_newlines(p) < 0)
        return NULL;
    vrl_ast *rhs = parse_expr(p);
    if (!rhs)
        return NULL;
    vrl_ast *n = node_new(p, AST_ASSIGN, vrl_span_join(target->span, rhs->span));
    if (!n) {
        out_of_memory(p);
        return NULL;
    }
    n->u.assign.op = op;
    n->u.assign.target = target;
    n->u.assign.err_target = err_target;
    n->u.assign.rhs = rhs;
    return n;
}

static vrl_ast *parse_expr(parser *p)
{
    if (!enter(p))
        return NULL;
    vrl_ast *result;
    if (at(p, TOK_IF)) {
        result = parse_if(p);
    } else if (at(p, TOK_ABORT)) {
        result = parse_abort(p);
    } else {
        result = parse_target_or_operand(p);
        if (result && (at_assign_op(p) || at(p, TOK_COMMA))) {
            result = parse_assignment(p, result);
        } else if (result && result->kind == AST_NOOP) {
            unexpected(p, "expected \"=\" after \"_\"");
            result = NULL;
        }
    }
    leave(p);
    return result;
}

int vrl_parse(const vrl_source *src, arena *a, vrl_ast **out, sl_error *err)
{
    parser p;
    memset(&p, 0, sizeof(p));
    p.src = src;
    p.a = a;
    p.err = err;
    vrl_lexer_init(&p.lx, src, a);
    if (advance(&p) < 0)
        return -1;
    vec stmts = {NULL, 0, 0, sizeof(vrl_ast *)};
    if (parse_statements(&p, TOK_EOF, &stmts) < 0)
        return -1;
    vrl_span span = {0, (uint32_t)src->len};
    *out = make_block(&p, &stmts, span);
    return *out ? 0 : out_of_memory(&p);
}
