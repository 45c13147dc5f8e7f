/* json_oracle.h - jansson as the reference for the hot-path JSON codec,
 * shared by the unit tests and the differential fuzz target.
 *
 * The codec follows serde_json (Vector) where jansson differs; the oracle
 * knows these divergences and nothing else:
 *   - integers outside int64: jansson refuses them, the codec reads them as
 *     floats. The oracle reparses with JSON_DECODE_INT_AS_REAL.
 *   - "-0": the float -0.0 in the codec, the integer 0 in jansson.
 *   - escaped lone surrogates: U+FFFD in the codec, an error in jansson. The
 *     oracle hands jansson the text with each lone one spelled \ufffd.
 *   - NUL in object keys: jansson refuses it. The oracle spells \u0000 as
 *     \u0001 in both inputs and compares those.
 *   - nesting: the codec stops at 128 levels, jansson at 2048.
 *   - raw NUL bytes: never valid JSON, and refused by the codec, but jansson
 *     takes some outside strings for the end of input ("[1\0]" loads).
 * Everything else must agree: accept or reject, and the values. */
#ifndef SLUICE_TEST_JSON_ORACLE_H
#define SLUICE_TEST_JSON_ORACLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"

#define ORACLE_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

static bool oracle_equal(const value *v, const json_t *j)
{
    switch (v->kind) {
    case VALUE_NULL:
        return json_is_null(j);
    case VALUE_BOOL:
        return v->u.b ? json_is_true(j) : json_is_false(j);
    case VALUE_INT:
        if (json_is_real(j))
            return (double)v->u.i == json_real_value(j);
        return json_is_integer(j) && json_integer_value(j) == v->u.i;
    case VALUE_FLOAT:
        if (json_is_real(j))
            return json_real_value(j) == v->u.f;
        return json_is_integer(j) && json_integer_value(j) == 0 && v->u.f == 0;
    case VALUE_BYTES:
        return json_is_string(j) && json_string_length(j) == v->len &&
               (v->len == 0 || memcmp(json_string_value(j), v->u.s, v->len) == 0);
    case VALUE_ARRAY:
        if (!json_is_array(j) || json_array_size(j) != v->u.arr->len)
            return false;
        for (uint32_t i = 0; i < v->u.arr->len; i++)
            if (!oracle_equal(&v->u.arr->items[i], json_array_get(j, i)))
                return false;
        return true;
    case VALUE_MAP:
        if (!json_is_object(j) || json_object_size(j) != v->u.map->len)
            return false;
        for (uint32_t i = 0; i < v->u.map->len; i++) {
            const value_entry *e = &v->u.map->entries[i];
            json_t *m = json_object_getn(j, e->key, e->klen);
            if (!m || !oracle_equal(&e->val, m))
                return false;
        }
        return true;
    default:
        return false;
    }
}

static int oracle_hex4(const unsigned char *p, size_t avail)
{
    if (avail < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], h;
        if (c >= '0' && c <= '9') h = c - '0';
        else if (c >= 'a' && c <= 'f') h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') h = c - 'A' + 10;
        else return -1;
        v = v * 16 + h;
    }
    return v;
}

typedef struct oracle_scan {
    size_t max_depth;
    bool has_nul_escape;
} oracle_scan;

/* Walks text (escape-aware) to find its nesting depth, and rewrites, in
 * place, each lone surrogate escape as \ufffd (when fix_surrogates) and each
 * \u0000 as \u0001 (when fix_nul). The rewrites keep lengths and structure. */
static void oracle_normalize(unsigned char *t, size_t n, bool fix_surrogates, bool fix_nul,
                             oracle_scan *out)
{
    size_t depth = 0;
    bool in_string = false;
    out->max_depth = 0;
    out->has_nul_escape = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = t[i];
        if (!in_string) {
            if (c == '"')
                in_string = true;
            else if (c == '[' || c == '{') {
                if (++depth > out->max_depth)
                    out->max_depth = depth;
            } else if ((c == ']' || c == '}') && depth)
                depth--;
            continue;
        }
        if (c == '"') {
            in_string = false;
            continue;
        }
        if (c != '\\' || i + 1 >= n)
            continue;
        if (t[i + 1] != 'u') {
            i++;
            continue;
        }
        int cp = oracle_hex4(t + i + 2, n - i - 2);
        if (cp < 0) {
            i++;
            continue;
        }
        if (cp == 0) {
            out->has_nul_escape = true;
            if (fix_nul)
                t[i + 5] = '1';
        } else if (cp >= 0xD800 && cp <= 0xDBFF && i + 7 < n && t[i + 6] == '\\' &&
                   t[i + 7] == 'u') {
            int lo = oracle_hex4(t + i + 8, n - i - 8);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                i += 11;
                continue;
            }
            if (fix_surrogates)
                memcpy(t + i + 2, "fffd", 4);
        } else if (cp >= 0xD800 && cp <= 0xDFFF && fix_surrogates) {
            memcpy(t + i + 2, "fffd", 4);
        }
        i += 5;
    }
}

/* jansson's parse of text, reading out-of-range integers as reals. */
static json_t *oracle_load(const char *text, size_t n)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, n, ORACLE_FLAGS, &jerr);
    if (!j && strstr(jerr.text, "too big"))
        j = json_loadb(text, n, ORACLE_FLAGS | JSON_DECODE_INT_AS_REAL, &jerr);
    return j;
}

typedef enum oracle_verdict {
    ORACLE_AGREE = 0,
    ORACLE_ACCEPT_MISMATCH,   /* one accepted, the other refused */
    ORACLE_VALUE_MISMATCH,    /* both accepted, different values */
    ORACLE_REENCODE_MISMATCH, /* our encoding does not read back the same */
    ORACLE_ERROR,             /* out of memory in the harness */
} oracle_verdict;

/* Decodes text with both and checks they agree, then that encoding our value
 * reads back the same with jansson and with our decoder. */
static oracle_verdict oracle_check(const char *text, size_t n)
{
    unsigned char *ours_in = malloc(n ? n : 1), *ref_in = malloc(n ? n : 1);
    arena *a = arena_new();
    if (!ours_in || !ref_in || !a) {
        free(ours_in);
        free(ref_in);
        arena_free(a);
        return ORACLE_ERROR;
    }
    memcpy(ours_in, text, n);
    memcpy(ref_in, text, n);
    oracle_scan scan;
    oracle_normalize(ref_in, n, true, false, &scan);
    if (scan.has_nul_escape) {
        oracle_scan ignored;
        oracle_normalize(ours_in, n, false, true, &ignored);
        oracle_normalize(ref_in, n, false, true, &ignored);
    }

    oracle_verdict verdict = ORACLE_AGREE;
    value v;
    sl_error err;
    bool ours_ok = json_decode(a, (const char *)ours_in, n, &v, &err) == 0;
    json_t *j = NULL;
    if (scan.max_depth > 128 || memchr(text, '\0', n)) {
        verdict = ours_ok ? ORACLE_ACCEPT_MISMATCH : ORACLE_AGREE;
        goto done;
    }
    j = oracle_load((const char *)ref_in, n);
    if (ours_ok != (j != NULL)) {
        verdict = ORACLE_ACCEPT_MISMATCH;
        goto done;
    }
    if (!ours_ok)
        goto done;
    if (!oracle_equal(&v, j)) {
        verdict = ORACLE_VALUE_MISMATCH;
        goto done;
    }
    buf enc = BUF_INIT;
    if (json_encode_value(&enc, &v) < 0) {
        verdict = ORACLE_ERROR;
        goto done;
    }
    json_t *j2 = oracle_load(enc.data, enc.len);
    value v2;
    if (!j2 || !oracle_equal(&v, j2) ||
        json_decode(a, enc.data, enc.len, &v2, &err) < 0 || !value_equal(&v, &v2))
        verdict = ORACLE_REENCODE_MISMATCH;
    json_decref(j2);
    buf_free(&enc);
done:
    json_decref(j);
    arena_free(a);
    free(ours_in);
    free(ref_in);
    return verdict;
}

#endif
