"""Drain on shutdown: SIGTERM while data is flowing must leave the sink's
output an exact, in-order prefix of the input (nothing lost in the middle,
nothing duplicated) that holds at least every event the source had already
sent, and sluice must exit 0. When the input simply ends, every event must
arrive and sluice must stop by itself. A memory-buffered sink whose receiver
is down holds the shutdown up to the limit (shutdown_timeout_secs, or the
--graceful-shutdown-limit-secs / --no-graceful-shutdown-limit flags), then
says what it did not deliver."""
import json
import os
import re
import signal
import subprocess
import threading
import time

from conftest import free_port, http_get, metric_value, sanitized, wait_for
from peers.config import file_sink, pipeline, stdin

LINES = 1_000_000
CHUNK = 10_000
PAD = "x" * 60


def line(i):
    return f"line-{i:07d} {PAD}\n"


def config(out_path, port=None):
    return pipeline(stdin(), file_sink(out_path, ["in"]), api_port=port)


class Writer(threading.Thread):
    """Feeds the lines into sluice's stdin in chunks. Sets `halfway` once
    `signal_after` lines are written, so the test can signal while data is
    still flowing; stops quietly when sluice closes the pipe."""

    def __init__(self, pipe, signal_after=None, pause=0.0):
        super().__init__(daemon=True)
        self.pipe = pipe
        self.signal_after = signal_after
        self.pause = pause
        self.halfway = threading.Event()
        self.written = 0      # lines whose chunk was written whole
        self.offered = 0      # lines handed to write(), the last chunk maybe in part
        self.broken = False

    def run(self):
        try:
            for start in range(0, LINES, CHUNK):
                self.offered = start + CHUNK
                self.pipe.write("".join(line(i) for i in range(start, start + CHUNK)).encode())
                self.written = start + CHUNK
                if self.signal_after is not None and self.written >= self.signal_after:
                    self.halfway.set()
                if self.pause:
                    time.sleep(self.pause)
            self.pipe.close()
        except (BrokenPipeError, ValueError, OSError):
            self.broken = True
        finally:
            self.halfway.set()


def read_sequence(path):
    """The sequence numbers in the output file, in file order. Every line must
    be a whole JSON event whose message is an input line."""
    seqs = []
    with open(path, encoding="utf-8") as f:
        for n, text in enumerate(f, 1):
            assert text.endswith("\n"), f"line {n} is cut short: {text[:80]!r}"
            event = json.loads(text)
            m = re.fullmatch(r"line-(\d{7}) x+", event["message"])
            assert m, f"line {n}: unexpected message {event['message'][:80]!r}"
            seqs.append(int(m.group(1)))
    return seqs


def assert_exact_prefix(seqs):
    """0, 1, ..., k-1: no gap, no duplicate, no reordering."""
    for i, s in enumerate(seqs):
        assert s == i, f"output line {i + 1} holds line-{s:07d}, expected line-{i:07d}"


def source_sent_events(port):
    """component_sent_events_total of the stdin source, from /metrics."""
    return int(metric_value(port, "component_sent_events_total", component_id="in") or 0)


def test_sigterm_while_flowing_leaves_an_exact_prefix(tmp_path, start_sluice):
    out = tmp_path / "out.json"
    port = free_port()
    s = start_sluice(config(out, port), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    # Paced so that the input is still flowing when the signal comes.
    writer = Writer(s.proc.stdin, signal_after=LINES // 5, pause=0.002)
    writer.start()
    assert writer.halfway.wait(120), "writer stuck"
    sent_before = source_sent_events(port)
    written_at_signal = writer.written
    code = s.terminate(timeout=120)
    writer.join(30)
    assert code == 0, s.stderr()
    assert written_at_signal < LINES, "the input had ended before the signal"

    seqs = read_sequence(out)
    assert len(seqs) > 0, "nothing was written before the signal"
    assert_exact_prefix(seqs)
    assert len(seqs) <= writer.offered
    # Everything the source had sent before the signal was drained to disk.
    assert len(seqs) >= sent_before, f"{sent_before} sent but {len(seqs)} written"


def test_end_of_input_delivers_everything_and_exits(tmp_path, start_sluice):
    out = tmp_path / "out.json"
    s = start_sluice(config(out), stdin=subprocess.PIPE)
    writer = Writer(s.proc.stdin)
    writer.start()
    writer.join(300)
    assert not writer.broken, "sluice closed its stdin early: " + s.stderr()
    assert s.wait(timeout=300) == 0, s.stderr()

    seqs = read_sequence(out)
    assert len(seqs) == LINES
    assert_exact_prefix(seqs)


def down_receiver_config(port, limit):
    """stdin into a memory-buffered http sink whose receiver is down."""
    return f"""shutdown_timeout_secs: {limit}
api:
  enabled: true
  address: 127.0.0.1:{port}
sources:
  in:
    type: stdin
sinks:
  out:
    type: http
    inputs: [in]
    uri: "http://127.0.0.1:{free_port()}/"
    encoding:
      codec: ndjson
    batch:
      timeout_secs: 0.1
"""


def leaks_left_to_exit():
    """A drain that timed out leaves the runtime to the process exit rather
    than free what a stuck thread might still use: not a leak to report."""
    if not sanitized():
        return None
    return {"ASAN_OPTIONS": os.environ["ASAN_OPTIONS"] + ":detect_leaks=0"}


def start_with_events_held(start_sluice, limit, args=(), events=100):
    port = free_port()
    s = start_sluice(down_receiver_config(port, limit), args=args, stdin=subprocess.PIPE,
                     env=leaks_left_to_exit())
    s.wait_healthy(port)
    s.proc.stdin.write("".join(line(i) for i in range(events)).encode())
    s.proc.stdin.flush()
    wait_for(lambda: metric_value(port, "component_received_events_total",
                                  component_id="out") == events,
             what="the sink to read every event")
    return s


def timed_terminate(s, timeout=60):
    started = time.monotonic()
    code = s.terminate(timeout=timeout)
    return code, time.monotonic() - started


def test_memory_buffer_waits_for_the_limit_then_says_what_is_pending(tmp_path,
                                                                       start_sluice):
    s = start_with_events_held(start_sluice, limit=3)
    code, took = timed_terminate(s)
    assert code == 0, s.stderr()
    assert 2.5 <= took < 8, f"shutdown took {took:.1f} s with a 3 s limit"
    err = s.stderr()
    assert "shutdown did not finish within 3.0 s" in err, err
    assert re.search(r"not delivered: 0 events in 0 batches in the memory buffer and "
                     r"100 events held by the sink; sources with acknowledgements read "
                     r"them again", err), err


def test_graceful_shutdown_limit_flag_overrides_the_config(tmp_path, start_sluice):
    s = start_with_events_held(start_sluice, limit=60,
                               args=("--graceful-shutdown-limit-secs", "1"))
    code, took = timed_terminate(s)
    assert code == 0, s.stderr()
    assert took < 5, f"shutdown took {took:.1f} s with a 1 s limit"
    assert "shutdown did not finish within 1.0 s" in s.stderr()


def test_no_graceful_shutdown_limit_waits_without_limit(tmp_path, start_sluice):
    s = start_with_events_held(start_sluice, limit=1, args=("--no-graceful-shutdown-limit",))
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(3)
    assert s.proc.poll() is None, "sluice stopped although the drain has no limit"
    assert "shutdown did not finish" not in s.stderr()
    s.kill()
