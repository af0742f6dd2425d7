#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Bump in the wire: well-formed IPv4/IPv6 TCP and UDP, VLAN and QinQ frames
leave unchanged and in order; malformed frames are dropped by reason."""
from blpkt import *

c = Check("forward")
good = [
    v4_tcp("10.0.0.1", "10.0.0.2", 40000, 80, "S"),
    v4_tcp("10.0.0.2", "10.0.0.1", 80, 40000, "SA"),
    v4_tcp("10.0.0.1", "10.0.0.2", 40000, 80, "A"),
    v4_udp("10.0.0.3", "10.0.0.4", 5353, 53, b"q" * 30),
    v6_tcp("2001:db8::1", "2001:db8::2", 40001, 443, "S"),
    v6_udp("2001:db8::1", "2001:db8::2", 40002, 53, b"z" * 12),
    v4_udp("192.168.1.1", "192.168.1.2", 1000, 2000, b"vlan", vlans=(10,)),
    v4_tcp("192.168.2.1", "192.168.2.2", 1000, 22, "S", vlans=(100, 200)),
    v4_udp("10.0.0.3", "10.0.0.4", 5353, 53, b"r" * 31),
]
trunc_ipv4 = eth(0x0800, ipv4("10.9.9.9", "10.9.9.8", 17, udp(1, 2))[:12])
bad_ihl = bytearray(eth(0x0800, ipv4("10.9.9.9", "10.9.9.8", 17, udp(1, 2, b"xx"))))
bad_ihl[14] = 0x43
trunc_tcp = eth(0x0800, ipv4("10.9.9.9", "10.9.9.8", 6, tcp(1, 2)[:10]))
frames = good[:3] + [trunc_ipv4] + good[3:6] + [bytes(bad_ihl), trunc_tcp] + good[6:]

with Workdir("forward") as wd:
    rc, out, verdicts, stats, log = replay(wd, frames, prefix="bl-it-forward")
    c.eq("exit code", rc, 0) or print(log)
    c.eq("frames out, in order, unchanged", out, good)
    d = stats["drops"]
    c.eq("trunc_ipv4 drops", d["trunc_ipv4"], 1)
    c.eq("bad_ipv4_ihl drops", d["bad_ipv4_ihl"], 1)
    c.eq("trunc_tcp drops", d["trunc_tcp"], 1)
    t = stats["totals"]
    c.eq("totals", (t["rx"], t["tx"], t["dropped"], t["held"], t["balanced"]),
         (len(frames), len(good), 3, 0, True))
    c.eq("port rx/tx", (stats["ports"]["inside"]["rx"], stats["ports"]["outside"]["tx"]),
         (len(frames), len(good)))
    flows = [v for v in verdicts if v["flow"]]
    c.eq("one verdict line per flow", len(flows), 6)
    tcp4 = [v for v in flows if v["flow"]["src"] == "10.0.0.1"]
    c.eq("tcp flow line", (len(tcp4), tcp4[0]["packets"], tcp4[0]["verdict"], tcp4[0]["reason"],
                           tcp4[0]["flow"]["sport"], tcp4[0]["flow"]["dport"]),
         (1, 3, "pass", "default", 40000, 80))
    qinq = [v for v in flows if v["flow"]["src"] == "192.168.2.1"]
    c.eq("qinq flow keyed by outer vlan", qinq[0]["flow"]["vlan"] if qinq else None, 100)
    mal = sorted(v["reason"] for v in verdicts if v["flow"] is None and v["verdict"] == "drop")
    c.eq("malformed verdict lines", mal, ["bad_ipv4_ihl", "trunc_ipv4", "trunc_tcp"])
c.done()
