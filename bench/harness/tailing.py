"""Runs of sources that never end by themselves: sluice is stopped once
/metrics shows that the blackhole has received every event."""
import os
import pathlib
import signal
import sys
import tempfile
import time

from harness.metrics import events_metrics, free_port, metric_value, scrape_metrics
from harness.process import Process, Run, check_exit, fail, tree_cpu_seconds
from harness.verify import verify_blackhole_exact, verify_wc_total


class TailingRuns:
    """Bench's count_throughput: the tailing scenarios."""

    def count_throughput(self, scenario_name, input_path, files, expected, ref_lines):
        """sluice (the scenario's config, ${INPUT} = input_path) K times, each
        run stopped once the blackhole `out` has received `expected` events,
        then `wc -l` on `files` (which must count ref_lines) K times."""
        if self.args.peer:
            sys.exit(f"{scenario_name}: --peer is not supported (a peer's tailer never "
                     "ends and its count can't be read)")
        self.input = pathlib.Path(input_path)
        runs = []
        for i in range(self.args.runs):
            with tempfile.TemporaryDirectory(prefix="sluice-bench-sluice-") as rundir:
                cmd = self.sluice_cmd(scenario_name, rundir)
                run = self.run_to_count(cmd, rundir, expected, i)
                check_exit("sluice", i, run)
                problem = verify_blackhole_exact(run, expected)
                if problem:
                    fail("sluice", i, run, problem)
                runs.append(run)
                print(f"  sluice run {i + 1}/{self.args.runs}: {run.wall:.3f}s to the count, "
                      f"{run.cpu:.2f}s cpu, {run.maxrss_mb:.1f} MB, {run.polls} polls",
                      file=sys.stderr)
        results = [self.summary("sluice", runs)]
        results[0]["until_count"] = True
        cmd = ["wc", "-l", *map(str, files)]
        results.append(self.reference("wc -l", cmd,
                                      lambda bench, out: verify_wc_total(out, ref_lines)))
        return results

    def run_to_count(self, cmd, rundir, expected, i, component="out",
                     metric="sluice_component_received_events_total"):
        """Starts cmd with ${API_ADDRESS} a free port, polls /metrics every
        --poll-ms until `metric` of `component` reaches expected, then sends
        SIGTERM and reaps it. Run.wall is the time to the poll that saw the
        count; Run.cpu the process tree's CPU then. A run that exits early or
        does not get there within the timeout fails with what it had seen."""
        env, outdir = self.env(rundir)
        port = free_port()
        env["API_ADDRESS"] = f"127.0.0.1:{port}"
        stderr_path = pathlib.Path(rundir) / "stderr.txt"
        timeout = self.run_timeout()
        interval = self.args.poll_ms / 1000.0
        os.sync()
        seen, last, polls, reached, cpu = 0, "", 0, None, 0.0
        with open(stderr_path, "wb") as err, open(os.devnull, "rb") as stdin:
            start = time.monotonic()
            proc = Process(cmd, stdin, err, env)
            tick = start
            while proc.poll() is None:
                text = scrape_metrics(port)
                now = time.monotonic()
                polls += 1
                if text is not None:
                    last = text
                    seen = metric_value(text, metric, component)
                    if seen >= expected:
                        reached = now
                        cpu = tree_cpu_seconds(proc.pid)
                        break
                if now - start > timeout:
                    break
                tick += interval
                time.sleep(max(0.0, tick - time.monotonic()))
            early_exit = proc.returncode
            proc.send_signal(signal.SIGTERM)
            try:
                rusage = proc.wait(90)
            except TimeoutError as e:
                tail = stderr_path.read_text(errors="replace").splitlines()[-20:]
                sys.exit(f"sluice run {i + 1}: no exit within 90 s of SIGTERM ({e})\n"
                         "--- stderr (tail) ---\n" + "\n".join(tail))
        stderr = stderr_path.read_text(errors="replace")
        run = Run(proc.returncode, (reached or time.monotonic()) - start,
                  cpu or rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss, stderr, outdir)
        run.polls = polls
        if reached is None:
            why = (f"exited by itself (status {early_exit}) before the count"
                   if early_exit is not None else
                   f"did not reach the count within {timeout:.0f}s")
            fail("sluice", i, run,
                 f"{why}: {component} {metric} = {seen} of {expected} after {polls} polls"
                 f"\n--- last metrics (events) ---\n{events_metrics(last) or '(none scraped)'}")
        return run
