/* json_number.c - doubles as text: ryu's shortest round-trip form, as
 * serde_json writes them into JSON, and Rust's Display form for Vector's
 * text encodings (see json.h). */
#include "pipeline/json_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double json_pow10[23] = {
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
    for (int k = 0; k < (int)SL_ARRAY_LEN(json_pow10); k++) {
        double x = a * json_pow10[k];
        if (x >= 1125899906842624.0)
            return false;
        double m = nearbyint(x);
        if (m / json_pow10[k] == a) {
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
