/* log.c - the service's own log on stderr (see log.h).
 *
 * Every line is built in memory and written with one write() under one
 * mutex, so lines from different threads never interleave. Text lines look
 * like Vector's tracing output:
 *
 *   2026-11-21T10:00:00.123456Z  INFO sluice::component{id=out}: message
 *
 * JSON lines are built with jansson (a cold path) so escaping is right.
 *
 * Rate limiting: the first occurrence of a (component, message) pair opens a
 * 10-second window in a small table; identical lines inside the window are
 * only counted. Once a window is over, the next call to the logger (or
 * slog_flush) writes "message (repeated N times)" when any were suppressed
 * and forgets the entry. A full table evicts its oldest entry, summarising it
 * first, so no count is silently lost. */
#include "pipeline/log.h"
#include "pipeline/buf.h"
#include "pipeline/sltime.h"
#include "pipeline/utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SLOG_WINDOW_NS (10LL * 1000000000LL)
#define SLOG_TABLE_SIZE 64
#define SLOG_MESSAGE_STACK 1024

typedef struct slog_recent {
    char *component;       /* NULL for the process itself */
    char *message;         /* NULL marks a free slot */
    slog_level level;
    int64_t first_ns;      /* monotonic start of the window */
    uint64_t suppressed;
} slog_recent;

static atomic_int current_level = SLOG_INFO;
static atomic_int current_format = SLOG_TEXT;
static pthread_mutex_t slog_lock = PTHREAD_MUTEX_INITIALIZER;
static slog_recent recent[SLOG_TABLE_SIZE];

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"};
static const char *const level_keys[] = {"trace", "debug", "info", "warn", "error"};

int slog_parse_level(const char *name, slog_level *out)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < SL_ARRAY_LEN(level_keys); i++) {
        if (strcasecmp(name, level_keys[i]) == 0) {
            *out = (slog_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = SLOG_WARN;
        return 0;
    }
    return -1;
}

int slog_parse_format(const char *name, slog_format *out)
{
    if (name && strcasecmp(name, "text") == 0) {
        *out = SLOG_TEXT;
        return 0;
    }
    if (name && strcasecmp(name, "json") == 0) {
        *out = SLOG_JSON;
        return 0;
    }
    return -1;
}

void slog_configure(slog_level level, slog_format format)
{
    atomic_store(&current_level, (int)level);
    atomic_store(&current_format, (int)format);
}

bool slog_enabled(slog_level level)
{
    return (int)level >= atomic_load_explicit(&current_level, memory_order_relaxed);
}

/* ---- formatting ---- */

static void format_timestamp(char *out, size_t size)
{
    sltime_fields t;
    sltime_fields_from_ns(sl_now_wall_ns(), &t);
    snprintf(out, size, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ", (long long)t.year, t.month,
             t.day, t.hour, t.minute, t.second, t.nanos / 1000);
}

/* Control characters would split one record over several lines (or forge
 * one), so text lines carry them escaped. */
static int append_text_escaped(buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (*p == '\n')
            rc = buf_append(out, "\\n", 2);
        else if (*p == '\r')
            rc = buf_append(out, "\\r", 2);
        else if (*p < 0x20 || *p == 0x7f)
            rc = buf_printf(out, "\\x%02x", *p);
        else
            rc = buf_append_char(out, (char)*p);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int format_text_line(buf *out, const char *ts, slog_level level,
                            const char *component, const char *message)
{
    if (buf_printf(out, "%s %5s sluice", ts, level_names[level]) < 0)
        return -1;
    if (component && (buf_append_str(out, "::component{id=") < 0 ||
                      append_text_escaped(out, component) < 0 ||
                      buf_append_char(out, '}') < 0))
        return -1;
    if (buf_append_str(out, ": ") < 0 || append_text_escaped(out, message) < 0)
        return -1;
    return buf_append_char(out, '\n');
}

/* jansson refuses invalid UTF-8; a log line must still be written, so each
 * byte of an invalid sequence becomes U+FFFD. Returns a malloc'd copy or
 * NULL on failure. */
static char *utf8_sanitized(const char *s)
{
    buf out = BUF_INIT;
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    while (left) {
        uint32_t cp;
        size_t n = utf8_decode(p, left, &cp);
        bool valid = cp != UTF8_INVALID;
        int rc = valid ? buf_append(&out, p, n) : buf_append(&out, "\xef\xbf\xbd", 3);
        if (rc < 0) {
            buf_free(&out);
            return NULL;
        }
        n = valid ? n : 1;
        p += n;
        left -= n;
    }
    return buf_detach(&out);
}

static json_t *json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *clean = utf8_sanitized(s);
    if (!clean)
        return NULL;
    j = json_string(clean);
    free(clean);
    return j;
}

static int object_set_text(json_t *obj, const char *key, const char *value)
{
    json_t *v = json_text(value);
    return v ? json_object_set_new(obj, key, v) : -1;
}

static int format_json_line(buf *out, const char *ts, slog_level level,
                            const char *component, const char *message)
{
    json_t *obj = json_object();
    if (!obj)
        return -1;
    int rc = -1;
    if (object_set_text(obj, "timestamp", ts) == 0 &&
        object_set_text(obj, "level", level_names[level]) == 0 &&
        (!component || object_set_text(obj, "component_id", component) == 0) &&
        object_set_text(obj, "message", message) == 0) {
        char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (text) {
            rc = buf_append_str(out, text) == 0 && buf_append_char(out, '\n') == 0 ? 0 : -1;
            free(text);
        }
    }
    json_decref(obj);
    return rc;
}

/* ---- output (callers hold slog_lock) ---- */

/* A failed write to stderr has nowhere to be reported. */
static void write_stderr(const char *data, size_t len)
{
    (void)sl_write_all(STDERR_FILENO, data, len);
}

/* When the line can't be built (out of memory) the message still goes out,
 * unformatted, rather than vanishing. */
static void emit_line(slog_level level, const char *component, const char *message)
{
    char ts[40];
    format_timestamp(ts, sizeof(ts));
    buf line = BUF_INIT;
    int rc = atomic_load(&current_format) == SLOG_JSON
                 ? format_json_line(&line, ts, level, component, message)
                 : format_text_line(&line, ts, level, component, message);
    if (rc == 0) {
        write_stderr(line.data, line.len);
    } else {
        write_stderr(message, strlen(message));
        write_stderr("\n", 1);
    }
    buf_free(&line);
}

static void emit_repeated(const slog_recent *r)
{
    char tail[64];
    snprintf(tail, sizeof(tail), " (repeated %llu times)", (unsigned long long)r->suppressed);
    buf msg = BUF_INIT;
    if (buf_append_str(&msg, r->message) == 0 && buf_append_str(&msg, tail) == 0)
        emit_line(r->level, r->component, msg.data);
    else
        emit_line(r->level, r->component, r->message);
    buf_free(&msg);
}

static void recent_retire(slog_recent *r)
{
    if (r->suppressed)
        emit_repeated(r);
    free(r->component);
    free(r->message);
    memset(r, 0, sizeof(*r));
}

static void retire_expired(int64_t now)
{
    for (size_t i = 0; i < SLOG_TABLE_SIZE; i++)
        if (recent[i].message && now - recent[i].first_ns >= SLOG_WINDOW_NS)
            recent_retire(&recent[i]);
}

static bool same_component(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static slog_recent *recent_find(const char *component, const char *message)
{
    for (size_t i = 0; i < SLOG_TABLE_SIZE; i++)
        if (recent[i].message && strcmp(recent[i].message, message) == 0 &&
            same_component(recent[i].component, component))
            return &recent[i];
    return NULL;
}

/* A free slot, or the oldest entry retired to make one. */
static slog_recent *recent_slot(void)
{
    slog_recent *oldest = &recent[0];
    for (size_t i = 0; i < SLOG_TABLE_SIZE; i++) {
        if (!recent[i].message)
            return &recent[i];
        if (recent[i].first_ns < oldest->first_ns)
            oldest = &recent[i];
    }
    recent_retire(oldest);
    return oldest;
}

/* Opens a window for the line. Without memory for the entry the line is
 * simply not rate-limited. */
static void recent_remember(slog_level level, const char *component, const char *message,
                            int64_t now)
{
    slog_recent *r = recent_slot();
    char *c = component ? strdup(component) : NULL;
    char *m = strdup(message);
    if (!m || (component && !c)) {
        free(c);
        free(m);
        return;
    }
    *r = (slog_recent){c, m, level, now, 0};
}

static void slog_message(slog_level level, const char *component, const char *message)
{
    int64_t now = sl_now_mono_ns();
    pthread_mutex_lock(&slog_lock);
    retire_expired(now);
    slog_recent *r = recent_find(component, message);
    if (r) {
        r->suppressed++;
    } else {
        emit_line(level, component, message);
        recent_remember(level, component, message, now);
    }
    pthread_mutex_unlock(&slog_lock);
}

void slog(slog_level level, const char *component, const char *fmt, ...)
{
    if ((unsigned)level >= SL_ARRAY_LEN(level_names) || !slog_enabled(level))
        return;
    char stack[SLOG_MESSAGE_STACK];
    char *message = stack;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof(stack), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* A long message gets a heap buffer; without one it is cut, not lost. */
    if ((size_t)n >= sizeof(stack)) {
        char *heap = malloc((size_t)n + 1);
        if (heap) {
            va_start(ap, fmt);
            vsnprintf(heap, (size_t)n + 1, fmt, ap);
            va_end(ap);
            message = heap;
        }
    }
    slog_message(level, component, message);
    if (message != stack)
        free(message);
}

void slog_flush(void)
{
    pthread_mutex_lock(&slog_lock);
    for (size_t i = 0; i < SLOG_TABLE_SIZE; i++)
        if (recent[i].message)
            recent_retire(&recent[i]);
    pthread_mutex_unlock(&slog_lock);
}

void slog_limited(log_limiter *l, int64_t interval_ns, slog_level level, const char *component,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    slog_limitedv(l, interval_ns, level, component, fmt, ap);
    va_end(ap);
}

void slog_limitedv(log_limiter *l, int64_t interval_ns, slog_level level, const char *component,
                   const char *fmt, va_list ap)
{
    uint64_t held;
    if (!log_limiter_allow(l, interval_ns, &held))
        return;
    char msg[SLOG_MESSAGE_STACK];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (held)
        slog(level, component, "%s (%" PRIu64 " similar messages suppressed)", msg, held);
    else
        slog(level, component, "%s", msg);
}

bool log_limiter_allow(log_limiter *l, int64_t interval_ns, uint64_t *held)
{
    int64_t now = sl_now_mono_ns();
    int_fast64_t next = atomic_load(&l->next_ns);
    if (now < next || !atomic_compare_exchange_strong(&l->next_ns, &next, now + interval_ns)) {
        atomic_fetch_add(&l->held, 1);
        return false;
    }
    *held = atomic_exchange(&l->held, 0);
    return true;
}

uint64_t log_limiter_take_held(log_limiter *l)
{
    return atomic_exchange(&l->held, 0);
}
