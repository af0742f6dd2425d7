#!/usr/bin/env python3
"""Write a seed corpus for the parser fuzzer into DIR.

Each seed is one byte (link type for the fuzz target: 0 ether, 1 sll,
2 sll2, 3 raw) followed by a frame. Frames come from a few packets built
here and, when the test data folder exists, from every capture in it.
Usage: make_seeds.py DIR [TEST_DATA]
"""
import os
import struct
import sys

LINK = {1: 0, 113: 1, 276: 2, 101: 3, 12: 3, 14: 3, 228: 3, 229: 3}
MAX_PER_CAPTURE = 40


def ipv4(proto, payload, src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02"):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0,
                       64, proto, 0, src, dst) + payload


def ipv6(nh, payload):
    return (struct.pack("!IHBB", 6 << 28, len(payload), nh, 64)
            + b"\x20\x01" + b"\x00" * 13 + b"\x01"
            + b"\x20\x01" + b"\x00" * 13 + b"\x02" + payload)


def eth(etype, payload):
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", etype) + payload


TCP = struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 0x50, 0x02, 1024, 0, 0)
UDP = struct.pack("!HHHH", 5353, 53, 12, 0) + b"abcd"


def built():
    v4 = ipv4(6, TCP)
    yield 0, eth(0x0800, v4)
    yield 0, eth(0x8100, struct.pack("!HH", 10, 0x88a8) + struct.pack("!HH", 20, 0x0800) + v4)
    yield 0, eth(0x8847, struct.pack("!I", (100 << 12) | 0x100 | 64) + v4)
    yield 0, eth(0x86dd, ipv6(0, struct.pack("!BB6x", 17, 0) + UDP))
    yield 0, eth(0x0800, ipv4(47, struct.pack("!HH", 0, 0x0800) + v4))
    vx = struct.pack("!BxxxI", 0x08, 42 << 8) + eth(0x0800, v4)
    yield 0, eth(0x0800, ipv4(17, struct.pack("!HHHH", 999, 4789, 8 + len(vx), 0) + vx))
    yield 0, eth(0x0800, ipv4(41, ipv6(17, UDP)))
    yield 0, eth(0x8864, struct.pack("!BBHHH", 0x11, 0, 1, 2 + len(v4), 0x0021) + v4)
    yield 3, v4


def pcap_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        link = struct.unpack(e + "I", data[20:24])[0] & 0xffff
        off = 24
        while off + 16 <= len(data):
            incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
            yield link, data[off + 16:off + 16 + incl]
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        links, off = [], 0
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12:
                return
            if btype == 1:
                links.append(struct.unpack(e + "H", data[off + 8:off + 10])[0])
            elif btype == 6 and off + 28 <= len(data):
                iface, = struct.unpack(e + "I", data[off + 8:off + 12])
                cap, = struct.unpack(e + "I", data[off + 20:off + 24])
                if iface < len(links):
                    yield links[iface], data[off + 28:off + 28 + cap]
            off += blen


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    n = 0
    for lt, frame in built():
        n += 1
        with open(os.path.join(out, "built-%02d" % n), "wb") as f:
            f.write(bytes([lt]) + frame)
    pcaps = os.path.join(sys.argv[2], "pcap") if len(sys.argv) > 2 else ""
    if pcaps and os.path.isdir(pcaps):
        for name in sorted(os.listdir(pcaps)):
            if not name.endswith((".pcap", ".pcapng")):
                continue
            for i, (link, frame) in enumerate(pcap_frames(os.path.join(pcaps, name))):
                if i >= MAX_PER_CAPTURE:
                    break
                if link in LINK:
                    n += 1
                    with open(os.path.join(out, "%s-%03d" % (name, i)), "wb") as f:
                        f.write(bytes([LINK[link]]) + frame)
    print("seeds: %d written to %s" % (n, out))


if __name__ == "__main__":
    main()
