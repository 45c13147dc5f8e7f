"""The counting receiver bench/run's HTTP sink scenarios send to (a fast
Datadog logs / Elasticsearch `_bulk` intake), run as a child process by
bench/receiver.py serve. Standard library plus `zstandard`.

It listens on 127.0.0.1 (peers.loadserver: HTTP/1.1, keep-alive, one
asyncio thread), prints `{"event":"listening","port":P}` on stdout,
decompresses every
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
"""
import asyncio
import json
import os
import random
import re
import sys
import time

from peers.loadserver import LoadServer
from peers.wire import ES_BANNER_BYTES, decode_body, zstandard

SEQ_RE = re.compile(rb"seq=(\d{10})")
ID_RE = re.compile(rb'"_id":"(\d{10})"')
ACTION_RE = re.compile(rb'^\{"(index|create)":\{"_index":"([^"\\]*)"')
MESSAGE_KEY = b'"message":'
DD_MAX_EVENTS = 1000
DD_MAX_BYTES = 5_000_000
SAMPLE_EVERY = 50
MAX_PROBLEMS = 20


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
        self.server = LoadServer(self.handle)

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
        enc = headers.get(b"content-encoding", b"identity").strip().lower().decode("latin-1")
        self.encodings[enc] = self.encodings.get(enc, 0) + 1
        return decode_body(body, enc, self.zstd)

    def handle(self, method, target, headers, body):
        """peers.loadserver's handler: (status, headers, body bytes)."""
        status, out = self.answer(method, target, headers, body)
        return status, None, out

    def answer(self, method, target, headers, body):
        """(status, body bytes) for one request."""
        if method == b"GET":
            self.gets += 1
            if target.startswith(b"/_bench/stats"):
                return 200, json.dumps(self.stats()).encode()
            if self.kind == "elasticsearch":
                return 200, ES_BANNER_BYTES
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
        except ValueError as e:
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


def serve(args):
    """Serves until stdin is closed; args: kind, expected, fail_percent,
    item_429_percent, seed, port."""
    state = State(args)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(state.server.listen(args.port))
    port = state.server.port
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
    loop.run_until_complete(state.server.close())
    emit(dict(state.stats(final=True), event="final"))
    return 0
