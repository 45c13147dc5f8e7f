/* json.c - the hot-path JSON codec (see json.h).
 *
 * Output follows serde_json, which is what Vector writes: only `"`, `\` and
 * control characters are escaped (\n \t \r \b \f, else \u00XX in lower-case
 * hex), `/` and non-ASCII are written raw, invalid UTF-8 becomes U+FFFD per
 * maximal invalid subpart (Rust's from_utf8_lossy), floats use ryu's shortest
 * round-trip form, timestamps chrono's RFC 3339 with AutoSi fractions.
 *
 * Strings are scanned 16 bytes at a time for the few bytes that need work
 * (`"`, `\`, controls, non-ASCII); everything else is copied in bulk. The
 * same scan finds the end of strings when decoding, so an input string
 * without escapes costs one pass and no copy: the value points into the
 * input.
 *
 * Decoding follows serde_json where the two references differ: integers that
 * do not fit int64 become floats, "-0" is the float -0.0, numbers that
 * overflow a double are rejected, and so is invalid UTF-8 inside strings
 * (serde_json refuses such a line, so Vector drops it; jansson agrees). Two
 * deliberate departures: an escaped lone surrogate (\ud800) becomes U+FFFD
 * instead of failing the line, and nesting is limited to 128 levels. Floats
 * are read with strtod, which assumes the C locale for LC_NUMERIC; sluice
 * never changes it. */
#include "pipeline/json.h"
#include "pipeline/sltime.h"
#include "pipeline/utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define JSON_MAX_DEPTH 128

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

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

/* Writes u in decimal at out; returns the length (at most 20). */
static size_t format_u64(char *out, uint64_t u)
{
    char tmp[20];
    char *p = tmp + sizeof(tmp);
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    size_t n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(out, p, n);
    return n;
}

static size_t format_i64(char *out, int64_t i)
{
    if (i < 0) {
        out[0] = '-';
        return 1 + format_u64(out + 1, (uint64_t)0 - (uint64_t)i);
    }
    return format_u64(out, (uint64_t)i);
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
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
    uint32_t cp;
    size_t k = utf8_decode(s, n, &cp);
    bool valid = cp != UTF8_INVALID;
    *bad = valid ? 0 : k;
    return valid ? k : 0;
}

static const char replacement_char[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

/* ---- strings ----------------------------------------------------------- */

static const char hex_digits[] = "0123456789abcdef";

/* Writes the escape for ASCII byte c (a control, `"` or `\`). Room for six
 * bytes must be there. */
static void put_escape(buf *b, unsigned char c)
{
    char *d = b->data + b->len;
    d[0] = '\\';
    switch (c) {
    case '"': d[1] = '"'; b->len += 2; return;
    case '\\': d[1] = '\\'; b->len += 2; return;
    case '\n': d[1] = 'n'; b->len += 2; return;
    case '\t': d[1] = 't'; b->len += 2; return;
    case '\r': d[1] = 'r'; b->len += 2; return;
    case '\b': d[1] = 'b'; b->len += 2; return;
    case '\f': d[1] = 'f'; b->len += 2; return;
    default:
        memcpy(d + 1, "u00", 3);
        d[4] = hex_digits[c >> 4];
        d[5] = hex_digits[c & 15];
        b->len += 6;
        return;
    }
}

/* Handles the byte at s[i] that needs work; returns how many input bytes it
 * consumed. Room for six bytes must be there. */
static size_t put_special(buf *b, const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    if (c < 0x80) {
        put_escape(b, c);
        return 1;
    }
    size_t bad;
    size_t k = utf8_sequence(s + i, n - i, &bad);
    if (k) {
        put_unchecked(b, s + i, k);
        return k;
    }
    put_unchecked(b, replacement_char, sizeof(replacement_char));
    return bad;
}

/* The string in quotes. Plain bytes never grow, so the room reserved at the
 * start (the input plus a margin for one block overrun and the closing
 * quote) lasts until an escape or replacement, which can grow by five
 * bytes; only then is the room checked again. */
static int put_string(buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (ensure(b, n + 34) < 0)
        return -1;
    char *d = b->data + b->len;
    *d++ = '"';
    size_t i = 0;
    for (;;) {
        size_t rem = n - i;
        unsigned k;
        if (rem >= 16) {
            memcpy(d, s + i, 16);
            k = plain_prefix16(s + i);
        } else {
            copy_short(d, s + i, rem);
            k = plain_prefix_short(s + i, rem);
        }
        d += k;
        i += k;
        if (k == 16)
            continue;
        if (i == n)
            break;
        b->len = (size_t)(d - b->data);
        if (ensure(b, (n - i) + 34) < 0)
            return -1;
        i += put_special(b, s, i, n);
        d = b->data + b->len;
    }
    *d++ = '"';
    b->len = (size_t)(d - b->data);
    return 0;
}

int json_encode_string(buf *out, const char *s, size_t n)
{
    return terminate(out, put_string(out, s, n));
}

int json_append_utf8_lossy(buf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        size_t run = 0;
        while (i + run < n && s[i + run] < 0x80)
            run++;
        if (run && put(out, s + i, run) < 0)
            return terminate(out, -1);
        i += run;
        if (i == n)
            break;
        size_t bad;
        size_t k = utf8_sequence(s + i, n - i, &bad);
        int rc = k ? put(out, s + i, k) : put(out, replacement_char, sizeof(replacement_char));
        if (rc < 0)
            return terminate(out, -1);
        i += k ? k : bad;
    }
    return terminate(out, ensure(out, 0));
}

/* ---- timestamps -------------------------------------------------------- */

static char *put2(char *p, unsigned v)
{
    memcpy(p, digit_pairs + 2 * v, 2);
    return p + 2;
}

static char *put_fraction(char *p, unsigned v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + digits;
}

size_t json_format_timestamp(char out[JSON_TIMESTAMP_MAX], int64_t ns)
{
    int64_t secs = ns / 1000000000;
    int64_t frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        secs--;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t year;
    unsigned month, day;
    sltime_civil_from_days(days, &year, &month, &day);

    /* The int64 nanosecond range spans the years 1677 to 2262. */
    char *p = out;
    p = put2(p, (unsigned)(year / 100));
    p = put2(p, (unsigned)(year % 100));
    *p++ = '-';
    p = put2(p, month);
    *p++ = '-';
    p = put2(p, day);
    *p++ = 'T';
    p = put2(p, (unsigned)(sod / 3600));
    *p++ = ':';
    p = put2(p, (unsigned)(sod / 60 % 60));
    *p++ = ':';
    p = put2(p, (unsigned)(sod % 60));
    if (frac) {
        *p++ = '.';
        if (frac % 1000000 == 0)
            p = put_fraction(p, (unsigned)(frac / 1000000), 3);
        else if (frac % 1000 == 0)
            p = put_fraction(p, (unsigned)(frac / 1000), 6);
        else
            p = put_fraction(p, (unsigned)frac, 9);
    }
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

/* ---- floats ------------------------------------------------------------ */

static const double pow10_table[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Decimal digits of a positive finite double, without trailing zeros, such
 * that the double is digits x 10^exp10 read back. */
typedef struct shortest {
    char digits[24];
    int len;
    int exp10;
} shortest;

static void shortest_from_integer(shortest *sd, uint64_t m, int exp10)
{
    while (m % 10 == 0) {
        m /= 10;
        exp10++;
    }
    sd->len = (int)format_u64(sd->digits, m);
    sd->exp10 = exp10;
}

/* Values with at most a few fraction digits (most values in logs): the
 * first k for which round(a * 10^k) / 10^k reads back as a gives the
 * shortest digits. Kept below 2^50 so that the product's rounding error
 * cannot pick the wrong integer; the division of two exact doubles is
 * correctly rounded, so equality means the decimal reads back as a. */
static bool shortest_by_scaling(double a, shortest *sd)
{
    if (a < 1e-7)
        return false;
    for (int k = 0; k < (int)SL_ARRAY_LEN(pow10_table); k++) {
        double x = a * pow10_table[k];
        if (x >= 1125899906842624.0)
            return false;
        double m = nearbyint(x);
        if (m / pow10_table[k] == a) {
            shortest_from_integer(sd, (uint64_t)m, -k);
            return true;
        }
    }
    return false;
}

/* Reads "d.ddde+XX" as printed by %.*e into digits and exponent. */
static void shortest_from_exponent_form(const char *text, shortest *sd)
{
    int n = 0;
    const char *p = text;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            sd->digits[n++] = *p;
    int e = atoi(p + 1);
    while (n > 1 && sd->digits[n - 1] == '0')
        n--;
    sd->len = n;
    sd->exp10 = e - (n - 1);
}

static bool reads_back(const char *text, double a)
{
    return strtod(text, NULL) == a;
}

/* The 16-digit candidate one unit above the correctly rounded one: at a
 * power of two the interval that reads back is narrower below the value,
 * so the nearest candidate can miss while the next one up fits. */
static bool next_candidate_reads_back(const char *text, double a, char *out, size_t cap)
{
    char digits[17];
    int n = 0;
    const char *p = text;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    digits[n] = '\0';
    int e = atoi(p + 1);
    uint64_t m = strtoull(digits, NULL, 10) + 1;
    if (m == 10000000000000000ULL) {
        m /= 10;
        e++;
    }
    snprintf(out, cap, "%" PRIu64 "e%d", m, e - 15);
    return reads_back(out, a);
}

static void shortest_by_printf(double a, shortest *sd)
{
    char text[40];
    /* A double that some decimal of at most 15 digits reads back as is
     * printed as that decimal at 15 digits, so normal values start there;
     * subnormals have less precision and start at one digit. */
    int first = a < 2.2250738585072014e-308 ? 1 : 15;
    for (int prec = first; prec <= 17; prec++) {
        snprintf(text, sizeof(text), "%.*e", prec - 1, a);
        if (reads_back(text, a)) {
            shortest_from_exponent_form(text, sd);
            return;
        }
        if (prec == 16) {
            char alt[40];
            if (next_candidate_reads_back(text, a, alt, sizeof(alt))) {
                char *mark = strchr(alt, 'e');
                uint64_t m = strtoull(alt, NULL, 10);
                shortest_from_integer(sd, m, atoi(mark + 1));
                return;
            }
        }
    }
    snprintf(text, sizeof(text), "%.16e", a);
    shortest_from_exponent_form(text, sd);
}

static void shortest_digits(double a, shortest *sd)
{
    if (!shortest_by_scaling(a, sd))
        shortest_by_printf(a, sd);
}

static char *put_zeros(char *p, int n)
{
    if (n > 0) {
        memset(p, '0', (size_t)n);
        p += n;
    }
    return p;
}

static char *put_exponent(char *p, int e)
{
    if (e < 0) {
        *p++ = '-';
        e = -e;
    }
    return p + format_u64(p, (uint64_t)e);
}

/* ryu's layout (ryu::Buffer::format_finite, as serde_json uses it). */
static size_t layout_ryu(char *out, bool negative, const shortest *sd)
{
    char *p = out;
    if (negative)
        *p++ = '-';
    int len = sd->len, k = sd->exp10, kk = len + k;
    const char *d = sd->digits;
    if (k >= 0 && kk <= 16) {
        memcpy(p, d, (size_t)len);
        p = put_zeros(p + len, k);
        memcpy(p, ".0", 2);
        p += 2;
    } else if (kk > 0 && kk <= 16) {
        memcpy(p, d, (size_t)kk);
        p += kk;
        *p++ = '.';
        memcpy(p, d + kk, (size_t)(len - kk));
        p += len - kk;
    } else if (kk > -5 && kk <= 0) {
        memcpy(p, "0.", 2);
        p = put_zeros(p + 2, -kk);
        memcpy(p, d, (size_t)len);
        p += len;
    } else if (len == 1) {
        *p++ = d[0];
        *p++ = 'e';
        p = put_exponent(p, kk - 1);
    } else {
        *p++ = d[0];
        *p++ = '.';
        memcpy(p, d + 1, (size_t)(len - 1));
        p += len - 1;
        *p++ = 'e';
        p = put_exponent(p, kk - 1);
    }
    *p = '\0';
    return (size_t)(p - out);
}

size_t json_format_float(char out[JSON_FLOAT_MAX], double f)
{
    if (!isfinite(f)) {
        memcpy(out, "null", 5);
        return 4;
    }
    bool negative = signbit(f) != 0;
    double a = fabs(f);
    if (a == 0) {
        const char *z = negative ? "-0.0" : "0.0";
        size_t n = strlen(z);
        memcpy(out, z, n + 1);
        return n;
    }
    shortest sd;
    shortest_digits(a, &sd);
    return layout_ryu(out, negative, &sd);
}

int json_append_float_display(buf *out, double f)
{
    if (isnan(f))
        return terminate(out, PUT_LIT(out, "NaN"));
    if (isinf(f))
        return terminate(out, f < 0 ? PUT_LIT(out, "-inf") : PUT_LIT(out, "inf"));
    bool negative = signbit(f) != 0;
    double a = fabs(f);
    if (a == 0)
        return terminate(out, negative ? PUT_LIT(out, "-0") : PUT_LIT(out, "0"));
    shortest sd;
    shortest_digits(a, &sd);
    int len = sd.len, kk = sd.len + sd.exp10;
    /* Rust's Display never uses an exponent: up to 309 integer digits or
     * 324 fraction digits. */
    size_t room = (size_t)(len + (kk < 0 ? -kk : kk)) + 4;
    if (ensure(out, room) < 0)
        return terminate(out, -1);
    char *p = out->data + out->len;
    if (negative)
        *p++ = '-';
    if (kk <= 0) {
        memcpy(p, "0.", 2);
        p = put_zeros(p + 2, -kk);
        memcpy(p, sd.digits, (size_t)len);
        p += len;
    } else if (kk >= len) {
        memcpy(p, sd.digits, (size_t)len);
        p = put_zeros(p + len, kk - len);
    } else {
        memcpy(p, sd.digits, (size_t)kk);
        p += kk;
        *p++ = '.';
        memcpy(p, sd.digits + kk, (size_t)(len - kk));
        p += len - kk;
    }
    out->len = (size_t)(p - out->data);
    return terminate(out, 0);
}

/* ---- values ------------------------------------------------------------ */

static int put_value(buf *b, const value *v);

static int put_int(buf *b, int64_t i)
{
    if (ensure(b, 20) < 0)
        return -1;
    b->len += format_i64(b->data + b->len, i);
    return 0;
}

static int put_uint(buf *b, uint64_t u)
{
    if (ensure(b, 20) < 0)
        return -1;
    b->len += format_u64(b->data + b->len, u);
    return 0;
}

static int put_float(buf *b, double f)
{
    if (ensure(b, JSON_FLOAT_MAX) < 0)
        return -1;
    b->len += json_format_float(b->data + b->len, f);
    return 0;
}

static int put_timestamp(buf *b, int64_t ns)
{
    if (ensure(b, JSON_TIMESTAMP_MAX + 2) < 0)
        return -1;
    b->data[b->len++] = '"';
    b->len += json_format_timestamp(b->data + b->len, ns);
    b->data[b->len++] = '"';
    return 0;
}

static int put_map(buf *b, const value_map *m)
{
    if (put_char(b, '{') < 0)
        return -1;
    for (uint32_t i = 0; i < m->len; i++) {
        const value_entry *e = &m->entries[i];
        if (i && put_char(b, ',') < 0)
            return -1;
        if (put_string(b, e->key, e->klen) < 0 || put_char(b, ':') < 0)
            return -1;
        if (put_value(b, &e->val) < 0)
            return -1;
    }
    return put_char(b, '}');
}

static int put_array(buf *b, const value_array *arr)
{
    if (put_char(b, '[') < 0)
        return -1;
    for (uint32_t i = 0; i < arr->len; i++) {
        if (i && put_char(b, ',') < 0)
            return -1;
        if (put_value(b, &arr->items[i]) < 0)
            return -1;
    }
    return put_char(b, ']');
}

static int put_value(buf *b, const value *v)
{
    switch (v->kind) {
    case VALUE_NULL:
        return PUT_LIT(b, "null");
    case VALUE_BOOL:
        return v->u.b ? PUT_LIT(b, "true") : PUT_LIT(b, "false");
    case VALUE_INT:
        return put_int(b, v->u.i);
    case VALUE_FLOAT:
        return put_float(b, v->u.f);
    case VALUE_BYTES:
        return put_string(b, v->u.s, v->len);
    case VALUE_TIMESTAMP:
        return put_timestamp(b, v->u.ts);
    case VALUE_ARRAY:
        return put_array(b, v->u.arr);
    case VALUE_MAP:
        return put_map(b, v->u.map);
    default:
        return PUT_LIT(b, "null");
    }
}

int json_encode_value(buf *out, const value *v)
{
    return terminate(out, put_value(out, v));
}

/* ---- metrics in Vector's native JSON shape ----------------------------- */

static int put_cstring(buf *b, const char *s)
{
    return put_string(b, s, strlen(s));
}

/* `"key":` preceded by a comma unless it opens the object. */
static int put_key(buf *b, const char *key, bool first)
{
    if (!first && put_char(b, ',') < 0)
        return -1;
    if (put_cstring(b, key) < 0)
        return -1;
    return put_char(b, ':');
}

static int put_tags(buf *b, const metric *m)
{
    if (put_char(b, '{') < 0)
        return -1;
    for (uint32_t i = 0; i < m->ntags; i++) {
        if (put_key(b, m->tags[i].key, i == 0) < 0)
            return -1;
        int rc = m->tags[i].value ? put_cstring(b, m->tags[i].value) : PUT_LIT(b, "null");
        if (rc < 0)
            return -1;
    }
    return put_char(b, '}');
}

static int compare_cstrings(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Vector keeps set values in a BTreeSet: sorted and unique. */
static int put_set_values(buf *b, const metric *m)
{
    uint32_t n = m->v.set.n;
    const char *small[64];
    const char **sorted = small;
    if (n > SL_ARRAY_LEN(small)) {
        sorted = malloc((size_t)n * sizeof(*sorted));
        if (!sorted)
            return -1;
    }
    if (n)
        memcpy(sorted, m->v.set.values, (size_t)n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), compare_cstrings);
    int rc = put_char(b, '[');
    bool first = true;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (i && strcmp(sorted[i], sorted[i - 1]) == 0)
            continue;
        if (!first)
            rc = put_char(b, ',');
        if (rc == 0)
            rc = put_cstring(b, sorted[i]);
        first = false;
    }
    if (rc == 0)
        rc = put_char(b, ']');
    if (sorted != small)
        free(sorted);
    return rc;
}

static int put_samples(buf *b, const metric *m)
{
    if (put_char(b, '[') < 0)
        return -1;
    for (uint32_t i = 0; i < m->v.dist.n; i++) {
        const metric_sample *s = &m->v.dist.samples[i];
        if ((i && put_char(b, ',') < 0) || PUT_LIT(b, "{\"value\":") < 0 ||
            put_float(b, s->value) < 0 || PUT_LIT(b, ",\"rate\":") < 0 ||
            put_uint(b, s->rate) < 0 || put_char(b, '}') < 0)
            return -1;
    }
    return put_char(b, ']');
}

static int put_buckets(buf *b, const metric *m)
{
    if (put_char(b, '[') < 0)
        return -1;
    for (uint32_t i = 0; i < m->v.hist.n; i++) {
        const metric_bucket *k = &m->v.hist.buckets[i];
        if ((i && put_char(b, ',') < 0) || PUT_LIT(b, "{\"upper_limit\":") < 0 ||
            put_float(b, k->upper_limit) < 0 || PUT_LIT(b, ",\"count\":") < 0 ||
            put_uint(b, k->count) < 0 || put_char(b, '}') < 0)
            return -1;
    }
    return put_char(b, ']');
}

static int put_quantiles(buf *b, const metric *m)
{
    if (put_char(b, '[') < 0)
        return -1;
    for (uint32_t i = 0; i < m->v.summary.n; i++) {
        const metric_quantile *q = &m->v.summary.quantiles[i];
        if ((i && put_char(b, ',') < 0) || PUT_LIT(b, "{\"quantile\":") < 0 ||
            put_float(b, q->quantile) < 0 || PUT_LIT(b, ",\"value\":") < 0 ||
            put_float(b, q->value) < 0 || put_char(b, '}') < 0)
            return -1;
    }
    return put_char(b, ']');
}

static int put_count_sum(buf *b, uint64_t count, double sum)
{
    if (PUT_LIT(b, ",\"count\":") < 0 || put_uint(b, count) < 0)
        return -1;
    return PUT_LIT(b, ",\"sum\":") < 0 ? -1 : put_float(b, sum);
}

static int put_metric_value(buf *b, const metric *m)
{
    if (put_key(b, metric_type_name(m->type), false) < 0 || put_char(b, '{') < 0)
        return -1;
    int rc;
    switch (m->type) {
    case METRIC_COUNTER:
    case METRIC_GAUGE:
        rc = PUT_LIT(b, "\"value\":") < 0 ? -1 : put_float(b, m->v.counter);
        break;
    case METRIC_SET:
        rc = PUT_LIT(b, "\"values\":") < 0 ? -1 : put_set_values(b, m);
        break;
    case METRIC_DISTRIBUTION:
        rc = PUT_LIT(b, "\"samples\":") < 0 || put_samples(b, m) < 0 ? -1 : 0;
        if (rc == 0)
            rc = m->v.dist.statistic == METRIC_STAT_SUMMARY
                     ? PUT_LIT(b, ",\"statistic\":\"summary\"")
                     : PUT_LIT(b, ",\"statistic\":\"histogram\"");
        break;
    case METRIC_AGGREGATED_HISTOGRAM:
        rc = PUT_LIT(b, "\"buckets\":") < 0 || put_buckets(b, m) < 0
                 ? -1
                 : put_count_sum(b, m->v.hist.count, m->v.hist.sum);
        break;
    case METRIC_AGGREGATED_SUMMARY:
        rc = PUT_LIT(b, "\"quantiles\":") < 0 || put_quantiles(b, m) < 0
                 ? -1
                 : put_count_sum(b, m->v.summary.count, m->v.summary.sum);
        break;
    default:
        rc = 0;
        break;
    }
    return rc < 0 ? -1 : put_char(b, '}');
}

static int put_metric(buf *b, const metric *m)
{
    if (put_char(b, '{') < 0 || put_key(b, "name", true) < 0 || put_cstring(b, m->name) < 0)
        return -1;
    if (m->namespace_ &&
        (put_key(b, "namespace", false) < 0 || put_cstring(b, m->namespace_) < 0))
        return -1;
    if (m->ntags && (put_key(b, "tags", false) < 0 || put_tags(b, m) < 0))
        return -1;
    if (m->has_timestamp &&
        (put_key(b, "timestamp", false) < 0 || put_timestamp(b, m->timestamp) < 0))
        return -1;
    if (m->interval_ms &&
        (put_key(b, "interval_ms", false) < 0 || put_uint(b, m->interval_ms) < 0))
        return -1;
    if (put_key(b, "kind", false) < 0 || put_cstring(b, metric_kind_name(m->kind)) < 0)
        return -1;
    if (put_metric_value(b, m) < 0)
        return -1;
    return put_char(b, '}');
}

int json_encode_event(buf *out, const event *e)
{
    if (e->type == EVENT_METRIC)
        return terminate(out, put_metric(out, e->u.metric));
    return terminate(out, put_value(out, &e->u.log));
}

/* ---- decoding ---------------------------------------------------------- */

/* Members and items of the containers being parsed wait on one stack, so
 * that each container is allocated once, at its exact size, when it closes;
 * the first ones fit in the decoder itself. */
#define DECODE_STACK_INLINE 64

typedef struct decoder {
    const unsigned char *start, *p, *end;
    arena *a;
    sl_error *err;
    unsigned depth;
    value_entry *stack;
    size_t top, cap;
    value_entry inline_stack[DECODE_STACK_INLINE];
} decoder;

static int decode_fail(decoder *d, const unsigned char *at, const char *what)
{
    return sl_fail(d->err, "invalid JSON at byte %zu: %s", (size_t)(at - d->start), what);
}

static int out_of_memory(decoder *d)
{
    return sl_fail(d->err, "out of memory decoding JSON");
}

/* The parsers of values return the value itself, which travels in
 * registers: it is stored into the member stack right away, and reading back
 * whole a value that a callee had just stored in pieces through a pointer
 * defeats store forwarding and stalls on every member. A value of kind
 * DECODE_FAILED says that parsing failed, the error being in d->err. */
#define DECODE_FAILED 0xFF

static inline value failed_value(void)
{
    value v = value_null();
    v.kind = DECODE_FAILED;
    return v;
}

static inline bool is_failed(value v)
{
    return v.kind == DECODE_FAILED;
}

static value fail_value(decoder *d, const unsigned char *at, const char *what)
{
    decode_fail(d, at, what);
    return failed_value();
}

/* Doubles the stack; the rare path of stack_push, kept out of line. */
static int stack_grow(decoder *d)
{
    size_t cap = d->cap * 2;
    value_entry *s;
    if (d->stack == d->inline_stack) {
        s = malloc(cap * sizeof(*s));
        if (s)
            memcpy(s, d->stack, d->top * sizeof(*s));
    } else {
        s = realloc(d->stack, cap * sizeof(*s));
    }
    if (!s)
        return out_of_memory(d);
    d->stack = s;
    d->cap = cap;
    return 0;
}

/* Takes the value by value, so that one built in registers is stored
 * straight into its slot. */
static inline int stack_push(decoder *d, const char *key, size_t klen, value v)
{
    if (d->top == d->cap && stack_grow(d) < 0)
        return -1;
    value_entry *e = &d->stack[d->top++];
    e->key = key;
    e->klen = (uint32_t)klen;
    e->val = v;
    return 0;
}

static inline void skip_whitespace(decoder *d)
{
    /* Compact JSON has no whitespace: one compare settles the common case. */
    if (d->p < d->end && *d->p > ' ')
        return;
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
        d->p++;
}

static value parse_value(decoder *d);

/* Decodes the \u escape at p (p[0] == 'u', the backslash before it),
 * combining a surrogate pair; a lone surrogate becomes U+FFFD. Returns the
 * input bytes consumed after the backslash, or 0 on a malformed escape. */
static size_t decode_unicode_escape(const unsigned char *p, const unsigned char *end, char **o)
{
    uint32_t cp;
    size_t used = utf8_json_escape(p, (size_t)(end - p), &cp);
    if (used)
        *o += utf8_encode(utf8_is_surrogate(cp) ? UTF8_REPLACEMENT : cp, *o);
    return used;
}

static bool decode_simple_escape(unsigned char c, char *out)
{
    switch (c) {
    case '"': *out = '"'; return true;
    case '\\': *out = '\\'; return true;
    case '/': *out = '/'; return true;
    case 'b': *out = '\b'; return true;
    case 'f': *out = '\f'; return true;
    case 'n': *out = '\n'; return true;
    case 'r': *out = '\r'; return true;
    case 't': *out = '\t'; return true;
    default: return false;
    }
}

/* A byte at p that skip_plain stopped at and that is not `"` or `\`:
 * returns the length of the valid UTF-8 character there, or 0 after
 * reporting the error. */
static size_t check_special(decoder *d, const unsigned char *p)
{
    if (*p < 0x20) {
        decode_fail(d, p, "control character in string");
        return 0;
    }
    size_t bad;
    size_t k = utf8_sequence(p, (size_t)(d->end - p), &bad);
    if (!k)
        decode_fail(d, p, "invalid UTF-8 in string");
    return k;
}

/* The string starting at `body` has an escape: find its closing quote, then
 * decode it into the arena (it only shrinks). */
static int parse_escaped_string(decoder *d, const unsigned char *body, const char **s, size_t *n)
{
    const unsigned char *q = d->p;
    for (;;) {
        q = skip_plain(q, d->end);
        if (q >= d->end)
            return decode_fail(d, body - 1, "unterminated string");
        if (*q == '"')
            break;
        if (*q == '\\' && d->end - q < 2)
            return decode_fail(d, body - 1, "unterminated string");
        q += *q == '\\' ? 2 : 1;
    }
    const unsigned char *close = q;
    char *buf = arena_alloc(d->a, (size_t)(close - body));
    if (!buf)
        return out_of_memory(d);
    char *o = buf;
    const unsigned char *p = body;
    while (p < close) {
        const unsigned char *stop = skip_plain(p, close);
        memcpy(o, p, (size_t)(stop - p));
        o += stop - p;
        p = stop;
        if (p == close)
            break;
        if (*p != '\\') {
            size_t k = check_special(d, p);
            if (!k)
                return -1;
            memcpy(o, p, k);
            o += k;
            p += k;
            continue;
        }
        p++;
        if (*p == 'u') {
            size_t used = decode_unicode_escape(p, close, &o);
            if (!used)
                return decode_fail(d, p - 1, "invalid \\u escape");
            p += used;
        } else if (decode_simple_escape(*p, o)) {
            o++;
            p++;
        } else {
            return decode_fail(d, p - 1, "invalid escape");
        }
    }
    *s = buf;
    *n = (size_t)(o - buf);
    d->p = close + 1;
    return 0;
}

/* The rest of parse_string from q, the first byte of the string at d->p
 * that needs work (or the end): kept out of line, as most strings end at
 * their first such byte. */
static int finish_string(decoder *d, const unsigned char *body, const unsigned char *q,
                         const char **s, size_t *n)
{
    for (;;) {
        if (q == d->end)
            return decode_fail(d, body - 1, "unterminated string");
        if (*q == '"') {
            if ((size_t)(q - body) > UINT32_MAX)
                return decode_fail(d, body - 1, "string longer than 4 GiB");
            *s = (const char *)body;
            *n = (size_t)(q - body);
            d->p = q + 1;
            return 0;
        }
        if (*q == '\\') {
            d->p = q;
            return parse_escaped_string(d, body, s, n);
        }
        size_t k = check_special(d, q);
        if (!k)
            return -1;
        q = skip_plain(q + k, d->end);
    }
}

/* d->p is at the opening quote. Strings without escapes point into the
 * input. Inline, as it runs for every key and most values: a plain run up
 * to the closing quote is the whole of most strings. */
static inline int parse_string(decoder *d, const char **s, size_t *n)
{
    const unsigned char *body = ++d->p;
    const unsigned char *q = skip_plain(body, d->end);
    if (q < d->end && *q == '"' && (size_t)(q - body) <= UINT32_MAX) {
        *s = (const char *)body;
        *n = (size_t)(q - body);
        d->p = q + 1;
        return 0;
    }
    return finish_string(d, body, q, s, n);
}

static value parse_literal(decoder *d, const char *word, size_t len, value v)
{
    if ((size_t)(d->end - d->p) < len || memcmp(d->p, word, len) != 0)
        return fail_value(d, d->p, "expected a value");
    d->p += len;
    return v;
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Exact when the digits fit 2^53 and the power of ten is exact: the one
 * rounding is then the correct one (Clinger's fast path). */
static bool float_fast_path(uint64_t mantissa, int exp10, bool negative, double *out)
{
    if (mantissa > (1ULL << 53) || exp10 < -22 || exp10 > 22)
        return false;
    double v = (double)mantissa;
    v = exp10 < 0 ? v / pow10_table[-exp10] : v * pow10_table[exp10];
    *out = negative ? -v : v;
    return true;
}

static int parse_float_text(decoder *d, const unsigned char *start, size_t len, double *out)
{
    char small[64];
    char *text = len < sizeof(small) ? small : malloc(len + 1);
    if (!text)
        return out_of_memory(d);
    memcpy(text, start, len);
    text[len] = '\0';
    double v = strtod(text, NULL);
    if (text != small)
        free(text);
    if (isinf(v))
        return decode_fail(d, start, "number out of range");
    *out = v;
    return 0;
}

static value parse_number(decoder *d)
{
    const unsigned char *start = d->p, *p = d->p, *end = d->end;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    uint64_t mantissa = 0;
    int digits = 0, exp10 = 0;
    bool is_integer = true;
    if (!is_digit(p, end))
        return fail_value(d, p, "invalid number");
    if (*p == '0') {
        p++;
    } else {
        for (; is_digit(p, end); p++) {
            if (digits < 19)
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            else
                exp10++;
            digits++;
        }
    }
    if (p < end && *p == '.') {
        is_integer = false;
        p++;
        if (!is_digit(p, end))
            return fail_value(d, p, "invalid number");
        for (; is_digit(p, end); p++) {
            if (digits == 0 && *p == '0') {
                exp10--;
                continue;
            }
            if (digits < 19) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                exp10--;
            }
            digits++;
        }
    }
    bool has_exponent = false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_integer = false;
        has_exponent = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return fail_value(d, p, "invalid number");
        while (is_digit(p, end))
            p++;
    }
    d->p = p;

    if (is_integer && digits <= 19) {
        /* serde_json reads "-0" as the float -0.0. */
        if (negative && mantissa == 0)
            return value_float(-0.0);
        if (!negative && mantissa <= (uint64_t)INT64_MAX)
            return value_int((int64_t)mantissa);
        if (negative && mantissa <= (uint64_t)INT64_MAX + 1)
            return value_int((int64_t)(0 - mantissa));
    }
    double v = 0;
    if (!has_exponent && digits <= 19 && float_fast_path(mantissa, exp10, negative, &v))
        return value_float(v);
    if (parse_float_text(d, start, (size_t)(p - start), &v) < 0)
        return failed_value();
    return value_float(v);
}

/* Keys are short and mostly differ in their first bytes, so an inline byte
 * loop beats a call to memcmp. */
static inline int compare_entry_keys(const value_entry *x, const value_entry *y)
{
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    const unsigned char *a = (const unsigned char *)x->key, *b = (const unsigned char *)y->key;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

/* Stable. Returns whether some key is repeated: each entry stops at the
 * greatest key not above its own, which is an equal one if there is any
 * before it, so every repeat shows up as a comparison that found equality. */
static bool insertion_sort(value_entry *e, size_t n)
{
    bool repeats = false;
    for (size_t i = 1; i < n; i++) {
        value_entry x = e[i];
        size_t j = i;
        int c = 0;
        while (j > 0 && (c = compare_entry_keys(&e[j - 1], &x)) > 0) {
            e[j] = e[j - 1];
            j--;
        }
        if (j > 0 && c == 0)
            repeats = true;
        e[j] = x;
    }
    return repeats;
}

/* Stable, so that of repeated keys the last one stays last. */
static int merge_sort(value_entry *e, size_t n)
{
    value_entry *tmp = malloc(n * sizeof(*tmp));
    if (!tmp)
        return -1;
    const size_t run = 16;
    for (size_t i = 0; i < n; i += run)
        insertion_sort(e + i, n - i < run ? n - i : run);
    for (size_t width = run; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = compare_entry_keys(&e[j], &e[i]) < 0 ? e[j++] : e[i++];
            while (i < mid)
                tmp[k++] = e[i++];
            while (j < hi)
                tmp[k++] = e[j++];
        }
        memcpy(e, tmp, n * sizeof(*e));
    }
    free(tmp);
    return 0;
}

/* Sorts the members of the object being closed and keeps the last of
 * repeated keys, as serde_json does. `sorted` tells that the parser already
 * saw the keys strictly ascending. Returns the count left. */
static int sort_members(decoder *d, value_entry *e, size_t n, bool sorted, size_t *kept)
{
    if (sorted) {
        *kept = n;
        return 0;
    }
    if (n <= 32) {
        if (!insertion_sort(e, n)) {
            *kept = n;
            return 0;
        }
    } else if (merge_sort(e, n) < 0) {
        return out_of_memory(d);
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && compare_entry_keys(&e[w - 1], &e[i]) == 0)
            e[w - 1] = e[i];
        else
            e[w++] = e[i];
    }
    *kept = w;
    return 0;
}

static int enter(decoder *d)
{
    if (++d->depth > JSON_MAX_DEPTH)
        return decode_fail(d, d->p, "nesting deeper than 128 levels");
    d->p++;
    return 0;
}

static value close_object(decoder *d, size_t base, bool sorted)
{
    size_t n = 0;
    if (sort_members(d, d->stack + base, d->top - base, sorted, &n) < 0)
        return failed_value();
    value v = value_new_map(d->a, (uint32_t)n);
    if (v.kind != VALUE_MAP) {
        out_of_memory(d);
        return failed_value();
    }
    if (n)
        memcpy(v.u.map->entries, d->stack + base, n * sizeof(value_entry));
    v.u.map->len = (uint32_t)n;
    d->top = base;
    d->depth--;
    return v;
}

static value parse_object(decoder *d)
{
    if (enter(d) < 0)
        return failed_value();
    size_t base = d->top;
    skip_whitespace(d);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        return close_object(d, base, true);
    }
    /* Whether the keys so far are strictly ascending, checked as each one
     * is pushed (its predecessor is still hot) so that close_object can skip
     * sorting the objects real producers mostly write in key order. */
    bool sorted = true;
    for (;;) {
        skip_whitespace(d);
        if (d->p == d->end)
            return fail_value(d, d->p, "unexpected end of input");
        if (*d->p != '"')
            return fail_value(d, d->p, "expected a string key");
        const char *key;
        size_t klen;
        if (parse_string(d, &key, &klen) < 0)
            return failed_value();
        skip_whitespace(d);
        if (d->p == d->end || *d->p != ':')
            return fail_value(d, d->p, "expected ':'");
        d->p++;
        value v = parse_value(d);
        if (is_failed(v) || stack_push(d, key, klen, v) < 0)
            return failed_value();
        if (sorted && d->top - base > 1 &&
            compare_entry_keys(&d->stack[d->top - 2], &d->stack[d->top - 1]) >= 0)
            sorted = false;
        skip_whitespace(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            return close_object(d, base, sorted);
        }
        return fail_value(d, d->p, "expected ',' or '}'");
    }
}

static value close_array(decoder *d, size_t base)
{
    size_t n = d->top - base;
    value v = value_new_array(d->a, (uint32_t)n);
    if (v.kind != VALUE_ARRAY) {
        out_of_memory(d);
        return failed_value();
    }
    for (size_t i = 0; i < n; i++)
        v.u.arr->items[i] = d->stack[base + i].val;
    v.u.arr->len = (uint32_t)n;
    d->top = base;
    d->depth--;
    return v;
}

static value parse_array(decoder *d)
{
    if (enter(d) < 0)
        return failed_value();
    size_t base = d->top;
    skip_whitespace(d);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        return close_array(d, base);
    }
    for (;;) {
        value v = parse_value(d);
        if (is_failed(v) || stack_push(d, NULL, 0, v) < 0)
            return failed_value();
        skip_whitespace(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            return close_array(d, base);
        }
        return fail_value(d, d->p, "expected ',' or ']'");
    }
}

static value parse_value(decoder *d)
{
    skip_whitespace(d);
    if (d->p == d->end)
        return fail_value(d, d->p, "unexpected end of input");
    switch (*d->p) {
    case '{':
        return parse_object(d);
    case '[':
        return parse_array(d);
    case '"': {
        const char *s;
        size_t n;
        if (parse_string(d, &s, &n) < 0)
            return failed_value();
        return value_bytes(s, n);
    }
    case 't':
        return parse_literal(d, "true", 4, value_bool(true));
    case 'f':
        return parse_literal(d, "false", 5, value_bool(false));
    case 'n':
        return parse_literal(d, "null", 4, value_null());
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(d);
    default:
        return fail_value(d, d->p, "expected a value");
    }
}

int json_decode(arena *a, const char *text, size_t n, value *out, sl_error *err)
{
    decoder d;
    d.start = d.p = (const unsigned char *)text;
    d.end = d.start + n;
    d.a = a;
    d.err = err;
    d.depth = 0;
    d.stack = d.inline_stack;
    d.top = 0;
    d.cap = DECODE_STACK_INLINE;
    value v = parse_value(&d);
    int rc = is_failed(v) ? -1 : 0;
    if (rc == 0) {
        *out = v;
        skip_whitespace(&d);
        if (d.p != d.end)
            rc = decode_fail(&d, d.p, "trailing characters");
    }
    if (d.stack != d.inline_stack)
        free(d.stack);
    return rc;
}
