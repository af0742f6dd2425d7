# SPDX-License-Identifier: BSD-3-Clause
"""policy-build: compile time and memory of policies at scale, measured
with `brightline check` (which compiles a policy exactly as the daemon does
and prints "built in X ms, Y MiB": the runtime object's build time and the
memory it holds).

Policies (lib/gen_policy.py; prefixes from the test data's lists, topped up
with random prefixes of the same length mix when more are needed, 10% IPv6):
  - one list of 1,000 / 100,000 / 1,000,000 prefixes used by two rules
    (inbound drop from it, outbound reject to it);
  - 10,000 5-tuple rules: the l4-forward policy (mixed prefix lengths, port
    ranges, wildcards, both directions, IPv6, VLAN, list and log rules).
Each is checked --runs times (default 3); the RESULT gives medians: build ms
and MiB from the summary line, the whole `brightline check` wall time
(EAL start, YAML and list parsing, build) and its peak RSS.
"""
import os
import re
import resource
import statistics
import subprocess
import time

from lib import bench, gen_policy

NAME = "policy-build"
DESCRIPTION = ("compile time and memory (brightline check) of 1k/100k/1M-prefix lists "
               "and 10,000 5-tuple rules, median of 3")
TARGETS = ("dataplane/brightline",)
SIZES = (("1m", 1000000), ("100k", 100000), ("1k", 1000))
KEYS = ("build_1m_ms", "build_100k_ms", "build_1k_ms", "rules_10k_ms",
        "mem_1m_mb", "mem_100k_mb", "mem_1k_mb", "rules_10k_mb",
        "check_1m_ms", "check_100k_ms", "check_1k_ms", "rules_10k_check_ms",
        "rss_1m_mb", "rss_100k_mb", "rss_1k_mb", "rules_10k_rss_mb", "runs")
SUMMARY = re.compile(r"built in ([0-9.]+) ms, ([0-9.]+) MiB")


def add_args(ap):
    ap.add_argument("--runs", type=int, default=3, help="checks per policy (default 3)")
    ap.add_argument("--rules", type=int, default=10000, help="5-tuple rules (default 10000)")


def check(ctx, policy, tag, k):
    """One `brightline check`: (build ms, MiB, wall ms, peak RSS MiB)."""
    ctx.check_time()
    logpath = os.path.join(ctx.workdir, "check-%s-%d.log" % (tag, k))
    with open(logpath, "w") as logf:
        t0 = time.monotonic()
        p = subprocess.Popen([ctx.brightline, "check", policy], stdout=logf,
                             stderr=subprocess.STDOUT, preexec_fn=bench.unpin)
        _, status, ru = os.wait4(p.pid, 0)
        wall = (time.monotonic() - t0) * 1e3
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(logpath) as f:
        out = f.read()
    m = SUMMARY.search(out)
    if p.returncode != 0 or not m:
        raise bench.BenchError("brightline check %s failed (exit %d, see %s)"
                               % (policy, p.returncode, logpath))
    return float(m.group(1)), float(m.group(2)), wall, ru.ru_maxrss / 1024.0


def measure(ctx, policy, tag, runs):
    """Medians of `runs` checks of one policy."""
    got = [check(ctx, policy, tag, k) for k in range(runs)]
    med = [statistics.median(g[i] for g in got) for i in range(4)]
    bench.log("%-9s build %8.1f ms (%s), %7.1f MiB; check %8.1f ms, peak RSS %7.1f MiB"
              % (tag, med[0], " ".join("%.0f" % g[0] for g in got), med[1], med[2], med[3]))
    return med


def run(args, ctx):
    """The benchmark; returns (RESULT pairs, exit code)."""
    if args.runs < 1:
        raise bench.BenchError("--runs must be at least 1")
    if not os.access(ctx.brightline, os.X_OK):
        raise bench.BenchError("no %s" % ctx.brightline)
    res = {}
    for tag, n in SIZES:
        path, desc = gen_policy.list_policy(ctx.workdir, n)
        bench.log("%s: %s" % (os.path.basename(path), desc))
        res[tag] = measure(ctx, path, tag, args.runs)
    path, _, _, desc = gen_policy.rules_policy(ctx.workdir, args.rules)
    bench.log("%s: %s" % (os.path.basename(path), desc))
    res["rules"] = measure(ctx, path, "rules-%d" % args.rules, args.runs)
    f = bench.fmt
    pairs = [("build_%s_ms" % t, f(res[t][0], 1)) for t, _ in SIZES]
    pairs += [("rules_10k_ms", f(res["rules"][0], 1))]
    pairs += [("mem_%s_mb" % t, f(res[t][1], 1)) for t, _ in SIZES]
    pairs += [("rules_10k_mb", f(res["rules"][1], 1))]
    pairs += [("check_%s_ms" % t, f(res[t][2], 0)) for t, _ in SIZES]
    pairs += [("rules_10k_check_ms", f(res["rules"][2], 0))]
    pairs += [("rss_%s_mb" % t, f(res[t][3], 1)) for t, _ in SIZES]
    pairs += [("rules_10k_rss_mb", f(res["rules"][3], 1)), ("runs", str(args.runs))]
    return pairs, 0
