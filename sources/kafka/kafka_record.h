/* kafka_record.h - one Kafka record as sluice events.
 *
 * The `kafka` source hands each consumed record here: its payload becomes
 * `.message` (codec bytes) or the decoded object (codec json), and the
 * record's metadata is added as Vector's kafka source adds it: timestamp,
 * source_type, the key, topic, partition, offset and headers, each under a
 * configurable path, or left out when that path is "". Everything is written
 * into the arena of the batch being filled, so a record costs no malloc.
 *
 * A record is described by kafka_record_view, pointers and lengths only,
 * so that tests and the fuzzer drive the conversion without librdkafka. */
#ifndef SLUICE_KAFKA_RECORD_H
#define SLUICE_KAFKA_RECORD_H

#include "pipeline/batch.h"
#include "pipeline/common.h"
#include "pipeline/path.h"

enum { KAFKA_CODEC_BYTES = 0, KAFKA_CODEC_JSON };

typedef struct kafka_header_view {
    const char *name;
    size_t name_len;
    const void *value;       /* NULL: a header without value (left out) */
    size_t value_len;
} kafka_header_view;

typedef struct kafka_record_view {
    const char *topic;
    size_t topic_len;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms;    /* < 0: the record has none (read time is used) */
    const void *key;         /* NULL: no key (the field is null) */
    size_t key_len;
    const void *payload;
    size_t payload_len;
    const kafka_header_view *headers;
    size_t nheaders;
} kafka_record_view;

/* The field paths; a NULL or "" option leaves that field out. */
typedef struct kafka_record_keys {
    const char *key_field, *topic_key, *partition_key, *offset_key, *headers_key;
} kafka_record_keys;

enum { KAFKA_META_KEY = 0, KAFKA_META_TOPIC, KAFKA_META_PARTITION, KAFKA_META_OFFSET,
       KAFKA_META_HEADERS, KAFKA_META_COUNT };

/* A field the conversion writes: its path, and the slot of the bytes-codec
 * template when it is a top-level field. */
typedef struct kafka_record_field {
    int what;                /* KAFKA_META_* or one of the standard fields */
    path at;
    int slot;                /* template slot, or -1 when nested */
} kafka_record_field;

#define KAFKA_RECORD_FIELDS (KAFKA_META_COUNT + 3)

typedef struct kafka_record_format {
    int codec;
    kafka_record_field fields[KAFKA_RECORD_FIELDS];
    size_t nfields;
    /* The top-level fields of a bytes-codec event, in map order. */
    value_entry tmpl[KAFKA_RECORD_FIELDS];
    uint32_t ntmpl;
} kafka_record_format;

int kafka_record_format_init(kafka_record_format *f, int codec, const kafka_record_keys *keys,
                             sl_error *err);
void kafka_record_format_free(kafka_record_format *f);

typedef enum kafka_record_result {
    KAFKA_RECORD_OK = 0,         /* events added (none for an empty payload) */
    KAFKA_RECORD_NO_ROOM = 1,    /* the batch lacks room: nothing added, retry on a new one */
    KAFKA_RECORD_BAD = 2,        /* the payload does not decode: nothing added, err says why */
    KAFKA_RECORD_NO_MEMORY = -1,
} kafka_record_result;

/* Adds the events of record r to b; now_ns stands in for a missing
 * timestamp. An empty payload (a tombstone) adds nothing and is OK: the
 * caller counts it. */
kafka_record_result kafka_record_add(const kafka_record_format *f, batch *b,
                                     const kafka_record_view *r, int64_t now_ns, sl_error *err);

#endif
