"""End-to-end tests of the blackhole sink: it counts every event and logs the
final totals the benchmark harness reads, logs running totals every
print_interval_secs (none with 0), paces itself to `rate`, and reports what it
took as sent in the internal metrics."""
import re
import subprocess
import time

from conftest import free_port, metric_value, run_with_input
from peers.config import component, pipeline, stdin

TOTAL = re.compile(r"Total events collected\. events=(\d+) raw_bytes=(\d+)")


def config(extra="", api_port=None):
    return pipeline(stdin(), component("out", "blackhole", ["in"]) + extra, api_port=api_port)


def test_final_totals_are_logged(start_sluice):
    n = 300_000
    s = run_with_input(start_sluice, config(), b"x" * 50 + b"\n" + b"y\n" * (n - 1))
    m = TOTAL.search(s.stderr())
    assert m, s.stderr()
    assert int(m.group(1)) == n
    assert int(m.group(2)) > n * 10


def test_empty_input_totals_zero(start_sluice):
    s = run_with_input(start_sluice, config(), b"")
    m = TOTAL.search(s.stderr())
    assert m and m.group(1) == "0" and m.group(2) == "0"


def test_running_totals_every_interval(start_sluice):
    # The totals change between prints: the service log folds identical
    # repeated lines into one summary.
    s = start_sluice(config("    print_interval_secs: 1\n"), stdin=subprocess.PIPE)
    for _ in range(6):
        s.proc.stdin.write(b"a\n")
        s.proc.stdin.flush()
        time.sleep(0.45)
    s.proc.stdin.close()
    assert s.wait(30) == 0
    progress = [int(n) for n in
                re.findall(r"Collected events\. events=(\d+) raw_bytes=\d+", s.stderr())]
    assert len(progress) >= 2, s.stderr()
    assert progress == sorted(progress) and progress[-1] <= 6
    assert TOTAL.search(s.stderr()).group(1) == "6"


def test_print_interval_zero_logs_only_the_total(start_sluice):
    s = start_sluice(config("    print_interval_secs: 0\n"), stdin=subprocess.PIPE)
    s.proc.stdin.write(b"a\n")
    s.proc.stdin.flush()
    time.sleep(1.5)
    s.proc.stdin.close()
    assert s.wait(30) == 0
    assert "Collected events." not in s.stderr()
    assert TOTAL.search(s.stderr()).group(1) == "1"


def test_rate_limits_intake(start_sluice):
    t0 = time.monotonic()
    s = run_with_input(start_sluice, config("    rate: 2000\n"), b"r\n" * 5000)
    elapsed = time.monotonic() - t0
    assert TOTAL.search(s.stderr()).group(1) == "5000"
    assert elapsed >= 1.5, elapsed


def test_sent_events_are_counted(start_sluice):
    port = free_port()
    s = start_sluice(config(api_port=port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write(b"m\n" * 1234)
    s.proc.stdin.flush()

    def sent():
        return metric_value(port, "component_sent_events_total", component_id="out")

    deadline = time.time() + 10
    while time.time() < deadline and sent() != 1234:
        time.sleep(0.05)
    assert sent() == 1234
    s.proc.stdin.close()
    assert s.wait(30) == 0
