"""The HTTP sink scenarios send to bench/receiver.py, a local receiver (a
process of its own) that decompresses every request and counts the events
it accepts by sequence number. The figure is the receiver's: from its first
POST to the moment it has accepted every event. sluice is stopped (SIGTERM)
then; CPU is the process's at that moment, peak RSS from wait4. The
`_faults` scenarios alternate clean runs and fault runs (--fail-percent of
requests answered 503; for Elasticsearch also --item-429-percent of the
documents of each bulk request answered 429) and report the ratio; every
run must deliver every event exactly once."""
from harness.registry import scenario


@scenario("file_datadog_logs", "one file of N lines -> file source -> datadog_logs (zstd) "
          "-> local receiver; the receiver's events/s", events=1_000_000)
def file_datadog_logs(bench):
    return bench.receiver_throughput("file_datadog_logs", "datadog_logs", faults=False)


@scenario("file_datadog_logs_faults", "file_datadog_logs, clean runs alternating with runs "
          "where --fail-percent of requests get 503; ratio, lost, duplicated",
          events=1_000_000)
def file_datadog_logs_faults(bench):
    return bench.receiver_throughput("file_datadog_logs", "datadog_logs", faults=True)


@scenario("file_elasticsearch", "one file of N lines -> file source -> remap (.id = seq) -> "
          "elasticsearch (gzip, id_key) -> local receiver; the receiver's events/s",
          events=1_000_000)
def file_elasticsearch(bench):
    return bench.receiver_throughput("file_elasticsearch", "elasticsearch", faults=False)


@scenario("file_elasticsearch_faults", "file_elasticsearch, clean runs alternating with runs "
          "where --fail-percent of requests get 503 and --item-429-percent of documents "
          "get 429; ratio, lost, duplicated", events=1_000_000)
def file_elasticsearch_faults(bench):
    return bench.receiver_throughput("file_elasticsearch", "elasticsearch", faults=True)
