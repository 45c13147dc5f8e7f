/* http_compress.c - request bodies compressed as one complete stream:
 * gzip and deflate (the zlib format, which is what HTTP's "deflate" means)
 * through zlib, zstd through libzstd.
 *
 * A body is compressed once per attempt family, not per send, and the whole
 * body is at hand, so one-shot calls into a buffer sized by the library's
 * bound are enough: no streaming state survives between requests except
 * the reused contexts, which keep their allocations warm. */
#include "http_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#define GZIP_DEFAULT_LEVEL 6   /* zlib's and Vector's default */
#define ZSTD_DEFAULT_LEVEL 3   /* libzstd's and Vector's default */

struct http_compressor {
    http_compression algo;
    int level;
    z_stream z;
    bool z_ready;
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
        /* windowBits 15 + 16 writes a gzip header and trailer; 15 alone a
         * zlib stream. */
        int bits = algo == HTTP_COMPRESSION_GZIP ? 15 + 16 : 15;
        if (deflateInit2(&c->z, c->level, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(c);
            return NULL;
        }
        c->z_ready = true;
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
    if (c->z_ready)
        deflateEnd(&c->z);
    ZSTD_freeCCtx(c->zs);
    free(c);
}

static int compress_zlib(http_compressor *c, const char *in, size_t n, buf *out, sl_error *err)
{
    if (n > UINT_MAX / 2)
        return sl_fail(err, "request body too large to compress (%zu bytes)", n);
    if (deflateReset(&c->z) != Z_OK)
        return sl_fail(err, "zlib: cannot reset the compressor");
    size_t bound = deflateBound(&c->z, (uLong)n);
    buf_reset(out);
    if (buf_reserve(out, bound) < 0)
        return sl_fail(err, "out of memory compressing a request body");
    c->z.next_in = (Bytef *)in;
    c->z.avail_in = (uInt)n;
    c->z.next_out = (Bytef *)out->data;
    c->z.avail_out = (uInt)bound;
    if (deflate(&c->z, Z_FINISH) != Z_STREAM_END)
        return sl_fail(err, "zlib: compression failed");
    out->len = bound - c->z.avail_out;
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
        return compress_zlib(c, in, n, out, err);
    case HTTP_COMPRESSION_ZSTD:
        return compress_zstd(c, in, n, out, err);
    case HTTP_COMPRESSION_NONE:
        break;
    }
    return sl_fail(err, "no compression configured");
}
