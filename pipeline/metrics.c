/* metrics.c - the process-wide internal metrics registry (see metrics.h).
 *
 * Registration is a cold path under one mutex; updating a series is one
 * relaxed atomic operation on its handle, with no lock, so components count
 * every batch without contention. Each series sits on its own cache line so
 * that two hot counters bumped by different threads don't false-share.
 *
 * The registry keeps families (one per metric name) sorted by name and each
 * family's series sorted by their sorted label sets. Lookups are binary
 * searches, and rendering walks the arrays in order, which gives a stable
 * exposition with exactly one HELP/TYPE header per name. */
#include "pipeline/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

#define METRICS_PREFIX "sluice_"
#define METRICS_CACHE_LINE 64

typedef struct metrics_family {
    char *name;
    char *help;
    metrics_type type;
    metrics_series **series;   /* sorted by labels */
    size_t nseries, cap;
} metrics_family;

/* A histogram's buckets are kept per bucket (not cumulative) so that an
 * observation is one atomic add; the renderer accumulates them. */
typedef struct metrics_histo {
    size_t nbounds;
    double *bounds;            /* ascending upper bounds; +Inf is implied */
    _Atomic uint64_t *buckets; /* nbounds + 1, the last one above every bound */
    _Atomic uint64_t sum;      /* double bits */
} metrics_histo;

struct metrics_series {
    _Atomic uint64_t value;    /* counter count, or a gauge's double bits */
    metrics_family *family;
    metrics_label *labels;     /* sorted by key; strings owned */
    size_t nlabels;
    metrics_histo *histo;      /* histograms only */
};

static struct {
    pthread_mutex_t lock;
    metrics_family **families; /* sorted by name */
    size_t nfamilies, cap;
    metrics_series *uptime;    /* refreshed at every read of the registry */
    int64_t started_ns;
} registry = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, NULL, 0};

/* ---- values ---- */

static uint64_t double_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

static double bits_double(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

void metrics_add(metrics_series *s, uint64_t n)
{
    if (s)
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void metrics_set(metrics_series *s, double v)
{
    if (s)
        atomic_store_explicit(&s->value, double_bits(v), memory_order_relaxed);
}

void metrics_gauge_add(metrics_series *s, double d)
{
    if (!s)
        return;
    uint64_t old = atomic_load_explicit(&s->value, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->value, &old,
                                                  double_bits(bits_double(old) + d),
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

uint64_t metrics_counter_value(const metrics_series *s)
{
    if (!s)
        return 0;
    return atomic_load_explicit((_Atomic uint64_t *)&s->value, memory_order_relaxed);
}

double metrics_gauge_value(const metrics_series *s)
{
    return bits_double(metrics_counter_value(s));
}

static double series_value(const metrics_series *s)
{
    if (s->family->type == METRICS_COUNTER)
        return (double)metrics_counter_value(s);
    return metrics_gauge_value(s);
}

/* ---- names and labels ---- */

/* Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]*, label names the same without
 * ':' and not starting with "__" (reserved). Refusing anything else at
 * registration keeps the exposition valid whatever callers pass. */
static bool is_valid_name(const char *s, bool colon_ok)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || (colon_ok && c == ':');
        if (!ok)
            return false;
    }
    return true;
}

static bool labels_are_valid(const metrics_label *labels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_valid_name(labels[i].key, false) || !labels[i].value)
            return false;
        if (strncmp(labels[i].key, "__", 2) == 0)
            return false;
    }
    return true;
}

static int label_cmp(const void *a, const void *b)
{
    const metrics_label *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

static int labels_cmp(const metrics_label *a, size_t na, const metrics_label *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++) {
        int c = label_cmp(&a[i], &b[i]);
        if (c)
            return c;
    }
    return (na > nb) - (na < nb);
}

static bool labels_have_duplicate_key(const metrics_label *sorted, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(sorted[i - 1].key, sorted[i].key) == 0)
            return true;
    return false;
}

static void labels_free(metrics_label *labels, size_t n)
{
    if (!labels)
        return;
    for (size_t i = 0; i < n; i++) {
        free((char *)labels[i].key);
        free((char *)labels[i].value);
    }
    free(labels);
}

static metrics_label *labels_copy(const metrics_label *src, size_t n)
{
    metrics_label *dst = calloc(n ? n : 1, sizeof(*dst));
    if (!dst)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        dst[i].key = strdup(src[i].key);
        dst[i].value = strdup(src[i].value);
        if (!dst[i].key || !dst[i].value) {
            labels_free(dst, i + 1);
            return NULL;
        }
    }
    return dst;
}

/* ---- registry (callers hold the lock) ---- */

/* Index of name, or where it would be inserted (with *found false). */
static int family_cmp(const void *elem, const void *key)
{
    return strcmp((*(metrics_family *const *)elem)->name, key);
}

static size_t family_position(const char *name, bool *found)
{
    return sl_bsearch(registry.families, registry.nfamilies, sizeof(*registry.families),
                      name, family_cmp, found);
}

typedef struct label_set {
    const metrics_label *labels;
    size_t n;
} label_set;

static int series_cmp(const void *elem, const void *key)
{
    const metrics_series *s = *(metrics_series *const *)elem;
    const label_set *k = key;
    return labels_cmp(s->labels, s->nlabels, k->labels, k->n);
}

static size_t series_position(const metrics_family *f, const metrics_label *labels,
                              size_t n, bool *found)
{
    label_set k = {labels, n};
    return sl_bsearch(f->series, f->nseries, sizeof(*f->series), &k, series_cmp, found);
}

static void ptr_array_insert(void **items, size_t *n, size_t at, void *item)
{
    memmove(&items[at + 1], &items[at], (*n - at) * sizeof(*items));
    items[at] = item;
    (*n)++;
}

static void histo_free(metrics_histo *h)
{
    if (!h)
        return;
    free(h->bounds);
    free((void *)h->buckets);
    free(h);
}

static void family_free(metrics_family *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nseries; i++) {
        histo_free(f->series[i]->histo);
        labels_free(f->series[i]->labels, f->series[i]->nlabels);
        free(f->series[i]);
    }
    free(f->series);
    free(f->name);
    free(f->help);
    free(f);
}

static metrics_family *family_find_or_add(const char *name, const char *help,
                                          metrics_type type)
{
    bool found;
    size_t at = family_position(name, &found);
    if (found)
        return registry.families[at]->type == type ? registry.families[at] : NULL;

    if (SL_GROW(registry.families, registry.nfamilies, registry.cap, 8) < 0)
        return NULL;
    metrics_family *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->type = type;
    f->name = strdup(name);
    /* promtool lints a missing HELP, so a series always gets one. */
    f->help = strdup(help && *help ? help : name);
    if (!f->name || !f->help) {
        family_free(f);
        return NULL;
    }
    ptr_array_insert((void **)registry.families, &registry.nfamilies, at, f);
    return f;
}

static metrics_series *series_new(metrics_family *f, const metrics_label *sorted, size_t n)
{
    size_t size = (sizeof(metrics_series) + METRICS_CACHE_LINE - 1) /
                  METRICS_CACHE_LINE * METRICS_CACHE_LINE;
    metrics_series *s = aligned_alloc(METRICS_CACHE_LINE, size);
    if (!s)
        return NULL;
    memset(s, 0, size);
    s->labels = labels_copy(sorted, n);
    if (!s->labels) {
        free(s);
        return NULL;
    }
    s->nlabels = n;
    s->family = f;
    atomic_init(&s->value, f->type == METRICS_GAUGE ? double_bits(0.0) : 0);
    return s;
}

static void family_drop_if_empty(metrics_family *f)
{
    if (f->nseries)
        return;
    bool found;
    size_t at = family_position(f->name, &found);
    if (!found)
        return;
    memmove(&registry.families[at], &registry.families[at + 1],
            (registry.nfamilies - at - 1) * sizeof(*registry.families));
    registry.nfamilies--;
    family_free(f);
}

static metrics_series *registry_series(const char *name, const char *help, metrics_type type,
                                       const metrics_label *sorted, size_t n)
{
    metrics_family *f = family_find_or_add(name, help, type);
    if (!f)
        return NULL;
    bool found;
    size_t at = series_position(f, sorted, n, &found);
    if (found)
        return f->series[at];

    metrics_series *s = NULL;
    if (SL_GROW(f->series, f->nseries, f->cap, 8) == 0)
        s = series_new(f, sorted, n);
    if (!s) {
        family_drop_if_empty(f);
        return NULL;
    }
    ptr_array_insert((void **)f->series, &f->nseries, at, s);
    return s;
}

static metrics_series *metrics_register(const char *name, const char *help, metrics_type type,
                                        const metrics_label *labels, size_t nlabels)
{
    if (!is_valid_name(name, true) || (nlabels && !labels) || !labels_are_valid(labels, nlabels))
        return NULL;

    metrics_label stack[16];
    metrics_label *sorted = stack;
    if (nlabels > SL_ARRAY_LEN(stack)) {
        sorted = malloc(nlabels * sizeof(*sorted));
        if (!sorted)
            return NULL;
    }
    if (nlabels)
        memcpy(sorted, labels, nlabels * sizeof(*sorted));
    qsort(sorted, nlabels, sizeof(*sorted), label_cmp);

    metrics_series *s = NULL;
    if (!labels_have_duplicate_key(sorted, nlabels)) {
        pthread_mutex_lock(&registry.lock);
        s = registry_series(name, help, type, sorted, nlabels);
        pthread_mutex_unlock(&registry.lock);
    }
    if (sorted != stack)
        free(sorted);
    return s;
}

metrics_series *metrics_counter(const char *name, const char *help,
                                const metrics_label *labels, size_t nlabels)
{
    return metrics_register(name, help, METRICS_COUNTER, labels, nlabels);
}

metrics_series *metrics_gauge(const char *name, const char *help,
                              const metrics_label *labels, size_t nlabels)
{
    return metrics_register(name, help, METRICS_GAUGE, labels, nlabels);
}

static metrics_histo *histo_new(const double *bounds, size_t n)
{
    metrics_histo *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->nbounds = n;
    h->bounds = malloc((n ? n : 1) * sizeof(*h->bounds));
    h->buckets = calloc(n + 1, sizeof(*h->buckets));
    if (!h->bounds || !h->buckets) {
        histo_free(h);
        return NULL;
    }
    if (n)
        memcpy(h->bounds, bounds, n * sizeof(*bounds));
    for (size_t i = 0; i <= n; i++)
        atomic_init(&h->buckets[i], 0);
    atomic_init(&h->sum, double_bits(0.0));
    return h;
}

static bool bounds_are_valid(const double *bounds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
            return false;
    return n == 0 || bounds != NULL;
}

metrics_series *metrics_histogram(const char *name, const char *help,
                                  const metrics_label *labels, size_t nlabels,
                                  const double *bounds, size_t nbounds)
{
    if (!bounds_are_valid(bounds, nbounds))
        return NULL;
    metrics_series *s = metrics_register(name, help, METRICS_HISTOGRAM, labels, nlabels);
    if (!s)
        return NULL;
    /* The series is visible in the registry before its buckets exist: the
     * renderer skips a histogram series without them. */
    pthread_mutex_lock(&registry.lock);
    if (!s->histo)
        s->histo = histo_new(bounds, nbounds);
    metrics_histo *h = s->histo;
    pthread_mutex_unlock(&registry.lock);
    return h ? s : NULL;
}

void metrics_observe(metrics_series *s, double v)
{
    if (!s || !s->histo || isnan(v))
        return;
    metrics_histo *h = s->histo;
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&h->sum, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&h->sum, &old, double_bits(bits_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void metrics_reset(void)
{
    pthread_mutex_lock(&registry.lock);
    for (size_t i = 0; i < registry.nfamilies; i++)
        family_free(registry.families[i]);
    free(registry.families);
    registry.families = NULL;
    registry.nfamilies = registry.cap = 0;
    registry.uptime = NULL;
    pthread_mutex_unlock(&registry.lock);
}

/* ---- process metrics ---- */

static const char *build_arch(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#elif defined(__i386__)
    return "x86";
#elif defined(__arm__)
    return "arm";
#else
    return "unknown";
#endif
}

int metrics_register_process(void)
{
    const metrics_label build[] = {
        {"arch", build_arch()},
        {"version", SLUICE_VERSION},
    };
    metrics_series *info = metrics_gauge("build_info", "Build information about this sluice binary.",
                                         build, SL_ARRAY_LEN(build));
    metrics_series *uptime = metrics_gauge("uptime_seconds",
                                           "Seconds since the process started its pipeline.",
                                           NULL, 0);
    if (!info || !uptime)
        return -1;
    metrics_set(info, 1.0);

    pthread_mutex_lock(&registry.lock);
    if (registry.uptime != uptime) {
        registry.uptime = uptime;
        registry.started_ns = sl_now_mono_ns();
    }
    pthread_mutex_unlock(&registry.lock);
    return 0;
}

/* Called with the lock held before every read of the whole registry, so
 * uptime is current for both the scrape and the internal_metrics source. */
static void refresh_uptime(void)
{
    if (registry.uptime)
        metrics_set(registry.uptime, (double)(sl_now_mono_ns() - registry.started_ns) / 1e9);
}

/* ---- reading ---- */

void metrics_foreach(metrics_visit_fn fn, void *ud)
{
    pthread_mutex_lock(&registry.lock);
    refresh_uptime();
    for (size_t i = 0; i < registry.nfamilies; i++) {
        const metrics_family *f = registry.families[i];
        if (f->type == METRICS_HISTOGRAM)
            continue;
        for (size_t j = 0; j < f->nseries; j++) {
            const metrics_series *s = f->series[j];
            fn(ud, f->name, f->type, s->labels, s->nlabels, series_value(s));
        }
    }
    pthread_mutex_unlock(&registry.lock);
}

/* HELP text escapes backslash and newline; label values also escape '"'. */
static int append_escaped(buf *out, const char *s, bool quote)
{
    for (const char *p = s; *p; p++) {
        int rc;
        if (*p == '\\')
            rc = buf_append(out, "\\\\", 2);
        else if (*p == '\n')
            rc = buf_append(out, "\\n", 2);
        else if (quote && *p == '"')
            rc = buf_append(out, "\\\"", 2);
        else
            rc = buf_append_char(out, *p);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Go's formatting, which Prometheus parses: NaN, +Inf, -Inf, and the
 * shortest decimal that reads back as the same double. */
static int append_double(buf *out, double v)
{
    if (isnan(v))
        return buf_append_str(out, "NaN");
    if (isinf(v))
        return buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof(tmp), "%.17g", v);
    return buf_append_str(out, tmp);
}

/* name{labels} (with `suffix` after the name and an extra `le` label when
 * given), then a space. */
static int render_name(buf *out, const metrics_family *f, const metrics_series *s,
                       const char *suffix, const char *le)
{
    if (buf_printf(out, METRICS_PREFIX "%s%s", f->name, suffix ? suffix : "") < 0)
        return -1;
    if (s->nlabels || le) {
        if (buf_append_char(out, '{') < 0)
            return -1;
        for (size_t i = 0; i < s->nlabels; i++) {
            if (buf_printf(out, "%s%s=\"", i ? "," : "", s->labels[i].key) < 0 ||
                append_escaped(out, s->labels[i].value, true) < 0 ||
                buf_append_char(out, '"') < 0)
                return -1;
        }
        if (le && buf_printf(out, "%sle=\"%s\"", s->nlabels ? "," : "", le) < 0)
            return -1;
        if (buf_append_char(out, '}') < 0)
            return -1;
    }
    return buf_append_char(out, ' ');
}

/* Cumulative buckets from one snapshot of the counts, so that +Inf and
 * _count agree even while observations land. */
static int render_histogram(buf *out, const metrics_family *f, const metrics_series *s)
{
    const metrics_histo *h = s->histo;
    if (!h)
        return 0;
    uint64_t total = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        total += atomic_load_explicit((_Atomic uint64_t *)&h->buckets[i], memory_order_relaxed);
        buf le = BUF_INIT;
        int rc = i < h->nbounds ? append_double(&le, h->bounds[i]) : buf_append_str(&le, "+Inf");
        if (rc == 0)
            rc = render_name(out, f, s, "_bucket", le.data);
        buf_free(&le);
        if (rc < 0 || buf_printf(out, "%llu\n", (unsigned long long)total) < 0)
            return -1;
    }
    double sum = bits_double(atomic_load_explicit((_Atomic uint64_t *)&h->sum,
                                                  memory_order_relaxed));
    if (render_name(out, f, s, "_sum", NULL) < 0 || append_double(out, sum) < 0 ||
        buf_append_char(out, '\n') < 0 || render_name(out, f, s, "_count", NULL) < 0 ||
        buf_printf(out, "%llu\n", (unsigned long long)total) < 0)
        return -1;
    return 0;
}

static int render_series(buf *out, const metrics_family *f, const metrics_series *s)
{
    if (f->type == METRICS_HISTOGRAM)
        return render_histogram(out, f, s);
    if (render_name(out, f, s, NULL, NULL) < 0)
        return -1;
    int rc = f->type == METRICS_COUNTER
                 ? buf_printf(out, "%llu", (unsigned long long)metrics_counter_value(s))
                 : append_double(out, metrics_gauge_value(s));
    if (rc < 0)
        return -1;
    return buf_append_char(out, '\n');
}

static int render_family(buf *out, const metrics_family *f)
{
    if (buf_printf(out, "# HELP " METRICS_PREFIX "%s ", f->name) < 0 ||
        append_escaped(out, f->help, false) < 0 ||
        buf_printf(out, "\n# TYPE " METRICS_PREFIX "%s %s\n", f->name,
                   f->type == METRICS_COUNTER   ? "counter"
                   : f->type == METRICS_GAUGE ? "gauge"
                                              : "histogram") < 0)
        return -1;
    for (size_t i = 0; i < f->nseries; i++)
        if (render_series(out, f, f->series[i]) < 0)
            return -1;
    return 0;
}

int metrics_render_prometheus(buf *out)
{
    int rc = 0;
    pthread_mutex_lock(&registry.lock);
    refresh_uptime();
    for (size_t i = 0; i < registry.nfamilies && rc == 0; i++)
        rc = render_family(out, registry.families[i]);
    pthread_mutex_unlock(&registry.lock);
    return rc;
}

/* ---- per-component series ---- */

static void component_labels(const component_metrics *m, metrics_label *labels)
{
    labels[0] = (metrics_label){"component_id", m->id};
    labels[1] = (metrics_label){"component_kind", m->kind};
    labels[2] = (metrics_label){"component_type", m->type};
}

static metrics_series *component_counter(const component_metrics *m, const char *name,
                                         const char *help, const char *key, const char *value)
{
    metrics_label labels[4];
    component_labels(m, labels);
    size_t n = 3;
    if (key)
        labels[n++] = (metrics_label){key, value};
    return metrics_counter(name, help, labels, n);
}

static metrics_series *component_gauge(const component_metrics *m, const char *name,
                                       const char *help)
{
    metrics_label labels[3];
    component_labels(m, labels);
    return metrics_gauge(name, help, labels, 3);
}

int component_metrics_init(component_metrics *m, const char *id,
                           const char *kind, const char *type, sl_error *err)
{
    memset(m, 0, sizeof(*m));
    m->id = id;
    m->kind = kind;
    m->type = type;
    if (!id || !kind || !type)
        return sl_fail(err, "component metrics need an id, a kind and a type");

    m->received_events = component_counter(m, "component_received_events_total",
        "The number of events accepted by this component.", NULL, NULL);
    m->received_bytes = component_counter(m, "component_received_event_bytes_total",
        "The estimated JSON byte size of the events accepted by this component.", NULL, NULL);
    m->sent_events = component_counter(m, "component_sent_events_total",
        "The number of events emitted by this component.", NULL, NULL);
    m->sent_bytes = component_counter(m, "component_sent_event_bytes_total",
        "The estimated JSON byte size of the events emitted by this component.", NULL, NULL);
    m->discarded_intentional = component_counter(m, "component_discarded_events_total",
        "The number of events dropped by this component.", "intentional", "true");
    m->discarded_error = component_counter(m, "component_discarded_events_total",
        "The number of events dropped by this component.", "intentional", "false");
    bool ok = m->received_events && m->received_bytes && m->sent_events && m->sent_bytes &&
              m->discarded_intentional && m->discarded_error;

    if (strcmp(kind, "source") == 0) {
        m->received_raw_bytes = component_counter(m, "component_received_bytes_total",
            "The number of raw bytes this source read before decoding them.", NULL, NULL);
        ok = ok && m->received_raw_bytes;
    }
    bool is_sink = strcmp(kind, "sink") == 0;
    if (is_sink) {
        m->buffer_events = component_gauge(m, "buffer_size_events",
            "The number of events in the sink's input buffer.");
        m->buffer_bytes = component_gauge(m, "buffer_size_bytes",
            "The number of bytes in the sink's input buffer.");
        ok = ok && m->buffer_events && m->buffer_bytes;
    }
    if (is_sink || strcmp(kind, "transform") == 0) {
        m->utilization = component_gauge(m, "utilization",
            "The fraction of time the component spent busy, from 0 to 1.");
        ok = ok && m->utilization;
    }
    if (!ok)
        return sl_fail(err, "cannot register the internal metrics of component %s "
                       "(out of memory or a metric name clash)", id);
    return 0;
}

void component_metrics_error(const component_metrics *m, const char *error_type,
                             const char *stage, uint64_t n)
{
    if (!m || !m->id || !error_type || !stage)
        return;
    metrics_label labels[5];
    component_labels(m, labels);
    labels[3] = (metrics_label){"error_type", error_type};
    labels[4] = (metrics_label){"stage", stage};
    metrics_add(metrics_counter("component_errors_total",
                                "The number of errors encountered by this component.",
                                labels, 5),
                n);
}

metrics_series *component_metrics_extra(const component_metrics *m,
                                        const char *name, metrics_type type,
                                        const char *help)
{
    if (!m || !m->id)
        return NULL;
    if (type == METRICS_COUNTER)
        return component_counter(m, name, help, NULL, NULL);
    return component_gauge(m, name, help);
}
