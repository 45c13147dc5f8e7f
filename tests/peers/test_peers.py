"""Checks of the shared test peers themselves: the Prometheus text parser
against the format's rules, body decoding, the config builder's output."""
import gzip
import math
import sys
import pathlib
import zlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from peers import config, prometheus  # noqa: E402
from peers.wire import decode_body  # noqa: E402

EXPOSITION = r'''# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5",} 4773
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
odd{a="x"}	NaN
'''


def test_parses_the_format_documentations_example():
    exp = prometheus.parse(EXPOSITION)
    assert exp.types == {"http_requests_total": "counter",
                         "http_request_duration_seconds": "histogram",
                         "rpc_duration_seconds": "summary"}
    assert exp.helps["http_requests_total"] == "The total number of HTTP requests."
    assert exp.value("http_requests_total") == 1030
    assert exp.value("http_requests_total", code=400) == 3
    assert exp.matching("http_requests_total", code="200")[0].timestamp == 1395066363000
    path = exp.matching("msdos_file_access_time_seconds")[0].labels
    assert path == {"path": "C:\\DIR\\FILE.TXT", "error": 'Cannot find file:\n"FILE.TXT"'}
    assert exp.value("something_weird") == math.inf
    assert exp.matching("something_weird")[0].timestamp == -3982045
    assert exp.value("http_request_duration_seconds_bucket", le="+Inf") == 144320
    assert exp.family("http_request_duration_seconds_count") == "http_request_duration_seconds"
    assert exp.family("rpc_duration_seconds_sum") == "rpc_duration_seconds"
    assert math.isnan(exp.value("odd"))
    assert exp.value("missing") is None


def test_help_text_escapes():
    exp = prometheus.parse("# HELP a back\\\\slash\\nnewline \\q kept\na 1\n")
    assert exp.helps["a"] == "back\\slash\nnewline \\q kept"


@pytest.mark.parametrize("text", [
    'a{x="1"} 1\na{x="1"} 2\n',                # the same series twice
    "# TYPE a counter\n# TYPE a gauge\n",      # two TYPE lines
    "a 1\n# TYPE a counter\n",                 # TYPE after the samples
    "# TYPE a widget\n",                       # unknown type
    'a{x="\\t"} 1\n',                          # bad escape
    "a{x=1} 1\n",                              # unquoted value
    'a{x="1" y="2"} 1\n',                      # no comma
    'a{x="1"\n',                               # unterminated
    "a\n", "a 1 2 3\n", "a one\n", "a 1_000\n", "a infinity\n",
    "1a 1\n",
])
def test_rejects_what_the_format_does_not_allow(text):
    with pytest.raises(ValueError):
        prometheus.parse(text)


def test_series_keys_are_name_and_sorted_labels():
    exp = prometheus.parse('a{z="1",b="2"} 5\nb 1\n')
    assert exp.series() == {("a", (("b", "2"), ("z", "1"))): 5.0, ("b", ()): 1.0}


def test_decode_body_per_content_encoding():
    raw = b"hello " * 100
    assert decode_body(gzip.compress(raw), "gzip") == raw
    assert decode_body(gzip.compress(raw), b"x-gzip") == raw
    assert decode_body(zlib.compress(raw), "deflate") == raw
    assert decode_body(zlib.compress(raw)[2:-4], "deflate") == raw   # raw deflate
    assert decode_body(raw, None) == raw
    with pytest.raises(ValueError):
        decode_body(b"not gzip", "gzip")
    with pytest.raises(ValueError):
        decode_body(raw, "br")


def test_config_builder_nests_blocks_under_their_sections():
    text = config.pipeline(config.stdin("json"),
                           config.component("out", "blackhole", ["in"], "rate: 5"),
                           api_port=1234, data_dir="/d", acks=True, shutdown=3)
    assert text == ('api:\n  enabled: true\n  address: "127.0.0.1:1234"\n'
                    'data_dir: "/d"\nshutdown_timeout_secs: 3\n'
                    "acknowledgements:\n  enabled: true\n"
                    "sources:\n  in:\n    type: stdin\n    decoding:\n      codec: json\n"
                    "sinks:\n  out:\n    type: blackhole\n    inputs: [\"in\"]\n    rate: 5\n")
