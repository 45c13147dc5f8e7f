"""The seed programs, exactly as the user wrote them, through the real
binary: stdin (JSON) -> remap (as one program, and split in three chained
remaps) -> file. Events shaped like kubernetes_logs output and plain JSON
events alike; a pod name that is missing or not a string is a handled error:
counted, its condition false, the rest of the program still applied."""
import json
import subprocess
import time

from conftest import free_port, http_get
from peers import prometheus
from peers.config import file_sink, pipeline, stdin

PART_WORKLOAD = """
if match(.kubernetes.pod_name, r"chat-ui") {
  .workload_type = "ai-chat"
  .service = "chat-ui"
} else if match(.kubernetes.pod_name, r"semantic-kernel") {
  .workload_type = "ai-agent"
  .service = "semantic-kernel"
}
"""

PART_SECURITY = """
if match(string!(.message), r"(?i)(error|exception|failed|denied)") {
  .security_event = true
  .severity = "warning"
}
"""

PART_METRICS = """
if exists(.response_time) {
  .performance.response_time_ms = to_float!(.response_time)
}
if exists(.token_count) {
  .ai_metrics.token_count = to_int!(.token_count)
}
"""

EVENTS = [
    {"kubernetes": {"pod_name": "chat-ui-7d9f-x2", "pod_namespace": "ai"},
     "message": "upstream request FAILED: permission denied",
     "response_time": "182.5", "token_count": "512", "source_type": "kubernetes_logs"},
    {"kubernetes": {"pod_name": "semantic-kernel-0", "pod_namespace": "ai"},
     "message": "planner step ok", "token_count": 64},
    {"kubernetes": {"pod_name": "ingress-nginx-5"}, "message": "GET /healthz 200"},
    {"message": "Exception in handler", "response_time": 12},
]

EXPECTED = [
    {"kubernetes": {"pod_name": "chat-ui-7d9f-x2", "pod_namespace": "ai"},
     "message": "upstream request FAILED: permission denied",
     "response_time": "182.5", "token_count": "512", "source_type": "kubernetes_logs",
     "workload_type": "ai-chat", "service": "chat-ui",
     "security_event": True, "severity": "warning",
     "performance": {"response_time_ms": 182.5}, "ai_metrics": {"token_count": 512}},
    {"kubernetes": {"pod_name": "semantic-kernel-0", "pod_namespace": "ai"},
     "message": "planner step ok", "token_count": 64,
     "workload_type": "ai-agent", "service": "semantic-kernel",
     "ai_metrics": {"token_count": 64}},
    {"kubernetes": {"pod_name": "ingress-nginx-5"}, "message": "GET /healthz 200"},
    {"message": "Exception in handler", "response_time": 12,
     "security_event": True, "severity": "warning",
     "performance": {"response_time_ms": 12.0}},
]


def remap(name, inputs, program):
    body = "\n".join("      " + line for line in program.strip().splitlines())
    return f"""  {name}:
    type: remap
    inputs: [{inputs}]
    source: |
{body}
"""


def config(out, port, transforms, last):
    return pipeline(stdin("json"), file_sink(out, [last]), transforms=transforms,
                    api_port=port)


def run_seed(start_sluice, tmp_path, transforms, last):
    out = tmp_path / "out.json"
    port = free_port()
    s = start_sluice(config(out, port, transforms, last), stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write("".join(json.dumps(e) + "\n" for e in EVENTS).encode())
    s.proc.stdin.flush()
    deadline = time.time() + 10
    while time.time() < deadline and (not out.exists() or
                                      len(out.read_text().splitlines()) < len(EVENTS)):
        time.sleep(0.05)
    _, _, body = http_get(f"http://127.0.0.1:{port}/metrics")
    s.proc.stdin.close()
    assert s.wait(30) == 0, s.stderr()
    got = [json.loads(line) for line in out.read_text().splitlines()]
    for g in got:
        for key in ("host", "timestamp"):
            g.pop(key, None)
        if g.get("source_type") == "stdin":
            del g["source_type"]
    return got, body.decode(), s.stderr()


def errors_of(metrics, component):
    return prometheus.parse(metrics).value("sluice_component_errors_total",
                                           component_id=component) or 0.0


def test_seed_as_one_program(start_sluice, tmp_path):
    program = PART_WORKLOAD + PART_SECURITY + PART_METRICS
    got, metrics, stderr = run_seed(start_sluice, tmp_path, remap("seed", "in", program), "seed")
    assert got == EXPECTED
    # The last event has no pod name: both pod-name conditions were handled
    # errors (counted once for the event), the rest of the program ran.
    assert errors_of(metrics, "seed") == 1
    assert "seed" in stderr and "match" in stderr


def test_seed_split_in_three(start_sluice, tmp_path):
    transforms = (remap("workload", "in", PART_WORKLOAD)
                  + remap("security", "workload", PART_SECURITY)
                  + remap("metrics", "security", PART_METRICS))
    got, metrics, _ = run_seed(start_sluice, tmp_path, transforms, "metrics")
    assert got == EXPECTED
    assert errors_of(metrics, "workload") == 1
    assert errors_of(metrics, "security") == 0
