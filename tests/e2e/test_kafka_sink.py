"""End-to-end tests of the `kafka` sink against librdkafka's mock cluster
(tests/peers/kafka_mock.c), read back with python3-kafka, a client that
shares no code with sluice: records with keys, headers, timestamps and
JSON payloads on templated topics, lz4-compressed; an event whose topic
cannot be rendered dropped and the rest delivered; a broker taken down
mid-stream and brought back while a file source waits for
acknowledgements: every line arrives and the checkpoint waits for it; a
record too large rejected and passed by the checkpoint; the healthcheck
in `validate` with the cluster up and unreachable."""
import datetime
import json
import time

from conftest import checkpoint_offsets, free_port, run_cli, run_with_input, wait_for
from peers.config import component, pipeline, stdin
from peers.kafka import KafkaMock, consume_all

# Quick reconnects, so a broker that comes back is used at once.
FAST_RECONNECT = """librdkafka_options:
  reconnect.backoff.ms: "20"
  reconnect.backoff.max.ms: "200"
"""


def kafka_sink(bootstrap, topic, extra="", codec="json", name="out", inputs=("in",),
               encoding=""):
    """encoding: more lines of the `encoding` map, each indented by two."""
    return component(name, "kafka", list(inputs),
                     f'bootstrap_servers: "{bootstrap}"\ntopic: "{topic}"\n'
                     f"encoding:\n  codec: {codec}\n{encoding}{extra}")


def file_pipeline(tmp_path, bootstrap, topic, extra):
    """A file source reading in.log from the beginning into the kafka sink
    with acknowledgements: (config, log path, data_dir)."""
    log = tmp_path / "in.log"
    log.write_bytes(b"")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    source = component("in", "file", None,
                       f'include: ["{log}"]\nread_from: beginning')
    sink = kafka_sink(bootstrap, topic, "acknowledgements:\n  enabled: true\n" + extra,
                      codec="text")
    return pipeline(source, sink, data_dir=data_dir), log, data_dir


def rfc3339_ms(ts):
    """Milliseconds since the epoch of an RFC 3339 UTC time with any
    number of fraction digits."""
    whole = datetime.datetime.strptime(ts[:19] + "+0000", "%Y-%m-%dT%H:%M:%S%z")
    frac = ts[20:-1] if ts[19] == "." else ""
    return int(whole.timestamp()) * 1000 + int(frac.ljust(3, "0")[:3])


def append(log, lines):
    with open(log, "ab") as f:
        f.write("".join(line + "\n" for line in lines).encode())


def test_records_carry_key_headers_timestamp_and_templated_topic(start_sluice, tmp_path):
    with KafkaMock(topics={"logs-api": 2, "logs-web": 1}) as mock:
        events = []
        for i in range(40):
            service = "api" if i % 3 else "web"
            events.append({"message": f"m{i}", "service": service, "user": f"u{i % 5}",
                           "hdrs": {"trace": f"t-{i}", "attempt": i % 2}})
        events.append({"message": "no service", "user": "u0"})
        extra = "key_field: user\nheaders_key: hdrs\ncompression: lz4\n"
        cfg = pipeline(stdin("json"), kafka_sink(mock.bootstrap, "logs-{{ service }}", extra))
        data = "".join(json.dumps(e) + "\n" for e in events).encode()
        s = run_with_input(start_sluice, cfg, data)
        assert "Failed to render the topic template" in s.stderr()

        got = {}
        for topic, n in (("logs-api", 26), ("logs-web", 14)):
            records = consume_all(mock.bootstrap, topic, expect=n + 1, timeout=5)
            assert len(records) == n, topic
            for r in records:
                body = json.loads(r.value)
                assert topic == "logs-" + body["service"]
                got[body["message"]] = (r, body)
        assert sorted(got) == sorted(f"m{i}" for i in range(40))
        for i in range(40):
            r, body = got[f"m{i}"]
            assert r.key == f"u{i % 5}".encode()
            assert sorted(r.headers) == [("attempt", str(i % 2).encode()),
                                         ("trace", f"t-{i}".encode())]
            assert r.timestamp == rfc3339_ms(body["timestamp"])
            assert body["hdrs"]["trace"] == f"t-{i}"


def test_a_broker_down_mid_stream_loses_nothing(start_sluice, tmp_path):
    with KafkaMock(topics={"logs": 2}) as mock:
        cfg, log, data_dir = file_pipeline(
            tmp_path, mock.bootstrap, "logs", "message_timeout_ms: 1000\n" + FAST_RECONNECT)
        first = [f"before {i}" for i in range(300)]
        append(log, first)
        s = start_sluice(cfg)
        wait_for(lambda: len(consume_all(mock.bootstrap, "logs", expect=300, timeout=2)) == 300,
                 what="the first lines")
        mock.broker_down()
        second = [f"during {i}" for i in range(300)]
        append(log, second)
        wait_for(lambda: "produced again" in s.stderr(), timeout=20,
                 what="records timed out and produced again")
        size = log.stat().st_size
        assert all(o < size for o in checkpoint_offsets(data_dir)), \
            "the checkpoint passed lines the broker never acknowledged"
        mock.broker_up()

        def all_arrived():
            values = {r.value.decode()
                      for r in consume_all(mock.bootstrap, "logs", expect=None, timeout=3)}
            return values >= set(first + second)
        wait_for(all_arrived, timeout=30, what="every line after the broker came back")
        wait_for(lambda: size in checkpoint_offsets(data_dir), timeout=15,
                 what="the checkpoint to reach the end")
        assert mock.earliest("logs") == {0: 0, 1: 0}
        assert s.terminate() == 0


def test_a_disk_buffer_keeps_what_the_broker_did_not_take_across_a_restart(start_sluice,
                                                                            tmp_path):
    """A disk buffer in front of the sink: while the broker is down the
    file checkpoint moves once lines are on disk, SIGTERM stops sluice
    promptly (the buffer keeps what was not delivered), and the next start
    delivers it once the broker is back."""
    with KafkaMock(topics={"logs": 2}) as mock:
        buffer = "buffer:\n  type: disk\n  max_size: 268435488\n"
        cfg, log, data_dir = file_pipeline(
            tmp_path, mock.bootstrap, "logs",
            "message_timeout_ms: 1000\n" + buffer + FAST_RECONNECT)
        lines = [f"buffered {i}" for i in range(500)]
        mock.broker_down()
        append(log, lines)
        s = start_sluice(cfg)
        size = log.stat().st_size
        wait_for(lambda: size in checkpoint_offsets(data_dir), timeout=15,
                 what="the checkpoint to pass lines safe in the disk buffer")
        start = time.monotonic()
        assert s.terminate() == 0, s.stderr()
        assert time.monotonic() - start < 10, "a disk-buffered sink must stop promptly"

        mock.broker_up()
        s = start_sluice(cfg)

        def all_arrived():
            values = {r.value.decode()
                      for r in consume_all(mock.bootstrap, "logs", expect=None, timeout=3)}
            return values >= set(lines)
        wait_for(all_arrived, timeout=30, what="the buffered lines after the restart")
        assert s.terminate() == 0


def test_encoding_options_shape_the_payload_and_rate_limit_paces_records(start_sluice,
                                                                          tmp_path):
    """Vector's encoding transformer (except_fields, timestamp_format) shapes
    the payload only: the key still comes from the whole event; and
    rate_limit_num records per second pace the sink."""
    with KafkaMock(topics={"logs": 1}) as mock:
        events = [{"message": f"m{i}", "user": f"u{i % 3}", "secret": "s3cr3t"}
                  for i in range(150)]
        sink = kafka_sink(mock.bootstrap, "logs",
                          "key_field: user\nrate_limit_num: 50\nrate_limit_duration_secs: 1\n",
                          encoding="  except_fields: [secret]\n  timestamp_format: unix\n")
        start = time.monotonic()
        run_with_input(start_sluice, pipeline(stdin("json"), sink),
                       "".join(json.dumps(e) + "\n" for e in events).encode())
        took = time.monotonic() - start
        records = consume_all(mock.bootstrap, "logs", expect=150, timeout=5)
        assert len(records) == 150
        for r in records:
            body = json.loads(r.value)
            assert "secret" not in body
            assert isinstance(body["timestamp"], int)
            assert r.key == body["user"].encode()
        assert took >= 2.0, f"150 records at 50 a second took {took:.2f} s"


def test_a_record_too_large_is_rejected_and_passed(start_sluice, tmp_path):
    with KafkaMock(topics={"logs": 1}) as mock:
        extra = 'librdkafka_options:\n  message.max.bytes: "1000"\n'
        cfg, log, data_dir = file_pipeline(tmp_path, mock.bootstrap, "logs", extra)
        append(log, ["small 1", "x" * 3000, "small 2"])
        s = start_sluice(cfg)
        size = log.stat().st_size
        wait_for(lambda: size in checkpoint_offsets(data_dir), timeout=15,
                 what="the checkpoint to pass the rejected line")
        values = [r.value for r in consume_all(mock.bootstrap, "logs", expect=2, timeout=5)]
        assert values == [b"small 1", b"small 2"]
        assert s.terminate() == 0
        assert "Kafka refused a record for topic logs" in s.stderr()


def test_healthcheck_in_validate(tmp_path):
    cfg = tmp_path / "c.yaml"
    with KafkaMock(topics={"logs": 1}) as mock:
        cfg.write_text(pipeline(stdin(), kafka_sink(mock.bootstrap, "logs")))
        v = run_cli("validate", "-c", str(cfg))
        assert v.returncode == 0, v.stdout + v.stderr
    cfg.write_text(pipeline(stdin(), kafka_sink(f"127.0.0.1:{free_port()}", "logs")))
    v = run_cli("validate", "-c", str(cfg), timeout=30)
    assert v.returncode != 0
    assert "no Kafka broker answered" in v.stdout + v.stderr


def test_metrics_are_records_keyed_by_a_tag(start_sluice, tmp_path):
    with KafkaMock(topics={"metrics-sluice": 1}) as mock:
        source = component("in", "internal_metrics", None, "scrape_interval_secs: 0.2")
        sink = kafka_sink(mock.bootstrap, "metrics-{{ namespace }}", "key_field: host\n")
        s = start_sluice(pipeline(source, sink))
        records = []

        def some_arrived():
            records[:] = consume_all(mock.bootstrap, "metrics-sluice", expect=None, timeout=2)
            return len(records) >= 20
        wait_for(some_arrived, timeout=20, what="metric records")
        assert s.terminate() == 0
        for r in records[:20]:
            body = json.loads(r.value)
            assert body["namespace"] == "sluice" and body["name"]
            assert r.key == body["tags"]["host"].encode()
            assert r.timestamp == rfc3339_ms(body["timestamp"])
