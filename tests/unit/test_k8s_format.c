/* Unit tests: Kubernetes pod log formats - CRI and docker json-file lines,
 * the merger of
 * partial chunks, and the pod log path layouts. Expected values are exact. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sources/k8s_format.h"

#define SEC 1000000000LL
/* 2016-10-06T00:17:09Z */
#define T0 (1475713029LL * SEC)

static k8s_cri_line cri_ok(const char *line)
{
    k8s_cri_line c;
    sl_error err = {{0}};
    memset(&c, 0xa5, sizeof c);
    if (k8s_parse_cri(line, strlen(line), &c, &err) != 0)
        fail_msg("%s: %s", line, err.msg);
    return c;
}

static void cri_bad(const char *line, const char *msg)
{
    k8s_cri_line c;
    sl_error err = {{0}};
    assert_int_equal(k8s_parse_cri(line, strlen(line), &c, &err), -1);
    assert_string_equal(err.msg, msg);
}

static void assert_content(const char *p, size_t n, const char *want)
{
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static void cri_lines_of_containerd_and_crio(void **state)
{
    (void)state;
    const char *l = "2016-10-06T00:17:09.669794202Z stdout P log content 1";
    k8s_cri_line c = cri_ok(l);
    assert_int_equal(c.timestamp_ns, T0 + 669794202);
    assert_int_equal(c.stream, K8S_STDOUT);
    assert_true(c.partial);
    assert_ptr_equal(c.content, l + 40);
    assert_content(c.content, c.content_len, "log content 1");

    c = cri_ok("2016-10-06T00:17:41Z stderr F  two  spaces kept ");
    assert_int_equal(c.timestamp_ns, 1475713061LL * SEC);
    assert_int_equal(c.stream, K8S_STDERR);
    assert_false(c.partial);
    assert_content(c.content, c.content_len, " two  spaces kept ");

    c = cri_ok("2016-10-06T00:17:09.5Z stdout F:x:y tagged");
    assert_int_equal(c.timestamp_ns, T0 + 500000000);
    assert_false(c.partial);
    assert_content(c.content, c.content_len, "tagged");

    c = cri_ok("2016-10-06T00:17:09.669794202+00:00 stdout P:extra crio");
    assert_true(c.partial);
    assert_content(c.content, c.content_len, "crio");

    c = cri_ok("2024-02-29T23:59:59-07:00 stderr F offset");
    assert_int_equal(c.timestamp_ns, 1709276399LL * SEC);
    assert_int_equal(c.stream, K8S_STDERR);
    assert_string_equal(k8s_stream_name(c.stream), "stderr");
    assert_string_equal(k8s_stream_name(K8S_STDOUT), "stdout");
}

static void cri_empty_content(void **state)
{
    (void)state;
    k8s_cri_line c = cri_ok("2016-10-06T00:17:09Z stdout F ");
    assert_int_equal(c.content_len, 0);
    assert_false(c.partial);
    c = cri_ok("2016-10-06T00:17:09Z stdout P");
    assert_int_equal(c.content_len, 0);
    assert_true(c.partial);
}

static void cri_bad_lines(void **state)
{
    (void)state;
    cri_bad("", "CRI line: no space after the timestamp (byte 0)");
    cri_bad("2016-10-06T00:17:09Z", "CRI line: no space after the timestamp (byte 20)");
    cri_bad("2016-10-06T00:17Z stdout F x",
            "CRI line: bad timestamp: expected ':' in the time at byte 16");
    cri_bad("yesterday stdout F x", "CRI line: bad timestamp: expected year at byte 0");
    cri_bad("2016-10-06T00:17:09Z stdin F x",
            "CRI line: stream is not stdout or stderr at byte 21");
    cri_bad("2016-10-06T00:17:09Z STDOUT F x",
            "CRI line: stream is not stdout or stderr at byte 21");
    cri_bad("2016-10-06T00:17:09Z stdout", "CRI line: expected a space after the stream at byte 27");
    cri_bad("2016-10-06T00:17:09Z stdoutF x",
            "CRI line: expected a space after the stream at byte 27");
    cri_bad("2016-10-06T00:17:09Z stdout ", "CRI line: tag is not F or P at byte 28");
    cri_bad("2016-10-06T00:17:09Z stdout  x", "CRI line: tag is not F or P at byte 28");
    cri_bad("2016-10-06T00:17:09Z stdout X x", "CRI line: tag is not F or P at byte 28");
    cri_bad("2016-10-06T00:17:09Z stdout FP x", "CRI line: tag is not F or P at byte 28");
    cri_bad("2016-10-06T00:17:09Z stdout :F x", "CRI line: tag is not F or P at byte 28");
    cri_bad("2016-10-06T00:17:09Z stdout f x", "CRI line: tag is not F or P at byte 28");
}

static void docker_ok(arena *a, const char *line, k8s_docker_line *d)
{
    sl_error err = {{0}};
    memset(d, 0xa5, sizeof *d);
    if (k8s_parse_docker(a, line, strlen(line), d, &err) != 0)
        fail_msg("%s: %s", line, err.msg);
}

static void docker_bad(arena *a, const char *line, const char *msg)
{
    k8s_docker_line d;
    sl_error err = {{0}};
    assert_int_equal(k8s_parse_docker(a, line, strlen(line), &d, &err), -1);
    assert_string_equal(err.msg, msg);
}

static void docker_full_and_partial_lines(void **state)
{
    (void)state;
    arena *a = arena_new();
    assert_non_null(a);
    k8s_docker_line d;
    docker_ok(a, "{\"log\":\"\\u003chtml\\u003e \\u0026 \\\"q\\\"\\n\",\"stream\":\"stdout\","
                 "\"time\":\"2016-10-06T00:17:09.669794202Z\"}", &d);
    assert_false(d.partial);
    assert_int_equal(d.stream, K8S_STDOUT);
    assert_int_equal(d.timestamp_ns, T0 + 669794202);
    assert_content(d.content, d.content_len, "<html> & \"q\"");

    docker_ok(a, "{\"log\":\"chunk without newline\",\"stream\":\"stderr\","
                 "\"attrs\":{\"tag\":\"x\"},\"time\":\"2016-10-06T00:17:41Z\"}", &d);
    assert_true(d.partial);
    assert_int_equal(d.stream, K8S_STDERR);
    assert_int_equal(d.timestamp_ns, 1475713061LL * SEC);
    assert_content(d.content, d.content_len, "chunk without newline");

    docker_ok(a, " {\"time\":\"2016-10-06T00:17:09+00:00\",\"stream\":\"stdout\",\"log\":\"\\n\"} ",
              &d);
    assert_false(d.partial);
    assert_int_equal(d.content_len, 0);
    assert_int_equal(d.timestamp_ns, T0);

    /* only the last newline ends the line; one before it is content */
    docker_ok(a, "{\"log\":\"a\\n\\n\",\"stream\":\"stdout\",\"time\":\"2016-10-06T00:17:09Z\"}",
              &d);
    assert_false(d.partial);
    assert_content(d.content, d.content_len, "a\n");
    arena_free(a);
}

static void docker_missing_and_ill_typed_fields(void **state)
{
    (void)state;
    arena *a = arena_new();
    assert_non_null(a);
    docker_bad(a, "{\"stream\":\"stdout\",\"time\":\"2016-10-06T00:17:09Z\"}",
               "docker json-file line: missing \"log\"");
    docker_bad(a, "{\"log\":\"x\\n\",\"time\":\"2016-10-06T00:17:09Z\"}",
               "docker json-file line: missing \"stream\"");
    docker_bad(a, "{\"log\":\"x\\n\",\"stream\":\"stdout\"}",
               "docker json-file line: missing \"time\"");
    docker_bad(a, "{\"log\":1,\"stream\":\"stdout\",\"time\":\"2016-10-06T00:17:09Z\"}",
               "docker json-file line: \"log\" is not a string");
    docker_bad(a, "{\"log\":\"x\",\"stream\":null,\"time\":\"2016-10-06T00:17:09Z\"}",
               "docker json-file line: \"stream\" is not a string");
    docker_bad(a, "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":1475713029}",
               "docker json-file line: \"time\" is not a string");
    docker_bad(a, "{\"log\":\"x\",\"stream\":\"stdin\",\"time\":\"2016-10-06T00:17:09Z\"}",
               "docker json-file line: \"stream\" is not stdout or stderr");
    docker_bad(a, "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"2016-10-06 00:17:09Z\"}",
               "docker json-file line: bad \"time\": expected 'T' between date and time at "
               "byte 10");
    docker_bad(a, "[\"log\"]", "docker json-file line: not a JSON object");

    k8s_docker_line d;
    sl_error err = {{0}};
    const char *trunc = "{\"log\":\"x\",\"stream\":\"std";
    assert_int_equal(k8s_parse_docker(a, trunc, strlen(trunc), &d, &err), -1);
    assert_true(strncmp(err.msg, "docker json-file line: ", 23) == 0);
    assert_true(strlen(err.msg) > 23);
    arena_free(a);
}

static void formats_detected_from_the_first_line(void **state)
{
    (void)state;
    const char *cri = "2016-10-06T00:17:09.669794202Z stdout F hello";
    const char *docker = "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"2016-10-06T00:17:09Z\"}";
    assert_int_equal(k8s_detect_format(cri, strlen(cri)), K8S_FORMAT_CRI);
    assert_int_equal(k8s_detect_format(docker, strlen(docker)), K8S_FORMAT_DOCKER);
    assert_int_equal(k8s_detect_format("hello world", 11), K8S_FORMAT_UNKNOWN);
    /* JSON may start after whitespace; the docker parser reads it so too. */
    const char *spaced = "\r {\"log\":\"x\"}";
    assert_int_equal(k8s_detect_format(spaced, strlen(spaced)), K8S_FORMAT_DOCKER);
    assert_int_equal(k8s_detect_format("", 0), K8S_FORMAT_UNKNOWN);
    assert_int_equal(k8s_detect_format("2016-10-06T00:17:09Z stdin F x", 30), K8S_FORMAT_UNKNOWN);
}

/* Feeds one chunk and checks the merger's answer. */
static k8s_merged feed(k8s_merger *m, k8s_stream s, bool partial, const char *content,
                       int64_t ts)
{
    k8s_merged out;
    sl_error err = {{0}};
    if (k8s_merger_feed(m, s, partial, content, strlen(content), ts, &out, &err) != 0)
        fail_msg("feed: %s", err.msg);
    assert_int_equal(out.stream, s);
    return out;
}

static void assert_line(k8s_merged o, const char *want, int64_t ts)
{
    assert_int_equal(o.result, K8S_MERGE_LINE);
    assert_content(o.data, o.len, want);
    assert_int_equal(o.timestamp_ns, ts);
}

static void merger_joins_per_stream_with_interleaving(void **state)
{
    (void)state;
    k8s_merger m;
    k8s_merger_init(&m, 0);
    const char *full = "full line";
    k8s_merged o = feed(&m, K8S_STDOUT, false, full, 1);
    assert_line(o, "full line", 1);
    assert_ptr_equal(o.data, full);

    assert_int_equal(feed(&m, K8S_STDOUT, true, "out-a ", 10).result, K8S_MERGE_PENDING);
    assert_int_equal(feed(&m, K8S_STDERR, true, "err-a ", 11).result, K8S_MERGE_PENDING);
    assert_int_equal(feed(&m, K8S_STDOUT, true, "out-b ", 12).result, K8S_MERGE_PENDING);
    assert_line(feed(&m, K8S_STDERR, false, "err-b", 13), "err-a err-b", 11);
    assert_line(feed(&m, K8S_STDERR, false, "err alone", 14), "err alone", 14);
    assert_line(feed(&m, K8S_STDOUT, false, "out-c", 15), "out-a out-b out-c", 10);

    /* empty chunks, and a line that is one empty full chunk */
    assert_int_equal(feed(&m, K8S_STDOUT, true, "", 20).result, K8S_MERGE_PENDING);
    assert_line(feed(&m, K8S_STDOUT, false, "", 21), "", 20);
    assert_line(feed(&m, K8S_STDERR, false, "", 22), "", 22);
    assert_int_equal(m.too_big_lines, 0);
    k8s_merger_free(&m);
}

static void merger_rejoins_a_split_utf8_character(void **state)
{
    (void)state;
    /* containerd cuts at 16 KiB, here inside "€" (E2 82 AC) */
    size_t n = 16 * 1024;
    char *first = malloc(n + 1);
    assert_non_null(first);
    memset(first, 'a', n - 2);
    first[n - 2] = '\xe2';
    first[n - 1] = '\x82';
    first[n] = '\0';
    char line[128];
    snprintf(line, sizeof line, "2016-10-06T00:17:09.5Z stdout F \xac tail");
    k8s_cri_line c = cri_ok(line);

    k8s_merger m;
    k8s_merger_init(&m, 0);
    assert_int_equal(feed(&m, K8S_STDOUT, true, first, 7).result, K8S_MERGE_PENDING);
    k8s_merged o;
    sl_error err = {{0}};
    assert_int_equal(k8s_merger_feed(&m, c.stream, c.partial, c.content, c.content_len,
                                     c.timestamp_ns, &o, &err), 0);
    assert_int_equal(o.result, K8S_MERGE_LINE);
    assert_int_equal(o.len, n + 6);
    assert_int_equal(o.timestamp_ns, 7);
    assert_memory_equal(o.data, first, n);
    assert_memory_equal(o.data + n - 2, "\xe2\x82\xac tail", 8);
    k8s_merger_free(&m);
    free(first);
}

static void merger_discards_lines_over_the_limit(void **state)
{
    (void)state;
    k8s_merger m;
    k8s_merger_init(&m, 10);
    /* exactly at the limit is kept */
    assert_int_equal(feed(&m, K8S_STDOUT, true, "12345", 1).result, K8S_MERGE_PENDING);
    assert_line(feed(&m, K8S_STDOUT, false, "67890", 2), "1234567890", 1);

    /* over it: reported once, then the line's chunks are dropped to its end */
    assert_int_equal(feed(&m, K8S_STDOUT, true, "123456", 3).result, K8S_MERGE_PENDING);
    assert_int_equal(feed(&m, K8S_STDERR, true, "err ", 4).result, K8S_MERGE_PENDING);
    k8s_merged o = feed(&m, K8S_STDOUT, true, "78901", 5);
    assert_int_equal(o.result, K8S_MERGE_TOO_BIG);
    assert_int_equal(o.too_big_len, 11);
    assert_int_equal(o.timestamp_ns, 3);
    assert_int_equal(m.too_big_lines, 1);
    assert_int_equal(feed(&m, K8S_STDOUT, true, "more", 6).result, K8S_MERGE_PENDING);
    assert_int_equal(feed(&m, K8S_STDOUT, false, "end", 7).result, K8S_MERGE_PENDING);
    /* the other stream was not disturbed, and the next line is whole again */
    assert_line(feed(&m, K8S_STDERR, false, "ok", 8), "err ok", 4);
    assert_line(feed(&m, K8S_STDOUT, false, "next", 9), "next", 9);

    /* a full line too long on its own is discarded as well */
    o = feed(&m, K8S_STDERR, false, "01234567890", 10);
    assert_int_equal(o.result, K8S_MERGE_TOO_BIG);
    assert_int_equal(o.too_big_len, 11);
    assert_int_equal(m.too_big_lines, 2);
    assert_line(feed(&m, K8S_STDERR, false, "after", 11), "after", 11);

    /* a too-long line cut off by a flush yields nothing */
    assert_int_equal(feed(&m, K8S_STDOUT, true, "0123456789X", 12).result, K8S_MERGE_TOO_BIG);
    k8s_merger_flush(&m, K8S_STDOUT, &o);
    assert_int_equal(o.result, K8S_MERGE_PENDING);
    assert_line(feed(&m, K8S_STDOUT, false, "fresh", 13), "fresh", 13);
    assert_int_equal(m.too_big_lines, 3);
    k8s_merger_free(&m);
}

static void merger_flush_ends_pending_lines(void **state)
{
    (void)state;
    k8s_merger m;
    k8s_merger_init(&m, 0);
    k8s_merged o;
    k8s_merger_flush(&m, K8S_STDOUT, &o);
    assert_int_equal(o.result, K8S_MERGE_PENDING);
    assert_int_equal(feed(&m, K8S_STDERR, true, "half ", 5).result, K8S_MERGE_PENDING);
    assert_int_equal(feed(&m, K8S_STDERR, true, "way", 6).result, K8S_MERGE_PENDING);
    k8s_merger_flush(&m, K8S_STDERR, &o);
    assert_line(o, "half way", 5);
    assert_int_equal(o.stream, K8S_STDERR);
    k8s_merger_flush(&m, K8S_STDERR, &o);
    assert_int_equal(o.result, K8S_MERGE_PENDING);

    /* a huge joined line: its buffer is given back when the next one starts */
    size_t n = 200 * 1024;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'z', n);
    big[n] = '\0';
    assert_int_equal(feed(&m, K8S_STDOUT, true, big, 1).result, K8S_MERGE_PENDING);
    o = feed(&m, K8S_STDOUT, false, big, 2);
    assert_int_equal(o.result, K8S_MERGE_LINE);
    assert_int_equal(o.len, 2 * n);
    assert_true(m.pending[K8S_STDOUT].cap >= 2 * n);
    assert_int_equal(feed(&m, K8S_STDOUT, true, "x", 3).result, K8S_MERGE_PENDING);
    assert_true(m.pending[K8S_STDOUT].cap <= 64 * 1024);
    free(big);
    k8s_merger_free(&m);
    k8s_merger_free(&m);
}

static void span_is(k8s_span sp, const char *want)
{
    assert_content(sp.ptr, sp.len, want);
}

static void pod_paths_of_the_current_layout(void **state)
{
    (void)state;
    k8s_pod_path p;
    assert_int_equal(k8s_parse_pod_path(
        "/var/log/pods/kube-system_coredns-5d78c9869d-abcde_0b5e3a4e-1f2d-4c3b-9a8e-1234567890ab/coredns/0.log",
        &p), 0);
    assert_int_equal(p.fields, K8S_POD_NAMESPACE | K8S_POD_NAME | K8S_POD_UID | K8S_POD_CONTAINER);
    span_is(p.pod_namespace, "kube-system");
    span_is(p.pod_name, "coredns-5d78c9869d-abcde");
    span_is(p.pod_uid, "0b5e3a4e-1f2d-4c3b-9a8e-1234567890ab");
    span_is(p.container, "coredns");
    assert_int_equal(p.restart, 0);
    assert_false(p.rotated);

    assert_int_equal(k8s_parse_pod_path("/var/log/pods/default_web-0_uid-1/nginx/12.log.20240131-235959",
                                        &p), 0);
    assert_int_equal(p.fields, K8S_POD_NAMESPACE | K8S_POD_NAME | K8S_POD_UID | K8S_POD_CONTAINER);
    span_is(p.pod_namespace, "default");
    span_is(p.pod_name, "web-0");
    span_is(p.pod_uid, "uid-1");
    span_is(p.container, "nginx");
    assert_int_equal(p.restart, 12);
    assert_true(p.rotated);

    /* a relative pod_logs_dir works the same */
    assert_int_equal(k8s_parse_pod_path("ns_p_u/c/1.log", &p), 0);
    span_is(p.pod_namespace, "ns");
    span_is(p.container, "c");
    assert_int_equal(p.restart, 1);
}

static void pod_paths_of_the_legacy_layout(void **state)
{
    (void)state;
    k8s_pod_path p;
    assert_int_equal(k8s_parse_pod_path("/var/log/pods/0b5e3a4e-1f2d-4c3b/my-app_3.log", &p), 0);
    assert_int_equal(p.fields, K8S_POD_UID | K8S_POD_CONTAINER);
    span_is(p.pod_uid, "0b5e3a4e-1f2d-4c3b");
    span_is(p.container, "my-app");
    assert_int_equal(p.restart, 3);
    assert_false(p.rotated);
    assert_null(p.pod_namespace.ptr);
    assert_null(p.pod_name.ptr);

    assert_int_equal(k8s_parse_pod_path("/var/log/pods/uid/app_0.log.20240101-000000", &p), 0);
    assert_int_equal(p.fields, K8S_POD_UID | K8S_POD_CONTAINER);
    span_is(p.container, "app");
    assert_true(p.rotated);
}

static void pod_paths_of_unknown_layouts(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "0.log",
        "/0.log",
        "/var/log/pods/ns_pod_uid/c/0.txt",
        "/var/log/pods/ns_pod_uid/c/x.log",
        "/var/log/pods/ns_pod_uid/c/.log",
        "/var/log/pods/ns_pod/c/0.log",
        "/var/log/pods/ns_pod_uid_x/c/0.log",
        "/var/log/pods/_pod_uid/c/0.log",
        "/var/log/pods/ns__uid/c/0.log",
        "/var/log/pods/ns_pod_/c/0.log",
        "/var/log/pods/ns_pod_uid/c/0.log.gz",
        "/var/log/pods/ns_pod_uid/c/0.log.20240101-000000.gz",
        "/var/log/pods/ns_pod_uid/c/0.log.2024010-0000000",
        "/var/log/pods/ns_pod_uid/c/99999999999.log",
        "/var/log/pods/uid/_0.log",
        "/var/log/pods/uid/app_.log",
        "/var/log/pods/u_id/app_0.log",
        "/var/log/pods/ns_pod_uid/c//0.log",
        "//c_0.log",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        k8s_pod_path p;
        if (k8s_parse_pod_path(bad[i], &p) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(p.fields, 0);
    }
}

/* What the source reads: kubelet's renamed plain files (rotated), never the
 * .gz and .tmp files its rotation makes from old logs, nor a suffix that
 * only looks like a rotation. */
static void rotated_and_excluded_names(void **state)
{
    (void)state;
    k8s_pod_path p;
    assert_int_equal(k8s_parse_pod_path("/var/log/pods/ns_p_u/c/0.log.20240131-235959", &p), 0);
    assert_true(p.rotated);
    assert_int_equal(k8s_parse_pod_path("/var/log/pods/ns_p_u/c/0.log", &p), 0);
    assert_false(p.rotated);
    static const char *skipped[] = {
        "/var/log/pods/ns_p_u/c/0.log.20240131-235959.gz",
        "/var/log/pods/ns_p_u/c/0.log.20240131-235959.tmp",
        "/var/log/pods/ns_p_u/c/0.log.20240131_235959",
        "/var/log/pods/ns_p_u/c/0.log.2024013a-235959",
        "/var/log/pods/ns_p_u/c/0.log.gzip",
        "/var/log/pods/ns_p_u/c/.log.20240131-235959",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(skipped); i++)
        if (k8s_parse_pod_path(skipped[i], &p) != -1)
            fail_msg("accepted %s", skipped[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cri_lines_of_containerd_and_crio),
        cmocka_unit_test(cri_empty_content),
        cmocka_unit_test(cri_bad_lines),
        cmocka_unit_test(docker_full_and_partial_lines),
        cmocka_unit_test(docker_missing_and_ill_typed_fields),
        cmocka_unit_test(formats_detected_from_the_first_line),
        cmocka_unit_test(merger_joins_per_stream_with_interleaving),
        cmocka_unit_test(merger_rejoins_a_split_utf8_character),
        cmocka_unit_test(merger_discards_lines_over_the_limit),
        cmocka_unit_test(merger_flush_ends_pending_lines),
        cmocka_unit_test(pod_paths_of_the_current_layout),
        cmocka_unit_test(pod_paths_of_the_legacy_layout),
        cmocka_unit_test(pod_paths_of_unknown_layouts),
        cmocka_unit_test(rotated_and_excluded_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
