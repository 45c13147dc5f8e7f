"""A scriptable local HTTP receiver for end-to-end tests of the HTTP sinks.

It records every request (method, path, query, headers, raw and decoded
body, arrival time) and answers according to a script:

    rx = HttpReceiver()                       # listens on 127.0.0.1:<free port>
    rx.script([503, 503])                     # the next two requests get 503
    rx.script([Reply(429, headers={"Retry-After": "2"})])
    rx.script([RESET])                        # close the connection, no answer
    rx.max_body = 4096                        # decoded bodies above: 413
    rx.default = Reply(200, body=b"{}")       # once the script is used up
    rx.delay = 0.2                            # every answer waits this long
    rx.responder = fn                         # fn(Request) -> Reply|None, first say
    ...
    rx.stop()

    HttpReceiver(ssl_context=ctx)             # HTTPS: rx.url is https://...

With an ssl.SSLContext (server side) it speaks HTTPS; a client that fails
the handshake (unknown CA, no client certificate when the context requires
one) is dropped before any request is recorded, and counted in
tls_failures.

Bodies are decoded by Content-Encoding (gzip, deflate: zlib or raw,
zstd when the `zstandard` module is there); a body that does not decode is
answered 400 and recorded with `decode_error`. The receiver counts the
largest number of requests it was handling at once (max_concurrent).

Use it as a context manager or through the `http_receiver` pytest fixture
in test files that import it. Standard library plus optional `zstandard`
(through peers.wire.decode_body)."""
import http.server
import json
import socketserver
import threading
import time

from peers.wire import decode_body, reset_socket

RESET = "reset"


class Reply:
    """One scripted answer: a status, headers, a body and an optional delay
    (seconds before answering); `reset=True` drops the connection."""

    def __init__(self, status=200, body=b"", headers=None, delay=0.0, reset=False):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = dict(headers or {})
        self.delay = delay
        self.reset = reset

    def __repr__(self):
        return f"Reply({self.status}, reset={self.reset})"


def as_reply(item):
    if isinstance(item, Reply):
        return item
    if item == RESET:
        return Reply(reset=True)
    return Reply(int(item))


class Request:
    """What the receiver got: method, path, query, headers (a dict with
    lower-case names), raw body, decoded body, time of arrival, the status
    it answered."""

    def __init__(self, method, path, query, headers, raw):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.raw = raw
        self.body = raw
        self.decode_error = None
        self.time = time.time()
        self.status = None

    def json(self):
        return json.loads(self.body)

    def ndjson(self):
        return [json.loads(line) for line in self.body.decode().splitlines() if line]

    def lines(self):
        return self.body.decode().splitlines()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    ssl_context = None

    def finish_request(self, request, client_address):
        # The handshake runs on the connection's own thread, so a client
        # that stalls in it cannot hold up the accept loop.
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            self.receiver._tls_failed()
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as real intakes do

    def log_message(self, *args):
        pass

    def _handle(self):
        rx = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, path, query, headers, raw)
        try:
            req.body = decode_body(raw, headers.get("content-encoding"))
        except ValueError as e:
            req.decode_error = str(e)
        rx._enter()
        try:
            reply = rx._reply_for(req)
            if reply.delay or rx.delay:
                time.sleep(reply.delay or rx.delay)
            req.status = None if reply.reset else reply.status
            rx._record(req)
            if reply.reset:
                self._reset()
                return
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        finally:
            rx._leave()

    def _reset(self):
        """Closes with RST (SO_LINGER 0), the way a crashed peer looks."""
        reset_socket(self.connection)
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    do_POST = do_PUT = do_PATCH = do_GET = do_HEAD = do_DELETE = _handle


class HttpReceiver:
    def __init__(self, host="127.0.0.1", port=0, ssl_context=None):
        self.server = _Server((host, port), _Handler)
        self.server.receiver = self
        self.server.ssl_context = ssl_context
        self.host, self.port = self.server.server_address[:2]
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://{self.host}:{self.port}"
        self.tls_failures = 0
        self.lock = threading.Lock()
        self.requests = []
        self._script = []
        self.default = Reply(200)
        self.delay = 0.0
        self.max_body = None
        self.responder = None
        self.active = 0
        self.max_concurrent = 0
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # ---- scripting ----

    def script(self, items):
        """Appends answers for the next requests (status ints, Reply, RESET)."""
        with self.lock:
            self._script.extend(as_reply(i) for i in items)

    def fail_for(self, seconds, status=503):
        """Answers `status` to everything for the next `seconds`."""
        until = time.time() + seconds
        previous = self.responder

        def responder(req):
            if time.time() < until:
                return Reply(status)
            return previous(req) if previous else None

        self.responder = responder

    def _reply_for(self, req):
        if req.decode_error:
            return Reply(400, body=req.decode_error)
        if self.responder:
            r = self.responder(req)
            if r is not None:
                return as_reply(r)
        with self.lock:
            if self._script:
                return self._script.pop(0)
        if self.max_body is not None and len(req.body) > self.max_body:
            return Reply(413, body=b"payload too large")
        return self.default

    # ---- bookkeeping ----

    def _enter(self):
        with self.lock:
            self.active += 1
            self.max_concurrent = max(self.max_concurrent, self.active)

    def _leave(self):
        with self.lock:
            self.active -= 1

    def _tls_failed(self):
        with self.lock:
            self.tls_failures += 1

    def _record(self, req):
        with self.lock:
            self.requests.append(req)

    def received(self, path=None, status=None):
        """The requests recorded so far, optionally those to `path` or
        answered `status` (2xx when status == "ok")."""
        with self.lock:
            reqs = list(self.requests)
        if path is not None:
            reqs = [r for r in reqs if r.path == path]
        if status == "ok":
            reqs = [r for r in reqs if r.status is not None and 200 <= r.status < 300]
        elif status is not None:
            reqs = [r for r in reqs if r.status == status]
        return reqs

    def accepted(self, path=None):
        return self.received(path, "ok")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


try:
    import pytest

    @pytest.fixture
    def http_receiver():
        """A fresh HttpReceiver, stopped at teardown. Import it into a test
        module (`from peers.recorder import http_receiver`) to use it."""
        rx = HttpReceiver()
        yield rx
        rx.stop()
except ImportError:  # pragma: no cover
    pass
