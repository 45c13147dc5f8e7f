/* Unit tests: the disk buffer's lower layer on raw byte payloads - crc32c
 * known answers, record frames, reading through damage (flipped bytes, a
 * damaged length, zeroed regions, garbage), torn tails cut at startup, and
 * the two-slot ledger. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pipeline/buffer_ledger.h"
#include "pipeline/buffer_segment.h"
#include "pipeline/crc32c.h"

/* ---- crc32c ---- */

static void crc32c_known_answers(void **state)
{
    (void)state;
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_portable(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
    /* RFC 3720 (iSCSI) B.4 vectors. */
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof(ones));
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    assert_int_equal(crc32c(0, zeros, 32), 0x8A9136AAu);
    assert_int_equal(crc32c(0, ones, 32), 0x62A8AB43u);
    assert_int_equal(crc32c(0, inc, 32), 0x46DD794Eu);
}

static void crc32c_hardware_matches_table_and_chains(void **state)
{
    (void)state;
    uint8_t data[1000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(data); i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    for (size_t n = 0; n < sizeof(data); n += 37) {
        assert_int_equal(crc32c(0, data + 1, n), crc32c_portable(0, data + 1, n));
        uint32_t split = crc32c(crc32c(0, data, n / 3), data + n / 3, n - n / 3);
        assert_int_equal(split, crc32c(0, data, n));
    }
}

/* ---- segment files ---- */

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/sluice-bseg-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/0000000000000001.seg", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void payload_of(uint64_t id, char *out, size_t *n)
{
    *n = (size_t)snprintf(out, 64, "payload of record %llu, padded", (unsigned long long)id);
}

/* Writes records first..last; returns each record's offset in offs. */
static void write_records(const char *path, uint64_t first, uint64_t last, uint64_t *offs)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint64_t off = (uint64_t)st.st_size;
    for (uint64_t id = first; id <= last; id++) {
        char p[64];
        size_t n;
        payload_of(id, p, &n);
        bseg_header h = {id, (uint32_t)n, (uint32_t)id % 7 + 1, (uint32_t)n * 2};
        uint8_t hdr[BSEG_HEADER_SIZE];
        bseg_frame(hdr, &h, p);
        assert_int_equal(bseg_append(fd, off, hdr, p, n), 0);
        if (offs)
            offs[id - first] = off;
        off += BSEG_HEADER_SIZE + n;
    }
    close(fd);
}

static uint64_t size_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* Reads the whole file; the ids read in order into ids, damaged regions
 * counted in *damaged. Returns the number of records. */
static size_t read_all(const char *path, uint64_t *ids, size_t max, size_t *damaged)
{
    bseg_reader r;
    bseg_reader_init(&r);
    sl_error err;
    assert_int_equal(bseg_reader_open(&r, path, 0, &err), 0);
    uint64_t limit = size_of(path);
    size_t n = 0;
    *damaged = 0;
    for (;;) {
        bseg_header h;
        uint64_t at, skipped;
        bseg_result res = bseg_read(&r, limit, &h, &at, &skipped, &err);
        if (res == BSEG_END)
            break;
        assert_int_not_equal(res, BSEG_IO_ERROR);
        if (res == BSEG_DAMAGED) {
            assert_true(skipped > 0);
            (*damaged)++;
            continue;
        }
        char p[64];
        size_t len;
        payload_of(h.id, p, &len);
        assert_int_equal(h.length, len);
        assert_memory_equal(r.payload, p, len);
        assert_int_equal(h.count, h.id % 7 + 1);
        assert_int_equal(h.raw_length, len * 2);
        assert_true(n < max);
        ids[n++] = h.id;
    }
    bseg_reader_free(&r);
    return n;
}

static void patch(const char *path, uint64_t off, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void records_round_trip(void **state)
{
    fixture *f = *state;
    write_records(f->path, 1, 5, NULL);
    write_records(f->path, 6, 9, NULL);
    uint64_t ids[16];
    size_t damaged;
    assert_int_equal(read_all(f->path, ids, 16, &damaged), 9);
    assert_int_equal(damaged, 0);
    for (uint64_t i = 0; i < 9; i++)
        assert_int_equal(ids[i], i + 1);

    bseg_scan_result sr;
    sl_error err;
    assert_int_equal(bseg_scan(f->path, 4, true, &sr, &err), 0);
    assert_int_equal(sr.records, 9);
    assert_int_equal(sr.first_id, 1);
    assert_int_equal(sr.last_id, 9);
    assert_int_equal(sr.truncated, 0);
    assert_int_equal(sr.size, size_of(f->path));
    uint64_t events = 0;
    for (uint64_t id = 5; id <= 9; id++)
        events += id % 7 + 1;
    assert_int_equal(sr.pending_events, events);
    assert_true(sr.resume_offset > 0 && sr.resume_offset < sr.size);
}

static void segment_names_sort_and_parse(void **state)
{
    (void)state;
    char name[BSEG_NAME_SIZE];
    bseg_file_name(name, 0x1234abcd);
    assert_string_equal(name, "000000001234abcd.seg");
    uint64_t id;
    assert_true(bseg_parse_file_name(name, &id));
    assert_int_equal(id, 0x1234abcd);
    assert_false(bseg_parse_file_name("000000001234ABCD.seg", &id));
    assert_false(bseg_parse_file_name("00000000000000001.seg", &id));
    assert_false(bseg_parse_file_name("000000001234abcd.seg.tmp", &id));
    assert_false(bseg_parse_file_name("ledger", &id));
}

static void torn_tail_is_cut_at_startup(void **state)
{
    fixture *f = *state;
    write_records(f->path, 1, 3, NULL);
    uint64_t intact = size_of(f->path);
    /* Half of a fourth record, as a crash in the middle of a write leaves. */
    char p[64];
    size_t n;
    payload_of(4, p, &n);
    bseg_header h = {4, (uint32_t)n, 1, (uint32_t)n};
    uint8_t hdr[BSEG_HEADER_SIZE];
    bseg_frame(hdr, &h, p);
    int fd = open(f->path, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    assert_int_equal(write(fd, p, n / 2), (ssize_t)(n / 2));
    close(fd);

    bseg_scan_result sr;
    sl_error err;
    assert_int_equal(bseg_scan(f->path, 0, false, &sr, &err), 0);
    assert_int_equal(sr.truncated, 0);
    assert_int_equal(size_of(f->path), intact + sizeof(hdr) + n / 2);

    assert_int_equal(bseg_scan(f->path, 0, true, &sr, &err), 0);
    assert_int_equal(sr.records, 3);
    assert_int_equal(sr.truncated, sizeof(hdr) + n / 2);
    assert_int_equal(sr.size, intact);
    assert_int_equal(size_of(f->path), intact);
    assert_int_equal(sr.resume_offset, 0);
}

static void flipped_byte_skips_only_that_record(void **state)
{
    fixture *f = *state;
    uint64_t offs[5];
    write_records(f->path, 1, 5, offs);
    uint8_t bad = 0x5a;
    patch(f->path, offs[2] + BSEG_HEADER_SIZE + 3, &bad, 1);
    uint64_t ids[8];
    size_t damaged;
    assert_int_equal(read_all(f->path, ids, 8, &damaged), 4);
    assert_int_equal(damaged, 1);
    uint64_t want[] = {1, 2, 4, 5};
    assert_memory_equal(ids, want, sizeof(want));

    bseg_scan_result sr;
    sl_error err;
    assert_int_equal(bseg_scan(f->path, 0, true, &sr, &err), 0);
    assert_int_equal(sr.records, 4);
    assert_int_equal(sr.damaged, 1);
    assert_int_equal(sr.truncated, 0);
    /* An older segment's scan follows headers only: the payload's damage is
     * left to the reader. */
    assert_int_equal(bseg_scan(f->path, 0, false, &sr, &err), 0);
    assert_int_equal(sr.records, 5);
    assert_int_equal(sr.damaged, 0);
}

static void damaged_length_resyncs_at_next_record(void **state)
{
    fixture *f = *state;
    uint64_t offs[6];
    write_records(f->path, 1, 6, offs);
    /* A length that still lies inside the file, and one far past it. */
    uint8_t len_small[4] = {7, 0, 0, 0};
    uint8_t len_huge[4] = {0xff, 0xff, 0xff, 0x7f};
    patch(f->path, offs[1] + 4, len_small, 4);
    patch(f->path, offs[4] + 4, len_huge, 4);
    uint64_t ids[8];
    size_t damaged;
    assert_int_equal(read_all(f->path, ids, 8, &damaged), 4);
    assert_int_equal(damaged, 2);
    uint64_t want[] = {1, 3, 4, 6};
    assert_memory_equal(ids, want, sizeof(want));
}

static void zeroed_region_is_skipped(void **state)
{
    fixture *f = *state;
    uint64_t offs[8];
    write_records(f->path, 1, 8, offs);
    /* From the middle of record 2 to the middle of record 5. */
    uint64_t from = offs[1] + 10, to = offs[4] + 20;
    uint8_t *zeros = calloc(1, to - from);
    patch(f->path, from, zeros, to - from);
    free(zeros);
    uint64_t ids[8];
    size_t damaged;
    assert_int_equal(read_all(f->path, ids, 8, &damaged), 4);
    assert_int_equal(damaged, 1);
    uint64_t want[] = {1, 6, 7, 8};
    assert_memory_equal(ids, want, sizeof(want));
}

static void garbage_file_reads_to_the_end(void **state)
{
    fixture *f = *state;
    uint8_t junk[200000];
    uint32_t x = 99;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1664525u + 1013904223u;
        junk[i] = (uint8_t)(x >> 24);
    }
    /* Magics sprinkled in, with headers that don't check out. */
    static const uint8_t magic[4] = {0xF1, 'S', 'L', 'B'};
    for (size_t i = 100; i + 32 < sizeof(junk); i += 1000)
        memcpy(junk + i, magic, 4);
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    write_records(f->path, 1, 2, NULL);
    uint64_t ids[8];
    size_t damaged;
    assert_int_equal(read_all(f->path, ids, 8, &damaged), 2);
    assert_int_equal(damaged, 1);

    bseg_scan_result sr;
    sl_error err;
    assert_int_equal(bseg_scan(f->path, 0, true, &sr, &err), 0);
    assert_int_equal(sr.records, 2);
    assert_int_equal(sr.resume_offset, sizeof(junk));
}

static void short_writes_never_leave_partial_records(void **state)
{
    fixture *f = *state;
    write_records(f->path, 1, 1, NULL);
    uint64_t before = size_of(f->path);
    int fd = open(f->path, O_RDONLY);   /* writes to it fail (EBADF) */
    uint8_t hdr[BSEG_HEADER_SIZE] = {0};
    assert_int_equal(bseg_append(fd, before, hdr, "x", 1), -1);
    close(fd);
    assert_int_equal(size_of(f->path), before);
}

/* ---- ledger ---- */

static void ledger_keeps_the_newest_valid_slot(void **state)
{
    fixture *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/ledger", f->dir);
    buffer_ledger l;
    ledger_state st;
    sl_error err;
    assert_int_equal(buffer_ledger_open(&l, path, &st, &err), 0);
    assert_int_equal(st, LEDGER_MISSING);
    assert_int_equal(l.acked_id, 0);
    assert_int_equal(buffer_ledger_save(&l, 10, &err), 0);
    assert_int_equal(buffer_ledger_save(&l, 20, &err), 0);
    assert_int_equal(buffer_ledger_save(&l, 30, &err), 0);
    uint64_t seq = l.seq;
    buffer_ledger_close(&l);

    assert_int_equal(buffer_ledger_open(&l, path, &st, &err), 0);
    assert_int_equal(st, LEDGER_LOADED);
    assert_int_equal(l.acked_id, 30);
    assert_int_equal(l.seq, seq);
    buffer_ledger_close(&l);

    /* The newest slot torn: the one before it counts. */
    uint8_t bad = 0xee;
    patch(path, (seq % 2) * 512 + 14, &bad, 1);
    assert_int_equal(buffer_ledger_open(&l, path, &st, &err), 0);
    assert_int_equal(st, LEDGER_LOADED);
    assert_int_equal(l.acked_id, 20);
    /* Saving again overwrites the older slot, not the good one. */
    assert_int_equal(buffer_ledger_save(&l, 40, &err), 0);
    buffer_ledger_close(&l);
    assert_int_equal(buffer_ledger_open(&l, path, &st, &err), 0);
    assert_int_equal(l.acked_id, 40);
    buffer_ledger_close(&l);

    /* Both slots damaged. */
    patch(path, 3, &bad, 1);
    patch(path, 512 + 3, &bad, 1);
    assert_int_equal(buffer_ledger_open(&l, path, &st, &err), 0);
    assert_int_equal(st, LEDGER_CORRUPT);
    assert_int_equal(l.acked_id, 0);
    buffer_ledger_close(&l);
}

static void ledger_of_garbage_is_corrupt(void **state)
{
    fixture *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/ledger", f->dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_int_equal(write(fd, "not a ledger", 12), 12);
    close(fd);
    buffer_ledger l;
    ledger_state st;
    sl_error err;
    assert_int_equal(buffer_ledger_open(&l, path, &st, &err), 0);
    assert_int_equal(st, LEDGER_CORRUPT);
    assert_int_equal(l.acked_id, 0);
    buffer_ledger_close(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_known_answers),
        cmocka_unit_test(crc32c_hardware_matches_table_and_chains),
        cmocka_unit_test(segment_names_sort_and_parse),
        cmocka_unit_test_setup_teardown(records_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_is_cut_at_startup, setup, teardown),
        cmocka_unit_test_setup_teardown(flipped_byte_skips_only_that_record, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_length_resyncs_at_next_record, setup, teardown),
        cmocka_unit_test_setup_teardown(zeroed_region_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_file_reads_to_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(short_writes_never_leave_partial_records, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(ledger_keeps_the_newest_valid_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(ledger_of_garbage_is_corrupt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
