"""Checks of the shared test peers themselves: the Prometheus text parser
against the format's rules, body decoding, the config builder's output, and
the Kafka peers (the mock cluster and the independent clients) against each
other. The Kafka checks need the built kafka_mock and kafka_consume_plain
(SLUICE_KAFKA_MOCK or SLUICE_BIN's build directory) and fail if they are
missing."""
import gzip
import math
import signal
import subprocess
import sys
import pathlib
import time
import zlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from peers import config, prometheus  # noqa: E402
from peers import kafka as kafkapeer  # noqa: E402
import kafka  # noqa: E402  (python3-kafka)
from peers.wire import decode_body  # noqa: E402

EXPOSITION = r'''# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5",} 4773
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
odd{a="x"}	NaN
'''


def test_parses_the_format_documentations_example():
    exp = prometheus.parse(EXPOSITION)
    assert exp.types == {"http_requests_total": "counter",
                         "http_request_duration_seconds": "histogram",
                         "rpc_duration_seconds": "summary"}
    assert exp.helps["http_requests_total"] == "The total number of HTTP requests."
    assert exp.value("http_requests_total") == 1030
    assert exp.value("http_requests_total", code=400) == 3
    assert exp.matching("http_requests_total", code="200")[0].timestamp == 1395066363000
    path = exp.matching("msdos_file_access_time_seconds")[0].labels
    assert path == {"path": "C:\\DIR\\FILE.TXT", "error": 'Cannot find file:\n"FILE.TXT"'}
    assert exp.value("something_weird") == math.inf
    assert exp.matching("something_weird")[0].timestamp == -3982045
    assert exp.value("http_request_duration_seconds_bucket", le="+Inf") == 144320
    assert exp.family("http_request_duration_seconds_count") == "http_request_duration_seconds"
    assert exp.family("rpc_duration_seconds_sum") == "rpc_duration_seconds"
    assert math.isnan(exp.value("odd"))
    assert exp.value("missing") is None


def test_help_text_escapes():
    exp = prometheus.parse("# HELP a back\\\\slash\\nnewline \\q kept\na 1\n")
    assert exp.helps["a"] == "back\\slash\nnewline \\q kept"


@pytest.mark.parametrize("text", [
    'a{x="1"} 1\na{x="1"} 2\n',                # the same series twice
    "# TYPE a counter\n# TYPE a gauge\n",      # two TYPE lines
    "a 1\n# TYPE a counter\n",                 # TYPE after the samples
    "# TYPE a widget\n",                       # unknown type
    'a{x="\\t"} 1\n',                          # bad escape
    "a{x=1} 1\n",                              # unquoted value
    'a{x="1" y="2"} 1\n',                      # no comma
    'a{x="1"\n',                               # unterminated
    "a\n", "a 1 2 3\n", "a one\n", "a 1_000\n", "a infinity\n",
    "1a 1\n",
])
def test_rejects_what_the_format_does_not_allow(text):
    with pytest.raises(ValueError):
        prometheus.parse(text)


def test_series_keys_are_name_and_sorted_labels():
    exp = prometheus.parse('a{z="1",b="2"} 5\nb 1\n')
    assert exp.series() == {("a", (("b", "2"), ("z", "1"))): 5.0, ("b", ()): 1.0}


def test_decode_body_per_content_encoding():
    raw = b"hello " * 100
    assert decode_body(gzip.compress(raw), "gzip") == raw
    assert decode_body(gzip.compress(raw), b"x-gzip") == raw
    assert decode_body(zlib.compress(raw), "deflate") == raw
    assert decode_body(zlib.compress(raw)[2:-4], "deflate") == raw   # raw deflate
    assert decode_body(raw, None) == raw
    with pytest.raises(ValueError):
        decode_body(b"not gzip", "gzip")
    with pytest.raises(ValueError):
        decode_body(raw, "br")


def test_config_builder_nests_blocks_under_their_sections():
    text = config.pipeline(config.stdin("json"),
                           config.component("out", "blackhole", ["in"], "rate: 5"),
                           api_port=1234, data_dir="/d", acks=True, shutdown=3)
    assert text == ('api:\n  enabled: true\n  address: "127.0.0.1:1234"\n'
                    'data_dir: "/d"\nshutdown_timeout_secs: 3\n'
                    "acknowledgements:\n  enabled: true\n"
                    "sources:\n  in:\n    type: stdin\n    decoding:\n      codec: json\n"
                    "sinks:\n  out:\n    type: blackhole\n    inputs: [\"in\"]\n    rate: 5\n")


# ---- Kafka peers --------------------------------------------------------


def test_kafka_mock_prints_a_bootstrap_and_answers_commands():
    with kafkapeer.KafkaMock(topics={"t": 2}, brokers=2) as mock:
        hosts = mock.bootstrap.split(",")
        assert len(hosts) == 2
        assert all(h.split(":")[1].isdigit() for h in hosts)
        mock.create_topic("more", 3)
        assert mock.earliest("more") == {0: 0, 1: 0, 2: 0}
        mock.broker_down(2)
        mock.broker_up(2)
        mock.broker_down(-1)
        mock.broker_up(-1)
        mock.set_rtt(1, 5)
        mock.set_rtt(1, 0)
        mock.set_leader("t", 1, 2)
        with pytest.raises(kafkapeer.KafkaMockError, match="unknown command"):
            mock.command("bogus")
        with pytest.raises(kafkapeer.KafkaMockError, match="usage: down"):
            mock.broker_down(3)
        mock.push_errors(0, 7, 1)     # Produce: REQUEST_TIMED_OUT, once
        with pytest.raises(kafka.errors.RequestTimedOutError):
            kafkapeer.produce(mock.bootstrap, "t", [b"refused"])
        assert kafkapeer.produce(mock.bootstrap, "t", [b"back up"])[0][1] == 0
    assert mock.returncode == 0, "kafka_mock exits 0 when its stdin closes"


def test_kafka_mock_exits_cleanly_on_sigterm():
    with kafkapeer.KafkaMock() as mock:
        mock.proc.send_signal(signal.SIGTERM)
        assert mock.proc.wait(timeout=5) == 0


def test_missing_peer_binary_fails_loudly(monkeypatch, tmp_path):
    monkeypatch.setenv("SLUICE_KAFKA_MOCK", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="SLUICE_KAFKA_MOCK"):
        kafkapeer.KafkaMock().start()


def test_python_kafka_writes_what_kcat_reads_and_back():
    with kafkapeer.KafkaMock(topics={"t": 2}) as mock:
        sent = kafkapeer.produce(mock.bootstrap, "t", [
            {"value": b"one", "key": b"k1", "headers": [("h", b"x"), ("e", b"")],
             "partition": 1, "timestamp_ms": 1700000000123},
            {"value": "two", "partition": 0},
        ], compression="lz4")
        assert sent == [(1, 0), (0, 0)]
        got = sorted(kafkapeer.kcat_consume(mock.bootstrap, "t", count=2))
        assert [(r.partition, r.offset, r.key, r.value) for r in got] == [
            (0, 0, None, b"two"), (1, 0, b"k1", b"one")]
        assert got[1].headers == [("h", b"x"), ("e", b"")]
        assert got[1].timestamp == 1700000000123

        kafkapeer.kcat_produce(mock.bootstrap, "t", ["a:1", "b:2"], key_delim=":",
                               partition=0, compression="zstd")
        back = kafkapeer.consume_all(mock.bootstrap, "t", expect=4, timeout=5)
        assert sorted((r.partition, r.offset, r.key, r.value) for r in back) == [
            (0, 0, None, b"two"), (0, 1, b"a", b"1"), (0, 2, b"b", b"2"),
            (1, 0, b"k1", b"one")]
        assert kafkapeer.end_offsets(mock.bootstrap, "t") == {0: 3, 1: 1}


def test_preload_spreads_distinct_numbered_messages():
    with kafkapeer.KafkaMock(topics={"t": 4, "small": 1}) as mock:
        count, seconds = mock.preload("t", 20000, 200)
        assert count == 20000 and seconds >= 0
        assert kafkapeer.end_offsets(mock.bootstrap, "t") == {p: 5000 for p in range(4)}
        assert mock.earliest("t") == {p: 0 for p in range(4)}
        records = kafkapeer.consume_all(mock.bootstrap, "t", timeout=10)
        assert len(records) == 20000
        assert all(len(r.value) == 200 for r in records)
        seqs = sorted(int(r.value.split(b" ", 1)[0]) for r in records)
        assert seqs == list(range(20000))
        assert all(int(r.value.split(b" ", 1)[0]) % 4 == r.partition for r in records)
        mock.preload("t", 4, 200, codec="zstd")
        records = kafkapeer.consume_all(mock.bootstrap, "t", timeout=10)
        assert sorted(int(r.value.split(b" ", 1)[0]) for r in records)[-4:] == \
            [20000, 20001, 20002, 20003], "numbers go on across preloads"

        # Beyond 5 MiB a mock partition silently drops its oldest batches:
        # earliest is how a test notices.
        mock.preload("small", 450000, 200)
        assert mock.earliest("small")[0] > 0


def test_committed_offsets_after_a_python_kafka_group_commits():
    with kafkapeer.KafkaMock(topics={"t": 2}) as mock:
        kafkapeer.produce(mock.bootstrap, "t",
                          [{"value": b"%d" % i, "partition": i % 2} for i in range(5)])
        consumer = kafka.KafkaConsumer(
            "t", bootstrap_servers=mock.bootstrap, api_version=kafkapeer.API_VERSION,
            group_id="g", auto_offset_reset="earliest", enable_auto_commit=False)
        try:
            seen, deadline = 0, time.monotonic() + 10   # the mock's first join takes 3 s
            while seen < 5 and time.monotonic() < deadline:
                seen += sum(len(b) for b in consumer.poll(timeout_ms=200).values())
            assert seen == 5
            consumer.commit()
        finally:
            consumer.close(autocommit=False)
        assert kafkapeer.committed_offsets(mock.bootstrap, "g", "t") == {0: 3, 1: 2}
        assert kafkapeer.committed_offsets(mock.bootstrap, "nobody", "t") == {}


def test_consume_plain_counts_a_preload():
    with kafkapeer.KafkaMock(topics={"t": 4}) as mock:
        mock.preload("t", 40000, 200)
        result = kafkapeer.consume_plain(mock.bootstrap, "t", 40000, timeout=20)
        assert result["messages"] == 40000
        assert result["bytes"] == 40000 * 200
        assert result["rate"] > 0
        argv = [kafkapeer.peer_binary("kafka_consume_plain", "SLUICE_KAFKA_CONSUME_PLAIN"),
                "--bootstrap", mock.bootstrap, "--topic", "t", "--count", "40001",
                "--timeout-secs", "1"]
        late = subprocess.run(argv, capture_output=True, timeout=15)
        assert late.returncode == 1 and b"timeout" in late.stderr and not late.stdout
