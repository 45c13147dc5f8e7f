/* fn_timestamp.c - the remap language's parse_timestamp, format_timestamp
 * and now.
 *
 * Formats are chrono's strptime/strftime dialect (fn_time.h, template.h);
 * a literal `timezone` argument is resolved once, when the program is
 * compiled. */
#include <stdlib.h>
#include <string.h>

#include "pipeline/sltime.h"
#include "transforms/vrl/fn_util.h"
#include "pipeline/json.h"

#define OOM(err, fn) sl_fail((err), "out of memory in " fn)

/* ---- parse_timestamp, format_timestamp, now ---------------------------- */

/* A `timezone` argument: resolved at compile time when it is a literal. */
typedef struct zone_arg {
    const sltime_zone *tz;
} zone_arg;

static int compile_zone(const vrl_const_arg *a, void **state, sl_error *err)
{
    const char *name;
    size_t n;
    *state = NULL;
    if (!vrl_const_bytes(a, &name, &n))
        return 0;
    zone_arg *z = malloc(sizeof(*z));
    if (!z)
        return sl_fail(err, "out of memory compiling a time zone");
    z->tz = sltime_zone_find(name, n);
    if (!z->tz) {
        free(z);
        return sl_fail(err, "unable to parse timezone: %.*s", (int)n, name);
    }
    *state = z;
    return 0;
}

static void free_zone(void *state)
{
    free(state);
}

/* The zone to use: the literal's, the run-time argument's, or dflt. */
static int zone_of(const vrl_call *c, const vrl_arg *a, const sltime_zone *dflt,
                   const sltime_zone **tz, sl_error *err)
{
    const zone_arg *z = c->state;
    if (z) {
        *tz = z->tz;
        return 0;
    }
    if (!a->present) {
        *tz = dflt;
        return 0;
    }
    const char *name;
    size_t n;
    if (vrl_arg_bytes(a, &name, &n, err) < 0)
        return -1;
    *tz = sltime_zone_find(name, n);
    if (!*tz)
        return sl_fail(err, "unable to parse timezone: %.*s", (int)n, name);
    return 0;
}

static int parse_timestamp_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    const char *f;
    size_t n;
    if (vrl_const_bytes(&args[1], &f, &n) && !sltime_strptime_format_ok(f, n))
        return sl_fail(err, "`format` is not a valid format string");
    return compile_zone(&args[2], state, err);
}

static int parse_timestamp_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    if (v->kind == VALUE_TIMESTAMP) {
        *out = *v;
        return 0;
    }
    if (v->kind != VALUE_BYTES)
        return sl_fail(err, "unable to convert %s value to timestamp", vrl_kind_name(v->kind));
    const char *s, *fmt;
    size_t n, fmtn;
    const sltime_zone *tz;
    if (vrl_arg_lossy(c, &args[0], &s, &n, err) < 0 || vrl_arg_lossy(c, &args[1], &fmt, &fmtn, err) < 0 ||
        zone_of(c, &args[2], sltime_zone_local(), &tz, err) < 0)
        return -1;
    int64_t ns;
    sltime_error e = sltime_strptime(s, n, fmt, fmtn, tz, &ns);
    if (e != SLTIME_OK) {
        buf quoted = BUF_INIT;
        int rc = json_encode_string(&quoted, s, n);
        sl_fail(err, "Invalid timestamp %s: %s", rc == 0 && quoted.data ? quoted.data : "",
                sltime_error_text(e));
        buf_free(&quoted);
        return -1;
    }
    *out = value_timestamp(ns);
    return 0;
}

static const vrl_param parse_timestamp_params[] = {
    {"value", K(VALUE_BYTES) | K(VALUE_TIMESTAMP), true},
    {"format", K(VALUE_BYTES), true},
    {"timezone", K(VALUE_BYTES), false},
};

static const vrl_function fn_parse_timestamp = {
    .name = "parse_timestamp",
    .params = parse_timestamp_params,
    .nparams = SL_ARRAY_LEN(parse_timestamp_params),
    .returns = K(VALUE_TIMESTAMP),
    .fallible = true,
    .compile = parse_timestamp_compile,
    .free_state = free_zone,
    .call = parse_timestamp_call,
};

/* The format as the NUL-terminated text the renderer reads; NULL (and
 * "invalid format") when chrono would refuse it. */
static const char *strftime_format(arena *a, const char *f, size_t n, sl_error *err)
{
    const char *text = arena_strndup(a, f, n);
    if (!text) {
        sl_fail(err, "out of memory in format_timestamp");
        return NULL;
    }
    if (strlen(text) != n || !sltime_strftime_valid(text)) {
        sl_fail(err, "invalid format");
        return NULL;
    }
    return text;
}

static int format_timestamp_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    const char *f;
    size_t n;
    if (vrl_const_bytes(&args[1], &f, &n)) {
        arena *scratch = arena_new();
        if (!scratch)
            return sl_fail(err, "out of memory compiling format_timestamp");
        bool ok = strftime_format(scratch, f, n, err) != NULL;
        arena_free(scratch);
        if (!ok)
            return -1;
    }
    return compile_zone(&args[2], state, err);
}

static int format_timestamp_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const value *v = &args[0].val;
    const char *fmt;
    size_t fmtn;
    const sltime_zone *tz;
    if (v->kind != VALUE_TIMESTAMP)
        return vrl_expected(err, K(VALUE_TIMESTAMP), v);
    if (vrl_arg_lossy(c, &args[1], &fmt, &fmtn, err) < 0 || zone_of(c, &args[2], NULL, &tz, err) < 0 ||
        !(fmt = strftime_format(c->a, fmt, fmtn, err)))
        return -1;
    int32_t offset = 0;
    const char *zone = "UTC";
    if (tz) {
        int64_t secs = v->u.ts / 1000000000 - (v->u.ts % 1000000000 < 0);
        offset = sltime_zone_offset(tz, secs, &zone);
    }
    buf b = BUF_INIT;
    if (sltime_strftime(&b, fmt, v->u.ts, offset, zone) < 0) {
        buf_free(&b);
        return OOM(err, "format_timestamp");
    }
    return vrl_bytes_from_buf(c->a, &b, out) < 0 ? OOM(err, "format_timestamp") : 0;
}

static const vrl_param format_timestamp_params[] = {
    {"value", K(VALUE_TIMESTAMP), true},
    {"format", K(VALUE_BYTES), true},
    {"timezone", K(VALUE_BYTES), false},
};

static const vrl_function fn_format_timestamp = {
    .name = "format_timestamp",
    .params = format_timestamp_params,
    .nparams = SL_ARRAY_LEN(format_timestamp_params),
    .returns = K(VALUE_BYTES),
    .fallible = true,
    .compile = format_timestamp_compile,
    .free_state = free_zone,
    .call = format_timestamp_call,
};

static int now_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    SL_UNUSED(args);
    SL_UNUSED(err);
    *out = value_timestamp(sl_now_wall_ns());
    return 0;
}

static const vrl_function fn_now = {
    .name = "now",
    .params = NULL,
    .nparams = 0,
    .returns = K(VALUE_TIMESTAMP),
    .call = now_call,
};

const vrl_function *const vrl_timestamp_functions[] = {
    &fn_parse_timestamp,
    &fn_format_timestamp,
    &fn_now,
    NULL,
};
