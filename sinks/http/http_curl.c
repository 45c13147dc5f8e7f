/* http_curl.c - the HTTP engine's default transport: libcurl multi, with
 * easy handles that keep their options (and connections) from request to
 * request.
 *
 * The engine sees it only through http_transport (http_internal.h), so its
 * state machine can be driven by a fake in the unit tests; everything that
 * names curl for sending requests lives here. The healthcheck borrows a
 * handle configured the same way (http_curl_easy_new). */
#include "sinks/http/http_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESPONSE_BYTES (64u << 20)

typedef struct curl_transport {
    http_sink *h;
    CURLM *multi;
    CURL **idle;
    size_t nidle, idle_cap;
} curl_transport;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    request *r = ud;
    size_t n = size * nmemb;
    if (r->response.len + n > MAX_RESPONSE_BYTES || buf_append(&r->response, data, n) < 0)
        return 0;   /* curl turns this into a transport error: retried */
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    request *r = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0)
        r->retry_after_ns = http_parse_retry_after(data + sizeof(name) - 1, n - (sizeof(name) - 1),
                                                   sl_now_wall_ns());
    return n;
}

/* Options every handle of the sink shares; set once per handle, which is
 * then reused for request after request (and keeps its connection). */
static CURLcode configure_easy(const http_sink *h, CURL *e)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                  \
    do {                                               \
        if (rc == CURLE_OK)                            \
            rc = curl_easy_setopt(e, opt, val);        \
    } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_USERAGENT, "sluice/" SLUICE_VERSION);
    SET(CURLOPT_TIMEOUT_MS, h->timeout_ms);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_SSL_VERIFYPEER, h->verify_peer ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, h->verify_host ? 2L : 0L);
    if (h->ca_file)
        SET(CURLOPT_CAINFO, h->ca_file);
    if (h->crt_file)
        SET(CURLOPT_SSLCERT, h->crt_file);
    if (h->key_file)
        SET(CURLOPT_SSLKEY, h->key_file);
    if (h->key_pass)
        SET(CURLOPT_KEYPASSWD, h->key_pass);
    if (h->user) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, h->user);
        SET(CURLOPT_PASSWORD, h->password ? h->password : "");
    }
    /* No CURLOPT_PROXY: curl then reads http_proxy, https_proxy and
     * no_proxy from the environment by itself. */
#undef SET
    return rc;
}

CURL *http_curl_easy_new(const http_sink *h)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    if (configure_easy(h, e) != CURLE_OK) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

static CURL *take_easy(curl_transport *t)
{
    if (t->nidle > 0)
        return t->idle[--t->nidle];
    return http_curl_easy_new(t->h);
}

static void return_easy(curl_transport *t, CURL *e)
{
    if (SL_GROW(t->idle, t->nidle, t->idle_cap, 8) < 0) {
        curl_easy_cleanup(e);
        return;
    }
    t->idle[t->nidle++] = e;
}

static int curl_open(void *ud, http_sink *h, void **state, sl_error *err)
{
    SL_UNUSED(ud);
    curl_transport *t = calloc(1, sizeof(*t));
    if (t)
        t->multi = curl_multi_init();
    if (!t || !t->multi) {
        free(t);
        return sl_fail(err, "cannot create a libcurl multi handle");
    }
    t->h = h;
    *state = t;
    return 0;
}

static void curl_close(void *state)
{
    curl_transport *t = state;
    if (!t)
        return;
    curl_multi_cleanup(t->multi);
    for (size_t i = 0; i < t->nidle; i++)
        curl_easy_cleanup(t->idle[i]);
    free(t->idle);
    free(t);
}

static int curl_start(void *state, request *r, const buf *body)
{
    curl_transport *t = state;
    CURL *e = take_easy(t);
    if (!e)
        return -1;
    curl_easy_setopt(e, CURLOPT_URL, r->dest->urls[r->url]);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->dest->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body->data ? body->data : "");
    if (strcmp(t->h->method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->h->method);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
        return_easy(t, e);
        return -1;
    }
    r->handle = e;
    return 0;
}

static void handle_done(curl_transport *t, CURL *e, CURLcode result)
{
    request *r = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    curl_multi_remove_handle(t->multi, e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    return_easy(t, e);
    if (!r)
        return;
    r->handle = NULL;
    http_outcome o = {status, NULL, false};
    if (result != CURLE_OK) {
        o.error = curl_easy_strerror(result);
        o.timed_out = result == CURLE_OPERATION_TIMEDOUT;
    }
    http_request_finished(t->h, r, &o);
}

static void curl_poll(void *state, int wait_ms)
{
    curl_transport *t = state;
    if (wait_ms > 0)
        curl_multi_poll(t->multi, NULL, 0, wait_ms, NULL);
    int running;
    curl_multi_perform(t->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(t->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            handle_done(t, msg->easy_handle, msg->data.result);
}

static void curl_wake(void *state)
{
    curl_transport *t = state;
    curl_multi_wakeup(t->multi);
}

static void curl_cancel(void *state, request *r)
{
    curl_transport *t = state;
    curl_multi_remove_handle(t->multi, r->handle);
    curl_easy_cleanup(r->handle);
    r->handle = NULL;
}

const http_transport http_curl_transport = {
    .open = curl_open,
    .close = curl_close,
    .start = curl_start,
    .poll = curl_poll,
    .wake = curl_wake,
    .cancel = curl_cancel,
};
