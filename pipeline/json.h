/* json.h - the hot-path JSON codec, writing straight into and out of the
 * event model.
 *
 * A DOM library allocates per node; this codec decodes a line into values in
 * the batch's arena (strings without escapes point into the input) and encodes
 * events into a buf with keys in map order (sorted, as Vector prints them).
 * Invalid UTF-8 in strings is replaced by U+FFFD on output, as Vector does.
 * jansson is the reference it is tested against (unit and differential fuzz).
 * The encoder is json_encode.c, the decoder json_decode.c, the text forms of
 * doubles json_number.c. */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include "pipeline/common.h"
#include "pipeline/buf.h"
#include "pipeline/value.h"
#include "pipeline/event.h"

/* Longest text json_format_float writes, with its NUL. */
#define JSON_FLOAT_MAX 32

/* A double as serde_json writes it (ryu): the shortest text that reads back
 * to the same double, always with a fraction or an exponent ("1.0", "0.1",
 * "1e20", "1.5e-7"); "null" when not finite. Returns the length written. */
size_t json_format_float(char out[JSON_FLOAT_MAX], double f);
/* A double as Rust's Display writes it (Vector's text forms): the same
 * digits without exponent or trailing ".0" ("1", "0.1", "100000000000000000000"),
 * "NaN", "inf", "-inf". */
int json_append_float_display(buf *out, double f);
/* Appends n bytes with each invalid UTF-8 sequence replaced by U+FFFD, as
 * Rust's String::from_utf8_lossy does. */
int json_append_utf8_lossy(buf *out, const char *s, size_t n);

/* Appends v as Vector's to_string_lossy writes a value: bytes as they are
 * (with `lossy`, read as UTF-8 with invalid sequences as U+FFFD), integers,
 * floats (json_append_float_display), booleans and timestamps (RFC 3339) as
 * text, maps and arrays as JSON, null as null_text. -1 when out of memory. */
int json_append_text(buf *out, const value *v, bool lossy, const char *null_text);

/* Appends s as a quoted JSON string. */
int json_encode_string(buf *out, const char *s, size_t n);
int json_encode_value(buf *out, const value *v);
/* A log as its field map; a metric in Vector's native JSON shape:
 * {"name","namespace","tags","timestamp","interval_ms","kind",
 *  "counter":{"value"} | "gauge":{"value"} | "set":{"values"} |
 *  "distribution":{"samples":[{"value","rate"}],"statistic"} |
 *  "aggregated_histogram":{"buckets":[{"upper_limit","count"}],"count","sum"} |
 *  "aggregated_summary":{"quantiles":[{"quantile","value"}],"count","sum"}} */
int json_encode_event(buf *out, const event *e);

/* Decodes one JSON document (surrounding whitespace allowed, nothing else)
 * into *out, allocating from a. Strings may point into `text`, which must
 * outlive the value (it does when it is the batch's raw input). Objects with
 * repeated keys keep the last value. Nesting deeper than 128 is an error.
 * -1 with a message naming the byte offset on malformed input. */
int json_decode(arena *a, const char *text, size_t n, value *out, sl_error *err);

#endif
