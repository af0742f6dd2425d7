#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A paced raw-socket sender and a counting sink, each a process of its own,
for traffic through the box while it is being changed (update-under-load).

    rawtraffic.py send IFACE SPEC.json OUT.json
    rawtraffic.py sink IFACE OUT.json

Both run inside a network namespace (`ip netns exec NS ...`) on one end of
a veth whose other end the box reads with net_af_packet.

send: SPEC is {"flows": [[class, frame-hex], ...], "pps": R, "seconds": S,
"burst": B}: frames are sent round robin over the flows at R packets a
second (0: as fast as it can) for S seconds or until SIGTERM, at most B
frames at a time when it has fallen behind (so a stall of the sender is not
followed by a flood). OUT gets {"sent": {class: n}, "errors": n,
"seconds": s, "late_ms": worst lag}.

sink: counts every frame whose payload carries the MARK, by class (the byte
after MARK), until SIGTERM; OUT gets {"got": {class: n}, "other": n,
"kernel_drops": n} (kernel_drops: frames the socket's buffer could not
take, PACKET_STATISTICS; they count against the sink, not the box).
"""
import json
import os
import signal
import socket
import struct
import sys
import time

MARK = b"BLUPDLD"
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6

stop = False


def on_term(*_):
    global stop
    stop = True


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.rename(path + ".tmp", path)


def send(iface, spec_path, out_path):
    """Paced sending of SPEC's frames; counts per class."""
    with open(spec_path) as f:
        spec = json.load(f)
    flows = [(c, bytes.fromhex(h)) for c, h in spec["flows"]]
    pps, seconds, burst = float(spec["pps"]), float(spec["seconds"]), int(spec.get("burst", 64))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    sent = {}
    errors = 0
    late = 0.0
    n = len(flows)
    i = 0
    t0 = time.monotonic()
    end = t0 + seconds
    while not stop:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - t0) * pps) if pps > 0 else i + burst
        if due <= i:
            # ahead of time: sleep until the next frame is due
            time.sleep(min(0.001, (i + 1) / pps - (now - t0)))
            continue
        late = max(late, (due - i) / pps * 1e3 if pps > 0 else 0.0)
        k = min(due - i, burst)
        for _ in range(k):
            c, fr = flows[i % n]
            try:
                s.send(fr)
                sent[c] = sent.get(c, 0) + 1
            except OSError:
                errors += 1
            i += 1
        if pps > 0 and due - i > burst:
            # fallen behind by more than a burst: let the schedule slip
            # rather than send a flood (the rate is what matters, not the count)
            t0 += (due - i) / pps
    write_json(out_path, {"sent": sent, "errors": errors,
                          "seconds": time.monotonic() - (end - seconds), "late_ms": late})


def sink(iface, out_path):
    """Count marked frames by class until SIGTERM."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE (root)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    s.bind((iface, 0))
    s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)  # reset the kernel's counts
    s.settimeout(0.2)
    got = {}
    other = 0
    buf = bytearray(2048)
    ml = len(MARK)
    with open(out_path + ".ready", "w"):
        pass
    while not stop:
        try:
            nbytes, addr = s.recvfrom_into(buf)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        at = buf.find(MARK, 0, nbytes)
        if at < 0 or at + ml >= nbytes:
            other += 1
            continue
        c = chr(buf[at + ml])
        got[c] = got.get(c, 0) + 1
    _, drops = struct.unpack("II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    write_json(out_path, {"got": got, "other": other, "kernel_drops": drops})


def main():
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if len(sys.argv) == 5 and sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "sink":
        sink(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
