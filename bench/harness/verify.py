"""Checks of a finished run's output: every event arrived, once, in order
where the scenario promises order.

A verifier gets (bench, run) and returns None when every event arrived, or a
message saying what is wrong. `run` has .stderr (text) and .outdir (path)."""
import bisect
import json
import pathlib

from harness.common import BLACKHOLE_TOTAL_RE, SEQ_RE
from harness.cri import cri_is_split
from harness.inputs import APACHE_FIELDS


def verify_blackhole_total(bench, run):
    """The blackhole sink logs its total at exit; it must equal the input."""
    found = BLACKHOLE_TOTAL_RE.findall(run.stderr)
    if not found:
        return "no 'Total events collected. events=N' line on stderr"
    total = int(found[-1])
    if total != bench.args.events:
        return f"blackhole collected {total} events, expected {bench.args.events}"
    return None


def verify_json_lines(bench, run):
    """Every output line is a JSON event with message and timestamp (checked
    on a sample: parsing all of them would take longer than the run), and the
    sequence numbers are exactly 0..N-1 in order across the output files."""
    return verify_sequenced_json(bench, run, check_json_event)


def verify_apache_fields(bench, run):
    """As verify_json_lines, the sampled events holding every capture of the
    regex, with status an integer."""
    return verify_sequenced_json(bench, run, check_apache_event)


def verify_match_count(bench, stdout):
    """pcre2grep -c printed the number of matching lines: all of them."""
    count = stdout.strip()
    if count != str(bench.args.events):
        return f"pcre2grep counted {count or 'nothing'} matching lines, expected {bench.args.events}"
    return None


def verify_sequenced_json(bench, run, check):
    files = output_files(run.outdir)
    if not files:
        return "no output file"
    expected = 0
    sample_every = max(1, bench.args.events // 1000)
    for path in files:
        with open(path, "rb") as f:
            for line in f:
                m = SEQ_RE.search(line)
                if not m or int(m.group(1)) != expected:
                    got = m.group(1).decode() if m else "no sequence number"
                    return f"{path.name}: line {expected + 1}: expected seq {expected}, got {got}"
                if expected % sample_every == 0:
                    problem = check(line)
                    if problem:
                        return f"{path.name}: line {expected + 1}: {problem}"
                expected += 1
    if expected != bench.args.events:
        return f"{expected} events in the output, expected {bench.args.events}"
    return None


def check_json_event(line):
    try:
        event = json.loads(line)
    except ValueError as e:
        return f"not JSON ({e})"
    if not isinstance(event, dict):
        return "not a JSON object"
    for key in ("message", "timestamp"):
        if key not in event:
            return f"no '{key}' field"
    return None


def check_apache_event(line):
    problem = check_json_event(line)
    if problem:
        return problem
    event = json.loads(line)
    missing = [k for k in APACHE_FIELDS if not isinstance(event.get(k), str)]
    if missing:
        return f"captures missing or not strings: {', '.join(missing)}"
    if not isinstance(event.get("status"), int):
        return f"status is {event.get('status')!r}, not an integer"
    if "seq=" not in event["path"]:
        return f"path {event['path']!r} is not the line's"
    return None


def verify_peer_files(bench, run):
    """A peer's output format is its own: only count the sequence numbers in
    what it wrote to $OUTDIR, in any order."""
    files = output_files(run.outdir)
    if not files:
        return "peer wrote nothing to $OUTDIR"
    seen = 0
    for path in files:
        with open(path, "rb") as f:
            seen += sum(1 for line in f if SEQ_RE.search(line))
    if seen != bench.args.events:
        return f"peer wrote {seen} events, expected {bench.args.events}"
    return None


def verify_blackhole_exact(run, expected):
    """At exit the blackhole's total must be the count: no more (a line read
    twice), no less."""
    found = BLACKHOLE_TOTAL_RE.findall(run.stderr)
    if not found:
        return "no 'Total events collected. events=N' line on stderr"
    total = int(found[-1])
    if total != expected:
        return (f"blackhole collected {total} events at exit, expected {expected} "
                f"({'duplicates' if total > expected else 'lost'}: {abs(total - expected)})")
    return None


def verify_wc_total(stdout, lines):
    """`wc -l FILE...` printed the lines of each file and, for several, a
    total: it must be the lines on disk."""
    rows = stdout.split()
    count = rows[-2] if len(rows) >= 2 else ""
    if count != str(lines):
        return f"wc -l counted {count or 'nothing'} lines, expected {lines}"
    return None


def output_files(outdir):
    return sorted(p for p in pathlib.Path(outdir).rglob("*")
                  if p.is_file() and not p.name.startswith("."))


def verify_every_line_once(outdir, lines, maker):
    """The k8s_rotation output (text: one message per line): every sequence
    number 0..lines-1 exactly once, every line the whole message (a split
    line joined from its chunks in order: checked byte for byte for every
    split line and one in a hundred of the others). Counts, and a message
    naming the first problems."""
    counts = bytearray(lines)
    malformed, examples = 0, []
    want_len = maker.msg_len + 1
    for path in output_files(outdir):
        with open(path, "rb") as f:
            for line in f:
                seq = int(line[4:14]) if line.startswith(b"seq=") and line[4:14].isdigit() \
                    else -1
                if len(line) != want_len or not 0 <= seq < lines:
                    malformed += 1
                    if len(examples) < 3:
                        examples.append(f"{path.name}: {line[:80]!r} ({len(line)} bytes)")
                    continue
                if counts[seq] < 255:
                    counts[seq] += 1
                if (seq % 100 == 0 or cri_is_split(seq, maker.partial_percent)) and \
                        line[:-1] != maker.message(seq):
                    malformed += 1
                    if len(examples) < 3:
                        examples.append(f"seq {seq}: content differs: {line[:80]!r}")
    lost = counts.count(0)
    duplicated = sum(c - 1 for c in counts if c > 1)
    problem = []
    if lost:
        first = counts.index(0)
        problem.append(f"{lost} of {lines} lines lost (the first: seq {first})")
    if duplicated:
        first = next(k for k, c in enumerate(counts) if c > 1)
        problem.append(f"{duplicated} duplicates (the first: seq {first})")
    if malformed:
        problem.append(f"{malformed} malformed lines: " + "; ".join(examples))
    return {"lost": lost, "duplicated": duplicated, "malformed": malformed,
            "problem": ", ".join(problem) or None}


def write_to_sink_lags(progress, polls, lines, reached):
    """For each poll up to the one that saw every line: how long ago the
    writer had written the line the sink's count had got to (the count-th
    line written). An estimate of the write-to-sink latency, to one poll
    interval and one write batch (10 ms)."""
    times = [t for t, _ in progress]
    totals = [n for _, n in progress]
    lags = []
    for t, count in polls:
        if count <= 0 or count > lines or (reached is not None and t > reached):
            continue
        k = bisect.bisect_left(totals, count)
        if k < len(times):
            lags.append(max(0.0, t - times[k]))
    return lags


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]
