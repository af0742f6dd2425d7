# SPDX-License-Identifier: BSD-3-Clause
"""l4-forward: 64-byte UDP through one brightline worker judging a
10,000-rule policy, against dpdk-testpmd on the same pcap and devices.

Policy (lib/gen_policy.py): 10,000 ordered rules of a perimeter box with
prefixes of mixed lengths from the test data's lists (synthesized when the
data is absent), port ranges, wildcards, both directions, IPv6, VLAN, `log`
and prefix-list rules, then `default: drop`. Traffic: outbound UDP/IPv4
flows the policy allows, each generated inside the addresses and ports of an
allow rule drawn across the whole rule list and checked with an exact
first-match reference, so every packet is forwarded and the lookups land
all over the rule set.

Two measurements, each a ratio of packets transmitted per on-CPU second of
the forwarding thread (box / testpmd io forwarding of the same pcap):

- ratio: every packet on an established flow. A pcap of --flows distinct
  flows (one packet each) replayed forever: after the first pass every
  packet hits its flow. Steady window after a warm-up, as in `bridge`.
- ratio_new: every packet a new flow (parse, flow miss, policy lookup,
  insert). A pcap of --new-flows distinct flows and a flow table that holds
  all of them with the default timeouts: the first pass through the pcap
  is all new flows, every later pass all hits. The bench polls the counters
  as fast as telemetry answers and measures the window between the first
  sample past 5% of the first pass and the last sample before its end.
  (Eviction cannot make later passes new: evict-idle needs a flow idle for
  a second, i.e. a pcap longer than a second of traffic, and net_pcap holds
  the pcap in mbufs, ~2.5 kB each in hugepages.)
  new_share is a lower bound from the box's final counters of the share of
  the window's packets that created a flow: the first-pass hits (total hits
  minus the packets received after the first pass, all hits when nothing
  was evicted or expired) counted against the window.

A run is valid only when the box transmitted at least 99.9% of what it
received in every window; otherwise the RESULT says valid=false, exit 1.
Stage ns come from separate --stage-timing runs (established traffic; the
first pass of the new-flow pcap gives flow_new_ns).
"""
import json
import os
import time

import bridge
from lib import bench, gen_pcap, gen_policy

NAME = "l4-forward"
DESCRIPTION = ("64-byte UDP through one worker with a 10,000-rule policy; established "
               "and new-flow Mpps per on-CPU second as ratios to dpdk-testpmd")
TARGETS = ("dataplane/brightline",)
KEYS = ("ratio", "ratio_min", "ratio_max", "ratio_new", "ratio_new_min", "ratio_new_max",
        "new_share", "tx_rx", "parse_ns", "dist_ns", "flow_ns", "tx_ns", "rules", "valid",
        "flow_new_ns", "allow_rules")
IN_DEV, OUT_DEV = bridge.IN_DEV, bridge.OUT_DEV
MIN_TX_RX = 0.999
FRAME = 60  # bytes in the file, 64 on the wire


def add_args(ap):
    ap.add_argument("--rounds", type=int, default=5,
                    help="rounds of testpmd/box pairs for both traffics (default 5, at least 3; "
                         "single rounds here range over a factor of 1.5)")
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="established: measured window per run (default 5)")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="established: forwarding before the window (default 2)")
    ap.add_argument("--flows", type=int, default=10000,
                    help="established: distinct flows cycling (default 10000)")
    ap.add_argument("--new-flows", type=int, default=300000,
                    help="new flows: distinct flows of the first pass (default 300000)")
    ap.add_argument("--rules", type=int, default=10000, help="policy rules (default 10000)")
    ap.add_argument("--testpmd", default="dpdk-testpmd", help="testpmd binary")


def ip4(a):
    return a.to_bytes(4, "big")


def write_traffic(path, flows):
    """One 60-byte frame per flow, in the given order."""
    gen_pcap.write_frames(path, (gen_pcap.udp4_frame(ip4(s), ip4(d), sp, dp, FRAME, i)
                                 for i, (s, d, sp, dp) in enumerate(flows)))


def prepare(args, ctx):
    """Policy, its check, and both pcaps (kept between runs when unchanged)."""
    policy, rules, lists, desc = gen_policy.rules_policy(ctx.workdir, args.rules)
    bench.log("policy %s: %s" % (policy, desc))
    need = args.flows + args.new_flows
    tag = "%drules-%d+%d" % (args.rules, args.flows, args.new_flows)
    est = os.path.join(ctx.workdir, "est-%s.pcap" % tag)
    new = os.path.join(ctx.workdir, "new-%s.pcap" % tag)
    if "," in est:
        raise bench.BenchError("the work folder must not contain a comma: " + est)
    meta = os.path.join(ctx.workdir, "traffic-%s.json" % tag)
    if not (os.path.exists(est) and os.path.exists(new) and os.path.exists(meta)):
        bench.log("picking %d allowed flows (exact first-match reference)" % need)
        flows, by_rule = gen_policy.allowed_flows(rules, lists, need)
        write_traffic(est, flows[:args.flows])
        write_traffic(new, flows[args.flows:])
        with open(meta, "w") as f:
            json.dump({str(k): v for k, v in by_rule.items()}, f)
    with open(meta) as f:
        by_rule = {int(k): v for k, v in json.load(f).items()}
    idx = sorted(by_rule)
    bench.log("traffic allowed by %d distinct rules, rule index %d..%d (median %d)"
              % (len(idx), idx[0], idx[-1], idx[len(idx) // 2]))
    return policy, est, new, len(idx)


def box_config(ctx, name, mbufs, flows, policy):
    """A config: EAL cores, flow table for every flow, mempool, the policy."""
    path = os.path.join(ctx.workdir, name + ".yaml")
    with open(path, "w") as f:
        f.write("# Written by benches/run l4-forward.\n"
                "eal:\n  l: \"%s\"\n  main-lcore: 0\n  no-pci: true\n"
                "workers: [%d]\nmempool: %d\nrx_desc: %d\ntx_desc: %d\n"
                "flow_table:\n  capacity: %d\n  full: drop-new\n"
                "policy: %s\n"
                % (bridge.LCORES, bridge.WORKER_LCORE, mbufs, bridge.DESCS, bridge.DESCS,
                   bridge.flow_capacity(flows), policy))
    return path


def final_stats(p):
    try:
        with open(p.stats_path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise bench.BenchError("%s left no stats (%s; see %s)" % (p.name, e, p.logpath))


def first_pass(p, n, ctx):
    """Run box `p` over a pcap of n distinct flows and measure the window
    inside the first pass (every packet a new flow). Returns the numbers."""
    ctx.check_time()
    p.start()
    samples = []
    try:
        deadline = time.monotonic() + 120
        while not p.tel.connect():
            if p.proc.poll() is not None or time.monotonic() > deadline:
                raise bench.BenchError("%s did not start (see %s)" % (p.name, p.logpath))
            time.sleep(0.005)
        while IN_DEV not in p.ports or OUT_DEV not in p.ports:
            p.ports = p.tel.port_ids()
            time.sleep(0.005)
        while True:
            try:
                p.tid = bench.find_worker_tid(p.proc.pid, bridge.WORKER_LCORE)
                break
            except bench.BenchError:
                if p.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        cpus = bench.thread_cpus(p.proc.pid, p.tid)
        while True:
            if p.proc.poll() is not None or time.monotonic() > deadline:
                raise bench.BenchError("%s stopped or stalled in the first pass (see %s)"
                                       % (p.name, p.logpath))
            s = p.sample(IN_DEV, OUT_DEV)
            samples.append(s)
            if s["in_rx"] > n and s["tx"] > 0:
                break
            if s["in_rx"] == 0:
                time.sleep(0.002)
    finally:
        rc = p.stop()
    # net_pcap counts its preload of the pcap in ipackets, then resets the
    # counter: only samples once the worker transmits count.
    live = [k for k, s in enumerate(samples) if s["tx"] > 0]
    inside = [s for s in samples[live[0] if live else len(samples):]
              if 0.05 * n <= s["in_rx"] <= n]
    if len(inside) < 2 or inside[-1]["in_rx"] - inside[0]["in_rx"] < n // 2:
        raise bench.BenchError("%s: too few samples in the first pass (%d of %d; more "
                               "--new-flows?)" % (p.name, len(inside), len(samples)))
    a, b = inside[0], inside[-1]
    tx, rx = b["tx"] - a["tx"], b["in_rx"] - a["in_rx"]
    cpu_s = (b["cpu_ns"] - a["cpu_ns"]) / 1e9
    st = final_stats(p)
    w = st["workers"][0]
    ft = w["flow_table"]
    rx_total = w["rx"]
    gone = ft.get("evicted_idle", 0) + ft.get("expired", 0) + ft.get("removed", 0)
    hits_first = ft["hits"] - (max(0, rx_total - n) if gone == 0 else 0)
    new_share = 1.0 - min(max(hits_first, 0), rx) / rx if rx else 0.0
    r = {"mpps_cpu": tx / cpu_s / 1e6, "tx": tx, "rx": rx, "rc": rc, "cpus": cpus,
         "new_share": new_share, "stats": st}
    bench.log("%-10s %7.3f Mpps per CPU-s over %d new-flow packets (%.0f ms, %d samples, "
              "tx/rx %.4f; run: rx %d, inserts %d, hits %d, evicted+expired %d, "
              "new share >= %.4f, exit %s)"
              % (p.name, r["mpps_cpu"], rx, 1e3 * (b["t"] - a["t"]), len(inside),
                 tx / rx if rx else 0, rx_total, ft["inserts"], ft["hits"], gone,
                 new_share, rc))
    if rc != 0:
        bench.log("warning: %s exited with %s (see %s)" % (p.name, rc, p.logpath))
    return r


def flow_ns(st):
    """ns per packet of the flow stage from a final stats object."""
    hz = st.get("tsc_hz")
    fl = st["workers"][0].get("stages", {}).get("flow", {})
    return fl["cycles"] * 1e9 / hz / fl["packets"] if hz and fl.get("packets") else None


def run(args, ctx):
    """The benchmark; returns (RESULT pairs, exit code)."""
    if args.rounds < 3:
        raise bench.BenchError("--rounds must be at least 3")
    if not bridge.box_ready(ctx):
        raise bench.BenchError("%s has no `run` command" % ctx.brightline)
    policy, est, new, allow_rules = prepare(args, ctx)
    mb_est, mb_new = args.flows + 65536, args.new_flows + 65536
    need = mb_new * 2560 // (2 << 20) + 64 + 200  # + the policy (ACL, FIBs)
    if bench.hugepages_free() < need:
        raise bench.BenchError("only %d free 2 MiB hugepages, need %d (run scripts/setup.sh)"
                               % (bench.hugepages_free(), need))
    conf_est = box_config(ctx, "est", mb_est, args.flows, policy)
    conf_new = box_config(ctx, "new", mb_new, args.new_flows, policy)

    ratios, ratios_new, shares, tx_rx = [], [], [], []
    for r in range(args.rounds):
        for kind in ("est", "new"):
            order = ("base", "box") if r % 2 == 0 else ("box", "base")
            got = {}
            for side in order:
                tag = "-%s%d" % (kind, r)
                pcap, mbufs = (est, mb_est) if kind == "est" else (new, mb_new)
                if side == "base":
                    got[side] = bridge.measure(bridge.testpmd_proc(args, ctx, pcap, mbufs, tag),
                                               args, ctx)
                elif kind == "est":
                    got[side] = bridge.measure(bridge.box_proc(ctx, conf_est, pcap, tag, False),
                                               args, ctx)
                else:
                    got[side] = first_pass(bridge.box_proc(ctx, conf_new, pcap, tag, False),
                                           args.new_flows, ctx)
            ratio = got["box"]["mpps_cpu"] / got["base"]["mpps_cpu"]
            tx_rx.append(got["box"]["tx"] / got["box"]["rx"] if got["box"]["rx"] else 0.0)
            if kind == "est":
                ratios.append(ratio)
            else:
                ratios_new.append(ratio)
                shares.append(got["box"]["new_share"])
            bench.log("round %d %s: ratio %.3f" % (r + 1, kind, ratio))

    p = bridge.box_proc(ctx, conf_est, est, "-stages", True)
    bridge.measure(p, args, ctx)
    ns = bridge.stage_ns(p.stats_path, args.flows)
    p = bridge.box_proc(ctx, conf_new, new, "-stages-new", True)
    fnew = flow_ns(first_pass(p, args.new_flows, ctx)["stats"])
    bench.log("new flows: flow stage %.1f ns per packet (first pass, --stage-timing)"
              % (fnew or 0))

    valid = min(tx_rx) >= MIN_TX_RX
    if not valid:
        bench.log("INVALID: the box transmitted only %.4f of what it received (needs %.3f)"
                  % (min(tx_rx), MIN_TX_RX))
    est_s, new_s = bench.spread(ratios), bench.spread(ratios_new)
    pairs = [("ratio", bench.fmt(est_s[0])), ("ratio_min", bench.fmt(est_s[1])),
             ("ratio_max", bench.fmt(est_s[2])), ("ratio_new", bench.fmt(new_s[0])),
             ("ratio_new_min", bench.fmt(new_s[1])), ("ratio_new_max", bench.fmt(new_s[2])),
             ("new_share", bench.fmt(min(shares), 4)), ("tx_rx", bench.fmt(min(tx_rx), 4))]
    pairs += [(key, bench.fmt(ns.get(stage), 1)) for stage, key in bridge.STAGES]
    pairs += [("rules", str(args.rules)), ("valid", "true" if valid else "false"),
              ("flow_new_ns", bench.fmt(fnew, 1)), ("allow_rules", str(allow_rules))]
    return pairs, 0 if valid else 1
