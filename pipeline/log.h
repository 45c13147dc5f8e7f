/* log.h - the service's own log on stderr.
 *
 * Levelled, as text like Vector's
 * ("2026-11-21T10:00:00.123456Z ERROR sluice::component{id=out}: message")
 * or as one JSON object per line (--log-format json). A message repeated
 * identically within a few seconds is written once, then summarised with a
 * count, so a failing peer can't flood the log. Thread-safe. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include "pipeline/common.h"

#include <stdarg.h>
#include <stdatomic.h>

typedef enum slog_level {
    SLOG_TRACE = 0,
    SLOG_DEBUG,
    SLOG_INFO,
    SLOG_WARN,
    SLOG_ERROR,
} slog_level;

typedef enum slog_format {
    SLOG_TEXT = 0,
    SLOG_JSON,
} slog_format;

/* -1 for an unknown name. */
int slog_parse_level(const char *name, slog_level *out);
int slog_parse_format(const char *name, slog_format *out);
void slog_configure(slog_level level, slog_format format);
bool slog_enabled(slog_level level);

/* component may be NULL (the process itself). */
void slog(slog_level level, const char *component, const char *fmt, ...) SL_PRINTF(3, 4);

/* Writes the pending "(repeated N times)" summaries now instead of at the
 * next line after their window: at shutdown, so no count is lost. */
void slog_flush(void);

/* At most one message per interval for one kind of trouble (a failing
 * endpoint, a broken input file), each saying how many were held back, so a
 * stream of bad input can't flood the log. Zeroed memory is a fresh limiter.
 * Thread-safe: of the threads that race for a window one logs, the others
 * count. */
typedef struct log_limiter {
    atomic_int_fast64_t next_ns;
    atomic_uint_fast64_t held;
} log_limiter;

/* True when a message of this kind may be written now: *held gets how many
 * were held back since the last one and the next window starts. False counts
 * one more held back. */
bool log_limiter_allow(log_limiter *l, int64_t interval_ns, uint64_t *held);
/* How many were held back since the last message, now forgotten: for a
 * closing summary. */
uint64_t log_limiter_take_held(log_limiter *l);
/* Writes the message when l allows one now, followed by "(N similar
 * messages suppressed)" when N were held back since the last; counts one
 * more held back otherwise. */
void slog_limited(log_limiter *l, int64_t interval_ns, slog_level level, const char *component,
                  const char *fmt, ...) SL_PRINTF(5, 6);
void slog_limitedv(log_limiter *l, int64_t interval_ns, slog_level level, const char *component,
                   const char *fmt, va_list ap);

#define slog_error(c, ...) slog(SLOG_ERROR, (c), __VA_ARGS__)
#define slog_warn(c, ...) slog(SLOG_WARN, (c), __VA_ARGS__)
#define slog_info(c, ...) slog(SLOG_INFO, (c), __VA_ARGS__)
#define slog_debug(c, ...) slog(SLOG_DEBUG, (c), __VA_ARGS__)

#endif
