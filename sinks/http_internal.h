/* http_internal.h - pieces of the HTTP sink engine shared between its own
 * files (http_sink.c, http_compress.c); not for sinks, which use
 * http_sink.h. */
#ifndef SLUICE_HTTP_INTERNAL_H
#define SLUICE_HTTP_INTERNAL_H

#include "http_sink.h"

typedef struct http_compressor http_compressor;

/* A compressor for one algorithm and level (0: its default), reused for
 * every request of a sink. NULL on allocation failure. */
http_compressor *http_compressor_new(http_compression algo, int level);
void http_compressor_free(http_compressor *c);
/* Replaces out's contents with in compressed as one complete stream
 * (gzip member, zlib stream or zstd frame). -1 with err on failure. */
int http_compress(http_compressor *c, const char *in, size_t n, buf *out, sl_error *err);
/* The Content-Encoding token of an algorithm; NULL for none. */
const char *http_content_encoding(http_compression algo);

#endif
