"""A local server that plays Elasticsearch for the end-to-end tests of the
`elasticsearch` sink (see ../shared/PROTOCOLS.md, "Elasticsearch _bulk"),
built on peers.recorder.HttpReceiver (which decodes gzip/deflate/zstd bodies).

Every request is checked against the spec and each problem is recorded in
`violations` (tests assert it stays empty):

  POST /_bulk   Content-Type: application/x-ndjson; a body that decodes, ends
                with "\\n" and holds pairs of lines: an action
                {"index"|"create": {"_index": str, "_id": str?}} and a JSON
                object document; `expect` adds what the test configured
                (action, index, id presence, query, Authorization header).
  GET /         the cluster's banner, as the healthcheck wants.

It keeps a store as Elasticsearch would: `index` writes (or overwrites) a
document, `create` of an id that exists gets 409, a document without `_id`
gets a generated one. Failures are scripted:

  request_script  statuses answered to the next bulk requests as a whole
                  (nothing stored), then the items decide;
  item_fault      fn(action, meta, doc) -> None, or (status, type, reason)
                  answered for that item instead of storing it.

`accepted` counts, per (index, _id), the items stored: exact delivery means
each is 1. Standard library only."""
import itertools
import json
import threading

from peers.recorder import HttpReceiver, Reply
from peers.wire import ES_BANNER


class EsReceiver:
    def __init__(self, expect=None):
        """expect: {"action": "index"|"create", "index": str or fn(doc) -> str,
        "id": True|False (every action has an _id or none has),
        "query": {name: value}, "authorization": header value}."""
        self.expect = dict(expect or {})
        self.rx = HttpReceiver()
        self.rx.responder = self._respond
        self.url = self.rx.url
        self.lock = threading.Lock()
        self.violations = []
        self.store = {}             # (index, _id) -> document
        self.accepted = {}          # (index, _id) -> times stored
        self.request_script = []
        self.item_fault = None
        self.bulk_requests = 0
        self.healthchecks = 0
        self._ids = itertools.count(1)

    def stop(self):
        self.rx.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def documents(self):
        with self.lock:
            return dict(self.store)

    def requests(self):
        return self.rx.received(path="/_bulk")

    # ---- checking ----

    def _violation(self, text):
        with self.lock:
            self.violations.append(text)

    def _check_request(self, req):
        want = self.expect
        if req.method != "POST":
            self._violation(f"{req.method} {req.path}: bulk requests are POSTs")
        ctype = req.headers.get("content-type", "")
        if ctype.split(";")[0].strip() != "application/x-ndjson":
            self._violation(f"Content-Type {ctype!r}, want application/x-ndjson")
        if req.decode_error:
            self._violation(f"body does not decode: {req.decode_error}")
            return None
        if "query" in want:
            got = dict(p.split("=", 1) for p in req.query.split("&") if p)
            if got != want["query"]:
                self._violation(f"query {req.query!r}, want {want['query']}")
        if "authorization" in want and req.headers.get("authorization") != want["authorization"]:
            self._violation("wrong or missing Authorization header")
        body = req.body
        if not body.endswith(b"\n"):
            self._violation("body does not end with a newline")
        lines = body.decode("utf-8", "replace").split("\n")[:-1]
        if len(lines) % 2:
            self._violation(f"{len(lines)} lines: not action/document pairs")
            return None
        pairs = []
        for i in range(0, len(lines), 2):
            pair = self._check_pair(lines[i], lines[i + 1])
            if pair is None:
                return None
            pairs.append(pair)
        return pairs

    def _check_pair(self, action_line, doc_line):
        try:
            action = json.loads(action_line)
            doc = json.loads(doc_line)
        except ValueError as e:
            self._violation(f"a line is not JSON: {e}")
            return None
        if not isinstance(action, dict) or len(action) != 1:
            self._violation(f"action line {action_line!r}")
            return None
        (name, meta), = action.items()
        want = self.expect
        if name not in ("index", "create") or not isinstance(meta, dict):
            self._violation(f"action {name!r}")
            return None
        if name != want.get("action", name):
            self._violation(f"action {name}, want {want['action']}")
        if not isinstance(meta.get("_index"), str) or not meta["_index"]:
            self._violation(f"no _index in {action_line!r}")
            return None
        if "_id" in meta and not isinstance(meta["_id"], str):
            self._violation(f"_id not a string in {action_line!r}")
        if "id" in want and ("_id" in meta) != want["id"]:
            self._violation(f"_id presence in {action_line!r}")
        if set(meta) - {"_index", "_id"}:
            self._violation(f"unexpected action fields in {action_line!r}")
        if not isinstance(doc, dict):
            self._violation(f"document is not an object: {doc_line!r}")
            return None
        index = want.get("index")
        if index is not None:
            expected = index(doc) if callable(index) else index
            if meta["_index"] != expected:
                self._violation(f"_index {meta['_index']!r}, want {expected!r}")
        return name, meta, doc

    # ---- answering ----

    def _respond(self, req):
        if req.method == "GET" and req.path == "/":
            with self.lock:
                self.healthchecks += 1
            return Reply(200, body=json.dumps(ES_BANNER),
                         headers={"Content-Type": "application/json"})
        if req.path != "/_bulk":
            self._violation(f"{req.method} {req.path}: unexpected path")
            return Reply(404)
        with self.lock:
            self.bulk_requests += 1
            scripted = self.request_script.pop(0) if self.request_script else None
        pairs = self._check_request(req)
        if scripted is not None:
            return scripted if isinstance(scripted, Reply) else Reply(int(scripted))
        if pairs is None:
            return Reply(400, body=json.dumps(
                {"error": {"type": "parse_exception", "reason": "bad bulk body"},
                 "status": 400}))
        items = [self._item(*pair) for pair in pairs]
        errors = any(next(iter(i.values())).get("error") for i in items)
        body = json.dumps({"took": 1, "errors": errors, "items": items})
        return Reply(200, body=body, headers={"Content-Type": "application/json"})

    def _item(self, action, meta, doc):
        index = meta["_index"]
        fault = self.item_fault(action, meta, doc) if self.item_fault else None
        with self.lock:
            doc_id = meta.get("_id") or f"auto-{next(self._ids)}"
            result = {"_index": index, "_id": doc_id}
            if fault is not None:
                status, etype, reason = fault
                result.update(status=status, error={"type": etype, "reason": reason})
            elif action == "create" and (index, doc_id) in self.store:
                result.update(status=409, error={
                    "type": "version_conflict_engine_exception",
                    "reason": f"[{doc_id}]: version conflict, document already exists"})
            else:
                existed = (index, doc_id) in self.store
                self.store[(index, doc_id)] = doc
                self.accepted[(index, doc_id)] = self.accepted.get((index, doc_id), 0) + 1
                result.update(status=200 if existed else 201,
                              result="updated" if existed else "created")
        return {action: result}
