/* file.c - the `file` source: lines of files found by glob patterns, as
 * Vector's `file` source, on top of the shared tailer (tailer.h).
 *
 * Lines are read straight into a block in the arena of the batch being
 * built, and `.message` points into it. Each batch keeps the end offset of
 * the last line it took from each file; those become the checkpoint once the
 * batch is handed on (without acknowledgements) or once it and every batch
 * before it are acknowledged (with them: the ack tracker gives the
 * contiguous prefix). Checkpoints are written every second when they moved,
 * when the source stops, and again when it is destroyed (after the pipeline
 * drained, so the last acknowledgements count).
 *
 * When no file has a complete line the source sleeps, doubling the pause up
 * to glob_minimum_cooldown_ms, and rescans the patterns every
 * glob_minimum_cooldown_ms: an idle source costs next to nothing. */
#include "../pipeline/component.h"
#include "../pipeline/log.h"
#include "tailer.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BLOCK (256 * 1024)
#define CHECKPOINT_INTERVAL_MS 1000
#define IDLE_FIRST_MS 8

enum { READ_FROM_BEGINNING = 0, READ_FROM_END };

typedef struct file_options {
    opt_list include;
    opt_list exclude;
    int read_from;
    uint64_t ignore_older_secs;
    uint64_t max_line_bytes;
    char *line_delimiter;
    uint64_t glob_minimum_cooldown_ms;
    int fp_strategy;
    uint64_t fp_lines;
    char *data_dir;
    bool ignore_checkpoints;
} file_options;

static const char *const read_from_names[] = {"beginning", "end", NULL};
static const char *const strategy_names[] = {"checksum", "device_and_inode", NULL};

static const opt_spec fingerprint_fields[] = {
    {"strategy", OPT_ENUM, offsetof(file_options, fp_strategy), "checksum", false,
     "How a file is recognised: checksum (CRC32 of its first lines) or "
     "device_and_inode.", strategy_names, NULL},
    {"lines", OPT_UINT, offsetof(file_options, fp_lines), "1", false,
     "checksum: how many first lines are hashed; a file is read once it has them.",
     NULL, NULL},
    OPT_END,
};

static const opt_spec file_option_table[] = {
    {"include", OPT_STRING_LIST, offsetof(file_options, include), NULL, true,
     "Glob patterns of the files to read; `**` spans directories.", NULL, NULL},
    {"exclude", OPT_STRING_LIST, offsetof(file_options, exclude), NULL, false,
     "Glob patterns of files not to read, applied after include.", NULL, NULL},
    {"read_from", OPT_ENUM, offsetof(file_options, read_from), "beginning", false,
     "Where files present at startup without a checkpoint start.", read_from_names, NULL},
    {"ignore_older_secs", OPT_UINT, offsetof(file_options, ignore_older_secs), NULL, false,
     "Files not modified for this many seconds are not read.", NULL, NULL},
    {"max_line_bytes", OPT_UINT, offsetof(file_options, max_line_bytes), "102400", false,
     "Lines longer than this many bytes are discarded and counted.", NULL, NULL},
    {"line_delimiter", OPT_STRING, offsetof(file_options, line_delimiter), "\n", false,
     "The string that ends a line.", NULL, NULL},
    {"glob_minimum_cooldown_ms", OPT_UINT, offsetof(file_options, glob_minimum_cooldown_ms),
     "1000", false, "How often the patterns are searched for new files, in milliseconds.",
     NULL, NULL},
    {"fingerprint", OPT_OBJECT, 0, NULL, false, "How files are identified.", NULL,
     fingerprint_fields},
    {"ignore_checkpoints", OPT_BOOL, offsetof(file_options, ignore_checkpoints), "false",
     false, "Start as if there were no checkpoints (they are still written).", NULL, NULL},
    {"data_dir", OPT_STRING, offsetof(file_options, data_dir), NULL, false,
     "Directory for the checkpoints, instead of the global data_dir.", NULL, NULL},
    OPT_END,
};

static size_t file_check(const void *options, const char *label, const cfg_node *node,
                         diag_list *diags)
{
    const file_options *o = options;
    size_t errors = 0;
    if (o->include.n == 0) {
        diag_add(diags, DIAG_ERROR, node, label, "include must list at least one pattern");
        errors++;
    }
    if (!o->line_delimiter || !o->line_delimiter[0]) {
        diag_add(diags, DIAG_ERROR, node, label, "line_delimiter must not be empty");
        errors++;
    }
    if (o->fp_lines == 0 || o->fp_lines > 1000) {
        diag_add(diags, DIAG_ERROR, node, label, "fingerprint.lines must be between 1 and 1000");
        errors++;
    }
    if (o->max_line_bytes == 0 || o->max_line_bytes > (1u << 30)) {
        diag_add(diags, DIAG_ERROR, node, label, "max_line_bytes must be between 1 and 1 GiB");
        errors++;
    }
    return errors;
}

/* ---- state ---- */

typedef struct file_pos {
    uint64_t fp, gen, end;
} file_pos;

/* The files a batch took lines from, with the end of the last line of each. */
typedef struct batch_rec {
    struct batch_rec *next;
    uint64_t seq;
    file_pos *pos;
    size_t n, cap;
} batch_rec;

typedef struct file_state {
    tailer *tailer;
    bool acks;
    bool ran;
    bool ignore_checkpoints;
    size_t max_line_bytes;
    int64_t cooldown_ms;
    char *id;
    value host;
    ack_tracker *tracker;
    batch_rec *head, *tail;    /* emitted, waiting for acknowledgement */
    uint64_t next_seq;
    metrics_series *files_watched;
    metrics_series *checkpoints_written;
    const component_metrics *metrics;
} file_state;

static void rec_free(batch_rec *r)
{
    if (r) {
        free(r->pos);
        free(r);
    }
}

static void file_destroy_state(file_state *st)
{
    while (st->head) {
        batch_rec *r = st->head;
        st->head = r->next;
        rec_free(r);
    }
    tailer_free(st->tailer);
    ack_tracker_free(st->tracker);
    free(st->id);
    free(st);
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int file_build(const void *options, const component_info *info, void **state,
                      sl_error *err)
{
    const file_options *o = options;
    const char *data_dir = o->data_dir ? o->data_dir : info->data_dir;
    if (!data_dir)
        return sl_fail(err, "no data_dir for the checkpoints");
    char dir[PATH_MAX], ckpt[PATH_MAX + 32];
    int n = snprintf(dir, sizeof(dir), "%s/%s", data_dir, info->id);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return sl_fail(err, "data_dir path too long");
    snprintf(ckpt, sizeof(ckpt), "%s/checkpoints.json", dir);
    if (mkdir_p(dir) < 0)
        return sl_fail(err, "cannot create the checkpoint directory %s: %s", dir,
                       strerror(errno));
    if (access(dir, W_OK | X_OK) < 0)
        return sl_fail(err, "data_dir \"%s\" is not writable: %s", dir, strerror(errno));

    file_state *st = calloc(1, sizeof(*st));
    if (!st || !(st->id = strdup(info->id))) {
        free(st);
        return sl_fail(err, "out of memory");
    }
    st->acks = info->acks_enabled;
    st->ignore_checkpoints = o->ignore_checkpoints;
    st->max_line_bytes = (size_t)o->max_line_bytes;
    st->cooldown_ms = o->glob_minimum_cooldown_ms ? (int64_t)o->glob_minimum_cooldown_ms : 1;
    const char *host = sl_hostname();
    st->host = value_bytes(host, strlen(host));
    tailer_options to = {
        .include = o->include.items,
        .ninclude = o->include.n,
        .exclude = o->exclude.items,
        .nexclude = o->exclude.n,
        .read_from_end = o->read_from == READ_FROM_END,
        .ignore_older_secs = o->ignore_older_secs,
        .max_line_bytes = st->max_line_bytes,
        .delimiter = o->line_delimiter,
        .delimiter_len = strlen(o->line_delimiter),
        .fingerprint = o->fp_strategy == 1 ? TAILER_FP_DEVICE_AND_INODE : TAILER_FP_CHECKSUM,
        .fingerprint_lines = (uint32_t)o->fp_lines,
        .auto_commit = false,
        .log_id = st->id,
    };
    st->tailer = tailer_new(&to, ckpt, err);
    if (!st->tailer || (st->acks && !(st->tracker = ack_tracker_new()))) {
        if (st->tailer)
            sl_fail(err, "out of memory");
        file_destroy_state(st);
        return -1;
    }
    if (info->metrics) {
        st->metrics = info->metrics;
        st->files_watched = component_metrics_extra(info->metrics, "files_watched",
                                                    METRICS_GAUGE, "Files being read now.");
        st->checkpoints_written = component_metrics_extra(
            info->metrics, "checkpoints_written_total", METRICS_COUNTER,
            "Times the checkpoint file was written.");
    }
    *state = st;
    return 0;
}

static void save_checkpoints(file_state *st)
{
    sl_error err;
    int rc = tailer_save(st->tailer, &err);
    if (rc > 0) {
        metrics_add(st->checkpoints_written, 1);
    } else if (rc < 0) {
        slog_error(st->id, "%s", err.msg);
        if (st->metrics)
            component_metrics_error(st->metrics, "checkpoint_write_failed", "receiving", 1);
    }
}

static void apply_rec(file_state *st, const batch_rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        tailer_commit(st->tailer, r->pos[i].fp, r->pos[i].gen, r->pos[i].end);
}

/* Commits the batches whose acknowledgements form the delivered prefix. */
static void advance_acks(file_state *st)
{
    uint64_t last, failed;
    while (ack_tracker_advance(st->tracker, &last, &failed)) {
        if (failed)
            slog_warn(st->id, "%" PRIu64 " batches were not delivered; their lines are "
                      "not read again.", failed);
        while (st->head && st->head->seq <= last) {
            batch_rec *r = st->head;
            st->head = r->next;
            if (!st->head)
                st->tail = NULL;
            apply_rec(st, r);
            rec_free(r);
        }
    }
}

static void file_destroy(void *state)
{
    file_state *st = state;
    if (!st)
        return;
    if (st->ran) {
        if (st->acks)
            advance_acks(st);
        save_checkpoints(st);
    }
    file_destroy_state(st);
}

/* ---- reading ---- */

typedef struct reader {
    file_state *st;
    source_ctx *ctx;
    batch *b;
    batch_rec *rec;
    char *blk;
    size_t cap, used;
    int64_t now_ns;
    const char *path_src;      /* the tailer's path last copied ... */
    value path;                /* ... and its copy in the batch arena */
    bool no_memory;
} reader;

static void ack_done(void *ud, uint64_t token, ack_status status)
{
    ack_tracker_complete(ud, token, status);
}

static int begin_batch(reader *r)
{
    file_state *st = r->st;
    batch_rec *rec = calloc(1, sizeof(*rec));
    if (!rec)
        return -1;
    rec->seq = st->next_seq++;
    ack_group *g = NULL;
    if (st->acks) {
        uint64_t token;
        if (ack_tracker_add(st->tracker, rec->seq, &token) < 0 ||
            !(g = ack_group_new(ack_done, st->tracker, token))) {
            rec_free(rec);
            return -1;
        }
    }
    r->b = source_batch_new(r->ctx, g);
    ack_group_release(g, ACK_DELIVERED);
    if (!r->b) {
        rec_free(rec);
        return -1;
    }
    r->rec = rec;
    r->blk = NULL;
    r->cap = r->used = 0;
    r->path_src = NULL;
    return 0;
}

/* Hands the batch on; 0, or -1 when the pipeline is stopping. */
static int end_batch(reader *r)
{
    file_state *st = r->st;
    batch_rec *rec = r->rec;
    batch *b = r->b;
    r->b = NULL;
    r->rec = NULL;
    if (st->acks) {
        if (st->tail)
            st->tail->next = rec;
        else
            st->head = rec;
        st->tail = rec;
        int rc = source_emit(r->ctx, b);
        advance_acks(st);
        return rc;
    }
    int rc = source_emit(r->ctx, b);
    if (rc == 0)
        apply_rec(st, rec);
    rec_free(rec);
    return rc;
}

/* Hands the batch on and starts the next: -1 when stopping or out of
 * memory (no_memory set). */
static int next_batch(reader *r)
{
    if (end_batch(r) < 0)
        return -1;
    if (begin_batch(r) < 0) {
        r->no_memory = true;
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
    if (rec->n == rec->cap) {
        size_t cap = rec->cap ? rec->cap * 2 : 4;
        file_pos *p = realloc(rec->pos, cap * sizeof(*p));
        if (!p)
            return -1;
        rec->pos = p;
        rec->cap = cap;
    }
    rec->pos[rec->n++] = (file_pos){f->fp, f->gen, end};
    return 0;
}

#define NFIELDS 5

static int on_line(void *ud, const tailer_file *f, const char *line, size_t len, uint64_t end)
{
    reader *r = ud;
    arena *a = r->b->arena;
    if (f->path != r->path_src) {
        size_t n = strlen(f->path);
        char *p = arena_alloc(a, n + 1);
        if (!p) {
            r->no_memory = true;
            return 1;
        }
        memcpy(p, f->path, n + 1);
        r->path = value_bytes(p, n);
        r->path_src = f->path;
    }
    event *e = batch_push(r->b);
    value_map *m = arena_alloc(a, sizeof(*m));
    value_entry *ent = arena_alloc(a, NFIELDS * sizeof(*ent));
    if (!e || !m || !ent || note_pos(r->rec, f, end) < 0) {
        if (e)
            batch_pop(r->b);
        r->no_memory = true;
        return 1;
    }
    /* In map order. */
    ent[0] = (value_entry){"file", 4, r->path};
    ent[1] = (value_entry){EVENT_FIELD_HOST, 4, r->st->host};
    ent[2] = (value_entry){EVENT_FIELD_MESSAGE, 7, value_bytes(line, len)};
    ent[3] = (value_entry){EVENT_FIELD_SOURCE_TYPE, 11, value_bytes("file", 4)};
    ent[4] = (value_entry){EVENT_FIELD_TIMESTAMP, 9, value_timestamp(r->now_ns)};
    m->len = m->cap = NFIELDS;
    m->entries = ent;
    e->type = EVENT_LOG;
    e->u.log.kind = VALUE_MAP;
    e->u.log.u.map = m;
    return r->b->count >= r->b->cap;
}

static int ensure_block(reader *r)
{
    size_t need = r->st->max_line_bytes + 64 * 1024;
    if (r->blk && r->cap - r->used >= need)
        return 0;
    size_t cap = need > READ_BLOCK ? need * 2 : READ_BLOCK;
    r->blk = arena_alloc(r->b->arena, cap);
    if (!r->blk)
        return -1;
    r->cap = cap;
    r->used = 0;
    return 0;
}

static void report_discards(file_state *st, uint64_t *seen)
{
    uint64_t d = tailer_discarded_lines(st->tailer);
    if (d == *seen)
        return;
    uint64_t n = d - *seen;
    *seen = d;
    if (st->metrics) {
        metrics_add(st->metrics->discarded_error, n);
        component_metrics_error(st->metrics, "oversized_line", "receiving", n);
    }
    slog_warn(st->id, "Discarded %" PRIu64 " lines longer than max_line_bytes (%zu bytes).",
              n, st->max_line_bytes);
}

static void report_read_errors(file_state *st, uint64_t *seen)
{
    uint64_t d = tailer_read_errors(st->tailer);
    if (d != *seen && st->metrics)
        component_metrics_error(st->metrics, "reading_failed", "receiving", d - *seen);
    *seen = d;
}

static int file_run(void *state, source_ctx *ctx, sl_error *err)
{
    file_state *st = state;
    st->ran = true;
    if (!st->metrics)
        st->metrics = source_metrics(ctx);
    int lrc = st->ignore_checkpoints ? 0 : tailer_load(st->tailer, err);
    if (lrc < 0)
        return -1;
    if (lrc > 0)
        component_metrics_error(st->metrics, "checkpoint_corrupt", "receiving", 1);
    reader r = {0};
    r.st = st;
    r.ctx = ctx;
    uint64_t discards_seen = 0, errors_seen = 0;
    int64_t next_scan = 0, next_ckpt = sl_now_mono_ns() + CHECKPOINT_INTERVAL_MS * 1000000LL;
    int64_t idle_ms = 0;
    int result = 0;
    if (begin_batch(&r) < 0)
        return sl_fail(err, "out of memory");
    for (;;) {
        if (source_stopping(ctx))
            break;
        int64_t now = sl_now_mono_ns();
        if (now >= next_scan) {
            tailer_scan(st->tailer);
            metrics_set(st->files_watched, (double)tailer_open_files(st->tailer));
            report_read_errors(st, &errors_seen);
            r.path_src = NULL;   /* a renamed file's path may reuse the address */
            next_scan = now + st->cooldown_ms * 1000000LL;
        }
        if (now >= next_ckpt) {
            if (st->acks)
                advance_acks(st);
            save_checkpoints(st);
            next_ckpt = now + CHECKPOINT_INTERVAL_MS * 1000000LL;
        }
        if (ensure_block(&r) < 0) {
            r.no_memory = true;
            break;
        }
        r.now_ns = sl_now_wall_ns();
        size_t used = 0;
        int rc = tailer_read(st->tailer, r.blk + r.used, r.cap - r.used,
                             r.b->cap - r.b->count, on_line, &r, &used);
        r.used += used;
        r.b->input_bytes += used;
        report_discards(st, &discards_seen);
        if (r.no_memory)
            break;
        if (rc > 0) {
            idle_ms = 0;
            if (r.b->count >= r.b->cap && next_batch(&r) < 0)
                break;
            continue;
        }
        if (rc < 0) {
            result = sl_fail(err, "read buffer smaller than max_line_bytes");
            break;
        }
        /* Nothing to read anywhere: send what we have and pause. */
        if (r.b->count > 0 && next_batch(&r) < 0)
            break;
        idle_ms = idle_ms ? idle_ms * 2 : IDLE_FIRST_MS;
        if (idle_ms > st->cooldown_ms)
            idle_ms = st->cooldown_ms;
        int64_t until = (next_scan < next_ckpt ? next_scan : next_ckpt) - sl_now_mono_ns();
        int64_t sleep_ms = idle_ms;
        if (until / 1000000LL < sleep_ms)
            sleep_ms = until > 0 ? until / 1000000LL + 1 : 0;
        if (sleep_ms > 0 && source_sleep_ms(ctx, sleep_ms) < 0)
            break;
    }
    if (r.b)
        end_batch(&r);
    if (st->acks)
        advance_acks(st);
    save_checkpoints(st);
    if (r.no_memory)
        result = sl_fail(err, "out of memory");
    return result;
}

const component_desc source_file_desc = {
    .type = "file",
    .kind = COMPONENT_SOURCE,
    .summary = "Lines of files found by glob patterns, followed with checkpoints.",
    .options = file_option_table,
    .options_size = sizeof(file_options),
    .output_types = EVENT_LOG,
    .check = file_check,
    .build = file_build,
    .destroy = file_destroy,
    .source_run = file_run,
};
