/* test_vrl_check.c - the remap language's type checker: fallible
 * expressions that must be handled (exact messages), the ways of handling
 * them, the sluice relaxation for arguments of unknown type (accepted,
 * checked at run time) against arguments of a known wrong type (refused),
 * function arity and keywords, variables and their scopes, declared field
 * types, and condition programs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/vrl_program_test.h"

#define HINT "   = handle the error with `!`, `??` or `value, err = ...`"

/* ---- fallibility ----------------------------------------------------------- */

static void test_unhandled_fallible_assignment(void **state)
{
    (void)state;
    /* The message vrl.h documents. */
    assert_compile_error(".a = 1\n.level = parse_json(.message)",
                         "error[E103]: unhandled fallible assignment\n"
                         "  --> 2:10\n"
                         "   |\n"
                         " 2 | .level = parse_json(.message)\n"
                         "   |          ^^^^^^^^^^^^^^^^^^^^ this expression is fallible\n" HINT);
    assert_compile_error(".x = to_string(.a)", "error[E103]: unhandled fallible assignment\n"
                                               "  --> 1:6\n"
                                               "   |\n"
                                               " 1 | .x = to_string(.a)\n"
                                               "   |      ^^^^^^^^^^^^^ this expression is "
                                               "fallible\n" HINT);
    /* The carets point at where the error comes from, not the whole side. */
    assert_compile_error(".a = parse_json(.b) + 1", "error[E103]: unhandled fallible assignment\n"
                                                    "  --> 1:6\n"
                                                    "   |\n"
                                                    " 1 | .a = parse_json(.b) + 1\n"
                                                    "   |      ^^^^^^^^^^^^^^ this expression "
                                                    "is fallible\n" HINT);
}

static void test_unhandled_root_predicate_argument(void **state)
{
    (void)state;
    assert_compile_error("parse_json(.message)", "error[E100]: unhandled error\n"
                                                 "  --> 1:1\n"
                                                 "   |\n"
                                                 " 1 | parse_json(.message)\n"
                                                 "   | ^^^^^^^^^^^^^^^^^^^^ this expression is "
                                                 "fallible\n" HINT);
    assert_compile_error("if to_int(.x) > 1 { .y = 1 }",
                         "error[E111]: unhandled fallible predicate\n"
                         "  --> 1:4\n"
                         "   |\n"
                         " 1 | if to_int(.x) > 1 { .y = 1 }\n"
                         "   |    ^^^^^^^^^^ this expression is fallible\n" HINT);
    assert_compile_error("is_string(to_int(.x))", "error[E630]: fallible argument\n"
                                                  "  --> 1:11\n"
                                                  "   |\n"
                                                  " 1 | is_string(to_int(.x))\n"
                                                  "   |           ^^^^^^^^^^ this expression is "
                                                  "fallible\n" HINT);
    assert_compile_error("abort to_string(.x)", "error[E631]: fallible abort message expression\n"
                                                "  --> 1:7\n"
                                                "   |\n"
                                                " 1 | abort to_string(.x)\n"
                                                "   |       ^^^^^^^^^^^^^ this expression is "
                                                "fallible\n" HINT);
    /* Inside a block the error reaches the statement holding the block. */
    assert_compile_error("if .a == 1 {\n  parse_json(.b)\n}", "error[E100]: unhandled error\n"
                                                             "  --> 2:3\n"
                                                             "   |\n"
                                                             " 2 |   parse_json(.b)\n"
                                                             "   |   ^^^^^^^^^^^^^^ this "
                                                             "expression is fallible\n" HINT);
}

static void test_fallible_operators(void **state)
{
    (void)state;
    assert_compile_error(".x = .a / .b", "error[E103]: unhandled fallible assignment\n"
                                         "  --> 1:6\n"
                                         "   |\n"
                                         " 1 | .x = .a / .b\n"
                                         "   |      ^^^^^^^ this expression is fallible\n" HINT);
    assert_compile_error(".x = .a / 0", "error[E103]: unhandled fallible assignment\n"
                                        "  --> 1:6\n"
                                        "   |\n"
                                        " 1 | .x = .a / 0\n"
                                        "   |      ^^^^^^ this expression is fallible\n" HINT);
    assert_compile_error("x = \"s\"\n.y = x - 1", "error[E103]: unhandled fallible assignment\n"
                                                  "  --> 2:6\n"
                                                  "   |\n"
                                                  " 2 | .y = x - 1\n"
                                                  "   |      ^^^^^ this expression is "
                                                  "fallible\n" HINT);
    assert_compile_error(".x = 5 % .n", "error[E103]: unhandled fallible assignment\n"
                                        "  --> 1:6\n"
                                        "   |\n"
                                        " 1 | .x = 5 % .n\n"
                                        "   |      ^^^^^^ this expression is fallible\n" HINT);
    /* A non-zero literal divisor can't fail; nor can operands of unknown
     * kinds, which are checked when the program runs. */
    assert_compiles(".x = .a / 2\n.y = .a % 3\n.z = 10 / 4.0");
    assert_compiles(".x = .a + .b\n.y = .a * 2\n.z = .a < .b\n.w = .a && .b");
    assert_compiles(".x = \"a\" + \"b\" + null\n.y = 2 * \"ab\"\n.z = t'2020-01-01T00:00:00Z' < "
                    "t'2021-01-01T00:00:00Z'");
}

static void test_handling_errors(void **state)
{
    (void)state;
    assert_compiles(".a = parse_json(.m) ?? {}");
    assert_compiles(".a = parse_json!(.m)");
    assert_compiles("a, err = parse_json(.m)\n.a = a\n.err = err");
    assert_compiles(".a, .err = parse_json(.m)");
    assert_compiles("_, err = parse_json(.m)");
    assert_compiles(".a ?\?= parse_json(.m)");
    assert_compiles(".x = (.a / .b) ?? 0");
    assert_compiles("if to_int(.x) ?? 0 > 1 { .y = 1 }");
    assert_compiles("if (to_int(.x) ?? 0) > 1 { .y = 1 }");
    /* An unnecessary `!`, `??` or error variable is allowed. */
    assert_compiles(".a = is_string!(.m)\n.b = .m ?? 1\nc, err = .m");
}

/* ---- argument types ------------------------------------------------------- */

static void test_unknown_types_are_accepted(void **state)
{
    (void)state;
    /* VRL refuses these; sluice checks the kind when the program runs. */
    assert_compiles("if match(.kubernetes.pod_name, r\"chat-ui\") { .w = 1 }");
    assert_compiles(".x = merge(.a, .b)\n.y = compact(.c)");
    /* A known union that may be right is accepted too. */
    assert_compiles("x = if .a == 1 { \"s\" } else { 5 }\n.m = match(x, r'a')");
}

static void test_known_wrong_types_are_refused(void **state)
{
    (void)state;
    assert_compile_error("match(1, r\"x\")", "error[E110]: invalid argument type\n"
                                             "  --> 1:7\n"
                                             "   |\n"
                                             " 1 | match(1, r\"x\")\n"
                                             "   |       ^ this expression resolves to integer, "
                                             "but the parameter \"value\" expects string");
    assert_compile_error("merge(1, {})", "error[E110]: invalid argument type\n"
                                         "  --> 1:7\n"
                                         "   |\n"
                                         " 1 | merge(1, {})\n"
                                         "   |       ^ this expression resolves to integer, but "
                                         "the parameter \"to\" expects object");
    assert_compile_error("x = [1]\nmatch(x, r'a')", "error[E110]: invalid argument type\n"
                                                    "  --> 2:7\n"
                                                    "   |\n"
                                                    " 2 | match(x, r'a')\n"
                                                    "   |       ^ this expression resolves to "
                                                    "array, but the parameter \"value\" expects "
                                                    "string");
    assert_compile_error("is_string(r'x')", "error[E110]: invalid argument type\n"
                                            "  --> 1:11\n"
                                            "   |\n"
                                            " 1 | is_string(r'x')\n"
                                            "   |           ^^^^ this expression resolves to "
                                            "regex, but the parameter \"value\" expects any");
    assert_compile_error("exists(1)", "error[E110]: invalid argument type\n"
                                      "  --> 1:8\n"
                                      "   |\n"
                                      " 1 | exists(1)\n"
                                      "   |        ^ this expression resolves to integer, but "
                                      "the parameter \"path\" expects a path");
    assert_compile_error(".a = r'x'", "error[E110]: invalid argument type\n"
                                      "  --> 1:6\n"
                                      "   |\n"
                                      " 1 | .a = r'x'\n"
                                      "   |      ^^^^ a regex can't be assigned\n"
                                      "   = regex literals can only be function arguments");
}

static void test_regex_and_argument_compile_errors(void **state)
{
    (void)state;
    assert_compile_error("match(.x, r'(')", "error[E101]: malformed regex literal\n"
                                            "  --> 1:11\n"
                                            "   |\n"
                                            " 1 | match(.x, r'(')\n"
                                            "   |           ^^^^ missing closing parenthesis "
                                            "(at pattern offset 1)");
    assert_compile_error(".t = to_timestamp(.x, unit: \"days\") ?? null",
                         "error[E403]: invalid argument\n"
                         "  --> 1:19\n"
                         "   |\n"
                         " 1 | .t = to_timestamp(.x, unit: \"days\") ?? null\n"
                         "   |                   ^^^^^^^^^^^^^^^^ unit must be one of "
                         "\"seconds\", \"milliseconds\", \"microseconds\", \"nanoseconds\"");
}

/* ---- functions and variables --------------------------------------------- */

static void test_function_lookup_and_arity(void **state)
{
    (void)state;
    assert_compile_error("parse_jsn!(.x)", "error[E105]: call to undefined function\n"
                                           "  --> 1:1\n"
                                           "   |\n"
                                           " 1 | parse_jsn!(.x)\n"
                                           "   | ^^^^^^^^^ undefined function \"parse_jsn\"\n"
                                           "   = did you mean \"parse_json\"?");
    assert_compile_error("frobnicate(.x)", "error[E105]: call to undefined function\n"
                                           "  --> 1:1\n"
                                           "   |\n"
                                           " 1 | frobnicate(.x)\n"
                                           "   | ^^^^^^^^^^ undefined function \"frobnicate\"");
    assert_compile_error("is_string(.a, .b)", "error[E106]: function argument arity mismatch\n"
                                              "  --> 1:15\n"
                                              "   |\n"
                                              " 1 | is_string(.a, .b)\n"
                                              "   |               ^^ this argument is one too "
                                              "many\n"
                                              "   = \"is_string\" takes at most 1 argument");
    assert_compile_error("merge(.a)", "error[E107]: required argument missing\n"
                                      "  --> 1:1\n"
                                      "   |\n"
                                      " 1 | merge(.a)\n"
                                      "   | ^^^^^^^^^ \"merge\" needs the argument \"from\"");
    assert_compile_error("merge(.a, .b, depth: true)",
                         "error[E108]: unknown function argument keyword\n"
                         "  --> 1:15\n"
                         "   |\n"
                         " 1 | merge(.a, .b, depth: true)\n"
                         "   |               ^^^^^ unknown keyword \"depth\"\n"
                         "   = \"merge\" takes: to, from, deep");
    assert_compile_error("merge(.a, to: .b)", "error[E106]: function argument arity mismatch\n"
                                              "  --> 1:15\n"
                                              "   |\n"
                                              " 1 | merge(.a, to: .b)\n"
                                              "   |               ^^ \"to\" is given twice");
    assert_compiles("merge(from: .b, to: .a, deep: true)");
}

static void test_variables_and_scopes(void **state)
{
    (void)state;
    assert_compile_error("x + 1", "error[E701]: call to undefined variable\n"
                                  "  --> 1:1\n"
                                  "   |\n"
                                  " 1 | x + 1\n"
                                  "   | ^ undefined variable \"x\"\n"
                                  "   = assign the variable first, or fix the name");
    /* Variables assigned in a block end with it, as in VRL. */
    assert_compile_error("if .a == 1 { y = 1 }\n.b = y", "error[E701]: call to undefined variable\n"
                                                          "  --> 2:6\n"
                                                          "   |\n"
                                                          " 2 | .b = y\n"
                                                          "   |      ^ undefined variable \"y\"\n"
                                                          "   = assign the variable first, or fix "
                                                          "the name");
    assert_compile_error("del(x.a)", "error[E701]: call to undefined variable\n"
                                     "  --> 1:5\n"
                                     "   |\n"
                                     " 1 | del(x.a)\n"
                                     "   |     ^ undefined variable \"x\"\n"
                                     "   = assign the variable first, or fix the name");
    /* Assigned before the block, changed inside: still known after. */
    assert_compiles("y = 0\nif .a == 1 { y = 1 }\n.b = y");
    assert_compiles("x.a.b = 1\n.c = x");
    assert_compiles("x = 1\nx = \"now a string\"\n.m = match(x, r'a')");
}

static void test_type_flow(void **state)
{
    (void)state;
    /* A path keeps what was assigned to it... */
    assert_compile_error(".a = \"s\"\n.b = .a - 1", "error[E103]: unhandled fallible assignment\n"
                                                    "  --> 2:6\n"
                                                    "   |\n"
                                                    " 2 | .b = .a - 1\n"
                                                    "   |      ^^^^^^ this expression is "
                                                    "fallible\n" HINT);
    assert_compiles(".a = 1\n.b = to_string(.a)");
    /* ...until something writes around it. */
    assert_compiles(".a = 1\n. = parse_json!(.m)\n.b = to_string(.a) ?? \"\"");
    assert_compile_error(".a = 1\n.a.b = 2\n.c = to_string(.a)",
                         "error[E103]: unhandled fallible assignment\n"
                         "  --> 3:6\n"
                         "   |\n"
                         " 3 | .c = to_string(.a)\n"
                         "   |      ^^^^^^^^^^^^^ this expression is fallible\n" HINT);
    /* Branches join: a string on one side makes to_int fallible. */
    assert_compile_error("x = 1\nif .a == 1 { x = \"2\" }\n.n = to_int(x)",
                         "error[E103]: unhandled fallible assignment\n"
                         "  --> 3:6\n"
                         "   |\n"
                         " 3 | .n = to_int(x)\n"
                         "   |      ^^^^^^^^^ this expression is fallible\n" HINT);
    assert_compiles("x = 1\nif .a == 1 { x = 2 } else { x = 3.5 }\n.n = to_int(x)");
}

static void test_declared_fields(void **state)
{
    (void)state;
    const vrl_field_type fields[] = {
        {".kubernetes.pod_name", VRL_KIND(VALUE_BYTES)},
        {".count", VRL_KIND(VALUE_INT)},
    };
    vrl_options opts = {false, fields, 2};
    vrl_program_free(tprog_opts(".s = to_string(.count)\n.p = string(.kubernetes.pod_name)",
                                &opts));
    assert_compile_error(".s = to_string(.count)", "error[E103]: unhandled fallible assignment\n"
                                                   "  --> 1:6\n"
                                                   "   |\n"
                                                   " 1 | .s = to_string(.count)\n"
                                                   "   |      ^^^^^^^^^^^^^^^^^ this expression "
                                                   "is fallible\n" HINT);
    assert_compile_error_opts("match(.count, r'1')", &opts,
                              "error[E110]: invalid argument type\n"
                              "  --> 1:7\n"
                              "   |\n"
                              " 1 | match(.count, r'1')\n"
                              "   |       ^^^^^^ this expression resolves to integer, but the "
                              "parameter \"value\" expects string");
}

/* ---- other checks --------------------------------------------------------- */

static void test_kind_errors(void **state)
{
    (void)state;
    assert_compile_error("if 1 { .b = 1 }", "error[E102]: non-boolean if expression predicate\n"
                                            "  --> 1:4\n"
                                            "   |\n"
                                            " 1 | if 1 { .b = 1 }\n"
                                            "   |    ^ this predicate resolves to integer, not a "
                                            "boolean\n"
                                            "   = VRL has no truthy values: compare, or use a "
                                            "function such as exists()");
    assert_compile_error("!1", "error[E660]: non-boolean negation\n"
                               "  --> 1:2\n"
                               "   |\n"
                               " 1 | !1\n"
                               "   |  ^ this expression resolves to integer, not a boolean");
    assert_compile_error("abort 1", "error[E113]: non-string abort message\n"
                                    "  --> 1:7\n"
                                    "   |\n"
                                    " 1 | abort 1\n"
                                    "   |       ^ this expression resolves to integer, not a "
                                    "string");
    assert_compile_error(". |= 1", "error[E652]: only objects can be merged\n"
                                   "  --> 1:6\n"
                                   "   |\n"
                                   " 1 | . |= 1\n"
                                   "   |      ^ this expression resolves to integer");
    assert_compile_error(".a = {} | 1", "error[E652]: only objects can be merged\n"
                                        "  --> 1:11\n"
                                        "   |\n"
                                        " 1 | .a = {} | 1\n"
                                        "   |           ^ this expression resolves to integer");
    assert_compile_error(". = 1", "error[E653]: invalid root assignment\n"
                                  "  --> 1:5\n"
                                  "   |\n"
                                  " 1 | . = 1\n"
                                  "   |     ^ this expression resolves to integer, not an object\n"
                                  "   = the event root `.` (and `%`) must stay an object");
    /* Unknown kinds pass; the interpreter checks them. */
    assert_compiles("if .a { .b = 1 }\n.c = !.d\n. |= .e");
}

static void test_conditions(void **state)
{
    (void)state;
    vrl_options cond = {true, NULL, 0};
    vrl_program_free(tprog_opts(".status == 200", &cond));
    vrl_program_free(tprog_opts("exists(.a) && .b", &cond));
    vrl_program_free(tprog_opts(".flag", &cond));
    vrl_program_free(tprog_opts("x = 1\nx > 0", &cond));
    assert_compile_error_opts("\"yes\"", &cond, "error[E102]: non-boolean condition\n"
                                                "  --> 1:1\n"
                                                "   |\n"
                                                " 1 | \"yes\"\n"
                                                "   | ^^^^^ this condition resolves to string, "
                                                "never a boolean\n"
                                                "   = a condition must end in a boolean "
                                                "expression");
    assert_compile_error_opts(".a = 1", &cond, "error[E102]: non-boolean condition\n"
                                               "  --> 1:1\n"
                                               "   |\n"
                                               " 1 | .a = 1\n"
                                               "   | ^^^^^^ this condition resolves to integer, "
                                               "never a boolean\n"
                                               "   = a condition must end in a boolean "
                                               "expression");
    assert_compile_error_opts("", &cond, "error[E102]: non-boolean condition\n"
                                         "  --> 1:1\n"
                                         "   |\n"
                                         " 1 | \n"
                                         "   | ^ this condition resolves to null, never a "
                                         "boolean\n"
                                         "   = a condition must end in a boolean expression");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unhandled_fallible_assignment),
        cmocka_unit_test(test_unhandled_root_predicate_argument),
        cmocka_unit_test(test_fallible_operators),
        cmocka_unit_test(test_handling_errors),
        cmocka_unit_test(test_unknown_types_are_accepted),
        cmocka_unit_test(test_known_wrong_types_are_refused),
        cmocka_unit_test(test_regex_and_argument_compile_errors),
        cmocka_unit_test(test_function_lookup_and_arity),
        cmocka_unit_test(test_variables_and_scopes),
        cmocka_unit_test(test_type_flow),
        cmocka_unit_test(test_declared_fields),
        cmocka_unit_test(test_kind_errors),
        cmocka_unit_test(test_conditions),
    };
    return cmocka_run_group_tests(tests, NULL, vrl_group_teardown);
}
