"""Runs of the Kafka scenarios against tests/peers/kafka_mock (librdkafka's
mock cluster, driven through tests/peers/kafka.py): sluice consuming a
preloaded topic next to kafka_consume_plain, the plain librdkafka consumer
loop that is the ceiling; sluice producing a file into a fresh topic; two
sluice processes sharing a group while one joins and the other leaves.

The Kafka peers need python3-kafka and the C peers built beside sluice:
they are imported only when a Kafka scenario runs, so every other scenario
still needs nothing beyond the standard library."""
import json
import math
import os
import pathlib
import signal
import statistics
import sys
import subprocess
import tempfile
import time

from harness.common import ROOT
from harness.inputs import ensure_kafka_input
from harness.metrics import events_metrics, free_port, scrape_metrics
from harness.process import Process
from harness.verify import verify_blackhole_exact

# What a mock partition keeps of 200-byte preload messages: librdkafka
# 2.0.2's mock holds 5 MiB of compressed batches (and 100,000 batches) per
# partition and silently deletes the oldest beyond that. Measured: about
# 390,000 with lz4 and 1,070,000 with zstd for the first million sequence
# numbers, but only 943,000 with zstd once they run to 7 digits (10M in 10
# partitions lost the oldest 57,000 of each); the plan keeps a margin.
LZ4_PER_PARTITION = 300_000
ZSTD_PER_PARTITION = 800_000
PARTITIONS = 4

# What file_kafka's topic gets per partition: sluice's producer batches are
# its own, so there is more room than the preload's dense 1 MB batches need.
FILE_KAFKA_PER_PARTITION = 150_000

# The kafka source's prefetch budget (fetch_memory_bytes, 64 MiB by
# default) and the rest of the process the issue allows beside it.
FETCH_BUDGET_MB = 64
RSS_BASE_MB = 64

SOURCE_METRIC = "sluice_component_received_events_total"
SINK_SENT_METRIC = "sluice_component_sent_events_total"
PAUSES_METRIC = "sluice_kafka_backpressure_pauses_total"
FETCHED_METRIC = "sluice_kafka_consumed_messages_total"


def preload_plan(events):
    """(codec, partitions, note) for a preload the mock keeps whole: lz4 in
    4 partitions, else zstd in 4, else zstd in as many partitions as it
    takes (the note says why, for the table)."""
    if events <= PARTITIONS * LZ4_PER_PARTITION:
        return "lz4", PARTITIONS, ""
    if events <= PARTITIONS * ZSTD_PER_PARTITION:
        return "zstd", PARTITIONS, (f"zstd: {PARTITIONS} lz4 partitions of the mock hold "
                                    f"about {PARTITIONS * LZ4_PER_PARTITION:,} messages")
    partitions = math.ceil(events / ZSTD_PER_PARTITION)
    return "zstd", partitions, (f"{partitions} partitions, not {PARTITIONS}: a mock partition "
                                f"keeps under a million of these messages even with zstd "
                                f"and deletes the oldest beyond (planned: "
                                f"{ZSTD_PER_PARTITION:,} a partition)")


def kafka_peers(sluice_bin):
    """Imports tests/peers/kafka.py with its C peers found beside the
    measured binary's build (tests/kafka_mock), else in build/tests."""
    for name, var in (("kafka_mock", "SLUICE_KAFKA_MOCK"),
                      ("kafka_consume_plain", "SLUICE_KAFKA_CONSUME_PLAIN")):
        if os.environ.get(var):
            continue
        for d in (pathlib.Path(sluice_bin).resolve().parent / "tests", ROOT / "build" / "tests"):
            if (d / name).is_file():
                os.environ[var] = str(d / name)
                break
    try:
        from peers import kafka as peers
    except ImportError as e:
        sys.exit(f"the Kafka scenarios need python3-kafka (apt-get install python3-kafka "
                 f"python3-lz4) and Debian's /usr/bin/python3: {e}")
    return peers


def process_cpu_seconds(pid):
    """utime + stime of one process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def component_count(text, metric, component):
    """The sum of `metric` over the series of `component` in a scrape (a
    line scan: this runs every poll, beside the process measured)."""
    label = f'component_id="{component}"'
    total = 0.0
    for line in text.splitlines():
        if line.startswith(metric + "{") and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


class CountRun:
    """A sluice run watched through /metrics until a count: the first poll
    that saw events (t_first, c_first), the one that saw them all (t_done),
    the CPU of sluice and of the mock, peak RSS, stderr."""

    def rate(self, expected):
        """Events per second between the first poll that saw events and
        the one that saw them all: the events counted in between over the
        time in between, start-up and the group join left out."""
        span = self.t_done - self.t_first
        return (expected - self.c_first) / span if span > 0 else 0.0


class KafkaRuns:
    """Bench's kafka_blackhole, file_kafka and kafka_rebalance."""

    # -- sluice watched through its API

    def kafka_timeout(self):
        """A run's limit: generous (10,000 events/s), since a consumer that
        meets back-pressure or librdkafka's fetch backoff can run far
        below its speed, and a slow run is a figure, not a failure."""
        return 60 + self.args.events / 10_000

    def kafka_env(self, rundir, **values):
        env, outdir = self.env(rundir)
        env.update({k: str(v) for k, v in values.items()})
        return env, outdir

    def run_until_count(self, scenario_name, rundir, env, metric, expected, label,
                        mock_pid):
        """Starts sluice with ${API_ADDRESS} a free port and polls `metric`
        of its component `out` every --poll-ms until it reaches expected,
        then sends SIGTERM and reaps it. Exits the harness, with the last
        metrics and stderr, when the count does not come in time."""
        port = free_port()
        env["API_ADDRESS"] = f"127.0.0.1:{port}"
        cmd = self.sluice_cmd(scenario_name, rundir)
        stderr_path = pathlib.Path(rundir) / "stderr.txt"
        timeout = self.kafka_timeout()
        interval = self.args.poll_ms / 1000.0
        r = CountRun()
        r.t_first = r.c_first = r.t_done = None
        r.cpu_first = r.cpu_done = 0.0
        seen, last, polls = 0, "", 0
        os.sync()
        mock_cpu0 = process_cpu_seconds(mock_pid)
        with open(stderr_path, "wb") as err, open(os.devnull, "rb") as stdin:
            start = tick = time.monotonic()
            proc = Process(cmd, stdin, err, env)
            while proc.poll() is None and time.monotonic() - start < timeout:
                text = scrape_metrics(port)
                now = time.monotonic()
                polls += 1
                if text is not None:
                    last = text
                    seen = component_count(text, metric, "out")
                    if seen and r.t_first is None:
                        r.t_first, r.c_first = now, min(seen, expected)
                        r.cpu_first = process_cpu_seconds(proc.pid)
                    if seen >= expected:
                        r.t_done, r.seen = now, seen
                        r.cpu_done = process_cpu_seconds(proc.pid)
                        break
                tick += interval
                time.sleep(max(0.0, tick - time.monotonic()))
            r.mock_cpu = process_cpu_seconds(mock_pid) - mock_cpu0
            early_exit = proc.returncode
            proc.send_signal(signal.SIGTERM)
            try:
                rusage = proc.wait(90)
            except TimeoutError as e:
                sys.exit(f"{label}: no exit within 90 s of SIGTERM ({e})\n" +
                         stderr_path.read_text(errors="replace")[-3000:])
        r.last_metrics = last
        r.returncode = proc.returncode
        r.stderr = stderr_path.read_text(errors="replace")
        r.maxrss_mb = rusage.ru_maxrss / 1024.0
        r.cpu = rusage.ru_utime + rusage.ru_stime
        problem = None
        if r.t_done is None:
            problem = (f"exited by itself (status {early_exit}) before the count"
                       if early_exit is not None else
                       f"did not reach the count within {timeout:.0f}s")
            problem += (f": {metric} of out = {seen} of {expected} after {polls} polls\n"
                        f"--- last metrics (events) ---\n{events_metrics(last) or '(none)'}")
        elif r.t_first == r.t_done:
            problem = (f"every event arrived between two polls ({self.args.poll_ms:g} ms): "
                       "too few to time; raise --events")
        elif r.returncode != 0:
            problem = f"exit status {r.returncode} after SIGTERM"
        if problem:
            tail = "\n".join(r.stderr.splitlines()[-20:])
            sys.exit(f"{label} failed: {problem}\n--- stderr (tail) ---\n{tail}")
        return r

    def run_plain(self, peers, bootstrap, topic, group, rundir, mock_pid, label):
        """kafka_consume_plain on the topic with a new group until it read
        every event: its own rate (first message to the N-th), CPU and peak
        RSS from wait4, the mock's CPU over the run."""
        n = self.args.events
        cmd = [peers.peer_binary("kafka_consume_plain", "SLUICE_KAFKA_CONSUME_PLAIN"),
               "--bootstrap", bootstrap, "--topic", topic, "--count", str(n),
               "--group", group, "--timeout-secs", str(int(self.kafka_timeout()))]
        stdout_path = pathlib.Path(rundir) / "stdout.txt"
        run = self.run_once_with_mock(cmd, rundir, stdout_path, mock_pid)
        if run.returncode != 0:
            sys.exit(f"{label} failed: exit {run.returncode}\n{run.stderr[-2000:]}")
        out = json.loads(stdout_path.read_text())
        if out["messages"] != n:
            sys.exit(f"{label}: read {out['messages']} messages, expected {n}")
        run.rate, run.window = out["rate"], out["seconds"]
        return run

    def run_once_with_mock(self, cmd, rundir, stdout_path, mock_pid):
        before = process_cpu_seconds(mock_pid)
        with open(os.devnull, "rb") as stdin:
            run = self.run_once(cmd, stdin, rundir, timeout=self.kafka_timeout() + 15,
                                stdout_path=str(stdout_path))
        run.mock_cpu = process_cpu_seconds(mock_pid) - before
        return run

    # -- kafka_blackhole

    def kafka_blackhole(self, scenario_name):
        """--events preloaded messages of --line-bytes -> kafka source ->
        blackhole, alternating with kafka_consume_plain on the same topic,
        each run with a group of its own (so each reads from offset 0)."""
        if self.args.peer:
            sys.exit(f"{scenario_name}: --peer is not supported (the reference row is "
                     "kafka_consume_plain)")
        args, n = self.args, self.args.events
        peers = kafka_peers(args.bin)
        codec, partitions, note = preload_plan(n)
        topic = "bench"
        rows = {"sluice": [], "plain": []}
        with peers.KafkaMock(topics={topic: partitions}) as mock:
            print(f"preloading {n:,} messages of {args.line_bytes} bytes ({codec}, "
                  f"{partitions} partitions) ...", file=sys.stderr)
            count, secs = mock.preload(topic, n, args.line_bytes, codec=codec,
                                       timeout=60 + n / 100_000)
            earliest = mock.earliest(topic)
            if count != n or any(earliest.values()):
                sys.exit(f"the mock did not keep the preload: {count} delivered, earliest "
                         f"offsets {earliest} (must all be 0); use fewer --events")
            self.kafka_preload = {"codec": codec, "partitions": partitions, "note": note,
                                  "preload_s": secs}
            for i in range(args.runs):
                with tempfile.TemporaryDirectory(prefix="sluice-bench-kafka-") as rundir:
                    env, _ = self.kafka_env(rundir, KAFKA_BOOTSTRAP=mock.bootstrap,
                                            KAFKA_TOPIC=topic,
                                            KAFKA_GROUP=f"bench-sluice-{os.getpid()}-{i}")
                    label = f"sluice run {i + 1}"
                    r = self.run_until_count(scenario_name, rundir, env, SOURCE_METRIC, n,
                                             label, mock.proc.pid)
                    problem = verify_blackhole_exact(r, n)
                    if problem:
                        sys.exit(f"{label} failed: {problem}")
                    row = self.kafka_row(r.rate(n), r.t_done - r.t_first,
                                         r.cpu_done - r.cpu_first, r.cpu, r.maxrss_mb,
                                         r.mock_cpu)
                    # librdkafka's statistics (every second) against the
                    # count: fetched more than received means prefetched
                    # records were dropped and fetched again.
                    row["pauses"] = component_count(r.last_metrics, PAUSES_METRIC, "in")
                    row["fetched"] = component_count(r.last_metrics, FETCHED_METRIC, "in")
                    rows["sluice"].append(row)
                    self.print_kafka_run(label, row)
                with tempfile.TemporaryDirectory(prefix="sluice-bench-plain-") as rundir:
                    label = f"plain run {i + 1}"
                    p = self.run_plain(peers, mock.bootstrap, topic,
                                       f"bench-plain-{os.getpid()}-{i}", rundir,
                                       mock.proc.pid, label)
                    row = self.kafka_row(p.rate, p.window, None, p.cpu, p.maxrss_mb,
                                         p.mock_cpu)
                    rows["plain"].append(row)
                    self.print_kafka_run(label, row)
        return [self.kafka_summary("sluice", rows["sluice"]),
                self.kafka_summary("plain", rows["plain"])]

    def kafka_row(self, rate, window, window_cpu, cpu, rss, mock_cpu):
        return {"events_per_s": rate, "window_s": window, "window_cpu_s": window_cpu,
                "cpu_s": cpu, "peak_rss_mb": rss, "mock_cpu_s": mock_cpu}

    def print_kafka_run(self, label, row):
        cores = (f", {row['window_cpu_s'] / row['window_s']:.2f} cores while consuming"
                 if row["window_cpu_s"] is not None else "")
        print(f"  {label}: {row['events_per_s']:,.0f} events/s ({row['window_s']:.3f}s first "
              f"to last), {row['cpu_s']:.2f}s cpu{cores}, {row['peak_rss_mb']:.1f} MB; mock "
              f"{row['mock_cpu_s']:.2f}s cpu ({row['mock_cpu_s'] / row['window_s']:.2f} cores "
              "per second of the window)" +
              (f"; {row['pauses']} back-pressure pauses, librdkafka fetched {row['fetched']:,} "
               "by its last statistics" if "pauses" in row else ""), file=sys.stderr)

    def kafka_summary(self, who, rows):
        med = lambda k: statistics.median(r[k] for r in rows)
        res = {"program": who, "runs": len(rows), "events_per_s": med("events_per_s"),
               "events_per_s_all": [round(r["events_per_s"]) for r in rows],
               "mb_per_s": med("events_per_s") * self.args.line_bytes / 1e6,
               "window_s": med("window_s"), "cpu_s": med("cpu_s"),
               "peak_rss_mb": med("peak_rss_mb"),
               "peak_rss_mb_max": max(r["peak_rss_mb"] for r in rows),
               "mock_cores": statistics.median(r["mock_cpu_s"] / r["window_s"] for r in rows),
               "kafka": dict(getattr(self, "kafka_preload", {}))}
        if "pauses" in rows[0]:
            res["pauses"] = med("pauses")
            res["fetched"] = med("fetched")
        if rows[0]["window_cpu_s"] is not None:
            res["window_cores"] = statistics.median(r["window_cpu_s"] / r["window_s"]
                                                    for r in rows)
        return res

    # -- file_kafka

    def file_kafka(self, scenario_name):
        """A file of --events lines -> file source -> kafka sink (lz4) into
        a fresh topic per run; the sink's sent count (it counts what the
        broker acknowledged) timed from its first event to the N-th, then
        every message checked: end offsets, nothing deleted, every sequence
        number read back once."""
        if self.args.peer:
            sys.exit(f"{scenario_name}: --peer is not supported")
        args, n = self.args, self.args.events
        peers = kafka_peers(args.bin)
        self.input = ensure_kafka_input(n, args.line_bytes)
        partitions = max(PARTITIONS, math.ceil(n / FILE_KAFKA_PER_PARTITION))
        self.kafka_preload = {"partitions": partitions, "codec": "lz4 (the sink's)",
                              "note": ""}
        rows = []
        with peers.KafkaMock() as mock:
            for i in range(args.runs):
                topic = f"file-kafka-{i}"
                mock.create_topic(topic, partitions)
                label = f"sluice run {i + 1}"
                with tempfile.TemporaryDirectory(prefix="sluice-bench-kafka-") as rundir:
                    env, _ = self.kafka_env(rundir, KAFKA_BOOTSTRAP=mock.bootstrap,
                                            KAFKA_TOPIC=topic)
                    r = self.run_until_count(scenario_name, rundir, env, SINK_SENT_METRIC, n,
                                             label, mock.proc.pid)
                check = self.verify_topic(peers, mock, topic, n, r)
                if check["problem"]:
                    sys.exit(f"{label} failed: {check['problem']}\n--- stderr (tail) ---\n" +
                             "\n".join(r.stderr.splitlines()[-20:]))
                row = self.kafka_row(r.rate(n), r.t_done - r.t_first,
                                     r.cpu_done - r.cpu_first, r.cpu, r.maxrss_mb, r.mock_cpu)
                rows.append(row)
                self.print_kafka_run(label, row)
                print(f"    verified: end offsets sum {check['end']:,}, earliest all 0, "
                      f"{check['distinct']:,} distinct sequence numbers read back, "
                      f"{check['per_partition']}", file=sys.stderr)
        res = self.kafka_summary("sluice", rows)
        res["verified"] = True
        return [res]

    def verify_topic(self, peers, mock, topic, n, r):
        """What the mock holds after a file_kafka run: N messages, none
        deleted, each sequence number 0..N-1 once (kafka_consume_plain
        --check-seq); the sink counted exactly N sent."""
        problems = []
        if r.seen != n:
            problems.append(f"the sink counted {r.seen} sent, expected {n}")
        ends = peers.end_offsets(mock.bootstrap, topic)
        earliest = mock.earliest(topic)
        if sum(ends.values()) != n:
            problems.append(f"the topic's end offsets sum to {sum(ends.values())}, expected "
                            f"{n} ({ends})")
        if any(earliest.values()):
            problems.append(f"the mock deleted batches (earliest {earliest}): more partitions "
                            "or better compressing lines needed")
        back = {}
        if not problems:
            try:
                back = peers.consume_plain(mock.bootstrap, topic, n, check_seq=True,
                                           timeout=int(self.kafka_timeout()))
            except subprocess.SubprocessError as e:
                problems.append(f"reading the topic back failed: {e}")
        if back and (back["distinct"] != n or back["duplicates"] or back["unexpected"]):
            problems.append(f"read back: {back}")
        return {"problem": "; ".join(problems) or None, "end": sum(ends.values()),
                "distinct": back.get("distinct", 0),
                "per_partition": "per partition " + ", ".join(
                    f"{ends[p]:,}" for p in sorted(ends))}

    # -- kafka_rebalance

    def kafka_rebalance(self, scenario_name):
        """A writer preloads --rate messages/s into a 4-partition topic for
        --duration seconds; sluice A (kafka source -> file sink, with
        acknowledgements) consumes from the start, sluice B joins the group
        at a third of the duration, A gets SIGTERM at two thirds. Every
        message must reach one of the two outputs; duplicates are counted,
        and for each partition that changed hands, the pause."""
        from harness.kafka_rebalance import rebalance_once
        if self.args.peer:
            sys.exit(f"{scenario_name}: --peer is not supported")
        peers = kafka_peers(self.args.bin)
        results = [rebalance_once(self, peers, scenario_name, i) for i in range(self.args.runs)]
        return [summarise_rebalance(results)]


def summarise_rebalance(runs):
    med = lambda k: statistics.median(r[k] for r in runs)
    res = {"program": "sluice", "runs": len(runs), "rebalance": True,
           "messages": med("messages"), "write_rate": med("write_rate"),
           "lost": sum(r["lost"] for r in runs),
           "duplicated": sum(r["duplicated"] for r in runs),
           "duplicated_all": [r["duplicated"] for r in runs],
           "commit_failures": [r["commit_failures"] for r in runs],
           "join_pause_s": [r["join_pause_s"] for r in runs],
           "baseline_gap_s": [r["baseline_gap_s"] for r in runs],
           "leave_resume_s": [r["leave_resume_s"] for r in runs],
           "a_exit_s": [r["a_exit_s"] for r in runs],
           "problems": [p for r in runs for p in r["problems"]]}
    res["failed"] = bool(res["problems"])
    return res
