"""Kubernetes pod logs (CRI) for the k8s scenarios.

A CRI line is `<RFC 3339 nanosecond timestamp> <stdout|stderr> <P|F> <content>`.
The messages are `seq=NNNNNNNNNN level=... msg=<text>`, all of the same
length (line bytes - CRI_PREFIX_BYTES - 1), so a check can tell a whole
merged line from a chunk. A line is split into chunks (`P` ... `F`) when a
hash of its sequence number falls under --partial-percent; one in five of
those has three chunks. A split line's last chunk is written after the next
line when that line is on the other stream, so the two streams' chunks
interleave as a runtime writes them."""
import json
import os
import random
import shutil
import sys
import time

from harness.common import CACHE_DIR, SEED, rel


K8S_PODS = 50
K8S_TREE_VERSION = 1
CRI_PREFIX_BYTES = len(b"2026-11-21T10:00:00.123456789Z stdout F ")
K8S_NAMESPACES = ["default", "ai", "payments", "kube-system", "monitoring"]


def k8s_pod_dir_name(j):
    """`<namespace>_<pod>_<uid>` of pod j, as kubelet names it."""
    ns = K8S_NAMESPACES[j % len(K8S_NAMESPACES)]
    return f"{ns}_app-{j:02d}-7d9f8c6b5-x{j:04d}_0c1f4e2a-{j:04d}-4b5e-9c3d-8e7f6a5b4c{j:02d}"


def cri_stream(seq):
    return b"stderr" if seq % 7 in (2, 5) else b"stdout"


def cri_is_split(seq, partial_percent):
    return (seq * 2654435761) % 10007 % 100 < partial_percent


class CriMaker:
    """Builds the CRI chunks of lines from their sequence numbers."""

    def __init__(self, line_bytes, partial_percent):
        self.msg_len = line_bytes - CRI_PREFIX_BYTES - 1
        if self.msg_len < 48:
            sys.exit(f"--line-bytes must be at least {CRI_PREFIX_BYTES + 49} for CRI lines")
        self.partial_percent = partial_percent
        rng = random.Random(SEED)
        alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .:-_/"
        table = bytes(alphabet[i % len(alphabet)] for i in range(256))
        self.noise = rng.randbytes(65536 + self.msg_len).translate(table)
        self.levels = [b"level=info msg=", b"level=warn msg=", b"level=debug msg=",
                       b"level=error msg="]

    def message(self, seq):
        head = b"seq=%010d %s" % (seq, self.levels[seq % 4])
        off = (seq * 7919) % 65536
        return head + self.noise[off:off + self.msg_len - len(head)]

    def chunks(self, seqs, timestamp):
        """The CRI lines (bytes, newline-terminated) carrying the lines seqs,
        in write order; timestamp(seq) gives the timestamp bytes. Returns
        (list of bytes, number of chunks)."""
        out = []
        pending = {}          # stream -> the deferred last chunk of a split line
        for seq in seqs:
            stream = cri_stream(seq)
            held = pending.pop(stream, None)
            if held is not None:            # the same stream goes on: close it first
                out.append(held)
            ts = timestamp(seq)
            msg = self.message(seq)
            if cri_is_split(seq, self.partial_percent):
                cuts = [len(msg) // 3, len(msg) * 2 // 3] if seq % 5 == 0 else \
                       [16 + (seq * 31) % (len(msg) - 32)]
                pieces = [msg[a:b] for a, b in zip([0] + cuts, cuts + [len(msg)])]
                for piece in pieces[:-1]:
                    out.append(b"%s %s P %s\n" % (ts, stream, piece))
                last = b"%s %s F %s\n" % (ts, stream, pieces[-1])
            else:
                last = None
                out.append(b"%s %s F %s\n" % (ts, stream, msg))
            for other, chunk in list(pending.items()):   # the other stream's
                out.append(chunk)
                del pending[other]
            if last is not None:
                pending[stream] = last
        out.extend(pending.values())
        return out, len(out)


def cri_timestamp(t_ns):
    """RFC 3339 with nanoseconds, UTC, for t_ns since the epoch."""
    secs, frac = divmod(t_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)).encode() + b".%09dZ" % frac


def ensure_pod_tree(events, line_bytes, pods, partial_percent):
    """A /var/log/pods-like tree in the cache: `<ns>_<pod>_<uid>/app/0.log` for
    `pods` pods, line seq going to pod seq % pods, timestamps 1 µs apart from
    2026-11-21T10:00:00Z. Made once (in a temporary directory renamed into
    place); its manifest, `<tree>.json` beside it (not inside: the source
    would see it), says how many lines and chunks it holds. Returns (tree,
    files, manifest)."""
    name = (f"pods{pods}-v{K8S_TREE_VERSION}-{events}x{line_bytes}"
            f"-p{partial_percent:g}")
    tree = CACHE_DIR / name
    manifest_path = CACHE_DIR / (name + ".json")
    files = [tree / k8s_pod_dir_name(j) / "app" / "0.log" for j in range(pods)]
    if tree.is_dir() and manifest_path.exists():
        return tree, files, json.loads(manifest_path.read_text())
    print(f"generating {events} CRI lines for {pods} pods into {rel(tree)} ...",
          file=sys.stderr)
    maker = CriMaker(line_bytes, partial_percent)
    base = b"2026-11-21T10:%02d:%02d.%09dZ"

    def timestamp(seq):                    # base + seq µs: one hour holds 3.6e9 lines
        secs, us = divmod(seq, 1_000_000)
        return base % (secs // 60 % 60, secs % 60, us * 1000)

    tmp = tree.with_name(tree.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    chunks = 0
    for j in range(pods):
        path = tmp / files[j].relative_to(tree)
        path.parent.mkdir(parents=True)
        with open(path, "wb") as out:
            for start in range(j, events, pods * 10000):
                lines, n = maker.chunks(range(start, min(events, start + pods * 10000), pods),
                                        timestamp)
                out.write(b"".join(lines))
                chunks += n
    manifest = {"lines": events, "chunks": chunks, "pods": pods, "line_bytes": line_bytes,
                "partial_percent": partial_percent}
    shutil.rmtree(tree, ignore_errors=True)
    os.replace(tmp, tree)
    manifest_path.write_text(json.dumps(manifest) + "\n")
    return tree, files, manifest
