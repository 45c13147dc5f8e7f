"""The peers sluice talks to in tests, shared by tests/e2e, tests/chaos and
bench: HTTP receivers that play an intake (recorder: scriptable and
recording, for exact end-to-end checks; datadog and elasticsearch: the
intakes' rules on top of it; loadserver: a lean asyncio core for minutes of
load, with chaos's checksum counter and bench's statistics counter on top),
a config builder (config), a Prometheus text-format parser (prometheus),
and Kafka (kafka): librdkafka's mock cluster run by the kafka_mock program
(tests/peers/kafka_mock.c) as the broker, python3-kafka and kcat as clients
independent of sluice, and kafka_consume_plain as the benchmark's ceiling.

Callers put the repository's tests/ directory on sys.path and import
`peers.NAME`. Standard library plus the optional `zstandard` module;
peers.kafka also needs python3-kafka (with python3-lz4) and kcat."""
