"""The scenario registry: bench/scenarios/*.py register each scenario with
@scenario; bench/run's command line lists and runs them."""

SCENARIOS = {}


# What --events and --runs are when not given, unless a scenario says otherwise.
DEFAULT_EVENTS = 5_000_000
DEFAULT_RUNS = 5


def scenario(name, summary, events=DEFAULT_EVENTS, runs=DEFAULT_RUNS):
    """Registers fn(bench) -> list of result dicts as scenario `name`, with its
    defaults for --events and --runs."""
    def register(fn):
        SCENARIOS[name] = (fn, summary, {"events": events, "runs": runs})
        return fn
    return register
