# SPDX-License-Identifier: BSD-3-Clause
"""Policy updates under load: the box on net_af_packet veths between two
network namespaces (scripts/netns.sh), a paced sender in the inside
namespace and a counting sink in the outside one (lib/rawtraffic.py, each
a process of its own), and `blctl policy load` alternating two policies of
100,000 list entries while traffic flows. Shared by
tests/integration/test_ctl_load.py (which asserts) and
`benches/run policy-update` (which reports).

The traffic: UDP/IPv4 from the inside host, `nflows` flows of class x to
198.18.0.0/24 and as many of class y to 198.19.0.0/24, round robin,
60-byte frames to a MAC nobody has (the outside host's kernel ignores them;
only the sink sees them). Every packet's verdict is known under both
policies:

  policy A  a-drop-big  dst in big-a (100,000 prefixes; none is ours) drop
            a-pass-y    dst 198.19.0.0/24 udp                        allow
            a-pass-x    dst 198.18.0.0/24 udp                        allow
            default drop
  policy B  b-drop-y    dst in big-b (99,999 prefixes + 198.19.0.0/24) drop
            b-pass-x    dst 198.18.0.0/24 udp                        allow
            default drop

so x passes under both and y passes under A and is dropped under B; a
packet judged by neither would show under `default` or another drop reason.
Rule counters are kept by rule name across generations, so after the run:
sent = received + policy drops + lost, a-pass-x + b-pass-x = sent x,
a-pass-y = received y, b-drop-y = policy drops.
"""
import ipaddress
import json
import os
import random
import signal
import struct
import subprocess
import time

from . import bench, gen_policy

NETNS_SH = os.path.join(bench.SRC, "scripts", "netns.sh")
RAWTRAFFIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rawtraffic.py")
MARK = b"BLUPDLD"
NET_X, NET_Y = ipaddress.ip_network("198.18.0.0/24"), ipaddress.ip_network("198.19.0.0/24")
RESERVED = (ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("10.0.0.0/8"))
DST_MAC = bytes.fromhex("02bbbbbbbb02")   # nobody's: the outside kernel drops it early
SRC_MAC = bytes.fromhex("02bbbbbbbb01")
RULES_A = ("a-drop-big", "a-pass-y", "a-pass-x")
RULES_B = ("b-drop-y", "b-pass-x")

POLICY_A = """# policy A of the update-under-load run: x and y pass
version: 1
lists:
  big-a:
    type: prefixes
    files: [big-a.txt]
rules:
  - name: a-drop-big
    match: {dst: big-a}
    action: drop
  - name: a-pass-y
    match: {dst: 198.19.0.0/24, proto: udp}
    action: allow
  - name: a-pass-x
    match: {dst: 198.18.0.0/24, proto: udp}
    action: %s
default: drop
"""

POLICY_B = """# policy B of the update-under-load run: x passes, y is dropped by the list
version: 1
lists:
  big-b:
    type: prefixes
    files: [big-b.txt]
rules:
  - name: b-drop-y
    match: {dst: big-b}
    action: drop
  - name: b-pass-x
    match: {dst: 198.18.0.0/24, proto: udp}
    action: allow
default: drop
"""


def csum(data):
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, cls):
    """A 60-byte Ethernet/IPv4/UDP frame carrying MARK and its class."""
    payload = MARK + cls.encode() + b"\0" * 10
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return DST_MAC + SRC_MAC + b"\x08\x00" + ip + udp


def flows(nflows):
    """[(class, frame hex)]: nflows of class x and y each, interleaved."""
    out = []
    for k in range(nflows):
        for cls, net in (("x", NET_X), ("y", NET_Y)):
            out.append((cls, frame("10.99.0.%d" % (1 + k % 200), str(net[1 + k % 250]),
                                   20000 + k, 9000 + k % 7, cls).hex()))
    return out


def big_list(path, n, seed, extra=()):
    """A list file of n prefixes (test data first, then random), none
    overlapping our traffic's networks, plus `extra` in place of the last."""
    rng = random.Random(seed)
    want = n - len(extra)
    got = []
    pf, _ = gen_policy.prefixes(rng, 4, want + want // 50 + 100)
    for net, ln in pf:
        p = ipaddress.ip_network((net, ln))
        if not any(p.overlaps(r) for r in RESERVED):
            got.append(str(p))
        if len(got) == want:
            break
    if len(got) < want:
        raise bench.BenchError("could not make %d prefixes for %s" % (want, path))
    with open(path, "w") as f:
        f.write("# %d prefixes (seed %d)\n" % (n, seed))
        f.write("\n".join(got + [str(e) for e in extra]) + "\n")


def write_policies(d, entries=100000):
    """Policies A and B (and their lists) in folder d; returns (a, b, bad,
    (line, col) of the error in bad). `bad` is A with one action misspelt."""
    os.makedirs(d, exist_ok=True)
    big_list(os.path.join(d, "big-a.txt"), entries, 1)
    big_list(os.path.join(d, "big-b.txt"), entries, 2, extra=[NET_Y])
    a, b, bad = (os.path.join(d, n) for n in ("policy-a.yaml", "policy-b.yaml", "bad.yaml"))
    with open(a, "w") as f:
        f.write(POLICY_A % "allow")
    with open(b, "w") as f:
        f.write(POLICY_B)
    text = POLICY_A % "alow"
    with open(bad, "w") as f:
        f.write(text)
    at = text.index("alow")
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    return a, b, bad, (line, col)


def sh(script, env, check=True):
    """Run bash with scripts/netns.sh sourced, then `script`."""
    r = subprocess.run(["bash", "-c", ". %s && %s" % (NETNS_SH, script)], env=env,
                       capture_output=True, text=True, timeout=120)
    if check and r.returncode:
        raise bench.BenchError("netns.sh: %s failed: %s" % (script, (r.stderr or r.stdout)[-500:]))
    return r


class Box:
    """brightline run on the root-namespace ends of netns.sh's veths (one
    worker on lcore 1, main lcore and control thread on CPU 0), with a
    sender and a sink in the namespaces. `tag` names everything (at most
    8 characters: interface names). The af_packet rings hold `framecnt`
    frames (16384: a quarter of a second at 60 kpps), so that the worker
    losing CPU 1 to another tenant of this shared machine for a while is
    not taken for a loss caused by an update."""

    def __init__(self, workdir, tag, brightline, blctl, framecnt=16384, telemetry=False):
        self.wd, self.tag = workdir, tag
        self.brightline, self.blctl_exe = brightline, blctl
        self.framecnt, self.telemetry = framecnt, telemetry
        self.net = os.path.join(workdir, "net")
        os.makedirs(self.net, exist_ok=True)
        self.env = dict(os.environ, BL_TAG=tag, BL_TMP=self.net, BL_KEEP_TMP="1",
                        BRIGHTLINE=brightline, BLCTL=blctl)
        self.ns_in, self.ns_out = "bl-%s-in" % tag, "bl-%s-out" % tag
        self.if_in, self.if_out = "bl-%s-i" % tag, "bl-%s-o" % tag
        self.prefix = "bl-" + tag
        self.sock = os.path.join(self.net, "control.sock")
        self.proc = None
        self.procs = []

    def net_up(self):
        """The namespaces and veths of netns.sh; hosts silent (no IPv6)."""
        sh("bl_net_up", self.env)
        for ns in (self.ns_in, self.ns_out):
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            "net.ipv6.conf.all.disable_ipv6=1"], check=True)

    def start(self, policy, extra=""):
        """The daemon with `policy` (and `extra` configuration lines);
        returns once blctl gets an answer."""
        cfg = os.path.join(self.wd, "brightline.yaml")
        with open(cfg, "w") as f:
            f.write("eal:\n  l: \"0,1\"\n  main-lcore: 0\n  no-pci: true\n%s"
                    "ports:\n  inside: \"net_af_packet0,iface=%s,framecnt=%d\"\n"
                    "  outside: \"net_af_packet1,iface=%s,framecnt=%d\"\n"
                    "workers: [1]\nmempool: 16383\nrx_desc: 1024\ntx_desc: 1024\n"
                    "state_dir: %s\ncontrol_socket: %s\npolicy: %s\n%s"
                    % ("" if self.telemetry else "  no-telemetry: true\n",
                       self.if_in, self.framecnt, self.if_out, self.framecnt,
                       os.path.join(self.net, "state"), self.sock, policy, extra))
        self.logpath = os.path.join(self.wd, "daemon.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen([self.brightline, "run", "--config", cfg, "--file-prefix",
                                      self.prefix, "--stats-json",
                                      os.path.join(self.wd, "stats.json")],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=bench.unpin)
        with open("/run/brightline-%s.pid" % self.tag, "w") as f:
            f.write("%d\n" % self.proc.pid)  # netns.sh's stale clean-up finds it
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise bench.BenchError("the daemon exited with %d: %s"
                                       % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.sock) and self.ctl("status")[0] == 0:
                return
            time.sleep(0.2)
        raise bench.BenchError("the daemon did not answer blctl: " + self.log_tail())

    def log_tail(self, n=3000):
        self.log.flush()
        with open(self.logpath) as f:
            return f.read()[-n:]

    def ctl(self, *args, timeout=120):
        """blctl -j ARGS: (exit code, reply JSON or None, stdout+stderr)."""
        p = subprocess.run([self.blctl_exe, "-s", self.sock, "-j"] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        reply = None
        if p.stdout.strip():
            try:
                reply = json.loads(p.stdout.splitlines()[0])
            except ValueError:
                pass
        return p.returncode, reply, p.stdout + p.stderr

    def stats(self):
        rc, r, out = self.ctl("stats")
        if rc or not r or not r.get("ok"):
            raise bench.BenchError("blctl stats failed (%d): %s" % (rc, out[-300:]))
        return r["result"]

    def generation(self):
        rc, r, out = self.ctl("status")
        return r["result"].get("generation") if rc == 0 and r else None

    def worker_wait_ms(self):
        """Milliseconds the worker thread has waited, runnable, for its CPU
        (schedstat, second field): time another thread had CPU 1."""
        tid = bench.find_worker_tid(self.proc.pid, 1)
        with open("/proc/%d/task/%d/schedstat" % (self.proc.pid, tid)) as f:
            return int(f.read().split()[1]) / 1e6

    def spawn(self, ns, args, name):
        """A process of ours in namespace ns, pinned to CPU 0 (the worker has CPU 1)."""
        log = open(os.path.join(self.wd, name + ".log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", "0", "python3",
                              RAWTRAFFIC] + args, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def sink_start(self, name):
        out = os.path.join(self.wd, name + ".json")
        p = self.spawn(self.ns_out, ["sink", "eth0", out], name)
        deadline = time.monotonic() + 10
        while not os.path.exists(out + ".ready") and time.monotonic() < deadline:
            time.sleep(0.05)
        return p, out

    def sender_start(self, name, nflows, pps, seconds, burst=32):
        spec = os.path.join(self.wd, name + "-spec.json")
        with open(spec, "w") as f:
            json.dump({"flows": flows(nflows), "pps": pps, "seconds": seconds,
                       "burst": burst}, f)
        out = os.path.join(self.wd, name + ".json")
        return self.spawn(self.ns_in, ["send", "eth0", spec, out], name), out

    def stop(self):
        """SIGTERM to the daemon (it prints and saves its counters). rc."""
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        elif self.proc:
            rc = self.proc.returncode
        return rc

    def cleanup(self):
        for p in self.procs:
            finish(p)
        self.stop()
        sh("bl_cleanup", self.env, check=False)
        try:
            os.unlink("/run/brightline-%s.pid" % self.tag)
        except OSError:
            pass


def finish(p, timeout=15):
    """SIGTERM one process of ours and wait for it."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def read_json(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    with open(path) as f:
        return json.load(f)


def counters(st):
    """What the accounting needs from a stats reply."""
    ports = st["ports"]
    rules = {k: v["packets"] for k, v in st["rules"].items()}
    return {"in_rx": ports["inside"]["rx"], "out_tx": ports["outside"]["tx"],
            "imissed": ports["inside"].get("imissed", 0),
            "rx_nombuf": ports["inside"].get("rx_nombuf", 0),
            "ierrors": ports["inside"].get("ierrors", 0),
            "oerrors": ports["outside"].get("dropped", ports["outside"].get("oerrors", 0)),
            "drops": dict(st["drops"]), "rules": rules}


def delta(a, b):
    """b - a of two counters() dicts."""
    out = {}
    for k, v in b.items():
        if isinstance(v, dict):
            out[k] = {n: v[n] - a[k].get(n, 0) for n in v}
        else:
            out[k] = v - a[k]
    return out


def settle(box, sent_total, base, timeout=10):
    """Wait until the box has received what was sent (or its counters stop
    moving) and its output is still; returns the last counters."""
    deadline = time.monotonic() + timeout
    last, still = None, 0
    while time.monotonic() < deadline:
        c = counters(box.stats())
        if last and (c["in_rx"], c["out_tx"]) == (last["in_rx"], last["out_tx"]):
            still += 1
            if still >= 3 or (c["in_rx"] - base["in_rx"] >= sent_total and still >= 2):
                return c
        else:
            still = 0
        last = c
        time.sleep(0.2)
    return last


def measure_rate(box, seconds=3.0, nflows=64):
    """The box's forwarding rate under policy A with the sender flat out:
    (box pps = outside TX over the sender's time, sender pps)."""
    sink, sink_out = box.sink_start("sink-rate")
    c0 = counters(box.stats())
    snd, snd_out = box.sender_start("send-rate", nflows, 0, seconds, burst=64)
    snd.wait(seconds + 30)
    s = read_json(snd_out)
    sent = sum(s["sent"].values())
    c1 = settle(box, sent, c0)
    finish(sink)
    d = delta(c0, c1)
    return d["out_tx"] / s["seconds"], sent / s["seconds"], d


def load(box, path):
    """One `blctl policy load`: (exit code, result dict, output, wall ms)."""
    t0 = time.monotonic()
    rc, r, out = box.ctl("policy", "load", path)
    ms = (time.monotonic() - t0) * 1e3
    return rc, (r or {}).get("result") or {}, out, ms


def judged_by(box, rules, wait=0.5):
    """Rule counters of `rules` move while traffic flows: {rule: increase}."""
    r0 = counters(box.stats())["rules"]
    time.sleep(wait)
    r1 = counters(box.stats())["rules"]
    return {n: r1.get(n, 0) - r0.get(n, 0) for n in rules}


def updates_under_load(box, pol_a, pol_b, bad, updates, pps, nflows=64, bad_at=None,
                       log=bench.log):
    """Traffic at `pps` while blctl loads B, A, B, ... `updates` times (A is
    running when called); the bad policy is pushed after update `bad_at`.
    Returns a dict: sent/got per class, counter deltas, load replies, the
    bad policy's outcome."""
    res = {"loads": [], "bad": None}
    sink, sink_out = box.sink_start("sink-load")
    c0 = counters(box.stats())
    wait0 = box.worker_wait_ms()
    snd, snd_out = box.sender_start("send-load", nflows, pps, 3600)
    time.sleep(0.5)
    t0 = time.monotonic()
    for k in range(updates):
        path = pol_b if k % 2 == 0 else pol_a
        rc, r, out, ms = load(box, path)
        if rc:
            res["loads"].append({"rc": rc, "out": out[-400:]})
            log("load %d of %s failed: %s" % (k + 1, os.path.basename(path), out[-300:]))
            break
        r["wall_ms"] = ms
        res["loads"].append(r)
        if bad_at is not None and k + 1 == bad_at:
            gen = box.generation()
            running = RULES_B if path == pol_b else RULES_A
            rc, r, out, ms = load(box, bad)
            res["bad"] = {"rc": rc, "out": out, "gen_before": gen, "gen_after": box.generation(),
                          "running": running,
                          "judged": judged_by(box, RULES_A[1:] + RULES_B)}
    res["seconds"] = time.monotonic() - t0
    res["worker_wait_ms"] = box.worker_wait_ms() - wait0
    time.sleep(0.5)
    finish(snd)
    s = read_json(snd_out)
    res["sent"] = s["sent"]
    res["send_seconds"], res["late_ms"], res["send_errors"] = s["seconds"], s["late_ms"], s["errors"]
    sent = sum(s["sent"].values())
    c1 = settle(box, sent, c0)
    time.sleep(0.3)
    finish(sink)
    k = read_json(sink_out)
    res["got"], res["sink_other"], res["sink_drops"] = k["got"], k["other"], k["kernel_drops"]
    res["d"] = delta(c0, c1)
    got = sum(k["got"].values())
    res["lost"] = sent - got - res["d"]["drops"].get("policy_drop", 0)
    return res
