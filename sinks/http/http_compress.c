/* http_compress.c - request bodies compressed as one complete stream:
 * gzip and deflate (the zlib format, which is what HTTP's "deflate" means)
 * through libdeflate, zstd through libzstd.
 *
 * A body is compressed once per attempt family, not per send, and the whole
 * body is at hand, so one-shot calls into a buffer sized by the library's
 * bound are enough: no streaming state survives between requests except
 * the reused contexts, which keep their allocations warm. libdeflate rather
 * than zlib because gzip was most of an Elasticsearch sink's CPU: being
 * one-shot only, it compresses the same bytes two to three times faster
 * (docs/decisions.md). */
#include "sinks/http/http_internal.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <zstd.h>

#define GZIP_DEFAULT_LEVEL 6   /* zlib's and Vector's default */
#define ZSTD_DEFAULT_LEVEL 3   /* libzstd's and Vector's default */

struct http_compressor {
    http_compression algo;
    int level;
    struct libdeflate_compressor *ld;
    ZSTD_CCtx *zs;
};

const char *http_content_encoding(http_compression algo)
{
    switch (algo) {
    case HTTP_COMPRESSION_GZIP: return "gzip";
    case HTTP_COMPRESSION_ZSTD: return "zstd";
    case HTTP_COMPRESSION_DEFLATE: return "deflate";
    case HTTP_COMPRESSION_NONE: break;
    }
    return NULL;
}

http_compressor *http_compressor_new(http_compression algo, int level)
{
    http_compressor *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->algo = algo;
    if (algo == HTTP_COMPRESSION_GZIP || algo == HTTP_COMPRESSION_DEFLATE) {
        c->level = level > 0 ? level : GZIP_DEFAULT_LEVEL;
        if (!(c->ld = libdeflate_alloc_compressor(c->level))) {
            free(c);
            return NULL;
        }
    } else if (algo == HTTP_COMPRESSION_ZSTD) {
        c->level = level > 0 ? level : ZSTD_DEFAULT_LEVEL;
        c->zs = ZSTD_createCCtx();
        if (!c->zs ||
            ZSTD_isError(ZSTD_CCtx_setParameter(c->zs, ZSTD_c_compressionLevel, c->level))) {
            http_compressor_free(c);
            return NULL;
        }
    }
    return c;
}

void http_compressor_free(http_compressor *c)
{
    if (!c)
        return;
    if (c->ld)
        libdeflate_free_compressor(c->ld);
    ZSTD_freeCCtx(c->zs);
    free(c);
}

/* gzip (header and trailer) or a zlib stream, as the algorithm says. */
static int compress_deflate(http_compressor *c, const char *in, size_t n, buf *out,
                            sl_error *err)
{
    bool gzip = c->algo == HTTP_COMPRESSION_GZIP;
    size_t bound = gzip ? libdeflate_gzip_compress_bound(c->ld, n)
                        : libdeflate_zlib_compress_bound(c->ld, n);
    buf_reset(out);
    if (buf_reserve(out, bound) < 0)
        return sl_fail(err, "out of memory compressing a request body");
    size_t r = gzip ? libdeflate_gzip_compress(c->ld, in, n, out->data, bound)
                    : libdeflate_zlib_compress(c->ld, in, n, out->data, bound);
    if (r == 0)
        return sl_fail(err, "%s: compression failed", gzip ? "gzip" : "deflate");
    out->len = r;
    return 0;
}

static int compress_zstd(http_compressor *c, const char *in, size_t n, buf *out, sl_error *err)
{
    size_t bound = ZSTD_compressBound(n);
    buf_reset(out);
    if (buf_reserve(out, bound) < 0)
        return sl_fail(err, "out of memory compressing a request body");
    size_t r = ZSTD_compress2(c->zs, out->data, bound, in, n);
    if (ZSTD_isError(r))
        return sl_fail(err, "zstd: %s", ZSTD_getErrorName(r));
    out->len = r;
    return 0;
}

int http_compress(http_compressor *c, const char *in, size_t n, buf *out, sl_error *err)
{
    switch (c->algo) {
    case HTTP_COMPRESSION_GZIP:
    case HTTP_COMPRESSION_DEFLATE:
        return compress_deflate(c, in, n, out, err);
    case HTTP_COMPRESSION_ZSTD:
        return compress_zstd(c, in, n, out, err);
    case HTTP_COMPRESSION_NONE:
        break;
    }
    return sl_fail(err, "no compression configured");
}
