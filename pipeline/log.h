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

#define slog_error(c, ...) slog(SLOG_ERROR, (c), __VA_ARGS__)
#define slog_warn(c, ...) slog(SLOG_WARN, (c), __VA_ARGS__)
#define slog_info(c, ...) slog(SLOG_INFO, (c), __VA_ARGS__)
#define slog_debug(c, ...) slog(SLOG_DEBUG, (c), __VA_ARGS__)

#endif
