/* console.c - the `console` sink: events to stdout or stderr, one per line,
 * encoded as json, text or logfmt (sinks/encoding.h).
 *
 * A whole batch is encoded into one buffer and written with as few write()
 * calls as the kernel allows, so a pipe to another program costs one syscall
 * per batch rather than per event. The batch is reported delivered once its
 * bytes are written; a closed or failing output reports it errored and the
 * sink keeps draining so the pipeline can still shut down. */
#include "pipeline/component.h"
#include "pipeline/log.h"
#include "sinks/encoding.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TARGET_STDOUT = 0, TARGET_STDERR };

typedef struct console_options {
    int codec;
    int target;
} console_options;

static const opt_enum_value target_values[] = {
    {"stdout", TARGET_STDOUT},
    {"stderr", TARGET_STDERR},
    {NULL, 0},
};

static const opt_spec encoding_fields[] = {
    OPT_ENUM_ROW("codec", console_options, codec, encoding_codec_values, .required = true,
        .help = "How each event is written: json, text (the message) or logfmt."),
    OPT_END,
};

static const opt_spec console_option_table[] = {
    OPT_OBJECT_ROW("encoding", encoding_fields, .required = true,
        .help = "How events are encoded."),
    OPT_ENUM_ROW("target", console_options, target, target_values, .def = "stdout",
        .help = "The stream to write to."),
    OPT_END,
};

typedef struct console_state {
    encoding_codec codec;
    int fd;
} console_state;

static int console_build(const void *options, const component_info *info, void **state,
                         sl_error *err)
{
    const console_options *o = options;
    SL_UNUSED(info);
    console_state *st = calloc(1, sizeof(*st));
    if (!st)
        return sl_fail(err, "out of memory");
    st->codec = (encoding_codec)o->codec;
    st->fd = o->target == TARGET_STDERR ? STDERR_FILENO : STDOUT_FILENO;
    *state = st;
    return 0;
}

static void console_destroy(void *state)
{
    free(state);
}

static int encode_batch(const console_state *st, const batch *b, buf *out)
{
    for (uint32_t i = 0; i < b->count; i++)
        if (encoding_write_event(out, st->codec, &b->events[i]) < 0 ||
            buf_append_char(out, '\n') < 0)
            return -1;
    return 0;
}

static ack_status print_batch(const console_state *st, const char *id, const batch *b, buf *out)
{
    buf_reset(out);
    if (encode_batch(st, b, out) < 0) {
        slog_error(id, "Failed to encode events: out of memory.");
        return ACK_ERRORED;
    }
    if (sl_write_all(st->fd, out->data, out->len) < 0) {
        slog_error(id, "Failed to write to %s: %s.",
                   st->fd == STDERR_FILENO ? "stderr" : "stdout", strerror(errno));
        return ACK_ERRORED;
    }
    return ACK_DELIVERED;
}

static int console_run(void *state, sink_ctx *ctx, sl_error *err)
{
    const console_state *st = state;
    const char *id = sink_id(ctx);
    buf out = BUF_INIT;
    SL_UNUSED(err);
    for (;;) {
        batch *b;
        queue_result q = sink_next(ctx, &b, -1);
        if (q == QUEUE_END)
            break;
        if (q != QUEUE_OK)
            continue;
        sink_done(ctx, b, print_batch(st, id, b, &out));
    }
    buf_free(&out);
    return 0;
}

const component_desc sink_console_desc = {
    .type = "console",
    .kind = COMPONENT_SINK,
    .summary = "Events to stdout or stderr, one per line.",
    .options = console_option_table,
    .options_size = sizeof(console_options),
    .input_types = EVENT_LOG | EVENT_METRIC,
    .build = console_build,
    .destroy = console_destroy,
    .sink_run = console_run,
};
