#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The EVE event log through `brightline replay --eve`: one record per flow
decision (drop, reject, `log`), never one per packet (repeats and replies of
a judged flow add nothing), Suricata's shape and fields (timestamp, flow_id,
in_iface, vlan, initiator's 5-tuple, drop/alert objects, brightline.rule /
generation / action), a flow that meets a `log` rule and a drop rule gives
its alert and its drop; allowed flows give nothing; the per-rule rate limit
writes `burst` lines per rule and counts the rest as suppressed, in the
stats JSON too; with 1 and 2 workers."""
import json
import re
from blpkt import *

POLICY = """version: 1
rules:
  - name: smtp-drop
    match: {proto: tcp, dport: 25}
    action: drop
  - name: ntp-log
    match: {proto: udp, dport: 123}
    action: log
  - name: telnet-reject
    match: {proto: tcp, dport: 23}
    action: reject
  - name: any-log
    match: {proto: udp, dport: 53}
    action: log
  - name: dns-drop
    match: {proto: udp, dport: 53}
    action: drop
default: allow
"""

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d{4}$")

# 3 smtp flows (3 SYNs each, and a SYN-ACK back for the first): 3 drops
smtp = []
for i in range(3):
    smtp += [v4_tcp("10.0.0.1", "203.0.113.9", 40000 + i, 25, "S")] * 3
smtp.append(v4_tcp("203.0.113.9", "10.0.0.1", 25, 40000, "SA"))
ntp = [v4_udp("10.0.0.4", "203.0.113.12", 5005, 123, b"t")] * 4          # 1 alert (log, allowed)
ntp.append(v4_udp("203.0.113.12", "10.0.0.4", 123, 5005, b"r"))
telnet = [v4_tcp("10.0.0.5", "203.0.113.13", 41000, 23, "S")] * 2        # 1 alert (reject)
dns = [v4_udp("10.0.0.6", "203.0.113.53", 5353, 53, b"q", vlans=(30,))] * 2  # alert (log) + drop
allowed = [v4_tcp("10.0.0.7", "203.0.113.80", 42000, 80, "S"),
           v4_tcp("203.0.113.80", "10.0.0.7", 80, 42000, "SA"),
           v6_udp("2001:db8:1::1", "2001:db8:2::2", 6000, 7000, b"u")]
frames = smtp + ntp + telnet + dns + allowed


def eve_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def key(e):
    return (e["event_type"], e["brightline"]["rule"], e["src_ip"], e.get("src_port"),
            e["dest_ip"], e.get("dest_port"))


c = Check("obs_eve")
with Workdir("obs-eve") as wd:
    pol = wd("policy.yaml")
    write_config(pol, POLICY)
    for workers in (1, 2):
        tag = "%d worker(s): " % workers
        eve = wd("eve-%d.json" % workers)
        rc, out, verdicts, stats, log = replay(
            wd, frames, ["--policy", pol, "--workers", str(workers), "--eve", eve],
            prefix="bl-it-obs-eve")
        c.eq(tag + "exit code", rc, 0) or print(log)
        ev = eve_lines(eve)
        got = sorted(key(e) for e in ev)
        want = sorted([
            ("drop", "smtp-drop", "10.0.0.1", 40000, "203.0.113.9", 25),
            ("drop", "smtp-drop", "10.0.0.1", 40001, "203.0.113.9", 25),
            ("drop", "smtp-drop", "10.0.0.1", 40002, "203.0.113.9", 25),
            ("alert", "ntp-log", "10.0.0.4", 5005, "203.0.113.12", 123),
            ("alert", "telnet-reject", "10.0.0.5", 41000, "203.0.113.13", 23),
            ("alert", "any-log", "10.0.0.6", 5353, "203.0.113.53", 53),
            ("drop", "dns-drop", "10.0.0.6", 5353, "203.0.113.53", 53),
        ])
        c.eq(tag + "one record per flow decision, none per packet", got, want)
        by = {(e["event_type"], e["brightline"]["rule"]): e for e in ev}
        for e in ev:
            c.true(tag + "timestamp shape %r" % e["timestamp"], TS.match(e["timestamp"]))
            c.eq(tag + "generation", e["brightline"]["generation"], 1)
            c.eq(tag + "in_iface", e["in_iface"], "inside")
            c.true(tag + "flow_id is a positive integer", isinstance(e["flow_id"], int) and e["flow_id"] > 0)
            c.eq(tag + "field order starts like EVE", list(e)[:4],
                 ["timestamp", "flow_id", "in_iface", "event_type"])
        ids = {e["flow_id"] for e in ev if e["brightline"]["rule"] == "smtp-drop"}
        c.eq(tag + "distinct flows, distinct flow_id", len(ids), 3)
        d = by.get(("drop", "smtp-drop"))
        if c.true(tag + "smtp drop line", d):
            c.eq(tag + "drop object", d["drop"], {"len": 54, "syn": True, "ack": False, "psh": False,
                                                   "rst": False, "urg": False, "fin": False,
                                                   "reason": "rules"})
            c.eq(tag + "drop brightline", (d["proto"], d["brightline"]["action"],
                                           d["brightline"]["verdict"]), ("TCP", "drop", "drop"))
        a = by.get(("alert", "ntp-log"))
        if c.true(tag + "ntp alert line", a):
            c.eq(tag + "log alert", (a["alert"]["action"], a["alert"]["signature"],
                                     a["alert"]["category"], a["brightline"]["action"], a["proto"]),
                 ("allowed", "ntp-log", "Policy log", "log", "UDP"))
        r = by.get(("alert", "telnet-reject"))
        if c.true(tag + "reject alert line", r):
            c.eq(tag + "reject alert", (r["alert"]["action"], r["alert"]["category"],
                                        r["brightline"]["action"]),
                 ("blocked", "Policy reject", "reject"))
        la, ld = by.get(("alert", "any-log")), by.get(("drop", "dns-drop"))
        if c.true(tag + "log + drop lines", la and ld):
            c.eq(tag + "log then drop: the alert says blocked", la["alert"]["action"], "blocked")
            c.eq(tag + "vlan", (la["vlan"], ld["vlan"]), ([30], [30]))
            c.eq(tag + "same flow, same flow_id", la["flow_id"], ld["flow_id"])
        if stats:
            c.eq(tag + "events in stats", stats["events"],
                 {"written": 7, "suppressed": 0, "lost": 0, "write_errors": 0})
        # the verdicts file (same ring, per packet) is still complete
        c.eq(tag + "verdict packets", sum(v["packets"] for v in verdicts), len(frames))

    # rate limit: 1 line per second per rule, bucket of 2: of 6 smtp flows
    # 2 lines are written, 4 suppressed; the other rules keep their own buckets
    cfg = wd("brightline.yaml")
    write_config(cfg, "event_log: {rate: 1, burst: 2}\n")
    flood = [v4_tcp("10.0.0.1", "203.0.113.9", 43000 + i, 25, "S") for i in range(6)]
    eve = wd("eve-rate.json")
    rc, out, verdicts, stats, log = replay(
        wd, flood + ntp + telnet, ["--config", cfg, "--policy", pol, "--eve", eve],
        prefix="bl-it-obs-eve")
    c.eq("rate: exit code", rc, 0) or print(log)
    ev = eve_lines(eve)
    c.eq("rate: smtp lines written", len([e for e in ev if e["brightline"]["rule"] == "smtp-drop"]), 2)
    c.eq("rate: other rules unaffected", sorted(e["brightline"]["rule"] for e in ev
                                                 if e["brightline"]["rule"] != "smtp-drop"),
         ["ntp-log", "telnet-reject"])
    if stats:
        c.eq("rate: counted", (stats["events"]["written"], stats["events"]["suppressed"]), (4, 4))
        c.eq("rate: the packets were still dropped", stats["drops"]["policy_drop"], 6)
    c.true("rate: printed", "suppressed 4" in log) or print(log)
c.done()
