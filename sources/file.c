/* file.c - the `file` source: lines of files found by glob patterns, as
 * Vector's `file` source. The shared engine (tail_source.h) does the
 * reading, batching and checkpoints; this file holds the options and turns
 * each line into an event whose `.message` points at the bytes read. */
#include "pipeline/component.h"
#include "pipeline/log.h"
#include "sources/tail/multiline.h"
#include "sources/tail/tail_source.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { READ_FROM_BEGINNING = 0, READ_FROM_END };

typedef struct file_options {
    opt_list include;
    opt_list exclude;
    int read_from;
    uint64_t ignore_older_secs;
    uint64_t max_line_bytes;
    int max_line_action;
    char *line_delimiter;
    uint64_t glob_minimum_cooldown_ms;
    int fp_strategy;
    uint64_t fp_lines;
    char *data_dir;
    bool ignore_checkpoints;
    bool start_at_beginning;
    bool oldest_first;
    uint64_t max_open_files;
    char *ml_start;
    char *ml_condition;
    int ml_mode;
    uint64_t ml_timeout_ms;
} file_options;

static const opt_enum_value read_from_values[] = {
    {"beginning", READ_FROM_BEGINNING},
    {"end", READ_FROM_END},
    {NULL, 0},
};
static const opt_enum_value strategy_values[] = {
    {"checksum", TAILER_FP_CHECKSUM},
    {"device_and_inode", TAILER_FP_DEVICE_AND_INODE},
    {NULL, 0},
};
enum { LINE_DISCARD = 0, LINE_TRUNCATE };
/* Rotation leaves compressed and temporary copies beside a log; sluice
 * doesn't decompress, so they are not read unless `exclude` says otherwise. */
static char *const default_exclude[] = {"**/*.gz", "**/*.tmp"};
static const opt_enum_value line_action_values[] = {
    {"discard", LINE_DISCARD},
    {"truncate", LINE_TRUNCATE},
    {NULL, 0},
};
static const opt_enum_value ml_mode_values[] = {
    {"continue_through", ML_CONTINUE_THROUGH},
    {"continue_past", ML_CONTINUE_PAST},
    {"halt_before", ML_HALT_BEFORE},
    {"halt_with", ML_HALT_WITH},
    {NULL, 0},
};

static const opt_spec fingerprint_fields[] = {
    OPT_ENUM_ROW("strategy", file_options, fp_strategy, strategy_values, .def = "checksum",
        .help = "How a file is recognised: checksum (CRC32 of its first lines) or "
                "device_and_inode."),
    OPT_UINT_ROW("lines", file_options, fp_lines, .def = "1", OPT_RANGE(1, 1000),
        .help = "checksum: how many first lines are hashed; a file is read once it has them."),
    OPT_END,
};

static const opt_spec multiline_fields[] = {
    OPT_STRING_ROW("start_pattern", file_options, ml_start,
        .help = "Regex of the first line of a message."),
    OPT_STRING_ROW("condition_pattern", file_options, ml_condition,
        .help = "Regex tested on the lines that follow; `mode` says what a match means."),
    OPT_ENUM_ROW("mode", file_options, ml_mode, ml_mode_values,
        .help = "continue_through, continue_past, halt_before or halt_with."),
    OPT_UINT_ROW("timeout_ms", file_options, ml_timeout_ms,
        .help = "A message is sent after this many milliseconds without a line joining it."),
    OPT_END,
};

static const opt_spec file_option_table[] = {
    OPT_LIST_ROW("include", file_options, include, .required = true, .nonempty = true,
        .help = "Glob patterns of the files to read; `**` spans directories."),
    OPT_LIST_ROW("exclude", file_options, exclude,
        .help = "Glob patterns of files not to read, applied after include. Unset: **/*.gz and "
                "**/*.tmp, the leftovers of log rotation."),
    OPT_ENUM_ROW("read_from", file_options, read_from, read_from_values, .def = "beginning",
        .help = "Where files present at startup without a checkpoint start."),
    OPT_UINT_ROW("ignore_older_secs", file_options, ignore_older_secs,
        .help = "Files not modified for this many seconds are not read."),
    OPT_ALIAS_ROW("ignore_older", "ignore_older_secs"),
    OPT_UINT_ROW("max_line_bytes", file_options, max_line_bytes, .def = "102400",
        OPT_RANGE(1, 1 << 30),
        .help = "Lines longer than this many bytes are discarded (or truncated) and counted."),
    OPT_ENUM_ROW("max_line_action", file_options, max_line_action, line_action_values,
        .def = "discard",
        .help = "What happens to a line longer than max_line_bytes: discard, or truncate to it."),
    OPT_STRING_ROW("line_delimiter", file_options, line_delimiter, .def = "\n",
        .nonempty = true,
        .help = "The string that ends a line."),
    OPT_UINT_ROW("glob_minimum_cooldown_ms", file_options, glob_minimum_cooldown_ms,
        .def = "1000",
        .help = "How often the patterns are searched for new files, in milliseconds."),
    OPT_ALIAS_ROW("glob_minimum_cooldown", "glob_minimum_cooldown_ms"),
    OPT_OBJECT_ROW("fingerprint", fingerprint_fields, .help = "How files are identified."),
    OPT_BOOL_ROW("ignore_checkpoints", file_options, ignore_checkpoints, .def = "false",
        .help = "Start as if there were no checkpoints (they are still written)."),
    OPT_BOOL_ROW("start_at_beginning", file_options, start_at_beginning,
        .deprecated = "use read_from and ignore_checkpoints instead",
        .help = "Vector's older switch: true reads files from their beginning and ignores "
                "checkpoints, unless read_from or ignore_checkpoints say otherwise."),
    OPT_STRING_ROW("data_dir", file_options, data_dir,
        .help = "Directory for the checkpoints, instead of the global data_dir."),
    OPT_BOOL_ROW("oldest_first", file_options, oldest_first, .def = "false",
        .help = "Read the least recently modified file with data first, instead of in turn."),
    OPT_UINT_ROW("max_open_files", file_options, max_open_files, .def = "1024",
        .help = "Most files held open at once; the others wait their turn."),
    OPT_OBJECT_ROW("multiline", multiline_fields,
        .help = "Join consecutive lines into one message (all four fields required)."),
    OPT_END,
};

/* Vector requires all four multiline fields; the patterns must compile. */
static size_t check_multiline(const file_options *o, const char *label, const cfg_node *node,
                              diag_list *diags)
{
    const cfg_node *ml = cfg_map_get(node, "multiline");
    if (!ml)
        return 0;
    static const char *const required[] = {"start_pattern", "condition_pattern", "mode",
                                           "timeout_ms"};
    size_t errors = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(required); i++)
        if (!opt_set(ml, required[i])) {
            diag_add(diags, DIAG_ERROR, ml, label, "multiline.%s is required", required[i]);
            errors++;
        }
    if (errors)
        return errors;
    ml_config mc = {o->ml_start, o->ml_condition, (ml_mode)o->ml_mode, o->ml_timeout_ms,
                    (size_t)o->max_line_bytes};
    ml_rules *r = NULL;
    sl_error err = {{0}};
    if (ml_rules_new(&mc, &r, &err) < 0) {
        diag_add(diags, DIAG_ERROR, ml, label, "%s", err.msg);
        return 1;
    }
    ml_rules_free(r);
    return 0;
}

/* Vector's start_at_beginning: true: read_from beginning and
 * ignore_checkpoints true, each unless given itself; false changes nothing
 * (both defaults stand), as in Vector's reconcile_position_options. */
static void apply_start_at_beginning(file_options *o, const cfg_node *node)
{
    if (!o->start_at_beginning)
        return;
    if (!opt_set(node, "ignore_checkpoints"))
        o->ignore_checkpoints = true;
    if (!opt_set(node, "read_from"))
        o->read_from = READ_FROM_BEGINNING;
}

static size_t file_check(const void *options, const char *label, const cfg_node *node,
                         diag_list *diags)
{
    file_options *o = (file_options *)options;
    apply_start_at_beginning(o, node);
    return check_multiline(o, label, node, diags);
}

/* ---- state ---- */

/* One file's multiline group, on the list the idle hook walks. */
typedef struct file_group {
    struct file_group *prev, *next;
    ml_group *g;
    tailer_file *f;          /* the tailer's entry, valid while followed */
    uint64_t gen;
} file_group;

typedef struct file_state {
    tail_source *ts;
    value host;
    size_t delimiter_len;
    ml_rules *rules;         /* NULL without multiline */
    file_group *groups;
} file_state;

#define NFIELDS 5

/* Pushes one message of f; its bytes are copied into the batch unless they
 * already are there (copy false). */
static int push_message(file_state *st, tail_batch *tb, const tailer_file *f,
                        const char *msg, size_t len, bool copy, uint64_t commit)
{
    event *e = tail_push(tb, f, commit);
    if (!e)
        return -1;
    arena *a = tail_arena(tb);
    value path = tail_path_value(tb, f);
    value_map *m = arena_alloc(a, sizeof(*m));
    value_entry *ent = arena_alloc(a, NFIELDS * sizeof(*ent));
    char *text = copy ? arena_alloc(a, len ? len : 1) : NULL;
    if (path.kind == VALUE_NULL || !m || !ent || (copy && !text))
        return -1;
    if (copy) {
        memcpy(text, msg, len);
        msg = text;
    }
    /* In map order. */
    ent[0] = (value_entry){"file", 4, path};
    ent[1] = (value_entry){EVENT_FIELD_HOST, 4, st->host};
    ent[2] = (value_entry){EVENT_FIELD_MESSAGE, 7, value_bytes(msg, len)};
    ent[3] = (value_entry){EVENT_FIELD_SOURCE_TYPE, 11, value_bytes("file", 4)};
    ent[4] = (value_entry){EVENT_FIELD_TIMESTAMP, 9, value_timestamp(tail_read_time_ns(tb))};
    m->len = m->cap = NFIELDS;
    m->entries = ent;
    e->type = EVENT_LOG;
    e->u.log.kind = VALUE_MAP;
    e->u.log.u.map = m;
    return 0;
}

static void group_free(file_state *st, file_group *fg)
{
    if (fg->prev)
        fg->prev->next = fg->next;
    else
        st->groups = fg->next;
    if (fg->next)
        fg->next->prev = fg->prev;
    ml_group_free(fg->g);
    free(fg);
}

/* f's group, new for a new file or one that started over. */
static file_group *group_of(file_state *st, tailer_file *f)
{
    file_group *fg = f->user;
    if (fg && fg->gen == f->gen)
        return fg;
    if (fg) {
        group_free(st, fg);
        f->user = NULL;
    }
    fg = calloc(1, sizeof(*fg));
    if (!fg || !(fg->g = ml_group_new(st->rules))) {
        free(fg);
        return NULL;
    }
    fg->f = f;
    fg->gen = f->gen;
    fg->next = st->groups;
    if (st->groups)
        st->groups->prev = fg;
    st->groups = fg;
    f->user = fg;
    return fg;
}

/* The checkpoint may reach `end`, but not the first byte still held. */
static uint64_t safe_commit(const file_group *fg, uint64_t end)
{
    uint64_t held = ml_held_from(fg->g);
    return held < end ? held : end;
}

static int push_ml_message(file_state *st, tail_batch *tb, file_group *fg,
                           const ml_message *m, const char *line)
{
    return push_message(st, tb, fg->f, m->data, m->len, m->data != line,
                        safe_commit(fg, m->end));
}

static int file_line(void *ud, tail_batch *tb, tailer_file *f, const char *line, size_t len,
                     uint64_t end)
{
    file_state *st = ud;
    if (!st->rules)
        return push_message(st, tb, f, line, len, false, end);
    file_group *fg = group_of(st, f);
    if (!fg)
        return -1;
    ml_message m;
    sl_error err;
    int rc = ml_feed(fg->g, line, len, end - len - st->delimiter_len, end, sl_now_mono_ns(),
                     &m, &err);
    if (rc <= 0)
        return rc;
    return push_ml_message(st, tb, fg, &m, line);
}

/* Sends what multiline groups held long enough. */
static void file_idle(void *ud, tail_batch *tb, int64_t now)
{
    file_state *st = ud;
    for (file_group *fg = st->groups; fg; fg = fg->next) {
        ml_message m;
        if (ml_flush(fg->g, now, false, &m) && push_ml_message(st, tb, fg, &m, NULL) < 0)
            return;
    }
}

static void file_closed(void *ud, tail_batch *tb, tailer_file *f)
{
    file_state *st = ud;
    file_group *fg = f->user;
    if (!fg)
        return;
    ml_message m;
    if (tb && ml_flush(fg->g, 0, true, &m)) {
        fg->f = f;   /* the engine's copy: the tailer's entry may be reused */
        push_ml_message(st, tb, fg, &m, NULL);
    }
    group_free(st, fg);
    f->user = NULL;
}

static void file_destroy(void *state)
{
    file_state *st = state;
    if (!st)
        return;
    tail_source_free(st->ts);
    while (st->groups)
        group_free(st, st->groups);
    ml_rules_free(st->rules);
    free(st);
}

static int file_build(const void *options, const component_info *info, void **state,
                      sl_error *err)
{
    const file_options *o = options;
    file_state *st = calloc(1, sizeof(*st));
    if (!st)
        return sl_fail(err, "out of memory");
    const char *host = sl_hostname();
    st->host = value_bytes(host, strlen(host));
    tail_source_options to = {
        .tailer = {
            .include = o->include.items,
            .ninclude = o->include.n,
            .exclude = o->exclude.n ? o->exclude.items : default_exclude,
            .nexclude = o->exclude.n ? o->exclude.n : SL_ARRAY_LEN(default_exclude),
            .read_from_end = o->read_from == READ_FROM_END,
            .ignore_older_secs = o->ignore_older_secs,
            .max_line_bytes = (size_t)o->max_line_bytes,
            .truncate_long_lines = o->max_line_action == LINE_TRUNCATE,
            .delimiter = o->line_delimiter,
            .delimiter_len = strlen(o->line_delimiter),
            .fingerprint = o->fp_strategy == 1 ? TAILER_FP_DEVICE_AND_INODE
                                               : TAILER_FP_CHECKSUM,
            .fingerprint_lines = (uint32_t)o->fp_lines,
            .max_open_files = (size_t)o->max_open_files,
            .oldest_first = o->oldest_first,
        },
        .data_dir = o->data_dir,
        .ignore_checkpoints = o->ignore_checkpoints,
        .rescan_ms = o->glob_minimum_cooldown_ms,
        .hooks = {.line = file_line, .ud = st},
    };
    st->delimiter_len = to.tailer.delimiter_len;
    if (o->ml_start) {
        ml_config mc = {o->ml_start, o->ml_condition, (ml_mode)o->ml_mode, o->ml_timeout_ms,
                        (size_t)o->max_line_bytes};
        if (ml_rules_new(&mc, &st->rules, err) < 0) {
            free(st);
            return -1;
        }
        to.hooks.idle = file_idle;
        to.hooks.closed = file_closed;
    }
    if (tail_source_new(&to, info, &st->ts, err) < 0) {
        ml_rules_free(st->rules);
        free(st);
        return -1;
    }
    *state = st;
    return 0;
}

static int file_run(void *state, source_ctx *ctx, sl_error *err)
{
    file_state *st = state;
    return tail_source_run(st->ts, ctx, err);
}

const component_desc source_file_desc = {
    .type = "file",
    .kind = COMPONENT_SOURCE,
    .acknowledges = true,
    .position_without_acks = "its checkpoints move as lines are read",
    .summary = "Lines of files found by glob patterns, followed with checkpoints.",
    .options = file_option_table,
    .options_size = sizeof(file_options),
    .output_types = EVENT_LOG,
    .check = file_check,
    .build = file_build,
    .destroy = file_destroy,
    .source_run = file_run,
};
