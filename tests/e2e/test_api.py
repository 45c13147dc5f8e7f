"""End-to-end tests of the HTTP API: a real sluice process running demo_logs
and internal_metrics into blackholes, queried over loopback. /metrics must
pass `promtool check metrics` and hold no duplicate series; /api/components
must describe the topology with live counters; unknown paths and methods get
404 and 405; an address in use is a clear startup error; SIGTERM exits 0."""
import json
import socket
import subprocess
import urllib.error
import urllib.request

from conftest import free_port, http_get, wait_for
from peers import prometheus
from peers.config import component, pipeline

PROMTOOL = "/usr/bin/promtool"


def pipeline_config(port):
    return pipeline(
        sources=(component("demo", "demo_logs", options="format: json\ninterval: 0.01")
                 + component("internal", "internal_metrics", options="scrape_interval_secs: 0.2")),
        sinks=(component("logs_out", "blackhole", ["demo"])
               + component("metrics_out", "blackhole", ["internal"])),
        api_port=port)


def request(method, url, data=None, timeout=5):
    """(status, headers, body) for any method, also for 4xx/5xx answers."""
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def components(port):
    status, headers, body = http_get(f"http://127.0.0.1:{port}/api/components")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    return {c["id"]: c for c in json.loads(body)["components"]}




def parse_exposition(text):
    """{(name, sorted label pairs): value} of a Prometheus text exposition,
    failing on a series seen twice, a name with two TYPE lines, or a series
    without a TYPE line before it."""
    exp = prometheus.parse(text)
    for s in exp.samples:
        assert exp.family(s.name) in exp.types, f"series without its TYPE line: {s}"
    return exp.series()


def started(start_sluice):
    port = free_port()
    proc = start_sluice(pipeline_config(port))
    proc.wait_healthy(port)
    return proc, port


def test_health_and_shutdown(start_sluice):
    proc, port = started(start_sluice)
    status, headers, body = http_get(f"http://127.0.0.1:{port}/health")
    assert status == 200
    assert json.loads(body) == {"ok": True}
    assert headers["Content-Type"] == "application/json"
    assert proc.terminate() == 0


def test_metrics_pass_promtool_without_duplicates(start_sluice):
    proc, port = started(start_sluice)
    url = f"http://127.0.0.1:{port}/metrics"

    def demo_sent():
        _, _, body = http_get(url)
        return any(name == "sluice_component_sent_events_total"
                   and dict(labels).get("component_id") == "demo" and v > 0
                   for (name, labels), v in parse_exposition(body.decode()).items())

    wait_for(demo_sent, what="demo_logs to send events")
    status, headers, body = http_get(url)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()

    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    assert (check.stdout + check.stderr).strip() == ""

    series = parse_exposition(text)
    labels = (("component_id", "logs_out"), ("component_kind", "sink"),
              ("component_type", "blackhole"))
    for name in ("component_received_events_total",
                 "component_received_event_bytes_total",
                 "component_sent_events_total",
                 "component_sent_event_bytes_total",
                 "buffer_size_events", "buffer_size_bytes", "utilization"):
        assert (f"sluice_{name}", labels) in series, name
    assert ("sluice_uptime_seconds", ()) in series
    assert any(name == "sluice_build_info" for name, _ in series)
    assert proc.terminate() == 0


def test_components_describe_the_topology(start_sluice):
    proc, port = started(start_sluice)
    wait_for(lambda: components(port)["metrics_out"]["metrics"]["received_events"] > 0
             and components(port)["logs_out"]["metrics"]["received_events"] > 0,
             what="both sinks to receive events")
    comps = components(port)
    assert set(comps) == {"demo", "internal", "logs_out", "metrics_out"}
    assert comps["demo"]["kind"] == "source"
    assert comps["demo"]["type"] == "demo_logs"
    assert comps["demo"]["inputs"] == []
    assert comps["internal"]["type"] == "internal_metrics"
    assert comps["logs_out"]["kind"] == "sink"
    assert comps["logs_out"]["type"] == "blackhole"
    assert comps["logs_out"]["inputs"] == ["demo"]
    assert comps["metrics_out"]["inputs"] == ["internal"]
    for c in comps.values():
        assert set(c["metrics"]) == {"received_events", "sent_events", "received_bytes",
                                     "sent_bytes", "errors", "discarded"}
    assert comps["demo"]["metrics"]["sent_events"] > 0
    assert proc.terminate() == 0


def test_unknown_paths_and_methods(start_sluice):
    proc, port = started(start_sluice)
    base = f"http://127.0.0.1:{port}"
    status, _, body = http_get(base + "/nope")
    assert status == 404
    assert json.loads(body) == {"error": "not found"}
    for path in ("/health", "/metrics", "/api/components"):
        status, headers, _ = request("POST", base + path, data=b"{}")
        assert status == 405, path
        assert "GET" in headers["Allow"]
    status, headers, body = request("HEAD", base + "/metrics")
    assert status == 200
    assert body == b""
    assert proc.terminate() == 0


def test_address_in_use_is_a_clear_error(start_sluice):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = start_sluice(pipeline_config(port))
        assert proc.wait(timeout=30) != 0
    assert (f"API address 127.0.0.1:{port} is already in use "
            "(set api.address or api.enabled: false)") in proc.stderr()
