"""What every receiver here shares about the wire: decoding a request body
per Content-Encoding, HTTP reason phrases, Elasticsearch's banner, and
closing a connection with RST the way a crashed peer does."""
import gzip
import json
import socket
import struct
import zlib

try:
    import zstandard
except ImportError:  # pragma: no cover - the Makefile installs it
    zstandard = None

REASONS = {100: "Continue", 200: "OK", 201: "Created", 202: "Accepted",
           400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
           429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}

ES_BANNER = {"name": "sluice-test", "cluster_name": "test",
             "version": {"number": "8.13.0", "distribution": "elasticsearch"},
             "tagline": "You Know, for Search"}
ES_BANNER_BYTES = json.dumps(ES_BANNER).encode()

_LINGER_ZERO = struct.pack("ii", 1, 0)


def decode_body(raw, encoding, zstd=None):
    """The body decoded per Content-Encoding (str or bytes; None is
    identity); ValueError when it does not decode. `zstd` is a reusable
    zstandard.ZstdDecompressor for callers on one thread."""
    if isinstance(encoding, bytes):
        encoding = encoding.decode("latin-1")
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding in ("gzip", "x-gzip"):
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"bad gzip: {e}")
    if encoding == "deflate":
        for wbits in (15, -15):  # zlib stream (RFC 9110), then raw deflate
            try:
                return zlib.decompress(raw, wbits)
            except zlib.error:
                pass
        raise ValueError("bad deflate")
    if encoding == "zstd":
        if zstandard is None:
            raise ValueError("zstd body but the zstandard module is missing")
        try:
            return (zstd or zstandard.ZstdDecompressor()).decompressobj().decompress(raw)
        except zstandard.ZstdError as e:
            raise ValueError(f"bad zstd: {e}")
    raise ValueError(f"unknown Content-Encoding {encoding}")


def reset_socket(sock):
    """Makes the next close send RST (SO_LINGER 0)."""
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    except OSError:
        pass
