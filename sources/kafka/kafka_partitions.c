/* kafka_partitions.c - what the `kafka` source's poller does to its
 * partitions: stores the offsets kafka_offsets says may be stored, pauses
 * and rewinds a partition whose delivery errored, pauses every partition
 * under lasting back-pressure, and on a rebalance or at shutdown drains
 * the partitions that go, commits them synchronously and lets them go,
 * with the assign calls of the group's protocol (eager or cooperative).
 * All of it runs on the poller's thread (librdkafka calls the rebalance
 * and commit callbacks from the poll). */
#include "sources/kafka/kafka_consumer_internal.h"
#include "pipeline/log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ partitions */

static rd_kafka_topic_partition_list_t *list_of(kafka_partition *const *parts, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)(n ? n : 1));
    for (size_t i = 0; l && i < n; i++)
        rd_kafka_topic_partition_list_add(l, parts[i]->topic, parts[i]->partition);
    return l;
}

/* The partitions assigned now that `want` selects, in kc->scratch. */
static size_t select_partitions(kafka_consumer *kc, bool (*want)(const kafka_partition *))
{
    size_t n, k = 0;
    kafka_partition *const *all = kafka_offsets_all(kc->offsets, &n);
    for (size_t i = 0; i < n; i++) {
        if (!all[i]->assigned || !want(all[i]))
            continue;
        if (k >= kc->scratch_cap && SL_GROW(kc->scratch, k, kc->scratch_cap, 16) < 0)
            return k;
        kc->scratch[k++] = all[i];
    }
    return k;
}

static void pause_or_resume(kafka_consumer *kc, kafka_partition *const *parts, size_t n,
                            bool pause)
{
    if (n == 0)
        return;
    rd_kafka_topic_partition_list_t *l = list_of(parts, n);
    if (!l)
        return;
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(kc->rk, l)
                                  : rd_kafka_resume_partitions(kc->rk, l);
    if (e)
        slog_warn(kc->id, "Could not %s partitions: %s", pause ? "pause" : "resume",
                  rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

static bool any_partition(const kafka_partition *p)
{
    SL_UNUSED(p);
    return true;
}

static bool accepting(const kafka_partition *p)
{
    return p->accepting;
}

static bool rewind_pending(const kafka_partition *p)
{
    return p->pending_rewind >= 0;
}

/* Reads errored partitions again from their first unacknowledged offset:
 * resumed first, then sought, so the seek is the position that counts. */
static void run_rewinds(kafka_consumer *kc)
{
    if (kc->paused)
        return;
    size_t n = select_partitions(kc, rewind_pending);
    if (n == 0)
        return;
    pause_or_resume(kc, kc->scratch, n, false);
    rd_kafka_topic_partition_list_t *l = list_of(kc->scratch, n);
    if (!l)
        return;
    for (size_t i = 0; i < n; i++) {
        l->elems[i].offset = kc->scratch[i]->pending_rewind;
        kc->scratch[i]->pending_rewind = -1;
        kc->scratch[i]->accepting = true;
    }
    rd_kafka_error_t *e = rd_kafka_seek_partitions(kc->rk, l, 0);
    if (e) {
        slog_error(kc->id, "Could not seek back to read again: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void store_offsets(kafka_consumer *kc, rd_kafka_topic_partition_list_t *l)
{
    if (l->cnt == 0)
        return;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(kc->rk, l);
    /* A partition revoked meanwhile refuses its store: its next owner reads
     * from the last commit, which is what at-least-once allows. */
    if (e && e != RD_KAFKA_RESP_ERR__STATE) {
        component_metrics_error(kc->metrics, "kafka_offset_update", "sending", 1);
        slog_warn(kc->id, "Could not store offsets: %s", rd_kafka_err2str(e));
    }
}

int kafka_partitions_act(kafka_consumer *kc)
{
    size_t n;
    const kafka_action *a;
    if (kafka_offsets_actions(kc->offsets, sl_now_mono_ns(), &a, &n) < 0)
        return -1;
    rd_kafka_topic_partition_list_t *store = rd_kafka_topic_partition_list_new(8);
    if (!store)
        return -1;
    for (size_t i = 0; i < n; i++) {
        kafka_partition *p = a[i].p;
        if (!p->assigned)
            continue;
        if (a[i].kind == KAFKA_ACTION_STORE) {
            rd_kafka_topic_partition_list_add(store, p->topic, p->partition)->offset =
                a[i].offset;
        } else if (a[i].kind == KAFKA_ACTION_PAUSE) {
            p->accepting = false;
            pause_or_resume(kc, &p, 1, true);
        } else {
            p->pending_rewind = a[i].offset;
        }
    }
    store_offsets(kc, store);
    rd_kafka_topic_partition_list_destroy(store);
    run_rewinds(kc);
    return 0;
}

/* Whether the hand-off would make the poller wait for another full batch. */
static bool handoff_full(kafka_consumer *kc)
{
    return queue_events(kc->handoff) + kc->batch_cap > (size_t)kc->batch_cap * HANDOFF_BATCHES;
}

/* Back-pressure. While the emitter's hand-off has no room for another
 * batch the poller takes no records and waits; when that lasts
 * PAUSE_AFTER_MS it pauses every partition, so that it goes on polling
 * (rebalances, statistics, the group's max.poll.interval.ms) without being
 * given records, and resumes them once the hand-off has drained. librdkafka
 * drops what it fetched ahead for a paused partition and fetches it again
 * after the resume, so a pause is kept for back-pressure that lasts, not
 * for the moments when the poller outruns the emitter. */
void kafka_partitions_back_pressure(kafka_consumer *kc)
{
    if (kc->paused) {
        if (queue_batches(kc->handoff) > RESUME_AT_BATCHES)
            return;
        size_t n = select_partitions(kc, accepting);
        pause_or_resume(kc, kc->scratch, n, false);
        kc->paused = false;
        run_rewinds(kc);
        return;
    }
    int64_t since = sl_now_mono_ns();
    while (handoff_full(kc)) {
        if (sl_now_mono_ns() - since >= (int64_t)PAUSE_AFTER_MS * 1000000) {
            size_t n = select_partitions(kc, any_partition);
            pause_or_resume(kc, kc->scratch, n, true);
            kc->paused = true;
            metrics_add(kc->pauses, 1);
            return;
        }
        if (source_sleep_ms(kc->ctx, 1) < 0)
            return;
    }
}

/* ------------------------------------------------------------ rebalances */

/* The partitions of l this source holds, in kc->scratch. */
static size_t held_of(kafka_consumer *kc, const rd_kafka_topic_partition_list_t *l)
{
    size_t k = 0;
    for (int i = 0; i < l->cnt; i++) {
        kafka_partition *p = kafka_offsets_partition(kc->offsets, l->elems[i].topic,
                                                     l->elems[i].partition);
        if (!p || !p->assigned)
            continue;
        if (k >= kc->scratch_cap && SL_GROW(kc->scratch, k, kc->scratch_cap, 16) < 0)
            break;
        kc->scratch[k++] = p;
    }
    return k;
}

/* librdkafka's commits (the periodic ones too) arrive on the consumer
 * queue, so on the poller: they say where a next owner would start. */
void kafka_partitions_committed(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_consumer *kc = opaque;
    SL_UNUSED(rk);
    if (err || !parts)
        return;
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &parts->elems[i];
        if (e->err || e->offset < 0)
            continue;
        kafka_partition *p = kafka_offsets_partition(kc->offsets, e->topic, e->partition);
        if (p && p->assigned)
            kafka_offsets_committed(p, e->offset);
    }
}

/* Stores and commits, synchronously, what the partitions acknowledged. A
 * failed commit leaves the acknowledged records past the group's offset to
 * be read again by the partitions' next owners: they are counted. */
static void commit_partitions(kafka_consumer *kc, kafka_partition *const *parts, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)(n ? n : 1));
    if (!l)
        return;
    for (size_t i = 0; i < n; i++) {
        int64_t next = kafka_offsets_take_store(kc->offsets, parts[i]);
        if (next >= 0)
            rd_kafka_topic_partition_list_add(l, parts[i]->topic, parts[i]->partition)->offset =
                next;
    }
    uint64_t again = 0;
    if (l->cnt > 0) {
        store_offsets(kc, l);
        rd_kafka_resp_err_t e = rd_kafka_commit(kc->rk, l, 0);
        bool failed = e && e != RD_KAFKA_RESP_ERR__NO_OFFSET;
        for (int i = 0; i < l->cnt; i++) {
            kafka_partition *p = kafka_offsets_partition(kc->offsets, l->elems[i].topic,
                                                         l->elems[i].partition);
            if (p && failed)
                again += kafka_offsets_uncommitted(p, l->elems[i].offset);
            else if (p)
                kafka_offsets_committed(p, l->elems[i].offset);
        }
        if (failed) {
            component_metrics_error(kc->metrics, "kafka_offset_update", "sending", 1);
            metrics_add(kc->drain_uncommitted, again);
            slog_error(kc->id, "Could not commit offsets: %s; %" PRIu64 " acknowledged records "
                       "will be read again.", rd_kafka_err2str(e), again);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Stops reading the partitions, waits up to drain_timeout_ms for what is
 * in flight, commits, and forgets them. */
static void drain_partitions(kafka_consumer *kc, kafka_partition **parts, size_t n,
                             const char *why)
{
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        kafka_offsets_stop(kc->offsets, parts[i]);
    if (kafka_consumer_flush(kc) < 0)
        kc->failed = true;
    int64_t deadline = sl_now_mono_ns() + (int64_t)kc->o->drain_timeout_ms * 1000000;
    uint64_t open = kafka_offsets_wait_idle(kc->offsets, parts, n, deadline);
    commit_partitions(kc, parts, n);
    uint64_t unacked = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t acked = kafka_offsets_acked_next(kc->offsets, parts[i]);
        if (open && parts[i]->read_next > acked && acked >= 0)
            unacked += (uint64_t)(parts[i]->read_next - acked);
        kafka_offsets_release(kc->offsets, parts[i]);
    }
    if (open) {
        metrics_add(kc->drain_unacked, unacked);
        slog_warn(kc->id, "Partitions %s: %" PRIu64 " records were not acknowledged within "
                  "drain_timeout_ms (%" PRIu64 " ms); they will be read again.", why, unacked,
                  kc->o->drain_timeout_ms);
    }
}

static void take_assignment(kafka_consumer *kc, const rd_kafka_topic_partition_list_t *l)
{
    for (int i = 0; i < l->cnt; i++) {
        kafka_partition *p = kafka_offsets_partition(kc->offsets, l->elems[i].topic,
                                                     l->elems[i].partition);
        if (!p) {
            kc->failed = true;
            continue;
        }
        kafka_offsets_assign(kc->offsets, p);
    }
}

static void log_assign_error(kafka_consumer *kc, rd_kafka_error_t *e, rd_kafka_resp_err_t code)
{
    if (e) {
        slog_error(kc->id, "Rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else if (code) {
        slog_error(kc->id, "Rebalance: %s", rd_kafka_err2str(code));
    }
}

/* "Assigned 2 partitions: logs[0], logs[3]." Naming them tells which
 * member reads what after a rebalance. */
static void log_rebalance(kafka_consumer *kc, const char *what,
                          const rd_kafka_topic_partition_list_t *l)
{
    buf names = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < l->cnt && i < LOGGED_PARTITIONS_MAX && rc == 0; i++)
        rc = buf_printf(&names, "%s%s[%" PRId32 "]", i ? ", " : ": ", l->elems[i].topic,
                        l->elems[i].partition);
    if (rc == 0 && l->cnt > LOGGED_PARTITIONS_MAX)
        rc = buf_printf(&names, " and %d more", l->cnt - LOGGED_PARTITIONS_MAX);
    slog_info(kc->id, "%s %d partitions%s.", what, l->cnt, rc == 0 && names.data ? names.data : "");
    buf_free(&names);
}

static bool read_from(const kafka_partition *p)
{
    return p->read_next >= 0;
}

/* For an incremental rebalance librdkafka 2.0.2 pauses the whole assignment
 * from its own thread, and drops the records of the partitions kept that a
 * consume_batch_queue call running meanwhile had already taken, while their
 * fetch position stays past them (the "batch API" known issue of its 2.0
 * changelog): they would be skipped. So the kept partitions are sought back
 * to the offset after the last record this source read. */
static void seek_kept_partitions(kafka_consumer *kc)
{
    size_t n = select_partitions(kc, read_from);
    if (n == 0)
        return;
    rd_kafka_topic_partition_list_t *l = list_of(kc->scratch, n);
    if (!l) {
        kc->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        l->elems[i].offset = kc->scratch[i]->read_next;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(kc->rk, l, 0);
    if (e) {
        slog_error(kc->id, "Rebalance: could not seek the partitions kept: %s",
                   rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Each protocol changes the assignment with its own calls: the eager one
 * replaces it (rd_kafka_assign), the cooperative one adds and removes
 * partitions (incremental) and keeps the others, which are sought back to
 * where this source read them (seek_kept_partitions). */
void kafka_partitions_rebalanced(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_consumer *kc = opaque;
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    bool cooperative = protocol && strcmp(protocol, "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_rebalance(kc, "Assigned", parts);
        take_assignment(kc, parts);
        if (cooperative) {
            log_assign_error(kc, rd_kafka_incremental_assign(rk, parts), 0);
            seek_kept_partitions(kc);
        } else {
            log_assign_error(kc, NULL, rd_kafka_assign(rk, parts));
        }
        if (kc->paused)
            rd_kafka_pause_partitions(rk, parts);
        return;
    }
    log_rebalance(kc, "Revoked", parts);
    size_t n = held_of(kc, parts);
    drain_partitions(kc, kc->scratch, n, "revoked");
    if (cooperative) {
        log_assign_error(kc, rd_kafka_incremental_unassign(rk, parts), 0);
        seek_kept_partitions(kc);
    } else {
        log_assign_error(kc, NULL, rd_kafka_assign(rk, NULL));
    }
}

void kafka_partitions_drain_all(kafka_consumer *kc, const char *why)
{
    size_t n = select_partitions(kc, any_partition);
    drain_partitions(kc, kc->scratch, n, why);
}
