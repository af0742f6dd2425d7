#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""blctl stats as a table, against a stand-in daemon on a Unix socket.

The stand-in answers each `stats` request with a fixed stats object (the
shape dataplane/stats.c writes), once with "rules_settled": true and once
with false, and checks what blctl prints from it: the totals, the rule
counters, the meters, the drop reasons that are not zero, and the lag line exactly
when a worker did not settle its flows (a real daemon shows that only
with a table too large for a test to hold).
Usage: blctl_stats.py BLCTL
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading


def stats_object(settled):
    return {
        "policy_generation": 7, "tsc_hz": 2000000000, "rules_settled": settled,
        "totals": {"rx": 1000, "tx": 990, "dropped": 10, "held": 0, "generated": 2,
                   "balanced": True},
        "ports": {"inside": {"name": "net_pcap0", "rx": 1000, "tx": 0, "imissed": 0,
                             "rx_nombuf": 0},
                  "outside": {"name": "net_pcap1", "rx": 0, "tx": 990, "imissed": 0,
                              "rx_nombuf": 0}},
        "workers": [{"rx": 1000, "tx": 990, "flows": 4, "events_lost": 0}],
        "rules": {"web": {"packets": 990, "bytes": 99000},
                  "block-bad": {"packets": 10, "bytes": 600}},
        "drops": {"policy": 10, "malformed": 0},
        "meters": {"slots": 3, "reclaimed": 5, "late_merged": 1, "late_lost": 0},
    }


def serve(sock, replies):
    """Answer one request per connection with the next reply object."""
    for settled in replies:
        conn, _ = sock.accept()
        with conn:
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
            req = json.loads(buf)
            assert req["cmd"] == "stats", req
            reply = {"v": 1, "id": req["id"], "ok": True, "result": stats_object(settled)}
            conn.sendall(json.dumps(reply).encode() + b"\n")


def main():
    blctl = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory(prefix="blctl_stats.") as tmp:
        path = os.path.join(tmp, "control.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(1)
        sock.settimeout(20)
        cases = (True, False)
        t = threading.Thread(target=serve, args=(sock, cases), daemon=True)
        t.start()
        for settled in cases:
            p = subprocess.run([blctl, "-s", path, "-t", "10", "stats"], capture_output=True,
                               text=True, timeout=30)
            out = p.stdout
            lines = out.splitlines()
            if p.returncode != 0:
                failures.append("settled=%s: exit %d: %s" % (settled, p.returncode, p.stderr))
                continue
            rules = ["%-32s %14d %16d" % ("web", 990, 99000),
                     "%-32s %14d %16d" % ("block-bad", 10, 600)]
            want = ["generation 7  rx 1000  tx 990  dropped 10  held 0  generated 2  (balanced)",
                    "%-32s %14d" % ("policy", 10),
                    "meters: slots 3  reclaimed 5  late charges merged 1  lost 0"] + rules
            for w in want:
                if w not in lines:
                    failures.append("settled=%s: no line %r in:\n%s" % (settled, w, out))
            if any(l.startswith("malformed") for l in lines):
                failures.append("settled=%s: a zero drop reason printed" % settled)
            lag = [l for l in lines if l.startswith("(rule counters may lag")]
            if settled and lag:
                failures.append("settled reply printed the lag line")
            if not settled:
                last_rule = max((lines.index(r) for r in rules if r in lines), default=-2)
                ok = len(lag) == 1 and lines.index(lag[0]) == last_rule + 1
                if not ok:
                    failures.append("unsettled reply: no lag line right after the rules:\n%s"
                                    % out)
        t.join(5)
        sock.close()
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    if not failures:
        print("blctl stats: totals, rules, drops and the lag line as expected (2 replies)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
