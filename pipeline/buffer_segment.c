/* buffer_segment.c - record frames, segment files, and reading them back
 * through damage (see buffer_segment.h). */
#include "pipeline/buffer_segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pipeline/crc32c.h"

static const uint8_t record_magic[4] = {0xF1, 'S', 'L', 'B'};

/* Bytes the resynchronising scan reads at a time. */
#define SCAN_CHUNK (64 * 1024)

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t record_crc(const uint8_t *header, const void *payload, size_t length)
{
    return crc32c(crc32c(0, header + 4, 20), payload, length);
}

void bseg_frame(uint8_t out[BSEG_HEADER_SIZE], const bseg_header *h, const void *payload)
{
    memcpy(out, record_magic, 4);
    put_u32(out + 4, h->length);
    put_u32(out + 8, h->count);
    put_u32(out + 12, h->raw_length);
    put_u64(out + 16, h->id);
    put_u32(out + 24, record_crc(out, payload, h->length));
}

void bseg_file_name(char out[BSEG_NAME_SIZE], uint64_t first_id)
{
    snprintf(out, BSEG_NAME_SIZE, "%016" PRIx64 ".seg", first_id);
}

bool bseg_parse_file_name(const char *name, uint64_t *first_id)
{
    if (strlen(name) != BSEG_NAME_SIZE - 1 || strcmp(name + 16, ".seg") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = (v << 4) | (uint64_t)d;
    }
    *first_id = v;
    return true;
}

int bseg_append(int fd, uint64_t offset, const uint8_t header[BSEG_HEADER_SIZE],
                const void *payload, size_t length)
{
    struct iovec iov[2] = {
        {(void *)header, BSEG_HEADER_SIZE},
        {(void *)payload, length},
    };
    int iovcnt = 2;
    struct iovec *v = iov;
    while (iovcnt > 0) {
        ssize_t n = writev(fd, v, iovcnt);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : EIO;
            while (ftruncate(fd, (off_t)offset) < 0 && errno == EINTR)
                ;
            lseek(fd, (off_t)offset, SEEK_SET);
            errno = saved;
            return -1;
        }
        while (iovcnt > 0 && (size_t)n >= v->iov_len) {
            n -= (ssize_t)v->iov_len;
            v++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            v->iov_base = (char *)v->iov_base + n;
            v->iov_len -= (size_t)n;
        }
    }
    return 0;
}

void bseg_reader_init(bseg_reader *r)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

int bseg_reader_open(bseg_reader *r, const char *path, uint64_t offset, sl_error *err)
{
    bseg_reader_close(r);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return sl_fail(err, "cannot open buffer segment %s: %s", path, strerror(errno));
    r->offset = offset;
    return 0;
}

void bseg_reader_close(bseg_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

void bseg_reader_free(bseg_reader *r)
{
    bseg_reader_close(r);
    free(r->payload);
    free(r->chunk);
    bseg_reader_init(r);
}

static int reserve_payload(bseg_reader *r, size_t n)
{
    if (n <= r->payload_cap)
        return 0;
    size_t cap = r->payload_cap ? r->payload_cap : 4096;
    while (cap < n)
        cap *= 2;
    uint8_t *p = realloc(r->payload, cap);
    if (!p)
        return -1;
    r->payload = p;
    r->payload_cap = cap;
    return 0;
}

typedef enum frame_check {
    FRAME_OK = 0,
    FRAME_BAD,
    FRAME_IO_ERROR,
} frame_check;

static bool header_is_plausible(const uint8_t *hdr, uint64_t off, uint64_t limit,
                                bseg_header *h)
{
    if (memcmp(hdr, record_magic, 4) != 0)
        return false;
    h->length = get_u32(hdr + 4);
    h->count = get_u32(hdr + 8);
    h->raw_length = get_u32(hdr + 12);
    h->id = get_u64(hdr + 16);
    return h->length <= BSEG_MAX_PAYLOAD && h->raw_length <= BSEG_MAX_RAW && h->id != 0 &&
           h->length <= limit - off - BSEG_HEADER_SIZE;
}

/* Whether an intact record starts at off; its payload is then in r->payload
 * (with whole, else only the header is checked). */
static frame_check check_frame_at(bseg_reader *r, uint64_t off, uint64_t limit,
                                  bseg_header *h, bool whole, sl_error *err)
{
    if (off > limit || limit - off < BSEG_HEADER_SIZE)
        return FRAME_BAD;
    uint8_t hdr[BSEG_HEADER_SIZE];
    ssize_t n = sl_pread_all(r->fd, hdr, sizeof(hdr), off);
    if (n < 0) {
        sl_fail(err, "cannot read a buffer segment: %s", strerror(errno));
        return FRAME_IO_ERROR;
    }
    if ((size_t)n < sizeof(hdr) || !header_is_plausible(hdr, off, limit, h))
        return FRAME_BAD;
    if (!whole)
        return FRAME_OK;
    if (reserve_payload(r, h->length) < 0) {
        sl_fail(err, "out of memory reading a %" PRIu32 "-byte buffer record", h->length);
        return FRAME_IO_ERROR;
    }
    n = sl_pread_all(r->fd, r->payload, h->length, off + BSEG_HEADER_SIZE);
    if (n < 0) {
        sl_fail(err, "cannot read a buffer segment: %s", strerror(errno));
        return FRAME_IO_ERROR;
    }
    if ((size_t)n < h->length || record_crc(hdr, r->payload, h->length) != get_u32(hdr + 24))
        return FRAME_BAD;
    return FRAME_OK;
}

/* The offset of the next intact record after the damage at `from`, or
 * limit when none follows. */
static frame_check find_next_record(bseg_reader *r, uint64_t from, uint64_t limit,
                                    uint64_t *found, sl_error *err)
{
    if (!r->chunk && !(r->chunk = malloc(SCAN_CHUNK))) {
        sl_fail(err, "out of memory scanning a buffer segment");
        return FRAME_IO_ERROR;
    }
    uint64_t pos = from + 1;
    while (pos < limit && limit - pos >= BSEG_HEADER_SIZE) {
        size_t want = limit - pos < SCAN_CHUNK ? (size_t)(limit - pos) : SCAN_CHUNK;
        ssize_t n = sl_pread_all(r->fd, r->chunk, want, pos);
        if (n < 0) {
            sl_fail(err, "cannot read a buffer segment: %s", strerror(errno));
            return FRAME_IO_ERROR;
        }
        if (n < 4)
            break;
        /* Candidates are magics starting in this chunk; one cut by the chunk's
         * end is found again by the next chunk, which starts 3 bytes earlier. */
        for (size_t i = 0; i + 4 <= (size_t)n; i++) {
            if (r->chunk[i] != record_magic[0] || memcmp(r->chunk + i, record_magic, 4) != 0)
                continue;
            bseg_header h;
            frame_check c = check_frame_at(r, pos + i, limit, &h, true, err);
            if (c == FRAME_IO_ERROR)
                return c;
            if (c == FRAME_OK) {
                *found = pos + i;
                return FRAME_OK;
            }
        }
        pos += (uint64_t)n - 3;
    }
    *found = limit;
    return FRAME_OK;
}

bseg_result bseg_read(bseg_reader *r, uint64_t limit, bseg_header *h, uint64_t *at,
                      uint64_t *skipped, sl_error *err)
{
    uint64_t off = r->offset;
    *at = off;
    *skipped = 0;
    if (off >= limit)
        return BSEG_END;
    frame_check c = check_frame_at(r, off, limit, h, !r->headers_only, err);
    if (c == FRAME_IO_ERROR)
        return BSEG_IO_ERROR;
    if (c == FRAME_OK) {
        r->offset = off + BSEG_HEADER_SIZE + h->length;
        return BSEG_RECORD;
    }
    uint64_t next;
    if (find_next_record(r, off, limit, &next, err) != FRAME_OK)
        return BSEG_IO_ERROR;
    r->offset = next;
    *skipped = next - off;
    return BSEG_DAMAGED;
}

static uint64_t file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
}

/* Truncates path to size, durably: once the writer has moved on to a new
 * segment, this one is only ever read through its headers. */
static int cut_file(const char *path, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = ftruncate(fd, (off_t)size) == 0 && fsync(fd) == 0 ? 0 : -1;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int bseg_scan(const char *path, uint64_t after_id, bool last,
              bseg_scan_result *out, sl_error *err)
{
    memset(out, 0, sizeof(*out));
    bseg_reader r;
    bseg_reader_init(&r);
    if (bseg_reader_open(&r, path, 0, err) < 0)
        return -1;
    r.headers_only = !last;
    uint64_t limit = file_size(r.fd);
    uint64_t intact_end = 0;
    bool resume_found = false;
    int rc = 0;
    for (;;) {
        bseg_header h;
        uint64_t at, skipped;
        bseg_result res = bseg_read(&r, limit, &h, &at, &skipped, err);
        if (res == BSEG_END)
            break;
        if (res == BSEG_IO_ERROR) {
            rc = -1;
            break;
        }
        if (res == BSEG_DAMAGED) {
            if (r.offset < limit || !last)
                out->damaged++;
            continue;
        }
        intact_end = r.offset;
        out->records++;
        if (!out->first_id)
            out->first_id = h.id;
        /* A record whose id does not increase (a copy of an earlier one) is
         * not read back, so it is not pending either. */
        bool in_order = h.id > out->last_id;
        if (in_order)
            out->last_id = h.id;
        if (in_order && h.id > after_id) {
            out->pending_events += h.count;
            if (!resume_found)
                out->resume_offset = at;
            resume_found = true;
        }
    }
    bseg_reader_free(&r);
    if (rc < 0)
        return -1;
    out->size = limit;
    if (last && intact_end < limit) {
        if (cut_file(path, intact_end) < 0)
            return sl_fail(err, "cannot cut the torn tail off buffer segment %s: %s", path,
                           strerror(errno));
        out->truncated = limit - intact_end;
        out->size = intact_end;
    }
    if (!resume_found)
        out->resume_offset = out->size;
    return 0;
}
