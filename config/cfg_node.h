/* cfg_node.h - a parsed configuration document with positions.
 *
 * YAML and JSON files both load into this tree, so every later check can name
 * the file, line and column of what it complains about. Scalars keep their
 * text (after environment interpolation) and whether they were plain (YAML
 * plain scalars, JSON numbers/booleans/null) or quoted strings, which decides
 * how option parsing types them. A document owns all its nodes. */
#ifndef SLUICE_CFG_NODE_H
#define SLUICE_CFG_NODE_H

#include <stddef.h>
#include <stdbool.h>

typedef enum cfg_kind {
    CFG_NULL = 0,
    CFG_SCALAR,
    CFG_SEQ,
    CFG_MAP,
} cfg_kind;

typedef struct cfg_node cfg_node;

typedef struct cfg_pair {
    cfg_node *key;   /* always a CFG_SCALAR */
    cfg_node *value;
} cfg_pair;

struct cfg_node {
    cfg_kind kind;
    const char *file;     /* owned by the document */
    int line, col;        /* 1-based */
    char *text;           /* CFG_SCALAR: NUL-terminated */
    size_t len;
    bool plain;           /* unquoted YAML scalar or JSON non-string */
    cfg_node **items;     /* CFG_SEQ */
    size_t nitems;
    cfg_pair *pairs;      /* CFG_MAP, in document order */
    size_t npairs;
};

/* The value under key in a map, or NULL (also when map is not a map). */
const cfg_node *cfg_map_get(const cfg_node *map, const char *key);
/* The pair whose key is key, for its position; NULL when absent. */
const cfg_pair *cfg_map_pair(const cfg_node *map, const char *key);
const char *cfg_kind_name(cfg_kind kind); /* "null", "string", "list", "map" */

/* A parsed file: owns its nodes and its file name. */
typedef struct cfg_doc cfg_doc;
struct diag_list;

/* Parses one YAML document, or JSON when `json` is set; `name` is the file
 * name positions carry. Problems go to diags; NULL when there was any error.
 * An empty YAML document has a CFG_NULL root. */
cfg_doc *cfg_doc_parse(const char *name, const char *text, size_t len, bool json,
                       struct diag_list *diags);
/* Mutable so interpolation can rewrite scalar text in place. */
cfg_node *cfg_doc_root(cfg_doc *doc);
void cfg_doc_free(cfg_doc *doc);

#endif
