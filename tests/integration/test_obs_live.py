#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Observability of the running box, from outside its process.

`brightline run` with hugepage-backed memory and its own file prefix bridges
two veth pairs (net_af_packet, which a secondary process can attach to)
between namespaces this test creates: host A (inside) sends UDP to host B
(outside). Then:
- `dpdk-telemetry.py -f PREFIX` reads /brightline/stats, ports, workers,
  drops, rules and policy, and the numbers are exactly the traffic sent;
- `dpdk-dumpcap -c 10` captures exactly 10 packets of the inside port while
  traffic flows, and they are the packets sent;
- `blctl stats --prometheus` (when BLCTL is set) shows the same numbers;
- the EVE log gets one record per flow decision (3 dropped flows, 1 logged
  flow), none for allowed flows, written by the writer thread while the
  box runs; SIGHUP reopens it: the file moved away keeps its lines and new
  decisions go to a new file at the configured path.
Everything it creates (namespaces, veths, hugepage files and the run
directory of its prefix) is removed at the end. Skips (exit 77) without
root, hugepages or the DPDK tools."""
import json
import re
import shutil
import signal
import subprocess
import time
from blpkt import *

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "benches"))
from lib import bench  # noqa: E402

TAG = "bo%d" % (os.getpid() % 100000)
NS_BOX, NS_A, NS_B = TAG + "-box", TAG + "-a", TAG + "-b"
IF_I0, IF_I1, IF_O0, IF_O1 = TAG + "i0", TAG + "i1", TAG + "o0", TAG + "o1"
IP_A, IP_B = "10.97.0.1", "10.97.0.2"
PREFIX = "bl-it-obs-" + TAG

POLICY = """version: 1
rules:
  - name: udp9-drop
    match: {proto: udp, dport: 9}
    action: drop
  - name: echo-log
    match: {proto: udp, dport: 7}
    action: log
default: allow
"""

SENDER = r"""
import json, socket, sys, time
for sport, dport, n, gap in json.loads(sys.argv[1]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("%s", sport))
    for i in range(n):
        s.sendto(b"x" * 32, ("%s", dport))
        time.sleep(gap)
    s.close()
""" % (IP_A, IP_B)

# Host B counts what reaches it until "END", writes the counts to argv[1],
# and stays bound (no ICMP port unreachable back through the box) until killed.
RECEIVER = r"""
import os, select, socket, sys, time
socks = {}
for port in (7, 5000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("%s", port))
    socks[s] = port
got = {7: 0, 5000: 0}
end = time.time() + 120
done = False
while time.time() < end:
    r, _, _ = select.select(list(socks), [], [], 0.5)
    for s in r:
        data = s.recv(2048)
        if data == b"END" and not done:
            done = True
            with open(sys.argv[1] + ".tmp", "w") as f:
                f.write("%%d %%d" %% (got[7], got[5000]))
            os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        elif not done:
            got[socks[s]] += 1
""" % IP_B


def skip(why):
    print("1..0 # SKIP " + why)
    sys.exit(77)


def run(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def wait_for(what, fn, timeout=10.0, period=0.1):
    """Poll fn() until it returns something true; returns its last value."""
    end = time.time() + timeout
    v = fn()
    while not v and time.time() < end:
        time.sleep(period)
        v = fn()
    return v


def telemetry(cmds):
    """Replies of dpdk-telemetry.py (commands on stdin), in order."""
    p = subprocess.run(["dpdk-telemetry.py", "-f", PREFIX], input="\n".join(cmds) + "\n",
                       capture_output=True, text=True, timeout=20)
    out = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return [list(o.values())[0] if len(o) == 1 else o for o in out]


def send(flows):
    run("ip", "netns", "exec", NS_A, "python3", "-c", SENDER, json.dumps(flows))


def mac_of(ns, ifname):
    return json.loads(run("ip", "-n", ns, "-j", "link", "show", ifname).stdout)[0]["address"]


def eve_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def setup_net():
    for ns in (NS_BOX, NS_A, NS_B):
        run("ip", "netns", "add", ns)
    run("ip", "link", "add", IF_I0, "type", "veth", "peer", "name", IF_I1)
    run("ip", "link", "add", IF_O0, "type", "veth", "peer", "name", IF_O1)
    for ifname, ns in ((IF_I0, NS_BOX), (IF_O0, NS_BOX), (IF_I1, NS_A), (IF_O1, NS_B)):
        run("ip", "link", "set", ifname, "netns", ns)
        # no IPv6 chatter (router/neighbour solicitations): the counts are exact
        run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % ifname)
        # checksums filled in by the sender: af_packet forwards frames as it
        # reads them, and a veth leaves offloaded checksums unfinished
        run("ip", "netns", "exec", ns, "ethtool", "-K", ifname, "tx", "off", "tso", "off",
            "gso", "off", "gro", "off")
        run("ip", "-n", ns, "link", "set", ifname, "up")
    run("ip", "-n", NS_A, "addr", "add", IP_A + "/24", "dev", IF_I1)
    run("ip", "-n", NS_B, "addr", "add", IP_B + "/24", "dev", IF_O1)
    # static neighbours: no ARP through the box either
    run("ip", "-n", NS_A, "neigh", "replace", IP_B, "lladdr", mac_of(NS_B, IF_O1),
        "dev", IF_I1, "nud", "permanent")
    run("ip", "-n", NS_B, "neigh", "replace", IP_A, "lladdr", mac_of(NS_A, IF_I1),
        "dev", IF_O1, "nud", "permanent")


def kill(p):
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cleanup(procs):
    for p in procs:
        kill(p)
    for ns in (NS_BOX, NS_A, NS_B):
        run("ip", "netns", "del", ns, check=False)  # takes its veth ends along
    bench.cleanup_prefix(PREFIX)


if os.geteuid() != 0:
    skip("needs root (namespaces, hugepages)")
for tool in ("ip", "ethtool", "dpdk-telemetry.py", "dpdk-dumpcap"):
    if not shutil.which(tool):
        skip("%s not found (apt-get install dpdk iproute2)" % tool)
if bench.hugepages_free() < 128:
    skip("fewer than 128 free hugepages (run scripts/setup.sh)")

c = Check("obs_live")
procs = []
daemon = None
try:
    with Workdir("obs-live") as wd:
        setup_net()
        eve = wd("eve.json")
        pol = wd("policy.yaml")
        write_config(pol, POLICY)
        cfg = wd("brightline.yaml")
        write_config(cfg, """eal:
  no-pci: true
ports:
  inside: "net_af_packet0,iface=%s"
  outside: "net_af_packet1,iface=%s"
workers: 1
mempool: 4095
rx_desc: 512
tx_desc: 512
state_dir: %s
control_socket: %s
policy: %s
event_log: {path: %s, rate: 1000, burst: 1000}
""" % (IF_I0, IF_O0, wd("state"), wd("control.sock"), pol, eve))
        os.mkdir(wd("state"))
        log = open(wd("daemon.log"), "w")
        daemon = subprocess.Popen(["ip", "netns", "exec", NS_BOX, brightline(), "run",
                                   "--config", cfg, "--file-prefix", PREFIX,
                                   "--stats-json", wd("stats.json")],
                                  stdout=log, stderr=subprocess.STDOUT)
        procs.append(daemon)

        def daemon_log():
            with open(wd("daemon.log")) as f:
                return f.read()

        if not c.true("daemon runs", wait_for("running", lambda: "brightline: running" in daemon_log(), 30)):
            print(daemon_log())
            c.done()
        receiver = subprocess.Popen(["ip", "netns", "exec", NS_B, "python3", "-c", RECEIVER,
                                     wd("received")])
        procs.append(receiver)
        time.sleep(0.5)

        # ---- traffic: 1 logged flow (10), 3 dropped flows (5 each), 1 allowed (5 + END)
        send([[20001, 7, 10, 0.001], [20002, 9, 5, 0.001], [20003, 9, 5, 0.001],
              [20004, 9, 5, 0.001], [20005, 5000, 5, 0.001]])
        run("ip", "netns", "exec", NS_A, "python3", "-c",
            "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.bind(('%s', 20006)); s.sendto(b'END', ('%s', 5000))" % (IP_A, IP_B))
        wait_for("host B", lambda: os.path.exists(wd("received")), 10)
        with open(wd("received")) if os.path.exists(wd("received")) else open("/dev/null") as f:
            c.eq("host B received the allowed and logged packets", f.read().split(), ["10", "5"])

        # ---- telemetry
        st = wait_for("counters", lambda: (lambda s: s if s and s[0]["rx"] == 31 and
                                           s[0]["events_written"] == 4 else None)(
            telemetry(["/brightline/stats"])), 10, 0.3)
        r = telemetry(["/brightline/stats", "/brightline/ports,inside", "/brightline/ports",
                       "/brightline/workers,0", "/brightline/drops", "/brightline/rules",
                       "/brightline/rules,udp9-drop", "/brightline/policy"])
        if c.eq("telemetry answered every command", len(r), 8):
            stats, inside, ports, w0, drops, rules, udp9, policy = r
            c.eq("stats", {k: stats.get(k) for k in ("rx", "tx", "dropped", "held", "balanced",
                                                       "flows", "policy_generation",
                                                       "events_written", "events_suppressed",
                                                       "events_lost")},
                 {"rx": 31, "tx": 16, "dropped": 15, "held": 0, "balanced": 1, "flows": 6,
                  "policy_generation": 1, "events_written": 4, "events_suppressed": 0,
                  "events_lost": 0})
            c.eq("inside port", (inside.get("name"), inside.get("rx"), inside.get("tx")),
                 ("net_af_packet0", 31, 0))
            c.eq("outside port", (ports.get("outside", {}).get("rx"), ports.get("outside", {}).get("tx")),
                 (0, 16))
            c.eq("worker 0", (w0.get("rx"), w0.get("tx"), w0.get("dropped")), (31, 16, 15))
            c.eq("drops", (drops.get("policy_drop"), sum(drops.values())), (15, 15))
            c.eq("rule names", rules.get("names"), ["default", "udp9-drop", "echo-log"])
            if rules.get("names"):
                c.eq("rule packets", dict(zip(rules["names"], rules["packets"]))["udp9-drop"], 15)
            c.eq("one rule", udp9, {"packets": 15, "bytes": 15 * 74, "settled": 1})
            c.eq("rules settled", rules.get("settled"), 1)
            c.eq("policy generation", policy.get("generation"), 1)
            c.true("policy sha256", re.match(r"^[0-9a-f]{64}$", policy.get("sha256", "")))
        else:
            print(r)

        # ---- the same counters as Prometheus text through the control socket
        blctl = os.environ.get("BLCTL")
        if blctl and wait_for("socket", lambda: os.path.exists(wd("control.sock")), 10):
            p = subprocess.run([blctl, "-s", wd("control.sock"), "stats", "--prometheus"],
                               capture_output=True, text=True, timeout=30)
            lines = set(p.stdout.splitlines())
            c.eq("blctl stats --prometheus exit code", p.returncode, 0) or print(p.stderr)
            for want in ('brightline_rx_packets_total{port="inside"} 31',
                         'brightline_drops_total{reason="policy_drop"} 15',
                         'brightline_rule_packets_total{rule="udp9-drop"} 15',
                         "brightline_events_written_total 4",
                         "brightline_policy_generation 1",
                         "# TYPE brightline_rx_packets_total counter"):
                c.true("prometheus: " + want, want in lines)
        else:
            c.true("control socket for blctl", not blctl)

        # ---- EVE, live: one record per flow decision
        ev = wait_for("eve", lambda: (lambda e: e if len(e) >= 4 else None)(eve_lines(eve)), 5)
        ev = eve_lines(eve)
        c.eq("EVE records", sorted((e["event_type"], e["brightline"]["rule"], e["src_port"],
                                    e["dest_port"]) for e in ev),
             [("alert", "echo-log", 20001, 7), ("drop", "udp9-drop", 20002, 9),
              ("drop", "udp9-drop", 20003, 9), ("drop", "udp9-drop", 20004, 9)])
        c.true("EVE src/dest", all(e["src_ip"] == IP_A and e["dest_ip"] == IP_B and
                                   e["proto"] == "UDP" for e in ev))

        # ---- dpdk-dumpcap on the inside port while traffic flows
        cap = wd("cap.pcap")
        dlog = open(wd("dumpcap.log"), "w")
        dump = subprocess.Popen(["ip", "netns", "exec", NS_BOX, "dpdk-dumpcap",
                                 "--file-prefix=" + PREFIX, "-i", "net_af_packet0", "-p",
                                 "-c", "10", "-P", "-w", cap],
                                stdout=dlog, stderr=subprocess.STDOUT)
        procs.append(dump)

        def dump_log():
            with open(wd("dumpcap.log")) as f:
                return f.read()

        # its first count goes to stderr once the capture callbacks are on
        c.true("dumpcap attached", wait_for("attach", lambda: "Packets captured:" in dump_log(), 20)) \
            or print(dump_log())
        # paced, one packet per dumpcap poll: the capture stops at exactly 10
        for _ in range(10):
            if dump.poll() is not None:
                break
            send([[20010, 5000, 10, 0.02]])
        try:
            rc = dump.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        c.eq("dumpcap exit code", rc, 0) or print(dump_log())
        pkts = read_pcap(cap) if os.path.exists(cap) else []
        c.eq("captured packets", len(pkts), 10)
        # Ethernet / IPv4 / UDP from A:20010 to B:5000
        c.true("captured what was sent", all(
            p[12:14] == b"\x08\x00" and p[26:30] == bytes(map(int, IP_A.split("."))) and
            p[34:38] == struct.pack("!HH", 20010, 5000) for p in pkts)) \
            or print([p[:40].hex() for p in pkts[:2]])

        # ---- SIGHUP: logrotate moves the file away, the daemon reopens it
        os.rename(eve, eve + ".1")
        daemon.send_signal(signal.SIGHUP)
        c.true("SIGHUP: a new file at the path", wait_for("reopen", lambda: os.path.exists(eve), 5))
        send([[20020, 9, 3, 0.001], [20021, 9, 3, 0.001]])
        wait_for("new events", lambda: len(eve_lines(eve)) >= 2, 5)
        c.eq("SIGHUP: new decisions in the new file",
             sorted(e["src_port"] for e in eve_lines(eve)), [20020, 20021])
        c.eq("SIGHUP: the moved file keeps its records", len(eve_lines(eve + ".1")), 4)
        c.true("SIGHUP: the daemon still runs", daemon.poll() is None)

        # ---- stop: exact accounting, events in the stats file
        daemon.send_signal(signal.SIGTERM)
        try:
            rc = daemon.wait(30)
        except subprocess.TimeoutExpired:
            rc = None
        c.eq("daemon exit code (accounting balanced)", rc, 0) or print(daemon_log())
        if os.path.exists(wd("stats.json")):
            with open(wd("stats.json")) as f:
                s = json.load(f)
            c.eq("stats file events", s.get("events"),
                 {"written": 6, "suppressed": 0, "lost": 0, "write_errors": 0})
finally:
    cleanup(procs)
c.done()
