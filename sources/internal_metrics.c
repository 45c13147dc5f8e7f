/* internal_metrics.c - the `internal_metrics` source: the process's own
 * metrics registry as a stream of metric events, like Vector's source of the
 * same name.
 *
 * Every scrape_interval_secs it emits one event per registered series:
 * counters as absolute counters (Vector emits its internal counters that
 * way), gauges as absolute gauges, named without the `sluice_` prefix, in the
 * configured namespace, tagged with the series labels plus the host (and the
 * pid when tags.pid_key is set), timestamped at the scrape.
 *
 * A scrape first copies the registry into a private snapshot and only then
 * builds and emits batches: emitting can block on a full consumer, and doing
 * that inside metrics_foreach would hold the registry lock, stalling every
 * component that registers a series (errors register on demand). */
#include "pipeline/component.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/arena.h"
#include "pipeline/log.h"

#define SCRAPE_MAX_INTERVAL_SECS (365.0 * 24 * 3600)

typedef struct internal_metrics_options {
    double scrape_interval_secs;
    char *namespace_;
    char *host_key;
    char *pid_key;
} internal_metrics_options;

static const opt_spec tags_options[] = {
    OPT_STRING_ROW("host_key", internal_metrics_options, host_key, .def = "host",
        .help = "Tag that carries the host name; empty for none."),
    OPT_STRING_ROW("pid_key", internal_metrics_options, pid_key,
        .help = "Tag that carries the process id; none unless set."),
    OPT_END,
};

static const opt_spec internal_metrics_table[] = {
    OPT_FLOAT_ROW("scrape_interval_secs", internal_metrics_options, scrape_interval_secs,
        OPT_RANGE(0.001, SCRAPE_MAX_INTERVAL_SECS), .unit = "seconds",
        .def = "1.0", .help = "Seconds between two scrapes of the internal metrics."),
    OPT_STRING_ROW("namespace", internal_metrics_options, namespace_, .def = "sluice",
        .help = "Namespace of the emitted metrics; empty for none."),
    OPT_OBJECT_ROW("tags", tags_options, .help = "Tags added to every metric."),
    OPT_END,
};

typedef struct internal_metrics {
    int64_t interval_ns;
    const char *namespace_;   /* NULL when empty */
    const char *host_key;     /* NULL when empty */
    const char *pid_key;      /* NULL when unset or empty */
    char pid[24];
} internal_metrics;

/* One series as read from the registry; strings live in the snapshot's arena. */
typedef struct sample {
    const char *name;
    metrics_type type;
    metric_tag *labels;
    size_t nlabels;
    double value;
} sample;

typedef struct snapshot {
    arena *strings;
    sample *items;
    size_t n, cap;
    bool failed;
} snapshot;

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static int internal_metrics_build(const void *options, const component_info *info,
                                  void **state, sl_error *err)
{
    SL_UNUSED(info);
    const internal_metrics_options *o = options;
    internal_metrics *im = calloc(1, sizeof(*im));
    if (!im)
        return sl_fail(err, "out of memory");
    im->interval_ns = (int64_t)(o->scrape_interval_secs * 1e9);
    im->namespace_ = nonempty(o->namespace_);
    im->host_key = nonempty(o->host_key);
    im->pid_key = nonempty(o->pid_key);
    snprintf(im->pid, sizeof(im->pid), "%ld", (long)getpid());
    *state = im;
    return 0;
}

static void internal_metrics_destroy(void *state)
{
    free(state);
}

/* ---- snapshot (runs under the registry lock: no registration here) ---- */

static const char *snapshot_str(snapshot *s, const char *text)
{
    return arena_strndup(s->strings, text, strlen(text));
}

static sample *snapshot_push(snapshot *s)
{
    if (SL_GROW(s->items, s->n, s->cap, 64) < 0)
        return NULL;
    return &s->items[s->n++];
}

static void snapshot_add(void *ud, const char *name, metrics_type type,
                         const metrics_label *labels, size_t nlabels, double v)
{
    snapshot *s = ud;
    if (s->failed)
        return;
    sample *x = snapshot_push(s);
    metric_tag *tags = nlabels ? arena_alloc(s->strings, nlabels * sizeof(*tags)) : NULL;
    if (!x || (nlabels && !tags) || !(x->name = snapshot_str(s, name))) {
        s->failed = true;
        return;
    }
    for (size_t i = 0; i < nlabels; i++) {
        tags[i].key = snapshot_str(s, labels[i].key);
        tags[i].value = snapshot_str(s, labels[i].value);
        if (!tags[i].key || !tags[i].value) {
            s->failed = true;
            return;
        }
    }
    x->type = type;
    x->labels = tags;
    x->nlabels = nlabels;
    x->value = v;
}

static void snapshot_free(snapshot *s)
{
    free(s->items);
    arena_free(s->strings);
}

/* ---- events ---- */

static int fill_event(const internal_metrics *im, arena *a, event *e, const sample *x,
                      int64_t now)
{
    if (event_init_metric(a, e, x->name, im->namespace_) < 0)
        return -1;
    metric *m = e->u.metric;
    m->kind = METRIC_ABSOLUTE;
    if (x->type == METRICS_COUNTER) {
        m->type = METRIC_COUNTER;
        m->v.counter = x->value;
    } else {
        m->type = METRIC_GAUGE;
        m->v.gauge = x->value;
    }
    m->has_timestamp = true;
    m->timestamp = now;
    for (size_t i = 0; i < x->nlabels; i++)
        if (event_metric_set_tag(a, e, x->labels[i].key, x->labels[i].value) < 0)
            return -1;
    if (im->host_key && event_metric_set_tag(a, e, im->host_key, sl_hostname()) < 0)
        return -1;
    if (im->pid_key && event_metric_set_tag(a, e, im->pid_key, im->pid) < 0)
        return -1;
    return 0;
}

static void report_out_of_memory(source_ctx *ctx)
{
    component_metrics_error(source_metrics(ctx), "out_of_memory", "processing", 1);
    slog_error(source_id(ctx), "out of memory while scraping internal metrics; "
               "this scrape is incomplete");
}

/* Turns the snapshot into batches and emits them. -1 once the pipeline is
 * stopping. Running out of memory ends the scrape early, counted and logged:
 * what was built still goes out. */
static int emit_snapshot(const internal_metrics *im, source_ctx *ctx, const snapshot *s)
{
    int64_t now = sl_now_wall_ns();
    batch *b = NULL;
    for (size_t i = 0; i < s->n; i++) {
        event *e = b ? batch_push(b) : NULL;
        if (!e) {
            if (b && source_emit(ctx, b) < 0)
                return -1;
            b = source_batch_new(ctx, NULL);
            e = b ? batch_push(b) : NULL;
        }
        if (!e || fill_event(im, b->arena, e, &s->items[i], now) < 0) {
            if (e)
                batch_pop(b);
            report_out_of_memory(ctx);
            break;
        }
    }
    return b ? source_emit(ctx, b) : 0;
}

static int scrape(const internal_metrics *im, source_ctx *ctx)
{
    snapshot s = {arena_new(), NULL, 0, 0, false};
    if (!s.strings) {
        report_out_of_memory(ctx);
        return 0;
    }
    metrics_foreach(snapshot_add, &s);
    int rc = 0;
    if (s.failed)
        report_out_of_memory(ctx);
    else
        rc = emit_snapshot(im, ctx, &s);
    snapshot_free(&s);
    return rc;
}

static int internal_metrics_run(void *state, source_ctx *ctx, sl_error *err)
{
    SL_UNUSED(err);
    const internal_metrics *im = state;
    /* Ticks are on a fixed schedule from the start, so a slow scrape doesn't
     * drift the series; missed ticks are skipped, not caught up in a burst. */
    int64_t next = sl_now_mono_ns();
    while (!source_stopping(ctx)) {
        if (scrape(im, ctx) < 0)
            break;
        int64_t now = sl_now_mono_ns();
        next += im->interval_ns;
        if (next < now)
            next = now;
        if (source_sleep_ms(ctx, (next - now + 999999) / 1000000) < 0)
            break;
    }
    return 0;
}

const component_desc source_internal_metrics_desc = {
    .type = "internal_metrics",
    .kind = COMPONENT_SOURCE,
    .summary = "Emits the process's own metrics as metric events.",
    .options = internal_metrics_table,
    .options_size = sizeof(internal_metrics_options),
    .output_types = EVENT_METRIC,
    .build = internal_metrics_build,
    .destroy = internal_metrics_destroy,
    .source_run = internal_metrics_run,
};
