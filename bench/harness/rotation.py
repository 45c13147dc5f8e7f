"""Runs of k8s_rotation and file_rotation: a live writer (bench/run
_k8s_writer) appends and rotates as kubelet does while sluice tails; every
line must arrive exactly once."""
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from harness.common import ROOT
from harness.cri import CriMaker, k8s_pod_dir_name
from harness.metrics import events_metrics, free_port, metric_value, scrape_metrics
from harness.process import Process, Run, fail, tree_cpu_seconds
from harness.verify import percentile, verify_every_line_once, write_to_sink_lags


class RotationRuns:
    """Bench's rotation: the log rotation scenarios."""

    def rotation(self, scenario_name):
        """--runs runs of: sluice started on an empty pod tree, then the
        writer (this script, `_k8s_writer`) writing for --duration seconds;
        sluice is stopped once its sink has written as many lines as the
        writer wrote (plus a second to see any duplicate arrive), or when its
        count has stalled for 15 s. Every run's output is checked line by
        line; any lost, duplicated or malformed line fails the scenario."""
        if self.args.peer:
            sys.exit(f"{scenario_name}: --peer is not supported")
        runs = []
        for i in range(self.args.runs):
            with tempfile.TemporaryDirectory(prefix="sluice-bench-rotation-") as rundir:
                tree = pathlib.Path(rundir) / "pods"
                container = tree / k8s_pod_dir_name(0) / "app"
                container.mkdir(parents=True)
                self.input = tree
                cmd = self.sluice_cmd(scenario_name, rundir)
                r = self.rotation_once(cmd, rundir, container, i)
                runs.append(r)
                print(f"  sluice run {i + 1}/{self.args.runs}: {r['lines']} lines at "
                      f"{r['write_rate']:,.0f}/s, {r['rotations']} rotations, lost "
                      f"{r['lost']}, duplicated {r['duplicated']}, malformed "
                      f"{r['malformed']}, lag p50 {r['lag_p50_ms']:.0f} ms p99 "
                      f"{r['lag_p99_ms']:.0f} ms max {r['lag_max_ms']:.0f} ms, catch-up "
                      f"{r['catch_up_s']:.2f}s, {r['cpu_percent']:.1f}% cpu", file=sys.stderr)
        med = lambda k: statistics.median(r[k] for r in runs)
        result = {"program": "sluice", "runs": len(runs)}
        for k in ("lines", "write_rate", "rotations", "lag_p50_ms", "lag_p99_ms",
                  "lag_max_ms", "catch_up_s", "cpu_s", "cpu_percent", "peak_rss_mb"):
            result[k] = med(k)
        for k in ("lost", "duplicated", "malformed"):
            result[k] = sum(r[k] for r in runs)
        result["problems"] = [r["problem"] for r in runs if r["problem"]]
        result["failed"] = bool(result["problems"])
        return [result]

    def rotation_once(self, cmd, rundir, container, i):
        args = self.args
        env, outdir = self.env(rundir)
        port = free_port()
        env["API_ADDRESS"] = f"127.0.0.1:{port}"
        rundir = pathlib.Path(rundir)
        stderr_path = rundir / "stderr.txt"
        interval = args.poll_ms / 1000.0
        polls, seen, last = [], 0, ""
        with open(stderr_path, "wb") as err, open(os.devnull, "rb") as stdin:
            proc = Process(cmd, stdin, err, env)
            start = time.monotonic()
            while scrape_metrics(port) is None:        # the API answers: it is running
                if proc.poll() is not None or time.monotonic() - start > 30:
                    break
                time.sleep(0.02)
            if proc.poll() is not None:
                run = Run(proc.returncode, 0, 0, proc.rusage.ru_maxrss,
                          stderr_path.read_text(errors="replace"), outdir)
                fail("sluice", i, run, f"exited at start-up (status {proc.returncode})")
            cpu_before = tree_cpu_seconds(proc.pid)
            result_path = rundir / "writer.json"
            cfg = {"dir": str(container), "rate": args.rate, "duration": args.duration,
                   "rotate_mib": args.rotate_mib, "keep_rotated": args.keep_rotated,
                   "line_bytes": args.line_bytes, "partial_percent": args.partial_percent,
                   "result": str(result_path)}
            with open(rundir / "writer-stderr.txt", "wb") as werr:
                writer = subprocess.Popen([sys.executable, str(ROOT / "bench" / "run"), "_k8s_writer",
                                           json.dumps(cfg)], stdin=subprocess.DEVNULL,
                                          stdout=werr, stderr=werr)
            wrote, cpu_window, reached, settle_until = None, 0.0, None, None
            last_change, tick = time.monotonic(), time.monotonic()
            deadline = tick + args.duration + 120
            stop_reason = None
            while True:
                text = scrape_metrics(port)
                now = time.monotonic()
                if text is not None:
                    last = text
                    count = metric_value(text, "sluice_component_sent_events_total", "out")
                    if count != seen:
                        last_change = now
                    seen = count
                    polls.append((now, count))
                if wrote is None and writer.poll() is not None:
                    cpu_window = tree_cpu_seconds(proc.pid) - cpu_before
                    if writer.returncode != 0 or not result_path.exists():
                        proc.send_signal(signal.SIGTERM)
                        proc.wait(90)
                        tail = (rundir / "writer-stderr.txt").read_text(errors="replace")
                        sys.exit(f"the writer failed (status {writer.returncode})\n{tail[-2000:]}")
                    wrote = json.loads(result_path.read_text())
                    last_change = max(last_change, now)
                if proc.poll() is not None:
                    stop_reason = f"sluice exited by itself (status {proc.returncode})"
                    break
                if wrote is not None:
                    if reached is None and seen >= wrote["lines"]:
                        reached = now
                        settle_until = now + 1.0   # time for a duplicate to show
                    if settle_until is not None and now >= settle_until:
                        break
                    if reached is None and now - last_change > 15:
                        stop_reason = (f"the sink's count stalled at {seen} of "
                                       f"{wrote['lines']} for 15 s")
                        break
                if now > deadline:
                    stop_reason = f"not done {args.duration + 120:.0f}s after the start"
                    break
                tick += interval
                time.sleep(max(0.0, tick - time.monotonic()))
            if writer.poll() is None:
                writer.kill()
                writer.wait()
            proc.send_signal(signal.SIGTERM)
            try:
                rusage = proc.wait(90)
            except TimeoutError as e:
                sys.exit(f"sluice run {i + 1}: no exit within 90 s of SIGTERM ({e})")
        stderr = stderr_path.read_text(errors="replace")
        if wrote is None:
            run = Run(proc.returncode, 0, 0, rusage.ru_maxrss, stderr, outdir)
            fail("sluice", i, run, stop_reason or "the writer did not finish")
        maker = CriMaker(args.line_bytes, args.partial_percent)
        check = verify_every_line_once(outdir, wrote["lines"], maker)
        problems = [p for p in (stop_reason, check["problem"]) if p]
        if proc.returncode != 0:
            problems.append(f"sluice exit status {proc.returncode}")
        if stop_reason:
            problems.append("last metrics:\n" + events_metrics(last))
        if problems:
            problems.append("stderr (tail):\n" + "\n".join(stderr.splitlines()[-15:]))
        lags = write_to_sink_lags(wrote["progress"], polls, wrote["lines"], reached)
        window = wrote["t_end"] - wrote["t0"]
        return {
            "lines": wrote["lines"],
            "write_rate": wrote["lines"] / window,
            "rotations": wrote["rotations"],
            "compressed": wrote["compressed"],
            "deleted": wrote["deleted"],
            "lost": check["lost"], "duplicated": check["duplicated"],
            "malformed": check["malformed"],
            "lag_p50_ms": percentile(lags, 50) * 1000,
            "lag_p99_ms": percentile(lags, 99) * 1000,
            "lag_max_ms": max(lags, default=0.0) * 1000,
            "catch_up_s": (reached - wrote["t_end"]) if reached else float("nan"),
            "cpu_s": cpu_window,
            "cpu_percent": cpu_window / window * 100.0,
            "peak_rss_mb": rusage.ru_maxrss / 1024.0,
            "problem": "\n".join(problems) or None,
        }
