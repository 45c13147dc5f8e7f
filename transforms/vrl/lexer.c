/* lexer.c - turning remap source into tokens (see lexer.h).
 *
 * Follows VRL's lexer: names are [A-Za-z_@][A-Za-z0-9_@]*, a name touching
 * `(` (or `!(`) is a function call, numbers may hold `_` separators and
 * `12.` is a float, strings know \n \r \t \0 \\ \" \' \{ \} \u{1F600} and a
 * backslash-newline that swallows the following indentation. Quoted literals
 * r'', s'' and t'' end at an unescaped quote; users' programs also write
 * regexes as r"...", which end at an unescaped double quote. */
#include "transforms/vrl/lexer.h"
#include "pipeline/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names VRL reserves: usable as path fields and function names, not as
 * variables. */
static const char *const reserved_words[] = {
    "array", "bool", "boolean", "break", "continue", "do", "emit", "float", "for",
    "forall", "foreach", "all", "each", "any", "try", "undefined", "int", "integer",
    "iter", "object", "regex", "string", "traverse", "timestamp", "duration", "unless",
    "walk", "while", "loop", "return",
};

void vrl_lexer_init(vrl_lexer *lx, const vrl_source *src, arena *a)
{
    lx->src = src;
    lx->pos = 0;
    lx->a = a;
}

static int peek_at(const vrl_lexer *lx, size_t i)
{
    return i < lx->src->len ? (unsigned char)lx->src->text[i] : -1;
}

static int peek(const vrl_lexer *lx)
{
    return peek_at(lx, lx->pos);
}

static bool is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '@';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_name_char(int c)
{
    return is_name_start(c) || is_digit(c);
}

static vrl_span span_of(size_t start, size_t end)
{
    vrl_span s = {(uint32_t)start, (uint32_t)end};
    return s;
}

static int lex_fail(vrl_lexer *lx, sl_error *err, int code, const char *title, size_t start,
                    size_t end, const char *label)
{
    return vrl_diag(err, lx->src, code, title, span_of(start, end), NULL, "%s", label);
}

/* Skips blanks and comments; true when anything was skipped. */
static bool skip_blanks(vrl_lexer *lx)
{
    bool skipped = false;
    for (;;) {
        int c = peek(lx);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->pos++;
        } else if (c == '#') {
            while (peek(lx) != -1 && peek(lx) != '\n')
                lx->pos++;
        } else {
            return skipped;
        }
        skipped = true;
    }
}

static void set_token(vrl_token *t, vrl_tok_kind kind, size_t start, size_t end)
{
    t->kind = kind;
    t->span = span_of(start, end);
}

/* ---- strings ----------------------------------------------------------- */

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int bad_escape(vrl_lexer *lx, sl_error *err, size_t at)
{
    int c = peek_at(lx, at + 1);
    char label[64];
    if (c == -1)
        snprintf(label, sizeof(label), "invalid escape character: none");
    else
        snprintf(label, sizeof(label), "invalid escape character: \\%c", c);
    return lex_fail(lx, err, 209, "invalid escape character", at, at + 2, label);
}

/* \u{...} at lx->pos (just after the `u`); appends the UTF-8 to out. */
static int unicode_escape(vrl_lexer *lx, sl_error *err, size_t backslash, char *out, size_t *n)
{
    if (peek(lx) != '{')
        return bad_escape(lx, err, backslash);
    lx->pos++;
    uint32_t cp = 0;
    int ndigits = 0;
    while (peek(lx) != '}') {
        int h = sl_hex_value(peek(lx));
        if (h < 0 || ndigits == 6)
            return lex_fail(lx, err, 209, "invalid escape character", backslash, lx->pos + 1,
                            "invalid unicode escape");
        cp = cp * 16 + (uint32_t)h;
        ndigits++;
        lx->pos++;
    }
    lx->pos++;
    if (ndigits == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return lex_fail(lx, err, 209, "invalid escape character", backslash, lx->pos,
                        "invalid unicode escape");
    *n += utf8_encode(cp, out + *n);
    return 0;
}

/* The escape at lx->pos (a backslash) inside a "..." string. */
static int string_escape(vrl_lexer *lx, sl_error *err, char *out, size_t *n)
{
    size_t backslash = lx->pos;
    int c = peek_at(lx, backslash + 1);
    lx->pos += 2;
    switch (c) {
    case 'n': out[(*n)++] = '\n'; return 0;
    case 'r': out[(*n)++] = '\r'; return 0;
    case 't': out[(*n)++] = '\t'; return 0;
    case '0': out[(*n)++] = '\0'; return 0;
    case '\\': case '"': case '\'': case '{': case '}':
        out[(*n)++] = (char)c;
        return 0;
    case '\n':
        while (is_space(peek(lx)))
            lx->pos++;
        return 0;
    case 'u':
        return unicode_escape(lx, err, backslash, out, n);
    default:
        lx->pos = backslash;
        return bad_escape(lx, err, backslash);
    }
}

/* A "..." string starting at lx->pos (the opening quote). */
static int lex_string(vrl_lexer *lx, vrl_token *t, sl_error *err)
{
    size_t start = lx->pos++;
    /* Unescaping never makes a string longer than its source. */
    char *out = arena_alloc(lx->a, lx->src->len - start + 1);
    if (!out)
        return sl_fail(err, "out of memory reading the program");
    size_t n = 0;
    for (;;) {
        int c = peek(lx);
        if (c == -1)
            return lex_fail(lx, err, 207, "invalid string literal", start, start + 1,
                            "this string is never closed");
        if (c == '"')
            break;
        if (c == '\\') {
            if (string_escape(lx, err, out, &n) < 0)
                return -1;
            continue;
        }
        out[n++] = (char)c;
        lx->pos++;
    }
    lx->pos++;
    set_token(t, TOK_STRING, start, lx->pos);
    t->text = out;
    t->len = (uint32_t)n;
    return 0;
}

/* r'...', r"...", s'...' or t'...' at lx->pos (the prefix letter). */
static int lex_quoted(vrl_lexer *lx, vrl_token *t, vrl_tok_kind kind, sl_error *err)
{
    size_t start = lx->pos;
    char quote = lx->src->text[start + 1];
    lx->pos += 2;
    char *out = arena_alloc(lx->a, lx->src->len - start + 1);
    if (!out)
        return sl_fail(err, "out of memory reading the program");
    size_t n = 0;
    for (;;) {
        int c = peek(lx);
        if (c == -1)
            return lex_fail(lx, err, 208, "invalid literal", start, start + 2,
                            "this literal is never closed");
        if (c == quote)
            break;
        if (c == '\\' && peek_at(lx, lx->pos + 1) != -1) {
            int next = peek_at(lx, lx->pos + 1);
            /* Raw strings keep their backslashes, as VRL's do; regexes and
             * timestamps drop the one escaping their quote. */
            if (next != quote || kind == TOK_RAW_STRING)
                out[n++] = '\\';
            out[n++] = (char)next;
            lx->pos += 2;
            continue;
        }
        out[n++] = (char)c;
        lx->pos++;
    }
    lx->pos++;
    set_token(t, kind, start, lx->pos);
    t->text = out;
    t->len = (uint32_t)n;
    return 0;
}

/* ---- numbers ----------------------------------------------------------- */

static int number_fail(vrl_lexer *lx, sl_error *err, size_t start, const char *why)
{
    return lex_fail(lx, err, 206, "invalid numeric literal", start, lx->pos, why);
}

static int lex_number(vrl_lexer *lx, vrl_token *t, sl_error *err)
{
    size_t start = lx->pos;
    char digits[64];
    size_t nd = 0;
    bool is_float = false, too_long = false;
    for (;;) {
        int c = peek(lx);
        if (is_digit(c)) {
            if (nd + 1 < sizeof(digits))
                digits[nd++] = (char)c;
            else
                too_long = true;
        } else if (c == '.' && !is_float && !is_name_start(peek_at(lx, lx->pos + 1))) {
            is_float = true;
            if (nd + 1 < sizeof(digits))
                digits[nd++] = '.';
        } else if (c != '_') {
            break;
        }
        lx->pos++;
    }
    digits[nd] = '\0';
    if (is_name_char(peek(lx))) {
        while (is_name_char(peek(lx)))
            lx->pos++;
        return number_fail(lx, err, start, "a number can't run into a name");
    }
    if (too_long && !is_float)
        return number_fail(lx, err, start, "number too large to fit in an integer");
    errno = 0;
    if (is_float) {
        t->f = strtod(digits, NULL);
        set_token(t, TOK_FLOAT, start, lx->pos);
        return 0;
    }
    unsigned long long u = strtoull(digits, NULL, 10);
    if (errno == ERANGE || u > (unsigned long long)INT64_MAX)
        return number_fail(lx, err, start, "number too large to fit in an integer");
    t->i = (int64_t)u;
    set_token(t, TOK_INT, start, lx->pos);
    return 0;
}

/* ---- names ------------------------------------------------------------- */

static bool is_reserved(const char *s, size_t n)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(reserved_words); i++)
        if (strlen(reserved_words[i]) == n && memcmp(reserved_words[i], s, n) == 0)
            return true;
    return false;
}

static bool name_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static vrl_tok_kind keyword_kind(const char *s, size_t n)
{
    if (name_is(s, n, "if"))
        return TOK_IF;
    if (name_is(s, n, "else"))
        return TOK_ELSE;
    if (name_is(s, n, "true"))
        return TOK_TRUE;
    if (name_is(s, n, "false"))
        return TOK_FALSE;
    if (name_is(s, n, "null"))
        return TOK_NULL;
    if (name_is(s, n, "abort"))
        return TOK_ABORT;
    if (name_is(s, n, "_"))
        return TOK_UNDERSCORE;
    return TOK_IDENT;
}

static void lex_name(vrl_lexer *lx, vrl_token *t)
{
    size_t start = lx->pos;
    while (is_name_char(peek(lx)))
        lx->pos++;
    size_t n = lx->pos - start;
    const char *s = lx->src->text + start;
    vrl_tok_kind kind = keyword_kind(s, n);
    set_token(t, kind, start, lx->pos);
    t->text = s;
    t->len = (uint32_t)n;
    if (kind != TOK_IDENT)
        return;
    if (peek(lx) == '(') {
        t->kind = TOK_FUNC;
    } else if (peek(lx) == '!' && peek_at(lx, lx->pos + 1) == '(') {
        t->kind = TOK_FUNC;
        t->bang = true;
        lx->pos++;
    } else if (is_reserved(s, n)) {
        t->kind = TOK_RESERVED;
    }
}

/* ---- operators --------------------------------------------------------- */

static bool next_is(vrl_lexer *lx, const char *s)
{
    size_t n = strlen(s);
    return lx->pos + n <= lx->src->len && memcmp(lx->src->text + lx->pos, s, n) == 0;
}

static const struct {
    const char *text;
    vrl_tok_kind kind;
} operators[] = {
    /* Longest first, so that `?\?=` wins over `??`. The escaped question
     * marks keep C11 trigraphs out. */
    {"?\?=", TOK_COALESCE_ASSIGN},
    {"??", TOK_COALESCE},
    {"==", TOK_EQ},
    {"!=", TOK_NE},
    {"<=", TOK_LE},
    {">=", TOK_GE},
    {"&&", TOK_AND},
    {"||", TOK_OR},
    {"|=", TOK_MERGE_ASSIGN},
    {"=", TOK_ASSIGN},
    {"!", TOK_BANG},
    {"<", TOK_LT},
    {">", TOK_GT},
    {"|", TOK_PIPE},
    {"+", TOK_PLUS},
    {"-", TOK_MINUS},
    {"*", TOK_STAR},
    {"/", TOK_SLASH},
    {"%", TOK_PERCENT},
    {".", TOK_DOT},
    {",", TOK_COMMA},
    {":", TOK_COLON},
    {";", TOK_SEMI},
    {"(", TOK_LPAREN},
    {")", TOK_RPAREN},
    {"[", TOK_LBRACKET},
    {"]", TOK_RBRACKET},
    {"{", TOK_LBRACE},
    {"}", TOK_RBRACE},
    {"\n", TOK_NEWLINE},
};

static int lex_operator(vrl_lexer *lx, vrl_token *t, sl_error *err)
{
    size_t start = lx->pos;
    if (next_is(lx, "->"))
        return lex_fail(lx, err, 200, "unsupported syntax", start, start + 2,
                        "closures are not supported");
    for (size_t i = 0; i < SL_ARRAY_LEN(operators); i++) {
        if (next_is(lx, operators[i].text)) {
            lx->pos += strlen(operators[i].text);
            set_token(t, operators[i].kind, start, lx->pos);
            return 0;
        }
    }
    size_t end = start + 1;
    while (end < lx->src->len && ((unsigned char)lx->src->text[end] & 0xc0) == 0x80)
        end++;
    return lex_fail(lx, err, 200, "invalid token", start, end, "unexpected character");
}

/* ---- entry points ------------------------------------------------------ */

static bool quoted_prefix(vrl_lexer *lx, char letter, char quote)
{
    return peek(lx) == letter && peek_at(lx, lx->pos + 1) == quote;
}

int vrl_lex_next(vrl_lexer *lx, vrl_token *t, sl_error *err)
{
    memset(t, 0, sizeof(*t));
    t->spaced = skip_blanks(lx);
    int c = peek(lx);
    if (c == -1) {
        set_token(t, TOK_EOF, lx->pos, lx->pos);
        return 0;
    }
    if (c == '"')
        return lex_string(lx, t, err);
    if (quoted_prefix(lx, 'r', '\'') || quoted_prefix(lx, 'r', '"'))
        return lex_quoted(lx, t, TOK_REGEX, err);
    if (quoted_prefix(lx, 's', '\''))
        return lex_quoted(lx, t, TOK_RAW_STRING, err);
    if (quoted_prefix(lx, 't', '\''))
        return lex_quoted(lx, t, TOK_TIMESTAMP, err);
    if (is_name_start(c)) {
        lex_name(lx, t);
        return 0;
    }
    if (is_digit(c))
        return lex_number(lx, t, err);
    return lex_operator(lx, t, err);
}

bool vrl_lex_at_field(const vrl_lexer *lx)
{
    int c = peek(lx);
    return c == '"' || is_name_char(c);
}

int vrl_lex_field(vrl_lexer *lx, vrl_token *t, sl_error *err)
{
    memset(t, 0, sizeof(*t));
    if (peek(lx) == '"')
        return lex_string(lx, t, err);
    size_t start = lx->pos;
    while (is_name_char(peek(lx)))
        lx->pos++;
    if (lx->pos == start)
        return lex_fail(lx, err, 203, "syntax error", start, start + 1, "expected a field name");
    set_token(t, TOK_IDENT, start, lx->pos);
    t->text = lx->src->text + start;
    t->len = (uint32_t)(lx->pos - start);
    return 0;
}

const char *vrl_token_describe(vrl_tok_kind kind)
{
    switch (kind) {
    case TOK_EOF: return "end of program";
    case TOK_NEWLINE: return "newline";
    case TOK_SEMI: return "\";\"";
    case TOK_IDENT: return "identifier";
    case TOK_FUNC: return "function call";
    case TOK_RESERVED: return "reserved identifier";
    case TOK_INT: return "integer literal";
    case TOK_FLOAT: return "float literal";
    case TOK_STRING: return "string literal";
    case TOK_RAW_STRING: return "raw string literal";
    case TOK_REGEX: return "regex literal";
    case TOK_TIMESTAMP: return "timestamp literal";
    case TOK_TRUE: return "\"true\"";
    case TOK_FALSE: return "\"false\"";
    case TOK_NULL: return "\"null\"";
    case TOK_IF: return "\"if\"";
    case TOK_ELSE: return "\"else\"";
    case TOK_ABORT: return "\"abort\"";
    case TOK_UNDERSCORE: return "\"_\"";
    case TOK_DOT: return "\".\"";
    case TOK_PERCENT: return "\"%\"";
    case TOK_COMMA: return "\",\"";
    case TOK_COLON: return "\":\"";
    case TOK_LPAREN: return "\"(\"";
    case TOK_RPAREN: return "\")\"";
    case TOK_LBRACKET: return "\"[\"";
    case TOK_RBRACKET: return "\"]\"";
    case TOK_LBRACE: return "\"{\"";
    case TOK_RBRACE: return "\"}\"";
    case TOK_ASSIGN: return "\"=\"";
    case TOK_MERGE_ASSIGN: return "\"|=\"";
    case TOK_COALESCE_ASSIGN: return "\"?\?=\"";
    case TOK_BANG: return "\"!\"";
    case TOK_PLUS: return "\"+\"";
    case TOK_MINUS: return "\"-\"";
    case TOK_STAR: return "\"*\"";
    case TOK_SLASH: return "\"/\"";
    case TOK_EQ: return "\"==\"";
    case TOK_NE: return "\"!=\"";
    case TOK_LT: return "\"<\"";
    case TOK_LE: return "\"<=\"";
    case TOK_GT: return "\">\"";
    case TOK_GE: return "\">=\"";
    case TOK_AND: return "\"&&\"";
    case TOK_OR: return "\"||\"";
    case TOK_COALESCE: return "\"?\?\"";
    case TOK_PIPE: return "\"|\"";
    }
    return "token";
}
