"""End-to-end tests of the kubernetes_logs source: a node's pod log tree
(k8s_fixtures.py: containerd, CRI-O and docker lines, partials, rotation,
a restart, the pre-1.14 layout, a malformed line) into a file sink as JSON,
compared with the exact expected events; kubelet's rotation while running;
restarts after SIGTERM and kill -9; truncation; deletion; a corrupt
checkpoint file; checkpoints that only advance over delivered events with
acknowledgements; partial-line options; the API options' warnings; and the
kubernetes-remap example."""
import gzip
import json
import os
import shutil
import threading
import time

import k8s_fixtures as kf
from conftest import (ROOT, complete_messages, free_port, http_get, messages, read_events,
                      run_cli, wait_for)
from peers.config import component, file_sink, pipeline


def config(tmp_path, pods, out, extra="", acks=False, api_port=None):
    source = component("k8s", "kubernetes_logs", options=f'pod_logs_dir: "{pods}"\n'
                                                        "glob_minimum_cooldown_ms: 100")
    return pipeline(source + extra, file_sink(out, ["k8s"]), api_port=api_port,
                    data_dir=tmp_path / "data", acks=True if acks else None)










def checkpoints(tmp_path):
    p = tmp_path / "data" / "k8s" / "checkpoints.json"
    if not p.exists():
        return {}
    try:
        return {c["path"]: c["position"] for c in json.loads(p.read_text())["checkpoints"]}
    except (ValueError, KeyError):
        return {}


POD = kf.Pod("default", "chat-ui-7d9f8b6c5-x2x4z", "0d3c1a52-7f0e-4c59-9a0b-1c2d3e4f5a6b")


def append(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)


def cri(i, text, tag="F", stream="stdout"):
    return kf.cri_line(kf.T0 + i * 1_000_000, stream, tag, text)


# ------------------------------------------------------------- the node tree

def test_node_tree_exact_events(start_sluice, tmp_path):
    tree = kf.build_node_tree(tmp_path / "pods")
    expected = tree.all_events()
    out = tmp_path / "out.json"
    port = free_port()
    s = start_sluice(config(tmp_path, tree.root, out, api_port=port))
    s.wait_healthy(port)
    wait_for(lambda: len(read_events(out)) >= len(expected), what="every event")
    time.sleep(0.5)
    _, _, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert s.terminate() == 0, s.stderr()
    got = read_events(out)
    kf.assert_events_equal(got, expected)
    text = out.read_text()
    assert "NEVER READ" not in text
    for p in tree.never_read:
        assert p not in text
    body = body.decode()
    assert 'error_type="parse_failed"' in body
    assert "sluice_parse_errors_total{" in body
    assert "sluice_lines_read_total{" in body
    assert "sluice_files_watched{" in body
    assert "neither CRI nor docker" not in s.stderr()   # the line itself isn't logged
    assert "Could not parse a line of" in s.stderr()


def test_validate_warns_about_api_options(tmp_path):
    cfg = tmp_path / "k.yaml"
    cfg.write_text("""
sources:
  k:
    type: kubernetes_logs
    self_node_name: node-1
    extra_label_selector: "app!=x"
    extra_field_selector: "metadata.name!=y"
    extra_namespace_label_selector: "team=a"
    kube_config_file: /root/.kube/config
    use_apiserver_cache: true
    pod_annotation_fields:
      pod_name: k8s.pod
    namespace_annotation_fields:
      namespace_labels: ns_labels
    node_annotation_fields:
      node_labels: node_labels
    insert_namespace_fields: false
    delay_deletion_ms: 30000
    timezone: local
    max_read_bytes: 4096
sinks:
  out:
    type: blackhole
    inputs: [k]
""")
    r = run_cli("validate", "--no-environment", "-c", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr
    text = r.stdout + r.stderr
    for opt in ["self_node_name", "extra_label_selector", "extra_field_selector",
                "extra_namespace_label_selector", "kube_config_file", "use_apiserver_cache",
                "pod_annotation_fields", "namespace_annotation_fields",
                "node_annotation_fields", "insert_namespace_fields", "delay_deletion_ms"]:
        assert f'option "{opt}" is accepted but has no effect until Kubernetes API' in text, opt
    assert 'option "timezone" is accepted' in text
    assert 'option "max_read_bytes" is accepted' in text


def test_defaults_validate_without_warnings(tmp_path):
    cfg = tmp_path / "k.yaml"
    cfg.write_text("sources:\n  k:\n    type: kubernetes_logs\n"
                   "sinks:\n  out:\n    type: blackhole\n    inputs: [k]\n")
    r = run_cli("validate", "--no-environment", "-c", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "accepted but" not in r.stdout + r.stderr


def test_include_and_exclude_patterns(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    a = kf.Pod("kube-system", "a-1", "u1")
    b = kf.Pod("default", "b-1", "u2")
    append(a.dir(pods) / "c" / "0.log", cri(1, "from kube-system"))
    append(b.dir(pods) / "c" / "0.log", cri(2, "from default"))
    append(b.dir(pods) / "skip" / "0.log", cri(3, "excluded container"))
    append(pods / "not-a-pod.log", cri(4, "stray file"))
    append(b.dir(pods) / "c" / "notes.txt", cri(5, "not a log"))
    out = tmp_path / "out.json"
    extra = ('    include_paths_glob_patterns: ["**/default_*/**"]\n'
             '    exclude_paths_glob_patterns: ["**/skip/**"]\n')
    s = start_sluice(config(tmp_path, pods, out, extra))
    wait_for(lambda: len(read_events(out)) >= 1, what="an event")
    time.sleep(0.7)
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["from default"]


# ------------------------------------------------------------- rotation

def test_kubelet_rotation_while_running(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    d = POD.dir(pods) / "chat-ui"
    live = d / "0.log"
    out = tmp_path / "out.json"
    append(live, cri(0, "gen 0 first"))
    s = start_sluice(config(tmp_path, pods, out))
    expected = ["gen 0 first"]
    n = 1
    rotated = []
    for gen in range(4):
        batch = []
        for _ in range(1500):
            batch.append(f"line {n}")
            n += 1
        # a long line cut into chunks right before the rotation
        long = ("L%d-" % gen) * 6000
        data = b"".join(cri(n + i, t) for i, t in enumerate(batch))
        chunks = kf.split_chunks(long.encode())
        data += b"".join(cri(n + len(batch) + i, c, "P" if i < len(chunks) - 1 else "F")
                         for i, c in enumerate(chunks))
        append(live, data)
        expected += batch + [long]
        # kubelet: rename to <n>.log.<ts>, the runtime reopens a new 0.log
        r = d / f"0.log.2024050{gen + 1}-100000"
        os.rename(live, r)
        rotated.append(r)
        first = f"gen {gen + 1} first"
        append(live, cri(n + 10_000, first))
        n += 1
        expected.append(first)
        # the next rotation compresses the older renamed file and removes it
        if len(rotated) > 1:
            old = rotated.pop(0)
            tmp = old.with_name(old.name + ".tmp")
            with open(old, "rb") as src, gzip.open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.rename(tmp, old.with_name(old.name + ".gz"))
            os.unlink(old)
        time.sleep(0.3)
    wait_for(lambda: len(read_events(out)) >= len(expected), what="every line")
    time.sleep(0.7)
    assert s.terminate() == 0, s.stderr()
    got = messages(out)
    assert len(got) == len(expected), (len(got), len(expected))
    assert sorted(got) == sorted(expected)


# ------------------------------------------------------------- restarts

def test_restart_after_sigterm_keeps_held_partial(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    log = POD.dir(pods) / "chat-ui" / "0.log"
    out = tmp_path / "out.json"
    append(log, b"".join(cri(i, f"first {i}") for i in range(300)))
    append(log, cri(300, "held part one, ", "P"))
    cfg = config(tmp_path, pods, out)
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 300, what="first run")
    wait_for(lambda: checkpoints(tmp_path), what="a checkpoint")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    # The checkpoint stops at the held chunk, so the next run reads it again.
    pos = checkpoints(tmp_path)[str(log)]
    assert pos == log.stat().st_size - len(cri(300, "held part one, ", "P"))
    append(log, cri(301, "and its end", "F") + cri(302, "second 1"))
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 302, what="second run")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    got = read_events(out)
    assert [e["message"] for e in got] == (
        [f"first {i}" for i in range(300)] + ["held part one, and its end", "second 1"])
    assert got[300]["timestamp"] == kf.sluice_time(kf.T0 + 300 * 1_000_000)
    assert checkpoints(tmp_path)[str(log)] == log.stat().st_size


def test_kill_9_loses_nothing(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    log = POD.dir(pods) / "chat-ui" / "0.log"
    out = tmp_path / "out.json"
    append(log, b"".join(cri(i, f"k {i}") for i in range(500)))
    cfg = config(tmp_path, pods, out)
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 500, what="first run")
    append(log, b"".join(cri(i, f"k {i}") for i in range(500, 600)))
    append(log, cri(600, "k 600 part, ", "P"))
    s.proc.kill()
    s.proc.wait()
    append(log, cri(601, "end", "F"))
    # kill -9 may have torn the sink's last line: the second run writes
    # elsewhere, and the torn line of the first is skipped.
    out2 = tmp_path / "out2.json"
    s = start_sluice(config(tmp_path, pods, out2))
    want = {f"k {i}" for i in range(600)} | {"k 600 part, end"}

    def seen():
        return set(complete_messages(out)) | set(messages(out2))
    wait_for(lambda: seen() >= want, what="every line")
    assert s.terminate() == 0, s.stderr()
    assert "k 600 part, " not in seen()   # never half a line


def test_truncation_reads_again(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    log = POD.dir(pods) / "chat-ui" / "0.log"
    out = tmp_path / "out.json"
    append(log, cri(1, "before 1") + cri(2, "before 2"))
    s = start_sluice(config(tmp_path, pods, out))
    wait_for(lambda: len(read_events(out)) >= 2, what="first lines")
    with open(log, "r+b") as f:
        f.truncate(0)
    time.sleep(0.3)
    append(log, cri(3, "after 1"))
    wait_for(lambda: len(read_events(out)) >= 3, what="line after truncation")
    time.sleep(0.3)
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["before 1", "before 2", "after 1"]


def test_deleted_file_drained_and_released(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    log = POD.dir(pods) / "chat-ui" / "0.log"
    out = tmp_path / "out.json"
    append(log, cri(1, "one"))
    s = start_sluice(config(tmp_path, pods, out))
    wait_for(lambda: len(read_events(out)) >= 1, what="first line")
    # A held partial with no end: pushed when the file stops being followed.
    append(log, cri(2, "two") + cri(3, "three") + cri(4, "cut short", "P"))
    os.unlink(log)
    wait_for(lambda: len(read_events(out)) >= 4, what="drained lines")

    def released():
        fd_dir = f"/proc/{s.proc.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, fd)).endswith("(deleted)"):
                    return False
            except OSError:
                pass
        return True
    wait_for(released, what="the deleted file's descriptor to close")
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["one", "two", "three", "cut short"]


def test_corrupt_checkpoint_is_set_aside(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    log = POD.dir(pods) / "chat-ui" / "0.log"
    out = tmp_path / "out.json"
    append(log, cri(1, "x 1") + cri(2, "x 2"))
    ckdir = tmp_path / "data" / "k8s"
    ckdir.mkdir(parents=True)
    (ckdir / "checkpoints.json").write_text("{garbage")
    port = free_port()
    s = start_sluice(config(tmp_path, pods, out, api_port=port))
    s.wait_healthy(port)
    wait_for(lambda: len(read_events(out)) >= 2, what="lines read from the start")
    _, _, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert b'error_type="checkpoint_corrupt"' in body
    assert s.terminate() == 0, s.stderr()
    assert (ckdir / "checkpoints.json.corrupt").read_text() == "{garbage"
    assert messages(out) == ["x 1", "x 2"]
    json.loads((ckdir / "checkpoints.json").read_text())


def test_checkpoint_advances_only_over_delivered_events(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    log = POD.dir(pods) / "chat-ui" / "0.log"
    append(log, b"".join(cri(i, f"a {i}") for i in range(200)))
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    s = start_sluice(config(tmp_path, pods, fifo, acks=True))
    # Nobody reads the FIFO: the sink can't deliver, the checkpoint stays.
    time.sleep(2.5)
    assert s.proc.poll() is None, s.stderr()
    assert checkpoints(tmp_path).get(str(log), 0) == 0
    got = []

    def drain():
        with open(fifo, "rb") as f:
            for line in f:
                got.append(json.loads(line)["message"])
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    wait_for(lambda: len(got) >= 200, what="delivery through the FIFO")
    wait_for(lambda: checkpoints(tmp_path).get(str(log)) == log.stat().st_size,
             what="the checkpoint to advance")
    assert s.terminate() == 0, s.stderr()
    t.join(5)
    assert got == [f"a {i}" for i in range(200)]


# ------------------------------------------------------------- partial lines

def test_partial_timeout_pushes_held_line(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    log = POD.dir(pods) / "chat-ui" / "0.log"
    out = tmp_path / "out.json"
    append(log, cri(1, "full") + cri(2, "no end ", "P") + cri(3, "in sight", "P"))
    s = start_sluice(config(tmp_path, pods, out, "    partial_merge_timeout_ms: 300\n"))
    wait_for(lambda: len(read_events(out)) >= 2, what="the timed-out partial line")
    assert s.terminate() == 0, s.stderr()
    ev = read_events(out)
    assert [e["message"] for e in ev] == ["full", "no end in sight"]
    assert ev[1]["stream"] == "stdout"


def test_without_auto_partial_merge(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    log = POD.dir(pods) / "chat-ui" / "0.log"
    out = tmp_path / "out.json"
    append(log, cri(1, "a1 ", "P") + cri(2, "a2", "F") + cri(3, "b"))
    s = start_sluice(config(tmp_path, pods, out, "    auto_partial_merge: false\n"))
    wait_for(lambda: len(read_events(out)) >= 3, what="three chunks")
    assert s.terminate() == 0, s.stderr()
    ev = read_events(out)
    assert [e["message"] for e in ev] == ["a1 ", "a2", "b"]
    assert ev[0]["_partial"] is True
    assert "_partial" not in ev[1] and "_partial" not in ev[2]


def test_max_merged_line_bytes_discards_and_counts(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    log = POD.dir(pods) / "chat-ui" / "0.log"
    out = tmp_path / "out.json"
    append(log, cri(1, "x" * 600, "P") + cri(2, "x" * 600, "F") + cri(3, "small"))
    port = free_port()
    s = start_sluice(config(tmp_path, pods, out, "    max_merged_line_bytes: 1000\n",
                            api_port=port))
    s.wait_healthy(port)
    wait_for(lambda: len(read_events(out)) >= 1, what="the small line")
    time.sleep(0.5)
    _, _, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["small"]
    assert b'error_type="line_too_big"' in body
    assert "max_merged_line_bytes" in s.stderr() and str(log) in s.stderr()


# ------------------------------------------------------------- the example

def test_remap_example_on_kubernetes_logs(start_sluice, tmp_path):
    pods = tmp_path / "pods"
    chat = kf.Pod("ai", "chat-ui-7d9f8b6c5-x2x4z", "u-chat")
    sk = kf.Pod("ai", "semantic-kernel-5c8d7f9b6-qq7rt", "u-sk")
    db = kf.Pod("ai", "postgres-0", "u-db")
    append(chat.dir(pods) / "app" / "0.log", cri(1, "Request FAILED upstream"))
    append(sk.dir(pods) / "agent" / "0.log", cri(2, "planner ok"))
    append(db.dir(pods) / "pg" / "0.log", cri(3, "permission denied for table x"))
    example = (ROOT / "examples" / "kubernetes-remap.yaml").read_text()
    assert "/var/log/pods" in example
    cfg = example.replace("/var/log/pods", str(pods)).replace(
        "/var/lib/sluice", str(tmp_path / "data"))
    s = start_sluice(cfg)
    wait_for(lambda: s.stdout().count("\n") >= 3, what="three events on stdout")
    assert s.terminate() == 0, s.stderr()
    ev = {json.loads(l)["kubernetes"]["pod_name"]: json.loads(l)
          for l in s.stdout().splitlines()}
    c = ev["chat-ui-7d9f8b6c5-x2x4z"]
    assert (c["workload_type"], c["service"], c["security_event"], c["severity"]) == \
        ("ai-chat", "chat-ui", True, "warning")
    k = ev["semantic-kernel-5c8d7f9b6-qq7rt"]
    assert (k["workload_type"], k["service"]) == ("ai-agent", "semantic-kernel")
    assert "security_event" not in k
    p = ev["postgres-0"]
    assert "workload_type" not in p and p["security_event"] is True
