/* options.c - option tables: parsing a config map into an options struct,
 * documentation and did-you-mean (see options.h).
 *
 * Values are typed by how they were written, as Vector (serde) types them:
 * a number or boolean must be a plain scalar, so `count: "5"` is refused
 * rather than guessed at, while a string option takes any scalar as text.
 * A null value (`key:` or `key: null`) counts as not given. Defaults are
 * config text parsed by the same code as the user's values, so a table
 * can't hold a default its own parser would refuse, nor one outside its
 * range.
 *
 * An older name (OPT_ALIAS) is parsed as the option it names, with a
 * warning; giving both names is an error, as in Vector (serde refuses the
 * duplicate field). Warnings don't count as errors. */
#include "config/options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Long values are cut when echoed in a message. */
#define SHOW_MAX 72
#define NAME_MAX_LEN 256

typedef struct opt_ctx {
    const char *component;
    diag_list *diags;
    size_t errors;
} opt_ctx;

/* ---- messages ---- */

static void opt_report(opt_ctx *c, diag_level severity, const cfg_node *where,
                       const char *fmt, va_list ap)
{
    buf msg = BUF_INIT;
    int rc = buf_vprintf(&msg, fmt, ap);
    diag_add(c->diags, severity, where, c->component, "%s", rc < 0 ? "out of memory" : msg.data);
    buf_free(&msg);
}

static void opt_error(opt_ctx *c, const cfg_node *where, const char *fmt, ...) SL_PRINTF(3, 4);

static void opt_error(opt_ctx *c, const cfg_node *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    opt_report(c, DIAG_ERROR, where, fmt, ap);
    va_end(ap);
    c->errors++;
}

static void opt_warning(opt_ctx *c, const cfg_node *where, const char *fmt, ...) SL_PRINTF(3, 4);

static void opt_warning(opt_ctx *c, const cfg_node *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    opt_report(c, DIAG_WARNING, where, fmt, ap);
    va_end(ap);
}

/* Quotes text for a message: escapes quotes and control characters and cuts
 * long values (at a character boundary) so one line stays one line. */
static const char *show(char out[SHOW_MAX], const char *text)
{
    /* Room for the cut mark `..."` and the NUL after the last character. */
    size_t o = 0, limit = SHOW_MAX - 5;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        bool escaped = *p == '"' || *p == '\\' || *p == '\n';
        bool control = !escaped && (*p < 0x20 || *p == 0x7f);
        size_t width = control ? 4 : escaped ? 2 : 1;
        if (o + width > limit) {
            while (o > 1 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
                o--;
            if (o > 1 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
                o--;
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (control) {
            snprintf(out + o, SHOW_MAX - o, "\\x%02x", *p);
        } else if (escaped) {
            out[o] = '\\';
            out[o + 1] = *p == '\n' ? 'n' : (char)*p;
        } else {
            out[o] = (char)*p;
        }
        o += width;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* "abc" for a scalar, otherwise what it is: "a list", "a map", "null". */
static const char *describe(char out[SHOW_MAX], const cfg_node *v)
{
    switch (v->kind) {
    case CFG_SCALAR: return show(out, v->text);
    case CFG_SEQ: return "a list";
    case CFG_MAP: return "a map";
    case CFG_NULL: break;
    }
    return "null";
}

static void full_name(char out[NAME_MAX_LEN], const char *prefix, const char *name)
{
    snprintf(out, NAME_MAX_LEN, "%s%s%s", prefix, prefix[0] ? "." : "", name);
}

/* ---- did you mean ---- */

#define DYM_MAX_LEN 64

/* Optimal string alignment distance: Levenshtein plus adjacent swaps, the
 * commonest typo. Words longer than DYM_MAX_LEN never match. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > DYM_MAX_LEN || lb > DYM_MAX_LEN)
        return SIZE_MAX;
    size_t rows[3][DYM_MAX_LEN + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *opt_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
    size_t len = strlen(word);
    /* Two edits turn most short words into other short words. */
    size_t limit = len <= 5 ? 1 : len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, candidates[i]);
        /* A distance as long as the word is a rewrite, not a typo. */
        if (d <= limit && d < len && d < best_d) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}

int opt_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < SL_ARRAY_LEN(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

bool opt_set(const cfg_node *map, const char *name)
{
    char part[NAME_MAX_LEN];
    const cfg_node *v = map;
    while (v && *name) {
        const char *dot = strchr(name, '.');
        size_t n = dot ? (size_t)(dot - name) : strlen(name);
        if (n >= sizeof(part))
            return false;
        memcpy(part, name, n);
        part[n] = '\0';
        v = cfg_map_get(v, part);
        name += dot ? n + 1 : n;
    }
    return v && v->kind != CFG_NULL;
}

/* ---- scalar values ---- */

static const char *expected(const opt_spec *s)
{
    switch (s->type) {
    case OPT_BOOL: return "true or false";
    case OPT_INT: return "an integer";
    case OPT_UINT: return "an unsigned integer";
    case OPT_FLOAT: return "a number";
    case OPT_STRING: return "a string";
    case OPT_ENUM: return "one of the listed values";
    case OPT_STRING_LIST: return "a string or a list of strings";
    case OPT_OBJECT: return "a map";
    case OPT_NODE:
    case OPT_ALIAS:
    case OPT_NO_EFFECT: break;
    }
    return "a value";
}

static int wrong_type(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v)
{
    char got[SHOW_MAX];
    if (v->kind == CFG_SCALAR && !v->plain &&
        (s->type == OPT_BOOL || s->type == OPT_INT || s->type == OPT_UINT ||
         s->type == OPT_FLOAT))
        opt_error(c, v, "option \"%s\" must be %s, got the quoted string %s (write it without quotes)",
                  name, expected(s), show(got, v->text));
    else
        opt_error(c, v, "option \"%s\" must be %s, got %s", name, expected(s), describe(got, v));
    return -1;
}

static bool is_plain_scalar(const cfg_node *v)
{
    return v->kind == CFG_SCALAR && v->plain;
}

static bool all_digits(const char *p)
{
    if (!*p)
        return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static int out_of_range(opt_ctx *c, const char *name, const cfg_node *v)
{
    char got[SHOW_MAX];
    opt_error(c, v, "option \"%s\" is out of range, got %s", name, show(got, v->text));
    return -1;
}

static int parse_int(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                     int64_t *out)
{
    if (!is_plain_scalar(v))
        return wrong_type(c, s, name, v);
    const char *t = v->text;
    if (!all_digits(t + (*t == '-' || *t == '+')))
        return wrong_type(c, s, name, v);
    errno = 0;
    long long n = strtoll(t, NULL, 10);
    if (errno == ERANGE)
        return out_of_range(c, name, v);
    *out = n;
    return 0;
}

static int parse_uint(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                      uint64_t *out)
{
    if (!is_plain_scalar(v))
        return wrong_type(c, s, name, v);
    const char *t = v->text;
    if (!all_digits(t + (*t == '+')))
        return wrong_type(c, s, name, v);
    errno = 0;
    unsigned long long n = strtoull(t, NULL, 10);
    if (errno == ERANGE)
        return out_of_range(c, name, v);
    *out = n;
    return 0;
}

static int parse_float(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                       double *out)
{
    if (!is_plain_scalar(v))
        return wrong_type(c, s, name, v);
    const char *t = v->text;
    /* Only decimal notation: strtod would also take "inf", "nan" and hex. */
    if (!*t || strspn(t, "0123456789+-.eE") != strlen(t))
        return wrong_type(c, s, name, v);
    char *end;
    errno = 0;
    double d = strtod(t, &end);
    if (*end || end == t)
        return wrong_type(c, s, name, v);
    if (errno == ERANGE || !isfinite(d))
        return out_of_range(c, name, v);
    *out = d;
    return 0;
}

static int parse_bool(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                      bool *out)
{
    if (!is_plain_scalar(v) || opt_parse_bool(v->text, out) < 0)
        return wrong_type(c, s, name, v);
    return 0;
}

static int append_choices(buf *out, const opt_enum_value *values)
{
    for (size_t i = 0; values && values[i].name; i++)
        if ((i && buf_append_char(out, '|') < 0) || buf_append_str(out, values[i].name) < 0)
            return -1;
    return 0;
}

/* The closest enum name to word, or NULL. */
static const char *suggest_value(const opt_enum_value *values, const char *word)
{
    const char *names[64];
    size_t n = 0;
    for (; values && values[n].name && n < SL_ARRAY_LEN(names); n++)
        names[n] = values[n].name;
    return opt_did_you_mean(word, names, n);
}

static int parse_enum(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                      int *out)
{
    if (v->kind != CFG_SCALAR)
        return wrong_type(c, s, name, v);
    for (const opt_enum_value *e = s->values; e && e->name; e++) {
        if (strcmp(v->text, e->name) == 0) {
            *out = e->value;
            return 0;
        }
    }
    char got[SHOW_MAX];
    buf list = BUF_INIT;
    const char *hint = suggest_value(s->values, v->text);
    const char *choices = append_choices(&list, s->values) < 0 || !list.data ? "?" : list.data;
    if (hint)
        opt_error(c, v, "option \"%s\" must be one of %s, got %s (did you mean \"%s\"?)",
                  name, choices, show(got, v->text), hint);
    else
        opt_error(c, v, "option \"%s\" must be one of %s, got %s", name, choices,
                  show(got, v->text));
    buf_free(&list);
    return -1;
}

static int parse_string(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                        char **out)
{
    if (v->kind != CFG_SCALAR)
        return wrong_type(c, s, name, v);
    char *copy = strdup(v->text);
    if (!copy) {
        opt_error(c, v, "out of memory");
        return -1;
    }
    free(*out);
    *out = copy;
    return 0;
}

static void list_free(opt_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int parse_list(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                      opt_list *out)
{
    const cfg_node *const *items = (const cfg_node *const *)v->items;
    size_t n = v->nitems;
    if (v->kind == CFG_SCALAR) {
        items = &v;
        n = 1;
    } else if (v->kind != CFG_SEQ) {
        return wrong_type(c, s, name, v);
    }
    opt_list l = {NULL, 0};
    if (n && !(l.items = calloc(n, sizeof(*l.items)))) {
        opt_error(c, v, "out of memory");
        return -1;
    }
    for (; l.n < n; l.n++) {
        char got[SHOW_MAX];
        if (items[l.n]->kind != CFG_SCALAR) {
            opt_error(c, items[l.n], "option \"%s\" must be a list of strings, got %s in it",
                      name, describe(got, items[l.n]));
            list_free(&l);
            return -1;
        }
        if (!(l.items[l.n] = strdup(items[l.n]->text))) {
            opt_error(c, v, "out of memory");
            list_free(&l);
            return -1;
        }
    }
    list_free(out);
    *out = l;
    return 0;
}

/* ---- ranges ---- */

static bool has_range(const opt_spec *s)
{
    return s->has_min || s->has_max;
}

/* "from 1 to 1000", "above 0 and at most 1", "at least 1"; with_unit puts
 * the unit first when there is one: "a number of seconds above 0". */
static int append_range(buf *out, const opt_spec *s, bool with_unit)
{
    char lo[40], hi[40];
    snprintf(lo, sizeof(lo), "%.15g", s->min);
    snprintf(hi, sizeof(hi), "%.15g", s->max);
    const char *low = s->min_exclusive ? "above" : "at least";
    const char *high = s->max_exclusive ? "below" : "at most";
    if (with_unit && s->unit && buf_printf(out, "a number of %s ", s->unit) < 0)
        return -1;
    if (s->has_min && s->has_max) {
        if (!s->min_exclusive && !s->max_exclusive)
            return buf_printf(out, "from %s to %s", lo, hi);
        return buf_printf(out, "%s %s and %s %s", low, lo, high, hi);
    }
    if (s->has_min)
        return buf_printf(out, "%s %s", low, lo);
    return buf_printf(out, "%s %s", high, hi);
}

static bool in_range(const opt_spec *s, double d)
{
    bool low_ok = !s->has_min || (s->min_exclusive ? d > s->min : d >= s->min);
    bool high_ok = !s->has_max || (s->max_exclusive ? d < s->max : d <= s->max);
    return low_ok && high_ok;
}

/* The number just stored in field, as a double for the range test. */
static double stored_number(const opt_spec *s, const void *field)
{
    switch (s->type) {
    case OPT_INT: return (double)*(const int64_t *)field;
    case OPT_UINT: return (double)*(const uint64_t *)field;
    case OPT_FLOAT: return *(const double *)field;
    default: break;
    }
    return 0;
}

static int check_range(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                       const void *field)
{
    if (!has_range(s) || in_range(s, stored_number(s, field)))
        return 0;
    char got[SHOW_MAX];
    buf range = BUF_INIT;
    const char *text = append_range(&range, s, true) < 0 || !range.data ? "in range" : range.data;
    opt_error(c, v, "option \"%s\" must be %s, got %s", name, text, show(got, v->text));
    buf_free(&range);
    return -1;
}

static bool stored_empty(const opt_spec *s, const void *field)
{
    if (s->type == OPT_STRING)
        return !*(char *const *)field || !**(char *const *)field;
    if (s->type == OPT_STRING_LIST)
        return ((const opt_list *)field)->n == 0;
    return false;
}

static int check_nonempty(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                          const void *field)
{
    if (!s->nonempty || !stored_empty(s, field))
        return 0;
    opt_error(c, v, "option \"%s\" must not be empty", name);
    return -1;
}

static int parse_value(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                       void *field)
{
    switch (s->type) {
    case OPT_BOOL: return parse_bool(c, s, name, v, field);
    case OPT_INT: return parse_int(c, s, name, v, field);
    case OPT_UINT: return parse_uint(c, s, name, v, field);
    case OPT_FLOAT: return parse_float(c, s, name, v, field);
    case OPT_STRING: return parse_string(c, s, name, v, field);
    case OPT_ENUM: return parse_enum(c, s, name, v, field);
    case OPT_STRING_LIST: return parse_list(c, s, name, v, field);
    case OPT_NODE:
        if (v->kind == CFG_NULL)
            return wrong_type(c, s, name, v);
        *(const cfg_node **)field = v;
        return 0;
    case OPT_OBJECT:
    case OPT_ALIAS:
    case OPT_NO_EFFECT: break;
    }
    return 0;
}

/* Parses v into the field of s in base, within the row's limits. */
static int store_value(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v,
                       void *base)
{
    void *field = (char *)base + s->offset;
    if (parse_value(c, s, name, v, field) < 0 || check_range(c, s, name, v, field) < 0)
        return -1;
    return check_nonempty(c, s, name, v, field);
}

/* ---- maps ---- */

/* The first spec of that name in the tables: an earlier table wins. */
static const opt_spec *find_spec(const opt_target *targets, size_t n, const char *name,
                                 size_t *target)
{
    for (size_t t = 0; t < n; t++)
        for (const opt_spec *s = targets[t].table; s && s->name; s++)
            if (strcmp(s->name, name) == 0) {
                if (target)
                    *target = t;
                return s;
            }
    return NULL;
}

static bool is_ignored(const char *const *ignore, const char *name)
{
    for (size_t i = 0; ignore && ignore[i]; i++)
        if (strcmp(ignore[i], name) == 0)
            return true;
    return false;
}

static const char *suggest_name(const opt_target *targets, size_t n,
                                const char *const *ignore, const char *word)
{
    size_t count = 0;
    for (size_t t = 0; t < n; t++)
        for (const opt_spec *s = targets[t].table; s && s->name; s++)
            count++;
    for (size_t i = 0; ignore && ignore[i]; i++)
        count++;
    const char **names = count ? malloc(count * sizeof(*names)) : NULL;
    if (!names)
        return NULL;
    count = 0;
    for (size_t t = 0; t < n; t++)
        for (const opt_spec *s = targets[t].table; s && s->name; s++)
            names[count++] = s->name;
    for (size_t i = 0; ignore && ignore[i]; i++)
        names[count++] = ignore[i];
    const char *hint = opt_did_you_mean(word, names, count);
    free(names);
    return hint;
}

static void report_unknown_key(opt_ctx *c, const cfg_node *key, const opt_target *targets,
                               size_t n, const char *const *ignore, const char *prefix)
{
    char name[NAME_MAX_LEN], shown[SHOW_MAX];
    full_name(name, prefix, key->text);
    const char *hint = suggest_name(targets, n, ignore, key->text);
    if (hint) {
        char suggestion[NAME_MAX_LEN];
        full_name(suggestion, prefix, hint);
        opt_error(c, key, "unknown option %s (did you mean \"%s\"?)", show(shown, name),
                  suggestion);
    } else {
        opt_error(c, key, "unknown option %s", show(shown, name));
    }
}

static void apply_level(opt_ctx *c, const cfg_node *map, const opt_target *targets, size_t n,
                        const char *const *ignore, const char *prefix, bool check_required,
                        const cfg_node *where);

static void apply_object(opt_ctx *c, const opt_spec *s, void *base, const cfg_node *v,
                         const char *name, bool check_required, const cfg_node *where)
{
    opt_target nested = {s->fields, base};
    if (v && v->kind == CFG_MAP) {
        apply_level(c, v, &nested, 1, NULL, name, true, v);
        return;
    }
    if (v && v->kind != CFG_NULL)
        wrong_type(c, s, name, v);
    else if (s->required && check_required)
        opt_error(c, where, "missing required option \"%s\"", name);
    /* The fields still get their defaults, so the struct is complete. */
    apply_level(c, NULL, &nested, 1, NULL, name, false, where);
}

static void apply_default(opt_ctx *c, const opt_spec *s, void *base, const char *name)
{
    cfg_node def = {.kind = CFG_SCALAR, .text = (char *)s->def, .len = strlen(s->def),
                    .plain = true};
    store_value(c, s, name, &def, base);
}

/* Given (non-null) deprecated and no-effect options are warned about. */
static void warn_if_given(opt_ctx *c, const opt_spec *s, const char *name, const cfg_node *v)
{
    if (!v || v->kind == CFG_NULL)
        return;
    if (s->type == OPT_NO_EFFECT)
        opt_warning(c, v, "option \"%s\" is accepted but %s", name, s->no_effect);
    else if (s->deprecated)
        opt_warning(c, v, "option \"%s\" is deprecated: %s", name, s->deprecated);
}

/* Applies v (NULL: not given) to s, naming it `key` (the name given, an
 * older one for an alias) in messages. */
static void apply_spec(opt_ctx *c, const opt_spec *s, void *base, const cfg_node *v,
                       const char *key, const char *prefix, bool check_required,
                       const cfg_node *where)
{
    char name[NAME_MAX_LEN];
    full_name(name, prefix, key);
    warn_if_given(c, s, name, v);
    if (s->type == OPT_NO_EFFECT)
        return;
    if (s->type == OPT_OBJECT) {
        apply_object(c, s, base, v, name, check_required, where);
        return;
    }
    if (v && (v->kind != CFG_NULL || (s->required && check_required))) {
        store_value(c, s, name, v, base);
        return;
    }
    if (s->required && check_required)
        opt_error(c, where, "missing required option \"%s\"", name);
    else if (s->def)
        apply_default(c, s, base, name);
}

/* An older name: parsed as the option it names, unless that is given too. */
static void apply_alias(opt_ctx *c, const opt_spec *alias, const cfg_node *map,
                        const cfg_pair *pair, const opt_target *targets, size_t n,
                        const char *prefix, bool check_required, const cfg_node *where)
{
    char old[NAME_MAX_LEN], current[NAME_MAX_LEN];
    full_name(old, prefix, alias->name);
    full_name(current, prefix, alias->alias);
    size_t t;
    const opt_spec *s = find_spec(targets, n, alias->alias, &t);
    if (!s) {
        opt_error(c, pair->key, "option \"%s\" names no option \"%s\"", old, current);
        return;
    }
    if (cfg_map_pair(map, alias->alias)) {
        opt_error(c, pair->key, "option \"%s\" is an older name of \"%s\", which is also "
                  "given: keep only \"%s\"", old, current, current);
        return;
    }
    if (pair->value->kind != CFG_NULL)
        opt_warning(c, pair->key, "option \"%s\" is an older name of \"%s\"", old, current);
    apply_spec(c, s, targets[t].base, pair->value, alias->name, prefix, check_required, where);
}

/* Whether map gives s under its name or one of its older names. */
static bool given_any_name(const cfg_node *map, const opt_target *targets, size_t n,
                           const opt_spec *s)
{
    if (cfg_map_pair(map, s->name))
        return true;
    for (size_t t = 0; t < n; t++)
        for (const opt_spec *a = targets[t].table; a && a->name; a++)
            if (a->type == OPT_ALIAS && strcmp(a->alias, s->name) == 0 &&
                cfg_map_pair(map, a->name))
                return true;
    return false;
}

/* Given keys first, in document order, so messages follow the file; then
 * the options not given, for defaults and missing required ones. */
static void apply_level(opt_ctx *c, const cfg_node *map, const opt_target *targets, size_t n,
                        const char *const *ignore, const char *prefix, bool check_required,
                        const cfg_node *where)
{
    for (size_t i = 0; map && i < map->npairs; i++) {
        const cfg_pair *pair = &map->pairs[i];
        size_t t;
        if (is_ignored(ignore, pair->key->text))
            continue;
        const opt_spec *s = find_spec(targets, n, pair->key->text, &t);
        if (!s)
            report_unknown_key(c, pair->key, targets, n, ignore, prefix);
        else if (s->type == OPT_ALIAS)
            apply_alias(c, s, map, pair, targets, n, prefix, check_required, where);
        else
            apply_spec(c, s, targets[t].base, pair->value, s->name, prefix, check_required,
                       where);
    }
    for (size_t t = 0; t < n; t++)
        for (const opt_spec *s = targets[t].table; s && s->name; s++)
            if (s->type != OPT_ALIAS && find_spec(targets, n, s->name, NULL) == s &&
                !given_any_name(map, targets, n, s) && !is_ignored(ignore, s->name))
                apply_spec(c, s, targets[t].base, NULL, s->name, prefix, check_required, where);
}

size_t opt_apply(const cfg_node *map, const opt_target *targets, size_t ntargets,
                 const char *const *ignore, const char *component, diag_list *diags)
{
    opt_ctx c = {component, diags, 0};
    if (map && map->kind == CFG_NULL)
        map = NULL;
    if (map && map->kind != CFG_MAP) {
        char got[SHOW_MAX];
        opt_error(&c, map, "expected a map of options, got %s", describe(got, map));
        /* Defaults only: every required option would be "missing" too. */
        apply_level(&c, NULL, targets, ntargets, ignore, "", false, map);
        return c.errors;
    }
    apply_level(&c, map, targets, ntargets, ignore, "", true, map);
    return c.errors;
}

void opt_free(const opt_spec *table, void *base)
{
    for (const opt_spec *s = table; s && s->name; s++) {
        void *field = (char *)base + s->offset;
        if (s->type == OPT_STRING) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (s->type == OPT_STRING_LIST) {
            list_free(field);
        } else if (s->type == OPT_OBJECT) {
            opt_free(s->fields, base);
        }
    }
}

/* ---- documentation ---- */

static int type_text(const opt_spec *s, buf *out)
{
    switch (s->type) {
    case OPT_BOOL: return buf_append_str(out, "bool");
    case OPT_INT: return buf_append_str(out, "int");
    case OPT_UINT: return buf_append_str(out, "uint");
    case OPT_FLOAT: return buf_append_str(out, "float");
    case OPT_STRING: return buf_append_str(out, "string");
    case OPT_STRING_LIST: return buf_append_str(out, "list of strings");
    case OPT_OBJECT: return buf_append_str(out, "object");
    case OPT_NODE: return buf_append_str(out, "any");
    case OPT_ALIAS: return buf_append_str(out, "alias");
    case OPT_NO_EFFECT: return buf_append_str(out, "no effect");
    case OPT_ENUM:
        if (buf_append_str(out, "enum (") < 0 || append_choices(out, s->values) < 0)
            return -1;
        return buf_append_char(out, ')');
    }
    return -1;
}

/* The type, and the unit of a number: "float (seconds)". */
static int type_column(const opt_spec *s, buf *out)
{
    if (type_text(s, out) < 0)
        return -1;
    return s->unit ? buf_printf(out, " (%s)", s->unit) : 0;
}

static int measure_table(const opt_spec *table, const char *prefix, size_t *name_w,
                         size_t *type_w)
{
    for (const opt_spec *s = table; s && s->name; s++) {
        char name[NAME_MAX_LEN];
        buf type = BUF_INIT;
        full_name(name, prefix, s->name);
        if (type_column(s, &type) < 0) {
            buf_free(&type);
            return -1;
        }
        if (strlen(name) > *name_w)
            *name_w = strlen(name);
        if (type.len > *type_w)
            *type_w = type.len;
        buf_free(&type);
        if (s->type == OPT_OBJECT && measure_table(s->fields, name, name_w, type_w) < 0)
            return -1;
    }
    return 0;
}

/* A default as the user would write it: quoted, with escapes, when it
 * holds whitespace or control characters (a line delimiter of "\n"), so one
 * option stays on one line. */
static int doc_default(const char *def, buf *out)
{
    if (def[0] && !strpbrk(def, " \t\r\n\\\""))
        return buf_printf(out, "  default: %s", def);
    int rc = buf_append_str(out, "  default: \"");
    for (const char *p = def; rc == 0 && *p; p++) {
        switch (*p) {
        case '\n': rc = buf_append_str(out, "\\n"); break;
        case '\r': rc = buf_append_str(out, "\\r"); break;
        case '\t': rc = buf_append_str(out, "\\t"); break;
        case '"': rc = buf_append_str(out, "\\\""); break;
        case '\\': rc = buf_append_str(out, "\\\\"); break;
        default: rc = buf_append_char(out, *p); break;
        }
    }
    return rc == 0 ? buf_append_char(out, '"') : -1;
}

/* What follows the type: default, required, range, not empty,
 * deprecation. */
static int doc_limits(const opt_spec *s, buf *out)
{
    int rc = 0;
    if (s->def)
        rc = doc_default(s->def, out);
    if (rc == 0 && s->required)
        rc = buf_append_str(out, "  required");
    if (rc == 0 && has_range(s) && (rc = buf_append_str(out, "  range: ")) == 0)
        rc = append_range(out, s, false);
    if (rc == 0 && s->nonempty)
        rc = buf_append_str(out, "  not empty");
    if (rc == 0 && s->deprecated)
        rc = buf_printf(out, "  deprecated: %s", s->deprecated);
    return rc;
}

/* The help: an alias names its option, a no-effect option says why. */
static int doc_help(const opt_spec *s, buf *out)
{
    if (s->type == OPT_ALIAS)
        return buf_printf(out, "  \xe2\x80\x94 older name of %s", s->alias);
    if (s->type == OPT_NO_EFFECT)
        return buf_printf(out, "  \xe2\x80\x94 accepted but %s", s->no_effect);
    return s->help ? buf_printf(out, "  \xe2\x80\x94 %s", s->help) : 0;
}

static bool doc_has_more(const opt_spec *s)
{
    return s->def || s->required || s->help || has_range(s) || s->nonempty || s->deprecated ||
           s->type == OPT_ALIAS || s->type == OPT_NO_EFFECT;
}

static int doc_line(const opt_spec *s, const char *name, size_t name_w, size_t type_w,
                    buf *out)
{
    buf type = BUF_INIT;
    int rc = type_column(s, &type);
    if (rc == 0)
        rc = buf_printf(out, "  %-*s  %-*s", (int)name_w, name,
                        doc_has_more(s) ? (int)type_w : 0, type.data);
    buf_free(&type);
    if (rc == 0)
        rc = doc_limits(s, out);
    if (rc == 0)
        rc = doc_help(s, out);
    return rc == 0 ? buf_append_char(out, '\n') : -1;
}

static int doc_table(const opt_spec *table, const char *prefix, size_t name_w, size_t type_w,
                     buf *out)
{
    for (const opt_spec *s = table; s && s->name; s++) {
        char name[NAME_MAX_LEN];
        full_name(name, prefix, s->name);
        if (doc_line(s, name, name_w, type_w, out) < 0)
            return -1;
        if (s->type == OPT_OBJECT && doc_table(s->fields, name, name_w, type_w, out) < 0)
            return -1;
    }
    return 0;
}

int opt_doc(const opt_spec *table, buf *out)
{
    size_t name_w = 0, type_w = 0;
    if (measure_table(table, "", &name_w, &type_w) < 0)
        return -1;
    return doc_table(table, "", name_w, type_w, out);
}
