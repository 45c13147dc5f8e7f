/* datadog.h - what the Datadog sinks share: which site they talk to, the
 * URLs on it, and the API key.
 *
 * As in Vector (src/common/datadog.rs), the key and the site come from the
 * sink's options, else from the environment (DD_API_KEY, DD_SITE), and the
 * site defaults to datadoghq.com. `endpoint` replaces the site's intake host
 * (tests, proxies); the API host that answers /api/v1/validate is derived
 * from it the way Vector and the Datadog Agent do.
 *
 * The API key is a secret: nothing here puts it in a message. */
#ifndef SLUICE_DATADOG_H
#define SLUICE_DATADOG_H

#include "pipeline/common.h"

#define DATADOG_DEFAULT_SITE "datadoghq.com"
#define DATADOG_API_KEY_HEADER "DD-API-KEY"
#define DATADOG_VALIDATE_PATH "/api/v1/validate"

/* The site: `option` when set, else $DD_SITE when set, else datadoghq.com.
 * The result is borrowed (from the option, the environment or static). */
const char *datadog_site(const char *option);

/* The API key: `option` when set and not empty, else $DD_API_KEY when not
 * empty; NULL when there is neither. Borrowed. */
const char *datadog_api_key(const char *option);

/* Whether an `endpoint` option is usable: an http:// or https:// URL (or a
 * bare host[:port], taken as https, as Vector does) with a host. 0, or -1
 * with err saying why. */
int datadog_check_endpoint(const char *endpoint, sl_error *err);

/* The base URL requests go to, without a trailing slash: the endpoint when
 * set, else https://<host_prefix>.<site> (host_prefix "http-intake.logs"
 * for logs, "api" for metrics). Heap (free it); NULL with err. */
char *datadog_base_url(const char *endpoint, const char *site, const char *host_prefix,
                       sl_error *err);

/* The base URL of the API host, where /api/v1/validate lives: https://api.
 * <site> without an endpoint; with one, https://api.<domain> when the
 * endpoint is on a Datadog domain (datadoghq.*, ddog-gov.com, with a region
 * prefix such as us3.), else the endpoint itself. Heap; NULL with err. */
char *datadog_api_base_url(const char *endpoint, const char *site, sl_error *err);

/* base + path (a path starting with "/") as one heap string; NULL with err. */
char *datadog_join_url(const char *base, const char *path, sl_error *err);

/* "DD-API-KEY: <key>" for a request's headers. Heap; NULL with err. The
 * result holds the secret: free it with datadog_free_secret. */
char *datadog_key_header(const char *key, sl_error *err);
/* Overwrites a heap string holding a secret, then frees it. */
void datadog_free_secret(char *s);

/* ---- the datadog_logs encoder (datadog_logs.c), apart for its tests ---- */

#include "pipeline/buf.h"
#include "pipeline/event.h"

/* The intake's limit on one log, and how much of an oversized log's message
 * is kept before trying harder (Vector's max_log_bytes, max_message_bytes). */
#define DATADOG_LOGS_MAX_LOG_BYTES 1000000
#define DATADOG_LOGS_MAX_MESSAGE_BYTES 900000

typedef struct dd_logs_encoder dd_logs_encoder;

/* NULL on allocation failure. */
dd_logs_encoder *dd_logs_encoder_new(size_t max_log_bytes, size_t max_message_bytes);
void dd_logs_encoder_free(dd_logs_encoder *enc);

/* Appends the JSON object the logs intake gets for e: its fields with keys
 * sorted, `host` as `hostname`, a timestamp `timestamp` in epoch ms, an
 * array `ddtags` comma-joined. A log that encodes larger than max_log_bytes
 * has its message cut (marked "...TRUNCATED...", tagged
 * truncated:single_line) and *truncated set. -1 with err, out unchanged,
 * when the log can't be made to fit (or memory ran out). */
int dd_logs_encode(dd_logs_encoder *enc, const event *e, buf *out, bool *truncated,
                   sl_error *err);

#endif
