"""End-to-end tests of the transforms: JSON lines on stdin go through one
transform (or a few) into file or console sinks, and the tests check the
exact events that come out - filter, route (outputs wired to different sinks,
`_unmatched`, an event matching two routes, reading the route as a whole
refused), sample, log_to_metric (Vector's metric JSON), dedupe, throttle,
remap (run-time errors counted with the event passing unchanged,
drop_on_error, drop_on_abort, reroute_dropped with the reason attached,
programs from files), `validate` placing a remap compile error at its line,
and order kept across worker threads."""
import json
import pathlib
import re
import subprocess
import textwrap

from conftest import free_port, metric_value, run_cli, wait_for
from peers import config as builder

EX_CONFIG = 78
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def pipeline(transforms, sinks, api_port=None, decoding="json"):
    """A config: stdin (JSON lines) -> `transforms` -> `sinks` (YAML text of
    the two sections' bodies, indented by two)."""
    def section(text):
        return textwrap.indent(textwrap.dedent(text).strip("\n"), "  ") + "\n"
    return builder.pipeline(builder.stdin(decoding), section(sinks), transforms=section(transforms),
                            api_port=api_port)


def file_sink(name, inputs, path):
    return builder.file_sink(path, inputs, name=name)


def lines(*events):
    return "".join(json.dumps(e) + "\n" for e in events).encode()


def read_events(path):
    """The events in a JSON-lines file (none when it was never written)."""
    p = pathlib.Path(path)
    if not p.exists():
        return []
    return [json.loads(l) for l in p.read_text().split("\n") if l]


def strip(events, *keys):
    """The events without the fields the source adds (or `keys`)."""
    drop = {"host", "source_type", "timestamp", *keys}
    return [{k: v for k, v in e.items() if k not in drop} for e in events]


def run_with_input(start_sluice, config, data, args=(), timeout=60):
    s = start_sluice(config, args=args, stdin=subprocess.PIPE)
    s.proc.stdin.write(data)
    s.proc.stdin.close()
    assert s.wait(timeout) == 0, s.stderr()
    return s





def run_and_scrape(start_sluice, config, data, port, ready, timeout=30):
    """Feeds data with stdin held open, waits for ready(), and returns a
    function reading metrics while the process still runs; the caller
    finishes with s.proc.stdin.close()."""
    s = start_sluice(config, stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write(data)
    s.proc.stdin.flush()
    wait_for(ready, timeout, "the events to arrive")
    return s


def finish(s, timeout=60):
    s.proc.stdin.close()
    assert s.wait(timeout) == 0, s.stderr()


# ------------------------------------------------------------------ filter


def test_filter_keeps_matching_events(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    port = free_port()
    cfg = pipeline("""
        keep:
          type: filter
          inputs: [in]
          condition: '.level == "error"'
        """, file_sink("out", ["keep"], out), api_port=port)
    data = lines({"n": 0, "level": "info"}, {"n": 1, "level": "error"},
                 {"n": 2}, {"n": 3, "level": "error"})
    s = run_and_scrape(start_sluice, cfg, data, port, lambda: len(read_events(out)) == 2)
    wait_for(lambda: metric_value(port, "component_discarded_events_total",
                                  component_id="keep", intentional="true") == 2,
             what="the discarded count")
    finish(s)
    assert strip(read_events(out)) == [{"n": 1, "level": "error"}, {"n": 3, "level": "error"}]


def test_filter_condition_in_vector_map_form(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    cfg = pipeline("""
        keep:
          type: filter
          inputs: [in]
          condition:
            type: vrl
            source: exists(.keep)
        """, file_sink("out", ["keep"], out))
    run_with_input(start_sluice, cfg, lines({"n": 0}, {"n": 1, "keep": True}))
    assert strip(read_events(out)) == [{"n": 1, "keep": True}]


def test_filter_runtime_error_counts_and_drops(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    port = free_port()
    cfg = pipeline("""
        keep:
          type: filter
          inputs: [in]
          condition: match(.pod, r"chat")
        """, file_sink("out", ["keep"], out), api_port=port)
    data = lines({"n": 0, "pod": 5}, {"n": 1, "pod": "chat-ui-1"}, {"n": 2, "pod": "db"})
    s = run_and_scrape(start_sluice, cfg, data, port, lambda: len(read_events(out)) == 1)
    wait_for(lambda: metric_value(port, "component_errors_total", component_id="keep",
                                  error_type="script_failed") == 1,
             what="the error count")
    finish(s)
    assert strip(read_events(out)) == [{"n": 1, "pod": "chat-ui-1"}]


# ------------------------------------------------------------------- route


def test_route_outputs_to_different_sinks(start_sluice, tmp_path):
    errors, api, other = tmp_path / "errors.json", tmp_path / "api.json", tmp_path / "other.json"
    cfg = pipeline("""
        split:
          type: route
          inputs: [in]
          route:
            errors: '.level == "error"'
            api: '.service == "api"'
        """, file_sink("e", ["split.errors"], errors) + file_sink("a", ["split.api"], api)
        + file_sink("o", ["split._unmatched"], other))
    data = lines({"n": 0, "level": "error", "service": "db"},
                 {"n": 1, "level": "info", "service": "api"},
                 {"n": 2, "level": "error", "service": "api"},
                 {"n": 3, "level": "info", "service": "web"})
    run_with_input(start_sluice, cfg, data)
    assert [e["n"] for e in read_events(errors)] == [0, 2]
    assert [e["n"] for e in read_events(api)] == [1, 2]
    assert [e["n"] for e in read_events(other)] == [3]
    assert strip(read_events(api))[1] == {"n": 2, "level": "error", "service": "api"}


def test_route_without_unmatched_drops_the_rest(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    cfg = pipeline("""
        split:
          type: route
          inputs: [in]
          reroute_unmatched: false
          route:
            big: .size == "big"
        """, file_sink("out", ["split.*"], out))
    run_with_input(start_sluice, cfg, lines({"size": "small"}, {"size": "big"}, {"size": 1}))
    assert strip(read_events(out)) == [{"size": "big"}]


def test_reading_a_route_as_a_whole_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(pipeline("""
        split:
          type: route
          inputs: [in]
          route:
            a: .a == 1
        """, file_sink("out", ["split"], tmp_path / "x.json")))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == EX_CONFIG, r.stdout + r.stderr
    assert ('input "split" has no default output; read one of its named outputs: '
            '"split.a" or "split._unmatched"') in r.stdout + r.stderr


# ------------------------------------------------------------------ sample


def test_sample_rate_keeps_one_in_n(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    cfg = pipeline("""
        s:
          type: sample
          inputs: [in]
          rate: 10
        """, file_sink("out", ["s"], out))
    run_with_input(start_sluice, cfg, lines(*({"n": i} for i in range(100))),
                   args=("--threads", "1"))
    events = read_events(out)
    assert [e["n"] for e in events] == list(range(0, 100, 10))
    assert all(e["sample_rate"] == "10" for e in events)


def test_sample_key_field_and_exclude(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    cfg = pipeline("""
        s:
          type: sample
          inputs: [in]
          rate: 3
          key_field: user
          exclude: .level == "error"
        """, file_sink("out", ["s"], out))
    users = [f"user{i}" for i in range(30)]
    data = lines(*({"user": u, "round": r} for r in range(3) for u in users),
                 {"user": "nobody-kept", "level": "error"})
    run_with_input(start_sluice, cfg, data)
    events = read_events(out)
    kept = [e for e in events if "level" not in e]
    by_round = [[e["user"] for e in kept if e["round"] == r] for r in range(3)]
    assert by_round[0] == by_round[1] == by_round[2]
    assert 0 < len(by_round[0]) < 30
    assert all(e["sample_rate"] == "3" for e in kept)
    excluded = [e for e in events if "level" in e]
    assert len(excluded) == 1 and "sample_rate" not in excluded[0]


# ----------------------------------------------------------- log_to_metric


def test_log_to_metric_in_vectors_json_shape(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    cfg = pipeline("""
        m:
          type: log_to_metric
          inputs: [in]
          metrics:
            - type: counter
              field: status
              name: responses_total
              namespace: web
              tags:
                status: "{{ status }}"
            - type: histogram
              field: duration
            - type: gauge
              field: load
            - type: set
              field: user
              name: users
            - type: counter
              field: bytes
              name: bytes_total
              increment_by_value: true
        """, file_sink("out", ["m"], out))
    data = lines({"status": 200, "duration": "0.25", "load": 1.5, "user": "ann", "bytes": 100},
                 {"status": 404, "duration": 2, "load": 3, "user": "bob"})
    run_with_input(start_sluice, cfg, data)
    events = read_events(out)
    for e in events:
        assert RFC3339.match(e.pop("timestamp")), e
    assert events == [
        {"name": "responses_total", "namespace": "web", "tags": {"status": "200"},
         "kind": "incremental", "counter": {"value": 1.0}},
        {"name": "duration", "kind": "incremental",
         "distribution": {"samples": [{"value": 0.25, "rate": 1}], "statistic": "histogram"}},
        {"name": "load", "kind": "absolute", "gauge": {"value": 1.5}},
        {"name": "users", "kind": "incremental", "set": {"values": ["ann"]}},
        {"name": "bytes_total", "kind": "incremental", "counter": {"value": 100.0}},
        # The second log has no `bytes`: it makes none of its metrics.
    ]


# ------------------------------------------------------------------ dedupe


def test_dedupe_drops_recent_duplicates(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    port = free_port()
    cfg = pipeline("""
        d:
          type: dedupe
          inputs: [in]
          fields:
            match: [message, user]
        """, file_sink("out", ["d"], out), api_port=port)
    data = lines({"n": 0, "message": "a", "user": "x"}, {"n": 1, "message": "a", "user": "x"},
                 {"n": 2, "message": "a", "user": "y"}, {"n": 3, "message": "b", "user": "x"},
                 {"n": 4, "message": "a", "user": "x"}, {"n": 5, "message": "a"})
    s = run_and_scrape(start_sluice, cfg, data, port, lambda: len(read_events(out)) == 4)
    wait_for(lambda: metric_value(port, "component_discarded_events_total",
                                  component_id="d", intentional="true") == 2,
             what="the discarded count")
    finish(s)
    assert [e["n"] for e in read_events(out)] == [0, 2, 3, 5]


# ---------------------------------------------------------------- throttle


def test_throttle_per_key(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    cfg = pipeline("""
        t:
          type: throttle
          inputs: [in]
          threshold: 3
          window_secs: 60
          key_field: "{{ user }}"
          exclude: .level == "error"
        """, file_sink("out", ["t"], out))
    data = lines(*({"n": i, "user": "ann" if i % 2 else "bob"} for i in range(10)),
                 {"n": 10, "user": "ann", "level": "error"})
    run_with_input(start_sluice, cfg, data)
    assert [e["n"] for e in read_events(out)] == [0, 1, 2, 3, 4, 5, 10]


# ------------------------------------------------------------------- remap


def test_remap_runtime_error_passes_event_unchanged(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    port = free_port()
    cfg = pipeline("""
        r:
          type: remap
          inputs: [in]
          source: |
            .touched = true
            .status = to_int!(.status)
        """, file_sink("out", ["r"], out), api_port=port)
    data = lines({"n": 0, "status": "200"}, {"n": 1, "status": "abc"}, {"n": 2, "status": "7"})
    s = run_and_scrape(start_sluice, cfg, data, port, lambda: len(read_events(out)) == 3)
    wait_for(lambda: metric_value(port, "component_errors_total", component_id="r",
                                  error_type="conversion_failed", stage="processing") == 1,
             what="the error count")
    finish(s)
    assert strip(read_events(out)) == [{"n": 0, "status": 200, "touched": True},
                                       {"n": 1, "status": "abc"},
                                       {"n": 2, "status": 7, "touched": True}]
    assert "Mapping failed with event" in s.stderr()
    assert "id=r" in s.stderr()


def test_remap_drop_on_error(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    port = free_port()
    cfg = pipeline("""
        r:
          type: remap
          inputs: [in]
          drop_on_error: true
          source: .status = to_int!(.status)
        """, file_sink("out", ["r"], out), api_port=port)
    data = lines({"n": 0, "status": "x"}, {"n": 1, "status": "1"}, {"n": 2, "status": "y"})
    s = run_and_scrape(start_sluice, cfg, data, port, lambda: len(read_events(out)) == 1)
    wait_for(lambda: metric_value(port, "component_discarded_events_total",
                                  component_id="r", intentional="false") == 2,
             what="the discarded count")
    finish(s)
    assert strip(read_events(out)) == [{"n": 1, "status": 1}]


def test_remap_abort(start_sluice, tmp_path):
    dropped, kept = tmp_path / "dropped.json", tmp_path / "kept.json"
    program = 'if .n == 1 { abort }\n.seen = true\n'
    cfg = pipeline(f"""
        drops:
          type: remap
          inputs: [in]
          source: {json.dumps(program)}
        keeps:
          type: remap
          inputs: [in]
          drop_on_abort: false
          source: {json.dumps(program)}
        """, file_sink("d", ["drops"], dropped) + file_sink("k", ["keeps"], kept))
    run_with_input(start_sluice, cfg, lines({"n": 0}, {"n": 1}, {"n": 2}))
    assert strip(read_events(dropped)) == [{"n": 0, "seen": True}, {"n": 2, "seen": True}]
    assert strip(read_events(kept)) == [{"n": 0, "seen": True}, {"n": 1},
                                        {"n": 2, "seen": True}]


def test_remap_reroute_dropped(start_sluice, tmp_path):
    main, dropped = tmp_path / "main.json", tmp_path / "dropped.json"
    cfg = pipeline("""
        parse:
          type: remap
          inputs: [in]
          drop_on_error: true
          reroute_dropped: true
          source: |
            .status = to_int!(.status)
            if .status >= 500 { abort }
        """, file_sink("m", ["parse"], main) + file_sink("d", ["parse.dropped"], dropped))
    run_with_input(start_sluice, cfg, lines({"n": 0, "status": "200"}, {"n": 1, "status": "bad"},
                                            {"n": 2, "status": "503"}))
    assert strip(read_events(main)) == [{"n": 0, "status": 200}]
    events = strip(read_events(dropped))
    assert [e["n"] for e in events] == [1, 2]
    assert events[0]["status"] == "bad" and events[1]["status"] == "503"
    reasons = [e["metadata"]["dropped"] for e in events]
    assert [r["reason"] for r in reasons] == ["error", "abort"]
    for r in reasons:
        assert r["component_id"] == "parse"
        assert r["component_type"] == "remap"
        assert r["component_kind"] == "transform"
        assert isinstance(r["message"], str)
    assert "to_int" in reasons[0]["message"] or "bad" in reasons[0]["message"]


def test_remap_program_from_file(start_sluice, tmp_path):
    program = tmp_path / "prog.vrl"
    program.write_text('.from_file = "yes"\n')
    out = tmp_path / "out.json"
    cfg = pipeline(f"""
        r:
          type: remap
          inputs: [in]
          file: "{program}"
        """, file_sink("out", ["r"], out))
    run_with_input(start_sluice, cfg, lines({"n": 0}))
    assert strip(read_events(out)) == [{"n": 0, "from_file": "yes"}]


def test_remap_needs_exactly_one_of_source_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(pipeline("""
        r:
          type: remap
          inputs: [in]
        """, file_sink("out", ["r"], tmp_path / "x.json")))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == EX_CONFIG
    assert "must provide exactly one of `source` or `file` configuration" in r.stdout + r.stderr


def test_validate_reports_a_remap_error_at_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(pipeline("""
        r:
          type: remap
          inputs: [in]
          source: |
            .ok = true
            .level = parse_json(.message)
        """, file_sink("out", ["r"], tmp_path / "x.json")))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    out = r.stdout + r.stderr
    assert r.returncode == EX_CONFIG, out
    line = next(i for i, l in enumerate(path.read_text().splitlines(), 1)
                if "parse_json" in l)
    assert f"✗ {path}:{line}: transforms.r: option \"source\": error[" in out, out
    assert "--> 2:" in out and "^" in out, out


def test_validate_reports_a_condition_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(pipeline("""
        keep:
          type: filter
          inputs: [in]
          condition: '.level == '
        """, file_sink("out", ["keep"], tmp_path / "x.json")))
    r = run_cli("validate", "--no-environment", "-c", str(path))
    assert r.returncode == EX_CONFIG
    assert 'transforms.keep: option "condition": error[' in r.stdout + r.stderr


def test_order_kept_across_workers(start_sluice, tmp_path):
    out = tmp_path / "out.json"
    n = 200_000
    cfg = pipeline("""
        r:
          type: remap
          inputs: [in]
          source: .tagged = "yes"
        """, file_sink("out", ["r"], out), decoding="bytes")
    data = "".join(f"seq={i}\n" for i in range(n)).encode()
    run_with_input(start_sluice, cfg, data, args=("--threads", "2"), timeout=120)
    got = out.read_text().split("\n")[:-1]
    assert len(got) == n
    for i in (0, 1, n // 2, n - 1):
        assert json.loads(got[i])["message"] == f"seq={i}"
    seqs = [int(l[l.index('"seq=') + 5:l.index('"', l.index('"seq=') + 1)]) for l in got]
    assert seqs == list(range(n))
