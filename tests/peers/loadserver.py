"""The lean HTTP/1.1 server core under the counting receivers (peers.chaos
for the chaos suite, peers.bench for bench/run): one asyncio loop, requests
with Content-Length bodies on kept-alive connections, `Expect:
100-continue` answered, pipelined requests answered in order.

A handler is fn(method, target, headers, body) -> (status, headers, body)
or a coroutine giving the same (a delayed answer: the connection reads no
further request until it is sent); method and target are bytes, header
names lower-case bytes, the answer's body bytes. Every answer carries
Content-Type: application/json unless the handler's headers name another.

Why not peers.recorder.HttpReceiver: it is thread-per-connection and keeps
every request, too heavy for minutes of load at hundreds of thousands of
events a second."""
import asyncio
import socket

from peers.wire import REASONS, reset_socket

MAX_HEAD = 65536


class _Connection(asyncio.Protocol):
    def __init__(self, server):
        self.server = server
        self.buf = bytearray()
        self.head = None            # (method, target, headers, body start, body end)
        self.transport = None
        self.waiting = None         # the task of a delayed answer

    def connection_made(self, transport):
        self.transport = transport
        self.server.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc):
        self.server.connections.discard(self)
        if self.waiting is not None:
            self.waiting.cancel()

    def data_received(self, data):
        self.buf += data
        self._answer_what_is_complete()

    def _answer_what_is_complete(self):
        while self.waiting is None and not self.transport.is_closing():
            request = self._next_request()
            if request is None:
                return
            method, target, headers, body = request
            answer = self.server.handler(method, target, headers, body)
            close = headers.get(b"connection", b"").lower() == b"close"
            if asyncio.iscoroutine(answer):
                self.waiting = asyncio.ensure_future(answer)
                self.waiting.add_done_callback(lambda t, c=close: self._answered_later(t, c))
                return
            self._send(*answer, close=close)

    def _next_request(self):
        """(method, target, headers, body) once a whole request is buffered."""
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._refuse(b"headers too long")
                return None
            lines = bytes(self.buf[:end]).split(b"\r\n")
            parts = lines[0].split(b" ", 2)
            if len(parts) != 3:
                self._refuse(b"bad request line")
                return None
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                self._refuse(b"chunked bodies are not supported")
                return None
            try:
                length = int(headers.get(b"content-length", b"0"))
            except ValueError:
                length = -1
            if length < 0:
                self._refuse(b"bad Content-Length")
                return None
            self.head = (parts[0], parts[1], headers, end + 4, end + 4 + length)
            if headers.get(b"expect", b"").lower() == b"100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        method, target, headers, start, stop = self.head
        if len(self.buf) < stop:
            return None
        body = bytes(self.buf[start:stop])
        del self.buf[:stop]
        self.head = None
        return method, target, headers, body

    def _answered_later(self, task, close):
        self.waiting = None
        if task.cancelled() or self.transport.is_closing():
            return
        self._send(*task.result(), close=close)
        self._answer_what_is_complete()

    def _send(self, status, headers, body, close=False):
        head = [b"HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status").encode())]
        if not any(k.lower() == "content-type" for k in (headers or {})):
            head.append(b"Content-Type: application/json")
        head.append(b"Content-Length: %d" % len(body))
        head += [f"{k}: {v}".encode() for k, v in (headers or {}).items()]
        if close:
            head.append(b"Connection: close")
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        if close:
            self.transport.close()

    def _refuse(self, why):
        """A request that cannot be read: the server's bad-request status,
        and the connection closed (nothing after it can be framed)."""
        self.server.malformed += 1
        self._send(self.server.bad_request_status, {"Content-Type": "text/plain"}, why,
                   close=True)

    def reset(self):
        reset_socket(self.transport.get_extra_info("socket"))
        self.transport.abort()


class LoadServer:
    """Listens on 127.0.0.1 with `handler` on the loop it is started from.
    bad_request_status: the answer to a request that cannot be framed (400;
    the chaos receivers say 503 so that sluice sends it again)."""

    def __init__(self, handler, bad_request_status=400):
        self.handler = handler
        self.bad_request_status = bad_request_status
        self.connections = set()
        self.malformed = 0
        self.server = None
        self.port = None

    async def listen(self, port=None):
        """Starts listening (on the same port as before, after close())."""
        if self.server is not None:
            return
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: _Connection(self), "127.0.0.1", port or self.port or 0,
            reuse_address=True, backlog=128)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self):
        """Stops listening and resets every open connection."""
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.reset()
        self.connections.clear()
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None
