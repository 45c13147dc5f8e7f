/* fuzz_vrl.c - libFuzzer target for the remap language's parser, checker
 * and compiler, and for the interpreter on what compiles.
 *
 * Each input is a program. Compiling must succeed or fail with a message;
 * a program that compiles runs on a small fixed event (a log and a metric)
 * as a condition and as a remap. A run must end in one of vrl.h's
 * outcomes (explained, unless clean), leave a failed event exactly as it
 * was, and leave an event the JSON encoder can write. The language has no loops, so a run's time is
 * bounded by the program's size, the regex match limit and the cap on
 * strings built by operators; only short programs are run, so that the
 * memory they may build stays far under libFuzzer's limit. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pipeline/json.h"
#include "transforms/vrl/vrl.h"

#define MAX_PROGRAM 4096
#define MAX_RUN_PROGRAM 256

static const char event_json[] =
    "{\"message\":\"Request FAILED: id=42 user=\\\"bob\\\"\",\"kubernetes\":{\"pod_name\":"
    "\"chat-ui-7d9f\",\"labels\":{\"app\":\"chat\"}},\"n\":\"12\",\"f\":1.5,\"list\":[1,\"two\","
    "{\"x\":null}],\"t\":true}";

static void require(bool ok)
{
    if (!ok)
        __builtin_trap();
}

/* Every outcome but a clean run explains itself. */
static bool ran_to_an_outcome(vrl_outcome o, const sl_error *err)
{
    if (o == VRL_DONE)
        return true;
    return (o == VRL_FAILED || o == VRL_ABORTED || o == VRL_DONE_WITH_ERRORS) &&
           err->msg[0] != '\0';
}

static void encode(const event *e, buf *out)
{
    buf_reset(out);
    require(json_encode_event(out, e) == 0);
}

static void run_on_log(const vrl_program *p)
{
    arena *a = arena_new();
    if (!a)
        return;
    event e;
    sl_error err;
    e.type = EVENT_LOG;
    e.meta = value_null();
    require(json_decode(a, event_json, sizeof(event_json) - 1, &e.u.log, &err) == 0);
    buf before = BUF_INIT, after = BUF_INIT;
    encode(&e, &before);
    value result;
    vrl_outcome o = vrl_run(p, a, &e, &result, &err);
    require(ran_to_an_outcome(o, &err));
    encode(&e, &after);
    if (o == VRL_FAILED || o == VRL_ABORTED)
        require(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
    buf_free(&before);
    buf_free(&after);
    arena_free(a);
}

static void run_on_metric(const vrl_program *p)
{
    arena *a = arena_new();
    if (!a)
        return;
    event e;
    sl_error err;
    if (event_init_metric(a, &e, "requests_total", "app") == 0 &&
        event_metric_set_tag(a, &e, "host", "h1") == 0) {
        e.meta = value_null();
        e.u.metric->type = METRIC_COUNTER;
        e.u.metric->v.counter = 1;
        buf out = BUF_INIT;
        vrl_outcome o = vrl_run(p, a, &e, NULL, &err);
        require(ran_to_an_outcome(o, &err));
        encode(&e, &out);
        buf_free(&out);
    }
    arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_PROGRAM)
        return 0;
    for (int condition = 0; condition < 2; condition++) {
        vrl_options opts = {condition == 1, NULL, 0};
        vrl_program *p = NULL;
        sl_error err;
        if (vrl_compile((const char *)data, size, &opts, &p, &err) < 0) {
            require(err.msg[0] != '\0');
            continue;
        }
        if (size <= MAX_RUN_PROGRAM) {
            run_on_log(p);
            run_on_metric(p);
        }
        vrl_program_free(p);
    }
    return 0;
}
