"""Drain on shutdown: SIGTERM while data is flowing must leave the sink's
output an exact, in-order prefix of the input (nothing lost in the middle,
nothing duplicated) that holds at least every event the source had already
sent, and sluice must exit 0. When the input simply ends, every event must
arrive and sluice must stop by itself."""
import json
import re
import subprocess
import threading
import time

from conftest import free_port, metric_value
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
