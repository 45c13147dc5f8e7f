"""What a scenario prints and keeps: the table of medians (with the machine
it ran on) and a JSON record per invocation in bench/results/."""
import json
import os
import platform
import time

from harness.common import RESULTS_DIR


def machine():
    """What the figures were measured on: CPUs, CPU model, kernel."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "memory_gb": round(mem_gb, 1)}


def print_table(name, args, results):
    m = machine()
    print(f"machine: {m['nproc']} CPUs, {m['cpu']}, {m['memory_gb']} GB RAM, "
          f"Linux {m['kernel']}")
    if "idle_s" in results[0]:
        print(f"scenario: {name} ({results[0]['idle_s']:.0f}s idle, "
              f"median of {args.runs})")
        header = f"{'program':<8} {'CPU s':>8} {'CPU %':>8} {'peak RSS MB':>12}"
        print(header)
        print("-" * len(header))
        for r in results:
            print(f"{r['program']:<8} {r['cpu_s']:>8.3f} {r['cpu_percent']:>8.2f} "
                  f"{r['peak_rss_mb']:>12.1f}")
        return
    threads = f", sluice --threads {args.threads}" if args.threads else ""
    if "receiver" in results[0]:
        print_receiver_table(name, args, results, threads)
        return
    if "rebalance" in results[0]:
        print_rebalance_table(name, args, results[0])
        return
    if "kafka" in results[0]:
        print_kafka_table(name, args, results, threads)
        return
    if "lost" in results[0]:
        r = results[0]
        print(f"scenario: {name} (writer {args.rate:,} lines/s of {args.line_bytes} bytes "
              f"for {args.duration:g}s, 0.log rotated every {args.rotate_mib:g} MiB, "
              f"{args.keep_rotated} rotated kept, {args.partial_percent:g}% split; median "
              f"of {args.runs}{threads})")
        print(f"lines written  {r['lines']:,.0f} at {r['write_rate']:,.0f}/s, "
              f"{r['rotations']:.0f} rotations")
        print(f"lost           {r['lost']}")
        print(f"duplicated     {r['duplicated']}")
        print(f"malformed      {r['malformed']}")
        print(f"write->sink    p50 {r['lag_p50_ms']:.0f} ms, p99 {r['lag_p99_ms']:.0f} ms, "
              f"max {r['lag_max_ms']:.0f} ms (at each poll: how long ago the newest line "
              "delivered was written)")
        print(f"catch-up       {r['catch_up_s']:.2f} s after the writer stopped")
        print(f"sluice CPU     {r['cpu_s']:.2f} s while writing ({r['cpu_percent']:.1f}% of "
              f"a core), peak RSS {r['peak_rss_mb']:.1f} MB")
        print("verdict        " + ("FAILED" if r["failed"] else
                                   "every line arrived exactly once"))
        return
    print(f"scenario: {name} ({args.events} events of {args.line_bytes} bytes, "
          f"median of {args.runs}{threads})")
    if results[0].get("until_count"):
        print(f"sluice: start to the /metrics poll (every {args.poll_ms:g} ms) that saw "
              "every event in the blackhole, and its CPU then; wc -l: start to exit")
    header = (f"{'program':<10} {'events/s':>12} {'MB/s':>9} {'CPU s':>8} "
              f"{'peak RSS MB':>12}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['program']:<10} {r['events_per_s']:>12,.0f} {r['mb_per_s']:>9.1f} "
              f"{r['cpu_s']:>8.2f} {r['peak_rss_mb']:>12.1f}")
    s = results[0]
    for p in results[1:]:
        print(f"sluice / {p['program']}: events/s x{s['events_per_s'] / p['events_per_s']:.2f}, "
              f"CPU x{s['cpu_s'] / p['cpu_s']:.2f}, "
              f"RSS x{s['peak_rss_mb'] / p['peak_rss_mb']:.2f}")


def print_receiver_table(name, args, results, threads):
    backoff = (f", retry_initial_backoff_secs {args.retry_backoff:g}"
               if args.retry_backoff is not None else "")
    print(f"scenario: {name} ({args.events} events of {args.line_bytes} bytes, median of "
          f"{args.runs}{threads}{backoff})")
    print("events/s: the receiver's, from its first request to the moment it had accepted "
          "every event; CPU: sluice's then")
    header = (f"{'run':<8} {'events/s':>10} {'MB/s':>7} {'recv s':>7} {'CPU s':>6} "
              f"{'RSS MB':>7} {'requests':>8} {'503':>5} {'429 items':>9} {'lost':>5} "
              f"{'dup':>5}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['mode']:<8} {r['events_per_s']:>10,.0f} {r['mb_per_s']:>7.1f} "
              f"{r['receiver_s']:>7.3f} {r['cpu_s']:>6.2f} {r['peak_rss_mb']:>7.1f} "
              f"{r['requests']:>8.0f} {r['answered_503']:>5.0f} {r['items_429']:>9.0f} "
              f"{r['lost']:>5} {r['duplicated']:>5}")
    for r in results:
        print(f"{r['mode']} runs, events/s: " +
              ", ".join(f"{v:,}" for v in r["events_per_s_all"]) +
              f"; receiver CPU {r['receiver_cpu_s']:.2f}s")
    if len(results) > 1:
        f = results[1]
        what = f"{f['fail_percent']:g}% of requests 503"
        if f["item_429_percent"]:
            what += f", {f['item_429_percent']:g}% of items 429"
        print(f"faults ({what}) / clean: x{f['ratio']:.2f}")
    lost = sum(r["lost"] for r in results)
    dup = sum(r["duplicated"] for r in results)
    print("verdict: " + ("FAILED" if any(r["failed"] for r in results) else
                         f"every event delivered exactly once in every run (lost {lost}, "
                         f"duplicated {dup})"))


def print_kafka_table(name, args, results, threads):
    k = results[0]["kafka"]
    print(f"scenario: {name} ({args.events:,} messages of {args.line_bytes} bytes, "
          f"{k['partitions']} partitions, {k['codec']}; median of {args.runs}{threads})")
    if k.get("note"):
        print(f"note: {k['note']}")
    if k.get("preload_s"):
        print(f"preload: {args.events / k['preload_s']:,.0f} messages/s into the mock")
    print("events/s: from the first event to the N-th (sluice: the /metrics polls every "
          f"{args.poll_ms:g} ms that saw the first and the last; plain: its own clock); "
          "CPU s: the whole process; cores: CPU per second of that window")
    header = (f"{'program':<8} {'events/s':>11} {'MB/s':>7} {'CPU s':>7} {'cores':>6} "
              f"{'mock cores':>10} {'peak RSS MB':>12}")
    print(header)
    print("-" * len(header))
    for r in results:
        cores = f"{r['window_cores']:.2f}" if "window_cores" in r else "-"
        print(f"{r['program']:<8} {r['events_per_s']:>11,.0f} {r['mb_per_s']:>7.1f} "
              f"{r['cpu_s']:>7.2f} {cores:>6} {r['mock_cores']:>10.2f} "
              f"{r['peak_rss_mb']:>12.1f}")
    for r in results:
        print(f"{r['program']} runs, events/s: " +
              ", ".join(f"{v:,}" for v in r["events_per_s_all"]) +
              f"; peak RSS max {r['peak_rss_mb_max']:.1f} MB")
    s = results[0]
    if "pauses" in s:
        print(f"sluice's source (medians): {s['pauses']:.0f} back-pressure pauses; librdkafka "
              f"fetched {s['fetched']:,.0f} messages by its last statistics before the count "
              f"({s['fetched'] / args.events:.2f} per message)")
    if len(results) > 1:
        p = results[1]
        print(f"sluice / plain consumer: events/s x{s['events_per_s'] / p['events_per_s']:.2f} "
              f"(target >= 0.7), CPU x{s['cpu_s'] / p['cpu_s']:.2f}, "
              f"RSS x{s['peak_rss_mb'] / p['peak_rss_mb']:.2f}")
        bound = 64 + 64
        print(f"sluice peak RSS, largest run: {s['peak_rss_mb_max']:.1f} MB against 64 MB + the "
              f"64 MiB prefetch budget = {bound} MB: "
              + ("within" if s["peak_rss_mb_max"] <= bound else "ABOVE"))
        print(f"absolute: {s['events_per_s']:,.0f} events/s against the 1,000,000/s aim "
              f"(x{s['events_per_s'] / 1e6:.2f})")
    elif s.get("verified"):
        print(f"target >= 500,000 messages/s: x{s['events_per_s'] / 5e5:.2f}; every message "
              "verified (end offsets, nothing deleted, each sequence number read back once)")


def print_rebalance_table(name, args, r):
    print(f"scenario: {name} (writer {args.rate:,} messages/s of {args.line_bytes} bytes for "
          f"{args.duration:g} s into 4 partitions; sluice B joins at {args.duration / 3:g} s, "
          f"A gets SIGTERM at {2 * args.duration / 3:g} s; {args.runs} run(s))")
    print(f"messages       {r['messages']:,.0f} at {r['write_rate']:,.0f}/s")
    print(f"lost           {r['lost']}")
    print(f"duplicated     {r['duplicated']} (per run: {r['duplicated_all']}; commits the "
          f"sources logged as failed, per run: {r['commit_failures']})")
    fmt = lambda d: ", ".join(f"p{p} {v:.2f}" for p, v in sorted(d.items())) or "-"
    for k, (join, base, leave, a_exit) in enumerate(zip(
            r["join_pause_s"], r["baseline_gap_s"], r["leave_resume_s"], r["a_exit_s"])):
        print(f"run {k + 1}: longest pause per partition after B joined (s): {fmt(join)}; "
              f"before it: {fmt(base)}")
        exit_s = "no exit" if a_exit is None else f"{a_exit:.2f} s"
        print(f"run {k + 1}: A's partitions at B, seconds after A's SIGTERM: {fmt(leave)}; "
              f"A exited in {exit_s}")
    print("verdict        " + ("FAILED" if r["failed"] else
                               "every message delivered (duplicates counted above)"))


def save_results(name, args, results):
    """Keeps a JSON record per invocation in bench/results/ (git-ignored)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    record = {"scenario": name, "machine": machine(), "events": args.events,
              "line_bytes": args.line_bytes, "runs": args.runs, "peer": args.peer,
              "threads": args.threads,
              "fail_percent": args.fail_percent, "item_429_percent": args.item_429_percent,
              "retry_backoff": args.retry_backoff,
              "results": results}
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
