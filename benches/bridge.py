# SPDX-License-Identifier: BSD-3-Clause
"""bridge: 64-byte UDP through one brightline worker, against dpdk-testpmd.

Traffic: a pcap of 60-byte frames (64 on the wire), one per flow, 100,000
flows, replayed forever by net_pcap (rx_pcap=FILE,infinite_rx=1) into the
inside port; the outside port is net_null with no-rx=1, so it only frees
what it is given and neither side ever receives anything from it.

Baseline: dpdk-testpmd io-forwarding between the same two devices. Subject:
`brightline run` with one worker. Both run with -l 0,1 (main lcore on CPU 0,
the forwarding lcore on CPU 1), the same descriptors and mbuf count, one
after the other, alternating, each under its own --file-prefix.

Per run: wait until the outside port transmits, let it warm up, then read
the outside port's TX counter (telemetry) and the forwarding thread's
on-CPU time (schedstat) at the start and the end of a window. Speed is
packets transmitted per on-CPU second of that thread; the ratio of the box
to the testpmd run of the same round is the headline, median over rounds.
One more box run with --stage-timing gives ns per packet per stage (kept
apart so the timing's own cost does not weigh on the ratio).
"""
import json
import os
import subprocess
import time

from lib import bench, gen_pcap

NAME = "bridge"
DESCRIPTION = ("64-byte UDP, 100,000 flows, net_pcap -> net_null through one "
               "brightline worker; Mpps per on-CPU second as a ratio to "
               "dpdk-testpmd io forwarding, and ns per packet per stage")

IN_DEV, OUT_DEV = "net_pcap0", "net_null0"
LCORES, WORKER_LCORE = "0,1", 1
DESCS = 1024
TARGETS = ("dataplane/brightline",)
KEYS = ("ratio", "ratio_min", "ratio_max", "box_mpps_cpu", "testpmd_mpps_cpu",
        "parse_ns", "dist_ns", "flow_ns", "tx_ns", "box_ns", "testpmd_ns")
# The daemon's stage names (--stats-json workers[].stages) and their keys.
STAGES = (("parse", "parse_ns"), ("distribution", "dist_ns"), ("flow", "flow_ns"),
          ("tx", "tx_ns"))


def add_args(ap):
    ap.add_argument("--rounds", type=int, default=5,
                    help="baseline/box pairs, alternating (default 5, at least 3)")
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="measured window per run (default 5)")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="seconds of forwarding before the window (default 2)")
    ap.add_argument("--flows", type=int, default=100000,
                    help="distinct flows in the pcap (default 100000)")
    ap.add_argument("--baseline-only", action="store_true",
                    help="run dpdk-testpmd alone (to check the set-up)")
    ap.add_argument("--testpmd", default="dpdk-testpmd", help="testpmd binary")


def devargs(pcap):
    """The inside and outside devices, identical for both sides."""
    return ("%s,rx_pcap=%s,infinite_rx=1" % (IN_DEV, pcap), "%s,no-rx=1" % OUT_DEV)


def testpmd_proc(args, ctx, pcap, mbufs, tag):
    """dpdk-testpmd io-forwarding inside <-> outside on lcore 1."""
    prefix = "%s-tpmd%s" % (ctx.prefix, tag)
    inside, outside = devargs(pcap)
    argv = [args.testpmd, "-l", LCORES, "--main-lcore", "0", "--no-pci",
            "--file-prefix", prefix, "--vdev", inside, "--vdev", outside, "--",
            "-i", "--auto-start", "--forward-mode=io", "--nb-cores=1",
            "--rxq=1", "--txq=1", "--rxd=%d" % DESCS, "--txd=%d" % DESCS,
            "--burst=32", "--total-num-mbufs=%d" % mbufs]
    return bench.DpdkProc("testpmd" + tag, argv, prefix,
                          os.path.join(ctx.workdir, "testpmd%s.log" % tag),
                          stop=b"stop\nquit\n", lcore=WORKER_LCORE)


def box_config(ctx, mbufs, flows):
    """A config file sized for the run: EAL cores, flow table, mempool, descriptors."""
    path = os.path.join(ctx.workdir, "bridge.yaml")
    with open(path, "w") as f:
        f.write("# Written by benches/run bridge.\n"
                "eal:\n"
                "  l: \"%s\"\n"
                "  main-lcore: 0\n"
                "  no-pci: true\n"
                "workers: [%d]\n"
                "mempool: %d\n"
                "rx_desc: %d\n"
                "tx_desc: %d\n"
                "flow_table:\n"
                "  capacity: %d\n"
                % (LCORES, WORKER_LCORE, mbufs, DESCS, DESCS, flow_capacity(flows)))
    return path


def flow_capacity(flows):
    """A table that holds every flow of the pcap with room to spare."""
    cap = 1024
    while cap < flows * 5 // 4:
        cap *= 2
    return cap


def box_proc(ctx, conf, pcap, tag, stage_timing):
    """`brightline run` with one worker on lcore 1."""
    prefix = "%s-box%s" % (ctx.prefix, tag)
    inside, outside = devargs(pcap)
    stats = os.path.join(ctx.workdir, "box%s.json" % tag)
    if os.path.exists(stats):
        os.unlink(stats)
    argv = [ctx.brightline, "run", "--config", conf, "--inside", inside,
            "--outside", outside, "--workers", "1", "--file-prefix", prefix,
            "--stats-json", stats]
    if stage_timing:
        argv.append("--stage-timing")
    p = bench.DpdkProc("box" + tag, argv, prefix,
                       os.path.join(ctx.workdir, "box%s.log" % tag),
                       stop=None, lcore=WORKER_LCORE)
    p.stats_path = stats
    return p


def measure(p, args, ctx):
    """Run `p`, measure one window, stop it. Returns the window's numbers."""
    ctx.check_time()
    p.start()
    try:
        p.wait_forwarding(OUT_DEV)
        cpus = bench.thread_cpus(p.proc.pid, p.tid)
        time.sleep(args.warmup)
        a = p.sample(IN_DEV, OUT_DEV)
        time.sleep(args.seconds)
        b = p.sample(IN_DEV, OUT_DEV)
    finally:
        rc = p.stop()
    if b["out_rx"] != a["out_rx"]:
        raise bench.BenchError("%s received %d packets from %s (no-rx ignored?)"
                               % (p.name, b["out_rx"] - a["out_rx"], OUT_DEV))
    tx, rx = b["tx"] - a["tx"], b["in_rx"] - a["in_rx"]
    cpu_s, wall_s = (b["cpu_ns"] - a["cpu_ns"]) / 1e9, b["t"] - a["t"]
    if tx <= 0 or cpu_s <= 0:
        raise bench.BenchError("%s forwarded nothing in the window (see %s)"
                               % (p.name, p.logpath))
    r = {"mpps_cpu": tx / cpu_s / 1e6, "mpps_wall": tx / wall_s / 1e6,
         "cpu_share": cpu_s / wall_s, "tx": tx, "rx": rx, "rc": rc, "cpus": cpus}
    bench.log("%-10s %7.3f Mpps per CPU-s (%6.3f Mpps wall, thread on CPU %s %3.0f%% "
              "of the window, tx/rx %.4f, exit %s)"
              % (p.name, r["mpps_cpu"], r["mpps_wall"], cpus, 100 * r["cpu_share"],
                 tx / rx if rx else 0.0, rc))
    whole = whole_run(p, b["cpu_ns"])
    if whole:
        bench.log("%-10s %7.3f Mpps per CPU-s over the whole run (final counters)"
                  % (p.name, whole))
    if rc != 0:
        bench.log("warning: %s exited with %s (see %s)" % (p.name, rc, p.logpath))
    if cpus != str(WORKER_LCORE):
        bench.log("warning: %s forwarding thread may run on CPUs %s, not %d"
                  % (p.name, cpus, WORKER_LCORE))
    return r


def whole_run(p, cpu_ns):
    """The box's final TX count over its worker's on-CPU time read just
    before SIGINT (a cross-check of the window), or None for testpmd."""
    path = getattr(p, "stats_path", None)
    try:
        with open(path) as f:
            tx = json.load(f)["ports"]["outside"]["tx"]
    except (TypeError, OSError, ValueError, KeyError):
        return None
    return tx / (cpu_ns / 1e9) / 1e6 if cpu_ns > 0 else None


def tsc_hz(stats):
    """The worker TSC rate: from the stats file, else /proc/cpuinfo."""
    if stats.get("tsc_hz"):
        return float(stats["tsc_hz"]), "stats"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) * 1e6, "cpuinfo"
    return None, None


def stage_ns(path, flows):
    """{stage: ns per packet} from the box's --stats-json file, or {}.

    With one worker the distribution stage does no work (no hash, no
    handoff) and times no packet: it costs 0 ns per packet.
    """
    try:
        with open(path) as f:
            stats = json.load(f)
    except (OSError, ValueError) as e:
        bench.log("no stage timing: cannot read %s (%s)" % (path, e))
        return {}
    hz, src = tsc_hz(stats)
    workers = stats.get("workers", [])
    tracked = sum(w.get("flows", 0) for w in workers)
    if tracked != flows:
        bench.log("warning: the box tracked %d flows, the pcap has %d" % (tracked, flows))
    if not stats.get("totals", {}).get("balanced", False):
        bench.log("warning: the box's accounting does not balance (see %s)" % path)
    cycles, pkts = {}, {}
    for w in workers:
        for name, st in (w.get("stages") or {}).items():
            cycles[name] = cycles.get(name, 0) + st.get("cycles", 0)
            pkts[name] = pkts.get(name, 0) + st.get("packets", 0)
    if not hz or not any(cycles.values()):
        bench.log("no stage timing in %s" % path)
        return {}
    if src != "stats":
        bench.log("stage ns use the TSC rate from /proc/cpuinfo (%.0f MHz): "
                  "the stats file has no tsc_hz" % (hz / 1e6))
    ns = {n: cycles[n] * 1e9 / hz / pkts[n] for n in cycles if pkts.get(n)}
    if len(workers) == 1 and "distribution" in cycles and not pkts.get("distribution"):
        ns["distribution"] = 0.0
        bench.log("one worker: the distribution stage is skipped (dist_ns=0)")
    bench.log("stages, ns per packet: " + ", ".join(
        "%s %.1f" % (n, ns[n]) for n, _ in STAGES if n in ns))
    return ns


def box_ready(ctx):
    """Whether `brightline run` exists in this build."""
    if not os.access(ctx.brightline, os.X_OK):
        return False
    r = subprocess.run([ctx.brightline, "run", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return r.returncode == 0 and "--inside" in r.stdout


def run(args, ctx):
    """The benchmark; returns (RESULT pairs, exit code)."""
    if args.rounds < 3 and not args.baseline_only:
        raise bench.BenchError("--rounds must be at least 3")
    pcap = os.path.join(ctx.workdir, "bridge-%dflows-60B.pcap" % args.flows)
    if "," in pcap:
        raise bench.BenchError("the work folder must not contain a comma: " + pcap)
    if not os.path.exists(pcap):
        bench.log("writing %s" % pcap)
        gen_pcap.write(pcap, args.flows, 60)
    # net_pcap holds the whole capture in mbufs, plus rings and caches.
    mbufs = args.flows + 65536
    need = mbufs * 2560 // (2 << 20) + 64
    if bench.hugepages_free() < need:
        raise bench.BenchError("only %d free 2 MiB hugepages, need %d (run scripts/setup.sh)"
                               % (bench.hugepages_free(), need))

    with_box = not args.baseline_only
    if with_box and not box_ready(ctx):
        raise bench.BenchError("%s has no `run` command yet (use --baseline-only)"
                               % ctx.brightline)
    conf = box_config(ctx, mbufs, args.flows) if with_box else None

    base, box, ratios = [], [], []
    for r in range(args.rounds):
        order = ("base", "box") if r % 2 == 0 else ("box", "base")
        got = {}
        for side in order:
            if side == "base":
                got[side] = measure(testpmd_proc(args, ctx, pcap, mbufs, str(r)), args, ctx)
            elif with_box:
                got[side] = measure(box_proc(ctx, conf, pcap, str(r), False), args, ctx)
        base.append(got["base"]["mpps_cpu"])
        if with_box:
            box.append(got["box"]["mpps_cpu"])
            ratios.append(got["box"]["mpps_cpu"] / got["base"]["mpps_cpu"])
            bench.log("round %d: ratio %.3f" % (r + 1, ratios[-1]))

    ns = {}
    if with_box:
        p = box_proc(ctx, conf, pcap, "-stages", True)
        measure(p, args, ctx)
        ns = stage_ns(p.stats_path, args.flows)

    ratio = bench.spread(ratios) if ratios else (None, None, None)
    pairs = [("ratio", bench.fmt(ratio[0])), ("ratio_min", bench.fmt(ratio[1])),
             ("ratio_max", bench.fmt(ratio[2])),
             ("box_mpps_cpu", bench.fmt(bench.spread(box)[0] if box else None, 2)),
             ("testpmd_mpps_cpu", bench.fmt(bench.spread(base)[0], 2))]
    pairs += [(key, bench.fmt(ns.get(stage), 1)) for stage, key in STAGES]
    # Whole cost per packet on the forwarding CPU; stages leave out the RX
    # burst and the loop itself.
    pairs += [("box_ns", bench.fmt(1e3 / bench.spread(box)[0] if box else None, 1)),
              ("testpmd_ns", bench.fmt(1e3 / bench.spread(base)[0], 1)),
              ("rounds", str(args.rounds))]
    return pairs, 0
