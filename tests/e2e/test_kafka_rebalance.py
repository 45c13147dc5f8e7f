"""End-to-end tests of the `kafka` source's rebalances: two sluice processes
in one consumer group on librdkafka's mock cluster
(tests/peers/kafka_mock.c), records produced and committed offsets read back
by python3-kafka, deliveries recorded by a local HTTP receiver (one path per
process) with their arrival times. Each test runs under both protocols:
eager (the default) and cooperative-sticky (through librdkafka_options).

- A member joins and another stops mid-stream while a producer keeps
  producing: nothing is lost, the committed offsets end at the end offsets,
  and the duplicates are measured. Every duplicate must be one the sources
  reported as left to be read again: unacknowledged when a drain timed out
  (kafka_drain_unacknowledged_messages_total) or acknowledged but refused
  by the commit on revoke (kafka_drain_uncommitted_messages_total). The
  mock refuses every OffsetCommit while its group is joining (real brokers
  take one from the current generation then), which is when an eager member
  revokes, so the eager protocol duplicates what was acknowledged since the
  last periodic commit. Under the cooperative protocol the partitions a
  member keeps are never read again. How long the partitions that move take
  to resume is printed: from the revoke when b joins, from the SIGTERM when
  a leaves, to the first record b delivered of them (the mock makes a
  rebalance wait session_timeout_ms - 1 s for the members to rejoin).
- A partition revoked while batches of it are held by the receiver: the
  drain gives up after drain_timeout_ms and counts those records, and the
  next owner reads them again.

The mock's first group join takes 3 s and each later rebalance 4 s with
this session timeout; heartbeats are frequent so members rejoin fast. The
mock also answers a follower's SyncGroup that arrives after the leader's
with INVALID_REQUEST, and the follower then rejoins: a rebalance may take a
few rounds of 4 s, so the waits for the group to settle are long.

sluice folds a log line repeated within 10 s into a later "(repeated N
times)" line, so which member holds which partition is read from what each
delivered, not from its "Assigned" lines, and the counts in its log lines
are added up once it exited."""
import datetime
import re
import signal
import threading
import time

import kafka
import pytest

from conftest import Sluice, free_port, metric_value, wait_for
from peers.config import component, pipeline
from peers.kafka import API_VERSION, KafkaMock, committed_offsets, end_offsets, produce
from peers.recorder import HttpReceiver

TOPIC = "logs"
GROUP = "sluice-rebalance"
PARTITIONS = 4
SESSION_MS = 5000
SETTLE_S = 40        # a few of the mock's rebalance rounds
STRATEGIES = {"eager": None, "cooperative": "cooperative-sticky"}
REBALANCE_LINE = re.compile(r"^(\S+) +INFO .*: (Assigned|Revoked) \d+ partitions(?:: (.*?))?\."
                            r"(?: \(repeated \d+ times\))?$")
REPEATED = re.compile(r" \(repeated (\d+) times\)$")


class SteadyProducer:
    """Produces numbered records ("n-0000123") with python3-kafka (lz4) at a
    steady rate from a thread; keeps the numbers the broker acknowledged."""

    def __init__(self, bootstrap, rate=400):
        self.producer = kafka.KafkaProducer(
            bootstrap_servers=bootstrap, api_version=API_VERSION, compression_type="lz4",
            linger_ms=5, max_block_ms=10000, request_timeout_ms=10000)
        self.rate = rate
        self.sent = 0
        self.acked = {}
        self.failed = []
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        tick = 0.02
        per_tick = max(1, int(self.rate * tick))
        due = time.monotonic()
        while not self.halt.is_set():
            for _ in range(per_tick):
                n = self.sent
                self.sent += 1
                future = self.producer.send(TOPIC, value=b"n-%07d" % n)
                future.add_callback(self._acked, n)
                future.add_errback(lambda e, n=n: self.failed.append((n, e)))
            due += tick
            time.sleep(max(0.0, due - time.monotonic()))

    def _acked(self, n, md):
        self.acked[n] = (md.partition, md.offset)

    def stop(self, timeout=10):
        """Stops producing; {number: (partition, offset)} of what the broker
        acknowledged."""
        self.halt.set()
        self.thread.join(timeout)
        self.producer.flush(timeout)
        self.producer.close(timeout=1)
        assert not self.failed, self.failed[:5]
        return dict(self.acked)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """A test that failed half-way stops the thread before the mock
        goes."""
        self.halt.set()
        self.thread.join(5)
        self.producer.close(timeout=1)


def member_config(bootstrap, rx, name, port, data_dir, strategy, drain_timeout_ms=None,
                  max_events=50):
    options = {"heartbeat.interval.ms": "300"}
    if strategy:
        options["partition.assignment.strategy"] = strategy
    source = component("k", "kafka", options=(
        f'bootstrap_servers: "{bootstrap}"\n'
        f"topics: [{TOPIC}]\n"
        f"group_id: {GROUP}\n"
        "auto_offset_reset: earliest\n"
        f"session_timeout_ms: {SESSION_MS}\n"
        "commit_interval_ms: 200\n"
        + (f"drain_timeout_ms: {drain_timeout_ms}\n" if drain_timeout_ms else "")
        + "librdkafka_options:\n"
        + "".join(f'  {k}: "{v}"\n' for k, v in options.items())))
    sink = component("out", "http", ["k"], f"""
        uri: "{rx.url}/{name}"
        encoding:
          codec: ndjson
        acknowledgements: true
        batch:
          max_events: {max_events}
          timeout_secs: 0.05
        request:
          retry_initial_backoff_secs: 0.05
          retry_max_duration_secs: 0.2
        """)
    return pipeline(source, sink, api_port=port, data_dir=data_dir)


class Member:
    """One sluice process of the group, with its own data_dir, API port and
    receiver path."""

    def __init__(self, name, rx, port, proc):
        self.name = name
        self.rx = rx
        self.port = port
        self.proc = proc

    def deliveries(self):
        """[(partition, offset, message, arrival time)] in arrival order."""
        return [(e["partition"], e["offset"], e["message"], r.time)
                for r in self.rx.accepted(path=f"/{self.name}") for e in r.ndjson()]

    def partitions(self, since=0.0):
        """The partitions it delivered records of, arriving since `since`."""
        return {p for p, _, _, t in self.deliveries() if t >= since}

    def first_revoke(self):
        """(wall time, {partitions}) of its first "Revoked" log line (a first
        occurrence is never folded)."""
        for line in self.proc.stderr().splitlines():
            m = REBALANCE_LINE.match(line)
            if m and m.group(2) == "Revoked":
                when = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
                parts = re.findall(r"\[(\d+)\]", m.group(3) or "")
                return when.timestamp(), {int(p) for p in parts}
        raise AssertionError(f"{self.name} never revoked: " + self.proc.stderr())

    def logged_count(self, pattern):
        """The sum of the number `pattern` captures in its log lines, each
        folded line counted as often as it was repeated. Complete once the
        process exited."""
        total = 0
        for line in self.proc.stderr().splitlines():
            m = re.search(pattern, line)
            if m:
                folded = REPEATED.search(line)
                total += int(m.group(1)) * (int(folded.group(1)) if folded else 1)
        return total

    def read_again(self):
        """(unacknowledged, uncommitted): the records its drains left to be
        read again by the next owner, because they were not acknowledged
        within drain_timeout_ms or because the commit failed
        (kafka_drain_unacknowledged_messages_total and
        kafka_drain_uncommitted_messages_total, by its log lines, which
        outlive the process)."""
        return (self.logged_count(r"(\d+) records were not acknowledged within drain_timeout_ms"),
                self.logged_count(r"(\d+) acknowledged records will be read again"))


@pytest.fixture
def members(tmp_path, sluice_bin):
    """members(mock, rx, name, strategy, **options) -> Member, each process
    in its own directory (config, stdout, stderr) and data_dir; killed at
    teardown if still running."""
    started = []

    def start(mock, rx, name, strategy, **kw):
        directory = tmp_path / name
        data_dir = directory / "data"
        data_dir.mkdir(parents=True)
        port = free_port()
        config = member_config(mock.bootstrap, rx, name, port, data_dir, strategy, **kw)
        m = Member(name, rx, port, Sluice(directory, config))
        started.append(m)
        return m

    yield start
    for m in started:
        m.proc.kill()


def produce_numbered(bootstrap, seq):
    """{number: (partition, offset)} of the records produced."""
    seq = list(seq)
    return dict(zip(seq, produce(bootstrap, TOPIC, [b"n-%07d" % n for n in seq])))


def drain_gave_up_at(member):
    """The wall time of its first drain that timed out, by its log."""
    for line in member.proc.stderr().splitlines():
        if "not acknowledged within drain_timeout_ms" in line:
            stamp = line.split()[0].replace("Z", "+00:00")
            return datetime.datetime.fromisoformat(stamp).timestamp()
    raise AssertionError("no drain timed out: " + member.proc.stderr())


def offsets_at_end(bootstrap):
    ends = end_offsets(bootstrap, TOPIC)
    return committed_offsets(bootstrap, GROUP, TOPIC) == {p: e for p, e in ends.items() if e}


def numbers(deliveries):
    return [int(msg.split("-")[1]) for _, _, msg, _ in deliveries]


def first_delivery_after(deliveries, parts, since):
    times = [t for p, _, _, t in deliveries if p in parts and t >= since]
    return min(times) if times else None


def offset_spans(member, partition):
    """The runs of consecutive offsets of a partition a member delivered,
    in delivery order."""
    spans = []
    for p, off, _, _ in member.deliveries():
        if p != partition:
            continue
        if spans and spans[-1][1] + 1 == off:
            spans[-1][1] = off
        else:
            spans.append([off, off])
    return spans


def assert_kept_partitions_not_read_again(*ms):
    """Under the cooperative protocol a member keeps its other partitions
    through a rebalance, where it was reading them: none of its own
    deliveries repeats."""
    for m in ms:
        seen = [(p, off) for p, off, _, _ in m.deliveries()]
        assert len(seen) == len(set(seen)), f"{m.name} read records again: " + m.proc.stderr()


def wait_logged(predicate, ms, timeout, what):
    """wait_for, failing with the members' logs."""
    try:
        wait_for(predicate, timeout=timeout, what=what)
    except AssertionError as e:
        logs = "\n".join(f"--- {m.name}\n{m.proc.stderr()}" for m in ms)
        raise AssertionError(f"{e}\n{logs}") from None


def all_delivered(produced, *ms, timeout=20):
    """Waits until every produced record was delivered by one of the
    members; fails naming the missing ones, with the members' logs."""
    deadline = time.monotonic() + timeout
    while True:
        missing = set(produced) - set(numbers([d for m in ms for d in m.deliveries()]))
        if not missing:
            return
        if time.monotonic() > deadline:
            where = sorted(produced[n] for n in missing)
            logs = "\n".join(f"--- {m.name}\n{m.proc.stderr()}" for m in ms)
            spans = "\n".join(f"{m.name} partition {p}: " + ", ".join(
                f"{lo}..{hi}" for lo, hi in offset_spans(m, p))
                for m in ms for p in sorted({w[0] for w in where}))
            raise AssertionError(f"{len(missing)} records never delivered, at (partition, "
                                 f"offset) {where[:10]}...{where[-3:]}\n{spans}\n{logs}")
        time.sleep(0.1)


@pytest.mark.parametrize("protocol", sorted(STRATEGIES))
def test_member_joins_and_leaves_mid_stream(members, protocol):
    strategy = STRATEGIES[protocol]
    with KafkaMock(topics={TOPIC: PARTITIONS}) as mock, HttpReceiver() as rx, \
            SteadyProducer(mock.bootstrap) as producer:
        a = members(mock, rx, "a", strategy)
        wait_for(lambda: len(committed_offsets(mock.bootstrap, GROUP, TOPIC)) == PARTITIONS,
                 timeout=20, what="a consuming and committing")
        assert a.partitions() == set(range(PARTITIONS))

        b_started = time.time()
        b = members(mock, rx, "b", strategy)
        wait_logged(lambda: len(b.partitions()) == PARTITIONS // 2, (a, b), timeout=SETTLE_S,
                    what="b reading its share of the partitions")
        joined_parts = b.partitions()
        time.sleep(1)

        stopped_parts = set(range(PARTITIONS)) - joined_parts
        assert a.partitions(since=time.time() - 0.5) <= stopped_parts
        stopped_at = time.time()
        a.proc.proc.send_signal(signal.SIGTERM)
        assert a.proc.wait(30) == 0, a.proc.stderr()
        wait_logged(lambda: b.partitions(since=stopped_at) == set(range(PARTITIONS)), (a, b),
                    timeout=SETTLE_S, what="b reading every partition")

        produced = producer.stop()
        all_delivered(produced, a, b)
        wait_logged(lambda: offsets_at_end(mock.bootstrap), (a, b), timeout=10,
                    what="committed offsets at the end offsets")
        live_counters = [metric_value(b.port, f"kafka_drain_{c}_messages_total", component_id="k")
                         for c in ("unacknowledged", "uncommitted")]
        assert b.proc.terminate(30) == 0, b.proc.stderr()
        assert all(n is not None and n <= logged
                   for n, logged in zip(live_counters, b.read_again())), live_counters

        got = numbers(a.deliveries()) + numbers(b.deliveries())
        assert set(got) == set(produced)
        duplicates = len(got) - len(set(got))
        unacked, uncommitted = (x + y for x, y in zip(a.read_again(), b.read_again()))
        join_revoke, _ = a.first_revoke()
        assert join_revoke >= b_started
        join_resume = first_delivery_after(b.deliveries(), joined_parts, join_revoke)
        leave_resume = first_delivery_after(b.deliveries(), stopped_parts, stopped_at)
        print(f"\n[{protocol}] produced {len(produced)}, delivered {len(got)}, duplicates "
              f"{duplicates}; reported read again: {unacked} unacknowledged at drain timeout, "
              f"{uncommitted} acknowledged but refused commit; partition resumes after a "
              f"revoke: join {join_resume - join_revoke:.2f} s (partitions "
              f"{sorted(joined_parts)}), leave (from SIGTERM) {leave_resume - stopped_at:.2f} s "
              f"(partitions {sorted(stopped_parts)})")
        for m in (a, b):
            log = m.proc.stderr()
            assert "Assigned" in log and "Revoked" in log, log
        if protocol == "cooperative":
            assert_kept_partitions_not_read_again(a, b)
        # Every duplicate is one the sources said they left to be read again.
        assert duplicates <= unacked + uncommitted, a.proc.stderr() + b.proc.stderr()


class HeldRequests:
    """A receiver responder that holds the requests to one path until
    released (at most `limit` seconds), then lets them be answered 200."""

    def __init__(self, rx, path, limit=20):
        self.path = path
        self.limit = limit
        self.requests = []
        self.release = threading.Event()
        rx.responder = self

    def __call__(self, req):
        if req.path == self.path and not self.release.is_set():
            self.requests.append(req)
            self.release.wait(self.limit)
        return None

    def records(self):
        return {(e["partition"], e["offset"]) for r in list(self.requests) for e in r.ndjson()}


@pytest.mark.parametrize("protocol", sorted(STRATEGIES))
def test_revoked_while_unacknowledged_is_read_again_by_next_owner(members, protocol):
    strategy = STRATEGIES[protocol]
    drain_ms = 1000
    with KafkaMock(topics={TOPIC: PARTITIONS}) as mock, HttpReceiver() as rx:
        produced = produce_numbered(mock.bootstrap, range(0, 200))
        a = members(mock, rx, "a", strategy, drain_timeout_ms=drain_ms, max_events=20)
        wait_for(lambda: offsets_at_end(mock.bootstrap), timeout=20,
                 what="a consuming and committing the first records")

        held = HeldRequests(rx, "/a")
        produced.update(produce_numbered(mock.bootstrap, range(200, 400)))
        wait_for(lambda: held.records(), timeout=10, what="a batch of a held by the receiver")
        b = members(mock, rx, "b", strategy)
        wait_logged(lambda: "not acknowledged within drain_timeout_ms" in a.proc.stderr(),
                    (a, b), timeout=SETTLE_S, what="a's drain giving up on the held batch")
        held.release.set()
        revoked_at, revoked = a.first_revoke()
        gave_up = drain_gave_up_at(a)
        assert drain_ms / 1000 - 0.1 <= gave_up - revoked_at <= drain_ms / 1000 + 1.5, \
            a.proc.stderr()

        wait_logged(lambda: len(b.partitions()) == PARTITIONS // 2, (a, b), timeout=SETTLE_S,
                    what="b reading its share of the partitions")
        all_delivered(produced, a, b)
        wait_logged(lambda: offsets_at_end(mock.bootstrap), (a, b), timeout=10,
                    what="committed offsets at the end offsets")
        taken = b.partitions()
        assert a.proc.terminate(30) == 0, a.proc.stderr()
        assert b.proc.terminate(30) == 0, b.proc.stderr()

        # What a held of the partitions it gave up, b read again.
        moved = {(p, o) for p, o in held.records() if p in revoked and p in taken}
        assert moved and moved <= {(p, o) for p, o, _, _ in b.deliveries()}
        if protocol == "cooperative":
            assert_kept_partitions_not_read_again(a)
        got = numbers(a.deliveries()) + numbers(b.deliveries())
        duplicates = len(got) - len(set(got))
        unacked, uncommitted = (x + y for x, y in zip(a.read_again(), b.read_again()))
        assert a.read_again()[0] > 0, a.proc.stderr()
        print(f"\n[{protocol}] drain gave up after {gave_up - revoked_at:.2f} s "
              f"(drain_timeout_ms {drain_ms}); held records {len(held.records())}, "
              f"{len(moved)} of them on partitions b took over; duplicates {duplicates}; "
              f"reported read again: {unacked} unacknowledged, {uncommitted} uncommitted")
        assert duplicates <= unacked + uncommitted, a.proc.stderr() + b.proc.stderr()
