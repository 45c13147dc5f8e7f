"""A Kubernetes node's pod log tree, written the way kubelet and the container
runtimes write it, with the exact events the kubernetes_logs source must make
of it.

The formats follow ../shared/PROTOCOLS.md ("Kubernetes pod logs"): CRI
lines from containerd (trimmed fractions, no dot on whole seconds) and CRI-O
(9 digits, numeric offsets), docker json-file lines, long lines cut into
16 KiB partial chunks (one cut inside a UTF-8 character), stdout and stderr
chunks interleaved, kubelet's rotation (`0.log.<YYYYMMDD-hhmmss>` plus `.gz`
and `.tmp` files that must never be read), a container restart (`1.log`), the
pre-1.14 layout and a malformed line.

Expected events are dicts as the file sink's JSON encoding writes them; a
`timestamp` of ANY_TIME means "the read time" (not known in advance).

    tree = build_node_tree(root)        # root plays /var/log/pods
    tree.expected                       # {path: [event, ...]} in file order
    tree.all_events()                   # every expected event

`write_bench_tree(root, lines, pods)` writes a large CRI tree quickly for
benchmarks (bench/run can import this module)."""
import datetime
import gzip
import json
import os
import pathlib

SOURCE_TYPE = "kubernetes_logs"
CHUNK = 16 * 1024          # containerd and docker cut lines at 16 KiB
ANY_TIME = object()        # a parse error's timestamp is the read time


# ------------------------------------------------------------- timestamps

def ns_of(year, month, day, hour, minute, second, nanos=0, offset_minutes=0):
    """Nanoseconds since the epoch of a wall time at a UTC offset."""
    tz = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    dt = datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    return int(dt.timestamp()) * 1_000_000_000 + nanos


def _civil(ns):
    secs, frac = divmod(ns, 1_000_000_000)
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc), frac


def containerd_time(ns):
    """containerd's RFC3339Nano: trailing zeros trimmed, no dot when none."""
    dt, frac = _civil(ns)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        s += "." + f"{frac:09d}".rstrip("0")
    return s + "Z"


def crio_time(ns, offset_minutes=0):
    """CRI-O's: always 9 digits, a numeric offset."""
    tz = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    secs, frac = divmod(ns, 1_000_000_000)
    dt = datetime.datetime.fromtimestamp(secs, tz)
    sign = "+" if offset_minutes >= 0 else "-"
    off = abs(offset_minutes)
    return (dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}"
            + f"{sign}{off // 60:02d}:{off % 60:02d}")


def sluice_time(ns):
    """How sluice's JSON encoding writes a timestamp (chrono's AutoSi)."""
    dt, frac = _civil(ns)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        if frac % 1_000_000 == 0:
            s += f".{frac // 1_000_000:03d}"
        elif frac % 1000 == 0:
            s += f".{frac // 1000:06d}"
        else:
            s += f".{frac:09d}"
    return s + "Z"


# ------------------------------------------------------------- line makers

def cri_line(ns, stream, tag, content, stamp=containerd_time):
    """One CRI line as bytes; content is bytes or str."""
    if isinstance(content, str):
        content = content.encode()
    return stamp(ns).encode() + f" {stream} {tag} ".encode() + content + b"\n"


def docker_line(ns, stream, log, attrs=None):
    """One docker json-file line; log is the text including its `\\n` when
    full. Go's encoder escapes <, > and & as \\u003c etc."""
    obj = {"log": log, "stream": stream, "time": containerd_time(ns)}
    if attrs is not None:
        obj["attrs"] = attrs
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode() + b"\n"


def split_chunks(data, size=CHUNK):
    """data (bytes) cut every `size` bytes, as a runtime cuts a long line."""
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


# ------------------------------------------------------------- the tree

class Pod:
    def __init__(self, namespace, name, uid):
        self.namespace, self.name, self.uid = namespace, name, uid

    def dir(self, root):
        return pathlib.Path(root) / f"{self.namespace}_{self.name}_{self.uid}"

    def meta(self, container):
        return {"container_name": container, "pod_name": self.name,
                "pod_namespace": self.namespace, "pod_uid": self.uid}


def event(path, meta, message, stream, ns):
    e = {"file": str(path), "kubernetes": meta, "message": message,
         "source_type": SOURCE_TYPE}
    if stream is not None:
        e["stream"] = stream
    e["timestamp"] = ANY_TIME if ns is None else sluice_time(ns)
    return e


class FileWriter:
    """Appends lines to one log file and records the events they make."""

    def __init__(self, tree, path, meta):
        self.tree, self.path, self.meta = tree, pathlib.Path(path), meta
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.data = bytearray()
        tree.expected.setdefault(str(self.path), [])

    def expect(self, message, stream, ns):
        self.tree.expected[str(self.path)].append(
            event(self.path, self.meta, message, stream, ns))

    def raw(self, data):
        self.data += data

    def cri_full(self, ns, stream, text, stamp=containerd_time):
        self.raw(cri_line(ns, stream, "F", text, stamp))
        self.expect(text, stream, ns)

    def cri_long(self, ns, stream, data, stamp=containerd_time):
        """A line longer than 16 KiB, cut into P chunks and a final F."""
        chunks = split_chunks(data)
        for i, c in enumerate(chunks):
            tag = "F" if i == len(chunks) - 1 else "P"
            self.raw(cri_line(ns + i, stream, tag, c, stamp))
        self.expect(data.decode(), stream, ns)

    def docker_full(self, ns, stream, text, attrs=None):
        self.raw(docker_line(ns, stream, text + "\n", attrs))
        self.expect(text, stream, ns)

    def flush(self):
        with open(self.path, "ab") as f:
            f.write(self.data)
        self.data = bytearray()


class NodeTree:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.expected = {}
        self.never_read = []   # paths whose contents must not show up

    def writer(self, path, meta):
        return FileWriter(self, path, meta)

    def all_events(self):
        return [e for events in self.expected.values() for e in events]


T0 = ns_of(2024, 5, 1, 10, 0, 0)


def build_node_tree(root):
    """Writes every case under root and returns the NodeTree."""
    tree = NodeTree(root)
    root = tree.root
    root.mkdir(parents=True, exist_ok=True)

    # containerd: trimmed and full fractions, whole seconds, tags with
    # extra fields, an empty line, long lines, interleaved partials, a
    # malformed line, and a restart (1.log next to 0.log).
    chat = Pod("default", "chat-ui-7d9f8b6c5-x2x4z", "0d3c1a52-7f0e-4c59-9a0b-1c2d3e4f5a6b")
    c0 = tree.writer(chat.dir(root) / "chat-ui" / "0.log", chat.meta("chat-ui"))
    c0.cri_full(T0 + 100_000_000, "stdout", "server listening on :8080")      # .1Z
    c0.cri_full(T0 + 1_000_000_000, "stdout", "whole second")                 # :01Z
    c0.cri_full(T0 + 2_123_456_789, "stderr", "full nanoseconds")             # 9 digits
    c0.cri_full(T0 + 3_000_001_000, "stdout", "microseconds <b> & \"quotes\"")
    c0.raw(cri_line(T0 + 4_000_000_000, "stdout", "F:x:y", "extra tags ignored"))
    c0.expect("extra tags ignored", "stdout", T0 + 4_000_000_000)
    c0.cri_full(T0 + 5_000_000_000, "stdout", "")                             # empty
    c0.cri_full(T0 + 6_000_000_000, "stdout", "ünïcödé ✓ 日本語")
    long_ascii = ("lorem ipsum " * 3000).encode()[:CHUNK * 2 + 123]
    c0.cri_long(T0 + 7_000_000_000, "stdout", long_ascii)
    # A long line whose first cut falls inside "€" (3 bytes: E2 82 AC).
    utf8 = b"a" * (CHUNK - 1) + "€".encode() + b" tail after the cut"
    assert utf8[CHUNK - 1:CHUNK] == b"\xe2" and utf8[CHUNK:CHUNK + 1] == b"\x82"
    c0.cri_long(T0 + 8_000_000_000, "stderr", utf8)
    # stdout and stderr partials interleaved: each stream joins its own.
    ts = T0 + 9_000_000_000
    c0.raw(cri_line(ts, "stdout", "P", "out part 1, "))
    c0.raw(cri_line(ts + 1, "stderr", "P", "err part 1, "))
    c0.raw(cri_line(ts + 2, "stdout", "P", "out part 2, "))
    c0.raw(cri_line(ts + 3, "stderr", "F", "err end"))
    c0.raw(cri_line(ts + 4, "stdout", "F", "out end"))
    c0.expect("err part 1, err end", "stderr", ts + 1)
    c0.expect("out part 1, out part 2, out end", "stdout", ts)
    c0.raw(b"this line is neither CRI nor docker\n")
    c0.expect("this line is neither CRI nor docker", None, None)
    c0.cri_full(T0 + 10_000_000_000, "stdout", "after the malformed line")
    c0.flush()
    c1 = tree.writer(chat.dir(root) / "chat-ui" / "1.log", chat.meta("chat-ui"))
    c1.cri_full(T0 + 20_000_000_000, "stdout", "restarted: server listening on :8080")
    c1.cri_full(T0 + 20_500_000_000, "stderr", "restarted: connection failed")
    c1.flush()

    # CRI-O: 9 digits, +00:00 and a negative numeric offset.
    sk = Pod("ai", "semantic-kernel-5c8d7f9b6-qq7rt", "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b")
    s0 = tree.writer(sk.dir(root) / "agent" / "0.log", sk.meta("agent"))

    def crio_utc(ns):
        return crio_time(ns, 0)

    def crio_west(ns):
        return crio_time(ns, -7 * 60)
    s0.cri_full(T0 + 30_000_000_000, "stdout", "planner: step 1", crio_utc)
    s0.cri_full(T0 + 31_000_000_500, "stderr", "tool call denied", crio_west)
    s0.cri_full(T0 + 32_000_000_000, "stdout", "planner: done", crio_utc)
    s0.cri_long(T0 + 33_000_000_000, "stdout", ("x" * (CHUNK + 10)).encode(), crio_utc)
    s0.flush()

    # docker json-file: escapes, attrs, a partial 16 KiB chunk, a bad line.
    dns = Pod("kube-system", "coredns-5d78c9869d-abcde", "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d")
    d0 = tree.writer(dns.dir(root) / "coredns" / "0.log", dns.meta("coredns"))
    d0.docker_full(T0 + 40_000_000_000, "stdout", "[INFO] plugin/reload: Running <config> & more")
    d0.docker_full(T0 + 41_250_000_000, "stderr", "[ERROR] upstream failed",
                   attrs={"tag": "coredns"})
    part1 = "p" * CHUNK
    d0.raw(docker_line(T0 + 42_000_000_000, "stdout", part1))
    d0.raw(docker_line(T0 + 42_000_000_001, "stdout", "rest of the long line\n"))
    d0.expect(part1 + "rest of the long line", "stdout", T0 + 42_000_000_000)
    d0.raw(b'{"log":"cut off\n')
    d0.expect('{"log":"cut off', None, None)
    d0.docker_full(T0 + 43_000_000_000, "stdout", "after the bad line")
    d0.flush()

    # Rotation: the renamed plain file still holds unread lines; the .gz and
    # the .tmp of an older one must never be read.
    web = Pod("default", "web-6b7c9d8f5-h3j4k", "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b")
    wdir = web.dir(root) / "nginx"
    rot = tree.writer(wdir / "0.log.20240501-100500", web.meta("nginx"))
    for i in range(50):
        rot.cri_full(T0 + 50_000_000_000 + i * 1000, "stdout", f"GET /rotated/{i} 200")
    rot.flush()
    live = tree.writer(wdir / "0.log", web.meta("nginx"))
    for i in range(20):
        live.cri_full(T0 + 60_000_000_000 + i * 1000, "stdout", f"GET /live/{i} 200")
    live.flush()
    gz = wdir / "0.log.20240501-100000.gz"
    with gzip.open(gz, "wb") as f:
        f.write(cri_line(T0, "stdout", "F", "NEVER READ gz"))
    tmp = wdir / "0.log.20240501-100000.tmp"
    tmp.write_bytes(cri_line(T0, "stdout", "F", "NEVER READ tmp"))
    tree.never_read += [str(gz), str(tmp)]

    # The pre-1.14 layout: <uid>/<container>_<n>.log, only uid and container.
    legacy_uid = "7c6b5a49-3827-4165-9483-72615a4b3c2d"
    lg = tree.writer(root / legacy_uid / "legacy_0.log",
                     {"container_name": "legacy", "pod_uid": legacy_uid})
    lg.cri_full(T0 + 70_000_000_000, "stdout", "old layout line 1")
    lg.cri_full(T0 + 71_000_000_000, "stdout", "old layout line 2")
    lg.flush()
    return tree


# ------------------------------------------------------------- comparing

def by_file_and_stream(events):
    """{(file, stream): [event, ...]}: the order the source must keep."""
    out = {}
    for e in events:
        out.setdefault((e.get("file"), e.get("stream")), []).append(e)
    return out


def assert_events_equal(got, expected):
    """got (decoded output) equals expected per file and stream, in order;
    an expected ANY_TIME timestamp only needs to be present."""
    g, x = by_file_and_stream(got), by_file_and_stream(expected)
    assert sorted(g, key=repr) == sorted(x, key=repr), (sorted(g, key=repr), sorted(x, key=repr))
    for key in x:
        assert len(g[key]) == len(x[key]), (key, len(g[key]), len(x[key]))
        for a, b in zip(g[key], x[key]):
            if b["timestamp"] is ANY_TIME:
                assert isinstance(a.get("timestamp"), str), a
                b = dict(b, timestamp=a["timestamp"])
            assert a == b, (key, a, b)


# ------------------------------------------------------------- benchmarks

def write_bench_tree(root, lines, pods=8, line_bytes=120, partial_every=50,
                     containers=1):
    """Writes `lines` CRI lines spread over `pods` pods (containerd format,
    ~line_bytes each) under root; every `partial_every`-th line is written as
    two P chunks and an F (0 disables). Returns the number of events the
    source should produce. Fast: one write per file."""
    root = pathlib.Path(root)
    files = []
    for p in range(pods):
        pod = Pod("bench", f"app-{p:04d}-7d9f8b6c5-x2x4z", f"00000000-0000-4000-8000-{p:012d}")
        for c in range(containers):
            path = pod.dir(root) / f"c{c}" / "0.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            files.append(path)
    per_file = [lines // len(files) + (1 if i < lines % len(files) else 0)
                for i in range(len(files))]
    events = 0
    stamp = "2024-05-01T10:00:00.123456789Z stdout "
    for k, (path, n) in enumerate(zip(files, per_file)):
        fill = max(1, line_bytes - len(stamp) - 3 - 26)
        pad = "x" * fill
        out = []
        made = 0
        for i in range(n):
            # The file number keeps the first lines (fingerprints) distinct.
            msg = f"f{k:04d} seq={i:010d} {pad}"
            if partial_every and i % partial_every == partial_every - 1:
                third = len(msg) // 3
                out.append(f"{stamp}P {msg[:third]}\n{stamp}P {msg[third:2 * third]}\n"
                           f"{stamp}F {msg[2 * third:]}\n")
            else:
                out.append(f"{stamp}F {msg}\n")
            made += 1
        with open(path, "w") as f:
            f.write("".join(out))
        events += made
    return events


if __name__ == "__main__":
    import sys
    import tempfile
    d = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    t = build_node_tree(os.path.join(d, "pods"))
    print(d, sum(len(v) for v in t.expected.values()), "events")
