"""End-to-end tests of the file sink: path templates with strftime specifiers
and event fields (parent directories created, events with a missing field
dropped and counted), json/text/logfmt encodings, gzip and zstd output that
standard tools read back, appending to existing files, files closed when idle,
and internal metrics written as JSON in Vector's shape."""
import gzip
import json
import shutil
import subprocess
import time
from datetime import datetime, timezone

import pytest

from conftest import free_port, metric_value, run_with_input, wait_for
from peers.config import file_sink, pipeline, stdin


def config(path, codec="json", decoding="bytes", extra="", api_port=None):
    return pipeline(stdin(decoding), file_sink(path, ["in"], codec) + extra, api_port=api_port)


def test_json_lines_in_order(start_sluice, tmp_path):
    out = tmp_path / "out.log"
    n = 50_000
    data = "".join(f"line {i}\n" for i in range(n)).encode()
    run_with_input(start_sluice, config(out), data)
    events = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(events) == n
    assert all(e["message"] == f"line {i}" for i, e in enumerate(events))
    assert events[0]["source_type"] == "stdin"


def test_text_and_logfmt_codecs(start_sluice, tmp_path):
    run_with_input(start_sluice, config(tmp_path / "t.log", codec="text"), b"a b\nc\n")
    assert (tmp_path / "t.log").read_text() == "a b\nc\n"
    run_with_input(start_sluice, config(tmp_path / "l.log", codec="logfmt"), b"a b\n")
    line = (tmp_path / "l.log").read_text().strip()
    assert 'message="a b"' in line and "source_type=stdin" in line


def test_strftime_and_field_templates(start_sluice, tmp_path):
    path = f"{tmp_path}/%Y/%m-%d/{{{{ service }}}}.log"
    data = (b'{"service": "api", "n": 1}\n{"service": "db", "n": 2}\n'
            b'{"service": "api", "n": 3}\n')
    before = datetime.now(timezone.utc)
    run_with_input(start_sluice, config(path, decoding="json"), data)
    after = datetime.now(timezone.utc)
    dirs = {tmp_path / d.strftime("%Y") / d.strftime("%m-%d") for d in (before, after)}
    found = {p.name: p for d in dirs if d.exists() for p in d.iterdir()}
    assert set(found) == {"api.log", "db.log"}
    api = [json.loads(l)["n"] for l in found["api.log"].read_text().splitlines()]
    db = [json.loads(l)["n"] for l in found["db.log"].read_text().splitlines()]
    assert api == [1, 3] and db == [2]


def test_strftime_ignores_a_string_timestamp(start_sluice, tmp_path):
    # As in Vector, only a timestamp-typed field dates an event; the json
    # codec leaves "timestamp" a string here, so the current time is used.
    path = f"{tmp_path}/%Y-%m-%d.log"
    data = b'{"timestamp": "2021-03-04T05:06:07Z", "n": 1}\n'
    before = datetime.now(timezone.utc)
    run_with_input(start_sluice, config(path, decoding="json"), data)
    after = datetime.now(timezone.utc)
    names = {p.name for p in tmp_path.iterdir() if p.suffix == ".log"}
    assert names and names <= {before.strftime("%Y-%m-%d.log"), after.strftime("%Y-%m-%d.log")}


def test_missing_template_field_drops_and_counts(start_sluice, tmp_path):
    port = free_port()
    path = f"{tmp_path}/{{{{ service }}}}.log"
    s = start_sluice(config(path, decoding="json", api_port=port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write(b'{"service": "a", "n": 1}\n{"n": 2}\n{"service": "a", "n": 3}\n')
    s.proc.stdin.flush()

    def dropped():
        return metric_value(port, "component_errors_total", component_id="out",
                            error_type="template_failed") == 1

    wait_for(dropped, what="the template error to be counted")

    def sink_counter(name, **labels):
        return metric_value(port, name, component_id="out", **labels)

    # The dropped event is discarded, not sent (the batch is finished a moment
    # after its error is counted, hence the wait).
    wait_for(lambda: sink_counter("component_sent_events_total") == 2
             and sink_counter("component_discarded_events_total", intentional="false") == 1,
             what="2 events sent and 1 discarded")
    s.proc.stdin.close()
    assert s.wait(30) == 0
    lines = (tmp_path / "a.log").read_text().splitlines()
    assert [json.loads(l)["n"] for l in lines] == [1, 3]
    assert "service" in s.stderr()


def test_gzip_output_is_readable(start_sluice, tmp_path):
    out = tmp_path / "out.log.gz"
    n = 20_000
    data = "".join(f"gz line {i}\n" for i in range(n)).encode()
    run_with_input(start_sluice, config(out, extra="    compression: gzip\n"), data)
    with gzip.open(out, "rt") as f:
        events = [json.loads(l) for l in f]
    assert [e["message"] for e in events] == [f"gz line {i}" for i in range(n)]


def test_gzip_append_adds_a_member(start_sluice, tmp_path):
    out = tmp_path / "out.log.gz"
    cfg = config(out, codec="text", extra="    compression: gzip\n")
    run_with_input(start_sluice, cfg, b"first\n")
    run_with_input(start_sluice, cfg, b"second\n")
    with gzip.open(out, "rt") as f:
        assert f.read() == "first\nsecond\n"


@pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd command not installed")
def test_zstd_output_is_readable(start_sluice, tmp_path):
    out = tmp_path / "out.log.zst"
    run_with_input(start_sluice, config(out, codec="text", extra="    compression: zstd\n"),
                   b"z1\nz2\n")
    r = subprocess.run(["zstd", "-dc", str(out)], capture_output=True, check=True)
    assert r.stdout == b"z1\nz2\n"


def test_appends_to_an_existing_file(start_sluice, tmp_path):
    out = tmp_path / "out.log"
    out.write_text("existing\n")
    run_with_input(start_sluice, config(out, codec="text"), b"new\n")
    assert out.read_text() == "existing\nnew\n"


def test_idle_files_are_closed_and_complete(start_sluice, tmp_path):
    out = tmp_path / "idle.log.gz"
    cfg = config(out, codec="text", extra="    compression: gzip\n    idle_timeout_secs: 1\n")
    s = start_sluice(cfg, stdin=subprocess.PIPE)
    s.proc.stdin.write(b"before idle\n")
    s.proc.stdin.flush()

    def complete():
        try:
            with gzip.open(out, "rt") as f:
                return f.read() == "before idle\n"
        except (OSError, EOFError):
            return False

    wait_for(complete, timeout=15, what="the idle file to be finished")
    s.proc.stdin.write(b"after idle\n")
    s.proc.stdin.close()
    assert s.wait(30) == 0
    with gzip.open(out, "rt") as f:
        assert f.read() == "before idle\nafter idle\n"


def test_unwritable_path_errors_without_crashing(start_sluice, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    s = run_with_input(start_sluice, config(f"{blocker}/sub/out.log", codec="text"), b"x\n")
    assert "Failed to open" in s.stderr()


def test_internal_metrics_written_as_vector_json(start_sluice, tmp_path):
    out = tmp_path / "metrics.json"
    cfg = f"""
api:
  enabled: false
sources:
  m:
    type: internal_metrics
    scrape_interval_secs: 0.2
sinks:
  out:
    type: file
    inputs: [m]
    path: "{out}"
    encoding:
      codec: json
"""
    s = start_sluice(cfg)
    wait_for(lambda: out.exists() and out.stat().st_size > 0, what="metrics in the file")
    time.sleep(0.5)
    assert s.terminate() == 0
    metrics = [json.loads(l) for l in out.read_text().splitlines()]
    assert metrics
    names = set()
    for m in metrics:
        names.add(m["name"])
        assert m["namespace"] == "sluice"
        assert m["kind"] in ("incremental", "absolute")
        assert isinstance(m.get("tags", {}), dict)
        kinds = [k for k in ("counter", "gauge") if k in m]
        assert kinds, m
        assert isinstance(m[kinds[0]]["value"], (int, float))
    assert "component_received_events_total" in names or "component_sent_events_total" in names


def test_bad_path_template_is_a_config_error(tmp_path):
    from conftest import run_cli
    path = tmp_path / "bad.yaml"
    path.write_text(config(f"{tmp_path}/%Q.log"))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 78
    assert "path" in r.stdout + r.stderr


def test_path_and_encoding_are_required(tmp_path):
    from conftest import run_cli
    path = tmp_path / "bad.yaml"
    path.write_text("""
api:
  enabled: false
sources:
  in:
    type: stdin
sinks:
  out:
    type: file
    inputs: [in]
""")
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 78
    out = r.stdout + r.stderr
    assert "path" in out and "encoding" in out
