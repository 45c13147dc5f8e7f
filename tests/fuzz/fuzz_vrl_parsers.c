/* fuzz_vrl_parsers.c - libFuzzer target for the remap language's parsing
 * functions: parse_json (with and without max_depth), parse_key_value
 * (default and custom delimiters, strict), parse_logfmt, parse_syslog,
 * parse_common_log, parse_apache_log (all three formats), and
 * parse_timestamp / format_timestamp with a fuzzed format.
 *
 * The first byte picks the call; for the timestamp functions the input is
 * "value\nformat". A call must return success or a failure with a message,
 * never crash, leak or hang (libFuzzer's timeout bounds the time), and a
 * successful result must encode as JSON. Everything is allocated in an
 * arena freed after each input, as a batch's would be. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/json.h"
#include "transforms/vrl/function.h"

#define NONE {VALUE_NULL, 0, {0}}
#define STR(text) {VALUE_BYTES, sizeof(text) - 1, {.s = text}}
#define INT(n) {VALUE_INT, 0, {.i = n}}

typedef struct fuzz_call {
    const char *name;
    int value_arg;           /* where the fuzzed text goes (-1: a timestamp) */
    int format_arg;          /* where the fuzzed format goes, or -1 */
    value consts[4];         /* constant arguments by index (VALUE_NULL: none) */
} fuzz_call;

static const fuzz_call calls[] = {
    {"parse_json", 0, -1, {NONE}},
    {"parse_json", 0, -1, {NONE, INT(2)}},
    {"parse_key_value", 0, -1, {NONE}},
    {"parse_key_value", 0, -1, {NONE, STR(":"), STR(","), STR("strict")}},
    {"parse_logfmt", 0, -1, {NONE}},
    {"parse_syslog", 0, -1, {NONE}},
    {"parse_common_log", 0, -1, {NONE}},
    {"parse_apache_log", 0, -1, {NONE, STR("combined")}},
    {"parse_apache_log", 0, -1, {NONE, STR("error")}},
    {"parse_timestamp", 0, 1, {NONE}},
    {"parse_timestamp", 0, -1, {NONE, STR("%d/%b/%Y:%T %z"), STR("Europe/Berlin")}},
    {"format_timestamp", -1, 1, {NONE, NONE, STR("America/New_York")}},
};

#define NCALLS (sizeof(calls) / sizeof(calls[0]))

static void require(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void run(const fuzz_call *fc, const char *data, size_t size)
{
    const vrl_function *fn = vrl_function_find(fc->name);
    require(fn != NULL);
    vrl_const_arg cargs[VRL_MAX_ARGS];
    vrl_arg args[VRL_MAX_ARGS];
    memset(cargs, 0, sizeof(cargs));
    memset(args, 0, sizeof(args));
    for (int i = 0; i < 4; i++) {
        if (fc->consts[i].kind == VALUE_NULL)
            continue;
        cargs[i].present = cargs[i].constant = true;
        cargs[i].val = fc->consts[i];
        args[i].present = true;
        args[i].val = fc->consts[i];
    }
    const char *text = data, *format = NULL;
    size_t tn = size, fn_len = 0;
    if (fc->format_arg >= 0) {
        const char *nl = memchr(data, '\n', size);
        if (!nl)
            return;
        tn = (size_t)(nl - data);
        format = nl + 1;
        fn_len = size - tn - 1;
        cargs[fc->format_arg].present = true;
        args[fc->format_arg].present = true;
        args[fc->format_arg].val = value_bytes(format, fn_len);
    }
    if (fc->value_arg >= 0) {
        cargs[fc->value_arg].present = true;
        args[fc->value_arg].present = true;
        args[fc->value_arg].val = value_bytes(text, tn);
    } else {
        int64_t ns = 0;
        memcpy(&ns, text, tn < sizeof(ns) ? tn : sizeof(ns));
        cargs[0].present = args[0].present = true;
        args[0].val = value_timestamp(ns);
    }

    void *state = NULL;
    sl_error err;
    if (fn->compile && fn->compile(cargs, &state, &err) < 0)
        return;
    arena *a = arena_new();
    if (a) {
        vrl_call c = {a, state, NULL};
        value out;
        err.msg[0] = '\0';
        if (fn->call(&c, args, &out, &err) == 0) {
            buf b = BUF_INIT;
            require(json_encode_value(&b, &out) == 0);
            buf_free(&b);
        } else {
            require(err.msg[0] != '\0');
        }
        arena_free(a);
    }
    if (fn->free_state)
        fn->free_state(state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    run(&calls[data[0] % NCALLS], (const char *)data + 1, size - 1);
    return 0;
}
