"""End-to-end tests of the `kafka` source's rebalances: two sluice processes
in one consumer group on librdkafka's mock cluster
(tests/peers/kafka_mock.c), records produced and committed offsets read back
by python3-kafka, deliveries recorded by a local HTTP receiver (one path per
process) with their arrival times.

- A member joins and another stops mid-stream while a producer keeps
  producing, under both protocols (eager, the default; cooperative-sticky
  through librdkafka_options): nothing is lost, the offsets end committed
  at the end, and the duplicates are measured and bounded by what the
  sources reported unacknowledged when a drain timed out.
- A partition revoked while a batch of it is held by a slow receiver: the
  drain gives up after drain_timeout_ms, counts those records, and the next
  owner reads them again.

The mock's first group join takes 3 s and every later rebalance waits
session_timeout_ms - 1 s for the members to rejoin, so the session is short
and heartbeats frequent."""
import datetime
import re
import signal
import threading
import time

import kafka
import pytest

from conftest import Sluice, free_port, wait_for
from peers.config import component, pipeline
from peers.kafka import API_VERSION, KafkaMock, committed_offsets, end_offsets, produce
from peers.recorder import HttpReceiver

TOPIC = "logs"
GROUP = "sluice-rebalance"
PARTITIONS = 4
SESSION_MS = 5000
STRATEGIES = {"eager": None, "cooperative": "cooperative-sticky"}
REBALANCE_LINE = re.compile(r"^(\S+) +INFO .*: (Assigned|Revoked) \d+ partitions(?:: (.*))?\.$")


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
                future.add_callback(lambda md, n=n: self.acked.__setitem__(n, (md.partition, md.offset)))
                future.add_errback(lambda e, n=n: self.failed.append((n, e)))
            due += tick
            time.sleep(max(0.0, due - time.monotonic()))

    def stop(self, timeout=10):
        """Stops producing; {number: (partition, offset)} of what the broker
        acknowledged."""
        self.halt.set()
        self.thread.join(timeout)
        self.producer.flush(timeout)
        self.producer.close(timeout=1)
        assert not self.failed, self.failed[:5]
        return dict(self.acked)


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

    def rebalances(self):
        """[(wall time, "Assigned"|"Revoked", {partitions})] from its log."""
        found = []
        for line in self.proc.stderr().splitlines():
            m = REBALANCE_LINE.match(line)
            if m:
                when = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
                parts = {int(p) for p in re.findall(r"\[(\d+)\]", m.group(3) or "")}
                found.append((when.timestamp(), m.group(2), parts))
        return found

    def owned(self):
        """The partitions it holds now, by its log."""
        held = set()
        for _, what, parts in self.rebalances():
            if what == "Assigned":
                held |= parts
            else:
                held -= parts
        return held

    def read_again(self):
        """(unacknowledged, uncommitted): the records its drains left to be
        read again by the next owner, because they were not acknowledged
        within drain_timeout_ms or because the commit failed
        (kafka_drain_unacknowledged_messages_total and
        kafka_drain_uncommitted_messages_total, by its log lines, which
        outlive the process)."""
        log = self.proc.stderr()
        unacked = re.findall(r"(\d+) records were not acknowledged within drain_timeout_ms", log)
        uncommitted = re.findall(r"(\d+) acknowledged records will be read again", log)
        return sum(map(int, unacked)), sum(map(int, uncommitted))


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
    produce(bootstrap, TOPIC, [b"n-%07d" % n for n in seq])


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
    with KafkaMock(topics={TOPIC: PARTITIONS}) as mock, HttpReceiver() as rx:
        producer = SteadyProducer(mock.bootstrap)
        a = members(mock, rx, "a", strategy)
        wait_for(lambda: len(committed_offsets(mock.bootstrap, GROUP, TOPIC)) == PARTITIONS,
                 timeout=20, what="a consuming and committing")
        assert a.owned() == set(range(PARTITIONS)), a.proc.stderr()

        b = members(mock, rx, "b", strategy)
        wait_for(lambda: b.owned() and len(a.owned()) + len(b.owned()) == PARTITIONS,
                 timeout=25, what="the partitions shared by a and b")
        joined_parts = set(b.owned())
        wait_for(lambda: {p for p, *_ in b.deliveries()} == joined_parts, timeout=10,
                 what="b reading each of its partitions")
        time.sleep(1)

        stopped_parts = set(a.owned())
        assert stopped_parts and not stopped_parts & joined_parts
        a.proc.proc.send_signal(signal.SIGTERM)
        assert a.proc.wait(30) == 0, a.proc.stderr()
        wait_for(lambda: b.owned() == set(range(PARTITIONS)), timeout=20,
                 what="b holding every partition")
        leave_revoke = [t for t, what, _ in a.rebalances() if what == "Revoked"][-1]
        wait_for(lambda: first_delivery_after(b.deliveries(), stopped_parts, leave_revoke),
                 timeout=10, what="b reading the partitions a held")

        produced = producer.stop()
        all_delivered(produced, a, b)
        wait_for(lambda: offsets_at_end(mock.bootstrap), timeout=10,
                 what="committed offsets at the end offsets")
        assert b.proc.terminate(30) == 0, b.proc.stderr()

        got = numbers(a.deliveries()) + numbers(b.deliveries())
        assert set(got) == set(produced)
        duplicates = len(got) - len(set(got))
        unacked, uncommitted = (x + y for x, y in zip(a.read_again(), b.read_again()))
        join_revoke = [t for t, what, _ in a.rebalances() if what == "Revoked"][0]
        join_resume = first_delivery_after(b.deliveries(), joined_parts, join_revoke)
        leave_resume = first_delivery_after(b.deliveries(), stopped_parts, leave_revoke)
        print(f"\n[{protocol}] produced {len(produced)}, delivered {len(got)}, duplicates "
              f"{duplicates}; reported read again: {unacked} unacknowledged at drain timeout, "
              f"{uncommitted} acknowledged but refused commit; partition resumes after a "
              f"revoke: join {join_resume - join_revoke:.2f} s (partitions "
              f"{sorted(joined_parts)}), leave {leave_resume - leave_revoke:.2f} s "
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
        produce_numbered(mock.bootstrap, range(0, 200))
        a = members(mock, rx, "a", strategy, drain_timeout_ms=drain_ms, max_events=20)
        wait_for(lambda: offsets_at_end(mock.bootstrap), timeout=20,
                 what="a consuming and committing the first records")

        held = HeldRequests(rx, "/a")
        produce_numbered(mock.bootstrap, range(200, 400))
        wait_for(lambda: held.records(), timeout=10, what="a batch of a held by the receiver")
        b = members(mock, rx, "b", strategy)
        wait_for(lambda: "not acknowledged within drain_timeout_ms" in a.proc.stderr(),
                 timeout=15, what="a's drain giving up on the held batch")
        held.release.set()
        revoked_at, _, revoked = [r for r in a.rebalances() if r[1] == "Revoked"][0]
        gave_up = drain_gave_up_at(a)
        assert drain_ms / 1000 - 0.1 <= gave_up - revoked_at <= drain_ms / 1000 + 1.5, \
            a.proc.stderr()
        unacked, uncommitted = a.read_again()
        assert unacked > 0, a.proc.stderr()

        all_delivered(dict.fromkeys(range(400)), a, b)
        wait_for(lambda: offsets_at_end(mock.bootstrap), timeout=10,
                 what="committed offsets at the end offsets")
        taken = b.owned()
        assert a.proc.terminate(30) == 0, a.proc.stderr()
        assert b.proc.terminate(30) == 0, b.proc.stderr()

        # What a held of the partitions it gave up, b read again.
        moved = {(p, o) for p, o in held.records() if p in revoked and p in taken}
        assert moved and moved <= {(p, o) for p, o, _, _ in b.deliveries()}
        if protocol == "cooperative":
            assert_kept_partitions_not_read_again(a)
        got = numbers(a.deliveries()) + numbers(b.deliveries())
        duplicates = len(got) - len(set(got))
        print(f"\n[{protocol}] drain gave up after {gave_up - revoked_at:.2f} s "
              f"(drain_timeout_ms {drain_ms}); held records {len(held.records())}, "
              f"{len(moved)} of them on partitions b took over; duplicates {duplicates}; "
              f"reported read again: {unacked} unacknowledged, {uncommitted} uncommitted")
        assert duplicates <= unacked + uncommitted
