/* buffer_ledger.h - the disk buffer's acknowledged position, kept on disk.
 *
 * The ledger file holds two 512-byte slots, each with a sequence number, the
 * position and a crc32c; a save overwrites the older slot and fsyncs, so a
 * crash in the middle of a save leaves the other slot intact (each slot
 * lies in its own disk sector). Loading takes the valid slot with the
 * higher sequence number. */
#ifndef SLUICE_BUFFER_LEDGER_H
#define SLUICE_BUFFER_LEDGER_H

#include <stdint.h>
#include "pipeline/common.h"

typedef struct buffer_ledger {
    int fd;
    uint64_t seq;        /* of the slot written last */
    uint64_t acked_id;   /* every record with id <= this one is finished */
} buffer_ledger;

typedef enum ledger_state {
    LEDGER_LOADED = 0,   /* a valid slot was found */
    LEDGER_MISSING,      /* no ledger file, or an empty one */
    LEDGER_CORRUPT,      /* a file with no valid slot: acked_id is 0 */
} ledger_state;

/* Opens (creating) the ledger at path and loads it into l. -1 (err) when
 * the file can't be opened or read; *state says what was found. */
int buffer_ledger_open(buffer_ledger *l, const char *path, ledger_state *state, sl_error *err);

/* Writes acked_id into the older slot and fsyncs. -1 (err) on failure. */
int buffer_ledger_save(buffer_ledger *l, uint64_t acked_id, sl_error *err);

void buffer_ledger_close(buffer_ledger *l);

#endif
