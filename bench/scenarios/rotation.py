"""The log rotation scenarios: a writer appends and rotates while sluice tails."""
from harness.registry import scenario


@scenario("k8s_rotation", "a writer appends CRI lines at --rate and rotates 0.log the "
          "kubelet way -> kubernetes_logs -> file (text); every line exactly once",
          events=0, runs=1)
def k8s_rotation(bench):
    return bench.rotation("k8s_rotation")


@scenario("file_rotation", "k8s_rotation's writer and rotation (no split lines) -> file "
          "source -> remap (CRI prefix dropped) -> file (text); every line exactly once",
          events=0, runs=1)
def file_rotation(bench):
    bench.args.partial_percent = 0     # the file source does not join P+F chunks
    return bench.rotation("file_rotation")
