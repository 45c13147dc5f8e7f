"""The pet-health example (examples/pet-health/) run as shipped: its
producer publishes readings into librdkafka's mock cluster, sluice runs
sluice.yaml unchanged (the environment points it at the mock and at local
Datadog receivers that check every request against the spec; one extra
config file only moves the API to a free port), and what arrives is
compared with what the producer says it sent: one heart-rate sample and
one reading count per valid reading, tagged by pet, species and severity,
one anomaly count and one log per anomalous reading, the consumer lag per
partition, malformed messages counted and skipped, and the group's
committed offsets at the end of every partition after a clean stop."""
import collections
import json
import subprocess

from conftest import ROOT, free_port, metric_value, wait_for
from peers.datadog import DatadogReceiver
from peers.kafka import KafkaMock, committed_offsets, end_offsets

EXAMPLE = ROOT / "examples" / "pet-health"
TOPIC = "pet-health"
GROUP = "sluice-pet-health"
KEY = "test-api-key"


def produce_readings(bootstrap, count):
    r = subprocess.run(["/usr/bin/python3", str(EXAMPLE / "producer.py"),
                        "--bootstrap", bootstrap, "--topic", TOPIC, "--count", str(count),
                        "--anomalous", "0.1", "--malformed", "0.05", "--seed", "7"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def tags_of(series):
    return dict(t.split(":", 1) for t in series.get("tags", []))


def counted(dd, name):
    """Sum of the count series `name`, per (pet_id, species, severity)."""
    sums = collections.Counter()
    for s in dd.accepted_series():
        if s["metric"] == name:
            t = tags_of(s)
            sums[(t["pet_id"], t["species"], t["severity"])] += sum(
                p["value"] for p in s["points"])
    return sums


def samples(dd, name):
    with dd.lock:
        dists = [s for s in dd.distributions if s["metric"] == name]
    return [(tags_of(s), v) for s in dists for p in s["points"] for v in p[1]]


def test_pet_health_example_as_shipped(start_sluice, tmp_path):
    port = free_port()
    api = tmp_path / "api.yaml"
    api.write_text(f"api:\n  address: 127.0.0.1:{port}\n")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with KafkaMock(topics={TOPIC: 4}) as mock, DatadogReceiver(api_keys=(KEY,)) as dd:
        sent = produce_readings(mock.bootstrap, 400)
        anomalous = sent["by_severity"]["warning"] + sent["by_severity"]["critical"]
        env = {"KAFKA_BOOTSTRAP_SERVERS": mock.bootstrap, "SLUICE_DATA_DIR": str(data_dir),
               "DD_API_KEY": KEY, "DD_METRICS_ENDPOINT": dd.url, "DD_LOGS_ENDPOINT": dd.url}
        s = start_sluice((EXAMPLE / "sluice.yaml").read_text(), args=("-c", str(api)), env=env)
        s.wait_healthy(port, timeout=15)

        wait_for(lambda: sum(counted(dd, "pet.health.readings").values()) == sent["readings"],
                 timeout=40, what="every valid reading counted at Datadog")
        wait_for(lambda: dd.delivered() == anomalous, timeout=20,
                 what="one log per anomalous reading")
        wait_for(lambda: sum(counted(dd, "pet.health.anomalies").values()) == anomalous,
                 timeout=20, what="the anomaly counts")
        wait_for(lambda: len(samples(dd, "pet.health.heart_rate")) == sent["readings"],
                 timeout=20, what="one heart-rate sample per reading")
        wait_for(lambda: any(s["metric"].endswith("kafka_consumer_lag")
                             for s in dd.accepted_series()),
                 timeout=30, what="the consumer lag metric")

        per_pet = collections.Counter()
        for (pet, species, severity), n in counted(dd, "pet.health.readings").items():
            assert species in ("dog", "cat") and severity in ("normal", "warning", "critical")
            per_pet[pet] += n
        assert dict(per_pet) == sent["per_pet"]
        by_severity = collections.Counter()
        for (_, _, severity), n in counted(dd, "pet.health.readings").items():
            by_severity[severity] += n
        assert dict(by_severity) == {k: v for k, v in sent["by_severity"].items() if v}

        rates = [v for _, v in samples(dd, "pet.health.heart_rate")]
        assert all(20 <= v <= 400 for v in rates)
        logs = dd.logs
        assert {log["severity"] for log in logs} <= {"warning", "critical"}
        assert all(log["anomaly"] is True and "temperature_c" in log and
                   "temperature_f" not in log for log in logs)

        lag = [s for s in dd.accepted_series() if s["metric"].endswith("kafka_consumer_lag")]
        for series in lag:
            t = tags_of(series)
            assert t["topic_id"] == TOPIC and 0 <= int(t["partition_id"]) < 4
            assert all(p["value"] >= 0 for p in series["points"])

        # The messages that are not JSON are the source's errors; the
        # invalid readings are what the remap program dropped.
        assert metric_value(port, "component_errors_total", component_id="readings") == \
            sent["malformed"]["not_json"]
        assert metric_value(port, "component_discarded_events_total", component_id="vitals") == \
            sent["malformed"]["invalid"]
        assert dd.violations == []

        assert s.terminate() == 0, s.stderr()
        assert committed_offsets(mock.bootstrap, GROUP, TOPIC) == end_offsets(mock.bootstrap,
                                                                              TOPIC)
