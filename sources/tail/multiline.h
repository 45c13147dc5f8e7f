/* multiline.h - Vector's `multiline` option of the `file` source: joins
 * consecutive lines of one file into one message (stack traces, lines
 * continued with `\`, records ended by `;`).
 *
 * Pure: no I/O, no threads, no clock; the caller feeds lines with their file
 * offsets and the monotonic time, and polls for timeouts. It follows
 * Vector's line aggregator (src/line_agg.rs) exactly:
 *
 * - Nothing held: a line matching start_pattern opens a group; any other
 *   line is a message on its own.
 * - A group held: condition_pattern is tested on the line and the mode
 *   decides:
 *       mode              matches                   does not match
 *       continue_through  appended                  group ends before it
 *       continue_past     appended                  appended, group ends
 *       halt_before       group ends before it      appended
 *       halt_with         appended, group ends      appended
 *   A line the group ends before is then taken as if nothing were held: it
 *   opens the next group only if it matches start_pattern.
 * - Lines of a message are joined with "\n". Patterns are searched anywhere
 *   in the line (unanchored, as Rust's is_match).
 * - A group is emitted once timeout_ms pass without a line joining it.
 *
 * Two things differ from Vector, both because the file source's line hook
 * may push at most one event per line:
 *
 * - When a line ends a group and stands alone (it matches neither the
 *   condition that would keep it nor start_pattern), Vector emits both at
 *   once. Here the group is emitted and the line is kept as a complete
 *   message, released by the next ml_feed() or ml_flush() (any flush, not
 *   only after the timeout). Order and content are Vector's.
 * - Vector's groups have no size bound. Here a message never grows past
 *   max_bytes: when appending a line would make it longer, the group is
 *   emitted as it is and that line starts the next one, whether or not it
 *   matches start_pattern (a line that would have ended the group is then a
 *   message on its own). An over-long stack trace thus becomes several
 *   consecutive messages instead of one message followed by every remaining
 *   line alone. A single line longer than max_bytes is still taken whole:
 *   the source's max_line_bytes bounds lines.
 *
 * Patterns are PCRE2 with the JIT, in UTF mode accepting invalid UTF-8 (an
 * invalid sequence simply does not match), `$` only at the very end of the
 * line as in Rust, \s \d \w ASCII-only, and a backtracking limit; a line on
 * which a pattern hits the limit counts as not matching.
 *
 * Ownership: ml_rules is immutable after ml_rules_new() and may be shared by
 * any number of groups and threads. An ml_group belongs to one file and is
 * driven by one thread; it owns the bytes it holds, and must not outlive its
 * rules. */
#ifndef SLUICE_MULTILINE_H
#define SLUICE_MULTILINE_H

#include "pipeline/common.h"

typedef enum ml_mode {
    ML_CONTINUE_THROUGH = 0,
    ML_CONTINUE_PAST,
    ML_HALT_BEFORE,
    ML_HALT_WITH
} ml_mode;

/* The modes' names in Vector's configuration, indexed by ml_mode and ended
 * by NULL, so that an option table's enum fills an ml_mode directly. */
extern const char *const ml_mode_names[];

typedef struct ml_config {
    const char *start_pattern;
    const char *condition_pattern;
    ml_mode mode;
    uint64_t timeout_ms;
    size_t max_bytes;          /* the longest joined message; see above */
} ml_config;

typedef struct ml_rules ml_rules;

/* Compiles both patterns. A bad pattern fails with a message naming it and
 * the offset in it: "multiline.condition_pattern is not a valid regex:
 * missing closing parenthesis (at pattern offset 4)". */
int ml_rules_new(const ml_config *c, ml_rules **out, sl_error *err);
void ml_rules_free(ml_rules *r);

/* One file's aggregation state. */
typedef struct ml_group ml_group;

/* NULL when out of memory. */
ml_group *ml_group_new(const ml_rules *r);
void ml_group_free(ml_group *g);

typedef struct ml_message {
    const char *data;          /* valid until the next call on the group */
    size_t len;
    uint64_t end;              /* file offset just past its last line's delimiter */
} ml_message;

/* Feeds one line, without its delimiter, that starts at file offset `start`
 * and whose delimiter ends at `end`; now is the monotonic time in ns. 1 with
 * *out filled when a message is complete: either `line` itself when it
 * passes through alone, or bytes the group owns. 0 when the line is held.
 * -1 when out of memory, with the group as it was before the call. */
int ml_feed(ml_group *g, const char *line, size_t len, uint64_t start, uint64_t end,
            int64_t now, ml_message *out, sl_error *err);

/* Releases a message that is complete but held back (see above), or the
 * open group once timeout_ms have passed since its last line, or at once
 * when force is set (the file is closed). 1 with *out, else 0. After a
 * forced flush nothing is held. */
int ml_flush(ml_group *g, int64_t now, bool force, ml_message *out);

/* The file offset of the first byte held, or UINT64_MAX when nothing is:
 * a checkpoint must not pass it, so a restart reads held lines again. */
uint64_t ml_held_from(const ml_group *g);

#endif
