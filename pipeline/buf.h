/* buf.h - a growable byte buffer on the heap.
 *
 * Used on cold paths (API responses, config messages, docs) and by encoders
 * that write a whole payload before handing it to a socket or file. The buffer
 * owns its memory; buf_free() releases it. Appends report allocation failure
 * by returning -1 and leave the contents as they were. */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stddef.h>
#include <stdarg.h>
#include "pipeline/common.h"

typedef struct buf {
    char *data;   /* always NUL-terminated when len > 0 or after buf_reserve */
    size_t len;
    size_t cap;
} buf;

#define BUF_INIT {NULL, 0, 0}

int buf_reserve(buf *b, size_t extra);
int buf_append(buf *b, const void *data, size_t n);
int buf_append_str(buf *b, const char *s);
int buf_append_char(buf *b, char c);
int buf_printf(buf *b, const char *fmt, ...) SL_PRINTF(2, 3);
int buf_vprintf(buf *b, const char *fmt, va_list ap);
void buf_reset(buf *b);   /* len = 0, memory kept */
void buf_free(buf *b);
/* Hands the NUL-terminated contents to the caller (free() them) and resets b. */
char *buf_detach(buf *b);

#endif
