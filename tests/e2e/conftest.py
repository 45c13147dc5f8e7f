"""Shared pytest fixtures for end-to-end tests: they start the real sluice
binary (SLUICE_BIN, default build/sluice) with a config written to a temp
directory and talk to it over loopback. Run with Debian's /usr/bin/python3."""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The shared test peers (receivers, config builder, /metrics parser).
sys.path.insert(0, str(ROOT / "tests"))
from peers import prometheus  # noqa: E402


def sluice_path():
    return os.environ.get("SLUICE_BIN", str(ROOT / "build" / "sluice"))


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, headers, body bytes) of a GET, also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Sluice:
    """A running sluice process with its config file, stdout and stderr."""

    def __init__(self, tmp_path, config, args=(), stdin=subprocess.DEVNULL,
                 suffix=".yaml", env=None):
        self.dir = pathlib.Path(tmp_path)
        self.config_path = self.dir / ("sluice" + suffix)
        self.config_path.write_text(config)
        self.stdout_path = self.dir / "stdout.txt"
        self.stderr_path = self.dir / "stderr.txt"
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sluice_path(), "run", "-c", str(self.config_path), *args],
            stdin=stdin, stdout=open(self.stdout_path, "wb"),
            stderr=open(self.stderr_path, "wb"), env=full_env)

    def wait_healthy(self, port, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("sluice exited early: " + self.stderr())
            try:
                status, _, _ = http_get(f"http://127.0.0.1:{port}/health", 1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("sluice never became healthy: " + self.stderr())

    def terminate(self, timeout=60):
        """SIGTERM, then the exit code (the process must stop by itself)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def wait(self, timeout=60):
        return self.proc.wait(timeout=timeout)

    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def sluice_bin():
    path = sluice_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"sluice binary not found at {path} (set SLUICE_BIN)")
    return path


@pytest.fixture
def start_sluice(tmp_path, sluice_bin):
    """start_sluice(config, args=(), stdin=..., suffix=".yaml") -> Sluice;
    every process started is killed at teardown if still running."""
    started = []

    def start(config, args=(), stdin=subprocess.DEVNULL, suffix=".yaml", env=None):
        s = Sluice(tmp_path, config, args, stdin, suffix, env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def run_cli(*args, input=None, timeout=60, env=None):
    """Runs `sluice ARGS` to completion: CompletedProcess with text output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sluice_path(), *args], input=input, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def wait_for(predicate, timeout=20, what="condition"):
    """Polls predicate until true; fails the test naming `what` after
    timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def read_events(out):
    """The events of a JSON-lines file written by a running sink: up to the
    first line that does not parse (one still being written)."""
    out = pathlib.Path(out)
    if not out.exists():
        return []
    events = []
    for line in out.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            break
    return events


def messages(out):
    return [e["message"] for e in read_events(out)]


def complete_messages(out):
    """The messages of every whole JSON line, skipping lines torn when a
    sluice was killed with SIGKILL in the middle of a write."""
    out = pathlib.Path(out)
    found = []
    for line in out.read_text().splitlines() if out.exists() else []:
        try:
            found.append(json.loads(line)["message"])
        except ValueError:
            pass
    return found


def sanitized():
    """Whether the binary runs under AddressSanitizer (make asan sets
    ASAN_OPTIONS): its quarantine of freed memory makes RSS meaningless as a
    bound, so memory-bound checks are skipped then."""
    return "ASAN_OPTIONS" in os.environ


def scrape(port):
    """sluice's /metrics, parsed (peers.prometheus.Exposition)."""
    status, _, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, status
    return prometheus.parse(body)


def metric_value(port, name, **labels):
    """The sum of the series of `name` (sluice_ prefix added) on /metrics
    whose labels include `labels`; None when there is none."""
    return scrape(port).value(f"sluice_{name}", **labels)


def checkpoint_offsets(data_dir):
    """Every offset (or position) in the file source's checkpoint files
    under data_dir; a file being rewritten reads as what parses of it."""
    offsets = []
    for p in pathlib.Path(data_dir).rglob("*checkpoint*"):
        if p.is_file():
            offsets.extend(int(v) for v in re.findall(r'"(?:offset|position)"\s*:\s*(\d+)',
                                                      p.read_text(errors="replace")))
    return offsets


def run_with_input(start_sluice, cfg, data, timeout=60, env=None):
    """Runs sluice with `data` (bytes) on its stdin, which then closes, and
    waits for it to exit 0 (the stdin source ends the pipeline)."""
    s = start_sluice(cfg, stdin=subprocess.PIPE, env=env)
    s.proc.stdin.write(data)
    s.proc.stdin.close()
    assert s.wait(timeout) == 0, s.stderr()
    return s
