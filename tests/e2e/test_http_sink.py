"""End-to-end tests of the `http` sink and the shared HTTP sink engine,
against the scriptable local receiver in http_receiver.py: exact delivery
with every codec and compression, batch limits, retries (503, 429 with
Retry-After, connection resets), permanent rejections, 413 splitting,
bounded concurrency, adaptive concurrency against a receiver that slows
with it, back-pressure with bounded memory while the receiver is down (the
events held within the sink's budget), the encoding options (only and
except fields, timestamp format), auth, secrets kept out of every output,
the http_client metrics (checked with promtool), the memory buffer's
counters, and acknowledgements holding back a file source's checkpoint."""
import json
import pathlib
import re
import subprocess
import time

import pytest

from conftest import (checkpoint_offsets, free_port, http_get, metric_value, run_cli,
                      run_with_input, sanitized, wait_for)
from peers.config import component, pipeline, stdin
from peers.recorder import RESET, HttpReceiver, Reply, http_receiver  # noqa: F401

PROMTOOL = "/usr/bin/promtool"
SECRET = "s3cr3t-Pa55-XYZZY"


def config(url, codec="json", extra="", api_port=None, source=None):
    sink = component("out", "http", ["in"], f'uri: "{url}"\nencoding:\n  codec: {codec}')
    return pipeline(source or stdin("bytes"), sink + extra, api_port=api_port)


def lines(n, prefix="line"):
    return "".join(f"{prefix} {i}\n" for i in range(n)).encode()


def delivered_messages(rx, codec="json"):
    out = []
    for r in rx.accepted():
        if codec == "json":
            out.extend(e["message"] for e in r.json())
        elif codec == "ndjson":
            out.extend(e["message"] for e in r.ndjson())
        else:
            out.extend(r.lines())
    return out


def stdin_count(r, codec="json"):
    if codec == "json":
        return len(r.json())
    if codec == "ndjson":
        return len(r.ndjson())
    return len(r.lines())


# ---- delivery ----

def test_vector_compression_object_form(start_sluice, http_receiver, tmp_path):
    """Vector's `compression: {algorithm, level}` is accepted as written."""
    rx = http_receiver
    extra = "    compression:\n      algorithm: gzip\n      level: 9\n"
    run_with_input(start_sluice, config(rx.url, "ndjson", extra), lines(100))
    assert sorted(delivered_messages(rx, "ndjson")) == sorted(f"line {i}" for i in range(100))
    assert all(r.headers.get("content-encoding") == "gzip" for r in rx.received())
    bad = config(rx.url, "ndjson", "    compression:\n      algorithm: brotli\n")
    r = validate_with(tmp_path, bad, "--no-environment")
    assert r.returncode == 78
    assert "compression.algorithm must be none, gzip, zstd or deflate" in r.stdout + r.stderr


@pytest.mark.parametrize("codec", ["json", "ndjson", "text"])
@pytest.mark.parametrize("compression", ["none", "gzip", "zstd", "deflate"])
def test_exact_delivery_with_each_codec_and_compression(start_sluice, http_receiver,
                                                        codec, compression):
    rx = http_receiver
    n = 5000
    extra = f"    compression: {compression}\n    batch:\n      max_events: 700\n"
    run_with_input(start_sluice, config(rx.url, codec, extra), lines(n))
    got = delivered_messages(rx, codec)
    assert sorted(got) == sorted(f"line {i}" for i in range(n))
    assert len(got) == n
    for r in rx.received():
        assert r.method == "POST"
        assert r.decode_error is None
        enc = r.headers.get("content-encoding")
        assert enc == (None if compression == "none" else compression)
        ctype = {"json": "application/json", "ndjson": "application/x-ndjson",
                 "text": "text/plain"}[codec]
        assert r.headers["content-type"] == ctype
        if codec != "json":
            assert r.body.endswith(b"\n")


def test_json_array_body_and_put_method(start_sluice, http_receiver):
    rx = http_receiver
    extra = "    method: put\n    framing:\n      method: newline_delimited\n"
    run_with_input(start_sluice, config(rx.url + "/ingest?x=1", "json", extra), b"a\nb\n")
    reqs = rx.received()
    assert [r.method for r in reqs] == ["PUT"]
    assert reqs[0].path == "/ingest" and reqs[0].query == "x=1"
    assert [e["message"] for e in reqs[0].ndjson()] == ["a", "b"]


def test_batch_limits_are_respected(start_sluice, http_receiver):
    rx = http_receiver
    extra = "    batch:\n      max_events: 100\n      max_bytes: 2000\n"
    run_with_input(start_sluice, config(rx.url, "ndjson", extra), lines(3000))
    reqs = rx.accepted()
    assert sum(len(r.ndjson()) for r in reqs) == 3000
    for r in reqs:
        assert len(r.ndjson()) <= 100
        # one event may be alone over max_bytes; here none is
        assert len(r.body) <= 2000
    assert len(reqs) >= 3000 * 60 // 2000  # ~60 bytes an event


def test_batch_timeout_sends_a_partial_request(start_sluice, http_receiver):
    rx = http_receiver
    extra = "    batch:\n      timeout_secs: 0.2\n"
    s = start_sluice(config(rx.url, "ndjson", extra), stdin=subprocess.PIPE)
    s.proc.stdin.write(b"early\n")
    s.proc.stdin.flush()
    wait_for(lambda: rx.accepted(), timeout=5, what="the partial request")
    assert [e["message"] for e in rx.accepted()[0].ndjson()] == ["early"]
    s.proc.stdin.close()
    assert s.wait(30) == 0


# ---- retries ----

def retry_extra(more=""):
    return ("    request:\n      retry_initial_backoff_secs: 0.05\n"
            "      retry_max_duration_secs: 0.2\n" + more)


def test_retry_on_503_then_delivered_once(start_sluice, http_receiver):
    rx = http_receiver
    rx.script([503, 503, 500])
    run_with_input(start_sluice, config(rx.url, "ndjson", retry_extra()), lines(10))
    assert sorted(delivered_messages(rx, "ndjson")) == sorted(f"line {i}" for i in range(10))
    assert [r.status for r in rx.received()] == [503, 503, 500, 200]


def test_retry_after_is_honoured(start_sluice, http_receiver):
    rx = http_receiver
    rx.script([Reply(429, headers={"Retry-After": "2"})])
    run_with_input(start_sluice, config(rx.url, "ndjson", retry_extra()), lines(5))
    reqs = rx.received()
    assert [r.status for r in reqs] == [429, 200]
    assert reqs[1].time - reqs[0].time >= 1.9
    assert len(delivered_messages(rx, "ndjson")) == 5


def test_retry_after_http_date(start_sluice, http_receiver):
    rx = http_receiver
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3))
    rx.script([Reply(503, headers={"Retry-After": when})])
    run_with_input(start_sluice, config(rx.url, "ndjson", retry_extra()), lines(5))
    reqs = rx.received()
    assert [r.status for r in reqs] == [503, 200]
    assert reqs[1].time - reqs[0].time >= 1.5


def test_retry_after_connection_reset(start_sluice, http_receiver):
    rx = http_receiver
    rx.script([RESET, RESET])
    s = run_with_input(start_sluice, config(rx.url, "ndjson", retry_extra()), lines(20))
    assert sorted(delivered_messages(rx, "ndjson")) == sorted(f"line {i}" for i in range(20))
    assert "retrying" in s.stderr()


def test_retry_attempts_limit_releases_the_events_as_errored(start_sluice, http_receiver):
    """Running out of retries is not the data's fault: the events are
    released as errored (read again by what can), not dropped as rejected."""
    rx = http_receiver
    rx.default = Reply(503)
    extra = retry_extra("      retry_attempts: 2\n")
    s = run_with_input(start_sluice, config(rx.url, "ndjson", extra), lines(3))
    assert len(rx.received()) == 3
    assert "Request failed after 3 attempts (HTTP 503)" in s.stderr()
    assert "released as errored" in s.stderr()
    assert "dropped" not in s.stderr()


# ---- permanent failures and splitting ----

def test_400_is_rejected_counted_and_logged_and_the_pipeline_goes_on(start_sluice,
                                                                      http_receiver):
    rx = http_receiver
    rx.script([Reply(400, body="bad payload: field x")])
    port = free_port()
    extra = "    batch:\n      max_events: 10\n      timeout_secs: 0.1\n"
    s = start_sluice(config(rx.url, "ndjson", extra, api_port=port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write(lines(10, "first"))
    s.proc.stdin.flush()
    wait_for(lambda: rx.received(), what="the first request")
    s.proc.stdin.write(lines(10, "second"))
    s.proc.stdin.flush()
    wait_for(lambda: rx.accepted(), what="the second request")

    def metrics():
        return http_get(f"http://127.0.0.1:{port}/metrics")[2].decode()

    wait_for(lambda: 'component_discarded_events_total{component_id="out"' in metrics()
             and re.search(r'sluice_component_discarded_events_total\{component_id="out",'
                           r'[^}]*intentional="false"\} 10', metrics()),
             what="discarded events counted")
    text = metrics()
    assert re.search(r'sluice_component_errors_total\{component_id="out",[^}]*'
                     r'error_type="request_failed"', text)
    assert re.search(r'sluice_http_client_responses_total\{[^}]*status="400"\} 1', text)
    s.proc.stdin.close()
    assert s.wait(30) == 0
    assert "HTTP 400: bad payload: field x" in s.stderr()
    assert [e["message"] for e in rx.accepted()[0].ndjson()] == [f"second {i}" for i in range(10)]


def test_413_splits_until_the_requests_fit(start_sluice, http_receiver):
    rx = http_receiver
    rx.max_body = 1500
    n = 400
    extra = "    batch:\n      max_events: 400\n"
    run_with_input(start_sluice, config(rx.url, "ndjson", extra), lines(n))
    assert sorted(delivered_messages(rx, "ndjson")) == sorted(f"line {i}" for i in range(n))
    assert any(r.status == 413 for r in rx.received())
    assert all(len(r.body) <= 1500 for r in rx.accepted())


def test_413_on_a_single_event_rejects_it_alone(start_sluice, http_receiver):
    rx = http_receiver
    rx.max_body = 200
    data = b"short\n" + b"x" * 1000 + b"\nshort2\n"
    extra = "    batch:\n      max_events: 3\n"
    s = run_with_input(start_sluice, config(rx.url, "ndjson", extra), data)
    assert sorted(delivered_messages(rx, "ndjson")) == ["short", "short2"]
    assert "still too large" in s.stderr()


# ---- concurrency and back-pressure ----

def test_concurrency_is_bounded(start_sluice, http_receiver):
    rx = http_receiver
    rx.delay = 0.1
    extra = ("    batch:\n      max_events: 10\n"
             "    request:\n      concurrency: 3\n")
    run_with_input(start_sluice, config(rx.url, "ndjson", extra), lines(600))
    assert len(delivered_messages(rx, "ndjson")) == 600
    assert rx.max_concurrent == 3


def test_vector_concurrency_words(start_sluice, http_receiver, tmp_path):
    """`none` is one request at a time; `adaptive` is valid as it is in
    Vector, with its adaptive_concurrency settings."""
    rx = http_receiver
    rx.delay = 0.05
    extra = "    batch:\n      max_events: 10\n    request:\n      concurrency: none\n"
    run_with_input(start_sluice, config(rx.url, "ndjson", extra), lines(100))
    assert len(delivered_messages(rx, "ndjson")) == 100
    assert rx.max_concurrent == 1
    adaptive = config(rx.url, "ndjson", "    request:\n      concurrency: adaptive\n"
                      "      adaptive_concurrency:\n        initial_concurrency: 2\n"
                      "        decrease_ratio: 0.5\n")
    r = validate_with(tmp_path, adaptive, "--no-environment")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "adaptive" not in r.stdout + r.stderr
    bad = adaptive.replace("decrease_ratio: 0.5", "decrease_ratio: 1.5")
    r = validate_with(tmp_path, bad, "--no-environment")
    assert r.returncode != 0
    assert "decrease_ratio must be between 0 and 1" in r.stdout + r.stderr


def test_adaptive_concurrency_finds_the_receivers_limit(start_sluice, http_receiver):
    """A receiver that answers in 20 ms up to 4 requests at once and twice
    as slowly with each one beyond: the limit (the adaptive_concurrency_limit
    gauge) grows from 1 while the RTT holds and backs off as it rises, far
    below the maximum of 200."""
    rx = http_receiver

    def slower_beyond_four(req):
        return Reply(200, delay=0.02 * 2 ** max(0, rx.active - 4))

    rx.responder = slower_beyond_four
    port = free_port()
    extra = ("    batch:\n      max_events: 10\n"
             "    request:\n      concurrency: adaptive\n")
    s = start_sluice(config(rx.url, "ndjson", extra, api_port=port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    n = 2000
    s.proc.stdin.write(lines(n, "event"))
    s.proc.stdin.flush()
    seen = []
    while len(rx.accepted()) * 10 < n - 10:
        limit = metric_value(port, "adaptive_concurrency_limit", component_id="out")
        assert limit is not None, "no adaptive_concurrency_limit gauge"
        seen.append(int(limit))
        time.sleep(0.05)
    s.proc.stdin.close()
    assert s.wait(60) == 0, s.stderr()
    assert sorted(delivered_messages(rx, "ndjson")) == sorted(f"event {i}" for i in range(n))
    assert seen[0] <= 2 and max(seen) >= 4, seen
    assert rx.max_concurrent <= 16, (rx.max_concurrent, seen)


def test_rate_limit_spaces_requests(start_sluice, http_receiver):
    """Vector's request.rate_limit_num per rate_limit_duration_secs: 12
    requests at 4 per 0.5 s take at least a second, never more than 4 in
    any window, and every event arrives."""
    rx = http_receiver
    extra = ("    batch:\n      max_events: 10\n"
             "    request:\n      rate_limit_num: 4\n      rate_limit_duration_secs: 0.5\n")
    run_with_input(start_sluice, config(rx.url, "ndjson", extra), lines(120))
    assert sorted(delivered_messages(rx, "ndjson")) == sorted(f"line {i}" for i in range(120))
    times = sorted(r.time for r in rx.received())
    assert len(times) == 12
    # Three windows: the first opens when the first request starts, a hair
    # before the receiver records it.
    assert times[-1] - times[0] >= 0.95
    for i in range(len(times) - 4):
        assert times[i + 4] - times[i] >= 0.45, times


def test_memory_buffer_counts_what_passes_through_it(start_sluice, http_receiver):
    """Vector's buffer counters exist for the memory buffer too."""
    n = 5000
    port = free_port()
    s = start_sluice(config(http_receiver.url, "ndjson", api_port=port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write(lines(n))
    s.proc.stdin.flush()
    wait_for(lambda: len(delivered_messages(http_receiver, "ndjson")) == n,
             what="every event delivered")

    def value(name):
        return metric_value(port, name, component_id="out", component_kind="sink")

    assert value("buffer_received_events_total") == n
    assert value("buffer_sent_events_total") == n
    assert value("buffer_discarded_events_total") == 0
    assert value("buffer_size_events") == 0
    sent_bytes = value("buffer_sent_event_bytes_total")
    assert sent_bytes > 0
    assert value("buffer_received_event_bytes_total") == sent_bytes
    assert value("component_received_event_bytes_total") == sent_bytes
    s.proc.stdin.close()
    assert s.wait(30) == 0, s.stderr()


def rss_kb(pid):
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def test_back_pressure_while_the_receiver_is_down(start_sluice, http_receiver, tmp_path):
    rx = http_receiver
    rx.fail_for(4.0, 503)
    n = 200_000
    extra = ("    batch:\n      max_events: 1000\n"
             "    buffer:\n      max_events: 5000\n"
             "    request:\n      concurrency: 4\n      retry_initial_backoff_secs: 0.2\n"
             "      retry_max_duration_secs: 0.5\n")
    s = start_sluice(config(rx.url, "ndjson", extra), stdin=subprocess.PIPE)
    peak = 0
    data = lines(n, "event")
    chunk = 1 << 16
    for off in range(0, len(data), chunk):
        s.proc.stdin.write(data[off:off + chunk])
        peak = max(peak, rss_kb(s.proc.pid))
    s.proc.stdin.close()
    while s.proc.poll() is None:
        peak = max(peak, rss_kb(s.proc.pid))
        time.sleep(0.05)
    assert s.proc.returncode == 0, s.stderr()
    got = delivered_messages(rx, "ndjson")
    assert len(got) == n
    assert len(set(got)) == n
    assert any(r.status == 503 for r in rx.received())
    # 200k events are ~25 MB as events; a bounded pipeline stays far below.
    if not sanitized():
        assert peak < 120_000, f"peak RSS {peak} kB"


def test_events_held_while_the_receiver_is_down_stay_within_the_budget(start_sluice,
                                                                       http_receiver):
    """Requests waiting for a retry take no concurrency slot; what bounds
    them is the sink's budget of 2 x concurrency x batch.max_bytes of events
    held (here 8,000 bytes: a few hundred short events, plus the input batch
    being taken), so the sink stops reading long before it has all 20,000."""
    rx = http_receiver
    rx.fail_for(3.0, 503)
    n = 20_000
    port = free_port()
    extra = ("    batch:\n      max_bytes: 2000\n"
             "    request:\n      concurrency: 2\n      retry_initial_backoff_secs: 0.2\n"
             "      retry_max_duration_secs: 0.5\n")
    s = start_sluice(config(rx.url, "ndjson", extra, api_port=port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write(lines(n, "event"))
    s.proc.stdin.flush()
    peak, deadline = 0, time.monotonic() + 2.5
    while time.monotonic() < deadline:
        held = metric_value(port, "http_client_events_in_flight", component_id="out")
        peak = max(peak, int(held or 0))
        time.sleep(0.05)
    s.proc.stdin.close()
    assert s.wait(60) == 0, s.stderr()
    got = delivered_messages(rx, "ndjson")
    assert sorted(got) == sorted(f"event {i}" for i in range(n))
    assert 0 < peak < 3000, f"{peak} events held while the receiver was down"


def test_encoding_only_except_fields_and_timestamp_format(start_sluice, http_receiver,
                                                          tmp_path):
    """Vector's encoding transformer: only_fields keeps the paths given (in
    their shape), except_fields then drops paths, timestamp_format writes
    every timestamp as Unix seconds; the events are read, not changed (the
    second sink gets them whole)."""
    rx = http_receiver
    json_source = """  in:
    type: stdin
    decoding:
      codec: json
"""
    whole = tmp_path / "whole.json"
    extra = f"""    encoding:
      codec: json
      only_fields: [message, a.b, timestamp]
      except_fields: [a.b.secret]
      timestamp_format: unix
  whole:
    type: file
    inputs: [in]
    path: "{whole}"
    encoding:
      codec: json
"""
    cfg = config(rx.url, "json", "", source=json_source).replace(
        "    encoding:\n      codec: json\n", extra)
    event = {"message": "hi", "a": {"b": {"keep": 1, "secret": "x"}, "c": 2}, "d": 3}
    run_with_input(start_sluice, cfg, (json.dumps(event) + "\n").encode())
    [got] = rx.accepted()[0].json()
    ts = got.pop("timestamp")
    assert isinstance(ts, int) and abs(ts - time.time()) < 120
    assert got == {"message": "hi", "a": {"b": {"keep": 1}}}
    whole = json.loads(whole.read_text())
    assert whole["a"]["b"]["secret"] == "x" and whole["d"] == 3
    assert isinstance(whole["timestamp"], str)
    r = validate_with(tmp_path, cfg.replace("[message, a.b, timestamp]", '["a..b"]'),
                      "--no-environment")
    assert r.returncode != 0
    assert 'encoding.only_fields: a..b: invalid path' in r.stdout + r.stderr


# ---- auth and secrets ----

def test_basic_auth_arrives_and_never_leaks(start_sluice, http_receiver):
    rx = http_receiver
    port = free_port()
    extra = (f"    auth:\n      strategy: basic\n      user: alice\n"
             f"      password: {SECRET}\n")
    cfg = config(rx.url, "ndjson", extra, api_port=port)
    s = start_sluice(cfg, stdin=subprocess.PIPE, args=("--log-level", "debug"))
    s.wait_healthy(port)
    s.proc.stdin.write(b"hello\n")
    s.proc.stdin.flush()
    wait_for(lambda: rx.accepted(), what="a request")
    import base64
    expected = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert rx.accepted()[0].headers["authorization"] == expected
    _, _, comps = http_get(f"http://127.0.0.1:{port}/api/components")
    _, _, metrics = http_get(f"http://127.0.0.1:{port}/metrics")
    s.proc.stdin.close()
    assert s.wait(30) == 0
    assert SECRET not in comps.decode()
    assert SECRET not in metrics.decode()
    assert SECRET not in s.stderr() and SECRET not in s.stdout()
    v = run_cli("validate", "-c", str(s.config_path))
    assert SECRET not in v.stdout + v.stderr


def test_bearer_auth_arrives_and_never_leaks(start_sluice, http_receiver):
    rx = http_receiver
    rx.script([Reply(401, body="who are you")])
    extra = f"    auth:\n      strategy: bearer\n      token: {SECRET}\n"
    s = run_with_input(start_sluice, config(rx.url, "ndjson", extra), b"a\nb\n")
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in rx.received())
    assert SECRET not in s.stderr()
    assert "HTTP 401" in s.stderr()


def test_password_in_the_uri_is_not_logged(start_sluice):
    dead = f"http://bob:{SECRET}@127.0.0.1:{free_port()}/x"
    extra = retry_extra("      retry_attempts: 1\n")
    s = run_with_input(start_sluice, config(dead, "ndjson", extra), b"a\n")
    assert "127.0.0.1" in s.stderr()
    assert SECRET not in s.stderr()


def test_validate_reports_auth_problems_without_the_secret(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config("http://127.0.0.1:1/", "json",
                          f"    auth:\n      strategy: bearer\n      user: {SECRET}\n"))
    v = run_cli("validate", "--no-environment", "-c", str(cfg))
    assert v.returncode == 78
    assert "needs `token`" in v.stdout + v.stderr
    assert SECRET not in v.stdout + v.stderr


def test_validate_makes_no_request_to_the_receiver(http_receiver, tmp_path):
    """Without healthcheck.uri the http sink's healthcheck sends nothing."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config(http_receiver.url, "json"))
    v = run_cli("validate", "-c", str(cfg))
    assert v.returncode == 0, v.stdout + v.stderr
    assert http_receiver.received() == []


def healthcheck_extra(uri, enabled=None):
    on = f"      enabled: {enabled}\n" if enabled is not None else ""
    return f'    healthcheck:\n{on}      uri: "{uri}"\n'


def validate_with(tmp_path, cfg_text, *flags):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(cfg_text)
    return run_cli("validate", *flags, "-c", str(cfg))


def test_healthcheck_uri_healthy_in_validate(http_receiver, tmp_path):
    rx = http_receiver
    uri = rx.url.replace("http://", f"http://probe:{SECRET}@") + "/health?deep=1"
    v = validate_with(tmp_path, config(rx.url + "/in", "json", healthcheck_extra(uri)))
    assert v.returncode == 0, v.stdout + v.stderr
    got = rx.received()
    assert [(r.method, r.path, r.query) for r in got] == [("GET", "/health", "deep=1")]
    assert got[0].headers["authorization"].startswith("Basic ")
    assert SECRET not in v.stdout + v.stderr


def test_healthcheck_uri_500_fails_validate(http_receiver, tmp_path):
    rx = http_receiver
    rx.default = Reply(500)
    uri = rx.url.replace("http://", f"http://probe:{SECRET}@") + "/health"
    v = validate_with(tmp_path, config(rx.url, "json", healthcheck_extra(uri)))
    assert v.returncode != 0
    out = v.stdout + v.stderr
    assert "Health check" in out and "HTTP 500" in out and "/health" in out
    assert SECRET not in out


def test_healthcheck_uri_unreachable_fails_validate(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}/health"
    v = validate_with(tmp_path, config("http://127.0.0.1:1/", "json", healthcheck_extra(uri)))
    assert v.returncode != 0
    assert "Health check" in v.stdout + v.stderr and "failed" in v.stdout + v.stderr


def test_healthcheck_uri_skipped_without_environment_or_when_disabled(http_receiver, tmp_path):
    rx = http_receiver
    uri = rx.url + "/health"
    v = validate_with(tmp_path, config(rx.url, "json", healthcheck_extra(uri)),
                      "--no-environment")
    assert v.returncode == 0, v.stdout + v.stderr
    v = validate_with(tmp_path, config(rx.url, "json", healthcheck_extra(uri, "false")))
    assert v.returncode == 0, v.stdout + v.stderr
    assert rx.received() == []


def test_healthcheck_uri_must_be_http(tmp_path):
    v = validate_with(tmp_path, config("http://127.0.0.1:1/", "json",
                                       healthcheck_extra("ftp://x/health")), "--no-environment")
    assert v.returncode == 78
    assert "healthcheck.uri" in v.stdout + v.stderr


def test_healthcheck_uri_at_start_logs_and_goes_on(start_sluice, http_receiver):
    rx = http_receiver
    rx.responder = lambda req: Reply(500) if req.path == "/health" else None
    s = run_with_input(start_sluice, config(rx.url + "/in", "ndjson",
                                            healthcheck_extra(rx.url + "/health")), lines(3))
    assert "Healthcheck failed" in s.stderr() and "HTTP 500" in s.stderr()
    assert delivered_messages(rx, "ndjson") == ["line 0", "line 1", "line 2"]
    rx.responder = None
    s = run_with_input(start_sluice, config(rx.url + "/in", "ndjson",
                                            healthcheck_extra(rx.url + "/health")), lines(1))
    assert "Healthcheck failed" not in s.stderr()
    assert [r.method for r in rx.received(path="/health")] == ["GET", "GET"]


# ---- metrics ----

def test_http_client_metrics_pass_promtool(start_sluice, http_receiver):
    rx = http_receiver
    rx.script([503])
    port = free_port()
    extra = "    batch:\n      timeout_secs: 0.05\n" + retry_extra()
    s = start_sluice(config(rx.url, "ndjson", extra, api_port=port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write(lines(50))
    s.proc.stdin.flush()
    wait_for(lambda: len(delivered_messages(rx, "ndjson")) == 50, what="delivery")

    def text():
        return http_get(f"http://127.0.0.1:{port}/metrics")[2].decode()

    wait_for(lambda: re.search(r'sluice_component_sent_events_total\{component_id="out"'
                               r'[^}]*\} 50', text()), what="sent events")
    body = text()
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    for name in ("http_client_requests_total", "http_client_requests_in_flight",
                 "http_client_events_in_flight"):
        assert re.search(rf'sluice_{name}\{{component_id="out"', body), name
    assert re.search(r'sluice_http_client_responses_total\{[^}]*status="503"\} 1', body)
    assert re.search(r'sluice_http_client_responses_total\{[^}]*status="200"\}', body)
    assert "# TYPE sluice_http_client_rtt_seconds histogram" in body
    buckets = [(m.group(1), int(m.group(2))) for m in re.finditer(
        r'sluice_http_client_rtt_seconds_bucket\{[^}]*le="([^"]+)"\} (\d+)', body)]
    assert buckets[-1][0] == "+Inf"
    counts = [c for _, c in buckets]
    assert counts == sorted(counts)
    total = int(re.search(r'sluice_http_client_rtt_seconds_count\{[^}]*\} (\d+)', body).group(1))
    assert counts[-1] == total >= 2
    series = [l.split(" ")[0] for l in body.splitlines() if l and not l.startswith("#")]
    assert len(series) == len(set(series)), "duplicate series"
    s.proc.stdin.close()
    assert s.wait(30) == 0


# ---- acknowledgements ----

def acked_file_pipeline(tmp_path, url, nlines, more_retry=""):
    """A file source with nlines lines into the http sink with its own
    acknowledgements on: (config, the file's bytes, the data_dir). The
    sink's own switch is enough: the source learns that a sink downstream
    wants acknowledgements."""
    log = tmp_path / "in.log"
    payload = lines(nlines)
    log.write_bytes(payload)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    source = f"""  in:
    type: file
    include: ["{log}"]
    read_from: beginning
"""
    extra = ("    acknowledgements:\n      enabled: true\n"
             "    batch:\n      timeout_secs: 0.1\n" + retry_extra(more_retry))
    cfg = f'data_dir: "{data_dir}"\n' + config(url, "ndjson", extra, source=source)
    return cfg, payload, data_dir


def test_acknowledgements_hold_back_the_file_checkpoint(start_sluice, http_receiver,
                                                        tmp_path):
    rx = http_receiver
    rx.default = Reply(503)
    cfg, payload, data_dir = acked_file_pipeline(tmp_path, rx.url, 100)
    s = start_sluice(cfg)
    wait_for(lambda: len(rx.received()) >= 3, what="failing requests")
    time.sleep(1.5)   # several checkpoint intervals
    assert all(o < len(payload) for o in checkpoint_offsets(data_dir)), \
        "checkpoint passed events the receiver never accepted"
    rx.default = Reply(200)
    wait_for(lambda: len(delivered_messages(rx, "ndjson")) == 100, what="delivery")
    wait_for(lambda: len(payload) in checkpoint_offsets(data_dir), timeout=15,
             what="the checkpoint to reach the end")
    s.terminate()


def test_retries_run_out_and_the_checkpoint_stays_before_the_lines(start_sluice,
                                                                    http_receiver, tmp_path):
    """A batch whose retries ran out is errored: with acknowledgements the
    file checkpoint does not pass it, and the next start delivers it."""
    rx = http_receiver
    rx.default = Reply(503)
    cfg, payload, data_dir = acked_file_pipeline(tmp_path, rx.url, 50, "      retry_attempts: 1\n")
    s = start_sluice(cfg)
    wait_for(lambda: "released as errored" in s.stderr(), what="the retries to run out")
    time.sleep(1.5)   # several checkpoint intervals
    assert all(o < len(payload) for o in checkpoint_offsets(data_dir)), \
        "checkpoint passed events whose retries ran out"
    assert rx.accepted() == []
    assert s.terminate() == 0
    assert all(o < len(payload) for o in checkpoint_offsets(data_dir))

    rx.default = Reply(200)
    s = start_sluice(cfg)
    wait_for(lambda: sorted(delivered_messages(rx, "ndjson")) ==
             sorted(f"line {i}" for i in range(50)), what="delivery after the restart")
    wait_for(lambda: len(payload) in checkpoint_offsets(data_dir), timeout=15,
             what="the checkpoint to reach the end")
    assert s.terminate() == 0


def test_a_400_is_rejected_and_the_checkpoint_passes_it(start_sluice, http_receiver,
                                                         tmp_path):
    """The receiver says the data itself is bad: reading it again would be
    rejected again, so with acknowledgements the checkpoint passes it,
    loudly."""
    rx = http_receiver
    rx.default = Reply(400, body="bad payload")
    cfg, payload, data_dir = acked_file_pipeline(tmp_path, rx.url, 20, "      retry_attempts: 1\n")
    s = start_sluice(cfg)
    wait_for(lambda: len(payload) in checkpoint_offsets(data_dir), timeout=15,
             what="the checkpoint to pass the rejected lines")
    assert len(rx.received()) == 1
    assert s.terminate() == 0
    assert "HTTP 400: bad payload" in s.stderr()
    assert "released as errored" not in s.stderr()
