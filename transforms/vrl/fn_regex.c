/* fn_regex.c - the remap language's regex functions: match, match_any,
 * parse_regex and parse_regex_all.
 *
 * Regex literals reach these functions compiled (PCRE2, with JIT). What can
 * be worked out from the pattern alone is worked out once, when the
 * program is compiled: the named groups, sorted the way value maps are, so
 * that a match becomes an object by filling an entry table in order.
 * Captured strings point into the subject (which lives in the batch) and
 * keys into the compiled program (which outlives its results, as its
 * string literals do), so parse_regex costs one match and one arena
 * allocation, whatever the number of groups.
 *
 * As in VRL, a subject that is not valid UTF-8 is matched in its lossy
 * form, named groups that did not take part are null, and numeric_groups
 * numbers the groups that took part, 0 being the whole match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transforms/vrl/fn_util.h"

/* ---- named groups ------------------------------------------------------ */

typedef struct named_group {
    const char *name;
    uint32_t len;
    uint32_t group;
} named_group;

/* What a regex's matches turn into, prepared at compile time. */
typedef struct capture_plan {
    const vrl_regex_code *code;
    uint32_t ngroups;     /* capture groups, group 0 not counted */
    uint32_t nnames;      /* entries in names, repeated names included */
    uint32_t nkeys;       /* distinct names */
    bool repeated;        /* some name is used by several groups ((?J)) */
    named_group names[];  /* sorted by name, then group; names stored after */
} capture_plan;

static int name_cmp(const named_group *x, const named_group *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static int named_group_order(const void *a, const void *b)
{
    const named_group *x = a, *y = b;
    int c = name_cmp(x, y);
    if (c)
        return c;
    return (x->group > y->group) - (x->group < y->group);
}

static int plan_captures(const vrl_regex_code *code, capture_plan **out, sl_error *err)
{
    uint32_t ngroups = 0, count = 0, entry_size = 0;
    PCRE2_SPTR table = NULL;
    if (pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ngroups) < 0 ||
        pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count) < 0 ||
        pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size) < 0 ||
        pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table) < 0)
        return sl_fail(err, "unable to read the regex's capture groups");
    capture_plan *p = calloc(1, sizeof(*p) + (size_t)count * (sizeof(named_group) + entry_size));
    if (!p)
        return sl_fail(err, "out of memory compiling regex captures");
    p->code = code;
    p->ngroups = ngroups;
    p->nnames = count;
    char *store = (char *)&p->names[count];
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * entry_size;
        size_t len = strlen((const char *)e + 2);
        memcpy(store, e + 2, len + 1);
        p->names[i].name = store;
        p->names[i].len = (uint32_t)len;
        p->names[i].group = (uint32_t)e[0] << 8 | e[1];
        store += len + 1;
    }
    qsort(p->names, count, sizeof(named_group), named_group_order);
    for (uint32_t i = 0; i < count; i++)
        p->nkeys += i == 0 || name_cmp(&p->names[i - 1], &p->names[i]) != 0;
    p->repeated = p->nkeys != count;
    *out = p;
    return 0;
}

/* The text of group g, or null when it did not take part. */
static value group_value(const char *s, const PCRE2_SIZE *ov, uint32_t npairs, uint32_t g)
{
    if (g >= npairs || ov[2 * g] == PCRE2_UNSET)
        return value_null();
    return value_bytes(s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
}

/* Fills entries with one entry per distinct name, in map order. With
 * repeated names ((?J)), the first group of the name that took part wins. */
static uint32_t fill_named(const capture_plan *p, const char *s, const PCRE2_SIZE *ov,
                           uint32_t npairs, value_entry *entries)
{
    if (!p->repeated) {
        for (uint32_t i = 0; i < p->nnames; i++) {
            entries[i].key = p->names[i].name;
            entries[i].klen = p->names[i].len;
            entries[i].val = group_value(s, ov, npairs, p->names[i].group);
        }
        return p->nnames;
    }
    uint32_t o = 0;
    for (uint32_t i = 0; i < p->nnames;) {
        value v = value_null();
        uint32_t j = i;
        for (; j < p->nnames && (j == i || name_cmp(&p->names[i], &p->names[j]) == 0); j++)
            if (v.kind == VALUE_NULL)
                v = group_value(s, ov, npairs, p->names[j].group);
        entries[o].key = p->names[i].name;
        entries[o].klen = p->names[i].len;
        entries[o].val = v;
        o++;
        i = j;
    }
    return o;
}

static int named_map(arena *a, const capture_plan *p, const char *s, pcre2_match_data *md,
                     value *out)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t npairs = pcre2_get_ovector_count(md);
    /* The map and its entries in one allocation (value_map keeps entries
     * 8-byte aligned after it). */
    value_map *m = arena_alloc(a, sizeof(*m) + (size_t)p->nkeys * sizeof(value_entry));
    if (!m)
        return -1;
    m->entries = p->nkeys ? (value_entry *)(m + 1) : NULL;
    m->len = m->cap = fill_named(p, s, ov, npairs, m->entries);
    out->kind = VALUE_MAP;
    out->len = 0;
    out->u.map = m;
    return 0;
}

/* With numeric_groups: "0", "1", ... for the groups that took part, then
 * the names. */
static int numbered_map(arena *a, const capture_plan *p, const char *s, pcre2_match_data *md,
                        value *out)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t npairs = pcre2_get_ovector_count(md);
    uint32_t total = p->nkeys + p->ngroups + 1;
    value_entry *entries = arena_alloc(a, (size_t)total * sizeof(*entries));
    if (!entries)
        return -1;
    uint32_t o = 0;
    for (uint32_t g = 0; g <= p->ngroups; g++) {
        value v = group_value(s, ov, npairs, g);
        if (v.kind == VALUE_NULL)
            continue;
        char digits[16];
        int len = snprintf(digits, sizeof(digits), "%u", o);
        char *key = arena_strndup(a, digits, (size_t)len);
        if (!key)
            return -1;
        entries[o].key = key;
        entries[o].klen = (uint32_t)len;
        entries[o].val = v;
        o++;
    }
    o += fill_named(p, s, ov, npairs, entries + o);
    return vrl_map_from_entries(a, entries, o, out);
}

static int captures_to_map(arena *a, const capture_plan *p, bool numeric, const char *s,
                           pcre2_match_data *md, value *out)
{
    return numeric ? numbered_map(a, p, s, md, out) : named_map(a, p, s, md, out);
}

/* ---- compile-time checks ----------------------------------------------- */

static int require_regex(const vrl_const_arg *a, sl_error *err)
{
    if (!a->regex)
        return sl_fail(err, "`pattern` must be a regex literal");
    return 0;
}

static int compile_regex_arg(const vrl_const_arg *args, void **state, sl_error *err)
{
    *state = NULL;
    return require_regex(&args[1], err);
}

static int compile_capture_plan(const vrl_const_arg *args, void **state, sl_error *err)
{
    capture_plan *p = NULL;
    if (require_regex(&args[1], err) < 0 || plan_captures(args[1].regex, &p, err) < 0)
        return -1;
    *state = p;
    return 0;
}

static void free_plain(void *state)
{
    free(state);
}

/* The compiled pattern: the run-time argument when given, else the one seen
 * at compile time. */
static const vrl_regex_code *pattern_of(const vrl_arg *arg, const capture_plan *p)
{
    return arg->regex ? arg->regex : p->code;
}

/* ---- match ------------------------------------------------------------- */

static int match_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *s;
    size_t n;
    pcre2_match_data *md;
    if (vrl_arg_bytes(&args[0], &s, &n, err) < 0)
        return -1;
    if (!args[1].regex)
        return sl_fail(err, "`pattern` must be a regex literal");
    int rc = vrl_regex_exec(c->a, args[1].regex, &s, &n, 0, 0, &md, err);
    if (rc < 0)
        return -1;
    *out = value_bool(rc == 1);
    return 0;
}

static const vrl_param match_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"pattern", VRL_ARG_REGEX, true},
};

static const vrl_function fn_match = {
    .name = "match",
    .params = match_params,
    .nparams = SL_ARRAY_LEN(match_params),
    .returns = K(VALUE_BOOL),
    .fallible = false,
    .compile = compile_regex_arg,
    .call = match_call,
};

/* ---- match_any --------------------------------------------------------- */

typedef struct regex_set {
    uint32_t n;
    const vrl_regex_code *codes[];
} regex_set;

static int match_any_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    const vrl_const_arg *a = &args[1];
    if (!a->regexes)
        return sl_fail(err, "`patterns` must be an array of regex literals");
    regex_set *set = malloc(sizeof(*set) + (size_t)a->nregexes * sizeof(set->codes[0]));
    if (!set)
        return sl_fail(err, "out of memory compiling match_any");
    set->n = a->nregexes;
    for (uint32_t i = 0; i < a->nregexes; i++)
        set->codes[i] = a->regexes[i];
    *state = set;
    return 0;
}

static int match_any_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const regex_set *set = c->state;
    const char *s;
    size_t n;
    pcre2_match_data *md;
    if (vrl_arg_bytes(&args[0], &s, &n, err) < 0)
        return -1;
    for (uint32_t i = 0; i < set->n; i++) {
        int rc = vrl_regex_exec(c->a, set->codes[i], &s, &n, 0, 0, &md, err);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            *out = value_bool(true);
            return 0;
        }
    }
    *out = value_bool(false);
    return 0;
}

static const vrl_param match_any_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"patterns", K(VALUE_ARRAY), true},
};

static const vrl_function fn_match_any = {
    .name = "match_any",
    .params = match_any_params,
    .nparams = SL_ARRAY_LEN(match_any_params),
    .returns = K(VALUE_BOOL),
    .fallible = false,
    .compile = match_any_compile,
    .free_state = free_plain,
    .call = match_any_call,
};

/* ---- parse_regex ------------------------------------------------------- */

static int parse_regex_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const capture_plan *p = c->state;
    const char *s;
    size_t n;
    bool numeric;
    pcre2_match_data *md;
    if (vrl_arg_bytes(&args[0], &s, &n, err) < 0 ||
        vrl_arg_opt_bool(&args[2], false, &numeric, err) < 0)
        return -1;
    int rc = vrl_regex_exec(c->a, pattern_of(&args[1], p), &s, &n, 0, 0, &md, err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return sl_fail(err, "could not find any pattern matches");
    if (captures_to_map(c->a, p, numeric, s, md, out) < 0)
        return sl_fail(err, "out of memory in parse_regex");
    return 0;
}

static const vrl_param parse_regex_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"pattern", VRL_ARG_REGEX, true},
    {"numeric_groups", K(VALUE_BOOL), false},
};

static const vrl_function fn_parse_regex = {
    .name = "parse_regex",
    .params = parse_regex_params,
    .nparams = SL_ARRAY_LEN(parse_regex_params),
    .returns = K(VALUE_MAP),
    .fallible = true,
    .compile = compile_capture_plan,
    .free_state = free_plain,
    .call = parse_regex_call,
};

/* ---- parse_regex_all --------------------------------------------------- */

static int parse_regex_all_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const capture_plan *p = c->state;
    const vrl_regex_code *code = pattern_of(&args[1], p);
    const char *s;
    size_t n;
    bool numeric;
    if (vrl_arg_bytes(&args[0], &s, &n, err) < 0 ||
        vrl_arg_opt_bool(&args[2], false, &numeric, err) < 0)
        return -1;
    value result = value_new_array(c->a, 0);
    if (result.kind != VALUE_ARRAY)
        return sl_fail(err, "out of memory in parse_regex_all");
    size_t start = 0;
    uint32_t opts = 0;
    while (start <= n) {
        pcre2_match_data *md;
        int rc = vrl_regex_exec(c->a, code, &s, &n, start, opts, &md, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        value *slot = value_array_push(c->a, result.u.arr);
        if (!slot || captures_to_map(c->a, p, numeric, s, md, slot) < 0)
            return sl_fail(err, "out of memory in parse_regex_all");
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        /* After an empty match, step one character so the loop ends. */
        start = ov[1] > ov[0] ? ov[1] : ov[1] + vrl_regex_step(code, s, n, ov[1]);
        opts = PCRE2_NO_UTF_CHECK;
    }
    *out = result;
    return 0;
}

static const vrl_function fn_parse_regex_all = {
    .name = "parse_regex_all",
    .params = parse_regex_params,
    .nparams = SL_ARRAY_LEN(parse_regex_params),
    .returns = K(VALUE_ARRAY),
    .fallible = true,
    .compile = compile_capture_plan,
    .free_state = free_plain,
    .call = parse_regex_all_call,
};

const vrl_function *const vrl_regex_functions[] = {
    &fn_match,
    &fn_match_any,
    &fn_parse_regex,
    &fn_parse_regex_all,
    NULL,
};
