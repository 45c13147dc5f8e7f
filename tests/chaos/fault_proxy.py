"""A loopback TCP proxy that damages HTTP/1.1 traffic on purpose, for the
chaos suite's network-disruption scenario (asyncio, standard library).

    proxy = FaultProxy(loop, upstream_port, drop=0.10, delay=0.1,
                       corrupt=0.02, corrupt_responses=True, seed=1)
    ... point the client at 127.0.0.1:proxy.port ...
    proxy.stop()

- drop: the fraction of HTTP exchanges (a request and its answer) whose
  connection gets cut (RST, both sides) at a random byte of the exchange:
  before the request is whole, or after it reached the upstream but before
  its answer got back (the case that makes an at-least-once sender deliver
  twice). The draw is per exchange, not per connection, because HTTP
  clients keep a few connections alive for the whole run: a per-connection
  draw would fire a handful of times at most.
- delay: seconds added to every chunk in each direction (pure latency, as
  `tc netem delay` on loopback: throughput is not capped).
- corrupt: the fraction of HTTP message bodies that get 1 to 3 bytes
  flipped. Only bodies are touched, never a request line, status line or
  header: a damaged header makes a server answer 400, which sluice treats
  as permanent, so it would measure the proxy rather than sluice. Request
  bodies are always candidates; response bodies only with
  corrupt_responses (an Elasticsearch bulk answer that doesn't parse is
  rejected by sluice, as Vector does, because what was indexed is
  unknown: keep it off in front of an Elasticsearch receiver). A body the
  framing can't delimit (chunked, or a response read until close) is
  passed through untouched.

A per-byte corruption rate would damage every body of any size (2% of
bytes is ~20 flips per kilobyte), so nothing would ever get through:
`corrupt` is a rate per body instead.

Counters: connections, dropped, bodies_corrupted (requests and responses
apart), bytes_up, bytes_down."""
import asyncio
import collections
import random

from peers.wire import reset_socket

CHUNK = 65536
ANSWER_BYTES = 256      # a cut may land this far into the answer


class Framer:
    """Finds the body bytes of a stream of HTTP/1.1 messages (Content-Length
    framing) and flips bytes in the bodies chosen for corruption."""

    def __init__(self, link, is_response, methods):
        self.link = link
        self.proxy = link.proxy
        self.is_response = is_response
        self.methods = methods          # request methods, oldest first
        self.head = bytearray()
        self.remaining = 0              # body bytes still to come
        self.offset = 0                 # bytes of the current body seen
        self.flips = ()
        self.opaque = False

    def feed(self, data):
        if self.opaque:
            return data
        out = bytearray(data)
        i = 0
        while i < len(out):
            if self.remaining:
                k = min(self.remaining, len(out) - i)
                for pos in self.flips:
                    if self.offset <= pos < self.offset + k:
                        out[i + pos - self.offset] ^= self.proxy.rng.randrange(1, 256)
                self.offset += k
                self.remaining -= k
                i += k
                continue
            start = len(self.head)
            self.head += out[i:]
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return bytes(out)
            i += end + 4 - start
            self._start_message(bytes(self.head[:end]))
            self.head = bytearray()
            if self.opaque:
                return bytes(out)
        return bytes(out)

    def _start_message(self, head):
        lines = head.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            self.opaque = True
            return
        length = headers.get(b"content-length")
        if self.is_response:
            status = int((lines[0].split(b" ") + [b"0"])[1] or 0)
            if 100 <= status < 200:
                return
            method = self.methods.popleft() if self.methods else b""
            if method == b"HEAD" or status in (204, 304):
                return
            if length is None:
                self.opaque = True
                return
        else:
            self.methods.append(lines[0].split(b" ")[0])
        self.remaining = int(length or 0)
        self.offset = 0
        self.flips = ()
        if not self.is_response:
            self.link.exchange_starts(len(head) + 4 + self.remaining)
        if self.remaining and self._chosen():
            rng = self.proxy.rng
            self.flips = tuple(rng.randrange(self.remaining) for _ in range(rng.randint(1, 3)))
            self.proxy.bodies_corrupted["responses" if self.is_response else "requests"] += 1

    def _chosen(self):
        p = self.proxy
        if self.is_response and not p.corrupt_responses:
            return False
        return p.rng.random() < p.corrupt


class Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy, client_r, client_w):
        self.proxy = proxy
        self.client_r, self.client_w = client_r, client_w
        self.up_w = None
        self.cut_at = None
        self.passed = 0
        self.was_cut = False

    def exchange_starts(self, request_bytes):
        """A request begins: maybe pick the byte, counted in both
        directions from here, at which this connection gets cut (within
        the request or the first bytes of its answer)."""
        p = self.proxy
        if self.cut_at is None and p.rng.random() < p.drop:
            self.cut_at = self.passed + p.rng.randrange(request_bytes + ANSWER_BYTES)

    async def run(self):
        p = self.proxy
        try:
            up_r, self.up_w = await asyncio.open_connection("127.0.0.1", p.upstream_port)
        except OSError:
            self.cut(fault=False)
            return
        methods = collections.deque()
        await asyncio.gather(
            self.pump(self.client_r, self.up_w, Framer(self, False, methods), "bytes_up"),
            self.pump(up_r, self.client_w, Framer(self, True, methods), "bytes_down"))

    async def pump(self, reader, writer, framer, counter):
        """Reads, damages and queues chunks; a second task writes each one
        once its delay has passed, so latency adds without capping
        throughput."""
        queue = asyncio.Queue()
        sender = asyncio.ensure_future(self.send(queue, writer))
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                setattr(self.proxy, counter, getattr(self.proxy, counter) + len(data))
                data = framer.feed(data)
                if self.cut_at is not None and self.passed + len(data) > self.cut_at:
                    self.cut()
                    break
                self.passed += len(data)
                queue.put_nowait((loop.time() + self.proxy.delay, data))
        except (ConnectionError, OSError):
            self.cut(fault=False)
        queue.put_nowait((0, None))
        await sender

    async def send(self, queue, writer):
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                self.cut(fault=False)
                return
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass

    def cut(self, fault=True):
        """Resets both sides; fault: this is the injected drop (counted
        once), not the echo of a peer's own reset or of stop()."""
        if fault and not self.was_cut:
            self.proxy.dropped += 1
        self.was_cut = True
        for w in (self.client_w, self.up_w):
            if w is not None:
                abort(w)


def abort(writer):
    """Closes with RST (SO_LINGER 0): the peer sees a connection reset."""
    reset_socket(writer.get_extra_info("socket"))
    writer.transport.abort()


class FaultProxy:
    def __init__(self, loop, upstream_port, drop=0.0, delay=0.0, corrupt=0.0,
                 corrupt_responses=True, seed=None):
        self.loop = loop
        self.upstream_port = upstream_port
        self.drop = drop
        self.delay = delay
        self.corrupt = corrupt
        self.corrupt_responses = corrupt_responses
        self.rng = random.Random(seed)
        self.connections = 0
        self.dropped = 0
        self.bodies_corrupted = {"requests": 0, "responses": 0}
        self.bytes_up = 0
        self.bytes_down = 0
        self.links = set()
        self.server = asyncio.run_coroutine_threadsafe(self._listen(), loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _listen(self):
        return await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=128)

    async def _accept(self, reader, writer):
        self.connections += 1
        link = Link(self, reader, writer)
        self.links.add(link)
        try:
            await link.run()
        finally:
            self.links.discard(link)
            for w in (link.client_w, link.up_w):
                if w is not None:
                    w.close()

    def stats(self):
        return {"connections": self.connections, "dropped": self.dropped,
                "bodies_corrupted": dict(self.bodies_corrupted),
                "bytes_up": self.bytes_up, "bytes_down": self.bytes_down}

    def stop(self):
        async def close():
            self.server.close()
            for link in list(self.links):
                link.cut(fault=False)
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
