/* utf8.h - decoding one UTF-8 sequence the way Rust's from_utf8_lossy
 * reads text: an invalid sequence covers its maximal invalid subpart, which
 * one U+FFFD replaces. The JSON codec and the remap language's string
 * functions both read text this way, so they agree on every byte. */
#ifndef SLUICE_UTF8_H
#define SLUICE_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_INVALID 0xFFFFFFFFu
#define UTF8_REPLACEMENT 0xFFFDu

/* Decodes the sequence at s (n > 0 bytes available). Returns the bytes it
 * covers and sets *cp to the code point, or to UTF8_INVALID for an invalid
 * sequence (which then covers at least one byte). */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Writes the UTF-8 encoding of code point cp (at most 0x10FFFF) to out;
 * returns its length, 1 to 4. */
size_t utf8_encode(uint32_t cp, char out[4]);

/* Where to cut s (len bytes) so that at most max bytes stay and no
 * character is split: max itself, or up to 3 bytes before it when it falls
 * inside a sequence. len <= max gives len. */
size_t utf8_cut(const char *s, size_t len, size_t max);

#endif
