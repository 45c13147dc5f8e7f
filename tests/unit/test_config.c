/* test_config.c - whole configurations: globals and their defaults, the
 * framework options of transforms and sinks, merging several files and
 * directories, and the exact messages (file, line, component) for what
 * users get wrong most: unknown keys and types, duplicate ids, bad shapes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "pipeline/component.h"

static sl_config *load_text(const char *name, const char *text, diag_list *d)
{
    return config_load_text(name, text, strlen(text), &registry_catalog, d);
}

static void assert_message(const diag_list *d, size_t i, const char *expected)
{
    assert_true(i < d->n);
    buf out = BUF_INIT;
    assert_int_equal(diag_format(&d->items[i], &out), 0);
    assert_string_equal(out.data, expected);
    buf_free(&out);
}

/* Loading must fail with exactly this one message. */
static void assert_load_fails(const char *name, const char *text, const char *expected)
{
    diag_list d = DIAG_LIST_INIT;
    assert_null(load_text(name, text, &d));
    assert_int_equal(d.n, 1);
    assert_message(&d, 0, expected);
    diag_list_free(&d);
}

static const char *const basic_yaml =
    "sources:\n"
    "  in:\n"
    "    type: stdin\n"
    "transforms:\n"
    "  pass:\n"
    "    type: noop\n"
    "    inputs: [in]\n"
    "sinks:\n"
    "  out:\n"
    "    type: console\n"
    "    inputs: pass\n"
    "    encoding:\n"
    "      codec: json\n";

static void test_basic_config_and_defaults(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = load_text("basic.yaml", basic_yaml, &d);
    assert_non_null(cfg);
    assert_int_equal(d.n, 0);
    assert_string_equal(cfg->data_dir, "/var/lib/sluice");
    assert_false(cfg->data_dir_set);
    assert_null(cfg->data_dir_node);
    assert_true(cfg->api_enabled);
    assert_string_equal(cfg->api_address, "127.0.0.1:8686");
    assert_false(cfg->acks_enabled);
    assert_int_equal(cfg->threads, 0);
    assert_int_equal(cfg->shutdown_timeout_secs, 60);
    assert_int_equal(cfg->nfiles, 1);
    assert_string_equal(cfg->files[0], "basic.yaml");
    assert_false(config_is_default(cfg));
    assert_int_equal(cfg->ncomponents, 3);

    const component_config *in = config_find(cfg, "in");
    assert_non_null(in);
    assert_int_equal(in->kind, COMPONENT_SOURCE);
    assert_string_equal(in->desc->type, "stdin");
    assert_string_equal(in->label, "sources.in");
    assert_non_null(in->options);
    assert_int_equal(in->inputs.n, 0);
    assert_int_equal(in->node->line, 3);

    const component_config *pass = config_find(cfg, "pass");
    assert_string_equal(pass->label, "transforms.pass");
    assert_int_equal(pass->inputs.n, 1);
    assert_string_equal(pass->inputs.items[0], "in");

    const component_config *out = config_find(cfg, "out");
    assert_int_equal(out->kind, COMPONENT_SINK);
    assert_string_equal(out->label, "sinks.out");
    assert_string_equal(out->inputs.items[0], "pass");
    assert_int_equal(out->buffer_type, BUFFER_MEMORY);
    assert_int_equal(out->buffer_max_events, 500);
    assert_int_equal(out->buffer_when_full, WHEN_FULL_BLOCK);
    assert_true(out->healthcheck_enabled);
    assert_false(out->acks_enabled);
    assert_false(out->acks_set);
    assert_null(config_find(cfg, "missing"));
    config_free(cfg);
    diag_list_free(&d);
}

static void test_components_are_ordered_by_kind(void **state)
{
    (void)state;
    const char *text =
        "sinks:\n"
        "  z: {type: blackhole, inputs: [a]}\n"
        "sources:\n"
        "  b: {type: stdin}\n"
        "  a: {type: demo_logs, format: json}\n";
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = load_text("o.yaml", text, &d);
    assert_non_null(cfg);
    assert_int_equal(cfg->ncomponents, 3);
    assert_string_equal(cfg->components[0].id, "b");
    assert_string_equal(cfg->components[1].id, "a");
    assert_string_equal(cfg->components[2].id, "z");
    config_free(cfg);
    diag_list_free(&d);
}

static void test_globals_and_sink_options(void **state)
{
    (void)state;
    const char *text =
        "data_dir: /srv/sluice\n"
        "api:\n"
        "  enabled: false\n"
        "  address: 0.0.0.0:9000\n"
        "  playground: false\n"
        "acknowledgements:\n"
        "  enabled: true\n"
        "threads: 4\n"
        "shutdown_timeout_secs: 5\n"
        "tests: [{name: ignored}]\n"
        "sources:\n"
        "  in: {type: stdin}\n"
        "sinks:\n"
        "  inherit:\n"
        "    type: blackhole\n"
        "    inputs: [in]\n"
        "  own:\n"
        "    type: blackhole\n"
        "    inputs: [in]\n"
        "    acknowledgements: false\n"
        "    healthcheck: {enabled: false}\n"
        "    buffer:\n"
        "      max_events: 10\n"
        "      when_full: drop_newest\n"
        "  explicit:\n"
        "    type: blackhole\n"
        "    inputs: [in]\n"
        "    acknowledgements: {enabled: true}\n";
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = load_text("g.yaml", text, &d);
    assert_non_null(cfg);
    assert_int_equal(d.n, 0);
    assert_string_equal(cfg->data_dir, "/srv/sluice");
    assert_true(cfg->data_dir_set);
    assert_int_equal(cfg->data_dir_node->line, 1);
    assert_string_equal(cfg->data_dir_node->file, "g.yaml");
    assert_false(cfg->api_enabled);
    assert_string_equal(cfg->api_address, "0.0.0.0:9000");
    assert_true(cfg->acks_enabled);
    assert_int_equal(cfg->threads, 4);
    assert_int_equal(cfg->shutdown_timeout_secs, 5);

    const component_config *inherit = config_find(cfg, "inherit");
    assert_true(inherit->acks_enabled);
    assert_false(inherit->acks_set);
    const component_config *own = config_find(cfg, "own");
    assert_false(own->acks_enabled);
    assert_true(own->acks_set);
    assert_false(own->healthcheck_enabled);
    assert_int_equal(own->buffer_max_events, 10);
    assert_int_equal(own->buffer_when_full, WHEN_FULL_DROP_NEWEST);
    const component_config *expl = config_find(cfg, "explicit");
    assert_true(expl->acks_enabled);
    assert_true(expl->acks_set);
    config_free(cfg);
    diag_list_free(&d);
}

static void test_json_config(void **state)
{
    (void)state;
    const char *text =
        "{\n"
        "  \"threads\": 2,\n"
        "  \"sources\": {\"in\": {\"type\": \"stdin\"}},\n"
        "  \"sinks\": {\"out\": {\"type\": \"console\", \"inputs\": [\"in\"],\n"
        "                      \"encoding\": {\"codec\": \"text\"}}}\n"
        "}\n";
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = load_text("c.json", text, &d);
    assert_non_null(cfg);
    assert_int_equal(cfg->threads, 2);
    assert_int_equal(config_find(cfg, "out")->node->line, 4);
    config_free(cfg);
    diag_list_free(&d);
    assert_load_fails("c.json", "{\"threads\": \"2\"}",
                      "c.json:1: option \"threads\" must be an unsigned integer, got the quoted "
                      "string \"2\" (write it without quotes)");
}

static void test_unknown_top_level_key(void **state)
{
    (void)state;
    assert_load_fails("t.yaml", "sources: {}\nsinkz:\n  out: {}\n",
                      "t.yaml:2: unknown top-level key \"sinkz\" (did you mean \"sinks\"?)");
    assert_load_fails("t.yaml", "apii: {}\n",
                      "t.yaml:1: unknown top-level key \"apii\" (did you mean \"api\"?)");
    assert_load_fails("t.yaml", "enrichment_tables: {}\n",
                      "t.yaml:1: unknown top-level key \"enrichment_tables\"");
}

static void test_unknown_global_option(void **state)
{
    (void)state;
    assert_load_fails("t.yaml", "api:\n  adress: x\n",
                      "t.yaml:2: unknown option \"api.adress\" (did you mean \"api.address\"?)");
}

static void test_unknown_component_type(void **state)
{
    (void)state;
    assert_load_fails("t.yaml", "sources:\n  in:\n    type: stdn\n",
                      "t.yaml:3: sources.in: unknown source type \"stdn\" "
                      "(did you mean \"stdin\"?)");
    assert_load_fails("t.yaml", "sinks:\n  out:\n    type: consle\n    inputs: [x]\n",
                      "t.yaml:3: sinks.out: unknown sink type \"consle\" "
                      "(did you mean \"console\"?)");
    assert_load_fails("t.yaml", "sinks:\n  out:\n    type: kafka_xyz\n    inputs: [x]\n",
                      "t.yaml:3: sinks.out: unknown sink type \"kafka_xyz\"");
    /* A source type is not a sink type. */
    assert_load_fails("t.yaml", "sinks:\n  out:\n    type: stdin\n    inputs: [x]\n",
                      "t.yaml:3: sinks.out: unknown sink type \"stdin\"");
}

static void test_unknown_component_option(void **state)
{
    (void)state;
    assert_load_fails("t.yaml",
                      "sinks:\n  out:\n    type: console\n    inputs: [x]\n"
                      "    encoding: {codec: json}\n    targt: stderr\n",
                      "t.yaml:6: sinks.out: unknown option \"targt\" "
                      "(did you mean \"target\"?)");
    diag_list d = DIAG_LIST_INIT;
    assert_null(load_text("t.yaml",
                          "sinks:\n  out:\n    type: console\n    inputs: [x]\n"
                          "    encodng: {codec: json}\n",
                          &d));
    assert_int_equal(d.n, 2);
    assert_message(&d, 0,
                   "t.yaml:5: sinks.out: unknown option \"encodng\" (did you mean \"encoding\"?)");
    assert_message(&d, 1, "t.yaml:3: sinks.out: missing required option \"encoding\"");
    diag_list_free(&d);
    assert_load_fails("t.yaml",
                      "sinks:\n  out:\n    type: console\n    inputs: [x]\n"
                      "    encoding: {codec: xml}\n",
                      "t.yaml:5: sinks.out: option \"encoding.codec\" must be one of "
                      "json|text|logfmt, got \"xml\"");
    assert_load_fails("t.yaml", "sources:\n  in:\n    type: stdin\n    inputs: [x]\n",
                      "t.yaml:4: sources.in: unknown option \"inputs\"");
}

static void test_framework_option_errors(void **state)
{
    (void)state;
    assert_load_fails("t.yaml", "sinks:\n  out:\n    type: blackhole\n",
                      "t.yaml:3: sinks.out: missing required option \"inputs\"");
    assert_load_fails("t.yaml", "transforms:\n  t:\n    type: noop\n    inputs: []\n",
                      "t.yaml:4: transforms.t: option \"inputs\" must not be empty");
    assert_load_fails("t.yaml",
                      "sinks:\n  out:\n    type: blackhole\n    inputs: [x]\n"
                      "    buffer:\n      type: disk\n      max_size: 1000000\n",
                      "t.yaml:7: sinks.out: buffer.max_size must be at least 1048576 bytes, "
                      "got 1000000");
    assert_load_fails("t.yaml",
                      "sinks:\n  out:\n    type: blackhole\n    inputs: [x]\n"
                      "    buffer:\n      type: disk\n",
                      "t.yaml:6: sinks.out: a disk buffer needs buffer.max_size (bytes its "
                      "files may take)");
    assert_load_fails("t.yaml",
                      "sinks:\n  out:\n    type: blackhole\n    inputs: [x]\n"
                      "    buffer: {when_full: drop_oldest}\n",
                      "t.yaml:5: sinks.out: option \"buffer.when_full\" must be one of "
                      "block|drop_newest, got \"drop_oldest\" (did you mean \"drop_newest\"?)");
}

static void test_component_shape_errors(void **state)
{
    (void)state;
    assert_load_fails("t.yaml", "sources:\n  in:\n    decoding: {codec: json}\n",
                      "t.yaml:3: sources.in: missing required option \"type\"");
    assert_load_fails("t.yaml", "sources:\n  in: stdin\n",
                      "t.yaml:2: sources.in: expected a map of options, got a string");
    assert_load_fails("t.yaml", "sources:\n  in:\n",
                      "t.yaml:2: sources.in: expected a map of options, got null");
    assert_load_fails("t.yaml", "sources:\n  in:\n    type: [stdin]\n",
                      "t.yaml:3: sources.in: option \"type\" must be a string, got a list");
    assert_load_fails("t.yaml", "sources: [a]\n",
                      "t.yaml:1: \"sources\" must be a map from component ids to components, "
                      "got a list");
    assert_load_fails("t.yaml", "- a\n- b\n",
                      "t.yaml:1: the top level of a configuration must be a map, got a list");
    assert_load_fails("t.yaml", "sources:\n  a.b: {type: stdin}\n",
                      "t.yaml:2: invalid component id \"a.b\": ids must be non-empty and may "
                      "not contain \".\" or \"*\"");
}

static void test_duplicate_id_across_sections(void **state)
{
    (void)state;
    assert_load_fails("t.yaml",
                      "sources:\n  x: {type: stdin}\nsinks:\n  x: {type: blackhole, inputs: [x]}\n",
                      "t.yaml:4: component id \"x\" is already defined at t.yaml:2");
}

static void test_every_error_is_reported(void **state)
{
    (void)state;
    const char *text =
        "sourcs: {}\n"
        "sources:\n"
        "  in: {type: stdin, max_length: -1}\n"
        "sinks:\n"
        "  out: {type: blackhole}\n";
    diag_list d = DIAG_LIST_INIT;
    assert_null(load_text("t.yaml", text, &d));
    assert_int_equal(d.n, 3);
    assert_message(&d, 0, "t.yaml:1: unknown top-level key \"sourcs\" (did you mean \"sources\"?)");
    assert_message(&d, 1,
                   "t.yaml:3: sources.in: option \"max_length\" must be an unsigned integer, "
                   "got \"-1\"");
    assert_message(&d, 2, "t.yaml:5: sinks.out: missing required option \"inputs\"");
    diag_list_free(&d);
}

static void test_interpolation(void **state)
{
    (void)state;
    setenv("SL_CFG_TEST_PATH", "/tmp/out.log", 1);
    setenv("SL_CFG_TEST_THREADS", "3", 1);
    unsetenv("SL_CFG_TEST_UNSET");
    const char *text =
        "threads: ${SL_CFG_TEST_THREADS}\n"
        "data_dir: ${SL_CFG_TEST_UNSET:-/data}\n"
        "sources:\n"
        "  in: {type: stdin}\n"
        "sinks:\n"
        "  out:\n"
        "    type: file\n"
        "    inputs: [in]\n"
        "    path: \"${SL_CFG_TEST_PATH}\"\n"
        "    encoding: {codec: text}\n";
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = load_text("i.yaml", text, &d);
    assert_non_null(cfg);
    assert_int_equal(d.n, 0);
    assert_int_equal(cfg->threads, 3);
    assert_string_equal(cfg->data_dir, "/data");
    config_free(cfg);
    diag_list_free(&d);
    assert_load_fails("i.yaml", "data_dir: ${SL_CFG_TEST_UNSET:?where state is kept}\n",
                      "i.yaml:1: environment variable \"SL_CFG_TEST_UNSET\" is unset or empty: "
                      "where state is kept");
}

static void test_warnings_do_not_fail(void **state)
{
    (void)state;
    unsetenv("SL_CFG_TEST_UNSET");
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = load_text("w.yaml", "data_dir: /x${SL_CFG_TEST_UNSET}\n", &d);
    assert_non_null(cfg);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].level, DIAG_WARNING);
    assert_string_equal(cfg->data_dir, "/x");
    config_free(cfg);
    diag_list_free(&d);
}

static void test_syntax_errors_and_unsupported_formats(void **state)
{
    (void)state;
    assert_load_fails("s.yaml", "sources:\n  in: {type: stdin\n",
                      "s.yaml:3: invalid YAML at column 1: did not find expected ',' or '}' "
                      "(while parsing a flow mapping at line 2)");
    assert_load_fails("s.json", "{\"sources\": }",
                      "s.json:1: invalid JSON at column 13: unexpected token near '}'");
    assert_load_fails("s.toml", "[sources.in]\n",
                      "s.toml: TOML configuration is not supported; use YAML or JSON");
}

static void test_empty_config_loads(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = load_text("e.yaml", "", &d);
    assert_non_null(cfg);
    assert_int_equal(cfg->ncomponents, 0);
    assert_string_equal(cfg->data_dir, "/var/lib/sluice");
    config_free(cfg);
    diag_list_free(&d);
}

static void test_embedded_default(void **state)
{
    (void)state;
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = load_text("<embedded default>", config_default_yaml, &d);
    assert_non_null(cfg);
    assert_int_equal(d.n, 0);
    assert_true(cfg->api_enabled);
    assert_string_equal(cfg->api_address, "127.0.0.1:8686");
    assert_string_equal(config_find(cfg, "demo")->desc->type, "demo_logs");
    assert_string_equal(config_find(cfg, "console")->desc->type, "console");
    config_free(cfg);

    /* With nothing given, config_load falls back to it (unless the machine
     * has a system-wide config). */
    if (access(SL_DEFAULT_CONFIG_PATH, F_OK) != 0) {
        config_sources none = {NULL, 0, NULL, 0};
        cfg = config_load(&none, &registry_catalog, &d);
        assert_non_null(cfg);
        assert_true(config_is_default(cfg));
        assert_string_equal(cfg->files[0], "<embedded default>");
        config_free(cfg);
        cfg = config_load(NULL, &registry_catalog, &d);
        assert_non_null(cfg);
        assert_true(config_is_default(cfg));
        config_free(cfg);
    }
    diag_list_free(&d);
}

/* ---- files and directories ---- */

typedef struct tmp_tree {
    char root[64];
    char paths[8][128];
    size_t n;
} tmp_tree;

static int tree_setup(void **state)
{
    tmp_tree *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    strcpy(t->root, "/tmp/sluice-config-test-XXXXXX");
    assert_non_null(mkdtemp(t->root));
    *state = t;
    return 0;
}

static int tree_teardown(void **state)
{
    tmp_tree *t = *state;
    while (t->n)
        remove(t->paths[--t->n]);
    rmdir(t->root);
    free(t);
    return 0;
}

/* Creates root/name (a directory when content is NULL) and returns its path. */
static const char *tree_add(tmp_tree *t, const char *name, const char *content)
{
    assert_true(t->n < SL_ARRAY_LEN(t->paths));
    char *path = t->paths[t->n++];
    char joined[sizeof(t->paths[0])];
    snprintf(joined, sizeof(joined), "%s/%s", t->root, name);
    memcpy(path, joined, sizeof(joined));
    if (!content) {
        assert_int_equal(mkdir(path, 0700), 0);
        return path;
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static void test_files_are_merged(void **state)
{
    tmp_tree *t = *state;
    const char *a = tree_add(t, "a.yaml", "data_dir: /d\nsources:\n  in: {type: stdin}\n");
    const char *b = tree_add(t, "b.json",
                             "{\"data_dir\": \"/d\", \"sinks\": {\"out\": {\"type\": "
                             "\"blackhole\", \"inputs\": [\"in\"]}}}");
    const char *files[] = {a, b};
    config_sources src = {files, 2, NULL, 0};
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = config_load(&src, &registry_catalog, &d);
    assert_non_null(cfg);
    assert_int_equal(d.n, 0);
    assert_int_equal(cfg->nfiles, 2);
    assert_string_equal(cfg->files[0], a);
    assert_string_equal(cfg->files[1], b);
    assert_int_equal(cfg->ncomponents, 2);
    assert_string_equal(config_find(cfg, "out")->node->file, b);
    assert_string_equal(cfg->data_dir, "/d");
    config_free(cfg);
    diag_list_free(&d);
}

static void test_duplicate_id_across_files(void **state)
{
    tmp_tree *t = *state;
    const char *a = tree_add(t, "a.yaml", "sources:\n  in: {type: stdin}\n");
    const char *b = tree_add(t, "b.yaml", "sources:\n  other: {type: stdin}\n  in: {type: stdin}\n");
    const char *files[] = {a, b};
    config_sources src = {files, 2, NULL, 0};
    diag_list d = DIAG_LIST_INIT;
    assert_null(config_load(&src, &registry_catalog, &d));
    assert_int_equal(d.n, 1);
    char expected[512];
    snprintf(expected, sizeof(expected),
             "%s:3: component id \"in\" is already defined at %s:2", b, a);
    assert_message(&d, 0, expected);
    diag_list_free(&d);
}

static void test_conflicting_globals_across_files(void **state)
{
    tmp_tree *t = *state;
    const char *a = tree_add(t, "a.yaml", "api: {address: \"1.2.3.4:1\"}\n");
    const char *b = tree_add(t, "b.yaml", "\napi: {address: \"1.2.3.4:2\"}\n");
    const char *files[] = {a, b};
    config_sources src = {files, 2, NULL, 0};
    diag_list d = DIAG_LIST_INIT;
    assert_null(config_load(&src, &registry_catalog, &d));
    assert_int_equal(d.n, 1);
    char expected[512];
    snprintf(expected, sizeof(expected), "%s:2: conflicting values for \"api\" (also set at %s:1)",
             b, a);
    assert_message(&d, 0, expected);
    diag_list_free(&d);
}

static void test_config_dir(void **state)
{
    tmp_tree *t = *state;
    const char *dir = tree_add(t, "conf.d", NULL);
    tree_add(t, "conf.d/20-sinks.yml", "sinks:\n  out: {type: blackhole, inputs: [in]}\n");
    tree_add(t, "conf.d/10-sources.json", "{\"sources\": {\"in\": {\"type\": \"stdin\"}}}");
    tree_add(t, "conf.d/README.md", "not a config\n");
    tree_add(t, "conf.d/.hidden.yaml", "bad: [\n");
    tree_add(t, "conf.d/30-sub.yaml", NULL);
    const char *dirs[] = {dir};
    config_sources src = {NULL, 0, dirs, 1};
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = config_load(&src, &registry_catalog, &d);
    assert_non_null(cfg);
    assert_int_equal(d.n, 0);
    assert_int_equal(cfg->nfiles, 2);
    assert_non_null(strstr(cfg->files[0], "conf.d/10-sources.json"));
    assert_non_null(strstr(cfg->files[1], "conf.d/20-sinks.yml"));
    assert_int_equal(cfg->ncomponents, 2);
    config_free(cfg);
    diag_list_free(&d);
}

static void test_empty_and_missing_paths(void **state)
{
    tmp_tree *t = *state;
    const char *dir = tree_add(t, "empty.d", NULL);
    const char *dirs[] = {dir};
    config_sources src = {NULL, 0, dirs, 1};
    diag_list d = DIAG_LIST_INIT;
    char expected[512];
    assert_null(config_load(&src, &registry_catalog, &d));
    assert_int_equal(d.n, 1);
    snprintf(expected, sizeof(expected),
             "%s: no configuration files (*.yaml, *.yml, *.json) in this directory", dir);
    assert_message(&d, 0, expected);
    diag_list_free(&d);

    const char *missing = "/nonexistent/sluice.yaml";
    config_sources src2 = {&missing, 1, NULL, 0};
    assert_null(config_load(&src2, &registry_catalog, &d));
    assert_int_equal(d.n, 1);
    assert_message(&d, 0, "/nonexistent/sluice.yaml: cannot read file: No such file or directory");
    diag_list_free(&d);

    const char *missing_dir = "/nonexistent/conf.d";
    config_sources src3 = {NULL, 0, &missing_dir, 1};
    assert_null(config_load(&src3, &registry_catalog, &d));
    assert_message(&d, 0, "/nonexistent/conf.d: cannot read directory: No such file or directory");
    diag_list_free(&d);
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(component_kind_name(COMPONENT_SOURCE), "source");
    assert_string_equal(component_kind_name(COMPONENT_TRANSFORM), "transform");
    assert_string_equal(component_kind_name(COMPONENT_SINK), "sink");
}

#define TREE_TEST(fn) cmocka_unit_test_setup_teardown(fn, tree_setup, tree_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_config_and_defaults),
        cmocka_unit_test(test_components_are_ordered_by_kind),
        cmocka_unit_test(test_globals_and_sink_options),
        cmocka_unit_test(test_json_config),
        cmocka_unit_test(test_unknown_top_level_key),
        cmocka_unit_test(test_unknown_global_option),
        cmocka_unit_test(test_unknown_component_type),
        cmocka_unit_test(test_unknown_component_option),
        cmocka_unit_test(test_framework_option_errors),
        cmocka_unit_test(test_component_shape_errors),
        cmocka_unit_test(test_duplicate_id_across_sections),
        cmocka_unit_test(test_every_error_is_reported),
        cmocka_unit_test(test_interpolation),
        cmocka_unit_test(test_warnings_do_not_fail),
        cmocka_unit_test(test_syntax_errors_and_unsupported_formats),
        cmocka_unit_test(test_empty_config_loads),
        cmocka_unit_test(test_embedded_default),
        TREE_TEST(test_files_are_merged),
        TREE_TEST(test_duplicate_id_across_files),
        TREE_TEST(test_conflicting_globals_across_files),
        TREE_TEST(test_config_dir),
        TREE_TEST(test_empty_and_missing_paths),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
