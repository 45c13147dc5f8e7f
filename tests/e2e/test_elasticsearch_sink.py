"""End-to-end tests of the `elasticsearch` sink against peers/elasticsearch.py, a
local server that checks every bulk request against the spec and keeps a
store as Elasticsearch does: exact delivery with id_key through a 503 and
per-item 429s, partial retries of several requests pooled into one, the file
source's acknowledgement waiting for them, the encoding options (except
fields, timestamp format), the index template, data_stream mode, the
pipeline and query parameters, 409 on create counted delivered, rejected
items logged and written to the dead-letter file, an unreadable bulk
response, basic and API-key auth, and secrets kept out of stderr and
`validate` output."""
import datetime
import json
import subprocess
import time
import zlib

from conftest import checkpoint_offsets, run_cli, wait_for
from peers.config import FAST_RETRIES, component, pipeline, stdin
from peers.elasticsearch import EsReceiver
from peers.recorder import Reply

SECRET = "s3cr3t-Pa55-XYZZY"


def config(url, extra="", endpoints=None):
    endpoints = endpoints or f'["{url}"]'
    sink = component("out", "elasticsearch", ["in"], f"endpoints: {endpoints}")
    return pipeline(stdin("json"), sink + FAST_RETRIES + extra)


def run_with_events(start_sluice, cfg, events, timeout=60):
    s = start_sluice(cfg, stdin=subprocess.PIPE)
    s.proc.stdin.write("".join(json.dumps(e) + "\n" for e in events).encode())
    s.proc.stdin.close()
    assert s.wait(timeout) == 0, s.stderr()
    return s


def this_year():
    return datetime.datetime.now(datetime.timezone.utc).year


def test_exact_delivery_through_503_and_item_429s(start_sluice):
    """Every event exactly once: the first request gets 503, 1 document in
    20 gets 429 the first time it comes; gzip bodies."""
    n = 2000
    with EsReceiver(expect={"action": "index", "index": "logs-app", "id": True}) as es:
        es.request_script = [503]
        throttled = set()

        def fault(action, meta, doc):
            if int(meta["_id"][1:]) % 20 == 7 and meta["_id"] not in throttled:
                throttled.add(meta["_id"])
                return 429, "es_rejected_execution_exception", "rejected execution"
            return None

        es.item_fault = fault
        cfg = config(es.url, """    compression: gzip
    id_key: id
    bulk:
      index: "logs-{{ service }}"
    batch:
      max_events: 100
""")
        run_with_events(start_sluice, cfg,
                        [{"id": f"e{i}", "service": "app", "n": i} for i in range(n)])
        assert es.violations == []
        assert len(throttled) == n // 20
        assert all(r.headers.get("content-encoding") == "gzip" for r in es.requests())
        # The script answers the first request to arrive; with requests in
        # parallel another may be recorded before it.
        assert [r.status for r in es.requests()].count(503) == 1
        assert set(es.accepted) == {("logs-app", f"e{i}") for i in range(n)}
        assert set(es.accepted.values()) == {1}
        docs = es.documents()
        assert docs[("logs-app", "e42")]["n"] == 42
        assert all("id" not in d for d in docs.values())   # id_key left out, as Vector


def bulk_ids(req):
    """The _ids of a bulk request's actions, in order."""
    lines = req.body.decode().splitlines()
    return [next(iter(json.loads(a).values()))["_id"] for a in lines[0::2]]


def test_partial_retries_of_several_requests_are_pooled(start_sluice):
    """Eight requests each get one item 429 the first time: their items to
    retry wait for a backoff in one pooled retry request (a few at most,
    should a pool's drawn backoff end before the last 429 came back), not in
    eight; a request answered 503 before that is retried whole; every event
    is stored exactly once."""
    n, per_request = 80, 10
    with EsReceiver(expect={"action": "index", "id": True}) as es:
        es.request_script = [503]
        throttled = set()

        def fault(action, meta, doc):
            if int(meta["_id"][1:]) % per_request == 3 and meta["_id"] not in throttled:
                throttled.add(meta["_id"])
                return 429, "es_rejected_execution_exception", "rejected execution"
            return None

        es.item_fault = fault
        cfg = config(es.url, f"""    id_key: id
    batch:
      max_events: {per_request}
""").replace("retry_initial_backoff_secs: 0.05", "retry_initial_backoff_secs: 2").replace(
            "retry_max_duration_secs: 0.2", "retry_max_duration_secs: 5")
        run_with_events(start_sluice, cfg, [{"id": f"e{i}", "n": i} for i in range(n)])
        assert es.violations == []
        assert len(throttled) == n // per_request
        assert sorted(doc_id for _, doc_id in es.accepted) == sorted(f"e{i}" for i in range(n))
        assert set(es.accepted.values()) == {1}
        retries = [r for r in es.requests() if r.status == 200 and
                   set(bulk_ids(r)) <= throttled]
        assert sum(len(bulk_ids(r)) for r in retries) == len(throttled)
        assert 1 <= len(retries) <= 3, [bulk_ids(r) for r in retries]


def test_encoding_except_fields_and_unix_timestamps(start_sluice):
    """Vector's encoding transformer shapes the documents; the _id (id_key)
    and the index template still read the whole event."""
    with EsReceiver(expect={"action": "index", "id": True, "index": "app-web"}) as es:
        cfg = config(es.url, """    id_key: id
    bulk:
      index: "app-{{ service }}"
    encoding:
      except_fields: [secret, nested.drop, service]
      timestamp_format: unix_ms
""")
        run_with_events(start_sluice, cfg, [{"id": "x1", "secret": "s", "keep": 1,
                                             "service": "web",
                                             "nested": {"drop": 1, "stay": 2}}])
        assert es.violations == []
        assert list(es.accepted) == [("app-web", "x1")]
        [doc] = es.documents().values()
        ts = doc.pop("timestamp")
        assert isinstance(ts, int) and ts > 1_600_000_000_000
        assert {k: v for k, v in doc.items() if k not in ("host", "source_type")} == {
            "keep": 1, "nested": {"stay": 2}}


def acked_file_to_es(data_dir, log, url, extra=""):
    """file (JSON lines, from the beginning) -> elasticsearch with id_key,
    acknowledgements, batches of 10 and fast retries."""
    return f"""data_dir: "{data_dir}"
api:
  enabled: false
sources:
  in:
    type: file
    include: ["{log}"]
    read_from: beginning
transforms:
  parsed:
    type: remap
    inputs: [in]
    source: '. = parse_json!(.message)'
sinks:
  out:
    type: elasticsearch
    inputs: [parsed]
    endpoints: ["{url}"]
    id_key: id
    acknowledgements:
      enabled: true
    batch:
      max_events: 10
      timeout_secs: 0.1
    request:
      retry_initial_backoff_secs: 0.05
      retry_max_duration_secs: 0.2
{extra}"""


def test_acknowledgement_waits_for_pooled_item_retries(start_sluice, tmp_path):
    """Items pooled for a retry are copies and their input batch is released
    early; its acknowledgement must still wait for them: the file source's
    checkpoint stays short of the end while one document in ten keeps
    getting 429, and reaches it once they are stored."""
    log = tmp_path / "in.log"
    n = 100
    payload = "".join(json.dumps({"id": f"e{i}", "n": i}) + "\n" for i in range(n)).encode()
    log.write_bytes(payload)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with EsReceiver(expect={"action": "index", "id": True}) as es:
        blocked = [True]

        def fault(action, meta, doc):
            if blocked[0] and int(meta["_id"][1:]) % 10 == 3:
                return 429, "es_rejected_execution_exception", "rejected execution"
            return None

        es.item_fault = fault
        cfg = acked_file_to_es(data_dir, log, es.url)
        s = start_sluice(cfg)
        wait_for(lambda: len(es.accepted) == n - n // 10, what="the other documents")
        time.sleep(1.5)   # several checkpoint intervals, retries going on
        assert all(o < len(payload) for o in checkpoint_offsets(data_dir)), \
            "checkpoint passed documents the receiver never stored"
        blocked[0] = False
        wait_for(lambda: len(es.accepted) == n, what="the retried documents")
        wait_for(lambda: len(payload) in checkpoint_offsets(data_dir), timeout=15,
                 what="the checkpoint to reach the end")
        assert s.terminate() == 0
        assert set(es.accepted.values()) == {1}
        assert es.violations == []


def test_without_partial_retries_failed_items_are_errored_not_dropped(start_sluice, tmp_path):
    """request_retry_partial: false sends no document again, but one
    answered 429 is not the data's fault: it is neither dead-lettered nor
    passed by the file checkpoint, and the next run delivers it."""
    log = tmp_path / "in.log"
    n = 50
    payload = "".join(json.dumps({"id": f"e{i}", "n": i}) + "\n" for i in range(n)).encode()
    log.write_bytes(payload)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    dead = tmp_path / "dead.jsonl"
    extra = f"    request_retry_partial: false\n    dead_letter:\n      path: \"{dead}\"\n"
    with EsReceiver(expect={"action": "index", "id": True}) as es:
        blocked = [True]

        def fault(action, meta, doc):
            if blocked[0] and meta["_id"] == "e7":
                return 429, "es_rejected_execution_exception", "rejected execution"
            return None

        es.item_fault = fault
        s = start_sluice(acked_file_to_es(data_dir, log, es.url, extra))
        wait_for(lambda: len(es.accepted) == n - 1, what="the other documents")
        wait_for(lambda: "failed for now" in s.stderr(), what="the errored items' warning")
        time.sleep(1.5)   # several checkpoint intervals
        assert all(o < len(payload) for o in checkpoint_offsets(data_dir)), \
            "checkpoint passed a document the receiver never stored"
        assert s.terminate() == 0
        assert not dead.exists() or dead.read_text() == ""
        assert not any(doc_id == "e7" for _, doc_id in es.accepted)

        blocked[0] = False
        s = start_sluice(acked_file_to_es(data_dir, log, es.url, extra))
        wait_for(lambda: any(doc_id == "e7" for _, doc_id in es.accepted),
                 what="the errored document, read again")
        wait_for(lambda: len(payload) in checkpoint_offsets(data_dir), timeout=15,
                 what="the checkpoint to reach the end")
        assert s.terminate() == 0
        assert es.violations == []


def test_default_index_and_no_id(start_sluice):
    with EsReceiver(expect={"action": "index", "id": False}) as es:
        run_with_events(start_sluice, config(es.url), [{"message": f"m{i}"} for i in range(10)])
        assert es.violations == []
        indices = {index for index, _ in es.accepted}
        today = datetime.datetime.now(datetime.timezone.utc).date()
        allowed = {f"sluice-{d:%Y.%m.%d}" for d in (today, today - datetime.timedelta(days=1))}
        assert len(es.accepted) == 10 and indices <= allowed
        req = es.requests()[0]
        assert "content-encoding" not in req.headers          # Vector's default: none
        assert req.body.endswith(b"\n")


def test_index_template_pipeline_and_query(start_sluice):
    year = this_year()
    with EsReceiver(expect={"index": lambda d: f"app-{d['service']}-{year}",
                            "query": {"pipeline": "my%20pipe", "refresh": "false"}}) as es:
        cfg = config(es.url, """    pipeline: my pipe
    query:
      refresh: "false"
    bulk:
      index: "app-{{ service }}-%Y"
""")
        events = [{"service": s, "n": i} for i, s in enumerate(["a", "b", "a", "c"])]
        s = run_with_events(start_sluice, cfg, events + [{"n": 99}])
        assert es.violations == []
        assert sorted(d["n"] for d in es.documents().values()) == [0, 1, 2, 3]
        assert "service" in s.stderr()        # the event without it: dropped, said why


def test_template_fallback_index(start_sluice):
    with EsReceiver() as es:
        cfg = config(es.url, """    bulk:
      index: "app-{{ service }}"
      template_fallback_index: unrouted
""")
        run_with_events(start_sluice, cfg, [{"service": "a"}, {"n": 1}])
        assert sorted(i for i, _ in es.accepted) == ["app-a", "unrouted"]


def test_data_stream_mode(start_sluice):
    with EsReceiver(expect={"action": "create"}) as es:
        cfg = config(es.url, """    mode: data_stream
    data_stream:
      dataset: "{{ app }}"
""")
        events = [{"app": "web", "message": "one"},
                  {"app": "db", "message": "two", "data_stream": {"namespace": "prod"}}]
        run_with_events(start_sluice, cfg, events)
        assert es.violations == []
        docs = {d["message"]: (index, d) for (index, _), d in es.documents().items()}
        index, one = docs["one"]
        assert index == "logs-web-default"
        assert one["data_stream"] == {"type": "logs", "dataset": "web", "namespace": "default"}
        assert "@timestamp" in one and "timestamp" not in one
        index, two = docs["two"]
        assert index == "logs-db-prod"                     # auto_routing
        assert two["data_stream"] == {"type": "logs", "dataset": "db", "namespace": "prod"}


def test_conflict_on_create_counts_as_delivered(start_sluice, tmp_path):
    dead = tmp_path / "dead.jsonl"
    with EsReceiver(expect={"action": "create", "id": True}) as es:
        es.store[("idx", "d1")] = {"old": True}
        cfg = config(es.url, f"""    id_key: id
    bulk:
      action: create
      index: idx
    dead_letter:
      path: {dead}
""")
        s = run_with_events(start_sluice, cfg, [{"id": f"d{i}"} for i in range(3)])
        assert es.violations == []
        assert es.store[("idx", "d1")] == {"old": True}
        assert set(es.accepted) == {("idx", "d0"), ("idx", "d2")}
        assert not dead.exists()
        assert "rejected" not in s.stderr()


def test_rejected_items_logged_and_dead_lettered(start_sluice, tmp_path):
    dead = tmp_path / "dead.jsonl"
    with EsReceiver() as es:
        reason = "failed to parse field [status] of type [long]"
        es.item_fault = lambda action, meta, doc: (
            (400, "mapper_parsing_exception", reason) if doc.get("status") == "abc" else None)
        cfg = config(es.url, f"""    id_key: id
    bulk:
      index: idx
    dead_letter:
      path: {dead}
""")
        events = [{"id": f"k{i}", "status": "abc" if i in (3, 7) else i} for i in range(10)]
        s = run_with_events(start_sluice, cfg, events)
        assert es.violations == []
        assert len(es.accepted) == 8
        err = s.stderr()
        assert "k3" in err and "400" in err and "mapper_parsing_exception" in err
        assert reason in err
        lines = [json.loads(line) for line in dead.read_text().splitlines()]
        assert sorted(line["_id"] for line in lines) == ["k3", "k7"]
        for line in lines:
            assert line["_index"] == "idx" and line["status"] == 400
            assert line["error"] == {"type": "mapper_parsing_exception", "reason": reason}
            # The document as it was sent: id_key removed, the rest kept.
            assert line["document"]["status"] == "abc"
            assert "id" not in line["document"]


def test_unreadable_bulk_response_is_rejected_not_retried(start_sluice):
    with EsReceiver() as es:
        es.request_script = [Reply(200, body="<html>proxy</html>")]
        cfg = config(es.url, """    batch:
      max_events: 5
""")
        s = run_with_events(start_sluice, cfg, [{"n": i} for i in range(5)])
        assert es.bulk_requests == 1
        assert "unreadable bulk response" in s.stderr()


def test_endpoints_round_robin(start_sluice):
    with EsReceiver() as a, EsReceiver() as b:
        cfg = config(a.url, """    batch:
      max_events: 10
""", endpoints=f'["{a.url}", "{b.url}/"]')
        run_with_events(start_sluice, cfg, [{"n": i} for i in range(100)])
        assert a.violations == [] and b.violations == []
        assert len(a.accepted) + len(b.accepted) == 100
        assert a.bulk_requests > 0 and b.bulk_requests > 0


def test_basic_auth_secret_stays_out_of_output(start_sluice, tmp_path):
    import base64
    token = base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    with EsReceiver(expect={"authorization": f"Basic {token}"}) as es:
        es.request_script = [503, 503]
        cfg = config(es.url, f"""    auth:
      strategy: basic
      user: elastic
      password: "{SECRET}"
""")
        s = run_with_events(start_sluice, cfg, [{"n": 1}])
        assert es.violations == [] and len(es.accepted) == 1
        assert SECRET not in s.stderr() and SECRET not in s.stdout()
        path = tmp_path / "validate.yaml"
        path.write_text(cfg)
        out = run_cli("validate", "-c", str(path))
        assert out.returncode == 0, out.stdout + out.stderr
        assert es.healthchecks >= 1
        assert SECRET not in out.stdout + out.stderr


def test_api_key_auth(start_sluice, tmp_path):
    key = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
    with EsReceiver(expect={"authorization": f"ApiKey {key}"}) as es:
        es.request_script = [500]
        cfg = config(es.url, f"""    auth:
      strategy: api_key
      api_key: "{key}"
""")
        s = run_with_events(start_sluice, cfg, [{"n": 1}])
        assert es.violations == [] and len(es.accepted) == 1
        assert key not in s.stderr()
        bad = tmp_path / "bad.yaml"
        bad.write_text(cfg.replace("strategy: api_key", "strategy: basic"))
        out = run_cli("validate", "--no-environment", "-c", str(bad))
        assert out.returncode == 78
        assert key not in out.stdout + out.stderr


def test_credentials_in_endpoint_url_stay_out_of_logs(start_sluice):
    with EsReceiver() as es:
        es.request_script = [503, 503, 503]
        url = es.url.replace("http://", f"http://elastic:{SECRET}@")
        s = run_with_events(start_sluice, config(url), [{"n": 1}])
        assert len(es.accepted) == 1
        assert es.requests()[-1].headers.get("authorization", "").startswith("Basic ")
        assert "503" in s.stderr() and SECRET not in s.stderr()


def test_validate_refuses_bad_options(tmp_path):
    cfg = config("http://127.0.0.1:9", """    endpoint: http://127.0.0.1:9
    id_key: "items[0]"
    api_version: v6
    bulk:
      index: "idx-%Q"
""")
    path = tmp_path / "bad.yaml"
    path.write_text(cfg)
    out = run_cli("validate", "--no-environment", "-c", str(path))
    assert out.returncode == 78
    text = out.stdout + out.stderr
    for needle in ("endpoint", "id_key", "api_version", "bulk.index"):
        assert needle in text, text


def test_gzip_body_is_one_stream(start_sluice):
    """The receiver decodes with gzip.decompress; check the raw bytes too."""
    with EsReceiver() as es:
        run_with_events(start_sluice, config(es.url, "    compression: gzip\n"),
                        [{"n": i} for i in range(50)])
        raw = es.requests()[0].raw
        assert zlib.decompress(raw, 31).endswith(b"\n")
