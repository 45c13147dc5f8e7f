"""End-to-end tests of the `kafka` source against librdkafka's mock cluster
(tests/peers/kafka_mock.c), with records produced and committed offsets
read back by python3-kafka, not by sluice: exact delivery of keys, headers
and payloads; committed offsets at the end of every partition after a
drain; a sink that fails for a while (errored: the records are read again
and the offsets wait for them); a rejected batch passed, logged and
counted; bad JSON counted and skipped; tombstones without events; and
validate's errors. The mock's first group join takes about 3 s."""
import datetime
import json

from conftest import free_port, metric_value, read_events, run_cli, wait_for
from peers.config import component, pipeline
from peers.kafka import KafkaMock, committed_offsets, end_offsets, produce
from peers.recorder import HttpReceiver, Reply

TOPIC = "logs"
GROUP = "sluice-e2e"


def kafka_source(bootstrap, extra="", commit_interval_ms=200):
    return component("k", "kafka", options=(
        f'bootstrap_servers: "{bootstrap}"\n'
        f"topics: [{TOPIC}]\n"
        f"group_id: {GROUP}\n"
        "auto_offset_reset: earliest\n"
        "session_timeout_ms: 6000\n"
        f"commit_interval_ms: {commit_interval_ms}\n" + extra))


def file_sink(path):
    return component("out", "file", ["k"], f"""
        path: "{path}"
        encoding:
          codec: json
        acknowledgements: true
        """)


def http_sink(url, retry_attempts=1, concurrency=8):
    return component("out", "http", ["k"], f"""
        uri: "{url}"
        encoding:
          codec: ndjson
        acknowledgements: true
        batch:
          max_events: 20
          timeout_secs: 0.1
        request:
          concurrency: {concurrency}
          retry_attempts: {retry_attempts}
          retry_initial_backoff_secs: 0.05
          retry_max_duration_secs: 0.1
        """)


def delivered(rx):
    return [e["message"] for r in rx.accepted() for e in r.ndjson()]


def offsets_reach_end(bootstrap):
    ends = end_offsets(bootstrap, TOPIC)
    return committed_offsets(bootstrap, GROUP, TOPIC) == {p: e for p, e in ends.items() if e}


def test_exact_delivery_of_keys_headers_and_payloads(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    with KafkaMock(topics={TOPIC: 3}) as mock:
        records = [{"value": f"payload {i} \u00e9", "key": f"key-{i}" if i % 3 else None,
                    "headers": [("trace", b"t%d" % i), ("bin", b"\x00\xff")] if i % 2 else [],
                    "timestamp_ms": 1700000000000 + i} for i in range(300)]
        sent = produce(mock.bootstrap, TOPIC, records)
        s = start_sluice(pipeline(kafka_source(mock.bootstrap), file_sink(out)))
        wait_for(lambda: len(read_events(out)) >= 300, timeout=30, what="300 events")
        assert s.terminate(30) == 0, s.stderr()
        events = read_events(out)
        assert len(events) == 300
        by_message = {e["message"]: e for e in events}
        for i, (r, (part, off)) in enumerate(zip(records, sent)):
            e = by_message[r["value"]]
            assert e["message_key"] == r["key"]
            assert e["topic"] == TOPIC
            assert e["partition"] == part and e["offset"] == off
            assert e["source_type"] == "kafka"
            ts = datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
            assert round(ts.timestamp() * 1000) == r["timestamp_ms"]
            want = {"trace": "t%d" % i, "bin": "\u0000\ufffd"} if i % 2 else {}
            assert e["headers"] == want
        assert offsets_reach_end(mock.bootstrap)


def test_drain_commits_end_offsets_with_acknowledgements(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    with KafkaMock(topics={TOPIC: 4}) as mock:
        produce(mock.bootstrap, TOPIC, [f"m{i}" for i in range(2000)])
        # Commits only at the drain: the interval is longer than the test.
        src = kafka_source(mock.bootstrap, commit_interval_ms=600000)
        s = start_sluice(pipeline(src, file_sink(out)))
        wait_for(lambda: len(read_events(out)) >= 2000, timeout=30, what="2000 events")
        assert s.terminate(30) == 0, s.stderr()
        ends = end_offsets(mock.bootstrap, TOPIC)
        assert sum(ends.values()) == 2000
        assert committed_offsets(mock.bootstrap, GROUP, TOPIC) == ends


def test_errored_deliveries_are_read_again_and_offsets_wait(start_sluice):
    port = free_port()
    with KafkaMock(topics={TOPIC: 2}) as mock, HttpReceiver() as rx:
        rx.default = Reply(503)
        want = [f"m{i}" for i in range(200)]
        produce(mock.bootstrap, TOPIC, want)
        s = start_sluice(pipeline(kafka_source(mock.bootstrap), http_sink(rx.url),
                                  api_port=port))
        wait_for(lambda: len(rx.received()) >= 10, timeout=20, what="failing requests")
        # Nothing was delivered, so nothing may be committed past a record.
        assert committed_offsets(mock.bootstrap, GROUP, TOPIC) in ({}, {0: 0, 1: 0},
                                                                   {0: 0}, {1: 0})
        rx.default = Reply(200)
        wait_for(lambda: set(delivered(rx)) >= set(want), timeout=30,
                 what="every record delivered after the failures")
        wait_for(lambda: offsets_reach_end(mock.bootstrap), timeout=10,
                 what="offsets at the end")
        assert "read again from offset" in s.stderr()
        assert s.terminate(30) == 0, s.stderr()


def test_rejected_batch_passes_logged_and_counted(start_sluice):
    port = free_port()
    with KafkaMock(topics={TOPIC: 1}) as mock, HttpReceiver() as rx:
        rx.script([Reply(400, body="bad payload")])
        produce(mock.bootstrap, TOPIC, [f"first {i}" for i in range(20)])
        s = start_sluice(pipeline(kafka_source(mock.bootstrap), http_sink(rx.url),
                                  api_port=port))
        s.wait_healthy(port)
        wait_for(lambda: rx.received(status=400), timeout=20, what="the rejected request")
        produce(mock.bootstrap, TOPIC, [f"second {i}" for i in range(20)])
        wait_for(lambda: any(m.startswith("second") for m in delivered(rx)), timeout=20,
                 what="later records delivered")
        wait_for(lambda: (metric_value(port, "kafka_rejected_messages_total",
                                       component_id="k") or 0) >= 1,
                 what="kafka_rejected_messages_total")
        rejected = metric_value(port, "component_discarded_events_total", component_id="k",
                                intentional="false")
        assert rejected == len(rx.received(status=400)[0].ndjson())
        wait_for(lambda: offsets_reach_end(mock.bootstrap), timeout=10,
                 what="offsets past the rejected records")
        assert "rejected" in s.stderr() and f"topic {TOPIC} partition 0 offsets 0.." in s.stderr()
        assert s.terminate(30) == 0, s.stderr()


def test_bad_json_counted_and_tombstones_make_no_event(start_sluice, tmp_path):
    port = free_port()
    out = tmp_path / "out.json"
    with KafkaMock(topics={TOPIC: 1}) as mock:
        records = []
        for i in range(30):
            records.append(json.dumps({"n": i}))
            if i % 10 == 0:
                records.append("{not json")
                records.append({"value": None, "key": f"gone-{i}"})
        produce(mock.bootstrap, TOPIC, records)
        src = kafka_source(mock.bootstrap, "decoding:\n  codec: json")
        s = start_sluice(pipeline(src, file_sink(out), api_port=port))
        wait_for(lambda: len(read_events(out)) >= 30, timeout=30, what="30 events")
        wait_for(lambda: offsets_reach_end(mock.bootstrap), timeout=10,
                 what="offsets past bad records and tombstones")
        events = read_events(out)
        assert sorted(e["n"] for e in events) == list(range(30))
        assert all(e["topic"] == TOPIC and "message" not in e for e in events)
        assert metric_value(port, "component_errors_total", component_id="k",
                            error_type="parser_failed") == 3
        assert metric_value(port, "kafka_tombstones_total", component_id="k") == 3
        assert "Failed to decode the record at topic logs partition 0 offset" in s.stderr()
        assert s.terminate(30) == 0, s.stderr()
        assert len(read_events(out)) == 30


def test_validate_refuses_a_long_drain_and_a_misspelled_librdkafka_option(tmp_path):
    def validate(extra):
        cfg = tmp_path / "k.yaml"
        cfg.write_text(pipeline(kafka_source("127.0.0.1:1", extra),
                                component("out", "blackhole", ["k"])))
        return run_cli("validate", "--no-environment", "-c", str(cfg))

    r = validate("drain_timeout_ms: 7000")
    assert r.returncode != 0
    assert "drain_timeout_ms (7000) must not be larger than session_timeout_ms (6000)" in r.stdout
    r = validate("librdkafka_options:\n  fetch.wiat.max.ms: \"5\"")
    assert r.returncode != 0
    assert "librdkafka_options.fetch.wiat.max.ms" in r.stdout
    r = validate("drain_timeout_ms: 6000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "offsets are stored as events leave the source" in r.stdout


def test_back_pressure_pauses_without_losing_records_and_bounds_prefetch(start_sluice):
    """A sink that takes nothing for a while fills the pipeline: after a
    second without room the source pauses its partitions (librdkafka drops
    what it had fetched ahead of them and fetches again from the position
    the source read to when they resume), it goes on polling meanwhile, and
    every record still arrives, none skipped."""
    port = free_port()
    budget = 4 * 1024 * 1024
    with KafkaMock(topics={TOPIC: 4}) as mock, HttpReceiver() as rx:
        count, _ = mock.preload(TOPIC, 20000, 200)
        assert count == 20000
        rx.delay = 3.0
        src = kafka_source(mock.bootstrap, f"fetch_memory_bytes: {budget}\n")
        sink = http_sink(rx.url, concurrency=1).replace("max_events: 20", "max_events: 200")
        s = start_sluice(pipeline(src, sink, api_port=port))
        s.wait_healthy(port)
        wait_for(lambda: (metric_value(port, "kafka_backpressure_pauses_total",
                                       component_id="k") or 0) >= 1,
                 timeout=20, what="the partitions paused under back-pressure")
        rx.delay = 0.0
        wait_for(lambda: len({m.split()[0] for m in delivered(rx)}) >= 20000, timeout=60,
                 what="every preloaded record")
        seqs = [m.split()[0] for m in delivered(rx)]
        assert len(set(seqs)) == 20000
        wait_for(lambda: offsets_reach_end(mock.bootstrap), timeout=10, what="offsets at the end")
        print(f"duplicates after pauses: {len(seqs) - 20000}")
        assert s.terminate(30) == 0, s.stderr()
