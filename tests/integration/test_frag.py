#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fragments: the first decides for the datagram; tiny first fragments and
TCP fragments at offset 8 are dropped (with their later fragments); later
fragments that come before their first are held, then released after it."""
from blpkt import *

c = Check("frag")
A, B = "10.1.0.1", "10.1.0.2"
# 1. in order, UDP datagram of 8 + 40 bytes in 3 fragments: all pass
in_order = v4_fragments(A, B, 17, udp(1000, 2000, b"a" * 40), [16, 16, 16], ident=1)
# 2. out of order: later fragments first, then the first: held, released after it
ooo = v4_fragments(A, B, 17, udp(1001, 2001, b"b" * 40), [16, 16, 16], ident=2)
ooo_sent = [ooo[2], ooo[1], ooo[0]]
# 3. tiny first: TCP first fragment of 16 bytes (no room for the TCP header,
#    RFC 1858): refused by the fragment stage, and its later fragment follows
#    that drop
tiny = v4_fragments(A, B, 6, tcp(1002, 80, "S", b"c" * 24), [16, 28], ident=3)
# 4. TCP fragment at offset 8 (RFC 1858 overlap attack), with a normal first
off1_first = v4_fragments(A, B, 6, tcp(1003, 80, "S", b"d" * 28), [24, 24], ident=4)[0]
off1 = eth(0x0800, ipv4(A, B, 6, b"e" * 16, ident=4, frag_off=8, mf=False))
# 5. IPv6: in order, two fragments
l4 = udp(1004, 2004, b"f" * 40)
v6 = [eth(0x86DD, ipv6_frag("2001:db8::1", "2001:db8::2", 17, l4[:24], 77, 0, True)),
      eth(0x86DD, ipv6_frag("2001:db8::1", "2001:db8::2", 17, l4[24:], 77, 24, False))]

frames = in_order + ooo_sent + tiny + [off1_first, off1] + v6
want = in_order + [ooo[0], ooo[2], ooo[1]] + [off1_first] + v6

with Workdir("frag") as wd:
    rc, out, verdicts, stats, log = replay(wd, frames, prefix="bl-it-frag")
    c.eq("exit code", rc, 0) or print(log)
    c.eq("frames out (held ones after their first, in arrival order)", out, want)
    d = stats["drops"]
    c.eq("tiny first refused", d["frag_tiny_first"], 1)
    c.eq("its later fragment follows the drop", d["frag_drop_follow_drop"], 1)
    c.eq("frag_tcp_offset1", d["frag_tcp_offset1"], 1)
    w = stats["workers"][0]
    c.eq("held (2 out of order), 2 released",
         (w["frag_table"]["held"], w["frag_released"], w["frag_held"]), (2, 2, 0))
    t = stats["totals"]
    c.eq("accounting", (t["rx"], t["tx"], t["dropped"], t["held"], t["balanced"]),
         (len(frames), len(want), 3, 0, True))
c.done()
