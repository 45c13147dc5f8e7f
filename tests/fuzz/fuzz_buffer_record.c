/* fuzz_buffer_record.c - libFuzzer target for the disk buffer's recovery
 * and reading of segment files, which a crash, a full disk or a bad sector
 * may leave in any state.
 *
 * The first byte picks how the rest becomes segment files: bit 0 clear, as
 * is (frames, damage, torn tails, garbage); set, as chunks
 * [count u8][raw length u16][length u16][payload] that the target frames
 * with valid checksums, so that what lies behind the checksum (lz4 and the
 * event codec) is fuzzed too. Bit 1 splits the rest into an older segment,
 * which startup only walks through its headers, and the last one. The
 * buffer is opened on a fresh directory, every record is read (some
 * released as errored, to go back over them) until there is nothing left,
 * and the buffer is freed. Opening must succeed, reading must end, every
 * record read must have been finished (exactly, with checksummed frames or
 * a single segment, which startup reads in full), and nothing may
 * crash or leak. */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/buffer_segment.h"
#include "pipeline/disk_buffer.h"
#include "pipeline/log.h"

static void require(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void write_framed_chunks(int fd, uint64_t first_id, const uint8_t *data, size_t size)
{
    uint64_t id = first_id, off = 0;
    while (size >= 5) {
        uint32_t count = data[0];
        uint32_t raw = (uint32_t)data[1] | (uint32_t)data[2] << 8;
        size_t len = (size_t)data[3] | (size_t)data[4] << 8;
        data += 5;
        size -= 5;
        if (len > size)
            len = size;
        bseg_header h = {id++, (uint32_t)len, count, raw};
        uint8_t hdr[BSEG_HEADER_SIZE];
        bseg_frame(hdr, &h, data);
        require(bseg_append(fd, off, hdr, data, len) == 0);
        off += BSEG_HEADER_SIZE + len;
        data += len;
        size -= len;
    }
}

static void write_segment(const char *dir, uint64_t first_id, bool framed,
                          const uint8_t *data, size_t size)
{
    char path[128];
    char name[BSEG_NAME_SIZE];
    bseg_file_name(name, first_id);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    require(fd >= 0);
    if (framed)
        write_framed_chunks(fd, first_id, data, size);
    else
        require(write(fd, data, size) == (ssize_t)size);
    close(fd);
}

static void remove_directory(const char *dir)
{
    DIR *d = opendir(dir);
    require(d != NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        require(unlink(path) == 0);
    }
    closedir(d);
    require(rmdir(dir) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    slog_configure(SLOG_ERROR, SLOG_TEXT);
    char dir[] = "/tmp/sluice-fuzz-buffer-XXXXXX";
    require(mkdtemp(dir) != NULL);
    bool framed = data[0] & 1, split = data[0] & 2;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    if (split) {
        write_segment(dir, 1, framed, rest, n / 2);
        write_segment(dir, 0x10000, framed, rest + n / 2, n - n / 2);
    } else {
        write_segment(dir, 1, framed, rest, n);
    }

    disk_buffer_options o = {.dir = dir, .id = "fuzz", .max_size = 1 << 30,
                             .sync_interval_ms = 1000, .batch_events = 4};
    disk_buffer *db = NULL;
    sl_error err;
    require(disk_buffer_open(&o, &db, &err) == 0);
    disk_buffer_writer_done(db);
    /* Each record read at most twice: once errored, once delivered. */
    size_t reads = 0;
    batch *b;
    while (disk_buffer_read(db, &b, 0) == QUEUE_OK) {
        require(++reads <= 2 * size + 2);
        require(b->count > 0);
        batch_release(b, reads % 3 == 0 ? ACK_ERRORED : ACK_DELIVERED);
    }
    /* Every record counted was finished: delivered, or rejected as
     * unreadable. A raw older segment may count records whose payload turns
     * out damaged when read, which the gauge never gets back. */
    require(disk_buffer_events(db) == 0 || (split && !framed));
    disk_buffer_free(db);
    remove_directory(dir);
    return 0;
}
