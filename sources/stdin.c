/* stdin.c - the `stdin` source: newline-delimited events from standard input.
 *
 * Throughput is the point of this file. Input is read in large blocks
 * straight into the arena of the batch being built, lines are split with
 * memchr, and each `.message` points into the block, so the bytes of a line
 * are never copied; only the partial line at the end of a block moves to the
 * start of the next one. Events are assembled from a prebuilt field template
 * that is already in map order instead of inserting fields one by one, and
 * the clock is read once per read() call, not per line.
 *
 * Before every read the source waits on stdin with source_wait_fd(), so a
 * shutdown can interrupt a read that would block. A batch leaves when it is
 * full, or as soon as stdin has nothing more right now, so a slow interactive
 * writer still sees its lines go through.
 *
 * As in Vector: lines longer than max_length are discarded with a warning,
 * a trailing `\r` is kept, the partial last line is emitted at end of input,
 * and with the json codec empty lines are skipped, an array becomes one
 * event per element, and a line that is not an object (or an array of
 * objects) is an error that skips the line. */
#include "pipeline/component.h"
#include "pipeline/json.h"
#include "pipeline/log.h"
#include "pipeline/path.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STDIN_FD 0
#define READ_BLOCK (256 * 1024)
/* Less free room than this at the end of a block and the next read goes to a
 * fresh block: small reads would cost more syscalls than the copy saves. */
#define MIN_READ_ROOM (32 * 1024)
#define REPORT_INTERVAL_NS (5 * NS_PER_SEC)

enum { CODEC_BYTES = 0, CODEC_JSON };

typedef struct stdin_options {
    int codec;
    uint64_t max_length;
    char *host_key;
} stdin_options;

static const opt_enum_value codec_values[] = {
    {"bytes", CODEC_BYTES},
    {"json", CODEC_JSON},
    {NULL, 0},
};

static const opt_spec decoding_fields[] = {
    OPT_ENUM_ROW("codec", stdin_options, codec, codec_values, .def = "bytes",
        .help = "How a line becomes an event: bytes (the line is .message) or json (the line's "
                "object is the event)."),
    OPT_END,
};

static const opt_spec stdin_option_table[] = {
    OPT_OBJECT_ROW("decoding", decoding_fields, .help = "How lines are decoded."),
    OPT_UINT_ROW("max_length", stdin_options, max_length, .def = "102400",
        .help = "Lines longer than this many bytes (without the newline) are discarded."),
    OPT_STRING_ROW("host_key", stdin_options, host_key, .def = "host",
        .help = "Field that receives the host name when the event has none; empty for none."),
    OPT_END,
};

/* The fields a bytes-codec event gets, in map order. */
#define TEMPLATE_MAX 4

typedef struct stdin_state {
    int codec;
    size_t max_length;
    bool host_wanted;
    bool host_nested;         /* host_key names a nested path */
    path host_path;
    char *host_field;         /* top-level host key, owned */
    value host;
    value_entry tmpl[TEMPLATE_MAX];
    uint32_t ntmpl;
    uint32_t message_slot, timestamp_slot;
    /* The fields a json-codec event gets where it has none, in map order
     * and without repeats (the first of timestamp, source_type, host wins,
     * as with one insertion after another); the timestamp's value is set
     * per event. */
    value_entry extra[3];
    uint32_t nextra;
    uint32_t extra_timestamp;
} stdin_state;

/* value.h's map order, for qsort. */
static int entry_order(const void *a, const void *b)
{
    return value_entry_compare(a, b);
}

static void template_add(stdin_state *st, const char *key, value v)
{
    value_entry *e = &st->tmpl[st->ntmpl++];
    e->key = key;
    e->klen = (uint32_t)strlen(key);
    e->val = v;
}

static bool template_has(const stdin_state *st, const char *key)
{
    for (uint32_t i = 0; i < st->ntmpl; i++)
        if (strcmp(st->tmpl[i].key, key) == 0)
            return true;
    return false;
}

static uint32_t template_slot(const stdin_state *st, const char *key)
{
    uint32_t i = 0;
    while (i < st->ntmpl && strcmp(st->tmpl[i].key, key) != 0)
        i++;
    return i;
}

/* Vector inserts the host only where the event has no such field yet, so a
 * host_key that names another standard field leaves that field alone. */
static void build_template(stdin_state *st)
{
    template_add(st, EVENT_FIELD_MESSAGE, value_null());
    template_add(st, EVENT_FIELD_TIMESTAMP, value_null());
    template_add(st, EVENT_FIELD_SOURCE_TYPE, value_bytes("stdin", 5));
    if (st->host_wanted && !st->host_nested && !template_has(st, st->host_field))
        template_add(st, st->host_field, st->host);
    qsort(st->tmpl, st->ntmpl, sizeof(st->tmpl[0]), entry_order);
    st->message_slot = template_slot(st, EVENT_FIELD_MESSAGE);
    st->timestamp_slot = template_slot(st, EVENT_FIELD_TIMESTAMP);
}

static void extra_add(stdin_state *st, const char *key, value v)
{
    for (uint32_t i = 0; i < st->nextra; i++)
        if (strcmp(st->extra[i].key, key) == 0)
            return;
    value_entry *e = &st->extra[st->nextra++];
    e->key = key;
    e->klen = (uint32_t)strlen(key);
    e->val = v;
}

static void build_extra(stdin_state *st)
{
    extra_add(st, EVENT_FIELD_TIMESTAMP, value_null());
    extra_add(st, EVENT_FIELD_SOURCE_TYPE, value_bytes("stdin", 5));
    if (st->host_wanted && !st->host_nested)
        extra_add(st, st->host_field, st->host);
    qsort(st->extra, st->nextra, sizeof(st->extra[0]), entry_order);
    st->extra_timestamp = 0;
    while (strcmp(st->extra[st->extra_timestamp].key, EVENT_FIELD_TIMESTAMP) != 0)
        st->extra_timestamp++;
}

static bool is_nested_path(const path *p)
{
    return p->n > 1 || (p->n == 1 && p->segs[0].is_index);
}

static int parse_host_key(stdin_state *st, const char *key, sl_error *err)
{
    if (!key || key[0] == '\0' || strcmp(key, ".") == 0)
        return 0;
    if (path_parse(key, &st->host_path, err) < 0)
        return -1;
    st->host_wanted = true;
    st->host_nested = is_nested_path(&st->host_path);
    if (!st->host_nested) {
        st->host_field = strdup(st->host_path.segs[0].key);
        if (!st->host_field)
            return sl_fail(err, "out of memory");
    }
    return 0;
}

static void stdin_destroy(void *state)
{
    stdin_state *st = state;
    if (!st)
        return;
    path_free(&st->host_path);
    free(st->host_field);
    free(st);
}

static int stdin_build(const void *options, const component_info *info, void **state,
                       sl_error *err)
{
    const stdin_options *o = options;
    SL_UNUSED(info);
    stdin_state *st = calloc(1, sizeof(*st));
    if (!st)
        return sl_fail(err, "out of memory");
    st->codec = o->codec;
    /* A string value holds at most UINT32_MAX bytes. */
    st->max_length = o->max_length > UINT32_MAX ? UINT32_MAX : (size_t)o->max_length;
    const char *host = sl_hostname();
    st->host = value_bytes(host, strlen(host));
    if (parse_host_key(st, o->host_key, err) < 0) {
        stdin_destroy(st);
        return -1;
    }
    build_template(st);
    build_extra(st);
    *state = st;
    return 0;
}

/* ---- reading ---- */

typedef struct line_reader {
    const stdin_state *st;
    source_ctx *ctx;
    const component_metrics *metrics;
    const char *id;
    batch *b;                  /* the batch being filled */
    char *blk;                 /* read block, in some batch's arena */
    size_t cap, pos, end;      /* block size, first unframed byte, end of data */
    int64_t now_ns;            /* wall time of the last read */
    uint64_t line_no;          /* lines framed so far, for messages */
    bool discarding;           /* inside a line longer than max_length */
    log_limiter decode_log;
} line_reader;

enum { LINES_DRAINED = 0, LINES_FULL = 1, LINES_STOP = 2 };

/* Gives the current batch a fresh block from arena `b` holding the unframed
 * tail of the old one. The tail is at most max_length bytes, so the block
 * grows only for configurations with very long lines. */
static int move_tail(line_reader *r, batch *b)
{
    size_t n = r->end - r->pos;
    size_t cap = READ_BLOCK;
    while (cap < n || cap - n < MIN_READ_ROOM)
        cap *= 2;
    char *blk = arena_alloc(b->arena, cap);
    if (!blk)
        return -1;
    if (n)
        memcpy(blk, r->blk + r->pos, n);
    r->blk = blk;
    r->cap = cap;
    r->pos = 0;
    r->end = n;
    return 0;
}

/* A new batch with the tail moved into it. The old batch is still current:
 * the caller may copy more into the new one before handing the old one on. */
static batch *begin_batch(line_reader *r)
{
    batch *b = source_batch_new(r->ctx, NULL);
    if (!b)
        return NULL;
    if (move_tail(r, b) < 0) {
        batch_release(b, ACK_DELIVERED);
        return NULL;
    }
    return b;
}

/* Emits the current batch and makes `next` current. LINES_STOP once the
 * pipeline is stopping. */
static int pass_batch(line_reader *r, batch *next)
{
    batch *done = r->b;
    r->b = next;
    return source_emit(r->ctx, done) < 0 ? LINES_STOP : LINES_DRAINED;
}

static int rotate_batch(line_reader *r)
{
    batch *next = begin_batch(r);
    if (!next)
        return -1;
    return pass_batch(r, next);
}

static void report_decode_error(line_reader *r, const char *why)
{
    component_metrics_error(r->metrics, "parser_failed", "processing", 1);
    uint64_t unreported;
    if (!log_limiter_allow(&r->decode_log, REPORT_INTERVAL_NS, &unreported))
        return;
    if (unreported)
        slog_error(r->id, "Failed to decode line %" PRIu64 " as JSON, line skipped: %s "
                   "(%" PRIu64 " more lines failed since the last report).",
                   r->line_no, why, unreported);
    else
        slog_error(r->id, "Failed to decode line %" PRIu64 " as JSON, line skipped: %s",
                   r->line_no, why);
}

static void report_unreported(line_reader *r)
{
    uint64_t unreported = log_limiter_take_held(&r->decode_log);
    if (unreported)
        slog_error(r->id, "%" PRIu64 " more lines failed to decode as JSON and were skipped.",
                   unreported);
}

static void report_oversized(line_reader *r)
{
    metrics_add(r->metrics->discarded_error, 1);
    component_metrics_error(r->metrics, "oversized_line", "receiving", 1);
    slog_warn(r->id, "Discarding a line longer than max_length (%zu bytes).",
              r->st->max_length);
}

static int set_host_at_path(const stdin_state *st, arena *a, value *root)
{
    if (path_get(root, &st->host_path))
        return 0;
    value *slot = path_set(a, root, &st->host_path);
    if (!slot)
        return -1;
    *slot = st->host;
    return 0;
}

static int add_bytes_event(line_reader *r, const char *line, size_t len)
{
    const stdin_state *st = r->st;
    arena *a = r->b->arena;
    event *e = batch_push(r->b);
    value_map *m = arena_alloc(a, sizeof(*m));
    value_entry *ent = arena_alloc(a, st->ntmpl * sizeof(*ent));
    if (!e || !m || !ent)
        return -1;
    memcpy(ent, st->tmpl, st->ntmpl * sizeof(*ent));
    ent[st->message_slot].val = value_bytes(line, len);
    ent[st->timestamp_slot].val = value_timestamp(r->now_ns);
    m->len = m->cap = st->ntmpl;
    m->entries = ent;
    e->type = EVENT_LOG;
    e->u.log.kind = VALUE_MAP;
    e->u.log.u.map = m;
    if (st->host_nested)
        return set_host_at_path(st, a, &e->u.log);
    return 0;
}

/* Adds the source's fields that m lacks in one merge: a scan finds where
 * each missing one goes (both lists are in map order), the table grows once
 * and the members move up once, instead of a lookup, a possible regrowth
 * and a memmove per field. */
static int add_missing_fields(const stdin_state *st, arena *a, value_map *m, int64_t now_ns)
{
    uint32_t at[3], which[3], k = 0, i = 0;
    for (uint32_t j = 0; j < st->nextra; j++) {
        int c = 1;
        while (i < m->len && (c = value_entry_compare(&m->entries[i], &st->extra[j])) < 0)
            i++;
        if (i < m->len && c == 0)
            continue;
        at[k] = i;
        which[k++] = j;
    }
    if (k == 0)
        return 0;
    size_t len = (size_t)m->len + k;
    if (len > UINT32_MAX)
        return -1;
    if (len > m->cap) {
        value_entry *e = arena_grow(a, m->entries, (size_t)m->cap * sizeof(value_entry),
                                    len * sizeof(value_entry));
        if (!e)
            return -1;
        m->entries = e;
        m->cap = (uint32_t)len;
    }
    /* Merge from the back: each member moves up past the new fields that go
     * before it; those before at[0] stay. A plain loop: the runs are a few
     * entries, too short for a memmove call to pay. */
    value_entry *e = m->entries;
    uint32_t from = m->len, to = (uint32_t)len;
    for (uint32_t j = k; j-- > 0;) {
        while (from > at[j])
            e[--to] = e[--from];
        e[--to] = st->extra[which[j]];
        if (which[j] == st->extra_timestamp)
            e[to].val = value_timestamp(now_ns);
    }
    m->len = (uint32_t)len;
    return 0;
}

/* Pushes one decoded object as an event with the source's fields added where
 * it has none. The batch has room. */
static int push_object(line_reader *r, const value *obj)
{
    const stdin_state *st = r->st;
    arena *a = r->b->arena;
    event *e = batch_push(r->b);
    if (!e)
        return -1;
    e->type = EVENT_LOG;
    e->u.log = *obj;
    if (add_missing_fields(st, a, obj->u.map, r->now_ns) < 0)
        return -1;
    if (st->host_wanted && st->host_nested)
        return set_host_at_path(st, a, &e->u.log);
    return 0;
}

static bool all_objects(const value_array *arr)
{
    for (uint32_t i = 0; i < arr->len; i++)
        if (arr->items[i].kind != VALUE_MAP)
            return false;
    return true;
}

/* The rest of an array that does not fit lives in the arena of the batch
 * about to leave, so it is copied into the next batch before that one goes. */
static int carry_rest(line_reader *r, const value_array *arr, uint32_t from, value *rest)
{
    batch *next = begin_batch(r);
    if (!next)
        return -1;
    *rest = value_new_array(next->arena, arr->len - from);
    for (uint32_t i = from; rest->kind == VALUE_ARRAY && i < arr->len; i++) {
        value *slot = value_array_push(next->arena, rest->u.arr);
        if (!slot || value_copy(next->arena, &arr->items[i], slot) < 0)
            rest->kind = VALUE_NULL;
    }
    if (rest->kind != VALUE_ARRAY) {
        batch_release(next, ACK_DELIVERED);
        return -1;
    }
    return pass_batch(r, next);
}

static int push_array(line_reader *r, const value_array *arr)
{
    uint32_t i = 0;
    while (i < arr->len) {
        if (r->b->count >= r->b->cap) {
            value rest;
            int rc = carry_rest(r, arr, i, &rest);
            if (rc != LINES_DRAINED)
                return rc;
            arr = rest.u.arr;
            i = 0;
            continue;
        }
        if (push_object(r, &arr->items[i++]) < 0)
            return -1;
    }
    return LINES_DRAINED;
}

static int add_json_events(line_reader *r, const char *line, size_t len)
{
    if (len == 0)
        return LINES_DRAINED;
    value v;
    sl_error err;
    if (json_decode(r->b->arena, line, len, &v, &err) < 0) {
        report_decode_error(r, err.msg);
        return LINES_DRAINED;
    }
    if (v.kind == VALUE_MAP)
        return push_object(r, &v) < 0 ? -1 : LINES_DRAINED;
    if (v.kind == VALUE_ARRAY && all_objects(v.u.arr))
        return push_array(r, v.u.arr);
    report_decode_error(r, "the line is not a JSON object or an array of objects");
    return LINES_DRAINED;
}

static int add_line(line_reader *r, const char *line, size_t len)
{
    r->line_no++;
    if (len > r->st->max_length) {
        report_oversized(r);
        return LINES_DRAINED;
    }
    if (r->st->codec == CODEC_JSON)
        return add_json_events(r, line, len);
    return add_bytes_event(r, line, len) < 0 ? -1 : LINES_DRAINED;
}

/* Frames the complete lines of the block into events: LINES_FULL when the
 * batch is full (lines may remain), LINES_DRAINED when no complete line is
 * left, LINES_STOP when the pipeline stopped, -1 on allocation failure. */
static int take_lines(line_reader *r)
{
    while (r->pos < r->end) {
        const char *p = r->blk + r->pos;
        const char *nl = memchr(p, '\n', r->end - r->pos);
        if (!nl) {
            if (r->discarding)
                r->pos = r->end;
            return LINES_DRAINED;
        }
        size_t len = (size_t)(nl - p);
        r->pos += len + 1;
        if (r->discarding) {
            r->discarding = false;
            continue;
        }
        int rc = add_line(r, p, len);
        if (rc != LINES_DRAINED)
            return rc;
        if (r->b->count >= r->b->cap)
            return LINES_FULL;
    }
    return LINES_DRAINED;
}

/* Makes room for the next read: a partial line already longer than
 * max_length is dropped (the rest of it is skipped as it arrives), and a
 * nearly full block is replaced by a fresh one holding the partial line. */
static int make_room(line_reader *r)
{
    if (!r->discarding && r->end - r->pos > r->st->max_length) {
        r->line_no++;
        report_oversized(r);
        r->discarding = true;
        r->pos = r->end;
    }
    if (r->cap - r->end >= MIN_READ_ROOM)
        return 0;
    return move_tail(r, r->b);
}

/* End of input: the partial last line is an event too, as in Vector. */
static int finish_input(line_reader *r)
{
    if (!r->discarding && r->pos < r->end) {
        const char *line = r->blk + r->pos;
        size_t len = r->end - r->pos;
        r->pos = r->end;
        if (add_line(r, line, len) < 0)
            return -1;
    }
    report_unreported(r);
    source_emit(r->ctx, r->b);
    r->b = NULL;
    return 0;
}

static void stop_reading(line_reader *r)
{
    report_unreported(r);
    source_emit(r->ctx, r->b);
    r->b = NULL;
}

enum { INPUT_READY = 1, INPUT_STOP = -1, INPUT_NO_MEMORY = -2 };

/* Waits until stdin has data (or hung up). A batch holding events leaves
 * first when stdin has nothing right now, so lines never wait for company. */
static int wait_for_input(line_reader *r)
{
    int ready = 0;
    if (r->b->count > 0) {
        ready = source_wait_fd(r->ctx, STDIN_FD, 0);
        if (ready == 0) {
            int rc = rotate_batch(r);
            if (rc < 0)
                return INPUT_NO_MEMORY;
            if (rc == LINES_STOP)
                return INPUT_STOP;
        }
    }
    while (ready == 0)
        ready = source_wait_fd(r->ctx, STDIN_FD, -1);
    return ready > 0 ? INPUT_READY : INPUT_STOP;
}

/* 1 after reading, 0 at end of input, -1 on a read error. */
static int read_block(line_reader *r, sl_error *err)
{
    for (;;) {
        ssize_t n = read(STDIN_FD, r->blk + r->end, r->cap - r->end);
        if (n >= 0) {
            r->end += (size_t)n;
            r->b->input_bytes += (uint64_t)n;
            r->now_ns = sl_now_wall_ns();
            return n > 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 1;
        if (errno != EINTR)
            return sl_fail(err, "reading stdin: %s", strerror(errno));
    }
}

static int out_of_memory(line_reader *r, sl_error *err)
{
    if (r->b)
        batch_release(r->b, ACK_DELIVERED);
    return sl_fail(err, "stdin: out of memory");
}

static int stdin_run(void *state, source_ctx *ctx, sl_error *err)
{
    line_reader r = {0};
    r.st = state;
    r.ctx = ctx;
    r.metrics = source_metrics(ctx);
    r.id = source_id(ctx);
    r.now_ns = sl_now_wall_ns();
    r.b = begin_batch(&r);
    if (!r.b)
        return out_of_memory(&r, err);
    for (;;) {
        int rc = take_lines(&r);
        if (rc == LINES_FULL) {
            rc = rotate_batch(&r);
            if (rc == LINES_DRAINED)
                continue;
        }
        if (rc < 0)
            return out_of_memory(&r, err);
        if (rc == LINES_STOP) {
            stop_reading(&r);
            return 0;
        }
        if (make_room(&r) < 0)
            return out_of_memory(&r, err);
        int ready = wait_for_input(&r);
        if (ready == INPUT_NO_MEMORY)
            return out_of_memory(&r, err);
        if (ready == INPUT_STOP) {
            stop_reading(&r);
            return 0;
        }
        int got = read_block(&r, err);
        if (got < 0) {
            stop_reading(&r);
            return -1;
        }
        if (got == 0)
            return finish_input(&r) < 0 ? out_of_memory(&r, err) : 0;
    }
}

const component_desc source_stdin_desc = {
    .type = "stdin",
    .kind = COMPONENT_SOURCE,
    .summary = "Newline-delimited events read from standard input.",
    .options = stdin_option_table,
    .options_size = sizeof(stdin_options),
    .output_types = EVENT_LOG,
    .build = stdin_build,
    .destroy = stdin_destroy,
    .source_run = stdin_run,
};
