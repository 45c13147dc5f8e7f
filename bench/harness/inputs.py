"""The deterministic inputs the scenarios read, generated once and cached in
bench/results/cache/: sequenced lines, Apache access lines, Kubernetes-shaped
JSON events, the same lines split across files."""
import json
import os
import random
import shutil
import sys

from harness.common import CACHE_DIR, INPUT_FORMAT_VERSION, SEED, SEQ_PREFIX_BYTES, rel


def input_path(events, line_bytes, kind="input"):
    return CACHE_DIR / f"{kind}-v{INPUT_FORMAT_VERSION}-{events}x{line_bytes}.log"


def ensure_input(events, line_bytes):
    """The cached input file, generated once per (events, line bytes).

    Lines are `seq=NNNNNNNNNN level=... msg=<random>` padded to line_bytes
    including the newline; the sequence number makes each line unique and
    lets output checks see loss, duplication and reordering."""
    path = input_path(events, line_bytes)
    if path.exists() and path.stat().st_size == events * line_bytes:
        return path
    if line_bytes < SEQ_PREFIX_BYTES + 32:
        sys.exit(f"--line-bytes must be at least {SEQ_PREFIX_BYTES + 32}")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    print(f"generating {events} lines of {line_bytes} bytes into {rel(path)} ...",
          file=sys.stderr)
    rng = random.Random(SEED)
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .:-_/"
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    levels = [b"level=info msg=", b"level=warn msg=", b"level=debug msg=",
              b"level=error msg="]
    tmp = path.with_suffix(".tmp")
    block = 10000
    with open(tmp, "wb") as out:
        for start in range(0, events, block):
            n = min(block, events - start)
            noise = rng.randbytes(n * line_bytes).translate(table)
            parts = []
            for i in range(n):
                head = b"seq=%010d %s" % (start + i, levels[(start + i) % 4])
                fill = line_bytes - 1 - len(head)
                off = i * line_bytes
                parts.append(head + noise[off:off + fill] + b"\n")
            out.write(b"".join(parts))
    os.replace(tmp, path)
    return path


# The regex_parse program's regex, also given to pcre2grep (PCRE2 takes the
# (?P<name>...) form too), and the captures each output event must hold.
APACHE_REGEX = (r'^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<timestamp>[^\]]+)\] '
                r'"(?P<method>\S+) (?P<path>\S+) (?P<protocol>[^"]+)" (?P<status>\d+) '
                r'(?P<size>\d+) "(?P<referrer>[^"]*)" "(?P<agent>[^"]*)"$')
APACHE_FIELDS = ("host", "user", "timestamp", "method", "path", "protocol", "size",
                 "referrer", "agent")


def write_cached(path, make_lines, events):
    """Writes the lines make_lines(start, n, rng) returns, block by block,
    to a temporary file renamed into place once complete: an existing cache
    file is always whole."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    print(f"generating {events} lines into {rel(path)} ...", file=sys.stderr)
    rng = random.Random(SEED)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for start in range(0, events, 10000):
            out.write(b"".join(make_lines(start, min(10000, events - start), rng)))
    os.replace(tmp, path)
    return path


def ensure_apache_input(events, line_bytes):
    """Apache combined access lines of exactly line_bytes (the referrer is
    padded), `seq=N` in the request path, deterministic from the seed."""
    path = input_path(events, line_bytes, "apache")
    if path.exists():
        return path
    methods = [b"GET", b"GET", b"GET", b"POST", b"PUT", b"DELETE"]
    statuses = [200, 200, 200, 201, 301, 304, 404, 500]
    users = [b"-", b"-", b"frank", b"alice", b"svc-ci"]
    words = [b"items", b"orders", b"users", b"cart", b"search", b"static"]
    agents = [b"Mozilla/5.0 (X11; Linux x86_64)", b"curl/8.4.0", b"Go-http-client/1.1",
              b"python-requests/2.31.0"]
    pad = b"abcdefghijklmnopqrstuvwxyz0123456789"
    pad_run = pad * (line_bytes // len(pad) + 2)

    def make(start, n, rng):
        parts = []
        for i in range(start, start + n):
            secs = i // 50
            head = b'10.%d.%d.%d - %s [21/Nov/2026:%02d:%02d:%02d +0000] "%s /api/%s?seq=%010d ' \
                   b'HTTP/1.1" %d %d "https://example.com/' % (
                       rng.randrange(256), rng.randrange(256), rng.randrange(1, 255),
                       rng.choice(users), secs // 3600 % 24, secs // 60 % 60, secs % 60,
                       rng.choice(methods), rng.choice(words), i, rng.choice(statuses),
                       rng.randrange(100, 100000))
            tail = b'" "%s"\n' % rng.choice(agents)
            fill = line_bytes - len(head) - len(tail)
            if fill < 0:
                sys.exit(f"--line-bytes must be at least {len(head) + len(tail)} for "
                         "Apache lines")
            off = i % len(pad)
            parts.append(head + pad_run[off:off + fill] + tail)
        return parts
    return write_cached(path, make, events)


def ensure_k8s_input(events, line_bytes):
    """JSON events shaped like the kubernetes_logs source's: a message and
    kubernetes.* metadata, pods of the chat-ui and semantic-kernel
    workloads among others; some carry response_time and token_count (as
    strings, as a JSON log line parsed upstream would). line_bytes is not
    used: the lines are as long as their content."""
    path = input_path(events, 0, "k8s")
    if path.exists():
        return path
    pods = ["chat-ui-7d9f8c6b5-x2x9q", "chat-ui-7d9f8c6b5-k4m2p",
            "semantic-kernel-5c8d7f9b6-qq7rt", "semantic-kernel-5c8d7f9b6-z8w1n",
            "api-gateway-6b7c9d8f5-h3j4k", "postgres-0", "redis-master-0"]
    messages = ["request completed", "Connection failed: upstream timeout",
                "user login ok", "permission denied for tool call", "cache hit",
                "NullPointerException in handler", "tokens streamed"]

    def make(start, n, rng):
        parts = []
        for i in range(start, start + n):
            pod = rng.choice(pods)
            event = {
                "file": f"/var/log/pods/ai_{pod}_0/app/0.log",
                "kubernetes": {"container_name": "app", "pod_name": pod,
                               "pod_namespace": "ai", "pod_node_name": "node-1"},
                "message": f"seq={i:010d} {rng.choice(messages)}",
                "source_type": "kubernetes_logs",
                "stream": "stdout",
            }
            if rng.random() < 0.5:
                event["response_time"] = f"{rng.uniform(1, 900):.1f}"
            if pod.startswith(("chat-ui", "semantic-kernel")) and rng.random() < 0.7:
                event["token_count"] = str(rng.randrange(1, 4096))
            parts.append(json.dumps(event, separators=(",", ":")).encode() + b"\n")
        return parts
    return write_cached(path, make, events)


def ensure_split_input(events, line_bytes, nfiles):
    """nfiles files of events/nfiles lines each, cut from the cached input
    file: file k holds the lines k*per .. (k+1)*per-1, so the sequence numbers
    stay unique across the files. Returns (directory, files); the directory
    is renamed into place once complete."""
    if events % nfiles:
        sys.exit(f"--events must be a multiple of {nfiles}")
    path = CACHE_DIR / f"files{nfiles}-v{INPUT_FORMAT_VERSION}-{events}x{line_bytes}"
    files = [path / f"app-{k:03d}.log" for k in range(nfiles)]
    if path.is_dir():
        return path, files
    source = ensure_input(events, line_bytes)
    print(f"splitting {rel(source)} into {nfiles} files in {rel(path)} ...", file=sys.stderr)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    per = events // nfiles * line_bytes
    with open(source, "rb") as f:
        for k in range(nfiles):
            (tmp / files[k].name).write_bytes(f.read(per))
    os.replace(tmp, path)
    return path, files


def ensure_kafka_input(events, line_bytes):
    """Lines shaped like tests/peers/kafka_mock's preload payloads: the
    sequence number first (kafka_consume_plain --check-seq reads it back),
    then a log line whose only other changing part is its timestamp, padded
    to line_bytes. They compress about as well as the preload's, so a mock
    partition (5 MiB of compressed batches) holds a few hundred thousand of
    them with lz4; the `seq=` lines' random text would hold a tenth."""
    path = input_path(events, line_bytes, "kafka")
    if path.exists() and path.stat().st_size == events * line_bytes:
        return path
    pad = b"abcdefghijklmnopqrstuvwxyz" * (line_bytes // 26 + 2)

    def make(start, n, rng):
        parts = []
        for i in range(start, start + n):
            head = (b'%d level=info ts=2024-05-01T12:%02d:%02d.%03dZ msg="request served" '
                    b'method=GET path=/api/v1/items status=200 region=eu-west-1 ' %
                    (i, i // 60000 % 60, i // 1000 % 60, i % 1000))
            fill = line_bytes - 1 - len(head)
            if fill < 0:
                sys.exit(f"--line-bytes must be at least {len(head) + 1} for Kafka lines")
            parts.append(head + pad[len(head):len(head) + fill] + b"\n")
        return parts
    return write_cached(path, make, events)


INPUT_KINDS = {"seq": ensure_input, "apache": ensure_apache_input, "k8s_json": ensure_k8s_input,
               "kafka": ensure_kafka_input}
