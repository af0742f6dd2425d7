#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A full flow table follows the configured policy (drop-new, stateless) and
a full fragment budget drops with its own counter; every packet is
accounted for."""
from blpkt import *

c = Check("limits")
N = 40
flows = [v4_udp("10.2.0.%d" % (i + 1), "10.3.0.1", 1000 + i, 53, b"q") for i in range(N)]
# fragments: 10 orphan later fragments of distinct datagrams, budget 4
orphans = [eth(0x0800, ipv4("10.4.0.1", "10.4.0.2", 17, b"o" * 16, ident=100 + i,
                            frag_off=16, mf=True)) for i in range(10)]

with Workdir("limits") as wd:
    cfg = wd("c.yaml")
    base = "fragments: {budget: 4, per_datagram: 2, capacity: 64, timeout: 60}\n"
    write_config(cfg, "flow_table: {capacity: 8, full: drop-new}\n" + base)
    rc, out, verdicts, stats, log = replay(wd, flows + orphans, ["--config", cfg], prefix="bl-it-limits")
    c.eq("exit code", rc, 0) or print(log)
    w = stats["workers"][0]
    live = w["flows"]
    c.true("the table holds at most its capacity (%d)" % live, 1 <= live <= 16)
    c.eq("first flows pass, the rest dropped as flow_full",
         (len(out), stats["drops"]["flow_full"]), (live, N - live))
    c.eq("passed flows are the first ones", out, flows[:live])
    c.eq("flow table counter", w["flow_table"]["new_dropped_full"], N - live)
    c.eq("fragment budget: 4 held, 6 dropped",
         (w["frag_held"], stats["drops"]["frag_drop_hold_budget"]), (4, 6))
    t = stats["totals"]
    c.eq("accounting", (t["rx"], t["tx"] + t["dropped"] + t["held"], t["balanced"]),
         (N + 10, N + 10, True))
    dropped = [v for v in verdicts if v.get("flow") and v["verdict"] == "drop"]
    c.eq("verdict lines name flow_full", {v["reason"] for v in dropped}, {"flow_full"})

    write_config(cfg, "flow_table: {capacity: 8, full: stateless}\n" + base)
    rc, out, verdicts, stats, log = replay(wd, flows, ["--config", cfg], prefix="bl-it-limits2")
    c.eq("exit code (stateless)", rc, 0) or print(log)
    c.eq("stateless: every flow passes, in order", out, flows)
    w = stats["workers"][0]
    c.eq("stateless counters", (w["untracked_pass"], w["flow_table"]["stateless_passed"]),
         (N - w["flows"], N - w["flows"]))
c.done()
