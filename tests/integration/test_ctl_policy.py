#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""blctl against a running daemon: policy load/show/diff/rollback round
trip, a refused policy (file:line:column, the old generation still runs),
list add/del/show, stats, flows and status (JSON and tables), and a restart
that loads the last policy from the state dir."""
import json
import os
import time

from blpkt import *
from test_ctl_lib import Daemon

POLICY = """version: 1
lists:
  bad:
    type: prefixes
    files: [lists/bad.txt]
rules:
  - name: block
    match: {dst: bad}
    action: drop
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

c = Check("ctl_policy")
with Workdir("ctl-policy") as wd:
    os.mkdir(wd("lists"))
    write_config(wd("lists/bad.txt"), "192.0.2.0/24\n198.51.100.7\n")
    write_config(wd("p1.yaml"), POLICY)
    write_config(wd("p2.yaml"), POLICY.replace("dport: 443", "dport: [443, 8443]"))
    write_config(wd("bad.yaml"), BAD)
    frames = [v4_tcp("10.0.0.1", "10.0.0.%d" % i, 1000 + i, 443) for i in range(2, 12)] + \
             [v4_tcp("10.0.0.1", "192.0.2.9", 2000, 443)]
    d = Daemon(wd, "bl-it-ctl-policy", frames, policy=wd("p1.yaml"))
    try:
        rc, st, err = d.blctl("status", json_out=True)
        c.eq("status: exit 0", rc, 0)
        st = st["result"]
        gen1, sha1 = st["generation"], st["sha256"]
        c.true("status: generation and sha of the start-up policy", gen1 >= 1 and len(sha1) == 64)
        c.eq("status: two ports up", [p["up"] for p in st["ports"]], [True, True])
        c.eq("status: one worker", st["workers"], 1)
        rc, out, err = d.blctl("status")
        c.true("status table", rc == 0 and ("generation %d" % gen1) in out and sha1 in out) or print(out, err)

        # stats and flows (the pcap has been read by now)
        time.sleep(1)
        rc, s, err = d.blctl("stats", json_out=True)
        s = s["result"] if rc == 0 else {}
        c.eq("stats: rx", s.get("totals", {}).get("rx"), len(frames))
        c.eq("stats: rule web", s.get("rules", {}).get("web", {}).get("packets"), 10)
        c.eq("stats: rule block", s.get("rules", {}).get("block", {}).get("packets"), 1)
        c.eq("stats: policy drop reason", s.get("drops", {}).get("policy_drop"), 1)
        rc, out, err = d.blctl("stats")
        c.true("stats table", rc == 0 and "web" in out and "drop reason" in out) or print(out, err)
        rc, f, err = d.blctl("flows", json_out=True)
        fl = f["result"]["flows"] if rc == 0 else []
        c.eq("flows: all 11 listed", len(fl), 11)
        rc, f, err = d.blctl("flows", "--verdict", "drop", json_out=True)
        fl = f["result"]["flows"] if rc == 0 else []
        c.eq("flows --verdict drop", [(x["dst"], x["rule"]) for x in fl], [("192.0.2.9", "block")])
        rc, f, err = d.blctl("flows", "--prefix", "10.0.0.5/32", "--port", "443", json_out=True)
        fl = f["result"]["flows"] if rc == 0 else []
        c.eq("flows --prefix --port", [(x["src"], x["dst"], x["dport"]) for x in fl], [("10.0.0.1", "10.0.0.5", 443)])
        rc, f, err = d.blctl("flows", "--rule", "web", "--limit", "4", json_out=True)
        page = f["result"] if rc == 0 else {}
        c.eq("flows paged: 4", len(page.get("flows", [])), 4)
        rc, f2, err = d.blctl("flows", "--rule", "web", "--limit", "100", "--cursor", str(page.get("cursor")), json_out=True)
        c.eq("flows: second page has the rest", len(f2["result"]["flows"]) if rc == 0 else -1, 6)
        rc, out, err = d.blctl("flows", "--rule", "web", "--limit", "3", "--all")
        c.eq("flows table --all: every web flow", out.count(" web "), 10) or print(out)

        # diff, load, show
        rc, out, err = d.blctl("policy", "diff", wd("p2.yaml"))
        c.true("diff: rule web changed", rc == 0 and "~ rule web" in out and "8443" in out) or print(out, err)
        rc, dj, err = d.blctl("policy", "diff", wd("p2.yaml"), json_out=True)
        c.eq("diff json: changed rules", [x["name"] for x in dj["result"]["rules"]["changed"]], ["web"])
        rc, out, err = d.blctl("policy", "load", wd("p2.yaml"))
        c.eq("load: exit 0", rc, 0) or print(err)
        c.true("load: generation, build and publish times", ("generation %d" % (gen1 + 1)) in out
               and " ms" in out and " us" in out) or print(out)
        rc, sh, err = d.blctl("policy", "show", json_out=True)
        sh = sh["result"]
        c.eq("show: the text loaded", sh["text"], open(wd("p2.yaml")).read())
        c.eq("show: generation", sh["generation"], gen1 + 1)
        c.eq("show: by whom", sh["by_uid"], 0)
        rc, sh2, err = d.blctl("policy", "show", "--files", json_out=True)
        c.eq("show --files: the list file", sh2["result"]["files"], {"lists/bad.txt": "192.0.2.0/24\n198.51.100.7\n"})
        sha2 = sh["sha256"]

        # a refused policy: its file:line:column, and the old generation runs
        rc, out, err = d.blctl("policy", "load", wd("bad.yaml"))
        c.eq("bad: exit 1", rc, 1)
        c.true("bad: file:line:column", ("%s:4:25: error: unknown key \"dprot\"" % wd("bad.yaml")) in err) or print(err)
        rc, bj, err = d.blctl("policy", "load", wd("bad.yaml"), json_out=True)
        diags = bj.get("error", {}).get("diags", [])
        c.true("bad json: diags with line and column", any(x["line"] == 4 and x["column"] == 25 for x in diags))
        rc, st, err = d.blctl("status", json_out=True)
        c.eq("bad: the old generation still runs", (st["result"]["generation"], st["result"]["sha256"]), (gen1 + 1, sha2))
        rc, out, err = d.blctl("policy", "check", "--daemon", wd("bad.yaml"))
        c.eq("check --daemon bad: exit 1", rc, 1)
        rc, out, err = d.blctl("policy", "check", "--daemon", wd("p1.yaml"))
        c.true("check --daemon good: not published", rc == 0 and "not published" in out)
        rc, st, err = d.blctl("status", json_out=True)
        c.eq("check did not publish", st["result"]["generation"], gen1 + 1)

        # lists
        rc, out, err = d.blctl("list", "add", "bad", "203.0.113.0/24", "10.9.9.9")
        c.true("list add: rebuild, 2 added", rc == 0 and "2 added" in out and "rebuild" in out) or print(out, err)
        rc, ls, err = d.blctl("list", "show", "bad", json_out=True)
        c.eq("list show after add", ls["result"]["entries"],
             ["10.9.9.9/32", "192.0.2.0/24", "198.51.100.7/32", "203.0.113.0/24"])
        rc, out, err = d.blctl("list", "del", "bad", "10.9.9.9/32", "192.0.2.0/24")
        c.true("list del: 2 removed", rc == 0 and "2 removed" in out) or print(out, err)
        rc, out, err = d.blctl("list", "show", "bad")
        c.eq("list show table after del", out.splitlines()[1:], ["198.51.100.7/32", "203.0.113.0/24"])
        rc, out, err = d.blctl("list", "add", "bad", "not-an-address")
        c.true("list add refused: names the argument", rc == 1 and "args:1:1" in err) or print(err)
        rc, out, err = d.blctl("list", "add", "nosuch", "10.0.0.0/8")
        c.eq("list add to an unknown list: exit 1", rc, 1)
        rc, out, err = d.blctl("list", "add", "bad", "203.0.113.0/24")
        c.true("list add of a present entry: nothing to do", rc == 0 and "unchanged" in out)
        rc, st, err = d.blctl("status", json_out=True)
        gen_lists = st["result"]["generation"]
        c.eq("two list changes, two generations", gen_lists, gen1 + 3)
        rc, s2, err = d.blctl("stats", json_out=True)
        c.eq("counters untouched by new policies", s2["result"]["rules"]["web"]["packets"], 10)

        # rollback: the generation before the last list change
        rc, out, err = d.blctl("policy", "rollback")
        c.eq("rollback: exit 0", rc, 0) or print(err)
        rc, ls, err = d.blctl("list", "show", "bad", json_out=True)
        c.eq("rollback: the list as before the del", ls["result"]["n"], 4)
        rc, out, err = d.blctl("policy", "rollback")
        rc, sh, err = d.blctl("policy", "show", json_out=True)
        c.eq("second rollback: p2 again", sh["result"]["text"], open(wd("p2.yaml")).read())
        c.true("changes logged with uid and pid", "policy.load by uid 0 pid" in d.text()
               and "list.add by uid 0 pid" in d.text())
        stored = sorted(os.listdir(wd("state/policy")))
        c.eq("state dir: the generations kept", stored, ["policy-1.json"])
        # restart: without --policy, the last policy loaded by blctl comes back
        c.eq("daemon exits cleanly", d.stop(), 0) or print(d.text())
        d = Daemon(wd, "bl-it-ctl-policy", frames)
        rc, sh, err = d.blctl("policy", "show", json_out=True)
        c.eq("restart: the last policy loaded", (sh["result"]["text"], sh["result"]["sha256"]),
             (open(wd("p2.yaml")).read(), sha2))
        rc, st, err = d.blctl("status", json_out=True)
        c.eq("restart: status shows its sha", st["result"]["sha256"], sha2)
    finally:
        rc = d.stop()
    c.eq("daemon exits cleanly after restart", rc, 0) or print(d.text())

# Rule counters of a busy worker: a flow's packets count to its rule when
# the flow is settled, which the expiry sweep does about once a second; a
# `stats` read has every flow settled first, so the rules sum to what was
# received up to the packets of the read itself. Four flows on an endless
# pcap, two allowed by `web`, two dropped by `nine`, read five times. Then a
# policy that drops the `web` flows by `web-off`: each flow is judged again,
# its packets before that count to its old rule and the rest to its new
# one, so at the end the drop rules hold exactly the packets dropped by
# policy and the allow rules exactly the packets sent on.
BUSY = """version: 1
rules:
  - name: web
    match: {proto: udp, dport: 80}
    action: allow
  - name: nine
    match: {proto: udp, dport: 9}
    action: drop
default: allow
"""
TURNED = """version: 1
rules:
  - name: web-off
    match: {proto: udp, dport: 80}
    action: drop
  - name: nine
    match: {proto: udp, dport: 9}
    action: drop
default: allow
"""
with Workdir("ctl-busy") as wd:
    write_config(wd("busy.yaml"), BUSY)
    write_config(wd("turned.yaml"), TURNED)
    frames = [v4_udp("10.1.0.1", "10.1.0.2", 1000 + i % 4, 80 if i % 2 else 9) for i in range(64)]
    d = Daemon(wd, "bl-it-ctl-busy", frames, policy=wd("busy.yaml"),
               ports=("net_pcap0,rx_pcap=%(rx)s,infinite_rx=1", "net_null0,no-rx=1"),
               args=("--stats-json", wd("final.json")))
    try:
        reads = []
        for i in range(5):
            time.sleep(0.4)
            rc, s, err = d.blctl("stats", json_out=True)
            s = s["result"] if rc == 0 else {}
            r = s.get("rules", {})
            reads.append((time.monotonic(), s.get("totals", {}).get("rx", 0),
                          sum(r.get(n, {}).get("packets", 0) for n in ("web", "nine", "default")),
                          r.get("default", {}).get("packets"), s.get("rules_settled")))
        rate = (reads[-1][1] - reads[0][1]) / (reads[-1][0] - reads[0][0])
        c.true("busy: the worker forwards (%.2f Mpps)" % (rate / 1e6), rate > 1e5)
        c.eq("busy: every read settled", [x[4] for x in reads], [True] * 5)
        c.eq("busy: the default rule saw nothing", [x[3] for x in reads], [0] * 5)
        # a read's own packets: a settle pass and the snapshot, well under
        # 0.1 s of traffic; unsettled flows lag by up to a second's
        lags = [x[1] - x[2] for x in reads[1:]]
        print("# busy: %.2f Mpps; rx - rules at each read: %s" % (rate / 1e6, lags))
        c.true("busy: rules sum to rx within 0.1 s of traffic (lags %s, rate %.0f/s)"
               % (lags, rate), all(abs(x) <= 0.1 * rate + 64 for x in lags))
        rc, out, err = d.blctl("policy", "load", wd("turned.yaml"))
        c.eq("busy: the turned policy loads", rc, 0) or print(out, err)
        time.sleep(0.5)
    finally:
        rc = d.stop()
    c.eq("busy daemon exits cleanly", rc, 0) or print(d.text())
    try:
        with open(wd("final.json")) as f:
            fin = json.load(f)
    except (OSError, ValueError) as e:
        fin = {}
        c.true("busy: final counters written (%s)" % e, False)
    r = {n: v["packets"] for n, v in fin.get("rules", {}).items()}
    t = fin.get("totals", {})
    print("# busy, final: rules %s, totals %s" % (r, t))
    c.true("busy: every rule judged some", all(r.get(n, 0) > 0 for n in ("web", "nine", "web-off")))
    c.eq("busy: drop rules = dropped by policy", r.get("nine", 0) + r.get("web-off", 0),
         fin.get("drops", {}).get("policy_drop"))
    c.eq("busy: allow rules = sent on", r.get("web", 0) + r.get("default", 0),
         t.get("tx"))
    c.eq("busy: every packet received was judged", sum(r.values()), t.get("rx"))
c.done()
