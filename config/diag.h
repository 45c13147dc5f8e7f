/* diag.h - the problems found in a configuration, collected rather than
 * stopping at the first one, so `validate` can name every problem at once.
 *
 * Each diagnostic carries a level, the position (file:line), the component it
 * concerns (may be empty) and the message. The list owns its strings. */
#ifndef SLUICE_DIAG_H
#define SLUICE_DIAG_H

#include <stddef.h>
#include "pipeline/common.h"
#include "pipeline/buf.h"
#include "config/cfg_node.h"

typedef enum diag_level {
    DIAG_ERROR = 0,
    DIAG_WARNING,
} diag_level;

typedef struct diag {
    diag_level level;
    char *file;       /* NULL when not tied to a file */
    int line;         /* 0 when unknown */
    char *component;  /* "sources.in", "sinks.out", or NULL */
    char *msg;
} diag;

typedef struct diag_list {
    diag *items;
    size_t n, cap;
} diag_list;

#define DIAG_LIST_INIT {NULL, 0, 0}

/* Adds a diagnostic positioned at `where` (may be NULL). Allocation failure
 * is recorded as a generic "out of memory" error, never dropped silently. */
void diag_add(diag_list *l, diag_level level, const cfg_node *where,
              const char *component, const char *fmt, ...) SL_PRINTF(5, 6);
void diag_add_at(diag_list *l, diag_level level, const char *file, int line,
                 const char *component, const char *fmt, ...) SL_PRINTF(6, 7);
size_t diag_errors(const diag_list *l);
/* "FILE:LINE: sinks.out: message" (parts omitted when unknown). */
int diag_format(const diag *d, buf *out);
void diag_list_free(diag_list *l);

#endif
