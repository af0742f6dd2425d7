# SPDX-License-Identifier: BSD-3-Clause
"""Integration-test helpers: build frames with struct, read and write pcaps
by hand, run the real `brightline` daemon on net_pcap devices, and compute
the symmetric Toeplitz hash the workers use for distribution."""

import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


# ---- frames -----------------------------------------------------------------

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(ethertype, payload, vlans=(), src=MAC_A, dst=MAC_B):
    """Ethernet with optional tags: vlans=(outer, inner) -> 802.1ad + 802.1Q."""
    hdr = dst + src
    tpids = [0x88A8] * (len(vlans) - 1) + [0x8100] if vlans else []
    for tpid, vid in zip(tpids, vlans):
        hdr += struct.pack("!HH", tpid, vid)
    return hdr + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, ident=1, frag_off=0, mf=False, ttl=64, total=None,
         options=b""):
    """options: raw option bytes, a multiple of 4 (the IHL grows with them)."""
    assert len(options) % 4 == 0 and len(options) <= 40
    flags = (0x2000 if mf else 0) | (frag_off // 8)
    tot = total if total is not None else 20 + len(options) + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x45 + len(options) // 4, 0, tot, ident, flags, ttl, proto,
                    0, ipaddress.IPv4Address(src).packed,
                    ipaddress.IPv4Address(dst).packed) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, hlim,
                       ipaddress.IPv6Address(src).packed,
                       ipaddress.IPv6Address(dst).packed) + payload


def ipv6_frag(src, dst, nh, chunk, ident, off, mf):
    fh = struct.pack("!BBHI", nh, 0, (off & ~7) | (1 if mf else 0), ident)
    return ipv6(src, dst, 44, fh + chunk)


def tcp(sport, dport, flags="S", payload=b"", seq=1, ack=0):
    bits = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}
    f = sum(bits[c] for c in flags)
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, f, 65535, 0, 0) + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def arp(spa="10.0.0.1", tpa="10.0.0.2"):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MAC_A,
                       ipaddress.IPv4Address(spa).packed, b"\0" * 6,
                       ipaddress.IPv4Address(tpa).packed)
    return eth(0x0806, body, dst=b"\xff" * 6)


def nd_ns(src="fe80::1", target="fe80::2"):
    icmp = struct.pack("!BBHI16s", 135, 0, 0, 0, ipaddress.IPv6Address(target).packed)
    return eth(0x86DD, ipv6(src, "ff02::1:ff00:2", 58, icmp, hlim=255))


def v4_tcp(src, dst, sport, dport, flags="S", payload=b"", vlans=()):
    return eth(0x0800, ipv4(src, dst, 6, tcp(sport, dport, flags, payload)), vlans)


def v4_udp(src, dst, sport, dport, payload=b"", vlans=(), options=b""):
    return eth(0x0800, ipv4(src, dst, 17, udp(sport, dport, payload), options=options), vlans)


def v6_tcp(src, dst, sport, dport, flags="S", payload=b""):
    return eth(0x86DD, ipv6(src, dst, 6, tcp(sport, dport, flags, payload)))


def v6_udp(src, dst, sport, dport, payload=b""):
    return eth(0x86DD, ipv6(src, dst, 17, udp(sport, dport, payload)))


def v4_fragments(src, dst, proto, l4, sizes, ident):
    """Split an L4 segment into IPv4 fragments of the given payload sizes
    (multiples of 8 but the last); returns frames in offset order."""
    out, off = [], 0
    for i, n in enumerate(sizes):
        chunk = l4[off:off + n]
        last = i == len(sizes) - 1
        out.append(eth(0x0800, ipv4(src, dst, proto, chunk, ident=ident, frag_off=off, mf=not last)))
        off += n
    assert off == len(l4), "sizes must cover the segment"
    return out


# ---- pcap ---------------------------------------------------------------------

def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


# ---- symmetric hash -----------------------------------------------------------

KEY = bytes([0x6D, 0x5A] * 20)


def toeplitz(data, key=KEY):
    """Toeplitz hash over `data` (bytes), as rte_softrss computes it."""
    kbits = int.from_bytes(key, "big")
    klen = len(key) * 8
    h = 0
    for i in range(len(data) * 8):
        if data[i // 8] & (0x80 >> (i % 8)):
            h ^= (kbits >> (klen - 32 - i)) & 0xFFFFFFFF
    return h


def worker_of(src, dst, nworkers):
    a, b = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    return toeplitz(a + b) % nworkers


# ---- running the daemon -------------------------------------------------------

def brightline():
    exe = os.environ.get("BRIGHTLINE")
    if not exe:
        sys.exit("BRIGHTLINE is not set")
    return exe


class Workdir:
    """A temporary directory removed at exit, unless BL_KEEP is set."""

    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix="bl-%s." % name)

    def __call__(self, name):
        return os.path.join(self.path, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not os.environ.get("BL_KEEP"):
            shutil.rmtree(self.path, ignore_errors=True)


def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)


def replay(wd, frames, args=(), prefix="bl-it", timeout=90):
    """Run `brightline replay` over frames; returns (rc, out frames,
    verdict lines, stats json, stdout+stderr)."""
    inp, out, ver, st = wd("in.pcap"), wd("out.pcap"), wd("verdicts.jsonl"), wd("stats.json")
    write_pcap(inp, frames)
    cmd = [brightline(), "replay", "--file-prefix", prefix, "--out", out, "--verdicts", ver,
           "--stats-json", st] + list(args) + [inp]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    outf = read_pcap(out) if os.path.exists(out) else None
    verdicts = []
    if os.path.exists(ver):
        with open(ver) as f:
            verdicts = [json.loads(l) for l in f if l.strip()]
    stats = None
    if os.path.exists(st):
        with open(st) as f:
            stats = json.load(f)
    return p.returncode, outf, verdicts, stats, p.stdout + p.stderr


class Check:
    """Collects failures so a test reports all of them, then exits 1."""

    def __init__(self, name):
        self.name, self.failed = name, 0

    def eq(self, what, got, want):
        if got != want:
            self.failed += 1
            print("FAIL %s: %s: got %r, want %r" % (self.name, what, got, want))
        return got == want

    def true(self, what, cond):
        if not cond:
            self.failed += 1
            print("FAIL %s: %s" % (self.name, what))
        return cond

    def done(self):
        if self.failed:
            sys.exit(1)
        print("ok %s" % self.name)
