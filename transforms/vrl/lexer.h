/* lexer.h - the tokens of the remap language.
 *
 * The parser pulls tokens one at a time. Whitespace is insignificant except
 * where VRL makes it so: newlines separate expressions, and a path segment
 * or index must touch what it follows (`.a.b`, `x[0]`), which the parser
 * learns from each token's `spaced` flag. After a `.` that starts or
 * continues a path the parser asks for a field (vrl_lex_field), because
 * path fields follow their own rules (`.0`, `.@timestamp`, `."a b"`,
 * `.if`). Literal contents are unescaped into the caller's arena. */
#ifndef SLUICE_VRL_LEXER_H
#define SLUICE_VRL_LEXER_H

#include "transforms/vrl/diag.h"
#include "pipeline/arena.h"

typedef enum vrl_tok_kind {
    TOK_EOF = 0,
    TOK_NEWLINE,
    TOK_SEMI,
    TOK_IDENT,       /* a name; also a path field from vrl_lex_field */
    TOK_FUNC,        /* a name touching `(` or `!(`: a function call */
    TOK_RESERVED,    /* a name VRL keeps for the future (`string`, `for`...) */
    TOK_INT,
    TOK_FLOAT,
    TOK_STRING,      /* "..." and, from vrl_lex_field, a quoted field */
    TOK_RAW_STRING,  /* s'...' */
    TOK_REGEX,       /* r'...' or r"..." */
    TOK_TIMESTAMP,   /* t'...' */
    TOK_TRUE,
    TOK_FALSE,
    TOK_NULL,
    TOK_IF,
    TOK_ELSE,
    TOK_ABORT,
    TOK_UNDERSCORE,
    TOK_DOT,
    TOK_PERCENT,
    TOK_COMMA,
    TOK_COLON,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_LBRACKET,
    TOK_RBRACKET,
    TOK_LBRACE,
    TOK_RBRACE,
    TOK_ASSIGN,          /* = */
    TOK_MERGE_ASSIGN,    /* |= */
    TOK_COALESCE_ASSIGN, /* ??= */
    TOK_BANG,
    TOK_PLUS,
    TOK_MINUS,
    TOK_STAR,
    TOK_SLASH,
    TOK_EQ,
    TOK_NE,
    TOK_LT,
    TOK_LE,
    TOK_GT,
    TOK_GE,
    TOK_AND,
    TOK_OR,
    TOK_COALESCE,        /* ?? */
    TOK_PIPE,            /* | (object merge) */
} vrl_tok_kind;

typedef struct vrl_token {
    vrl_tok_kind kind;
    vrl_span span;
    bool spaced;         /* whitespace or a comment precedes it */
    bool bang;           /* TOK_FUNC written `name!(` */
    int64_t i;           /* TOK_INT */
    double f;            /* TOK_FLOAT */
    const char *text;    /* names: in the source; literals: unescaped */
    uint32_t len;
} vrl_token;

typedef struct vrl_lexer {
    const vrl_source *src;
    size_t pos;
    arena *a;
} vrl_lexer;

void vrl_lexer_init(vrl_lexer *lx, const vrl_source *src, arena *a);

/* The next token; -1 with a positioned message on a malformed one. */
int vrl_lex_next(vrl_lexer *lx, vrl_token *t, sl_error *err);

/* Whether the byte at the lexer's position can start a path field: the
 * parser calls it right after a `.` to tell `.a` from a lone `.`. */
bool vrl_lex_at_field(const vrl_lexer *lx);

/* A path field right at the lexer's position: a run of name characters or
 * a quoted string (TOK_IDENT or TOK_STRING). */
int vrl_lex_field(vrl_lexer *lx, vrl_token *t, sl_error *err);

/* How a token kind reads in a message: "\"=\"", "end of program", ... */
const char *vrl_token_describe(vrl_tok_kind kind);

#endif
