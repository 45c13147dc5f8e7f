"""One parser of the Prometheus text exposition format 0.0.4, for every
test and bench that reads sluice's /metrics:

    exp = parse(text)                 # ValueError on anything malformed
    exp.value("sluice_component_sent_events_total", component_id="out")
    exp.samples                       # [Sample(name, labels, value, timestamp)]
    exp.types, exp.helps              # {family: "counter"}, {family: "text"}

It follows the format exactly: `# HELP name text` (escapes \\\\ and \\n),
`# TYPE name counter|gauge|histogram|summary|untyped` (at most once per
family, before its first sample), other `#` lines are comments; a sample is
`name{label="value",...} value [timestamp]` with \\\\, \\" and \\n escaped in
label values, an optional trailing comma, floats including NaN, +Inf and
-Inf, blank or tab separators. A histogram's or summary's `_bucket`,
`_count` and `_sum` samples belong to its family. The same series (name and
labels) twice is an error."""
import collections
import math
import re

Sample = collections.namedtuple("Sample", "name labels value timestamp")

TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}
ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class Exposition:
    def __init__(self):
        self.samples = []
        self.types = {}
        self.helps = {}

    def family(self, name):
        """The metric family a sample name belongs to."""
        for family, kind in self.types.items():
            for suffix in SUFFIXES.get(kind, ()):
                if name == family + suffix:
                    return family
        return name

    def matching(self, name, **labels):
        """The samples named `name` whose labels include `labels` (values
        compared as strings)."""
        want = {k: str(v) for k, v in labels.items()}
        return [s for s in self.samples if s.name == name and
                all(s.labels.get(k) == v for k, v in want.items())]

    def value(self, name, **labels):
        """The sum of the matching samples' values; None when none matches."""
        found = self.matching(name, **labels)
        return sum(s.value for s in found) if found else None

    def series(self):
        """{(name, sorted label pairs): value} of every sample."""
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in self.samples}


def parse(text):
    """The Exposition of a /metrics body (str or bytes)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    exp = Exposition()
    seen = set()
    started = set()                  # families with a sample already
    for number, line in enumerate(text.split("\n"), 1):
        try:
            if line.strip() == "":
                continue
            if line.lstrip().startswith("#"):
                _metadata(exp, line.lstrip()[1:], started)
                continue
            sample = _sample(line)
        except ValueError as e:
            raise ValueError(f"line {number}: {e}: {line!r}") from None
        key = (sample.name, tuple(sorted(sample.labels.items())))
        if key in seen:
            raise ValueError(f"line {number}: the same series twice: {line!r}")
        seen.add(key)
        started.add(exp.family(sample.name))
        exp.samples.append(sample)
    return exp


def _metadata(exp, rest, started):
    """A HELP or TYPE line (after its '#'); any other comment is ignored."""
    parts = rest.strip(" \t").split(None, 2)
    if len(parts) < 2 or parts[0] not in ("HELP", "TYPE"):
        return
    keyword, name = parts[0], parts[1]
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"bad metric name {name!r}")
    value = parts[2] if len(parts) > 2 else ""
    if keyword == "HELP":
        if name in exp.helps:
            raise ValueError(f"two HELP lines for {name}")
        exp.helps[name] = _unescape_help(value)
        return
    if name in exp.types:
        raise ValueError(f"two TYPE lines for {name}")
    if name in started:
        raise ValueError(f"TYPE line for {name} after its samples")
    if value.strip() not in TYPES:
        raise ValueError(f"unknown type {value!r}")
    exp.types[name] = value.strip()


def _sample(line):
    m = NAME_RE.match(line)
    if not m:
        raise ValueError("no metric name")
    name, pos = m.group(), m.end()
    labels = {}
    if pos < len(line) and line[pos] == "{":
        labels, pos = _labels(line, pos + 1)
    fields = line[pos:].split()
    if not fields or len(fields) > 2 or (pos < len(line) and line[pos] not in " \t"):
        raise ValueError("want a value and an optional timestamp after the name")
    value = _float(fields[0])
    timestamp = int(fields[1]) if len(fields) == 2 else None
    return Sample(name, labels, value, timestamp)


def _labels(line, pos):
    """({name: value}, the position after '}') of a label set from pos."""
    labels = {}
    while True:
        pos = _skip_blanks(line, pos)
        if pos < len(line) and line[pos] == "}":
            return labels, pos + 1
        m = LABEL_NAME_RE.match(line, pos)
        if not m:
            raise ValueError("bad label name")
        label = m.group()
        pos = _skip_blanks(line, m.end())
        if line[pos:pos + 1] != "=":
            raise ValueError(f"no '=' after label {label}")
        pos = _skip_blanks(line, pos + 1)
        if line[pos:pos + 1] != '"':
            raise ValueError(f"label {label}'s value is not quoted")
        value, pos = _quoted(line, pos + 1)
        if label in labels:
            raise ValueError(f"label {label} twice")
        labels[label] = value
        pos = _skip_blanks(line, pos)
        if line[pos:pos + 1] == ",":
            pos += 1
        elif line[pos:pos + 1] != "}":
            raise ValueError("want ',' or '}' after a label")


def _quoted(line, pos):
    """(the unescaped text, the position after the closing quote)."""
    out = []
    while pos < len(line):
        c = line[pos]
        if c == '"':
            return "".join(out), pos + 1
        if c == "\\":
            nxt = line[pos + 1:pos + 2]
            if nxt not in ESCAPES:
                raise ValueError(f"bad escape \\{nxt} in a label value")
            out.append(ESCAPES[nxt])
            pos += 2
            continue
        out.append(c)
        pos += 1
    raise ValueError("unterminated label value")


def _unescape_help(text):
    """HELP text: \\\\ and \\n are escapes; any other backslash stays."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "\\n":
            out.append(ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _skip_blanks(line, pos):
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    return pos


def _float(text):
    """Go's ParseFloat as the format uses it: NaN, +Inf, -Inf, Inf too."""
    special = {"nan": math.nan, "+inf": math.inf, "inf": math.inf, "-inf": -math.inf}
    if text.lower() in special:
        return special[text.lower()]
    if "_" in text or text.lower().lstrip("+-").startswith(("inf", "nan")):
        raise ValueError(f"bad value {text!r}")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"bad value {text!r}") from None
