/* test_api.c - the HTTP API served on loopback and queried with libcurl:
 * /health before and after shutdown starts, /metrics in Prometheus format,
 * /api/components built from a hand-made config plus the registry, 404, 405
 * with Allow, HEAD, and the address errors an operator can meet. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/api.h"
#include "pipeline/buf.h"
#include "pipeline/component.h"
#include "pipeline/metrics.h"

static const component_desc test_source_desc = {
    .type = "demo_logs",
    .kind = COMPONENT_SOURCE,
};

static const component_desc test_sink_desc = {
    .type = "blackhole",
    .kind = COMPONENT_SINK,
};

typedef struct fixture {
    sl_config cfg;
    component_config components[2];
    char *sink_inputs[1];
    api_server *server;
    int port;
} fixture;

typedef struct reply {
    long status;
    buf body;
    buf headers;
    char content_type[128];
} reply;

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    return buf_append(ud, data, size * n) == 0 ? size * n : 0;
}

/* method is "GET", "HEAD" or anything else sent as a custom request. */
static void request(const fixture *f, const char *method, const char *path, reply *r)
{
    memset(r, 0, sizeof(*r));
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct)
        snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
    curl_easy_cleanup(c);
    if (!r->body.data)
        assert_int_equal(buf_reserve(&r->body, 0), 0);
}

static void reply_free(reply *r)
{
    buf_free(&r->body);
    buf_free(&r->headers);
}

static int start_server(void **state)
{
    metrics_reset();
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->sink_inputs[0] = "in";
    f->components[0] = (component_config){.id = "in", .kind = COMPONENT_SOURCE,
                                          .desc = &test_source_desc};
    f->components[1] = (component_config){.id = "out", .kind = COMPONENT_SINK,
                                          .desc = &test_sink_desc,
                                          .inputs = {f->sink_inputs, 1}};
    f->cfg.api_enabled = true;
    f->cfg.api_address = "127.0.0.1:0";
    f->cfg.components = f->components;
    f->cfg.ncomponents = 2;

    component_metrics in, out;
    sl_error err;
    assert_int_equal(component_metrics_init(&in, "in", "source", "demo_logs", &err), 0);
    assert_int_equal(component_metrics_init(&out, "out", "sink", "blackhole", &err), 0);
    metrics_add(in.received_events, 10);
    metrics_add(in.sent_events, 10);
    metrics_add(in.sent_bytes, 1200);
    metrics_add(out.received_events, 10);
    metrics_add(out.received_bytes, 1200);
    metrics_add(out.sent_events, 7);
    metrics_add(out.sent_bytes, 840);
    metrics_add(out.discarded_intentional, 1);
    metrics_add(out.discarded_error, 2);
    component_metrics_error(&out, "request_failed", "sending", 2);
    component_metrics_error(&out, "encoding_failed", "processing", 1);

    assert_int_equal(api_start(&f->cfg, &f->server, &err), 0);
    f->port = api_port(f->server);
    assert_true(f->port > 0);
    *state = f;
    return 0;
}

static int stop_server(void **state)
{
    fixture *f = *state;
    api_stop(f->server);
    free(f);
    metrics_reset();
    return 0;
}

static void health_is_ok_until_shutdown(void **state)
{
    fixture *f = *state;
    reply r;
    request(f, "GET", "/health", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"ok\":true}");
    assert_string_equal(r.content_type, "application/json");
    reply_free(&r);

    api_set_shutting_down(f->server);
    request(f, "GET", "/health", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body.data, "{\"ok\":false}");
    reply_free(&r);
}

static void metrics_are_prometheus_text(void **state)
{
    fixture *f = *state;
    reply r;
    request(f, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/plain; version=0.0.4");
    assert_non_null(strstr(r.body.data,
        "# TYPE sluice_component_sent_events_total counter\n"));
    assert_non_null(strstr(r.body.data,
        "sluice_component_sent_events_total{component_id=\"out\",component_kind=\"sink\","
        "component_type=\"blackhole\"} 7\n"));
    reply_free(&r);
}

static void head_answers_without_a_body(void **state)
{
    fixture *f = *state;
    reply r;
    request(f, "HEAD", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    reply_free(&r);
}

static json_t *component_at(json_t *doc, size_t i)
{
    return json_array_get(json_object_get(doc, "components"), i);
}

static json_int_t metric_of(json_t *component, const char *name)
{
    json_t *v = json_object_get(json_object_get(component, "metrics"), name);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void components_list_topology_and_counters(void **state)
{
    fixture *f = *state;
    reply r;
    request(f, "GET", "/api/components", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    json_error_t jerr;
    json_t *doc = json_loads(r.body.data, 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "components")), 2);

    json_t *in = component_at(doc, 0);
    assert_string_equal(json_string_value(json_object_get(in, "id")), "in");
    assert_string_equal(json_string_value(json_object_get(in, "kind")), "source");
    assert_string_equal(json_string_value(json_object_get(in, "type")), "demo_logs");
    assert_int_equal(json_array_size(json_object_get(in, "inputs")), 0);
    assert_int_equal(metric_of(in, "received_events"), 10);
    assert_int_equal(metric_of(in, "sent_events"), 10);
    assert_int_equal(metric_of(in, "sent_bytes"), 1200);
    assert_int_equal(metric_of(in, "errors"), 0);

    json_t *out = component_at(doc, 1);
    assert_string_equal(json_string_value(json_object_get(out, "id")), "out");
    assert_string_equal(json_string_value(json_object_get(out, "kind")), "sink");
    assert_string_equal(json_string_value(json_object_get(out, "type")), "blackhole");
    json_t *inputs = json_object_get(out, "inputs");
    assert_int_equal(json_array_size(inputs), 1);
    assert_string_equal(json_string_value(json_array_get(inputs, 0)), "in");
    assert_int_equal(metric_of(out, "received_events"), 10);
    assert_int_equal(metric_of(out, "received_bytes"), 1200);
    assert_int_equal(metric_of(out, "sent_events"), 7);
    assert_int_equal(metric_of(out, "sent_bytes"), 840);
    assert_int_equal(metric_of(out, "errors"), 3);
    assert_int_equal(metric_of(out, "discarded"), 3);
    json_decref(doc);
    reply_free(&r);
}

static void unknown_paths_are_not_found(void **state)
{
    fixture *f = *state;
    reply r;
    request(f, "GET", "/nope", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body.data, "{\"error\":\"not found\"}");
    reply_free(&r);
    request(f, "GET", "/health/extra", &r);
    assert_int_equal(r.status, 404);
    reply_free(&r);
}

static void other_methods_are_not_allowed(void **state)
{
    fixture *f = *state;
    const char *methods[] = {"POST", "PUT", "DELETE"};
    for (size_t i = 0; i < SL_ARRAY_LEN(methods); i++) {
        reply r;
        request(f, methods[i], "/metrics", &r);
        assert_int_equal(r.status, 405);
        assert_non_null(strstr(r.headers.data, "Allow: GET, HEAD\r\n"));
        reply_free(&r);
    }
}

static void an_address_in_use_is_named(void **state)
{
    fixture *f = *state;
    char address[64];
    snprintf(address, sizeof(address), "127.0.0.1:%d", f->port);
    sl_config cfg = f->cfg;
    cfg.api_address = address;
    api_server *second = NULL;
    sl_error err;
    assert_int_equal(api_start(&cfg, &second, &err), -1);
    assert_null(second);
    char expected[160];
    snprintf(expected, sizeof(expected),
             "API address 127.0.0.1:%d is already in use "
             "(set api.address or api.enabled: false)", f->port);
    assert_string_equal(err.msg, expected);
}

static void malformed_addresses_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"127.0.0.1", "::1:8686", "[::1]8686", "[::1]", ":8686",
                         "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:http"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_config cfg = {.api_enabled = true, .api_address = (char *)bad[i]};
        api_server *s = NULL;
        sl_error err = {{0}};
        assert_int_equal(api_start(&cfg, &s, &err), -1);
        assert_null(s);
        assert_non_null(strstr(err.msg, bad[i]));
    }
}

static void ipv6_loopback_is_served(void **state)
{
    (void)state;
    sl_config cfg = {.api_enabled = true, .api_address = "[::1]:0"};
    api_server *s = NULL;
    sl_error err;
    if (api_start(&cfg, &s, &err) < 0)
        skip();
    int port = api_port(s);
    char url[64];
    snprintf(url, sizeof(url), "http://[::1]:%d/health", port);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    buf body = BUF_INIT;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    api_stop(s);
    assert_int_equal(status, 200);
    assert_string_equal(body.data, "{\"ok\":true}");
    buf_free(&body);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(health_is_ok_until_shutdown, start_server, stop_server),
        cmocka_unit_test_setup_teardown(metrics_are_prometheus_text, start_server, stop_server),
        cmocka_unit_test_setup_teardown(head_answers_without_a_body, start_server, stop_server),
        cmocka_unit_test_setup_teardown(components_list_topology_and_counters,
                                        start_server, stop_server),
        cmocka_unit_test_setup_teardown(unknown_paths_are_not_found, start_server, stop_server),
        cmocka_unit_test_setup_teardown(other_methods_are_not_allowed, start_server, stop_server),
        cmocka_unit_test_setup_teardown(an_address_in_use_is_named, start_server, stop_server),
        cmocka_unit_test(malformed_addresses_are_refused),
        cmocka_unit_test(ipv6_loopback_is_served),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
