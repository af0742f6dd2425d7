# SPDX-License-Identifier: BSD-3-Clause
"""Helpers of the actions integration tests (test_actions_*.py): run
`brightline run` with a policy on net_pcap in both directions, and parse the
frames that came out, checksums verified independently here."""

import ipaddress
import json
import os
import struct
import subprocess

from blpkt import brightline, csum, read_pcap, write_config, write_pcap

EAL = "eal: {no-huge: true, no-shconf: true, no-pci: true, m: 512}\n"


def run(wd, policy, inside=(), outside=(), cfg="", workers=1, prefix="bl-it-act",
        duration=3, state_dir=None):
    """Run the daemon over `inside` (entering the inside port) and `outside`
    frames with `policy` (YAML text). Returns (rc, inside tx frames, outside
    tx frames, stats json or None, log)."""
    write_pcap(wd("in-rx.pcap"), list(inside))
    write_pcap(wd("out-rx.pcap"), list(outside))
    with open(wd("policy.yaml"), "w") as f:
        f.write(policy)
    write_config(wd("c.yaml"), EAL + "policy: %s\nstate_dir: %s\n%s" % (
        wd("policy.yaml"), state_dir or wd("state"), cfg))
    for p in ("in-tx.pcap", "out-tx.pcap", "s.json"):
        if os.path.exists(wd(p)):
            os.unlink(wd(p))
    cmd = [brightline(), "run", "--config", wd("c.yaml"), "--file-prefix", prefix,
           "--workers", str(workers), "--duration", str(duration),
           "--inside", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (wd("in-rx.pcap"), wd("in-tx.pcap")),
           "--outside", "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (wd("out-rx.pcap"), wd("out-tx.pcap")),
           "--stats-json", wd("s.json")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    stats = None
    if os.path.exists(wd("s.json")):
        with open(wd("s.json")) as f:
            stats = json.load(f)
    return (p.returncode, read_pcap(wd("in-tx.pcap")), read_pcap(wd("out-tx.pcap")), stats,
            p.stdout + p.stderr)


def _pseudo(fam, src, dst, length, proto):
    if fam == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def parse(frame):
    """A frame as a dict: macs, vlans, family, addresses, ttl, proto, and
    the L4 fields; `cksum_ok` says every checksum present verifies."""
    d = {"dst_mac": frame[0:6], "src_mac": frame[6:12], "vlans": [], "cksum_ok": True}
    off = 12
    et = struct.unpack("!H", frame[off:off + 2])[0]
    while et in (0x8100, 0x88A8):
        d["vlans"].append(struct.unpack("!H", frame[off + 2:off + 4])[0] & 0xFFF)
        off += 4
        et = struct.unpack("!H", frame[off:off + 2])[0]
    off += 2
    d["l2_len"] = off
    ip = frame[off:]
    if et == 0x0800:
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        d.update(family=4, ttl=ip[8], proto=ip[9], src=ip[12:16], dst=ip[16:20], ip_len=tot)
        d["cksum_ok"] &= csum(ip[:ihl]) == 0
        l4 = ip[ihl:tot]
    elif et == 0x86DD:
        plen = struct.unpack("!H", ip[4:6])[0]
        d.update(family=6, ttl=ip[7], proto=ip[6], src=ip[8:24], dst=ip[24:40], ip_len=40 + plen)
        l4 = ip[40:40 + plen]
    else:
        d["family"] = 0
        return d
    d["trailing"] = len(ip) - d["ip_len"]
    d["l4"] = l4
    fam, proto = d["family"], d["proto"]
    if proto == 1:
        d["cksum_ok"] &= csum(l4) == 0
    elif proto in (6, 17, 58):
        d["cksum_ok"] &= csum(_pseudo(fam, d["src"], d["dst"], len(l4), proto) + l4) == 0
    if proto == 6:
        sp, dp, seq, ack, doff, fl, win = struct.unpack("!HHIIBBH", l4[:16])
        d.update(sport=sp, dport=dp, seq=seq, ack=ack, doff=doff >> 4, flags=fl, win=win)
    elif proto == 17:
        d.update(sport=struct.unpack("!H", l4[0:2])[0], dport=struct.unpack("!H", l4[2:4])[0])
    elif proto in (1, 58):
        d.update(type=l4[0], code=l4[1], quote=l4[8:])
    return d


def addr(s):
    return ipaddress.ip_address(s).packed
