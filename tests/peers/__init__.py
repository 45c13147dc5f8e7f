"""The peers sluice talks to in tests, shared by tests/e2e, tests/chaos and
bench: HTTP receivers that play an intake (recorder: scriptable and
recording, for exact end-to-end checks; datadog and elasticsearch: the
intakes' rules on top of it; loadserver: a lean asyncio core for minutes of
load, with chaos's checksum counter and bench's statistics counter on top),
a config builder (config) and a Prometheus text-format parser (prometheus).

Callers put the repository's tests/ directory on sys.path and import
`peers.NAME`. Standard library plus the optional `zstandard` module."""
