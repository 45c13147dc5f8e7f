/* Unit tests: the runtime end to end with test components defined here -
 * fused chains run in parallel on the worker pool and keep order, fan-out
 * reaches every sink, acknowledgements report the worst status, a stop
 * drains everything the source emitted, back-pressure holds memory, and a
 * sink that can't deliver is told to stop: soon with a disk buffer, at the
 * timeout with a memory buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "pipeline/buffer.h"
#include "pipeline/component.h"
#include "pipeline/runtime.h"
#include "pipeline/topology.h"

/* ---- a counting source: `total` events (0 = until stopped), field n ---- */

typedef struct counter_src {
    uint64_t total;
    uint32_t per_batch;
    bool with_acks;
    atomic_uint_fast64_t emitted;
    atomic_uint_fast64_t acked;
    atomic_int worst;
} counter_src;

static void counter_acked(void *ud, uint64_t token, ack_status st)
{
    (void)token;
    counter_src *s = ud;
    atomic_fetch_add(&s->acked, 1);
    int cur = atomic_load(&s->worst);
    if ((int)st > cur)
        atomic_store(&s->worst, (int)st);
}

static int counter_build(const void *options, const component_info *info, void **state,
                         sl_error *err)
{
    (void)info; (void)err;
    *state = *(void *const *)options;
    return 0;
}

static int counter_run(void *state, source_ctx *ctx, sl_error *err)
{
    counter_src *s = state;
    uint64_t n = 0;
    while ((s->total == 0 || n < s->total) && !source_stopping(ctx)) {
        ack_group *g = s->with_acks ? ack_group_new(counter_acked, s, n) : NULL;
        batch *b = source_batch_new(ctx, g);
        ack_group_release(g, ACK_DELIVERED);
        if (!b)
            return sl_fail(err, "oom");
        for (uint32_t i = 0; i < s->per_batch && (s->total == 0 || n < s->total); i++, n++) {
            event *e = batch_push(b);
            event_init_log(b->arena, e, 2);
            event_log_set(b->arena, e, "n", value_int((int64_t)n));
        }
        uint64_t c = b->count;
        if (source_emit(ctx, b) < 0)
            break;
        atomic_fetch_add(&s->emitted, c);
    }
    return 0;
}

static const component_desc counter_desc = {
    .type = "test_counter", .kind = COMPONENT_SOURCE, .summary = "test",
    .output_types = EVENT_LOG, .build = counter_build, .source_run = counter_run,
};

/* ---- a collecting sink: checks order, counts, optional slowness ---- */

typedef struct collect_sink {
    uint64_t next;          /* next n expected */
    uint64_t received;
    bool out_of_order;
    int delay_us;
    ack_status status;
    bool track_order;
    const char *want_trail;   /* the marks a fused chain appended, in order */
    bool bad_trail;
} collect_sink;

static int collect_run(void *state, sink_ctx *ctx, sl_error *err)
{
    (void)err;
    collect_sink *s = state;
    batch *b;
    queue_result r;
    while ((r = sink_next(ctx, &b, 1000)) != QUEUE_END) {
        if (r != QUEUE_OK)
            continue;
        for (uint32_t i = 0; i < b->count; i++) {
            const value *v = event_log_get(&b->events[i], "n");
            if (s->track_order && (!v || v->u.i != (int64_t)s->next))
                s->out_of_order = true;
            s->next++;
            if (s->want_trail) {
                const value *t = event_log_get(&b->events[i], "trail");
                if (!t || t->len != strlen(s->want_trail) ||
                    memcmp(t->u.s, s->want_trail, t->len) != 0)
                    s->bad_trail = true;
            }
        }
        s->received += b->count;
        if (s->delay_us)
            usleep((useconds_t)s->delay_us);
        sink_done(ctx, b, s->status);
    }
    return 0;
}

static const component_desc collect_desc = {
    .type = "test_collect", .kind = COMPONENT_SINK, .summary = "test",
    .input_types = EVENT_ANY, .build = counter_build, .sink_run = collect_run,
};

/* ---- a stateless transform that records how many batches it runs at once
 * and appends "c" to the trail ---- */

static atomic_int in_flight, max_concurrent;

static int concurrency_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    (void)state; (void)em; (void)err;
    int now = atomic_fetch_add(&in_flight, 1) + 1;
    int seen = atomic_load(&max_concurrent);
    while (now > seen && !atomic_compare_exchange_weak(&max_concurrent, &seen, now))
        ;
    usleep(500);
    for (uint32_t i = 0; i < b->count; i++) {
        const value *t = event_log_get(&b->events[i], "trail");
        char *s = arena_alloc(b->arena, t->len + 1);
        memcpy(s, t->u.s, t->len);
        s[t->len] = 'c';
        event_log_set(b->arena, &b->events[i], "trail", value_bytes(s, t->len + 1));
    }
    atomic_fetch_sub(&in_flight, 1);
    return 0;
}

static int nothing_build(const void *options, const component_info *info, void **state,
                         sl_error *err)
{
    (void)options; (void)info; (void)err;
    *state = NULL;
    return 0;
}

static const component_desc concurrency_desc = {
    .type = "test_concurrency", .kind = COMPONENT_TRANSFORM, .summary = "test",
    .input_types = EVENT_ANY, .stateless = true, .build = nothing_build,
    .transform_process = concurrency_process,
};

/* ---- a route-like transform: even n to output "even", odd to "odd" ---- */

static const char *const split_names[] = {"even", "odd"};

static size_t split_output_count(const void *options)
{
    (void)options;
    return 2;
}

static const char *split_output_name(const void *options, size_t i)
{
    (void)options;
    return split_names[i];
}

static int split_process(void *state, batch *b, transform_emit *em, sl_error *err)
{
    (void)state;
    batch *out[2] = {batch_new(b->cap, b->ack), batch_new(b->cap, b->ack)};
    if (!out[0] || !out[1])
        return sl_fail(err, "oom");
    for (uint32_t i = 0; i < b->count; i++) {
        int odd = event_log_get(&b->events[i], "n")->u.i % 2;
        event *e = batch_push(out[odd]);
        if (!e || event_copy(out[odd]->arena, &b->events[i], e) < 0)
            return sl_fail(err, "oom");
    }
    b->count = 0;
    transform_emit_to(em, 0, out[0]);
    transform_emit_to(em, 1, out[1]);
    return 0;
}

static const component_desc split_desc = {
    .type = "test_split", .kind = COMPONENT_TRANSFORM, .summary = "test",
    .input_types = EVENT_ANY, .stateless = true, .output_count = split_output_count,
    .output_name = split_output_name,
    .build = nothing_build, .transform_process = split_process,
};

/* ---- building configs by hand ---- */

typedef struct spec {
    const char *id;
    component_kind kind;
    const component_desc *desc;
    void *state;
    const char *inputs[4];
    const char *noop_mark;
    uint64_t noop_delay;
    uint64_t max_events;
    bool drop_newest;
} spec;

extern const component_desc transform_noop_desc;

typedef struct noop_opts {
    char *mark;
    uint64_t delay_ms;
    bool jitter;
} noop_opts;

static sl_config *make_config(spec *specs, size_t n)
{
    sl_config *cfg = calloc(1, sizeof(*cfg));
    cfg->components = calloc(n, sizeof(*cfg->components));
    cfg->ncomponents = n;
    cfg->data_dir = "/tmp";
    for (size_t i = 0; i < n; i++) {
        component_config *cc = &cfg->components[i];
        cc->buffer_when_full = specs[i].drop_newest ? WHEN_FULL_DROP_NEWEST : WHEN_FULL_BLOCK;
        cc->id = (char *)specs[i].id;
        cc->label = (char *)specs[i].id;
        cc->kind = specs[i].kind;
        cc->desc = specs[i].desc;
        cc->buffer_max_events = specs[i].max_events ? specs[i].max_events : 2048;
        if (specs[i].desc == &transform_noop_desc) {
            noop_opts *o = calloc(1, sizeof(*o));
            o->mark = (char *)specs[i].noop_mark;
            o->delay_ms = specs[i].noop_delay;
            o->jitter = true;
            cc->options = o;
        } else {
            void **slot = calloc(1, sizeof(void *));
            *slot = specs[i].state;
            cc->options = slot;
        }
        size_t ni = 0;
        while (ni < 4 && specs[i].inputs[ni])
            ni++;
        cc->inputs.items = (char **)specs[i].inputs;
        cc->inputs.n = ni;
    }
    return cfg;
}

static void free_config(sl_config *cfg)
{
    for (size_t i = 0; i < cfg->ncomponents; i++)
        free(cfg->components[i].options);
    free(cfg->components);
    free(cfg);
}

static void wait_done(runtime *rt)
{
    struct pollfd p = {.fd = runtime_done_fd(rt), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 30000), 1);
}

static void run_to_end(spec *specs, size_t n, unsigned threads, size_t want_stages)
{
    sl_config *cfg = make_config(specs, n);
    diag_list diags = DIAG_LIST_INIT;
    topology *topo = topo_build(cfg, &diags);
    assert_non_null(topo);
    assert_int_equal(topo->nstages, want_stages);
    runtime *rt = NULL;
    sl_error err = {{0}};
    runtime_options ro = {threads, 100};
    assert_int_equal(runtime_start(topo, &ro, &rt, &err), 0);
    wait_done(rt);
    assert_int_equal(runtime_drain(rt, 30000), 0);
    runtime_free(rt);
    topo_free(topo);
    diag_list_free(&diags);
    free_config(cfg);
}

static void fused_chain_runs_in_parallel_and_keeps_order(void **state)
{
    (void)state;
    counter_src src = {.total = 20000, .per_batch = 100};
    collect_sink out = {.status = ACK_DELIVERED, .track_order = true, .want_trail = "abc"};
    spec specs[] = {
        {.id = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &src, .inputs = {NULL}},
        {.id = "a", .kind = COMPONENT_TRANSFORM, .desc = &transform_noop_desc, .inputs = {"in"}, .noop_mark = "a", .noop_delay = 3},
        {.id = "b", .kind = COMPONENT_TRANSFORM, .desc = &transform_noop_desc, .inputs = {"a"}, .noop_mark = "b"},
        {.id = "c", .kind = COMPONENT_TRANSFORM, .desc = &concurrency_desc, .inputs = {"b"}, .noop_mark = "c"},
        {.id = "out", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &out, .inputs = {"c"}},
    };
    run_to_end(specs, 5, 4, 1);
    assert_int_equal(out.received, 20000);
    assert_false(out.out_of_order);
    assert_false(out.bad_trail);
    /* Several batches were inside the chain at once: it ran in parallel. */
    assert_true(atomic_load(&max_concurrent) > 1);
}

static void branches_are_separate_stages_and_fan_out_to_every_sink(void **state)
{
    (void)state;
    counter_src src = {.total = 5000, .per_batch = 100};
    collect_sink s1 = {.status = ACK_DELIVERED, .track_order = true};
    collect_sink s2 = {.status = ACK_DELIVERED, .track_order = true};
    collect_sink s3 = {.status = ACK_DELIVERED};
    spec specs[] = {
        {.id = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &src, .inputs = {NULL}},
        {.id = "a", .kind = COMPONENT_TRANSFORM, .desc = &transform_noop_desc, .inputs = {"in"}, .noop_mark = "a", .noop_delay = 1},
        {.id = "b", .kind = COMPONENT_TRANSFORM, .desc = &transform_noop_desc, .inputs = {"in"}, .noop_mark = "b", .noop_delay = 1},
        {.id = "s1", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &s1, .inputs = {"a"}},
        {.id = "s2", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &s2, .inputs = {"b"}},
        {.id = "s3", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &s3, .inputs = {"a", "b", "in"}},
    };
    run_to_end(specs, 6, 2, 2);
    assert_int_equal(s1.received, 5000);
    assert_int_equal(s2.received, 5000);
    assert_int_equal(s3.received, 15000);
    assert_false(s1.out_of_order);
    assert_false(s2.out_of_order);
}

static void acks_report_worst_status_of_every_sink(void **state)
{
    (void)state;
    counter_src src = {.total = 1000, .per_batch = 100, .with_acks = true};
    collect_sink ok = {.status = ACK_DELIVERED};
    collect_sink bad = {.status = ACK_REJECTED};
    spec specs[] = {
        {.id = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &src, .inputs = {NULL}},
        {.id = "ok", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &ok, .inputs = {"in"}},
        {.id = "bad", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &bad, .inputs = {"in"}},
    };
    run_to_end(specs, 3, 1, 0);
    assert_int_equal(atomic_load(&src.acked), 10);
    assert_int_equal(atomic_load(&src.worst), ACK_REJECTED);
}

static void stop_drains_everything_emitted(void **state)
{
    (void)state;
    counter_src src = {.total = 0, .per_batch = 100, .with_acks = true};
    collect_sink out = {.status = ACK_DELIVERED, .track_order = true, .delay_us = 200};
    spec specs[] = {
        {.id = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &src, .inputs = {NULL}},
        {.id = "t", .kind = COMPONENT_TRANSFORM, .desc = &transform_noop_desc, .inputs = {"in"}},
        {.id = "out", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &out, .inputs = {"t"}},
    };
    sl_config *cfg = make_config(specs, 3);
    diag_list diags = DIAG_LIST_INIT;
    topology *topo = topo_build(cfg, &diags);
    runtime *rt = NULL;
    sl_error err = {{0}};
    runtime_options ro = {2, 100};
    assert_int_equal(runtime_start(topo, &ro, &rt, &err), 0);
    usleep(300 * 1000);
    assert_int_equal(runtime_drain(rt, 30000), 0);
    assert_true(out.received > 0);
    assert_int_equal(out.received, atomic_load(&src.emitted));
    assert_int_equal(atomic_load(&src.acked), out.received / 100);
    assert_false(out.out_of_order);
    runtime_free(rt);
    topo_free(topo);
    diag_list_free(&diags);
    free_config(cfg);
}

static void unknown_input_and_cycle_are_reported(void **state)
{
    (void)state;
    counter_src src = {.total = 1, .per_batch = 1};
    collect_sink out = {.status = ACK_DELIVERED};
    spec specs[] = {
        {.id = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &src, .inputs = {NULL}},
        {.id = "a", .kind = COMPONENT_TRANSFORM, .desc = &transform_noop_desc, .inputs = {"in", "b"}},
        {.id = "b", .kind = COMPONENT_TRANSFORM, .desc = &transform_noop_desc, .inputs = {"a"}},
        {.id = "out", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &out, .inputs = {"b", "nope", "out"}},
    };
    sl_config *cfg = make_config(specs, 4);
    diag_list diags = DIAG_LIST_INIT;
    assert_null(topo_build(cfg, &diags));
    assert_int_equal(diag_errors(&diags), 2);
    assert_string_equal(diags.items[0].msg, "input \"nope\" doesn't match any source or transform");
    assert_string_equal(diags.items[1].msg,
                        "input \"out\" is a sink; only sources and transforms can be inputs");
    diag_list_free(&diags);
    specs[3].inputs[1] = NULL;
    free_config(cfg);
    cfg = make_config(specs, 4);
    assert_null(topo_build(cfg, &diags));
    assert_int_equal(diag_errors(&diags), 1);
    assert_string_equal(diags.items[0].msg, "is part of a cycle: its output leads back to its input");
    diag_list_free(&diags);
    free_config(cfg);
}

static void wildcards_match_ids_and_type_mismatch_is_an_error(void **state)
{
    (void)state;
    static const component_desc metrics_sink = {
        .type = "test_metrics_only", .kind = COMPONENT_SINK, .summary = "test",
        .input_types = EVENT_METRIC, .build = counter_build, .sink_run = collect_run,
    };
    counter_src s1 = {.total = 1, .per_batch = 1}, s2 = s1;
    collect_sink out = {.status = ACK_DELIVERED};
    spec specs[] = {
        {.id = "app1", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &s1, .inputs = {NULL}},
        {.id = "app2", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &s2, .inputs = {NULL}},
        {.id = "out", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &out, .inputs = {"app*"}},
        {.id = "m", .kind = COMPONENT_SINK, .desc = &metrics_sink, .state = &out, .inputs = {"app1"}},
    };
    sl_config *cfg = make_config(specs, 4);
    diag_list diags = DIAG_LIST_INIT;
    assert_null(topo_build(cfg, &diags));
    assert_int_equal(diag_errors(&diags), 1);
    assert_string_equal(diags.items[0].msg, "takes metrics, but its input \"app1\" sends logs");
    diag_list_free(&diags);
    free_config(cfg);
    cfg = make_config(specs, 3);
    topology *t = topo_build(cfg, &diags);
    assert_non_null(t);
    assert_int_equal(t->nodes[0].outputs[0].nconsumers, 1);
    assert_int_equal(t->nodes[1].outputs[0].nconsumers, 1);
    topo_free(t);
    diag_list_free(&diags);
    free_config(cfg);
}

static void named_outputs_reach_their_readers(void **state)
{
    (void)state;
    counter_src src = {.total = 10000, .per_batch = 100};
    collect_sink even = {.status = ACK_DELIVERED};
    collect_sink odd = {.status = ACK_DELIVERED};
    spec specs[] = {
        {.id = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &src, .inputs = {NULL}},
        {.id = "split", .kind = COMPONENT_TRANSFORM, .desc = &split_desc, .inputs = {"in"}},
        {.id = "even", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &even, .inputs = {"split.even"}},
        {.id = "odd", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &odd, .inputs = {"split.o*"}},
    };
    run_to_end(specs, 4, 2, 1);
    assert_int_equal(even.received, 5000);
    assert_int_equal(odd.received, 5000);
}

static uint64_t discarded_of(const char *id, const char *type)
{
    metrics_label labels[] = {{"component_id", id}, {"component_kind", "sink"},
                              {"component_type", type}, {"intentional", "true"}};
    return metrics_counter_value(metrics_counter("component_discarded_events_total",
                                                 "The number of events dropped by this component.",
                                                 labels, 4));
}

static void drop_newest_counts_what_it_drops(void **state)
{
    (void)state;
    counter_src src = {.total = 20000, .per_batch = 100};
    collect_sink out = {.status = ACK_DELIVERED, .delay_us = 2000};
    spec specs[] = {
        {.id = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &src, .inputs = {NULL}},
        {.id = "lossy", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &out, .inputs = {"in"}, .max_events = 100, .drop_newest = true},
    };
    uint64_t before = discarded_of("lossy", "test_collect");
    run_to_end(specs, 2, 1, 0);
    uint64_t dropped = discarded_of("lossy", "test_collect") - before;
    assert_true(dropped > 0);
    assert_int_equal(out.received + dropped, 20000);
}

static void drain_timeout_closes_the_queues_and_returns(void **state)
{
    (void)state;
    counter_src src = {.total = 0, .per_batch = 100};
    collect_sink out = {.status = ACK_DELIVERED, .delay_us = 300000};
    spec specs[] = {
        {.id = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &src, .inputs = {NULL}},
        {.id = "slow", .kind = COMPONENT_SINK, .desc = &collect_desc, .state = &out, .inputs = {"in"}, .max_events = 1000},
    };
    sl_config *cfg = make_config(specs, 2);
    diag_list diags = DIAG_LIST_INIT;
    topology *topo = topo_build(cfg, &diags);
    runtime *rt = NULL;
    sl_error err = {{0}};
    runtime_options ro = {1, 100};
    assert_int_equal(runtime_start(topo, &ro, &rt, &err), 0);
    usleep(100 * 1000);
    /* The sink needs 0.3 s a batch with ~10 batches queued: 100 ms is not
     * enough, so the drain gives up, closes the queues and still returns. */
    assert_int_equal(runtime_drain(rt, 100), -1);
    assert_true(out.received < atomic_load(&src.emitted));
    runtime_free(rt);
    topo_free(topo);
    diag_list_free(&diags);
    free_config(cfg);
}

/* ---- a sink whose receiver is down: it holds what it reads, retrying,
 * until told to stop, then releases it as errored ---- */

typedef struct holding_sink {
    batch *held[256];
    size_t n;
    bool told_to_stop;
} holding_sink;

static int holding_run(void *state, sink_ctx *ctx, sl_error *err)
{
    (void)err;
    holding_sink *s = state;
    while (!sink_must_stop(ctx)) {
        batch *b;
        queue_result r = sink_next(ctx, &b, 100);
        if (r == QUEUE_OK && s->n < SL_ARRAY_LEN(s->held))
            s->held[s->n++] = b;
        else if (r == QUEUE_OK)
            sink_done(ctx, b, ACK_ERRORED);
        else if (r == QUEUE_END)
            usleep(10 * 1000);   /* input over, requests still retrying */
    }
    s->told_to_stop = true;
    for (size_t i = 0; i < s->n; i++)
        sink_done(ctx, s->held[i], ACK_ERRORED);
    return 0;
}

static const component_desc holding_desc = {
    .type = "test_holding", .kind = COMPONENT_SINK, .summary = "test",
    .input_types = EVENT_ANY, .build = counter_build, .sink_run = holding_run,
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Runs 2000 events into a holding sink, then drains with `timeout_ms`:
 * the drain's result and how long it took. */
static int drain_a_holding_sink(const char *data_dir, bool disk, int64_t timeout_ms,
                                holding_sink *sink, double *took)
{
    counter_src src = {.total = 2000, .per_batch = 100};
    spec specs[] = {
        {.id = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc, .state = &src, .inputs = {NULL}},
        {.id = "held", .kind = COMPONENT_SINK, .desc = &holding_desc, .state = sink, .inputs = {"in"}},
    };
    sl_config *cfg = make_config(specs, 2);
    cfg->data_dir = (char *)data_dir;
    if (disk) {
        cfg->components[1].buffer_type = BUFFER_DISK;
        cfg->components[1].buffer_max_size = 64u << 20;
        cfg->components[1].buffer_sync_interval_ms = 100;
    }
    diag_list diags = DIAG_LIST_INIT;
    topology *topo = topo_build(cfg, &diags);
    runtime *rt = NULL;
    sl_error err = {{0}};
    runtime_options ro = {1, 100};
    assert_int_equal(runtime_start(topo, &ro, &rt, &err), 0);
    wait_done(rt);
    usleep(300 * 1000);   /* the sink reads some, and holds it */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = runtime_drain(rt, timeout_ms);
    *took = seconds_since(&t0);
    runtime_free(rt);
    topo_free(topo);
    diag_list_free(&diags);
    free_config(cfg);
    return rc;
}

static void a_disk_buffered_sink_stops_soon_after_the_buffer_synced(void **state)
{
    (void)state;
    char dir[] = "/tmp/sluice-rt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    holding_sink sink = {0};
    double took;
    assert_int_equal(drain_a_holding_sink(dir, true, 60000, &sink, &took), 0);
    assert_true(sink.told_to_stop);
    assert_true(sink.n > 0);
    assert_true(took < (BUFFER_DISK_STOP_GRACE_MS + 2000) / 1000.0);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void a_memory_buffered_sink_is_told_to_stop_at_the_timeout(void **state)
{
    (void)state;
    holding_sink sink = {0};
    double took;
    assert_int_equal(drain_a_holding_sink("/tmp", false, 1000, &sink, &took), -1);
    assert_true(sink.told_to_stop);
    assert_true(took >= 0.9);
    assert_true(took < 2.9);   /* well before the 2 s a stuck sink would get */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fused_chain_runs_in_parallel_and_keeps_order),
        cmocka_unit_test(branches_are_separate_stages_and_fan_out_to_every_sink),
        cmocka_unit_test(acks_report_worst_status_of_every_sink),
        cmocka_unit_test(stop_drains_everything_emitted),
        cmocka_unit_test(unknown_input_and_cycle_are_reported),
        cmocka_unit_test(wildcards_match_ids_and_type_mismatch_is_an_error),
        cmocka_unit_test(named_outputs_reach_their_readers),
        cmocka_unit_test(drop_newest_counts_what_it_drops),
        cmocka_unit_test(drain_timeout_closes_the_queues_and_returns),
        cmocka_unit_test(a_disk_buffered_sink_stops_soon_after_the_buffer_synced),
        cmocka_unit_test(a_memory_buffered_sink_is_told_to_stop_at_the_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
