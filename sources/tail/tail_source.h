/* tail_source.h - the engine shared by the sources that follow files (`file`,
 * `kubernetes_logs`).
 *
 * It drives a tailer (tailer.h): reads lines straight into a block of the
 * batch being built, hands each to the source's line hook, which turns it
 * into zero or more events, and emits full batches. It owns what both
 * sources must get exactly alike: checkpoints advance when a batch is handed
 * on, or with acknowledgements only over the delivered prefix of batches;
 * they are saved every second when they moved, when the source stops and
 * again once the pipeline has drained; an idle source sleeps on inotify (or
 * a doubling pause up to the rescan cooldown), rescans on its cooldown and
 * at once when a watched directory changes.
 *
 * A line hook may hold lines back (partial chunks, multiline groups): it
 * then passes, with each event it pushes, the checkpoint position that is
 * safe for that file, i.e. no further than the first byte still held back,
 * so a restart reads the held lines again instead of losing them. */
#ifndef SLUICE_TAIL_SOURCE_H
#define SLUICE_TAIL_SOURCE_H

#include "pipeline/component.h"
#include "sources/tail/tailer.h"

typedef struct tail_source tail_source;
/* The batch being built; only valid inside a hook call. */
typedef struct tail_batch tail_batch;

typedef struct tail_hooks {
    /* One complete line of f without its delimiter; its bytes stay valid as
     * long as the batch (they are in its arena). end is the file offset just
     * past the delimiter. Push at most one event per line with tail_push()
     * (the batch is never switched while a read is in progress). 0, or -1
     * when out of memory: the source then stops, and the batch being built
     * is not sent (an event may be half made), so its lines stay behind the
     * checkpoint. */
    int (*line)(void *ud, tail_batch *tb, tailer_file *f, const char *line, size_t len,
                uint64_t end);
    /* f stops being followed: push what it still holds back (any number of
     * events: the engine calls this between reads), then free f->user. tb is
     * NULL when the source is being destroyed (nothing can be pushed any
     * more; just free). May be NULL. */
    void (*closed)(void *ud, tail_batch *tb, tailer_file *f);
    /* Called whenever the source finds nothing to read, and at least every
     * 100 ms while it reads: push what has been held back long enough
     * (multiline and partial-line timeouts); any number of events. now is
     * sl_now_mono_ns(). Not called at shutdown: what is held back then stays
     * behind the checkpoint and is read again after a restart. May be NULL. */
    void (*idle)(void *ud, tail_batch *tb, int64_t now);
    void *ud;
} tail_hooks;

typedef struct tail_source_options {
    tailer_options tailer;    /* the engine sets auto_commit, log_id,
                                 file_closed and ud */
    const char *data_dir;     /* checkpoints go to <data_dir>/<id>/checkpoints.json */
    bool ignore_checkpoints;
    uint64_t rescan_ms;       /* glob_minimum_cooldown_ms */
    tail_hooks hooks;
} tail_source_options;

/* Creates the checkpoint directory and the tailer; registers the metrics
 * files_watched and checkpoints_written_total. 0, or -1 with err. */
int tail_source_new(const tail_source_options *o, const component_info *info,
                    tail_source **out, sl_error *err);
/* After the pipeline drained: takes the last acknowledgements, saves the
 * checkpoints if the source ran, calls hooks.closed (tb NULL) for every
 * file, frees. NULL is fine. */
void tail_source_free(tail_source *ts);
/* The source's run(): reads until the pipeline stops. */
int tail_source_run(tail_source *ts, source_ctx *ctx, sl_error *err);

/* The source's metrics (for its own extra series and error counts); NULL
 * before run() when built without metrics. */
const component_metrics *tail_source_metrics(const tail_source *ts);

/* ---- inside hooks ---- */

/* Appends an event to the batch and records that, once this batch is
 * delivered, f may be checkpointed at `commit`. The caller fills the event
 * (type and log value) before its hook returns; its fields must live in
 * tail_arena(tb) (fetch it after tail_push: from the closed and idle hooks a
 * full batch is emitted and a new one started). NULL when out of memory or
 * when the pipeline is stopping. */
event *tail_push(tail_batch *tb, const tailer_file *f, uint64_t commit);
/* Records a checkpoint position for f without an event (a line that was
 * consumed but produced none). 0, or -1 when out of memory. */
int tail_note(tail_batch *tb, const tailer_file *f, uint64_t commit);
/* The batch's arena, for the events' fields. */
arena *tail_arena(tail_batch *tb);
/* f's path as a string value in the batch's arena, copied once per batch
 * and file. Its kind is VALUE_NULL when out of memory. */
value tail_path_value(tail_batch *tb, const tailer_file *f);
/* The wall-clock time of the read that produced the line, in ns. */
int64_t tail_read_time_ns(const tail_batch *tb);

#endif
