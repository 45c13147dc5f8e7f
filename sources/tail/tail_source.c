/* tail_source.c - see tail_source.h.
 *
 * Lines are read straight into a block in the arena of the batch being
 * built, so an event's `.message` can point at them. Each batch keeps the
 * checkpoint position its hooks recorded for each file; those become the
 * checkpoints once the batch is handed on (without acknowledgements) or once
 * it and every batch before it are acknowledged (with them: the ack tracker
 * gives the contiguous prefix).
 *
 * The tailer reports a file that stops being followed from inside a read,
 * while the read block is still being filled; the engine queues those
 * files and runs the source's `closed` hook once the read has returned,
 * when it is safe to emit a full batch and start another. */
#include "sources/tail/tail_source.h"
#include "pipeline/log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BLOCK (256 * 1024)
#define CHECKPOINT_INTERVAL_MS 1000
#define IDLE_FIRST_MS 8
#define IDLE_MAX_MS 1000           /* polls at least this often, inotify or not */
#define IDLE_HOOK_EVERY_NS (100 * 1000000LL)

typedef struct file_pos {
    uint64_t fp, gen, end;
} file_pos;

/* The files a batch took lines from, with the checkpoint each may reach. */
typedef struct batch_rec {
    struct batch_rec *next;
    uint64_t seq;
    bool tracked;            /* its batch reports to the ack tracker */
    file_pos *pos;
    size_t n, cap;
} batch_rec;

/* A file the tailer stopped following during a read. */
typedef struct closed_file {
    struct closed_file *next;
    tailer_file f;           /* path owned */
} closed_file;

struct tail_batch {
    tail_source *ts;
    source_ctx *ctx;
    batch *b;
    batch_rec *rec;
    char *blk;
    size_t cap, used;
    int64_t now_ns;
    const char *path_src;    /* the tailer's path last copied ... */
    value path;              /* ... and its copy in the batch arena */
    bool reading;            /* inside tailer_read: the batch must not change */
    bool no_memory;
    bool stopping;
};

struct tail_source {
    tailer *tailer;
    tail_hooks hooks;
    bool acks;
    bool frozen;             /* a batch errored: checkpoints stay until restart */
    bool ran;
    bool ignore_checkpoints;
    size_t max_line_bytes;
    int64_t cooldown_ms;
    char *id;
    ack_tracker *tracker;
    batch_rec *head, *tail;  /* emitted, waiting for acknowledgement */
    uint64_t next_seq;
    tail_batch *tb;          /* while run() is reading, else NULL */
    closed_file *closed;     /* waiting for the closed hook */
    metrics_series *files_watched;
    metrics_series *checkpoints_written;
    metrics_series *lines_truncated;
    const component_metrics *metrics;
};

static void rec_free(batch_rec *r)
{
    if (r) {
        free(r->pos);
        free(r);
    }
}

/* ------------------------------------------------------------ lifetime */

/* The tailer's file_closed: queued while run() reads, passed straight on
 * (with no batch) otherwise. */
static void on_file_closed(void *ud, tailer_file *f)
{
    tail_source *ts = ud;
    if (!ts->tb) {
        if (ts->hooks.closed)
            ts->hooks.closed(ts->hooks.ud, NULL, f);
        return;
    }
    closed_file *c = calloc(1, sizeof(*c));
    char *path = c ? strdup(f->path) : NULL;
    if (!path) {
        /* Nothing can be emitted for it without memory: drop what it held. */
        free(c);
        slog_error(ts->id, "Out of memory: lines held back for %s are lost.", f->path);
        if (ts->hooks.closed)
            ts->hooks.closed(ts->hooks.ud, NULL, f);
        return;
    }
    c->f = *f;
    c->f.path = path;
    c->next = ts->closed;
    ts->closed = c;
}

/* <data_dir>/<id>/checkpoints.json, with the directory created. */
static int checkpoint_path(const char *data_dir, const char *id, char *out, size_t cap,
                           sl_error *err)
{
    if (!data_dir)
        return sl_fail(err, "no data_dir for the checkpoints");
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof(dir), "%s/%s", data_dir, id);
    if (n < 0 || (size_t)n >= sizeof(dir) || (size_t)n + 20 >= cap)
        return sl_fail(err, "data_dir path too long");
    snprintf(out, cap, "%s/checkpoints.json", dir);
    if (sl_mkdir_p(dir) < 0)
        return sl_fail(err, "cannot create the checkpoint directory %s: %s", dir,
                       strerror(errno));
    if (access(dir, W_OK | X_OK) < 0)
        return sl_fail(err, "data_dir \"%s\" is not writable: %s", dir, strerror(errno));
    return 0;
}

static void register_metrics(tail_source *ts, const component_metrics *m)
{
    ts->metrics = m;
    ts->files_watched = component_metrics_extra(m, "files_watched", METRICS_GAUGE,
                                                "Files being read now.");
    ts->checkpoints_written = component_metrics_extra(
        m, "checkpoints_written_total", METRICS_COUNTER,
        "Times the checkpoint file was written.");
    ts->lines_truncated = component_metrics_extra(
        m, "lines_truncated_total", METRICS_COUNTER,
        "Lines cut to max_line_bytes (max_line_action: truncate).");
}

int tail_source_new(const tail_source_options *o, const component_info *info,
                    tail_source **out, sl_error *err)
{
    char ckpt[PATH_MAX + 32];
    if (checkpoint_path(o->data_dir ? o->data_dir : info->data_dir, info->id, ckpt,
                        sizeof(ckpt), err) < 0)
        return -1;
    tail_source *ts = calloc(1, sizeof(*ts));
    if (!ts || !(ts->id = strdup(info->id))) {
        free(ts);
        return sl_fail(err, "out of memory");
    }
    ts->hooks = o->hooks;
    ts->acks = info->acks_enabled;
    ts->ignore_checkpoints = o->ignore_checkpoints;
    ts->max_line_bytes = o->tailer.max_line_bytes;
    ts->cooldown_ms = o->rescan_ms ? (int64_t)o->rescan_ms : 1;
    tailer_options to = o->tailer;
    to.auto_commit = false;
    to.log_id = ts->id;
    to.file_closed = on_file_closed;
    to.ud = ts;
    ts->tailer = tailer_new(&to, ckpt, err);
    if (!ts->tailer || (ts->acks && !(ts->tracker = ack_tracker_new()))) {
        if (ts->tailer)
            sl_fail(err, "out of memory");
        tail_source_free(ts);
        return -1;
    }
    if (info->metrics)
        register_metrics(ts, info->metrics);
    *out = ts;
    return 0;
}

const component_metrics *tail_source_metrics(const tail_source *ts)
{
    return ts->metrics;
}

static void save_checkpoints(tail_source *ts)
{
    sl_error err;
    int rc = tailer_save(ts->tailer, &err);
    if (rc > 0) {
        metrics_add(ts->checkpoints_written, 1);
    } else if (rc < 0) {
        slog_error(ts->id, "%s", err.msg);
        if (ts->metrics)
            component_metrics_error(ts->metrics, "checkpoint_write_failed", "receiving", 1);
    }
}

static void apply_rec(tail_source *ts, const batch_rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        tailer_commit(ts->tailer, r->pos[i].fp, r->pos[i].gen, r->pos[i].end);
}

/* A batch that errored (a sink stopped before delivering it, memory ran
 * out) must be read again, and a tailer can't go back while it runs: the
 * checkpoints stay before it, so the next run reads from there (lines after
 * it may then be delivered twice), and batches stop being tracked. */
static void freeze_if_blocked(tail_source *ts)
{
    if (ts->frozen || !ack_tracker_blocked(ts->tracker))
        return;
    ts->frozen = true;
    slog_error(ts->id, "A batch could not be delivered for now; checkpoints stay where they "
               "are until restart, which reads from there again.");
    component_metrics_error(ts->metrics, "delivery_errored", "receiving", 1);
}

/* Commits the batches whose acknowledgements form the delivered prefix. */
static void advance_acks(tail_source *ts)
{
    uint64_t last, failed;
    while (ack_tracker_advance(ts->tracker, &last, &failed)) {
        if (failed)
            slog_warn(ts->id, "%" PRIu64 " batches were rejected by a sink; their lines are "
                      "not read again.", failed);
        while (ts->head && ts->head->seq <= last) {
            batch_rec *r = ts->head;
            ts->head = r->next;
            if (!ts->head)
                ts->tail = NULL;
            apply_rec(ts, r);
            rec_free(r);
        }
    }
    freeze_if_blocked(ts);
}

static void free_closed(tail_source *ts)
{
    while (ts->closed) {
        closed_file *c = ts->closed;
        ts->closed = c->next;
        if (ts->hooks.closed)
            ts->hooks.closed(ts->hooks.ud, NULL, &c->f);
        free((char *)c->f.path);
        free(c);
    }
}

void tail_source_free(tail_source *ts)
{
    if (!ts)
        return;
    if (ts->ran && ts->tailer) {
        if (ts->acks)
            advance_acks(ts);
        save_checkpoints(ts);
    }
    ts->tb = NULL;
    free_closed(ts);
    while (ts->head) {
        batch_rec *r = ts->head;
        ts->head = r->next;
        rec_free(r);
    }
    tailer_free(ts->tailer);
    ack_tracker_free(ts->tracker);
    free(ts->id);
    free(ts);
}

/* ------------------------------------------------------------ batches */

static void ack_done(void *ud, uint64_t token, ack_status status)
{
    ack_tracker_complete(ud, token, status);
}

static int begin_batch(tail_batch *tb)
{
    tail_source *ts = tb->ts;
    batch_rec *rec = calloc(1, sizeof(*rec));
    if (!rec)
        return -1;
    rec->seq = ts->next_seq++;
    ack_group *g = NULL;
    if (ts->acks && !ts->frozen) {
        uint64_t token;
        if (ack_tracker_add(ts->tracker, rec->seq, &token) < 0 ||
            !(g = ack_group_new(ack_done, ts->tracker, token))) {
            rec_free(rec);
            return -1;
        }
        rec->tracked = true;
    }
    tb->b = source_batch_new(tb->ctx, g);
    ack_group_release(g, ACK_DELIVERED);
    if (!tb->b) {
        rec_free(rec);
        return -1;
    }
    tb->rec = rec;
    tb->blk = NULL;
    tb->cap = tb->used = 0;
    tb->path_src = NULL;
    return 0;
}

/* Hands the batch on; 0, or -1 when the pipeline is stopping. */
static int end_batch(tail_batch *tb)
{
    tail_source *ts = tb->ts;
    batch_rec *rec = tb->rec;
    batch *b = tb->b;
    tb->b = NULL;
    tb->rec = NULL;
    if (rec->tracked) {
        if (ts->tail)
            ts->tail->next = rec;
        else
            ts->head = rec;
        ts->tail = rec;
        int rc = source_emit(tb->ctx, b);
        advance_acks(ts);
        return rc;
    }
    int rc = source_emit(tb->ctx, b);
    if (rc == 0 && !ts->acks)
        apply_rec(ts, rec);
    rec_free(rec);
    return rc;
}

/* Out of memory, a hook may have left an event half made: the batch is
 * not sent and its lines stay behind the checkpoint, read again after a
 * restart. */
static void discard_batch(tail_batch *tb)
{
    batch_release(tb->b, ACK_ERRORED);
    rec_free(tb->rec);
    tb->b = NULL;
    tb->rec = NULL;
}

/* Hands the batch on and starts the next: -1 when stopping (stopping set)
 * or out of memory (no_memory set). */
static int next_batch(tail_batch *tb)
{
    if (end_batch(tb) < 0) {
        tb->stopping = true;
        return -1;
    }
    if (begin_batch(tb) < 0) {
        tb->no_memory = true;
        return -1;
    }
    return 0;
}

static int note_pos(batch_rec *rec, const tailer_file *f, uint64_t end)
{
    if (rec->n && rec->pos[rec->n - 1].fp == f->fp && rec->pos[rec->n - 1].gen == f->gen) {
        rec->pos[rec->n - 1].end = end;
        return 0;
    }
    for (size_t i = 0; i < rec->n; i++)
        if (rec->pos[i].fp == f->fp && rec->pos[i].gen == f->gen) {
            /* Move it last, so the common case above stays one compare. */
            file_pos p = rec->pos[i];
            memmove(&rec->pos[i], &rec->pos[i + 1], (rec->n - i - 1) * sizeof(p));
            p.end = end;
            rec->pos[rec->n - 1] = p;
            return 0;
        }
    if (SL_GROW(rec->pos, rec->n, rec->cap, 4) < 0)
        return -1;
    rec->pos[rec->n++] = (file_pos){f->fp, f->gen, end};
    return 0;
}

/* ------------------------------------------------------------ hook API */

int tail_note(tail_batch *tb, const tailer_file *f, uint64_t commit)
{
    if (note_pos(tb->rec, f, commit) < 0) {
        tb->no_memory = true;
        return -1;
    }
    return 0;
}

event *tail_push(tail_batch *tb, const tailer_file *f, uint64_t commit)
{
    if (!tb->b || tb->stopping || tb->no_memory)
        return NULL;
    if (tb->b->count >= tb->b->cap && tb->reading) {
        /* A line hook broke the one-event-per-line rule: stop rather than
         * lose the line. */
        slog_error(tb->ts->id, "A line of %s made more than one event; the source stops.",
                   f->path);
        tb->no_memory = true;
        return NULL;
    }
    if (tb->b->count >= tb->b->cap && next_batch(tb) < 0)
        return NULL;
    event *e = batch_push(tb->b);
    if (!e) {
        tb->no_memory = true;
        return NULL;
    }
    if (tail_note(tb, f, commit) < 0) {
        batch_pop(tb->b);
        return NULL;
    }
    return e;
}

arena *tail_arena(tail_batch *tb)
{
    return tb->b->arena;
}

value tail_path_value(tail_batch *tb, const tailer_file *f)
{
    if (f->path != tb->path_src) {
        size_t n = strlen(f->path);
        char *p = arena_alloc(tb->b->arena, n + 1);
        if (!p)
            return value_null();
        memcpy(p, f->path, n + 1);
        tb->path = value_bytes(p, n);
        tb->path_src = f->path;
    }
    return tb->path;
}

int64_t tail_read_time_ns(const tail_batch *tb)
{
    return tb->now_ns;
}

/* ------------------------------------------------------------ reading */

static int on_line(void *ud, tailer_file *f, const char *line, size_t len, uint64_t end)
{
    tail_batch *tb = ud;
    tail_source *ts = tb->ts;
    if (ts->hooks.line(ts->hooks.ud, tb, f, line, len, end) < 0) {
        tb->no_memory = true;
        return 1;
    }
    return tb->b->count >= tb->b->cap || tb->no_memory;
}

static int ensure_block(tail_batch *tb)
{
    size_t need = tb->ts->max_line_bytes + 64 * 1024;
    if (tb->blk && tb->cap - tb->used >= need)
        return 0;
    size_t cap = need > READ_BLOCK ? need * 2 : READ_BLOCK;
    tb->blk = arena_alloc(tb->b->arena, cap);
    if (!tb->blk)
        return -1;
    tb->cap = cap;
    tb->used = 0;
    return 0;
}

/* Runs the closed hook for the files that stopped during the last read. */
static void run_closed_hooks(tail_source *ts, tail_batch *tb)
{
    while (ts->closed) {
        closed_file *c = ts->closed;
        ts->closed = c->next;
        tb->path_src = NULL;
        if (ts->hooks.closed)
            ts->hooks.closed(ts->hooks.ud, tb, &c->f);
        free((char *)c->f.path);
        free(c);
    }
    tb->path_src = NULL;   /* the copies' addresses may be reused */
}

static void report_discards(tail_source *ts, uint64_t *seen)
{
    uint64_t d = tailer_discarded_lines(ts->tailer);
    if (d == *seen)
        return;
    uint64_t n = d - *seen;
    *seen = d;
    if (ts->metrics) {
        metrics_add(ts->metrics->discarded_error, n);
        component_metrics_error(ts->metrics, "oversized_line", "receiving", n);
    }
    slog_warn(ts->id, "Discarded %" PRIu64 " lines longer than max_line_bytes (%zu bytes).",
              n, ts->max_line_bytes);
}

static void report_truncations(tail_source *ts, uint64_t *seen)
{
    uint64_t d = tailer_truncated_lines(ts->tailer);
    if (d == *seen)
        return;
    metrics_add(ts->lines_truncated, d - *seen);
    slog_warn(ts->id, "Truncated %" PRIu64 " lines longer than max_line_bytes (%zu bytes).",
              d - *seen, ts->max_line_bytes);
    *seen = d;
}

static void report_read_errors(tail_source *ts, uint64_t *seen)
{
    uint64_t d = tailer_read_errors(ts->tailer);
    if (d != *seen && ts->metrics)
        component_metrics_error(ts->metrics, "reading_failed", "receiving", d - *seen);
    *seen = d;
}

/* The loop's clocks and counters. */
typedef struct tail_loop {
    int64_t next_scan, next_ckpt, next_idle_hook;
    int64_t idle_ms;
    uint64_t discards_seen, truncations_seen, errors_seen;
} tail_loop;

static void scan_files(tail_source *ts, tail_batch *tb, tail_loop *l, int64_t now)
{
    tailer_scan(ts->tailer);
    run_closed_hooks(ts, tb);
    metrics_set(ts->files_watched, (double)tailer_files(ts->tailer));
    report_read_errors(ts, &l->errors_seen);
    tb->path_src = NULL;   /* a renamed file's path may reuse the address */
    l->next_scan = now + ts->cooldown_ms * 1000000LL;
}

static void run_idle_hook(tail_source *ts, tail_batch *tb, tail_loop *l, int64_t now)
{
    l->next_idle_hook = now + IDLE_HOOK_EVERY_NS;
    if (ts->hooks.idle)
        ts->hooks.idle(ts->hooks.ud, tb, now);
    tb->path_src = NULL;
}

/* Nothing to read anywhere: waits for inotify, the next scan or checkpoint,
 * or a doubling pause (which also catches what inotify can't report, such
 * as a directory it could not watch). -1 when the pipeline stops. */
static int wait_for_data(tail_source *ts, source_ctx *ctx, tail_loop *l)
{
    l->idle_ms = l->idle_ms ? l->idle_ms * 2 : IDLE_FIRST_MS;
    if (l->idle_ms > IDLE_MAX_MS)
        l->idle_ms = IDLE_MAX_MS;
    int64_t until = (l->next_scan < l->next_ckpt ? l->next_scan : l->next_ckpt) -
                    sl_now_mono_ns();
    int fd = tailer_wait_fd(ts->tailer);
    int64_t sleep_ms = l->idle_ms;
    if (until / 1000000LL < sleep_ms)
        sleep_ms = until > 0 ? until / 1000000LL + 1 : 0;
    if (sleep_ms <= 0)
        return 0;
    if (fd < 0)
        return source_sleep_ms(ctx, sleep_ms);
    int rc = source_wait_fd(ctx, fd, sleep_ms > INT_MAX ? INT_MAX : (int)sleep_ms);
    if (rc < 0)
        return -1;
    unsigned notes = tailer_take_notes(ts->tailer);
    if (notes & TAILER_NOTE_FILES)
        l->next_scan = 0;
    return 0;
}

static int read_loop(tail_source *ts, tail_batch *tb, source_ctx *ctx, sl_error *err)
{
    int64_t now = sl_now_mono_ns();
    tail_loop l = {.next_ckpt = now + CHECKPOINT_INTERVAL_MS * 1000000LL,
                   .next_idle_hook = now + IDLE_HOOK_EVERY_NS};
    for (;;) {
        if (source_stopping(ctx) || tb->stopping)
            return 0;
        now = sl_now_mono_ns();
        if (now >= l.next_scan)
            scan_files(ts, tb, &l, now);
        if (now >= l.next_ckpt) {
            if (ts->acks)
                advance_acks(ts);
            save_checkpoints(ts);
            l.next_ckpt = now + CHECKPOINT_INTERVAL_MS * 1000000LL;
        }
        if (now >= l.next_idle_hook)
            run_idle_hook(ts, tb, &l, now);
        if (tb->no_memory || tb->stopping)
            break;
        if (ensure_block(tb) < 0) {
            tb->no_memory = true;
            break;
        }
        tb->now_ns = sl_now_wall_ns();
        size_t used = 0;
        tb->reading = true;
        int rc = tailer_read(ts->tailer, tb->blk + tb->used, tb->cap - tb->used,
                             tb->b->cap - tb->b->count, on_line, tb, &used);
        tb->reading = false;
        tb->used += used;
        tb->b->input_bytes += used;
        report_discards(ts, &l.discards_seen);
        report_truncations(ts, &l.truncations_seen);
        run_closed_hooks(ts, tb);
        if (tb->no_memory || tb->stopping)
            break;
        if (rc < 0)
            return sl_fail(err, "read buffer smaller than max_line_bytes");
        if (rc > 0) {
            l.idle_ms = 0;
            if (tb->b->count >= tb->b->cap && next_batch(tb) < 0)
                break;
            continue;
        }
        run_idle_hook(ts, tb, &l, sl_now_mono_ns());
        if (tb->no_memory || tb->stopping)
            break;
        /* Nothing to read anywhere: send what we have and wait. */
        if (tb->b->count > 0 && next_batch(tb) < 0)
            break;
        if (wait_for_data(ts, ctx, &l) < 0)
            break;
    }
    return tb->no_memory ? sl_fail(err, "out of memory") : 0;
}

int tail_source_run(tail_source *ts, source_ctx *ctx, sl_error *err)
{
    ts->ran = true;
    if (!ts->metrics)
        ts->metrics = source_metrics(ctx);
    int lrc = ts->ignore_checkpoints ? 0 : tailer_load(ts->tailer, err);
    if (lrc < 0)
        return -1;
    if (lrc > 0)
        component_metrics_error(ts->metrics, "checkpoint_corrupt", "receiving", 1);
    tail_batch tb = {0};
    tb.ts = ts;
    tb.ctx = ctx;
    if (begin_batch(&tb) < 0)
        return sl_fail(err, "out of memory");
    ts->tb = &tb;
    int result = read_loop(ts, &tb, ctx, err);
    ts->tb = NULL;
    if (tb.b && tb.no_memory)
        discard_batch(&tb);
    else if (tb.b)
        end_batch(&tb);
    if (ts->acks)
        advance_acks(ts);
    save_checkpoints(ts);
    return result;
}
