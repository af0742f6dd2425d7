#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`reject` on net_pcap: the box answers a TCP SYN with a RST (+ACK), UDP
and ICMP with ICMP/ICMPv6 "administratively prohibited" quoting the
datagram, keeps VLAN tags, computes every checksum, never answers an ICMP
error or a broadcast; an established connection (quota used up, then
reject) gets a RST at both ends; replies are rate-limited and counted as
generated, apart from rx = tx + dropped."""
import struct

from blpkt import *
from test_actions_lib import addr, parse, run

POLICY = """version: 1
rules:
  - name: web-blocked
    direction: outbound
    match: {dst: 198.51.100.0/24, proto: tcp, dport: 443}
    action: reject
  - name: udp-blocked
    direction: outbound
    match: {dst: 198.51.100.0/24, proto: [udp, icmp]}
    action: reject
  - name: v6-blocked
    direction: outbound
    match: {dst: "2001:db8:bad::/48"}
    action: reject
  - name: capped
    direction: outbound
    match: {dst: 203.0.113.0/24, proto: tcp, dport: 8080}
    action:
      quota: {bytes: 500B, period: {rolling: 1h}, then: reject}
default: allow
"""

C, S, S6 = "10.0.0.1", "198.51.100.7", "2001:db8:bad::7"
syn = eth(0x0800, ipv4(C, S, 6, tcp(40000, 443, "S", seq=1000)))
syn_vlan = v4_tcp(C, S, 40001, 443, "S", vlans=(30,))
udp4 = v4_udp(C, S, 5353, 53, b"q" * 60)
udp6 = v6_udp("2001:db8::1", S6, 5353, 53, b"x" * 80)
ping = eth(0x0800, ipv4(C, S, 1, struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"p" * 56))
icmp_err = eth(0x0800, ipv4(C, S, 1, struct.pack("!BBHI", 3, 3, 0, 0) +
                               ipv4(S, C, 17, udp(53, 5353, b"r" * 20))))
bcast = eth(0x0800, ipv4(C, S, 17, udp(1, 2, b"b" * 60), ident=99), dst=b"\xff" * 6)
allowed = v4_udp(C, "192.0.2.99", 1111, 2222, b"ok" * 20)
# an established (midstream-tracked) connection: 254-byte frames against a
# 500-byte quota -> the first passes, the second and third are rejected
est = [eth(0x0800, ipv4(C, "203.0.113.5", 6, tcp(41000, 8080, "PA", b"d" * 200,
                                                  seq=5000 + 200 * i, ack=9000)))
       for i in range(3)]

inside = [syn, syn_vlan, udp4, udp6, ping, icmp_err, bcast, allowed] + est
c = Check("actions_reject")


def back_to(frame, req):
    """The common checks of a reply that goes back to req's sender."""
    r, q = parse(frame), parse(req)
    ok = (r["dst_mac"], r["src_mac"], r["vlans"]) == (q["src_mac"], q["dst_mac"], q["vlans"])
    ok &= (r["src"], r["dst"], r["ttl"]) == (q["dst"], q["src"], 64)
    ok &= r["cksum_ok"] and r["trailing"] == 0 and len(frame) <= len(req)
    return r, ok


with Workdir("actions-reject") as wd:
    rc, in_tx, out_tx, st, log = run(wd, POLICY, inside, prefix="bl-it-act-rej")
    c.eq("exit code", rc, 0) or print(log)
    replies = [parse(f) for f in in_tx]
    c.eq("replies back to the inside", len(in_tx), 7)

    def find(pred):
        got = [(f, r) for f, r in zip(in_tx, replies) if pred(r)]
        return got[0] if len(got) == 1 else (None, None)

    f, _ = find(lambda r: r.get("proto") == 6 and r.get("dport") == 40000)
    if c.true("RST for the SYN", f is not None):
        r, ok = back_to(f, syn)
        c.true("RST: addresses, MACs, TTL, checksums", ok)
        c.eq("RST fields", (r["sport"], r["flags"], r["seq"], r["ack"], r["win"], r["ip_len"]),
             (443, 0x14, 0, 1001, 0, 40))
    f, _ = find(lambda r: r.get("proto") == 6 and r.get("dport") == 40001)
    if c.true("RST for the tagged SYN", f is not None):
        r, ok = back_to(f, syn_vlan)
        c.true("tagged RST: tag kept, checksums", ok and r["vlans"] == [30])
        c.eq("tagged RST flags/ack", (r["flags"], r["ack"]), (0x14, 2))

    def unreach(req, fam):
        return find(lambda r: r.get("family") == fam and r.get("proto") in (1, 58) and
                    len(r["quote"]) > 0 and r["quote"] == req[14:14 + len(r["quote"])])

    for name, req, fam, want in (("udp", udp4, 4, (3, 13)), ("ping", ping, 4, (3, 13)),
                                 ("udp6", udp6, 6, (1, 1))):
        f, r = unreach(req, fam)
        if c.true("unreachable for %s" % name, f is not None):
            _, ok = back_to(f, req)
            c.true("%s: addresses, MACs, TTL, checksums, size" % name, ok)
            c.eq("%s type/code" % name, (r["type"], r["code"]), want)
            hdr = 28 if fam == 4 else 48
            c.eq("%s quotes all that fits in the incoming size" % name, len(r["quote"]),
                 len(req) - 14 - hdr)

    c.true("no reply to the ICMP error",
           not any(r.get("quote", b"")[:20] == icmp_err[14:34] for r in replies))
    c.eq("allowed passes unchanged", [f for f in out_tx if f == allowed], [allowed])
    c.true("no reply to the broadcast", not any(
        r.get("quote", b"")[:20] == bcast[14:34] for r in replies))

    # the established flow: data 0 passes; 1 and 2 get a RST each way
    c.eq("first segment passes", [f for f in out_tx if f == est[0]], [est[0]])
    c.eq("rejected segments do not pass", [f for f in out_tx if f in est[1:]], [])
    rst_back = [r for r in replies if r.get("proto") == 6 and r.get("dport") == 41000]
    rst_on = [r for r in map(parse, out_tx) if r.get("proto") == 6 and
              r.get("sport") == 41000 and r["flags"] & 0x04]
    c.eq("RST to the inside end", [(r["flags"], r["seq"], r["src"], r["cksum_ok"]) for r in rst_back],
         [(0x04, 9000, addr("203.0.113.5"), True)] * 2)
    c.eq("RST to the outside end at the segment's seq",
         [(r["flags"], r["seq"], r["src"], r["dst"], r["dport"], r["cksum_ok"]) for r in rst_on],
         [(0x04, 5200, addr(C), addr("203.0.113.5"), 8080, True),
          (0x04, 5400, addr(C), addr("203.0.113.5"), 8080, True)])
    if c.true("stats written", st is not None):
        t = st["totals"]
        c.eq("generated counted apart", st["totals"].get("generated"), len(in_tx) + len(rst_on))
        c.eq("rx = tx + dropped", (t["rx"], t["tx"] + t["dropped"], t["balanced"]),
             (len(inside), len(inside), True))
        c.eq("tx counts forwarded only", t["tx"], len(out_tx) - len(rst_on))

# the reply limiter: burst 3, 1/s -> 3 replies for 10 rejected datagrams
with Workdir("actions-reject-limit") as wd:
    many = [v4_udp(C, S, 6000 + i, 53, b"q" * 60) for i in range(10)]
    rc, in_tx, out_tx, st, log = run(wd, POLICY, many, cfg="reject: {rate: 1, burst: 3}\n",
                                     prefix="bl-it-act-rej2")
    c.eq("limiter: exit code", rc, 0) or print(log)
    c.eq("limiter: burst of replies", len(in_tx), 3)
    c.eq("limiter: nothing passes", out_tx, [])
    if st:
        c.eq("limiter: generated", st["totals"].get("generated"), 3)
        rep = st["workers"][0]["replies"]
        c.eq("limiter: replies per kind and the 7 held back by the limiter",
             (rep["icmp4"], rep["skipped"]["rate"]), (3, 7))
c.done()
