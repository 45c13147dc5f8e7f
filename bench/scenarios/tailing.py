"""The tailing sources never end by themselves: these scenarios run sluice with
its API on a free port, poll /metrics every --poll-ms until the blackhole
has received every event, and stop it with SIGTERM. The time measured is
from the start to the first poll that saw the whole count (so it includes
start-up and errs by at most one poll interval on the slow side); CPU is
the process's at that poll. At exit the blackhole's total must equal the
count exactly (more would be duplicates). `wc -l` on the same files, run
to completion, is the reference row: reading the bytes and finding the
newlines with nothing else to do."""
from harness.cri import K8S_PODS, ensure_pod_tree
from harness.inputs import ensure_input, ensure_split_input
from harness.registry import scenario


@scenario("file_blackhole", "one file of N lines -> file source (read_from: beginning) "
          "-> blackhole; wc -l reference", events=1_000_000)
def file_blackhole(bench):
    path = ensure_input(bench.args.events, bench.args.line_bytes)
    return bench.count_throughput("file_blackhole", path, [path], bench.args.events,
                                  bench.args.events)


@scenario("file_blackhole_100", "100 files of N/100 lines -> file source -> blackhole; "
          "wc -l reference", events=1_000_000)
def file_blackhole_100(bench):
    tree, files = ensure_split_input(bench.args.events, bench.args.line_bytes, 100)
    return bench.count_throughput("file_blackhole_100", tree, files, bench.args.events,
                                  bench.args.events)


@scenario("file_disk_buffer_blackhole", "file_blackhole with the blackhole behind a disk "
          "buffer; the same pipeline with its memory buffer, and wc -l, as references",
          events=1_000_000)
def file_disk_buffer_blackhole(bench):
    path = ensure_input(bench.args.events, bench.args.line_bytes)
    n = bench.args.events
    disk = bench.count_throughput("file_disk_buffer_blackhole", path, [path], n, n)
    memory = bench.count_throughput("file_blackhole", path, [path], n, n)
    disk[0]["program"] = "sluice, disk buffer"
    memory[0]["program"] = "sluice, memory buffer"
    return [disk[0], memory[0], disk[1]]


@scenario("k8s_cri_blackhole", "CRI lines of 50 pods (P+F partials, stdout/stderr "
          "interleaved) -> kubernetes_logs -> blackhole; wc -l reference", events=1_000_000)
def k8s_cri_blackhole(bench):
    tree, files, manifest = ensure_pod_tree(bench.args.events, bench.args.line_bytes,
                                            K8S_PODS, bench.args.partial_percent)
    # The blackhole counts merged lines; wc -l counts the chunks on disk.
    return bench.count_throughput("k8s_cri_blackhole", tree, files, bench.args.events,
                                  manifest["chunks"])
