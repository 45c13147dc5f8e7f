/* http_retry.c - the HTTP engine's rules that need no state: how a response
 * is judged by default, how long to back off, how a Retry-After header
 * reads, and how a URL is shown in a log line.
 *
 * They are pure functions (time and randomness come in as arguments) so
 * that tests/unit/test_http_sink.c can check them without a network. */
#include "sinks/http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_AFTER_MAX_SECS 86400

http_verdict http_judge_default(void *ud, const http_response *r, size_t n, uint8_t *items,
                                char *reason, size_t reason_cap)
{
    SL_UNUSED(ud);
    SL_UNUSED(n);
    SL_UNUSED(items);
    long s = r->status;
    if (s >= 200 && s < 300)
        return HTTP_DELIVERED;
    if (reason && reason_cap) {
        /* The start of the body says why, usually; never a header. */
        size_t len = r->body_len < reason_cap - 1 ? r->body_len : reason_cap - 1;
        size_t j = 0;
        for (size_t i = 0; i < len; i++) {
            char c = r->body[i];
            reason[j++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
        }
        reason[j] = '\0';
    }
    if (s == 0 || s == 408 || s == 429 || s >= 500)
        return HTTP_RETRY;
    if (s == 413)
        return HTTP_SPLIT;
    return HTTP_REJECTED;
}

int64_t http_backoff_ns(double initial, double max, unsigned attempt, double u)
{
    double cap = initial;
    for (unsigned i = 1; i < attempt && cap < max; i++)
        cap *= 2;
    if (cap > max)
        cap = max;
    return (int64_t)(u * cap * (double)NS_PER_SEC);
}

int64_t http_parse_retry_after(const char *v, size_t n, int64_t now_wall_ns)
{
    char text[128];
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n == 0 || n >= sizeof(text))
        return -1;
    memcpy(text, v, n);
    text[n] = '\0';
    if (text[0] >= '0' && text[0] <= '9') {
        char *end;
        unsigned long long secs = strtoull(text, &end, 10);
        if (*end != '\0')
            return -1;
        if (secs > RETRY_AFTER_MAX_SECS)
            secs = RETRY_AFTER_MAX_SECS;
        return (int64_t)secs * NS_PER_SEC;
    }
    time_t when = curl_getdate(text, NULL);
    if (when < 0)
        return -1;
    int64_t delta = ((int64_t)when * NS_PER_SEC) - now_wall_ns;
    if (delta > RETRY_AFTER_MAX_SECS * NS_PER_SEC)
        delta = RETRY_AFTER_MAX_SECS * NS_PER_SEC;
    return delta < 0 ? 0 : delta;
}

void http_url_for_log(const char *url, char *out, size_t cap)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *rest = host + strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < rest; p++)
        if (*p == '@')
            at = p;
    if (!at) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s%s", (int)(host - url), url, at + 1);
}
