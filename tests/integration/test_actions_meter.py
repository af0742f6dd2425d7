#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`rate-limit` and `quota` on net_pcap: each subscriber gets its burst and
its quota exactly (142-byte frames: 21 fit in 3000 bytes), inbound traffic
counts to the inside host, `per: rule` shares one meter, a calendar quota in
a named timezone works; with 2 workers a subscriber whose flows land on both
gets one rate and one quota, not two; quota usage survives a restart."""
import os

from blpkt import *
from test_actions_lib import run

PAYLOAD = b"m" * 100  # 14 + 20 + 8 + 100 = 142-byte frames
FIT = 3000 // 142     # 21 frames within 3000 bytes

POLICY = """version: 1
rules:
  - name: slow
    direction: outbound
    match: {src: 10.0.1.0/24, proto: udp}
    action:
      rate-limit: {rate: 1kbit, burst: 3000B}
  - name: capped
    match: {proto: udp, dport: 9000}
    action:
      quota: {bytes: 3000B, period: {rolling: 24h}, then: drop}
  - name: floor
    direction: outbound
    match: {src: 10.0.5.0/24, proto: udp}
    action:
      quota:
        bytes: 3000B
        period: {calendar: month, timezone: Europe/Paris}
        per: rule
        then: drop
  - name: both-rate
    direction: outbound
    match: {src: 10.0.3.0/24, proto: udp, dport: 7000}
    action:
      rate-limit: {rate: 1kbit, burst: 3000B}
  - name: both-quota
    direction: outbound
    match: {src: 10.0.3.0/24, proto: udp, dport: 7001}
    action:
      quota: {bytes: 3000B, period: {rolling: 1h}, then: drop}
default: allow
"""


def passed(out, frames):
    s = set(frames)
    return sum(1 for f in out if f in s)


c = Check("actions_meter")

with Workdir("actions-meter") as wd:
    rate_a = [v4_udp("10.0.1.1", "203.0.113.5", 5000 + i % 4, 53, PAYLOAD) for i in range(40)]
    rate_b = [v4_udp("10.0.1.2", "203.0.113.5", 5000, 53, PAYLOAD) for i in range(40)]
    q_out = [v4_udp("10.0.2.1", "203.0.113.5", 5000, 9000, PAYLOAD) for i in range(10)]
    q_in = [v4_udp("203.0.113.9", "10.0.2.1", 7000 + i % 3, 9000, PAYLOAD) for i in range(15)]
    q_other = [v4_udp("10.0.2.2", "203.0.113.5", 5000, 9000, PAYLOAD) for i in range(5)]
    floor = [v4_udp("10.0.5.%d" % (1 + i % 3), "203.0.113.5", 5000, 53, PAYLOAD) for i in range(30)]
    free = [v4_udp("10.0.9.1", "203.0.113.5", 5000, 53, PAYLOAD) for i in range(30)]
    inside = rate_a + rate_b + q_out + q_other + floor + free
    rc, in_tx, out_tx, st, log = run(wd, POLICY, inside, q_in, prefix="bl-it-act-meter")
    c.eq("exit code", rc, 0) or print(log)
    c.eq("rate: burst of subscriber a", passed(out_tx, rate_a), FIT)
    c.eq("rate: subscriber b has its own bucket", passed(out_tx, rate_b), FIT)
    c.eq("quota: outbound + inbound of one inside host",
         passed(out_tx, q_out) + passed(in_tx, q_in), FIT)
    c.eq("quota: another subscriber", passed(out_tx, q_other), 5)
    c.eq("calendar quota per rule: shared by three hosts", passed(out_tx, floor), FIT)
    c.eq("unmetered traffic", passed(out_tx, free), 30)
    if c.true("stats", st is not None):
        d, t = st["drops"], st["totals"]
        c.eq("rate-limit drops", d.get("ratelimit_drop"), 80 - 2 * FIT)
        c.eq("quota drops", d.get("quota_drop"), (25 - FIT) + (30 - FIT))
        c.true("balanced", t["balanced"])
        c.eq("nothing generated", st["totals"].get("generated"), 0)

# two workers: one subscriber, flows to servers on both workers
with Workdir("actions-meter-2w") as wd:
    sub = "10.0.3.1"
    servers = ["203.0.113.%d" % i for i in range(1, 60)]
    by = {0: [s for s in servers if worker_of(sub, s, 2) == 0],
          1: [s for s in servers if worker_of(sub, s, 2) == 1]}
    c.true("servers on both workers", len(by[0]) >= 4 and len(by[1]) >= 4)
    picks = by[0][:4] + by[1][:4]
    rate = [v4_udp(sub, picks[i % 8], 5000 + i, 7000, PAYLOAD) for i in range(80)]
    quota = [v4_udp(sub, picks[i % 8], 6000 + i, 7001, PAYLOAD) for i in range(80)]
    rc, in_tx, out_tx, st, log = run(wd, POLICY, rate + quota, workers=2, prefix="bl-it-act-2w")
    c.eq("2w: exit code", rc, 0) or print(log)
    c.eq("2w: one rate, not two", passed(out_tx, rate), FIT)
    c.eq("2w: one quota, not two", passed(out_tx, quota), FIT)
    if st:
        w0, w1 = st["workers"]
        c.true("2w: both workers judged packets", w0["handoff_out"] > 0 or w1["handoff_out"] > 0)

# idle meter slots are reclaimed: 50 subscribers, one packet each, buckets
# that refill at once; with `meters.reclaim_idle: 1` the walks a second apart
# free all 50 slots (stats: meters.slots / meters.reclaimed)
with Workdir("actions-meter-reclaim") as wd:
    fast = POLICY.replace("rate: 1kbit, burst: 3000B}\n  - name: capped",
                          "rate: 100mbit, burst: 3000B}\n  - name: capped", 1)
    many = [v4_udp("10.0.1.%d" % (i + 1), "203.0.113.5", 5000, 53, PAYLOAD) for i in range(50)]
    rc, _, out_tx, st, log = run(wd, fast, many, cfg="meters: {reclaim_idle: 1}\n",
                                 duration=5, prefix="bl-it-act-rc")
    c.eq("reclaim: exit code", rc, 0) or print(log)
    c.eq("reclaim: every subscriber within its rate", passed(out_tx, many), 50)
    if c.true("reclaim: stats", st is not None):
        c.eq("reclaim: slots freed", st["meters"]["reclaimed"], 50)
        c.eq("reclaim: no slot left", st["meters"]["slots"], 0)
        c.eq("reclaim: no packet came after a check", (st["meters"]["late_merged"],
                                                        st["meters"]["late_lost"]), (0, 0))
        c.eq("reclaim: each charged once", st["workers"][0]["meters"]["rate_pass"], 50)

# quota usage survives a restart (state_dir)
with Workdir("actions-meter-restart") as wd:
    state = wd("state")
    first = [v4_udp("10.0.2.7", "203.0.113.5", 5000, 9000, PAYLOAD) for i in range(10)]
    rc, _, out_tx, _, log = run(wd, POLICY, first, state_dir=state, prefix="bl-it-act-rs")
    c.eq("restart: run 1 exit code", rc, 0) or print(log)
    c.eq("restart: run 1 within quota", passed(out_tx, first), 10)
    c.true("restart: state saved", os.path.exists(os.path.join(state, "meters.state")))
    second = [v4_udp("10.0.2.7", "203.0.113.5", 5001, 9000, PAYLOAD) for i in range(20)]
    rc, _, out_tx, _, log = run(wd, POLICY, second, state_dir=state, prefix="bl-it-act-rs")
    c.eq("restart: run 2 exit code", rc, 0) or print(log)
    c.eq("restart: run 2 gets what was left", passed(out_tx, second), FIT - 10)
c.done()
