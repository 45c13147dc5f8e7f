/* log_to_metric.c - the `log_to_metric` transform: turns each log into the
 * metrics its `metrics` list describes, as Vector's log_to_metric does.
 *
 *   metrics:
 *     - {type: counter, field: status, name: responses, namespace: web,
 *        increment_by_value: false, kind: incremental, tags: {code: "{{ status }}"}}
 *
 * Types: counter (1, or the field's value with increment_by_value), gauge
 * (absolute), histogram and summary (one distribution sample), set (the
 * value as a string). Names, namespaces and tag values are templates; the
 * timestamp is the log's, or now. Like Vector, a log makes all its metrics or
 * none: a missing or null field, a value that is not a number, or a name that
 * can't be rendered counts an error and the log makes nothing. A tag that
 * can't be rendered is left out (counted too).
 *
 * The metrics replace the logs in the same batch, in order. One log may
 * make several metrics, so a batch can leave with more events than the
 * pipeline's batch size: its cap is raised for that batch. */
#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipeline/component.h"
#include "pipeline/path.h"
#include "pipeline/template.h"
#include "transforms/xf.h"

typedef struct l2m_options {
    const cfg_node *metrics;
} l2m_options;

static const opt_spec l2m_table[] = {
    OPT_NODE_ROW("metrics", l2m_options, metrics, .required = true,
        .help = "The metrics each log makes: a list of {type, field, name, namespace, "
                "increment_by_value, kind, tags}."),
    OPT_END,
};

enum { L2M_COUNTER = 0, L2M_GAUGE, L2M_HISTOGRAM, L2M_SET, L2M_SUMMARY };
static const char *const type_names[] = {"counter", "gauge", "histogram", "set", "summary",
                                         NULL};
static const char *const metric_keys[] = {"type", "field", "name", "namespace",
                                          "increment_by_value", "kind", "tags"};

/* One value of a tag: a template, or NULL for a bare tag. */
typedef struct tag_spec {
    char *key;
    template **values;
    size_t nvalues;
} tag_spec;

typedef struct metric_spec {
    int type;
    char *field_text;
    path field;
    template *field_string;    /* "{{ field }}": the value as text, for sets */
    template *name;
    template *namespace_;      /* NULL: none */
    bool increment_by_value;
    uint8_t kind;              /* counters */
    tag_spec *tags;
    size_t ntags;
} metric_spec;

/* Error kinds, counted per batch, with Vector's error_type for each. */
enum { ERR_FIELD_MISSING = 0, ERR_FIELD_NULL, ERR_PARSE_FLOAT, ERR_TEMPLATE, ERR_KINDS };
static const char *const error_types[ERR_KINDS] = {"parser_failed", "condition_failed",
                                                   "parser_failed", "template_failed"};

typedef struct l2m_state {
    xf_ctx ctx;
    metric_spec *specs;
    size_t n;
} l2m_state;

/* ---- parsing the metrics list ---- */

static void free_specs(metric_spec *specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        metric_spec *m = &specs[i];
        free(m->field_text);
        path_free(&m->field);
        template_free(m->field_string);
        template_free(m->name);
        template_free(m->namespace_);
        for (size_t t = 0; t < m->ntags; t++) {
            free(m->tags[t].key);
            for (size_t v = 0; v < m->tags[t].nvalues; v++)
                template_free(m->tags[t].values[v]);
            free(m->tags[t].values);
        }
        free(m->tags);
    }
    free(specs);
}

typedef struct parser {
    const char *label;
    diag_list *diags;
    size_t errors;
    size_t index;        /* of the metric being parsed, for messages */
} parser;

static void perr(parser *p, const cfg_node *where, const char *fmt, ...) SL_PRINTF(3, 4);

static void perr(parser *p, const cfg_node *where, const char *fmt, ...)
{
    char msg[SL_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    diag_add(p->diags, DIAG_ERROR, where, p->label, "metrics[%zu]: %s", p->index, msg);
    p->errors++;
}

static const char *scalar(parser *p, const cfg_node *map, const char *key, bool required)
{
    const cfg_node *v = cfg_map_get(map, key);
    if (!v || v->kind == CFG_NULL) {
        if (required)
            perr(p, map, "option \"%s\" is required", key);
        return NULL;
    }
    if (v->kind != CFG_SCALAR) {
        perr(p, v, "option \"%s\" must be a string, got a %s", key, cfg_kind_name(v->kind));
        return NULL;
    }
    return v->text;
}

static template *parse_template(parser *p, const cfg_node *where, const char *what,
                                const char *text)
{
    template *t = NULL;
    sl_error err = {{0}};
    if (template_parse(text, &t, &err) < 0)
        perr(p, where, "%s: %s", what, err.msg);
    return t;
}

static int parse_tag_values(parser *p, const cfg_pair *pair, tag_spec *tag)
{
    const cfg_node *v = pair->value;
    size_t n = v->kind == CFG_SEQ ? v->nitems : 1;
    tag->values = calloc(n ? n : 1, sizeof(*tag->values));
    if (!tag->values)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const cfg_node *item = v->kind == CFG_SEQ ? v->items[i] : v;
        tag->nvalues++;
        if (item->kind == CFG_NULL)
            continue;   /* a bare tag */
        if (item->kind != CFG_SCALAR) {
            perr(p, item, "tag \"%s\" must be a template string, null or a list of them",
                 tag->key);
            continue;
        }
        tag->values[i] = parse_template(p, item, "tag", item->text);
    }
    return 0;
}

static int parse_tags(parser *p, const cfg_node *tags, metric_spec *m)
{
    if (!tags || tags->kind == CFG_NULL)
        return 0;
    if (tags->kind != CFG_MAP) {
        perr(p, tags, "option \"tags\" must be a map of tag names to templates");
        return 0;
    }
    m->tags = calloc(tags->npairs ? tags->npairs : 1, sizeof(*m->tags));
    if (!m->tags)
        return -1;
    for (size_t i = 0; i < tags->npairs; i++) {
        tag_spec *t = &m->tags[m->ntags++];
        if (!(t->key = strdup(tags->pairs[i].key->text)) ||
            parse_tag_values(p, &tags->pairs[i], t) < 0)
            return -1;
    }
    return 0;
}

static void parse_counter_options(parser *p, const cfg_node *map, metric_spec *m)
{
    const cfg_node *v = cfg_map_get(map, "increment_by_value");
    if (v && v->kind != CFG_NULL &&
        (v->kind != CFG_SCALAR || !v->plain ||
         opt_parse_bool(v->text, &m->increment_by_value) < 0))
        perr(p, v, "option \"increment_by_value\" must be true or false");
    const char *kind = scalar(p, map, "kind", false);
    if (!kind || strcmp(kind, "incremental") == 0)
        m->kind = METRIC_INCREMENTAL;
    else if (strcmp(kind, "absolute") == 0)
        m->kind = METRIC_ABSOLUTE;
    else
        perr(p, cfg_map_get(map, "kind"), "option \"kind\" must be incremental or absolute");
}

static void check_keys(parser *p, const cfg_node *map)
{
    for (size_t i = 0; i < map->npairs; i++) {
        const char *key = map->pairs[i].key->text;
        bool known = false;
        for (size_t k = 0; k < SL_ARRAY_LEN(metric_keys) && !known; k++)
            known = strcmp(key, metric_keys[k]) == 0;
        if (known)
            continue;
        const char *guess = opt_did_you_mean(key, metric_keys, SL_ARRAY_LEN(metric_keys));
        if (guess)
            perr(p, map->pairs[i].key, "unknown option \"%s\" (did you mean \"%s\"?)", key,
                 guess);
        else
            perr(p, map->pairs[i].key, "unknown option \"%s\"", key);
    }
}

static int parse_type(parser *p, const cfg_node *map)
{
    const char *type = scalar(p, map, "type", true);
    if (!type)
        return -1;
    for (int i = 0; type_names[i]; i++)
        if (strcmp(type, type_names[i]) == 0)
            return i;
    perr(p, cfg_map_get(map, "type"),
         "option \"type\" must be one of counter, gauge, histogram, set, summary; got \"%s\"",
         type);
    return -1;
}

/* Fills m from one entry of the list; errors go to p. -1 only when out of
 * memory. */
static int parse_metric(parser *p, const cfg_node *map, metric_spec *m)
{
    if (map->kind != CFG_MAP) {
        perr(p, map, "must be a map with `type` and `field`, got a %s", cfg_kind_name(map->kind));
        return 0;
    }
    check_keys(p, map);
    m->type = parse_type(p, map);
    const char *field = scalar(p, map, "field", true);
    if (field) {
        sl_error err = {{0}};
        char text[1024];
        if (!(m->field_text = strdup(field)))
            return -1;
        if (path_parse(field, &m->field, &err) < 0)
            perr(p, cfg_map_get(map, "field"), "option \"field\": %s", err.msg);
        else if ((size_t)snprintf(text, sizeof(text), "{{ %s }}", field) < sizeof(text))
            m->field_string = parse_template(p, cfg_map_get(map, "field"), "field", text);
        else
            perr(p, cfg_map_get(map, "field"), "option \"field\" is too long");
    }
    const char *name = scalar(p, map, "name", false);
    if (name || field)
        m->name = parse_template(p, cfg_map_get(map, name ? "name" : "field"), "name",
                                 name ? name : field);
    const char *ns = scalar(p, map, "namespace", false);
    if (ns)
        m->namespace_ = parse_template(p, cfg_map_get(map, "namespace"), "namespace", ns);
    if (m->type == L2M_COUNTER)
        parse_counter_options(p, map, m);
    return parse_tags(p, cfg_map_get(map, "tags"), m);
}

/* Parses the list; NULL when it has errors (in diags) or on allocation
 * failure (*oom set). */
static metric_spec *parse_metrics(const cfg_node *list, const char *label, diag_list *diags,
                                  size_t *n, bool *oom)
{
    parser p = {label, diags, 0, 0};
    *oom = false;
    if (list->kind != CFG_SEQ || list->nitems == 0) {
        diag_add(diags, DIAG_ERROR, list, label,
                 "option \"metrics\" must be a non-empty list of metrics");
        return NULL;
    }
    metric_spec *specs = calloc(list->nitems, sizeof(*specs));
    if (!specs) {
        *oom = true;
        return NULL;
    }
    for (size_t i = 0; i < list->nitems; i++) {
        p.index = i;
        if (parse_metric(&p, list->items[i], &specs[i]) < 0) {
            *oom = true;
            break;
        }
    }
    if (*oom || p.errors) {
        free_specs(specs, list->nitems);
        return NULL;
    }
    *n = list->nitems;
    return specs;
}

static size_t l2m_check(const void *options, const char *label, const cfg_node *node,
                        diag_list *diags)
{
    SL_UNUSED(node);
    const l2m_options *o = options;
    size_t before = diag_errors(diags), n = 0;
    bool oom;
    metric_spec *specs = parse_metrics(o->metrics, label, diags, &n, &oom);
    if (oom)
        diag_add(diags, DIAG_ERROR, o->metrics, label, "out of memory");
    free_specs(specs, specs ? n : 0);
    return diag_errors(diags) - before;
}

static void l2m_destroy(void *state)
{
    l2m_state *s = state;
    if (!s)
        return;
    free_specs(s->specs, s->n);
    free(s);
}

static int l2m_build(const void *options, const component_info *info, void **state,
                     sl_error *err)
{
    const l2m_options *o = options;
    l2m_state *s = calloc(1, sizeof(*s));
    if (!s)
        return sl_fail(err, "out of memory");
    xf_ctx_init(&s->ctx, info);
    diag_list diags = DIAG_LIST_INIT;
    bool oom;
    s->specs = parse_metrics(o->metrics, info ? info->id : NULL, &diags, &s->n, &oom);
    if (!s->specs) {
        sl_fail(err, "%s", oom || diags.n == 0 ? "out of memory" : diags.items[0].msg);
        diag_list_free(&diags);
        free(s);
        return -1;
    }
    diag_list_free(&diags);
    *state = s;
    return 0;
}

/* ---- making metrics ---- */

/* Rust's f64 from_str on the text: an optional sign, then digits with an
 * optional point and exponent, or inf / infinity / nan; nothing else (no
 * spaces, no hex, which strtod alone would take). */
static bool parse_f64_text(const char *s, size_t n, double *out)
{
    char tmp[512];
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    const char *p = tmp + (tmp[0] == '+' || tmp[0] == '-');
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0 ||
        strcasecmp(p, "nan") == 0) {
        *out = strtod(tmp, NULL);
        return true;
    }
    size_t digits = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits++;
    }
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits++;
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += *p == '+' || *p == '-';
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p != '\0')
        return false;
    *out = strtod(tmp, NULL);
    return true;
}

/* Vector parses the value's string form: integers and floats read as
 * numbers, strings when they hold one, anything else fails. */
static bool value_to_f64(const value *v, double *out)
{
    switch (v->kind) {
    case VALUE_INT: *out = (double)v->u.i; return true;
    case VALUE_FLOAT: *out = v->u.f; return true;
    case VALUE_BYTES: return parse_f64_text(v->u.s, v->len, out);
    default: return false;
    }
}

typedef struct l2m_batch {
    arena *a;
    buf scratch;
    int64_t now;              /* 0 until needed */
    uint64_t errors[ERR_KINDS];
} l2m_batch;

static int64_t log_time(l2m_batch *bc, const event *e)
{
    const value *ts = event_log_get(e, EVENT_FIELD_TIMESTAMP);
    if (ts && ts->kind == VALUE_TIMESTAMP)
        return ts->u.ts;
    if (!bc->now)
        bc->now = sl_now_wall_ns();
    return bc->now;
}

/* Renders t into a NUL-terminated string in the scratch buffer. */
static const char *render(l2m_batch *bc, const template *t, const event *e, sl_error *err)
{
    buf_reset(&bc->scratch);
    if (template_render(t, e, &bc->scratch, err) < 0)
        return NULL;
    return bc->scratch.data ? bc->scratch.data : "";
}

static void add_tags(l2m_state *s, l2m_batch *bc, const metric_spec *m, const event *log,
                     event *out)
{
    for (size_t t = 0; t < m->ntags; t++) {
        const tag_spec *tag = &m->tags[t];
        for (size_t v = 0; v < tag->nvalues; v++) {
            sl_error err = {{0}};
            const char *text = NULL;
            if (tag->values[v] && !(text = render(bc, tag->values[v], log, &err))) {
                bc->errors[ERR_TEMPLATE]++;
                xf_log_error(&s->ctx, "Failed to render template for tag \"%s\": %s",
                             tag->key, err.msg);
                continue;
            }
            /* Several values for one tag: the last wins, as Vector shows a
             * tag's single value. */
            if (event_metric_set_tag(bc->a, out, tag->key, text) < 0)
                bc->errors[ERR_TEMPLATE]++;
        }
    }
}

static int set_value(l2m_state *s, l2m_batch *bc, const metric_spec *m, const event *log,
                     const value *v, metric *mt)
{
    double d = 1.0;
    bool numeric = m->type != L2M_SET && (m->type != L2M_COUNTER || m->increment_by_value);
    if (numeric && !value_to_f64(v, &d)) {
        bc->errors[ERR_PARSE_FLOAT]++;
        xf_log_error(&s->ctx, "Failed to parse field as float. field=%s", m->field_text);
        return 1;
    }
    switch (m->type) {
    case L2M_COUNTER:
        mt->type = METRIC_COUNTER;
        mt->kind = m->kind;
        mt->v.counter = d;
        return 0;
    case L2M_GAUGE:
        mt->type = METRIC_GAUGE;
        mt->kind = METRIC_ABSOLUTE;
        mt->v.gauge = d;
        return 0;
    case L2M_HISTOGRAM:
    case L2M_SUMMARY: {
        metric_sample *sm = arena_alloc(bc->a, sizeof(*sm));
        if (!sm)
            return -1;
        sm->value = d;
        sm->rate = 1;
        mt->type = METRIC_DISTRIBUTION;
        mt->kind = METRIC_INCREMENTAL;
        mt->v.dist.samples = sm;
        mt->v.dist.n = 1;
        mt->v.dist.statistic = m->type == L2M_HISTOGRAM ? METRIC_STAT_HISTOGRAM
                                                        : METRIC_STAT_SUMMARY;
        return 0;
    }
    default: {
        sl_error err = {{0}};
        const char *text = render(bc, m->field_string, log, &err);
        const char **vals = arena_alloc(bc->a, sizeof(*vals));
        if (!text || !vals || !(vals[0] = arena_strndup(bc->a, text, strlen(text))))
            return -1;
        mt->type = METRIC_SET;
        mt->kind = METRIC_INCREMENTAL;
        mt->v.set.values = vals;
        mt->v.set.n = 1;
        return 0;
    }
    }
}

/* Makes the metric m describes for log into *out: 0 made, 1 this log makes
 * no metrics (error counted), -1 out of memory. */
static int make_metric(l2m_state *s, l2m_batch *bc, const metric_spec *m, const event *log,
                       event *out)
{
    const value *v = path_get(&log->u.log, &m->field);
    if (!v || v->kind == VALUE_NULL) {
        bc->errors[v ? ERR_FIELD_NULL : ERR_FIELD_MISSING]++;
        xf_log_error(&s->ctx, "%s field=%s", v ? "Field is null." : "Field does not exist.",
                     m->field_text);
        return 1;
    }
    sl_error err = {{0}};
    const char *name = render(bc, m->name, log, &err);
    char *name_copy = name ? arena_strndup(bc->a, name, strlen(name)) : NULL;
    const char *ns = name && m->namespace_ ? render(bc, m->namespace_, log, &err) : NULL;
    if (!name || (m->namespace_ && !ns)) {
        bc->errors[ERR_TEMPLATE]++;
        xf_log_error(&s->ctx, "Failed to render template: %s", err.msg);
        return 1;
    }
    if (!name_copy || event_init_metric(bc->a, out, name_copy, ns) < 0)
        return -1;
    metric *mt = out->u.metric;
    mt->has_timestamp = true;
    mt->timestamp = log_time(bc, log);
    int rc = set_value(s, bc, m, log, v, mt);
    if (rc != 0)
        return rc;
    add_tags(s, bc, m, log, out);
    return 0;
}

/* The metrics of one log appended at out[*n]; all or none. */
static int convert_log(l2m_state *s, l2m_batch *bc, const event *log, event *out, uint32_t *n)
{
    uint32_t start = *n;
    for (size_t i = 0; i < s->n; i++) {
        int rc = make_metric(s, bc, &s->specs[i], log, &out[*n]);
        if (rc != 0) {
            *n = start;
            return rc;
        }
        (*n)++;
    }
    return 0;
}

static int l2m_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    SL_UNUSED(em);
    l2m_state *s = state;
    if (b->count == 0)
        return 0;
    uint64_t room = (uint64_t)b->count * s->n;
    if (room > UINT32_MAX)
        return sl_fail(err, "too many metrics for one batch");
    event *out = arena_alloc(b->arena, (size_t)room * sizeof(*out));
    if (!out)
        return sl_fail(err, "out of memory making metrics");
    l2m_batch bc = {b->arena, BUF_INIT, 0, {0}};
    uint32_t n = 0;
    uint64_t failed = 0;
    int rc = 0;
    for (uint32_t i = 0; i < b->count && rc == 0; i++) {
        const event *e = &b->events[i];
        int r = e->type == EVENT_LOG ? convert_log(s, &bc, e, out, &n) : 1;
        if (r < 0)
            rc = sl_fail(err, "out of memory making metrics");
        failed += r != 0;
    }
    buf_free(&bc.scratch);
    b->events = out;
    b->events_cap = (uint32_t)room;
    b->count = n;
    if (n > b->cap)
        b->cap = n;
    b->json_bytes = 0;
    for (int k = 0; k < ERR_KINDS; k++)
        xf_count_errors(&s->ctx, error_types[k], bc.errors[k]);
    xf_count_discarded(&s->ctx, false, failed);
    return rc;
}

const component_desc transform_log_to_metric_desc = {
    .type = "log_to_metric",
    .kind = COMPONENT_TRANSFORM,
    .summary = "Turns logs into metrics (counters, gauges, histograms, sets, summaries).",
    .options = l2m_table,
    .options_size = sizeof(l2m_options),
    .input_types = EVENT_LOG,
    .output_types = EVENT_METRIC,
    .stateless = true,
    .check = l2m_check,
    .build = l2m_build,
    .destroy = l2m_destroy,
    .transform_process = l2m_process,
};
