"""The scenario registry: bench/scenarios/*.py register each scenario with
@scenario; bench/run's command line lists and runs them."""

SCENARIOS = {}


# What --events and --runs are when not given, unless a scenario says otherwise.
DEFAULT_EVENTS = 5_000_000
DEFAULT_RUNS = 5


def scenario(name, summary, events=DEFAULT_EVENTS, runs=DEFAULT_RUNS, **defaults):
    """Registers fn(bench) -> list of result dicts as scenario `name`, with its
    defaults for --events and --runs (and any other option left unset, such
    as duration=30.0)."""
    def register(fn):
        SCENARIOS[name] = (fn, summary, {"events": events, "runs": runs, **defaults})
        return fn
    return register
