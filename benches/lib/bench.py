# SPDX-License-Identifier: BSD-3-Clause
"""What every benchmark shares: the build, DPDK processes and their counters.

Speed is a ratio to a baseline measured in the same run, normalised by the
forwarding thread's on-CPU time, because absolute rates on a shared machine
move by a quarter from one minute to the next. A DPDK process is observed
from outside, the same way for the baseline and the subject:
  - counters through DPDK telemetry (/var/run/dpdk/PREFIX/dpdk_telemetry.v2,
    the socket dpdk-telemetry.py uses), read at the same instant as
  - the forwarding thread's on-CPU nanoseconds (/proc/PID/task/TID/schedstat,
    first field).
Every process runs under its own --file-prefix; its hugepage files and
runtime folder are removed afterwards.
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HUGE_DIR = "/dev/hugepages"
RUN_DIR = "/var/run/dpdk"
# EAL names its worker threads rte-worker-N in DPDK 22.11, lcore-worker-N
# in later releases.
WORKER_COMM = re.compile(r"^(?:lcore|rte)-worker-(\d+)$")


class BenchError(Exception):
    """A benchmark cannot go on; the message is one line for people."""


def log(msg):
    """One progress line on stderr (stdout ends with the RESULT line)."""
    print("bench: " + msg, file=sys.stderr, flush=True)


def build(builddir, targets=(), buildtype="release"):
    """Configure `builddir` with `buildtype` when new, then build `targets`
    (everything when empty)."""
    if not os.path.isfile(os.path.join(builddir, "build.ninja")):
        log("meson setup %s --buildtype=%s" % (builddir, buildtype))
        r = subprocess.run(["meson", "setup", builddir, SRC, "--buildtype=" + buildtype],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            sys.stderr.write(r.stdout[-4000:])
            raise BenchError("meson setup %s failed" % builddir)
    r = subprocess.run(["ninja", "-C", builddir] + list(targets), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.stderr.write(r.stdout[-4000:])
        raise BenchError("ninja -C %s failed" % builddir)


def pin_runner(cpu=0):
    """Keep the runner itself (and its telemetry reads) off the forwarding CPU."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        pass


def unpin():
    """In a child: every CPU again, so the EAL places its lcores as told."""
    os.sched_setaffinity(0, range(os.cpu_count()))


def hugepages_free():
    """Free 2 MiB hugepages."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
    return 0


def cleanup_prefix(prefix):
    """Remove the hugepage files and runtime folder a --file-prefix left."""
    for p in glob.glob(os.path.join(HUGE_DIR, glob.escape(prefix) + "map_*")):
        try:
            os.unlink(p)
        except OSError:
            pass
    shutil.rmtree(os.path.join(RUN_DIR, prefix), ignore_errors=True)


def find_worker_tid(pid, lcore, comm_re=WORKER_COMM):
    """TID of the EAL worker thread of `lcore` in process `pid`."""
    names = []
    for task in glob.glob("/proc/%d/task/*" % pid):
        try:
            with open(task + "/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        names.append(comm)
        m = comm_re.match(comm)
        if m and int(m.group(1)) == lcore:
            return int(os.path.basename(task))
    raise BenchError("pid %d has no worker thread for lcore %d (threads: %s)"
                     % (pid, lcore, ", ".join(sorted(names))))


def thread_cpus(pid, tid):
    """The CPU list a thread may run on (Cpus_allowed_list)."""
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    return "?"


def oncpu_ns(pid, tid):
    """Nanoseconds thread `tid` has spent on a CPU (schedstat, first field)."""
    with open("/proc/%d/task/%d/schedstat" % (pid, tid)) as f:
        return int(f.read().split()[0])


class Telemetry:
    """A client of a DPDK process's telemetry socket (v2, JSON replies)."""

    def __init__(self, prefix):
        self.path = os.path.join(RUN_DIR, prefix, "dpdk_telemetry.v2")
        self.sock = None
        self.max_len = 16384

    def connect(self):
        """Connect once; returns False while the socket is not there yet."""
        if self.sock:
            return True
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(self.path)
            hello = json.loads(s.recv(4096))
        except (OSError, ValueError):
            s.close()
            return False
        self.max_len = int(hello.get("max_output_len", self.max_len))
        self.sock = s
        return True

    def query(self, cmd):
        """The reply's value for `cmd` (e.g. "/ethdev/stats,1")."""
        self.sock.send(cmd.encode())
        reply = json.loads(self.sock.recv(self.max_len + 1024))
        return reply.get(cmd.split(",", 1)[0])

    def port_ids(self):
        """{port name: port id} of the process's ethdev ports."""
        ids = {}
        for pid in self.query("/ethdev/list") or []:
            info = self.query("/ethdev/info,%d" % pid) or {}
            ids[info.get("name", "")] = pid
        return ids

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None


class DpdkProc:
    """One DPDK process under test: started, observed, stopped, cleaned.

    `stop` is how it is asked to finish: bytes written to its stdin (testpmd's
    command line) or None for SIGINT (a daemon). Output goes to `logpath`.
    """

    def __init__(self, name, argv, prefix, logpath, stop=None, lcore=1,
                 comm_re=WORKER_COMM):
        self.name, self.argv, self.prefix = name, argv, prefix
        self.logpath, self.stop_input = logpath, stop
        self.lcore, self.comm_re = lcore, comm_re
        self.proc = self.tid = None
        self.tel = Telemetry(prefix)
        self.ports = {}

    def start(self):
        cleanup_prefix(self.prefix)
        self.logf = open(self.logpath, "w")
        self.logf.write("$ " + " ".join(self.argv) + "\n")
        self.logf.flush()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE if self.stop_input is not None else subprocess.DEVNULL,
            stdout=self.logf, stderr=subprocess.STDOUT, preexec_fn=unpin)

    def wait_forwarding(self, out_port, timeout=90.0):
        """Wait until `out_port` has transmitted; find the worker thread."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("%s exited with %d before forwarding (see %s)"
                                 % (self.name, self.proc.returncode, self.logpath))
            if self.tel.connect():
                if out_port not in self.ports:
                    self.ports = self.tel.port_ids()
                if out_port in self.ports:
                    st = self.tel.query("/ethdev/stats,%d" % self.ports[out_port]) or {}
                    if st.get("opackets", 0) > 0:
                        self.tid = find_worker_tid(self.proc.pid, self.lcore, self.comm_re)
                        return
            time.sleep(0.2)
        raise BenchError("%s did not forward on %s within %.0f s (see %s)"
                         % (self.name, out_port, timeout, self.logpath))

    def sample(self, in_port, out_port):
        """Counters and on-CPU time of the worker, read back to back."""
        cpu0 = oncpu_ns(self.proc.pid, self.tid)
        t = time.monotonic()
        so = self.tel.query("/ethdev/stats,%d" % self.ports[out_port])
        si = self.tel.query("/ethdev/stats,%d" % self.ports[in_port])
        cpu1 = oncpu_ns(self.proc.pid, self.tid)
        return {"t": t, "cpu_ns": (cpu0 + cpu1) / 2.0, "tx": so["opackets"],
                "out_rx": so["ipackets"], "in_rx": si["ipackets"],
                "in_missed": si.get("imissed", 0)}

    def cpu_ns(self):
        """On-CPU time of the worker now (read just before stopping)."""
        return oncpu_ns(self.proc.pid, self.tid)

    def stop(self, timeout=30.0):
        """Ask the process to finish; kill it if it does not. Returns rc."""
        self.tel.close()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                if self.stop_input is not None:
                    self.proc.stdin.write(self.stop_input)
                    self.proc.stdin.close()
                else:
                    self.proc.send_signal(signal.SIGINT)
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log("%s did not stop within %.0f s, killing it" % (self.name, timeout))
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        cleanup_prefix(self.prefix)
        return self.proc.returncode


def spread(values):
    """(median, min, max) of a non-empty list."""
    return statistics.median(values), min(values), max(values)


def fmt(v, digits=3):
    """A RESULT value: a number rounded to `digits` decimals, or na."""
    if v is None:
        return "na"
    return ("%." + str(digits) + "f") % v


def result_line(name, pairs):
    """RESULT NAME k=v ..., keys in the order given (headline first)."""
    return "RESULT %s %s" % (name, " ".join("%s=%s" % kv for kv in pairs))
