/* buffer_ledger.c - two checksummed slots holding the acknowledged record
 * id (see buffer_ledger.h). */
#include "pipeline/buffer_ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/crc32c.h"

#define SLOT_SPACING 512
#define SLOT_SIZE 24

static const uint8_t ledger_magic[4] = {0xF1, 'S', 'L', 'L'};

/* Slot layout: magic, sequence (u64), acked id (u64), crc32c of bytes 0..20. */
static void encode_slot(uint8_t *s, uint64_t seq, uint64_t acked_id)
{
    memcpy(s, ledger_magic, 4);
    for (int i = 0; i < 8; i++) {
        s[4 + i] = (uint8_t)(seq >> (8 * i));
        s[12 + i] = (uint8_t)(acked_id >> (8 * i));
    }
    uint32_t crc = crc32c(0, s, 20);
    for (int i = 0; i < 4; i++)
        s[20 + i] = (uint8_t)(crc >> (8 * i));
}

static bool decode_slot(const uint8_t *s, uint64_t *seq, uint64_t *acked_id)
{
    if (memcmp(s, ledger_magic, 4) != 0)
        return false;
    uint32_t crc = 0;
    for (int i = 3; i >= 0; i--)
        crc = (crc << 8) | s[20 + i];
    if (crc != crc32c(0, s, 20))
        return false;
    *seq = *acked_id = 0;
    for (int i = 7; i >= 0; i--) {
        *seq = (*seq << 8) | s[4 + i];
        *acked_id = (*acked_id << 8) | s[12 + i];
    }
    return true;
}

static ssize_t read_slots(int fd, uint8_t *file)
{
    return sl_pread_all(fd, file, SLOT_SPACING + SLOT_SIZE, 0);
}

int buffer_ledger_open(buffer_ledger *l, const char *path, ledger_state *state, sl_error *err)
{
    memset(l, 0, sizeof(*l));
    l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0)
        return sl_fail(err, "cannot open the buffer ledger %s: %s", path, strerror(errno));
    uint8_t file[SLOT_SPACING + SLOT_SIZE];
    memset(file, 0, sizeof(file));
    ssize_t n = read_slots(l->fd, file);
    if (n < 0) {
        int e = errno;
        buffer_ledger_close(l);
        return sl_fail(err, "cannot read the buffer ledger %s: %s", path, strerror(e));
    }
    *state = n == 0 ? LEDGER_MISSING : LEDGER_CORRUPT;
    for (int i = 0; i < 2; i++) {
        uint64_t seq, acked;
        if (!decode_slot(file + i * SLOT_SPACING, &seq, &acked))
            continue;
        if (*state != LEDGER_LOADED || seq > l->seq) {
            l->seq = seq;
            l->acked_id = acked;
        }
        *state = LEDGER_LOADED;
    }
    return 0;
}

int buffer_ledger_save(buffer_ledger *l, uint64_t acked_id, sl_error *err)
{
    uint8_t slot[SLOT_SIZE];
    uint64_t seq = l->seq + 1;
    encode_slot(slot, seq, acked_id);
    off_t at = (off_t)(seq % 2) * SLOT_SPACING;
    ssize_t n;
    do
        n = pwrite(l->fd, slot, sizeof(slot), at);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(slot))
        return sl_fail(err, "cannot write the buffer ledger: %s",
                       n < 0 ? strerror(errno) : "short write");
    if (fdatasync(l->fd) < 0)
        return sl_fail(err, "cannot sync the buffer ledger: %s", strerror(errno));
    l->seq = seq;
    l->acked_id = acked_id;
    return 0;
}

void buffer_ledger_close(buffer_ledger *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}
