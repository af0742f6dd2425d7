#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The parser against tshark: for every capture NAME in DATA/pcap with a
NAME.expect.tsv (tshark 4.0 fields, one row per packet of interest), run
`brightline inspect --json` and check that our record for each row's frame
agrees with tshark on the wire length, the VLAN ids, every IPv4 and IPv6
address and IPv4 protocol tshark lists (outer layer first, tunnels and ICMP
quotes included), the ports of every TCP and UDP header, and so on the first
TCP/UDP header's ports. A fragmented datagram's ports are compared on the
frame that completes it, as tshark reports them.

TAP: one line per capture, a diagnostic per mismatching field.
usage: oracle.py BRIGHTLINE DATA
"""
import ipaddress
import json
import os
import subprocess
import sys

# Disagreements that are tshark's semantics, not parser bugs:
# (capture, frame, field) -> reason. An entry that no longer matches a
# mismatch fails the test, so the table stays minimal.
EXCEPTIONS = {
}

FIELDS = ('frame.len', 'vlan.id', 'ip.src', 'ip.dst', 'ip.proto',
          'ipv6.src', 'ipv6.dst', 'tcp.ports', 'udp.ports', 'first.ports')

PROTO_TCP = 6
PROTO_UDP = 17


def split(value):
    """A comma-joined tshark field as a list (empty when absent)."""
    return [v for v in value.split(',') if v] if value else []


def addr(text):
    """An address in one canonical text form, for comparison."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def read_expect(path):
    """Rows of a tshark .expect.tsv as dicts of field name -> text."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    if not lines:
        return []
    head = lines[0].split('\t')
    rows = []
    for line in lines[1:]:
        cells = line.split('\t')
        cells += [''] * (len(head) - len(cells))
        rows.append(dict(zip(head, cells)))
    return rows


def tshark_view(row):
    """What tshark says about one frame, in the comparable form."""
    def ports(proto):
        src = split(row.get(proto + '.srcport', ''))
        dst = split(row.get(proto + '.dstport', ''))
        return [(int(s), int(d)) for s, d in zip(src, dst)]
    return {
        'frame.len': int(row['frame.len']),
        'vlan.id': [int(v) for v in split(row.get('vlan.id', ''))],
        'ip.src': [addr(a) for a in split(row.get('ip.src', ''))],
        'ip.dst': [addr(a) for a in split(row.get('ip.dst', ''))],
        'ip.proto': [int(p) for p in split(row.get('ip.proto', ''))],
        'ipv6.src': [addr(a) for a in split(row.get('ipv6.src', ''))],
        'ipv6.dst': [addr(a) for a in split(row.get('ipv6.dst', ''))],
        'tcp.ports': ports('tcp'),
        'udp.ports': ports('udp'),
    }


def our_view(rec):
    """What `inspect --json` says about one frame, in the same form."""
    layers = []
    if rec['src'] is not None:
        layers.append({'src': rec['src'], 'dst': rec['dst'], 'proto': rec['proto']})
    layers += rec['inner']
    if rec['icmp_quote'] is not None:
        layers.append(rec['icmp_quote'])
    v4 = [la for la in layers if ':' not in la['src']]
    v6 = [la for la in layers if ':' in la['src']]
    l4 = rec['l4']
    return {
        'frame.len': rec['len'],
        'vlan.id': rec['vlan'],
        'ip.src': [addr(la['src']) for la in v4],
        'ip.dst': [addr(la['dst']) for la in v4],
        'ip.proto': [la['proto'] for la in v4],
        'ipv6.src': [addr(la['src']) for la in v6],
        'ipv6.dst': [addr(la['dst']) for la in v6],
        'tcp.ports': [(h['sport'], h['dport']) for h in l4 if h['proto'] == PROTO_TCP],
        'udp.ports': [(h['sport'], h['dport']) for h in l4 if h['proto'] == PROTO_UDP],
    }


def first_ports(rec, theirs):
    """(ours, tshark's) ports of the first TCP/UDP header of the frame.

    tshark lists TCP and UDP ports apart; the first header is taken from the
    list of the protocol our first header has (the per-protocol lists are
    compared on their own)."""
    ours = None if rec['sport'] is None else (rec['sport'], rec['dport'])
    if rec['l4']:
        key = 'tcp.ports' if rec['l4'][0]['proto'] == PROTO_TCP else 'udp.ports'
        return ours, (theirs[key][0] if theirs[key] else None)
    lists = theirs['tcp.ports'] + theirs['udp.ports']
    return ours, (lists[0] if lists else None)


def run_inspect(exe, pcap):
    """Records by frame number, or an error text."""
    try:
        res = subprocess.run([exe, 'inspect', '--json', pcap], capture_output=True,
                             text=True, timeout=240)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if res.returncode != 0:
        return None, 'exit %d: %s' % (res.returncode, res.stderr.strip())
    recs = {}
    for n, line in enumerate(res.stdout.splitlines(), 1):
        try:
            rec = json.loads(line)
        except ValueError as e:
            return None, 'output line %d is not JSON (%s): %r' % (n, e, line[:200])
        recs[rec['frame']] = rec
    return recs, None


def check_capture(exe, name, pcap, expect, used):
    """Compare one capture; returns (diagnostic lines, failed?)."""
    recs, err = run_inspect(exe, pcap)
    if err:
        return ['inspect failed: ' + err], True
    diags, failed = [], False
    rows = read_expect(expect)
    for row in rows:
        frame = int(row['frame.number'])
        rec = recs.get(frame)
        if rec is None:
            diags.append('frame %d: no record from inspect' % frame)
            failed = True
            continue
        theirs, ours = tshark_view(row), our_view(rec)
        ours['first.ports'], theirs['first.ports'] = first_ports(rec, theirs)
        for field in FIELDS:
            if ours[field] == theirs[field]:
                continue
            key = (name, frame, field)
            what = 'frame %d %s: tshark %s, ours %s (outcome %s)' % (
                frame, field, theirs[field], ours[field], rec['outcome'])
            if key in EXCEPTIONS:
                used.add(key)
                diags.append('%s -- known: %s' % (what, EXCEPTIONS[key]))
            else:
                diags.append(what)
                failed = True
    diags.insert(0, '%d rows, %d frames' % (len(rows), len(recs)))
    return diags, failed


def main(argv):
    if len(argv) != 3:
        print('usage: oracle.py BRIGHTLINE DATA', file=sys.stderr)
        return 2
    exe, data = argv[1], argv[2]
    pdir = os.path.join(data, 'pcap')
    if not os.path.isdir(pdir):
        print('1..0 # SKIP test data not found at %s (set -Dtest_data=PATH)' % data)
        return 0
    names = sorted(f[:-len('.expect.tsv')] for f in os.listdir(pdir)
                   if f.endswith('.expect.tsv'))
    print('1..%d' % (len(names) + 1))
    used = set()
    for i, name in enumerate(names, 1):
        pcaps = [os.path.join(pdir, name + ext) for ext in ('.pcap', '.pcapng')
                 if os.path.exists(os.path.join(pdir, name + ext))]
        if not pcaps:
            print('not ok %d - %s\n# no capture beside %s.expect.tsv' % (i, name, name))
            continue
        diags, failed = check_capture(exe, name, pcaps[0],
                                      os.path.join(pdir, name + '.expect.tsv'), used)
        print('%s %d - %s' % ('not ok' if failed else 'ok', i, name))
        for d in diags:
            print('# ' + d)
    stale = sorted(k for k in EXCEPTIONS if k[0] in names and k not in used)
    print('%s %d - exception table has no stale entries' % ('not ok' if stale else 'ok',
                                                            len(names) + 1))
    for key in stale:
        print('# stale exception (no such mismatch any more): %s' % (key,))
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
