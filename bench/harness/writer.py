"""The k8s_rotation writer, run as `bench/run _k8s_writer JSON` (a process of
its own, so its CPU is not sluice's nor the poller's). Two threads, as on a
node: "containerd" appends a batch of CRI lines every 10 ms to keep --rate;
"kubelet" rotates 0.log when asked (once it has grown past --rotate-mib), in
kubelet's order: delete *.tmp, delete the oldest rotated files beyond
--keep-rotated - 1, gzip every plain rotated file (to .tmp, renamed to .gz,
the plain one removed), then rename 0.log to 0.log.<YYYYMMDD-hhmmss> (UTC,
made unique). Like containerd, the writer reopens 0.log only after the batch
following the rename, which therefore still lands in the renamed file. Split
lines are never cut by a rotation."""
import gzip
import json
import os
import pathlib
import shutil
import sys
import threading
import time

from harness.cri import CriMaker, cri_timestamp


class KubeletRotator(threading.Thread):
    def __init__(self, log, keep):
        super().__init__(daemon=True)
        self.log, self.keep = log, keep
        self.wake, self.renamed = threading.Event(), threading.Event()
        self.busy, self.stopping = False, False
        self.rotations = self.compressed = self.deleted = 0
        self.last_stamp = 0
        self.error = None

    def request(self):
        self.busy = True
        self.wake.set()

    def stop(self):
        self.stopping = True
        self.wake.set()
        self.join()

    def run(self):
        try:
            while True:
                self.wake.wait()
                self.wake.clear()
                if self.stopping:
                    return
                self.rotate()
        except Exception as e:          # reported by the writer
            self.error = repr(e)
            self.renamed.set()

    def rotate(self):
        d, name = self.log.parent, self.log.name
        rotated = sorted(p for p in d.iterdir() if p.name.startswith(name + "."))
        for p in rotated:
            if p.name.endswith(".tmp"):
                p.unlink()
        rotated = [p for p in rotated if not p.name.endswith(".tmp")]
        while len(rotated) > self.keep - 1:
            rotated.pop(0).unlink()
            self.deleted += 1
        for p in rotated:
            if not p.name.endswith(".gz"):
                tmp = p.with_name(p.name + ".tmp")
                with open(p, "rb") as src, gzip.open(tmp, "wb", compresslevel=1) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp, p.with_name(p.name + ".gz"))
                p.unlink()
                self.compressed += 1
        stamp = max(int(time.time()), self.last_stamp + 1)
        self.last_stamp = stamp
        target = d / (name + "." + time.strftime("%Y%m%d-%H%M%S", time.gmtime(stamp)))
        os.rename(self.log, target)
        self.rotations += 1
        self.renamed.set()


def k8s_writer(cfg):
    log = pathlib.Path(cfg["dir"]) / "0.log"
    rate, duration = cfg["rate"], cfg["duration"]
    rotate_bytes = int(cfg["rotate_mib"] * 2**20)
    maker = CriMaker(cfg["line_bytes"], cfg["partial_percent"])
    total = int(rate * duration)
    kubelet = KubeletRotator(log, cfg["keep_rotated"])
    kubelet.start()
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    fd = os.open(log, flags, 0o644)
    size, written, nbytes, reopen, progress = 0, 0, 0, False, []
    t0 = tick = time.monotonic()
    while written < total:
        tick += 0.01
        time.sleep(max(0.0, tick - time.monotonic()))
        target = min(total, int((time.monotonic() - t0) * rate))
        if target <= written:
            continue
        if reopen:
            os.close(fd)
            fd = os.open(log, flags, 0o644)
            size, reopen, kubelet.busy = 0, False, False
        ts = cri_timestamp(time.time_ns())
        data = memoryview(b"".join(maker.chunks(range(written, target), lambda seq: ts)[0]))
        while data:
            data = data[os.write(fd, data):]
        n = len(data.obj)
        size += n
        nbytes += n
        written = target
        progress.append((time.monotonic(), written))
        if kubelet.renamed.is_set():
            if kubelet.error:
                sys.exit(f"rotation failed: {kubelet.error}")
            kubelet.renamed.clear()
            reopen = True             # after this batch, as containerd's reopen lags
        elif size >= rotate_bytes and not kubelet.busy:
            kubelet.request()
    t_end = time.monotonic()
    os.close(fd)
    while kubelet.busy and not kubelet.renamed.is_set():   # let a rotation finish
        time.sleep(0.01)
    kubelet.stop()
    result = {"lines": written, "bytes": nbytes, "t0": t0, "t_end": t_end,
              "rotations": kubelet.rotations, "compressed": kubelet.compressed,
              "deleted": kubelet.deleted, "progress": progress}
    tmp = cfg["result"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, cfg["result"])
    return 0
