"""A local server that plays Datadog's logs intake and API for the
end-to-end tests of the `datadog_logs` and `datadog_metrics` sinks (see
../shared/PROTOCOLS.md, Datadog), built on peers.recorder.HttpReceiver
(which decodes gzip, deflate and zstd bodies).

Every request is checked against the spec and each problem is recorded in
`violations` (tests assert it stays empty):

  POST /api/v2/logs    DD-API-KEY, Content-Type: application/json, a body
                       that decodes per Content-Encoding, a JSON array of
                       1..1000 objects each with `message`, <= 5,000,000
                       bytes uncompressed, <= 1,000,000 bytes a log.
  POST /api/v2/series  DD-API-KEY, Content-Type: application/json,
                       Content-Encoding deflate, gzip, zstd or none,
                       <= 512,000 bytes as sent and <= 5,242,880 decoded,
                       {"series":[MetricSeries...]} per openapi-v2.yaml:
                       metric, type 0-3, points [{timestamp, value}] within
                       1 h in the past and 10 min in the future, integer
                       interval, string tags, resources [{name, type}].
  POST /api/v1/distribution_points
                       the same key and limits, Content-Type: text/json,
                       deflate or no Content-Encoding,
                       {"series":[{metric, points: [[ts, [v, ...]]], tags,
                       host, type: "distribution"}]} per openapi-v1.yaml.
  GET /api/v1/validate DD-API-KEY: 200 {"valid":true} for a known key, else
                       403.

Failures are scripted: `script` lists statuses answered to the next log or
metric requests in turn (then 202); `split_above` answers 413 to any log
request of more logs (or metric request of more series). A wrong key gets
403, as the intake does. Only what came in requests answered 2xx counts as
delivered (`logs`, `series`, `distributions`)."""
import json
import threading
import time

from peers.recorder import HttpReceiver, Reply

LOGS_PATH = "/api/v2/logs"
SERIES_PATH = "/api/v2/series"
DISTRIBUTION_PATH = "/api/v1/distribution_points"
MAX_METRICS_RAW = 512_000
MAX_METRICS_BODY = 5_242_880
PAST_LIMIT_S = 3600
FUTURE_LIMIT_S = 600
SERIES_KEYS = {"metric", "type", "points", "interval", "tags", "resources",
               "source_type_name", "unit", "metadata"}
DISTRIBUTION_KEYS = {"metric", "points", "tags", "host", "type"}
VALIDATE_PATH = "/api/v1/validate"
MAX_EVENTS = 1000
MAX_BODY = 5_000_000
MAX_LOG = 1_000_000
BAD_REQUEST = json.dumps({"errors": [{"status": "400", "title": "Bad Request",
                                      "detail": "Malformed payload"}]})
FORBIDDEN = json.dumps({"errors": ["Forbidden"]})
ACCEPTED = json.dumps({"errors": []})          # series_v2_202_response_example.json
API_ERROR = json.dumps({"errors": ["Bad Request"]})  # api_error_response_example.json
JSON = {"Content-Type": "application/json"}


class LogRequest:
    """One POST /api/v2/logs as received and answered."""

    def __init__(self, status, encoding, raw_len, body_len, logs):
        self.status = status
        self.encoding = encoding
        self.raw_len = raw_len
        self.body_len = body_len
        self.logs = logs


class MetricRequest:
    """One POST of series or distribution points as received and answered."""

    def __init__(self, path, status, encoding, content_type, raw_len, body_len, series):
        self.path = path
        self.status = status
        self.encoding = encoding
        self.content_type = content_type
        self.raw_len = raw_len
        self.body_len = body_len
        self.series = series


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_string_list(v):
    return isinstance(v, list) and all(isinstance(t, str) for t in v)


class DatadogReceiver:
    def __init__(self, api_keys=("test-api-key",), script=(), split_above=None):
        self.api_keys = set(api_keys)
        self.script = list(script)
        self.split_above = split_above
        self.lock = threading.Lock()
        self.requests = []        # LogRequest, in arrival order
        self.logs = []            # logs of requests answered 2xx
        self.problems = []
        self.validate_calls = []  # the DD-API-KEY of each validate call
        self.metric_requests = []  # MetricRequest, in arrival order
        self.series = []           # series of /api/v2/series requests answered 2xx
        self.distributions = []    # series of distribution points answered 2xx
        self.http = HttpReceiver()
        self.http.responder = self._respond
        self.port = self.http.port
        self.url = self.http.url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.http.stop()

    # ---- what the tests read ----

    @property
    def violations(self):
        """Spec problems, bodies that did not decode included."""
        undecodable = [f"cannot decode the body: {r.decode_error}"
                       for r in self.http.received() if r.decode_error]
        with self.lock:
            return self.problems + undecodable

    def delivered(self):
        with self.lock:
            return len(self.logs)

    def messages(self):
        with self.lock:
            return [log.get("message") for log in self.logs]

    def statuses(self):
        with self.lock:
            return [r.status for r in self.requests]

    def rejected_logs(self, status):
        with self.lock:
            return sum(len(r.logs) for r in self.requests if r.status == status)

    # ---- answering ----

    def _violation(self, text):
        with self.lock:
            self.problems.append(text)

    def _next_status(self, n):
        with self.lock:
            if self.script:
                return self.script.pop(0)
        if self.split_above is not None and n > self.split_above:
            return 413
        return 202

    def _parse_logs(self, body):
        """The array of logs, or None after recording why it is invalid."""
        if len(body) > MAX_BODY:
            self._violation(f"body of {len(body)} bytes over {MAX_BODY}")
        try:
            logs = json.loads(body)
        except ValueError as e:
            self._violation(f"body is not JSON: {e}")
            return None
        if not isinstance(logs, list) or not 1 <= len(logs) <= MAX_EVENTS:
            self._violation(f"body is not an array of 1..{MAX_EVENTS} logs")
            return None
        for log in logs:
            if not isinstance(log, dict) or "message" not in log:
                self._violation(f"log without message: {str(log)[:200]}")
            elif len(json.dumps(log, separators=(",", ":"), ensure_ascii=False)
                     .encode()) > MAX_LOG:
                self._violation(f"log over {MAX_LOG} bytes")
        return logs

    def _logs(self, req):
        if req.headers.get("dd-api-key") not in self.api_keys:
            return Reply(403, FORBIDDEN, JSON)
        if req.headers.get("content-type") != "application/json":
            self._violation(f"Content-Type {req.headers.get('content-type')!r}")
        logs = self._parse_logs(req.body)
        if logs is None:
            return Reply(400, BAD_REQUEST, JSON)
        status = self._next_status(len(logs))
        with self.lock:
            self.requests.append(LogRequest(status, req.headers.get("content-encoding"),
                                            len(req.raw), len(req.body), logs))
            if 200 <= status < 300:
                self.logs.extend(logs)
        return Reply(status, "{}" if status == 202 else BAD_REQUEST, JSON)

    # ---- metrics ----

    def _check_timestamp(self, ts, what):
        now = time.time()
        if not is_number(ts) or not now - PAST_LIMIT_S <= ts <= now + FUTURE_LIMIT_S:
            self._violation(f"{what}: timestamp {ts!r} not within 1 h past / 10 min future")

    def _check_series(self, s):
        name = s.get("metric")
        if set(s) - SERIES_KEYS:
            self._violation(f"series {name!r} has unknown keys {sorted(set(s) - SERIES_KEYS)}")
        if not isinstance(name, str) or not name:
            self._violation(f"series without a metric name: {str(s)[:200]}")
        if s.get("type", 0) not in (0, 1, 2, 3):
            self._violation(f"series {name!r}: type {s.get('type')!r}")
        if "interval" in s and (not isinstance(s["interval"], int) or s["interval"] < 0):
            self._violation(f"series {name!r}: interval {s['interval']!r}")
        points = s.get("points")
        if not isinstance(points, list) or not points:
            self._violation(f"series {name!r}: no points")
            points = []
        for p in points:
            if not isinstance(p, dict) or set(p) != {"timestamp", "value"} or \
                    not isinstance(p["timestamp"], int) or not is_number(p["value"]):
                self._violation(f"series {name!r}: bad point {p!r}")
            else:
                self._check_timestamp(p["timestamp"], f"series {name!r}")
        if "tags" in s and not is_string_list(s["tags"]):
            self._violation(f"series {name!r}: tags {s['tags']!r}")
        for r in s.get("resources", []):
            if not isinstance(r, dict) or set(r) != {"name", "type"} or \
                    not all(isinstance(v, str) and v for v in r.values()):
                self._violation(f"series {name!r}: bad resource {r!r}")

    def _check_distribution(self, s):
        name = s.get("metric")
        if set(s) - DISTRIBUTION_KEYS:
            self._violation(f"distribution {name!r} has unknown keys "
                            f"{sorted(set(s) - DISTRIBUTION_KEYS)}")
        if not isinstance(name, str) or not name:
            self._violation(f"distribution without a metric name: {str(s)[:200]}")
        if s.get("type", "distribution") != "distribution":
            self._violation(f"distribution {name!r}: type {s.get('type')!r}")
        points = s.get("points")
        if not isinstance(points, list) or not points:
            self._violation(f"distribution {name!r}: no points")
            points = []
        for p in points:
            if not isinstance(p, list) or len(p) != 2 or not isinstance(p[1], list) or \
                    not p[1] or not all(is_number(v) for v in p[1]):
                self._violation(f"distribution {name!r}: bad point {str(p)[:200]}")
            else:
                self._check_timestamp(p[0], f"distribution {name!r}")
        if "tags" in s and not is_string_list(s["tags"]):
            self._violation(f"distribution {name!r}: tags {s['tags']!r}")
        if "host" in s and not isinstance(s["host"], str):
            self._violation(f"distribution {name!r}: host {s['host']!r}")

    def _parse_metrics(self, req, distribution):
        """The series of a metrics body, or None after recording why it is
        invalid."""
        what = req.path
        encoding = req.headers.get("content-encoding")
        allowed = ("deflate",) if distribution else ("deflate", "gzip", "zstd")
        if encoding is not None and encoding not in allowed:
            self._violation(f"{what}: Content-Encoding {encoding!r}")
        content_type = "text/json" if distribution else "application/json"
        if req.headers.get("content-type") != content_type:
            self._violation(f"{what}: Content-Type {req.headers.get('content-type')!r}")
        if len(req.raw) > MAX_METRICS_RAW:
            self._violation(f"{what}: {len(req.raw)} bytes sent, over {MAX_METRICS_RAW}")
        if len(req.body) > MAX_METRICS_BODY:
            self._violation(f"{what}: {len(req.body)} bytes decoded, over {MAX_METRICS_BODY}")
        try:
            doc = json.loads(req.body)
        except ValueError as e:
            self._violation(f"{what}: body is not JSON: {e}")
            return None
        if not isinstance(doc, dict) or set(doc) != {"series"} or \
                not isinstance(doc["series"], list) or not doc["series"]:
            self._violation(f"{what}: body is not {{\"series\":[...]}}: {req.body[:200]!r}")
            return None
        for s in doc["series"]:
            if not isinstance(s, dict):
                self._violation(f"{what}: a series is not an object: {s!r}")
                return None
            (self._check_distribution if distribution else self._check_series)(s)
        return doc["series"]

    def _metrics(self, req, distribution):
        if req.headers.get("dd-api-key") not in self.api_keys:
            return Reply(403, FORBIDDEN, JSON)
        series = self._parse_metrics(req, distribution)
        if series is None:
            return Reply(400, API_ERROR, JSON)
        status = self._next_status(len(series))
        with self.lock:
            self.metric_requests.append(MetricRequest(
                req.path, status, req.headers.get("content-encoding"),
                req.headers.get("content-type"), len(req.raw), len(req.body), series))
            if 200 <= status < 300:
                (self.distributions if distribution else self.series).extend(series)
        return Reply(status, ACCEPTED if status == 202 else API_ERROR, JSON)

    def accepted_series(self):
        with self.lock:
            return list(self.series)

    def accepted_distributions(self):
        with self.lock:
            return list(self.distributions)

    def metric_statuses(self):
        with self.lock:
            return [r.status for r in self.metric_requests]

    def _validate(self, req):
        key = req.headers.get("dd-api-key")
        with self.lock:
            self.validate_calls.append(key)
        if key in self.api_keys:
            return Reply(200, json.dumps({"valid": True}), JSON)
        return Reply(403, FORBIDDEN, JSON)

    def _respond(self, req):
        if req.method == "POST" and req.path == LOGS_PATH:
            return self._logs(req)
        if req.method == "POST" and req.path in (SERIES_PATH, DISTRIBUTION_PATH):
            return self._metrics(req, req.path == DISTRIBUTION_PATH)
        if req.method == "GET" and req.path == VALIDATE_PATH:
            return self._validate(req)
        self._violation(f"{req.method} {req.path}")
        return Reply(404, json.dumps({"errors": ["Not found"]}), JSON)
