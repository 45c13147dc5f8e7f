/* diag.c - the list of configuration problems (see diag.h).
 *
 * Loading goes on after a problem so that one run names them all; this list
 * is where they collect. Running out of memory must not lose the fact that
 * something failed, so when a diagnostic can't be stored in full it is
 * stored as an "out of memory" error from static storage instead. */
#include "config/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char diag_oom_text[] = "out of memory";

/* Stands in for the whole array when not even one slot can be allocated. */
static diag diag_oom_only = {DIAG_ERROR, NULL, 0, NULL, diag_oom_text};

static bool list_is_oom_only(const diag_list *l)
{
    return l->items == &diag_oom_only;
}

static void diag_free_strings(diag *d)
{
    free(d->file);
    free(d->component);
    if (d->msg != diag_oom_text)
        free(d->msg);
    d->file = d->component = NULL;
    d->msg = diag_oom_text;
}

static void record_out_of_memory(diag_list *l)
{
    if (list_is_oom_only(l))
        return;
    if (l->n == 0) {
        l->items = &diag_oom_only;
        l->n = 1;
        l->cap = 0;
        return;
    }
    /* The last entry gives way so the failure is still counted. */
    diag *last = &l->items[l->n - 1];
    diag_free_strings(last);
    last->level = DIAG_ERROR;
    last->line = 0;
}

static diag *diag_slot(diag_list *l)
{
    if (list_is_oom_only(l))
        return NULL;
    if (SL_GROW(l->items, l->n, l->cap, 8) < 0)
        return NULL;
    return &l->items[l->n];
}

static char *dup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        *failed = true;
    return copy;
}

static void diag_vadd(diag_list *l, diag_level level, const char *file, int line,
                      const char *component, const char *fmt, va_list ap)
{
    diag *d = diag_slot(l);
    if (!d) {
        record_out_of_memory(l);
        return;
    }
    buf msg = BUF_INIT;
    bool failed = buf_vprintf(&msg, fmt, ap) < 0;
    d->level = level;
    d->file = dup_or_null(file, &failed);
    d->line = file ? line : 0;
    d->component = dup_or_null(component, &failed);
    d->msg = failed ? NULL : buf_detach(&msg);
    buf_free(&msg);
    if (!d->msg) {
        diag_free_strings(d);
        d->level = DIAG_ERROR;
        d->line = 0;
    }
    l->n++;
}

void diag_add(diag_list *l, diag_level level, const cfg_node *where,
              const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(l, level, where ? where->file : NULL, where ? where->line : 0,
              component, fmt, ap);
    va_end(ap);
}

void diag_add_at(diag_list *l, diag_level level, const char *file, int line,
                 const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(l, level, file, line, component, fmt, ap);
    va_end(ap);
}

size_t diag_errors(const diag_list *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].level == DIAG_ERROR)
            n++;
    return n;
}

int diag_format(const diag *d, buf *out)
{
    if (d->file) {
        if (buf_append_str(out, d->file) < 0)
            return -1;
        if (d->line > 0 && buf_printf(out, ":%d", d->line) < 0)
            return -1;
        if (buf_append_str(out, ": ") < 0)
            return -1;
    }
    if (d->component && buf_printf(out, "%s: ", d->component) < 0)
        return -1;
    return buf_append_str(out, d->msg);
}

void diag_list_free(diag_list *l)
{
    if (!list_is_oom_only(l)) {
        for (size_t i = 0; i < l->n; i++)
            diag_free_strings(&l->items[i]);
        free(l->items);
    }
    l->items = NULL;
    l->n = l->cap = 0;
}
