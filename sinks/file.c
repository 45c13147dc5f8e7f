/* file.c - the `file` sink: events appended to files named by a template
 * (`/var/log/app-%Y-%m-%d.log`, `/data/{{ service }}.log`), one per line,
 * encoded as json, text or logfmt, optionally gzip- or zstd-compressed.
 *
 * Several files may be open at once, keyed by their rendered path; a file
 * unused for idle_timeout_secs is closed (its compressed stream finished, so
 * it is a complete .gz/.zst file) and reopened for append when needed again.
 * Each batch is encoded into one buffer per file and written with one write()
 * per file, so the cost per event is the encoding alone; a template without
 * fields or time specifiers is rendered once per batch, not per event.
 *
 * As in Vector, an event whose path cannot be rendered (a missing field) is
 * dropped and counted as an error. Compressed streams are flushed at the end
 * of every batch, so what was acknowledged can be read back from the file. */
#include "pipeline/component.h"
#include "pipeline/log.h"
#include "pipeline/template.h"
#include "sinks/encoding.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define IDLE_CHECK_MS 1000
#define GZIP_CHUNK (64 * 1024)
#define GZIP_LEVEL 6   /* Vector's "default" gzip level */
#define ZSTD_LEVEL 3   /* Vector's "default" zstd level */

enum { COMPRESSION_NONE = 0, COMPRESSION_GZIP, COMPRESSION_ZSTD };

typedef struct file_options {
    char *path;
    int codec;
    int compression;
    uint64_t idle_timeout_secs;
} file_options;

static const opt_enum_value compression_values[] = {
    {"none", COMPRESSION_NONE},
    {"gzip", COMPRESSION_GZIP},
    {"zstd", COMPRESSION_ZSTD},
    {NULL, 0},
};

static const opt_spec encoding_fields[] = {
    OPT_ENUM_ROW("codec", file_options, codec, encoding_codec_values, .required = true,
        .help = "How each event is written: json, text (the message) or logfmt."),
    OPT_END,
};

static const opt_spec file_option_table[] = {
    OPT_STRING_ROW("path", file_options, path, .required = true,
        .help = "File to write to: a template with strftime specifiers and {{ field }} "
                "references."),
    OPT_OBJECT_ROW("encoding", encoding_fields, .required = true,
        .help = "How events are encoded."),
    OPT_ENUM_ROW("compression", file_options, compression, compression_values, .def = "none",
        .help = "Compression of the written files."),
    OPT_UINT_ROW("idle_timeout_secs", file_options, idle_timeout_secs, .def = "30",
        .help = "Seconds without writes after which a file is closed."),
    OPT_END,
};

/* One open output file. */
typedef struct out_file {
    char *path;
    size_t path_len;
    uint64_t hash;
    int fd;
    int64_t last_used_ns;    /* monotonic */
    uint64_t batch_mark;     /* the batch that last encoded into pending */
    buf pending;             /* the current batch's encoded, uncompressed bytes */
    z_stream *gz;
    ZSTD_CCtx *zs;
} out_file;

typedef struct file_sink {
    template *path;
    bool dynamic;
    bool time_only;          /* strftime specifiers but no fields */
    encoding_codec codec;
    int compression;
    int64_t idle_ns;
    /* run time, on the sink's thread */
    const char *id;
    const component_metrics *metrics;
    out_file **files;
    size_t nfiles, files_cap;
    out_file *last;          /* the file the previous event went to */
    uint32_t batch_dropped;  /* events of the current batch dropped */
    bool last_timed;         /* last was rendered from last_ts alone */
    int64_t last_ts;
    out_file **touched;      /* files written by the current batch */
    size_t ntouched, touched_cap;
    uint64_t batch_no;
    buf path_buf;
    buf zbuf;
} file_sink;

/* A bad template is a configuration error, reported by `validate`. */
static size_t file_check(const void *options, const char *label, const cfg_node *node,
                         diag_list *diags)
{
    const file_options *o = options;
    template *t;
    sl_error err;
    if (!o->path)
        return 0;
    if (template_parse(o->path, &t, &err) < 0) {
        diag_add(diags, DIAG_ERROR, cfg_map_get(node, "path"), label, "path: %s", err.msg);
        return 1;
    }
    template_free(t);
    return 0;
}

static int file_build(const void *options, const component_info *info, void **state,
                      sl_error *err)
{
    const file_options *o = options;
    SL_UNUSED(info);
    file_sink *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return sl_fail(err, "out of memory");
    if (template_parse(o->path, &fs->path, err) < 0) {
        free(fs);
        return -1;
    }
    fs->dynamic = template_is_dynamic(fs->path);
    fs->time_only = fs->dynamic && !template_has_fields(fs->path);
    fs->codec = (encoding_codec)o->codec;
    fs->compression = o->compression;
    uint64_t secs = o->idle_timeout_secs;
    fs->idle_ns = secs > INT64_MAX / NS_PER_SEC ? INT64_MAX : (int64_t)secs * NS_PER_SEC;
    *state = fs;
    return 0;
}

/* ---- writing ---- */

/* Feeds n bytes to the gzip stream, appending its output to fs->zbuf. */
static int gzip_feed(file_sink *fs, z_stream *z, const char *data, size_t n, int flush)
{
    do {
        uInt slice = n > UINT_MAX / 2 ? UINT_MAX / 2 : (uInt)n;
        int mode = slice == n ? flush : Z_NO_FLUSH;
        z->next_in = (Bytef *)data;
        z->avail_in = slice;
        do {
            if (buf_reserve(&fs->zbuf, GZIP_CHUNK) < 0)
                return -1;
            z->next_out = (Bytef *)fs->zbuf.data + fs->zbuf.len;
            z->avail_out = GZIP_CHUNK;
            if (deflate(z, mode) == Z_STREAM_ERROR)
                return -1;
            fs->zbuf.len += GZIP_CHUNK - z->avail_out;
        } while (z->avail_out == 0);
        data += slice;
        n -= slice;
    } while (n > 0);
    return 0;
}

static int zstd_feed(file_sink *fs, ZSTD_CCtx *zs, const char *data, size_t n,
                     ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = {data, n, 0};
    size_t out_size = ZSTD_CStreamOutSize();
    size_t left;
    do {
        if (buf_reserve(&fs->zbuf, out_size) < 0)
            return -1;
        ZSTD_outBuffer out = {fs->zbuf.data + fs->zbuf.len, out_size, 0};
        left = ZSTD_compressStream2(zs, &out, &in, mode);
        if (ZSTD_isError(left))
            return -1;
        fs->zbuf.len += out.pos;
    } while (left != 0 || in.pos < in.size);
    return 0;
}

/* Compresses (when configured) and writes data; `last` finishes the
 * compressed stream so the file is complete. */
static int write_out(file_sink *fs, out_file *f, const char *data, size_t n, bool last)
{
    if (fs->compression == COMPRESSION_NONE)
        return sl_write_all(f->fd, data, n);
    buf_reset(&fs->zbuf);
    int rc = fs->compression == COMPRESSION_GZIP
                 ? gzip_feed(fs, f->gz, data, n, last ? Z_FINISH : Z_SYNC_FLUSH)
                 : zstd_feed(fs, f->zs, data, n, last ? ZSTD_e_end : ZSTD_e_flush);
    if (rc < 0) {
        errno = ENOMEM;
        return -1;
    }
    return sl_write_all(f->fd, fs->zbuf.data, fs->zbuf.len);
}

/* ---- open files ---- */

static void free_file(out_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->gz) {
        deflateEnd(f->gz);
        free(f->gz);
    }
    ZSTD_freeCCtx(f->zs);
    buf_free(&f->pending);
    free(f->path);
    free(f);
}

static void forget_file(file_sink *fs, out_file *f)
{
    for (size_t i = 0; i < fs->nfiles; i++) {
        if (fs->files[i] == f) {
            fs->files[i] = fs->files[--fs->nfiles];
            break;
        }
    }
    if (fs->last == f)
        fs->last = NULL;
    free_file(f);
}

/* Finishes the compressed stream, then closes. */
static void close_file(file_sink *fs, out_file *f)
{
    if (fs->compression != COMPRESSION_NONE && write_out(fs, f, "", 0, true) < 0)
        slog_error(fs->id, "Failed to finish %s: %s.", f->path, strerror(errno));
    forget_file(fs, f);
}

/* Creates the missing directories above path, as Vector does. */
static int make_parents(char *path)
{
    if (path[0] == '\0')
        return 0;
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = mkdir(path, 0777);
        int saved = errno;
        *p = '/';
        if (rc < 0 && saved != EEXIST) {
            errno = saved;
            return -1;
        }
    }
    return 0;
}

static int start_compression(file_sink *fs, out_file *f)
{
    if (fs->compression == COMPRESSION_GZIP) {
        f->gz = calloc(1, sizeof(*f->gz));
        if (!f->gz)
            return -1;
        /* windowBits 15 + 16: a gzip header and trailer, not raw zlib. */
        if (deflateInit2(f->gz, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(f->gz);
            f->gz = NULL;
            return -1;
        }
    } else if (fs->compression == COMPRESSION_ZSTD) {
        f->zs = ZSTD_createCCtx();
        if (!f->zs ||
            ZSTD_isError(ZSTD_CCtx_setParameter(f->zs, ZSTD_c_compressionLevel, ZSTD_LEVEL)))
            return -1;
    }
    return 0;
}

static int remember_file(file_sink *fs, out_file *f)
{
    if (SL_GROW(fs->files, fs->nfiles, fs->files_cap, 8) < 0)
        return -1;
    fs->files[fs->nfiles++] = f;
    return 0;
}

static out_file *open_file(file_sink *fs, const char *path, size_t len, uint64_t hash)
{
    out_file *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->fd = -1;
    f->path = strndup(path, len);
    f->path_len = len;
    f->hash = hash;
    if (!f->path || start_compression(fs, f) < 0 || remember_file(fs, f) < 0) {
        slog_error(fs->id, "Failed to open %.*s: out of memory.", (int)len, path);
        free_file(f);
        return NULL;
    }
    if (make_parents(f->path) < 0 ||
        (f->fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666)) < 0) {
        slog_error(fs->id, "Failed to open %s: %s.", f->path, strerror(errno));
        forget_file(fs, f);
        return NULL;
    }
    return f;
}

static out_file *file_for_path(file_sink *fs, const char *path, size_t len)
{
    out_file *f = fs->last;
    if (f && f->path_len == len && memcmp(f->path, path, len) == 0)
        return f;
    uint64_t h = sl_hash_bytes(path, len);
    f = NULL;
    for (size_t i = 0; i < fs->nfiles && !f; i++) {
        out_file *c = fs->files[i];
        if (c->hash == h && c->path_len == len && memcmp(c->path, path, len) == 0)
            f = c;
    }
    if (!f)
        f = open_file(fs, path, len, h);
    fs->last = f;
    return f;
}

static int mark_touched(file_sink *fs, out_file *f)
{
    if (f->batch_mark == fs->batch_no)
        return 0;
    if (SL_GROW(fs->touched, fs->ntouched, fs->touched_cap, 8) < 0)
        return -1;
    fs->touched[fs->ntouched++] = f;
    f->batch_mark = fs->batch_no;
    buf_reset(&f->pending);
    return 0;
}

/* ---- batches ---- */

static void report_template_error(file_sink *fs, const char *why)
{
    component_metrics_error(fs->metrics, "template_failed", "processing", 1);
    fs->batch_dropped++;
    slog_error(fs->id, "Failed to render the path template, event dropped: %s", why);
}

/* The event's own timestamp when the path depends on nothing else. */
static bool path_time_of(const file_sink *fs, const event *e, int64_t *ts)
{
    if (!fs->time_only || e->type != EVENT_LOG)
        return false;
    const value *v = event_log_get(e, EVENT_FIELD_TIMESTAMP);
    if (!v || v->kind != VALUE_TIMESTAMP)
        return false;
    *ts = v->u.ts;
    return true;
}

/* The file an event goes to: NULL when it is dropped (*failed tells whether
 * that is a write failure rather than a template error). A path of time
 * specifiers only renders alike for equal timestamps, and a source stamps
 * all the lines of one read alike, so most events skip the rendering. */
static out_file *file_for_event(file_sink *fs, const event *e, bool *failed)
{
    int64_t ts = 0;
    bool timed = path_time_of(fs, e, &ts);
    out_file *f = NULL;
    if (timed && fs->last_timed && fs->last && ts == fs->last_ts) {
        f = fs->last;
    } else {
        sl_error err;
        buf_reset(&fs->path_buf);
        if (template_render(fs->path, e, &fs->path_buf, &err) < 0) {
            report_template_error(fs, err.msg);
            return NULL;
        }
        f = file_for_path(fs, fs->path_buf.data ? fs->path_buf.data : "", fs->path_buf.len);
        fs->last_timed = timed;
        fs->last_ts = ts;
    }
    if (!f || mark_touched(fs, f) < 0) {
        *failed = true;
        return NULL;
    }
    return f;
}

static int encode_into(file_sink *fs, out_file *f, const event *e)
{
    if (encoding_write_event(&f->pending, fs->codec, e) < 0 ||
        buf_append_char(&f->pending, '\n') < 0)
        return -1;
    return 0;
}

static bool encode_batch(file_sink *fs, const batch *b)
{
    bool failed = false;
    out_file *f = NULL;
    for (uint32_t i = 0; i < b->count; i++) {
        const event *e = &b->events[i];
        if (fs->dynamic || i == 0)
            f = file_for_event(fs, e, &failed);
        if (f && encode_into(fs, f, e) < 0) {
            slog_error(fs->id, "Failed to encode an event: out of memory.");
            failed = true;
        }
        if (!fs->dynamic && !f)
            break;
    }
    return failed;
}

static bool flush_touched(file_sink *fs, int64_t now)
{
    bool failed = false;
    for (size_t i = 0; i < fs->ntouched; i++) {
        out_file *f = fs->touched[i];
        f->last_used_ns = now;
        if (write_out(fs, f, f->pending.data, f->pending.len, false) < 0) {
            slog_error(fs->id, "Failed to write to %s: %s.", f->path, strerror(errno));
            forget_file(fs, f);
            failed = true;
            continue;
        }
        buf_reset(&f->pending);
    }
    fs->ntouched = 0;
    return failed;
}

static ack_status write_batch(file_sink *fs, const batch *b)
{
    fs->batch_no++;
    fs->ntouched = 0;
    fs->batch_dropped = 0;
    bool failed = encode_batch(fs, b);
    if (flush_touched(fs, sl_now_mono_ns()))
        failed = true;
    return failed ? ACK_ERRORED : ACK_DELIVERED;
}

static void close_idle(file_sink *fs, int64_t now)
{
    size_t i = 0;
    while (i < fs->nfiles) {
        out_file *f = fs->files[i];
        if (now - f->last_used_ns >= fs->idle_ns)
            close_file(fs, f);
        else
            i++;
    }
}

static void close_all(file_sink *fs)
{
    while (fs->nfiles > 0)
        close_file(fs, fs->files[fs->nfiles - 1]);
}

static int file_run(void *state, sink_ctx *ctx, sl_error *err)
{
    file_sink *fs = state;
    SL_UNUSED(err);
    fs->id = sink_id(ctx);
    fs->metrics = sink_metrics(ctx);
    for (;;) {
        batch *b;
        queue_result q = sink_next(ctx, &b, IDLE_CHECK_MS);
        if (q == QUEUE_END)
            break;
        if (q == QUEUE_OK) {
            ack_status st = write_batch(fs, b);
            sink_done_partial(ctx, b, st, fs->batch_dropped);
        }
        close_idle(fs, sl_now_mono_ns());
    }
    close_all(fs);
    return 0;
}

static void file_destroy(void *state)
{
    file_sink *fs = state;
    if (!fs)
        return;
    while (fs->nfiles > 0)
        forget_file(fs, fs->files[fs->nfiles - 1]);
    free(fs->files);
    free(fs->touched);
    buf_free(&fs->path_buf);
    buf_free(&fs->zbuf);
    template_free(fs->path);
    free(fs);
}

const component_desc sink_file_desc = {
    .type = "file",
    .kind = COMPONENT_SINK,
    .summary = "Events appended to files named by a template, optionally compressed.",
    .options = file_option_table,
    .options_size = sizeof(file_options),
    .input_types = EVENT_LOG | EVENT_METRIC,
    .check = file_check,
    .build = file_build,
    .destroy = file_destroy,
    .sink_run = file_run,
};
