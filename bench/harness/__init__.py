"""bench/run's harness: inputs, processes, measurements, checks and reports;
the scenarios themselves are in bench/scenarios/*.py."""
