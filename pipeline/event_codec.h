/* event_codec.h - events as compact bytes, for the disk buffer.
 *
 * A disk buffer record holds one batch's events in this binary form (then
 * lz4-compressed). It keeps everything the event model can hold: every value
 * kind (byte strings with NULs and invalid UTF-8 included), metadata, and
 * metrics of every type with tags, timestamps and intervals, so an event read
 * back from disk is value_equal to the one written.
 *
 * The format starts with a version byte; integers are little-endian or
 * varints, strings are length-prefixed and copied with memcpy. Decoding is
 * built for bytes that may be anything (a checksum protects records, but a
 * reader must survive a checksum collision and the fuzzer): every length is
 * bounds-checked, nesting is limited, and a bad input returns -1 with a
 * message, never reads out of bounds. */
#ifndef SLUICE_EVENT_CODEC_H
#define SLUICE_EVENT_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "pipeline/batch.h"
#include "pipeline/buf.h"

/* Nesting deeper than this (maps and arrays) is refused by both sides. A
 * log's field map is the first level, as a JSON document's outer object is
 * for the JSON decoder, so whatever that decoder accepts fits. */
#define EVENT_CODEC_MAX_DEPTH 128

/* Appends the encoding of b's events to out. -1 (err), out as it was, on
 * allocation failure, a value nested deeper than EVENT_CODEC_MAX_DEPTH, or
 * an event the decoder would refuse (map keys or metric tags out of order,
 * an unknown event type, value kind or metric enum), so that what is
 * written can always be read back. */
int event_codec_encode(const batch *b, buf *out, sl_error *err);

/* Decodes the n bytes at data into events pushed onto b (whose arena holds
 * their maps, arrays and tags). Strings are not copied: they point into
 * data, so data must live in b's arena or otherwise outlive b. Metric
 * strings come back NUL-terminated (the terminator is in the record); map
 * keys and byte strings are not, as value.h never promises it. Returns the
 * number of events decoded, or -1 (err) on malformed input or allocation
 * failure; b may then hold part of the events, and the caller drops it. */
int64_t event_codec_decode(batch *b, const uint8_t *data, size_t n, sl_error *err);

#endif
