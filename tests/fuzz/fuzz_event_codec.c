/* fuzz_event_codec.c - libFuzzer target for the disk buffer's event codec.
 *
 * Each input is decoded into a fresh batch. Refusal is fine; acceptance
 * means the events are well formed, so they must encode again, and since
 * every form of the format is canonical, to exactly the input bytes; those
 * bytes must decode again to as many events. A failed check traps, which
 * libFuzzer reports with the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pipeline/event_codec.h"

#define FUZZ_BATCH_EVENTS 4096

static void require(bool ok)
{
    if (!ok)
        __builtin_trap();
}

/* Decodes data into a new batch and encodes that batch into out; the
 * number of events, or -1 when the decoder refused the input. */
static int64_t decode_then_encode(const uint8_t *data, size_t size, buf *out)
{
    sl_error err;
    batch *b = batch_new(FUZZ_BATCH_EVENTS, NULL);
    if (!b)
        return -1;
    int64_t n = event_codec_decode(b, data, size, &err);
    if (n >= 0) {
        require(n == b->count);
        require(event_codec_encode(b, out, &err) == 0);
    }
    batch_release(b, ACK_DELIVERED);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf once = BUF_INIT, twice = BUF_INIT;
    int64_t n = decode_then_encode(data, size, &once);
    if (n >= 0) {
        require(once.len == size && memcmp(once.data, data, size) == 0);
        require(decode_then_encode((const uint8_t *)once.data, once.len, &twice) == n);
        require(twice.len == once.len && memcmp(twice.data, once.data, once.len) == 0);
    }
    buf_free(&once);
    buf_free(&twice);
    return 0;
}
