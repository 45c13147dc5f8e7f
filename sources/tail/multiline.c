/* multiline.c - joins lines into messages as Vector's `multiline` option
 * does (see multiline.h for the rules and where they differ from Vector).
 *
 * A group keeps what it holds in one of two buffers and swaps them when it
 * emits: the message it returns stays valid in one buffer until the next
 * call while the line that follows it is already held in the other, and no
 * byte is copied twice. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "sources/tail/multiline.h"
#include "pipeline/buf.h"

/* A million backtracking steps per match, as for VRL regexes: plenty for
 * any sane pattern, and a runaway one stops within milliseconds instead of
 * stalling the file. Written into the pattern so no match context is needed. */
#define LIMIT_PREFIX "(*LIMIT_MATCH=1000000)"

const char *const ml_mode_names[] = {"continue_through", "continue_past", "halt_before",
                                     "halt_with", NULL};

struct ml_rules {
    pcre2_code *start;
    pcre2_code *condition;
    ml_mode mode;
    int64_t timeout_ns;
    size_t max_bytes;
};

typedef enum held_state {
    HELD_NOTHING = 0,
    HELD_GROUP,        /* an open group: more lines may join it */
    HELD_MESSAGE       /* a complete message waiting for the next call */
} held_state;

struct ml_group {
    const ml_rules *rules;
    pcre2_match_data *match;   /* per group: one thread drives it */
    buf buf[2];
    int cur;                   /* buf[cur] holds; the other has the last message */
    held_state state;
    uint64_t start, end;       /* file offsets of what buf[cur] holds */
    int64_t last_line_at;      /* when the open group last grew */
};

/* What the mode makes of a line offered to an open group. */
typedef enum decision {
    JOIN,              /* appended, the group stays open */
    JOIN_AND_END,      /* appended, the group is complete */
    END_BEFORE         /* the group is complete without it */
} decision;

/* A fed line and when it came. */
typedef struct fed_line {
    const char *data;
    size_t len;
    uint64_t start, end;
    int64_t now;
} fed_line;

/* ---- rules ---- */

static int compile_pattern(const char *which, const char *pattern, pcre2_code **out,
                           sl_error *err)
{
    size_t prefix = sizeof(LIMIT_PREFIX) - 1;
    size_t n = strlen(pattern);
    char *full = malloc(prefix + n + 1);
    if (!full)
        return sl_fail(err, "out of memory compiling multiline.%s", which);
    memcpy(full, LIMIT_PREFIX, prefix);
    memcpy(full + prefix, pattern, n + 1);
    int code;
    PCRE2_SIZE offset;
    *out = pcre2_compile((PCRE2_SPTR)full, prefix + n,
                         PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &code,
                         &offset, NULL);
    free(full);
    if (!*out) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof(msg));
        return sl_fail(err, "multiline.%s is not a valid regex: %s (at pattern offset %zu)",
                       which, (const char *)msg, offset > prefix ? offset - prefix : 0);
    }
    /* Without the JIT (an unsupported CPU) the interpreter matches the same. */
    pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return 0;
}

static int64_t ms_to_ns_saturated(uint64_t ms)
{
    return ms > (uint64_t)INT64_MAX / 1000000 ? INT64_MAX : (int64_t)ms * 1000000;
}

int ml_rules_new(const ml_config *c, ml_rules **out, sl_error *err)
{
    ml_rules *r = calloc(1, sizeof(*r));
    if (!r)
        return sl_fail(err, "out of memory");
    if (compile_pattern("start_pattern", c->start_pattern, &r->start, err) < 0 ||
        compile_pattern("condition_pattern", c->condition_pattern, &r->condition, err) < 0) {
        ml_rules_free(r);
        return -1;
    }
    r->mode = c->mode;
    r->timeout_ns = ms_to_ns_saturated(c->timeout_ms);
    r->max_bytes = c->max_bytes;
    *out = r;
    return 0;
}

void ml_rules_free(ml_rules *r)
{
    if (r) {
        pcre2_code_free(r->start);
        pcre2_code_free(r->condition);
        free(r);
    }
}

/* ---- groups ---- */

ml_group *ml_group_new(const ml_rules *r)
{
    ml_group *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    /* Only whether a pattern matches counts, so one pair of offsets will do. */
    g->match = pcre2_match_data_create(1, NULL);
    if (!g->match) {
        free(g);
        return NULL;
    }
    g->rules = r;
    return g;
}

void ml_group_free(ml_group *g)
{
    if (g) {
        pcre2_match_data_free(g->match);
        buf_free(&g->buf[0]);
        buf_free(&g->buf[1]);
        free(g);
    }
}

static bool line_matches(const ml_group *g, const pcre2_code *re, const fed_line *l)
{
    /* PCRE2 before 10.43 refuses a NULL subject even when it is empty. */
    PCRE2_SPTR subject = (PCRE2_SPTR)(l->data ? l->data : "");
    return pcre2_match(re, subject, l->len, 0, 0, g->match, NULL) >= 0;
}

static decision decide(const ml_group *g, const fed_line *l)
{
    bool matched = line_matches(g, g->rules->condition, l);
    switch (g->rules->mode) {
    case ML_CONTINUE_THROUGH:
        return matched ? JOIN : END_BEFORE;
    case ML_CONTINUE_PAST:
        return matched ? JOIN : JOIN_AND_END;
    case ML_HALT_BEFORE:
        return matched ? END_BEFORE : JOIN;
    case ML_HALT_WITH:
        return matched ? JOIN_AND_END : JOIN;
    }
    return END_BEFORE;
}

/* What a line becomes when nothing is held before it. */
static held_state state_of_fresh_line(const ml_group *g, const fed_line *l)
{
    return line_matches(g, g->rules->start, l) ? HELD_GROUP : HELD_MESSAGE;
}

static bool joining_would_exceed_max(const ml_group *g, const fed_line *l)
{
    size_t held = g->buf[g->cur].len;
    return l->len > g->rules->max_bytes || held + 1 > g->rules->max_bytes - l->len;
}

static void message_of_held(const ml_group *g, ml_message *out)
{
    out->data = g->buf[g->cur].data;
    out->len = g->buf[g->cur].len;
    out->end = g->end;
}

static void message_of_line(const fed_line *l, ml_message *out)
{
    out->data = l->data;
    out->len = l->len;
    out->end = l->end;
}

static int out_of_memory(sl_error *err)
{
    return sl_fail(err, "out of memory holding a multiline message");
}

/* Emits what is held and holds the line instead, in the other buffer, as
 * `next`. Memory is reserved before anything changes, so a failure leaves
 * the group as it was. */
static int emit_held_and_hold_line(ml_group *g, const fed_line *l, held_state next,
                                   ml_message *out, sl_error *err)
{
    buf *other = &g->buf[!g->cur];
    buf_reset(other);   /* the previous message: its validity has ended */
    if (buf_append(other, l->data, l->len) < 0)
        return out_of_memory(err);
    message_of_held(g, out);
    g->cur = !g->cur;
    g->state = next;
    g->start = l->start;
    g->end = l->end;
    g->last_line_at = l->now;
    return 1;
}

static int hold_first_line(ml_group *g, const fed_line *l, sl_error *err)
{
    buf *b = &g->buf[g->cur];
    buf_reset(b);
    if (buf_append(b, l->data, l->len) < 0)
        return out_of_memory(err);
    g->state = HELD_GROUP;
    g->start = l->start;
    g->end = l->end;
    g->last_line_at = l->now;
    return 0;
}

static int append_line(ml_group *g, const fed_line *l, sl_error *err)
{
    buf *b = &g->buf[g->cur];
    if (buf_reserve(b, 1 + l->len) < 0)
        return out_of_memory(err);
    /* Reserved: neither append can fail now. */
    buf_append_char(b, '\n');
    buf_append(b, l->data, l->len);
    g->end = l->end;
    g->last_line_at = l->now;
    return 0;
}

static int feed_with_nothing_held(ml_group *g, const fed_line *l, ml_message *out,
                                  sl_error *err)
{
    if (state_of_fresh_line(g, l) == HELD_MESSAGE) {
        message_of_line(l, out);
        return 1;
    }
    return hold_first_line(g, l, err);
}

static int feed_to_open_group(ml_group *g, const fed_line *l, ml_message *out, sl_error *err)
{
    decision d = decide(g, l);
    if (d == END_BEFORE)
        return emit_held_and_hold_line(g, l, state_of_fresh_line(g, l), out, err);
    if (joining_would_exceed_max(g, l))
        return emit_held_and_hold_line(g, l, d == JOIN ? HELD_GROUP : HELD_MESSAGE, out, err);
    if (append_line(g, l, err) < 0)
        return -1;
    if (d == JOIN)
        return 0;
    message_of_held(g, out);
    g->state = HELD_NOTHING;
    return 1;
}

int ml_feed(ml_group *g, const char *line, size_t len, uint64_t start, uint64_t end,
            int64_t now, ml_message *out, sl_error *err)
{
    fed_line l = {line, len, start, end, now};
    switch (g->state) {
    case HELD_NOTHING:
        return feed_with_nothing_held(g, &l, out, err);
    case HELD_GROUP:
        return feed_to_open_group(g, &l, out, err);
    case HELD_MESSAGE:
        /* The waiting message goes first; this line cannot go out in the
         * same call, so it is held whatever it turns out to be. */
        return emit_held_and_hold_line(g, &l, state_of_fresh_line(g, &l), out, err);
    }
    return 0;
}

static bool group_timed_out(const ml_group *g, int64_t now)
{
    return now - g->last_line_at >= g->rules->timeout_ns;
}

int ml_flush(ml_group *g, int64_t now, bool force, ml_message *out)
{
    if (g->state == HELD_NOTHING)
        return 0;
    if (g->state == HELD_GROUP && !force && !group_timed_out(g, now))
        return 0;
    message_of_held(g, out);
    g->state = HELD_NOTHING;
    return 1;
}

uint64_t ml_held_from(const ml_group *g)
{
    return g->state == HELD_NOTHING ? UINT64_MAX : g->start;
}
