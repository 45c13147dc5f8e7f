"""End-to-end tests of the console sink: one event per line on stdout (or
stderr) in the json, text and logfmt codecs; metrics are printed too; the
codec is required; a closed stdout neither hangs nor crashes sluice."""
import json
import subprocess

from conftest import run_cli, run_with_input
from peers.config import component, pipeline, stdin


def config(codec, target=None, source=None):
    tgt = f"target: {target}\n" if target else ""
    return pipeline(source or stdin(),
                    component("out", "console", ["in" if source is None else "m"],
                              f"{tgt}encoding:\n  codec: {codec}"))


def test_json_codec(start_sluice):
    s = run_with_input(start_sluice, config("json"), b"hello\nworld\n")
    events = [json.loads(l) for l in s.stdout().splitlines()]
    assert [e["message"] for e in events] == ["hello", "world"]
    keys = list(events[0])
    assert keys == sorted(keys)


def test_text_codec_prints_the_message(start_sluice):
    s = run_with_input(start_sluice, config("text"), b"plain line\nsecond one\n")
    assert s.stdout() == "plain line\nsecond one\n"


def test_logfmt_codec(start_sluice):
    s = run_with_input(start_sluice, config("logfmt"), b"with space\n")
    line = s.stdout().strip()
    assert 'message="with space"' in line
    assert "source_type=stdin" in line


def test_target_stderr(start_sluice):
    s = run_with_input(start_sluice, config("text", target="stderr"), b"to-stderr\n")
    assert s.stdout() == ""
    assert "to-stderr" in s.stderr()


def test_metrics_are_printed_as_json(start_sluice):
    src = "  m:\n    type: internal_metrics\n    scrape_interval_secs: 0.2\n"
    s = start_sluice(config("json", source=src))
    import time
    deadline = time.time() + 10
    while time.time() < deadline and not s.stdout().strip():
        time.sleep(0.1)
    assert s.terminate() == 0
    metrics = [json.loads(l) for l in s.stdout().splitlines()]
    assert metrics
    for m in metrics:
        assert "name" in m and "kind" in m
        assert m["kind"] in ("incremental", "absolute")
        assert any(k in m for k in ("counter", "gauge", "set", "distribution",
                                    "aggregated_histogram", "aggregated_summary"))


def test_encoding_is_required(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("""
api:
  enabled: false
sources:
  in:
    type: stdin
sinks:
  out:
    type: console
    inputs: [in]
""")
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 78
    assert "encoding" in r.stdout + r.stderr


def test_unknown_codec_is_invalid(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(config("yaml"))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 78


def test_closed_stdout_does_not_hang(start_sluice, tmp_path):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(config("text"))
    from conftest import sluice_path
    reader = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
    p = subprocess.Popen([sluice_path(), "run", "-c", str(cfg_path)],
                         stdin=subprocess.PIPE, stdout=reader.stdin,
                         stderr=subprocess.PIPE)
    reader.stdin.close()
    try:
        p.stdin.write(b"line\n" * 200_000)
        p.stdin.close()
    except BrokenPipeError:
        pass
    rc = p.wait(timeout=60)
    reader.wait(timeout=10)
    assert rc >= 0, "killed by a signal"
