# SPDX-License-Identifier: BSD-3-Clause
"""policy-update: what a `blctl policy load` costs the running box.

The box runs on net_af_packet veths between two namespaces
(lib/update_load.py on scripts/netns.sh; hugepage memory, one worker on
lcore 1 / CPU 1, main lcore, control thread, sender and sink on CPU 0).

1. Under load: the box's rate without updates is measured (the raw-socket
   sender flat out for 3 s, lib/rawtraffic.py); then the sender offers half
   that rate while blctl alternates two policies of 100,000 list entries
   (--updates times, 100). `lost` = sent - received by the sink - dropped by
   policy (the policies are built so every packet's verdict is known),
   broken down into the kernel's RX ring (sent, not received by the box;
   net_af_packet in DPDK 22.11 does not report it as imissed), imissed,
   rx_nombuf and after the box.
2. Scale: one list of 1,000 / 100,000 / 1,000,000 prefixes
   (lib/gen_policy.list_policy, as policy-build uses) loaded --runs times
   each into the idle box (the worker polling).

Per load the daemon reports (blctl -j): build_ms (compile and build of the
runtime object, beside the running one), publish_us (the one atomic
pointer store workers see), grace_us (the control thread's wait for every
worker's quiescent state, rte_rcu_qsbr_synchronize), free_us (freeing the
previous object afterwards). Workers never wait for any of them.
"""
import os
import statistics

from lib import bench, gen_policy, update_load as ul

NAME = "policy-update"
DESCRIPTION = ("packets lost while blctl alternates two 100k-entry policies 100 times under "
               "load; build and publish times of 1k/100k/1M-entry policies")
TARGETS = ("dataplane/brightline", "control/blctl")
SIZES = (("1m", 1000000), ("100k", 100000), ("1k", 1000))
KEYS = ("lost", "build_1m_ms", "build_100k_ms", "build_1k_ms", "publish_us", "grace_us",
        "updates", "publish_max_us", "grace_max_us", "free_us", "publish_1m_us", "grace_1m_us",
        "free_1m_us", "load_100k_ms", "offered_pps", "box_pps", "sent", "received",
        "policy_dropped", "lost_ring", "lost_imissed", "lost_nombuf", "lost_after", "runs")


def add_args(ap):
    ap.add_argument("--updates", type=int, default=100,
                    help="policy loads under load (default 100)")
    ap.add_argument("--runs", type=int, default=3,
                    help="loads per size for the build and publish times (default 3)")
    ap.add_argument("--sizes", default="1k,100k,1m",
                    help="list sizes to time (default 1k,100k,1m)")


def med(loads, key):
    vals = [l[key] for l in loads if key in l]
    return statistics.median(vals) if vals else None


def scale(box, ctx, n, tag, runs, small):
    """Load a list policy of n prefixes `runs` times; the replies. Before
    each load of a 1M-entry policy the small one is loaded, so that at most
    one 1M object (about 800 MiB) and the one being built are in memory."""
    path, desc = gen_policy.list_policy(ctx.workdir, n)
    bench.log("%s: %s" % (os.path.basename(path), desc))
    out = []
    for k in range(runs):
        ctx.check_time()
        if n >= 1000000:
            ul.load(box, small)
        rc, r, text, ms = ul.load(box, path)
        if rc:
            raise bench.BenchError("loading %s failed: %s" % (path, text[-300:]))
        r["wall_ms"] = ms
        out.append(r)
        bench.log("%-4s load %d: build %.1f ms, publish %.2f us, grace %.0f us, free %.0f us, "
                  "blctl %.0f ms, %.0f MiB" % (tag, k + 1, r["build_ms"], r["publish_us"],
                                               r.get("grace_us", 0), r.get("free_us", 0), ms,
                                               r.get("mem_bytes", 0) / 1048576.0))
    return out


def run(args, ctx):
    """The benchmark; returns (RESULT pairs, exit code)."""
    if args.updates < 2 or args.runs < 1:
        raise bench.BenchError("--updates must be at least 2 and --runs at least 1")
    sizes = [s for s in SIZES if s[0] in args.sizes.split(",")]
    if bench.hugepages_free() < 512:
        raise bench.BenchError("fewer than 512 free hugepages (scripts/setup.sh)")
    blctl = os.path.join(ctx.builddir, "control", "blctl")
    box = ul.Box(ctx.workdir, "pu%d" % (os.getpid() % 100000), ctx.brightline, blctl)
    f = bench.fmt
    try:
        pol_a, pol_b, bad, _ = ul.write_policies(os.path.join(ctx.workdir, "policies"))
        box.net_up()
        box.start(pol_a)
        rate, send_rate, _ = ul.measure_rate(box)
        bench.log("box rate without updates %.0f pps (sender flat out %.0f pps); offering half"
                  % (rate, send_rate))
        ctx.check_time()
        res = ul.updates_under_load(box, pol_a, pol_b, bad, args.updates, rate / 2)
        loads = [l for l in res["loads"] if "rc" not in l]
        if len(loads) != args.updates:
            raise bench.BenchError("a load failed under load: %s" % res["loads"][-1])
        d = res["d"]
        sent, got = sum(res["sent"].values()), sum(res["got"].values())
        parts = {"lost_ring": sent - d["in_rx"], "lost_imissed": d["imissed"],
                 "lost_nombuf": d["rx_nombuf"], "lost_after": d["out_tx"] - got}
        bench.log("under load: %d loads in %.1f s; sent %d at %.0f pps, received %d, policy drops "
                  "%d, lost %d %s; sink socket drops %d; worker waited %.0f ms for CPU 1"
                  % (len(loads), res["seconds"], sent, sent / res["send_seconds"], got,
                     d["drops"].get("policy_drop", 0), res["lost"], parts, res["sink_drops"],
                     res["worker_wait_ms"]))
        times = {}
        small, _ = gen_policy.list_policy(ctx.workdir, 1000)
        for tag, n in sizes:
            times[tag] = scale(box, ctx, n, tag, args.runs, small)
    finally:
        box.cleanup()
    pairs = [("lost", str(res["lost"]))]
    pairs += [("build_%s_ms" % t, f(med(times[t], "build_ms"), 1) if t in times else "na")
              for t, _ in SIZES]
    pairs += [("publish_us", f(med(loads, "publish_us"), 2)),
              ("grace_us", f(med(loads, "grace_us"), 0)),
              ("updates", str(len(loads))),
              ("publish_max_us", f(max(l["publish_us"] for l in loads), 2)),
              ("grace_max_us", f(max(l.get("grace_us", 0) for l in loads), 0)),
              ("free_us", f(med(loads, "free_us"), 0))]
    big = times.get("1m")
    pairs += [("publish_1m_us", f(med(big, "publish_us"), 2) if big else "na"),
              ("grace_1m_us", f(med(big, "grace_us"), 0) if big else "na"),
              ("free_1m_us", f(med(big, "free_us"), 0) if big else "na"),
              ("load_100k_ms", f(med(loads, "wall_ms"), 0)),
              ("offered_pps", f(rate / 2, 0)), ("box_pps", f(rate, 0)),
              ("sent", str(sent)), ("received", str(got)),
              ("policy_dropped", str(d["drops"].get("policy_drop", 0)))]
    pairs += [(k, str(v)) for k, v in parts.items()]
    pairs += [("runs", str(args.runs))]
    return pairs, 0
