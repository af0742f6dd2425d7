#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Half a quota, then `blctl list add`: nothing the box counts changes.

The box runs on net_af_packet veths between two namespaces
(benches/lib/update_load.py, scripts/netns.sh). Its policy gives the inside
host 10.99.0.7 a quota of 3000 bytes (50 frames of 60 bytes) in rule
`capped`, and drops traffic to a list `blocked` in an earlier rule. The
inside host sends 25 frames: half the quota. Then `blctl list add blocked`
adds a prefix (a new generation, the list rebuilt through the load path).

Before and after the list add, with no traffic in between:
- every counter of `blctl stats` is unchanged (ports, totals, workers with
  their flow, fragment, reply and meter counters, drop reasons, rules)
  except the policy generation, which is one more;
- the quota's usage in the meter state file (saved every second) is the
  same line, and the worker's meters show 25 quota passes.
Then the host sends 100 more frames: exactly 25 pass (the remaining half)
and 75 are dropped by the quota, so the remaining quota was neither reset
nor lost. Skips (77) without root, hugepages or ip/ethtool/taskset.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "benches"))
from blpkt import Check, brightline  # noqa: E402
from test_ctl_lib import blctl_exe  # noqa: E402
from lib import bench, update_load as ul  # noqa: E402

SUBSCRIBER = "10.99.0.7"
FRAME = ul.frame(SUBSCRIBER, "198.18.0.9", 40000, 9000, "q")   # 60 bytes
QUOTA = 3000
FIT = QUOTA // len(FRAME)

POLICY = """version: 1
lists:
  blocked:
    type: prefixes
    entries: [192.0.2.0/24]
rules:
  - name: blocked-out
    match: {dst: blocked}
    action: drop
  - name: capped
    match: {src: %s/32, proto: udp}
    action:
      quota: {bytes: %dB, period: {rolling: 24h}, then: drop}
default: allow
""" % (SUBSCRIBER, QUOTA)

# n frames from the inside host, spaced a little (the box's ring is not the subject)
SEND = ("import socket, sys, time\n"
        "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
        "s.bind(('eth0', 0))\n"
        "for i in range(int(sys.argv[2])):\n"
        "    s.send(bytes.fromhex(sys.argv[1]))\n"
        "    time.sleep(0.001)\n")


def skip(why):
    print("1..0 # SKIP " + why)
    sys.exit(77)


def send(box, n):
    subprocess.run(["ip", "netns", "exec", box.ns_in, "python3", "-c", SEND, FRAME.hex(), str(n)],
                   check=True, timeout=60)


def settled(box, rx):
    """Stats once the inside port has received rx frames and all is still."""
    deadline = time.monotonic() + 10
    st = box.stats()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        nxt = box.stats()
        if nxt["ports"]["inside"]["rx"] >= rx and nxt["totals"] == st["totals"]:
            return nxt
        st = nxt
    return st


def meter_line(box):
    """The quota's line of the meter state file (saved every second)."""
    path = os.path.join(box.net, "state", "meters.state")
    time.sleep(1.5)  # one more snapshot after the last change
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = [l.strip() for l in f if l.startswith("slot capped ")]
    return lines[0] if len(lines) == 1 else lines


def flat(o, path=""):
    """{dotted path: number} of a JSON tree."""
    out = {}
    if isinstance(o, dict):
        for k, v in o.items():
            out.update(flat(v, path + "." + k if path else k))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            out.update(flat(v, "%s[%d]" % (path, i)))
    else:
        out[path] = o
    return out


if os.geteuid() != 0:
    skip("needs root (namespaces, hugepages)")
for tool in ("ip", "ethtool", "taskset"):
    if not shutil.which(tool):
        skip("%s not found" % tool)
if bench.hugepages_free() < 128:
    skip("fewer than 128 free hugepages (run scripts/setup.sh)")

c = Check("ctl_quota")
wd = tempfile.mkdtemp(prefix="bl-ctl-quota.")
box = ul.Box(wd, "uq%d" % (os.getpid() % 100000), brightline(), blctl_exe())
rc, tail = None, ""
try:
    pol = os.path.join(wd, "quota.yaml")
    with open(pol, "w") as f:
        f.write(POLICY)
    box.net_up()
    box.start(pol, extra="meters: {snapshot_interval: 1}\n")
    sink, sink_out = box.sink_start("sink")

    send(box, FIT // 2)
    st0 = settled(box, FIT // 2)
    q0 = meter_line(box)
    c.eq("half the quota passed", st0["ports"]["outside"]["tx"], FIT // 2)
    c.eq("worker meters: quota passes", sum(w["meters"]["quota_pass"] for w in st0["workers"]),
         FIT // 2)
    c.true("the quota's usage is in the meter state (%r)" % (q0,), isinstance(q0, str))
    gen0 = box.generation()

    rc_l, r, out = box.ctl("list", "add", "blocked", "203.0.113.0/24")
    c.eq("blctl list add", rc_l, 0) or print(out)
    rc_l, r, out = box.ctl("list", "show", "blocked")
    c.true("the list has the new entry", "203.0.113.0/24" in out) or print(out)
    c.eq("a new generation", box.generation(), (gen0 or 0) + 1)

    st1 = settled(box, FIT // 2)
    q1 = meter_line(box)
    c.eq("remaining quota unchanged (meter state)", q1, q0)
    f0, f1 = flat(st0), flat(st1)
    print("# meter state: %s; %d counters compared" % (q1, len(f0)))
    gen_keys = {k for k in f0 if k.endswith("generation")}
    changed = {k: (f0.get(k), f1.get(k)) for k in set(f0) | set(f1)
               if f0.get(k) != f1.get(k) and k not in gen_keys}
    c.eq("every counter unchanged (all but the generation)", changed, {})
    c.true("counters compared: ports, drops, rules, meters",
           all(any(k.startswith(p) for k in f0) for p in
               ("ports.inside.rx", "drops.quota_drop", "rules.capped.packets",
                "workers[0].meters.quota_pass")))
    c.eq("the generation in the stats moved by one",
         {k: f1.get(k) - f0.get(k) for k in gen_keys if isinstance(f0.get(k), int)},
         {k: 1 for k in gen_keys if isinstance(f0.get(k), int)})

    # the other half, and no more
    send(box, 100)
    st2 = settled(box, FIT // 2 + 100)
    c.eq("after list add: the remaining half passes", st2["ports"]["outside"]["tx"] - st1["ports"]["outside"]["tx"],
         FIT - FIT // 2)
    c.eq("after list add: the rest is dropped by the quota",
         st2["drops"]["quota_drop"] - st1["drops"]["quota_drop"], 100 - (FIT - FIT // 2))
    c.eq("rule capped counted every packet",
         st2["rules"]["capped"]["packets"], FIT // 2 + 100)
    ul.finish(sink)
    got = ul.read_json(sink_out)
    c.eq("the outside host got the whole quota, no more", got["got"].get("q", 0), FIT)
finally:
    rc = box.stop()
    tail = box.log_tail() if box.proc else ""
    box.cleanup()
    if not os.environ.get("BL_KEEP"):
        shutil.rmtree(wd, ignore_errors=True)
c.eq("daemon exits cleanly", rc, 0) or print(tail)
c.done()
