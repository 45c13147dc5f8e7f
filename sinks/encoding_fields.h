/* encoding_fields.h - Vector's sink `encoding` transformer: only_fields,
 * except_fields and timestamp_format, parsed once and applied to each log
 * before a sink's codec encodes it. The event is shared with other sinks
 * and may be encoded again, so it is never changed: the sink gets a view.
 *
 * A sink lists ENCODING_FIELDS_OPTIONS(T) in its `encoding` object's table
 * (T has opt_list only_fields, except_fields and int timestamp_format at
 * the names given) and calls encoding_fields_init with them. */
#ifndef SLUICE_ENCODING_FIELDS_H
#define SLUICE_ENCODING_FIELDS_H

#include "pipeline/arena.h"
#include "pipeline/event.h"
#include "pipeline/path.h"
#include "config/options.h"

/* "rfc3339" (the default), "unix", "unix_ms", "unix_us", "unix_ns",
 * "unix_float". */
extern const opt_enum_value encoding_timestamp_format_values[];

#define ENCODING_FIELDS_OPTIONS(T, only, except, tsformat)                                \
    OPT_LIST_ROW("only_fields", T, only, .help = "Paths of the only log fields to send."), \
    OPT_LIST_ROW("except_fields", T, except, .help = "Paths of log fields not to send."),   \
    OPT_ENUM_ROW("timestamp_format", T, tsformat, encoding_timestamp_format_values,         \
        .def = "rfc3339",                                                                 \
        .help = "How timestamps are written: rfc3339, unix, unix_ms, unix_us, unix_ns or " \
                "unix_float.")

typedef struct encoding_fields {
    path *only, *except;
    size_t nonly, nexcept;
    int timestamp_format;
    bool active;          /* anything to do */
    arena *scratch;       /* where views are built; replaced now and then */
    unsigned scratch_uses;
} encoding_fields;

/* Parses the paths. 0, or -1 with err. */
int encoding_fields_init(encoding_fields *f, const opt_list *only, const opt_list *except,
                         int timestamp_format, sl_error *err);
void encoding_fields_free(encoding_fields *f);
/* e as the encoding options want it: e itself when they change nothing for
 * it, else *view, valid until the next call; NULL out of memory. */
const event *encoding_fields_apply(encoding_fields *f, const event *e, event *view);

#endif
