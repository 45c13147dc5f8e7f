"""A local server that plays Datadog's logs intake and API for the
end-to-end tests of the `datadog_logs` sink (see ../shared/PROTOCOLS.md,
Datadog), built on http_receiver.HttpReceiver (which decodes gzip, deflate
and zstd bodies).

Every request is checked against the spec and each problem is recorded in
`violations` (tests assert it stays empty):

  POST /api/v2/logs    DD-API-KEY, Content-Type: application/json, a body
                       that decodes per Content-Encoding, a JSON array of
                       1..1000 objects each with `message`, <= 5,000,000
                       bytes uncompressed, <= 1,000,000 bytes a log.
  GET /api/v1/validate DD-API-KEY: 200 {"valid":true} for a known key, else
                       403.

Failures are scripted: `script` lists statuses answered to the next log
requests in turn (then 202); `split_above` answers 413 to any log request
of more logs. A wrong key gets 403, as the intake does. Only the logs of
requests answered 2xx count as delivered (`logs`)."""
import json
import threading

from http_receiver import HttpReceiver, Reply, zstandard  # noqa: F401 (re-exported)

LOGS_PATH = "/api/v2/logs"
VALIDATE_PATH = "/api/v1/validate"
MAX_EVENTS = 1000
MAX_BODY = 5_000_000
MAX_LOG = 1_000_000
BAD_REQUEST = json.dumps({"errors": [{"status": "400", "title": "Bad Request",
                                      "detail": "Malformed payload"}]})
FORBIDDEN = json.dumps({"errors": ["Forbidden"]})
JSON = {"Content-Type": "application/json"}


class LogRequest:
    """One POST /api/v2/logs as received and answered."""

    def __init__(self, status, encoding, raw_len, body_len, logs):
        self.status = status
        self.encoding = encoding
        self.raw_len = raw_len
        self.body_len = body_len
        self.logs = logs


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
        if req.method == "GET" and req.path == VALIDATE_PATH:
            return self._validate(req)
        self._violation(f"{req.method} {req.path}")
        return Reply(404, json.dumps({"errors": ["Not found"]}), JSON)
