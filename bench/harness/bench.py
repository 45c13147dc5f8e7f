"""The Bench: runs one scenario's processes, measures them, and summarises
the runs. The scenario kinds that need more than "run to completion" live
in mixins beside it (tailing, receiver_runs, rotation, kafka_runs)."""
import os
import pathlib
import shutil
import signal
import statistics
import sys
import tempfile
import time

from harness.common import SCENARIO_DIR, rel
from harness.inputs import INPUT_KINDS
from harness.kafka_runs import KafkaRuns
from harness.process import Process, Run, check_exit, fail, tree_cpu_seconds
from harness.receiver_runs import ReceiverRuns
from harness.rotation import RotationRuns
from harness.tailing import TailingRuns


class Bench(TailingRuns, ReceiverRuns, RotationRuns, KafkaRuns):
    """Runs one scenario: holds the arguments, the input and the results."""

    def __init__(self, args):
        self.args = args
        self.input = None

    # -- process launching

    def sluice_cmd(self, scenario_name, rundir):
        """The sluice command line with the scenario's config copied into the
        run directory (so a kept run directory reproduces the run)."""
        src = SCENARIO_DIR / f"{scenario_name}.yaml"
        if not src.exists():
            sys.exit(f"no config {rel(src)} for scenario {scenario_name}")
        config = pathlib.Path(rundir) / src.name
        shutil.copyfile(src, config)
        threads = ["--threads", str(self.args.threads)] if self.args.threads else []
        return [self.args.bin, "run", "-c", str(config), *threads]

    def env(self, rundir):
        outdir = pathlib.Path(rundir) / "out"
        datadir = pathlib.Path(rundir) / "data"
        outdir.mkdir(exist_ok=True)
        datadir.mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update(INPUT=str(self.input or ""), OUTDIR=str(outdir), DATA_DIR=str(datadir))
        return env, outdir

    def command(self, who, scenario_name, rundir):
        if who == "sluice":
            return self.sluice_cmd(scenario_name, rundir)
        return ["/bin/sh", "-c", self.args.peer]

    def run_once(self, cmd, stdin, rundir, timeout=None, stop_when=None,
                 stdout_path="/dev/null"):
        """Runs cmd to completion and measures it. stop_when(outdir), when
        given, is polled and a True answer sends SIGTERM (for sources that
        never end by themselves, like a file tailer)."""
        env, outdir = self.env(rundir)
        stderr_path = pathlib.Path(rundir) / "stderr.txt"
        timeout = timeout or self.run_timeout()
        # The previous run's output may still be waiting to be written back;
        # flushing it first keeps one run from paying for another's I/O.
        os.sync()
        with open(stderr_path, "wb") as err:
            start = time.monotonic()
            proc = Process(cmd, stdin, err, env, stdout_path)
            if stop_when:
                while proc.poll() is None and not stop_when(outdir):
                    if time.monotonic() - start > timeout:
                        break
                    time.sleep(0.05)
                proc.send_signal(signal.SIGTERM)
            rusage = proc.wait(timeout)
            wall = time.monotonic() - start
        return Run(proc.returncode, wall, rusage.ru_utime + rusage.ru_stime,
                   rusage.ru_maxrss, stderr_path.read_text(errors="replace"), outdir)

    def run_timeout(self):
        # Generous: 100k events/s is 30x below the slowest target.
        return 60 + self.args.events / 100_000

    # -- scenario kinds

    def throughput(self, scenario_name, verify, peer_verify=None,
                   stdin_from_input=True, stop_when=None, input_kind="seq"):
        """The common shape: input file -> sluice (and peer) K times each,
        every run verified (peer runs by peer_verify, when not None), medians
        reported. stdin_from_input=False gives the process /dev/null (a file
        source reads ${INPUT} itself); stop_when as in run_once; input_kind
        picks the generator in INPUT_KINDS."""
        self.input = INPUT_KINDS[input_kind](self.args.events, self.args.line_bytes)
        results = [self.measure_runs("sluice", scenario_name, verify,
                                     stdin_from_input, stop_when)]
        if self.args.peer:
            results.append(self.measure_runs("peer", scenario_name, peer_verify,
                                             stdin_from_input, stop_when))
        return results

    def measure_runs(self, who, scenario_name, verify, stdin_from_input, stop_when):
        runs = []
        for i in range(self.args.runs):
            with tempfile.TemporaryDirectory(prefix=f"sluice-bench-{who}-") as rundir:
                cmd = self.command(who, scenario_name, rundir)
                with open(self.input if stdin_from_input else os.devnull, "rb") as stdin:
                    run = self.run_once(cmd, stdin, rundir, stop_when=stop_when)
                check_exit(who, i, run)
                problem = verify(self, run) if verify else None
                if problem:
                    fail(who, i, run, problem)
                runs.append(run)
                print(f"  {who} run {i + 1}/{self.args.runs}: {run.wall:.2f}s wall, "
                      f"{run.cpu:.2f}s cpu, {run.maxrss_mb:.1f} MB", file=sys.stderr)
        return self.summary(who, runs)

    def reference(self, name, cmd, verify):
        """A reference program (not a pipeline) run K times on the input the
        last throughput() used, stdin /dev/null; verify(bench, stdout text)
        checks each run. Summarised like sluice's runs, for the ratio."""
        runs = []
        for i in range(self.args.runs):
            with tempfile.TemporaryDirectory(prefix=f"sluice-bench-{name}-") as rundir:
                stdout_path = pathlib.Path(rundir) / "stdout.txt"
                with open(os.devnull, "rb") as stdin:
                    run = self.run_once(cmd, stdin, rundir, stdout_path=str(stdout_path))
                check_exit(name, i, run)
                problem = verify(self, stdout_path.read_text(errors="replace"))
                if problem:
                    fail(name, i, run, problem)
                runs.append(run)
                print(f"  {name} run {i + 1}/{self.args.runs}: {run.wall:.2f}s wall, "
                      f"{run.cpu:.2f}s cpu", file=sys.stderr)
        return self.summary(name, runs)

    def summary(self, who, runs):
        input_bytes = self.input_bytes()
        walls = [r.wall for r in runs]
        return {
            "program": who,
            "runs": len(runs),
            "events_per_s": statistics.median(self.args.events / w for w in walls),
            "mb_per_s": statistics.median(input_bytes / 1e6 / w for w in walls),
            "wall_s": statistics.median(walls),
            "cpu_s": statistics.median(r.cpu for r in runs),
            "peak_rss_mb": statistics.median(r.maxrss_mb for r in runs),
        }

    def input_bytes(self):
        """Bytes of the input: the file, or every file under the directory."""
        if self.input.is_dir():
            return sum(p.stat().st_size for p in self.input.rglob("*") if p.is_file())
        return self.input.stat().st_size

    def idle(self, scenario_name, seconds):
        """Starts the process with stdin a pipe nobody writes, lets it settle
        for a second, then measures the CPU it uses over `seconds`; closing
        the pipe afterwards ends the run (stdin EOF)."""
        results = [self.idle_runs("sluice", scenario_name, seconds)]
        if self.args.peer:
            results.append(self.idle_runs("peer", scenario_name, seconds))
        return results

    def idle_runs(self, who, scenario_name, seconds):
        samples = []
        for i in range(self.args.runs):
            with tempfile.TemporaryDirectory(prefix=f"sluice-bench-{who}-") as rundir:
                cmd = self.command(who, scenario_name, rundir)
                env, _ = self.env(rundir)
                stderr_path = pathlib.Path(rundir) / "stderr.txt"
                read_end, write_end = os.pipe()
                try:
                    with open(stderr_path, "wb") as err:
                        proc = Process(cmd, read_end, err, env)
                    os.close(read_end)
                    time.sleep(1.0)
                    if proc.poll() is not None:
                        tail = stderr_path.read_text(errors="replace")[-2000:]
                        sys.exit(f"{who} exited during the idle run (exit "
                                 f"{proc.returncode})\n--- stderr (tail) ---\n{tail}")
                    before = tree_cpu_seconds(proc.pid)
                    t0 = time.monotonic()
                    time.sleep(seconds)
                    cpu = tree_cpu_seconds(proc.pid) - before
                    window = time.monotonic() - t0
                finally:
                    os.close(write_end)   # stdin EOF: the run ends by itself
                rusage = proc.wait(60)
                samples.append((cpu, cpu / window * 100.0, rusage.ru_maxrss / 1024.0))
                print(f"  {who} run {i + 1}/{self.args.runs}: {cpu:.3f}s cpu in "
                      f"{window:.1f}s ({cpu / window * 100:.2f}%), exit {proc.returncode}",
                      file=sys.stderr)
        return {
            "program": who,
            "runs": len(samples),
            "idle_s": seconds,
            "cpu_s": statistics.median(s[0] for s in samples),
            "cpu_percent": statistics.median(s[1] for s in samples),
            "peak_rss_mb": statistics.median(s[2] for s in samples),
        }
