/* Unit tests: the UTF-8 toolkit - decoding with from_utf8_lossy's maximal
 * invalid subparts, encoding, validation, and JSON \u escapes with
 * surrogate pairs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "pipeline/common.h"
#include "pipeline/utf8.h"

static void decoding_covers_maximal_invalid_subparts(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(utf8_decode((const unsigned char *)"\xC3\xA9", 2, &cp), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(utf8_decode((const unsigned char *)"\xF0\x9F\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    /* a truncated three-byte sequence is one invalid subpart */
    assert_int_equal(utf8_decode((const unsigned char *)"\xE2\x82" "A", 3, &cp), 2);
    assert_int_equal(cp, UTF8_INVALID);
    /* overlong, surrogate, past U+10FFFF: invalid at the first byte or two */
    assert_int_equal(utf8_decode((const unsigned char *)"\xC0\x80", 2, &cp), 1);
    assert_int_equal(cp, UTF8_INVALID);
    assert_int_equal(utf8_decode((const unsigned char *)"\xED\xA0\x80", 3, &cp), 1);
    assert_int_equal(cp, UTF8_INVALID);
    assert_int_equal(utf8_decode((const unsigned char *)"\xF4\x90\x80\x80", 4, &cp), 1);
    assert_int_equal(utf8_next("\xE2\x82", 2, &cp), 2);
    assert_int_equal(cp, UTF8_REPLACEMENT);
}

static void encoding_and_validation(void **state)
{
    (void)state;
    char out[4];
    assert_int_equal(utf8_encode(0x41, out), 1);
    assert_int_equal(utf8_encode(0xE9, out), 2);
    assert_memory_equal(out, "\xC3\xA9", 2);
    assert_int_equal(utf8_encode(0x20AC, out), 3);
    assert_memory_equal(out, "\xE2\x82\xAC", 3);
    assert_int_equal(utf8_encode(0x1F600, out), 4);
    assert_memory_equal(out, "\xF0\x9F\x98\x80", 4);
    assert_true(utf8_valid("plain ascii text, long enough", 29));
    assert_true(utf8_valid("caf\xC3\xA9 \xEF\xBF\xBD", 9));
    assert_false(utf8_valid("caf\xC3", 4));
    assert_false(utf8_valid("abcdefgh\xFF", 9));
}

static void json_escapes_join_surrogate_pairs(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(utf8_json_escape((const unsigned char *)"u00e9", 5, &cp), 5);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(utf8_json_escape((const unsigned char *)"uD83D\\uDE00", 11, &cp), 11);
    assert_int_equal(cp, 0x1F600);
    /* a high surrogate without its pair is given as it is */
    assert_int_equal(utf8_json_escape((const unsigned char *)"uD83Dx", 6, &cp), 5);
    assert_true(utf8_is_surrogate(cp));
    assert_int_equal(utf8_json_escape((const unsigned char *)"uD83D\\u0041", 11, &cp), 5);
    assert_int_equal(cp, 0xD83D);
    assert_int_equal(utf8_json_escape((const unsigned char *)"u12G4", 5, &cp), 0);
    assert_int_equal(utf8_json_escape((const unsigned char *)"u12", 3, &cp), 0);
    assert_int_equal(sl_hex_value('f'), 15);
    assert_int_equal(sl_hex_value('F'), 15);
    assert_int_equal(sl_hex_value('g'), -1);
    assert_int_equal(sl_hex_value(-1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decoding_covers_maximal_invalid_subparts),
        cmocka_unit_test(encoding_and_validation),
        cmocka_unit_test(json_escapes_join_surrogate_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
