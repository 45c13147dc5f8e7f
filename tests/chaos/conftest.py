"""The chaos suite's harness (docs/operations.md, "Chaos suite"): a file
source (or, for the Kafka drill, a kafka source) under steady load feeding `http`, `datadog_logs` and `elasticsearch`
sinks with acknowledgements on, each talking to a counting receiver
(tests/peers/chaos.py), while a scenario breaks something. At the end of every
scenario the harness waits until every line written reached every receiver,
asserts none was lost and RSS stayed within a bound derived from the
config, checks GET /health and a clean SIGTERM exit, and records a summary
(printed after the run; JSON in $CHAOS_RESULTS when set).

CHAOS_SHORT=1 shrinks durations and rates so the suite fits in CI. The
sluice binary is $SLUICE_BIN (default build/sluice), as for tests/e2e,
whose helpers this reuses. Run with /usr/bin/python3."""
import asyncio
import importlib.util
import json
import os
import pathlib
import shutil
import signal
import sys
import threading
import time

import kafka
import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from peers import prometheus  # noqa: E402
from peers.chaos import KINDS, ChaosReceiver, make_line  # noqa: E402
from peers.kafka import API_VERSION, KafkaMock  # noqa: E402
_spec = importlib.util.spec_from_file_location("e2e_conftest", HERE.parent / "e2e" / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

SHORT = os.environ.get("CHAOS_SHORT", "") not in ("", "0")
BATCH_EVENTS = 1024              # sluice's batch_events default
ALLOWANCE_MB = 64                # the slack allowed over the configured buffers
CHUNK_CACHE_MB = 16              # pipeline/arena: freed chunks kept for reuse
KAFKA_PREFETCH_MB = 64           # the kafka source's fetch_memory_bytes default
EVENT_OVERHEAD = 256             # fields beside .message: file, host, timestamp, ...
RESULTS = []


def pick(full, short):
    """The full-suite value, or the CHAOS_SHORT one."""
    return short if SHORT else full


# ---- the asyncio loop the receivers and proxies run on ----

@pytest.fixture(scope="session")
def loop():
    lp = asyncio.new_event_loop()
    t = threading.Thread(target=lp.run_forever, daemon=True)
    t.start()
    yield lp

    async def cancel_the_rest():
        rest = [k for k in asyncio.all_tasks() if k is not asyncio.current_task()]
        for k in rest:
            k.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
    asyncio.run_coroutine_threadsafe(cancel_the_rest(), lp).result(10)
    lp.call_soon_threadsafe(lp.stop)
    t.join(5)


# ---- disk buffers: available once `sluice validate` takes them ----

@pytest.fixture(scope="session")
def disk_buffers(tmp_path_factory):
    """(True, "") when this sluice accepts `buffer.type: disk`, else
    (False, why)."""
    d = tmp_path_factory.mktemp("probe")
    cfg = {"data_dir": str(d), "sources": {"in": {"type": "stdin"}},
           "sinks": {"out": {"type": "blackhole", "inputs": ["in"],
                             "buffer": {"type": "disk", "max_size": 268435488}}}}
    (d / "probe.json").write_text(json.dumps(cfg))
    r = e2e.run_cli("validate", "--no-environment", "-c", str(d / "probe.json"))
    if r.returncode == 0:
        return True, ""
    lines = [l for l in (r.stdout + r.stderr).splitlines() if "✗" in l or "disk" in l]
    return False, "sluice refuses a disk buffer config: " + " / ".join(lines)[:300]


# ---- load ----

def write_steadily(writer, write):
    """A writer thread's loop: write(n) what is due at writer.rate lines per
    second, in ticks of 10 ms, until writer.stopping is set."""
    start = time.monotonic()
    done = 0
    while not writer.stopping.is_set():
        due = int((time.monotonic() - start) * writer.rate)
        if due > done:
            write(due - done)
            done = due
        writer.stopping.wait(0.01)


class Writer(threading.Thread):
    """Appends numbered, checksummed lines (peers.chaos.make_line) with a
    random payload to one file at a steady rate, in ticks of 10 ms;
    `written` is the next seq."""

    def __init__(self, path, rate, payload_bytes=200):
        super().__init__(daemon=True)
        self.path = path
        self.rate = rate
        self.payload_bytes = payload_bytes
        self.line_bytes = payload_bytes + 30
        self.written = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write_now(self, n):
        """Appends n lines at once (a backlog)."""
        step = 10000
        for start in range(0, n, step):
            self._append(min(step, n - start))

    def _append(self, n):
        with self.lock:
            first = self.written
            # Random hex: compresses about 2:1, as log text does, so disk
            # buffers fill at a realistic pace.
            half = self.payload_bytes // 2
            data = "".join(make_line(s, os.urandom(half).hex()) + "\n"
                           for s in range(first, first + n)).encode()
            os.write(self.fd, data)
            self.written = first + n

    def run(self):
        write_steadily(self, self._append)

    def stop(self):
        self.stopping.set()
        if self.is_alive():
            self.join(10)
        os.close(self.fd)


class KafkaWriter(threading.Thread):
    """Writer's twin for the Kafka drill: produces the same numbered,
    checksummed lines as messages of one topic (python3-kafka, lz4, keyed
    by seq so they spread over the partitions), at a steady rate in ticks
    of 10 ms; `written` is the next seq whose message and every one before
    it the broker acknowledged. While the broker is down, writing waits."""

    TOPIC = "chaos"

    def __init__(self, bootstrap, rate, payload_bytes=200):
        super().__init__(daemon=True)
        self.rate = rate
        self.payload_bytes = payload_bytes
        self.line_bytes = payload_bytes + 30
        self.written = 0
        self.stopping = threading.Event()
        self.producer = kafka.KafkaProducer(
            bootstrap_servers=bootstrap, api_version=API_VERSION, compression_type="lz4",
            linger_ms=5, retries=1_000_000, max_in_flight_requests_per_connection=1,
            request_timeout_ms=5000, max_block_ms=60_000)

    def write_now(self, n):
        self._produce(n)

    def _produce(self, n):
        """Produces seqs written..written+n-1; a record the producer gave up
        on (its batch expired while the broker was down) is sent again, so
        `written` only counts what the broker has."""
        first = self.written
        half = self.payload_bytes // 2
        pending = {seq: make_line(seq, os.urandom(half).hex()).encode()
                   for seq in range(first, first + n)}
        deadline = time.monotonic() + 120
        while pending and time.monotonic() < deadline:
            futures = {seq: self.producer.send(self.TOPIC, key=str(seq).encode(), value=line)
                       for seq, line in pending.items()}
            self.producer.flush(timeout=60)
            for seq, f in futures.items():
                if f.succeeded():
                    del pending[seq]
            if pending:
                time.sleep(0.5)
        assert not pending, f"the broker never took {len(pending)} messages"
        self.written = first + n

    def run(self):
        write_steadily(self, self._produce)

    def stop(self):
        self.stopping.set()
        if self.is_alive():
            self.join(70)
        self.producer.close(timeout=5)


class RssSampler(threading.Thread):
    """VmRSS of whatever process pid_of() names, every 100 ms."""

    def __init__(self, pid_of):
        super().__init__(daemon=True)
        self.pid_of = pid_of
        self.max_kb = 0
        self.samples = 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            kb = rss_kb(self.pid_of())
            if kb:
                self.max_kb = max(self.max_kb, kb)
                self.samples += 1
            self.stopping.wait(0.1)

    def stop(self):
        self.stopping.set()
        self.join(5)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, TypeError):
        pass
    return 0


def metric(text, name, component_id, **labels):
    """The sum of a Prometheus sample's values for a component (0 if none)."""
    return prometheus.parse(text).value(name, component_id=component_id, **labels) or 0.0


# ---- the pipeline ----

class SinkShape:
    """What a scenario configures for every sink; the memory bound follows
    from it."""

    def __init__(self, disk, max_events=500, max_size=None, batch=500, concurrency=4,
                 max_backoff=2.0, timeout=15):
        self.disk = disk
        self.max_events = max_events
        self.max_size = max_size or pick(256, 64) * 1024 * 1024
        self.batch = batch
        self.concurrency = concurrency
        self.max_backoff = max_backoff
        self.timeout = timeout

    def buffer(self):
        if self.disk:
            return {"type": "disk", "max_size": self.max_size, "when_full": "block"}
        return {"type": "memory", "max_events": self.max_events, "when_full": "block"}

    def held_events(self):
        """Events one sink may hold: its buffer (memory only) and one batch
        beyond it, and up to 2 x concurrency requests, each of which may pin
        a whole input batch besides its own events."""
        queued = (0 if self.disk else self.max_events) + BATCH_EVENTS
        return queued + 2 * self.concurrency * (self.batch + BATCH_EVENTS)

    def common(self):
        return {"inputs": ["in"], "buffer": self.buffer(),
                "batch": {"max_events": self.batch, "timeout_secs": 0.5},
                "request": {"concurrency": self.concurrency, "timeout_secs": self.timeout,
                            "retry_initial_backoff_secs": 0.2,
                            "retry_max_duration_secs": self.max_backoff}}


def sink_config(kind, url, shape):
    c = shape.common()
    if kind == "http":
        c.update(type="http", uri=url + "/ingest", encoding={"codec": "json"},
                 compression="gzip")
    elif kind == "datadog_logs":
        c.update(type="datadog_logs", endpoint=url, default_api_key="chaos-key")
    else:
        c.update(type="elasticsearch", endpoints=[url], bulk={"index": "chaos"})
    return c


SINK_IDS = {"http": "to_http", "datadog_logs": "to_datadog", "elasticsearch": "to_es"}


class Scenario:
    """One chaos scenario: receivers, writer, sluice runs, RSS sampler, and
    the final accounting (finish)."""

    def __init__(self, name, tmp, loop, disk_info, source="file"):
        self.name = name
        self.source = source
        # The Kafka drill's broker: the source reads topic "chaos" from it.
        self.kafka = None
        if source == "kafka":
            self.kafka = KafkaMock(topics={KafkaWriter.TOPIC: 4})
            self.kafka.start()
        self.tmp = pathlib.Path(tmp)
        self.loop = loop
        self.disk, self.disk_reason = disk_info
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.data_dir = self.tmp / "data"
        self.receivers = {k: ChaosReceiver(k, loop) for k in KINDS}
        self.urls = {k: rx.url for k, rx in self.receivers.items()}
        self.port = e2e.free_port()
        self.shape = SinkShape(self.disk)
        self.writer = None
        self.runs = []
        self.sluice = None
        self.sampler = RssSampler(lambda: self.sluice.proc.pid if self.sluice else None)
        self.baseline_kb = None
        self.extra = {}
        self.marks = []             # (cycle, seq written when it ended, seconds it ran)
        self.started = time.monotonic()
        self.closers = []

    # -- setup --

    def config(self):
        cfg = {"data_dir": str(self.data_dir),
               "api": {"enabled": True, "address": f"127.0.0.1:{self.port}"},
               "acknowledgements": {"enabled": True},
               # A SIGTERM while receivers are down (buffer_corruption) need
               # not wait out the default 60 s of retries.
               "shutdown_timeout_secs": 5,
               "sources": {"in": self.source_config()},
               "sinks": {SINK_IDS[k]: sink_config(k, self.urls[k], self.shape) for k in KINDS}}
        return json.dumps(cfg, indent=1)

    def source_config(self):
        if self.kafka:
            return {"type": "kafka", "bootstrap_servers": self.kafka.bootstrap,
                    "topics": [KafkaWriter.TOPIC], "group_id": "chaos",
                    "auto_offset_reset": "earliest", "session_timeout_ms": 6000}
        return {"type": "file", "include": [str(self.logs / "*.log")],
                "glob_minimum_cooldown_ms": 200}

    def start_writer(self, rate, payload_bytes=200):
        if self.kafka:
            self.writer = KafkaWriter(self.kafka.bootstrap, rate, payload_bytes)
            self.writer.start()
            return self.writer
        self.writer = Writer(self.logs / "app.log", rate, payload_bytes)
        self.writer.start()
        return self.writer

    def start_sluice(self, wait=True):
        """Starts sluice (again) with the same config and data_dir, in a
        directory of its own for its output."""
        run_dir = self.tmp / f"run-{len(self.runs):03d}"
        run_dir.mkdir()
        self.sluice = e2e.Sluice(run_dir, self.config(), suffix=".json")
        self.runs.append(self.sluice)
        if wait:
            self.sluice.wait_healthy(self.port, timeout=30)
            if self.baseline_kb is None:
                self.baseline_kb = rss_kb(self.sluice.proc.pid)
                self.sampler.start()
        return self.sluice

    def kill9(self):
        self.sluice.proc.send_signal(signal.SIGKILL)
        self.sluice.proc.wait(10)

    def metrics(self):
        status, _, body = e2e.http_get(f"http://127.0.0.1:{self.port}/metrics")
        assert status == 200
        return body.decode()

    def delivered_all(self, upto):
        return all(rx.missing(upto) == 0 for rx in self.receivers.values())

    def wait_delivered(self, upto, timeout, settle=None):
        """Whether seqs 0..upto-1 all reached every receiver within
        timeout; with settle, gives up once no receiver got anything new
        for that many seconds (for scenarios that may lose lines)."""
        deadline = time.monotonic() + timeout
        last, last_change = None, time.monotonic()
        while time.monotonic() < deadline:
            if self.delivered_all(upto):
                return True
            if self.sluice.proc.poll() is not None:
                return False
            now = [rx.distinct for rx in self.receivers.values()]
            if now != last:
                last, last_change = now, time.monotonic()
            elif settle and time.monotonic() - last_change > settle:
                return False
            time.sleep(0.2)
        return False

    # -- the verdict --

    def bound_mb(self):
        per_event = self.writer.line_bytes + EVENT_OVERHEAD
        held = len(KINDS) * self.shape.held_events() + 2 * BATCH_EVENTS
        prefetch = KAFKA_PREFETCH_MB if self.kafka else 0
        return (self.baseline_kb / 1024 + CHUNK_CACHE_MB + prefetch
                + held * per_event * 2 / (1024 * 1024) + ALLOWANCE_MB)

    def cycles(self, written):
        """Per mark (a kill -9): the lines written since the previous one,
        how many of them never arrived and how many arrived twice or more,
        summed over the receivers; the last row is the final run."""
        rows, lo = [], 0
        for cycle, seq, ran in self.marks + [("final", written, None)]:
            lost = dups = 0
            for rx in self.receivers.values():
                m, d = rx.range_counts(lo, seq)
                lost += m
                dups += d
            rows.append({"cycle": cycle, "ran_s": ran, "seqs": seq - lo, "lost": lost,
                         "duplicates": dups})
            lo = seq
        return rows

    def finish(self, drain_timeout=None, allowed_lost=0):
        """Stops the load, waits for every line at every receiver, checks
        /health and a clean SIGTERM exit, records the summary, and asserts
        no more than allowed_lost lines lost per receiver (0 but for the
        buffer corruption scenario) and RSS within the bound."""
        drain_timeout = drain_timeout or pick(240, 120)
        self.writer.stop()
        written = self.writer.written
        t0 = time.monotonic()
        complete = self.wait_delivered(written, drain_timeout,
                                       settle=10 if allowed_lost else None)
        drain_s = time.monotonic() - t0
        alive = self.sluice.proc.poll() is None
        health = e2e.http_get(f"http://127.0.0.1:{self.port}/health")[0] if alive else None
        exit_code = self.sluice.terminate(60) if alive else self.sluice.proc.returncode
        self.sampler.stop()
        rows = [{"sink": k, "written": written, "delivered": rx.distinct,
                 "lost": rx.missing(written), "duplicates": rx.duplicates,
                 "requests": rx.requests, "rejected_damaged": rx.rejected_corrupt,
                 "throttled": rx.throttled}
                for k, rx in self.receivers.items()]
        bound = self.bound_mb()
        summary = {"scenario": self.name, "short": SHORT,
                   "buffer": "disk" if self.disk else "memory",
                   "disk_unavailable": self.disk_reason or None,
                   "seconds": round(time.monotonic() - self.started, 1),
                   "drain_seconds": round(drain_s, 1), "sluice_runs": len(self.runs),
                   "max_rss_mb": round(self.sampler.max_kb / 1024, 1),
                   "rss_bound_mb": round(bound, 1),
                   "baseline_rss_mb": round(self.baseline_kb / 1024, 1),
                   "health_after": health, "exit_code": exit_code, "sinks": rows}
        if self.marks:
            summary["cycles"] = self.cycles(written)
        summary.update(self.extra)
        RESULTS.append(summary)
        lost = {r["sink"]: r["lost"] for r in rows if r["lost"] > allowed_lost}
        assert (complete or allowed_lost) and not lost, (
            f"{self.name}: lines lost {lost} of {written} "
            f"(sluice {'running' if alive else 'exited'}): {self.sluice.stderr()[-2000:]}")
        assert health == 200, f"{self.name}: GET /health answered {health}"
        assert exit_code == 0, f"{self.name}: exit {exit_code}: {self.sluice.stderr()[-2000:]}"
        if not e2e.sanitized():
            assert self.sampler.max_kb / 1024 <= bound, (
                f"{self.name}: RSS {self.sampler.max_kb / 1024:.1f} MB over the bound "
                f"{bound:.1f} MB")
        return summary

    def close(self):
        if self.writer and self.writer.is_alive():
            self.writer.stop()
        if self.sampler.is_alive():
            self.sampler.stop()
        for s in self.runs:
            s.kill()
        for c in self.closers:
            c()
        for rx in self.receivers.values():
            rx.stop()
        if self.kafka:
            self.kafka.stop()
        # The input and the buffers can be hundreds of MB: pytest keeps the
        # last runs' temp dirs, the sluice runs' logs are what's worth keeping.
        shutil.rmtree(self.logs, ignore_errors=True)
        shutil.rmtree(self.data_dir / "buffer", ignore_errors=True)


@pytest.fixture
def chaos(tmp_path, loop, disk_buffers):
    """chaos(name, buffer=None, source="file") -> Scenario, with disk
    buffers when this sluice has them unless buffer="memory", reading a
    log file or (source="kafka") a topic of a mock Kafka cluster;
    everything it started is stopped at teardown."""
    e2e_bin = e2e.sluice_path()
    if not os.access(e2e_bin, os.X_OK):
        pytest.fail(f"sluice binary not found at {e2e_bin} (set SLUICE_BIN)")
    made = []

    def make(name, buffer=None, source="file"):
        disk = (False, "memory buffers asked for") if buffer == "memory" else disk_buffers
        sc = Scenario(name, tmp_path, loop, disk, source)
        made.append(sc)
        return sc

    yield make
    for sc in made:
        sc.close()


# ---- reporting ----

def format_summary(s):
    head = (f"== {s['scenario']} ({'short' if s['short'] else 'full'}, {s['buffer']} buffers, "
            f"{s['seconds']} s, {s['sluice_runs']} sluice run(s)): max RSS {s['max_rss_mb']} MB "
            f"(bound {s['rss_bound_mb']} MB, baseline {s['baseline_rss_mb']} MB), "
            f"drain {s['drain_seconds']} s, /health {s['health_after']}, exit {s['exit_code']}")
    cols = ["sink", "written", "delivered", "lost", "duplicates", "requests",
            "rejected_damaged", "throttled"]
    lines = [head, "  " + "  ".join(f"{c:>16}" for c in cols)]
    for r in s["sinks"]:
        lines.append("  " + "  ".join(f"{str(r[c]):>16}" for c in cols))
    for key, value in s.items():
        if key not in ("scenario", "short", "buffer", "seconds", "sluice_runs", "max_rss_mb",
                       "rss_bound_mb", "baseline_rss_mb", "drain_seconds", "health_after",
                       "exit_code", "sinks", "disk_unavailable", "cycles"):
            lines.append(f"  {key}: {json.dumps(value)}")
    if s.get("cycles"):
        lines.append("  cycle  ran_s  seqs_in_cycle  lost  duplicates")
        for c in s["cycles"]:
            lines.append(f"  {str(c['cycle']):>5}  {str(c['ran_s'] or '-'):>5}  {c['seqs']:>13}  "
                         f"{c['lost']:>4}  {c['duplicates']:>10}")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    terminalreporter.section("chaos summary")
    for s in RESULTS:
        terminalreporter.write_line(format_summary(s))
    path = os.environ.get("CHAOS_RESULTS")
    if path:
        pathlib.Path(path).write_text(json.dumps(RESULTS, indent=1) + "\n")
        terminalreporter.write_line(f"results written to {path}")
