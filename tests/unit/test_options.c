/* test_options.c - option tables: every type, defaults, the exact messages
 * for unknown keys, wrong types, missing and enum values, nested objects,
 * several tables at once, `sluice doc` output and did-you-mean; ranges,
 * enum values, older names, no-effect and deprecated options. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/options.h"

typedef struct test_opts {
    bool flag;
    int64_t delta;
    uint64_t count;
    double ratio;
    char *name;
    char *path;
    int level;
    opt_list tags;
    const cfg_node *program;
    int codec;
    char *prefix;
} test_opts;

enum { LEVEL_LOW = 0, LEVEL_MID, LEVEL_HIGH };
enum { CODEC_JSON = 0, CODEC_TEXT, CODEC_LOGFMT };

static const opt_enum_value level_values[] = {
    {"low", LEVEL_LOW}, {"mid", LEVEL_MID}, {"high", LEVEL_HIGH}, {NULL, 0},
};
static const opt_enum_value codec_values[] = {
    {"json", CODEC_JSON}, {"text", CODEC_TEXT}, {"logfmt", CODEC_LOGFMT}, {NULL, 0},
};

static const opt_spec encoding_fields[] = {
    OPT_ENUM_ROW("codec", test_opts, codec, codec_values, .def = "json",
        .help = "how events are written"),
    OPT_STRING_ROW("prefix", test_opts, prefix),
    OPT_END,
};

static const opt_spec table[] = {
    OPT_BOOL_ROW("flag", test_opts, flag, .def = "true", .help = "a switch"),
    OPT_INT_ROW("delta", test_opts, delta, .def = "-3"),
    OPT_UINT_ROW("count", test_opts, count, .def = "10", .help = "how many"),
    OPT_FLOAT_ROW("ratio", test_opts, ratio, .def = "0.5"),
    OPT_STRING_ROW("name", test_opts, name, .def = "anon"),
    OPT_STRING_ROW("path", test_opts, path, .required = true, .help = "where to write"),
    OPT_ENUM_ROW("level", test_opts, level, level_values, .def = "mid"),
    OPT_LIST_ROW("tags", test_opts, tags),
    OPT_NODE_ROW("program", test_opts, program),
    OPT_OBJECT_ROW("encoding", encoding_fields, .help = "output encoding"),
    OPT_END,
};

typedef struct fixture {
    diag_list diags;
    cfg_doc *doc;
    test_opts opts;
} fixture;

static int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *f = *state;
    opt_free(table, &f->opts);
    cfg_doc_free(f->doc);
    diag_list_free(&f->diags);
    free(f);
    return 0;
}

/* Parses YAML text and applies `table` to it; returns the error count. */
static size_t apply(fixture *f, const char *yaml)
{
    f->doc = cfg_doc_parse("t.yaml", yaml, strlen(yaml), false, &f->diags);
    assert_non_null(f->doc);
    opt_target target = {table, &f->opts};
    const char *const ignore[] = {"type", NULL};
    return opt_apply(cfg_doc_root(f->doc), &target, 1, ignore, "sinks.out", &f->diags);
}

static void assert_message(const fixture *f, size_t i, const char *expected)
{
    assert_true(i < f->diags.n);
    buf out = BUF_INIT;
    assert_int_equal(diag_format(&f->diags.items[i], &out), 0);
    assert_string_equal(out.data, expected);
    buf_free(&out);
}

static void assert_single_error(void **state, const char *yaml, const char *expected)
{
    fixture *f = *state;
    assert_int_equal(apply(f, yaml), 1);
    assert_int_equal(f->diags.n, 1);
    assert_message(f, 0, expected);
}

static void test_every_type(void **state)
{
    fixture *f = *state;
    const char *yaml =
        "type: x\n"
        "flag: off\n"
        "delta: -42\n"
        "count: 18446744073709551615\n"
        "ratio: 2\n"
        "name: 123\n"
        "path: \"/tmp/out\"\n"
        "level: high\n"
        "tags: [a, \"b\", 3]\n"
        "program: {x: [1]}\n"
        "encoding:\n"
        "  codec: logfmt\n"
        "  prefix: '>'\n";
    assert_int_equal(apply(f, yaml), 0);
    assert_int_equal(f->diags.n, 0);
    assert_false(f->opts.flag);
    assert_int_equal(f->opts.delta, -42);
    assert_true(f->opts.count == UINT64_MAX);
    assert_true(f->opts.ratio == 2.0);
    assert_string_equal(f->opts.name, "123");
    assert_string_equal(f->opts.path, "/tmp/out");
    assert_int_equal(f->opts.level, 2);
    assert_int_equal(f->opts.tags.n, 3);
    assert_string_equal(f->opts.tags.items[0], "a");
    assert_string_equal(f->opts.tags.items[1], "b");
    assert_string_equal(f->opts.tags.items[2], "3");
    assert_int_equal(f->opts.program->kind, CFG_MAP);
    assert_int_equal(f->opts.program->line, 10);
    assert_int_equal(f->opts.codec, 2);
    assert_string_equal(f->opts.prefix, ">");
}

static void test_defaults(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "path: /p\nencoding: {}\n"), 0);
    assert_true(f->opts.flag);
    assert_int_equal(f->opts.delta, -3);
    assert_int_equal(f->opts.count, 10);
    assert_true(f->opts.ratio == 0.5);
    assert_string_equal(f->opts.name, "anon");
    assert_int_equal(f->opts.level, 1);
    assert_int_equal(f->opts.tags.n, 0);
    assert_null(f->opts.tags.items);
    assert_null(f->opts.program);
    assert_int_equal(f->opts.codec, 0);
    assert_null(f->opts.prefix);
}

static void test_null_counts_as_absent(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "path: /p\ncount:\nname: ~\nencoding:\n"), 0);
    assert_int_equal(f->opts.count, 10);
    assert_string_equal(f->opts.name, "anon");
    assert_int_equal(f->opts.codec, 0);
}

static void test_no_map_means_all_defaults(void **state)
{
    fixture *f = *state;
    static const opt_spec optional[] = {
        OPT_UINT_ROW("count", test_opts, count, .def = "7"),
        OPT_OBJECT_ROW("encoding", encoding_fields),
        OPT_END,
    };
    opt_target target = {optional, &f->opts};
    assert_int_equal(opt_apply(NULL, &target, 1, NULL, NULL, &f->diags), 0);
    assert_int_equal(f->opts.count, 7);
    assert_int_equal(f->opts.codec, 0);
}

static void test_unknown_key_suggests(void **state)
{
    assert_single_error(state, "path: /p\nencodng: {}\n",
                        "t.yaml:2: sinks.out: unknown option \"encodng\" "
                        "(did you mean \"encoding\"?)");
}

static void test_unknown_key_without_suggestion(void **state)
{
    assert_single_error(state, "path: /p\nzzzzzz: 1\n",
                        "t.yaml:2: sinks.out: unknown option \"zzzzzz\"");
}

static void test_ignored_keys_are_suggested_too(void **state)
{
    assert_single_error(state, "path: /p\ntyep: x\n",
                        "t.yaml:2: sinks.out: unknown option \"tyep\" (did you mean \"type\"?)");
}

static void test_nested_unknown_key(void **state)
{
    assert_single_error(state, "path: /p\nencoding:\n  codecc: json\n",
                        "t.yaml:3: sinks.out: unknown option \"encoding.codecc\" "
                        "(did you mean \"encoding.codec\"?)");
}

static void test_wrong_types(void **state)
{
    fixture *f = *state;
    const char *yaml =
        "path: [a]\n"
        "count: abc\n"
        "delta: 1.5\n"
        "ratio: \"0.5\"\n"
        "flag: \"true\"\n"
        "name: {a: 1}\n"
        "tags: [a, [b]]\n"
        "encoding: json\n";
    assert_int_equal(apply(f, yaml), 8);
    assert_message(f, 0, "t.yaml:1: sinks.out: option \"path\" must be a string, got a list");
    assert_message(f, 1,
                   "t.yaml:2: sinks.out: option \"count\" must be an unsigned integer, got \"abc\"");
    assert_message(f, 2, "t.yaml:3: sinks.out: option \"delta\" must be an integer, got \"1.5\"");
    assert_message(f, 3,
                   "t.yaml:4: sinks.out: option \"ratio\" must be a number, got the quoted "
                   "string \"0.5\" (write it without quotes)");
    assert_message(f, 4,
                   "t.yaml:5: sinks.out: option \"flag\" must be true or false, got the quoted "
                   "string \"true\" (write it without quotes)");
    assert_message(f, 5, "t.yaml:6: sinks.out: option \"name\" must be a string, got a map");
    assert_message(f, 6,
                   "t.yaml:7: sinks.out: option \"tags\" must be a list of strings, got a list "
                   "in it");
    assert_message(f, 7, "t.yaml:8: sinks.out: option \"encoding\" must be a map, got \"json\"");
}

static void test_quoted_number_is_refused(void **state)
{
    assert_single_error(state, "path: /p\ncount: \"5\"\n",
                        "t.yaml:2: sinks.out: option \"count\" must be an unsigned integer, got "
                        "the quoted string \"5\" (write it without quotes)");
}

static void test_numbers_out_of_range(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "path: /p\ncount: -1\ndelta: 9223372036854775808\n"
                              "ratio: 1e999\n"),
                     3);
    assert_message(f, 0,
                   "t.yaml:2: sinks.out: option \"count\" must be an unsigned integer, got \"-1\"");
    assert_message(f, 1,
                   "t.yaml:3: sinks.out: option \"delta\" is out of range, got "
                   "\"9223372036854775808\"");
    assert_message(f, 2, "t.yaml:4: sinks.out: option \"ratio\" is out of range, got \"1e999\"");
}

static void test_floats(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "path: /p\nratio: -2.5e-1\n"), 0);
    assert_true(f->opts.ratio == -0.25);
    cfg_doc_free(f->doc);
    f->doc = NULL;
    assert_int_equal(apply(f, "path: /p\nratio: nan\n"), 1);
    assert_message(f, 0, "t.yaml:2: sinks.out: option \"ratio\" must be a number, got \"nan\"");
}

static void test_bools(void **state)
{
    const char *yes[] = {"true", "True", "YES", "on"};
    const char *no[] = {"false", "No", "OFF"};
    bool v;
    (void)state;
    for (size_t i = 0; i < SL_ARRAY_LEN(yes); i++) {
        assert_int_equal(opt_parse_bool(yes[i], &v), 0);
        assert_true(v);
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(no); i++) {
        assert_int_equal(opt_parse_bool(no[i], &v), 0);
        assert_false(v);
    }
    assert_int_equal(opt_parse_bool("1", &v), -1);
    assert_int_equal(opt_parse_bool("y", &v), -1);
    assert_int_equal(opt_parse_bool("", &v), -1);
}

static void test_bool_message(void **state)
{
    assert_single_error(state, "path: /p\nflag: maybe\n",
                        "t.yaml:2: sinks.out: option \"flag\" must be true or false, got \"maybe\"");
}

static void test_missing_required(void **state)
{
    assert_single_error(state, "type: x\ncount: 1\n",
                        "t.yaml:1: sinks.out: missing required option \"path\"");
}

static void test_required_null(void **state)
{
    assert_single_error(state, "path:\n",
                        "t.yaml:1: sinks.out: option \"path\" must be a string, got null");
}

static void test_enum_errors(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "path: /p\nlevel: max\nencoding: {codec: jsno}\n"), 2);
    assert_message(f, 0,
                   "t.yaml:2: sinks.out: option \"level\" must be one of low|mid|high, got \"max\"");
    assert_message(f, 1,
                   "t.yaml:3: sinks.out: option \"encoding.codec\" must be one of "
                   "json|text|logfmt, got \"jsno\" (did you mean \"json\"?)");
}

static void test_single_scalar_list(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "path: /p\ntags: only\n"), 0);
    assert_int_equal(f->opts.tags.n, 1);
    assert_string_equal(f->opts.tags.items[0], "only");
}

static void test_long_values_are_cut_in_messages(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "path: /p\ncount: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                              "aaaaaaaaaaaaaaa\\n\"\n"),
                     1);
    assert_message(f, 0,
                   "t.yaml:2: sinks.out: option \"count\" must be an unsigned integer, got the "
                   "quoted string \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aa...\" (write it without quotes)");
}

static void test_not_a_map(void **state)
{
    fixture *f = *state;
    f->doc = cfg_doc_parse("t.yaml", "[1]", 3, false, &f->diags);
    opt_target target = {table, &f->opts};
    assert_int_equal(opt_apply(cfg_doc_root(f->doc), &target, 1, NULL, NULL, &f->diags), 1);
    assert_message(f, 0, "t.yaml:1: expected a map of options, got a list");
    assert_int_equal(f->opts.count, 10);
}

typedef struct frame_opts {
    opt_list inputs;
    uint64_t count;
} frame_opts;

static void test_several_tables(void **state)
{
    fixture *f = *state;
    static const opt_spec frame[] = {
        OPT_LIST_ROW("inputs", frame_opts, inputs, .required = true),
        OPT_UINT_ROW("count", frame_opts, count, .def = "99"),
        OPT_END,
    };
    frame_opts fo = {{NULL, 0}, 0};
    const char *yaml = "path: /p\ncount: 4\ninputs: [a, b]\ninputz: 1\n";
    f->doc = cfg_doc_parse("t.yaml", yaml, strlen(yaml), false, &f->diags);
    opt_target targets[] = {{table, &f->opts}, {frame, &fo}};
    assert_int_equal(opt_apply(cfg_doc_root(f->doc), targets, 2, NULL, "x", &f->diags), 1);
    assert_message(f, 0, "t.yaml:4: x: unknown option \"inputz\" (did you mean \"inputs\"?)");
    /* The first table that declares a name takes it. */
    assert_int_equal(f->opts.count, 4);
    assert_int_equal(fo.count, 0);
    assert_int_equal(fo.inputs.n, 2);
    opt_free(frame, &fo);
    assert_null(fo.inputs.items);
}

static void test_opt_set(void **state)
{
    fixture *f = *state;
    assert_int_equal(apply(f, "path: /p\ncount:\nencoding: {codec: text}\n"), 0);
    const cfg_node *root = cfg_doc_root(f->doc);
    assert_true(opt_set(root, "path"));
    assert_false(opt_set(root, "count"));
    assert_false(opt_set(root, "name"));
    assert_true(opt_set(root, "encoding.codec"));
    assert_false(opt_set(root, "encoding.prefix"));
    assert_false(opt_set(root, "path.deeper"));
    assert_false(opt_set(NULL, "path"));
}

static void test_doc(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    assert_int_equal(opt_doc(table, &out), 0);
    const char *expected =
        "  flag             bool                     default: true  \xe2\x80\x94 a switch\n"
        "  delta            int                      default: -3\n"
        "  count            uint                     default: 10  \xe2\x80\x94 how many\n"
        "  ratio            float                    default: 0.5\n"
        "  name             string                   default: anon\n"
        "  path             string                   required  \xe2\x80\x94 where to write\n"
        "  level            enum (low|mid|high)      default: mid\n"
        "  tags             list of strings\n"
        "  program          any\n"
        "  encoding         object                   \xe2\x80\x94 output encoding\n"
        "  encoding.codec   enum (json|text|logfmt)  default: json  "
        "\xe2\x80\x94 how events are written\n"
        "  encoding.prefix  string\n";
    assert_string_equal(out.data, expected);
    buf_free(&out);
}

static void test_doc_quotes_defaults_with_whitespace(void **state)
{
    (void)state;
    typedef struct { char *delim; char *sep; } opts;
    static const opt_spec quoted[] = {
        OPT_STRING_ROW("line_delimiter", opts, delim, .def = "\n"),
        OPT_STRING_ROW("separator", opts, sep, .def = "a \"b\"\t"),
        OPT_END,
    };
    buf out = BUF_INIT;
    assert_int_equal(opt_doc(quoted, &out), 0);
    assert_string_equal(out.data,
                        "  line_delimiter  string  default: \"\\n\"\n"
                        "  separator       string  default: \"a \\\"b\\\"\\t\"\n");
    buf_free(&out);
}

static void test_did_you_mean(void **state)
{
    (void)state;
    const char *names[] = {"encoding", "compression", "path", "inputs", "type"};
    size_t n = SL_ARRAY_LEN(names);
    assert_string_equal(opt_did_you_mean("encodng", names, n), "encoding");
    assert_string_equal(opt_did_you_mean("encdoing", names, n), "encoding");
    assert_string_equal(opt_did_you_mean("compresion", names, n), "compression");
    assert_string_equal(opt_did_you_mean("pth", names, n), "path");
    assert_string_equal(opt_did_you_mean("Type", names, n), "type");
    assert_string_equal(opt_did_you_mean("compressoin_lvl", names, n), "compression");
    assert_null(opt_did_you_mean("bufer", names, n));
    assert_null(opt_did_you_mean("x", names, n));
    assert_null(opt_did_you_mean("encoding", names, 0));
}

/* ---- ranges, enum values, aliases, no-effect and deprecated rows ---- */

enum { MODE_FAST = 7, MODE_SAFE = -2 };

typedef struct v2_opts {
    uint64_t lines;
    int64_t offset;
    double ratio;
    double wait;
    uint64_t cooldown_ms;
    uint64_t older_secs;
    int mode;
    char *delimiter;
    opt_list include;
    bool start;
} v2_opts;

static const opt_enum_value mode_values[] = {
    {"fast", MODE_FAST}, {"safe", MODE_SAFE}, {NULL, 0},
};

static const opt_spec v2_table[] = {
    OPT_UINT_ROW("lines", v2_opts, lines, .def = "1", OPT_RANGE(1, 1000), .help = "lines"),
    OPT_INT_ROW("offset", v2_opts, offset, OPT_MIN(-5), OPT_BELOW(5)),
    OPT_FLOAT_ROW("ratio", v2_opts, ratio, OPT_ABOVE(0), OPT_MAX(1)),
    OPT_FLOAT_ROW("wait", v2_opts, wait, OPT_ABOVE(0), .unit = "seconds"),
    OPT_UINT_ROW("cooldown_ms", v2_opts, cooldown_ms, .def = "1000"),
    OPT_ALIAS_ROW("cooldown", "cooldown_ms"),
    OPT_UINT_ROW("older_secs", v2_opts, older_secs, .required = true),
    OPT_ALIAS_ROW("older", "older_secs"),
    OPT_ENUM_ROW("mode", v2_opts, mode, mode_values, .def = "safe"),
    OPT_STRING_ROW("delimiter", v2_opts, delimiter, .def = ",", .nonempty = true),
    OPT_LIST_ROW("include", v2_opts, include, .nonempty = true),
    OPT_BOOL_ROW("start", v2_opts, start, .deprecated = "use mode instead"),
    OPT_NO_EFFECT_ROW("timezone", "has no effect: timestamps carry their zone"),
    OPT_END,
};

typedef struct v2_fixture {
    diag_list diags;
    cfg_doc *doc;
    v2_opts opts;
} v2_fixture;

static int v2_setup(void **state)
{
    v2_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    *state = f;
    return 0;
}

static int v2_teardown(void **state)
{
    v2_fixture *f = *state;
    opt_free(v2_table, &f->opts);
    cfg_doc_free(f->doc);
    diag_list_free(&f->diags);
    free(f);
    return 0;
}

static size_t v2_apply(v2_fixture *f, const char *yaml)
{
    f->doc = cfg_doc_parse("t.yaml", yaml, strlen(yaml), false, &f->diags);
    assert_non_null(f->doc);
    opt_target target = {v2_table, &f->opts};
    return opt_apply(cfg_doc_root(f->doc), &target, 1, NULL, "sources.in", &f->diags);
}

static void v2_assert_message(const v2_fixture *f, size_t i, diag_level level,
                              const char *expected)
{
    assert_true(i < f->diags.n);
    assert_int_equal(f->diags.items[i].level, level);
    buf out = BUF_INIT;
    assert_int_equal(diag_format(&f->diags.items[i], &out), 0);
    assert_string_equal(out.data, expected);
    buf_free(&out);
}

static void test_values_within_ranges(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 0\nlines: 1000\noffset: -5\nratio: 1\n"
                                 "wait: 0.001\n"),
                     0);
    assert_int_equal(f->diags.n, 0);
    assert_int_equal(f->opts.lines, 1000);
    assert_int_equal(f->opts.offset, -5);
    assert_true(f->opts.ratio == 1.0);
}

static void test_range_errors_name_the_range_at_the_value(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 1\nlines: 0\noffset: 5\nratio: 0\nwait: 0\n"), 4);
    v2_assert_message(f, 0, DIAG_ERROR,
                      "t.yaml:2: sources.in: option \"lines\" must be from 1 to 1000, got \"0\"");
    v2_assert_message(f, 1, DIAG_ERROR,
                      "t.yaml:3: sources.in: option \"offset\" must be at least -5 and below 5, "
                      "got \"5\"");
    v2_assert_message(f, 2, DIAG_ERROR,
                      "t.yaml:4: sources.in: option \"ratio\" must be above 0 and at most 1, "
                      "got \"0\"");
    v2_assert_message(f, 3, DIAG_ERROR,
                      "t.yaml:5: sources.in: option \"wait\" must be a number of seconds above 0, "
                      "got \"0\"");
}

static void test_range_upper_bound(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 1\nlines: 1001\n"), 1);
    v2_assert_message(f, 0, DIAG_ERROR,
                      "t.yaml:2: sources.in: option \"lines\" must be from 1 to 1000, "
                      "got \"1001\"");
}

static void test_enum_values_are_the_components_own(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 1\nmode: fast\n"), 0);
    assert_int_equal(f->opts.mode, MODE_FAST);
}

static void test_enum_default_is_its_value(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 1\n"), 0);
    assert_int_equal(f->opts.mode, MODE_SAFE);
    assert_int_equal(f->opts.lines, 1);
    assert_string_equal(f->opts.delimiter, ",");
}

static void test_enum_error_lists_the_names(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 1\nmode: saf\n"), 1);
    v2_assert_message(f, 0, DIAG_ERROR,
                      "t.yaml:2: sources.in: option \"mode\" must be one of fast|safe, got "
                      "\"saf\" (did you mean \"safe\"?)");
}

static void test_empty_string_and_list_refused(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 1\ndelimiter: \"\"\ninclude: []\n"), 2);
    v2_assert_message(f, 0, DIAG_ERROR,
                      "t.yaml:2: sources.in: option \"delimiter\" must not be empty");
    v2_assert_message(f, 1, DIAG_ERROR,
                      "t.yaml:3: sources.in: option \"include\" must not be empty");
}

static void test_alias_sets_the_option_with_a_warning(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older: 600\ncooldown: 250\n"), 0);
    assert_int_equal(f->opts.older_secs, 600);
    assert_int_equal(f->opts.cooldown_ms, 250);
    assert_int_equal(f->diags.n, 2);
    v2_assert_message(f, 0, DIAG_WARNING,
                      "t.yaml:1: sources.in: option \"older\" is an older name of "
                      "\"older_secs\"");
    v2_assert_message(f, 1, DIAG_WARNING,
                      "t.yaml:2: sources.in: option \"cooldown\" is an older name of "
                      "\"cooldown_ms\"");
}

static void test_alias_value_errors_name_the_alias(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older: soon\n"), 1);
    v2_assert_message(f, 1, DIAG_ERROR,
                      "t.yaml:1: sources.in: option \"older\" must be an unsigned integer, got "
                      "\"soon\"");
}

static void test_alias_and_new_name_together_refused(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 5\nolder: 600\n"), 1);
    assert_int_equal(f->diags.n, 1);
    v2_assert_message(f, 0, DIAG_ERROR,
                      "t.yaml:2: sources.in: option \"older\" is an older name of "
                      "\"older_secs\", which is also given: keep only \"older_secs\"");
    assert_int_equal(f->opts.older_secs, 5);
}

static void test_null_alias_leaves_the_default(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 1\ncooldown:\n"), 0);
    assert_int_equal(f->diags.n, 0);
    assert_int_equal(f->opts.cooldown_ms, 1000);
}

static void test_no_effect_and_deprecated_warn(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 1\ntimezone: {any: [thing]}\nstart: true\n"), 0);
    assert_int_equal(f->diags.n, 2);
    v2_assert_message(f, 0, DIAG_WARNING,
                      "t.yaml:2: sources.in: option \"timezone\" is accepted but has no effect: "
                      "timestamps carry their zone");
    v2_assert_message(f, 1, DIAG_WARNING,
                      "t.yaml:3: sources.in: option \"start\" is deprecated: use mode instead");
    assert_true(f->opts.start);
}

static void test_null_no_effect_is_silent(void **state)
{
    v2_fixture *f = *state;
    assert_int_equal(v2_apply(f, "older_secs: 1\ntimezone:\n"), 0);
    assert_int_equal(f->diags.n, 0);
}

static void test_doc_v2(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    assert_int_equal(opt_doc(v2_table, &out), 0);
    const char *expected =
        "  lines        uint              default: 1  range: from 1 to 1000  \xe2\x80\x94 lines\n"
        "  offset       int               range: at least -5 and below 5\n"
        "  ratio        float             range: above 0 and at most 1\n"
        "  wait         float (seconds)   range: above 0\n"
        "  cooldown_ms  uint              default: 1000\n"
        "  cooldown     alias             \xe2\x80\x94 older name of cooldown_ms\n"
        "  older_secs   uint              required\n"
        "  older        alias             \xe2\x80\x94 older name of older_secs\n"
        "  mode         enum (fast|safe)  default: safe\n"
        "  delimiter    string            default: ,  not empty\n"
        "  include      list of strings   not empty\n"
        "  start        bool              deprecated: use mode instead\n"
        "  timezone     no effect         \xe2\x80\x94 accepted but has no effect: timestamps "
        "carry their zone\n";
    assert_string_equal(out.data, expected);
    buf_free(&out);
}

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
#define V2_TEST(fn) cmocka_unit_test_setup_teardown(fn, v2_setup, v2_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(test_every_type),
        FIXTURE_TEST(test_defaults),
        FIXTURE_TEST(test_null_counts_as_absent),
        FIXTURE_TEST(test_no_map_means_all_defaults),
        FIXTURE_TEST(test_unknown_key_suggests),
        FIXTURE_TEST(test_unknown_key_without_suggestion),
        FIXTURE_TEST(test_ignored_keys_are_suggested_too),
        FIXTURE_TEST(test_nested_unknown_key),
        FIXTURE_TEST(test_wrong_types),
        FIXTURE_TEST(test_quoted_number_is_refused),
        FIXTURE_TEST(test_numbers_out_of_range),
        FIXTURE_TEST(test_floats),
        cmocka_unit_test(test_bools),
        FIXTURE_TEST(test_bool_message),
        FIXTURE_TEST(test_missing_required),
        FIXTURE_TEST(test_required_null),
        FIXTURE_TEST(test_enum_errors),
        FIXTURE_TEST(test_single_scalar_list),
        FIXTURE_TEST(test_long_values_are_cut_in_messages),
        FIXTURE_TEST(test_not_a_map),
        FIXTURE_TEST(test_several_tables),
        FIXTURE_TEST(test_opt_set),
        cmocka_unit_test(test_doc),
        V2_TEST(test_values_within_ranges),
        V2_TEST(test_range_errors_name_the_range_at_the_value),
        V2_TEST(test_range_upper_bound),
        V2_TEST(test_enum_values_are_the_components_own),
        V2_TEST(test_enum_default_is_its_value),
        V2_TEST(test_enum_error_lists_the_names),
        V2_TEST(test_empty_string_and_list_refused),
        V2_TEST(test_alias_sets_the_option_with_a_warning),
        V2_TEST(test_alias_value_errors_name_the_alias),
        V2_TEST(test_alias_and_new_name_together_refused),
        V2_TEST(test_null_alias_leaves_the_default),
        V2_TEST(test_no_effect_and_deprecated_warn),
        V2_TEST(test_null_no_effect_is_silent),
        cmocka_unit_test(test_doc_v2),
        cmocka_unit_test(test_doc_quotes_defaults_with_whitespace),
        cmocka_unit_test(test_did_you_mean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
