"""End-to-end tests of disk buffers (`buffer.type: disk`): the options as
`validate` checks them; a file source whose checkpoint moves once events are
durably buffered while the receiver is down; the buffer surviving a restart
and delivering everything exactly once; max_size holding under `block`
(back-pressure, nothing lost) and under `drop_newest` (counted); a corrupt
record skipped, counted, and the rest delivered; the buffer metrics; and a
SIGTERM with the receiver down that exits within seconds, leaving in the
buffer what a restart then delivers; requests whose retries run out read
again from the buffer at a calm pace and delivered once the receiver is
back."""
import hashlib
import subprocess
import time

from conftest import Sluice, checkpoint_offsets, free_port, metric_value, run_cli, wait_for
from peers.config import FAST_RETRIES, component, pipeline
from peers.recorder import Reply, http_receiver  # noqa: F401


def line(i, width=120):
    """Line i, filled with hex digits that lz4 can't squeeze much, so the
    buffer's size follows the input's."""
    text = f"line {i:07d} "
    fill = ""
    while len(text) + len(fill) < width:
        fill += hashlib.sha256(f"{i}.{len(fill)}".encode()).hexdigest()
    return text + fill[:width - len(text)]


def write_lines(path, start, count, width=120):
    with open(path, "a") as f:
        f.write("".join(line(i, width) + "\n" for i in range(start, start + count)))


# Retries that never give up, as with Vector's defaults.
RETRY_FOREVER = """    request:
      retry_initial_backoff_secs: 0.05
"""


def config(tmp_path, url, api_port, buffer="", include=None, shutdown=2, acks=True,
           retry=FAST_RETRIES):
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    include = include or str(tmp_path / "in.log")
    buffer = buffer or "      type: disk\n      max_size: 268435488\n"
    source = component("in", "file", options=f'include: ["{include}"]\nread_from: beginning')
    sink = component("out", "http", ["in"], f"""
        uri: "{url}"
        encoding:
          codec: ndjson
        batch:
          timeout_secs: 0.1""")
    return pipeline(source, sink + retry + "    buffer:\n" + buffer, api_port=api_port,
                    data_dir=data_dir, acks=acks, shutdown=shutdown)


def delivered(rx):
    out = []
    for r in rx.accepted():
        out.extend(e["message"] for e in r.ndjson())
    return out


def buffer_metric(port, name):
    return metric_value(port, name, component_id="out") or 0


def segment_files(tmp_path):
    return sorted(p for p in (tmp_path / "data" / "buffer" / "out").iterdir()
                  if p.is_file() and p.stat().st_size > 0 and p.suffix not in ("", ".lock")
                  and "ledger" not in p.name and "lock" not in p.name)


# ---- validate ----

def validate(tmp_path, buffer, source="file"):
    cfg = tmp_path / "v.yaml"
    src = (f'    type: file\n    include: ["{tmp_path}/*.log"]\n' if source == "file"
           else "    type: stdin\n")
    sink = component("out", "blackhole", ["in"], "acknowledgements:\n  enabled: true\nbuffer:")
    cfg.write_text(pipeline("  in:\n" + src, sink + buffer, data_dir=tmp_path,
                            api_section=""))
    return run_cli("validate", "--no-environment", "-c", str(cfg))


def test_validate_needs_max_size(tmp_path):
    r = validate(tmp_path, "      type: disk\n")
    assert r.returncode == 78
    assert "needs buffer.max_size" in r.stdout + r.stderr


def test_validate_refuses_max_events_and_tiny_sizes(tmp_path):
    r = validate(tmp_path, "      type: disk\n      max_size: 268435488\n      max_events: 10\n")
    assert r.returncode == 78
    assert "max_events applies to memory buffers" in r.stdout + r.stderr
    r = validate(tmp_path, "      type: disk\n      max_size: 1000\n")
    assert r.returncode == 78
    assert "must be at least" in r.stdout + r.stderr


def test_validate_accepts_vector_disk_buffer(tmp_path):
    r = validate(tmp_path, "      type: disk\n      max_size: 268435488\n"
                           "      when_full: drop_newest\n")
    assert r.returncode == 0, r.stdout + r.stderr


def test_validate_warns_when_a_source_cannot_use_acknowledgements(tmp_path):
    r = validate(tmp_path, "      type: memory\n", source="stdin")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "can't use them" in r.stdout + r.stderr
    r = validate(tmp_path, "      type: memory\n")
    assert "can't use them" not in r.stdout + r.stderr


# ---- durability ----

def test_checkpoint_moves_once_buffered_and_restart_delivers_everything(
        start_sluice, http_receiver, tmp_path):
    rx = http_receiver
    rx.default = Reply(503)
    log = tmp_path / "in.log"
    write_lines(log, 0, 2000)
    port = free_port()
    s = start_sluice(config(tmp_path, rx.url, port))
    s.wait_healthy(port)
    wait_for(lambda: buffer_metric(port, "buffer_received_events_total") == 2000,
             what="every event in the disk buffer")
    # Durable in the buffer is delivered as far as the source is concerned,
    # although the receiver has taken nothing.
    wait_for(lambda: log.stat().st_size in checkpoint_offsets(tmp_path / "data"),
             what="the checkpoint to reach the end of the file")
    assert delivered(rx) == []
    assert buffer_metric(port, "buffer_size_events") == 2000
    assert buffer_metric(port, "buffer_size_bytes") > 0
    s.terminate()

    rx.default = Reply(200)
    port = free_port()
    s = start_sluice(config(tmp_path, rx.url, port))
    s.wait_healthy(port)
    wait_for(lambda: len(delivered(rx)) >= 2000, what="delivery after the restart")
    wait_for(lambda: buffer_metric(port, "buffer_size_events") == 0,
             what="the buffer to empty")
    got = delivered(rx)
    assert sorted(got) == [line(i) for i in range(2000)]
    assert buffer_metric(port, "buffer_sent_events_total") == 2000
    assert s.terminate() == 0


def test_block_holds_max_size_and_loses_nothing(start_sluice, http_receiver, tmp_path):
    rx = http_receiver
    rx.default = Reply(503)
    log = tmp_path / "in.log"
    total = 40000   # about 10 MB through a 2 MiB buffer
    write_lines(log, 0, total, width=250)
    port = free_port()
    buffer = "      type: disk\n      max_size: 2097152\n      when_full: block\n"
    s = start_sluice(config(tmp_path, rx.url, port, buffer))
    s.wait_healthy(port)
    wait_for(lambda: buffer_metric(port, "buffer_received_events_total") > 0,
             what="writes to the buffer")
    time.sleep(2)
    held = buffer_metric(port, "buffer_received_events_total")
    assert held < total, "the buffer took more than max_size allows"
    assert buffer_metric(port, "buffer_size_bytes") <= 2097152
    assert all(o < log.stat().st_size for o in checkpoint_offsets(tmp_path / "data")), \
        "the checkpoint passed events the buffer never took"
    assert buffer_metric(port, "buffer_discarded_events_total") == 0
    rx.default = Reply(200)
    wait_for(lambda: len(delivered(rx)) >= total, timeout=90, what="everything delivered")
    got = delivered(rx)
    assert len(got) == total and len(set(got)) == total
    assert s.terminate() == 0


def test_drop_newest_counts_what_did_not_fit(start_sluice, http_receiver, tmp_path):
    rx = http_receiver
    rx.default = Reply(503)
    log = tmp_path / "in.log"
    write_lines(log, 0, 40000, width=250)
    port = free_port()
    buffer = "      type: disk\n      max_size: 2097152\n      when_full: drop_newest\n"
    s = start_sluice(config(tmp_path, rx.url, port, buffer))
    s.wait_healthy(port)
    wait_for(lambda: buffer_metric(port, "buffer_discarded_events_total") > 0,
             what="discards")
    wait_for(lambda: log.stat().st_size in checkpoint_offsets(tmp_path / "data"),
             what="the source to read on past the full buffer")
    assert buffer_metric(port, "buffer_size_bytes") <= 2097152
    received = buffer_metric(port, "buffer_received_events_total")
    discarded = buffer_metric(port, "buffer_discarded_events_total")
    assert received + discarded == 40000
    rx.default = Reply(200)
    wait_for(lambda: len(delivered(rx)) >= received, what="the buffered part delivered")
    assert len(set(delivered(rx))) == received
    assert s.terminate() == 0


def test_corrupt_record_is_skipped_and_the_rest_delivered(start_sluice, http_receiver,
                                                          tmp_path):
    rx = http_receiver
    rx.default = Reply(503)
    log = tmp_path / "in.log"
    port = free_port()
    s = start_sluice(config(tmp_path, rx.url, port))
    s.wait_healthy(port)
    chunks = 6
    for c in range(chunks):   # one append, one batch, one record each
        write_lines(log, c * 100, 100)
        wait_for(lambda: buffer_metric(port, "buffer_received_events_total") == (c + 1) * 100,
                 what=f"chunk {c} in the buffer")
    time.sleep(1)   # past the sync interval
    s.terminate()

    segments = segment_files(tmp_path)
    assert segments, "no segment file"
    seg = segments[-1]
    data = bytearray(seg.read_bytes())
    middle = len(data) // 2
    for k in range(8):
        data[middle + k] ^= 0xFF
    seg.write_bytes(bytes(data))

    rx.default = Reply(200)
    port = free_port()
    s = start_sluice(config(tmp_path, rx.url, port))
    s.wait_healthy(port)
    wait_for(lambda: buffer_metric(port, "buffer_errors_total") >= 1,
             what="the corrupt record counted")
    wait_for(lambda: len(delivered(rx)) >= 500, what="the intact records delivered")
    time.sleep(1)
    got = set(delivered(rx))
    whole = [c for c in range(chunks)
             if {line(i) for i in range(c * 100, c * 100 + 100)} <= got]
    assert len(whole) == chunks - 1, f"chunks delivered whole: {whole}"
    assert len(got) == (chunks - 1) * 100
    assert "corrupt" in s.stderr().lower()
    assert s.terminate() == 0


def test_second_process_cannot_share_the_buffer(start_sluice, http_receiver, tmp_path):
    rx = http_receiver
    log = tmp_path / "in.log"
    write_lines(log, 0, 10)
    port = free_port()
    s = start_sluice(config(tmp_path, rx.url, port))
    s.wait_healthy(port)
    second = tmp_path / "second"
    second.mkdir()
    other = Sluice(second, config(tmp_path, rx.url, free_port()))
    try:
        assert other.wait(30) != 0
        assert "another" in other.stderr()
    finally:
        other.kill()
    assert s.terminate() == 0



def test_errored_batch_holds_the_checkpoint(start_sluice, tmp_path):
    """A batch a sink could not deliver for now (a write to a full disk)
    may succeed if read again: the file checkpoint must not pass it, nor
    the batches after it, until a restart reads them again."""
    log = tmp_path / "in.log"
    write_lines(log, 0, 500)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    s = start_sluice(f"""data_dir: "{data_dir}"
api:
  enabled: true
  address: "127.0.0.1:{port}"
acknowledgements: true
sources:
  in:
    type: file
    include: ["{log}"]
    read_from: beginning
sinks:
  out:
    type: file
    inputs: [in]
    path: /dev/full
    encoding:
      codec: text
""")
    s.wait_healthy(port)
    wait_for(lambda: "checkpoints stay where they are" in s.stderr(), what="the freeze logged")
    write_lines(log, 500, 500)
    time.sleep(1.5)   # past the checkpoint interval
    assert all(o == 0 for o in checkpoint_offsets(data_dir)), checkpoint_offsets(data_dir)
    assert s.terminate() == 0


def test_retries_that_run_out_are_read_again_from_the_buffer_at_a_calm_pace(
        start_sluice, http_receiver, tmp_path):
    """A request whose retry_attempts ran out is released as errored: the
    disk buffer reads its record again (not dropped), pausing longer each
    time while nothing gets through, and delivers it once the receiver
    answers again, without a restart."""
    rx = http_receiver
    rx.default = Reply(503)
    write_lines(tmp_path / "in.log", 0, 20)
    port = free_port()
    s = start_sluice(config(tmp_path, rx.url, port,
                            retry=FAST_RETRIES + "      retry_attempts: 1\n"))
    wait_for(lambda: "released as errored" in s.stderr(), what="the retries to run out")
    first = len(rx.received())
    time.sleep(4)
    # Each round is two requests; rounds pause 10 ms doubling up to 1 s, so
    # four seconds hold about a dozen rounds, not hundreds.
    assert len(rx.received()) - first < 40, len(rx.received()) - first
    assert len(rx.received()) - first >= 4
    rx.default = Reply(200)
    wait_for(lambda: sorted(delivered(rx)) == [line(i) for i in range(20)],
             what="delivery once the receiver is back")
    assert s.terminate() == 0


def test_sigterm_with_the_receiver_down_exits_promptly_and_loses_nothing(
        start_sluice, http_receiver, tmp_path):
    """Everything is on disk once the buffer has synced, so a receiver that
    is down must not hold the shutdown up for shutdown_timeout_secs: the
    sink gets a short grace for what is in flight and exits, leaving the
    rest in the buffer, which the next start delivers."""
    total = 3000
    log = tmp_path / "in.log"
    write_lines(log, 0, total)
    port = free_port()
    nobody = f"http://127.0.0.1:{free_port()}/"   # nothing listens there
    s = start_sluice(config(tmp_path, nobody, port, shutdown=60, retry=RETRY_FOREVER))
    s.wait_healthy(port)
    wait_for(lambda: buffer_metric(port, "buffer_received_events_total") == total,
             what="every event in the disk buffer")
    wait_for(lambda: log.stat().st_size in checkpoint_offsets(tmp_path / "data"),
             what="the checkpoint to reach the end of the file")
    started = time.monotonic()
    code = s.terminate(timeout=70)
    took = time.monotonic() - started
    assert code == 0, s.stderr()
    assert took < 5, f"shutdown took {took:.1f} s"

    rx = http_receiver
    port = free_port()
    s = start_sluice(config(tmp_path, rx.url, port))
    s.wait_healthy(port)
    wait_for(lambda: len(set(delivered(rx))) >= total, what="delivery after the restart")
    assert set(delivered(rx)) == {line(i) for i in range(total)}
    assert s.terminate() == 0


def test_a_buffer_whose_input_ended_delivers_everything_while_the_pipeline_runs(
        start_sluice, http_receiver, tmp_path):
    """The early stop is for shutdown only: a disk-buffered sink whose
    source has ended (stdin at EOF) while another source keeps the pipeline
    running goes on until its buffer is delivered."""
    rx = http_receiver
    rx.fail_for(4.0)
    total = 500
    port = free_port()
    s = start_sluice(f"""data_dir: "{tmp_path}"
api:
  enabled: true
  address: "127.0.0.1:{port}"
sources:
  in:
    type: stdin
  tick:
    type: demo_logs
    format: shuffle
    lines: [tick]
    interval: 1.0
sinks:
  out:
    type: http
    inputs: [in]
    uri: "{rx.url}"
    encoding:
      codec: ndjson
    batch:
      timeout_secs: 0.1
    request:
      retry_initial_backoff_secs: 0.05
    buffer:
      type: disk
      max_size: 268435488
  idle:
    type: blackhole
    inputs: [tick]
""", stdin=subprocess.PIPE)
    s.wait_healthy(port)
    s.proc.stdin.write("".join(line(i) + "\n" for i in range(total)).encode())
    s.proc.stdin.close()
    wait_for(lambda: len(set(delivered(rx))) >= total, timeout=30,
             what="delivery once the receiver is back")
    assert set(delivered(rx)) == {line(i) for i in range(total)}
    assert s.proc.poll() is None, "sluice stopped: " + s.stderr()
    assert s.terminate() == 0
