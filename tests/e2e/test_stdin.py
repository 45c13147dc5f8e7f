"""End-to-end tests of the stdin source: lines become events with the bytes
and json codecs; malformed JSON lines are skipped, logged with their line
number and counted while the rest arrive; binary junk and invalid UTF-8 pass
as bytes (U+FFFD in JSON output); over-long lines are discarded; the partial
last line is emitted; end of input exits 0 and SIGTERM stops a blocked read."""
import json
import re
import subprocess

from conftest import free_port, metric_value, wait_for
from peers.config import component, pipeline, stdin

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def console_config(decoding="bytes", extra="", api_port=None):
    return pipeline(stdin(decoding) + extra,
                    component("out", "console", ["in"], "encoding:\n  codec: json"),
                    api_port=api_port)


def json_lines(text):
    """One JSON document per "\n"-terminated line. Not str.splitlines(): the
    output may hold U+0085 or U+2028 unescaped, which it would split on."""
    return [json.loads(l) for l in text.split("\n") if l]


def run_with_input(start_sluice, config, data, timeout=30):
    s = start_sluice(config, stdin=subprocess.PIPE)
    s.proc.stdin.write(data)
    s.proc.stdin.close()
    assert s.wait(timeout) == 0, s.stderr()
    return s, json_lines(s.stdout())





def test_bytes_codec_lines_become_events(start_sluice):
    _, events = run_with_input(start_sluice, console_config(), b"hello\nworld\n")
    assert [e["message"] for e in events] == ["hello", "world"]
    for e in events:
        assert e["source_type"] == "stdin"
        assert isinstance(e["host"], str) and e["host"]
        assert RFC3339.match(e["timestamp"]), e["timestamp"]
        assert set(e) == {"message", "source_type", "host", "timestamp"}


def test_partial_last_line_is_emitted(start_sluice):
    _, events = run_with_input(start_sluice, console_config(), b"first\nlast without newline")
    assert [e["message"] for e in events] == ["first", "last without newline"]


def test_carriage_return_and_empty_lines_are_kept(start_sluice):
    _, events = run_with_input(start_sluice, console_config(), b"a\r\n\nb\n")
    assert [e["message"] for e in events] == ["a\r", "", "b"]


def test_empty_input_exits_zero_with_no_events(start_sluice):
    s, events = run_with_input(start_sluice, console_config(), b"")
    assert events == []


def test_invalid_utf8_and_binary_junk_pass_as_bytes(start_sluice):
    data = b"ok\n\xff\xfe bad \xc3\x28 utf8\n\x00\x01\x02\x7f nul\n\xe2\x82\xac euro\n"
    _, events = run_with_input(start_sluice, console_config(), data)
    messages = [e["message"] for e in events]
    assert len(messages) == 4
    assert messages[0] == "ok"
    assert "\ufffd" in messages[1] and "bad" in messages[1] and "utf8" in messages[1]
    assert messages[2] == "\x00\x01\x02\x7f nul"
    assert messages[3] == "\u20ac euro"


def test_random_binary_input_never_crashes(start_sluice):
    import random
    rnd = random.Random(1234)
    data = bytes(rnd.randrange(256) for _ in range(300_000))
    s, _ = run_with_input(start_sluice, console_config(), data)
    assert s.proc.returncode == 0


def test_json_codec_objects_arrays_and_added_fields(start_sluice):
    data = (b'{"a": 1, "nested": {"b": [1, 2]}}\n'
            b'[{"x": "one"}, {"x": "two"}]\n'
            b'\n'
            b'{"message": "keep", "host": "given", "timestamp": "2020-01-01T00:00:00Z",'
            b' "source_type": "mine"}\n')
    _, events = run_with_input(start_sluice, console_config("json"), data)
    assert len(events) == 4
    assert events[0]["a"] == 1 and events[0]["nested"] == {"b": [1, 2]}
    assert events[0]["source_type"] == "stdin"
    assert RFC3339.match(events[0]["timestamp"])
    assert events[0]["host"]
    assert [events[1]["x"], events[2]["x"]] == ["one", "two"]
    assert events[3] == {"message": "keep", "host": "given",
                         "timestamp": "2020-01-01T00:00:00Z", "source_type": "mine"}


def test_json_array_larger_than_a_batch_keeps_every_element(start_sluice):
    big = json.dumps([{"i": i, "s": "v" * (i % 7)} for i in range(3000)])
    data = (b'{"i": -1}\n' + big.encode() + b'\n{"i": 3000}\n') * 2
    _, events = run_with_input(start_sluice, console_config("json"), data)
    expected = list(range(-1, 3001))
    assert [e["i"] for e in events] == expected * 2
    assert all(e["source_type"] == "stdin" for e in events)


def test_malformed_json_lines_are_skipped_counted_and_logged(start_sluice):
    port = free_port()
    s = start_sluice(console_config("json", api_port=port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write(b'{"n": 1}\n{"n": \n{"n": 3}\n42\n"text"\n[1, 2]\nnot json\n{"n": 8}\n')
    s.proc.stdin.flush()
    wait_for(lambda: len(json_lines(s.stdout())) >= 3, what="three good events")
    wait_for(lambda: metric_value(port, "component_errors_total", component_id="in",
                                  error_type="parser_failed") == 5,
             what="five parser errors counted")
    s.proc.stdin.close()
    assert s.wait(30) == 0, s.stderr()
    events = json_lines(s.stdout())
    assert [e["n"] for e in events] == [1, 3, 8]
    assert "line 2" in s.stderr()


def test_over_long_lines_are_discarded(start_sluice):
    cfg = console_config(extra="    max_length: 100")
    data = b"short\n" + b"x" * 101 + b"\n" + b"y" * 100 + b"\n" + b"z" * 500_000 + b"\nend\n"
    s, events = run_with_input(start_sluice, cfg, data)
    assert [e["message"] for e in events] == ["short", "y" * 100, "end"]
    assert "max_length" in s.stderr()


def test_line_longer_than_a_read_block_arrives_whole(start_sluice):
    long_line = "".join(chr(ord("a") + i % 26) for i in range(400_000))
    cfg = console_config(extra="    max_length: 1000000")
    data = ("before\n" + long_line + "\nafter").encode()
    _, events = run_with_input(start_sluice, cfg, data)
    assert [e["message"] for e in events] == ["before", long_line, "after"]


def test_host_key_renames_or_disables_the_host_field(start_sluice):
    _, events = run_with_input(start_sluice, console_config(extra='    host_key: "hostname"'),
                               b"x\n")
    assert "host" not in events[0] and events[0]["hostname"]
    _, events = run_with_input(start_sluice, console_config(extra='    host_key: ""'), b"x\n")
    assert "host" not in events[0]


def test_many_lines_in_order(start_sluice):
    n = 200_000
    data = "".join(f"line {i}\n" for i in range(n)).encode()
    _, events = run_with_input(start_sluice, console_config(), data, timeout=60)
    assert len(events) == n
    assert all(e["message"] == f"line {i}" for i, e in enumerate(events))


def test_slow_writer_lines_flow_before_eof(start_sluice):
    s = start_sluice(console_config(), stdin=subprocess.PIPE)
    s.proc.stdin.write(b"interactive\n")
    s.proc.stdin.flush()
    wait_for(lambda: "interactive" in s.stdout(), what="the first line to arrive")
    s.proc.stdin.write(b"second\n")
    s.proc.stdin.flush()
    wait_for(lambda: "second" in s.stdout(), what="the second line to arrive")
    s.proc.stdin.close()
    assert s.wait(30) == 0


def test_sigterm_stops_a_blocked_read(start_sluice):
    s = start_sluice(console_config(), stdin=subprocess.PIPE)
    s.proc.stdin.write(b"one\n")
    s.proc.stdin.flush()
    wait_for(lambda: "one" in s.stdout(), what="the line to arrive")
    assert s.terminate(timeout=20) == 0
    s.proc.stdin.close()


def test_received_events_are_counted(start_sluice):
    port = free_port()
    s = start_sluice(console_config(api_port=port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write(b"0123456789\n" * 10)
    s.proc.stdin.flush()
    wait_for(lambda: metric_value(port, "component_received_events_total",
                                  component_id="in") == 10, what="ten events received")
    s.proc.stdin.close()
    assert s.wait(30) == 0


def test_lines_longer_than_the_read_block_between_batches(start_sluice):
    """Consecutive lines far longer than a read block: a pending one must
    move whole into the next batch's block (the block grows to hold it)."""
    lines = ["".join(chr(ord("a") + (i + k) % 26) for i in range(700_000 + k * 10_000))
             for k in range(8)]
    cfg = console_config(extra="    max_length: 1000000")
    _, events = run_with_input(start_sluice, cfg, ("\n".join(lines) + "\n").encode())
    assert [e["message"] for e in events] == lines
