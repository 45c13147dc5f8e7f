/* interp.c - environment interpolation in parsed scalar values (see
 * interp.h).
 *
 * The grammar follows Vector's regular expression: `$$`, `$NAME` and
 * `${NAME}` with an optional `:-`, `-`, `:?` or `?` clause running to the
 * first `}`. Anything else after a `$` is not a reference and stays as
 * written, as it does in Vector. */
#include "config/interp.h"

#include <stdlib.h>
#include <string.h>

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.';
}

typedef struct reference {
    char name[256];
    char op[3];           /* "", "-", ":-", "?", ":?" */
    const char *arg;      /* the default or the message */
    size_t arg_len;
    size_t consumed;      /* bytes from the '$' on */
} reference;

static size_t name_length(const char *p, const char *end)
{
    size_t n = 0;
    while (p + n < end && is_name_char(p[n]))
        n++;
    return n;
}

static bool set_name(reference *ref, const char *name, size_t len)
{
    if (len == 0 || len >= sizeof(ref->name))
        return false;
    memcpy(ref->name, name, len);
    ref->name[len] = '\0';
    return true;
}

/* Recognises the reference starting at p (a '$' that is not "$$"). */
static bool parse_reference(const char *p, const char *end, reference *ref)
{
    memset(ref, 0, sizeof(*ref));
    if (p + 1 >= end)
        return false;
    if (p[1] != '{') {
        size_t n = name_length(p + 1, end);
        ref->consumed = 1 + n;
        return set_name(ref, p + 1, n);
    }
    const char *q = p + 2;
    size_t n = name_length(q, end);
    if (!set_name(ref, q, n))
        return false;
    q += n;
    size_t op_len = 0;
    if (q < end && *q == ':')
        op_len = 1;
    if (q + op_len < end && (q[op_len] == '-' || q[op_len] == '?')) {
        op_len++;
        memcpy(ref->op, q, op_len);
    } else if (op_len) {
        return false;
    }
    q += op_len;
    const char *close = memchr(q, '}', (size_t)(end - q));
    if (!close || (!op_len && close != q))
        return false;
    ref->arg = q;
    ref->arg_len = (size_t)(close - q);
    ref->consumed = (size_t)(close + 1 - p);
    return true;
}

static int fail_required(const reference *ref, const cfg_node *where, diag_list *diags)
{
    const char *state = ref->op[0] == ':' ? "unset or empty" : "unset";
    if (ref->arg_len)
        diag_add(diags, DIAG_ERROR, where, NULL, "environment variable \"%s\" is %s: %.*s",
                 ref->name, state, (int)ref->arg_len, ref->arg);
    else
        diag_add(diags, DIAG_ERROR, where, NULL, "environment variable \"%s\" is %s",
                 ref->name, state);
    return -1;
}

static int append_value(const reference *ref, const char *value, const cfg_node *where,
                        buf *out, diag_list *diags)
{
    if (strpbrk(value, "\r\n")) {
        diag_add(diags, DIAG_ERROR, where, NULL,
                 "environment variable \"%s\" contains a newline", ref->name);
        return -1;
    }
    if (buf_append_str(out, value) < 0) {
        diag_add(diags, DIAG_ERROR, where, NULL, "out of memory");
        return -1;
    }
    return 0;
}

static int expand_reference(const reference *ref, const cfg_node *where, buf *out,
                            diag_list *diags)
{
    const char *value = getenv(ref->name);
    bool empty_counts = ref->op[0] == ':';
    bool missing = !value || (empty_counts && !value[0]);
    char op = ref->op[empty_counts ? 1 : 0];
    if (!missing)
        return append_value(ref, value, where, out, diags);
    if (op == '?')
        return fail_required(ref, where, diags);
    if (op == '-') {
        if (buf_append(out, ref->arg, ref->arg_len) < 0) {
            diag_add(diags, DIAG_ERROR, where, NULL, "out of memory");
            return -1;
        }
        return 0;
    }
    diag_add(diags, DIAG_WARNING, where, NULL,
             "environment variable \"%s\" is not set; using an empty string", ref->name);
    return 0;
}

int interp_expand(const char *text, size_t len, const cfg_node *where, buf *out,
                  diag_list *diags)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *dollar = memchr(p, '$', (size_t)(end - p));
        size_t plain = dollar ? (size_t)(dollar - p) : (size_t)(end - p);
        if (buf_append(out, p, plain) < 0) {
            diag_add(diags, DIAG_ERROR, where, NULL, "out of memory");
            return -1;
        }
        if (!dollar)
            break;
        p = dollar;
        reference ref;
        if (p + 1 < end && p[1] == '$') {
            if (buf_append_char(out, '$') < 0) {
                diag_add(diags, DIAG_ERROR, where, NULL, "out of memory");
                return -1;
            }
            p += 2;
        } else if (parse_reference(p, end, &ref)) {
            if (expand_reference(&ref, where, out, diags) < 0)
                return -1;
            p += ref.consumed;
        } else {
            if (buf_append_char(out, '$') < 0) {
                diag_add(diags, DIAG_ERROR, where, NULL, "out of memory");
                return -1;
            }
            p++;
        }
    }
    return 0;
}

static size_t interp_scalar(cfg_node *n, diag_list *diags)
{
    if (!memchr(n->text, '$', n->len))
        return 0;
    buf out = BUF_INIT;
    if (interp_expand(n->text, n->len, n, &out, diags) < 0) {
        buf_free(&out);
        return 1;
    }
    size_t len = out.len;
    char *text = buf_detach(&out);
    if (!text) {
        diag_add(diags, DIAG_ERROR, n, NULL, "out of memory");
        return 1;
    }
    free(n->text);
    n->text = text;
    n->len = len;
    return 0;
}

size_t interp_tree(cfg_node *root, diag_list *diags)
{
    if (!root)
        return 0;
    size_t errors = 0;
    switch (root->kind) {
    case CFG_SCALAR:
        errors += interp_scalar(root, diags);
        break;
    case CFG_SEQ:
        for (size_t i = 0; i < root->nitems; i++)
            errors += interp_tree(root->items[i], diags);
        break;
    case CFG_MAP:
        for (size_t i = 0; i < root->npairs; i++)
            errors += interp_tree(root->pairs[i].value, diags);
        break;
    case CFG_NULL:
        break;
    }
    return errors;
}
