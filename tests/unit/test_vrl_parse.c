/* test_vrl_parse.c - the remap language's syntax: every construct the
 * parser knows, shown as an S-expression of the tree it builds (so that
 * precedence and nesting are visible), and syntax errors with their exact
 * multi-line messages, carets included. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>

#include "pipeline/buf.h"
#include "tests/unit/vrl_program_test.h"
#include "transforms/vrl/ast.h"

static void show(buf *b, const vrl_ast *n);

static void show_bytes(buf *b, const char *s, size_t n)
{
    buf_append_char(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            buf_append_str(b, "\\n");
        else if (c == '\t')
            buf_append_str(b, "\\t");
        else if (c == '\r')
            buf_append_str(b, "\\r");
        else if (c == '\0')
            buf_append_str(b, "\\0");
        else if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else
            buf_append_char(b, (char)c);
    }
    buf_append_char(b, '"');
}

static void show_literal(buf *b, const value *v)
{
    switch (v->kind) {
    case VALUE_NULL: buf_append_str(b, "null"); break;
    case VALUE_BOOL: buf_append_str(b, v->u.b ? "true" : "false"); break;
    case VALUE_INT: buf_printf(b, "%" PRId64, v->u.i); break;
    case VALUE_FLOAT: buf_printf(b, "%gf", v->u.f); break;
    case VALUE_BYTES: show_bytes(b, v->u.s, v->len); break;
    case VALUE_TIMESTAMP: buf_printf(b, "t%" PRId64, v->u.ts); break;
    default: buf_append_str(b, "?"); break;
    }
}

static void show_query(buf *b, const vrl_ast *n)
{
    switch (n->u.query.root) {
    case ROOT_EVENT: buf_append_str(b, n->u.query.nsegs ? "" : "."); break;
    case ROOT_META: buf_append_str(b, "%"); break;
    case ROOT_VAR: buf_append(b, n->u.query.name, n->u.query.nlen); break;
    case ROOT_EXPR:
        buf_append_char(b, '<');
        show(b, n->u.query.expr);
        buf_append_char(b, '>');
        break;
    }
    for (uint32_t i = 0; i < n->u.query.nsegs; i++) {
        const vrl_segment *s = &n->u.query.segs[i];
        if (s->is_index) {
            buf_printf(b, "[%" PRId64 "]", s->index);
            continue;
        }
        if (!(n->u.query.root == ROOT_META && i == 0))
            buf_append_char(b, '.');
        bool plain = s->klen > 0;
        for (uint32_t k = 0; k < s->klen; k++)
            if (s->key[k] == ' ' || s->key[k] == '.' || s->key[k] == '"')
                plain = false;
        if (plain)
            buf_append(b, s->key, s->klen);
        else
            show_bytes(b, s->key, s->klen);
    }
}

static const char *const binop_names[] = {"??", "||", "&&", "==", "!=", "<", "<=", ">",
                                          ">=", "|", "+", "-", "*", "/", "%"};
static const char *const assign_names[] = {"=", "|=", "?\?="};

static void show_call(buf *b, const vrl_ast *n)
{
    buf_append(b, n->u.call.name, n->u.call.nlen);
    buf_append_str(b, n->u.call.bang ? "!(" : "(");
    for (uint32_t i = 0; i < n->u.call.nargs; i++) {
        const vrl_arg_ast *a = &n->u.call.args[i];
        if (i)
            buf_append_str(b, ", ");
        if (a->keyword) {
            buf_append(b, a->keyword, a->klen);
            buf_append_str(b, ": ");
        }
        show(b, a->value);
    }
    buf_append_char(b, ')');
}

static void show_list(buf *b, const vrl_ast *n, const char *open, const char *sep,
                      const char *close)
{
    buf_append_str(b, open);
    for (uint32_t i = 0; i < n->u.list.n; i++) {
        if (i)
            buf_append_str(b, sep);
        show(b, n->u.list.items[i]);
    }
    buf_append_str(b, close);
}

static void show(buf *b, const vrl_ast *n)
{
    switch (n->kind) {
    case AST_LITERAL: show_literal(b, &n->u.literal); break;
    case AST_REGEX:
        buf_append_str(b, "r/");
        buf_append(b, n->u.regex.pattern, n->u.regex.len);
        buf_append_char(b, '/');
        break;
    case AST_ARRAY: show_list(b, n, "[", " ", "]"); break;
    case AST_BLOCK: show_list(b, n, "{", "; ", "}"); break;
    case AST_OBJECT:
        buf_append_str(b, "{");
        for (uint32_t i = 0; i < n->u.object.n; i++) {
            if (i)
                buf_append_str(b, ", ");
            show_bytes(b, n->u.object.entries[i].key, n->u.object.entries[i].klen);
            buf_append_str(b, ": ");
            show(b, n->u.object.entries[i].value);
        }
        buf_append_str(b, "}");
        break;
    case AST_QUERY: show_query(b, n); break;
    case AST_CALL: show_call(b, n); break;
    case AST_NOT:
        buf_append_str(b, "(! ");
        show(b, n->u.unary.operand);
        buf_append_char(b, ')');
        break;
    case AST_NEGATE:
        buf_append_str(b, "(neg ");
        show(b, n->u.unary.operand);
        buf_append_char(b, ')');
        break;
    case AST_BINARY:
        buf_printf(b, "(%s ", binop_names[n->u.binary.op]);
        show(b, n->u.binary.lhs);
        buf_append_char(b, ' ');
        show(b, n->u.binary.rhs);
        buf_append_char(b, ')');
        break;
    case AST_ASSIGN:
        buf_printf(b, "(%s ", assign_names[n->u.assign.op]);
        show(b, n->u.assign.target);
        if (n->u.assign.err_target) {
            buf_append_str(b, ",");
            show(b, n->u.assign.err_target);
        }
        buf_append_char(b, ' ');
        show(b, n->u.assign.rhs);
        buf_append_char(b, ')');
        break;
    case AST_IF:
        buf_append_str(b, "(if ");
        show(b, n->u.branch.cond);
        buf_append_char(b, ' ');
        show(b, n->u.branch.then);
        if (n->u.branch.otherwise) {
            buf_append_char(b, ' ');
            show(b, n->u.branch.otherwise);
        }
        buf_append_char(b, ')');
        break;
    case AST_ABORT:
        buf_append_str(b, "(abort");
        if (n->u.abort.message) {
            buf_append_char(b, ' ');
            show(b, n->u.abort.message);
        }
        buf_append_char(b, ')');
        break;
    case AST_NOOP: buf_append_str(b, "_"); break;
    }
}

/* The program's statements, `; `-separated, without the outer braces. */
static void assert_parses_as(const char *src, const char *want)
{
    arena *a = arena_new();
    vrl_source s = {src, strlen(src)};
    vrl_ast *root;
    sl_error err;
    if (vrl_parse(&s, a, &root, &err) < 0)
        fail_msg("does not parse:\n%s\n%s", src, err.msg);
    buf b = BUF_INIT;
    for (uint32_t i = 0; i < root->u.list.n; i++) {
        if (i)
            buf_append_str(&b, "; ");
        show(&b, root->u.list.items[i]);
    }
    if (strcmp(b.data ? b.data : "", want) != 0)
        fail_msg("%s\nparses as\n%s\nwant\n%s", src, b.data ? b.data : "", want);
    buf_free(&b);
    arena_free(a);
}

static void assert_syntax_error(const char *src, const char *want)
{
    arena *a = arena_new();
    vrl_source s = {src, strlen(src)};
    vrl_ast *root;
    sl_error err;
    if (vrl_parse(&s, a, &root, &err) == 0)
        fail_msg("parses, want error:\n%s\n---\n%s", want, src);
    if (strcmp(err.msg, want) != 0)
        fail_msg("%s\nfails with:\n%s\nwant:\n%s", src, err.msg, want);
    arena_free(a);
}

/* ---- literals ----------------------------------------------------------- */

static void test_numbers(void **state)
{
    (void)state;
    assert_parses_as("12; 012; 1_000; 12.5; 12.; 0.25; -3; -1.5",
                     "12; 12; 1000; 12.5f; 12f; 0.25f; -3; -1.5f");
    assert_parses_as("9223372036854775807", "9223372036854775807");
}

static void test_strings_and_escapes(void **state)
{
    (void)state;
    assert_parses_as("\"a\\nb\\tc\\rd\\\\e\\\"f\\'g\\0h\"", "\"a\\nb\\tc\\rd\\\\e\\\"f'g\\0h\"");
    assert_parses_as("\"\\u{1F600}\\u{e9}\"", "\"\xf0\x9f\x98\x80\xc3\xa9\"");
    assert_parses_as("\"\\{\\{ x \\}\\}\"", "\"{{ x }}\"");
    assert_parses_as("\"foo \\\n      bar\"", "\"foo bar\"");
    assert_parses_as("\"multi\nline\"", "\"multi\\nline\"");
    assert_parses_as("\"\"", "\"\"");
}

static void test_raw_regex_timestamp(void **state)
{
    (void)state;
    assert_parses_as("s'a \"b\" \\n \\'c'", "\"a \\\"b\\\" \\\\n \\\\'c\"");
    assert_parses_as("r'^(?P<x>\\d+)\\'$'", "r/^(?P<x>\\d+)'$/");
    assert_parses_as("r\"(?i)(error|failed)\"", "r/(?i)(error|failed)/");
    assert_parses_as("r\"a\\\"b\"", "r/a\"b/");
    assert_parses_as("t'2020-10-21T16:00:00Z'", "t1603296000000000000");
    assert_parses_as("t'2020-10-21T18:00:00.5+02:00'", "t1603296000500000000");
    assert_parses_as("true; false; null", "true; false; null");
}

static void test_arrays_and_objects(void **state)
{
    (void)state;
    assert_parses_as("[]; [1, \"a\", [true]]", "[]; [1 \"a\" [true]]");
    assert_parses_as("[\n  1,\n  2,\n]", "[1 2]");
    assert_parses_as("{}", "{}");
    assert_parses_as("{\"a\": 1, \"b c\": {\"d\": [null]}}",
                     "{\"a\": 1, \"b c\": {\"d\": [null]}}");
    assert_parses_as("{\n  \"a\": 1,\n  \"b\": 2,\n}", "{\"a\": 1, \"b\": 2}");
    assert_parses_as("{ .a = 1; .b }", "{(= .a 1); .b}");
}

/* ---- paths --------------------------------------------------------------- */

static void test_event_paths(void **state)
{
    (void)state;
    assert_parses_as(".", ".");
    assert_parses_as(".a.b", ".a.b");
    assert_parses_as(".\"a b\".c", ".\"a b\".c");
    assert_parses_as(".a[0]; .a[-1]; .a[1][2].b", ".a[0]; .a[-1]; .a[1][2].b");
    assert_parses_as(".@timestamp; .if; .null; .0; .kubernetes.pod_name",
                     ".@timestamp; .if; .null; .0; .kubernetes.pod_name");
    assert_parses_as("%; %foo.bar", "%; %foo.bar");
}

static void test_variable_and_expression_paths(void **state)
{
    (void)state;
    assert_parses_as("x; x.y[0]; _x", "x; x.y[0]; _x");
    assert_parses_as("parse_json!(.m).a", "<parse_json!(.m)>.a");
    assert_parses_as("[1, 2][0]", "<[1 2]>[0]");
    assert_parses_as("{\"a\": 1}.a", "<{\"a\": 1}>.a");
    assert_parses_as("(x).a", "x.a");
}

static void test_path_spacing(void **state)
{
    (void)state;
    assert_syntax_error(".a .b", "error[E203]: syntax error\n"
                                 "  --> 1:4\n"
                                 "   |\n"
                                 " 1 | .a .b\n"
                                 "   |    ^ unexpected \".\"\n"
                                 "   = expected a newline or \";\" after the expression");
    assert_syntax_error(".a.", "error[E203]: syntax error\n"
                               "  --> 1:4\n"
                               "   |\n"
                               " 1 | .a.\n"
                               "   |    ^ expected a field name");
    assert_syntax_error(".(a|b)", "error[E203]: syntax error\n"
                                  "  --> 1:2\n"
                                  "   |\n"
                                  " 1 | .(a|b)\n"
                                  "   |  ^ path coalescing `.(a|b)` is not supported");
}

/* ---- calls ----------------------------------------------------------------- */

static void test_calls(void **state)
{
    (void)state;
    assert_parses_as("now()", "now()");
    assert_parses_as("match(.m, r'x')", "match(.m, r/x/)");
    assert_parses_as("to_int!(.a)", "to_int!(.a)");
    assert_parses_as("compact(.x, null: false, string: true, object: false)",
                     "compact(.x, null: false, string: true, object: false)");
    assert_parses_as("f(\n  .a,\n  b: 1,\n)", "f(.a, b: 1)");
    assert_parses_as("string!(.message)", "string!(.message)");
    assert_parses_as("a = x!=1", "(= a (!= x 1))");
}

/* ---- operators ------------------------------------------------------------ */

static void test_precedence(void **state)
{
    (void)state;
    assert_parses_as("1 + 2 * 3", "(+ 1 (* 2 3))");
    assert_parses_as("1 - 2 - 3", "(- (- 1 2) 3)");
    assert_parses_as("10 / 2 % 3", "(% (/ 10 2) 3)");
    assert_parses_as(".a ?? .b || .c", "(?? .a (|| .b .c))");
    assert_parses_as(".a || .b && .c", "(&& (|| .a .b) .c)");
    assert_parses_as(".a == 1 && .b != 2", "(&& (== .a 1) (!= .b 2))");
    assert_parses_as("1 + 2 < 4", "(< (+ 1 2) 4)");
    assert_parses_as("(.a < 1) == true", "(== (< .a 1) true)");
    assert_parses_as("x | y + 1", "(| x (+ y 1))");
    assert_parses_as("!.a == .b", "(== (! .a) .b)");
    assert_parses_as("!!true", "(! (! true))");
    assert_parses_as("-.a * 2", "(* (neg .a) 2)");
    assert_parses_as("(1 + 2) * 3", "(* (+ 1 2) 3)");
    assert_parses_as("1 +\n  2", "(+ 1 2)");
    assert_parses_as(".a ?? 1 ?? 2", "(?? (?? .a 1) 2)");
}

static void test_chained_comparison(void **state)
{
    (void)state;
    assert_syntax_error("1 < 2 < 3", "error[E650]: chained comparison operators\n"
                                     "  --> 1:7\n"
                                     "   |\n"
                                     " 1 | 1 < 2 < 3\n"
                                     "   |       ^ comparison operators can't be chained "
                                     "together\n"
                                     "   = group the comparisons with parentheses");
    assert_syntax_error(".a < 1 == true", "error[E650]: chained comparison operators\n"
                                          "  --> 1:8\n"
                                          "   |\n"
                                          " 1 | .a < 1 == true\n"
                                          "   |        ^^ comparison operators can't be "
                                          "chained together\n"
                                          "   = group the comparisons with parentheses");
    assert_syntax_error(".a == .b == .c", "error[E650]: chained comparison operators\n"
                                          "  --> 1:10\n"
                                          "   |\n"
                                          " 1 | .a == .b == .c\n"
                                          "   |          ^^ comparison operators can't be "
                                          "chained together\n"
                                          "   = group the comparisons with parentheses");
}

/* ---- statements ----------------------------------------------------------- */

static void test_assignments(void **state)
{
    (void)state;
    assert_parses_as(".a = 1", "(= .a 1)");
    assert_parses_as(".a = .b = \"x\"", "(= .a (= .b \"x\"))");
    assert_parses_as(". |= parse_regex!(.m, r'(?P<x>.)')", "(|= . parse_regex!(.m, r/(?P<x>.)/))");
    assert_parses_as(".a ?\?= parse_json(.m)", "(?\?= .a parse_json(.m))");
    assert_parses_as("ok, err = parse_json(.m)", "(= ok,err parse_json(.m))");
    assert_parses_as("_, err = f(); .x, .y = g()", "(= _,err f()); (= .x,.y g())");
    assert_parses_as("x.y[1] = 2; %m = 3", "(= x.y[1] 2); (= %m 3)");
    assert_parses_as(".a =\n  1", "(= .a 1)");
    assert_parses_as("x = if .a { 1 } else { 2 }", "(= x (if .a {1} {2}))");
}

static void test_if_else(void **state)
{
    (void)state;
    assert_parses_as("if .a { .b = 1 }", "(if .a {(= .b 1)})");
    assert_parses_as("if .a { 1 } else if .b { 2 } else { 3 }",
                     "(if .a {1} (if .b {2} {3}))");
    assert_parses_as("if .a {\n  1\n}\nelse {\n  2\n}", "(if .a {1} {2})");
    assert_parses_as("if .a\n{ 1 }", "(if .a {1})");
    assert_parses_as("if .a {}", "(if .a {})");
    assert_parses_as("if exists(.x) { .y = 1 }\n.z = 2", "(if exists(.x) {(= .y 1)}); (= .z 2)");
}

static void test_blocks_abort_comments(void **state)
{
    (void)state;
    assert_parses_as("{ x = 1\n x + 1 }", "{(= x 1); (+ x 1)}");
    assert_parses_as("abort", "(abort)");
    assert_parses_as("abort \"why\"", "(abort \"why\")");
    assert_parses_as("if .a { abort }", "(if .a {(abort)})");
    assert_parses_as("# comment\n.a = 1 # trailing\n\n\n.b = 2 ;; .c = 3",
                     "(= .a 1); (= .b 2); (= .c 3)");
    assert_parses_as("", "");
    assert_parses_as("\n\n# only a comment\n", "");
}

/* ---- syntax errors -------------------------------------------------------- */

static void test_unexpected_tokens(void **state)
{
    (void)state;
    assert_syntax_error(".a = = 1", "error[E203]: syntax error\n"
                                    "  --> 1:6\n"
                                    "   |\n"
                                    " 1 | .a = = 1\n"
                                    "   |      ^ unexpected \"=\"\n"
                                    "   = expected an expression");
    assert_syntax_error(".a = (1 + 2", "error[E204]: syntax error\n"
                                       "  --> 1:12\n"
                                       "   |\n"
                                       " 1 | .a = (1 + 2\n"
                                       "   |            ^ unexpected end of program\n"
                                       "   = expected \")\"");
    assert_syntax_error("f(1 2)", "error[E203]: syntax error\n"
                                  "  --> 1:5\n"
                                  "   |\n"
                                  " 1 | f(1 2)\n"
                                  "   |     ^ unexpected integer literal\n"
                                  "   = expected \",\" or \")\"");
    assert_syntax_error("{\"a\" 1}", "error[E203]: syntax error\n"
                                     "  --> 1:6\n"
                                     "   |\n"
                                     " 1 | {\"a\" 1}\n"
                                     "   |      ^ unexpected integer literal\n"
                                     "   = expected a newline or \";\" after the expression");
    assert_syntax_error("_", "error[E204]: syntax error\n"
                             "  --> 1:2\n"
                             "   |\n"
                             " 1 | _\n"
                             "   |  ^ unexpected end of program\n"
                             "   = expected \"=\" after \"_\"");
}

static void test_lexical_errors(void **state)
{
    (void)state;
    assert_syntax_error(".a = \"abc", "error[E207]: invalid string literal\n"
                                      "  --> 1:6\n"
                                      "   |\n"
                                      " 1 | .a = \"abc\n"
                                      "   |      ^ this string is never closed");
    assert_syntax_error(".a = \"\\q\"", "error[E209]: invalid escape character\n"
                                        "  --> 1:7\n"
                                        "   |\n"
                                        " 1 | .a = \"\\q\"\n"
                                        "   |       ^^ invalid escape character: \\q");
    assert_syntax_error("r'abc", "error[E208]: invalid literal\n"
                                 "  --> 1:1\n"
                                 "   |\n"
                                 " 1 | r'abc\n"
                                 "   | ^^ this literal is never closed");
    assert_syntax_error(".a = 1abc", "error[E206]: invalid numeric literal\n"
                                     "  --> 1:6\n"
                                     "   |\n"
                                     " 1 | .a = 1abc\n"
                                     "   |      ^^^^ a number can't run into a name");
    assert_syntax_error("99999999999999999999", "error[E206]: invalid numeric literal\n"
                                                "  --> 1:1\n"
                                                "   |\n"
                                                " 1 | 99999999999999999999\n"
                                                "   | ^^^^^^^^^^^^^^^^^^^^ number too large "
                                                "to fit in an integer");
    assert_syntax_error(".a = 1 $ 2", "error[E200]: invalid token\n"
                                      "  --> 1:8\n"
                                      "   |\n"
                                      " 1 | .a = 1 $ 2\n"
                                      "   |        ^ unexpected character");
    assert_syntax_error("t'yesterday'", "error[E601]: invalid timestamp literal\n"
                                        "  --> 1:1\n"
                                        "   |\n"
                                        " 1 | t'yesterday'\n"
                                        "   | ^^^^^^^^^^^^ this is not an RFC 3339 timestamp\n"
                                        "   = write it in RFC 3339, for example "
                                        "t'2021-02-11T10:32:50.553955473Z'");
    assert_syntax_error("map(.a) -> |k, v| { v }", "error[E200]: unsupported syntax\n"
                                                   "  --> 1:9\n"
                                                   "   |\n"
                                                   " 1 | map(.a) -> |k, v| { v }\n"
                                                   "   |         ^^ closures are not "
                                                   "supported");
}

static void test_names(void **state)
{
    (void)state;
    assert_syntax_error("string = 1", "error[E205]: reserved keyword\n"
                                      "  --> 1:1\n"
                                      "   |\n"
                                      " 1 | string = 1\n"
                                      "   | ^^^^^^ this identifier name is reserved for "
                                      "future use in the language\n"
                                      "   = use a different name instead");
    assert_syntax_error("1 = 2", "error[E203]: invalid assignment target\n"
                                 "  --> 1:1\n"
                                 "   |\n"
                                 " 1 | 1 = 2\n"
                                 "   | ^ this can't be assigned to\n"
                                 "   = assign to a path (.field), metadata (%field) or a "
                                 "variable");
    assert_syntax_error("f(x).a = 2", "error[E203]: invalid assignment target\n"
                                      "  --> 1:1\n"
                                      "   |\n"
                                      " 1 | f(x).a = 2\n"
                                      "   | ^^^^^^ this can't be assigned to\n"
                                      "   = assign to a path (.field), metadata (%field) or a "
                                      "variable");
}

static void test_error_positions(void **state)
{
    (void)state;
    /* Line numbers of two digits widen the gutter. */
    assert_syntax_error("\n\n\n\n\n\n\n\n\n\n.a = )", "error[E203]: syntax error\n"
                                                      "   --> 11:6\n"
                                                      "    |\n"
                                                      " 11 | .a = )\n"
                                                      "    |      ^ unexpected \")\"\n"
                                                      "    = expected an expression");
    /* Columns count characters, and tabs stay tabs under the line. */
    assert_syntax_error("\t\"é\" + )", "error[E203]: syntax error\n"
                                       "  --> 1:8\n"
                                       "   |\n"
                                       " 1 | \t\"é\" + )\n"
                                       "   | \t      ^ unexpected \")\"\n"
                                       "   = expected an expression");
}

static void test_long_line_is_windowed(void **state)
{
    (void)state;
    char src[400];
    memset(src, 'x', sizeof(src));
    memcpy(src, ".a = \"", 6);
    src[300] = '"';
    memcpy(src + 301, " ) ", 3);
    src[304] = '\0';
    arena *a = arena_new();
    vrl_source s = {src, strlen(src)};
    vrl_ast *root;
    sl_error err;
    assert_int_equal(vrl_parse(&s, a, &root, &err), -1);
    assert_non_null(strstr(err.msg, "--> 1:303"));
    assert_non_null(strstr(err.msg, " 1 | ...xxxx"));
    assert_non_null(strstr(err.msg, "^ unexpected \")\""));
    arena_free(a);
}

static void test_deep_nesting_is_refused(void **state)
{
    (void)state;
    char src[2100];
    memset(src, '(', 2000);
    src[2000] = '\0';
    arena *a = arena_new();
    vrl_source s = {src, strlen(src)};
    vrl_ast *root;
    sl_error err;
    assert_int_equal(vrl_parse(&s, a, &root, &err), -1);
    assert_non_null(strstr(err.msg, "the program nests too deeply here"));
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings_and_escapes),
        cmocka_unit_test(test_raw_regex_timestamp),
        cmocka_unit_test(test_arrays_and_objects),
        cmocka_unit_test(test_event_paths),
        cmocka_unit_test(test_variable_and_expression_paths),
        cmocka_unit_test(test_path_spacing),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_chained_comparison),
        cmocka_unit_test(test_assignments),
        cmocka_unit_test(test_if_else),
        cmocka_unit_test(test_blocks_abort_comments),
        cmocka_unit_test(test_unexpected_tokens),
        cmocka_unit_test(test_lexical_errors),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_long_line_is_windowed),
        cmocka_unit_test(test_deep_nesting_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, vrl_group_teardown);
}
