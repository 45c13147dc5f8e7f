/* fuzz_json.c - differential libFuzzer target for the hot-path JSON codec.
 *
 * Each input is decoded by the codec and by jansson; both must accept or
 * both refuse, agree on the value, and the codec's encoding of it must read
 * back the same with both (json_oracle.h lists the divergences allowed and
 * why). The input is also encoded as a JSON string: whatever the bytes, the
 * result must be JSON jansson reads, and decode to the bytes with invalid
 * UTF-8 replaced by U+FFFD. A failed check traps, which libFuzzer reports
 * with the input. */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/json_oracle.h"

static void require(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void check_any_bytes_encode(const char *data, size_t size)
{
    buf enc = BUF_INIT, lossy = BUF_INIT;
    arena *a = arena_new();
    if (!a || json_encode_string(&enc, data, size) < 0 ||
        json_append_utf8_lossy(&lossy, data, size) < 0) {
        buf_free(&enc);
        buf_free(&lossy);
        arena_free(a);
        return;
    }
    value v;
    sl_error err;
    require(json_decode(a, enc.data, enc.len, &v, &err) == 0);
    require(v.kind == VALUE_BYTES && v.len == lossy.len &&
            (v.len == 0 || memcmp(v.u.s, lossy.data, v.len) == 0));
    json_error_t jerr;
    json_t *j = json_loadb(enc.data, enc.len, ORACLE_FLAGS, &jerr);
    require(j != NULL && json_string_length(j) == lossy.len);
    json_decref(j);
    buf_free(&enc);
    buf_free(&lossy);
    arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oracle_verdict verdict = oracle_check((const char *)data, size);
    require(verdict == ORACLE_AGREE || verdict == ORACLE_ERROR);
    check_any_bytes_encode((const char *)data, size);
    return 0;
}
