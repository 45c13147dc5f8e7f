/* json_internal.h - what the files of the JSON codec share (json_encode.c,
 * json_decode.c, json_number.c); not for use outside it.
 *
 * Buffer writes are checked for room once per value rather than per byte.
 * Strings are scanned 16 bytes at a time for the few bytes that need work
 * (`"`, `\`, controls, non-ASCII); everything else is copied in bulk. The
 * same scan finds the end of strings when decoding, so an input string
 * without escapes costs one pass and no copy: the value points into the
 * input. All of it is inline: it runs for every string of every event. */
#ifndef SLUICE_JSON_INTERNAL_H
#define SLUICE_JSON_INTERNAL_H

#include "pipeline/json.h"
#include "pipeline/utf8.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- buffer helpers ---------------------------------------------------- */

/* Makes room for n more bytes plus the terminating NUL. */
static inline int ensure(buf *b, size_t n)
{
    if (b->cap - b->len > n)
        return 0;
    return buf_reserve(b, n);
}

static inline void put_unchecked(buf *b, const void *s, size_t n)
{
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static inline int put(buf *b, const void *s, size_t n)
{
    if (ensure(b, n) < 0)
        return -1;
    put_unchecked(b, s, n);
    return 0;
}

static inline int put_char(buf *b, char c)
{
    if (ensure(b, 1) < 0)
        return -1;
    b->data[b->len++] = c;
    return 0;
}

/* Appends a string literal. */
#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* Restores the NUL that buf.h promises after raw writes. */
static inline int terminate(buf *b, int rc)
{
    if (b->data)
        b->data[b->len] = '\0';
    return rc;
}

/* ---- scanning for bytes that need work --------------------------------- */

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static inline uint64_t load32(const unsigned char *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap32(w);
#endif
    return w;
}

#if !defined(__SSE2__)
/* The high bit of each byte of w (little-endian order) that needs work:
 * a control, `"`, `\` or non-ASCII. Only the lowest flagged byte is exact
 * (a borrow spreads upwards only from a byte that really matched), which is
 * all the callers use. */
static inline uint64_t special_bytes64(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), s = w ^ (ones * '\\');
    return ((w - ones * 0x20) | w | ((q - ones) & ~q) | ((s - ones) & ~s)) & highs;
}
#endif

/* Bit j set when byte j of lo (j < 8) or byte j - 8 of hi needs work. In
 * each half only the lowest set bit is sure, which is all callers use. */
static inline unsigned special_bits(uint64_t lo, uint64_t hi)
{
#if defined(__SSE2__)
    __m128i v = _mm_set_epi64x((long long)hi, (long long)lo);
    /* A signed compare catches bytes >= 0x80 along with controls. */
    __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
    __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(low, _mm_or_si128(quote, bslash)));
#else
    uint64_t a = special_bytes64(lo), b = special_bytes64(hi);
    unsigned bits = 0;
    if (a)
        bits |= 1u << (__builtin_ctzll(a) / 8);
    if (b)
        bits |= 0x100u << (__builtin_ctzll(b) / 8);
    return bits;
#endif
}

/* The number of leading bytes among p[0..16) that are printable ASCII other
 * than `"` and `\` (16 when all are). */
static inline unsigned plain_prefix16(const unsigned char *p)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
    __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(low, _mm_or_si128(quote, bslash)));
#else
    unsigned mask = special_bits(load64(p), load64(p + 8));
#endif
    return mask ? (unsigned)__builtin_ctz(mask) : 16;
}

/* Printable ASCII other than `"` and `\`: the bytes copied as they are. */
static const unsigned char plain_byte[256] = {
    ['\x20'] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* plain_prefix16 for n < 16 bytes, reading only those: the first and the
 * last word of the bytes (overlapping when n < 2 words; plain filler above
 * four-byte words), bytes below four. The bytes the two words share were
 * plain if the first word was, so the second word's first hit is exact. */
static inline unsigned plain_prefix_short(const unsigned char *p, size_t n)
{
    if (n >= 4) {
        const uint64_t filler = 0x6161616100000000ULL;
        uint64_t lo, hi;
        size_t word;
        if (n >= 8) {
            lo = load64(p);
            hi = load64(p + n - 8);
            word = 8;
        } else {
            lo = load32(p) | filler;
            hi = load32(p + n - 4) | filler;
            word = 4;
        }
        unsigned mask = special_bits(lo, hi);
        if (mask & 0xFF)
            return (unsigned)__builtin_ctz(mask);
        if (mask)
            return (unsigned)(n - word) + ((unsigned)__builtin_ctz(mask) - 8);
        return (unsigned)n;
    }
    unsigned k = 0;
    while (k < n && plain_byte[p[k]])
        k++;
    return k;
}

/* Copies n < 16 bytes with overlapping fixed-size moves. */
static inline void copy_short(char *d, const unsigned char *s, size_t n)
{
    if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = (char)s[i];
    }
}

/* The first byte at or after p (before end) that needs work, or end. */
static inline const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end)
{
    while (end - p >= 16) {
        unsigned k = plain_prefix16(p);
        if (k < 16)
            return p + k;
        p += 16;
    }
    return p + plain_prefix_short(p, (size_t)(end - p));
}

/* Validates the UTF-8 sequence at s (n > 0 bytes available, s[0] >= 0x80).
 * Returns its length, or 0 with *bad set to the length of the maximal
 * invalid subpart that one U+FFFD replaces. */
static inline size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
    uint32_t cp;
    size_t k = utf8_decode(s, n, &cp);
    bool valid = cp != UTF8_INVALID;
    *bad = valid ? 0 : k;
    return valid ? k : 0;
}

/* Writes u in decimal at out; returns the length (at most 20). */
static inline size_t format_u64(char *out, uint64_t u)
{
    char tmp[20];
    char *p = tmp + sizeof(tmp);
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        p -= 2;
        memcpy(p, sl_digit_pairs + 2 * r, 2);
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, sl_digit_pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    size_t n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(out, p, n);
    return n;
}

static inline size_t format_i64(char *out, int64_t i)
{
    if (i < 0) {
        out[0] = '-';
        return 1 + format_u64(out + 1, (uint64_t)0 - (uint64_t)i);
    }
    return format_u64(out, (uint64_t)i);
}

/* 1e0 to 1e22, the powers of ten a double holds exactly. */
extern const double json_pow10[23];

#endif
