/* test_interp.c - environment interpolation: every form Vector accepts,
 * text that only looks like a reference, the refusal of line breaks, and
 * that parsed structure (keys, node kinds) is never changed by a value. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/interp.h"

static int setup_env(void **state)
{
    (void)state;
    setenv("SL_T_HOST", "db.local", 1);
    setenv("SL_T_EMPTY", "", 1);
    setenv("SL_T_PORT", "5432", 1);
    setenv("SL_T_NL", "a\nb", 1);
    setenv("SL_T_CR", "a\rb", 1);
    setenv("SL_T.DOTTED", "dot", 1);
    setenv("SL_T_MAP", "{a: 1, b: [2]}", 1);
    unsetenv("SL_T_UNSET");
    return 0;
}

static char *message(const diag *d)
{
    buf out = BUF_INIT;
    assert_int_equal(diag_format(d, &out), 0);
    return buf_detach(&out);
}

/* Expands text and checks the result and that nothing was reported. */
static void assert_expands(const char *text, const char *expected)
{
    diag_list d = DIAG_LIST_INIT;
    buf out = BUF_INIT;
    assert_int_equal(interp_expand(text, strlen(text), NULL, &out, &d), 0);
    assert_string_equal(out.data ? out.data : "", expected);
    assert_int_equal(d.n, 0);
    buf_free(&out);
    diag_list_free(&d);
}

static void assert_expand_fails(const char *text, const char *expected)
{
    diag_list d = DIAG_LIST_INIT;
    buf out = BUF_INIT;
    assert_int_equal(interp_expand(text, strlen(text), NULL, &out, &d), -1);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].level, DIAG_ERROR);
    char *msg = message(&d.items[0]);
    assert_string_equal(msg, expected);
    free(msg);
    buf_free(&out);
    diag_list_free(&d);
}

static void test_plain_references(void **state)
{
    (void)state;
    assert_expands("${SL_T_HOST}", "db.local");
    assert_expands("$SL_T_HOST", "db.local");
    assert_expands("postgres://$SL_T_HOST:${SL_T_PORT}/x", "postgres://db.local:5432/x");
    assert_expands("no references", "no references");
    assert_expands("", "");
    /* Vector's names include '.', as Java properties do. */
    assert_expands("$SL_T.DOTTED!", "dot!");
}

static void test_defaults(void **state)
{
    (void)state;
    assert_expands("${SL_T_UNSET:-fallback}", "fallback");
    assert_expands("${SL_T_EMPTY:-fallback}", "fallback");
    assert_expands("${SL_T_HOST:-fallback}", "db.local");
    assert_expands("${SL_T_UNSET-fallback}", "fallback");
    assert_expands("${SL_T_EMPTY-fallback}", "");
    assert_expands("${SL_T_HOST-fallback}", "db.local");
    assert_expands("${SL_T_UNSET:-}", "");
    assert_expands("${SL_T_UNSET:-a b:c-d}", "a b:c-d");
    /* Defaults are config text, not interpolated again. */
    assert_expands("${SL_T_UNSET:-$SL_T_HOST}", "$SL_T_HOST");
}

static void test_required(void **state)
{
    (void)state;
    assert_expand_fails("${SL_T_UNSET:?set the database host}",
                        "environment variable \"SL_T_UNSET\" is unset or empty: "
                        "set the database host");
    assert_expand_fails("${SL_T_EMPTY:?needed}",
                        "environment variable \"SL_T_EMPTY\" is unset or empty: needed");
    assert_expand_fails("x${SL_T_UNSET?}",
                        "environment variable \"SL_T_UNSET\" is unset");
    assert_expands("${SL_T_EMPTY?needed}", "");
    assert_expands("${SL_T_HOST:?needed}", "db.local");
}

static void test_dollar_escapes_and_literals(void **state)
{
    (void)state;
    assert_expands("$$", "$");
    assert_expands("cost: $$5", "cost: $5");
    assert_expands("$${SL_T_HOST}", "${SL_T_HOST}");
    assert_expands("$$$SL_T_HOST", "$db.local");
    assert_expands("5$", "5$");
    assert_expands("$ x", "$ x");
    assert_expands("${", "${");
    assert_expands("${}", "${}");
    assert_expands("${SL_T_HOST", "${SL_T_HOST");
    assert_expands("${SL_T_HOST:x}", "${SL_T_HOST:x}");
    assert_expands("${SL_T HOST}", "${SL_T HOST}");
    assert_expands("${SL_T_HOST!}", "${SL_T_HOST!}");
}

static void test_unset_warns_and_substitutes_empty(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    buf out = BUF_INIT;
    const char *text = "a${SL_T_UNSET}b$SL_T_UNSET";
    assert_int_equal(interp_expand(text, strlen(text), NULL, &out, &d), 0);
    assert_string_equal(out.data, "ab");
    assert_int_equal(d.n, 2);
    assert_int_equal(diag_errors(&d), 0);
    char *msg = message(&d.items[0]);
    assert_string_equal(msg,
                        "environment variable \"SL_T_UNSET\" is not set; using an empty string");
    free(msg);
    buf_free(&out);
    diag_list_free(&d);
}

static void test_newlines_are_refused(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    const char *text = "sinks:\n  out:\n    path: \"${SL_T_NL}\"\n    other: $SL_T_CR\n";
    cfg_doc *doc = cfg_doc_parse("nl.yaml", text, strlen(text), false, &d);
    assert_non_null(doc);
    assert_int_equal(interp_tree(cfg_doc_root(doc), &d), 2);
    assert_int_equal(d.n, 2);
    char *msg = message(&d.items[0]);
    assert_string_equal(msg, "nl.yaml:3: environment variable \"SL_T_NL\" contains a newline");
    free(msg);
    msg = message(&d.items[1]);
    assert_string_equal(msg, "nl.yaml:4: environment variable \"SL_T_CR\" contains a newline");
    free(msg);
    cfg_doc_free(doc);
    diag_list_free(&d);
}

static void test_tree_keeps_keys_and_kinds(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    const char *text =
        "${SL_T_HOST}: value\n"
        "port: ${SL_T_PORT}\n"
        "quoted: \"${SL_T_PORT}\"\n"
        "list: [$SL_T_HOST, \"$$x\"]\n"
        "nested: {inner: '${SL_T_UNSET:-d}'}\n"
        "inject: ${SL_T_MAP}\n"
        "nothing: null\n";
    cfg_doc *doc = cfg_doc_parse("t.yaml", text, strlen(text), false, &d);
    assert_non_null(doc);
    cfg_node *root = cfg_doc_root(doc);
    assert_int_equal(interp_tree(root, &d), 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(root->pairs[0].key->text, "${SL_T_HOST}");
    const cfg_node *port = cfg_map_get(root, "port");
    assert_string_equal(port->text, "5432");
    assert_int_equal(port->len, 4);
    assert_true(port->plain);
    const cfg_node *quoted = cfg_map_get(root, "quoted");
    assert_string_equal(quoted->text, "5432");
    assert_false(quoted->plain);
    const cfg_node *list = cfg_map_get(root, "list");
    assert_string_equal(list->items[0]->text, "db.local");
    assert_string_equal(list->items[1]->text, "$x");
    assert_string_equal(cfg_map_get(cfg_map_get(root, "nested"), "inner")->text, "d");
    const cfg_node *inject = cfg_map_get(root, "inject");
    assert_int_equal(inject->kind, CFG_SCALAR);
    assert_string_equal(inject->text, "{a: 1, b: [2]}");
    assert_int_equal(cfg_map_get(root, "nothing")->kind, CFG_NULL);
    cfg_doc_free(doc);
    diag_list_free(&d);
}

static void test_tree_counts_errors(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    const char *text = "a: ${SL_T_UNSET:?one}\nb: [\"${SL_T_UNSET?two}\"]\nc: ok\n";
    cfg_doc *doc = cfg_doc_parse("e.yaml", text, strlen(text), false, &d);
    assert_non_null(doc);
    assert_int_equal(interp_tree(cfg_doc_root(doc), &d), 2);
    char *msg = message(&d.items[1]);
    assert_string_equal(msg, "e.yaml:2: environment variable \"SL_T_UNSET\" is unset: two");
    free(msg);
    cfg_doc_free(doc);
    diag_list_free(&d);
    assert_int_equal(interp_tree(NULL, &d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_references),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_dollar_escapes_and_literals),
        cmocka_unit_test(test_unset_warns_and_substitutes_empty),
        cmocka_unit_test(test_newlines_are_refused),
        cmocka_unit_test(test_tree_keeps_keys_and_kinds),
        cmocka_unit_test(test_tree_counts_errors),
    };
    return cmocka_run_group_tests(tests, setup_env, NULL);
}
