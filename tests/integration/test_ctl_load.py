#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Policy updates under load lose no packet and misjudge none.

The box runs on net_af_packet veths between two namespaces
(scripts/netns.sh, hugepage memory, worker on CPU 1). A separate process in
the inside namespace sends UDP at a fixed rate (benches/lib/rawtraffic.py),
a separate process in the outside namespace counts what comes out. First the
box's rate without updates is measured (sender flat out for 3 s); then the
sender offers HALF that rate while `blctl policy load` alternates policy B
and policy A, each with a list of 100,000 prefixes, 100 times
(benches/lib/update_load.py has the policies: x traffic passes under both,
y passes under A and is dropped by B's list). Halfway a policy with a
misspelt action is pushed: it is refused with file:line:column, the
generation stays, and traffic goes on judged by the running policy.

Then, over the whole run:
- every packet was judged by A or B: a-pass-x + b-pass-x = x sent,
  a-pass-y + b-drop-y = y sent, `default` and the other rules saw nothing;
- sent = received + dropped by policy; lost (RX-ring overflow before the box,
  imissed, mbuf shortage, any other drop, anything after the box) is zero.

100 alternations take about 100 x 0.5 s here; if a load takes so long that
100 would not fit in 170 s (a slow or loaded machine), the test does as many
as fit (at least 10) and says so. Skips (77) without root, hugepages or
ip/ethtool/taskset.
"""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "benches"))
from blpkt import Check, brightline  # noqa: E402
from test_ctl_lib import blctl_exe  # noqa: E402
from lib import bench, update_load as ul  # noqa: E402

UPDATES = 100
BUDGET_S = 170.0


def skip(why):
    print("1..0 # SKIP " + why)
    sys.exit(77)


if os.geteuid() != 0:
    skip("needs root (namespaces, hugepages)")
for tool in ("ip", "ethtool", "taskset"):
    if not shutil.which(tool):
        skip("%s not found" % tool)
if bench.hugepages_free() < 512:
    skip("fewer than 512 free hugepages (run scripts/setup.sh)")

bench.pin_runner(0)
c = Check("ctl_load")
wd = tempfile.mkdtemp(prefix="bl-ctl-load.")
box = ul.Box(wd, "ul%d" % (os.getpid() % 100000), brightline(), blctl_exe())
rc, tail = None, ""
starved = False


class Starved(Exception):
    """The worker lost its CPU longer than the ring buffers: skip."""


try:
    pol_a, pol_b, bad, (line, col) = ul.write_policies(os.path.join(wd, "pol"))
    box.net_up()
    box.start(pol_a)

    rate, send_rate, d = ul.measure_rate(box)
    print("# box rate without updates: %.0f pps (sender flat out: %.0f pps)" % (rate, send_rate))
    c.true("the box forwards without updates", rate > 1000)

    # how long one load takes here decides how many fit
    walls = []
    for path in (pol_b, pol_a):
        rc_l, r, out, ms = ul.load(box, path)
        c.eq("a 100,000-entry policy loads", rc_l, 0) or print(out)
        walls.append(ms)
    per = max(walls) / 1e3
    updates = UPDATES
    if per * UPDATES > BUDGET_S:
        updates = max(10, int(BUDGET_S / per) // 2 * 2)
        print("# one load takes %.2f s here: %d alternations instead of %d to stay within "
              "%.0f s" % (per, updates, UPDATES, BUDGET_S))
    pps = rate / 2
    print("# %d loads at %.0f pps offered" % (updates, pps))

    res = ul.updates_under_load(box, pol_a, pol_b, bad, updates, pps, bad_at=updates // 2 + 1)
    loads_ok = [l for l in res["loads"] if "rc" not in l]
    c.eq("every load accepted", len(loads_ok), updates) or print(res["loads"][-1])
    sent_x, sent_y = res["sent"].get("x", 0), res["sent"].get("y", 0)
    got_x, got_y = res["got"].get("x", 0), res["got"].get("y", 0)
    d = res["d"]
    rules, drops = d["rules"], d["drops"]
    print("# sent x %d y %d in %.1f s (%.0f pps); received x %d y %d; policy drops %d; "
          "loads took %.1f s" % (sent_x, sent_y, res["send_seconds"],
                                 (sent_x + sent_y) / res["send_seconds"], got_x, got_y,
                                 drops.get("policy_drop", 0), res["seconds"]))
    print("# rules: %s; the worker waited %.0f ms for its CPU meanwhile"
          % ({k: v for k, v in rules.items() if v}, res["worker_wait_ms"]))
    if loads_ok:
        print("# per load: build %.0f-%.0f ms, publish (store) max %.2f us, grace max %.0f us, "
              "free max %.0f us" % (min(l["build_ms"] for l in loads_ok),
                                    max(l["build_ms"] for l in loads_ok),
                                    max(l["publish_us"] for l in loads_ok),
                                    max(l.get("grace_us", 0) for l in loads_ok),
                                    max(l.get("free_us", 0) for l in loads_ok)))

    # A shared machine may take CPU 1 from the worker for longer than the
    # af_packet ring can buffer the offered traffic: then packets are lost
    # before they reach the box, which says nothing about the box. Only in
    # that case, and only when every other loss counter is zero, the run
    # reports itself skipped (exit 77) instead of judging the box.
    ring_lost = (sent_x + sent_y) - d["in_rx"]
    other_lost = (d["imissed"] + d["rx_nombuf"] + d["ierrors"] + d["oerrors"] +
                  d["out_tx"] - got_x - got_y)
    off_cpu_ms = max((l.get("grace_us", 0) for l in loads_ok), default=0) / 1e3
    ring_ms = 1e3 * box.framecnt / pps
    if ring_lost > 0 and other_lost == 0 and off_cpu_ms > ring_ms:
        print("# SKIP: the worker was kept off CPU 1 for %.0f ms at a stretch (%.0f ms in all) "
              "by other processes; the ring holds %.0f ms of the offered traffic, so %d packets "
              "were lost before the box" % (off_cpu_ms, res["worker_wait_ms"], ring_ms, ring_lost))
        starved = True
        raise Starved()

    # the bad policy in the middle
    b = res["bad"]
    if c.true("a bad policy was pushed", b is not None):
        c.eq("bad policy: refused (exit 1)", b["rc"], 1)
        c.true("bad policy: the reply names bad.yaml:%d:%d" % (line, col),
               "bad.yaml:%d:%d:" % (line, col) in b["out"]) or print(b["out"])
        c.eq("bad policy: the generation stays", b["gen_after"], b["gen_before"])
        moved = {n for n, v in b["judged"].items() if v > 0}
        running = set(b["running"]) - {"a-drop-big"}
        c.true("bad policy: traffic goes on under the running policy %s (moved: %s)"
               % (sorted(running), sorted(moved)), moved and moved <= running)

    # every packet judged by one of the two
    c.eq("x: judged by a-pass-x or b-pass-x", rules.get("a-pass-x", 0) + rules.get("b-pass-x", 0),
         sent_x)
    c.eq("y: judged by a-pass-y or b-drop-y", rules.get("a-pass-y", 0) + rules.get("b-drop-y", 0),
         sent_y)
    c.eq("nothing fell to the default or to a-drop-big",
         (rules.get("default", 0), rules.get("a-drop-big", 0)), (0, 0))
    c.true("both policies judged traffic",
           min(rules.get(n, 0) for n in ("a-pass-x", "b-pass-x", "a-pass-y", "b-drop-y")) > 0)
    c.eq("x passes under both: all received", got_x, sent_x)
    c.eq("y received = judged by A", got_y, rules.get("a-pass-y", 0))
    c.eq("y dropped by policy = judged by B", drops.get("policy_drop", 0), rules.get("b-drop-y", 0))
    c.eq("no other drop reason", {k: v for k, v in drops.items() if v and k != "policy_drop"}, {})

    # sent = received + dropped by policy; the rest is lost, by where
    sent, got = sent_x + sent_y, got_x + got_y
    lost = {"ring (sent, not received by the box)": sent - d["in_rx"],
            "imissed": d["imissed"], "rx_nombuf": d["rx_nombuf"], "ierrors": d["ierrors"],
            "tx dropped": d["oerrors"],
            "after the box (sent out, not at the sink)": d["out_tx"] - got}
    c.eq("sink's own socket drops", res["sink_drops"], 0)
    c.eq("sender errors", res["send_errors"], 0)
    c.eq("sent = received + dropped by policy (lost %s)" % lost, res["lost"], 0)
    c.eq("lost nowhere", {k: v for k, v in lost.items() if v}, {})
    if res["lost"]:
        print("# the worker waited %.0f ms for CPU 1 during the run (other threads on it); "
              "the longest grace period, %.0f ms, is the longest time it did not run"
              % (res["worker_wait_ms"], max(l.get("grace_us", 0) for l in loads_ok) / 1e3))
except Starved:
    pass
finally:
    rc = box.stop()
    tail = box.log_tail() if box.proc else ""
    box.cleanup()
    if not os.environ.get("BL_KEEP"):
        shutil.rmtree(wd, ignore_errors=True)
    else:
        print("# kept " + wd)
c.eq("daemon exits cleanly", rc, 0) or print(tail)
if starved and not c.failed:
    sys.exit(77)
c.done()
