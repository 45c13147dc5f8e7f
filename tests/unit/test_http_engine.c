/* Unit tests: the HTTP sink engine's state machine, driven end to end by the
 * runtime (a counting source into an engine sink) with a fake transport
 * that answers every request with a status the test scripts, without a
 * network: a failed request is retried and delivered once, a 413 splits the
 * request into halves, a 400 is rejected without a retry, a request whose
 * request.retry_attempts run out is released as errored (not the data's
 * fault: what can read it again does), an Elasticsearch bulk response
 * retries its 429 items and rejects its 400 items, and a
 * concurrency limit's worth of failures in a row makes waiting retries take
 * slots (no more input is read) until a request succeeds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "pipeline/component.h"
#include "pipeline/metrics.h"
#include "pipeline/runtime.h"
#include "pipeline/topology.h"
#include "sinks/es_bulk.h"
#include "sinks/http/http_internal.h"

#define MAX_EVENTS 32
#define MAX_BATCHES 32
#define MAX_SENDS 256
#define MAX_FLYING 64

/* ---- a counting source: `total` events with field n = 0, 1, ..., in
 * batches of per_batch, each acknowledged on its own ---- */

typedef struct counter_src {
    int total;
    int per_batch;
    atomic_int status[MAX_BATCHES];   /* ack_status + 1; 0: not acknowledged */
} counter_src;

static void counter_acked(void *ud, uint64_t token, ack_status st)
{
    counter_src *s = ud;
    atomic_store(&s->status[token], (int)st + 1);
}

static int pass_state(const void *options, const component_info *info, void **state,
                      sl_error *err)
{
    (void)info;
    (void)err;
    *state = *(void *const *)options;
    return 0;
}

static int counter_run(void *state, source_ctx *ctx, sl_error *err)
{
    counter_src *s = state;
    int n = 0;
    for (uint64_t token = 0; n < s->total; token++) {
        ack_group *g = ack_group_new(counter_acked, s, token);
        batch *b = source_batch_new(ctx, g);
        ack_group_release(g, ACK_DELIVERED);
        if (!b)
            return sl_fail(err, "out of memory");
        for (int i = 0; i < s->per_batch && n < s->total; i++, n++) {
            event *e = batch_push(b);
            event_init_log(b->arena, e, 1);
            event_log_set(b->arena, e, "n", value_int(n));
        }
        if (source_emit(ctx, b) < 0)
            return sl_fail(err, "stopped");
    }
    return 0;
}

static const component_desc counter_desc = {
    .type = "test_counter", .kind = COMPONENT_SOURCE, .summary = "test",
    .output_types = EVENT_LOG, .build = pass_state, .source_run = counter_run,
};

/* ---- the fake transport ---- */

/* How the fake answers one request. */
typedef struct answer {
    long status;
    const char *body;          /* NULL: empty */
    int retry_after_ms;        /* 0: no Retry-After */
    const char *error;         /* a transport error instead of a response */
} answer;

/* One request the engine sent, as the fake saw it when it started. */
typedef struct sent {
    char body[128];
    int events[MAX_EVENTS];    /* the n of each event it carries */
    size_t nevents;
    unsigned attempts;         /* sends of it that failed before */
    int64_t at_ns;
    uint32_t failures_in_row;
    answer reply;
} sent;

typedef struct fake fake;
typedef answer (*answer_fn)(fake *f, const sent *s);

struct fake {
    answer_fn rule;
    http_sink *h;
    request *flying[MAX_FLYING];
    size_t nflying;
    sent log[MAX_SENDS];
    size_t nsent;
    int accepted[MAX_EVENTS];  /* 2xx answers that covered each event */
    int64_t start_ns;
    bool broken;               /* the fake could not follow (checked after
                                  the run: cmocka asserts only on its own
                                  thread) */
};

/* The events of a body written by the test codec: "[0,1,2]". */
static size_t events_of(const char *body, int *out)
{
    size_t n = 0;
    const char *p = body + 1;
    while (*p && *p != ']' && n < MAX_EVENTS) {
        char *end;
        out[n++] = (int)strtol(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

static int fake_open(void *ud, http_sink *h, void **state, sl_error *err)
{
    (void)err;
    fake *f = ud;
    f->h = h;
    f->start_ns = sl_now_mono_ns();
    *state = f;
    return 0;
}

static void fake_close(void *state)
{
    (void)state;
}

static int fake_start(void *state, request *r, const buf *body)
{
    fake *f = state;
    if (f->nsent == MAX_SENDS || f->nflying == MAX_FLYING) {
        f->broken = true;
        return -1;
    }
    sent *s = &f->log[f->nsent];
    snprintf(s->body, sizeof(s->body), "%.*s", (int)body->len, body->data ? body->data : "");
    s->nevents = events_of(s->body, s->events);
    f->broken |= s->nevents != r->n;
    s->attempts = r->attempts;
    s->at_ns = sl_now_mono_ns() - f->start_ns;
    s->failures_in_row = f->h->failures_in_row;
    s->reply = f->rule(f, s);
    r->handle = (void *)(uintptr_t)(f->nsent + 1);
    f->nsent++;
    f->flying[f->nflying++] = r;
    return 0;
}

static void answer_one(fake *f, request *r)
{
    const sent *s = &f->log[(uintptr_t)r->handle - 1];
    const answer *a = &s->reply;
    r->handle = NULL;
    if (a->body && buf_append(&r->response, a->body, strlen(a->body)) < 0)
        f->broken = true;
    if (a->retry_after_ms)
        r->retry_after_ns = (int64_t)a->retry_after_ms * NS_PER_MS;
    if (!a->error && a->status >= 200 && a->status < 300 && !a->body)
        for (size_t i = 0; i < s->nevents; i++)
            f->accepted[s->events[i]]++;
    http_outcome o = {a->error ? 0 : a->status, a->error, false};
    http_request_finished(f->h, r, &o);
}

/* Answers every request in flight; with none, waits as a network would. */
static void fake_poll(void *state, int wait_ms)
{
    fake *f = state;
    if (f->nflying == 0) {
        if (wait_ms > 0) {
            struct timespec ts = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        return;
    }
    request *now[MAX_FLYING];
    size_t n = f->nflying;
    memcpy(now, f->flying, n * sizeof(*now));
    f->nflying = 0;
    for (size_t i = 0; i < n; i++)
        answer_one(f, now[i]);
}

static void fake_wake(void *state)
{
    (void)state;
}

static void fake_cancel(void *state, request *r)
{
    fake *f = state;
    for (size_t i = 0; i < f->nflying; i++)
        if (f->flying[i] == r)
            f->flying[i] = f->flying[--f->nflying];
}

static const http_transport fake_transport = {
    .open = fake_open,
    .close = fake_close,
    .start = fake_start,
    .poll = fake_poll,
    .wake = fake_wake,
    .cancel = fake_cancel,
};

/* ---- an engine sink: a JSON array of each event's n, through the fake ---- */

typedef struct engine_case {
    fake fake;
    uint64_t concurrency;
    uint64_t max_events;
    uint64_t retry_attempts;   /* 0: no limit */
    http_verdict (*judge)(void *ud, const http_response *r, size_t n, uint8_t *items,
                          char *reason, size_t reason_cap);
} engine_case;

static int encode_n(void *ud, const event *e, double note, buf *out, sl_error *err)
{
    (void)ud;
    (void)note;
    (void)err;
    return buf_printf(out, "%" PRId64, event_log_get(e, "n")->u.i);
}

static int engine_build(const void *options, const component_info *info, void **state,
                        sl_error *err)
{
    engine_case *c = *(void *const *)options;
    http_sink_options o = {
        .batch_max_events = c->max_events,
        .batch_timeout_secs = 0.005,
        .compression = -1,
        .concurrency = c->concurrency,
        .retry_initial_backoff_secs = 0.001,
        .retry_max_duration_secs = 0.004,
        .retry_attempts = c->retry_attempts,
        .auth_strategy = -1,
    };
    static const char *const urls[] = {"http://fake.invalid/"};
    http_sink_setup setup = {
        .options = &o,
        .defaults = {0, 1 << 20, 1, HTTP_COMPRESSION_NONE},
        .urls = urls,
        .nurls = 1,
        .method = "POST",
        .codec = {.content_type = "application/json", .prefix = "[", .separator = ",",
                  .suffix = "]", .encode = encode_n, .judge = c->judge},
        .transport = &fake_transport,
        .transport_ud = &c->fake,
    };
    return http_sink_new(&setup, info, (http_sink **)state, err);
}

static int engine_run(void *state, sink_ctx *ctx, sl_error *err)
{
    return http_sink_run(state, ctx, err);
}

static void engine_destroy(void *state)
{
    http_sink_free(state);
}

static const component_desc engine_desc = {
    .type = "test_http_engine", .kind = COMPONENT_SINK, .summary = "test",
    .input_types = EVENT_ANY, .build = engine_build, .sink_run = engine_run,
    .destroy = engine_destroy,
};

/* ---- running source -> engine sink to the end ---- */

static void run_pipeline(counter_src *src, engine_case *c)
{
    void *src_state = src, *sink_state = c;
    const char *sink_inputs[] = {"in", NULL};
    component_config comps[2] = {
        {.id = "in", .label = "in", .kind = COMPONENT_SOURCE, .desc = &counter_desc,
         .options = &src_state, .buffer_max_events = 2048},
        {.id = "out", .label = "out", .kind = COMPONENT_SINK, .desc = &engine_desc,
         .options = &sink_state, .buffer_max_events = 2048},
    };
    comps[1].inputs.items = (char **)sink_inputs;
    comps[1].inputs.n = 1;
    sl_config cfg = {.data_dir = "/tmp", .components = comps, .ncomponents = 2};
    diag_list diags = DIAG_LIST_INIT;
    topology *topo = topo_build(&cfg, &diags);
    assert_non_null(topo);
    runtime *rt = NULL;
    sl_error err = {{0}};
    runtime_options ro = {1, 100};
    assert_int_equal(runtime_start(topo, &ro, &rt, &err), 0);
    struct pollfd p = {.fd = runtime_done_fd(rt), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    assert_int_equal(runtime_drain(rt, 10000), 0);
    assert_false(c->fake.broken);
    runtime_free(rt);
    topo_free(topo);
    diag_list_free(&diags);
    metrics_reset();
}

static void batch_status_is(counter_src *src, int token, ack_status want)
{
    assert_int_equal(atomic_load(&src->status[token]), (int)want + 1);
}

/* ---- retries ---- */

static answer fail_first_send(fake *f, const sent *s)
{
    (void)f;
    return s->attempts == 0 ? (answer){.status = 500} : (answer){.status = 200};
}

static void a_failed_request_is_retried_and_delivered_once(void **state)
{
    (void)state;
    counter_src src = {.total = 3, .per_batch = 3};
    engine_case c = {.fake = {.rule = fail_first_send}, .concurrency = 2, .max_events = 10};
    run_pipeline(&src, &c);
    assert_int_equal(c.fake.nsent, 2);
    assert_string_equal(c.fake.log[0].body, "[0,1,2]");
    assert_int_equal(c.fake.log[0].attempts, 0);
    assert_string_equal(c.fake.log[1].body, "[0,1,2]");
    assert_int_equal(c.fake.log[1].attempts, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(c.fake.accepted[i], 1);
    batch_status_is(&src, 0, ACK_DELIVERED);
}

static answer refuse_connection_once(fake *f, const sent *s)
{
    (void)f;
    return s->attempts == 0 ? (answer){.error = "Connection refused"}
                            : (answer){.status = 204};
}

static void a_transport_error_is_retried(void **state)
{
    (void)state;
    counter_src src = {.total = 2, .per_batch = 2};
    engine_case c = {.fake = {.rule = refuse_connection_once}, .concurrency = 1,
                     .max_events = 10};
    run_pipeline(&src, &c);
    assert_int_equal(c.fake.nsent, 2);
    assert_int_equal(c.fake.log[1].attempts, 1);
    assert_int_equal(c.fake.accepted[0], 1);
    assert_int_equal(c.fake.accepted[1], 1);
    batch_status_is(&src, 0, ACK_DELIVERED);
}

/* ---- 413 ---- */

static answer too_large_over_two(fake *f, const sent *s)
{
    (void)f;
    return s->nevents > 2 ? (answer){.status = 413} : (answer){.status = 200};
}

static void a_413_splits_the_request_into_halves(void **state)
{
    (void)state;
    counter_src src = {.total = 4, .per_batch = 4};
    engine_case c = {.fake = {.rule = too_large_over_two}, .concurrency = 2,
                     .max_events = 10};
    run_pipeline(&src, &c);
    assert_int_equal(c.fake.nsent, 3);
    assert_string_equal(c.fake.log[0].body, "[0,1,2,3]");
    assert_string_equal(c.fake.log[1].body, "[0,1]");
    assert_string_equal(c.fake.log[2].body, "[2,3]");
    /* A split is no failed attempt: the halves go at once. */
    assert_int_equal(c.fake.log[1].attempts, 0);
    assert_int_equal(c.fake.log[2].attempts, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(c.fake.accepted[i], 1);
    batch_status_is(&src, 0, ACK_DELIVERED);
}

/* ---- 400 ---- */

static answer bad_request(fake *f, const sent *s)
{
    (void)f;
    (void)s;
    return (answer){.status = 400, .body = "{\"error\":\"mapping\"}"};
}

static void a_400_is_rejected_without_a_retry(void **state)
{
    (void)state;
    counter_src src = {.total = 3, .per_batch = 3};
    engine_case c = {.fake = {.rule = bad_request}, .concurrency = 2, .max_events = 10};
    run_pipeline(&src, &c);
    assert_int_equal(c.fake.nsent, 1);
    batch_status_is(&src, 0, ACK_REJECTED);
}

/* ---- retries that run out ---- */

static answer unavailable(fake *f, const sent *s)
{
    (void)f;
    (void)s;
    return (answer){.status = 503};
}

static void retries_that_run_out_release_the_batch_as_errored(void **state)
{
    (void)state;
    counter_src src = {.total = 3, .per_batch = 3};
    engine_case c = {.fake = {.rule = unavailable}, .concurrency = 2, .max_events = 10,
                     .retry_attempts = 2};
    run_pipeline(&src, &c);
    /* The first send and two retries, then given up on: errored, so that a
     * source with acknowledgements or a disk buffer reads it again. */
    assert_int_equal(c.fake.nsent, 3);
    assert_int_equal(c.fake.log[2].attempts, 2);
    batch_status_is(&src, 0, ACK_ERRORED);
}

/* ---- Elasticsearch partial failures ---- */

/* What the elasticsearch sink's judge does with a 2xx: the bulk response
 * says per item (es_bulk.c). */
static http_verdict es_like_judge(void *ud, const http_response *r, size_t n, uint8_t *items,
                                  char *reason, size_t reason_cap)
{
    if (r->status < 200 || r->status >= 300)
        return http_judge_default(ud, r, n, items, reason, reason_cap);
    const char *why = NULL;
    switch (es_bulk_parse(r->body, r->body_len, n, items, NULL, NULL, &why)) {
    case ES_BULK_ALL_OK:
        return HTTP_DELIVERED;
    case ES_BULK_ITEMS:
        return HTTP_PARTIAL;
    case ES_BULK_MALFORMED:
        break;
    }
    snprintf(reason, reason_cap, "%s", why);
    return HTTP_REJECTED;
}

#define ES_ITEM(status, error)                                                       \
    "{\"index\":{\"_index\":\"logs\",\"status\":" #status error "}}"
#define ES_ERROR ",\"error\":{\"type\":\"x\",\"reason\":\"y\"}"

static answer bulk_429_and_400(fake *f, const sent *s)
{
    /* Events 0-3: 1 to retry (429), 2 rejected (400), 0 and 3 indexed. */
    if (strcmp(s->body, "[0,1,2,3]") == 0) {
        f->accepted[0]++;
        f->accepted[3]++;
        return (answer){.status = 200,
                        .body = "{\"took\":3,\"errors\":true,\"items\":["
                                ES_ITEM(201, "") "," ES_ITEM(429, ES_ERROR) ","
                                ES_ITEM(400, ES_ERROR) "," ES_ITEM(201, "") "]}"};
    }
    for (size_t i = 0; i < s->nevents; i++)
        f->accepted[s->events[i]]++;
    return (answer){.status = 200, .body = "{\"took\":1,\"errors\":false,\"items\":[]}"};
}

static void a_bulk_response_retries_429_items_and_rejects_400_items(void **state)
{
    (void)state;
    counter_src src = {.total = 8, .per_batch = 4};
    engine_case c = {.fake = {.rule = bulk_429_and_400}, .concurrency = 2, .max_events = 4,
                     .judge = es_like_judge};
    run_pipeline(&src, &c);
    int sends[8] = {0};
    size_t retry = MAX_SENDS;
    for (size_t i = 0; i < c.fake.nsent; i++) {
        for (size_t j = 0; j < c.fake.log[i].nevents; j++)
            sends[c.fake.log[i].events[j]]++;
        if (strcmp(c.fake.log[i].body, "[1]") == 0)
            retry = i;
    }
    /* The 429 item went again alone, as a retry; the 400 item never did. */
    assert_true(retry < MAX_SENDS);
    assert_int_equal(c.fake.log[retry].attempts, 1);
    assert_int_equal(sends[1], 2);
    assert_int_equal(sends[2], 1);
    assert_int_equal(c.fake.accepted[2], 0);
    for (int i = 0; i < 8; i++)
        if (i != 2) {
            assert_int_equal(c.fake.accepted[i], 1);
            if (i != 1)
                assert_int_equal(sends[i], 1);
        }
    assert_int_equal(c.fake.nsent, 3);
    /* The batch with the rejected item reports it; the other was delivered. */
    batch_status_is(&src, 0, ACK_REJECTED);
    batch_status_is(&src, 1, ACK_DELIVERED);
}

/* Events 0-3: 0 and 3 indexed, 1 throttled (429) every time, 2 rejected
 * (400); the others indexed. */
static answer bulk_429_forever_and_400(fake *f, const sent *s)
{
    if (strcmp(s->body, "[0,1,2,3]") == 0)
        return bulk_429_and_400(f, s);
    if (strcmp(s->body, "[1]") == 0)
        return (answer){.status = 200,
                        .body = "{\"took\":1,\"errors\":true,\"items\":["
                                ES_ITEM(429, ES_ERROR) "]}"};
    for (size_t i = 0; i < s->nevents; i++)
        f->accepted[s->events[i]]++;
    return (answer){.status = 200, .body = "{\"took\":1,\"errors\":false,\"items\":[]}"};
}

static void a_429_item_whose_retries_run_out_makes_its_batch_errored(void **state)
{
    (void)state;
    counter_src src = {.total = 8, .per_batch = 4};
    engine_case c = {.fake = {.rule = bulk_429_forever_and_400}, .concurrency = 2,
                     .max_events = 4, .retry_attempts = 1, .judge = es_like_judge};
    run_pipeline(&src, &c);
    int retries = 0;
    for (size_t i = 0; i < c.fake.nsent; i++)
        retries += strcmp(c.fake.log[i].body, "[1]") == 0;
    assert_int_equal(retries, 1);
    /* Item 1 ran out of retries (errored) and item 2 was rejected: the
     * batch is errored, which no source passes; the other was delivered. */
    batch_status_is(&src, 0, ACK_ERRORED);
    batch_status_is(&src, 1, ACK_DELIVERED);
}

/* ---- the endpoint that seems down ---- */

#define DOWN_EVENTS 20
#define FIRST_RETRY_MS 50
#define LATE_RETRY_MS 400

/* Event 0 fails once and comes back soon; events 1 and 2 fail once and
 * come back late; the others succeed. */
static answer down_then_up(fake *f, const sent *s)
{
    (void)f;
    if (s->attempts == 0 && s->nevents == 1 && s->events[0] <= 2)
        return (answer){.status = 503,
                        .retry_after_ms = s->events[0] == 0 ? FIRST_RETRY_MS : LATE_RETRY_MS};
    return (answer){.status = 200};
}

/* The send of an event after `attempts` failed ones. */
static const sent *send_of(const fake *f, int ev, unsigned attempts)
{
    for (size_t i = 0; i < f->nsent; i++)
        if (f->log[i].nevents == 1 && f->log[i].events[0] == ev &&
            f->log[i].attempts == attempts)
            return &f->log[i];
    fail_msg("event %d was not sent with %u failed attempts before", ev, attempts);
    return NULL;
}

static void failures_in_a_row_hold_input_until_a_request_succeeds(void **state)
{
    (void)state;
    counter_src src = {.total = DOWN_EVENTS, .per_batch = 1};
    engine_case c = {.fake = {.rule = down_then_up}, .concurrency = 2, .max_events = 1};
    run_pipeline(&src, &c);
    const fake *f = &c.fake;
    const sent *recovered = send_of(f, 0, 1);
    const sent *late = send_of(f, 1, 1);
    /* Two failures in a row (the limit): the sink seemed down, so the
     * waiting retries held the slots and no new event was read until event
     * 0's retry succeeded. At most the three events read before the second
     * failure went out meanwhile. */
    bool engaged = false;
    for (size_t i = 0; i < f->nsent; i++) {
        const sent *s = &f->log[i];
        engaged = engaged || s->failures_in_row >= 2;
        if (s->attempts == 0 && s->events[0] > 2)
            assert_true(s->at_ns > recovered->at_ns);
    }
    assert_true(engaged);
    /* Once it succeeded the endpoint works: events 1 and 2 wait for their
     * retry without a slot, and the rest went before them. */
    for (int e = 3; e < DOWN_EVENTS; e++) {
        const sent *s = send_of(f, e, 0);
        assert_true(s->at_ns < late->at_ns);
        assert_true(s->failures_in_row < 2);
    }
    for (int e = 0; e < DOWN_EVENTS; e++) {
        assert_int_equal(f->accepted[e], 1);
        batch_status_is(&src, e, ACK_DELIVERED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_failed_request_is_retried_and_delivered_once),
        cmocka_unit_test(a_transport_error_is_retried),
        cmocka_unit_test(a_413_splits_the_request_into_halves),
        cmocka_unit_test(a_400_is_rejected_without_a_retry),
        cmocka_unit_test(retries_that_run_out_release_the_batch_as_errored),
        cmocka_unit_test(a_bulk_response_retries_429_items_and_rejects_400_items),
        cmocka_unit_test(a_429_item_whose_retries_run_out_makes_its_batch_errored),
        cmocka_unit_test(failures_in_a_row_hold_input_until_a_request_succeeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
