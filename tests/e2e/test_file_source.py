"""End-to-end tests of the file source: exact lines into a file sink,
read_from end, appends while running, rename rotation, copy-truncate,
deletion, restart from the checkpoint after SIGTERM, a corrupt checkpoint
file set aside, a 1,000,000-line file arriving complete, and Vector's older
option names (ignore_older, glob_minimum_cooldown, start_at_beginning)."""
import json
import os
import time

from conftest import (complete_messages, free_port, http_get, messages, read_events,
                      run_cli, wait_for)
from peers.config import component, file_sink, pipeline


def config(tmp_path, include, out, extra="", acks=False, api_port=None):
    source = component("in", "file", options=f'include: ["{include}"]\n'
                                             "glob_minimum_cooldown_ms: 100")
    return pipeline(source + extra, file_sink(out, ["in"]), api_port=api_port,
                    data_dir=tmp_path / "data", acks=True if acks else None)








def append(path, lines):
    with open(path, "a") as f:
        f.write("".join(l + "\n" for l in lines))


def test_exact_lines_and_fields(start_sluice, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    a = logs / "a.log"
    append(a, [f"a {i}" for i in range(100)])
    (logs / "skip.log.gz").write_text("not read\n")
    out = tmp_path / "out.json"
    s = start_sluice(config(tmp_path, logs / "*.log", out))
    wait_for(lambda: len(read_events(out)) >= 100, what="100 events")
    assert s.terminate() == 0, s.stderr()
    events = read_events(out)
    assert [e["message"] for e in events] == [f"a {i}" for i in range(100)]
    e = events[0]
    assert e["file"] == str(a)
    assert e["source_type"] == "file"
    assert e["host"]
    assert e["timestamp"].endswith("Z")


def test_exclude_and_globstar(start_sluice, tmp_path):
    logs = tmp_path / "logs"
    (logs / "x" / "y").mkdir(parents=True)
    append(logs / "top.log", ["top"])
    append(logs / "x" / "y" / "deep.log", ["deep"])
    append(logs / "x" / "skip.log", ["skipped"])
    out = tmp_path / "out.json"
    extra = '    exclude: ["**/skip.log"]\n'
    s = start_sluice(config(tmp_path, logs / "**" / "*.log", out, extra))
    wait_for(lambda: len(read_events(out)) >= 2, what="2 events")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    assert sorted(messages(out)) == ["deep", "top"]


def test_read_from_end_then_appends(start_sluice, tmp_path):
    a = tmp_path / "a.log"
    append(a, ["old 1", "old 2"])
    out = tmp_path / "out.json"
    s = start_sluice(config(tmp_path, tmp_path / "*.log", out, "    read_from: end\n"))
    wait_for(lambda: (tmp_path / "data" / "in" / "checkpoints.json").exists(),
             what="a checkpoint")
    for i in range(5):
        append(a, [f"new {i}"])
        time.sleep(0.05)
    wait_for(lambda: len(read_events(out)) >= 5, what="appended lines")
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == [f"new {i}" for i in range(5)]


def test_rename_rotation_while_running(start_sluice, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    a = logs / "app.log"
    out = tmp_path / "out.json"
    append(a, ["gen 0 first"])
    s = start_sluice(config(tmp_path, logs / "app.log*", out))
    expected = ["gen 0 first"]
    n = 0
    for gen in range(3):
        for _ in range(2000):
            expected.append(f"line {n}")
            n += 1
        append(a, expected[-2000:])
        os.rename(a, logs / f"app.log.{gen}")
        first = f"gen {gen + 1} first"
        append(a, [first])
        expected.append(first)
        time.sleep(0.2)
    wait_for(lambda: len(read_events(out)) >= len(expected), what="every line")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    got = messages(out)
    assert len(got) == len(expected)
    assert sorted(got) == sorted(expected)


def test_copy_truncate(start_sluice, tmp_path):
    a = tmp_path / "a.log"
    out = tmp_path / "out.json"
    append(a, ["before 1", "before 2", "before 3"])
    s = start_sluice(config(tmp_path, tmp_path / "*.log", out))
    wait_for(lambda: len(read_events(out)) >= 3, what="first lines")
    with open(a, "r+") as f:
        f.truncate(0)
    time.sleep(0.3)
    append(a, ["after 1"])
    wait_for(lambda: len(read_events(out)) >= 4, what="line after truncation")
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["before 1", "before 2", "before 3", "after 1"]


def test_deleted_file_is_drained_and_released(start_sluice, tmp_path):
    a = tmp_path / "a.log"
    out = tmp_path / "out.json"
    append(a, ["one"])
    s = start_sluice(config(tmp_path, tmp_path / "*.log", out))
    wait_for(lambda: len(read_events(out)) >= 1, what="first line")
    append(a, ["two", "three"])
    os.unlink(a)
    wait_for(lambda: len(read_events(out)) >= 3, what="drained lines")

    def released():
        fd_dir = f"/proc/{s.proc.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, fd)).startswith(str(a)):
                    return False
            except OSError:
                pass
        return True
    wait_for(released, what="the deleted file's descriptor to close")
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["one", "two", "three"]


def test_restart_resumes_from_checkpoint(start_sluice, tmp_path):
    a = tmp_path / "a.log"
    out = tmp_path / "out.json"
    append(a, [f"first {i}" for i in range(1000)])
    cfg = config(tmp_path, tmp_path / "*.log", out)
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 1000, what="first run")
    assert s.terminate() == 0, s.stderr()
    append(a, [f"second {i}" for i in range(500)])
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 1500, what="second run")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ([f"first {i}" for i in range(1000)]
                             + [f"second {i}" for i in range(500)])
    ckpt = json.loads((tmp_path / "data" / "in" / "checkpoints.json").read_text())
    assert ckpt["checkpoints"][0]["position"] == a.stat().st_size


def test_restart_with_acknowledgements(start_sluice, tmp_path):
    a = tmp_path / "a.log"
    out = tmp_path / "out.json"
    append(a, [f"l {i}" for i in range(300)])
    cfg = config(tmp_path, tmp_path / "*.log", out, acks=True)
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 300, what="first run")
    assert s.terminate() == 0, s.stderr()
    append(a, ["l 300"])
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 301, what="second run")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == [f"l {i}" for i in range(301)]


def test_corrupt_checkpoint_is_set_aside(start_sluice, tmp_path):
    a = tmp_path / "a.log"
    out = tmp_path / "out.json"
    append(a, ["x 1", "x 2"])
    ckdir = tmp_path / "data" / "in"
    ckdir.mkdir(parents=True)
    (ckdir / "checkpoints.json").write_text("{garbage")
    port = free_port()
    s = start_sluice(config(tmp_path, tmp_path / "*.log", out, api_port=port))
    s.wait_healthy(port)
    wait_for(lambda: len(read_events(out)) >= 2, what="lines read from the start")
    _, _, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert b'error_type="checkpoint_corrupt"' in body
    assert s.terminate() == 0, s.stderr()
    assert (ckdir / "checkpoints.json.corrupt").read_text() == "{garbage"
    assert "corrupt" in s.stderr()
    assert messages(out) == ["x 1", "x 2"]
    json.loads((ckdir / "checkpoints.json").read_text())


def test_million_lines_arrive_complete(start_sluice, tmp_path):
    a = tmp_path / "big.log"
    n = 1_000_000
    with open(a, "w") as f:
        for start in range(0, n, 10_000):
            f.write("".join(f"line {i:07d} " + "x" * 40 + "\n"
                            for i in range(start, start + 10_000)))
    out = tmp_path / "out.json"
    s = start_sluice(config(tmp_path, tmp_path / "*.log", out))

    def count():
        if not out.exists():
            return 0
        with open(out, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    wait_for(lambda: count() >= n, timeout=120, what="a million lines")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    assert count() == n
    with open(out) as f:
        first = json.loads(f.readline())
    assert first["message"] == "line 0000000 " + "x" * 40


def test_kill_9_loses_nothing(start_sluice, tmp_path):
    a = tmp_path / "a.log"
    out = tmp_path / "out.json"
    append(a, [f"k {i}" for i in range(500)])
    cfg = config(tmp_path, tmp_path / "*.log", out)
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 500, what="first run")
    append(a, [f"k {i}" for i in range(500, 600)])
    s.proc.kill()
    s.proc.wait()
    # kill -9 may have torn the sink's last line: the second run writes
    # elsewhere, and the torn line of the first is skipped.
    out2 = tmp_path / "out2.json"
    s = start_sluice(config(tmp_path, tmp_path / "*.log", out2))
    want = {f"k {i}" for i in range(600)}
    wait_for(lambda: set(complete_messages(out)) | set(messages(out2)) >= want,
             what="every line")
    # The first run may have written everything before the kill: wait until
    # the second one handles signals, or SIGTERM would find it starting.
    wait_for(lambda: "started" in s.stderr(), what="the second run to start")
    assert s.terminate() == 0, s.stderr()


def test_ignore_checkpoints_reads_again(start_sluice, tmp_path):
    a = tmp_path / "a.log"
    out = tmp_path / "out.json"
    append(a, ["only"])
    s = start_sluice(config(tmp_path, tmp_path / "*.log", out))
    wait_for(lambda: len(read_events(out)) >= 1, what="first run")
    assert s.terminate() == 0, s.stderr()
    s = start_sluice(config(tmp_path, tmp_path / "*.log", out,
                            "    ignore_checkpoints: true\n"))
    wait_for(lambda: len(read_events(out)) >= 2, what="second run")
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["only", "only"]


def test_unwritable_data_dir_is_an_error(start_sluice, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    s = start_sluice(config(tmp_path, tmp_path / "*.log", tmp_path / "out.json",
                            f'    data_dir: "{blocker}"\n'))
    assert s.wait(30) != 0
    assert "checkpoint directory" in s.stderr()


def multiline_extra(mode, condition, timeout_ms=200, start="^[^\\s]"):
    return f"""    multiline:
      start_pattern: '{start}'
      condition_pattern: '{condition}'
      mode: {mode}
      timeout_ms: {timeout_ms}
"""


def test_multiline_stack_traces_and_timeout(start_sluice, tmp_path):
    """Java-style traces joined with continue_through; the last group is
    sent by the timeout, and with two files the groups never mix."""
    logs = tmp_path / "logs"
    logs.mkdir()
    a, b = logs / "a.log", logs / "b.log"
    append(a, ["Exception in thread main", "  at A.f(A.java:1)", "  at A.g(A.java:2)",
               "next line", "Error: second", "  at B.h(B.java:3)"])
    append(b, ["b single", "b trace", "\tat C.i(C.java:4)"])
    out = tmp_path / "out.json"
    s = start_sluice(config(tmp_path, logs / "*.log", out,
                            extra=multiline_extra("continue_through", "^[\\s]+")))
    wait_for(lambda: len(read_events(out)) >= 5, what="5 messages")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    by_file = {}
    for e in read_events(out):
        by_file.setdefault(e["file"], []).append(e["message"])
    assert by_file[str(a)] == ["Exception in thread main\n  at A.f(A.java:1)\n  at A.g(A.java:2)",
                               "next line",
                               "Error: second\n  at B.h(B.java:3)"]
    assert by_file[str(b)] == ["b single", "b trace\n\tat C.i(C.java:4)"]


def test_multiline_held_group_survives_restart(start_sluice, tmp_path):
    """A group still open at SIGTERM stays behind the checkpoint: after a
    restart it is read again and completed, not lost nor split."""
    logs = tmp_path / "logs"
    logs.mkdir()
    a = logs / "a.log"
    append(a, ["first", "second \\", "continued"])
    out = tmp_path / "out.json"
    extra = multiline_extra("continue_past", "\\\\$", timeout_ms=600000, start="\\\\$")
    s = start_sluice(config(tmp_path, logs / "*.log", out, extra=extra))
    wait_for(lambda: len(read_events(out)) >= 2, what="2 messages")
    append(a, ["open \\"])
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["first", "second \\\ncontinued"]
    append(a, ["closed"])
    s = start_sluice(config(tmp_path, logs / "*.log", out, extra=extra))
    wait_for(lambda: len(read_events(out)) >= 3, what="the completed group")
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["first", "second \\\ncontinued", "open \\\nclosed"]


def test_multiline_config_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(config(tmp_path, tmp_path / "*.log", tmp_path / "out.json",
                           extra="""    multiline:
      start_pattern: '^[^\\s'
      condition_pattern: 'x'
      mode: halt_with
      timeout_ms: 10
""").replace('api:\n  enabled: false\n', ''))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 78
    assert "multiline.start_pattern" in r.stdout + r.stderr
    path.write_text(config(tmp_path, tmp_path / "*.log", tmp_path / "out.json",
                           extra="    multiline:\n      start_pattern: 'x'\n"))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 78
    assert "multiline.condition_pattern is required" in r.stdout + r.stderr


def test_long_lines_truncated_when_configured(start_sluice, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    a = logs / "a.log"
    append(a, ["short", "x" * 300 + "é" * 10, "after"])
    out = tmp_path / "out.json"
    s = start_sluice(config(tmp_path, logs / "*.log", out,
                            extra="    max_line_bytes: 301\n    max_line_action: truncate\n"))
    wait_for(lambda: len(read_events(out)) >= 3, what="3 events")
    assert s.terminate() == 0, s.stderr()
    # 301 bytes would cut the first é in half: the line stops before it.
    assert messages(out) == ["short", "x" * 300, "after"]
    assert "Truncated 1 lines longer than max_line_bytes" in s.stderr()


def test_thousands_of_files_with_bounded_descriptors(start_sluice, tmp_path):
    """2,000 files, at most 32 open at once: every line arrives, and the
    process never holds more descriptors than the bound allows."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(2000):
        (logs / f"f{i:04d}.log").write_text(f"file {i} line 0\nfile {i} line 1\n")
    out = tmp_path / "out.json"
    s = start_sluice(config(tmp_path, logs / "*.log", out,
                            extra="    max_open_files: 32\n"))
    def open_logs():
        n = 0
        for fd in os.listdir(f"/proc/{s.proc.pid}/fd"):
            try:
                n += os.readlink(f"/proc/{s.proc.pid}/fd/{fd}").startswith(str(logs))
            except FileNotFoundError:
                pass   # closed while we looked
        return n
    most = 0
    deadline = time.time() + 60
    while len(read_events(out)) < 4000 and time.time() < deadline:
        most = max(most, open_logs())
        time.sleep(0.01)
    assert s.terminate() == 0, s.stderr()
    got = messages(out)
    assert sorted(got) == sorted(f"file {i} line {j}" for i in range(2000) for j in range(2))
    # One more, briefly, while a newly found file is fingerprinted.
    assert 0 < most <= 33


def test_rotation_leftovers_not_read_by_default(start_sluice, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "app.log", ["live"])
    append(logs / "app.log.1", ["rotated"])
    (logs / "app.log.2.gz").write_bytes(b"\x1f\x8b binary")
    append(logs / "app.log.3.tmp", ["half-compressed"])
    out = tmp_path / "out.json"
    s = start_sluice(config(tmp_path, logs / "app.log*", out))
    wait_for(lambda: len(read_events(out)) >= 2, what="2 events")
    time.sleep(0.3)
    assert s.terminate() == 0, s.stderr()
    assert sorted(messages(out)) == ["live", "rotated"]


def vector_style_config(tmp_path, include, out, extra=""):
    """A file source written with Vector's older option names."""
    return f"""
api:
  enabled: false
data_dir: "{tmp_path / 'data'}"
sources:
  in:
    type: file
    include: ["{include}"]
    ignore_older: 86400
    glob_minimum_cooldown: 100
    start_at_beginning: true
{extra}
sinks:
  out:
    type: file
    inputs: [in]
    path: "{out}"
    encoding:
      codec: json
"""


def test_vector_older_option_names(start_sluice, tmp_path):
    """ignore_older and glob_minimum_cooldown are ignore_older_secs and
    glob_minimum_cooldown_ms; start_at_beginning: true reads existing files
    from their start and ignores checkpoints (Vector's mapping), so a
    restart reads them again. Each older name gets a validate warning
    naming the option to use."""
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "a.log", ["a 1", "a 2"])
    old = logs / "old.log"
    append(old, ["too old"])
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    out = tmp_path / "out.json"
    cfg = vector_style_config(tmp_path, logs / "*.log", out)
    path = tmp_path / "vector.yaml"
    path.write_text(cfg)
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    text = r.stdout + r.stderr
    assert 'option "ignore_older" is an older name of "ignore_older_secs"' in text
    assert 'option "glob_minimum_cooldown" is an older name of "glob_minimum_cooldown_ms"' in text
    assert 'option "start_at_beginning" is deprecated: use read_from and ignore_checkpoints' in text
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 2, what="the existing lines")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["a 1", "a 2"]
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 4, what="the lines read again")
    time.sleep(0.3)
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["a 1", "a 2", "a 1", "a 2"]


def test_start_at_beginning_yields_to_the_newer_options(start_sluice, tmp_path):
    """Given ignore_checkpoints itself, start_at_beginning no longer
    decides it: a restart continues from the checkpoint."""
    append(tmp_path / "a.log", ["only"])
    out = tmp_path / "out.json"
    cfg = vector_style_config(tmp_path, tmp_path / "*.log", out,
                              "    ignore_checkpoints: false\n")
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 1, what="first run")
    assert s.terminate() == 0, s.stderr()
    append(tmp_path / "a.log", ["more"])
    s = start_sluice(cfg)
    wait_for(lambda: len(read_events(out)) >= 2, what="second run")
    time.sleep(0.5)
    assert s.terminate() == 0, s.stderr()
    assert messages(out) == ["only", "more"]


def test_older_and_newer_name_together_refused(tmp_path):
    path = tmp_path / "both.yaml"
    path.write_text(vector_style_config(tmp_path, tmp_path / "*.log", tmp_path / "out.json",
                                        "    ignore_older_secs: 60\n"))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 78
    assert ('option "ignore_older" is an older name of "ignore_older_secs", which is also '
            'given: keep only "ignore_older_secs"') in r.stdout + r.stderr
