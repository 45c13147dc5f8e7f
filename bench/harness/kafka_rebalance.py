"""One run of kafka_rebalance: two sluice processes in one consumer group on
a topic a writer fills at a steady rate, the second joining mid-stream and
the first stopped mid-stream with SIGTERM. What it measures, from the two
outputs (every event stamped by a remap with the time sluice received it):
messages lost (must be 0) and delivered twice, and for each partition that
changed hands how long it paused. Every wait has a deadline."""
import json
import os
import pathlib
import re
import signal
import sys
import tempfile
import threading
import time

from harness.metrics import free_port, scrape_metrics
from harness.process import Process

PARTITIONS = 4
TOPIC = "rebalance"
SENT_METRIC = "sluice_component_sent_events_total"


class Writer(threading.Thread):
    """Preloads messages at `rate` per second for `duration` seconds, in
    chunks (each preload is a producer of the mock's own, which lingers
    100 ms): the stream arrives in bursts a few hundred ms apart, which
    bounds how finely a pause can be seen."""

    def __init__(self, mock, rate, duration, size):
        super().__init__(daemon=True)
        self.mock, self.rate, self.duration, self.size = mock, rate, duration, size
        self.written, self.chunks, self.error = 0, 0, None
        self.started = self.stopped = None
        self.halt = threading.Event()      # a failed run stops it early

    def run(self):
        try:
            self.started = time.monotonic()
            while True:
                elapsed = time.monotonic() - self.started
                if elapsed >= self.duration or self.halt.is_set():
                    break
                due = min(int(self.rate * elapsed), int(self.rate * self.duration))
                if due - self.written < max(1, self.rate // 20):
                    time.sleep(0.01)
                    continue
                count, _ = self.mock.preload(TOPIC, due - self.written, self.size)
                self.written += count
                self.chunks += 1
        except Exception as e:       # reported by the run, which fails
            self.error = e
        finally:
            self.stopped = time.monotonic()


class Member:
    """One sluice process of the group: its run directory, API port and
    output file."""

    def __init__(self, bench, scenario_name, rundir, bootstrap, group):
        self.dir = pathlib.Path(rundir)
        self.dir.mkdir()
        self.port = free_port()
        self.cmd = bench.sluice_cmd(scenario_name, self.dir)
        self.env, self.outdir = bench.env(self.dir)
        self.env.update(KAFKA_BOOTSTRAP=bootstrap, KAFKA_TOPIC=TOPIC, KAFKA_GROUP=group,
                        API_ADDRESS=f"127.0.0.1:{self.port}")
        self.proc = None
        self.started = None

    def start(self):
        self.started = time.time()
        with open(self.dir / "stderr.txt", "wb") as err, open(os.devnull, "rb") as stdin:
            self.proc = Process(self.cmd, stdin, err, self.env)

    def sent(self):
        text = scrape_metrics(self.port)
        if text is None:
            return None
        from harness.kafka_runs import component_count
        return component_count(text, SENT_METRIC, "out")

    def stop(self, timeout=60):
        """SIGTERM, then the seconds until it exited (killed after
        timeout)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except TimeoutError:
            return None
        return time.monotonic() - t0

    def commit_failures(self):
        """The commits the source logged as failed (a revoke's commit that
        failed leaves the new owner to read from the last one that did)."""
        path = self.dir / "stderr.txt"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text.count("Could not commit offsets")

    def stderr_tail(self):
        path = self.dir / "stderr.txt"
        text = path.read_text(errors="replace") if path.exists() else "(not started)"
        return "\n".join(text.splitlines()[-15:])

    def deliveries(self):
        """(received, partition, seq) of every event in the output."""
        rows = []
        for path in sorted(self.outdir.glob("*")):
            with open(path, "rb") as f:
                for line in f:
                    e = json.loads(line)
                    rows.append((float(e["received_at"]), e["partition"],
                                 int(e["message"].split(" ", 1)[0])))
        return rows


class Missing:
    """The sequence numbers no output has shown yet: A's deliveries, then
    B's output file read as it grows (only the number, by a regex: this
    runs every half second while B is still consuming)."""

    SEQ = re.compile(rb'"message":"(\d+) ')

    def __init__(self, total, rows):
        self.seen = bytearray(total)
        for _, _, seq in rows:
            if seq < total:
                self.seen[seq] = 1
        self.offset = 0

    def left(self, path):
        try:
            with open(path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        whole = chunk[:chunk.rfind(b"\n") + 1]
        self.offset += len(whole)
        for m in self.SEQ.finditer(whole):
            seq = int(m.group(1))
            if seq < len(self.seen):
                self.seen[seq] = 1
        return self.seen.count(0)


def wait_until(what, check, deadline, step=0.1):
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    raise TimeoutError(what)


def rebalance_once(bench, peers, scenario_name, i):
    with tempfile.TemporaryDirectory(prefix="sluice-bench-rebalance-") as tmp:
        return rebalance_in(bench, peers, scenario_name, i, pathlib.Path(tmp))


def rebalance_in(bench, peers, scenario_name, i, tmp):
    args = bench.args
    group = f"bench-rebalance-{os.getpid()}-{i}"
    problems = []
    with peers.KafkaMock(topics={TOPIC: PARTITIONS}) as mock:
        a = Member(bench, scenario_name, tmp / "a", mock.bootstrap, group)
        b = Member(bench, scenario_name, tmp / "b", mock.bootstrap, group)
        writer = Writer(mock, args.rate, args.duration, args.line_bytes)
        t_term, a_exit, a_rows = None, None, []
        try:
            a.start()
            writer.start()
            # The first join of an empty group takes 3 s in the mock.
            wait_until("sluice A delivered nothing within 20 s",
                       lambda: (a.sent() or 0) > 0, time.monotonic() + 20)
            time.sleep(max(0.0, writer.started + args.duration / 3 - time.monotonic()))
            b.start()
            wait_until("sluice B delivered nothing within 30 s of its start",
                       lambda: (b.sent() or 0) > 0, time.monotonic() + 30)
            time.sleep(max(0.0, writer.started + 2 * args.duration / 3 - time.monotonic()))
            t_term = time.time()
            a_exit = a.stop()
            if a_exit is None:
                problems.append("sluice A did not exit within 60 s of SIGTERM")
            elif a.proc.returncode != 0:
                problems.append(f"sluice A exit status {a.proc.returncode}")
            writer.join(args.duration + 60)
            a_rows = a.deliveries()
            missing = Missing(writer.written, a_rows)
            wait_until("B did not deliver every message within 60 s of the writer's end",
                       lambda: missing.left(b.outdir / "out.json") == 0,
                       time.monotonic() + 60, step=0.5)
        except TimeoutError as e:
            problems.append(str(e))
            writer.halt.set()
        finally:
            for m in (a, b):
                if m.proc and m.proc.poll() is None and m.stop() is None:
                    problems.append("a sluice did not exit within 60 s of SIGTERM")
            writer.join(args.duration + 60)
        if writer.error or writer.is_alive():
            problems.append(f"the writer failed: {writer.error or 'still running'}")
        total = writer.written
        a_rows = a_rows or (a.deliveries() if a.proc else [])
        b_rows = b.deliveries() if b.proc else []
        if b.proc and b.proc.returncode != 0:
            problems.append(f"sluice B exit status {b.proc.returncode}")
    result = analyse(a_rows, b_rows, total, b.started, t_term)
    span = (writer.stopped - writer.started) if writer.started and writer.stopped else 0
    result.update(write_rate=total / span if span > 0 else 0.0, chunks=writer.chunks,
                  a_exit_s=a_exit, commit_failures=a.commit_failures() + b.commit_failures())
    if result["lost"]:
        problems.append(f"{result['lost']} of {total} messages lost (first: seq "
                        f"{result['first_lost']})")
    if problems:
        problems.append("A stderr (tail):\n" + a.stderr_tail())
        problems.append("B stderr (tail):\n" + b.stderr_tail())
    result["problems"] = [f"run {i + 1}: " + "\n".join(problems)] if problems else []
    print(f"  run {i + 1}: {total:,} messages at {result['write_rate']:,.0f}/s in "
          f"{writer.chunks} chunks; A {len(a_rows):,}, B {len(b_rows):,} delivered; lost "
          f"{result['lost']}, duplicated {result['duplicated']} ({result['commit_failures']} "
          f"commits logged as failed); longest pause after B "
          f"joined: {fmt_pauses(result['join_pause_s'])} (before: "
          f"{fmt_pauses(result['baseline_gap_s'])}); A stopped (exit in "
          f"{a_exit if a_exit is None else round(a_exit, 2)} s): "
          f"{fmt_pauses(result['leave_resume_s'])}", file=sys.stderr)
    return result


def fmt_pauses(pauses):
    return ", ".join(f"p{p} {s:.2f}s" for p, s in sorted(pauses.items())) or "none"


def largest_gap(times, lo, hi):
    """The longest wait between consecutive deliveries, over those that
    ended a wait within [lo, hi)."""
    return max((t - prev for prev, t in zip(times, times[1:]) if lo <= t < hi), default=0.0)


def analyse(a_rows, b_rows, total, t_join, t_term):
    """Lost and duplicated messages, and per partition: the longest pause
    between deliveries (A's or B's) from B's start to A's SIGTERM (the
    eager protocol revokes every partition when a member joins, so the
    partitions A keeps pause too), the same over the 3 s before B started
    (the writer's chunks: the resolution), and for each partition A held
    when it got SIGTERM, the time from the SIGTERM to B's first message
    of it."""
    seen = bytearray(total)
    duplicated = 0
    for _, _, seq in a_rows + b_rows:
        if seq < total:
            if seen[seq]:
                duplicated += 1
            seen[seq] = 1
    lost = seen.count(0)
    join_pause, baseline, leave_resume = {}, {}, {}
    t_term = t_term or float("inf")
    for p in range(PARTITIONS):
        a_times = sorted(t for t, q, _ in a_rows if q == p)
        b_times = sorted(t for t, q, _ in b_rows if q == p)
        both = sorted(a_times + b_times)
        if t_join is not None:
            join_pause[p] = largest_gap(both, t_join, t_term)
            baseline[p] = largest_gap(both, t_join - 3, t_join)
        a_last = max((t for t in a_times if t < t_term), default=0)
        b_last = max((t for t in b_times if t < t_term), default=0)
        b_after = [t for t in b_times if t >= t_term]
        if a_last > b_last and b_after:
            leave_resume[p] = b_after[0] - t_term
    return {"messages": total, "lost": lost, "duplicated": duplicated,
            "first_lost": seen.index(0) if lost else None,
            "join_pause_s": join_pause, "baseline_gap_s": baseline,
            "leave_resume_s": leave_resume}
