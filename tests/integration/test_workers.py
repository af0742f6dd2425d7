#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`brightline run --workers 2` on net_pcap in both directions: both
directions of 1,000 flows are judged by the worker the symmetric hash of
the address pair names, the handoff counters match that prediction, and
each flow's packets leave in order. Every third reply carries IP options:
the worker that receives it takes its hash from the parsed record, while
its flow's other packets are hashed from the express lane's key, and both
must name the same worker; that reply is parsed once, by the worker that
receives it, and judged on that parse by the one that owns its flow."""
import json
import subprocess
from blpkt import *

c = Check("workers")
N = 1000
fwd, rev, pairs = [], [], []
for i in range(N):
    cl, sv = "10.10.%d.%d" % (i // 250, i % 250 + 1), "172.16.%d.1" % (i % 7)
    pairs.append((cl, sv, 20000 + i))
    fwd.append(v4_udp(cl, sv, 20000 + i, 53, b"a%04d" % i))
    rev.append(v4_udp(sv, cl, 53, 20000 + i, b"r%04d" % i,
                      options=b"\x01\x01\x01\x00" if i % 3 == 0 else b""))
for i in range(N):  # a second packet per flow from the client, to check order
    fwd.append(v4_udp(pairs[i][0], pairs[i][1], pairs[i][2], 53, b"b%04d" % i))
want_worker = [worker_of(cl, sv, 2) for cl, sv, _ in pairs]

with Workdir("workers") as wd:
    write_pcap(wd("in-rx.pcap"), fwd)
    write_pcap(wd("out-rx.pcap"), rev)
    write_config(wd("c.yaml"), "eal: {no-huge: true, no-shconf: true, no-pci: true, m: 512}\n")
    cmd = [brightline(), "run", "--config", wd("c.yaml"), "--file-prefix", "bl-it-workers",
           "--workers", "2", "--duration", "4",
           "--inside", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (wd("in-rx.pcap"), wd("in-tx.pcap")),
           "--outside", "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (wd("out-rx.pcap"), wd("out-tx.pcap")),
           "--verdicts", wd("v.jsonl"), "--stats-json", wd("s.json"), "--stage-timing"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    c.eq("exit code", p.returncode, 0) or print(p.stdout + p.stderr)
    out_tx, in_tx = read_pcap(wd("out-tx.pcap")), read_pcap(wd("in-tx.pcap"))
    c.eq("inside traffic leaves by the outside port", sorted(out_tx), sorted(fwd))
    c.eq("outside traffic leaves by the inside port", sorted(in_tx), sorted(rev))
    pos = {f: k for k, f in enumerate(out_tx)}
    c.true("per-flow order kept", all(pos.get(fwd[i], -1) < pos.get(fwd[N + i], -1) for i in range(N)))
    with open(wd("v.jsonl")) as f:
        v = [json.loads(l) for l in f]
    # a flow's line is oriented by whichever direction a worker saw first
    flows = {}
    for x in v:
        f = x.get("flow") or {}
        if f.get("sport") == 53:
            flows[(f["dst"], f["src"], f["dport"])] = x
        elif f:
            flows[(f["src"], f["dst"], f["sport"])] = x
    c.eq("one verdict line per flow", (len(v), len(flows)), (N, N))
    c.eq("no flow split over workers", sum(1 for x in v if x.get("worker_mismatch")), 0)
    c.eq("three packets per flow", {x["packets"] for x in v}, {3})
    got_worker = [flows.get(k, {}).get("worker") for k in pairs]
    c.eq("worker = symmetric hash % 2", got_worker, want_worker)
    c.true("both workers used", 0 < sum(want_worker) < N)
    with open(wd("s.json")) as f:
        s = json.load(f)
    w0, w1 = s["workers"]
    # inside is polled by worker 0, outside by worker 1 (one queue per vdev)
    ones = sum(want_worker)
    c.eq("handoff_out predicted", (w0["handoff_out"], w1["handoff_out"]), (2 * ones, N - ones))
    c.eq("handoff_in matches", (w1["handoff_in"], w0["handoff_in"]), (2 * ones, N - ones))
    c.eq("no handoff drops", (w0["handoff_drop"], w1["handoff_drop"]), (0, 0))
    t = s["totals"]
    c.eq("accounting", (t["rx"], t["tx"], t["dropped"], t["balanced"]), (3 * N, 3 * N, 0, True))
    # each packet keyed or parsed once: a reply with options is parsed by
    # the worker that receives it (for its hash) and judged on that parse
    # by the one that owns its flow
    c.eq("one parse stage pass per packet",
         w0["stages"]["parse"]["packets"] + w1["stages"]["parse"]["packets"], 3 * N)
c.done()
