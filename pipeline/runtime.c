/* runtime.c - threads, queues, the worker pool and the drain
 * (see runtime.h and component.h for the contracts it implements).
 *
 * Stages: a fused chain of stateless transforms reads one input queue. Any
 * idle worker takes the next batch of any stage with room, stamps it with
 * the stage's next sequence number and runs the chain on it; results are
 * parked in a ring of slots and emitted strictly in sequence order by
 * whichever worker completes the slot at the front, so batches leave a stage
 * in the order they entered it. */
#include "pipeline/runtime.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pipeline/buffer.h"
#include "pipeline/component.h"
#include "pipeline/log.h"

#define UTILIZATION_WINDOW_NS (5LL * 1000000000LL)
#define DRAIN_GRACE_MS 2000

typedef struct rt_node rt_node;
typedef struct rt_stage rt_stage;

/* A consumer's input: a transform stage's queue or a sink's buffer. */
typedef struct fanout_target {
    queue *stage;
    sink_buffer *buffer;
} fanout_target;

typedef struct fanout {
    size_t n;
    fanout_target *targets;
    bool to_stage;   /* its one consumer is a transform: see owed_bytes */
} fanout;

struct source_ctx {
    rt_node *node;
};

struct sink_ctx {
    rt_node *node;
    int64_t window_start;
    int64_t window_wait;
};

struct rt_node {
    runtime *rt;
    const topo_node *topo;
    const component_config *cfg;
    component_metrics metrics;
    void *state;
    bool built;
    fanout *outs;                /* one per output */
    queue *input;                /* transforms: their stage's */
    sink_buffer *buffer;         /* sinks */
    pthread_t thread;
    bool thread_started;
    struct source_ctx sctx;
    struct sink_ctx kctx;
    atomic_int_fast64_t busy_ns;       /* transforms: time in process() this window */
    atomic_int_fast64_t window_start;  /* transforms: start of the window */
};

typedef struct named_batch {
    size_t output;
    batch *b;
} named_batch;

typedef struct slot {
    bool done;
    batch *b;                    /* default output, may be NULL */
    named_batch *named;
    size_t nnamed, named_cap;
} slot;

struct transform_emit {
    rt_stage *stage;
    slot *slot;
    bool last;                   /* the chain's last transform: outputs leave */
    size_t noutputs;             /* of the transform, default included */
};

struct rt_stage {
    rt_node **chain;
    size_t n;
    queue *input;
    fanout *outs;                /* the last node's */
    slot *slots;
    size_t nslots;
    uint64_t seq_in, seq_out;
    size_t in_flight;
    bool emitting, input_ended, finished;
};

struct runtime {
    const topology *topo;
    rt_node *nodes;
    size_t n;
    rt_stage *stages;
    size_t nstages;
    uint32_t batch_events;

    atomic_bool stopping;
    int stop_fd;                 /* eventfd, readable once stopping */
    int done_fd;                 /* eventfd, readable once sources are done */
    atomic_size_t sources_running;

    pthread_mutex_t lock;        /* pool, stages, sink completion */
    pthread_cond_t work;         /* workers: a stage may have work */
    uint64_t wakeups;            /* bumped with every broadcast of `work`, so a
                                    worker that dropped the lock while looking
                                    for work knows it missed one */
    pthread_cond_t sinks_cond;   /* drain: a sink finished */
    size_t sinks_running;
    bool quit;
    pthread_t *workers;
    size_t nworkers;
    size_t rr;
};

/* ---------------------------------------------------------------- fan-out */

static bool same_target(fanout_target a, fanout_target b)
{
    return a.stage == b.stage && a.buffer == b.buffer;
}

static int fanout_add(fanout *f, fanout_target t)
{
    for (size_t i = 0; i < f->n; i++)
        if (same_target(f->targets[i], t))
            return 0;
    fanout_target *ts = realloc(f->targets, (f->n + 1) * sizeof(*ts));
    if (!ts)
        return -1;
    f->targets = ts;
    f->targets[f->n++] = t;
    return 0;
}

static queue_result target_push(fanout_target t, batch *b)
{
    return t.buffer ? buffer_push(t.buffer, b) : queue_push(t.stage, b);
}

/* Whether the size of a batch sent through f may be left to its consumer:
 * one transform stage, which computes it on a worker anyway. Sinks need it
 * at once for their buffer gauges, and shared batches must not be written
 * by several consumers. */
static bool fanout_defers_size(const fanout *f)
{
    return f->n == 1 && f->to_stage;
}

/* Hands b (ownership) to every consumer of an output. -1 when a consumer's
 * input was closed by a forced shutdown. (What a sink's buffer drops, it
 * counts itself.) */
static int fanout_push(const fanout *f, batch *b)
{
    if (f->n == 0) {
        batch_release(b, ACK_DELIVERED);
        return 0;
    }
    if (!fanout_defers_size(f))
        batch_json_bytes(b);   /* cache before sharing: consumers only read it */
    int rc = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (i + 1 < f->n)
            batch_ref(b);
        if (target_push(f->targets[i], b) == QUEUE_CLOSED)
            rc = -1;
    }
    return rc;
}

/* Registers the node as a producer of every distinct input it feeds, or,
 * when not registering, says it is done with them (a node feeding one
 * consumer through two outputs is still one producer of its input). */
static void node_for_each_target(rt_node *n, bool registering)
{
    fanout_target seen[64];
    size_t nseen = 0;
    for (size_t k = 0; k < n->topo->noutputs; k++) {
        fanout *f = &n->outs[k];
        for (size_t i = 0; i < f->n; i++) {
            fanout_target t = f->targets[i];
            bool dup = false;
            for (size_t s = 0; s < nseen && !dup; s++)
                dup = same_target(seen[s], t);
            if (dup)
                continue;
            if (nseen < SL_ARRAY_LEN(seen))
                seen[nseen++] = t;
            if (t.buffer)
                registering ? buffer_add_producer(t.buffer) : buffer_producer_done(t.buffer);
            else
                registering ? queue_add_producer(t.stage) : queue_producer_done(t.stage);
        }
    }
}

static void node_outputs_done(rt_node *n)
{
    node_for_each_target(n, false);
}

static void node_outputs_register(rt_node *n)
{
    node_for_each_target(n, true);
}

/* ---------------------------------------------------------------- sources */

batch *source_batch_new(source_ctx *ctx, ack_group *ack)
{
    return batch_new(ctx->node->rt->batch_events, ack);
}

int source_emit(source_ctx *ctx, batch *b)
{
    rt_node *n = ctx->node;
    if (b->count == 0) {
        batch_release(b, ACK_DELIVERED);
        return 0;
    }
    const fanout *f = &n->outs[0];
    metrics_add(n->metrics.received_events, b->count);
    metrics_add(n->metrics.received_raw_bytes, b->input_bytes);
    metrics_add(n->metrics.sent_events, b->count);
    if (fanout_defers_size(f)) {
        b->owed_bytes[0] = n->metrics.received_bytes;
        b->owed_bytes[1] = n->metrics.sent_bytes;
    } else {
        uint64_t bytes = batch_json_bytes(b);
        metrics_add(n->metrics.received_bytes, bytes);
        metrics_add(n->metrics.sent_bytes, bytes);
    }
    return fanout_push(f, b);
}

bool source_stopping(const source_ctx *ctx)
{
    return atomic_load_explicit(&ctx->node->rt->stopping, memory_order_relaxed);
}

int source_wait_fd(source_ctx *ctx, int fd, int timeout_ms)
{
    struct pollfd p[2] = {
        {.fd = ctx->node->rt->stop_fd, .events = POLLIN},
        {.fd = fd, .events = POLLIN},
    };
    for (;;) {
        int r = poll(p, 2, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (p[0].revents & POLLIN))
            return -1;
        return r == 0 ? 0 : 1;
    }
}

int source_sleep_ms(source_ctx *ctx, int64_t ms)
{
    int64_t deadline = sl_now_mono_ns() + ms * 1000000LL;
    struct pollfd p = {.fd = ctx->node->rt->stop_fd, .events = POLLIN};
    for (;;) {
        int64_t left = (deadline - sl_now_mono_ns()) / 1000000LL;
        if (left <= 0)
            return source_stopping(ctx) ? -1 : 0;
        int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return -1;
    }
}

const component_metrics *source_metrics(const source_ctx *ctx) { return &ctx->node->metrics; }
const char *source_id(const source_ctx *ctx) { return ctx->node->cfg->id; }

static void sources_finished_one(runtime *rt)
{
    if (atomic_fetch_sub(&rt->sources_running, 1) == 1) {
        uint64_t one = 1;
        ssize_t w = write(rt->done_fd, &one, sizeof(one));
        SL_UNUSED(w);
    }
}

static void *source_thread(void *arg)
{
    rt_node *n = arg;
    sl_error err = {{0}};
    if (n->cfg->desc->source_run(n->state, &n->sctx, &err) < 0) {
        slog_error(n->cfg->id, "source failed: %s", err.msg);
        component_metrics_error(&n->metrics, "source_failed", "receiving", 1);
    }
    node_outputs_done(n);
    sources_finished_one(n->rt);
    return NULL;
}

/* ------------------------------------------------------------------ sinks */

queue_result sink_next(sink_ctx *ctx, batch **out, int timeout_ms)
{
    rt_node *n = ctx->node;
    int64_t t0 = sl_now_mono_ns();
    queue_result r = buffer_pop(n->buffer, out, timeout_ms);
    int64_t t1 = sl_now_mono_ns();
    ctx->window_wait += t1 - t0;
    if (t1 - ctx->window_start >= UTILIZATION_WINDOW_NS) {
        double busy = 1.0 - (double)ctx->window_wait / (double)(t1 - ctx->window_start);
        metrics_set(n->metrics.utilization, busy < 0 ? 0 : busy);
        ctx->window_start = t1;
        ctx->window_wait = 0;
    }
    if (r == QUEUE_OK) {
        metrics_add(n->metrics.received_events, (*out)->count);
        metrics_add(n->metrics.received_bytes, batch_json_bytes(*out));
    }
    return r;
}

bool sink_must_stop(const sink_ctx *ctx)
{
    return buffer_must_stop(ctx->node->buffer);
}

void sink_done(sink_ctx *ctx, batch *b, ack_status status)
{
    sink_done_partial(ctx, b, status, 0);
}

void sink_done_partial(sink_ctx *ctx, batch *b, ack_status status, uint32_t dropped)
{
    rt_node *n = ctx->node;
    if (dropped > b->count)
        dropped = b->count;
    metrics_add(n->metrics.discarded_error, dropped);
    if (status == ACK_DELIVERED) {
        uint32_t sent = b->count - dropped;
        metrics_add(n->metrics.sent_events, sent);
        /* Bytes of the events sent, in proportion: sizes are estimates. */
        metrics_add(n->metrics.sent_bytes,
                    b->count ? b->json_bytes * sent / b->count : 0);
    } else {
        component_metrics_error(&n->metrics, "delivery_failed", "sending", 1);
        metrics_add(n->metrics.discarded_error, b->count - dropped);
    }
    batch_release(b, status);
}

void sink_done_mixed(sink_ctx *ctx, batch *b, uint32_t rejected, uint32_t errored)
{
    if (rejected == 0 && errored == 0) {
        sink_done(ctx, b, ACK_DELIVERED);
        return;
    }
    rt_node *n = ctx->node;
    uint32_t failed = rejected + errored;
    if (failed > b->count)
        failed = b->count;
    uint32_t sent = b->count - failed;
    metrics_add(n->metrics.discarded_error, failed);
    metrics_add(n->metrics.sent_events, sent);
    metrics_add(n->metrics.sent_bytes, b->count ? b->json_bytes * sent / b->count : 0);
    component_metrics_error(&n->metrics, "delivery_failed", "sending", 1);
    batch_release(b, errored ? ACK_ERRORED : ACK_REJECTED);
}

const component_metrics *sink_metrics(const sink_ctx *ctx) { return &ctx->node->metrics; }
const char *sink_id(const sink_ctx *ctx) { return ctx->node->cfg->id; }

/* The sink's healthcheck at start: logged, never fatal (Vector's default;
 * the pipeline must start even while a receiver is down). */
static void check_sink_health(rt_node *n)
{
    if (!n->cfg->healthcheck_enabled || !n->cfg->desc->healthcheck)
        return;
    sl_error err = {{0}};
    int rc = n->cfg->desc->healthcheck(n->state, &err);
    if (rc < 0) {
        slog_error(n->cfg->id, "Healthcheck failed: %s", err.msg);
        component_metrics_error(&n->metrics, "healthcheck_failed", "sending", 1);
    } else if (rc == 0) {
        slog_info(n->cfg->id, "Healthcheck passed.");
    }
}

static void *sink_thread(void *arg)
{
    rt_node *n = arg;
    runtime *rt = n->rt;
    sl_error err = {{0}};
    check_sink_health(n);
    n->kctx.window_start = sl_now_mono_ns();
    if (n->cfg->desc->sink_run(n->state, &n->kctx, &err) < 0) {
        slog_error(n->cfg->id, "sink failed: %s", err.msg);
        component_metrics_error(&n->metrics, "sink_failed", "sending", 1);
    }
    /* A sink that stopped early must not stall the pipeline behind it. */
    buffer_discard_rest(n->buffer, n->cfg->id);
    pthread_mutex_lock(&rt->lock);
    rt->sinks_running--;
    pthread_cond_broadcast(&rt->sinks_cond);
    pthread_mutex_unlock(&rt->lock);
    return NULL;
}

/* ------------------------------------------------------------- transforms */

int transform_emit_to(transform_emit *em, size_t named, batch *b)
{
    slot *s = em->slot;
    size_t output = named + 1;   /* topology outputs: [0] is the default */
    if (!em->last || output >= em->noutputs) {
        /* Intermediate transforms of a fused chain have no readers on
         * their named outputs (fusion requires it), and an index past the
         * outputs has none either: the events go nowhere, as delivered. */
        batch_release(b, ACK_DELIVERED);
        return 0;
    }
    if (SL_GROW(s->named, s->nnamed, s->named_cap, 4) < 0) {
        batch_release(b, ACK_ERRORED);
        return -1;
    }
    s->named[s->nnamed].output = output;
    s->named[s->nnamed].b = b;
    s->nnamed++;
    return 0;
}

/* Utilization of a transform: the share of the worker pool's time spent in
 * its process(), published once per window by whichever worker closes it. */
static void transform_account_busy(rt_node *n, int64_t t0, int64_t t1)
{
    atomic_fetch_add(&n->busy_ns, t1 - t0);
    int64_t start = atomic_load(&n->window_start);
    if (t1 - start < UTILIZATION_WINDOW_NS ||
        !atomic_compare_exchange_strong(&n->window_start, &start, t1))
        return;
    int64_t busy = atomic_exchange(&n->busy_ns, 0);
    double share = (double)busy / ((double)(t1 - start) * (double)n->rt->nworkers);
    metrics_set(n->metrics.utilization, share > 1.0 ? 1.0 : share);
}

/* Runs the chain on b (exclusively owned by now). Returns what is left for
 * the default output, or NULL when nothing is. */
static batch *stage_run_chain(rt_stage *st, slot *sl, batch *b)
{
    for (size_t i = 0; i < st->n && b; i++) {
        rt_node *n = st->chain[i];
        transform_emit em = {st, sl, i + 1 == st->n, n->topo->noutputs};
        metrics_add(n->metrics.received_events, b->count);
        metrics_add(n->metrics.received_bytes, batch_json_bytes(b));
        size_t named_before = sl->nnamed;
        sl_error err = {{0}};
        int64_t t0 = sl_now_mono_ns();
        if (n->cfg->desc->transform_process(n->state, b, &em, &err) < 0) {
            slog_error(n->cfg->id, "transform failed: %s", err.msg);
            component_metrics_error(&n->metrics, "transform_failed", "processing", 1);
        }
        transform_account_busy(n, t0, sl_now_mono_ns());
        uint64_t sent = b->count;
        for (size_t k = named_before; k < sl->nnamed; k++)
            sent += sl->named[k].b->count;
        metrics_add(n->metrics.sent_events, sent);
        metrics_add(n->metrics.sent_bytes, batch_json_bytes(b));
        if (b->count == 0) {
            batch_release(b, ACK_DELIVERED);
            b = NULL;
        }
    }
    return b;
}

static void stage_process(rt_stage *st, slot *sl, batch *b)
{
    if (batch_make_writable(&b) < 0) {
        rt_node *head = st->chain[0];
        slog_error(head->cfg->id, "out of memory copying a shared batch; %u events lost",
                   b->count);
        component_metrics_error(&head->metrics, "out_of_memory", "processing", 1);
        batch_release(b, ACK_ERRORED);
        sl->b = NULL;
        return;
    }
    sl->b = stage_run_chain(st, sl, b);
}

/* Tells idle workers that something changed; rt->lock held. */
static void pool_wake_locked(runtime *rt)
{
    rt->wakeups++;
    pthread_cond_broadcast(&rt->work);
}

/* Takes the finished slot at the front; called with rt->lock held and
 * returns false when the front is not done yet. */
static bool stage_take_front(rt_stage *st, slot *out)
{
    slot *front = &st->slots[st->seq_out % st->nslots];
    if (!front->done)
        return false;
    *out = *front;
    front->done = false;
    front->b = NULL;
    front->named = NULL;
    front->nnamed = front->named_cap = 0;
    return true;
}

static void slot_emit(rt_stage *st, slot *taken)
{
    if (taken->b)
        fanout_push(&st->outs[0], taken->b);
    for (size_t k = 0; k < taken->nnamed; k++)
        fanout_push(&st->outs[taken->named[k].output], taken->named[k].b);
    free(taken->named);
}

static bool stage_should_finish(rt_stage *st)
{
    if (st->finished || !st->input_ended || st->in_flight || st->emitting)
        return false;
    st->finished = true;
    return true;
}

/* Emits finished slots in sequence order; rt->lock held on entry and exit,
 * released while pushing downstream (which may block on back-pressure). */
static void stage_emit_ready(runtime *rt, rt_stage *st)
{
    if (st->emitting)
        return;
    st->emitting = true;
    slot taken;
    while (stage_take_front(st, &taken)) {
        pthread_mutex_unlock(&rt->lock);
        slot_emit(st, &taken);
        pthread_mutex_lock(&rt->lock);
        st->seq_out++;
        st->in_flight--;
    }
    st->emitting = false;
    pool_wake_locked(rt);
}

static void stage_finish_outputs(rt_stage *st)
{
    node_outputs_done(st->chain[st->n - 1]);
}

static bool stage_has_room(const rt_stage *st, bool serial)
{
    if (st->finished || st->input_ended)
        return false;
    return serial ? st->in_flight == 0 : st->in_flight < st->nslots;
}

/* Looks for a stage with work, round robin; rt->lock held. Returns the stage
 * with *b taken from its input, or NULL. Stages whose input ended are marked
 * and, when idle, finished (their outputs told) on the way. */
static rt_stage *pool_find_work(runtime *rt, batch **b)
{
    for (size_t k = 0; k < rt->nstages; k++) {
        rt_stage *st = &rt->stages[(rt->rr + k) % rt->nstages];
        bool serial = rt->topo->stages[st - rt->stages].serial;
        if (!stage_has_room(st, serial))
            continue;
        queue_result r = queue_pop(st->input, b, 0);
        if (r == QUEUE_OK) {
            rt->rr = (size_t)(st - rt->stages) + 1;
            return st;
        }
        if (r == QUEUE_END) {
            st->input_ended = true;
            if (stage_should_finish(st)) {
                pthread_mutex_unlock(&rt->lock);
                stage_finish_outputs(st);
                pthread_mutex_lock(&rt->lock);
            }
        }
    }
    return NULL;
}

static void *worker_thread(void *arg)
{
    runtime *rt = arg;
    pthread_mutex_lock(&rt->lock);
    while (!rt->quit) {
        batch *b = NULL;
        uint64_t seen = rt->wakeups;
        rt_stage *st = pool_find_work(rt, &b);
        if (!st) {
            while (rt->wakeups == seen && !rt->quit)
                pthread_cond_wait(&rt->work, &rt->lock);
            continue;
        }
        slot *sl = &st->slots[st->seq_in % st->nslots];
        b->seq = st->seq_in++;
        st->in_flight++;
        pthread_mutex_unlock(&rt->lock);
        stage_process(st, sl, b);
        pthread_mutex_lock(&rt->lock);
        sl->done = true;
        stage_emit_ready(rt, st);
        if (stage_should_finish(st)) {
            pthread_mutex_unlock(&rt->lock);
            stage_finish_outputs(st);
            pthread_mutex_lock(&rt->lock);
        }
    }
    pthread_mutex_unlock(&rt->lock);
    return NULL;
}

/* A batch arrived in a stage's queue: one batch needs one worker, so only
 * one is woken (waking them all costs every other one a futile scan on a
 * small machine). The wakeup count still moves, so a worker that was
 * scanning with the lock dropped scans again instead of sleeping. */
static void stage_queue_notify(void *ud)
{
    runtime *rt = ud;
    pthread_mutex_lock(&rt->lock);
    rt->wakeups++;
    pthread_cond_signal(&rt->work);
    pthread_mutex_unlock(&rt->lock);
}

/* ------------------------------------------------------------ build/start */

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int runtime_build_component(const component_config *cc, const char *data_dir,
                            void **state, sl_error *err)
{
    component_info info = {cc->id, data_dir, NULL, false, NULL, 0};
    *state = NULL;
    if (!cc->desc->build)
        return 0;
    return cc->desc->build(cc->options, &info, state, err);
}

/* Inputs: one buffer per sink and one queue per stage. Transform stages
 * get room for a few batches so workers stay busy. */
static int create_queues(runtime *rt, sl_error *err)
{
    for (size_t i = 0; i < rt->n; i++) {
        rt_node *n = &rt->nodes[i];
        if (n->cfg->kind == COMPONENT_SINK &&
            buffer_open(n->cfg, rt->topo->cfg->data_dir, rt->batch_events, &n->metrics,
                        &n->buffer, err) < 0)
            return -1;
    }
    for (size_t s = 0; s < rt->nstages; s++) {
        rt_stage *st = &rt->stages[s];
        st->input = queue_new((size_t)rt->batch_events * 4, QUEUE_BLOCK);
        if (!st->input)
            return sl_fail(err, "out of memory creating a transform queue");
        queue_set_notify(st->input, stage_queue_notify, rt);
        for (size_t k = 0; k < st->n; k++)
            st->chain[k]->input = st->input;
    }
    return 0;
}

static int connect_outputs(runtime *rt, sl_error *err)
{
    for (size_t i = 0; i < rt->n; i++) {
        rt_node *n = &rt->nodes[i];
        if (n->topo->noutputs == 0)
            continue;
        n->outs = calloc(n->topo->noutputs, sizeof(*n->outs));
        if (!n->outs)
            return sl_fail(err, "out of memory");
        for (size_t k = 0; k < n->topo->noutputs; k++) {
            const topo_output *o = &n->topo->outputs[k];
            for (size_t c = 0; c < o->nconsumers; c++) {
                rt_node *cn = &rt->nodes[o->consumers[c]];
                fanout_target t = {cn->input, cn->buffer};
                if (fanout_add(&n->outs[k], t) < 0)
                    return sl_fail(err, "out of memory");
                n->outs[k].to_stage = cn->cfg->kind == COMPONENT_TRANSFORM;
            }
        }
    }
    return 0;
}

static int create_stages(runtime *rt, unsigned threads, sl_error *err)
{
    const topology *t = rt->topo;
    rt->nstages = t->nstages;
    rt->stages = calloc(t->nstages ? t->nstages : 1, sizeof(*rt->stages));
    if (!rt->stages)
        return sl_fail(err, "out of memory");
    for (size_t s = 0; s < t->nstages; s++) {
        rt_stage *st = &rt->stages[s];
        st->n = t->stages[s].n;
        st->chain = calloc(st->n, sizeof(*st->chain));
        st->nslots = (size_t)threads * 2;
        st->slots = calloc(st->nslots, sizeof(*st->slots));
        if (!st->chain || !st->slots)
            return sl_fail(err, "out of memory");
        for (size_t k = 0; k < st->n; k++)
            st->chain[k] = &rt->nodes[t->stages[s].nodes[k]];
    }
    return 0;
}

static void link_stage_outputs(runtime *rt)
{
    for (size_t s = 0; s < rt->nstages; s++) {
        rt_stage *st = &rt->stages[s];
        st->outs = st->chain[st->n - 1]->outs;
    }
}

static int build_components(runtime *rt, sl_error *err)
{
    const sl_config *cfg = rt->topo->cfg;
    for (size_t i = 0; i < rt->n; i++) {
        rt_node *n = &rt->nodes[i];
        const char *kind = component_kind_name(n->cfg->kind);
        if (component_metrics_init(&n->metrics, n->cfg->id, kind, n->cfg->desc->type, err) < 0)
            return -1;
        const topo_node *tn = &rt->topo->nodes[i];
        bool acks = n->cfg->kind == COMPONENT_SOURCE && topo_wants_acks(rt->topo, i);
        component_info info = {n->cfg->id, cfg->data_dir, &n->metrics, acks,
                               tn->fields, tn->nfields};
        sl_error berr = {{0}};
        if (n->cfg->desc->build &&
            n->cfg->desc->build(n->cfg->options, &info, &n->state, &berr) < 0)
            return sl_fail(err, "%s: %s", n->cfg->label, berr.msg);
        n->built = true;
    }
    return 0;
}

/* A stage that feeds another stage may block a worker while emitting; one
 * worker more than such stages guarantees someone can always drain. */
static unsigned pool_size(const runtime *rt, unsigned threads)
{
    unsigned feeding = 0;
    for (size_t s = 0; s < rt->nstages; s++) {
        const rt_node *last = rt->stages[s].chain[rt->stages[s].n - 1];
        bool feeds_stage = false;
        for (size_t k = 0; k < last->topo->noutputs && !feeds_stage; k++)
            for (size_t c = 0; c < last->topo->outputs[k].nconsumers && !feeds_stage; c++)
                feeds_stage = rt->nodes[last->topo->outputs[k].consumers[c]].cfg->kind
                              == COMPONENT_TRANSFORM;
        feeding += feeds_stage;
    }
    return threads > feeding ? threads : feeding + 1;
}

/* Sources, and the last transform of each fused chain, produce into other
 * components' queues; the chain's inner links never leave the worker. */
static bool node_leaves_its_stage(const runtime *rt, const rt_node *n)
{
    if (n->cfg->kind == COMPONENT_SOURCE)
        return true;
    if (n->cfg->kind != COMPONENT_TRANSFORM)
        return false;
    const rt_stage *st = &rt->stages[n->topo->stage];
    return st->chain[st->n - 1] == n;
}

static int start_threads(runtime *rt, unsigned threads, sl_error *err)
{
    for (size_t i = 0; i < rt->n; i++) {
        rt_node *n = &rt->nodes[i];
        if (n->cfg->kind == COMPONENT_SINK) {
            n->kctx.node = n;
            rt->sinks_running++;
        } else if (n->cfg->kind == COMPONENT_SOURCE) {
            n->sctx.node = n;
            atomic_fetch_add(&rt->sources_running, 1);
        }
        if (n->cfg->kind == COMPONENT_TRANSFORM)
            atomic_store(&n->window_start, sl_now_mono_ns());
        if (node_leaves_its_stage(rt, n))
            node_outputs_register(n);
    }
    if (rt->nstages) {
        size_t want = pool_size(rt, threads);
        rt->workers = calloc(want, sizeof(*rt->workers));
        if (!rt->workers)
            return sl_fail(err, "out of memory");
        for (rt->nworkers = 0; rt->nworkers < want; rt->nworkers++)
            if (pthread_create(&rt->workers[rt->nworkers], NULL, worker_thread, rt) != 0)
                return sl_fail(err, "cannot start a worker thread: %s", strerror(errno));
    }
    for (size_t i = 0; i < rt->n; i++) {
        rt_node *n = &rt->nodes[i];
        void *(*fn)(void *) = n->cfg->kind == COMPONENT_SINK ? sink_thread
                            : n->cfg->kind == COMPONENT_SOURCE ? source_thread : NULL;
        if (!fn)
            continue;
        if (n->buffer && buffer_start(n->buffer, err) < 0)
            return -1;
        if (pthread_create(&n->thread, NULL, fn, n) != 0)
            return sl_fail(err, "cannot start the thread of %s: %s", n->cfg->id, strerror(errno));
        n->thread_started = true;
    }
    if (atomic_load(&rt->sources_running) == 0) {
        uint64_t one = 1;
        ssize_t w = write(rt->done_fd, &one, sizeof(one));
        SL_UNUSED(w);
    }
    return 0;
}

static runtime *runtime_alloc(const topology *topo, const runtime_options *opts)
{
    runtime *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return NULL;
    rt->topo = topo;
    rt->n = topo->n;
    rt->batch_events = opts && opts->batch_events ? opts->batch_events : BATCH_DEFAULT_EVENTS;
    rt->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rt->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&rt->lock, NULL);
    pthread_cond_init(&rt->work, NULL);
    pthread_cond_init(&rt->sinks_cond, NULL);
    rt->nodes = calloc(topo->n ? topo->n : 1, sizeof(*rt->nodes));
    if (!rt->nodes || rt->stop_fd < 0 || rt->done_fd < 0) {
        runtime_free(rt);
        return NULL;
    }
    for (size_t i = 0; i < topo->n; i++) {
        rt->nodes[i].rt = rt;
        rt->nodes[i].topo = &topo->nodes[i];
        rt->nodes[i].cfg = topo->nodes[i].cfg;
    }
    return rt;
}

int runtime_start(const topology *topo, const runtime_options *opts,
                  runtime **out, sl_error *err)
{
    *out = NULL;
    runtime *rt = runtime_alloc(topo, opts);
    if (!rt)
        return sl_fail(err, "out of memory starting the pipeline");
    unsigned threads = opts && opts->threads ? opts->threads : online_cpus();
    if (build_components(rt, err) < 0 || create_stages(rt, threads, err) < 0 ||
        create_queues(rt, err) < 0 || connect_outputs(rt, err) < 0) {
        runtime_free(rt);
        return -1;
    }
    link_stage_outputs(rt);
    if (start_threads(rt, threads, err) < 0) {
        runtime_drain(rt, 0);
        runtime_free(rt);
        return -1;
    }
    *out = rt;
    return 0;
}

int runtime_done_fd(const runtime *rt)
{
    return rt->done_fd;
}

/* ------------------------------------------------------------------ drain */

static void request_stop(runtime *rt)
{
    if (atomic_exchange(&rt->stopping, true))
        return;
    uint64_t one = 1;
    ssize_t w = write(rt->stop_fd, &one, sizeof(one));
    SL_UNUSED(w);
    for (size_t i = 0; i < rt->n; i++)
        if (rt->nodes[i].buffer)
            buffer_shutting_down(rt->nodes[i].buffer);
}

static bool wait_sinks(runtime *rt, int64_t deadline_ns)
{
    pthread_mutex_lock(&rt->lock);
    while (rt->sinks_running > 0) {
        int64_t left = deadline_ns - sl_now_mono_ns();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t step = left < 200000000LL ? left : 200000000LL;
        ts.tv_nsec += step % 1000000000LL;
        ts.tv_sec += step / 1000000000LL + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&rt->sinks_cond, &rt->lock, &ts);
    }
    bool drained = rt->sinks_running == 0;
    pthread_mutex_unlock(&rt->lock);
    return drained;
}

/* Events a sink read and has not finished: what it received, less what it
 * sent or gave up on. */
static uint64_t sink_held_events(const rt_node *n)
{
    uint64_t got = metrics_counter_value(n->metrics.received_events);
    uint64_t done = metrics_counter_value(n->metrics.sent_events) +
                    metrics_counter_value(n->metrics.discarded_error);
    return got > done ? got - done : 0;
}

/* Says, for each sink, what is not delivered and what becomes of it. */
static void log_pending(runtime *rt)
{
    for (size_t i = 0; i < rt->n; i++) {
        rt_node *n = &rt->nodes[i];
        if (n->buffer)
            buffer_log_pending(n->buffer, n->cfg->id, sink_held_events(n));
    }
}

static void close_all_queues(runtime *rt)
{
    for (size_t i = 0; i < rt->n; i++)
        if (rt->nodes[i].buffer)
            buffer_close(rt->nodes[i].buffer);
    for (size_t s = 0; s < rt->nstages; s++)
        if (rt->stages[s].input)
            queue_close(rt->stages[s].input);
}

static void join_threads(runtime *rt)
{
    for (size_t i = 0; i < rt->n; i++) {
        rt_node *n = &rt->nodes[i];
        if (n->thread_started && n->cfg->kind == COMPONENT_SOURCE) {
            pthread_join(n->thread, NULL);
            n->thread_started = false;
        }
    }
    pthread_mutex_lock(&rt->lock);
    rt->quit = true;
    pool_wake_locked(rt);
    pthread_mutex_unlock(&rt->lock);
    for (size_t w = 0; w < rt->nworkers; w++)
        pthread_join(rt->workers[w], NULL);
    rt->nworkers = 0;
    for (size_t i = 0; i < rt->n; i++) {
        rt_node *n = &rt->nodes[i];
        if (n->thread_started) {
            pthread_join(n->thread, NULL);
            n->thread_started = false;
        }
        /* Synced here too: after a forced stop the runtime is not freed (a
         * thread may still hold it), and what the sinks confirmed must not
         * be sent again by the next run. */
        if (n->buffer)
            buffer_stop(n->buffer);
    }
}

int runtime_drain(runtime *rt, int64_t timeout_ms)
{
    request_stop(rt);
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : sl_now_mono_ns() + timeout_ms * 1000000LL;
    if (wait_sinks(rt, deadline)) {
        join_threads(rt);
        return 0;
    }
    slog_error(NULL, "shutdown did not finish within %.1f s; stopping the sinks",
               (double)timeout_ms / 1000.0);
    log_pending(rt);
    close_all_queues(rt);
    if (!wait_sinks(rt, sl_now_mono_ns() + DRAIN_GRACE_MS * 1000000LL)) {
        /* A sink stuck in a blocking call: leave its thread to process exit
         * rather than hang the shutdown. */
        slog_error(NULL, "a sink did not stop; exiting without it");
        return -1;
    }
    join_threads(rt);
    return -1;
}

void runtime_free(runtime *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; rt->nodes && i < rt->n; i++) {
        rt_node *n = &rt->nodes[i];
        if (n->built && n->cfg->desc->destroy)
            n->cfg->desc->destroy(n->state);
        if (n->outs) {
            for (size_t k = 0; k < n->topo->noutputs; k++)
                free(n->outs[k].targets);
            free(n->outs);
        }
        buffer_free(n->buffer);   /* after the sink released what it read */
    }
    for (size_t s = 0; rt->stages && s < rt->nstages; s++) {
        queue_free(rt->stages[s].input);
        free(rt->stages[s].chain);
        free(rt->stages[s].slots);
    }
    free(rt->stages);
    free(rt->workers);
    free(rt->nodes);
    if (rt->stop_fd >= 0)
        close(rt->stop_fd);
    if (rt->done_fd >= 0)
        close(rt->done_fd);
    pthread_cond_destroy(&rt->work);
    pthread_cond_destroy(&rt->sinks_cond);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}
