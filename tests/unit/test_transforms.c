/* test_transforms.c - the counting and state-keeping transforms on batches
 * built by hand: sample (rate, ratio, key_field, exclude, the counter across
 * batches), dedupe (default and custom fields, ignore, type-sensitive
 * equality, eviction), throttle (burst, refill, keys, exclude),
 * log_to_metric (every type, all-or-none, errors counted), the LRU table
 * they share, and filter on literal conditions. Each transform is loaded
 * from YAML through the real config code and driven through its
 * descriptor; route and remap's outputs go through the runtime and are
 * covered end to end (tests/e2e/test_transforms.py). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "pipeline/topology.h"
#include "pipeline/component.h"
#include "transforms/lru.h"

/* ---- a transform loaded from YAML ---- */

typedef struct xf {
    sl_config *cfg;
    const component_config *cc;
    component_metrics metrics;
    void *state;
} xf;

/* Loads `body` (the options of transform `t`, indented by 4) and builds it. */
static void xf_open(xf *x, const char *type, const char *body)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "sources:\n  in:\n    type: stdin\n"
             "transforms:\n  t:\n    type: %s\n    inputs: [in]\n%s"
             "sinks:\n  out:\n    type: blackhole\n    inputs: [t]\n",
             type, body);
    diag_list d = DIAG_LIST_INIT;
    metrics_reset();
    x->cfg = config_load_text("t.yaml", text, strlen(text), &registry_catalog, &d);
    if (!x->cfg && d.n)
        fail_msg("%s", d.items[0].msg);
    diag_list_free(&d);
    assert_non_null(x->cfg);
    x->cc = config_find(x->cfg, "t");
    assert_non_null(x->cc);
    sl_error err = {{0}};
    assert_int_equal(component_metrics_init(&x->metrics, "t", "transform", type, &err), 0);
    component_info info = {"t", "/tmp", &x->metrics, false, NULL, 0};
    if (x->cc->desc->build(x->cc->options, &info, &x->state, &err) < 0)
        fail_msg("build: %s", err.msg);
}

static void xf_close(xf *x)
{
    if (x->cc->desc->destroy)
        x->cc->desc->destroy(x->state);
    config_free(x->cfg);
    metrics_reset();
}

/* The config must be refused, by its loader or by the topology (which
 * compiles programs against the declared fields), with a message
 * containing `expected`. */
static void assert_refused(const char *type, const char *body, const char *expected)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "sources:\n  in:\n    type: stdin\n"
             "transforms:\n  t:\n    type: %s\n    inputs: [in]\n%s"
             "sinks:\n  out:\n    type: blackhole\n    inputs: [t]\n",
             type, body);
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = config_load_text("t.yaml", text, strlen(text), &registry_catalog, &d);
    if (cfg) {
        topology *t = topo_build(cfg, &d);
        assert_null(t);
        config_free(cfg);
    }
    bool found = false;
    for (size_t i = 0; i < d.n && !found; i++)
        found = strstr(d.items[i].msg, expected) != NULL;
    if (!found)
        fail_msg("no message containing \"%s\" (first: %s)", expected,
                 d.n ? d.items[0].msg : "none");
    diag_list_free(&d);
}

static void run(xf *x, batch *b)
{
    sl_error err = {{0}};
    if (x->cc->desc->transform_process(x->state, b, NULL, &err) < 0)
        fail_msg("process: %s", err.msg);
}

static uint64_t discarded(const xf *x, bool intentional)
{
    return metrics_counter_value(intentional ? x->metrics.discarded_intentional
                                             : x->metrics.discarded_error);
}

static uint64_t errors(const char *type, const char *error_type)
{
    metrics_label labels[] = {
        {"component_id", "t"}, {"component_kind", "transform"}, {"component_type", type},
        {"error_type", error_type}, {"stage", "processing"},
    };
    return metrics_counter_value(metrics_counter("component_errors_total", "", labels, 5));
}

/* ---- batches ---- */

static value str(batch *b, const char *s)
{
    return value_bytes(arena_strndup(b->arena, s, strlen(s)), strlen(s));
}

/* A log with field n = i and, when given, message. */
static event *push_log(batch *b, int64_t n, const char *message)
{
    event *e = batch_push(b);
    assert_non_null(e);
    assert_int_equal(event_init_log(b->arena, e, 4), 0);
    assert_int_equal(event_log_set(b->arena, e, "n", value_int(n)), 0);
    if (message)
        assert_int_equal(event_log_set(b->arena, e, "message", str(b, message)), 0);
    return e;
}

static void set(batch *b, event *e, const char *key, value v)
{
    assert_int_equal(event_log_set(b->arena, e, key, v), 0);
}

static int64_t n_of(const batch *b, uint32_t i)
{
    const value *v = event_log_get(&b->events[i], "n");
    assert_non_null(v);
    return v->u.i;
}

static void assert_ns(const batch *b, const int64_t *expected, size_t n)
{
    assert_int_equal(b->count, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(n_of(b, (uint32_t)i), expected[i]);
}

static void assert_str_field(const event *e, const char *key, const char *expected)
{
    const value *v = event_log_get(e, key);
    assert_non_null(v);
    assert_int_equal(v->kind, VALUE_BYTES);
    assert_int_equal(v->len, strlen(expected));
    assert_memory_equal(v->u.s, expected, v->len);
}

/* ---- sample ---- */

static void test_sample_rate_keeps_first_then_every_nth(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "sample", "    rate: 3\n");
    batch *b = batch_new(0, NULL);
    for (int i = 0; i < 10; i++)
        push_log(b, i, "m");
    run(&x, b);
    int64_t kept[] = {0, 3, 6, 9};
    assert_ns(b, kept, 4);
    for (uint32_t i = 0; i < b->count; i++)
        assert_str_field(&b->events[i], "sample_rate", "3");
    assert_int_equal(discarded(&x, true), 6);
    batch_release(b, ACK_DELIVERED);

    /* The count goes on across batches: 10, 11 are the 11th and 12th. */
    b = batch_new(0, NULL);
    for (int i = 10; i < 13; i++)
        push_log(b, i, "m");
    run(&x, b);
    int64_t kept2[] = {12};
    assert_ns(b, kept2, 1);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_sample_ratio_and_rate_key(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "sample", "    ratio: 0.5\n    sample_rate_key: rate_used\n");
    batch *b = batch_new(0, NULL);
    for (int i = 0; i < 6; i++)
        push_log(b, i, "m");
    run(&x, b);
    int64_t kept[] = {0, 2, 4};
    assert_ns(b, kept, 3);
    assert_str_field(&b->events[0], "rate_used", "0.5");
    assert_null(event_log_get(&b->events[0], "sample_rate"));
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_sample_key_field_keeps_values_together(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "sample", "    rate: 4\n    key_field: message\n");
    batch *b = batch_new(0, NULL);
    const char *keys[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"};
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 8; k++)
            push_log(b, k, keys[k]);
    run(&x, b);
    /* Whatever a key's fate, it is the same in every round. */
    assert_int_equal(b->count % 3, 0);
    uint32_t per_round = b->count / 3;
    for (uint32_t i = 0; i < per_round; i++) {
        assert_int_equal(n_of(b, i), n_of(b, i + per_round));
        assert_int_equal(n_of(b, i), n_of(b, i + 2 * per_round));
    }
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);

    /* Events without the field fall back to the counter. */
    xf_open(&x, "sample", "    rate: 2\n    key_field: missing\n");
    b = batch_new(0, NULL);
    for (int i = 0; i < 4; i++)
        push_log(b, i, "m");
    run(&x, b);
    int64_t kept[] = {0, 2};
    assert_ns(b, kept, 2);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_sample_exclude_always_kept_unmarked(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "sample", "    rate: 100\n    exclude: \"exists(.special)\"\n");
    batch *b = batch_new(0, NULL);
    for (int i = 0; i < 5; i++) {
        event *e = push_log(b, i, "m");
        if (i % 2)
            set(b, e, "special", value_bool(true));
    }
    run(&x, b);
    int64_t kept[] = {0, 1, 3};
    assert_ns(b, kept, 3);
    assert_non_null(event_log_get(&b->events[0], "sample_rate"));
    assert_null(event_log_get(&b->events[1], "sample_rate"));
    assert_int_equal(discarded(&x, true), 2);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_sample_options_refused(void **state)
{
    (void)state;
    assert_refused("sample", "", "exactly one value must be provided for either `rate` or `ratio`");
    assert_refused("sample", "    rate: 2\n    ratio: 0.5\n", "exactly one value");
    assert_refused("sample", "    rate: 0\n", "option \"rate\" must be at least 1");
    assert_refused("sample", "    ratio: 1.5\n", "option \"ratio\" must be above 0 and at most 1");
}

/* ---- dedupe ---- */

static event *push_web(batch *b, int64_t n, const char *message, const char *host, int64_t ts)
{
    event *e = push_log(b, n, message);
    set(b, e, "host", str(b, host));
    set(b, e, "timestamp", value_timestamp(ts));
    return e;
}

static void test_dedupe_default_fields(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "dedupe", "");
    batch *b = batch_new(0, NULL);
    push_web(b, 0, "a", "h1", 1);
    push_web(b, 1, "a", "h1", 1);      /* same message, host, timestamp */
    push_web(b, 2, "a", "h2", 1);
    push_web(b, 3, "a", "h1", 2);
    push_web(b, 4, "b", "h1", 1);
    event *e = push_web(b, 5, "a", "h1", 1);
    set(b, e, "other", value_int(7)); /* other fields don't count */
    run(&x, b);
    int64_t kept[] = {0, 2, 3, 4};
    assert_ns(b, kept, 4);
    assert_int_equal(discarded(&x, true), 2);
    batch_release(b, ACK_DELIVERED);

    /* The cache outlives the batch. */
    b = batch_new(0, NULL);
    push_web(b, 6, "b", "h1", 1);
    push_web(b, 7, "c", "h1", 1);
    run(&x, b);
    int64_t kept2[] = {7};
    assert_ns(b, kept2, 1);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_dedupe_match_compares_types(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "dedupe", "    fields:\n      match: [a, b.c]\n");
    batch *b = batch_new(0, NULL);
    event *e = push_log(b, 0, "x");
    set(b, e, "a", value_int(1));
    e = push_log(b, 1, "y");
    set(b, e, "a", str(b, "1"));      /* "1" is not 1 */
    e = push_log(b, 2, "z");
    set(b, e, "a", value_int(1));     /* duplicate of 0 */
    e = push_log(b, 3, "w");          /* a missing: a value of its own */
    e = push_log(b, 4, "v");          /* duplicate of 3 */
    value inner = value_new_map(b->arena, 1);
    assert_int_equal(value_map_put_if_absent(b->arena, inner.u.map, "c", value_int(5)), 0);
    e = push_log(b, 5, "u");
    set(b, e, "a", value_int(1));
    set(b, e, "b", inner);            /* b.c differs from 0 */
    run(&x, b);
    int64_t kept[] = {0, 1, 3, 5};
    assert_ns(b, kept, 4);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_dedupe_ignore_fields(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "dedupe", "    fields:\n      ignore: [n, meta]\n");
    batch *b = batch_new(0, NULL);
    event *e = push_log(b, 0, "same");
    set(b, e, "meta", value_int(1));
    e = push_log(b, 1, "same");       /* differs in ignored fields only */
    value inner = value_new_map(b->arena, 1);
    assert_int_equal(value_map_put_if_absent(b->arena, inner.u.map, "deep", value_int(9)), 0);
    set(b, e, "meta", inner);
    e = push_log(b, 2, "same");
    set(b, e, "extra", value_bool(true));
    run(&x, b);
    int64_t kept[] = {0, 2};
    assert_ns(b, kept, 2);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_dedupe_cache_evicts_least_recent(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "dedupe", "    fields:\n      match: [message]\n    cache:\n      num_events: 2\n");
    batch *b = batch_new(0, NULL);
    const char *seq[] = {"a", "b", "a", "c", "b", "a"};
    /* a b | a (dup, refreshed) | c evicts b | b new, evicts a | a new */
    for (int i = 0; i < 6; i++)
        push_log(b, i, seq[i]);
    run(&x, b);
    int64_t kept[] = {0, 1, 3, 4, 5};
    assert_ns(b, kept, 5);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);

    assert_refused("dedupe", "    fields:\n      match: [a]\n      ignore: [b]\n",
                   "give either fields.match or fields.ignore, not both");
    assert_refused("dedupe", "    cache:\n      num_events: 0\n",
                   "option \"cache.num_events\" must be from 1");
}

/* ---- throttle ---- */

static void test_throttle_burst_then_drop(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "throttle", "    threshold: 2\n    window_secs: 60\n");
    batch *b = batch_new(0, NULL);
    for (int i = 0; i < 5; i++)
        push_log(b, i, "m");
    run(&x, b);
    int64_t kept[] = {0, 1};
    assert_ns(b, kept, 2);
    assert_int_equal(discarded(&x, true), 3);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_throttle_keys_and_exclude(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "throttle",
            "    threshold: 1\n    window_secs: 60\n    key_field: \"{{ message }}\"\n"
            "    exclude: \"exists(.vip)\"\n");
    batch *b = batch_new(0, NULL);
    push_log(b, 0, "a");
    push_log(b, 1, "b");
    push_log(b, 2, "a");
    event *e = push_log(b, 3, "a");
    set(b, e, "vip", value_bool(true));
    push_log(b, 4, NULL);               /* no key: one shared bucket */
    push_log(b, 5, NULL);
    run(&x, b);
    int64_t kept[] = {0, 1, 3, 4};
    assert_ns(b, kept, 4);
    assert_int_equal(errors("throttle", "template_failed"), 2);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_throttle_refills(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "throttle", "    threshold: 1\n    window_secs: 0.05\n");
    batch *b = batch_new(0, NULL);
    push_log(b, 0, "m");
    push_log(b, 1, "m");
    run(&x, b);
    assert_int_equal(b->count, 1);
    batch_release(b, ACK_DELIVERED);
    struct timespec ts = {0, 80 * 1000000L};
    nanosleep(&ts, NULL);
    b = batch_new(0, NULL);
    push_log(b, 2, "m");
    push_log(b, 3, "m");
    run(&x, b);
    int64_t kept[] = {2};
    assert_ns(b, kept, 1);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);

    assert_refused("throttle", "    threshold: 0\n    window_secs: 1\n",
                   "option \"threshold\" must be from 1");
    assert_refused("throttle", "    threshold: 1\n    window_secs: 0\n",
                   "option \"window_secs\" must be a number of seconds above 0");
}

/* ---- log_to_metric ---- */

static const metric *metric_at(const batch *b, uint32_t i)
{
    assert_true(i < b->count);
    assert_int_equal(b->events[i].type, EVENT_METRIC);
    return b->events[i].u.metric;
}

static void test_log_to_metric_types_in_order(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "log_to_metric",
            "    metrics:\n"
            "      - {type: counter, field: status, name: responses, namespace: web,\n"
            "         tags: {code: \"{{ status }}\", bare: null}}\n"
            "      - {type: gauge, field: load}\n"
            "      - {type: set, field: user, name: users}\n"
            "      - {type: histogram, field: load, name: h}\n"
            "      - {type: summary, field: load, name: s}\n"
            "      - {type: counter, field: load, name: sum, increment_by_value: true,\n"
            "         kind: absolute}\n");
    batch *b = batch_new(0, NULL);
    for (int i = 0; i < 2; i++) {
        event *e = push_log(b, i, "m");
        set(b, e, "status", value_int(200 + i));
        set(b, e, "load", str(b, i ? "2.5" : "1e3"));
        set(b, e, "user", str(b, i ? "bob" : "ann"));
        set(b, e, "timestamp", value_timestamp(1000 + i));
    }
    run(&x, b);
    assert_int_equal(b->count, 12);
    const metric *m = metric_at(b, 0);
    assert_string_equal(m->name, "responses");
    assert_string_equal(m->namespace_, "web");
    assert_int_equal(m->type, METRIC_COUNTER);
    assert_int_equal(m->kind, METRIC_INCREMENTAL);
    assert_true(m->v.counter == 1.0);
    assert_true(m->has_timestamp);
    assert_int_equal(m->timestamp, 1000);
    assert_int_equal(m->ntags, 2);
    assert_string_equal(m->tags[0].key, "bare");
    assert_null(m->tags[0].value);
    assert_string_equal(m->tags[1].key, "code");
    assert_string_equal(m->tags[1].value, "200");
    m = metric_at(b, 1);
    assert_string_equal(m->name, "load");
    assert_int_equal(m->type, METRIC_GAUGE);
    assert_int_equal(m->kind, METRIC_ABSOLUTE);
    assert_true(m->v.gauge == 1000.0);
    m = metric_at(b, 2);
    assert_int_equal(m->type, METRIC_SET);
    assert_int_equal(m->v.set.n, 1);
    assert_string_equal(m->v.set.values[0], "ann");
    m = metric_at(b, 3);
    assert_int_equal(m->type, METRIC_DISTRIBUTION);
    assert_int_equal(m->v.dist.statistic, METRIC_STAT_HISTOGRAM);
    assert_true(m->v.dist.samples[0].value == 1000.0);
    assert_int_equal(m->v.dist.samples[0].rate, 1);
    m = metric_at(b, 4);
    assert_int_equal(m->v.dist.statistic, METRIC_STAT_SUMMARY);
    m = metric_at(b, 5);
    assert_int_equal(m->kind, METRIC_ABSOLUTE);
    assert_true(m->v.counter == 1000.0);
    m = metric_at(b, 11);
    assert_true(m->v.counter == 2.5);
    assert_int_equal(m->timestamp, 1001);
    assert_string_equal(metric_at(b, 6)->tags[1].value, "201");
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_log_to_metric_all_or_none(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "log_to_metric",
            "    metrics:\n"
            "      - {type: counter, field: a}\n"
            "      - {type: gauge, field: b}\n");
    batch *b = batch_new(0, NULL);
    event *e = push_log(b, 0, "m");
    set(b, e, "a", value_int(1));                 /* b missing: nothing */
    e = push_log(b, 1, "m");
    set(b, e, "a", value_int(1));
    set(b, e, "b", value_null());                 /* b null: nothing */
    e = push_log(b, 2, "m");
    set(b, e, "a", value_int(1));
    set(b, e, "b", str(b, " 12"));                /* not a float: nothing */
    e = push_log(b, 3, "m");
    set(b, e, "a", value_int(1));
    set(b, e, "b", str(b, "0x10"));               /* no hex: nothing */
    e = push_log(b, 4, "m");
    set(b, e, "a", value_int(1));
    set(b, e, "b", value_int(-3));                /* both made */
    run(&x, b);
    assert_int_equal(b->count, 2);
    assert_string_equal(metric_at(b, 0)->name, "a");
    assert_true(metric_at(b, 1)->v.gauge == -3.0);
    assert_int_equal(errors("log_to_metric", "parser_failed"), 3);
    assert_int_equal(errors("log_to_metric", "condition_failed"), 1);
    assert_int_equal(discarded(&x, false), 4);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);
}

static void test_log_to_metric_grows_past_batch_cap(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "log_to_metric",
            "    metrics:\n"
            "      - {type: counter, field: n, name: one}\n"
            "      - {type: counter, field: n, name: two}\n"
            "      - {type: counter, field: n, name: three}\n");
    batch *b = batch_new(4, NULL);
    for (int i = 0; i < 4; i++)
        push_log(b, i, "m");
    run(&x, b);
    assert_int_equal(b->count, 12);
    assert_true(b->cap >= 12);
    assert_string_equal(metric_at(b, 11)->name, "three");
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);

    assert_refused("log_to_metric", "    metrics: []\n", "non-empty list of metrics");
    assert_refused("log_to_metric", "    metrics:\n      - {type: countr, field: a}\n",
                   "option \"type\" must be one of counter, gauge");
    assert_refused("log_to_metric", "    metrics:\n      - {type: counter, feild: a}\n",
                   "unknown option \"feild\" (did you mean \"field\"?)");
}

/* ---- filter on literal conditions ---- */

static void test_filter_literal_conditions(void **state)
{
    (void)state;
    xf x;
    xf_open(&x, "filter", "    condition: \"false\"\n");
    batch *b = batch_new(0, NULL);
    push_log(b, 0, "m");
    push_log(b, 1, "m");
    run(&x, b);
    assert_int_equal(b->count, 0);
    assert_int_equal(discarded(&x, true), 2);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);

    xf_open(&x, "filter", "    condition:\n      type: vrl\n      source: \"true\"\n");
    b = batch_new(0, NULL);
    push_log(b, 0, "m");
    run(&x, b);
    assert_int_equal(b->count, 1);
    batch_release(b, ACK_DELIVERED);
    xf_close(&x);

    assert_refused("filter", "    condition:\n      type: lua\n      source: x\n",
                   "option \"condition.type\" must be \"vrl\"");
}

/* ---- declared fields ---- */

/* Whether the config text builds a topology (programs compile). */
static bool topology_builds(const char *text)
{
    diag_list d = DIAG_LIST_INIT;
    sl_config *cfg = config_load_text("t.yaml", text, strlen(text), &registry_catalog, &d);
    topology *t = cfg ? topo_build(cfg, &d) : NULL;
    bool ok = t != NULL;
    topo_free(t);
    config_free(cfg);
    diag_list_free(&d);
    return ok;
}

#define K8S_SOURCE "  k:\n    type: kubernetes_logs\n"
#define STDIN_SOURCE "  s:\n    type: stdin\n"
/* string() fails unless its argument is a string: on a field of unknown
 * type the assignment is fallible and unhandled (E103). */
#define STRING_REMAP(inputs)                                                  \
    "transforms:\n  r:\n    type: remap\n    inputs: " inputs "\n"          \
    "    source: .c = string(.kubernetes.container_name)\n"

static void test_remap_sees_declared_fields(void **state)
{
    (void)state;
    const char *sink = "sinks:\n  o:\n    type: blackhole\n    inputs: [r]\n";
    char text[2048];
    snprintf(text, sizeof(text), "sources:\n" K8S_SOURCE STRING_REMAP("[k]") "%s", sink);
    assert_true(topology_builds(text));
    snprintf(text, sizeof(text), "sources:\n" STDIN_SOURCE STRING_REMAP("[s]") "%s", sink);
    assert_false(topology_builds(text));
    /* Through a filter, which keeps fields, the type still arrives. */
    snprintf(text, sizeof(text),
             "sources:\n" K8S_SOURCE STRING_REMAP("[f]")
             "  f:\n    type: filter\n    inputs: [k]\n    condition: .stream == \"stdout\"\n%s",
             sink);
    assert_true(topology_builds(text));
    /* Only fields every input declares count. */
    snprintf(text, sizeof(text),
             "sources:\n" K8S_SOURCE STDIN_SOURCE STRING_REMAP("[k, s]") "%s", sink);
    assert_false(topology_builds(text));
    /* A remap in between may change anything: nothing declared after it. */
    snprintf(text, sizeof(text),
             "sources:\n" K8S_SOURCE STRING_REMAP("[m]")
             "  m:\n    type: remap\n    inputs: [k]\n    source: .a = 1\n%s", sink);
    assert_false(topology_builds(text));
}

/* ---- the LRU table ---- */

static void test_lru_order_and_eviction(void **state)
{
    (void)state;
    lru *l = lru_new(3);
    assert_non_null(l);
    uint64_t k, v;
    assert_false(lru_oldest(l, &k, &v));
    lru_insert(l, 10, 1);
    lru_insert(l, 20, 2);
    lru_insert(l, 30, 3);
    assert_int_equal(*lru_get(l, 10), 1);     /* 10 is now the most recent */
    lru_insert(l, 40, 4);                     /* evicts 20 */
    assert_null(lru_get(l, 20));
    assert_true(lru_oldest(l, &k, &v));
    assert_int_equal(k, 30);
    lru_remove_oldest(l);
    assert_int_equal(lru_size(l), 2);
    assert_null(lru_get(l, 30));
    /* Keys sharing a bucket are told apart. */
    lru_insert(l, 40 + 1024, 5);
    assert_int_equal(*lru_get(l, 40), 4);
    assert_int_equal(*lru_get(l, 40 + 1024), 5);
    assert_int_equal(lru_size(l), 3);
    for (uint64_t i = 0; i < 1000; i++)
        lru_insert(l, i * 7919 + 100000, i);
    assert_int_equal(lru_size(l), 3);
    assert_int_equal(*lru_get(l, 999 * 7919 + 100000), 999);
    lru_free(l);
    assert_null(lru_new(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_rate_keeps_first_then_every_nth),
        cmocka_unit_test(test_sample_ratio_and_rate_key),
        cmocka_unit_test(test_sample_key_field_keeps_values_together),
        cmocka_unit_test(test_sample_exclude_always_kept_unmarked),
        cmocka_unit_test(test_sample_options_refused),
        cmocka_unit_test(test_dedupe_default_fields),
        cmocka_unit_test(test_dedupe_match_compares_types),
        cmocka_unit_test(test_dedupe_ignore_fields),
        cmocka_unit_test(test_dedupe_cache_evicts_least_recent),
        cmocka_unit_test(test_throttle_burst_then_drop),
        cmocka_unit_test(test_throttle_keys_and_exclude),
        cmocka_unit_test(test_throttle_refills),
        cmocka_unit_test(test_log_to_metric_types_in_order),
        cmocka_unit_test(test_log_to_metric_all_or_none),
        cmocka_unit_test(test_log_to_metric_grows_past_batch_cap),
        cmocka_unit_test(test_filter_literal_conditions),
        cmocka_unit_test(test_remap_sees_declared_fields),
        cmocka_unit_test(test_lru_order_and_eviction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
