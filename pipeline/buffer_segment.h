/* buffer_segment.h - the disk buffer's segment files and record frames.
 *
 * A segment is an append-only file of records; its name is the id of its
 * first record in 16 hex digits plus ".seg", so names sort in record order.
 * A record frame is a 28-byte little-endian header and the payload:
 *
 *   0  magic      F1 'S' 'L' 'B'
 *   4  length     payload bytes (<= BSEG_MAX_PAYLOAD)
 *   8  count      events in the payload
 *   12 raw length payload bytes before compression (<= BSEG_MAX_RAW)
 *   16 record id  u64, > 0, increasing across segments
 *   24 crc32c     over bytes 4..24 and the payload
 *
 * This layer knows bytes only (what the payload means is disk_buffer.c's
 * business), so it can be tested and fuzzed on its own. Reading never trusts
 * the file: lengths are capped and checked against the readable end before
 * anything is allocated, and a frame that does not check out makes the
 * reader scan forward for the next magic whose record does. */
#ifndef SLUICE_BUFFER_SEGMENT_H
#define SLUICE_BUFFER_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pipeline/common.h"

#define BSEG_HEADER_SIZE 28
#define BSEG_MAX_PAYLOAD (64u << 20)
#define BSEG_MAX_RAW (256u << 20)
/* "0123456789abcdef.seg" and its NUL. */
#define BSEG_NAME_SIZE 21

typedef struct bseg_header {
    uint64_t id;
    uint32_t length;
    uint32_t count;
    uint32_t raw_length;
} bseg_header;

/* Fills out with the frame header of the record h whose payload (h->length
 * bytes) is given, checksum included. */
void bseg_frame(uint8_t out[BSEG_HEADER_SIZE], const bseg_header *h, const void *payload);

void bseg_file_name(char out[BSEG_NAME_SIZE], uint64_t first_id);
/* True when name is a segment file's name; *first_id is then its id. */
bool bseg_parse_file_name(const char *name, uint64_t *first_id);

/* Appends header and payload at `offset` (the file's end) with one writev
 * (retried while short). On failure the file is cut back to `offset`, so no
 * partial record stays, and -1 is returned with errno set. */
int bseg_append(int fd, uint64_t offset, const uint8_t header[BSEG_HEADER_SIZE],
                const void *payload, size_t length);

/* A reader walks one segment file at a time. It owns its descriptor and the
 * buffer the last record's payload is read into. */
typedef struct bseg_reader {
    int fd;             /* -1 when none is open */
    uint64_t offset;    /* where the next read starts */
    uint8_t *payload;   /* the last record's payload, valid until the next read */
    size_t payload_cap;
    uint8_t *chunk;     /* scratch for the resynchronising scan */
    bool headers_only;  /* follow plausible headers without reading payloads
                         * (bseg_scan of a segment the writer left) */
} bseg_reader;

typedef enum bseg_result {
    BSEG_RECORD = 0,   /* a record: header filled, payload in r->payload */
    BSEG_END,          /* nothing before the limit */
    BSEG_DAMAGED,      /* bytes skipped up to the next intact record (or the limit) */
    BSEG_IO_ERROR,     /* pread failed: err says why */
} bseg_result;

void bseg_reader_init(bseg_reader *r);
/* Opens path (closing the file open before) and positions at offset. */
int bseg_reader_open(bseg_reader *r, const char *path, uint64_t offset, sl_error *err);
void bseg_reader_close(bseg_reader *r);
/* Closes and frees the buffers; the reader may be initialised again. */
void bseg_reader_free(bseg_reader *r);

/* Reads the record at r->offset among the file's bytes before `limit`.
 * BSEG_RECORD: *h is the record, r->payload its payload, *at its offset, and
 * r->offset is past it. BSEG_DAMAGED: the bytes from *at are not an intact
 * record; r->offset moved to the next intact record's start, or to limit
 * when none follows, and *skipped says how far. */
bseg_result bseg_read(bseg_reader *r, uint64_t limit, bseg_header *h, uint64_t *at,
                      uint64_t *skipped, sl_error *err);

/* What a segment holds, as found by bseg_scan. */
typedef struct bseg_scan_result {
    uint64_t size;            /* file bytes after any truncation */
    uint64_t records;         /* intact records */
    uint64_t first_id;        /* of the first intact record; 0 when none */
    uint64_t last_id;         /* the highest id; 0 when none */
    uint64_t resume_offset;   /* the first record with id > after_id, else size */
    uint64_t pending_events;  /* events of the records with id > after_id (and
                               * above every id before them) */
    uint64_t damaged;         /* damaged regions skipped (before the tail) */
    uint64_t truncated;       /* torn-tail bytes cut off (last segment only) */
} bseg_scan_result;

/* Reads a segment at startup. The last segment, where a crash leaves a
 * half-written record, is read in full, checksums included, and the bytes
 * after its last intact record are cut off the file. Earlier segments were
 * fsynced before the writer left them: only their headers are followed
 * (a damaged payload is found when the record is read), which keeps startup
 * from reading the whole buffer; a header that does not check out is
 * resynchronised past as usual. -1 (err) when it can't be read or cut. */
int bseg_scan(const char *path, uint64_t after_id, bool last,
              bseg_scan_result *out, sl_error *err);

#endif
