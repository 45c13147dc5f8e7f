/* diag.c - rendering compile-time messages with a caret under the source
 * (see diag.h).
 *
 * The message must fit an sl_error, so a long source line is shown as a
 * window of at most DIAG_WINDOW bytes around the span, marked with "...".
 * Tabs before the span are copied into the caret line so the carets stay
 * aligned whatever the reader's tab width. */
#include "transforms/vrl/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "transforms/vrl/vrl.h"

#define DIAG_WINDOW 100
#define DIAG_LEAD 40

typedef struct out {
    char *p;
    size_t len, cap;
} out;

static void put_bytes(out *o, const char *s, size_t n)
{
    if (o->len + 1 >= o->cap)
        return;
    size_t room = o->cap - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void put_fmt(out *o, const char *fmt, ...) SL_PRINTF(2, 3);
static void put_fmt(out *o, const char *fmt, ...)
{
    char tmp[SL_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put_bytes(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void put_repeat(out *o, char c, size_t n)
{
    while (n--)
        put_bytes(o, &c, 1);
}

static bool is_continuation(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/* Characters (not bytes) in s[0, n). */
static size_t count_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_continuation((unsigned char)s[i]))
            chars++;
    return chars;
}

static size_t line_start(const vrl_source *src, uint32_t offset)
{
    size_t i = offset;
    while (i > 0 && src->text[i - 1] != '\n')
        i--;
    return i;
}

static size_t line_end(const vrl_source *src, size_t from)
{
    size_t i = from;
    while (i < src->len && src->text[i] != '\n' && src->text[i] != '\r')
        i++;
    return i;
}

void vrl_line_col(const vrl_source *src, uint32_t offset, uint32_t *line, uint32_t *col)
{
    if (offset > src->len)
        offset = (uint32_t)src->len;
    uint32_t l = 1;
    for (size_t i = 0; i < offset; i++)
        if (src->text[i] == '\n')
            l++;
    size_t start = line_start(src, offset);
    *line = l;
    *col = (uint32_t)count_chars(src->text + start, offset - start) + 1;
}

/* Moves i back to the start of the character it is inside. */
static size_t char_boundary(const char *s, size_t i, size_t lo)
{
    while (i > lo && is_continuation((unsigned char)s[i]))
        i--;
    return i;
}

/* The part of the line [ls, le) shown, and whether it was cut. */
typedef struct window {
    size_t from, to;
    bool cut_left, cut_right;
} window;

static window choose_window(const vrl_source *src, size_t ls, size_t le, size_t at)
{
    window w = {ls, le, false, false};
    if (le - ls <= DIAG_WINDOW)
        return w;
    if (at > ls + DIAG_LEAD) {
        w.from = char_boundary(src->text, at - DIAG_LEAD, ls);
        w.cut_left = true;
    }
    if (le - w.from > DIAG_WINDOW) {
        w.to = char_boundary(src->text, w.from + DIAG_WINDOW, w.from);
        w.cut_right = true;
    }
    return w;
}

/* The source line with the caret line under it. */
static void put_source(out *o, const vrl_source *src, vrl_span at, int width, uint32_t line,
                       const char *label)
{
    size_t ls = line_start(src, at.start);
    size_t le = line_end(src, ls);
    size_t start = at.start < le ? at.start : le;
    size_t end = at.end < le ? at.end : le;
    window w = choose_window(src, ls, le, start);
    if (end > w.to)
        end = w.to;

    put_fmt(o, " %u | ", line);
    if (w.cut_left)
        put_bytes(o, "...", 3);
    put_bytes(o, src->text + w.from, w.to - w.from);
    if (w.cut_right)
        put_bytes(o, "...", 3);
    put_bytes(o, "\n", 1);

    put_repeat(o, ' ', (size_t)width + 2);
    put_bytes(o, "| ", 2);
    if (w.cut_left)
        put_bytes(o, "   ", 3);
    for (size_t i = w.from; i < start; i++) {
        unsigned char c = (unsigned char)src->text[i];
        if (c == '\t')
            put_bytes(o, "\t", 1);
        else if (!is_continuation(c))
            put_bytes(o, " ", 1);
    }
    size_t carets = end > start ? count_chars(src->text + start, end - start) : 1;
    put_repeat(o, '^', carets ? carets : 1);
    if (label && *label) {
        put_bytes(o, " ", 1);
        put_bytes(o, label, strlen(label));
    }
}

static int digits(uint32_t n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

int vrl_diag(sl_error *err, const vrl_source *src, int code, const char *title, vrl_span at,
             const char *note, const char *label_fmt, ...)
{
    if (!err)
        return -1;
    char label[SL_ERRMSG_MAX];
    va_list ap;
    va_start(ap, label_fmt);
    vsnprintf(label, sizeof(label), label_fmt, ap);
    va_end(ap);

    uint32_t line, col;
    vrl_line_col(src, at.start, &line, &col);
    int width = digits(line);

    out o = {err->msg, 0, sizeof(err->msg)};
    err->msg[0] = '\0';
    put_fmt(&o, "error[E%03d]: %s\n", code, title);
    put_repeat(&o, ' ', (size_t)width + 1);
    put_fmt(&o, "--> %u:%u\n", line, col);
    put_repeat(&o, ' ', (size_t)width + 2);
    put_bytes(&o, "|\n", 2);
    put_source(&o, src, at, width, line, label);
    if (note && *note) {
        put_bytes(&o, "\n", 1);
        put_repeat(&o, ' ', (size_t)width + 2);
        put_fmt(&o, "= %s", note);
    }
    return -1;
}

void vrl_kinds_describe(uint16_t kinds, char *text, size_t cap)
{
    static const char *const names[] = {"null", "boolean", "integer", "float", "string",
                                        "timestamp", "array", "object", "regex"};
    if ((kinds & VRL_KIND_ANY) == VRL_KIND_ANY) {
        snprintf(text, cap, "any");
        return;
    }
    size_t len = 0, count = 0, total = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++)
        total += (kinds >> i) & 1;
    text[0] = '\0';
    for (size_t i = 0; i < SL_ARRAY_LEN(names) && len < cap; i++) {
        if (!((kinds >> i) & 1))
            continue;
        const char *sep = count == 0 ? "" : count + 1 == total ? " or " : ", ";
        int w = snprintf(text + len, cap - len, "%s%s", sep, names[i]);
        if (w < 0)
            return;
        len += (size_t)w;
        count++;
    }
    if (count == 0)
        snprintf(text, cap, "nothing");
}
