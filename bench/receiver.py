#!/usr/bin/python3
"""bench/receiver.py - a fast local Datadog logs / Elasticsearch `_bulk`
receiver for bench/run's HTTP sink scenarios. Standard library plus
`zstandard` (Debian's python3-zstd... or pip's; /usr/bin/python3 has it).

    bench/receiver.py serve --kind datadog_logs|elasticsearch --expected N
                            [--fail-percent P] [--item-429-percent Q]
                            [--seed S] [--port 0]
    bench/receiver.py load  --kind datadog_logs|elasticsearch [--events N]
                            [--connections C] [--line-bytes 200]

serve: listens on 127.0.0.1 (HTTP/1.1, keep-alive, one asyncio thread),
prints `{"event":"listening","port":P}` on stdout, decompresses every
request (zstd, gzip, deflate or none, from Content-Encoding) and counts the
events it accepts by their sequence number (`seq=NNNNNNNNNN` in each
Datadog log's message; the `_id` of each Elasticsearch bulk action, which
the scenario sets to the same number). When it has accepted every one of
the N expected events it prints `{"event":"done",...}` with the time from
its first POST to that moment. It goes on counting (a late duplicate still
counts) until stdin is closed, then prints `{"event":"final",...}`:
accepted, lost, duplicated, requests, faults injected, problems seen.

Faults, from a seeded PRNG: --fail-percent of POSTs are answered 503
without being looked at (so none of their events is accepted: resending
them whole is not a duplicate); --item-429-percent of the documents of each
accepted bulk request are answered 429 in a `"errors":true` response (only
the others are accepted).

Exactness without a JSON parse per request: a Datadog body must be a JSON
array whose count of `"message":` keys equals its count of `seq=` tokens
(the bench lines' alphabet has no quote, brace or backslash, so neither can
appear inside a value); every 50th request is also parsed whole with `json`
and its length and members checked. An Elasticsearch body must be NDJSON
ending in `\\n`, in action/document pairs, each action carrying a 10-digit
`_id`; the first and last document of each request are parsed and their
message's seq must be their `_id`. Anything else is a problem, reported in
the final line (and a 400 answered).

load: starts `serve` as a child process and sends it prebuilt, compressed
bodies (Datadog: arrays of 1000 logs, zstd; Elasticsearch: ~10 MB of NDJSON,
gzip) over C keep-alive connections, to measure the receiver alone.
"""
import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import zlib

try:
    import zstandard
except ImportError:          # only zstd bodies need it
    zstandard = None

SEQ_RE = re.compile(rb"seq=(\d{10})")
ID_RE = re.compile(rb'"_id":"(\d{10})"')
ACTION_RE = re.compile(rb'^\{"(index|create)":\{"_index":"([^"\\]*)"')
MESSAGE_KEY = b'"message":'
DD_MAX_EVENTS = 1000
DD_MAX_BYTES = 5_000_000
SAMPLE_EVERY = 50
MAX_PROBLEMS = 20

REASONS = {100: b"Continue", 200: b"OK", 202: b"Accepted", 400: b"Bad Request",
           404: b"Not Found", 413: b"Payload Too Large", 415: b"Unsupported Media Type",
           503: b"Service Unavailable"}


class State:
    """What the receiver has seen and accepted, shared by the connections
    (one asyncio thread, so no locking)."""

    def __init__(self, args):
        self.kind = args.kind
        self.expected = args.expected
        self.fail_percent = args.fail_percent
        self.item_429_percent = args.item_429_percent
        self.rng = random.Random(args.seed)
        self.seen = set()           # the seq/_id byte strings accepted
        self.accepted = 0           # events accepted, duplicates included
        self.duplicated = 0
        self.requests = 0           # POSTs to the data path
        self.answered_503 = 0
        self.items_429 = 0
        self.bulk_429_responses = 0
        self.gets = 0
        self.bytes_in = 0           # request bodies as sent (compressed)
        self.bytes_decoded = 0
        self.batch_min = None
        self.batch_max = 0
        self.encodings = {}
        self.problems = []
        self.problem_count = 0
        self.t_first = None
        self.t_done = None
        self.done_reported = False
        self.zstd = zstandard.ZstdDecompressor() if zstandard else None

    def problem(self, text):
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def accept(self, keys):
        """keys: the seq byte strings of the events accepted by one request."""
        before = len(self.seen)
        self.seen.update(keys)
        added = len(self.seen) - before
        self.accepted += len(keys)
        self.duplicated += len(keys) - added
        if self.t_done is None and len(self.seen) >= self.expected:
            self.t_done = time.monotonic()
            self.report_done()

    def report_done(self):
        elapsed = self.t_done - self.t_first
        emit({"event": "done", "t_first": self.t_first, "t_done": self.t_done,
              "seconds": elapsed, "events_per_s": self.expected / elapsed if elapsed > 0 else 0,
              "requests": self.requests, "duplicated": self.duplicated,
              "answered_503": self.answered_503, "items_429": self.items_429})

    def stats(self, final=False):
        in_range = len(self.seen)
        if final:
            in_range = sum(1 for s in self.seen if int(s) < self.expected)
        out = {"accepted_distinct": len(self.seen), "accepted": self.accepted,
               "expected": self.expected, "lost": self.expected - in_range,
               "out_of_range": len(self.seen) - in_range,
               "duplicated": self.duplicated, "requests": self.requests,
               "answered_503": self.answered_503, "items_429": self.items_429,
               "bulk_429_responses": self.bulk_429_responses, "gets": self.gets,
               "bytes_in": self.bytes_in, "bytes_decoded": self.bytes_decoded,
               "batch_min": self.batch_min, "batch_max": self.batch_max,
               "encodings": self.encodings, "problem_count": self.problem_count,
               "problems": self.problems, "t_first": self.t_first, "t_done": self.t_done,
               "cpu_s": time.process_time()}
        if self.t_done is not None and self.t_first is not None:
            out["seconds"] = self.t_done - self.t_first
            out["events_per_s"] = self.expected / out["seconds"] if out["seconds"] > 0 else 0
        return out

    # -- requests

    def decode(self, headers, body):
        enc = headers.get(b"content-encoding", b"identity").strip().lower()
        self.encodings[enc.decode()] = self.encodings.get(enc.decode(), 0) + 1
        if enc in (b"identity", b""):
            return body
        if enc == b"zstd":
            if self.zstd is None:
                raise ValueError("zstd body but no zstandard module")
            return self.zstd.decompressobj().decompress(body)
        if enc in (b"gzip", b"x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if enc == b"deflate":
            return zlib.decompress(body)
        raise ValueError(f"unknown Content-Encoding {enc!r}")

    def handle(self, method, target, headers, body):
        """Returns (status, body bytes)."""
        if method == b"GET":
            self.gets += 1
            if target.startswith(b"/_bench/stats"):
                return 200, json.dumps(self.stats()).encode()
            if self.kind == "elasticsearch":
                return 200, (b'{"name":"bench","cluster_name":"bench","version":'
                             b'{"number":"8.13.0","distribution":"elasticsearch"},'
                             b'"tagline":"You Know, for Search"}')
            return 200, b'{"valid":true}'
        if method != b"POST":
            self.problem(f"{method.decode(errors='replace')} {target[:80]!r}")
            return 404, b'{"error":"not found"}'
        want = b"/_bulk" if self.kind == "elasticsearch" else b"/api/v2/logs"
        if not target.split(b"?", 1)[0].endswith(want):
            self.problem(f"POST to {target[:80]!r}, not {want.decode()}")
            return 404, b'{"error":"not found"}'
        if self.t_first is None:
            self.t_first = time.monotonic()
        self.requests += 1
        self.bytes_in += len(body)
        if self.fail_percent and self.rng.random() * 100 < self.fail_percent:
            self.answered_503 += 1
            return 503, b'{"errors":["Service Unavailable"]}'
        try:
            raw = self.decode(headers, body)
        except (ValueError, zlib.error, Exception) as e:   # zstd raises its own
            self.problem(f"request {self.requests}: cannot decode: {e}")
            return 400, b'{"errors":["cannot decode"]}'
        self.bytes_decoded += len(raw)
        if self.kind == "elasticsearch":
            return self.bulk(headers, raw)
        return self.logs(headers, raw)

    def batch_size(self, n):
        if self.batch_min is None or n < self.batch_min:
            self.batch_min = n
        if n > self.batch_max:
            self.batch_max = n

    def logs(self, headers, raw):
        nreq = self.requests
        if not headers.get(b"dd-api-key"):
            self.problem(f"request {nreq}: no DD-API-KEY header")
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            self.problem(f"request {nreq}: Content-Type {headers.get(b'content-type')!r}")
        if not (raw[:1] == b"[" and raw[-1:] == b"]"):
            self.problem(f"request {nreq}: not a JSON array: {raw[:60]!r}...{raw[-20:]!r}")
            return 400, b'{"errors":["not a JSON array"]}'
        seqs = SEQ_RE.findall(raw)
        n = len(seqs)
        if raw.count(MESSAGE_KEY) != n:
            self.problem(f"request {nreq}: {raw.count(MESSAGE_KEY)} messages but {n} seq tokens")
            return 400, b'{"errors":["bad events"]}'
        if n > DD_MAX_EVENTS or len(raw) > DD_MAX_BYTES:
            self.problem(f"request {nreq}: {n} events, {len(raw)} bytes: over the intake's limits")
        if n == 0:
            self.problem(f"request {nreq}: an empty array")
        if nreq % SAMPLE_EVERY == 1:
            try:
                logs = json.loads(raw)
            except ValueError as e:
                self.problem(f"request {nreq}: not JSON: {e}")
                return 400, b'{"errors":["not JSON"]}'
            if len(logs) != n or not all(isinstance(x, dict) and
                                         isinstance(x.get("message"), str) for x in logs):
                self.problem(f"request {nreq}: {len(logs)} logs parsed, {n} counted, "
                             "or a log without a string message")
            elif logs and SEQ_RE.search(logs[0]["message"].encode()).group(1) != seqs[0]:
                self.problem(f"request {nreq}: the first log's seq is not the first found")
        self.batch_size(n)
        self.accept(seqs)
        return 202, b"{}"

    def bulk(self, headers, raw):
        nreq = self.requests
        if not headers.get(b"content-type", b"").startswith(b"application/x-ndjson"):
            self.problem(f"request {nreq}: Content-Type {headers.get(b'content-type')!r}")
        if raw[-1:] != b"\n":
            self.problem(f"request {nreq}: the body does not end in a newline")
            return 400, b'{"error":"no final newline"}'
        lines = raw.split(b"\n")
        lines.pop()
        if len(lines) % 2:
            self.problem(f"request {nreq}: {len(lines)} lines, not action/document pairs")
            return 400, b'{"error":"odd line count"}'
        actions = lines[0::2]
        ids = ID_RE.findall(b"\n".join(actions))
        n = len(ids)
        if n != len(actions) or n == 0:
            self.problem(f"request {nreq}: {len(actions)} actions but {n} 10-digit _ids")
            return 400, b'{"error":"bad actions"}'
        m = ACTION_RE.match(actions[0])
        if not m:
            self.problem(f"request {nreq}: first action {actions[0][:80]!r}")
            return 400, b'{"error":"bad action"}'
        action, index = m.group(1), m.group(2)
        for k in (0, n - 1):
            doc = lines[2 * k + 1]
            try:
                d = json.loads(doc)
                seq = SEQ_RE.search(d["message"].encode()).group(1)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                self.problem(f"request {nreq}: document {k}: {e!r}: {doc[:80]!r}")
                return 400, b'{"error":"bad document"}'
            if seq != ids[k]:
                self.problem(f"request {nreq}: document {k} has seq {seq!r}, _id {ids[k]!r}")
            if "id" in d:
                self.problem(f"request {nreq}: document {k} still has the id_key field")
        self.batch_size(n)
        head = b'{"' + action + b'":{"_index":"' + index + b'","_id":"'
        tail = b'","_version":1,"result":"created","status":201}}'
        fails = []
        if self.item_429_percent:
            want = n * self.item_429_percent / 100.0
            k = int(want) + (1 if self.rng.random() < want - int(want) else 0)
            if k:
                fails = sorted(self.rng.sample(range(n), k))
        if not fails:
            self.accept(ids)
            body = b"".join((b'{"took":1,"errors":false,"items":[', head,
                             (tail + b"," + head).join(ids), tail, b"]}"))
            return 200, body
        self.items_429 += len(fails)
        self.bulk_429_responses += 1
        parts, ok, start = [], [], 0
        for f in fails + [n]:
            seg = ids[start:f]
            if seg:
                parts.append(head + (tail + b"," + head).join(seg) + tail)
                ok.extend(seg)
            if f < n:
                parts.append(head + ids[f] + b'","status":429,"error":{"type":'
                             b'"es_rejected_execution_exception","reason":"rejected execution '
                             b'of coordinating operation [bench]"}}}')
            start = f + 1
        self.accept(ok)
        return 200, b'{"took":1,"errors":true,"items":[' + b",".join(parts) + b"]}"


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Conn(asyncio.Protocol):
    """One HTTP/1.1 connection: requests with Content-Length bodies, kept
    alive; `Expect: 100-continue` answered."""

    def __init__(self, state):
        self.state = state
        self.buf = bytearray()
        self.head = None            # (method, target, headers, body start, body end)
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def data_received(self, data):
        self.buf += data
        while True:
            if self.head is None:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buf) > 65536:
                        self.fail(b"headers too long")
                    return
                lines = bytes(self.buf[:end]).split(b"\r\n")
                try:
                    method, target, _ = lines[0].split(b" ", 2)
                except ValueError:
                    self.fail(b"bad request line")
                    return
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                    self.state.problem("a chunked request body (not supported here)")
                    self.fail(b"chunked bodies are not supported")
                    return
                length = int(headers.get(b"content-length", b"0"))
                self.head = (method, target, headers, end + 4, end + 4 + length)
                if headers.get(b"expect", b"").lower() == b"100-continue":
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            method, target, headers, start, stop = self.head
            if len(self.buf) < stop:
                return
            body = bytes(self.buf[start:stop])
            del self.buf[:stop]
            self.head = None
            status, out = self.state.handle(method, target, headers, body)
            close = headers.get(b"connection", b"").lower() == b"close"
            self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n%s\r\n" % (
                                     status, REASONS.get(status, b"Status"), len(out),
                                     b"Connection: close\r\n" if close else b"") + out)
            if close:
                self.transport.close()
                return

    def fail(self, why):
        self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" % (len(why), why))
        self.transport.close()


def serve(args):
    state = State(args)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        lambda: Conn(state), "127.0.0.1", args.port, backlog=128))
    port = server.sockets[0].getsockname()[1]
    finished = asyncio.Event()

    def on_stdin():
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            finished.set()

    loop.add_reader(0, on_stdin)
    emit({"event": "listening", "port": port, "pid": os.getpid()})
    loop.run_until_complete(finished.wait())
    server.close()
    emit(dict(state.stats(final=True), event="final"))
    return 0


# ------------------------------------------------------------- load (alone)

def bench_lines(events, line_bytes):
    """Lines like bench/run's input: `seq=N level=... msg=...` padded."""
    filler = (b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .:-_/" * 8)
    levels = [b"level=info msg=", b"level=warn msg=", b"level=debug msg=", b"level=error msg="]
    for i in range(events):
        head = b"seq=%010d %s" % (i, levels[i % 4])
        off = (i * 7) % 64
        yield i, head + filler[off:off + line_bytes - 1 - len(head)]


def build_bodies(kind, events, line_bytes):
    bodies, batch, size = [], [], 0
    if kind == "datadog_logs":
        cctx = zstandard.ZstdCompressor(level=3)
        for i, line in bench_lines(events, line_bytes):
            batch.append(b'{"message":"%s","hostname":"bench","timestamp":1779357600000,'
                         b'"file":"/tmp/input.log","source_type":"file","service":"bench",'
                         b'"ddsource":"sluice"}' % line)
            if len(batch) == 1000:
                bodies.append(cctx.compress(b"[" + b",".join(batch) + b"]"))
                batch = []
        if batch:
            bodies.append(cctx.compress(b"[" + b",".join(batch) + b"]"))
        return bodies, "zstd", "/api/v2/logs", "application/json"
    for i, line in bench_lines(events, line_bytes):
        pair = (b'{"index":{"_index":"sluice-2026.11.21","_id":"%010d"}}\n'
                b'{"message":"%s","host":"bench","timestamp":"2026-11-21T10:00:00.000000Z",'
                b'"file":"/tmp/input.log","source_type":"file"}\n' % (i, line))
        batch.append(pair)
        size += len(pair)
        if size >= 10_000_000:
            bodies.append(zlib.compress(b"".join(batch), 6, 31))
            batch, size = [], 0
    if batch:
        bodies.append(zlib.compress(b"".join(batch), 6, 31))
    return bodies, "gzip", "/_bulk", "application/x-ndjson"


def read_response(sock, buf):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end])
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(buf) < end + 4 + length:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    del buf[:end + 4 + length]
    return status


def load(args):
    t0 = time.monotonic()
    bodies, enc, path, ctype = build_bodies(args.kind, args.events, args.line_bytes)
    print(f"built {len(bodies)} bodies ({sum(map(len, bodies)) / 1e6:.1f} MB {enc}) in "
          f"{time.monotonic() - t0:.1f}s", file=sys.stderr)
    cmd = [sys.executable, os.path.abspath(__file__), "serve", "--kind", args.kind,
           "--expected", str(args.events), "--fail-percent", str(args.fail_percent)]
    srv = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    port = json.loads(srv.stdout.readline())["port"]
    unsent = list(reversed(bodies))
    lock = threading.Lock()
    resent = [0]

    def worker():
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        while True:
            with lock:
                if not unsent:
                    break
                body = unsent.pop()
            head = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                    b"Content-Encoding: %s\r\nDD-API-KEY: bench\r\nContent-Length: %d\r\n\r\n"
                    % (path.encode(), ctype.encode(), enc.encode(), len(body)))
            sock.sendall(head + body)
            if read_response(sock, buf) == 503:
                with lock:
                    unsent.append(body)
                    resent[0] += 1
        sock.close()

    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    done = json.loads(srv.stdout.readline())
    srv.stdin.close()
    final = json.loads(srv.stdout.readline())
    srv.wait()
    print(f"{args.kind}: {args.events} events in {len(bodies)} requests over "
          f"{args.connections} connections ({resent[0]} resent after 503)")
    print(f"receiver: {done['events_per_s']:,.0f} events/s (first request -> last event "
          f"counted, {done['seconds']:.3f}s), receiver CPU {final['cpu_s']:.2f}s")
    print(f"sender wall {wall:.3f}s; lost {final['lost']}, duplicated {final['duplicated']}, "
          f"problems {final['problem_count']} {final['problems'][:3]}")
    return 0 if final["lost"] == 0 and final["duplicated"] == 0 and not final["problem_count"] else 1


def main(argv):
    p = argparse.ArgumentParser(prog="bench/receiver.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--kind", choices=["datadog_logs", "elasticsearch"], required=True)
    s.add_argument("--expected", type=int, required=True)
    s.add_argument("--fail-percent", type=float, default=0.0)
    s.add_argument("--item-429-percent", type=float, default=0.0)
    s.add_argument("--seed", type=int, default=20240501)
    s.add_argument("--port", type=int, default=0)
    ld = sub.add_parser("load")
    ld.add_argument("--kind", choices=["datadog_logs", "elasticsearch"], required=True)
    ld.add_argument("--events", type=int, default=1_000_000)
    ld.add_argument("--connections", type=int, default=8)
    ld.add_argument("--line-bytes", type=int, default=200)
    ld.add_argument("--fail-percent", type=float, default=0.0)
    args = p.parse_args(argv)
    return serve(args) if args.cmd == "serve" else load(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
