/* api.h - the HTTP API on api.address (libmicrohttpd, its own thread).
 *
 *   GET /health          200 {"ok":true}, 503 {"ok":false} while shutting down
 *   GET /metrics         internal metrics, Prometheus text format 0.0.4
 *   GET /api/components  JSON: every component's id, kind, type, inputs, counters
 * 404 for other paths, 405 for other methods on these. */
#ifndef SLUICE_API_H
#define SLUICE_API_H

#include "pipeline/common.h"
#include "config/config.h"

typedef struct api_server api_server;

/* Binds cfg->api_address ("host:port", IPv4 or [IPv6]) and starts serving.
 * An address in use is a clear error naming it. cfg must outlive the server. */
int api_start(const sl_config *cfg, api_server **out, sl_error *err);
/* The port the server listens on (the one the system chose for port 0),
 * or -1 for NULL. */
int api_port(const api_server *s);
/* From now on /health answers 503. NULL is fine. */
void api_set_shutting_down(api_server *s);
void api_stop(api_server *s);   /* NULL is fine */

#endif
