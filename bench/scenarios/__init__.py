"""bench/run's scenarios, one module per family; importing this package
registers them all (in the order bench/run --help lists them). Each
scenario's sluice config is NAME.yaml beside these modules."""
from scenarios import pipelines, tailing, http_sinks, rotation, kafka  # noqa: F401
