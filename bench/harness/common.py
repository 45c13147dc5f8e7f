"""Where bench/run keeps things and the constants every part of the harness
shares: the scenario configs, the results and input cache, the PRNG seed,
how a sequence number looks in a line."""
import pathlib
import re


ROOT = pathlib.Path(__file__).resolve().parents[2]
SCENARIO_DIR = ROOT / "bench" / "scenarios"
RESULTS_DIR = ROOT / "bench" / "results"   # git-ignored
CACHE_DIR = RESULTS_DIR / "cache"

# Bump when the line format changes, so stale cached inputs are not reused.
INPUT_FORMAT_VERSION = 1
SEED = 20240501

# A sequence number is the only `seq=` token in a line: the payload alphabet
# has no '='. Output checks find it with this regex in raw bytes, whatever
# encoding wrapped the line (JSON does not escape these characters).
SEQ_RE = re.compile(rb"seq=(\d{10})")
SEQ_PREFIX_BYTES = len(b"seq=0000000000 ")
BLACKHOLE_TOTAL_RE = re.compile(r"Total events collected\..*?events=(\d+)")


def rel(path):
    try:
        return str(pathlib.Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)
