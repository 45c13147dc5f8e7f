/* template.c - Vector's templates (see template.h).
 *
 * A template is split once into parts: literal text, `{{ path }}` field
 * references (Vector's pattern: `{{`, anything but `}`, `}}`, trimmed), and
 * literal stretches holding strftime specifiers. Specifiers apply to the
 * template's own text only, never to field values, as in current Vector.
 *
 * The strftime dialect is chrono's, which Vector uses (pipeline/sltime.h).
 * An unknown specifier fails at parse time, as chrono's does. Times are
 * UTC.
 *
 * Field values render as Vector's to_string_lossy: bytes read as UTF-8
 * (invalid sequences become U+FFFD), numbers and booleans as text,
 * timestamps in RFC 3339, maps and arrays as JSON, null as `<null>`. A
 * metric offers `name`, `namespace` and `tags.KEY`. */
#include "pipeline/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "pipeline/path.h"
#include "pipeline/sltime.h"

typedef enum part_kind {
    PART_LITERAL,
    PART_FIELD,
    PART_STRFTIME,
} part_kind;

typedef struct part {
    part_kind kind;
    char *text;      /* literal text, the strftime format, or the field name */
    size_t len;
    path field;      /* PART_FIELD */
} part;

struct template {
    part *parts;
    size_t n;
    bool has_fields;
    bool has_time;
};

/* ---- parsing ----------------------------------------------------------- */

static void free_part(part *p)
{
    free(p->text);
    if (p->kind == PART_FIELD)
        path_free(&p->field);
}

void template_free(template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free_part(&t->parts[i]);
    free(t->parts);
    free(t);
}

static part *add_part(template *t, size_t *cap, part_kind kind)
{
    if (SL_GROW(t->parts, t->n, *cap, 4) < 0)
        return NULL;
    part *p = &t->parts[t->n++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    return p;
}

static char *copy_text(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* A stretch of template text: checked for specifiers, and kept as a plain
 * literal (with %% %t %n already applied) unless it depends on the time. */
static int add_text(template *t, size_t *cap, const char *src, size_t off, size_t n, sl_error *err)
{
    const char *s = src + off;
    bool timed;
    size_t bad_at;
    if (sltime_strftime_check(s, n, &timed, &bad_at) < 0)
        return sl_fail(err, "invalid strftime specifier in template \"%s\" at offset %zu", src,
                       off + bad_at);
    part *p = add_part(t, cap, timed ? PART_STRFTIME : PART_LITERAL);
    if (!p)
        return sl_fail(err, "out of memory parsing template");
    if (timed) {
        p->text = copy_text(s, n);
        p->len = n;
    } else {
        buf lit = BUF_INIT;
        if (sltime_strftime_fields(&lit, s, n, NULL) < 0 || buf_reserve(&lit, 0) < 0) {
            buf_free(&lit);
            return sl_fail(err, "out of memory parsing template");
        }
        p->len = lit.len;
        p->text = buf_detach(&lit);
    }
    if (!p->text)
        return sl_fail(err, "out of memory parsing template");
    t->has_time |= timed;
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int add_field(template *t, size_t *cap, const char *name, size_t n, sl_error *err)
{
    while (n && is_space(*name)) {
        name++;
        n--;
    }
    while (n && is_space(name[n - 1]))
        n--;
    part *p = add_part(t, cap, PART_FIELD);
    if (!p)
        return sl_fail(err, "out of memory parsing template");
    p->text = copy_text(name, n);
    if (!p->text)
        return sl_fail(err, "out of memory parsing template");
    p->len = n;
    sl_error perr;
    if (path_parse(p->text, &p->field, &perr) < 0)
        return sl_fail(err, "invalid field reference in template: %s", perr.msg);
    t->has_fields = true;
    return 0;
}

/* The end of a `{{ name }}` starting at s[i] (just past the closing braces),
 * or 0 when none starts there. */
static size_t field_end(const char *s, size_t i)
{
    if (s[i] != '{' || s[i + 1] != '{')
        return 0;
    size_t j = i + 2;
    while (s[j] && s[j] != '}')
        j++;
    if (j == i + 2 || s[j] != '}' || s[j + 1] != '}')
        return 0;
    return j + 2;
}

int template_parse(const char *text, template **out, sl_error *err)
{
    template *t = calloc(1, sizeof(*t));
    if (!t)
        return sl_fail(err, "out of memory parsing template");
    size_t cap = 0, lit = 0, i = 0;
    int rc = 0;
    while (text[i] && rc == 0) {
        size_t end = field_end(text, i);
        if (!end) {
            i++;
            continue;
        }
        if (i > lit)
            rc = add_text(t, &cap, text, lit, i - lit, err);
        if (rc == 0)
            rc = add_field(t, &cap, text + i + 2, end - i - 4, err);
        i = lit = end;
    }
    if (rc == 0 && (i > lit || t->n == 0))
        rc = add_text(t, &cap, text, lit, i - lit, err);
    if (rc < 0) {
        template_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

bool template_is_dynamic(const template *t)
{
    return t->has_fields || t->has_time;
}

bool template_has_fields(const template *t)
{
    return t->has_fields;
}

/* ---- rendering --------------------------------------------------------- */

static void truncate_to(buf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

static int render_value(buf *out, const value *v)
{
    return json_append_text(out, v, true, "<null>");
}

/* Vector's render_metric_field: NULL when the metric has no such field. */
static const char *metric_field(const metric *m, const part *p)
{
    const char *name = p->text;
    if (strcmp(name, "name") == 0 || strcmp(name, ".name") == 0)
        return m->name;
    if (strcmp(name, "namespace") == 0 || strcmp(name, ".namespace") == 0)
        return m->namespace_;
    if (name[0] == '.')
        name++;
    if (strncmp(name, "tags.", 5) == 0) {
        const char *key = name + 5;
        for (uint32_t i = 0; i < m->ntags; i++)
            if (strcmp(m->tags[i].key, key) == 0)
                return m->tags[i].value;
    }
    return NULL;
}

/* Appends the field's rendering; 1 when the event lacks it. */
static int render_field(buf *out, const part *p, const event *e)
{
    if (e->type == EVENT_METRIC) {
        const char *s = metric_field(e->u.metric, p);
        if (!s)
            return 1;
        return buf_append_str(out, s);
    }
    const value *v = path_get(&e->u.log, &p->field);
    if (!v)
        return 1;
    return render_value(out, v);
}

static int64_t event_time(const event *e)
{
    if (e->type == EVENT_METRIC) {
        if (e->u.metric->has_timestamp)
            return e->u.metric->timestamp;
    } else {
        const value *ts = event_log_get(e, EVENT_FIELD_TIMESTAMP);
        if (ts && ts->kind == VALUE_TIMESTAMP)
            return ts->u.ts;
    }
    return sl_now_wall_ns();
}

static int report_missing(const template *t, const event *e, sl_error *err)
{
    buf names = BUF_INIT;
    size_t count = 0;
    for (size_t i = 0; i < t->n; i++) {
        const part *p = &t->parts[i];
        if (p->kind != PART_FIELD)
            continue;
        buf probe = BUF_INIT;
        int missing = render_field(&probe, p, e);
        buf_free(&probe);
        if (missing != 1)
            continue;
        buf_printf(&names, "%s\"%s\"", count ? ", " : "", p->text);
        count++;
    }
    sl_fail(err, "missing field%s %s", count > 1 ? "s" : "", names.data ? names.data : "");
    buf_free(&names);
    return -1;
}

int template_render(const template *t, const event *e, buf *out, sl_error *err)
{
    size_t start = out->len;
    sltime_fields when;
    bool have_time = false;
    for (size_t i = 0; i < t->n; i++) {
        const part *p = &t->parts[i];
        int rc;
        switch (p->kind) {
        case PART_LITERAL:
            rc = buf_append(out, p->text, p->len);
            break;
        case PART_FIELD:
            rc = render_field(out, p, e);
            if (rc == 1) {
                truncate_to(out, start);
                return report_missing(t, e, err);
            }
            break;
        default:
            if (!have_time) {
                sltime_fields_from_ns(event_time(e), &when);
                have_time = true;
            }
            rc = sltime_strftime_fields(out, p->text, p->len, &when);
            break;
        }
        if (rc < 0) {
            truncate_to(out, start);
            return sl_fail(err, "out of memory rendering template");
        }
    }
    return buf_reserve(out, 0) < 0 ? sl_fail(err, "out of memory rendering template") : 0;
}

