"""Scenarios that run a pipeline to completion on a cached input: stdin and
file sinks, the regex and seed remap programs, and idle CPU."""
from harness.inputs import APACHE_REGEX
from harness.registry import scenario
from harness.verify import (verify_apache_fields, verify_blackhole_total, verify_json_lines,
                            verify_match_count, verify_peer_files)


@scenario("stdin_blackhole", "stdin (bytes) -> blackhole: source and runtime overhead")
def stdin_blackhole(bench):
    # A peer's blackhole has no common way to report its count: unchecked.
    return bench.throughput("stdin_blackhole", verify=verify_blackhole_total,
                            peer_verify=None)


@scenario("file_json_out", "stdin lines -> file sink, JSON encoding")
def file_json_out(bench):
    return bench.throughput("file_json_out", verify=verify_json_lines,
                            peer_verify=verify_peer_files)


@scenario("regex_parse", "Apache combined lines -> remap parse_regex! -> file (JSON), "
          "and pcre2grep -c on the same file")
def regex_parse(bench):
    results = bench.throughput("regex_parse", verify=verify_apache_fields,
                               peer_verify=verify_peer_files, input_kind="apache")
    # The ceiling for one thread: PCRE2 (JIT) matching the same regex on the
    # same lines with nothing else to do.
    results.append(bench.reference("pcre2grep", ["pcre2grep", "-c", APACHE_REGEX,
                                                 str(bench.input)], verify_match_count))
    return results


@scenario("seed_remap", "Kubernetes-shaped JSON -> remap (the seed program) -> blackhole")
def seed_remap(bench):
    return bench.throughput("seed_remap", verify=verify_blackhole_total, peer_verify=None,
                            input_kind="k8s_json")


@scenario("idle", "stdin held open with no input: CPU used while waiting")
def idle(bench):
    return bench.idle("idle", seconds=bench.args.seconds)
