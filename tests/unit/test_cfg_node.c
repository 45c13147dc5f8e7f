/* test_cfg_node.c - loading YAML and JSON into the positioned cfg_node tree:
 * positions, plain versus quoted scalars, nulls, anchors, duplicate keys and
 * the exact syntax messages users see. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/cfg_node.h"
#include "config/diag.h"

static cfg_doc *parse(const char *name, const char *text, bool json, diag_list *d)
{
    return cfg_doc_parse(name, text, strlen(text), json, d);
}

/* The single message a failed parse left, formatted as users see it. */
static void assert_only_error(diag_list *d, const char *expected)
{
    assert_int_equal(d->n, 1);
    buf out = BUF_INIT;
    assert_int_equal(diag_format(&d->items[0], &out), 0);
    assert_string_equal(out.data, expected);
    buf_free(&out);
}

static void assert_parse_fails(const char *name, const char *text, bool json,
                               const char *expected)
{
    diag_list d = DIAG_LIST_INIT;
    cfg_doc *doc = parse(name, text, json, &d);
    assert_null(doc);
    assert_only_error(&d, expected);
    diag_list_free(&d);
}

static void assert_scalar(const cfg_node *n, const char *text, bool plain, int line, int col)
{
    assert_non_null(n);
    assert_int_equal(n->kind, CFG_SCALAR);
    assert_string_equal(n->text, text);
    assert_int_equal(n->len, strlen(text));
    assert_int_equal(n->plain, plain);
    assert_int_equal(n->line, line);
    assert_int_equal(n->col, col);
}

static void test_yaml_positions_and_styles(void **state)
{
    (void)state;
    const char *text =
        "sources:\n"
        "  in:\n"
        "    type: stdin\n"
        "    count: 5\n"
        "    name: \"quoted\"\n"
        "    single: 'also'\n"
        "    list: [a, 'b']\n"
        "    nothing:\n"
        "    tilde: ~\n"
        "    word: null\n"
        "    quoted_null: \"null\"\n"
        "    tagged: !!str 7\n";
    diag_list d = DIAG_LIST_INIT;
    cfg_doc *doc = parse("p.yaml", text, false, &d);
    assert_non_null(doc);
    assert_int_equal(d.n, 0);
    const cfg_node *root = cfg_doc_root(doc);
    assert_int_equal(root->kind, CFG_MAP);
    assert_string_equal(root->file, "p.yaml");
    assert_int_equal(root->npairs, 1);
    assert_scalar(root->pairs[0].key, "sources", true, 1, 1);
    const cfg_node *in = cfg_map_get(cfg_map_get(root, "sources"), "in");
    assert_int_equal(in->kind, CFG_MAP);
    assert_int_equal(in->line, 3);
    assert_scalar(cfg_map_get(in, "type"), "stdin", true, 3, 11);
    assert_scalar(cfg_map_pair(in, "type")->key, "type", true, 3, 5);
    assert_scalar(cfg_map_get(in, "count"), "5", true, 4, 12);
    assert_scalar(cfg_map_get(in, "name"), "quoted", false, 5, 11);
    assert_scalar(cfg_map_get(in, "single"), "also", false, 6, 13);
    const cfg_node *list = cfg_map_get(in, "list");
    assert_int_equal(list->kind, CFG_SEQ);
    assert_int_equal(list->nitems, 2);
    assert_scalar(list->items[0], "a", true, 7, 12);
    assert_scalar(list->items[1], "b", false, 7, 15);
    assert_int_equal(cfg_map_get(in, "nothing")->kind, CFG_NULL);
    assert_int_equal(cfg_map_get(in, "tilde")->kind, CFG_NULL);
    assert_int_equal(cfg_map_get(in, "word")->kind, CFG_NULL);
    assert_scalar(cfg_map_get(in, "quoted_null"), "null", false, 11, 18);
    assert_scalar(cfg_map_get(in, "tagged"), "7", false, 12, 13);
    assert_null(cfg_map_get(in, "absent"));
    assert_null(cfg_map_pair(in, "absent"));
    assert_null(cfg_map_get(list, "a"));
    assert_null(cfg_map_get(NULL, "a"));
    cfg_doc_free(doc);
    diag_list_free(&d);
}

static void test_json_positions_and_styles(void **state)
{
    (void)state;
    const char *text =
        "{\n"
        "  \"sources\": {\n"
        "    \"in\": {\"type\": \"stdin\", \"n\": -5.5e1, \"ok\": true, \"x\": null,\n"
        "           \"s\": \"5\", \"list\": [false, \"a\"]}\n"
        "  }\n"
        "}\n";
    diag_list d = DIAG_LIST_INIT;
    cfg_doc *doc = parse("p.json", text, true, &d);
    assert_non_null(doc);
    assert_int_equal(d.n, 0);
    const cfg_node *root = cfg_doc_root(doc);
    assert_int_equal(root->kind, CFG_MAP);
    assert_int_equal(root->line, 1);
    assert_scalar(root->pairs[0].key, "sources", false, 2, 3);
    const cfg_node *in = cfg_map_get(cfg_map_get(root, "sources"), "in");
    assert_int_equal(in->line, 3);
    assert_int_equal(in->col, 11);
    assert_scalar(cfg_map_get(in, "type"), "stdin", false, 3, 20);
    assert_scalar(cfg_map_get(in, "n"), "-5.5e1", true, 3, 34);
    assert_scalar(cfg_map_get(in, "ok"), "true", true, 3, 48);
    const cfg_node *x = cfg_map_get(in, "x");
    assert_int_equal(x->kind, CFG_NULL);
    assert_int_equal(x->line, 3);
    assert_scalar(cfg_map_get(in, "s"), "5", false, 4, 17);
    const cfg_node *list = cfg_map_get(in, "list");
    assert_int_equal(list->kind, CFG_SEQ);
    assert_scalar(list->items[0], "false", true, 4, 31);
    assert_scalar(list->items[1], "a", false, 4, 38);
    cfg_doc_free(doc);
    diag_list_free(&d);
}

static void test_json_escapes(void **state)
{
    (void)state;
    const char *text = "{\"e\": \"\\ud83d\\ude00 \\u00e9\\n\\t\\\"\\\\\\/\", \"\xc3\xa9\": 1}";
    diag_list d = DIAG_LIST_INIT;
    cfg_doc *doc = parse("e.json", text, true, &d);
    assert_non_null(doc);
    const cfg_node *root = cfg_doc_root(doc);
    assert_string_equal(cfg_map_get(root, "e")->text, "\xf0\x9f\x98\x80 \xc3\xa9\n\t\"\\/");
    /* Columns count characters: the two-byte key is one column wide. */
    assert_scalar(cfg_map_get(root, "\xc3\xa9"), "1", true, 1, 45);
    cfg_doc_free(doc);
    diag_list_free(&d);
}

static void test_json_syntax_error_names_line_and_column(void **state)
{
    (void)state;
    assert_parse_fails("bad.json", "{\n  \"a\": 1,\n  \"b\" 2\n}\n", true,
                       "bad.json:3: invalid JSON at column 7: ':' expected near '2'");
    assert_parse_fails("bad.json", "{\"a\": }", true,
                       "bad.json:1: invalid JSON at column 7: unexpected token near '}'");
    assert_parse_fails("bad.json", "", true,
                       "bad.json:1: invalid JSON at column 1: unexpected token near end of file");
}

static void test_yaml_syntax_error(void **state)
{
    (void)state;
    assert_parse_fails("bad.yaml", "a: 1\nb: [1, 2\nc: 3\n", false,
                       "bad.yaml:3: invalid YAML at column 2: did not find expected ',' or ']' "
                       "(while parsing a flow sequence at line 2)");
    assert_parse_fails("bad.yaml", "a: 1\n b: 2\n", false,
                       "bad.yaml:2: invalid YAML at column 3: mapping values are not allowed "
                       "in this context");
    assert_parse_fails("bad.yaml", "a: 1\nb: \xff\n", false,
                       "bad.yaml:2: invalid YAML: invalid leading UTF-8 octet (character 0xFF)");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    assert_null(parse("dup.yaml", "a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\na: 4\na: 5\n", false, &d));
    assert_int_equal(d.n, 3);
    const char *expected[] = {
        "dup.yaml:5: duplicate key \"x\" (first at line 3)",
        "dup.yaml:6: duplicate key \"a\" (first at line 1)",
        "dup.yaml:7: duplicate key \"a\" (first at line 1)",
    };
    for (size_t i = 0; i < 3; i++) {
        buf out = BUF_INIT;
        diag_format(&d.items[i], &out);
        assert_string_equal(out.data, expected[i]);
        buf_free(&out);
    }
    diag_list_free(&d);
    assert_parse_fails("dup.json", "{\"a\": 1,\n \"a\": 2}", true,
                       "dup.json:2: duplicate key \"a\" (first at line 1)");
}

static void test_anchors_and_aliases(void **state)
{
    (void)state;
    const char *text =
        "base: &common\n"
        "  codec: json\n"
        "  list: [1, 2]\n"
        "name: &n hello\n"
        "a: *common\n"
        "b: *n\n";
    diag_list d = DIAG_LIST_INIT;
    cfg_doc *doc = parse("a.yaml", text, false, &d);
    assert_non_null(doc);
    const cfg_node *root = cfg_doc_root(doc);
    const cfg_node *a = cfg_map_get(root, "a");
    assert_int_equal(a->kind, CFG_MAP);
    assert_ptr_not_equal(a, cfg_map_get(root, "base"));
    assert_scalar(cfg_map_get(a, "codec"), "json", true, 2, 10);
    assert_int_equal(cfg_map_get(a, "list")->nitems, 2);
    assert_string_equal(cfg_map_get(root, "b")->text, "hello");
    cfg_doc_free(doc);
    diag_list_free(&d);
    assert_parse_fails("a.yaml", "a: 1\nb: *nope\n", false, "a.yaml:2: undefined alias \"*nope\"");
}

static void test_alias_bomb_is_refused(void **state)
{
    (void)state;
    const char *text =
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    assert_parse_fails("bomb.yaml", text, false,
                       "bomb.yaml:5: aliases expand to more than 100000 nodes");
}

static void test_deep_nesting_is_refused(void **state)
{
    (void)state;
    char text[512];
    memset(text, '[', 300);
    text[300] = '\0';
    assert_parse_fails("deep.yaml", text, false, "deep.yaml:1: nested more than 100 levels deep");
    assert_parse_fails("deep.json", text, true,
                       "deep.json:1: invalid JSON at column 300: ']' expected near end of file");
    memset(text + 150, ']', 150);
    assert_parse_fails("deep.json", text, true, "deep.json:1: nested more than 100 levels deep");
}

static void test_document_shapes(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    cfg_doc *doc = parse("empty.yaml", "# only a comment\n", false, &d);
    assert_non_null(doc);
    assert_int_equal(cfg_doc_root(doc)->kind, CFG_NULL);
    assert_string_equal(cfg_doc_root(doc)->file, "empty.yaml");
    cfg_doc_free(doc);
    diag_list_free(&d);
    assert_parse_fails("two.yaml", "a: 1\n---\nb: 2\n", false,
                       "two.yaml:2: more than one YAML document in a file is not supported");
    assert_parse_fails("key.yaml", "? [a, b]\n: 1\n", false,
                       "key.yaml:1: a map key must be a string, not a list");
    assert_parse_fails("nul.yaml", "a: \"x\\0y\"\n", false,
                       "nul.yaml:1: values may not contain NUL characters");
}

static void test_null_key_is_a_string(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    cfg_doc *doc = parse("k.yaml", "null: 1\n~: 2\n", false, &d);
    assert_non_null(doc);
    const cfg_node *root = cfg_doc_root(doc);
    assert_int_equal(root->pairs[0].key->kind, CFG_SCALAR);
    assert_string_equal(cfg_map_get(root, "~")->text, "2");
    cfg_doc_free(doc);
    diag_list_free(&d);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(cfg_kind_name(CFG_NULL), "null");
    assert_string_equal(cfg_kind_name(CFG_SCALAR), "string");
    assert_string_equal(cfg_kind_name(CFG_SEQ), "list");
    assert_string_equal(cfg_kind_name(CFG_MAP), "map");
}

static void test_diag_format_omits_absent_parts(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    diag_add_at(&d, DIAG_ERROR, "f.yaml", 3, "sinks.out", "bad %d", 1);
    diag_add_at(&d, DIAG_WARNING, "f.yaml", 0, NULL, "no line");
    diag_add(&d, DIAG_ERROR, NULL, "sources.in", "no file");
    diag_add(&d, DIAG_ERROR, NULL, NULL, "bare");
    const char *expected[] = {"f.yaml:3: sinks.out: bad 1", "f.yaml: no line",
                              "sources.in: no file", "bare"};
    for (size_t i = 0; i < 4; i++) {
        buf out = BUF_INIT;
        assert_int_equal(diag_format(&d.items[i], &out), 0);
        assert_string_equal(out.data, expected[i]);
        buf_free(&out);
    }
    assert_int_equal(diag_errors(&d), 3);
    diag_list_free(&d);
    assert_int_equal(d.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_positions_and_styles),
        cmocka_unit_test(test_json_positions_and_styles),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_syntax_error_names_line_and_column),
        cmocka_unit_test(test_yaml_syntax_error),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_anchors_and_aliases),
        cmocka_unit_test(test_alias_bomb_is_refused),
        cmocka_unit_test(test_deep_nesting_is_refused),
        cmocka_unit_test(test_document_shapes),
        cmocka_unit_test(test_null_key_is_a_string),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_diag_format_omits_absent_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
