#!/usr/bin/env python3
"""Write a small Ethernet pcap that shows what the parser reads: plain IPv4
and IPv6, VLAN and QinQ, MPLS, PPPoE, GRE, VXLAN, Teredo, 6in4, fragments,
an ICMP error quoting a flow, ARP, neighbour discovery and two malformed
frames. Usage: sample_pcap.py OUT.pcap
"""
import struct
import sys

MAC = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02"


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def a4(s):
    return bytes(int(x) for x in s.split("."))


def a6(last):
    return b"\x20\x01\x0d\xb8" + b"\0" * 11 + bytes([last])


def ip4(src, dst, proto, payload, ident=1, frag=0, mf=False):
    flags = (0x2000 if mf else 0) | (frag // 8)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags,
                    64, proto, 0, a4(src), a4(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def ip6(src, dst, nh, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, 64, src, dst) + payload


def tcp(sport, dport, flags=0x02):
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 0x50, flags, 65535, 0, 0)


def udp(sport, dport, data=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def eth(etype, payload, tags=()):
    out = MAC
    for tpid, vid in tags:
        out += struct.pack("!HH", tpid, vid)
    out += struct.pack("!H", etype) + payload
    return out + b"\0" * max(0, 60 - len(out))


def frames():
    web = ip4("10.1.0.5", "192.0.2.80", 6, tcp(40000, 443))
    yield eth(0x0800, web)
    yield eth(0x86dd, ip6(a6(5), a6(80), 17, udp(5353, 53, b"\x12\x34" + b"\0" * 10)))
    yield eth(0x0800, web, tags=[(0x8100, 100)])
    yield eth(0x0800, web, tags=[(0x88a8, 200), (0x8100, 300)])
    yield eth(0x8847, struct.pack("!I", (16 << 12) | 0x100 | 64) + web)
    yield eth(0x8864, struct.pack("!BBHHH", 0x11, 0, 7, len(web) + 2, 0x0021) + web)
    yield eth(0x0800, ip4("198.51.100.1", "198.51.100.2", 47, struct.pack("!HH", 0, 0x0800) + web))
    vx = struct.pack("!BxxxI", 0x08, 42 << 8) + eth(0x0800, web)
    yield eth(0x0800, ip4("198.51.100.1", "198.51.100.3", 17, udp(49152, 4789, vx)))
    yield eth(0x0800, ip4("198.51.100.1", "198.51.100.4", 17,
                          udp(3544, 3544, ip6(a6(7), a6(8), 6, tcp(1025, 80)))))
    yield eth(0x0800, ip4("198.51.100.1", "198.51.100.5", 41, ip6(a6(9), a6(10), 17, udp(1, 2))))
    dgram = udp(5000, 5001, bytes(range(64)))
    yield eth(0x0800, ip4("10.1.0.6", "192.0.2.7", 17, dgram[:40], ident=77, mf=True))
    yield eth(0x0800, ip4("10.1.0.6", "192.0.2.7", 17, dgram[40:], ident=77, frag=40))
    quote = ip4("10.1.0.5", "192.0.2.80", 17, udp(40001, 33434))[:28]
    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, 1400) + quote
    yield eth(0x0800, ip4("192.0.2.1", "10.1.0.5", 1, icmp))
    yield eth(0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC[6:] + a4("10.1.0.5")
              + b"\0" * 6 + a4("10.1.0.1"))
    ns = struct.pack("!BBHI", 135, 0, 0, 0) + a6(1)
    yield eth(0x86dd, ip6(a6(5), a6(1), 58, ns))
    yield eth(0x0800, web[:30])[:44]                      # IPv4/TCP cut short
    yield eth(0x0800, web, tags=[(0x8100, 1), (0x8100, 2), (0x8100, 3), (0x8100, 4)])


def main():
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames()):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)) + fr)


if __name__ == "__main__":
    main()
