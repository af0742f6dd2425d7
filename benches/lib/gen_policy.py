# SPDX-License-Identifier: BSD-3-Clause
"""Policies of realistic shape for the benchmarks, and traffic they allow.

Prefixes come from the test data's lists (TESTDATA/lists/ipv4-prefixes-*.txt
and ipv6-prefixes-*.txt: datacenter and VPN ranges of mixed lengths); when
the test data is absent, prefixes of a similar length mix are synthesized.
Everything is seeded, so the same arguments give the same files.

rules_policy() writes an ordered rule set of a perimeter box: outbound
allow and deny rules to external prefixes, inbound rules to inside
servers, IPv6 rules, port ranges, wildcard addresses, VLAN rules, rules on
prefix lists, `log` rules, and a default. Matcher is an exact first-match
reference of that policy (for outbound, untagged IPv4 packets) that
allowed_flows() uses to pick traffic the policy allows, each flow through
a different allow rule chosen across the whole rule list.

list_policy() writes one rule on a prefix list of a given size (test data,
topped up with random prefixes).
"""
import ipaddress
import glob
import os
import random

from . import bench

INSIDE4 = ipaddress.ip_network("10.0.0.0/8")
INSIDE6 = ipaddress.ip_network("2001:db8:100::/40")
# Ports the parser or the L7 stages treat specially, and ports of the
# wildcard-address rules: traffic never uses them.
SPECIAL_PORTS = {53, 67, 68, 80, 123, 137, 138, 161, 443, 500, 853, 1701, 1900, 2152, 3544,
                 4500, 4789, 4790, 5353, 6081}
PROTOS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "sctp": 132}


def data_dir():
    """The test data folder ($BL_TEST_DATA, else ../shared/data), or None."""
    d = os.environ.get("BL_TEST_DATA") or os.path.join(os.path.dirname(bench.SRC),
                                                       "shared", "data")
    return d if os.path.isdir(os.path.join(d, "lists")) else None


def read_prefixes(family):
    """(prefixes, source): the test data's prefixes of `family` (4 or 6) as
    (net int, len) sorted and deduplicated, or ([], None) without test data."""
    d = data_dir()
    if not d:
        return [], None
    files = sorted(glob.glob(os.path.join(d, "lists", "ipv%d-prefixes-*.txt" % family)))
    out = set()
    for path in files:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                try:
                    n = ipaddress.ip_network(line, strict=False)
                except ValueError:
                    continue
                if n.version == family:
                    out.add((int(n.network_address), n.prefixlen))
    return sorted(out), ",".join(os.path.basename(p) for p in files)


# Length mix of synthesized prefixes, close to the test data's.
LEN_MIX4 = [(24, 50), (22, 10), (23, 8), (20, 8), (16, 8), (19, 4), (21, 4), (32, 4),
            (18, 2), (17, 1), (14, 1)]
LEN_MIX6 = [(32, 30), (48, 30), (44, 10), (40, 10), (36, 5), (56, 5), (64, 10)]


def random_prefix(rng, family):
    """A random public-looking prefix (net int, len) of the usual length mix."""
    mix = LEN_MIX4 if family == 4 else LEN_MIX6
    ln = rng.choices([m[0] for m in mix], [m[1] for m in mix])[0]
    bits = 32 if family == 4 else 128
    while True:
        if family == 4:
            a = rng.randrange(1 << 32)
            if (a >> 24) in (0, 10, 127, 172, 192) or (a >> 24) >= 224:
                continue
        else:
            a = (0x2 << 124) | rng.randrange(1 << 124)
        return (a >> (bits - ln) << (bits - ln), ln)


def prefixes(rng, family, n):
    """n distinct prefixes of `family`: the test data's first (sampled when
    there are more), then random ones. Returns (list, source)."""
    data, src = read_prefixes(family)
    if len(data) >= n:
        return sorted(rng.sample(data, n)), src
    out = set(data)
    while len(out) < n:
        out.add(random_prefix(rng, family))
    return sorted(out), (src + " + random" if src else "random")


def ptext(family, net, ln):
    """"a.b.c.d/len" or the IPv6 text of a prefix."""
    if family == 4:
        return "%s/%d" % (ipaddress.IPv4Address(net), ln)
    return "%s/%d" % (ipaddress.IPv6Address(net), ln)


def write_list(path, family_prefixes, header):
    """A list file: one CIDR a line, `#` comments."""
    with open(path, "w") as f:
        f.write("# %s\n" % header)
        for fam, net, ln in family_prefixes:
            f.write(ptext(fam, net, ln) + "\n")


def list_policy(workdir, n, seed=1, v6_share=0.1):
    """A policy whose one rule drops traffic from a list of `n` prefixes
    (v6_share of them IPv6). Returns (policy path, description)."""
    rng = random.Random(seed)
    n6 = int(n * v6_share)
    p4, s4 = prefixes(rng, 4, n - n6)
    p6, s6 = prefixes(rng, 6, n6)
    name = "list-%d" % n
    lpath = os.path.join(workdir, name + ".txt")
    write_list(lpath, [(4,) + p for p in p4] + [(6,) + p for p in p6],
               "%d IPv4 (%s) + %d IPv6 (%s) prefixes" % (len(p4), s4, len(p6), s6))
    path = os.path.join(workdir, name + ".yaml")
    with open(path, "w") as f:
        f.write("# Written by benches/lib/gen_policy.py: one rule on a list of %d prefixes.\n"
                "version: 1\nlists:\n  blocked:\n    type: prefixes\n    files: [%s]\n"
                "rules:\n  - name: blocked-in\n    direction: inbound\n"
                "    match: {src: blocked}\n    action: drop\n"
                "  - name: blocked-out\n    direction: outbound\n"
                "    match: {dst: blocked}\n    action: reject\n"
                "default: allow\n" % (n, os.path.basename(lpath)))
    return path, "%d IPv4 + %d IPv6 prefixes" % (len(p4), len(p6))


class Rule:
    """One rule, kept both as YAML and in the form the reference matcher uses."""

    def __init__(self, name, direction, action, src=(), dst=(), protos=None,
                 sports=None, dports=None, vlan=None, src_lists=(), dst_lists=()):
        self.name, self.direction, self.action = name, direction, action
        self.src, self.dst = list(src), list(dst)      # (family, net, len)
        self.src_lists, self.dst_lists = list(src_lists), list(dst_lists)
        # Ports need a protocol with ports: a rule on any protocol has none.
        if not protos or not set(protos) <= {"tcp", "udp", "sctp"}:
            sports = dports = None
        self.protos, self.sports, self.dports = protos, sports, dports
        self.vlan = vlan

    def yaml(self):
        m = []
        for key, pf, lists in (("src", self.src, self.src_lists),
                               ("dst", self.dst, self.dst_lists)):
            vals = ['"%s"' % ptext(*p) for p in pf] + list(lists)
            if vals:
                m.append("%s: %s" % (key, vals[0] if len(vals) == 1 else
                                     "[" + ", ".join(vals) + "]"))
        if self.protos:
            m.append("proto: " + (self.protos[0] if len(self.protos) == 1 else
                                  "[" + ", ".join(self.protos) + "]"))
        for key, rr in (("sport", self.sports), ("dport", self.dports)):
            if rr:
                vals = ['"%d-%d"' % r if r[0] != r[1] else str(r[0]) for r in rr]
                m.append("%s: %s" % (key, vals[0] if len(vals) == 1 else
                                     "[" + ", ".join(vals) + "]"))
        if self.vlan is not None:
            m.append("vlan: %d" % self.vlan)
        d = "" if self.direction == "any" else "direction: %s, " % self.direction
        return "  - {name: %s, %smatch: {%s}, action: %s}\n" % (
            self.name, d, ", ".join(m), self.action)

    def matches4(self, src, dst, proto, sport, dport, lists):
        """Whether an outbound untagged IPv4 packet matches (exact)."""
        if self.direction == "inbound" or self.vlan is not None:
            return False
        if self.protos and proto not in [PROTOS[p] for p in self.protos]:
            return False
        for addr, pf, ls in ((src, self.src, self.src_lists), (dst, self.dst, self.dst_lists)):
            if not pf and not ls:
                continue
            if not any(f == 4 and addr >> (32 - ln) << (32 - ln) == net if ln else f == 4
                       for f, net, ln in pf) and not any(lists[n].has4(addr) for n in ls):
                return False
        for port, rr in ((sport, self.sports), (dport, self.dports)):
            if rr and not any(lo <= port <= hi for lo, hi in rr):
                return False
        return True


class PrefixSet:
    """A set of prefixes with an exact membership test for IPv4 addresses."""

    def __init__(self, pfx):
        self.pfx = list(pfx)
        self.by_len = {}
        for f, net, ln in self.pfx:
            if f == 4:
                self.by_len.setdefault(ln, set()).add(net)

    def has4(self, a):
        return any((a >> (32 - ln) << (32 - ln) if ln else 0) in nets
                   for ln, nets in self.by_len.items())


class Matcher:
    """First-match reference of a rule list for outbound untagged IPv4
    packets: candidate rules through an index of their addresses, then the
    exact test in rule order. Returns the deciding rule's index or None
    (the default)."""

    def __init__(self, rules, lists):
        self.rules, self.lists = rules, lists
        self.by_dst, self.by_src, self.by_list_dst, self.by_list_src = {}, {}, {}, {}
        self.wild = []
        for i, r in enumerate(rules):
            if r.direction == "inbound" or r.vlan is not None:
                continue
            if r.dst or r.dst_lists:
                for f, net, ln in r.dst:
                    self.by_dst.setdefault((f, ln, net), []).append(i)
                for n in r.dst_lists:
                    self.by_list_dst.setdefault(n, []).append(i)
            elif r.src or r.src_lists:
                for f, net, ln in r.src:
                    self.by_src.setdefault((f, ln, net), []).append(i)
                for n in r.src_lists:
                    self.by_list_src.setdefault(n, []).append(i)
            else:
                self.wild.append(i)

    def decide4(self, src, dst, proto, sport, dport):
        cand = set(self.wild)
        for ln in range(33):
            m = dst >> (32 - ln) << (32 - ln) if ln else 0
            cand.update(self.by_dst.get((4, ln, m), ()))
            m = src >> (32 - ln) << (32 - ln) if ln else 0
            cand.update(self.by_src.get((4, ln, m), ()))
        for n, rs in self.by_list_dst.items():
            if self.lists[n].has4(dst):
                cand.update(rs)
        for n, rs in self.by_list_src.items():
            if self.lists[n].has4(src):
                cand.update(rs)
        for i in sorted(cand):
            r = self.rules[i]
            if r.action != "log" and r.matches4(src, dst, proto, sport, dport, self.lists):
                return i
        return None


def port_ranges(rng):
    """A rule's destination ports: one port, a range, two of them, or any."""
    k = rng.random()
    if k < 0.25:
        return None
    if k < 0.55:
        return [(p, p) for p in [rng.randrange(1024, 65536)]]
    if k < 0.85:
        lo = rng.randrange(1024, 60000)
        return [(lo, lo + rng.choice((9, 99, 999, 4095)))]
    lo = rng.randrange(1024, 30000)
    return [(lo, lo + 499), (lo + 20000, lo + 20000 + rng.choice((0, 99)))]


def inside4(rng):
    """An inside source: a /16, /20, /24 or /32 of 10/8, or None (any)."""
    k = rng.random()
    if k < 0.4:
        return None
    ln = rng.choice((16, 20, 24, 24, 32))
    a = int(INSIDE4.network_address) | rng.randrange(1 << 24)
    return (4, a >> (32 - ln) << (32 - ln), ln)


def inside6(rng):
    ln = rng.choice((48, 56, 64))
    a = int(INSIDE6.network_address) | rng.randrange(1 << 88)
    return (6, a >> (128 - ln) << (128 - ln), ln)


def rules_policy(workdir, n_rules=10000, seed=7, default="drop"):
    """Write a policy of `n_rules` rules (the last the default) and its list
    files into workdir. Returns (policy path, rules, lists, description)."""
    rng = random.Random(seed)
    d4, s4 = read_prefixes(4)
    d6, s6 = read_prefixes(6)
    need4, need6 = n_rules * 2, n_rules // 2
    p4 = rng.sample(d4, min(len(d4), need4)) if d4 else []
    p6 = rng.sample(d6, min(len(d6), need6)) if d6 else []
    while len(p4) < need4:
        p4.append(random_prefix(rng, 4))
    while len(p6) < need6:
        p6.append(random_prefix(rng, 6))
    # Destinations the traffic may go to: never 10/8 (the inside).
    p4 = [p for p in p4 if p[0] >> 24 != 10]
    rng.shuffle(p4)
    ext4 = [(4,) + p for p in p4]
    ext6 = [(6,) + p for p in p6]
    i4 = iter(ext4)
    i6 = iter(ext6)

    # Prefix lists: the data lists whole (a threat feed, inbound), partner
    # networks that are allowed, and smaller watch and deny lists.
    lists = {}
    feed = [(4,) + p for p in d4] + [(6,) + p for p in d6]
    if not feed:
        feed = [(4,) + random_prefix(rng, 4) for _ in range(40000)] + \
               [(6,) + random_prefix(rng, 6) for _ in range(8000)]
    lists["dc-vpn-feed"] = PrefixSet(feed)
    lists["partners"] = PrefixSet([next(i4) for _ in range(2000)])
    lists["watch"] = PrefixSet([next(i4) for _ in range(500)])
    lists["deny-out"] = PrefixSet([next(i4) for _ in range(1500)] + [next(i6) for _ in range(300)])
    lists["servers"] = PrefixSet([(4, int(INSIDE4.network_address) | (250 << 16) | (k << 8), 24)
                                  for k in range(16)] + [inside6(rng) for _ in range(8)])
    list_rules = [
        Rule("feed-in", "inbound", "drop", src_lists=["dc-vpn-feed"]),
        Rule("deny-out", "outbound", "reject", dst_lists=["deny-out"]),
        Rule("watch-log", "outbound", "log", dst_lists=["watch"]),
        Rule("partners-udp", "outbound", "allow", dst_lists=["partners"], protos=["udp"],
             dports=[(1024, 65535)]),
        Rule("partners-tcp", "outbound", "allow", dst_lists=["partners"], protos=["tcp"]),
        Rule("servers-in", "inbound", "allow", dst_lists=["servers"], protos=["tcp"],
             dports=[(22, 22), (8000, 8999)]),
    ]
    # Wildcard-address port rules (both directions), spread over the list.
    wild = []
    for k, (proto, port, act) in enumerate(
            [("tcp", 445, "drop"), ("tcp", 139, "drop"), ("udp", 137, "drop"),
             ("udp", 138, "drop"), ("udp", 1900, "reject"), ("tcp", 3389, "drop"),
             ("udp", 161, "drop"), ("tcp", 23, "reject")] * 12):
        wild.append(Rule("port-%d" % k, rng.choice(("any", "inbound", "outbound")), act,
                         protos=[proto], dports=[(port, port)]))

    rules = []
    n_body = n_rules - len(list_rules) - len(wild)
    for k in range(n_body):
        x = rng.random()
        name = "r%05d" % k
        if x < 0.40:    # outbound allow to an external prefix
            rules.append(Rule(name, "outbound", "allow", src=[s for s in [inside4(rng)] if s],
                              dst=[next(i4)], protos=rng.choice((["udp"], ["udp"], ["udp", "tcp"],
                                                                 None)),
                              dports=port_ranges(rng)))
        elif x < 0.62:  # outbound drop or reject to an external prefix
            rules.append(Rule(name, "outbound", rng.choice(("drop", "reject")),
                              src=[s for s in [inside4(rng)] if s], dst=[next(i4)],
                              protos=rng.choice((["tcp"], ["udp"], None)),
                              dports=port_ranges(rng)))
        elif x < 0.74:  # inbound allow to inside servers
            rules.append(Rule(name, "inbound", "allow", src=[next(i4)],
                              dst=[(4, int(INSIDE4.network_address) | (250 << 16) |
                                    rng.randrange(1 << 16), 32)],
                              protos=["tcp"], dports=port_ranges(rng)))
        elif x < 0.82:  # inbound drop
            rules.append(Rule(name, "inbound", "drop", src=[next(i4)]))
        elif x < 0.90:  # IPv6, both directions
            if rng.random() < 0.5:
                rules.append(Rule(name, "outbound", rng.choice(("allow", "allow", "drop")),
                                  src=[inside6(rng)], dst=[next(i6)],
                                  protos=rng.choice((["udp"], ["tcp"], None)),
                                  dports=port_ranges(rng)))
            else:
                rules.append(Rule(name, "inbound", rng.choice(("allow", "drop")),
                                  src=[next(i6)], protos=["tcp"], dports=port_ranges(rng)))
        elif x < 0.94:  # two destinations, any direction
            rules.append(Rule(name, "any", rng.choice(("allow", "drop")),
                              dst=[next(i4), next(i4)], protos=["udp", "tcp"],
                              dports=port_ranges(rng)))
        elif x < 0.97:  # VLAN-scoped
            rules.append(Rule(name, "outbound", rng.choice(("allow", "drop")),
                              dst=[next(i4)], vlan=rng.choice((20, 30, 40))))
        else:           # recorded, then matching goes on
            rules.append(Rule(name, "outbound", "log", dst=[next(i4)]))
    # Lists and wildcards go in at fixed shares of the way down.
    for k, r in enumerate(list_rules):
        rules.insert(len(rules) * (k + 1) // (len(list_rules) + 1), r)
    for k, r in enumerate(wild):
        rules.insert(len(rules) * (k + 1) // (len(wild) + 1), r)

    ldir = os.path.join(workdir, "lists")
    os.makedirs(ldir, exist_ok=True)
    path = os.path.join(workdir, "policy-%drules.yaml" % n_rules)
    with open(path, "w") as f:
        f.write("# Written by benches/lib/gen_policy.py: %d rules (seed %d), prefixes from %s.\n"
                "version: 1\nlists:\n" % (n_rules, seed, s4 or "random"))
        for name, ps in lists.items():
            lpath = os.path.join(ldir, name + ".txt")
            write_list(lpath, ps.pfx, "%s: %d prefixes" % (name, len(ps.pfx)))
            f.write("  %s:\n    type: prefixes\n    files: [lists/%s.txt]\n" % (name, name))
        f.write("rules:\n")
        for r in rules:
            f.write(r.yaml())
        f.write("default: %s\n" % default)
    desc = "%d rules + default %s, %d lists (%d prefixes), prefixes from %s / %s" % (
        len(rules), default, len(lists), sum(len(p.pfx) for p in lists.values()),
        s4 or "random", s6 or "random")
    return path, rules, lists, desc


def allowed_flows(rules, lists, n, seed=11):
    """n distinct outbound UDP/IPv4 flows (src, dst, sport, dport) that the
    policy allows, each through an allow rule drawn across the whole rule
    list. Returns (flows, {rule index: flows})."""
    rng = random.Random(seed)
    m = Matcher(rules, lists)
    allow = [i for i, r in enumerate(rules)
             if r.action == "allow" and r.direction != "inbound" and r.vlan is None and
             (not r.protos or "udp" in r.protos) and
             all(f == 4 for f, _, _ in r.src + r.dst) and (r.dst or r.dst_lists)]
    if not allow:
        raise bench.BenchError("the policy has no outbound IPv4 UDP allow rule")
    partners = lists["partners"].pfx
    flows, seen, by_rule = [], set(), {}
    tries = 0
    while len(flows) < n:
        tries += 1
        if tries > 20 * n + 1000:
            raise bench.BenchError("cannot find %d allowed flows (%d found)" % (n, len(flows)))
        i = rng.choice(allow)
        r = rules[i]
        _, net, ln = rng.choice(r.dst) if r.dst else rng.choice(partners)
        dst = net | (rng.randrange(1 << (32 - ln)) if ln < 32 else 0)
        if r.src:
            _, snet, sln = r.src[0]
            src = snet | (rng.randrange(1 << (32 - sln)) if sln < 32 else 0)
        else:
            src = int(INSIDE4.network_address) | rng.randrange(1 << 24)
        lo, hi = rng.choice(r.dports) if r.dports else (1024, 65535)
        dport = rng.randrange(lo, hi + 1)
        sport = rng.randrange(10000, 60000)
        if dport in SPECIAL_PORTS or (src, dst, sport, dport) in seen:
            continue
        d = m.decide4(src, dst, 17, sport, dport)
        if d is None or rules[d].action != "allow":
            continue
        seen.add((src, dst, sport, dport))
        flows.append((src, dst, sport, dport))
        by_rule[d] = by_rule.get(d, 0) + 1
    return flows, by_rule
