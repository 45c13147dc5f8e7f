"""The Kafka scenarios run against librdkafka's mock cluster
(tests/peers/kafka_mock), one process for the whole invocation, and need
python3-kafka. kafka_blackhole preloads --events messages and times the
kafka source from its first event to the N-th (the group join before it
left out, as kafka_consume_plain, the reference row, times itself), each
sluice run followed by a plain consumer run with a new group on the same
topic. file_kafka times the kafka sink from its first acknowledged message
to the N-th and reads every message back. kafka_rebalance counts what two
sluice processes sharing a group lose and duplicate while one joins and
the other leaves, and how long partitions pause."""
from harness.registry import scenario


@scenario("kafka_blackhole", "N preloaded messages in 4 partitions of the mock cluster -> "
          "kafka source -> blackhole; kafka_consume_plain alternating as the ceiling",
          events=1_000_000)
def kafka_blackhole(bench):
    return bench.kafka_blackhole("kafka_blackhole")


@scenario("file_kafka", "one file of N lines -> file source -> kafka sink (lz4) -> the mock "
          "cluster; every message read back", events=1_000_000)
def file_kafka(bench):
    return bench.file_kafka("file_kafka")


@scenario("kafka_rebalance", "a writer fills a topic at --rate for --duration s; two sluice "
          "processes in one group (kafka -> file), B joins at 1/3, A stopped at 2/3; lost, "
          "duplicated, pauses", events=0, runs=1, duration=45.0, rate=5_000)
def kafka_rebalance(bench):
    return bench.kafka_rebalance("kafka_rebalance")
