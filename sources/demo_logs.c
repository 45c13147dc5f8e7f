/* demo_logs.c - the `demo_logs` source: fake log lines for demos, tests and
 * load generation, in the formats Vector's demo_logs source writes (Apache
 * common and error logs, RFC 5424 and RFC 3164 syslog, a JSON access log) or
 * picked from a configured list (shuffle).
 *
 * With `interval: 0` it produces full batches as fast as back-pressure lets
 * it, so it doubles as a load generator: lines are formatted by hand into a
 * stack buffer from a fast per-run PRNG, and the time strings are formatted
 * once per batch. With an interval it produces one line per interval (all the
 * lines that are due at once when the interval is shorter than a sleep).
 * When `count` lines are out it returns, and the pipeline drains and exits.
 *
 * Fields: `.message`, `.timestamp`, `.source_type` = "demo_logs", and, as in
 * current Vector, `.host` = "localhost" and `.service` = "vector". The service
 * stays "vector" rather than "sluice" on purpose: configs and VRL programs
 * written against Vector's demo output filter on it, and they must run
 * unchanged. */
#include "pipeline/component.h"
#include "pipeline/json.h"
#include "pipeline/log.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    FORMAT_SHUFFLE = 0,
    FORMAT_APACHE_COMMON,
    FORMAT_APACHE_ERROR,
    FORMAT_SYSLOG,
    FORMAT_BSD_SYSLOG,
    FORMAT_JSON,
    FORMAT_RFC5424,   /* Vector's aliases */
    FORMAT_RFC3164,
};

enum { CODEC_BYTES = 0, CODEC_JSON };

typedef struct demo_options {
    int format;
    double interval;
    uint64_t count;
    opt_list lines;
    bool sequence;
    int codec;
} demo_options;

static const opt_enum_value format_values[] = {
    {"shuffle", FORMAT_SHUFFLE},
    {"apache_common", FORMAT_APACHE_COMMON},
    {"apache_error", FORMAT_APACHE_ERROR},
    {"syslog", FORMAT_SYSLOG},
    {"bsd_syslog", FORMAT_BSD_SYSLOG},
    {"json", FORMAT_JSON},
    {"rfc5424", FORMAT_RFC5424},
    {"rfc3164", FORMAT_RFC3164},
    {NULL, 0},
};

static const opt_enum_value codec_values[] = {
    {"bytes", CODEC_BYTES},
    {"json", CODEC_JSON},
    {NULL, 0},
};

static const opt_spec decoding_fields[] = {
    OPT_ENUM_ROW("codec", demo_options, codec, codec_values, .def = "bytes",
        .help = "How a generated line becomes an event: bytes (.message) or json (its object)."),
    OPT_END,
};

static const opt_spec demo_option_table[] = {
    OPT_ENUM_ROW("format", demo_options, format, format_values, .required = true,
        .help = "The format of the generated lines."),
    OPT_FLOAT_ROW("interval", demo_options, interval, .def = "1.0", OPT_MIN(0),
        .unit = "seconds",
        .help = "Seconds between lines; 0 generates as fast as the pipeline takes them."),
    OPT_UINT_ROW("count", demo_options, count, .def = "9223372036854775807",
        .help = "Total number of lines to generate, then stop."),
    OPT_LIST_ROW("lines", demo_options, lines,
        .help = "Lines to pick from at random (format shuffle)."),
    OPT_BOOL_ROW("sequence", demo_options, sequence, .def = "false",
        .help = "Shuffle: start each line with an increasing sequence number from 0."),
    OPT_OBJECT_ROW("decoding", decoding_fields, .help = "How lines are decoded."),
    OPT_END,
};

static size_t demo_check(const void *options, const char *label, const cfg_node *node,
                         diag_list *diags)
{
    const demo_options *o = options;
    size_t errors = 0;
    if (o->format == FORMAT_SHUFFLE && o->lines.n == 0) {
        diag_add(diags, DIAG_ERROR, node, label,
                 "format shuffle needs a non-empty list of `lines`");
        errors++;
    }
    return errors;
}

/* ---- state ---- */

typedef struct demo_state {
    int format;
    int64_t interval_ns;
    uint64_t count;
    char **lines;          /* owned copies */
    size_t *line_lens;
    size_t nlines;
    bool sequence;
    int codec;
} demo_state;

static void demo_destroy(void *state)
{
    demo_state *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->nlines; i++)
        free(st->lines[i]);
    free(st->lines);
    free(st->line_lens);
    free(st);
}

static int copy_lines(demo_state *st, const opt_list *lines)
{
    if (lines->n == 0)
        return 0;
    st->lines = calloc(lines->n, sizeof(*st->lines));
    st->line_lens = calloc(lines->n, sizeof(*st->line_lens));
    if (!st->lines || !st->line_lens)
        return -1;
    for (size_t i = 0; i < lines->n; i++) {
        st->lines[i] = strdup(lines->items[i]);
        if (!st->lines[i])
            return -1;
        st->line_lens[i] = strlen(st->lines[i]);
        st->nlines++;
    }
    return 0;
}

static int canonical_format(int format)
{
    if (format == FORMAT_RFC5424)
        return FORMAT_SYSLOG;
    if (format == FORMAT_RFC3164)
        return FORMAT_BSD_SYSLOG;
    return format;
}

static int demo_build(const void *options, const component_info *info, void **state,
                      sl_error *err)
{
    const demo_options *o = options;
    SL_UNUSED(info);
    if (o->format == FORMAT_SHUFFLE && o->lines.n == 0)
        return sl_fail(err, "format shuffle needs a non-empty list of `lines`");
    demo_state *st = calloc(1, sizeof(*st));
    if (!st)
        return sl_fail(err, "out of memory");
    st->format = canonical_format(o->format);
    st->interval_ns = (int64_t)(o->interval * 1e9);
    st->count = o->count;
    st->sequence = o->sequence;
    st->codec = o->codec;
    if (copy_lines(st, &o->lines) < 0) {
        demo_destroy(st);
        return sl_fail(err, "out of memory");
    }
    tzset();
    *state = st;
    return 0;
}

/* ---- random pieces ---- */

/* xorshift64*: a few instructions per number, plenty for fake data. */
typedef struct rng {
    uint64_t s;
} rng;

static uint32_t rng_next(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)((r->s * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Uniform in [lo, hi). */
static uint32_t rng_range(rng *r, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(((uint64_t)rng_next(r) * (hi - lo)) >> 32);
}

#define PICK(r, arr) ((arr)[rng_range((r), 0, (uint32_t)SL_ARRAY_LEN(arr))])

static const char *const users[] = {
    "ada_lovelace", "grace_h", "packet_pusher", "byte_bandit", "ops_oracle",
    "shell_shock", "tail_follower", "sig_hup", "heap_hopper", "mutex_mike",
    "syscall_sam", "inode_ines", "cron_carla", "socket_sid", "ring_buffer",
    "fsync_fiona", "jitter_jay", "quorum_quinn", "lease_lena", "shard_shay",
};
static const char *const domain_names[] = {
    "initech", "globex", "umbrella", "hooli", "vandelay", "wonka", "cyberdyne", "soylent",
};
static const char *const domain_tlds[] = {"com", "net", "org", "io", "dev", "cloud", "app", "info"};
static const char *const applications[] = {
    "api", "billing", "gateway", "indexer", "mailer", "queue", "scheduler", "search",
    "storage", "worker",
};
static const char *const error_levels[] = {
    "alert", "crit", "debug", "emerg", "error", "info", "notice", "warn",
};
static const unsigned http_codes[] = {
    200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 429, 500, 502, 503, 504,
};
static const char *const http_versions[] = {"HTTP/1.0", "HTTP/1.1", "HTTP/2.0"};
static const char *const http_methods[] = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"};
static const char *const http_endpoints[] = {
    "/", "/login", "/api/v1/orders", "/api/v1/users/42", "/static/app.js",
    "/healthz", "/admin/settings", "/search?q=sluice", "/checkout/cart",
};
static const char *const error_messages[] = {
    "Connection reset by peer while reading the response header",
    "Upstream timed out after 30 seconds",
    "Disk quota exceeded, retrying in 5 seconds",
    "Certificate for the backend expires in 3 days",
    "Too many open files, refusing new connections",
    "Request body larger than the configured limit",
    "Cache miss storm detected, warming up",
    "Worker restarted after an unexpected exit",
    "Slow query took 2.4 seconds",
};

/* ---- line building ---- */

#define LINE_MAX_BYTES 512

/* A generated line: the formatted part, then (shuffle) the configured line
 * itself, which is not copied into the fixed buffer so it may be any length. */
typedef struct line_buf {
    char data[LINE_MAX_BYTES];
    size_t len;
    const char *tail;
    size_t tail_len;
} line_buf;

static void put_bytes(line_buf *l, const char *s, size_t n)
{
    if (n > LINE_MAX_BYTES - l->len)
        n = LINE_MAX_BYTES - l->len;
    memcpy(l->data + l->len, s, n);
    l->len += n;
}

static void put_str(line_buf *l, const char *s)
{
    put_bytes(l, s, strlen(s));
}

static void put_char(line_buf *l, char c)
{
    if (l->len < LINE_MAX_BYTES)
        l->data[l->len++] = c;
}

static void put_uint(line_buf *l, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        put_char(l, tmp[--n]);
}

static void put_ipv4(line_buf *l, rng *r)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            put_char(l, '.');
        put_uint(l, rng_range(r, 1, 255));
    }
}

static void put_domain(line_buf *l, rng *r)
{
    put_str(l, PICK(r, domain_names));
    put_char(l, '.');
    put_str(l, PICK(r, domain_tlds));
}

/* The time strings of one batch, in local time as Vector writes them. */
typedef struct demo_clock {
    int64_t now_ns;
    char apache_common[48];   /* 21/Nov/2026:10:00:00 +0100 */
    char apache_error[48];    /* Sat Nov 21 10:00:00 2026 */
    char bsd_syslog[32];      /* Nov 21 10:00:00 */
    char json[48];            /* 21/Nov/2026:10:00:00 */
    char rfc3339[96];         /* 2026-11-21T10:00:00.123+01:00 */
} demo_clock;

static void format_offset(char *out, size_t n, long gmtoff)
{
    if (gmtoff == 0) {
        snprintf(out, n, "Z");
        return;
    }
    char sign = gmtoff < 0 ? '-' : '+';
    long a = gmtoff < 0 ? -gmtoff : gmtoff;
    snprintf(out, n, "%c%02ld:%02ld", sign, a / 3600, (a / 60) % 60);
}

static void clock_update(demo_clock *c)
{
    c->now_ns = sl_now_wall_ns();
    time_t secs = (time_t)(c->now_ns / 1000000000);
    struct tm tm;
    localtime_r(&secs, &tm);
    strftime(c->apache_common, sizeof(c->apache_common), "%d/%b/%Y:%H:%M:%S %z", &tm);
    strftime(c->apache_error, sizeof(c->apache_error), "%a %b %d %H:%M:%S %Y", &tm);
    strftime(c->bsd_syslog, sizeof(c->bsd_syslog), "%b %d %H:%M:%S", &tm);
    strftime(c->json, sizeof(c->json), "%d/%b/%Y:%H:%M:%S", &tm);
    char date[32], offset[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    format_offset(offset, sizeof(offset), tm.tm_gmtoff);
    snprintf(c->rfc3339, sizeof(c->rfc3339), "%s.%03d%s", date,
             (int)((c->now_ns / 1000000) % 1000), offset);
}

static void apache_common_line(line_buf *l, rng *r, const demo_clock *c)
{
    put_ipv4(l, r);
    put_str(l, " - ");
    put_str(l, PICK(r, users));
    put_str(l, " [");
    put_str(l, c->apache_common);
    put_str(l, "] \"");
    put_str(l, PICK(r, http_methods));
    put_char(l, ' ');
    put_str(l, PICK(r, http_endpoints));
    put_char(l, ' ');
    put_str(l, PICK(r, http_versions));
    put_str(l, "\" ");
    put_uint(l, PICK(r, http_codes));
    put_char(l, ' ');
    put_uint(l, rng_range(r, 50, 50000));
}

static void apache_error_line(line_buf *l, rng *r, const demo_clock *c)
{
    put_char(l, '[');
    put_str(l, c->apache_error);
    put_str(l, "] [");
    put_str(l, PICK(r, applications));
    put_char(l, ':');
    put_str(l, PICK(r, error_levels));
    put_str(l, "] [pid ");
    put_uint(l, rng_range(r, 1, 10000));
    put_str(l, ":tid ");
    put_uint(l, rng_range(r, 1, 10000));
    put_str(l, "] [client ");
    put_ipv4(l, r);
    put_char(l, ':');
    put_uint(l, rng_range(r, 1024, 65535));
    put_str(l, "] ");
    put_str(l, PICK(r, error_messages));
}

static void syslog_line(line_buf *l, rng *r, const demo_clock *c)
{
    put_char(l, '<');
    put_uint(l, rng_range(r, 0, 192));
    put_str(l, ">1 ");
    put_str(l, c->rfc3339);
    put_char(l, ' ');
    put_domain(l, r);
    put_char(l, ' ');
    put_str(l, PICK(r, applications));
    put_char(l, ' ');
    put_uint(l, rng_range(r, 100, 10000));
    put_str(l, " ID");
    put_uint(l, rng_range(r, 1, 1000));
    put_str(l, " - ");
    put_str(l, PICK(r, error_messages));
}

static void bsd_syslog_line(line_buf *l, rng *r, const demo_clock *c)
{
    put_char(l, '<');
    put_uint(l, rng_range(r, 0, 192));
    put_char(l, '>');
    put_str(l, c->bsd_syslog);
    put_char(l, ' ');
    put_domain(l, r);
    put_char(l, ' ');
    put_str(l, PICK(r, applications));
    put_char(l, '[');
    put_uint(l, rng_range(r, 1, 10000));
    put_str(l, "]: ");
    put_str(l, PICK(r, error_messages));
}

static void json_line(line_buf *l, rng *r, const demo_clock *c)
{
    put_str(l, "{\"host\":\"");
    put_ipv4(l, r);
    put_str(l, "\",\"user-identifier\":\"");
    put_str(l, PICK(r, users));
    put_str(l, "\",\"datetime\":\"");
    put_str(l, c->json);
    put_str(l, "\",\"method\":\"");
    put_str(l, PICK(r, http_methods));
    put_str(l, "\",\"request\":\"");
    put_str(l, PICK(r, http_endpoints));
    put_str(l, "\",\"protocol\":\"");
    put_str(l, PICK(r, http_versions));
    put_str(l, "\",\"status\":\"");
    put_uint(l, PICK(r, http_codes));
    put_str(l, "\",\"bytes\":");
    put_uint(l, rng_range(r, 1000, 50000));
    put_str(l, ",\"referer\":\"https://");
    put_domain(l, r);
    put_str(l, PICK(r, http_endpoints));
    put_str(l, "\"}");
}

/* ---- events ---- */

typedef struct generator {
    const demo_state *st;
    source_ctx *ctx;
    const component_metrics *metrics;
    const char *id;
    rng rng;
    demo_clock clock;
    uint64_t produced;     /* lines generated so far: the sequence number */
} generator;

static void next_line(generator *g, line_buf *l)
{
    const demo_state *st = g->st;
    l->len = 0;
    l->tail = NULL;
    l->tail_len = 0;
    switch (st->format) {
    case FORMAT_SHUFFLE: {
        size_t i = rng_range(&g->rng, 0, (uint32_t)st->nlines);
        if (st->sequence) {
            put_uint(l, g->produced);
            put_char(l, ' ');
        }
        l->tail = st->lines[i];
        l->tail_len = st->line_lens[i];
        break;
    }
    case FORMAT_APACHE_COMMON:
        apache_common_line(l, &g->rng, &g->clock);
        break;
    case FORMAT_APACHE_ERROR:
        apache_error_line(l, &g->rng, &g->clock);
        break;
    case FORMAT_SYSLOG:
        syslog_line(l, &g->rng, &g->clock);
        break;
    case FORMAT_BSD_SYSLOG:
        bsd_syslog_line(l, &g->rng, &g->clock);
        break;
    default:
        json_line(l, &g->rng, &g->clock);
        break;
    }
    g->produced++;
}

/* The line's text in the batch's arena: lines are copied even for shuffle,
 * since a batch may outlive this component's state at shutdown. */
static char *line_in_arena(arena *a, const line_buf *l, size_t *len)
{
    *len = l->len + l->tail_len;
    char *text = arena_alloc(a, *len ? *len : 1);
    if (!text)
        return NULL;
    memcpy(text, l->data, l->len);
    if (l->tail_len)
        memcpy(text + l->len, l->tail, l->tail_len);
    return text;
}

static int add_source_fields(generator *g, arena *a, value_map *m)
{
    if (value_map_put_if_absent(a, m, EVENT_FIELD_HOST, value_bytes("localhost", 9)) < 0 ||
        value_map_put_if_absent(a, m, "service", value_bytes("vector", 6)) < 0 ||
        value_map_put_if_absent(a, m, EVENT_FIELD_SOURCE_TYPE, value_bytes("demo_logs", 9)) < 0 ||
        value_map_put_if_absent(a, m, EVENT_FIELD_TIMESTAMP, value_timestamp(g->clock.now_ns)) < 0)
        return -1;
    return 0;
}

/* The bytes codec's fields in map order; message and timestamp are filled
 * per event. */
enum { SLOT_MESSAGE = 1, SLOT_TIMESTAMP = 4, NFIELDS = 5 };

static const value_entry field_template[NFIELDS] = {
    {EVENT_FIELD_HOST, 4, {VALUE_BYTES, 9, {.s = "localhost"}}},
    {EVENT_FIELD_MESSAGE, 7, {VALUE_NULL, 0, {0}}},
    {"service", 7, {VALUE_BYTES, 6, {.s = "vector"}}},
    {EVENT_FIELD_SOURCE_TYPE, 11, {VALUE_BYTES, 9, {.s = "demo_logs"}}},
    {EVENT_FIELD_TIMESTAMP, 9, {VALUE_NULL, 0, {0}}},
};

static int push_message_event(generator *g, batch *b, const char *msg, size_t len)
{
    arena *a = b->arena;
    event *e = batch_push(b);
    value_map *m = arena_alloc(a, sizeof(*m));
    value_entry *ent = arena_alloc(a, sizeof(field_template));
    if (!e || !m || !ent)
        return -1;
    memcpy(ent, field_template, sizeof(field_template));
    ent[SLOT_MESSAGE].val = value_bytes(msg, len);
    ent[SLOT_TIMESTAMP].val = value_timestamp(g->clock.now_ns);
    m->len = m->cap = NFIELDS;
    m->entries = ent;
    e->type = EVENT_LOG;
    e->u.log.kind = VALUE_MAP;
    e->u.log.u.map = m;
    return 0;
}

static void report_decode_error(generator *g, const char *why)
{
    component_metrics_error(g->metrics, "parser_failed", "processing", 1);
    slog_error(g->id, "Failed to decode a generated line as JSON, line skipped: %s", why);
}

/* The json codec: the line's object (or each object of an array that fits)
 * is the event. */
static int push_json_events(generator *g, batch *b, const char *text, size_t len)
{
    value v;
    sl_error err;
    if (json_decode(b->arena, text, len, &v, &err) < 0) {
        report_decode_error(g, err.msg);
        return 0;
    }
    const value *objs = &v;
    uint32_t n = 1;
    if (v.kind == VALUE_ARRAY) {
        objs = v.u.arr->items;
        n = v.u.arr->len;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (objs[i].kind != VALUE_MAP) {
            report_decode_error(g, "the line is not a JSON object or an array of objects");
            return 0;
        }
    }
    for (uint32_t i = 0; i < n && b->count < b->cap; i++) {
        event *e = batch_push(b);
        if (!e)
            return -1;
        e->type = EVENT_LOG;
        e->u.log = objs[i];
        if (add_source_fields(g, b->arena, objs[i].u.map) < 0)
            return -1;
    }
    return 0;
}

static int fill_batch(generator *g, batch *b, uint64_t lines)
{
    line_buf l;
    clock_update(&g->clock);
    for (uint64_t i = 0; i < lines && b->count < b->cap; i++) {
        next_line(g, &l);
        size_t len;
        const char *text = line_in_arena(b->arena, &l, &len);
        if (!text)
            return -1;
        b->input_bytes += len;
        int rc = g->st->codec == CODEC_JSON ? push_json_events(g, b, text, len)
                                            : push_message_event(g, b, text, len);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static uint64_t remaining(const generator *g)
{
    return g->st->count - g->produced;
}

/* One batch of up to `lines` lines: 1 sent, 0 the pipeline is stopping, -1
 * out of memory. */
static int send_lines(generator *g, uint64_t lines, sl_error *err)
{
    batch *b = source_batch_new(g->ctx, NULL);
    if (!b)
        return sl_fail(err, "demo_logs: out of memory");
    if (fill_batch(g, b, lines) < 0) {
        batch_release(b, ACK_DELIVERED);
        return sl_fail(err, "demo_logs: out of memory");
    }
    return source_emit(g->ctx, b) < 0 ? 0 : 1;
}

static int run_flat_out(generator *g, sl_error *err)
{
    while (remaining(g) > 0 && !source_stopping(g->ctx)) {
        int rc = send_lines(g, remaining(g), err);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

/* Line k is due at start + k * interval, like a ticking timer whose first
 * tick is immediate; lines that fell due during a sleep go out together. */
static int run_paced(generator *g, sl_error *err)
{
    int64_t interval = g->st->interval_ns;
    int64_t start = sl_now_mono_ns();
    while (remaining(g) > 0) {
        int64_t now = sl_now_mono_ns();
        uint64_t due = (uint64_t)((now - start) / interval) + 1;
        if (due > g->produced) {
            uint64_t n = due - g->produced;
            if (n > remaining(g))
                n = remaining(g);
            int rc = send_lines(g, n, err);
            if (rc <= 0)
                return rc;
            continue;
        }
        int64_t next = start + (int64_t)g->produced * interval;
        int64_t wait_ms = (next - now + 999999) / 1000000;
        if (source_sleep_ms(g->ctx, wait_ms > 0 ? wait_ms : 0) < 0)
            return 0;
    }
    return 0;
}

static int demo_run(void *state, source_ctx *ctx, sl_error *err)
{
    generator g = {0};
    g.st = state;
    g.ctx = ctx;
    g.metrics = source_metrics(ctx);
    g.id = source_id(ctx);
    g.rng.s = (uint64_t)sl_now_wall_ns() ^ ((uint64_t)(uintptr_t)&g << 17) ^
              0x9E3779B97F4A7C15ULL;
    if (g.rng.s == 0)
        g.rng.s = 1;
    if (g.st->interval_ns <= 0)
        return run_flat_out(&g, err);
    return run_paced(&g, err);
}

const component_desc source_demo_logs_desc = {
    .type = "demo_logs",
    .kind = COMPONENT_SOURCE,
    .summary = "Fake log lines in common formats, for demos and load tests.",
    .options = demo_option_table,
    .options_size = sizeof(demo_options),
    .output_types = EVENT_LOG,
    .check = demo_check,
    .build = demo_build,
    .destroy = demo_destroy,
    .source_run = demo_run,
};
