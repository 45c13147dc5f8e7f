/* fn_parse.c - the remap language's parse_json and encode_json.
 *
 * parse_json reproduces what VRL's returns, including its corner cases (a
 * `max_depth` keeps deeper levels as their JSON text); encode_json writes
 * compact JSON or serde_json's pretty layout. Inputs are read as
 * from_utf8_lossy reads them when `lossy` asks for it. */
#include <string.h>

#include "transforms/vrl/fn_util.h"
#include "pipeline/json.h"

#define JSON_KINDS (K(VALUE_NULL) | K(VALUE_BOOL) | K(VALUE_INT) | K(VALUE_FLOAT) | \
                    K(VALUE_BYTES) | K(VALUE_ARRAY) | K(VALUE_MAP))

#define OOM(err, fn) sl_fail((err), "out of memory in " fn)

/* ---- parse_json -------------------------------------------------------- */

/* The end of the JSON value starting at s[i], in text that json_decode
 * has already accepted. */
static size_t skip_json_value(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '"') {
        for (i++; i < n; i++) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                return i + 1;
        }
        return n;
    }
    if (i < n && (s[i] == '{' || s[i] == '[')) {
        int depth = 0;
        bool in_string = false;
        for (; i < n; i++) {
            char ch = s[i];
            if (in_string) {
                if (ch == '\\')
                    i++;
                else if (ch == '"')
                    in_string = false;
            } else if (ch == '"') {
                in_string = true;
            } else if (ch == '{' || ch == '[') {
                depth++;
            } else if ((ch == '}' || ch == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i;
}

static size_t skip_json_space(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Decodes valid JSON text to `depth` levels of objects and arrays; deeper
 * ones stay as their JSON text, as VRL's max_depth does. */
static int json_layer(arena *a, const char *s, size_t n, size_t *pos, int depth, value *out)
{
    sl_error err;
    size_t i = skip_json_space(s, n, *pos);
    size_t end = skip_json_value(s, n, i);
    *pos = end;
    bool container = i < n && (s[i] == '{' || s[i] == '[');
    if (!container)
        return json_decode(a, s + i, end - i, out, &err);
    if (depth == 0) {
        *out = value_bytes(s + i, end - i);
        return 0;
    }
    bool object = s[i] == '{';
    *out = object ? value_new_map(a, 0) : value_new_array(a, 0);
    if (out->kind == VALUE_NULL)
        return -1;
    i = skip_json_space(s, n, i + 1);
    while (i < n && s[i] != '}' && s[i] != ']') {
        value *slot;
        if (object) {
            size_t kend = skip_json_value(s, n, i);
            value key;
            if (json_decode(a, s + i, kend - i, &key, &err) < 0)
                return -1;
            i = skip_json_space(s, n, kend) + 1;
            slot = value_map_put(a, out->u.map, key.u.s, key.len);
        } else {
            slot = value_array_push(a, out->u.arr);
        }
        if (!slot || json_layer(a, s, n, &i, depth - 1, slot) < 0)
            return -1;
        i = skip_json_space(s, n, i);
        if (i < n && s[i] == ',')
            i = skip_json_space(s, n, i + 1);
    }
    return 0;
}

static int parse_json_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *s;
    size_t n;
    bool lossy;
    int64_t depth = 0;
    if (vrl_arg_bytes(&args[0], &s, &n, err) < 0 ||
        vrl_arg_opt_bool(&args[2], true, &lossy, err) < 0)
        return -1;
    if (args[1].present) {
        if (vrl_arg_opt_int(&args[1], 0, &depth, err) < 0)
            return -1;
        if (depth < 0 || depth > 255)
            return sl_fail(err, "out of range integral type conversion attempted");
        if (depth < 1 || depth > 128)
            return sl_fail(err, "max_depth value should be greater than 0 and less than 128, "
                                "got %lld", (long long)depth);
    }
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        n -= 3;
    }
    if (lossy && vrl_utf8_lossy(c->a, &s, &n) < 0)
        return OOM(err, "parse_json");
    sl_error jerr;
    if (json_decode(c->a, s, n, out, &jerr) < 0)
        return sl_fail(err, "unable to %s json: %s", depth ? "read" : "parse", jerr.msg);
    if (depth) {
        size_t pos = 0;
        if (json_layer(c->a, s, n, &pos, (int)depth, out) < 0)
            return OOM(err, "parse_json");
    }
    return 0;
}

static const vrl_param parse_json_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"max_depth", K(VALUE_INT), false},
    {"lossy", K(VALUE_BOOL), false},
};

static const vrl_function fn_parse_json = {
    .name = "parse_json",
    .params = parse_json_params,
    .nparams = SL_ARRAY_LEN(parse_json_params),
    .returns = JSON_KINDS,
    .fallible = true,
    .call = parse_json_call,
};

/* ---- encode_json ------------------------------------------------------- */

static int put_indent(buf *b, int level)
{
    if (buf_append_char(b, '\n') < 0)
        return -1;
    for (int i = 0; i < level; i++)
        if (buf_append(b, "  ", 2) < 0)
            return -1;
    return 0;
}

/* Re-lays compact JSON out as serde_json's to_string_pretty does: two
 * spaces per level, "key": value, empty containers kept on one line. */
static int prettify(const char *s, size_t n, buf *out)
{
    int level = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int rc = 0;
        if (ch == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            rc = buf_append(out, s + i, j + 1 - i);
            i = j;
        } else if ((ch == '{' || ch == '[') && i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
            rc = buf_append(out, s + i, 2);
            i++;
        } else if (ch == '{' || ch == '[') {
            rc = buf_append_char(out, ch) < 0 ? -1 : put_indent(out, ++level);
        } else if (ch == '}' || ch == ']') {
            rc = put_indent(out, --level) < 0 ? -1 : buf_append_char(out, ch);
        } else if (ch == ',') {
            rc = buf_append_char(out, ',') < 0 ? -1 : put_indent(out, level);
        } else if (ch == ':') {
            rc = buf_append(out, ": ", 2);
        } else {
            rc = buf_append_char(out, ch);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int encode_json_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    bool pretty;
    if (vrl_arg_opt_bool(&args[1], false, &pretty, err) < 0)
        return -1;
    buf compact = BUF_INIT, laid = BUF_INIT;
    int rc = json_encode_value(&compact, &args[0].val);
    if (rc == 0 && pretty) {
        rc = prettify(compact.data, compact.len, &laid);
        buf_free(&compact);
        compact = laid;
    }
    if (rc < 0) {
        buf_free(&compact);
        return OOM(err, "encode_json");
    }
    return vrl_bytes_from_buf(c->a, &compact, out) < 0 ? OOM(err, "encode_json") : 0;
}

static const vrl_param encode_json_params[] = {
    {"value", VRL_KIND_ANY, true},
    {"pretty", K(VALUE_BOOL), false},
};

static const vrl_function fn_encode_json = {
    .name = "encode_json",
    .params = encode_json_params,
    .nparams = SL_ARRAY_LEN(encode_json_params),
    .returns = K(VALUE_BYTES),
    .call = encode_json_call,
};

const vrl_function *const vrl_parse_functions[] = {
    &fn_parse_json,
    &fn_encode_json,
    NULL,
};
