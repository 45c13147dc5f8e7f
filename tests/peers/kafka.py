"""Kafka peers for tests and benchmarks: a mock cluster and two clients that
are not sluice.

KafkaMock runs tests/peers/kafka_mock.c, librdkafka's mock cluster (the
real Kafka protocol on loopback, consumer groups and commits included) in a
process the test drives over a pipe: topics, broker down/up, request
errors, preloading. It dies with the test: it exits when its stdin closes.

The clients check what sluice wrote or read with code that is not
sluice's: produce/consume_all/committed_offsets/end_offsets use Debian's
python3-kafka (kafka-python 2.0.2, pure Python, its own protocol code), and
kcat_produce/kcat_consume run the real kcat binary. consume_plain runs
kafka_consume_plain, the benchmark's ceiling.

What python3-kafka needs against librdkafka 2.0.2's mock (all set here):
- api_version=(2, 3, 0), which is what it negotiates with the mock anyway;
  pinned so a client made while a broker is down does not probe.
- python3-lz4 for lz4 batches (python3-zstandard and python3-snappy for the
  other codecs; gzip is built in).
- Never ask for "all topics" or "all partitions of a group": the mock
  answers those with a null array, which kafka-python cannot iterate
  (KafkaAdminClient.list_consumer_group_offsets without partitions raises
  TypeError). Name the topic and its partitions.
- auto_offset_reset='earliest': the mock deletes old batches beyond 5 MiB
  per partition, and on "offset out of range" kafka-python's default
  ('latest') jumps to the end, which looks like a stalled partition;
  'earliest' goes on from the oldest batch left.
- The first join of an empty group takes 3 s in the mock; a grouped
  consumer needs that in its deadline.
- Any metadata request for a topic that does not exist creates it with 4
  partitions (the mock answers Metadata only up to v2, which auto-creates).

Standard library plus python3-kafka; run with Debian's /usr/bin/python3.
Import it as peers.kafka with tests/ on sys.path: with tests/peers itself on
sys.path this file would shadow python3-kafka's `kafka`."""
import collections
import json
import os
import pathlib
import select
import subprocess
import time

import kafka
from kafka.structs import TopicPartition

API_VERSION = (2, 3, 0)
ROOT = pathlib.Path(__file__).resolve().parents[2]

Record = collections.namedtuple(
    "Record", "topic partition offset key value headers timestamp")


class KafkaMockError(Exception):
    """The mock answered ERR, did not answer in time, or is gone."""


def _build_tests_dir():
    sluice = os.environ.get("SLUICE_BIN", str(ROOT / "build" / "sluice"))
    return pathlib.Path(sluice).resolve().parent / "tests"


def peer_binary(name, env_var):
    """The path of a C test peer: $env_var, else tests/NAME in the build
    directory of $SLUICE_BIN. Raises FileNotFoundError naming both when it
    is not there, so a missing build fails loudly instead of skipping."""
    path = pathlib.Path(os.environ.get(env_var) or _build_tests_dir() / name)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"{name} not found at {path}: build it (cmake --build build "
            f"--target {name}) or point {env_var} at it")
    return str(path)


class KafkaMock:
    """A mock Kafka cluster for one test:

        with KafkaMock(topics={"logs": 4}) as mock:
            produce(mock.bootstrap, "logs", [b"a", b"b"])

    topics maps a name to its partition count. Every command waits for its
    answer up to a deadline and raises KafkaMockError on ERR."""

    def __init__(self, topics=None, brokers=1, start_timeout=10):
        self.topics = dict(topics or {})
        self.brokers = brokers
        self.start_timeout = start_timeout
        self.bootstrap = None
        self.proc = None
        self.returncode = None
        self._pending = b""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is None and self.returncode != 0:
            raise KafkaMockError(f"kafka_mock exited with status {self.returncode}"
                                 " (a crash or a sanitizer report: see its stderr)")

    def start(self):
        argv = [peer_binary("kafka_mock", "SLUICE_KAFKA_MOCK"),
                "--brokers", str(self.brokers)]
        for name, partitions in self.topics.items():
            argv += ["--topic", f"{name}:{partitions}"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        try:
            line = self._readline(time.monotonic() + self.start_timeout)
            if not line.startswith("BOOTSTRAP "):
                raise KafkaMockError(f"kafka_mock started with {line!r}")
        except BaseException:
            self.stop()
            raise
        self.bootstrap = line.split(" ", 1)[1]

    def stop(self):
        if not self.proc:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc.stdout.close()
        self.returncode = self.proc.returncode
        self.proc = None

    def _readline(self, deadline):
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KafkaMockError("kafka_mock did not answer in time")
            if not select.select([fd], [], [], left)[0]:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise KafkaMockError(
                    f"kafka_mock exited (status {self.proc.poll()})")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode()

    def command(self, line, timeout=10):
        """Sends one command line; returns what follows "OK" (stripped)."""
        if not self.proc:
            raise KafkaMockError("kafka_mock is not running")
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise KafkaMockError(f"kafka_mock is gone ({line!r})") from None
        answer = self._readline(time.monotonic() + timeout)
        if answer == "OK" or answer.startswith("OK "):
            return answer[3:]
        raise KafkaMockError(f"{line!r}: {answer}")

    def create_topic(self, name, partitions):
        self.command(f"topic {name} {partitions}")

    def broker_down(self, broker_id=1):
        """Closes the broker's connections and refuses new ones (brokers
        count from 1; -1 is every broker). Leadership stays put."""
        self.command(f"down {broker_id}")

    def broker_up(self, broker_id=1):
        self.command(f"up {broker_id}")

    def set_rtt(self, broker_id, ms):
        """Delays every response of the broker by ms (0 ends it)."""
        self.command(f"rtt {broker_id} {ms}")

    def set_leader(self, topic, partition, broker_id):
        """Moves a partition's leadership; the mock never moves it by
        itself, not even off a broker that is down."""
        self.command(f"leader {topic} {partition} {broker_id}")

    def push_errors(self, api_key, error_code, count=1):
        """The next count requests of api_key (Kafka's number: 0 Produce,
        1 Fetch, 8 OffsetCommit, 11 JoinGroup, ...) get error_code (6 is
        NOT_LEADER_OR_FOLLOWER, 7 REQUEST_TIMED_OUT, ...)."""
        self.command(f"error {api_key} {error_code} {count}")

    def preload(self, topic, count, size, codec="lz4", timeout=120):
        """Produces count messages of size bytes ("<seq> level=info ...")
        round-robin over the topic's partitions and waits until all are
        stored: returns (count, seconds). With 200-byte messages a
        partition keeps about 390,000 with lz4 and 1,070,000 with zstd."""
        answer = self.command(f"preload {topic} {count} {size} {codec}",
                              timeout=timeout)
        delivered, seconds = answer.split()
        return int(delivered), float(seconds)

    def earliest(self, topic):
        """{partition: earliest offset}: all 0 while the mock deleted
        nothing."""
        answer = self.command(f"earliest {topic}")
        return {int(p): int(off) for p, off in
                (item.split(":") for item in answer.split())}


def _as_bytes(v):
    return v.encode() if isinstance(v, str) else v


def produce(bootstrap, topic, records, compression="lz4", timeout=10):
    """Produces records with python3-kafka and waits until each is
    acknowledged; returns their (partition, offset) in order. A record is
    bytes/str (the value) or a dict with any of value, key, headers (list
    of (str, bytes)), partition and timestamp_ms."""
    producer = kafka.KafkaProducer(
        bootstrap_servers=bootstrap, api_version=API_VERSION,
        compression_type=compression, max_block_ms=timeout * 1000,
        request_timeout_ms=timeout * 1000, linger_ms=5)
    try:
        futures = []
        for r in records:
            r = r if isinstance(r, dict) else {"value": r}
            futures.append(producer.send(
                topic, value=_as_bytes(r.get("value")),
                key=_as_bytes(r.get("key")),
                headers=[(k, _as_bytes(v)) for k, v in r.get("headers", [])],
                partition=r.get("partition"),
                timestamp_ms=r.get("timestamp_ms")))
        deadline = time.monotonic() + timeout
        producer.flush(timeout=timeout)
        sent = []
        for f in futures:
            md = f.get(timeout=max(0.1, deadline - time.monotonic()))
            sent.append((md.partition, md.offset))
        return sent
    finally:
        producer.close(timeout=1)


def _consumer(bootstrap, **settings):
    return kafka.KafkaConsumer(
        bootstrap_servers=bootstrap, api_version=API_VERSION,
        enable_auto_commit=False, auto_offset_reset="earliest", **settings)


def _partitions(consumer, topic, deadline):
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        if time.monotonic() > deadline:
            raise TimeoutError(f"no metadata for topic {topic}")
        time.sleep(0.1)


def consume_all(bootstrap, topic, expect=None, timeout=10):
    """Reads topic from the beginning of every partition without a group
    (python3-kafka): until expect records were read, or with expect None
    until the end offsets seen at the start, or until timeout. Returns the
    Records read, in arrival order; the caller checks the count."""
    deadline = time.monotonic() + timeout
    consumer = _consumer(bootstrap, group_id=None)
    try:
        tps = _partitions(consumer, topic, deadline)
        consumer.assign(tps)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(tps) if expect is None else None
        records = []
        while time.monotonic() < deadline:
            if expect is not None and len(records) >= expect:
                break
            if ends is not None and all(
                    consumer.position(tp) >= end for tp, end in ends.items()):
                break
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(Record(m.topic, m.partition, m.offset, m.key,
                                      m.value, list(m.headers), m.timestamp)
                               for m in batch)
        return records
    finally:
        consumer.close(autocommit=False)


def end_offsets(bootstrap, topic, timeout=10):
    """{partition: end offset} (python3-kafka)."""
    consumer = _consumer(bootstrap, group_id=None)
    try:
        tps = _partitions(consumer, topic, time.monotonic() + timeout)
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close(autocommit=False)


def committed_offsets(bootstrap, group, topic, timeout=10):
    """{partition: committed offset} of group on topic, partitions without
    a commit left out (python3-kafka's admin client, asked per partition:
    the mock cannot list a group's partitions)."""
    consumer = _consumer(bootstrap, group_id=None)
    try:
        tps = _partitions(consumer, topic, time.monotonic() + timeout)
    finally:
        consumer.close(autocommit=False)
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap,
                                   api_version=API_VERSION,
                                   request_timeout_ms=timeout * 1000)
    try:
        offsets = admin.list_consumer_group_offsets(group, partitions=tps)
    finally:
        admin.close()
    return {tp.partition: om.offset for tp, om in offsets.items()
            if om.offset >= 0}


def kcat_produce(bootstrap, topic, lines, key_delim=None, partition=None,
                 compression=None, timeout=10):
    """Produces one message per line with the kcat binary; with key_delim
    each line is KEY<delim>VALUE."""
    argv = ["kcat", "-P", "-b", bootstrap, "-t", topic]
    if key_delim is not None:
        argv += ["-K", key_delim]
    if partition is not None:
        argv += ["-p", str(partition)]
    if compression:
        argv += ["-z", compression]
    data = b"".join(_as_bytes(line) + b"\n" for line in lines)
    subprocess.run(argv, input=data, check=True, timeout=timeout,
                   capture_output=True)


def kcat_consume(bootstrap, topic, count=None, timeout=10):
    """Reads topic from the beginning with the kcat binary: count messages
    (waiting for them up to timeout), or with count None all there is now.
    Returns Records (headers as (str, bytes) pairs; kcat prints keys and
    values as text)."""
    argv = ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning",
            "-J", "-q"]
    argv += ["-c", str(count)] if count is not None else ["-e"]
    out = subprocess.run(argv, check=True, timeout=timeout,
                         capture_output=True).stdout
    records = []
    for line in out.decode().splitlines():
        m = json.loads(line)
        h = m.get("headers") or []
        records.append(Record(
            m["topic"], m["partition"], m["offset"], _as_bytes(m["key"]),
            _as_bytes(m["payload"]),
            [(h[i], _as_bytes(h[i + 1])) for i in range(0, len(h), 2)],
            m["ts"]))
    return records


def consume_plain(bootstrap, topic, count, group=None, timeout=60):
    """Runs kafka_consume_plain (a bare librdkafka consumer loop) until it
    read count messages: returns its {"messages", "bytes", "seconds",
    "rate"}, the seconds from the first message to the last."""
    argv = [peer_binary("kafka_consume_plain", "SLUICE_KAFKA_CONSUME_PLAIN"),
            "--bootstrap", bootstrap, "--topic", topic, "--count", str(count),
            "--timeout-secs", str(timeout)]
    if group:
        argv += ["--group", group]
    out = subprocess.run(argv, check=True, timeout=timeout + 15,
                         stdout=subprocess.PIPE).stdout
    return json.loads(out)
