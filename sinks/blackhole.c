/* blackhole.c - the `blackhole` sink: takes events, counts them, drops them.
 *
 * It is what benchmarks measure a pipeline against, so it does no work per
 * event: it counts a batch's events and estimated JSON bytes and releases the
 * batch as delivered. Like Vector's, it logs the running totals every
 * print_interval_secs, optionally paces itself to `rate` events per second,
 * and logs the final totals when its input ends; the benchmark harness reads
 * that last line ("Total events collected. events=N raw_bytes=B"). */
#include "pipeline/component.h"
#include "pipeline/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>


typedef struct blackhole_options {
    uint64_t print_interval_secs;
    uint64_t rate;
} blackhole_options;

static const opt_spec blackhole_option_table[] = {
    OPT_UINT_ROW("print_interval_secs", blackhole_options, print_interval_secs, .def = "1",
        .help = "Seconds between logs of the totals; 0 logs only the final totals."),
    OPT_UINT_ROW("rate", blackhole_options, rate,
        .help = "The most events per second to take; unlimited when not set."),
    OPT_END,
};

typedef struct blackhole_state {
    int64_t print_interval_ns;
    uint64_t rate;
} blackhole_state;

static int blackhole_build(const void *options, const component_info *info, void **state,
                           sl_error *err)
{
    const blackhole_options *o = options;
    SL_UNUSED(info);
    blackhole_state *st = calloc(1, sizeof(*st));
    if (!st)
        return sl_fail(err, "out of memory");
    uint64_t secs = o->print_interval_secs;
    st->print_interval_ns = secs > INT64_MAX / NS_PER_SEC ? INT64_MAX : (int64_t)secs * NS_PER_SEC;
    st->rate = o->rate;
    *state = st;
    return 0;
}

static void blackhole_destroy(void *state)
{
    free(state);
}

static void sleep_until_mono(int64_t deadline_ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline_ns / NS_PER_SEC),
        .tv_nsec = (long)(deadline_ns % NS_PER_SEC),
    };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

typedef struct tally {
    uint64_t events, bytes;
    int64_t next_print_ns;    /* 0 = no periodic logs */
    int64_t paced_until_ns;   /* rate: when the events taken so far are due */
} tally;

/* With a rate, each batch is taken only when its events are due, as
 * Vector's does: the sink then pulls no faster than `rate`. */
static void pace(const blackhole_state *st, tally *t, uint32_t events)
{
    if (!st->rate)
        return;
    int64_t now = sl_now_mono_ns();
    if (t->paced_until_ns < now)
        t->paced_until_ns = now;
    t->paced_until_ns += (int64_t)((double)events * NS_PER_SEC / (double)st->rate);
    sleep_until_mono(t->paced_until_ns);
}

static void log_progress(const blackhole_state *st, tally *t, const char *id)
{
    if (!t->next_print_ns)
        return;
    int64_t now = sl_now_mono_ns();
    if (now < t->next_print_ns)
        return;
    slog_info(id, "Collected events. events=%" PRIu64 " raw_bytes=%" PRIu64, t->events, t->bytes);
    while (t->next_print_ns <= now)
        t->next_print_ns += st->print_interval_ns;
}

static int wait_ms(const tally *t)
{
    if (!t->next_print_ns)
        return -1;
    int64_t left = t->next_print_ns - sl_now_mono_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > 60000 ? 60000 : (int)ms;
}

static int blackhole_run(void *state, sink_ctx *ctx, sl_error *err)
{
    const blackhole_state *st = state;
    const char *id = sink_id(ctx);
    tally t = {0};
    SL_UNUSED(err);
    if (st->print_interval_ns > 0)
        t.next_print_ns = sl_now_mono_ns() + st->print_interval_ns;
    for (;;) {
        batch *b;
        queue_result q = sink_next(ctx, &b, wait_ms(&t));
        if (q == QUEUE_END)
            break;
        if (q == QUEUE_OK) {
            pace(st, &t, b->count);
            t.events += b->count;
            t.bytes += batch_json_bytes(b);
            sink_done(ctx, b, ACK_DELIVERED);
        }
        log_progress(st, &t, id);
    }
    slog_info(id, "Total events collected. events=%" PRIu64 " raw_bytes=%" PRIu64,
              t.events, t.bytes);
    return 0;
}

const component_desc sink_blackhole_desc = {
    .type = "blackhole",
    .kind = COMPONENT_SINK,
    .summary = "Counts events and drops them (benchmarks, tests).",
    .options = blackhole_option_table,
    .options_size = sizeof(blackhole_options),
    .input_types = EVENT_LOG | EVENT_METRIC,
    .build = blackhole_build,
    .destroy = blackhole_destroy,
    .sink_run = blackhole_run,
};
