# SPDX-License-Identifier: BSD-3-Clause
"""Helpers of the control-plane tests (test_ctl_*.py): a `brightline run`
daemon on net_pcap with its own file prefix, control socket and state dir
under a temporary directory, and blctl / raw-socket clients."""

import json
import os
import signal
import socket
import subprocess
import time

from blpkt import brightline, write_config, write_pcap

EAL = "eal: {no-huge: true, no-shconf: true, no-pci: true, m: 512}\n"


def blctl_exe():
    if os.environ.get("BLCTL"):
        return os.environ["BLCTL"]
    return os.path.join(os.path.dirname(os.path.dirname(brightline())), "control", "blctl")


class Daemon:
    """`brightline run` in the background; stop() ends it with SIGTERM."""

    def __init__(self, wd, prefix, frames=(), policy=None, cfg="", duration=120, ports=None,
                 args=()):
        """`ports`: the (inside, outside) device strings ("%(rx)s": the
        frames' pcap), else net_pcap on that pcap in and an empty one out;
        `args`: more of `brightline run`'s options."""
        self.wd, self.sock = wd, wd("ctl.sock")
        write_pcap(wd("in-rx.pcap"), list(frames))
        write_pcap(wd("out-rx.pcap"), [])
        write_config(wd("c.yaml"), EAL + cfg)
        cmd = [brightline(), "run", "--config", wd("c.yaml"), "--file-prefix", prefix,
               "--control-socket", self.sock, "--state-dir", wd("state"),
               "--duration", str(duration),
               "--inside", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (wd("in-rx.pcap"), wd("in-tx.pcap")),
               "--outside", "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (wd("out-rx.pcap"), wd("out-tx.pcap"))]
        if ports:
            cmd[-3], cmd[-1] = ports[0] % {"rx": wd("in-rx.pcap")}, ports[1]
        cmd += list(args)
        if policy:
            cmd += ["--policy", policy]
        self.log = open(wd("daemon-%d.log" % time.monotonic_ns()), "w+")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.p.poll() is None:
            if os.path.exists(self.sock) and self.blctl("status")[0] == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("daemon did not come up:\n" + self.text())

    def alive(self):
        return self.p.poll() is None

    def text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def blctl(self, *args, json_out=False, user=None, timeout=120):
        """Run blctl; returns (rc, stdout (parsed JSON with json_out), stderr)."""
        cmd = [blctl_exe(), "-s", self.sock] + (["-j"] if json_out else []) + list(args)
        if user:
            cmd = ["setpriv"] + user + ["--"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out = p.stdout
        if json_out and out.strip():
            out = json.loads(out.splitlines()[0])
        return p.returncode, out, p.stderr

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        return rc


def raw(sock_path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    for _ in range(100):  # a full backlog says EAGAIN: try again shortly
        try:
            s.connect(sock_path)
            return s
        except BlockingIOError:
            time.sleep(0.05)
    s.connect(sock_path)
    return s


def recv_line(s):
    """One reply line as JSON, or None when the daemon closed the connection."""
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buf += chunk
    return json.loads(buf)


def request(s, cmd, args=None, rid=1):
    s.sendall((json.dumps({"v": 1, "id": rid, "cmd": cmd, "args": args or {}}) + "\n").encode())
    return recv_line(s)
