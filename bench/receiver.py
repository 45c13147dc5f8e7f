#!/usr/bin/python3
"""bench/receiver.py - a fast local Datadog logs / Elasticsearch `_bulk`
receiver for bench/run's HTTP sink scenarios, and a load client that
measures it alone. Standard library plus `zstandard` (Debian's
python3-zstd... or pip's; /usr/bin/python3 has it).

    bench/receiver.py serve --kind datadog_logs|elasticsearch --expected N
                            [--fail-percent P] [--item-429-percent Q]
                            [--seed S] [--port 0]
    bench/receiver.py load  --kind datadog_logs|elasticsearch [--events N]
                            [--connections C] [--line-bytes 200]

serve: runs the counting receiver of tests/peers/bench.py (what it prints
on stdout, how it counts, the faults it injects: see there) until stdin is
closed.

load: starts `serve` as a child process and sends it prebuilt, compressed
bodies (Datadog: arrays of 1000 logs, zstd; Elasticsearch: ~10 MB of NDJSON,
gzip) over C keep-alive connections, to measure the receiver alone.
"""
import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from peers.bench import serve  # noqa: E402
from peers.wire import zstandard  # noqa: E402


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
