#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Under a drop-everything verdict seam (default_ip: drop), ARP and IPv6
neighbour discovery still pass (their own defaults), IP traffic is dropped;
and `non_ip: {arp: drop}` drops ARP with its own counter."""
from blpkt import *

c = Check("dropall")
a, ns = arp(), nd_ns()
ip = [v4_tcp("10.0.0.1", "10.0.0.2", 1, 80, "S"), v6_udp("2001:db8::1", "2001:db8::2", 5, 53, b"x")]
frames = [ip[0], a, ns, ip[1]]

with Workdir("dropall") as wd:
    rc, out, verdicts, stats, log = replay(wd, frames, ["--default-ip", "drop"], prefix="bl-it-dropall")
    c.eq("exit code", rc, 0) or print(log)
    c.eq("only ARP and ND leave", out, [a, ns])
    c.eq("verdict drops", stats["drops"]["verdict"], 2)
    np = stats["workers"][0]["nonip_pass"]
    c.eq("non-IP pass counters", (np["arp"], np["nd"]), (1, 1))
    ipv = [v for v in verdicts if v["flow"]]
    c.eq("IP flows dropped by the default", sorted((v["verdict"], v["reason"]) for v in ipv),
         [("drop", "default"), ("drop", "default")])

    cfg = wd("c.yaml")
    write_config(cfg, "non_ip:\n  arp: drop\ndefault_ip: pass\n")
    rc, out, verdicts, stats, log = replay(wd, frames, ["--config", cfg], prefix="bl-it-dropall2")
    c.eq("exit code (arp: drop)", rc, 0) or print(log)
    # order is kept per flow; frames without a flow are settled before IP ones of a burst
    c.eq("ARP dropped, the rest passes", sorted(out), sorted([ip[0], ns, ip[1]]))
    c.eq("IP frames in order", [f for f in out if f in ip], ip)
    c.eq("nonip_arp drops", stats["drops"]["nonip_arp"], 1)
c.done()
