"""Counting receivers for the chaos suite: one local HTTP/1.1 server per sink
kind (`http`, `datadog_logs`, `elasticsearch`) that records which sequence
numbers it accepted, how often, and rejects what arrived damaged.

Every line the suite's writer appends is

    seq=0000000042 <payload> crc=1a2b3c4d

where the crc is zlib.crc32 of everything before " crc=". A request is
accepted only when it decodes (Content-Encoding), parses as the sink's
format, and every event's `message` matches its checksum: so bytes flipped
on the wire are caught even where they survive decompression and JSON
parsing.

A damaged or malformed request is answered 503, never 400: sluice's HTTP
sinks retry 5xx but treat 400 as permanent (datadog_logs rejects the
events for good), and a chaos run must tell "the network damaged a request"
apart from "sluice lost events". The same answer covers a bad request line
or a body cut short.

Controls, callable from any thread (they hop onto the receiver's loop):

    rx.go_down()        stop listening and reset every open connection
    rx.come_back()      listen again on the same port
    rx.throttle(secs, retry_after)   answer 429 + Retry-After for secs
    rx.limit_rate(events_per_s)      answer each request only once the
                        receiver's budget allows its events (None: no limit)

Counts (read from any thread): `counts[seq]` is how often seq was accepted
(capped at 255); `distinct`, `accepted`, `duplicates`, `requests`,
`rejected_corrupt`, `throttled`.

Built on peers.loadserver (one asyncio loop; a malformed request is
answered 503 there too); bodies decode through peers.wire.decode_body."""
import asyncio
import json
import re
import time
import zlib

from peers.loadserver import LoadServer
from peers.wire import ES_BANNER_BYTES, decode_body

KINDS = ("http", "datadog_logs", "elasticsearch")
LINE_RE = re.compile(r"^seq=(\d{10}) (.*) crc=([0-9a-f]{8})$", re.S)


def make_line(seq, payload):
    """One numbered, checksummed line (without the newline)."""
    head = f"seq={seq:010d} {payload}"
    return f"{head} crc={zlib.crc32(head.encode()):08x}"


def seq_of(message):
    """The seq of an intact line, or None when it was damaged."""
    if not isinstance(message, str):
        return None
    m = LINE_RE.match(message)
    if not m:
        return None
    head = f"seq={m.group(1)} {m.group(2)}"
    if f"{zlib.crc32(head.encode()):08x}" != m.group(3):
        return None
    return int(m.group(1))


class Damaged(Exception):
    """The request can't be trusted: answer 503 so sluice sends it again."""


def messages_of(kind, body):
    """The `message` of every event in a decoded request body."""
    try:
        if kind == "elasticsearch":
            lines = body.decode().split("\n")
            if lines[-1] != "" or len(lines) % 2 != 1:
                raise Damaged("not action/document pairs ending in a newline")
            out = []
            for action, doc in zip(lines[0:-1:2], lines[1:-1:2]):
                a = json.loads(action)
                if not isinstance(a, dict) or not ({"index", "create"} & a.keys()):
                    raise Damaged("a bulk line that is not an action")
                out.append(json.loads(doc).get("message"))
            return out
        events = json.loads(body)
        if not isinstance(events, list):
            raise Damaged("not a JSON array")
        return [e.get("message") if isinstance(e, dict) else None for e in events]
    except (ValueError, AttributeError) as e:
        raise Damaged(str(e))


def bulk_response(n):
    item = b'{"index":{"_index":"chaos","_id":"x","_version":1,"result":"created","status":201}}'
    return b'{"took":1,"errors":false,"items":[' + b",".join([item] * n) + b"]}"


class ChaosReceiver:
    def __init__(self, kind, loop):
        assert kind in KINDS
        self.kind = kind
        self.loop = loop
        self.counts = bytearray()
        self.distinct = 0
        self.accepted = 0
        self.requests = 0
        self.rejected_corrupt = 0
        self.throttled = 0
        self.problems = []
        self.throttle_until = 0.0
        self.retry_after = 1
        self.rate = None
        self.rate_free_at = 0.0
        self.server = LoadServer(self._answer, bad_request_status=503)
        self._call(self.server.listen())
        self.port = self.server.port
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def duplicates(self):
        return self.accepted - self.distinct

    # ---- controls (any thread) ----

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def go_down(self):
        self._call(self.server.close())

    def come_back(self):
        self._call(self.server.listen())

    def throttle(self, seconds, retry_after=1):
        self.retry_after = retry_after
        self.throttle_until = time.monotonic() + seconds

    def limit_rate(self, events_per_s):
        self.rate = events_per_s
        self.rate_free_at = 0.0

    def stop(self):
        self._call(self.server.close())

    def missing(self, upto):
        """How many of seq 0..upto-1 never arrived."""
        return upto - self.received_below(upto)

    def received_below(self, upto):
        n = min(upto, len(self.counts))
        return n - self.counts[:n].count(0)

    def range_counts(self, lo, hi):
        """(missing, duplicates) among seqs lo..hi-1."""
        part = bytes(self.counts[lo:hi]) + bytes(max(0, hi - max(lo, len(self.counts))))
        missing = part.count(0)
        return missing, sum(part) - (len(part) - missing)

    # ---- the loop's side ----

    def _answer(self, method, target, headers, body):
        """(status, extra headers, body) for one request, or a coroutine
        giving it once the rate limit allows."""
        if method in (b"GET", b"HEAD"):
            return 200, {}, ES_BANNER_BYTES if self.kind == "elasticsearch" else b'{"valid":true}'
        if method not in (b"POST", b"PUT"):
            self.problems.append(f"{method.decode(errors='replace')} "
                                 f"{target.decode(errors='replace')}")
            return 404, {}, b"{}"
        self.requests += 1
        if time.monotonic() < self.throttle_until:
            self.throttled += 1
            return 429, {"Retry-After": str(self.retry_after)}, b'{"errors":["throttled"]}'
        try:
            decoded = decode_body(body, headers.get(b"content-encoding"))
            seqs = [seq_of(m) for m in messages_of(self.kind, decoded)]
            if not seqs or None in seqs:
                raise Damaged("an event without an intact line")
        except (ValueError, Damaged):
            self.rejected_corrupt += 1
            return 503, {}, b'{"errors":["damaged request"]}'
        if self.rate:
            now = time.monotonic()
            self.rate_free_at = max(now, self.rate_free_at) + len(seqs) / self.rate
            return self._accept_later(seqs, self.rate_free_at - now)
        return self._accept(seqs)

    async def _accept_later(self, seqs, delay):
        await asyncio.sleep(delay)
        return self._accept(seqs)

    def _accept(self, seqs):
        top = max(seqs)
        if top >= len(self.counts):
            self.counts.extend(bytes(max(top + 1 - len(self.counts), len(self.counts))))
        counts = self.counts
        for s in seqs:
            c = counts[s]
            if c == 0:
                self.distinct += 1
            if c < 255:
                counts[s] = c + 1
        self.accepted += len(seqs)
        if self.kind == "elasticsearch":
            return 200, {}, bulk_response(len(seqs))
        return (202 if self.kind == "datadog_logs" else 200), {}, b"{}"
