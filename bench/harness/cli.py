"""bench/run's command line: `bench/run SCENARIO [options]`, and the hidden
`bench/run _k8s_writer JSON` that k8s_rotation starts as its writer."""
import argparse
import json
import os
import sys

import scenarios  # noqa: F401 (registers every scenario)
from harness.bench import Bench
from harness.common import ROOT, rel
from harness.registry import SCENARIOS
from harness.report import print_table, save_results
from harness.writer import k8s_writer


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/run", description="Run a sluice benchmark scenario.",
        epilog="scenarios:\n" + "\n".join(f"  {n:<19} {s}" for n, (_, s, _) in SCENARIOS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=sorted(SCENARIOS), metavar="SCENARIO")
    p.add_argument("--events", type=int,
                   help="input lines (default 5000000; 1000000 for the file, k8s and "
                   "HTTP sink scenarios)")
    p.add_argument("--runs", type=int, help="runs per program (default 5; 1 for "
                   "k8s_rotation and file_rotation)")
    p.add_argument("--peer", help="shell command to compare with; gets the input on "
                   "stdin and its path in $INPUT, an output dir in $OUTDIR")
    p.add_argument("--bin", default=os.environ.get("SLUICE_BIN", str(ROOT / "build" / "sluice")),
                   help="sluice binary (default $SLUICE_BIN or build/sluice)")
    p.add_argument("--line-bytes", type=int, default=200,
                   help="bytes per input line, newline included (default 200)")
    p.add_argument("--seconds", type=float, default=10.0,
                   help="idle scenario: seconds measured (default 10)")
    p.add_argument("--threads", type=int,
                   help="passed to sluice as --threads (default: sluice's own, the "
                   "online CPUs), to compare 1 and 2 worker threads")
    p.add_argument("--poll-ms", type=float, default=20.0,
                   help="tailing scenarios: interval of the /metrics polls (default 20)")
    p.add_argument("--partial-percent", type=float, default=5.0,
                   help="k8s scenarios: percent of lines split into P+F chunks (default 5)")
    p.add_argument("--duration", type=float,
                   help="k8s_rotation, file_rotation, kafka_rebalance: seconds the writer "
                   "writes (default 60; kafka_rebalance 45)")
    p.add_argument("--rate", type=int,
                   help="k8s_rotation, file_rotation, kafka_rebalance: lines (messages) per "
                   "second written (default 50000; kafka_rebalance 5000)")
    p.add_argument("--rotate-mib", type=float, default=10.0,
                   help="k8s_rotation, file_rotation: 0.log is rotated once this big (default 10)")
    p.add_argument("--fail-percent", type=float, default=10.0,
                   help="_faults scenarios: percent of requests the receiver answers 503 "
                   "(default 10)")
    p.add_argument("--item-429-percent", type=float, default=5.0,
                   help="file_elasticsearch_faults: percent of the documents of each bulk "
                   "request answered 429 (default 5)")
    p.add_argument("--retry-backoff", type=float,
                   help="HTTP sink scenarios: request.retry_initial_backoff_secs (default: "
                   "sluice's, 1)")
    p.add_argument("--keep-rotated", type=int, default=2,
                   help="k8s_rotation, file_rotation: rotated files kept, as kubelet's "
                   "containerLogMaxFiles - 1 (default 2)")
    args = p.parse_args(argv)
    defaults = {"duration": 60.0, "rate": 50_000, **SCENARIOS[args.scenario][2]}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.scenario in ("k8s_rotation", "file_rotation", "kafka_rebalance"):
        args.events = 0       # what the writer writes: known once it has
        if args.duration <= 0 or args.rate < 1 or args.rotate_mib <= 0 or args.keep_rotated < 1:
            p.error("--duration, --rate, --rotate-mib and --keep-rotated must be positive")
    elif args.events < 1:
        p.error("--events must be positive")
    if not 0 <= args.partial_percent <= 100:
        p.error("--partial-percent must be between 0 and 100")
    if args.poll_ms <= 0:
        p.error("--poll-ms must be positive")
    if not (0 <= args.fail_percent < 100 and 0 <= args.item_429_percent < 100):
        p.error("--fail-percent and --item-429-percent must be in [0, 100)")
    if args.retry_backoff is not None and args.retry_backoff < 0:
        p.error("--retry-backoff must not be negative")
    if args.runs < 1:
        p.error("--runs must be positive")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be positive")
    if not os.access(args.bin, os.X_OK):
        p.error(f"sluice binary not found at {args.bin} (build it, or pass --bin)")
    return args


def main(argv):
    if argv[:1] == ["_k8s_writer"]:           # k8s_rotation's writer process
        return k8s_writer(json.loads(argv[1]))
    args = parse_args(argv)
    fn = SCENARIOS[args.scenario][0]
    results = fn(Bench(args))
    print_table(args.scenario, args, results)
    print(f"results: {rel(save_results(args.scenario, args, results))}")
    failed = [r for r in results if r.get("failed")]
    for r in failed:
        print(f"FAILED ({r['program']}):\n" + "\n".join(r["problems"]), file=sys.stderr)
    return 1 if failed else 0
