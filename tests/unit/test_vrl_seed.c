/* test_vrl_seed.c - the seed programs, exactly as the user wrote
 * them, compiled as one program and as three, run on events shaped like
 * kubernetes_logs output (with and without the source's declared field
 * types) and like JSON lines decoded from stdin. Bad input (a token count
 * that is not a number, a message that is not a string, a pod name of
 * unknown type that is missing) is a runtime error that leaves the event
 * exactly as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/vrl_program_test.h"

#define CLASSIFY                                                          \
    "if match(.kubernetes.pod_name, r\"chat-ui\") {\n"                    \
    "  .workload_type = \"ai-chat\"\n"                                    \
    "  .service = \"chat-ui\"\n"                                          \
    "} else if match(.kubernetes.pod_name, r\"semantic-kernel\") {\n"     \
    "  .workload_type = \"ai-agent\"\n"                                   \
    "  .service = \"semantic-kernel\"\n"                                  \
    "}\n"

#define SECURITY                                                              \
    "if match(string!(.message), r\"(?i)(error|exception|failed|denied)\") {\n" \
    "  .security_event = true\n"                                              \
    "  .severity = \"warning\"\n"                                             \
    "}\n"

#define METRICS                                                  \
    "if exists(.response_time) {\n"                              \
    "  .performance.response_time_ms = to_float!(.response_time)\n" \
    "}\n"                                                        \
    "if exists(.token_count) {\n"                                \
    "  .ai_metrics.token_count = to_int!(.token_count)\n"        \
    "}\n"

static const char *const seed_whole = CLASSIFY "\n" SECURITY "\n" METRICS;
static const char *const seed_parts[] = {CLASSIFY, SECURITY, METRICS};

/* What kubernetes_logs declares about its metadata fields. */
static const vrl_field_type k8s_fields[] = {
    {".kubernetes.pod_name", VRL_KIND(VALUE_BYTES)},
    {".kubernetes.pod_namespace", VRL_KIND(VALUE_BYTES)},
    {".kubernetes.container_name", VRL_KIND(VALUE_BYTES)},
    {".message", VRL_KIND(VALUE_BYTES)},
};

#define K8S_CHAT                                                                               \
    "{\"file\":\"/var/log/pods/ai_chat-ui-7d9f_1/chat/0.log\","                                \
    "\"kubernetes\":{\"container_name\":\"chat\",\"pod_labels\":{\"app\":\"chat-ui\"},"        \
    "\"pod_name\":\"chat-ui-7d9f\",\"pod_namespace\":\"ai\"},"                                 \
    "\"message\":\"upstream request FAILED: permission denied\",\"response_time\":\"182.5\","  \
    "\"source_type\":\"kubernetes_logs\",\"stream\":\"stdout\",\"token_count\":\"1337\"}"

#define K8S_CHAT_OUT                                                                           \
    "{\"ai_metrics\":{\"token_count\":1337},"                                                  \
    "\"file\":\"/var/log/pods/ai_chat-ui-7d9f_1/chat/0.log\","                                 \
    "\"kubernetes\":{\"container_name\":\"chat\",\"pod_labels\":{\"app\":\"chat-ui\"},"        \
    "\"pod_name\":\"chat-ui-7d9f\",\"pod_namespace\":\"ai\"},"                                 \
    "\"message\":\"upstream request FAILED: permission denied\","                              \
    "\"performance\":{\"response_time_ms\":182.5},\"response_time\":\"182.5\","                \
    "\"security_event\":true,\"service\":\"chat-ui\",\"severity\":\"warning\","                \
    "\"source_type\":\"kubernetes_logs\",\"stream\":\"stdout\",\"token_count\":\"1337\","      \
    "\"workload_type\":\"ai-chat\"}"

#define K8S_AGENT                                                                              \
    "{\"kubernetes\":{\"pod_name\":\"semantic-kernel-0\",\"pod_namespace\":\"ai\"},"           \
    "\"message\":\"planner step complete\",\"source_type\":\"kubernetes_logs\"}"

#define K8S_AGENT_OUT                                                                          \
    "{\"kubernetes\":{\"pod_name\":\"semantic-kernel-0\",\"pod_namespace\":\"ai\"},"           \
    "\"message\":\"planner step complete\",\"service\":\"semantic-kernel\","                   \
    "\"source_type\":\"kubernetes_logs\",\"workload_type\":\"ai-agent\"}"

#define K8S_OTHER                                                                              \
    "{\"kubernetes\":{\"pod_name\":\"ingress-nginx-5\",\"pod_namespace\":\"infra\"},"          \
    "\"message\":\"GET /healthz 200\",\"source_type\":\"kubernetes_logs\"}"

/* A JSON line from stdin: numbers stay numbers. */
#define JSON_LINE                                                                              \
    "{\"kubernetes\":{\"pod_name\":\"chat-ui-1\"},\"message\":\"Exception in handler\","       \
    "\"response_time\":42,\"source_type\":\"stdin\",\"token_count\":7.9}"

#define JSON_LINE_OUT                                                                          \
    "{\"ai_metrics\":{\"token_count\":7},\"kubernetes\":{\"pod_name\":\"chat-ui-1\"},"         \
    "\"message\":\"Exception in handler\",\"performance\":{\"response_time_ms\":42.0},"        \
    "\"response_time\":42,\"security_event\":true,\"service\":\"chat-ui\","                    \
    "\"severity\":\"warning\",\"source_type\":\"stdin\",\"token_count\":7.9,"                  \
    "\"workload_type\":\"ai-chat\"}"

typedef struct seed {
    vrl_program *whole;
    vrl_program *parts[3];
} seed;

static void seed_compile(seed *s, const vrl_options *opts)
{
    s->whole = tprog_opts(seed_whole, opts);
    for (int i = 0; i < 3; i++)
        s->parts[i] = tprog_opts(seed_parts[i], opts);
}

static void seed_free(seed *s)
{
    vrl_program_free(s->whole);
    for (int i = 0; i < 3; i++)
        vrl_program_free(s->parts[i]);
}

/* The whole program, and the three parts one after the other (three remap
 * transforms in a row), must turn `in` into `want`. */
static void assert_seed(arena *a, const seed *s, const char *in, const char *want)
{
    trun_result r = trun(s->whole, a, in);
    if (r.outcome != VRL_DONE)
        fail_msg("seed failed on %s: %s", in, r.err.msg);
    if (strcmp(r.event, want) != 0)
        fail_msg("seed on %s\ngave %s\nwant %s", in, r.event, want);
    event e = tlog(a, in);
    for (int i = 0; i < 3; i++) {
        r = trun_event(s->parts[i], a, &e);
        if (r.outcome != VRL_DONE)
            fail_msg("seed part %d failed on %s: %s", i + 1, in, r.err.msg);
    }
    if (strcmp(r.event, want) != 0)
        fail_msg("seed in three parts on %s\ngave %s\nwant %s", in, r.event, want);
}

static void assert_seed_fails(arena *a, const vrl_program *p, const char *in, const char *want)
{
    event e = tlog(a, in);
    const char *before = tjson_of(a, &e.u.log);
    trun_result r = trun_event(p, a, &e);
    if (r.outcome != VRL_FAILED)
        fail_msg("seed on %s ended with %d, want a failure", in, r.outcome);
    if (strcmp(r.err.msg, want) != 0)
        fail_msg("seed on %s failed with\n%s\nwant\n%s", in, r.err.msg, want);
    if (strcmp(r.event, before) != 0)
        fail_msg("failed seed changed %s into %s", before, r.event);
}

static void test_seed_on_kubernetes_logs(void **state)
{
    arena *a = *state;
    vrl_options declared = {false, k8s_fields, SL_ARRAY_LEN(k8s_fields)};
    const vrl_options *opts[] = {NULL, &declared};
    for (size_t i = 0; i < SL_ARRAY_LEN(opts); i++) {
        seed s;
        seed_compile(&s, opts[i]);
        assert_seed(a, &s, K8S_CHAT, K8S_CHAT_OUT);
        assert_seed(a, &s, K8S_AGENT, K8S_AGENT_OUT);
        assert_seed(a, &s, K8S_OTHER, K8S_OTHER);
        seed_free(&s);
    }
}

static void test_seed_on_json_lines(void **state)
{
    arena *a = *state;
    seed s;
    seed_compile(&s, NULL);
    assert_seed(a, &s, JSON_LINE, JSON_LINE_OUT);
    assert_seed(a, &s, "{\"kubernetes\":{\"pod_name\":\"x\"},\"message\":\"fine\"}",
                "{\"kubernetes\":{\"pod_name\":\"x\"},\"message\":\"fine\"}");
    seed_free(&s);
}

static void test_seed_bad_input_is_handled(void **state)
{
    arena *a = *state;
    seed s;
    seed_compile(&s, NULL);
    assert_seed_fails(a, s.whole,
                      "{\"kubernetes\":{\"pod_name\":\"chat-ui-1\"},\"message\":\"error\","
                      "\"token_count\":\"many\"}",
                      "function call error for \"to_int\" at (487:508): Invalid integer "
                      "\"many\": invalid digit found in string");
    assert_seed_fails(a, s.whole,
                      "{\"kubernetes\":{\"pod_name\":\"chat-ui-1\"},\"message\":{\"nested\":1}}",
                      "function call error for \"string\" at (230:247): expected string, got "
                      "object");
    /* A pod name of unknown type that turns out missing or not a string:
     * a handled error (reported for counting), the
     * condition false, and the rest of the program still runs. */
    assert_run_handles(s.whole, a, "{\"message\":\"error\"}",
                       "function call error for \"match\" at (3:42): argument \"value\": "
                       "expected string, got null",
                       "{\"message\":\"error\",\"security_event\":true,\"severity\":\"warning\"}");
    assert_run_handles(s.parts[0], a, "{\"kubernetes\":{\"pod_name\":7}}",
                       "function call error for \"match\" at (3:42): argument \"value\": "
                       "expected string, got integer",
                       "{\"kubernetes\":{\"pod_name\":7}}");
    seed_free(&s);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, vrl_test_setup, vrl_test_teardown)
    const struct CMUnitTest tests[] = {
        T(test_seed_on_kubernetes_logs),
        T(test_seed_on_json_lines),
        T(test_seed_bad_input_is_handled),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, vrl_group_teardown);
}
