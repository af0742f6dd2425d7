#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Loading the policy at start: a refused policy stops `replay` with its
file:line:column messages and a non-zero exit; `brightline check` compiles
exactly as the daemon does (same messages, then one summary line); without
a policy `default_ip` still decides."""
import subprocess
from blpkt import *

GOOD = """version: 1
rules:
  - name: web
    match: {proto: tcp, dport: 443}
    action: allow
default: drop
"""
BAD = """version: 1
rules:
  - name: web
    match: {proto: tcp, dprot: 443}
    action: allow
default: drop
"""

c = Check("policy_start")
with Workdir("policy-start") as wd:
    good, bad = wd("good.yaml"), wd("bad.yaml")
    write_config(good, GOOD)
    write_config(bad, BAD)
    frames = [v4_tcp("10.0.0.1", "10.0.0.2", 1, 443), v4_tcp("10.0.0.1", "10.0.0.2", 2, 80)]

    rc, out, verdicts, stats, log = replay(wd, frames, ["--policy", bad], prefix="bl-it-policy-start")
    c.true("refused policy: non-zero exit", rc != 0)
    c.true("refused policy: file:line:column message, one line",
           ("%s:4:25: error: unknown key \"dprot\" in match (did you mean \"dport\"?)" % bad) in log and "dprot" in log) or print(log)
    c.true("refused policy: nothing forwarded", not out)

    p = subprocess.run([brightline(), "check", bad], capture_output=True, text=True, timeout=60)
    c.eq("check bad: exit 1", p.returncode, 1)
    lines = [l for l in p.stderr.splitlines() if l.startswith(bad + ":4:")]
    c.eq("check bad: the same message as the daemon", len(lines), 1)
    c.true("check bad: message identical to replay's", lines and lines[0] in log)

    p = subprocess.run([brightline(), "check", good], capture_output=True, text=True, timeout=60)
    c.eq("check good: exit 0", p.returncode, 0) or print(p.stdout, p.stderr)
    c.true("check good: one summary line", p.stdout.startswith(good + ": ok: 1 rules")
           and "ACL rules" in p.stdout and " ms" in p.stdout and "MiB" in p.stdout) or print(p.stdout)

    rc, out, verdicts, stats, log = replay(wd, frames, ["--policy", good], prefix="bl-it-policy-start")
    c.eq("good policy: exit", rc, 0) or print(log)
    c.eq("good policy: only port 443 leaves", out, frames[:1])

    cfg = wd("c.yaml")
    write_config(cfg, "policy: %s\n" % good)
    rc, out, verdicts, stats, log = replay(wd, frames, ["--config", cfg], prefix="bl-it-policy-start")
    c.eq("policy from the config: only port 443 leaves", out, frames[:1])

    rc, out, verdicts, stats, log = replay(wd, frames, ["--default-ip", "drop"], prefix="bl-it-policy-start")
    c.eq("no policy, default_ip drop: nothing leaves", out, [])
    c.eq("no policy: verdicts name the default", sorted(v.get("rule") for v in verdicts if v["flow"]),
         ["default", "default"])
c.done()
