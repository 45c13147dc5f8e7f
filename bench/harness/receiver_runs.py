"""Runs of the HTTP sink scenarios: sluice sends to a local counting receiver
(bench/receiver.py serve, tests/peers/bench.py) and is stopped once it has
accepted every event."""
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from harness.common import ROOT, SEED
from harness.inputs import ensure_input
from harness.metrics import events_metrics, free_port, scrape_metrics
from harness.process import LIVE_POPEN, LineReader, Process, tree_cpu_seconds


class ReceiverRuns:
    """Bench's receiver_throughput: the HTTP sink scenarios."""

    def receiver_throughput(self, scenario_name, kind, faults):
        """--runs runs of sluice (the scenario's config, ${INPUT} the cached
        input, ${RECEIVER_URL} a fresh bench/receiver.py) stopped once the
        receiver has accepted every event; with faults, each clean run is
        followed by a fault run, and both are summarised. Any lost or
        duplicated event, or a problem the receiver saw, fails the scenario."""
        if self.args.peer:
            sys.exit(f"{scenario_name}: --peer is not supported")
        args = self.args
        self.input = ensure_input(args.events, args.line_bytes)
        modes = [("clean", 0.0, 0.0)]
        if faults:
            modes.append(("faults", args.fail_percent,
                          args.item_429_percent if kind == "elasticsearch" else 0.0))
        runs = {m[0]: [] for m in modes}
        for i in range(args.runs):
            for mode, fail_pct, item_pct in modes:
                r = self.receiver_once(scenario_name, kind, fail_pct, item_pct, i)
                runs[mode].append(r)
                print(f"  sluice {mode} run {i + 1}/{args.runs}: receiver "
                      f"{r['events_per_s']:,.0f} events/s ({r['receiver_s']:.3f}s from its "
                      f"first request; {r['wall_s']:.3f}s from sluice's start), sluice "
                      f"{r['cpu_s']:.2f}s cpu, {r['peak_rss_mb']:.1f} MB; {r['requests']} "
                      f"requests, {r['answered_503']} 503, {r['items_429']} items 429; lost "
                      f"{r['lost']}, duplicated {r['duplicated']}", file=sys.stderr)
        results = []
        for mode, fail_pct, item_pct in modes:
            rs = runs[mode]
            med = lambda k: statistics.median(r[k] for r in rs)
            res = {"program": "sluice" if mode == "clean" else "faults", "mode": mode,
                   "receiver": kind, "runs": len(rs), "fail_percent": fail_pct,
                   "item_429_percent": item_pct,
                   "events_per_s": med("events_per_s"),
                   "events_per_s_all": [round(r["events_per_s"]) for r in rs],
                   "mb_per_s": med("events_per_s") * args.line_bytes / 1e6,
                   "receiver_s": med("receiver_s"), "wall_s": med("wall_s"),
                   "cpu_s": med("cpu_s"), "peak_rss_mb": med("peak_rss_mb"),
                   "receiver_cpu_s": med("receiver_cpu_s"),
                   "requests": med("requests"), "answered_503": med("answered_503"),
                   "items_429": med("items_429"),
                   "lost": sum(r["lost"] for r in rs),
                   "duplicated": sum(r["duplicated"] for r in rs),
                   "problems": [p for r in rs for p in r["problems"]]}
            res["failed"] = bool(res["problems"])
            results.append(res)
        if faults:
            results[1]["ratio"] = results[1]["events_per_s"] / results[0]["events_per_s"]
        return results

    def receiver_once(self, scenario_name, kind, fail_pct, item_pct, i):
        args = self.args
        with tempfile.TemporaryDirectory(prefix="sluice-bench-http-") as rundir:
            rundir = pathlib.Path(rundir)
            cmd = self.sluice_cmd(scenario_name, rundir)
            env, outdir = self.env(rundir)
            port = free_port()
            env["API_ADDRESS"] = f"127.0.0.1:{port}"
            if args.retry_backoff is not None:
                env["RETRY_BACKOFF_SECS"] = f"{args.retry_backoff:g}"
            rcmd = [sys.executable, str(ROOT / "bench" / "receiver.py"), "serve",
                    "--kind", kind, "--expected", str(args.events),
                    "--fail-percent", f"{fail_pct:g}", "--item-429-percent", f"{item_pct:g}",
                    "--seed", str(SEED + i)]
            with open(rundir / "receiver-stderr.txt", "wb") as rerr:
                receiver = subprocess.Popen(rcmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=rerr)
            LIVE_POPEN.append(receiver)
            reader = LineReader(receiver.stdout)
            hello = reader.next(10)
            if not hello or hello.get("event") != "listening":
                receiver.kill()
                tail = (rundir / "receiver-stderr.txt").read_text(errors="replace")[-2000:]
                sys.exit(f"bench/receiver.py did not start\n{tail}")
            env["RECEIVER_URL"] = f"http://127.0.0.1:{hello['port']}"
            stderr_path = rundir / "stderr.txt"
            # Fault runs with sluice's default backoff (1 s, doubling to 30 s)
            # can spend a minute in a chain of retries: a longer limit.
            timeout = self.run_timeout() + (120 if fail_pct or item_pct else 0)
            os.sync()
            done, cpu, why, last = None, 0.0, None, ""
            with open(stderr_path, "wb") as err, open(os.devnull, "rb") as stdin:
                start = time.monotonic()
                proc = Process(cmd, stdin, err, env)
                while True:
                    msg = reader.next(0.02)
                    if msg and msg.get("event") == "done":
                        cpu = tree_cpu_seconds(proc.pid)
                        done = msg
                        break
                    if proc.poll() is not None:
                        why = f"sluice exited by itself (status {proc.returncode}) before the count"
                        break
                    if time.monotonic() - start > timeout:
                        why = f"the receiver did not get every event within {timeout:.0f}s"
                        last = scrape_metrics(port) or ""
                        break
                proc.send_signal(signal.SIGTERM)
                try:
                    rusage = proc.wait(90)
                except TimeoutError as e:
                    sys.exit(f"sluice run {i + 1}: no exit within 90 s of SIGTERM ({e})")
            # sluice is gone: whatever it sent has reached the receiver's socket.
            time.sleep(0.2)
            receiver.stdin.close()
            final = reader.next(60)
            receiver.wait(30)
            LIVE_POPEN.remove(receiver)
            stderr = stderr_path.read_text(errors="replace")
            if not final or final.get("event") != "final":
                sys.exit("bench/receiver.py gave no final report\n" +
                         (rundir / "receiver-stderr.txt").read_text(errors="replace")[-2000:])
            problems = []
            if why:
                problems.append(f"{why}: the receiver has {final['accepted_distinct']} of "
                                f"{args.events}")
            if proc.returncode != 0:
                problems.append(f"sluice exit status {proc.returncode}")
            if final["lost"] or final["duplicated"] or final["out_of_range"]:
                problems.append(f"lost {final['lost']}, duplicated {final['duplicated']}, "
                                f"out of range {final['out_of_range']}")
            if final["problem_count"]:
                problems.append(f"{final['problem_count']} malformed requests: " +
                                "; ".join(final["problems"][:5]))
            if last:
                problems.append("last metrics:\n" + events_metrics(last))
            if problems:
                problems.append("stderr (tail):\n" + "\n".join(stderr.splitlines()[-15:]))
                problems = [f"{'fault' if fail_pct or item_pct else 'clean'} run {i + 1}: " +
                            "\n".join(problems)]
            secs = (done["t_done"] - done["t_first"]) if done else float("nan")
            return {
                "events_per_s": args.events / secs if done and secs > 0 else 0.0,
                "receiver_s": secs,
                "wall_s": (done["t_done"] - start) if done else float("nan"),
                "cpu_s": cpu or rusage.ru_utime + rusage.ru_stime,
                "peak_rss_mb": rusage.ru_maxrss / 1024.0,
                "receiver_cpu_s": final["cpu_s"],
                "requests": final["requests"], "answered_503": final["answered_503"],
                "items_429": final["items_429"],
                "lost": final["lost"], "duplicated": final["duplicated"],
                "problems": problems,
            }
