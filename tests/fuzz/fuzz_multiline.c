/* fuzz_multiline.c - libFuzzer target for the file source's multiline
 * aggregator, which groups lines read from files anyone may write.
 *
 * The first byte picks the mode (with a pair of patterns Vector's docs use
 * for it) and whether flushes happen between lines; the second the message
 * size bound. The rest is read as lines. Whatever the lines, the messages
 * must be the lines themselves, in order, each exactly once, joined with
 * "\n"; their ends must advance; nothing held may lie before the last
 * message's end; and only a single line may exceed the bound. A failed
 * check traps, which libFuzzer reports with the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/tail/multiline.h"

static void require(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static const ml_config configs[4] = {
    {"^[^\\s]", "^[\\s]+", ML_CONTINUE_THROUGH, 1000, 0},
    {"\\\\$", "\\\\$", ML_CONTINUE_PAST, 1000, 0},
    {"^(INFO|ERROR) ", "^(INFO|ERROR) ", ML_HALT_BEFORE, 1000, 0},
    {"[^;]$", ";$", ML_HALT_WITH, 1000, 0},
};

/* What the messages have spelled so far, to compare with the input. */
typedef struct seen {
    char *text;
    size_t len;
    size_t messages;
    uint64_t last_end;
    size_t max_bytes;
} seen;

static void take(seen *s, const ml_message *m)
{
    if (s->messages++)
        s->text[s->len++] = '\n';
    memcpy(s->text + s->len, m->data, m->len);
    s->len += m->len;
    require(m->end > s->last_end);
    s->last_end = m->end;
    require(m->len <= s->max_bytes || memchr(m->data, '\n', m->len) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    ml_config c = configs[data[0] & 3];
    bool flushes = data[0] & 4;
    c.max_bytes = data[1] ? (size_t)data[1] * 4 : 1u << 20;
    const char *text = (const char *)data + 2;
    size_t n = size - 2;
    ml_rules *rules = NULL;
    sl_error err;
    if (ml_rules_new(&c, &rules, &err) < 0)
        __builtin_trap();
    ml_group *g = ml_group_new(rules);
    seen s = {malloc(n + 1), 0, 0, 0, c.max_bytes};
    require(g && s.text);
    ml_message m;
    int64_t now = 0;
    size_t at = 0;
    while (at < n) {
        const char *nl = memchr(text + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (text + at)) : n - at;
        uint64_t start = at, end = at + len + 1;
        int rc = ml_feed(g, text + at, len, start, end, now, &m, &err);
        require(rc >= 0);
        if (rc == 1)
            take(&s, &m);
        require(ml_held_from(g) == UINT64_MAX || ml_held_from(g) >= s.last_end);
        now += 400 * 1000000LL;
        if (flushes && ml_flush(g, now, false, &m))
            take(&s, &m);
        at = end;
    }
    if (ml_flush(g, now, true, &m))
        take(&s, &m);
    require(ml_held_from(g) == UINT64_MAX);
    /* The input's lines joined with "\n" are the input without a final
     * newline. */
    size_t want = n && text[n - 1] == '\n' ? n - 1 : n;
    require(s.len == want && memcmp(s.text, text, want) == 0);
    free(s.text);
    ml_group_free(g);
    ml_rules_free(rules);
    return 0;
}
