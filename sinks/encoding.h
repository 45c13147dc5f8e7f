/* encoding.h - the `encoding.codec` options of the console and file sinks
 * (and later the http sink): one event at a time, without framing.
 *
 *   json    a log as its JSON map; a metric in Vector's native JSON shape
 *   text    a log's `message` field; a metric in Vector's display form
 *           `TIMESTAMP NAMESPACE_NAME{tag="v"} = 1.5` (`+` for incremental)
 *   logfmt  a log's fields flattened as `a.b=c` pairs, quoted when needed
 */
#ifndef SLUICE_ENCODING_H
#define SLUICE_ENCODING_H

#include "pipeline/buf.h"
#include "pipeline/event.h"
#include "config/options.h"

typedef enum encoding_codec {
    ENCODING_JSON = 0,
    ENCODING_TEXT,
    ENCODING_LOGFMT,
} encoding_codec;

/* NULL-terminated, in enum order. */
extern const char *const encoding_codec_names[];
/* The codecs' names and values, for option tables. */
extern const opt_enum_value encoding_codec_values[];

int encoding_write_event(buf *out, encoding_codec codec, const event *e);

#endif
