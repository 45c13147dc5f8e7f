/* common.h - error reporting and small helpers shared by every module.
 *
 * Functions that can fail return 0 on success and -1 on failure, and fill an
 * sl_error the caller owns with a message it can show as is (curl style).
 * Nothing below main() exits the process. */
#ifndef SLUICE_COMMON_H
#define SLUICE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define SL_ERRMSG_MAX 512

typedef struct sl_error {
    char msg[SL_ERRMSG_MAX];
} sl_error;

#if defined(__GNUC__)
#define SL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SL_PRINTF(a, b)
#endif

/* Formats the message into err (when err is not NULL) and returns -1, so a
 * failing path reads `return sl_fail(err, "...", ...);`. */
int sl_fail(sl_error *err, const char *fmt, ...) SL_PRINTF(2, 3);

/* Monotonic and wall clocks in nanoseconds. */
int64_t sl_now_mono_ns(void);
int64_t sl_now_wall_ns(void);

/* The machine's host name, resolved once; never NULL. */
const char *sl_hostname(void);

#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SL_UNUSED(x) ((void)(x))

#endif
