"""The chaos scenarios (docs/operations.md, "Chaos suite"): each breaks one
thing while a file source under steady load feeds the http, datadog_logs
and elasticsearch sinks, then Scenario.finish() checks that every line
reached every receiver, RSS stayed within the bound, /health answers and
SIGTERM exits 0. Durations are the full drills'; CHAOS_SHORT=1 shrinks them."""
import glob
import os
import random
import subprocess
import sys
import time

import pytest

from conftest import KINDS, SINK_IDS, KafkaWriter, metric, pick
from fault_proxy import FaultProxy

RATE = pick(2000, 800)          # lines per second written to the source


def run_for(sc, seconds):
    """Lets the load run; fails early if sluice died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert sc.sluice.proc.poll() is None, "sluice exited: " + sc.sluice.stderr()[-2000:]
        time.sleep(0.2)


def kill_cycles(sc, cycles, least_s, most_s):
    """Starts sluice and the writer, then `cycles` times lets sluice run a
    random least_s..most_s seconds, kills it with -9 and starts it again
    (CHAOS_KILL_CYCLES and CHAOS_SEED override the count and the draws);
    each kill is a mark: the lines of cycle i are those written between
    kill i-1 and kill i."""
    cycles = int(os.environ.get("CHAOS_KILL_CYCLES") or cycles)
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "5")))
    sc.start_sluice()
    sc.start_writer(RATE)
    for i in range(cycles):
        if i:
            sc.start_sluice(wait=False)
        ran = rng.uniform(least_s, most_s)
        time.sleep(ran)
        sc.kill9()
        sc.marks.append((i + 1, sc.writer.written, round(ran, 2)))


def test_sink_outage(chaos):
    """1. Every receiver goes away (connections reset, port closed) for 30 s,
    then comes back on the same port."""
    sc = chaos("sink_outage")
    sc.start_sluice()
    sc.start_writer(RATE)
    run_for(sc, pick(10, 3))
    outage = pick(30, 8)
    for rx in sc.receivers.values():
        rx.go_down()
    run_for(sc, outage)
    for rx in sc.receivers.values():
        rx.come_back()
    run_for(sc, pick(10, 3))
    sc.extra["outage_s"] = outage
    sc.finish()


def test_throttling(chaos):
    """2. Every receiver answers 429 with Retry-After for a period, then
    accepts again."""
    sc = chaos("throttling")
    sc.start_sluice()
    sc.start_writer(RATE)
    run_for(sc, pick(10, 3))
    period = pick(30, 6)
    for rx in sc.receivers.values():
        rx.throttle(period, retry_after=pick(2, 1))
    run_for(sc, period)
    run_for(sc, pick(10, 3))
    sc.extra["throttled_s"] = period
    sc.finish()
    for kind, rx in sc.receivers.items():
        assert rx.throttled > 0, f"{kind}: no request was throttled"


def test_network_disruption(chaos, loop):
    """3. A fault proxy between sluice and each receiver drops 10% of
    exchanges' connections, adds 100 ms each way and flips bytes in 2% of
    bodies (requests; answers too, except Elasticsearch's: see
    fault_proxy.py). Receivers answer damaged requests 503. How many
    requests they rejected is reported, not asserted: a flipped byte in a
    field other than .message (host, timestamp) can leave a body that still
    parses and checks out."""
    sc = chaos("network_disruption")
    proxies = {}
    for kind, rx in sc.receivers.items():
        proxies[kind] = FaultProxy(loop, rx.port, drop=0.10, delay=0.1, corrupt=0.02,
                                   corrupt_responses=kind != "elasticsearch",
                                   seed=KINDS.index(kind) + 1)
        sc.urls[kind] = f"http://127.0.0.1:{proxies[kind].port}"
        sc.closers.append(proxies[kind].stop)
    # Smaller requests: more exchanges for the faults to hit.
    sc.shape.batch = 100
    sc.start_sluice()
    sc.start_writer(RATE)
    run_for(sc, pick(60, 15))
    sc.extra["proxy"] = {k: p.stats() for k, p in proxies.items()}
    sc.finish()
    assert sum(p.dropped for p in proxies.values()) > 0, "no connection was dropped"
    assert sum(p.bodies_corrupted["requests"] for p in proxies.values()) > 0, \
        "no request body was damaged"


def test_queue_backup(chaos):
    """4. Receivers accept at 10% of the input rate: back-pressure reaches the
    file source (it stops reading ahead), events held inside sluice stay
    bounded (with disk buffers: the buffer grows to max_size and holds),
    and everything arrives once the receivers speed up again."""
    sc = chaos("queue_backup")
    if sc.disk:
        sc.shape.max_size = pick(8, 1) * 1024 * 1024
    sc.start_sluice()
    sc.start_writer(RATE)
    run_for(sc, pick(5, 2))
    for rx in sc.receivers.values():
        rx.limit_rate(RATE * 0.10)
    peak = dict.fromkeys(KINDS, 0.0)      # the largest buffer_size_bytes seen
    deadline = time.monotonic() + pick(60, 20)
    while time.monotonic() < deadline:
        run_for(sc, 1)
        if sc.disk:
            text = sc.metrics()
            for k in KINDS:
                peak[k] = max(peak[k], metric(text, "sluice_buffer_size_bytes", SINK_IDS[k]))
    text = sc.metrics()
    written = sc.writer.written
    read = metric(text, "sluice_component_received_events_total", "in")
    sent = {k: metric(text, "sluice_component_sent_events_total", SINK_IDS[k]) for k in KINDS}
    inside = read - min(sent.values())
    held = sc.shape.held_events() + 2 * 1024
    backup = {"written": written, "read_by_source": int(read), "sent": sent,
              "inside_sluice": int(inside), "held_bound": held}
    if sc.disk:
        sizes = {k: metric(text, "sluice_buffer_size_bytes", SINK_IDS[k]) for k in KINDS}
        backup.update(buffer_bytes=sizes, buffer_bytes_peak=peak, max_size=sc.shape.max_size)
    for rx in sc.receivers.values():
        rx.limit_rate(None)
    sc.extra["backup"] = backup
    sc.finish()
    assert written - read > RATE, f"the source kept reading: {backup}"
    if sc.disk:
        for k, size in backup["buffer_bytes"].items():
            assert 0.8 * sc.shape.max_size <= size, f"{k}: the buffer did not fill: {backup}"
            assert peak[k] <= sc.shape.max_size, f"{k}: the buffer outgrew max_size: {backup}"
    else:
        assert inside <= held, f"more events inside sluice than its buffers hold: {backup}"


def test_kill9_cycles(chaos):
    """5. kill -9 of sluice at random moments under load, restarted each time
    with the same data_dir: 0 lost per cycle; duplicates per cycle reported
    (the lines of cycle i are those written between kill i-1 and kill i)."""
    sc = chaos("kill9")
    kill_cycles(sc, pick(20, 5), 0.2, pick(4.0, 2.0))
    sc.start_sluice()
    run_for(sc, pick(5, 2))
    sc.finish()


def test_disk_pressure(chaos):
    """6. data_dir on a small tmpfs filled up by a filler file, so buffer
    writes fail with ENOSPC: the sinks' input blocks and the failure is
    logged and counted; once the filler is deleted it recovers and nothing
    is lost."""
    sc = chaos("disk_pressure")
    if not sc.disk:
        pytest.skip(sc.disk_reason)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    size_mb = pick(64, 24)
    sc.data_dir.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                        str(sc.data_dir)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"mount -t tmpfs failed: {r.stderr.strip()}")
    sc.closers.append(lambda: subprocess.run(["umount", "-l", str(sc.data_dir)]))
    sc.shape.max_size = size_mb * 1024 * 1024
    sc.start_sluice()
    sc.start_writer(RATE)
    for rx in sc.receivers.values():
        rx.go_down()
    run_for(sc, pick(5, 2))
    filler = sc.data_dir / "filler"
    fill(filler)
    run_for(sc, pick(20, 6))
    text = sc.metrics()
    errors = {k: metric(text, "sluice_buffer_errors_total", SINK_IDS[k]) for k in KINDS}
    filler.unlink()
    for rx in sc.receivers.values():
        rx.come_back()
    run_for(sc, pick(10, 3))
    sc.extra["buffer_errors_while_full"] = errors
    sc.finish()
    assert sum(errors.values()) > 0, "no buffer write failed while the disk was full"
    assert "space" in "".join(s.stderr() for s in sc.runs).lower(), \
        "ENOSPC was not logged"


def fill(path):
    """Writes to path until the filesystem is full."""
    block = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(block)
            except OSError:
                break
        while True:     # the last partial block
            try:
                f.write(b"\0" * 4096)
            except OSError:
                return


def test_buffer_corruption(chaos):
    """7. With sluice stopped, bytes are flipped in each sink's disk buffer
    segments and the newest segment is cut short: sluice starts, counts the
    records it skipped, and delivers the rest. The only lines allowed
    missing are those of skipped records: at most one batch per damaged
    spot."""
    sc = chaos("buffer_corruption")
    if not sc.disk:
        pytest.skip(sc.disk_reason)
    sc.start_sluice()
    sc.start_writer(RATE)
    for rx in sc.receivers.values():
        rx.go_down()
    run_for(sc, pick(10, 5))
    assert sc.sluice.terminate(60) == 0, sc.sluice.stderr()
    flips = 3
    damaged = {k: damage_buffer(sc.data_dir / "buffer" / SINK_IDS[k], flips) for k in KINDS}
    for rx in sc.receivers.values():
        rx.come_back()
    sc.start_sluice()
    run_for(sc, pick(10, 3))
    text = sc.metrics()
    sc.extra["damaged"] = damaged
    sc.extra["buffer_errors"] = {k: metric(text, "sluice_buffer_errors_total", SINK_IDS[k])
                                 for k in KINDS}
    sc.finish(allowed_lost=(flips + 1) * 1024)
    for k in KINDS:
        assert sc.extra["buffer_errors"][k] > 0, f"{k}: no corrupt record counted"


def damage_buffer(directory, flips):
    """Flips a byte at `flips` random offsets of the buffer's segment files
    (the largest files) and cuts the newest segment short by a few bytes."""
    files = sorted((p for p in glob.glob(os.path.join(directory, "*")) if os.path.isfile(p)),
                   key=os.path.getsize)
    segments = [p for p in files if os.path.getsize(p) > 4096] or files[-1:]
    assert segments, f"no buffer files in {directory}"
    rng = random.Random(7)
    done = []
    for i in range(flips):
        seg = segments[i % len(segments)]
        size = os.path.getsize(seg)
        off = rng.randrange(size // 4, size)
        with open(seg, "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0xff]))
        done.append((os.path.basename(seg), off))
    newest = max(segments, key=os.path.getmtime)
    os.truncate(newest, os.path.getsize(newest) - 7)
    done.append((os.path.basename(newest), "truncated by 7 bytes"))
    return done


def test_cpu_pressure(chaos):
    """8. A busy process on every core during the run: slower, not lossy."""
    sc = chaos("cpu_pressure")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 1)]

    def stop_hogs():
        for h in hogs:
            if h.poll() is None:
                h.kill()
                h.wait()
    sc.closers.append(stop_hogs)
    sc.start_sluice()
    sc.start_writer(RATE)
    run_for(sc, pick(60, 12))
    stop_hogs()
    sc.extra["busy_processes"] = len(hogs)
    sc.finish()


@pytest.mark.parametrize("buffer", ["memory", "disk"])
def test_memory_bound_receiver_down(chaos, buffer):
    """The memory target: RSS while every receiver is down for 60 s
    under full input (a backlog larger than the bound plus the steady
    writer) stays within the configured buffers plus 64 MB; with memory
    buffers, and with disk buffers when this sluice has them."""
    sc = chaos(f"memory_receiver_down_{buffer}", buffer)
    if buffer == "disk" and not sc.disk:
        pytest.skip(sc.disk_reason)
    sc.start_sluice()
    for rx in sc.receivers.values():
        rx.go_down()
    payload = 1000
    writer = sc.start_writer(RATE, payload_bytes=payload)
    backlog_mb = sc.bound_mb() * 1.5
    writer.write_now(int(backlog_mb * 1024 * 1024 / writer.line_bytes))
    down = pick(60, 10)
    run_for(sc, down)
    rss_down = sc.sampler.max_kb / 1024
    for rx in sc.receivers.values():
        rx.come_back()
    sc.extra.update(down_s=down, backlog_mb=round(backlog_mb), max_rss_down_mb=round(rss_down, 1))
    sc.finish()


def test_kafka_kill9_and_broker_outage(chaos):
    """10. A kafka source (acknowledgements on) reads a topic under steady
    load while sluice is killed with -9 at random moments and restarted,
    then the broker goes down and comes back: every message reaches every
    receiver, since offsets are stored only over what all sinks took;
    duplicates per cycle are reported. Each restart waits for the group's
    rebalance (the killed member's session ends after 6 s)."""
    from peers.kafka import committed_offsets, end_offsets
    sc = chaos("kafka", source="kafka")
    # Long enough, mostly, for the restarted member to rejoin and read (the
    # group waits out the killed member's 6 s session first).
    kill_cycles(sc, pick(10, 3), pick(4.0, 8.0), pick(20.0, 12.0))
    sc.start_sluice()
    run_for(sc, pick(10, 5))
    outage = pick(20, 6)
    sc.kafka.broker_down(1)
    run_for(sc, outage)
    sc.kafka.broker_up(1)
    run_for(sc, pick(10, 5))
    sc.extra["broker_outage_s"] = outage
    sc.finish()
    bootstrap = sc.kafka.bootstrap
    assert committed_offsets(bootstrap, "chaos", KafkaWriter.TOPIC) == \
        end_offsets(bootstrap, KafkaWriter.TOPIC)
