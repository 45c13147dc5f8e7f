/* fuzz_es_bulk.c - libFuzzer target for the Elasticsearch bulk-response
 * parser (sinks/es_bulk.c).
 *
 * Each input is a response body, parsed for several item counts: the one
 * the body holds, one more, and a small one taken from the input. Whatever
 * the bytes, the parser must not crash, must write no verdict outside
 * items[0..n) nor an unknown one, must report failures only for positions
 * below n with slices inside the body, and must give the same answer twice.
 * When jansson reads the body as JSON (without duplicate keys, not nested
 * beyond the parser's limit, without raw NUL bytes, which jansson takes for
 * the end of input in places), jansson is the oracle: the result, every
 * verdict and every failed item's _id must be what it says. A failed check
 * traps, which libFuzzer reports with the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sinks/es_bulk.h"

#define MAX_N 64
#define ORACLE_MAX_DEPTH 100   /* well inside the parser's own limit */

static void require(bool ok)
{
    if (!ok)
        __builtin_trap();
}

/* ---- what the parser reports ---- */

typedef struct run {
    const char *body;
    size_t len, n;
    uint8_t items[MAX_N + 1];   /* the last one is a guard */
    size_t failures;
    size_t ids_checked;
    const char *want_ids[MAX_N];   /* oracle's _id of each item, or NULL */
    size_t want_id_len[MAX_N];
} run;

static bool inside(const run *r, es_slice s)
{
    return s.n == 0 || (s.p >= r->body && s.p + s.n <= r->body + r->len);
}

static void on_failure(void *ctx, const es_bulk_item *it, http_item verdict)
{
    run *r = ctx;
    require(it->pos < r->n);
    require(verdict == HTTP_ITEM_RETRY || verdict == HTTP_ITEM_REJECTED);
    require(inside(r, it->id) && inside(r, it->index) && inside(r, it->type) &&
            inside(r, it->reason));
    buf id = BUF_INIT;
    if (es_bulk_unescape(&id, it->id) == 0 && r->want_ids[it->pos]) {
        require(id.len == r->want_id_len[it->pos] &&
                (id.len == 0 || memcmp(id.data, r->want_ids[it->pos], id.len) == 0));
        r->ids_checked++;
    }
    buf_free(&id);
    r->failures++;
}

static es_bulk_result parse(run *r)
{
    const char *why = NULL;
    r->failures = 0;
    memset(r->items, 0xEE, sizeof(r->items));
    es_bulk_result res = es_bulk_parse(r->body, r->len, r->n, r->items, on_failure, r, &why);
    require(res == ES_BULK_ALL_OK || res == ES_BULK_ITEMS || res == ES_BULK_MALFORMED);
    require(r->items[r->n] == 0xEE);
    if (res == ES_BULK_MALFORMED)
        require(why != NULL && why[0] != '\0');
    if (res == ES_BULK_ITEMS) {
        size_t failed = 0;
        for (size_t i = 0; i < r->n; i++) {
            require(r->items[i] <= HTTP_ITEM_REJECTED);
            failed += r->items[i] != HTTP_ITEM_DELIVERED;
        }
        require(failed == r->failures);
    }
    return res;
}

/* ---- the oracle ---- */

typedef struct expect {
    es_bulk_result res;
    size_t count;                /* items in the body */
    uint8_t items[MAX_N];
} expect;

static int status_of(json_t *res)
{
    json_t *st = json_object_get(res, "status");
    if (!json_is_integer(st))
        return 0;
    json_int_t v = json_integer_value(st);
    return v >= 100 && v <= 999 ? (int)v : 0;
}

static uint8_t oracle_verdict(const char *action, json_t *res)
{
    int st = status_of(res);
    json_t *err = json_object_get(res, "error");
    bool error = err && !json_is_null(err);
    if (st == 0)
        return error ? HTTP_ITEM_REJECTED : HTTP_ITEM_DELIVERED;
    if ((st >= 200 && st < 300) || (st == 409 && strcmp(action, "create") == 0))
        return HTTP_ITEM_DELIVERED;
    if (st == 429 || st >= 500)
        return HTTP_ITEM_RETRY;
    return HTTP_ITEM_REJECTED;
}

/* One items array; false when it is not one the parser can accept. */
static bool oracle_items(json_t *items, expect *want, run *r)
{
    if (!json_is_array(items))
        return false;
    want->count = json_array_size(items);
    for (size_t i = 0; i < want->count; i++) {
        json_t *item = json_array_get(items, i);
        void *it = json_is_object(item) ? json_object_iter(item) : NULL;
        if (!it)
            return false;
        json_t *res = json_object_iter_value(it);
        if (!json_is_object(res))
            return false;
        if (i < MAX_N) {
            want->items[i] = oracle_verdict(json_object_iter_key(it), res);
            json_t *id = json_object_get(res, "_id");
            r->want_ids[i] = json_is_string(id) ? json_string_value(id) : NULL;
            r->want_id_len[i] = json_is_string(id) ? json_string_length(id) : 0;
        }
    }
    return true;
}

/* Members in the order the body has them, as the parser reads them. */
static void oracle(json_t *root, expect *want, run *r)
{
    bool seen_items = false;
    want->res = ES_BULK_MALFORMED;
    if (!json_is_object(root))
        return;
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const char *key = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        if (strcmp(key, "errors") == 0 && json_is_false(v)) {
            want->res = ES_BULK_ALL_OK;
            return;
        }
        if (strcmp(key, "items") == 0) {
            if (!oracle_items(v, want, r))
                return;
            seen_items = true;
        }
    }
    if (seen_items)
        want->res = ES_BULK_ITEMS;
}

/* Nesting of a document jansson accepted (strings skipped). */
static int depth_of(const char *p, size_t n)
{
    int depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            max = ++depth > max ? depth : max;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

static void check_count(run *r, size_t n, const expect *want)
{
    r->n = n;
    es_bulk_result got = parse(r);
    uint8_t first[MAX_N + 1];
    memcpy(first, r->items, sizeof(first));
    require(parse(r) == got && memcmp(first, r->items, sizeof(first)) == 0);
    if (!want)
        return;
    es_bulk_result expected = want->res;
    if (expected == ES_BULK_ITEMS && want->count != n)
        expected = ES_BULK_MALFORMED;
    require(got == expected);
    if (got == ES_BULK_ITEMS)
        require(memcmp(r->items, want->items, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run *r = calloc(1, sizeof(*r));
    if (!r)
        return 0;
    r->body = (const char *)data;
    r->len = size;
    json_error_t jerr;
    json_t *root = json_loadb(r->body, size, JSON_REJECT_DUPLICATES, &jerr);
    expect want = {0};
    bool use_oracle = root && depth_of(r->body, size) <= ORACLE_MAX_DEPTH &&
                      !memchr(r->body, '\0', size);
    if (use_oracle)
        oracle(root, &want, r);
    const expect *w = use_oracle ? &want : NULL;
    if (use_oracle && want.count < MAX_N) {
        check_count(r, want.count, w);
        check_count(r, want.count + 1, w);
    }
    check_count(r, size % 8, w);
    json_decref(root);
    free(r);
    return 0;
}
