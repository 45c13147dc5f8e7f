/* utf8.h - decoding one UTF-8 sequence the way Rust's from_utf8_lossy
 * reads text: an invalid sequence covers its maximal invalid subpart, which
 * one U+FFFD replaces. The JSON codec and the remap language's string
 * functions both read text this way, so they agree on every byte. */
#ifndef SLUICE_UTF8_H
#define SLUICE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/common.h"

#define UTF8_INVALID 0xFFFFFFFFu
#define UTF8_REPLACEMENT 0xFFFDu

/* Decodes the sequence at s (n > 0 bytes available). Returns the bytes it
 * covers and sets *cp to the code point, or to UTF8_INVALID for an invalid
 * sequence (which then covers at least one byte). */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* The character at s (n > 0 bytes available) as from_utf8_lossy reads it:
 * its code point, or U+FFFD for an invalid sequence. Returns the bytes it
 * covers. */
static inline size_t utf8_next(const char *s, size_t n, uint32_t *cp)
{
    size_t k = utf8_decode((const unsigned char *)s, n, cp);
    if (*cp == UTF8_INVALID)
        *cp = UTF8_REPLACEMENT;
    return k;
}

/* Whether the n bytes at s are valid UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* Writes the UTF-8 encoding of code point cp (at most 0x10FFFF) to out;
 * returns its length, 1 to 4. Inline: the JSON decoder writes \u escapes
 * with it. */
static inline size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The four hex digits at p, or -1. */
static inline int32_t utf8_hex4(const unsigned char *p)
{
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = sl_hex_value(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* The code point of the JSON escape at p (p[0] == 'u', just after the
 * backslash; n bytes from p), a surrogate pair such as \uD83D\uDE00 taken
 * together. Returns the bytes used from p (5, or 11 for a pair), or 0 (and
 * *cp = UTF8_INVALID) when four hex digits don't follow. A surrogate outside
 * a pair is given as it is: the JSON codec shows it as U+FFFD, the config
 * reader refuses it.
 * Inline: a producer that escapes all non-ASCII (Python's json.dumps) puts
 * one in the JSON decoder's way for every character. */
static inline size_t utf8_json_escape(const unsigned char *p, size_t n, uint32_t *cp)
{
    int32_t hi = n >= 5 ? utf8_hex4(p + 1) : -1;
    if (hi < 0) {
        *cp = UTF8_INVALID;
        return 0;
    }
    if (hi >= 0xD800 && hi <= 0xDBFF && n >= 11 && p[5] == '\\' && p[6] == 'u') {
        int32_t lo = utf8_hex4(p + 7);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            return 11;
        }
    }
    *cp = (uint32_t)hi;
    return 5;
}

static inline bool utf8_is_surrogate(uint32_t cp)
{
    return cp >= 0xD800 && cp <= 0xDFFF;
}

/* Where to cut s (len bytes) so that at most max bytes stay and no
 * character is split: max itself, or up to 3 bytes before it when it falls
 * inside a sequence. len <= max gives len. */
size_t utf8_cut(const char *s, size_t len, size_t max);

#endif
