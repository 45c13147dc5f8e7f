"""End-to-end tests of the demo_logs source: every format produces `count`
well-formed lines and sluice exits 0 at the count; events carry Vector's
fields; shuffle picks from `lines` (with sequence numbers when asked) and
refuses an empty list; an interval paces the lines; interval 0 runs flat out
into a blackhole with the exact count."""
import json
import re
import time

from conftest import run_cli
from peers.config import component, pipeline

FORMATS = {
    "apache_common": re.compile(
        r'^\d{1,3}(\.\d{1,3}){3} - \S+ \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
        r'"[A-Z]+ \S+ HTTP/\d\.\d" \d{3} \d+$'),
    "apache_error": re.compile(
        r'^\[[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}\] \[\w+:\w+\] '
        r'\[pid \d+:tid \d+\] \[client \d{1,3}(\.\d{1,3}){3}:\d+\] .+$'),
    "syslog": re.compile(
        r'^<\d{1,3}>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) \S+ \S+ \d+ ID\d+ - .+$'),
    "bsd_syslog": re.compile(
        r'^<\d{1,3}>[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \S+\[\d+\]: .+$'),
}


def config(source, sink="console"):
    if sink == "console":
        out = component("out", "console", ["demo"], "encoding:\n  codec: json")
    else:
        out = component("out", "blackhole", ["demo"], "print_interval_secs: 0")
    return pipeline(component("demo", "demo_logs") + source, out)


def run_events(start_sluice, source, timeout=30):
    s = start_sluice(config(source))
    assert s.wait(timeout) == 0, s.stderr()
    return [json.loads(l) for l in s.stdout().splitlines()]


def test_text_formats_generate_count_lines_and_exit(start_sluice):
    for fmt, pattern in FORMATS.items():
        events = run_events(start_sluice, f"    format: {fmt}\n    count: 7\n    interval: 0\n")
        assert len(events) == 7, fmt
        for e in events:
            assert pattern.match(e["message"]), (fmt, e["message"])


def test_json_format_lines_are_json_objects(start_sluice):
    events = run_events(start_sluice, "    format: json\n    count: 5\n    interval: 0\n")
    assert len(events) == 5
    for e in events:
        doc = json.loads(e["message"])
        assert set(doc) >= {"host", "user-identifier", "datetime", "method", "request",
                            "protocol", "status", "bytes", "referer"}
        assert isinstance(doc["bytes"], int)


def test_events_carry_vector_fields(start_sluice):
    events = run_events(start_sluice, "    format: apache_common\n    count: 3\n    interval: 0\n")
    for e in events:
        assert set(e) == {"message", "timestamp", "host", "service", "source_type"}
        assert e["host"] == "localhost"
        assert e["service"] == "vector"
        assert e["source_type"] == "demo_logs"
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", e["timestamp"])


def test_rfc_aliases_are_accepted(start_sluice):
    events = run_events(start_sluice, "    format: rfc3164\n    count: 2\n    interval: 0\n")
    assert all(FORMATS["bsd_syslog"].match(e["message"]) for e in events)


def test_shuffle_picks_from_lines(start_sluice):
    events = run_events(start_sluice, "    format: shuffle\n    lines: [alpha, beta, gamma]\n"
                                      "    count: 30\n    interval: 0\n")
    messages = [e["message"] for e in events]
    assert len(messages) == 30
    assert set(messages) <= {"alpha", "beta", "gamma"}
    assert len(set(messages)) > 1


def test_shuffle_sequence_numbers_lines(start_sluice):
    events = run_events(start_sluice, "    format: shuffle\n    lines: [one, two]\n"
                                      "    sequence: true\n    count: 12\n    interval: 0\n")
    for n, e in enumerate(events):
        number, line = e["message"].split(" ", 1)
        assert int(number) == n and line in ("one", "two")


def test_shuffle_keeps_long_lines_whole(start_sluice):
    long_line = "L" * 5000
    events = run_events(start_sluice, f"    format: shuffle\n    lines: [{long_line}]\n"
                                      "    count: 2\n    interval: 0\n")
    assert [e["message"] for e in events] == [long_line, long_line]


def test_shuffle_without_lines_is_invalid(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(config("    format: shuffle\n    count: 1\n"))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 78, r.stdout + r.stderr
    assert "lines" in r.stdout + r.stderr


def test_missing_format_is_invalid(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(config("    count: 1\n"))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == 78
    assert "format" in r.stdout + r.stderr


def test_interval_paces_lines(start_sluice):
    t0 = time.monotonic()
    events = run_events(start_sluice, "    format: shuffle\n    lines: [tick]\n"
                                      "    count: 4\n    interval: 0.3\n")
    elapsed = time.monotonic() - t0
    assert len(events) == 4
    assert elapsed >= 0.85, elapsed


def test_default_interval_is_one_second(start_sluice):
    s = start_sluice(config("    format: json\n"))
    time.sleep(1.6)
    assert s.terminate() == 0
    n = len(s.stdout().splitlines())
    assert 1 <= n <= 3, n


def test_json_decoding_makes_the_line_the_event(start_sluice):
    events = run_events(start_sluice, "    format: json\n    count: 3\n    interval: 0\n"
                                      "    decoding:\n      codec: json\n")
    for e in events:
        assert "user-identifier" in e and "message" not in e
        assert e["source_type"] == "demo_logs"
        assert e["service"] == "vector"


def test_flat_out_exact_count_into_blackhole(start_sluice):
    s = start_sluice(config("    format: apache_common\n    count: 250000\n    interval: 0\n",
                            sink="blackhole"))
    assert s.wait(60) == 0, s.stderr()
    assert re.search(r"Total events collected\. events=250000 raw_bytes=\d+", s.stderr()), \
        s.stderr()
