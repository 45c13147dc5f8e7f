/* datadog.c - sites, URLs and the API key of the Datadog sinks (see
 * datadog.h).
 *
 * The API host rule follows Vector's compute_api_endpoint (itself taken
 * from the Datadog Agent's forwarder healthcheck): an endpoint whose host
 * ends in a Datadog domain is replaced by https://api.<domain>, anything
 * else (a proxy, a test receiver) is used as it is. One difference: Vector
 * drops a region prefix (us3.datadoghq.com -> api.datadoghq.com), which
 * validates a us3 key against the wrong site; here the prefix is kept. */
#include "sinks/datadog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *datadog_site(const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv("DD_SITE");
    return env && *env ? env : DATADOG_DEFAULT_SITE;
}

const char *datadog_api_key(const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv("DD_API_KEY");
    return env && *env ? env : NULL;
}

static bool starts_with_nocase(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Length of "http://" or "https://" at the start of url, 0 when it has no
 * scheme, -1 when it has another one. */
static int scheme_length(const char *url)
{
    if (starts_with_nocase(url, "http://"))
        return 7;
    if (starts_with_nocase(url, "https://"))
        return 8;
    return strstr(url, "://") ? -1 : 0;
}

int datadog_check_endpoint(const char *endpoint, sl_error *err)
{
    int scheme = scheme_length(endpoint);
    if (scheme < 0)
        return sl_fail(err, "endpoint must be an http:// or https:// URL");
    for (const unsigned char *p = (const unsigned char *)endpoint; *p; p++)
        if (*p <= ' ' || *p == 0x7F)
            return sl_fail(err, "endpoint must not contain spaces or control characters");
    const char *host = endpoint + scheme;
    if (*host == '\0' || *host == '/' || *host == ':' || *host == '?' || *host == '#')
        return sl_fail(err, "endpoint has no host");
    return 0;
}

/* url without trailing slashes, with https:// in front when it has no
 * scheme (Vector's HttpEndpoint does the same). */
static char *normalized_url(const char *url, sl_error *err)
{
    if (datadog_check_endpoint(url, err) < 0)
        return NULL;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    const char *prefix = scheme_length(url) == 0 ? "https://" : "";
    size_t plen = strlen(prefix);
    char *out = malloc(plen + n + 1);
    if (!out) {
        sl_fail(err, "out of memory");
        return NULL;
    }
    memcpy(out, prefix, plen);
    memcpy(out + plen, url, n);
    out[plen + n] = '\0';
    return out;
}

static char *site_url(const char *host_prefix, const char *site, sl_error *err)
{
    size_t n = strlen("https://") + strlen(host_prefix) + 1 + strlen(site) + 1;
    char *out = malloc(n);
    if (!out) {
        sl_fail(err, "out of memory");
        return NULL;
    }
    snprintf(out, n, "https://%s.%s", host_prefix, site);
    return out;
}

char *datadog_base_url(const char *endpoint, const char *site, const char *host_prefix,
                       sl_error *err)
{
    if (endpoint && *endpoint)
        return normalized_url(endpoint, err);
    return site_url(host_prefix, site, err);
}

static bool all_lowercase_letters(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (*s < 'a' || *s > 'z')
            return false;
    return true;
}

/* Where a Datadog domain (datadoghq.<letters> or ddog-gov.com) ends url,
 * extended over a region prefix like "us3." before it; -1 when none. */
static long datadog_domain_start(const char *url)
{
    size_t n = strlen(url);
    long start = -1;
    const char *gov = "ddog-gov.com";
    if (n >= strlen(gov) && strcmp(url + n - strlen(gov), gov) == 0) {
        start = (long)(n - strlen(gov));
    } else {
        const char *last = NULL;
        for (const char *p = strstr(url, "datadoghq."); p; p = strstr(p + 1, "datadoghq."))
            last = p;
        if (last && all_lowercase_letters(last + strlen("datadoghq.")))
            start = last - url;
    }
    if (start >= 4) {
        const char *r = url + start - 4;
        if (islower((unsigned char)r[0]) && islower((unsigned char)r[1]) &&
            isdigit((unsigned char)r[2]) && r[3] == '.')
            start -= 4;
    }
    return start;
}

char *datadog_api_base_url(const char *endpoint, const char *site, sl_error *err)
{
    if (!endpoint || !*endpoint)
        return site_url("api", site, err);
    char *url = normalized_url(endpoint, err);
    if (!url)
        return NULL;
    long start = datadog_domain_start(url);
    if (start < 0)
        return url;
    char *api = site_url("api", url + start, err);
    free(url);
    return api;
}

char *datadog_join_url(const char *base, const char *path, sl_error *err)
{
    size_t n = strlen(base) + strlen(path) + 1;
    char *url = malloc(n);
    if (!url) {
        sl_fail(err, "out of memory");
        return NULL;
    }
    snprintf(url, n, "%s%s", base, path);
    return url;
}

char *datadog_key_header(const char *key, sl_error *err)
{
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < ' ' || *p == 0x7F) {
            sl_fail(err, "the API key contains a control character");
            return NULL;
        }
    size_t n = strlen(DATADOG_API_KEY_HEADER) + 2 + strlen(key) + 1;
    char *header = malloc(n);
    if (!header) {
        sl_fail(err, "out of memory");
        return NULL;
    }
    snprintf(header, n, "%s: %s", DATADOG_API_KEY_HEADER, key);
    return header;
}

void datadog_free_secret(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}
