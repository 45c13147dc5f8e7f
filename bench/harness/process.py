"""Starting and measuring the processes a run is made of: sluice or a peer
adopted as a grandchild (for its own rusage), the helpers bench/run starts,
their CPU from /proc, and stopping the harness when a run fails."""
import atexit
import json
import os
import select
import signal
import subprocess
import sys
import time


class Run:
    """One finished process: exit code, wall and CPU seconds, peak RSS, its
    stderr and the output directory it wrote to."""

    def __init__(self, returncode, wall, cpu, maxrss_kb, stderr, outdir):
        self.returncode = returncode
        self.wall = wall
        self.cpu = cpu
        self.maxrss_mb = maxrss_kb / 1024.0
        self.stderr = stderr
        self.outdir = outdir


# Processes started and not yet reaped: killed if the harness stops early
# (Ctrl-C, a failed check), so no benchmark process outlives it.
LIVE = set()


# Helpers started with Popen (bench/receiver.py), likewise.
LIVE_POPEN = []


@atexit.register
def kill_leftovers():
    for proc in list(LIVE):
        try:
            os.kill(proc.pid, signal.SIGKILL)
            os.waitpid(proc.pid, 0)
        except OSError:
            pass
    for popen in LIVE_POPEN:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


class LineReader:
    """JSON lines from a pipe, with a timeout (select on the raw fd)."""

    def __init__(self, pipe):
        self.fd = pipe.fileno()
        self.buf = b""
        self.eof = False

    def next(self, timeout):
        """The next line parsed as JSON, or None after timeout seconds (or at
        end of file)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof = True
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


class Process:
    """A process started as a grandchild through /bin/sh and adopted by this
    script (a child subreaper), so it can be reaped with os.wait4 for its own
    rusage. Why not Popen: a process forked from Python inherits Python's
    peak RSS (the exec keeps the old memory's high-water mark), which would
    add the harness's memory to every measurement; forked from a small shell
    it starts from the shell's few hundred kB instead."""

    _subreaper = None

    def __init__(self, cmd, stdin, stderr, env, stdout_path="/dev/null"):
        if Process._subreaper is None:
            Process._subreaper = become_subreaper()
        self.returncode = None
        self.rusage = None
        self.popen = None
        if not Process._subreaper:
            # Fallback: the measured RSS includes this script's (noted once).
            # The Popen object is kept so that its finaliser can't reap the
            # process (and lose the rusage) before wait4 does.
            with open(stdout_path, "wb") as out:
                self.popen = subprocess.Popen(cmd, stdin=stdin, stdout=out, stderr=stderr,
                                              env=env)
            self.pid = self.popen.pid
            LIVE.add(self)
            return
        # The shell prints the job's pid on its stdout (a pipe) and exits; the
        # job is then reparented to us. A background job's stdin is /dev/null
        # unless redirected, so the real one is kept on fd 3 and handed over.
        script = 'out=$1; shift; exec 3<&0; "$@" <&3 3<&- >"$out" & echo $!'
        sh = subprocess.run(["/bin/sh", "-c", script, "sh", stdout_path, *cmd],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, env=env)
        if sh.returncode != 0 or not sh.stdout.strip():
            raise RuntimeError(f"could not start {cmd[0]}")
        self.pid = int(sh.stdout)
        LIVE.add(self)

    def poll(self):
        if self.returncode is None:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                self.rusage = rusage
                LIVE.discard(self)
                if self.popen is not None:
                    self.popen.returncode = self.returncode
        return self.returncode

    def send_signal(self, sig):
        if self.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout):
        """Reaps the process (killing it after timeout seconds, then raising
        TimeoutError) and returns its rusage: the process and the children it
        waited for, so a peer run through `sh -c` is measured whole."""
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                _, status, self.rusage = os.wait4(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
                LIVE.discard(self)
                raise TimeoutError(f"still running after {timeout:.0f}s, killed")
            time.sleep(0.005)
        return self.rusage


def become_subreaper():
    """prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are reparented to
    this process, which can then wait4 for them. False when unavailable."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        ok = libc.prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        ok = False
    if not ok:
        print("note: no child subreaper; peak RSS includes the harness's own",
              file=sys.stderr)
    return ok


def tree_cpu_seconds(pid):
    """utime + stime of a live process and its live descendants, from /proc
    (a peer run as `sh -c '...'` does its work in children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    total, pending = 0, [pid]
    while pending:
        p = pending.pop()
        total += stats.get(p, (0, 0))[1]
        pending.extend(c for c, (ppid, _) in stats.items() if ppid == p)
    return total / ticks


def check_exit(who, i, run):
    if run.returncode != 0:
        fail(who, i, run, f"exit status {run.returncode}")


def fail(who, i, run, problem):
    tail = "\n".join(run.stderr.splitlines()[-20:])
    sys.exit(f"{who} run {i + 1} failed: {problem}\n--- stderr (tail) ---\n{tail}")
