#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The policy runtime on net_pcap: exactly which packets leave for allow,
drop, default drop, direction, VLAN, IPv6 and list rules; `log` records and
goes on; ICMP "fragmentation needed" follows the flow it quotes (passes for
an allowed flow, dropped for a dropped one), also when it comes from a
router whose address pair lands on another worker."""
import struct
from blpkt import *

POLICY = """version: 1
lists:
  webs: {type: prefixes, entries: [198.51.100.0/24, "2001:db8:77::/48"]}
rules:
  - name: web-out
    direction: outbound
    match: {dst: webs, proto: tcp, dport: [80, 443]}
    action: allow
  - name: smtp-drop
    match: {proto: tcp, dport: 25}
    action: drop
  - name: udp-in
    direction: inbound
    match: {proto: udp}
    action: allow
  - name: guests
    match: {vlan: 20, proto: udp}
    action: allow
  - name: v6-dns
    match: {dst: "2001:db8:53::53", proto: udp, dport: 53}
    action: allow
  - name: ntp-log
    match: {proto: udp, dport: 123}
    action: log
default: drop
"""


def frag_needed(router, dst, quoted_frame, mtu=1400):
    """ICMP type 3 code 4 from `router` to `dst` quoting the IP header and
    8 bytes of the L4 header of quoted_frame (an Ethernet frame)."""
    ip = quoted_frame[14:]
    quote = ip[:20 + 8]
    body = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + quote
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    return eth(0x0800, ipv4(router, dst, 1, body))


web = v4_tcp("10.0.0.1", "198.51.100.7", 40000, 443, "S")
web_reply = v4_tcp("198.51.100.7", "10.0.0.1", 443, 40000, "SA")
smtp = v4_tcp("10.0.0.1", "203.0.113.9", 40001, 25, "S")
other = v4_tcp("10.0.0.1", "203.0.113.9", 40002, 443, "S")
udp_out = v4_udp("10.0.0.2", "203.0.113.10", 5000, 7, b"x")
vlan20 = v4_udp("10.0.0.3", "203.0.113.11", 5001, 9, b"v", vlans=(20,))
vlan21 = v4_udp("10.0.0.3", "203.0.113.11", 5002, 9, b"v", vlans=(21,))
dns6 = v6_udp("2001:db8:1::1", "2001:db8:53::53", 5003, 53, b"q")
web6 = v6_tcp("2001:db8:1::1", "2001:db8:77::1", 40003, 443, "S")
dns6_other = v6_udp("2001:db8:1::1", "2001:db8:53::54", 5004, 53, b"q")
ntp = v4_udp("10.0.0.4", "203.0.113.12", 5005, 123, b"t")
# a router on the inside path tells the far ends their replies are too big
icmp_ok = frag_needed("10.0.0.254", "198.51.100.7", web_reply)
icmp_dropped = frag_needed("10.0.0.254", "203.0.113.9",
                           v4_tcp("203.0.113.9", "10.0.0.1", 25, 40001, "SA"))
icmp_unknown = frag_needed("10.0.0.254", "203.0.113.50",
                           v4_tcp("203.0.113.50", "10.0.0.9", 443, 41000, "SA"))

frames = [web, web_reply, smtp, other, udp_out, vlan20, vlan21, dns6, web6, dns6_other, ntp,
          icmp_ok, icmp_dropped, icmp_unknown]
passed = [web, web_reply, vlan20, dns6, web6, icmp_ok]

c = Check("policy_rules")
# the router's address pair and the flow's must land on different workers
# for the 2-worker run to show that errors are dispatched by the quote
c.true("router pair hashes to another worker than the flow",
       worker_of("10.0.0.254", "198.51.100.7", 2) != worker_of("10.0.0.1", "198.51.100.7", 2))

with Workdir("policy-rules") as wd:
    pol = wd("policy.yaml")
    write_config(pol, POLICY)
    for workers in (1, 2):
        rc, out, verdicts, stats, log = replay(wd, frames, ["--policy", pol, "--workers", str(workers)],
                                               prefix="bl-it-policy-rules")
        tag = "%d worker(s): " % workers
        c.eq(tag + "exit code", rc, 0) or print(log)
        if out is None:
            continue
        if workers == 1:
            c.eq(tag + "exactly the allowed frames leave, in order", out, passed)
        else:
            c.eq(tag + "exactly the allowed frames leave", sorted(out), sorted(passed))
        d = stats["drops"]
        c.eq(tag + "policy drops", d["policy_drop"], 7)
        c.eq(tag + "ICMP errors that followed a dropped flow", d["verdict"], 1)
        r = stats["rules"]
        c.eq(tag + "rule counters", (r["web-out"]["packets"], r["smtp-drop"]["packets"],
                                     r["guests"]["packets"], r["v6-dns"]["packets"],
                                     r["ntp-log"]["packets"], r["udp-in"]["packets"]),
             (3, 1, 1, 1, 1, 0))
        c.eq(tag + "rule bytes", r["web-out"]["bytes"], len(web) + len(web_reply) + len(web6))
        c.eq(tag + "generation", stats["policy_generation"], 1)
        by = {}
        for v in verdicts:
            f = v.get("flow")
            if f:
                by[(f["src"], f["dst"], f.get("dport"), f["vlan"])] = v
        def rule_of(src, dst, dport, vlan=0):
            v = by.get((src, dst, dport, vlan))
            return v and (v["verdict"], v.get("rule"), v.get("generation"), v.get("log"))
        c.eq(tag + "web flow", rule_of("10.0.0.1", "198.51.100.7", 443), ("pass", "web-out", 1, None))
        c.eq(tag + "smtp flow", rule_of("10.0.0.1", "203.0.113.9", 25), ("drop", "smtp-drop", 1, None))
        c.eq(tag + "other flow", rule_of("10.0.0.1", "203.0.113.9", 443), ("drop", "default", 1, None))
        c.eq(tag + "outbound udp, inbound rule", rule_of("10.0.0.2", "203.0.113.10", 7),
             ("drop", "default", 1, None))
        c.eq(tag + "vlan 20", rule_of("10.0.0.3", "203.0.113.11", 9, 20)[:2], ("pass", "guests"))
        c.eq(tag + "vlan 21", rule_of("10.0.0.3", "203.0.113.11", 9, 21)[:2], ("drop", "default"))
        c.eq(tag + "ipv6 dns", rule_of("2001:db8:1::1", "2001:db8:53::53", 53)[:2], ("pass", "v6-dns"))
        c.eq(tag + "ipv6 list", rule_of("2001:db8:1::1", "2001:db8:77::1", 443)[:2], ("pass", "web-out"))
        c.eq(tag + "log goes on", rule_of("10.0.0.4", "203.0.113.12", 123), ("drop", "default", 1, "ntp-log"))
        icmp = {v["flow"]["dst"]: (v["verdict"], v["reason"]) for v in verdicts
                if v.get("flow") and v["flow"]["proto"] == 1}
        c.eq(tag + "ICMP errors", icmp, {"198.51.100.7": ("pass", "quoted_flow"),
                                         "203.0.113.9": ("drop", "quoted_flow"),
                                         "203.0.113.50": ("drop", "default")})
c.done()
