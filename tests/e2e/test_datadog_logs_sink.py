"""End-to-end tests of the datadog_logs sink against a local receiver that
plays the logs intake (tests/peers/datadog.py) and checks every request against the
spec: exact delivery counts with zstd (the default), gzip and no
compression; requests within 1000 logs and 5,000,000 bytes; reserved
attributes where the intake reads them; 429 and 500 retried, 400 and 403
rejected and counted, 413 split; logs over 1 MB truncated; the healthcheck
on /api/v1/validate; the API key absent from every output."""
import json
import subprocess
import time

import pytest

from conftest import free_port, http_get, metric_value, run_cli, run_with_input, wait_for
from peers.config import FAST_RETRIES, component, pipeline, stdin
from peers.datadog import DatadogReceiver
from peers.wire import zstandard

KEY = "test-api-key"
SECRET = "dd-SECRET-0123456789abcdef0123456789abcdef"


def config(endpoint, key=KEY, decoding="bytes", extra="", api_port=None,
           stdin_extra=""):
    key_line = f'default_api_key: "{key}"' if key is not None else ""
    sink = component("out", "datadog_logs", ["in"], f'endpoint: "{endpoint}"\n{key_line}')
    return pipeline(stdin(decoding) + stdin_extra, sink + FAST_RETRIES + extra,
                    api_port=api_port)


def lines(n, width=0):
    pad = "x" * width
    return "".join(f"line {i} {pad}\n" for i in range(n)).encode()


def assert_clean(rx):
    assert rx.violations == [], rx.violations[:5]


# ---- delivery ----

@pytest.mark.skipif(zstandard is None, reason="python3-zstandard not installed")
def test_delivers_every_log_once_with_zstd_by_default(start_sluice):
    n = 5000
    with DatadogReceiver() as rx:
        run_with_input(start_sluice, config(rx.url), lines(n))
        assert_clean(rx)
        assert sorted(rx.messages()) == sorted(f"line {i} " for i in range(n))
        assert {r.encoding for r in rx.requests} == {"zstd"}
        assert all(r.status == 202 for r in rx.requests)


@pytest.mark.parametrize("compression,encoding", [("gzip", "gzip"), ("none", None)])
def test_gzip_and_no_compression(start_sluice, compression, encoding):
    n = 1500
    with DatadogReceiver() as rx:
        run_with_input(start_sluice, config(rx.url, extra=f"    compression: {compression}\n"),
                       lines(n))
        assert_clean(rx)
        assert rx.delivered() == n
        assert {r.encoding for r in rx.requests} == {encoding}
        # 1000 logs at most per request: 1500 need two.
        assert max(len(r.logs) for r in rx.requests) <= 1000
        assert len(rx.requests) >= 2


def test_requests_stay_under_five_megabytes(start_sluice):
    # 1000 logs of ~12 KB: 12 MB, several requests of <= 5,000,000 bytes.
    n = 1000
    with DatadogReceiver() as rx:
        run_with_input(start_sluice, config(rx.url, extra="    compression: gzip\n"),
                       lines(n, width=12000))
        assert_clean(rx)
        assert rx.delivered() == n
        assert len(rx.requests) >= 3
        assert max(r.body_len for r in rx.requests) <= 5_000_000


# ---- the shape of each log ----

def test_reserved_attributes_are_placed_as_vector_does(start_sluice):
    docs = [
        {"message": "GET /", "host": "web-1", "service": "shop", "ddsource": "nginx",
         "status": "info", "ddtags": ["env:prod", "team:core"], "http": {"code": 200}},
        {"message": "two hosts", "host": "web-2", "hostname": "agent-2"},
        {"message": "tags as text", "ddtags": "env:dev", "level": "warn"},
    ]
    expected = [
        {"message": "GET /", "hostname": "web-1", "service": "shop", "ddsource": "nginx",
         "status": "info", "ddtags": "env:prod,team:core", "http": {"code": 200},
         "source_type": "stdin"},
        {"message": "two hosts", "hostname": "web-2", "_RESERVED_host": "agent-2",
         "source_type": "stdin"},
        {"message": "tags as text", "ddtags": "env:dev", "level": "warn",
         "source_type": "stdin"},
    ]
    data = "".join(json.dumps(d) + "\n" for d in docs).encode()
    before_ms = int(time.time() * 1000)
    with DatadogReceiver() as rx:
        run_with_input(start_sluice, config(rx.url, decoding="json"), data)
        assert_clean(rx)
        got = {log["message"]: log for log in rx.logs}
    after_ms = int(time.time() * 1000)
    for log in got.values():
        # The source's timestamp, in epoch milliseconds.
        ts = log.pop("timestamp")
        assert isinstance(ts, int) and before_ms - 1000 <= ts <= after_ms, ts
        assert "host" not in log
    # The last log had no host: stdin gives it this machine's name.
    assert isinstance(got["tags as text"].pop("hostname"), str)
    assert got == {log["message"]: log for log in expected}


def test_encoding_except_fields(start_sluice):
    """Vector's encoding transformer runs before the reserved attributes are
    placed: a field dropped there is not sent."""
    doc = {"message": "m", "service": "shop", "secret": "s", "http": {"code": 200, "ip": "x"}}
    extra = "    encoding:\n      except_fields: [secret, http.ip, service]\n"
    with DatadogReceiver() as rx:
        run_with_input(start_sluice, config(rx.url, decoding="json", extra=extra),
                       (json.dumps(doc) + "\n").encode())
        assert_clean(rx)
        [log] = rx.logs
    assert log["http"] == {"code": 200}
    assert "secret" not in log and "service" not in log and log["message"] == "m"


def test_logs_over_one_megabyte_are_truncated(start_sluice):
    # 170,000 control characters encode as 1,020,000 bytes ("\\u0001"):
    # Vector's steps leave out the non-reserved fields, then cut the
    # message by the excess. (The line stays under the stdin source's
    # 256 KiB read block.)
    data = b"\x01" * 170_000 + b"\nsmall\n"
    port = free_port()
    with DatadogReceiver() as rx:
        s = start_sluice(config(rx.url, api_port=port,
                                stdin_extra="    max_length: 300000\n"),
                         stdin=subprocess.PIPE)
        s.proc.stdin.write(data)
        s.proc.stdin.flush()
        wait_for(lambda: rx.delivered() == 2, what="both logs")
        assert metric_value(port, "datadog_logs_truncated_events_total",
                            component_id="out") == 1
        s.proc.stdin.close()
        assert s.wait(30) == 0, s.stderr()
        assert_clean(rx)
        log = next(log for log in rx.logs if log["message"] != "small")
    encoded = json.dumps(log, separators=(",", ":")).encode()
    assert len(encoded) <= 1_000_000
    body = log["message"][:-len("...TRUNCATED...")]
    assert log["message"].endswith("...TRUNCATED...")
    assert set(body) == {"\x01"} and 140_000 < len(body) < 170_000
    assert log["ddtags"] == "truncated:single_line"
    # Only the reserved attributes are left.
    assert set(log) == {"message", "ddtags", "hostname", "timestamp"}


# ---- answers ----

def test_429_then_accepted_is_retried(start_sluice):
    n = 300
    with DatadogReceiver(script=[429, 429]) as rx:
        run_with_input(start_sluice, config(rx.url), lines(n))
        assert_clean(rx)
        assert rx.statuses()[:2] == [429, 429]
        assert sorted(rx.messages()) == sorted(f"line {i} " for i in range(n))


def test_500_and_503_are_retried(start_sluice):
    n = 300
    with DatadogReceiver(script=[500, 503, 408]) as rx:
        run_with_input(start_sluice, config(rx.url), lines(n))
        assert_clean(rx)
        assert rx.delivered() == n
        assert len(set(rx.messages())) == n


def test_400_is_rejected_and_counted(start_sluice):
    port = free_port()
    n = 200
    with DatadogReceiver(script=[400]) as rx:
        s = start_sluice(config(rx.url, api_port=port), stdin=subprocess.PIPE)
        s.proc.stdin.write(lines(n))
        s.proc.stdin.flush()
        wait_for(lambda: rx.delivered() + rx.rejected_logs(400) == n, what="every log answered")
        rejected = rx.rejected_logs(400)
        assert rejected > 0
        wait_for(lambda: metric_value(port, "component_discarded_events_total",
                                      component_id="out") == rejected,
                 what="the rejected logs counted as discarded")
        s.proc.stdin.close()
        assert s.wait(30) == 0, s.stderr()
        assert_clean(rx)
        # Never retried: none of the rejected logs arrived later.
        assert rx.statuses().count(400) == 1
        refused = {log["message"] for r in rx.requests if r.status == 400 for log in r.logs}
        assert refused.isdisjoint(rx.messages())
        assert rx.delivered() == n - rejected


def test_413_splits_the_request(start_sluice):
    n = 400
    with DatadogReceiver(split_above=50) as rx:
        run_with_input(start_sluice, config(rx.url), lines(n))
        assert_clean(rx)
        assert 413 in rx.statuses()
        assert sorted(rx.messages()) == sorted(f"line {i} " for i in range(n))
        assert all(len(r.logs) <= 50 for r in rx.requests if r.status == 202)


def test_refused_key_is_logged_loudly_without_the_key(start_sluice):
    with DatadogReceiver(api_keys=["the-right-key"]) as rx:
        s = run_with_input(start_sluice, config(rx.url, key=SECRET), lines(20))
        assert rx.delivered() == 0
    err = s.stderr()
    assert "refused the API key" in err and "403" in err, err
    assert SECRET not in err


# ---- the key and the healthcheck ----

def test_key_from_environment_and_never_shown(start_sluice):
    port = free_port()
    with DatadogReceiver(api_keys=[SECRET]) as rx:
        s = start_sluice(config(rx.url, key=None, api_port=port), stdin=subprocess.PIPE,
                         env={"DD_API_KEY": SECRET})
        s.proc.stdin.write(lines(10))
        s.proc.stdin.flush()
        wait_for(lambda: rx.delivered() == 10, what="logs sent with the key from DD_API_KEY")
        for path in ("/api/components", "/metrics", "/health"):
            _, _, body = http_get(f"http://127.0.0.1:{port}{path}")
            assert SECRET.encode() not in body, path
        s.proc.stdin.close()
        assert s.wait(30) == 0, s.stderr()
        assert_clean(rx)
    assert SECRET not in s.stderr() and SECRET not in s.stdout()


def test_validate_runs_the_healthcheck(tmp_path):
    cfg = tmp_path / "dd.yaml"
    with DatadogReceiver(api_keys=[SECRET]) as rx:
        cfg.write_text(config(rx.url, key=SECRET))
        ok = run_cli("validate", "-c", str(cfg))
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert rx.validate_calls == [SECRET]

        cfg.write_text(config(rx.url, key=SECRET + "-wrong"))
        bad = run_cli("validate", "-c", str(cfg))
        assert bad.returncode == 78, bad.stdout + bad.stderr
        assert "403" in bad.stdout + bad.stderr
        for out in (ok.stdout, ok.stderr, bad.stdout, bad.stderr):
            assert SECRET not in out


def test_missing_key_and_bad_options_are_config_errors(tmp_path):
    cfg = tmp_path / "dd.yaml"
    env = {"DD_API_KEY": ""}
    cfg.write_text(config("http://127.0.0.1:9", key=None))
    r = run_cli("validate", "--no-environment", "-c", str(cfg), env=env)
    assert r.returncode == 78
    assert "default_api_key" in r.stdout + r.stderr

    cfg.write_text(config("ftp://127.0.0.1:9", extra="    batch:\n      max_events: 2000\n"))
    r = run_cli("validate", "--no-environment", "-c", str(cfg), env=env)
    assert r.returncode == 78
    out = r.stdout + r.stderr
    assert "endpoint" in out and "max_events" in out
