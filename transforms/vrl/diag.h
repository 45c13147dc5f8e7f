/* diag.h - compile-time messages of the remap language, in VRL's shape.
 *
 * Every stage before run time (lexer, parser, type checker, compiler) refuses
 * a program the same way: a code, a title, the line and column, the source
 * line with carets under the offending span, and an optional hint, all in the
 * caller's sl_error:
 *
 *   error[E103]: unhandled fallible assignment
 *     --> 2:10
 *      |
 *    2 | .level = parse_json(.message)
 *      |          ^^^^^^^^^^^^^^^^^^^^ this expression is fallible
 *      = handle the error with `!`, `??` or `value, err = ...`
 *
 * Spans are byte offsets into the source; columns count characters, so a
 * caret sits under the right glyph on lines holding UTF-8 or tabs. */
#ifndef SLUICE_VRL_DIAG_H
#define SLUICE_VRL_DIAG_H

#include <stdint.h>
#include <stddef.h>

#include "pipeline/common.h"

/* Bytes [start, end) of the program source. */
typedef struct vrl_span {
    uint32_t start, end;
} vrl_span;

typedef struct vrl_source {
    const char *text;
    size_t len;
} vrl_source;

static inline vrl_span vrl_span_join(vrl_span a, vrl_span b)
{
    vrl_span s = {a.start < b.start ? a.start : b.start, a.end > b.end ? a.end : b.end};
    return s;
}

/* Fills err with the message and returns -1. note may be NULL. */
int vrl_diag(sl_error *err, const vrl_source *src, int code, const char *title, vrl_span at,
             const char *note, const char *label_fmt, ...) SL_PRINTF(7, 8);

/* A set of VRL_KIND() bits as messages name it: "string", "integer or
 * float", "null, string or object", "any". */
void vrl_kinds_describe(uint16_t kinds, char *out, size_t cap);

/* 1-based line and column (in characters) of a byte offset. */
void vrl_line_col(const vrl_source *src, uint32_t offset, uint32_t *line, uint32_t *col);

#endif
