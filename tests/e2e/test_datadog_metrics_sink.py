"""End-to-end tests of the datadog_metrics sink against a local receiver that
plays Datadog's metrics API (tests/peers/datadog.py) and checks every request
against the spec (openapi-v2.yaml series, openapi-v1.yaml distribution
points): counters as `count` deltas, gauges and sets as `gauge`, tags and
the host resource, the default namespace, distributions at their own path,
deflate by default, requests within 512,000 bytes as sent; 429 retried
without duplicates, 400 rejected and counted; absolute counters from
internal_metrics sent as deltas; the healthcheck on /api/v1/validate; the
API key absent from every output."""
import json
import random
import subprocess
import textwrap
import time

from conftest import free_port, http_get, metric_value, run_cli, wait_for
from peers.config import FAST_RETRIES, component, pipeline, stdin
from peers.datadog import DISTRIBUTION_PATH, SERIES_PATH, DatadogReceiver

KEY = "test-api-key"
SECRET = "dd-SECRET-0123456789abcdef0123456789abcdef"


def config(endpoint, metrics, key=KEY, extra="", api_port=None, sources=None):
    """stdin (JSON lines) -> log_to_metric with `metrics` -> datadog_metrics."""
    key_line = f'default_api_key: "{key}"' if key is not None else ""
    to_metric = component("m", "log_to_metric", ["in"], "metrics:\n" + textwrap.indent(
        textwrap.dedent(metrics).strip(), "  "))
    sink = component("out", "datadog_metrics", ["m"], f'endpoint: "{endpoint}"\n{key_line}')
    return pipeline(sources or stdin("json"), sink + FAST_RETRIES + extra,
                    transforms=to_metric, api_port=api_port)


COUNTER = """
- type: counter
  field: status
  name: responses
  tags:
    code: "{{ status }}"
"""


def run_with_input(start_sluice, cfg, docs, timeout=60, env=None):
    s = start_sluice(cfg, stdin=subprocess.PIPE, env=env)
    s.proc.stdin.write("".join(json.dumps(d) + "\n" for d in docs).encode())
    s.proc.stdin.close()
    assert s.wait(timeout) == 0, s.stderr()
    return s


def assert_clean(rx):
    assert rx.violations == [], rx.violations[:5]


def by_name(series, name):
    return [s for s in series if s["metric"] == name]


def total(series):
    return sum(p["value"] for s in series for p in s["points"])


# ---- what is sent ----

def test_every_type_in_the_shape_the_api_takes(start_sluice):
    metrics = COUNTER + """
- type: gauge
  field: queue
  name: queue_depth
  tags:
    host: "{{ node }}"
- type: set
  field: user
  name: users
  namespace: auth
- type: histogram
  field: duration
  name: duration
  tags:
    host: "{{ node }}"
    canary: null
"""
    n = 50
    docs = [{"status": 200 if i % 5 else 500, "queue": i, "user": f"u{i % 3}",
             "duration": 0.25 * (i % 4), "node": "web-1"} for i in range(n)]
    with DatadogReceiver() as rx:
        run_with_input(start_sluice,
                       config(rx.url, metrics, extra="    default_namespace: app\n"), docs)
        assert_clean(rx)
        series = rx.accepted_series()
        dists = rx.accepted_distributions()
        reqs = rx.metric_requests
    # Deflate by default, on both paths, with the key.
    assert {r.encoding for r in reqs} == {"deflate"}
    assert {r.path for r in reqs} == {SERIES_PATH, DISTRIBUTION_PATH}

    # Counters: `count` with the flush interval (batch.timeout_secs 2),
    # prefixed with the default namespace, tags as key:value.
    responses = by_name(series, "app.responses")
    assert len(responses) == n and total(responses) == n
    assert {s["type"] for s in responses} == {1}
    assert {s["interval"] for s in responses} == {2}
    assert sorted({tuple(s["tags"]) for s in responses}) == [("code:200",), ("code:500",)]
    assert sum(1 for s in responses if s["tags"] == ["code:500"]) == n // 5

    # Gauges: type 3, no interval, the host tag as a host resource.
    queue = by_name(series, "app.queue_depth")
    assert sorted(p["value"] for s in queue for p in s["points"]) == list(range(n))
    assert all(s["type"] == 3 and "interval" not in s and "tags" not in s for s in queue)
    assert all(s["resources"] == [{"name": "web-1", "type": "host"}] for s in queue)

    # Sets: a gauge of the number of distinct values, the metric's own
    # namespace kept.
    users = by_name(series, "auth.users")
    assert len(users) == n and all(s["type"] == 3 for s in users)
    assert {p["value"] for s in users for p in s["points"]} == {1.0}

    # Distributions: their own API, one point with the samples, host field,
    # a bare tag as just its key.
    assert not by_name(series, "app.duration")
    assert len(dists) == n
    for d in dists:
        assert d["metric"] == "app.duration" and d["type"] == "distribution"
        assert d["host"] == "web-1" and d["tags"] == ["canary"]
        assert len(d["points"]) == 1 and len(d["points"][0][1]) == 1
    assert sorted(d["points"][0][1][0] for d in dists) == sorted(
        0.25 * (i % 4) for i in range(n))


def test_absolute_counters_are_sent_as_deltas_per_series(start_sluice):
    metrics = """
- type: counter
  field: total
  name: bytes
  increment_by_value: true
  kind: absolute
  tags:
    dev: "{{ dev }}"
"""
    a = [10, 15, 15, 22, 3, 5]      # 3: a reset, a new reference
    b = [100, 101, 130]
    docs = [{"dev": "a", "total": v} for v in a] + [{"dev": "b", "total": v} for v in b]
    docs = [docs[i] for i in (0, 6, 1, 2, 7, 3, 4, 8, 5)]   # interleaved, in order per dev
    with DatadogReceiver() as rx:
        run_with_input(start_sluice, config(rx.url, metrics), docs)
        assert_clean(rx)
        series = rx.accepted_series()
    values = {}
    for s in series:
        assert s["metric"] == "bytes" and s["type"] == 1
        values.setdefault(tuple(s["tags"]), []).extend(p["value"] for p in s["points"])
    # First samples and the reset send nothing; the rest their difference.
    assert sorted(values[("dev:a",)]) == sorted([5.0, 0.0, 7.0, 2.0])
    assert sorted(values[("dev:b",)]) == sorted([1.0, 29.0])


def internal_metrics_config(endpoint):
    """stdin -> blackhole, and the process's own metrics -> datadog_metrics."""
    return pipeline(
        stdin() + component("meta", "internal_metrics", options="scrape_interval_secs: 0.2"),
        component("drop", "blackhole", ["in"])
        + component("out", "datadog_metrics", ["meta"], f"""
            endpoint: "{endpoint}"
            default_api_key: "{KEY}"
            batch:
              timeout_secs: 0.2"""))


def test_internal_metrics_counters_arrive_as_deltas(start_sluice):
    # internal_metrics sends absolute counters: the sink must send what each
    # scrape added, so the deltas of the stdin source's received events add
    # up to exactly the lines written after the first scrape.
    name = "sluice.component_received_events_total"
    n = 1234
    with DatadogReceiver() as rx:
        def received():
            return [x for x in rx.accepted_series() if x["metric"] == name
                    and "component_id:in" in x.get("tags", [])]

        s = start_sluice(internal_metrics_config(rx.url), stdin=subprocess.PIPE)
        wait_for(lambda: any(x["type"] == 3 for x in rx.accepted_series()),
                 what="the first scrape")
        s.proc.stdin.write(b"".join(b"line %d\n" % i for i in range(n)))
        s.proc.stdin.flush()
        wait_for(lambda: total(received()) == n, what=f"deltas adding up to {n}")
        time.sleep(0.6)   # a few more scrapes: nothing more may arrive
        assert s.terminate() == 0, s.stderr()
        assert_clean(rx)
        series = rx.accepted_series()
        assert total(received()) == n
    assert all(p["value"] >= 0 for x in series if x["type"] == 1 for p in x["points"])
    counters = [x for x in series if x["type"] == 1]
    assert counters and all(x["interval"] == 1 for x in counters)
    # The host tag became the host resource on every series.
    for x in series:
        assert x["metric"].startswith("sluice.")
        assert len(x["resources"]) == 1 and x["resources"][0]["type"] == "host"
        assert not any(t.startswith("host:") for t in x.get("tags", []))


# ---- limits ----

def test_requests_stay_within_the_size_limits(start_sluice):
    # 30,000 counters with random (incompressible) tags: several MB of JSON
    # that deflate cannot bring under 512,000 bytes in one request.
    rnd = random.Random(7)
    n = 30_000
    docs = [{"status": 200, "id": "%0120x" % rnd.getrandbits(480)} for _ in range(n)]
    metrics = """
- type: counter
  field: status
  name: hits
  tags:
    id: "{{ id }}"
"""
    with DatadogReceiver() as rx:
        run_with_input(start_sluice, config(rx.url, metrics), docs, timeout=120)
        assert_clean(rx)
        assert total(rx.accepted_series()) == n
        ok = [r for r in rx.metric_requests if r.status == 202]
        assert len(ok) >= 5
        assert max(r.raw_len for r in ok) <= 512_000


def test_no_compression_keeps_bodies_under_512000_bytes(start_sluice):
    n = 20_000
    docs = [{"status": 200, "id": "x" * 100 + str(i)} for i in range(n)]
    metrics = """
- type: counter
  field: status
  name: hits
  tags:
    id: "{{ id }}"
"""
    with DatadogReceiver() as rx:
        run_with_input(start_sluice,
                       config(rx.url, metrics, extra="    compression: none\n"), docs)
        assert_clean(rx)
        assert total(rx.accepted_series()) == n
        assert {r.encoding for r in rx.metric_requests} == {None}
        assert max(r.raw_len for r in rx.metric_requests) <= 512_000


# ---- answers ----

def test_429_then_accepted_is_retried_without_duplicates(start_sluice):
    n = 300
    docs = [{"status": 200} for _ in range(n)]
    with DatadogReceiver(script=[429, 429]) as rx:
        run_with_input(start_sluice, config(rx.url, COUNTER), docs)
        assert_clean(rx)
        assert rx.metric_statuses()[:2] == [429, 429]
        assert 202 in rx.metric_statuses()
        assert total(rx.accepted_series()) == n


def test_413_splits_the_request(start_sluice):
    n = 400
    docs = [{"status": 200} for _ in range(n)]
    with DatadogReceiver(split_above=50) as rx:
        run_with_input(start_sluice, config(rx.url, COUNTER), docs)
        assert_clean(rx)
        assert 413 in rx.metric_statuses()
        assert total(rx.accepted_series()) == n
        assert all(len(r.series) <= 50 for r in rx.metric_requests if r.status == 202)


def test_400_is_rejected_and_counted(start_sluice):
    port = free_port()
    n = 200
    with DatadogReceiver(script=[400]) as rx:
        s = start_sluice(config(rx.url, COUNTER, api_port=port), stdin=subprocess.PIPE)
        s.proc.stdin.write(b"".join(b'{"status": 200}\n' for _ in range(n)))
        s.proc.stdin.flush()
        wait_for(lambda: sum(len(r.series) for r in rx.metric_requests) >= n,
                 what="every metric answered")
        rejected = sum(len(r.series) for r in rx.metric_requests if r.status == 400)
        assert rejected > 0
        wait_for(lambda: metric_value(port, "component_discarded_events_total",
                                      component_id="out") == rejected,
                 what="the rejected metrics counted as discarded")
        s.proc.stdin.close()
        assert s.wait(30) == 0, s.stderr()
        assert_clean(rx)
        assert rx.metric_statuses().count(400) == 1
        assert total(rx.accepted_series()) == n - rejected


# ---- the key and the healthcheck ----

def test_key_from_environment_and_never_shown(start_sluice):
    port = free_port()
    with DatadogReceiver(api_keys=[SECRET]) as rx:
        s = start_sluice(config(rx.url, COUNTER, key=None, api_port=port),
                         stdin=subprocess.PIPE, env={"DD_API_KEY": SECRET})
        s.proc.stdin.write(b"".join(b'{"status": 200}\n' for _ in range(10)))
        s.proc.stdin.flush()
        wait_for(lambda: total(rx.accepted_series()) == 10, what="metrics sent with the key")
        for path in ("/api/components", "/metrics", "/health"):
            _, _, body = http_get(f"http://127.0.0.1:{port}{path}")
            assert SECRET.encode() not in body, path
        s.proc.stdin.close()
        assert s.wait(30) == 0, s.stderr()
        assert_clean(rx)
    assert SECRET not in s.stderr() and SECRET not in s.stdout()


def test_refused_key_is_logged_without_the_key(start_sluice):
    with DatadogReceiver(api_keys=["the-right-key"]) as rx:
        s = run_with_input(start_sluice, config(rx.url, COUNTER, key=SECRET),
                           [{"status": 200}] * 5)
        assert rx.accepted_series() == []
    err = s.stderr()
    assert "refused the API key" in err and "403" in err, err
    assert SECRET not in err


def test_validate_runs_the_healthcheck(tmp_path):
    cfg = tmp_path / "dd.yaml"
    with DatadogReceiver(api_keys=[SECRET]) as rx:
        cfg.write_text(config(rx.url, COUNTER, key=SECRET))
        ok = run_cli("validate", "-c", str(cfg))
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert rx.validate_calls == [SECRET]

        cfg.write_text(config(rx.url, COUNTER, key=SECRET + "-wrong"))
        bad = run_cli("validate", "-c", str(cfg))
        assert bad.returncode == 78, bad.stdout + bad.stderr
        assert "403" in bad.stdout + bad.stderr
        for out in (ok.stdout, ok.stderr, bad.stdout, bad.stderr):
            assert SECRET not in out


def test_missing_key_and_bad_options_are_config_errors(tmp_path):
    cfg = tmp_path / "dd.yaml"
    env = {"DD_API_KEY": ""}
    cfg.write_text(config("http://127.0.0.1:9", COUNTER, key=None))
    r = run_cli("validate", "--no-environment", "-c", str(cfg), env=env)
    assert r.returncode == 78
    assert "default_api_key" in r.stdout + r.stderr

    cfg.write_text(config("ftp://127.0.0.1:9", COUNTER,
                          extra="    batch:\n      max_bytes: 6000000\n"))
    r = run_cli("validate", "--no-environment", "-c", str(cfg), env=env)
    assert r.returncode == 78
    out = r.stdout + r.stderr
    assert "endpoint" in out and "max_bytes" in out
