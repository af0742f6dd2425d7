#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write a pcap of minimum-size UDP/IPv4 frames, one per distinct flow.

Each frame is 60 bytes in the file (64 on the wire with the FCS): Ethernet,
IPv4 (valid header checksum), UDP (valid checksum) and 18 bytes of payload.
Flow i goes from 10.x.y.z:(10000 + i % 50000) to 172.16.x.y:(9000 + i % 7),
so every frame is a different 5-tuple in either direction. No port is one the
parser or the L7 stages treat specially (VXLAN 4789, Teredo 3544, DNS 53,
HTTP 80, TLS/QUIC 443): the frames measure plain UDP forwarding. The order
is fixed, so the same arguments always give the same bytes.

Usage: gen_pcap.py --flows N --out FILE [--size 60]
"""
import argparse
import os
import struct
import sys

ETH_LEN, IP_LEN, UDP_LEN = 14, 20, 8
SRC_MAC = bytes.fromhex("020000000001")
DST_MAC = bytes.fromhex("020000000002")


def csum(data):
    """Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(i, size):
    """The frame of flow `i`, `size` bytes without FCS."""
    src = bytes((10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF))
    dst = bytes((172, 16 + ((i >> 16) & 0x0F), (i >> 8) & 0xFF, i & 0xFF))
    return udp4_frame(src, dst, 10000 + i % 50000, 9000 + i % 7, size, i)


def udp4_frame(src, dst, sport, dport, size, i):
    """A UDP/IPv4 frame of `size` bytes (no FCS) from src to dst (4 bytes
    each); `i` seeds the IP id and the payload bytes."""
    payload = bytes((i + k) & 0xFF for k in range(size - ETH_LEN - IP_LEN - UDP_LEN))
    ulen = UDP_LEN + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    uc = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", uc) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, IP_LEN + ulen, i & 0xFFFF, 0,
                     64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return DST_MAC + SRC_MAC + b"\x08\x00" + ip + udp


def write(path, flows, size):
    """Write `flows` frames of `size` bytes to `path` (atomically)."""
    write_frames(path, (frame(i, size) for i in range(flows)))


def write_frames(path, frames):
    """Write the frames of an iterable to a pcap at `path` (atomically), one
    microsecond apart. Returns how many were written."""
    tmp = path + ".tmp"
    n = 0
    with open(tmp, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", n // 1000000, n % 1000000, len(fr), len(fr)))
            f.write(fr)
            n += 1
    os.replace(tmp, path)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, required=True)
    ap.add_argument("--size", type=int, default=60,
                    help="frame bytes in the file, without FCS (default 60)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if not 1 <= a.flows <= 1 << 20:
        sys.exit("gen_pcap: --flows must be 1..%d" % (1 << 20))
    if a.size < ETH_LEN + IP_LEN + UDP_LEN:
        sys.exit("gen_pcap: --size must be at least %d" % (ETH_LEN + IP_LEN + UDP_LEN))
    write(a.out, a.flows, a.size)


if __name__ == "__main__":
    main()
