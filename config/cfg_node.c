/* cfg_node.c - loads a YAML or JSON document into the positioned cfg_node
 * tree (see cfg_node.h).
 *
 * YAML goes through libyaml's event parser: each event carries its mark, so
 * every node knows its line and column. Anchors are resolved by copying the
 * anchored node, which keeps the result a plain tree (interpolation and
 * freeing visit each node once); a budget on copied nodes and a depth limit
 * keep alias bombs and deep nesting from exhausting memory or the stack.
 *
 * JSON is first checked by jansson, whose syntax messages are good, and then
 * read by a small positioned reader here. libyaml could read most JSON as
 * flow YAML, but it rejects surrogate-pair escapes (emoji) and keys longer
 * than 1024 characters, both valid JSON. */
#include "config/cfg_node.h"
#include "config/diag.h"
#include "pipeline/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <yaml.h>

/* Real configurations nest a dozen levels at most. */
#define CFG_MAX_DEPTH 100
/* Far above any sane use of anchors; stops "billion laughs" documents. */
#define CFG_MAX_ALIAS_NODES 100000

struct cfg_doc {
    char *file;
    cfg_node *root;
};

const char *cfg_kind_name(cfg_kind kind)
{
    switch (kind) {
    case CFG_NULL: return "null";
    case CFG_SCALAR: return "string";
    case CFG_SEQ: return "list";
    case CFG_MAP: return "map";
    }
    return "value";
}

const cfg_pair *cfg_map_pair(const cfg_node *map, const char *key)
{
    if (!map || map->kind != CFG_MAP)
        return NULL;
    for (size_t i = 0; i < map->npairs; i++)
        if (strcmp(map->pairs[i].key->text, key) == 0)
            return &map->pairs[i];
    return NULL;
}

const cfg_node *cfg_map_get(const cfg_node *map, const char *key)
{
    const cfg_pair *pair = cfg_map_pair(map, key);
    return pair ? pair->value : NULL;
}

/* ---- nodes ---- */

static cfg_node *node_new(cfg_doc *doc, cfg_kind kind, int line, int col)
{
    cfg_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->file = doc->file;
    n->line = line;
    n->col = col;
    return n;
}

static void node_free(cfg_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nitems; i++)
        node_free(n->items[i]);
    for (size_t i = 0; i < n->npairs; i++) {
        node_free(n->pairs[i].key);
        node_free(n->pairs[i].value);
    }
    free(n->items);
    free(n->pairs);
    free(n->text);
    free(n);
}

static int node_set_text(cfg_node *n, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    n->text = copy;
    n->len = len;
    return 0;
}

/* Arrays grow to the next power of two (at least 4) as they fill, so their
 * capacity follows from their length and needs no field of its own. */
static size_t capacity_for(size_t n)
{
    size_t cap = 4;
    while (cap < n)
        cap *= 2;
    return cap;
}

static bool array_is_full(size_t n)
{
    return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

static int seq_append(cfg_node *seq, cfg_node *item)
{
    if (array_is_full(seq->nitems)) {
        size_t cap = capacity_for(seq->nitems + 1);
        cfg_node **items = realloc(seq->items, cap * sizeof(*items));
        if (!items)
            return -1;
        seq->items = items;
    }
    seq->items[seq->nitems++] = item;
    return 0;
}

static int map_append(cfg_node *map, cfg_node *key, cfg_node *value)
{
    if (array_is_full(map->npairs)) {
        size_t cap = capacity_for(map->npairs + 1);
        cfg_pair *pairs = realloc(map->pairs, cap * sizeof(*pairs));
        if (!pairs)
            return -1;
        map->pairs = pairs;
    }
    map->pairs[map->npairs].key = key;
    map->pairs[map->npairs].value = value;
    map->npairs++;
    return 0;
}

static cfg_node *node_copy(cfg_doc *doc, const cfg_node *src)
{
    cfg_node *n = node_new(doc, src->kind, src->line, src->col);
    if (!n)
        return NULL;
    n->plain = src->plain;
    if (src->text && node_set_text(n, src->text, src->len) < 0)
        goto fail;
    if (src->nitems) {
        n->items = malloc(capacity_for(src->nitems) * sizeof(*n->items));
        if (!n->items)
            goto fail;
        for (; n->nitems < src->nitems; n->nitems++)
            if (!(n->items[n->nitems] = node_copy(doc, src->items[n->nitems])))
                goto fail;
    }
    if (src->npairs) {
        n->pairs = malloc(capacity_for(src->npairs) * sizeof(*n->pairs));
        if (!n->pairs)
            goto fail;
        for (; n->npairs < src->npairs; n->npairs++) {
            cfg_pair *p = &n->pairs[n->npairs];
            p->key = node_copy(doc, src->pairs[n->npairs].key);
            p->value = p->key ? node_copy(doc, src->pairs[n->npairs].value) : NULL;
            if (!p->value) {
                node_free(p->key);
                goto fail;
            }
        }
    }
    return n;
fail:
    node_free(n);
    return NULL;
}

static void node_measure(const cfg_node *n, size_t *count, int *height)
{
    int deepest = 0;
    *count += 1;
    for (size_t i = 0; i < n->nitems; i++) {
        int h = 0;
        node_measure(n->items[i], count, &h);
        if (h > deepest)
            deepest = h;
    }
    for (size_t i = 0; i < n->npairs; i++) {
        int h = 0;
        *count += 1;
        node_measure(n->pairs[i].value, count, &h);
        if (h > deepest)
            deepest = h;
    }
    *height = deepest + 1;
}

/* ---- duplicate keys ---- */

static int compare_pairs(const void *a, const void *b)
{
    const cfg_pair *pa = *(const cfg_pair *const *)a;
    const cfg_pair *pb = *(const cfg_pair *const *)b;
    int c = strcmp(pa->key->text, pb->key->text);
    if (c)
        return c;
    return pa < pb ? -1 : pa > pb;
}

/* Sorting finds repeated keys in n log n (a map may be large); reporting
 * then follows document order. Returns the number of errors added. */
static size_t map_report_duplicates(const cfg_node *map, diag_list *diags)
{
    size_t n = map->npairs;
    if (n < 2)
        return 0;
    const cfg_pair **sorted = malloc(n * sizeof(*sorted));
    const cfg_pair **first = calloc(n, sizeof(*first));
    if (!sorted || !first) {
        free(sorted);
        free(first);
        diag_add(diags, DIAG_ERROR, map, NULL, "out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = &map->pairs[i];
    qsort(sorted, n, sizeof(*sorted), compare_pairs);
    const cfg_pair *run = sorted[0];
    for (size_t i = 1; i < n; i++) {
        if (strcmp(sorted[i]->key->text, run->key->text) == 0)
            first[sorted[i] - map->pairs] = run;
        else
            run = sorted[i];
    }
    size_t errors = 0;
    for (size_t i = 0; i < n; i++) {
        if (!first[i])
            continue;
        diag_add(diags, DIAG_ERROR, map->pairs[i].key, NULL,
                 "duplicate key \"%s\" (first at line %d)",
                 map->pairs[i].key->text, first[i]->key->line);
        errors++;
    }
    free(sorted);
    free(first);
    return errors;
}

/* ---- documents ---- */

static cfg_doc *doc_new(const char *name)
{
    cfg_doc *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return NULL;
    doc->file = strdup(name);
    if (!doc->file) {
        free(doc);
        return NULL;
    }
    return doc;
}

cfg_node *cfg_doc_root(cfg_doc *doc)
{
    return doc->root;
}

void cfg_doc_free(cfg_doc *doc)
{
    if (!doc)
        return;
    node_free(doc->root);
    free(doc->file);
    free(doc);
}

/* ---- YAML ---- */

typedef struct yaml_frame {
    cfg_node *node;     /* the open sequence or map, not yet attached */
    cfg_node *key;      /* maps: a key waiting for its value */
    char *anchor;       /* registered when the collection closes */
} yaml_frame;

typedef struct yaml_anchor {
    char *name;
    const cfg_node *node;
    size_t count;       /* nodes a copy adds */
    int height;
} yaml_anchor;

typedef struct yaml_builder {
    cfg_doc *doc;
    diag_list *diags;
    const char *text;
    size_t len;
    yaml_frame *stack;
    size_t depth;
    yaml_anchor *anchors;
    size_t nanchors;
    size_t alias_nodes;
    int documents;
    size_t errors;
} yaml_builder;

static int yaml_fail(yaml_builder *b, int line, const char *msg)
{
    diag_add_at(b->diags, DIAG_ERROR, b->doc->file, line, NULL, "%s", msg);
    b->errors++;
    return -1;
}

static int mark_line(const yaml_mark_t *m)
{
    return m->line >= INT32_MAX ? INT32_MAX : (int)m->line + 1;
}

static int mark_col(const yaml_mark_t *m)
{
    return m->column >= INT32_MAX ? INT32_MAX : (int)m->column + 1;
}

static int line_at_offset(const char *text, size_t len, size_t offset)
{
    int line = 1;
    for (size_t i = 0; i < offset && i < len; i++)
        if (text[i] == '\n' && line < INT32_MAX)
            line++;
    return line;
}

static void yaml_report_parser_error(yaml_builder *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "syntax error";
    b->errors++;
    if (p->error == YAML_MEMORY_ERROR) {
        diag_add_at(b->diags, DIAG_ERROR, b->doc->file, 0, NULL, "out of memory");
    } else if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark. */
        int line = line_at_offset(b->text, b->len, p->problem_offset);
        if (p->problem_value >= 0)
            diag_add_at(b->diags, DIAG_ERROR, b->doc->file, line, NULL,
                        "invalid YAML: %s (character 0x%X)", problem,
                        (unsigned)p->problem_value);
        else
            diag_add_at(b->diags, DIAG_ERROR, b->doc->file, line, NULL,
                        "invalid YAML: %s", problem);
    } else if (p->context) {
        diag_add_at(b->diags, DIAG_ERROR, b->doc->file, mark_line(&p->problem_mark), NULL,
                    "invalid YAML at column %d: %s (%s at line %d)",
                    mark_col(&p->problem_mark), problem, p->context,
                    mark_line(&p->context_mark));
    } else {
        diag_add_at(b->diags, DIAG_ERROR, b->doc->file, mark_line(&p->problem_mark), NULL,
                    "invalid YAML at column %d: %s", mark_col(&p->problem_mark), problem);
    }
}

/* Hands node to the open collection (or makes it the root). Ownership
 * passes in every case: on failure the node is freed. */
static int yaml_attach(yaml_builder *b, cfg_node *node)
{
    if (b->depth == 0) {
        b->doc->root = node;
        return 0;
    }
    yaml_frame *f = &b->stack[b->depth - 1];
    int line = node->line;
    int rc;
    if (f->node->kind == CFG_SEQ) {
        rc = seq_append(f->node, node);
    } else if (!f->key) {
        /* Keys are names: `null:` or an empty key is still a string. */
        if (node->kind == CFG_NULL)
            node->kind = CFG_SCALAR;
        if (node->kind != CFG_SCALAR) {
            diag_add(b->diags, DIAG_ERROR, node, NULL,
                     "a map key must be a string, not a %s", cfg_kind_name(node->kind));
            b->errors++;
            node_free(node);
            return -1;
        }
        f->key = node;
        return 0;
    } else {
        rc = map_append(f->node, f->key, node);
        if (rc == 0)
            f->key = NULL;
    }
    if (rc < 0) {
        node_free(node);
        return yaml_fail(b, line, "out of memory");
    }
    return 0;
}

static int yaml_add_anchor(yaml_builder *b, const char *name, const cfg_node *node)
{
    yaml_anchor *anchors = realloc(b->anchors, (b->nanchors + 1) * sizeof(*anchors));
    if (!anchors)
        return yaml_fail(b, node->line, "out of memory");
    b->anchors = anchors;
    yaml_anchor *a = &anchors[b->nanchors];
    a->name = strdup(name);
    if (!a->name)
        return yaml_fail(b, node->line, "out of memory");
    a->node = node;
    a->count = 0;
    node_measure(node, &a->count, &a->height);
    b->nanchors++;
    return 0;
}

/* A later anchor of the same name hides an earlier one. */
static const yaml_anchor *yaml_find_anchor(const yaml_builder *b, const char *name)
{
    for (size_t i = b->nanchors; i > 0; i--)
        if (strcmp(b->anchors[i - 1].name, name) == 0)
            return &b->anchors[i - 1];
    return NULL;
}

static bool scalar_is_null(const yaml_event_t *ev, bool plain)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (!plain)
        return false;
    for (size_t i = 0; i < SL_ARRAY_LEN(nulls); i++)
        if (strcmp((const char *)ev->data.scalar.value, nulls[i]) == 0)
            return true;
    return false;
}

static int yaml_on_scalar(yaml_builder *b, const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                 !(tag && strcmp(tag, YAML_STR_TAG) == 0);
    const char *value = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    int line = mark_line(&ev->start_mark);
    if (memchr(value, '\0', len))
        return yaml_fail(b, line, "values may not contain NUL characters");
    cfg_node *n = node_new(b->doc, scalar_is_null(ev, plain) ? CFG_NULL : CFG_SCALAR,
                           line, mark_col(&ev->start_mark));
    if (!n || node_set_text(n, value, len) < 0) {
        node_free(n);
        return yaml_fail(b, line, "out of memory");
    }
    n->plain = plain;
    if (ev->data.scalar.anchor &&
        yaml_add_anchor(b, (const char *)ev->data.scalar.anchor, n) < 0) {
        node_free(n);
        return -1;
    }
    return yaml_attach(b, n);
}

static int yaml_open(yaml_builder *b, const yaml_event_t *ev, cfg_kind kind,
                     const yaml_char_t *anchor)
{
    int line = mark_line(&ev->start_mark);
    if (b->depth >= CFG_MAX_DEPTH)
        return yaml_fail(b, line, "nested more than 100 levels deep");
    yaml_frame *stack = realloc(b->stack, (b->depth + 1) * sizeof(*stack));
    if (!stack)
        return yaml_fail(b, line, "out of memory");
    b->stack = stack;
    yaml_frame *f = &stack[b->depth];
    f->key = NULL;
    f->anchor = anchor ? strdup((const char *)anchor) : NULL;
    f->node = node_new(b->doc, kind, line, mark_col(&ev->start_mark));
    if (!f->node || (anchor && !f->anchor)) {
        node_free(f->node);
        free(f->anchor);
        return yaml_fail(b, line, "out of memory");
    }
    b->depth++;
    return 0;
}

static int yaml_close(yaml_builder *b)
{
    yaml_frame f = b->stack[--b->depth];
    if (f.node->kind == CFG_MAP)
        b->errors += map_report_duplicates(f.node, b->diags);
    int rc = f.anchor ? yaml_add_anchor(b, f.anchor, f.node) : 0;
    free(f.anchor);
    node_free(f.key);
    if (rc < 0) {
        node_free(f.node);
        return -1;
    }
    return yaml_attach(b, f.node);
}

static int yaml_on_alias(yaml_builder *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    int line = mark_line(&ev->start_mark);
    const yaml_anchor *a = yaml_find_anchor(b, name);
    if (!a) {
        diag_add_at(b->diags, DIAG_ERROR, b->doc->file, line, NULL,
                    "undefined alias \"*%s\"", name);
        b->errors++;
        return -1;
    }
    if (a->count > CFG_MAX_ALIAS_NODES - b->alias_nodes)
        return yaml_fail(b, line, "aliases expand to more than 100000 nodes");
    if (b->depth + (size_t)a->height > CFG_MAX_DEPTH)
        return yaml_fail(b, line, "nested more than 100 levels deep");
    cfg_node *copy = node_copy(b->doc, a->node);
    if (!copy)
        return yaml_fail(b, line, "out of memory");
    b->alias_nodes += a->count;
    return yaml_attach(b, copy);
}

static int yaml_on_event(yaml_builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1)
            return yaml_fail(b, mark_line(&ev->start_mark),
                             "more than one YAML document in a file is not supported");
        return 0;
    case YAML_SCALAR_EVENT:
        return yaml_on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return yaml_open(b, ev, CFG_SEQ, ev->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT:
        return yaml_open(b, ev, CFG_MAP, ev->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return b->depth ? yaml_close(b) : 0;
    case YAML_ALIAS_EVENT:
        return yaml_on_alias(b, ev);
    default:
        return 0;
    }
}

static void yaml_builder_release(yaml_builder *b)
{
    while (b->depth) {
        yaml_frame *f = &b->stack[--b->depth];
        node_free(f->key);
        node_free(f->node);
        free(f->anchor);
    }
    free(b->stack);
    for (size_t i = 0; i < b->nanchors; i++)
        free(b->anchors[i].name);
    free(b->anchors);
}

static int parse_yaml(cfg_doc *doc, const char *text, size_t len, diag_list *diags)
{
    yaml_builder b = {.doc = doc, .diags = diags, .text = text, .len = len};
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return yaml_fail(&b, 0, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            yaml_report_parser_error(&b, &parser);
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        int rc = yaml_on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (rc < 0 || end)
            break;
    }
    yaml_parser_delete(&parser);
    yaml_builder_release(&b);
    return b.errors ? -1 : 0;
}

/* ---- JSON ---- */

typedef struct json_reader {
    cfg_doc *doc;
    diag_list *diags;
    const char *p, *end;
    int line, col;
    int depth;
    size_t duplicates;   /* reported, and reading goes on to find them all */
} json_reader;

static int jr_fail(json_reader *r, const char *msg)
{
    diag_add_at(r->diags, DIAG_ERROR, r->doc->file, r->line, NULL, "%s", msg);
    return -1;
}

static int jr_unexpected(json_reader *r)
{
    diag_add_at(r->diags, DIAG_ERROR, r->doc->file, r->line, NULL,
                "invalid JSON at column %d", r->col);
    return -1;
}

/* Columns count characters, as jansson's do: UTF-8 continuation bytes
 * don't move the column. */
static void jr_advance(json_reader *r)
{
    unsigned char c = (unsigned char)*r->p++;
    if (c == '\n') {
        r->line++;
        r->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        r->col++;
    }
}

static void jr_skip_space(json_reader *r)
{
    while (r->p < r->end &&
           (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
        jr_advance(r);
}

static bool jr_at(const json_reader *r, char c)
{
    return r->p < r->end && *r->p == c;
}

static size_t hex_digits(const char *p, const char *end)
{
    size_t k = 0;
    while (k < 4 && p + k < end && sl_hex_value((unsigned char)p[k]) >= 0)
        k++;
    return k;
}

/* How much of a refused \u escape at p counts as read, so the error's
 * column points at the first byte that broke it: the `u` and the hex
 * digits, and after a high surrogate the `\u` and digits of its pair. */
static size_t refused_escape_length(const char *p, const char *end, size_t used, uint32_t cp)
{
    if (!used)
        return 1 + hex_digits(p + 1, end);
    if (cp >= 0xD800 && cp <= 0xDBFF && end - (p + 5) >= 6 && p[5] == '\\' && p[6] == 'u')
        return 7 + hex_digits(p + 7, end);
    return 5;
}

/* A \u escape (r->p at the `u`): four hex digits, a surrogate pair joined
 * into one code point; a lone surrogate or U+0000 is refused. */
static int jr_unicode_escape(json_reader *r, buf *out)
{
    uint32_t cp = 0;
    size_t used = utf8_json_escape((const unsigned char *)r->p, (size_t)(r->end - r->p), &cp);
    bool refused = !used || utf8_is_surrogate(cp) || cp == 0;
    size_t advance = refused ? refused_escape_length(r->p, r->end, used, cp) : used;
    for (size_t i = 0; i < advance; i++)
        jr_advance(r);
    if (refused)
        return -1;
    char u[4];
    return buf_append(out, u, utf8_encode(cp, u));
}

static int jr_escape(json_reader *r, buf *out)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    if (r->p >= r->end)
        return -1;
    char c = *r->p;
    if (c == 'u')
        return jr_unicode_escape(r, out);
    jr_advance(r);
    const char *hit = c ? strchr(from, c) : NULL;
    if (!hit)
        return -1;
    return buf_append_char(out, to[hit - from]);
}

static cfg_node *jr_string(json_reader *r)
{
    cfg_node *n = node_new(r->doc, CFG_SCALAR, r->line, r->col);
    buf text = BUF_INIT;
    if (!n) {
        jr_fail(r, "out of memory");
        return NULL;
    }
    jr_advance(r);
    for (;;) {
        if (r->p >= r->end || *r->p == '\0') {
            jr_unexpected(r);
            goto fail;
        }
        char c = *r->p;
        if (c == '"')
            break;
        int rc;
        if (c == '\\') {
            jr_advance(r);
            rc = jr_escape(r, &text);
        } else {
            rc = buf_append_char(&text, c);
            jr_advance(r);
        }
        if (rc < 0) {
            jr_unexpected(r);
            goto fail;
        }
    }
    jr_advance(r);
    if (node_set_text(n, text.data ? text.data : "", text.len) < 0) {
        jr_fail(r, "out of memory");
        goto fail;
    }
    buf_free(&text);
    return n;
fail:
    buf_free(&text);
    node_free(n);
    return NULL;
}

static bool jr_literal_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '+' || c == '-' || c == '.';
}

/* Numbers, true, false and null: plain scalars, as in YAML. */
static cfg_node *jr_literal(json_reader *r)
{
    const char *start = r->p;
    int line = r->line, col = r->col;
    while (r->p < r->end && jr_literal_char(*r->p))
        jr_advance(r);
    size_t len = (size_t)(r->p - start);
    if (len == 0) {
        jr_unexpected(r);
        return NULL;
    }
    bool is_null = len == 4 && memcmp(start, "null", 4) == 0;
    cfg_node *n = node_new(r->doc, is_null ? CFG_NULL : CFG_SCALAR, line, col);
    if (!n || node_set_text(n, start, len) < 0) {
        node_free(n);
        jr_fail(r, "out of memory");
        return NULL;
    }
    n->plain = true;
    return n;
}

static cfg_node *jr_value(json_reader *r);

static cfg_node *jr_array(json_reader *r)
{
    cfg_node *n = node_new(r->doc, CFG_SEQ, r->line, r->col);
    if (!n) {
        jr_fail(r, "out of memory");
        return NULL;
    }
    jr_advance(r);
    jr_skip_space(r);
    if (jr_at(r, ']')) {
        jr_advance(r);
        return n;
    }
    for (;;) {
        cfg_node *item = jr_value(r);
        if (!item)
            goto fail;
        if (seq_append(n, item) < 0) {
            node_free(item);
            jr_fail(r, "out of memory");
            goto fail;
        }
        jr_skip_space(r);
        if (jr_at(r, ']'))
            break;
        if (!jr_at(r, ',')) {
            jr_unexpected(r);
            goto fail;
        }
        jr_advance(r);
    }
    jr_advance(r);
    return n;
fail:
    node_free(n);
    return NULL;
}

static int jr_member(json_reader *r, cfg_node *map)
{
    jr_skip_space(r);
    if (!jr_at(r, '"'))
        return jr_unexpected(r);
    cfg_node *key = jr_string(r);
    if (!key)
        return -1;
    jr_skip_space(r);
    if (!jr_at(r, ':')) {
        node_free(key);
        return jr_unexpected(r);
    }
    jr_advance(r);
    cfg_node *value = jr_value(r);
    if (!value || map_append(map, key, value) < 0) {
        if (value)
            jr_fail(r, "out of memory");
        node_free(key);
        node_free(value);
        return -1;
    }
    return 0;
}

static cfg_node *jr_object(json_reader *r)
{
    cfg_node *n = node_new(r->doc, CFG_MAP, r->line, r->col);
    if (!n) {
        jr_fail(r, "out of memory");
        return NULL;
    }
    jr_advance(r);
    jr_skip_space(r);
    if (jr_at(r, '}')) {
        jr_advance(r);
        return n;
    }
    for (;;) {
        if (jr_member(r, n) < 0)
            goto fail;
        jr_skip_space(r);
        if (jr_at(r, '}'))
            break;
        if (!jr_at(r, ',')) {
            jr_unexpected(r);
            goto fail;
        }
        jr_advance(r);
    }
    jr_advance(r);
    r->duplicates += map_report_duplicates(n, r->diags);
    return n;
fail:
    node_free(n);
    return NULL;
}

static cfg_node *jr_value(json_reader *r)
{
    jr_skip_space(r);
    if (r->p >= r->end) {
        jr_unexpected(r);
        return NULL;
    }
    if (*r->p != '[' && *r->p != '{')
        return *r->p == '"' ? jr_string(r) : jr_literal(r);
    if (r->depth >= CFG_MAX_DEPTH) {
        jr_fail(r, "nested more than 100 levels deep");
        return NULL;
    }
    r->depth++;
    cfg_node *n = *r->p == '[' ? jr_array(r) : jr_object(r);
    r->depth--;
    return n;
}

static int json_check_syntax(cfg_doc *doc, const char *text, size_t len, diag_list *diags)
{
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &err);
    if (j) {
        json_decref(j);
        return 0;
    }
    diag_add_at(diags, DIAG_ERROR, doc->file, err.line > 0 ? err.line : 0, NULL,
                "invalid JSON at column %d: %s", err.column > 0 ? err.column : 1, err.text);
    return -1;
}

static int parse_json(cfg_doc *doc, const char *text, size_t len, diag_list *diags)
{
    if (json_check_syntax(doc, text, len, diags) < 0)
        return -1;
    json_reader r = {.doc = doc, .diags = diags, .p = text, .end = text + len,
                     .line = 1, .col = 1};
    doc->root = jr_value(&r);
    if (!doc->root)
        return -1;
    jr_skip_space(&r);
    if (r.p != r.end)
        return jr_unexpected(&r);
    return r.duplicates ? -1 : 0;
}

cfg_doc *cfg_doc_parse(const char *name, const char *text, size_t len, bool json,
                       diag_list *diags)
{
    cfg_doc *doc = doc_new(name);
    if (!doc) {
        diag_add_at(diags, DIAG_ERROR, name, 0, NULL, "out of memory");
        return NULL;
    }
    int rc = json ? parse_json(doc, text, len, diags) : parse_yaml(doc, text, len, diags);
    if (rc == 0 && !doc->root) {
        doc->root = node_new(doc, CFG_NULL, 1, 1);
        if (!doc->root || node_set_text(doc->root, "", 0) < 0) {
            diag_add_at(diags, DIAG_ERROR, name, 0, NULL, "out of memory");
            rc = -1;
        }
    }
    if (rc < 0) {
        cfg_doc_free(doc);
        return NULL;
    }
    return doc;
}
