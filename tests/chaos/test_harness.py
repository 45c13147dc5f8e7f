"""Checks of the chaos suite's own tools, so a scenario's green means what
it says: the receivers reject damaged lines with a retryable status, and
the fault proxy damages bodies only, cuts connections and adds delay."""
import gzip
import http.client
import json
import time

import pytest

from fault_proxy import FaultProxy
from peers.chaos import ChaosReceiver, make_line, seq_of


def post(port, path, body, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body, headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def dd_body(seqs):
    return json.dumps([{"message": make_line(s, "payload " * 20)} for s in seqs]).encode()


def test_lines_carry_a_checksum():
    line = make_line(42, "abc")
    assert seq_of(line) == 42
    assert seq_of(line.replace("abc", "abd")) is None
    assert seq_of(line.replace("0042", "0043")) is None


def test_receiver_counts_duplicates_and_rejects_damage_with_503(loop):
    rx = ChaosReceiver("datadog_logs", loop)
    try:
        assert post(rx.port, "/api/v2/logs", dd_body(range(10)))[0] == 202
        assert post(rx.port, "/api/v2/logs", dd_body(range(5, 12)))[0] == 202
        damaged = dd_body([20]).replace(b"payload", b"pAyload", 1)
        assert post(rx.port, "/api/v2/logs", damaged)[0] == 503
        assert post(rx.port, "/api/v2/logs", gzip.compress(dd_body([21]))[:-4],
                    {"Content-Encoding": "gzip"})[0] == 503
        assert (rx.distinct, rx.duplicates, rx.rejected_corrupt) == (12, 5, 2)
        assert rx.missing(12) == 0 and rx.missing(13) == 1
        assert rx.range_counts(0, 14) == (2, 5)
        rx.throttle(5, retry_after=3)
        status, headers, _ = post(rx.port, "/api/v2/logs", dd_body([30]))
        assert status == 429 and headers["Retry-After"] == "3"
    finally:
        rx.stop()


def test_receiver_going_down_refuses_and_comes_back_on_its_port(loop):
    rx = ChaosReceiver("http", loop)
    try:
        port = rx.port
        rx.go_down()
        with pytest.raises(ConnectionRefusedError):
            post(port, "/ingest", dd_body([1]))
        rx.come_back()
        assert rx.port == port
        assert post(port, "/ingest", dd_body([1]))[0] == 200
    finally:
        rx.stop()


def test_proxy_damages_bodies_only(loop):
    rx = ChaosReceiver("datadog_logs", loop)
    proxy = FaultProxy(loop, rx.port, corrupt=1.0, seed=3)
    try:
        for i in range(20):
            status, _, _ = post(proxy.port, "/api/v2/logs", dd_body([i]))
            assert status == 503      # the body was damaged, the request line was not
        assert proxy.bodies_corrupted == {"requests": 20, "responses": 20}
        assert rx.rejected_corrupt == 20 and rx.distinct == 0
    finally:
        proxy.stop()
        rx.stop()


def test_proxy_cuts_connections_and_adds_delay(loop):
    rx = ChaosReceiver("datadog_logs", loop)
    cutting = FaultProxy(loop, rx.port, drop=1.0, seed=4)
    slow = FaultProxy(loop, rx.port, delay=0.2)
    try:
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            post(cutting.port, "/api/v2/logs", dd_body(range(100)))
        assert cutting.dropped == 1
        t0 = time.monotonic()
        assert post(slow.port, "/api/v2/logs", dd_body([7]))[0] == 202
        assert time.monotonic() - t0 >= 0.4     # 0.2 s each way
    finally:
        cutting.stop()
        slow.stop()
        rx.stop()
